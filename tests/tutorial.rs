//! docs/tutorial.md is true when typed. Its lessons (each a ```smtp block, with the
//! transcript it gives in the ```text block after it) are meant to be typed in order at one
//! prompt, as a student does; three tests hold it to that:
//!
//! - [`every_lesson_gives_the_transcript_shown`]: all the lessons run in order as one script
//!   against `--practice`, and each lesson's part of what smtpsh printed must be the
//!   transcript shown, up to what varies from run to run (times, ports, queue ids,
//!   certificate fingerprints and dates). The parts are told apart by a marker line the
//!   test puts between lessons (`:b64` of a fixed text) and takes out again; the script's
//!   closing `* done:` line, which a student at the prompt never sees, is left out.
//!   `SMTPSH_BLESS=1 cargo test --test tutorial` rewrites the transcripts.
//! - [`every_lesson_typed_at_the_prompt_of_practice`]: a pseudo-terminal types every line
//!   at the prompt of `smtpsh --practice`, answering the password questions as a student
//!   would; the transcript lines the terminal showed (`C:`, `S:`, `*`, `!`, `?`) must be the
//!   tutorial's, in order.
//! - [`every_lesson_typed_at_a_class_server`]: the same against `smtpsh --serve` in a
//!   terminal of its own, the student starting with the command the banner prints (minus
//!   `--starttls`, as the tutorial says); the teacher's `:inbox` and `:summary` are typed at
//!   the `teacher>` prompt, and the log must show the class's work without a secret.
//!
//! A lesson that follows a `QUIT` starts with `:connect` (the tutorial's rule), so lessons
//! added later keep the order true.

// Pseudo-terminals (rexpect) and `--script /dev/stdin` are Unix things.
#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use rexpect::session::PtySession;

/// Between lessons in the one script: its output line splits the transcript.
const MARKER: &str = ":b64 smtpsh tutorial: next lesson";
const MARKER_OUT: &str = "c210cHNoIHR1dG9yaWFsOiBuZXh0IGxlc3Nvbg==";

/// A lesson of docs/tutorial.md: its lines and the transcript shown.
struct Lesson {
    script: String,
    shown: String,
    /// Where the ```text block's body starts and ends in the document.
    text_span: (usize, usize),
}

fn tutorial_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/tutorial.md")
}

fn lessons(doc: &str) -> Vec<Lesson> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = doc[at..].find("```smtp\n") {
        let body_start = at + i + "```smtp\n".len();
        let body_end = body_start
            + doc[body_start..]
                .find("```\n")
                .expect("an unclosed ```smtp block");
        let after = body_end + 4;
        let t = doc[after..]
            .find("```text\n")
            .expect("a ```smtp block without a ```text block after it");
        assert!(
            !doc[after..after + t].contains("```"),
            "text between a lesson and its transcript must not hold code blocks"
        );
        let text_start = after + t + "```text\n".len();
        let text_end = text_start
            + doc[text_start..]
                .find("```\n")
                .expect("an unclosed ```text block");
        out.push(Lesson {
            script: doc[body_start..body_end].to_string(),
            shown: doc[text_start..text_end].to_string(),
            text_span: (text_start, text_end),
        });
        at = text_end + 4;
    }
    out
}

fn home() -> PathBuf {
    tempfile::Builder::new()
        .prefix("tutorial-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep()
}

// ---------------------------------------------------------------------------------------
// The transcripts
// ---------------------------------------------------------------------------------------

/// Run `script` against `--practice`, as `smtpsh --practice --script tutorial.smtp` would.
fn run_script(script: &str) -> String {
    let home = home();
    let out = Command::new(common::BIN)
        .args([
            "--practice",
            "--ehlo",
            "student.example",
            "--script",
            "/dev/stdin",
        ])
        .env("NO_COLOR", "1")
        .env("SMTPSH_PASSWORD", "alicepass")
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(script.as_bytes())?;
            c.wait_with_output()
        })
        .expect("run smtpsh --practice");
    assert!(
        out.status.success(),
        "the lessons failed:\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_lesson_gives_the_transcript_shown() {
    let path = tutorial_path();
    let doc = std::fs::read_to_string(&path).unwrap();
    let lessons = lessons(&doc);
    assert!(
        lessons.len() >= 10,
        "only {} lessons found in docs/tutorial.md",
        lessons.len()
    );
    let script: Vec<&str> = lessons.iter().map(|l| l.script.as_str()).collect();
    let output = run_script(&script.join(&format!("{MARKER}\n")));
    let mut parts: Vec<String> = output
        .split(&format!("{MARKER_OUT}\n"))
        .map(String::from)
        .collect();
    assert_eq!(parts.len(), lessons.len(), "{output}");
    // The script's summary line: not what a student sees.
    if let Some(last) = parts.last_mut() {
        let kept: Vec<&str> = last
            .lines()
            .filter(|l| !l.starts_with("* done: "))
            .collect();
        *last = kept.join("\n") + "\n";
    }
    if std::env::var_os("SMTPSH_BLESS").is_some() {
        let mut rewritten = String::new();
        let mut at = 0;
        for (lesson, got) in lessons.iter().zip(&parts) {
            rewritten.push_str(&doc[at..lesson.text_span.0]);
            rewritten.push_str(got);
            at = lesson.text_span.1;
        }
        rewritten.push_str(&doc[at..]);
        std::fs::write(&path, rewritten).unwrap();
        return;
    }
    for (i, (lesson, got)) in lessons.iter().zip(&parts).enumerate() {
        assert_eq!(
            common::stable(&lesson.shown),
            common::stable(got),
            "lesson block {} of docs/tutorial.md no longer gives the transcript shown (SMTPSH_BLESS=1 rewrites it):\n{}",
            i + 1,
            lesson.script
        );
    }
}

// ---------------------------------------------------------------------------------------
// Typed at a prompt
// ---------------------------------------------------------------------------------------

/// smtpsh's prompts: the shell's (`prompt` in src/shell/repl.rs), `:auth`'s password
/// question, the teacher's.
const PROMPT: &str = concat!(
    r"(?:smtpsh \(not connected\)|data \d+",
    r"|(?:\S+@)?\S+:\d+(?: tls!?)?(?: mail| rcpt \d+| data)?)> ",
    r"|password for \S+ \(no echo, \* cancels\): ",
);

/// A program in a pseudo-terminal, and everything it showed.
struct Pty {
    s: PtySession,
    seen: String,
    what: &'static str,
}

impl Pty {
    fn spawn(mut cmd: Command, what: &'static str) -> Pty {
        cmd.env("NO_COLOR", "1")
            .env("TERM", "xterm")
            .env_remove("SMTPSH_PASSWORD");
        Pty {
            s: rexpect::session::spawn_command(cmd, Some(20_000)).expect("spawn in a pty"),
            seen: String::new(),
            what,
        }
    }

    /// Wait for `re`; what matched.
    #[track_caller]
    fn expect_re(&mut self, re: &str) -> String {
        match self.s.exp_regex(re) {
            Ok((before, matched)) => {
                self.seen.push_str(&before);
                self.seen.push_str(&matched);
                matched
            }
            Err(e) => panic!(
                "{}: waiting for /{re}/: {e}\nthe terminal showed:\n{}",
                self.what,
                shown(&self.seen)
            ),
        }
    }

    #[track_caller]
    fn expect(&mut self, text: &str) {
        self.expect_re(&regex::escape(text));
    }

    /// Type `line` and Enter, and wait for its echo's end.
    fn line(&mut self, line: &str) {
        self.s.send_line(line).expect("type a line");
        match self.s.exp_string("\n") {
            Ok(echo) => {
                self.seen.push_str(&echo);
                self.seen.push('\n');
            }
            Err(e) => panic!("{}: no echo of {line:?}: {e}", self.what),
        }
    }

    #[track_caller]
    fn eof(&mut self) {
        match self.s.exp_eof() {
            Ok(rest) => self.seen.push_str(&rest),
            Err(e) => panic!(
                "{}: waiting for the end: {e}\nthe terminal showed:\n{}",
                self.what,
                shown(&self.seen)
            ),
        }
    }
}

/// What a terminal showed, as text: rexpect hands each byte over as a `char`; escape
/// sequences and CRs are taken out.
fn shown(raw: &str) -> String {
    common::strip_escapes(&common::from_pty(raw))
}

/// The transcript lines of `text`, comparable: masked as [`common::stable`] does, without
/// the `C:` lines of a message body (a script prints them; at the prompt they are what was
/// typed, shown only in the wire view), without `* done:`, and with `*   names` cut when
/// `cut_names` (a class server's certificate names its own addresses).
fn transcript_lines(text: &str, cut_names: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_body = false;
    for line in common::stable(text).lines() {
        let line = line.trim_end();
        if !common::is_transcript(line) || line.starts_with("* done: ") {
            continue;
        }
        if line.starts_with("S: 354") || line.starts_with("S~ 354") {
            in_body = true;
        } else if line.starts_with("* body: ") {
            in_body = false;
        } else if in_body && (line.starts_with("C: ") || line.starts_with("C~ ")) {
            continue;
        }
        if cut_names && line.starts_with("*   names") {
            out.push("*   names".to_string());
            continue;
        }
        out.push(line.to_string());
    }
    out
}

/// Type every lesson at `student`'s prompt. `inbox`: where `:inbox` lines go instead of
/// the student's prompt (a class server's are the teacher's).
fn type_lessons(student: &mut Pty, lessons: &[Lesson], mut inbox: Option<&mut dyn FnMut(&str)>) {
    for lesson in lessons {
        for line in lesson.script.lines() {
            loop {
                let prompt = student.expect_re(PROMPT);
                if prompt.starts_with("password for alice") {
                    student.line("alicepass");
                    continue;
                }
                break;
            }
            if let (true, Some(inbox)) = (line.starts_with(":inbox"), inbox.as_mut()) {
                inbox(line);
                // The student types nothing: a prompt is still owed.
                student.line("");
                continue;
            }
            student.line(line);
        }
    }
    student.expect_re(PROMPT);
    student.line(":quit");
    student.eof();
}

/// The password typed at `:auth`'s question never shows: the terminal holds it only where
/// the tutorial does (lesson 6 decodes an AUTH PLAIN string on purpose).
fn password_never_echoed(lessons: &[Lesson], seen: &str) {
    let in_doc: usize = lessons
        .iter()
        .map(|l| l.shown.matches("alicepass").count())
        .sum();
    assert_eq!(
        seen.matches("alicepass").count(),
        in_doc,
        "the password showed:\n{seen}"
    );
}

fn compare(what: &str, want: Vec<String>, got: Vec<String>) {
    if want != got {
        let first = want
            .iter()
            .zip(&got)
            .position(|(w, g)| w != g)
            .unwrap_or(want.len().min(got.len()));
        panic!(
            "{what}: the terminal's transcript differs from docs/tutorial.md's at line {}:\n  tutorial: {:?}\n  terminal: {:?}\n--- terminal (masked)\n{}",
            first + 1,
            want.get(first),
            got.get(first),
            got.join("\n")
        );
    }
}

#[test]
fn every_lesson_typed_at_the_prompt_of_practice() {
    let doc = std::fs::read_to_string(tutorial_path()).unwrap();
    let lessons = lessons(&doc);
    let home = home();
    let mut cmd = Command::new(common::BIN);
    cmd.args(["--practice", "--ehlo", "student.example"])
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"));
    let mut student = Pty::spawn(cmd, "smtpsh --practice");
    type_lessons(&mut student, &lessons, None);
    let seen = shown(&student.seen);
    password_never_echoed(&lessons, &seen);
    let want: Vec<String> = lessons
        .iter()
        .flat_map(|l| transcript_lines(&l.shown, false))
        .collect();
    compare("--practice", want, transcript_lines(&seen, false));
    // What the shell commands print shows too: `:inbox 2` in lesson 3, for one.
    assert!(seen.contains("  | ..and this one with two\n"), "{seen}");
}

#[test]
fn every_lesson_typed_at_a_class_server() {
    let doc = std::fs::read_to_string(tutorial_path()).unwrap();
    let lessons = lessons(&doc);
    let home = home();
    let pem = home.join("class.pem");
    let mut cmd = Command::new(common::BIN);
    cmd.args([
        "--serve",
        "127.0.0.1:0",
        "--cert-out",
        pem.to_str().unwrap(),
    ])
    .env("HOME", &home)
    .env("XDG_DATA_HOME", home.join("data"));
    let mut teacher = Pty::spawn(cmd, "smtpsh --serve");
    let port = teacher.expect_re(r"on 127\.0\.0\.1:\d+");
    let addr = port.trim_start_matches("on ").to_string();
    // The banner's command for the tutorial: its student command without --starttls.
    let printed = format!(
        "smtpsh --starttls --cafile {} --explain {addr}",
        pem.display()
    );
    teacher.expect(&printed);
    teacher.expect("the same without --starttls");
    teacher.expect("teacher> ");
    let mut cmd = Command::new(common::BIN);
    cmd.args([
        "--cafile",
        pem.to_str().unwrap(),
        "--explain",
        "--ehlo",
        "student.example",
        &addr,
    ])
    .env("HOME", &home)
    .env("XDG_DATA_HOME", home.join("data"));
    let mut student = Pty::spawn(cmd, "the student's smtpsh");
    let mut inboxes = 0;
    let mut at_teacher = |line: &str| {
        // The teacher reads what arrived; the log scrolls above the prompt meanwhile.
        inboxes += 1;
        teacher.line(line);
        match line.split_whitespace().nth(1) {
            Some(n) => teacher.expect(&format!("message {n} (")),
            None => teacher.expect("received by the practice server:"),
        }
        teacher.expect_re("teacher> ");
    };
    type_lessons(&mut student, &lessons, Some(&mut at_teacher));
    assert_eq!(inboxes, 4, "the lessons' :inbox lines");
    teacher.line(":summary");
    // The failure exercises' fifth greets with another name: a student of its own.
    teacher.expect("class summary: 2 students, 11 sessions, 4 messages");
    // Errors: lesson 4's 503, 550 and 503, lesson 9's 535, exercise 1's 550 and 4's 500,
    // and the failure exercises' 451, 550, 452 and 421 (their 502 is the other name's).
    teacher.expect_re(r"student\.example +127\.0\.0\.1 +10 +12345 +yes +alice +4 +10\r?\n");
    teacher.expect_re("teacher> ");
    teacher.line(":quit");
    teacher.eof();

    let seen = shown(&student.seen);
    password_never_echoed(&lessons, &seen);
    let want: Vec<String> = lessons
        .iter()
        .flat_map(|l| transcript_lines(&l.shown, true))
        .collect();
    compare("a class server", want, transcript_lines(&seen, true));

    // The banner names the practice users' passwords on purpose; the log never does.
    let all = shown(&teacher.seen);
    let log = all
        .split_once("Ctrl-C stops the server.")
        .map_or(all.as_str(), |(_, log)| log);
    for secret in [
        "alicepass",
        "AGFsaWNlAGFsaWNlcGFzcw",
        "YWxpY2VwYXNz",
        "AGFsaWNlAHdyb25n",
    ] {
        assert!(
            !log.contains(secret),
            "{secret} in the teacher's log:\n{log}"
        );
    }
    for want in [
        "| connected from 127.0.0.1:",
        "student.example | EHLO student.example -> 250",
        "| TLS is on (STARTTLS)",
        "student.example alice | authenticated as alice (PLAIN)",
        "| message ",
        ": my first mail\n",
        "! ",
        "RCPT TO:<no-such-user@practice.smtpsh.test> -> 550 5.1.1 <no-such-user@practice.smtpsh.test>: no such user here",
        "| AUTH PLAIN <redacted> -> 535 5.7.8 Authentication credentials invalid",
        "| NOOP\\rRSET -> 500 5.5.2 the command holds a control character (0x0D) at column 5; it was ignored",
        "| closed: QUIT",
    ] {
        assert!(
            log.contains(want),
            "the teacher's log lacks {want:?}:\n{log}"
        );
    }
    // The summary again at exit, after the prompt is gone.
    let tail = log.rsplit("teacher> :quit").next().unwrap_or_default();
    assert!(tail.contains("class summary: 2 students"), "{tail}");
}

/// Exercise 4 as written: a CR typed with Ctrl-V Ctrl-M is refused, nothing sent; `:raw`
/// sends it on purpose.
#[test]
fn exercise_4_is_typeable_as_written() {
    let home = home();
    let mut cmd = Command::new(common::BIN);
    cmd.args(["--practice", "--ehlo", "student.example"])
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"));
    let mut student = Pty::spawn(cmd, "smtpsh --practice");
    student.expect_re(PROMPT);
    student.s.send("NOOP").unwrap();
    student.s.send_control('v').unwrap();
    student.s.send_control('m').unwrap();
    student.s.send_line("RSET").unwrap();
    student.expect("refused: the line holds a CR (0x0D) at column 5; nothing was sent");
    student.expect_re(PROMPT);
    student.line(":raw NOOP\\rRSET\\r\\n");
    student.expect("C: (raw) NOOP\\rRSET\\r\\n");
    student.expect("S: 500 [5.5.2] the command holds a control character (0x0D) at column 5");
    student.expect_re(PROMPT);
    student.line(":quit");
    student.eof();
    let seen = shown(&student.seen);
    assert!(
        !seen.contains("C: NOOP"),
        "a refused line was sent:\n{seen}"
    );
}
