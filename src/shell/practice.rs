//! The front end's side of the practice server: `--serve` (a classroom server that runs
//! until Ctrl-C or SIGTERM, then tells every open session 421), `--practice` (a server in
//! this process, connected to), and `:inbox`. The server itself is [`crate::practice`];
//! this file only starts it, stops it and shows its mail.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::cli::Cli;
use crate::error::{Error, UsageError};
use crate::practice::{self, Mailbox, PracticeConfig, PracticeServer};
use crate::smtp::escape::escape_bytes;
use crate::transcript::counted;

/// The mailbox of the practice server this process runs, for `:inbox`.
static INBOX: OnceLock<Mailbox> = OnceLock::new();

/// The server's settings from the command line; `addr` is where to listen.
fn config(cli: &Cli, addr: SocketAddr) -> anyhow::Result<PracticeConfig> {
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

fn start(cli: &Cli, addr: SocketAddr) -> anyhow::Result<PracticeServer> {
    let server = PracticeServer::start(config(cli, addr)?)?;
    if let Some(path) = &cli.cert_out {
        std::fs::write(path, server.cert_pem())
            .map_err(|e| UsageError(format!("cannot write --cert-out {}: {e}", path.display())))?;
    }
    Ok(server)
}

/// `--practice`: start the server on a free loopback port. The caller connects to
/// [`PracticeServer::addr`], trusting [`PracticeServer::cert_pem`].
pub fn start_local(cli: &Cli) -> anyhow::Result<PracticeServer> {
    let server = start(cli, SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let _ = INBOX.set(server.mailbox());
    Ok(server)
}

/// `--serve [ADDR]`: run only the server, printing what students need, until Ctrl-C.
pub fn serve(cli: &Cli, addr: &str) -> anyhow::Result<()> {
    let addr: SocketAddr = addr.parse().map_err(|_| {
        UsageError(format!(
            "--serve {addr:?}: expected IP:PORT, e.g. 127.0.0.1:2525 or [::1]:2525"
        ))
    })?;
    let server = start(cli, addr)?;
    let users = match &cli.users {
        Some(p) => format!("from {}", p.display()),
        None => practice::default_users()
            .iter()
            .map(|u| format!("{}/{}", u.name, u.password.expose()))
            .collect::<Vec<_>>()
            .join(", "),
    };
    println!("smtpsh practice server on {}", server.addr());
    println!("  users        {users}");
    println!("  certificate  SHA-256 {}", server.fingerprint());
    match &cli.cert_out {
        Some(p) => println!(
            "  students     smtpsh --starttls --cafile {} {}",
            p.display(),
            server.addr()
        ),
        None => println!(
            "  students     smtpsh {}   (add --cert-out FILE to hand out the certificate for STARTTLS)",
            server.addr()
        ),
    }
    if cli.require_auth || cli.require_tls {
        println!(
            "  requires     {}",
            [(cli.require_tls, "STARTTLS"), (cli.require_auth, "AUTH")]
                .iter()
                .filter(|r| r.0)
                .map(|r| r.1)
                .collect::<Vec<_>>()
                .join(" and ")
        );
    }
    println!("Ctrl-C stops it.");
    // The server runs in its own threads; this one waits for Ctrl-C or SIGTERM.
    wait_for_stop();
    let told = server.shutdown();
    // stdout may be gone by now (a closed pipe): nothing to do about that at exit.
    let _ = writeln!(
        std::io::stdout(),
        "stopped; {} told 421",
        counted(told as u64, "open session")
    );
    Ok(())
}

/// Wait until Ctrl-C (SIGINT, or the console's Ctrl-C on Windows) or, on Unix, SIGTERM,
/// which is how service managers and `kill` stop a server.
fn wait_for_stop() {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    #[cfg(unix)]
    let _ = signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone());
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
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
            out.push_str(&format!(
                "  {:>3}  {:<10} {:>7} octets  from <{}> to {}{}{}  {}\n",
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
    let mut out = format!(
        "message {n} ({}), from <{}> to {}, greeted as {}{}{}\n",
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
