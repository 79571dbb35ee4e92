//! DANE for SMTP: each TLSA record matched against the certificate chain a server sent, and
//! one verdict, in posttls-finger's terms and in plain words (RFC 6698 §2.1, RFC 7671,
//! RFC 7672 §3).
//!
//! SMTP's rules differ from the web's (RFC 7672):
//! - only DANE-TA(2) and DANE-EE(3) count; PKIX-TA(0) and PKIX-EE(1) records are "unusable"
//!   (§3.1.3), and so are unknown usages, selectors and matching types, and digests of the
//!   wrong length;
//! - DANE-EE(3) matches the server's own certificate (depth 0) and ignores its names and
//!   dates (§3.1.1);
//! - DANE-TA(2) matches a certificate the server sent above its own (the server must send
//!   the trust anchor, §3.1.2); the chain below it must be signed link by link, the server's
//!   certificate must carry the host's name (§3.2.3) and be within its dates;
//! - records that are not DNSSEC-validated are as good as none (§2.1.1); a bogus answer means
//!   a sender must not deliver (§2.2); validated records that are all unusable still oblige
//!   TLS, without authentication (§2.2).
//!
//! [`check`] takes what the lookup found and the chain; it does no I/O and takes the time as
//! an argument.

use std::fmt;

use super::cert::{CertFacts, issued_by, tlsa_digest};
use super::dnssec::Dnssec;
use super::tlsa::Tlsa;

/// What the TLSA lookup for `_PORT._tcp.HOST` found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum TlsaAnswer {
    /// Records, with the DNSSEC status of their RRset (bogus records are kept, to be shown).
    Records {
        /// The records, in the order the server gave them.
        records: Vec<Tlsa>,
        /// Their DNSSEC status.
        dnssec: Dnssec,
    },
    /// No TLSA records (NODATA or NXDOMAIN), with the status of that denial.
    NoRecords {
        /// The DNSSEC status of the denial.
        dnssec: Dnssec,
    },
    /// The lookup failed (timeout, SERVFAIL, refused).
    Failed {
        /// The resolver's words.
        why: String,
    },
}

/// How one TLSA record fared against the chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The record authenticates the chain.
    Matched {
        /// The depth of the certificate it matched (0 = the server's own).
        depth: usize,
        /// What a sender does not check here but a reader may want to know (DANE-EE ignores
        /// names and dates).
        notes: Vec<String>,
    },
    /// The record matches a certificate, but the chain fails a check DANE-TA needs.
    MatchedButRejected {
        /// The depth of the certificate it matched.
        depth: usize,
        /// Which check failed.
        why: String,
    },
    /// The record matches no certificate it may match.
    NoMatch {
        /// Which depths were compared.
        compared: String,
    },
    /// The record cannot be used for SMTP.
    Unusable {
        /// Why (RFC 7672 §2.2, §3.1.3).
        why: String,
    },
    /// Not compared: there is no certificate chain (no TLS, or the chain is unreadable).
    NotCompared,
}

/// One record and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecordCheck {
    /// The record.
    pub record: Tlsa,
    /// How it fared.
    pub outcome: Outcome,
}

/// The verdict on DANE for one host and port.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// A validated record authenticated the chain.
    Verified {
        /// `DANE-EE` or `DANE-TA`.
        usage: String,
        /// Which record (1-based, in the order shown).
        record: usize,
        /// The depth of the matched certificate.
        depth: usize,
    },
    /// Validated, usable records, and none authenticates the chain.
    NoMatch,
    /// Records are there but not DNSSEC-validated: DANE does not apply (RFC 7672 §2.1.1).
    NotValidated {
        /// Their status.
        dnssec: Dnssec,
    },
    /// The TLSA answer is bogus: a DANE sender defers delivery (RFC 7672 §2.2).
    Bogus {
        /// Why validation failed.
        reason: String,
    },
    /// The lookup failed: a DANE sender defers delivery (RFC 7672 §2.2).
    LookupFailed {
        /// The resolver's words.
        why: String,
    },
    /// Validated records, all unusable: TLS is required, but not authenticated (§2.2).
    NoUsableRecords,
    /// No TLSA records: DANE does not apply.
    NoRecords,
    /// Validated, usable records, and no certificate to check them against (no TLS yet).
    NoCertificate,
}

impl Verdict {
    /// What posttls-finger says in the same situation (Postfix's tls_dane.c and
    /// posttls-finger.c; its verdict word is the "... TLS connection established" line).
    pub fn posttls_finger(&self) -> String {
        match self {
            Verdict::Verified { usage, depth, .. } => {
                let what = if usage == "DANE-EE" {
                    "EE certificate"
                } else {
                    "TA certificate"
                };
                format!(
                    "\"Matched DANE {what} at depth {depth}\", then \"Verified TLS connection established\""
                )
            }
            Verdict::NoMatch => "\"Untrusted TLS connection established\" (a dane policy defers: \"Server certificate not verified\")".into(),
            Verdict::NotValidated { .. } | Verdict::NoRecords => {
                "\"no TLSA records found\": DANE does not apply".into()
            }
            Verdict::Bogus { .. } | Verdict::LookupFailed { .. } => {
                "\"TLSA lookup error for HOST:PORT\" (delivery deferred, 4.7.5)".into()
            }
            Verdict::NoUsableRecords => {
                "\"no usable TLSA records found\": encrypt, without authentication".into()
            }
            Verdict::NoCertificate => "(posttls-finger always has the chain)".into(),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Verified {
                usage,
                record,
                depth,
            } => write!(
                f,
                "verified by {usage} (record {record} matches the certificate at depth {depth})"
            ),
            Verdict::NoMatch => f.write_str(
                "no match: no usable TLSA record matches the server's certificates; a DANE sender will not deliver here",
            ),
            Verdict::NotValidated { dnssec } => write!(
                f,
                "records present but not DNSSEC-validated ({dnssec}), so DANE cannot apply"
            ),
            Verdict::Bogus { reason } => write!(
                f,
                "the TLSA records fail DNSSEC validation ({reason}); a DANE sender defers all mail for this host"
            ),
            Verdict::LookupFailed { why } => write!(
                f,
                "the TLSA lookup failed ({why}); a DANE sender defers mail until it succeeds"
            ),
            Verdict::NoUsableRecords => f.write_str(
                "no usable records: senders must use TLS, but cannot authenticate the server with DANE",
            ),
            Verdict::NoRecords => f.write_str("no TLSA records: DANE does not apply"),
            Verdict::NoCertificate => f.write_str(
                "validated records, but no certificate to match them against (no TLS on this connection)",
            ),
        }
    }
}

/// The whole DANE report for one host and port.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DaneReport {
    /// `_PORT._tcp.HOST`.
    pub tlsa_name: String,
    /// What the lookup found.
    pub answer: TlsaAnswer,
    /// The DNSSEC status of the host's address records, when looked up.
    pub address_dnssec: Option<Dnssec>,
    /// The chain as the server sent it, leaf first.
    pub chain: Vec<CertFacts>,
    /// Why (part of) the chain could not be read.
    pub chain_error: Option<String>,
    /// Each record and how it fared.
    pub checks: Vec<RecordCheck>,
    /// Records this chain would match (what to publish), when nothing matched.
    pub would_match: Vec<Tlsa>,
    /// Things to know that are not the verdict.
    pub notes: Vec<String>,
    /// The verdict.
    pub verdict: Verdict,
}

/// Match `answer` against `chain` (DER, leaf first) for a server known as `names` (the TLSA
/// base domain first: the host as connected; RFC 7672 §3.2.2), at `now` (Unix seconds).
pub fn check(
    tlsa_name: &str,
    answer: TlsaAnswer,
    address_dnssec: Option<Dnssec>,
    chain: &[Vec<u8>],
    names: &[&str],
    now: i64,
) -> DaneReport {
    let mut certs = Vec::new();
    let mut chain_error = None;
    for (depth, der) in chain.iter().enumerate() {
        match CertFacts::parse(der, depth) {
            Ok(c) => certs.push(c),
            Err(e) => {
                chain_error = Some(e.to_string());
                break;
            }
        }
    }
    let records = match &answer {
        TlsaAnswer::Records { records, .. } => records.clone(),
        _ => Vec::new(),
    };
    let checks: Vec<RecordCheck> = records
        .into_iter()
        .map(|record| {
            let outcome = if certs.is_empty() {
                unusable(&record).map_or(Outcome::NotCompared, |why| Outcome::Unusable { why })
            } else {
                match_record(&record, &certs, names, now)
            };
            RecordCheck { record, outcome }
        })
        .collect();

    let verdict = match &answer {
        TlsaAnswer::Failed { why } => Verdict::LookupFailed { why: why.clone() },
        TlsaAnswer::NoRecords { .. } => Verdict::NoRecords,
        TlsaAnswer::Records { dnssec, .. } => match dnssec {
            Dnssec::Bogus { reason } => Verdict::Bogus {
                reason: reason.clone(),
            },
            Dnssec::Insecure | Dnssec::Indeterminate => Verdict::NotValidated {
                dnssec: dnssec.clone(),
            },
            Dnssec::Secure => secure_verdict(&checks, certs.is_empty()),
        },
    };

    let mut notes = Vec::new();
    if let Some(d) = &address_dnssec
        && !d.is_secure()
        && matches!(answer, TlsaAnswer::Records { .. })
    {
        notes.push(format!(
            "the host's address records are {d}: RFC 7672 §2.2.2 has senders look for TLSA records only when they are secure, so senders will not use these"
        ));
    }
    let would_match = if matches!(verdict, Verdict::Verified { .. }) {
        Vec::new()
    } else {
        suggestions(&certs)
    };
    DaneReport {
        tlsa_name: tlsa_name.to_string(),
        answer,
        address_dnssec,
        chain: certs,
        chain_error,
        checks,
        would_match,
        notes,
        verdict,
    }
}

fn secure_verdict(checks: &[RecordCheck], no_chain: bool) -> Verdict {
    if checks
        .iter()
        .all(|c| matches!(c.outcome, Outcome::Unusable { .. }))
    {
        return Verdict::NoUsableRecords;
    }
    if no_chain {
        return Verdict::NoCertificate;
    }
    // RFC 7672 §3.1: any one matching usable record authenticates the server.
    for (i, c) in checks.iter().enumerate() {
        if let Outcome::Matched { depth, .. } = c.outcome {
            let usage = if c.record.usage == 3 {
                "DANE-EE"
            } else {
                "DANE-TA"
            };
            return Verdict::Verified {
                usage: usage.into(),
                record: i + 1,
                depth,
            };
        }
    }
    Verdict::NoMatch
}

/// Why `record` cannot be used for SMTP, if it cannot.
fn unusable(record: &Tlsa) -> Option<String> {
    match record.usage {
        0 | 1 => {
            return Some(format!(
                "{} is not used for SMTP (RFC 7672 §3.1.3)",
                record.usage_name()
            ));
        }
        2 | 3 => {}
        _ => return Some(format!("unknown certificate usage {}", record.usage)),
    }
    if record.selector > 1 {
        return Some(format!("unknown selector {}", record.selector));
    }
    let want = match record.matching_type {
        0 => None,
        1 => Some(32),
        2 => Some(64),
        m => return Some(format!("unknown matching type {m}")),
    };
    if let Some(len) = want
        && record.data.len() != len
    {
        return Some(format!(
            "a {} digest is {len} octets, this record has {}",
            record.matching_name(),
            record.data.len()
        ));
    }
    None
}

/// Whether `record`'s data names `cert`.
fn names_cert(record: &Tlsa, cert: &CertFacts) -> bool {
    let selected = if record.selector == 0 {
        &cert.der
    } else {
        &cert.spki
    };
    tlsa_digest(record.matching_type, selected).is_some_and(|d| d == record.data)
}

fn depths(from: usize, to: usize) -> String {
    if from == to {
        format!("depth {from}")
    } else {
        format!("depths {from}-{to}")
    }
}

fn match_record(record: &Tlsa, certs: &[CertFacts], names: &[&str], now: i64) -> Outcome {
    if let Some(why) = unusable(record) {
        // Say whether it would have matched: a PKIX-EE record for the right key is a common
        // slip (a "1 1 1" that should be "3 1 1").
        let hit = certs.iter().find(|c| names_cert(record, c));
        let why = match hit {
            Some(c) if record.usage <= 1 => {
                format!("{why}; it would match the certificate at depth {}", c.depth)
            }
            _ => why,
        };
        return Outcome::Unusable { why };
    }
    let leaf = &certs[0];
    if record.usage == 3 {
        if !names_cert(record, leaf) {
            return Outcome::NoMatch {
                compared: "depth 0, the server's own certificate".into(),
            };
        }
        // RFC 7672 §3.1.1: DANE-EE ignores names and dates; say so when it matters.
        let mut notes = Vec::new();
        if leaf.name_for(names).is_none() {
            notes.push(format!(
                "the certificate's names ({}) don't include {}; DANE-EE ignores names (RFC 7672 §3.1.1)",
                leaf.names.join(", "),
                names.first().copied().unwrap_or("the host")
            ));
        }
        if let Some(p) = leaf.validity_problem(now) {
            notes.push(format!(
                "the certificate is {p}; DANE-EE ignores dates (RFC 7672 §3.1.1)"
            ));
        }
        return Outcome::Matched { depth: 0, notes };
    }
    // DANE-TA(2): a certificate above the leaf.
    let Some(ta) = certs.iter().skip(1).find(|c| names_cert(record, c)) else {
        if names_cert(record, leaf) {
            return Outcome::MatchedButRejected {
                depth: 0,
                why: "a DANE-TA(2) record names the issuer of the server's certificate, and this one names the server's own: publish it as DANE-EE(3)".into(),
            };
        }
        let compared = if certs.len() > 1 {
            depths(1, certs.len() - 1)
        } else {
            "nothing: the server sent only its own certificate, and DANE-TA needs the trust anchor in the chain (RFC 7672 §3.1.2)".into()
        };
        return Outcome::NoMatch { compared };
    };
    for i in 0..ta.depth {
        if let Err(why) = issued_by(&certs[i], &certs[i + 1]) {
            return Outcome::MatchedButRejected {
                depth: ta.depth,
                why,
            };
        }
        if let Some(p) = certs[i].validity_problem(now) {
            return Outcome::MatchedButRejected {
                depth: ta.depth,
                why: format!("the certificate at depth {i} is {p}"),
            };
        }
    }
    if leaf.name_for(names).is_none() {
        return Outcome::MatchedButRejected {
            depth: ta.depth,
            why: format!(
                "the server's certificate names {}, not {} (RFC 7672 §3.2.3)",
                if leaf.names.is_empty() {
                    "nothing".to_string()
                } else {
                    leaf.names.join(", ")
                },
                names.join(" or ")
            ),
        };
    }
    Outcome::Matched {
        depth: ta.depth,
        notes: Vec::new(),
    }
}

/// The records that would match this chain: DANE-EE for the leaf's key and certificate,
/// DANE-TA for each certificate above it.
fn suggestions(certs: &[CertFacts]) -> Vec<Tlsa> {
    let mut out = Vec::new();
    let digest = |hex: &str| -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .filter_map(|i| hex.get(i..i + 2))
            .filter_map(|b| u8::from_str_radix(b, 16).ok())
            .collect()
    };
    for c in certs {
        let usage = if c.depth == 0 { 3 } else { 2 };
        for (selector, hex) in [(1, &c.spki_sha256), (0, &c.sha256)] {
            out.push(Tlsa {
                usage,
                selector,
                matching_type: 1,
                data: digest(hex),
            });
        }
    }
    out
}

impl fmt::Display for DaneReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.answer {
            TlsaAnswer::Records { records, dnssec } => writeln!(
                f,
                "TLSA {}: {} record{}, {dnssec}",
                self.tlsa_name,
                records.len(),
                if records.len() == 1 { "" } else { "s" }
            )?,
            TlsaAnswer::NoRecords { dnssec } => {
                writeln!(f, "TLSA {}: no records ({dnssec})", self.tlsa_name)?
            }
            TlsaAnswer::Failed { why } => {
                writeln!(f, "TLSA {}: lookup failed: {why}", self.tlsa_name)?
            }
        }
        for (i, c) in self.checks.iter().enumerate() {
            let outcome = match &c.outcome {
                Outcome::Matched { depth, notes } => {
                    let mut s = format!("matches the certificate at depth {depth}");
                    for n in notes {
                        s.push_str("; ");
                        s.push_str(n);
                    }
                    s
                }
                Outcome::MatchedButRejected { depth, why } => {
                    format!("matches the certificate at depth {depth}, but {why}")
                }
                Outcome::NoMatch { compared } => format!("no match (compared with {compared})"),
                Outcome::Unusable { why } => format!("unusable: {why}"),
                Outcome::NotCompared => "not compared (no certificate)".into(),
            };
            writeln!(
                f,
                "  [{}] {}  {}: {outcome}",
                i + 1,
                c.record.short(),
                c.record.names()
            )?;
        }
        if let Some(d) = &self.address_dnssec {
            writeln!(f, "host addresses: {d}")?;
        }
        if !self.chain.is_empty() {
            writeln!(f, "chain as the server sent it:")?;
            for c in &self.chain {
                writeln!(f, "  depth {}: {}", c.depth, c.subject)?;
                writeln!(f, "    names: {}", c.names.join(", "))?;
                writeln!(f, "    cert sha256: {}", c.sha256)?;
                writeln!(f, "    spki sha256: {}", c.spki_sha256)?;
            }
        }
        if let Some(e) = &self.chain_error {
            writeln!(f, "chain: {e}")?;
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        writeln!(f, "verdict: {}", self.verdict)?;
        writeln!(f, "  posttls-finger: {}", self.verdict.posttls_finger())?;
        if !self.would_match.is_empty()
            && matches!(
                self.verdict,
                Verdict::NoMatch | Verdict::NoRecords | Verdict::NotValidated { .. }
            )
        {
            writeln!(f, "records that would match this chain:")?;
            for t in &self.would_match {
                writeln!(f, "  {} {t}", self.tlsa_name)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use sha2::{Digest, Sha256, Sha512};

    const NOW: i64 = 1_800_000_000; // 2027-01-15

    struct Pki {
        leaf: Vec<u8>,
        leaf_spki: Vec<u8>,
        ca: Vec<u8>,
        ca_spki: Vec<u8>,
    }

    /// A CA and a leaf for `name` it issued.
    fn pki(name: &str) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf_params = CertificateParams::new(vec![name.to_string()]).unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
        let spki = |der: &[u8]| CertFacts::parse(der, 0).unwrap().spki;
        Pki {
            leaf_spki: spki(leaf.der()),
            ca_spki: spki(ca.der()),
            leaf: leaf.der().to_vec(),
            ca: ca.der().to_vec(),
        }
    }

    fn rec(u: u8, s: u8, m: u8, data: Vec<u8>) -> Tlsa {
        Tlsa {
            usage: u,
            selector: s,
            matching_type: m,
            data,
        }
    }

    fn secure(records: Vec<Tlsa>) -> TlsaAnswer {
        TlsaAnswer::Records {
            records,
            dnssec: Dnssec::Secure,
        }
    }

    fn run(answer: TlsaAnswer, chain: &[Vec<u8>]) -> DaneReport {
        check(
            "_25._tcp.mx.test",
            answer,
            Some(Dnssec::Secure),
            chain,
            &["mx.test"],
            NOW,
        )
    }

    #[test]
    fn dane_ee_spki_sha256_verifies() {
        let p = pki("mx.test");
        let r = run(
            secure(vec![rec(3, 1, 1, Sha256::digest(&p.leaf_spki).to_vec())]),
            &[p.leaf.clone(), p.ca.clone()],
        );
        assert_eq!(
            r.verdict,
            Verdict::Verified {
                usage: "DANE-EE".into(),
                record: 1,
                depth: 0
            }
        );
        assert!(r.would_match.is_empty());
    }

    #[test]
    fn every_selector_and_matching_type() {
        let p = pki("mx.test");
        for (s, m, data) in [
            (0, 0, p.leaf.clone()),
            (0, 1, Sha256::digest(&p.leaf).to_vec()),
            (0, 2, Sha512::digest(&p.leaf).to_vec()),
            (1, 0, p.leaf_spki.clone()),
            (1, 2, Sha512::digest(&p.leaf_spki).to_vec()),
        ] {
            let r = run(
                secure(vec![rec(3, s, m, data)]),
                std::slice::from_ref(&p.leaf),
            );
            assert!(
                matches!(r.verdict, Verdict::Verified { .. }),
                "3 {s} {m}: {r}"
            );
        }
    }

    #[test]
    fn dane_ee_ignores_names_and_dates_but_says_so() {
        let p = pki("other.test");
        let r = check(
            "_25._tcp.mx.test",
            secure(vec![rec(3, 1, 1, Sha256::digest(&p.leaf_spki).to_vec())]),
            None,
            std::slice::from_ref(&p.leaf),
            &["mx.test"],
            70_000_000_000, // after rcgen's default end of validity, 4096
        );
        assert!(matches!(r.verdict, Verdict::Verified { .. }));
        let Outcome::Matched { notes, .. } = &r.checks[0].outcome else {
            panic!("{r}")
        };
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("(other.test) don't include mx.test"));
        assert!(notes[1].starts_with("the certificate is expired on "));
    }

    #[test]
    fn dane_ta_verifies_the_chain_and_the_name() {
        let p = pki("mx.test");
        let ta = rec(2, 0, 1, Sha256::digest(&p.ca).to_vec());
        let r = run(secure(vec![ta.clone()]), &[p.leaf.clone(), p.ca.clone()]);
        assert_eq!(
            r.verdict,
            Verdict::Verified {
                usage: "DANE-TA".into(),
                record: 1,
                depth: 1
            },
            "{r}"
        );
        // The same chain for a host the certificate doesn't name.
        let r = check(
            "_25._tcp.mx2.test",
            secure(vec![ta.clone()]),
            None,
            &[p.leaf.clone(), p.ca.clone()],
            &["mx2.test"],
            NOW,
        );
        assert_eq!(r.verdict, Verdict::NoMatch);
        assert!(
            matches!(&r.checks[0].outcome, Outcome::MatchedButRejected { depth: 1, why } if why.contains("names mx.test, not mx2.test")),
            "{r}"
        );
        // Without the trust anchor in the chain, nothing to match.
        let r = run(secure(vec![ta]), std::slice::from_ref(&p.leaf));
        assert_eq!(r.verdict, Verdict::NoMatch);
        assert!(r.to_string().contains("DANE-TA needs the trust anchor"));
    }

    #[test]
    fn dane_ta_refuses_a_chain_that_is_not_signed_by_it() {
        let p = pki("mx.test");
        let q = pki("mx.test");
        // q's CA in the chain above p's leaf: the record matches q's CA, the link is wrong.
        let r = run(
            secure(vec![rec(2, 1, 1, Sha256::digest(&q.ca_spki).to_vec())]),
            &[p.leaf.clone(), q.ca.clone()],
        );
        assert_eq!(r.verdict, Verdict::NoMatch);
        assert!(
            matches!(&r.checks[0].outcome, Outcome::MatchedButRejected { why, .. } if why.contains("does not verify")),
            "{r}"
        );
    }

    #[test]
    fn a_mismatch_shows_what_would_match() {
        let p = pki("mx.test");
        let r = run(
            secure(vec![rec(3, 1, 1, vec![0xaa; 32])]),
            std::slice::from_ref(&p.leaf),
        );
        assert_eq!(r.verdict, Verdict::NoMatch);
        let text = r.to_string();
        let want = format!(
            "  _25._tcp.mx.test 3 1 1 {}",
            super::super::hex(&Sha256::digest(&p.leaf_spki))
        );
        assert!(text.contains(&want), "{text}");
        assert!(text.contains("posttls-finger: \"Untrusted TLS connection established\""));
    }

    #[test]
    fn pkix_usages_are_unusable_for_smtp_and_the_slip_is_named() {
        let p = pki("mx.test");
        let r = run(
            secure(vec![rec(1, 1, 1, Sha256::digest(&p.leaf_spki).to_vec())]),
            std::slice::from_ref(&p.leaf),
        );
        assert_eq!(r.verdict, Verdict::NoUsableRecords);
        assert_eq!(
            r.checks[0].outcome,
            Outcome::Unusable {
                why: "PKIX-EE(1) is not used for SMTP (RFC 7672 §3.1.3); it would match the certificate at depth 0".into()
            }
        );
    }

    #[test]
    fn a_digest_of_the_wrong_length_is_unusable() {
        let p = pki("mx.test");
        let r = run(
            secure(vec![rec(3, 1, 1, vec![1; 20])]),
            std::slice::from_ref(&p.leaf),
        );
        assert_eq!(r.verdict, Verdict::NoUsableRecords);
        assert!(
            r.to_string()
                .contains("a SHA2-256(1) digest is 32 octets, this record has 20")
        );
    }

    #[test]
    fn insecure_bogus_failed_and_absent_answers() {
        let p = pki("mx.test");
        let good = rec(3, 1, 1, Sha256::digest(&p.leaf_spki).to_vec());
        let r = run(
            TlsaAnswer::Records {
                records: vec![good.clone()],
                dnssec: Dnssec::Insecure,
            },
            std::slice::from_ref(&p.leaf),
        );
        assert_eq!(
            r.verdict,
            Verdict::NotValidated {
                dnssec: Dnssec::Insecure
            }
        );
        // The records are still matched, for information.
        assert!(matches!(r.checks[0].outcome, Outcome::Matched { .. }));
        let r = run(
            TlsaAnswer::Records {
                records: vec![good],
                dnssec: Dnssec::Bogus {
                    reason: "the signature expired".into(),
                },
            },
            std::slice::from_ref(&p.leaf),
        );
        assert_eq!(
            r.verdict,
            Verdict::Bogus {
                reason: "the signature expired".into()
            }
        );
        let r = run(
            TlsaAnswer::Failed {
                why: "SERVFAIL".into(),
            },
            std::slice::from_ref(&p.leaf),
        );
        assert!(matches!(r.verdict, Verdict::LookupFailed { .. }));
        let r = run(
            TlsaAnswer::NoRecords {
                dnssec: Dnssec::Secure,
            },
            std::slice::from_ref(&p.leaf),
        );
        assert_eq!(r.verdict, Verdict::NoRecords);
    }

    #[test]
    fn validated_records_without_a_chain() {
        let r = run(secure(vec![rec(3, 1, 1, vec![0; 32])]), &[]);
        assert_eq!(r.verdict, Verdict::NoCertificate);
        assert_eq!(r.checks[0].outcome, Outcome::NotCompared);
    }

    #[test]
    fn insecure_host_addresses_are_noted() {
        let p = pki("mx.test");
        let r = check(
            "_25._tcp.mx.test",
            secure(vec![rec(3, 1, 1, Sha256::digest(&p.leaf_spki).to_vec())]),
            Some(Dnssec::Insecure),
            std::slice::from_ref(&p.leaf),
            &["mx.test"],
            NOW,
        );
        assert!(r.notes[0].contains("RFC 7672 §2.2.2"), "{r}");
    }

    #[test]
    fn json_names_the_verdict() {
        let r = run(
            TlsaAnswer::NoRecords {
                dnssec: Dnssec::Insecure,
            },
            &[],
        );
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["verdict"]["verdict"], "no_records");
        assert_eq!(j["answer"]["result"], "no_records");
        assert_eq!(j["answer"]["dnssec"]["status"], "insecure");
    }
}
