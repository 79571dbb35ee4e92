//! The lookups and the fetch behind `:dane`, `:mta-sts` and `--audit`, put together into the
//! reports of `diag`: this is the one place that does the I/O those pure checks need, so the
//! shell's wiring is one call per command.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::diag::dane::{self, DaneReport, TlsaAnswer};
use crate::diag::mta_sts::{self, Connected, MtaStsReport, PolicyResult, RecordResult, StsRecord};
use crate::diag::tlsrpt::TlsRptReport;

use super::dns::Dns;
use super::fetch::{self, FetchConfig};

/// Now, in Unix seconds (for the certificate date checks).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `:dane`: the TLSA records of `host`:`port` (and the DNSSEC status of its addresses),
/// matched against `chain` (DER, leaf first; empty when there is no TLS). `host` is the
/// name as connected: the TLSA base domain (RFC 7672 §2.2.3), and the name DANE-TA checks.
pub fn dane_report(dns: &Dns, host: &str, port: u16, chain: &[Vec<u8>], now: i64) -> DaneReport {
    let host = crate::diag::normalize_name(host);
    let address_dnssec = dns.addresses(&host).ok().map(|a| a.dnssec);
    let (name, answer) = dns.tlsa(&host, port);
    let answer = match answer {
        Ok(a) if a.records.is_empty() => TlsaAnswer::NoRecords { dnssec: a.dnssec },
        Ok(a) => TlsaAnswer::Records {
            records: a.records,
            dnssec: a.dnssec,
        },
        Err(e) => TlsaAnswer::Failed { why: e.to_string() },
    };
    dane::check(&name, answer, address_dnssec, chain, &[host.as_str()], now)
}

/// `:mta-sts DOMAIN`: the record, the policy (fetched only when there is a record), checked
/// against `mx_hosts` (looked up when `None`) and the connected host.
pub fn mta_sts_report(
    dns: &Dns,
    fetch_config: &FetchConfig,
    domain: &str,
    mx_hosts: Option<&[String]>,
    connected: Option<Connected<'_>>,
    now: i64,
) -> MtaStsReport {
    let domain = crate::diag::normalize_name(domain);
    let record: RecordResult<StsRecord> = match dns.txt(&format!("_mta-sts.{domain}")) {
        Ok(a) => mta_sts::select(&a.records, a.dnssec, "v=STSv1", mta_sts::parse_record),
        Err(e) => RecordResult::Failed { why: e.to_string() },
    };
    let policy = if matches!(record, RecordResult::Found { .. }) {
        let url = fetch::policy_url(&domain);
        match fetch::fetch_policy(&domain, dns, fetch_config) {
            Ok(fetched) => match mta_sts::parse_policy(&fetched.text) {
                Ok(policy) => PolicyResult::Valid {
                    url,
                    fetched,
                    policy,
                },
                Err(why) => PolicyResult::Invalid { url, fetched, why },
            },
            Err(e) => PolicyResult::FetchFailed {
                url,
                why: e.to_string(),
            },
        }
    } else {
        PolicyResult::NotFetched
    };
    let looked_up: Vec<String>;
    let mx_hosts = match mx_hosts {
        Some(m) => m,
        None => {
            looked_up = dns
                .mx(&domain)
                .map(|a| a.records.into_iter().map(|(_, h)| h).collect())
                .unwrap_or_default();
            &looked_up
        }
    };
    mta_sts::report(&domain, record, policy, mx_hosts, connected, now)
}

/// The TLS-RPT record of `domain`.
pub fn tlsrpt_report(dns: &Dns, domain: &str) -> TlsRptReport {
    let domain = crate::diag::normalize_name(domain);
    match dns.txt(&format!("_smtp._tls.{domain}")) {
        Ok(a) => TlsRptReport::from_txt(&domain, &a.records, a.dnssec),
        Err(e) => TlsRptReport::failed(&domain, e.to_string()),
    }
}
