//! The binary against scripted, misbehaving SMTP servers.
//!
//! Each test starts a [`FakeServer`] that plays one connection step by step, runs `smtpsh`
//! against it with a script on stdin, and checks three things: the exit code (PRODUCT.md,
//! "Exit status"), exactly what reached the wire, and what was shown. The `harness_*` tests
//! at the top check the fake server itself with plain sockets, so that a failure further
//! down is the binary's and not the harness's.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use common::*;

/// The name every test gives `--ehlo`.
const EHLO_NAME: &str = "client.test";
/// The password of the AUTH tests.
const PASSWORD: &str = "s3cretPassw0rd";

/// Run the binary against `server` with `args` (before the target) and `script` on stdin,
/// with `--ehlo client.test --timeout 5` unless `args` names those options itself.
fn smtpsh_run(server: &FakeServer, args: &[&str], script: &str) -> Run {
    let mut cmd = smtpsh();
    if !args.contains(&"--ehlo") {
        cmd.args(["--ehlo", EHLO_NAME]);
    }
    if !args.contains(&"--timeout") {
        cmd.args(["--timeout", "5"]);
    }
    cmd.args(args).arg(server.target()).write_stdin(script);
    run(&mut cmd)
}

/// Greeting, `EHLO client.test`, and an EHLO reply advertising `caps`.
fn greet_and_ehlo(caps: &[&str]) -> Vec<Step> {
    vec![
        send(GREETING),
        expect(&format!("EHLO {EHLO_NAME}")),
        send(ehlo_reply(caps)),
    ]
}

fn has_warning(run: &Run) -> bool {
    run.stdout
        .lines()
        .chain(run.stderr.lines())
        .any(|l| l.starts_with("! ") || l.starts_with("smtpsh: warning"))
}

/// A line of stdout that shows `cert`'s SHA-256 fingerprint (in any common notation).
fn shows_fingerprint(run: &Run, cert: &TestCert) -> bool {
    let hex = cert.sha256_hex();
    run.stdout.lines().any(|l| {
        let flat = l.replace(':', "").to_ascii_uppercase();
        flat.contains("SHA") && flat.contains(&hex)
    })
}

// ---------------------------------------------------------------------------------------
// The harness itself
// ---------------------------------------------------------------------------------------

/// A native-tls client trusting `cert` from its PEM file, as the binary will read it with
/// `--cafile`.
fn connector(cert: &TestCert) -> native_tls::TlsConnector {
    let pem = std::fs::read(&cert.cert_pem).unwrap();
    native_tls::TlsConnector::builder()
        .add_root_certificate(native_tls::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap()
}

fn read_exact_str(s: &mut impl Read, n: usize) -> String {
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).expect("read from the fake server");
    String::from_utf8(buf).expect("UTF-8")
}

#[test]
fn harness_self_test() {
    let server = FakeServer::start(vec![
        send(GREETING),
        expect("EHLO x.test"),
        drip("250 ok\r\n"),
        Step::ReadLine,
        Step::Sleep(20),
        Step::Auth {
            mech: "PLAIN".into(),
            challenges: vec![String::new()],
            success: "235 2.7.0 ok\r\n".into(),
        },
        expect("DATA"),
        send("354 go\r\n"),
        Step::ReadBody,
        send("250 queued\r\n"),
        Step::ExpectEof,
    ]);
    let mut c = TcpStream::connect(server.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(read_exact_str(&mut c, GREETING.len()), GREETING);
    c.write_all(b"ehlo x.test\r\n").unwrap(); // the verb is matched case-insensitively
    assert_eq!(read_exact_str(&mut c, 8), "250 ok\r\n");
    c.write_all(b"NOOP anything\n").unwrap(); // ReadLine takes a bare LF too
    c.write_all(b"AUTH PLAIN\r\n").unwrap();
    assert_eq!(read_exact_str(&mut c, 6), "334 \r\n");
    c.write_all(b"AGFsaWNlAHB3\r\n").unwrap();
    assert_eq!(read_exact_str(&mut c, 14), "235 2.7.0 ok\r\n");
    c.write_all(b"DATA\r\n").unwrap();
    assert_eq!(read_exact_str(&mut c, 8), "354 go\r\n");
    c.write_all(b"line one\r\n..dot\r\n.\r\n").unwrap();
    assert_eq!(read_exact_str(&mut c, 12), "250 queued\r\n");
    drop(c);

    let r = server.finish();
    r.assert_ok();
    r.assert_raw(
        "ehlo x.test\r\nNOOP anything\nAUTH PLAIN\r\nAGFsaWNlAHB3\r\nDATA\r\nline one\r\n..dot\r\n.\r\n",
    );
    assert_eq!(
        r.lines,
        [
            "ehlo x.test",
            "NOOP anything",
            "AUTH PLAIN",
            "DATA",
            "line one",
            "..dot",
            "."
        ]
    );
    assert_eq!(r.auth_responses, ["AGFsaWNlAHB3"]);
    assert_eq!(unb64(&r.auth_responses[0]), b"\0alice\0pw");
    assert!(r.tls_at.is_none());
}

#[test]
fn harness_self_test_detects_misbehaving_clients() {
    // A wrong argument.
    let server = FakeServer::start(vec![expect("MAIL FROM:<a@b.test>")]);
    let mut c = TcpStream::connect(server.addr()).unwrap();
    c.write_all(b"MAIL FROM:<x@y.test>\r\n").unwrap();
    let r = server.finish();
    assert!(
        r.failure.as_deref().unwrap().contains("expected a line"),
        "{r:?}"
    );
    drop(c);

    // A bare LF where Expect wants CRLF.
    let server = FakeServer::start(vec![expect("QUIT")]);
    let mut c = TcpStream::connect(server.addr()).unwrap();
    c.write_all(b"QUIT\n").unwrap();
    let r = server.finish();
    assert!(r.failure.as_deref().unwrap().contains("CRLF"), "{r:?}");
    drop(c);

    // ExpectEof, and the client sends more.
    let server = FakeServer::start(vec![expect("QUIT"), Step::ExpectEof]);
    let mut c = TcpStream::connect(server.addr()).unwrap();
    c.write_all(b"QUIT\r\nNOOP\r\n").unwrap();
    drop(c);
    let r = server.finish();
    assert!(r.failure.as_deref().unwrap().contains("NOOP"), "{r:?}");
    assert_eq!(r.steps_done, 1);

    // ExpectEof, and the client stays connected.
    let server = FakeServer::start(vec![Step::ExpectEof]);
    let c = TcpStream::connect(server.addr()).unwrap();
    let r = server.finish();
    assert!(
        r.failure.as_deref().unwrap().contains("did not close"),
        "{r:?}"
    );
    drop(c);

    // A client that speaks before the TLS handshake.
    let certs = TestCerts::new();
    let server = FakeServer::start(vec![
        expect("STARTTLS"),
        Step::StartTls(certs.localhost.clone()),
    ]);
    let mut c = TcpStream::connect(server.addr()).unwrap();
    c.write_all(b"STARTTLS\r\nEHLO early\r\n").unwrap();
    let r = server.finish();
    assert!(
        r.failure.as_deref().unwrap().contains("before the TLS"),
        "{r:?}"
    );
    drop(c);
}

#[test]
#[should_panic(expected = "never connected")]
fn harness_self_test_unused_server_fails_the_test() {
    let server = FakeServer::start(vec![send(GREETING)]);
    server.finish();
}

#[test]
fn harness_self_test_tls() {
    let certs = TestCerts::new();
    let server = FakeServer::start(vec![
        send(GREETING),
        expect("STARTTLS"),
        send("220 go ahead\r\n"),
        Step::StartTls(certs.localhost.clone()),
        expect("EHLO x.test"),
        send("250 ok\r\n"),
        Step::ExpectEof,
    ]);
    let mut c = TcpStream::connect(server.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(read_exact_str(&mut c, GREETING.len()), GREETING);
    c.write_all(b"STARTTLS\r\n").unwrap();
    assert_eq!(read_exact_str(&mut c, 14), "220 go ahead\r\n");
    let mut tls = connector(&certs.localhost)
        .connect("localhost", c)
        .expect("handshake");
    tls.write_all(b"EHLO x.test\r\n").unwrap();
    assert_eq!(read_exact_str(&mut tls, 8), "250 ok\r\n");
    tls.shutdown().unwrap();
    drop(tls);

    let r = server.finish();
    r.assert_ok();
    r.assert_raw("STARTTLS\r\nEHLO x.test\r\n");
    assert_eq!(r.tls_at, Some(10));
    assert_eq!(r.sni.as_deref(), Some("localhost"));
}

/// The certificates verify for the names they are meant for, and only those.
#[test]
fn harness_self_test_certificates() {
    let certs = TestCerts::new();
    let cases = [
        (&certs.localhost, "127.0.0.1", true),
        (&certs.localhost, "localhost", true),
        (&certs.localhost, "wrong.example", false),
        (&certs.localhost_dns_only, "127.0.0.1", false),
        (&certs.localhost_dns_only, "localhost", true),
        (&certs.wrong, "127.0.0.1", false),
        (&certs.wrong, "wrong.example", true),
    ];
    for (cert, name, ok) in cases {
        let server = FakeServer::start(vec![Step::StartTls(cert.clone()), send("220 tls\r\n")]);
        let c = TcpStream::connect(server.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let result = connector(cert).connect(name, c);
        assert_eq!(
            result.is_ok(),
            ok,
            "{} cert for {name}: {:?}",
            cert.name,
            result.err().map(|e| e.to_string())
        );
        let r = server.finish();
        assert_eq!(r.failure.is_none(), ok, "{r:?}");
    }
    // Not trusted at all without the CA file.
    let server = FakeServer::start(vec![Step::StartTls(certs.localhost.clone())]);
    let c = TcpStream::connect(server.addr()).unwrap();
    let plain = native_tls::TlsConnector::new().unwrap();
    assert!(plain.connect("localhost", c).is_err());
    server.finish();
}

#[test]
fn harness_self_test_reset() {
    let server = FakeServer::start(vec![send(GREETING), Step::ReadLine, Step::Reset]);
    let mut c = TcpStream::connect(server.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(read_exact_str(&mut c, GREETING.len()), GREETING);
    c.write_all(b"DATA\r\n").unwrap();
    server.finish().assert_ok();
    let mut buf = [0u8; 16];
    let err = c.read(&mut buf).expect_err("a reset, not EOF");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
}

#[test]
fn harness_self_test_flood() {
    let server = FakeServer::start(vec![Step::Flood {
        line: b"250-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n".to_vec(),
        max_lines: 10_000_000,
        max_time: Duration::from_secs(10),
    }]);
    let mut c = TcpStream::connect(server.addr()).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    c.read_exact(&mut buf).unwrap();
    assert!(buf.starts_with(b"250-xxx"));
    drop(c);
    let r = server.finish();
    r.assert_ok();
    let flood = r.flood.unwrap();
    assert!(flood.client_gone, "{flood:?}");
    assert!(flood.elapsed < Duration::from_secs(5), "{flood:?}");
    assert!(flood.bytes_written >= 64 * 1024, "{flood:?}");
}

#[test]
fn harness_cram_md5_helper_matches_rfc2195() {
    // RFC 2195, section 2: the example exchange.
    assert_eq!(
        cram_md5_response(
            "tim",
            "tanstaaftanstaaf",
            b"<1896.697170952@postoffice.reston.mci.net>"
        ),
        "tim b913a602c7eda7a495b4e6e7334d3890"
    );
    // The value the CRAM-MD5 test below expects, computed independently with Python's
    // hmac module.
    assert_eq!(
        cram_md5_response(
            "alice",
            PASSWORD,
            b"<1896.697170952@postoffice.reston.mci.net>"
        ),
        "alice 3472478bf8cb55b0ae589259e7cd652b"
    );
}

// ---------------------------------------------------------------------------------------
// STARTTLS
// ---------------------------------------------------------------------------------------

#[test]
fn starttls_upgrades_and_says_ehlo_again() {
    let certs = TestCerts::new();
    let mut steps = greet_and_ehlo(&["PIPELINING", "STARTTLS"]);
    steps.extend([
        expect("STARTTLS"),
        send("220 2.0.0 go ahead\r\n"),
        Step::StartTls(certs.localhost.clone()),
        expect(&format!("EHLO {EHLO_NAME}")),
        send(ehlo_reply(&["PIPELINING", "AUTH PLAIN"])),
        expect("QUIT"),
        send("221 2.0.0 bye\r\n"),
        Step::ExpectEof,
    ]);
    let server = FakeServer::start(steps);
    let cafile = certs.localhost.cert_pem.to_str().unwrap();
    let run = smtpsh_run(&server, &["--starttls", "--cafile", cafile], "QUIT\n");
    let r = server.finish();
    run.assert_code(0);
    r.assert_ok();
    r.assert_raw(format!(
        "EHLO {EHLO_NAME}\r\nSTARTTLS\r\nEHLO {EHLO_NAME}\r\nQUIT\r\n"
    ));
    assert_eq!(
        r.tls_at,
        Some(format!("EHLO {EHLO_NAME}\r\nSTARTTLS\r\n").len())
    );
    run.assert_stdout_line(&format!("C: EHLO {EHLO_NAME}"))
        .assert_stdout_line("C: STARTTLS")
        .assert_stdout_line(&format!("C~ EHLO {EHLO_NAME}"))
        .assert_stdout_line("C~ QUIT")
        .assert_stdout_line("S~ 221");
}

/// Response injection (CVE-2011-0411 and kin): bytes after the 220 to STARTTLS must end the
/// connection before any TLS byte is written.
#[test]
fn starttls_response_injection_exits_5_and_sends_nothing_more() {
    let certs = TestCerts::new();
    let mut steps = greet_and_ehlo(&["PIPELINING", "STARTTLS"]);
    steps.extend([
        expect("STARTTLS"),
        send("220 go ahead\r\n250 injected\r\n"),
        Step::ExpectEof,
    ]);
    let server = FakeServer::start(steps);
    let cafile = certs.localhost.cert_pem.to_str().unwrap();
    let run = smtpsh_run(&server, &["--starttls", "--cafile", cafile], "QUIT\n");
    let r = server.finish();
    run.assert_code(5);
    r.assert_ok();
    r.assert_raw(format!("EHLO {EHLO_NAME}\r\nSTARTTLS\r\n"));
}

#[test]
fn starttls_required_but_not_offered_exits_4_after_ehlo() {
    let certs = TestCerts::new();
    let mut steps = greet_and_ehlo(&["PIPELINING", "8BITMIME"]);
    steps.push(Step::ExpectEof);
    let server = FakeServer::start(steps);
    let cafile = certs.localhost.cert_pem.to_str().unwrap();
    let run = smtpsh_run(&server, &["--starttls", "--cafile", cafile], "QUIT\n");
    let r = server.finish();
    run.assert_code(4);
    r.assert_ok();
    r.assert_raw(format!("EHLO {EHLO_NAME}\r\n"));
}

fn starttls_refused(reply: &str) {
    let certs = TestCerts::new();
    let mut steps = greet_and_ehlo(&["STARTTLS"]);
    steps.extend([expect("STARTTLS"), send(reply), Step::ExpectEof]);
    let server = FakeServer::start(steps);
    let cafile = certs.localhost.cert_pem.to_str().unwrap();
    let run = smtpsh_run(&server, &["--starttls", "--cafile", cafile], "QUIT\n");
    let r = server.finish();
    run.assert_code(4);
    r.assert_ok();
    r.assert_raw(format!("EHLO {EHLO_NAME}\r\nSTARTTLS\r\n"));
}

#[test]
fn starttls_answered_454_exits_4() {
    starttls_refused("454 4.7.0 TLS not available due to temporary reason\r\n");
}

#[test]
fn starttls_answered_502_exits_4() {
    starttls_refused("502 5.5.1 command not implemented\r\n");
}

/// Only a 220 starts TLS (PRODUCT.md, safety rule 2); a 354 is not "close enough".
#[test]
fn starttls_answered_354_exits_4() {
    starttls_refused("354 go ahead\r\n");
}

// ---------------------------------------------------------------------------------------
// Malformed, oversized, slow and vanishing servers
// ---------------------------------------------------------------------------------------

#[test]
fn multiline_reply_with_inconsistent_codes_exits_5() {
    let server = FakeServer::start(vec![
        send(GREETING),
        expect(&format!("EHLO {EHLO_NAME}")),
        send("250-fake.test\r\n251-PIPELINING\r\n250 8BITMIME\r\n"),
        Step::Drain,
    ]);
    let run = smtpsh_run(&server, &[], &format!("EHLO {EHLO_NAME}\nQUIT\n"));
    server.finish().assert_ok();
    run.assert_code(5);
}

/// A server that never ends its reply must not make the client buffer it forever
/// (PRODUCT.md, safety rule 6).
#[test]
fn endless_continuation_lines_exit_5_quickly() {
    let mut line = b"250-".to_vec();
    line.extend_from_slice(&[b'x'; 60]);
    line.extend_from_slice(b"\r\n");
    let server = FakeServer::start(vec![
        send(GREETING),
        expect(&format!("EHLO {EHLO_NAME}")),
        Step::Flood {
            line,
            max_lines: 2_000_000,
            max_time: Duration::from_secs(15),
        },
    ]);
    let run = smtpsh_run(&server, &[], &format!("EHLO {EHLO_NAME}\nQUIT\n"));
    let r = server.finish();
    r.assert_ok();
    run.assert_code(5);
    let flood = r.flood.expect("the flood ran");
    println!("{flood:?}");
    assert!(flood.client_gone, "the client stayed connected: {flood:?}");
    assert!(
        flood.elapsed < Duration::from_secs(10),
        "the client took {:?} to hang up",
        flood.elapsed
    );
}

#[test]
fn oversized_reply_line_exits_5() {
    let mut line = b"250 ".to_vec();
    line.extend(std::iter::repeat_n(b'x', 200_000));
    let server = FakeServer::start(vec![
        send(GREETING),
        expect(&format!("EHLO {EHLO_NAME}")),
        Step::Send(line),
        Step::Drain,
    ]);
    let run = smtpsh_run(&server, &[], &format!("EHLO {EHLO_NAME}\nQUIT\n"));
    server.finish();
    run.assert_code(5);
}

#[test]
fn reply_without_line_end_then_silence_exits_3() {
    let server = FakeServer::start(vec![
        send(GREETING),
        expect(&format!("EHLO {EHLO_NAME}")),
        send("250 fake.test"),
        Step::Drain,
    ]);
    let run = smtpsh_run(
        &server,
        &["--timeout", "1"],
        &format!("EHLO {EHLO_NAME}\nQUIT\n"),
    );
    server.finish().assert_ok();
    run.assert_code(3);
    assert!(
        run.elapsed < Duration::from_secs(4),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn silent_server_times_out_with_exit_3_in_about_a_second() {
    let server = FakeServer::start(vec![Step::Drain]);
    let run = smtpsh_run(&server, &["--timeout", "1"], "QUIT\n");
    let r = server.finish();
    run.assert_code(3);
    assert!(
        run.elapsed >= Duration::from_millis(900) && run.elapsed < Duration::from_millis(3500),
        "took {:?}",
        run.elapsed
    );
    // It never got a greeting, so it had nothing to say.
    r.assert_raw("");
}

/// Replies split into single bytes are still whole replies.
#[test]
fn dripping_server_one_byte_at_a_time_completes_a_session() {
    let server = FakeServer::start(vec![
        drip(GREETING),
        expect(&format!("EHLO {EHLO_NAME}")),
        drip(ehlo_reply(&[
            "PIPELINING",
            "8BITMIME",
            "ENHANCEDSTATUSCODES",
        ])),
        expect("MAIL FROM:<alice@test.local>"),
        drip("250 2.1.0 ok\r\n"),
        expect("RCPT TO:<bob@test.local>"),
        drip("250 2.1.5 ok\r\n"),
        expect("DATA"),
        drip("354 go ahead\r\n"),
        Step::ReadBody,
        drip("250 2.0.0 queued\r\n"),
        expect("QUIT"),
        drip("221 2.0.0 bye\r\n"),
        Step::ExpectEof,
    ]);
    let script = format!(
        "EHLO {EHLO_NAME}\n:expect 250\nMAIL FROM:<alice@test.local>\n:expect 2xx\n\
         RCPT TO:<bob@test.local>\n:expect 250 2.1.5\nDATA\nSubject: drip\n\n.leading dot\n\
         body\n.\n:expect 250\nQUIT\n"
    );
    let run = smtpsh_run(&server, &[], &script);
    let r = server.finish();
    run.assert_code(0);
    r.assert_ok();
    let body: Vec<&str> = r.lines.iter().skip(4).map(String::as_str).collect();
    assert_eq!(
        body,
        ["Subject: drip", "", "..leading dot", "body", ".", "QUIT"]
    );
    run.assert_stdout_line("S: 250 [2.0.0] queued");
}

#[test]
fn reset_after_354_exits_3() {
    let server = FakeServer::start(vec![
        send(GREETING),
        expect(&format!("EHLO {EHLO_NAME}")),
        send(ehlo_reply(&["PIPELINING"])),
        expect("MAIL FROM:"),
        send("250 ok\r\n"),
        expect("RCPT TO:"),
        send("250 ok\r\n"),
        expect("DATA"),
        send("354 go ahead\r\n"),
        Step::ReadLine,
        Step::Reset,
    ]);
    let script = format!(
        "EHLO {EHLO_NAME}\nMAIL FROM:<a@test.local>\nRCPT TO:<b@test.local>\nDATA\n\
         Subject: reset\n\nhello\n.\nQUIT\n"
    );
    let run = smtpsh_run(&server, &[], &script);
    server.finish().assert_ok();
    run.assert_code(3);
}

#[test]
fn connection_refused_exits_3() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // closed again: connecting is refused
    let mut cmd = smtpsh();
    cmd.args([
        "--ehlo",
        EHLO_NAME,
        "--timeout",
        "2",
        "--connect-timeout",
        "2",
    ])
    .arg(format!("127.0.0.1:{port}"))
    .write_stdin("QUIT\n");
    run(&mut cmd).assert_code(3);
}

// ---------------------------------------------------------------------------------------
// What is shown
// ---------------------------------------------------------------------------------------

/// Server text never drives the terminal (PRODUCT.md, "Output"): a colour sequence (CSI) in
/// the greeting and a window-title sequence (OSC ending in BEL) in a reply.
#[test]
fn escape_sequences_in_replies_are_shown_escaped() {
    let server = FakeServer::start(vec![
        send("220 fake.test \x1b[31mred\x1b[0m ready\r\n"),
        expect(&format!("EHLO {EHLO_NAME}")),
        send(ehlo_reply(&["PIPELINING"])),
        expect("NOOP"),
        send("250 2.0.0 \x1b]0;title\x07 ok\r\n"),
        expect("QUIT"),
        send("221 bye\r\n"),
        Step::ExpectEof,
    ]);
    let run = smtpsh_run(&server, &[], &format!("EHLO {EHLO_NAME}\nNOOP\nQUIT\n"));
    server.finish().assert_ok();
    run.assert_code(0);
    for (name, out) in [("stdout", &run.stdout_raw), ("stderr", &run.stderr_raw)] {
        assert!(
            !out.contains(&0x1b),
            "raw ESC on {name}\n{}",
            run.describe()
        );
        assert!(
            !out.contains(&0x07),
            "raw BEL on {name}\n{}",
            run.describe()
        );
    }
    assert!(run.stdout.contains("\\x1b[31m"), "{}", run.describe());
    assert!(run.stdout.contains("\\x1b]0;title"), "{}", run.describe());
}

/// Bare LF line ends are tolerated in replies (be liberal in what you accept).
#[test]
fn bare_lf_replies_are_tolerated() {
    let server = FakeServer::start(vec![
        send("220 hi\n"),
        expect(&format!("EHLO {EHLO_NAME}")),
        send("250 ok\n"),
        expect("QUIT"),
        send("221 bye\n"),
        Step::ExpectEof,
    ]);
    let run = smtpsh_run(&server, &[], &format!("EHLO {EHLO_NAME}\nQUIT\n"));
    server.finish().assert_ok();
    run.assert_code(0).assert_stdout_line("S: 250 ok");
}

// ---------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------

/// Implicit TLS to a server presenting `cert`, with `args`; on a successful handshake the
/// session is a greeting and QUIT.
fn implicit_tls(cert: &TestCert, args: &[&str]) -> (Run, Received) {
    let server = FakeServer::start(vec![
        Step::StartTls(cert.clone()),
        send(GREETING),
        expect("QUIT"),
        send("221 2.0.0 bye\r\n"),
        Step::ExpectEof,
    ]);
    let mut all = vec!["--tls-on-connect"];
    all.extend_from_slice(args);
    let run = smtpsh_run(&server, &all, "QUIT\n");
    (run, server.finish())
}

#[test]
fn tls_self_signed_without_cafile_exits_4() {
    let certs = TestCerts::new();
    let (run, r) = implicit_tls(&certs.localhost, &[]);
    run.assert_code(4);
    assert!(r.failure.is_some(), "the handshake should have failed");
    r.assert_raw("");
}

#[test]
fn tls_self_signed_with_cafile_exits_0_and_shows_the_certificate() {
    let certs = TestCerts::new();
    let cafile = certs.localhost.cert_pem.to_str().unwrap();
    let (run, r) = implicit_tls(&certs.localhost, &["--cafile", cafile]);
    run.assert_code(0);
    r.assert_ok().assert_raw("QUIT\r\n");
    assert!(
        shows_fingerprint(&run, &certs.localhost),
        "no SHA-256 fingerprint line\n{}",
        run.describe()
    );
    run.assert_stdout_line("S~ 220")
        .assert_stdout_line("C~ QUIT");
    // RFC 6066, section 3: an IP address is never sent as SNI.
    assert_eq!(r.sni, None);
}

#[test]
fn tls_insecure_accepts_a_self_signed_certificate_with_a_warning() {
    let certs = TestCerts::new();
    let (run, r) = implicit_tls(&certs.localhost, &["--insecure"]);
    run.assert_code(0);
    r.assert_ok();
    assert!(has_warning(&run), "no `! ` warning\n{}", run.describe());
}

/// `--insecure` still says what is wrong, worked out from the certificate: native-tls gives
/// no verdict once verification is off.
#[test]
fn tls_insecure_names_what_would_have_failed() {
    let certs = TestCerts::new();
    let insecure = |cert: &TestCert, args: &[&str]| {
        let mut all = vec!["--insecure"];
        all.extend_from_slice(args);
        let (run, r) = implicit_tls(cert, &all);
        run.assert_code(0);
        r.assert_ok();
        run.stdout
            .lines()
            .find(|l| l.starts_with("! INSECURE: "))
            .unwrap_or_else(|| panic!("no INSECURE line\n{}", run.describe()))
            .to_string()
    };
    assert_eq!(
        insecure(&certs.localhost, &[]),
        "! INSECURE: the certificate was NOT verified for \"127.0.0.1\": self-signed certificate; anyone on the path could be reading this session"
    );
    let cafile = certs.wrong.cert_pem.to_str().unwrap();
    assert_eq!(
        insecure(&certs.wrong, &["--cafile", cafile]),
        "! INSECURE: the certificate was NOT verified for \"127.0.0.1\": name mismatch (the certificate is for wrong.example); anyone on the path could be reading this session"
    );
    // Expired a day ago.
    let mut spec = smtpsh::practice::cert::CertSpec::new("localhost");
    spec.ips = vec!["127.0.0.1".parse().unwrap()];
    spec.not_before = std::time::SystemTime::now() - Duration::from_secs(3 * 86_400);
    spec.not_after = std::time::SystemTime::now() - Duration::from_secs(86_400);
    let made = smtpsh::practice::cert::self_signed(&spec).unwrap();
    let expired = TestCert {
        name: "expired",
        cert_pem: write_file(certs.dir.path(), "expired.pem", &made.cert_pem),
        key_pem: write_file(certs.dir.path(), "expired.key", &made.key_pem),
        made: std::sync::Arc::new(made),
    };
    let cafile = expired.cert_pem.to_str().unwrap();
    let line = insecure(&expired, &["--cafile", cafile]);
    assert!(
        line.contains("\": certificate has expired (on ")
            && line.ends_with(" GMT); anyone on the path could be reading this session"),
        "{line}"
    );
    // Without --insecure the same certificate is refused: exit 4, and the reason.
    let (run, _) = implicit_tls(&expired, &["--cafile", cafile]);
    run.assert_code(4);
    assert!(
        run.stderr
            .contains("certificate verification failed for \"127.0.0.1\": certificate has expired"),
        "{}",
        run.describe()
    );
}

/// A server that closes the connection under TLS without close_notify: the network's
/// failure (exit 3), as in plaintext, not a TLS one.
#[test]
fn tls_close_without_close_notify_exits_3() {
    let certs = TestCerts::new();
    let cafile = certs.localhost.cert_pem.to_str().unwrap();
    let server = FakeServer::start(vec![
        Step::StartTls(certs.localhost.clone()),
        send(GREETING),
        expect(&format!("EHLO {EHLO_NAME}")),
        Step::Close,
    ]);
    let run = smtpsh_run(
        &server,
        &["--tls-on-connect", "--cafile", cafile],
        &format!("EHLO {EHLO_NAME}\nQUIT\n"),
    );
    server.finish().assert_ok();
    run.assert_code(3);
}

#[test]
fn tls_name_mismatch_exits_4() {
    let certs = TestCerts::new();
    let cafile = certs.wrong.cert_pem.to_str().unwrap();
    let (run, r) = implicit_tls(&certs.wrong, &["--cafile", cafile]);
    run.assert_code(4);
    r.assert_raw("");
}

#[test]
fn tls_name_localhost_verifies_the_localhost_certificate() {
    let certs = TestCerts::new();
    let cafile = certs.localhost.cert_pem.to_str().unwrap();
    let (run, r) = implicit_tls(
        &certs.localhost,
        &["--cafile", cafile, "--tls-name", "localhost"],
    );
    run.assert_code(0);
    r.assert_ok();
    assert_eq!(r.sni.as_deref(), Some("localhost"));
}

/// With a certificate naming only `localhost`, the IP address typed does not verify, and
/// `--tls-name localhost` is what makes it verify.
#[test]
fn tls_name_is_what_gets_verified() {
    let certs = TestCerts::new();
    let cafile = certs.localhost_dns_only.cert_pem.to_str().unwrap();
    let (run, _) = implicit_tls(&certs.localhost_dns_only, &["--cafile", cafile]);
    run.assert_code(4);
    let (run, r) = implicit_tls(
        &certs.localhost_dns_only,
        &["--cafile", cafile, "--tls-name", "localhost"],
    );
    run.assert_code(0);
    r.assert_ok();
    assert_eq!(r.sni.as_deref(), Some("localhost"));
}

// ---------------------------------------------------------------------------------------
// Command line checks (PRODUCT.md, safety rule 3)
// ---------------------------------------------------------------------------------------

/// A script of EHLO, then `bad_line`: the line is refused (exit 2) when the script is
/// checked, before smtpsh connects, so nothing at all reaches the server.
fn refused_line(bad_line: &[u8]) {
    let mut steps = greet_and_ehlo(&["PIPELINING"]);
    steps.push(Step::Drain);
    let server = FakeServer::start(steps);
    let mut script = format!("EHLO {EHLO_NAME}\n").into_bytes();
    script.extend_from_slice(bad_line);
    script.extend_from_slice(b"\nNOOP after\nQUIT\n");
    let mut cmd = smtpsh();
    cmd.args(["--ehlo", EHLO_NAME, "--timeout", "5"])
        .arg(server.target())
        .write_stdin(script);
    let run = run(&mut cmd);
    let r = server.finish_unused_ok();
    run.assert_code(2);
    assert!(
        !r.accepted,
        "smtpsh connected for a refused script\n{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("<stdin>:2: refused"),
        "the refusal does not name the line\n{}",
        run.describe()
    );
}

#[test]
fn command_line_with_cr_is_refused() {
    refused_line(b"MAIL FROM:<a@test.local>\rRCPT TO:<b@test.local>");
}

#[test]
fn command_line_with_nul_is_refused() {
    refused_line(b"MAIL FROM:<a@test.local>\0");
}

#[test]
fn command_line_with_esc_is_refused() {
    refused_line(b"MAIL FROM:<a\x1b[31m@test.local>");
}

#[test]
fn command_line_of_511_octets_is_refused() {
    let mut line = b"NOOP ".to_vec();
    line.resize(511, b'a');
    refused_line(&line);
}

/// The other side of the two checks above: 510 octets and a TAB are fine.
#[test]
fn command_line_of_510_octets_with_a_tab_is_sent() {
    let mut line = "NOOP a\tb ".to_string();
    while line.len() < 510 {
        line.push('a');
    }
    let mut steps = greet_and_ehlo(&[]);
    steps.extend([
        expect(&line),
        send("250 ok\r\n"),
        expect("QUIT"),
        send("221 bye\r\n"),
    ]);
    let server = FakeServer::start(steps);
    let run = smtpsh_run(&server, &[], &format!("EHLO {EHLO_NAME}\n{line}\nQUIT\n"));
    server.finish().assert_ok();
    run.assert_code(0);
}

#[test]
fn ehlo_option_with_cr_is_refused_before_anything_is_sent() {
    let certs = TestCerts::new();
    let server = FakeServer::start(vec![send(GREETING), Step::Drain]);
    let cafile = certs.localhost.cert_pem.to_str().unwrap();
    let run = smtpsh_run(
        &server,
        &["--ehlo", "bad\rname", "--starttls", "--cafile", cafile],
        "QUIT\n",
    );
    let r = server.finish_unused_ok();
    run.assert_code(2);
    r.assert_raw("");
}

// ---------------------------------------------------------------------------------------
// :expect and unexpected replies
// ---------------------------------------------------------------------------------------

/// EHLO, MAIL, and a RCPT answered `rcpt_reply`; then the script goes on with `after` and the
/// server with `then`.
fn rcpt_session(rcpt_reply: &str, after: &str, then: Vec<Step>, args: &[&str]) -> (Run, Received) {
    let mut steps = greet_and_ehlo(&["ENHANCEDSTATUSCODES"]);
    steps.extend([
        expect("MAIL FROM:<alice@test.local>"),
        send("250 2.1.0 ok\r\n"),
        expect("RCPT TO:<nobody@test.local>"),
        send(rcpt_reply),
    ]);
    steps.extend(then);
    let server = FakeServer::start(steps);
    let script = format!(
        "EHLO {EHLO_NAME}\nMAIL FROM:<alice@test.local>\nRCPT TO:<nobody@test.local>\n{after}"
    );
    let run = smtpsh_run(&server, args, &script);
    (run, server.finish())
}

/// The server's side of `NOOP after-rcpt` (optional) and QUIT.
fn noop_and_quit(noop: bool) -> Vec<Step> {
    let mut steps = Vec::new();
    if noop {
        steps.extend([expect("NOOP after-rcpt"), send("250 2.0.0 ok\r\n")]);
    }
    steps.extend([expect("QUIT"), send("221 2.0.0 bye\r\n"), Step::ExpectEof]);
    steps
}

fn received_line(r: &Received, prefix: &str) -> bool {
    r.lines.iter().any(|l| l.starts_with(prefix))
}

#[test]
fn unexpected_550_stops_the_script_with_exit_1() {
    let (run, r) = rcpt_session(
        "550 5.1.1 no such user\r\n",
        "NOOP after-rcpt\nQUIT\n",
        vec![Step::Drain],
        &[],
    );
    run.assert_code(1);
    r.assert_ok();
    assert!(!received_line(&r, "NOOP after-rcpt"), "{}", r.text());
}

#[test]
fn expect_550_accepts_a_550() {
    let (run, r) = rcpt_session(
        "550 5.1.1 no such user\r\n",
        ":expect 550\nNOOP after-rcpt\nQUIT\n",
        noop_and_quit(true),
        &[],
    );
    run.assert_code(0);
    r.assert_ok();
    run.assert_stdout_line("S: 550 [5.1.1] no such user");
}

#[test]
fn expect_enhanced_code_accepts_a_matching_reply() {
    let (run, r) = rcpt_session(
        "550 5.1.1 no\r\n",
        ":expect 5.1.1\nQUIT\n",
        noop_and_quit(false),
        &[],
    );
    run.assert_code(0);
    r.assert_ok();
}

#[test]
fn expect_code_and_enhanced_code_accepts_a_matching_reply() {
    let (run, r) = rcpt_session(
        "550 5.1.1 no\r\n",
        ":expect 550 5.1.1\nQUIT\n",
        noop_and_quit(false),
        &[],
    );
    run.assert_code(0);
    r.assert_ok();
}

#[test]
fn expect_250_against_550_exits_1() {
    let (run, r) = rcpt_session(
        "550 5.1.1 no such user\r\n",
        ":expect 250\nNOOP after-rcpt\nQUIT\n",
        vec![Step::Drain],
        &[],
    );
    run.assert_code(1);
    r.assert_ok();
    assert!(!received_line(&r, "NOOP after-rcpt"), "{}", r.text());
}

/// `--keep-going` goes on after an unexpected 550. (Whether the exit code then still reports
/// the 550 is not checked here.)
#[test]
fn keep_going_goes_on_after_an_unexpected_550() {
    let (run, r) = rcpt_session(
        "550 5.1.1 no such user\r\n",
        "NOOP after-rcpt\nQUIT\n",
        noop_and_quit(true),
        &["--keep-going"],
    );
    r.assert_ok();
    assert!(run.code.is_some(), "{}", run.describe());
}

// ---------------------------------------------------------------------------------------
// DATA from a file
// ---------------------------------------------------------------------------------------

/// `:send FILE` normalises every line end to CRLF, dot-stuffs, and ends with exactly one
/// CRLF.CRLF even when the file has no final newline (PRODUCT.md, safety rule 4).
#[test]
fn send_file_normalises_line_ends_and_dot_stuffs() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "msg.txt",
        b"Subject: send\n\n.dot\r\nbare cr\rcrlf\r\n.\nlast",
    );
    let mut steps = greet_and_ehlo(&["PIPELINING"]);
    steps.extend([
        expect("MAIL FROM:<a@test.local>"),
        send("250 ok\r\n"),
        expect("RCPT TO:<b@test.local>"),
        send("250 ok\r\n"),
        expect("DATA"),
        send("354 go ahead\r\n"),
        Step::ReadBody,
        send("250 queued\r\n"),
        expect("QUIT"),
        send("221 bye\r\n"),
    ]);
    let server = FakeServer::start(steps);
    let script = format!(
        "EHLO {EHLO_NAME}\nMAIL FROM:<a@test.local>\nRCPT TO:<b@test.local>\n:send {}\n\
         :expect 250\nQUIT\n",
        file.display()
    );
    let run = smtpsh_run(&server, &[], &script);
    let r = server.finish();
    run.assert_code(0);
    r.assert_ok();
    r.assert_raw(format!(
        "EHLO {EHLO_NAME}\r\nMAIL FROM:<a@test.local>\r\nRCPT TO:<b@test.local>\r\nDATA\r\n\
         Subject: send\r\n\r\n..dot\r\nbare cr\r\ncrlf\r\n..\r\nlast\r\n.\r\nQUIT\r\n"
    ));
}

// ---------------------------------------------------------------------------------------
// Secrets (PRODUCT.md, safety rule 5)
// ---------------------------------------------------------------------------------------

/// `:auth MECH alice` against a server offering MECH with `challenges`; returns the run, what
/// the server got, and the HOME the binary ran with.
fn auth_session(
    mech: &str,
    challenges: Vec<String>,
    args: &[&str],
    auth_line: &str,
    password_env: bool,
) -> (Run, Received, tempfile::TempDir) {
    let mut steps = greet_and_ehlo(&["PIPELINING", "AUTH PLAIN LOGIN CRAM-MD5"]);
    steps.extend([
        Step::Auth {
            mech: mech.into(),
            challenges,
            success: "235 2.7.0 Authentication successful\r\n".into(),
        },
        expect("QUIT"),
        send("221 2.0.0 bye\r\n"),
        Step::ExpectEof,
    ]);
    let server = FakeServer::start(steps);
    let home = tempfile::tempdir().unwrap();
    let mut cmd = smtpsh_with_home(home.path());
    if password_env {
        cmd.env("SMTPSH_PASSWORD", PASSWORD);
    }
    // The fake server speaks no TLS: the credentials go in the clear on purpose.
    cmd.args(["--ehlo", EHLO_NAME, "--timeout", "5", "--plaintext-auth"])
        .args(args)
        .arg(server.target())
        .write_stdin(format!(
            "EHLO {EHLO_NAME}\n{auth_line}\n:expect 235\nQUIT\n"
        ));
    let run = run(&mut cmd);
    let r = server.finish();
    (run, r, home)
}

/// Nothing secret on stdout, stderr, or in any file under HOME; the AUTH step is shown
/// redacted. `secret_responses` are the AUTH responses that carry a secret (all but the
/// user name of LOGIN).
fn assert_secrets_kept(run: &Run, secret_responses: &[&String], home: &Path) {
    run.assert_not_shown("the password", PASSWORD)
        .assert_not_shown("the password in base64", &b64(PASSWORD));
    for resp in secret_responses {
        run.assert_not_shown("an AUTH response", resp);
    }
    assert!(
        run.stdout.contains("<redacted>"),
        "the AUTH step is not shown redacted\n{}",
        run.describe()
    );
    for f in files_under(home) {
        let bytes = std::fs::read(&f).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(PASSWORD),
            "the password is in {}",
            f.display()
        );
        for resp in secret_responses {
            assert!(
                !text.contains(resp.as_str()),
                "an AUTH response is in {}",
                f.display()
            );
        }
    }
}

#[test]
fn auth_plain_sends_the_right_response_and_shows_no_secret() {
    let (run, r, home) = auth_session("PLAIN", vec![String::new()], &[], ":auth PLAIN alice", true);
    run.assert_code(0);
    r.assert_ok();
    assert_eq!(r.auth_responses.len(), 1, "{r:?}");
    assert_eq!(
        unb64(&r.auth_responses[0]),
        format!("\0alice\0{PASSWORD}").as_bytes()
    );
    run.assert_not_shown("the PLAIN response", &b64(format!("\0alice\0{PASSWORD}")));
    assert_secrets_kept(&run, &[&r.auth_responses[0]], home.path());
}

#[test]
fn auth_login_sends_the_right_responses_and_shows_no_secret() {
    let (run, r, home) = auth_session(
        "LOGIN",
        vec![b64("Username:"), b64("Password:")],
        &[],
        ":auth LOGIN alice",
        true,
    );
    run.assert_code(0);
    r.assert_ok();
    assert_eq!(r.auth_responses.len(), 2, "{r:?}");
    assert_eq!(unb64(&r.auth_responses[0]), b"alice");
    assert_eq!(unb64(&r.auth_responses[1]), PASSWORD.as_bytes());
    assert_secrets_kept(&run, &[&r.auth_responses[1]], home.path());
}

#[test]
fn auth_cram_md5_sends_the_right_digest_and_shows_no_secret() {
    let challenge = b"<1896.697170952@postoffice.reston.mci.net>";
    let (run, r, home) = auth_session(
        "CRAM-MD5",
        vec![b64(challenge)],
        &[],
        ":auth CRAM-MD5 alice",
        true,
    );
    run.assert_code(0);
    r.assert_ok();
    assert_eq!(r.auth_responses.len(), 1, "{r:?}");
    let expected = cram_md5_response("alice", PASSWORD, challenge);
    assert_eq!(
        String::from_utf8_lossy(&unb64(&r.auth_responses[0])),
        expected
    );
    let digest = expected.rsplit(' ').next().unwrap();
    run.assert_not_shown("the CRAM-MD5 digest", digest);
    assert_secrets_kept(&run, &[&r.auth_responses[0]], home.path());
}

/// `--password-file` drops one trailing newline; `--user` names the user.
#[test]
fn auth_password_file_and_user_option() {
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", format!("{PASSWORD}\n"));
    let pw = pw.to_str().unwrap();
    let (run, r, home) = auth_session(
        "PLAIN",
        vec![String::new()],
        &["--user", "alice", "--password-file", pw],
        ":auth PLAIN",
        false,
    );
    run.assert_code(0);
    r.assert_ok();
    assert_eq!(
        unb64(&r.auth_responses[0]),
        format!("\0alice\0{PASSWORD}").as_bytes()
    );
    assert_secrets_kept(&run, &[&r.auth_responses[0]], home.path());
}
