//! The client certificate (`--tls-cert`, `--tls-key`): PEM files read, checked and turned
//! into the PKCS#8 identity native-tls takes, so a mistake is a usage error at start rather
//! than a failed handshake later.
//!
//! native-tls reads only PKCS#8 keys (`BEGIN PRIVATE KEY`); the traditional forms that
//! `openssl genrsa` and `openssl ecparam -genkey` write (PKCS#1 `BEGIN RSA PRIVATE KEY`,
//! SEC 1 `BEGIN EC PRIVATE KEY` on P-256) are converted here with RustCrypto's key types,
//! which also tell whether the key belongs to the certificate.

use std::path::Path;

use p256::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _};
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::summary::subject_of;
use crate::error::Error;

/// An identity ready for native-tls, and the subject the summary shows.
pub(crate) struct ClientIdentity {
    pub identity: native_tls::Identity,
    pub subject: String,
}

/// Read `cert` (a PEM chain, leaf first) and its key from `key` or, without it, from the
/// same file. `options` names the options the files came from, for the messages: `--tls-cert`
/// and `--tls-key` here; the practice server's `--cert` and `--key` load theirs this way too.
pub(crate) fn load(
    cert: &Path,
    key: Option<&Path>,
    options: (&str, &str),
) -> Result<ClientIdentity, Error> {
    let (cert_option, key_option) = options;
    let text = std::fs::read(cert)
        .map_err(|e| Error::Usage(format!("cannot read {cert_option} {}: {e}", cert.display())))?;
    let blocks = pem::parse_many(&text).unwrap_or_default();
    let chain: Vec<&pem::Pem> = blocks.iter().filter(|b| b.tag() == "CERTIFICATE").collect();
    let Some(leaf) = chain.first() else {
        return Err(Error::Usage(format!(
            "{cert_option} {} holds no PEM certificate",
            cert.display()
        )));
    };
    let key_path = key.unwrap_or(cert);
    let key_text = match key {
        Some(k) => std::fs::read(k)
            .map_err(|e| Error::Usage(format!("cannot read {key_option} {}: {e}", k.display())))?,
        None => text.clone(),
    };
    let no_key = || {
        Error::Usage(format!(
            "{} holds no unencrypted PEM private key{} (decrypt one with: openssl pkey -in KEY -out KEY.pem)",
            key_path.display(),
            if key.is_none() {
                format!(" (give it with {key_option} FILE)")
            } else {
                String::new()
            }
        ))
    };
    let key_blocks = pem::parse_many(&key_text).unwrap_or_default();
    let pkcs8 = key_blocks
        .iter()
        .find_map(to_pkcs8)
        .ok_or_else(no_key)?
        .map_err(|_| no_key())?;
    let mismatch = || {
        Error::Usage(format!(
            "the key in {} does not belong to the certificate in {}",
            key_path.display(),
            cert.display()
        ))
    };
    if !belongs(&pkcs8, leaf.contents()).ok_or_else(no_key)? {
        return Err(mismatch());
    }
    let chain_pem = pem::encode_many(&chain.iter().map(|b| (*b).clone()).collect::<Vec<_>>());
    let key_pem = pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8));
    let identity = native_tls::Identity::from_pkcs8(chain_pem.as_bytes(), key_pem.as_bytes())
        .map_err(|e| {
            Error::Tls(format!(
                "TLS setup failed: the platform's TLS takes no identity from {} and {}: {e}{}",
                cert.display(),
                key_path.display(),
                if cfg!(any(windows, target_vendor = "apple")) {
                    " (here native-tls takes RSA keys only)"
                } else {
                    ""
                }
            ))
        })?;
    Ok(ClientIdentity {
        identity,
        subject: subject_of(leaf.contents()).unwrap_or_default(),
    })
}

/// The PKCS#8 DER of a PEM key block; `None` for blocks that are not keys, an error for a
/// key that can't be read or converted (an encrypted one, a curve other than P-256).
fn to_pkcs8(block: &pem::Pem) -> Option<Result<Vec<u8>, ()>> {
    let der = block.contents();
    Some(match block.tag() {
        "PRIVATE KEY" => Ok(der.to_vec()),
        // RFC 8017 §A.1.2.
        "RSA PRIVATE KEY" => rsa::PrivateKey::from_pkcs1_der(der)
            .map_err(|_| ())
            .and_then(|k| k.to_pkcs8_der().map_err(|_| ()))
            .map(|d| d.as_bytes().to_vec()),
        // SEC 1 §C.4 (RFC 5915).
        "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(der)
            .map_err(|_| ())
            .and_then(|k| k.to_pkcs8_der().map_err(|_| ()))
            .map(|d| d.as_bytes().to_vec()),
        "ENCRYPTED PRIVATE KEY" => Err(()),
        _ => return None,
    })
}

/// Whether the PKCS#8 key `pkcs8` is the private half of the certificate `cert_der`'s
/// public key: `Some(answer)` for RSA and P-256 keys, `Some(true)` for other kinds (the
/// platform checks those when it loads them), `None` if the certificate does not parse.
fn belongs(pkcs8: &[u8], cert_der: &[u8]) -> Option<bool> {
    let (_, cert) = X509Certificate::from_der(cert_der).ok()?;
    let spki = cert.public_key().raw;
    if let Ok(k) = rsa::PrivateKey::from_pkcs8_der(pkcs8) {
        return Some(
            rsa::PublicKey::from_public_key_der(spki).is_ok_and(|p| p == k.to_public_key()),
        );
    }
    if let Ok(k) = p256::SecretKey::from_pkcs8_der(pkcs8) {
        return Some(p256::PublicKey::from_public_key_der(spki).is_ok_and(|p| p == k.public_key()));
    }
    Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::practice::cert::{CertSpec, KeyKind, self_signed};

    /// `load` as `--tls-cert` and `--tls-key` call it.
    fn load(cert: &Path, key: Option<&Path>) -> Result<ClientIdentity, Error> {
        super::load(cert, key, ("--tls-cert", "--tls-key"))
    }

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn usage(r: Result<ClientIdentity, Error>) -> String {
        match r {
            Err(Error::Usage(m)) => m,
            Err(e) => panic!("not a usage error: {e:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn pkcs8_key_with_its_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = CertSpec::new("smtpsh-client");
        spec.key = KeyKind::P256;
        let made = self_signed(&spec).unwrap();
        let cert = write(dir.path(), "c.pem", &made.cert_pem);
        let key = write(dir.path(), "k.pem", &made.key_pem);
        let id = load(&cert, Some(&key)).unwrap();
        assert_eq!(id.subject, "CN=smtpsh-client");
        // Both in one file, key first or last.
        let both = write(
            dir.path(),
            "b.pem",
            &format!("{}{}", made.key_pem, made.cert_pem),
        );
        assert_eq!(load(&both, None).unwrap().subject, "CN=smtpsh-client");
    }

    // `openssl ecparam -genkey` and `openssl genrsa` write traditional keys; they are taken.
    #[test]
    fn traditional_keys_are_converted() {
        use p256::pkcs8::DecodePrivateKey as _;
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        let dir = tempfile::tempdir().unwrap();
        for kind in [KeyKind::P256, KeyKind::Rsa2048] {
            let mut spec = CertSpec::new("smtpsh-client");
            spec.key = kind;
            let made = self_signed(&spec).unwrap();
            let traditional = match kind {
                KeyKind::P256 => p256::SecretKey::from_pkcs8_pem(&made.key_pem)
                    .unwrap()
                    .to_sec1_pem(p256::pkcs8::LineEnding::LF)
                    .unwrap()
                    .to_string(),
                KeyKind::Rsa2048 => rsa::PrivateKey::from_pkcs8_pem(&made.key_pem)
                    .unwrap()
                    .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
                    .unwrap()
                    .to_string(),
            };
            assert!(!traditional.starts_with("-----BEGIN PRIVATE KEY"));
            let cert = write(dir.path(), "c.pem", &made.cert_pem);
            let key = write(dir.path(), "k.pem", &traditional);
            assert_eq!(load(&cert, Some(&key)).unwrap().subject, "CN=smtpsh-client");
        }
    }

    #[test]
    fn mistakes_are_usage_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = CertSpec::new("a");
        spec.key = KeyKind::P256;
        let a = self_signed(&spec).unwrap();
        let b = self_signed(&spec).unwrap();
        let cert = write(dir.path(), "a.pem", &a.cert_pem);
        let other_key = write(dir.path(), "b.key", &b.key_pem);
        assert!(usage(load(&cert, Some(&other_key))).contains("does not belong"));
        assert!(usage(load(&cert, None)).contains("no unencrypted PEM private key"));
        let enc = write(
            dir.path(),
            "e.key",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        );
        assert!(usage(load(&cert, Some(&enc))).contains("no unencrypted PEM private key"));
        let key_only = write(dir.path(), "k.pem", &a.key_pem);
        assert!(usage(load(&key_only, None)).contains("holds no PEM certificate"));
        assert!(
            usage(load(Path::new("/nonexistent/c.pem"), None)).contains("cannot read --tls-cert")
        );
    }
}
