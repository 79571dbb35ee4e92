//! The `:tls` report: what a TLS handshake established and what the server presented —
//! protocol, cipher suite, key-exchange group, and each certificate of the chain as the
//! server sent it (subject, names, issuer, serial, key type and size, signature algorithm,
//! validity with the days left, SHA-256 of the certificate and of its public key, OCSP
//! must-staple) — and the verification verdict with its reason. Also shown, without
//! `--insecure`, after a handshake the verifier refused: the point is to see why.
//!
//! Pure: built from DER and the facts the connection gathered, with the time as an argument;
//! [`describe_cert`] takes a server's bytes and is a fuzzing entry point. Text for the shell
//! (`Display`), JSON for `--json` (`serde::Serialize`), PEM for `:tls save` ([`pem_chain`]).

use std::fmt;

use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::oid_registry::{self, Oid};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

use super::summary::{colon_hex, name_string, openssl_time, san_names};

/// The TLS Feature extension (RFC 7633 §6): `status_request` (5) in it is OCSP must-staple.
const TLS_FEATURE: &str = "1.3.6.1.5.5.7.1.24";

/// How soon before its end a certificate's validity earns a note.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// One certificate, described in full.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertDetails {
    /// Place in the chain as sent: 0 is the server's own.
    pub depth: usize,
    /// `CN=mx.example.org, O=…`, control characters escaped.
    pub subject: String,
    /// DNS names and IP addresses of subjectAltName.
    pub names: Vec<String>,
    /// The issuer, as `subject`.
    pub issuer: String,
    /// The serial number, colon-separated hex.
    pub serial: String,
    /// `RSA 2048 bits`, `EC P-256 (256 bits)`, `Ed25519`.
    pub key: String,
    /// The signature algorithm, e.g. `sha256WithRSAEncryption`.
    pub signature: String,
    /// notBefore, as OpenSSL prints it.
    pub not_before: String,
    /// notAfter, as OpenSSL prints it.
    pub not_after: String,
    /// Whole days from now to notAfter (negative once expired).
    pub days_left: i64,
    /// Not valid yet.
    pub not_yet_valid: bool,
    /// SHA-256 of the certificate (DER), colon-separated upper-case hex.
    pub sha256: String,
    /// SHA-256 of its SubjectPublicKeyInfo (what a TLSA `3 1 1` record holds).
    pub spki_sha256: String,
    /// The TLS Feature extension asks for a stapled OCSP response (RFC 7633).
    pub must_staple: bool,
    /// basicConstraints CA:TRUE.
    pub ca: bool,
    /// Subject and issuer are the same name.
    pub self_issued: bool,
}

/// Describe the DER certificate `der` found at `depth`, at `now` (Unix seconds).
pub fn describe_cert(der: &[u8], depth: usize, now: i64) -> Result<CertDetails, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
    let validity = cert.validity();
    let not_after = validity.not_after.timestamp();
    let spki = cert.public_key();
    Ok(CertDetails {
        depth,
        subject: name_string(cert.subject()),
        names: san_names(&cert),
        issuer: name_string(cert.issuer()),
        serial: colon_hex(cert.raw_serial()),
        key: key_text(&cert),
        signature: oid_text(&cert.signature_algorithm.algorithm),
        not_before: openssl_time(&validity.not_before),
        not_after: openssl_time(&validity.not_after),
        days_left: (not_after - now).div_euclid(86_400),
        not_yet_valid: now < validity.not_before.timestamp(),
        sha256: colon_hex(&Sha256::digest(der)),
        spki_sha256: colon_hex(&Sha256::digest(spki.raw)),
        must_staple: must_staple(&cert),
        ca: cert.is_ca(),
        self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
    })
}

/// A short name for an OID (OpenSSL's, as `openssl x509 -text` prints them), else dotted.
fn oid_text(oid: &Oid<'_>) -> String {
    x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry())
        .map(str::to_string)
        .unwrap_or_else(|_| oid.to_id_string())
}

fn key_text(cert: &X509Certificate<'_>) -> String {
    let spki = cert.public_key();
    let alg = &spki.algorithm.algorithm;
    if *alg == oid_registry::OID_SIG_ED25519 {
        return "Ed25519".into();
    }
    if *alg == oid_registry::OID_SIG_ED448 {
        return "Ed448".into();
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => format!("RSA {} bits", bits(rsa.modulus)),
        Ok(PublicKey::EC(point)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| match oid_text(&oid).as_str() {
                    "prime256v1" => "P-256".to_string(),
                    "secp384r1" => "P-384".to_string(),
                    "secp521r1" => "P-521".to_string(),
                    other => other.to_string(),
                })
                .unwrap_or_else(|| "with an unnamed curve".into());
            format!("EC {curve} ({} bits)", point.key_size())
        }
        Ok(PublicKey::DSA(y)) => format!("DSA {} bits", bits(y)),
        _ => oid_text(alg),
    }
}

/// The size in bits of a big-endian unsigned integer (leading zero bytes and bits not
/// counted; x509-parser's `key_size` assumes one leading zero byte).
fn bits(n: &[u8]) -> usize {
    let zeros = n.iter().take_while(|b| **b == 0).count();
    match n.get(zeros) {
        Some(first) => (n.len() - zeros) * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

/// RFC 7633 §4.2: `TLSFeature ::= SEQUENCE OF INTEGER`; 5 is status_request.
fn must_staple(cert: &X509Certificate<'_>) -> bool {
    cert.extensions()
        .iter()
        .filter(|e| e.oid.to_id_string() == TLS_FEATURE)
        .any(|e| tls_features(e.value).contains(&5))
}

/// The integers of a DER `SEQUENCE OF INTEGER` (small ones only: features are below 2^16).
fn tls_features(der: &[u8]) -> Vec<u64> {
    let [0x30, len, rest @ ..] = der else {
        return Vec::new();
    };
    let mut rest = rest.get(..usize::from(*len)).unwrap_or(&[]);
    let mut out = Vec::new();
    while let [0x02, n, after @ ..] = rest {
        let n = usize::from(*n);
        let Some(value) = after.get(..n).filter(|v| !v.is_empty() && v.len() <= 8) else {
            break;
        };
        out.push(value.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b)));
        rest = &after[n..];
    }
    out
}

/// Where the chain in the report came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum ChainSource {
    /// The TLS 1.2 Certificate message of this handshake, read as it passed: the chain
    /// exactly as sent.
    Handshake,
    /// Only the server's own certificate: TLS 1.3 encrypted the Certificate message, and the
    /// platform hands over the peer certificate alone.
    LeafOnly {
        /// A second connection capped at TLS 1.2 was refused: the chain stays hidden.
        tls12_refused: bool,
    },
    /// A second connection, capped at TLS 1.2 (`:tls chain`, or the look after a failed
    /// verification).
    SecondConnection {
        /// The protocol of that connection.
        version: String,
        /// Whether it presented the same certificate as the first (a load balancer may
        /// answer with another server); `None` when the first one was not seen (TLS 1.3).
        #[serde(skip_serializing_if = "Option::is_none")]
        same_leaf: Option<bool>,
    },
}

/// The verification verdict.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum TlsVerdict {
    /// The platform's verifier accepted the chain for the name.
    Verified {
        /// The name verified.
        name: String,
    },
    /// The platform's verifier refused the chain; the connection was not used.
    Refused {
        /// The name it was verified for.
        name: String,
        /// The verifier's reason.
        reason: String,
        /// What smtpsh's own checks of the certificate found, when they found something.
        #[serde(skip_serializing_if = "Option::is_none")]
        found: Option<String>,
    },
    /// `--insecure`: the verifier was off; smtpsh's own checks of the certificate.
    NotChecked {
        /// The name it would have been verified for.
        name: String,
        /// What would have failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        problem: Option<String>,
        /// What the certificate alone can't tell.
        #[serde(skip_serializing_if = "Option::is_none")]
        unchecked: Option<String>,
    },
}

impl TlsVerdict {
    /// Whether the platform verified the chain.
    pub fn is_verified(&self) -> bool {
        matches!(self, TlsVerdict::Verified { .. })
    }

    /// Why the chain is not (known to be) good, when it is not.
    pub fn problem(&self) -> Option<String> {
        match self {
            TlsVerdict::Verified { .. } => None,
            TlsVerdict::Refused { reason, .. } => Some(reason.clone()),
            TlsVerdict::NotChecked {
                problem, unchecked, ..
            } => Some(
                problem
                    .clone()
                    .or_else(|| unchecked.clone())
                    .unwrap_or_else(|| "not verified (--insecure)".into()),
            ),
        }
    }
}

/// What a handshake (or a look at one) gathered, to make a report of.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The protocol, e.g. `TLSv1.3`, when the ServerHello was seen.
    pub version: Option<String>,
    /// The cipher suite's IANA name.
    pub cipher: Option<String>,
    /// The key-exchange group.
    pub group: Option<String>,
    /// The certificates, DER, as sent.
    pub chain: Vec<Vec<u8>>,
    /// Whether a stapled OCSP response was seen (`None`: can't tell, as in TLS 1.3).
    pub ocsp_stapled: Option<bool>,
}

/// The `:tls` report. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TlsReport {
    /// What was connected to: `host:port (address)`.
    pub server: String,
    /// The protocol.
    pub version: Option<String>,
    /// The cipher suite.
    pub cipher: Option<String>,
    /// The key-exchange group.
    pub group: Option<String>,
    /// The chain, described.
    pub chain: Vec<CertDetails>,
    /// Where the chain came from.
    pub chain_source: ChainSource,
    /// Whether the server stapled an OCSP response (TLS 1.2 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ocsp_stapled: Option<bool>,
    /// Remarks on the chain: order, expiry, must-staple without a staple, what could not be
    /// read.
    pub notes: Vec<String>,
    /// The verdict.
    pub verdict: TlsVerdict,
    /// The certificates, DER (for `:tls save`, `:dane` and `:mta-sts`).
    #[serde(skip)]
    pub ders: Vec<Vec<u8>>,
}

impl TlsReport {
    /// Describe what was observed, at `now`.
    pub fn new(
        server: String,
        seen: Observed,
        source: ChainSource,
        verdict: TlsVerdict,
        now: i64,
    ) -> TlsReport {
        let mut chain = Vec::new();
        let mut notes = Vec::new();
        for (depth, der) in seen.chain.iter().enumerate() {
            match describe_cert(der, depth, now) {
                Ok(d) => chain.push(d),
                Err(e) => notes.push(format!("certificate [{depth}] can't be read: {e}")),
            }
        }
        for pair in chain.windows(2) {
            if pair[0].issuer != pair[1].subject {
                notes.push(format!(
                    "[{}] is issued by \"{}\", but the next certificate sent is \"{}\": the chain is out of order or has a gap",
                    pair[0].depth, pair[0].issuer, pair[1].subject
                ));
            }
        }
        for c in &chain {
            if c.not_yet_valid {
                notes.push(format!(
                    "[{}] is not valid yet (from {})",
                    c.depth, c.not_before
                ));
            } else if c.days_left < 0 {
                notes.push(format!(
                    "[{}] expired {} days ago ({})",
                    c.depth, -c.days_left, c.not_after
                ));
            } else if c.days_left < EXPIRY_WARNING_DAYS {
                notes.push(format!(
                    "[{}] expires in {} days ({})",
                    c.depth, c.days_left, c.not_after
                ));
            }
        }
        if chain.first().is_some_and(|c| c.must_staple) && seen.ocsp_stapled == Some(false) {
            notes.push(
                "[0] requires a stapled OCSP response (must-staple, RFC 7633), and the server stapled none: clients that enforce it refuse the connection"
                    .into(),
            );
        }
        match source {
            ChainSource::LeafOnly {
                tls12_refused: false,
            } => notes.push(
                "TLS 1.3 encrypts the chain, and the platform hands over the server's own certificate only: :tls chain fetches the rest over a second connection capped at TLS 1.2"
                    .into(),
            ),
            ChainSource::LeafOnly {
                tls12_refused: true,
            } => notes.push(
                "TLS 1.3 encrypts the chain, and the server refuses TLS 1.2 (where it travels in plaintext): only its own certificate can be seen"
                    .into(),
            ),
            _ => {}
        }
        if let ChainSource::SecondConnection {
            same_leaf: Some(false),
            ..
        } = &source
        {
            notes.push("the second connection presented another certificate than the first (a load balancer, or a certificate changed since): the chain shown is the second one's".into());
        }
        TlsReport {
            server,
            version: seen.version,
            cipher: seen.cipher,
            group: seen.group,
            chain,
            chain_source: source,
            ocsp_stapled: seen.ocsp_stapled,
            notes,
            verdict,
            ders: seen.chain,
        }
    }

    /// The days left of the certificate that expires first, if any was read.
    pub fn days_left(&self) -> Option<i64> {
        self.chain.iter().map(|c| c.days_left).min()
    }

    /// Whether only the server's own certificate is known.
    pub fn leaf_only(&self) -> bool {
        matches!(self.chain_source, ChainSource::LeafOnly { .. })
    }
}

/// The chain as PEM, leaf first (what `:tls save FILE` writes).
pub fn pem_chain(ders: &[Vec<u8>]) -> String {
    ders.iter()
        .map(|d| pem::encode(&pem::Pem::new("CERTIFICATE", d.clone())))
        .collect::<Vec<_>>()
        .join("")
}

impl fmt::Display for TlsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unknown = "(not seen)";
        write!(
            f,
            "TLS {} {}",
            self.version.as_deref().unwrap_or(unknown),
            self.cipher.as_deref().unwrap_or(unknown)
        )?;
        if let Some(g) = &self.group {
            write!(f, ", key exchange {g}")?;
        }
        writeln!(f, " with {}", self.server)?;
        let n = self.chain.len();
        let s = if n == 1 { "" } else { "s" };
        match &self.chain_source {
            ChainSource::Handshake => {
                writeln!(f, "chain as the server sent it ({n} certificate{s}):")?
            }
            ChainSource::LeafOnly { .. } => writeln!(f, "the server's own certificate:")?,
            ChainSource::SecondConnection { version, .. } => writeln!(
                f,
                "chain as the server sent it on a second connection ({version}, {n} certificate{s}):"
            )?,
        }
        for c in &self.chain {
            writeln!(f, "  [{}] {}", c.depth, c.subject)?;
            if !c.names.is_empty() {
                writeln!(f, "      names       {}", c.names.join(", "))?;
            }
            writeln!(f, "      issuer      {}", c.issuer)?;
            writeln!(f, "      serial      {}", c.serial)?;
            writeln!(f, "      key         {}", c.key)?;
            writeln!(f, "      signature   {}", c.signature)?;
            let left = if c.not_yet_valid {
                "not valid yet".to_string()
            } else if c.days_left < 0 {
                format!("EXPIRED {} days ago", -c.days_left)
            } else {
                format!("{} days left", c.days_left)
            };
            writeln!(
                f,
                "      valid       {} .. {} ({left})",
                c.not_before, c.not_after
            )?;
            writeln!(f, "      sha256      {}", c.sha256)?;
            writeln!(f, "      spki sha256 {}", c.spki_sha256)?;
            let mut extra = Vec::new();
            if c.ca {
                extra.push("CA");
            }
            if c.self_issued {
                extra.push("self-issued");
            }
            if c.must_staple {
                extra.push("OCSP must-staple");
            }
            if !extra.is_empty() {
                writeln!(f, "      flags       {}", extra.join(", "))?;
            }
        }
        match self.ocsp_stapled {
            Some(true) => writeln!(f, "OCSP: the server stapled a response")?,
            Some(false) => writeln!(f, "OCSP: no stapled response")?,
            None => {}
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        match &self.verdict {
            TlsVerdict::Verified { name } => writeln!(
                f,
                "verdict: verified for \"{name}\" by {} (the platform's verifier)",
                super::BACKEND
            ),
            TlsVerdict::Refused {
                name,
                reason,
                found,
            } => {
                writeln!(f, "verdict: NOT verified for \"{name}\": {reason}")?;
                if let Some(found) = found.as_ref().filter(|x| x.as_str() != reason.as_str()) {
                    writeln!(f, "  the certificate itself shows: {found}")?;
                }
                Ok(())
            }
            TlsVerdict::NotChecked {
                name,
                problem,
                unchecked,
            } => match (problem, unchecked) {
                (Some(p), _) => writeln!(
                    f,
                    "verdict: not verified (--insecure); for \"{name}\" it would fail: {p}"
                ),
                (None, Some(u)) => writeln!(
                    f,
                    "verdict: not verified (--insecure); nothing wrong found for \"{name}\", but {u}"
                ),
                (None, None) => writeln!(
                    f,
                    "verdict: not verified (--insecure); nothing wrong found for \"{name}\""
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::practice::cert::{CertSpec, KeyKind, Purpose, self_signed};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    const DAY: i64 = 86_400;

    fn now() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    fn spec(cn: &str, key: KeyKind, days: u64) -> CertSpec {
        let mut s = CertSpec::new(cn);
        s.dns_names = vec![cn.to_string()];
        s.key = key;
        s.not_before = SystemTime::now() - Duration::from_secs(86_400);
        s.not_after = SystemTime::now() + Duration::from_secs(days * 86_400 + 3600);
        s.purpose = Purpose::Any;
        s
    }

    #[test]
    fn every_field_of_an_ec_certificate() {
        let made = self_signed(&spec("mx.test", KeyKind::P256, 30)).unwrap();
        let d = describe_cert(&made.der, 0, now()).unwrap();
        assert_eq!(d.subject, "CN=mx.test");
        assert_eq!(d.names, ["mx.test"]);
        assert_eq!(d.key, "EC P-256 (256 bits)");
        assert_eq!(d.signature, "ecdsa-with-SHA256");
        assert_eq!(d.days_left, 30);
        assert!(d.self_issued && !d.must_staple);
        assert_eq!(d.sha256, colon_hex(&Sha256::digest(&made.der)));
        let (_, c) = X509Certificate::from_der(&made.der).unwrap();
        assert_eq!(
            d.spki_sha256,
            colon_hex(&Sha256::digest(c.public_key().raw))
        );
        assert_eq!(d.serial, colon_hex(c.raw_serial()));
    }

    #[test]
    fn rsa_keys_name_their_size() {
        let made = self_signed(&spec("rsa.test", KeyKind::Rsa2048, 10)).unwrap();
        let d = describe_cert(&made.der, 0, now()).unwrap();
        // The practice generator's "Rsa2048" keys are rsa's default size (3072 at present);
        // the Postfix suite checks an openssl-made 2048-bit key exactly.
        let (_, c) = X509Certificate::from_der(&made.der).unwrap();
        let Ok(PublicKey::RSA(rsa)) = c.public_key().parsed() else {
            panic!("not RSA")
        };
        let n = rsa.modulus.iter().skip_while(|b| **b == 0).count() * 8;
        assert_eq!(d.key, format!("RSA {n} bits"));
        assert_eq!(d.signature, "sha256WithRSAEncryption");
    }

    #[test]
    fn must_staple_is_read_from_the_tls_feature_extension() {
        assert_eq!(tls_features(&[0x30, 0x03, 0x02, 0x01, 0x05]), [5]);
        assert_eq!(
            tls_features(&[0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x11]),
            [5, 17]
        );
        assert!(tls_features(&[0x30, 0x05, 0x02, 0x09]).is_empty());
        assert!(tls_features(&[]).is_empty());
        let mut params = rcgen::CertificateParams::new(vec!["staple.test".into()]).unwrap();
        params.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 5, 5, 7, 1, 24],
            vec![0x30, 0x03, 0x02, 0x01, 0x05],
        )];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let d = describe_cert(cert.der(), 0, now()).unwrap();
        assert!(d.must_staple);
        let r = TlsReport::new(
            "x".into(),
            Observed {
                chain: vec![cert.der().to_vec()],
                ocsp_stapled: Some(false),
                ..Observed::default()
            },
            ChainSource::Handshake,
            TlsVerdict::Verified { name: "x".into() },
            now(),
        );
        assert!(r.to_string().contains("must-staple, RFC 7633"), "{r}");
    }

    #[test]
    fn the_report_reads_as_documented() {
        let ca = self_signed(&spec("Test CA", KeyKind::P256, 400)).unwrap();
        let leaf = ca.issue(&spec("mx.test", KeyKind::P256, 5)).unwrap();
        let r = TlsReport::new(
            "mx.test:25 (127.0.0.1:25)".into(),
            Observed {
                version: Some("TLSv1.2".into()),
                cipher: Some("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384".into()),
                group: Some("x25519".into()),
                chain: vec![leaf.der.clone(), ca.der.clone()],
                ocsp_stapled: Some(false),
            },
            ChainSource::Handshake,
            TlsVerdict::Refused {
                name: "mx.test".into(),
                reason: "unable to get local issuer certificate".into(),
                found: None,
            },
            now(),
        );
        let text = r.to_string();
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            "TLS TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, key exchange x25519 with mx.test:25 (127.0.0.1:25)"
        );
        assert!(
            text.contains("chain as the server sent it (2 certificates):\n  [0] CN=mx.test\n"),
            "{text}"
        );
        assert!(text.contains("  [1] CN=Test CA\n"), "{text}");
        assert!(text.contains("(5 days left)"), "{text}");
        assert!(text.contains("note: [0] expires in 5 days ("), "{text}");
        assert!(
            text.ends_with(
                "verdict: NOT verified for \"mx.test\": unable to get local issuer certificate\n"
            ),
            "{text}"
        );
        assert_eq!(r.days_left(), Some(5));
        let pem = pem_chain(&r.ders);
        assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 2);
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["chain"][0]["key"], "EC P-256 (256 bits)");
        assert_eq!(j["chain_source"]["from"], "handshake");
        assert_eq!(j["verdict"]["result"], "refused");
    }

    #[test]
    fn an_out_of_order_chain_and_unreadable_bytes_are_noted() {
        let a = self_signed(&spec("a.test", KeyKind::P256, 100)).unwrap();
        let b = self_signed(&spec("b.test", KeyKind::P256, 100)).unwrap();
        let r = TlsReport::new(
            "x".into(),
            Observed {
                chain: vec![a.der.clone(), b"junk".to_vec(), b.der.clone()],
                ..Observed::default()
            },
            ChainSource::SecondConnection {
                version: "TLSv1.2".into(),
                same_leaf: Some(false),
            },
            TlsVerdict::NotChecked {
                name: "x".into(),
                problem: None,
                unchecked: None,
            },
            now(),
        );
        let text = r.to_string();
        assert!(
            text.contains("note: certificate [1] can't be read: "),
            "{text}"
        );
        assert!(
            text.contains("the chain is out of order or has a gap"),
            "{text}"
        );
        assert!(
            text.contains("another certificate than the first"),
            "{text}"
        );
        assert!(describe_cert(b"", 0, 0).is_err());
        assert_eq!(bits(&[0, 0x80, 0]), 16);
        assert_eq!(bits(&[0x01, 0]), 9);
        assert_eq!(bits(&[0, 0]), 0);
        let _ = DAY;
    }
}
