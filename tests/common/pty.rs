//! [`Pty`]: smtpsh in a real pseudo-terminal, typed at the way a person types, keeping
//! everything the terminal showed for assertions at the end.

use std::path::Path;
use std::process::Command;

use rexpect::session::PtySession;

use super::BIN;

/// A pty session and what its terminal showed so far.
pub struct Pty {
    pub s: PtySession,
    pub seen: String,
}

impl Pty {
    /// smtpsh with `args` in a fresh pseudo-terminal (see [`Pty::command`]).
    pub fn smtpsh(args: &[&str], home: &Path, timeout_ms: u64) -> Pty {
        let mut cmd = Command::new(BIN);
        cmd.args(args);
        Pty::command(cmd, home, timeout_ms)
    }

    /// `cmd` in a fresh pseudo-terminal, with `home` as its home, no colour, an xterm and no
    /// password from the environment; each wait gives up after `timeout_ms`.
    pub fn command(mut cmd: Command, home: &Path, timeout_ms: u64) -> Pty {
        cmd.env("NO_COLOR", "1")
            .env("HOME", home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("TERM", "xterm")
            .env_remove("SMTPSH_PASSWORD");
        let s = rexpect::session::spawn_command(cmd, Some(timeout_ms)).expect("spawn in a pty");
        Pty {
            s,
            seen: String::new(),
        }
    }

    #[track_caller]
    pub fn expect(&mut self, needle: &str) {
        match self.s.exp_string(needle) {
            Ok(before) => {
                self.seen.push_str(&before);
                self.seen.push_str(needle);
            }
            Err(e) => panic!(
                "waiting for {needle:?}: {e}\nthe terminal showed so far:\n{}",
                self.seen
            ),
        }
    }

    pub fn line(&mut self, text: &str) {
        self.s.send_line(text).expect("type a line");
    }

    pub fn keys(&mut self, text: &str) {
        self.s.send(text).expect("type keys");
        self.s.flush().expect("flush");
    }

    pub fn ctrl(&mut self, c: char) {
        self.s.send_control(c).expect("send a control key");
    }

    /// Wait for the program to end.
    #[track_caller]
    pub fn eof(&mut self) {
        match self.s.exp_eof() {
            Ok(rest) => self.seen.push_str(&rest),
            Err(e) => panic!(
                "waiting for the end: {e}\nthe terminal showed:\n{}",
                self.seen
            ),
        }
    }
}
