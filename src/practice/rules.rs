//! The rules file of failures on demand (`--rules FILE`): which step of a session fails,
//! for whom, and how. A teacher writes one for an exercise; a developer writes one to see
//! what their mail code does when a server misbehaves.
//!
//! One rule a line, `STEP [<PATTERN>] ACTION [ARGUMENTS]`; blank lines and lines starting
//! with `#` are skipped. For example:
//!
//! ```text
//! greeting delay 5s
//! ehlo <*.legacy.example> hide PIPELINING STARTTLS
//! mail <> reply 550 5.7.1 no bounces here
//! rcpt <busy@*> reply 451 4.2.1 mailbox busy, try again later
//! rcpt <slow@*> delay 40s
//! message <*@full.example> reply 452 4.2.2 mailbox full
//! data disconnect
//! any tarpit 100ms
//! ```
//!
//! - STEP: `greeting` (before the first reply), `ehlo` (EHLO and HELO), `starttls`, `auth`,
//!   `mail`, `rcpt`, `data` (the DATA command), `message` (after the body's final dot),
//!   `rset`, `noop`, `vrfy`, `quit`, or `any` (every reply).
//! - PATTERN, in angle brackets, with `*` for any run of characters, compared without
//!   regard to case: the EHLO name (`ehlo`), the sender (`mail`; `<>` is the null sender), the
//!   recipient (`rcpt`), or any recipient (`data`, `message`). Without one the rule applies to
//!   every session.
//! - ACTION: `reply CODE [X.Y.Z] [TEXT]` answers that instead (4xx or 5xx; a 421 closes the
//!   connection, RFC 5321 §3.8; the greeting may only be 421 or 554, without an enhanced
//!   code, as for EHLO: RFC 2034 §4); `delay DURATION` answers as usual after a pause;
//!   `tarpit DURATION` answers as usual one octet every DURATION; `disconnect` closes the
//!   connection with no reply; `hide CAPABILITY...` (`ehlo` only) leaves PIPELINING,
//!   STARTTLS or AUTH out of the EHLO reply and refuses its command. DURATION is a whole
//!   number with `ms`, `s` or `m`, at most an hour.
//!
//! Every rule whose step and pattern match applies, in the order of the file: pauses add
//! up, and the first `reply` or `disconnect` decides the answer.
//!
//! The file is outside input: [`Rules::parse`] is strict and names the line of each error,
//! and it is fuzzed (`fuzz/fuzz_targets/rules.rs`).

use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::error::Error;

/// The rules of a `--rules` file, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    rules: Vec<Rule>,
}

/// One line of a rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Where in the session it applies.
    pub step: Step,
    /// Whom it applies to; `None`: everyone.
    pub pattern: Option<Pattern>,
    /// What happens.
    pub action: Action,
}

/// A step of a session a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Before the first reply (the 220).
    Greeting,
    /// EHLO and HELO.
    Ehlo,
    /// STARTTLS.
    Starttls,
    /// AUTH.
    Auth,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// The DATA command (its 354).
    Data,
    /// After the body's final dot (its 250).
    Message,
    /// RSET.
    Rset,
    /// NOOP.
    Noop,
    /// VRFY.
    Vrfy,
    /// QUIT.
    Quit,
    /// Every reply.
    Any,
}

impl Step {
    const ALL: [(Step, &'static str); 13] = [
        (Step::Greeting, "greeting"),
        (Step::Ehlo, "ehlo"),
        (Step::Starttls, "starttls"),
        (Step::Auth, "auth"),
        (Step::Mail, "mail"),
        (Step::Rcpt, "rcpt"),
        (Step::Data, "data"),
        (Step::Message, "message"),
        (Step::Rset, "rset"),
        (Step::Noop, "noop"),
        (Step::Vrfy, "vrfy"),
        (Step::Quit, "quit"),
        (Step::Any, "any"),
    ];

    /// The name used in rules files.
    pub fn name(self) -> &'static str {
        Step::ALL
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("any", |(_, n)| n)
    }

    fn parse(word: &str) -> Option<Step> {
        Step::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(word))
            .map(|(s, _)| *s)
    }

    /// Whether a `<pattern>` means something at this step.
    fn takes_pattern(self) -> bool {
        matches!(
            self,
            Step::Ehlo | Step::Mail | Step::Rcpt | Step::Data | Step::Message
        )
    }
}

/// What a rule does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Answer this instead.
    Reply(FaultReply),
    /// Answer as usual after this pause.
    Delay(Duration),
    /// Answer as usual, one octet every this long.
    Tarpit(Duration),
    /// Close the connection without a reply.
    Disconnect,
    /// Leave these out of the EHLO reply, and refuse their commands.
    Hide(Vec<Capability>),
}

/// A reply chosen by a rule or an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultReply {
    /// 4xx or 5xx.
    pub code: u16,
    /// `X.Y.Z`, its class the code's first digit; `None` at the greeting and EHLO.
    pub enhanced: Option<String>,
    /// Printable ASCII; `None`: the server says what chose it.
    pub text: Option<String>,
}

/// A capability that can be switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// PIPELINING (RFC 2920).
    Pipelining,
    /// STARTTLS (RFC 3207).
    Starttls,
    /// AUTH (RFC 4954).
    Auth,
}

impl Capability {
    const ALL: [(Capability, &'static str); 3] = [
        (Capability::Pipelining, "PIPELINING"),
        (Capability::Starttls, "STARTTLS"),
        (Capability::Auth, "AUTH"),
    ];

    /// Its EHLO keyword.
    pub fn name(self) -> &'static str {
        Capability::ALL
            .iter()
            .find(|(c, _)| *c == self)
            .map_or("", |(_, n)| n)
    }

    fn parse(word: &str) -> Option<Capability> {
        Capability::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(word))
            .map(|(c, _)| *c)
    }
}

/// A pattern in angle brackets: `*` matches any run of characters, the rest itself,
/// without regard to ASCII case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    /// The pattern as written between the brackets.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        wildcard(self.0.as_bytes(), text.as_bytes())
    }
}

/// `*`-only globbing, iterative (no recursion, linear backtracking), ASCII case folded.
fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(c) if c.eq_ignore_ascii_case(&text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// What is wrong with a rules file, and on which line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesError {
    /// 1-based.
    pub line: usize,
    /// What to fix.
    pub message: String,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for RulesError {}

/// The most rules a file may hold (each applies to every command of every session).
pub const MAX_RULES: usize = 1000;
/// The longest pattern or reply text, in octets.
const MAX_TEXT: usize = 256;
/// The longest pause or tarpit step.
const MAX_DURATION: Duration = Duration::from_secs(3600);

impl Rules {
    /// No rules: every session runs as usual.
    pub fn none() -> Rules {
        Rules::default()
    }

    /// The rules, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Parse a rules file (see the module documentation).
    pub fn parse(text: &str) -> Result<Rules, RulesError> {
        let mut rules = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            let line = i + 1;
            let err = |message: String| RulesError { line, message };
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if let Some(c) = raw
                .chars()
                .find(|&c| c != '\t' && (c.is_control() || !c.is_ascii()))
            {
                return Err(err(format!(
                    "{} is not allowed: a rules file is printable ASCII",
                    describe(c)
                )));
            }
            let content = raw.trim();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            if rules.len() == MAX_RULES {
                return Err(err(format!("more than {MAX_RULES} rules")));
            }
            rules.push(parse_rule(content).map_err(err)?);
        }
        Ok(Rules { rules })
    }

    /// Read and parse `path`; errors name the file and the line.
    pub fn read(path: &Path) -> Result<Rules, Error> {
        let text = std::fs::read(path)
            .map_err(|e| Error::Usage(format!("cannot read --rules {}: {e}", path.display())))?;
        let text = String::from_utf8(text).map_err(|_| {
            Error::Usage(format!(
                "--rules {}: not text (a rules file is printable ASCII)",
                path.display()
            ))
        })?;
        Rules::parse(&text).map_err(|e| Error::Usage(format!("--rules {}: {e}", path.display())))
    }
}

/// A character named for an error message.
fn describe(c: char) -> String {
    if c.is_control() {
        format!("the control character U+{:04X}", u32::from(c))
    } else {
        format!("{c:?} (U+{:04X})", u32::from(c))
    }
}

/// The next word of `rest` (split on spaces and tabs) and what follows it.
fn word(rest: &str) -> Option<(&str, &str)> {
    let rest = rest.trim_start_matches([' ', '\t']);
    if rest.is_empty() {
        return None;
    }
    let end = rest.find([' ', '\t']).unwrap_or(rest.len());
    Some((&rest[..end], &rest[end..]))
}

const STEPS: &str =
    "greeting, ehlo, starttls, auth, mail, rcpt, data, message, rset, noop, vrfy, quit, any";
const ACTIONS: &str = "reply, delay, tarpit, disconnect, hide";

fn parse_rule(content: &str) -> Result<Rule, String> {
    let (step_word, mut rest) = word(content).ok_or("empty rule")?;
    let step = Step::parse(step_word)
        .ok_or_else(|| format!("unknown step {step_word:?}; the steps are {STEPS}"))?;
    let mut pattern = None;
    if let Some((w, after)) = word(rest)
        && w.starts_with('<')
    {
        let inner = w
            .strip_prefix('<')
            .and_then(|w| w.strip_suffix('>'))
            .ok_or_else(|| {
                format!(
                    "the pattern {w:?} must be one word in angle brackets, such as <*@example.org>"
                )
            })?;
        if inner.contains(['<', '>']) {
            return Err(format!("the pattern {w:?} holds another angle bracket"));
        }
        if inner.len() > MAX_TEXT {
            return Err(format!("the pattern is over {MAX_TEXT} characters"));
        }
        if !step.takes_pattern() {
            return Err(format!(
                "{} takes no <pattern>; patterns go with ehlo (the name), mail (the sender), rcpt (the recipient), data and message (any recipient)",
                step.name()
            ));
        }
        pattern = Some(Pattern(inner.to_string()));
        rest = after;
    }
    let (action_word, args) =
        word(rest).ok_or_else(|| format!("{} needs an action: {ACTIONS}", step.name()))?;
    let action = match action_word.to_ascii_lowercase().as_str() {
        "reply" => Action::Reply(parse_reply(step, args)?),
        "delay" => Action::Delay(one_duration("delay", args)?),
        "tarpit" => Action::Tarpit(one_duration("tarpit", args)?),
        "disconnect" => {
            no_more("disconnect", args)?;
            if step == Step::Any {
                return Err("any takes only delay or tarpit: to close at one step, name it".into());
            }
            Action::Disconnect
        }
        "hide" => {
            if step != Step::Ehlo {
                return Err(format!(
                    "hide goes with ehlo (it changes the EHLO reply), not {}",
                    step.name()
                ));
            }
            let mut caps = Vec::new();
            let mut left = args;
            while let Some((w, after)) = word(left) {
                let cap = Capability::parse(w).ok_or_else(|| {
                    format!("hide {w:?}: the capabilities that can be hidden are PIPELINING, STARTTLS and AUTH")
                })?;
                if !caps.contains(&cap) {
                    caps.push(cap);
                }
                left = after;
            }
            if caps.is_empty() {
                return Err("hide needs one or more of PIPELINING, STARTTLS, AUTH".into());
            }
            Action::Hide(caps)
        }
        _ => {
            return Err(format!(
                "unknown action {action_word:?}; the actions are {ACTIONS}"
            ));
        }
    };
    Ok(Rule {
        step,
        pattern,
        action,
    })
}

fn no_more(what: &str, args: &str) -> Result<(), String> {
    match word(args) {
        None => Ok(()),
        Some((w, _)) => Err(format!("{what} takes nothing more, but {w:?} follows")),
    }
}

fn one_duration(what: &str, args: &str) -> Result<Duration, String> {
    let (w, after) =
        word(args).ok_or_else(|| format!("{what} needs a duration such as 500ms, 5s or 2m"))?;
    no_more(what, after)?;
    parse_duration(w).map_err(|why| format!("{what} {w:?}: {why}"))
}

/// `500ms`, `5s`, `2m`: a whole number and a unit, above zero, at most an hour.
pub(crate) fn parse_duration(w: &str) -> Result<Duration, String> {
    let digits = w.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = w.split_at(digits);
    if number.is_empty() {
        return Err("a duration is a whole number and ms, s or m (500ms, 5s, 2m)".into());
    }
    let n: u64 = number
        .parse()
        .map_err(|_| "the number is too big".to_string())?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        _ => return Err(format!("unknown unit {unit:?}; use ms, s or m")),
    };
    if d.is_zero() {
        return Err("a pause of zero does nothing".into());
    }
    if d > MAX_DURATION {
        return Err("at most an hour (60m)".into());
    }
    Ok(d)
}

fn parse_reply(step: Step, args: &str) -> Result<FaultReply, String> {
    if matches!(step, Step::Quit | Step::Any) {
        return Err(format!(
            "{} takes no reply (QUIT is always answered 221; for every reply use delay or tarpit)",
            step.name()
        ));
    }
    let (code_word, mut rest) =
        word(args).ok_or("reply needs a code, such as reply 451 4.2.1 try again later")?;
    let code = parse_code(code_word)?;
    if step == Step::Greeting && code != 421 && code != 554 {
        return Err(format!(
            "a greeting may only refuse with 421 or 554 (RFC 5321 §3.1, §3.8), not {code}"
        ));
    }
    let mut enhanced = None;
    if let Some((w, after)) = word(rest)
        && w.starts_with(|c: char| c.is_ascii_digit())
        && w.contains('.')
    {
        if matches!(step, Step::Greeting | Step::Ehlo) {
            return Err(format!(
                "{} replies carry no enhanced status code (RFC 2034 §4); remove {w:?}",
                step.name()
            ));
        }
        check_enhanced(w, code)?;
        enhanced = Some(w.to_string());
        rest = after;
    }
    let text = rest.trim_matches([' ', '\t']);
    if text.len() > MAX_TEXT {
        return Err(format!("the reply text is over {MAX_TEXT} characters"));
    }
    if text.contains('\t') {
        return Err("the reply text holds a tab; use spaces".into());
    }
    Ok(FaultReply {
        code,
        enhanced,
        text: (!text.is_empty()).then(|| text.to_string()),
    })
}

/// A 4xx or 5xx reply code (RFC 5321 §4.2: the second digit 0 to 5).
fn parse_code(w: &str) -> Result<u16, String> {
    let b = w.as_bytes();
    let ok = b.len() == 3
        && matches!(b[0], b'4' | b'5')
        && (b'0'..=b'5').contains(&b[1])
        && b[2].is_ascii_digit();
    if !ok {
        return Err(format!(
            "{w:?} is not a failure code: a reply here is 4xx (try again later) or 5xx (give up), such as 451 or 550"
        ));
    }
    w.parse().map_err(|_| format!("{w:?} is not a number"))
}

/// `X.Y.Z` (RFC 3463 §2): the class matches the code's first digit; subject and detail
/// of one to three digits.
fn check_enhanced(w: &str, code: u16) -> Result<(), String> {
    let parts: Vec<&str> = w.split('.').collect();
    let ok = parts.len() == 3
        && parts[1..]
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        return Err(format!(
            "{w:?} is not an enhanced status code such as 4.2.1 (RFC 3463)"
        ));
    }
    let class = (code / 100).to_string();
    if parts[0] != class {
        return Err(format!(
            "the enhanced code {w} must start with {class}, like the code {code}"
        ));
    }
    Ok(())
}

impl fmt::Display for Rules {
    /// One rule a line, in a form [`Rules::parse`] reads back as the same rules.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for rule in &self.rules {
            writeln!(f, "{rule}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.step.name())?;
        if let Some(p) = &self.pattern {
            write!(f, " <{}>", p.0)?;
        }
        match &self.action {
            Action::Reply(r) => {
                write!(f, " reply {}", r.code)?;
                if let Some(e) = &r.enhanced {
                    write!(f, " {e}")?;
                }
                if let Some(t) = &r.text {
                    write!(f, " {t}")?;
                }
                Ok(())
            }
            Action::Delay(d) => write!(f, " delay {}", duration(*d)),
            Action::Tarpit(d) => write!(f, " tarpit {}", duration(*d)),
            Action::Disconnect => f.write_str(" disconnect"),
            Action::Hide(caps) => {
                f.write_str(" hide")?;
                for c in caps {
                    write!(f, " {}", c.name())?;
                }
                Ok(())
            }
        }
    }
}

/// A duration as a rules file writes it.
pub(crate) fn duration(d: Duration) -> String {
    if d.subsec_millis() != 0 || d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else if d.as_secs().is_multiple_of(60) {
        format!("{}m", d.as_secs() / 60)
    } else {
        format!("{}s", d.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "\
# failures on demand
greeting delay 5s
ehlo <*.legacy.example> hide PIPELINING starttls
mail <> reply 550 5.7.1 no bounces here
rcpt <busy@*> reply 451 4.2.1 mailbox busy, try again later
rcpt <slow@*> delay 40s
\tmessage <*@full.example>  reply 452 4.2.2 mailbox full\r
data disconnect
any tarpit 100ms
quit delay 2m
greeting reply 421
";

    #[test]
    fn the_documented_example_parses_and_prints_back() {
        let rules = Rules::parse(EXAMPLE).unwrap();
        assert_eq!(rules.iter().count(), 10);
        let printed = rules.to_string();
        assert_eq!(
            printed,
            "greeting delay 5s\n\
             ehlo <*.legacy.example> hide PIPELINING STARTTLS\n\
             mail <> reply 550 5.7.1 no bounces here\n\
             rcpt <busy@*> reply 451 4.2.1 mailbox busy, try again later\n\
             rcpt <slow@*> delay 40s\n\
             message <*@full.example> reply 452 4.2.2 mailbox full\n\
             data disconnect\n\
             any tarpit 100ms\n\
             quit delay 2m\n\
             greeting reply 421\n"
        );
        assert_eq!(Rules::parse(&printed).unwrap(), rules);
        let r = rules.iter().nth(3).unwrap();
        assert_eq!(
            r.action,
            Action::Reply(FaultReply {
                code: 451,
                enhanced: Some("4.2.1".into()),
                text: Some("mailbox busy, try again later".into()),
            })
        );
    }

    #[test]
    fn errors_name_the_line_and_what_to_fix() {
        let cases: &[(&str, &str)] = &[
            ("rcp reply 451", "line 1: unknown step \"rcp\""),
            ("\n\nrcpt", "line 3: rcpt needs an action"),
            (
                "rcpt <a@b> reply 200 ok",
                "line 1: \"200\" is not a failure code",
            ),
            ("rcpt reply 461", "line 1: \"461\" is not a failure code"),
            (
                "rcpt reply 451 5.2.1",
                "line 1: the enhanced code 5.2.1 must start with 4",
            ),
            (
                "rcpt reply 451 4.2",
                "line 1: \"4.2\" is not an enhanced status code",
            ),
            (
                "greeting reply 451",
                "line 1: a greeting may only refuse with 421 or 554",
            ),
            (
                "greeting reply 554 5.3.2 no",
                "line 1: greeting replies carry no enhanced",
            ),
            (
                "ehlo reply 550 5.7.1 no",
                "line 1: ehlo replies carry no enhanced",
            ),
            ("quit reply 451", "line 1: quit takes no reply"),
            ("noop <x> delay 1s", "line 1: noop takes no <pattern>"),
            (
                "rcpt <a@b delay 1s",
                "line 1: the pattern \"<a@b\" must be one word",
            ),
            (
                "rcpt <a<b> delay 1s",
                "line 1: the pattern \"<a<b>\" holds another",
            ),
            ("rcpt delay", "line 1: delay needs a duration"),
            ("rcpt delay 5", "line 1: delay \"5\": unknown unit \"\""),
            ("rcpt delay 5h", "line 1: delay \"5h\": unknown unit \"h\""),
            ("rcpt delay 0s", "line 1: delay \"0s\": a pause of zero"),
            ("rcpt delay 61m", "line 1: delay \"61m\": at most an hour"),
            (
                "rcpt delay 99999999999999999999s",
                "line 1: delay \"99999999999999999999s\": the number is too big",
            ),
            (
                "rcpt delay 1s 2s",
                "line 1: delay takes nothing more, but \"2s\" follows",
            ),
            (
                "rcpt disconnect now",
                "line 1: disconnect takes nothing more",
            ),
            ("any disconnect", "line 1: any takes only delay or tarpit"),
            ("rcpt hide AUTH", "line 1: hide goes with ehlo"),
            ("ehlo hide", "line 1: hide needs one or more"),
            ("ehlo hide CHUNKING", "line 1: hide \"CHUNKING\""),
            ("rcpt shout", "line 1: unknown action \"shout\""),
            (
                "rcpt reply 451 4.2.1 caf\u{e9}",
                "line 1: '\u{e9}' (U+00E9) is not allowed",
            ),
            (
                "rcpt reply 451 a\u{7}b",
                "line 1: the control character U+0007",
            ),
        ];
        for (text, want) in cases {
            let got = Rules::parse(text).unwrap_err().to_string();
            assert!(got.starts_with(want), "{text:?}: {got}");
        }
    }

    #[test]
    fn durations_print_back_the_same() {
        for w in ["1ms", "999ms", "1500ms", "1s", "59s", "1m", "60m", "90s"] {
            let d = parse_duration(w).unwrap();
            assert_eq!(parse_duration(&duration(d)).unwrap(), d, "{w}");
        }
        assert_eq!(duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(duration(Duration::from_secs(120)), "2m");
    }

    #[test]
    fn patterns() {
        let p = |s: &str| Pattern(s.to_string());
        assert!(p("busy@*").matches("BUSY@example.org"));
        assert!(p("*@full.example").matches("a@full.example"));
        assert!(!p("*@full.example").matches("a@full.example.org"));
        assert!(p("").matches(""));
        assert!(!p("").matches("a"));
        assert!(p("*").matches(""));
        assert!(p("a*b*c").matches("aXXbYYc"));
        assert!(!p("a*b*c").matches("aXXbYY"));
        assert!(p("**").matches("anything"));
        // Linear, not exponential, on a pattern built to backtrack.
        let text = "a".repeat(10_000);
        assert!(!p(&format!("{}b", "*a".repeat(50))).matches(&text));
    }

    #[test]
    fn a_long_file_is_refused_past_the_limit() {
        let ok = "noop delay 1ms\n".repeat(MAX_RULES);
        assert_eq!(Rules::parse(&ok).unwrap().iter().count(), MAX_RULES);
        let err = Rules::parse(&format!("{ok}noop delay 1ms\n")).unwrap_err();
        assert_eq!(err.line, MAX_RULES + 1);
    }
}
