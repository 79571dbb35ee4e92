//! The HTTPS half of the loopback test world: one policy server on port 443 of a loopback
//! address of its own (RFC 8461 fetches from 443; the test zone points every
//! `mta-sts.DOMAIN` there), with a certificate from the test CA, answering by the Host
//! header: a good policy, a chunked one, a redirect, the wrong type, an oversized body, a
//! 404. It records every request head, so trials assert the exact bytes smtpsh sent.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The policies the server hands out.
pub const STS_POLICY: &str =
    "version: STSv1\r\nmode: enforce\r\nmx: mx.sts.test\r\nmax_age: 86400\r\n";
/// Served chunked.
pub const CHUNKED_POLICY: &str =
    "version: STSv1\nmode: testing\nmx: *.chunked.test\nmax_age: 604800\n";
/// For uncovered.test, whose MX is mx.uncovered.test.
pub const UNCOVERED_POLICY: &str =
    "version: STSv1\r\nmode: enforce\r\nmx: mx.elsewhere.test\r\nmax_age: 86400\r\n";
/// For audit.test, whose MX hosts are mx-ee, mx-bad, mx-busy and mx-plain: mx-busy is left
/// out.
pub const AUDIT_POLICY: &str = "version: STSv1\r\nmode: enforce\r\nmx: mx-ee.test\r\nmx: mx-bad.test\r\nmx: mx-plain.test\r\nmax_age: 86400\r\n";
/// Where the redirect points: a host nobody may ask for.
pub const REDIRECT_TARGET: &str = "https://mta-sts.redirect-target.test/.well-known/mta-sts.txt";

/// The running server; stopped on drop.
pub struct PolicyServer {
    /// Its address (port 443).
    pub addr: SocketAddr,
    /// Every request head received, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PolicyServer {
    /// Request heads for `host`.
    pub fn requests_for(&self, host: &str) -> Vec<String> {
        let want = format!("\r\nHost: {host}\r\n");
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.contains(&want))
            .cloned()
            .collect()
    }
}

impl Drop for PolicyServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Bind port 443 on a free 127.x.y.z address. `Err` says why it can't (not root).
pub fn bind_443() -> Result<TcpListener, String> {
    bind_loopback(443, 0)
}

/// Bind `port` on a free 127.x.y.z address, a different one for each `salt` (addresses
/// from 127.100.0.0 up; the mail servers' port 25 too, tests/diag/mailers.rs). `Err` says
/// why it can't (not root, for a port below 1024).
pub fn bind_loopback(port: u16, salt: u32) -> Result<TcpListener, String> {
    let seed = std::process::id() ^ salt.wrapping_mul(97_531);
    let mut last = String::new();
    for i in 0..64u32 {
        let n = seed
            .wrapping_mul(2_654_435_761)
            .wrapping_add(i.wrapping_mul(40_503));
        let ip = Ipv4Addr::new(
            127,
            100 + (n % 100) as u8,
            (n >> 8) as u8,
            1 + (n >> 16) as u8 % 250,
        );
        match TcpListener::bind((ip, port)) {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => last = e.to_string(),
            Err(e) => return Err(format!("cannot bind {ip}:{port}: {e}")),
        }
    }
    Err(format!("no free 127.x.y.z:{port}: {last}"))
}

/// Serve on `listener` with the certificate and key (PEM).
pub fn start(listener: TcpListener, cert_pem: &str, key_pem: &str) -> PolicyServer {
    let identity = native_tls::Identity::from_pkcs8(cert_pem.as_bytes(), key_pem.as_bytes())
        .expect("identity");
    let acceptor = Arc::new(native_tls::TlsAcceptor::new(identity).expect("acceptor"));
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (r, s) = (requests.clone(), stop.clone());
    let thread = std::thread::spawn(move || {
        for conn in listener.incoming() {
            if s.load(Ordering::SeqCst) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let (acceptor, r) = (acceptor.clone(), r.clone());
            std::thread::spawn(move || serve_one(&acceptor, conn, &r));
        }
    });
    PolicyServer {
        addr,
        requests,
        stop,
        thread: Some(thread),
    }
}

fn serve_one(acceptor: &native_tls::TlsAcceptor, conn: TcpStream, requests: &Mutex<Vec<String>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    // A client that refuses our certificate ends here: that is a trial's point.
    let Ok(mut tls) = acceptor.accept(conn) else {
        return;
    };
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    requests.lock().unwrap().push(head.clone());
    let host = head
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Host: "))
        .unwrap_or("")
        .to_string();
    let response: Vec<u8> = match host.as_str() {
        "mta-sts.sts.test" => plain(200, "text/plain; charset=utf-8", STS_POLICY),
        "mta-sts.uncovered.test" => plain(200, "text/plain", UNCOVERED_POLICY),
        "mta-sts.audit.test" => plain(200, "text/plain", AUDIT_POLICY),
        "mta-sts.chunked.test" => {
            let (a, b) = CHUNKED_POLICY.split_at(20);
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x};x=y\r\n{b}\r\n0\r\n\r\n",
                a.len(),
                b.len()
            )
            .into_bytes()
        }
        "mta-sts.redirect.test" => format!(
            "HTTP/1.1 301 Moved Permanently\r\nLocation: {REDIRECT_TARGET}\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes(),
        "mta-sts.html.test" => plain(
            200,
            "text/html; charset=utf-8",
            "<html><body>version: STSv1</body></html>\n",
        ),
        "mta-sts.big.test" => {
            // No Content-Length: the body runs to the close, and past 64 KiB.
            let mut r = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n".to_vec();
            r.extend_from_slice(STS_POLICY.as_bytes());
            r.extend(std::iter::repeat_n(b'#', 70 * 1024));
            r
        }
        _ => plain(404, "text/plain", "not here\n"),
    };
    let _ = tls.write_all(&response);
    let _ = tls.flush();
    let _ = tls.shutdown();
}

fn plain(status: u16, content_type: &str, body: &str) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Status",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The address the zone maps every `mta-sts.DOMAIN` to.
pub fn ip(server: &PolicyServer) -> IpAddr {
    server.addr.ip()
}
