//! SMTP command lines as values: a [`Command`] is a checked line (no CR, LF, NUL or other
//! control character, at most 510 octets: PRODUCT.md safety rule 3) with its verb and its
//! parsed arguments. It is made once, where the line enters smtpsh (the prompt, a script, a
//! shell command that builds one), and everything below takes the value.
//!
//! A command's `Display` is its exact wire form, CRLF included (as lettre's commands are):
//! the line as typed, because a debugging shell sends what the user typed. Where a line holds
//! a secret (an AUTH initial response typed by hand), [`Command::shown`] is what the
//! transcript gets, and `Debug` redacts it too.

use std::fmt;

use super::bdat::Bdat;

/// The longest command line without its CRLF: 512 octets minus 2 (RFC 5321 §4.5.3.1.4).
pub const MAX_COMMAND_LINE: usize = 510;

/// The verb of a command line, case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    /// HELO
    Helo,
    /// EHLO
    Ehlo,
    /// LHLO (RFC 2033)
    Lhlo,
    /// MAIL
    Mail,
    /// RCPT
    Rcpt,
    /// DATA
    Data,
    /// BDAT (RFC 3030)
    Bdat,
    /// RSET
    Rset,
    /// NOOP
    Noop,
    /// VRFY
    Vrfy,
    /// EXPN
    Expn,
    /// HELP
    Help,
    /// QUIT
    Quit,
    /// STARTTLS (RFC 3207)
    Starttls,
    /// AUTH (RFC 4954)
    Auth,
    /// Anything else, upper-cased.
    Other(String),
}

/// The verbs smtpsh knows, with their syntax and what they do: for `:help VERB`, the
/// prompt's hints and completion.
const KNOWN: &[(Verb, &str, &str)] = &[
    (
        Verb::Ehlo,
        "EHLO [domain]",
        "greet and ask for the server's extensions (domain defaults to --ehlo)",
    ),
    (
        Verb::Helo,
        "HELO [domain]",
        "old-style greeting, no extensions",
    ),
    (Verb::Lhlo, "LHLO [domain]", "LMTP greeting (RFC 2033)"),
    (
        Verb::Mail,
        "MAIL FROM:<address> [SIZE=n] [BODY=8BITMIME] [SMTPUTF8]",
        "start a transaction",
    ),
    (Verb::Rcpt, "RCPT TO:<address>", "add a recipient"),
    (
        Verb::Data,
        "DATA",
        "send the message; lines up to a lone '.' are the body",
    ),
    (Verb::Rset, "RSET", "abort the transaction"),
    (
        Verb::Noop,
        "NOOP",
        "do nothing (keeps the connection alive, checks it)",
    ),
    (Verb::Vrfy, "VRFY <user>", "ask whether a user exists"),
    (
        Verb::Expn,
        "EXPN <list>",
        "ask for a mailing list's members",
    ),
    (Verb::Help, "HELP [verb]", "ask the server for help"),
    (
        Verb::Starttls,
        "STARTTLS",
        "switch to TLS; on 220 the handshake runs at once",
    ),
    (
        Verb::Auth,
        "AUTH PLAIN|LOGIN|CRAM-MD5",
        "authenticate; typed bare, the shell guides the exchange",
    ),
    (
        Verb::Bdat,
        "BDAT size [LAST]",
        "send a chunk (CHUNKING, RFC 3030)",
    ),
    (Verb::Quit, "QUIT", "end the session"),
];

impl Verb {
    /// The verb of `line`: its first word, up to a space, TAB or `:` (so `MAIL FROM:<a>` and
    /// `mail from:<a>` are both `Mail`). This and [`Command::parse`] are where a line's text
    /// is looked at; everything after works on the value.
    pub fn of_line(line: &str) -> Verb {
        // RFC 5321 §2.4: verbs are case-insensitive. TAB ends the word too, so a typed
        // `EHLO<TAB>name` is still recognised.
        let word = line.split([' ', '\t', ':']).next().unwrap_or("");
        Verb::of_word(word)
    }

    /// The verb a word names, case-insensitive.
    pub fn of_word(word: &str) -> Verb {
        let up = word.to_ascii_uppercase();
        KNOWN
            .iter()
            .map(|(v, _, _)| v)
            .find(|v| v.name() == up)
            .cloned()
            .unwrap_or(Verb::Other(up))
    }

    /// The verb as sent on the wire, upper-case.
    pub fn name(&self) -> &str {
        match self {
            Verb::Helo => "HELO",
            Verb::Ehlo => "EHLO",
            Verb::Lhlo => "LHLO",
            Verb::Mail => "MAIL",
            Verb::Rcpt => "RCPT",
            Verb::Data => "DATA",
            Verb::Bdat => "BDAT",
            Verb::Rset => "RSET",
            Verb::Noop => "NOOP",
            Verb::Vrfy => "VRFY",
            Verb::Expn => "EXPN",
            Verb::Help => "HELP",
            Verb::Quit => "QUIT",
            Verb::Starttls => "STARTTLS",
            Verb::Auth => "AUTH",
            Verb::Other(word) => word,
        }
    }

    /// The syntax line shown by `:help VERB` and the prompt's hint (`None` for verbs smtpsh
    /// does not know).
    pub fn syntax(&self) -> Option<&'static str> {
        KNOWN.iter().find(|(v, _, _)| v == self).map(|k| k.1)
    }

    /// What the verb does, in a few words (`None` for verbs smtpsh does not know).
    pub fn about(&self) -> Option<&'static str> {
        KNOWN.iter().find(|(v, _, _)| v == self).map(|k| k.2)
    }

    /// Every verb smtpsh knows, in the order `:help` lists them.
    pub fn known() -> impl Iterator<Item = &'static Verb> {
        KNOWN.iter().map(|(v, _, _)| v)
    }

    /// May stand anywhere in a pipelined group (RFC 2920 §3.1).
    pub fn pipelines(&self) -> bool {
        matches!(self, Verb::Mail | Verb::Rcpt | Verb::Rset)
    }

    /// May end a pipelined group (RFC 2920 §3.1: DATA or NOOP, whose replies the client
    /// must see before it goes on).
    pub fn ends_pipeline(&self) -> bool {
        matches!(self, Verb::Data | Verb::Noop)
    }
}

/// What a command's arguments are, parsed as far as the shell needs them.
#[derive(Clone, PartialEq, Eq)]
pub enum Args {
    /// Nothing the shell reads (DATA, RSET, QUIT, NOOP, an unknown verb's words).
    Plain,
    /// EHLO, HELO, LHLO: the client's domain, if typed (RFC 5321 §4.1.1.1).
    Hello {
        /// The domain or address literal typed after the verb.
        domain: Option<String>,
    },
    /// `MAIL FROM:<path>` or `RCPT TO:<path>`, with ESMTP parameters, read leniently by
    /// the grammar the practice server uses ([`super::syntax::scan_path_arg`]): the shell
    /// sends what was typed and only needs the path (LMTP's per-recipient replies) and the
    /// parameters (SMTPUTF8, DSN).
    Path {
        /// The path as typed: `<a@b>` (`<>` for the null path), or the bare word where the
        /// path should be; empty when there is none.
        path: String,
        /// The parameters after the path, as typed.
        params: Vec<Param>,
    },
    /// `BDAT size [LAST]`.
    Bdat(Bdat),
    /// AUTH MECHANISM [initial-response].
    Auth {
        /// The mechanism as typed, upper-cased.
        mechanism: String,
        /// An initial response was typed on the line: a secret (RFC 4954 §4).
        response: bool,
    },
}

impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Args::Plain => f.write_str("Plain"),
            Args::Hello { domain } => f.debug_struct("Hello").field("domain", domain).finish(),
            Args::Path { path, params } => f
                .debug_struct("Path")
                .field("path", path)
                .field("params", params)
                .finish(),
            Args::Bdat(b) => f.debug_tuple("Bdat").field(b).finish(),
            Args::Auth {
                mechanism,
                response,
            } => f
                .debug_struct("Auth")
                .field("mechanism", mechanism)
                .field("response", &response.then_some("(redacted)"))
                .finish(),
        }
    }
}

/// An ESMTP parameter of MAIL or RCPT (RFC 5321 §4.1.2 `esmtp-param`), as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The keyword, case as typed.
    pub keyword: String,
    /// What follows the first `=`, if any.
    pub value: Option<String>,
}

impl Param {
    /// Whether this is the parameter `keyword` (case-insensitive, RFC 5321 §2.4).
    pub fn is(&self, keyword: &str) -> bool {
        self.keyword.eq_ignore_ascii_case(keyword)
    }
}

/// One SMTP command line, checked and parsed. See the module header.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    line: String,
    verb: Verb,
    args: Args,
}

/// Why a command line can't be made into a [`Command`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The checks of safety rule 3 refused it.
    #[error(transparent)]
    Line(#[from] LineError),
    /// `BDAT` with arguments that are not `size [LAST]` (RFC 3030 §2).
    #[error("refused: {0}; nothing was sent")]
    Bdat(String),
    /// A line the shell must not take as a command (an empty one).
    #[error("an empty command line; nothing was sent")]
    Empty,
}

impl Command {
    /// Check and parse a typed line (without its line end).
    pub fn parse(line: &str) -> Result<Command, CommandError> {
        check_line(line.as_bytes())?;
        if line.trim().is_empty() {
            return Err(CommandError::Empty);
        }
        let verb = Verb::of_line(line);
        // The words after the verb; `MAIL FROM:<a>` keeps `FROM:<a>`.
        let rest = line
            .get(verb.name().len()..)
            .unwrap_or("")
            .trim_start_matches([' ', '\t']);
        let args = match verb {
            Verb::Ehlo | Verb::Helo | Verb::Lhlo => Args::Hello {
                domain: rest.split_whitespace().next().map(str::to_string),
            },
            Verb::Mail | Verb::Rcpt => {
                let loose = super::syntax::scan_path_arg(rest);
                Args::Path {
                    path: loose.path.to_string(),
                    params: loose
                        .params
                        .iter()
                        .map(|p| Param {
                            keyword: p.keyword.to_string(),
                            value: p.value.map(str::to_string),
                        })
                        .collect(),
                }
            }
            Verb::Bdat => Args::Bdat(Bdat::parse(line).map_err(CommandError::Bdat)?),
            Verb::Auth => {
                let mut words = rest.split_whitespace();
                Args::Auth {
                    mechanism: words.next().unwrap_or("").to_ascii_uppercase(),
                    response: words.next().is_some(),
                }
            }
            _ => Args::Plain,
        };
        Ok(Command {
            line: line.to_string(),
            verb,
            args,
        })
    }

    /// A command smtpsh makes itself from a verb and an argument it checked (`EHLO name`,
    /// `QUIT`). Panics only on a programming error: callers pass checked values.
    fn made(line: String) -> Command {
        Command::parse(&line).expect("smtpsh builds only valid command lines")
    }

    /// `EHLO name` (or HELO/LHLO): `name` was checked by [`check_value`].
    pub fn hello(verb: &Verb, name: &str) -> Command {
        Command::made(format!("{} {name}", verb.name()))
    }

    /// A command of a verb alone: `QUIT`, `DATA`, `STARTTLS`, `RSET`, `NOOP`.
    pub fn bare(verb: Verb) -> Command {
        Command::made(verb.name().to_string())
    }

    /// `BDAT size [LAST]`.
    pub fn bdat(b: Bdat) -> Command {
        Command::made(b.line())
    }

    /// The verb.
    pub fn verb(&self) -> &Verb {
        &self.verb
    }

    /// The parsed arguments.
    pub fn args(&self) -> &Args {
        &self.args
    }

    /// `EHLO`/`HELO`/`LHLO` typed without a domain: the session fills in `--ehlo`'s.
    pub fn with_hello_domain(&self, name: &str) -> Command {
        match &self.args {
            Args::Hello { domain: None } => {
                // Keep the verb as typed (`ehlo` stays lower-case).
                let typed = self.line.split([' ', '\t']).next().unwrap_or("EHLO");
                Command::made(format!("{typed} {name}"))
            }
            _ => self.clone(),
        }
    }

    /// The path of a MAIL or RCPT line as typed (`<a@b>`), as an LMTP reply is shown for
    /// it; `None` for other verbs.
    pub fn path(&self) -> Option<&str> {
        match &self.args {
            Args::Path { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The ESMTP parameters of a MAIL or RCPT line (empty for other verbs).
    pub fn params(&self) -> &[Param] {
        match &self.args {
            Args::Path { params, .. } => params,
            _ => &[],
        }
    }

    /// Whether the line holds a secret (an AUTH response typed by hand).
    pub fn is_secret(&self) -> bool {
        matches!(self.args, Args::Auth { response: true, .. })
    }

    /// The line as the transcript shows it: as typed, with a secret replaced by
    /// `<redacted>`.
    pub fn shown(&self) -> String {
        match &self.args {
            Args::Auth {
                mechanism,
                response: true,
            } => format!("{} {mechanism} <redacted>", self.verb.name()),
            _ => self.line.clone(),
        }
    }

    /// The line as typed, secret and all: for the wire only.
    pub fn expose(&self) -> &str {
        &self.line
    }

    /// The exact bytes on the wire, CRLF included.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut w = Vec::with_capacity(self.line.len() + 2);
        w.extend_from_slice(self.line.as_bytes());
        w.extend_from_slice(b"\r\n");
        w
    }
}

/// The wire form: the line and CRLF (RFC 5321 §2.3.8).
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\r\n", self.line)
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("line", &self.shown())
            .field("verb", &self.verb)
            .field("args", &self.args)
            .finish()
    }
}

/// Why a command line was refused; `Display` is one line saying what and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// A control character other than TAB.
    #[error(
        "refused: the line holds {name} at column {column}; nothing was sent (use :raw to send control bytes on purpose)"
    )]
    Control {
        /// The byte.
        byte: u8,
        /// 1-based column.
        column: usize,
        /// Human name, e.g. `a CR (0x0D)`.
        name: String,
    },
    /// Longer than [`MAX_COMMAND_LINE`].
    #[error(
        "refused: the line is {len} octets, over SMTP's 510 (RFC 5321 §4.5.3.1.4); nothing was sent (use :raw to send it anyway)"
    )]
    TooLong {
        /// Its length in octets.
        len: usize,
    },
}

/// Check a line before it is sent as a command: no control characters (TAB allowed),
/// at most [`MAX_COMMAND_LINE`] octets.
pub fn check_line(line: &[u8]) -> Result<(), LineError> {
    // Control characters first: a line holding a CR or LF would be two commands on the
    // wire (command injection), whatever its length.
    check_controls(line, true)?;
    if line.len() > MAX_COMMAND_LINE {
        return Err(LineError::TooLong { len: line.len() });
    }
    Ok(())
}

/// Check a value that will be put inside a command (an `--ehlo` name, a user name):
/// no control characters at all, TAB included.
pub fn check_value(what: &str, value: &str) -> Result<(), LineError> {
    // `what` names the value for callers' messages; the error itself is about the bytes.
    let _ = what;
    check_controls(value.as_bytes(), false)
}

/// Refuse the first control character: C0 (TAB aside when `tab_ok`) and DEL.
fn check_controls(bytes: &[u8], tab_ok: bool) -> Result<(), LineError> {
    let bad = |b: u8| (b < 0x20 && !(tab_ok && b == b'\t')) || b == 0x7f;
    match bytes.iter().position(|&b| bad(b)) {
        Some(i) => Err(LineError::Control {
            byte: bytes[i],
            column: i + 1,
            name: control_name(bytes[i]),
        }),
        None => Ok(()),
    }
}

/// A control byte as a person would name it: `a CR (0x0D)`.
fn control_name(byte: u8) -> String {
    let name = match byte {
        b'\r' => "a CR",
        b'\n' => "an LF",
        0x00 => "a NUL",
        0x1b => "an ESC",
        0x7f => "a DEL",
        b'\t' => "a TAB",
        _ => "a control character",
    };
    format!("{name} (0x{byte:02X})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs() {
        let cases = [
            ("EHLO client.example.net", Verb::Ehlo),
            ("ehlo x", Verb::Ehlo),
            ("HELO x", Verb::Helo),
            ("lhlo x", Verb::Lhlo),
            ("MAIL FROM:<a@example.org>", Verb::Mail),
            ("mail from:<a@example.org>", Verb::Mail),
            ("Rcpt To:<b@example.org>", Verb::Rcpt),
            ("DATA", Verb::Data),
            ("BDAT 100 LAST", Verb::Bdat),
            ("rset", Verb::Rset),
            ("NOOP", Verb::Noop),
            ("VRFY postmaster", Verb::Vrfy),
            ("EXPN list", Verb::Expn),
            ("HELP", Verb::Help),
            ("quit", Verb::Quit),
            ("StartTLS", Verb::Starttls),
            ("AUTH PLAIN", Verb::Auth),
            ("EHLO\tx", Verb::Ehlo),
            ("xclient NAME=x", Verb::Other("XCLIENT".into())),
            ("", Verb::Other(String::new())),
            (" MAIL", Verb::Other(String::new())),
        ];
        for (line, verb) in cases {
            assert_eq!(Verb::of_line(line), verb, "{line:?}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(Verb::Mail.name(), "MAIL");
        assert_eq!(Verb::Starttls.name(), "STARTTLS");
        assert_eq!(Verb::of_line("etrn x").name(), "ETRN");
        for line in [
            "HELO", "EHLO", "LHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "VRFY", "EXPN",
            "HELP", "QUIT", "STARTTLS", "AUTH",
        ] {
            assert_eq!(Verb::of_line(line).name(), line);
            assert_ne!(Verb::of_line(line), Verb::Other(line.into()));
        }
    }

    #[test]
    fn check_line_controls() {
        let cases: &[(&[u8], u8, usize, &str)] = &[
            (b"MAIL FROM:<a>\r\nRCPT TO:<b>", b'\r', 14, "a CR (0x0D)"),
            (b"NOOP\n", b'\n', 5, "an LF (0x0A)"),
            (b"\0", 0, 1, "a NUL (0x00)"),
            (b"EHLO \x1b[31m", 0x1b, 6, "an ESC (0x1B)"),
            (b"NOOP\x7f", 0x7f, 5, "a DEL (0x7F)"),
            (b"NOOP \x07", 0x07, 6, "a control character (0x07)"),
            (b"NOOP \x1f", 0x1f, 6, "a control character (0x1F)"),
        ];
        for &(line, byte, column, name) in cases {
            assert_eq!(
                check_line(line),
                Err(LineError::Control {
                    byte,
                    column,
                    name: name.into()
                }),
                "{line:?}"
            );
        }
        assert_eq!(check_line(b"NOOP\tx"), Ok(()));
        assert_eq!(check_line("EHLO café".as_bytes()), Ok(()));
        assert_eq!(check_line(b""), Ok(()));
    }

    // RFC 5321 §4.5.3.1.4: 512 octets with the CRLF.
    #[test]
    fn check_line_length() {
        assert_eq!(check_line(&[b'x'; 510]), Ok(()));
        assert_eq!(
            check_line(&[b'x'; 511]),
            Err(LineError::TooLong { len: 511 })
        );
        // A control character is the more important news.
        let mut long = vec![b'x'; 600];
        long[599] = b'\n';
        assert!(matches!(
            check_line(&long),
            Err(LineError::Control { column: 600, .. })
        ));
    }

    #[test]
    fn check_line_message() {
        let err = check_line(b"NOOP\r\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "refused: the line holds a CR (0x0D) at column 5; nothing was sent (use :raw to send control bytes on purpose)"
        );
    }

    #[test]
    fn check_value_refuses_tab_too() {
        assert_eq!(check_value("--ehlo", "client.example.net"), Ok(()));
        assert_eq!(check_value("user", &"x".repeat(600)), Ok(()));
        assert_eq!(
            check_value("--ehlo", "a\tb"),
            Err(LineError::Control {
                byte: b'\t',
                column: 2,
                name: "a TAB (0x09)".into()
            })
        );
        assert_eq!(
            check_value("user", "bob\r\nRCPT TO:<x>"),
            Err(LineError::Control {
                byte: b'\r',
                column: 4,
                name: "a CR (0x0D)".into()
            })
        );
    }

    /// A command's Display is its exact wire form; its parsed arguments are what the shell
    /// reads; a secret never shows in `shown()` or `{:?}`.
    #[test]
    fn commands_are_values_with_an_exact_wire_form() {
        let c = Command::parse("mail from:<a@b> SIZE=10 body=8BITMIME").unwrap();
        assert_eq!(c.to_string(), "mail from:<a@b> SIZE=10 body=8BITMIME\r\n");
        assert_eq!(c.to_wire(), b"mail from:<a@b> SIZE=10 body=8BITMIME\r\n");
        assert_eq!(*c.verb(), Verb::Mail);
        assert_eq!(c.path(), Some("<a@b>"));
        assert_eq!(
            c.params(),
            [
                Param {
                    keyword: "SIZE".into(),
                    value: Some("10".into())
                },
                Param {
                    keyword: "body".into(),
                    value: Some("8BITMIME".into())
                },
            ]
        );
        assert!(c.params()[1].is("BODY"));
        assert_eq!(
            Command::parse("RCPT TO: <é@x>").unwrap().path(),
            Some("<é@x>")
        );
        assert_eq!(Command::parse("RCPT TO:b@x").unwrap().path(), Some("b@x"));
        let e = Command::parse("EHLO").unwrap();
        assert_eq!(e.args(), &Args::Hello { domain: None });
        assert_eq!(
            e.with_hello_domain("client.test").to_string(),
            "EHLO client.test\r\n"
        );
        assert_eq!(
            Command::parse("ehlo")
                .unwrap()
                .with_hello_domain("c")
                .to_string(),
            "ehlo c\r\n"
        );
        assert_eq!(
            Command::parse("BDAT 10 LAST").unwrap().args(),
            &Args::Bdat(Bdat {
                size: 10,
                last: true
            })
        );
        assert!(matches!(
            Command::parse("BDAT x"),
            Err(CommandError::Bdat(_))
        ));
        assert_eq!(Command::parse("  "), Err(CommandError::Empty));
        assert!(matches!(
            Command::parse("NOOP\r\nQUIT"),
            Err(CommandError::Line(_))
        ));
        let a = Command::parse("AUTH PLAIN AGFsaWNlAHM=").unwrap();
        assert!(a.is_secret());
        assert_eq!(a.shown(), "AUTH PLAIN <redacted>");
        assert!(!format!("{a:?}").contains("AGFsaWNl"));
        assert_eq!(a.to_string(), "AUTH PLAIN AGFsaWNlAHM=\r\n");
        assert_eq!(Command::bare(Verb::Quit).to_string(), "QUIT\r\n");
        assert_eq!(
            Command::bdat(Bdat {
                size: 0,
                last: true
            })
            .to_string(),
            "BDAT 0 LAST\r\n"
        );
    }
}
