//! SMTP TLS Reporting (RFC 8460): the `_smtp._tls.DOMAIN` TXT record that says where senders
//! send daily reports of TLS failures (§3), parsed, and its report. The parser takes outside
//! text and is fuzzed.

use std::fmt;

use super::dnssec::Dnssec;
use super::mta_sts::{RecordResult, ext_value_ok, record_fields, select};

/// Where reports go.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rua {
    /// The URI as published.
    pub uri: String,
    /// `mailto`, `https`, or another scheme (which senders ignore).
    pub scheme: String,
}

/// A parsed `_smtp._tls` record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TlsRptRecord {
    /// The report destinations.
    pub rua: Vec<Rua>,
    /// Other fields (RFC 8460 §3 allows extensions).
    pub extensions: Vec<(String, String)>,
    /// What a reader should know (unsupported schemes).
    pub notes: Vec<String>,
}

/// Parse the text of one `_smtp._tls` TXT record (strings already joined).
pub fn parse_record(text: &str) -> Result<TlsRptRecord, String> {
    let mut rua = None;
    let mut extensions = Vec::new();
    let mut notes = Vec::new();
    for (name, value) in record_fields(text, "v=TLSRPTv1")? {
        if name == "rua" {
            if rua.is_some() {
                notes.push("rua given again; only the first counts".to_string());
                continue;
            }
            // tlsrpt-rua = "rua=" uri *(*WSP "," *WSP uri); a "," or ";" inside a URI is
            // percent-encoded (§3).
            let mut list = Vec::new();
            for uri in value.split(',').map(|u| u.trim_matches([' ', '\t'])) {
                let (scheme, rest) = uri
                    .split_once(':')
                    .ok_or_else(|| format!("\"{uri}\" in rua is not a URI"))?;
                if rest.is_empty()
                    || scheme.is_empty()
                    || !scheme
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                    || uri.bytes().any(|b| b <= b' ' || b == 0x7f)
                {
                    return Err(format!("\"{uri}\" in rua is not a URI"));
                }
                let scheme = scheme.to_ascii_lowercase();
                if scheme != "mailto" && scheme != "https" {
                    notes.push(format!(
                        "{uri}: senders only use mailto: and https: (RFC 8460 §3)"
                    ));
                }
                list.push(Rua {
                    uri: uri.to_string(),
                    scheme,
                });
            }
            rua = Some(list);
        } else if !ext_value_ok(&value) {
            return Err(format!("bad value for {name}: \"{value}\""));
        } else {
            extensions.push((name, value));
        }
    }
    let rua = rua.ok_or("no rua field")?;
    Ok(TlsRptRecord {
        rua,
        extensions,
        notes,
    })
}

/// The TLS-RPT report for a domain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TlsRptReport {
    /// The policy domain.
    pub domain: String,
    /// The record.
    pub record: RecordResult<TlsRptRecord>,
}

impl TlsRptReport {
    /// Choose and parse the domain's record among the TXT records of `_smtp._tls.DOMAIN`.
    pub fn from_txt(domain: &str, txts: &[String], dnssec: Dnssec) -> TlsRptReport {
        TlsRptReport {
            domain: super::normalize_name(domain),
            record: select(txts, dnssec, "v=TLSRPTv1", parse_record),
        }
    }

    /// The report of a failed lookup.
    pub fn failed(domain: &str, why: String) -> TlsRptReport {
        TlsRptReport {
            domain: super::normalize_name(domain),
            record: RecordResult::Failed { why },
        }
    }
}

impl fmt::Display for TlsRptReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = format!("_smtp._tls.{}", self.domain);
        match &self.record {
            RecordResult::Found {
                text,
                record,
                dnssec,
            } => {
                writeln!(f, "TLS-RPT {name}: \"{text}\" ({dnssec})")?;
                for r in &record.rua {
                    writeln!(f, "  reports to {}", r.uri)?;
                }
                for n in &record.notes {
                    writeln!(f, "  note: {n}")?;
                }
            }
            RecordResult::NotFound { .. } => writeln!(
                f,
                "TLS-RPT {name}: none (senders will not report TLS failures to this domain)"
            )?,
            RecordResult::Multiple { texts } => writeln!(
                f,
                "TLS-RPT {name}: {} records start with v=TLSRPTv1; RFC 8460 §3 says that is none",
                texts.len()
            )?,
            RecordResult::Invalid { text, why } => {
                writeln!(f, "TLS-RPT {name}: \"{text}\": malformed: {why}")?
            }
            RecordResult::Failed { why } => writeln!(f, "TLS-RPT {name}: lookup failed: {why}")?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_destinations_and_an_odd_scheme() {
        let r =
            parse_record("v=TLSRPTv1; rua=mailto:tls@example.test, https://report.example.test/v1")
                .unwrap();
        assert_eq!(r.rua.len(), 2);
        assert_eq!(r.rua[0].scheme, "mailto");
        assert_eq!(r.rua[1].uri, "https://report.example.test/v1");
        let r = parse_record("v=TLSRPTv1;rua=ftp://x.test/").unwrap();
        assert_eq!(r.notes.len(), 1);
    }

    #[test]
    fn malformed_records() {
        for (bad, why) in [
            ("v=TLSRPTv1", "nothing after"),
            ("v=TLSRPTv1; x=1", "no rua"),
            ("v=TLSRPTv1; rua=", "not a URI"),
            ("v=TLSRPTv1; rua=reports@example.test", "not a URI"),
            (
                "v=TLSRPTv1; rua=mailto:a@b.test,,mailto:c@d.test",
                "not a URI",
            ),
        ] {
            let e = parse_record(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn report_text() {
        let r = TlsRptReport::from_txt(
            "Example.test.",
            &["v=TLSRPTv1; rua=mailto:tls@example.test".into()],
            Dnssec::Secure,
        );
        assert_eq!(
            r.to_string(),
            "TLS-RPT _smtp._tls.example.test: \"v=TLSRPTv1; rua=mailto:tls@example.test\" (secure (DNSSEC-validated))\n  reports to mailto:tls@example.test\n"
        );
    }
}
