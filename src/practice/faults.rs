//! Failures on demand, for one session: what the rules file ([`super::rules`]) and the
//! address and EHLO-name conventions below say should happen at each step.
//!
//! # The conventions (always on, no file needed)
//!
//! A **sender or recipient** whose local part (before any `+tag`) is
//!
//! - `451`, `451-4.2.1`, `552-5.2.2`, … (any 4xx or 5xx, with an optional enhanced code of
//!   the same class): MAIL or RCPT gets that reply; a `421` closes the connection after it.
//! - `disconnect`: the connection is closed at that command, with no reply.
//! - `delay-N` (N seconds, 1 to 600): the reply comes after N seconds.
//! - `data-` followed by any of those (`data-451-4.3.0`, `data-disconnect`, `data-delay-30`):
//!   MAIL or RCPT is accepted, and the failure happens after the body's final dot instead.
//!
//! An **EHLO or HELO name** with one of these labels (`no-auth.no-pipelining.example`):
//!
//! - `no-pipelining`, `no-starttls`, `no-auth`: that capability is left out of the EHLO
//!   reply (and STARTTLS or AUTH refused with `502 5.5.1`; a client that pipelines anyway
//!   gets `554 5.5.0` and is disconnected, as Postfix does).
//! - `delay-N`: every later reply comes N seconds (1 to 600) late.
//! - `tarpit`: every later reply is sent one octet every 100 ms.

use std::time::Duration;

use super::rules::{Action, Capability, FaultReply, Rules, Step};

/// What the conventions and rules say about one reply.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Wait this long before answering.
    pub delay: Duration,
    /// Send the reply one octet every this long.
    pub tarpit: Option<Duration>,
    /// What the answer is.
    pub outcome: Outcome,
    /// Capabilities to leave out (EHLO only).
    pub hide: Vec<Capability>,
}

/// The answer a step gets.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// As usual.
    #[default]
    Normal,
    /// This reply; `by` says what chose it, for the text when the rule gave none.
    Reply { reply: FaultReply, by: String },
    /// Close the connection with no reply.
    Disconnect,
}

/// What a rule or convention is matched against.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Subject<'a> {
    /// Nothing (greeting, QUIT, …).
    None,
    /// The EHLO or HELO name.
    Name(&'a str),
    /// The sender or the recipient.
    Address(&'a str),
    /// The sender and the recipients of the transaction (DATA and the end of data).
    Envelope(&'a str, &'a [String]),
}

/// The session's own state: what its EHLO name asked for, and the `any` rules.
#[derive(Debug, Default, Clone)]
pub(crate) struct Faults {
    hidden: Vec<Capability>,
    each_delay: Option<Duration>,
    tarpit: Option<Duration>,
    any_delay: Duration,
    any_tarpit: Option<Duration>,
}

/// The pace of the `tarpit` label.
const TARPIT_LABEL_STEP: Duration = Duration::from_millis(100);
/// The longest `delay-N` of a convention, in seconds.
const MAX_CONVENTION_DELAY: u64 = 600;

impl Faults {
    /// Whether EHLO leaves `cap` out in this session.
    pub fn hides(&self, cap: Capability) -> bool {
        self.hidden.contains(&cap)
    }

    /// A session's state before its EHLO: what the `any` rules ask of every reply.
    pub fn new(rules: &Rules) -> Faults {
        let mut faults = Faults::default();
        for rule in rules.iter().filter(|r| r.step == Step::Any) {
            match rule.action {
                Action::Delay(d) => faults.any_delay = faults.any_delay.saturating_add(d),
                Action::Tarpit(d) => faults.any_tarpit = Some(d),
                _ => {}
            }
        }
        faults
    }

    /// The pause before every reply: `any delay` rules and a `delay-N` EHLO label.
    pub fn each_delay(&self) -> Duration {
        self.any_delay
            .saturating_add(self.each_delay.unwrap_or_default())
    }

    /// The tarpit pace of every reply, from an EHLO label or an `any tarpit` rule.
    pub fn tarpit(&self) -> Option<Duration> {
        self.tarpit.or(self.any_tarpit)
    }

    /// A new EHLO or HELO: its labels decide what this session hides, and its pace. A new
    /// EHLO starts over (as it resets the session's state in RFC 5321 §4.1.4).
    pub fn greeted(&mut self, name: &str) {
        self.hidden.clear();
        self.each_delay = None;
        self.tarpit = None;
        for label in name.split('.') {
            let label = label.to_ascii_lowercase();
            match label.as_str() {
                "no-pipelining" => self.hidden.push(Capability::Pipelining),
                "no-starttls" => self.hidden.push(Capability::Starttls),
                "no-auth" => self.hidden.push(Capability::Auth),
                "tarpit" => self.tarpit = Some(TARPIT_LABEL_STEP),
                _ => {
                    if let Some(d) = label.strip_prefix("delay-").and_then(seconds) {
                        self.each_delay = Some(d);
                    }
                }
            }
        }
    }

    /// What happens at `step` for `subject`: the conventions first, then every matching
    /// rule in file order (pauses add up; the first reply or disconnect decides).
    pub fn plan(&mut self, rules: &Rules, step: Step, subject: Subject<'_>) -> Plan {
        let mut plan = Plan::default();
        match (step, subject) {
            (Step::Mail | Step::Rcpt, Subject::Address(address)) => {
                if let Some((false, effect)) = convention(address) {
                    effect.apply(&mut plan, address);
                }
            }
            (Step::Message, Subject::Envelope(from, rcpts)) => {
                for address in std::iter::once(from).chain(rcpts.iter().map(String::as_str)) {
                    if let Some((true, effect)) = convention(address) {
                        effect.apply(&mut plan, address);
                    }
                }
            }
            _ => {}
        }
        for (n, rule) in rules.iter().enumerate() {
            if rule.step != step || !matches(rule.pattern.as_ref(), subject) {
                continue;
            }
            match &rule.action {
                Action::Delay(d) => plan.delay = plan.delay.saturating_add(*d),
                Action::Tarpit(d) => plan.tarpit = Some(*d),
                Action::Hide(caps) => plan.hide.extend(caps),
                Action::Reply(reply) => {
                    if plan.outcome == Outcome::Normal {
                        plan.outcome = Outcome::Reply {
                            reply: reply.clone(),
                            by: format!("rule {} of the rules file", n + 1),
                        };
                    }
                }
                Action::Disconnect => {
                    if plan.outcome == Outcome::Normal {
                        plan.outcome = Outcome::Disconnect;
                    }
                }
            }
        }
        if step == Step::Ehlo {
            for cap in &plan.hide {
                if !self.hidden.contains(cap) {
                    self.hidden.push(*cap);
                }
            }
        }
        plan
    }
}

fn matches(pattern: Option<&super::rules::Pattern>, subject: Subject<'_>) -> bool {
    let Some(pattern) = pattern else {
        return true;
    };
    match subject {
        Subject::None => false,
        Subject::Name(s) | Subject::Address(s) => pattern.matches(s),
        Subject::Envelope(_, rcpts) => rcpts.iter().any(|r| pattern.matches(r)),
    }
}

/// What an address's local part asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Effect {
    Reply(u16, Option<String>),
    Disconnect,
    Delay(Duration),
}

impl Effect {
    fn apply(&self, plan: &mut Plan, address: &str) {
        match self {
            Effect::Delay(d) => plan.delay = plan.delay.saturating_add(*d),
            Effect::Disconnect if plan.outcome == Outcome::Normal => {
                plan.outcome = Outcome::Disconnect;
            }
            Effect::Reply(code, enhanced) if plan.outcome == Outcome::Normal => {
                plan.outcome = Outcome::Reply {
                    reply: FaultReply {
                        code: *code,
                        enhanced: enhanced.clone(),
                        text: None,
                    },
                    by: format!("the address <{address}>"),
                };
            }
            _ => {}
        }
    }
}

/// The convention in `address`'s local part: (after the end of data?, what).
fn convention(address: &str) -> Option<(bool, Effect)> {
    let (local, _) = address.rsplit_once('@')?;
    let local = local.split_once('+').map_or(local, |(l, _)| l);
    let local = local.to_ascii_lowercase();
    let (at_data, rest) = match local.strip_prefix("data-") {
        Some(rest) => (true, rest),
        None => (false, local.as_str()),
    };
    if rest == "disconnect" {
        return Some((at_data, Effect::Disconnect));
    }
    if let Some(n) = rest.strip_prefix("delay-") {
        return seconds(n).map(|d| (at_data, Effect::Delay(d)));
    }
    let (code, enhanced) = match rest.split_once('-') {
        Some((code, enhanced)) => (code, Some(enhanced)),
        None => (rest, None),
    };
    let b = code.as_bytes();
    let is_code = b.len() == 3
        && matches!(b[0], b'4' | b'5')
        && (b'0'..=b'5').contains(&b[1])
        && b[2].is_ascii_digit();
    if !is_code {
        return None;
    }
    let code: u16 = code.parse().ok()?;
    let enhanced = match enhanced {
        None => None,
        Some(e) => {
            let parts: Vec<&str> = e.split('.').collect();
            let ok = parts.len() == 3
                && parts[0] == (code / 100).to_string()
                && parts[1..]
                    .iter()
                    .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                return None;
            }
            Some(e.to_string())
        }
    };
    Some((at_data, Effect::Reply(code, enhanced)))
}

/// `N` whole seconds, 1 to [`MAX_CONVENTION_DELAY`].
fn seconds(n: &str) -> Option<Duration> {
    if n.is_empty() || n.len() > 3 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = n.parse().ok()?;
    (1..=MAX_CONVENTION_DELAY)
        .contains(&n)
        .then(|| Duration::from_secs(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16, enhanced: Option<&str>) -> Option<(bool, Effect)> {
        Some((false, Effect::Reply(code, enhanced.map(String::from))))
    }

    #[test]
    fn address_conventions() {
        assert_eq!(convention("451@example.org"), reply(451, None));
        assert_eq!(
            convention("451-4.2.1@example.org"),
            reply(451, Some("4.2.1"))
        );
        assert_eq!(
            convention("552-5.2.2+big@example.org"),
            reply(552, Some("5.2.2"))
        );
        assert_eq!(
            convention("DATA-554-5.6.0@example.org"),
            Some((true, Effect::Reply(554, Some("5.6.0".into()))))
        );
        assert_eq!(
            convention("disconnect@x.example"),
            Some((false, Effect::Disconnect))
        );
        assert_eq!(
            convention("data-disconnect@x.example"),
            Some((true, Effect::Disconnect))
        );
        assert_eq!(
            convention("delay-30@x.example"),
            Some((false, Effect::Delay(Duration::from_secs(30))))
        );
        // Not conventions: ordinary addresses keep working.
        for a in [
            "alice@example.org",
            "250@example.org",
            "461@example.org",
            "451-5.2.1@example.org",
            "451-4.2@example.org",
            "4510@example.org",
            "delay-0@x.example",
            "delay-601@x.example",
            "delay-x@x.example",
            "data-@x.example",
            "postmaster",
        ] {
            assert_eq!(convention(a), None, "{a}");
        }
    }

    #[test]
    fn ehlo_labels() {
        let mut f = Faults::default();
        f.greeted("No-Auth.no-pipelining.delay-3.client.example");
        assert!(f.hides(Capability::Auth) && f.hides(Capability::Pipelining));
        assert!(!f.hides(Capability::Starttls));
        assert_eq!(f.each_delay(), Duration::from_secs(3));
        assert_eq!(f.tarpit(), None);
        f.greeted("tarpit.example");
        assert!(!f.hides(Capability::Auth), "a new EHLO starts over");
        assert_eq!(f.tarpit(), Some(TARPIT_LABEL_STEP));
        assert_eq!(f.each_delay(), Duration::ZERO);
        // `any` rules hold for the whole session, whatever the EHLO.
        let rules = Rules::parse("any delay 1s\nany delay 500ms\nany tarpit 20ms\n").unwrap();
        let mut f = Faults::new(&rules);
        f.greeted("client.example");
        assert_eq!(f.each_delay(), Duration::from_millis(1500));
        assert_eq!(f.tarpit(), Some(Duration::from_millis(20)));
    }

    #[test]
    fn rules_add_pauses_and_the_first_answer_wins() {
        let rules = Rules::parse(
            "rcpt <slow@*> delay 2s\n\
             rcpt delay 1s\n\
             rcpt <slow@*> reply 451 4.2.1 busy\n\
             rcpt reply 550\n\
             message <*@full.example> reply 452 4.2.2 full\n\
             ehlo <*.old.example> hide AUTH\n",
        )
        .unwrap();
        let mut f = Faults::default();
        let plan = f.plan(&rules, Step::Rcpt, Subject::Address("slow@example.org"));
        assert_eq!(plan.delay, Duration::from_secs(3));
        assert!(
            matches!(&plan.outcome, Outcome::Reply { reply, by } if reply.code == 451 && by == "rule 3 of the rules file")
        );
        let plan = f.plan(&rules, Step::Rcpt, Subject::Address("other@example.org"));
        assert!(matches!(&plan.outcome, Outcome::Reply { reply, .. } if reply.code == 550));
        // The address convention comes before the rules.
        let plan = f.plan(&rules, Step::Rcpt, Subject::Address("452@example.org"));
        assert!(matches!(&plan.outcome, Outcome::Reply { reply, .. } if reply.code == 452));
        let rcpts = ["a@example.org".to_string(), "b@full.example".to_string()];
        let plan = f.plan(&rules, Step::Message, Subject::Envelope("", &rcpts));
        assert!(matches!(&plan.outcome, Outcome::Reply { reply, .. } if reply.code == 452));
        let plan = f.plan(&rules, Step::Message, Subject::Envelope("", &rcpts[..1]));
        assert_eq!(plan, Plan::default());
        // `data-` conventions wait for the end of data.
        let rcpts = ["data-451@example.org".to_string()];
        assert_eq!(
            f.plan(&Rules::none(), Step::Rcpt, Subject::Address(&rcpts[0])),
            Plan::default()
        );
        let plan = f.plan(&Rules::none(), Step::Message, Subject::Envelope("", &rcpts));
        assert!(matches!(&plan.outcome, Outcome::Reply { reply, .. } if reply.code == 451));
        // hide: remembered for the session.
        f.greeted("mx.old.example");
        f.plan(&rules, Step::Ehlo, Subject::Name("mx.old.example"));
        assert!(f.hides(Capability::Auth));
    }
}
