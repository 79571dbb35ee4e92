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
//! A failed handshake is named in words: a certificate the verifier refused (with what the
//! handshake showed of the server, so the `:tls` report can say why without `--insecure`), an
//! alert the server sent ("see the server's log"), plaintext where TLS was due (an SMTP
//! greeting: the port wants STARTTLS), a connection closed half-way.
//!
//! Files: [`flight`] (the server's plaintext handshake: ServerHello, the TLS 1.2 chain, alerts),
//! [`hello`] (the socket tap that feeds it), [`summary`] (what a certificate says, and under
//! `--insecure` what is wrong with it), [`report`] (the `:tls` report), `identity` (the client
//! certificate), `changed` (what a refusal means when `--cafile` holds a practice server's
//! certificate).

mod changed;
pub mod flight;
pub mod hello;
pub(crate) mod identity;
pub mod report;
pub mod summary;

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::SystemTime;

use native_tls::{HandshakeError, Protocol, TlsConnector};

pub use flight::Seen;
pub use hello::Tap;
pub use summary::colon_hex;

use report::{ChainSource, Observed, TlsReport, TlsVerdict};

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
    /// The key-exchange group, where the handshake showed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The server's certificate, DER.
    #[serde(skip)]
    pub leaf: Option<Vec<u8>>,
    /// What the plaintext part of the handshake showed (in TLS 1.2 the chain as sent).
    #[serde(skip)]
    pub seen: Seen,
    /// Verification was off (`--insecure`, or a look that only shows).
    #[serde(skip)]
    pub insecure: bool,
}

impl CertSummary {
    /// The chain as far as this handshake showed it: as sent (TLS 1.2), or the server's own
    /// certificate alone (TLS 1.3).
    pub fn chain(&self) -> (Vec<Vec<u8>>, ChainSource) {
        match &self.seen.chain {
            Some(c) if !c.is_empty() => (c.clone(), ChainSource::Handshake),
            _ => (
                self.leaf.iter().cloned().collect(),
                ChainSource::LeafOnly {
                    tls12_refused: false,
                },
            ),
        }
    }

    /// What the handshake gathered, for a [`TlsReport`].
    pub fn observed(&self) -> Observed {
        let (chain, _) = self.chain();
        Observed {
            version: Some(self.version.clone()),
            cipher: Some(self.cipher.clone()),
            group: self.group.clone(),
            chain,
            ocsp_stapled: self.seen.chain.is_some().then_some(self.seen.ocsp_stapled),
        }
    }

    /// The verdict on this handshake.
    pub fn verdict(&self) -> TlsVerdict {
        if self.insecure {
            TlsVerdict::NotChecked {
                name: self.verified_name.clone(),
                problem: self.verify_error.clone(),
                unchecked: self.unchecked.clone(),
            }
        } else {
            TlsVerdict::Verified {
                name: self.verified_name.clone(),
            }
        }
    }

    /// The `:tls` report of this handshake, for `server` (`host:port (address)`).
    pub fn report(&self, server: String, now: i64) -> TlsReport {
        let (_, source) = self.chain();
        TlsReport::new(server, self.observed(), source, self.verdict(), now)
    }
}

/// The message of a handshake that ran out of time (the socket's deadline).
pub const TIMED_OUT: &str = "TLS handshake timed out";

/// How a handshake is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Verify, as the options say (the session's connection).
    Verify,
    /// Only look: verification off whatever the options say, nothing to be sent after the
    /// handshake that matters; `tls12` caps the protocol at TLS 1.2, where the Certificate
    /// message is still plaintext.
    Look {
        /// Offer nothing above TLS 1.2.
        tls12: bool,
    },
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
        Setup::for_mode(opts, Mode::Verify)
    }

    fn for_mode(opts: &TlsOptions, mode: Mode) -> Result<Setup, Error> {
        let mut b = TlsConnector::builder();
        // Safety rule 1: nothing older than TLS 1.2 (RFC 8996 deprecates 1.0 and 1.1).
        b.min_protocol_version(Some(Protocol::Tlsv12));
        if mode == (Mode::Look { tls12: true }) {
            b.max_protocol_version(Some(Protocol::Tlsv12));
        }
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
        if opts.insecure || mode != Mode::Verify {
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
    handshake_as(stream, host, opts, Mode::Verify)
}

/// [`handshake`] in the given [`Mode`]: verifying, or only looking.
pub fn handshake_as<S: Read + Write>(
    stream: S,
    host: &str,
    opts: &TlsOptions,
    mode: Mode,
) -> Result<(TlsStream<S>, CertSummary), Error> {
    run(stream, host, opts, mode).0
}

/// A handshake that only looks (verification off; `tls12` caps the protocol), and what the
/// server's plaintext handshake showed whether it succeeded or not: for telling whether a
/// port speaks TLS at all.
pub fn look<S: Read + Write>(
    stream: S,
    host: &str,
    opts: &TlsOptions,
    tls12: bool,
) -> (Result<(TlsStream<S>, CertSummary), Error>, Seen) {
    run(stream, host, opts, Mode::Look { tls12 })
}

fn run<S: Read + Write>(
    stream: S,
    host: &str,
    opts: &TlsOptions,
    mode: Mode,
) -> (Result<(TlsStream<S>, CertSummary), Error>, Seen) {
    let name = opts.tls_name.as_deref().unwrap_or(host);
    let setup = match Setup::for_mode(opts, mode) {
        Ok(s) => s,
        Err(e) => return (Err(e), Seen::default()),
    };
    let tap = Tap::new(stream);
    let watch = tap.watch();
    let result = match setup.connector.connect(name, tap) {
        Ok(stream) => {
            let insecure = opts.insecure || mode != Mode::Verify;
            let summary = summarize(&stream, name, &setup, insecure, &watch.state());
            Ok((stream, summary))
        }
        Err(HandshakeError::Failure(e)) => Err(changed::explain(
            failed(&e.to_string(), name, &watch.state()),
            opts.cafile.as_deref(),
        )),
        Err(HandshakeError::WouldBlock(_)) => Err(Error::Tls(TIMED_OUT.to_string())),
    };
    let seen = watch.state().seen().clone();
    (result, seen)
}

/// smtpsh's own checks of the server's certificate `der` for `host` (dates, name,
/// self-signed against `--cafile`), as under `--insecure`: what the certificate itself shows
/// when the verifier refused it.
pub fn check_leaf(der: &[u8], host: &str, opts: &TlsOptions) -> summary::Findings {
    let name = opts.tls_name.as_deref().unwrap_or(host);
    let mut anchors = Vec::new();
    if let Some(pem) = opts.cafile.as_ref().and_then(|p| std::fs::read(p).ok()) {
        anchors.extend(certificates(&pem));
    }
    for pem in &opts.extra_roots {
        anchors.extend(certificates(pem.as_bytes()));
    }
    summary::check(der, name, SystemTime::now(), &anchors)
}

/// Check `--tls-cert`/`--tls-key` up front (readable, PEM, the key matches), so a mistake
/// is a usage error at start rather than a failed handshake later.
pub fn check_client_identity(opts: &TlsOptions) -> Result<(), Error> {
    match &opts.client_cert {
        Some(_) => Setup::new(opts).map(|_| ()),
        None => Ok(()),
    }
}

/// The error for a failed handshake: what the tap saw first (plaintext, an alert, the end
/// of the stream), then the platform's message.
fn failed(text: &str, name: &str, st: &hello::TapState) -> Error {
    let seen = st.seen();
    if let Some(bytes) = &seen.not_tls {
        return Error::Tls(not_tls(bytes));
    }
    if let Some(why) = verify_reason(text) {
        return Error::Verify {
            name: name.to_string(),
            reason: why,
            seen: Box::new(seen.clone()),
        };
    }
    let alert = seen
        .alert
        .map(|a| a.description)
        .or_else(|| alert_number(text));
    if let Some(code) = alert {
        return Error::Tls(format!(
            "the server ended the TLS handshake with the alert {} ({code}){}; see the server's log for why",
            flight::alert_name(code),
            alert_meaning(code, text)
        ));
    }
    if st.at_eof() {
        return Error::Tls(
            "the server closed the connection in the middle of the TLS handshake; see the server's log for why".into(),
        );
    }
    Error::Tls(format!("TLS handshake failed: {text}{}", alert_hint(text)))
}

/// The message for plaintext where a handshake was due.
fn not_tls(bytes: &[u8]) -> String {
    let first = bytes.split(|b| *b == b'\n').next().unwrap_or(bytes);
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    let shown = crate::smtp::escape::escape_bytes(first);
    let smtp = matches!(first, [a, b, c, d, ..] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() && (*d == b' ' || *d == b'-'));
    if smtp {
        format!(
            "the server answered the TLS handshake in plaintext (\"{shown}\"): this port speaks SMTP first, with STARTTLS; use --starttls instead of --tls-on-connect (implicit TLS is usually port 465)"
        )
    } else {
        format!(
            "the server answered the TLS handshake with something that is not TLS (\"{shown}\"); is this the right port?"
        )
    }
}

/// Why the verifier refused the server's certificate, when that is what the platform's
/// message says.
fn verify_reason(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    // OpenSSL: "certificate verify failed … (self-signed certificate)"; SChannel: "The
    // certificate chain was issued by an authority that is not trusted", "The target
    // principal name is incorrect"; Security.framework: "… certificate … not trusted".
    let windows = windows_reason(text);
    let server_cert = windows.is_some()
        || lower.contains("certificate verify failed")
        || lower.contains("principal name")
        || (lower.contains("certificate") && !lower.contains("alert"));
    server_cert.then(|| windows.unwrap_or_else(|| openssl_reason(text).to_string()))
}

/// The tidy reason for a handshake that failed, for messages that add their own context
/// (the MTA-STS policy fetch): the verifier's reason, an alert named, or the platform's text.
pub fn failure_reason(e: &Error) -> String {
    match e {
        Error::Verify { reason, .. } => format!("certificate verification failed: {reason}"),
        other => other.to_string(),
    }
}

/// OpenSSL names the alert a peer sent by number: `… SSL alert number 40`.
fn alert_number(text: &str) -> Option<u8> {
    let (_, rest) = text.rsplit_once("alert number ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// What an alert from the server usually means, for the ones people meet.
fn alert_meaning(code: u8, text: &str) -> String {
    let hint = alert_hint(text);
    if !hint.is_empty() {
        return hint.to_string();
    }
    match code {
        40 => ": no cipher suite, group or signature algorithm in common, or the server's TLS setup is broken",
        70 => ": the server refuses every TLS version smtpsh offers (1.2 and 1.3)",
        71 => ": the server wants stronger parameters than offered",
        80 => ": the server failed on its side (its key or certificate files, say)",
        112 => ": the server has no certificate for the name sent as SNI (--tls-name)",
        116 => " (the server wants a client certificate: --tls-cert FILE --tls-key FILE)",
        42..=49 => " (the server did not accept our client certificate)",
        _ => "",
    }
    .to_string()
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
    st: &hello::TapState,
) -> CertSummary {
    let seen = st.seen().clone();
    let (version, cipher) = match &seen.negotiated {
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
        group: seen.group.clone(),
        leaf: der,
        seen,
        insecure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake_failed(text: &str, name: &str) -> Error {
        failed(text, name, &hello::TapState::default())
    }

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

    // See: issue 15, an alert from the server was OpenSSL's text, not words.
    #[test]
    fn alerts_from_the_server_are_named_in_words() {
        let e = handshake_failed(
            "error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:../ssl/record/rec_layer_s3.c:1605:SSL alert number 40",
            "x",
        );
        assert_eq!(
            e.to_string(),
            "the server ended the TLS handshake with the alert handshake_failure (40): no cipher suite, group or signature algorithm in common, or the server's TLS setup is broken; see the server's log for why"
        );
        assert_eq!(e.exit(), crate::error::Exit::Tls);
        let e = handshake_failed(
            "... tlsv13 alert certificate required:...:SSL alert number 116",
            "x",
        );
        assert!(
            e.to_string().starts_with("the server ended the TLS handshake with the alert certificate_required (116) (the server wants a client certificate"),
            "{e}"
        );
    }

    // See: issue 15, --tls-on-connect against a plaintext port printed "wrong version number".
    #[test]
    fn plaintext_where_tls_was_due_says_use_starttls() {
        assert_eq!(
            not_tls(b"220 mx.example ESMTP Postfix\r\n"),
            "the server answered the TLS handshake in plaintext (\"220 mx.example ESMTP Postfix\"): this port speaks SMTP first, with STARTTLS; use --starttls instead of --tls-on-connect (implicit TLS is usually port 465)"
        );
        assert!(
            not_tls(b"HTTP/1.1 400 Bad Request\r\n")
                .contains("not TLS (\"HTTP/1.1 400 Bad Request\")")
        );
        assert!(not_tls(b"\x1b[2J").contains("\\x1b[2J"), "escaped");
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
