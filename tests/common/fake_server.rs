//! [`FakeServer`]: a scripted SMTP server on `127.0.0.1:0` that serves one connection,
//! follows a list of [`Step`]s (including misbehaving on purpose), records every byte the
//! client sent, and fails the test if nobody connected to it. Its TLS is native-tls, serving
//! a [`TestCert`]; the SNI name the client sent is read from its ClientHello on the way in.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tls_parser::{
    SNIType, TlsExtension, TlsMessage, TlsMessageHandshake, parse_tls_client_hello_extensions,
    parse_tls_plaintext,
};

use super::certs::TestCert;
use super::text::escape_bytes;

/// How long the fake server waits for the client to connect.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one read (a line from the client) may take.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`Step::ExpectEof`] and [`Step::Drain`] wait for the client to close.
const EOF_TIMEOUT: Duration = Duration::from_secs(5);
/// The pause between bytes of [`Step::SendDrip`].
const DRIP_DELAY: Duration = Duration::from_millis(2);
/// Longest line the fake server reads; longer is a step failure (and bounds its memory).
const MAX_LINE: usize = 64 * 1024;
/// How long [`FakeServer::finish`] waits for the server thread.
const FINISH_TIMEOUT: Duration = Duration::from_secs(40);

/// One thing the fake server does, in order.
#[derive(Clone)]
pub enum Step {
    /// Write exactly these bytes, in one write.
    Send(Vec<u8>),
    /// Write these bytes one per write, with a small pause between them.
    SendDrip(Vec<u8>),
    /// Read one CRLF-terminated line and check that it starts with this prefix: the verb
    /// (up to the first space) compared case-insensitively, the rest exactly. Recorded.
    Expect(String),
    /// Read any one line (LF-terminated; CRLF or not) and record it.
    ReadLine,
    /// Read DATA body lines up to and including the lone `.` line, recording each.
    ReadBody,
    /// Read exactly this many bytes (BDAT data, RFC 3030), recorded in `raw` only.
    ReadBytes(usize),
    /// Pause.
    Sleep(u64),
    /// Close the connection (FIN).
    Close,
    /// Abort the connection with SO_LINGER 0, which sends a TCP RST.
    Reset,
    /// Run a server-side TLS handshake on the connection with this certificate; later steps
    /// run over TLS. Fails if the client sent anything before its ClientHello.
    StartTls(TestCert),
    /// Assert that the client sends nothing more and closes the connection (within 5 s).
    ExpectEof,
    /// Read and record whatever the client sends until it closes (at most 5 s); asserts
    /// nothing.
    Drain,
    /// Write `line` again and again until the client goes away, `max_lines` were written
    /// or `max_time` passed (bounded on purpose). See [`FloodReport`].
    Flood {
        /// The bytes written each time.
        line: Vec<u8>,
        /// At most this many writes.
        max_lines: usize,
        /// At most this long.
        max_time: Duration,
    },
    /// Serve one SASL exchange (RFC 4954): read `AUTH <mech>[ <initial-response>]`, send each
    /// `334 <challenge>` still needed and read the client's responses (recorded in
    /// [`Received::auth_responses`]), then send `success` (a whole reply with CRLF). An
    /// initial response stands for the answer to the first challenge, which is then skipped.
    Auth {
        /// The mechanism expected on the AUTH line, e.g. `PLAIN`.
        mech: String,
        /// The base64 challenges, in order (`""` for PLAIN's empty one).
        challenges: Vec<String>,
        /// The final reply, e.g. `235 2.7.0 ok\r\n`.
        success: String,
    },
}

/// `Step::Send` from text or bytes.
pub fn send(bytes: impl AsRef<[u8]>) -> Step {
    Step::Send(bytes.as_ref().to_vec())
}

/// `Step::SendDrip` from text or bytes.
pub fn drip(bytes: impl AsRef<[u8]>) -> Step {
    Step::SendDrip(bytes.as_ref().to_vec())
}

/// `Step::Expect`.
pub fn expect(prefix: &str) -> Step {
    Step::Expect(prefix.to_string())
}

/// The fake server's greeting.
pub const GREETING: &str = "220 fake.test ESMTP ready\r\n";

/// An EHLO reply advertising `caps` (the last line carries a space, the others a dash).
pub fn ehlo_reply(caps: &[&str]) -> String {
    let mut lines = vec!["fake.test"];
    lines.extend_from_slice(caps);
    let mut s = String::new();
    for (i, l) in lines.iter().enumerate() {
        let sep = if i + 1 == lines.len() { ' ' } else { '-' };
        let _ = write!(s, "250{sep}{l}\r\n");
    }
    s
}

impl Step {
    fn describe(&self) -> String {
        match self {
            Step::Send(b) => format!("Send({})", escape_bytes(b)),
            Step::SendDrip(b) => format!("SendDrip({})", escape_bytes(b)),
            Step::Expect(p) => format!("Expect({p:?})"),
            Step::ReadLine => "ReadLine".into(),
            Step::ReadBody => "ReadBody".into(),
            Step::ReadBytes(n) => format!("ReadBytes({n})"),
            Step::Sleep(ms) => format!("Sleep({ms})"),
            Step::Close => "Close".into(),
            Step::Reset => "Reset".into(),
            Step::StartTls(c) => format!("StartTls({})", c.name),
            Step::ExpectEof => "ExpectEof".into(),
            Step::Drain => "Drain".into(),
            Step::Flood { .. } => "Flood".into(),
            Step::Auth { mech, .. } => format!("Auth({mech})"),
        }
    }
}

/// What happened during a [`Step::Flood`].
#[derive(Debug, Clone)]
pub struct FloodReport {
    /// Writes that succeeded.
    pub lines_written: usize,
    /// Bytes in those writes.
    pub bytes_written: usize,
    /// The client closed or reset the connection (a write failed, or it sent FIN).
    pub client_gone: bool,
    /// From the first write until the flood stopped.
    pub elapsed: Duration,
}

/// Everything the fake server saw.
#[derive(Debug, Default)]
pub struct Received {
    /// A client connected.
    pub accepted: bool,
    /// Every byte the client sent, in order (decrypted after a `StartTls`; the TLS records
    /// themselves are not included).
    pub raw: Vec<u8>,
    /// Where in `raw` the TLS part starts, if a `StartTls` step succeeded.
    pub tls_at: Option<usize>,
    /// The SNI name the client sent in its ClientHello, if any.
    pub sni: Option<String>,
    /// The address the client connected from.
    pub peer: Option<SocketAddr>,
    /// The lines read by `Expect`, `ReadLine` and `ReadBody`, without line ends.
    pub lines: Vec<String>,
    /// The base64 responses read by `Auth` steps, in order.
    pub auth_responses: Vec<String>,
    /// Set by a `Flood` step.
    pub flood: Option<FloodReport>,
    /// How many steps completed.
    pub steps_done: usize,
    /// How many steps there were.
    pub steps_total: usize,
    /// The first step that failed, and why.
    pub failure: Option<String>,
}

impl Received {
    /// `raw` made readable.
    pub fn text(&self) -> String {
        escape_bytes(&self.raw)
    }

    /// Assert that every step ran and none failed.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.failure.is_none() && self.steps_done == self.steps_total,
            "fake server: {} ({} of {} steps done)\nit received:\n{}",
            self.failure.as_deref().unwrap_or("not all steps ran"),
            self.steps_done,
            self.steps_total,
            self.text()
        );
        self
    }

    /// Assert that the client sent exactly `expected` (plaintext and decrypted TLS bytes).
    #[track_caller]
    pub fn assert_raw(&self, expected: impl AsRef<[u8]>) -> &Self {
        let expected = expected.as_ref();
        assert!(
            self.raw == expected,
            "the client sent:\n{}\nexpected exactly:\n{}",
            self.text(),
            escape_bytes(expected)
        );
        self
    }
}

/// A scripted SMTP server for one connection. See the module docs.
pub struct FakeServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    rx: Option<mpsc::Receiver<Received>>,
    handle: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Bind `127.0.0.1:0` and serve one connection in a thread, following `steps`.
    pub fn start(steps: Vec<Step>) -> FakeServer {
        FakeServer::start_on("127.0.0.1:0", steps)
    }

    /// Like [`FakeServer::start`] on another address, e.g. `[::1]:0` or `127.0.0.2:0`.
    pub fn start_on(bind: &str, steps: Vec<Step>) -> FakeServer {
        let listener = TcpListener::bind(bind).unwrap_or_else(|e| panic!("bind {bind}: {e}"));
        let addr = listener.local_addr().expect("local_addr");
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let stop2 = Arc::clone(&stop);
        let handle = thread::Builder::new()
            .name(format!("fake-smtp-{}", addr.port()))
            .spawn(move || {
                let received = serve(listener, steps, &stop2);
                let _ = tx.send(received);
            })
            .expect("spawn the fake server");
        FakeServer {
            addr,
            stop,
            rx: Some(rx),
            handle: Some(handle),
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `127.0.0.1:PORT` (or `[::1]:PORT`, …), the positional TARGET for the binary.
    pub fn target(&self) -> String {
        self.addr.to_string()
    }

    /// Wait for the server thread (at most 40 s) and return what it saw. Fails the test if
    /// no client ever connected.
    #[track_caller]
    pub fn finish(mut self) -> Received {
        let received = self.collect();
        assert!(
            received.accepted,
            "the fake server on {} was never connected to ({})",
            self.addr,
            received.failure.as_deref().unwrap_or("")
        );
        received
    }

    /// Like [`FakeServer::finish`], for tests where not connecting at all is fine (for
    /// example when the binary may refuse its options before or after connecting).
    pub fn finish_unused_ok(mut self) -> Received {
        self.collect()
    }

    fn collect(&mut self) -> Received {
        // Stop accepting: a client that connected already is in the backlog and is still
        // accepted, since the accept loop tries accept() before it looks at this flag.
        self.stop.store(true, Ordering::SeqCst);
        let rx = self.rx.take().expect("finish called once");
        let received = rx.recv_timeout(FINISH_TIMEOUT).unwrap_or_else(|_| {
            panic!(
                "the fake server on {} did not finish within {FINISH_TIMEOUT:?}",
                self.addr
            )
        });
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        received
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if self.rx.is_some() && !thread::panicking() {
            let received = self.collect();
            assert!(
                received.accepted,
                "the fake server on {} was never connected to (and finish() was not called)",
                self.addr
            );
        }
    }
}

/// The connection, plaintext or TLS, plus bytes read but not yet consumed.
struct Conn {
    /// A second handle on the socket for shutdown, linger and timeouts, whatever `io` is.
    /// `None` (like `io`) once the connection is closed.
    tcp: Option<TcpStream>,
    io: Option<Io>,
    pending: Vec<u8>,
}

enum Io {
    Plain(TcpStream),
    Tls(Box<native_tls::TlsStream<HelloTap>>),
}

impl Read for Io {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Io::Plain(s) => s.read(buf),
            Io::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Io {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Io::Plain(s) => s.write(buf),
            Io::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Io::Plain(s) => s.flush(),
            Io::Tls(s) => s.flush(),
        }
    }
}

/// A read error that means "the peer closed": a reset, or (over TLS) a close without
/// close_notify.
fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    ) || e
        .to_string()
        .to_ascii_lowercase()
        .contains("unexpected eof")
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl Conn {
    fn set_read_timeout(&self, t: Duration) {
        if let Some(tcp) = &self.tcp {
            let _ = tcp.set_read_timeout(Some(t));
        }
    }

    fn set_write_timeout(&self, t: Duration) {
        if let Some(tcp) = &self.tcp {
            let _ = tcp.set_write_timeout(Some(t));
        }
    }

    fn io(&mut self) -> Result<&mut Io, String> {
        self.io
            .as_mut()
            .ok_or_else(|| "the connection is already closed".to_string())
    }

    /// Read more bytes into `pending` (and `rec.raw`). Ok(0) at EOF.
    fn fill(&mut self, rec: &mut Received) -> io::Result<usize> {
        let mut buf = [0u8; 8192];
        let io = self
            .io
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "closed"))?;
        let n = io.read(&mut buf)?;
        rec.raw.extend_from_slice(&buf[..n]);
        self.pending.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    /// One line including its LF.
    fn read_line(&mut self, rec: &mut Received) -> Result<Vec<u8>, String> {
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                return Ok(self.pending.drain(..=i).collect());
            }
            if self.pending.len() > MAX_LINE {
                return Err(format!("the client sent a line over {MAX_LINE} bytes"));
            }
            match self.fill(rec) {
                Ok(0) => {
                    return Err(format!(
                        "the client closed the connection (partial line: {:?})",
                        escape_bytes(&self.pending)
                    ));
                }
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {
                    return Err(format!(
                        "no line from the client within {READ_TIMEOUT:?} (partial: {:?})",
                        escape_bytes(&self.pending)
                    ));
                }
                Err(e) => return Err(format!("read failed: {e}")),
            }
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), String> {
        let io = self.io()?;
        io.write_all(bytes)
            .and_then(|_| io.flush())
            .map_err(|e| format!("write failed: {e}"))
    }

    /// Read until EOF (or the deadline). Returns the bytes read and whether EOF came.
    fn read_to_close(&mut self, rec: &mut Received) -> (Vec<u8>, bool) {
        // Bytes already in `pending` were recorded in `rec.raw` when they arrived.
        let mut got = std::mem::take(&mut self.pending);
        let deadline = Instant::now() + EOF_TIMEOUT;
        self.set_read_timeout(Duration::from_millis(100));
        let closed = loop {
            if Instant::now() >= deadline {
                break false;
            }
            match self.fill(rec) {
                Ok(0) => break true,
                Ok(_) => got.append(&mut self.pending),
                Err(e) if is_timeout(&e) => {}
                Err(e) if is_closed(&e) => break true,
                Err(_) => break true,
            }
        };
        self.set_read_timeout(READ_TIMEOUT);
        (got, closed)
    }
}

/// `line` starts with `prefix`: the verb case-insensitively, the rest exactly.
fn line_matches(line: &[u8], prefix: &str) -> bool {
    let p = prefix.as_bytes();
    if line.len() < p.len() {
        return false;
    }
    let verb_len = p.iter().position(|&b| b == b' ').unwrap_or(p.len());
    line[..verb_len].eq_ignore_ascii_case(&p[..verb_len])
        && line[verb_len..p.len()] == p[verb_len..]
}

fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn serve(listener: TcpListener, steps: Vec<Step>, stop: &AtomicBool) -> Received {
    let mut rec = Received {
        steps_total: steps.len(),
        ..Received::default()
    };
    if let Err(e) = listener.set_nonblocking(true) {
        rec.failure = Some(format!("set_nonblocking: {e}"));
        return rec;
    }
    let deadline = Instant::now() + ACCEPT_TIMEOUT;
    let stream = loop {
        match listener.accept() {
            Ok((s, peer)) => {
                rec.peer = Some(peer);
                break s;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if stop.load(Ordering::SeqCst) || Instant::now() >= deadline {
                    rec.failure = Some("no client connected".into());
                    return rec;
                }
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => {
                rec.failure = Some(format!("accept failed: {e}"));
                return rec;
            }
        }
    };
    drop(listener); // later connections are refused, not left hanging in the backlog
    rec.accepted = true;
    let setup = stream
        .set_nonblocking(false)
        .and_then(|_| stream.set_nodelay(true))
        .and_then(|_| stream.set_read_timeout(Some(READ_TIMEOUT)))
        .and_then(|_| stream.set_write_timeout(Some(READ_TIMEOUT)))
        .and_then(|_| stream.try_clone());
    let tcp = match setup {
        Ok(t) => t,
        Err(e) => {
            rec.failure = Some(format!("socket setup: {e}"));
            return rec;
        }
    };
    let mut conn = Conn {
        tcp: Some(tcp),
        io: Some(Io::Plain(stream)),
        pending: Vec::new(),
    };
    for (i, step) in steps.into_iter().enumerate() {
        let what = step.describe();
        if let Err(e) = run_step(&mut conn, step, &mut rec) {
            rec.failure = Some(format!("step {} {what}: {e}", i + 1));
            break;
        }
        rec.steps_done += 1;
    }
    rec
}

fn run_step(conn: &mut Conn, step: Step, rec: &mut Received) -> Result<(), String> {
    match step {
        Step::Send(bytes) => conn.write_all(&bytes),
        Step::SendDrip(bytes) => {
            for b in bytes {
                conn.write_all(&[b])?;
                thread::sleep(DRIP_DELAY);
            }
            Ok(())
        }
        Step::Expect(prefix) => {
            let line = conn.read_line(rec)?;
            rec.lines
                .push(String::from_utf8_lossy(strip_eol(&line)).into_owned());
            if !line.ends_with(b"\r\n") {
                return Err(format!(
                    "line not CRLF-terminated: {:?}",
                    escape_bytes(&line)
                ));
            }
            if !line_matches(&line, &prefix) {
                return Err(format!(
                    "expected a line starting with {prefix:?}, got {:?}",
                    escape_bytes(&line)
                ));
            }
            Ok(())
        }
        Step::ReadBytes(n) => {
            while conn.pending.len() < n {
                match conn.fill(rec) {
                    Ok(0) => {
                        return Err(format!(
                            "the client closed after {} of {n} bytes",
                            conn.pending.len()
                        ));
                    }
                    Ok(_) => {}
                    Err(e) => return Err(format!("read failed: {e}")),
                }
            }
            conn.pending.drain(..n);
            Ok(())
        }
        Step::ReadLine => {
            let line = conn.read_line(rec)?;
            rec.lines
                .push(String::from_utf8_lossy(strip_eol(&line)).into_owned());
            Ok(())
        }
        Step::ReadBody => loop {
            let line = conn.read_line(rec)?;
            let text = strip_eol(&line);
            rec.lines.push(String::from_utf8_lossy(text).into_owned());
            if text == b"." {
                return Ok(());
            }
        },
        Step::Sleep(ms) => {
            thread::sleep(Duration::from_millis(ms));
            Ok(())
        }
        Step::Close => {
            let tcp = conn.tcp.take().ok_or("the connection is already closed")?;
            let _ = tcp.shutdown(Shutdown::Both);
            conn.io = None;
            Ok(())
        }
        Step::Reset => {
            let tcp = conn.tcp.take().ok_or("the connection is already closed")?;
            socket2::SockRef::from(&tcp)
                .set_linger(Some(Duration::ZERO))
                .map_err(|e| format!("SO_LINGER: {e}"))?;
            // Closing the last descriptors of a socket with linger 0 sends RST.
            conn.io = None;
            drop(tcp);
            Ok(())
        }
        Step::StartTls(cert) => {
            if !conn.pending.is_empty() {
                return Err(format!(
                    "the client sent bytes before the TLS handshake: {:?}",
                    escape_bytes(&conn.pending)
                ));
            }
            let tcp = match conn.io.take() {
                Some(Io::Plain(s)) => s,
                Some(Io::Tls(_)) => return Err("TLS is already on".into()),
                None => return Err("the connection is already closed".into()),
            };
            let acceptor = cert.acceptor().map_err(|e| format!("acceptor: {e}"))?;
            match acceptor.accept(HelloTap::new(tcp)) {
                Ok(s) => {
                    rec.sni = s.get_ref().sni.clone().flatten();
                    rec.tls_at = Some(rec.raw.len());
                    conn.io = Some(Io::Tls(Box::new(s)));
                    Ok(())
                }
                Err(native_tls::HandshakeError::Failure(e)) => {
                    Err(format!("TLS handshake failed: {e}"))
                }
                Err(native_tls::HandshakeError::WouldBlock(_)) => {
                    Err("TLS handshake timed out".into())
                }
            }
        }
        Step::ExpectEof => {
            let (got, closed) = conn.read_to_close(rec);
            if !got.is_empty() {
                return Err(format!(
                    "expected nothing more, the client sent: {:?}",
                    escape_bytes(&got)
                ));
            }
            if !closed {
                return Err(format!("the client did not close within {EOF_TIMEOUT:?}"));
            }
            Ok(())
        }
        Step::Drain => {
            let (got, _) = conn.read_to_close(rec);
            for l in got.split_inclusive(|&b| b == b'\n') {
                rec.lines
                    .push(String::from_utf8_lossy(strip_eol(l)).into_owned());
            }
            Ok(())
        }
        Step::Flood {
            line,
            max_lines,
            max_time,
        } => {
            let started = Instant::now();
            let mut report = FloodReport {
                lines_written: 0,
                bytes_written: 0,
                client_gone: false,
                elapsed: Duration::ZERO,
            };
            conn.set_write_timeout(Duration::from_millis(500));
            while report.lines_written < max_lines && started.elapsed() < max_time {
                let io = conn.io()?;
                match io.write_all(&line) {
                    Ok(()) => {
                        report.lines_written += 1;
                        report.bytes_written += line.len();
                    }
                    Err(e) if is_timeout(&e) => {} // the client is not reading; keep trying
                    Err(_) => {
                        report.client_gone = true;
                        break;
                    }
                }
            }
            if let (false, Some(tcp)) = (report.client_gone, &conn.tcp) {
                // A client that closed while our writes still fitted in the socket buffers
                // shows up as EOF on the read side.
                let _ = tcp.set_nonblocking(true);
                let mut b = [0u8; 1];
                report.client_gone = match tcp.peek(&mut b) {
                    Ok(0) => true,
                    Ok(_) => false,
                    Err(e) => is_closed(&e),
                };
                let _ = tcp.set_nonblocking(false);
            }
            report.elapsed = started.elapsed();
            conn.set_write_timeout(READ_TIMEOUT);
            rec.flood = Some(report);
            Ok(())
        }
        Step::Auth {
            mech,
            challenges,
            success,
        } => {
            let line = conn.read_line(rec)?;
            let text = String::from_utf8_lossy(strip_eol(&line)).into_owned();
            rec.lines.push(text.clone());
            let mut words = text.split(' ');
            let verb = words.next().unwrap_or("");
            let got_mech = words.next().unwrap_or("");
            let initial = words.next();
            if !verb.eq_ignore_ascii_case("AUTH") || !got_mech.eq_ignore_ascii_case(&mech) {
                return Err(format!("expected AUTH {mech}, got {text:?}"));
            }
            if words.next().is_some() || !line.ends_with(b"\r\n") {
                return Err(format!("malformed AUTH line {:?}", escape_bytes(&line)));
            }
            let mut skip = 0;
            if let Some(ir) = initial {
                rec.auth_responses.push(ir.to_string());
                skip = 1;
            }
            for c in challenges.iter().skip(skip) {
                conn.write_all(format!("334 {c}\r\n").as_bytes())?;
                let resp = conn.read_line(rec)?;
                if !resp.ends_with(b"\r\n") {
                    return Err("AUTH response not CRLF-terminated".into());
                }
                let resp = String::from_utf8_lossy(strip_eol(&resp)).into_owned();
                if resp == "*" {
                    return Err("the client cancelled the exchange".into());
                }
                rec.auth_responses.push(resp);
            }
            conn.write_all(success.as_bytes())
        }
    }
}

/// The socket under the fake server's TLS. native-tls does not tell a server the SNI name
/// the client sent (RFC 6066 §3), so this keeps the client's first bytes until its
/// ClientHello can be read.
pub struct HelloTap {
    tcp: TcpStream,
    seen: Vec<u8>,
    /// `None` until the ClientHello was read; then the name it carried, if any.
    pub sni: Option<Option<String>>,
}

impl HelloTap {
    fn new(tcp: TcpStream) -> HelloTap {
        HelloTap {
            tcp,
            seen: Vec::new(),
            sni: None,
        }
    }

    fn look(&mut self) {
        match parse_tls_plaintext(&self.seen) {
            Ok((_, record)) => {
                let mut name = None;
                for m in record.msg {
                    if let TlsMessage::Handshake(TlsMessageHandshake::ClientHello(hello)) = m
                        && let Some(Ok((_, exts))) =
                            hello.ext.map(parse_tls_client_hello_extensions)
                    {
                        for e in exts {
                            if let TlsExtension::SNI(names) = e {
                                name = names
                                    .iter()
                                    .find(|(t, _)| *t == SNIType::HostName)
                                    .map(|(_, n)| String::from_utf8_lossy(n).into_owned());
                            }
                        }
                    }
                }
                self.sni = Some(name);
            }
            Err(tls_parser::Err::Incomplete(_)) if self.seen.len() < 64 * 1024 => {}
            Err(_) => self.sni = Some(None),
        }
    }
}

impl Read for HelloTap {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.tcp.read(buf)?;
        if self.sni.is_none() {
            self.seen.extend_from_slice(&buf[..n]);
            self.look();
        }
        Ok(n)
    }
}

impl Write for HelloTap {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}
