//! The session's diagnosis of TLS and of what the domain publishes about it: the `:tls`
//! report of the live connection (or of the last handshake the verifier refused), `:tls
//! chain` and `:tls save`, `:dane`, `:mta-sts`; the report shown at once when verification
//! fails, so nobody needs `--insecure` to see why; and the hint for a port that speaks
//! implicit TLS when a greeting was awaited.
//!
//! Reports become [`Event::Report`] events: the session knows no terminal. The lookups and
//! the policy fetch are `net::policy`'s; second connections are [`super::look`]'s.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use super::Session;
use super::look::{self, Looked, Spec, Then};
use crate::diag::dane::{DaneReport, Verdict};
use crate::diag::mta_sts::{Connected, MtaStsReport};
use crate::diag::tlsrpt::TlsRptReport;
use crate::error::Error;
use crate::net::dns::{Dns, DnsConfig, DnsSetupError};
use crate::net::fetch::FetchConfig;
use crate::net::policy::{self, unix_now};
use crate::net::sock::Peer;
use crate::net::target::{Security, Target};
use crate::net::tls::report::{ChainSource, Observed, TlsReport, TlsVerdict};
use crate::net::tls::{self, CertSummary};
use crate::transcript::{Event, Report};

/// How long a greeting may keep silent before smtpsh asks, on a second connection, whether
/// the port speaks TLS from the first byte.
pub const HINT_AFTER: Duration = Duration::from_secs(3);

/// How long that second connection may take.
const HINT_WAIT: Duration = Duration::from_secs(3);

/// The last handshake the verifier refused: its report, and where it was.
#[derive(Debug, Clone)]
pub(super) struct Refused {
    report: TlsReport,
    target: Target,
}

/// `host:port (address)` for a report's header.
fn server(target: &Target, peer: Option<&Peer>) -> String {
    let hp = if target.host.contains(':') {
        format!("[{}]:{}", target.host, target.port)
    } else {
        format!("{}:{}", target.host, target.port)
    };
    match peer.map(ToString::to_string) {
        Some(p) if p != hp => format!("{hp} ({p})"),
        _ => hp,
    }
}

impl Session {
    fn look_spec(&self, target: &Target, addr: Option<IpAddr>) -> Spec {
        Spec {
            target: target.clone(),
            addr,
            dial: self.config.dial.clone(),
            tls: self.config.tls.clone(),
            ehlo: self.config.ehlo_name.clone(),
            connect_timeout: self.config.connect_timeout,
            timeout: self.config.timeout,
        }
    }

    /// Emit a report.
    pub fn report(&mut self, report: Report) {
        self.emit(Event::Report { report });
    }

    /// After the verifier refused the server's certificate: show what the server presented
    /// (from the handshake's bytes in TLS 1.2; else from a second connection that sends
    /// nothing after its handshake) and why, and keep it for `:tls` and `:dane`.
    pub(super) fn refused(&mut self, e: &Error, target: &Target, addr: Option<IpAddr>) {
        let Error::Verify { name, reason, seen } = e else {
            return;
        };
        let now = unix_now();
        let negotiated = seen.negotiated.clone();
        let (observed, source, note) = match seen.chain.clone().filter(|c| !c.is_empty()) {
            Some(chain) => (
                Observed {
                    version: negotiated.as_ref().map(|n| n.version.clone()),
                    cipher: negotiated.as_ref().map(|n| n.cipher.clone()),
                    group: seen.group.clone(),
                    chain,
                    ocsp_stapled: Some(seen.ocsp_stapled),
                },
                ChainSource::Handshake,
                "the certificate was refused; what the server presented, from the handshake:"
                    .to_string(),
            ),
            None => {
                let spec = self.look_spec(target, addr);
                match look::chain(&spec, Then::Nothing) {
                    Ok(l) => {
                        let mut o = l.summary.observed();
                        if let Some(n) = &negotiated {
                            o.version = Some(n.version.clone());
                            o.cipher = Some(n.cipher.clone());
                            o.group = seen.group.clone();
                        }
                        let note = format!(
                            "the certificate was refused; what the server presented, from a second connection{} that sent nothing after its handshake:",
                            said(&l)
                        );
                        let source = if l.tls12 {
                            ChainSource::SecondConnection {
                                version: l.summary.version.clone(),
                                same_leaf: None,
                            }
                        } else {
                            ChainSource::LeafOnly {
                                tls12_refused: true,
                            }
                        };
                        (o, source, note)
                    }
                    Err(le) => {
                        self.warn(format!(
                            "the certificate was refused, and a second connection to see it failed too: {le}"
                        ));
                        return;
                    }
                }
            }
        };
        let found = observed
            .chain
            .first()
            .and_then(|leaf| tls::check_leaf(leaf, &target.host, &self.config.tls).problem);
        let verdict = TlsVerdict::Refused {
            name: name.clone(),
            reason: reason.clone(),
            found,
        };
        let peer = addr.map(|a| Peer::Tcp(std::net::SocketAddr::new(a, target.port)));
        let report = TlsReport::new(
            server(target, peer.as_ref()),
            observed,
            source,
            verdict,
            now,
        );
        self.note(note);
        self.report(Report::Tls(Box::new(report.clone())));
        self.last_refused = Some(Refused {
            report,
            target: target.clone(),
        });
    }

    /// Wait for the greeting of a plaintext connection; when the port keeps silent for
    /// [`HINT_AFTER`] without a byte, ask a second connection whether it speaks TLS from the
    /// first byte, and if it does, stop with the hint instead of waiting out `--timeout`.
    pub(super) fn read_greeting(
        &mut self,
        target: &Target,
    ) -> Result<crate::smtp::reply::Reply, Error> {
        let full = self.config.timeout;
        if target.security != Security::Plain || target.unix.is_some() || full <= HINT_AFTER * 2 {
            return self.read_reply();
        }
        match self.read_reply_within(HINT_AFTER) {
            Err(Error::Timeout { .. }) if !self.conn()?.has_pending()? => {}
            other => return other,
        }
        let addr = self
            .link
            .as_ref()
            .and_then(|l| Spec::addr_of(l.conn.peer()));
        let spec = self.look_spec(target, addr);
        if let Some(what) = look::speaks_tls(&spec, HINT_WAIT) {
            let e = Error::Tls(format!(
                "no greeting after {} s, and a second connection found that {}:{} speaks TLS from the first byte ({what}): it is an implicit-TLS port (SMTPS, RFC 8314); use --tls-on-connect (or smtps://{}:{}) instead",
                HINT_AFTER.as_secs(),
                target.host,
                target.port,
                target.host,
                target.port
            ));
            self.disconnect("the port speaks implicit TLS");
            return Err(e);
        }
        match self.read_reply_within(full.saturating_sub(HINT_AFTER)) {
            Err(Error::Timeout { .. }) => Err(Error::Timeout {
                secs: full.as_secs_f64(),
            }),
            other => other,
        }
    }

    /// The TLS of the live connection, or `None` without one.
    fn live_tls(&self) -> Option<(&CertSummary, Target, Peer, Option<&Looked>)> {
        let l = self.link.as_ref()?;
        let s = l.conn.tls()?;
        Some((
            s,
            l.target.clone(),
            l.conn.peer().clone(),
            l.fetched.as_ref(),
        ))
    }

    /// `:tls`: the report of the live connection's TLS, or of the last handshake the
    /// verifier refused when there is no live TLS.
    pub fn tls_report(&mut self) -> Result<TlsReport, Error> {
        let now = unix_now();
        if let Some((s, target, peer, fetched)) = self.live_tls() {
            let server = server(&target, Some(&peer));
            return Ok(match fetched {
                None => s.report(server, now),
                // The look was refused TLS 1.2: still the server's own certificate only.
                Some(f) if !f.tls12 => {
                    let (_, source) = s.chain();
                    let source = match source {
                        ChainSource::LeafOnly { .. } => ChainSource::LeafOnly {
                            tls12_refused: true,
                        },
                        other => other,
                    };
                    TlsReport::new(server, s.observed(), source, s.verdict(), now)
                }
                Some(f) => {
                    let (chain, _) = f.summary.chain();
                    let observed = Observed {
                        chain,
                        ocsp_stapled: f.summary.observed().ocsp_stapled,
                        ..s.observed()
                    };
                    let same = Some(f.summary.leaf.is_some() && f.summary.leaf == s.leaf);
                    TlsReport::new(
                        server,
                        observed,
                        ChainSource::SecondConnection {
                            version: f.summary.version.clone(),
                            same_leaf: same,
                        },
                        s.verdict(),
                        now,
                    )
                }
            });
        }
        if let Some(r) = &self.last_refused {
            let report = r.report.clone();
            self.note(format!(
                "no TLS on a live connection; the last handshake the verifier refused was with {}:",
                report.server
            ));
            return Ok(report);
        }
        if self.link.is_some() {
            return Err(Error::Mode(
                "no TLS on this connection: STARTTLS (or :starttls) first".into(),
            ));
        }
        Err(Error::NotConnected)
    }

    /// `:tls chain`: the chain TLS 1.3 hid, from a second connection capped at TLS 1.2
    /// (greeting, EHLO, STARTTLS for a STARTTLS target; then QUIT).
    pub fn fetch_chain(&mut self) -> Result<TlsReport, Error> {
        let Some((s, target, peer, _)) = self.live_tls() else {
            return self.tls_report();
        };
        if s.seen.chain.as_ref().is_some_and(|c| !c.is_empty()) {
            self.note("this handshake was TLS 1.2: the chain above is the one it sent, no second connection needed");
            return self.tls_report();
        }
        let spec = self.look_spec(&target, Spec::addr_of(&peer));
        let looked = look::chain(&spec, Then::Quit)?;
        if looked.tls12 {
            self.note(format!(
                "the chain, from a second connection capped at TLS 1.2{}",
                said(&looked)
            ));
        } else {
            self.note(format!(
                "the server refuses TLS 1.2, and TLS 1.3 encrypts the chain: only its own certificate can be seen; the second connection{}",
                said(&looked)
            ));
        }
        if let Some(l) = self.link.as_mut() {
            l.fetched = Some(looked);
        }
        self.tls_report()
    }

    /// `:tls save FILE`: the chain as PEM, leaf first. Returns how many certificates.
    pub fn save_chain(&mut self, path: &Path) -> Result<usize, Error> {
        let report = self.tls_report()?;
        std::fs::write(path, tls::report::pem_chain(&report.ders))
            .map_err(|source| Error::writing(Some(":tls save"), path, source))?;
        let n = report.ders.len();
        let what = match report.chain_source {
            ChainSource::LeafOnly {
                tls12_refused: false,
            } => " (the server's own only: TLS 1.3 hid the rest; :tls chain fetches it first)",
            ChainSource::LeafOnly {
                tls12_refused: true,
            } => " (the server's own only: TLS 1.3 hides the rest, and the server refuses TLS 1.2)",
            _ => "",
        };
        self.note(format!(
            "wrote {} as PEM to {}{what}",
            crate::transcript::counted(n as u64, "certificate"),
            path.display()
        ));
        Ok(n)
    }

    /// The validating resolver, as `--dns-server` and `--trust-anchor` say.
    pub fn dns(&self) -> Result<Dns, Error> {
        Dns::new(&DnsConfig {
            server: self.config.dns_server,
            timeout: self.config.timeout.min(Duration::from_secs(10)),
            trust_anchor: self.config.trust_anchor.clone(),
        })
        .map_err(|e| match e {
            DnsSetupError::TrustAnchor { .. } => Error::Usage(format!("--trust-anchor: {e}")),
            DnsSetupError::Resolver(_) => Error::Connect {
                target: "the DNS resolver".into(),
                why: std::io::Error::other(e.to_string()),
            },
        })
    }

    /// How MTA-STS policies are fetched: `--cafile` trusted besides the system's roots.
    pub fn fetch_config(&self) -> FetchConfig {
        let mut pem = Vec::new();
        if let Some(p) = &self.config.tls.cafile
            && let Ok(bytes) = std::fs::read(p)
        {
            pem.extend_from_slice(&bytes);
            pem.push(b'\n');
        }
        for r in &self.config.tls.extra_roots {
            pem.extend_from_slice(r.as_bytes());
            pem.push(b'\n');
        }
        FetchConfig {
            timeout: self.config.timeout.max(Duration::from_secs(10)),
            extra_ca_pem: (!pem.is_empty()).then_some(pem),
        }
    }

    /// What `:dane` and `:mta-sts` compare: the target, the chain known (and whether it is
    /// the server's own certificate only), the PKIX verdict, and where a second connection
    /// would go.
    fn known_chain(&self) -> Result<Known, Error> {
        if let Some((s, target, _, fetched)) = self.live_tls() {
            let (chain, source) = match fetched {
                Some(f) => f.summary.chain(),
                None => s.chain(),
            };
            return Ok(Known {
                target,
                leaf_only: matches!(source, ChainSource::LeafOnly { .. }),
                chain,
                pkix: s.verdict().problem(),
                verified: s.verdict().is_verified(),
            });
        }
        if let Some(l) = &self.link {
            return Ok(Known {
                target: l.target.clone(),
                leaf_only: false,
                chain: Vec::new(),
                pkix: None,
                verified: false,
            });
        }
        if let Some(r) = &self.last_refused {
            return Ok(Known {
                target: r.target.clone(),
                leaf_only: r.report.leaf_only(),
                chain: r.report.ders.clone(),
                pkix: r.report.verdict.problem(),
                verified: false,
            });
        }
        Err(Error::NotConnected)
    }

    /// `:dane`: the TLSA records of the connected host and port, DNSSEC-validated, matched
    /// against the chain. When only the server's own certificate is known (TLS 1.3) and a
    /// DANE-TA record needs the rest, the chain is fetched first (`:tls chain`).
    pub fn dane(&mut self) -> Result<DaneReport, Error> {
        let known = self.known_chain()?;
        let t = &known.target;
        if t.unix.is_some() {
            return Err(Error::Usage(
                ":dane: a Unix socket has no TLSA records".into(),
            ));
        }
        if t.host.parse::<IpAddr>().is_ok() {
            return Err(Error::Usage(format!(
                ":dane: TLSA records are published under a host name (_{}._tcp.HOST), and this connection was made to the address {}; connect by name (or with --mx DOMAIN)",
                t.port, t.host
            )));
        }
        let dns = self.dns()?;
        let now = unix_now();
        let report = policy::dane_report(&dns, &t.host, t.port, &known.chain, now);
        let wants_ta = report.checks.iter().any(|c| c.record.usage == 2)
            && !matches!(report.verdict, Verdict::Verified { .. });
        let tried = self.link.as_ref().is_none_or(|l| l.fetched.is_some());
        if known.leaf_only && wants_ta && !tried {
            self.note("a DANE-TA record needs the chain above the server's certificate, which TLS 1.3 hid: fetching it (as :tls chain does)");
            self.fetch_chain_quietly()?;
            let known = self.known_chain()?;
            return Ok(policy::dane_report(
                &dns,
                &known.target.host,
                known.target.port,
                &known.chain,
                now,
            ));
        }
        Ok(report)
    }

    /// [`Session::fetch_chain`] without showing the TLS report.
    fn fetch_chain_quietly(&mut self) -> Result<(), Error> {
        let Some((_, target, peer, _)) = self.live_tls() else {
            return Ok(());
        };
        let spec = self.look_spec(&target, Spec::addr_of(&peer));
        let looked = look::chain(&spec, Then::Quit)?;
        self.note(format!(
            "{}{}",
            if looked.tls12 {
                "the chain, from a second connection capped at TLS 1.2"
            } else {
                "the server refuses TLS 1.2, so the chain stays hidden; the second connection"
            },
            said(&looked),
        ));
        if let Some(l) = self.link.as_mut() {
            l.fetched = Some(looked);
        }
        Ok(())
    }

    /// `:mta-sts [DOMAIN]`: the domain's MTA-STS record and policy, checked against its MX
    /// hosts and this connection, and its TLS-RPT record. Without DOMAIN, the domain of
    /// `--mx DOMAIN`.
    pub fn mta_sts(&mut self, domain: Option<&str>) -> Result<(MtaStsReport, TlsRptReport), Error> {
        let domain = match domain {
            Some(d) => d.trim_end_matches('.').to_string(),
            None => self
                .link
                .as_ref()
                .and_then(|l| l.mx_domain.clone())
                .ok_or_else(|| {
                    Error::Usage(
                        ":mta-sts needs a DOMAIN (as in :mta-sts example.org) unless the session connected with --mx DOMAIN".into(),
                    )
                })?,
        };
        crate::smtp::command::check_value(":mta-sts", &domain)?;
        if domain.is_empty() || domain.contains([' ', '/', ':', '@']) {
            return Err(Error::Usage(format!(
                ":mta-sts {domain:?}: give a domain name, like example.org"
            )));
        }
        let dns = self.dns()?;
        let fetch = self.fetch_config();
        let known = self.known_chain().ok();
        let now = unix_now();
        let connected = known.as_ref().map(|k| Connected {
            host: &k.target.host,
            chain: &k.chain,
            pkix: if k.chain.is_empty() {
                None
            } else if k.verified {
                Some(Ok(()))
            } else {
                k.pkix.as_deref().map(Err)
            },
        });
        let sts = policy::mta_sts_report(&dns, &fetch, &domain, None, connected, now);
        let rpt = policy::tlsrpt_report(&dns, &domain);
        Ok((sts, rpt))
    }
}

/// What `:dane` and `:mta-sts` compare.
struct Known {
    target: Target,
    chain: Vec<Vec<u8>>,
    leaf_only: bool,
    /// Why the chain is not PKIX-verified, if it is not.
    pkix: Option<String>,
    verified: bool,
}

/// ` (it sent: EHLO x, STARTTLS, QUIT)`, or nothing for implicit TLS.
fn said(l: &Looked) -> String {
    l.said()
}
