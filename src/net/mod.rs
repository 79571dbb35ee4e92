//! Bytes on the wire: targets, TCP (IPv4, IPv6, a chosen source address, a SOCKS5 proxy) and
//! Unix sockets with deadlines, TLS (implicit and STARTTLS) with client certificates and the
//! certificate summary, and MX lookups; DNSSEC-validated lookups (TLSA, TXT, addresses), the
//! MTA-STS policy fetch, and the I/O behind the `diag` reports (`policy`). Knows SMTP only as
//! far as reading whole replies.

pub mod anchor;
pub mod conn;
pub mod dial;
pub mod dns;
pub mod fetch;
pub mod mx;
pub mod policy;
pub mod proxy;
pub mod sock;
pub mod target;
pub mod tls;
