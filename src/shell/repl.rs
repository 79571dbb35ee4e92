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
use super::commands::{ShellParser, definitions};
use super::exec::{self, Step};
use super::lang::{self, Line, Origin};
use crate::error::Error;
use crate::session::{Input, Session, Stage};
use crate::smtp::auth::Secret;
use crate::smtp::command::Verb;

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
        let lower = line.get(..pos).unwrap_or(line).to_ascii_lowercase();
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

/// A dim hint after the cursor that is only ever shown: a syntax template
/// (`FROM:<address> [SIZE=n]`) or a warning must never become input, so Right arrow does not
/// accept it (Tab completes what can be completed).
struct ShownHint(String);

impl rustyline::hint::Hint for ShownHint {
    fn display(&self) -> &str {
        &self.0
    }

    fn completion(&self) -> Option<&str> {
        None
    }
}

impl Hinter for ShellHelper {
    type Hint = ShownHint;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<ShownHint> {
        // Only at the end of the line: a hint in the middle would hide what follows.
        (pos == line.len())
            .then(|| assist::hint(line, &self.know))
            .flatten()
            .map(ShownHint)
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
        let known = match word.strip_prefix(':') {
            Some(name) => definitions().find_subcommand(name).is_some(),
            None => Verb::of_word(word).syntax().is_some(),
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
pub fn prompt(session: &Session) -> String {
    match session.input() {
        Input::Chunk { left } => return format!("bdat {left} left> "),
        Input::Body { lines } => return format!("data {}> ", lines + 1),
        Input::Command | Input::AuthResponse => {}
    }
    let st = session.state();
    let Some(t) = &st.target else {
        return "smtpsh (not connected)> ".to_string();
    };
    let mut p = t.to_string();
    if st.tls {
        p.push_str(if st.insecure { " tls!" } else { " tls" });
    }
    if let Some(u) = &st.user {
        p = format!("{u}@{p}");
    } else if st.auth_by_hand {
        p = format!("authenticated@{p}");
    }
    match st.stage {
        Stage::Idle => {}
        Stage::Mail => p.push_str(" mail"),
        Stage::Rcpt(n) => p.push_str(&format!(" rcpt {n}")),
        Stage::Data => p.push_str(" data"),
    }
    if session.input() == Input::AuthResponse {
        p.push_str(" auth-response (kept out of history)");
    }
    format!("{p}> ")
}

/// Run the interactive shell until `:quit` or Ctrl-D.
pub fn run(session: &mut Session, history: Option<PathBuf>, color: bool) -> anyhow::Result<()> {
    session.cancel().on_ctrl_c();
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
        parser: ShellParser::new(),
    };
    loop {
        if let Some(h) = shell.rl.helper_mut() {
            h.know = Knowledge {
                caps: session.caps().cloned(),
                body: session.in_body(),
            };
        }
        session.transcript.flush();
        let p = prompt(session);
        let input = match shell.rl.readline(&p) {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => continue, // Ctrl-C: drop the line, stay
            Err(ReadlineError::Eof) => {
                session.quit();
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
    parser: ShellParser,
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

    /// Run one line; `true` to leave. What the line is depends on what the session waits
    /// for: a body line, an AUTH response (a secret), or a command, parsed here once.
    fn line(&mut self, session: &mut Session, text: &str) -> bool {
        session.cancel().clear();
        let result = match session.input() {
            Input::Body { .. } | Input::Chunk { .. } => {
                exec::run_body_line(session, text.as_bytes(), true)
            }
            Input::AuthResponse => session
                .auth_response(&Secret::new(text))
                .map(Step::Reply)
                .map_err(anyhow::Error::from),
            Input::Command => match lang::parse_line(text, Origin::Prompt, &mut self.parser) {
                Ok(line) => {
                    // Decide before running the line: lines that carry secrets never go to
                    // the history file (safety rule 5).
                    let keep = match &line {
                        Line::Blank => false,
                        Line::Smtp(cmd) => !cmd.is_secret(),
                        Line::Shell(cmd) => cmd.history_safe(),
                    };
                    if keep {
                        self.remember(text.trim_end());
                    }
                    exec::run_line(session, line)
                }
                Err(e) => Err(anyhow::Error::new(e)),
            },
        };
        match result {
            Ok(Step::Quit) => return true,
            Ok(_) => {}
            Err(e) => {
                session.transcript.flush();
                if matches!(e.downcast_ref::<Error>(), Some(Error::Cancelled)) {
                    eprintln!("smtpsh: cancelled");
                } else {
                    // An error may quote what was typed or received: never its controls.
                    eprintln!(
                        "smtpsh: error: {}",
                        crate::smtp::escape::escape_controls(&format!("{e:#}"))
                    );
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
