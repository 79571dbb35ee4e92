//! `--mx DOMAIN` and `:connect --mx DOMAIN`: look up where DOMAIN's mail goes, show it, and
//! connect to the most preferred server that answers, falling back to the next on a
//! connection failure (RFC 5321 §5.1). A domain that does not exist, has a null MX (RFC
//! 7505) or no reachable server is a network failure (exit 3): there is nowhere to connect.

use std::io;

use super::Session;
use crate::error::Error;
use crate::net::dial::Family;
use crate::net::mx::{self, MailServers, MxHost};
use crate::net::target::{LMTP_PORT, Security, Target};
use crate::smtp::reply::Reply;

/// "Nowhere to connect": a network failure (exit 3) naming the domain.
fn nowhere(domain: &str, why: String) -> Error {
    Error::Connect {
        target: format!("the mail servers of {domain}"),
        why: io::Error::new(io::ErrorKind::NotFound, why),
    }
}

impl Session {
    /// Look up `domain`'s MX records and connect to the first server, in preference order,
    /// that accepts a connection; `port` (`-p`) or 25 (465 with implicit TLS). Returns the
    /// greeting.
    pub fn connect_mx(
        &mut self,
        domain: &str,
        port: Option<u16>,
        implicit_tls: bool,
        lmtp: bool,
        insecure: bool,
    ) -> Result<Reply, Error> {
        let domain = domain.trim_end_matches('.');
        crate::smtp::command::check_value("--mx", domain)?;
        if domain.is_empty() || domain.contains([' ', '/', ':', '@']) {
            return Err(Error::Usage(format!(
                "--mx {domain:?}: give a domain name, like example.org"
            )));
        }
        self.end("looking up MX");
        let dial = &self.config.dial;
        let family = match (dial.family, dial.source) {
            (Family::Any, Some(s)) if s.is_ipv4() => Family::V4,
            (Family::Any, Some(_)) => Family::V6,
            (f, _) => f,
        };
        let server = self.config.dns_server;
        let how = mx::Lookup {
            server,
            family,
            timeout: self.config.connect_timeout,
        };
        let via = server.map_or("the system resolver".to_string(), |s| s.to_string());
        let answer = match mx::mail_servers(domain, how) {
            Ok(a) => a,
            Err(e) => return Err(nowhere(domain, format!("{e} (asked {via})"))),
        };
        let mut hosts = match answer {
            MailServers::NullMx => {
                self.note(format!("MX for {domain} (via {via}): 0 . (a null MX)"));
                return Err(nowhere(
                    domain,
                    "this domain accepts no mail: it publishes a null MX (RFC 7505)".into(),
                ));
            }
            MailServers::Implicit(h) => {
                self.note(format!(
                    "{domain} has no MX records (via {via}): its own address is its mail server (RFC 5321 §5.1)"
                ));
                vec![h]
            }
            MailServers::Mx(hosts) => {
                self.note(format!(
                    "MX for {domain} (via {via}), most preferred first:"
                ));
                hosts
            }
        };
        mx::shuffle_equal_preferences(&mut hosts, random_byte);
        for h in &hosts {
            self.note(format!(
                "  {:>5} {}  {}",
                h.preference,
                h.name,
                addresses(h)
            ));
        }
        if hosts.windows(2).any(|w| w[0].preference == w[1].preference) {
            self.note("  (hosts of equal preference are tried in random order, RFC 5321 §5.1)");
        }
        let security = if implicit_tls {
            Security::Implicit
        } else {
            Security::Plain
        };
        let port = port.unwrap_or(match security {
            Security::Implicit => 465,
            Security::Plain if lmtp => LMTP_PORT,
            Security::Plain => 25,
        });
        let mut last = None;
        for h in hosts.iter().filter(|h| !h.addrs.is_empty()) {
            let target = Target {
                host: h.name.clone(),
                port,
                security,
                lmtp,
                unix: None,
            };
            match self.connect_to(&target, Some(&h.addrs), insecure) {
                Err(Error::Connect {
                    target,
                    why: source,
                }) => {
                    self.warn(format!(
                        "could not connect to {target}: {source}; trying the next MX"
                    ));
                    last = Some(source);
                }
                Ok(greeting) => {
                    if let Some(l) = self.link.as_mut() {
                        l.mx_domain = Some(domain.to_string());
                    }
                    return Ok(greeting);
                }
                other => return other,
            }
        }
        Err(nowhere(
            domain,
            match last {
                Some(e) => format!("no MX host took a connection (the last: {e})"),
                None => "no MX host has an address".into(),
            },
        ))
    }
}

fn addresses(h: &MxHost) -> String {
    if h.addrs.is_empty() {
        return format!(
            "(skipped: {})",
            h.problem.as_deref().unwrap_or("no address")
        );
    }
    h.addrs
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn random_byte() -> u8 {
    let mut b = [0u8; 1];
    // A failure of the RNG only makes the order less random.
    let _ = getrandom::fill(&mut b);
    b[0]
}
