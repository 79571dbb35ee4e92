//! Script mode: the command language from a file or a pipe.
//!
//! A [`Reader`] turns the script into typed items, once, line by line (so a script of a
//! million messages runs in flat memory): SMTP commands, shell commands, the body after a
//! `DATA` up to a lone `.`, a typed BDAT's data. The structure is the script's, not the
//! server's: the lines after `DATA` are the body whatever DATA was answered (a refused DATA
//! skips them, never runs them as commands); an `:expect` directly after `DATA` checks DATA's
//! reply. [`check`] runs the reader alone (`--check`, and before connecting); [`run`] runs
//! the items in lockstep or, with `--pipeline`, with runs of MAIL/RCPT/RSET (ended by DATA or
//! NOOP) sent as one write (RFC 2920) — the same items either way, so a script means one
//! thing whatever the flag.
//!
//! An unexpected 4xx/5xx (one not checked by the `:expect` lines right after its command)
//! fails the script; errors name the file and line. Every way out ends the session politely
//! (safety rule 9).

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::commands::{ShellCmd, ShellParser};
use super::exec::{self, Step};
use super::lang::{self, ExpectSpec, LangError, Line, Origin};
use super::progress::Counter;
use crate::error::{Error, Exit, ExpectationFailed, Interrupted, UsageError};
use crate::session::{Input, Session};
use crate::smtp::auth::Secret;
use crate::smtp::command::{Args, Command, Verb};
use crate::smtp::reply::Reply;

/// How a script is run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Go on after an unexpected 4xx/5xx or a missed `:expect` (still failing at the end).
    pub keep_going: bool,
    /// Send runs of pipelinable commands as one write.
    pub pipeline: bool,
    /// Messages done of the messages in the script (see [`Reader::messages`]), on a
    /// terminal; by default nothing is shown.
    pub messages: Counter,
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

/// One line of a script, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// An SMTP command.
    Smtp(Command),
    /// A shell command (`:expect` included), with its text for messages.
    Shell(ShellCmd, String),
    /// A line of the body after DATA (the bytes as in the file, without the line end).
    Body {
        /// The line.
        line: Vec<u8>,
        /// It looks like a mistaken shell command (`:expect 250`): sent, with a warning.
        suspicious: bool,
    },
    /// The lone `.` that ends the body.
    BodyEnd,
    /// A line of a typed BDAT's data.
    Chunk(Vec<u8>),
}

/// Why a script line can't be read.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// The line does not parse.
    #[error("{file}:{line}: {error}")]
    Line {
        /// The script's name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong (shown in the message, so not also a `source`).
        error: LangError,
    },
    /// Anything else about a line (not UTF-8, a chunk overflow, the end inside a body).
    #[error("{file}:{line}: {what}")]
    Structure {
        /// The script's name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        what: String,
    },
    /// The script can't be read.
    #[error("{file}: cannot read line {line}")]
    Read {
        /// The script's name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Where the reader is in the script's structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Commands,
    /// Right after DATA: an `:expect` here checks DATA's reply; anything else is the body.
    AfterData {
        data_line: usize,
    },
    Body {
        data_line: usize,
    },
    Chunk {
        left: u64,
        bdat_line: usize,
    },
}

/// Reads a script into [`Item`]s, one line at a time.
pub struct Reader<R> {
    input: std::io::Split<R>,
    name: String,
    line_no: usize,
    place: Place,
    shell: ShellParser,
    base_dir: Option<PathBuf>,
    ended: bool,
    messages: u64,
}

impl<R: BufRead> Reader<R> {
    /// A reader of `input`, named `name` in messages; relative `:send` files are taken from
    /// `base_dir`.
    pub fn new(input: R, name: &str, base_dir: Option<PathBuf>) -> Reader<R> {
        Reader {
            input: input.split(b'\n'),
            name: name.to_string(),
            line_no: 0,
            place: Place::Commands,
            shell: ShellParser::new(),
            base_dir,
            ended: false,
            messages: 0,
        }
    }

    /// How many messages the items read so far hold (see [`is_message`]): after
    /// [`check`], the script's total, for a progress bar.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// The script's name, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn structure(&self, line: usize, what: impl Into<String>) -> ScriptError {
        ScriptError::Structure {
            file: self.name.clone(),
            line,
            what: what.into(),
        }
    }

    fn lang(&self, line: usize, error: LangError) -> ScriptError {
        ScriptError::Line {
            file: self.name.clone(),
            line,
            error,
        }
    }

    /// The next item and its line number; `Ok(None)` at the end. After an error the reader
    /// goes on with the next line (so `--check` reports every problem).
    pub fn next_item(&mut self) -> Result<Option<(usize, Item)>, ScriptError> {
        let next = self.read_item();
        if let Ok(Some((_, item))) = &next
            && is_message(item)
        {
            self.messages += 1;
        }
        next
    }

    fn read_item(&mut self) -> Result<Option<(usize, Item)>, ScriptError> {
        loop {
            let Some(raw) = self.input.next() else {
                return self.at_end();
            };
            self.line_no += 1;
            let n = self.line_no;
            let raw = raw.map_err(|source| ScriptError::Read {
                file: self.name.clone(),
                line: n,
                source,
            })?;
            // A script file's own line ending (LF or CRLF) is not part of the line; a CR
            // anywhere else stays, and the checks refuse it in a command.
            let raw = raw.strip_suffix(b"\r").unwrap_or(&raw).to_vec();
            match self.place {
                Place::Chunk { left, bdat_line } => {
                    let len = raw.len() as u64;
                    let left = if len + 2 <= left {
                        left - len - 2
                    } else if len == left {
                        0
                    } else {
                        self.place = Place::Commands;
                        return Err(self.structure(
                            n,
                            format!(
                                "this line is {} octets with its CRLF and the BDAT of line {bdat_line} has {left} left (BDAT counts octets)",
                                len + 2
                            ),
                        ));
                    };
                    self.place = if left == 0 {
                        Place::Commands
                    } else {
                        Place::Chunk { left, bdat_line }
                    };
                    return Ok(Some((n, Item::Chunk(raw))));
                }
                Place::AfterData { data_line } => {
                    self.place = Place::Body { data_line };
                    if let Some(item) = self.expect_after_data(n, &raw)? {
                        if let Item::Shell(ShellCmd::Expect(e), _) = &item
                            && !e.spec.admits(354)
                        {
                            // `DATA` then `:expect 554`: the script says DATA is refused,
                            // so no body follows.
                            self.place = Place::Commands;
                        }
                        return Ok(Some((n, item)));
                    }
                    return Ok(Some((n, body_item(raw, &mut self.place))));
                }
                Place::Body { .. } => return Ok(Some((n, body_item(raw, &mut self.place)))),
                Place::Commands => {}
            }
            let text = String::from_utf8(raw).map_err(|_| {
                self.structure(
                    n,
                    "the line is not UTF-8 (only a message body may hold other bytes)",
                )
            })?;
            let line = lang::parse_line(&text, Origin::Script, &mut self.shell)
                .map_err(|e| self.lang(n, e))?;
            let item = match line {
                Line::Blank => continue,
                Line::Smtp(cmd) => {
                    match (cmd.verb(), cmd.args()) {
                        (Verb::Data, _) => self.place = Place::AfterData { data_line: n },
                        (Verb::Bdat, Args::Bdat(b)) if b.size > 0 => {
                            self.place = Place::Chunk {
                                left: b.size,
                                bdat_line: n,
                            }
                        }
                        _ => {}
                    }
                    Item::Smtp(cmd)
                }
                Line::Shell(ShellCmd::Send(mut s)) => {
                    // Relative files are the script's (see docs/scripting.md).
                    if let Some(base) = &self.base_dir
                        && s.file.is_relative()
                    {
                        s.file = base.join(&s.file);
                    }
                    Item::Shell(ShellCmd::Send(s), text.trim().to_string())
                }
                Line::Shell(cmd) => Item::Shell(cmd, text.trim().to_string()),
            };
            return Ok(Some((n, item)));
        }
    }

    /// A line right after DATA: an `:expect` there checks DATA's reply (PRODUCT.md, "The
    /// command language"); anything else is the first body line.
    fn expect_after_data(&mut self, n: usize, raw: &[u8]) -> Result<Option<Item>, ScriptError> {
        let Ok(text) = std::str::from_utf8(raw) else {
            return Ok(None);
        };
        let t = text.trim_start();
        let name = t
            .strip_prefix(':')
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or("");
        if !name.eq_ignore_ascii_case("expect") {
            return Ok(None);
        }
        match self.shell.parse(t) {
            Ok(cmd @ ShellCmd::Expect(_)) => Ok(Some(Item::Shell(cmd, t.trim_end().to_string()))),
            Ok(_) => Ok(None),
            Err(e) => Err(self.lang(n, e)),
        }
    }

    fn at_end(&mut self) -> Result<Option<(usize, Item)>, ScriptError> {
        if self.ended {
            return Ok(None);
        }
        self.ended = true;
        match self.place {
            Place::AfterData { data_line } | Place::Body { data_line } => Err(self.structure(
                self.line_no,
                format!(
                    "the script ends inside the body of the DATA of line {data_line} (no lone '.' line); the message would not be sent"
                ),
            )),
            Place::Chunk { left, bdat_line } => Err(self.structure(
                self.line_no,
                format!(
                    "the script ends with {left} octets of the BDAT of line {bdat_line} still owed"
                ),
            )),
            Place::Commands => Ok(None),
        }
    }
}

/// Whether `item` completes a message: the lone `.` after a DATA body, a `:send`, a BDAT
/// marked LAST. What the script's progress counts, in the check and in the run alike.
pub fn is_message(item: &Item) -> bool {
    match item {
        Item::BodyEnd | Item::Shell(ShellCmd::Send(_), _) => true,
        Item::Smtp(cmd) => matches!(cmd.args(), Args::Bdat(b) if b.last),
        _ => false,
    }
}

fn body_item(raw: Vec<u8>, place: &mut Place) -> Item {
    match lang::parse_body_line(&raw) {
        lang::BodyLine::End => {
            *place = Place::Commands;
            Item::BodyEnd
        }
        lang::BodyLine::Text { suspicious, .. } => Item::Body {
            line: raw,
            suspicious,
        },
    }
}

/// A problem `--check` found.
#[derive(Debug)]
pub struct Problem {
    /// What and where (`file:line: …`).
    pub error: anyhow::Error,
    /// A warning only (a body line that looks like a command): the script still runs.
    pub warning: bool,
}

/// Read the whole script and report every problem, connecting to nothing: syntax, the
/// structure of bodies and chunks, and that every `:send` file can be opened.
pub fn check(reader: &mut Reader<impl BufRead>) -> Vec<Problem> {
    let mut problems = Vec::new();
    loop {
        match reader.next_item() {
            Ok(None) => break,
            Ok(Some((n, item))) => match item {
                Item::Shell(ShellCmd::Send(s), _) => {
                    if let Err(e) = std::fs::File::open(&s.file) {
                        // Still relative: the script came through a pipe.
                        let hint = if s.file.is_relative() {
                            " (a script from a pipe takes relative names from the current directory; use --script FILE or an absolute path)"
                        } else {
                            ""
                        };
                        problems.push(Problem {
                            error: anyhow::anyhow!(UsageError(format!(
                                "{}:{n}: cannot open {}: {e}{hint}",
                                reader.name(),
                                s.file.display()
                            ))),
                            warning: false,
                        });
                    }
                }
                Item::Body {
                    line,
                    suspicious: true,
                } => problems.push(Problem {
                    error: anyhow::anyhow!(
                        "{}:{n}: {:?} is a line of the message body, not a command (a body ends at a lone '.')",
                        reader.name(),
                        String::from_utf8_lossy(&line)
                    ),
                    warning: true,
                }),
                _ => {}
            },
            Err(e @ ScriptError::Read { .. }) => {
                problems.push(Problem {
                    error: anyhow::Error::new(e),
                    warning: false,
                });
                break;
            }
            Err(e) => problems.push(Problem {
                error: anyhow::Error::new(UsageError(e.to_string())),
                warning: false,
            }),
        }
    }
    problems
}

/// A reply not yet accepted: it fails the script unless an `:expect` follows its command.
struct Unchecked {
    line_no: usize,
    command: String,
    reply: Reply,
    /// On LMTP, the recipient this reply was for.
    rcpt: Option<String>,
}

/// What the last step left for `:expect` to look at.
#[derive(Default)]
enum Pending {
    /// Nothing that fails the script if left alone.
    #[default]
    Nothing,
    /// A 4xx/5xx that fails the script unless an `:expect` covers it.
    Reply(Unchecked),
    /// LMTP: the failing per-recipient replies to the last message, until `:expect` covers
    /// them (one without a recipient covers all; `:expect <rcpt> …` that one).
    Recipients(Vec<Unchecked>),
}

/// A body not sent because its DATA was refused.
struct Skip {
    data_line: usize,
    code: u16,
    noted: bool,
}

/// One command of a pipelined group and the `:expect` lines after it.
struct Member {
    line_no: usize,
    cmd: Command,
    expects: Vec<(usize, ExpectSpec)>,
}

struct Runner<'a, R> {
    session: &'a mut Session,
    reader: Reader<R>,
    peeked: Option<(usize, Item)>,
    opts: Options,
    sum: &'a mut Summary,
    first_failure: Option<String>,
    pending: Pending,
    /// The body being skipped: its DATA was not answered 354.
    skipping: Option<Skip>,
}

impl<R: BufRead> Runner<'_, R> {
    fn next(&mut self) -> anyhow::Result<Option<(usize, Item)>> {
        if let Some(p) = self.peeked.take() {
            return Ok(Some(p));
        }
        Ok(self.reader.next_item()?)
    }

    fn peek(&mut self) -> anyhow::Result<Option<&(usize, Item)>> {
        if self.peeked.is_none() {
            self.peeked = self.reader.next_item()?;
        }
        Ok(self.peeked.as_ref())
    }

    fn at(&self, line_no: usize) -> String {
        format!("{}:{line_no}", self.reader.name())
    }

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
        let hint = match &u.rcpt {
            Some(r) => format!(":expect {r} {}", u.reply.code),
            None => format!(":expect {}", u.reply.code),
        };
        let msg = format!(
            "{}: unexpected reply {} to {} (put '{hint}' after it if that is what you want)",
            self.at(u.line_no),
            u.reply.code,
            u.command
        );
        self.fail(msg)
    }

    /// Whatever the last step left unchecked fails now (the next line is not an
    /// `:expect`).
    fn settle(&mut self) -> anyhow::Result<()> {
        match std::mem::take(&mut self.pending) {
            Pending::Nothing => Ok(()),
            Pending::Reply(u) => self.unexpected(u),
            Pending::Recipients(list) => {
                for u in list {
                    self.unexpected(u)?;
                }
                Ok(())
            }
        }
    }

    /// A reply that ended a step at `line_no`: kept for the `:expect` lines after it.
    fn replied(&mut self, line_no: usize, what: String, r: Reply) {
        self.sum.replies += 1;
        let per = self.session.recipient_replies();
        self.pending = if !per.is_empty() {
            Pending::Recipients(
                per.iter()
                    .filter(|(_, rep)| lang::is_failure(rep))
                    .map(|(rcpt, rep)| Unchecked {
                        line_no,
                        command: format!("the message, for {rcpt}"),
                        reply: rep.clone(),
                        rcpt: Some(rcpt.clone()),
                    })
                    .collect(),
            )
        } else if lang::is_failure(&r) {
            Pending::Reply(Unchecked {
                line_no,
                command: what,
                reply: r,
                rcpt: None,
            })
        } else {
            Pending::Nothing
        };
    }

    /// `:expect` at `line_no`: checks what the last step left (one recipient's reply, on
    /// LMTP, when it names one).
    fn expect(
        &mut self,
        line_no: usize,
        spec: &ExpectSpec,
        reply: Option<&Reply>,
    ) -> anyhow::Result<()> {
        let checked = exec::check_expect(self.session, spec, reply);
        match &mut self.pending {
            Pending::Recipients(list) => {
                list.retain(|u| !spec.covers(u.rcpt.as_deref().unwrap_or("")))
            }
            p => *p = Pending::Nothing,
        }
        if !checked.ok {
            let msg = format!(
                "{}: expected {}, got {}",
                self.at(line_no),
                spec.as_str(),
                checked.got()
            );
            self.fail(msg)?;
        }
        Ok(())
    }

    /// Ctrl-C (SIGINT) between two items, before line `n`: stop here. Leaving ends the
    /// session: politely (QUIT), or in the middle of a body by closing the connection, so the
    /// part sent is not delivered.
    fn interrupted(&mut self, n: usize) -> anyhow::Error {
        self.session.cancel().clear();
        let how = if self.session.in_body() {
            "in the middle of a message: the connection is closed without ending it, so the message was NOT delivered (SMTP can abort a message only by closing the connection, RFC 5321 §4.1.1.4)"
        } else {
            "before this line ran: the session is ended (QUIT)"
        };
        Interrupted(format!("{}: interrupted (Ctrl-C/SIGINT) {how}", self.at(n))).into()
    }

    fn run(&mut self) -> anyhow::Result<()> {
        while let Some((n, item)) = self.next()? {
            if self.session.cancel().requested() {
                return Err(self.interrupted(n));
            }
            let message = is_message(&item);
            if let Item::Shell(ShellCmd::Expect(e), _) = &item {
                self.sum.commands += 1;
                let last = self.session.last_reply().cloned();
                self.expect(n, &e.spec, last.as_ref())?;
                continue;
            }
            if !matches!(item, Item::Body { .. } | Item::Chunk(_)) {
                self.settle()?;
            }
            if let Input::Body { .. } = self.session.input()
                && !matches!(item, Item::Body { .. } | Item::BodyEnd)
            {
                // Whatever comes next would become part of the message: stop here, and
                // leaving closes the connection without ending the body, so nothing is
                // delivered.
                return Err(ExpectationFailed(format!(
                    "{}: the server accepted DATA with 354 but the script has no body here (its :expect said DATA would be refused); the connection is closed so that nothing is delivered",
                    self.at(n)
                ))
                .into());
            }
            match item {
                Item::Smtp(cmd) => self.command(n, cmd)?,
                Item::Shell(cmd, text) => {
                    self.sum.commands += 1;
                    let what = if cmd.history_safe() {
                        text
                    } else {
                        "a :raw line".to_string()
                    };
                    match cmd.run(self.session).with_context(|| self.at(n))? {
                        Step::Reply(r) => self.replied(n, what, r),
                        Step::Quit => break,
                        Step::Expect { .. } | Step::Nothing => {}
                    }
                }
                Item::Body { line, suspicious } => self.body_line(n, &line, suspicious)?,
                Item::BodyEnd => {
                    if self.skipping.take().is_none() {
                        let r = self.session.end_body().with_context(|| self.at(n))?;
                        self.replied(n, "the end of the body".into(), r);
                    }
                }
                Item::Chunk(line) => {
                    if let Input::Chunk { .. } = self.session.input()
                        && let Some(r) =
                            self.session.chunk_line(&line).with_context(|| self.at(n))?
                    {
                        self.replied(n, "the BDAT chunk".into(), r);
                    }
                }
            }
            if message {
                self.opts.messages.step();
            }
        }
        self.settle()
    }

    fn body_line(&mut self, n: usize, line: &[u8], suspicious: bool) -> anyhow::Result<()> {
        let at = self.at(n);
        if let Some(skip) = &mut self.skipping {
            if !skip.noted && self.session.is_connected() {
                skip.noted = true;
                let msg = format!(
                    "{at}: the body is not sent: its DATA (line {}) was answered {}",
                    skip.data_line, skip.code
                );
                self.session.note(msg);
            }
            return Ok(());
        }
        if suspicious {
            self.session.warn(format!(
                "{}: {:?} is sent as a line of the message, not run: a body ends only at a lone '.'",
                self.at(n),
                String::from_utf8_lossy(line)
            ));
        }
        self.session
            .body_line(line, false)
            .with_context(|| self.at(n))?;
        Ok(())
    }

    fn command(&mut self, n: usize, cmd: Command) -> anyhow::Result<()> {
        // A refused DATA whose script said so (`:expect 5xx` after it) has no body to skip:
        // the next command ends its skipping, or a later message's body would be dropped.
        self.skipping = None;
        self.sum.commands += 1;
        if self.session.input() == Input::AuthResponse {
            // The line answers the server's 334 to an AUTH typed by hand: a secret.
            let r = self
                .session
                .auth_response(&Secret::new(cmd.expose()))
                .with_context(|| self.at(n))?;
            self.replied(n, "an AUTH response".into(), r);
            return Ok(());
        }
        if self.opts.pipeline && cmd.verb().pipelines() {
            return self.group(n, cmd);
        }
        let what = if cmd.is_secret() {
            "an AUTH step".to_string()
        } else {
            cmd.shown()
        };
        let r = exec::run_command(self.session, &cmd).with_context(|| self.at(n))?;
        if let Step::Reply(r) = r {
            self.after_data(n, &cmd, &r);
            self.replied(n, what, r);
        }
        Ok(())
    }

    /// A DATA not answered 354 leaves its body to be skipped.
    fn after_data(&mut self, n: usize, cmd: &Command, r: &Reply) {
        if *cmd.verb() == Verb::Data && !matches!(self.session.input(), Input::Body { .. }) {
            self.skipping = Some(Skip {
                data_line: n,
                code: r.code.value(),
                noted: false,
            });
        }
    }

    /// A pipelined group starting with `first`: the group's commands, each with the
    /// `:expect` lines after it.
    fn group(&mut self, first_no: usize, first: Command) -> anyhow::Result<()> {
        let mut group = vec![Member {
            line_no: first_no,
            cmd: first,
            expects: Vec::new(),
        }];
        loop {
            let last_ends = group.last().is_some_and(|m| m.cmd.verb().ends_pipeline());
            let take = match self.peek()? {
                Some((_, Item::Shell(ShellCmd::Expect(_), _))) => true,
                Some((_, Item::Smtp(c)))
                    if !last_ends && (c.verb().pipelines() || c.verb().ends_pipeline()) =>
                {
                    true
                }
                _ => false,
            };
            if !take {
                break;
            }
            match self.peeked.take() {
                Some((n, Item::Shell(ShellCmd::Expect(e), _))) => {
                    if let Some(m) = group.last_mut() {
                        m.expects.push((n, e.spec));
                    }
                }
                Some((n, Item::Smtp(cmd))) => group.push(Member {
                    line_no: n,
                    cmd,
                    expects: Vec::new(),
                }),
                other => {
                    self.peeked = other;
                    break;
                }
            }
        }
        self.sum.commands +=
            (group.len() - 1) as u64 + group.iter().map(|m| m.expects.len() as u64).sum::<u64>();
        let cmds: Vec<Command> = group.iter().map(|m| m.cmd.clone()).collect();
        let at = self.at(group[0].line_no);
        let replies = self.session.pipeline(&cmds).with_context(|| at)?;
        for (m, r) in group.iter().zip(replies) {
            self.after_data(m.line_no, &m.cmd, &r);
            // Only the group's last command can still get an :expect after the group.
            self.settle()?;
            self.replied(m.line_no, m.cmd.shown(), r.clone());
            for (en, spec) in &m.expects {
                self.expect(*en, spec, Some(&r))?;
            }
        }
        Ok(())
    }
}

/// Run a script: every item in order, then leave the session politely — also when a step
/// fails. `sum` is filled in as it goes, so the caller can report it whatever the outcome.
pub fn run(
    session: &mut Session,
    reader: Reader<impl BufRead>,
    opts: Options,
    sum: &mut Summary,
) -> anyhow::Result<()> {
    let mut r = Runner {
        session,
        reader,
        peeked: None,
        opts,
        sum,
        first_failure: None,
        pending: Pending::Nothing,
        skipping: None,
    };
    let result = r.run().map_err(interrupted_wait);
    r.opts.messages.finish();
    let why = match &result {
        Ok(()) => "end of the script",
        Err(e) if crate::error::exit_code(e) == Exit::Interrupted => "interrupted (Ctrl-C/SIGINT)",
        Err(_) => "the script failed",
    };
    r.session.end(why);
    result?;
    if let Some(first) = r.first_failure {
        return Err(ExpectationFailed(format!(
            "{} failure(s); the first: {first}",
            r.sum.failures
        ))
        .into());
    }
    Ok(())
}

/// A wait the user cancelled (Ctrl-C, SIGINT) ends the script: say so in its words.
pub fn interrupted_wait(e: anyhow::Error) -> anyhow::Error {
    if e.chain()
        .any(|c| matches!(c.downcast_ref::<Error>(), Some(Error::Cancelled)))
    {
        e.context(
            "interrupted (Ctrl-C/SIGINT) while waiting for a reply; the session is ended (QUIT)",
        )
    } else {
        e
    }
}

/// The directory relative `:send` paths in a script start from — one rule: the directory of
/// the file the script was read from. That is `--script FILE`'s, or, when standard input is
/// a file (`smtpsh < dir/s.smtp`), that file's; a pipe has no file, so `None`: the current
/// directory. (Telling which file standard input is needs /proc, so elsewhere than Linux a
/// redirected script counts as a pipe.)
pub fn base_dir(script: Option<&Path>) -> Option<PathBuf> {
    let file = match script {
        Some(p) => Some(p.to_path_buf()),
        None => stdin_file(),
    };
    file.as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
}

#[cfg(target_os = "linux")]
fn stdin_file() -> Option<PathBuf> {
    let path = std::fs::read_link("/proc/self/fd/0").ok()?;
    std::fs::metadata(&path)
        .is_ok_and(|m| m.is_file())
        .then_some(path)
}

#[cfg(not(target_os = "linux"))]
fn stdin_file() -> Option<PathBuf> {
    None
}
