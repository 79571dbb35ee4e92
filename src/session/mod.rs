//! One SMTP session: the connection, what the server said it can do, where the session is
//! (greeted, TLS, authenticated, transaction stage) and what the next line is (its
//! mode: a command, an AUTH response, a body line, chunk data — see [`Input`]). Front ends hand it typed
//! values — a [`Command`], a body line, a secret — never text to re-read.
//!
//! A 4xx/5xx reply is an ordinary value here. Errors are for what ends a step: the network,
//! TLS, a malformed reply, a refused command line. Every step becomes events in the
//! transcript; secrets are redacted before an event is made.
//!
//! The steps that take more than one line live beside this file: guided AUTH (`auth.rs`),
//! DATA bodies and `:send` (`body.rs`), CHUNKING (`chunking.rs`), LMTP's per-recipient
//! replies (`lmtp.rs`), MX lookups (`mx.rs`), the progress and stopping of a file body
//! (`progress.rs`), the diagnosis of TLS, DANE and MTA-STS (`diag.rs`) and the second,
//! display-only connections it makes (`look.rs`).

use std::time::{Duration, Instant};

use crate::cancel::Cancel;
use crate::error::Error;
use crate::net::conn::Connection;
use crate::net::target::Target;
use crate::net::tls::TlsOptions;
use crate::smtp::auth::Secret;
use crate::smtp::caps::Capabilities;
use crate::smtp::command::{Args, Command, Verb};
use crate::smtp::reply::{Reply, Warning};
use crate::transcript::{Event, Transcript};

mod auth;
mod body;
mod chunking;
mod diag;
mod lmtp;
mod look;
mod mx;
mod progress;

pub use chunking::SendOptions;
pub use progress::{Progress, Silent};

/// Settings that hold for the whole session.
#[derive(Debug, Clone)]
pub struct Config {
    /// Name for automatic EHLO and a bare typed `EHLO`.
    pub ehlo_name: String,
    /// Deadline for each reply.
    pub timeout: Duration,
    /// Deadline for connecting.
    pub connect_timeout: Duration,
    /// TLS settings.
    pub tls: TlsOptions,
    /// Default user for AUTH.
    pub user: Option<String>,
    /// Password from `--password-file` or `SMTPSH_PASSWORD`.
    pub password: Option<Secret>,
    /// OAuth 2.0 token for XOAUTH2/OAUTHBEARER from `--token-file` or `SMTPSH_TOKEN`.
    pub token: Option<Secret>,
    /// How targets are reached: `-4`/`-6`, `--source`, `--proxy`.
    pub dial: crate::net::dial::DialOptions,
    /// Where MX lookups go: `--dns-server`, else the system's resolver.
    pub dns_server: Option<std::net::SocketAddr>,
    /// A private DNSSEC trust anchor for `:dane` and `--audit` (`--trust-anchor`).
    pub trust_anchor: Option<std::path::PathBuf>,
    /// Teaching mode (`--explain`): a plain-language line with every reply.
    pub explain: bool,
    /// `--plaintext-auth`: credentials may go over a connection without TLS (safety rule 8).
    pub plaintext_auth: bool,
}

/// The command line's defaults: EHLO as `localhost`, 30 s a reply, 10 s to connect, TLS
/// verified, nothing else set.
impl Default for Config {
    fn default() -> Config {
        Config {
            ehlo_name: "localhost".into(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            tls: TlsOptions::default(),
            user: None,
            password: None,
            token: None,
            dial: crate::net::dial::DialOptions::default(),
            dns_server: None,
            trust_anchor: None,
            explain: false,
            plaintext_auth: false,
        }
    }
}

/// Asks the person at the keyboard (or fails, in a script without a terminal).
pub trait Ask {
    /// The user name for AUTH; `default` is `--user`. `Err(Error::Cancelled)` on `*`.
    fn user(&mut self, default: Option<&str>) -> Result<String, Error>;
    /// The password, without echo.
    fn password(&mut self, user: &str) -> Result<Secret, Error>;
    /// An OAuth 2.0 bearer token for XOAUTH2/OAUTHBEARER, without echo.
    fn token(&mut self, user: &str) -> Result<Secret, Error> {
        let _ = user;
        Err(Error::Usage(
            "no OAuth token: use --token-file FILE or SMTPSH_TOKEN".into(),
        ))
    }
    /// A yes/no question; `Ok(None)` when there is nobody to ask (a script).
    fn confirm(&mut self, question: &str) -> Result<Option<bool>, Error> {
        let _ = question;
        Ok(None)
    }
}

/// Where the mail transaction is (RFC 5321 §3.3), as `:state` and the prompt show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stage {
    /// No transaction.
    #[default]
    Idle,
    /// MAIL accepted.
    Mail,
    /// This many RCPTs accepted.
    Rcpt(u32),
    /// The message is being sent (body or chunk data).
    Data,
}

/// What a session knows about where it is: a snapshot for the prompt and `:state`.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// The target connected to, if connected.
    pub target: Option<Target>,
    /// A 220 greeting was received.
    pub greeted: bool,
    /// EHLO/HELO/LHLO accepted.
    pub hello: bool,
    /// TLS is on.
    pub tls: bool,
    /// Verification was switched off.
    pub insecure: bool,
    /// Authenticated as this user (`None` for an AUTH typed by hand: see `auth_by_hand`).
    pub user: Option<String>,
    /// Authenticated by an AUTH line typed by hand (the user is not known).
    pub auth_by_hand: bool,
    /// Transaction stage.
    pub stage: Stage,
}

/// What the next line a front end reads is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A command (SMTP or shell).
    Command,
    /// The response to a 334 of an AUTH typed by hand: a secret.
    AuthResponse,
    /// A line of a DATA body (this many typed so far); a lone `.` ends it.
    Body {
        /// Lines sent so far.
        lines: u64,
    },
    /// Data of a typed BDAT chunk, this many octets still to come.
    Chunk {
        /// Octets left.
        left: u64,
    },
}

/// What the connection is in the middle of: one value, matched once per entry point.
enum Mode {
    /// Ready for a command.
    Command,
    /// This many replies are still owed for waits cancelled by Ctrl-C; they are read (and
    /// shown) before the next command.
    Owed(usize),
    /// A 334 answered an AUTH typed by hand: the next line is the response.
    AuthResponse,
    /// DATA was answered 354: body lines until the end.
    Body(body::Body),
    /// A typed BDAT: its data.
    Chunk(chunking::Chunk),
}

/// An open connection and everything that holds only while it is open. A session without
/// one has no mode, no capabilities and no transaction.
struct Link {
    conn: Connection,
    target: Target,
    tls: bool,
    insecure: bool,
    greeted: bool,
    hello: bool,
    user: Option<String>,
    auth_by_hand: bool,
    tx: Stage,
    caps: Option<Capabilities>,
    mode: Mode,
    lmtp: lmtp::Recipients,
    /// The chain a second connection fetched (`:tls chain`).
    fetched: Option<look::Looked>,
    /// The domain this connection was found for (`--mx DOMAIN`), for `:mta-sts`.
    mx_domain: Option<String>,
}

/// One SMTP session.
pub struct Session {
    config: Config,
    link: Option<Link>,
    last: Option<Reply>,
    /// In the wire view, the bytes the last reply arrived as, for the reply event.
    last_wire: Option<String>,
    /// The transcript.
    pub transcript: Transcript,
    ask: Box<dyn Ask>,
    cancel: Cancel,
    /// Told how far a file body has gone (see [`Session::set_progress`]).
    progress: Box<dyn Progress>,
    /// The file body being sent, while one is.
    watching: Option<progress::Watch>,
    /// The last handshake the verifier refused, for `:tls` and `:dane` after it.
    last_refused: Option<diag::Refused>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.state())
            .finish()
    }
}

/// How long to wait for a reply that may not come after `:raw`, or for late replies.
const SHORT_WAIT: Duration = Duration::from_millis(200);

/// How long leaving waits for the 221 to QUIT (bounded by `--timeout` too): long enough for
/// any live server, short enough that a dead one does not hold the exit (safety rule 9).
const QUIT_WAIT: Duration = Duration::from_secs(2);

impl Session {
    /// A session, not yet connected. `cancel` is the flag Ctrl-C raises (waits stop when it
    /// is up).
    pub fn new(
        config: Config,
        transcript: Transcript,
        ask: Box<dyn Ask>,
        cancel: Cancel,
    ) -> Session {
        Session {
            config,
            link: None,
            last: None,
            last_wire: None,
            transcript,
            ask,
            cancel,
            progress: Box::new(Silent),
            watching: None,
            last_refused: None,
        }
    }

    /// Where the session is.
    pub fn state(&self) -> State {
        let Some(l) = &self.link else {
            return State::default();
        };
        State {
            target: Some(l.target.clone()),
            greeted: l.greeted,
            hello: l.hello,
            tls: l.tls,
            insecure: l.insecure,
            user: l.user.clone(),
            auth_by_hand: l.auth_by_hand,
            stage: match l.mode {
                Mode::Body(_) | Mode::Chunk(_) => Stage::Data,
                _ => l.tx,
            },
        }
    }

    /// What the next line is for.
    pub fn input(&self) -> Input {
        match self.link.as_ref().map(|l| &l.mode) {
            Some(Mode::AuthResponse) => Input::AuthResponse,
            Some(Mode::Body(b)) => Input::Body { lines: b.lines() },
            Some(Mode::Chunk(c)) => Input::Chunk { left: c.left() },
            _ => Input::Command,
        }
    }

    /// The capabilities from the last EHLO (forgotten after STARTTLS).
    pub fn caps(&self) -> Option<&Capabilities> {
        self.link.as_ref()?.caps.as_ref()
    }

    /// The last reply received.
    pub fn last_reply(&self) -> Option<&Reply> {
        self.last.as_ref()
    }

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        self.link.is_some()
    }

    /// In body mode (after a 354 to DATA) or in a typed BDAT's data.
    pub fn in_body(&self) -> bool {
        matches!(self.input(), Input::Body { .. } | Input::Chunk { .. })
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The flag Ctrl-C raises.
    pub fn cancel(&self) -> &Cancel {
        &self.cancel
    }

    fn emit(&mut self, ev: Event) {
        self.transcript.emit(ev);
    }

    /// Add a local note to the transcript.
    pub fn note(&mut self, text: impl Into<String>) {
        self.emit(Event::note(text));
    }

    /// Add a warning to the transcript.
    pub fn warn(&mut self, text: impl Into<String>) {
        self.emit(Event::warn(text));
    }

    fn link(&mut self) -> Result<&mut Link, Error> {
        self.link.as_mut().ok_or(Error::NotConnected)
    }

    fn conn(&mut self) -> Result<&mut Connection, Error> {
        Ok(&mut self.link()?.conn)
    }

    fn tls(&self) -> bool {
        self.link.as_ref().is_some_and(|l| l.tls)
    }

    /// Connect to `target` and read the greeting. An open connection is ended first
    /// (politely: QUIT).
    pub fn connect(&mut self, target: &Target, insecure: bool) -> Result<Reply, Error> {
        self.connect_to(target, None, insecure)
    }

    /// Like [`Session::connect`], trying `addrs` (from an MX lookup) instead of resolving
    /// the target's host.
    pub fn connect_to(
        &mut self,
        target: &Target,
        addrs: Option<&[std::net::IpAddr]>,
        insecure: bool,
    ) -> Result<Reply, Error> {
        self.end("connecting again");
        self.config.tls.insecure = insecure;
        let start = Instant::now();
        let conn = match Connection::open_via(
            target,
            addrs,
            &self.config.dial,
            self.config.connect_timeout,
            &self.config.tls,
        ) {
            Ok(c) => c,
            Err(e) => {
                self.refused(&e, target, addrs.and_then(|a| a.first().copied()));
                return Err(e);
            }
        };
        self.begin(conn, target, insecure, start)
    }

    /// Start the session over a connection opened elsewhere (one end of an in-memory stream
    /// in tests): read the greeting. An open connection is ended first.
    pub fn connect_over(&mut self, conn: Connection, target: &Target) -> Result<Reply, Error> {
        self.end("connecting again");
        let insecure = self.config.tls.insecure;
        self.begin(conn, target, insecure, Instant::now())
    }

    fn begin(
        &mut self,
        conn: Connection,
        target: &Target,
        insecure: bool,
        start: Instant,
    ) -> Result<Reply, Error> {
        self.emit(Event::Connect {
            target: target.to_string(),
            addr: conn.peer().to_string(),
            ms: crate::transcript::millis(start.elapsed()),
        });
        let tls = conn.tls().cloned();
        self.link = Some(Link {
            conn,
            target: target.clone(),
            tls: tls.is_some(),
            insecure,
            greeted: false,
            hello: false,
            user: None,
            auth_by_hand: false,
            tx: Stage::Idle,
            caps: None,
            mode: Mode::Command,
            lmtp: lmtp::Recipients::default(),
            fetched: None,
            mx_domain: None,
        });
        if let Some(summary) = tls {
            self.emit(Event::Tls {
                summary: Box::new(summary),
                insecure,
            });
        }
        let greeting = self.guard(|s| s.read_greeting(target))?;
        self.show_reply(&greeting, start, None);
        if greeting.code.value() == 220 {
            self.link()?.greeted = true;
        }
        if greeting.code.value() == 421 {
            // RFC 5321 §3.8: the server is leaving. (A 554 greeting still wants QUIT,
            // §3.1, so that connection stays for the user to end.)
            self.disconnect("the server answered 421 and is closing the connection");
        }
        Ok(greeting)
    }

    /// Close the connection at once, without QUIT: after an error that left it unusable.
    /// Use [`Session::end`] to leave politely.
    pub fn disconnect(&mut self, reason: &str) {
        if let Some(l) = self.link.take() {
            l.conn.close();
            self.emit(Event::Closed {
                reason: reason.to_string(),
            });
        }
    }

    /// Leave the session politely (safety rule 9, RFC 5321 §4.1.1.10): QUIT when the
    /// connection can still take a command, a brief wait for the 221, then TLS
    /// close_notify and close. In the middle of a body, QUIT would be a body line: the
    /// connection is closed instead and the message is not delivered (it was never ended).
    /// Never fails: on the way out, what QUIT meets is only shown.
    pub fn end(&mut self, why: &str) {
        let Some(link) = &self.link else {
            return;
        };
        match link.mode {
            Mode::Body(_) | Mode::Chunk(_) => {
                self.disconnect(&format!(
                    "{why}, in the middle of a message: closed without ending it, so the message was not delivered"
                ));
                return;
            }
            Mode::AuthResponse => {
                // RFC 4954 §4: `*` cancels the exchange; then QUIT as usual.
                let _ = self.exchange_with(&Command::parse("*").expect("a valid line"), QUIT_WAIT);
            }
            Mode::Command | Mode::Owed(_) => {}
        }
        if self.link.is_none() {
            return;
        }
        let quit = Command::bare(Verb::Quit);
        match self.guard(|s| s.exchange_with(&quit, QUIT_WAIT)) {
            Ok(r) => {
                if self.link.is_some() {
                    let _ = self.after_reply(&quit, &r, Instant::now(), false);
                }
            }
            Err(e) => {
                if self.link.is_some() {
                    self.warn(format!("QUIT was not answered: {e}"));
                }
            }
        }
        self.disconnect(why);
    }

    /// Run `f`; if it fails in a way that leaves the connection unusable, drop the connection
    /// so the shell can go on with `:connect`.
    fn guard<T>(&mut self, f: impl FnOnce(&mut Session) -> Result<T, Error>) -> Result<T, Error> {
        let r = f(self);
        if let Err(e) = &r
            && e.ends_connection()
            && self.link.is_some()
        {
            self.disconnect(&e.to_string());
        }
        r
    }

    fn read_reply(&mut self) -> Result<Reply, Error> {
        let timeout = self.config.timeout;
        self.read_reply_within(timeout)
    }

    fn read_reply_within(&mut self, timeout: Duration) -> Result<Reply, Error> {
        let link = self.link.as_mut().ok_or(Error::NotConnected)?;
        // Whoever watches the transcript sees everything up to a wait.
        let transcript = &mut self.transcript;
        let cancel = &self.cancel;
        let r = link
            .conn
            .read_reply(timeout, &|| cancel.requested(), &mut || transcript.flush());
        let parsed = match r {
            Ok(p) => p,
            Err(Error::Cancelled) => {
                link.mode = match link.mode {
                    Mode::Owed(n) => Mode::Owed(n + 1),
                    _ => Mode::Owed(1),
                };
                self.cancel.clear();
                return Err(Error::Cancelled);
            }
            Err(e) => return Err(e),
        };
        for w in &parsed.warnings {
            match w {
                Warning::LongLine { len } => self.warn(format!(
                    "the server sent a {len}-octet line; SMTP allows 512 (RFC 5321 §4.5.3.1.5)"
                )),
                Warning::BareLf => self.warn(
                    "the server ended a line with a bare LF instead of CRLF (RFC 5321 §2.3.8)",
                ),
            }
        }
        let reply = parsed.reply;
        self.last_wire = self.transcript.wire().then(|| {
            parsed
                .raw
                .split_inclusive(|&b| b == b'\n')
                .map(crate::smtp::escape::escape_bytes)
                .collect::<Vec<_>>()
                .join("\n")
        });
        if let Some(l) = self.link.as_mut() {
            l.lmtp.seen += 1;
        }
        self.last = Some(reply.clone());
        Ok(reply)
    }

    fn show_reply(&mut self, reply: &Reply, since: Instant, caps: Option<Capabilities>) {
        let mut ev = Event::reply(reply, since.elapsed(), self.tls(), caps);
        if let Event::Reply {
            explanation, wire, ..
        } = &mut ev
        {
            if self.config.explain {
                *explanation = Some(crate::smtp::explain::reply(reply));
            }
            *wire = self.last_wire.take();
        }
        self.emit(ev);
    }

    /// Read replies that arrived late for waits the user cancelled.
    fn settle_owed(&mut self) -> Result<(), Error> {
        while let Mode::Owed(n) = self.link()?.mode {
            if !self.conn()?.has_pending()? {
                self.warn(format!(
                    "{} earlier repl{} still owed by the server (a cancelled wait); replies may be out of step, :connect starts over",
                    n,
                    if n == 1 { "y is" } else { "ies are" }
                ));
                return Ok(());
            }
            let start = Instant::now();
            let r = self.read_reply()?;
            self.link()?.mode = if n > 1 {
                Mode::Owed(n - 1)
            } else {
                Mode::Command
            };
            self.note("a late reply to a cancelled wait:");
            self.show_reply(&r, start, None);
        }
        Ok(())
    }

    fn send_bytes(&mut self, wire: &[u8]) -> Result<(), Error> {
        let timeout = self.config.timeout;
        self.conn()?.send(wire, timeout)
    }

    /// Send a command and show it (redacted where it holds a secret).
    fn send_command(&mut self, cmd: &Command) -> Result<(), Error> {
        self.send_bytes(&cmd.to_wire())?;
        let tls = self.tls();
        self.emit(Event::Sent {
            line: cmd.shown(),
            tls,
            redacted: cmd.is_secret(),
        });
        Ok(())
    }

    /// Send a line that is a secret (an AUTH response): the transcript gets `shown`.
    fn send_secret(&mut self, wire: &Secret, shown: String) -> Result<(), Error> {
        let mut line = Vec::with_capacity(wire.expose().len() + 2);
        line.extend_from_slice(wire.expose().as_bytes());
        line.extend_from_slice(b"\r\n");
        self.send_bytes(&line)?;
        let tls = self.tls();
        let redacted = shown == "<redacted>";
        self.emit(Event::Sent {
            line: shown,
            tls,
            redacted,
        });
        Ok(())
    }

    fn exchange_with(&mut self, cmd: &Command, timeout: Duration) -> Result<Reply, Error> {
        self.send_command(cmd)?;
        let start = Instant::now();
        let r = self.read_reply_within(timeout.min(self.config.timeout))?;
        self.show_reply(&r, start, None);
        Ok(r)
    }

    fn mode_allows_command(&mut self) -> Result<(), Error> {
        match self.link()?.mode {
            Mode::Command | Mode::Owed(_) => Ok(()),
            Mode::Body(_) => Err(Error::Mode(
                "in body mode: end the body with a lone '.' first".into(),
            )),
            Mode::Chunk(_) => Err(Error::Mode(
                "in a BDAT chunk: send the rest of its data first".into(),
            )),
            Mode::AuthResponse => Err(Error::Mode(
                "the server is waiting for an AUTH response (send it, or '*' to cancel)".into(),
            )),
        }
    }

    /// Send one SMTP command and read its reply. The verbs the shell helps with (EHLO,
    /// STARTTLS, bare AUTH, DATA, BDAT, QUIT) get their extra steps here. `None`: the step
    /// goes on with more lines (a BDAT's data), and its reply comes at their end.
    pub fn command(&mut self, cmd: &Command) -> Result<Option<Reply>, Error> {
        self.mode_allows_command()?;
        match (cmd.verb(), cmd.args()) {
            (Verb::Bdat, Args::Bdat(b)) => return self.bdat(cmd, *b),
            (
                Verb::Auth,
                Args::Auth {
                    mechanism,
                    response: false,
                },
            ) => {
                if let Some(m) = crate::smtp::auth::ClientMechanism::parse(mechanism) {
                    // Typed bare, AUTH is the guided exchange, under the same rules as :auth.
                    return self.auth(m, None, false, false).map(Some);
                }
            }
            (Verb::Auth, Args::Auth { .. }) => self.warn_hand_auth(),
            (Verb::Mail | Verb::Rcpt, _) => self.check_envelope(cmd)?,
            _ => {}
        }
        self.guard(|s| s.command_inner(cmd)).map(Some)
    }

    fn command_inner(&mut self, cmd: &Command) -> Result<Reply, Error> {
        self.settle_owed()?;
        let filled;
        let cmd = match cmd.args() {
            Args::Hello { domain: None } => {
                // RFC 5321 §4.1.1.1: the domain is required; fill in ours.
                filled = cmd.with_hello_domain(&self.config.ehlo_name);
                &filled
            }
            _ => cmd,
        };
        self.send_command(cmd)?;
        let start = Instant::now();
        let r = self.read_reply()?;
        if *cmd.verb() == Verb::Auth {
            // Typed by hand: a 334 makes the next line typed the (secret) response.
            self.show_reply(&r, start, None);
            self.after_auth_reply(&r, None);
            return Ok(r);
        }
        self.after_reply(cmd, &r, start, true)?;
        Ok(r)
    }

    /// What a reply to `cmd` changes: capabilities, state, TLS, body mode, the connection.
    /// Shows the reply when `show`. The one place that reads meaning into a reply, for
    /// lockstep and pipelined commands alike.
    fn after_reply(
        &mut self,
        cmd: &Command,
        r: &Reply,
        start: Instant,
        show: bool,
    ) -> Result<(), Error> {
        let code = r.code.value();
        let mut caps = None;
        {
            let l = self.link()?;
            match cmd.verb() {
                Verb::Ehlo | Verb::Lhlo if code == 250 => {
                    let c = Capabilities::from_ehlo(r);
                    l.caps = Some(c.clone());
                    caps = Some(c);
                    l.hello = true;
                    l.tx = Stage::Idle;
                }
                Verb::Helo if code == 250 => {
                    l.caps = None;
                    l.hello = true;
                    l.tx = Stage::Idle;
                }
                Verb::Mail if code == 250 => l.tx = Stage::Mail,
                Verb::Rcpt if code == 250 || code == 251 => {
                    l.tx = match l.tx {
                        Stage::Rcpt(n) => Stage::Rcpt(n + 1),
                        _ => Stage::Rcpt(1),
                    }
                }
                Verb::Rset if code == 250 => l.tx = Stage::Idle,
                _ => {}
            }
            l.lmtp.track(cmd, r);
        }
        if show {
            self.show_reply(r, start, caps);
        }
        match cmd.verb() {
            Verb::Starttls if code == 220 => self.upgrade()?,
            Verb::Data if code == 354 => self.link()?.mode = Mode::Body(body::Body::new()),
            Verb::Quit if code == 221 => self.disconnect("QUIT"),
            _ => {}
        }
        if code == 421 && self.link.is_some() {
            // RFC 5321 §3.8: the server is closing the channel.
            self.disconnect("the server answered 421 and is closing the connection");
        }
        Ok(())
    }

    /// Send a group of commands in one write and read their replies in order (PIPELINING,
    /// RFC 2920). Only MAIL, RCPT and RSET may stand anywhere in a group; DATA or NOOP may
    /// end it (§3.1). Refused when the server did not advertise PIPELINING. Returns the
    /// replies read; after a 421 or a lost connection it stops early.
    pub fn pipeline(&mut self, cmds: &[Command]) -> Result<Vec<Reply>, Error> {
        self.mode_allows_command()?;
        if !self.caps().is_some_and(|c| c.has("PIPELINING")) {
            return Err(Error::NotOffered(
                "--pipeline: the server did not advertise PIPELINING (RFC 2920) in its last EHLO; run without --pipeline".into(),
            ));
        }
        for (i, c) in cmds.iter().enumerate() {
            let last = i + 1 == cmds.len();
            if !(c.verb().pipelines() || (last && c.verb().ends_pipeline())) {
                return Err(Error::Mode(format!(
                    "{} can't be pipelined there: a group is MAIL, RCPT and RSET, optionally ended by DATA or NOOP (RFC 2920 §3.1)",
                    c.verb().name()
                )));
            }
        }
        for c in cmds {
            if matches!(c.verb(), Verb::Mail | Verb::Rcpt) {
                self.check_envelope(c)?;
            }
        }
        self.guard(|s| {
            s.settle_owed()?;
            let mut wire = Vec::with_capacity(cmds.iter().map(|c| c.expose().len() + 2).sum());
            for c in cmds {
                wire.extend_from_slice(&c.to_wire());
            }
            s.send_bytes(&wire)?;
            let tls = s.tls();
            for c in cmds {
                s.emit(Event::Sent {
                    line: c.shown(),
                    tls,
                    redacted: false,
                });
            }
            let start = Instant::now();
            let mut replies = Vec::with_capacity(cmds.len());
            for c in cmds {
                let r = s.read_reply()?;
                s.after_reply(c, &r, start, true)?;
                replies.push(r);
                if s.link.is_none() {
                    break;
                }
            }
            Ok(replies)
        })
    }

    /// After a 220 to STARTTLS: the handshake, at once, nothing written before it ends.
    fn upgrade(&mut self) -> Result<(), Error> {
        let timeout = self.config.timeout;
        let opts = self.config.tls.clone();
        let l = self.link()?;
        let host = l.target.host.clone();
        let summary = match l.conn.starttls(&host, &opts, timeout) {
            Ok(s) => s.clone(),
            Err(e) => {
                let target = l.target.clone();
                let addr = look::Spec::addr_of(l.conn.peer());
                self.refused(&e, &target, addr);
                return Err(e);
            }
        };
        let l = self.link()?;
        l.tls = true;
        // RFC 3207 §4.2: forget everything learned before TLS.
        l.caps = None;
        l.hello = false;
        l.user = None;
        l.auth_by_hand = false;
        l.tx = Stage::Idle;
        let insecure = l.insecure;
        let verb = self.hello_verb().name().to_string();
        self.emit(Event::Tls {
            summary: Box::new(summary),
            insecure,
        });
        self.note(format!(
            "capabilities from before TLS are forgotten (RFC 3207 §4.2); send {verb} again"
        ));
        Ok(())
    }

    /// STARTTLS that must succeed (`--starttls`, `:starttls`): EHLO first if needed, refuse
    /// when not offered, stop on anything but 220, then EHLO again.
    pub fn starttls_required(&mut self) -> Result<Reply, Error> {
        self.mode_allows_command()?;
        self.guard(|s| {
            if s.tls() {
                return Err(Error::Mode("TLS is already on for this connection".into()));
            }
            let hello = Command::bare(s.hello_verb());
            if s.caps().is_none() {
                let r = s.command_inner(&hello)?;
                if r.code.value() != 250 {
                    return Err(Error::Tls(format!(
                        "{} was answered {} so STARTTLS can't be negotiated; stopping (--starttls never falls back to plaintext)",
                        hello.verb().name(),
                        r.code
                    )));
                }
            }
            if !s.caps().is_some_and(|c| c.has("STARTTLS")) {
                let e = Error::Tls(
                    "the server does not offer STARTTLS; stopping without sending anything else (TLS is required)".into(),
                );
                s.disconnect("STARTTLS not offered");
                return Err(e);
            }
            let r = s.command_inner(&Command::bare(Verb::Starttls))?;
            if r.code.value() != 220 {
                let e = Error::Tls(format!(
                    "the server answered {} to STARTTLS; stopping without sending anything else (TLS is required)",
                    r.code
                ));
                s.disconnect("STARTTLS refused");
                return Err(e);
            }
            s.command_inner(&hello)
        })
    }

    /// Send exact bytes (`:raw`). When they end with LF a reply is awaited; further replies
    /// that arrive at once (several commands in one `:raw`) are shown too.
    pub fn raw(&mut self, bytes: &[u8]) -> Result<Option<Reply>, Error> {
        self.link()?;
        self.guard(|s| {
            s.settle_owed()?;
            let shown = format!("(raw) {}", crate::smtp::escape::escape_bytes(bytes));
            s.send_bytes(bytes)?;
            let tls = s.tls();
            s.emit(Event::Sent {
                line: shown,
                tls,
                redacted: false,
            });
            if !bytes.ends_with(b"\n") {
                return Ok(None);
            }
            let start = Instant::now();
            let mut r = s.read_reply()?;
            s.show_reply(&r, start, None);
            loop {
                let deadline = Instant::now() + SHORT_WAIT;
                let mut more = false;
                while Instant::now() < deadline {
                    if s.conn()?.has_pending()? {
                        more = true;
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                if !more {
                    break;
                }
                let start = Instant::now();
                r = s.read_reply()?;
                s.show_reply(&r, start, None);
            }
            if r.code.value() == 221 {
                s.disconnect("QUIT (raw)");
            }
            Ok(Some(r))
        })
    }

    /// `:quit` and Ctrl-D: leave politely (see [`Session::end`]).
    pub fn quit(&mut self) {
        self.end("leaving");
    }
}

#[cfg(test)]
mod tests;
