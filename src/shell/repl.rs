//! The interactive shell on rustyline: a prompt that tells where the session is, Tab
//! completion, hints and highlighting (see [`assist`]), multi-line pastes, a history file
//! that never holds a secret, and Ctrl-C that cancels a wait, not the shell.

use std::borrow::Cow;
use std::path::PathBuf;

use colored::Colorize;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::history::{DefaultHistory, History};
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use super::assist::{self, Knowledge};
use super::exec::{self, Step};
use super::lang;
use crate::error::Error;
use crate::session::{Session, Stage};

/// The rustyline helper: completion, hints and highlighting from [`assist`].
#[derive(Default)]
struct ShellHelper {
    know: Knowledge,
    files: FilenameCompleter,
    color: bool,
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let lower = line[..pos].to_ascii_lowercase();
        if !self.know.body && (lower.starts_with(":send ") || lower.starts_with(":save ")) {
            return self.files.complete(line, pos, ctx);
        }
        let (start, cands) = assist::complete(line, pos, &self.know);
        let pairs = cands
            .into_iter()
            .map(|c| Pair {
                display: c.trim_end().to_string(),
                replacement: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        // Only at the end of the line: a hint in the middle would hide what follows.
        (pos == line.len())
            .then(|| assist::hint(line, &self.know))
            .flatten()
    }
}

impl Highlighter for ShellHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if !self.color || self.know.body || line.is_empty() {
            return Cow::Borrowed(line);
        }
        if line.starts_with(':') {
            if line.starts_with(":raw") {
                return Cow::Borrowed(line);
            }
        } else if crate::smtp::command::check_line(line.as_bytes()).is_err() {
            // Marked before Enter: this line will be refused.
            return Cow::Owned(line.red().underline().to_string());
        }
        let end = line.find([' ', '\t']).unwrap_or(line.len());
        let (word, rest) = line.split_at(end);
        let known = if word.starts_with(':') {
            lang::SHELL_COMMANDS.iter().any(|c| c.0 == word)
        } else {
            lang::VERBS.iter().any(|v| v.0.eq_ignore_ascii_case(word))
        };
        if known {
            Cow::Owned(format!("{}{rest}", word.bold().cyan()))
        } else {
            Cow::Borrowed(line)
        }
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color {
            Cow::Owned(hint.dimmed().to_string())
        } else {
            Cow::Borrowed(hint)
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        self.color
    }
}

impl Validator for ShellHelper {}
impl Helper for ShellHelper {}

/// Where the history file lives: `--history`, else `$XDG_DATA_HOME/smtpsh/history`, else
/// `~/.local/share/smtpsh/history`; on Windows `%APPDATA%\smtpsh\history`, where Windows
/// programs keep what roams with the user.
pub fn default_history_path() -> Option<PathBuf> {
    if cfg!(windows) {
        let base = std::env::var_os("APPDATA").filter(|v| !v.is_empty())?;
        return Some(PathBuf::from(base).join("smtpsh").join("history"));
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(base.join("smtpsh").join("history"))
}

/// The prompt: host, TLS (with `!` when not verified), user, transaction stage; in body
/// mode a distinct prompt with the line count.
pub fn prompt(session: &Session, body_lines: usize) -> String {
    let st = session.state();
    if let Some(left) = session.chunk_left() {
        return format!("bdat {left} left> ");
    }
    if session.in_body() {
        return format!("data {}> ", body_lines + 1);
    }
    let Some(t) = &st.target else {
        return "smtpsh (not connected)> ".to_string();
    };
    let mut p = t.to_string();
    if st.tls {
        p.push_str(if st.insecure { " tls!" } else { " tls" });
    }
    if let Some(u) = &st.user {
        p = format!("{u}@{p}");
    }
    match st.stage {
        Stage::Idle => {}
        Stage::Mail => p.push_str(" mail"),
        Stage::Rcpt(n) => p.push_str(&format!(" rcpt {n}")),
        Stage::Data => p.push_str(" data"),
    }
    if session.expects_secret() {
        p.push_str(" auth-response (kept out of history)");
    }
    format!("{p}> ")
}

/// Run the interactive shell until `:quit` or Ctrl-D.
pub fn run(session: &mut Session, history: Option<PathBuf>, color: bool) -> anyhow::Result<()> {
    crate::cancel::install();
    // List completion, as in bash: Tab completes the common prefix, Tab again lists.
    let config = Config::builder()
        .auto_add_history(false)
        .history_ignore_dups(true)?
        .completion_type(CompletionType::List)
        .build();
    let mut rl: Editor<ShellHelper, DefaultHistory> = Editor::with_config(config)?;
    rl.set_helper(Some(ShellHelper {
        color,
        ..ShellHelper::default()
    }));
    if let Some(h) = &history {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = rl.load_history(h);
    }
    if !session.is_connected() {
        session.note("not connected: :connect HOST[:PORT] to start, :help for help");
    }
    let mut shell = Repl {
        rl,
        history,
        body_lines: 0,
    };
    loop {
        if let Some(h) = shell.rl.helper_mut() {
            h.know = Knowledge {
                caps: session.caps().cloned(),
                body: session.in_body(),
            };
        }
        session.transcript.flush();
        let p = prompt(session, shell.body_lines);
        let input = match shell.rl.readline(&p) {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => continue, // Ctrl-C: drop the line, stay
            Err(ReadlineError::Eof) => {
                if let Err(e) = session.quit() {
                    eprintln!("smtpsh: {e}");
                }
                break;
            }
            Err(e) => return Err(e.into()),
        };
        if shell.input(session, &input) {
            break;
        }
    }
    if let Some(h) = &shell.history
        && shell.rl.history().len() > 0
    {
        let _ = shell.rl.save_history(h);
    }
    Ok(())
}

struct Repl {
    rl: Editor<ShellHelper, DefaultHistory>,
    history: Option<PathBuf>,
    body_lines: usize,
}

impl Repl {
    /// Handle what one readline returned; `true` to leave. A bracketed paste arrives as one
    /// input with newlines: in body mode each line is a body line; at the command prompt the
    /// lines become separate commands only after the user says yes.
    fn input(&mut self, session: &mut Session, input: &str) -> bool {
        if !input.contains('\n') {
            return self.line(session, input);
        }
        let lines: Vec<&str> = input
            .strip_suffix('\n')
            .unwrap_or(input)
            .split('\n')
            .collect();
        let mut rest = &lines[..];
        while session.in_body() {
            let Some((first, tail)) = rest.split_first() else {
                return false;
            };
            rest = tail;
            if self.line(session, first) {
                return true;
            }
        }
        let commands: Vec<&str> = rest
            .iter()
            .copied()
            .filter(|l| !l.trim().is_empty())
            .collect();
        if commands.is_empty() {
            return false;
        }
        if commands.len() > 1 {
            session.note(format!("the paste holds {} command lines:", commands.len()));
            for c in &commands {
                session.transcript.print_only(&format!("    {c}"));
            }
            let answer = self.rl.readline(&format!(
                "run them as {} commands, in order? [y/N] ",
                commands.len()
            ));
            if !matches!(answer.as_deref().map(str::trim), Ok("y" | "Y" | "yes")) {
                session.note("paste dropped; nothing was sent");
                return false;
            }
        }
        for (i, c) in rest.iter().enumerate() {
            if c.trim().is_empty() && !session.in_body() {
                continue;
            }
            if self.line(session, c) {
                return true;
            }
            if !session.is_connected() && i + 1 < rest.len() && !c.starts_with(':') {
                session.warn("the connection is gone; the rest of the paste was not run");
                break;
            }
        }
        false
    }

    /// Add `line` to the history, de-duplicated: an earlier copy moves to the end, so Up
    /// finds each command once, most recent first.
    fn remember(&mut self, line: &str) {
        let h = self.rl.history_mut();
        if h.iter().any(|e| e == line) {
            let rest: Vec<String> = h.iter().filter(|e| *e != line).cloned().collect();
            let _ = h.clear();
            for e in rest {
                let _ = h.add_owned(e);
            }
        }
        let _ = self.rl.add_history_entry(line);
        if let Some(path) = &self.history {
            let _ = self.rl.save_history(path);
        }
    }

    /// Run one line; `true` to leave.
    fn line(&mut self, session: &mut Session, line: &str) -> bool {
        let in_body = session.in_body();
        // Decide before running the line: a line answering an AUTH challenge is a secret.
        let keep = !in_body && !session.expects_secret() && lang::history_safe(line);
        crate::cancel::clear();
        let result = exec::execute(session, line, true);
        if keep {
            self.remember(line.trim_end());
        }
        self.body_lines = match (session.in_body(), in_body) {
            (true, true) => self.body_lines + 1,
            _ => 0,
        };
        match result {
            Ok(Step::Quit) => return true,
            Ok(_) => {}
            Err(e) => {
                session.transcript.flush();
                if matches!(e.downcast_ref::<Error>(), Some(Error::Cancelled)) {
                    eprintln!("smtpsh: cancelled");
                } else {
                    eprintln!("smtpsh: error: {e:#}");
                    if !session.is_connected()
                        && e.downcast_ref::<Error>()
                            .is_some_and(|e| e.ends_connection())
                    {
                        eprintln!("smtpsh: the connection is gone; :connect TARGET to go on");
                    }
                }
            }
        }
        false
    }
}
