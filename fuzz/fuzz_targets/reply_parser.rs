//! The reply parser (src/smtp/reply.rs) on whatever a server sends, however the network cuts
//! it: no panic; the same replies and error whatever the cuts; memory held within the limits;
//! each reply written back with `to_wire` parses to itself; `explain` takes every reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpsh::smtp::explain;
use smtpsh::smtp::reply::{Limits, ParseError, Parsed, ReplyParser};
use smtpsh_fuzz::{chunks, control};

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
        let bound = limits.max_reply.saturating_add(limits.max_line);
        assert!(held <= bound, "holds {held} octets");
    }
    (replies, None)
}

fuzz_target!(|data: &[u8]| {
    let (seed, bytes) = control(data);
    // Small limits now and then, so the hard limits are reached too.
    let limits = if seed & 0x80 == 0 {
        Limits::default()
    } else {
        Limits {
            warn_line: 16,
            max_line: 64,
            max_lines: 4,
            max_reply: 160,
        }
    };
    let whole = parse(limits, &[bytes]);
    let cut = parse(limits, &chunks(bytes, seed & 0x7f));
    assert_eq!(whole, cut, "the cuts changed the result");

    let roomy = Limits {
        warn_line: usize::MAX,
        max_line: usize::MAX,
        max_lines: usize::MAX,
        max_reply: usize::MAX,
    };
    for parsed in &whole.0 {
        let reply = &parsed.reply;
        let _ = explain::reply(reply);
        for line in reply.display_lines() {
            assert!(
                !line.chars().any(|c| c.is_control() && c != '\t'),
                "a control character shown: {line:?}"
            );
        }
        let wire = reply.to_wire();
        let (again, err) = parse(roomy, &[&wire]);
        assert_eq!(err, None, "{:?}", String::from_utf8_lossy(&wire));
        assert_eq!(again.len(), 1, "{:?}", String::from_utf8_lossy(&wire));
        assert_eq!(
            &again[0].reply,
            reply,
            "{:?}",
            String::from_utf8_lossy(&wire)
        );
    }
});
