//! The command language: which lines are shell commands, how their arguments parse,
//! `:expect` specs, `:raw` escapes, and which lines may go into the history file.

use std::path::PathBuf;

use crate::smtp::auth::ClientMechanism as Mechanism;
use crate::smtp::command::Verb;
use crate::smtp::reply::{Class, EnhancedCode, Reply};

/// A parsed shell command (a line starting with `:`).
#[derive(Debug, Clone, PartialEq)]
pub enum ShellCmd {
    /// `:help [CMD]`
    Help(Option<String>),
    /// `:connect TARGET [--starttls|--tls-on-connect] [--lmtp]`, or `:connect --mx DOMAIN …`
    Connect {
        /// As typed (the domain with `--mx`).
        target: String,
        /// STARTTLS after the greeting.
        starttls: bool,
        /// Implicit TLS.
        tls_on_connect: bool,
        /// LMTP.
        lmtp: bool,
        /// `target` is a domain whose MX records are looked up.
        mx: bool,
    },
    /// `:starttls`
    Starttls,
    /// `:auth MECH [USER] [--initial|--no-initial]`
    Auth {
        /// Mechanism.
        mech: Mechanism,
        /// User, if typed.
        user: Option<String>,
        /// Send the first response with the AUTH command (RFC 4954 §4): `Some` when
        /// `--initial` or `--no-initial` was typed, else the mechanism's default.
        initial: Option<bool>,
    },
    /// `:send [--bdat] [--no-size-check] FILE`
    Send(PathBuf, crate::session::SendOptions),
    /// `:caps`
    Caps,
    /// `:b64 TEXT`
    B64(String),
    /// `:unb64 TEXT`
    Unb64(String),
    /// `:raw TEXT`, escapes interpreted
    Raw(Vec<u8>),
    /// `:expect SPEC`
    Expect(ExpectSpec),
    /// `:state`
    State,
    /// `:save FILE`
    Save(PathBuf),
    /// `:quit`
    Quit,
    /// `:explain CODE [X.Y.Z]`
    Explain(Option<crate::smtp::reply::Code>, Option<EnhancedCode>),
    /// `:inbox [N]`
    Inbox(Option<usize>),
    /// `:wire`
    Wire,
}

/// The shell commands, for `:help` and completion: name, arguments, what it does.
pub const SHELL_COMMANDS: &[(&str, &str, &str)] = &[
    (":help", "[CMD]", "help on a shell command or an SMTP verb"),
    (
        ":connect",
        "TARGET [--starttls|--tls-on-connect]",
        "connect (again) to TARGET; --lmtp speaks LMTP; --mx DOMAIN connects to DOMAIN's best MX",
    ),
    (
        ":starttls",
        "",
        "STARTTLS, then EHLO again; stops if TLS can't be had",
    ),
    (
        ":auth",
        "MECH [USER]",
        "AUTH PLAIN, LOGIN, CRAM-MD5, XOAUTH2 or OAUTHBEARER in one step; the password or token is asked without echo; --initial / --no-initial: the first response with AUTH or not",
    ),
    (
        ":send",
        "[--bdat] [--no-size-check] FILE",
        "the whole DATA step (or BDAT chunks) from FILE, streamed, CRLF-normalised and dot-stuffed; checked against SIZE first",
    ),
    (":caps", "", "the capabilities of the last EHLO"),
    (
        ":expect",
        "SPEC",
        "check the last reply: 250, 2xx, 5.1.1, 550 5.1.1, or alternatives 250|251",
    ),
    (":b64", "TEXT", "base64 of TEXT"),
    (":unb64", "TEXT", "decode base64 TEXT"),
    (
        ":raw",
        "TEXT",
        "send exact bytes; \\r \\n \\t \\xHH \\\\ are interpreted; no checks",
    ),
    (
        ":state",
        "",
        "where the session is: connected, greeted, TLS, authenticated, transaction",
    ),
    (
        ":save",
        "FILE",
        "save the transcript so far, redacted (.md, .jsonl, else text)",
    ),
    (
        ":explain",
        "CODE [X.Y.Z]",
        "what a reply code and an enhanced status code mean, and what to try",
    ),
    (
        ":inbox",
        "[N]",
        "messages received by the built-in practice server (--practice); N shows one",
    ),
    (
        ":wire",
        "",
        "toggle the exact-bytes view: CR LF made visible, dot-stuffing shown",
    ),
    (":quit", "", "QUIT if connected, then leave"),
];

/// SMTP verbs the shell knows, with their syntax and what they do.
pub const VERBS: &[(&str, &str, &str)] = &[
    (
        "EHLO",
        "EHLO [domain]",
        "greet and ask for the server's extensions (domain defaults to --ehlo)",
    ),
    ("HELO", "HELO [domain]", "old-style greeting, no extensions"),
    ("LHLO", "LHLO [domain]", "LMTP greeting (RFC 2033)"),
    (
        "MAIL",
        "MAIL FROM:<address> [SIZE=n] [BODY=8BITMIME] [SMTPUTF8]",
        "start a transaction",
    ),
    ("RCPT", "RCPT TO:<address>", "add a recipient"),
    (
        "DATA",
        "DATA",
        "send the message; lines up to a lone '.' are the body",
    ),
    ("RSET", "RSET", "abort the transaction"),
    (
        "NOOP",
        "NOOP",
        "do nothing (keeps the connection alive, checks it)",
    ),
    ("VRFY", "VRFY <user>", "ask whether a user exists"),
    ("EXPN", "EXPN <list>", "ask for a mailing list's members"),
    ("HELP", "HELP [verb]", "ask the server for help"),
    (
        "STARTTLS",
        "STARTTLS",
        "switch to TLS; on 220 the handshake runs at once",
    ),
    (
        "AUTH",
        "AUTH PLAIN|LOGIN|CRAM-MD5",
        "authenticate; typed bare, the shell guides the exchange",
    ),
    (
        "BDAT",
        "BDAT size [LAST]",
        "send a chunk (CHUNKING, RFC 3030)",
    ),
    ("QUIT", "QUIT", "end the session"),
];

/// A usage error in a shell command; `Display` is one line saying what and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LangError(pub String);

fn err<T>(s: impl Into<String>) -> Result<T, LangError> {
    Err(LangError(s.into()))
}

/// Parse a line starting with `:`.
pub fn parse_shell(line: &str) -> Result<ShellCmd, LangError> {
    let body = line.strip_prefix(':').unwrap_or(line);
    let (name, rest) = match body.split_once(char::is_whitespace) {
        Some((n, r)) => (n, r.trim()),
        None => (body, ""),
    };
    let args: Vec<&str> = rest.split_whitespace().collect();
    let need = |what: &str| LangError(format!(":{name} needs {what} (see :help {name})"));
    let none = |cmd: ShellCmd| {
        if args.is_empty() {
            Ok(cmd)
        } else {
            err(format!(":{name} takes no arguments"))
        }
    };
    match name.to_ascii_lowercase().as_str() {
        "help" | "h" | "?" => Ok(ShellCmd::Help(args.first().map(|s| s.to_string()))),
        "connect" | "open" => {
            let mut target = None;
            let (mut starttls, mut tls_on_connect, mut lmtp, mut mx) = (false, false, false, false);
            for a in &args {
                match *a {
                    "--starttls" => starttls = true,
                    "--tls-on-connect" | "--smtps" => tls_on_connect = true,
                    "--lmtp" => lmtp = true,
                    "--mx" => mx = true,
                    a if a.starts_with("--") => {
                        return err(format!(":connect: unknown option {a}"));
                    }
                    a if target.is_none() => target = Some(a.to_string()),
                    _ => return err(":connect takes one TARGET"),
                }
            }
            if starttls && tls_on_connect {
                return err(":connect: --starttls and --tls-on-connect exclude each other");
            }
            let target = target.ok_or_else(|| {
                need(if mx {
                    "a DOMAIN after --mx"
                } else {
                    "a TARGET"
                })
            })?;
            Ok(ShellCmd::Connect {
                target,
                starttls,
                tls_on_connect,
                lmtp,
                mx,
            })
        }
        "starttls" => none(ShellCmd::Starttls),
        "auth" => {
            let mut initial = None;
            let words: Vec<&str> = args
                .iter()
                .copied()
                .filter(|a| match *a {
                    "--initial" => {
                        initial = Some(true);
                        false
                    }
                    "--no-initial" => {
                        initial = Some(false);
                        false
                    }
                    _ => true,
                })
                .collect();
            let m = words.first().ok_or_else(|| {
                need("a mechanism: PLAIN, LOGIN, CRAM-MD5, XOAUTH2 or OAUTHBEARER")
            })?;
            let mech = Mechanism::parse(m).ok_or_else(|| {
                LangError(format!(
                    ":auth: unknown mechanism {m}; use PLAIN, LOGIN, CRAM-MD5, XOAUTH2 or OAUTHBEARER"
                ))
            })?;
            if let Some(a) = words.iter().find(|a| a.starts_with("--")) {
                return err(format!(":auth: unknown option {a}"));
            }
            if words.len() > 2 {
                return err(
                    ":auth takes MECH [USER]; the password or token is never typed on the line",
                );
            }
            if initial == Some(true) && mech == Mechanism::CramMd5 {
                return err(
                    ":auth: CRAM-MD5 starts with the server's challenge: it has no initial response",
                );
            }
            Ok(ShellCmd::Auth {
                mech,
                user: words.get(1).map(|s| s.to_string()),
                initial,
            })
        }
        "send" => {
            let mut opts = crate::session::SendOptions::default();
            let mut file = rest;
            while let Some(r) = file.strip_prefix("--") {
                let (opt, after) = r.split_once(char::is_whitespace).unwrap_or((r, ""));
                match opt {
                    "bdat" => opts.bdat = true,
                    "no-size-check" => opts.size_check = false,
                    _ => return err(format!(":send: unknown option --{opt}")),
                }
                file = after.trim_start();
            }
            if file.is_empty() {
                return Err(need("a FILE"));
            }
            Ok(ShellCmd::Send(PathBuf::from(file), opts))
        }
        "caps" => none(ShellCmd::Caps),
        "b64" => Ok(ShellCmd::B64(rest.to_string())),
        "unb64" => {
            if rest.is_empty() {
                return Err(need("base64 TEXT"));
            }
            Ok(ShellCmd::Unb64(rest.to_string()))
        }
        "raw" => {
            // Keep the text exactly as typed after one separating space.
            let text = body.get(name.len() + 1..).unwrap_or("");
            if text.is_empty() {
                return Err(need("TEXT"));
            }
            Ok(ShellCmd::Raw(unescape_raw(text)?))
        }
        "expect" => Ok(ShellCmd::Expect(ExpectSpec::parse(rest)?)),
        "state" => none(ShellCmd::State),
        "save" => {
            if rest.is_empty() {
                return Err(need("a FILE"));
            }
            Ok(ShellCmd::Save(PathBuf::from(rest)))
        }
        "quit" | "q" | "exit" => none(ShellCmd::Quit),
        "explain" => {
            let (c, e) = super::teach::parse_explain(rest).map_err(LangError)?;
            Ok(ShellCmd::Explain(c, e))
        }
        "inbox" => match args.as_slice() {
            [] => Ok(ShellCmd::Inbox(None)),
            [n] => n
                .parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .map(|n| ShellCmd::Inbox(Some(n)))
                .ok_or_else(|| LangError(format!(":inbox: {n:?} is not a message number"))),
            _ => err(":inbox takes at most one message number"),
        },
        "wire" => none(ShellCmd::Wire),
        "" => err("an empty shell command; type :help"),
        other => err(format!(
            "unknown shell command :{other}; type :help for the list"
        )),
    }
}

/// Interpret `\r \n \t \0 \xHH \\` in `:raw` text. A trailing CRLF is not added.
pub fn unescape_raw(s: &str) -> Result<Vec<u8>, LangError> {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = s
                    .get(i + 2..i + 4)
                    .ok_or_else(|| LangError(":raw: \\x needs two hex digits".into()))?;
                let v = u8::from_str_radix(hex, 16)
                    .map_err(|_| LangError(format!(":raw: \\x{hex} is not two hex digits")))?;
                out.push(v);
                i += 4;
                continue;
            }
            Some(c) => {
                return err(format!(
                    ":raw: unknown escape \\{}; use \\r \\n \\t \\0 \\xHH or \\\\",
                    *c as char
                ));
            }
            None => return err(":raw: a lone backslash at the end; use \\\\ for a backslash"),
        }
        i += 2;
    }
    Ok(out)
}

/// One alternative of an `:expect` spec.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Alt {
    /// `Some((value, digits))`: the code must start with these `digits` digits of `value`.
    code: Option<(u16, u8)>,
    enhanced: Option<EnhancedCode>,
}

/// What `:expect` checks: alternatives separated by `|`, each a code (`250`), a class
/// (`2xx`, `25x`), an enhanced code (`5.1.1`) or both (`550 5.1.1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectSpec {
    alts: Vec<Alt>,
    text: String,
    /// `:expect <rcpt> SPEC`: check only the LMTP reply for this recipient.
    rcpt: Option<String>,
}

impl ExpectSpec {
    /// Parse a spec.
    pub fn parse(s: &str) -> Result<ExpectSpec, LangError> {
        let s = s.trim();
        // LMTP (RFC 2033 §4.2): `<rcpt> SPEC` picks one recipient's reply to the message.
        if let Some(r) = s.strip_prefix('<') {
            let (addr, spec) = r.split_once('>').ok_or_else(|| {
                LangError(":expect <recipient> SPEC: the recipient needs its '>'".into())
            })?;
            let mut e = ExpectSpec::parse(spec)?;
            e.rcpt = Some(format!("<{addr}>"));
            e.text = s.to_string();
            return Ok(e);
        }
        if s.is_empty() {
            return err(":expect needs a SPEC: 250, 2xx, 5.1.1, 550 5.1.1 or 250|251");
        }
        let mut alts = Vec::new();
        for part in s.split('|') {
            let mut alt = Alt {
                code: None,
                enhanced: None,
            };
            let words: Vec<&str> = part.split_whitespace().collect();
            if words.is_empty() || words.len() > 2 {
                return err(format!(
                    ":expect: {part:?} is not a code, a class or an enhanced code"
                ));
            }
            for w in words {
                if w.contains('.') {
                    let e = w.parse::<EnhancedCode>().map_err(|()| {
                        LangError(format!(":expect: {w:?} is not an enhanced code like 5.1.1"))
                    })?;
                    if alt.enhanced.replace(e).is_some() {
                        return err(":expect: two enhanced codes in one alternative");
                    }
                } else {
                    let c = parse_code_pattern(w).ok_or_else(|| {
                        LangError(format!(":expect: {w:?} is not a code like 250, 2xx or 25x"))
                    })?;
                    if alt.code.replace(c).is_some() {
                        return err(":expect: two codes in one alternative");
                    }
                }
            }
            alts.push(alt);
        }
        Ok(ExpectSpec {
            alts,
            text: s.to_string(),
            rcpt: None,
        })
    }

    /// The recipient of `:expect <rcpt> SPEC`, if one was named.
    pub fn recipient(&self) -> Option<&str> {
        self.rcpt.as_deref()
    }

    /// Whether `reply` satisfies the spec.
    pub fn matches(&self, reply: &Reply) -> bool {
        self.alts.iter().any(|a| {
            let code_ok = a.code.is_none_or(|(v, digits)| {
                let div = 10u16.pow(3 - digits as u32);
                reply.code.value() / div == v / div
            });
            let enh_ok = a.enhanced.is_none_or(|e| reply.enhanced == Some(e));
            code_ok && enh_ok
        })
    }

    /// The spec as typed.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn parse_code_pattern(w: &str) -> Option<(u16, u8)> {
    let b = w.as_bytes();
    if b.len() != 3 || !(b'2'..=b'5').contains(&b[0]) {
        return None;
    }
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if !b[digits..].iter().all(|c| *c == b'x' || *c == b'X') {
        return None;
    }
    let mut v = 0u16;
    for (i, c) in b.iter().enumerate() {
        v = v * 10 + if i < digits { (c - b'0') as u16 } else { 0 };
    }
    Some((v, digits as u8))
}

/// Whether a reply is one a script does not accept without an `:expect`: 4xx or 5xx.
pub fn is_failure(reply: &Reply) -> bool {
    matches!(
        reply.code.class(),
        Class::TransientNegative | Class::PermanentNegative
    )
}

/// Whether a line typed at the command prompt may be written to the history file. Lines
/// that can carry a secret never are: AUTH with a response, the base64 helpers (people
/// encode passwords with them), and `:raw` (it can carry anything).
pub fn history_safe(line: &str) -> bool {
    let t = line.trim_start();
    if t.is_empty() {
        return false;
    }
    if let Some(cmd) = t.strip_prefix(':') {
        let name = cmd
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        return !matches!(name.as_str(), "b64" | "unb64" | "raw");
    }
    if Verb::of_line(t) == Verb::Auth {
        return t.split_whitespace().count() <= 2;
    }
    true
}

/// Help text for `:help` or `:help CMD`.
pub fn help(topic: Option<&str>) -> String {
    match topic {
        None => {
            let mut s = String::from(
                "Type SMTP commands as you would to the server; smtpsh adds CRLF.\nShell commands:\n",
            );
            for (n, a, d) in SHELL_COMMANDS {
                s.push_str(&format!("  {:<10} {:<38} {d}\n", n, a));
            }
            s.push_str("SMTP verbs the shell helps with (:help VERB for more):\n  ");
            s.push_str(&VERBS.iter().map(|v| v.0).collect::<Vec<_>>().join(" "));
            s.push_str("\nIn body mode (after 354) each line is sent dot-stuffed; a lone '.' ends the body.");
            s
        }
        Some(t) => {
            // `:help help` is the shell command, `:help HELP` the SMTP verb.
            let key = t.trim_start_matches(':').to_ascii_lowercase();
            let shell = SHELL_COMMANDS.iter().find(|c| c.0[1..] == key);
            let verb = VERBS.iter().find(|v| v.0.eq_ignore_ascii_case(&key));
            let verb_first = !t.starts_with(':') && t.chars().any(|c| c.is_ascii_uppercase());
            match (shell, verb) {
                (Some((n, a, d)), v) if !(verb_first && v.is_some()) => {
                    return format!("{n} {a}\n  {d}");
                }
                (_, Some((_, syn, d))) => return format!("{syn}\n  {d}"),
                _ => {}
            }
            format!("no help on {t:?}; :help lists the commands")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::reply::Code;

    fn reply(code: u16, enh: Option<&str>) -> Reply {
        Reply::new(
            Code::new(code).unwrap(),
            enh.map(|e| e.parse().unwrap()),
            &["x"],
        )
    }

    #[test]
    fn expect_table() {
        let cases: &[(&str, u16, Option<&str>, bool)] = &[
            ("250", 250, None, true),
            ("250", 251, None, false),
            ("2xx", 251, None, true),
            ("2XX", 354, None, false),
            ("25x", 251, None, true),
            ("25x", 221, None, false),
            ("5.1.1", 550, Some("5.1.1"), true),
            ("5.1.1", 550, Some("5.1.2"), false),
            ("5.1.1", 550, None, false),
            ("550 5.1.1", 550, Some("5.1.1"), true),
            ("550 5.1.1", 553, Some("5.1.1"), false),
            ("250|251", 251, None, true),
            ("250|251", 252, None, false),
            ("250 | 5xx", 554, None, true),
        ];
        for (spec, code, enh, want) in cases {
            let s = ExpectSpec::parse(spec).unwrap();
            assert_eq!(
                s.matches(&reply(*code, *enh)),
                *want,
                "{spec} vs {code} {enh:?}"
            );
        }
    }

    #[test]
    fn expect_refusals() {
        for bad in [
            "", "2", "25", "2500", "650", "1xx", "x50", "5.1", "5.1.1.1", "250 251", "250||251",
            "ok",
        ] {
            assert!(ExpectSpec::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn raw_escapes() {
        assert_eq!(unescape_raw("NOOP\\r\\n").unwrap(), b"NOOP\r\n");
        assert_eq!(unescape_raw("a\\x00b\\\\\\t").unwrap(), b"a\x00b\\\t");
        assert_eq!(unescape_raw("\\xff\\0").unwrap(), b"\xff\x00");
        assert!(unescape_raw("\\q").is_err());
        assert!(unescape_raw("\\x4").is_err());
        assert!(unescape_raw("\\xzz").is_err());
        assert!(unescape_raw("end\\").is_err());
    }

    #[test]
    fn shell_commands_parse() {
        assert_eq!(
            parse_shell(":auth plain alice").unwrap(),
            ShellCmd::Auth {
                mech: Mechanism::Plain,
                user: Some("alice".into()),
                initial: None
            }
        );
        assert_eq!(
            parse_shell(":auth login --initial alice").unwrap(),
            ShellCmd::Auth {
                mech: Mechanism::Login,
                user: Some("alice".into()),
                initial: Some(true)
            }
        );
        assert!(parse_shell(":auth CRAM-MD5 --initial").is_err());
        assert!(parse_shell(":auth PLAIN --now").is_err());
        let opts = crate::session::SendOptions::default();
        assert_eq!(
            parse_shell(":send --bdat --no-size-check a b.eml").unwrap(),
            ShellCmd::Send(
                "a b.eml".into(),
                crate::session::SendOptions {
                    bdat: true,
                    size_check: false
                }
            )
        );
        assert!(parse_shell(":send --bdat").is_err());
        assert!(parse_shell(":send --fast x").is_err());
        let e = ExpectSpec::parse("<bob@test> 452 4.2.2").unwrap();
        assert_eq!(e.recipient(), Some("<bob@test>"));
        assert!(e.matches(&reply(452, Some("4.2.2"))));
        assert!(ExpectSpec::parse("<bob@test 250").is_err());
        assert!(ExpectSpec::parse("<bob@test>").is_err());
        assert_eq!(ExpectSpec::parse("250").unwrap().recipient(), None);
        assert_eq!(
            parse_shell(":raw NOOP\\r\\n").unwrap(),
            ShellCmd::Raw(b"NOOP\r\n".to_vec())
        );
        assert_eq!(
            parse_shell(":raw  two spaces").unwrap(),
            ShellCmd::Raw(b" two spaces".to_vec())
        );
        assert_eq!(
            parse_shell(":connect h:25 --starttls").unwrap(),
            ShellCmd::Connect {
                target: "h:25".into(),
                starttls: true,
                tls_on_connect: false,
                lmtp: false,
                mx: false
            }
        );
        assert_eq!(
            parse_shell(":connect --mx example.org --starttls").unwrap(),
            ShellCmd::Connect {
                target: "example.org".into(),
                starttls: true,
                tls_on_connect: false,
                lmtp: false,
                mx: true
            }
        );
        assert!(parse_shell(":connect").is_err());
        assert!(parse_shell(":auth GSSAPI").is_err());
        assert!(parse_shell(":auth PLAIN alice secret").is_err());
        assert!(parse_shell(":caps x").is_err());
        assert!(parse_shell(":nope").is_err());
        assert_eq!(
            parse_shell(":send my file.eml").unwrap(),
            ShellCmd::Send("my file.eml".into(), opts)
        );
    }

    #[test]
    fn history_never_takes_secret_bearing_lines() {
        assert!(history_safe("EHLO x"));
        assert!(history_safe("AUTH PLAIN"));
        assert!(history_safe(":auth LOGIN alice"));
        assert!(!history_safe("AUTH PLAIN AGFsaWNlAHNlY3JldA=="));
        assert!(!history_safe("auth login YWxpY2U="));
        assert!(!history_safe(":b64 \0alice\0secret"));
        assert!(!history_safe(":unb64 AGFsaWNl"));
        assert!(!history_safe(":raw AUTH PLAIN x\\r\\n"));
        assert!(!history_safe("   "));
    }

    #[test]
    fn help_covers_every_command_and_verb() {
        let all = help(None);
        for (n, _, _) in SHELL_COMMANDS {
            assert!(all.contains(n), "{n}");
            assert!(!help(Some(n)).starts_with("no help"), "{n}");
        }
        for (v, _, _) in VERBS {
            assert!(help(Some(v)).contains(v), "{v}");
        }
    }
}
