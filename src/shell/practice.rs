//! The front end's side of the practice server: its settings from the command line,
//! starting it (for `--practice`, a server in this process, connected to; `--serve` is
//! [`super::teacher`]), and `:inbox`, which shows its mail to a student of `--practice` and
//! to the teacher of `--serve`. The server itself is [`crate::practice`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::cli::Cli;
use crate::error::{Error, UsageError};
use crate::practice::{self, CertSource, Mailbox, PracticeConfig, PracticeServer};
use crate::smtp::escape::escape_bytes;
use crate::transcript::counted;

/// The mailbox of the practice server this process runs, for `:inbox`.
static INBOX: OnceLock<Mailbox> = OnceLock::new();

/// The server's settings from the command line; `addr` is where to listen.
pub(crate) fn config(cli: &Cli, addr: SocketAddr) -> anyhow::Result<PracticeConfig> {
    let mut c = PracticeConfig {
        addr,
        ..PracticeConfig::default()
    };
    if let Some(path) = &cli.users {
        c.users = practice::read_users(path)?;
    }
    c.maildir = cli.maildir.clone();
    c.require_auth = cli.require_auth;
    c.require_tls = cli.require_tls;
    c.cert_names = cli.cert_name.clone();
    if let Some(cert) = &cli.cert {
        // The key may be in the certificate's file.
        c.cert = CertSource::Files {
            cert: cert.clone(),
            key: cli.key.clone().unwrap_or_else(|| cert.clone()),
        };
    }
    if let Some(n) = cli.max_connections {
        c.limits.max_connections = n as usize;
    }
    if let Some(n) = cli.max_per_client {
        c.limits.max_per_client = n as usize;
    }
    if let Some(path) = &cli.rules {
        c.rules = practice::Rules::read(path)?;
    }
    Ok(c)
}

/// Where `--serve` keeps its certificate across restarts: beside the history, in
/// `$XDG_DATA_HOME/smtpsh/` (`~/.local/share/smtpsh/`; `%APPDATA%\smtpsh\` on Windows).
pub(crate) fn kept_cert_dir() -> Option<PathBuf> {
    super::repl::default_history_path().and_then(|h| h.parent().map(PathBuf::from))
}

/// Start the server and make its mailbox the one `:inbox` shows; write `--cert-out`.
pub(crate) fn start(cli: &Cli, config: PracticeConfig) -> anyhow::Result<PracticeServer> {
    let server = PracticeServer::start(config)?;
    if let Some(path) = &cli.cert_out {
        std::fs::write(path, server.cert_pem())
            .map_err(|e| UsageError(format!("cannot write --cert-out {}: {e}", path.display())))?;
    }
    let _ = INBOX.set(server.mailbox());
    Ok(server)
}

/// `--practice`: start the server on a free loopback port. The caller connects to
/// [`PracticeServer::addr`], trusting [`PracticeServer::cert_pem`].
pub fn start_local(cli: &Cli) -> anyhow::Result<PracticeServer> {
    start(cli, config(cli, SocketAddr::from(([127, 0, 0, 1], 0)))?)
}

/// Recipients as `<a@x> <b@y>`.
fn angle_list(rcpts: &[String]) -> String {
    rcpts
        .iter()
        .map(|r| format!("<{r}>"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `:inbox` (list) and `:inbox N` (one message).
pub fn inbox(n: Option<usize>) -> Result<String, Error> {
    show_inbox(n, false)
}

/// The teacher's `:inbox` of `--serve`: as [`inbox`], and each message says which session
/// (the number the log shows) and which machine (its EHLO name) it came from.
pub(crate) fn teacher_inbox(n: Option<usize>) -> Result<String, Error> {
    show_inbox(n, true)
}

fn show_inbox(n: Option<usize>, teacher: bool) -> Result<String, Error> {
    let Some(mb) = INBOX.get() else {
        return Err(Error::Usage(
            ":inbox works with the built-in practice server: start smtpsh with --practice".into(),
        ));
    };
    let Some(n) = n else {
        let list = mb.list();
        if list.is_empty() {
            return Ok("the practice server has received no message yet".into());
        }
        let mut out = format!(
            "{} received by the practice server:\n",
            counted(list.len() as u64, "message")
        );
        for m in list {
            let from_where = if teacher {
                format!("#{} {}  ", m.session, m.helo)
            } else {
                String::new()
            };
            out.push_str(&format!(
                "  {:>3}  {:<10} {:>7} octets  {from_where}from <{}> to {}{}{}  {}\n",
                m.n,
                m.id,
                m.size,
                m.from,
                angle_list(&m.rcpts),
                if m.tls { "  tls" } else { "" },
                m.auth_user
                    .as_ref()
                    .map(|u| format!("  auth {u}"))
                    .unwrap_or_default(),
                m.subject
            ));
        }
        out.push_str(":inbox N shows one");
        return Ok(out);
    };
    let m = mb.get(n).ok_or_else(|| {
        Error::Usage(format!(
            ":inbox {n}: the practice server has {}",
            counted(mb.len() as u64, "message")
        ))
    })?;
    let session = if teacher {
        format!(", session #{}", m.session)
    } else {
        String::new()
    };
    let mut out = format!(
        "message {n} ({}){session}, from <{}> to {}, greeted as {}{}{}\n",
        m.id,
        m.from,
        angle_list(&m.rcpts),
        m.helo,
        if m.tls { ", over TLS" } else { "" },
        m.auth_user
            .as_ref()
            .map(|u| format!(", authenticated as {u}"))
            .unwrap_or_default()
    );
    // The data as stored: CRLF lines, dots already removed. Shown escaped, line by line.
    for line in m.data.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        out.push_str("  | ");
        out.push_str(&escape_bytes(line));
        out.push('\n');
    }
    Ok(out.trim_end_matches("  | \n").trim_end().to_string())
}
