//! Running one line of the command language against a session. Shared by the prompt and
//! the script runner, so a script means exactly what the same lines typed would.

use anyhow::anyhow;

use super::lang::{self, BodyLine, ExpectSpec, Line};
use crate::error::{Error, UsageError};
use crate::net::target::Target;
use crate::session::{Input, Session};
use crate::smtp::command::{Command, Verb};
use crate::smtp::reply::Reply;
use crate::transcript::Event;

/// What a line led to.
#[derive(Debug)]
pub enum Step {
    /// A step that ended with this reply from the server (the last of its exchange).
    Reply(Reply),
    /// An `:expect` was checked.
    Expect {
        /// The spec.
        spec: ExpectSpec,
        /// What it found.
        checked: Checked,
    },
    /// Nothing to check (a local command, a body line).
    Nothing,
    /// `:quit`: leave.
    Quit,
}

/// Options a `:connect` shares with the command line.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectFlags {
    /// STARTTLS after the greeting, required.
    pub starttls: bool,
    /// Implicit TLS.
    pub tls_on_connect: bool,
    /// Accept invalid certificates.
    pub insecure: bool,
    /// Speak LMTP (`--lmtp`).
    pub lmtp: bool,
}

/// Connect, and with `starttls` run EHLO, STARTTLS, EHLO. Returns the last reply.
pub fn connect(
    session: &mut Session,
    target: &str,
    port: Option<u16>,
    flags: ConnectFlags,
) -> anyhow::Result<Reply> {
    let mut t = Target::parse(target, port, flags.tls_on_connect)?;
    t.lmtp |= flags.lmtp;
    if t.unix.is_some() && flags.starttls {
        return Err(
            UsageError("TLS over a Unix socket is not supported: drop --starttls".into()).into(),
        );
    }
    let greeting = session.connect(&t, flags.insecure)?;
    after_greeting(session, greeting, flags)
}

/// With `--starttls`: EHLO (LHLO), STARTTLS, EHLO again, required; else the greeting.
fn after_greeting(
    session: &mut Session,
    greeting: Reply,
    flags: ConnectFlags,
) -> anyhow::Result<Reply> {
    if flags.starttls {
        if greeting.code.value() != 220 {
            session.disconnect("no 220 greeting");
            return Err(Error::Tls(format!(
                "the server greeted with {} instead of 220, so STARTTLS can't be negotiated; stopping",
                greeting.code
            ))
            .into());
        }
        return Ok(session.starttls_required()?);
    }
    Ok(greeting)
}

/// Look up `domain`'s MX records and connect to the most preferred that answers (see
/// [`Session::connect_mx`]), then as [`connect`] with `--starttls`.
pub fn connect_mx(
    session: &mut Session,
    domain: &str,
    port: Option<u16>,
    flags: ConnectFlags,
) -> anyhow::Result<Reply> {
    // `:connect --mx DOMAIN:PORT`: the MX hosts' port (the shell has no -p).
    let (domain, port) = match domain.rsplit_once(':') {
        Some((d, p)) if p.parse::<u16>().is_ok_and(|p| p > 0) => (d, p.parse().ok()),
        _ => (domain, port),
    };
    let greeting = session.connect_mx(
        domain,
        port,
        flags.tls_on_connect,
        flags.lmtp,
        flags.insecure,
    )?;
    after_greeting(session, greeting, flags)
}

/// Run one parsed line in command position (see [`lang::parse_line`]).
pub fn run_line(session: &mut Session, line: Line) -> anyhow::Result<Step> {
    match line {
        Line::Blank => Ok(Step::Nothing),
        Line::Shell(cmd) => cmd.run(session),
        Line::Smtp(cmd) => run_command(session, &cmd),
    }
}

/// What a verb smtpsh does not know probably meant, when it looks like a typo of one it does
/// (`RCTP`) or a shell command without its colon (`caps`). The line is still sent: a
/// debugging shell sends what was typed, and a server may know verbs smtpsh does not.
pub fn verb_typo(cmd: &Command) -> Option<String> {
    let Verb::Other(word) = cmd.verb() else {
        return None;
    };
    if word.is_empty() {
        return None;
    }
    let lower = word.to_lowercase();
    let meant = if super::commands::is_command_name(&lower) {
        format!("the shell command :{lower} (shell commands start with ':')")
    } else if matches!(lower.as_str(), "clear" | "cls") {
        "to clear the screen: that is Ctrl-L".to_string()
    } else {
        let near = super::suggest::nearest(word, Verb::known().map(|v| v.name()))?;
        near.to_string()
    };
    Some(format!(
        "{word} is not a verb smtpsh knows; did you mean {meant}? (sent as typed)"
    ))
}

/// Send one SMTP command (with a teaching note first when it is out of order).
pub fn run_command(session: &mut Session, cmd: &Command) -> anyhow::Result<Step> {
    if let Some(note) = verb_typo(cmd) {
        session.note(note);
    }
    if session.config().explain
        && session.is_connected()
        && let Some(note) = super::teach::out_of_order(&session.state(), cmd.verb())
    {
        // The command is still sent: seeing the server's answer is the lesson.
        session.note(note);
    }
    Ok(match session.command(cmd)? {
        Some(r) => Step::Reply(r),
        None => Step::Nothing,
    })
}

/// Run one line of a body (after DATA's 354) or of a typed BDAT chunk. A body line that
/// looks like a mistaken shell command is sent as it is, with a warning.
pub fn run_body_line(
    session: &mut Session,
    line: &[u8],
    interactive: bool,
) -> anyhow::Result<Step> {
    if let Input::Chunk { .. } = session.input() {
        return Ok(match session.chunk_line(line)? {
            Some(r) => Step::Reply(r),
            None => Step::Nothing,
        });
    }
    match lang::parse_body_line(line) {
        BodyLine::End => Ok(Step::Reply(session.end_body()?)),
        BodyLine::Text { line, suspicious } => {
            if suspicious {
                session.warn(format!(
                    "{:?} is sent as a line of the message, not run: in a body every line but a lone '.' is the message",
                    String::from_utf8_lossy(line)
                ));
            }
            session.body_line(line, interactive)?;
            Ok(Step::Nothing)
        }
    }
}

/// What an `:expect` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Whether the spec matched (every recipient's reply, on LMTP).
    pub ok: bool,
    /// The code it was held against: the first that missed, else the last checked; `None`
    /// when there was no reply.
    pub code: Option<u16>,
    /// On LMTP, the recipient whose reply that code is.
    pub rcpt: Option<String>,
}

impl Checked {
    /// What it got, for messages: `250`, `451 for <bob@test>`, `no reply`.
    pub fn got(&self) -> String {
        match (self.code, &self.rcpt) {
            (Some(c), Some(r)) => format!("{c} for {r}"),
            (Some(c), None) => c.to_string(),
            (None, Some(r)) => format!("no reply for {r}"),
            (None, None) => "no reply".into(),
        }
    }
}

/// Check `spec` against `reply` (on LMTP after a message, against every recipient's reply,
/// or the one it names) and put the result in the transcript.
pub fn check_expect(session: &mut Session, spec: &ExpectSpec, reply: Option<&Reply>) -> Checked {
    let per_rcpt = session.recipient_replies();
    let checked = if !per_rcpt.is_empty() || spec.recipient().is_some() {
        let picked: Vec<&(String, Reply)> =
            per_rcpt.iter().filter(|(a, _)| spec.covers(a)).collect();
        let miss = picked.iter().find(|(_, r)| !spec.matches(r));
        let shown = miss.or(picked.last());
        Checked {
            ok: !picked.is_empty() && miss.is_none(),
            code: shown.map(|(_, r)| r.code.value()),
            rcpt: shown
                .map(|(a, _)| a.clone())
                .or_else(|| spec.recipient().map(|r| format!("<{r}>"))),
        }
    } else {
        Checked {
            ok: reply.is_some_and(|r| spec.matches(r)),
            code: reply.map(|r| r.code.value()),
            rcpt: None,
        }
    };
    session.transcript.emit(Event::Expect {
        spec: spec.as_str().to_string(),
        ok: checked.ok,
        code: checked.code,
    });
    checked
}

/// An error for a script that ended in the middle of a body.
pub fn unterminated_body() -> anyhow::Error {
    anyhow!(UsageError(
        "the input ended inside a DATA body (no lone '.' line); the message was not sent".into()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    // See: issue 16, typos went to the server silently.
    #[test]
    fn typos_get_a_suggestion() {
        let note = |l: &str| verb_typo(&Command::parse(l).unwrap());
        assert!(
            note("RCTP TO:<a@b>")
                .unwrap()
                .contains("did you mean RCPT?")
        );
        assert!(note("starttsl").unwrap().contains("did you mean STARTTLS?"));
        assert!(note("caps").unwrap().contains("the shell command :caps"));
        assert!(note("clear").unwrap().contains("Ctrl-L"));
        assert_eq!(note("RCPT TO:<a@b>"), None);
        assert_eq!(note("XCLIENT NAME=x"), None);
        assert_eq!(note("ETRN example.org"), None);
        assert_eq!(
            note("ñoop"),
            Some("ñOOP is not a verb smtpsh knows; did you mean NOOP? (sent as typed)".into())
        );
    }
}
