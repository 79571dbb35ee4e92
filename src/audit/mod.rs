//! `smtpsh --audit DOMAIN`: every mail server of a domain, checked the way a sending MTA
//! meets it — for each MX host (RFC 5321 §5.1; the domain itself without MX records) and
//! each of its addresses: the connection and its time, the greeting and its time, the EHLO
//! capabilities, STARTTLS, the `:tls` report, DANE (the host's TLSA records, DNSSEC-validated,
//! against the chain) and MTA-STS (whether the domain's policy covers the host and its
//! certificate); then the domain's TLS-RPT record. The findings get a severity, and the worst
//! one is the exit status (error.rs maps it).
//!
//! Polite: one connection at a time, each ended with QUIT (a real [`Session`], whose rules
//! hold: the injection check, no fallback to plaintext, close_notify); a 421 stops that host
//! (RFC 5321 §3.8: the server is busy or refusing) and says so. The second connections a TLS
//! 1.3 server costs (the chain, for DANE-TA) come one after the other too.
//!
//! Knows no terminal: [`run`] returns an [`AuditReport`] (text by `Display`, JSON by serde),
//! and says how far it got through a [`Watcher`] (the progress counter in main.rs).

mod report;

use std::net::IpAddr;
use std::time::Instant;

pub use report::{AddressAudit, AuditReport, Finding, Severity, StartTls};

use crate::cancel::Cancel;
use crate::diag::dane::Verdict;
use crate::diag::mta_sts::{self, Connected, Mode, MtaStsReport};
use crate::error::Error;
use crate::net::policy::{self, unix_now};
use crate::net::target::{Security, Target};
use crate::net::tls::report::{EXPIRY_WARNING_DAYS, TlsVerdict};
use crate::session::{Ask, Config, Session};
use crate::smtp::auth::Secret;
use crate::smtp::command::{Command, Verb};
use crate::transcript::{Event, Style, Transcript};

/// Told how far the audit got.
pub trait Watcher {
    /// The number of addresses to visit, once the MX hosts are known.
    fn planned(&mut self, addresses: u64);
    /// Visiting this one now (`host (address)`).
    fn visiting(&mut self, what: &str);
    /// One more address done.
    fn done(&mut self);
}

/// A watcher that watches nothing.
pub struct Unwatched;

impl Watcher for Unwatched {
    fn planned(&mut self, _: u64) {}
    fn visiting(&mut self, _: &str) {}
    fn done(&mut self) {}
}

/// Nobody to ask: an audit never authenticates.
struct NoOne;

impl Ask for NoOne {
    fn user(&mut self, _: Option<&str>) -> Result<String, Error> {
        Err(Error::Usage("--audit does not authenticate".into()))
    }
    fn password(&mut self, _: &str) -> Result<Secret, Error> {
        Err(Error::Usage("--audit does not authenticate".into()))
    }
}

/// Audit `domain`'s mail servers on `port` (25 unless `-p`), with the session settings of
/// `config`; `cancel` (Ctrl-C) stops between addresses.
pub fn run(
    domain: &str,
    port: Option<u16>,
    config: &Config,
    cancel: &Cancel,
    watcher: &mut dyn Watcher,
) -> Result<AuditReport, Error> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    crate::smtp::command::check_value("--audit", &domain)?;
    if domain.is_empty()
        || domain.contains([' ', '/', ':', '@'])
        || domain.parse::<IpAddr>().is_ok()
    {
        return Err(Error::Usage(format!(
            "--audit {domain:?}: give a mail domain, like example.org"
        )));
    }
    let port = port.unwrap_or(25);
    let started = Instant::now();
    // One session, for its resolver and fetch settings; each address gets its own below.
    let probe = session(config);
    let dns = probe.dns()?;
    let fetch = probe.fetch_config();
    let mut rep = AuditReport::new(&domain, port);

    let mx = match dns.mx(&domain) {
        Ok(a) => a,
        Err(e) => {
            rep.finding(
                Severity::Network,
                None,
                format!("the MX lookup failed: {e}"),
            );
            return Ok(rep.finish(started));
        }
    };
    rep.mx_dnssec = Some(mx.dnssec.clone());
    let mut hosts: Vec<(u16, String)> = mx.records.clone();
    if hosts.iter().any(|(_, h)| h.is_empty()) && hosts.len() == 1 {
        rep.finding(
            Severity::Network,
            None,
            "a null MX (RFC 7505): the domain accepts no mail, so there is nothing to audit".into(),
        );
        return Ok(rep.finish(started));
    }
    hosts.retain(|(_, h)| !h.is_empty());
    if hosts.is_empty() {
        if mx.nxdomain {
            rep.finding(
                Severity::Network,
                None,
                format!("{domain} does not exist (NXDOMAIN)"),
            );
            return Ok(rep.finish(started));
        }
        rep.implicit_mx = true;
        hosts.push((0, domain.clone()));
    }

    // Every host's addresses first, so that the counter knows the whole way.
    let mut plan: Vec<(u16, String, Vec<IpAddr>)> = Vec::new();
    for (pref, host) in hosts {
        match dns.addresses(&host) {
            Ok(a) => {
                let addrs: Vec<IpAddr> = a
                    .records
                    .into_iter()
                    .filter(|ip| config.dial.route().allows(ip))
                    .collect();
                if addrs.is_empty() {
                    rep.finding(
                        Severity::Network,
                        Some(&host),
                        "no address (of the family allowed) to connect to".into(),
                    );
                }
                plan.push((pref, host, addrs));
            }
            Err(e) => {
                rep.finding(
                    Severity::Network,
                    Some(&host),
                    format!("the address lookup failed: {e}"),
                );
                plan.push((pref, host, Vec::new()));
            }
        }
    }
    watcher.planned(plan.iter().map(|(_, _, a)| a.len() as u64).sum());

    // MTA-STS and TLS-RPT are the domain's: looked up and fetched once.
    let mx_names: Vec<String> = plan.iter().map(|(_, h, _)| h.clone()).collect();
    let now = unix_now();
    let sts = policy::mta_sts_report(&dns, &fetch, &domain, Some(&mx_names), None, now);
    let rpt = policy::tlsrpt_report(&dns, &domain);

    for (pref, host, addrs) in &plan {
        let mut stopped: Option<String> = None;
        for addr in addrs {
            if cancel.requested() {
                rep.interrupted = true;
                break;
            }
            let label = format!("{host} ({addr})");
            watcher.visiting(&label);
            let a = match &stopped {
                Some(why) => AddressAudit::skipped(*pref, host, *addr, why.clone()),
                None => visit(config, *pref, host, *addr, port, &sts, now),
            };
            if let Some(code) = a.refused_with.filter(|c| *c == 421) {
                stopped = Some(format!(
                    "not visited: an earlier address of {host} answered {code} (busy or refusing, RFC 5321 §3.8), so the audit left this host alone"
                ));
            }
            rep.add(a);
            watcher.done();
        }
    }
    rep.add_domain_findings(&sts, &rpt);
    rep.mta_sts = Some(sts);
    rep.tlsrpt = Some(rpt);
    Ok(rep.finish(started))
}

/// A session of its own for each address, with a Ctrl-C flag of its own: Ctrl-C stops the
/// audit between addresses ([`run`]'s `cancel`), so the address being visited still ends
/// with QUIT.
fn session(config: &Config) -> Session {
    let style = Style {
        color: false,
        echo_body: false,
        json: false,
        wire: false,
    };
    Session::new(
        config.clone(),
        Transcript::new(style, Box::new(std::io::sink())),
        Box::new(NoOne),
        Cancel::new(),
    )
}

/// Audit one address of one host.
fn visit(
    config: &Config,
    preference: u16,
    host: &str,
    addr: IpAddr,
    port: u16,
    sts: &MtaStsReport,
    now: i64,
) -> AddressAudit {
    let mut a = AddressAudit::new(preference, host, addr);
    let mut s = session(config);
    let target = Target {
        host: host.to_string(),
        port,
        security: Security::Plain,
        lmtp: false,
        unix: None,
    };
    let greeting = match s.connect_to(&target, Some(&[addr]), false) {
        Ok(g) => g,
        Err(e) => {
            a.connect_ms = connect_ms(&s);
            let severity = if e.exit() == crate::error::Exit::Tls {
                Severity::Tls
            } else {
                Severity::Network
            };
            a.fail(severity, format!("connecting: {e}"));
            return a;
        }
    };
    a.connect_ms = connect_ms(&s);
    a.greeting_ms = s.transcript.events().find_map(|e| match e {
        Event::Reply { ms, .. } => Some(*ms),
        _ => None,
    });
    a.greeting = Some(format!(
        "{} {}",
        greeting.code,
        greeting
            .display_lines()
            .first()
            .cloned()
            .unwrap_or_default()
    ));
    if greeting.code.value() != 220 {
        a.refused_with = Some(greeting.code.value());
        a.fail(
            Severity::Network,
            format!(
                "greeted with {}{}",
                greeting.code,
                if greeting.code.value() == 421 {
                    ": busy or refusing (RFC 5321 §3.8); the audit stops for this host"
                } else {
                    ": the server refuses this client"
                }
            ),
        );
        s.end("the greeting was a refusal");
        return a;
    }
    match s.command(&Command::bare(Verb::Ehlo)) {
        Ok(Some(r)) if r.code.value() == 250 => {
            a.ehlo = s.caps().map(|c| c.compact());
        }
        Ok(Some(r)) => {
            if r.code.value() == 421 {
                a.refused_with = Some(421);
            }
            a.fail(Severity::Protocol, format!("EHLO was answered {}", r.code));
            s.end("EHLO refused");
            return a;
        }
        Ok(None) => {}
        Err(e) => {
            a.fail(severity_of(&e), format!("EHLO: {e}"));
            return a;
        }
    }
    if !s.caps().is_some_and(|c| c.has("STARTTLS")) {
        a.starttls = StartTls::NotOffered;
        a.fail(
            Severity::Tls,
            "STARTTLS is not offered: mail to this host travels in plaintext".into(),
        );
        s.end("audit done");
        return a;
    }
    match s.starttls_required() {
        Ok(_) => {
            a.starttls = StartTls::Ok;
            a.ehlo_after_tls = s.caps().map(|c| c.compact());
        }
        Err(Error::Verify { .. }) => {
            // The verifier refused the chain; the session looked at it anyway, and `:tls`
            // (tls_report below) gives that report.
            a.starttls = StartTls::NotVerified;
        }
        Err(e) => {
            a.starttls = StartTls::Failed(e.to_string());
            a.fail(severity_of(&e), format!("STARTTLS: {e}"));
            s.end("audit done");
            return a;
        }
    }
    let tls = s.tls_report().ok();
    let dane = s.dane().ok();
    // MTA-STS: the domain's policy against this host and the certificate it presented.
    let verified = tls.as_ref().is_some_and(|t| t.verdict.is_verified());
    let problem = tls.as_ref().and_then(|t| t.verdict.problem());
    let chain = tls.as_ref().map(|t| t.ders.clone()).unwrap_or_default();
    // This host as the only MX, so that what is said of all MX hosts (in the domain's report)
    // is not said again here: what is left is about this host's certificate.
    let check = mta_sts::report(
        &sts.domain,
        sts.record.clone(),
        sts.policy.clone(),
        &[host.to_string()],
        Some(Connected {
            host,
            chain: &chain,
            pkix: if chain.is_empty() {
                None
            } else if verified {
                Some(Ok(()))
            } else {
                problem.as_deref().map(Err)
            },
        }),
        now,
    );
    s.end("audit done");
    let own: Vec<String> = check
        .problems
        .iter()
        .filter(|p| !sts.problems.contains(p))
        .cloned()
        .collect();
    a.judge(tls, dane, check.connected.clone(), sts.mode(), &own);
    a
}

fn connect_ms(s: &Session) -> Option<f64> {
    s.transcript.events().find_map(|e| match e {
        Event::Connect { ms, .. } => Some(*ms),
        _ => None,
    })
}

fn severity_of(e: &Error) -> Severity {
    match e.exit() {
        crate::error::Exit::Tls => Severity::Tls,
        crate::error::Exit::Protocol => Severity::Protocol,
        _ => Severity::Network,
    }
}

impl AddressAudit {
    /// The findings of TLS, DANE and MTA-STS for this address.
    fn judge(
        &mut self,
        tls: Option<crate::net::tls::report::TlsReport>,
        dane: Option<crate::diag::dane::DaneReport>,
        sts: Option<mta_sts::ConnectedCheck>,
        mode: Option<Mode>,
        sts_problems: &[String],
    ) {
        let dane_verified = dane
            .as_ref()
            .is_some_and(|d| matches!(d.verdict, Verdict::Verified { .. }));
        if let Some(t) = &tls {
            match &t.verdict {
                TlsVerdict::Verified { .. } => {}
                TlsVerdict::Refused { reason, .. } if !dane_verified => self.fail(
                    Severity::Warning,
                    format!(
                        "the certificate does not verify ({reason}), and no DANE record vouches for it: nothing authenticates this server (opportunistic TLS still encrypts)"
                    ),
                ),
                _ => {}
            }
            if let Some(days) = t
                .days_left()
                .filter(|d| (0..EXPIRY_WARNING_DAYS).contains(d))
            {
                self.fail(
                    Severity::Warning,
                    format!("a certificate of the chain expires in {days} days"),
                );
            }
        }
        if let Some(d) = &dane {
            let words = d.verdict.to_string();
            match &d.verdict {
                Verdict::NoMatch | Verdict::Bogus { .. } | Verdict::LookupFailed { .. } => {
                    self.fail(Severity::Tls, format!("DANE: {words}"))
                }
                Verdict::NotValidated { .. } | Verdict::NoUsableRecords => {
                    self.fail(Severity::Warning, format!("DANE: {words}"))
                }
                _ => {}
            }
        }
        // An enforced policy turns mail away; in testing mode senders only report.
        let severity = if mode == Some(Mode::Enforce) {
            Severity::Tls
        } else {
            Severity::Warning
        };
        if mode.is_some_and(|m| m != Mode::None) {
            for p in sts_problems {
                self.fail(severity, format!("MTA-STS: {p}"));
            }
        }
        self.tls = tls;
        self.dane = dane;
        self.mta_sts = sts;
    }
}
