//! Running one line of the command language against a session. Shared by the prompt and
//! the script runner, so a script means exactly what the same lines typed would.

use anyhow::{Context, anyhow};
use base64::Engine;

use super::lang::{self, ShellCmd};
use crate::error::{Error, UsageError};
use crate::net::target::Target;
use crate::session::Session;
use crate::smtp::command::Verb;
use crate::smtp::reply::Reply;
use crate::transcript::Event;

/// What a line led to.
#[derive(Debug)]
pub enum Step {
    /// A step that ended with this reply from the server (the last of its exchange).
    Reply(Reply),
    /// An `:expect` was checked.
    Expect {
        /// Whether it matched.
        ok: bool,
        /// The spec, for messages.
        spec: String,
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

/// Run one line: a shell command, an SMTP command line, or (in body mode) a body line.
/// `interactive` writes body lines at once instead of batching them.
pub fn execute(session: &mut Session, line: &str, interactive: bool) -> anyhow::Result<Step> {
    if session.in_body() {
        return Ok(match session.body_line(line, interactive)? {
            Some(r) => Step::Reply(r),
            None => Step::Nothing,
        });
    }
    if line.starts_with(':') {
        let cmd = lang::parse_shell(line).map_err(|e| UsageError(e.0))?;
        return shell(session, cmd);
    }
    if line.trim().is_empty() {
        return Ok(Step::Nothing);
    }
    if crate::smtp::command::Verb::of_line(line) == crate::smtp::command::Verb::Bdat {
        // RFC 3030: the chunk's data lines follow; the reply comes after them.
        return Ok(match session.bdat(line)? {
            Some(r) => Step::Reply(r),
            None => Step::Nothing,
        });
    }
    if session.config().explain
        && session.is_connected()
        && !session.expects_secret()
        && let Some(note) = super::teach::out_of_order(session.state(), &Verb::of_line(line))
    {
        // The command is still sent: seeing the server's answer is the lesson.
        session.note(note);
    }
    Ok(Step::Reply(session.command(line)?))
}

fn print(session: &mut Session, text: &str) {
    session.transcript.print_only(text);
}

fn shell(session: &mut Session, cmd: ShellCmd) -> anyhow::Result<Step> {
    match cmd {
        ShellCmd::Help(topic) => {
            print(session, &lang::help(topic.as_deref()));
            Ok(Step::Nothing)
        }
        ShellCmd::Connect {
            target,
            starttls,
            tls_on_connect,
            lmtp,
            mx,
        } => {
            let insecure = session.config().tls.insecure;
            let flags = ConnectFlags {
                starttls,
                tls_on_connect,
                insecure,
                lmtp,
            };
            if mx {
                return Ok(Step::Reply(connect_mx(session, &target, None, flags)?));
            }
            Ok(Step::Reply(connect(session, &target, None, flags)?))
        }
        ShellCmd::Starttls => Ok(Step::Reply(session.starttls_required()?)),
        ShellCmd::Auth {
            mech,
            user,
            initial,
        } => {
            let initial = initial.unwrap_or(mech.initial_by_default());
            Ok(Step::Reply(session.auth(mech, user.as_deref(), initial)?))
        }
        ShellCmd::Send(path, opts) => Ok(Step::Reply(session.send_file_with(&path, opts)?)),
        ShellCmd::Caps => {
            let text = match session.caps() {
                Some(c) if c.entries.is_empty() => {
                    "the server advertised no extensions".to_string()
                }
                Some(c) => c
                    .entries
                    .iter()
                    .map(|e| {
                        if e.params.is_empty() {
                            e.keyword.clone()
                        } else {
                            format!("{} {}", e.keyword, e.params.join(" "))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                None if session.state().tls => {
                    "no capabilities since STARTTLS: send EHLO".to_string()
                }
                None => "no capabilities yet: send EHLO".to_string(),
            };
            print(session, &text);
            Ok(Step::Nothing)
        }
        ShellCmd::B64(text) => {
            let enc = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
            print(session, &enc);
            Ok(Step::Nothing)
        }
        ShellCmd::Unb64(text) => {
            let dec = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| UsageError(format!(":unb64: not valid base64 ({e})")))?;
            print(session, &crate::smtp::escape::escape_bytes(&dec));
            Ok(Step::Nothing)
        }
        ShellCmd::Raw(bytes) => Ok(match session.raw(&bytes)? {
            Some(r) => Step::Reply(r),
            None => Step::Nothing,
        }),
        ShellCmd::Expect(spec) => {
            let last = session.last_reply().cloned();
            let ok = check_expect(session, &spec, last.as_ref());
            Ok(Step::Expect {
                ok,
                spec: spec.as_str().to_string(),
            })
        }
        ShellCmd::Explain(code, enhanced) => {
            print(session, &super::teach::explain_text(code, enhanced));
            Ok(Step::Nothing)
        }
        ShellCmd::Inbox(n) => {
            let text = super::practice::inbox(n)?;
            print(session, &text);
            Ok(Step::Nothing)
        }
        ShellCmd::Wire => {
            let on = session.transcript.toggle_wire();
            session.note(if on {
                "wire view on: lines as sent, CR LF shown as \\r\\n, dot-stuffing visible (:wire again to leave)"
            } else {
                "wire view off"
            });
            Ok(Step::Nothing)
        }
        ShellCmd::State => {
            let text = super::teach::stages(session.state());
            print(session, &text);
            Ok(Step::Nothing)
        }
        ShellCmd::Save(path) => {
            let n = session
                .transcript
                .save(&path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            session.note(format!(
                "saved {n} events to {} (secrets redacted)",
                path.display()
            ));
            Ok(Step::Nothing)
        }
        ShellCmd::Quit => {
            // Leave whatever QUIT meets: the user asked to go.
            if let Err(e) = session.quit() {
                session.warn(format!("QUIT did not complete: {e}"));
            }
            Ok(Step::Quit)
        }
    }
}

/// Check `spec` against `reply` and put the result in the transcript.
pub fn check_expect(session: &mut Session, spec: &lang::ExpectSpec, reply: Option<&Reply>) -> bool {
    // LMTP: after a message, every recipient's reply is checked (or the one named).
    let per_rcpt = session.recipient_replies();
    let (ok, code) = if !per_rcpt.is_empty() || spec.recipient().is_some() {
        let picked: Vec<&Reply> = per_rcpt
            .iter()
            .filter(|(a, _)| spec.recipient().is_none_or(|w| a.eq_ignore_ascii_case(w)))
            .map(|(_, r)| r)
            .collect();
        let miss = picked.iter().find(|r| !spec.matches(r));
        let ok = !picked.is_empty() && miss.is_none();
        (ok, miss.or(picked.last()).map(|r| r.code.value()))
    } else {
        (
            reply.is_some_and(|r| spec.matches(r)),
            reply.map(|r| r.code.value()),
        )
    };
    session.transcript.emit(Event::Expect {
        spec: spec.as_str().to_string(),
        ok,
        code,
    });
    ok
}

/// An error for a script that ended in the middle of a body.
pub fn unterminated_body() -> anyhow::Error {
    anyhow!(UsageError(
        "the input ended inside a DATA body (no lone '.' line); the message was not sent".into()
    ))
}
