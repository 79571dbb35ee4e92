//! How students reach the practice server: the addresses it listens on (each interface's
//! addresses when it listens on `0.0.0.0` or `::`), `localhost` when it serves loopback,
//! this machine's host name when that leads to an address it serves, and names the teacher
//! gives (`--cert-name`). The certificate names them all ([`super::cert::practice_spec`]),
//! so whichever a student types verifies; the banner of `--serve` prints a student command
//! for each ([`Reach::ways_in`]).
//!
//! Interface addresses come from if-addrs (getifaddrs(3) on Unix, GetAdaptersAddresses on
//! Windows), link-local ones left out: an IPv6 link-local address needs a zone
//! (`fe80::1%eth0`) that a certificate can't name. Interfaces that are down are left out
//! too.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs as _};

/// Where a server is reached. See the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// The addresses it serves that a client can connect to: non-loopback first, in the
    /// order the system lists them, then loopback.
    pub addrs: Vec<IpAddr>,
    /// This machine's host name (when it is a DNS name and the server listens beyond
    /// loopback), whether or not it resolves.
    pub host: Option<String>,
    /// Whether the host name resolves, here, to a non-loopback address the server serves:
    /// only then is it a way in for the class.
    pub host_leads_here: bool,
    /// Names the teacher gave (`--cert-name`), lower-case.
    pub given: Vec<String>,
}

impl Reach {
    /// Where a server listening on `listen` is reached. `dual_stack`: an unspecified IPv6
    /// address serves IPv4 too (`IPV6_V6ONLY` off, the Linux and macOS default). `given`:
    /// more names, from the teacher.
    pub fn of(listen: SocketAddr, dual_stack: bool, given: &[String]) -> Reach {
        let interfaces = if listen.ip().is_unspecified() {
            interface_addrs()
        } else {
            Vec::new()
        };
        // On loopback only this machine connects, by address or `localhost`; elsewhere the
        // class may use the host name.
        let host = if listen.ip().is_loopback() {
            None
        } else {
            gethostname::gethostname()
                .into_string()
                .ok()
                .map(|h| h.to_ascii_lowercase())
                .filter(|h| super::cert::is_dns_name(h) && h != "localhost")
        };
        Reach::from_parts(
            listen.ip(),
            dual_stack,
            &interfaces,
            host,
            &|name| {
                (name, listen.port())
                    .to_socket_addrs()
                    .map(|a| a.map(|a| a.ip()).collect())
                    .unwrap_or_default()
            },
            given,
        )
    }

    /// [`Reach::of`] with the machine's facts given: its interface addresses, its host name
    /// and a resolver (a test gives its own).
    pub fn from_parts(
        listen: IpAddr,
        dual_stack: bool,
        interfaces: &[IpAddr],
        host: Option<String>,
        resolve: &dyn Fn(&str) -> Vec<IpAddr>,
        given: &[String],
    ) -> Reach {
        let mut addrs: Vec<IpAddr> = if listen.is_unspecified() {
            interfaces
                .iter()
                .copied()
                .filter(|a| match (listen, a) {
                    (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => true,
                    (IpAddr::V6(_), IpAddr::V4(_)) => dual_stack,
                    (IpAddr::V4(_), IpAddr::V6(_)) => false,
                })
                .collect()
        } else {
            vec![listen]
        };
        let mut seen = Vec::new();
        addrs.retain(|a| {
            let new = !seen.contains(a);
            seen.push(*a);
            new
        });
        // Loopback last: the class comes over the network; loopback is the teacher's own.
        addrs.sort_by_key(IpAddr::is_loopback);
        let host_leads_here = host.as_deref().is_some_and(|h| {
            resolve(h)
                .iter()
                .any(|a| !a.is_loopback() && addrs.contains(a))
        });
        let given = given
            .iter()
            .map(|n| n.to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .fold(Vec::new(), |mut v, n| {
                if !v.contains(&n) {
                    v.push(n);
                }
                v
            });
        Reach {
            addrs,
            host,
            host_leads_here,
            given,
        }
    }

    /// What a student may type as the host, in the order the banner lists them: the
    /// network's addresses, the host name (when it leads here), the names given, then this
    /// machine's own (loopback addresses and `localhost`). IPv6 addresses are bare; the
    /// caller adds brackets and the port.
    pub fn ways_in(&self) -> Vec<String> {
        let (remote, local): (Vec<&IpAddr>, Vec<&IpAddr>) =
            self.addrs.iter().partition(|a| !a.is_loopback());
        let mut out: Vec<String> = remote.iter().map(|a| a.to_string()).collect();
        if self.host_leads_here
            && let Some(h) = &self.host
        {
            out.push(h.clone());
        }
        for g in &self.given {
            if !out.contains(g) {
                out.push(g.clone());
            }
        }
        out.extend(local.iter().map(|a| a.to_string()));
        // `localhost` leads to 127.0.0.1 or ::1 (smtpsh tries each address of a name).
        let serves_localhost = local.iter().any(|a| {
            *a == &IpAddr::from([127, 0, 0, 1])
                || *a == &IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
        });
        if serves_localhost && !out.iter().any(|w| w == "localhost") {
            out.push("localhost".into());
        }
        out
    }
}

/// This machine's interface addresses: up, not link-local.
fn interface_addrs() -> Vec<IpAddr> {
    if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| {
            !matches!(
                i.oper_status,
                if_addrs::IfOperStatus::Down
                    | if_addrs::IfOperStatus::NotPresent
                    | if_addrs::IfOperStatus::LowerLayerDown
            )
        })
        .map(|i| i.ip())
        .filter(|ip| match ip {
            IpAddr::V4(v4) => !v4.is_link_local(),
            IpAddr::V6(v6) => !v6.is_unicast_link_local(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const IFACES: [&str; 5] = ["127.0.0.1", "::1", "192.0.2.2", "fd00::2", "198.51.100.9"];

    fn ifaces() -> Vec<IpAddr> {
        IFACES.iter().map(|s| ip(s)).collect()
    }

    fn resolver(table: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Vec<IpAddr> {
        move |name| {
            table
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, a)| ip(a))
                .collect()
        }
    }

    #[test]
    fn any_ipv4_address_is_every_ipv4_interface() {
        let r = Reach::from_parts(
            ip("0.0.0.0"),
            false,
            &ifaces(),
            Some("teacher".into()),
            &resolver(&[("teacher", "192.0.2.2")]),
            &["Mail.Class.Example".into()],
        );
        assert_eq!(
            r.addrs,
            [ip("192.0.2.2"), ip("198.51.100.9"), ip("127.0.0.1")]
        );
        assert!(r.host_leads_here);
        assert_eq!(
            r.ways_in(),
            [
                "192.0.2.2",
                "198.51.100.9",
                "teacher",
                "mail.class.example",
                "127.0.0.1",
                "localhost"
            ]
        );
    }

    #[test]
    fn any_ipv6_address_is_every_interface_when_dual_stack() {
        let r = Reach::from_parts(ip("::"), true, &ifaces(), None, &resolver(&[]), &[]);
        assert_eq!(
            r.ways_in(),
            [
                "192.0.2.2",
                "fd00::2",
                "198.51.100.9",
                "127.0.0.1",
                "::1",
                "localhost"
            ]
        );
        let v6 = Reach::from_parts(ip("::"), false, &ifaces(), None, &resolver(&[]), &[]);
        assert_eq!(v6.ways_in(), ["fd00::2", "::1", "localhost"]);
    }

    // Debian maps the host name to 127.0.1.1: no way in for the class.
    #[test]
    fn a_host_name_counts_only_when_it_leads_to_an_address_served() {
        let r = Reach::from_parts(
            ip("0.0.0.0"),
            false,
            &ifaces(),
            Some("vm".into()),
            &resolver(&[("vm", "127.0.1.1")]),
            &[],
        );
        assert!(!r.host_leads_here);
        assert!(!r.ways_in().contains(&"vm".to_string()));
        assert_eq!(
            r.host.as_deref(),
            Some("vm"),
            "still named in the certificate"
        );
    }

    // See: issue 14, `--serve 127.0.0.2:2601` printed a command that failed with "IP
    // address mismatch".
    #[test]
    fn a_specific_address_is_the_only_one() {
        let r = Reach::from_parts(
            ip("127.0.0.2"),
            false,
            &ifaces(),
            Some("teacher".into()),
            &resolver(&[("teacher", "192.0.2.2")]),
            &[],
        );
        assert_eq!(r.addrs, [ip("127.0.0.2")]);
        assert_eq!(r.ways_in(), ["127.0.0.2"], "localhost leads elsewhere");
        let r = Reach::from_parts(ip("127.0.0.1"), false, &[], None, &resolver(&[]), &[]);
        assert_eq!(r.ways_in(), ["127.0.0.1", "localhost"]);
    }

    #[test]
    fn this_machine_has_interfaces() {
        let found = interface_addrs();
        assert!(found.iter().any(IpAddr::is_loopback), "{found:?}");
    }
}
