//! The practice server against raw TCP clients (exact reply codes and enhanced codes), a
//! native-tls client for STARTTLS, and two clients we did not write: swaks and Python's
//! smtplib (left out, and saying so, where they are not installed; failing instead when
//! `SMTPSH_REQUIRE_PEERS=1` or `CI=true` says nothing may be left out).
//!
//! Every test starts its own server on `127.0.0.1:0` and checks the wire strings.

use std::collections::BTreeSet;
use std::net::TcpStream;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit as _, Mac as _};
use md5::Md5;
use sha2::{Digest as _, Sha256};
use x509_parser::prelude::{FromDer as _, GeneralName, ParsedExtension, X509Certificate};

use smtpsh::practice::{Limits, PracticeConfig, PracticeServer, PracticeUser};

mod common;
use common::practice_client::{Client, Wire, config, start};
use common::{left_out, peer_on_path};

// ---------------------------------------------------------------------------------------
// A small, independent SMTP client for the tests
// ---------------------------------------------------------------------------------------

const HOST: &str = "practice.smtpsh.test";

fn server() -> PracticeServer {
    start(config())
}

/// The lines of a reply without CRLF.
fn lines(reply: &str) -> Vec<&str> {
    reply.split_terminator("\r\n").collect()
}

// ---------------------------------------------------------------------------------------
// Greeting, EHLO, HELO
// ---------------------------------------------------------------------------------------

#[test]
fn greeting_ehlo_and_helo() {
    let server = server();
    let mut c = Client::connect(&server);
    let ehlo = c.cmd("EHLO client.example");
    assert_eq!(
        lines(&ehlo),
        [
            &format!("250-{HOST} Hello client.example [127.0.0.1]")[..],
            "250-PIPELINING",
            "250-SIZE 10485760",
            "250-8BITMIME",
            "250-SMTPUTF8",
            "250-ENHANCEDSTATUSCODES",
            "250-STARTTLS",
            "250-AUTH PLAIN LOGIN CRAM-MD5",
            "250 HELP",
        ]
    );
    assert_eq!(
        c.cmd("HELO [127.0.0.1]"),
        format!("250 {HOST} Hello [127.0.0.1] [127.0.0.1]\r\n")
    );
    c.expect("EHLO", "501 5.5.4 ");
    c.expect("HELO", "501 5.5.4 ");
    c.expect("EHLO two words", "501 5.5.4 ");
    c.expect("NOOP", "250 2.0.0 Ok");
    c.expect("NOOP anything at all", "250 2.0.0 Ok");
    c.expect("RSET", "250 2.0.0 ");
    c.expect("RSET now", "501 5.5.4 ");
    c.expect("QUIT now", "501 5.5.4 ");
    assert_eq!(
        c.cmd("QUIT"),
        format!("221 2.0.0 {HOST} closing connection, bye\r\n")
    );
    assert!(c.closed());
}

// ---------------------------------------------------------------------------------------
// Wrong order: 503 5.5.1
// ---------------------------------------------------------------------------------------

#[test]
fn wrong_order_is_503_5_5_1() {
    let server = server();
    let mut c = Client::connect(&server);
    c.expect("MAIL FROM:<a@example.org>", "503 5.5.1 ");
    c.expect("RCPT TO:<b@example.org>", "503 5.5.1 ");
    c.expect("DATA", "503 5.5.1 ");
    c.expect("AUTH PLAIN", "503 5.5.1 ");
    c.expect("STARTTLS", "503 5.5.1 ");
    c.expect("EHLO client.example", "250-");
    c.expect("RCPT TO:<b@example.org>", "503 5.5.1 ");
    c.expect("DATA", "503 5.5.1 ");
    c.expect("MAIL FROM:<a@example.org>", "250 2.1.0 ");
    c.expect("DATA", "503 5.5.1 ");
    c.expect("MAIL FROM:<a@example.org>", "503 5.5.1 ");
    c.expect("AUTH PLAIN", "503 5.5.1 ");
    c.expect("STARTTLS", "503 5.5.1 ");
    // RSET ends the transaction; so does a new EHLO (RFC 5321 §4.1.4).
    c.expect("RSET", "250 2.0.0 ");
    c.expect("RCPT TO:<b@example.org>", "503 5.5.1 ");
    c.expect("MAIL FROM:<a@example.org>", "250 2.1.0 ");
    c.expect("EHLO again.example", "250-");
    c.expect("RCPT TO:<b@example.org>", "503 5.5.1 ");
    // HELO doesn't open extensions: no AUTH or STARTTLS after it.
    c.expect("HELO client.example", "250 ");
    c.expect("AUTH PLAIN", "503 5.5.1 ");
    c.expect("STARTTLS", "503 5.5.1 ");
    c.expect("MAIL FROM:<a@example.org> SIZE=10", "555 5.5.4 ");
    c.expect("MAIL FROM:<a@example.org>", "250 2.1.0 ");
    assert!(server.mailbox().is_empty());
}

// ---------------------------------------------------------------------------------------
// Syntax: 501, 555, 553, 500
// ---------------------------------------------------------------------------------------

#[test]
fn syntax_errors() {
    // More bad commands than the default 20 that end a connection.
    let server = start(PracticeConfig {
        limits: Limits {
            max_errors: 100,
            ..Limits::default()
        },
        ..config()
    });
    let mut c = Client::ready(&server);
    let cases = [
        ("MAIL", "501 5.5.4 "),
        ("MAIL FROM:", "501 5.5.4 "),
        ("MAIL FROM: <a@example.org>", "501 5.5.4 "),
        ("MAIL FROM <a@example.org>", "501 5.5.4 "),
        ("MAIL FROM:a@example.org", "501 5.5.4 "),
        ("MAIL TO:<a@example.org>", "501 5.5.4 "),
        ("MAIL FROM:<a@example.org", "501 5.5.4 "),
        ("MAIL  FROM:<a@example.org>", "501 5.5.4 "),
        ("MAIL:FROM:<a@example.org>", "501 5.5.4 "),
        ("MAIL FROM:<a@>", "501 5.1.7 "),
        ("MAIL FROM:<a..b@example.org>", "501 5.1.7 "),
        ("MAIL FROM:<example.org>", "501 5.1.7 "),
        ("MAIL FROM:<a@b@c>", "501 5.1.7 "),
        ("MAIL FROM:<a@example.org> SIZE=big", "501 5.5.4 "),
        ("MAIL FROM:<a@example.org> BODY=BINARYMIME", "501 5.5.4 "),
        ("MAIL FROM:<a@example.org> SIZE=1 SIZE=2", "501 5.5.4 "),
        ("MAIL FROM:<a@example.org> RET=HDRS", "555 5.5.4 "),
        ("MAIL FROM:<a@example.org> X-FOO", "555 5.5.4 "),
        ("MAIL FROM:<δοκιμή@example.org>", "553 5.6.7 "),
        ("DATA now", "501 5.5.4 "),
        ("FOO bar", "500 5.5.2 "),
        ("", "500 5.5.2 "),
        ("NOOP\0", "500 5.5.2 "),
        ("NO\x1bOP", "500 5.5.2 "),
        ("NOOP\rNOOP", "500 5.5.2 "),
        ("LHLO x", "500 5.5.2 "),
        ("BDAT 10 LAST", "502 5.5.1 "),
    ];
    for (line, want) in cases {
        c.expect(line, want);
    }
    // Non-UTF-8 bytes in a command.
    c.send(b"NOOP \xff\xfe\r\n");
    assert!(c.reply().starts_with("500 5.5.2 "));
    // The session is fine after all that.
    c.expect("MAIL FROM:<δοκιμή@example.org> SMTPUTF8", "250 2.1.0 ");
    c.expect("RCPT TO:<bad>", "501 5.1.3 ");
    c.expect("RCPT TO:<>", "501 5.1.3 ");
    c.expect("RCPT TO: <b@example.org>", "501 5.5.4 ");
    c.expect("RCPT TO:<b@example.org> NOTIFY=NEVER", "555 5.5.4 ");
    c.expect("RCPT TO:<ünï@example.org>", "250 2.1.5 ");
    c.expect("RCPT TO:<postmaster>", "250 2.1.5 ");
    c.expect("RSET", "250 2.0.0 ");
    c.expect("MAIL FROM:<a@example.org>", "250 2.1.0 ");
    c.expect("RCPT TO:<ünï@example.org>", "553 5.6.7 ");
    c.expect("RSET", "250 2.0.0 ");
    // The null sender, source routes and address literals are fine.
    c.expect("MAIL FROM:<>", "250 2.1.0 ");
    c.expect("RCPT TO:<@relay.example:b@example.org>", "250 2.1.5 ");
    c.expect("RCPT TO:<b@[192.0.2.1]>", "250 2.1.5 ");
    c.expect("RCPT TO:<\"odd name\"@example.org>", "250 2.1.5 ");
}

#[test]
fn practice_rule_550_for_reject_and_no_such() {
    let server = server();
    let mut c = Client::ready(&server);
    c.expect("MAIL FROM:<a@example.org>", "250 2.1.0 ");
    assert_eq!(
        c.cmd("RCPT TO:<reject@example.org>"),
        "550 5.1.1 <reject@example.org>: no such user here\r\n"
    );
    c.expect("RCPT TO:<No-Such-User@example.org>", "550 5.1.1 ");
    c.expect("RCPT TO:<rejected@example.org>", "250 2.1.5 ");
    c.expect("RCPT TO:<bob@example.org>", "250 2.1.5 ");
}

#[test]
fn too_many_recipients_is_452() {
    let server = start(PracticeConfig {
        limits: Limits {
            max_recipients: 2,
            ..Limits::default()
        },
        ..config()
    });
    let mut c = Client::ready(&server);
    c.expect("MAIL FROM:<a@example.org>", "250 2.1.0 ");
    c.expect("RCPT TO:<b1@example.org>", "250 2.1.5 ");
    c.expect("RCPT TO:<b2@example.org>", "250 2.1.5 ");
    c.expect("RCPT TO:<b3@example.org>", "452 4.5.3 ");
    c.expect("DATA", "354 ");
    c.send("Subject: two\r\n\r\nhi\r\n.\r\n");
    assert!(c.reply().starts_with("250 2.0.0 Ok: queued as "));
    let m = server.mailbox().get(1).unwrap();
    assert_eq!(m.rcpts, ["b1@example.org", "b2@example.org"]);
}

// ---------------------------------------------------------------------------------------
// DATA: a message kept exactly, size limits, bare LF
// ---------------------------------------------------------------------------------------

#[test]
fn message_is_kept_decoded() {
    let server = server();
    let mut c = Client::ready(&server);
    let reply = c.send_message(
        "alice@example.org",
        "bob@example.org",
        "Subject: Hello\r\n folded\r\n\r\n..leading dot\r\n.\r\n",
    );
    assert!(reply.starts_with("250 2.0.0 Ok: queued as "), "{reply}");
    let id = reply.trim_end().rsplit(' ').next().unwrap().to_string();
    let mailbox = server.mailbox();
    assert_eq!(mailbox.len(), 1);
    let m = mailbox.get(1).unwrap();
    assert_eq!(m.id, id);
    assert_eq!(m.from, "alice@example.org");
    assert_eq!(m.rcpts, ["bob@example.org"]);
    assert_eq!(m.data, b"Subject: Hello\r\n folded\r\n\r\n.leading dot\r\n");
    assert_eq!(m.helo, "client.example");
    assert!(!m.tls);
    assert_eq!(m.auth_user, None);
    let info = &mailbox.list()[0];
    assert_eq!(info.n, 1);
    assert_eq!(info.subject, "Hello folded");
    assert_eq!(info.size, m.data.len());
    // An empty body, and a second message in the same session.
    let reply = c.send_message("", "bob@example.org", ".\r\n");
    assert!(reply.starts_with("250 2.0.0 "), "{reply}");
    let m = mailbox.get(2).unwrap();
    assert_eq!(m.from, "");
    assert_eq!(m.data, b"");
    assert_ne!(m.id, id);
}

#[test]
fn size_limit_from_size_param_and_from_the_body() {
    let server = start(PracticeConfig {
        limits: Limits {
            max_message: 1000,
            ..Limits::default()
        },
        ..config()
    });
    let mut c = Client::ready(&server);
    assert!(c.cmd("EHLO x.example").contains("250-SIZE 1000\r\n"));
    c.expect("MAIL FROM:<a@example.org> SIZE=1001", "552 5.3.4 ");
    c.expect(
        "MAIL FROM:<a@example.org> SIZE=99999999999999999999999",
        "552 5.3.4 ",
    );
    c.expect("MAIL FROM:<a@example.org> SIZE=1000", "250 2.1.0 ");
    c.expect("RCPT TO:<b@example.org>", "250 2.1.5 ");
    c.expect("DATA", "354 ");
    let mut body = String::new();
    for i in 0..100 {
        body.push_str(&format!("line {i:03} of a long message\r\n"));
    }
    body.push_str(".\r\n");
    c.send(&body);
    let reply = c.reply();
    assert!(reply.starts_with("552 5.3.4 "), "{reply}");
    assert!(server.mailbox().is_empty());
    // The session goes on, and exactly 1000 octets fit.
    c.expect("RSET", "250 2.0.0 ");
    let exact = format!("{}\r\n", "x".repeat(998));
    let reply = c.send_message("a@example.org", "b@example.org", &format!("{exact}.\r\n"));
    assert!(reply.starts_with("250 2.0.0 "), "{reply}");
    assert_eq!(server.mailbox().get(1).unwrap().data.len(), 1000);
}

/// MAIL, RCPT, DATA, and `body` as is; the reply to it.
fn data_reply(c: &mut Client, body: &[u8]) -> String {
    c.expect("MAIL FROM:<a@example.org>", "250 2.1.0 ");
    c.expect("RCPT TO:<b@example.org>", "250 2.1.5 ");
    c.expect("DATA", "354 ");
    c.send(body);
    c.reply()
}

// A bare CR or LF inside a line: the message is read to CRLF.CRLF, refused, and the
// session goes on.
#[test]
fn bare_lf_or_cr_in_data_is_refused_with_554_and_nothing_is_kept() {
    let server = server();
    let mut c = Client::ready(&server);
    let bodies: [&[u8]; 3] = [
        b"Subject: x\r\n\r\nbare\rCR\r\n.\r\n",
        b"Subject: x\r\n\r\nbare\nLF\r\n..\n\r\n.\r\n",
        b"bare LF at once\n\r\n.\r\n",
    ];
    for body in bodies {
        let reply = data_reply(&mut c, body);
        assert!(
            reply.starts_with("554 5.6.0 message refused: bare "),
            "{reply}"
        );
        // Nothing of the body ran as commands: the next reply is NOOP's.
        assert_eq!(c.cmd("NOOP"), "250 2.0.0 Ok\r\n");
        // And the transaction is over.
        c.expect("RCPT TO:<b@example.org>", "503 5.5.1 ");
    }
    // A bare LF split across writes, the end coming later.
    c.expect("MAIL FROM:<a@example.org>", "250 2.1.0 ");
    c.expect("RCPT TO:<b@example.org>", "250 2.1.5 ");
    c.expect("DATA", "354 ");
    for part in ["abc\r", "\nline\n", "more\r\n.", "\r\nNOOP\r\n"] {
        c.send(part);
        thread::sleep(Duration::from_millis(30));
    }
    assert!(c.reply().starts_with("554 5.6.0 message refused: bare LF"));
    assert_eq!(c.reply(), "250 2.0.0 Ok\r\n");
    assert!(server.mailbox().is_empty());
}

// See: SMTP smuggling (CVE-2023-51764, CVE-2023-51765, CVE-2023-51766). An end of data
// written with a bare LF or CR may have a smuggled message behind it: it is refused and
// the connection ends, so nothing after it can run as a command.
#[test]
fn regression_smuggled_end_of_data_ends_the_connection() {
    let server = server();
    let bodies: [&[u8]; 6] = [
        b"Subject: x\r\n\r\nhi\n.\nMAIL FROM:<evil@example.org>\nRCPT TO:<victim@example.org>\nDATA\n\r\n.\r\n",
        b"Subject: x\r\n\r\nhi\r\n.\nMAIL FROM:<evil@example.org>\r\n",
        b"Subject: x\r\n\r\nhi\n.\r\nMAIL FROM:<evil@example.org>\r\n",
        b"Subject: x\r\n\r\nhi\r.\rMAIL FROM:<evil@example.org>\r\n",
        b"Subject: x\r\n\r\nhi\r\n.\rMAIL FROM:<evil@example.org>\r\n",
        // What `nc` without -C sends: the student gets an answer at once, not a hang.
        b"Subject: typed\n\nhello\n.\n",
    ];
    for body in bodies {
        let mut c = Client::ready(&server);
        let reply = data_reply(&mut c, body);
        assert!(
            reply.starts_with(&format!("421 4.5.0 {HOST} message refused: bare ")),
            "{:?}: {reply}",
            body.escape_ascii().to_string()
        );
        assert!(reply.contains("CRLF"), "{reply}");
        assert!(c.closed());
    }
    assert!(server.mailbox().is_empty());
    still_serves(&server);
}

// ---------------------------------------------------------------------------------------
// PIPELINING
// ---------------------------------------------------------------------------------------

#[test]
fn pipelined_group_gets_replies_in_order() {
    let server = server();
    let mut c = Client::ready(&server);
    c.send(
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<reject@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n",
    );
    assert!(c.reply().starts_with("250 2.1.0 "));
    assert!(c.reply().starts_with("250 2.1.5 "));
    assert!(c.reply().starts_with("550 5.1.1 "));
    assert!(c.reply().starts_with("250 2.1.5 "));
    assert_eq!(c.reply(), "354 End data with <CR><LF>.<CR><LF>\r\n");
    // The body, the end, and the next transaction in one write.
    c.send("Subject: p\r\n\r\nbody\r\n.\r\nRSET\r\nMAIL FROM:<>\r\nNOOP\r\nQUIT\r\n");
    assert!(c.reply().starts_with("250 2.0.0 Ok: queued as "));
    assert!(c.reply().starts_with("250 2.0.0 "));
    assert!(c.reply().starts_with("250 2.1.0 "));
    assert!(c.reply().starts_with("250 2.0.0 Ok"));
    assert!(c.reply().starts_with("221 2.0.0 "));
    assert!(c.closed());
    let m = server.mailbox().get(1).unwrap();
    assert_eq!(m.rcpts, ["b@example.org", "c@example.org"]);
    assert_eq!(m.data, b"Subject: p\r\n\r\nbody\r\n");
}

// ---------------------------------------------------------------------------------------
// AUTH
// ---------------------------------------------------------------------------------------

fn b64(s: &[u8]) -> String {
    B64.encode(s)
}

/// CRAM-MD5 computed here with the RustCrypto crates, not with smtpsh's own code.
fn cram_md5_response(user: &str, password: &str, challenge_b64: &str) -> String {
    let challenge = B64
        .decode(challenge_b64.trim())
        .expect("challenge is base64");
    let mut mac = <Hmac<Md5>>::new_from_slice(password.as_bytes()).unwrap();
    mac.update(&challenge);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    b64(format!("{user} {hex}").as_bytes())
}

/// The text of a 334 reply.
fn challenge_of(reply: &str) -> String {
    assert!(reply.starts_with("334 "), "{reply}");
    reply[4..].trim_end().to_string()
}

#[test]
fn auth_plain_with_and_without_initial_response() {
    let server = server();
    let right = b64(b"\0alice\0alicepass");
    let wrong = b64(b"\0alice\0bobpass");

    let mut c = Client::ready(&server);
    c.expect(&format!("AUTH PLAIN {wrong}"), "535 5.7.8 ");
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {right}")),
        "235 2.7.0 Authentication successful\r\n"
    );
    c.expect(&format!("AUTH PLAIN {right}"), "503 5.5.1 ");
    let reply = c.send_message("alice@example.org", "bob@example.org", "hi\r\n.\r\n");
    assert!(reply.starts_with("250 2.0.0 "));
    assert_eq!(
        server.mailbox().get(1).unwrap().auth_user.as_deref(),
        Some("alice")
    );

    let mut c = Client::ready(&server);
    assert_eq!(c.cmd("AUTH PLAIN"), "334 \r\n");
    c.expect(&wrong, "535 5.7.8 ");
    assert_eq!(c.cmd("auth plain"), "334 \r\n");
    c.expect(&b64(b"\0bob\0bobpass"), "235 2.7.0 ");

    // authzid must be the user itself; a malformed message is a 501.
    let mut c = Client::ready(&server);
    c.expect(
        &format!("AUTH PLAIN {}", b64(b"bob\0alice\0alicepass")),
        "535 5.7.8 ",
    );
    c.expect(
        &format!("AUTH PLAIN {}", b64(b"alicealicepass")),
        "501 5.5.2 ",
    );
    c.expect(
        &format!("AUTH PLAIN {}", b64(b"alice\0alice\0alicepass")),
        "235 2.7.0 ",
    );
}

#[test]
fn auth_login() {
    let server = server();
    let mut c = Client::ready(&server);
    assert_eq!(c.cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6\r\n");
    assert_eq!(c.cmd(&b64(b"bob")), "334 UGFzc3dvcmQ6\r\n");
    c.expect(&b64(b"alicepass"), "535 5.7.8 ");
    assert_eq!(
        c.cmd(&format!("AUTH LOGIN {}", b64(b"bob"))),
        "334 UGFzc3dvcmQ6\r\n"
    );
    c.expect(&b64(b"bobpass"), "235 2.7.0 ");
}

#[test]
fn auth_cram_md5() {
    let server = server();
    let mut c = Client::ready(&server);
    let challenge = challenge_of(&c.cmd("AUTH CRAM-MD5"));
    let decoded = String::from_utf8(B64.decode(&challenge).unwrap()).unwrap();
    assert!(
        decoded.starts_with('<') && decoded.ends_with(&format!("@{HOST}>")),
        "{decoded}"
    );
    c.expect(
        &cram_md5_response("alice", "wrong", &challenge),
        "535 5.7.8 ",
    );
    // A response computed for an old challenge fails against a fresh one.
    let second = challenge_of(&c.cmd("AUTH CRAM-MD5"));
    assert_ne!(second, challenge);
    c.expect(
        &cram_md5_response("alice", "alicepass", &challenge),
        "535 5.7.8 ",
    );
    let third = challenge_of(&c.cmd("AUTH CRAM-MD5"));
    c.expect(
        &cram_md5_response("alice", "alicepass", &third),
        "235 2.7.0 ",
    );
    // The client's own computation agrees with OpenSSL's.
    let mut c = Client::ready(&server);
    let challenge = challenge_of(&c.cmd("AUTH CRAM-MD5"));
    let ours = smtpsh::smtp::auth::cram_md5(
        "bob",
        &smtpsh::smtp::auth::Secret::new("bobpass"),
        &B64.decode(&challenge).unwrap(),
    );
    assert_eq!(
        ours.expose(),
        cram_md5_response("bob", "bobpass", &challenge)
    );
    c.expect(ours.expose(), "235 2.7.0 ");
}

#[test]
fn auth_errors() {
    let server = server();
    let mut c = Client::ready(&server);
    c.expect("AUTH", "501 5.5.4 ");
    c.expect("AUTH XOAUTH2", "504 5.5.4 ");
    c.expect("AUTH PLAIN a b", "501 5.5.4 ");
    c.expect("AUTH PLAIN not-base64!", "501 5.5.2 ");
    c.expect("AUTH PLAIN *", "501 5.7.0 ");
    c.expect(&format!("AUTH CRAM-MD5 {}", b64(b"x")), "501 5.5.4 ");
    // `*` cancels at any step (RFC 4954 §4).
    c.expect("AUTH LOGIN", "334 ");
    c.expect("*", "501 5.7.0 ");
    c.expect("AUTH LOGIN", "334 ");
    c.expect(&b64(b"alice"), "334 ");
    c.expect("*", "501 5.7.0 ");
    c.expect("AUTH PLAIN", "334 ");
    c.expect("%%%", "501 5.5.2 ");
    // `=` is an empty response: PLAIN with nothing in it is malformed.
    c.expect("AUTH PLAIN =", "501 5.5.2 ");
    // Not during a transaction.
    c.expect("MAIL FROM:<a@example.org>", "250 2.1.0 ");
    c.expect("AUTH PLAIN", "503 5.5.1 ");
    c.expect("RSET", "250 2.0.0 ");
    c.expect(
        &format!("AUTH PLAIN {}", b64(b"\0alice\0alicepass")),
        "235 2.7.0 ",
    );
    // EHLO keeps the authentication.
    c.expect("EHLO client.example", "250-");
    c.expect("AUTH LOGIN", "503 5.5.1 ");
}

#[test]
fn require_auth_gives_530() {
    let server = start(PracticeConfig {
        require_auth: true,
        ..config()
    });
    let mut c = Client::ready(&server);
    c.expect("MAIL FROM:<a@example.org>", "530 5.7.0 ");
    c.expect(
        &format!("AUTH PLAIN {}", b64(b"\0bob\0bobpass")),
        "235 2.7.0 ",
    );
    c.expect("MAIL FROM:<a@example.org>", "250 2.1.0 ");
}

// ---------------------------------------------------------------------------------------
// STARTTLS
// ---------------------------------------------------------------------------------------

#[test]
fn starttls_then_ehlo() {
    let server = server();
    let mut c = Client::ready(&server);
    c.expect("STARTTLS now", "501 5.5.4 ");
    assert_eq!(c.cmd("STARTTLS"), "220 2.0.0 Ready to start TLS\r\n");
    c.handshake(server.cert_pem());
    // The fingerprint printed by --serve is the certificate's.
    let Wire::Tls(tls) = &c.wire else { panic!() };
    let peer = tls.peer_certificate().unwrap().unwrap().to_der().unwrap();
    let hex: Vec<String> = Sha256::digest(&peer)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(server.fingerprint(), hex.join(":"));
    // What the ServerHello chose, as the client's transcript shows it. native-tls serves
    // TLS 1.2 on OpenSSL (its acceptor turns 1.3 off) and 1.3 where SChannel has it.
    let negotiated = tls
        .get_ref()
        .negotiated()
        .expect("the ServerHello was read");
    assert!(
        ["TLSv1.2", "TLSv1.3"].contains(&negotiated.version.as_str()),
        "{negotiated:?}"
    );
    assert!(negotiated.cipher.starts_with("TLS_"), "{negotiated:?}");
    // RFC 3207 §4.2: everything is forgotten, EHLO again.
    c.expect("MAIL FROM:<a@example.org>", "503 5.5.1 ");
    let ehlo = c.cmd("EHLO client.example");
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    assert!(ehlo.contains("250-AUTH PLAIN LOGIN CRAM-MD5\r\n"), "{ehlo}");
    c.expect("STARTTLS", "503 5.5.1 ");
    c.expect(
        &format!("AUTH PLAIN {}", b64(b"\0alice\0alicepass")),
        "235 2.7.0 ",
    );
    let reply = c.send_message(
        "a@example.org",
        "b@example.org",
        "Subject: tls\r\n\r\nx\r\n.\r\n",
    );
    assert!(reply.starts_with("250 2.0.0 "));
    let m = server.mailbox().get(1).unwrap();
    assert!(m.tls);
    assert_eq!(m.auth_user.as_deref(), Some("alice"));
    let info = &server.mailbox().list()[0];
    assert!(info.tls);
    assert_eq!(info.subject, "tls");
    c.expect("QUIT", "221 2.0.0 ");
}

#[test]
fn authentication_before_starttls_is_forgotten() {
    let server = server();
    let mut c = Client::ready(&server);
    c.expect(
        &format!("AUTH PLAIN {}", b64(b"\0alice\0alicepass")),
        "235 2.7.0 ",
    );
    c.starttls(server.cert_pem());
    c.expect("EHLO client.example", "250-");
    // Not authenticated any more, so AUTH is allowed again.
    c.expect(
        &format!("AUTH PLAIN {}", b64(b"\0bob\0bobpass")),
        "235 2.7.0 ",
    );
}

// See: CVE-2011-0411 (STARTTLS command injection). Bytes pipelined after STARTTLS in
// plaintext must not run as if they had come over TLS.
#[test]
fn regression_bytes_after_starttls_are_discarded() {
    let server = server();
    let mut c = Client::ready(&server);
    c.send("STARTTLS\r\nRSET\r\nMAIL FROM:<injected@example.org>\r\n");
    assert_eq!(c.reply(), "220 2.0.0 Ready to start TLS\r\n");
    c.handshake(server.cert_pem());
    // The first reply over TLS is EHLO's, not RSET's or MAIL's.
    let ehlo = c.cmd("EHLO client.example");
    assert!(ehlo.starts_with(&format!("250-{HOST} Hello")), "{ehlo}");
    // No transaction was started by the injected MAIL.
    c.expect("RCPT TO:<b@example.org>", "503 5.5.1 ");
    c.expect("MAIL FROM:<real@example.org>", "250 2.1.0 ");
}

#[test]
fn require_tls_gives_530_and_hides_auth() {
    let server = start(PracticeConfig {
        require_tls: true,
        ..config()
    });
    let mut c = Client::connect(&server);
    let ehlo = c.cmd("EHLO client.example");
    assert!(ehlo.contains("250-STARTTLS\r\n"), "{ehlo}");
    assert!(!ehlo.contains("AUTH"), "{ehlo}");
    assert_eq!(
        c.cmd("MAIL FROM:<a@example.org>"),
        "530 5.7.0 Must issue a STARTTLS command first\r\n"
    );
    c.expect(
        &format!("AUTH PLAIN {}", b64(b"\0alice\0alicepass")),
        "538 5.7.11 ",
    );
    c.starttls(server.cert_pem());
    let ehlo = c.cmd("EHLO client.example");
    assert!(ehlo.contains("250-AUTH PLAIN LOGIN CRAM-MD5\r\n"), "{ehlo}");
    c.expect("MAIL FROM:<a@example.org>", "250 2.1.0 ");
}

// ---------------------------------------------------------------------------------------
// VRFY, EXPN, HELP
// ---------------------------------------------------------------------------------------

#[test]
fn vrfy_expn_help() {
    let server = server();
    let mut c = Client::connect(&server);
    assert_eq!(
        c.cmd("VRFY alice"),
        format!("250 2.1.5 alice <alice@{HOST}>\r\n")
    );
    assert_eq!(
        c.cmd(&format!("VRFY <bob@{HOST}>")),
        format!("250 2.1.5 bob <bob@{HOST}>\r\n")
    );
    c.expect("VRFY carol", "550 5.1.1 ");
    c.expect("VRFY reject@example.org", "550 5.1.1 ");
    c.expect("VRFY alice@example.org", "252 2.1.5 ");
    c.expect("VRFY", "501 5.5.4 ");
    c.expect("EXPN staff", "502 5.5.1 ");
    let help = c.cmd("HELP");
    let help = lines(&help);
    assert!(help.len() > 2);
    assert!(
        help[..help.len() - 1]
            .iter()
            .all(|l| l.starts_with("214-2.0.0 "))
    );
    assert!(help.last().unwrap().starts_with("214 2.0.0 "));
    assert!(
        help.iter()
            .any(|l| l.contains("MAIL") && l.contains("QUIT"))
    );
    let mail = c.cmd("HELP MAIL");
    assert!(mail.starts_with(
        "214-2.0.0 MAIL FROM:<sender@example.org> [SIZE=<octets>] [BODY=7BIT|8BITMIME] [SMTPUTF8]\r\n"
    ), "{mail}");
    assert!(c.cmd("help auth").contains("alicepass"));
    c.expect("HELP FROB", "504 5.5.4 ");
}

#[test]
fn help_does_not_list_passwords_of_a_class_list() {
    let server = start(PracticeConfig {
        users: vec![PracticeUser::new("ana", "s3cret")],
        ..config()
    });
    let mut c = Client::connect(&server);
    let help = c.cmd("HELP AUTH");
    assert!(
        !help.contains("s3cret") && !help.contains("alice"),
        "{help}"
    );
    assert_eq!(c.cmd("VRFY ana"), format!("250 2.1.5 ana <ana@{HOST}>\r\n"));
    c.expect("VRFY alice", "550 5.1.1 ");
}

// ---------------------------------------------------------------------------------------
// Maildir
// ---------------------------------------------------------------------------------------

#[test]
fn maildir_gets_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("Maildir");
    let server = start(PracticeConfig {
        maildir: Some(maildir.clone()),
        ..config()
    });
    for sub in ["tmp", "new", "cur"] {
        assert!(maildir.join(sub).is_dir(), "{sub}");
    }
    let mut c = Client::ready(&server);
    let body = "Subject: disk\r\n\r\n.dot stuffed\r\nend\r\n";
    let reply = c.send_message(
        "a@example.org",
        "b@example.org",
        "Subject: disk\r\n\r\n..dot stuffed\r\nend\r\n.\r\n",
    );
    assert!(reply.starts_with("250 2.0.0 "), "{reply}");
    let id = reply.trim_end().rsplit(' ').next().unwrap();
    let files: Vec<_> = std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(std::fs::read_dir(maildir.join("tmp")).unwrap().count(), 0);
    let text = String::from_utf8(std::fs::read(&files[0]).unwrap()).unwrap();
    assert!(
        text.starts_with(
            "Return-Path: <a@example.org>\r\nReceived: from client.example ([127.0.0.1])\r\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            " with ESMTP id {id}\r\n\tfor <b@example.org>;\r\n"
        )),
        "{text}"
    );
    assert!(text.ends_with(body), "{text}");
    assert_eq!(server.mailbox().get(1).unwrap().data, body.as_bytes());
}

#[test]
fn maildir_write_failure_is_451_and_nothing_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("Maildir");
    let server = start(PracticeConfig {
        maildir: Some(maildir.clone()),
        ..config()
    });
    std::fs::remove_dir_all(&maildir).unwrap();
    let mut c = Client::ready(&server);
    let reply = c.send_message("a@example.org", "b@example.org", "x\r\n.\r\n");
    assert!(reply.starts_with("451 4.3.0 "), "{reply}");
    assert!(server.mailbox().is_empty());
}

#[test]
fn full_mailbox_is_452_4_3_1() {
    let server = start(PracticeConfig {
        limits: Limits {
            max_stored: 2000,
            ..Limits::default()
        },
        ..config()
    });
    let mut c = Client::ready(&server);
    let body = format!("{}\r\n.\r\n", "x".repeat(600));
    let reply = c.send_message("a@example.org", "b@example.org", &body);
    assert!(reply.starts_with("250 2.0.0 "), "{reply}");
    let kept = server.memory_used();
    assert!(kept > 600 && kept < 2000 - 300, "{kept}");
    let body = format!("{}\r\n.\r\n", "x".repeat(2000 - kept));
    let reply = c.send_message("a@example.org", "b@example.org", &body);
    assert_eq!(
        reply,
        "452 4.3.1 insufficient system storage: the practice mailbox is full; not kept\r\n"
    );
    c.expect(
        &format!("MAIL FROM:<a@example.org> SIZE={}", 2000 - kept + 1),
        "452 4.3.1 ",
    );
    c.expect("MAIL FROM:<a@example.org> SIZE=2", "250 2.1.0 ");
    assert_eq!(server.mailbox().len(), 1);
    c.expect("RSET", "250 ");
    assert_eq!(
        server.memory_used(),
        kept,
        "what was in progress is given back"
    );
}

#[test]
fn unusable_maildir_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let err = PracticeServer::start(PracticeConfig {
        maildir: Some(file.clone()),
        ..config()
    })
    .unwrap_err();
    assert!(matches!(err, smtpsh::error::Error::Usage(_)), "{err:?}");
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// Many clients, limits, hostile input
// ---------------------------------------------------------------------------------------

#[test]
fn two_hundred_concurrent_sessions_lose_nothing() {
    const N: usize = 200;
    let server = server();
    let addr = server.addr();
    let barrier = Arc::new(Barrier::new(N));
    let started = Instant::now();
    let threads: Vec<_> = (0..N)
        .map(|i| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                let mut c = Client::open(addr);
                assert!(c.reply().starts_with("220 "));
                // All 200 connected at once before any sends.
                barrier.wait();
                c.expect(&format!("EHLO client{i}.example"), "250-");
                let reply = c.send_message(
                    &format!("sender{i}@example.org"),
                    &format!("rcpt{i}@example.org"),
                    &format!("Subject: message {i}\r\n\r\nbody {i}\r\n.\r\n"),
                );
                assert!(reply.starts_with("250 2.0.0 Ok: queued as "), "{reply}");
                c.expect("QUIT", "221 2.0.0 ");
                reply.trim_end().rsplit(' ').next().unwrap().to_string()
            })
        })
        .collect();
    let ids: BTreeSet<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(ids.len(), N, "queue ids are unique");
    let mailbox = server.mailbox();
    assert!(mailbox.wait_for(N, Duration::from_secs(10)));
    assert_eq!(mailbox.len(), N);
    let subjects: BTreeSet<String> = mailbox.list().into_iter().map(|m| m.subject).collect();
    let want: BTreeSet<String> = (0..N).map(|i| format!("message {i}")).collect();
    assert_eq!(subjects, want);
    for info in mailbox.list() {
        let i: usize = info.subject["message ".len()..].parse().unwrap();
        let m = mailbox.get(info.n).unwrap();
        assert_eq!(m.from, format!("sender{i}@example.org"));
        assert_eq!(m.rcpts, [format!("rcpt{i}@example.org")]);
        assert_eq!(m.helo, format!("client{i}.example"));
        assert_eq!(
            m.data,
            format!("Subject: message {i}\r\n\r\nbody {i}\r\n").as_bytes()
        );
        assert!(ids.contains(&m.id));
    }
    println!("{N} sessions in {:?}", started.elapsed());
}

#[test]
fn connection_limit_gives_421_and_frees_up() {
    let server = start(PracticeConfig {
        limits: Limits {
            max_connections: 2,
            ..Limits::default()
        },
        ..config()
    });
    let mut a = Client::connect(&server);
    let _b = Client::connect(&server);
    let mut c = Client::open(server.addr());
    assert_eq!(
        c.reply(),
        "421 4.7.0 practice.smtpsh.test too many connections (2 at once); try again later\r\n"
    );
    assert!(c.closed());
    a.expect("QUIT", "221 ");
    assert!(a.closed());
    // The slot frees up as soon as the first connection's thread ends.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut d = Client::open(server.addr());
        let reply = d.reply();
        if reply.starts_with("220 ") {
            d.expect("NOOP", "250 ");
            break;
        }
        assert!(Instant::now() < deadline, "never freed: {reply}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// After hostile input, the server still serves a new client normally.
fn still_serves(server: &PracticeServer) {
    let mut c = Client::ready(server);
    let reply = c.send_message(
        "a@example.org",
        "b@example.org",
        "Subject: after\r\n\r\nok\r\n.\r\n",
    );
    assert!(reply.starts_with("250 2.0.0 "), "{reply}");
    c.expect("QUIT", "221 ");
}

#[test]
fn garbage_bytes_get_500s_then_421() {
    // Past 10 errors each reply waits (Postfix's soft error limit); not for long here.
    let server = start(PracticeConfig {
        limits: Limits {
            error_delay: Duration::from_millis(10),
            ..Limits::default()
        },
        ..config()
    });
    let mut c = Client::connect(&server);
    // Deterministic noise: every byte value, NULs, lone CRs, high bytes.
    let mut x: u32 = 12345;
    let mut garbage = Vec::new();
    for _ in 0..20_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        garbage.push((x >> 16) as u8);
    }
    c.send(&garbage);
    c.send(b"\r\n");
    let mut replies = Vec::new();
    while let Some(r) = c.try_reply() {
        replies.push(r);
    }
    let last = replies.last().expect("some replies").clone();
    assert!(last.starts_with("421 4.7.0 "), "{last:?}");
    assert!(
        replies[..replies.len() - 1]
            .iter()
            .all(|r| r.starts_with("500 5.5.") || r.starts_with("501 5.5.")),
        "{replies:?}"
    );
    still_serves(&server);
}

#[test]
fn max_errors_ends_the_connection() {
    let server = start(PracticeConfig {
        limits: Limits {
            max_errors: 3,
            ..Limits::default()
        },
        ..config()
    });
    let mut c = Client::connect(&server);
    c.expect("FOO", "500 5.5.2 ");
    // Wrong order is not counted: it is what students get wrong.
    for _ in 0..5 {
        c.expect("MAIL FROM:<a@example.org>", "503 5.5.1 ");
    }
    c.expect("BAR", "500 5.5.2 ");
    let last = c.cmd("BAZ");
    assert_eq!(
        lines(&last)[0],
        "500 5.5.2 command BAZ not recognized (HELP lists the commands)"
    );
    let bye = c.reply();
    assert!(bye.starts_with("421 4.7.0 "), "{bye}");
    assert!(c.closed());
    still_serves(&server);
}

#[test]
fn endless_line_gets_500_5_5_6_and_the_session_goes_on() {
    let server = server();
    let mut c = Client::ready(&server);
    // 100 KB without a line end: refused once, the rest skipped, memory bounded.
    c.send(vec![b'x'; 100 * 1024]);
    assert!(c.reply().starts_with("500 5.5.6 line too long"));
    c.send("still the same line\r\nNOOP\r\n");
    assert_eq!(c.reply(), "250 2.0.0 Ok\r\n");
    // A complete line over the limit (2048) is refused too; 2048 itself is fine.
    c.expect(&format!("NOOP {}", "y".repeat(3000)), "500 5.5.6 ");
    c.expect(&format!("NOOP {}", "y".repeat(2048 - 5)), "250 2.0.0 ");
    c.expect("QUIT", "221 ");
    still_serves(&server);
}

#[test]
fn idle_and_slow_clients_time_out_with_421() {
    let server = start(PracticeConfig {
        limits: Limits {
            command_timeout: Duration::from_millis(300),
            ..Limits::default()
        },
        ..config()
    });
    // Idle after the greeting.
    let mut c = Client::connect(&server);
    let started = Instant::now();
    let reply = c.reply();
    assert!(reply.starts_with("421 4.4.2 "), "{reply}");
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(c.closed());
    // Stuck in the middle of a command line.
    let mut c = Client::connect(&server);
    c.send("NOOP");
    assert!(c.reply().starts_with("421 4.4.2 "));
    assert!(c.closed());
    // Stuck in DATA.
    let mut c = Client::ready(&server);
    c.expect("MAIL FROM:<a@example.org>", "250 ");
    c.expect("RCPT TO:<b@example.org>", "250 ");
    c.expect("DATA", "354 ");
    c.send("Subject: slow\r\n");
    assert!(c.reply().starts_with("421 4.4.2 "));
    assert!(c.closed());
    // Silent in the middle of AUTH.
    let mut c = Client::ready(&server);
    c.expect("AUTH LOGIN", "334 ");
    assert!(c.reply().starts_with("421 4.4.2 "));
    // A client that never starts the TLS handshake.
    let mut c = Client::ready(&server);
    c.expect("STARTTLS", "220 ");
    assert!(c.closed());
    assert!(server.mailbox().is_empty());
    still_serves(&server);
}

#[test]
fn a_failed_tls_handshake_does_not_hurt_the_server() {
    let server = server();
    let mut c = Client::ready(&server);
    c.expect("STARTTLS", "220 ");
    c.send(b"this is not a TLS ClientHello\r\n\x16\x03\x01\x00\x05hello");
    assert!(c.closed());
    still_serves(&server);
}

// ---------------------------------------------------------------------------------------
// Start and stop
// ---------------------------------------------------------------------------------------

#[test]
fn address_in_use_is_a_usage_error_naming_it() {
    let first = server();
    let err = PracticeServer::start(PracticeConfig {
        addr: first.addr(),
        ..config()
    })
    .unwrap_err();
    assert!(matches!(err, smtpsh::error::Error::Usage(_)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&first.addr().to_string()), "{msg}");
    assert!(msg.contains("in use"), "{msg}");
}

#[test]
fn shutdown_closes_connections_and_stops_listening() {
    let server = server();
    let addr = server.addr();
    let mut c = Client::ready(&server);
    assert_eq!(server.connections(), 1);
    let started = Instant::now();
    assert_eq!(server.shutdown(), 1);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        c.reply(),
        "421 4.3.2 practice.smtpsh.test the server is shutting down; try again later\r\n"
    );
    assert!(c.closed());
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

#[test]
fn serves_ipv6_loopback() {
    let Ok(server) = PracticeServer::start(PracticeConfig {
        addr: "[::1]:0".parse().unwrap(),
        ..config()
    }) else {
        println!("note: no IPv6 loopback here; skipping");
        return;
    };
    assert!(server.addr().is_ipv6());
    let mut c = Client::connect(&server);
    assert!(
        c.cmd("EHLO [IPv6:::1]")
            .starts_with(&format!("250-{HOST} Hello [IPv6:::1] [::1]\r\n"))
    );
    c.starttls(server.cert_pem());
    c.expect("EHLO [IPv6:::1]", "250-");
}

#[test]
fn echoed_client_text_is_cut_and_escaped() {
    let server = server();
    let mut c = Client::connect(&server);
    let reply = c.cmd(&format!("X{}", "Y".repeat(1000)));
    assert!(reply.starts_with("500 5.5.2 command XYYY"), "{reply}");
    assert!(reply.len() < 200, "{reply}");
    let reply = c.cmd("HELP \u{202e}evil");
    assert!(
        reply.starts_with("504 5.5.4 no help for \\u{202e}evil"),
        "{reply}"
    );
}

#[test]
fn certificate_pem_parses_and_names_localhost() {
    let server = server();
    let der = pem::parse(server.cert_pem()).unwrap().into_contents();
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    let names: Vec<String> = cert
        .extensions()
        .iter()
        .filter_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => Some(&san.general_names),
            _ => None,
        })
        .flatten()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(d.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["localhost", HOST]);
}

// ---------------------------------------------------------------------------------------
// Clients we did not write: swaks and Python's smtplib
// ---------------------------------------------------------------------------------------

/// Whether `program` is there to run; if not, the test says it was left out (and fails
/// when peers are required).
fn have(program: &str) -> bool {
    peer_on_path(program, program).is_some()
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().expect("run peer");
    println!(
        "--- {:?} exited {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
        cmd,
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn swaks(server: &PracticeServer, extra: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("swaks");
    cmd.args([
        "--server",
        &server.addr().to_string(),
        "--from",
        "sender@example.org",
        "--to",
        "rcpt@example.org",
        "--helo",
        "swaks.example",
        "--timeout",
        "20",
    ])
    .args(extra);
    run(&mut cmd)
}

#[test]
fn swaks_sends_plain_and_with_auth() {
    if !have("swaks") {
        return;
    }
    let server = server();
    let out = swaks(&server, &["--header", "Subject: from swaks"]);
    assert!(out.status.success());
    let out = swaks(
        &server,
        &[
            "--auth",
            "PLAIN",
            "--auth-user",
            "alice",
            "--auth-password",
            "alicepass",
            "--header",
            "Subject: swaks auth",
        ],
    );
    assert!(out.status.success());
    let out = swaks(
        &server,
        &[
            "--auth",
            "LOGIN",
            "--auth-user",
            "bob",
            "--auth-password",
            "bobpass",
            "--pipeline",
            "--header",
            "Subject: swaks login pipelined",
        ],
    );
    assert!(out.status.success());
    // Wrong password: swaks stops with a failure and nothing is sent.
    let out = swaks(
        &server,
        &[
            "--auth",
            "PLAIN",
            "--auth-user",
            "alice",
            "--auth-password",
            "nope",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("535 5.7.8"));
    let mailbox = server.mailbox();
    assert_eq!(mailbox.len(), 3);
    let list = mailbox.list();
    assert_eq!(list[0].subject, "from swaks");
    assert_eq!(list[0].from, "sender@example.org");
    assert_eq!(list[0].rcpts, ["rcpt@example.org"]);
    assert_eq!(list[0].auth_user, None);
    assert_eq!(list[1].subject, "swaks auth");
    assert_eq!(list[1].auth_user.as_deref(), Some("alice"));
    assert_eq!(list[2].subject, "swaks login pipelined");
    assert_eq!(list[2].auth_user.as_deref(), Some("bob"));
}

#[test]
fn swaks_starttls_verifying_the_certificate() {
    if !have("swaks") {
        return;
    }
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("practice.pem");
    std::fs::write(&ca, server.cert_pem()).unwrap();
    let out = swaks(
        &server,
        &[
            "--tls",
            "--tls-verify",
            "--tls-ca-path",
            ca.to_str().unwrap(),
            "--auth",
            "PLAIN",
            "--auth-user",
            "alice",
            "--auth-password",
            "alicepass",
            "--header",
            "Subject: swaks tls",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() && stdout.contains("TLS") && stdout.contains("not available") {
        left_out("this swaks has no TLS support (apt-get install libnet-ssleay-perl)");
        return;
    }
    assert!(out.status.success());
    let m = server.mailbox().get(1).expect("message kept");
    assert!(m.tls);
    assert_eq!(m.auth_user.as_deref(), Some("alice"));
}

fn python(script: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(script).args(args);
    run(&mut cmd)
}

/// STARTTLS with verification against the PEM, AUTH with each mechanism, sendmail.
const SMTPLIB_SCRIPT: &str = r#"
import smtplib, ssl, sys
port, cafile = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=cafile)
for mech in ["CRAM-MD5", "PLAIN", "LOGIN"]:
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
        s.ehlo("python.example")
        assert s.has_extn("starttls")
        s.starttls(context=ctx)
        s.ehlo("python.example")
        assert not s.has_extn("starttls")
        s.user, s.password = "alice", "alicepass"
        code, _ = s.auth(mech, getattr(s, "auth_" + mech.lower().replace("-", "_")))
        assert code == 235, code
        refused = s.sendmail("alice@example.org", ["bob@example.org", "reject@example.org"],
            "Subject: smtplib " + mech + "\r\n\r\n.starts with a dot\r\nbye\r\n")
        assert list(refused) == ["reject@example.org"], refused
with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
    s.starttls(context=ctx)
    s.login("bob", "bobpass")
    try:
        s.login("bob", "bobpass")
    except smtplib.SMTPException:
        pass
with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
    try:
        s.login("alice", "wrong")
        raise SystemExit("wrong password accepted")
    except smtplib.SMTPAuthenticationError as e:
        assert e.smtp_code == 535, e
print("ok")
"#;

#[test]
fn python_smtplib_starttls_login_sendmail() {
    if !have("python3") {
        return;
    }
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("practice.pem");
    std::fs::write(&ca, server.cert_pem()).unwrap();
    let out = python(
        SMTPLIB_SCRIPT,
        &[&server.addr().port().to_string(), ca.to_str().unwrap()],
    );
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    let mailbox = server.mailbox();
    assert_eq!(mailbox.len(), 3);
    for (i, mech) in ["CRAM-MD5", "PLAIN", "LOGIN"].iter().enumerate() {
        let m = mailbox.get(i + 1).unwrap();
        assert!(m.tls);
        assert_eq!(m.auth_user.as_deref(), Some("alice"));
        assert_eq!(m.rcpts, ["bob@example.org"]);
        assert_eq!(
            m.data,
            format!("Subject: smtplib {mech}\r\n\r\n.starts with a dot\r\nbye\r\n").as_bytes()
        );
    }
}

/// Python sends a message with SMTPUTF8 and a non-ASCII address.
#[test]
fn python_smtplib_smtputf8() {
    if !have("python3") {
        return;
    }
    let server = server();
    let script = r#"
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20) as s:
    s.ehlo("python.example")
    assert s.has_extn("smtputf8") and s.has_extn("8bitmime")
    s.sendmail("δοκιμή@example.org", ["ünï@example.org"], "Subject: utf8\r\n\r\ncafé\r\n".encode(),
               mail_options=["SMTPUTF8", "BODY=8BITMIME"])
print("ok")
"#;
    let out = python(script, &[&server.addr().port().to_string()]);
    assert!(out.status.success());
    let m = server.mailbox().get(1).unwrap();
    assert_eq!(m.from, "δοκιμή@example.org");
    assert_eq!(m.rcpts, ["ünï@example.org"]);
    assert_eq!(m.data, "Subject: utf8\r\n\r\ncafé\r\n".as_bytes());
}

// ---------------------------------------------------------------------------------------
// Non-ASCII where the grammar expects ASCII (safety rule 10)
// ---------------------------------------------------------------------------------------

const MAIL_SYNTAX_501: &str = "501 5.5.4 Syntax: FROM:<address> with no space after the colon; syntax: MAIL FROM:<sender@example.org> [SIZE=<octets>] [BODY=7BIT|8BITMIME] [SMTPUTF8]\r\n";

// `MAIL FROé`: the keyword was sliced by byte index, through the middle of the `é`, and the
// connection thread panicked.
// See: issue 12
#[test]
fn regression_mail_fro_e_acute_gets_501_and_the_session_goes_on() {
    let server = server();
    let mut c = Client::connect(&server);
    c.send("EHLO x\r\nMAIL FROé\r\n");
    assert!(c.reply().starts_with("250-"));
    assert_eq!(c.reply(), MAIL_SYNTAX_501);
    c.expect("RCPT TOé", "503 5.5.1 ");
    c.expect("MAIL FROM:<a@example.org>", "250 2.1.0 ");
    c.expect(
        "RCPT TOé",
        "501 5.5.4 Syntax: TO:<address> with no space after the colon",
    );
    c.expect("RCPT TO:<b@example.org>", "250 2.1.5 ");
    c.expect("QUIT", "221 ");
    assert!(c.closed());
    still_serves(&server);
}

// A connection whose thread died never gave its slot back: 256 `MAIL FROé` sessions locked
// a classroom out. Sessions that meet errors (and then close, or just vanish) must leave the
// server open to the next client.
// See: issue 12
#[test]
fn regression_sessions_that_hit_errors_leave_slots_free() {
    let server = start(PracticeConfig {
        limits: Limits {
            max_connections: 2,
            ..Limits::default()
        },
        ..config()
    });
    for i in 0..6 {
        let mut c = Client::connect(&server);
        c.send("EHLO x\r\nMAIL FROé\r\nRCPT TOü\r\n");
        assert!(c.reply().starts_with("250-"), "session {i}");
        assert_eq!(c.reply(), MAIL_SYNTAX_501, "session {i}");
        assert!(c.reply().starts_with("503 5.5.1 "), "session {i}");
        // Half of them leave without QUIT.
        if i % 2 == 0 {
            c.expect("QUIT", "221 ");
        }
        drop(c);
        // Slots are freed when each connection's thread ends, a moment after the close.
        let deadline = Instant::now() + Duration::from_secs(5);
        while server.connections() > 0 {
            assert!(
                Instant::now() < deadline,
                "session {i}: a slot was never freed"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
    still_serves(&server);
}
