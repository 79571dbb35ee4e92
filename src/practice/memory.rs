//! The practice server without a network: sessions over bytes in memory, one at a time.
//!
//! A session runs the same connection code as a TCP client gets (the in-memory client is
//! one more kind of stream under it), so unit tests, property tests and the fuzz target see
//! the exact bytes a client would, with no socket, thread or timeout. There is no TLS in
//! memory: STARTTLS's `220` is a session's last reply.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::PracticeConfig;
use super::conn::{self, Shared};
use super::server;
use super::store::Message;
use crate::error::Error;

/// Where an in-memory client seems to connect from (it shows in the EHLO reply).
pub const MEMORY_PEER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// A practice server whose sessions run over bytes in memory (tests and fuzzing).
///
/// ```
/// use smtpsh::practice::{MemoryServer, PracticeConfig};
///
/// let mut server = MemoryServer::new(PracticeConfig::default())?;
/// let session = server.session(b"NOOP\r\nQUIT\r\n", 0);
/// assert!(session.output.ends_with(b"250 2.0.0 Ok\r\n221 2.0.0 practice.smtpsh.test closing connection, bye\r\n"));
/// # Ok::<(), smtpsh::error::Error>(())
/// ```
pub struct MemoryServer {
    shared: Shared,
}

impl std::fmt::Debug for MemoryServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryServer")
            .field("hostname", &self.shared.hostname)
            .finish_non_exhaustive()
    }
}

/// What one in-memory session produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemorySession {
    /// Every byte the server wrote, greeting first.
    pub output: Vec<u8>,
    /// The messages it accepted, in order.
    pub messages: Vec<Message>,
}

impl MemoryServer {
    /// A server as [`super::PracticeServer::start`] would run it with `config` (whose
    /// `addr` is not used), its certificate made for `127.0.0.1`.
    pub fn new(config: PracticeConfig) -> Result<MemoryServer, Error> {
        let maildir = server::open(&config)?;
        let reach = super::Reach {
            addrs: vec![MEMORY_PEER.ip()],
            ..super::Reach::default()
        };
        let prepared = server::prepare(config, maildir, &reach)?;
        Ok(MemoryServer {
            shared: prepared.shared,
        })
    }

    /// Run one session: a client at [`MEMORY_PEER`] sends `input`, handed over at most
    /// `read_size` octets a read (0: all that fits the server's buffer), then closes its
    /// side. The server answers until QUIT, an error that ends the session, or the end of
    /// the input.
    pub fn session(&mut self, input: &[u8], read_size: usize) -> MemorySession {
        let output = conn::serve_memory(&self.shared, input, read_size, MEMORY_PEER);
        MemorySession {
            output,
            messages: self.shared.mailbox.take_all(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> MemoryServer {
        MemoryServer::new(PracticeConfig::default()).unwrap()
    }

    /// The output with the time-based queue id masked.
    fn masked(output: &[u8]) -> String {
        let text = String::from_utf8(output.to_vec()).unwrap();
        match text.split_once("queued as ") {
            Some((before, after)) => {
                let id_end = after.find('\r').unwrap_or(after.len());
                let rest = after.get(id_end..).unwrap_or_default();
                format!("{before}queued as ID{rest}")
            }
            None => text,
        }
    }

    const GREETING: &str = "220 practice.smtpsh.test ESMTP smtpsh practice server\r\n";
    const EHLO_REPLY: &str = "250-practice.smtpsh.test Hello client.example [127.0.0.1]\r\n\
        250-PIPELINING\r\n250-SIZE 10485760\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n\
        250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n250 HELP\r\n";
    const BYE: &str = "221 2.0.0 practice.smtpsh.test closing connection, bye\r\n";

    #[test]
    fn a_whole_session_whatever_the_read_size() {
        let input = b"EHLO client.example\r\nMAIL FROM:<a@example.org>\r\n\
            RCPT TO:<b@example.org>\r\nDATA\r\nSubject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n";
        let want = format!(
            "{GREETING}{EHLO_REPLY}250 2.1.0 sender <a@example.org> ok\r\n\
             250 2.1.5 recipient <b@example.org> ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n\
             250 2.0.0 Ok: queued as ID\r\n{BYE}"
        );
        let mut server = server();
        for read_size in [0, 1, 2, 3, 7, 64] {
            let session = server.session(input, read_size);
            assert_eq!(masked(&session.output), want, "read size {read_size}");
            assert_eq!(session.messages.len(), 1, "read size {read_size}");
            let m = &session.messages[0];
            assert_eq!(m.data, b"Subject: x\r\n\r\n.dot\r\n");
            assert_eq!(
                (m.from.as_str(), &m.rcpts[..]),
                ("a@example.org", &["b@example.org".to_string()][..])
            );
        }
    }

    // The practice server's own `MAIL FROé` panic, with the `é` split across reads too.
    // See: issue 12
    #[test]
    fn regression_mail_fro_e_acute_in_memory() {
        let mut server = server();
        for read_size in [0, 1, 11] {
            let session = server.session(
                "EHLO client.example\r\nMAIL FROé\r\nQUIT\r\n".as_bytes(),
                read_size,
            );
            assert_eq!(
                masked(&session.output),
                format!(
                    "{GREETING}{EHLO_REPLY}501 5.5.4 Syntax: FROM:<address> with no space after the colon; \
                     syntax: MAIL FROM:<sender@example.org> [SIZE=<octets>] [BODY=7BIT|8BITMIME] [SMTPUTF8]\r\n{BYE}"
                )
            );
        }
    }

    // Non-ASCII where each command's grammar expects ASCII: a reply, and the session goes on.
    // See: issue 12
    #[test]
    fn non_ascii_anywhere_gets_a_reply_and_the_session_goes_on() {
        let mut server = server();
        for line in [
            "EHLO añ.example",
            "HELO ö",
            "MAIL FROé",
            "MAIL FROM:<ö@example.org>",
            "MAIL FROM:<a@example.org> SIZEé=1",
            "RCPT TOé",
            "VRFY ö",
            "VRFY <ö@practice.smtpsh.test>",
            "EXPN ö",
            "HELP é",
            "HELP",
            "AUTH é",
            "AUTH PLAIN é",
            "NOOP é",
            "é",
            "éHLO x",
            "DATA é",
            "RSET ö",
        ] {
            let input = format!("EHLO client.example\r\n{line}\r\nRSET\r\nQUIT\r\n");
            let session = server.session(input.as_bytes(), 0);
            let text = masked(&session.output);
            assert!(
                text.ends_with(&format!("250 2.0.0 Ok: transaction reset\r\n{BYE}")),
                "{line}: {text}"
            );
        }
    }

    // Found by fuzzing: client text echoed in a reply made reply lines of any length, over
    // the 512 octets of RFC 5321 §4.5.3.1.5 (a 1,000-octet parameter name came back whole).
    // See: issue 12
    #[test]
    fn regression_echoed_client_text_keeps_reply_lines_within_512_octets() {
        let long = "x".repeat(1000);
        let mut server = server();
        let input = format!(
            "EHLO [tag:{long}]\r\nEHLO client.example\r\nMAIL FROM:<a@b.example> S{long}\r\n\
             MAIL FROM:<{long}.@b.example>\r\nMAIL FROM:<a@b.example> {long}=\r\nQUIT\r\n"
        );
        let session = server.session(input.as_bytes(), 0);
        let text = masked(&session.output);
        for line in text.split_terminator("\r\n") {
            assert!(line.len() + 2 <= 512, "{} octets: {line}", line.len() + 2);
        }
        let x64 = "x".repeat(63);
        assert!(
            text.contains(&format!(
                "\r\n555 5.5.4 parameter S{x64}... is not supported (this server knows SIZE, BODY and SMTPUTF8)\r\n"
            )),
            "{text}"
        );
        assert!(
            text.contains("\r\n250-practice.smtpsh.test Hello [tag:xxx"),
            "{text}"
        );
        assert!(text.ends_with(BYE), "{text}");
    }

    #[test]
    fn starttls_ends_a_memory_session_after_its_220() {
        let mut server = server();
        let session = server.session(b"EHLO client.example\r\nSTARTTLS\r\nNOOP\r\n", 0);
        assert_eq!(
            masked(&session.output),
            format!("{GREETING}{EHLO_REPLY}220 2.0.0 Ready to start TLS\r\n")
        );
    }

    #[test]
    fn each_session_gets_its_own_messages() {
        let mut server = server();
        let input = b"HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nhi\r\n.\r\n";
        assert_eq!(server.session(input, 0).messages.len(), 1);
        assert_eq!(server.session(input, 0).messages.len(), 1);
        assert!(server.session(b"QUIT\r\n", 0).messages.is_empty());
    }

    /// A server whose events are collected.
    fn watched() -> (
        MemoryServer,
        std::sync::Arc<std::sync::Mutex<Vec<crate::practice::Event>>>,
    ) {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = {
            let seen = seen.clone();
            crate::practice::EventSink::new(move |e| seen.lock().unwrap().push(e.clone()))
        };
        let server = MemoryServer::new(PracticeConfig {
            events: Some(sink),
            ..PracticeConfig::default()
        })
        .unwrap();
        (server, seen)
    }

    /// The events as `kind: detail` lines, the way a test reads them.
    fn described(events: &[crate::practice::Event]) -> Vec<String> {
        use crate::practice::EventKind as K;
        events
            .iter()
            .map(|e| match &e.kind {
                K::Connected => "connected".to_string(),
                K::Hello { name, esmtp } => format!("hello {name} {esmtp}"),
                K::Command {
                    line,
                    code,
                    enhanced,
                    ..
                } => format!(
                    "command {line} -> {code} {}",
                    enhanced.as_deref().unwrap_or("-")
                ),
                K::Tls => "tls".to_string(),
                K::Auth {
                    mechanism,
                    user,
                    ok,
                } => format!("auth {mechanism} {user:?} {ok}"),
                K::Message {
                    from,
                    rcpts,
                    subject,
                    size,
                    ..
                } => format!("message {from} {rcpts:?} {subject:?} {size}"),
                K::Error { what } => format!("error {what}"),
                K::Closed { reason } => format!("closed {reason}"),
            })
            .collect()
    }

    #[test]
    fn a_session_as_events() {
        let (mut server, seen) = watched();
        let input = b"EHLO client.example\r\nAUTH PLAIN AGFsaWNlAGFsaWNlcGFzcw==\r\n\
            MAIL FROM:<a@example.org>\r\nRCPT TO:<no-such@example.org>\r\nRCPT TO:<b@example.org>\r\n\
            DATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\nYWxpY2VwYXNz\r\nQUIT\r\n";
        for read_size in [0, 1] {
            seen.lock().unwrap().clear();
            server.session(input, read_size);
            let events = seen.lock().unwrap().clone();
            assert_eq!(
                described(&events),
                [
                    "connected",
                    "hello client.example true",
                    "command EHLO client.example -> 250 -",
                    "command AUTH PLAIN <redacted> -> 235 2.7.0",
                    "auth PLAIN Some(\"alice\") true",
                    "command MAIL FROM:<a@example.org> -> 250 2.1.0",
                    "command RCPT TO:<no-such@example.org> -> 550 5.1.1",
                    "command RCPT TO:<b@example.org> -> 250 2.1.5",
                    "command DATA -> 354 -",
                    "command . -> 250 2.0.0",
                    "message a@example.org [\"b@example.org\"] \"hi\" 21",
                    "command <12 octets of base64, not shown> -> 500 5.5.2",
                    "command QUIT -> 221 2.0.0",
                    "closed QUIT",
                ],
                "read size {read_size}"
            );
            let session = events[0].session;
            assert!(
                events
                    .iter()
                    .all(|e| e.session == session && e.peer == MEMORY_PEER)
            );
        }
    }

    // Safety rule 5: what a client sends in an AUTH exchange never becomes an event.
    #[test]
    fn auth_responses_never_reach_an_event() {
        let (mut server, seen) = watched();
        // LOGIN with the user as initial response, then the password; a failed PLAIN;
        // CRAM-MD5 cancelled.
        let input = b"EHLO c.example\r\nAUTH PLAIN AGFsaWNlAHdyb25n\r\nAUTH LOGIN YWxpY2U=\r\n\
            YWxpY2VwYXNz\r\nAUTH LOGIN\r\nQUIT\r\n";
        server.session(input, 0);
        let events = seen.lock().unwrap().clone();
        let json: Vec<String> = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        let all = json.join("\n");
        for secret in [
            "alicepass",
            "YWxpY2VwYXNz",
            "AGFsaWNlAHdyb25n",
            "YWxpY2U=",
            "wrong",
        ] {
            assert!(!all.contains(secret), "{secret} in:\n{all}");
        }
        let d = described(&events);
        assert!(
            d.contains(&"command AUTH PLAIN <redacted> -> 535 5.7.8".to_string()),
            "{d:?}"
        );
        assert!(d.contains(&"auth PLAIN None false".to_string()), "{d:?}");
        assert!(
            d.contains(&"auth LOGIN Some(\"alice\") true".to_string()),
            "{d:?}"
        );
        // A second AUTH after success: 503, no AUTH event.
        assert!(
            d.contains(&"command AUTH LOGIN -> 503 5.5.1".to_string()),
            "{d:?}"
        );
    }

    #[test]
    fn sessions_are_numbered_and_trouble_is_reported() {
        let (mut server, seen) = watched();
        server.session(b"NOOP\r\n", 0);
        server.session(b"EHLO c.example\r\nSTARTTLS\r\n", 0);
        let events = seen.lock().unwrap().clone();
        let first = events[0].session;
        let last = events.last().unwrap();
        assert_eq!(last.session, first + 1);
        let d = described(&events);
        assert_eq!(
            d[d.len() - 3..],
            [
                "command STARTTLS -> 220 2.0.0",
                "error the TLS handshake after STARTTLS failed",
                "closed TLS handshake failed",
            ]
        );
        assert!(d.contains(&"closed client closed".to_string()), "{d:?}");
    }

    #[test]
    fn too_many_errors_end_the_session_with_an_error_event() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = {
            let seen = seen.clone();
            crate::practice::EventSink::new(move |e| seen.lock().unwrap().push(e.clone()))
        };
        let mut server = MemoryServer::new(PracticeConfig {
            events: Some(sink),
            limits: crate::practice::Limits {
                max_errors: 2,
                ..crate::practice::Limits::default()
            },
            ..PracticeConfig::default()
        })
        .unwrap();
        server.session(b"XYZZY\r\nXYZZY\r\nNOOP\r\n", 0);
        let d = described(&seen.lock().unwrap());
        assert_eq!(
            d[1..],
            [
                "command XYZZY -> 500 5.5.2",
                "command XYZZY -> 500 5.5.2",
                "error 421 4.7.0 practice.smtpsh.test too many errors (2); closing the connection",
                "closed closed by the server (practice.smtpsh.test too many errors (2); closing the connection)",
            ]
        );
    }

    #[test]
    fn no_sink_no_events_and_nothing_kept_for_them() {
        let mut server = server();
        let session = server.session(
            b"EHLO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<b@x.example>\r\nDATA\r\nx\r\n.\r\n",
            0,
        );
        assert_eq!(session.messages.len(), 1);
        assert!(session.messages[0].session >= 1);
    }
}
