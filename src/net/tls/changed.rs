//! What a student is told when the practice server's certificate no longer matches the
//! copy they saved. The verifier only says "self-signed certificate" (OpenSSL) or
//! "untrusted root" (SChannel); but when the `--cafile` file holds an smtpsh practice
//! certificate ([`PRACTICE_ORGANIZATION`]) for the name being verified, and the server
//! presents a practice certificate for it with another key, the teacher's server made a new
//! one (its kept one no longer fitted, or the teacher moved machines): the refusal says so.
//! The server's certificate is the one the TLS 1.2 handshake showed ([`Seen::chain`]); over
//! TLS 1.3, which hides it, an untrusted server for a name the saved copy holds is taken
//! for the same story.
//!
//! When instead the saved practice certificate does not name what was typed (the teacher's
//! machine has a new address, or the student typed another name), the student is told
//! which names it holds.

use std::net::IpAddr;
use std::path::Path;

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer as _;

use super::Seen;
use super::summary::describe;
use crate::diag::cert::name_matches;
use crate::error::Error;
use crate::practice::cert::PRACTICE_ORGANIZATION;

/// `err` with a plainer reason when it is a refused certificate and `cafile` holds a
/// practice certificate that explains it; otherwise `err` unchanged.
pub(super) fn explain(err: Error, cafile: Option<&Path>) -> Error {
    let Error::Verify { name, reason, seen } = err else {
        return err;
    };
    match cafile.and_then(|f| note(f, &name, &reason, &seen)) {
        Some(note) => Error::Verify {
            reason: format!("{reason}; {note}"),
            name,
            seen,
        },
        None => Error::Verify { name, reason, seen },
    }
}

/// What the saved practice certificate in `cafile` says about a refusal for `name`.
fn note(cafile: &Path, name: &str, reason: &str, seen: &Seen) -> Option<String> {
    let pem = std::fs::read(cafile).ok()?;
    let saved: Vec<Vec<u8>> = super::certificates(&pem)
        .into_iter()
        .filter(|der| is_practice(der))
        .collect();
    if saved.is_empty() {
        return None;
    }
    let file = cafile.display();
    let names = |der: &[u8]| describe(der).map(|d| d.names).unwrap_or_default();
    let for_name: Vec<&Vec<u8>> = saved
        .iter()
        .filter(|der| names_cover(&names(der), name))
        .collect();
    if for_name.is_empty() {
        let held: Vec<String> = saved.iter().flat_map(|der| names(der)).collect();
        return Some(format!(
            "{file} holds a practice server's certificate, but not one for {name:?} (it names {}): connect by one of those names, or get the certificate the teacher's server uses now",
            held.join(", ")
        ));
    }
    let changed = match seen.chain.as_ref().and_then(|c| c.first()) {
        // The server's own: a practice certificate for the name, with another key.
        Some(leaf) => {
            is_practice(leaf)
                && names_cover(&names(leaf), name)
                && for_name
                    .iter()
                    .all(|der| public_key(der) != public_key(leaf))
        }
        None => {
            let lower = reason.to_ascii_lowercase();
            [
                "self-signed",
                "self signed",
                "issuer",
                "untrusted",
                "not trusted",
            ]
            .iter()
            .any(|w| lower.contains(w))
        }
    };
    changed.then(|| {
        format!(
            "the practice server's certificate changed since you saved {file}: get the new one from the teacher"
        )
    })
}

/// Whether `der` is an smtpsh practice certificate.
fn is_practice(der: &[u8]) -> bool {
    describe(der).is_some_and(|d| d.subject.contains(&format!("O={PRACTICE_ORGANIZATION}")))
}

/// The subjectPublicKeyInfo of `der`.
fn public_key(der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(cert.public_key().raw.to_vec())
}

/// Whether a certificate naming `names` is for `name` (an address, or a host name).
fn names_cover(names: &[String], name: &str) -> bool {
    match name.parse::<IpAddr>() {
        Ok(ip) => names.iter().any(|n| n.parse::<IpAddr>() == Ok(ip)),
        Err(_) => names.iter().any(|n| name_matches(n, name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::practice::Reach;
    use crate::practice::cert::{MadeCert, practice_spec, self_signed};

    fn practice(addr: &str) -> MadeCert {
        let reach = Reach {
            addrs: vec![addr.parse().unwrap()],
            ..Reach::default()
        };
        self_signed(&practice_spec("practice.smtpsh.test", &reach, 1)).unwrap()
    }

    fn saved(dir: &Path, made: &MadeCert) -> std::path::PathBuf {
        let path = dir.join("class.pem");
        std::fs::write(&path, &made.cert_pem).unwrap();
        path
    }

    fn refused(name: &str, reason: &str, leaf: Option<&MadeCert>) -> Error {
        Error::Verify {
            name: name.into(),
            reason: reason.into(),
            seen: Box::new(Seen {
                chain: leaf.map(|l| vec![l.der.clone()]),
                ..Seen::default()
            }),
        }
    }

    fn reason_of(e: &Error) -> &str {
        match e {
            Error::Verify { reason, .. } => reason,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_changed_practice_certificate_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let old = practice("192.0.2.2");
        let cafile = saved(dir.path(), &old);
        let new = practice("192.0.2.2");
        let want = format!(
            "self-signed certificate; the practice server's certificate changed since you saved {}: get the new one from the teacher",
            cafile.display()
        );
        // TLS 1.2: the server's certificate was seen, with another key.
        let e = explain(
            refused("192.0.2.2", "self-signed certificate", Some(&new)),
            Some(&cafile),
        );
        assert_eq!(reason_of(&e), want);
        assert!(e.to_string().contains("changed since you saved"), "{e}");
        // TLS 1.3 hid it; SChannel's words for an untrusted root.
        let windows = "self-signed certificate or untrusted root (Windows error 0x800B0109)";
        let e = explain(refused("localhost", windows, None), Some(&cafile));
        assert!(reason_of(&e).contains("changed since you saved"), "{e}");
    }

    #[test]
    fn a_name_the_saved_certificate_lacks_is_told() {
        let dir = tempfile::tempdir().unwrap();
        let cafile = saved(dir.path(), &practice("192.0.2.2"));
        for reason in ["IP address mismatch", "self-signed certificate"] {
            let e = explain(refused("127.0.0.2", reason, None), Some(&cafile));
            assert!(
                reason_of(&e).contains("holds a practice server's certificate, but not one for \"127.0.0.2\" (it names localhost, practice.smtpsh.test, 127.0.0.1, ::1, 192.0.2.2): connect by one of those names, or get the certificate the teacher's server uses now"),
                "{e}"
            );
        }
    }

    #[test]
    fn other_failures_and_other_files_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let old = practice("192.0.2.2");
        let cafile = saved(dir.path(), &old);
        let other = dir.path().join("other.pem");
        let mut spec = crate::practice::cert::CertSpec::new("ca.example");
        spec.ips = vec!["192.0.2.2".parse().unwrap()];
        let foreign = self_signed(&spec).unwrap();
        std::fs::write(&other, &foreign.cert_pem).unwrap();
        let cases = [
            // Not a practice certificate saved.
            (
                refused("192.0.2.2", "self-signed certificate", None),
                Some(other.as_path()),
            ),
            (refused("192.0.2.2", "self-signed certificate", None), None),
            // The same certificate, refused for another reason.
            (
                refused("192.0.2.2", "certificate has expired", Some(&old)),
                Some(cafile.as_path()),
            ),
            // The server is not a practice server at all.
            (
                refused("192.0.2.2", "self-signed certificate", Some(&foreign)),
                Some(cafile.as_path()),
            ),
            (
                Error::Tls("TLS handshake failed: wrong version number".into()),
                Some(cafile.as_path()),
            ),
        ];
        for (e, file) in cases {
            let before = e.to_string();
            assert_eq!(explain(e, file).to_string(), before, "{file:?}");
        }
    }
}
