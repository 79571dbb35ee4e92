//! The DATA encoder and decoder (src/smtp/data.rs) and the BDAT encoder (src/smtp/bdat.rs):
//! whatever the body and the chunk boundaries, the DATA wire is CRLF-only, ends exactly
//! once, and decodes (in other chunks) to the CRLF-canonical body; the BDAT output is the
//! canonical body; the decoder fed raw bytes never panics nor reads past its input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpsh::smtp::bdat::CrlfEncoder;
use smtpsh::smtp::data::{self, DotStuffer, Unstuffer};
use smtpsh_fuzz::{assert_crlf_only, canonical, chunks, control};

fuzz_target!(|data: &[u8]| {
    let (seed, body) = control(data);
    let want = canonical(body);

    // DATA: encode in one set of chunks, decode in another.
    let mut stuffer = DotStuffer::new();
    let mut wire = Vec::new();
    for chunk in chunks(body, seed & 0x0f) {
        stuffer.encode(chunk, &mut wire);
    }
    let summary = stuffer.finish(&mut wire);
    assert_eq!(summary.wire_bytes, wire.len() as u64);
    assert_eq!(data::encode(body).0, wire, "chunking changed the wire");
    assert_crlf_only(&wire, "DATA wire");
    if body.is_empty() {
        assert_eq!(wire, b".\r\n");
    } else {
        let first_end = wire.windows(5).position(|w| w == b"\r\n.\r\n");
        assert_eq!(
            first_end,
            Some(wire.len() - 5),
            "the end of data is not only at the end"
        );
    }
    let mut unstuffer = Unstuffer::new();
    let mut message = Vec::new();
    let mut offset = 0;
    let mut end = None;
    for part in chunks(&wire, seed >> 4) {
        if let Some(n) = unstuffer
            .feed(part, &mut message)
            .expect("the encoder's wire decodes")
        {
            end = Some(offset + n);
            break;
        }
        offset += part.len();
    }
    assert_eq!(
        end,
        Some(wire.len()),
        "the decoder did not consume the whole wire"
    );
    assert_eq!(message, want, "the round trip changed the body");

    // BDAT: only the line ends change.
    let mut encoder = CrlfEncoder::new();
    let mut out = Vec::new();
    for chunk in chunks(body, seed >> 4) {
        encoder.encode(chunk, &mut out);
    }
    let summary = encoder.finish(&mut out);
    assert_eq!(summary.wire_bytes, out.len() as u64);
    assert_eq!(out, want, "BDAT data is the canonical body");

    // The decoder on raw bytes, as a server gets them: it stops at the end of data, never
    // reports more consumed than it was given, and never makes bytes up.
    let mut unstuffer = Unstuffer::new();
    let mut decoded = Vec::new();
    for part in chunks(body, seed) {
        match unstuffer.feed(part, &mut decoded) {
            Ok(Some(n)) => {
                assert!(n <= part.len());
                break;
            }
            Ok(None) => {}
            Err(_) => break,
        }
    }
    assert!(decoded.len() <= body.len(), "decoded more than was fed");
});
