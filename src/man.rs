//! The man page, `smtpsh(1)`, written from the same definitions as `--help` (the clap
//! command of `cli.rs`), `:help` (the shell commands of `shell::commands`) and the exit-code
//! table of `error.rs`, in the sections a Unix user looks for: NAME, SYNOPSIS, DESCRIPTION,
//! OPTIONS, SHELL COMMANDS, EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES, SEE ALSO.
//!
//! The page is set ragged-right (`.ad l`, no hyphenation) and examples are literal (`.nf`):
//! justification would stretch the spaces inside a command, and a reader who copies
//! `printf 'EHLO  x'` sends two spaces.

use std::io::{self, Write};

use crate::cli::{ENVIRONMENT, EXAMPLES, FILES};
use crate::error::Exit;
use crate::shell::commands::definitions;
use crate::shell::help::{argument, synopsis};

/// Text made safe for roff: backslashes, hyphens (so they stay ASCII hyphens and are found
/// by search), and a leading `.` or `'` that would read as a request.
fn esc(text: &str) -> String {
    let s = text.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

/// Bold text.
fn b(text: &str) -> String {
    format!("\\fB{}\\fR", esc(text))
}

/// Render the page for `cmd` (`Cli::command()`).
pub fn render(cmd: clap::Command, out: &mut dyn Write) -> io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone())
        .title("SMTPSH")
        .section("1")
        .manual("smtpsh manual")
        .source(format!("smtpsh {}", env!("CARGO_PKG_VERSION")));
    man.render_title(out)?;
    writeln!(out, ".ad l\n.nh")?;
    man.render_name_section(out)?;

    writeln!(out, ".SH SYNOPSIS")?;
    for form in [
        "[OPTIONS] [TARGET]",
        "[OPTIONS] --script FILE TARGET",
        "[OPTIONS] TARGET < FILE",
        "--check [--script FILE]",
        "--practice [OPTIONS]",
        "--serve [ADDR] [--cert-out FILE] [--cert FILE [--key FILE]] [--users FILE] [--maildir DIR] [--json]",
    ] {
        writeln!(out, ".br\n{} {}", b("smtpsh"), esc(form))?;
    }
    writeln!(out, ".PP")?;
    writeln!(
        out,
        "TARGET is {}, {}, {}, {} or {} (and {} or {} for LMTP).",
        b("host"),
        b("host:port"),
        b("[v6addr]:port"),
        b("smtp://host[:port]"),
        b("smtps://host[:port]"),
        b("lmtp://host[:port]"),
        b("unix:/path")
    )?;

    man.render_description_section(out)?;
    man.render_options_section(out)?;

    writeln!(out, ".SH \"SHELL COMMANDS\"")?;
    writeln!(
        out,
        "At the prompt and in scripts, a line starting with {} is a shell command; any other line is an SMTP command, sent as typed with CRLF after the checks. In a script, the lines after {} up to a lone {} are the message.",
        b(":"),
        b("DATA"),
        b(".")
    )?;
    for c in definitions().get_subcommands() {
        writeln!(out, ".TP\n{}", b(&synopsis(c)))?;
        writeln!(
            out,
            "{}",
            esc(&c.get_about().map(|a| a.to_string()).unwrap_or_default())
        )?;
        for a in c.get_arguments() {
            let (name, help) = argument(a);
            writeln!(out, ".br\n{}: {}", b(&name), esc(&help))?;
        }
    }

    writeln!(out, ".SH \"EXIT STATUS\"")?;
    // A row is `CODE  what`; a line indented further continues the row above it.
    let mut rows: Vec<(String, String)> = Vec::new();
    for line in Exit::TABLE.lines().skip(1) {
        let indent = line.len() - line.trim_start().len();
        match rows.last_mut() {
            Some((_, what)) if indent >= 4 => {
                what.push(' ');
                what.push_str(line.trim());
            }
            _ => {
                if let Some((code, what)) = line.trim().split_once(char::is_whitespace) {
                    rows.push((code.to_string(), what.trim().to_string()));
                }
            }
        }
    }
    for (code, what) in rows {
        writeln!(out, ".TP\n{}\n{}", b(&code), esc(&what))?;
    }

    writeln!(out, ".SH ENVIRONMENT")?;
    for (name, what) in ENVIRONMENT {
        writeln!(out, ".TP\n{}\n{}", b(name), esc(what))?;
    }

    writeln!(out, ".SH FILES")?;
    for (name, what) in FILES {
        writeln!(out, ".TP\n{}\n{}", b(name), esc(what))?;
    }

    writeln!(out, ".SH EXAMPLES")?;
    for (what, cmd) in EXAMPLES {
        writeln!(
            out,
            ".PP\n{}\n.PP\n.RS 4\n.nf\n{}\n.fi\n.RE",
            esc(what),
            esc(cmd)
        )?;
    }

    writeln!(out, ".SH \"SEE ALSO\"")?;
    writeln!(
        out,
        "{}, {}, {}, {}",
        b("swaks(1)"),
        b("openssl-s_client(1)"),
        b("posttls-finger(1)"),
        b("postfix(1)")
    )?;
    writeln!(
        out,
        ".PP\nThe docs/ folder of smtpsh: tutorial.md (an SMTP lesson), repl.md (the shell), scripting.md (scripts and CI), security.md (the safety rules), reach.md, tls.md, reply\\-codes.md."
    )?;
    man.render_version_section(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn page() -> String {
        let mut out = Vec::new();
        render(crate::cli::Cli::command(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    // See: issue 16, the man page had no SHELL COMMANDS, FILES or SEE ALSO, a SYNOPSIS
    // without option arguments, examples under "EXTRA", and justified examples.
    #[test]
    fn the_sections_a_unix_user_expects() {
        let p = page();
        let mut at = 0;
        for section in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH DESCRIPTION",
            ".SH OPTIONS",
            ".SH \"SHELL COMMANDS\"",
            ".SH \"EXIT STATUS\"",
            ".SH ENVIRONMENT",
            ".SH FILES",
            ".SH EXAMPLES",
            ".SH \"SEE ALSO\"",
        ] {
            let i = p[at..]
                .find(section)
                .unwrap_or_else(|| panic!("{section} missing or out of order"));
            at += i;
        }
        assert!(!p.contains("EXTRA"), "no catch-all section");
        assert!(p.contains(".ad l"), "ragged right: spaces never stretched");
        assert!(
            p.contains("\\-\\-script FILE"),
            "options with their arguments"
        );
        assert!(p.contains("\\fB:connect [TARGET]"), "shell commands");
        assert!(p.contains("\\fB130\\fR") || !Exit::TABLE.contains("130"));
        // The printf example is one literal line with single spaces.
        let ex = p
            .lines()
            .find(|l| l.starts_with("printf"))
            .expect("the printf example");
        assert!(ex.contains("\\enNOOP") && !ex.contains("  "), "{ex}");
    }
}
