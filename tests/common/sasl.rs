//! SASL helpers (RFC 4954) for checking what the binary sends: base64 and the CRAM-MD5
//! response, computed here with the RustCrypto crates and checked against RFC 2195's own
//! example by `harness_cram_md5_helper_matches_rfc2195` (tests/faults.rs).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use md5::Md5;

use super::text::hex_lower;

/// Standard base64 with padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    STANDARD.encode(bytes.as_ref())
}

/// Decode standard base64.
pub fn unb64(text: &str) -> Vec<u8> {
    STANDARD
        .decode(text)
        .unwrap_or_else(|e| panic!("bad base64 {text:?}: {e}"))
}

/// The CRAM-MD5 response text (RFC 2195): `user SP hex(HMAC-MD5(password, challenge))`,
/// lower-case hex, before base64.
pub fn cram_md5_response(user: &str, password: &str, challenge: &[u8]) -> String {
    let mut mac = <Hmac<Md5>>::new_from_slice(password.as_bytes()).expect("HMAC key");
    mac.update(challenge);
    format!("{user} {}", hex_lower(&mac.finalize().into_bytes()))
}
