//! docs/tutorial.md is produced by the tool: each lesson's commands (a ```smtp block) run
//! against `--practice`, and the transcript under it (the ```text block that follows) must be
//! what smtpsh prints today, up to what varies from run to run (times, ports, queue ids,
//! certificate fingerprints and dates). `SMTPSH_BLESS=1 cargo test --test tutorial` rewrites
//! the transcripts.

mod common;

use std::path::Path;

/// Replace what varies between runs.
fn stable(text: &str) -> String {
    let mut out = Vec::new();
    for line in common::normalise(text).lines() {
        let mut l = line.to_string();
        // 127.0.0.1:PORT, every occurrence.
        let mut from = 0;
        while let Some(i) = l[from..].find("127.0.0.1:").map(|i| from + i + 10) {
            let end = l[i..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(l.len(), |j| i + j);
            l.replace_range(i..end, "PORT");
            from = i;
        }
        // Queue ids: 14 upper-case hex digits.
        let words: Vec<String> = l
            .split(' ')
            .map(|w| {
                let core = w.trim_matches(|c| c == '(' || c == ')' || c == ',');
                if core.len() == 14
                    && core
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
                {
                    w.replace(core, "QUEUEID")
                } else {
                    w.to_string()
                }
            })
            .collect();
        l = words.join(" ");
        // CRAM-MD5 challenges are fresh every time (RFC 2195): so are their decodings.
        if l.contains(" 334 ") && l.len() > 40 {
            l = format!("{} CHALLENGE", &l[..l.find(" 334 ").unwrap() + 4]);
        }
        if l.starts_with("* challenge decodes to: <") {
            l = "* challenge decodes to: <CHALLENGE>".to_string();
        }
        if l.starts_with("*   sha256") || l.starts_with("*   valid") {
            l = l.split("  ").next().unwrap_or("").to_string();
        }
        out.push(l);
    }
    out.join("\n")
}

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
                stable(shown),
                stable(&got),
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
