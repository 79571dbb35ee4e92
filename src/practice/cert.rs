//! The practice server's self-signed certificate, made fresh at every start with OpenSSL,
//! and the TLS acceptor that serves it (TLS 1.2 and later, as safety rule 1 asks of clients).
//!
//! The certificate names `localhost`, `127.0.0.1`, `::1`, the server's hostname and the
//! listening address when it is a specific one, so a client that trusts the PEM (`--cafile`)
//! verifies it whichever of those it typed. It is its own CA (basicConstraints CA:TRUE,
//! critical), which is what lets OpenSSL and Python use it as a trust anchor directly.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslAcceptor, SslMethod, SslVersion};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509NameBuilder};

/// How long the certificate is valid: a classroom server runs for days, not years.
const VALID_DAYS: u32 = 90;

/// A certificate, its key, and what a user is shown of it.
pub(crate) struct PracticeCert {
    /// The acceptor for STARTTLS.
    pub acceptor: SslAcceptor,
    /// The certificate as PEM, for `--cert-out`.
    pub pem: String,
    /// SHA-256 of the DER certificate, colon-separated upper-case hex (as
    /// [`crate::net::tls::CertSummary::sha256`], so the two can be compared by eye).
    pub fingerprint: String,
}

/// Make a certificate for `hostname` (and `listen`, when it is a specific address).
pub(crate) fn make(hostname: &str, listen: IpAddr) -> Result<PracticeCert, ErrorStack> {
    let (cert, key) = self_signed(hostname, listen)?;
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    b.set_min_proto_version(Some(SslVersion::TLS1_2))?;
    b.set_private_key(&key)?;
    b.set_certificate(&cert)?;
    b.check_private_key()?;
    let pem = String::from_utf8_lossy(&cert.to_pem()?).into_owned();
    let fingerprint = colon_hex(&cert.digest(MessageDigest::sha256())?);
    Ok(PracticeCert {
        acceptor: b.build(),
        pem,
        fingerprint,
    })
}

/// `AB:CD:…`, upper-case.
fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A P-256 key and a self-signed certificate with CN=localhost and the names above.
fn self_signed(hostname: &str, listen: IpAddr) -> Result<(X509, PKey<Private>), ErrorStack> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let key = PKey::from_ec_key(EcKey::generate(&group)?)?;

    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COMMONNAME, "localhost")?;
    name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "smtpsh practice server")?;
    let name = name.build();

    let mut b = X509::builder()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let serial = Asn1Integer::from_bn(&serial)?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(&key)?;
    // An hour of slack for clocks that are a little behind.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let not_before = i64::try_from(now).unwrap_or(0).saturating_sub(3600);
    let not_before = Asn1Time::from_unix(not_before)?;
    let not_after = Asn1Time::days_from_now(VALID_DAYS)?;
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .key_cert_sign()
            .build()?,
    )?;
    b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
    b.append_extension(ski)?;
    let aki = AuthorityKeyIdentifier::new()
        .keyid(true)
        .build(&b.x509v3_context(None, None))?;
    b.append_extension(aki)?;

    let mut san = SubjectAlternativeName::new();
    san.dns("localhost");
    if hostname != "localhost" && is_dns_name(hostname) {
        san.dns(hostname);
    }
    san.ip("127.0.0.1");
    san.ip("::1");
    let specific = !listen.is_unspecified() && !listen.is_loopback();
    if specific {
        san.ip(&listen.to_string());
    }
    b.append_extension(san.build(&b.x509v3_context(None, None))?)?;
    b.sign(&key, MessageDigest::sha256())?;
    Ok((b.build(), key))
}

/// Whether `name` can be a dNSName: LDH labels (underscores tolerated), dots between.
fn is_dns_name(name: &str) -> bool {
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
    use super::*;

    #[test]
    fn certificate_names_and_fingerprint() {
        let listen: IpAddr = "192.0.2.7".parse().unwrap();
        let made = make("practice.smtpsh.test", listen).unwrap();
        let cert = X509::from_pem(made.pem.as_bytes()).unwrap();
        let names: Vec<String> = cert
            .subject_alt_names()
            .unwrap()
            .iter()
            .map(|n| {
                n.dnsname().map(str::to_string).unwrap_or_else(|| {
                    let ip = n.ipaddress().unwrap();
                    match ip.len() {
                        4 => IpAddr::from(<[u8; 4]>::try_from(ip).unwrap()).to_string(),
                        _ => IpAddr::from(<[u8; 16]>::try_from(ip).unwrap()).to_string(),
                    }
                })
            })
            .collect();
        assert_eq!(
            names,
            [
                "localhost",
                "practice.smtpsh.test",
                "127.0.0.1",
                "::1",
                "192.0.2.7"
            ]
        );
        let cn = cert
            .subject_name()
            .entries_by_nid(Nid::COMMONNAME)
            .next()
            .unwrap()
            .data()
            .to_string()
            .unwrap();
        assert_eq!(cn, "localhost");
        assert_eq!(made.fingerprint.len(), 32 * 3 - 1);
        assert!(made.fingerprint.split(':').all(|h| {
            h.len() == 2
                && h.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
        }));
    }

    #[test]
    fn loopback_listen_adds_nothing_and_odd_hostnames_are_left_out() {
        let made = make("not a name", "127.0.0.1".parse().unwrap()).unwrap();
        let cert = X509::from_pem(made.pem.as_bytes()).unwrap();
        assert_eq!(cert.subject_alt_names().unwrap().len(), 3);
        assert!(is_dns_name("a-b.c_d.example"));
        assert!(!is_dns_name("a..b"));
        assert!(!is_dns_name(""));
    }
}
