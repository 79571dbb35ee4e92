//! Certificates made here: the practice server's, and the throwaway ones the tests use — generated with rcgen, signed with RustCrypto's pure-Rust
//! keys, and served through native-tls (TLS 1.2 and later, as safety rule 1 asks of
//! clients).
//!
//! Keys are P-256 where native-tls runs on OpenSSL, and RSA-2048 on Windows and macOS:
//! native-tls imports a PKCS#8 key there through CryptoAPI's RSA provider and through
//! Security.framework's keychain import, which take RSA keys only
//! (rust-native-tls#233, #225). Everything here is Rust, so building for any target needs no
//! C compiler.
//!
//! The practice certificate ([`practice_spec`]) names `localhost`, `127.0.0.1`, `::1`, the
//! server's hostname and every address and name it is reached by ([`Reach`]), so a client
//! that trusts the PEM (`--cafile`) verifies it whichever of those it typed. It is its own
//! CA (basicConstraints CA:TRUE, critical), which is what lets OpenSSL and Python use it as
//! a trust anchor directly. Whether it is made at each start, kept across restarts or the
//! teacher's own is `served`'s business.

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use p256::pkcs8::EncodePrivateKey as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyIdMethod, KeyUsagePurpose, PublicKeyData, SanType, SerialNumber, SignatureAlgorithm,
    SigningKey,
};
use sha2::{Digest, Sha256};

use super::reach::Reach;
use crate::net::tls::colon_hex;

/// How long a practice certificate made for one run is valid: a classroom server runs for
/// days, not years.
pub const VALID_DAYS: u32 = 90;

/// An hour of slack for clocks that are a little behind.
const SLACK: Duration = Duration::from_secs(3600);

const DAY: Duration = Duration::from_secs(86_400);

/// Why a certificate could not be made or served.
#[derive(Debug)]
pub struct CertError(String);

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CertError {}

fn err(what: &str) -> impl Fn(&dyn fmt::Display) -> CertError + '_ {
    move |e| CertError(format!("{what}: {e}"))
}

/// The kind of key to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA on P-256: fast to make, served by OpenSSL.
    P256,
    /// RSA with a 2048-bit modulus: what native-tls can serve on Windows and macOS.
    Rsa2048,
}

impl KeyKind {
    /// The kind this platform's native-tls can serve (see the module docs).
    pub fn native() -> KeyKind {
        if cfg!(any(windows, target_vendor = "apple")) {
            KeyKind::Rsa2048
        } else {
            KeyKind::P256
        }
    }
}

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// No keyUsage or extendedKeyUsage: usable as a server or a client certificate, like
    /// `openssl req -x509` makes them.
    Any,
    /// keyUsage digitalSignature and keyCertSign, extendedKeyUsage serverAuth.
    Server,
}

/// What to put in a certificate.
#[derive(Debug, Clone)]
pub struct CertSpec {
    /// The subject's common name.
    pub common_name: String,
    /// The subject's organisation, if any.
    pub organization: Option<String>,
    /// subjectAltName DNS names, in this order.
    pub dns_names: Vec<String>,
    /// subjectAltName IP addresses, after the DNS names.
    pub ips: Vec<IpAddr>,
    /// notBefore.
    pub not_before: SystemTime,
    /// notAfter.
    pub not_after: SystemTime,
    /// The key to make.
    pub key: KeyKind,
    /// Key usages.
    pub purpose: Purpose,
}

impl CertSpec {
    /// A certificate for `common_name` (and no other name), valid from an hour ago for 30
    /// days, with this platform's kind of key.
    pub fn new(common_name: &str) -> CertSpec {
        let now = SystemTime::now();
        CertSpec {
            common_name: common_name.to_string(),
            organization: None,
            dns_names: Vec::new(),
            ips: Vec::new(),
            not_before: now - SLACK,
            not_after: now + 30 * DAY,
            key: KeyKind::native(),
            purpose: Purpose::Any,
        }
    }
}

/// A certificate made here, with its key.
pub struct MadeCert {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// The certificate, PEM (what `--cafile` and `--cert-out` take).
    pub cert_pem: String,
    /// Its private key, PKCS#8 PEM (what `--tls-key` and native-tls take).
    pub key_pem: String,
    key: Key,
    params: CertificateParams,
}

impl fmt::Debug for MadeCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MadeCert")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl MadeCert {
    /// SHA-256 of the DER certificate, colon-separated upper-case hex (as
    /// [`crate::net::tls::CertSummary::sha256`], so the two can be compared by eye).
    pub fn fingerprint(&self) -> String {
        colon_hex(&Sha256::digest(&self.der))
    }

    /// The certificate and key as native-tls takes them.
    pub fn identity(&self) -> Result<native_tls::Identity, CertError> {
        native_tls::Identity::from_pkcs8(self.cert_pem.as_bytes(), self.key_pem.as_bytes())
            .map_err(|e| err("native-tls takes no identity from it")(&e))
    }

    /// A server-side acceptor serving this certificate, TLS 1.2 and later.
    pub fn acceptor(&self) -> Result<native_tls::TlsAcceptor, CertError> {
        native_tls::TlsAcceptor::builder(self.identity()?)
            .min_protocol_version(Some(native_tls::Protocol::Tlsv12))
            .build()
            .map_err(|e| err("TLS setup failed")(&e))
    }

    /// A certificate for `spec`, issued (signed) by this one acting as a CA.
    pub fn issue(&self, spec: &CertSpec) -> Result<MadeCert, CertError> {
        let issuer = Issuer::from_params(&self.params, &self.key);
        make(spec, |params, key| params.signed_by(key, &issuer))
    }
}

/// Make a self-signed certificate (its own CA) for `spec`.
pub fn self_signed(spec: &CertSpec) -> Result<MadeCert, CertError> {
    make(spec, |params, key| params.self_signed(key))
}

fn make(
    spec: &CertSpec,
    sign: impl FnOnce(&CertificateParams, &Key) -> Result<rcgen::Certificate, rcgen::Error>,
) -> Result<MadeCert, CertError> {
    let (key, key_pem) = Key::generate(spec.key)?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, spec.common_name.as_str());
    if let Some(o) = &spec.organization {
        name.push(DnType::OrganizationName, o.as_str());
    }
    params.distinguished_name = name;
    params.not_before = spec.not_before.into();
    params.not_after = spec.not_after.into();
    for d in &spec.dns_names {
        let d = d.clone().try_into().map_err(|e| err("bad DNS name")(&e))?;
        params.subject_alt_names.push(SanType::DnsName(d));
    }
    for ip in &spec.ips {
        params.subject_alt_names.push(SanType::IpAddress(*ip));
    }
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    if spec.purpose == Purpose::Server {
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    }
    // RFC 5280 §4.1.2.2: positive, at most 20 octets, unique per issuer: 127 random bits.
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).map_err(|e| err("no randomness from the OS")(&e))?;
    serial[0] &= 0x7f;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    // RFC 7093 §2 method 1: the leftmost 160 bits of SHA-256 of the subjectPublicKey.
    params.key_identifier_method =
        KeyIdMethod::PreSpecified(Sha256::digest(key.der_bytes())[..20].to_vec());
    params.use_authority_key_identifier_extension = true;
    let cert = sign(&params, &key).map_err(|e| err("rcgen could not make the certificate")(&e))?;
    Ok(MadeCert {
        der: cert.der().to_vec(),
        cert_pem: cert.pem(),
        key_pem,
        key,
        params,
    })
}

/// A private key rcgen can sign with.
enum Key {
    P256 {
        key: p256::ecdsa::SigningKey,
        /// The uncompressed point (SEC 1 §2.3.3), what subjectPublicKey holds.
        public: Vec<u8>,
    },
    Rsa {
        key: Box<rsa::pkcs1v15::SigningKey<rsa::sha2::Sha256>>,
        /// RSAPublicKey DER (RFC 8017 §A.1.1), what subjectPublicKey holds.
        public: Vec<u8>,
    },
}

impl Key {
    /// A fresh key from the OS's randomness, and its PKCS#8 PEM.
    fn generate(kind: KeyKind) -> Result<(Key, String), CertError> {
        let to_pem = err("cannot write the key as PKCS#8");
        match kind {
            KeyKind::P256 => {
                use p256::elliptic_curve::Generate as _;
                let key = p256::ecdsa::SigningKey::try_generate()
                    .map_err(|e| err("no randomness from the OS")(&e))?;
                let pem = key
                    .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
                    .map_err(|e| to_pem(&e))?;
                let public = key.verifying_key().to_sec1_point(false).as_bytes().to_vec();
                Ok((Key::P256 { key, public }, pem.to_string()))
            }
            KeyKind::Rsa2048 => {
                use rsa::Generate as _;
                use rsa::pkcs1::EncodeRsaPublicKey as _;
                let key = rsa::PrivateKey::try_generate()
                    .map_err(|e| err("no randomness from the OS")(&e))?;
                let pem = key
                    .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
                    .map_err(|e| to_pem(&e))?;
                let public = key
                    .to_public_key()
                    .to_pkcs1_der()
                    .map_err(|e| to_pem(&e))?
                    .into_vec();
                let key = Box::new(rsa::pkcs1v15::SigningKey::new(key));
                Ok((Key::Rsa { key, public }, pem.to_string()))
            }
        }
    }
}

impl PublicKeyData for Key {
    fn der_bytes(&self) -> &[u8] {
        match self {
            Key::P256 { public, .. } | Key::Rsa { public, .. } => public,
        }
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        match self {
            Key::P256 { .. } => &rcgen::PKCS_ECDSA_P256_SHA256,
            Key::Rsa { .. } => &rcgen::PKCS_RSA_SHA256,
        }
    }
}

impl SigningKey for Key {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        use rsa::signature::{SignatureEncoding as _, Signer as _};
        Ok(match self {
            // RFC 5758 §3.2: ECDSA-Sig-Value, DER.
            Key::P256 { key, .. } => {
                let sig: p256::ecdsa::DerSignature = key.sign(msg);
                sig.as_bytes().to_vec()
            }
            // RFC 8017 §8.2: RSASSA-PKCS1-v1_5 with SHA-256.
            Key::Rsa { key, .. } => key.sign(msg).to_vec(),
        })
    }
}

/// What goes into the practice certificate: CN=localhost, O=smtpsh practice server, valid
/// for `days`, naming `localhost`, the server's `hostname`, this machine's host name, the
/// names the teacher gave, `127.0.0.1`, `::1` and every address the server is reached at
/// ([`Reach`]).
pub fn practice_spec(hostname: &str, reach: &Reach, days: u32) -> CertSpec {
    let now = SystemTime::now();
    let mut dns_names: Vec<String> = Vec::new();
    let candidates = ["localhost", hostname]
        .into_iter()
        .chain(reach.host.as_deref())
        .chain(reach.given.iter().map(String::as_str));
    for name in candidates {
        let name = name.to_ascii_lowercase();
        if is_dns_name(&name) && !dns_names.contains(&name) {
            dns_names.push(name);
        }
    }
    let mut ips: Vec<IpAddr> = vec![[127, 0, 0, 1].into(), std::net::Ipv6Addr::LOCALHOST.into()];
    for ip in &reach.addrs {
        if !ips.contains(ip) {
            ips.push(*ip);
        }
    }
    CertSpec {
        common_name: "localhost".into(),
        organization: Some(PRACTICE_ORGANIZATION.into()),
        dns_names,
        ips,
        not_before: now - SLACK,
        not_after: now + days * DAY,
        key: KeyKind::native(),
        purpose: Purpose::Server,
    }
}

/// The organisation every practice certificate names: how a client tells a practice
/// certificate from others (see `crate::net::tls`, "the certificate changed").
pub const PRACTICE_ORGANIZATION: &str = "smtpsh practice server";

/// Whether `name` can be a dNSName: LDH labels (underscores tolerated), dots between.
pub(crate) fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    use super::*;
    use crate::net::tls::summary::describe;

    fn reach(addrs: &[&str], host: Option<&str>, given: &[&str]) -> Reach {
        Reach {
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            host: host.map(String::from),
            host_leads_here: false,
            given: given.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn certificate_names_and_fingerprint() {
        let r = reach(
            &["192.0.2.7", "127.0.0.1", "fd00::2"],
            Some("teacher"),
            &["mail.class.example", "Teacher"],
        );
        let made = self_signed(&practice_spec("practice.smtpsh.test", &r, VALID_DAYS)).unwrap();
        let d = describe(&made.der).unwrap();
        assert_eq!(
            d.names,
            [
                "localhost",
                "practice.smtpsh.test",
                "teacher",
                "mail.class.example",
                "127.0.0.1",
                "::1",
                "192.0.2.7",
                "fd00::2"
            ]
        );
        assert_eq!(d.subject, "CN=localhost, O=smtpsh practice server");
        assert_eq!(d.issuer, d.subject);
        let fingerprint = made.fingerprint();
        assert_eq!(fingerprint, d.sha256);
        assert_eq!(fingerprint.len(), 32 * 3 - 1);
        assert!(fingerprint.split(':').all(|h| {
            h.len() == 2
                && h.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
        }));
    }

    #[test]
    fn loopback_listen_adds_nothing_and_odd_hostnames_are_left_out() {
        let spec = practice_spec("not a name", &reach(&["127.0.0.1"], None, &["a b"]), 1);
        assert_eq!(spec.dns_names, ["localhost"]);
        assert_eq!(spec.ips.len(), 2);
        assert!(is_dns_name("a-b.c_d.example"));
        assert!(!is_dns_name("a..b"));
        assert!(!is_dns_name(""));
    }

    /// Serve `made` once on loopback and connect trusting `trusted`, as `name`.
    fn handshake(made: &MadeCert, trusted: &str, name: &str) -> Result<String, String> {
        let acceptor = made.acceptor().map_err(|e| e.to_string())?;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            if let Ok(mut t) = acceptor.accept(s) {
                let _ = t.write_all(b"hello");
                let _ = t.shutdown();
            }
        });
        let mut b = native_tls::TlsConnector::builder();
        b.add_root_certificate(native_tls::Certificate::from_pem(trusted.as_bytes()).unwrap());
        let tcp = TcpStream::connect(addr).unwrap();
        let r = b.build().unwrap().connect(name, tcp);
        let out = match r {
            Ok(mut t) => {
                let mut s = String::new();
                let _ = t.read_to_string(&mut s);
                Ok(s)
            }
            Err(e) => Err(e.to_string()),
        };
        server.join().unwrap();
        out
    }

    // Both kinds of key serve through native-tls and verify against their own PEM; the RSA
    // kind is what Windows and macOS use, tested here too.
    #[test]
    fn both_key_kinds_serve_and_verify() {
        for key in [KeyKind::P256, KeyKind::Rsa2048] {
            let spec = CertSpec {
                key,
                ..practice_spec("practice.smtpsh.test", &reach(&["127.0.0.1"], None, &[]), 1)
            };
            let made = self_signed(&spec).unwrap();
            assert!(made.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
            for name in ["localhost", "127.0.0.1", "practice.smtpsh.test"] {
                assert_eq!(
                    handshake(&made, &made.cert_pem, name).as_deref(),
                    Ok("hello"),
                    "{key:?} {name}"
                );
            }
            assert!(handshake(&made, &made.cert_pem, "other.example").is_err());
        }
    }

    // A certificate issued by another verifies with the issuer as the only anchor.
    #[test]
    fn issued_certificates_chain_to_their_issuer() {
        let mut ca = CertSpec::new("smtpsh test CA");
        ca.key = KeyKind::P256;
        let ca = self_signed(&ca).unwrap();
        let mut leaf = CertSpec::new("leaf");
        leaf.dns_names = vec!["localhost".into()];
        leaf.key = KeyKind::P256;
        let leaf = ca.issue(&leaf).unwrap();
        let d = describe(&leaf.der).unwrap();
        assert_eq!(
            (d.subject.as_str(), d.issuer.as_str()),
            ("CN=leaf", "CN=smtpsh test CA")
        );
        assert_eq!(
            handshake(&leaf, &ca.cert_pem, "localhost").as_deref(),
            Ok("hello")
        );
        assert!(handshake(&leaf, &leaf.cert_pem, "localhost").is_err());
    }
}
