//! What the fuzz targets share: one input cut into the chunks a network would deliver (the
//! cuts drawn from the input itself, so a crash replays exactly), and what a body is once
//! its line ends are canonical.

/// The first byte of `data` as a control byte (how to cut, which mode), and the rest.
pub fn control(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((&first, rest)) => (first, rest),
        None => (0, data),
    }
}

/// `bytes` cut into chunks whose sizes are drawn from `seed`: seed 0 gives one chunk, seed
/// 1 one byte a chunk, others sizes from 1 to `seed` (empty chunks included now and then,
/// as a read of 0 new bytes is possible too).
pub fn chunks(bytes: &[u8], seed: u8) -> Vec<&[u8]> {
    match seed {
        0 => vec![bytes],
        1 => bytes.chunks(1).collect(),
        max => {
            let mut state = u32::from(max).wrapping_mul(2_654_435_761) ^ bytes.len() as u32 | 1;
            let mut out = Vec::new();
            let mut rest = bytes;
            while !rest.is_empty() {
                // xorshift32: cheap and deterministic.
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let size = (state % u32::from(max)) as usize;
                let (chunk, after) = rest.split_at(size.min(rest.len()));
                out.push(chunk);
                rest = after;
            }
            out
        }
    }
}

/// What a receiver must get from a body: every bare CR or LF made CRLF, and a CRLF at the
/// end of a non-empty body that lacks one (RFC 5321 §2.3.8, §4.1.1.4).
pub fn canonical(body: &[u8]) -> Vec<u8> {
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

/// Panic unless every CR in `bytes` is followed by LF and every LF preceded by CR.
pub fn assert_crlf_only(bytes: &[u8], what: &str) {
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\r' {
            assert_eq!(bytes.get(i + 1), Some(&b'\n'), "{what}: bare CR at {i}");
        }
        if b == b'\n' {
            assert!(i > 0 && bytes[i - 1] == b'\r', "{what}: bare LF at {i}");
        }
    }
}
