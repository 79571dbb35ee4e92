//! The `smtpsh` binary: parse the command line, pick the mode (script or interactive),
//! and turn the outcome into an exit status — the one place that does.

#![forbid(unsafe_code)]

use std::io::{self, IsTerminal, Seek, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use smtpsh::cancel::Cancel;
use smtpsh::cli::{Cli, ColorWhen};
use smtpsh::error::{
    AuditFindings, Error, Exit, ExpectationFailed, Interrupted, UsageError, exit_code,
};
use smtpsh::net::tls::TlsOptions;
use smtpsh::session::{Config, Session};
use smtpsh::shell::progress::{Bars, Counter};
use smtpsh::shell::{ask::TtyAsk, exec, practice, repl, script, teacher};
use smtpsh::smtp::{auth::Secret, command};
use smtpsh::transcript::{Event, Style, Transcript};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { Exit::Usage as u8 } else { 0 });
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A closed stdout (`smtpsh … | head`) is not an error worth a message.
            if err.chain().any(|c| {
                c.downcast_ref::<io::Error>()
                    .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::from(0);
            }
            eprintln!(
                "smtpsh: error: {}",
                smtpsh::smtp::escape::escape_controls(&format!("{err:#}"))
            );
            ExitCode::from(exit_code(&err) as u8)
        }
    }
}

/// This machine's name for EHLO (RFC 5321 §4.1.1.1 wants the client's domain), as the
/// system gives it: gethostname(2) on Unix, the DNS host name on Windows.
fn hostname() -> String {
    Some(
        gethostname::gethostname()
            .to_string_lossy()
            .trim()
            .to_string(),
    )
    .filter(|s| !s.is_empty() && command::check_value("hostname", s).is_ok() && !s.contains(' '))
    .unwrap_or_else(|| "localhost".to_string())
}

fn password(cli: &Cli) -> anyhow::Result<Option<Secret>> {
    if let Some(path) = &cli.password_file {
        let mut p = std::fs::read_to_string(path)
            .map_err(|e| Error::reading(Some("--password-file"), path, e))?;
        // One trailing newline is the file's, not the password's.
        if p.ends_with('\n') {
            p.pop();
            if p.ends_with('\r') {
                p.pop();
            }
        }
        return Ok(Some(Secret::new(p)));
    }
    Ok(std::env::var("SMTPSH_PASSWORD").ok().map(Secret::new))
}

/// The OAuth token for XOAUTH2/OAUTHBEARER: `--token-file` (surrounding white space, such
/// as the file's newline, ignored), else `SMTPSH_TOKEN`.
fn token(cli: &Cli) -> anyhow::Result<Option<Secret>> {
    let t = match &cli.token_file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| Error::reading(Some("--token-file"), path, e))?,
        None => match std::env::var("SMTPSH_TOKEN") {
            Ok(t) => t,
            Err(_) => return Ok(None),
        },
    };
    Ok(Some(Secret::new(t.trim().to_string())))
}

/// Connect to TARGET, or to the best MX of `--mx DOMAIN`; `None` when neither was given.
fn connect_first(
    session: &mut Session,
    cli: &Cli,
    practice_target: Option<&str>,
    flags: exec::ConnectFlags,
) -> Option<anyhow::Result<smtpsh::smtp::reply::Reply>> {
    if let Some(t) = practice_target {
        return Some(exec::connect(session, t, None, flags));
    }
    if let Some(domain) = &cli.mx {
        return Some(exec::connect_mx(session, domain, cli.port, flags));
    }
    let t = cli.target.as_ref()?;
    Some(exec::connect(session, t, cli.port, flags))
}

/// A script that passed the check, ready to run.
struct CheckedScript {
    /// The script, rewound.
    file: std::fs::File,
    /// Its name for messages.
    name: String,
    /// Where its relative `:send` files are (see [`script::base_dir`]).
    base: Option<PathBuf>,
    /// How many messages it sends (for the progress bar).
    messages: u64,
}

/// The script (`--script FILE`, else standard input), read once and checked to its end
/// before anything connects (`--check` is this alone). Standard input is kept in an
/// unnamed temporary file meanwhile, so the run reads it again in flat memory. Returns the
/// script, rewound, with what the run needs to know of it.
fn checked_script(cli: &Cli) -> anyhow::Result<CheckedScript> {
    let spool = |from: &mut dyn io::Read| -> anyhow::Result<std::fs::File> {
        let mut spool = tempfile::tempfile().context("cannot make a temporary file")?;
        io::copy(from, &mut spool).context("reading the script")?;
        spool.rewind().context("cannot read the script again")?;
        Ok(spool)
    };
    let (mut file, name) = match &cli.script {
        Some(p) => {
            let mut f =
                std::fs::File::open(p).map_err(|e| Error::reading(Some("--script"), p, e))?;
            // A pipe (`--script /dev/stdin`, `<(…)`) can be read only once.
            if !f.metadata().is_ok_and(|m| m.is_file()) {
                f = spool(&mut f)?;
            }
            (f, p.display().to_string())
        }
        None => (spool(&mut io::stdin().lock())?, "<stdin>".to_string()),
    };
    let base = script::base_dir(cli.script.as_deref());
    let mut reader = script::Reader::new(io::BufReader::new(&file), &name, base.clone());
    let problems = script::check(&mut reader);
    let messages = reader.messages();
    drop(reader);
    let errors = problems.iter().filter(|p| !p.warning).count();
    for p in &problems {
        let kind = if p.warning { "warning" } else { "error" };
        eprintln!("smtpsh: {kind}: {:#}", p.error);
    }
    if errors > 0 {
        return Err(UsageError(format!(
            "{name}: {} found before connecting; nothing was sent (--check checks a script alone)",
            smtpsh::transcript::counted(errors as u64, "problem")
        ))
        .into());
    }
    file.rewind().context("cannot read the script again")?;
    Ok(CheckedScript {
        file,
        name,
        base,
        messages,
    })
}

/// `--audit DOMAIN`: the report on stdout (a table, or one JSON document with `--json`),
/// progress on a terminal's standard error, and the worst finding as the exit status.
fn audit(cli: &Cli, config: &Config, domain: &str) -> anyhow::Result<()> {
    struct Watch {
        bars: Bars,
        counter: Counter,
    }
    impl smtpsh::audit::Watcher for Watch {
        fn planned(&mut self, addresses: u64) {
            self.counter = self.bars.counter(addresses, "addresses");
        }
        fn visiting(&mut self, what: &str) {
            self.counter.describe(what);
        }
        fn done(&mut self) {
            self.counter.step();
        }
    }
    let cancel = Cancel::new();
    // Ctrl-C stops between addresses (the one being visited still ends with QUIT); a second
    // one exits at once.
    cancel.on_ctrl_c_then_exit(Exit::Interrupted as u8);
    let mut watch = Watch {
        bars: Bars::for_stderr(cli.json),
        counter: Counter::default(),
    };
    let report = smtpsh::audit::run(domain, cli.port, config, &cancel, &mut watch)?;
    watch.counter.finish();
    let text = if cli.json {
        serde_json::to_string(&report).context("the report as JSON")? + "\n"
    } else {
        report.to_string()
    };
    io::stdout().lock().write_all(text.as_bytes())?;
    if report.interrupted {
        return Err(Interrupted(format!(
            "--audit {domain}: interrupted (Ctrl-C) after {} addresses",
            report.addresses.len()
        ))
        .into());
    }
    match (report.worst, report.worst_finding()) {
        (Some(worst), Some(f)) => Err(AuditFindings {
            worst,
            summary: format!(
                "--audit {domain}: {}; the worst ({}): {}{}",
                smtpsh::transcript::counted(report.findings.len() as u64, "finding"),
                worst.word(),
                f.host
                    .as_ref()
                    .map(|h| format!("{} ", smtpsh::smtp::escape::escape_str(h)))
                    .unwrap_or_default(),
                smtpsh::smtp::escape::escape_str(&f.text)
            ),
        }
        .into()),
        _ => Ok(()),
    }
}

/// Options that only mean something to the practice server, refused without it rather
/// than silently ignored.
fn check_server_options(cli: &Cli) -> anyhow::Result<()> {
    if cli.serve.is_some() || cli.practice {
        return Ok(());
    }
    let given = [
        (cli.cert_out.is_some(), "--cert-out"),
        (cli.cert.is_some(), "--cert"),
        (!cli.cert_name.is_empty(), "--cert-name"),
        (cli.users.is_some(), "--users"),
        (cli.maildir.is_some(), "--maildir"),
        (cli.require_auth, "--require-auth"),
        (cli.require_tls, "--require-tls"),
        (cli.max_connections.is_some(), "--max-connections"),
        (cli.max_per_client.is_some(), "--max-per-client"),
        (cli.rules.is_some(), "--rules"),
    ];
    match given.iter().find(|(set, _)| *set) {
        Some((_, name)) => Err(UsageError(format!(
            "{name} is an option of the practice server: use it with --serve or --practice"
        ))
        .into()),
        None => Ok(()),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(kind) = cli.generate {
        return Ok(smtpsh::cli::generate(kind, &mut io::stdout().lock())?);
    }
    check_server_options(&cli)?;
    if cli.check {
        if cli.script.is_none() && io::stdin().is_terminal() {
            return Err(UsageError(
                "--check needs a script: --script FILE, or the script on standard input".into(),
            )
            .into());
        }
        let name = checked_script(&cli)?.name;
        eprintln!("smtpsh: {name}: no problems found");
        return Ok(());
    }
    if let Some(addr) = &cli.serve {
        return teacher::serve(&cli, addr);
    }
    // `--practice`: the server runs in this process for the whole session (dropped at exit).
    let practice_server = if cli.practice {
        Some(practice::start_local(&cli)?)
    } else {
        None
    };
    let practice_target = practice_server.as_ref().map(|s| s.addr().to_string());
    let script_mode = cli.script.is_some() || !io::stdin().is_terminal();
    let color = match cli.color {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        // Scripts: no colour unless asked (PRODUCT.md, "Output").
        ColorWhen::Auto => {
            !script_mode
                && io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    colored::control::set_override(color);
    // Windows consoles show ANSI colours only once asked to (Windows 10 and later).
    #[cfg(windows)]
    if color {
        let _ = colored::control::set_virtual_terminal(true);
    }

    // Safety rule 3: an option value never smuggles CR/LF into a command.
    let ehlo_name = match &cli.ehlo {
        Some(n) => {
            command::check_value("--ehlo", n).map_err(|e| UsageError(format!("--ehlo: {e}")))?;
            if n.is_empty() || n.contains(' ') {
                return Err(
                    UsageError("--ehlo: the name must be one non-empty word".into()).into(),
                );
            }
            n.clone()
        }
        None => hostname(),
    };
    if let Some(u) = &cli.user {
        command::check_value("--user", u).map_err(|e| UsageError(format!("--user: {e}")))?;
    }
    if let (Some(s), true) = (cli.source, cli.ipv4 || cli.ipv6)
        && s.is_ipv4() != cli.ipv4
    {
        return Err(UsageError(format!(
            "--source {s} is IPv{} but {} asks for the other family",
            if s.is_ipv4() { 4 } else { 6 },
            if cli.ipv4 { "-4" } else { "-6" }
        ))
        .into());
    }
    if let Some(n) = &cli.tls_name {
        command::check_value("--tls-name", n)
            .map_err(|e| UsageError(format!("--tls-name: {e}")))?;
    }
    let config = Config {
        ehlo_name,
        timeout: Duration::from_secs_f64(cli.timeout),
        connect_timeout: Duration::from_secs_f64(cli.connect_timeout),
        tls: TlsOptions {
            insecure: cli.insecure,
            cafile: cli.cafile.clone(),
            tls_name: cli.tls_name.clone(),
            client_cert: cli.tls_cert.clone(),
            client_key: cli.tls_key.clone(),
            extra_roots: practice_server
                .iter()
                .map(|s| s.cert_pem().to_string())
                .collect(),
        },
        user: cli.user.clone(),
        password: password(&cli)?,
        token: token(&cli)?,
        dial: smtpsh::net::dial::DialOptions {
            family: if cli.ipv4 {
                smtpsh::net::dial::Family::V4
            } else if cli.ipv6 {
                smtpsh::net::dial::Family::V6
            } else {
                smtpsh::net::dial::Family::Any
            },
            source: cli.source,
            proxy: cli.proxy.clone(),
        },
        dns_server: cli.dns_server,
        trust_anchor: cli.trust_anchor.clone(),
        explain: cli.explain || cli.practice,
        // The practice server runs inside this process: nothing crosses a network.
        plaintext_auth: cli.plaintext_auth || cli.practice,
    };
    smtpsh::net::tls::check_client_identity(&config.tls)?;
    if let Some(domain) = &cli.audit {
        return audit(&cli, &config, domain);
    }
    let style = Style {
        color,
        echo_body: script_mode,
        json: cli.json,
        wire: false,
    };
    // Progress bars (issue 17): on standard error when it is a terminal, never with --json.
    let bars = Bars::for_stderr(cli.json);
    let stdout: Box<dyn io::Write> = if bars.is_on() && io::stdout().is_terminal() {
        // The transcript shares the terminal with the bars: its lines go above them.
        Box::new(bars.above(io::stdout()))
    } else {
        Box::new(io::stdout())
    };
    let transcript = Transcript::new(
        style,
        Box::new(io::BufWriter::with_capacity(64 * 1024, stdout)),
    );
    let mut session = Session::new(
        config,
        transcript,
        Box::new(TtyAsk::new(!script_mode)),
        Cancel::new(),
    );
    if bars.is_on() {
        session.set_progress(Box::new(bars.file_progress()));
    }
    if cli.insecure {
        eprintln!(
            "smtpsh: WARNING: --insecure: certificates and names are NOT verified for this whole session"
        );
    }

    let flags = exec::ConnectFlags {
        starttls: cli.starttls,
        tls_on_connect: cli.tls_on_connect,
        insecure: cli.insecure,
        lmtp: cli.lmtp,
    };
    if script_mode {
        // Ctrl-C (SIGINT) stops the script at its next safe point, ends the session and exits
        // 130; a second one while smtpsh can't stop yet exits at once.
        session
            .cancel()
            .on_ctrl_c_then_exit(Exit::Interrupted as u8);
        let started = std::time::Instant::now();
        let mut sum = script::Summary::default();
        let result = (|| {
            let CheckedScript {
                file,
                name,
                base,
                messages,
            } = checked_script(&cli)?;
            if session.cancel().requested() {
                return Err(Interrupted(
                    "interrupted (Ctrl-C/SIGINT) before connecting; nothing was sent".into(),
                )
                .into());
            }
            let reader = script::Reader::new(io::BufReader::new(file), &name, base);
            if let Some(r) = connect_first(&mut session, &cli, practice_target.as_deref(), flags) {
                let r = r.map_err(script::interrupted_wait)?;
                if smtpsh::shell::lang::is_failure(&r) {
                    session.end("the greeting was a refusal");
                    return Err(ExpectationFailed(format!(
                        "the server answered {} on connecting",
                        r.code
                    ))
                    .into());
                }
            }
            let opts = script::Options {
                keep_going: cli.keep_going,
                pipeline: cli.pipeline,
                // A bar for one message says nothing its own `:send` bar does not.
                messages: if messages > 1 {
                    let c = bars.counter(messages, "messages");
                    c.describe(&name);
                    c
                } else {
                    Counter::default()
                },
            };
            script::run(&mut session, reader, opts, &mut sum)
        })();
        // Whatever happened, leave politely (safety rule 9); a no-op when already closed.
        session.end("smtpsh is exiting");
        // The last event of every script run, whatever the outcome: CI parses it.
        session.transcript.emit(Event::Status {
            exit: match &result {
                Ok(()) => 0,
                Err(e) => exit_code(e) as u8,
            },
            error: result.as_ref().err().map(|e| format!("{e:#}")),
            commands: sum.commands,
            replies: sum.replies,
            failures: sum.failures,
            ms: smtpsh::transcript::millis(started.elapsed()),
        });
        return result;
    }

    let history = if cli.no_history {
        None
    } else {
        cli.history.clone().or_else(repl::default_history_path)
    };
    if let Some(Err(e)) = connect_first(&mut session, &cli, practice_target.as_deref(), flags) {
        // TLS that was required and failed ends the program: never a plaintext shell.
        if cli.starttls
            || cli.tls_on_connect
            || !matches!(e.downcast_ref::<Error>(), Some(Error::Connect { .. }))
        {
            return Err(e).context("connecting");
        }
        eprintln!(
            "smtpsh: error: {}",
            smtpsh::smtp::escape::escape_controls(&format!("{e:#}"))
        );
    }
    repl::run(&mut session, history, color)
}
