//! The script reader and runner (src/shell/script.rs) on any script: the check pass that
//! runs before connecting reads it all without a panic, and the run against a practice
//! server on loopback, lockstep or `--pipeline`, ends (with an error or not) instead of
//! panicking or hanging.
//!
//! Lines that would reach outside the test are dropped first: `:connect`/`:open` (any host
//! on the network), `:send` (any file, /dev/stdin included) and `:save` (writes files).
#![no_main]

use std::io::Cursor;
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use smtpsh::error::Error;
use smtpsh::net::tls::TlsOptions;
use smtpsh::practice::{PracticeConfig, PracticeServer};
use smtpsh::session::{Ask, Config, Session};
use smtpsh::shell::exec::{self, ConnectFlags};
use smtpsh::shell::script::{self, Options, Summary};
use smtpsh::smtp::auth::Secret;
use smtpsh::transcript::{Style, Transcript};
use smtpsh_fuzz::control;

fn server() -> &'static PracticeServer {
    static SERVER: OnceLock<PracticeServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let mut config = PracticeConfig {
            addr: "127.0.0.1:0".parse().expect("an address"),
            ..PracticeConfig::default()
        };
        // Bounded memory over millions of runs: once full, messages get 452.
        config.limits.max_stored = 16 * 1024 * 1024;
        PracticeServer::start(config).expect("a practice server")
    })
}

/// The most lines of a script run (see the target).
const MAX_LINES: usize = 24;

/// Answers AUTH's questions with a practice user, never from a terminal.
struct Alice;

impl Ask for Alice {
    fn user(&mut self, default: Option<&str>) -> Result<String, Error> {
        Ok(default.unwrap_or("alice").to_string())
    }
    fn password(&mut self, _user: &str) -> Result<Secret, Error> {
        Ok(Secret::new("alicepass"))
    }
}

/// Whether a script line could reach outside the test (see the header).
fn reaches_out(line: &str) -> bool {
    let t = line.trim_start();
    let lower = t.to_lowercase();
    t.starts_with(':')
        && ["connect", "open", "send", "save"]
            .iter()
            .any(|w| lower.contains(w))
}

fuzz_target!(|data: &[u8]| {
    let (flags, script) = control(data);
    // Keep the script's own line ends (LF or CRLF) and bytes; drop whole lines only. At
    // most MAX_LINES lines: a line may wait for a reply that does not come (up to the
    // timeout), and a run must stay short.
    let kept: Vec<u8> = script
        .split_inclusive(|&b| b == b'\n')
        .take(MAX_LINES)
        .filter(|line| {
            let line = String::from_utf8_lossy(line);
            !reaches_out(&line)
        })
        .flatten()
        .copied()
        .collect();

    // The check pass: the whole script, no connection.
    let base = Some(std::env::temp_dir());
    let _ = script::check(&mut script::Reader::new(
        Cursor::new(&kept),
        "fuzz.smtp",
        base.clone(),
    ));

    let server = server();
    let config = Config {
        ehlo_name: "fuzz.example".into(),
        timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(2),
        tls: TlsOptions {
            extra_roots: vec![server.cert_pem().to_string()],
            ..TlsOptions::default()
        },
        user: Some("alice".into()),
        password: Some(Secret::new("alicepass")),
        explain: flags & 4 == 4,
        plaintext_auth: true,
        ..Config::default()
    };
    let style = Style {
        color: false,
        echo_body: true,
        json: flags & 8 == 8,
        wire: false,
    };
    let transcript = Transcript::new(style, Box::new(std::io::sink()));
    let mut session = Session::new(
        config,
        transcript,
        Box::new(Alice),
        smtpsh::cancel::Cancel::new(),
    );
    let target = server.addr().to_string();
    if exec::connect(&mut session, &target, None, ConnectFlags::default()).is_err() {
        return;
    }
    let opts = Options {
        keep_going: flags & 1 == 1,
        pipeline: flags & 2 == 2,
        ..Options::default()
    };
    let mut summary = Summary::default();
    let reader = script::Reader::new(Cursor::new(kept), "fuzz.smtp", base);
    let _ = script::run(&mut session, reader, opts, &mut summary);
});
