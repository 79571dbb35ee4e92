//! `--serve` as a class meets it (issue 14): the banner's student commands work as printed
//! for every way in, the certificate is kept across restarts (and a student whose saved
//! copy went stale is told so), the teacher's own certificate is served, the teacher's
//! commands work from standard input, `--json` gives the events, the summary comes at exit
//! on Ctrl-C, and Maildir files name the user and the session. (The pseudo-terminal side —
//! the `teacher>` prompt with the log — is typed in tests/tutorial.rs; here only a signal
//! arriving while it waits.)
//!
//! Every server listens on loopback, port 0, with a home of its own.

// Signals (`kill -INT`) are a Unix thing.
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// A `smtpsh --serve` process and what it printed so far.
struct Serve {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<String>>,
    addr: String,
}

impl Serve {
    /// `smtpsh --serve ADDR ARGS…` with `home` as its home; waits for the banner.
    fn start(addr: &str, args: &[&str], home: &Path) -> Serve {
        let mut child = Command::new(BIN)
            .arg("--serve")
            .arg(addr)
            .args(args)
            .env("NO_COLOR", "1")
            .env("HOME", home)
            .env("XDG_DATA_HOME", home.join("data"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start smtpsh --serve");
        let out = Arc::new(Mutex::new(String::new()));
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let out = out.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let mut o = out.lock().unwrap();
                    o.push_str(&line);
                    o.push('\n');
                }
            });
        }
        let stdin = child.stdin.take();
        let mut s = Serve {
            child,
            stdin,
            out,
            addr: String::new(),
        };
        s.wait_for("Ctrl-C stops the server.");
        let text = s.text();
        s.addr = text
            .lines()
            .find_map(|l| l.strip_prefix("smtpsh practice server on "))
            .expect("the banner names the address")
            .to_string();
        s
    }

    fn text(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    #[track_caller]
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.text();
            if text.contains(needle) {
                return text;
            }
            if Instant::now() > deadline || self.child.try_wait().unwrap().is_some() {
                let _ = self.child.kill();
                panic!("--serve never printed {needle:?}; it printed:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// The student commands the banner prints, as argument lists.
    fn student_commands(&self) -> Vec<Vec<String>> {
        let text = self.text();
        let banner = text.split("Ctrl-C stops the server.").next().unwrap();
        banner
            .lines()
            .skip(1)
            .filter_map(|l| l.trim_start().strip_prefix("students").or(Some(l)))
            .filter_map(|l| l.trim_start().strip_prefix("smtpsh "))
            .map(|l| l.split_whitespace().map(String::from).collect())
            .collect()
    }

    /// Wait for the process to end (after `:quit` or a signal); what it printed.
    fn finish(mut self) -> (Option<i32>, String) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("--serve did not end; it printed:\n{}", self.text());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader threads see the pipes close.
        std::thread::sleep(Duration::from_millis(100));
        (status, self.text())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn home() -> PathBuf {
    tempfile::Builder::new()
        .prefix("class-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep()
}

/// A student runs `args` (a banner command) with `script` on standard input.
fn student(args: &[String], script: &str, home: &Path) -> Run {
    let mut cmd = smtpsh_with_home(home);
    cmd.args(args)
        .args(["--ehlo", "pc1.example"])
        .env("SMTPSH_PASSWORD", "alicepass")
        .write_stdin(script);
    run(&mut cmd)
}

// See: issue 14, with `--serve 127.0.0.2:2601` the banner's command failed with "IP address
// mismatch", exit 4.
#[test]
fn every_banner_command_works_as_printed() {
    for listen in ["127.0.0.1:0", "127.0.0.2:0"] {
        let home = home();
        let pem = home.join("class.pem");
        let serve = Serve::start(listen, &["--cert-out", pem.to_str().unwrap()], &home);
        let commands = serve.student_commands();
        let want = if listen.starts_with("127.0.0.1") {
            2
        } else {
            1
        };
        assert_eq!(commands.len(), want, "{listen}:\n{}", serve.text());
        for args in &commands {
            assert_eq!(
                args[..4],
                ["--starttls", "--cafile", pem.to_str().unwrap(), "--explain"],
                "{}",
                serve.text()
            );
            let host = args[4].rsplit_once(':').unwrap().0.to_string();
            let run = student(args, "NOOP\n:expect 250\nQUIT\n", &home);
            run.assert_code(0);
            assert!(
                run.stdout.contains(&format!("*   verified for {host}\n")),
                "{args:?}\n{}",
                run.describe()
            );
            assert!(
                run.stdout.contains("? 250 2.0.0: "),
                "--explain: {}",
                run.describe()
            );
        }
    }
}

#[test]
fn the_certificate_is_kept_and_a_stale_copy_is_named() {
    let home = home();
    let pem = home.join("class.pem");
    let pem_arg = ["--cert-out", pem.to_str().unwrap()];
    let fingerprint = |text: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix("certificate  SHA-256 "))
            .unwrap()
            .to_string()
    };
    let mut first = Serve::start("127.0.0.1:0", &pem_arg, &home);
    let kept = home.join("data/smtpsh/practice-cert.pem");
    assert!(
        first
            .text()
            .contains(&format!("made now and kept in {}\n", kept.display())),
        "{}",
        first.text()
    );
    let one = fingerprint(&first.text());
    first.type_line(":quit");
    let (code, _) = first.finish();
    assert_eq!(code, Some(0));
    let saved = std::fs::read_to_string(&pem).unwrap();

    // Again on the same address: the same certificate, and the banner says the saved
    // copies still work.
    let second = Serve::start("127.0.0.1:0", &[], &home);
    assert_eq!(fingerprint(&second.text()), one);
    assert!(
        second
            .text()
            .contains("(the same as last time: students' saved copies still work)"),
        "{}",
        second.text()
    );
    let args: Vec<String> = [
        "--starttls",
        "--cafile",
        pem.to_str().unwrap(),
        &second.addr,
    ]
    .map(String::from)
    .to_vec();
    student(&args, "QUIT\n", &home).assert_code(0);
    drop(second);

    // Another machine (no kept certificate there) on the same address: the student's saved
    // copy is stale, and the student is told so.
    let elsewhere = home.join("elsewhere");
    let third = Serve::start("127.0.0.1:0", &[], &elsewhere);
    assert_ne!(fingerprint(&third.text()), one);
    let args: Vec<String> = ["--starttls", "--cafile", pem.to_str().unwrap(), &third.addr]
        .map(String::from)
        .to_vec();
    let run = student(&args, "QUIT\n", &home);
    run.assert_code(4);
    assert!(
        run.stderr.contains(&format!(
            "the practice server's certificate changed since you saved {}: get the new one from the teacher",
            pem.display()
        )),
        "{}",
        run.describe()
    );
    drop(third);

    // An address the kept one does not name: a new one, and the banner says why.
    let fourth = Serve::start("127.0.0.2:0", &[], &home);
    assert_ne!(fingerprint(&fourth.text()), one);
    assert!(
        fourth.text().contains(
            "the kept certificate does not name 127.0.0.2, so every student needs this new one"
        ),
        "{}",
        fourth.text()
    );
    assert_ne!(std::fs::read_to_string(&kept).unwrap(), saved);
    // The banner's command trusts the new file; the old copy can't name the new address.
    let commands = fourth.student_commands();
    assert_eq!(commands[0][2], kept.to_str().unwrap());
    student(&commands[0], "QUIT\n", &home).assert_code(0);
    let args: Vec<String> = [
        "--starttls",
        "--cafile",
        pem.to_str().unwrap(),
        &fourth.addr,
    ]
    .map(String::from)
    .to_vec();
    let run = student(&args, "QUIT\n", &home);
    run.assert_code(4);
    assert!(
        run.stderr
            .contains("holds a practice server's certificate, but not one for \"127.0.0.2\""),
        "{}",
        run.describe()
    );
}

#[test]
fn the_teachers_own_certificate_is_served() {
    let home = home();
    let certs = TestCerts::new();
    // Self-signed, naming localhost only: 127.0.0.1 is not a way in it can serve.
    let own = &certs.localhost_dns_only;
    let serve = Serve::start(
        "127.0.0.1:0",
        &[
            "--cert",
            own.cert_pem.to_str().unwrap(),
            "--key",
            own.key_pem.to_str().unwrap(),
        ],
        &home,
    );
    let text = serve.text();
    assert!(
        text.contains(&format!(
            "               yours, from {}\n",
            own.cert_pem.display()
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "! the certificate does not name 127.0.0.1: students who use it fail verification"
        ),
        "{text}"
    );
    let commands = serve.student_commands();
    assert_eq!(commands.len(), 1, "{text}");
    let args = &commands[0];
    assert_eq!(
        args[..3],
        ["--starttls", "--cafile", own.cert_pem.to_str().unwrap()]
    );
    assert!(args.last().unwrap().starts_with("localhost:"), "{text}");
    let run = student(args, "QUIT\n", &home);
    run.assert_code(0);
    assert!(
        run.stdout.contains("*   verified for localhost"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout
            .contains(&format!("*   sha256   {}", fingerprint_of(&text))),
        "{}",
        run.describe()
    );
}

fn fingerprint_of(banner: &str) -> String {
    banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("certificate  SHA-256 "))
        .unwrap()
        .to_string()
}

/// `--json`: the events as JSON Lines on stdout, the teacher's commands from standard
/// input, the summary as JSON at the end; no secret anywhere.
#[test]
fn json_events_commands_on_stdin_and_the_summary() {
    let home = home();
    let pem = home.join("class.pem");
    let maildir = home.join("Maildir");
    let mut serve = Serve::start(
        "127.0.0.1:0",
        &[
            "--json",
            "--cert-out",
            pem.to_str().unwrap(),
            "--maildir",
            maildir.to_str().unwrap(),
        ],
        &home,
    );
    let args: Vec<String> = ["--starttls", "--cafile", pem.to_str().unwrap(), &serve.addr]
        .map(String::from)
        .to_vec();
    student(
        &args,
        ":auth PLAIN alice\nMAIL FROM:<alice@practice.smtpsh.test>\nRCPT TO:<no-such@x.example>\n:expect 550\n\
         RCPT TO:<bob@x.example>\nDATA\nSubject: homework\n\ndone\n.\nQUIT\n",
        &home,
    )
    .assert_code(0);
    serve.wait_for(r#""event":"closed""#);
    serve.type_line(":inbox 1");
    serve.wait_for("greeted as pc1.example");
    serve.type_line(":quit");
    let (code, text) = serve.finish();
    assert_eq!(code, Some(0), "{text}");
    for secret in ["alicepass", "AGFsaWNlAGFsaWNlcGFzcw"] {
        let after_banner = text.split_once("Ctrl-C stops the server.").unwrap().1;
        assert!(!after_banner.contains(secret), "{secret}:\n{text}");
    }
    let events: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for want in [
        "connected",
        "hello",
        "command",
        "tls",
        "auth",
        "message",
        "closed",
        "summary",
    ] {
        assert!(kinds.contains(&want), "no {want} event: {kinds:?}");
    }
    let auth = events
        .iter()
        .find(|e| e["event"] == "command" && e["line"].as_str().unwrap().starts_with("AUTH"))
        .unwrap();
    assert_eq!(auth["line"], "AUTH PLAIN <redacted>");
    assert_eq!(auth["code"], 235);
    let refused = events.iter().find(|e| e["code"] == 550).unwrap();
    assert_eq!(refused["enhanced"], "5.1.1");
    let message = events.iter().find(|e| e["event"] == "message").unwrap();
    assert_eq!(message["subject"], "homework");
    assert_eq!(message["rcpts"], serde_json::json!(["bob@x.example"]));
    assert!(
        events.iter().all(|e| e["event"] == "summary"
            || (e["session"] == 1 && e["time"].as_str().unwrap().ends_with('Z'))),
        "{events:?}"
    );
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(
        summary["students"][0],
        serde_json::json!({"name":"pc1.example","address":"127.0.0.1","sessions":1,"stages":[1,2,3,4,5],"tls":true,"users":["alice"],"messages":1,"errors":1})
    );
    // The teacher's :inbox went to stderr, beside the JSON.
    assert!(text.contains("message 1 ("), "{text}");
    // The Maildir file names the session and the user.
    let files: Vec<String> = std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 1);
    assert!(
        files[0].ends_with("_s1_alice.practice.smtpsh.test"),
        "{files:?}"
    );
}

/// Ctrl-C (SIGINT) stops the server after the summary; the log set errors off with `!`.
#[test]
fn ctrl_c_prints_the_summary() {
    let home = home();
    let serve = Serve::start("127.0.0.1:0", &[], &home);
    let args: Vec<String> = vec![serve.addr.clone()];
    let run = student(&args, "EHLO\nRCPT TO:<a@b.example>\nQUIT\n", &home);
    run.assert_code(1);
    let mut serve = serve;
    serve.wait_for("closed: QUIT");
    let pid = serve.child.id().to_string();
    let killed = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(killed.success());
    let (code, text) = serve.finish();
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(
            "RCPT TO:<a@b.example> -> 503 5.5.1 bad sequence of commands: need MAIL before RCPT\n"
        ),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("! ") && l.contains("-> 503 5.5.1")),
        "{text}"
    );
    assert!(
        text.contains("class summary: 1 student, 1 session, 0 messages"),
        "{text}"
    );
    assert!(
        text.contains("  pc1.example  127.0.0.1  1         1---5   no   -     0         1"),
        "{text}"
    );
}

/// A signal from elsewhere (`kill -TERM`, `kill -INT`) while the teacher> prompt waits for a
/// line: every open session is told 421, the teacher is told how many and gets the summary,
/// the terminal is put back (the shell after it echoes again), and the exit status is 0.
#[test]
fn a_signal_at_the_teacher_prompt_tells_sessions_421() {
    use std::io::Read as _;
    use std::net::TcpStream;
    for signal in ["TERM", "INT"] {
        let home = home();
        // A shell in the pty runs the server, and shows the terminal's settings before and
        // after it.
        let script = format!(
            "echo \"shell=$$ before=$(stty -g)\"; {BIN} --serve 127.0.0.1:0; echo \"exit=$? after=$(stty -g)\""
        );
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &script])
            .env("NO_COLOR", "1")
            .env("TERM", "xterm")
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"));
        let mut pty = rexpect::session::spawn_command(cmd, Some(20_000)).expect("spawn in a pty");
        let (_, shell) = pty.exp_regex(r"shell=\d+").expect("the shell's pid");
        let (_, before) = pty.exp_regex(r"before=\S+").expect("the settings before");
        let (_, on) = pty
            .exp_regex(r"on 127\.0\.0\.1:\d+")
            .expect("the banner's address");
        let addr = on.trim_start_matches("on ").to_string();
        pty.exp_string("teacher> ").expect("the teacher> prompt");
        let mut client = TcpStream::connect(&addr).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut greeting = [0u8; 256];
        let n = client.read(&mut greeting).unwrap();
        assert!(greeting[..n].starts_with(b"220 "), "SIG{signal}");
        pty.exp_string("connected from").expect("the log line");
        // The server: the shell's child.
        let pid = Command::new("pgrep")
            .args(["-P", shell.trim_start_matches("shell=")])
            .output()
            .unwrap();
        let pid = String::from_utf8_lossy(&pid.stdout).trim().to_string();
        assert!(!pid.is_empty(), "SIG{signal}: the server's pid");
        let killed = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(killed.success());
        let mut told = Vec::new();
        let _ = client.read_to_end(&mut told);
        assert_eq!(
            String::from_utf8_lossy(&told),
            "421 4.3.2 practice.smtpsh.test the server is shutting down; try again later\r\n",
            "SIG{signal}"
        );
        pty.exp_string("stopped; 1 open session told 421")
            .unwrap_or_else(|e| panic!("SIG{signal}: {e}"));
        pty.exp_string("class summary: 1 student, 1 session")
            .unwrap_or_else(|e| panic!("SIG{signal}: {e}"));
        pty.exp_string("exit=0")
            .unwrap_or_else(|e| panic!("SIG{signal}: {e}"));
        // rustyline had the terminal in raw mode: it must be as it was.
        let (_, after) = pty.exp_regex(r"after=\S+").unwrap();
        assert_eq!(
            after.trim_start_matches("after="),
            before.trim_start_matches("before="),
            "SIG{signal}: the terminal's settings were not put back"
        );
        pty.exp_eof().unwrap();
    }
}
