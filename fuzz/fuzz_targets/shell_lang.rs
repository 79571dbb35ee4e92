//! The command language at the edge (src/shell/lang.rs and src/shell/commands.rs): any line
//! a person types or a script holds, in command position (at the prompt and in a script) and
//! as a body line, becomes a typed value or a one-line error — never a panic. A `:expect`
//! spec that parses keeps its text; `:raw`'s escapes never grow the text.
#![no_main]

use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use smtpsh::shell::commands::ShellParser;
use smtpsh::shell::lang::{ExpectSpec, Origin, parse_body_line, parse_line, unescape_raw};

static SHELL: Mutex<Option<ShellParser>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let _ = parse_body_line(data);
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let mut guard = SHELL.lock().unwrap_or_else(|p| p.into_inner());
    let shell = guard.get_or_insert_with(ShellParser::new);
    for origin in [Origin::Prompt, Origin::Script] {
        if let Err(e) = parse_line(line, origin, shell) {
            assert!(!e.to_string().contains('\n'), "a multi-line error: {e}");
        }
        let _ = parse_line(&format!(":{line}"), origin, shell);
    }
    if let Ok(spec) = ExpectSpec::parse(line) {
        assert_eq!(spec.as_str(), line.trim());
    }
    if let Ok(bytes) = unescape_raw(line) {
        assert!(bytes.len() <= line.len());
    }
});
