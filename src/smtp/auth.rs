//! SASL mechanisms for AUTH (RFC 4954): PLAIN (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195), and
//! the `Secret` type that keeps passwords and responses out of every printout.

use std::fmt;

/// A secret (password or computed AUTH response). `Debug` prints `(redacted)`; there is no
/// `Display`, so a secret can't end up in a format string by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The secret itself; call only where it goes to the wire or a MAC.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

/// The mechanisms smtpsh computes responses for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// PLAIN (RFC 4616)
    Plain,
    /// LOGIN (draft-murchison-sasl-login)
    Login,
    /// CRAM-MD5 (RFC 2195)
    CramMd5,
}

impl Mechanism {
    /// Case-insensitive: `plain`, `LOGIN`, `cram-md5`.
    pub fn parse(s: &str) -> Option<Mechanism> {
        todo!("{s}")
    }
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        todo!()
    }
}

/// Why a challenge could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The 334 text is not valid base64.
    #[error("the server's challenge is not valid base64")]
    BadChallenge,
}

/// PLAIN response: base64 of `authzid NUL user NUL password`.
pub fn plain(authzid: Option<&str>, user: &str, password: &Secret) -> Secret {
    todo!("{authzid:?}{user}{password:?}")
}

/// LOGIN: base64 of the user name (not secret).
pub fn login_user(user: &str) -> String {
    todo!("{user}")
}

/// LOGIN: base64 of the password.
pub fn login_password(password: &Secret) -> Secret {
    todo!("{password:?}")
}

/// CRAM-MD5: base64 of `user SP hex(HMAC-MD5(password, challenge))`, `challenge` decoded.
pub fn cram_md5(user: &str, password: &Secret, challenge: &[u8]) -> Secret {
    todo!("{user}{password:?}{challenge:?}")
}

/// Decode a 334 challenge text (base64; empty is an empty challenge).
pub fn decode_challenge(text: &[u8]) -> Result<Vec<u8>, AuthError> {
    todo!("{text:?}")
}
