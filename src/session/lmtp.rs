//! LMTP (RFC 2033): LHLO for the automatic greetings, and the end of a message, where an
//! LMTP server answers once for every recipient it accepted, in RCPT order (§4.2), instead of
//! once for the message. The per-recipient replies are shown with their recipient and kept
//! for `:expect`, which checks each of them (see docs/reach.md).

use std::time::Instant;

use super::Session;
use crate::error::Error;
use crate::smtp::command::{Command, Verb};
use crate::smtp::reply::Reply;

/// The recipients of the current transaction, and the replies to the last message.
#[derive(Debug, Default)]
pub(super) struct Recipients {
    /// RCPTs answered 250/251 since the last MAIL, in order (their address as typed).
    accepted: Vec<String>,
    /// The per-recipient replies that ended the last message, with their recipient.
    replies: Vec<(String, Reply)>,
    /// The value of `seen` when `replies` were read: they are current while it is unchanged.
    at: u64,
    /// Replies read on this session so far.
    pub(super) seen: u64,
}

impl Recipients {
    /// Follow the transaction: a new one forgets the recipients, an accepted RCPT adds one.
    pub(super) fn track(&mut self, cmd: &Command, r: &Reply) {
        let code = r.code.value();
        match cmd.verb() {
            Verb::Mail | Verb::Rset | Verb::Ehlo | Verb::Lhlo | Verb::Helo if code == 250 => {
                self.accepted.clear()
            }
            Verb::Rcpt if code == 250 || code == 251 => self
                .accepted
                .push(cmd.path().unwrap_or_default().to_string()),
            _ => {}
        }
    }
}

impl Session {
    /// Whether this session speaks LMTP.
    pub fn is_lmtp(&self) -> bool {
        self.link.as_ref().is_some_and(|l| l.target.lmtp)
    }

    /// The greeting smtpsh sends by itself: `LHLO` on LMTP (RFC 2033 §4.1), else `EHLO`.
    pub(super) fn hello_verb(&self) -> Verb {
        if self.is_lmtp() {
            Verb::Lhlo
        } else {
            Verb::Ehlo
        }
    }

    /// The per-recipient replies (recipient, reply) that ended the last step, when it was the
    /// end of a message on LMTP; empty otherwise. The last of them is [`Session::last_reply`].
    pub fn recipient_replies(&self) -> &[(String, Reply)] {
        match &self.link {
            Some(l) if l.lmtp.at == l.lmtp.seen => &l.lmtp.replies,
            _ => &[],
        }
    }

    /// After the end of a message (the `.` of DATA, or BDAT LAST): one reply, or on LMTP one
    /// per accepted recipient, each shown with its recipient. Returns the last.
    pub(super) fn read_end_of_data(&mut self) -> Result<Reply, Error> {
        let start = Instant::now();
        let rcpts = std::mem::take(&mut self.link()?.lmtp.accepted);
        if !self.is_lmtp() || rcpts.is_empty() {
            let r = self.read_reply()?;
            self.show_reply(&r, start, None);
            return Ok(r);
        }
        let n = rcpts.len();
        self.note(format!(
            "LMTP: one reply per accepted recipient, in RCPT order ({n}; RFC 2033 §4.2)"
        ));
        let mut replies: Vec<(String, Reply)> = Vec::with_capacity(n);
        for (i, rcpt) in rcpts.into_iter().enumerate() {
            let r = self.read_reply()?;
            self.note(format!("for {rcpt} ({} of {n}):", i + 1));
            self.show_reply(&r, start, None);
            let closing = r.code.value() == 421;
            replies.push((rcpt, r));
            if closing {
                self.disconnect("the server answered 421 and is closing the connection");
                break;
            }
        }
        let failed: Vec<String> = replies
            .iter()
            .filter(|(_, r)| r.code.value() >= 400)
            .map(|(a, r)| format!("{a} {}", r.code))
            .collect();
        if !failed.is_empty() {
            self.warn(format!(
                "delivered to {} of {n} recipients; not to {}",
                replies.len() - failed.len(),
                failed.join(", ")
            ));
        }
        let last = replies
            .last()
            .map(|(_, r)| r.clone())
            .expect("at least one");
        if let Some(l) = self.link.as_mut() {
            l.lmtp.replies = replies;
            l.lmtp.at = l.lmtp.seen;
        }
        Ok(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::reply::Code;

    fn reply(code: u16) -> Reply {
        Reply::new(Code::new(code).unwrap(), None, &["x"])
    }

    #[test]
    fn recipients_follow_the_transaction() {
        let mut r = Recipients::default();
        let cmd = |l: &str| Command::parse(l).unwrap();
        r.track(&cmd("MAIL FROM:<a@test>"), &reply(250));
        r.track(&cmd("RCPT TO:<b@test> NOTIFY=NEVER"), &reply(250));
        r.track(&cmd("RCPT TO:<c@test>"), &reply(550));
        r.track(&cmd("rcpt to:d@test"), &reply(251));
        r.track(&cmd("RCPT TO:<é@test>"), &reply(250));
        assert_eq!(r.accepted, ["<b@test>", "d@test", "<é@test>"]);
        r.track(&cmd("RSET"), &reply(250));
        assert!(r.accepted.is_empty());
    }
}
