//! MX lookups (RFC 5321 §5.1, RFC 7505) with hickory-resolver: the domain's MX hosts by
//! preference, each with its addresses; the domain itself when it has no MX (the "implicit
//! MX"); and the null MX that says a domain accepts no mail. The resolver is the system's or
//! the one given by `--dns-server`, set up by the same code as net::dns. hickory is
//! asynchronous: each lookup runs on a small current-thread tokio runtime made for it, so the
//! rest of smtpsh stays synchronous.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::RData;

use super::dial::Family;

/// One mail server of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHost {
    /// The MX preference (lower first); 0 for the implicit MX.
    pub preference: u16,
    /// The host name, without the final dot.
    pub name: String,
    /// Its addresses (AAAA first, then A, as looked up), of the families allowed.
    pub addrs: Vec<IpAddr>,
    /// Why it has no address, when it has none.
    pub problem: Option<String>,
}

/// What a domain's DNS says about where its mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailServers {
    /// MX records, most preferred first.
    Mx(Vec<MxHost>),
    /// No MX records: the domain's own address is its mail server (RFC 5321 §5.1).
    Implicit(MxHost),
    /// A null MX (`0 .`): the domain accepts no mail (RFC 7505).
    NullMx,
}

/// Why a lookup gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MxError {
    /// NXDOMAIN.
    #[error("{0} does not exist (NXDOMAIN)")]
    NoSuchDomain(String),
    /// The resolver failed (timeout, SERVFAIL, refused, a bad name).
    #[error("the DNS lookup failed: {0}")]
    Lookup(String),
}

/// Where and how to look.
#[derive(Debug, Clone, Copy)]
pub struct Lookup {
    /// `--dns-server`, else the system's resolver (/etc/resolv.conf).
    pub server: Option<SocketAddr>,
    /// Which addresses to look up for each host (`-4`, `-6`, `--source`).
    pub family: Family,
    /// How long one query may take.
    pub timeout: Duration,
}

/// Look up `domain`'s mail servers.
pub fn mail_servers(domain: &str, how: Lookup) -> Result<MailServers, MxError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| MxError::Lookup(format!("cannot start the resolver: {e}")))?;
    rt.block_on(async {
        let resolver = resolver(how)?;
        // A final dot: the name as typed, never a search-list variant of it.
        let fqdn = format!("{}.", domain.trim_end_matches('.'));
        let records = match resolver.mx_lookup(fqdn.as_str()).await {
            Ok(l) => l
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::MX(mx) => Some((mx.preference, mx.exchange.clone())),
                    _ => None,
                })
                .collect::<Vec<_>>(),
            Err(e) if e.is_nx_domain() => return Err(MxError::NoSuchDomain(domain.to_string())),
            Err(e) if e.is_no_records_found() => Vec::new(),
            Err(e) => return Err(MxError::Lookup(e.to_string())),
        };
        // RFC 7505 §3: a null MX is the one MX record, with the root as exchange.
        if records.iter().any(|(_, x)| x.is_root()) && records.len() == 1 {
            return Ok(MailServers::NullMx);
        }
        if records.is_empty() {
            let host = host(&resolver, 0, &fqdn, how.family).await;
            return Ok(MailServers::Implicit(host));
        }
        let mut records: Vec<_> = records.into_iter().filter(|(_, x)| !x.is_root()).collect();
        records.sort_by_key(|(p, _)| *p);
        let mut hosts = Vec::with_capacity(records.len());
        for (pref, name) in records {
            hosts.push(host(&resolver, pref, &name.to_string(), how.family).await);
        }
        Ok(MailServers::Mx(hosts))
    })
}

fn resolver(how: Lookup) -> Result<TokioResolver, MxError> {
    let fail = |e: &dyn std::fmt::Display| MxError::Lookup(format!("resolver setup: {e}"));
    super::dns::builder(how.server, how.timeout)
        .map_err(|e| fail(&e))?
        .build()
        .map_err(|e| fail(&e))
}

/// The addresses of one host, of the families allowed.
async fn host(resolver: &TokioResolver, preference: u16, name: &str, family: Family) -> MxHost {
    let mut addrs = Vec::new();
    let mut problems = Vec::new();
    if family != Family::V4 {
        match resolver.ipv6_lookup(name).await {
            Ok(l) => addrs.extend(l.answers().iter().filter_map(|r| match &r.data {
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })),
            Err(e) if e.is_no_records_found() => {}
            Err(e) => problems.push(e.to_string()),
        }
    }
    if family != Family::V6 {
        match resolver.ipv4_lookup(name).await {
            Ok(l) => addrs.extend(l.answers().iter().filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                _ => None,
            })),
            Err(e) if e.is_no_records_found() => {}
            Err(e) => problems.push(e.to_string()),
        }
    }
    let problem = addrs.is_empty().then(|| {
        if problems.is_empty() {
            match family {
                Family::V4 => "no A record".to_string(),
                Family::V6 => "no AAAA record".to_string(),
                Family::Any => "no A or AAAA record".to_string(),
            }
        } else {
            problems.join("; ")
        }
    });
    MxHost {
        preference,
        name: name.trim_end_matches('.').to_string(),
        addrs,
        problem,
    }
}

/// RFC 5321 §5.1: hosts of equal preference are tried in random order (to spread the load);
/// `random` gives one random byte per call.
pub fn shuffle_equal_preferences(hosts: &mut [MxHost], mut random: impl FnMut() -> u8) {
    let mut start = 0;
    while start < hosts.len() {
        let pref = hosts[start].preference;
        let end = start
            + hosts[start..]
                .iter()
                .take_while(|h| h.preference == pref)
                .count();
        // Fisher–Yates on hosts[start..end].
        for i in (start + 1..end).rev() {
            let j = start + usize::from(random()) % (i - start + 1);
            hosts.swap(i, j);
        }
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(p: u16, n: &str) -> MxHost {
        MxHost {
            preference: p,
            name: n.into(),
            addrs: vec![],
            problem: None,
        }
    }

    #[test]
    fn shuffling_keeps_preference_order() {
        let mut seed = 7u8;
        for _ in 0..50 {
            let mut hosts = vec![h(10, "a"), h(10, "b"), h(20, "c"), h(30, "d"), h(30, "e")];
            shuffle_equal_preferences(&mut hosts, || {
                seed = seed.wrapping_mul(31).wrapping_add(17);
                seed
            });
            let prefs: Vec<u16> = hosts.iter().map(|h| h.preference).collect();
            assert_eq!(prefs, [10, 10, 20, 30, 30]);
            assert_eq!(hosts[2].name, "c");
            let mut names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
            names.sort();
            assert_eq!(names, ["a", "b", "c", "d", "e"]);
        }
    }
}
