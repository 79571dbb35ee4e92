//! Text for comparing and for failure messages: bytes escaped, hex, transcripts made
//! comparable between runs ([`normalise`], [`stable`]), golden files ([`golden`]), and what
//! a pseudo-terminal showed as plain text ([`from_pty`], [`strip_escapes`]).

use std::fmt::Write as _;
use std::path::Path;

/// Bytes as text with everything outside printable ASCII escaped (`\r`, `\n`, `\xHH`), for
/// readable failure messages.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s
}

/// Lower-case hex.
pub fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

// ---------------------------------------------------------------------------------------
// Golden transcripts
// ---------------------------------------------------------------------------------------

/// Make a transcript comparable between runs: a number before ` ms` or after a JSON `"ms":`
/// becomes `T`, and a queue id after `queued as ` becomes `ID`. Ports are the caller's.
pub fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(|c: char| c.is_ascii_alphanumeric()) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let word = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        if out.ends_with("queued as ") {
            out.push_str("ID");
            rest = &rest[word..];
            continue;
        }
        if !rest.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str(&rest[..word]);
            rest = &rest[word..];
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let is_time = rest[end..].starts_with(" ms") || out.ends_with("\"ms\":");
        out.push_str(if is_time { "T" } else { &rest[..end] });
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A transcript with what varies from run to run replaced, line by line: times (as
/// [`normalise`]), `127.0.0.1:PORT`, 14-digit queue ids, CRAM-MD5 challenges, certificate
/// fingerprints and validity dates. Used where a document shows a real transcript
/// (docs/tutorial.md, README.md).
pub fn stable(text: &str) -> String {
    let mut out = Vec::new();
    for line in normalise(text).lines() {
        let mut l = line.to_string();
        // 127.0.0.1:PORT, every occurrence.
        let mut from = 0;
        while let Some(i) = l[from..].find("127.0.0.1:").map(|i| from + i + 10) {
            let end = l[i..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(l.len(), |j| i + j);
            l.replace_range(i..end, "PORT");
            from = i;
        }
        // Queue ids: 14 upper-case hex digits.
        let words: Vec<String> = l
            .split(' ')
            .map(|w| {
                let core = w.trim_matches(|c| c == '(' || c == ')' || c == ',');
                if core.len() == 14
                    && core
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
                {
                    w.replace(core, "QUEUEID")
                } else {
                    w.to_string()
                }
            })
            .collect();
        l = words.join(" ");
        // CRAM-MD5 challenges are fresh every time (RFC 2195): so are their decodings.
        if l.contains(" 334 ") && l.len() > 40 {
            l = format!("{} CHALLENGE", &l[..l.find(" 334 ").unwrap() + 4]);
        }
        if l.starts_with("* challenge decodes to: <") {
            l = "* challenge decodes to: <CHALLENGE>".to_string();
        }
        if let Some(i) = l.find("SHA-256 ") {
            l.truncate(i + "SHA-256".len());
        }
        for label in ["*   sha256", "*   valid"] {
            if l.starts_with(label) {
                l.truncate(label.len());
            }
        }
        out.push(l);
    }
    out.join("\n")
}

/// Compare `got` with tests/golden/NAME; with `SMTPSH_BLESS=1`, write it instead.
pub fn golden(name: &str, got: &str) -> Result<(), String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("SMTPSH_BLESS").is_some() {
        return std::fs::write(&path, got).map_err(|e| format!("{}: {e}", path.display()));
    }
    let want = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if want == got {
        Ok(())
    } else {
        Err(format!(
            "{} differs (SMTPSH_BLESS=1 rewrites it)\n--- want\n{want}\n--- got\n{got}",
            path.display()
        ))
    }
}

#[test]
fn normalise_replaces_times_and_queue_ids_only() {
    assert_eq!(
        normalise("S: 250 [2.0.0] queued as 4F2A1  (12.5 ms)\n{\"code\":250,\"ms\":0.094}"),
        "S: 250 [2.0.0] queued as ID  (T ms)\n{\"code\":250,\"ms\":T}"
    );
}

// ---------------------------------------------------------------------------------------
// What a pseudo-terminal showed
// ---------------------------------------------------------------------------------------

/// What rexpect read, as text: it hands each byte over as one `char`.
pub fn from_pty(s: &str) -> String {
    let bytes: Vec<u8> = s.chars().map(|c| c as u32 as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Terminal escape sequences (CSI, OSC, and two-byte ones) and CRs removed.
pub fn strip_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\x1b' => match it.next() {
                Some('[') => {
                    for c in it.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    while let Some(c) = it.next() {
                        if c == '\x07' || (c == '\x1b' && it.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' | '\x07' => {}
            c => out.push(c),
        }
    }
    out
}

/// A transcript line: what smtpsh sent, what the server said, smtpsh's notes, warnings and
/// explanations.
pub fn is_transcript(line: &str) -> bool {
    ["C: ", "C~ ", "S: ", "S~ ", "* ", "! ", "? "]
        .iter()
        .any(|m| line.starts_with(m))
}
