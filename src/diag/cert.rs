//! The facts DANE and MTA-STS need from one certificate, read with x509-parser: subject and
//! issuer as text, DNS names (subjectAltName dNSName, else the subject CN), the DER of the
//! subject public key info (SPKI), the validity dates, and the digests TLSA records compare
//! (RFC 6698 §2.1.2-§2.1.3). Also the two certificate checks both need: a host name against
//! the certificate's names (RFC 6125 §6.4, one leftmost `*` label), and "was this certificate
//! issued and signed by that one" for DANE-TA chains (RFC 7672 §3.1.2).
//!
//! The `:tls` report (net::tls) has a fuller summary for display; this module keeps only what
//! the policy checks compare, so that it stays small and pure.

use sha2::{Digest, Sha256, Sha512};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Why a certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the certificate at depth {depth} cannot be parsed: {why}")]
pub struct CertError {
    /// Its place in the chain (0 = the server's own).
    pub depth: usize,
    /// The parser's words.
    pub why: String,
}

/// One certificate of a chain, as the policy checks see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertFacts {
    /// Place in the chain as the server sent it: 0 is the server's own (the leaf).
    pub depth: usize,
    /// The subject, as text (`CN=mx.example.com, O=...`).
    pub subject: String,
    /// The issuer, as text.
    pub issuer: String,
    /// DNS names: the subjectAltName dNSNames, or, when there are none, the subject's common
    /// names (RFC 6125 §6.4.4 allows the CN only then). Lower case.
    pub names: Vec<String>,
    /// Start of validity, seconds since the Unix epoch.
    pub not_before: i64,
    /// End of validity, seconds since the Unix epoch.
    pub not_after: i64,
    /// The whole certificate, DER.
    #[serde(skip)]
    pub der: Vec<u8>,
    /// Its subject public key info, DER (what selector SPKI(1) names).
    #[serde(skip)]
    pub spki: Vec<u8>,
    /// SHA-256 of the certificate, hex.
    pub sha256: String,
    /// SHA-256 of the SPKI, hex.
    pub spki_sha256: String,
}

impl CertFacts {
    /// Read the certificate at `depth` from its DER.
    pub fn parse(der: &[u8], depth: usize) -> Result<CertFacts, CertError> {
        let err = |why: String| CertError { depth, why };
        let (rest, cert) = X509Certificate::from_der(der).map_err(|e| err(e.to_string()))?;
        if !rest.is_empty() {
            return Err(err(format!("{} bytes after the certificate", rest.len())));
        }
        let mut names = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for n in &san.value.general_names {
                if let GeneralName::DNSName(d) = n {
                    names.push(d.to_ascii_lowercase());
                }
            }
        }
        if names.is_empty() {
            names.extend(
                cert.subject()
                    .iter_common_name()
                    .filter_map(|cn| cn.as_str().ok())
                    .map(str::to_ascii_lowercase),
            );
        }
        let spki = cert.public_key().raw.to_vec();
        Ok(CertFacts {
            depth,
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            names,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            sha256: super::hex(&Sha256::digest(der)),
            spki_sha256: super::hex(&Sha256::digest(&spki)),
            der: der.to_vec(),
            spki,
        })
    }

    /// Read a chain, leaf first.
    pub fn parse_chain(chain: &[Vec<u8>]) -> Result<Vec<CertFacts>, CertError> {
        chain
            .iter()
            .enumerate()
            .map(|(depth, der)| CertFacts::parse(der, depth))
            .collect()
    }

    /// The first of `hosts` that one of the certificate's names covers.
    pub fn name_for<'a>(&self, hosts: &[&'a str]) -> Option<&'a str> {
        hosts
            .iter()
            .copied()
            .find(|h| self.names.iter().any(|n| name_matches(n, h)))
    }

    /// Why the certificate is not valid at `now` (seconds since the epoch), if it is not.
    pub fn validity_problem(&self, now: i64) -> Option<String> {
        if now < self.not_before {
            Some(format!("not valid before {}", utc(self.not_before)))
        } else if now > self.not_after {
            Some(format!("expired on {}", utc(self.not_after)))
        } else {
            None
        }
    }
}

/// The digest a TLSA matching type names (RFC 6698 §2.1.3): 0 the data itself, 1 SHA-256,
/// 2 SHA-512; `None` for a matching type without a meaning.
pub fn tlsa_digest(matching: u8, data: &[u8]) -> Option<Vec<u8>> {
    match matching {
        0 => Some(data.to_vec()),
        1 => Some(Sha256::digest(data).to_vec()),
        2 => Some(Sha512::digest(data).to_vec()),
        _ => None,
    }
}

/// Whether the certificate name `pattern` covers `host` (RFC 6125 §6.4.3 as RFC 7672 §3.2.3
/// and RFC 8461 §4.1 narrow it): case-insensitive; a `*` only as the whole leftmost label,
/// standing for exactly one label, and never for the whole registered part (`*.com`).
pub fn name_matches(pattern: &str, host: &str) -> bool {
    let pattern = super::normalize_name(pattern);
    let host = super::normalize_name(host);
    match pattern.strip_prefix("*.") {
        Some(parent) => {
            parent.contains('.')
                && host
                    .split_once('.')
                    .is_some_and(|(first, rest)| !first.is_empty() && rest == parent)
        }
        None => !pattern.contains('*') && pattern == host,
    }
}

/// Whether `child` was issued and signed by `parent`: the names chain and `parent`'s key
/// verifies `child`'s signature.
pub fn issued_by(child: &CertFacts, parent: &CertFacts) -> Result<(), String> {
    let (_, c) = X509Certificate::from_der(&child.der).map_err(|e| e.to_string())?;
    let (_, p) = X509Certificate::from_der(&parent.der).map_err(|e| e.to_string())?;
    if c.issuer() != p.subject() {
        return Err(format!(
            "depth {} was issued by \"{}\", not by depth {} (\"{}\")",
            child.depth, child.issuer, parent.depth, parent.subject
        ));
    }
    c.verify_signature(Some(p.public_key())).map_err(|e| {
        format!(
            "the signature on depth {} does not verify with the key of depth {}: {e}",
            child.depth, parent.depth
        )
    })
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(t: i64) -> String {
    // Days to civil date (Howard Hinnant's algorithm), so no clock crate is needed.
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_wildcards() {
        assert!(name_matches("mx.example.com", "MX.Example.com."));
        assert!(name_matches("*.example.com", "mx.example.com"));
        assert!(!name_matches("*.example.com", "a.mx.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(!name_matches("*.com", "example.com"));
        assert!(!name_matches("m*.example.com", "mx.example.com"));
        assert!(!name_matches("mx.example.com", "mx2.example.com"));
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_798_761_599), "2026-12-31 23:59:59 UTC");
    }

    #[test]
    fn digests_by_matching_type() {
        assert_eq!(tlsa_digest(0, b"abc").unwrap(), b"abc");
        assert_eq!(
            super::super::hex(&tlsa_digest(1, b"abc").unwrap()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(tlsa_digest(2, b"abc").unwrap().len(), 64);
        assert_eq!(tlsa_digest(3, b"abc"), None);
    }

    #[test]
    fn garbage_is_an_error_with_its_depth() {
        let e = CertFacts::parse(b"not a certificate", 2).unwrap_err();
        assert_eq!(e.depth, 2);
    }
}
