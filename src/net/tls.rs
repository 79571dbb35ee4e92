//! TLS with OpenSSL: verification on by default against the typed host or `--tls-name`,
//! TLS 1.2 at least, extra trust from `--cafile`, and a summary of what was negotiated.
//!
//! We use the `openssl` crate directly (it is what `native-tls` wraps on Linux) because the
//! summary PRODUCT.md asks for needs the negotiated version and cipher, which `native-tls`
//! does not expose.

use std::io::{Read, Write};
use std::path::PathBuf;

use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::ssl::{
    HandshakeError, SslConnector, SslMethod, SslRef, SslStream, SslVerifyMode, SslVersion,
};
use openssl::x509::{X509NameRef, X509VerifyResult};

use crate::error::Error;

/// How to set up and check TLS.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Accept an invalid certificate or name (loudly).
    pub insecure: bool,
    /// Extra PEM CA certificates to trust.
    pub cafile: Option<PathBuf>,
    /// The name to verify and send as SNI; default the host as typed.
    pub tls_name: Option<String>,
    /// A PEM client certificate (chain) to present when the server asks (`--tls-cert`).
    pub client_cert: Option<PathBuf>,
    /// Its PEM private key (`--tls-key`); `None` means the key is in the certificate's file.
    pub client_key: Option<PathBuf>,
    /// PEM CA certificates to trust given in memory (the built-in practice server's own
    /// certificate, for `--practice`).
    pub extra_roots: Vec<String>,
}

/// What the handshake established, for the transcript.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertSummary {
    /// Negotiated protocol, e.g. `TLSv1.3`.
    pub version: String,
    /// Negotiated cipher suite.
    pub cipher: String,
    /// The server certificate's subject, e.g. `CN=localhost`.
    pub subject: String,
    /// DNS names and IP addresses from subjectAltName.
    pub names: Vec<String>,
    /// The issuer.
    pub issuer: String,
    /// Not valid before.
    pub not_before: String,
    /// Not valid after.
    pub not_after: String,
    /// SHA-256 of the DER certificate, colon-separated upper-case hex.
    pub sha256: String,
    /// The name verified (or that would have been).
    pub verified_name: String,
    /// `None` when verification passed; otherwise why it failed (only with `--insecure`).
    pub verify_error: Option<String>,
    /// The subject of the client certificate smtpsh presents when asked (`--tls-cert`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<String>,
}

/// Run the client handshake over `stream`, verifying the certificate for `host` (or
/// `--tls-name`). The caller sets socket timeouts first.
pub fn handshake<S: Read + Write>(
    stream: S,
    host: &str,
    opts: &TlsOptions,
) -> Result<(SslStream<S>, CertSummary), Error> {
    let name = opts.tls_name.as_deref().unwrap_or(host);
    let connector = connector(opts)?;
    let mut config = connector
        .configure()
        .map_err(|e| Error::Tls(format!("TLS setup failed: {e}")))?;
    if opts.insecure {
        // Keep the name check in the verify parameters so `verify_result` still says what is
        // wrong, but let the handshake go on (PRODUCT.md: --insecure warns loudly).
        config.set_verify(SslVerifyMode::NONE);
    }
    let stream = match config.connect(name, stream) {
        Ok(s) => s,
        Err(HandshakeError::Failure(mid)) => {
            let verify = mid.ssl().verify_result();
            let why = if verify != X509VerifyResult::OK {
                format!(
                    "certificate verification failed for {name:?}: {} (use --cafile FILE to trust its CA, --tls-name NAME for another name, or --insecure)",
                    verify.error_string()
                )
            } else {
                format!("TLS handshake failed: {}", mid.error())
            };
            return Err(Error::Tls(why));
        }
        Err(HandshakeError::SetupFailure(e)) => {
            return Err(Error::Tls(format!("TLS setup failed: {e}")));
        }
        Err(HandshakeError::WouldBlock(_)) => {
            return Err(Error::Tls("TLS handshake timed out".to_string()));
        }
    };
    let summary = summarize(stream.ssl(), name);
    Ok((stream, summary))
}

fn connector(opts: &TlsOptions) -> Result<SslConnector, Error> {
    let tls = |e: openssl::error::ErrorStack| Error::Tls(format!("TLS setup failed: {e}"));
    let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(tls)?;
    // Safety rule 1: nothing older than TLS 1.2 (RFC 8996 deprecates 1.0 and 1.1).
    b.set_min_proto_version(Some(SslVersion::TLS1_2))
        .map_err(tls)?;
    if let Some(path) = &opts.cafile {
        let pem = std::fs::read(path)
            .map_err(|e| Error::Usage(format!("cannot read --cafile {}: {e}", path.display())))?;
        let certs = openssl::x509::X509::stack_from_pem(&pem).map_err(|e| {
            Error::Usage(format!(
                "--cafile {} holds no PEM certificate: {e}",
                path.display()
            ))
        })?;
        if certs.is_empty() {
            return Err(Error::Usage(format!(
                "--cafile {} holds no PEM certificate",
                path.display()
            )));
        }
        for c in certs {
            b.cert_store_mut().add_cert(c).map_err(tls)?;
        }
    }
    for pem in &opts.extra_roots {
        for c in openssl::x509::X509::stack_from_pem(pem.as_bytes()).map_err(tls)? {
            b.cert_store_mut().add_cert(c).map_err(tls)?;
        }
    }
    if let Some(cert) = &opts.client_cert {
        client_identity(&mut b, cert, opts.client_key.as_deref())?;
    }
    Ok(b.build())
}

/// Check `--tls-cert`/`--tls-key` up front (readable, PEM, the key matches), so a mistake
/// is a usage error at start rather than a failed handshake later.
pub fn check_client_identity(opts: &TlsOptions) -> Result<(), Error> {
    match &opts.client_cert {
        Some(_) => connector(opts).map(|_| ()),
        None => Ok(()),
    }
}

/// Load a client certificate chain and its key (RFC 8446 §4.4.2: sent when the server
/// sends a CertificateRequest).
fn client_identity(
    b: &mut openssl::ssl::SslConnectorBuilder,
    cert: &std::path::Path,
    key: Option<&std::path::Path>,
) -> Result<(), Error> {
    let pem = std::fs::read(cert)
        .map_err(|e| Error::Usage(format!("cannot read --tls-cert {}: {e}", cert.display())))?;
    let mut chain = openssl::x509::X509::stack_from_pem(&pem)
        .unwrap_or_default()
        .into_iter();
    let leaf = chain.next().ok_or_else(|| {
        Error::Usage(format!(
            "--tls-cert {} holds no PEM certificate",
            cert.display()
        ))
    })?;
    let key_path = key.unwrap_or(cert);
    let key_pem = std::fs::read(key_path)
        .map_err(|e| Error::Usage(format!("cannot read --tls-key {}: {e}", key_path.display())))?;
    let pkey = openssl::pkey::PKey::private_key_from_pem(&key_pem).map_err(|_| {
        Error::Usage(format!(
            "{} holds no unencrypted PEM private key{} (decrypt one with: openssl pkey -in KEY -out KEY.pem)",
            key_path.display(),
            if key.is_none() { " (give it with --tls-key FILE)" } else { "" }
        ))
    })?;
    let setup = |e: openssl::error::ErrorStack| Error::Tls(format!("TLS setup failed: {e}"));
    b.set_certificate(&leaf).map_err(setup)?;
    for c in chain {
        b.add_extra_chain_cert(c).map_err(setup)?;
    }
    b.set_private_key(&pkey)
        .and_then(|()| b.check_private_key())
        .map_err(|_| {
            Error::Usage(format!(
                "the key in {} does not belong to the certificate in {}",
                key_path.display(),
                cert.display()
            ))
        })
}

fn summarize(ssl: &SslRef, name: &str) -> CertSummary {
    let verify = ssl.verify_result();
    let mut s = CertSummary {
        version: ssl.version_str().to_string(),
        cipher: ssl
            .current_cipher()
            .map(|c| c.name().to_string())
            .unwrap_or_default(),
        subject: String::new(),
        names: Vec::new(),
        issuer: String::new(),
        not_before: String::new(),
        not_after: String::new(),
        sha256: String::new(),
        verified_name: name.to_string(),
        verify_error: (verify != X509VerifyResult::OK).then(|| verify.error_string().to_string()),
        client_cert: ssl.certificate().map(|c| name_string(c.subject_name())),
    };
    if let Some(cert) = ssl.peer_certificate() {
        s.subject = name_string(cert.subject_name());
        s.issuer = name_string(cert.issuer_name());
        s.not_before = cert.not_before().to_string();
        s.not_after = cert.not_after().to_string();
        if let Some(alt) = cert.subject_alt_names() {
            for n in alt.iter() {
                if let Some(d) = n.dnsname() {
                    s.names.push(d.to_string());
                } else if let Some(ip) = n.ipaddress() {
                    let ip = match ip.len() {
                        4 => std::net::IpAddr::from(<[u8; 4]>::try_from(ip).unwrap()).to_string(),
                        16 => std::net::IpAddr::from(<[u8; 16]>::try_from(ip).unwrap()).to_string(),
                        _ => continue,
                    };
                    s.names.push(ip);
                }
            }
        }
        if let Ok(d) = cert.digest(MessageDigest::sha256()) {
            s.sha256 = d
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(":");
        }
    }
    s
}

fn name_string(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = match e.object().nid() {
                Nid::COMMONNAME => "CN".to_string(),
                Nid::ORGANIZATIONNAME => "O".to_string(),
                Nid::ORGANIZATIONALUNITNAME => "OU".to_string(),
                Nid::COUNTRYNAME => "C".to_string(),
                Nid::LOCALITYNAME => "L".to_string(),
                Nid::STATEORPROVINCENAME => "ST".to_string(),
                nid => nid.short_name().unwrap_or("?").to_string(),
            };
            let val = e
                .data()
                .to_string()
                .map(|v| crate::smtp::escape::escape_str(&v))
                .unwrap_or_else(|_| "?".to_string());
            format!("{key}={val}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}
