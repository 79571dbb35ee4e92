//! The EHLO capability parser (src/smtp/caps.rs) on any reply a server sends: no panic, and
//! what it keeps is safe to show (no control character, no blank inside a word).
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpsh::smtp::caps::Capabilities;
use smtpsh::smtp::reply::{Limits, ReplyParser};

fn shown_safely(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() && c != '\t')
}

fuzz_target!(|data: &[u8]| {
    let mut parser = ReplyParser::new(Limits::default());
    let _ = parser.push(data);
    while let Ok(Some(parsed)) = parser.next_reply() {
        let caps = Capabilities::from_ehlo(&parsed.reply);
        assert!(shown_safely(&caps.greeting), "{:?}", caps.greeting);
        for c in &caps.entries {
            // An `=PLAIN` line has an empty keyword; parameters are never empty.
            assert!(c.params.iter().all(|p| !p.is_empty()), "{c:?}");
            for word in std::iter::once(&c.keyword).chain(&c.params) {
                assert!(shown_safely(word), "{word:?}");
                assert!(!word.bytes().any(|b| b.is_ascii_whitespace()), "{word:?}");
            }
            assert!(caps.has(&c.keyword), "{:?}", c.keyword);
        }
        let _ = (caps.size(), caps.params("AUTH"), caps.has("SMTPUTF8"));
        for m in caps.auth_mechanisms() {
            assert_eq!(m, m.to_ascii_uppercase());
        }
        assert!(shown_safely(&caps.compact()));
    }
});
