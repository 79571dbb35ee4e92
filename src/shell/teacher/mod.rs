//! `--serve`: the teacher's side of a classroom. It starts the practice server, prints what
//! students need (a command for each way in: [`banner`]), then shows every session live
//! ([`log`]; with `--json`, the server's events as JSON Lines), keeps the class's summary
//! ([`class`]), and takes the teacher's commands until `:quit`, Ctrl-C or Ctrl-D; at exit
//! it prints the summary.
//!
//! The teacher's commands — `:inbox`, `:inbox N`, `:summary`, `:help`, `:quit` — are read:
//!
//! - at a `teacher>` prompt, with the log scrolling above it, when smtpsh runs in the
//!   foreground of a terminal (rustyline's external printer keeps the line being typed
//!   intact while log lines arrive);
//! - line by line from standard input when it is not a terminal (a pipe, a file; its end
//!   stops nothing: the server runs until a signal);
//! - not at all when smtpsh runs in the background of a terminal: reading it would stop
//!   the whole server (SIGTTIN).
//!
//! The server reports through a bounded queue: a log that can't keep up (a slow terminal,
//! a flood of clients) loses lines, never slows a session, and the summary says how many.

pub mod banner;
pub mod class;
pub mod log;

use std::io::{self, BufRead as _, IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use rustyline::error::ReadlineError;
use rustyline::{Config, DefaultEditor, ExternalPrinter as _};

use crate::cli::{Cli, ColorWhen};
use crate::error::UsageError;
use crate::practice::{Event, EventKind, EventSink, PracticeServer};
use crate::transcript::counted;
use class::Class;
use log::LogStyle;

/// Events waiting for the log, at most: beyond, they are counted and dropped.
const QUEUE: usize = 16 * 1024;

/// How the teacher's commands are read (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    Prompt,
    Lines,
    Nothing,
}

/// What a teacher's command asks of the loop.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Go,
    Quit,
}

/// `--serve [ADDR]`: run the classroom server until `:quit` or a signal.
pub fn serve(cli: &Cli, addr: &str) -> anyhow::Result<()> {
    let addr: SocketAddr = addr.parse().map_err(|_| {
        UsageError(format!(
            "--serve {addr:?}: expected IP:PORT, e.g. 127.0.0.1:2525 or [::1]:2525"
        ))
    })?;
    // Before any thread exists (see `log::local_offset`).
    let offset = log::local_offset();
    let json = cli.json;
    let color = !json
        && match cli.color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
    colored::control::set_override(color);
    let input = input_mode(json);
    // The terminal as it is now, before rustyline touches it (see `Terminal`).
    let terminal = (input == Input::Prompt).then(Terminal::save).flatten();

    let (tx, rx) = mpsc::sync_channel::<Event>(QUEUE);
    let dropped = Arc::new(AtomicU64::new(0));
    let sink = {
        let dropped = dropped.clone();
        EventSink::new(move |e| {
            if tx.try_send(e.clone()).is_err() {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let mut config = super::practice::config(cli, addr)?;
    config.events = Some(sink);
    if config.cert == crate::practice::CertSource::Fresh
        && cli.cert.is_none()
        && let Some(dir) = super::practice::kept_cert_dir()
    {
        config.cert = crate::practice::CertSource::Kept(dir);
    }
    let server = super::practice::start(cli, config)?;
    let text = banner::text(&server, cli, input == Input::Prompt, input == Input::Lines);
    // Written, not printed: a closed stdout (`| head`) must not panic the server.
    if json {
        let _ = io::stderr().write_all(text.as_bytes());
    } else {
        let mut o = io::stdout().lock();
        let _ = o.write_all(text.as_bytes());
        let _ = o.flush();
    }

    let class = Arc::new(Mutex::new(Class::default()));
    let mut editor = match input {
        Input::Prompt => Some(DefaultEditor::with_config(
            Config::builder().auto_add_history(true).build(),
        )?),
        _ => None,
    };
    // Lines are written in batches: as many as have arrived, in one write, so a busy
    // class costs one system call per batch rather than one per line.
    let mut out: Box<dyn FnMut(&str) + Send> = match editor
        .as_mut()
        .and_then(|e| e.create_external_printer().ok())
    {
        Some(mut printer) => Box::new(move |lines: &str| {
            let _ = printer.print(lines.to_string());
        }),
        None => Box::new(|lines: &str| {
            let mut o = io::stdout().lock();
            let _ = o.write_all(lines.as_bytes());
            let _ = o.flush();
        }),
    };
    let stopping = Arc::new(AtomicBool::new(false));
    let renderer = {
        let (class, stopping) = (class.clone(), stopping.clone());
        let style = LogStyle { color, offset };
        thread::Builder::new()
            .name("teacher-log".into())
            .spawn(move || {
                let mut pending = String::new();
                loop {
                    let next = if pending.is_empty() {
                        rx.recv_timeout(Duration::from_millis(100))
                    } else {
                        rx.try_recv().map_err(|e| match e {
                            TryRecvError::Empty => RecvTimeoutError::Timeout,
                            TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
                        })
                    };
                    let ev = match next {
                        Ok(ev) => ev,
                        // Nothing more for now: what is pending goes out, and the next
                        // lines gather for a moment (a busy class would otherwise wake
                        // this thread for every event; a teacher can't tell 20 ms).
                        Err(RecvTimeoutError::Timeout) if !pending.is_empty() => {
                            out(&std::mem::take(&mut pending));
                            thread::sleep(Duration::from_millis(20));
                            continue;
                        }
                        Err(RecvTimeoutError::Timeout) if stopping.load(Ordering::SeqCst) => {
                            break;
                        }
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => break,
                    };
                    let line = {
                        let mut c = lock(&class);
                        // Who the session was, for its last line (closing forgets it).
                        let was = c.who(ev.session);
                        c.record(&ev);
                        if json {
                            serde_json::to_string(&ev).ok()
                        } else {
                            let who = match ev.kind {
                                EventKind::Closed { .. } => was,
                                _ => c.who(ev.session),
                            };
                            log::line(&ev, &who, style)
                        }
                    };
                    if let Some(l) = line {
                        pending.push_str(&l);
                        pending.push('\n');
                        if pending.len() >= 64 * 1024 {
                            out(&std::mem::take(&mut pending));
                        }
                    }
                }
                if !pending.is_empty() {
                    out(&pending);
                }
            })?
    };

    let teacher = Teacher {
        class: class.clone(),
        dropped: dropped.clone(),
        json,
    };
    let ending = Arc::new(Ending {
        server: Mutex::new(Some(server)),
        renderer: Mutex::new(Some(renderer)),
        stopping,
        teacher: teacher.clone(),
    });
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    // Ctrl-C, and on Unix SIGTERM (how service managers and `kill` stop a server). At the
    // prompt a signal from elsewhere (`kill -INT`) can't interrupt the line being read: the
    // signal's thread ends the server itself, puts the terminal back and exits.
    let on_signal = {
        let (stop_tx, ending) = (stop_tx.clone(), ending.clone());
        move || {
            if input == Input::Prompt {
                if let Some(t) = &terminal {
                    t.restore();
                }
                ending.end();
                std::process::exit(0);
            }
            let _ = stop_tx.send(());
        }
    };
    // One handler per process; --serve installs the only one.
    let _ = ctrlc::set_handler(on_signal.clone());
    #[cfg(unix)]
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([signal_hook::consts::SIGTERM]) {
        thread::Builder::new()
            .name("teacher-sigterm".into())
            .spawn(move || {
                if signals.forever().next().is_some() {
                    on_signal();
                }
            })?;
    }
    match (input, editor.as_mut()) {
        (Input::Prompt, Some(rl)) => loop {
            if stop_rx.try_recv().is_ok() {
                break;
            }
            match rl.readline("teacher> ") {
                Ok(line) => {
                    if teacher.command(&line) == Next::Quit {
                        break;
                    }
                }
                // Ctrl-C, Ctrl-D or a signal while reading: leave.
                Err(ReadlineError::Interrupted | ReadlineError::Eof) => break,
                Err(e) => {
                    let _ = writeln!(
                        io::stderr(),
                        "smtpsh: the teacher> prompt failed: {e}; Ctrl-C stops the server"
                    );
                    let _ = stop_rx.recv();
                    break;
                }
            }
        },
        (Input::Lines, _) => {
            let tty = io::stdin().is_terminal();
            let teacher = teacher.clone();
            thread::Builder::new()
                .name("teacher-input".into())
                .spawn(move || {
                    for line in io::stdin().lock().lines() {
                        let Ok(line) = line else { break };
                        if teacher.command(&line) == Next::Quit {
                            let _ = stop_tx.send(());
                            return;
                        }
                    }
                    // Ctrl-D at a terminal ends it; the end of a pipe or file does not.
                    if tty {
                        let _ = stop_tx.send(());
                    }
                })?;
            let _ = stop_rx.recv();
        }
        _ => {
            let _ = stop_rx.recv();
        }
    }
    // The terminal back to normal before the last lines.
    drop(editor);
    ending.end();
    Ok(())
}

/// What stopping the server takes, done once, by the main thread or a signal's.
struct Ending {
    server: Mutex<Option<PracticeServer>>,
    renderer: Mutex<Option<thread::JoinHandle<()>>>,
    stopping: Arc<AtomicBool>,
    teacher: Teacher,
}

impl Ending {
    /// Stop the server (every open session is told 421), let the log catch up, and print
    /// how many sessions were cut short (if any) and the class's summary.
    /// A second caller (a signal during `:quit`) waits until the first is done, so the
    /// process does not exit in the middle of the summary.
    fn end(&self) {
        // Held to the end: the lock is what a second caller waits on.
        let mut held = self.server.lock().unwrap_or_else(|p| p.into_inner());
        let Some(server) = held.take() else {
            return;
        };
        let told = server.shutdown();
        self.stopping.store(true, Ordering::SeqCst);
        let renderer = self
            .renderer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(r) = renderer {
            let _ = r.join();
        }
        if told > 0 {
            self.teacher.say(&format!(
                "stopped; {} told 421",
                counted(told as u64, "open session")
            ));
        }
        self.teacher.summary();
    }
}

/// The terminal's settings before the prompt, to put back when a signal ends the server
/// while rustyline holds the terminal in raw mode.
#[derive(Clone)]
struct Terminal(#[cfg(unix)] nix::sys::termios::Termios);

impl Terminal {
    #[cfg(unix)]
    fn save() -> Option<Terminal> {
        nix::sys::termios::tcgetattr(io::stdin()).ok().map(Terminal)
    }

    #[cfg(not(unix))]
    fn save() -> Option<Terminal> {
        None
    }

    fn restore(&self) {
        #[cfg(unix)]
        let _ =
            nix::sys::termios::tcsetattr(io::stdin(), nix::sys::termios::SetArg::TCSANOW, &self.0);
    }
}

/// The class, even if a thread panicked holding it.
fn lock(class: &Mutex<Class>) -> MutexGuard<'_, Class> {
    class.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the teacher's commands reach.
#[derive(Clone)]
struct Teacher {
    class: Arc<Mutex<Class>>,
    dropped: Arc<AtomicU64>,
    json: bool,
}

/// The teacher's commands, for `:help`.
const HELP: &str = "teacher's commands:
  :inbox       the messages received so far
  :inbox N     message N, whole
  :summary     each student: stages reached, TLS, AUTH, messages, errors
  :quit        stop the server (Ctrl-C and Ctrl-D too), after the summary";

impl Teacher {
    /// Run one command line.
    fn command(&self, line: &str) -> Next {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else {
            return Next::Go;
        };
        let arg = words.next();
        let text = match (first, arg) {
            (":q" | ":quit" | ":exit", None) => return Next::Quit,
            (":summary" | ":s", None) => {
                self.summary();
                return Next::Go;
            }
            (":inbox" | ":i", n) => {
                let n = match n.map(str::parse::<usize>) {
                    None => Ok(None),
                    Some(Ok(n)) if n > 0 => Ok(Some(n)),
                    Some(_) => Err(":inbox N: N is a message number, 1 or more".to_string()),
                };
                match n.and_then(|n| super::practice::teacher_inbox(n).map_err(|e| e.to_string())) {
                    Ok(t) => t,
                    Err(e) => format!("smtpsh: {e}"),
                }
            }
            (":help" | ":h" | "?", None) => HELP.to_string(),
            _ => format!("smtpsh: not a teacher's command: {line:?}; :help lists them"),
        };
        self.say(&text);
        Next::Go
    }

    /// Text for the teacher: on stdout, or on stderr when stdout carries `--json`.
    fn say(&self, text: &str) {
        if self.json {
            let _ = writeln!(io::stderr(), "{text}");
        } else {
            let _ = writeln!(io::stdout().lock(), "{text}");
        }
    }

    fn summary(&self) {
        let dropped = self.dropped.load(Ordering::Relaxed);
        let text = {
            let c = lock(&self.class);
            if self.json {
                c.summary_json(dropped)
            } else {
                c.summary(dropped)
            }
        };
        let _ = writeln!(io::stdout().lock(), "{text}");
    }
}

/// How the teacher's commands can be read here (see the module docs).
fn input_mode(json: bool) -> Input {
    if !io::stdin().is_terminal() {
        return Input::Lines;
    }
    if !in_foreground() {
        return Input::Nothing;
    }
    if !json && io::stdout().is_terminal() {
        Input::Prompt
    } else {
        Input::Lines
    }
}

/// Whether this process is the terminal's foreground job (reading the terminal from the
/// background would stop it).
#[cfg(unix)]
fn in_foreground() -> bool {
    nix::unistd::tcgetpgrp(io::stdin()).is_ok_and(|g| g == nix::unistd::getpgrp())
}

/// Windows consoles have no background jobs.
#[cfg(not(unix))]
fn in_foreground() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn teacher() -> Teacher {
        Teacher {
            class: Arc::default(),
            dropped: Arc::default(),
            json: false,
        }
    }

    #[test]
    fn commands() {
        let t = teacher();
        assert_eq!(t.command(":quit"), Next::Quit);
        assert_eq!(t.command("  :q  "), Next::Quit);
        assert_eq!(t.command(""), Next::Go);
        assert_eq!(t.command(":inbox 0"), Next::Go);
        assert_eq!(t.command(":nonsense"), Next::Go);
        assert_eq!(t.command(":quit now"), Next::Go, "not a quit: an argument");
    }
}
