//! Reaching a target's socket: a Unix socket, or TCP to each of the target's addresses in
//! turn — resolved here or given (by an MX lookup) — restricted to IPv4 or IPv6 (`-4`,
//! `-6`), from a chosen local address (`--source`), and optionally through a SOCKS5 proxy
//! (`--proxy`, [`super::proxy`]).

use std::io;
use std::net::IpAddr;
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::proxy::Proxy;
pub use super::route::Family;
use super::route::{Route, addresses, tcp};
use super::sock::{Peer, Sock};
use super::target::Target;

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
    /// The address rule (`-4`/`-6`, `--source`) without the proxy.
    pub fn route(&self) -> Route {
        Route {
            family: self.family,
            source: self.source,
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
        return proxy.connect(target, addrs, &opts.route(), timeout);
    }
    let candidates = addresses(target, addrs, &opts.route())?;
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
