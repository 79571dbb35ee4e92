//! Teaching mode: what a learner sees besides the wire. A note before an out-of-order
//! command (it is still sent: the point is to see the server's answer), the five stages of a
//! session for `:state`, and the text of `:explain CODE [X.Y.Z]`. Pure functions of the
//! session's state, so they are tested without a server.

use crate::session::{Stage, State};
use crate::smtp::command::Verb;
use crate::smtp::explain;
use crate::smtp::reply::{Code, EnhancedCode};

/// A note to show before sending `verb` in `state`, when the server will likely refuse it
/// for being out of order (RFC 5321 §4.1.4 and §3.3), saying what it will answer and why.
pub fn out_of_order(state: &State, verb: &Verb) -> Option<String> {
    let why = match verb {
        Verb::Mail if !state.hello => {
            "MAIL before EHLO/HELO: the server will likely answer 503 5.5.1, because a session must greet first (RFC 5321 §4.1.4)"
        }
        Verb::Mail if matches!(state.stage, Stage::Mail | Stage::Rcpt(_)) => {
            "MAIL inside a transaction: the server will likely answer 503 5.5.1; finish it or send RSET first (RFC 5321 §4.1.1.2)"
        }
        Verb::Rcpt if matches!(state.stage, Stage::Idle) => {
            "RCPT before MAIL: the server will likely answer 503 5.5.1, because recipients belong to a transaction that MAIL starts (RFC 5321 §3.3)"
        }
        Verb::Data if matches!(state.stage, Stage::Idle) => {
            "DATA before MAIL and RCPT: the server will likely answer 503 5.5.1 (no valid recipients), because there is no transaction yet (RFC 5321 §3.3)"
        }
        Verb::Data if matches!(state.stage, Stage::Mail) => {
            "DATA before any RCPT was accepted: the server will likely answer 554 5.5.1 or 503 5.5.1 (no valid recipients) (RFC 5321 §3.3)"
        }
        Verb::Auth if !state.hello => {
            "AUTH before EHLO: the server will likely answer 503 5.5.1; AUTH is an extension, offered only in the EHLO reply (RFC 4954 §4)"
        }
        Verb::Auth if state.user.is_some() => {
            "AUTH again: the server will likely answer 503 5.5.1, because a session authenticates once (RFC 4954 §4)"
        }
        Verb::Starttls if state.tls => {
            "STARTTLS over TLS: the server will likely answer 503 or 454, because TLS is already on (RFC 3207 §4)"
        }
        _ => return None,
    };
    Some(why.to_string())
}

/// The five stages of a session, as the tutorial and `:state` name them, with how each is
/// reached; the teacher's summary of `--serve` counts them too.
pub const STAGES: [(&str, &str); 5] = [
    ("handshake", "greeting, EHLO (and STARTTLS, AUTH)"),
    ("sender", "MAIL FROM:<address>"),
    ("recipients", "RCPT TO:<address>, once per recipient"),
    ("message data", "DATA, the message, a lone '.'"),
    ("end", "QUIT (or RSET and another message)"),
];

/// `:state` in teaching form: the five stages of a session with the current one marked,
/// then TLS and AUTH.
pub fn stages(state: &State) -> String {
    let current = match (&state.target, state.hello, state.stage) {
        (None, ..) => None,
        (Some(_), false, _) => Some(0),
        (Some(_), true, Stage::Idle) => Some(1),
        (Some(_), true, Stage::Mail) => Some(2),
        (Some(_), true, Stage::Rcpt(_)) => Some(2),
        (Some(_), true, Stage::Data) => Some(3),
    };
    let mut out = String::new();
    match &state.target {
        Some(t) => out.push_str(&format!("connected to {t}\n")),
        None => out.push_str("not connected (:connect TARGET)\n"),
    }
    for (i, (name, how)) in STAGES.iter().enumerate() {
        let mark = if current == Some(i) { "->" } else { "  " };
        let extra = match (i, state.stage) {
            (2, Stage::Rcpt(n)) => format!(" ({n} accepted)"),
            (2, Stage::Mail) => " (sender accepted, no recipient yet)".to_string(),
            _ => String::new(),
        };
        out.push_str(&format!("{mark} {}. {name:<13} {how}{extra}\n", i + 1));
    }
    out.push_str(&format!(
        "TLS   {}\nAUTH  {}",
        if !state.tls {
            "off"
        } else if state.insecure {
            "on (--insecure: NOT verified)"
        } else {
            "on"
        },
        match (&state.user, state.auth_by_hand) {
            (Some(u), _) => format!("as {u}"),
            (None, true) => "yes (an AUTH typed by hand)".to_string(),
            (None, false) => "not authenticated".to_string(),
        }
    ));
    out
}

/// The text of `:explain CODE [X.Y.Z]` (either may be given alone).
pub fn explain_text(code: Option<Code>, enhanced: Option<EnhancedCode>) -> String {
    let mut out = Vec::new();
    if let Some(c) = code {
        let e = explain::code(c);
        out.push(format!("{c}  {}", e.meaning));
        out.push(format!("     try: {}", e.try_next));
        if !e.standard {
            out.push("     (not a standard code: explained from its first digit)".to_string());
        }
    }
    if let Some(x) = enhanced {
        let e = explain::enhanced(x);
        out.push(format!("{x}  class {}: {}", x.class, e.class));
        out.push(format!(
            "     subject {}.{}: {}",
            x.class, x.subject, e.subject
        ));
        match e.detail {
            Some(d) => out.push(format!("     detail {x}: {d}")),
            None => out.push(format!("     detail {x}: not in the IANA registry")),
        }
    }
    out.join("\n")
}

/// Parse the arguments of `:explain`: a reply code, an enhanced code, or both.
pub fn parse_explain(args: &str) -> Result<(Option<Code>, Option<EnhancedCode>), String> {
    let mut code = None;
    let mut enhanced = None;
    for w in args.split_whitespace() {
        if w.contains('.') {
            let e = w
                .parse::<EnhancedCode>()
                .map_err(|()| format!(":explain: {w:?} is not an enhanced code like 5.1.1"))?;
            enhanced = Some(e);
        } else {
            let c = w.parse::<u16>().ok().and_then(Code::new).ok_or_else(|| {
                format!(":explain: {w:?} is not a reply code (three digits, 200 to 559)")
            })?;
            code = Some(c);
        }
    }
    if code.is_none() && enhanced.is_none() {
        return Err(":explain needs a CODE, an X.Y.Z or both, e.g. :explain 550 5.1.1".into());
    }
    Ok((code, enhanced))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::target::Target;

    fn state(hello: bool, stage: Stage) -> State {
        State {
            target: Some(Target::parse("127.0.0.1:2525", None, false).unwrap()),
            greeted: true,
            hello,
            stage,
            ..State::default()
        }
    }

    #[test]
    fn out_of_order_table() {
        let cases: &[(bool, Stage, Verb, Option<&str>)] = &[
            (false, Stage::Idle, Verb::Mail, Some("MAIL before EHLO")),
            (true, Stage::Idle, Verb::Mail, None),
            (true, Stage::Mail, Verb::Mail, Some("inside a transaction")),
            (true, Stage::Idle, Verb::Rcpt, Some("RCPT before MAIL")),
            (true, Stage::Mail, Verb::Rcpt, None),
            (true, Stage::Idle, Verb::Data, Some("DATA before MAIL")),
            (true, Stage::Mail, Verb::Data, Some("before any RCPT")),
            (true, Stage::Rcpt(1), Verb::Data, None),
            (false, Stage::Idle, Verb::Auth, Some("AUTH before EHLO")),
            (true, Stage::Idle, Verb::Noop, None),
        ];
        for (hello, stage, verb, want) in cases {
            let got = out_of_order(&state(*hello, *stage), verb);
            match want {
                Some(w) => assert!(
                    got.as_deref().is_some_and(|g| g.contains(w)),
                    "{verb:?} {stage:?}: {got:?}"
                ),
                None => assert_eq!(got, None, "{verb:?} {stage:?}"),
            }
        }
    }

    #[test]
    fn stages_mark_the_current_one() {
        let s = stages(&state(true, Stage::Rcpt(2)));
        assert!(s.contains("-> 3. recipients"), "{s}");
        assert!(s.contains("(2 accepted)"), "{s}");
        assert!(s.contains("   1. handshake"), "{s}");
        assert!(stages(&state(false, Stage::Idle)).contains("-> 1. handshake"));
        assert!(stages(&state(true, Stage::Data)).contains("-> 4. message data"));
        assert!(!stages(&State::default()).contains("->"));
    }

    #[test]
    fn explain_parses_and_explains() {
        let (c, e) = parse_explain("550 5.1.1").unwrap();
        let text = explain_text(c, e);
        assert!(text.starts_with("550  "), "{text}");
        assert!(text.contains("detail 5.1.1:"), "{text}");
        assert!(parse_explain("5.7.8").unwrap().0.is_none());
        assert!(parse_explain("").is_err());
        assert!(parse_explain("650").is_err());
        assert!(parse_explain("5.1").is_err());
        assert!(
            explain_text(None, Some("5.1.99".parse().unwrap()))
                .contains("not in the IANA registry")
        );
    }
}
