//! TLS through native-tls — the platform's own TLS: OpenSSL on Linux, Security.framework on
//! macOS, SChannel on Windows. Verification is on by default against the typed host or
//! `--tls-name`, TLS 1.2 at least, extra trust from `--cafile`, a client certificate from
//! `--tls-cert`, and a summary of what was negotiated that reads the same on every platform.
//!
//! native-tls hides what the platform negotiated and, with verification off, why it would
//! have failed. The summary is built from what can be seen instead: the version and cipher
//! from the ServerHello as it passes through the socket ([`hello`]), the certificate from
//! `peer_certificate()` read with x509-parser ([`summary`]).
//!
//! Files: [`hello`] (the socket tap and the ServerHello), [`summary`] (what a certificate
//! says, and under `--insecure` what is wrong with it), `identity` (the client certificate),
//! `changed` (what a failure means when `--cafile` holds a practice server's certificate).

mod changed;
pub mod hello;
pub(crate) mod identity;
pub mod summary;

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::SystemTime;

use native_tls::{HandshakeError, Protocol, TlsConnector};

pub use hello::Tap;
pub use summary::colon_hex;

use crate::error::Error;

/// A TLS stream over `S`, with the [`Tap`] between the two.
pub type TlsStream<S> = native_tls::TlsStream<Tap<S>>;

/// The platform's TLS library, as `--version` names it.
pub const BACKEND: &str = if cfg!(windows) {
    "SChannel"
} else if cfg!(target_vendor = "apple") {
    "Security.framework"
} else {
    "OpenSSL"
};

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
    /// Negotiated cipher suite, by its IANA name.
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
    /// With `--insecure`, what the certificate alone could not show (whether the platform
    /// trusts a CA it names), when nothing was found wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unchecked: Option<String>,
    /// The subject of the client certificate smtpsh presents when asked (`--tls-cert`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<String>,
}

/// A connector made from the options, and what the summary needs to know of them.
struct Setup {
    connector: TlsConnector,
    /// DER of every certificate trusted besides the platform's roots.
    anchors: Vec<Vec<u8>>,
    client_subject: Option<String>,
}

impl Setup {
    fn new(opts: &TlsOptions) -> Result<Setup, Error> {
        let mut b = TlsConnector::builder();
        // Safety rule 1: nothing older than TLS 1.2 (RFC 8996 deprecates 1.0 and 1.1).
        b.min_protocol_version(Some(Protocol::Tlsv12));
        let mut anchors = Vec::new();
        if let Some(path) = &opts.cafile {
            let pem = std::fs::read(path).map_err(|e| {
                Error::Usage(format!("cannot read --cafile {}: {e}", path.display()))
            })?;
            let certs = certificates(&pem);
            if certs.is_empty() {
                return Err(Error::Usage(format!(
                    "--cafile {} holds no PEM certificate",
                    path.display()
                )));
            }
            anchors.extend(certs);
        }
        for pem in &opts.extra_roots {
            anchors.extend(certificates(pem.as_bytes()));
        }
        for der in &anchors {
            let c = native_tls::Certificate::from_der(der).map_err(|e| {
                Error::Usage(format!(
                    "a certificate to trust is not one the platform reads: {e}"
                ))
            })?;
            b.add_root_certificate(c);
        }
        let mut client_subject = None;
        if let Some(cert) = &opts.client_cert {
            let id = identity::load(
                cert,
                opts.client_key.as_deref(),
                ("--tls-cert", "--tls-key"),
            )?;
            client_subject = Some(id.subject);
            b.identity(id.identity);
        }
        if opts.insecure {
            // The checks run on the certificate after the handshake instead (summary.rs),
            // so the warning still says what is wrong (PRODUCT.md: --insecure warns loudly).
            b.danger_accept_invalid_certs(true);
            b.danger_accept_invalid_hostnames(true);
        }
        let connector = b
            .build()
            .map_err(|e| Error::Tls(format!("TLS setup failed: {e}")))?;
        Ok(Setup {
            connector,
            anchors,
            client_subject,
        })
    }
}

/// The DER of every CERTIFICATE block in `pem`.
fn certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    pem::parse_many(pem)
        .unwrap_or_default()
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(pem::Pem::into_contents)
        .collect()
}

/// Run the client handshake over `stream`, verifying the certificate for `host` (or
/// `--tls-name`, which is also the SNI name; RFC 6066 §3 sends none for an IP address). The
/// caller sets socket timeouts first.
pub fn handshake<S: Read + Write>(
    stream: S,
    host: &str,
    opts: &TlsOptions,
) -> Result<(TlsStream<S>, CertSummary), Error> {
    let name = opts.tls_name.as_deref().unwrap_or(host);
    let setup = Setup::new(opts)?;
    let stream = match setup.connector.connect(name, Tap::new(stream)) {
        Ok(s) => s,
        Err(HandshakeError::Failure(e)) => {
            let err = handshake_failed(&e.to_string(), name);
            return Err(changed::explain(err, opts.cafile.as_deref(), name));
        }
        Err(HandshakeError::WouldBlock(_)) => {
            return Err(Error::Tls("TLS handshake timed out".to_string()));
        }
    };
    let summary = summarize(&stream, name, &setup, opts.insecure);
    Ok((stream, summary))
}

/// Check `--tls-cert`/`--tls-key` up front (readable, PEM, the key matches), so a mistake
/// is a usage error at start rather than a failed handshake later.
pub fn check_client_identity(opts: &TlsOptions) -> Result<(), Error> {
    match &opts.client_cert {
        Some(_) => Setup::new(opts).map(|_| ()),
        None => Ok(()),
    }
}

/// The error for a failed handshake, from the platform's message.
fn handshake_failed(text: &str, name: &str) -> Error {
    let lower = text.to_ascii_lowercase();
    // OpenSSL: "certificate verify failed … (self-signed certificate)"; SChannel: "The
    // certificate chain was issued by an authority that is not trusted", "The target
    // principal name is incorrect"; Security.framework: "… certificate … not trusted".
    let windows = windows_reason(text);
    let server_cert = windows.is_some()
        || lower.contains("certificate verify failed")
        || lower.contains("principal name")
        || (lower.contains("certificate") && !lower.contains("alert"));
    if server_cert {
        Error::Tls(format!(
            "certificate verification failed for {name:?}: {} (use --cafile FILE to trust its CA, --tls-name NAME for another name, or --insecure)",
            windows.unwrap_or_else(|| openssl_reason(text).to_string())
        ))
    } else {
        Error::Tls(format!("TLS handshake failed: {text}{}", alert_hint(text)))
    }
}

/// OpenSSL's reason, which native-tls puts in parentheses after its error stack
/// (`error:0A000086:…:certificate verify failed:… (self-signed certificate)`); other
/// platforms' messages are whole sentences and are kept as they are.
fn openssl_reason(text: &str) -> &str {
    text.strip_suffix(')')
        .filter(|t| t.contains("certificate verify failed"))
        .and_then(|t| t.rsplit_once(" ("))
        .map_or(text, |(_, reason)| reason)
}

/// SChannel's certificate errors by code (`… (os error -2146762481)`), since their text
/// depends on the system's language and Wine has none.
fn windows_reason(text: &str) -> Option<String> {
    let code = text
        .rsplit_once("(os error ")?
        .1
        .strip_suffix(')')?
        .parse::<i32>()
        .ok()?;
    // The u32 form of the HRESULT, as Microsoft's documentation lists it.
    let code = u32::from_ne_bytes(code.to_ne_bytes());
    let reason = match code {
        0x800B_010F | 0x8009_0322 => "name mismatch",
        0x800B_0109 | 0x8009_0325 => "self-signed certificate or untrusted root",
        0x800B_010A => "unknown issuer",
        0x800B_0101 | 0x8009_0328 => "certificate has expired or is not yet valid",
        0x800B_010C => "certificate revoked",
        _ => return None,
    };
    Some(format!("{reason} (Windows error 0x{code:08X})"))
}

/// A hint for the alerts a server sends about our client certificate (RFC 8446 §6.2).
fn alert_hint(text: &str) -> &'static str {
    let lower = text.to_ascii_lowercase();
    if lower.contains("certificate required") {
        " (the server wants a client certificate: --tls-cert FILE --tls-key FILE)"
    } else if lower.contains("alert") && lower.contains("certificate") {
        " (the server did not accept our client certificate)"
    } else {
        ""
    }
}

/// An error from reading or writing an established TLS stream: the network's when the
/// socket failed or closed under it (exit 3), TLS's own otherwise — an alert, such as a
/// TLS 1.3 server refusing our client certificate after our side of the handshake was done
/// (exit 4).
pub fn stream_error<S: Read + Write>(stream: &TlsStream<S>, e: io::Error) -> Error {
    let tap = stream.get_ref();
    if tap.socket_failed() {
        Error::Io(e)
    } else if tap.at_eof() {
        Error::Closed
    } else {
        Error::Tls(format!("TLS failed: {e}{}", alert_hint(&e.to_string())))
    }
}

fn summarize<S: Read + Write>(
    stream: &TlsStream<S>,
    name: &str,
    setup: &Setup,
    insecure: bool,
) -> CertSummary {
    let (version, cipher) = match stream.get_ref().negotiated() {
        Some(n) => (n.version.clone(), n.cipher.clone()),
        None => ("TLS".to_string(), "(cipher not seen)".to_string()),
    };
    let der = stream
        .peer_certificate()
        .ok()
        .flatten()
        .and_then(|c| c.to_der().ok());
    let described = der
        .as_deref()
        .and_then(summary::describe)
        .unwrap_or_default();
    let findings = match (&der, insecure) {
        (Some(der), true) => summary::check(der, name, SystemTime::now(), &setup.anchors),
        (None, true) => summary::Findings {
            problem: Some("the server sent no certificate".into()),
            unchecked: None,
        },
        (_, false) => summary::Findings::default(),
    };
    CertSummary {
        version,
        cipher,
        subject: described.subject,
        names: described.names,
        issuer: described.issuer,
        not_before: described.not_before,
        not_after: described.not_after,
        sha256: described.sha256,
        verified_name: name.to_string(),
        verify_error: findings.problem,
        unchecked: findings.unchecked,
        client_cert: setup.client_subject.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_reasons_are_taken_from_the_parentheses() {
        let t = "error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:../ssl/statem/statem_clnt.c:1889: (self-signed certificate)";
        assert_eq!(openssl_reason(t), "self-signed certificate");
        let e = handshake_failed(t, "127.0.0.1");
        assert_eq!(
            e.to_string(),
            "certificate verification failed for \"127.0.0.1\": self-signed certificate (use --cafile FILE to trust its CA, --tls-name NAME for another name, or --insecure)"
        );
        let schannel = "The target principal name is incorrect. (os error -2146893022)";
        assert_eq!(openssl_reason(schannel), schannel);
        assert!(
            handshake_failed(schannel, "x")
                .to_string()
                .starts_with("certificate verification failed")
        );
    }

    // Under Wine there is no message text, only the code; on Windows the text is the
    // system's language. The code decides.
    #[test]
    fn schannel_codes_are_named() {
        let wine =
            "OS Error -2146762481 (FormatMessageW() returned error 317) (os error -2146762481)";
        assert_eq!(
            windows_reason(wine).as_deref(),
            Some("name mismatch (Windows error 0x800B010F)")
        );
        assert!(
            handshake_failed(wine, "127.0.0.1")
                .to_string()
                .starts_with("certificate verification failed for \"127.0.0.1\": name mismatch")
        );
        assert_eq!(windows_reason("(os error 2)"), None);
        assert_eq!(windows_reason("no code"), None);
    }

    #[test]
    fn alerts_about_our_certificate_get_a_hint() {
        let e = handshake_failed(
            "error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required",
            "x",
        );
        assert!(e.to_string().starts_with("TLS handshake failed: "), "{e}");
        assert!(
            e.to_string().ends_with("--tls-cert FILE --tls-key FILE)"),
            "{e}"
        );
        assert!(alert_hint("sslv3 alert bad certificate").contains("did not accept"));
        assert_eq!(alert_hint("wrong version number"), "");
    }

    #[test]
    fn cafile_without_certificates_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty.pem");
        std::fs::write(&p, "nothing here\n").unwrap();
        let opts = TlsOptions {
            cafile: Some(p),
            ..TlsOptions::default()
        };
        let Err(Error::Usage(m)) = Setup::new(&opts) else {
            panic!("accepted")
        };
        assert!(m.ends_with("holds no PEM certificate"), "{m}");
    }
}
