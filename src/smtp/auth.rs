//! SASL mechanisms for AUTH (RFC 4954): PLAIN (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195),
//! XOAUTH2 (Google's and Microsoft's OAuth 2.0 bearer mechanism) and OAUTHBEARER (RFC 7628),
//! and the `Secret` type that keeps passwords, tokens and responses out of every printout.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use md5::Md5;

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
        [Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5]
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s))
    }
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
        }
    }
}

/// Every mechanism the client runs: the password mechanisms of [`Mechanism`] (which the
/// practice server serves too), and the OAuth 2.0 bearer-token ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMechanism {
    /// PLAIN (RFC 4616)
    Plain,
    /// LOGIN (draft-murchison-sasl-login)
    Login,
    /// CRAM-MD5 (RFC 2195)
    CramMd5,
    /// XOAUTH2: an OAuth 2.0 bearer token, as Gmail and Microsoft 365 take it
    XOAuth2,
    /// OAUTHBEARER (RFC 7628): an OAuth 2.0 bearer token, the standard way
    OAuthBearer,
}

impl From<Mechanism> for ClientMechanism {
    fn from(m: Mechanism) -> ClientMechanism {
        match m {
            Mechanism::Plain => ClientMechanism::Plain,
            Mechanism::Login => ClientMechanism::Login,
            Mechanism::CramMd5 => ClientMechanism::CramMd5,
        }
    }
}

impl ClientMechanism {
    /// Case-insensitive: `plain`, `LOGIN`, `cram-md5`, `xoauth2`, `OAUTHBEARER`.
    pub fn parse(s: &str) -> Option<ClientMechanism> {
        if let Some(m) = Mechanism::parse(s) {
            return Some(m.into());
        }
        [ClientMechanism::XOAuth2, ClientMechanism::OAuthBearer]
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s))
    }

    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            ClientMechanism::Plain => "PLAIN",
            ClientMechanism::Login => "LOGIN",
            ClientMechanism::CramMd5 => "CRAM-MD5",
            ClientMechanism::XOAuth2 => "XOAUTH2",
            ClientMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// Whether `:auth` sends the first response with the AUTH command (RFC 4954 §4) unless
    /// told otherwise: PLAIN, XOAUTH2 and OAUTHBEARER yes; LOGIN no (older servers expect its
    /// `Username:` prompt; `--initial` sends the user name at once); CRAM-MD5 can't (the
    /// server speaks first).
    pub fn initial_by_default(self) -> bool {
        matches!(
            self,
            ClientMechanism::Plain | ClientMechanism::XOAuth2 | ClientMechanism::OAuthBearer
        )
    }

    /// Whether the secret is an OAuth 2.0 token rather than a password.
    pub fn uses_token(self) -> bool {
        matches!(
            self,
            ClientMechanism::XOAuth2 | ClientMechanism::OAuthBearer
        )
    }
}

/// Lowercase hex digits, for the CRAM-MD5 digest.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Why a challenge could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The 334 text is not valid base64.
    #[error("the server's challenge is not valid base64")]
    BadChallenge,
}

/// PLAIN response: base64 of `authzid NUL user NUL password`.
pub fn plain(authzid: Option<&str>, user: &str, password: &Secret) -> Secret {
    // RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
    let mut message = Vec::with_capacity(user.len() + password.expose().len() + 2);
    message.extend_from_slice(authzid.unwrap_or("").as_bytes());
    message.push(0);
    message.extend_from_slice(user.as_bytes());
    message.push(0);
    message.extend_from_slice(password.expose().as_bytes());
    Secret(STANDARD.encode(message))
}

/// LOGIN: base64 of the user name (not secret).
pub fn login_user(user: &str) -> String {
    STANDARD.encode(user)
}

/// LOGIN: base64 of the password.
pub fn login_password(password: &Secret) -> Secret {
    Secret(STANDARD.encode(password.expose()))
}

/// CRAM-MD5: base64 of `user SP hex(HMAC-MD5(password, challenge))`, `challenge` decoded.
pub fn cram_md5(user: &str, password: &Secret, challenge: &[u8]) -> Secret {
    // RFC 2195 §2: digest = HMAC-MD5(key = secret, text = challenge), in lowercase hex.
    let mut mac = <Hmac<Md5>>::new_from_slice(password.expose().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(challenge);
    let digest = mac.finalize().into_bytes();
    let mut response = String::with_capacity(user.len() + 1 + 2 * digest.len());
    response.push_str(user);
    response.push(' ');
    for b in digest.iter() {
        response.push(char::from(HEX[usize::from(b >> 4)]));
        response.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    Secret(STANDARD.encode(response))
}

/// XOAUTH2: base64 of `user=USER ^A auth=Bearer TOKEN ^A ^A` (^A is 0x01), the format Google
/// and Microsoft document for SMTP.
pub fn xoauth2(user: &str, token: &Secret) -> Secret {
    let message = format!("user={user}\x01auth=Bearer {}\x01\x01", token.expose());
    Secret(STANDARD.encode(message))
}

/// OAUTHBEARER (RFC 7628 §3.1): base64 of the GS2 header `n,a=USER,` then the key-value
/// pairs `host`, `port` (when known) and `auth=Bearer TOKEN`, each ended by 0x01, and a final
/// 0x01. In the authzid `,` and `=` are escaped as `=2C` and `=3D` (RFC 5801 §4).
pub fn oauthbearer(user: &str, host: Option<&str>, port: Option<u16>, token: &Secret) -> Secret {
    let authzid = user.replace('=', "=3D").replace(',', "=2C");
    let mut message = format!("n,a={authzid},\x01");
    if let Some(h) = host {
        message.push_str(&format!("host={h}\x01"));
    }
    if let Some(p) = port {
        message.push_str(&format!("port={p}\x01"));
    }
    message.push_str(&format!("auth=Bearer {}\x01\x01", token.expose()));
    Secret(STANDARD.encode(message))
}

/// What a client answers to the 334 error challenge of a failed OAuth exchange, so the
/// server sends its final reply: XOAUTH2 an empty line; OAUTHBEARER a lone 0x01 (RFC 7628
/// §3.2.3), in base64 `AQ==`.
pub fn oauth_error_ack(mech: ClientMechanism) -> &'static str {
    match mech {
        ClientMechanism::OAuthBearer => "AQ==",
        _ => "",
    }
}

/// Decode a 334 challenge text (base64; empty is an empty challenge).
pub fn decode_challenge(text: &[u8]) -> Result<Vec<u8>, AuthError> {
    let text = text.trim_ascii();
    // RFC 4954 §4: an empty challenge is `334 ` with no text; `=` is also read as empty,
    // as it is the way a client writes an empty response.
    if text.is_empty() || text == b"=" {
        return Ok(Vec::new());
    }
    STANDARD.decode(text).map_err(|_| AuthError::BadChallenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanism_names() {
        for (s, m) in [
            ("PLAIN", Mechanism::Plain),
            ("plain", Mechanism::Plain),
            ("Login", Mechanism::Login),
            ("cram-md5", Mechanism::CramMd5),
            ("CRAM-MD5", Mechanism::CramMd5),
        ] {
            assert_eq!(Mechanism::parse(s), Some(m), "{s}");
            assert!(m.name().eq_ignore_ascii_case(s));
        }
        assert_eq!(
            ClientMechanism::parse("xoauth2"),
            Some(ClientMechanism::XOAuth2)
        );
        assert_eq!(
            ClientMechanism::parse("OAuthBearer"),
            Some(ClientMechanism::OAuthBearer)
        );
        assert_eq!(
            ClientMechanism::parse("cram-md5"),
            Some(ClientMechanism::CramMd5)
        );
        assert_eq!(ClientMechanism::parse("XOAUTH"), None);
        // The practice server's mechanisms stay the password ones.
        for s in ["", "XOAUTH2", "OAUTHBEARER", "SCRAM-SHA-256", "PLAIN "] {
            assert_eq!(Mechanism::parse(s), None, "{s}");
        }
    }

    // RFC 4616 §4: the example with an empty authzid.
    #[test]
    fn plain_rfc4616_vector() {
        let secret = Secret::new("tanstaaftanstaaf");
        assert_eq!(
            plain(None, "tim", &secret).expose(),
            "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"
        );
        assert_eq!(
            plain(Some(""), "tim", &secret).expose(),
            "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"
        );
        // "Ursel\0Kurt\0xipj3plmq"
        assert_eq!(
            plain(Some("Ursel"), "Kurt", &Secret::new("xipj3plmq")).expose(),
            "VXJzZWwAS3VydAB4aXBqM3BsbXE="
        );
    }

    #[test]
    fn login() {
        assert_eq!(login_user("tim"), "dGlt");
        assert_eq!(
            login_password(&Secret::new("tanstaaftanstaaf")).expose(),
            "dGFuc3RhYWZ0YW5zdGFhZg=="
        );
    }

    // RFC 2195 §2: the worked example.
    #[test]
    fn cram_md5_rfc2195_vector() {
        let challenge =
            decode_challenge(b"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+").unwrap();
        assert_eq!(challenge, b"<1896.697170952@postoffice.reston.mci.net>");
        let response = cram_md5("tim", &Secret::new("tanstaaftanstaaf"), &challenge);
        assert_eq!(
            response.expose(),
            "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
        );
    }

    #[test]
    fn decode_challenges() {
        assert_eq!(decode_challenge(b"VXNlcm5hbWU6"), Ok(b"Username:".to_vec()));
        assert_eq!(
            decode_challenge(b"  VXNlcm5hbWU6\r\n"),
            Ok(b"Username:".to_vec())
        );
        assert_eq!(decode_challenge(b""), Ok(vec![]));
        assert_eq!(decode_challenge(b"  "), Ok(vec![]));
        assert_eq!(decode_challenge(b"="), Ok(vec![]));
        assert_eq!(
            decode_challenge(b"not base64!"),
            Err(AuthError::BadChallenge)
        );
        assert_eq!(
            decode_challenge(b"VXNlcm5hbWU"),
            Err(AuthError::BadChallenge)
        );
    }

    // The example of Google's XOAUTH2 documentation.
    #[test]
    fn xoauth2_vector() {
        let token = Secret::new("vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==");
        assert_eq!(
            xoauth2("someuser@example.com", &token).expose(),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB2RjlkZnQ0cW1UYzJOdmIzUmxja0JoZEhSaGRtbHpkR0V1WTI5dENnPT0BAQ=="
        );
    }

    // RFC 7628 §4.1, the example's initial response.
    #[test]
    fn oauthbearer_rfc7628_vector() {
        let token = Secret::new("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
        let r = oauthbearer(
            "user@example.com",
            Some("server.example.com"),
            Some(143),
            &token,
        );
        assert_eq!(
            STANDARD.decode(r.expose()).unwrap(),
            b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
        );
        let r = oauthbearer("a,b=c", None, None, &token);
        assert!(
            STANDARD
                .decode(r.expose())
                .unwrap()
                .starts_with(b"n,a=a=2Cb=3Dc,\x01auth=Bearer ")
        );
        assert_eq!(oauth_error_ack(ClientMechanism::OAuthBearer), "AQ==");
        assert_eq!(oauth_error_ack(ClientMechanism::XOAuth2), "");
    }

    // Safety rule 5: a secret can't leak through `{:?}`.
    #[test]
    fn secret_debug_is_redacted() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "(redacted)");
        assert_eq!(format!("{:?}", plain(None, "u", &secret)), "(redacted)");
        assert_eq!(format!("{:?}", Some(secret)), "Some((redacted))");
    }
}
