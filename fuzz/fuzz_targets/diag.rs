//! The parsers behind `:dane`, `:mta-sts` and `--audit` (src/diag/, src/net/anchor.rs) on
//! whatever DNS, an HTTPS server or a trust-anchor file holds: TLSA rdata, the `_mta-sts`
//! and `_smtp._tls` TXT records, an MTA-STS policy, an HTTP response head and chunked body,
//! a certificate, an anchor file. No panic; what parses is bounded by what came in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpsh::diag::{cert::CertFacts, http, mta_sts, tlsa::Tlsa, tlsrpt};
use smtpsh::net::anchor;

fuzz_target!(|data: &[u8]| {
    let _ = Tlsa::from_rdata(data);
    let _ = CertFacts::parse(data, 0);
    if let Ok((_head, used)) = http::parse_head(data) {
        assert!(used <= data.len());
    }
    if let Ok(body) = http::decode_chunked(data, 64 * 1024) {
        assert!(body.len() <= 64 * 1024 && body.len() <= data.len());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = mta_sts::parse_record(text);
        let _ = mta_sts::parse_policy(text);
        let _ = tlsrpt::parse_record(text);
        let _ = anchor::parse(text);
    }
});
