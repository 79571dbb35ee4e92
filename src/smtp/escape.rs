//! Making untrusted bytes safe for a terminal: server text never drives the terminal.

/// Render bytes for display: printable ASCII and printable UTF-8 as they are; TAB kept;
/// `\r` `\n` `\\` escaped; other C0/C1 controls, DEL and ESC as `\xHH` (or `\u{HHHH}` for C1
/// and other non-printing code points); bytes that are not UTF-8 as `\xHH`. The output
/// never holds a control character other than TAB.
pub fn escape_bytes(bytes: &[u8]) -> String {
    todo!("{bytes:?}")
}

/// As [`escape_bytes`] for a `str`.
pub fn escape_str(s: &str) -> String {
    escape_bytes(s.as_bytes())
}
