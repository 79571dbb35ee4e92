//! Reply codes and replies (RFC 5321 §4.2), and an incremental, bounded reply parser.
//!
//! The parser tells "incomplete" (wait for more bytes) from "invalid" (the connection can't
//! recover), tolerates what real servers send (a bare `250`, a bare LF), and holds a bounded
//! amount of memory whatever arrives: complete lines are checked as soon as they arrive, and
//! only the unterminated tail is kept as raw bytes.

use std::collections::VecDeque;
use std::fmt;

use super::escape::escape_bytes;

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
        let (first, second) = (value / 100, value / 10 % 10);
        ((2..=5).contains(&first) && second <= 5).then_some(Code(value))
    }
    /// The numeric value.
    pub fn value(self) -> u16 {
        self.0
    }
    /// The class (first digit).
    pub fn class(self) -> Class {
        match self.0 / 100 {
            2 => Class::PositiveCompletion,
            3 => Class::PositiveIntermediate,
            4 => Class::TransientNegative,
            // `new` admits only 2xx–5xx.
            _ => Class::PermanentNegative,
        }
    }
    /// 4xx or 5xx.
    pub fn is_negative(self) -> bool {
        self.0 >= 400
    }
    /// The code from three ASCII digits, `None` unless they are a valid code.
    fn from_digits(digits: &[u8]) -> Option<Code> {
        match digits {
            [a, b, c] if digits.iter().all(u8::is_ascii_digit) => Code::new(
                u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'),
            ),
            _ => None,
        }
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
    /// `class.subject.detail`: class 2, 4 or 5; subject and detail 1–3 digits each
    /// (RFC 3463 §2).
    fn from_str(s: &str) -> Result<Self, ()> {
        fn number(part: &str, max_len: usize) -> Result<u16, ()> {
            if part.is_empty() || part.len() > max_len || !part.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(());
            }
            part.parse().map_err(|_| ())
        }
        let mut parts = s.split('.');
        let (Some(class), Some(subject), Some(detail), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(());
        };
        let class = number(class, 1)?;
        if !matches!(class, 2 | 4 | 5) {
            return Err(());
        }
        Ok(EnhancedCode {
            class: class as u8,
            subject: number(subject, 3)?,
            detail: number(detail, 3)?,
        })
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
    /// No lines gives one empty line, since every reply has at least one.
    pub fn new(code: Code, enhanced: Option<EnhancedCode>, lines: &[&str]) -> Reply {
        let mut lines: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
        if lines.is_empty() {
            lines.push(Vec::new());
        }
        Reply {
            code,
            enhanced,
            lines,
        }
    }
    /// The exact wire form: every line `code` + `-`/` ` + enhanced code (if any) + text + CRLF.
    ///
    /// RFC 2034 §4 puts the enhanced code on every line of a multi-line reply. A line with no
    /// text is `250 ` (or `250 2.0.0`), and a reply with no lines is written as one empty line.
    pub fn to_wire(&self) -> Vec<u8> {
        let enhanced = self.enhanced.map(|e| e.to_string());
        let code = self.code.to_string();
        let one = [Vec::new()];
        let lines: &[Vec<u8>] = if self.lines.is_empty() {
            &one
        } else {
            &self.lines
        };
        let mut out = Vec::with_capacity(lines.iter().map(|l| l.len() + 16).sum());
        for (i, line) in lines.iter().enumerate() {
            out.extend_from_slice(code.as_bytes());
            out.push(if i + 1 < lines.len() { b'-' } else { b' ' });
            if let Some(e) = &enhanced {
                out.extend_from_slice(e.as_bytes());
                if !line.is_empty() {
                    out.push(b' ');
                }
            }
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
        out
    }
    /// Each line's text made safe for a terminal (see [`crate::smtp::escape`]).
    pub fn display_lines(&self) -> Vec<String> {
        self.lines.iter().map(|l| escape_bytes(l)).collect()
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
    /// The bytes the reply arrived as, every line end included (for `:wire`, which shows
    /// what crossed the wire rather than a rebuilt reply). Bounded by [`Limits::max_reply`].
    pub raw: Vec<u8>,
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
    #[error("the server sent a reply code followed by '{found}' instead of a space or '-'")]
    BadSeparator {
        /// The character found, escaped.
        found: String,
    },
    /// A continuation line carries another code than the first line.
    #[error(
        "the server changed the reply code from {expected} to {found} inside one multi-line reply"
    )]
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
    #[error(
        "the server sent a reply of over {limit_lines} lines or {limit_bytes} octets; ending the connection"
    )]
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
        Limits {
            warn_line: 512,
            max_line: 8192,
            max_lines: 1000,
            max_reply: 256 * 1024,
        }
    }
}

/// An incremental reply parser: feed it bytes as they arrive, take complete replies out.
/// Memory held is bounded by [`Limits`] whatever the server sends.
///
/// Complete lines are checked as they arrive, so [`ReplyParser::push`] can refuse an endless
/// line or an endless multi-line reply at once. A line that can never be part of a reply
/// (a bad code, a bad separator, a changed code) is reported by [`ReplyParser::next_reply`]
/// after the replies that came before it; from then on the parser stays failed until
/// [`ReplyParser::clear`].
#[derive(Debug, Default)]
pub struct ReplyParser {
    limits: Limits,
    /// The unterminated tail: bytes after the last LF seen.
    tail: Vec<u8>,
    /// How much of `tail` is known to hold no LF, so no byte is scanned twice.
    scanned: usize,
    /// The reply whose first lines have arrived but not its last.
    partial: Option<PartialReply>,
    /// Complete replies not yet taken, with their size on the wire.
    ready: VecDeque<(Parsed, usize)>,
    /// Wire octets of the replies in `ready`.
    ready_bytes: usize,
    /// Set once the bytes can never become a valid reply; sticky until `clear`.
    failed: Option<ParseError>,
}

/// The lines of a reply so far.
#[derive(Debug)]
struct PartialReply {
    code: Code,
    lines: Vec<Vec<u8>>,
    warnings: Vec<Warning>,
    /// The lines as they arrived, line ends included.
    raw: Vec<u8>,
}

impl ReplyParser {
    /// A parser with the given limits.
    pub fn new(limits: Limits) -> ReplyParser {
        ReplyParser {
            limits,
            ..ReplyParser::default()
        }
    }
    /// Add bytes read from the server. Returns an error at once when the bytes held exceed
    /// the hard limits, so a caller never holds more than about `max_reply + max_line`.
    ///
    /// Only the hard limits ([`ParseError::LineTooLong`], [`ParseError::ReplyTooLarge`]) are
    /// returned here; other errors wait in [`ReplyParser::next_reply`] behind the replies
    /// that arrived before them. Once failed, the parser drops what it is given.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), ParseError> {
        if let Some(err) = &self.failed {
            return match err {
                ParseError::LineTooLong { .. } | ParseError::ReplyTooLarge { .. } => {
                    Err(err.clone())
                }
                _ => Ok(()),
            };
        }
        // Lines are read from the buffer while `line` updates the reply, so take it out.
        let mut buf = std::mem::take(&mut self.tail);
        buf.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(offset) = memchr::memchr(b'\n', &buf[self.scanned..]) {
            let end = self.scanned + offset + 1;
            if let Err(err) = self.line(&buf[start..end]) {
                return self.fail(err);
            }
            start = end;
            self.scanned = end;
        }
        // One drain per push: bytes left are only the unterminated tail.
        buf.drain(..start);
        self.tail = buf;
        self.scanned = self.tail.len();
        if self.tail.len() > self.limits.max_line {
            return self.fail(ParseError::LineTooLong {
                limit: self.limits.max_line,
            });
        }
        Ok(())
    }
    /// The next complete reply, `Ok(None)` when more bytes are needed (incomplete), or an
    /// error when the bytes held can never become a valid reply (invalid).
    pub fn next_reply(&mut self) -> Result<Option<Parsed>, ParseError> {
        if let Some((parsed, len)) = self.ready.pop_front() {
            self.ready_bytes -= len;
            return Ok(Some(parsed));
        }
        match &self.failed {
            Some(err) => Err(err.clone()),
            None => Ok(None),
        }
    }
    /// How many bytes are held that are not part of a returned reply. After a `220` to
    /// STARTTLS this must be zero, or the server (or someone in the path) injected data.
    pub fn buffered(&self) -> usize {
        self.ready_bytes + self.partial.as_ref().map_or(0, |p| p.raw.len()) + self.tail.len()
    }
    /// Forget everything held (used when the transport changes under the parser).
    pub fn clear(&mut self) {
        *self = ReplyParser::new(self.limits);
    }

    /// Record a fatal error, free what is held, and return the error if it is a hard limit.
    fn fail(&mut self, err: ParseError) -> Result<(), ParseError> {
        self.tail = Vec::new();
        self.scanned = 0;
        self.partial = None;
        self.failed = Some(err.clone());
        match err {
            ParseError::LineTooLong { .. } | ParseError::ReplyTooLarge { .. } => Err(err),
            _ => Ok(()),
        }
    }

    /// Take one complete line, its line end included.
    fn line(&mut self, line: &[u8]) -> Result<(), ParseError> {
        let limits = self.limits;
        if line.len() > limits.max_line {
            return Err(ParseError::LineTooLong {
                limit: limits.max_line,
            });
        }
        // RFC 5321 §2.3.8 requires CRLF; a bare LF is tolerated and reported.
        let (content, bare_lf) = match line {
            [content @ .., b'\r', b'\n'] => (content, false),
            [content @ .., b'\n'] => (content, true),
            _ => (line, false),
        };
        let code = Code::from_digits(&content[..content.len().min(3)]).ok_or_else(|| {
            let line: String = escape_bytes(content).chars().take(80).collect();
            ParseError::BadCode { line }
        })?;
        // RFC 5321 §4.2: `code SP text` ends a reply, `code "-" text` continues it. A bare
        // `250` (§4.2.1 allows the text to be absent) ends it too.
        let (last, text) = match content.get(3) {
            None => (true, &content[3..]),
            Some(b' ') => (true, &content[4..]),
            Some(b'-') => (false, &content[4..]),
            Some(_) => {
                let rest = &content[3..];
                let width = match rest.utf8_chunks().next() {
                    Some(chunk) if !chunk.valid().is_empty() => {
                        chunk.valid().chars().next().map_or(1, char::len_utf8)
                    }
                    _ => 1,
                };
                return Err(ParseError::BadSeparator {
                    found: escape_bytes(&rest[..width]),
                });
            }
        };
        let partial = self.partial.get_or_insert_with(|| PartialReply {
            code,
            lines: Vec::new(),
            warnings: Vec::new(),
            raw: Vec::new(),
        });
        if partial.code != code {
            return Err(ParseError::CodeMismatch {
                expected: partial.code,
                found: code,
            });
        }
        partial.lines.push(text.to_vec());
        partial.raw.extend_from_slice(line);
        if partial.lines.len() > limits.max_lines || partial.raw.len() > limits.max_reply {
            return Err(ParseError::ReplyTooLarge {
                limit_lines: limits.max_lines,
                limit_bytes: limits.max_reply,
            });
        }
        // RFC 5321 §4.5.3.1.5: 512 octets with the CRLF.
        if line.len() > limits.warn_line {
            partial.warnings.push(Warning::LongLine { len: line.len() });
        }
        if bare_lf && !partial.warnings.contains(&Warning::BareLf) {
            partial.warnings.push(Warning::BareLf);
        }
        if last {
            let Some(PartialReply {
                code,
                mut lines,
                warnings,
                raw,
            }) = self.partial.take()
            else {
                return Ok(());
            };
            let enhanced = take_enhanced(code, &mut lines);
            let bytes = raw.len();
            self.ready.push_back((
                Parsed {
                    reply: Reply {
                        code,
                        enhanced,
                        lines,
                    },
                    warnings,
                    raw,
                },
                bytes,
            ));
            self.ready_bytes += bytes;
        }
        Ok(())
    }
}

/// Find the enhanced status code on the first line and strip it from every line that
/// carries it (RFC 2034 §4: it is repeated on each line; its class matches the reply's).
fn take_enhanced(code: Code, lines: &mut [Vec<u8>]) -> Option<EnhancedCode> {
    let (enhanced, _) = lines.first().and_then(|l| leading_enhanced(l))?;
    if u16::from(enhanced.class) != code.value() / 100 {
        return None;
    }
    for line in lines.iter_mut() {
        if let Some((found, len)) = leading_enhanced(line)
            && found == enhanced
        {
            // The code and the one space after it.
            line.drain(..(len + 1).min(line.len()));
        }
    }
    Some(enhanced)
}

/// The enhanced code at the start of `text` when followed by a space or the end, with the
/// length of its text.
fn leading_enhanced(text: &[u8]) -> Option<(EnhancedCode, usize)> {
    let len = memchr::memchr(b' ', text).unwrap_or(text.len());
    let token = std::str::from_utf8(&text[..len]).ok()?;
    Some((token.parse().ok()?, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(v: u16) -> Code {
        Code::new(v).unwrap()
    }

    /// Push `bytes` at once and take every reply out.
    fn parse_all(bytes: &[u8]) -> Result<Vec<Parsed>, ParseError> {
        let mut parser = ReplyParser::default();
        parser.push(bytes)?;
        let mut out = Vec::new();
        while let Some(parsed) = parser.next_reply()? {
            out.push(parsed);
        }
        Ok(out)
    }

    /// Push `bytes` and take exactly one reply out, with nothing left over.
    fn parse_one(bytes: &[u8]) -> Parsed {
        let mut parser = ReplyParser::default();
        parser.push(bytes).unwrap();
        let parsed = parser.next_reply().unwrap().expect("a complete reply");
        assert_eq!(parser.buffered(), 0, "left over after {bytes:?}");
        assert_eq!(parser.next_reply(), Ok(None));
        parsed
    }

    fn lines(parsed: &Parsed) -> Vec<&[u8]> {
        parsed.reply.lines.iter().map(Vec::as_slice).collect()
    }

    #[test]
    fn code_grammar_is_rfc5321_4_2() {
        let valid = [
            200, 211, 214, 220, 250, 251, 354, 421, 450, 500, 530, 550, 554, 559, 205,
        ];
        for v in valid {
            assert_eq!(Code::new(v).map(Code::value), Some(v), "{v}");
        }
        // 1xx and 6xx are outside the grammar, and so is a middle digit over 5.
        let invalid = [0, 99, 100, 199, 260, 299, 360, 600, 999, 1000, 569, 199];
        for v in invalid {
            assert_eq!(Code::new(v), None, "{v}");
        }
    }

    #[test]
    fn code_class_and_negative() {
        assert_eq!(code(250).class(), Class::PositiveCompletion);
        assert_eq!(code(354).class(), Class::PositiveIntermediate);
        assert_eq!(code(421).class(), Class::TransientNegative);
        assert_eq!(code(550).class(), Class::PermanentNegative);
        assert!(!code(250).is_negative());
        assert!(!code(354).is_negative());
        assert!(code(450).is_negative());
        assert!(code(554).is_negative());
    }

    #[test]
    fn enhanced_code_from_str() {
        let ok = [
            ("2.0.0", (2, 0, 0)),
            ("5.1.1", (5, 1, 1)),
            ("4.7.0", (4, 7, 0)),
            ("5.123.999", (5, 123, 999)),
        ];
        for (s, (class, subject, detail)) in ok {
            assert_eq!(
                s.parse(),
                Ok(EnhancedCode {
                    class,
                    subject,
                    detail
                }),
                "{s}"
            );
        }
        let bad = [
            "", "2", "2.0", "2.0.0.0", "3.0.0", "1.0.0", "6.0.0", "25.0.0", "2..0", "2.0.",
            "2.1000.0", "2.0.1000", "+2.0.0", "2.+1.0", "2.0.-1", "a.b.c", "2.0.0 ", " 2.0.0",
        ];
        for s in bad {
            assert_eq!(s.parse::<EnhancedCode>(), Err(()), "{s:?}");
        }
    }

    #[test]
    fn single_line_reply() {
        let p = parse_one(b"220 mx.example.org ESMTP ready\r\n");
        assert_eq!(p.reply.code, code(220));
        assert_eq!(p.reply.enhanced, None);
        assert_eq!(lines(&p), [b"mx.example.org ESMTP ready"]);
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn multi_line_reply() {
        let p =
            parse_one(b"250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 HELP\r\n");
        assert_eq!(p.reply.code, code(250));
        let want: [&[u8]; 4] = [b"mx.example.org", b"PIPELINING", b"SIZE 10240000", b"HELP"];
        assert_eq!(lines(&p), want);
    }

    // RFC 5321 §4.2.1 lets the text be absent: `250` CRLF is a complete reply.
    #[test]
    fn regression_bare_code_is_a_final_line() {
        let p = parse_one(b"250\r\n");
        assert_eq!(p.reply.code, code(250));
        assert_eq!(lines(&p), [b""]);
        let p = parse_one(b"250-first\r\n250\r\n");
        let want: [&[u8]; 2] = [b"first", b""];
        assert_eq!(lines(&p), want);
    }

    #[test]
    fn code_and_space_is_an_empty_final_line() {
        let p = parse_one(b"354 \r\n");
        assert_eq!(p.reply.code, code(354));
        assert_eq!(lines(&p), [b""]);
    }

    #[test]
    fn regression_bare_lf_is_tolerated_and_warned_once() {
        let p = parse_one(b"250-a\n250-b\n250 c\r\n");
        let want: [&[u8]; 3] = [b"a", b"b", b"c"];
        assert_eq!(lines(&p), want);
        assert_eq!(p.warnings, [Warning::BareLf]);
    }

    #[test]
    fn code_mismatch_is_invalid() {
        assert_eq!(
            parse_all(b"250-a\r\n251 b\r\n"),
            Err(ParseError::CodeMismatch {
                expected: code(250),
                found: code(251)
            })
        );
    }

    #[test]
    fn bad_codes_are_invalid() {
        for line in [
            &b"150 intermediate\r\n"[..],
            b"650 x\r\n",
            b"2x0 x\r\n",
            b"hello\r\n",
            b"25\r\n",
            b"\r\n",
            b"\n",
        ] {
            assert!(
                matches!(parse_all(line), Err(ParseError::BadCode { .. })),
                "{line:?} gave {:?}",
                parse_all(line)
            );
        }
    }

    #[test]
    fn bad_code_line_is_escaped_and_cut() {
        let mut line = b"\x1b[31m".to_vec();
        line.extend_from_slice(&[b'x'; 200]);
        line.extend_from_slice(b"\r\n");
        let Err(ParseError::BadCode { line }) = parse_all(&line) else {
            panic!("not BadCode")
        };
        assert!(line.starts_with("\\x1b[31mxxx"), "{line}");
        assert_eq!(line.chars().count(), 80);
    }

    #[test]
    fn bad_separator_is_invalid() {
        assert_eq!(
            parse_all(b"250_ok\r\n"),
            Err(ParseError::BadSeparator { found: "_".into() })
        );
        assert_eq!(
            parse_all(b"250\tok\r\n"),
            Err(ParseError::BadSeparator { found: "\t".into() })
        );
        assert_eq!(
            parse_all(b"250\x1bok\r\n"),
            Err(ParseError::BadSeparator {
                found: "\\x1b".into()
            })
        );
        assert_eq!(
            parse_all("250éok\r\n".as_bytes()),
            Err(ParseError::BadSeparator { found: "é".into() })
        );
    }

    // RFC 2034 §4: the enhanced code follows the separator on every line.
    #[test]
    fn enhanced_code_parsed_and_stripped() {
        let p = parse_one(b"250-2.1.0 first\r\n250 2.1.0 second\r\n");
        assert_eq!(
            p.reply.enhanced,
            Some(EnhancedCode {
                class: 2,
                subject: 1,
                detail: 0
            })
        );
        let want: [&[u8]; 2] = [b"first", b"second"];
        assert_eq!(lines(&p), want);

        let p = parse_one(b"550 5.1.1\r\n");
        assert_eq!(
            p.reply.enhanced,
            Some(EnhancedCode {
                class: 5,
                subject: 1,
                detail: 1
            })
        );
        assert_eq!(lines(&p), [b""]);
    }

    #[test]
    fn enhanced_code_only_where_it_matches() {
        // A line that doesn't carry the code keeps its text.
        let p = parse_one(b"550-5.1.1 no such user\r\n550 see https://example.org\r\n");
        assert_eq!(
            p.reply.enhanced,
            Some(EnhancedCode {
                class: 5,
                subject: 1,
                detail: 1
            })
        );
        let want: [&[u8]; 2] = [b"no such user", b"see https://example.org"];
        assert_eq!(lines(&p), want);
        // Another enhanced code on a later line is text.
        let p = parse_one(b"550-5.1.1 a\r\n550 5.7.1 b\r\n");
        let want: [&[u8]; 2] = [b"a", b"5.7.1 b"];
        assert_eq!(lines(&p), want);
        // The class must match the reply code's first digit.
        let p = parse_one(b"250 5.1.1 odd\r\n");
        assert_eq!(p.reply.enhanced, None);
        assert_eq!(lines(&p), [b"5.1.1 odd"]);
        // It must be followed by a space or the end.
        let p = parse_one(b"250 2.0.0.ok\r\n");
        assert_eq!(p.reply.enhanced, None);
        assert_eq!(lines(&p), [b"2.0.0.ok"]);
        let p = parse_one(b"250 2.0.0\tok\r\n");
        assert_eq!(p.reply.enhanced, None);
        // Only the first line decides.
        let p = parse_one(b"250-mx.example.org\r\n250 2.0.0 ok\r\n");
        assert_eq!(p.reply.enhanced, None);
        assert_eq!(p.reply.lines[1], b"2.0.0 ok");
    }

    #[test]
    fn non_utf8_text_is_kept() {
        let p = parse_one(b"250 caf\xe9 \xff\r\n");
        assert_eq!(lines(&p), [b"caf\xe9 \xff"]);
        assert_eq!(p.reply.display_lines(), ["caf\\xe9 \\xff"]);
    }

    // RFC 5321 §4.5.3.1.5: reply lines are at most 512 octets with the CRLF.
    #[test]
    fn long_line_is_warned_about() {
        let text = "x".repeat(510 - 4);
        let p = parse_one(format!("250 {text}\r\n").as_bytes());
        assert!(p.warnings.is_empty(), "512 octets is allowed");
        // 513 octets with CRLF is over; 512 with a bare LF is not.
        let text = "x".repeat(507);
        let p = parse_one(format!("250-{text}\r\n250 {text}\n").as_bytes());
        assert_eq!(
            p.warnings,
            [Warning::LongLine { len: 513 }, Warning::BareLf]
        );
    }

    #[test]
    fn regression_endless_line_is_refused_with_bounded_memory() {
        let mut parser = ReplyParser::default();
        let chunk = [b'x'; 1024];
        parser.push(b"250 ").unwrap();
        let mut pushed = 4;
        let err = loop {
            match parser.push(&chunk) {
                Ok(()) => pushed += chunk.len(),
                Err(err) => break err,
            }
            assert!(pushed < 100_000, "never refused");
            assert_eq!(parser.next_reply(), Ok(None));
        };
        assert_eq!(err, ParseError::LineTooLong { limit: 8192 });
        assert!(pushed <= 8192, "held {pushed} octets");
        assert_eq!(parser.next_reply(), Err(err.clone()));
        assert_eq!(parser.push(b"\r\n"), Err(err));
    }

    #[test]
    fn complete_line_over_the_limit_is_refused() {
        let limits = Limits {
            max_line: 64,
            ..Limits::default()
        };
        let mut parser = ReplyParser::new(limits);
        let line = format!("250 {}\r\n", "x".repeat(100));
        assert_eq!(
            parser.push(line.as_bytes()),
            Err(ParseError::LineTooLong { limit: 64 })
        );
    }

    #[test]
    fn regression_endless_continuation_is_refused() {
        let mut parser = ReplyParser::default();
        let mut lines = 0;
        let err = loop {
            match parser.push(b"250-x\r\n") {
                Ok(()) => lines += 1,
                Err(err) => break err,
            }
            assert_eq!(parser.next_reply(), Ok(None));
        };
        assert_eq!(lines, 1000);
        assert_eq!(
            err,
            ParseError::ReplyTooLarge {
                limit_lines: 1000,
                limit_bytes: 256 * 1024
            }
        );

        // Long lines reach the octet limit first.
        let mut parser = ReplyParser::default();
        let line = format!("250-{}\r\n", "x".repeat(8000));
        let mut pushed = 0;
        let err = loop {
            match parser.push(line.as_bytes()) {
                Ok(()) => pushed += line.len(),
                Err(err) => break err,
            }
        };
        assert!(matches!(err, ParseError::ReplyTooLarge { .. }));
        assert!(pushed <= 256 * 1024);
    }

    #[test]
    fn incomplete_is_not_invalid() {
        let mut parser = ReplyParser::default();
        assert_eq!(parser.next_reply(), Ok(None), "empty");
        for part in [&b"25"[..], b"0-a", b"\r", b"\n250", b" b\r"] {
            parser.push(part).unwrap();
            assert_eq!(parser.next_reply(), Ok(None), "after {part:?}");
        }
        parser.push(b"\n").unwrap();
        let p = parser.next_reply().unwrap().unwrap();
        let want: [&[u8]; 2] = [b"a", b"b"];
        assert_eq!(lines(&p), want);
        assert_eq!(parser.buffered(), 0);
    }

    #[test]
    fn invalid_comes_after_the_replies_before_it() {
        let mut parser = ReplyParser::default();
        parser.push(b"250 ok\r\nnonsense\r\n250 later\r\n").unwrap();
        assert_eq!(lines(&parser.next_reply().unwrap().unwrap()), [b"ok"]);
        let err = parser.next_reply().unwrap_err();
        assert_eq!(
            err,
            ParseError::BadCode {
                line: "nonsense".into()
            }
        );
        // Sticky: the stream can't be resynchronised.
        assert_eq!(parser.next_reply(), Err(err));
        parser.clear();
        parser.push(b"220 again\r\n").unwrap();
        assert_eq!(lines(&parser.next_reply().unwrap().unwrap()), [b"again"]);
    }

    // STARTTLS response injection (RFC 3207 §6, CVE-2011-0411): bytes after the 220 must
    // be visible to the caller.
    #[test]
    fn two_replies_in_one_push_buffered_counts_the_second() {
        let mut parser = ReplyParser::default();
        parser.push(b"220 go ahead\r\n250 injected\r\n25").unwrap();
        assert_eq!(parser.buffered(), 30);
        let first = parser.next_reply().unwrap().unwrap();
        assert_eq!(first.reply.code, code(220));
        assert_eq!(parser.buffered(), 16);
        let second = parser.next_reply().unwrap().unwrap();
        assert_eq!(lines(&second), [b"injected"]);
        assert_eq!(parser.buffered(), 2);
        assert_eq!(parser.next_reply(), Ok(None));
        parser.clear();
        assert_eq!(parser.buffered(), 0);
        assert_eq!(parser.next_reply(), Ok(None));
    }

    #[test]
    fn one_byte_at_a_time() {
        let wire = b"250-mx.example.org\r\n250-2.0.0 x\n250 SIZE 100\r\n554 5.7.1 no\r\n";
        let mut parser = ReplyParser::default();
        let mut got = Vec::new();
        for b in wire {
            parser.push(std::slice::from_ref(b)).unwrap();
            while let Some(p) = parser.next_reply().unwrap() {
                got.push(p);
            }
        }
        assert_eq!(got, parse_all(wire).unwrap());
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].warnings, [Warning::BareLf]);
        assert_eq!(
            got[1].reply.enhanced,
            Some(EnhancedCode {
                class: 5,
                subject: 7,
                detail: 1
            })
        );
        assert_eq!(parser.buffered(), 0);
    }

    #[test]
    fn to_wire_exact() {
        let e = |s: &str| Some(s.parse::<EnhancedCode>().unwrap());
        let cases: &[(Reply, &str)] = &[
            (Reply::new(code(250), None, &["ok"]), "250 ok\r\n"),
            (
                Reply::new(code(250), None, &["a", "b"]),
                "250-a\r\n250 b\r\n",
            ),
            (Reply::new(code(250), None, &[]), "250 \r\n"),
            (Reply::new(code(250), e("2.0.0"), &[]), "250 2.0.0\r\n"),
            (
                Reply::new(code(550), e("5.1.1"), &["no", "such user"]),
                "550-5.1.1 no\r\n550 5.1.1 such user\r\n",
            ),
            (
                Reply::new(code(354), None, &["", "end with ."]),
                "354-\r\n354 end with .\r\n",
            ),
        ];
        for (reply, wire) in cases {
            assert_eq!(String::from_utf8_lossy(&reply.to_wire()), *wire);
        }
    }

    #[test]
    fn round_trip() {
        let e = |s: &str| Some(s.parse::<EnhancedCode>().unwrap());
        let replies = [
            Reply::new(code(220), None, &["mx.example.org ESMTP"]),
            Reply::new(code(250), None, &["mx", "PIPELINING", "SIZE 1000", ""]),
            Reply::new(code(250), e("2.1.5"), &["recipient ok"]),
            Reply::new(code(550), e("5.1.1"), &["", "no such user", "5.1.1 twice"]),
            Reply::new(code(421), e("4.4.2"), &[]),
            Reply {
                code: code(250),
                enhanced: None,
                lines: vec![b"\xff\x1b".to_vec()],
            },
        ];
        for reply in replies {
            let parsed = parse_one(&reply.to_wire());
            assert_eq!(parsed.reply, reply);
            assert!(parsed.warnings.is_empty());
        }
    }

    #[test]
    fn display_lines_are_escaped() {
        let reply = Reply::new(code(250), None, &["\u{1b}[2Jgotcha", "plain"]);
        assert_eq!(reply.display_lines(), ["\\x1b[2Jgotcha", "plain"]);
    }
}
