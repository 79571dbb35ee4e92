//! The TLSA record (RFC 6698 §2): certificate usage, selector, matching type and the
//! certificate association data; its wire form (the fuzzed entry point for outside bytes),
//! its presentation form (`3 1 1 <hex>`, as in a zone file and in posttls-finger's
//! "using DANE RR" lines), and the names RFC 7218 gives the numbers.

use std::fmt;

/// One TLSA record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tlsa {
    /// Certificate usage (RFC 6698 §2.1.1): 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE.
    pub usage: u8,
    /// Selector (§2.1.2): 0 the full certificate, 1 its SubjectPublicKeyInfo.
    pub selector: u8,
    /// Matching type (§2.1.3): 0 exact, 1 SHA-256, 2 SHA-512.
    pub matching_type: u8,
    /// Certificate association data, as hex in JSON.
    #[serde(serialize_with = "super::serialize_hex")]
    pub data: Vec<u8>,
}

/// Why TLSA record data could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsaError {
    /// Fewer than the three one-octet fields and one octet of data.
    #[error("a TLSA record needs at least 4 octets, this one has {0}")]
    TooShort(usize),
}

impl Tlsa {
    /// Read the record's RDATA as it travels in DNS (RFC 6698 §2.1): three octets, then the
    /// association data, which may not be empty.
    pub fn from_rdata(rdata: &[u8]) -> Result<Tlsa, TlsaError> {
        match rdata {
            [usage, selector, matching_type, data @ ..] if !data.is_empty() => Ok(Tlsa {
                usage: *usage,
                selector: *selector,
                matching_type: *matching_type,
                data: data.to_vec(),
            }),
            _ => Err(TlsaError::TooShort(rdata.len())),
        }
    }

    /// The usage's name, e.g. `DANE-EE(3)`.
    pub fn usage_name(&self) -> String {
        let name = match self.usage {
            0 => "PKIX-TA",
            1 => "PKIX-EE",
            2 => "DANE-TA",
            3 => "DANE-EE",
            255 => "PrivCert",
            _ => "unassigned usage",
        };
        format!("{name}({})", self.usage)
    }

    /// The selector's name, e.g. `SPKI(1)`.
    pub fn selector_name(&self) -> String {
        let name = match self.selector {
            0 => "Cert",
            1 => "SPKI",
            255 => "PrivSel",
            _ => "unassigned selector",
        };
        format!("{name}({})", self.selector)
    }

    /// The matching type's name, e.g. `SHA2-256(1)`.
    pub fn matching_name(&self) -> String {
        let name = match self.matching_type {
            0 => "Full",
            1 => "SHA2-256",
            2 => "SHA2-512",
            255 => "PrivMatch",
            _ => "unassigned matching type",
        };
        format!("{name}({})", self.matching_type)
    }

    /// `DANE-EE(3) SPKI(1) SHA2-256(1)`.
    pub fn names(&self) -> String {
        format!(
            "{} {} {}",
            self.usage_name(),
            self.selector_name(),
            self.matching_name()
        )
    }

    /// The presentation form with long data shortened for a terminal: digests in full,
    /// whole certificates or keys as their first 16 octets and their length.
    pub fn short(&self) -> String {
        if self.data.len() <= 64 {
            self.to_string()
        } else {
            format!(
                "{} {} {} {}... ({} octets)",
                self.usage,
                self.selector,
                self.matching_type,
                super::hex(&self.data[..16]),
                self.data.len()
            )
        }
    }
}

/// The presentation form (RFC 6698 §2.2): `3 1 1 0123...`, the data in hex.
impl fmt::Display for Tlsa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.usage,
            self.selector,
            self.matching_type,
            super::hex(&self.data)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rdata_and_prints_the_zone_file_form() {
        let t = Tlsa::from_rdata(&[3, 1, 1, 0xab, 0xcd]).unwrap();
        assert_eq!(t.to_string(), "3 1 1 abcd");
        assert_eq!(t.names(), "DANE-EE(3) SPKI(1) SHA2-256(1)");
        let t = Tlsa::from_rdata(&[0, 0, 0, 1]).unwrap();
        assert_eq!(t.names(), "PKIX-TA(0) Cert(0) Full(0)");
        let t = Tlsa::from_rdata(&[9, 7, 5, 1]).unwrap();
        assert_eq!(
            t.names(),
            "unassigned usage(9) unassigned selector(7) unassigned matching type(5)"
        );
    }

    #[test]
    fn empty_data_is_refused() {
        assert_eq!(Tlsa::from_rdata(&[3, 1, 1]), Err(TlsaError::TooShort(3)));
        assert_eq!(Tlsa::from_rdata(&[]), Err(TlsaError::TooShort(0)));
    }

    #[test]
    fn long_data_is_shortened_for_the_terminal() {
        let mut rdata = vec![3, 0, 0];
        rdata.extend(std::iter::repeat_n(0x11, 300));
        let t = Tlsa::from_rdata(&rdata).unwrap();
        assert_eq!(
            t.short(),
            "3 0 0 11111111111111111111111111111111... (300 octets)"
        );
        assert_eq!(t.to_string().len(), 6 + 600);
    }

    #[test]
    fn json_has_the_data_as_hex() {
        let t = Tlsa::from_rdata(&[2, 0, 1, 0x0f]).unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"usage":2,"selector":0,"matching_type":1,"data":"0f"}"#
        );
    }
}
