//! Fetching an MTA-STS policy by RFC 8461 §3.3's rules: `GET
//! https://mta-sts.DOMAIN/.well-known/mta-sts.txt` over HTTP/1.1 on port 443, the name
//! resolved by smtpsh's own resolver (so `--dns-server` and the tests decide where it
//! points), the certificate verified for `mta-sts.DOMAIN` by the platform's TLS (native-tls,
//! through `net::tls`, whose failures read in words) with an extra CA allowed (`--cafile`), redirects never followed, only a 2xx status and
//! `text/plain` accepted, and the body capped at 64 KiB, under one deadline.
//!
//! A small client of our own rather than an HTTP crate: the rules above are the whole job,
//! and each of them is a line here that a test can point at. The response parsing is pure
//! (diag::http).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::diag::http::{self, ChunkError, Framing, HeadError, MAX_HEAD};
use crate::diag::mta_sts::FetchedPolicy;

use super::dns::Dns;

/// The largest policy accepted (RFC 8461 §3.3 suggests 64 KiB).
pub const MAX_POLICY: usize = 64 * 1024;

/// The policy's path (RFC 8461 §3.2).
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";

/// How to fetch.
#[derive(Debug, Clone, Default)]
pub struct FetchConfig {
    /// The deadline for the whole fetch (zero: 60 s, RFC 8461 §3.3's suggestion).
    pub timeout: Duration,
    /// PEM CA certificate(s) to trust besides the system's (`--cafile`).
    pub extra_ca_pem: Option<Vec<u8>>,
}

/// Why a policy could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// `mta-sts.DOMAIN` has no address.
    #[error("{host} has no address ({why})")]
    NoAddress {
        /// The policy host.
        host: String,
        /// What the resolver said.
        why: String,
    },
    /// No TCP connection to port 443.
    #[error("cannot connect to {addr}: {why}")]
    Connect {
        /// The address tried last.
        addr: SocketAddr,
        /// The error.
        why: String,
    },
    /// The TLS handshake or the certificate check failed.
    #[error("TLS with {host} failed: {why}")]
    Tls {
        /// The policy host.
        host: String,
        /// The TLS library's words.
        why: String,
    },
    /// The deadline passed.
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
    /// A read or write failed.
    #[error("the connection failed: {0}")]
    Io(String),
    /// A 3xx answer: RFC 8461 §3.3 forbids following it.
    #[error("HTTP {status} redirect to {location}: RFC 8461 §3.3 forbids following redirects")]
    Redirect {
        /// The status.
        status: u16,
        /// Where it pointed.
        location: String,
    },
    /// Another status than 2xx.
    #[error("HTTP {status} {reason} (a policy needs a 2xx answer)")]
    Status {
        /// The status.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// Not `text/plain` (RFC 8461 §3.3).
    #[error("Content-Type is {0}, not text/plain (RFC 8461 §3.3)")]
    ContentType(String),
    /// Over [`MAX_POLICY`].
    #[error("the policy is larger than {MAX_POLICY} bytes (64 KiB, RFC 8461 §3.3)")]
    TooLarge,
    /// Not HTTP, or a body that can't be read.
    #[error("{0}")]
    Malformed(String),
}

/// The policy URL of `domain`.
pub fn policy_url(domain: &str) -> String {
    format!(
        "https://mta-sts.{}{POLICY_PATH}",
        crate::diag::normalize_name(domain)
    )
}

/// Fetch `domain`'s policy.
pub fn fetch_policy(
    domain: &str,
    dns: &Dns,
    config: &FetchConfig,
) -> Result<FetchedPolicy, FetchError> {
    let timeout = if config.timeout.is_zero() {
        Duration::from_secs(60)
    } else {
        config.timeout
    };
    let deadline = Instant::now() + timeout;
    let host = format!("mta-sts.{}", crate::diag::normalize_name(domain));
    let addrs = match dns.addresses(&host) {
        Ok(a) if !a.records.is_empty() => a.records,
        Ok(a) => {
            return Err(FetchError::NoAddress {
                host,
                why: if a.nxdomain {
                    "NXDOMAIN".into()
                } else {
                    "no A or AAAA record".into()
                },
            });
        }
        Err(e) => {
            return Err(FetchError::NoAddress {
                host,
                why: e.to_string(),
            });
        }
    };
    let left = |deadline: Instant| {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or(FetchError::Timeout(timeout))
    };
    let mut tcp = None;
    let mut last = None;
    for ip in addrs {
        let addr = SocketAddr::new(ip, 443);
        match TcpStream::connect_timeout(&addr, left(deadline)?) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some((addr, e.to_string())),
        }
    }
    let tcp = match (tcp, last) {
        (Some(s), _) => s,
        (None, Some((addr, why))) => return Err(FetchError::Connect { addr, why }),
        (None, None) => unreachable!("at least one address was tried"),
    };
    let io = |e: std::io::Error| {
        if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            FetchError::Timeout(timeout)
        } else {
            FetchError::Io(e.to_string())
        }
    };
    tcp.set_read_timeout(Some(left(deadline)?)).map_err(io)?;
    tcp.set_write_timeout(Some(left(deadline)?)).map_err(io)?;

    // The same TLS as the session's (net::tls), so that a failure reads as tidily: the
    // verifier's reason or the alert's name, not the platform's raw text.
    let opts = super::tls::TlsOptions {
        extra_roots: config
            .extra_ca_pem
            .iter()
            .map(|pem| String::from_utf8_lossy(pem).into_owned())
            .collect(),
        ..super::tls::TlsOptions::default()
    };
    let mut tls = match super::tls::handshake(tcp, &host, &opts) {
        Ok((s, _)) => s,
        Err(crate::error::Error::Tls(why)) if why == super::tls::TIMED_OUT => {
            return Err(FetchError::Timeout(timeout));
        }
        Err(e) => {
            return Err(FetchError::Tls {
                host: host.clone(),
                why: super::tls::failure_reason(&e),
            });
        }
    };
    // RFC 8461 §3.3: no caching; one request, then the connection closes.
    let request = format!(
        "GET {POLICY_PATH} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: smtpsh/{}\r\nAccept: text/plain\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    tls.write_all(request.as_bytes()).map_err(io)?;
    tls.flush().map_err(io)?;

    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut eof = false;
    let mut fill = |buf: &mut Vec<u8>, eof: &mut bool| -> Result<(), FetchError> {
        tls.get_ref()
            .get_ref()
            .set_read_timeout(Some(left(deadline)?))
            .map_err(io)?;
        match tls.read(&mut chunk) {
            Ok(0) => *eof = true,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            // A peer that closes without close_notify: the end of a close-delimited body.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => *eof = true,
            Err(e) => return Err(io(e)),
        }
        Ok(())
    };
    // The head; interim 1xx responses are skipped (RFC 9112 §4).
    let (head, body_at) = loop {
        match http::parse_head(&buf) {
            Ok((h, n)) if (100..200).contains(&h.status) => {
                buf.drain(..n);
            }
            Ok(found) => break found,
            Err(HeadError::Incomplete) if !eof => fill(&mut buf, &mut eof)?,
            Err(HeadError::Incomplete) => {
                return Err(FetchError::Malformed(
                    "the server closed the connection before a complete HTTP response head".into(),
                ));
            }
            Err(e) => return Err(FetchError::Malformed(e.to_string())),
        }
    };
    if (300..400).contains(&head.status) {
        return Err(FetchError::Redirect {
            status: head.status,
            location: head
                .header("location")
                .unwrap_or("(no Location)")
                .to_string(),
        });
    }
    if !(200..300).contains(&head.status) {
        return Err(FetchError::Status {
            status: head.status,
            reason: head.reason.clone(),
        });
    }
    let content_type = head.header("content-type").unwrap_or("").to_string();
    if head.media_type().as_deref() != Some("text/plain") {
        return Err(FetchError::ContentType(if content_type.is_empty() {
            "missing".into()
        } else {
            content_type
        }));
    }
    let framing = head
        .framing()
        .map_err(|e| FetchError::Malformed(e.to_string()))?;
    buf.drain(..body_at);
    let body = match framing {
        Framing::Length(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if n > MAX_POLICY {
                return Err(FetchError::TooLarge);
            }
            while buf.len() < n && !eof {
                fill(&mut buf, &mut eof)?;
            }
            if buf.len() < n {
                return Err(FetchError::Malformed(format!(
                    "the body ended after {} of {n} bytes",
                    buf.len()
                )));
            }
            buf.truncate(n);
            buf
        }
        Framing::Chunked => loop {
            match http::decode_chunked(&buf, MAX_POLICY) {
                Ok(body) => break body,
                Err(ChunkError::TooLarge(_)) => return Err(FetchError::TooLarge),
                Err(ChunkError::Incomplete) if !eof && buf.len() <= MAX_HEAD + 2 * MAX_POLICY => {
                    fill(&mut buf, &mut eof)?
                }
                Err(ChunkError::Incomplete) if eof => {
                    return Err(FetchError::Malformed(
                        "the chunked body is incomplete".into(),
                    ));
                }
                Err(ChunkError::Incomplete) => return Err(FetchError::TooLarge),
                Err(e) => return Err(FetchError::Malformed(e.to_string())),
            }
        },
        Framing::Close => {
            while !eof {
                if buf.len() > MAX_POLICY {
                    return Err(FetchError::TooLarge);
                }
                fill(&mut buf, &mut eof)?;
            }
            if buf.len() > MAX_POLICY {
                return Err(FetchError::TooLarge);
            }
            buf
        }
    };
    let _ = tls.shutdown();
    let text = String::from_utf8(body)
        .map_err(|_| FetchError::Malformed("the policy is not UTF-8 text".into()))?;
    Ok(FetchedPolicy {
        status: head.status,
        content_type: head.header("content-type").unwrap_or("").to_string(),
        text,
    })
}
