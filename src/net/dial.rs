//! Reaching a target's socket: a Unix socket, or TCP to each of the target's addresses in
//! turn — resolved here or given (by an MX lookup) — restricted to IPv4 or IPv6 (`-4`,
//! `-6`), from a chosen local address (`--source`), and optionally through a SOCKS5 proxy
//! (`--proxy`, [`super::proxy`]).

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::proxy::Proxy;
use super::sock::{Peer, Sock};
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

/// How to reach targets, for the whole session.
#[derive(Debug, Clone, Default)]
pub struct DialOptions {
    /// `-4` / `-6`.
    pub family: Family,
    /// `--source ADDR`: the local address to connect from.
    pub source: Option<IpAddr>,
    /// `--proxy socks5://…`.
    pub proxy: Option<Proxy>,
}

impl DialOptions {
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
    fn restriction(&self) -> String {
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

/// Connect to `target`: its Unix socket, or each TCP address in turn (`addrs` when given,
/// else the host resolved by the system) within `timeout` each. Returns the socket and what
/// it reached; the error is the last attempt's.
pub fn dial(
    target: &Target,
    addrs: Option<&[IpAddr]>,
    opts: &DialOptions,
    timeout: Duration,
) -> io::Result<(Sock, Peer)> {
    if let Some(path) = &target.unix {
        if opts.proxy.is_some() {
            return Err(io::Error::other(
                "a Unix socket can't be reached through --proxy",
            ));
        }
        return unix(path);
    }
    if let Some(proxy) = &opts.proxy {
        return proxy.connect(target, addrs, opts, timeout);
    }
    let candidates = addresses(target, addrs, opts)?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to try");
    for addr in candidates {
        match tcp(addr, opts.source, timeout) {
            Ok(s) => return Ok((Sock::Tcp(s), Peer::Tcp(addr))),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(unix)]
fn unix(path: &std::path::Path) -> io::Result<(Sock, Peer)> {
    let s = UnixStream::connect(path)?;
    Ok((Sock::Unix(s), Peer::Unix(path.to_path_buf())))
}

/// Target::parse refuses `unix:` where there are no Unix sockets; this is for a Target
/// built by hand.
#[cfg(not(unix))]
fn unix(_: &std::path::Path) -> io::Result<(Sock, Peer)> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        super::target::UNIX_ONLY,
    ))
}

/// The addresses to try for `target`: given or resolved, filtered by `-4`/`-6`/`--source`.
pub fn addresses(
    target: &Target,
    addrs: Option<&[IpAddr]>,
    opts: &DialOptions,
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
        .filter(|a| opts.allows(&a.ip()))
        .collect();
    if kept.is_empty() {
        let shown: Vec<String> = all.iter().map(|a| a.ip().to_string()).collect();
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{} has no address of the family asked for ({}): only {}",
                target.host,
                opts.restriction(),
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
        let any = DialOptions::default();
        assert!(any.allows(&v4) && any.allows(&v6));
        let four = DialOptions {
            family: Family::V4,
            ..DialOptions::default()
        };
        assert!(four.allows(&v4) && !four.allows(&v6));
        let src6 = DialOptions {
            source: Some(v6),
            ..DialOptions::default()
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
