//! Script mode: the command language from a file or a pipe, in lockstep. The lines after a
//! DATA answered 354 are the body up to a lone `.`; an unexpected 4xx/5xx (one not checked
//! by the `:expect` right after it) fails the script; errors name the file and line.

use std::io::BufRead;
use std::time::Instant;

use anyhow::Context;

use super::exec::{self, Step};
use super::lang;
use crate::error::ExpectationFailed;
use crate::session::Session;
use crate::smtp::reply::Reply;

/// How a script run went, when it ran to the end.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Lines run (commands and shell commands, not body lines).
    pub commands: u64,
    /// Replies that ended a step.
    pub replies: u64,
    /// Unexpected 4xx/5xx and missed expectations.
    pub failures: u64,
}

/// A reply not yet accepted: it fails the script unless the next line is an `:expect`.
struct Unchecked {
    line_no: usize,
    command: String,
    reply: Reply,
}

/// Run a script. `name` is used in messages (`check.smtp:12: …`).
pub fn run(
    session: &mut Session,
    input: impl BufRead,
    name: &str,
    keep_going: bool,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let mut sum = Summary::default();
    let mut unchecked: Option<Unchecked> = None;
    let mut first_failure: Option<String> = None;

    let mut fail = |sum: &mut Summary, session: &mut Session, msg: String| -> anyhow::Result<()> {
        sum.failures += 1;
        if keep_going {
            session.warn(format!("{msg} (--keep-going: going on)"));
            first_failure.get_or_insert(msg);
            Ok(())
        } else {
            Err(ExpectationFailed(msg).into())
        }
    };

    for (i, line) in input.split(b'\n').enumerate() {
        let line_no = i + 1;
        let raw = line.with_context(|| format!("{name}: cannot read line {line_no}"))?;
        // A script file's own line ending (LF or CRLF) is not part of the command; a CR
        // anywhere else stays, and the checks refuse it.
        let raw = raw.strip_suffix(b"\r").unwrap_or(&raw);
        let line = String::from_utf8(raw.to_vec()).map_err(|_| {
            crate::error::UsageError(format!("{name}:{line_no}: the line is not UTF-8"))
        })?;
        let at = || format!("{name}:{line_no}");

        if session.in_body() {
            if let Step::Reply(r) = exec::execute(session, &line, false).with_context(at)? {
                sum.replies += 1;
                if lang::is_failure(&r) {
                    unchecked = Some(Unchecked {
                        line_no,
                        command: "the end of the body".into(),
                        reply: r,
                    });
                }
            }
            continue;
        }
        let t = line.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let is_expect = t.len() >= 7 && t[..7].eq_ignore_ascii_case(":expect");
        if let Some(u) = unchecked.take() {
            if !is_expect {
                let msg = format!(
                    "{name}:{}: unexpected reply {} to {} (put ':expect {}' after it if that is what you want)",
                    u.line_no, u.reply.code, u.command, u.reply.code
                );
                fail(&mut sum, session, msg)?;
            }
        }
        sum.commands += 1;
        let step = exec::execute(session, t, false).with_context(at)?;
        match step {
            Step::Reply(r) => {
                sum.replies += 1;
                if lang::is_failure(&r) {
                    let shown = if lang::history_safe(t) {
                        t.to_string()
                    } else {
                        "an AUTH step".to_string()
                    };
                    unchecked = Some(Unchecked {
                        line_no,
                        command: shown,
                        reply: r,
                    });
                }
            }
            Step::Expect { ok: false, spec } => {
                let got = session
                    .last_reply()
                    .map(|r| r.code.to_string())
                    .unwrap_or_else(|| "no reply".into());
                fail(
                    &mut sum,
                    session,
                    format!("{}: expected {spec}, got {got}", at()),
                )?;
            }
            Step::Expect { ok: true, .. } | Step::Nothing => {}
            Step::Quit => break,
        }
    }
    if session.in_body() {
        return Err(exec::unterminated_body());
    }
    if let Some(u) = unchecked.take() {
        let msg = format!(
            "{name}:{}: unexpected reply {} to {} (put ':expect {}' after it if that is what you want)",
            u.line_no, u.reply.code, u.command, u.reply.code
        );
        fail(&mut sum, session, msg)?;
    }
    if session.is_connected() {
        session.quit()?;
    }
    session.note(format!(
        "script {name}: {} commands, {} replies, {} failures, {:.0} ms",
        sum.commands,
        sum.replies,
        sum.failures,
        started.elapsed().as_secs_f64() * 1000.0
    ));
    if let Some(first) = first_failure {
        return Err(
            ExpectationFailed(format!("{} failure(s); the first: {first}", sum.failures)).into(),
        );
    }
    Ok(sum)
}
