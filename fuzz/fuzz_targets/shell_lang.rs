//! The command language's parsers (src/shell/lang.rs, through its public functions only:
//! `parse_shell`, `ExpectSpec::parse`, `unescape_raw`) on any line a person types or a
//! script holds: no panic.
//!
//! The lead is rewriting the command language; this target follows its public API.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpsh::shell::lang::{ExpectSpec, parse_shell, unescape_raw};

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_shell(line);
    let _ = parse_shell(&format!(":{line}"));
    if let Ok(spec) = ExpectSpec::parse(line) {
        assert_eq!(spec.as_str(), line.trim());
    }
    if let Ok(bytes) = unescape_raw(line) {
        assert!(bytes.len() <= line.len());
    }
});
