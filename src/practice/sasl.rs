//! The server side of AUTH (RFC 4954): checking PLAIN, LOGIN and CRAM-MD5 responses against
//! the practice users.
//!
//! The computations are the client's own, from [`crate::smtp::auth`]: a CRAM-MD5 response is
//! checked by computing [`auth::cram_md5`] with the stored password and the challenge sent,
//! and responses are decoded with [`auth::decode_challenge`] (the same base64, `=` meaning
//! empty). Secrets are compared in constant time (the `subtle` crate), and challenges draw on the
//! OS's randomness (`getrandom`).

use std::time::{SystemTime, UNIX_EPOCH};

use super::PracticeUser;
use crate::smtp::auth;

/// Why an AUTH exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Wrong user or password: 535 5.7.8.
    Credentials,
    /// The response is not what the mechanism defines: 501 5.5.2.
    Malformed(&'static str),
}

/// Decode one client response line: base64, or `=` for empty (RFC 4954 §4).
pub(crate) fn decode(line: &[u8]) -> Option<Vec<u8>> {
    auth::decode_challenge(line).ok()
}

/// PLAIN (RFC 4616 §2): `[authzid] NUL authcid NUL passwd`. An authzid other than the user
/// itself is refused: practice users can't act for each other.
pub(crate) fn check_plain(users: &[PracticeUser], message: &[u8]) -> Result<String, Failure> {
    let mut parts = message.split(|&b| b == 0);
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Failure::Malformed(
            "a PLAIN response is base64 of authzid NUL user NUL password",
        ));
    };
    let user = find(users, user).ok_or(Failure::Credentials)?;
    if !authzid.is_empty() && authzid != user.name.as_bytes() {
        return Err(Failure::Credentials);
    }
    check_password(user, password)
}

/// LOGIN: the user name and the password, each sent as its own base64 line.
pub(crate) fn check_login(
    users: &[PracticeUser],
    name: &[u8],
    password: &[u8],
) -> Result<String, Failure> {
    let user = find(users, name).ok_or(Failure::Credentials)?;
    check_password(user, password)
}

/// CRAM-MD5 (RFC 2195): the response is `user SP hex(HMAC-MD5(password, challenge))`.
pub(crate) fn check_cram_md5(
    users: &[PracticeUser],
    challenge: &[u8],
    response: &[u8],
) -> Result<String, Failure> {
    let Some(space) = response.iter().rposition(|&b| b == b' ') else {
        return Err(Failure::Malformed(
            "a CRAM-MD5 response is base64 of user SP hex-digest",
        ));
    };
    let user = find(users, &response[..space]).ok_or(Failure::Credentials)?;
    let expected = auth::cram_md5(&user.name, &user.password, challenge);
    let expected = decode(expected.expose().as_bytes()).unwrap_or_default();
    // RFC 2195 asks for lower-case hex; accept upper case too, as servers do.
    if same(&expected, &response.to_ascii_lowercase()[..]) || same(&expected, response) {
        Ok(user.name.clone())
    } else {
        Err(Failure::Credentials)
    }
}

/// A fresh CRAM-MD5 challenge in the msg-id form RFC 2195 §2 asks for:
/// `<random.timestamp@hostname>`.
pub(crate) fn challenge(hostname: &str) -> Vec<u8> {
    let mut random = [0u8; 8];
    // A failing RNG would only make the challenge guessable, not wrong; the time still varies.
    let _ = getrandom::fill(&mut random);
    let random = u64::from_be_bytes(random);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("<{random}.{now}@{hostname}>").into_bytes()
}

/// The practice user with this exact name.
fn find<'a>(users: &'a [PracticeUser], name: &[u8]) -> Option<&'a PracticeUser> {
    users.iter().find(|u| u.name.as_bytes() == name)
}

/// The user's name if `password` is theirs.
fn check_password(user: &PracticeUser, password: &[u8]) -> Result<String, Failure> {
    if same(user.password.expose().as_bytes(), password) {
        Ok(user.name.clone())
    } else {
        Err(Failure::Credentials)
    }
}

/// Equal, in time independent of where they differ (the length is not secret: `ct_eq`
/// answers a length mismatch at once).
fn same(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::practice::default_users;
    use crate::smtp::auth::Secret;

    #[test]
    fn plain() {
        let users = default_users();
        assert_eq!(
            check_plain(&users, b"\0alice\0alicepass"),
            Ok("alice".to_string())
        );
        assert_eq!(
            check_plain(&users, b"alice\0alice\0alicepass"),
            Ok("alice".to_string())
        );
        assert_eq!(
            check_plain(&users, b"bob\0alice\0alicepass"),
            Err(Failure::Credentials)
        );
        assert_eq!(
            check_plain(&users, b"\0alice\0bobpass"),
            Err(Failure::Credentials)
        );
        assert_eq!(
            check_plain(&users, b"\0carol\0alicepass"),
            Err(Failure::Credentials)
        );
        assert_eq!(
            check_plain(&users, b"\0Alice\0alicepass"),
            Err(Failure::Credentials),
            "names are case-sensitive"
        );
        for bad in [&b"alicealicepass"[..], b"\0alice", b"\0a\0b\0c", b""] {
            assert!(
                matches!(check_plain(&users, bad), Err(Failure::Malformed(_))),
                "{bad:?}"
            );
        }
        // What the client computes decodes to what the server checks.
        let wire = auth::plain(None, "bob", &Secret::new("bobpass"));
        let decoded = decode(wire.expose().as_bytes()).unwrap();
        assert_eq!(check_plain(&users, &decoded), Ok("bob".to_string()));
    }

    #[test]
    fn login() {
        let users = default_users();
        assert_eq!(
            check_login(&users, b"bob", b"bobpass"),
            Ok("bob".to_string())
        );
        assert_eq!(
            check_login(&users, b"bob", b"bobpas"),
            Err(Failure::Credentials)
        );
        assert_eq!(check_login(&users, b"", b""), Err(Failure::Credentials));
    }

    // RFC 2195 §2's worked example, checked from the server's side.
    #[test]
    fn cram_md5_rfc2195_vector() {
        let users = vec![PracticeUser::new("tim", "tanstaaftanstaaf")];
        let challenge = b"<1896.697170952@postoffice.reston.mci.net>";
        let response = decode(b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw").unwrap();
        assert_eq!(
            check_cram_md5(&users, challenge, &response),
            Ok("tim".to_string())
        );
        let upper = b"tim B913A602C7EDA7A495B4E6E7334D3890";
        assert_eq!(
            check_cram_md5(&users, challenge, upper),
            Ok("tim".to_string())
        );
        assert_eq!(
            check_cram_md5(&users, b"<other@x>", &response),
            Err(Failure::Credentials)
        );
        assert_eq!(
            check_cram_md5(&users, challenge, b"tom b913a602c7eda7a495b4e6e7334d3890"),
            Err(Failure::Credentials)
        );
        assert!(matches!(
            check_cram_md5(&users, challenge, b"nospace"),
            Err(Failure::Malformed(_))
        ));
    }

    #[test]
    fn challenges_are_fresh_msg_ids() {
        let a = challenge("practice.smtpsh.test");
        let b = challenge("practice.smtpsh.test");
        assert_ne!(a, b);
        let text = String::from_utf8(a).unwrap();
        assert!(text.starts_with('<') && text.ends_with("@practice.smtpsh.test>"));
        let (random, time) = text[1..text.find('@').unwrap()].split_once('.').unwrap();
        assert!(random.parse::<u64>().is_ok() && time.parse::<u64>().is_ok());
    }

    #[test]
    fn decode_responses() {
        assert_eq!(decode(b"="), Some(vec![]));
        assert_eq!(decode(b"YWxpY2U="), Some(b"alice".to_vec()));
        assert_eq!(decode(b"not base64!"), None);
        assert_eq!(decode(b"*"), None);
    }
}
