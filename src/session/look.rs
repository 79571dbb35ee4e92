//! Second connections that only look at the server's TLS, never part of the session:
//!
//! - the chain TLS 1.3 hid (`:tls chain`): a new connection capped at TLS 1.2, where the
//!   Certificate message is plaintext (RFC 5246 §7.4.2) — for a STARTTLS server: greeting,
//!   EHLO, STARTTLS, handshake, then QUIT and close_notify;
//! - what the server presented when the verifier refused it: the same, sending nothing at
//!   all after the handshake (nothing may travel over a connection that did not verify);
//! - whether a port that greets with silence speaks TLS from the first byte (implicit TLS):
//!   a ClientHello on a new connection, to tell `--starttls` users to use `--tls-on-connect`
//!   within seconds instead of after the whole `--timeout`.
//!
//! Verification is off on these connections (they show, they don't trust); the shell says
//! what each one sent.

use std::net::IpAddr;
use std::time::Duration;

use crate::error::Error;
use crate::net::conn::Connection;
use crate::net::dial::{self, DialOptions};
use crate::net::sock::Peer;
use crate::net::target::{Security, Target};
use crate::net::tls::{self, CertSummary, TlsOptions};
use crate::smtp::caps::Capabilities;
use crate::smtp::command::{Command, Verb};

/// How long a look waits for the 221 to its QUIT.
const QUIT_WAIT: Duration = Duration::from_secs(2);

/// Where and how to look.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The target as the session has it (host, port, implicit TLS or STARTTLS, LMTP).
    pub target: Target,
    /// The address the session's connection reached, so that the look sees the same server;
    /// `None` resolves the target again.
    pub addr: Option<IpAddr>,
    /// `-4`/`-6`, `--source`, `--proxy`.
    pub dial: DialOptions,
    /// The TLS options (the name to send as SNI, a client certificate).
    pub tls: TlsOptions,
    /// The EHLO name.
    pub ehlo: String,
    /// Deadline for connecting.
    pub connect_timeout: Duration,
    /// Deadline for each reply and the handshake.
    pub timeout: Duration,
}

impl Spec {
    /// The address to dial, from what the first connection reached.
    pub fn addr_of(peer: &Peer) -> Option<IpAddr> {
        match peer {
            Peer::Tcp(a) => Some(a.ip()),
            _ => None,
        }
    }
}

/// What to do after the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Nothing: close_notify and close (after a failed verification).
    Nothing,
    /// QUIT, a brief wait for the 221, close_notify and close (RFC 5321 §4.1.1.10).
    Quit,
}

/// What a look found.
#[derive(Debug, Clone)]
pub struct Looked {
    /// The handshake's summary (verification off; its own checks of the certificate).
    pub summary: CertSummary,
    /// The SMTP lines it sent, in order, for the note that says so.
    pub sent: Vec<String>,
    /// Whether it was capped at TLS 1.2.
    pub tls12: bool,
    /// Whether the target is implicit TLS (nothing before the handshake).
    pub implicit: bool,
}

impl Looked {
    /// What the connection sent, for a note: ` (it sent EHLO x, STARTTLS, QUIT)`, or for
    /// implicit TLS ` (implicit TLS: the handshake, then QUIT)`.
    pub fn said(&self) -> String {
        if self.implicit {
            let then: Vec<&str> = self.sent.iter().map(String::as_str).collect();
            if then.is_empty() {
                " (implicit TLS: the handshake, then nothing)".into()
            } else {
                format!(" (implicit TLS: the handshake, then {})", then.join(", "))
            }
        } else {
            format!(" (it sent {})", self.sent.join(", "))
        }
    }
}

/// Look once: connect, STARTTLS if the target is not implicit TLS, the handshake (capped at
/// TLS 1.2 with `tls12`), then `then`.
pub fn look(spec: &Spec, tls12: bool, then: Then) -> Result<Looked, Error> {
    look_once(spec, tls12, then).map_err(|f| f.error)
}

/// Why a look failed, and whether it got as far as the handshake.
struct Failed {
    error: Error,
    in_handshake: bool,
}

impl From<Error> for Failed {
    fn from(error: Error) -> Failed {
        Failed {
            error,
            in_handshake: false,
        }
    }
}

fn look_once(spec: &Spec, tls12: bool, then: Then) -> Result<Looked, Failed> {
    let plain = Target {
        security: Security::Plain,
        ..spec.target.clone()
    };
    let addrs: Vec<IpAddr> = spec.addr.into_iter().collect();
    let mut conn = Connection::open_via(
        &plain,
        spec.addr.map(|_| &addrs[..]),
        &spec.dial,
        spec.connect_timeout,
        &spec.tls,
    )?;
    let mut sent = Vec::new();
    if spec.target.security == Security::Plain {
        let greeting = reply(&mut conn, spec.timeout)?;
        if greeting.code.value() != 220 {
            conn.close();
            return Err(Error::Tls(format!(
                "a second connection was greeted with {} instead of 220{}",
                greeting.code,
                if greeting.code.value() == 421 {
                    " (421: the server is busy or refusing connections; RFC 5321 §3.8): it was left alone"
                } else {
                    ""
                }
            ))
            .into());
        }
        let verb = if spec.target.lmtp {
            Verb::Lhlo
        } else {
            Verb::Ehlo
        };
        let hello = Command::bare(verb).with_hello_domain(&spec.ehlo);
        let r = exchange(&mut conn, &hello, spec.timeout, &mut sent)?;
        if r.code.value() != 250 || !Capabilities::from_ehlo(&r).has("STARTTLS") {
            quit(&mut conn, &mut sent);
            conn.close();
            return Err(Error::Tls("a second connection was not offered STARTTLS".into()).into());
        }
        let r = exchange(
            &mut conn,
            &Command::bare(Verb::Starttls),
            spec.timeout,
            &mut sent,
        )?;
        if r.code.value() != 220 {
            quit(&mut conn, &mut sent);
            conn.close();
            return Err(Error::Tls(format!(
                "a second connection's STARTTLS was answered {}",
                r.code
            ))
            .into());
        }
    }
    let summary = match conn.look_tls(&spec.target.host, &spec.tls, spec.timeout, tls12) {
        Ok(s) => s.clone(),
        Err(error) => {
            conn.close();
            return Err(Failed {
                error,
                in_handshake: true,
            });
        }
    };
    let implicit = spec.target.security == Security::Implicit;
    if then == Then::Quit {
        // Implicit TLS: the greeting comes over TLS first (RFC 8314 §3.3); wait for it
        // briefly, so that QUIT comes where SMTP expects it.
        if implicit {
            let _ = reply(&mut conn, QUIT_WAIT.min(spec.timeout));
        }
        quit(&mut conn, &mut sent);
    }
    conn.close();
    Ok(Looked {
        summary,
        sent,
        tls12,
        implicit,
    })
}

/// The chain as sent: a look capped at TLS 1.2; if that handshake fails (a server that
/// refuses TLS 1.2), one look more without the cap, which shows the server's own certificate
/// only. A failure before the handshake (a 421, no STARTTLS) is not tried again.
pub fn chain(spec: &Spec, then: Then) -> Result<Looked, Error> {
    match look_once(spec, true, then) {
        Ok(l) => Ok(l),
        Err(Failed {
            in_handshake: true, ..
        }) => look(spec, false, then),
        Err(f) => Err(f.error),
    }
}

/// Whether the server behind `spec` answers a ClientHello in TLS (a ServerHello or an
/// alert), within `deadline`: the protocol it chose, or the alert it sent. For a port that
/// sends no greeting.
pub fn speaks_tls(spec: &Spec, deadline: Duration) -> Option<String> {
    if spec.target.unix.is_some() {
        return None;
    }
    let addrs: Vec<IpAddr> = spec.addr.into_iter().collect();
    let (sock, _) = dial::dial(
        &spec.target,
        spec.addr.map(|_| &addrs[..]),
        &spec.dial,
        spec.connect_timeout.min(deadline),
    )
    .ok()?;
    let _ = sock.set_read_timeout(Some(deadline));
    let _ = sock.set_write_timeout(Some(deadline));
    let probe = sock.try_clone().ok();
    let (result, seen) = tls::look(sock, &spec.target.host, &spec.tls, false);
    if let Ok((mut stream, _)) = result {
        let _ = stream.shutdown();
    }
    if let Some(s) = probe {
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
    if let Some(n) = &seen.negotiated {
        Some(n.version.clone())
    } else {
        seen.alert.map(|a| format!("the alert {}", a.name()))
    }
}

fn reply(conn: &mut Connection, timeout: Duration) -> Result<crate::smtp::reply::Reply, Error> {
    conn.read_reply(timeout, &|| false, &mut || {})
        .map(|p| p.reply)
}

fn exchange(
    conn: &mut Connection,
    cmd: &Command,
    timeout: Duration,
    sent: &mut Vec<String>,
) -> Result<crate::smtp::reply::Reply, Error> {
    conn.send(&cmd.to_wire(), timeout)?;
    sent.push(cmd.shown());
    reply(conn, timeout)
}

/// QUIT and a brief wait for the 221; what it meets is of no consequence.
fn quit(conn: &mut Connection, sent: &mut Vec<String>) {
    let _ = exchange(conn, &Command::bare(Verb::Quit), QUIT_WAIT, sent);
}
