//! [`Client`]: a small SMTP client of the tests' own for the practice server, written
//! independently of smtpsh's client so that a test sees exactly what goes on the wire: it
//! sends what it is given and reads whole replies (multi-line included) as their wire text.
//! STARTTLS goes through native-tls with a [`Tap`] under it, so a test can look at the
//! handshake too.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use smtpsh::net::tls::Tap;
use smtpsh::practice::{PracticeConfig, PracticeServer};

/// The practice server's greeting with its default name.
pub const GREETING: &str = "220 practice.smtpsh.test ESMTP smtpsh practice server\r\n";

/// The practice server's defaults, on a free port of 127.0.0.1.
pub fn config() -> PracticeConfig {
    PracticeConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..PracticeConfig::default()
    }
}

/// A practice server started with `config`.
pub fn start(config: PracticeConfig) -> PracticeServer {
    PracticeServer::start(config).expect("start the practice server")
}

/// The connection, plain or after STARTTLS.
pub enum Wire {
    Plain(TcpStream),
    Tls(Box<native_tls::TlsStream<Tap<TcpStream>>>),
    Gone,
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Wire::Plain(s) => s.read(buf),
            Wire::Tls(s) => s.read(buf),
            Wire::Gone => Ok(0),
        }
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Wire::Plain(s) => s.write(buf),
            Wire::Tls(s) => s.write(buf),
            Wire::Gone => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Wire::Plain(s) => s.flush(),
            Wire::Tls(s) => s.flush(),
            Wire::Gone => Ok(()),
        }
    }
}

pub struct Client {
    pub wire: Wire,
    buf: Vec<u8>,
}

impl Client {
    /// Connect without reading the greeting.
    pub fn open(addr: SocketAddr) -> Client {
        Client::over(TcpStream::connect(addr).expect("connect"))
    }

    /// A client over a connection made elsewhere (from another source address, say).
    pub fn over(tcp: TcpStream) -> Client {
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Client {
            wire: Wire::Plain(tcp),
            buf: Vec::new(),
        }
    }

    /// Connect and check the greeting.
    pub fn connect(server: &PracticeServer) -> Client {
        let mut c = Client::open(server.addr());
        assert_eq!(c.reply(), GREETING);
        c
    }

    /// Connect and EHLO.
    pub fn ready(server: &PracticeServer) -> Client {
        let mut c = Client::connect(server);
        c.expect("EHLO client.example", "250-");
        c
    }

    /// The TCP connection under it (under TLS too).
    pub fn tcp(&self) -> &TcpStream {
        match &self.wire {
            Wire::Plain(s) => s,
            Wire::Tls(s) => s.get_ref().get_ref(),
            Wire::Gone => panic!("no connection"),
        }
    }

    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.wire.write_all(bytes.as_ref()).expect("write");
        self.wire.flush().unwrap();
    }

    /// What was read and not yet taken as a reply.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }

    /// One whole reply as its wire text, or `None` at EOF (or a reset).
    pub fn try_reply(&mut self) -> Option<String> {
        loop {
            // The final line: `ddd ` or `ddd` CRLF.
            let mut start = 0;
            while let Some(i) = self.buf[start..].windows(2).position(|w| w == b"\r\n") {
                let line = &self.buf[start..start + i];
                if line.len() < 4 || line[3] == b' ' {
                    let end = start + i + 2;
                    let reply = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                    self.buf.drain(..end);
                    return Some(reply);
                }
                start += i + 2;
            }
            let mut chunk = [0u8; 4096];
            match self.wire.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// One whole reply; panics at EOF or timeout.
    #[track_caller]
    pub fn reply(&mut self) -> String {
        self.try_reply()
            .unwrap_or_else(|| panic!("no complete reply; have {:?}", self.text()))
    }

    /// Send `line` CRLF and return the reply.
    #[track_caller]
    pub fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n"));
        self.reply()
    }

    /// Send `line` and check the reply starts with `want` (e.g. `503 5.5.1`).
    #[track_caller]
    pub fn expect(&mut self, line: &str, want: &str) -> String {
        let reply = self.cmd(line);
        assert!(
            reply.starts_with(want),
            "{line:?} got {reply:?}, wanted {want:?}"
        );
        reply
    }

    /// Whether the server closed the connection with nothing more to say.
    pub fn closed(&mut self) -> bool {
        self.try_reply().is_none() && self.buf.is_empty()
    }

    /// STARTTLS (the 220 already read) then the handshake, trusting `pem`.
    pub fn handshake(&mut self, pem: &str) {
        let Wire::Plain(tcp) = std::mem::replace(&mut self.wire, Wire::Gone) else {
            panic!("already TLS")
        };
        let tls = native_tls::TlsConnector::builder()
            .add_root_certificate(native_tls::Certificate::from_pem(pem.as_bytes()).unwrap())
            .build()
            .unwrap()
            .connect("localhost", Tap::new(tcp))
            .expect("TLS handshake");
        self.wire = Wire::Tls(Box::new(tls));
    }

    pub fn starttls(&mut self, pem: &str) {
        self.expect("STARTTLS", "220 2.0.0 ");
        self.handshake(pem);
    }

    /// MAIL, RCPT and DATA accepted.
    pub fn envelope(&mut self, from: &str, to: &str) {
        self.expect(&format!("MAIL FROM:<{from}>"), "250 ");
        self.expect(&format!("RCPT TO:<{to}>"), "250 ");
        assert_eq!(self.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>\r\n");
    }

    /// MAIL, RCPT, DATA, body, and the final reply.
    pub fn send_message(&mut self, from: &str, to: &str, body: &str) -> String {
        self.expect(&format!("MAIL FROM:<{from}>"), "250 2.1.0");
        self.expect(&format!("RCPT TO:<{to}>"), "250 2.1.5");
        self.expect("DATA", "354 ");
        self.send(body);
        self.reply()
    }
}
