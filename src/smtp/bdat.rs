//! CHUNKING (RFC 3030): a typed `BDAT n [LAST]` parsed, and the encoder behind
//! `:send --bdat`. BDAT data is counted, not terminated, so it is never dot-stuffed (§2); the
//! encoder only makes every line end CRLF (safety rule 4, as for DATA) and ends the message
//! with one, whatever the chunk boundaries, keeping the counts the transcript shows.

use memchr::memchr2;

use super::data::{BodySummary, LongLine};

/// A `BDAT` command line: `BDAT size [LAST]` (RFC 3030 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bdat {
    /// Octets of data that follow the command.
    pub size: u64,
    /// The last chunk of the message.
    pub last: bool,
}

impl Bdat {
    /// Parse a typed line; the error says what is wrong with it.
    pub fn parse(line: &str) -> Result<Bdat, String> {
        let mut words = line.split_ascii_whitespace();
        let _verb = words.next();
        let size = words
            .next()
            .ok_or("BDAT needs a chunk size: BDAT n [LAST] (RFC 3030 §2)")?;
        if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "BDAT {size}: the chunk size is a number of octets (RFC 3030 §2)"
            ));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| format!("BDAT {size}: the chunk size is too large"))?;
        let last = match words.next() {
            None => false,
            Some(w) if w.eq_ignore_ascii_case("LAST") => true,
            Some(w) => {
                return Err(format!(
                    "BDAT: {w:?} is not LAST; the syntax is BDAT n [LAST] (RFC 3030 §2)"
                ));
            }
        };
        if let Some(w) = words.next() {
            return Err(format!("BDAT: unexpected {w:?} after the chunk size"));
        }
        Ok(Bdat { size, last })
    }

    /// The command line without CRLF.
    pub fn line(&self) -> String {
        if self.last {
            format!("BDAT {} LAST", self.size)
        } else {
            format!("BDAT {}", self.size)
        }
    }
}

/// RFC 5322 §2.1.1: 998 octets without the CRLF.
const MAX_LINE: u64 = 998;
/// How many long lines the summary keeps, as for DATA.
const LONG_LINES_KEPT: usize = 100;

/// Streaming CRLF normaliser for BDAT data. Call [`CrlfEncoder::encode`] per chunk of input
/// and [`CrlfEncoder::finish`] at the end; each call's output can go out as one BDAT chunk.
#[derive(Debug, Default)]
pub struct CrlfEncoder {
    line_len: u64,
    held_cr: bool,
    summary: BodySummary,
}

impl CrlfEncoder {
    /// A new encoder at the start of a message.
    pub fn new() -> CrlfEncoder {
        CrlfEncoder::default()
    }

    /// Encode `input`, appending to `out`. A CR at the end of `input` is held until the next
    /// call tells whether an LF follows.
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if input.is_empty() {
            return;
        }
        let before = out.len();
        out.reserve(input.len() + 16);
        let mut i = 0;
        if self.held_cr {
            self.held_cr = false;
            if input[0] == b'\n' {
                i = 1;
            } else {
                self.summary.fixed_endings += 1;
            }
            out.extend_from_slice(b"\r\n");
            self.end_line();
        }
        let mut run = i;
        while let Some(off) = memchr2(b'\r', b'\n', &input[i..]) {
            let end = i + off;
            self.line_len += off as u64;
            if input[end] == b'\r' {
                match input.get(end + 1) {
                    Some(b'\n') => {
                        self.end_line();
                        i = end + 2;
                        continue;
                    }
                    None => {
                        out.extend_from_slice(&input[run..end]);
                        self.held_cr = true;
                        self.summary.wire_bytes += (out.len() - before) as u64;
                        return;
                    }
                    Some(_) => out.extend_from_slice(&input[run..end]),
                }
            } else {
                out.extend_from_slice(&input[run..end]);
            }
            // A bare CR or LF (RFC 5321 §2.3.8) becomes CRLF.
            out.extend_from_slice(b"\r\n");
            self.summary.fixed_endings += 1;
            self.end_line();
            i = end + 1;
            run = i;
        }
        self.line_len += (input.len() - i) as u64;
        out.extend_from_slice(&input[run..]);
        self.summary.wire_bytes += (out.len() - before) as u64;
    }

    /// End the message: the held CR, or a CRLF when the last line had none.
    pub fn finish(mut self, out: &mut Vec<u8>) -> BodySummary {
        let before = out.len();
        if self.held_cr {
            self.summary.fixed_endings += 1;
            out.extend_from_slice(b"\r\n");
            self.end_line();
        } else if self.line_len > 0 {
            out.extend_from_slice(b"\r\n");
            self.end_line();
        }
        self.summary.wire_bytes += (out.len() - before) as u64;
        self.summary
    }

    fn end_line(&mut self) {
        let s = &mut self.summary;
        s.lines += 1;
        if self.line_len > MAX_LINE {
            s.long_line_count += 1;
            if s.long_lines.len() < LONG_LINES_KEPT {
                s.long_lines.push(LongLine {
                    line: s.lines,
                    len: self.line_len,
                });
            }
        }
        self.line_len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bdat_lines() {
        assert_eq!(
            Bdat::parse("BDAT 10 LAST"),
            Ok(Bdat {
                size: 10,
                last: true
            })
        );
        assert_eq!(
            Bdat::parse("bdat 0 last"),
            Ok(Bdat {
                size: 0,
                last: true
            })
        );
        assert_eq!(
            Bdat::parse("BDAT 512"),
            Ok(Bdat {
                size: 512,
                last: false
            })
        );
        for bad in [
            "BDAT",
            "BDAT x",
            "BDAT -1",
            "BDAT +1",
            "BDAT 1 FIRST",
            "BDAT 1 LAST x",
            "BDAT 99999999999999999999999",
        ] {
            assert!(Bdat::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Bdat {
                size: 3,
                last: true
            }
            .line(),
            "BDAT 3 LAST"
        );
    }

    /// Input, then the exact output: line ends made CRLF, dots left alone, one final CRLF.
    const CASES: &[(&[u8], &[u8])] = &[
        (b"", b""),
        (b"a", b"a\r\n"),
        (b"a\r\n", b"a\r\n"),
        (b"a\n", b"a\r\n"),
        (b"a\r", b"a\r\n"),
        (b"\n\n", b"\r\n\r\n"),
        (b"\r\r\n", b"\r\n\r\n"),
        (b".\n..\r\n.x", b".\r\n..\r\n.x\r\n"),
        (b"a\rb\nc\r\nd", b"a\r\nb\r\nc\r\nd\r\n"),
        (b"\r\n.\r\n", b"\r\n.\r\n"),
    ];

    fn encode_cut(input: &[u8], cuts: &[usize]) -> (Vec<u8>, BodySummary) {
        let mut e = CrlfEncoder::new();
        let mut out = Vec::new();
        let mut start = 0;
        for &c in cuts.iter().chain([&input.len()]) {
            e.encode(&input[start..c], &mut out);
            start = c;
        }
        let s = e.finish(&mut out);
        (out, s)
    }

    #[test]
    fn encoder_table_any_chunking() {
        for &(input, want) in CASES {
            let (out, s) = encode_cut(input, &[]);
            assert_eq!(out, want, "{:?}", input.escape_ascii().to_string());
            assert_eq!(s.wire_bytes, want.len() as u64);
            assert_eq!(s.stuffed, 0);
            for a in 0..=input.len() {
                for b in a..=input.len() {
                    assert_eq!(encode_cut(input, &[a, b]), (out.clone(), s.clone()));
                }
            }
        }
    }

    #[test]
    fn counts() {
        let (_, s) = encode_cut(b"a\nb\r\nc\r", &[]);
        assert_eq!((s.lines, s.fixed_endings), (3, 2));
        let mut long = vec![b'x'; 999];
        long.push(b'\n');
        let (_, s) = encode_cut(&long, &[500]);
        assert_eq!(s.long_lines, [LongLine { line: 1, len: 999 }]);
    }
}
