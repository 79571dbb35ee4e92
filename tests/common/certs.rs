//! Throwaway certificates for the TLS tests, made with the library's own generator
//! (`smtpsh::practice::cert`: rcgen, RustCrypto keys) and written as PEM to a temporary
//! directory, so the binary can be given `--cafile`, `--tls-cert` and `--tls-key`; and the
//! native-tls acceptor that serves one.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};
use smtpsh::practice::cert::{CertSpec, MadeCert, self_signed};

use super::run::write_file;
use super::text::hex_lower;

/// A self-signed certificate and its key, in memory and as PEM files.
#[derive(Clone)]
pub struct TestCert {
    /// A short name for messages.
    pub name: &'static str,
    /// The certificate and its key.
    pub made: Arc<MadeCert>,
    /// The certificate as PEM (give this to `--cafile`).
    pub cert_pem: PathBuf,
    /// The key as PEM (PKCS#8).
    pub key_pem: PathBuf,
}

impl TestCert {
    /// The SHA-256 fingerprint as upper-case hex without separators.
    pub fn sha256_hex(&self) -> String {
        hex_lower(&Sha256::digest(&self.made.der)).to_ascii_uppercase()
    }

    /// A server-side acceptor (TLS 1.2 and later) serving this certificate.
    pub fn acceptor(&self) -> Result<native_tls::TlsAcceptor, String> {
        self.made.acceptor().map_err(|e| e.to_string())
    }
}

/// The certificates the TLS tests use, written to a temporary directory that lives as long
/// as this value.
pub struct TestCerts {
    /// Where the PEM files are.
    pub dir: tempfile::TempDir,
    /// CN `localhost`; SAN DNS `localhost`, IP 127.0.0.1 and ::1.
    pub localhost: TestCert,
    /// CN `wrong.example`; SAN DNS `wrong.example` only.
    pub wrong: TestCert,
    /// CN `localhost`; SAN DNS `localhost` only (no IP), so that connecting to 127.0.0.1
    /// verifies only with `--tls-name localhost`.
    pub localhost_dns_only: TestCert,
    /// CN `smtpsh-client`: a client certificate for `--tls-cert`/`--tls-key`.
    pub client: TestCert,
}

impl TestCerts {
    /// Make (once per test process) and write (once per call) the test certificates.
    pub fn new() -> TestCerts {
        type Made = Arc<MadeCert>;
        static MADE: OnceLock<(Made, Made, Made, Made)> = OnceLock::new();
        let (l, w, d, c) = MADE.get_or_init(|| {
            (
                make_cert("localhost", &["localhost"], &["127.0.0.1", "::1"]),
                make_cert("wrong.example", &["wrong.example"], &[]),
                make_cert("localhost", &["localhost"], &[]),
                make_cert("smtpsh-client", &["smtpsh-client"], &[]),
            )
        });
        let dir = tempfile::tempdir().expect("tempdir for certificates");
        let write = |name: &'static str, made: &Made| TestCert {
            name,
            cert_pem: write_file(dir.path(), &format!("{name}.crt.pem"), &made.cert_pem),
            key_pem: write_file(dir.path(), &format!("{name}.key.pem"), &made.key_pem),
            made: Arc::clone(made),
        };
        TestCerts {
            localhost: write("localhost", l),
            wrong: write("wrong", w),
            localhost_dns_only: write("localhost-dns-only", d),
            client: write("client", c),
            dir,
        }
    }
}

/// A self-signed certificate shaped like `openssl req -x509` makes it (and like the
/// Postfix suite's): basicConstraints CA:TRUE, subject and authority key ids, and the given
/// subjectAltNames; this platform's kind of key, valid from an hour ago for 30 days.
pub fn make_cert(cn: &str, dns: &[&str], ips: &[&str]) -> Arc<MadeCert> {
    let mut spec = CertSpec::new(cn);
    spec.dns_names = dns.iter().map(|d| d.to_string()).collect();
    spec.ips = ips
        .iter()
        .map(|ip| ip.parse::<IpAddr>().expect("an IP address"))
        .collect();
    Arc::new(self_signed(&spec).expect("make a test certificate"))
}
