//! SASL decoding: the client's 334 challenge decoder (src/smtp/auth.rs `decode_challenge`)
//! on any text, and the practice server's checking of PLAIN, LOGIN and CRAM-MD5 responses
//! (src/practice/sasl.rs) on any decoded bytes, reached as a client reaches it: AUTH in an
//! in-memory session. The session always goes on to QUIT, and only the right credentials
//! earn 235.
#![no_main]

use std::sync::{Mutex, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use smtpsh::practice::{MemoryServer, PracticeConfig};
use smtpsh::smtp::auth::decode_challenge;
use smtpsh_fuzz::control;

fn server() -> &'static Mutex<MemoryServer> {
    static SERVER: OnceLock<Mutex<MemoryServer>> = OnceLock::new();
    SERVER.get_or_init(|| {
        Mutex::new(MemoryServer::new(PracticeConfig::default()).expect("a practice server"))
    })
}

/// The practice users (`default_users`).
fn is_user(user: &[u8], password: &[u8]) -> bool {
    matches!(
        (user, password),
        (b"alice", b"alicepass") | (b"bob", b"bobpass")
    )
}

fuzz_target!(|data: &[u8]| {
    let (mode, payload) = control(data);

    // The client's decoder: base64 that decodes re-encodes to itself.
    if let Ok(decoded) = decode_challenge(payload) {
        let text = payload.trim_ascii();
        if !text.is_empty() && text != b"=" {
            assert_eq!(STANDARD.encode(&decoded).as_bytes(), text);
        }
    }

    // The server's checks, through a session.
    let b64 = |b: &[u8]| STANDARD.encode(b);
    let (exchange, ok) = match mode % 5 {
        0 => {
            let mut parts = payload.split(|&b| b == 0);
            let ok = match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some(authz), Some(user), Some(pass), None) => {
                    is_user(user, pass) && (authz.is_empty() || authz == user)
                }
                _ => false,
            };
            (format!("AUTH PLAIN {}\r\n", b64(payload)), ok)
        }
        1 => (format!("AUTH PLAIN\r\n{}\r\n", b64(payload)), {
            let parts: Vec<&[u8]> = payload.split(|&b| b == 0).collect();
            matches!(parts[..], [authz, user, pass] if is_user(user, pass) && (authz.is_empty() || authz == user))
        }),
        2 => {
            let (user, pass) = match payload.iter().position(|&b| b == 0) {
                Some(i) => (&payload[..i], &payload[i + 1..]),
                None => (payload, &b""[..]),
            };
            (
                format!("AUTH LOGIN\r\n{}\r\n{}\r\n", b64(user), b64(pass)),
                is_user(user, pass),
            )
        }
        // The challenge is fresh each time: no response can be right.
        3 => (format!("AUTH CRAM-MD5\r\n{}\r\n", b64(payload)), false),
        // Not base64 at all: each step's 501, or a decoded response.
        _ => {
            let Ok(text) = std::str::from_utf8(payload) else {
                return;
            };
            if text.contains(['\r', '\n']) {
                return;
            }
            // The text may be a command (STARTTLS ends a memory session): no oracle here.
            let input = format!("EHLO x\r\nAUTH LOGIN {text}\r\n{text}\r\nQUIT\r\n");
            let _ = server()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .session(input.as_bytes(), 0);
            return;
        }
    };
    let input = format!("EHLO x\r\n{exchange}QUIT\r\n");
    let session = server()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .session(input.as_bytes(), 0);
    let output = String::from_utf8(session.output).expect("the server writes UTF-8");
    // A line over the limit is refused before it is decoded, and the next line is then
    // read as a command: the oracle holds for lines within it.
    if input.lines().all(|l| l.len() <= 2048) {
        assert!(output.ends_with("closing connection, bye\r\n"), "{output}");
        assert_eq!(output.contains("\r\n235 "), ok, "{input:?}\n{output}");
    }
});
