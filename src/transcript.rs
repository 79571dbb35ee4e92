//! Events of a session, and their renderings: the terminal (with or without colour), JSON
//! Lines, Markdown. Secrets never get here: the session puts `<redacted>` in an event
//! before it is made, so no rendering can leak one (PRODUCT.md safety rule 5).

use std::io::Write;
use std::time::Duration;

use colored::Colorize;
use serde::Serialize;

use crate::diag::dane::DaneReport;
use crate::diag::mta_sts::MtaStsReport;
use crate::diag::tlsrpt::TlsRptReport;
use crate::net::tls::CertSummary;
use crate::net::tls::report::TlsReport;
use crate::smtp::caps::Capabilities;
use crate::smtp::reply::{Class, Reply};

/// How loud a note is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Information.
    Info,
    /// Something odd the user should know.
    Warn,
}

/// One thing that happened in a session.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A connection is being made.
    Connect {
        /// The target as typed.
        target: String,
        /// The address connected to.
        addr: String,
        /// Time to connect (and handshake, for implicit TLS), milliseconds.
        ms: f64,
    },
    /// TLS is up.
    Tls {
        /// What was negotiated and the certificate.
        #[serde(flatten)]
        summary: Box<CertSummary>,
        /// Whether verification was switched off by `--insecure`.
        insecure: bool,
    },
    /// A command line was sent (redacted where it holds a secret).
    Sent {
        /// The line as shown, without CRLF.
        line: String,
        /// Over TLS.
        tls: bool,
        /// Whether a secret was replaced by `<redacted>`.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        redacted: bool,
    },
    /// A body line was sent (as on the wire, dot-stuffed, without CRLF).
    BodyLine {
        /// The line, escaped for display.
        line: String,
        /// Over TLS.
        tls: bool,
    },
    /// A whole body was sent (from `:send` or at the end of body mode).
    Body {
        /// Lines in the body.
        lines: u64,
        /// Octets of the message (CRLF line ends; without the stuffed dots and the final `.`
        /// line): the size of RFC 1870, and what the server stores.
        size: u64,
        /// Octets on the wire: for DATA with the stuffed dots and the final `.` line.
        bytes: u64,
        /// Lines that got an extra dot.
        stuffed: u64,
        /// Bare CR or LF turned into CRLF.
        fixed_endings: u64,
        /// Where it came from (`:send FILE`), if a file.
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
    /// A reply arrived.
    Reply {
        /// The code.
        code: u16,
        /// The enhanced status code, when present.
        enhanced: Option<String>,
        /// Each line's text, escaped for display.
        lines: Vec<String>,
        /// Time from the end of the command (or connect) to the complete reply, ms.
        ms: f64,
        /// Over TLS.
        tls: bool,
        /// The parsed capabilities, when this was a 250 to EHLO/LHLO.
        #[serde(skip_serializing_if = "Option::is_none")]
        capabilities: Option<Capabilities>,
        /// With `--explain`: what the reply means and what to try next.
        #[serde(skip_serializing_if = "Option::is_none")]
        explanation: Option<String>,
        /// In the wire view (`:wire`): the bytes the reply arrived as, one escaped line per
        /// line received (its line end shown as `\r\n`, or `\n` where the server sent a
        /// bare LF), joined by newlines.
        #[serde(skip_serializing_if = "Option::is_none")]
        wire: Option<String>,
    },
    /// A local note (not from the server).
    Note {
        /// Info or warning.
        level: Level,
        /// The text.
        text: String,
    },
    /// The result of an `:expect`.
    Expect {
        /// What was expected.
        spec: String,
        /// Whether it matched.
        ok: bool,
        /// The code it was checked against (absent when there was no reply).
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<u16>,
    },
    /// How a script ended: the last event of a script run.
    Status {
        /// The exit status smtpsh ends with.
        exit: u8,
        /// The error that ended the script, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Lines run (commands and shell commands).
        commands: u64,
        /// Replies that ended a step.
        replies: u64,
        /// Unexpected 4xx/5xx and missed expectations.
        failures: u64,
        /// Wall time, milliseconds.
        ms: f64,
    },
    /// The connection ended.
    Closed {
        /// Why.
        reason: String,
    },
    /// A diagnosis: `:tls` (also after a failed verification), `:dane`, `:mta-sts`.
    Report {
        /// The report.
        report: Report,
    },
}

/// The reports of the diagnosis commands, each with its plain text (`Display`) and its JSON.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Report {
    /// `:tls`.
    Tls(Box<TlsReport>),
    /// `:dane`.
    Dane(Box<DaneReport>),
    /// `:mta-sts`.
    MtaSts(Box<MtaStsReport>),
    /// The TLS-RPT record, after `:mta-sts`.
    TlsRpt(Box<TlsRptReport>),
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Report::Tls(r) => r.fmt(f),
            Report::Dane(r) => r.fmt(f),
            Report::MtaSts(r) => r.fmt(f),
            Report::TlsRpt(r) => r.fmt(f),
        }
    }
}

impl Event {
    /// A reply event.
    pub fn reply(reply: &Reply, elapsed: Duration, tls: bool, caps: Option<Capabilities>) -> Event {
        Event::Reply {
            code: reply.code.value(),
            enhanced: reply.enhanced.map(|e| e.to_string()),
            lines: reply.display_lines(),
            ms: millis(elapsed),
            tls,
            capabilities: caps,
            explanation: None,
            wire: None,
        }
    }

    /// About how many bytes the event holds (its text plus a fixed overhead), for the
    /// transcript's memory budget.
    fn weight(&self) -> usize {
        64 + match self {
            Event::Connect { target, addr, .. } => target.len() + addr.len(),
            Event::Tls { summary: s, .. } => {
                s.subject.len()
                    + s.issuer.len()
                    + s.names.iter().map(String::len).sum::<usize>()
                    + 200
            }
            Event::Sent { line, .. } | Event::BodyLine { line, .. } => line.len(),
            Event::Body { file, .. } => file.as_ref().map_or(0, String::len),
            Event::Reply {
                lines,
                capabilities,
                wire,
                ..
            } => {
                lines.iter().map(|l| l.len() + 24).sum::<usize>()
                    + capabilities.as_ref().map_or(0, |c| c.entries.len() * 64)
                    + wire.as_ref().map_or(0, String::len)
            }
            Event::Note { text, .. } => text.len(),
            Event::Expect { spec, .. } => spec.len(),
            Event::Status { error, .. } => error.as_ref().map_or(0, String::len),
            Event::Closed { reason } => reason.len(),
            Event::Report { report } => report.to_string().len(),
        }
    }

    /// An info note.
    pub fn note(text: impl Into<String>) -> Event {
        Event::Note {
            level: Level::Info,
            text: text.into(),
        }
    }

    /// A warning note.
    pub fn warn(text: impl Into<String>) -> Event {
        Event::Note {
            level: Level::Warn,
            text: text.into(),
        }
    }
}

/// How events are shown on the terminal (or a pipe).
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Colour on.
    pub color: bool,
    /// Print body lines (off at the prompt, where the user just typed them).
    pub echo_body: bool,
    /// JSON Lines instead of text.
    pub json: bool,
    /// The exact-bytes view (`:wire`): every line as on the wire, CR LF shown.
    pub wire: bool,
}

/// How much a transcript keeps for `:save`, in (approximate) bytes of event text: the most
/// recent events, so a session sending thousands of messages runs in flat memory (PRODUCT.md
/// safety rule 6). An interactive session rarely comes near it.
pub const KEEP_BYTES: usize = 1024 * 1024;

/// Where events go: printed as they happen, and kept (the most recent [`KEEP_BYTES`]) for
/// `:save`.
pub struct Transcript {
    style: Style,
    events: std::collections::VecDeque<Event>,
    kept_bytes: usize,
    dropped: u64,
    out: Box<dyn Write>,
}

impl std::fmt::Debug for Transcript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcript")
            .field("events", &self.events.len())
            .finish()
    }
}

impl Transcript {
    /// A transcript printing to `out`.
    pub fn new(style: Style, out: Box<dyn Write>) -> Transcript {
        Transcript {
            style,
            events: std::collections::VecDeque::new(),
            kept_bytes: 0,
            dropped: 0,
            out,
        }
    }
    /// Record and print one event (buffered; see [`Transcript::flush`]). A write error on
    /// stdout (a closed pipe) is ignored here.
    pub fn emit(&mut self, ev: Event) {
        let text = if self.style.json {
            Some(json_line(&ev))
        } else {
            render(&ev, self.style)
        };
        if let Some(text) = text {
            // Buffered: the session flushes before every wait, so the output is current
            // whenever smtpsh blocks, at one write per wait instead of one per line.
            let _ = writeln!(self.out, "{text}");
        }
        self.kept_bytes += ev.weight();
        self.events.push_back(ev);
        while self.kept_bytes > KEEP_BYTES {
            let Some(old) = self.events.pop_front() else {
                break;
            };
            self.kept_bytes -= old.weight();
            self.dropped += 1;
        }
    }

    /// Print text that is not part of the session (help, `:b64` output) without keeping it,
    /// so `:save` never holds what the helpers decoded.
    pub fn print_only(&mut self, text: &str) {
        let line = if self.style.json {
            serde_json::json!({"event": "output", "text": text}).to_string()
        } else {
            text.to_string()
        };
        let _ = writeln!(self.out, "{line}");
        self.flush();
    }
    /// Whether the exact-bytes view (`:wire`) is on.
    pub fn wire(&self) -> bool {
        self.style.wire
    }

    /// Switch the exact-bytes view (`:wire`) on or off; returns whether it is now on.
    pub fn toggle_wire(&mut self) -> bool {
        self.style.wire = !self.style.wire;
        self.style.wire
    }

    /// Write out what is buffered (before a wait, a prompt, or an error message).
    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }
    /// The events kept, oldest first.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter()
    }

    /// How many of the oldest events were let go to keep memory flat.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Save the transcript: `.md` Markdown, `.jsonl`/`.json` JSON Lines, else plain text.
    pub fn save(&self, path: &std::path::Path) -> std::io::Result<usize> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let plain = Style {
            color: false,
            echo_body: true,
            json: false,
            wire: false,
        };
        let mut s = String::new();
        let dropped = (self.dropped > 0).then(|| {
            Event::warn(format!(
                "the first {} events of this session are not in this file: smtpsh keeps the last {} KiB of events",
                self.dropped,
                KEEP_BYTES / 1024
            ))
        });
        let events: Vec<&Event> = dropped.iter().chain(self.events.iter()).collect();
        match ext.as_str() {
            "jsonl" | "json" => {
                for ev in &events {
                    s.push_str(&json_line(ev));
                    s.push('\n');
                }
            }
            "md" | "markdown" => {
                s.push_str("# smtpsh transcript\n\n`C:` client, `S:` server, `~` instead of `:` over TLS, `*` local notes.\n\n```text\n");
                for ev in &events {
                    if let Some(t) = render(ev, plain) {
                        s.push_str(&t.replace("```", "`\u{200b}``"));
                        s.push('\n');
                    }
                }
                s.push_str("```\n");
            }
            _ => {
                for ev in &events {
                    if let Some(t) = render(ev, plain) {
                        s.push_str(&t);
                        s.push('\n');
                    }
                }
            }
        }
        std::fs::write(path, &s)?;
        Ok(self.events.len())
    }
}

/// A duration in milliseconds, rounded to the microsecond (what a clock on loopback can
/// tell apart; more digits are noise in the JSON).
pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// One event as a JSON object on one line.
pub fn json_line(ev: &Event) -> String {
    serde_json::to_string(ev).expect("events always serialise")
}

fn tag(who: char, tls: bool) -> String {
    format!("{who}{}", if tls { '~' } else { ':' })
}

fn ms(ms: f64) -> String {
    if ms < 10.0 {
        format!("({ms:.1} ms)")
    } else {
        format!("({ms:.0} ms)")
    }
}

/// Render an event as terminal text (several lines for a multi-line reply), or `None` for
/// events not shown in this style.
pub fn render(ev: &Event, style: Style) -> Option<String> {
    let paint = |s: String, f: fn(&str) -> colored::ColoredString| -> String {
        if style.color { f(&s).to_string() } else { s }
    };
    Some(match ev {
        Event::Connect {
            target,
            addr,
            ms: t,
        } => paint(
            format!("* connected to {target} ({addr}) {}", ms(*t)),
            |s| s.dimmed(),
        ),
        Event::Tls {
            summary: s,
            insecure,
        } => {
            let mut out = format!(
                "* TLS {} {}; lines marked ~ go over TLS\n*   subject  {}\n*   names    {}\n*   issuer   {}\n*   valid    {} .. {}\n*   sha256   {}",
                s.version,
                s.cipher,
                s.subject,
                if s.names.is_empty() {
                    "(none)".to_string()
                } else {
                    s.names.join(", ")
                },
                s.issuer,
                s.not_before,
                s.not_after,
                s.sha256
            );
            if let Some(c) = &s.client_cert {
                out.push_str(&format!(
                    "\n*   client   {c} (our certificate, presented when the server asks)"
                ));
            }
            out = paint(out, |s| s.dimmed());
            if let Some(err) = &s.verify_error {
                let w = format!(
                    "! INSECURE: the certificate was NOT verified for {:?}: {err}; anyone on the path could be reading this session",
                    s.verified_name
                );
                out.push('\n');
                out.push_str(&paint(w, |s| s.red().bold()));
            } else if *insecure {
                // With verification off the platform gives no verdict; what could not be
                // checked from the certificate alone is said, not guessed.
                let why = match &s.unchecked {
                    Some(u) => format!("nothing wrong was found, but {u}"),
                    None => "this certificate did verify".into(),
                };
                out.push('\n');
                out.push_str(&paint(
                    format!("! --insecure: verification is off for this session ({why})"),
                    |s| s.yellow(),
                ));
            } else {
                out.push('\n');
                out.push_str(&paint(
                    format!("*   verified for {}", s.verified_name),
                    |s| s.dimmed(),
                ));
            }
            out
        }
        Event::Sent { line, tls, .. } => {
            let t = tag('C', *tls);
            let line = &if style.wire {
                format!("{line}\\r\\n")
            } else {
                line.clone()
            };
            if style.color {
                format!("{} {}", t.bold(), line.bold())
            } else {
                format!("{t} {line}")
            }
        }
        Event::BodyLine { line, tls } => {
            if !style.echo_body && !style.wire {
                return None;
            }
            let crlf = if style.wire { "\\r\\n" } else { "" };
            format!("{} {line}{crlf}", tag('C', *tls))
        }
        Event::Body {
            lines,
            size,
            bytes,
            stuffed,
            fixed_endings,
            file,
        } => {
            let from = file
                .as_ref()
                .map(|f| format!(" from {f}"))
                .unwrap_or_default();
            // Two counts people compare with other tools: the message's size (what the
            // server stores, what :inbox shows) and what crossed the wire.
            let octets = if size == bytes {
                counted(*size, "octet")
            } else {
                format!(
                    "{} ({bytes} on the wire with the dot-stuffing and the final '.')",
                    counted(*size, "octet")
                )
            };
            paint(
                format!(
                    "* body{from}: {}, {octets}; {stuffed} dot-stuffed, {fixed_endings} line ends made CRLF",
                    counted(*lines, "line")
                ),
                |s| s.dimmed(),
            )
        }
        Event::Reply {
            code,
            enhanced,
            lines,
            ms: t,
            tls,
            capabilities,
            explanation,
            wire,
        } => {
            let class = crate::smtp::reply::Code::new(*code).map(|c| c.class());
            let code_s = if style.color {
                match class {
                    Some(Class::PositiveCompletion) => code.to_string().green().bold().to_string(),
                    Some(Class::PositiveIntermediate) => code.to_string().cyan().bold().to_string(),
                    Some(Class::TransientNegative) => code.to_string().yellow().bold().to_string(),
                    _ => code.to_string().red().bold().to_string(),
                }
            } else {
                code.to_string()
            };
            let enh = enhanced
                .as_ref()
                .map(|e| {
                    // Set off in brackets; in the wire view, as it was on the wire.
                    let e = if style.wire {
                        format!("{e} ")
                    } else {
                        format!("[{e}] ")
                    };
                    if style.color {
                        e.dimmed().to_string()
                    } else {
                        e
                    }
                })
                .unwrap_or_default();
            let t_tag = tag('S', *tls);
            let timing = paint(ms(*t), |s| s.dimmed());
            // EHLO replies are shown compactly: the greeting line, then the parsed capabilities.
            let shown: Vec<&String> = if capabilities.is_some() && !style.wire {
                lines.iter().take(1).collect()
            } else {
                lines.iter().collect()
            };
            let n = shown.len();
            let mut out = String::new();
            if let Some(w) = wire.as_ref().filter(|_| style.wire) {
                // As recorded: every line with the line end it came with.
                for (i, l) in w.split('\n').enumerate() {
                    if i > 0 {
                        out.push('\n');
                    }
                    out.push_str(&format!("{t_tag} {l}"));
                }
                out.push_str("  ");
                out.push_str(&timing);
                if let Some(x) = explanation {
                    out.push('\n');
                    out.push_str(&paint(format!("? {x}"), |s| s.cyan()));
                }
                return Some(out);
            }
            for (i, l) in shown.iter().enumerate() {
                let last = i + 1 == n;
                let sep = if last { ' ' } else { '-' };
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(&format!("{t_tag} {code_s}{sep}{enh}{l}"));
                if style.wire {
                    out.push_str("\\r\\n");
                }
                if last {
                    out.push_str("  ");
                    out.push_str(&timing);
                }
            }
            if let Some(x) = explanation {
                out.push('\n');
                out.push_str(&paint(format!("? {x}"), |s| s.cyan()));
            }
            if let Some(c) = capabilities.as_ref().filter(|_| !style.wire) {
                out.push('\n');
                out.push_str(&paint(
                    format!(
                        "* capabilities ({}): {}",
                        counted(lines.len().saturating_sub(1) as u64, "line"),
                        c.compact()
                    ),
                    |s| s.dimmed(),
                ));
            }
            out
        }
        Event::Note {
            level: Level::Info,
            text,
        } => paint(format!("* {text}"), |s| s.dimmed()),
        Event::Note {
            level: Level::Warn,
            text,
        } => paint(format!("! {text}"), |s| s.yellow()),
        Event::Expect { spec, ok, code } => {
            let got = code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "no reply".into());
            if *ok {
                paint(format!("* expect {spec}: ok ({got})"), |s| s.dimmed())
            } else {
                paint(format!("! expect {spec}: FAILED, got {got}"), |s| {
                    s.red().bold()
                })
            }
        }
        Event::Status {
            exit,
            commands,
            replies,
            failures,
            ms: t,
            ..
        } => paint(
            format!(
                "* done: exit {exit}; {}, {}, {}, {t:.0} ms",
                counted(*commands, "command"),
                counted(*replies, "reply"),
                counted(*failures, "failure"),
            ),
            |s| s.dimmed(),
        ),
        Event::Closed { reason } => paint(format!("* connection closed: {reason}"), |s| s.dimmed()),
        Event::Report { report } => {
            // What a server published or presented (names, TXT records, policies) is
            // outside text: escaped like a reply, line by line.
            let text = report.to_string();
            let lines: Vec<String> = text.lines().map(crate::smtp::escape::escape_str).collect();
            lines.join("\n")
        }
    })
}

/// `1 message`, `2 messages`; `reply` becomes `replies`.
pub fn counted(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    match (n, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {noun}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::reply::{Code, Reply};

    const PLAIN: Style = Style {
        color: false,
        echo_body: true,
        json: false,
        wire: false,
    };

    fn reply(code: u16, enh: Option<&str>, lines: &[&str]) -> Reply {
        Reply::new(
            Code::new(code).unwrap(),
            enh.map(|e| e.parse().unwrap()),
            lines,
        )
    }

    #[test]
    fn reply_block_exact() {
        let r = reply(550, Some("5.1.1"), &["no such user", "really"]);
        let ev = Event::reply(&r, Duration::from_micros(1500), false, None);
        assert_eq!(
            render(&ev, PLAIN).unwrap(),
            "S: 550-[5.1.1] no such user\nS: 550 [5.1.1] really  (1.5 ms)"
        );
        let ev = Event::reply(
            &reply(250, None, &["ok"]),
            Duration::from_millis(25),
            true,
            None,
        );
        assert_eq!(render(&ev, PLAIN).unwrap(), "S~ 250 ok  (25 ms)");
    }

    #[test]
    fn sent_lines_mark_tls() {
        let ev = Event::Sent {
            line: "NOOP".into(),
            tls: false,
            redacted: false,
        };
        assert_eq!(render(&ev, PLAIN).unwrap(), "C: NOOP");
        let ev = Event::Sent {
            line: "<redacted>".into(),
            tls: true,
            redacted: true,
        };
        assert_eq!(render(&ev, PLAIN).unwrap(), "C~ <redacted>");
    }

    #[test]
    fn server_escape_sequences_never_reach_the_terminal() {
        let r = Reply {
            code: Code::new(250).unwrap(),
            enhanced: None,
            lines: vec![b"\x1b]0;owned\x07\x1b[31mred\xff".to_vec()],
        };
        let text = render(&Event::reply(&r, Duration::ZERO, false, None), PLAIN).unwrap();
        assert!(!text.bytes().any(|b| b == 0x1b || b == 0x07), "{text:?}");
        assert!(text.contains(r"\x1b]0;owned\x07\x1b[31mred\xff"), "{text}");
    }

    #[test]
    fn body_lines_hidden_at_the_prompt_but_kept() {
        let ev = Event::BodyLine {
            line: "..x".into(),
            tls: false,
        };
        assert_eq!(
            render(
                &ev,
                Style {
                    echo_body: false,
                    ..PLAIN
                }
            ),
            None
        );
        assert_eq!(render(&ev, PLAIN).unwrap(), "C: ..x");
    }

    #[test]
    fn json_field_names_are_stable() {
        let r = reply(250, Some("2.0.0"), &["ok"]);
        let v: serde_json::Value = serde_json::from_str(&json_line(&Event::reply(
            &r,
            Duration::from_millis(2),
            false,
            None,
        )))
        .unwrap();
        assert_eq!(v["event"], "reply");
        assert_eq!(v["code"], 250);
        assert_eq!(v["enhanced"], "2.0.0");
        assert_eq!(v["lines"][0], "ok");
        assert_eq!(v["tls"], false);
        let sent = json_line(&Event::Sent {
            line: "AUTH PLAIN <redacted>".into(),
            tls: true,
            redacted: true,
        });
        assert_eq!(
            sent,
            r#"{"event":"sent","line":"AUTH PLAIN <redacted>","tls":true,"redacted":true}"#
        );
    }

    #[test]
    fn save_formats_by_extension() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Transcript::new(PLAIN, Box::new(std::io::sink()));
        t.emit(Event::Sent {
            line: "NOOP".into(),
            tls: false,
            redacted: false,
        });
        t.print_only("not kept");
        let cases = [
            ("a.txt", "C: NOOP\n"),
            ("a.md", "```text\nC: NOOP\n```\n"),
            (
                "a.jsonl",
                "{\"event\":\"sent\",\"line\":\"NOOP\",\"tls\":false}\n",
            ),
        ];
        for (name, want) in cases {
            let p = dir.path().join(name);
            t.save(&p).unwrap();
            let got = std::fs::read_to_string(&p).unwrap();
            assert!(got.ends_with(want), "{name}: {got:?}");
            assert!(!got.contains("not kept"), "{name}");
        }
    }

    #[test]
    fn counted_says_one_and_many() {
        assert_eq!(counted(1u32, "failure"), "1 failure");
        assert_eq!(counted(0u32, "failure"), "0 failures");
        assert_eq!(counted(1u32, "reply"), "1 reply");
        assert_eq!(counted(7u32, "reply"), "7 replies");
    }
}
