//! `:help` and `:help CMD`: written from the same definitions the parser uses (the shell
//! commands' clap definitions and the SMTP verbs' table), wrapped to the terminal.

use super::commands::definitions;
use crate::smtp::command::Verb;

/// The width help is wrapped to: the terminal's, else 80; at least 40.
pub fn width() -> usize {
    terminal_size::terminal_size()
        .map(|(w, _)| w.0 as usize)
        .unwrap_or(80)
        .max(40)
}

/// One shell command's synopsis: `:connect [TARGET] [--starttls] …`.
pub fn synopsis(cmd: &clap::Command) -> String {
    let mut s = format!(":{}", cmd.get_name());
    for a in cmd.get_arguments() {
        let names = a
            .get_value_names()
            .map(|v| v.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| a.get_id().as_str().to_ascii_uppercase());
        let part = match a.get_long() {
            Some(l) if a.get_num_args().is_some_and(|n| n.takes_values()) => {
                format!("[--{l} {names}]")
            }
            Some(l) => format!("[--{l}]"),
            None if a.is_required_set() => names,
            None => format!("[{names}]"),
        };
        s.push(' ');
        s.push_str(&part);
    }
    s
}

/// An argument's name as a reader types it (`--starttls`, `TARGET`) and its help line.
pub fn argument(a: &clap::Arg) -> (String, String) {
    let name = match a.get_long() {
        Some(l) => format!("--{l}"),
        None => a
            .get_value_names()
            .and_then(|v| v.first().map(|n| n.to_string()))
            .unwrap_or_default(),
    };
    (
        name,
        a.get_help().map(|h| h.to_string()).unwrap_or_default(),
    )
}

/// Words of `text` in lines of at most `width` columns, each after `indent`; a word longer
/// than a line stands alone on its line rather than being cut.
pub fn wrap(text: &str, indent: usize, width: usize) -> String {
    let room = width.saturating_sub(indent).max(20);
    let pad = " ".repeat(indent);
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > room {
            out.push_str(&pad);
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&pad);
        out.push_str(&line);
    }
    out.trim_end_matches('\n').to_string()
}

/// The text of `:help` (no topic) or `:help TOPIC`, wrapped to [`width`].
pub fn text(topic: Option<&str>) -> String {
    text_for(topic, width())
}

/// [`text`] for a given width.
pub fn text_for(topic: Option<&str>, width: usize) -> String {
    let defs = definitions();
    let Some(t) = topic else {
        let mut s = wrap(
            "Type SMTP commands as you would to the server; smtpsh adds CRLF.",
            0,
            width,
        );
        s.push_str("\nShell commands:\n");
        for c in defs.get_subcommands() {
            s.push_str(&wrap(&synopsis(c), 2, width));
            s.push('\n');
            let about = c.get_about().map(|a| a.to_string()).unwrap_or_default();
            s.push_str(&wrap(&about, 6, width));
            s.push('\n');
        }
        s.push_str(&wrap(
            "SMTP verbs the shell helps with (:help VERB for more):",
            0,
            width,
        ));
        s.push('\n');
        let verbs: Vec<&str> = Verb::known().map(|v| v.name()).collect();
        s.push_str(&wrap(&verbs.join(" "), 2, width));
        s.push('\n');
        s.push_str(&wrap(
            "In body mode (after 354) each line is sent dot-stuffed; a lone '.' ends the body.",
            0,
            width,
        ));
        return s;
    };
    // `:help help` is the shell command, `:help HELP` the SMTP verb.
    let key = t.trim_start_matches(':').to_ascii_lowercase();
    let shell = defs.find_subcommand(&key);
    let verb = Verb::of_word(&key);
    let verb_first =
        !t.starts_with(':') && t.chars().any(|c| c.is_ascii_uppercase()) && verb.syntax().is_some();
    match (shell, verb.syntax()) {
        (Some(c), _) if !verb_first => {
            let mut s = wrap(&synopsis(c), 0, width);
            s.push('\n');
            let about = c.get_about().map(|a| a.to_string()).unwrap_or_default();
            s.push_str(&wrap(&about, 2, width));
            let aliases: Vec<&str> = c.get_all_aliases().collect();
            if !aliases.is_empty() {
                s.push('\n');
                s.push_str(&wrap(
                    &format!(
                        "also: {}",
                        aliases
                            .iter()
                            .map(|a| format!(":{a}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                    2,
                    width,
                ));
            }
            for a in c.get_arguments() {
                let (name, help) = argument(a);
                s.push('\n');
                s.push_str(&wrap(&format!("{name}: {help}"), 4, width));
            }
            s
        }
        (_, Some(syn)) => {
            let mut s = wrap(syn, 0, width);
            s.push('\n');
            s.push_str(&wrap(verb.about().unwrap_or(""), 2, width));
            s
        }
        _ => format!("no help on {t:?}; :help lists the commands"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_covers_every_command_and_verb() {
        let all = text_for(None, 80);
        for c in definitions().get_subcommands() {
            assert!(
                all.contains(&format!(":{}", c.get_name())),
                "{}",
                c.get_name()
            );
            assert!(
                !text_for(Some(c.get_name()), 80).starts_with("no help"),
                "{}",
                c.get_name()
            );
        }
        for v in Verb::known() {
            assert!(text_for(Some(v.name()), 80).contains(v.name()), "{v:?}");
        }
        assert!(text_for(Some("HELP"), 80).starts_with("HELP"));
        assert!(text_for(Some("help"), 80).starts_with(":help"));
        assert!(text_for(Some(":help"), 80).starts_with(":help"));
        assert!(text_for(Some("nope"), 80).starts_with("no help"));
    }

    // See: issue 16, `:help` did not wrap ("S\nIZE" at 80 columns).
    #[test]
    fn help_wraps_between_words() {
        for w in [40, 60, 80, 120] {
            let t = text_for(None, w);
            for line in t.lines() {
                assert!(line.chars().count() <= w, "{w}: {line:?}");
            }
            assert!(t.contains("SIZE") || !t.contains("IZE"));
        }
        assert!(
            text_for(Some("connect"), 40)
                .lines()
                .all(|l| l.chars().count() <= 40)
        );
    }

    #[test]
    fn synopses_show_arguments() {
        let c = definitions().find_subcommand("connect").unwrap();
        let s = synopsis(c);
        assert!(s.starts_with(":connect [TARGET]"), "{s}");
        assert!(s.contains("[--starttls]"), "{s}");
        let c = definitions().find_subcommand("inbox").unwrap();
        assert_eq!(synopsis(c), ":inbox [N]");
    }
}
