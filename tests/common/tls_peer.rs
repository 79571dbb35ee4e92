//! [`TlsPeer`]: an SMTP server with STARTTLS or implicit TLS, TLS 1.2 and 1.3 as asked,
//! serving a certificate chain (leaf and CA), that takes any number of connections at once
//! and records each: the lines before TLS, how the handshake went (and its version), and the
//! lines after it. Played by Python's `ssl` (OpenSSL): native-tls's acceptor on OpenSSL
//! serves TLS 1.2 only, and the second connections smtpsh makes (the chain TLS 1.3 hides, the
//! look after a refused certificate, the implicit-TLS hint) need a server that takes more
//! than one.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use super::peers::peer_on_path;

/// The server, in Python: argv mode (starttls|implicit|nostarttls|busy), min and max TLS
/// version (1.2|1.3), chain file, key file, the address and port to bind, and a file to
/// write the records to as each connection ends. Prints its port; serves until its standard
/// input closes; then prints one JSON list, a record per connection.
const SERVER: &str = r#"
import json, os, socket, ssl, sys, threading
mode, vmin, vmax, chain, key, host, port, log = sys.argv[1:9]
versions = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = versions[vmin]
ctx.maximum_version = versions[vmax]
ctx.load_cert_chain(chain, key)
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((host, int(port)))
listener.listen(16)
listener.settimeout(0.1)
print(listener.getsockname()[1], flush=True)
records, threads, stop = [], [], threading.Event()
lock = threading.Lock()
def serve(sock, rec):
    sock.settimeout(10)
    buf = b""
    def line(s):
        nonlocal buf
        while b"\n" not in buf:
            got = s.recv(4096)
            if not got:
                return None
            buf += got
        l, buf = buf.split(b"\n", 1)
        return l.rstrip(b"\r").decode("utf-8", "replace")
    if mode == "busy":
        sock.sendall(b"421 4.3.2 peer.test busy, try again later\r\n")
        rec["end"] = "421"
        sock.close()
        return
    if mode in ("starttls", "nostarttls"):
        sock.sendall(b"220 peer.test ESMTP ready\r\n")
        while True:
            l = line(sock)
            if l is None:
                rec["end"] = "closed before TLS"
                return
            rec["before"].append(l)
            verb = l.split(" ")[0].upper()
            if verb == "EHLO" and mode == "nostarttls":
                sock.sendall(b"250-peer.test\r\n250 PIPELINING\r\n")
            elif verb == "EHLO":
                sock.sendall(b"250-peer.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
            elif verb == "STARTTLS":
                sock.sendall(b"220 2.0.0 go ahead\r\n")
                break
            elif verb == "QUIT":
                sock.sendall(b"221 bye\r\n")
                rec["end"] = "QUIT before TLS"
                return
            else:
                sock.sendall(b"250 ok\r\n")
    keep = sock.dup()
    try:
        t = ctx.wrap_socket(sock, server_side=True)
    except Exception as e:
        rec["tls"] = "failed: %s" % e
        keep.settimeout(0.5)
        try:
            while keep.recv(4096):
                pass
        except OSError:
            pass
        keep.close()
        return
    keep.close()
    rec["tls"] = "ok"
    rec["version"] = t.version()
    buf = b""
    if mode == "implicit":
        t.sendall(b"220 peer.test ESMTP ready\r\n")
    while True:
        try:
            l = line(t)
        except Exception as e:
            rec["end"] = "error: %s" % type(e).__name__
            return
        if l is None:
            rec["end"] = "closed"
            return
        rec["after"].append(l)
        verb = l.split(" ")[0].upper()
        if verb == "EHLO":
            t.sendall(b"250-peer.test\r\n250 PIPELINING\r\n")
        elif verb == "QUIT":
            t.sendall(b"221 bye\r\n")
            try:
                t.unwrap()
            except Exception:
                pass
            rec["end"] = "QUIT"
            return
        else:
            t.sendall(b"250 ok\r\n")
def accept():
    while not stop.is_set():
        try:
            sock, _ = listener.accept()
        except socket.timeout:
            continue
        rec = {"before": [], "tls": None, "version": None, "after": [], "end": None}
        with lock:
            records.append(rec)
        th = threading.Thread(target=lambda: guarded(sock, rec), daemon=True)
        th.start()
        threads.append(th)
def guarded(sock, rec):
    try:
        serve(sock, rec)
    except Exception as e:
        rec["end"] = "error: %s: %s" % (type(e).__name__, e)
    if log:
        with lock:
            with open(log + ".tmp", "w") as f:
                json.dump(records, f)
            os.replace(log + ".tmp", log)
a = threading.Thread(target=accept, daemon=True)
a.start()
sys.stdin.read()
stop.set()
a.join()
for th in threads:
    th.join(12)
print(json.dumps(records), flush=True)
"#;

/// How the peer speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerMode {
    /// A greeting, EHLO, STARTTLS.
    StartTls,
    /// TLS from the first byte.
    Implicit,
    /// A greeting and EHLO, without STARTTLS.
    NoStartTls,
    /// A 421 greeting, then the connection closes.
    Busy,
}

/// One connection, as the peer saw it.
#[derive(Debug, Clone, Default)]
pub struct PeerConn {
    /// Lines before TLS.
    pub before: Vec<String>,
    /// `ok`, `failed: …`, or `None` when the handshake never started.
    pub tls: Option<String>,
    /// The TLS version, when the handshake succeeded.
    pub version: Option<String>,
    /// Lines after TLS.
    pub after: Vec<String>,
    /// How the connection ended.
    pub end: Option<String>,
}

/// A running peer. See the module docs.
pub struct TlsPeer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Where it writes its records as connections end (see [`TlsPeer::records`]).
    log: Option<PathBuf>,
}

impl TlsPeer {
    /// Serve `chain` (PEM, leaf first) with `key`, TLS versions `min` to `max` ("1.2",
    /// "1.3"). `None` when python3 is missing and peers are not required.
    pub fn start(
        mode: PeerMode,
        min: &str,
        max: &str,
        chain: &PathBuf,
        key: &PathBuf,
    ) -> Option<TlsPeer> {
        TlsPeer::start_at(
            "127.0.0.1:0".parse().unwrap(),
            mode,
            min,
            max,
            chain,
            key,
            None,
        )
    }

    /// As [`TlsPeer::start`], bound to `addr`, writing its records to `log` as each
    /// connection ends.
    pub fn start_at(
        addr: std::net::SocketAddr,
        mode: PeerMode,
        min: &str,
        max: &str,
        chain: &PathBuf,
        key: &PathBuf,
        log: Option<PathBuf>,
    ) -> Option<TlsPeer> {
        let python = peer_on_path("python3", "python3")?;
        let mut child = Command::new(python)
            .arg("-c")
            .arg(SERVER)
            .arg(match mode {
                PeerMode::StartTls => "starttls",
                PeerMode::Implicit => "implicit",
                PeerMode::NoStartTls => "nostarttls",
                PeerMode::Busy => "busy",
            })
            .arg(min)
            .arg(max)
            .arg(chain)
            .arg(key)
            .arg(addr.ip().to_string())
            .arg(addr.port().to_string())
            .arg(
                log.as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("python's stdout"));
        let mut port = String::new();
        stdout.read_line(&mut port).expect("python prints its port");
        let port = port
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("python printed {port:?}, not a port"));
        Some(TlsPeer {
            child,
            stdin,
            stdout,
            port,
            log,
        })
    }

    /// The connections that have ended so far (from the log file of [`TlsPeer::start_at`]).
    pub fn records(&self) -> Vec<PeerConn> {
        let json = self
            .log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_else(|| "[]".into());
        parse(&json)
    }

    /// `127.0.0.1:PORT`.
    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stop accepting, wait for the connections to end, and return what each did, in the
    /// order they came.
    pub fn finish(mut self) -> Vec<PeerConn> {
        if let Some(mut s) = self.stdin.take() {
            let _ = s.flush();
        }
        let mut json = String::new();
        let _ = self.stdout.read_to_string(&mut json);
        let _ = self.child.wait();
        parse(&json)
    }
}

/// The records, from the peer's JSON.
fn parse(json: &str) -> Vec<PeerConn> {
    {
        let v: serde_json::Value = serde_json::from_str(json.trim())
            .unwrap_or_else(|e| panic!("the peer's report {json:?}: {e}"));
        let strings = |x: &serde_json::Value| -> Vec<String> {
            x.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|l| l.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        v.as_array()
            .map(|list| {
                list.iter()
                    .map(|c| PeerConn {
                        before: strings(&c["before"]),
                        tls: c["tls"].as_str().map(str::to_string),
                        version: c["version"].as_str().map(str::to_string),
                        after: strings(&c["after"]),
                        end: c["end"].as_str().map(str::to_string),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for TlsPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
