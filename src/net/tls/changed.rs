//! What a student is told when the practice server's certificate no longer matches the
//! copy they saved. The platform only says "self-signed certificate" (OpenSSL) or
//! "untrusted root" (SChannel); but when the `--cafile` file holds an smtpsh practice
//! certificate ([`PRACTICE_ORGANIZATION`]) for the very name being verified, a server that
//! is not trusted is serving another certificate for that name: the teacher's server made a
//! new one (its kept one no longer covered an address, or the teacher moved machines).
//! When instead the saved practice certificate does not name what was typed (the teacher's
//! machine has a new address, or the student typed another name), the student is told
//! which names it holds.

use std::net::IpAddr;
use std::path::Path;

use super::summary::describe;
use crate::diag::cert::name_matches;
use crate::error::Error;
use crate::practice::cert::PRACTICE_ORGANIZATION;

/// `err` (a failed handshake for `name`) with a plainer reason when `cafile` holds a
/// practice certificate that explains it; otherwise `err` unchanged.
pub(super) fn explain(err: Error, cafile: Option<&Path>, name: &str) -> Error {
    let (Error::Tls(text), Some(cafile)) = (&err, cafile) else {
        return err;
    };
    if !text.starts_with("certificate verification failed") {
        return err;
    }
    let Ok(pem) = std::fs::read(cafile) else {
        return err;
    };
    let practice: Vec<Vec<String>> = super::certificates(&pem)
        .iter()
        .filter_map(|der| describe(der))
        .filter(|d| d.subject.contains(&format!("O={PRACTICE_ORGANIZATION}")))
        .map(|d| d.names)
        .collect();
    if practice.is_empty() {
        return err;
    }
    let lower = text.to_ascii_lowercase();
    let untrusted = [
        "self-signed",
        "self signed",
        "issuer",
        "untrusted",
        "not trusted",
    ]
    .iter()
    .any(|w| lower.contains(w));
    let mismatch = lower.contains("mismatch");
    let file = cafile.display();
    let named = practice.iter().any(|names| names_cover(names, name));
    if untrusted && named {
        return Error::Tls(format!(
            "the practice server's certificate changed since you saved {file}: get the new one from the teacher ({text})"
        ));
    }
    if (untrusted || mismatch) && !named {
        let held: Vec<String> = practice.concat();
        return Error::Tls(format!(
            "{file} holds a practice server's certificate, but not one for {name:?} (it names {}): connect by one of those names, or get the certificate the teacher's server uses now ({text})",
            held.join(", ")
        ));
    }
    err
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
    use crate::practice::cert::{practice_spec, self_signed};

    fn saved(dir: &Path) -> std::path::PathBuf {
        let reach = Reach {
            addrs: vec!["192.0.2.2".parse().unwrap()],
            ..Reach::default()
        };
        let made = self_signed(&practice_spec("practice.smtpsh.test", &reach, 1)).unwrap();
        let path = dir.join("class.pem");
        std::fs::write(&path, made.cert_pem).unwrap();
        path
    }

    const SELF_SIGNED: &str = "certificate verification failed for \"192.0.2.2\": self-signed certificate (use --cafile FILE to trust its CA, --tls-name NAME for another name, or --insecure)";

    #[test]
    fn a_changed_practice_certificate_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let cafile = saved(dir.path());
        let e = explain(Error::Tls(SELF_SIGNED.into()), Some(&cafile), "192.0.2.2");
        assert_eq!(
            e.to_string(),
            format!(
                "the practice server's certificate changed since you saved {}: get the new one from the teacher ({SELF_SIGNED})",
                cafile.display()
            )
        );
        // SChannel's words for it.
        let windows = "certificate verification failed for \"localhost\": self-signed certificate or untrusted root (Windows error 0x800B0109) (use --cafile …)";
        let e = explain(Error::Tls(windows.into()), Some(&cafile), "localhost");
        assert!(
            e.to_string()
                .contains("certificate changed since you saved"),
            "{e}"
        );
    }

    #[test]
    fn a_name_the_saved_certificate_lacks_is_told() {
        let dir = tempfile::tempdir().unwrap();
        let cafile = saved(dir.path());
        let text = "certificate verification failed for \"127.0.0.2\": IP address mismatch (use --cafile FILE …)";
        let e = explain(Error::Tls(text.into()), Some(&cafile), "127.0.0.2");
        let m = e.to_string();
        assert!(
            m.contains("holds a practice server's certificate, but not one for \"127.0.0.2\" (it names localhost, practice.smtpsh.test, 127.0.0.1, ::1, 192.0.2.2): connect by one of those names, or get the certificate the teacher's server uses now"),
            "{m}"
        );
        // A new address and a new certificate: the platform says only "self-signed".
        let e = explain(
            Error::Tls(SELF_SIGNED.replace("192.0.2.2", "127.0.0.2")),
            Some(&cafile),
            "127.0.0.2",
        );
        assert!(
            e.to_string().contains("but not one for \"127.0.0.2\""),
            "{e}"
        );
    }

    #[test]
    fn other_failures_and_other_files_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let cafile = saved(dir.path());
        let other = dir.path().join("other.pem");
        let mut spec = crate::practice::cert::CertSpec::new("ca.example");
        spec.dns_names = vec!["192.0.2.2".into()];
        std::fs::write(&other, self_signed(&spec).unwrap().cert_pem).unwrap();
        let cases = [
            (SELF_SIGNED, Some(other.as_path()), "192.0.2.2"),
            (SELF_SIGNED, None, "192.0.2.2"),
            (
                "TLS handshake failed: wrong version number",
                Some(cafile.as_path()),
                "192.0.2.2",
            ),
            (
                "certificate verification failed for \"192.0.2.2\": certificate has expired",
                Some(cafile.as_path()),
                "192.0.2.2",
            ),
        ];
        for (text, file, name) in cases {
            let e = explain(Error::Tls(text.into()), file, name);
            assert_eq!(
                e.to_string(),
                Error::Tls(text.into()).to_string(),
                "{text} {file:?} {name}"
            );
        }
    }
}
