//! Which addresses of a target to try and how to open TCP to one: the target's host
//! resolved here or addresses given (by an MX lookup), kept to IPv4 or IPv6 (`-4`, `-6`) and
//! to the family of a chosen local address (`--source`), and a TCP connect within a
//! deadline from that address. Used by [`super::dial`] for direct connections and by
//! [`super::proxy`] to reach the proxy (so neither imports the other's internals).

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::target::Target;

/// Which address family to use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Family {
    /// Either, in the resolver's order.
    #[default]
    Any,
    /// IPv4 only (`-4`).
    V4,
    /// IPv6 only (`-6`).
    V6,
}

/// The rule addresses must follow: `-4`/`-6` and `--source`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Route {
    /// `-4` / `-6`.
    pub family: Family,
    /// `--source ADDR`: the local address to connect from.
    pub source: Option<IpAddr>,
}

impl Route {
    /// Whether `addr` may be used: the family asked for, and the source address's family.
    pub fn allows(&self, addr: &IpAddr) -> bool {
        let family_ok = match self.family {
            Family::Any => true,
            Family::V4 => addr.is_ipv4(),
            Family::V6 => addr.is_ipv6(),
        };
        family_ok && self.source.is_none_or(|s| s.is_ipv4() == addr.is_ipv4())
    }

    /// Why an address of the other family is left out, for messages.
    pub(super) fn restriction(&self) -> String {
        match (self.family, self.source) {
            (Family::V4, _) => "-4".to_string(),
            (Family::V6, _) => "-6".to_string(),
            (Family::Any, Some(s)) => {
                format!("--source {s} is IPv{}", if s.is_ipv4() { 4 } else { 6 })
            }
            (Family::Any, None) => String::new(),
        }
    }
}

/// The addresses to try for `target`: given or resolved, filtered by `-4`/`-6`/`--source`.
pub fn addresses(
    target: &Target,
    addrs: Option<&[IpAddr]>,
    route: &Route,
) -> io::Result<Vec<SocketAddr>> {
    let all: Vec<SocketAddr> = match addrs {
        Some(a) => a
            .iter()
            .map(|ip| SocketAddr::new(*ip, target.port))
            .collect(),
        None => (target.host.as_str(), target.port)
            .to_socket_addrs()?
            .collect(),
    };
    if all.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the name resolved to no address",
        ));
    }
    let kept: Vec<SocketAddr> = all
        .iter()
        .copied()
        .filter(|a| route.allows(&a.ip()))
        .collect();
    if kept.is_empty() {
        let shown: Vec<String> = all.iter().map(|a| a.ip().to_string()).collect();
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{} has no address of the family asked for ({}): only {}",
                target.host,
                route.restriction(),
                shown.join(", ")
            ),
        ));
    }
    Ok(kept)
}

/// A TCP connection to `addr` within `timeout`, bound first to `source` when given.
pub fn tcp(addr: SocketAddr, source: Option<IpAddr>, timeout: Duration) -> io::Result<TcpStream> {
    let Some(src) = source else {
        return TcpStream::connect_timeout(&addr, timeout);
    };
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.bind(&SocketAddr::new(src, 0).into())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot bind --source {src}: {e}")))?;
    sock.connect_timeout(&addr.into(), timeout)?;
    Ok(sock.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_sources_filter_addresses() {
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let v6: IpAddr = "::1".parse().unwrap();
        let any = Route::default();
        assert!(any.allows(&v4) && any.allows(&v6));
        let four = Route {
            family: Family::V4,
            ..Route::default()
        };
        assert!(four.allows(&v4) && !four.allows(&v6));
        let src6 = Route {
            source: Some(v6),
            ..Route::default()
        };
        assert!(!src6.allows(&v4) && src6.allows(&v6));
        let t = Target::parse("[::1]:25", None, false).unwrap();
        let e = addresses(&t, None, &four).unwrap_err();
        assert!(e.to_string().contains("(-4): only ::1"), "{e}");
        let t = Target::parse("127.0.0.1:25", None, false).unwrap();
        assert_eq!(
            addresses(&t, Some(&[v6, v4]), &any).unwrap(),
            ["[::1]:25".parse().unwrap(), "127.0.0.1:25".parse().unwrap()]
        );
    }
}
