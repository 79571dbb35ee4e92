//! docs/tutorial.md is produced by the tool: each lesson's commands (a ```smtp block) run
//! against `--practice`, and the transcript under it (the ```text block that follows) must be
//! what smtpsh prints today, up to what varies from run to run (times, ports, queue ids,
//! certificate fingerprints and dates). `SMTPSH_BLESS=1 cargo test --test tutorial` rewrites
//! the transcripts.

// The lessons run with `--script /dev/stdin`.
#![cfg(unix)]

mod common;

use std::path::Path;

fn run_lesson(script: &str) -> String {
    let out = std::process::Command::new(common::BIN)
        .args([
            "--practice",
            "--ehlo",
            "student.example",
            "--script",
            "/dev/stdin",
        ])
        .env("NO_COLOR", "1")
        .env("SMTPSH_PASSWORD", "alicepass")
        .env("HOME", env!("CARGO_TARGET_TMPDIR"))
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
        "a lesson failed:\n{script}\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_lesson_gives_the_transcript_shown() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/tutorial.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let bless = std::env::var_os("SMTPSH_BLESS").is_some();
    let mut rewritten = String::new();
    let mut rest = doc.as_str();
    let mut lessons = 0;
    while let Some(i) = rest.find("```smtp\n") {
        let body_start = i + "```smtp\n".len();
        let body_end = body_start
            + rest[body_start..]
                .find("```\n")
                .expect("an unclosed ```smtp block");
        let script = &rest[body_start..body_end];
        let after = &rest[body_end + 4..];
        let t = after
            .find("```text\n")
            .expect("a ```smtp block without a ```text block after it");
        assert!(
            after[..t].trim().is_empty() || !after[..t].contains("```"),
            "text between a lesson and its transcript must not hold code blocks"
        );
        let text_start = t + "```text\n".len();
        let text_end = text_start
            + after[text_start..]
                .find("```\n")
                .expect("an unclosed ```text block");
        let shown = &after[text_start..text_end];
        let got = run_lesson(script);
        lessons += 1;
        if bless {
            rewritten.push_str(&rest[..body_end + 4]);
            rewritten.push_str(&after[..text_start]);
            rewritten.push_str(&got);
            rewritten.push_str("```\n");
        } else {
            assert_eq!(
                common::stable(shown),
                common::stable(&got),
                "lesson {lessons} of docs/tutorial.md no longer gives the transcript shown:\n{script}"
            );
        }
        rest = &after[text_end + 4..];
    }
    assert!(
        lessons >= 8,
        "only {lessons} lessons found in docs/tutorial.md"
    );
    if bless {
        rewritten.push_str(rest);
        std::fs::write(&path, rewritten).unwrap();
    }
}
