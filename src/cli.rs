//! The command line, defined once with clap derive: `--help`, the man page and the shell
//! completions all come from this.
//!
//! House rules: the doc comment is the help text (a short first line, then the long help);
//! value names are upper-case; long options are never abbreviated (clap does not infer
//! them), and no option takes a secret on the command line.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// What `--generate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// bash completion
    Bash,
    /// zsh completion
    Zsh,
    /// fish completion
    Fish,
    /// elvish completion
    Elvish,
    /// PowerShell completion
    Powershell,
    /// the man page (roff)
    Man,
}

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// Only when stdout is a terminal and NO_COLOR is not set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The examples of `--help` and the man page: what it is for, then the command. Each
/// command is short enough for an 80-column terminal, so nothing wraps inside one.
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "Debug a server by hand, with STARTTLS and a private CA:",
        "smtpsh --starttls --cafile ca.pem mail.example.org:587",
    ),
    (
        "Check a server from CI (the exit status says how it went):",
        "printf 'EHLO ci\\nNOOP\\n:expect 250\\nQUIT\\n' | smtpsh mx.example.org",
    ),
    (
        "Run a script file with a password from a file:",
        "smtpsh --script check.smtp --user ci --password-file pw mx.example.org:587",
    ),
    (
        "Check a script without connecting:",
        "smtpsh --check --script check.smtp",
    ),
    (
        "Learn SMTP on the built-in practice server:",
        "smtpsh --practice",
    ),
    (
        "Serve the practice server to a classroom:",
        "smtpsh --serve 0.0.0.0:2525 --cert-out class.pem",
    ),
    (
        "Join that class (the command its banner prints):",
        "smtpsh --starttls --cafile class.pem --explain HOST:2525",
    ),
];

/// The environment variables smtpsh reads.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "SMTPSH_PASSWORD",
        "password for :auth when --password-file is not given",
    ),
    (
        "SMTPSH_TOKEN",
        "OAuth token for :auth XOAUTH2/OAUTHBEARER when --token-file is not given",
    ),
    ("NO_COLOR", "turn colour off (unless --color always)"),
    (
        "XDG_DATA_HOME",
        "where the history file and --serve's kept certificate go (default ~/.local/share)",
    ),
];

/// The files smtpsh reads or writes by itself.
pub const FILES: &[(&str, &str)] = &[(
    "$XDG_DATA_HOME/smtpsh/history",
    "the prompt's history (~/.local/share/smtpsh/history; --history FILE, --no-history); never holds a secret",
)];

/// `--help`'s text after the options: examples, environment, exit status.
fn after_help() -> String {
    let mut s = String::from("EXAMPLES:\n");
    for (what, cmd) in EXAMPLES {
        s.push_str(&format!("  {what}\n    {cmd}\n"));
    }
    s.push_str("\nENVIRONMENT:\n");
    for (name, what) in ENVIRONMENT {
        s.push_str(&format!("  {name:<17} {what}\n"));
    }
    s.push('\n');
    s.push_str(crate::error::Exit::TABLE);
    s
}

/// An interactive SMTP shell: talk to mail servers by hand or from a script, safely.
///
/// smtpsh sends the SMTP commands you type over plain TCP, STARTTLS or implicit TLS, and
/// shows each reply with its code, enhanced status code and timing. It computes AUTH
/// responses and dot-stuffed DATA bodies for you, refuses lines that would smuggle CR or LF
/// into a command, and never prints, stores or logs a secret. When standard input is not a
/// terminal, or with --script, the same command language runs as a script whose exit status a
/// CI job can trust. Type :help at the prompt for the shell commands.
#[derive(Debug, Parser)]
#[command(name = "smtpsh", version = crate::VERSION_LINE, after_long_help = after_help(), infer_long_args = false)]
pub struct Cli {
    /// `host`, `host:port`, `[v6addr]:port`, `smtp://host[:port]` or `smtps://host[:port]`
    ///
    /// Default port 25, or 465 with smtps:// or --tls-on-connect. `lmtp://host[:port]`
    /// (port 24) and `unix:/path` (a Unix socket) speak LMTP. Without a target (or --mx) the
    /// shell starts unconnected; use :connect.
    #[arg(value_name = "TARGET")]
    pub target: Option<String>,

    /// Port (overrides one in TARGET)
    #[arg(short, long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,

    /// Connect over IPv4 only
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// Connect over IPv6 only
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,

    /// Local address to connect from (bind before connecting)
    ///
    /// Only the target's addresses of the same family (IPv4 or IPv6) are tried.
    #[arg(long, value_name = "ADDR")]
    pub source: Option<std::net::IpAddr>,

    /// Speak LMTP (RFC 2033): LHLO, and one reply per recipient after the message
    ///
    /// Targets lmtp://HOST:PORT (port 24 by default) and unix:/PATH speak LMTP without it.
    #[arg(long)]
    pub lmtp: bool,

    /// Look up DOMAIN's MX records, list them, connect to the most preferred
    ///
    /// Falls back to the next MX (and the next address) when a connection fails, and to the
    /// domain's own A/AAAA records when it has no MX (RFC 5321 §5.1). A null MX (RFC 7505)
    /// means the domain accepts no mail: exit 3. The port is 25 unless -p says otherwise.
    #[arg(long, value_name = "DOMAIN", conflicts_with = "target")]
    pub mx: Option<String>,

    /// DNS server for --mx, --audit, :dane and :mta-sts (default: the system's resolver)
    #[arg(long, value_name = "ADDR[:PORT]", value_parser = dns_server)]
    pub dns_server: Option<std::net::SocketAddr>,

    /// DNSSEC trust anchor to trust besides the root's keys, for :dane and --audit
    ///
    /// A file of DS or DNSKEY records in zone-file syntax (as ldns-keygen, dnssec-dsfromkey
    /// or a zone's .key file write them), for a lab zone or a private DNSSEC tree. The
    /// zone's key set is fetched and must be signed by a key the file names.
    #[arg(long, value_name = "FILE")]
    pub trust_anchor: Option<PathBuf>,

    /// Audit DOMAIN's mail servers: every MX host and address, one table
    ///
    /// For each: connect time, greeting, EHLO capabilities, STARTTLS, the TLS report
    /// (protocol, chain, verification), DANE (TLSA records, DNSSEC-validated) and MTA-STS
    /// (the policy and whether it covers the host), then the domain's TLS-RPT record. One
    /// connection at a time, each ended with QUIT; a 421 stops that host. --json prints one
    /// JSON document. The exit status is the worst finding's (see EXIT STATUS).
    #[arg(long, value_name = "DOMAIN", conflicts_with_all = ["target", "mx", "practice", "serve", "script", "check"])]
    pub audit: Option<String>,

    /// Reach the server through a SOCKS5 proxy: socks5://HOST:PORT or socks5h://HOST:PORT
    ///
    /// socks5h:// lets the proxy resolve the server's name; socks5:// resolves it here. No
    /// proxy authentication. The port defaults to 1080.
    #[arg(long, value_name = "URL", value_parser = proxy_url)]
    pub proxy: Option<crate::net::proxy::Proxy>,

    /// After the greeting: EHLO, STARTTLS, EHLO again; TLS is required
    ///
    /// If the server does not offer STARTTLS, refuses it or the handshake fails, smtpsh stops
    /// (exit 4) having sent nothing else. It never falls back to plaintext.
    #[arg(long, conflicts_with = "tls_on_connect")]
    pub starttls: bool,

    /// Implicit TLS from the first byte (SMTPS, RFC 8314)
    #[arg(long, visible_alias = "smtps")]
    pub tls_on_connect: bool,

    /// Accept an invalid certificate or name (loudly marked for the whole session)
    #[arg(long)]
    pub insecure: bool,

    /// PEM CA certificate(s) to trust, besides the system's
    #[arg(long, value_name = "FILE")]
    pub cafile: Option<PathBuf>,

    /// PEM client certificate to present when the server asks for one (RFC 8446 §4.4.2)
    ///
    /// The file may hold the certificate's chain after it, and its private key when
    /// --tls-key is not given. The key must not be encrypted.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert (unencrypted)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Name to verify in the certificate and send as SNI (default: the host as typed)
    #[arg(long, value_name = "NAME")]
    pub tls_name: Option<String>,

    /// Name for automatic EHLO and a bare EHLO (default: this machine's name)
    #[arg(long, value_name = "NAME")]
    pub ehlo: Option<String>,

    /// Deadline in seconds for each reply (not an idle timer)
    #[arg(long, value_name = "SECS", default_value_t = 30.0, value_parser = positive_secs)]
    pub timeout: f64,

    /// Deadline in seconds for connecting
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = positive_secs)]
    pub connect_timeout: f64,

    /// User for :auth when none is typed
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// File holding the password for :auth (one trailing newline ignored)
    ///
    /// Otherwise the environment variable SMTPSH_PASSWORD, otherwise a no-echo prompt on the
    /// terminal. A password is never taken as a command-line value.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// Let :auth send credentials over a connection without TLS
    ///
    /// Without it, :auth refuses to send a password or token in the clear (safety rule 8): at
    /// the prompt smtpsh asks first; in a script that :auth fails (exit 2) and nothing is
    /// sent. (--practice allows it: that server runs inside smtpsh.)
    #[arg(long)]
    pub plaintext_auth: bool,

    /// File holding the OAuth 2.0 token for :auth XOAUTH2 or OAUTHBEARER
    ///
    /// Otherwise the environment variable SMTPSH_TOKEN, otherwise a no-echo prompt on the
    /// terminal. The token is redacted like a password everywhere.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Run the commands in FILE (a non-terminal standard input does the same)
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,

    /// Check the script and connect to nothing: exit 0 when every line is good, else 2
    ///
    /// Every line is parsed as a run would parse it (shell commands, :expect specs, the
    /// checks of command lines, bodies ended by a lone '.', BDAT chunk sizes) and every :send
    /// file opened; each problem is reported with its line number. A script is always
    /// checked like this before smtpsh connects, so a typo never costs half a session.
    #[arg(long)]
    pub check: bool,

    /// In a script, do not stop at an unexpected 4xx/5xx (still exits non-zero)
    #[arg(long)]
    pub keep_going: bool,

    /// In a script, send runs of MAIL/RCPT/RSET (ended by DATA or NOOP) as one write
    ///
    /// PIPELINING (RFC 2920): the replies are then read and checked in order, each against
    /// the :expect lines after its own command. Refused when the server did not advertise
    /// PIPELINING.
    #[arg(long)]
    pub pipeline: bool,

    /// The transcript as JSON Lines on stdout (with --serve: the server's events)
    #[arg(long)]
    pub json: bool,

    /// When to use colour
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: ColorWhen,

    /// History file for the interactive shell (default: $XDG_DATA_HOME/smtpsh/history)
    #[arg(long, value_name = "FILE", conflicts_with = "no_history")]
    pub history: Option<PathBuf>,

    /// Keep no history file
    #[arg(long)]
    pub no_history: bool,
    /// Under every reply, a plain-language line on what it means and what to try next
    ///
    /// Also notes, before an out-of-order command (RCPT before MAIL, DATA before RCPT, MAIL
    /// before EHLO), what the server will likely answer and why; the command is still sent.
    #[arg(long)]
    pub explain: bool,

    /// Start the built-in practice server on 127.0.0.1 (a free port) and connect to it
    ///
    /// A strict RFC 5321 server in this process, with STARTTLS (its certificate is trusted
    /// for this session), AUTH for the practice users alice/alicepass and bob/bobpass, and
    /// :inbox to read what it received. Turns on --explain. For a classroom, see --serve.
    #[arg(long, conflicts_with_all = ["serve", "target", "tls_on_connect"])]
    pub practice: bool,

    /// Run only the practice server, on ADDR (default 127.0.0.1:2525), for a classroom
    ///
    /// Prints the address, the practice users, the certificate and a student command for
    /// every address and name the server is reached by, then a live log of every session
    /// (with --json, its events as JSON Lines) and, at exit, a summary per student. On a
    /// terminal the teacher> prompt takes :inbox, :inbox N, :summary and :quit. The certificate
    /// names every way in and is kept across restarts (beside the history file), so saved
    /// copies keep working. Students connect with `smtpsh --starttls --cafile CERT --explain
    /// HOST:PORT` after --cert-out wrote CERT.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:2525", conflicts_with = "target")]
    pub serve: Option<String>,

    /// With --serve or --practice: write the server's certificate (PEM) to FILE
    #[arg(long, value_name = "FILE")]
    pub cert_out: Option<PathBuf>,

    /// With --serve or --practice: serve the certificate in FILE (PEM, leaf first)
    ///
    /// Instead of the practice certificate smtpsh makes; its private key comes from --key
    /// FILE, or from FILE itself. The banner lists only the ways in it names.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,

    /// With --cert: the certificate's private key (PEM)
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,

    /// With --serve or --practice: a name the certificate must hold too (repeatable)
    ///
    /// A DNS name students reach the server by, besides this machine's addresses and host
    /// name, which it holds anyway.
    #[arg(long, value_name = "NAME", conflicts_with = "cert")]
    pub cert_name: Vec<String>,

    /// With --serve or --practice: practice users from FILE, one `name:password` a line
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,

    /// With --serve or --practice: keep received messages in the Maildir DIR too
    #[arg(long, value_name = "DIR")]
    pub maildir: Option<PathBuf>,

    /// With --serve or --practice: refuse MAIL until the client has authenticated (530)
    #[arg(long)]
    pub require_auth: bool,

    /// With --serve or --practice: refuse MAIL and AUTH until STARTTLS (530/538)
    #[arg(long)]
    pub require_tls: bool,

    /// With --serve or --practice: connections at once, in all (default 256)
    ///
    /// One more is answered 421 and closed. The listen backlog is at least this (and at
    /// least 1024), so a burst of clients waits for its greeting or its 421 instead of being
    /// dropped.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub max_connections: Option<u32>,

    /// With --serve or --practice: connections at once from one client address (default 100)
    ///
    /// A class of 30 to 40 behind one NAT address, two or three sessions each, fits. Clients
    /// on this machine (loopback) are not held to it, as Postfix exempts its own networks.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub max_per_client: Option<u32>,

    /// With --serve or --practice: failures on demand, from the rules in FILE
    ///
    /// One rule a line, `STEP [<PATTERN>] ACTION`, such as `rcpt <busy@*> reply 451 4.2.1
    /// mailbox busy`, `greeting delay 5s`, `ehlo hide STARTTLS`, `data disconnect` or `any
    /// tarpit 100ms` (docs/practice-server.md). Without a file, addresses such as
    /// 451-4.2.1@example.org and EHLO names such as no-auth.example pick a failure.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,

    /// Write a shell completion script or the man page to stdout (for packagers)
    #[arg(long, value_name = "KIND", hide = true)]
    pub generate: Option<Generate>,
}

/// Write what `--generate KIND` asks for: completions and the man page come from the same
/// clap definition as `--help`, so they can't disagree with it.
pub fn generate(kind: Generate, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let mut cmd = Cli::command();
    let shell = match kind {
        Generate::Bash => Shell::Bash,
        Generate::Zsh => Shell::Zsh,
        Generate::Fish => Shell::Fish,
        Generate::Elvish => Shell::Elvish,
        Generate::Powershell => Shell::PowerShell,
        // One man page for every platform: its header has the version alone, not the TLS
        // library `--version` names (which differs per platform).
        Generate::Man => return crate::man::render(cmd.version(env!("CARGO_PKG_VERSION")), out),
    };
    clap_complete::generate(shell, &mut cmd, "smtpsh", out);
    Ok(())
}

/// `ADDR` or `ADDR:PORT` (`[v6]:PORT`); port 53 by default.
fn dns_server(s: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(ip) = s.parse::<std::net::IpAddr>() {
        return Ok(std::net::SocketAddr::new(ip, 53));
    }
    s.parse::<std::net::SocketAddr>()
        .map_err(|_| format!("{s:?} is not an IP address, ADDR:PORT or [v6addr]:PORT"))
}

fn proxy_url(s: &str) -> Result<crate::net::proxy::Proxy, String> {
    crate::net::proxy::Proxy::parse(s)
}

fn positive_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() && v <= 86_400.0 => Ok(v),
        _ => Err(format!(
            "{s:?} is not a number of seconds between 0 and 86400"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn long_options_are_not_abbreviated() {
        // A prefix like --pass must never be taken for --password-file.
        assert!(Cli::try_parse_from(["smtpsh", "--pass", "x"]).is_err());
        assert!(Cli::try_parse_from(["smtpsh", "--start"]).is_err());
    }

    // See: issue 16, `--help` wrapped its printf example so a host name landed on its own
    // line.
    #[test]
    fn help_examples_stay_whole_at_80_columns() {
        let help = Cli::command().term_width(80).render_long_help().to_string();
        for (_, cmd) in EXAMPLES {
            assert!(help.contains(cmd), "{cmd} is wrapped in --help:\n{help}");
        }
        for line in help.lines() {
            assert!(line.chars().count() <= 80, "{line:?}");
        }
    }

    #[test]
    fn smtps_alias() {
        assert!(
            Cli::try_parse_from(["smtpsh", "--smtps", "h"])
                .unwrap()
                .tls_on_connect
        );
    }
}
