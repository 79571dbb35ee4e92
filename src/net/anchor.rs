//! A private DNSSEC trust anchor (`--trust-anchor FILE`, for a lab zone or a test world): a
//! file of DS or DNSKEY records in zone-file syntax, as `dnssec-dsfromkey`, `ldns-key2ds`
//! or a zone's `.key` file write them; and its priming (RFC 4035 §5.2, RFC 7958's idea for
//! the root): the zone's DNSKEY set is fetched, a key the anchor names must have signed it,
//! and then every key of that set is trusted for the zone.
//!
//! Why priming here rather than in hickory: hickory 0.26 reads DNSKEY anchors only, and for
//! a zone other than the root it trusts a DNSKEY set only when every key in it is an anchor;
//! otherwise it asks the parent for a DS record, which a private zone has nowhere. Priming
//! hands it the whole validated key set, which is what a validator does with an anchor.

use hickory_resolver::proto::dnssec::rdata::{DNSKEY, DNSSECRData, RRSIG};
use hickory_resolver::proto::dnssec::{DigestType, PublicKey, PublicKeyBuf, Verifier};
use hickory_resolver::proto::rr::{DNSClass, Name, RData, Record};

use base64::Engine as _;

/// One anchor from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// The zone it is for, as written (with or without the final dot).
    pub zone: String,
    /// What it names.
    pub key: AnchorKey,
}

/// What an anchor names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnchorKey {
    /// A DS record: key tag, algorithm, digest type, digest.
    Ds {
        /// The key tag.
        key_tag: u16,
        /// The DNSSEC algorithm number.
        algorithm: u8,
        /// 1 SHA-1, 2 SHA-256, 4 SHA-384.
        digest_type: u8,
        /// The digest.
        digest: Vec<u8>,
    },
    /// A DNSKEY record: flags, algorithm, public key.
    Dnskey {
        /// The flags (256 zone key, 257 with SEP).
        flags: u16,
        /// The DNSSEC algorithm number.
        algorithm: u8,
        /// The public key.
        public_key: Vec<u8>,
    },
}

/// Read a trust anchor file: lines `NAME [TTL] [CLASS] DS|DNSKEY RDATA`; `;` starts a comment;
/// other record types are errors. Parentheses spanning lines (as in zone files) are joined.
pub fn parse(text: &str) -> Result<Vec<Anchor>, String> {
    // Strip comments, then join parenthesised continuations into one logical line.
    let mut logical = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split(';').next().unwrap_or("");
        for c in line.chars() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| format!("line {}: unbalanced \")\"", n + 1))?
                }
                _ => current.push(c),
            }
        }
        current.push(' ');
        if depth == 0 {
            if !current.trim().is_empty() {
                logical.push((n + 1, std::mem::take(&mut current)));
            }
            current.clear();
        }
    }
    if depth != 0 {
        return Err("unbalanced \"(\" at the end of the file".into());
    }
    let mut out = Vec::new();
    for (n, line) in logical {
        let words: Vec<&str> = line.split_whitespace().collect();
        let err = |why: &str| format!("line {n}: {why}");
        let zone = *words.first().ok_or_else(|| err("empty"))?;
        let mut i = 1;
        // Optional TTL and class, in either order.
        while let Some(w) = words.get(i) {
            if w.bytes().all(|b| b.is_ascii_digit()) || w.eq_ignore_ascii_case("IN") {
                i += 1;
            } else {
                break;
            }
        }
        let rtype = words.get(i).ok_or_else(|| err("no record type"))?;
        let rdata = &words[i + 1..];
        let num = |j: usize, what: &str| -> Result<u64, String> {
            rdata
                .get(j)
                .and_then(|w| w.parse().ok())
                .ok_or_else(|| err(&format!("bad {what}")))
        };
        let key = if rtype.eq_ignore_ascii_case("DS") {
            let hex: String = rdata.get(3..).unwrap_or(&[]).concat();
            let digest = (0..hex.len())
                .step_by(2)
                .map(|k| {
                    hex.get(k..k + 2)
                        .and_then(|b| u8::from_str_radix(b, 16).ok())
                        .ok_or_else(|| err("the DS digest is not hex"))
                })
                .collect::<Result<Vec<u8>, String>>()?;
            if digest.is_empty() {
                return Err(err("the DS record has no digest"));
            }
            AnchorKey::Ds {
                key_tag: u16::try_from(num(0, "key tag")?).map_err(|_| err("bad key tag"))?,
                algorithm: u8::try_from(num(1, "algorithm")?).map_err(|_| err("bad algorithm"))?,
                digest_type: u8::try_from(num(2, "digest type")?)
                    .map_err(|_| err("bad digest type"))?,
                digest,
            }
        } else if rtype.eq_ignore_ascii_case("DNSKEY") {
            let b64: String = rdata.get(3..).unwrap_or(&[]).concat();
            let public_key = base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|_| err("the DNSKEY key is not base64"))?;
            if num(1, "protocol")? != 3 {
                return Err(err("a DNSKEY's protocol field is 3 (RFC 4034 §2.1.2)"));
            }
            AnchorKey::Dnskey {
                flags: u16::try_from(num(0, "flags")?).map_err(|_| err("bad flags"))?,
                algorithm: u8::try_from(num(2, "algorithm")?).map_err(|_| err("bad algorithm"))?,
                public_key,
            }
        } else {
            return Err(err(&format!(
                "a trust anchor is a DS or DNSKEY record, not {rtype}"
            )));
        };
        out.push(Anchor {
            zone: zone.to_string(),
            key,
        });
    }
    if out.is_empty() {
        return Err("no DS or DNSKEY record in the file".into());
    }
    Ok(out)
}

/// Whether `anchor` names `key` (owned by `zone`).
pub fn names_key(anchor: &AnchorKey, zone: &Name, key: &DNSKEY) -> bool {
    match anchor {
        AnchorKey::Dnskey {
            algorithm,
            public_key,
            ..
        } => {
            u8::from(key.public_key().algorithm()) == *algorithm
                && key.public_key().public_bytes() == public_key.as_slice()
        }
        AnchorKey::Ds {
            key_tag,
            algorithm,
            digest_type,
            digest,
        } => {
            u8::from(key.public_key().algorithm()) == *algorithm
                && key.calculate_key_tag().ok() == Some(*key_tag)
                && key
                    .to_digest(zone, DigestType::from(*digest_type))
                    .is_ok_and(|d| d.as_ref() == digest.as_slice())
        }
    }
}

/// Prime `zone`'s anchors against its DNSKEY RRset and signatures (as a DO+CD query returned
/// them): the public keys to trust for the zone, or why none can be.
pub fn prime(
    zone: &Name,
    anchors: &[&AnchorKey],
    answers: &[Record],
    now: u32,
) -> Result<Vec<PublicKeyBuf>, String> {
    let keys: Vec<&Record> = answers
        .iter()
        .filter(|r| &r.name == zone && matches!(r.data, RData::DNSSEC(DNSSECRData::DNSKEY(_))))
        .collect();
    if keys.is_empty() {
        return Err(format!("{zone} has no DNSKEY records"));
    }
    let dnskey = |r: &Record| match &r.data {
        RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k.clone()),
        _ => None,
    };
    let anchored: Vec<DNSKEY> = keys
        .iter()
        .filter_map(|r| dnskey(r))
        .filter(|k| anchors.iter().any(|a| names_key(a, zone, k)))
        .collect();
    if anchored.is_empty() {
        return Err(format!(
            "none of {zone}'s DNSKEY records is the one the trust anchor names"
        ));
    }
    let sigs: Vec<&RRSIG> = answers
        .iter()
        .filter(|r| &r.name == zone)
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(s))
                if s.input().type_covered == hickory_resolver::proto::rr::RecordType::DNSKEY =>
            {
                Some(s)
            }
            _ => None,
        })
        .collect();
    let mut why = format!("no signature over {zone}'s DNSKEY set");
    for sig in sigs {
        let input = sig.input();
        for key in &anchored {
            if key.calculate_key_tag().ok() != Some(input.key_tag) {
                continue;
            }
            if now > input.sig_expiration.get() {
                why = format!(
                    "the signature over {zone}'s DNSKEY set expired on {}",
                    crate::diag::cert::utc(i64::from(input.sig_expiration.get()))
                );
                continue;
            }
            if now < input.sig_inception.get() {
                why = format!(
                    "the signature over {zone}'s DNSKEY set is not valid before {}",
                    crate::diag::cert::utc(i64::from(input.sig_inception.get()))
                );
                continue;
            }
            match key.verify_rrsig(zone, DNSClass::IN, sig, keys.iter().copied()) {
                Ok(()) => {
                    return Ok(keys
                        .iter()
                        .filter_map(|r| dnskey(r))
                        .filter(|k| k.zone_key() && !k.revoke())
                        .map(|k| {
                            PublicKeyBuf::new(
                                k.public_key().public_bytes().to_vec(),
                                k.public_key().algorithm(),
                            )
                        })
                        .collect());
                }
                Err(e) => {
                    why = format!(
                        "the anchored key's signature over {zone}'s DNSKEY set does not verify: {e}"
                    )
                }
            }
        }
    }
    Err(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ds_and_dnskey_lines() {
        let a = parse(
            "; a comment\n\
             test. 3600 IN DS 12345 13 2 ( 0123456789ABCDEF\n 0123 )\n\
             test. IN DNSKEY 257 3 13 AAEC AwQ=\n",
        )
        .unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(
            a[0].key,
            AnchorKey::Ds {
                key_tag: 12345,
                algorithm: 13,
                digest_type: 2,
                digest: vec![0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23],
            }
        );
        assert_eq!(
            a[1].key,
            AnchorKey::Dnskey {
                flags: 257,
                algorithm: 13,
                public_key: vec![0, 1, 2, 3, 4]
            }
        );
    }

    #[test]
    fn refuses_what_is_not_an_anchor() {
        for (text, why) in [
            ("", "no DS or DNSKEY"),
            ("test. IN A 127.0.0.1\n", "not A"),
            ("test. DS 1 13 2 zz\n", "not hex"),
            ("test. DNSKEY 257 2 13 AAAA\n", "protocol field is 3"),
            ("test. DS (1 13 2 00\n", "unbalanced"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(why), "{text:?}: {e}");
        }
    }
}
