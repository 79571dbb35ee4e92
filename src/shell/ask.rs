//! Asking the person at the terminal for an AUTH user name and password. Reads the
//! terminal (`/dev/tty` on Unix, the console on Windows), not stdin, so it works when a
//! script comes through a pipe; the password is read without echo (rpassword, which does
//! the same per platform) and never enters the line editor or its history.

use std::io::{BufRead, Write};

use crate::error::Error;
use crate::session::Ask;
use crate::smtp::auth::Secret;

/// Prompts on the terminal.
#[derive(Debug, Default)]
pub struct TtyAsk {
    interactive: bool,
}

impl TtyAsk {
    /// `interactive`: at the prompt, the user name is asked even when `--user` gives a
    /// default; in a script the default is taken without asking.
    pub fn new(interactive: bool) -> TtyAsk {
        TtyAsk { interactive }
    }
}

/// The terminal, to read from and to write to, whatever stdin and stdout are: `/dev/tty` on
/// Unix, the console's input and output buffers on Windows.
fn terminal() -> std::io::Result<(std::fs::File, std::fs::File)> {
    let open = |path: &str| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
    };
    if cfg!(windows) {
        Ok((open("CONIN$")?, open("CONOUT$")?))
    } else {
        let tty = open("/dev/tty")?;
        Ok((tty.try_clone()?, tty))
    }
}

fn no_tty(what: &str) -> Error {
    Error::Usage(format!(
        "no {what} for AUTH and no terminal to ask on: use {}",
        if what == "password" {
            "--password-file FILE or SMTPSH_PASSWORD"
        } else {
            "--user USER or :auth MECH USER"
        }
    ))
}

impl Ask for TtyAsk {
    fn user(&mut self, default: Option<&str>) -> Result<String, Error> {
        if let (false, Some(d)) = (self.interactive, default) {
            return Ok(d.to_string());
        }
        let Ok((input, mut tty)) = terminal() else {
            return default
                .map(str::to_string)
                .ok_or_else(|| no_tty("user name"));
        };
        match default {
            Some(d) => write!(tty, "user [{d}] (* cancels): "),
            None => write!(tty, "user (* cancels): "),
        }
        .map_err(Error::Io)?;
        tty.flush().map_err(Error::Io)?;
        let mut line = String::new();
        std::io::BufReader::new(input)
            .read_line(&mut line)
            .map_err(Error::Io)?;
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        match line.as_str() {
            "*" => Err(Error::Cancelled),
            "" => default
                .map(str::to_string)
                .ok_or_else(|| Error::Usage("no user name given".into())),
            u => Ok(u.to_string()),
        }
    }

    fn confirm(&mut self, question: &str) -> Result<Option<bool>, Error> {
        if !self.interactive {
            return Ok(None);
        }
        let Ok(mut tty) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
        else {
            return Ok(None);
        };
        write!(tty, "{question}").map_err(Error::Io)?;
        tty.flush().map_err(Error::Io)?;
        let mut line = String::new();
        std::io::BufReader::new(&tty)
            .read_line(&mut line)
            .map_err(Error::Io)?;
        Ok(Some(matches!(
            line.trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        )))
    }

    fn password(&mut self, user: &str) -> Result<Secret, Error> {
        if terminal().is_err() {
            return Err(no_tty("password"));
        }
        let p = rpassword::prompt_password(format!("password for {user} (no echo, * cancels): "))
            .map_err(|_| no_tty("password"))?;
        if p == "*" {
            return Err(Error::Cancelled);
        }
        Ok(Secret::new(p))
    }

    fn token(&mut self, user: &str) -> Result<Secret, Error> {
        let none = || {
            Error::Usage(
                "no OAuth token for AUTH and no terminal to ask on: use --token-file FILE or SMTPSH_TOKEN"
                    .into(),
            )
        };
        if terminal().is_err() {
            return Err(none());
        }
        let t =
            rpassword::prompt_password(format!("OAuth token for {user} (no echo, * cancels): "))
                .map_err(|_| none())?;
        if t == "*" {
            return Err(Error::Cancelled);
        }
        Ok(Secret::new(t.trim().to_string()))
    }
}
