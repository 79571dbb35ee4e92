//! One connection to the practice server: a bounded line reader, the RFC 5321 state machine
//! (greeting, EHLO, MAIL, RCPT, DATA), STARTTLS (RFC 3207) and AUTH (RFC 4954).
//!
//! Replies are built as [`Reply`] values and written with [`Reply::to_wire`]; the DATA
//! body is decoded by [`Unstuffer`]; command lines are checked by
//! [`command::check_line`] and recognised by [`Verb::of_line`].
//!
//! Replies are queued and written when the reader is about to wait for more input, so a
//! pipelined group (RFC 2920 §3.2) gets its replies in order, in as few packets as possible.
//!
//! Enhanced status codes (RFC 2034) are on every 2xx, 4xx and 5xx reply except the
//! greeting and the replies to EHLO and HELO, which RFC 2034 §4 leaves out (an EHLO line
//! carrying `2.0.0` would read as a capability named `2.0.0`); 3xx replies carry none
//! either: a 334's text is base64, and 354 is written bare by real servers too.
//!
//! Reply text is ASCII outside an SMTPUTF8 transaction (RFC 6531 §3.7.4.2): client text
//! echoed back is escaped, and nothing else in a reply is outside ASCII.
//!
//! The limits of [`Limits`] are kept here: a deadline per command ([`Timed`]) and a minimum
//! data rate in DATA, the memory messages in progress take ([`Reservation`]), the AUTH
//! failure delay and rate, and Postfix's error and junk-command counts. So are the failures
//! on demand ([`Faults`]) and the `421` a session says when the server stops.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use memchr::memchr;

use super::body::Buffer;
use super::budget::Reservation;
use super::deadline::Timed;
use super::events::{self, EventKind, Hub, SessionLog};
use super::faults::{Faults, Outcome, Subject};
use super::rate::AuthRate;
use super::rules::{Capability, Rules, Step};
use super::sasl::{self, Failure};
use super::stop::Stop;
use super::store::{Mailbox, Maildir, Message};
use super::{Limits, PracticeUser, users};
use crate::smtp::auth::Mechanism;
use crate::smtp::command::{self, LineError, Verb};
use crate::smtp::data::{DecodeError, Unstuffer};
use crate::smtp::reply::{Code, EnhancedCode, Reply};
use crate::smtp::syntax::{self, ArgError, ParamError};

/// What every connection shares: the configuration, TLS and where messages go.
pub(crate) struct Shared {
    pub hostname: String,
    pub users: Vec<PracticeUser>,
    pub require_auth: bool,
    pub require_tls: bool,
    pub limits: Limits,
    pub acceptor: native_tls::TlsAcceptor,
    pub mailbox: Mailbox,
    pub maildir: Option<Maildir>,
    /// For queue ids.
    pub seq: AtomicU64,
    /// Session numbers, and where events go.
    pub events: Hub,
    /// Failures on demand from `--rules`.
    pub rules: Rules,
    /// AUTH commands per client address and minute.
    pub auth_rate: AuthRate,
    /// Raised when the server stops: every session says `421 4.3.2` and closes.
    pub stop: Stop,
}

impl Shared {
    /// Whether the per-client limits apply to `ip` ([`Limits::limit_loopback`]).
    pub fn limits_apply_to(&self, ip: std::net::IpAddr) -> bool {
        self.limits.limit_loopback || !ip.to_canonical().is_loopback()
    }
}

/// Serve one connection until QUIT, an error, a timeout or EOF.
pub(crate) fn serve(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let mut conn = Conn::new(&shared, Stream::Plain(Timed::new(stream)), peer);
    conn.run();
}

/// Serve one session over `input` in memory, as if a client at `peer` had sent it and then
/// closed its side; return what the server wrote. `read_size` bounds each read (0: no bound),
/// so commands and DATA straddle reads as they do on a network. There is no TLS in memory:
/// STARTTLS's 220 is the session's last reply.
pub(crate) fn serve_memory(
    shared: &Shared,
    input: &[u8],
    read_size: usize,
    peer: SocketAddr,
) -> Vec<u8> {
    let memory = Memory {
        input: input.to_vec(),
        at: 0,
        read_size: if read_size == 0 {
            usize::MAX
        } else {
            read_size
        },
        output: Vec::new(),
    };
    let mut conn = Conn::new(shared, Stream::Memory(memory), peer);
    conn.run();
    match conn.stream {
        Stream::Memory(m) => m.output,
        // `close` and `starttls` leave a memory stream in place.
        _ => Vec::new(),
    }
}

/// The socket, before or after STARTTLS, or a session in memory.
enum Stream {
    Plain(Timed),
    Tls(Box<native_tls::TlsStream<Timed>>),
    /// Tests and fuzzing: see [`serve_memory`].
    Memory(Memory),
    /// Between the two, or after a failed handshake.
    Gone,
}

/// A client in memory: what it sends, handed out `read_size` octets at a time, then EOF;
/// and what the server wrote to it.
struct Memory {
    input: Vec<u8>,
    at: usize,
    read_size: usize,
    output: Vec<u8>,
}

impl Read for Memory {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.input.get(self.at..).unwrap_or_default();
        let n = left.len().min(buf.len()).min(self.read_size);
        buf[..n].copy_from_slice(&left[..n]);
        self.at += n;
        Ok(n)
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Memory(m) => m.read(buf),
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Memory(m) => m.output.write(buf),
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Memory(_) | Stream::Gone => Ok(()),
        }
    }
}

/// Why reading stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadError {
    /// The client closed the connection.
    Eof,
    /// The deadline passed ([`Limits::command_timeout`], or the DATA rate).
    Timeout,
    /// Reset, broken pipe, TLS error.
    Broken,
}

/// What the reader got.
enum Line {
    /// A line without its line end.
    Text(Vec<u8>),
    /// A line over the limit: its start was dropped and the rest will be skipped.
    TooLong,
}

/// The greeting: which command opened the session.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Greeted {
    name: String,
    /// EHLO (true) or HELO (false).
    esmtp: bool,
}

/// A mail transaction between MAIL and the end of DATA (RFC 5321 §3.3).
#[derive(Debug)]
struct Transaction {
    from: String,
    smtputf8: bool,
    rcpts: Vec<String>,
    /// The memory its envelope takes, reserved from the server's budget.
    envelope: Reservation,
    /// The memory for the body that MAIL's `SIZE=` announced, reserved at MAIL.
    body: Option<Reservation>,
}

/// What the envelope of a message takes besides its strings: the message's fixed part
/// (see [`Message::footprint`]), counted at MAIL.
const ENVELOPE_BASE: usize = 256;

/// How the DATA phase ended.
enum DataEnd {
    /// The whole message, within the limits.
    Message(Body),
    /// Over `max_message`; read to the end and dropped.
    TooBig,
    /// The memory budget ran out while it arrived; read to the end and dropped.
    NoRoom,
    /// A bare CR or LF; read to CRLF.CRLF and dropped.
    BareLineEnd(&'static str),
    /// A bare CR or LF, and then an end of data written with them: dropped, and the
    /// connection can't go on safely.
    LooseEnd(&'static str),
    /// The connection failed before the end.
    Read(ReadError),
}

/// A body in progress with its reservation.
struct Body {
    data: Buffer,
    reserved: Reservation,
}

/// Replies whose count ends a connection at `max_errors`: bad commands, not wrong order
/// (a student's usual mistake), not refused recipients, not failures on demand.
const COUNTED_ERRORS: [u16; 5] = [500, 501, 504, 535, 555];

/// The end-of-data mark with the CRLF that ends the line before it (RFC 5321 §4.1.1.4).
const END_OF_DATA: &[u8] = b"\r\n.\r\n";

struct Conn<'a> {
    shared: &'a Shared,
    stream: Stream,
    peer: SocketAddr,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Inside an over-long line: drop bytes up to its LF.
    skipping: bool,
    out: Vec<u8>,
    greeted: Option<Greeted>,
    tls: bool,
    auth_user: Option<String>,
    tx: Option<Transaction>,
    /// Counted errors since the last message delivered (Postfix's error count).
    errors: usize,
    /// NOOP, RSET, VRFY, EXPN, HELP since the last message delivered.
    junk: usize,
    /// What this session's EHLO name and the rules ask for.
    faults: Faults,
    /// Send the next flush one octet at a time, this far apart (a `tarpit` rule).
    tarpit_once: Option<Duration>,
    /// The greeting was 554 (a rule): only QUIT is served (RFC 5321 §3.1).
    refused: bool,
    /// A 221 or 421 is said: the session's last word.
    farewell: bool,
    closing: bool,
    /// This session's events (see [`events`]).
    log: SessionLog,
    /// While events are on: the replies queued since the last command was read.
    said: Vec<Said>,
    /// The message the last DATA kept, for its event.
    kept: Option<EventKind>,
    /// Why the session ended, once known.
    ended: Option<String>,
}

/// A reply as an event shows it: code, enhanced code, first line of text.
struct Said {
    code: u16,
    enhanced: Option<String>,
    text: String,
}

impl<'a> Conn<'a> {
    fn new(shared: &'a Shared, stream: Stream, peer: SocketAddr) -> Conn<'a> {
        // Room for the longest line with its CRLF, and for DATA reads of a useful size.
        let size = (shared.limits.max_line + 2).max(16 * 1024);
        Conn {
            shared,
            stream,
            peer,
            buf: vec![0; size],
            start: 0,
            end: 0,
            skipping: false,
            out: Vec::with_capacity(1024),
            greeted: None,
            tls: false,
            auth_user: None,
            tx: None,
            errors: 0,
            junk: 0,
            faults: Faults::new(&shared.rules),
            tarpit_once: None,
            refused: false,
            farewell: false,
            closing: false,
            log: shared.events.session(peer),
            said: Vec::new(),
            kept: None,
            ended: None,
        }
    }

    fn run(&mut self) {
        if !self.on_demand(Step::Greeting, Subject::None) {
            let greeting = format!("{} ESMTP smtpsh practice server", self.shared.hostname);
            self.send(220, None, &[&greeting]);
        }
        self.said.clear();
        self.log.emit(EventKind::Connected);
        while !self.closing {
            match self.read_line() {
                // The line's verb, found once: the command and its event both take it.
                Ok(Line::Text(line)) if self.pipelined_unasked() => {
                    let verb = Verb::of_line(&String::from_utf8_lossy(&line));
                    // Postfix's smtpd_forbid_unauth_pipelining: a client that sends a
                    // command before the reply to the last one, when PIPELINING was not
                    // offered, is not speaking SMTP as RFC 5321 §4.1.4 has it.
                    let text = format!(
                        "{} protocol synchronization error: a command came before the reply to the one before it, and PIPELINING is not offered in this session; closing the connection",
                        self.shared.hostname
                    );
                    self.say(554, "5.5.0", &text);
                    self.closing = true;
                    self.logged(Some((&line, &verb)));
                }
                Ok(Line::Text(line)) => {
                    let verb = Verb::of_line(&String::from_utf8_lossy(&line));
                    self.command(&line, &verb);
                    self.logged(Some((&line, &verb)));
                }
                Ok(Line::TooLong) => {
                    self.line_too_long();
                    self.logged(None);
                }
                Err(e) => {
                    self.read_failed(e);
                    self.log_read_end(e);
                    break;
                }
            }
        }
        self.close();
        let reason = self.ended.take().unwrap_or_else(|| "client closed".into());
        self.log.emit(EventKind::Closed { reason });
    }

    // -----------------------------------------------------------------------------------
    // Output
    // -----------------------------------------------------------------------------------

    /// Queue a reply. `enhanced` is a constant such as `"5.5.1"`.
    fn send(&mut self, code: u16, enhanced: Option<&str>, lines: &[&str]) {
        let Some(reply_code) = Code::new(code) else {
            debug_assert!(false, "reply code {code}");
            return;
        };
        // Postfix's soft error limit: past it, every reply waits a little (a client making
        // error after error is slowed down, not served at full speed).
        let limits = &self.shared.limits;
        let mut pause = Duration::ZERO;
        if limits.soft_errors > 0 && self.errors >= limits.soft_errors {
            pause += limits.error_delay;
        }
        // Failures on demand: `any delay` rules and a `delay-N` EHLO label.
        pause += self.faults.each_delay();
        if !pause.is_zero() && self.pause(pause) {
            return;
        }
        let enhanced: Option<EnhancedCode> = enhanced.and_then(|e| e.parse().ok());
        // RFC 6531 §3.7.4.2: UTF-8 in reply text only within an SMTPUTF8 transaction.
        let utf8 = self.tx.as_ref().is_some_and(|tx| tx.smtputf8);
        // RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with its CRLF. Replies
        // echo client text (a name, a parameter), so every line is held to it here.
        let room =
            MAX_REPLY_LINE - "250 \r\n".len() - enhanced.map_or(0, |e| e.to_string().len() + 1);
        let fitted: Vec<Cow<'_, str>> = lines
            .iter()
            .map(|l| {
                if utf8 {
                    fit(l, room)
                } else {
                    Cow::Owned(fit(&ascii(l), room).into_owned())
                }
            })
            .collect();
        let lines: Vec<&str> = fitted.iter().map(|l| l.as_ref()).collect();
        if self.log.on() {
            self.said.push(Said {
                code,
                enhanced: enhanced.map(|e| e.to_string()),
                text: lines.first().map_or_else(String::new, |l| l.to_string()),
            });
        }
        self.out
            .extend_from_slice(&Reply::new(reply_code, enhanced, &lines).to_wire());
        if code == 221 || code == 421 {
            self.farewell = true;
        }
        if COUNTED_ERRORS.contains(&code) {
            self.count_error();
        }
        // Bounded output even if a client pipelines without ever reading.
        if self.out.len() >= 64 * 1024 && self.flush().is_err() {
            self.closing = true;
        }
    }

    /// One more error (Postfix's error count); at `max_errors`, `421 4.7.0` and close.
    fn count_error(&mut self) {
        self.errors += 1;
        if self.errors >= self.shared.limits.max_errors && !self.closing {
            self.closing = true;
            let text = format!(
                "{} too many errors ({}); closing the connection",
                self.shared.hostname, self.errors
            );
            self.say(421, "4.7.0", &text);
        }
    }

    /// One more junk command (NOOP, RSET, VRFY, EXPN, HELP); past `max_junk` each one is
    /// an error too (Postfix's `smtpd_junk_command_limit`).
    fn count_junk(&mut self) {
        self.junk += 1;
        if self.junk > self.shared.limits.max_junk {
            self.count_error();
        }
    }

    /// Write what is queued, wait `pause`, and say whether the server is stopping (then
    /// the session has said its `421` and is closing). In memory there is no waiting.
    fn pause(&mut self, pause: Duration) -> bool {
        if let Stream::Memory(_) = self.stream {
            return false;
        }
        if self.flush().is_err() {
            self.closing = true;
        }
        if self.shared.stop.sleep(pause) {
            self.stopping();
            return true;
        }
        false
    }

    /// The server is stopping: `421 4.3.2` (RFC 3463: system not accepting network
    /// messages) and close, once.
    fn stopping(&mut self) {
        self.closing = true;
        if std::mem::replace(&mut self.farewell, true) {
            // A 221 or 421 is already said: nothing more to say.
            return;
        }
        let text = format!(
            "{} the server is shutting down; try again later",
            self.shared.hostname
        );
        if let Some(code) = Code::new(421) {
            let reply = Reply::new(code, "4.3.2".parse().ok(), &[&text]);
            self.out.extend_from_slice(&reply.to_wire());
        }
    }

    /// Queue a one-line reply with an enhanced code.
    fn say(&mut self, code: u16, enhanced: &str, text: &str) {
        self.send(code, Some(enhanced), &[text]);
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let tarpit = self
            .tarpit_once
            .take()
            .or(self.faults.tarpit())
            .filter(|_| !matches!(self.stream, Stream::Memory(_)));
        // A client that does not read what it is sent has the time of a command to (a
        // tarpit's pauses included), then the write fails and the session ends.
        let timeout = self.shared.limits.command_timeout;
        let pauses = tarpit.map_or(Duration::ZERO, |step| {
            step.saturating_mul(u32::try_from(self.out.len()).unwrap_or(u32::MAX))
        });
        let deadline = (!timeout.is_zero()).then(|| Instant::now() + timeout + pauses);
        if let Some(t) = self.timed() {
            t.set_write_deadline(deadline);
        }
        let result = match tarpit {
            None => self
                .stream
                .write_all(&self.out)
                .and_then(|()| self.stream.flush()),
            Some(step) => self.dribble(step),
        };
        self.out.clear();
        result
    }

    /// A tarpit: what is queued, one octet every `step` (all at once if the server stops).
    fn dribble(&mut self, step: Duration) -> io::Result<()> {
        let out = std::mem::take(&mut self.out);
        let mut at = 0;
        while at < out.len() {
            self.stream.write_all(&out[at..=at])?;
            self.stream.flush()?;
            at += 1;
            if at < out.len() && self.shared.stop.sleep(step) {
                break;
            }
        }
        let rest = out.get(at..).unwrap_or_default();
        self.stream.write_all(rest)?;
        self.stream.flush()
    }

    /// Write what is queued and close. The write side is shut first and unread input
    /// drained for a moment: closing a socket with unread bytes makes the kernel send a
    /// reset, and a reset can destroy the last reply (a 421 after a flood, say) before the
    /// client has read it.
    fn close(&mut self) {
        let _ = self.flush();
        if let Stream::Memory(_) = self.stream {
            // Nothing to shut down; the output stays for `serve_memory`.
            return;
        }
        let mut stream = std::mem::replace(&mut self.stream, Stream::Gone);
        if let Stream::Tls(s) = &mut stream {
            // close_notify; the client's own is not awaited.
            let _ = s.shutdown();
        }
        let tcp = match &stream {
            Stream::Plain(s) => s.tcp(),
            Stream::Tls(s) => s.get_ref().tcp(),
            Stream::Memory(_) | Stream::Gone => return,
        };
        let _ = tcp.shutdown(Shutdown::Write);
        linger(tcp);
        let _ = tcp.shutdown(Shutdown::Both);
    }

    /// Reading a command line or an AUTH response stopped: a `421` when the server is
    /// stopping or the deadline passed (RFC 5321 §4.5.3.2.7), nothing on EOF or a reset.
    fn read_failed(&mut self, e: ReadError) {
        self.closing = true;
        if self.shared.stop.raised() {
            self.stopping();
        } else if e == ReadError::Timeout {
            let text = format!(
                "{} timeout: a command must arrive whole within {}; closing the connection",
                self.shared.hostname,
                seconds(self.shared.limits.command_timeout)
            );
            self.say(421, "4.4.2", &text);
        }
    }

    fn line_too_long(&mut self) {
        let text = format!(
            "line too long: over {} octets; it was ignored (RFC 5321 section 4.5.3.1.4)",
            self.shared.limits.max_line
        );
        self.say(500, "5.5.6", &text);
    }

    // -----------------------------------------------------------------------------------
    // Events (see `events`): made from what a command queued, after it ran, so the
    // protocol code above only has to reply.
    // -----------------------------------------------------------------------------------

    /// Report the command `line` (`None`: a line over the limit) and what it led to.
    fn logged(&mut self, line: Option<(&[u8], &Verb)>) {
        if !self.log.on() {
            return;
        }
        let said = std::mem::take(&mut self.said);
        let shown = match line {
            Some((l, verb)) => events::shown_line(l, verb),
            None => format!("<a line over {} octets>", self.shared.limits.max_line),
        };
        // A line over the limit has no verb (`String::new` allocates nothing).
        let none = Verb::Other(String::new());
        let verb = line.map_or(&none, |(_, v)| v);
        let command = |line: String, r: Said| EventKind::Command {
            line,
            code: r.code,
            enhanced: r.enhanced,
            reply: r.text,
        };
        // A name accepted: said first, so that whoever shows the EHLO line knows the name.
        if matches!(verb, Verb::Ehlo | Verb::Helo)
            && said.first().is_some_and(|r| r.code == 250)
            && let Some(g) = &self.greeted
        {
            self.log.emit(EventKind::Hello {
                name: g.name.clone(),
                esmtp: g.esmtp,
            });
        }
        let mut replies = said.into_iter();
        let mut last = None;
        match verb {
            // The reply to an AUTH is the one that ended its exchange (after the 334s).
            Verb::Auth => {
                if let Some(r) = replies.by_ref().last() {
                    let code = r.code;
                    self.log.emit(command(shown, r));
                    if code == 235 || code == 535 {
                        let mechanism = line
                            .and_then(|(l, _)| {
                                String::from_utf8_lossy(l)
                                    .split(' ')
                                    .nth(1)
                                    .map(str::to_uppercase)
                            })
                            .unwrap_or_default();
                        self.log.emit(EventKind::Auth {
                            mechanism,
                            user: self.auth_user.clone().filter(|_| code == 235),
                            ok: code == 235,
                        });
                    }
                    last = Some(code);
                }
            }
            _ => {
                if let Some(r) = replies.next() {
                    let code = r.code;
                    self.log.emit(command(shown, r));
                    last = Some(code);
                    // After 354 the next reply ends the message data.
                    if *verb == Verb::Data
                        && code == 354
                        && let Some(end) = replies.next()
                    {
                        last = Some(end.code);
                        self.log.emit(command(".".into(), end));
                        if let Some(kept) = self.kept.take() {
                            self.log.emit(kept);
                        }
                    }
                }
            }
        }
        match (verb, last) {
            (Verb::Starttls, Some(220)) if self.tls => self.log.emit(EventKind::Tls),
            (Verb::Starttls, Some(220)) => {
                self.ended = Some("TLS handshake failed".into());
                self.log.emit(EventKind::Error {
                    what: "the TLS handshake after STARTTLS failed".into(),
                });
            }
            (Verb::Quit, Some(221)) => self.ended = Some("QUIT".into()),
            _ => {}
        }
        // Replies beyond the command's own: the 421 that ends a session after too many
        // errors, or after a timeout inside DATA or AUTH.
        for r in replies {
            self.end_by(&r);
        }
    }

    /// Report why reading stopped (the 421 of a timeout was queued by `read_failed`).
    fn log_read_end(&mut self, e: ReadError) {
        if !self.log.on() {
            return;
        }
        for r in std::mem::take(&mut self.said) {
            self.end_by(&r);
        }
        match e {
            ReadError::Eof => {}
            ReadError::Timeout => self.ended = Some("timeout".into()),
            ReadError::Broken => {
                self.ended = Some("connection broken".into());
                self.log.emit(EventKind::Error {
                    what: "the connection broke (reset, or a TLS error)".into(),
                });
            }
        }
    }

    /// A reply that was not a command's own: an error event, and a 421 ends the session.
    fn end_by(&mut self, r: &Said) {
        let enhanced = r
            .enhanced
            .as_deref()
            .map_or(String::new(), |e| format!(" {e}"));
        self.log.emit(EventKind::Error {
            what: format!("{}{enhanced} {}", r.code, r.text),
        });
        if r.code == 421 {
            self.ended = Some(format!("closed by the server ({})", r.text));
        }
    }

    // -----------------------------------------------------------------------------------
    // Deadlines
    // -----------------------------------------------------------------------------------

    /// The socket under TLS or not; `None` in memory.
    fn timed(&mut self) -> Option<&mut Timed> {
        match &mut self.stream {
            Stream::Plain(t) => Some(t),
            Stream::Tls(s) => Some(s.get_mut()),
            Stream::Memory(_) | Stream::Gone => None,
        }
    }

    /// Start the clock for what the client sends next: a whole command line, an AUTH
    /// response, the TLS handshake, or the start of a body.
    fn arm(&mut self) {
        let timeout = self.shared.limits.command_timeout;
        let deadline = (!timeout.is_zero()).then(|| Instant::now() + timeout);
        if let Some(t) = self.timed() {
            t.set_deadline(deadline);
        }
    }

    /// `n` more octets of a body arrived: the deadline moves on by `n / min_data_rate`
    /// seconds, never more than `command_timeout` ahead (Postfix's `smtpd_min_data_rate`).
    fn data_progress(&mut self, n: usize) {
        let limits = &self.shared.limits;
        let (rate, timeout) = (limits.min_data_rate.max(1), limits.command_timeout);
        if timeout.is_zero() {
            return;
        }
        if let Some(t) = self.timed()
            && let Some(deadline) = t.deadline()
        {
            let gained = Duration::from_secs_f64(n as f64 / rate as f64);
            let latest = Instant::now() + timeout;
            t.set_deadline(Some((deadline + gained).min(latest)));
        }
    }

    // -----------------------------------------------------------------------------------
    // Input
    // -----------------------------------------------------------------------------------

    /// Wait for more bytes, after writing the queued replies (RFC 2920 §3.2: the server
    /// flushes when its input is empty, so a pipelined group gets its replies together).
    fn fill(&mut self) -> Result<(), ReadError> {
        self.flush().map_err(|_| ReadError::Broken)?;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        loop {
            return match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) => Err(ReadError::Eof),
                Ok(n) => {
                    self.end += n;
                    Ok(())
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    Err(ReadError::Timeout)
                }
                Err(_) => Err(ReadError::Broken),
            };
        }
    }

    /// The next line, without its line end (CRLF, or a bare LF as many MTAs allow in
    /// commands). Memory is bounded by `max_line`: a longer line is reported once and the
    /// rest of it skipped.
    fn read_line(&mut self) -> Result<Line, ReadError> {
        let max = self.shared.limits.max_line;
        if self.start == self.end || memchr(b'\n', &self.buf[self.start..self.end]).is_none() {
            // The client's time for this line starts now; a line already here (pipelined)
            // needs no clock.
            self.flush().map_err(|_| ReadError::Broken)?;
            self.arm();
        }
        loop {
            if let Some(i) = memchr(b'\n', &self.buf[self.start..self.end]) {
                let line_start = self.start;
                let line_end = self.start + i;
                self.start = line_end + 1;
                if std::mem::take(&mut self.skipping) {
                    continue;
                }
                let mut line = &self.buf[line_start..line_end];
                if let Some(l) = line.strip_suffix(b"\r") {
                    line = l;
                }
                if line.len() > max {
                    return Ok(Line::TooLong);
                }
                return Ok(Line::Text(line.to_vec()));
            }
            if self.skipping {
                self.start = self.end;
            } else if self.end - self.start > max + 1 {
                // No line end in max + 2 octets: the line is too long whatever comes next.
                self.start = self.end;
                self.skipping = true;
                return Ok(Line::TooLong);
            }
            self.fill()?;
        }
    }

    // -----------------------------------------------------------------------------------
    // Commands
    // -----------------------------------------------------------------------------------

    /// Serve the command line `raw`, whose verb the caller found ([`Verb::of_line`]).
    fn command(&mut self, raw: &[u8], verb: &Verb) {
        // The client-side check of safety rule 3, reused: a NUL, CR or other control byte
        // in a command is refused. Its length limit (510) is not ours: max_line applies.
        if let Err(LineError::Control { byte, column, .. }) = command::check_line(raw) {
            let text = format!(
                "the command holds a control character (0x{byte:02X}) at column {column}; it was ignored"
            );
            self.say(500, "5.5.2", &text);
            return;
        }
        let Ok(line) = std::str::from_utf8(raw) else {
            self.say(
                500,
                "5.5.2",
                "the command is not valid UTF-8; it was ignored",
            );
            return;
        };
        let verb = verb.clone();
        // The same word end as `Verb::of_line`.
        let word_end = line.find([' ', '\t', ':']).unwrap_or(line.len());
        let rest = &line[word_end..];
        if let Verb::Other(word) = &verb {
            let text = if line.is_empty() {
                "empty command line".to_string()
            } else if word.is_empty() {
                "a command line starts with its verb, no space before it".to_string()
            } else {
                format!(
                    "command {} not recognized (HELP lists the commands)",
                    shown(word)
                )
            };
            self.say(500, "5.5.2", &text);
            return;
        }
        // RFC 5321 §4.1.1: one SP between the verb and its argument.
        let arg = if rest.is_empty() {
            None
        } else if let Some(arg) = rest.strip_prefix(' ') {
            Some(arg)
        } else {
            let text = format!(
                "syntax error: one space must separate {} from what follows",
                verb.name()
            );
            self.say(501, "5.5.4", &text);
            return;
        };
        if self.refused && verb != Verb::Quit {
            self.say(
                503,
                "5.5.1",
                "bad sequence of commands: no service here (the greeting was 554); only QUIT now (RFC 5321 section 3.1)",
            );
            return;
        }
        if matches!(
            verb,
            Verb::Noop | Verb::Rset | Verb::Vrfy | Verb::Expn | Verb::Help
        ) {
            self.count_junk();
            if self.closing {
                return;
            }
        }
        let step = match verb {
            Verb::Rset => Some(Step::Rset),
            Verb::Noop => Some(Step::Noop),
            Verb::Vrfy => Some(Step::Vrfy),
            Verb::Quit => Some(Step::Quit),
            _ => None,
        };
        if let Some(step) = step
            && self.on_demand(step, Subject::None)
        {
            return;
        }
        match verb {
            Verb::Ehlo => self.helo(arg, true),
            Verb::Helo => self.helo(arg, false),
            Verb::Mail => self.mail(arg),
            Verb::Rcpt => self.rcpt(arg),
            Verb::Data => self.data(arg),
            Verb::Rset => {
                if self.no_arg("RSET", arg) {
                    self.tx = None;
                    self.say(250, "2.0.0", "Ok: transaction reset");
                }
            }
            Verb::Noop => self.say(250, "2.0.0", "Ok"),
            Verb::Vrfy => self.vrfy(arg),
            Verb::Expn => self.say(
                502,
                "5.5.1",
                "EXPN is disabled: mailing lists are not revealed here",
            ),
            Verb::Help => self.help(arg),
            Verb::Quit => {
                if self.no_arg("QUIT", arg) {
                    let text = format!("{} closing connection, bye", self.shared.hostname);
                    self.say(221, "2.0.0", &text);
                    self.closing = true;
                }
            }
            Verb::Starttls => self.starttls(arg),
            Verb::Auth => self.auth(arg),
            Verb::Bdat => self.say(
                502,
                "5.5.1",
                "BDAT is not offered (no CHUNKING in EHLO); use DATA",
            ),
            Verb::Lhlo => self.say(
                500,
                "5.5.2",
                "LHLO is LMTP; this is an SMTP server: use EHLO",
            ),
            Verb::Other(_) => {}
        }
    }

    /// `true` when `arg` is absent; otherwise a 501 and `false`.
    fn no_arg(&mut self, verb: &str, arg: Option<&str>) -> bool {
        if arg.is_some() {
            let text = format!("syntax error: {verb} takes no argument");
            self.say(501, "5.5.4", &text);
            return false;
        }
        true
    }

    fn helo(&mut self, arg: Option<&str>, esmtp: bool) {
        let verb = if esmtp { "EHLO" } else { "HELO" };
        let Some(name) = arg.and_then(|a| syntax::parse_helo_arg(a).ok()) else {
            let text = format!(
                "syntax: {verb} <your-hostname>, a domain or an address literal such as [192.0.2.1]"
            );
            self.say(501, "5.5.4", &text);
            return;
        };
        // Failures on demand: the name's labels (`no-auth`, `delay-5`, …) and `ehlo` rules.
        self.faults.greeted(name);
        if self.on_demand(Step::Ehlo, Subject::Name(name)) {
            return;
        }
        // RFC 5321 §4.1.4: EHLO (or HELO) later in a session resets the transaction, as RSET.
        self.tx = None;
        self.greeted = Some(Greeted {
            name: name.to_string(),
            esmtp,
        });
        let first = format!("{} Hello {name} [{}]", self.shared.hostname, self.peer.ip());
        if !esmtp {
            self.send(250, None, &[&first]);
            return;
        }
        let size = format!("SIZE {}", self.shared.limits.max_message);
        let mut lines: Vec<&str> = vec![&first];
        if !self.faults.hides(Capability::Pipelining) {
            lines.push("PIPELINING");
        }
        lines.extend([size.as_str(), "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"]);
        if !self.tls && !self.faults.hides(Capability::Starttls) {
            lines.push("STARTTLS");
        }
        // With --require-tls, AUTH is offered only over TLS, so no password crosses the
        // network in clear (RFC 4954 §4 lets a server hide mechanisms it won't use).
        let auth = OFFERED
            .iter()
            .fold("AUTH".to_string(), |line, m| line + " " + m.name());
        if (self.tls || !self.shared.require_tls) && !self.faults.hides(Capability::Auth) {
            lines.push(&auth);
        }
        lines.push("HELP");
        self.send(250, None, &lines);
    }

    fn mail(&mut self, arg: Option<&str>) {
        let Some(greeted) = self.greeted.clone() else {
            self.say(
                503,
                "5.5.1",
                "bad sequence of commands: send EHLO (or HELO) first",
            );
            return;
        };
        if self.shared.require_tls && !self.tls {
            self.say(530, "5.7.0", "Must issue a STARTTLS command first");
            return;
        }
        if self.shared.require_auth && self.auth_user.is_none() {
            self.say(530, "5.7.0", "Authentication required: AUTH first");
            return;
        }
        if self.tx.is_some() {
            self.say(
                503,
                "5.5.1",
                "bad sequence of commands: sender already given (RSET to start over)",
            );
            return;
        }
        let Some(arg) = arg else {
            self.mail_usage();
            return;
        };
        let path = match syntax::parse_mail_arg(arg) {
            Ok(path) => path,
            Err(ArgError::Syntax(why)) => {
                let text = format!("{why}; syntax: {MAIL_SYNTAX}");
                self.say(501, "5.5.4", &text);
                return;
            }
            Err(ArgError::Address(why)) => {
                let text = format!("bad sender address: {why}");
                self.say(501, "5.1.7", &text);
                return;
            }
        };
        if !greeted.esmtp && !path.params.is_empty() {
            self.say(
                555,
                "5.5.4",
                "MAIL parameters need EHLO; after HELO send MAIL FROM:<address> alone",
            );
            return;
        }
        let params = match syntax::mail_params(&path.params) {
            Ok(p) => p,
            Err(ParamError::Bad(why)) => {
                self.say(501, "5.5.4", &why);
                return;
            }
            Err(ParamError::Unknown(key)) => {
                let text = format!(
                    "parameter {} is not supported (this server knows SIZE, BODY and SMTPUTF8)",
                    shown(&key)
                );
                self.say(555, "5.5.4", &text);
                return;
            }
        };
        let max = self.shared.limits.max_message;
        if params.size.is_some_and(|s| s > max as u64) {
            let text = format!("message size exceeds fixed maximum message size ({max} octets)");
            self.say(552, "5.3.4", &text);
            return;
        }
        let from = path.mailbox.map(|m| m.address()).unwrap_or_default();
        if !from.is_ascii() && !params.smtputf8 {
            self.say(
                553,
                "5.6.7",
                "a non-ASCII address needs the SMTPUTF8 parameter (RFC 6531)",
            );
            return;
        }
        if self.on_demand(Step::Mail, Subject::Address(&from)) {
            return;
        }
        // The memory the message will take, body and envelope, is reserved before it is
        // held (issue 14): an envelope, or a body of the SIZE announced, that can't fit now
        // gets 452 4.3.1 here. A client that announces its size is sure of its room
        // however many others send big bodies at once (as Postfix checks its queue's
        // free space against SIZE at MAIL).
        let budget = self.shared.mailbox.budget();
        let mut envelope = Reservation::new(budget);
        let mut body = params.size.map(|_| Reservation::new(budget));
        let size = params
            .size
            .map_or(0, |s| usize::try_from(s).unwrap_or(usize::MAX));
        let room =
            envelope.grow(ENVELOPE_BASE + from.len()) && body.as_mut().is_none_or(|b| b.grow(size));
        if !room {
            self.say(
                452,
                "4.3.1",
                "insufficient system storage: the practice mailbox is full",
            );
            return;
        }
        let text = format!("sender <{from}> ok");
        self.tx = Some(Transaction {
            from,
            smtputf8: params.smtputf8,
            rcpts: Vec::new(),
            envelope,
            body,
        });
        self.say(250, "2.1.0", &text);
    }

    fn mail_usage(&mut self) {
        let text = format!("syntax: {MAIL_SYNTAX}");
        self.say(501, "5.5.4", &text);
    }

    fn rcpt(&mut self, arg: Option<&str>) {
        if self.greeted.is_none() {
            self.say(
                503,
                "5.5.1",
                "bad sequence of commands: send EHLO (or HELO) first",
            );
            return;
        }
        let Some(tx) = &self.tx else {
            self.say(
                503,
                "5.5.1",
                "bad sequence of commands: need MAIL before RCPT",
            );
            return;
        };
        let (smtputf8, count) = (tx.smtputf8, tx.rcpts.len());
        let Some(arg) = arg else {
            let text = format!("syntax: {RCPT_SYNTAX}");
            self.say(501, "5.5.4", &text);
            return;
        };
        let path = match syntax::parse_rcpt_arg(arg) {
            Ok(path) => path,
            Err(ArgError::Syntax(why)) => {
                let text = format!("{why}; syntax: {RCPT_SYNTAX}");
                self.say(501, "5.5.4", &text);
                return;
            }
            Err(ArgError::Address(why)) => {
                let text = format!("bad recipient address: {why}");
                self.say(501, "5.1.3", &text);
                return;
            }
        };
        if !path.params.is_empty() {
            self.say(
                555,
                "5.5.4",
                "RCPT parameters are not supported here (no DSN): send RCPT TO:<address> alone",
            );
            return;
        }
        // `parse_rcpt_arg` refuses the null path, so there is always a mailbox.
        let Some(mailbox) = path.mailbox else {
            self.say(501, "5.1.3", "bad recipient address");
            return;
        };
        let address = mailbox.address();
        if mailbox.is_utf8() && !smtputf8 {
            self.say(
                553,
                "5.6.7",
                "a non-ASCII address needs SMTPUTF8 on MAIL FROM (RFC 6531)",
            );
            return;
        }
        if self.on_demand(Step::Rcpt, Subject::Address(&address)) {
            return;
        }
        if count >= self.shared.limits.max_recipients {
            let text = format!(
                "too many recipients: at most {} per message",
                self.shared.limits.max_recipients
            );
            self.say(452, "4.5.3", &text);
            return;
        }
        if is_rejected(&mailbox.local) {
            let text = format!("<{address}>: no such user here");
            self.say(550, "5.1.1", &text);
            return;
        }
        let text = format!("recipient <{address}> ok");
        let Some(tx) = &mut self.tx else {
            return;
        };
        // The address, its place in the list (which grows by doubling), and the allocator's
        // share (see `Message::footprint`).
        if !tx
            .envelope
            .grow(super::store::allocation(address.len()) + 2 * std::mem::size_of::<String>())
        {
            self.say(
                452,
                "4.3.1",
                "insufficient system storage: the practice mailbox is full",
            );
            return;
        }
        tx.rcpts.push(address);
        self.say(250, "2.1.5", &text);
    }

    fn data(&mut self, arg: Option<&str>) {
        if !self.no_arg("DATA", arg) {
            return;
        }
        let Some(tx) = &self.tx else {
            let text = if self.greeted.is_none() {
                "bad sequence of commands: send EHLO (or HELO) first"
            } else {
                "bad sequence of commands: need MAIL and RCPT before DATA"
            };
            self.say(503, "5.5.1", text);
            return;
        };
        if tx.rcpts.is_empty() {
            self.say(
                503,
                "5.5.1",
                "bad sequence of commands: need RCPT before DATA (no valid recipients)",
            );
            return;
        }
        if !self.shared.rules.is_empty() {
            let (from, rcpts) = (tx.from.clone(), tx.rcpts.clone());
            if self.on_demand(Step::Data, Subject::Envelope(&from, &rcpts)) {
                return;
            }
        }
        self.send(354, None, &["End data with <CR><LF>.<CR><LF>"]);
        let announced = self.tx.as_mut().and_then(|tx| tx.body.take());
        let end = self.receive_data(announced);
        // Whatever happened, the transaction is over (RFC 5321 §4.1.1.4).
        let Some(tx) = self.tx.take() else {
            return;
        };
        match end {
            DataEnd::Message(body) => {
                if self.on_demand(Step::Message, Subject::Envelope(&tx.from, &tx.rcpts)) {
                    // Answered (or hung up on) instead: nothing is kept.
                    return;
                }
                self.deliver(tx, body);
            }
            DataEnd::TooBig => {
                let text = format!(
                    "message size exceeds fixed maximum message size ({} octets); not kept",
                    self.shared.limits.max_message
                );
                self.say(552, "5.3.4", &text);
            }
            DataEnd::NoRoom => {
                self.say(
                    452,
                    "4.3.1",
                    "insufficient system storage: the practice mailbox is full; not kept",
                );
            }
            DataEnd::BareLineEnd(what) => {
                let text = format!(
                    "message refused: bare {what} in the data; lines must end in CRLF (SMTP smuggling defence)"
                );
                self.say(554, "5.6.0", &text);
            }
            DataEnd::LooseEnd(what) => {
                let text = format!(
                    "{} message refused: bare {what} in the data, and an end of data not written CRLF.CRLF; lines must end in CRLF (nc -C does that); closing the connection (SMTP smuggling defence)",
                    self.shared.hostname
                );
                self.say(421, "4.5.0", &text);
                self.closing = true;
            }
            DataEnd::Read(e) => {
                self.closing = true;
                if self.shared.stop.raised() {
                    self.stopping();
                } else if e == ReadError::Timeout {
                    let text = format!(
                        "{} timeout: the message must keep coming at {} octets a second or more; closing the connection",
                        self.shared.hostname, self.shared.limits.min_data_rate
                    );
                    self.say(421, "4.4.2", &text);
                }
            }
        }
    }

    /// Read more of a body: `fill`, then move the deadline on for what came.
    fn fill_data(&mut self) -> Result<(), ReadError> {
        let before = self.end - self.start;
        self.fill()?;
        let got = (self.end - self.start).saturating_sub(before);
        self.data_progress(got);
        Ok(())
    }

    /// Read the body after 354 up to CRLF.CRLF, bounded by `max_message` and by the
    /// memory budget: the body's memory is reserved before it grows, and once none is left
    /// the rest is read and dropped, for a `452 4.3.1` at the end.
    fn receive_data(&mut self, announced: Option<Reservation>) -> DataEnd {
        let max = self.shared.limits.max_message;
        let mut unstuffer = Unstuffer::new();
        let mut body = Body {
            data: Buffer::default(),
            reserved: announced.unwrap_or_else(|| Reservation::new(self.shared.mailbox.budget())),
        };
        let mut size = 0usize;
        let mut too_big = false;
        let mut no_room = false;
        // The last wire bytes seen, for finding the end after a decoding error. It starts
        // as the CRLF that ended the DATA line, so `.` CRLF right away is an empty body.
        let mut tail = b"\r\n".to_vec();
        // The client's time for the body starts now; it moves on as octets come.
        let _ = self.flush();
        self.arm();
        loop {
            if self.start == self.end
                && let Err(e) = self.fill_data()
            {
                return DataEnd::Read(e);
            }
            let chunk = &self.buf[self.start..self.end];
            let keeping = !too_big && !no_room;
            // What the decoder writes is never longer than what it reads: room for the
            // chunk is enough. Reserve it before growing, doubling as a Vec would, but
            // never past the message limit (and one read) in all.
            let need = body.data.len() + chunk.len();
            if keeping && need > body.data.capacity() {
                let held = body.reserved.bytes();
                let doubled = (body.data.capacity() * 2).min(max.saturating_add(self.buf.len()));
                // Within what is reserved (all that SIZE announced), or more reserved
                // first: doubling if the budget allows, else just what this read needs.
                let target = if need <= held {
                    Some(held)
                } else if body.reserved.resize(need.max(doubled)) {
                    Some(need.max(doubled))
                } else if body.reserved.resize(need) {
                    Some(need)
                } else {
                    None
                };
                if let Some(target) = target {
                    let len = body.data.len();
                    body.data.reserve_exact(target - len);
                } else {
                    no_room = true;
                    body = Body {
                        data: Buffer::default(),
                        reserved: Reservation::new(self.shared.mailbox.budget()),
                    };
                }
            }
            let before = body.data.len();
            let fed = unstuffer.feed(chunk, &mut body.data);
            size = size.saturating_add(body.data.len() - before);
            if size > max {
                too_big = true;
            }
            if too_big || no_room {
                // Keep counting, keep nothing, and give the memory back.
                body.data = Buffer::default();
                body.reserved.resize(0);
            }
            match fed {
                Ok(Some(n)) => {
                    self.start += n;
                    return if too_big {
                        DataEnd::TooBig
                    } else if no_room {
                        DataEnd::NoRoom
                    } else {
                        DataEnd::Message(body)
                    };
                }
                Ok(None) => {
                    keep_tail(&mut tail, chunk);
                    self.start = self.end;
                }
                Err(DecodeError::BareLineEnd(what)) => {
                    return match self.skip_to_end(tail) {
                        Ok(true) => DataEnd::BareLineEnd(what),
                        Ok(false) => DataEnd::LooseEnd(what),
                        Err(e) => DataEnd::Read(e),
                    };
                }
            }
        }
    }

    /// After a bare CR or LF the decoder can't go on; look for the end by itself. `tail`
    /// is the wire bytes before the current chunk. An end mark found from there is past the
    /// error: had one come before it, the decoder would have stopped there.
    ///
    /// `Ok(true)`: the real end, CRLF.CRLF, came first; the session can go on. `Ok(false)`:
    /// a loose end came first (a lone dot between bare CRs or LFs, as `nc` without `-C`
    /// sends, or as a smuggling attempt does). What follows it may be a smuggled command,
    /// and a client that wrote it waits for a reply that CRLF.CRLF would never bring: the
    /// connection is ended.
    fn skip_to_end(&mut self, mut tail: Vec<u8>) -> Result<bool, ReadError> {
        loop {
            let chunk = &self.buf[self.start..self.end];
            let mut window = tail.clone();
            window.extend_from_slice(chunk);
            match end_mark(&window) {
                Some(Mark::Strict(past)) => {
                    // `past` indexes `window`, whose chunk part starts at `tail.len()`.
                    self.start += past - tail.len();
                    return Ok(true);
                }
                Some(Mark::Loose) => {
                    self.start = self.end;
                    return Ok(false);
                }
                None => {}
            }
            keep_tail(&mut tail, chunk);
            self.start = self.end;
            self.fill_data()?;
        }
    }

    fn deliver(&mut self, tx: Transaction, body: Body) {
        let shared = self.shared;
        let received = SystemTime::now();
        let secs = received
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let seq = shared.seq.fetch_add(1, Ordering::Relaxed);
        let id = format!("{:08X}{:06X}", secs & 0xFFFF_FFFF, seq & 0xFF_FFFF);
        let greeted = self.greeted.clone().unwrap_or(Greeted {
            name: String::new(),
            esmtp: false,
        });
        let message = Message {
            id: id.clone(),
            from: tx.from,
            rcpts: tx.rcpts,
            data: body.data.into_vec(),
            received,
            tls: self.tls,
            auth_user: self.auth_user.clone(),
            helo: greeted.name,
            session: self.log.id(),
        };
        let kept = self.log.on().then(|| EventKind::Message {
            id: message.id.clone(),
            from: message.from.clone(),
            rcpts: message.rcpts.clone(),
            subject: message.subject(),
            size: message.data.len(),
        });
        if let Some(maildir) = &shared.maildir
            && maildir
                .deliver(&message, &shared.hostname, self.peer, greeted.esmtp)
                .is_err()
        {
            super::body::release(message.data);
            self.say(
                451,
                "4.3.0",
                "local error: could not write the message to the Maildir; try again later",
            );
            return;
        }
        // What the envelope and the body reserved as they arrived becomes the kept
        // message's share of the budget.
        let mut reserved = tx.envelope;
        reserved.absorb(body.reserved);
        if shared.mailbox.push_reserved(message, reserved).is_none() {
            self.say(
                452,
                "4.3.1",
                "insufficient system storage: the practice mailbox is full; not kept",
            );
            return;
        }
        self.kept = kept;
        // Postfix forgives a client's errors once it has delivered a message.
        self.errors = 0;
        self.junk = 0;
        let text = format!("Ok: queued as {id}");
        self.say(250, "2.0.0", &text);
    }

    fn vrfy(&mut self, arg: Option<&str>) {
        let Some(arg) = arg.map(str::trim).filter(|a| !a.is_empty()) else {
            self.say(501, "5.5.4", "syntax: VRFY <user> or VRFY <user@domain>");
            return;
        };
        let bare = arg
            .strip_prefix('<')
            .and_then(|a| a.strip_suffix('>'))
            .unwrap_or(arg);
        let hostname = &self.shared.hostname;
        let (local, domain) = match bare.rsplit_once('@') {
            Some((l, d)) => (l, Some(d)),
            None => (bare, None),
        };
        let ours = domain.is_none_or(|d| {
            d.eq_ignore_ascii_case(hostname) || d.eq_ignore_ascii_case("localhost")
        });
        // A user is named by the whole argument, or by its local part at our own domain.
        let users = &self.shared.users;
        let user = users
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(bare))
            .or_else(|| {
                ours.then(|| users.iter().find(|u| u.name.eq_ignore_ascii_case(local)))
                    .flatten()
            });
        match user {
            Some(u) => {
                let text = if u.name.contains('@') {
                    format!("{0} <{0}>", u.name)
                } else {
                    format!("{0} <{0}@{hostname}>", u.name)
                };
                self.say(250, "2.1.5", &text);
            }
            None if ours || is_rejected(local) => {
                let text = format!("<{}>: no such user here", shown(bare));
                self.say(550, "5.1.1", &text);
            }
            None => {
                let text = format!(
                    "cannot VRFY <{}>, but a message to it will be accepted",
                    shown(bare)
                );
                self.say(252, "2.1.5", &text);
            }
        }
    }

    fn help(&mut self, arg: Option<&str>) {
        let Some(topic) = arg.map(str::trim).filter(|a| !a.is_empty()) else {
            self.send(
                214,
                Some("2.0.0"),
                &[
                    "smtpsh practice server; commands, in the order of a session:",
                    "EHLO HELO STARTTLS AUTH MAIL RCPT DATA RSET NOOP VRFY EXPN HELP QUIT",
                    "HELP <command> shows its syntax, e.g. HELP MAIL",
                    "SMTP is RFC 5321; STARTTLS RFC 3207; AUTH RFC 4954",
                ],
            );
            return;
        };
        let verb = Verb::of_line(topic);
        let max_rcpt = format!(
            "Up to {} recipients a message. Local parts 'reject' and 'no-such...' get 550 here.",
            self.shared.limits.max_recipients
        );
        let lines: Vec<&str> = match verb {
            Verb::Ehlo | Verb::Helo => vec![
                "EHLO <your-hostname>",
                "Greets the server and lists its extensions; HELO is the same without them.",
            ],
            Verb::Mail => vec![
                MAIL_SYNTAX,
                "Starts a message. <> is the null sender, used by bounces.",
            ],
            Verb::Rcpt => vec![RCPT_SYNTAX, &max_rcpt],
            Verb::Data => vec![
                "DATA",
                "Then the message: headers, a blank line, the body; end with a line holding only '.'.",
                "Lines must end in CRLF; a line starting with '.' gets one more '.' (dot-stuffing).",
            ],
            Verb::Rset => vec![
                "RSET",
                "Forgets the message in progress (sender, recipients).",
            ],
            Verb::Noop => vec!["NOOP", "Does nothing; the server answers 250."],
            Verb::Vrfy => vec!["VRFY <user>", "Asks whether a user exists here."],
            Verb::Expn => vec![
                "EXPN <list>",
                "Would expand a mailing list; disabled here, as on most servers.",
            ],
            Verb::Help => vec!["HELP [<command>]"],
            Verb::Quit => vec!["QUIT", "Ends the session."],
            Verb::Starttls => vec![
                "STARTTLS",
                "Switches to TLS; then send EHLO again (RFC 3207 section 4.2).",
            ],
            Verb::Auth => {
                let mut lines = vec![
                    "AUTH PLAIN [<base64 of NUL user NUL password>]",
                    "AUTH LOGIN [<base64 of user>]",
                    "AUTH CRAM-MD5",
                ];
                if self.shared.users == users::default_users() {
                    lines.push("Practice users: alice (password alicepass), bob (bobpass).");
                }
                lines
            }
            _ => {
                let text = format!("no help for {}; HELP lists the commands", shown(topic));
                self.say(504, "5.5.4", &text);
                return;
            }
        };
        self.send(214, Some("2.0.0"), &lines);
    }

    fn starttls(&mut self, arg: Option<&str>) {
        if !self.no_arg("STARTTLS", arg) {
            return;
        }
        if self.tls {
            self.say(503, "5.5.1", "bad sequence of commands: TLS already active");
            return;
        }
        if self.faults.hides(Capability::Starttls) {
            self.not_offered("STARTTLS");
            return;
        }
        if !self.greeted.as_ref().is_some_and(|g| g.esmtp) {
            self.say(503, "5.5.1", "bad sequence of commands: send EHLO first");
            return;
        }
        if self.tx.is_some() {
            self.say(
                503,
                "5.5.1",
                "bad sequence of commands: finish the message or RSET before STARTTLS",
            );
            return;
        }
        if self.on_demand(Step::Starttls, Subject::None) {
            return;
        }
        // STARTTLS command injection (CVE-2011-0411 and kin): whatever the client sent
        // after STARTTLS in plaintext is not part of the TLS session. A server that kept it
        // would run it as if it came over TLS (a man in the middle appends
        // `RSET\r\nMAIL FROM:…` to the client's STARTTLS). Drop it.
        self.start = 0;
        self.end = 0;
        self.skipping = false;
        self.say(220, "2.0.0", "Ready to start TLS");
        if self.flush().is_err() {
            self.closing = true;
            return;
        }
        if let Stream::Memory(_) = self.stream {
            // No TLS in memory: the session ends here, as after a failed handshake.
            self.closing = true;
            return;
        }
        // The handshake has the time of a command, all of it (the deadline is on the
        // socket under TLS).
        self.arm();
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            self.closing = true;
            return;
        };
        match self.shared.acceptor.accept(tcp) {
            Ok(tls) => {
                self.stream = Stream::Tls(Box::new(tls));
                self.tls = true;
                // RFC 3207 §4.2: forget everything learned before TLS; EHLO again.
                self.greeted = None;
                self.auth_user = None;
                self.tx = None;
            }
            // A failed handshake leaves nothing to talk over.
            Err(_) => self.closing = true,
        }
    }

    fn auth(&mut self, arg: Option<&str>) {
        if !self.greeted.as_ref().is_some_and(|g| g.esmtp) {
            self.say(503, "5.5.1", "bad sequence of commands: send EHLO first");
            return;
        }
        if self.shared.require_tls && !self.tls {
            self.say(
                538,
                "5.7.11",
                "Encryption required for requested authentication mechanism: STARTTLS first",
            );
            return;
        }
        if self.faults.hides(Capability::Auth) {
            self.not_offered("AUTH");
            return;
        }
        if self.auth_user.is_some() {
            self.say(
                503,
                "5.5.1",
                "bad sequence of commands: already authenticated",
            );
            return;
        }
        // Postfix's smtpd_client_auth_rate_limit: every AUTH counts, whatever comes of it,
        // against the client address, across all its connections.
        let ip = self.peer.ip();
        if self.shared.limits_apply_to(ip) && !self.shared.auth_rate.allow(ip) {
            let text = format!(
                "too many AUTH commands from {} (at most {} a minute); try again later",
                ip.to_canonical(),
                self.shared.limits.auth_per_minute
            );
            self.say(450, "4.7.1", &text);
            return;
        }
        if self.on_demand(Step::Auth, Subject::None) {
            return;
        }
        if self.tx.is_some() {
            self.say(
                503,
                "5.5.1",
                "bad sequence of commands: AUTH is not allowed during a mail transaction",
            );
            return;
        }
        let mut words = arg.unwrap_or("").split(' ');
        let (Some(mechanism), initial, None) = (
            words.next().filter(|w| !w.is_empty()),
            words.next(),
            words.next(),
        ) else {
            self.say(
                501,
                "5.5.4",
                "syntax: AUTH <mechanism> [<initial-response>]",
            );
            return;
        };
        let Some(mechanism) = Mechanism::parse(mechanism).filter(|m| OFFERED.contains(m)) else {
            self.unknown_mechanism();
            return;
        };
        let initial = match initial {
            None => None,
            Some("") => {
                self.say(
                    501,
                    "5.5.4",
                    "syntax: an empty initial response is written '='",
                );
                return;
            }
            Some(ir) => match sasl::decode(ir.as_bytes()) {
                Some(bytes) => Some(bytes),
                None if ir == "*" => {
                    self.say(501, "5.7.0", "authentication cancelled");
                    return;
                }
                None => {
                    self.say(501, "5.5.2", "the initial response is not valid base64");
                    return;
                }
            },
        };
        let shared = self.shared;
        let users = &shared.users;
        let result = match mechanism {
            Mechanism::Plain => {
                let Some(message) = initial.or_else(|| self.auth_response(b"")) else {
                    return;
                };
                sasl::check_plain(users, &message)
            }
            Mechanism::Login => {
                let Some(user) = initial.or_else(|| self.auth_response(b"Username:")) else {
                    return;
                };
                let Some(password) = self.auth_response(b"Password:") else {
                    return;
                };
                sasl::check_login(users, &user, &password)
            }
            Mechanism::CramMd5 => {
                if initial.is_some() {
                    // RFC 4954 §4: a mechanism where the server speaks first takes no
                    // initial response.
                    self.say(
                        501,
                        "5.5.4",
                        "CRAM-MD5 takes no initial response: send AUTH CRAM-MD5 alone",
                    );
                    return;
                }
                let challenge = sasl::challenge(&self.shared.hostname);
                let Some(response) = self.auth_response(&challenge) else {
                    return;
                };
                sasl::check_cram_md5(users, &challenge, &response)
            }
        };
        match result {
            Ok(user) => {
                self.auth_user = Some(user);
                self.say(235, "2.7.0", "Authentication successful");
            }
            Err(failure) => {
                // A failed AUTH waits before its answer: a password guesser gets one try
                // a second per connection, not thousands.
                if self.pause(self.shared.limits.auth_failure_delay) {
                    return;
                }
                match failure {
                    Failure::Credentials => {
                        self.say(535, "5.7.8", "Authentication credentials invalid");
                    }
                    Failure::Malformed(why) => self.say(501, "5.5.2", why),
                }
            }
        }
    }

    /// A command whose capability this session's EHLO left out (a failure on demand).
    fn not_offered(&mut self, what: &str) {
        let text =
            format!("{what} is not offered in this session (the EHLO reply did not list it)");
        self.say(502, "5.5.1", &text);
    }

    // -----------------------------------------------------------------------------------
    // Failures on demand
    // -----------------------------------------------------------------------------------

    /// Whether the client sent more after this command line before its reply, in a
    /// session where PIPELINING is not offered.
    fn pipelined_unasked(&self) -> bool {
        self.start < self.end && self.faults.hides(Capability::Pipelining)
    }

    /// Carry out what the rules and conventions say about `step`: pause, tarpit, and
    /// answer or hang up instead. `true` when the step was answered (or the connection is
    /// closing): the caller does nothing more.
    fn on_demand(&mut self, step: Step, subject: Subject<'_>) -> bool {
        let shared = self.shared;
        let plan = self.faults.plan(&shared.rules, step, subject);
        if !plan.delay.is_zero() && self.pause(plan.delay) {
            return true;
        }
        if plan.tarpit.is_some() {
            self.tarpit_once = plan.tarpit;
        }
        match plan.outcome {
            Outcome::Normal => false,
            Outcome::Disconnect => {
                // What was said before goes out; this step gets no answer.
                let _ = self.flush();
                self.farewell = true;
                self.closing = true;
                true
            }
            Outcome::Reply { reply, by } => {
                let code = reply.code;
                let text = match reply.text {
                    Some(text) => text,
                    None => format!("failure on demand ({by})"),
                };
                // RFC 5321 §4.2: a greeting and a 421 start with the server's name.
                let text = if step == Step::Greeting || code == 421 {
                    format!("{} {text}", shared.hostname)
                } else {
                    text
                };
                let enhanced = match (step, reply.enhanced) {
                    (Step::Greeting | Step::Ehlo, _) => None,
                    (_, Some(e)) => Some(e),
                    (_, None) => Some(format!("{}.0.0", code / 100)),
                };
                self.send(code, enhanced.as_deref(), &[&text]);
                if code == 421 {
                    // RFC 5321 §3.8: 421 closes the connection.
                    self.closing = true;
                } else if step == Step::Greeting {
                    self.refused = true;
                }
                true
            }
        }
    }

    fn unknown_mechanism(&mut self) {
        self.say(
            504,
            "5.5.4",
            "unrecognized authentication type; offered: PLAIN LOGIN CRAM-MD5",
        );
    }

    /// Send `334 <base64 challenge>` and read the client's response. `None` when the
    /// exchange ended here (cancelled, bad base64, a read failure): the reply is queued.
    fn auth_response(&mut self, challenge: &[u8]) -> Option<Vec<u8>> {
        let encoded = STANDARD.encode(challenge);
        self.send(334, None, &[&encoded]);
        let line = match self.read_line() {
            Ok(Line::Text(line)) => line,
            Ok(Line::TooLong) => {
                self.line_too_long();
                return None;
            }
            Err(e) => {
                self.read_failed(e);
                self.closing = true;
                return None;
            }
        };
        // RFC 4954 §4: `*` cancels.
        if line == b"*" {
            self.say(501, "5.7.0", "authentication cancelled");
            return None;
        }
        match sasl::decode(&line) {
            Some(bytes) => Some(bytes),
            None => {
                self.say(501, "5.5.2", "the response is not valid base64");
                None
            }
        }
    }
}

/// Read and drop input until the client closes, for at most `LINGER` and `LINGER_BYTES`.
fn linger(mut tcp: &TcpStream) {
    let deadline = Instant::now() + LINGER;
    let mut drained = 0;
    let mut sink = [0u8; 4096];
    while drained < LINGER_BYTES {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || tcp.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match tcp.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(n) => drained += n,
        }
    }
}

/// How long [`linger`] waits for the client to close after the last reply.
const LINGER: Duration = Duration::from_millis(500);
/// How much [`linger`] reads before giving up on a client that keeps sending.
const LINGER_BYTES: usize = 256 * 1024;

/// The AUTH mechanisms offered in EHLO.
const OFFERED: [Mechanism; 3] = [Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5];

/// `MAIL` syntax, for 501 replies and HELP.
const MAIL_SYNTAX: &str =
    "MAIL FROM:<sender@example.org> [SIZE=<octets>] [BODY=7BIT|8BITMIME] [SMTPUTF8]";
/// `RCPT` syntax, for 501 replies and HELP.
const RCPT_SYNTAX: &str = "RCPT TO:<recipient@example.org>";

/// Client text echoed in a reply: escaped, and cut so the reply line stays under the 512
/// octets of RFC 5321 §4.5.3.1.5.
fn shown(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", crate::smtp::escape::escape_str(&s[..cut])),
        None => crate::smtp::escape::escape_str(s),
    }
}

/// The longest reply line, CRLF included (RFC 5321 §4.5.3.1.5).
const MAX_REPLY_LINE: usize = 512;

/// `text` in ASCII, for a reply outside an SMTPUTF8 transaction (RFC 6531 §3.7.4.2): `§`
/// is written `section `, anything else outside ASCII (client text echoed back) escaped
/// as `\u{e9}`, the way [`crate::smtp::escape`] shows hidden characters.
fn ascii(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            c if c.is_ascii() => out.push(c),
            '§' => out.push_str("section "),
            c => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    Cow::Owned(out)
}

/// `text` as it is when it fits in `room` octets; else cut at a character boundary and
/// marked with `...`.
fn fit(text: &str, room: usize) -> Cow<'_, str> {
    if text.len() <= room {
        return Cow::Borrowed(text);
    }
    let keep = room.saturating_sub("...".len());
    let end = text
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .take_while(|&end| end <= keep)
        .last()
        .unwrap_or(0);
    Cow::Owned(format!("{}...", text.get(..end).unwrap_or_default()))
}

/// `300 s`, or `0.3 s` for a timeout set below a second (in tests).
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// The practice rule for 550: a local part `reject` or starting with `no-such`.
fn is_rejected(local: &str) -> bool {
    let local = local.trim_matches('"').to_ascii_lowercase();
    local == "reject" || local.starts_with("no-such")
}

/// An end-of-data mark found by [`end_mark`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// CRLF.CRLF; the index just past it.
    Strict(usize),
    /// A lone dot between line ends of which one at least is a bare CR or LF.
    Loose,
}

/// The first end-of-data mark in `window`: a `.` with a CR or LF on each side. `None`
/// when there is none yet, or when the bytes that would decide are still to come.
fn end_mark(window: &[u8]) -> Option<Mark> {
    let is_end = |b: u8| b == b'\r' || b == b'\n';
    let mut from = 0;
    while let Some(offset) = memchr(b'.', &window[from..]) {
        let i = from + offset;
        from = i + 1;
        if i == 0 || !is_end(window[i - 1]) {
            continue;
        }
        let next = *window.get(i + 1)?;
        if !is_end(next) {
            continue;
        }
        let crlf_before = i >= 2 && &window[i - 2..i] == b"\r\n";
        if crlf_before && next == b'\r' {
            return match *window.get(i + 2)? {
                b'\n' => Some(Mark::Strict(i + 3)),
                _ => Some(Mark::Loose),
            };
        }
        return Some(Mark::Loose);
    }
    None
}

/// Keep the last four bytes of `tail` followed by `chunk`: enough to find an end mark that
/// straddles two reads.
fn keep_tail(tail: &mut Vec<u8>, chunk: &[u8]) {
    tail.extend_from_slice(&chunk[chunk.len().saturating_sub(END_OF_DATA.len() - 1)..]);
    let excess = tail.len().saturating_sub(END_OF_DATA.len() - 1);
    tail.drain(..excess);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn practice_rejections() {
        for local in ["reject", "REJECT", "no-such", "no-such-user", "\"reject\""] {
            assert!(is_rejected(local), "{local}");
        }
        for local in ["alice", "rejected", "nosuch", "x-no-such", "postmaster"] {
            assert!(!is_rejected(local), "{local}");
        }
    }

    #[test]
    fn end_marks() {
        let cases: &[(&[u8], Option<Mark>)] = &[
            (b"\r\n.\r\n", Some(Mark::Strict(5))),
            (b"ab\r\n.\r\nNOOP", Some(Mark::Strict(7))),
            (b"a\n.\n", Some(Mark::Loose)),
            (b"a\n.\r\n", Some(Mark::Loose)),
            (b"a\r\n.\n", Some(Mark::Loose)),
            (b"a\r.\r", Some(Mark::Loose)),
            (b"a\r\n.\rX", Some(Mark::Loose)),
            (b"a\r\n..\r\n", None),
            (b"a.\r\n", None),
            (b"a\r\n.x\r\n", None),
            (b"a\r\n.", None),
            (b"a\r\n.\r", None),
            (b".\r\n", None),
            (b"", None),
            (b"x\r\n.y\r\n.\r\n", Some(Mark::Strict(10))),
        ];
        for (window, want) in cases {
            assert_eq!(
                end_mark(window),
                *want,
                "{:?}",
                window.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn fit_cuts_at_a_character_boundary() {
        assert_eq!(fit("abc", 3), "abc");
        assert_eq!(fit("abcd", 3), "...");
        assert_eq!(fit("abcdefgh", 6), "abc...");
        // `é` is two octets: never cut through it.
        assert_eq!(fit("éééé", 7), "éé...");
        assert_eq!(fit("éééé", 6), "é...");
        assert_eq!(fit("", 0), "");
    }

    #[test]
    fn tail_keeps_four_bytes() {
        let mut tail = b"\r\n".to_vec();
        keep_tail(&mut tail, b"ab");
        assert_eq!(tail, b"\r\nab");
        keep_tail(&mut tail, b"c");
        assert_eq!(tail, b"\nabc");
        keep_tail(&mut tail, b"0123456789");
        assert_eq!(tail, b"6789");
        keep_tail(&mut tail, b"");
        assert_eq!(tail, b"6789");
    }
}
