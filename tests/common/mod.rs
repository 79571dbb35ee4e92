//! The shared harness of the integration tests.
//!
//! - [`smtpsh`]: the real binary, set up so that a test can't touch the real home directory,
//!   can't pick up a password from the environment, and can't hang forever.
//! - [`FakeServer`]: a scripted SMTP server on `127.0.0.1:0` that serves one connection,
//!   follows a list of [`Step`]s (including misbehaving on purpose), records every byte the
//!   client sent, and fails the test if nobody connected to it.
//! - [`TestCerts`]: throwaway self-signed certificates made with the `openssl` crate and
//!   written as PEM to a temporary directory, so the binary can be given `--cafile`.
//!
//! Each test crate uses a different part of this module, hence the `dead_code` allowance.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use assert_cmd::Command;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{NameType, SslAcceptor, SslMethod, SslStream, SslVersion};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, SubjectAlternativeName, SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509NameBuilder};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_smtpsh");

/// How long the binary may run before the test kills it and fails.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------------------

/// A command for the binary with `NO_COLOR=1`, a fresh empty `HOME` (so no history file
/// lands in the real home), no `SMTPSH_PASSWORD`, and a run timeout.
///
/// The home directory is kept under Cargo's `target/tmp/` (a temporary directory would be
/// deleted before the command runs, since an `assert_cmd::Command` can't own it).
pub fn smtpsh() -> Command {
    let home = tempfile::Builder::new()
        .prefix("home-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("create a HOME for the test")
        .keep();
    smtpsh_with_home(&home)
}

/// Like [`smtpsh`], with `HOME` (and the XDG directories) under `home`, for tests that look
/// at what the binary left there.
pub fn smtpsh_with_home(home: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("NO_COLOR", "1")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env_remove("SMTPSH_PASSWORD")
        .env_remove("SMTPSH_TOKEN")
        .timeout(RUN_TIMEOUT);
    cmd
}

/// What one run of the binary did.
pub struct Run {
    /// The exit code; `None` when it was killed (by the run timeout, for example).
    pub code: Option<i32>,
    /// stdout, bytes as written.
    pub stdout_raw: Vec<u8>,
    /// stderr, bytes as written.
    pub stderr_raw: Vec<u8>,
    /// stdout, lossily decoded.
    pub stdout: String,
    /// stderr, lossily decoded.
    pub stderr: String,
    /// Wall-clock time from spawn to exit.
    pub elapsed: Duration,
}

/// Run `cmd` to completion and print what it wrote (libtest shows it when a test fails).
pub fn run(cmd: &mut Command) -> Run {
    let run = run_quiet(cmd);
    println!("{}", run.describe());
    run
}

/// Run `cmd` to completion without printing (for harnesses that don't capture output).
pub fn run_quiet(cmd: &mut Command) -> Run {
    let started = Instant::now();
    let out = cmd.output().expect("run smtpsh");
    let elapsed = started.elapsed();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        stdout_raw: out.stdout,
        stderr_raw: out.stderr,
        elapsed,
    }
}

impl Run {
    /// Exit code, stdout and stderr, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "--- smtpsh exited with {:?} after {:?}\n--- stdout:\n{}\n--- stderr:\n{}\n---",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }

    /// Assert the exit code.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit code {code}\n{}",
            self.describe()
        );
        self
    }

    /// stdout and stderr together, for "appears nowhere" checks.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Assert that `needle` appears neither on stdout nor on stderr.
    #[track_caller]
    pub fn assert_not_shown(&self, what: &str, needle: &str) -> &Self {
        assert!(!needle.is_empty());
        assert!(
            !self.all_output().contains(needle),
            "{what} ({needle:?}) was shown\n{}",
            self.describe()
        );
        self
    }

    /// Assert that a line of stdout starts with `prefix`.
    #[track_caller]
    pub fn assert_stdout_line(&self, prefix: &str) -> &Self {
        assert!(
            self.stdout.lines().any(|l| l.starts_with(prefix)),
            "no stdout line starts with {prefix:?}\n{}",
            self.describe()
        );
        self
    }
}

/// Write `bytes` to `dir/name` and return the path.
pub fn write_file(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write test file");
    path
}

/// A token that no other test (in this run or any other) will use.
pub fn unique_token(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut rand = [0u8; 4];
    openssl::rand::rand_bytes(&mut rand).expect("random bytes");
    format!(
        "{prefix}-{}-{nanos:x}-{n}-{}",
        std::process::id(),
        hex_lower(&rand)
    )
}

/// Bytes as text with everything outside printable ASCII escaped (`\r`, `\n`, `\xHH`), for
/// readable failure messages.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s
}

/// Lower-case hex.
pub fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

// ---------------------------------------------------------------------------------------
// The fake server
// ---------------------------------------------------------------------------------------

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
    /// Like `StartTls`, but the handshake requires a client certificate that `client_ca`
    /// (a self-signed certificate, trusted as is) verifies; its subject goes to
    /// [`Received::client_cert`].
    StartTlsClientAuth {
        /// The server's certificate.
        cert: TestCert,
        /// The certificate the client must present.
        client_ca: TestCert,
    },
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
            Step::StartTlsClientAuth { cert, .. } => format!("StartTlsClientAuth({})", cert.name),
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
    /// The subject of the client certificate verified by a `StartTlsClientAuth` step.
    pub client_cert: Option<String>,
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
    Tls(Box<SslStream<TcpStream>>),
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
        Step::StartTlsClientAuth { cert, client_ca } => {
            if !conn.pending.is_empty() {
                return Err("the client sent bytes before the TLS handshake".into());
            }
            let tcp = match conn.io.take() {
                Some(Io::Plain(s)) => s,
                _ => return Err("not a plain connection".into()),
            };
            let acceptor =
                client_auth_acceptor(&cert, &client_ca).map_err(|e| format!("acceptor: {e}"))?;
            match acceptor.accept(tcp) {
                Ok(s) => {
                    rec.client_cert = s.ssl().peer_certificate().map(|c| {
                        c.subject_name()
                            .entries()
                            .filter_map(|e| e.data().to_string().ok())
                            .collect::<Vec<_>>()
                            .join(",")
                    });
                    rec.tls_at = Some(rec.raw.len());
                    conn.io = Some(Io::Tls(Box::new(s)));
                    Ok(())
                }
                Err(e) => {
                    // Keep the socket a moment so the client reads our alert (a close with
                    // its data unread would reset the connection and lose the alert).
                    if let Some(tcp) = &conn.tcp {
                        let _ = tcp.set_read_timeout(Some(Duration::from_millis(500)));
                        let _ = (&*tcp).read(&mut [0u8; 4096]);
                    }
                    Err(format!("TLS handshake failed: {e}"))
                }
            }
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
            let acceptor = acceptor(&cert).map_err(|e| format!("acceptor: {e}"))?;
            match acceptor.accept(tcp) {
                Ok(s) => {
                    rec.sni = s.ssl().servername(NameType::HOST_NAME).map(str::to_string);
                    rec.tls_at = Some(rec.raw.len());
                    conn.io = Some(Io::Tls(Box::new(s)));
                    Ok(())
                }
                Err(e) => Err(format!("TLS handshake failed: {e}")),
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

// ---------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------

/// A self-signed certificate and its key, in memory and as PEM files.
#[derive(Clone)]
pub struct TestCert {
    /// A short name for messages.
    pub name: &'static str,
    /// The certificate.
    pub cert: X509,
    /// Its private key.
    pub key: PKey<Private>,
    /// The certificate as PEM (give this to `--cafile`).
    pub cert_pem: PathBuf,
    /// The key as PEM.
    pub key_pem: PathBuf,
}

impl TestCert {
    /// The SHA-256 fingerprint as upper-case hex without separators.
    pub fn sha256_hex(&self) -> String {
        let d = self
            .cert
            .digest(MessageDigest::sha256())
            .expect("digest the certificate");
        hex_lower(&d).to_ascii_uppercase()
    }
}

/// The certificates the TLS tests use, written to a temporary directory that lives as long
/// as this value.
pub struct TestCerts {
    /// Where the PEM files are.
    pub dir: tempfile::TempDir,
    /// CN `localhost`; SAN DNS `localhost`, IP 127.0.0.1 and ::1.
    pub localhost: TestCert,
    /// CN `wrong.example`; SAN DNS `wrong.example` only.
    pub wrong: TestCert,
    /// CN `localhost`; SAN DNS `localhost` only (no IP), so that connecting to 127.0.0.1
    /// verifies only with `--tls-name localhost`.
    pub localhost_dns_only: TestCert,
    /// CN `smtpsh-client`: a client certificate for `--tls-cert`/`--tls-key`.
    pub client: TestCert,
}

impl TestCerts {
    /// Make (once per test process) and write (once per call) the test certificates.
    pub fn new() -> TestCerts {
        type Made = (X509, PKey<Private>);
        static MADE: OnceLock<(Made, Made, Made, Made)> = OnceLock::new();
        let (l, w, d, c) = MADE.get_or_init(|| {
            (
                make_cert("localhost", &["localhost"], &["127.0.0.1", "::1"]),
                make_cert("wrong.example", &["wrong.example"], &[]),
                make_cert("localhost", &["localhost"], &[]),
                make_cert("smtpsh-client", &["smtpsh-client"], &[]),
            )
        });
        let dir = tempfile::tempdir().expect("tempdir for certificates");
        let write = |name: &'static str, (cert, key): &Made| {
            let cert_pem = write_file(
                dir.path(),
                &format!("{name}.crt.pem"),
                cert.to_pem().expect("certificate to PEM"),
            );
            let key_pem = write_file(
                dir.path(),
                &format!("{name}.key.pem"),
                key.private_key_to_pem_pkcs8().expect("key to PEM"),
            );
            TestCert {
                name,
                cert: cert.clone(),
                key: key.clone(),
                cert_pem,
                key_pem,
            }
        };
        TestCerts {
            localhost: write("localhost", l),
            wrong: write("wrong", w),
            localhost_dns_only: write("localhost-dns-only", d),
            client: write("client", c),
            dir,
        }
    }
}

/// A self-signed certificate shaped like `openssl req -x509` makes it (and like the
/// Postfix suite's): basicConstraints CA:TRUE, subject and authority key ids, and the given
/// subjectAltNames; a P-256 key, valid from an hour ago for 30 days.
fn make_cert(cn: &str, dns: &[&str], ips: &[&str]) -> (X509, PKey<Private>) {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
    let key = PKey::from_ec_key(EcKey::generate(&group).expect("EC key")).expect("PKey");

    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_nid(Nid::COMMONNAME, cn).expect("CN");
    let name = name.build();

    let mut b = X509::builder().expect("X509 builder");
    b.set_version(2).expect("v3");
    let mut serial = BigNum::new().expect("bn");
    serial
        .rand(127, MsbOption::MAYBE_ZERO, false)
        .expect("serial");
    let serial = Asn1Integer::from_bn(&serial).expect("serial");
    b.set_serial_number(&serial).expect("serial");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(&name).expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    b.set_not_before(&Asn1Time::from_unix(now - 3600).expect("time"))
        .expect("not_before");
    b.set_not_after(&Asn1Time::days_from_now(30).expect("time"))
        .expect("not_after");
    b.append_extension(BasicConstraints::new().critical().ca().build().expect("bc"))
        .expect("bc");
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(None, None))
        .expect("ski");
    b.append_extension(ski).expect("ski");
    let aki = AuthorityKeyIdentifier::new()
        .keyid(true)
        .build(&b.x509v3_context(None, None))
        .expect("aki");
    b.append_extension(aki).expect("aki");
    let mut san = SubjectAlternativeName::new();
    for d in dns {
        san.dns(d);
    }
    for ip in ips {
        san.ip(ip);
    }
    let san = san.build(&b.x509v3_context(None, None)).expect("san");
    b.append_extension(san).expect("san");
    b.sign(&key, MessageDigest::sha256()).expect("sign");
    (b.build(), key)
}

/// A server-side acceptor for `cert` that requires a client certificate verified by
/// `client_ca`.
pub fn client_auth_acceptor(
    cert: &TestCert,
    client_ca: &TestCert,
) -> Result<SslAcceptor, openssl::error::ErrorStack> {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    b.set_min_proto_version(Some(SslVersion::TLS1_2))?;
    b.set_private_key(&cert.key)?;
    b.set_certificate(&cert.cert)?;
    b.check_private_key()?;
    b.cert_store_mut().add_cert(client_ca.cert.clone())?;
    b.set_verify(
        openssl::ssl::SslVerifyMode::PEER | openssl::ssl::SslVerifyMode::FAIL_IF_NO_PEER_CERT,
    );
    Ok(b.build())
}

/// A server-side TLS acceptor (TLS 1.2 and later) for `cert`.
pub fn acceptor(cert: &TestCert) -> Result<SslAcceptor, openssl::error::ErrorStack> {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    b.set_min_proto_version(Some(SslVersion::TLS1_2))?;
    b.set_private_key(&cert.key)?;
    b.set_certificate(&cert.cert)?;
    b.check_private_key()?;
    Ok(b.build())
}

// ---------------------------------------------------------------------------------------
// SASL helpers
// ---------------------------------------------------------------------------------------

/// Standard base64 with padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    openssl::base64::encode_block(bytes.as_ref())
}

/// Decode standard base64.
pub fn unb64(text: &str) -> Vec<u8> {
    openssl::base64::decode_block(text).unwrap_or_else(|e| panic!("bad base64 {text:?}: {e}"))
}

/// The CRAM-MD5 response text (RFC 2195): `user SP hex(HMAC-MD5(password, challenge))`,
/// lower-case hex, before base64.
pub fn cram_md5_response(user: &str, password: &str, challenge: &[u8]) -> String {
    let key = PKey::hmac(password.as_bytes()).expect("HMAC key");
    let mut signer =
        openssl::sign::Signer::new(MessageDigest::md5(), &key).expect("HMAC-MD5 signer");
    signer.update(challenge).expect("HMAC update");
    let mac = signer.sign_to_vec().expect("HMAC");
    format!("{user} {}", hex_lower(&mac))
}

// ---------------------------------------------------------------------------------------
// Golden transcripts
// ---------------------------------------------------------------------------------------

/// Make a transcript comparable between runs: a number before ` ms` or after a JSON `"ms":`
/// becomes `T`, and a queue id after `queued as ` becomes `ID`. Ports are the caller's.
pub fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(|c: char| c.is_ascii_alphanumeric()) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let word = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        if out.ends_with("queued as ") {
            out.push_str("ID");
            rest = &rest[word..];
            continue;
        }
        if !rest.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str(&rest[..word]);
            rest = &rest[word..];
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let is_time = rest[end..].starts_with(" ms") || out.ends_with("\"ms\":");
        out.push_str(if is_time { "T" } else { &rest[..end] });
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A transcript with what varies from run to run replaced, line by line: times (as
/// [`normalise`]), `127.0.0.1:PORT`, 14-digit queue ids, CRAM-MD5 challenges, certificate
/// fingerprints and validity dates. Used where a document shows a real transcript
/// (docs/tutorial.md, README.md).
pub fn stable(text: &str) -> String {
    let mut out = Vec::new();
    for line in normalise(text).lines() {
        let mut l = line.to_string();
        // 127.0.0.1:PORT, every occurrence.
        let mut from = 0;
        while let Some(i) = l[from..].find("127.0.0.1:").map(|i| from + i + 10) {
            let end = l[i..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(l.len(), |j| i + j);
            l.replace_range(i..end, "PORT");
            from = i;
        }
        // Queue ids: 14 upper-case hex digits.
        let words: Vec<String> = l
            .split(' ')
            .map(|w| {
                let core = w.trim_matches(|c| c == '(' || c == ')' || c == ',');
                if core.len() == 14
                    && core
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
                {
                    w.replace(core, "QUEUEID")
                } else {
                    w.to_string()
                }
            })
            .collect();
        l = words.join(" ");
        // CRAM-MD5 challenges are fresh every time (RFC 2195): so are their decodings.
        if l.contains(" 334 ") && l.len() > 40 {
            l = format!("{} CHALLENGE", &l[..l.find(" 334 ").unwrap() + 4]);
        }
        if l.starts_with("* challenge decodes to: <") {
            l = "* challenge decodes to: <CHALLENGE>".to_string();
        }
        if let Some(i) = l.find("SHA-256 ") {
            l.truncate(i + "SHA-256".len());
        }
        for label in ["*   sha256", "*   valid"] {
            if l.starts_with(label) {
                l.truncate(label.len());
            }
        }
        out.push(l);
    }
    out.join("\n")
}

/// The test Postfix (ci/postfix-setup.sh) is there: a connection to `addr` gets a 220
/// within 2 s.
pub fn postfix_probe(addr: &str) -> Result<(), String> {
    let addr: SocketAddr = addr.parse().expect("address");
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("connect: {e}"))?;
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !got.contains(&b'\n') {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("no greeting within 2 s".into());
        }
        s.set_read_timeout(Some(left))
            .map_err(|e| format!("set_read_timeout: {e}"))?;
        match s.read(&mut buf) {
            Ok(0) => return Err("closed before a greeting".into()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("no greeting: {e}")),
        }
    }
    let _ = s.write_all(b"QUIT\r\n");
    if got.starts_with(b"220") {
        Ok(())
    } else {
        Err(format!(
            "the greeting is not a 220: {:?}",
            String::from_utf8_lossy(&got)
        ))
    }
}

/// Whether a missing peer program fails the test (CI) or skips it (a developer's machine).
pub fn peers_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("SMTPSH_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// `path` if it exists; otherwise `None` after a note, or a panic when peers are required.
pub fn peer_program(path: &'static str, package: &str) -> Option<&'static str> {
    if Path::new(path).exists() {
        return Some(path);
    }
    if peers_required() {
        panic!(
            "{path} is missing (apt-get install {package}); CI and SMTPSH_REQUIRE_PEERS=1 need it"
        );
    }
    println!("skipped: {path} is not installed (apt-get install {package})");
    None
}

/// Compare `got` with tests/golden/NAME; with `SMTPSH_BLESS=1`, write it instead.
pub fn golden(name: &str, got: &str) -> Result<(), String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("SMTPSH_BLESS").is_some() {
        return std::fs::write(&path, got).map_err(|e| format!("{}: {e}", path.display()));
    }
    let want = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if want == got {
        Ok(())
    } else {
        Err(format!(
            "{} differs (SMTPSH_BLESS=1 rewrites it)\n--- want\n{want}\n--- got\n{got}",
            path.display()
        ))
    }
}

#[test]
fn normalise_replaces_times_and_queue_ids_only() {
    assert_eq!(
        normalise("S: 250 [2.0.0] queued as 4F2A1  (12.5 ms)\n{\"code\":250,\"ms\":0.094}"),
        "S: 250 [2.0.0] queued as ID  (T ms)\n{\"code\":250,\"ms\":T}"
    );
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
