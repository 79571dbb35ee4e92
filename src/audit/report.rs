//! What `--audit` found: one row per address (the table), the findings with their severity
//! (the worst is the exit status), and the domain's MTA-STS and TLS-RPT reports. Text by
//! `Display` (the table first), JSON by serde (one document, every report in full).

use std::fmt;
use std::net::IpAddr;
use std::time::Instant;

use crate::diag::dane::{DaneReport, Verdict};
use crate::diag::dnssec::Dnssec;
use crate::diag::mta_sts::{ConnectedCheck, MtaStsReport, RecordResult};
use crate::diag::tlsrpt::TlsRptReport;
use crate::net::tls::report::{TlsReport, TlsVerdict};
use crate::smtp::escape::escape_str;

/// How bad a finding is. The exit status of `--audit` is the worst finding's (error.rs,
/// `Exit::of_finding`): the order is that of the exit codes, 5 > 4 > 3 > 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Works, but not as it should (exit 1): a certificate nothing authenticates, one about
    /// to expire, DANE records that can't be used, an MTA-STS policy in testing mode with
    /// problems, a malformed TLS-RPT record.
    Warning,
    /// Can't be reached (exit 3): no address, refused, timed out, a 421 or 554 greeting.
    Network,
    /// Mail that wants TLS would not go (exit 4): no STARTTLS, a failed handshake, DANE
    /// records that match nothing or fail DNSSEC, an enforced MTA-STS policy the host fails.
    Tls,
    /// The server broke the protocol (exit 5): a malformed reply, EHLO refused.
    Protocol,
}

impl Severity {
    /// A word for the text report.
    pub fn word(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Network => "network",
            Severity::Tls => "TLS",
            Severity::Protocol => "protocol",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// The host it is about, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The address it is about, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    /// What.
    pub text: String,
}

/// How STARTTLS went.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", content = "why", rename_all = "snake_case")]
pub enum StartTls {
    /// Not reached.
    Untried,
    /// Not in the EHLO reply.
    NotOffered,
    /// TLS is up and verified.
    Ok,
    /// TLS came up, and the verifier refused the certificate (the report says why).
    NotVerified,
    /// Refused or failed.
    Failed(String),
}

/// One address of one MX host.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AddressAudit {
    /// The MX preference (0 for the implicit MX).
    pub preference: u16,
    /// The host.
    pub host: String,
    /// The address.
    pub address: IpAddr,
    /// Time to connect, ms.
    pub connect_ms: Option<f64>,
    /// The greeting's code and first line.
    pub greeting: Option<String>,
    /// Time to the complete greeting, ms.
    pub greeting_ms: Option<f64>,
    /// The EHLO capabilities before TLS.
    pub ehlo: Option<String>,
    /// STARTTLS.
    pub starttls: StartTls,
    /// The EHLO capabilities after TLS.
    pub ehlo_after_tls: Option<String>,
    /// The `:tls` report.
    pub tls: Option<TlsReport>,
    /// The DANE report for this host and port, against this address's chain.
    pub dane: Option<DaneReport>,
    /// This host and its certificate against the domain's MTA-STS policy.
    pub mta_sts: Option<ConnectedCheck>,
    /// Why it was not visited, if it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// What was found.
    pub findings: Vec<Finding>,
    /// A refusing reply code (421, 554), which stops the host at 421.
    #[serde(skip)]
    pub refused_with: Option<u16>,
}

impl AddressAudit {
    pub(super) fn new(preference: u16, host: &str, address: IpAddr) -> AddressAudit {
        AddressAudit {
            preference,
            host: host.to_string(),
            address,
            connect_ms: None,
            greeting: None,
            greeting_ms: None,
            ehlo: None,
            starttls: StartTls::Untried,
            ehlo_after_tls: None,
            tls: None,
            dane: None,
            mta_sts: None,
            skipped: None,
            findings: Vec::new(),
            refused_with: None,
        }
    }

    pub(super) fn skipped(
        preference: u16,
        host: &str,
        address: IpAddr,
        why: String,
    ) -> AddressAudit {
        let mut a = AddressAudit::new(preference, host, address);
        a.skipped = Some(why);
        a
    }

    pub(super) fn fail(&mut self, severity: Severity, text: String) {
        self.findings.push(Finding {
            severity,
            host: Some(self.host.clone()),
            address: Some(self.address),
            text,
        });
    }
}

/// The whole audit.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditReport {
    /// The domain.
    pub domain: String,
    /// The port visited.
    pub port: u16,
    /// The DNSSEC status of the MX records.
    pub mx_dnssec: Option<Dnssec>,
    /// No MX records: the domain's own address was audited (RFC 5321 §5.1).
    pub implicit_mx: bool,
    /// One entry per address visited, in MX preference order.
    pub addresses: Vec<AddressAudit>,
    /// The domain's MTA-STS report.
    pub mta_sts: Option<MtaStsReport>,
    /// The domain's TLS-RPT record.
    pub tlsrpt: Option<TlsRptReport>,
    /// Every finding, worst first.
    pub findings: Vec<Finding>,
    /// The worst severity, if any finding.
    pub worst: Option<Severity>,
    /// Ctrl-C stopped the audit before its end.
    pub interrupted: bool,
    /// Wall time, ms.
    pub ms: f64,
}

impl AuditReport {
    pub(super) fn new(domain: &str, port: u16) -> AuditReport {
        AuditReport {
            domain: domain.to_string(),
            port,
            mx_dnssec: None,
            implicit_mx: false,
            addresses: Vec::new(),
            mta_sts: None,
            tlsrpt: None,
            findings: Vec::new(),
            worst: None,
            interrupted: false,
            ms: 0.0,
        }
    }

    pub(super) fn finding(&mut self, severity: Severity, host: Option<&str>, text: String) {
        self.findings.push(Finding {
            severity,
            host: host.map(str::to_string),
            address: None,
            text,
        });
    }

    pub(super) fn add(&mut self, a: AddressAudit) {
        self.findings.extend(a.findings.iter().cloned());
        self.addresses.push(a);
    }

    /// The domain's own findings: its MTA-STS record and policy (MX hosts the policy does
    /// not cover included), its TLS-RPT record.
    pub(super) fn add_domain_findings(&mut self, sts: &MtaStsReport, rpt: &TlsRptReport) {
        let severity = if sts.mode() == Some(crate::diag::mta_sts::Mode::Enforce) {
            Severity::Tls
        } else {
            Severity::Warning
        };
        for p in &sts.problems {
            self.finding(severity, None, format!("MTA-STS: {p}"));
        }
        match &rpt.record {
            RecordResult::Invalid { why, .. } => self.finding(
                Severity::Warning,
                None,
                format!("TLS-RPT: the _smtp._tls record is malformed ({why})"),
            ),
            RecordResult::Multiple { texts } => self.finding(
                Severity::Warning,
                None,
                format!(
                    "TLS-RPT: {} records start with v=TLSRPTv1, which RFC 8460 §3 counts as none",
                    texts.len()
                ),
            ),
            _ => {}
        }
    }

    pub(super) fn finish(mut self, started: Instant) -> AuditReport {
        // Worst first; stable, so each keeps the order it was found in.
        self.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        self.worst = self.findings.first().map(|f| f.severity);
        self.ms = crate::transcript::millis(started.elapsed());
        self
    }

    /// The worst finding, for the exit message.
    pub fn worst_finding(&self) -> Option<&Finding> {
        self.findings.first()
    }
}

fn where_(f: &Finding) -> String {
    match (&f.host, f.address) {
        (Some(h), Some(a)) => format!("{} ({a}): ", escape_str(h)),
        (Some(h), None) => format!("{}: ", escape_str(h)),
        _ => String::new(),
    }
}

/// A table with columns as wide as their widest cell.
fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(head.to_vec());
    for r in rows {
        out.push('\n');
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

fn ms(v: Option<f64>) -> String {
    match v {
        Some(m) if m < 10.0 => format!("{m:.1} ms"),
        Some(m) => format!("{m:.0} ms"),
        None => "-".into(),
    }
}

fn dane_cell(d: &DaneReport) -> String {
    match &d.verdict {
        Verdict::Verified { usage, .. } => usage.clone(),
        Verdict::NoMatch => "NO MATCH".into(),
        Verdict::NotValidated { .. } => "not validated".into(),
        Verdict::Bogus { .. } => "BOGUS".into(),
        Verdict::LookupFailed { .. } => "lookup failed".into(),
        Verdict::NoUsableRecords => "unusable".into(),
        Verdict::NoRecords => "none".into(),
        Verdict::NoCertificate => "no certificate".into(),
    }
}

impl AddressAudit {
    fn row(&self, policy: bool) -> Vec<String> {
        let connect = if self.skipped.is_some() {
            "skipped".to_string()
        } else if self.connect_ms.is_none() {
            "failed".to_string()
        } else {
            ms(self.connect_ms)
        };
        let greeting = match &self.greeting {
            Some(g) => format!(
                "{} ({})",
                g.split(' ').next().unwrap_or(""),
                ms(self.greeting_ms)
            ),
            None => "-".into(),
        };
        let starttls = match &self.starttls {
            StartTls::Untried => "-",
            StartTls::NotOffered => "NOT OFFERED",
            StartTls::Ok | StartTls::NotVerified => "yes",
            StartTls::Failed(_) => "FAILED",
        }
        .to_string();
        let tls = self.tls.as_ref().map_or("-".to_string(), |t| {
            let mut s = t.version.clone().unwrap_or_else(|| "?".into());
            if let Some(g) = &t.group {
                s.push(' ');
                s.push_str(g);
            }
            s
        });
        let cert = self.tls.as_ref().map_or("-".to_string(), |t| {
            let days = t
                .days_left()
                .map(|d| format!(", {d} days"))
                .unwrap_or_default();
            match &t.verdict {
                TlsVerdict::Verified { .. } => format!("verified{days}"),
                TlsVerdict::Refused { .. } => format!("NOT verified{days}"),
                TlsVerdict::NotChecked { .. } => format!("not checked{days}"),
            }
        });
        let dane = self.dane.as_ref().map_or("-".to_string(), dane_cell);
        let sts = match (&self.mta_sts, policy) {
            (_, false) => "-".to_string(),
            (Some(c), true) => {
                if c.host.pattern.is_some() {
                    "covered".into()
                } else {
                    "NOT COVERED".into()
                }
            }
            (None, true) => "-".into(),
        };
        vec![
            self.preference.to_string(),
            escape_str(&self.host),
            self.address.to_string(),
            connect,
            greeting,
            starttls,
            tls,
            cert,
            dane,
            sts,
        ]
    }
}

impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hosts: std::collections::BTreeSet<&str> =
            self.addresses.iter().map(|a| a.host.as_str()).collect();
        write!(
            f,
            "audit of {}: {}, {}, port {}",
            self.domain,
            crate::transcript::counted(hosts.len() as u64, "host"),
            match self.addresses.len() {
                1 => "1 address".to_string(),
                n => format!("{n} addresses"),
            },
            self.port
        )?;
        if self.implicit_mx {
            write!(
                f,
                " (no MX records: the domain's own address, RFC 5321 §5.1)"
            )?;
        }
        if let Some(d) = &self.mx_dnssec {
            write!(f, "; MX records {d}")?;
        }
        writeln!(f)?;
        let policy = self.mta_sts.as_ref().and_then(MtaStsReport::mode).is_some();
        if !self.addresses.is_empty() {
            let rows: Vec<Vec<String>> = self.addresses.iter().map(|a| a.row(policy)).collect();
            writeln!(
                f,
                "{}",
                table(
                    &[
                        "PREF",
                        "HOST",
                        "ADDRESS",
                        "CONNECT",
                        "GREETING",
                        "STARTTLS",
                        "TLS",
                        "CERTIFICATE",
                        "DANE",
                        "MTA-STS"
                    ],
                    &rows
                )
            )?;
        }
        let mut caps = Vec::new();
        let mut certs = Vec::new();
        for a in &self.addresses {
            let who = format!("{} ({})", escape_str(&a.host), a.address);
            if let Some(why) = &a.skipped {
                caps.push(format!("  {who}: {why}"));
                continue;
            }
            if let Some(e) = &a.ehlo {
                let after = a
                    .ehlo_after_tls
                    .as_ref()
                    .map(|x| format!("\n    after STARTTLS: {x}"))
                    .unwrap_or_default();
                caps.push(format!("  {who}: {e}{after}"));
            }
            if let Some(t) = &a.tls {
                let chain: Vec<String> = t
                    .chain
                    .iter()
                    .map(|c| {
                        format!(
                            "    [{}] {} ({}, {} days left; issuer {})",
                            c.depth, c.subject, c.key, c.days_left, c.issuer
                        )
                    })
                    .collect();
                let hidden = if t.leaf_only() {
                    " (the server's own certificate: TLS 1.3 hid the rest)"
                } else {
                    ""
                };
                certs.push(format!("  {who}{hidden}:\n{}", chain.join("\n")));
            }
        }
        if !caps.is_empty() {
            writeln!(f, "EHLO capabilities:\n{}", caps.join("\n"))?;
        }
        if !certs.is_empty() {
            writeln!(f, "certificates as sent:\n{}", certs.join("\n"))?;
        }
        for a in &self.addresses {
            if let Some(d) = &a.dane
                && !matches!(d.verdict, Verdict::NoRecords)
            {
                writeln!(
                    f,
                    "DANE for {} ({}): {}",
                    escape_str(&a.host),
                    a.address,
                    d.verdict
                )?;
            }
        }
        if let Some(s) = &self.mta_sts {
            writeln!(f, "MTA-STS:")?;
            for l in s.to_string().lines() {
                writeln!(f, "  {}", escape_str(l))?;
            }
        }
        if let Some(r) = &self.tlsrpt {
            for l in r.to_string().lines() {
                writeln!(f, "{}", escape_str(l))?;
            }
        }
        if self.interrupted {
            writeln!(
                f,
                "interrupted (Ctrl-C): the addresses after the last row were not visited"
            )?;
        }
        if self.findings.is_empty() {
            return writeln!(f, "findings: none");
        }
        writeln!(f, "findings, worst first:")?;
        for x in &self.findings {
            writeln!(
                f,
                "  {:<8} {}{}",
                x.severity.word(),
                where_(x),
                escape_str(&x.text)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_like_their_exit_codes() {
        assert!(Severity::Protocol > Severity::Tls);
        assert!(Severity::Tls > Severity::Network);
        assert!(Severity::Network > Severity::Warning);
    }

    #[test]
    fn the_table_lines_up_and_findings_come_worst_first() {
        let mut r = AuditReport::new("example.test", 25);
        let mut a = AddressAudit::new(10, "mx1.example.test", "192.0.2.1".parse().unwrap());
        a.connect_ms = Some(1.25);
        a.greeting = Some("220 mx1 ESMTP".into());
        a.greeting_ms = Some(30.0);
        a.starttls = StartTls::NotOffered;
        a.fail(Severity::Tls, "STARTTLS is not offered".into());
        r.add(a);
        let b = AddressAudit::skipped(
            20,
            "mx2.example.test",
            "192.0.2.2".parse().unwrap(),
            "left alone".into(),
        );
        r.add(b);
        r.finding(Severity::Warning, None, "TLS-RPT: malformed".into());
        let r = r.finish(Instant::now());
        assert_eq!(r.worst, Some(Severity::Tls));
        let text = r.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "audit of example.test: 2 hosts, 2 addresses, port 25"
        );
        assert_eq!(
            lines[1],
            "PREF  HOST              ADDRESS    CONNECT  GREETING     STARTTLS     TLS  CERTIFICATE  DANE  MTA-STS"
        );
        assert_eq!(
            lines[2],
            "10    mx1.example.test  192.0.2.1  1.2 ms   220 (30 ms)  NOT OFFERED  -    -            -     -"
        );
        assert!(
            lines[3].starts_with("20    mx2.example.test  192.0.2.2  skipped"),
            "{text}"
        );
        assert!(
            text.ends_with("findings, worst first:\n  TLS      mx1.example.test (192.0.2.1): STARTTLS is not offered\n  warning  TLS-RPT: malformed\n"),
            "{text}"
        );
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["worst"], "tls");
        assert_eq!(j["addresses"][0]["starttls"]["result"], "not_offered");
    }
}
