//! Property tests for the protocol layer: the reply parser survives anything a server can
//! send, and the DATA encoder and decoder agree whatever the chunk boundaries.

use proptest::prelude::*;
use proptest::sample::Index;

use smtpsh::smtp::data::{DotStuffer, Unstuffer};
use smtpsh::smtp::reply::{Limits, ParseError, Parsed, ReplyParser};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        ..ProptestConfig::default()
    }
}

/// Chunk boundaries into a slice of `len` bytes, sorted.
fn cuts(indices: &[Index], len: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = indices.iter().map(|i| i.index(len + 1)).collect();
    cuts.sort_unstable();
    cuts
}

/// `bytes` split at `cuts` (empty chunks included).
fn chunks<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain([&bytes.len()]) {
        out.push(&bytes[start..cut]);
        start = cut;
    }
    out
}

/// Bytes that look like server output often enough to reach every parser state.
fn server_bytes() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop_oneof![
        Just(b"250".to_vec()),
        Just(b"250-".to_vec()),
        Just(b"250 ".to_vec()),
        Just(b"550 5.1.1 ".to_vec()),
        Just(b"550-5.1.1".to_vec()),
        Just(b"2.0.0 ".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"199 ".to_vec()),
        Just(b"x".repeat(40)),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..400),
        proptest::collection::vec(fragment, 0..60).prop_map(|f| f.concat()),
    ]
}

/// Small limits so the hard limits are reached too.
fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(Limits::default()),
        (1usize..64, 1usize..80, 1usize..8, 1usize..200).prop_map(
            |(warn_line, max_line, max_lines, max_reply)| Limits {
                warn_line,
                max_line,
                max_lines,
                max_reply
            }
        ),
    ]
}

/// Feed `chunks`, taking replies out after each; stop at the first error.
fn parse(limits: Limits, chunks: &[&[u8]]) -> (Vec<Parsed>, Option<ParseError>) {
    let mut parser = ReplyParser::new(limits);
    let mut replies = Vec::new();
    for chunk in chunks {
        let pushed = parser.push(chunk);
        loop {
            match parser.next_reply() {
                Ok(Some(parsed)) => replies.push(parsed),
                Ok(None) => break,
                Err(err) => return (replies, Some(err)),
            }
        }
        if let Err(err) = pushed {
            return (replies, Some(err));
        }
        let held = parser.buffered();
        assert!(
            held <= limits.max_reply + limits.max_line,
            "holds {held} octets"
        );
    }
    (replies, None)
}

proptest! {
    #![proptest_config(config())]

    // The parser never panics, and what it returns does not depend on how the bytes were
    // split by the network.
    #[test]
    fn reply_parser_never_panics_and_ignores_chunking(
        bytes in server_bytes(),
        limits in limits(),
        indices in proptest::collection::vec(any::<Index>(), 0..12),
    ) {
        let whole = parse(limits, &[&bytes]);
        let split = parse(limits, &chunks(&bytes, &cuts(&indices, bytes.len())));
        prop_assert_eq!(&whole, &split);
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        prop_assert_eq!(&whole, &parse(limits, &bytewise));
    }
}

/// What the receiver must see: every bare CR or LF made CRLF, and a CRLF at the end of a
/// non-empty body that lacks one (RFC 5321 §2.3.8, §4.1.1.4).
fn canonical(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 2);
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\r' if body.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Bodies of any bytes, and bodies made mostly of the bytes that matter here.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let special = prop_oneof![
        4 => Just(b'\r'),
        4 => Just(b'\n'),
        4 => Just(b'.'),
        2 => Just(b'a'),
        1 => any::<u8>(),
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        proptest::collection::vec(special, 0..120),
    ]
}

proptest! {
    #![proptest_config(config())]

    // Whatever the body and the chunking, the wire is canonical, ends exactly once, and
    // decodes to the canonical body (no early end: SMTP smuggling).
    #[test]
    fn dot_stuffing_round_trips(
        body in body(),
        indices in proptest::collection::vec(any::<Index>(), 0..10),
        decode_chunk in 1usize..40,
    ) {
        let mut stuffer = DotStuffer::new();
        let mut wire = Vec::new();
        for chunk in chunks(&body, &cuts(&indices, body.len())) {
            stuffer.encode(chunk, &mut wire);
        }
        let summary = stuffer.finish(&mut wire);
        prop_assert_eq!(summary.wire_bytes, wire.len() as u64);

        // No bare CR or LF anywhere on the wire.
        for (i, &b) in wire.iter().enumerate() {
            if b == b'\r' {
                prop_assert_eq!(wire.get(i + 1), Some(&b'\n'), "bare CR at {}", i);
            }
            if b == b'\n' {
                prop_assert!(i > 0 && wire[i - 1] == b'\r', "bare LF at {}", i);
            }
        }

        // The end of data is at the end, and only there.
        if body.is_empty() {
            prop_assert_eq!(&wire[..], b".\r\n");
        } else {
            prop_assert!(wire.ends_with(b"\r\n.\r\n"));
            prop_assert!(!wire.starts_with(b".\r\n"));
            let first_end = wire.windows(5).position(|w| w == b"\r\n.\r\n");
            prop_assert_eq!(first_end, Some(wire.len() - 5));
        }

        // The receiver gets the canonical body back, and consumes the whole wire.
        let mut unstuffer = Unstuffer::new();
        let mut message = Vec::new();
        let mut offset = 0;
        let mut end = None;
        for part in wire.chunks(decode_chunk) {
            if let Some(n) = unstuffer.feed(part, &mut message).unwrap() {
                end = Some(offset + n);
                break;
            }
            offset += part.len();
        }
        prop_assert_eq!(end, Some(wire.len()));
        prop_assert_eq!(message, canonical(&body));
    }
}
