//! README.md's commands, run as written: a newcomer follows the README from top to bottom,
//! and so does this test.
//!
//! How the README's fenced blocks are read:
//!
//! - ```` ```console ```` is a terminal. Each `$ ` line is a command, run by `bash -c` at the
//!   repository root with a fresh, empty `HOME` (so `~/...` lands there), the smtpsh under
//!   test first on `PATH`, and `NO_COLOR=1`; it must exit 0. The lines under a command are
//!   what it prints, compared after [`common::stable`] has masked what varies from run to
//!   run (times, ports, queue ids, fingerprints, dates; the fresh `HOME` reads `~`). A
//!   command with no lines under it is held to its exit status only. Words after `console`:
//!   - `pty`: typed in a pseudo-terminal, the way a person types. A line that starts with a
//!     prompt (`...> `, `user (* cancels): `) is typed once that prompt shows; at `password
//!     for USER (no echo...` the test user's password is typed (alice/alicepass,
//!     bob/bobpass, as the README says), and must never show. The other lines must show in
//!     that order, and no transcript line (`C:`, `S:`, `*`, `!`, `?`) may show that the
//!     block does not have.
//!   - `background`: started as a server in another terminal would be: its lines must show,
//!     then it runs until the end of the README, when it gets Ctrl-C.
//!   - `postfix`: needs the test Postfix (ci/postfix-setup.sh); left out with a note where
//!     there is none, unless `SMTPSH_REQUIRE_POSTFIX=1` (CI).
//! - ```` ```smtp file=PATH ```` is a file, written to PATH (`~` is `HOME`) when reached.
//! - ```` ```sh ```` holds commands shown without output: each line (comments aside) must be
//!   run by `.ci/run` exactly as written, or be the `$ ` line of a console block.
//! - Other blocks (```` ```text ````) are not commands.
//!
//! Then what the README installed is used: Tab after `smtpsh --starttl` must complete
//! `--starttls` in bash, zsh and fish, each started in a pseudo-terminal with that `HOME`,
//! and `man -w smtpsh` must find the installed page.

// Pseudo-terminals (rexpect) and the shells the README runs are Unix things.
#![cfg(unix)]

mod common;

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{from_pty, is_transcript, strip_escapes};
use rexpect::session::PtySession;

/// How long one command may take. `cargo install` builds the optimised smtpsh from
/// nothing, which on a 2-core CI machine takes minutes.
const CARGO_TIMEOUT: Duration = Duration::from_secs(20 * 60);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The test users of the practice server and of the CI Postfix.
const PASSWORDS: &[(&str, &str)] = &[("alice", "alicepass"), ("bob", "bobpass")];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------
// Reading the README
// ---------------------------------------------------------------------------------------

/// A fenced block: where it starts (1-based line of the fence), its info words, its lines.
struct Block {
    line: usize,
    info: Vec<String>,
    body: Vec<String>,
}

impl Block {
    fn lang(&self) -> &str {
        self.info.first().map_or("", String::as_str)
    }
    fn has(&self, word: &str) -> bool {
        self.info.iter().skip(1).any(|w| w == word)
    }
    /// The value of a `key=value` info word.
    fn get(&self, key: &str) -> Option<&str> {
        self.info
            .iter()
            .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
    }
}

fn blocks(md: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in md.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    line: i + 1,
                    info: info.split_whitespace().map(String::from).collect(),
                    body: Vec::new(),
                })
            }
            (Some(_), Some("")) => out.push(open.take().unwrap()),
            (Some(b), _) => b.body.push(line.to_string()),
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "README.md ends inside a fenced block");
    out
}

/// A `$ ` command of a console block and the lines shown under it.
struct Cmd {
    line: usize,
    text: String,
    shown: Vec<String>,
}

fn commands(b: &Block) -> Vec<Cmd> {
    let mut out: Vec<Cmd> = Vec::new();
    for (i, line) in b.body.iter().enumerate() {
        if let Some(text) = line.strip_prefix("$ ") {
            out.push(Cmd {
                line: b.line + 1 + i,
                text: text.to_string(),
                shown: Vec::new(),
            });
        } else {
            out.last_mut()
                .unwrap_or_else(|| {
                    panic!(
                        "README.md:{}: a console block must start with a `$ ` line",
                        b.line
                    )
                })
                .shown
                .push(line.clone());
        }
    }
    out
}

/// A shell line without its comment (` #` to the end) and surrounding blanks.
fn uncommented(line: &str) -> &str {
    let code = match line.find(" #") {
        Some(i) => &line[..i],
        None if line.trim_start().starts_with('#') => "",
        None => line,
    };
    code.trim()
}

// ---------------------------------------------------------------------------------------
// Running commands the way the README's reader does
// ---------------------------------------------------------------------------------------

/// The reader's environment: a fresh home, the smtpsh under test on PATH.
struct Reader {
    home: PathBuf,
    path: String,
    /// rustup and cargo keep their state under the real home; with `HOME` moved they must be
    /// told where it is.
    rust_homes: Vec<(&'static str, PathBuf)>,
}

impl Reader {
    fn new() -> Reader {
        let home = tempfile::Builder::new()
            .prefix("readme-home-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .keep();
        // A new Debian account starts with /etc/skel: the ~/.bashrc that loads bash-completion,
        // the ~/.profile that puts ~/.local/bin on PATH.
        if let Ok(skel) = std::fs::read_dir("/etc/skel") {
            for e in skel.flatten() {
                if e.file_type().is_ok_and(|t| t.is_file()) {
                    std::fs::copy(e.path(), home.join(e.file_name())).unwrap();
                }
            }
        }
        let bin_dir = Path::new(common::BIN).parent().unwrap();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let real_home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
        let rust_homes = [("RUSTUP_HOME", ".rustup"), ("CARGO_HOME", ".cargo")]
            .into_iter()
            .map(|(var, dir)| {
                let p = std::env::var_os(var).map_or_else(|| real_home.join(dir), PathBuf::from);
                (var, p)
            })
            .collect();
        Reader {
            home,
            path,
            rust_homes,
        }
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new(program);
        c.args(args)
            .current_dir(root())
            .env("HOME", &self.home)
            .env("PATH", &self.path)
            .env("NO_COLOR", "1")
            .env("TERM", "xterm")
            .env_remove("SMTPSH_PASSWORD")
            .env_remove("SMTPSH_TOKEN");
        for v in [
            "XDG_CONFIG_HOME",
            "XDG_DATA_HOME",
            "XDG_STATE_HOME",
            "XDG_CACHE_HOME",
        ] {
            c.env_remove(v);
        }
        for (var, p) in &self.rust_homes {
            c.env(var, p);
        }
        c
    }

    fn bash(&self, script: &str) -> Command {
        self.command("bash", &["-c", script])
    }

    /// `~/...` in a README path.
    fn expand(&self, p: &str) -> PathBuf {
        match p.strip_prefix("~/") {
            Some(rest) => self.home.join(rest),
            None => PathBuf::from(p),
        }
    }

    /// What a terminal showed, as the README shows it: escapes and CRs gone, the fresh
    /// home written `~`, then [`common::stable`]. The README's own lines go through it too
    /// (where it changes nothing but the masks), so both sides are masked alike.
    fn as_shown(&self, raw: &str) -> Vec<String> {
        let home = self.home.display().to_string();
        let clean = strip_escapes(raw).replace(&home, "~");
        common::stable(&clean)
            .lines()
            .map(|l| l.trim_end().to_string())
            .collect()
    }
}

fn timeout_for(cmd: &str) -> Duration {
    if cmd.starts_with("cargo ") {
        CARGO_TIMEOUT
    } else {
        COMMAND_TIMEOUT
    }
}

/// Run a command with no terminal: its exit code and what it printed (stdout and stderr
/// as one stream, as a terminal shows them).
fn run_plain(reader: &Reader, cmd: &str) -> (Option<i32>, String) {
    let mut child = reader
        .bash(&format!("{{ {cmd}\n}} 2>&1"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start bash");
    let mut stdout = child.stdout.take().unwrap();
    let reader_thread = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + timeout_for(cmd);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = reader_thread.join().unwrap();
    (status, String::from_utf8_lossy(&out).into_owned())
}

/// smtpsh's prompts (`prompt` in src/shell/repl.rs, and the questions `:auth` asks).
const PROMPTS: &str = concat!(
    r"^(?:smtpsh \(not connected\)|data \d+|bdat \d+ left",
    r"|(?:\S+@)?\S+:\d+(?: tls!?)?(?: mail| rcpt \d+| data)?(?: auth-response \(kept out of history\))?)> ",
    r"|^user \(\* cancels\): |^password for \S+ \(no echo, \* cancels\): ",
);

/// A line typed at a prompt: the prompt and what was typed. A prompt at which nothing was
/// typed (a blank body line, a password) has lost its trailing blank in the README.
fn typed_at_prompt(line: &str) -> Option<(String, String)> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| regex::Regex::new(PROMPTS).unwrap());
    let padded = if line.ends_with('>') || line.ends_with(':') {
        format!("{line} ")
    } else {
        line.to_string()
    };
    let m = re.find(&padded)?;
    Some((m.as_str().to_string(), padded[m.end()..].to_string()))
}

/// The regex that finds `prompt` on the terminal, where the practice server's port varies.
fn prompt_regex(prompt: &str) -> String {
    let prompt = prompt.trim_end();
    let mut re = String::new();
    let mut rest = prompt;
    while let Some(i) = rest.find("127.0.0.1:") {
        re.push_str(&regex::escape(&rest[..i]));
        re.push_str(r"127\.0\.0\.1:[0-9]+");
        rest = rest[i + "127.0.0.1:".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    re.push_str(&regex::escape(rest));
    re.push(' ');
    re
}

fn password_for(prompt: &str) -> Option<&'static str> {
    let user = prompt.strip_prefix("password for ")?.split(' ').next()?;
    PASSWORDS.iter().find(|(u, _)| *u == user).map(|(_, p)| *p)
}

/// `cmd` in a pseudo-terminal. rexpect turns the terminal's echo off, which a person's
/// terminal has on (and line-mode reads such as `:auth`'s user question rely on): on again.
fn spawn_pty(reader: &Reader, cmd: &str) -> PtySession {
    let ms = timeout_for(cmd).as_millis() as u64;
    rexpect::session::spawn_command(reader.bash(&format!("stty echo\n{cmd}")), Some(ms))
        .expect("spawn bash in a pty")
}

/// Type a console-pty command's session and check what the terminal showed.
fn run_pty(reader: &Reader, cmd: &Cmd) -> Result<(), String> {
    let mut p = spawn_pty(reader, &cmd.text);
    let mut seen = String::new();
    let mut secrets = Vec::new();
    for line in &cmd.shown {
        let Some((prompt, typed)) = typed_at_prompt(line) else {
            continue;
        };
        let (before, matched) = p.exp_regex(&prompt_regex(&prompt)).map_err(|e| {
            format!(
                "waiting for the prompt {prompt:?}: {e}\nthe terminal showed:\n{}",
                strip_escapes(&from_pty(&seen))
            )
        })?;
        seen.push_str(&before);
        seen.push_str(&matched);
        let to_type = match password_for(&prompt) {
            Some(pw) => {
                secrets.push(pw);
                pw
            }
            None => typed.as_str(),
        };
        p.send_line(to_type).map_err(|e| e.to_string())?;
        // Up to the end of the typed line, so the next wait can't find this prompt's redraw.
        let echo = p.exp_string("\n").map_err(|e| e.to_string())?;
        seen.push_str(&echo);
        seen.push('\n');
    }
    let rest = p.exp_eof().map_err(|e| {
        format!(
            "waiting for the command to end: {e}\nthe terminal showed:\n{}",
            strip_escapes(&from_pty(&seen))
        )
    })?;
    seen.push_str(&rest);
    let seen = from_pty(&seen);
    for s in secrets {
        if seen.contains(s) {
            return Err(format!("the password {s:?} showed on the terminal"));
        }
    }
    compare_terminal(reader, cmd, &seen)
}

/// The lines of `cmd` (prompt lines aside) show in order, and the terminal's transcript
/// lines are exactly the block's.
fn compare_terminal(reader: &Reader, cmd: &Cmd, seen: &str) -> Result<(), String> {
    let got = reader.as_shown(seen);
    let shown: Vec<&str> = cmd
        .shown
        .iter()
        .filter(|l| typed_at_prompt(l).is_none())
        .map(String::as_str)
        .collect();
    let want = reader.as_shown(&shown.join("\n"));
    let got_transcript: Vec<&String> = got.iter().filter(|l| is_transcript(l)).collect();
    let want_transcript: Vec<&String> = want.iter().filter(|l| is_transcript(l)).collect();
    if got_transcript != want_transcript {
        return Err(format!(
            "the transcript differs from the README's.\n--- README (masked)\n{}\n--- terminal (masked)\n{}",
            want_transcript
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            got.join("\n")
        ));
    }
    let mut at = 0;
    for w in &want {
        match got[at..].iter().position(|g| g == w) {
            Some(i) => at += i + 1,
            None => {
                return Err(format!(
                    "the README shows {w:?}, which the terminal did not (in that order).\n--- terminal (masked)\n{}",
                    got.join("\n")
                ));
            }
        }
    }
    Ok(())
}

/// A command left running (a server "in another terminal"), stopped at the end.
struct Background {
    what: String,
    p: PtySession,
}

fn start_background(reader: &Reader, cmd: &Cmd) -> Result<Background, String> {
    let mut p = spawn_pty(reader, &cmd.text);
    let want = reader.as_shown(&cmd.shown.join("\n"));
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let mut seen = String::new();
    loop {
        while let Some(c) = p.try_read() {
            seen.push(c);
        }
        let got = reader.as_shown(&from_pty(&seen));
        if got.len() >= want.len() && got[..want.len()] == want[..] {
            return Ok(Background {
                what: cmd.text.clone(),
                p,
            });
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "it did not show what the README shows.\n--- README (masked)\n{}\n--- terminal (masked)\n{}",
                want.join("\n"),
                got.join("\n")
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

/// Every command the README shows is run: by this test (console blocks) or by `.ci/run`.
#[test]
fn every_readme_command_is_run_somewhere() {
    let md = readme();
    let blocks = blocks(&md);
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    let ci_lines: HashSet<&str> = ci.lines().map(uncommented).collect();
    let console: HashSet<String> = blocks
        .iter()
        .filter(|b| b.lang() == "console")
        .flat_map(|b| commands(b).into_iter().map(|c| c.text))
        .collect();
    let mut unrun = Vec::new();
    let mut sh_lines = 0;
    for b in blocks.iter().filter(|b| b.lang() == "sh") {
        for (i, line) in b.body.iter().enumerate() {
            let code = uncommented(line);
            if code.is_empty() {
                continue;
            }
            sh_lines += 1;
            if !ci_lines.contains(code) && !console.contains(code) {
                unrun.push(format!("README.md:{}: {code}", b.line + 1 + i));
            }
        }
    }
    assert!(
        unrun.is_empty(),
        "README commands that neither .ci/run runs as written nor a console block runs:\n{}",
        unrun.join("\n")
    );
    assert!(sh_lines >= 3, "only {sh_lines} sh lines found in README.md");
    for b in &blocks {
        assert!(
            matches!(b.lang(), "console" | "sh" | "smtp" | "text"),
            "README.md:{}: a ```{} block: say `console`, `sh`, `smtp file=PATH` or `text`",
            b.line,
            b.lang()
        );
    }
}

#[test]
fn readme_commands_run_as_written() {
    let md = readme();
    let reader = Reader::new();
    let postfix = match common::postfix_probe("127.0.0.1:2525") {
        Ok(()) => true,
        Err(why) if std::env::var("SMTPSH_REQUIRE_POSTFIX").is_ok_and(|v| v == "1") => {
            panic!("SMTPSH_REQUIRE_POSTFIX=1 but no Postfix on 127.0.0.1:2525: {why}")
        }
        Err(why) => {
            println!(
                "README blocks marked postfix left out: {why} (run ci/postfix-setup.sh and ci/postfix-start.sh)"
            );
            false
        }
    };
    let mut background = Vec::new();
    let mut ran = 0;
    let mut failures = Vec::new();
    for b in blocks(&md) {
        if b.has("postfix") && !postfix {
            continue;
        }
        match b.lang() {
            "smtp" => {
                let path = b.get("file").unwrap_or_else(|| {
                    panic!("README.md:{}: an smtp block needs file=PATH", b.line)
                });
                let path = reader.expand(path);
                std::fs::write(&path, b.body.join("\n") + "\n").unwrap();
            }
            "console" => {
                for cmd in commands(&b) {
                    eprintln!("README.md:{}: $ {}", cmd.line, cmd.text);
                    ran += 1;
                    let r = if b.has("background") {
                        start_background(&reader, &cmd).map(|bg| background.push(bg))
                    } else if b.has("pty") {
                        run_pty(&reader, &cmd)
                    } else {
                        let (code, out) = run_plain(&reader, &cmd.text);
                        if code != Some(0) {
                            Err(format!("exit {code:?}; it printed:\n{out}"))
                        } else if !cmd.shown.is_empty()
                            && reader.as_shown(&out) != reader.as_shown(&cmd.shown.join("\n"))
                        {
                            Err(format!(
                                "it printed something else.\n--- README (masked)\n{}\n--- printed (masked)\n{}",
                                reader.as_shown(&cmd.shown.join("\n")).join("\n"),
                                reader.as_shown(&out).join("\n")
                            ))
                        } else {
                            Ok(())
                        }
                    };
                    if let Err(e) = r {
                        failures.push(format!("README.md:{}: $ {}\n{e}", cmd.line, cmd.text));
                    }
                }
            }
            _ => {}
        }
    }
    for mut bg in background {
        let _ = bg.p.send_control('c');
        if let Err(e) = bg.p.exp_eof() {
            failures.push(format!("{}: did not end on Ctrl-C: {e}", bg.what));
        }
    }
    if failures.is_empty() {
        installed_completions_complete(&reader, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} README commands went wrong:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(ran >= 5, "only {ran} README commands found");
}

/// What the README's Install section put under `HOME` works: the installed smtpsh is found
/// on `PATH`, man finds its page, and Tab completes an option in bash, zsh and fish.
fn installed_completions_complete(reader: &Reader, failures: &mut Vec<String>) {
    let home = &reader.home;
    let path = format!("{}/.local/bin:/usr/local/bin:/usr/bin:/bin", home.display());
    let shell_env = |c: &mut Command| {
        c.env_clear()
            .env("HOME", home)
            .env("PATH", &path)
            // No colours or suggestions mixed into the line being completed.
            .env("TERM", "dumb");
    };
    let mut version = Command::new("smtpsh");
    shell_env(&mut version);
    match version.arg("--version").output() {
        Ok(o) if o.status.success() && o.stdout.starts_with(b"smtpsh ") => {}
        other => failures.push(format!(
            "the installed smtpsh is not on PATH ({path}): {other:?}"
        )),
    }
    if let Some(man) = common::peer_program("/usr/bin/man", "man-db") {
        let mut c = Command::new(man);
        shell_env(&mut c);
        let page = home.join(".local/share/man/man1/smtpsh.1");
        match c.args(["-w", "smtpsh"]).output() {
            Ok(o) if String::from_utf8_lossy(&o.stdout).trim() == page.display().to_string() => {}
            other => failures.push(format!(
                "man -w smtpsh did not find {}: {other:?}",
                page.display()
            )),
        }
    }
    // A prompt of the test's own, after what the README installed.
    let append = |file: &str, line: &str| {
        let f = home.join(file);
        let mut text = std::fs::read_to_string(&f).unwrap_or_default();
        text.push_str(line);
        std::fs::write(f, text).unwrap();
    };
    let shells: [(&str, &str, &str, Vec<&str>); 3] = [
        // rexpect turns the terminal's echo off, and readline then shows nothing typed.
        (
            "/usr/share/bash-completion/bash_completion",
            "bash-completion",
            "bash",
            vec!["sh", "-c", "stty echo && exec bash -i"],
        ),
        ("/usr/bin/zsh", "zsh", "zsh", vec!["zsh", "-i"]),
        (
            "/usr/bin/fish",
            "fish",
            "fish",
            vec![
                "fish",
                "-i",
                "-C",
                "function fish_prompt; echo -n 'READY> '; end; set -g fish_greeting",
            ],
        ),
    ];
    for (needs, package, shell, argv) in shells {
        if common::peer_program(needs, package).is_none() {
            continue;
        }
        match shell {
            "bash" => append(".bashrc", "\nPS1='READY> '\n"),
            "zsh" => append(".zshrc", "\nPS1='READY> '\n"),
            // Fish would otherwise start indexing every man page in the background.
            _ => std::fs::create_dir_all(home.join(".local/share/fish/generated_completions"))
                .unwrap(),
        }
        let mut c = Command::new(argv[0]);
        c.args(&argv[1..]);
        shell_env(&mut c);
        if let Err(e) = tab_completes(c) {
            failures.push(format!("{shell}: {e}"));
        }
    }
}

/// In the shell `c` starts, `smtpsh --starttl` and Tab becomes `smtpsh --starttls `.
fn tab_completes(c: Command) -> Result<(), String> {
    let mut p = rexpect::session::spawn_command(c, Some(20_000)).map_err(|e| e.to_string())?;
    p.exp_string("READY> ")
        .map_err(|e| format!("no prompt: {e}"))?;
    p.send("smtpsh --starttl\t").map_err(|e| e.to_string())?;
    p.flush().map_err(|e| e.to_string())?;
    p.exp_string("smtpsh --starttls ")
        .map_err(|e| format!("Tab did not complete --starttls: {e}"))?;
    p.send_control('u').map_err(|e| e.to_string())?;
    p.send_line("exit").map_err(|e| e.to_string())?;
    p.exp_eof().map_err(|e| format!("did not exit: {e}"))?;
    Ok(())
}
