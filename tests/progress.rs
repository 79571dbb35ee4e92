//! Progress you can see and long work you can stop (issue 17): the bar of `:send` on a
//! terminal against a deliberately slow server, Ctrl-C in the middle of a body at the prompt
//! and SIGINT in a script (the server is left with no message), and no progress bytes in
//! anything redirected.
//!
//! The server here is this file's own: it reads message bodies slowly on purpose and keeps
//! what it received — whole messages (ended by CRLF.CRLF, or a BDAT LAST chunk) apart from
//! bodies cut off by a closed connection — so tests assert on its store, not on exit codes.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod common;

use common::BIN;
use common::pty::Pty;

/// What the slow server received.
#[derive(Debug, Default)]
struct Store {
    /// Messages received whole: the body bytes after 354, up to and with CRLF.CRLF.
    delivered: Vec<Vec<u8>>,
    /// Octets of each body cut off by the client closing the connection.
    cut_off: Vec<u64>,
    /// The command lines, in order, across connections.
    commands: Vec<String>,
}

/// A local SMTP server that reads bodies slowly (while `slow` is set), for `conns`
/// connections one after the other.
struct SlowServer {
    addr: SocketAddr,
    store: Arc<Mutex<Store>>,
    /// Body octets read so far (all connections).
    body: Arc<AtomicU64>,
    slow: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How the slow server reads a body: this many octets, then a pause.
const SIP: usize = 8 * 1024;
const PAUSE: Duration = Duration::from_millis(4);

impl SlowServer {
    /// `silent_noop`: NOOP gets no reply at all (a server that stalls), for waits.
    fn start(conns: usize, silent_noop: bool) -> SlowServer {
        // A small receive buffer keeps the kernel from swallowing megabytes the server has
        // not read, so what the client has sent follows what the server reads.
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("a socket");
        sock.set_recv_buffer_size(16 * 1024).expect("SO_RCVBUF");
        sock.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .expect("bind");
        sock.listen(8).expect("listen");
        let listener: TcpListener = sock.into();
        let addr = listener.local_addr().unwrap();
        let store = Arc::new(Mutex::new(Store::default()));
        let body = Arc::new(AtomicU64::new(0));
        let slow = Arc::new(AtomicBool::new(true));
        let (st, bd, sl) = (store.clone(), body.clone(), slow.clone());
        let thread = std::thread::spawn(move || {
            for _ in 0..conns {
                let Ok((s, _)) = listener.accept() else {
                    return;
                };
                serve(s, &st, &bd, &sl, silent_noop);
            }
        });
        SlowServer {
            addr,
            store,
            body,
            slow,
            thread: Some(thread),
        }
    }

    fn target(&self) -> String {
        self.addr.to_string()
    }

    /// Read at full speed from now on, wait for the server to be done and return its store.
    fn finish(mut self) -> Store {
        self.slow.store(false, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("the server thread");
        }
        std::mem::take(&mut *self.store.lock().unwrap())
    }

    /// Wait until the server has read at least `octets` of a body.
    #[track_caller]
    fn wait_for_body(&self, octets: u64) {
        let until = Instant::now() + Duration::from_secs(20);
        while self.body.load(Ordering::SeqCst) < octets {
            assert!(Instant::now() < until, "the body never arrived");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn serve(s: TcpStream, store: &Mutex<Store>, body: &AtomicU64, slow: &AtomicBool, silent: bool) {
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let _ = w.write_all(b"220 slow.test ESMTP\r\n");
    // Octets of a BDAT message whose LAST chunk has not come yet.
    let mut bdat = 0u64;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            if bdat > 0 {
                store.lock().unwrap().cut_off.push(bdat);
            }
            return;
        }
        let line = line.trim_end().to_string();
        store.lock().unwrap().commands.push(line.clone());
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-slow.test\r\n250-PIPELINING\r\n250 CHUNKING\r\n"
        } else if upper == "DATA" {
            let _ = w.write_all(b"354 go ahead\r\n");
            match read_body(&mut r, body, slow) {
                Ok(msg) => {
                    store.lock().unwrap().delivered.push(msg);
                    b"250 2.0.0 kept\r\n"
                }
                Err(n) => {
                    store.lock().unwrap().cut_off.push(n);
                    return;
                }
            }
        } else if let Some(rest) = upper.strip_prefix("BDAT ") {
            // A LAST chunk completes the message; what is kept of it is that chunk.
            let mut words = rest.split(' ');
            let n: u64 = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            let last = words.next() == Some("LAST");
            let chunk = read_chunk(&mut r, n, body, slow);
            let got = chunk.len() as u64;
            bdat += got;
            if got < n {
                store.lock().unwrap().cut_off.push(bdat);
                return;
            }
            if last {
                bdat = 0;
                store.lock().unwrap().delivered.push(chunk);
            }
            b"250 2.0.0 chunk kept\r\n"
        } else if upper == "QUIT" {
            let _ = w.write_all(b"221 2.0.0 bye\r\n");
            return;
        } else if upper == "NOOP" && silent {
            continue;
        } else {
            b"250 2.0.0 ok\r\n"
        };
        if w.write_all(reply).is_err() {
            return;
        }
    }
}

/// A DATA body up to CRLF.CRLF, read in sips with pauses while `slow`; `Err(octets)` when
/// the connection ended first.
fn read_body(
    r: &mut BufReader<TcpStream>,
    body: &AtomicU64,
    slow: &AtomicBool,
) -> Result<Vec<u8>, u64> {
    let mut msg: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; SIP];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) | Err(_) => return Err(msg.len() as u64),
            Ok(n) => n,
        };
        msg.extend_from_slice(&buf[..n]);
        body.fetch_add(n as u64, Ordering::SeqCst);
        if msg.ends_with(b"\r\n.\r\n") {
            return Ok(msg);
        }
        if slow.load(Ordering::SeqCst) {
            std::thread::sleep(PAUSE);
        }
    }
}

/// A BDAT chunk of `n` octets, read in sips with pauses while `slow`; shorter when the
/// connection ended first.
fn read_chunk(
    r: &mut BufReader<TcpStream>,
    n: u64,
    body: &AtomicU64,
    slow: &AtomicBool,
) -> Vec<u8> {
    let mut chunk = Vec::new();
    let mut buf = vec![0u8; SIP];
    while (chunk.len() as u64) < n {
        let want = (n - chunk.len() as u64).min(SIP as u64) as usize;
        let got = match r.read(&mut buf[..want]) {
            Ok(0) | Err(_) => break,
            Ok(got) => got,
        };
        chunk.extend_from_slice(&buf[..got]);
        body.fetch_add(got as u64, Ordering::SeqCst);
        if slow.load(Ordering::SeqCst) {
            std::thread::sleep(PAUSE);
        }
    }
    chunk
}

fn tmp() -> PathBuf {
    tempfile::Builder::new()
        .prefix("progress-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep()
}

/// A message of `mib` MiB with LF line ends and no line that is a lone dot, so no part of
/// it can look like the end of data.
fn big_message(dir: &Path, mib: usize) -> PathBuf {
    let path = dir.join("big.eml");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    f.write_all(b"Subject: big\n\n").unwrap();
    let line = format!("{}\n", "y".repeat(127));
    for _ in 0..mib * 8192 {
        f.write_all(line.as_bytes()).unwrap();
    }
    f.flush().unwrap();
    path
}

/// The body as it must arrive: CRLF line ends, then the end of data.
fn on_the_wire(path: &Path) -> Vec<u8> {
    let text = std::fs::read(path).unwrap();
    let mut wire = Vec::with_capacity(text.len() * 2);
    for &b in &text {
        if b == b'\n' {
            wire.extend_from_slice(b"\r\n");
        } else {
            wire.push(b);
        }
    }
    wire.extend_from_slice(b".\r\n");
    wire
}

/// smtpsh with `args` in a fresh pseudo-terminal.
fn spawn(args: &[&str], home: &Path) -> Pty {
    spawn_redirected("", args, home, None)
}

/// smtpsh with `args` in a fresh pseudo-terminal, through `sh -c 'exec smtpsh "$@"
/// REDIRECT'` where REDIRECT (`2>"$FILE"`, `>"$FILE"`) takes `file` as `$FILE`: one stream
/// leaves the terminal for a file. A wait gives up after 30 s.
fn spawn_redirected(redirect: &str, args: &[&str], home: &Path, file: Option<&Path>) -> Pty {
    let script = format!(r#"exec "$0" "$@" {redirect}"#);
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script, BIN]).args(args);
    if let Some(f) = file {
        cmd.env("FILE", f);
    }
    Pty::command(cmd, home, 30_000)
}

/// The percentages a bar showed, in order.
fn percentages(text: &str) -> Vec<u32> {
    regex::Regex::new(r"\] +(\d{1,3})% ")
        .unwrap()
        .captures_iter(text)
        .filter_map(|c| c[1].parse().ok())
        .collect()
}

/// What a bar leaves in output: indicatif redraws a line with a carriage return or an
/// erase-line sequence, and our bars say what they count.
#[track_caller]
fn assert_no_progress(what: &str, text: &[u8]) {
    let s = String::from_utf8_lossy(text);
    for needle in ["\r", "\x1b[", "sending big.eml", "% ", " left", "/s,"] {
        assert!(
            !s.contains(needle),
            "{what} holds progress output ({needle:?}):\n{s}"
        );
    }
}

/// A run of smtpsh with stdout and stderr going to files (not pipes: a long transcript
/// nobody reads would fill a pipe and stall the run).
struct Running {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Running {
    fn sigint(&self) {
        let ok = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -INT failed");
    }

    /// Wait for the end within `limit`: the exit code, stdout and stderr.
    fn wait(mut self, limit: Duration) -> (Option<i32>, String, String) {
        let until = Instant::now() + limit;
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > until {
                let _ = self.child.kill();
                panic!("smtpsh did not end within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
        (status.code(), read(&self.out), read(&self.err))
    }
}

/// smtpsh running `script` (a file in `dir`), its output going to files.
fn spawn_script(dir: &Path, script: &str, target: &str) -> Running {
    let path = dir.join("run.smtp");
    std::fs::write(&path, script).unwrap();
    let out = dir.join("run.out");
    let err = dir.join("run.err");
    let child = Command::new(BIN)
        .args(["--script", path.to_str().unwrap(), target])
        .env("NO_COLOR", "1")
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("spawn smtpsh");
    Running { child, out, err }
}

#[test]
fn send_at_the_prompt_shows_a_bar_that_advances_then_the_reply() {
    let server = SlowServer::start(1, false);
    let dir = tmp();
    let file = big_message(&dir, 8);
    let p = format!("{}> ", server.target());
    let mut t = spawn(&["--no-history", &server.target()], &dir);
    t.expect(&p);
    t.line("EHLO client.test");
    t.expect(&p);
    t.line("MAIL FROM:<a@test>");
    t.expect(" mail> ");
    t.line("RCPT TO:<b@test>");
    t.expect(" rcpt 1> ");
    t.line(&format!(":send {}", file.display()));
    t.expect("S: 354");
    let from = t.seen.len();
    t.expect("kept");
    t.expect(&p);
    let during = t.seen[from..].to_string();
    t.line(":quit");
    t.eof();

    let pcts = percentages(&during);
    let mut distinct = pcts.clone();
    distinct.dedup();
    assert!(
        distinct.len() >= 2,
        "the bar did not advance (percentages {pcts:?}):\n{during}"
    );
    assert!(
        pcts.windows(2).all(|w| w[0] <= w[1]),
        "the bar went backwards: {pcts:?}"
    );
    assert!(during.contains("sending big.eml"), "{during}");
    assert!(during.contains(" left"), "no time left shown:\n{during}");
    assert!(during.contains("/s"), "no rate shown:\n{during}");
    // The reply comes after the bar.
    let reply_at = during.find("250 [2.0.0] kept").expect("the final reply");
    assert!(during.rfind("sending big.eml").unwrap() < reply_at);

    let store = server.finish();
    assert_eq!(store.delivered.len(), 1, "{:?}", store.cut_off);
    assert!(
        store.delivered[0] == on_the_wire(&file),
        "the message arrived changed"
    );
}

/// Ctrl-C in the middle of `:send`: sending stops at once, the connection is closed without
/// the end of data, the server has no message, and the shell is at its prompt, able to
/// connect again.
#[test]
fn ctrl_c_mid_send_delivers_nothing_and_the_shell_goes_on() {
    let server = SlowServer::start(2, false);
    let dir = tmp();
    let file = big_message(&dir, 8);
    let p = format!("{}> ", server.target());
    let mut t = spawn(&["--no-history", &server.target()], &dir);
    t.expect(&p);
    t.line("MAIL FROM:<a@test>");
    t.expect(" mail> ");
    t.line("RCPT TO:<b@test>");
    t.expect(" rcpt 1> ");
    t.line(&format!(":send {}", file.display()));
    t.expect("S: 354");
    t.expect("sending big.eml");
    server.wait_for_body(256 * 1024);
    let pressed = Instant::now();
    t.s.send_control('c').unwrap();
    t.expect("NOT delivered");
    t.expect("smtpsh (not connected)> ");
    assert!(
        pressed.elapsed() < Duration::from_secs(3),
        "the prompt took {:?} to come back",
        pressed.elapsed()
    );
    // Usable: connect again.
    t.line(&format!(":connect {}", server.target()));
    t.expect("220 slow.test");
    t.expect(&p);
    t.line(":quit");
    t.eof();

    let store = server.finish();
    assert!(
        store.delivered.is_empty(),
        "a message was delivered after Ctrl-C"
    );
    let total = on_the_wire(&file).len() as u64;
    assert_eq!(store.cut_off.len(), 1, "{store:?}");
    assert!(
        store.cut_off[0] > 0 && store.cut_off[0] < total,
        "the server got {} of {total} octets",
        store.cut_off[0]
    );
    assert_eq!(store.commands.last().map(String::as_str), Some("QUIT"));
    assert!(
        t.seen.contains("interrupted (Ctrl-C) after"),
        "the shell did not say why:\n{}",
        t.seen
    );
}

/// `:send --bdat`: Ctrl-C stops it too, and no LAST chunk goes after the stop.
#[test]
fn ctrl_c_mid_bdat_sends_no_last_chunk() {
    let server = SlowServer::start(1, false);
    let dir = tmp();
    let file = big_message(&dir, 8);
    let p = format!("{}> ", server.target());
    let mut t = spawn(&["--no-history", &server.target()], &dir);
    t.expect(&p);
    t.line("EHLO client.test");
    t.expect(&p);
    t.line("MAIL FROM:<a@test>");
    t.expect(" mail> ");
    t.line("RCPT TO:<b@test>");
    t.expect(" rcpt 1> ");
    t.line(&format!(":send --bdat {}", file.display()));
    t.expect("sending big.eml");
    server.wait_for_body(600 * 1024);
    t.s.send_control('c').unwrap();
    t.expect("NOT delivered");
    t.expect("smtpsh (not connected)> ");
    t.line(":quit");
    t.eof();
    let store = server.finish();
    assert!(store.delivered.is_empty(), "{store:?}");
    assert_eq!(store.cut_off.len(), 1, "a chunk cut off: {store:?}");
    assert!(
        !store.commands.iter().any(|c| c.ends_with(" LAST")),
        "a LAST chunk went after Ctrl-C: {:?}",
        store.commands
    );
}

/// A script sent SIGINT in the middle of `:send` stops, closes the connection without the
/// end of data, says so and exits 130; the server has no message.
#[test]
fn sigint_mid_send_in_a_script_exits_130_and_delivers_nothing() {
    let server = SlowServer::start(1, false);
    let dir = tmp();
    let file = big_message(&dir, 8);
    let script = format!(
        "EHLO client.test\nMAIL FROM:<a@test>\nRCPT TO:<b@test>\n:send {}\n:expect 250\nQUIT\n",
        file.display()
    );
    let child = spawn_script(&dir, &script, &server.target());
    server.wait_for_body(256 * 1024);
    child.sigint();
    let (code, out, err) = child.wait(Duration::from_secs(10));
    let store = server.finish();
    assert!(store.delivered.is_empty(), "delivered after SIGINT");
    assert_eq!(store.cut_off.len(), 1, "{store:?}");
    assert_eq!(code, Some(130), "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains("interrupted") && err.contains("NOT delivered"),
        "stderr did not say so:\n{err}"
    );
    assert!(
        out.contains("connection closed: interrupted in the middle of a message"),
        "the transcript does not say why the connection closed:\n{out}"
    );
    assert_no_progress("stdout", out.as_bytes());
    assert_no_progress("stderr", err.as_bytes());
}

/// SIGINT in the middle of a body typed in the script (between its lines): the connection
/// is closed without ending it; exit 130.
#[test]
fn sigint_mid_script_body_exits_130_and_delivers_nothing() {
    let server = SlowServer::start(1, false);
    let dir = tmp();
    let mut script = String::from("MAIL FROM:<a@test>\nRCPT TO:<b@test>\nDATA\nSubject: typed\n\n");
    let line = format!("{}\n", "z".repeat(120));
    for _ in 0..60_000 {
        script.push_str(&line);
    }
    script.push_str(".\n:expect 250\nQUIT\n");
    let child = spawn_script(&dir, &script, &server.target());
    server.wait_for_body(256 * 1024);
    child.sigint();
    let (code, out, err) = child.wait(Duration::from_secs(10));
    let store = server.finish();
    assert!(store.delivered.is_empty(), "delivered after SIGINT");
    assert_eq!(code, Some(130), "stdout:\n{}\nstderr:\n{err}", out.len());
    assert!(
        err.contains("interrupted (Ctrl-C/SIGINT) in the middle of a message")
            && err.contains("NOT delivered"),
        "stderr did not say so:\n{err}"
    );
}

/// SIGINT while a script waits for a reply: the session ends politely (QUIT) and smtpsh
/// exits 130.
#[test]
fn sigint_during_a_wait_in_a_script_quits_and_exits_130() {
    let server = SlowServer::start(1, true);
    let dir = tmp();
    let child = spawn_script(&dir, "NOOP\nNOOP\n", &server.target());
    let until = Instant::now() + Duration::from_secs(10);
    while !server
        .store
        .lock()
        .unwrap()
        .commands
        .iter()
        .any(|c| c == "NOOP")
    {
        assert!(Instant::now() < until, "NOOP never came");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    child.sigint();
    let (code, out, err) = child.wait(Duration::from_secs(10));
    let store = server.finish();
    assert_eq!(code, Some(130), "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains("interrupted (Ctrl-C/SIGINT) while waiting for a reply"),
        "{err}"
    );
    assert_eq!(
        store.commands,
        ["NOOP", "QUIT"],
        "one NOOP, then a polite QUIT"
    );
}

/// With stderr redirected, the prompt shows no bar and the file gets none.
#[test]
fn no_bar_when_stderr_is_not_a_terminal() {
    let server = SlowServer::start(1, false);
    let dir = tmp();
    let file = big_message(&dir, 1);
    let err = dir.join("stderr.txt");
    let p = format!("{}> ", server.target());
    let mut t = spawn_redirected(
        r#"2>"$FILE""#,
        &["--no-history", &server.target()],
        &dir,
        Some(&err),
    );
    t.expect(&p);
    t.line("MAIL FROM:<a@test>");
    t.expect(" mail> ");
    t.line("RCPT TO:<b@test>");
    t.expect(" rcpt 1> ");
    t.line(&format!(":send {}", file.display()));
    t.expect("kept");
    t.expect(&p);
    t.line(":quit");
    t.eof();
    server.finish();
    assert!(!t.seen.contains("sending big.eml"), "{}", t.seen);
    assert!(percentages(&t.seen).is_empty(), "{}", t.seen);
    assert_no_progress("the redirected stderr", &std::fs::read(&err).unwrap());
}

/// A script with its transcript redirected to a file, at a terminal: the bars (messages
/// done of messages, the `:send` body) are drawn on the terminal's stderr, and the file holds
/// none of it. With `--json` there is no bar even on a terminal.
#[test]
fn a_script_to_a_file_counts_messages_on_the_terminal_only() {
    let server = SlowServer::start(2, false);
    let dir = tmp();
    let file = big_message(&dir, 3);
    let script = dir.join("three.smtp");
    std::fs::write(
        &script,
        format!(
            "MAIL FROM:<a@test>\nRCPT TO:<b@test>\nDATA\nSubject: one\n\nhi\n.\n\
             MAIL FROM:<a@test>\nRCPT TO:<b@test>\n:send {}\n\
             MAIL FROM:<a@test>\nRCPT TO:<b@test>\nDATA\nSubject: three\n\nbye\n.\nQUIT\n",
            file.display()
        ),
    )
    .unwrap();
    let out = dir.join("stdout.txt");
    let mut t = spawn_redirected(
        r#">"$FILE""#,
        &["--script", script.to_str().unwrap(), &server.target()],
        &dir,
        Some(&out),
    );
    t.eof();
    let transcript = std::fs::read(&out).unwrap();
    assert_no_progress("the redirected stdout", &transcript);
    let text = String::from_utf8_lossy(&transcript);
    assert_eq!(text.matches("kept").count(), 3, "{text}");
    assert!(
        t.seen.contains("/3 messages"),
        "no count of messages:\n{}",
        t.seen
    );
    assert!(
        t.seen.contains("sending big.eml"),
        "no :send bar:\n{}",
        t.seen
    );

    // The same with --json: nothing on the terminal but what smtpsh says.
    let out2 = dir.join("json.txt");
    let mut t = spawn_redirected(
        r#">"$FILE""#,
        &[
            "--json",
            "--script",
            script.to_str().unwrap(),
            &server.target(),
        ],
        &dir,
        Some(&out2),
    );
    t.eof();
    assert_no_progress("the terminal with --json", t.seen.as_bytes());
    assert_no_progress("--json output", &std::fs::read(&out2).unwrap());
    let store = server.finish();
    assert_eq!(store.delivered.len(), 6);
}

/// Piped, as in CI: neither stream holds a byte of progress.
#[test]
fn no_progress_bytes_in_pipes() {
    let server = SlowServer::start(1, false);
    let dir = tmp();
    let file = big_message(&dir, 2);
    let script = format!(
        "EHLO client.test\nMAIL FROM:<a@test>\nRCPT TO:<b@test>\n:send {}\n:expect 250\nMAIL FROM:<a@test>\nRCPT TO:<b@test>\n:send --bdat {0}\n:expect 250\nQUIT\n",
        file.display()
    );
    let child = spawn_script(&dir, &script, &server.target());
    let (code, out, err) = child.wait(Duration::from_secs(30));
    let store = server.finish();
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        store.delivered.len(),
        2,
        "the DATA message and the BDAT one"
    );
    assert_no_progress("stdout", out.as_bytes());
    assert_no_progress("stderr", err.as_bytes());
}

/// The check pass counts the messages a script holds: DATA bodies, `:send`s and BDAT LAST.
#[test]
fn the_check_counts_a_scripts_messages() {
    use smtpsh::shell::script::{Reader, check};
    let script = "EHLO x\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\nDATA\nSubject: 1\n\n.\n\
                  MAIL FROM:<a@b>\nRCPT TO:<c@d>\nDATA\n:expect 554\n\
                  MAIL FROM:<a@b>\nRCPT TO:<c@d>\nBDAT 4\nab\nBDAT 0 LAST\n\
                  MAIL FROM:<a@b>\nRCPT TO:<c@d>\n:send /dev/null\nQUIT\n";
    let mut r = Reader::new(script.as_bytes(), "t.smtp", None);
    let problems = check(&mut r);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(r.messages(), 3, "a DATA body, a BDAT LAST, a :send");
}
