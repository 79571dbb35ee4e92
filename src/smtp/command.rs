//! Command lines the user types: verb recognition and the checks that keep CR, LF, NUL
//! and other control characters off the wire (PRODUCT.md safety rule 3).

/// The longest command line without its CRLF: 512 octets minus 2 (RFC 5321 §4.5.3.1.4).
pub const MAX_COMMAND_LINE: usize = 510;

/// The verb of a command line, case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    /// HELO
    Helo,
    /// EHLO
    Ehlo,
    /// LHLO (RFC 2033)
    Lhlo,
    /// MAIL
    Mail,
    /// RCPT
    Rcpt,
    /// DATA
    Data,
    /// BDAT (RFC 3030)
    Bdat,
    /// RSET
    Rset,
    /// NOOP
    Noop,
    /// VRFY
    Vrfy,
    /// EXPN
    Expn,
    /// HELP
    Help,
    /// QUIT
    Quit,
    /// STARTTLS (RFC 3207)
    Starttls,
    /// AUTH (RFC 4954)
    Auth,
    /// Anything else, upper-cased.
    Other(String),
}

impl Verb {
    /// The verb of `line`: its first word, up to a space or `:` (so `MAIL FROM:<a>` and
    /// `mail from:<a>` are both `Mail`).
    pub fn of_line(line: &str) -> Verb {
        // RFC 5321 §2.4: verbs are case-insensitive. TAB ends the word too, so a typed
        // `EHLO<TAB>name` is still recognised.
        let end = line.find([' ', '\t', ':']).unwrap_or(line.len());
        let word = line[..end].to_ascii_uppercase();
        match word.as_str() {
            "HELO" => Verb::Helo,
            "EHLO" => Verb::Ehlo,
            "LHLO" => Verb::Lhlo,
            "MAIL" => Verb::Mail,
            "RCPT" => Verb::Rcpt,
            "DATA" => Verb::Data,
            "BDAT" => Verb::Bdat,
            "RSET" => Verb::Rset,
            "NOOP" => Verb::Noop,
            "VRFY" => Verb::Vrfy,
            "EXPN" => Verb::Expn,
            "HELP" => Verb::Help,
            "QUIT" => Verb::Quit,
            "STARTTLS" => Verb::Starttls,
            "AUTH" => Verb::Auth,
            _ => Verb::Other(word),
        }
    }
    /// The verb as sent on the wire, upper-case.
    pub fn name(&self) -> &str {
        match self {
            Verb::Helo => "HELO",
            Verb::Ehlo => "EHLO",
            Verb::Lhlo => "LHLO",
            Verb::Mail => "MAIL",
            Verb::Rcpt => "RCPT",
            Verb::Data => "DATA",
            Verb::Bdat => "BDAT",
            Verb::Rset => "RSET",
            Verb::Noop => "NOOP",
            Verb::Vrfy => "VRFY",
            Verb::Expn => "EXPN",
            Verb::Help => "HELP",
            Verb::Quit => "QUIT",
            Verb::Starttls => "STARTTLS",
            Verb::Auth => "AUTH",
            Verb::Other(word) => word,
        }
    }
}

/// Why a command line was refused; `Display` is one line saying what and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// A control character other than TAB.
    #[error(
        "refused: the line holds {name} at column {column}; nothing was sent (use :raw to send control bytes on purpose)"
    )]
    Control {
        /// The byte.
        byte: u8,
        /// 1-based column.
        column: usize,
        /// Human name, e.g. `a CR (0x0D)`.
        name: String,
    },
    /// Longer than [`MAX_COMMAND_LINE`].
    #[error(
        "refused: the line is {len} octets, over SMTP's 510 (RFC 5321 §4.5.3.1.4); nothing was sent (use :raw to send it anyway)"
    )]
    TooLong {
        /// Its length in octets.
        len: usize,
    },
}

/// Check a line before it is sent as a command: no control characters (TAB allowed),
/// at most [`MAX_COMMAND_LINE`] octets.
pub fn check_line(line: &[u8]) -> Result<(), LineError> {
    // Control characters first: a line holding a CR or LF would be two commands on the
    // wire (command injection), whatever its length.
    check_controls(line, true)?;
    if line.len() > MAX_COMMAND_LINE {
        return Err(LineError::TooLong { len: line.len() });
    }
    Ok(())
}

/// Check a value that will be put inside a command (an `--ehlo` name, a user name):
/// no control characters at all, TAB included.
pub fn check_value(what: &str, value: &str) -> Result<(), LineError> {
    // `what` names the value for callers' messages; the error itself is about the bytes.
    let _ = what;
    check_controls(value.as_bytes(), false)
}

/// Refuse the first control character: C0 (TAB aside when `tab_ok`) and DEL.
fn check_controls(bytes: &[u8], tab_ok: bool) -> Result<(), LineError> {
    let bad = |b: u8| (b < 0x20 && !(tab_ok && b == b'\t')) || b == 0x7f;
    match bytes.iter().position(|&b| bad(b)) {
        Some(i) => Err(LineError::Control {
            byte: bytes[i],
            column: i + 1,
            name: control_name(bytes[i]),
        }),
        None => Ok(()),
    }
}

/// A control byte as a person would name it: `a CR (0x0D)`.
fn control_name(byte: u8) -> String {
    let name = match byte {
        b'\r' => "a CR",
        b'\n' => "an LF",
        0x00 => "a NUL",
        0x1b => "an ESC",
        0x7f => "a DEL",
        b'\t' => "a TAB",
        _ => "a control character",
    };
    format!("{name} (0x{byte:02X})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs() {
        let cases = [
            ("EHLO client.example.net", Verb::Ehlo),
            ("ehlo x", Verb::Ehlo),
            ("HELO x", Verb::Helo),
            ("lhlo x", Verb::Lhlo),
            ("MAIL FROM:<a@example.org>", Verb::Mail),
            ("mail from:<a@example.org>", Verb::Mail),
            ("Rcpt To:<b@example.org>", Verb::Rcpt),
            ("DATA", Verb::Data),
            ("BDAT 100 LAST", Verb::Bdat),
            ("rset", Verb::Rset),
            ("NOOP", Verb::Noop),
            ("VRFY postmaster", Verb::Vrfy),
            ("EXPN list", Verb::Expn),
            ("HELP", Verb::Help),
            ("quit", Verb::Quit),
            ("StartTLS", Verb::Starttls),
            ("AUTH PLAIN", Verb::Auth),
            ("EHLO\tx", Verb::Ehlo),
            ("xclient NAME=x", Verb::Other("XCLIENT".into())),
            ("", Verb::Other(String::new())),
            (" MAIL", Verb::Other(String::new())),
        ];
        for (line, verb) in cases {
            assert_eq!(Verb::of_line(line), verb, "{line:?}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(Verb::Mail.name(), "MAIL");
        assert_eq!(Verb::Starttls.name(), "STARTTLS");
        assert_eq!(Verb::of_line("etrn x").name(), "ETRN");
        for line in [
            "HELO", "EHLO", "LHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "VRFY", "EXPN",
            "HELP", "QUIT", "STARTTLS", "AUTH",
        ] {
            assert_eq!(Verb::of_line(line).name(), line);
            assert_ne!(Verb::of_line(line), Verb::Other(line.into()));
        }
    }

    #[test]
    fn check_line_controls() {
        let cases: &[(&[u8], u8, usize, &str)] = &[
            (b"MAIL FROM:<a>\r\nRCPT TO:<b>", b'\r', 14, "a CR (0x0D)"),
            (b"NOOP\n", b'\n', 5, "an LF (0x0A)"),
            (b"\0", 0, 1, "a NUL (0x00)"),
            (b"EHLO \x1b[31m", 0x1b, 6, "an ESC (0x1B)"),
            (b"NOOP\x7f", 0x7f, 5, "a DEL (0x7F)"),
            (b"NOOP \x07", 0x07, 6, "a control character (0x07)"),
            (b"NOOP \x1f", 0x1f, 6, "a control character (0x1F)"),
        ];
        for &(line, byte, column, name) in cases {
            assert_eq!(
                check_line(line),
                Err(LineError::Control {
                    byte,
                    column,
                    name: name.into()
                }),
                "{line:?}"
            );
        }
        assert_eq!(check_line(b"NOOP\tx"), Ok(()));
        assert_eq!(check_line("EHLO café".as_bytes()), Ok(()));
        assert_eq!(check_line(b""), Ok(()));
    }

    // RFC 5321 §4.5.3.1.4: 512 octets with the CRLF.
    #[test]
    fn check_line_length() {
        assert_eq!(check_line(&[b'x'; 510]), Ok(()));
        assert_eq!(
            check_line(&[b'x'; 511]),
            Err(LineError::TooLong { len: 511 })
        );
        // A control character is the more important news.
        let mut long = vec![b'x'; 600];
        long[599] = b'\n';
        assert!(matches!(
            check_line(&long),
            Err(LineError::Control { column: 600, .. })
        ));
    }

    #[test]
    fn check_line_message() {
        let err = check_line(b"NOOP\r\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "refused: the line holds a CR (0x0D) at column 5; nothing was sent (use :raw to send control bytes on purpose)"
        );
    }

    #[test]
    fn check_value_refuses_tab_too() {
        assert_eq!(check_value("--ehlo", "client.example.net"), Ok(()));
        assert_eq!(check_value("user", &"x".repeat(600)), Ok(()));
        assert_eq!(
            check_value("--ehlo", "a\tb"),
            Err(LineError::Control {
                byte: b'\t',
                column: 2,
                name: "a TAB (0x09)".into()
            })
        );
        assert_eq!(
            check_value("user", "bob\r\nRCPT TO:<x>"),
            Err(LineError::Control {
                byte: b'\r',
                column: 4,
                name: "a CR (0x0D)".into()
            })
        );
    }
}
