//! The interactive shell on rustyline: a prompt that tells where the session is, Tab
//! completion of verbs and shell commands (AUTH offers what the server advertised), a
//! history file that never holds a secret, and Ctrl-C that cancels a wait, not the shell.

use std::borrow::Cow;
use std::path::PathBuf;

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::{DefaultHistory, History};
use rustyline::validate::Validator;
use rustyline::{Config, Context, Editor, Helper};

use super::exec::{self, Step};
use super::lang;
use crate::error::Error;
use crate::session::{Session, Stage};

/// What completion knows of the session, refreshed before each prompt.
#[derive(Default)]
struct ShellHelper {
    mechanisms: Vec<String>,
    files: FilenameCompleter,
    body: bool,
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        if self.body {
            return Ok((pos, Vec::new()));
        }
        let before = &line[..pos];
        let lower = before.to_ascii_lowercase();
        if lower.starts_with(":send ")
            || lower.starts_with(":save ")
            || lower.starts_with(":script ")
        {
            return self.files.complete(line, pos, ctx);
        }
        let pair = |s: &str| Pair {
            display: s.to_string(),
            replacement: format!("{s} "),
        };
        let word_start = before.rfind(' ').map(|i| i + 1).unwrap_or(0);
        let word = &before[word_start..];
        let candidates: Vec<Pair> = if word_start == 0 {
            if word.starts_with(':') {
                lang::SHELL_COMMANDS
                    .iter()
                    .map(|c| c.0)
                    .filter(|n| n.starts_with(word))
                    .map(pair)
                    .collect()
            } else {
                let up = word.to_ascii_uppercase();
                lang::VERBS
                    .iter()
                    .map(|v| v.0)
                    .filter(|v| v.starts_with(&up))
                    .map(|v| {
                        // Keep the case the user started typing in.
                        let v = if word.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
                            v.to_ascii_lowercase()
                        } else {
                            v.to_string()
                        };
                        pair(&v)
                    })
                    .collect()
            }
        } else if lower.starts_with("auth ") && !lower[5..].contains(' ')
            || lower.starts_with(":auth ") && !lower[6..].contains(' ')
        {
            let up = word.to_ascii_uppercase();
            let all = ["PLAIN", "LOGIN", "CRAM-MD5"].map(String::from);
            let mechs: &[String] = if self.mechanisms.is_empty() {
                &all
            } else {
                &self.mechanisms
            };
            mechs
                .iter()
                .filter(|m| m.starts_with(&up))
                .map(|m| pair(m))
                .collect()
        } else {
            Vec::new()
        };
        Ok((word_start, candidates))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Borrowed(hint)
    }
}

impl Validator for ShellHelper {}
impl Helper for ShellHelper {}

/// Where the history file lives: `--history`, else `$XDG_DATA_HOME/smtpsh/history`, else
/// `~/.local/share/smtpsh/history`.
pub fn default_history_path() -> Option<PathBuf> {
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
pub fn run(session: &mut Session, history: Option<PathBuf>) -> anyhow::Result<()> {
    crate::cancel::install();
    let config = Config::builder()
        .auto_add_history(false)
        .history_ignore_dups(true)?
        .build();
    let mut rl: Editor<ShellHelper, DefaultHistory> = Editor::with_config(config)?;
    rl.set_helper(Some(ShellHelper::default()));
    if let Some(h) = &history {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = rl.load_history(h);
    }
    if !session.is_connected() {
        session.note("not connected: :connect HOST[:PORT] to start, :help for help");
    }
    let mut body_lines = 0usize;
    loop {
        if let Some(h) = rl.helper_mut() {
            h.mechanisms = session
                .caps()
                .map(|c| c.auth_mechanisms())
                .unwrap_or_default();
            h.body = session.in_body();
        }
        let p = prompt(session, body_lines);
        let line = match rl.readline(&p) {
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
        let in_body = session.in_body();
        // Decide before running the line: a line answering an AUTH challenge is a secret.
        let keep = !in_body && !session.expects_secret() && lang::history_safe(&line);
        crate::cancel::clear();
        let result = exec::execute(session, &line, true);
        if keep && !line.trim().is_empty() {
            let _ = rl.add_history_entry(line.as_str());
            if let Some(h) = &history {
                let _ = rl.save_history(h);
            }
        }
        body_lines = if session.in_body() {
            if in_body { body_lines + 1 } else { 0 }
        } else {
            0
        };
        match result {
            Ok(Step::Quit) => break,
            Ok(_) => {}
            Err(e) => {
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
    }
    if let (Some(h), true) = (&history, rl.history().len() > 0) {
        let _ = rl.save_history(h);
    }
    Ok(())
}
