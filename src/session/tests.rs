//! Unit tests of the session's logic, with no socket: the session talks to a scripted server
//! over an in-memory stream ([`crate::net::memory`]), and each test checks the exact bytes
//! the server received and the mode the session is left in.

use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::*;
use crate::net::memory;
use crate::net::sock::{Peer, Sock};
use crate::transcript::Style;

/// What a test's terminal would have shown: the transcript, rendered plain.
#[derive(Clone, Default)]
struct Screen(Arc<Mutex<Vec<u8>>>);

impl Write for Screen {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Screen {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Nobody at the keyboard: user "alice", password "s3cret", and "no" to every question.
struct Nobody;

impl Ask for Nobody {
    fn user(&mut self, default: Option<&str>) -> Result<String, Error> {
        Ok(default.unwrap_or("alice").to_string())
    }
    fn password(&mut self, _: &str) -> Result<Secret, Error> {
        Ok(Secret::new("s3cret"))
    }
    fn confirm(&mut self, _: &str) -> Result<Option<bool>, Error> {
        Ok(Some(false))
    }
}

fn config() -> Config {
    Config {
        ehlo_name: "client.test".into(),
        timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
        ..Config::default()
    }
}

fn new_session(config: Config) -> (Session, Screen) {
    let screen = Screen::default();
    let style = Style {
        color: false,
        echo_body: true,
        json: false,
        wire: false,
    };
    let s = Session::new(
        config,
        Transcript::new(style, Box::new(screen.clone())),
        Box::new(Nobody),
        Cancel::new(),
    );
    (s, screen)
}

pub(crate) fn offline() -> Session {
    new_session(config()).0
}

/// A scripted server on the other end of an in-memory stream: it sends the greeting, then
/// for each step reads one line (checking its start) and sends the reply. `None` as the
/// reply reads the line and sends nothing; a reply starting with `LATE ` is sent after a
/// pause (a slow server). When the steps run out it reads until the
/// session closes the stream, and returns every byte it received.
fn server(steps: &[(&str, Option<&str>)]) -> (memory::End, JoinHandle<Vec<u8>>) {
    let (client, mut theirs) = memory::pair();
    let steps: Vec<(String, Option<String>)> = steps
        .iter()
        .map(|(e, r)| (e.to_string(), r.map(str::to_string)))
        .collect();
    let handle = std::thread::spawn(move || {
        let mut got = Vec::new();
        theirs.write_all(b"220 mem.test ESMTP\r\n").unwrap();
        let mut reader = BufReader::new(theirs.clone());
        for (expect, reply) in steps {
            let mut line = Vec::new();
            if reader.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
                break;
            }
            got.extend_from_slice(&line);
            assert!(
                line.starts_with(expect.as_bytes()),
                "expected {expect:?}, got {:?}",
                String::from_utf8_lossy(&line)
            );
            if let Some(r) = reply {
                let r = match r.strip_prefix("LATE ") {
                    Some(late) => {
                        std::thread::sleep(Duration::from_millis(300));
                        late.to_string()
                    }
                    None => r,
                };
                theirs.write_all(r.as_bytes()).unwrap();
            }
        }
        let mut rest = Vec::new();
        let _ = std::io::Read::read_to_end(&mut reader, &mut rest);
        got.extend_from_slice(&rest);
        got
    });
    (client, handle)
}

fn connected(session: &mut Session, end: memory::End) -> Reply {
    let target = Target::parse("mem.test:25", None, false).unwrap();
    let conn = Connection::over(Sock::Memory(end), Peer::Memory("test".into()));
    session.connect_over(conn, &target).unwrap()
}

fn cmd(line: &str) -> Command {
    Command::parse(line).unwrap()
}

#[test]
fn unconnected_sessions_refuse_steps_without_panic() {
    let mut s = offline();
    assert_eq!(s.input(), Input::Command);
    assert!(!s.is_connected());
    assert!(matches!(
        s.command(&Command::bare(Verb::Noop)),
        Err(Error::NotConnected)
    ));
    assert!(matches!(s.end_body(), Err(Error::NotConnected)));
    assert!(matches!(s.body_line(b"x", true), Err(Error::NotConnected)));
    assert!(matches!(s.chunk_line(b"x"), Err(Error::NotConnected)));
    assert!(matches!(
        s.auth_response(&Secret::new("x")),
        Err(Error::NotConnected)
    ));
    s.end("nothing to end");
    assert_eq!(s.state().stage, Stage::Idle);
}

/// One mode at a time: DATA's 354 makes the next lines the body; a command is refused
/// there; the lone end goes back to commands; the body went dot-stuffed and CRLF-canonical.
#[test]
fn a_message_moves_through_the_modes() {
    let (end, srv) = server(&[
        (
            "EHLO client.test",
            Some("250-mem.test\r\n250 PIPELINING\r\n"),
        ),
        ("MAIL FROM:<a@test>", Some("250 ok\r\n")),
        ("RCPT TO:<b@test>", Some("250 ok\r\n")),
        ("DATA", Some("354 go\r\n")),
        ("Subject: x", None),
        ("\r\n", None),
        ("..dot", None),
        (".\r\n", Some("250 queued\r\n")),
        ("QUIT", Some("221 bye\r\n")),
    ]);
    let (mut s, screen) = new_session(config());
    connected(&mut s, end);
    s.command(&cmd("EHLO")).unwrap();
    assert!(s.caps().is_some_and(|c| c.has("PIPELINING")));
    s.command(&cmd("MAIL FROM:<a@test>")).unwrap();
    assert_eq!(s.state().stage, Stage::Mail);
    s.command(&cmd("RCPT TO:<b@test>")).unwrap();
    assert_eq!(s.state().stage, Stage::Rcpt(1));
    s.command(&cmd("DATA")).unwrap();
    assert_eq!(s.input(), Input::Body { lines: 0 });
    assert_eq!(s.state().stage, Stage::Data);
    assert!(matches!(s.command(&cmd("QUIT")), Err(Error::Mode(_))));
    s.body_line(b"Subject: x", false).unwrap();
    s.body_line(b"", false).unwrap();
    s.body_line(b".dot", false).unwrap();
    assert_eq!(s.input(), Input::Body { lines: 3 });
    let r = s.end_body().unwrap();
    assert_eq!(r.code.value(), 250);
    assert_eq!(s.input(), Input::Command);
    assert_eq!(s.state().stage, Stage::Idle);
    s.quit();
    assert!(!s.is_connected());
    let got = srv.join().unwrap();
    assert_eq!(
        String::from_utf8(got).unwrap(),
        "EHLO client.test\r\nMAIL FROM:<a@test>\r\nRCPT TO:<b@test>\r\nDATA\r\nSubject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n"
    );
    assert!(screen.text().contains("* connection closed: QUIT"));
}

/// Leaving in the middle of a body: QUIT would be a line of the message, so the stream is
/// closed without the end of data, and the transcript says the message was not delivered.
#[test]
fn leaving_in_a_body_closes_without_quit() {
    let (end, srv) = server(&[("DATA", Some("354 go\r\n")), ("half", None)]);
    let (mut s, screen) = new_session(config());
    connected(&mut s, end);
    s.command(&cmd("DATA")).unwrap();
    s.body_line(b"half", true).unwrap();
    s.end("the script failed");
    assert!(!s.is_connected());
    let got = String::from_utf8(srv.join().unwrap()).unwrap();
    assert_eq!(got, "DATA\r\nhalf\r\n", "no QUIT, no end of data");
    assert!(
        screen.text().contains("the message was not delivered"),
        "{}",
        screen.text()
    );
}

/// Safety rule 9: leaving from command mode sends QUIT and waits for the 221.
#[test]
fn leaving_sends_quit() {
    let (end, srv) = server(&[("NOOP", Some("250 ok\r\n")), ("QUIT", Some("221 bye\r\n"))]);
    let (mut s, _) = new_session(config());
    connected(&mut s, end);
    s.command(&cmd("NOOP")).unwrap();
    s.end("end of the script");
    assert_eq!(
        String::from_utf8(srv.join().unwrap()).unwrap(),
        "NOOP\r\nQUIT\r\n"
    );
}

/// An AUTH typed by hand: a 334 makes the next line a secret response; it goes as typed,
/// is shown redacted, and a 235 leaves the session authenticated by hand.
#[test]
fn an_auth_typed_by_hand_takes_its_response_as_a_secret() {
    let (end, srv) = server(&[
        ("AUTH LOGIN YWxpY2U=", Some("334 UGFzc3dvcmQ6\r\n")),
        ("czNjcmV0", Some("235 ok\r\n")),
        ("QUIT", Some("221 bye\r\n")),
    ]);
    let (mut s, screen) = new_session(config());
    connected(&mut s, end);
    s.command(&cmd("AUTH LOGIN YWxpY2U=")).unwrap();
    assert_eq!(s.input(), Input::AuthResponse);
    assert!(matches!(s.command(&cmd("NOOP")), Err(Error::Mode(_))));
    s.auth_response(&Secret::new("czNjcmV0")).unwrap();
    assert_eq!(s.input(), Input::Command);
    assert!(s.state().auth_by_hand);
    assert_eq!(s.state().user, None);
    s.quit();
    srv.join().unwrap();
    let shown = screen.text();
    assert!(shown.contains("C: AUTH LOGIN <redacted>"), "{shown}");
    assert!(shown.contains("C: <redacted>"), "{shown}");
    assert!(
        !shown.contains("YWxpY2U=") && !shown.contains("czNjcmV0"),
        "{shown}"
    );
}

/// Safety rule 8: `:auth` sends nothing where AUTH was not offered, nor over a connection
/// without TLS when the user says no.
#[test]
fn auth_sends_nothing_where_it_does_not_belong() {
    let (end, srv) = server(&[
        ("EHLO", Some("250-mem.test\r\n250 AUTH PLAIN\r\n")),
        ("QUIT", Some("221 bye\r\n")),
    ]);
    let (mut s, _) = new_session(config());
    connected(&mut s, end);
    // No EHLO yet: nothing is known.
    assert!(matches!(
        s.auth(
            crate::smtp::auth::Mechanism::Plain,
            Some("alice"),
            true,
            false
        ),
        Err(Error::AuthRefused(_))
    ));
    s.command(&cmd("EHLO")).unwrap();
    assert!(matches!(
        s.auth(crate::smtp::auth::Mechanism::CramMd5, Some("alice"), false, false),
        Err(Error::AuthRefused(m)) if m.contains("offers AUTH PLAIN, not CRAM-MD5")
    ));
    // Offered, but no TLS, and Nobody says no.
    assert!(matches!(
        s.auth(
            crate::smtp::auth::Mechanism::Plain,
            Some("alice"),
            true,
            false
        ),
        Err(Error::Cancelled)
    ));
    s.quit();
    let got = String::from_utf8(srv.join().unwrap()).unwrap();
    assert_eq!(got, "EHLO client.test\r\nQUIT\r\n");
}

/// Ctrl-C during a wait: the wait ends, the reply is owed, and it is read (and shown as
/// late) before the next command, so replies stay in step.
#[test]
fn a_cancelled_wait_leaves_the_reply_owed() {
    let (end, srv) = server(&[
        ("NOOP", Some("LATE 250 late noop\r\n")),
        ("RSET", Some("250 reset\r\n")),
        ("QUIT", Some("221 bye\r\n")),
    ]);
    let (mut s, screen) = new_session(config());
    connected(&mut s, end);
    s.cancel().raise();
    assert!(matches!(s.command(&cmd("NOOP")), Err(Error::Cancelled)));
    assert!(s.is_connected(), "a cancelled wait keeps the connection");
    assert!(
        !s.cancel().requested(),
        "the flag is lowered once the wait ended"
    );
    // Let the late reply arrive.
    std::thread::sleep(Duration::from_millis(500));
    let r = s.command(&cmd("RSET")).unwrap().unwrap();
    assert_eq!(r.lines, [b"reset".to_vec()], "RSET got its own reply");
    s.quit();
    srv.join().unwrap();
    let shown = screen.text();
    assert!(
        shown.contains("* a late reply to a cancelled wait:\nS: 250 late noop"),
        "{shown}"
    );
}

/// A 421 is the server leaving (RFC 5321 §3.8): the session lets the connection go.
#[test]
fn a_421_ends_the_connection() {
    let (end, srv) = server(&[("NOOP", Some("421 4.3.2 going down\r\n"))]);
    let (mut s, _) = new_session(config());
    connected(&mut s, end);
    let r = s.command(&cmd("NOOP")).unwrap().unwrap();
    assert_eq!(r.code.value(), 421);
    assert!(!s.is_connected());
    assert_eq!(String::from_utf8(srv.join().unwrap()).unwrap(), "NOOP\r\n");
}

/// A typed BDAT: its data lines count octets with their CRLF and are never stuffed; the
/// reply comes when the chunk is complete.
#[test]
fn a_typed_bdat_counts_its_octets() {
    let (end, srv) = server(&[
        ("EHLO", Some("250-mem.test\r\n250 CHUNKING\r\n")),
        ("BDAT 8 LAST", None),
        (".x", None),
        ("ab", Some("250 queued\r\n")),
        ("QUIT", Some("221 bye\r\n")),
    ]);
    let (mut s, _) = new_session(config());
    connected(&mut s, end);
    s.command(&cmd("EHLO")).unwrap();
    assert_eq!(s.command(&cmd("BDAT 8 LAST")).unwrap(), None);
    assert_eq!(s.input(), Input::Chunk { left: 8 });
    assert!(matches!(s.chunk_line(b"toolongline"), Err(Error::Mode(_))));
    assert_eq!(s.chunk_line(b".x").unwrap(), None);
    assert_eq!(s.input(), Input::Chunk { left: 4 });
    let r = s.chunk_line(b"ab").unwrap().unwrap();
    assert_eq!(r.code.value(), 250);
    assert_eq!(s.input(), Input::Command);
    s.quit();
    let got = String::from_utf8(srv.join().unwrap()).unwrap();
    assert_eq!(
        got,
        "EHLO client.test\r\nBDAT 8 LAST\r\n.x\r\nab\r\nQUIT\r\n"
    );
}
