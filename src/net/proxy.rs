//! A SOCKS5 client (RFC 1928), enough to reach a mail server from a jump host: no
//! authentication (method 0x00), the CONNECT command, IPv4, IPv6 and domain-name
//! destinations. `socks5h://` lets the proxy resolve the name (the jump host's DNS sees what
//! the server sees); `socks5://` resolves here and asks for each address in turn, as curl
//! does.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::route::{self, Route};
use super::sock::{Peer, Sock};
use super::target::Target;

/// The port a SOCKS proxy listens on by convention.
pub const SOCKS_PORT: u16 = 1080;

/// `--proxy socks5://host[:port]` or `socks5h://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// The proxy's host.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// `socks5h`: the proxy resolves the target's name.
    pub remote_dns: bool,
}

impl Proxy {
    /// Parse a proxy URL.
    pub fn parse(s: &str) -> Result<Proxy, String> {
        let bad = |why: &str| {
            format!(
                "bad --proxy {s:?}: {why} (expected socks5://host[:port] or socks5h://host[:port])"
            )
        };
        let lower = s.to_ascii_lowercase();
        let (rest, remote_dns) = if lower.starts_with("socks5h://") {
            (&s[10..], true)
        } else if lower.starts_with("socks5://") {
            (&s[9..], false)
        } else {
            return Err(bad("only SOCKS5 is supported"));
        };
        if rest.contains('@') {
            return Err(bad(
                "proxy credentials are not supported (and never go on a command line)",
            ));
        }
        let t = Target::parse(rest, None, false).map_err(|e| bad(&e.to_string()))?;
        let port = if rest
            .trim_end_matches('/')
            .ends_with(&format!(":{}", t.port))
        {
            t.port
        } else {
            SOCKS_PORT
        };
        Ok(Proxy {
            host: t.host,
            port,
            remote_dns,
        })
    }

    /// Connect to `target` through the proxy: a TCP connection to the proxy (with the
    /// session's `-4`/`-6`/`--source`), then CONNECT. With `socks5h` and no given addresses
    /// the name goes to the proxy; otherwise each address in turn, each over a new proxy
    /// connection.
    pub fn connect(
        &self,
        target: &Target,
        addrs: Option<&[IpAddr]>,
        route: &Route,
        timeout: Duration,
    ) -> io::Result<(Sock, Peer)> {
        let literal = target.host.parse::<IpAddr>().ok();
        if self.remote_dns && addrs.is_none() && literal.is_none() {
            let dest = Dest::Name(target.host.clone());
            return self.via(&dest, target.port, route, timeout);
        }
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to try");
        for a in route::addresses(target, addrs, route)? {
            match self.via(&Dest::Ip(a.ip()), a.port(), route, timeout) {
                Ok(ok) => return Ok(ok),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn via(
        &self,
        dest: &Dest,
        port: u16,
        route: &Route,
        timeout: Duration,
    ) -> io::Result<(Sock, Peer)> {
        let proxy_target = Target::parse(&self.host, Some(self.port), false)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the proxy has no address");
        for addr in route::addresses(&proxy_target, None, route)? {
            let mut s = match route::tcp(addr, route.source, timeout) {
                Ok(s) => s,
                Err(e) => {
                    last = io::Error::new(
                        e.kind(),
                        format!("cannot reach the SOCKS5 proxy {addr}: {e}"),
                    );
                    continue;
                }
            };
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))?;
            handshake(&mut s, dest, port)
                .map_err(|e| io::Error::new(e.kind(), format!("SOCKS5 proxy {addr}: {e}")))?;
            s.set_read_timeout(None)?;
            s.set_write_timeout(None)?;
            let _ = s.set_nodelay(true);
            let dest = match dest {
                Dest::Ip(ip) => SocketAddr::new(*ip, port).to_string(),
                Dest::Name(n) => format!("{n}:{port}"),
            };
            return Ok((Sock::Tcp(s), Peer::Proxied { proxy: addr, dest }));
        }
        Err(last)
    }
}

/// Where the proxy should connect.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Dest {
    Ip(IpAddr),
    Name(String),
}

/// The CONNECT request of RFC 1928 §4 for `dest:port`.
fn connect_request(dest: &Dest, port: u16) -> io::Result<Vec<u8>> {
    let mut req = vec![5, 1, 0];
    match dest {
        Dest::Ip(IpAddr::V4(a)) => {
            req.push(1);
            req.extend_from_slice(&a.octets());
        }
        Dest::Ip(IpAddr::V6(a)) => {
            req.push(4);
            req.extend_from_slice(&a.octets());
        }
        Dest::Name(n) => {
            let len = u8::try_from(n.len()).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the host name is over 255 octets",
                )
            })?;
            req.push(3);
            req.push(len);
            req.extend_from_slice(n.as_bytes());
        }
    }
    req.extend_from_slice(&port.to_be_bytes());
    Ok(req)
}

/// What a SOCKS5 reply code means (RFC 1928 §6).
fn reply_meaning(code: u8) -> &'static str {
    match code {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown reply code",
    }
}

/// Method negotiation (no authentication) and CONNECT, on a fresh connection to the proxy.
fn handshake(s: &mut (impl Read + Write), dest: &Dest, port: u16) -> io::Result<()> {
    let proto = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    s.write_all(&[5, 1, 0])?;
    let mut m = [0u8; 2];
    s.read_exact(&mut m)?;
    if m[0] != 5 {
        return Err(proto("not a SOCKS5 proxy (wrong version in its answer)"));
    }
    match m[1] {
        0 => {}
        0xff => {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the proxy accepts none of our methods: it wants authentication, which smtpsh does not do",
            ));
        }
        other => {
            return Err(proto(&format!(
                "the proxy chose method {other:#04x}, not offered"
            )));
        }
    }
    s.write_all(&connect_request(dest, port)?)?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head)?;
    if head[0] != 5 {
        return Err(proto("malformed CONNECT reply"));
    }
    if head[1] != 0 {
        let kind = if head[1] == 5 {
            io::ErrorKind::ConnectionRefused
        } else {
            io::ErrorKind::Other
        };
        return Err(io::Error::new(
            kind,
            format!(
                "CONNECT failed: {} (RFC 1928 reply {})",
                reply_meaning(head[1]),
                head[1]
            ),
        ));
    }
    // BND.ADDR and BND.PORT: read and ignore.
    let addr_len = match head[3] {
        1 => 4,
        4 => 16,
        3 => {
            let mut l = [0u8; 1];
            s.read_exact(&mut l)?;
            usize::from(l[0])
        }
        _ => return Err(proto("unknown address type in the CONNECT reply")),
    };
    let mut rest = vec![0u8; addr_len + 2];
    s.read_exact(&mut rest)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls() {
        assert_eq!(
            Proxy::parse("socks5://127.0.0.1:1081").unwrap(),
            Proxy {
                host: "127.0.0.1".into(),
                port: 1081,
                remote_dns: false
            }
        );
        let p = Proxy::parse("SOCKS5H://jump.example").unwrap();
        assert_eq!((p.port, p.remote_dns), (SOCKS_PORT, true));
        assert_eq!(Proxy::parse("socks5://[::1]:9050").unwrap().host, "::1");
        for bad in [
            "http://p:3128",
            "socks4://p",
            "socks5://u:pw@p:1080",
            "socks5://",
        ] {
            assert!(Proxy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn connect_requests_rfc1928() {
        assert_eq!(
            connect_request(&Dest::Ip("127.0.0.1".parse().unwrap()), 25).unwrap(),
            [5, 1, 0, 1, 127, 0, 0, 1, 0, 25]
        );
        let v6 = connect_request(&Dest::Ip("::1".parse().unwrap()), 587).unwrap();
        assert_eq!(&v6[..4], [5, 1, 0, 4]);
        assert_eq!(v6.len(), 4 + 16 + 2);
        assert_eq!(&v6[20..], [2, 75]);
        assert_eq!(
            connect_request(&Dest::Name("mx.test".into()), 25).unwrap(),
            [&[5u8, 1, 0, 3, 7][..], b"mx.test", &[0, 25]].concat()
        );
        assert!(connect_request(&Dest::Name("x".repeat(256)), 25).is_err());
    }

    /// A scripted proxy on the other end of an in-memory stream.
    struct Scripted {
        input: io::Cursor<Vec<u8>>,
        written: Vec<u8>,
    }
    impl Read for Scripted {
        fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
            self.input.read(b)
        }
    }
    impl Write for Scripted {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn talk(answer: &[u8]) -> (io::Result<()>, Vec<u8>) {
        let mut s = Scripted {
            input: io::Cursor::new(answer.to_vec()),
            written: Vec::new(),
        };
        let r = handshake(&mut s, &Dest::Name("mx.test".into()), 25);
        (r, s.written)
    }

    #[test]
    fn handshake_success_and_failures() {
        let (r, written) = talk(&[5, 0, 5, 0, 0, 1, 10, 0, 0, 1, 0, 80]);
        r.unwrap();
        assert_eq!(&written[..3], [5, 1, 0]);
        let (r, _) = talk(&[5, 0, 5, 0, 0, 3, 2, b'a', b'b', 0, 80]);
        r.unwrap();
        let (r, _) = talk(&[5, 0xff]);
        assert!(r.unwrap_err().to_string().contains("authentication"));
        let (r, _) = talk(&[5, 0, 5, 2, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert!(
            r.unwrap_err()
                .to_string()
                .contains("not allowed by ruleset")
        );
        let (r, _) = talk(&[5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
        let (r, _) = talk(&[4, 0]);
        assert!(r.unwrap_err().to_string().contains("not a SOCKS5"));
        let (r, _) = talk(&[5, 0, 5]);
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }
}
