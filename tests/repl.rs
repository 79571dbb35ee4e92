//! The interactive shell in a real pseudo-terminal, typed the way a person types: each line
//! waits for the prompt first. Servers are the scripted fakes of `common`.

// Pseudo-terminals (rexpect) and the shells the README runs are Unix things.
#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::pty::Pty;
use common::*;

const PASSWORD: &str = "s3cretPassw0rd";

/// smtpsh with `args` in a fresh pseudo-terminal; a wait gives up after 15 s.
fn spawn(args: &[&str], home: &Path) -> Pty {
    Pty::smtpsh(args, home, 15_000)
}

fn home() -> PathBuf {
    tempfile::Builder::new()
        .prefix("pty-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep()
}

fn prompt(server: &FakeServer) -> String {
    format!("{}> ", server.target())
}

fn auth_server(mech: &str, caps: &str) -> FakeServer {
    let challenges: Vec<String> = match mech {
        "PLAIN" => vec![String::new()],
        "LOGIN" => vec![b64("Username:"), b64("Password:")],
        _ => vec![b64("<1896.697170952@postoffice.reston.mci.net>")],
    };
    FakeServer::start(vec![
        send(GREETING),
        expect("EHLO"),
        send(ehlo_reply(&[caps])),
        Step::Auth {
            mech: mech.into(),
            challenges,
            success: "235 2.7.0 Authentication successful\r\n".into(),
        },
        expect("QUIT"),
        send("221 2.0.0 bye\r\n"),
    ])
}

/// Every place a secret could leak for one mechanism: the terminal (the password must not
/// even echo), the history file, and the transcripts `:save` writes.
fn secrets_stay_secret(mech: &str) {
    let server = auth_server(mech, "AUTH PLAIN LOGIN CRAM-MD5");
    let home = home();
    let history = home.join("history");
    let p = prompt(&server);
    // The fake server has no TLS: --plaintext-auth lets the credentials go in the clear.
    let mut t = spawn(
        &[
            "--history",
            history.to_str().unwrap(),
            "--plaintext-auth",
            &server.target(),
        ],
        &home,
    );
    t.expect(&p);
    t.line("EHLO client.test");
    // The prompt is redrawn with every key typed: wait for the reply first, so the next
    // line is typed at the new prompt, not ahead of it (typed-ahead input is dropped).
    t.expect("* capabilities");
    t.expect(&p);
    t.line(&format!("AUTH {mech}"));
    t.expect("user (* cancels): ");
    t.line("alice");
    t.expect("password for alice (no echo, * cancels): ");
    t.line(PASSWORD);
    t.expect("235");
    t.expect(&format!("alice@{p}"));
    let md = home.join("t.md");
    let jsonl = home.join("t.jsonl");
    let txt = home.join("t.txt");
    for f in [&md, &jsonl, &txt] {
        t.line(&format!(":save {}", f.display()));
        t.expect("secrets redacted");
    }
    t.ctrl('d');
    t.eof();
    let got = server.finish();
    got.assert_ok();

    let response = got
        .auth_responses
        .last()
        .cloned()
        .expect("a response reached the server");
    let mut secrets = vec![PASSWORD.to_string(), b64(PASSWORD), response.clone()];
    if mech == "PLAIN" {
        assert_eq!(
            unb64(&response),
            b"\0alice\0s3cretPassw0rd",
            "the PLAIN response on the wire"
        );
        secrets.push(b64("\0alice\0s3cretPassw0rd"));
    }
    if mech == "CRAM-MD5" {
        let want = cram_md5_response(
            "alice",
            PASSWORD,
            b"<1896.697170952@postoffice.reston.mci.net>",
        );
        assert_eq!(
            String::from_utf8(unb64(&response)).unwrap(),
            want,
            "the CRAM-MD5 response on the wire"
        );
    }
    let hist = std::fs::read_to_string(&history).expect("the history file was written");
    assert!(
        hist.contains("EHLO client.test"),
        "history keeps ordinary commands:\n{hist}"
    );
    let saved: Vec<(String, String)> = [&md, &jsonl, &txt]
        .iter()
        .map(|f| (f.display().to_string(), std::fs::read_to_string(f).unwrap()))
        .collect();
    assert!(
        saved[0].1.contains("<redacted>"),
        "the saved transcript marks the redaction:\n{}",
        saved[0].1
    );
    for s in &secrets {
        assert!(
            !t.seen.contains(s.as_str()),
            "the terminal showed a secret {s:?}:\n{}",
            t.seen
        );
        assert!(
            !hist.contains(s.as_str()),
            "the history file holds a secret {s:?}:\n{hist}"
        );
        for (name, text) in &saved {
            assert!(
                !text.contains(s.as_str()),
                "{name} holds a secret {s:?}:\n{text}"
            );
        }
    }
}

#[test]
fn auth_plain_secret_never_shown_or_kept() {
    secrets_stay_secret("PLAIN");
}

#[test]
fn auth_login_secret_never_shown_or_kept() {
    secrets_stay_secret("LOGIN");
}

#[test]
fn auth_cram_md5_secret_never_shown_or_kept() {
    secrets_stay_secret("CRAM-MD5");
}

#[test]
fn tab_completes_verbs_and_only_advertised_mechanisms() {
    let server = FakeServer::start(vec![
        send(GREETING),
        expect("EHLO"),
        send(ehlo_reply(&["AUTH PLAIN CRAM-MD5", "PIPELINING"])),
        expect("QUIT"),
        send("221 bye\r\n"),
    ]);
    let home = home();
    let p = prompt(&server);
    let mut t = spawn(&["--no-history", &server.target()], &home);
    t.expect(&p);
    t.keys("EH\t");
    t.expect("EHLO ");
    t.keys("\r");
    t.expect("250 fake.test");
    t.expect(&p);
    let before = t.seen.len();
    t.keys("AUTH \t\t");
    // List completion shows the advertised mechanisms, and only those.
    t.expect("CRAM-MD5");
    std::thread::sleep(Duration::from_millis(300));
    while let Some(c) = t.s.try_read() {
        t.seen.push(c);
    }
    let listing = &t.seen[before..];
    assert!(
        !listing.contains("LOGIN"),
        "LOGIN was offered though not advertised:\n{listing}"
    );
    assert!(
        listing.contains("PLAIN"),
        "PLAIN was not offered:\n{listing}"
    );
    t.ctrl('u');
    t.ctrl('d');
    t.eof();
    let got = server.finish();
    got.assert_ok();
    assert!(got.lines[0].starts_with("EHLO "), "{:?}", got.lines);
}

#[test]
fn ctrl_c_cancels_a_wait_on_a_silent_server() {
    let server = FakeServer::start(vec![
        send(GREETING),
        expect("NOOP"),
        Step::Sleep(6_000),
        Step::Drain,
    ]);
    let home = home();
    let p = prompt(&server);
    let mut t = spawn(
        &["--no-history", "--timeout", "30", &server.target()],
        &home,
    );
    t.expect(&p);
    t.line("NOOP");
    t.expect("C: NOOP");
    std::thread::sleep(Duration::from_millis(400));
    let pressed = Instant::now();
    t.ctrl('c');
    t.expect("cancelled");
    t.expect(&p);
    assert!(
        pressed.elapsed() < Duration::from_secs(3),
        "the prompt took {:?} to come back",
        pressed.elapsed()
    );
    // The shell is alive: a local command still works.
    t.line(":b64 hi");
    t.expect("aGk=");
    t.line(":quit");
    t.eof();
    server.finish();
}

#[test]
fn ctrl_d_sends_quit() {
    let server = FakeServer::start(vec![
        send(GREETING),
        expect("QUIT"),
        send("221 2.0.0 bye\r\n"),
        Step::ExpectEof,
    ]);
    let home = home();
    let p = prompt(&server);
    let mut t = spawn(&["--no-history", &server.target()], &home);
    t.expect(&p);
    t.ctrl('d');
    t.expect("S: 221");
    t.eof();
    server.finish().assert_ok();
}

#[test]
fn body_lines_with_leading_dots_arrive_intact() {
    let server = FakeServer::start(vec![
        send(GREETING),
        expect("MAIL FROM:<a@test>"),
        send("250 ok\r\n"),
        expect("RCPT TO:<b@test>"),
        send("250 ok\r\n"),
        expect("DATA"),
        send("354 go ahead\r\n"),
        Step::ReadBody,
        send("250 2.0.0 queued\r\n"),
        expect("QUIT"),
        send("221 bye\r\n"),
    ]);
    let home = home();
    let p = prompt(&server);
    let mut t = spawn(
        &[
            "--history",
            home.join("h").to_str().unwrap(),
            &server.target(),
        ],
        &home,
    );
    t.expect(&p);
    t.line("MAIL FROM:<a@test>");
    t.expect(&format!("{} mail> ", server.target()));
    t.line("RCPT TO:<b@test>");
    t.expect("rcpt 1> ");
    t.line("DATA");
    t.expect("data 1> ");
    t.line("Subject: dots");
    t.expect("data 2> ");
    t.line("");
    t.expect("data 3> ");
    t.line(".hidden");
    t.expect("data 4> ");
    t.line("..two");
    t.expect("data 5> ");
    t.line(".");
    t.expect("250 [2.0.0] queued");
    t.expect(&p);
    t.ctrl('d');
    t.eof();
    let got = server.finish();
    got.assert_ok();
    let body: Vec<&str> = got.lines[3..].iter().map(String::as_str).collect();
    assert_eq!(
        body[..5],
        ["Subject: dots", "", "..hidden", "...two", "."],
        "body lines on the wire"
    );
    let hist = std::fs::read_to_string(home.join("h")).unwrap();
    assert!(
        !hist.contains("hidden") && !hist.contains("Subject"),
        "body lines went into history:\n{hist}"
    );
}

/// A terminal's bracketed paste of `text`.
fn paste(text: &str) -> String {
    format!("\x1b[200~{text}\x1b[201~")
}

#[test]
fn multi_line_paste_runs_as_commands_only_after_yes() {
    let server = FakeServer::start(vec![
        send(GREETING),
        expect("NOOP"),
        send("250 2.0.0 one\r\n"),
        expect("RSET"),
        send("250 2.0.0 two\r\n"),
        expect("QUIT"),
        send("221 bye\r\n"),
    ]);
    let home = home();
    let p = prompt(&server);
    let mut t = spawn(&["--no-history", &server.target()], &home);
    t.expect(&p);
    // First paste: refused, nothing sent.
    t.keys(&paste("VRFY a\nVRFY b\n"));
    t.keys("\r");
    t.expect("run them as 2 commands, in order? [y/N] ");
    t.line("n");
    t.expect("paste dropped; nothing was sent");
    t.expect(&p);
    // Second paste: confirmed, run in order.
    t.keys(&paste("NOOP\nRSET"));
    t.keys("\r");
    t.expect("[y/N] ");
    t.line("y");
    t.expect("250 [2.0.0] one");
    t.expect("250 [2.0.0] two");
    t.expect(&p);
    t.ctrl('d');
    t.eof();
    let got = server.finish();
    got.assert_ok();
    assert!(
        !got.text().contains("VRFY"),
        "a refused paste reached the wire: {}",
        got.text()
    );
}

#[test]
fn paste_into_body_mode_is_sent_line_by_line() {
    let server = FakeServer::start(vec![
        send(GREETING),
        expect("DATA"),
        send("354 go\r\n"),
        Step::ReadBody,
        send("250 2.0.0 queued\r\n"),
        expect("QUIT"),
        send("221 bye\r\n"),
    ]);
    let home = home();
    let p = prompt(&server);
    let mut t = spawn(&["--no-history", &server.target()], &home);
    t.expect(&p);
    t.line("DATA");
    t.expect("data 1> ");
    t.keys(&paste("Subject: pasted\n\n.dot line\nlast\n."));
    t.keys("\r");
    t.expect("250 [2.0.0] queued");
    t.expect(&p);
    t.ctrl('d');
    t.eof();
    let got = server.finish();
    got.assert_ok();
    assert_eq!(
        got.lines[1..6],
        ["Subject: pasted", "", "..dot line", "last", "."],
        "{:?}",
        got.lines
    );
}

#[test]
fn hint_shows_syntax_while_typing() {
    let server = FakeServer::start(vec![send(GREETING), expect("QUIT"), send("221 bye\r\n")]);
    let home = home();
    let p = prompt(&server);
    let mut t = spawn(&["--no-history", &server.target()], &home);
    t.expect(&p);
    t.keys("MAIL");
    t.expect(" FROM:<address>");
    t.ctrl('u');
    t.ctrl('d');
    t.eof();
    server.finish().assert_ok();
}

#[test]
fn history_is_deduplicated_most_recent_last() {
    let server = FakeServer::start(vec![
        send(GREETING),
        expect("NOOP"),
        send("250 ok\r\n"),
        expect("RSET"),
        send("250 ok\r\n"),
        expect("NOOP"),
        send("250 ok\r\n"),
        expect("QUIT"),
        send("221 bye\r\n"),
    ]);
    let home = home();
    let history = home.join("history");
    let p = prompt(&server);
    let mut t = spawn(
        &["--history", history.to_str().unwrap(), &server.target()],
        &home,
    );
    for cmd in ["NOOP", "RSET", "NOOP"] {
        t.expect(&p);
        t.line(cmd);
        t.expect("250 ok");
    }
    t.expect(&p);
    t.ctrl('d');
    t.eof();
    server.finish().assert_ok();
    let hist = std::fs::read_to_string(&history).unwrap();
    let entries: Vec<&str> = hist.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(entries, ["RSET", "NOOP"], "history file:\n{hist}");
}

#[test]
fn star_at_the_auth_prompt_cancels_before_anything_is_sent() {
    let server = FakeServer::start(vec![
        send(GREETING),
        expect("EHLO"),
        send(ehlo_reply(&["AUTH PLAIN"])),
        expect("QUIT"),
        send("221 bye\r\n"),
    ]);
    let home = home();
    let p = prompt(&server);
    let mut t = spawn(
        &["--no-history", "--plaintext-auth", &server.target()],
        &home,
    );
    t.expect(&p);
    t.line("EHLO client.test");
    // The prompt is redrawn with every key typed: wait for the reply first, so the next
    // line is typed at the new prompt, not ahead of it (typed-ahead input is dropped).
    t.expect("* capabilities");
    t.expect(&p);
    t.line("AUTH PLAIN");
    t.expect("user (* cancels): ");
    t.line("*");
    t.expect("cancelled");
    t.expect(&p);
    t.ctrl('d');
    t.eof();
    let got = server.finish();
    got.assert_ok();
    assert!(
        !got.text().contains("AUTH"),
        "AUTH reached the wire after '*': {}",
        got.text()
    );
}

/// Safety rule 8 at the prompt: over a connection without TLS, smtpsh asks before any
/// credential goes; "no" (or Enter) sends nothing, "yes" goes on with the exchange.
// See: issue 12, AUTH sent passwords over plaintext without asking.
#[test]
fn auth_without_tls_asks_first_and_no_sends_nothing() {
    let server = FakeServer::start(vec![
        send(GREETING),
        expect("EHLO"),
        send(ehlo_reply(&["AUTH PLAIN"])),
        Step::Auth {
            mech: "PLAIN".into(),
            challenges: vec![String::new()],
            success: "235 2.7.0 Authentication successful\r\n".into(),
        },
        expect("QUIT"),
        send("221 bye\r\n"),
    ]);
    let home = home();
    let p = prompt(&server);
    let mut t = spawn(&["--no-history", &server.target()], &home);
    t.expect(&p);
    t.line("EHLO client.test");
    // The prompt is redrawn with every key typed: wait for the reply first, so the next
    // line is typed at the new prompt, not ahead of it (typed-ahead input is dropped).
    t.expect("* capabilities");
    t.expect(&p);
    t.line(":auth PLAIN alice");
    t.expect("Send them anyway? [y/N] ");
    t.line("");
    t.expect("cancelled");
    t.expect(&p);
    t.line(":auth PLAIN alice");
    t.expect("Send them anyway? [y/N] ");
    t.line("y");
    t.expect("AUTH PLAIN over a connection without TLS, as you said");
    t.expect("password for alice (no echo, * cancels): ");
    t.line(PASSWORD);
    t.expect("235");
    t.expect(&format!("alice@{p}"));
    t.ctrl('d');
    t.eof();
    let got = server.finish();
    got.assert_ok();
    assert_eq!(
        got.auth_responses.len(),
        1,
        "one AUTH, after the yes: {got:?}"
    );
    assert!(!t.seen.contains(PASSWORD), "the password was shown");
}

/// Right arrow never turns a grey syntax hint into input: only Tab completes.
// See: issue 16, Right then Enter sent `MAIL FROM:<address> [SIZE=n] …` (555 5.5.4).
#[test]
fn right_arrow_does_not_accept_a_template_hint() {
    let server = FakeServer::start(vec![
        send(GREETING),
        expect("EHLO"),
        send(ehlo_reply(&["SIZE 1000", "8BITMIME"])),
        expect("MAIL FROM:<a@b>"),
        send("250 ok\r\n"),
        expect("QUIT"),
        send("221 bye\r\n"),
    ]);
    let home = home();
    let p = prompt(&server);
    let mut t = spawn(&["--no-history", &server.target()], &home);
    t.expect(&p);
    t.line("EHLO client.test");
    // The prompt is redrawn with every key typed: wait for the reply first, so the next
    // line is typed at the new prompt, not ahead of it (typed-ahead input is dropped).
    t.expect("* capabilities");
    t.expect(&p);
    t.keys("MAIL FROM:<");
    t.expect("address>");
    t.keys("\x1b[C"); // Right arrow
    t.keys("a@b>\r");
    t.expect("250 ok");
    t.expect(" mail> ");
    t.ctrl('d');
    t.eof();
    let got = server.finish();
    got.assert_ok();
    assert_eq!(got.lines[1], "MAIL FROM:<a@b>");
}

/// A verb that looks like a typo is still sent, with a note saying what was probably meant.
// See: issue 16, `RCTP` went to the server silently.
#[test]
fn a_typo_gets_a_note_and_is_still_sent() {
    let server = FakeServer::start(vec![
        send(GREETING),
        expect("RCTP TO:<a@b>"),
        send("500 5.5.2 what?\r\n"),
        expect("QUIT"),
        send("221 bye\r\n"),
    ]);
    let home = home();
    let p = prompt(&server);
    let mut t = spawn(&["--no-history", &server.target()], &home);
    t.expect(&p);
    t.line("RCTP TO:<a@b>");
    t.expect("RCTP is not a verb smtpsh knows; did you mean RCPT? (sent as typed)");
    t.expect("500");
    t.expect(&p);
    t.line(":expcet 500");
    t.expect("unknown shell command :expcet; did you mean :expect?");
    t.expect(&p);
    t.ctrl('d');
    t.eof();
    server.finish().assert_ok();
}

/// The small things of issue 16 at a real prompt, against the practice server: `:b64` takes
/// `:raw`'s escapes, `:save ~/…` writes under HOME, `:explain` alone explains the last reply,
/// and after an AUTH typed by hand the prompt says `authenticated@`.
#[test]
fn prompt_helpers_do_what_people_expect() {
    let home = home();
    let mut t = spawn(&["--no-history", "--practice"], &home);
    t.expect("> ");
    t.line(":b64 \\0alice\\0alicepass");
    t.expect("AGFsaWNlAGFsaWNlcGFzcw==");
    t.line("EHLO client.test");
    t.expect("capabilities (8 lines)");
    t.line(":explain");
    t.expect("250  ");
    t.line("AUTH PLAIN AGFsaWNlAGFsaWNlcGFzcw==");
    t.expect("235");
    t.expect("authenticated@127.0.0.1:");
    t.line(":save ~/x.txt");
    t.expect("saved ");
    t.ctrl('d');
    t.eof();
    let saved = std::fs::read_to_string(home.join("x.txt")).expect(":save ~/x.txt wrote ~/x.txt");
    assert!(saved.contains("C: AUTH PLAIN <redacted>"), "{saved}");
    assert!(
        !saved.contains("AGFsaWNlAGFsaWNlcGFzcw=="),
        "the response was saved: {saved}"
    );
    assert!(!t.seen.contains("(typed by hand)@"), "{}", t.seen);
}
