//! Script mode: the command language from a file or a pipe, in lockstep — or, with
//! `--pipeline`, with runs of MAIL/RCPT/RSET (ended by DATA or NOOP) sent as one write
//! (RFC 2920). The lines after a DATA answered 354 are the body up to a lone `.`; an
//! unexpected 4xx/5xx (one not checked by the `:expect` lines right after its command) fails
//! the script; errors name the file and line.

use std::io::BufRead;

use anyhow::Context;

use super::exec::{self, Step};
use super::lang::{self, ExpectSpec};
use crate::error::{ExpectationFailed, UsageError};
use crate::session::Session;
use crate::smtp::command::Verb;
use crate::smtp::reply::Reply;

/// How a script is run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Where relative `:send` paths start: the script file's directory (`None` for stdin:
    /// the current directory).
    pub base_dir: Option<std::path::PathBuf>,
    /// Go on after an unexpected 4xx/5xx or a missed `:expect` (still failing at the end).
    pub keep_going: bool,
    /// Send runs of pipelinable commands as one write.
    pub pipeline: bool,
}

/// What a script run did, also when it failed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Lines run (commands and shell commands, not body lines).
    pub commands: u64,
    /// Replies that ended a step.
    pub replies: u64,
    /// Unexpected 4xx/5xx and missed expectations.
    pub failures: u64,
}

/// A reply not yet accepted: it fails the script unless an `:expect` follows its command.
struct Unchecked {
    line_no: usize,
    command: String,
    reply: Reply,
}

/// Script lines with one line of lookahead, numbered from 1.
struct Lines<R> {
    input: std::io::Split<R>,
    name: String,
    line_no: usize,
    peeked: Option<(usize, String)>,
}

impl<R: BufRead> Lines<R> {
    fn next(&mut self) -> anyhow::Result<Option<(usize, String)>> {
        if let Some(p) = self.peeked.take() {
            return Ok(Some(p));
        }
        let Some(raw) = self.input.next() else {
            return Ok(None);
        };
        self.line_no += 1;
        let n = self.line_no;
        let raw = raw.with_context(|| format!("{}: cannot read line {n}", self.name))?;
        // A script file's own line ending (LF or CRLF) is not part of the command; a CR
        // anywhere else stays, and the checks refuse it.
        let raw = raw.strip_suffix(b"\r").unwrap_or(&raw);
        let line = String::from_utf8(raw.to_vec())
            .map_err(|_| UsageError(format!("{}:{n}: the line is not UTF-8", self.name)))?;
        Ok(Some((n, line)))
    }

    /// The next line that is not blank or a comment, without consuming it (blank and comment
    /// lines before it are consumed).
    fn peek_command(&mut self) -> anyhow::Result<Option<&(usize, String)>> {
        loop {
            if self.peeked.is_none() {
                self.peeked = self.next()?;
            }
            match &self.peeked {
                Some((_, l)) if is_skipped(l) => self.peeked = None,
                _ => return Ok(self.peeked.as_ref()),
            }
        }
    }
}

fn is_skipped(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#')
}

fn expect_of(line: &str) -> Option<&str> {
    let t = line.trim_start();
    (t.len() >= 7 && t[..7].eq_ignore_ascii_case(":expect")).then(|| t[7..].trim())
}

/// `:send FILE` with a relative FILE, made relative to the script's directory.
fn with_base(line: &str, base: Option<&std::path::Path>) -> String {
    if let Some(base) = base
        && line.len() > 6
        && line[..6].eq_ignore_ascii_case(":send ")
    {
        let file = line[6..].trim();
        if std::path::Path::new(file).is_relative() {
            return format!(":send {}", base.join(file).display());
        }
    }
    line.to_string()
}

fn pipelinable(line: &str) -> bool {
    !line.starts_with(':')
        && matches!(
            Verb::of_line(line),
            Verb::Mail | Verb::Rcpt | Verb::Rset | Verb::Data | Verb::Noop
        )
}

fn ends_group(line: &str) -> bool {
    matches!(Verb::of_line(line), Verb::Data | Verb::Noop)
}

/// One command of a pipelined group and the `:expect` lines after it.
struct Item {
    line_no: usize,
    line: String,
    expects: Vec<(usize, ExpectSpec)>,
}

struct Runner<'a> {
    session: &'a mut Session,
    name: String,
    opts: Options,
    sum: &'a mut Summary,
    first_failure: Option<String>,
}

impl Runner<'_> {
    fn fail(&mut self, msg: String) -> anyhow::Result<()> {
        self.sum.failures += 1;
        if self.opts.keep_going {
            self.session.warn(format!("{msg} (--keep-going: going on)"));
            self.first_failure.get_or_insert(msg);
            Ok(())
        } else {
            Err(ExpectationFailed(msg).into())
        }
    }

    fn unexpected(&mut self, u: Unchecked) -> anyhow::Result<()> {
        let msg = format!(
            "{}:{}: unexpected reply {} to {} (put ':expect {}' after it if that is what you want)",
            self.name, u.line_no, u.reply.code, u.command, u.reply.code
        );
        self.fail(msg)
    }

    fn check(
        &mut self,
        line_no: usize,
        spec: &ExpectSpec,
        reply: Option<&Reply>,
    ) -> anyhow::Result<()> {
        if !exec::check_expect(self.session, spec, reply) {
            self.missed(line_no, spec.as_str(), reply)?;
        }
        Ok(())
    }

    /// A missed `:expect` at `line_no`: one message for lockstep and pipelined scripts.
    fn missed(&mut self, line_no: usize, spec: &str, reply: Option<&Reply>) -> anyhow::Result<()> {
        let got = reply
            .map(|r| r.code.to_string())
            .unwrap_or_else(|| "no reply".into());
        self.fail(format!(
            "{}:{line_no}: expected {spec}, got {got}",
            self.name
        ))
    }

    fn note_reply(&mut self, line_no: usize, command: &str, r: Reply) -> Option<Unchecked> {
        self.sum.replies += 1;
        lang::is_failure(&r).then(|| {
            let command = if lang::history_safe(command) {
                command.to_string()
            } else {
                "an AUTH step".to_string()
            };
            Unchecked {
                line_no,
                command,
                reply: r,
            }
        })
    }

    /// After a step that ended an LMTP message: its failing per-recipient replies, each to be
    /// covered by an `:expect` (the step's own `unchecked` is then these, not the last reply).
    fn rcpt_failures(
        &mut self,
        line_no: usize,
        unchecked: &mut Option<Unchecked>,
    ) -> Vec<Unchecked> {
        let per = self.session.recipient_replies();
        if per.is_empty() {
            return Vec::new();
        }
        *unchecked = None;
        per.iter()
            .filter(|(_, rep)| lang::is_failure(rep))
            .map(|(rcpt, rep)| Unchecked {
                line_no,
                command: format!("the message, for {rcpt}"),
                reply: rep.clone(),
            })
            .collect()
    }

    /// A pipelined group starting with `first`: the group's commands, each with the
    /// `:expect` lines after it.
    fn group<R: BufRead>(
        &mut self,
        lines: &mut Lines<R>,
        first: (usize, String),
    ) -> anyhow::Result<Option<Unchecked>> {
        let mut group = vec![Item {
            line_no: first.0,
            line: first.1,
            expects: Vec::new(),
        }];
        while let Some((n, l)) = lines.peek_command()?.cloned() {
            let last = group.last_mut().expect("not empty");
            if let Some(spec) = expect_of(&l) {
                let spec = ExpectSpec::parse(spec)
                    .map_err(|e| UsageError(format!("{}:{n}: {e}", self.name)))?;
                last.expects.push((n, spec));
            } else if pipelinable(&l) && !ends_group(&last.line) {
                group.push(Item {
                    line_no: n,
                    line: l,
                    expects: Vec::new(),
                });
            } else {
                break;
            }
            lines.peeked = None;
        }
        self.sum.commands += group.len() as u64;
        let cmds: Vec<&str> = group.iter().map(|g| g.line.as_str()).collect();
        let at = format!("{}:{}", self.name, group[0].line_no);
        let replies = self.session.pipeline(&cmds).with_context(|| at)?;
        let mut last_unchecked = None;
        for (item, r) in group.iter().zip(replies) {
            if item.expects.is_empty() {
                if let Some(u) = self.note_reply(item.line_no, &item.line, r) {
                    // Only the group's last command can still get an :expect after the group.
                    if let Some(prev) = last_unchecked.replace(u) {
                        self.unexpected(prev)?;
                    }
                }
            } else {
                self.sum.replies += 1;
                if let Some(prev) = last_unchecked.take() {
                    self.unexpected(prev)?;
                }
                for (en, spec) in &item.expects {
                    self.check(*en, spec, Some(&r))?;
                }
            }
        }
        Ok(last_unchecked)
    }
}

/// Run a script. `name` is used in messages (`check.smtp:12: …`); `sum` is filled in as it
/// goes, so the caller can report it whatever the outcome.
pub fn run(
    session: &mut Session,
    input: impl BufRead,
    name: &str,
    opts: Options,
    sum: &mut Summary,
) -> anyhow::Result<()> {
    let mut lines = Lines {
        input: input.split(b'\n'),
        name: name.to_string(),
        line_no: 0,
        peeked: None,
    };
    let mut r = Runner {
        session,
        name: name.to_string(),
        opts,
        sum,
        first_failure: None,
    };
    let mut unchecked: Option<Unchecked> = None;
    // LMTP: the failing per-recipient replies to the last message, until an `:expect`
    // covers them (one without a recipient covers all; `:expect <rcpt> …` that one).
    let mut rcpt_unchecked: Vec<Unchecked> = Vec::new();

    while let Some((line_no, line)) = lines.next()? {
        let at = || format!("{name}:{line_no}");
        if r.session.in_body() {
            if let Step::Reply(rep) = exec::execute(r.session, &line, false).with_context(at)? {
                unchecked = r.note_reply(line_no, "the end of the body", rep);
                rcpt_unchecked = r.rcpt_failures(line_no, &mut unchecked);
            }
            continue;
        }
        if is_skipped(&line) {
            continue;
        }
        let t = line.trim_start();
        if let Some(u) = unchecked.take()
            && expect_of(t).is_none()
        {
            r.unexpected(u)?;
        }
        if expect_of(t).is_none() {
            for u in std::mem::take(&mut rcpt_unchecked) {
                r.unexpected(u)?;
            }
        }
        if r.opts.pipeline && pipelinable(t) {
            unchecked = r.group(&mut lines, (line_no, t.to_string()))?;
            continue;
        }
        r.sum.commands += 1;
        let t = &with_base(t, r.opts.base_dir.as_deref());
        match exec::execute(r.session, t, false).with_context(at)? {
            Step::Reply(rep) => {
                unchecked = r.note_reply(line_no, t, rep);
                rcpt_unchecked = r.rcpt_failures(line_no, &mut unchecked);
            }
            Step::Expect { ok: false, spec } => {
                let last = r.session.last_reply().cloned();
                r.missed(line_no, &spec, last.as_ref())?;
            }
            Step::Expect { ok: true, spec } => match spec.strip_prefix('<') {
                Some(named) => {
                    let named = format!("<{}>", named.split('>').next().unwrap_or(""));
                    rcpt_unchecked.retain(|u| !u.command.ends_with(&format!("for {named}")));
                }
                None => rcpt_unchecked.clear(),
            },
            Step::Nothing => {}
            Step::Quit => break,
        }
    }
    if r.session.in_body() {
        return Err(exec::unterminated_body());
    }
    if let Some(u) = unchecked.take() {
        r.unexpected(u)?;
    }
    for u in rcpt_unchecked {
        r.unexpected(u)?;
    }
    if r.session.is_connected() {
        r.session.quit()?;
    }
    if let Some(first) = r.first_failure {
        return Err(ExpectationFailed(format!(
            "{} failure(s); the first: {first}",
            r.sum.failures
        ))
        .into());
    }
    Ok(())
}
