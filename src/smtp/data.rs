//! The DATA body encoder (RFC 5321 §4.5.2, §4.1.1.4): a streaming state machine that
//! canonicalises line endings to CRLF, dot-stuffs, and ends with exactly one CRLF.CRLF,
//! whatever the chunk boundaries; and the matching decoder for tests and the server.

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
pub struct DotStuffer {}

impl DotStuffer {
    /// A new encoder at the start of a body.
    pub fn new() -> DotStuffer {
        DotStuffer::default()
    }
    /// Encode `input`, appending wire bytes to `out`. A CR at the end of `input` is held until
    /// the next call tells whether an LF follows.
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        todo!("{input:?}{out:?}")
    }
    /// End the body: a CRLF if the last line had none, then `.\r\n`.
    pub fn finish(self, out: &mut Vec<u8>) -> BodySummary {
        todo!("{out:?}")
    }
}

/// Encode a whole body at once (convenience over [`DotStuffer`]).
pub fn encode(body: &[u8]) -> (Vec<u8>, BodySummary) {
    todo!("{body:?}")
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
pub struct Unstuffer {}

impl Unstuffer {
    /// A new decoder.
    pub fn new() -> Unstuffer {
        Unstuffer::default()
    }
    /// Feed wire bytes; appends the message to `out`. Returns `Ok(Some(n))` when the end
    /// `CRLF.CRLF` was seen, `n` being how many bytes of `input` were consumed (the rest
    /// belongs to the next command), `Ok(None)` when more is needed.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<Option<usize>, DecodeError> {
        todo!("{input:?}{out:?}")
    }
}
