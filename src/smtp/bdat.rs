//! CHUNKING (RFC 3030): a typed `BDAT n [LAST]` parsed, and the encoder behind
//! `:send --bdat`. BDAT data is counted, not terminated, so it is never dot-stuffed (§2); the
//! encoder only makes every line end CRLF (safety rule 4, as for DATA) and ends the message
//! with one, whatever the chunk boundaries, keeping the counts the transcript shows.

use super::data::{BodySummary, DotStuffer};

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

/// Streaming CRLF normaliser for BDAT data: the DATA encoder with no dot-stuffing and no
/// end-of-data line ([`DotStuffer::crlf_only`]). Call [`CrlfEncoder::encode`] per chunk of
/// input and [`CrlfEncoder::finish`] at the end; each call's output can go out as one BDAT
/// chunk.
#[derive(Debug)]
pub struct CrlfEncoder(DotStuffer);

impl Default for CrlfEncoder {
    fn default() -> CrlfEncoder {
        CrlfEncoder(DotStuffer::crlf_only())
    }
}

impl CrlfEncoder {
    /// A new encoder at the start of a message.
    pub fn new() -> CrlfEncoder {
        CrlfEncoder::default()
    }

    /// Encode `input`, appending to `out`. A CR at the end of `input` is held until the next
    /// call tells whether an LF follows.
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.0.encode(input, out);
    }

    /// End the message: the held CR, or a CRLF when the last line had none.
    pub fn finish(self, out: &mut Vec<u8>) -> BodySummary {
        self.0.finish(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::data::LongLine;

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
