//! EHLO capabilities (RFC 5321 §4.1.1.1): each keyword with its parameters.

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
        todo!("{reply:?}")
    }
    /// Whether `keyword` was advertised (case-insensitive).
    pub fn has(&self, keyword: &str) -> bool {
        todo!("{keyword}")
    }
    /// The parameters of `keyword`, if advertised.
    pub fn params(&self, keyword: &str) -> Option<&[String]> {
        todo!("{keyword}")
    }
    /// The SIZE limit, if advertised with a number (0 means no limit, RFC 1870).
    pub fn size(&self) -> Option<u64> {
        todo!()
    }
    /// AUTH mechanisms, upper-cased, from `AUTH` and `AUTH=` lines, without duplicates.
    pub fn auth_mechanisms(&self) -> Vec<String> {
        todo!()
    }
    /// One line for the terminal: `PIPELINING, SIZE 10240000, STARTTLS, AUTH PLAIN LOGIN, …`.
    pub fn compact(&self) -> String {
        todo!()
    }
}
