//! Property tests for every entry point that takes outside bytes (PRODUCT.md safety rule
//! 10, and the same entry points as the fuzz targets in fuzz/, see docs/fuzzing.md): the
//! reply parser survives anything a server can send, the DATA encoder and decoder agree
//! whatever the chunk boundaries, and nothing panics on arbitrary bytes or arbitrary UTF-8,
//! a line cut in the middle of a character included: the MAIL/RCPT/EHLO grammar and the
//! envelope checks, TARGET parsing, SASL decoding, the capability parser, display escaping,
//! the practice server fed a raw byte stream, the command language and the script reader.

use std::sync::{Mutex, OnceLock};

use proptest::prelude::*;
use proptest::sample::Index;

use smtpsh::practice::{MemoryServer, PracticeConfig};
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

// ---------------------------------------------------------------------------------------
// Arbitrary text: no panic anywhere (safety rule 10)
// ---------------------------------------------------------------------------------------

/// Characters that sit at grammar boundaries, and multi-byte ones of every width, so byte
/// offsets land inside characters.
const CHARS: &[char] = &[
    'a', 'Z', '0', ' ', '\t', ':', '<', '>', '@', '=', '.', '"', '\\', '[', ']', '/', '*', ';',
    ',', '-', '|', 'é', 'ñ', 'δ', '€', '中', '😀', '\u{301}', '\u{85}', '\u{202e}', '\u{0}', '\r',
    '\n',
];

/// Text made to trip slicing by byte index: a keyword the code looks for, then characters
/// from [`CHARS`]; or any string at all.
fn text_after(prefixes: &'static [&'static str]) -> impl Strategy<Value = String> {
    let tail = proptest::collection::vec(proptest::sample::select(CHARS), 0..24)
        .prop_map(|c| c.into_iter().collect::<String>());
    prop_oneof![
        3 => (proptest::sample::select(prefixes), tail.clone()).prop_map(|(p, t)| format!("{p}{t}")),
        1 => tail,
        1 => any::<String>(),
    ]
}

/// UTF-8 text cut at any byte: what a network read or a file ending mid-character gives.
fn cut_utf8() -> impl Strategy<Value = Vec<u8>> {
    (
        text_after(&["EHLO ", "MAIL FROM:<", ":expect "]),
        any::<Index>(),
    )
        .prop_map(|(s, at)| {
            let bytes = s.into_bytes();
            let cut = at.index(bytes.len() + 1);
            bytes[..cut].to_vec()
        })
}

const ARG_PREFIXES: &[&str] = &[
    "FROM:<",
    "FROM:",
    "FROM",
    "FRO",
    "TO:<",
    "TO",
    "FROM:<a@b> ",
    "TO:<a@[IPv6:",
    "FROM:<\"",
    "FROM:<@r:",
    "from: <",
    "FROM:<a@b> SIZE=",
];

proptest! {
    #![proptest_config(config())]

    // The shared grammar (src/smtp/syntax.rs): what the strict reading accepts is written
    // back by `Display` to the same thing, and the lenient reading finds the same path and
    // parameters in it. The client's checks refuse exactly the non-ASCII lines a server did
    // not say it takes.
    #[test]
    fn grammar_and_envelope_checks_never_panic(arg in text_after(ARG_PREFIXES)) {
        use smtpsh::smtp::syntax;
        if let Ok(parsed) = syntax::parse_mail_arg(&arg) {
            let wire = parsed.to_string();
            let again = syntax::parse_mail_arg(&wire);
            prop_assert_eq!(again.as_ref(), Ok(&parsed));
            let loose = syntax::scan_path_arg(&arg);
            prop_assert_eq!((loose.path, &loose.params), (parsed.path, &parsed.params));
            let _ = syntax::mail_params(&parsed.params);
        }
        if let Ok(parsed) = syntax::parse_rcpt_arg(&arg) {
            let wire = parsed.to_string();
            let again = syntax::parse_rcpt_arg(&wire);
            prop_assert_eq!(again.as_ref(), Ok(&parsed));
            let loose = syntax::scan_path_arg(&arg);
            prop_assert_eq!((loose.path, &loose.params), (parsed.path, &parsed.params));
        }
        let _ = syntax::parse_helo_arg(&arg);
        let _ = syntax::parse_mailbox(&arg);
        let line = format!("MAIL {arg}");
        // A line the checks take (no control character, not too long) is a Command; only
        // a non-ASCII one is refused for want of SMTPUTF8.
        if let Ok(cmd) = smtpsh::smtp::command::Command::parse(&line) {
            let refused = smtpsh::smtp::ext::check_envelope(&cmd, None).is_err();
            prop_assert_eq!(refused, !line.is_ascii());
        }
    }

    #[test]
    fn target_parsing_never_panics(
        text in text_after(&["smtp://", "smtps://", "lmtp://", "unix:", "unix", "[", "[::1]", "SMTPS:/"]),
        implicit in any::<bool>(),
    ) {
        use smtpsh::net::target::Target;
        if let Ok(t) = Target::parse(&text, None, implicit) {
            let again = Target::parse(&t.to_string(), None, false);
            prop_assert!(again.is_ok(), "{:?} shown as {}", text, t);
        }
    }

    // The client's 334 decoder, and the capability parser and explanations on any reply.
    #[test]
    fn sasl_caps_and_escaping_never_panic(bytes in server_bytes(), cut in cut_utf8()) {
        use smtpsh::smtp::{auth, caps::Capabilities, escape, explain};
        for input in [&bytes, &cut] {
            let _ = auth::decode_challenge(input);
            let shown = escape::escape_bytes(input);
            prop_assert!(!shown.chars().any(|c| c.is_control() && c != '\t'), "{:?}", shown);
        }
        let (replies, _) = parse(Limits::default(), &[&bytes]);
        for parsed in &replies {
            let caps = Capabilities::from_ehlo(&parsed.reply);
            let _ = (caps.compact(), caps.auth_mechanisms(), caps.size());
            let _ = explain::reply(&parsed.reply);
        }
    }

    // The command language's parsers, through their public functions.
    #[test]
    fn command_language_never_panics(
        line in text_after(&[":expect ", ":expect <", ":raw ", ":raw \\x", ":auth ", ":connect ",
            ":send --", ":explain ", ":inbox ", ":", ":expec", ":sen"]),
    ) {
        use smtpsh::shell::commands::ShellParser;
        use smtpsh::shell::lang::{ExpectSpec, Origin, parse_body_line, parse_line, unescape_raw};
        let mut shell = ShellParser::new();
        let _ = parse_line(&line, Origin::Prompt, &mut shell);
        let _ = parse_line(&line, Origin::Script, &mut shell);
        let _ = parse_body_line(line.as_bytes());
        let _ = ExpectSpec::parse(&line);
        let _ = unescape_raw(&line);
    }

    // BDAT data (RFC 3030): only the line ends change, whatever the chunking.
    #[test]
    fn bdat_encoder_gives_the_canonical_body(
        body in body(),
        indices in proptest::collection::vec(any::<Index>(), 0..10),
    ) {
        let mut encoder = smtpsh::smtp::bdat::CrlfEncoder::new();
        let mut out = Vec::new();
        for chunk in chunks(&body, &cuts(&indices, body.len())) {
            encoder.encode(chunk, &mut out);
        }
        let summary = encoder.finish(&mut out);
        prop_assert_eq!(summary.wire_bytes, out.len() as u64);
        prop_assert_eq!(out, canonical(&body));
    }
}

// ---------------------------------------------------------------------------------------
// The practice server fed a raw byte stream
// ---------------------------------------------------------------------------------------

fn memory_server() -> &'static Mutex<MemoryServer> {
    static SERVER: OnceLock<Mutex<MemoryServer>> = OnceLock::new();
    SERVER.get_or_init(|| Mutex::new(MemoryServer::new(PracticeConfig::default()).unwrap()))
}

/// Client bytes that reach every state: commands, AUTH exchanges, DATA, odd line ends,
/// multi-byte characters, and noise.
fn client_bytes() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop_oneof![
        Just(b"EHLO client.example\r\n".to_vec()),
        Just(b"HELO x\r\n".to_vec()),
        Just(b"MAIL FROM:<a@example.org>\r\n".to_vec()),
        Just(b"MAIL FROM:<> SIZE=10 BODY=8BITMIME SMTPUTF8\r\n".to_vec()),
        Just(b"RCPT TO:<b@example.org>\r\n".to_vec()),
        Just(b"DATA\r\n".to_vec()),
        Just(b".\r\n".to_vec()),
        Just(b"..\r\n".to_vec()),
        Just(b"AUTH PLAIN\r\n".to_vec()),
        Just(b"AUTH PLAIN AGFsaWNlAGFsaWNlcGFzcw==\r\n".to_vec()),
        Just(b"AUTH LOGIN\r\n".to_vec()),
        Just(b"AUTH CRAM-MD5\r\n".to_vec()),
        Just(b"YWxpY2U=\r\n".to_vec()),
        Just(b"*\r\n".to_vec()),
        Just(b"=\r\n".to_vec()),
        Just(b"RSET\r\n".to_vec()),
        Just(b"MAIL FRO\xc3\xa9\r\n".to_vec()),
        Just("VRFY ö\r\n".as_bytes().to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\xc3".to_vec()),
        Just(b"\xa9".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..16),
    ];
    prop_oneof![
        proptest::collection::vec(fragment, 0..40).prop_map(|f| f.concat()),
        proptest::collection::vec(any::<u8>(), 0..300),
        proptest::collection::vec(cut_utf8(), 0..12).prop_map(|lines| {
            lines
                .into_iter()
                .flat_map(|l| l.into_iter().chain(*b"\r\n"))
                .collect()
        }),
    ]
}

proptest! {
    #![proptest_config(config())]

    // Whatever a client sends, in reads of any size: no panic, and the output is a run of
    // well-formed replies, each line within 512 octets, and kept messages are CRLF-only.
    #[test]
    fn practice_server_answers_any_bytes_with_well_formed_replies(
        input in client_bytes(),
        read_size in 0usize..40,
    ) {
        let session = memory_server()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .session(&input, read_size);
        let (replies, err) = parse(Limits::default(), &[&session.output]);
        prop_assert_eq!(err, None);
        prop_assert!(!replies.is_empty(), "no greeting");
        for parsed in &replies {
            prop_assert!(parsed.warnings.is_empty(), "{:?}", parsed);
        }
        for m in &session.messages {
            prop_assert_eq!(canonical(&m.data), m.data.clone());
        }
    }
}

// ---------------------------------------------------------------------------------------
// The script reader, against a practice server on loopback
// ---------------------------------------------------------------------------------------

/// Script lines: commands, shell commands, body lines, multi-byte characters.
fn script_lines() -> impl Strategy<Value = Vec<String>> {
    let line = prop_oneof![
        Just("EHLO fuzz.example".to_string()),
        Just("MAIL FROM:<a@example.org>".to_string()),
        Just("RCPT TO:<b@example.org>".to_string()),
        Just("RCPT TO:<reject@example.org>".to_string()),
        Just("DATA".to_string()),
        Just(".".to_string()),
        Just(":expect 250".to_string()),
        Just(":expect 2xx|5xx".to_string()),
        Just(":expect 354".to_string()),
        Just("NOOP".to_string()),
        Just(":state".to_string()),
        Just("# a comment".to_string()),
        Just(String::new()),
        text_after(&[
            "EHLO ",
            "VRFY ",
            "MAIL FROM:<",
            ":expect ",
            ":b64 ",
            ":help ",
            "NOOP "
        ]),
    ];
    proptest::collection::vec(line, 0..12)
}

proptest! {
    // Each case talks to a server over TCP: fewer cases than the pure parsers get.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn script_reader_never_panics(lines in script_lines(), pipeline in any::<bool>()) {
        use std::time::Duration;
        use smtpsh::error::Error;
        use smtpsh::practice::PracticeServer;
        use smtpsh::session::{Ask, Config, Session};
        use smtpsh::shell::{exec, script};
        use smtpsh::transcript::{Style, Transcript};

        struct NoTerminal;
        impl Ask for NoTerminal {
            fn user(&mut self, _: Option<&str>) -> Result<String, Error> {
                Err(Error::Cancelled)
            }
            fn password(&mut self, _: &str) -> Result<smtpsh::smtp::auth::Secret, Error> {
                Err(Error::Cancelled)
            }
        }
        static SERVER: OnceLock<PracticeServer> = OnceLock::new();
        let server = SERVER.get_or_init(|| {
            PracticeServer::start(PracticeConfig {
                addr: "127.0.0.1:0".parse().unwrap(),
                ..PracticeConfig::default()
            })
            .unwrap()
        });
        let text: String = lines.iter().flat_map(|l| [l.as_str(), "\n"]).collect();
        let config = Config {
            ehlo_name: "fuzz.example".into(),
            timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(2),
            plaintext_auth: true,
            ..Config::default()
        };
        let style = Style { color: false, echo_body: true, json: false, wire: false };
        let transcript = Transcript::new(style, Box::new(std::io::sink()));
        let mut session = Session::new(
            config,
            transcript,
            Box::new(NoTerminal),
            smtpsh::cancel::Cancel::new(),
        );
        // The check pass first, as a run does; then the run itself, whatever the check said.
        let base = Some(std::env::temp_dir());
        let _ = script::check(&mut script::Reader::new(text.as_bytes(), "prop.smtp", base.clone()));
        exec::connect(&mut session, &server.addr().to_string(), None, Default::default()).unwrap();
        let opts = script::Options {
            keep_going: true,
            pipeline,
            ..script::Options::default()
        };
        let mut summary = script::Summary::default();
        let reader = script::Reader::new(text.as_bytes(), "prop.smtp", base);
        let _ = script::run(&mut session, reader, opts, &mut summary);
    }
}
