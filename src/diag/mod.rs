//! Diagnosis of what a mail domain publishes about its servers' TLS, checked against what a
//! connection saw: DANE (TLSA records, RFC 6698 and RFC 7672), MTA-STS (RFC 8461) and TLS-RPT
//! (RFC 8460). Pure: parsers, matching and verdicts over values, no sockets and no clock
//! (the time is an argument), so every rule is unit-tested and every parser of outside bytes
//! can be fuzzed.
//!
//! Why a room of its own: neither `smtp` (the protocol of one session) nor `net` (bytes on
//! the wire) owns these rules, and the shell's `:dane` and `:mta-sts` and `--audit` share
//! them. The lookups and the policy fetch that feed them live in `net` (`net::dns`,
//! `net::fetch`, `net::policy`); the reports they make are here, each with a plain-text
//! `Display` for the shell and `serde::Serialize` for `--json`.
//!
//! | file | owns |
//! |---|---|
//! | `dnssec` | an answer's DNSSEC status: secure, insecure, bogus (with why), indeterminate |
//! | `cert` | the facts DANE and MTA-STS need from a certificate: names, keys, digests, dates |
//! | `tlsa` | the TLSA record: wire form, presentation form, the names of its fields |
//! | `dane` | matching TLSA records against a chain, and the verdict in posttls-finger's terms |
//! | `mta_sts` | the `_mta-sts` record, the policy text, MX patterns, and the report |
//! | `tlsrpt` | the `_smtp._tls` record and its report |
//! | `http` | the HTTP/1.1 response head and chunked bodies of the policy fetch |

pub mod cert;
pub mod dane;
pub mod dnssec;
pub mod http;
pub mod mta_sts;
pub mod tlsa;
pub mod tlsrpt;

/// Lower-case hex of `bytes`, the way TLSA records and fingerprints are compared.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Serialize bytes as lower-case hex (for `#[serde(serialize_with)]`).
pub(crate) fn serialize_hex<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(bytes))
}

/// A DNS name as compared: ASCII lower case, without the final dot.
pub fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}
