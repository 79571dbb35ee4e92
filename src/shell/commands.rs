//! The shell commands (`:help`, `:connect`, `:expect`, …), each defined once: its name,
//! arguments and help are a clap derive (the doc comment is the help, as in `cli.rs`), its
//! completion comes from the same definition, and what it does is the `run` beside it.
//! [`ShellParser`] turns a `:` line into a [`ShellCmd`]; `:help`, Tab completion and the
//! man page read the definitions through [`definitions`].
//!
//! Tokens: words split at white space, with `'…'` and `"…"` grouping. A command whose last
//! argument takes hyphen values (`:raw`, `:b64`, `:expect`, `:send`, `:save`) gets the rest
//! of the line as that one argument, exactly as typed after the options — so `:send my
//! file.eml` and `:raw  two spaces` mean what they look like.

use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::Context as _;
use base64::Engine as _;
use clap::{Args, FromArgMatches as _, Parser, Subcommand};

use super::exec::{self, ConnectFlags, Step};
use super::lang::{self, ExpectSpec, LangError};
use crate::error::UsageError;
use crate::session::{SendOptions, Session};
use crate::smtp::auth::ClientMechanism;
use crate::smtp::reply::{Code, EnhancedCode};
use crate::transcript::Report;

/// A shell command, parsed.
#[derive(Subcommand, Debug, Clone, PartialEq)]
pub enum ShellCmd {
    /// Help on a shell command or an SMTP verb
    #[command(visible_alias = "h", alias = "?")]
    Help(Help),
    /// Connect (again) to TARGET; without it, to the last target again
    #[command(alias = "open")]
    Connect(Connect),
    /// STARTTLS, then EHLO again; stops if TLS can't be had
    Starttls(NoArgs),
    /// AUTH in one step: the password or token is asked without echo
    Auth(Auth),
    /// The whole DATA step (or BDAT chunks) from FILE, streamed
    Send(Send),
    /// The capabilities of the last EHLO
    Caps(NoArgs),
    /// Check the last reply: 250, 2xx, 5.1.1, 550 5.1.1, or alternatives 250|251
    Expect(Expect),
    /// Base64 of TEXT (with :raw's escapes, so \0 is a NUL)
    B64(B64),
    /// Decode base64 TEXT
    Unb64(Unb64),
    /// Send exact bytes: \r \n \t \0 \xHH \\ are interpreted; no checks
    Raw(Raw),
    /// Where the session is: connected, greeted, TLS, authenticated, transaction
    State(NoArgs),
    /// Save the transcript so far, redacted (.md, .jsonl, else text)
    Save(Save),
    /// What a reply code and an enhanced status code mean, and what to try
    Explain(Explain),
    /// Messages received by the built-in practice server (--practice); N shows one
    Inbox(Inbox),
    /// Toggle the exact-bytes view: the bytes each line crossed the wire as
    Wire(NoArgs),
    /// The live TLS in full: protocol, cipher, each certificate, the verdict
    Tls(Tls),
    /// TLSA records of this host and port (DNSSEC-validated) against the chain: DANE verdict
    Dane(NoArgs),
    /// DOMAIN's MTA-STS record and policy, checked against its MX and this host; TLS-RPT
    #[command(name = "mta-sts", alias = "mtasts")]
    MtaSts(MtaSts),
    /// QUIT if connected, then leave
    #[command(visible_alias = "q", alias = "exit")]
    Quit(NoArgs),
}

/// A command that takes no arguments.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct NoArgs {}

/// `:help [CMD]`
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct Help {
    /// A shell command (connect, :auth) or an SMTP verb (MAIL)
    #[arg(value_name = "CMD")]
    pub topic: Option<String>,
}

/// `:connect [TARGET] [--starttls|--tls-on-connect] [--lmtp] [--mx]`
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// host, host:port, an IPv6 address in brackets with :port, smtp://, smtps://, lmtp:// or
    /// unix:/path; with --mx, a domain. Without it: the target of the last connection (a
    /// fresh session after QUIT, as the tutorial's lessons start)
    #[arg(value_name = "TARGET")]
    pub target: Option<String>,
    /// EHLO, STARTTLS, EHLO again after the greeting; TLS is required
    #[arg(long, conflicts_with = "tls_on_connect")]
    pub starttls: bool,
    /// Implicit TLS (port 465)
    #[arg(long, visible_alias = "smtps")]
    pub tls_on_connect: bool,
    /// Speak LMTP (RFC 2033)
    #[arg(long)]
    pub lmtp: bool,
    /// TARGET is a domain: connect to its most preferred MX host
    #[arg(long)]
    pub mx: bool,
}

/// `:auth MECH [USER] [--initial|--no-initial] [--force]`
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// PLAIN, LOGIN, CRAM-MD5, XOAUTH2 or OAUTHBEARER
    #[arg(value_name = "MECH", value_parser = mechanism)]
    pub mech: ClientMechanism,
    /// The user (else --user, else asked)
    #[arg(value_name = "USER")]
    pub user: Option<String>,
    /// Send the first response with AUTH (RFC 4954 §4)
    #[arg(long, conflicts_with = "no_initial")]
    pub initial: bool,
    /// Wait for the server's first challenge
    #[arg(long)]
    pub no_initial: bool,
    /// Send even when the server's EHLO did not offer AUTH or this mechanism
    #[arg(long)]
    pub force: bool,
}

/// `:send [--bdat] [--no-size-check] FILE`
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct Send {
    /// Send in BDAT chunks (CHUNKING, RFC 3030) instead of DATA
    #[arg(long)]
    pub bdat: bool,
    /// Send even when the file is over the server's SIZE
    #[arg(long)]
    pub no_size_check: bool,
    /// The message file (CRLF-normalised and dot-stuffed as it goes)
    #[arg(value_name = "FILE", allow_hyphen_values = true, value_parser = path, value_hint = clap::ValueHint::FilePath)]
    pub file: PathBuf,
}

/// `:expect SPEC`
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// 250, 2xx, 25x, 5.1.1, 550 5.1.1, 250|251; on LMTP a recipient in angle brackets first
    /// checks that recipient's reply only
    #[arg(value_name = "SPEC", allow_hyphen_values = true, value_parser = expect_spec)]
    pub spec: ExpectSpec,
}

/// `:b64 TEXT`
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct B64 {
    /// The text; \0 \r \n \t \xHH \\ are interpreted as in :raw
    #[arg(value_name = "TEXT", allow_hyphen_values = true, value_parser = b64_bytes)]
    pub bytes: Bytes,
}

/// `:unb64 TEXT`
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct Unb64 {
    /// Base64 text
    #[arg(value_name = "TEXT", allow_hyphen_values = true)]
    pub text: String,
}

/// `:raw TEXT`
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    /// The bytes to send; add \r\n yourself
    #[arg(value_name = "TEXT", allow_hyphen_values = true, value_parser = raw_bytes)]
    pub bytes: Bytes,
}

/// `:save FILE`
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct Save {
    /// Where to write; ~ is the home directory
    #[arg(value_name = "FILE", allow_hyphen_values = true, value_parser = path, value_hint = clap::ValueHint::FilePath)]
    pub file: PathBuf,
}

/// `:explain [CODE] [X.Y.Z]`
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct Explain {
    /// A reply code (550), an enhanced code (5.1.1) or both; none: the last reply
    #[arg(value_names = ["CODE", "X.Y.Z"], num_args = 0..=2)]
    pub codes: Vec<String>,
}

/// `:tls [chain | save FILE]`
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    /// chain: fetch the chain TLS 1.3 hid (a second connection capped at TLS 1.2); save: write
    /// the chain as PEM to FILE
    #[arg(value_name = "ACTION")]
    pub action: Option<TlsAction>,
    /// With save: where to write; ~ is the home directory
    #[arg(value_name = "FILE", value_parser = path, value_hint = clap::ValueHint::FilePath)]
    pub file: Option<PathBuf>,
}

/// What `:tls` does besides showing the report.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsAction {
    /// Fetch the chain TLS 1.3 hid, over a second connection capped at TLS 1.2
    Chain,
    /// Write the chain as PEM to FILE
    Save,
}

/// `:mta-sts [DOMAIN]`
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct MtaSts {
    /// The policy domain (default: the domain of --mx DOMAIN)
    #[arg(value_name = "DOMAIN")]
    pub domain: Option<String>,
}

/// `:inbox [N]`
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct Inbox {
    /// The message to show
    #[arg(value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub n: Option<u64>,
}

/// Bytes a command computed from its text (escapes interpreted). A newtype so clap does not
/// take `Vec<u8>` for many values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

fn mechanism(s: &str) -> Result<ClientMechanism, String> {
    ClientMechanism::parse(s).ok_or_else(|| {
        format!("unknown mechanism {s}; use PLAIN, LOGIN, CRAM-MD5, XOAUTH2 or OAUTHBEARER")
    })
}

fn expect_spec(s: &str) -> Result<ExpectSpec, String> {
    ExpectSpec::parse(s).map_err(|e| e.to_string())
}

fn raw_bytes(s: &str) -> Result<Bytes, String> {
    lang::unescape(":raw", s)
        .map(Bytes)
        .map_err(|e| e.to_string())
}

fn b64_bytes(s: &str) -> Result<Bytes, String> {
    lang::unescape(":b64", s)
        .map(Bytes)
        .map_err(|e| e.to_string())
}

/// A file name as typed after a command: surrounding white space and one pair of quotes
/// dropped, `~/` is the home directory, and on Unix `\ ` (as Tab completion writes it) is
/// a space.
fn path(s: &str) -> Result<PathBuf, String> {
    let s = s.trim();
    let s = ['"', '\'']
        .iter()
        .find_map(|q| s.strip_prefix(*q).and_then(|r| r.strip_suffix(*q)))
        .unwrap_or(s);
    if s.is_empty() {
        return Err("a file name is needed".into());
    }
    let s = if cfg!(unix) {
        unescape_backslashes(s)
    } else {
        s.to_string()
    };
    Ok(
        match s
            .strip_prefix("~/")
            .or(if s == "~" { Some("") } else { None })
        {
            Some(rest) => match home_dir() {
                Some(h) => h.join(rest),
                None => PathBuf::from(s),
            },
            None => PathBuf::from(s),
        },
    )
}

/// The user's home directory: `HOME`, or `USERPROFILE` on Windows.
pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

fn unescape_backslashes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(chars.next().unwrap_or('\\'));
        } else {
            out.push(c);
        }
    }
    out
}

/// The root clap definition all shell commands hang from.
#[derive(Parser, Debug)]
#[command(
    name = "smtpsh-shell",
    no_binary_name = true,
    disable_help_subcommand = true,
    disable_help_flag = true,
    disable_version_flag = true,
    subcommand_required = true,
    infer_long_args = false
)]
struct Root {
    #[command(subcommand)]
    cmd: ShellCmd,
}

/// The definitions, for `:help`, completion and the man page (built once).
pub fn definitions() -> &'static clap::Command {
    static DEFS: OnceLock<clap::Command> = OnceLock::new();
    DEFS.get_or_init(|| {
        use clap::CommandFactory as _;
        let mut c = Root::command();
        c.build();
        c
    })
}

/// Whether `name` (without the colon) names a shell command or one of its aliases.
pub fn is_command_name(name: &str) -> bool {
    definitions().find_subcommand(name).is_some()
}

/// Turns `:` lines into [`ShellCmd`]s. Holds its own copy of the definitions, because clap
/// parses with a mutable command.
#[derive(Debug, Clone)]
pub struct ShellParser {
    root: clap::Command,
}

impl Default for ShellParser {
    fn default() -> ShellParser {
        ShellParser {
            root: definitions().clone(),
        }
    }
}

impl ShellParser {
    /// A parser.
    pub fn new() -> ShellParser {
        ShellParser::default()
    }

    /// Parse a line starting with `:`.
    pub fn parse(&mut self, line: &str) -> Result<ShellCmd, LangError> {
        let body = line.trim_start().strip_prefix(':').unwrap_or(line);
        let (name, rest) = match body.split_once(char::is_whitespace) {
            Some((n, r)) => (n, r),
            None => (body, ""),
        };
        if name.is_empty() {
            return Err(LangError::Shell(
                "an empty shell command; type :help for the list".into(),
            ));
        }
        let lower = name.to_ascii_lowercase();
        let Some(sub) = self.root.find_subcommand(&lower) else {
            return Err(LangError::Shell(unknown_command(name)));
        };
        let canonical = sub.get_name().to_string();
        // Messages may quote what was typed: never with its control characters.
        let shell = |m: String| LangError::Shell(crate::smtp::escape::escape_controls(&m));
        let mut argv = vec![canonical.clone()];
        argv.extend(tokens(sub, rest).map_err(shell)?);
        let matches = self
            .root
            .try_get_matches_from_mut(argv)
            .map_err(|e| shell(one_line(&canonical, &e)))?;
        Root::from_arg_matches(&matches)
            .map(|r| r.cmd)
            .map_err(|e| shell(one_line(&canonical, &e)))
    }
}

/// The words of a command's arguments (see the module header).
fn tokens(sub: &clap::Command, rest: &str) -> Result<Vec<String>, String> {
    let rest_of_line = sub
        .get_positionals()
        .last()
        .is_some_and(|a| a.is_allow_hyphen_values_set());
    if !rest_of_line {
        return split_words(rest);
    }
    // Leading `--flags` of this command, then the rest as one argument. A command that has
    // options refuses an unknown one; one without (`:raw`, `:expect`) takes it as text.
    let has_options = sub.get_arguments().any(|a| a.get_long().is_some());
    let mut out = Vec::new();
    let mut text = rest.trim_start();
    while let Some(flag) = text.strip_prefix("--").filter(|_| has_options) {
        let (word, after) = flag.split_once(char::is_whitespace).unwrap_or((flag, ""));
        let known = sub.get_arguments().any(|a| {
            a.get_long() == Some(word) || a.get_all_aliases().is_some_and(|v| v.contains(&word))
        });
        if !known {
            return Err(format!(
                ":{}: unknown option --{word} (see :help {})",
                sub.get_name(),
                sub.get_name()
            ));
        }
        out.push(format!("--{word}"));
        text = after.trim_start();
    }
    // After the options, the text exactly as typed (`:raw` keeps its leading spaces: the one
    // separating space after the name is all that was dropped).
    let exact = if out.is_empty() { rest } else { text };
    if !exact.is_empty() {
        out.push("--".into());
        out.push(exact.to_string());
    }
    Ok(out)
}

/// White-space separated words; `'…'` and `"…"` group (and are dropped).
fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => word.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            None => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("a {q} is not closed"));
    }
    if in_word {
        out.push(word);
    }
    Ok(out)
}

/// clap's error as one line: what was wrong, and where to read more.
fn one_line(name: &str, e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let ctx = |k| match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => Some(v.join(", ")),
        _ => None,
    };
    let what = match e.kind() {
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let value = ctx(ContextKind::InvalidValue).unwrap_or_default();
            match std::error::Error::source(e) {
                Some(src) => format!(":{name}: {src}"),
                None => format!(":{name}: {value:?} is not valid here"),
            }
        }
        ErrorKind::MissingRequiredArgument => format!(
            ":{name} needs {}",
            ctx(ContextKind::InvalidArg)
                .unwrap_or_default()
                .replace(['<', '>'], "")
                .replace("-- ", "")
        ),
        ErrorKind::UnknownArgument => {
            let arg = ctx(ContextKind::InvalidArg).unwrap_or_default();
            if arg.starts_with('-') {
                format!(":{name}: unknown option {arg}")
            } else {
                format!(":{name}: unexpected {arg:?}")
            }
        }
        ErrorKind::ArgumentConflict => format!(
            ":{name}: {} and {} exclude each other",
            ctx(ContextKind::InvalidArg).unwrap_or_default(),
            ctx(ContextKind::PriorArg).unwrap_or_default()
        ),
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues => {
            format!(":{name}: too many arguments")
        }
        _ => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("").trim();
            format!(
                ":{name}: {}",
                first.strip_prefix("error: ").unwrap_or(first)
            )
        }
    };
    format!("{what} (see :help {name})")
}

/// "unknown shell command", with the nearest name when one is close (a typo).
fn unknown_command(name: &str) -> String {
    let shown = crate::smtp::escape::escape_controls(name);
    let near = crate::shell::suggest::nearest(
        &name.to_ascii_lowercase(),
        definitions().get_subcommands().map(|c| c.get_name()),
    );
    match near {
        Some(n) => format!("unknown shell command :{shown}; did you mean :{n}? (:help lists them)"),
        None => format!("unknown shell command :{shown}; type :help for the list"),
    }
}

impl ShellCmd {
    /// Whether the line that made this command may go into the history file: never for the
    /// ones that carry what people hide (`:b64` is how passwords get encoded, `:raw` can
    /// carry anything).
    pub fn history_safe(&self) -> bool {
        !matches!(
            self,
            ShellCmd::B64(_) | ShellCmd::Unb64(_) | ShellCmd::Raw(_)
        )
    }

    /// Run the command against the session.
    pub fn run(self, session: &mut Session) -> anyhow::Result<Step> {
        match self {
            ShellCmd::Help(c) => c.run(session),
            ShellCmd::Connect(c) => c.run(session),
            ShellCmd::Starttls(_) => Ok(Step::Reply(session.starttls_required()?)),
            ShellCmd::Auth(c) => c.run(session),
            ShellCmd::Send(c) => c.run(session),
            ShellCmd::Caps(_) => caps(session),
            ShellCmd::Expect(c) => c.run(session),
            ShellCmd::B64(c) => {
                let enc = base64::engine::general_purpose::STANDARD.encode(&c.bytes.0);
                print(session, &enc);
                Ok(Step::Nothing)
            }
            ShellCmd::Unb64(c) => {
                let dec = base64::engine::general_purpose::STANDARD
                    .decode(c.text.trim())
                    .map_err(|e| UsageError(format!(":unb64: not valid base64 ({e})")))?;
                print(session, &crate::smtp::escape::escape_bytes(&dec));
                Ok(Step::Nothing)
            }
            ShellCmd::Raw(c) => Ok(match session.raw(&c.bytes.0)? {
                Some(r) => Step::Reply(r),
                None => Step::Nothing,
            }),
            ShellCmd::State(_) => {
                let text = super::teach::stages(&session.state());
                print(session, &text);
                Ok(Step::Nothing)
            }
            ShellCmd::Save(c) => {
                let n = session
                    .transcript
                    .save(&c.file)
                    .with_context(|| format!("cannot write {}", c.file.display()))?;
                session.note(format!(
                    "saved {n} events to {} (secrets redacted)",
                    c.file.display()
                ));
                Ok(Step::Nothing)
            }
            ShellCmd::Explain(c) => c.run(session),
            ShellCmd::Inbox(c) => {
                let text = super::practice::inbox(c.n.map(|n| n as usize))?;
                print(session, &text);
                Ok(Step::Nothing)
            }
            ShellCmd::Wire(_) => {
                let on = session.transcript.toggle_wire();
                session.note(if on {
                    "wire view on: each line as the bytes that crossed the wire, CR LF shown as \\r\\n (:wire again to leave)"
                } else {
                    "wire view off"
                });
                Ok(Step::Nothing)
            }
            ShellCmd::Tls(c) => c.run(session),
            ShellCmd::Dane(_) => {
                let r = session.dane()?;
                session.report(Report::Dane(Box::new(r)));
                Ok(Step::Nothing)
            }
            ShellCmd::MtaSts(c) => {
                let (sts, rpt) = session.mta_sts(c.domain.as_deref())?;
                session.report(Report::MtaSts(Box::new(sts)));
                session.report(Report::TlsRpt(Box::new(rpt)));
                Ok(Step::Nothing)
            }
            ShellCmd::Quit(_) => {
                session.quit();
                Ok(Step::Quit)
            }
        }
    }
}

impl Tls {
    fn run(self, session: &mut Session) -> anyhow::Result<Step> {
        let report = match (self.action, self.file) {
            (None, None) => session.tls_report()?,
            (Some(TlsAction::Chain), None) => session.fetch_chain()?,
            (Some(TlsAction::Save), Some(file)) => {
                session.save_chain(&file)?;
                return Ok(Step::Nothing);
            }
            (Some(TlsAction::Save), None) => {
                return Err(UsageError(":tls save needs a FILE (see :help tls)".into()).into());
            }
            (_, Some(_)) => {
                return Err(
                    UsageError(":tls takes a FILE only after save (see :help tls)".into()).into(),
                );
            }
        };
        session.report(Report::Tls(Box::new(report)));
        Ok(Step::Nothing)
    }
}

fn print(session: &mut Session, text: &str) {
    session.transcript.print_only(text);
}

impl Help {
    fn run(self, session: &mut Session) -> anyhow::Result<Step> {
        print(session, &super::help::text(self.topic.as_deref()));
        Ok(Step::Nothing)
    }
}

impl Connect {
    fn run(self, session: &mut Session) -> anyhow::Result<Step> {
        let target = match self.target {
            Some(t) => t,
            None => last_target(session).ok_or_else(|| {
                UsageError(":connect needs a TARGET: there was no connection yet".into())
            })?,
        };
        let flags = ConnectFlags {
            starttls: self.starttls,
            tls_on_connect: self.tls_on_connect,
            insecure: session.config().tls.insecure,
            lmtp: self.lmtp,
        };
        let r = if self.mx {
            exec::connect_mx(session, &target, None, flags)?
        } else {
            exec::connect(session, &target, None, flags)?
        };
        Ok(Step::Reply(r))
    }
}

/// The target of the session's last connection, as it was given (the transcript keeps it).
fn last_target(session: &Session) -> Option<String> {
    session
        .transcript
        .events()
        .filter_map(|e| match e {
            crate::transcript::Event::Connect { target, .. } => Some(target.clone()),
            _ => None,
        })
        .last()
}

impl Auth {
    fn run(self, session: &mut Session) -> anyhow::Result<Step> {
        if self.initial && self.mech == ClientMechanism::CramMd5 {
            return Err(UsageError(
                ":auth: CRAM-MD5 starts with the server's challenge: it has no initial response"
                    .into(),
            )
            .into());
        }
        let initial = if self.initial {
            true
        } else if self.no_initial {
            false
        } else {
            self.mech.initial_by_default()
        };
        Ok(Step::Reply(session.auth(
            self.mech,
            self.user.as_deref(),
            initial,
            self.force,
        )?))
    }
}

impl Send {
    fn run(self, session: &mut Session) -> anyhow::Result<Step> {
        let opts = SendOptions {
            bdat: self.bdat,
            size_check: !self.no_size_check,
        };
        Ok(Step::Reply(session.send_file_with(&self.file, opts)?))
    }
}

impl Expect {
    fn run(self, session: &mut Session) -> anyhow::Result<Step> {
        let last = session.last_reply().cloned();
        let checked = exec::check_expect(session, &self.spec, last.as_ref());
        Ok(Step::Expect {
            spec: self.spec,
            checked,
        })
    }
}

impl Explain {
    fn run(self, session: &mut Session) -> anyhow::Result<Step> {
        let (code, enhanced): (Option<Code>, Option<EnhancedCode>) = if self.codes.is_empty() {
            let last = session.last_reply().ok_or_else(|| {
                UsageError(":explain: no reply yet; give a CODE, e.g. :explain 550 5.1.1".into())
            })?;
            (Some(last.code), last.enhanced)
        } else {
            super::teach::parse_explain(&self.codes.join(" ")).map_err(UsageError)?
        };
        print(session, &super::teach::explain_text(code, enhanced));
        Ok(Step::Nothing)
    }
}

fn caps(session: &mut Session) -> anyhow::Result<Step> {
    let text = match session.caps() {
        Some(c) if c.entries.is_empty() => "the server advertised no extensions".to_string(),
        Some(c) => c
            .entries
            .iter()
            .map(|e| {
                if e.params.is_empty() {
                    e.keyword.clone()
                } else {
                    format!("{} {}", e.keyword, e.params.join(" "))
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
        None if session.state().tls => "no capabilities since STARTTLS: send EHLO".to_string(),
        None => "no capabilities yet: send EHLO".to_string(),
    };
    print(session, &text);
    Ok(Step::Nothing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ShellCmd, LangError> {
        ShellParser::new().parse(s)
    }

    #[test]
    fn commands_parse() {
        assert_eq!(
            parse(":auth plain alice").unwrap(),
            ShellCmd::Auth(Auth {
                mech: ClientMechanism::Plain,
                user: Some("alice".into()),
                initial: false,
                no_initial: false,
                force: false,
            })
        );
        assert!(matches!(
            parse(":auth login --initial alice").unwrap(),
            ShellCmd::Auth(Auth { initial: true, .. })
        ));
        assert!(parse(":auth PLAIN --now").is_err());
        assert!(parse(":auth GSSAPI").is_err());
        assert!(parse(":auth PLAIN alice secret").is_err());
        assert_eq!(
            parse(":send --bdat --no-size-check a b.eml").unwrap(),
            ShellCmd::Send(Send {
                bdat: true,
                no_size_check: true,
                file: "a b.eml".into()
            })
        );
        assert!(parse(":send --bdat").is_err());
        assert_eq!(
            parse(":raw NOOP\\r\\n").unwrap(),
            ShellCmd::Raw(Raw {
                bytes: Bytes(b"NOOP\r\n".to_vec())
            })
        );
        assert_eq!(
            parse(":raw  two spaces").unwrap(),
            ShellCmd::Raw(Raw {
                bytes: Bytes(b" two spaces".to_vec())
            })
        );
        assert_eq!(
            parse(":raw --help").unwrap(),
            ShellCmd::Raw(Raw {
                bytes: Bytes(b"--help".to_vec())
            })
        );
        assert!(matches!(
            parse(":connect h:25 --starttls").unwrap(),
            ShellCmd::Connect(Connect {
                starttls: true,
                mx: false,
                ..
            })
        ));
        assert!(matches!(
            parse(":connect --mx example.org --smtps").unwrap(),
            ShellCmd::Connect(Connect {
                tls_on_connect: true,
                mx: true,
                ..
            })
        ));
        assert!(parse(":connect h --starttls --tls-on-connect").is_err());
        assert_eq!(
            parse(":connect").unwrap(),
            ShellCmd::Connect(Connect {
                target: None,
                starttls: false,
                tls_on_connect: false,
                lmtp: false,
                mx: false,
            })
        );
        assert!(parse(":caps x").is_err());
        assert!(parse(":nope").is_err());
        assert!(parse(":").is_err());
        assert!(matches!(parse(":Q").unwrap(), ShellCmd::Quit(_)));
        assert!(matches!(parse(":exit").unwrap(), ShellCmd::Quit(_)));
        assert!(matches!(parse(":open h").unwrap(), ShellCmd::Connect(_)));
        assert_eq!(
            parse(":tls").unwrap(),
            ShellCmd::Tls(Tls {
                action: None,
                file: None
            })
        );
        assert_eq!(
            parse(":tls save chain.pem").unwrap(),
            ShellCmd::Tls(Tls {
                action: Some(TlsAction::Save),
                file: Some("chain.pem".into())
            })
        );
        assert!(matches!(
            parse(":TLS chain").unwrap(),
            ShellCmd::Tls(Tls {
                action: Some(TlsAction::Chain),
                ..
            })
        ));
        assert!(parse(":tls fetch").is_err());
        assert!(matches!(parse(":dane").unwrap(), ShellCmd::Dane(_)));
        assert!(parse(":dane x").is_err());
        assert_eq!(
            parse(":mta-sts example.org").unwrap(),
            ShellCmd::MtaSts(MtaSts {
                domain: Some("example.org".into())
            })
        );
        assert!(matches!(
            parse(":mta-sts").unwrap(),
            ShellCmd::MtaSts(MtaSts { domain: None })
        ));
        assert!(matches!(
            parse(":inbox 2").unwrap(),
            ShellCmd::Inbox(Inbox { n: Some(2) })
        ));
        assert!(parse(":inbox 0").is_err());
        assert!(parse(":inbox x").is_err());
        assert_eq!(
            parse(":b64 \\0alice\\0pw").unwrap(),
            ShellCmd::B64(B64 {
                bytes: Bytes(b"\0alice\0pw".to_vec())
            })
        );
    }

    #[test]
    fn expect_is_the_rest_of_the_line() {
        let ShellCmd::Expect(e) = parse(":expect 550 5.1.1").unwrap() else {
            panic!("not :expect")
        };
        assert_eq!(e.spec.as_str(), "550 5.1.1");
        let ShellCmd::Expect(e) = parse(":expect <Bob@Test> 452 4.2.2").unwrap() else {
            panic!("not :expect")
        };
        assert_eq!(e.spec.recipient(), Some("Bob@Test"));
        assert!(e.spec.covers("<bob@test>"));
        assert!(!e.spec.covers("<alice@test>"));
        assert!(parse(":expect").is_err());
        assert!(parse(":expect 2500").is_err());
    }

    #[test]
    fn errors_are_one_line_and_say_where_to_look() {
        for bad in [
            ":auth",
            ":auth GSSAPI",
            ":caps x",
            ":send --fast x",
            ":expect ok",
            ":inbox 0",
            ":raw \\q",
            ":connect h --starttls --smtps",
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(!e.contains('\n'), "{bad}: {e}");
            assert!(e.starts_with(':'), "{bad}: {e}");
        }
        // See: issue 16, a typo in a shell command gets a suggestion.
        let e = parse(":expcet 250").unwrap_err().to_string();
        assert!(e.contains("did you mean :expect?"), "{e}");
    }

    #[test]
    fn paths_are_what_people_type() {
        let home = home_dir().unwrap_or_default();
        assert_eq!(path("~/x.txt").unwrap(), home.join("x.txt"));
        assert_eq!(
            path(" \"my file.eml\" ").unwrap(),
            PathBuf::from("my file.eml")
        );
        assert_eq!(path("a~b").unwrap(), PathBuf::from("a~b"));
        if cfg!(unix) {
            assert_eq!(path("my\\ file.eml").unwrap(), PathBuf::from("my file.eml"));
        }
        assert!(path("  ").is_err());
    }

    #[test]
    fn non_ascii_never_panics() {
        // See: issue 12, byte-index slicing panicked on non-ASCII input.
        for s in [
            ":é",
            ":expect é",
            ":auth PLAIN ö",
            ":send ö.eml",
            ":raw \\é",
            ":ñ x",
            ":sendé",
        ] {
            let _ = parse(s);
        }
    }

    #[test]
    fn every_command_has_help() {
        for c in definitions().get_subcommands() {
            assert!(c.get_about().is_some(), "{}", c.get_name());
            for a in c.get_arguments() {
                assert!(a.get_help().is_some(), "{} {}", c.get_name(), a.get_id());
            }
        }
    }
}
