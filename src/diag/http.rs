//! The HTTP/1.1 response of an MTA-STS policy fetch (RFC 9112), read from bytes: the status
//! line and header fields, the body's framing (Content-Length, chunked, or up to the close),
//! and a chunked-body decoder with a size cap. Only what RFC 8461 §3.3's fetch needs; both
//! parsers take outside bytes and are fuzzed.

/// The most header bytes we read before giving up: a policy server has no reason to send
/// more.
pub const MAX_HEAD: usize = 16 * 1024;

/// A response's status line and header fields.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResponseHead {
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    /// The status code.
    pub status: u16,
    /// The reason phrase, as sent (may be empty).
    pub reason: String,
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
}

/// Why a response head could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// More bytes are needed.
    #[error("the response head is incomplete")]
    Incomplete,
    /// No end of the head within [`MAX_HEAD`] bytes.
    #[error("the response head is longer than {MAX_HEAD} bytes")]
    TooLong,
    /// Not HTTP/1.x.
    #[error("malformed HTTP response: {0}")]
    Invalid(String),
}

/// How the body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Up to the end of the connection.
    Close,
}

impl ResponseHead {
    /// The first field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The media type of Content-Type without parameters, lower case (`text/plain`).
    pub fn media_type(&self) -> Option<String> {
        let v = self.header("content-type")?;
        let t = v.split(';').next().unwrap_or("").trim();
        Some(t.to_ascii_lowercase())
    }

    /// How the body is delimited, or why that can't be told.
    pub fn framing(&self) -> Result<Framing, HeadError> {
        if let Some(te) = self.header("transfer-encoding") {
            // RFC 9112 §6.3: chunked must be the final coding; any other coding runs to the
            // close (we refuse it below, as no policy needs one).
            let last = te.rsplit(',').next().unwrap_or("").trim();
            return if last.eq_ignore_ascii_case("chunked") {
                Ok(Framing::Chunked)
            } else {
                Err(HeadError::Invalid(format!(
                    "unsupported Transfer-Encoding \"{te}\""
                )))
            };
        }
        let mut length = None;
        for (n, v) in &self.headers {
            if !n.eq_ignore_ascii_case("content-length") {
                continue;
            }
            let v = v.trim();
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) || v.len() > 19 {
                return Err(HeadError::Invalid(format!("bad Content-Length \"{v}\"")));
            }
            let n: u64 = v
                .parse()
                .map_err(|_| HeadError::Invalid(format!("bad Content-Length \"{v}\"")))?;
            if length.is_some_and(|l| l != n) {
                return Err(HeadError::Invalid(
                    "conflicting Content-Length fields".into(),
                ));
            }
            length = Some(n);
        }
        Ok(length.map_or(Framing::Close, Framing::Length))
    }
}

/// Read a response head from the start of `buf`: the head and the number of bytes it took.
pub fn parse_head(buf: &[u8]) -> Result<(ResponseHead, usize), HeadError> {
    // The head ends at the first empty line (CRLF CRLF; a bare LF is tolerated, RFC 9112 §2.2).
    let mut end = None;
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' {
            let rest = &buf[i + 1..];
            if rest.starts_with(b"\r\n") {
                end = Some(i + 3);
                break;
            }
            if rest.starts_with(b"\n") {
                end = Some(i + 2);
                break;
            }
        }
        i += 1;
    }
    let Some(end) = end else {
        return Err(if buf.len() > MAX_HEAD {
            HeadError::TooLong
        } else {
            HeadError::Incomplete
        });
    };
    if end > MAX_HEAD {
        return Err(HeadError::TooLong);
    }
    let text = std::str::from_utf8(&buf[..end])
        .map_err(|_| HeadError::Invalid("the head is not text".into()))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let status_line = lines.next().unwrap_or("");
    let (version, rest) = status_line
        .split_once(' ')
        .ok_or_else(|| HeadError::Invalid(format!("status line \"{status_line}\"")))?;
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(HeadError::Invalid(format!(
            "not HTTP/1.x: \"{}\"",
            shorten(status_line)
        )));
    }
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeadError::Invalid(format!("status code \"{code}\"")));
    }
    let status: u16 = code.parse().unwrap_or(0);
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            // RFC 9112 §5.2: obsolete line folding; a client may refuse it.
            return Err(HeadError::Invalid("folded header line".into()));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| HeadError::Invalid(format!("header line \"{}\"", shorten(line))))?;
        if name.is_empty() || !name.bytes().all(is_token) {
            return Err(HeadError::Invalid(format!(
                "header name \"{}\"",
                shorten(name)
            )));
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }
    Ok((
        ResponseHead {
            version: version.to_string(),
            status,
            reason: reason.to_string(),
            headers,
        },
        end,
    ))
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(60).collect();
    if out.len() < s.len() {
        out.push_str("...");
    }
    out.escape_debug().to_string()
}

/// Why a chunked body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// More bytes are needed.
    #[error("the chunked body is incomplete")]
    Incomplete,
    /// The decoded body would exceed the limit.
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    /// Not chunked coding.
    #[error("malformed chunked body: {0}")]
    Invalid(String),
}

/// Decode a whole chunked body (RFC 9112 §7.1) from `buf`, at most `limit` bytes of data.
/// Chunk extensions and trailer fields are skipped.
pub fn decode_chunked(buf: &[u8], limit: usize) -> Result<Vec<u8>, ChunkError> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let line_end = find_lf(buf, at).ok_or(ChunkError::Incomplete)?;
        let line = &buf[at..line_end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let size_hex = line.split(|&b| b == b';').next().unwrap_or(b"");
        let size_hex = std::str::from_utf8(size_hex)
            .map_err(|_| ChunkError::Invalid("chunk size is not text".into()))?
            .trim();
        if size_hex.is_empty() || size_hex.len() > 8 {
            return Err(ChunkError::Invalid(format!("chunk size \"{size_hex}\"")));
        }
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| ChunkError::Invalid(format!("chunk size \"{size_hex}\"")))?;
        at = line_end + 1;
        if size == 0 {
            // Trailer fields up to an empty line.
            loop {
                let end = find_lf(buf, at).ok_or(ChunkError::Incomplete)?;
                let l = &buf[at..end];
                at = end + 1;
                if l.is_empty() || l == b"\r" {
                    return Ok(body);
                }
            }
        }
        // body.len() <= limit always, so the subtraction can't wrap; nor can at + size.
        if size > limit - body.len() {
            return Err(ChunkError::TooLarge(limit));
        }
        let data = buf
            .get(at..at.saturating_add(size))
            .ok_or(ChunkError::Incomplete)?;
        body.extend_from_slice(data);
        at += size;
        match buf.get(at..) {
            Some([b'\r', b'\n', ..]) => at += 2,
            Some([b'\n', ..]) => at += 1,
            Some([]) | Some([b'\r']) | None => return Err(ChunkError::Incomplete),
            Some(_) => return Err(ChunkError::Invalid("no line end after a chunk".into())),
        }
    }
}

fn find_lf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| from + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_head_and_its_framing() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello";
        let (h, n) = parse_head(raw).unwrap();
        assert_eq!(n, raw.len() - 5);
        assert_eq!(h.status, 200);
        assert_eq!(h.reason, "OK");
        assert_eq!(h.media_type().as_deref(), Some("text/plain"));
        assert_eq!(h.framing().unwrap(), Framing::Length(5));
    }

    #[test]
    fn incomplete_invalid_and_too_long() {
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\n"),
            Err(HeadError::Incomplete)
        );
        assert!(matches!(
            parse_head(b"SSH-2.0-x\r\n\r\n"),
            Err(HeadError::Invalid(_))
        ));
        assert!(matches!(
            parse_head(b"HTTP/1.1 2x0 OK\r\n\r\n"),
            Err(HeadError::Invalid(_))
        ));
        assert!(matches!(
            parse_head(b"HTTP/1.1 200 OK\r\nX: a\r\n  folded\r\n\r\n"),
            Err(HeadError::Invalid(_))
        ));
        let long = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &[b'a'; MAX_HEAD]].concat();
        assert_eq!(parse_head(&long), Err(HeadError::TooLong));
    }

    #[test]
    fn framing_rules() {
        let head = |extra: &str| {
            parse_head(format!("HTTP/1.1 200 OK\r\n{extra}\r\n").as_bytes())
                .unwrap()
                .0
        };
        assert_eq!(head("").framing().unwrap(), Framing::Close);
        assert_eq!(
            head("Transfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n")
                .framing()
                .unwrap(),
            Framing::Chunked
        );
        assert!(
            head("Content-Length: 3\r\nContent-Length: 4\r\n")
                .framing()
                .is_err()
        );
        assert!(head("Content-Length: -1\r\n").framing().is_err());
        assert!(head("Transfer-Encoding: gzip\r\n").framing().is_err());
    }

    #[test]
    fn chunked_bodies() {
        assert_eq!(
            decode_chunked(b"5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n", 100).unwrap(),
            b"hello!"
        );
        assert_eq!(
            decode_chunked(b"5\r\nhel", 100),
            Err(ChunkError::Incomplete)
        );
        assert_eq!(decode_chunked(b"0\r\n", 100), Err(ChunkError::Incomplete));
        assert_eq!(
            decode_chunked(b"10\r\n0123456789abcdef\r\n0\r\n\r\n", 8),
            Err(ChunkError::TooLarge(8))
        );
        // The largest size a chunk line may give: refused by the cap, with no overflow.
        assert_eq!(
            decode_chunked(b"ffffffff\r\n", 8),
            Err(ChunkError::TooLarge(8))
        );
        assert!(matches!(
            decode_chunked(b"zz\r\n", 8),
            Err(ChunkError::Invalid(_))
        ));
        assert!(matches!(
            decode_chunked(b"1\r\nab\r\n", 8),
            Err(ChunkError::Invalid(_))
        ));
    }
}
