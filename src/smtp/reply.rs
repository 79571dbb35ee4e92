//! Reply codes and replies (RFC 5321 §4.2), and an incremental, bounded reply parser.

use std::fmt;

/// A three-digit reply code, 200–559 (RFC 5321 §4.2: `%x32-35 %x30-35 %x30-39`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Code(u16);

/// The first digit of a reply code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 2xx
    PositiveCompletion,
    /// 3xx
    PositiveIntermediate,
    /// 4xx
    TransientNegative,
    /// 5xx
    PermanentNegative,
}

impl Code {
    /// `None` unless `value` is a valid reply code under RFC 5321's grammar.
    pub fn new(value: u16) -> Option<Code> {
        todo!("{value}")
    }
    /// The numeric value.
    pub fn value(self) -> u16 {
        self.0
    }
    /// The class (first digit).
    pub fn class(self) -> Class {
        todo!()
    }
    /// 4xx or 5xx.
    pub fn is_negative(self) -> bool {
        todo!()
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An enhanced status code `class.subject.detail` (RFC 3463, RFC 2034).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// 2, 4 or 5
    pub class: u8,
    /// 0–999
    pub subject: u16,
    /// 0–999
    pub detail: u16,
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

impl std::str::FromStr for EnhancedCode {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        todo!("{s}")
    }
}

/// One complete reply: a code, an optional enhanced code, and the text of each line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reply code shared by every line.
    pub code: Code,
    /// The enhanced status code of the first line, when present.
    pub enhanced: Option<EnhancedCode>,
    /// The text of each line after the code and separator, with the enhanced code (when it
    /// matches `enhanced`) and the line ending removed. Raw bytes: a server may send non-UTF-8.
    pub lines: Vec<Vec<u8>>,
}

impl Reply {
    /// A reply built from text lines (used by the practice server and tests).
    pub fn new(code: Code, enhanced: Option<EnhancedCode>, lines: &[&str]) -> Reply {
        todo!("{code}{enhanced:?}{lines:?}")
    }
    /// The exact wire form: every line `code` + `-`/` ` + enhanced code (if any) + text + CRLF.
    pub fn to_wire(&self) -> Vec<u8> {
        todo!()
    }
    /// Each line's text made safe for a terminal (see [`crate::smtp::escape`]).
    pub fn display_lines(&self) -> Vec<String> {
        todo!()
    }
}

/// Something odd but tolerated in a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// A line longer than 512 octets with its CRLF (RFC 5321 §4.5.3.1.5).
    LongLine {
        /// The length in octets, line ending included.
        len: usize,
    },
    /// A line ended by a bare LF instead of CRLF.
    BareLf,
}

/// A reply and what was odd about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The reply.
    pub reply: Reply,
    /// Tolerated oddities, in order, at most one `BareLf`.
    pub warnings: Vec<Warning>,
}

/// Why bytes from the server are not a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The line does not start with a valid three-digit code.
    #[error("the server sent a line that does not start with a reply code: {line}")]
    BadCode {
        /// The offending line, escaped for display and cut to 80 characters.
        line: String,
    },
    /// The character after the code is neither space, `-` nor the line end.
    #[error("the server sent a reply code followed by {found:?} instead of a space or '-'")]
    BadSeparator {
        /// The character found, escaped.
        found: String,
    },
    /// A continuation line carries another code than the first line.
    #[error("the server changed the reply code from {expected} to {found} inside one multi-line reply")]
    CodeMismatch {
        /// The first line's code.
        expected: Code,
        /// This line's code.
        found: Code,
    },
    /// A single line exceeded the hard limit without a line end.
    #[error("the server sent a line of over {limit} octets; ending the connection")]
    LineTooLong {
        /// The hard limit.
        limit: usize,
    },
    /// A multi-line reply exceeded the hard limit on lines or octets.
    #[error("the server sent a reply of over {limit_lines} lines or {limit_bytes} octets; ending the connection")]
    ReplyTooLarge {
        /// The limit on lines.
        limit_lines: usize,
        /// The limit on octets.
        limit_bytes: usize,
    },
}

/// Hard and soft limits for the parser.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Lines longer than this (octets, line end included) are warned about. Default 512.
    pub warn_line: usize,
    /// Lines longer than this are a protocol error. Default 8192.
    pub max_line: usize,
    /// Replies with more lines than this are a protocol error. Default 1000.
    pub max_lines: usize,
    /// Replies larger than this (octets) are a protocol error. Default 256 KiB.
    pub max_reply: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { warn_line: 512, max_line: 8192, max_lines: 1000, max_reply: 256 * 1024 }
    }
}

/// An incremental reply parser: feed it bytes as they arrive, take complete replies out.
/// Memory held is bounded by [`Limits`] whatever the server sends.
#[derive(Debug, Default)]
pub struct ReplyParser {
    limits: Limits,
}

impl ReplyParser {
    /// A parser with the given limits.
    pub fn new(limits: Limits) -> ReplyParser {
        ReplyParser { limits }
    }
    /// Add bytes read from the server. Returns an error at once when the bytes held exceed
    /// the hard limits, so a caller never holds more than about `max_reply + max_line`.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), ParseError> {
        todo!("{bytes:?}")
    }
    /// The next complete reply, `Ok(None)` when more bytes are needed (incomplete), or an
    /// error when the bytes held can never become a valid reply (invalid).
    pub fn next_reply(&mut self) -> Result<Option<Parsed>, ParseError> {
        todo!()
    }
    /// How many bytes are held that are not part of a returned reply. After a `220` to
    /// STARTTLS this must be zero, or the server (or someone in the path) injected data.
    pub fn buffered(&self) -> usize {
        todo!()
    }
    /// Forget everything held (used when the transport changes under the parser).
    pub fn clear(&mut self) {
        todo!()
    }
}
