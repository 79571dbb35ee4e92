//! The reader of the server's plaintext handshake (src/net/tls/flight.rs) on any bytes a
//! server sends in place of TLS, fed in any chunks: no panic, the same result whatever the
//! chunking, bounded what it keeps; and the certificate readers behind `:tls`
//! (src/net/tls/report.rs) on any DER: no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpsh::net::tls::flight::{Flight, certificate_list};
use smtpsh::net::tls::report::describe_cert;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, bytes)) = data.split_first() else {
        return;
    };
    let mut whole = Flight::new();
    whole.feed(bytes);
    let mut pieces = Flight::new();
    let step = usize::from(cut).max(1);
    for chunk in bytes.chunks(step) {
        pieces.feed(chunk);
    }
    assert_eq!(
        whole.seen(),
        pieces.seen(),
        "the chunking changed what was seen"
    );
    if let Some(kept) = &whole.seen().not_tls {
        assert!(kept.len() <= 512);
    }
    if let Ok(certs) = certificate_list(bytes) {
        for (depth, der) in certs.iter().enumerate() {
            let _ = describe_cert(der, depth, 1_800_000_000);
        }
    }
    let _ = describe_cert(bytes, 0, 1_800_000_000);
});
