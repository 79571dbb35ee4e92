//! The DATA body encoder (RFC 5321 §4.5.2, §4.1.1.4): a streaming state machine that
//! canonicalises line endings to CRLF, dot-stuffs, and ends with exactly one CRLF.CRLF,
//! whatever the chunk boundaries; and the matching decoder for tests and the server.
//!
//! The encoder copies runs of bytes between the places it must change (a stuffed dot, a
//! bare line end) with one `memcpy` each, and finds line ends with `memchr2`, so a large
//! `:send` costs little more than copying the file.

use memchr::memchr2;

/// RFC 5322 §2.1.1: lines MUST be no more than 998 characters without the CRLF.
const MAX_BODY_LINE: u64 = 998;

/// How many long lines [`BodySummary::long_lines`] keeps.
const LONG_LINES_KEPT: usize = 100;

/// A line over 998 octets (RFC 5322 §2.1.1), reported, never split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongLine {
    /// 1-based line number in the body.
    pub line: u64,
    /// Octets without the line end and without the stuffed dot.
    pub len: u64,
}

/// Totals for one encoded body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodySummary {
    /// Lines in the body (a final line without a line end counts).
    pub lines: u64,
    /// Octets written to the wire, the final `.\r\n` included.
    pub wire_bytes: u64,
    /// Lines that got an extra dot.
    pub stuffed: u64,
    /// Bare CR or bare LF turned into CRLF.
    pub fixed_endings: u64,
    /// The first 100 lines over 998 octets.
    pub long_lines: Vec<LongLine>,
    /// How many lines over 998 octets there were in all.
    pub long_line_count: u64,
}

/// Streaming encoder. Call [`DotStuffer::encode`] for each chunk, then [`DotStuffer::finish`].
#[derive(Debug, Default)]
pub struct DotStuffer {
    /// Octets of the current line so far, without the stuffed dot; 0 at a line start.
    line_len: u64,
    /// The last input byte was a CR; whether it starts a CRLF depends on the next byte.
    held_cr: bool,
    /// Line ends only, no dot-stuffing and no end-of-data line: BDAT data (RFC 3030 §2).
    crlf_only: bool,
    summary: BodySummary,
}

impl DotStuffer {
    /// A new encoder at the start of a body.
    pub fn new() -> DotStuffer {
        DotStuffer::default()
    }

    /// An encoder that only canonicalises line ends, for BDAT: chunks are counted, so
    /// there is no dot-stuffing and no end-of-data line (RFC 3030 §2).
    pub fn crlf_only() -> DotStuffer {
        DotStuffer {
            crlf_only: true,
            ..DotStuffer::default()
        }
    }
    /// Encode `input`, appending wire bytes to `out`. A CR at the end of `input` is held until
    /// the next call tells whether an LF follows.
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if input.is_empty() {
            return;
        }
        let before = out.len();
        // Most bodies need a few extra bytes at most; the rare rest grows the vector.
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
        // `input[run..i]` is copied as is when something must be inserted or at the end.
        let mut run = i;
        while i < input.len() {
            // RFC 5321 §4.5.2: a line starting with a dot gets one more.
            if !self.crlf_only && self.line_len == 0 && input[i] == b'.' {
                out.extend_from_slice(&input[run..i]);
                out.push(b'.');
                run = i;
                self.summary.stuffed += 1;
            }
            let Some(offset) = memchr2(b'\r', b'\n', &input[i..]) else {
                self.line_len += (input.len() - i) as u64;
                break;
            };
            let end = i + offset;
            self.line_len += offset as u64;
            if input[end] == b'\r' {
                match input.get(end + 1) {
                    // CRLF: already canonical, stays in the run.
                    Some(b'\n') => {
                        self.end_line();
                        i = end + 2;
                        continue;
                    }
                    // Hold the CR: the next chunk tells whether it is a CRLF.
                    None => {
                        out.extend_from_slice(&input[run..end]);
                        self.held_cr = true;
                        self.summary.wire_bytes += (out.len() - before) as u64;
                        return;
                    }
                    // A bare CR (§2.3.8: only CRLF ends a line) becomes CRLF.
                    Some(_) => out.extend_from_slice(&input[run..=end]),
                }
                out.push(b'\n');
            } else {
                // A bare LF becomes CRLF.
                out.extend_from_slice(&input[run..end]);
                out.extend_from_slice(b"\r\n");
            }
            self.summary.fixed_endings += 1;
            self.end_line();
            i = end + 1;
            run = i;
        }
        out.extend_from_slice(&input[run..]);
        self.summary.wire_bytes += (out.len() - before) as u64;
    }
    /// End the body: a CRLF if the last line had none, then `.\r\n` (without it for
    /// [`DotStuffer::crlf_only`]).
    pub fn finish(mut self, out: &mut Vec<u8>) -> BodySummary {
        let before = out.len();
        if self.held_cr {
            // The body ended in a CR with no LF after it: a bare CR.
            self.summary.fixed_endings += 1;
            out.extend_from_slice(b"\r\n");
            self.end_line();
        } else if self.line_len > 0 {
            out.extend_from_slice(b"\r\n");
            self.end_line();
        }
        // §4.1.1.4: the body ends with CRLF.CRLF; its first CRLF ended the last line.
        if !self.crlf_only {
            out.extend_from_slice(b".\r\n");
        }
        self.summary.wire_bytes += (out.len() - before) as u64;
        self.summary
    }
    /// A line ended: count it, and note it if it was too long.
    fn end_line(&mut self) {
        let summary = &mut self.summary;
        summary.lines += 1;
        if self.line_len > MAX_BODY_LINE {
            summary.long_line_count += 1;
            if summary.long_lines.len() < LONG_LINES_KEPT {
                summary.long_lines.push(LongLine {
                    line: summary.lines,
                    len: self.line_len,
                });
            }
        }
        self.line_len = 0;
    }
}

/// Encode a whole body at once (convenience over [`DotStuffer`]).
pub fn encode(body: &[u8]) -> (Vec<u8>, BodySummary) {
    let mut out = Vec::with_capacity(body.len() + body.len() / 64 + 8);
    let mut stuffer = DotStuffer::new();
    stuffer.encode(body, &mut out);
    let summary = stuffer.finish(&mut out);
    (out, summary)
}

/// Why received DATA bytes are not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A bare LF or bare CR (refused as hardened MTAs do, to stop SMTP smuggling).
    #[error("bare {0} in message data")]
    BareLineEnd(&'static str),
}

/// Streaming decoder: wire bytes (after 354) in, message out, until CRLF.CRLF.
#[derive(Debug, Default)]
pub struct Unstuffer {
    state: Unstuff,
}

/// Where the decoder is within a line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Unstuff {
    /// At the start of a line.
    #[default]
    LineStart,
    /// The line so far is one dot (dropped): `.` CRLF ends the data, else it was stuffing.
    AfterDot,
    /// Inside a line.
    InLine,
    /// After a CR; `end` when the line was a lone dot.
    Cr {
        /// The line was a lone dot, so CRLF ends the data.
        end: bool,
    },
    /// The end of data was seen.
    Done,
}

impl Unstuffer {
    /// A new decoder.
    pub fn new() -> Unstuffer {
        Unstuffer::default()
    }
    /// Feed wire bytes; appends the message to `out`. Returns `Ok(Some(n))` when the end
    /// `CRLF.CRLF` was seen, `n` being how many bytes of `input` were consumed (the rest
    /// belongs to the next command), `Ok(None)` when more is needed.
    ///
    /// A bare CR or LF is an error, not a line end: reading it as one is what makes SMTP
    /// smuggling possible (CVE-2023-51764 and kin). After the end, `Ok(Some(0))`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<Option<usize>, DecodeError> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                Unstuff::LineStart if input[i] == b'.' => {
                    // RFC 5321 §4.5.2: drop the first dot of a line.
                    self.state = Unstuff::AfterDot;
                    i += 1;
                }
                Unstuff::LineStart => self.state = Unstuff::InLine,
                Unstuff::AfterDot if input[i] == b'\r' => {
                    self.state = Unstuff::Cr { end: true };
                    i += 1;
                }
                Unstuff::AfterDot => self.state = Unstuff::InLine,
                Unstuff::InLine => match memchr2(b'\r', b'\n', &input[i..]) {
                    None => {
                        out.extend_from_slice(&input[i..]);
                        i = input.len();
                    }
                    Some(offset) => {
                        let end = i + offset;
                        out.extend_from_slice(&input[i..end]);
                        if input[end] == b'\n' {
                            return Err(DecodeError::BareLineEnd("LF"));
                        }
                        self.state = Unstuff::Cr { end: false };
                        i = end + 1;
                    }
                },
                Unstuff::Cr { end } => {
                    if input[i] != b'\n' {
                        return Err(DecodeError::BareLineEnd("CR"));
                    }
                    i += 1;
                    if end {
                        self.state = Unstuff::Done;
                        return Ok(Some(i));
                    }
                    out.extend_from_slice(b"\r\n");
                    self.state = Unstuff::LineStart;
                }
                Unstuff::Done => return Ok(Some(0)),
            }
        }
        Ok((self.state == Unstuff::Done).then_some(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Body in, exact wire out (RFC 5321 §4.5.2 stuffing, §2.3.8 line ends, §4.1.1.4 end).
    const CASES: &[(&[u8], &[u8])] = &[
        (b"", b".\r\n"),
        (b"a", b"a\r\n.\r\n"),
        (b"a\r\n", b"a\r\n.\r\n"),
        (b"a\n", b"a\r\n.\r\n"),
        (b"a\r", b"a\r\n.\r\n"),
        (b"\r\n", b"\r\n.\r\n"),
        (b"\n", b"\r\n.\r\n"),
        (b"\r", b"\r\n.\r\n"),
        (b"\n\n", b"\r\n\r\n.\r\n"),
        (b"\r\r", b"\r\n\r\n.\r\n"),
        (b"\n\r", b"\r\n\r\n.\r\n"),
        (b"\r\n\r\n", b"\r\n\r\n.\r\n"),
        (b"a\r\nb\r\n", b"a\r\nb\r\n.\r\n"),
        (b"a\nb\nc", b"a\r\nb\r\nc\r\n.\r\n"),
        (b"a\rb", b"a\r\nb\r\n.\r\n"),
        (b"a\r\rb", b"a\r\n\r\nb\r\n.\r\n"),
        (b"a\r\r\nb", b"a\r\n\r\nb\r\n.\r\n"),
        (b".", b"..\r\n.\r\n"),
        (b".\r\n", b"..\r\n.\r\n"),
        (b"..", b"...\r\n.\r\n"),
        (b".a", b"..a\r\n.\r\n"),
        (b"a.", b"a.\r\n.\r\n"),
        (b"a\r\n.\r\nb", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"a\n.\nb", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"a\r.\rb", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"\r\n.\r\n", b"\r\n..\r\n.\r\n"),
        (b".\n.\n.", b"..\r\n..\r\n..\r\n.\r\n"),
        (b" .", b" .\r\n.\r\n"),
        (b"\t.\r\n", b"\t.\r\n.\r\n"),
        (
            b"Subject: hi\r\n\r\nbody\r\n.\r\n..\r\n",
            b"Subject: hi\r\n\r\nbody\r\n..\r\n...\r\n.\r\n",
        ),
        (
            b"caf\xc3\xa9\n\xff\x00",
            b"caf\xc3\xa9\r\n\xff\x00\r\n.\r\n",
        ),
    ];

    fn encode_in_chunks(body: &[u8], cuts: &[usize]) -> (Vec<u8>, BodySummary) {
        let mut stuffer = DotStuffer::new();
        let mut out = Vec::new();
        let mut start = 0;
        for &cut in cuts.iter().chain([&body.len()]) {
            stuffer.encode(&body[start..cut], &mut out);
            start = cut;
        }
        let summary = stuffer.finish(&mut out);
        (out, summary)
    }

    #[test]
    fn dot_stuffer_table() {
        for &(body, wire) in CASES {
            let (out, summary) = encode(body);
            assert_eq!(
                out.escape_ascii().to_string(),
                wire.escape_ascii().to_string(),
                "body {:?}",
                body.escape_ascii().to_string()
            );
            assert_eq!(summary.wire_bytes, wire.len() as u64);
        }
    }

    // The encoder is a state machine: a CR ending one chunk and an LF starting the next are
    // one CRLF, a dot at a chunk start may be at a line start, and so on.
    #[test]
    fn dot_stuffer_any_chunking_gives_the_same_wire() {
        for &(body, wire) in CASES {
            let whole = encode(body);
            assert_eq!(whole.0, wire);
            for cut in 0..=body.len() {
                assert_eq!(
                    encode_in_chunks(body, &[cut]),
                    whole,
                    "cut at {cut} of {body:?}"
                );
            }
            for a in 0..=body.len() {
                for b in a..=body.len() {
                    assert_eq!(
                        encode_in_chunks(body, &[a, b]),
                        whole,
                        "cuts {a},{b} of {body:?}"
                    );
                }
            }
            let bytewise: Vec<usize> = (1..body.len()).collect();
            assert_eq!(
                encode_in_chunks(body, &bytewise),
                whole,
                "1-byte chunks of {body:?}"
            );
            // Empty chunks change nothing.
            let empties: Vec<usize> = (0..=body.len()).flat_map(|i| [i, i]).collect();
            assert_eq!(
                encode_in_chunks(body, &empties),
                whole,
                "empty chunks in {body:?}"
            );
        }
    }

    #[test]
    fn summary_counts() {
        let (_, s) = encode(b"a\nb\r\n.c\rd\r\n..\r\ne");
        assert_eq!(s.lines, 6);
        assert_eq!(s.stuffed, 2);
        assert_eq!(s.fixed_endings, 2);
        assert_eq!(s.long_line_count, 0);
        assert_eq!(
            s.wire_bytes,
            b"a\r\nb\r\n..c\r\nd\r\n...\r\ne\r\n.\r\n".len() as u64
        );

        assert_eq!(
            encode(b"").1,
            BodySummary {
                wire_bytes: 3,
                ..BodySummary::default()
            }
        );
        assert_eq!(encode(b"x\r").1.fixed_endings, 1);
        assert_eq!(
            encode(b"x").1.fixed_endings,
            0,
            "a missing final line end is not a bare one"
        );
        assert_eq!(encode(b"x").1.lines, 1);
        assert_eq!(encode(b"x\r\n").1.lines, 1);
    }

    // RFC 5322 §2.1.1: 998 octets without the CRLF is the most a line may hold.
    #[test]
    fn long_lines_are_counted_not_split() {
        let mut body = Vec::new();
        body.extend_from_slice(&[b'x'; 998]);
        body.extend_from_slice(b"\r\n.");
        body.extend_from_slice(&[b'y'; 998]);
        body.extend_from_slice(b"\n");
        body.extend_from_slice(&[b'z'; 1500]);
        let (wire, s) = encode(&body);
        assert_eq!(s.long_line_count, 2);
        assert_eq!(
            s.long_lines,
            [
                LongLine { line: 2, len: 999 },
                LongLine { line: 3, len: 1500 }
            ]
        );
        assert_eq!(wire.len(), 998 + 2 + 1 + 999 + 2 + 1500 + 2 + 3);

        let many = b"x"
            .repeat(1000)
            .iter()
            .chain(b"\n")
            .copied()
            .collect::<Vec<u8>>()
            .repeat(150);
        let s = encode(&many).1;
        assert_eq!(s.long_line_count, 150);
        assert_eq!(s.long_lines.len(), 100);
        assert_eq!(
            s.long_lines[99],
            LongLine {
                line: 100,
                len: 1000
            }
        );
    }

    fn decode_in_chunks(
        wire: &[u8],
        chunk: usize,
    ) -> Result<(Vec<u8>, Option<usize>), DecodeError> {
        let mut unstuffer = Unstuffer::new();
        let mut out = Vec::new();
        let mut offset = 0;
        for part in wire.chunks(chunk.max(1)) {
            if let Some(n) = unstuffer.feed(part, &mut out)? {
                return Ok((out, Some(offset + n)));
            }
            offset += part.len();
        }
        Ok((out, None))
    }

    #[test]
    fn unstuffer_table() {
        type Case = (
            &'static [u8],
            Result<(&'static [u8], Option<usize>), DecodeError>,
        );
        let cases: &[Case] = &[
            (b".\r\n", Ok((b"", Some(3)))),
            (b"a\r\n.\r\n", Ok((b"a\r\n", Some(6)))),
            (b"a\r\n.\r\nQUIT\r\n", Ok((b"a\r\n", Some(6)))),
            (b"..\r\n...x\r\n.\r\n", Ok((b".\r\n..x\r\n", Some(13)))),
            (b".a\r\n.\r\n", Ok((b"a\r\n", Some(7)))),
            (b"\r\n\r\n.\r\n", Ok((b"\r\n\r\n", Some(7)))),
            (b"a\r\n", Ok((b"a\r\n", None))),
            (b"a\r\n.", Ok((b"a\r\n", None))),
            (b"a\r\n.\r", Ok((b"a\r\n", None))),
            (b"a\r\n. \r\n", Ok((b"a\r\n \r\n", None))),
            // SMTP smuggling: a bare LF must not end a line, let alone the data.
            (b"a\n.\n", Err(DecodeError::BareLineEnd("LF"))),
            (b"a\r\n.\n", Err(DecodeError::BareLineEnd("LF"))),
            (b"a\r.\r\n", Err(DecodeError::BareLineEnd("CR"))),
            (b"a\r\n.\r.", Err(DecodeError::BareLineEnd("CR"))),
            (b"\n", Err(DecodeError::BareLineEnd("LF"))),
        ];
        for &(wire, ref want) in cases {
            let want = want.clone().map(|(out, n)| (out.to_vec(), n));
            for chunk in 1..=wire.len() {
                assert_eq!(
                    decode_in_chunks(wire, chunk),
                    want,
                    "{wire:?} in chunks of {chunk}"
                );
            }
        }
    }

    #[test]
    fn unstuffer_after_the_end() {
        let mut unstuffer = Unstuffer::new();
        let mut out = Vec::new();
        assert_eq!(unstuffer.feed(b"x\r\n.\r\nNOOP", &mut out), Ok(Some(6)));
        assert_eq!(unstuffer.feed(b"NOOP", &mut out), Ok(Some(0)));
        assert_eq!(unstuffer.feed(b"", &mut out), Ok(Some(0)));
        assert_eq!(out, b"x\r\n");
    }

    #[test]
    fn unstuffer_inverts_the_stuffer() {
        for &(body, wire) in CASES {
            let (out, end) = decode_in_chunks(wire, wire.len()).unwrap();
            assert_eq!(end, Some(wire.len()));
            let (again, _) = encode(&out);
            assert_eq!(again, wire, "{body:?}");
        }
    }
}
