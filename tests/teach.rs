//! Teaching mode and the built-in practice server as users start them: `--practice` (the
//! server in the same process), `--serve` (a classroom server in its own process), and the
//! shell commands that go with them: `:inbox`, `:explain`, `:state`, `:wire`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn practice(script: &str, extra: &[&str]) -> Run {
    let mut cmd = smtpsh();
    cmd.args(["--practice", "--ehlo", "client.example"])
        .args(extra)
        .env("SMTPSH_PASSWORD", "alicepass")
        .write_stdin(script);
    run(&mut cmd)
}

#[test]
fn practice_session_delivers_and_inbox_shows_it() {
    let run = practice(
        "EHLO\n:starttls\n:auth PLAIN alice\nMAIL FROM:<alice@practice.smtpsh.test>\nRCPT TO:<bob@practice.smtpsh.test>\n\
         DATA\nSubject: lesson one\n\n.a leading dot\n.\n:expect 250\n:inbox\n:inbox 1\nQUIT\n",
        &[],
    );
    run.assert_code(0);
    // STARTTLS to the practice server verifies: its certificate is trusted for this session.
    assert!(
        run.stdout.contains("*   verified for 127.0.0.1"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("S~ 235 [2.7.0]"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("1 message received by the practice server"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("tls  auth alice  lesson one"),
        "{}",
        run.stdout
    );
    // The message as received: the stuffed dot is gone again.
    assert!(run.stdout.contains("  | .a leading dot"), "{}", run.stdout);
    assert!(
        !run.all_output().contains("alicepass"),
        "the password was shown"
    );
}

#[test]
fn explain_puts_a_line_under_every_reply() {
    let run = practice("EHLO\nRCPT TO:<x@y.test>\n:expect 503\nQUIT\n", &[]);
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("S: ") && l.contains(" ms)") {
            let next = lines.get(i + 1).copied().unwrap_or("");
            let next = if next.starts_with("* capabilities") {
                lines[i + 2]
            } else {
                next
            };
            assert!(
                next.starts_with("? "),
                "no explanation after {l:?}: {next:?}"
            );
        }
    }
    assert!(run.stdout.contains("? 503 5.5.1:"), "{}", run.stdout);
}

#[test]
fn out_of_order_commands_get_a_note_and_are_still_sent() {
    let run = practice(
        "EHLO\nRCPT TO:<bob@practice.smtpsh.test>\n:expect 503 5.5.1\nDATA\n:expect 503\nQUIT\n",
        &[],
    );
    run.assert_code(0);
    let out = &run.stdout;
    let note = out
        .find("* RCPT before MAIL: the server will likely answer 503 5.5.1")
        .expect(out);
    let sent = out
        .find("C: RCPT TO:<bob@practice.smtpsh.test>")
        .expect(out);
    assert!(note < sent, "the note must come before the command:\n{out}");
    assert!(out.contains("* DATA before MAIL and RCPT"), "{out}");
}

#[test]
fn no_teaching_notes_without_explain() {
    let server = FakeServer::start(vec![
        send(GREETING),
        expect("RCPT"),
        send("503 5.5.1 no\r\n"),
        expect("QUIT"),
        send("221 bye\r\n"),
    ]);
    let mut cmd = smtpsh();
    cmd.arg(server.target())
        .write_stdin("RCPT TO:<a@b>\n:expect 503\nQUIT\n");
    let run = run(&mut cmd);
    run.assert_code(0);
    assert!(
        !run.stdout.contains("will likely answer") && !run.stdout.contains("\n? "),
        "{}",
        run.stdout
    );
    server.finish().assert_ok();
}

#[test]
fn explain_command_and_state_stages() {
    let run = practice(
        ":explain 550 5.1.1\n:explain 4.2.2\nEHLO\nMAIL FROM:<a@practice.smtpsh.test>\n:state\nQUIT\n",
        &[],
    );
    run.assert_code(0);
    assert!(run.stdout.contains("550  "), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("detail 5.1.1: the mailbox does not exist"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("detail 4.2.2:"), "{}", run.stdout);
    assert!(run.stdout.contains("-> 3. recipients"), "{}", run.stdout);
    assert!(
        run.stdout.contains("(sender accepted, no recipient yet)"),
        "{}",
        run.stdout
    );
    let bad = practice(":explain 650\n", &[]);
    bad.assert_code(2);
    assert!(bad.stderr.contains("not a reply code"), "{}", bad.stderr);
}

#[test]
fn wire_view_shows_crlf_and_dot_stuffing() {
    let run = practice(
        "EHLO\nMAIL FROM:<a@practice.smtpsh.test>\nRCPT TO:<bob@practice.smtpsh.test>\n:wire\nDATA\n.x\n.\n:wire\nQUIT\n",
        &[],
    );
    run.assert_code(0);
    assert!(run.stdout.contains("C: DATA\\r\\n"), "{}", run.stdout);
    assert!(run.stdout.contains("C: ..x\\r\\n"), "{}", run.stdout);
    assert!(run.stdout.contains("C: .\\r\\n"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("S: 354 End data with <CR><LF>.<CR><LF>\\r\\n"),
        "{}",
        run.stdout
    );
    // Off again: QUIT is shown plainly.
    assert!(run.stdout.contains("C: QUIT\n"), "{}", run.stdout);
}

#[test]
fn inbox_needs_the_practice_server() {
    let run = run(smtpsh().write_stdin(":inbox\n"));
    run.assert_code(2);
    assert!(
        run.stderr.contains("start smtpsh with --practice"),
        "{}",
        run.stderr
    );
}

#[test]
fn practice_options_reach_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let users = write_file(dir.path(), "class.txt", "# class list\ncarol:carolpass\n");
    let cert = dir.path().join("cert.pem");
    let maildir = dir.path().join("Maildir");
    let mut cmd = smtpsh();
    cmd.args(["--practice", "--require-auth", "--users", users.to_str().unwrap(), "--cert-out", cert.to_str().unwrap(), "--maildir", maildir.to_str().unwrap()])
        .env("SMTPSH_PASSWORD", "carolpass")
        .write_stdin("EHLO\nMAIL FROM:<c@practice.smtpsh.test>\n:expect 530\n:auth LOGIN carol\nMAIL FROM:<c@practice.smtpsh.test>\nRCPT TO:<bob@practice.smtpsh.test>\nDATA\nSubject: kept\n\nbody\n.\nQUIT\n");
    let run = run(&mut cmd);
    run.assert_code(0);
    assert!(
        std::fs::read_to_string(&cert)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    let files: Vec<_> = std::fs::read_dir(maildir.join("new")).unwrap().collect();
    assert_eq!(files.len(), 1, "one message in the Maildir");
}

/// `--serve` in its own process, as a teacher runs it: it prints where it listens and the
/// fingerprint; a student's smtpsh (another process) trusts the written certificate and sends.
#[test]
fn serve_runs_a_classroom_server() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("class.pem");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    // A home of its own: --serve keeps its certificate under XDG_DATA_HOME.
    let mut server = Command::new(BIN)
        .args(["--serve", &addr, "--cert-out", cert.to_str().unwrap()])
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(server.stdout.take().unwrap());
    let mut banner = String::new();
    for _ in 0..5 {
        out.read_line(&mut banner).unwrap();
    }
    let result = std::panic::catch_unwind(|| {
        assert!(
            banner.contains(&format!("smtpsh practice server on {addr}")),
            "{banner}"
        );
        assert!(banner.contains("alice/alicepass"), "{banner}");
        assert!(banner.contains("SHA-256 "), "{banner}");
        let mut cmd = smtpsh();
        cmd.args(["--starttls", "--cafile", cert.to_str().unwrap(), &addr])
            .write_stdin("MAIL FROM:<s@practice.smtpsh.test>\nRCPT TO:<alice@practice.smtpsh.test>\nDATA\nSubject: homework\n\ndone\n.\n:expect 250\nQUIT\n");
        run(&mut cmd).assert_code(0);
    });
    let _ = server.kill();
    let _ = server.wait_timeout_or_kill();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

trait WaitTimeout {
    fn wait_timeout_or_kill(&mut self) -> std::io::Result<()>;
}

impl WaitTimeout for std::process::Child {
    fn wait_timeout_or_kill(&mut self) -> std::io::Result<()> {
        for _ in 0..50 {
            if self.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.kill()
    }
}

/// The example scripts also run against the practice server, which follows the same rules
/// as a real MTA for them (unknown `no-such…` users 550, SIZE 552). It accepts any other
/// recipient — it relays, as far as the open-relay check can tell — so that check fails there.
#[test]
fn example_scripts_against_the_practice_server() {
    let dir = format!("{}/examples", env!("CARGO_MANIFEST_DIR"));
    for (script, code) in [
        ("recipient-check.smtp", 0),
        ("size-limit-check.smtp", 0),
        ("bulk-send.smtp", 0),
        ("open-relay-check.smtp", 1),
    ] {
        let mut cmd = smtpsh();
        cmd.args(["--practice", "--script", &format!("{dir}/{script}")]);
        let run = run(&mut cmd);
        assert_eq!(run.code, Some(code), "{script}\n{}", run.describe());
    }
    let mut cmd = smtpsh();
    cmd.args([
        "--practice",
        "--starttls",
        "--user",
        "alice",
        "--script",
        &format!("{dir}/submission-check.smtp"),
    ])
    .env("SMTPSH_PASSWORD", "alicepass");
    run(&mut cmd).assert_code(0);
}
