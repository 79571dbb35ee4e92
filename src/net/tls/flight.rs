//! The server's side of a TLS handshake, as far as it travels in plaintext, read from the
//! bytes as they pass ([`Flight::feed`]): the ServerHello (version, cipher suite and, in TLS
//! 1.3, the key-exchange group), and in TLS 1.2 the rest of the server's first flight — the
//! Certificate message with the chain exactly as the server sent it (RFC 5246 §7.4.2), the
//! ServerKeyExchange with its group (RFC 8422 §5.4), a stapled OCSP response (RFC 6066 §8),
//! a request for a client certificate — and an alert the server sends before encryption
//! starts. Bytes that are not TLS at all (an SMTP greeting on a port where smtpsh expected
//! implicit TLS) are kept too, so the error can say what came instead.
//!
//! Why read the bytes: native-tls says neither what it negotiated nor which certificates the
//! server sent, and a failed handshake says nothing at all beyond the platform's message.
//! TLS 1.3 encrypts everything after the ServerHello (RFC 8446 §2), so there the chain is out
//! of sight; `:tls chain` fetches it over a connection capped at TLS 1.2.
//!
//! Pure and incremental: bytes may arrive cut anywhere; the state is bounded
//! ([`MAX_WATCHED`]); nothing here panics on any input (it is a fuzzing entry point).

use tls_parser::{
    TlsCipherSuite, TlsExtension, TlsMessage, TlsMessageHandshake, parse_tls_extensions,
    parse_tls_message_handshake,
};

/// Bytes of server handshake kept while waiting for whole records and messages: a first
/// flight is a few kilobytes (a long chain some ten), and a server that sends this much
/// without finishing it is not going to.
pub const MAX_WATCHED: usize = 128 * 1024;

/// How many bytes of something that is not TLS are kept to show.
const NOT_TLS_KEPT: usize = 512;

/// Add to `kept` what `bytes` hold of the first line, up to [`NOT_TLS_KEPT`] bytes.
fn keep_first_line(kept: &mut Vec<u8>, bytes: &[u8]) {
    if kept.contains(&b'\n') || kept.len() >= NOT_TLS_KEPT {
        return;
    }
    let line = bytes
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| i + 1);
    kept.extend_from_slice(&bytes[..line.min(NOT_TLS_KEPT - kept.len())]);
}

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

/// An alert the server sent in plaintext (RFC 8446 §6, RFC 5246 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    /// 1 warning, 2 fatal.
    pub level: u8,
    /// The AlertDescription code.
    pub description: u8,
}

impl Alert {
    /// The registry's name, e.g. `handshake_failure`.
    pub fn name(&self) -> String {
        alert_name(self.description)
    }
}

/// The name of TLS alert `code` in the IANA TLS Alerts registry, or `alert N`.
pub fn alert_name(code: u8) -> String {
    let name = match code {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        other => return format!("alert {other}"),
    };
    name.to_string()
}

/// Everything the plaintext part of the server's handshake showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// The ServerHello's choice.
    pub negotiated: Option<Negotiated>,
    /// The key-exchange group: from the ServerHello's key_share in TLS 1.3 (RFC 8446
    /// §4.2.8), from the ServerKeyExchange in TLS 1.2; `RSA key transport` when the suite
    /// has none.
    pub group: Option<String>,
    /// The certificates of the TLS 1.2 Certificate message, DER, in the order sent (the
    /// server's own first). `None` in TLS 1.3 or when the message was not seen.
    pub chain: Option<Vec<Vec<u8>>>,
    /// The server stapled an OCSP response (a CertificateStatus message, TLS 1.2).
    pub ocsp_stapled: bool,
    /// The server asked for a client certificate (a CertificateRequest, TLS 1.2).
    pub client_cert_requested: bool,
    /// An alert the server sent before encryption started.
    pub alert: Option<Alert>,
    /// The first bytes from the server when they are not TLS at all (at most 512).
    pub not_tls: Option<Vec<u8>>,
    /// Why the watch stopped before the end of the server's first flight, if it did.
    pub gave_up: Option<String>,
}

impl Seen {
    /// Whether the server answered in TLS: a ServerHello or an alert record.
    pub fn speaks_tls(&self) -> bool {
        self.negotiated.is_some() || self.alert.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Waiting for the ServerHello (after any HelloRetryRequest).
    Hello,
    /// TLS 1.2, after the ServerHello: Certificate, ServerKeyExchange, ... ServerHelloDone.
    Flight12,
    /// TLS 1.2, after ServerHelloDone: only an alert is still plaintext, until the server's
    /// ChangeCipherSpec.
    Alerts12,
    /// Nothing more to read in plaintext.
    Done,
}

/// The watcher. See the module docs.
#[derive(Debug, Clone)]
pub struct Flight {
    stage: Stage,
    /// Raw bytes from the server, not yet a whole record.
    records: Vec<u8>,
    /// Handshake-record payloads, not yet a whole handshake message (one may span records).
    messages: Vec<u8>,
    /// The cipher suite the ServerHello chose (to read the ServerKeyExchange by its kind).
    cipher_id: u16,
    /// Whether any byte arrived yet.
    started: bool,
    seen: Seen,
}

impl Default for Flight {
    fn default() -> Flight {
        Flight::new()
    }
}

impl Flight {
    /// A watcher waiting for the server's first byte.
    pub fn new() -> Flight {
        Flight {
            stage: Stage::Hello,
            records: Vec::new(),
            messages: Vec::new(),
            cipher_id: 0,
            started: false,
            seen: Seen::default(),
        }
    }

    /// Read `bytes` from the server (the next ones on the wire, after those fed before).
    /// What is seen does not depend on how the bytes were split into reads.
    pub fn feed(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(kept) = self.seen.not_tls.as_mut() {
            keep_first_line(kept, bytes);
            return;
        }
        if self.stage == Stage::Done {
            return;
        }
        self.records.extend_from_slice(bytes);
        if !self.started {
            // RFC 8446 §5.1: a content type from 20 to 24 and a major version of 3. Anything
            // else is not TLS: keep its first line to show. The two bytes may come in two
            // reads.
            let not_tls = match self.records.as_slice() {
                [t, ..] if !(20..=24).contains(t) => true,
                [_, major, ..] => *major != 3,
                _ => return,
            };
            self.started = true;
            if not_tls {
                let mut kept = Vec::new();
                keep_first_line(&mut kept, &std::mem::take(&mut self.records));
                self.seen.not_tls = Some(kept);
                self.stop(None);
                return;
            }
        }
        self.records();
        if self.stage != Stage::Done && self.records.len() + self.messages.len() > MAX_WATCHED {
            self.stop(Some(format!(
                "the server's handshake ran past {} KiB before its first flight ended",
                MAX_WATCHED / 1024
            )));
        }
    }

    /// Whether there is more to read in plaintext (the rest of a handshake, or the rest of
    /// the first line of something that is not TLS).
    pub fn watching(&self) -> bool {
        self.stage != Stage::Done
            || self
                .seen
                .not_tls
                .as_ref()
                .is_some_and(|k| !k.contains(&b'\n') && k.len() < NOT_TLS_KEPT)
    }

    /// What was seen so far.
    pub fn seen(&self) -> &Seen {
        &self.seen
    }

    fn stop(&mut self, why: Option<String>) {
        if self.stage != Stage::Done {
            self.stage = Stage::Done;
            if self.seen.gave_up.is_none() {
                self.seen.gave_up = why;
            }
        }
        self.records = Vec::new();
        self.messages = Vec::new();
    }

    /// Take whole records off `records` (RFC 8446 §5.1: type, version, 2-byte length).
    fn records(&mut self) {
        while self.stage != Stage::Done {
            let [kind, major, _, hi, lo, ..] = self.records[..] else {
                return;
            };
            if !(20..=24).contains(&kind) || major != 3 {
                self.stop(Some(
                    "the server sent something that is not a TLS record".into(),
                ));
                return;
            }
            let len = usize::from(hi) << 8 | usize::from(lo);
            if self.records.len() < 5 + len {
                return;
            }
            let body: Vec<u8> = self.records[5..5 + len].to_vec();
            self.records.drain(..5 + len);
            match kind {
                // ChangeCipherSpec: in TLS 1.2 encryption starts after it; TLS 1.3 sends one
                // for middlebox compatibility and it means nothing (RFC 8446 §D.4).
                20 => {
                    if self.stage != Stage::Hello {
                        self.stop(None);
                    }
                }
                21 => {
                    if let [level, description] = body[..] {
                        self.seen.alert = Some(Alert { level, description });
                    }
                    self.stop(None);
                }
                22 => {
                    self.messages.extend_from_slice(&body);
                    self.messages();
                }
                // Application data (or a heartbeat): encrypted from here on.
                _ => self.stop(None),
            }
        }
    }

    /// Look at each whole handshake message (RFC 8446 §4: type, 3-byte length).
    fn messages(&mut self) {
        while self.stage != Stage::Done {
            let [kind, a, b, c, ..] = self.messages[..] else {
                return;
            };
            let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
            if self.messages.len() < 4 + len {
                return;
            }
            let message: Vec<u8> = self.messages.drain(..4 + len).collect();
            match (self.stage, kind) {
                (Stage::Hello, 2) => self.server_hello(&message),
                (Stage::Hello, _) => self.stop(Some(
                    "the server's first message is not a ServerHello".into(),
                )),
                (_, 11) => self.certificate(&message[4..]),
                (_, 12) => self.server_key_exchange(&message[4..]),
                (_, 13) => self.seen.client_cert_requested = true,
                (_, 14) => self.stage = Stage::Alerts12,
                (_, 22) => self.seen.ocsp_stapled = true,
                _ => {}
            }
        }
    }

    fn server_hello(&mut self, message: &[u8]) {
        let Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ServerHello(hello)))) =
            parse_tls_message_handshake(message)
        else {
            self.stop(Some("the ServerHello can't be read".into()));
            return;
        };
        if hello.random == HELLO_RETRY_RANDOM {
            // Not the answer; the ServerHello after it is.
            return;
        }
        // TLS 1.3 keeps 0x0303 in the legacy field and names itself in supported_versions
        // (RFC 8446 §4.2.1).
        let mut version = hello.version.0;
        let mut group = None;
        if let Some(Ok((_, extensions))) = hello.ext.map(parse_tls_extensions) {
            for e in extensions {
                match e {
                    TlsExtension::SupportedVersions(v) => {
                        if let [chosen] = v[..] {
                            version = chosen.0;
                        }
                    }
                    // RFC 8446 §4.2.8: the server's KeyShareEntry, its group first.
                    TlsExtension::KeyShare(data) => {
                        if let [hi, lo, ..] = data[..] {
                            group = Some(group_name(u16::from_be_bytes([hi, lo])));
                        }
                    }
                    _ => {}
                }
            }
        }
        self.cipher_id = hello.cipher.0;
        self.seen.negotiated = Some(Negotiated {
            version: version_name(version),
            cipher: cipher_name(hello.cipher.0),
        });
        if version >= 0x0304 {
            self.seen.group = group;
            // Everything after the ServerHello is encrypted (RFC 8446 §2).
            self.stop(None);
        } else {
            if !self.kx_sends_params() {
                self.seen.group = Some("RSA key transport (no forward secrecy)".into());
            }
            self.stage = Stage::Flight12;
        }
    }

    /// Whether the suite's key exchange has a ServerKeyExchange with a group (ECDHE, DHE).
    fn kx_sends_params(&self) -> bool {
        TlsCipherSuite::from_id(self.cipher_id)
            .is_none_or(|c| c.name.starts_with("TLS_ECDHE_") || c.name.starts_with("TLS_DHE_"))
    }

    /// RFC 5246 §7.4.2: `certificate_list<0..2^24-1>` of `ASN.1Cert<1..2^24-1>`.
    fn certificate(&mut self, body: &[u8]) {
        match certificate_list(body) {
            Ok(chain) => self.seen.chain = Some(chain),
            Err(why) => {
                self.seen.gave_up = Some(format!("the Certificate message is malformed: {why}"))
            }
        }
    }

    /// RFC 8422 §5.4 (ECDHE: curve type 3, then the named group) and RFC 5246 §7.4.3 (DHE:
    /// the prime, whose length is the group's size).
    fn server_key_exchange(&mut self, body: &[u8]) {
        let ecdhe = TlsCipherSuite::from_id(self.cipher_id)
            .is_some_and(|c| c.name.starts_with("TLS_ECDHE_"));
        self.seen.group = if ecdhe {
            match body {
                [3, hi, lo, ..] => Some(group_name(u16::from_be_bytes([*hi, *lo]))),
                [kind, ..] => Some(format!("ECDHE, curve type {kind}")),
                [] => None,
            }
        } else {
            match body {
                [hi, lo, rest @ ..] => {
                    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
                    let p = rest.get(..len).unwrap_or(rest);
                    let zeros = p.iter().take_while(|b| **b == 0).count();
                    let bits = (p.len() - zeros) * 8
                        - p.get(zeros).map_or(0, |b| b.leading_zeros() as usize);
                    Some(format!("DHE {bits} bits"))
                }
                _ => None,
            }
        };
    }
}

/// The certificates of a TLS 1.2 Certificate message body (RFC 5246 §7.4.2).
pub fn certificate_list(body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let [a, b, c, rest @ ..] = body else {
        return Err("shorter than its length field".into());
    };
    let total = usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c);
    if total != rest.len() {
        return Err(format!(
            "the list says {total} bytes, the message holds {}",
            rest.len()
        ));
    }
    let mut certs = Vec::new();
    let mut rest = rest;
    while !rest.is_empty() {
        let [a, b, c, after @ ..] = rest else {
            return Err("a certificate's length is cut off".into());
        };
        let len = usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c);
        if len == 0 || len > after.len() {
            return Err(format!(
                "certificate {} says {len} bytes, {} are left",
                certs.len() + 1,
                after.len()
            ));
        }
        certs.push(after[..len].to_vec());
        rest = &after[len..];
    }
    Ok(certs)
}

/// OpenSSL's names for protocol versions, which the transcript has always shown.
pub fn version_name(v: u16) -> String {
    match v {
        0x0304 => "TLSv1.3".into(),
        0x0303 => "TLSv1.2".into(),
        0x0302 => "TLSv1.1".into(),
        0x0301 => "TLSv1".into(),
        0x0300 => "SSLv3".into(),
        other => format!("0x{other:04X}"),
    }
}

/// The IANA name of a cipher suite (RFC 8446 §B.4, the TLS Cipher Suites registry).
pub fn cipher_name(id: u16) -> String {
    TlsCipherSuite::from_id(id)
        .map(|c| c.name.to_string())
        .unwrap_or_else(|| format!("0x{id:04X}"))
}

/// The name of a key-exchange group (the TLS Supported Groups registry).
pub fn group_name(id: u16) -> String {
    let name = match id {
        0x0017 => "secp256r1",
        0x0018 => "secp384r1",
        0x0019 => "secp521r1",
        0x001D => "x25519",
        0x001E => "x448",
        0x0100 => "ffdhe2048",
        0x0101 => "ffdhe3072",
        0x0102 => "ffdhe4096",
        0x0103 => "ffdhe6144",
        0x0104 => "ffdhe8192",
        0x11EB => "SecP256r1MLKEM768",
        0x11EC => "X25519MLKEM768",
        0x11ED => "SecP384r1MLKEM1024",
        0x6399 => "X25519Kyber768Draft00",
        other => return format!("group 0x{other:04X}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ServerHello handshake message: `cipher`, TLS 1.3 (supported_versions and a key_share
    /// for x25519) or TLS 1.2 (renegotiation_info only), `random` given.
    fn server_hello(random: [u8; 32], cipher: u16, tls13: bool) -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&random);
        body.push(0); // empty legacy_session_id
        body.extend_from_slice(&cipher.to_be_bytes());
        body.push(0); // compression
        let exts: Vec<u8> = if tls13 {
            let mut e = vec![0x00, 0x2b, 0x00, 0x02, 0x03, 0x04];
            e.extend_from_slice(&[0x00, 0x33, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20]);
            e.extend_from_slice(&[0x55; 32]);
            e
        } else {
            vec![0xff, 0x01, 0x00, 0x01, 0x00]
        };
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        message(2, &body)
    }

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let n = body.len() as u32;
        let mut m = vec![kind, (n >> 16) as u8, (n >> 8) as u8, n as u8];
        m.extend_from_slice(body);
        m
    }

    fn record(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut r = vec![kind, 3, 3];
        r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        r.extend_from_slice(payload);
        r
    }

    fn certificate(certs: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for c in certs {
            let n = c.len() as u32;
            list.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
            list.extend_from_slice(c);
        }
        let n = list.len() as u32;
        let mut body = vec![(n >> 16) as u8, (n >> 8) as u8, n as u8];
        body.extend_from_slice(&list);
        message(11, &body)
    }

    fn fed(chunks: &[&[u8]]) -> Flight {
        let mut f = Flight::new();
        for c in chunks {
            f.feed(c);
        }
        f
    }

    /// A TLS 1.2 first flight: ServerHello, Certificate (two), ServerKeyExchange (P-256),
    /// CertificateStatus, ServerHelloDone — the last four in one record.
    fn tls12_flight() -> Vec<u8> {
        let mut out = record(22, &server_hello([7; 32], 0xC02F, false));
        let mut rest = certificate(&[b"leaf-der", b"ca-der"]);
        rest.extend(message(12, &[3, 0x00, 0x17, 65, 4]));
        rest.extend(message(22, &[1, 0, 0, 0]));
        rest.extend(message(14, &[]));
        out.extend(record(22, &rest));
        out
    }

    #[test]
    fn tls13_server_hello_names_version_cipher_and_group() {
        let f = fed(&[&record(22, &server_hello([7; 32], 0x1302, true))]);
        assert_eq!(
            f.seen().negotiated,
            Some(Negotiated {
                version: "TLSv1.3".into(),
                cipher: "TLS_AES_256_GCM_SHA384".into()
            })
        );
        assert_eq!(f.seen().group.as_deref(), Some("x25519"));
        assert_eq!(f.seen().chain, None);
        assert!(!f.watching(), "TLS 1.3 hides the rest");
    }

    #[test]
    fn tls12_flight_gives_the_chain_group_and_staple() {
        let f = fed(&[&tls12_flight()]);
        let s = f.seen();
        assert_eq!(s.negotiated.as_ref().unwrap().version, "TLSv1.2");
        assert_eq!(
            s.negotiated.as_ref().unwrap().cipher,
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        );
        assert_eq!(
            s.chain.as_deref(),
            Some(&[b"leaf-der".to_vec(), b"ca-der".to_vec()][..])
        );
        assert_eq!(s.group.as_deref(), Some("secp256r1"));
        assert!(s.ocsp_stapled && !s.client_cert_requested);
        assert!(f.watching(), "a plaintext alert may still come");
        // The server's ChangeCipherSpec ends the plaintext.
        let mut f = f;
        f.feed(&record(20, &[1]));
        assert!(!f.watching());
    }

    // TCP may cut anywhere: one byte at a time gives the same answer.
    #[test]
    fn one_byte_at_a_time() {
        let flight = tls12_flight();
        let chunks: Vec<&[u8]> = flight.chunks(1).collect();
        assert_eq!(fed(&chunks).seen(), fed(&[&flight]).seen());
    }

    // One handshake message over two records (RFC 8446 §5.1 allows it).
    #[test]
    fn one_message_over_two_records() {
        let cert = certificate(&[&[0xAB; 300]]);
        let (a, b) = cert.split_at(100);
        let mut bytes = record(22, &server_hello([7; 32], 0xC02F, false));
        bytes.extend(record(22, a));
        bytes.extend(record(22, b));
        let f = fed(&[&bytes]);
        assert_eq!(f.seen().chain.as_ref().unwrap()[0], vec![0xAB; 300]);
    }

    #[test]
    fn hello_retry_request_is_skipped() {
        let mut bytes = record(22, &server_hello(HELLO_RETRY_RANDOM, 0x1301, true));
        bytes.extend(record(20, &[1]));
        bytes.extend(record(22, &server_hello([9; 32], 0x1302, true)));
        let f = fed(&[&bytes]);
        assert_eq!(
            f.seen().negotiated.as_ref().unwrap().cipher,
            "TLS_AES_256_GCM_SHA384"
        );
    }

    #[test]
    fn an_alert_before_the_hello_is_named() {
        let f = fed(&[&record(21, &[2, 40])]);
        let a = f.seen().alert.unwrap();
        assert_eq!((a.level, a.name().as_str()), (2, "handshake_failure"));
        assert!(f.seen().speaks_tls());
        assert_eq!(alert_name(70), "protocol_version");
        assert_eq!(alert_name(200), "alert 200");
        // In TLS 1.2 an alert after ServerHelloDone is still plaintext.
        let mut bytes = tls12_flight();
        bytes.extend(record(21, &[2, 42]));
        assert_eq!(
            fed(&[&bytes]).seen().alert.unwrap().name(),
            "bad_certificate"
        );
    }

    // Found by fuzzing (the tls_flight target): what was kept of a plaintext answer, and
    // whether it was TLS at all, depended on how the bytes were split into reads.
    // See: issue 15
    #[test]
    fn regression_what_is_seen_does_not_depend_on_the_reads() {
        let greeting = b"220 mx.example ESMTP\r\n250 more\r\n";
        let whole = fed(&[greeting]);
        let split = fed(&[&greeting[..1], &greeting[1..5], &greeting[5..]]);
        assert_eq!(whole.seen(), split.seen());
        assert_eq!(
            whole.seen().not_tls.as_deref(),
            Some(&b"220 mx.example ESMTP\r\n"[..]),
            "the first line, whole"
        );
        // A record header split after its content type: major version 2 is still not TLS.
        let split = fed(&[&[22], &[2, 0, 0]]);
        assert_eq!(split.seen(), fed(&[&[22, 2, 0, 0]]).seen());
        assert!(split.seen().not_tls.is_some());
    }

    #[test]
    fn a_plaintext_greeting_is_kept_to_show() {
        let f = fed(&[b"220 mx.example ESMTP\r\n"]);
        assert_eq!(
            f.seen().not_tls.as_deref(),
            Some(&b"220 mx.example ESMTP\r\n"[..])
        );
        assert!(!f.seen().speaks_tls() && !f.watching());
        let f = fed(&[&[22, 2, 0, 0]]);
        assert!(f.seen().not_tls.is_some(), "major version 2 is not TLS");
    }

    #[test]
    fn dhe_and_rsa_key_exchange() {
        let mut bytes = record(22, &server_hello([7; 32], 0x009E, false));
        let mut p = vec![0x00, 0x80];
        p.extend(std::iter::repeat_n(0xFF, 128)); // a 1024-bit prime
        bytes.extend(record(22, &message(12, &p)));
        assert_eq!(
            fed(&[&bytes]).seen().group.as_deref(),
            Some("DHE 1024 bits")
        );
        let bytes = record(22, &server_hello([7; 32], 0x009C, false));
        assert_eq!(
            fed(&[&bytes]).seen().group.as_deref(),
            Some("RSA key transport (no forward secrecy)")
        );
    }

    #[test]
    fn malformed_certificate_lists_are_reasons_not_panics() {
        assert!(certificate_list(&[0, 0, 5, 0, 0, 9, 1, 2]).is_err());
        assert!(certificate_list(&[0, 0, 3, 0, 0, 0]).is_err());
        assert!(certificate_list(&[0]).is_err());
        assert_eq!(certificate_list(&[0, 0, 0]).unwrap(), Vec::<Vec<u8>>::new());
        let mut bytes = record(22, &server_hello([7; 32], 0xC02F, false));
        bytes.extend(record(22, &message(11, &[0, 0, 9, 1])));
        let f = fed(&[&bytes]);
        assert!(f.seen().chain.is_none());
        assert!(f.seen().gave_up.as_deref().unwrap().contains("malformed"));
    }

    #[test]
    fn a_flight_that_never_ends_is_given_up_on() {
        let mut f = Flight::new();
        f.feed(&record(22, &server_hello([7; 32], 0xC02F, false)));
        // A handshake message that claims 16 MiB.
        f.feed(&[22, 3, 3, 0x40, 0x00, 11, 0xFF, 0xFF, 0xFF]);
        let chunk = [0u8; 16 * 1024];
        for _ in 0..20 {
            f.feed(&record(22, &chunk[..16_000]));
        }
        assert!(!f.watching());
        assert!(f.seen().gave_up.is_some());
    }

    #[test]
    fn garbage_never_panics() {
        let mut x = 0x1234_5678u32;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|i| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    if i == 0 {
                        22
                    } else if i == 1 {
                        3
                    } else {
                        (x >> 16) as u8
                    }
                })
                .collect();
            let mut f = Flight::new();
            for c in bytes.chunks(7) {
                f.feed(c);
            }
        }
    }
}
