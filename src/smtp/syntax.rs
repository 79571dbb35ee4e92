//! The grammar of the arguments of MAIL, RCPT and EHLO/HELO, one definition for the
//! client's checks and the practice server's strictness: reverse and forward paths (RFC 5321
//! §4.1.2, with RFC 6531's UTF-8 where SMTPUTF8 allows it), ESMTP parameters (§4.1.2
//! `esmtp-param`), the MAIL parameters SIZE (RFC 1870), BODY (RFC 6152) and SMTPUTF8
//! (RFC 6531), and the EHLO/HELO name (§4.1.1.1).
//!
//! An argument is read one of two ways:
//!
//! - **strictly** ([`parse_mail_arg`], [`parse_rcpt_arg`], [`parse_helo_arg`]), as a
//!   receiver checks it: the error says why, and whether it is the shape
//!   ([`ArgError::Syntax`], 501 5.5.4) or the address ([`ArgError::Address`], 501 5.1.7 or
//!   5.1.3);
//! - **leniently** ([`scan_path_arg`]), as a client reads a line a person typed: the path as
//!   written and the parameters, whatever the shape. smtpsh is a debugging shell and sends a
//!   malformed MAIL line typed on purpose; it still needs that line's parameters for its
//!   SMTPUTF8 and DSN checks.
//!
//! Both take the argument only (`FROM:<a@b> SIZE=10`, without the verb and the space after
//! it), borrow from it, and never slice text except at the ASCII delimiters they found in it,
//! so no input makes them panic. Nothing here knows the session: callers decide which reply
//! or warning each result earns.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// RFC 5321 §4.5.3.1.1: a local part is at most 64 octets.
const MAX_LOCAL: usize = 64;
/// RFC 5321 §4.5.3.1.2: a domain is at most 255 octets.
const MAX_DOMAIN: usize = 255;
/// RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its angle brackets.
const MAX_PATH: usize = 256;

/// A mailbox from a path: `local@domain`, or `postmaster` alone (RCPT only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The local part as written (quotes kept).
    pub local: String,
    /// The domain or address literal; `None` for the bare `<postmaster>` of §4.1.1.3.
    pub domain: Option<String>,
}

impl Mailbox {
    /// `local@domain`, as it goes back into replies and the envelope.
    pub fn address(&self) -> String {
        self.to_string()
    }
    /// Whether any of it is outside ASCII (needs SMTPUTF8, RFC 6531 §3.3).
    pub fn is_utf8(&self) -> bool {
        !self.local.is_ascii() || self.domain.as_deref().is_some_and(|d| !d.is_ascii())
    }
}

impl fmt::Display for Mailbox {
    /// `local@domain`, or the local part alone for `postmaster`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.domain {
            Some(d) => write!(f, "{}@{}", self.local, d),
            None => f.write_str(&self.local),
        }
    }
}

/// One ESMTP parameter, `KEYWORD` or `KEYWORD=value`, as written (RFC 5321 §4.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// The keyword, case as written.
    pub keyword: &'a str,
    /// The value after the first `=`, if there is one.
    pub value: Option<&'a str>,
}

impl<'a> Param<'a> {
    /// Split a word at its first `=`, without judging it.
    pub fn split(word: &'a str) -> Param<'a> {
        match word.split_once('=') {
            Some((keyword, value)) => Param {
                keyword,
                value: Some(value),
            },
            None => Param {
                keyword: word,
                value: None,
            },
        }
    }
    /// Whether this is `keyword` (ESMTP keywords are case-insensitive).
    pub fn is(&self, keyword: &str) -> bool {
        self.keyword.eq_ignore_ascii_case(keyword)
    }
}

impl fmt::Display for Param<'_> {
    /// The wire form: `KEYWORD` or `KEYWORD=value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value {
            Some(v) => write!(f, "{}={v}", self.keyword),
            None => f.write_str(self.keyword),
        }
    }
}

/// A MAIL or RCPT argument that passed the strict grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathArg<'a> {
    /// `FROM` or `TO`, case as written.
    pub keyword: &'a str,
    /// The path as written, angle brackets and any source route included: `<a@b>`, `<>`.
    pub path: &'a str,
    /// The mailbox; `None` for the null path `<>`.
    pub mailbox: Option<Mailbox>,
    /// The parameters, each checked against `esmtp-param`.
    pub params: Vec<Param<'a>>,
}

impl PathArg<'_> {
    /// The parameter named `keyword` (case-insensitive), if given.
    pub fn param(&self, keyword: &str) -> Option<&Param<'_>> {
        self.params.iter().find(|p| p.is(keyword))
    }
}

impl fmt::Display for PathArg<'_> {
    /// The wire form: `FROM:<path>` and each parameter after one space.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.keyword, self.path)?;
        self.params.iter().try_for_each(|p| write!(f, " {p}"))
    }
}

/// Why a MAIL, RCPT or EHLO argument is refused; `Display` is the reason alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// The shape around the path (`FROM:`, `<…>`, parameters), or an EHLO name: 501 5.5.4.
    #[error("{0}")]
    Syntax(String),
    /// The address itself: 501 5.1.7 (sender) or 5.1.3 (recipient).
    #[error("{0}")]
    Address(String),
}

/// MAIL's argument, strictly: `FROM:<reverse-path> [params]`, the null path `<>` allowed,
/// no space after the colon (RFC 5321 §4.1.1.2, §4.1.2).
pub fn parse_mail_arg(arg: &str) -> Result<PathArg<'_>, ArgError> {
    path_arg(arg, "FROM", true, false)
}

/// RCPT's argument, strictly: `TO:<forward-path> [params]`, or the bare `<postmaster>` of
/// RFC 5321 §4.1.1.3.
pub fn parse_rcpt_arg(arg: &str) -> Result<PathArg<'_>, ArgError> {
    path_arg(arg, "TO", false, true)
}

/// EHLO's or HELO's argument, strictly: a domain (`_` tolerated, as real hosts have them)
/// or an address literal (RFC 5321 §4.1.1.1). Returns the name.
pub fn parse_helo_arg(arg: &str) -> Result<&str, ArgError> {
    if is_helo_name(arg) {
        Ok(arg)
    } else {
        Err(ArgError::Syntax(
            "the name is not a domain or an address literal such as [192.0.2.1]".to_string(),
        ))
    }
}

/// `FROM:<path> [params]` (`keyword` = `FROM`) or `TO:<path> [params]`.
/// `null_ok`: `<>` is allowed (MAIL). `postmaster_ok`: bare `<postmaster>` (RCPT).
fn path_arg<'a>(
    arg: &'a str,
    keyword: &str,
    null_ok: bool,
    postmaster_ok: bool,
) -> Result<PathArg<'a>, ArgError> {
    let usage = || {
        ArgError::Syntax(format!(
            "Syntax: {keyword}:<address> with no space after the colon"
        ))
    };
    let (written, rest) = arg.split_once(':').ok_or_else(usage)?;
    if !written.eq_ignore_ascii_case(keyword) || !rest.starts_with('<') {
        return Err(usage());
    }
    let close = closing_bracket(rest)
        .ok_or_else(|| ArgError::Syntax("the address has no closing '>'".to_string()))?;
    // `close` indexes the ASCII `>`, so the split is at a character boundary.
    let (path, after) = rest.split_at_checked(close + 1).ok_or_else(usage)?;
    if !after.is_empty() && !after.starts_with(' ') {
        return Err(ArgError::Syntax(
            "a space must separate the address from parameters".to_string(),
        ));
    }
    if path.len() > MAX_PATH {
        return Err(ArgError::Address(format!(
            "the address is over {MAX_PATH} octets (RFC 5321 §4.5.3.1.3)"
        )));
    }
    let inner = path
        .strip_prefix('<')
        .and_then(|p| p.strip_suffix('>'))
        .unwrap_or_default();
    let mailbox = if inner.is_empty() {
        if !null_ok {
            return Err(ArgError::Address(
                "the null address <> is only for MAIL FROM".to_string(),
            ));
        }
        None
    } else if postmaster_ok && inner.eq_ignore_ascii_case("postmaster") {
        Some(Mailbox {
            local: inner.to_string(),
            domain: None,
        })
    } else {
        Some(parse_mailbox(strip_route(inner)?).map_err(ArgError::Address)?)
    };
    let params = after
        .split(' ')
        .filter(|p| !p.is_empty())
        .map(param)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PathArg {
        keyword: written,
        path,
        mailbox,
        params,
    })
}

/// A MAIL or RCPT argument read leniently (see [`scan_path_arg`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LooseArg<'a> {
    /// The path as written: `<…>` when it opens with `<`, else the word where the path
    /// should be; empty when there is none.
    pub path: &'a str,
    /// The words after the path, each split at its first `=`, unchecked.
    pub params: Vec<Param<'a>>,
}

impl LooseArg<'_> {
    /// The parameter named `keyword` (case-insensitive), if given.
    pub fn param(&self, keyword: &str) -> Option<&Param<'_>> {
        self.params.iter().find(|p| p.is(keyword))
    }
}

/// Read a MAIL or RCPT argument the way a client needs it, whatever its shape: the path is
/// the `<…>` after the keyword's colon (quoted strings may hold `>`), or the word there when
/// there are no brackets (`FROM: a@b`, `FROM a@b`); the parameters are the words after it.
/// Never fails: [`parse_mail_arg`] and [`parse_rcpt_arg`] say what is wrong.
pub fn scan_path_arg(arg: &str) -> LooseArg<'_> {
    let blank = [' ', '\t'];
    let arg = arg.trim_start_matches(blank);
    let rest = match arg.split_once(':') {
        Some((keyword, rest)) if !keyword.contains([' ', '\t', '<']) => rest,
        // No `KEYWORD:`: the path is the word after the first one.
        _ => arg.split_once(blank).map_or("", |(_, rest)| rest),
    };
    let rest = rest.trim_start_matches(blank);
    let end = rest
        .starts_with('<')
        .then(|| closing_bracket(rest).map(|i| i + 1))
        .flatten()
        .or_else(|| rest.find(blank))
        .unwrap_or(rest.len());
    // `end` is just past an ASCII `>` or at an ASCII blank: a character boundary.
    let (path, after) = rest.split_at_checked(end).unwrap_or((rest, ""));
    LooseArg {
        path,
        params: after
            .split(blank)
            .filter(|w| !w.is_empty())
            .map(Param::split)
            .collect(),
    }
}

/// The index of the `>` that closes the path at `s[0]`, skipping quoted strings.
fn closing_bracket(s: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// Drop an RFC 5321 source route (`@a,@b:user@c`): §4.1.1.3 says to accept and ignore it.
fn strip_route(inner: &str) -> Result<&str, ArgError> {
    if !inner.starts_with('@') {
        return Ok(inner);
    }
    let bad = || ArgError::Address("malformed source route".to_string());
    let (route, rest) = inner.split_once(':').ok_or_else(bad)?;
    for hop in route.split(',') {
        let domain = hop.strip_prefix('@').ok_or_else(bad)?;
        if !is_domain(domain, false) {
            return Err(bad());
        }
    }
    Ok(rest)
}

/// `local-part "@" (domain / address-literal)`, RFC 5321 §4.1.2, UTF-8 allowed (the caller
/// checks SMTPUTF8). The error says what is wrong, for a reply.
pub fn parse_mailbox(s: &str) -> Result<Mailbox, String> {
    let no_domain = || "the address has no '@domain'".to_string();
    let (local, domain) = if s.starts_with('"') {
        let end = quoted_end(s).ok_or("unterminated quoted local part")?;
        // `end` is just past an ASCII `"`: a character boundary.
        let (local, rest) = s.split_at_checked(end).ok_or_else(no_domain)?;
        (local, rest.strip_prefix('@').ok_or_else(no_domain)?)
    } else {
        let (local, domain) = s.split_once('@').ok_or_else(no_domain)?;
        if !is_dot_string(local) {
            return Err(format!(
                "the local part {local:?} is not valid (letters, digits and !#$%&'*+-/=?^_`{{|}}~ with single dots between)"
            ));
        }
        (local, domain)
    };
    if local.len() > MAX_LOCAL {
        return Err(format!(
            "the local part is over {MAX_LOCAL} octets (RFC 5321 §4.5.3.1.1)"
        ));
    }
    if domain.len() > MAX_DOMAIN {
        return Err(format!(
            "the domain is over {MAX_DOMAIN} octets (RFC 5321 §4.5.3.1.2)"
        ));
    }
    if !(is_domain(domain, false) || is_address_literal(domain)) {
        return Err(format!("the domain {domain:?} is not valid"));
    }
    Ok(Mailbox {
        local: local.to_string(),
        domain: Some(domain.to_string()),
    })
}

/// The end (exclusive) of a quoted string at the start of `s`, or `None`.
fn quoted_end(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        if escaped {
            // quoted-pairSMTP = "\" %d32-126
            if !(' '..='~').contains(&c) {
                return None;
            }
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            return Some(i + 1);
        } else if !(c == ' ' || c == '!' || ('#'..='~').contains(&c) || is_utf8_char(c)) {
            // qtextSMTP = %d32-33 / %d35-91 / %d93-126 (and UTF-8, RFC 6531)
            return None;
        }
    }
    None
}

/// Non-ASCII and not a control character (RFC 6531's UTF8-non-ascii, minus C1 controls).
fn is_utf8_char(c: char) -> bool {
    !c.is_ascii() && !c.is_control()
}

/// `atext` of RFC 5322 §3.2.3, extended to UTF-8 by RFC 6531.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || is_utf8_char(c)
}

/// `Dot-string = Atom *("." Atom)`.
fn is_dot_string(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

/// `Domain = sub-domain *("." sub-domain)`, each `Let-dig [Ldh-str]` of at most 63 octets;
/// UTF-8 letters allowed (U-labels, RFC 6531). `underscore`: tolerate `_` (EHLO names).
pub fn is_domain(s: &str, underscore: bool) -> bool {
    let letter = |c: char| c.is_ascii_alphanumeric() || is_utf8_char(c);
    !s.is_empty()
        && s.len() <= MAX_DOMAIN
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| letter(c) || c == '-' || (underscore && c == '_'))
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// `address-literal = "[" ( IPv4 / IPv6 / General ) "]"` (RFC 5321 §4.1.3).
pub fn is_address_literal(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return false;
    };
    if let Some(v6) = inner
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("IPv6:"))
        .and_then(|_| inner.get(5..))
    {
        return v6.parse::<Ipv6Addr>().is_ok();
    }
    if inner.parse::<Ipv4Addr>().is_ok() {
        return true;
    }
    // General-address-literal = Standardized-tag ":" 1*dcontent; the tag is an Ldh-str,
    // ASCII only (RFC 6531 extends domains, not tags).
    match inner.split_once(':') {
        Some((tag, content)) => {
            tag.is_ascii()
                && is_domain(tag, false)
                && !tag.contains('.')
                && !content.is_empty()
                && content
                    .bytes()
                    .all(|b| (33..=90).contains(&b) || (94..=126).contains(&b))
        }
        None => false,
    }
}

/// Whether `s` can follow EHLO or HELO: a domain (`_` tolerated) or an address literal.
pub fn is_helo_name(s: &str) -> bool {
    is_domain(s, true) || is_address_literal(s)
}

/// `esmtp-param = esmtp-keyword ["=" esmtp-value]` (RFC 5321 §4.1.2).
fn param(word: &str) -> Result<Param<'_>, ArgError> {
    let p = Param::split(word);
    // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
    let key_ok = p
        .keyword
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && p.keyword
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    // esmtp-value = 1*(%d33-60 / %d62-126), and UTF-8 under RFC 6531
    let value_ok = p.value.is_none_or(|v| {
        !v.is_empty()
            && v.chars()
                .all(|c| (('!'..='~').contains(&c) && c != '=') || is_utf8_char(c))
    });
    if key_ok && value_ok {
        Ok(p)
    } else {
        Err(ArgError::Syntax(format!(
            "malformed parameter {word:?} (expected KEYWORD or KEYWORD=value)"
        )))
    }
}

/// The BODY parameter (RFC 6152).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// BODY=7BIT
    SevenBit,
    /// BODY=8BITMIME
    EightBitMime,
}

/// The MAIL parameters of a server that offers SIZE, 8BITMIME and SMTPUTF8.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    /// SIZE=n (RFC 1870); a number too big for u64 reads as `u64::MAX`.
    pub size: Option<u64>,
    /// BODY=…
    pub body: Option<Body>,
    /// SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
}

/// Why MAIL's parameters are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamError {
    /// A known parameter with a bad value, or twice: 501 5.5.4. The reason.
    Bad(String),
    /// A parameter other than SIZE, BODY and SMTPUTF8: 555 5.5.4 (RFC 5321 §4.1.1.11).
    /// The keyword as written.
    Unknown(String),
}

/// Read MAIL's parameters as a server offering SIZE, 8BITMIME and SMTPUTF8 does.
pub fn mail_params(params: &[Param<'_>]) -> Result<MailParams, ParamError> {
    let mut out = MailParams::default();
    let mut seen: Vec<String> = Vec::new();
    for p in params {
        let upper = p.keyword.to_ascii_uppercase();
        if seen.contains(&upper) {
            return Err(ParamError::Bad(format!("{upper} given twice")));
        }
        seen.push(upper.clone());
        match (upper.as_str(), p.value) {
            ("SIZE", Some(v)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                out.size = Some(v.parse().unwrap_or(u64::MAX));
            }
            ("SIZE", _) => {
                return Err(ParamError::Bad(
                    "SIZE needs a number of octets: SIZE=12345".to_string(),
                ));
            }
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => out.body = Some(Body::SevenBit),
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => {
                out.body = Some(Body::EightBitMime);
            }
            ("BODY", _) => {
                return Err(ParamError::Bad(
                    "BODY must be 7BIT or 8BITMIME (BINARYMIME is not offered)".to_string(),
                ));
            }
            ("SMTPUTF8", None) => out.smtputf8 = true,
            ("SMTPUTF8", Some(_)) => {
                return Err(ParamError::Bad("SMTPUTF8 takes no value".to_string()));
            }
            _ => return Err(ParamError::Unknown(p.keyword.to_string())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(local: &str, domain: &str) -> Option<Mailbox> {
        Some(Mailbox {
            local: local.to_string(),
            domain: Some(domain.to_string()),
        })
    }

    #[test]
    fn mail_paths() {
        type Case<'a> = (&'a str, Option<Mailbox>, &'a [(&'a str, Option<&'a str>)]);
        let ok: &[Case] = &[
            ("FROM:<a@example.org>", mb("a", "example.org"), &[]),
            ("from:<a@example.org>", mb("a", "example.org"), &[]),
            ("FROM:<>", None, &[]),
            (
                "FROM:<a.b+c@x.example> SIZE=100 BODY=8BITMIME",
                mb("a.b+c", "x.example"),
                &[("SIZE", Some("100")), ("BODY", Some("8BITMIME"))],
            ),
            ("FROM:<a@b>  SMTPUTF8 ", mb("a", "b"), &[("SMTPUTF8", None)]),
            ("FROM:<\"a b>c\"@x.org>", mb("\"a b>c\"", "x.org"), &[]),
            ("FROM:<\"a\\\"b\"@x.org>", mb("\"a\\\"b\"", "x.org"), &[]),
            (
                "FROM:<@relay.example,@r2.example:a@x.org>",
                mb("a", "x.org"),
                &[],
            ),
            ("FROM:<a@[192.0.2.1]>", mb("a", "[192.0.2.1]"), &[]),
            (
                "FROM:<a@[IPv6:2001:db8::1]>",
                mb("a", "[IPv6:2001:db8::1]"),
                &[],
            ),
            ("FROM:<a@[x-tag:stuff]>", mb("a", "[x-tag:stuff]"), &[]),
            (
                "FROM:<δοκιμή@παράδειγμα.δοκιμή>",
                mb("δοκιμή", "παράδειγμα.δοκιμή"),
                &[],
            ),
            ("FROM:<a@localhost>", mb("a", "localhost"), &[]),
        ];
        for (arg, want, params) in ok {
            let got = parse_mail_arg(arg).unwrap_or_else(|e| panic!("{arg}: {e:?}"));
            assert_eq!(&got.mailbox, want, "{arg}");
            let got_params: Vec<_> = got.params.iter().map(|p| (p.keyword, p.value)).collect();
            assert_eq!(got_params, *params, "{arg}");
            // `Display` is the wire form, and reads back the same.
            let wire = got.to_string();
            assert_eq!(parse_mail_arg(&wire).as_ref(), Ok(&got), "{arg} -> {wire}");
        }
    }

    #[test]
    fn bad_paths() {
        let syntax = [
            "",
            "FROM",
            "FROM:",
            "FROM: <a@b>",
            "FROM <a@b>",
            "FROM:a@b",
            "TO:<a@b>",
            "FROM:<a@b",
            "FROM:<a@b>SIZE=1",
            "FROM:<\"unterminated@b>",
            "FROM:<a@b> =1",
            "FROM:<a@b> -X=1",
            "FROM:<a@b> SIZE=",
            "FROM:<a@b> X=a=b",
            "FRO",
        ];
        for arg in syntax {
            assert!(
                matches!(parse_mail_arg(arg), Err(ArgError::Syntax(_))),
                "{arg}: {:?}",
                parse_mail_arg(arg)
            );
        }
        let address = [
            "FROM:<a>",
            "FROM:<a@>",
            "FROM:<@b>",
            "FROM:<a..b@c>",
            "FROM:<.a@c>",
            "FROM:<a.@c>",
            "FROM:<a b@c>",
            "FROM:<a@b..c>",
            "FROM:<a@-b.c>",
            "FROM:<a@b-.c>",
            "FROM:<a@b_c>",
            "FROM:<a@b c>",
            "FROM:<a@[300.1.1.1]>",
            "FROM:<a@[IPv6:xyz]>",
            "FROM:<a@[1.2.3.4>",
            "FROM:<\"a\"b@c>",
            "FROM:<a@b@c>",
            "FROM:<@r:a>",
            "FROM:<@:a@b>",
            "FROM:<postmaster>",
        ];
        for arg in address {
            assert!(
                matches!(parse_mail_arg(arg), Err(ArgError::Address(_))),
                "{arg}: {:?}",
                parse_mail_arg(arg)
            );
        }
        assert!(matches!(parse_rcpt_arg("TO:<>"), Err(ArgError::Address(_))));
    }

    #[test]
    fn limits_on_lengths() {
        let local = "l".repeat(64);
        assert!(parse_rcpt_arg(&format!("TO:<{local}@x.org>")).is_ok());
        let local = "l".repeat(65);
        assert!(matches!(
            parse_rcpt_arg(&format!("TO:<{local}@x.org>")),
            Err(ArgError::Address(_))
        ));
        let label = "d".repeat(64);
        assert!(parse_rcpt_arg(&format!("TO:<a@{label}.org>")).is_err());
        let domain = vec!["d".repeat(60); 5].join(".");
        assert!(matches!(
            parse_rcpt_arg(&format!("TO:<a@{domain}>")),
            Err(ArgError::Address(_))
        ));
    }

    #[test]
    fn postmaster_alone_is_for_rcpt() {
        let got = parse_rcpt_arg("TO:<Postmaster>").unwrap();
        assert_eq!(got.mailbox.unwrap().address(), "Postmaster");
    }

    #[test]
    fn utf8_is_noticed() {
        let m = parse_mailbox("δ@x.org").unwrap();
        assert!(m.is_utf8());
        assert!(parse_mailbox("a@παράδειγμα.org").unwrap().is_utf8());
        assert!(!parse_mailbox("a@x.org").unwrap().is_utf8());
        assert!(parse_mailbox("a\u{85}b@x.org").is_err(), "C1 control");
    }

    #[test]
    fn params() {
        let p = |s: &[(&str, Option<&str>)]| {
            let params: Vec<Param> = s
                .iter()
                .map(|&(keyword, value)| Param { keyword, value })
                .collect();
            mail_params(&params)
        };
        assert_eq!(
            p(&[
                ("size", Some("100")),
                ("Body", Some("7bit")),
                ("SMTPUTF8", None)
            ]),
            Ok(MailParams {
                size: Some(100),
                body: Some(Body::SevenBit),
                smtputf8: true
            })
        );
        assert_eq!(
            p(&[("SIZE", Some("99999999999999999999999"))])
                .unwrap()
                .size,
            Some(u64::MAX)
        );
        for bad in [
            &[("SIZE", None)][..],
            &[("SIZE", Some("1x"))],
            &[("SIZE", Some("-1"))],
            &[("BODY", Some("BINARYMIME"))],
            &[("BODY", None)],
            &[("SMTPUTF8", Some("yes"))],
            &[("SIZE", Some("1")), ("size", Some("2"))],
        ] {
            assert!(matches!(p(bad), Err(ParamError::Bad(_))), "{bad:?}");
        }
        assert_eq!(
            p(&[("Ret", Some("HDRS"))]),
            Err(ParamError::Unknown("Ret".to_string()))
        );
    }

    #[test]
    fn helo_names() {
        for ok in [
            "client.example.net",
            "localhost",
            "my_host.local",
            "[127.0.0.1]",
            "[IPv6:::1]",
            "a1b2c3d4e5f6",
        ] {
            assert!(is_helo_name(ok), "{ok}");
        }
        for bad in ["", "a b", "-x", "x..y", "[127.0.0.1", "a@b", "x.", "[]"] {
            assert!(!is_helo_name(bad), "{bad}");
        }
    }

    // `MAIL FROé` panicked the practice server's connection thread: the keyword was cut by
    // byte index through the `é`. Every cut of a multi-byte character near a delimiter is
    // an ordinary error.
    // See: issue 12
    #[test]
    fn regression_non_ascii_where_the_keyword_is_is_a_syntax_error() {
        for arg in [
            "FROé",
            "FRé",
            "FROMé",
            "é",
            "FROM\u{301}:<a@b>",
            "ФROM:<a@b>",
            "FROM:é",
            "FROM:<é",
            "FROM:<a@b>é",
            "FROM:<a@b> é",
            "FROM:<a@b> SIZEé=1",
            "FROM:<a@b> SIZE=é=",
        ] {
            assert!(
                matches!(parse_mail_arg(arg), Err(ArgError::Syntax(_))),
                "{arg}: {:?}",
                parse_mail_arg(arg)
            );
        }
        for arg in ["Té", "TOé", "é:<a@b>"] {
            assert!(
                matches!(parse_rcpt_arg(arg), Err(ArgError::Syntax(_))),
                "{arg}"
            );
        }
        for arg in [
            "FROM:<é>",
            "FROM:<\"é\"x@b>",
            "FROM:<a@[IPvé:1]>",
            "FROM:<a@[é]>",
            "FROM:<a@[IPéé:1]>",
            "FROM:<@é.:a@b>",
            "FROM:<a@é.>",
        ] {
            assert!(
                matches!(parse_mail_arg(arg), Err(ArgError::Address(_))),
                "{arg}: {:?}",
                parse_mail_arg(arg)
            );
        }
        assert!(parse_helo_arg("[IPvé:1]").is_err());
        assert!(parse_helo_arg("é.example").is_ok(), "a U-label");
    }

    #[test]
    fn lenient_scan_finds_path_and_params_whatever_the_shape() {
        type Case<'a> = (&'a str, &'a str, &'a [(&'a str, Option<&'a str>)]);
        let cases: &[Case] = &[
            ("FROM:<a@b>", "<a@b>", &[]),
            (
                "FROM:<a@b> SIZE=10 SMTPUTF8",
                "<a@b>",
                &[("SIZE", Some("10")), ("SMTPUTF8", None)],
            ),
            ("from: <a@b>  RET=HDRS", "<a@b>", &[("RET", Some("HDRS"))]),
            ("FROM <a@b> RET=HDRS", "<a@b>", &[("RET", Some("HDRS"))]),
            ("FROM:a@b NOTIFY=NEVER", "a@b", &[("NOTIFY", Some("NEVER"))]),
            ("FROM:<a@b>SIZE=1", "<a@b>", &[("SIZE", Some("1"))]),
            (
                "FROM:<\"x> y\"@b> ENVID=a=b",
                "<\"x> y\"@b>",
                &[("ENVID", Some("a=b"))],
            ),
            ("FROM:<a@b SIZE=1", "<a@b", &[("SIZE", Some("1"))]),
            (
                "TO:<@r:c@d> ORCPT=rfc822;c@d",
                "<@r:c@d>",
                &[("ORCPT", Some("rfc822;c@d"))],
            ),
            ("\tFROM:<a@b>\tX", "<a@b>", &[("X", None)]),
            ("FROé", "", &[]),
            (
                "FROM:<grüße@test> SMTPUTF8",
                "<grüße@test>",
                &[("SMTPUTF8", None)],
            ),
            ("", "", &[]),
            ("FROM:", "", &[]),
        ];
        for &(arg, path, params) in cases {
            let got = scan_path_arg(arg);
            let got_params: Vec<_> = got.params.iter().map(|p| (p.keyword, p.value)).collect();
            assert_eq!((got.path, &got_params[..]), (path, params), "{arg:?}");
        }
        let loose = scan_path_arg("FROM:<a@b> smtputf8");
        assert_eq!(loose.param("SMTPUTF8").map(|p| p.keyword), Some("smtputf8"));
        assert_eq!(loose.param("SIZE"), None);
    }

    #[test]
    fn strict_and_lenient_agree_on_valid_arguments() {
        for arg in [
            "FROM:<a@b> SIZE=1 BODY=8BITMIME",
            "FROM:<> RET=HDRS",
            "FROM:<\"a > b\"@x.org> X",
            "FROM:<@r1,@r2:a@b>",
        ] {
            let strict = parse_mail_arg(arg).unwrap();
            let loose = scan_path_arg(arg);
            assert_eq!(
                (strict.path, &strict.params),
                (loose.path, &loose.params),
                "{arg}"
            );
        }
    }

    #[test]
    fn wire_forms() {
        let arg = parse_rcpt_arg("to:<Postmaster>").unwrap();
        assert_eq!(arg.to_string(), "to:<Postmaster>");
        let arg = parse_mail_arg("FROM:<a@b>   SIZE=1  SMTPUTF8").unwrap();
        assert_eq!(arg.to_string(), "FROM:<a@b> SIZE=1 SMTPUTF8");
        assert_eq!(arg.param("size").and_then(|p| p.value), Some("1"));
        assert_eq!(Param::split("A=b=c").to_string(), "A=b=c");
        assert_eq!(
            ArgError::Syntax("why".into()).to_string(),
            "why",
            "Display is the reason alone"
        );
    }
}
