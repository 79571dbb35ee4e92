//! EHLO capabilities (RFC 5321 §4.1.1.1): each keyword with its parameters.
//!
//! Capabilities are kept as sent (keyword upper-cased) so `:caps` can show the server's own
//! words; the helpers answer the questions the shell asks (SIZE, AUTH mechanisms).

use super::escape::escape_bytes;
use super::reply::Reply;

/// One EHLO keyword and its parameters, keyword upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Capability {
    /// Upper-cased keyword, e.g. `SIZE`, `AUTH`.
    pub keyword: String,
    /// Parameters as sent, e.g. `["10240000"]`, `["PLAIN", "LOGIN"]`.
    pub params: Vec<String>,
}

/// What a server advertised in its EHLO (or LHLO) reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Capabilities {
    /// The first line: the server's name and greeting text.
    pub greeting: String,
    /// Every capability line, in order.
    pub entries: Vec<Capability>,
}

impl Capabilities {
    /// Parse a 250 EHLO reply. Non-UTF-8 text is escaped. `AUTH=PLAIN LOGIN` (old syntax)
    /// counts as `AUTH`.
    pub fn from_ehlo(reply: &Reply) -> Capabilities {
        let mut lines = reply.lines.iter();
        let greeting = lines.next().map(|l| escape_bytes(l)).unwrap_or_default();
        let entries = lines
            .filter_map(|line| {
                // Split and upper-case the raw bytes, then escape each word: escaping first
                // would upper-case the escapes themselves (`\x1b` into `\X1B`).
                let mut words = line
                    .split(|b| b.is_ascii_whitespace())
                    .filter(|w| !w.is_empty());
                let first = words.next()?;
                // Old servers advertise `AUTH=PLAIN LOGIN` for clients that predate RFC 2554
                // (RFC 4954 §1 mentions it); it means AUTH.
                let (keyword, first_param) = match first.iter().position(|&b| b == b'=') {
                    Some(i) => (&first[..i], Some(&first[i + 1..]).filter(|p| !p.is_empty())),
                    None => (first, None),
                };
                let params = first_param
                    .into_iter()
                    .chain(words)
                    .map(escape_bytes)
                    .collect();
                Some(Capability {
                    keyword: escape_bytes(&keyword.to_ascii_uppercase()),
                    params,
                })
            })
            .collect();
        Capabilities { greeting, entries }
    }
    /// Whether `keyword` was advertised (case-insensitive).
    pub fn has(&self, keyword: &str) -> bool {
        self.find(keyword).is_some()
    }
    /// The parameters of `keyword`, if advertised.
    pub fn params(&self, keyword: &str) -> Option<&[String]> {
        self.find(keyword).map(|c| c.params.as_slice())
    }
    /// The SIZE limit, if advertised with a number (0 means no limit, RFC 1870).
    pub fn size(&self) -> Option<u64> {
        // RFC 1870 §4: `SIZE` may come without a number.
        self.params("SIZE")?.first()?.parse().ok()
    }
    /// AUTH mechanisms, upper-cased, from `AUTH` and `AUTH=` lines, without duplicates.
    pub fn auth_mechanisms(&self) -> Vec<String> {
        let mut mechanisms: Vec<String> = Vec::new();
        for entry in self.entries.iter().filter(|c| c.keyword == "AUTH") {
            for param in &entry.params {
                let mechanism = param.to_ascii_uppercase();
                if !mechanisms.contains(&mechanism) {
                    mechanisms.push(mechanism);
                }
            }
        }
        mechanisms
    }
    /// One line for the terminal: `PIPELINING, SIZE 10240000, STARTTLS, AUTH PLAIN LOGIN, …`.
    pub fn compact(&self) -> String {
        let mut shown: Vec<&Capability> = Vec::new();
        for entry in &self.entries {
            // `AUTH PLAIN` and `AUTH=PLAIN` both become `AUTH PLAIN`; show it once.
            if !shown.contains(&entry) {
                shown.push(entry);
            }
        }
        shown
            .iter()
            .map(|c| {
                let mut s = c.keyword.clone();
                for p in &c.params {
                    s.push(' ');
                    s.push_str(p);
                }
                s
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The first entry for `keyword`, case-insensitive.
    fn find(&self, keyword: &str) -> Option<&Capability> {
        self.entries
            .iter()
            .find(|c| c.keyword.eq_ignore_ascii_case(keyword))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::reply::{Code, Reply};

    fn caps(lines: &[&str]) -> Capabilities {
        Capabilities::from_ehlo(&Reply::new(Code::new(250).unwrap(), None, lines))
    }

    fn postfix() -> Capabilities {
        caps(&[
            "mx.example.org Hello client.example.net",
            "PIPELINING",
            "SIZE 10240000",
            "etrn",
            "STARTTLS",
            "AUTH PLAIN LOGIN",
            "AUTH=PLAIN LOGIN CRAM-MD5",
            "ENHANCEDSTATUSCODES",
            "8BITMIME",
            "DSN",
        ])
    }

    #[test]
    fn regression_escapes_in_keywords_stay_lower_case() {
        // See: an ESC in a capability line was shown as `\X1B`, not the documented `\x1b`.
        let r = Reply {
            code: Code::new(250).unwrap(),
            enhanced: None,
            lines: vec![b"mx".to_vec(), b"x\x1b]0;t\x07 p\x1b".to_vec()],
        };
        let c = Capabilities::from_ehlo(&r);
        assert_eq!(c.entries[0].keyword, "X\\x1b]0;T\\x07");
        assert_eq!(c.entries[0].params, ["p\\x1b"]);
    }

    #[test]
    fn parses_keywords_and_params() {
        let c = postfix();
        assert_eq!(c.greeting, "mx.example.org Hello client.example.net");
        assert_eq!(c.entries.len(), 9);
        assert_eq!(
            c.entries[2],
            Capability {
                keyword: "ETRN".into(),
                params: vec![]
            }
        );
        assert_eq!(
            c.entries[5],
            Capability {
                keyword: "AUTH".into(),
                params: vec!["PLAIN".into(), "LOGIN".into(), "CRAM-MD5".into()]
            }
        );
    }

    #[test]
    fn lookups_are_case_insensitive() {
        let c = postfix();
        assert!(c.has("starttls"));
        assert!(c.has("Etrn"));
        assert!(!c.has("SMTPUTF8"));
        assert_eq!(c.params("size"), Some(&["10240000".to_string()][..]));
        assert_eq!(c.params("PIPELINING"), Some(&[][..]));
        assert_eq!(c.params("CHUNKING"), None);
    }

    #[test]
    fn size() {
        assert_eq!(postfix().size(), Some(10_240_000));
        assert_eq!(caps(&["mx", "SIZE"]).size(), None);
        assert_eq!(caps(&["mx", "SIZE 0"]).size(), Some(0));
        assert_eq!(caps(&["mx", "SIZE lots"]).size(), None);
        assert_eq!(caps(&["mx"]).size(), None);
    }

    #[test]
    fn auth_mechanisms_union_in_order() {
        assert_eq!(postfix().auth_mechanisms(), ["PLAIN", "LOGIN", "CRAM-MD5"]);
        assert_eq!(
            caps(&["mx", "AUTH=login plain"]).auth_mechanisms(),
            ["LOGIN", "PLAIN"]
        );
        assert!(caps(&["mx", "SIZE 1"]).auth_mechanisms().is_empty());
    }

    #[test]
    fn compact() {
        assert_eq!(
            caps(&[
                "mx",
                "PIPELINING",
                "SIZE 10240000",
                "STARTTLS",
                "AUTH PLAIN LOGIN",
                "AUTH=PLAIN LOGIN"
            ])
            .compact(),
            "PIPELINING, SIZE 10240000, STARTTLS, AUTH PLAIN LOGIN"
        );
        assert_eq!(caps(&["mx"]).compact(), "");
    }

    #[test]
    fn odd_lines() {
        let reply = Reply {
            code: Code::new(250).unwrap(),
            enhanced: None,
            lines: vec![
                b"mx \x1b[31m".to_vec(),
                b"".to_vec(),
                b"  X-ODD\xff  a\tb ".to_vec(),
            ],
        };
        let c = Capabilities::from_ehlo(&reply);
        assert_eq!(c.greeting, "mx \\x1b[31m");
        assert_eq!(
            c.entries,
            [Capability {
                keyword: "X-ODD\\xff".into(),
                params: vec!["a".into(), "b".into()]
            }]
        );
    }
}
