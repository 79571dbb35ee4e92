//! The practice server fed a raw byte stream (commands, AUTH, DATA), as a student's `nc`
//! or a hostile client sends it, in reads of any size: no panic; what it writes back is a
//! sequence of well-formed replies with CRLF line ends and lines within RFC 5321's 512
//! octets, in ASCII unless the client used SMTPUTF8 (RFC 6531 §3.7.4.2); every message it
//! keeps has CRLF line ends only. One of the servers has failures on demand (rules); one
//! reports its events, as the teacher's log and `--json` get them: each is valid JSON, a
//! command line shows no control character but TAB, and an AUTH line nothing after its
//! mechanism but `<redacted>`.
#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use smtpsh::practice::{Event, EventKind, EventSink, Limits, MemoryServer, PracticeConfig, Rules};
use smtpsh::smtp::reply::{Limits as ReplyLimits, ReplyParser, Warning};
use smtpsh_fuzz::{assert_crlf_only, control};

/// What the teacher may be shown of an event (see the module docs).
fn check_event(e: &Event) {
    serde_json::to_string(e).expect("an event as JSON");
    let EventKind::Command { line, .. } = &e.kind else {
        return;
    };
    assert!(
        !line.chars().any(|c| c.is_control() && c != '\t'),
        "a control character in a logged line: {line:?}"
    );
    // A long line is cut with `...`; what is left must still hold no secret.
    let line = line.strip_suffix("...").unwrap_or(line);
    // The verb ends where the server ends it (a space, TAB or `:`); so do the words after.
    let verb_end = line.find([' ', '\t', ':']).unwrap_or(line.len());
    let (verb, rest) = line.split_at(verb_end);
    let words = rest.split([' ', '\t', ':']).filter(|w| !w.is_empty());
    if verb.eq_ignore_ascii_case("AUTH") {
        // RFC 4422 §3.1: 1 to 20 characters.
        let mechanism = |m: &str| {
            m.len() <= 20
                && m.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        let shown = match words.collect::<Vec<_>>().as_slice() {
            [] | ["<redacted>"] => true,
            [m] | [m, "<redacted>"] => mechanism(m),
            _ => false,
        };
        assert!(
            shown,
            "an AUTH line shown with more than its mechanism: {line:?}"
        );
    }
}

/// Four servers: the default (reporting its events), one requiring AUTH, one with small limits (so the error,
/// junk, recipient, size and memory limits are reached by short inputs), one with rules.
fn server(which: u8) -> &'static Mutex<MemoryServer> {
    static SERVERS: OnceLock<[Mutex<MemoryServer>; 4]> = OnceLock::new();
    let servers = SERVERS.get_or_init(|| {
        let make = |config| Mutex::new(MemoryServer::new(config).expect("a practice server"));
        [
            make(PracticeConfig {
                events: Some(EventSink::new(check_event)),
                ..PracticeConfig::default()
            }),
            make(PracticeConfig {
                require_auth: true,
                ..PracticeConfig::default()
            }),
            make(PracticeConfig {
                limits: Limits {
                    max_line: 512,
                    max_message: 64,
                    max_recipients: 2,
                    max_errors: 3,
                    max_junk: 2,
                    soft_errors: 1,
                    max_stored: 4096,
                    ..Limits::default()
                },
                ..PracticeConfig::default()
            }),
            make(PracticeConfig {
                rules: Rules::parse(
                    "greeting delay 1s\n\
                     ehlo <*.old*> hide PIPELINING STARTTLS AUTH\n\
                     mail <> reply 550 5.7.1 no bounces\n\
                     rcpt <b*> reply 451 4.2.1 busy\n\
                     rcpt <q*> disconnect\n\
                     data <*@x*> reply 554 5.5.1 no\n\
                     message <*@full*> reply 452 4.2.2 full\n\
                     noop reply 421 4.3.2 bye\n\
                     any tarpit 1ms\n",
                )
                .expect("rules"),
                ..PracticeConfig::default()
            }),
        ]
    });
    &servers[usize::from(which % 4)]
}

fuzz_target!(|data: &[u8]| {
    let (seed, input) = control(data);
    // Reads of 1 to 63 octets, or all at once.
    let read_size = usize::from(seed & 0x3f);
    let session = server(seed >> 6)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .session(input, read_size);

    let output = &session.output;
    assert_crlf_only(output, "server output");
    if !input
        .to_ascii_lowercase()
        .windows(8)
        .any(|w| w == b"smtputf8")
    {
        assert!(
            output.is_ascii(),
            "a reply outside ASCII without SMTPUTF8:\n{}",
            String::from_utf8_lossy(output)
        );
    }
    let mut parser = ReplyParser::new(ReplyLimits::default());
    parser
        .push(output)
        .expect("replies within the parser's limits");
    let mut replies = 0;
    loop {
        match parser.next_reply() {
            Ok(Some(parsed)) => {
                replies += 1;
                assert!(
                    !parsed
                        .warnings
                        .iter()
                        .any(|w| matches!(w, Warning::LongLine { .. })),
                    "a reply line over 512 octets: {:?}",
                    parsed.reply
                );
            }
            Ok(None) => break,
            Err(e) => panic!("malformed reply: {e}\n{}", String::from_utf8_lossy(output)),
        }
    }
    assert_eq!(parser.buffered(), 0, "output ends inside a reply");
    assert!(replies >= 1, "no greeting");
    let queued = String::from_utf8_lossy(output)
        .split("\r\n")
        .filter(|line| line.starts_with("250 2.0.0 Ok: queued as "))
        .count();
    assert_eq!(queued, session.messages.len());
    for m in &session.messages {
        assert_crlf_only(&m.data, "a kept message");
        assert!(m.data.is_empty() || m.data.ends_with(b"\r\n"));
    }
});
