//! smtpsh: an interactive SMTP shell.
//!
//! Data flows one way: the wire ([`net`]) → protocol types ([`smtp`]) → one session
//! ([`session`]) → events ([`transcript`]) → a front end ([`shell`]). The protocol layer
//! knows no I/O, the network layer no terminal, the shell no sockets.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cancel;
pub mod cli;
pub mod diag;
pub mod error;
pub mod man;
pub mod net;
pub mod practice;
pub mod session;
pub mod shell;
pub mod smtp;
pub mod transcript;

/// `--version`: the version and the TLS backend.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (TLS: OpenSSL, via the openssl crate)"
);
