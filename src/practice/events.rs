//! What happens on the practice server, as typed events for whoever watches it: the
//! teacher's live log of `--serve` and its `--json` form ([`crate::shell::teacher`]), tests.
//!
//! The server knows no terminal. Each connection reports what it did — connected, greeted,
//! each command with the code of its reply, TLS, AUTH, each message kept, trouble, closed —
//! through the [`EventSink`] the front end put in [`super::PracticeConfig::events`]. With
//! no sink nothing is made, so a server nobody watches pays nothing.
//!
//! Safety rule 5 holds here: an AUTH line's response is `<redacted>` before the event is
//! made, and what a client sends inside an AUTH exchange (the 334 responses) never becomes
//! an event. A command line that is nothing but base64 is not shown either: it is what a
//! client out of step with its AUTH exchange sends, a password among them.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

use crate::smtp::command::Verb;
use crate::smtp::escape::escape_str;

/// One thing that happened in one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// The session: 1 for the server's first connection, then counting up.
    pub session: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// When, as RFC 3339 in UTC in JSON (`2026-12-02T09:32:06.123Z`).
    #[serde(serialize_with = "rfc3339")]
    pub time: SystemTime,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened. In JSON, `event` names the variant (`connected`, `hello`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A client connected and was greeted with 220.
    Connected,
    /// EHLO or HELO was accepted.
    Hello {
        /// The name the client gave, as given (address literals included).
        name: String,
        /// EHLO (true) or HELO (false).
        esmtp: bool,
    },
    /// A command and the code of the reply that ended it (for AUTH, the reply after the
    /// exchange; for the end of a message, the reply to the data).
    Command {
        /// The line as received, escaped for display, secrets `<redacted>`. The end of a
        /// message's data is shown as `.`.
        line: String,
        /// The reply code.
        code: u16,
        /// The enhanced status code, if the reply had one.
        enhanced: Option<String>,
        /// The reply's first line of text (server text; it may quote the client, escaped).
        reply: String,
    },
    /// STARTTLS succeeded: the session is over TLS from here on.
    Tls,
    /// An AUTH exchange ended.
    Auth {
        /// The mechanism, upper-case.
        mechanism: String,
        /// Who logged in (only when it worked: a failed attempt names nobody).
        user: Option<String>,
        /// Whether it worked (235).
        ok: bool,
    },
    /// A message was accepted and kept.
    Message {
        /// The queue id of the `250 … queued as` reply.
        id: String,
        /// The sender (empty for `<>`).
        from: String,
        /// The recipients, in RCPT order.
        rcpts: Vec<String>,
        /// The `Subject:` header, escaped (empty when there is none).
        subject: String,
        /// Octets of the message as kept.
        size: usize,
    },
    /// Trouble that is not a reply to a command: a timeout, a failed TLS handshake, a
    /// connection that broke, a session ended for too many errors.
    Error {
        /// What went wrong, in words.
        what: String,
    },
    /// The connection ended.
    Closed {
        /// Why: `QUIT`, `client closed`, `timeout`, …
        reason: String,
    },
}

impl EventKind {
    /// Whether the event reports something that went wrong: a 4xx or 5xx reply, a failed
    /// AUTH, or an [`EventKind::Error`].
    pub fn is_error(&self) -> bool {
        match self {
            EventKind::Command { code, .. } => *code >= 400,
            EventKind::Auth { ok, .. } => !ok,
            EventKind::Error { .. } => true,
            _ => false,
        }
    }
}

/// Where events go: a function the front end gives, called on the connection's own thread.
/// It must be quick and never block for long (hand the event to a channel); events of one
/// session arrive in order, events of different sessions interleave.
#[derive(Clone)]
pub struct EventSink(Arc<dyn Fn(&Event) + Send + Sync>);

impl EventSink {
    /// A sink calling `f` with every event.
    pub fn new(f: impl Fn(&Event) + Send + Sync + 'static) -> EventSink {
        EventSink(Arc::new(f))
    }
}

impl fmt::Debug for EventSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventSink")
    }
}

/// The server's side of the events: session numbers, and the sink if there is one.
#[derive(Debug)]
pub(crate) struct Hub {
    sink: Option<EventSink>,
    next: AtomicU64,
}

impl Hub {
    pub fn new(sink: Option<EventSink>) -> Hub {
        Hub {
            sink,
            next: AtomicU64::new(1),
        }
    }

    /// A new session's log: its number, and where its events go.
    pub fn session(&self, peer: SocketAddr) -> SessionLog {
        SessionLog {
            id: self.next.fetch_add(1, Ordering::Relaxed),
            peer,
            sink: self.sink.clone(),
        }
    }
}

/// One session's way to report.
#[derive(Debug)]
pub(crate) struct SessionLog {
    id: u64,
    peer: SocketAddr,
    sink: Option<EventSink>,
}

impl SessionLog {
    /// The session's number (it also names its Maildir files).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Whether anyone listens: events are made only then.
    pub fn on(&self) -> bool {
        self.sink.is_some()
    }

    /// Report `kind`.
    pub fn emit(&self, kind: EventKind) {
        if let Some(sink) = &self.sink {
            (sink.0)(&Event {
                session: self.id,
                peer: self.peer,
                time: SystemTime::now(),
                kind,
            });
        }
    }
}

/// A command line as an event shows it: escaped, an AUTH initial response `<redacted>`, a
/// line of nothing but base64 not shown at all (see the module docs), and cut to a length
/// a log can hold. `verb` is the line's, as [`Verb::of_line`] found it.
pub(crate) fn shown_line(line: &[u8], verb: &Verb) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(line);
    let shown = if *verb == Verb::Auth {
        auth_shown(&text)
    } else if matches!(verb, Verb::Other(_)) && looks_like_base64(&text) {
        format!("<{} octets of base64, not shown>", text.len())
    } else {
        text.to_string()
    };
    let escaped = escape_str(&shown);
    match escaped.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", escaped.get(..cut).unwrap_or_default()),
        None => escaped,
    }
}

/// An AUTH line with all after its mechanism `<redacted>`, whatever separates the words
/// (the server refuses `AUTH<TAB>PLAIN secret` or `AUTH PLAIN<NUL>secret`, but the secret in
/// them is a secret all the same). The mechanism is shown only as RFC 4422 §3.1 spells one
/// (at most 20 characters), so the line is short and never cut in the middle of the marker.
fn auth_shown(text: &str) -> String {
    let is_separator = |c: char| matches!(c, ' ' | '\t' | ':');
    let verb_end = text.find(is_separator).unwrap_or(text.len());
    let (auth, after) = text.split_at(verb_end);
    let after = after.trim_start_matches(is_separator);
    let mechanism_end = after
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(after.len());
    let (mechanism, rest) = match after.split_at(mechanism_end) {
        (m, _) if m.len() > 20 => ("", after),
        split => split,
    };
    let hidden = !rest.trim_start_matches(is_separator).is_empty();
    match (mechanism.is_empty(), hidden) {
        (true, false) => auth.to_string(),
        (true, true) => format!("{auth} <redacted>"),
        (false, false) => format!("{auth} {mechanism}"),
        (false, true) => format!("{auth} {mechanism} <redacted>"),
    }
}

/// A line that could be a SASL response: base64 (RFC 4648 §4) of at least 4 characters,
/// or the `=` of an empty one.
fn looks_like_base64(line: &str) -> bool {
    let b = line.as_bytes();
    b == b"="
        || (b.len() >= 4
            && b.len().is_multiple_of(4)
            && b.iter()
                .all(|&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || c == b'=')
            && !b
                .iter()
                .rev()
                .skip_while(|&&c| c == b'=')
                .any(|&c| c == b'='))
}

/// [`rfc3339_text`], for serde.
fn rfc3339<S: Serializer>(when: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339_text(*when))
}

/// `2026-12-02T09:32:06.123Z` (RFC 3339 §5.6, UTC, to the millisecond).
pub fn rfc3339_text(when: SystemTime) -> String {
    let since = when.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = super::store::civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn lines_are_shown_without_secrets() {
        let cases: &[(&[u8], &str)] = &[
            (b"EHLO client.example", "EHLO client.example"),
            (
                b"AUTH PLAIN AGFsaWNlAGFsaWNlcGFzcw==",
                "AUTH PLAIN <redacted>",
            ),
            (b"auth login YWxpY2U=", "auth login <redacted>"),
            (b"AUTH LOGIN", "AUTH LOGIN"),
            (b"AUTH CRAM-MD5", "AUTH CRAM-MD5"),
            // The server refuses these (one space after AUTH), but the secret in them is
            // still a secret: whatever separates the words, it is not shown.
            (
                b"AUTH\tPLAIN AGFsaWNlAGFsaWNlcGFzcw==",
                "AUTH PLAIN <redacted>",
            ),
            (
                b"AUTH:PLAIN AGFsaWNlAGFsaWNlcGFzcw==",
                "AUTH PLAIN <redacted>",
            ),
            (
                b"auth  plain\tAGFsaWNlAGFsaWNlcGFzcw==",
                "auth plain <redacted>",
            ),
            (b"AUTH PLAIN ", "AUTH PLAIN"),
            (
                b"AUTH PLAIN\0AGFsaWNlAGFsaWNlcGFzcw==",
                "AUTH PLAIN <redacted>",
            ),
            (b"AUTH \x01secret", "AUTH <redacted>"),
            (b"AUTH", "AUTH"),
            // Not a mechanism: longer than RFC 4422's 20 characters.
            (b"AUTH PLAINAGFsaWNlAGFsaWNlcGFzcw", "AUTH <redacted>"),
            (b"AUTH ABCDEFGHIJKLMNOPQRST", "AUTH ABCDEFGHIJKLMNOPQRST"),
            // Out of step with an exchange: a response sent as a command.
            (b"YWxpY2VwYXNz", "<12 octets of base64, not shown>"),
            (b"=", "<1 octets of base64, not shown>"),
            (b"NOOP", "NOOP"),
            (b"QUIT", "QUIT"),
            (b"HELP", "HELP"),
            (b"XYZZY", "XYZZY"),
            (b"NOOP\x1b[2J", "NOOP\\x1b[2J"),
            (b"MAIL FROM:<\xff@x>", "MAIL FROM:<\u{fffd}@x>"),
        ];
        for (line, want) in cases {
            let verb = Verb::of_line(&String::from_utf8_lossy(line));
            assert_eq!(shown_line(line, &verb), *want, "{}", line.escape_ascii());
        }
        let long = shown_line("NOOP ".repeat(100).as_bytes(), &Verb::Noop);
        assert_eq!(long.chars().count(), 203, "{long}");
        assert!(long.ends_with("..."));
    }

    #[test]
    fn base64_lookalikes() {
        for yes in ["YWxp", "YWxpY2U=", "YQ==", "dXNlcg==", "="] {
            assert!(looks_like_base64(yes), "{yes}");
        }
        for no in ["QUIT", "YWx", "a=bc", "YW==xp", "", "NOOP x", "ab cd"] {
            // QUIT is base64 alphabet too, but a known verb never gets here.
            if no == "QUIT" {
                assert!(looks_like_base64(no));
                continue;
            }
            assert!(!looks_like_base64(no), "{no}");
        }
    }

    #[test]
    fn json_form() {
        let e = Event {
            session: 3,
            peer: "127.0.0.1:5000".parse().unwrap(),
            time: UNIX_EPOCH + Duration::from_millis(1_136_214_245_007),
            kind: EventKind::Command {
                line: "RCPT TO:<no-such@x>".into(),
                code: 550,
                enhanced: Some("5.1.1".into()),
                reply: "<no-such@x>: no such user here".into(),
            },
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"session":3,"peer":"127.0.0.1:5000","time":"2006-01-02T15:04:05.007Z","event":"command","line":"RCPT TO:<no-such@x>","code":550,"enhanced":"5.1.1","reply":"<no-such@x>: no such user here"}"#
        );
        let e = Event {
            kind: EventKind::Connected,
            ..e
        };
        assert!(
            serde_json::to_string(&e)
                .unwrap()
                .ends_with(r#""event":"connected"}"#)
        );
    }

    #[test]
    fn errors_are_told() {
        let cmd = |code| EventKind::Command {
            line: String::new(),
            code,
            enhanced: None,
            reply: String::new(),
        };
        assert!(!cmd(250).is_error());
        assert!(!cmd(354).is_error());
        assert!(cmd(451).is_error());
        assert!(cmd(550).is_error());
        assert!(
            EventKind::Error {
                what: String::new()
            }
            .is_error()
        );
        assert!(!EventKind::Tls.is_error());
    }
}
