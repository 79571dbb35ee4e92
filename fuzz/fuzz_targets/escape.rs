//! Display escaping (src/smtp/escape.rs) on any bytes: no control character but TAB ever
//! reaches the terminal, printable ASCII passes unchanged, and the escaping is total.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpsh::smtp::escape::{escape_bytes, escape_str};

fuzz_target!(|data: &[u8]| {
    let shown = escape_bytes(data);
    assert!(
        !shown.chars().any(|c| c.is_control() && c != '\t'),
        "{shown:?}"
    );
    // Bidi overrides and isolates would reorder what the user reads.
    assert!(
        !shown
            .chars()
            .any(|c| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
        "{shown:?}"
    );
    if data
        .iter()
        .all(|&b| b == b'\t' || ((0x20..0x7f).contains(&b) && b != b'\\'))
    {
        assert_eq!(shown.as_bytes(), data);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        assert_eq!(escape_str(text), shown);
    }
});
