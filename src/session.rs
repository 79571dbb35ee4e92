//! One SMTP session: the connection, what the server said it can do, where the session is
//! (greeted, TLS, authenticated, transaction stage), and the steps that take more than one
//! line: STARTTLS, guided AUTH, DATA bodies and `:send`. Every step becomes events in the
//! transcript; secrets are redacted before an event is made.
//!
//! A 4xx/5xx reply is an ordinary value here. Errors are for what ends a step: the network,
//! TLS, a malformed reply, a refused command line.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::net::conn::Connection;
use crate::net::target::Target;
use crate::net::tls::TlsOptions;
// Every mechanism the client runs, the OAuth ones included.
use crate::smtp::auth::{self, ClientMechanism as Mechanism, Secret};
use crate::smtp::caps::Capabilities;
use crate::smtp::command::{self, Verb};
use crate::smtp::data::{BodySummary, DotStuffer};
use crate::smtp::reply::{Class, Reply, Warning};
use crate::transcript::{Event, Transcript};

mod chunking;
mod lmtp;
mod mx;

pub use chunking::SendOptions;

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
    /// Teaching mode (`--explain`): a plain-language line with every reply.
    pub explain: bool,
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
}

/// Where the mail transaction is (RFC 5321 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stage {
    /// No transaction.
    #[default]
    Idle,
    /// MAIL accepted.
    Mail,
    /// This many RCPTs accepted.
    Rcpt(u32),
    /// DATA accepted (354): body mode.
    Data,
}

/// What a session knows about where it is.
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
    /// Authenticated as this user.
    pub user: Option<String>,
    /// Transaction stage.
    pub stage: Stage,
}

/// The current body being sent in body mode.
struct Body {
    stuffer: DotStuffer,
    buf: Vec<u8>,
}

/// One SMTP session.
pub struct Session {
    config: Config,
    conn: Option<Connection>,
    state: State,
    caps: Option<Capabilities>,
    last: Option<Reply>,
    body: Option<Body>,
    /// A 334 to AUTH is outstanding: the next line typed is a secret.
    in_auth: bool,
    /// Replies still owed for waits cancelled by Ctrl-C.
    owed: usize,
    /// A typed `BDAT n` whose data is still being typed.
    chunk: Option<chunking::Chunk>,
    /// LMTP: the recipients accepted in this transaction, and the per-recipient replies.
    lmtp: lmtp::Recipients,
    /// The transcript.
    pub transcript: Transcript,
    ask: Box<dyn Ask>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.state)
            .finish()
    }
}

/// How long to wait for a reply that may not come after `:raw`, or for late replies.
const SHORT_WAIT: Duration = Duration::from_millis(200);

impl Session {
    /// A session, not yet connected.
    pub fn new(config: Config, transcript: Transcript, ask: Box<dyn Ask>) -> Session {
        Session {
            config,
            conn: None,
            state: State::default(),
            caps: None,
            last: None,
            body: None,
            in_auth: false,
            owed: 0,
            chunk: None,
            lmtp: lmtp::Recipients::default(),
            transcript,
            ask,
        }
    }

    /// Where the session is.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The capabilities from the last EHLO (forgotten after STARTTLS).
    pub fn caps(&self) -> Option<&Capabilities> {
        self.caps.as_ref()
    }

    /// The last reply received.
    pub fn last_reply(&self) -> Option<&Reply> {
        self.last.as_ref()
    }

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// In body mode (after a 354 to DATA).
    pub fn in_body(&self) -> bool {
        self.body.is_some() || self.chunk.is_some()
    }

    /// Whether the next line typed answers an AUTH challenge (and so is a secret).
    pub fn expects_secret(&self) -> bool {
        self.in_auth
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
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

    /// Connect to `target` and read the greeting. An open connection is closed first.
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
        self.disconnect("reconnecting");
        self.config.tls.insecure = insecure;
        let start = Instant::now();
        let conn = Connection::open_via(
            target,
            addrs,
            &self.config.dial,
            self.config.connect_timeout,
            &self.config.tls,
        )?;
        self.emit(Event::Connect {
            target: target.to_string(),
            addr: conn.peer().to_string(),
            ms: crate::transcript::millis(start.elapsed()),
        });
        let tls = conn.tls().cloned();
        self.state = State {
            target: Some(target.clone()),
            insecure,
            ..State::default()
        };
        self.conn = Some(conn);
        if let Some(summary) = tls {
            self.state.tls = true;
            self.emit(Event::Tls { summary, insecure });
        }
        let greeting = self.read_reply()?;
        self.show_reply(&greeting, start, None);
        if greeting.code.value() == 220 {
            self.state.greeted = true;
        }
        Ok(greeting)
    }

    /// Close the connection without QUIT (after an error, or before reconnecting).
    pub fn disconnect(&mut self, reason: &str) {
        self.body = None;
        self.chunk = None;
        self.lmtp = lmtp::Recipients::default();
        self.in_auth = false;
        self.owed = 0;
        if let Some(c) = self.conn.take() {
            c.close();
            self.emit(Event::Closed {
                reason: reason.to_string(),
            });
        }
        self.caps = None;
        self.state = State::default();
    }

    /// Run `f`; if it fails in a way that leaves the connection unusable, drop the connection
    /// so the shell can go on with `:connect`.
    fn guard<T>(&mut self, f: impl FnOnce(&mut Session) -> Result<T, Error>) -> Result<T, Error> {
        let r = f(self);
        if let Err(e) = &r
            && e.ends_connection()
            && self.conn.is_some()
        {
            self.disconnect(&e.to_string());
        }
        r
    }

    fn conn(&mut self) -> Result<&mut Connection, Error> {
        self.conn.as_mut().ok_or(Error::NotConnected)
    }
    fn read_reply(&mut self) -> Result<Reply, Error> {
        let timeout = self.config.timeout;
        let conn = self.conn.as_mut().ok_or(Error::NotConnected)?;
        // Whoever watches the transcript sees everything up to a wait.
        let transcript = &mut self.transcript;
        let r = conn.read_reply(timeout, &crate::cancel::requested, &mut || {
            transcript.flush()
        });
        let parsed = match r {
            Ok(p) => p,
            Err(Error::Cancelled) => {
                self.owed += 1;
                crate::cancel::clear();
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
        self.lmtp.seen += 1;
        self.last = Some(reply.clone());
        Ok(reply)
    }

    fn show_reply(&mut self, reply: &Reply, since: Instant, caps: Option<Capabilities>) {
        let mut ev = Event::reply(reply, since.elapsed(), self.state.tls, caps);
        if self.config.explain
            && let Event::Reply { explanation, .. } = &mut ev
        {
            *explanation = Some(crate::smtp::explain::reply(reply));
        }
        self.emit(ev);
    }

    /// Read replies that arrived late for waits the user cancelled.
    fn settle_owed(&mut self) -> Result<(), Error> {
        while self.owed > 0 {
            if !self.conn()?.has_pending()? {
                self.warn(format!(
                    "{} earlier repl{} still owed by the server (a cancelled wait); replies may be out of step, :connect starts over",
                    self.owed,
                    if self.owed == 1 { "y is" } else { "ies are" }
                ));
                return Ok(());
            }
            let start = Instant::now();
            let r = self.read_reply()?;
            self.owed -= 1;
            self.note("a late reply to a cancelled wait:");
            self.show_reply(&r, start, None);
        }
        Ok(())
    }

    fn send_line(&mut self, wire: &[u8], shown: String, redacted: bool) -> Result<(), Error> {
        let timeout = self.config.timeout;
        let tls = self.state.tls;
        self.conn()?.send(wire, timeout)?;
        self.emit(Event::Sent {
            line: shown,
            tls,
            redacted,
        });
        Ok(())
    }

    fn exchange(&mut self, wire: &[u8], shown: String, redacted: bool) -> Result<Reply, Error> {
        self.send_line(wire, shown, redacted)?;
        let start = Instant::now();
        let r = self.read_reply()?;
        self.show_reply(&r, start, None);
        Ok(r)
    }

    /// Send one typed SMTP command line, after the checks, and read its reply. The verbs the
    /// shell helps with (EHLO, STARTTLS, bare AUTH, DATA, QUIT) get their extra steps here.
    pub fn command(&mut self, line: &str) -> Result<Reply, Error> {
        command::check_line(line.as_bytes())?;
        if self.body.is_some() {
            return Err(Error::Usage(
                "in body mode: end the body with a lone '.' first".into(),
            ));
        }
        self.conn()?;
        self.guard(|s| s.command_inner(line))
    }

    fn command_inner(&mut self, line: &str) -> Result<Reply, Error> {
        self.settle_owed()?;
        let verb = Verb::of_line(line);
        let args: Vec<&str> = line.split_whitespace().skip(1).collect();

        if self.in_auth {
            // A line answering a 334 is a secret (RFC 4954 §4): never shown, never kept.
            let wire = format!("{line}\r\n");
            let r = self.exchange(wire.as_bytes(), "<redacted>".into(), true)?;
            self.after_auth_reply(&r, None);
            return Ok(r);
        }

        let mut line = line.to_string();
        match verb {
            Verb::Ehlo | Verb::Helo | Verb::Lhlo if args.is_empty() => {
                // RFC 5321 §4.1.1.1: the domain is required; fill in ours.
                line = format!("{} {}", verb.name(), self.config.ehlo_name);
                command::check_line(line.as_bytes())?;
            }
            Verb::Mail | Verb::Rcpt => self.check_envelope(&line)?,
            Verb::Bdat => {
                return Err(Error::Usage(
                    "BDAT with its data goes through Session::bdat".into(),
                ));
            }
            Verb::Auth => {
                if let [mech] = args.as_slice()
                    && let Some(m) = Mechanism::parse(mech)
                {
                    return self.auth(m, None, false);
                }
                if args.len() >= 2 {
                    // An initial response typed by hand is a secret.
                    let wire = format!("{line}\r\n");
                    let shown = format!("AUTH {} <redacted>", args[0]);
                    let r = self.exchange(wire.as_bytes(), shown, true)?;
                    self.after_auth_reply(&r, None);
                    return Ok(r);
                }
            }
            _ => {}
        }

        let wire = format!("{line}\r\n");
        self.send_line(wire.as_bytes(), line.clone(), false)?;
        let start = Instant::now();
        let r = self.read_reply()?;
        self.after_reply(&verb, &r, start)?;
        self.lmtp.track(&line, &r);
        Ok(r)
    }

    /// What a reply to `verb` changes: capabilities, state, TLS, body mode, the connection.
    /// Shows the reply. The one place that reads meaning into a reply, for lockstep and
    /// pipelined commands alike.
    fn after_reply(&mut self, verb: &Verb, r: &Reply, start: Instant) -> Result<(), Error> {
        let code = r.code.value();
        let mut caps = None;
        match verb {
            Verb::Ehlo | Verb::Lhlo if code == 250 => {
                let c = Capabilities::from_ehlo(r);
                self.caps = Some(c.clone());
                caps = Some(c);
                self.state.hello = true;
                self.state.stage = Stage::Idle;
            }
            Verb::Helo if code == 250 => {
                self.caps = None;
                self.state.hello = true;
                self.state.stage = Stage::Idle;
            }
            Verb::Mail if code == 250 => self.state.stage = Stage::Mail,
            Verb::Rcpt if code == 250 || code == 251 => {
                self.state.stage = match self.state.stage {
                    Stage::Rcpt(n) => Stage::Rcpt(n + 1),
                    _ => Stage::Rcpt(1),
                }
            }
            Verb::Rset if code == 250 => self.state.stage = Stage::Idle,
            _ => {}
        }
        self.show_reply(r, start, caps);
        match verb {
            Verb::Starttls if code == 220 => self.upgrade()?,
            Verb::Data if code == 354 => {
                self.state.stage = Stage::Data;
                self.body = Some(Body {
                    stuffer: DotStuffer::new(),
                    buf: Vec::with_capacity(64 * 1024),
                });
            }
            Verb::Quit if code == 221 => {
                if let Some(c) = self.conn.take() {
                    c.close();
                }
                self.emit(Event::Closed {
                    reason: "QUIT".into(),
                });
                self.state = State::default();
                self.caps = None;
            }
            _ => {}
        }
        if code == 421 {
            // RFC 5321 §3.8: the server is closing the channel.
            self.disconnect("the server answered 421 and is closing the connection");
        }
        Ok(())
    }

    /// Send a group of commands in one write and read their replies in order (PIPELINING,
    /// RFC 2920). Only MAIL, RCPT and RSET may stand anywhere in a group; DATA or NOOP may
    /// end it (§3.1). Refused when the server did not advertise PIPELINING. Returns the
    /// replies read; after a 421 or a lost connection it stops early.
    pub fn pipeline(&mut self, lines: &[&str]) -> Result<Vec<Reply>, Error> {
        for line in lines {
            command::check_line(line.as_bytes())?;
        }
        self.conn()?;
        if self.body.is_some() {
            return Err(Error::Usage(
                "in body mode: end the body with a lone '.' first".into(),
            ));
        }
        if !self.caps.as_ref().is_some_and(|c| c.has("PIPELINING")) {
            return Err(Error::Usage(
                "--pipeline: the server did not advertise PIPELINING (RFC 2920) in its last EHLO; run without --pipeline".into(),
            ));
        }
        for (i, line) in lines.iter().enumerate() {
            let verb = Verb::of_line(line);
            let last = i + 1 == lines.len();
            let ok = matches!(verb, Verb::Mail | Verb::Rcpt | Verb::Rset)
                || (last && matches!(verb, Verb::Data | Verb::Noop));
            if !ok {
                return Err(Error::Usage(format!(
                    "{} can't be pipelined there: a group is MAIL, RCPT and RSET, optionally ended by DATA or NOOP (RFC 2920 §3.1)",
                    verb.name()
                )));
            }
        }
        for line in lines {
            if matches!(Verb::of_line(line), Verb::Mail | Verb::Rcpt) {
                self.check_envelope(line)?;
            }
        }
        self.guard(|s| {
            s.settle_owed()?;
            let mut wire = Vec::with_capacity(lines.iter().map(|l| l.len() + 2).sum());
            for l in lines {
                wire.extend_from_slice(l.as_bytes());
                wire.extend_from_slice(b"\r\n");
            }
            let timeout = s.config.timeout;
            s.conn()?.send(&wire, timeout)?;
            let tls = s.state.tls;
            for l in lines {
                s.emit(Event::Sent {
                    line: l.to_string(),
                    tls,
                    redacted: false,
                });
            }
            let start = Instant::now();
            let mut replies = Vec::with_capacity(lines.len());
            for l in lines {
                let r = s.read_reply()?;
                s.after_reply(&Verb::of_line(l), &r, start)?;
                s.lmtp.track(l, &r);
                replies.push(r);
                if s.conn.is_none() {
                    break;
                }
            }
            Ok(replies)
        })
    }

    /// After a 220 to STARTTLS: the handshake, at once, nothing written before it ends.
    fn upgrade(&mut self) -> Result<(), Error> {
        let host = self
            .state
            .target
            .as_ref()
            .map(|t| t.host.clone())
            .unwrap_or_default();
        let timeout = self.config.timeout;
        let opts = self.config.tls.clone();
        let summary = self.conn()?.starttls(&host, &opts, timeout)?.clone();
        self.state.tls = true;
        // RFC 3207 §4.2: forget everything learned before TLS.
        self.caps = None;
        self.state.hello = false;
        self.state.user = None;
        self.state.stage = Stage::Idle;
        let insecure = self.state.insecure;
        self.emit(Event::Tls { summary, insecure });
        self.note("capabilities from before TLS are forgotten (RFC 3207 §4.2); send EHLO again");
        Ok(())
    }

    /// STARTTLS that must succeed (`--starttls`, `:starttls`): EHLO first if needed, refuse
    /// when not offered, stop on anything but 220, then EHLO again.
    pub fn starttls_required(&mut self) -> Result<Reply, Error> {
        self.conn()?;
        self.guard(|s| {
            if s.state.tls {
                return Err(Error::Usage("TLS is already on for this connection".into()));
            }
            if s.caps.is_none() {
                let r = s.command_inner(s.hello_verb())?;
                if r.code.value() != 250 {
                    return Err(Error::Tls(format!(
                        "EHLO was answered {} so STARTTLS can't be negotiated; stopping (--starttls never falls back to plaintext)",
                        r.code
                    )));
                }
            }
            if !s.caps.as_ref().is_some_and(|c| c.has("STARTTLS")) {
                let e = Error::Tls(
                    "the server does not offer STARTTLS; stopping without sending anything else (TLS is required)".into(),
                );
                s.disconnect("STARTTLS not offered");
                return Err(e);
            }
            let r = s.command_inner("STARTTLS")?;
            if r.code.value() != 220 {
                let e = Error::Tls(format!(
                    "the server answered {} to STARTTLS; stopping without sending anything else (TLS is required)",
                    r.code
                ));
                s.disconnect("STARTTLS refused");
                return Err(e);
            }
            s.command_inner(s.hello_verb())
        })
    }

    /// A guided AUTH exchange (RFC 4954): asks for what is missing, shows each challenge
    /// decoded, computes and sends the responses redacted. `initial` sends the first response
    /// with the AUTH command (RFC 4954 §4) where the mechanism has one.
    pub fn auth(
        &mut self,
        mech: impl Into<Mechanism>,
        user: Option<&str>,
        initial: bool,
    ) -> Result<Reply, Error> {
        let mech = mech.into();
        self.conn()?; // Ask before anything is sent, so `*` at a prompt costs nothing on the wire.
        self.transcript.flush();
        let default = self.config.user.clone();
        let user = match user {
            Some(u) => u.to_string(),
            None => self.ask.user(default.as_deref())?,
        };
        command::check_value("user name", &user)?;
        let password = if mech.uses_token() {
            let token = match &self.config.token {
                Some(t) => t.clone(),
                None => self.ask.token(&user)?,
            };
            // The token sits between 0x01 separators (RFC 7628 §3.1): no control bytes.
            command::check_value("token", token.expose())
                .map_err(|_| Error::Usage("the token holds a control character".into()))?;
            token
        } else {
            match &self.config.password {
                Some(p) => p.clone(),
                None => self.ask.password(&user)?,
            }
        };
        if password.expose().bytes().any(|b| b == 0) {
            return Err(Error::Usage(
                "the password holds a NUL byte, which PLAIN can't carry".into(),
            ));
        }
        self.guard(|s| s.auth_exchange(mech, &user, &password, initial))
    }

    fn auth_exchange(
        &mut self,
        mech: Mechanism,
        user: &str,
        password: &Secret,
        initial: bool,
    ) -> Result<Reply, Error> {
        self.settle_owed()?;
        let name = mech.name();
        let mut sent = 0;
        let mut r = match self
            .first_response(mech, user, password)
            .filter(|_| initial)
        {
            Some((resp, shown)) => {
                // RFC 4954 §4: the first response goes with the AUTH command.
                let wire = format!("AUTH {name} {}\r\n", resp.expose());
                let redacted = shown == "<redacted>";
                sent = 1;
                self.exchange(wire.as_bytes(), format!("AUTH {name} {shown}"), redacted)?
            }
            None => self.exchange(
                format!("AUTH {name}\r\n").as_bytes(),
                format!("AUTH {name}"),
                false,
            )?,
        };
        let mut step = 0;
        while r.code.value() == 334 && step < 4 {
            let text = r.lines.first().cloned().unwrap_or_default();
            let challenge = match auth::decode_challenge(&text) {
                Ok(c) => c,
                Err(e) => {
                    self.warn(format!(
                        "{e}; cancelling the exchange with '*' (RFC 4954 §4)"
                    ));
                    r = self.exchange(b"*\r\n", "*".into(), false)?;
                    break;
                }
            };
            let shown = crate::smtp::escape::escape_bytes(&challenge);
            if !challenge.is_empty() {
                self.note(format!("challenge decodes to: {shown}"));
            }
            let (wire, shown): (Secret, String) = match mech {
                Mechanism::CramMd5 => (
                    auth::cram_md5(user, password, &challenge),
                    "<redacted>".into(),
                ),
                Mechanism::Login => {
                    let lc = String::from_utf8_lossy(&challenge).to_ascii_lowercase();
                    // The LOGIN draft asks "Username:" then "Password:"; go by the prompt,
                    // and by order when a server sends something else.
                    if lc.contains("user") || (sent == 0 && !lc.contains("pass")) {
                        let u = auth::login_user(user);
                        (Secret::new(u.clone()), format!("{u}  (user name {user})"))
                    } else {
                        (auth::login_password(password), "<redacted>".into())
                    }
                }
                Mechanism::XOAuth2 | Mechanism::OAuthBearer if sent > 0 => {
                    // A 334 after the token is the server's error report (JSON, shown
                    // above); the client acknowledges it to get the final reply.
                    let ack = auth::oauth_error_ack(mech);
                    (
                        Secret::new(ack),
                        format!("{ack}  (acknowledging the error, RFC 7628 §3.2.3)"),
                    )
                }
                Mechanism::Plain | Mechanism::XOAuth2 | Mechanism::OAuthBearer => self
                    .first_response(mech, user, password)
                    .expect("these mechanisms have one"),
            };
            let redacted = shown == "<redacted>";
            let mut line = wire.expose().to_string();
            line.push_str("\r\n");
            r = self.exchange(line.as_bytes(), shown, redacted)?;
            sent += 1;
            step += 1;
        }
        if r.code.value() == 334 {
            self.warn(
                "the server keeps challenging; cancelling the exchange with '*' (RFC 4954 §4)",
            );
            r = self.exchange(b"*\r\n", "*".into(), false)?;
        }
        self.after_auth_reply(&r, Some(user));
        Ok(r)
    }

    /// A mechanism's first response and how the transcript shows it (`<redacted>` when it
    /// carries a secret); `None` for CRAM-MD5, where the server speaks first.
    fn first_response(
        &self,
        mech: Mechanism,
        user: &str,
        secret: &Secret,
    ) -> Option<(Secret, String)> {
        let redacted = || "<redacted>".to_string();
        Some(match mech {
            Mechanism::Plain => (auth::plain(None, user, secret), redacted()),
            Mechanism::Login => {
                let u = auth::login_user(user);
                (Secret::new(u.clone()), format!("{u}  (user name {user})"))
            }
            Mechanism::CramMd5 => return None,
            Mechanism::XOAuth2 => (auth::xoauth2(user, secret), redacted()),
            Mechanism::OAuthBearer => {
                let t = self.state.target.as_ref().filter(|t| t.unix.is_none());
                let resp =
                    auth::oauthbearer(user, t.map(|t| t.host.as_str()), t.map(|t| t.port), secret);
                (resp, redacted())
            }
        })
    }

    fn after_auth_reply(&mut self, r: &Reply, user: Option<&str>) {
        let code = r.code.value();
        self.in_auth = code == 334;
        if code == 235 {
            self.state.user = Some(user.unwrap_or("(typed by hand)").to_string());
            if let Some(u) = user {
                self.note(format!("authenticated as {u}"));
            }
        }
    }

    /// One line of a body in body mode (as typed, without line end). A lone `.` ends the
    /// body and returns the reply. `flush` writes now (at the prompt) rather than batching.
    pub fn body_line(&mut self, line: &str, flush: bool) -> Result<Option<Reply>, Error> {
        if self.chunk.is_some() {
            return self.chunk_line(line);
        }
        self.guard(|s| {
            let tls = s.state.tls;
            let timeout = s.config.timeout;
            let body = s
                .body
                .as_mut()
                .ok_or_else(|| Error::Usage("not in body mode".into()))?;
            if line == "." {
                let mut body = s.body.take().expect("checked");
                let summary = body.stuffer.finish(&mut body.buf);
                s.conn()?.send(&body.buf, timeout)?;
                s.emit(Event::BodyLine {
                    line: ".".into(),
                    tls,
                });
                return s.end_body(summary, None).map(Some);
            }
            let start = body.buf.len();
            body.stuffer.encode(line.as_bytes(), &mut body.buf);
            body.stuffer.encode(b"\r\n", &mut body.buf);
            let shown = crate::smtp::escape::escape_bytes(&body.buf[start..body.buf.len() - 2]);
            if flush || body.buf.len() >= 64 * 1024 {
                let chunk = std::mem::take(&mut body.buf);
                s.conn()?.send(&chunk, timeout)?;
                if let Some(b) = s.body.as_mut() {
                    b.buf = chunk;
                    b.buf.clear();
                }
            }
            s.emit(Event::BodyLine { line: shown, tls });
            Ok(None)
        })
    }

    fn end_body(&mut self, summary: BodySummary, file: Option<String>) -> Result<Reply, Error> {
        self.body_summary(summary, file);
        self.end_of_message()
    }

    /// What a body was (DATA or BDAT): its long lines, then the summary event.
    fn body_summary(&mut self, summary: BodySummary, file: Option<String>) {
        for l in &summary.long_lines {
            self.warn(format!(
                "body line {} is {} octets, over the 998 of RFC 5322 §2.1.1; sent as it is, not split",
                l.line, l.len
            ));
        }
        if summary.long_line_count > summary.long_lines.len() as u64 {
            self.warn(format!(
                "{} body lines in all are over 998 octets",
                summary.long_line_count
            ));
        }
        self.emit(Event::Body {
            lines: summary.lines,
            bytes: summary.wire_bytes,
            stuffed: summary.stuffed,
            fixed_endings: summary.fixed_endings,
            file,
        });
    }

    /// The reply to the end of a message (one, or one per recipient under LMTP): the
    /// transaction is over.
    fn end_of_message(&mut self) -> Result<Reply, Error> {
        let r = self.read_end_of_data()?;
        self.state.stage = Stage::Idle;
        Ok(r)
    }

    /// The whole DATA step from a file, streamed: DATA, wait for 354, the file CRLF-normalised
    /// and dot-stuffed in chunks (never read whole), then CRLF.CRLF.
    pub fn send_file(&mut self, path: &Path) -> Result<Reply, Error> {
        self.send_file_with(path, SendOptions::default())
    }

    /// `:send` with options: the message size checked against the server's SIZE first
    /// (RFC 1870), and with `bdat` the file goes in BDAT chunks (RFC 3030) instead of DATA.
    pub fn send_file_with(&mut self, path: &Path, opts: SendOptions) -> Result<Reply, Error> {
        let mut file = std::fs::File::open(path)
            .map_err(|e| Error::Usage(format!("cannot open {}: {e}", path.display())))?;
        self.conn()?;
        self.check_file_size(&mut file, path, opts)?;
        if opts.bdat {
            return self.send_file_bdat(file, path);
        }
        let r = self.command("DATA")?;
        if r.code.value() != 354 {
            return Ok(r);
        }
        self.body = None;
        self.guard(|s| {
            let timeout = s.config.timeout;
            let mut stuffer = DotStuffer::new();
            let mut input = vec![0u8; 256 * 1024];
            let mut out = Vec::with_capacity(300 * 1024);
            loop {
                let n = match file.read(&mut input) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        // The server is waiting for a body we can't finish: end the connection
                        // rather than send a truncated message.
                        return Err(Error::Io(std::io::Error::new(
                            e.kind(),
                            format!("reading {} failed mid-body: {e}", path.display()),
                        )));
                    }
                };
                out.clear();
                stuffer.encode(&input[..n], &mut out);
                s.conn()?.send(&out, timeout)?;
            }
            out.clear();
            let summary = stuffer.finish(&mut out);
            s.conn()?.send(&out, timeout)?;
            s.end_body(summary, Some(path.display().to_string()))
        })
    }

    /// Send exact bytes (`:raw`). When they end with LF a reply is awaited; further replies
    /// that arrive at once (several commands in one `:raw`) are shown too.
    pub fn raw(&mut self, bytes: &[u8]) -> Result<Option<Reply>, Error> {
        self.conn()?;
        self.guard(|s| {
            s.settle_owed()?;
            let shown = format!("(raw) {}", crate::smtp::escape::escape_bytes(bytes));
            s.send_line(bytes, shown, false)?;
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
            if r.code.class() == Class::PositiveCompletion && r.code.value() == 221 {
                s.disconnect("QUIT (raw)");
            }
            Ok(Some(r))
        })
    }

    /// QUIT if connected (leaving the shell).
    pub fn quit(&mut self) -> Result<(), Error> {
        if self.conn.is_none() {
            return Ok(());
        }
        if self.in_body() {
            self.disconnect("left in body mode: the message was not sent");
            return Ok(());
        }
        let r = self.command("QUIT");
        if self.conn.is_some() {
            self.disconnect("closed after QUIT");
        }
        r.map(|_| ())
    }
}
