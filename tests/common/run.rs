//! Running the real binary: [`smtpsh`] sets it up so that a test can't touch the real home
//! directory, can't pick up a password from the environment, and can't hang forever; [`Run`]
//! is what one run did.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use assert_cmd::Command;

use super::text::hex_lower;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_smtpsh");

/// How long the binary may run before the test kills it and fails.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// A command for the binary with `NO_COLOR=1`, a fresh empty `HOME` (so no history file
/// lands in the real home), no `SMTPSH_PASSWORD`, and a run timeout.
///
/// The home directory is kept under Cargo's `target/tmp/` (a temporary directory would be
/// deleted before the command runs, since an `assert_cmd::Command` can't own it).
pub fn smtpsh() -> Command {
    let home = tempfile::Builder::new()
        .prefix("home-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("create a HOME for the test")
        .keep();
    smtpsh_with_home(&home)
}

/// Like [`smtpsh`], with `HOME` (and the XDG directories) under `home`, for tests that look
/// at what the binary left there.
pub fn smtpsh_with_home(home: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("NO_COLOR", "1")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env_remove("SMTPSH_PASSWORD")
        .env_remove("SMTPSH_TOKEN")
        .timeout(RUN_TIMEOUT);
    cmd
}

/// What one run of the binary did.
pub struct Run {
    /// The exit code; `None` when it was killed (by the run timeout, for example).
    pub code: Option<i32>,
    /// stdout, bytes as written.
    pub stdout_raw: Vec<u8>,
    /// stderr, bytes as written.
    pub stderr_raw: Vec<u8>,
    /// stdout, lossily decoded.
    pub stdout: String,
    /// stderr, lossily decoded.
    pub stderr: String,
    /// Wall-clock time from spawn to exit.
    pub elapsed: Duration,
}

/// Run `cmd` to completion and print what it wrote (libtest shows it when a test fails).
pub fn run(cmd: &mut Command) -> Run {
    let run = run_quiet(cmd);
    println!("{}", run.describe());
    run
}

/// Run `cmd` to completion without printing (for harnesses that don't capture output).
pub fn run_quiet(cmd: &mut Command) -> Run {
    let started = Instant::now();
    let out = cmd.output().expect("run smtpsh");
    let elapsed = started.elapsed();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        stdout_raw: out.stdout,
        stderr_raw: out.stderr,
        elapsed,
    }
}

impl Run {
    /// Exit code, stdout and stderr, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "--- smtpsh exited with {:?} after {:?}\n--- stdout:\n{}\n--- stderr:\n{}\n---",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }

    /// Assert the exit code.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit code {code}\n{}",
            self.describe()
        );
        self
    }

    /// stdout and stderr together, for "appears nowhere" checks.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Assert that `needle` appears neither on stdout nor on stderr.
    #[track_caller]
    pub fn assert_not_shown(&self, what: &str, needle: &str) -> &Self {
        assert!(!needle.is_empty());
        assert!(
            !self.all_output().contains(needle),
            "{what} ({needle:?}) was shown\n{}",
            self.describe()
        );
        self
    }

    /// Assert that a line of stdout starts with `prefix`.
    #[track_caller]
    pub fn assert_stdout_line(&self, prefix: &str) -> &Self {
        assert!(
            self.stdout.lines().any(|l| l.starts_with(prefix)),
            "no stdout line starts with {prefix:?}\n{}",
            self.describe()
        );
        self
    }
}

/// Write `bytes` to `dir/name` and return the path.
pub fn write_file(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write test file");
    path
}

/// A token that no other test (in this run or any other) will use.
pub fn unique_token(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut rand = [0u8; 4];
    getrandom::fill(&mut rand).expect("random bytes");
    format!(
        "{prefix}-{}-{nanos:x}-{n}-{}",
        std::process::id(),
        hex_lower(&rand)
    )
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A free port on 127.0.0.1 now (bound, then released for a server to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
