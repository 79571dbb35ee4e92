//! Checks a MAIL or RCPT line gets against the extensions the server advertised, before it
//! is sent: SMTPUTF8 (RFC 6531) for non-ASCII envelopes, a light syntax check of the DSN
//! parameters (RFC 3461), and the message size of RFC 1870 for `:send`.
//!
//! Only the SMTPUTF8 rule refuses a line: a non-ASCII address sent to a server that did not
//! say it takes one is mangled or bounced further down the path, and the user can't see it
//! happen. The DSN checks only warn: people test servers with odd parameters on purpose.
//!
//! The checks take a [`Command`], whose parameters the shared grammar's lenient reading
//! found ([`super::syntax::scan_path_arg`]), so a line the practice server would refuse (a
//! space after the colon, no brackets) is still checked and still sent.

use super::caps::Capabilities;
use super::command::{Command, Verb};

/// Why an envelope line was refused; `Display` says what and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Non-ASCII in MAIL/RCPT, and SMTPUTF8 was not advertised.
    #[error(
        "refused: the {verb} line holds non-ASCII text (column {column}) and the server did not advertise SMTPUTF8 {why}; nothing was sent (RFC 6531 §3.2; :raw sends it anyway)"
    )]
    NeedsSmtputf8 {
        /// `MAIL` or `RCPT`.
        verb: &'static str,
        /// 1-based column of the first non-ASCII byte.
        column: usize,
        /// `in its last EHLO`, or why nothing is known.
        why: &'static str,
    },
}

/// Check a MAIL or RCPT command against `caps` (the last EHLO; `None` before one).
/// `Err` refuses the line; `Ok` carries warnings to show before it is sent.
pub fn check_envelope(
    cmd: &Command,
    caps: Option<&Capabilities>,
) -> Result<Vec<String>, EnvelopeError> {
    let verb = match cmd.verb() {
        Verb::Mail => "MAIL",
        Verb::Rcpt => "RCPT",
        _ => return Ok(Vec::new()),
    };
    let mut warnings = Vec::new();
    if let Some(i) = cmd.expose().bytes().position(|b| !b.is_ascii()) {
        let why = match caps {
            Some(c) if c.has("SMTPUTF8") => "",
            Some(c) if c.greeting.is_empty() && c.entries.is_empty() => "(no EHLO yet)",
            Some(_) => "in its last EHLO",
            None => "(no EHLO yet, or HELO)",
        };
        if !why.is_empty() {
            return Err(EnvelopeError::NeedsSmtputf8 {
                verb,
                column: i + 1,
                why,
            });
        }
        // RFC 6531 §3.4: a transaction with a non-ASCII envelope says so on MAIL.
        if verb == "MAIL" && !cmd.params().iter().any(|p| p.is("SMTPUTF8")) {
            warnings.push(
                "a non-ASCII sender without the SMTPUTF8 parameter: the server may refuse it (RFC 6531 §3.4; add SMTPUTF8)"
                    .to_string(),
            );
        }
    }
    for p in cmd.params() {
        let value = p.value.as_deref().unwrap_or("");
        let key = p.keyword.to_ascii_uppercase();
        let dsn = matches!(key.as_str(), "RET" | "ENVID" | "NOTIFY" | "ORCPT");
        if !dsn {
            continue;
        }
        if caps.is_some_and(|c| !c.has("DSN")) {
            warnings.push(format!(
                "{key} is a DSN parameter and the server did not advertise DSN (RFC 3461)"
            ));
        }
        if let Some(w) = dsn_syntax(verb, &key, value) {
            warnings.push(w);
        }
    }
    Ok(warnings)
}

/// xtext (RFC 3461 §4): printable ASCII but `+` and `=`, with `+HH` for anything else.
fn is_xtext(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                let hex = |c: u8| c.is_ascii_digit() || (b'A'..=b'F').contains(&c);
                if !(i + 2 < b.len() && hex(b[i + 1]) && hex(b[i + 2])) {
                    return false;
                }
                i += 3;
            }
            b'!'..=b'~' if b[i] != b'=' => i += 1,
            _ => return false,
        }
    }
    true
}

/// A warning when a DSN parameter's value is not what RFC 3461 §4 allows.
fn dsn_syntax(verb: &str, key: &str, value: &str) -> Option<String> {
    let bad = |what: &str| Some(format!("{key}={value}: {what} (RFC 3461 §4)"));
    let on = |want: &str| {
        (verb != want).then(|| format!("{key} belongs on {want}, not {verb} (RFC 3461 §4)"))
    };
    match key {
        "RET" => on("MAIL").or_else(|| {
            (!value.eq_ignore_ascii_case("FULL") && !value.eq_ignore_ascii_case("HDRS"))
                .then(|| bad("RET is FULL or HDRS"))
                .flatten()
        }),
        "ENVID" => on("MAIL").or_else(|| {
            (value.is_empty() || value.len() > 100 || !is_xtext(value))
                .then(|| bad("ENVID is 1 to 100 characters of xtext"))
                .flatten()
        }),
        "NOTIFY" => on("RCPT").or_else(|| {
            let words: Vec<String> = value.split(',').map(|w| w.to_ascii_uppercase()).collect();
            let known = words
                .iter()
                .all(|w| matches!(w.as_str(), "NEVER" | "SUCCESS" | "FAILURE" | "DELAY"));
            let never_alone = !words.iter().any(|w| w == "NEVER") || words.len() == 1;
            (!known || !never_alone)
                .then(|| bad("NOTIFY is NEVER, or a comma list of SUCCESS, FAILURE, DELAY"))
                .flatten()
        }),
        "ORCPT" => on("RCPT").or_else(|| {
            let ok = value.split_once(';').is_some_and(|(t, a)| {
                !t.is_empty()
                    && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !a.is_empty()
                    && is_xtext(a)
            });
            (!ok)
                .then(|| bad("ORCPT is addr-type;xtext, e.g. rfc822;bob@example.org"))
                .flatten()
        }),
        _ => None,
    }
}

/// The message size of RFC 1870 §3 from a body's encoding summary: the octets of the
/// message with CRLF line ends, without the stuffed dots and the final `.` line.
pub fn message_size(wire_bytes: u64, stuffed: u64) -> u64 {
    wire_bytes.saturating_sub(stuffed).saturating_sub(3)
}

/// Why a message may not go to a server: its size against the advertised SIZE limit
/// (0 or none means no limit, RFC 1870 §4).
pub fn over_size_limit(size: u64, caps: Option<&Capabilities>) -> Option<u64> {
    let limit = caps?.size()?;
    (limit > 0 && size > limit).then_some(limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::reply::{Code, Reply};

    fn caps(lines: &[&str]) -> Capabilities {
        let mut all = vec!["mx.test"];
        all.extend_from_slice(lines);
        Capabilities::from_ehlo(&Reply::new(Code::new(250).unwrap(), None, &all))
    }

    #[test]
    fn non_ascii_envelopes_need_smtputf8() {
        let with = caps(&["SMTPUTF8", "DSN"]);
        let without = caps(&["8BITMIME"]);
        assert_eq!(
            check_envelope(
                &Command::parse("MAIL FROM:<grüße@test> SMTPUTF8").unwrap(),
                Some(&with)
            ),
            Ok(vec![])
        );
        assert_eq!(
            check_envelope(&Command::parse("RCPT TO:<日本@test>").unwrap(), Some(&with)),
            Ok(vec![])
        );
        let w = check_envelope(
            &Command::parse("MAIL FROM:<grüße@test>").unwrap(),
            Some(&with),
        )
        .unwrap();
        assert!(w[0].contains("add SMTPUTF8"), "{w:?}");
        assert_eq!(
            check_envelope(
                &Command::parse("MAIL FROM:<grüße@test>").unwrap(),
                Some(&without)
            ),
            Err(EnvelopeError::NeedsSmtputf8 {
                verb: "MAIL",
                column: 14,
                why: "in its last EHLO"
            })
        );
        assert!(matches!(
            check_envelope(&Command::parse("rcpt to:<é@test>").unwrap(), None),
            Err(EnvelopeError::NeedsSmtputf8 { verb: "RCPT", .. })
        ));
        // Other verbs are not envelope lines.
        assert_eq!(
            check_envelope(&Command::parse("VRFY grüße").unwrap(), Some(&without)),
            Ok(vec![])
        );
        assert_eq!(
            check_envelope(&Command::parse("MAIL FROM:<a@test>").unwrap(), None),
            Ok(vec![])
        );
    }

    #[test]
    fn dsn_parameters_are_checked_lightly() {
        let dsn = caps(&["DSN"]);
        let ok = [
            "MAIL FROM:<a@test> RET=FULL ENVID=abc+2B1",
            "MAIL FROM:<a@test> ret=hdrs",
            "RCPT TO:<b@test> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;b@test",
            "RCPT TO:<b@test> NOTIFY=never",
            "MAIL FROM:<> SIZE=10",
        ];
        for l in ok {
            assert_eq!(
                check_envelope(&Command::parse(l).unwrap(), Some(&dsn)),
                Ok(vec![]),
                "{l}"
            );
        }
        let warned = [
            ("MAIL FROM:<a@test> RET=ALL", "FULL or HDRS"),
            ("MAIL FROM:<a@test> ENVID=a=b", "xtext"),
            ("MAIL FROM:<a@test> ENVID=a+zz", "xtext"),
            ("RCPT TO:<b@test> NOTIFY=NEVER,SUCCESS", "NEVER"),
            ("RCPT TO:<b@test> NOTIFY=SOMETIMES", "NEVER"),
            ("RCPT TO:<b@test> ORCPT=b@test", "addr-type"),
            ("RCPT TO:<b@test> RET=FULL", "belongs on MAIL"),
            ("MAIL FROM:<a@test> NOTIFY=NEVER", "belongs on RCPT"),
        ];
        for (l, want) in warned {
            let w = check_envelope(&Command::parse(l).unwrap(), Some(&dsn)).unwrap();
            assert!(w.len() == 1 && w[0].contains(want), "{l}: {w:?}");
        }
        let w = check_envelope(
            &Command::parse("RCPT TO:<b@test> NOTIFY=NEVER").unwrap(),
            Some(&caps(&[])),
        )
        .unwrap();
        assert!(w[0].contains("did not advertise DSN"), "{w:?}");
    }

    #[test]
    fn size_limit() {
        assert_eq!(message_size(13, 1), 9);
        let c = caps(&["SIZE 100"]);
        assert_eq!(over_size_limit(100, Some(&c)), None);
        assert_eq!(over_size_limit(101, Some(&c)), Some(100));
        assert_eq!(over_size_limit(101, Some(&caps(&["SIZE 0"]))), None);
        assert_eq!(over_size_limit(101, Some(&caps(&["SIZE"]))), None);
        assert_eq!(over_size_limit(101, None), None);
    }
}
