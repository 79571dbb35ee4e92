//! The command language at the edge: a line typed at the prompt or read from a script
//! becomes a typed value here, once — a [`Line`] (an SMTP [`Command`], a shell command, or
//! nothing), a [`BodyLine`], an [`ExpectSpec`] — and nothing below looks at the text again.
//! Also `:raw`'s escapes and what counts as a failing reply.

use super::commands::{ShellCmd, ShellParser};
use crate::smtp::command::{Command, CommandError};
use crate::smtp::reply::{Class, EnhancedCode, Reply};

/// A usage error in a line; `Display` is one line saying what and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LangError {
    /// A shell command that does not parse.
    #[error("{0}")]
    Shell(String),
    /// An SMTP command line refused by the checks (safety rule 3).
    #[error(transparent)]
    Command(#[from] CommandError),
}

fn err<T>(s: impl Into<String>) -> Result<T, LangError> {
    Err(LangError::Shell(s.into()))
}

/// A line in command position, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// Nothing to run: a blank line (and, in a script, a `#` comment).
    Blank,
    /// An SMTP command line.
    Smtp(Command),
    /// A shell command (a line starting with `:`).
    Shell(ShellCmd),
}

/// Where a line comes from: scripts skip `#` comments, the prompt sends them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Typed at the prompt.
    Prompt,
    /// Read from a script.
    Script,
}

/// Parse a line in command position.
pub fn parse_line(text: &str, origin: Origin, shell: &mut ShellParser) -> Result<Line, LangError> {
    let t = text.trim_start();
    if t.is_empty() || (origin == Origin::Script && t.starts_with('#')) {
        return Ok(Line::Blank);
    }
    if t.starts_with(':') {
        return Ok(Line::Shell(shell.parse(t)?));
    }
    Ok(Line::Smtp(Command::parse(text)?))
}

/// A line of a DATA body, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLine<'a> {
    /// The lone `.` that ends the body (RFC 5321 §4.1.1.4).
    End,
    /// A line of the message, taken literally (dot-stuffing comes later).
    Text {
        /// The bytes, without the line end.
        line: &'a [u8],
        /// It looks like a shell command put in the body by mistake (`:expect 250`): it is
        /// sent as it is, with a warning.
        suspicious: bool,
    },
}

/// Classify a body line (bytes: a body may be in any 8-bit charset).
pub fn parse_body_line(line: &[u8]) -> BodyLine<'_> {
    if line == b"." {
        return BodyLine::End;
    }
    BodyLine::Text {
        line,
        suspicious: looks_like_shell_command(line),
    }
}

/// `:expect 250`, `:send x`, `:quit` as a body line: almost certainly a mistake, since a
/// message line rarely starts with a colon and a known command name.
fn looks_like_shell_command(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b":") else {
        return false;
    };
    let name: Vec<u8> = rest
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
        .map(u8::to_ascii_lowercase)
        .collect();
    let after = rest.get(name.len()).copied();
    !name.is_empty()
        && after.is_none_or(|b| b == b' ')
        && std::str::from_utf8(&name).is_ok_and(super::commands::is_command_name)
}

/// Interpret `\r \n \t \0 \xHH \\` in `:raw` text. A trailing CRLF is not added.
pub fn unescape_raw(s: &str) -> Result<Vec<u8>, LangError> {
    unescape(":raw", s)
}

/// The escapes of `:raw` (`\r \n \t \0 \xHH \\`), for any command that takes bytes
/// (`:b64` too: building an AUTH PLAIN string by hand needs its NULs). `what` names the
/// command in errors.
pub fn unescape(what: &str, s: &str) -> Result<Vec<u8>, LangError> {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let bad = || LangError::Shell(format!("{what}: \\x needs two hex digits"));
                let hex = s.get(i + 2..i + 4).ok_or_else(bad)?;
                let v = u8::from_str_radix(hex, 16).map_err(|_| bad())?;
                out.push(v);
                i += 4;
                continue;
            }
            Some(_) => {
                let c = s.get(i + 1..).and_then(|r| r.chars().next()).unwrap_or('?');
                // The character is shown escaped: an error never carries a line end or an
                // escape sequence of what was typed.
                let c = crate::smtp::escape::escape_controls(&c.to_string());
                return err(format!(
                    "{what}: unknown escape \\{c}; use \\r \\n \\t \\0 \\xHH or \\\\"
                ));
            }
            None => {
                return err(format!(
                    "{what}: a lone backslash at the end; use \\\\ for a backslash"
                ));
            }
        }
        i += 2;
    }
    Ok(out)
}

/// One alternative of an `:expect` spec.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Alt {
    /// `Some((value, digits))`: the code must start with these `digits` digits of `value`.
    code: Option<(u16, u8)>,
    enhanced: Option<EnhancedCode>,
}

/// What `:expect` checks: alternatives separated by `|`, each a code (`250`), a class
/// (`2xx`, `25x`), an enhanced code (`5.1.1`) or both (`550 5.1.1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectSpec {
    alts: Vec<Alt>,
    text: String,
    /// `:expect <rcpt> SPEC`: check only the LMTP reply for this recipient (the address
    /// between the brackets).
    rcpt: Option<String>,
}

impl ExpectSpec {
    /// Parse a spec.
    pub fn parse(s: &str) -> Result<ExpectSpec, LangError> {
        let s = s.trim();
        // LMTP (RFC 2033 §4.2): `<rcpt> SPEC` picks one recipient's reply to the message.
        if let Some(r) = s.strip_prefix('<') {
            let (addr, spec) = r.split_once('>').ok_or_else(|| {
                LangError::Shell(":expect <recipient> SPEC: the recipient needs its '>'".into())
            })?;
            let mut e = ExpectSpec::parse(spec)?;
            e.rcpt = Some(addr.to_string());
            e.text = s.to_string();
            return Ok(e);
        }
        if s.is_empty() {
            return err(":expect needs a SPEC: 250, 2xx, 5.1.1, 550 5.1.1 or 250|251");
        }
        let mut alts = Vec::new();
        for part in s.split('|') {
            let mut alt = Alt {
                code: None,
                enhanced: None,
            };
            let words: Vec<&str> = part.split_whitespace().collect();
            if words.is_empty() || words.len() > 2 {
                return err(format!(
                    ":expect: {part:?} is not a code, a class or an enhanced code"
                ));
            }
            for w in words {
                if w.contains('.') {
                    let e = w.parse::<EnhancedCode>().map_err(|()| {
                        LangError::Shell(format!(
                            ":expect: {w:?} is not an enhanced code like 5.1.1"
                        ))
                    })?;
                    if alt.enhanced.replace(e).is_some() {
                        return err(":expect: two enhanced codes in one alternative");
                    }
                } else {
                    let c = parse_code_pattern(w).ok_or_else(|| {
                        LangError::Shell(format!(
                            ":expect: {w:?} is not a code like 250, 2xx or 25x"
                        ))
                    })?;
                    if alt.code.replace(c).is_some() {
                        return err(":expect: two codes in one alternative");
                    }
                }
            }
            alts.push(alt);
        }
        Ok(ExpectSpec {
            alts,
            text: s.to_string(),
            rcpt: None,
        })
    }

    /// The recipient of `:expect <rcpt> SPEC`, if one was named (without its brackets).
    pub fn recipient(&self) -> Option<&str> {
        self.rcpt.as_deref()
    }

    /// Whether this spec is about the LMTP reply for `rcpt` (as RCPT named it, `<a@b>` or
    /// bare): every recipient when none was named. Addresses compare without their brackets
    /// and without regard to ASCII case: `<Bob@Test>` is the `<bob@test>` of the RCPT line.
    pub fn covers(&self, rcpt: &str) -> bool {
        let bare = |a: &str| {
            a.strip_prefix('<')
                .and_then(|a| a.strip_suffix('>'))
                .unwrap_or(a)
                .to_string()
        };
        self.rcpt
            .as_deref()
            .is_none_or(|w| bare(w).eq_ignore_ascii_case(&bare(rcpt)))
    }

    /// Whether `reply` satisfies the spec.
    pub fn matches(&self, reply: &Reply) -> bool {
        self.alts.iter().any(|a| {
            let code_ok = a.code.is_none_or(|(v, digits)| {
                let div = 10u16.pow(3 - digits as u32);
                reply.code.value() / div == v / div
            });
            let enh_ok = a.enhanced.is_none_or(|e| reply.enhanced == Some(e));
            code_ok && enh_ok
        })
    }

    /// Whether a reply with this code and no enhanced code could satisfy the spec: a script
    /// whose `:expect` after DATA can't be met by 354 says that DATA will be refused, and so
    /// that no body follows.
    pub fn admits(&self, code: u16) -> bool {
        self.alts.iter().any(|a| {
            a.enhanced.is_none()
                && a.code.is_none_or(|(v, digits)| {
                    let div = 10u16.pow(3 - digits as u32);
                    code / div == v / div
                })
        })
    }

    /// The spec as typed.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn parse_code_pattern(w: &str) -> Option<(u16, u8)> {
    let b = w.as_bytes();
    if b.len() != 3 || !(b'2'..=b'5').contains(&b[0]) {
        return None;
    }
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if !b[digits..].iter().all(|c| *c == b'x' || *c == b'X') {
        return None;
    }
    let mut v = 0u16;
    for (i, c) in b.iter().enumerate() {
        v = v * 10 + if i < digits { (c - b'0') as u16 } else { 0 };
    }
    Some((v, digits as u8))
}

/// Whether a reply is one a script does not accept without an `:expect`: 4xx or 5xx.
pub fn is_failure(reply: &Reply) -> bool {
    matches!(
        reply.code.class(),
        Class::TransientNegative | Class::PermanentNegative
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::commands::ShellCmd;
    use crate::smtp::reply::Code;

    fn reply(code: u16, enh: Option<&str>) -> Reply {
        Reply::new(
            Code::new(code).unwrap(),
            enh.map(|e| e.parse().unwrap()),
            &["x"],
        )
    }

    #[test]
    fn expect_table() {
        let cases: &[(&str, u16, Option<&str>, bool)] = &[
            ("250", 250, None, true),
            ("250", 251, None, false),
            ("2xx", 251, None, true),
            ("2XX", 354, None, false),
            ("25x", 251, None, true),
            ("25x", 221, None, false),
            ("5.1.1", 550, Some("5.1.1"), true),
            ("5.1.1", 550, Some("5.1.2"), false),
            ("5.1.1", 550, None, false),
            ("550 5.1.1", 550, Some("5.1.1"), true),
            ("550 5.1.1", 553, Some("5.1.1"), false),
            ("250|251", 251, None, true),
            ("250|251", 252, None, false),
            ("250 | 5xx", 554, None, true),
        ];
        for (spec, code, enh, want) in cases {
            let s = ExpectSpec::parse(spec).unwrap();
            assert_eq!(
                s.matches(&reply(*code, *enh)),
                *want,
                "{spec} vs {code} {enh:?}"
            );
        }
    }

    #[test]
    fn expect_refusals() {
        for bad in [
            "", "2", "25", "2500", "650", "1xx", "x50", "5.1", "5.1.1.1", "250 251", "250||251",
            "ok",
        ] {
            assert!(ExpectSpec::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn raw_escapes() {
        assert_eq!(unescape_raw("NOOP\\r\\n").unwrap(), b"NOOP\r\n");
        assert_eq!(unescape_raw("a\\x00b\\\\\\t").unwrap(), b"a\x00b\\\t");
        assert_eq!(unescape_raw("\\xff\\0").unwrap(), b"\xff\x00");
        assert!(unescape_raw("\\q").is_err());
        assert!(unescape_raw("\\x4").is_err());
        assert!(unescape_raw("\\xzz").is_err());
        assert!(unescape_raw("end\\").is_err());
    }

    fn parsed(text: &str, origin: Origin) -> Result<Line, LangError> {
        parse_line(text, origin, &mut ShellParser::new())
    }

    #[test]
    fn lines_parse_once_into_values() {
        assert_eq!(parsed("", Origin::Prompt).unwrap(), Line::Blank);
        assert_eq!(parsed("   ", Origin::Script).unwrap(), Line::Blank);
        assert_eq!(parsed("# note", Origin::Script).unwrap(), Line::Blank);
        // At the prompt a `#` line is a command like any other (a server may answer it).
        assert!(matches!(
            parsed("# note", Origin::Prompt).unwrap(),
            Line::Smtp(_)
        ));
        let Line::Smtp(c) = parsed("mail from:<a@b> SIZE=10", Origin::Script).unwrap() else {
            panic!("not SMTP")
        };
        assert_eq!(c.to_string(), "mail from:<a@b> SIZE=10\r\n");
        assert!(matches!(
            parsed(":caps", Origin::Script).unwrap(),
            Line::Shell(ShellCmd::Caps(_))
        ));
        assert!(matches!(
            parsed("NOOP\r", Origin::Script),
            Err(LangError::Command(_))
        ));
    }

    // See: issue 12, non-ASCII input panicked the script reader (byte-index slicing).
    #[test]
    fn non_ascii_lines_parse_or_are_refused_without_panic() {
        for l in [
            "EHLO añ.example",
            "VRFY ö",
            "ö",
            ":ö",
            "MAIL FROM:<é@x>",
            "日本語",
        ] {
            for o in [Origin::Prompt, Origin::Script] {
                let _ = parsed(l, o);
            }
        }
        assert!(matches!(
            parsed("EHLO añ.example", Origin::Script).unwrap(),
            Line::Smtp(_)
        ));
    }

    #[test]
    fn body_lines() {
        assert_eq!(parse_body_line(b"."), BodyLine::End);
        assert_eq!(
            parse_body_line(b".."),
            BodyLine::Text {
                line: b"..",
                suspicious: false
            }
        );
        for (l, sus) in [
            (&b":expect 250"[..], true),
            (b":quit", true),
            (b":Send x", true),
            (b":-)", false),
            (b":expected", false),
            (b"Subject: :expect", false),
            (b"", false),
            (b"\xff:", false),
        ] {
            assert_eq!(
                parse_body_line(l),
                BodyLine::Text {
                    line: l,
                    suspicious: sus
                },
                "{l:?}"
            );
        }
    }

    // Found by fuzzing (fuzz/artifacts/shell_lang/crash-8a9a69c8…): an unknown escape of a
    // line end put the line end into the one-line error.
    // See: issue 12
    #[test]
    fn regression_errors_never_carry_a_control_character() {
        let mut shell = ShellParser::new();
        for line in [
            ":b64 :r+\0\0aw :41\\\n\\",
            ":raw \\\x1b[31m",
            ":b64 \\\r",
            ":\x1b[31mnope",
            ":send --\x1b[2J x",
            ":expect \x07",
            ":auth \x1b",
        ] {
            for o in [Origin::Prompt, Origin::Script] {
                if let Err(e) = parse_line(line, o, &mut shell) {
                    let e = e.to_string();
                    assert!(!e.chars().any(|c| c.is_control()), "{line:?}: {e:?}");
                }
            }
        }
    }
}
