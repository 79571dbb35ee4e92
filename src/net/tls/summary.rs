//! What a server certificate says, read with x509-parser from the DER native-tls hands over:
//! the summary lines (subject, names, issuer, validity, SHA-256), and, under `--insecure`,
//! why it would not have verified — worked out from the certificate itself, since native-tls
//! reports no verdict once verification is off.
//!
//! The checks follow what every platform verifier does with a leaf: RFC 5280 §4.1.2.5 for
//! the dates, RFC 6125 §6.4 for the name (subjectAltName, the common name only when there is
//! no DNS name, a wildcard only as the whole leftmost label), and a self-issued certificate
//! is trusted only when `--cafile` names it. Whether a CA-issued certificate chains to a root
//! the platform trusts is the one thing the leaf can't tell; [`Findings::unchecked`] says so.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{self, Oid};
use x509_parser::prelude::FromDer;
use x509_parser::time::ASN1Time;
use x509_parser::x509::X509Name;

use crate::smtp::escape::escape_str;

/// The summary fields of one certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Described {
    /// `CN=localhost, O=…`.
    pub subject: String,
    /// DNS names and IP addresses from subjectAltName, in the certificate's order.
    pub names: Vec<String>,
    /// The issuer, as `subject`.
    pub issuer: String,
    /// notBefore, as OpenSSL prints it: `Dec  2 02:41:18 2026 GMT`.
    pub not_before: String,
    /// notAfter, likewise.
    pub not_after: String,
    /// SHA-256 of the DER, colon-separated upper-case hex.
    pub sha256: String,
}

/// Describe the DER certificate `der`; `None` if it does not parse.
pub fn describe(der: &[u8]) -> Option<Described> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(Described {
        subject: name_string(cert.subject()),
        names: san_names(&cert),
        issuer: name_string(cert.issuer()),
        not_before: openssl_time(&cert.validity().not_before),
        not_after: openssl_time(&cert.validity().not_after),
        sha256: colon_hex(&Sha256::digest(der)),
    })
}

/// The subject of the DER certificate `der`, as the summary shows it.
pub fn subject_of(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(name_string(cert.subject()))
}

/// `AB:CD:…`, upper-case: the form `openssl x509 -fingerprint` prints, and the practice
/// server's banner.
pub fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// What the checks found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Why verification would fail, joined: `None` when nothing was found.
    pub problem: Option<String>,
    /// What could not be checked from the certificate alone, when nothing else was wrong.
    pub unchecked: Option<String>,
}

/// Check the DER certificate `der` for `name` at `now`, as a verifier would have, trusting
/// the DER certificates in `anchors` (from `--cafile` and the practice server) and, for
/// what they don't decide, the platform's roots, which only native-tls can see.
pub fn check(der: &[u8], name: &str, now: SystemTime, anchors: &[Vec<u8>]) -> Findings {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Findings {
            problem: Some("the certificate could not be parsed".into()),
            unchecked: None,
        };
    };
    let mut problems = Vec::new();
    let now = now
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let validity = cert.validity();
    if now < validity.not_before.timestamp() {
        problems.push(format!(
            "certificate is not yet valid (from {})",
            openssl_time(&validity.not_before)
        ));
    } else if now > validity.not_after.timestamp() {
        problems.push(format!(
            "certificate has expired (on {})",
            openssl_time(&validity.not_after)
        ));
    }
    if !matches_name(&cert, name) {
        problems.push(format!(
            "name mismatch (the certificate is for {})",
            names_for_humans(&cert)
        ));
    }
    let anchored = anchors.iter().any(|a| a == der);
    let issued_by_anchor = anchors.iter().any(|a| {
        X509Certificate::from_der(a).is_ok_and(|(_, ca)| {
            ca.subject().as_raw() == cert.issuer().as_raw() && ca.subject() != cert.subject()
        })
    });
    let mut unchecked = None;
    if !anchored && !issued_by_anchor {
        if cert.subject().as_raw() == cert.issuer().as_raw() {
            problems.push("self-signed certificate".into());
        } else {
            unchecked = Some(format!(
                "whether the platform trusts its issuer, {}, was not checked",
                name_string(cert.issuer())
            ));
        }
    }
    if problems.is_empty() {
        Findings {
            problem: None,
            unchecked,
        }
    } else {
        Findings {
            problem: Some(problems.join(", ")),
            unchecked: None,
        }
    }
}

/// The subjectAltName entries, or none.
fn san<'a>(cert: &'a X509Certificate<'a>) -> Vec<&'a GeneralName<'a>> {
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(s) => Some(s.general_names.iter().collect()),
            _ => None,
        })
        .unwrap_or_default()
}

fn ip_of(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

/// RFC 6125 §6.4 (and RFC 2818 §3.1 for IP addresses): the name verifies against the
/// subjectAltName; the subject CN counts only when there is no DNS name at all.
fn matches_name(cert: &X509Certificate<'_>, name: &str) -> bool {
    let alt = san(cert);
    if let Ok(ip) = name.trim_matches(['[', ']']).parse::<IpAddr>() {
        return alt
            .iter()
            .any(|n| matches!(n, GeneralName::IPAddress(b) if ip_of(b) == Some(ip)));
    }
    let dns: Vec<&str> = alt
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(*d),
            _ => None,
        })
        .collect();
    if dns.is_empty() {
        return cert
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .any(|cn| dns_matches(cn, name));
    }
    dns.iter().any(|d| dns_matches(d, name))
}

/// A DNS name against a pattern: equal ignoring case and a final dot, or `*.rest` where
/// the `*` stands for exactly one whole label.
fn dns_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(rest) => name
            .split_once('.')
            .is_some_and(|(label, tail)| !label.is_empty() && tail == rest && rest.contains('.')),
        None => pattern == name,
    }
}

/// The DNS names (escaped) and IP addresses of subjectAltName, in the certificate's order.
pub(super) fn san_names(cert: &X509Certificate<'_>) -> Vec<String> {
    san(cert)
        .into_iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(escape_str(d)),
            GeneralName::IPAddress(b) => ip_of(b).map(|ip| ip.to_string()),
            _ => None,
        })
        .collect()
}

/// The names a certificate is for, for a message.
fn names_for_humans(cert: &X509Certificate<'_>) -> String {
    let mut names = san_names(cert);
    if names.is_empty() {
        names.extend(
            cert.subject()
                .iter_common_name()
                .filter_map(|cn| cn.as_str().ok())
                .map(escape_str),
        );
    }
    if names.is_empty() {
        "no name at all".into()
    } else {
        names.join(", ")
    }
}

/// `CN=localhost, O=smtpsh practice server`: each attribute in the certificate's order,
/// with OpenSSL's short names for the common ones and control characters escaped.
pub(super) fn name_string(name: &X509Name<'_>) -> String {
    name.iter_attributes()
        .map(|a| {
            let value = a
                .as_str()
                .map(escape_str)
                .unwrap_or_else(|_| "?".to_string());
            format!("{}={value}", short_name(a.attr_type()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn short_name(oid: &Oid<'_>) -> String {
    let known = [
        (oid_registry::OID_X509_COMMON_NAME, "CN"),
        (oid_registry::OID_X509_ORGANIZATION_NAME, "O"),
        (oid_registry::OID_X509_ORGANIZATIONAL_UNIT, "OU"),
        (oid_registry::OID_X509_COUNTRY_NAME, "C"),
        (oid_registry::OID_X509_LOCALITY_NAME, "L"),
        (oid_registry::OID_X509_STATE_OR_PROVINCE_NAME, "ST"),
        (oid_registry::OID_DOMAIN_COMPONENT, "DC"),
        (oid_registry::OID_PKCS9_EMAIL_ADDRESS, "emailAddress"),
        (oid_registry::OID_X509_SERIALNUMBER, "serialNumber"),
    ];
    known
        .iter()
        .find(|(o, _)| o == oid)
        .map(|(_, n)| n.to_string())
        .or_else(|| {
            x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry())
                .ok()
                .map(str::to_string)
        })
        .unwrap_or_else(|| oid.to_id_string())
}

/// `Dec  2 02:41:18 2026 GMT`, the form OpenSSL prints (`ASN1_TIME_print`), which the
/// transcript has always shown.
pub(super) fn openssl_time(t: &ASN1Time) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let d = t.to_datetime();
    format!(
        "{} {:>2} {:02}:{:02}:{:02} {} GMT",
        MONTHS[usize::from(u8::from(d.month())) - 1],
        d.day(),
        d.hour(),
        d.minute(),
        d.second(),
        d.year()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::practice::cert::{CertSpec, KeyKind, Purpose, self_signed};
    use std::time::Duration;

    const DAY: Duration = Duration::from_secs(86_400);

    fn cert(dns: &[&str], ips: &[&str], from: SystemTime, to: SystemTime) -> Vec<u8> {
        let spec = CertSpec {
            common_name: "localhost".into(),
            organization: Some("Test, Inc.".into()),
            dns_names: dns.iter().map(|s| s.to_string()).collect(),
            ips: ips.iter().map(|s| s.parse().unwrap()).collect(),
            not_before: from,
            not_after: to,
            key: KeyKind::P256,
            purpose: Purpose::Any,
        };
        self_signed(&spec).unwrap().der
    }

    fn now() -> SystemTime {
        SystemTime::now()
    }

    #[test]
    fn describes_like_openssl() {
        let from = UNIX_EPOCH + Duration::from_secs(1_796_179_278); // 2026-12-02 02:41:18
        let der = cert(
            &["localhost", "mx.test.local"],
            &["127.0.0.1", "::1"],
            from,
            from + 3650 * DAY,
        );
        let d = describe(&der).unwrap();
        assert_eq!(d.subject, "CN=localhost, O=Test, Inc.");
        assert_eq!(d.issuer, d.subject);
        assert_eq!(d.names, ["localhost", "mx.test.local", "127.0.0.1", "::1"]);
        assert_eq!(d.not_before, "Dec  2 02:41:18 2026 GMT");
        assert_eq!(d.not_after, "Nov 29 02:41:18 2036 GMT");
        assert_eq!(d.sha256.len(), 32 * 3 - 1);
        assert_eq!(d.sha256, colon_hex(&Sha256::digest(&der)));
    }

    #[test]
    fn a_trusted_certificate_for_its_name_has_no_findings() {
        let der = cert(&["localhost"], &["127.0.0.1"], now() - DAY, now() + DAY);
        let anchors = [der.clone()];
        for name in ["localhost", "LOCALHOST.", "127.0.0.1"] {
            assert_eq!(check(&der, name, now(), &anchors), Findings::default());
        }
    }

    // The reasons `--insecure` shows, each from the certificate alone.
    #[test]
    fn reasons_it_would_have_failed() {
        let ok = cert(&["localhost"], &["127.0.0.1"], now() - DAY, now() + DAY);
        let f = check(&ok, "127.0.0.1", now(), &[]);
        assert_eq!(f.problem.as_deref(), Some("self-signed certificate"));
        let f = check(&ok, "wrong.example", now(), std::slice::from_ref(&ok));
        assert_eq!(
            f.problem.as_deref(),
            Some("name mismatch (the certificate is for localhost, 127.0.0.1)")
        );
        let old = cert(&["localhost"], &[], now() - 3 * DAY, now() - DAY);
        let f = check(&old, "localhost", now(), std::slice::from_ref(&old));
        assert!(
            f.problem
                .as_deref()
                .unwrap()
                .starts_with("certificate has expired (on "),
            "{f:?}"
        );
        let early = cert(&["localhost"], &[], now() + DAY, now() + 3 * DAY);
        let f = check(&early, "::1", now(), &[]);
        let p = f.problem.unwrap();
        assert!(p.starts_with("certificate is not yet valid (from "), "{p}");
        assert!(
            p.contains("), name mismatch (the certificate is for localhost), "),
            "{p}"
        );
        assert!(p.ends_with(", self-signed certificate"), "{p}");
    }

    // A CA-issued certificate whose issuer is not in --cafile: the leaf can't say whether
    // the platform trusts that issuer, and the summary says so instead of guessing.
    #[test]
    fn a_ca_issued_certificate_leaves_the_issuer_unchecked() {
        let mut ca = CertSpec::new("Some CA");
        ca.key = KeyKind::P256;
        let ca = self_signed(&ca).unwrap();
        let mut leaf = CertSpec::new("leaf.example");
        leaf.dns_names = vec!["leaf.example".into()];
        leaf.key = KeyKind::P256;
        let leaf = ca.issue(&leaf).unwrap();
        let f = check(&leaf.der, "leaf.example", now(), &[]);
        assert_eq!(f.problem, None);
        assert_eq!(
            f.unchecked.as_deref(),
            Some("whether the platform trusts its issuer, CN=Some CA, was not checked")
        );
        // With its CA from --cafile there is nothing left to check.
        assert_eq!(
            check(&leaf.der, "leaf.example", now(), &[ca.der]),
            Findings::default()
        );
    }

    #[test]
    fn wildcards_are_one_whole_leftmost_label() {
        assert!(dns_matches("*.example.com", "mx.example.com"));
        assert!(dns_matches("*.example.com", "MX.Example.com."));
        assert!(!dns_matches("*.example.com", "example.com"));
        assert!(!dns_matches("*.example.com", "a.b.example.com"));
        assert!(!dns_matches("*.com", "example.com"));
        assert!(!dns_matches("mx*.example.com", "mx1.example.com"));
    }

    // No DNS name in subjectAltName: the common name is the name (RFC 6125 §6.4.4).
    #[test]
    fn the_common_name_counts_only_without_dns_names() {
        let ip_only = cert(&[], &["127.0.0.1"], now() - DAY, now() + DAY);
        let anchors = [ip_only.clone()];
        assert_eq!(check(&ip_only, "localhost", now(), &anchors).problem, None);
        let with_dns = cert(&["other.example"], &[], now() - DAY, now() + DAY);
        let anchors = [with_dns.clone()];
        assert!(
            check(&with_dns, "localhost", now(), &anchors)
                .problem
                .is_some()
        );
    }

    #[test]
    fn unparsable_is_a_problem_not_a_panic() {
        let f = check(b"not DER", "x", now(), &[]);
        assert!(f.problem.is_some());
        assert!(describe(b"\x30\x03\x02\x01").is_none());
    }
}
