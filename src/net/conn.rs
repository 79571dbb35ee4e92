//! One connection to a server: TCP or TLS, a bounded reply parser, a deadline for each
//! reply (not an idle timer), and the STARTTLS upgrade with its injection check.

use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::dial::{self, DialOptions};
use super::sock::{Peer, Sock};
use super::target::{Security, Target};
use super::tls::{self, CertSummary, TlsOptions, TlsStream};
use crate::error::Error;
use crate::smtp::reply::{Parsed, ReplyParser};

/// How often a wait looks at its cancel flag (Ctrl-C at the prompt).
const CANCEL_POLL: Duration = Duration::from_millis(100);

/// How long a wait for a reply keeps asking the socket, without sleeping, before it blocks
/// in the kernel. A blocked reader is woken by the scheduler, and on a virtual machine an
/// idle vCPU's wake-up costs tens of microseconds: on loopback that was most of each round
/// trip of a lockstep script (docs/performance.md). The bytes read are the same either way.
const SPIN: Duration = Duration::from_micros(200);

/// A reply that came within this long means a server close enough (loopback, a LAN) for
/// [`SPIN`] to pay; after a slower one the next wait blocks at once, so a distant server
/// costs no polling.
const NEAR: Duration = Duration::from_millis(1);

enum Stream {
    Plain(Sock),
    Tls(Box<TlsStream<Sock>>),
}

impl Stream {
    /// The socket under the stream (TCP or Unix).
    fn tcp(&self) -> &Sock {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref().get_ref(),
        }
    }

    /// The error for a failed read or write: see [`tls::stream_error`].
    fn error(&self, e: io::Error) -> Error {
        match self {
            Stream::Plain(_) => Error::Io(e),
            Stream::Tls(s) => tls::stream_error(s, e),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// An open connection.
pub struct Connection {
    stream: Stream,
    parser: ReplyParser,
    peer: Peer,
    tls: Option<CertSummary>,
    /// The read and write timeouts last set on the socket.
    timeouts: (Option<Duration>, Option<Duration>),
    /// Where reads land: one buffer for the connection's life. A fresh zeroed array per
    /// reply was 41% of all instructions of a bulk script (callgrind, docs/performance.md).
    rbuf: Box<[u8]>,
    /// Whether the last reply came within [`NEAR`], so the next wait spins first.
    near: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Connection {
    /// Connect to `target` (every resolved address in turn, each within `connect_timeout`),
    /// and run the TLS handshake at once for implicit TLS.
    pub fn open(
        target: &Target,
        connect_timeout: Duration,
        tls_opts: &TlsOptions,
    ) -> Result<Connection, Error> {
        Connection::open_via(
            target,
            None,
            &DialOptions::default(),
            connect_timeout,
            tls_opts,
        )
    }

    /// Like [`Connection::open`], with the session's way of reaching targets (`-4`/`-6`,
    /// `--source`, `--proxy`, a Unix socket) and, from an MX lookup, the addresses to try
    /// instead of resolving the host here.
    pub fn open_via(
        target: &Target,
        addrs: Option<&[IpAddr]>,
        dial_opts: &DialOptions,
        connect_timeout: Duration,
        tls_opts: &TlsOptions,
    ) -> Result<Connection, Error> {
        let (sock, peer) =
            dial::dial(target, addrs, dial_opts, connect_timeout).map_err(|source| {
                Error::Connect {
                    target: target.to_string(),
                    why: source,
                }
            })?;
        let mut conn = Connection::over(sock, peer);
        if target.security == Security::Implicit {
            conn.handshake(&target.host, tls_opts, connect_timeout)?;
        }
        Ok(conn)
    }

    /// A connection over a stream already open (what [`Connection::open_via`] dialled, or one
    /// end of an in-memory stream in tests), not yet TLS.
    pub fn over(sock: Sock, peer: Peer) -> Connection {
        // Commands are small and each waits for a reply: Nagle only adds delay.
        let _ = sock.set_nodelay(true);
        Connection {
            stream: Stream::Plain(sock),
            parser: ReplyParser::default(),
            peer,
            tls: None,
            timeouts: (None, None),
            rbuf: vec![0u8; 16 * 1024].into_boxed_slice(),
            near: true,
        }
    }

    /// What the connection reached: a TCP address, a Unix socket, or a destination through
    /// a proxy.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// The TLS summary once TLS is up.
    pub fn tls(&self) -> Option<&CertSummary> {
        self.tls.as_ref()
    }
    /// Read one complete reply, within `timeout` from now (a deadline, not an idle timer: a
    /// server dripping bytes can't keep the wait alive). `cancelled` is polled so Ctrl-C can
    /// end the wait; `before_wait` runs once, just before the first read that may block (a
    /// reply already received needs no wait, so a pipelined burst costs no extra output).
    pub fn read_reply(
        &mut self,
        timeout: Duration,
        cancelled: &dyn Fn() -> bool,
        before_wait: &mut dyn FnMut(),
    ) -> Result<Parsed, Error> {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut waited = false;
        loop {
            if let Some(p) = self.parser.next_reply()? {
                self.near = started.elapsed() < NEAR;
                return Ok(p);
            }
            if !waited {
                before_wait();
                waited = true;
                if self.near {
                    match self.read_spinning()? {
                        Some(0) => return Err(Error::Closed),
                        Some(n) => {
                            self.parser.push(&self.rbuf[..n])?;
                            continue;
                        }
                        None => {}
                    }
                }
            }
            if cancelled() {
                return Err(Error::Cancelled);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    secs: timeout.as_secs_f64(),
                });
            }
            self.set_read_timeout((deadline - now).min(CANCEL_POLL))?;
            match self.stream.read(&mut self.rbuf) {
                Ok(0) => return Err(Error::Closed),
                Ok(n) => self.parser.push(&self.rbuf[..n])?,
                Err(e) if is_timeout(&e) => continue,
                Err(e) => return Err(self.stream.error(e)),
            }
        }
    }

    /// Read without sleeping for up to [`SPIN`]: `None` if nothing came by then. The socket
    /// is non-blocking only inside this call.
    fn read_spinning(&mut self) -> Result<Option<usize>, Error> {
        self.stream.tcp().set_nonblocking(true).map_err(Error::Io)?;
        let until = Instant::now() + SPIN;
        let r = loop {
            match self.stream.read(&mut self.rbuf) {
                Ok(n) => break Ok(Some(n)),
                Err(e) if is_timeout(&e) => {
                    if Instant::now() >= until {
                        break Ok(None);
                    }
                    std::hint::spin_loop();
                }
                Err(e) => break Err(self.stream.error(e)),
            }
        };
        self.stream
            .tcp()
            .set_nonblocking(false)
            .map_err(Error::Io)?;
        r
    }

    // Socket timeouts are set only when they change: one setsockopt per read or write was a
    // third of the system calls of a bulk script (strace -c, docs/performance.md).
    fn set_read_timeout(&mut self, t: Duration) -> Result<(), Error> {
        if self.timeouts.0 != Some(t) {
            self.stream
                .tcp()
                .set_read_timeout(Some(t))
                .map_err(Error::Io)?;
            self.timeouts.0 = Some(t);
        }
        Ok(())
    }

    fn set_write_timeout(&mut self, t: Duration) -> Result<(), Error> {
        if self.timeouts.1 != Some(t) {
            self.stream
                .tcp()
                .set_write_timeout(Some(t))
                .map_err(Error::Io)?;
            self.timeouts.1 = Some(t);
        }
        Ok(())
    }

    /// Whether bytes from the server are waiting (already buffered, or on the socket) without
    /// blocking. Used to find late replies and injected data.
    pub fn has_pending(&mut self) -> Result<bool, Error> {
        if self.parser.buffered() > 0 {
            return Ok(true);
        }
        let tcp = self.stream.tcp();
        tcp.set_nonblocking(true).map_err(Error::Io)?;
        let mut b = [0u8; 1];
        let r = tcp.peek(&mut b);
        tcp.set_nonblocking(false).map_err(Error::Io)?;
        match r {
            Ok(n) => Ok(n > 0),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(Error::Io(e)),
        }
    }

    /// Write `bytes` in full within `timeout`.
    pub fn send(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), Error> {
        self.set_write_timeout(timeout)?;
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .map_err(|e| {
                if is_timeout(&e) {
                    Error::Timeout {
                        secs: timeout.as_secs_f64(),
                    }
                } else {
                    self.stream.error(e)
                }
            })
    }

    /// Upgrade to TLS after a 220 to STARTTLS (RFC 3207 §4). Any byte already received after
    /// that 220 is response injection (CVE-2011-0411 and kin): refuse it and write nothing.
    pub fn starttls(
        &mut self,
        host: &str,
        opts: &TlsOptions,
        timeout: Duration,
    ) -> Result<&CertSummary, Error> {
        if self.tls.is_some() {
            return Err(Error::Usage("TLS is already on for this connection".into()));
        }
        if self.has_pending()? {
            return Err(Error::Protocol(
                "the server sent data after its 220 to STARTTLS and before the TLS handshake (response injection); connection ended, nothing more was sent".into(),
            ));
        }
        self.parser.clear();
        self.handshake(host, opts, timeout)?;
        Ok(self.tls.as_ref().expect("set by handshake"))
    }

    fn handshake(&mut self, host: &str, opts: &TlsOptions, timeout: Duration) -> Result<(), Error> {
        self.handshake_as(host, opts, timeout, tls::Mode::Verify)
    }

    /// A TLS handshake that only looks, for a second, display-only connection (session::look):
    /// verification off whatever the options say, and with `tls12` nothing above TLS 1.2, so
    /// that the server's Certificate message travels in plaintext and the chain can be read.
    /// After STARTTLS's 220 the injection check of [`Connection::starttls`] holds as well.
    pub fn look_tls(
        &mut self,
        host: &str,
        opts: &TlsOptions,
        timeout: Duration,
        tls12: bool,
    ) -> Result<&CertSummary, Error> {
        if self.tls.is_some() {
            return Err(Error::Usage("TLS is already on for this connection".into()));
        }
        if self.has_pending()? {
            return Err(Error::Protocol(
                "the server sent data before the TLS handshake (response injection); connection ended".into(),
            ));
        }
        self.parser.clear();
        self.handshake_as(host, opts, timeout, tls::Mode::Look { tls12 })?;
        Ok(self.tls.as_ref().expect("set by handshake"))
    }

    fn handshake_as(
        &mut self,
        host: &str,
        opts: &TlsOptions,
        timeout: Duration,
        mode: tls::Mode,
    ) -> Result<(), Error> {
        let Stream::Plain(tcp) = &self.stream else {
            return Err(Error::Usage("TLS is already on for this connection".into()));
        };
        // The handshake gets the same deadline as a reply.
        tcp.set_read_timeout(Some(timeout)).map_err(Error::Io)?;
        tcp.set_write_timeout(Some(timeout)).map_err(Error::Io)?;
        let tcp = tcp.try_clone().map_err(Error::Io)?;
        let (ssl, summary) = tls::handshake_as(tcp, host, opts, mode)?;
        self.stream = Stream::Tls(Box::new(ssl));
        self.tls = Some(summary);
        // The handshake set both timeouts on the socket.
        self.timeouts = (Some(timeout), Some(timeout));
        Ok(())
    }

    /// Close politely: TLS close_notify where TLS is on, then TCP shutdown.
    pub fn close(mut self) {
        if let Stream::Tls(s) = &mut self.stream {
            let _ = s
                .get_ref()
                .get_ref()
                .set_write_timeout(Some(Duration::from_secs(1)));
            let _ = s.shutdown();
        }
        let _ = self.stream.tcp().shutdown(std::net::Shutdown::Both);
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A server on 127.0.0.1 that greets, then answers each read after `delays[i]`.
    fn server(delays: Vec<Duration>) -> (Connection, std::thread::JoinHandle<()>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.write_all(b"220 hi\r\n").unwrap();
            let mut buf = [0u8; 64];
            for d in delays {
                // Until the client hangs up.
                if matches!(s.read(&mut buf), Ok(0) | Err(_)) {
                    break;
                }
                std::thread::sleep(d);
                if s.write_all(b"250 ok\r\n").is_err() {
                    break;
                }
            }
        });
        let target = Target::parse(&addr.to_string(), None, false).unwrap();
        let conn =
            Connection::open(&target, Duration::from_secs(5), &TlsOptions::default()).unwrap();
        (conn, h)
    }

    fn reply(c: &mut Connection) -> Parsed {
        c.read_reply(Duration::from_secs(5), &|| false, &mut || {})
            .unwrap()
    }

    // The spin-wait of read_reply is for near servers only: a reply slower than NEAR turns it
    // off for the next wait, a fast one back on, and what is read is the same either way.
    #[test]
    fn spins_only_after_a_fast_reply() {
        let mut delays = vec![Duration::from_millis(20)];
        delays.extend([Duration::ZERO; 50]);
        let (mut c, h) = server(delays);
        assert_eq!(reply(&mut c).reply.code.to_string(), "220");
        c.send(b"NOOP\r\n", Duration::from_secs(5)).unwrap();
        assert_eq!(reply(&mut c).reply.code.to_string(), "250");
        assert!(!c.near, "a reply 20 ms late turns the spin off");
        // A busy machine may make one loopback reply slower than 1 ms, hardly fifty.
        let mut fast = 0;
        while !c.near && fast < 50 {
            c.send(b"NOOP\r\n", Duration::from_secs(5)).unwrap();
            assert_eq!(reply(&mut c).reply.code.to_string(), "250");
            fast += 1;
        }
        assert!(c.near, "a fast reply turns the spin back on");
        drop(c);
        h.join().unwrap();
    }

    // A close seen while spinning is the same error as one seen while blocked.
    #[test]
    fn a_close_while_spinning_is_closed() {
        let (mut c, h) = server(vec![]);
        reply(&mut c);
        h.join().unwrap();
        let e = c
            .read_reply(Duration::from_secs(5), &|| false, &mut || {})
            .unwrap_err();
        assert!(matches!(e, Error::Closed), "{e:?}");
    }
}
