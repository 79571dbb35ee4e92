//! The DNSSEC status of one DNS answer (RFC 4033 §5, RFC 4035 §4.3), as smtpsh's validating
//! resolver found it. DANE rests on it: RFC 7672 §2.1 lets a sender use TLSA records only when
//! they are "secure"; "insecure" records are as good as none, and "bogus" ones mean the sender
//! must not deliver at all (§2.2).

use std::fmt;

/// What validation said about an answer (or about the proof that there is none).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Dnssec {
    /// A chain of signatures from a trust anchor down to the answer (RFC 4035 §4.3).
    Secure,
    /// Provably unsigned: the zone, or a parent of it, has no DS record.
    Insecure,
    /// Signed, but the signatures don't verify or the chain is broken.
    Bogus {
        /// Why, in words (an expired signature, a key that no DS matches, ...).
        reason: String,
    },
    /// Validation could not reach a verdict (no DNSSEC records came back at all).
    Indeterminate,
}

impl Dnssec {
    /// Secure: the only status DANE may act on.
    pub fn is_secure(&self) -> bool {
        matches!(self, Dnssec::Secure)
    }

    /// The weaker of two statuses, for an answer made of several RRsets (a CNAME chain):
    /// bogus < indeterminate < insecure < secure.
    pub fn weakest(self, other: Dnssec) -> Dnssec {
        fn rank(d: &Dnssec) -> u8 {
            match d {
                Dnssec::Bogus { .. } => 0,
                Dnssec::Indeterminate => 1,
                Dnssec::Insecure => 2,
                Dnssec::Secure => 3,
            }
        }
        if rank(&other) < rank(&self) {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for Dnssec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dnssec::Secure => f.write_str("secure (DNSSEC-validated)"),
            Dnssec::Insecure => f.write_str("insecure (the zone is not signed)"),
            Dnssec::Bogus { reason } => write!(f, "bogus (DNSSEC validation failed: {reason})"),
            Dnssec::Indeterminate => f.write_str("indeterminate (no DNSSEC records came back)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weakest_of_a_chain() {
        assert_eq!(Dnssec::Secure.weakest(Dnssec::Insecure), Dnssec::Insecure);
        assert_eq!(Dnssec::Insecure.weakest(Dnssec::Secure), Dnssec::Insecure);
        let bogus = Dnssec::Bogus { reason: "x".into() };
        assert_eq!(Dnssec::Secure.weakest(bogus.clone()), bogus);
        assert_eq!(
            Dnssec::Indeterminate.weakest(Dnssec::Insecure),
            Dnssec::Indeterminate
        );
    }

    #[test]
    fn serializes_with_a_status_tag() {
        let j = serde_json::to_string(&Dnssec::Bogus {
            reason: "expired".into(),
        })
        .unwrap();
        assert_eq!(j, r#"{"status":"bogus","reason":"expired"}"#);
        assert_eq!(
            serde_json::to_string(&Dnssec::Secure).unwrap(),
            r#"{"status":"secure"}"#
        );
    }
}
