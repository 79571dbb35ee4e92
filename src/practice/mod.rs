//! The built-in practice server (PRODUCT.md, "The practice server"): a strict RFC 5321
//! receiver for `--practice` and `--serve`, built on the protocol types of [`crate::smtp`].
//!
//! What it speaks: EHLO/HELO, MAIL (SIZE, BODY=7BIT|8BITMIME, SMTPUTF8), RCPT, DATA, RSET,
//! NOOP, VRFY, EXPN (disabled), HELP, QUIT, STARTTLS (RFC 3207) with a self-signed
//! certificate that names every way in (made at start, or kept across restarts: [`served`]),
//! AUTH PLAIN LOGIN CRAM-MD5 (RFC 4954) with practice users,
//! ENHANCEDSTATUSCODES (RFC 2034) and PIPELINING (RFC 2920).
//!
//! # The practice rules (documented so a teacher can build exercises on them)
//!
//! - **Users**: [`default_users`] are `alice` / `alicepass` and `bob` / `bobpass`;
//!   `--users FILE` replaces them ([`parse_users`]: one `name:password` a line). They log in
//!   with AUTH and are known to VRFY.
//! - **Recipients**: any syntactically valid address is accepted (nothing is relayed, every
//!   message stays here), except those whose local part is `reject` or starts with
//!   `no-such` (case-insensitive), which get `550 5.1.1 no such user here`, so a student can
//!   practise a permanent recipient failure: `RCPT TO:<reject@example.org>`,
//!   `RCPT TO:<no-such-user@example.org>`.
//! - **Bare CR or LF in DATA** is refused and nothing is kept, as hardened MTAs do against
//!   SMTP smuggling. The server reads on to the end of data, CRLF.CRLF, and answers `554
//!   5.6.0`; the session goes on. If a lone `.` line ended by a bare CR or LF comes first
//!   (what `nc` without `-C` sends, and what a smuggling attempt looks like), it answers
//!   `421 4.5.0` and closes the connection, so nothing after that dot can run as a command
//!   and a student is not left waiting. Command lines may end in a bare LF (as Postfix and
//!   Exim allow, so `nc` without `-C` can type commands); the body may not.
//! - **Kept messages** are exactly what the client sent, decoded (CRLF line ends, dots
//!   unstuffed). With `--maildir DIR`, each is also written to `DIR/new/` the Maildir way,
//!   headed by `Return-Path:` and a `Received:` trace field as final delivery does.
//! - **Enhanced status codes** (RFC 2034) are on every reply but the greeting, the EHLO and
//!   HELO replies, and 334/354, as RFC 2034 §4 and real servers have it.
//! - **Strict syntax**: `MAIL FROM:<a@b>` with no space after the colon (RFC 5321 §4.1.1.2),
//!   one SP between the verb and its argument, and the ordering of RFC 5321 §4.1.4 (EHLO,
//!   MAIL, RCPT, DATA): wrong order is `503 5.5.1`.
//!
//! # Limits (see [`Limits`] for the defaults, docs/practice-server.md beside Postfix's)
//!
//! Line length, message size (advertised as SIZE), recipients per message, connections at
//! once in all and per client address (with a listen backlog at least as large), a
//! deadline per command and a minimum data rate in DATA, Postfix's error and junk-command
//! limits, a delay after a failed AUTH and an AUTH rate per client, and the memory all
//! messages may take, kept and in progress. Bad input of any kind gets a reply or a closed
//! connection, never a crash; when the server stops, every session is told `421`.
//!
//! # Failures on demand
//!
//! Addresses and EHLO names that pick a failure (`RCPT TO:<451-4.2.1@example.org>`,
//! `EHLO no-starttls.example`), and a rules file (`--rules FILE`, [`rules`]) for the
//! greeting delays, tarpits and disconnects of an exercise; `faults` has the conventions.
//!
//! Files: [`server`] (listener, per-client counts, shutdown), `pool` (the threads that
//! serve connections, kept for the next), `conn` (one
//! connection's state machine; addresses and parameters are checked by
//! [`crate::smtp::syntax`], the grammar the client uses too), `deadline` (a socket with a
//! deadline), `budget` (the memory messages take), `body` (a body's buffer), `rate` (AUTH
//! per client and minute), `stop` (the stop signal and pauses it cuts short), [`rules`] and
//! `faults` (failures on demand), [`events`] (what a connection reports, for the teacher's
//! log), `sasl` (checking AUTH responses), [`store`] (the mailbox and Maildir), [`cert`]
//! (certificates made with rcgen, served through native-tls), [`reach`] (the addresses and
//! names students reach the server by), [`served`] (the certificate served: fresh, kept or
//! the teacher's), `users`, and `memory` ([`MemoryServer`]: sessions over bytes in memory,
//! for tests and fuzzing).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::smtp::auth::Secret;

mod body;
mod budget;
pub mod cert;
mod conn;
mod deadline;
pub mod events;
mod faults;
mod memory;
mod pool;
mod rate;
pub mod reach;
pub mod rules;
mod sasl;
pub mod served;
pub mod server;
mod stop;
pub mod store;
mod users;

pub use events::{Event, EventKind, EventSink};
pub use memory::{MEMORY_PEER, MemoryServer, MemorySession};
pub use reach::Reach;
pub use rules::{Rules, RulesError};
pub use served::{CertOrigin, CertSource};
pub use server::PracticeServer;
pub use store::{Mailbox, Message, MessageInfo};
pub use users::{default_users, parse_users, read_users};

/// The name the server greets with when none is given.
pub const DEFAULT_HOSTNAME: &str = "practice.smtpsh.test";

/// Where `--serve` listens when no address is given.
pub const DEFAULT_SERVE_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 2525);

/// How to run a practice server.
#[derive(Debug, Clone)]
pub struct PracticeConfig {
    /// Where to listen; port 0 picks a free port (see [`PracticeServer::addr`]).
    pub addr: SocketAddr,
    /// Who may AUTH (and whom VRFY knows).
    pub users: Vec<PracticeUser>,
    /// MAIL needs a successful AUTH first (530 5.7.0 otherwise).
    pub require_auth: bool,
    /// MAIL needs STARTTLS first (530 5.7.0), and AUTH is offered only over TLS (538 5.7.11).
    pub require_tls: bool,
    /// Also deliver every accepted message to this Maildir (created if missing).
    pub maildir: Option<PathBuf>,
    /// Limits on each connection and on the whole server.
    pub limits: Limits,
    /// The name in the greeting, in EHLO, in CRAM-MD5 challenges and in the certificate.
    pub hostname: String,
    /// Where to report what happens in each session (the teacher's log); `None`: nowhere.
    pub events: Option<EventSink>,
    /// Where the certificate comes from: made for this run (the default), kept across
    /// restarts, or the teacher's own.
    pub cert: CertSource,
    /// More names the certificate must hold (`--cert-name`): a DNS name students use.
    pub cert_names: Vec<String>,
    /// Failures on demand (`--rules FILE`); the address and EHLO conventions hold without.
    pub rules: Rules,
}

impl Default for PracticeConfig {
    /// [`DEFAULT_SERVE_ADDR`], the default users, nothing required, memory only.
    fn default() -> Self {
        PracticeConfig {
            addr: DEFAULT_SERVE_ADDR,
            users: default_users(),
            require_auth: false,
            require_tls: false,
            maildir: None,
            limits: Limits::default(),
            hostname: DEFAULT_HOSTNAME.to_string(),
            events: None,
            cert: CertSource::Fresh,
            cert_names: Vec::new(),
            rules: Rules::none(),
        }
    }
}

/// A practice user: a name and a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PracticeUser {
    /// The user name for AUTH (case-sensitive) and VRFY (case-insensitive).
    pub name: String,
    /// The password; `Debug` shows `(redacted)`.
    pub password: Secret,
}

impl PracticeUser {
    /// A user from a name and a password.
    pub fn new(name: impl Into<String>, password: impl Into<String>) -> PracticeUser {
        PracticeUser {
            name: name.into(),
            password: Secret::new(password),
        }
    }
}

/// Limits on each connection and on the server: what a classroom (or a hostile client) can't
/// push past. docs/practice-server.md has them in a table beside Postfix's defaults.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The longest command (or AUTH response) line, in octets without its line end: longer
    /// gets `500 5.5.6` and the rest of the line is skipped. Default 2048: RFC 5321
    /// §4.5.3.1.4 sets 512 with the CRLF as the least a server must take; like Postfix we
    /// take more, which AUTH with an initial response needs (RFC 4954 §4).
    pub max_line: usize,
    /// The largest message (octets as decoded), advertised as `SIZE`: a bigger `SIZE=` or a
    /// bigger body gets `552 5.3.4`. Default 10 MiB.
    pub max_message: usize,
    /// Recipients per message; the next gets `452 4.5.3` (RFC 5321 §4.5.3.1.8). Default 100.
    pub max_recipients: usize,
    /// Connections at once; one more gets `421 4.7.0` and is closed. Default 256. The listen
    /// backlog is at least this (and at least 1024), so a burst of clients waits in the
    /// kernel for its greeting or its 421 instead of being dropped.
    pub max_connections: usize,
    /// Connections at once from one client address; one more gets `421 4.7.0`. Default 100:
    /// a class of 30 to 40 behind one NAT address, each with two or three sessions open,
    /// fits; one runaway address still leaves most of `max_connections` to everyone else.
    pub max_per_client: usize,
    /// Whether the per-client limits (connections, AUTH rate) apply to loopback clients.
    /// Default `false`: like Postfix, which exempts `$mynetworks` (this machine, by
    /// default), the teacher's own tests and load generators are not held to them.
    pub limit_loopback: bool,
    /// The time a client has to send a whole command line (or AUTH response), counted from
    /// when the server waits for it: a deadline, not an idle timer, so a client dripping one
    /// byte every few seconds still runs out. Then `421 4.4.2` and the connection is
    /// closed. Default 5 minutes (RFC 5321 §4.5.3.2.7). The TLS handshake gets the same.
    pub command_timeout: Duration,
    /// During DATA the deadline moves on by one second for every `min_data_rate` octets
    /// received, never further than `command_timeout` ahead (Postfix's
    /// `smtpd_min_data_rate`): a body that keeps coming at this rate is never cut, one that
    /// trickles slower is, with `421 4.4.2`. Default 500 octets a second.
    pub min_data_rate: usize,
    /// Bad commands (500, 501, 504, 535, 555 replies, and junk commands past `max_junk`)
    /// without a message delivered; the next gets `421 4.7.0` and the connection is closed.
    /// Default 20, as Postfix's `smtpd_hard_error_limit`. A delivered message forgives them.
    pub max_errors: usize,
    /// From this many errors on, every reply waits `error_delay` first (Postfix's
    /// `smtpd_soft_error_limit`, 10).
    pub soft_errors: usize,
    /// See `soft_errors`. Default 1 s (Postfix's `smtpd_error_sleep_time`).
    pub error_delay: Duration,
    /// NOOP, RSET, VRFY, EXPN and HELP without a message delivered; past this each one
    /// counts as an error. Default 100 (Postfix's `smtpd_junk_command_limit`).
    pub max_junk: usize,
    /// The memory all messages may take, kept and in progress: bodies and envelopes alike.
    /// Once full, MAIL, RCPT or the end of DATA gets `452 4.3.1` (RFC 3463: mail system
    /// full) instead of more memory being taken. Default 256 MiB.
    pub max_stored: usize,
    /// How long a failed AUTH waits before its `535 5.7.8`. Default 1 s.
    pub auth_failure_delay: Duration,
    /// AUTH commands a client address may send a minute; past that, `450 4.7.1` (Postfix's
    /// `smtpd_client_auth_rate_limit`). Default 100: a class of 40 behind one address, each
    /// trying twice in the same minute, fits; a password guesser gets under two tries a
    /// second instead of thousands. 0: no limit.
    pub auth_per_minute: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 2048,
            max_message: 10 * 1024 * 1024,
            max_recipients: 100,
            max_connections: 256,
            max_per_client: 100,
            limit_loopback: false,
            command_timeout: Duration::from_secs(300),
            min_data_rate: 500,
            max_errors: 20,
            soft_errors: 10,
            error_delay: Duration::from_secs(1),
            max_junk: 100,
            max_stored: 256 * 1024 * 1024,
            auth_failure_delay: Duration::from_secs(1),
            auth_per_minute: 100,
        }
    }
}
