//! smtpsh: an interactive SMTP shell.
//!
//! Data flows one way: the wire ([`net`]) → protocol types ([`smtp`]) → one session
//! ([`session`]) → events ([`transcript`]) → a front end ([`shell`]). The protocol layer
//! knows no I/O, the network layer no terminal, the shell no sockets.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod audit;
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

/// `--version`: the version and the TLS library native-tls uses on this platform.
#[cfg(windows)]
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (TLS: SChannel, via native-tls)"
);
/// `--version`: the version and the TLS library native-tls uses on this platform.
#[cfg(target_vendor = "apple")]
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (TLS: Security.framework, via native-tls)"
);
/// `--version`: the version and the TLS library native-tls uses on this platform.
#[cfg(not(any(windows, target_vendor = "apple")))]
pub const VERSION_LINE: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (TLS: OpenSSL, via native-tls)");

#[cfg(test)]
mod tests {
    #[test]
    fn version_line_names_the_backend_in_use() {
        let backend = format!("(TLS: {}, via native-tls)", crate::net::tls::BACKEND);
        assert!(
            crate::VERSION_LINE.ends_with(&backend),
            "{}",
            crate::VERSION_LINE
        );
    }
}
