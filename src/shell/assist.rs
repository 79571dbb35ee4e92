//! What the prompt offers while you type, as pure functions of what the session knows:
//! Tab completion (verbs, shell commands, only the advertised AUTH mechanisms and MAIL/RCPT
//! parameters), a syntax hint, a warning when a verb or parameter the server did not
//! advertise is about to be sent, and whether the line would be refused. The REPL's
//! rustyline helper only calls these, so they are tested without a terminal.

use super::commands::definitions;
use super::help::synopsis;
use crate::smtp::caps::Capabilities;
use crate::smtp::command::{self, Verb};

/// What the assistance knows of the session, refreshed before each prompt.
#[derive(Debug, Clone, Default)]
pub struct Knowledge {
    /// The capabilities of the last EHLO, if any.
    pub caps: Option<Capabilities>,
    /// In body mode (no assistance: lines are the message).
    pub body: bool,
}

impl Knowledge {
    fn has(&self, kw: &str) -> bool {
        self.caps.as_ref().is_some_and(|c| c.has(kw))
    }

    /// The MAIL parameters this server advertised (RFC 1870, 6152, 6531, 3461).
    pub fn mail_params(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.has("SIZE") {
            v.push("SIZE=");
        }
        if self.has("8BITMIME") {
            v.push("BODY=8BITMIME");
        }
        if self.has("SMTPUTF8") {
            v.push("SMTPUTF8");
        }
        if self.has("DSN") {
            v.extend(["RET=FULL", "RET=HDRS", "ENVID="]);
        }
        v
    }

    /// The RCPT parameters this server advertised (RFC 3461).
    pub fn rcpt_params(&self) -> Vec<&'static str> {
        if self.has("DSN") {
            vec!["NOTIFY=", "ORCPT=rfc822;"]
        } else {
            Vec::new()
        }
    }

    fn mechanisms(&self) -> Vec<String> {
        match self.caps.as_ref().map(|c| c.auth_mechanisms()) {
            Some(m) if !m.is_empty() => m,
            _ => ["PLAIN", "LOGIN", "CRAM-MD5"].map(String::from).to_vec(),
        }
    }

    /// The syntax line for a verb, with the parameters this server advertised.
    pub fn syntax(&self, verb: &str) -> Option<String> {
        let syn = Verb::of_word(verb).syntax()?;
        Some(match verb.to_ascii_uppercase().as_str() {
            "MAIL" if self.caps.is_some() => {
                let mut s = "MAIL FROM:<address>".to_string();
                if self.has("SIZE") {
                    s.push_str(" [SIZE=n]");
                }
                if self.has("8BITMIME") {
                    s.push_str(" [BODY=8BITMIME]");
                }
                if self.has("SMTPUTF8") {
                    s.push_str(" [SMTPUTF8]");
                }
                if self.has("DSN") {
                    s.push_str(" [RET=FULL|HDRS] [ENVID=id]");
                }
                s
            }
            "RCPT" if self.has("DSN") => {
                "RCPT TO:<address> [NOTIFY=SUCCESS,FAILURE,DELAY|NEVER] [ORCPT=rfc822;address]"
                    .into()
            }
            "AUTH" => format!("AUTH {}", self.mechanisms().join("|")),
            _ => syn.to_string(),
        })
    }
}

/// Completion candidates for the word before `pos`: `(start of the word, candidates)`.
/// Candidates that take a value (`SIZE=`) are offered without a trailing space.
pub fn complete(line: &str, pos: usize, k: &Knowledge) -> (usize, Vec<String>) {
    if k.body {
        return (pos, Vec::new());
    }
    let before = &line[..pos];
    let start = before.rfind([' ', '\t']).map(|i| i + 1).unwrap_or(0);
    let word = &before[start..];
    let up = word.to_ascii_uppercase();
    let words: Vec<&str> = before.split_whitespace().collect();
    let keep_case = |s: &str| {
        if word.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
            s.to_ascii_lowercase()
        } else {
            s.to_string()
        }
    };
    let with_space = |s: String| {
        if s.ends_with('=') || s.ends_with(';') {
            s
        } else {
            s + " "
        }
    };
    let pick = |cands: Vec<String>| -> Vec<String> {
        cands
            .into_iter()
            .filter(|c| c.to_ascii_uppercase().starts_with(&up))
            .map(with_space)
            .collect()
    };
    if start == 0 {
        let cands: Vec<String> = if word.starts_with(':') {
            shell_names().collect()
        } else {
            Verb::known().map(|v| keep_case(v.name())).collect()
        };
        return (0, pick(cands));
    }
    let first = words
        .first()
        .map(|w| w.to_ascii_lowercase())
        .unwrap_or_default();
    let nth = words.len() - usize::from(!word.is_empty()); // index of the word being typed
    let cands: Vec<String> = match (first.as_str(), nth) {
        ("auth" | ":auth", 1) => k.mechanisms(),
        ("mail", 1) => vec![keep_case("FROM:<")],
        ("rcpt", 1) => vec![keep_case("TO:<")],
        ("mail", n) if n >= 2 => k.mail_params().into_iter().map(String::from).collect(),
        ("rcpt", n) if n >= 2 => k.rcpt_params().into_iter().map(String::from).collect(),
        (":help", 1) => shell_names()
            .chain(Verb::known().map(|v| v.name().to_string()))
            .collect(),
        (name, n) if n >= 1 && name.starts_with(':') => {
            // A shell command's options, from its definition.
            match definitions().find_subcommand(&name[1..]) {
                Some(c) => c
                    .get_arguments()
                    .filter_map(|a| a.get_long())
                    .map(|l| format!("--{l}"))
                    .filter(|o| !words.contains(&o.as_str()))
                    .collect(),
                None => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    // `FROM:<` is completed without a space: the address follows at once.
    let out = cands
        .into_iter()
        .filter(|c| c.to_ascii_uppercase().starts_with(&up))
        .map(|c| if c.ends_with('<') { c } else { with_space(c) })
        .collect();
    (start, out)
}

/// Every shell command's name with its colon, as typed.
fn shell_names() -> impl Iterator<Item = String> {
    definitions()
        .get_subcommands()
        .map(|c| format!(":{}", c.get_name()))
}

/// A dim hint after the cursor: the rest of the syntax while it still matches what was
/// typed; otherwise a warning when the line would be refused, or uses what the server did
/// not advertise.
pub fn hint(line: &str, k: &Knowledge) -> Option<String> {
    if k.body || line.is_empty() {
        return None;
    }
    if let Err(e) = command::check_line(line.as_bytes())
        && !line.starts_with(":raw")
    {
        return Some(match e {
            command::LineError::TooLong { len } => {
                format!("   ← {len} octets: over 510, will be refused")
            }
            _ => "   ← holds a control character: will be refused".to_string(),
        });
    }
    if line.starts_with(':') {
        for c in definitions().get_subcommands() {
            let full = synopsis(c);
            if full.len() > line.len()
                && let Some(rest) = full.strip_prefix(line)
            {
                return Some(rest.to_string());
            }
            let name = format!(":{}", c.get_name());
            if line.trim_end() == name
                && let Some(args) = full.strip_prefix(&name)
                && !args.is_empty()
            {
                return Some(if line.ends_with(' ') {
                    args.trim_start().to_string()
                } else {
                    args.to_string()
                });
            }
        }
        return None;
    }
    let verb = Verb::of_line(line);
    let name = verb.name().to_string();
    if let Some(syn) = k.syntax(&name)
        && syn.len() > line.len()
        && syn
            .to_ascii_uppercase()
            .starts_with(&line.to_ascii_uppercase())
    {
        return Some(syn[line.len()..].to_string());
    }
    // SMTPUTF8 (RFC 6531): a non-ASCII envelope is refused unless advertised, and the MAIL
    // of such a transaction should carry the parameter.
    if matches!(verb, Verb::Mail | Verb::Rcpt) && !line.is_ascii() {
        let Ok(cmd) = crate::smtp::command::Command::parse(line) else {
            return None;
        };
        match crate::smtp::ext::check_envelope(&cmd, k.caps.as_ref()) {
            Err(_) => {
                return Some("   ← non-ASCII: SMTPUTF8 not advertised, will be refused".into());
            }
            Ok(w) if w.iter().any(|w| w.contains("add SMTPUTF8")) => {
                return Some("   ← non-ASCII sender: add the SMTPUTF8 parameter".into());
            }
            Ok(_) => {}
        }
    }
    if let Some(caps) = &k.caps {
        let up = line.to_ascii_uppercase();
        let missing = match verb {
            Verb::Starttls if !caps.has("STARTTLS") => Some("STARTTLS".to_string()),
            Verb::Auth if !caps.has("AUTH") => Some("AUTH".to_string()),
            Verb::Auth => up
                .split_whitespace()
                .nth(1)
                .filter(|m| !caps.auth_mechanisms().iter().any(|a| a == m))
                .map(|m| format!("AUTH {m}")),
            Verb::Bdat if !caps.has("CHUNKING") => Some("CHUNKING (BDAT)".to_string()),
            Verb::Mail => [
                ("SIZE=", "SIZE"),
                ("BODY=8BITMIME", "8BITMIME"),
                ("SMTPUTF8", "SMTPUTF8"),
                ("RET=", "DSN"),
                ("ENVID=", "DSN"),
            ]
            .iter()
            .find(|(p, kw)| up.contains(p) && !caps.has(kw))
            .map(|(p, _)| p.trim_end_matches('=').to_string()),
            Verb::Rcpt => ["NOTIFY=", "ORCPT="]
                .iter()
                .find(|p| up.contains(*p) && !caps.has("DSN"))
                .map(|p| p.trim_end_matches('=').to_string()),
            _ => None,
        };
        if let Some(m) = missing {
            return Some(format!("   ← {m} was not advertised by this server"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::reply::{Code, Reply};

    fn knowing(caps: &[&str]) -> Knowledge {
        let mut lines = vec!["mx.test"];
        lines.extend_from_slice(caps);
        let r = Reply::new(Code::new(250).unwrap(), None, &lines);
        Knowledge {
            caps: Some(Capabilities::from_ehlo(&r)),
            body: false,
        }
    }

    fn cands(line: &str, k: &Knowledge) -> Vec<String> {
        complete(line, line.len(), k).1
    }

    #[test]
    fn verbs_complete_in_the_case_typed() {
        let k = Knowledge::default();
        assert_eq!(cands("EH", &k), ["EHLO "]);
        assert_eq!(cands("eh", &k), ["ehlo "]);
        assert_eq!(cands(":sta", &k), [":starttls ", ":state "]);
        assert!(cands("X", &k).is_empty());
    }

    #[test]
    fn auth_offers_only_advertised_mechanisms() {
        let k = knowing(&["AUTH PLAIN CRAM-MD5"]);
        assert_eq!(cands("AUTH ", &k), ["PLAIN ", "CRAM-MD5 "]);
        assert_eq!(cands(":auth c", &k), ["CRAM-MD5 "]);
        // Before EHLO every mechanism smtpsh can compute is offered.
        assert_eq!(
            cands("AUTH ", &Knowledge::default()),
            ["PLAIN ", "LOGIN ", "CRAM-MD5 "]
        );
    }

    #[test]
    fn mail_and_rcpt_parameters_follow_the_capabilities() {
        let k = knowing(&["SIZE 1000", "8BITMIME", "DSN"]);
        assert_eq!(cands("MAIL ", &k), ["FROM:<"]);
        assert_eq!(
            cands("MAIL FROM:<a@b> ", &k),
            [
                "SIZE=",
                "BODY=8BITMIME ",
                "RET=FULL ",
                "RET=HDRS ",
                "ENVID="
            ]
        );
        assert_eq!(cands("MAIL FROM:<a@b> SIZE=10 B", &k), ["BODY=8BITMIME "]);
        assert_eq!(cands("RCPT TO:<a@b> ", &k), ["NOTIFY=", "ORCPT=rfc822;"]);
        let bare = knowing(&["PIPELINING"]);
        assert!(cands("MAIL FROM:<a@b> ", &bare).is_empty());
        assert!(cands("RCPT TO:<a@b> ", &bare).is_empty());
    }

    #[test]
    fn nothing_is_completed_in_a_body() {
        let k = Knowledge {
            body: true,
            ..Knowledge::default()
        };
        assert!(cands("EH", &k).is_empty());
        assert_eq!(hint("MAIL", &k), None);
    }

    #[test]
    fn hints_show_the_rest_of_the_syntax() {
        let k = knowing(&["SIZE 1000"]);
        assert_eq!(
            hint("MAIL", &k).as_deref(),
            Some(" FROM:<address> [SIZE=n]")
        );
        assert_eq!(
            hint("mail f", &k).as_deref(),
            Some("ROM:<address> [SIZE=n]")
        );
        assert_eq!(hint("MAIL FROM:<a@b>", &k), None);
        assert_eq!(
            hint(":au", &k).as_deref(),
            Some("th MECH [USER] [--initial] [--no-initial] [--force]")
        );
        assert_eq!(
            hint(":auth", &k).as_deref(),
            Some(" MECH [USER] [--initial] [--no-initial] [--force]")
        );
    }

    #[test]
    fn hints_warn_of_what_was_not_advertised() {
        let k = knowing(&["AUTH PLAIN", "PIPELINING"]);
        assert!(
            hint("STARTTLS", &k)
                .unwrap()
                .contains("STARTTLS was not advertised")
        );
        assert!(
            hint("AUTH LOGIN", &k)
                .unwrap()
                .contains("AUTH LOGIN was not advertised")
        );
        assert_eq!(hint("AUTH PLAIN", &k), None);
        assert!(
            hint("MAIL FROM:<a@b> SIZE=10", &k)
                .unwrap()
                .contains("SIZE was not advertised")
        );
        assert!(
            hint("RCPT TO:<a@b> NOTIFY=NEVER", &k)
                .unwrap()
                .contains("NOTIFY")
        );
        assert!(hint("BDAT 10 LAST", &k).unwrap().contains("CHUNKING"));
        assert!(
            hint("MAIL FROM:<grüße@test>", &k)
                .unwrap()
                .contains("SMTPUTF8 not advertised")
        );
        let utf8 = knowing(&["SMTPUTF8"]);
        assert!(
            hint("MAIL FROM:<grüße@test>", &utf8)
                .unwrap()
                .contains("add the SMTPUTF8 parameter")
        );
        assert_eq!(hint("MAIL FROM:<grüße@test> SMTPUTF8", &utf8), None);
        // Before EHLO nothing is known, so nothing is flagged.
        assert_eq!(hint("STARTTLS", &Knowledge::default()), None);
    }

    #[test]
    fn hints_mark_lines_that_will_be_refused() {
        let k = Knowledge::default();
        assert!(hint(&"x".repeat(511), &k).unwrap().contains("511 octets"));
        assert!(hint("NOOP\x1b", &k).unwrap().contains("control character"));
        assert_eq!(hint(":raw NOOP\x07", &k), None);
    }
}
