//! [`ClientAuthServer`]: an SMTP server whose STARTTLS demands a client certificate, played
//! by Python's `ssl` module (OpenSSL) — a peer of its own, since native-tls, which serves the
//! [`FakeServer`](super::FakeServer)'s TLS, can't ask a client for a certificate
//! (rust-native-tls#161). It serves one session: greeting, EHLO, STARTTLS with
//! `CERT_REQUIRED` against one trusted certificate, EHLO, QUIT; and reports what it saw.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};

use super::certs::TestCert;
use super::peers::peer_on_path;

/// The server, in Python. Prints its port, then, when the session ends, one line of JSON:
/// the lines it read, the client certificate's common name, and why it stopped early.
const SERVER: &str = r#"
import json, socket, ssl, sys
cert, key, client_ca = sys.argv[1:4]
out = {"lines": [], "client_cert": None, "failure": None}
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
listener.settimeout(30)
print(listener.getsockname()[1], flush=True)
def session():
    sock, _ = listener.accept()
    sock.settimeout(20)
    buf = b""
    def line():
        nonlocal buf
        while b"\n" not in buf:
            got = sock.recv(4096)
            if not got:
                raise EOFError("the client closed the connection")
            buf += got
        l, buf = buf.split(b"\n", 1)
        out["lines"].append(l.rstrip(b"\r").decode("utf-8", "replace"))
        return out["lines"][-1]
    def expect(verb):
        got = line()
        if not got.upper().startswith(verb):
            raise ValueError("expected %s, got %r" % (verb, got))
    sock.sendall(b"220 fake.test ESMTP ready\r\n")
    expect("EHLO")
    sock.sendall(b"250-fake.test\r\n250 STARTTLS\r\n")
    expect("STARTTLS")
    sock.sendall(b"220 2.0.0 go ahead\r\n")
    if buf:
        raise ValueError("bytes before the TLS handshake")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(client_ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    # A second handle keeps the socket open after a failed handshake, so that the client
    # reads our alert (a close with its data unread would reset the connection first).
    keep = sock.dup()
    try:
        sock = ctx.wrap_socket(sock, server_side=True)
    except Exception:
        keep.settimeout(0.5)
        try:
            while keep.recv(4096):
                pass
        except OSError:
            pass
        keep.close()
        raise
    keep.close()
    subject = dict(kv for rdn in sock.getpeercert()["subject"] for kv in rdn)
    out["client_cert"] = subject.get("commonName")
    expect("EHLO")
    sock.sendall(b"250-fake.test\r\n250 PIPELINING\r\n")
    expect("QUIT")
    sock.sendall(b"221 bye\r\n")
    sock.close()
try:
    session()
except Exception as e:
    out["failure"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(out), flush=True)
"#;

/// What the server saw.
#[derive(Debug, Default)]
pub struct ClientAuthReport {
    /// The lines it read, without line ends.
    pub lines: Vec<String>,
    /// The common name of the client certificate it verified.
    pub client_cert: Option<String>,
    /// Why the session stopped early (a failed handshake, say).
    pub failure: Option<String>,
}

/// A running server. See the module docs.
pub struct ClientAuthServer {
    child: Child,
    stdout: BufReader<ChildStdout>,
    port: u16,
}

impl ClientAuthServer {
    /// Serve `cert` and require a client certificate that `client_ca` (a self-signed
    /// certificate, trusted as is) verifies. `None` when python3 is missing and peers are not
    /// required (a note says so).
    pub fn start(cert: &TestCert, client_ca: &TestCert) -> Option<ClientAuthServer> {
        let python = peer_on_path("python3", "python3")?;
        let mut child = Command::new(python)
            .arg("-c")
            .arg(SERVER)
            .arg(&cert.cert_pem)
            .arg(&cert.key_pem)
            .arg(&client_ca.cert_pem)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3");
        let mut stdout = BufReader::new(child.stdout.take().expect("python's stdout"));
        let mut port = String::new();
        stdout.read_line(&mut port).expect("python prints its port");
        let port = port
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("python printed {port:?}, not a port"));
        Some(ClientAuthServer {
            child,
            stdout,
            port,
        })
    }

    /// `127.0.0.1:PORT`, the positional TARGET for the binary.
    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Wait for the session to end and return what the server saw.
    pub fn finish(mut self) -> ClientAuthReport {
        let mut json = String::new();
        let _ = self.stdout.read_to_string(&mut json);
        let _ = self.child.wait();
        let v: serde_json::Value = serde_json::from_str(json.trim())
            .unwrap_or_else(|e| panic!("python's report {json:?}: {e}"));
        ClientAuthReport {
            lines: v["lines"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|l| l.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            client_cert: v["client_cert"].as_str().map(str::to_string),
            failure: v["failure"].as_str().map(str::to_string),
        }
    }
}

impl Drop for ClientAuthServer {
    fn drop(&mut self) {
        // After finish() the child is gone already; otherwise don't leave it behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
