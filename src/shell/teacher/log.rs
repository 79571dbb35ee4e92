//! The teacher's live log: one line per thing a session did, readable at a glance while a
//! class works.
//!
//! ```text
//!   10:41:07 #3 192.0.2.10 | connected from 192.0.2.10:40222
//!   10:41:07 #3 192.0.2.10 pc7 | EHLO pc7 -> 250
//! ! 10:41:08 #3 192.0.2.10 pc7 alice | RCPT TO:<no-such@x> -> 550 5.1.1 <no-such@x>: no such user here
//!   10:41:08 #3 192.0.2.10 pc7 alice | message 6B0F2D13000001 from <a@x> to <b@y>, 116 octets: hello
//! ```
//!
//! Each line starts with `!` when something went wrong (a 4xx or 5xx reply, a failed AUTH,
//! a broken connection) and two spaces otherwise, so errors are set off without colour and
//! `grep '^!'` finds them; then the local time, the session number and who (address, EHLO
//! name, AUTH user, as far as known). On a terminal the reply code is coloured by class, as
//! the shell colours replies. Every text from a client arrives escaped
//! ([`crate::practice::events`]), so nothing a student sends drives the teacher's terminal.

use colored::Colorize as _;
use time::{OffsetDateTime, UtcOffset};

use crate::practice::{Event, EventKind};
use crate::smtp::escape::escape_str;

/// How the log is written.
#[derive(Debug, Clone, Copy)]
pub struct LogStyle {
    /// Colour reply codes by class, errors in red.
    pub color: bool,
    /// The local time's offset from UTC (learnt at start: see [`local_offset`]).
    pub offset: UtcOffset,
}

/// The offset of local time, or UTC when it can't be known. The platform is asked once,
/// at start, before any other thread runs: on Unix, reading the time zone while another
/// thread may change the environment is unsound, and the `time` crate refuses to.
pub fn local_offset() -> UtcOffset {
    UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC)
}

/// The log line for `event`, given `who` the session is; `None` for events the log
/// leaves to other lines (a successful EHLO shows as its command).
pub fn line(event: &Event, who: &str, style: LogStyle) -> Option<String> {
    let paint = |text: String, f: fn(&str) -> colored::ColoredString| {
        if style.color {
            f(&text).to_string()
        } else {
            text
        }
    };
    let what = match &event.kind {
        EventKind::Connected => format!("connected from {}", event.peer),
        EventKind::Hello { .. } => return None,
        EventKind::Command {
            line,
            code,
            enhanced,
            reply,
        } => {
            let mut shown = code.to_string();
            if let Some(e) = enhanced {
                shown.push(' ');
                shown.push_str(e);
            }
            // Replies that went well say no more; the others say why.
            if *code >= 400 {
                shown.push(' ');
                shown.push_str(reply);
            }
            let shown = if style.color {
                let f: fn(&str) -> colored::ColoredString = match code / 100 {
                    2 => |s| s.green(),
                    3 => |s| s.cyan(),
                    4 => |s| s.yellow().bold(),
                    _ => |s| s.red().bold(),
                };
                f(&shown).to_string()
            } else {
                shown
            };
            format!("{line} -> {shown}")
        }
        EventKind::Tls => "TLS is on (STARTTLS)".into(),
        EventKind::Auth {
            mechanism,
            user,
            ok,
        } => match (ok, user) {
            (true, Some(u)) => format!("authenticated as {} ({mechanism})", escape_str(u)),
            _ => format!("AUTH {mechanism} failed"),
        },
        EventKind::Message {
            id,
            from,
            rcpts,
            subject,
            size,
        } => {
            let to: Vec<String> = rcpts
                .iter()
                .map(|r| format!("<{}>", escape_str(r)))
                .collect();
            paint(
                format!(
                    "message {id} from <{}> to {}, {size} octets: {}",
                    escape_str(from),
                    to.join(" "),
                    if subject.is_empty() {
                        "(no subject)"
                    } else {
                        subject
                    }
                ),
                |s| s.bold(),
            )
        }
        EventKind::Error { what } => what.clone(),
        EventKind::Closed { reason } => format!("closed: {reason}"),
    };
    let time = OffsetDateTime::from(event.time).to_offset(style.offset);
    let mark = if event.kind.is_error() {
        paint("!".into(), |s| s.red().bold())
    } else {
        " ".into()
    };
    let who = if who.is_empty() {
        event.peer.ip().to_string()
    } else {
        who.to_string()
    };
    Some(format!(
        "{mark} {:02}:{:02}:{:02} #{} {} | {what}",
        time.hour(),
        time.minute(),
        time.second(),
        event.session,
        paint(who, |s| s.dimmed()),
    ))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    const PLAIN: LogStyle = LogStyle {
        color: false,
        offset: UtcOffset::UTC,
    };

    fn ev(kind: EventKind) -> Event {
        Event {
            session: 3,
            peer: "192.0.2.10:40222".parse().unwrap(),
            time: UNIX_EPOCH + Duration::from_secs(1_136_214_245),
            kind,
        }
    }

    #[test]
    fn lines() {
        let who = "192.0.2.10 pc7 alice";
        let cases = [
            (
                EventKind::Connected,
                "  15:04:05 #3 192.0.2.10 | connected from 192.0.2.10:40222",
                "",
            ),
            (
                EventKind::Command {
                    line: "EHLO pc7".into(),
                    code: 250,
                    enhanced: None,
                    reply: "practice.smtpsh.test Hello pc7".into(),
                },
                "  15:04:05 #3 192.0.2.10 pc7 alice | EHLO pc7 -> 250",
                who,
            ),
            (
                EventKind::Command {
                    line: "RCPT TO:<no-such@x>".into(),
                    code: 550,
                    enhanced: Some("5.1.1".into()),
                    reply: "<no-such@x>: no such user here".into(),
                },
                "! 15:04:05 #3 192.0.2.10 pc7 alice | RCPT TO:<no-such@x> -> 550 5.1.1 <no-such@x>: no such user here",
                who,
            ),
            (
                EventKind::Auth {
                    mechanism: "LOGIN".into(),
                    user: None,
                    ok: false,
                },
                "! 15:04:05 #3 192.0.2.10 pc7 alice | AUTH LOGIN failed",
                who,
            ),
            (
                EventKind::Message {
                    id: "ID1".into(),
                    from: String::new(),
                    rcpts: vec!["a@x".into(), "b@y".into()],
                    subject: String::new(),
                    size: 9,
                },
                "  15:04:05 #3 192.0.2.10 pc7 alice | message ID1 from <> to <a@x> <b@y>, 9 octets: (no subject)",
                who,
            ),
            (
                EventKind::Closed {
                    reason: "QUIT".into(),
                },
                "  15:04:05 #3 192.0.2.10 pc7 alice | closed: QUIT",
                who,
            ),
        ];
        for (kind, want, who) in cases {
            assert_eq!(line(&ev(kind), who, PLAIN).as_deref(), Some(want));
        }
        assert_eq!(
            line(
                &ev(EventKind::Hello {
                    name: "pc7".into(),
                    esmtp: true
                }),
                who,
                PLAIN
            ),
            None
        );
    }

    #[test]
    fn local_time() {
        // (Colour is not tested here: `colored` decides globally whether to colour, and
        // other tests run at the same time.)
        let style = LogStyle {
            color: false,
            offset: UtcOffset::from_hms(2, 0, 0).unwrap(),
        };
        let l = line(
            &ev(EventKind::Command {
                line: "MAIL FROM:<a@x>".into(),
                code: 451,
                enhanced: Some("4.3.0".into()),
                reply: "try later".into(),
            }),
            "192.0.2.10",
            style,
        )
        .unwrap();
        assert_eq!(
            l,
            "! 17:04:05 #3 192.0.2.10 | MAIL FROM:<a@x> -> 451 4.3.0 try later"
        );
    }
}
