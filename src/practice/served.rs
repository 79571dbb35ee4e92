//! The certificate the practice server serves ([`CertSource`]): made for this run (what
//! `--practice` and the tests use), kept across restarts (what `--serve` does, so the PEM a
//! class saved keeps working), or the teacher's own (`--cert FILE --key FILE`).
//!
//! A kept certificate is reused while it names every address and name the server is reached
//! by ([`Reach`]) and has more than [`RENEW_WITHIN`] left; otherwise a new one is made and
//! kept, and [`CertOrigin::Made`] says why, for the banner: every student then needs the new
//! PEM. The key is written readable by its owner only (Unix mode 0600), each file through a
//! temporary one and a rename so a crash never leaves half of one.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer as _;

use super::cert::{self, CertSpec, MadeCert, VALID_DAYS};
use super::reach::Reach;
use crate::error::Error;
use crate::net::tls::summary::describe;

/// Where the server's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CertSource {
    /// Made at start and kept nowhere.
    #[default]
    Fresh,
    /// Kept in this directory ([`CERT_FILE`], [`KEY_FILE`]) and reused while it fits.
    Kept(PathBuf),
    /// The teacher's own: a PEM certificate (chain, leaf first) and its PEM private key.
    Files {
        /// The certificate.
        cert: PathBuf,
        /// Its key.
        key: PathBuf,
    },
}

/// Where the certificate being served came from: what the banner tells the teacher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertOrigin {
    /// Made at start, kept nowhere.
    Fresh,
    /// Made at start because no kept one could be used (`why`), and kept at `path`.
    Made {
        /// The kept certificate.
        path: PathBuf,
        /// Why the one kept before was not reused; `None` when there was none.
        why: Option<String>,
    },
    /// Made at start, but it could not be kept (`why`).
    Unkept {
        /// What went wrong.
        why: String,
    },
    /// The one kept at `path`, reused.
    Reused {
        /// The kept certificate.
        path: PathBuf,
    },
    /// The teacher's own (`--cert`).
    Given {
        /// The certificate file.
        path: PathBuf,
        /// Whether it is self-issued (its own CA), so that students can trust the file itself.
        self_issued: bool,
    },
}

/// The kept certificate's file name.
pub const CERT_FILE: &str = "practice-cert.pem";
/// The kept key's file name.
pub const KEY_FILE: &str = "practice-key.pem";

/// How long a kept certificate is valid: a school year, so a course keeps one.
pub const KEPT_DAYS: u32 = 365;

/// A kept certificate with less than this left is made anew.
pub const RENEW_WITHIN: Duration = Duration::from_secs(14 * 86_400);

/// What the server serves.
pub(crate) struct Served {
    pub acceptor: native_tls::TlsAcceptor,
    /// The certificate (chain) as PEM, for `--cert-out` and a client's `--cafile`.
    pub pem: String,
    /// SHA-256 of the leaf, colon-separated upper-case hex.
    pub fingerprint: String,
    /// The leaf's subjectAltName names.
    pub names: Vec<String>,
    pub origin: CertOrigin,
}

/// The certificate from `source` for a server named `hostname` reached by `reach`.
pub(crate) fn serve(source: &CertSource, hostname: &str, reach: &Reach) -> Result<Served, Error> {
    match source {
        CertSource::Fresh => {
            let made = cert::self_signed(&cert::practice_spec(hostname, reach, VALID_DAYS))
                .map_err(made_error)?;
            from_made(&made, CertOrigin::Fresh)
        }
        CertSource::Kept(dir) => kept(dir, hostname, reach),
        CertSource::Files { cert, key } => given(cert, key),
    }
}

fn made_error(e: cert::CertError) -> Error {
    Error::Tls(format!(
        "could not make the practice server's certificate: {e}"
    ))
}

fn from_made(made: &MadeCert, origin: CertOrigin) -> Result<Served, Error> {
    Ok(Served {
        acceptor: made.acceptor().map_err(made_error)?,
        pem: made.cert_pem.clone(),
        fingerprint: made.fingerprint(),
        names: describe(&made.der).map(|d| d.names).unwrap_or_default(),
        origin,
    })
}

fn kept(dir: &Path, hostname: &str, reach: &Reach) -> Result<Served, Error> {
    let spec = cert::practice_spec(hostname, reach, KEPT_DAYS);
    let cert_path = dir.join(CERT_FILE);
    let why = match reuse(&cert_path, &dir.join(KEY_FILE), &spec, SystemTime::now()) {
        Ok(served) => return Ok(served),
        Err(why) => why,
    };
    let made = cert::self_signed(&spec).map_err(made_error)?;
    let origin = match keep(dir, &made) {
        Ok(()) => CertOrigin::Made {
            path: cert_path,
            why,
        },
        Err(e) => CertOrigin::Unkept {
            why: format!("could not keep it in {}: {e}", dir.display()),
        },
    };
    from_made(&made, origin)
}

/// The kept certificate, if it can serve `spec`'s names; else why not (`None`: there is
/// none).
fn reuse(
    cert_path: &Path,
    key_path: &Path,
    spec: &CertSpec,
    now: SystemTime,
) -> Result<Served, Option<String>> {
    if !cert_path.exists() && !key_path.exists() {
        return Err(None);
    }
    let unusable = |why: String| Some(format!("the kept certificate could not be used ({why})"));
    let cert_pem = fs::read_to_string(cert_path).map_err(|e| unusable(e.to_string()))?;
    let key_pem = fs::read_to_string(key_path).map_err(|e| unusable(e.to_string()))?;
    let der = pem::parse(&cert_pem)
        .map_err(|e| unusable(e.to_string()))?
        .into_contents();
    let described = describe(&der).ok_or_else(|| unusable("not a certificate".into()))?;
    let missing: Vec<String> = spec
        .dns_names
        .iter()
        .cloned()
        .chain(spec.ips.iter().map(|ip| ip.to_string()))
        .filter(|want| !described.names.iter().any(|n| n.eq_ignore_ascii_case(want)))
        .collect();
    if !missing.is_empty() {
        return Err(Some(format!(
            "the kept certificate does not name {}",
            missing.join(", ")
        )));
    }
    let (_, parsed) = X509Certificate::from_der(&der).map_err(|e| unusable(e.to_string()))?;
    let now_secs = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let left = parsed.validity().not_after.timestamp() - now_secs;
    if left < RENEW_WITHIN.as_secs() as i64 {
        return Err(Some(format!(
            "the kept certificate {} on {}",
            if left < 0 { "expired" } else { "expires" },
            described.not_after
        )));
    }
    let identity = native_tls::Identity::from_pkcs8(cert_pem.as_bytes(), key_pem.as_bytes())
        .map_err(|e| unusable(e.to_string()))?;
    let acceptor = native_tls::TlsAcceptor::builder(identity)
        .min_protocol_version(Some(native_tls::Protocol::Tlsv12))
        .build()
        .map_err(|e| unusable(e.to_string()))?;
    Ok(Served {
        acceptor,
        pem: cert_pem,
        fingerprint: described.sha256,
        names: described.names,
        origin: CertOrigin::Reused {
            path: cert_path.to_path_buf(),
        },
    })
}

/// Write `made` into `dir`: the key first (readable by its owner only), then the
/// certificate, each through a temporary file and a rename.
fn keep(dir: &Path, made: &MadeCert) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    write_new(&dir.join(KEY_FILE), made.key_pem.as_bytes(), true)?;
    write_new(&dir.join(CERT_FILE), made.cert_pem.as_bytes(), false)
}

fn write_new(path: &Path, bytes: &[u8], secret: bool) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let result = (|| {
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The teacher's own certificate and key.
fn given(cert_path: &Path, key_path: &Path) -> Result<Served, Error> {
    let loaded = crate::net::tls::identity::load(cert_path, Some(key_path), ("--cert", "--key"))?;
    let text = fs::read(cert_path)
        .map_err(|e| Error::Usage(format!("cannot read --cert {}: {e}", cert_path.display())))?;
    let blocks: Vec<pem::Pem> = pem::parse_many(&text)
        .unwrap_or_default()
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .collect();
    let leaf = blocks.first().map(pem::Pem::contents).unwrap_or_default();
    let described = describe(leaf).ok_or_else(|| {
        Error::Usage(format!(
            "--cert {}: the certificate does not parse",
            cert_path.display()
        ))
    })?;
    let acceptor = native_tls::TlsAcceptor::builder(loaded.identity)
        .min_protocol_version(Some(native_tls::Protocol::Tlsv12))
        .build()
        .map_err(|e| Error::Tls(format!("TLS setup failed with --cert: {e}")))?;
    Ok(Served {
        acceptor,
        pem: pem::encode_many(&blocks),
        fingerprint: described.sha256.clone(),
        names: described.names.clone(),
        origin: CertOrigin::Given {
            path: cert_path.to_path_buf(),
            self_issued: described.subject == described.issuer,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reach(addrs: &[&str]) -> Reach {
        Reach {
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            ..Reach::default()
        }
    }

    #[test]
    fn a_kept_certificate_is_reused_until_it_no_longer_fits() {
        let dir = tempfile::tempdir().unwrap();
        let source = CertSource::Kept(dir.path().to_path_buf());
        let first = serve(&source, "practice.smtpsh.test", &reach(&["127.0.0.1"])).unwrap();
        assert_eq!(
            first.origin,
            CertOrigin::Made {
                path: dir.path().join(CERT_FILE),
                why: None
            }
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "the key is its owner's only");
        }
        let again = serve(&source, "practice.smtpsh.test", &reach(&["127.0.0.1"])).unwrap();
        assert_eq!(again.fingerprint, first.fingerprint);
        assert_eq!(
            again.origin,
            CertOrigin::Reused {
                path: dir.path().join(CERT_FILE)
            }
        );
        assert_eq!(again.pem, first.pem);
        // A new address: a new certificate, and the banner is told why.
        let moved = serve(&source, "practice.smtpsh.test", &reach(&["192.0.2.9"])).unwrap();
        assert_ne!(moved.fingerprint, first.fingerprint);
        assert_eq!(
            moved.origin,
            CertOrigin::Made {
                path: dir.path().join(CERT_FILE),
                why: Some("the kept certificate does not name 192.0.2.9".into())
            }
        );
        assert!(moved.names.contains(&"192.0.2.9".to_string()));
        // Garbage in the file: made anew, saying so.
        fs::write(dir.path().join(CERT_FILE), "not a certificate").unwrap();
        let fixed = serve(&source, "practice.smtpsh.test", &reach(&["192.0.2.9"])).unwrap();
        let CertOrigin::Made { why: Some(why), .. } = &fixed.origin else {
            panic!("{:?}", fixed.origin)
        };
        assert!(
            why.starts_with("the kept certificate could not be used"),
            "{why}"
        );
    }

    #[test]
    fn a_kept_certificate_near_its_end_is_renewed() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = cert::practice_spec("practice.smtpsh.test", &reach(&["127.0.0.1"]), 10);
        spec.key = cert::KeyKind::P256;
        let made = cert::self_signed(&spec).unwrap();
        keep(dir.path(), &made).unwrap();
        let why = reuse(
            &dir.path().join(CERT_FILE),
            &dir.path().join(KEY_FILE),
            &spec,
            SystemTime::now(),
        )
        .err()
        .flatten()
        .unwrap();
        assert!(why.starts_with("the kept certificate expires on "), "{why}");
        let later = SystemTime::now() + Duration::from_secs(11 * 86_400);
        let why = reuse(
            &dir.path().join(CERT_FILE),
            &dir.path().join(KEY_FILE),
            &spec,
            later,
        )
        .err()
        .flatten()
        .unwrap();
        assert!(why.starts_with("the kept certificate expired on "), "{why}");
    }

    #[test]
    fn a_directory_that_cannot_be_written_still_serves() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        fs::write(&file, "x").unwrap();
        let served = serve(
            &CertSource::Kept(file.join("sub")),
            "practice.smtpsh.test",
            &reach(&["127.0.0.1"]),
        )
        .unwrap();
        let CertOrigin::Unkept { why } = &served.origin else {
            panic!("{:?}", served.origin)
        };
        assert!(why.starts_with("could not keep it in "), "{why}");
    }

    #[test]
    fn the_teachers_own_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = CertSpec::new("mail.class.example");
        spec.dns_names = vec!["mail.class.example".into()];
        let made = cert::self_signed(&spec).unwrap();
        let cert_path = dir.path().join("c.pem");
        let key_path = dir.path().join("k.pem");
        fs::write(&cert_path, &made.cert_pem).unwrap();
        fs::write(&key_path, &made.key_pem).unwrap();
        let served = serve(
            &CertSource::Files {
                cert: cert_path.clone(),
                key: key_path.clone(),
            },
            "practice.smtpsh.test",
            &reach(&["127.0.0.1"]),
        )
        .unwrap();
        assert_eq!(served.fingerprint, made.fingerprint());
        assert_eq!(served.names, ["mail.class.example"]);
        assert_eq!(
            served.origin,
            CertOrigin::Given {
                path: cert_path.clone(),
                self_issued: true
            }
        );
        let other = cert::self_signed(&spec).unwrap();
        fs::write(&key_path, &other.key_pem).unwrap();
        let Err(Error::Usage(m)) = serve(
            &CertSource::Files {
                cert: cert_path,
                key: key_path,
            },
            "practice.smtpsh.test",
            &reach(&["127.0.0.1"]),
        ) else {
            panic!("a key of another certificate was taken")
        };
        assert!(m.contains("does not belong"), "{m}");
    }
}
