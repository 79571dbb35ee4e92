//! The shared harness of the integration tests, one job a file:
//!
//! - [`run`]: the real binary ([`smtpsh`], [`Run`]), set up so that a test can't touch the
//!   real home directory, can't pick up a password from the environment, and can't hang.
//! - [`fake_server`]: [`FakeServer`], a scripted SMTP server on `127.0.0.1:0` that follows a
//!   list of [`Step`]s (misbehaving on purpose where asked) and records every byte.
//! - [`certs`]: [`TestCerts`], throwaway certificates written as PEM for `--cafile`.
//! - [`client_auth`]: [`ClientAuthServer`], a STARTTLS server that demands a client
//!   certificate (Python's `ssl`, since native-tls can't ask for one).
//! - [`sasl`]: base64 and CRAM-MD5 computed independently of the binary.
//! - [`text`]: escaping, and transcripts made comparable ([`normalise`], [`stable`],
//!   [`golden`]).
//! - [`tls_peer`]: [`TlsPeer`], a STARTTLS or implicit-TLS server (Python's `ssl`) with TLS
//!   1.2 and 1.3 and a chain, that takes many connections and records each.
//! - [`practice_client`]: [`practice_client::Client`], a raw SMTP client for the practice
//!   server's tests (plain and STARTTLS), the wire text of each reply.
//! - `pty` (Unix): [`pty::Pty`], smtpsh in a pseudo-terminal, keeping what it showed.
//! - [`peers`]: the test Postfix and other programs a suite needs, and how a suite says it
//!   was left out ([`peer_program`], [`left_out`]).
//!
//! Each test crate uses a different part of this module, hence the `dead_code` allowance.

#![allow(dead_code, unused_imports)]

pub mod certs;
pub mod client_auth;
pub mod fake_server;
pub mod peers;
pub mod practice_client;
#[cfg(unix)]
pub mod pty;
pub mod run;
pub mod sasl;
pub mod text;
pub mod tls_peer;

pub use certs::*;
pub use client_auth::*;
pub use fake_server::*;
pub use peers::*;
pub use run::*;
pub use sasl::*;
pub use text::*;
pub use tls_peer::*;
