//! The SMTP half of the loopback test world: mail servers on port 25 (where DANE's
//! `_25._tcp` records and `--audit` look) of loopback addresses of their own, each a
//! [`TlsPeer`] serving a chain from the world's CA — TLS 1.3 (so that DANE-TA needs the chain
//! fetched over TLS 1.2), TLS 1.2, one without STARTTLS, and busy ones that greet with 421.
//! Each writes what every connection did to a file, so trials assert what the binary sent.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use super::common::{PeerMode, TlsPeer};

/// One mail server.
pub struct Mailer {
    /// The peer.
    pub peer: TlsPeer,
    /// Its address (port 25).
    pub ip: Ipv4Addr,
}

/// A loopback address whose port 25 is free, different for each `salt` (the listener is
/// dropped at once; the peer binds the address with SO_REUSEADDR).
fn free_25(salt: u32) -> Result<Ipv4Addr, String> {
    let l = super::https::bind_loopback(25, salt)?;
    match l.local_addr().map_err(|e| e.to_string())?.ip() {
        std::net::IpAddr::V4(ip) => Ok(ip),
        other => Err(format!("{other} is not IPv4")),
    }
}

/// Start a mail server in `dir` named `name`: `chain` and `key` (PEM) written there.
pub fn start(
    dir: &Path,
    name: &str,
    salt: u32,
    mode: PeerMode,
    max: &str,
    chain_pem: &str,
    key_pem: &str,
) -> Result<Mailer, String> {
    let ip = free_25(salt)?;
    let chain = dir.join(format!("{name}.chain.pem"));
    let key = dir.join(format!("{name}.key.pem"));
    std::fs::write(&chain, chain_pem).map_err(|e| e.to_string())?;
    std::fs::write(&key, key_pem).map_err(|e| e.to_string())?;
    let peer = TlsPeer::start_at(
        SocketAddr::from((ip, 25)),
        mode,
        "1.2",
        max,
        &chain,
        &key,
        Some(dir.join(format!("{name}.log.json"))),
    )
    .ok_or("python3 is not installed (apt-get install python3)")?;
    Ok(Mailer { peer, ip })
}
