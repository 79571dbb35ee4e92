//! DNS lookups with DNSSEC validation, for DANE, MTA-STS and TLS-RPT: TLSA records for
//! `_PORT._tcp.HOST`, TXT records (`_mta-sts.DOMAIN`, `_smtp._tls.DOMAIN`) and addresses,
//! each with the DNSSEC status of the answer (secure, insecure, bogus with the reason,
//! indeterminate). hickory's validating resolver does the validation; the resolver is the
//! system's or `--dns-server`'s, as for MX lookups (net::mx), and every lookup runs on the
//! small current-thread tokio runtime this value owns, so callers stay synchronous.
//!
//! Trust: the root's keys, as hickory ships them, plus an optional private trust anchor file
//! (net::anchor) for a lab zone or the test world.
//!
//! When hickory calls an answer bogus it does not say why. So the answer is fetched once
//! more with checking disabled (the CD bit, RFC 4035 §3.2.2, so a validating upstream still
//! hands it over) and the DNSSEC OK bit, and its signatures are examined here: missing,
//! expired, not yet valid, made by a key the zone doesn't publish, or not verifying over the
//! data. That second query goes over TCP to the same server.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::dnssec::rdata::{DNSSECRData, RRSIG};
use hickory_resolver::proto::dnssec::{Proof, PublicKey, TrustAnchors, Verifier};
use hickory_resolver::proto::op::{Edns, Message, Query};
use hickory_resolver::proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_resolver::proto::serialize::binary::BinEncodable;
use hickory_resolver::{Resolver, ResolverBuilder, TokioResolver};

use crate::diag::dnssec::Dnssec;
use crate::diag::tlsa::Tlsa;

use super::anchor;

/// Where and how to look.
#[derive(Debug, Clone, Default)]
pub struct DnsConfig {
    /// `--dns-server`, else the system's resolver (/etc/resolv.conf).
    pub server: Option<SocketAddr>,
    /// How long one query may take (zero: 5 s).
    pub timeout: Duration,
    /// A private trust anchor file (DS or DNSKEY records), trusted besides the root's keys.
    pub trust_anchor: Option<PathBuf>,
}

/// Why the resolver could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsSetupError {
    /// The runtime or the resolver configuration.
    #[error("cannot set up the resolver: {0}")]
    Resolver(String),
    /// The trust anchor file.
    #[error("trust anchor {file}: {why}")]
    TrustAnchor {
        /// The file.
        file: String,
        /// What is wrong with it, or with the zone it names.
        why: String,
    },
}

/// A lookup that gave no answer at all (timeout, SERVFAIL, REFUSED, network).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LookupFailed(pub String);

/// The records of one answer and their DNSSEC status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<T> {
    /// The records (empty: NODATA or NXDOMAIN).
    pub records: Vec<T>,
    /// The DNSSEC status of the records, or of the proof that there are none.
    pub dnssec: Dnssec,
    /// The name does not exist at all.
    pub nxdomain: bool,
}

/// A validating resolver.
pub struct Dns {
    rt: tokio::runtime::Runtime,
    resolver: TokioResolver,
    /// Where raw (diagnostic) queries go.
    servers: Vec<SocketAddr>,
    timeout: Duration,
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dns")
            .field("servers", &self.servers)
            .finish()
    }
}

fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0)
}

impl Dns {
    /// Set up the resolver, priming the private trust anchor if one is given.
    pub fn new(config: &DnsConfig) -> Result<Dns, DnsSetupError> {
        let fail = |e: &dyn std::fmt::Display| DnsSetupError::Resolver(e.to_string());
        let timeout = if config.timeout.is_zero() {
            Duration::from_secs(5)
        } else {
            config.timeout
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| fail(&e))?;
        let servers = match config.server {
            Some(addr) => vec![addr],
            None => {
                let (conf, _) =
                    hickory_resolver::system_conf::read_system_conf().map_err(|e| fail(&e))?;
                conf.name_servers()
                    .iter()
                    .map(|ns| SocketAddr::new(ns.ip, 53))
                    .collect()
            }
        };
        let mut anchors = TrustAnchors::default();
        if let Some(file) = &config.trust_anchor {
            let tfail = |why: String| DnsSetupError::TrustAnchor {
                file: file.display().to_string(),
                why,
            };
            let text = std::fs::read_to_string(file).map_err(|e| tfail(e.to_string()))?;
            let list = anchor::parse(&text).map_err(tfail)?;
            let mut zones: Vec<&str> = list.iter().map(|a| a.zone.as_str()).collect();
            zones.sort_unstable_by_key(|z| fqdn(z).to_ascii_lowercase());
            zones.dedup_by_key(|z| fqdn(z).to_ascii_lowercase());
            for zone in zones {
                let name = Name::from_ascii(fqdn(zone)).map_err(|e| tfail(e.to_string()))?;
                let keys: Vec<&anchor::AnchorKey> = list
                    .iter()
                    .filter(|a| fqdn(&a.zone).eq_ignore_ascii_case(&fqdn(zone)))
                    .map(|a| &a.key)
                    .collect();
                let reply = raw_query(&servers, &name, RecordType::DNSKEY, timeout)
                    .map_err(|e| tfail(format!("fetching {name} DNSKEY: {e}")))?;
                let trusted = anchor::prime(&name, &keys, &reply.answers, now()).map_err(tfail)?;
                for key in trusted {
                    anchors.insert_with_name(&key, name.clone().into());
                }
            }
        }
        let mut builder = builder(config.server, timeout).map_err(|e| fail(&e))?;
        builder.options_mut().validate = true;
        let resolver = builder
            .with_trust_anchor(Arc::new(anchors))
            .build()
            .map_err(|e| fail(&e))?;
        Ok(Dns {
            rt,
            resolver,
            servers,
            timeout,
        })
    }

    /// The servers queries go to.
    pub fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }

    /// TLSA records for `_PORT._tcp.HOST` (RFC 6698 §3): the name looked up and the answer.
    pub fn tlsa(&self, host: &str, port: u16) -> (String, Result<Answer<Tlsa>, LookupFailed>) {
        let name = format!("_{port}._tcp.{}", host.trim_end_matches('.'));
        let answer = self.lookup(&name, RecordType::TLSA).map(|a| Answer {
            records: a
                .records
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TLSA(t) => t.to_bytes().ok().and_then(|b| Tlsa::from_rdata(&b).ok()),
                    _ => None,
                })
                .collect(),
            dnssec: a.dnssec,
            nxdomain: a.nxdomain,
        });
        (name, answer)
    }

    /// TXT records of `name`, each record's strings joined (RFC 8461 §3.1, RFC 8460 §3).
    pub fn txt(&self, name: &str) -> Result<Answer<String>, LookupFailed> {
        self.lookup(name, RecordType::TXT).map(|a| Answer {
            records: a
                .records
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(t) => Some(
                        t.txt_data
                            .iter()
                            .map(|s| String::from_utf8_lossy(s))
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect(),
            dnssec: a.dnssec,
            nxdomain: a.nxdomain,
        })
    }

    /// MX records of `domain`: (preference, host without the final dot), in preference order.
    pub fn mx(&self, domain: &str) -> Result<Answer<(u16, String)>, LookupFailed> {
        self.lookup(domain, RecordType::MX).map(|a| {
            let mut records: Vec<(u16, String)> = a
                .records
                .iter()
                .filter_map(|r| match &r.data {
                    RData::MX(mx) => Some((
                        mx.preference,
                        mx.exchange.to_string().trim_end_matches('.').to_string(),
                    )),
                    _ => None,
                })
                .collect();
            records.sort();
            Answer {
                records,
                dnssec: a.dnssec,
                nxdomain: a.nxdomain,
            }
        })
    }

    /// The addresses of `host` (AAAA, then A), with the weaker of the two answers' status.
    pub fn addresses(&self, host: &str) -> Result<Answer<IpAddr>, LookupFailed> {
        let v6 = self.lookup(host, RecordType::AAAA)?;
        let v4 = self.lookup(host, RecordType::A)?;
        let mut records = Vec::new();
        for r in v6.records.iter().chain(&v4.records) {
            match &r.data {
                RData::AAAA(a) => records.push(IpAddr::V6(a.0)),
                RData::A(a) => records.push(IpAddr::V4(a.0)),
                _ => {}
            }
        }
        Ok(Answer {
            records,
            dnssec: v6.dnssec.weakest(v4.dnssec),
            nxdomain: v4.nxdomain && v6.nxdomain,
        })
    }

    /// One validated lookup: the answer records (CNAMEs included) and their status.
    fn lookup(&self, name: &str, rtype: RecordType) -> Result<Answer<Record>, LookupFailed> {
        let fqdn = fqdn(name);
        let result = self.rt.block_on(self.resolver.lookup(fqdn.as_str(), rtype));
        match result {
            Ok(l) => {
                let records: Vec<Record> = l
                    .answers()
                    .iter()
                    .filter(|r| r.record_type() != RecordType::RRSIG)
                    .cloned()
                    .collect();
                let dnssec = records
                    .iter()
                    .map(|r| proof(r.proof))
                    .reduce(Dnssec::weakest)
                    .unwrap_or(Dnssec::Indeterminate);
                let records = records
                    .into_iter()
                    .filter(|r| r.record_type() == rtype)
                    .collect();
                Ok(Answer {
                    records,
                    dnssec,
                    nxdomain: false,
                })
            }
            Err(NetError::Dns(DnsError::NoRecordsFound(nr))) => {
                // A denial is secure when the records that prove it (NSEC, NSEC3, SOA)
                // validated.
                let dnssec = nr
                    .authorities
                    .as_deref()
                    .unwrap_or(&[])
                    .iter()
                    .filter(|r| r.record_type() != RecordType::RRSIG)
                    .map(|r| proof(r.proof))
                    .reduce(Dnssec::weakest)
                    .unwrap_or(Dnssec::Indeterminate);
                Ok(Answer {
                    records: Vec::new(),
                    dnssec,
                    nxdomain: nr.response_code
                        == hickory_resolver::proto::op::ResponseCode::NXDomain,
                })
            }
            Err(NetError::Dns(DnsError::Nsec {
                proof: p, response, ..
            })) => Ok(Answer {
                records: Vec::new(),
                dnssec: proof(p),
                nxdomain: response.response_code
                    == hickory_resolver::proto::op::ResponseCode::NXDomain,
            }),
            Err(NetError::Dns(DnsError::DnssecBogus)) => {
                let (records, reason) = self.why_bogus(&fqdn, rtype);
                Ok(Answer {
                    records,
                    dnssec: Dnssec::Bogus { reason },
                    nxdomain: false,
                })
            }
            Err(e) => Err(LookupFailed(e.to_string())),
        }
    }

    /// Fetch `name`/`rtype` again with checking disabled and find out why it is bogus.
    fn why_bogus(&self, name: &str, rtype: RecordType) -> (Vec<Record>, String) {
        let Ok(qname) = Name::from_ascii(name) else {
            return (Vec::new(), "validation failed".into());
        };
        let reply = match raw_query(&self.servers, &qname, rtype, self.timeout) {
            Ok(m) => m,
            Err(e) => {
                return (
                    Vec::new(),
                    format!("validation failed ({e} on a second look)"),
                );
            }
        };
        let records: Vec<Record> = reply
            .answers
            .iter()
            .filter(|r| r.record_type() == rtype)
            .cloned()
            .collect();
        if !records.is_empty() {
            let reason = self.explain(&records, &reply.answers, now());
            return (records, reason);
        }
        // No records: the denial itself (its SOA, NSEC or NSEC3 records) is what failed.
        let Some(first) = reply
            .authorities
            .iter()
            .find(|r| r.record_type() != RecordType::RRSIG)
        else {
            return (
                Vec::new(),
                "validation failed, and a second look found no records".into(),
            );
        };
        let denial: Vec<Record> = reply
            .authorities
            .iter()
            .filter(|r| r.name == first.name && r.record_type() == first.record_type())
            .cloned()
            .collect();
        let reason = self.explain(&denial, &reply.authorities, now());
        (Vec::new(), format!("no {rtype} records, and {reason}"))
    }

    fn explain(&self, records: &[Record], answers: &[Record], now: u32) -> String {
        let Some(first) = records.first() else {
            return "validation failed, and a second look found no records".into();
        };
        let owner = first.name.clone();
        let rtype = first.record_type();
        let sigs: Vec<&RRSIG> = answers
            .iter()
            .filter(|r| r.name == owner)
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::RRSIG(s)) if s.input().type_covered == rtype => Some(s),
                _ => None,
            })
            .collect();
        if sigs.is_empty() {
            return format!(
                "the {rtype} records of {owner} carry no signature (RRSIG), but their zone is signed"
            );
        }
        let mut reasons = Vec::new();
        for sig in sigs {
            let input = sig.input();
            let signer = &input.signer_name;
            let tag = input.key_tag;
            if now > input.sig_expiration.get() {
                reasons.push(format!(
                    "the signature by {signer} key {tag} expired on {}",
                    crate::diag::cert::utc(i64::from(input.sig_expiration.get()))
                ));
                continue;
            }
            if now < input.sig_inception.get() {
                reasons.push(format!(
                    "the signature by {signer} key {tag} is not valid before {}",
                    crate::diag::cert::utc(i64::from(input.sig_inception.get()))
                ));
                continue;
            }
            let keys = match raw_query(&self.servers, signer, RecordType::DNSKEY, self.timeout) {
                Ok(m) => m.answers,
                Err(e) => {
                    reasons.push(format!("{signer}'s DNSKEY records can't be fetched: {e}"));
                    continue;
                }
            };
            let key = keys.iter().find_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::DNSKEY(k))
                    if k.calculate_key_tag().ok() == Some(tag)
                        && k.public_key().algorithm() == input.algorithm =>
                {
                    Some(k.clone())
                }
                _ => None,
            });
            let Some(key) = key else {
                reasons.push(format!(
                    "the records are signed with key {tag} ({}), which {signer} does not publish",
                    input.algorithm
                ));
                continue;
            };
            match key.verify_rrsig(&owner, DNSClass::IN, sig, records.iter()) {
                Err(_) => reasons.push(format!(
                    "the signature by {signer} key {tag} does not verify over the {rtype} records: they were changed after signing, or the signature is damaged"
                )),
                Ok(()) => reasons.push(format!(
                    "the signature by {signer} key {tag} verifies, but {signer}'s keys don't chain to a trust anchor (no matching DS record at the parent, or the wrong trust anchor)"
                )),
            }
        }
        reasons.dedup();
        reasons.join("; ")
    }
}

/// A resolver builder for `server` (`--dns-server`), else the system's configuration
/// (/etc/resolv.conf), with `timeout` for each query and two attempts: the one setup that MX
/// lookups (net::mx) and validated lookups share.
pub(super) fn builder(
    server: Option<SocketAddr>,
    timeout: Duration,
) -> Result<ResolverBuilder<TokioRuntimeProvider>, NetError> {
    let mut builder = match server {
        Some(addr) => {
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for c in &mut ns.connections {
                c.port = addr.port();
            }
            Resolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![ns]),
                TokioRuntimeProvider::default(),
            )
        }
        None => Resolver::builder_tokio()?,
    };
    let opts = builder.options_mut();
    opts.timeout = timeout;
    opts.attempts = 2;
    Ok(builder)
}

fn proof(p: Proof) -> Dnssec {
    match p {
        Proof::Secure => Dnssec::Secure,
        Proof::Insecure => Dnssec::Insecure,
        Proof::Bogus => Dnssec::Bogus {
            reason: "the validator rejected the signatures".into(),
        },
        _ => Dnssec::Indeterminate,
    }
}

/// One query over TCP with the DNSSEC OK and checking-disabled bits, to the first server
/// that answers: the DNSSEC records as published, for priming and for saying why.
fn raw_query(
    servers: &[SocketAddr],
    name: &Name,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Message, String> {
    let mut msg = Message::query();
    msg.add_query(Query::query(name.clone(), rtype));
    msg.metadata.recursion_desired = true;
    msg.metadata.checking_disabled = true;
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true);
    edns.set_max_payload(4096);
    msg.set_edns(edns);
    let wire = msg.to_vec().map_err(|e| e.to_string())?;
    let len = u16::try_from(wire.len()).map_err(|_| "query too long".to_string())?;
    let mut last = "no DNS server".to_string();
    for server in servers {
        let attempt = (|| -> std::io::Result<Vec<u8>> {
            let mut s = TcpStream::connect_timeout(server, timeout)?;
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))?;
            let mut out = len.to_be_bytes().to_vec();
            out.extend_from_slice(&wire);
            s.write_all(&out)?;
            let mut n = [0u8; 2];
            s.read_exact(&mut n)?;
            let mut body = vec![0u8; usize::from(u16::from_be_bytes(n))];
            s.read_exact(&mut body)?;
            Ok(body)
        })();
        match attempt {
            Ok(body) => {
                let reply = Message::from_vec(&body).map_err(|e| e.to_string())?;
                if reply.metadata.id != msg.metadata.id {
                    last = format!("{server}: the reply's id does not match");
                    continue;
                }
                return Ok(reply);
            }
            Err(e) => last = format!("{server}: {e}"),
        }
    }
    Err(last)
}
