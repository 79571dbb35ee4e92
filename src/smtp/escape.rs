//! Making untrusted bytes safe for a terminal: server text never drives the terminal.
//!
//! Everything a server (or a file, or a peer) sends goes through here before it is shown,
//! so an ESC sequence, a bare CR that rewrites the line, a C1 CSI or a bidi override can't
//! move the cursor, recolour the screen or reorder what the user reads.

use std::fmt::Write as _;

/// Render bytes for display: printable ASCII and printable UTF-8 as they are; TAB kept;
/// `\r` `\n` `\\` escaped; other C0/C1 controls, DEL and ESC as `\xHH` (or `\u{HHHH}` for C1
/// and other non-printing code points); bytes that are not UTF-8 as `\xHH`. The output
/// never holds a control character other than TAB.
pub fn escape_bytes(bytes: &[u8]) -> String {
    // Fast path: most server text is plain printable ASCII and needs no work.
    if bytes
        .iter()
        .all(|&b| b == b'\t' || ((0x20..0x7f).contains(&b) && b != b'\\'))
    {
        // All bytes are ASCII, so this can't fail; the fallback keeps the function total.
        if let Ok(s) = std::str::from_utf8(bytes) {
            return s.to_owned();
        }
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        for b in chunk.invalid() {
            // Writing to a String can't fail.
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// As [`escape_bytes`] for a `str`.
pub fn escape_str(s: &str) -> String {
    escape_bytes(s.as_bytes())
}

/// A message of smtpsh's own that may quote what was typed: control characters and hidden
/// code points escaped as [`escape_str`] does, but backslashes left alone (the message's
/// own `\r` or `\\` are meant as written). The result never holds a line end.
pub fn escape_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\\' || c == '\t' {
            out.push(c);
        } else {
            push_char(&mut out, c);
        }
    }
    out
}

/// Append `c`, escaped when it could drive or confuse a terminal.
fn push_char(out: &mut String, c: char) {
    match c {
        '\t' => out.push('\t'),
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        '\\' => out.push_str("\\\\"),
        // C0 controls (ESC included) and DEL.
        '\0'..='\x1f' | '\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if is_hidden(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// Code points that are not shown as themselves but act on the terminal or on the order
/// of the text around them.
fn is_hidden(c: char) -> bool {
    matches!(
        c,
        // C1 controls: U+009B is CSI, an 8-bit ESC [ that some terminals obey.
        '\u{80}'..='\u{9f}'
        // Arabic letter mark, LRM, RLM: invisible direction marks (Unicode UAX #9).
        | '\u{61c}'
        | '\u{200e}'
        | '\u{200f}'
        // Line and paragraph separators: line breaks a terminal or viewer may honour.
        | '\u{2028}'
        | '\u{2029}'
        // Bidi embeddings, overrides and isolates: they reorder the text that follows
        // ("Trojan Source", CVE-2021-42574).
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        // Byte order mark / zero-width no-break space, and interlinear annotation controls.
        | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_table() {
        let cases: &[(&[u8], &str)] = &[
            (b"", ""),
            (b"250 mx.example.org ready", "250 mx.example.org ready"),
            (b"a\tb", "a\tb"),
            (b"a\rb\nc", "a\\rb\\nc"),
            (b"back\\slash", "back\\\\slash"),
            (b"\x1b[31mred", "\\x1b[31mred"),
            (b"nul\x00", "nul\\x00"),
            (b"del\x7f", "del\\x7f"),
            (b"bell\x07", "bell\\x07"),
            (b"\xff", "\\xff"),
            (b"ok\xc3(", "ok\\xc3("),
            ("é".as_bytes(), "é"),
            ("日本語".as_bytes(), "日本語"),
            ("\u{9b}31m".as_bytes(), "\\u{9b}31m"),
            ("\u{85}".as_bytes(), "\\u{85}"),
            ("a\u{2028}b\u{2029}".as_bytes(), "a\\u{2028}b\\u{2029}"),
            ("\u{202e}evil\u{202c}".as_bytes(), "\\u{202e}evil\\u{202c}"),
            ("\u{2066}x\u{2069}".as_bytes(), "\\u{2066}x\\u{2069}"),
            ("\u{200f}".as_bytes(), "\\u{200f}"),
        ];
        for (input, want) in cases {
            assert_eq!(escape_bytes(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn escape_controls_keeps_backslashes() {
        assert_eq!(
            escape_controls("use \\r, not \n\u{1b}"),
            "use \\r, not \\n\\x1b"
        );
    }

    #[test]
    fn escape_str_matches_bytes() {
        assert_eq!(escape_str("x\u{1b}y"), "x\\x1by");
    }

    #[test]
    fn output_never_holds_controls_but_tab() {
        let all: Vec<u8> = (0..=255u8).collect();
        let s = escape_bytes(&all);
        assert!(s.chars().all(|c| c == '\t' || !c.is_control()), "{s}");
        let c1: String = ('\u{80}'..='\u{9f}').collect();
        let s = escape_str(&c1);
        assert!(s.chars().all(|c| !c.is_control()), "{s}");
    }
}
