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
        todo!("{line}")
    }
    /// The verb as sent on the wire, upper-case.
    pub fn name(&self) -> &str {
        todo!()
    }
}

/// Why a command line was refused; `Display` is one line saying what and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// A control character other than TAB.
    #[error("refused: the line holds {name} at column {column}; nothing was sent (use :raw to send control bytes on purpose)")]
    Control {
        /// The byte.
        byte: u8,
        /// 1-based column.
        column: usize,
        /// Human name, e.g. `a CR (0x0D)`.
        name: String,
    },
    /// Longer than [`MAX_COMMAND_LINE`].
    #[error("refused: the line is {len} octets, over SMTP's 510 (RFC 5321 §4.5.3.1.4); nothing was sent (use :raw to send it anyway)")]
    TooLong {
        /// Its length in octets.
        len: usize,
    },
}

/// Check a line before it is sent as a command: no control characters (TAB allowed),
/// at most [`MAX_COMMAND_LINE`] octets.
pub fn check_line(line: &[u8]) -> Result<(), LineError> {
    todo!("{line:?}")
}

/// Check a value that will be put inside a command (an `--ehlo` name, a user name):
/// no control characters at all, TAB included.
pub fn check_value(what: &str, value: &str) -> Result<(), LineError> {
    todo!("{what}{value}")
}
