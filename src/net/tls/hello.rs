//! [`Tap`]: the socket under the TLS stream, watching the bytes go by. It feeds what the
//! server sends to a [`Flight`] (the ServerHello's version, cipher and group; in TLS 1.2 the
//! certificate chain as sent; a plaintext alert; bytes that are not TLS at all), and
//! remembers whether the last failure came from the socket or from TLS itself.
//!
//! native-tls does not say what it negotiated, but it need not: the ServerHello travels in
//! plaintext in TLS 1.2 (RFC 5246 §7.4.1.3) and TLS 1.3 (RFC 8446 §4.1.3; only what follows
//! it is encrypted), so the same few bytes give the same answer on every platform.
//!
//! What the tap saw is shared ([`Tap::watch`]): a failed handshake consumes the stream, and
//! the error still needs to know which certificates the server sent.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use super::flight::Flight;
pub use super::flight::{Alert, Negotiated, Seen};

/// How much one read takes from the socket while the handshake is watched: a whole first
/// flight at once, so that a plaintext greeting where TLS was expected is seen whole, not
/// just the five bytes the TLS library asks for first.
const WATCH_READ: usize = 16 * 1024;

/// What the tap knows, shared between the tap and whoever asked ([`Tap::watch`]).
#[derive(Debug, Default)]
pub struct TapState {
    flight: Flight,
    /// The last read or write of the socket failed (as opposed to TLS failing on bytes that
    /// arrived fine).
    socket_failed: bool,
    /// The last read of the socket found the end of the stream.
    eof: bool,
}

impl TapState {
    /// What the server's plaintext handshake showed.
    pub fn seen(&self) -> &Seen {
        self.flight.seen()
    }

    /// Whether the last socket call failed.
    pub fn socket_failed(&self) -> bool {
        self.socket_failed
    }

    /// Whether the last read found the end of the stream.
    pub fn at_eof(&self) -> bool {
        self.eof
    }
}

/// A handle on what a [`Tap`] saw, valid after the tap itself is gone.
#[derive(Debug, Clone, Default)]
pub struct Watch(Arc<Mutex<TapState>>);

impl Watch {
    /// The state (a poisoned lock still holds the last state, which is all that is read).
    pub fn state(&self) -> MutexGuard<'_, TapState> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A socket with a watcher on its read side. See the module docs.
#[derive(Debug)]
pub struct Tap<S> {
    inner: S,
    shared: Watch,
    /// Whether the flight is still watched (a copy of the shared state's, so that reads
    /// after the handshake take no lock).
    watching: bool,
    /// Bytes read from the socket while watching and not yet handed to the TLS library.
    ahead: Vec<u8>,
    /// The last socket call failed (kept here too, so that reads after the handshake take
    /// no lock).
    socket_failed: bool,
    /// The last read found the end of the stream.
    eof: bool,
}

impl<S> Tap<S> {
    /// Watch `inner`.
    pub fn new(inner: S) -> Tap<S> {
        Tap {
            inner,
            shared: Watch::default(),
            watching: true,
            ahead: Vec::new(),
            socket_failed: false,
            eof: false,
        }
    }

    /// The socket.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// A handle on what this tap sees, which outlives it.
    pub fn watch(&self) -> Watch {
        self.shared.clone()
    }

    /// What the ServerHello chose, once it went by.
    pub fn negotiated(&self) -> Option<Negotiated> {
        self.shared.state().seen().negotiated.clone()
    }

    /// Whether the last socket call failed, so that an error from the TLS stream above is
    /// the network's (a reset, a timeout) rather than TLS's own (an alert, a bad record).
    pub fn socket_failed(&self) -> bool {
        self.socket_failed
    }

    /// Whether the last read found the end of the stream (a close without close_notify
    /// shows up as a TLS error on some platforms; it is the network's).
    pub fn at_eof(&self) -> bool {
        self.eof
    }

    /// Note how a socket call went, here and, while the handshake is watched, in the shared
    /// state.
    fn outcome(&mut self, failed: bool, eof: bool) {
        self.socket_failed = failed;
        self.eof = eof;
        if self.watching {
            let mut st = self.shared.state();
            st.socket_failed = failed;
            st.eof = eof;
        }
    }

    #[cfg(test)]
    fn watch_bytes(&mut self, bytes: &[u8]) {
        let mut st = self.shared.state();
        st.flight.feed(bytes);
        self.watching = st.flight.watching();
    }
}

impl<S: Read> Read for Tap<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.ahead.is_empty() {
            let n = buf.len().min(self.ahead.len());
            buf[..n].copy_from_slice(&self.ahead[..n]);
            self.ahead.drain(..n);
            return Ok(n);
        }
        if !self.watching {
            let r = self.inner.read(buf);
            self.outcome(r.is_err(), matches!(r, Ok(0)));
            return r;
        }
        let mut chunk = vec![0u8; WATCH_READ.max(buf.len())];
        let r = self.inner.read(&mut chunk);
        self.outcome(r.is_err(), matches!(r, Ok(0)));
        let n = r?;
        let mut st = self.shared.state();
        st.flight.feed(&chunk[..n]);
        self.watching = st.flight.watching();
        drop(st);
        let give = n.min(buf.len());
        buf[..give].copy_from_slice(&chunk[..give]);
        self.ahead.extend_from_slice(&chunk[give..n]);
        Ok(give)
    }
}

impl<S: Write> Write for Tap<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.inner.write(buf);
        let eof = self.eof;
        self.outcome(r.is_err(), eof);
        r
    }

    fn flush(&mut self) -> io::Result<()> {
        let r = self.inner.flush();
        let eof = self.eof;
        self.outcome(r.is_err(), eof);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TLS 1.2 ServerHello record (the flight's own tests cover the rest).
    fn server_hello_record() -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[7; 32]);
        body.push(0);
        body.extend_from_slice(&0xC02Cu16.to_be_bytes());
        body.push(0);
        body.extend_from_slice(&[0, 5, 0xff, 0x01, 0x00, 0x01, 0x00]);
        let mut msg = vec![2, 0, 0, body.len() as u8];
        msg.extend_from_slice(&body);
        let mut rec = vec![22, 0x03, 0x03, 0, msg.len() as u8];
        rec.extend_from_slice(&msg);
        rec
    }

    // The TLS library asks for five bytes first; the tap reads ahead to see the whole
    // flight, and hands every byte on, in order, whatever the size of the reads.
    #[test]
    fn reading_ahead_loses_nothing() {
        let mut wire = server_hello_record();
        wire.extend_from_slice(&[20, 3, 3, 0, 1, 1, 23, 3, 3, 0, 3, 9, 9, 9]);
        let mut t = Tap::new(io::Cursor::new(wire.clone()));
        let watch = t.watch();
        let mut got = Vec::new();
        let mut buf = [0u8; 5];
        loop {
            let n = t.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, wire);
        assert!(t.at_eof());
        drop(t);
        let st = watch.state();
        assert_eq!(
            st.seen().negotiated.as_ref().unwrap().cipher,
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
        );
    }

    #[test]
    fn a_plaintext_greeting_is_seen_whole() {
        let mut t = Tap::new(io::Cursor::new(
            b"220 mx.example ESMTP Postfix\r\n".to_vec(),
        ));
        let mut buf = [0u8; 5];
        assert_eq!(t.read(&mut buf).unwrap(), 5);
        assert_eq!(
            t.watch().state().seen().not_tls.as_deref(),
            Some(&b"220 mx.example ESMTP Postfix\r\n"[..])
        );
        assert!(t.negotiated().is_none());
        t.watch_bytes(b"more");
        assert!(!t.watching);
    }

    #[test]
    fn socket_errors_are_told_apart() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::ErrorKind::ConnectionReset.into())
            }
        }
        let mut t = Tap::new(Broken);
        assert!(t.read(&mut [0; 4]).is_err());
        assert!(t.socket_failed() && !t.at_eof());
        assert!(t.watch().state().socket_failed());
        let mut t = Tap::new(io::empty());
        assert_eq!(t.read(&mut [0; 4]).unwrap(), 0);
        assert!(!t.socket_failed() && t.at_eof());
    }
}
