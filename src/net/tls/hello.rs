//! [`Tap`]: the socket under the TLS stream, watching the bytes go by. It reads the
//! negotiated version and cipher suite out of the server's ServerHello, and remembers whether
//! the last failure came from the socket or from TLS itself.
//!
//! native-tls does not say what it negotiated, but it need not: the ServerHello travels in
//! plaintext in TLS 1.2 (RFC 5246 §7.4.1.3) and TLS 1.3 (RFC 8446 §4.1.3; only what follows
//! it is encrypted), so the same few bytes give the same answer on every platform. They are
//! parsed with tls-parser; cipher suites get their IANA names (TLS 1.3's are IANA names
//! already, and OpenSSL uses them too).

use std::io::{self, Read, Write};

use tls_parser::{
    TlsCipherSuite, TlsExtension, TlsMessage, TlsMessageHandshake, TlsRecordType,
    parse_tls_extensions, parse_tls_message_handshake, parse_tls_raw_record,
};

/// Bytes of server handshake kept while waiting for a whole ServerHello: a ServerHello is a
/// few hundred bytes, and a server that sends this much without one is not going to.
const MAX_WATCHED: usize = 64 * 1024;

/// The `random` of a HelloRetryRequest, which is a ServerHello in form (RFC 8446 §4.1.3):
/// SHA-256 of "HelloRetryRequest". The real ServerHello comes after it.
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// What the ServerHello chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// `TLSv1.2`, `TLSv1.3` (the names OpenSSL and the transcript have always used).
    pub version: String,
    /// The IANA name of the cipher suite, e.g. `TLS_AES_256_GCM_SHA384`.
    pub cipher: String,
}

/// A socket with a watcher on its read side. See the module docs.
#[derive(Debug)]
pub struct Tap<S> {
    inner: S,
    /// Server bytes not yet made into whole records and messages; `None` once the
    /// ServerHello was read (or given up on).
    watching: Option<Watch>,
    negotiated: Option<Negotiated>,
    /// The last read or write of the socket failed (as opposed to TLS failing on bytes that
    /// arrived fine).
    socket_failed: bool,
    /// The last read of the socket found the end of the stream.
    eof: bool,
}

#[derive(Debug, Default)]
struct Watch {
    /// Raw bytes from the server, not yet a whole record.
    records: Vec<u8>,
    /// Handshake-record payloads, not yet a whole handshake message (one may span records).
    messages: Vec<u8>,
}

impl<S> Tap<S> {
    /// Watch `inner`.
    pub fn new(inner: S) -> Tap<S> {
        Tap {
            inner,
            watching: Some(Watch::default()),
            negotiated: None,
            socket_failed: false,
            eof: false,
        }
    }

    /// The socket.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// What the ServerHello chose, once it went by.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
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

    fn watch(&mut self, bytes: &[u8]) {
        let Some(w) = &mut self.watching else {
            return;
        };
        w.records.extend_from_slice(bytes);
        match w.scan() {
            Scan::More if w.records.len() + w.messages.len() <= MAX_WATCHED => {}
            Scan::More | Scan::GaveUp => self.watching = None,
            Scan::Found(n) => {
                self.negotiated = Some(n);
                self.watching = None;
            }
        }
    }
}

enum Scan {
    More,
    GaveUp,
    Found(Negotiated),
}

impl Watch {
    /// Take whole records off `records`, their handshake payloads onto `messages`, and look
    /// at each whole handshake message there.
    fn scan(&mut self) -> Scan {
        loop {
            // RFC 8446 §5.1: a content type from 20 to 24 and a version of 3.x; anything else
            // is not TLS, and waiting for more of it would be waiting for nothing.
            match self.records[..] {
                [t, ..] if !(20..=24).contains(&t) => return Scan::GaveUp,
                [_, major, ..] if major != 3 => return Scan::GaveUp,
                _ => {}
            }
            let taken = match parse_tls_raw_record(&self.records) {
                Ok((rest, record)) => {
                    if record.hdr.record_type != TlsRecordType::Handshake {
                        // ChangeCipherSpec or an alert before any ServerHello: nothing to
                        // read here. Anything else is encrypted or not TLS.
                        if record.hdr.record_type == TlsRecordType::ChangeCipherSpec {
                            self.records.len() - rest.len()
                        } else {
                            return Scan::GaveUp;
                        }
                    } else {
                        self.messages.extend_from_slice(record.data);
                        self.records.len() - rest.len()
                    }
                }
                Err(tls_parser::Err::Incomplete(_)) => return self.messages(),
                Err(_) => return Scan::GaveUp,
            };
            self.records.drain(..taken);
            if let found @ (Scan::Found(_) | Scan::GaveUp) = self.messages() {
                return found;
            }
        }
    }

    /// Look at each whole handshake message in `messages` (RFC 8446 §4: type, 3-byte length).
    fn messages(&mut self) -> Scan {
        loop {
            let [_, a, b, c, ..] = self.messages[..] else {
                return Scan::More;
            };
            let len = 4 + (usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c));
            if self.messages.len() < len {
                return Scan::More;
            }
            let found = server_hello(&self.messages[..len]);
            self.messages.drain(..len);
            match found {
                Some(Hello::Final(n)) => return Scan::Found(n),
                Some(Hello::Retry) => {}
                // The server's first message is its ServerHello; anything else is not.
                None => return Scan::GaveUp,
            }
        }
    }
}

enum Hello {
    Final(Negotiated),
    Retry,
}

/// One handshake message: a ServerHello (or a HelloRetryRequest), or `None`.
fn server_hello(message: &[u8]) -> Option<Hello> {
    let Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ServerHello(hello)))) =
        parse_tls_message_handshake(message)
    else {
        return None;
    };
    if hello.random == HELLO_RETRY_RANDOM {
        return Some(Hello::Retry);
    }
    // TLS 1.3 keeps 0x0303 in the legacy field and names itself in supported_versions
    // (RFC 8446 §4.2.1).
    let mut version = hello.version.0;
    if let Some(Ok((_, extensions))) = hello.ext.map(parse_tls_extensions) {
        for e in extensions {
            if let TlsExtension::SupportedVersions(v) = e
                && let [chosen] = v[..]
            {
                version = chosen.0;
            }
        }
    }
    Some(Hello::Final(Negotiated {
        version: version_name(version),
        cipher: cipher_name(hello.cipher.0),
    }))
}

/// OpenSSL's names for protocol versions, which the transcript has always shown.
fn version_name(v: u16) -> String {
    match v {
        0x0304 => "TLSv1.3".into(),
        0x0303 => "TLSv1.2".into(),
        0x0302 => "TLSv1.1".into(),
        0x0301 => "TLSv1".into(),
        other => format!("0x{other:04X}"),
    }
}

/// The IANA name of a cipher suite (RFC 8446 §B.4, the TLS Cipher Suites registry).
fn cipher_name(id: u16) -> String {
    TlsCipherSuite::from_id(id)
        .map(|c| c.name.to_string())
        .unwrap_or_else(|| format!("0x{id:04X}"))
}

impl<S: Read> Read for Tap<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.inner.read(buf);
        self.socket_failed = r.is_err();
        self.eof = matches!(r, Ok(0));
        if let Ok(n) = r {
            self.watch(&buf[..n]);
        }
        r
    }
}

impl<S: Write> Write for Tap<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.inner.write(buf);
        self.socket_failed = r.is_err();
        r
    }

    fn flush(&mut self) -> io::Result<()> {
        let r = self.inner.flush();
        self.socket_failed = r.is_err();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ServerHello record: TLS 1.3 (supported_versions 0x0304, legacy 0x0303) with
    /// TLS_AES_256_GCM_SHA384, as a TLS 1.3 server sends it, `random` given.
    fn server_hello_record(random: [u8; 32], cipher: u16, tls13: bool) -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&random);
        body.push(0); // empty legacy_session_id
        body.extend_from_slice(&cipher.to_be_bytes());
        body.push(0); // compression
        let exts: Vec<u8> = if tls13 {
            vec![0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]
        } else {
            vec![0xff, 0x01, 0x00, 0x01, 0x00] // renegotiation_info, empty
        };
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut msg = vec![2, 0, 0, body.len() as u8];
        msg.extend_from_slice(&body);
        let mut rec = vec![22, 0x03, 0x03, 0, msg.len() as u8];
        rec.extend_from_slice(&msg);
        rec
    }

    fn tap_of(chunks: &[&[u8]]) -> Tap<io::Empty> {
        let mut t = Tap::new(io::empty());
        for c in chunks {
            t.watch(c);
        }
        t
    }

    #[test]
    fn tls13_server_hello_names_version_and_cipher() {
        let rec = server_hello_record([7; 32], 0x1302, true);
        let t = tap_of(&[&rec]);
        assert_eq!(
            t.negotiated(),
            Some(&Negotiated {
                version: "TLSv1.3".into(),
                cipher: "TLS_AES_256_GCM_SHA384".into()
            })
        );
    }

    #[test]
    fn tls12_server_hello_gets_the_iana_name() {
        let rec = server_hello_record([7; 32], 0xC02C, false);
        let t = tap_of(&[&rec]);
        let n = t.negotiated().unwrap();
        assert_eq!(n.version, "TLSv1.2");
        assert_eq!(n.cipher, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384");
    }

    // TCP may cut anywhere: one byte at a time gives the same answer.
    #[test]
    fn split_across_reads() {
        let rec = server_hello_record([7; 32], 0x1301, true);
        let chunks: Vec<&[u8]> = rec.chunks(1).collect();
        let t = tap_of(&chunks);
        assert_eq!(t.negotiated().unwrap().cipher, "TLS_AES_128_GCM_SHA256");
    }

    // One handshake message over two records (RFC 8446 §5.1 allows it).
    #[test]
    fn one_message_over_two_records() {
        let rec = server_hello_record([7; 32], 0x1303, true);
        let msg = &rec[5..];
        let (a, b) = msg.split_at(10);
        let mut two = Vec::new();
        for part in [a, b] {
            two.extend_from_slice(&[22, 3, 3, 0, part.len() as u8]);
            two.extend_from_slice(part);
        }
        let t = tap_of(&[&two]);
        assert_eq!(
            t.negotiated().unwrap().cipher,
            "TLS_CHACHA20_POLY1305_SHA256"
        );
    }

    // A HelloRetryRequest is not the answer; the ServerHello after it is.
    #[test]
    fn hello_retry_request_is_skipped() {
        let hrr = server_hello_record(HELLO_RETRY_RANDOM, 0x1301, true);
        let ccs = [20, 3, 3, 0, 1, 1];
        let real = server_hello_record([9; 32], 0x1302, true);
        let t = tap_of(&[&hrr, &ccs, &real]);
        assert_eq!(t.negotiated().unwrap().cipher, "TLS_AES_256_GCM_SHA384");
    }

    #[test]
    fn not_tls_gives_up_quietly() {
        let t = tap_of(&[b"220 this is SMTP, not TLS\r\n"]);
        assert!(t.negotiated().is_none());
        assert!(t.watching.is_none());
        let alert = [21, 3, 3, 0, 2, 2, 40];
        let t = tap_of(&[&alert]);
        assert!(t.negotiated().is_none());
        assert!(t.watching.is_none());
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
        let mut t = Tap::new(io::empty());
        assert_eq!(t.read(&mut [0; 4]).unwrap(), 0);
        assert!(!t.socket_failed() && t.at_eof());
    }
}
