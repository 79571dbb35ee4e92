//! The grammar of MAIL and RCPT arguments, checked as a strict receiver should: reverse
//! and forward paths (RFC 5321 §4.1.2, with RFC 6531's UTF-8 where SMTPUTF8 allows it),
//! ESMTP parameters (§4.1.2 `esmtp-param`), SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8
//! (RFC 6531), and the EHLO/HELO argument (§4.1.1.1).
//!
//! Nothing here knows the session: the connection decides which reply each error earns.

use std::net::{Ipv4Addr, Ipv6Addr};

/// RFC 5321 §4.5.3.1.1: a local part is at most 64 octets.
const MAX_LOCAL: usize = 64;
/// RFC 5321 §4.5.3.1.2: a domain is at most 255 octets.
const MAX_DOMAIN: usize = 255;
/// RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its angle brackets.
const MAX_PATH: usize = 256;

/// A mailbox from a path: `local@domain`, or `postmaster` alone (RCPT only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mailbox {
    /// The local part as written (quotes kept).
    pub local: String,
    /// The domain or address literal; `None` for the bare `<postmaster>` of §4.1.1.3.
    pub domain: Option<String>,
}

impl Mailbox {
    /// `local@domain`, as it goes back into replies and the envelope.
    pub fn address(&self) -> String {
        match &self.domain {
            Some(d) => format!("{}@{}", self.local, d),
            None => self.local.clone(),
        }
    }
    /// Whether any of it is outside ASCII (needs SMTPUTF8, RFC 6531 §3.3).
    pub fn is_utf8(&self) -> bool {
        !self.local.is_ascii() || self.domain.as_deref().is_some_and(|d| !d.is_ascii())
    }
}

/// What a MAIL or RCPT argument holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathArg<'a> {
    /// `None` for the null path `<>`.
    pub mailbox: Option<Mailbox>,
    /// `KEY` or `KEY=value`, as written.
    pub params: Vec<(&'a str, Option<&'a str>)>,
}

/// Why a MAIL or RCPT argument is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArgError {
    /// The shape around the path (`FROM:`, `TO:`, `<…>`, parameters): 501 5.5.4.
    Syntax(String),
    /// The address itself: 501 5.1.7 (sender) or 5.1.3 (recipient).
    Address(String),
}

/// Parse `FROM:<path> [params]` (`keyword` = `FROM`) or `TO:<path> [params]`.
/// `null_ok`: `<>` is allowed (MAIL). `postmaster_ok`: bare `<postmaster>` (RCPT).
pub(crate) fn path_arg<'a>(
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
    let prefix_len = keyword.len() + 1;
    let head = arg.get(..prefix_len).ok_or_else(usage)?;
    if !head[..keyword.len()].eq_ignore_ascii_case(keyword) || !head.ends_with(':') {
        return Err(usage());
    }
    let rest = &arg[prefix_len..];
    if !rest.starts_with('<') {
        return Err(usage());
    }
    let close = closing_bracket(rest)
        .ok_or_else(|| ArgError::Syntax("the address has no closing '>'".to_string()))?;
    let path = &rest[..=close];
    let after = &rest[close + 1..];
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
    let inner = &path[1..path.len() - 1];
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
        Some(mailbox(strip_route(inner)?).map_err(ArgError::Address)?)
    };
    let params = after
        .split(' ')
        .filter(|p| !p.is_empty())
        .map(param)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PathArg { mailbox, params })
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
/// checks SMTPUTF8).
pub(crate) fn mailbox(s: &str) -> Result<Mailbox, String> {
    let (local, domain) = if s.starts_with('"') {
        let end = quoted_end(s).ok_or("unterminated quoted local part")?;
        (&s[..end], &s[end..])
    } else {
        let at = s.find('@').ok_or("the address has no '@domain'")?;
        let local = &s[..at];
        if !is_dot_string(local) {
            return Err(format!(
                "the local part {local:?} is not valid (letters, digits and !#$%&'*+-/=?^_`{{|}}~ with single dots between)"
            ));
        }
        (local, &s[at..])
    };
    let Some(domain) = domain.strip_prefix('@') else {
        return Err("the address has no '@domain'".to_string());
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
pub(crate) fn is_domain(s: &str, underscore: bool) -> bool {
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
pub(crate) fn is_address_literal(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return false;
    };
    if let Some(v6) = inner
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("IPv6:"))
        .map(|_| &inner[5..])
    {
        return v6.parse::<Ipv6Addr>().is_ok();
    }
    if inner.parse::<Ipv4Addr>().is_ok() {
        return true;
    }
    // General-address-literal = Standardized-tag ":" 1*dcontent
    match inner.split_once(':') {
        Some((tag, content)) => {
            is_domain(tag, false)
                && !tag.contains('.')
                && !content.is_empty()
                && content
                    .bytes()
                    .all(|b| (33..=90).contains(&b) || (94..=126).contains(&b))
        }
        None => false,
    }
}

/// The argument of EHLO or HELO: a domain (`_` tolerated, as real hosts have them) or an
/// address literal.
pub(crate) fn is_helo_name(s: &str) -> bool {
    is_domain(s, true) || is_address_literal(s)
}

/// `esmtp-param = esmtp-keyword ["=" esmtp-value]` (RFC 5321 §4.1.2).
fn param(p: &str) -> Result<(&str, Option<&str>), ArgError> {
    let (key, value) = match p.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (p, None),
    };
    // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
    let key_ok = key
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    // esmtp-value = 1*(%d33-60 / %d62-126), and UTF-8 under RFC 6531
    let value_ok = value.is_none_or(|v| {
        !v.is_empty()
            && v.chars()
                .all(|c| (('!'..='~').contains(&c) && c != '=') || is_utf8_char(c))
    });
    if key_ok && value_ok {
        Ok((key, value))
    } else {
        Err(ArgError::Syntax(format!(
            "malformed parameter {p:?} (expected KEYWORD or KEYWORD=value)"
        )))
    }
}

/// The BODY parameter (RFC 6152).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body {
    /// BODY=7BIT
    SevenBit,
    /// BODY=8BITMIME
    EightBitMime,
}

/// The parameters MAIL understands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MailParams {
    /// SIZE=n (RFC 1870); a number too big for u64 reads as `u64::MAX`.
    pub size: Option<u64>,
    /// BODY=…
    pub body: Option<Body>,
    /// SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
}

/// Why MAIL's parameters are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParamError {
    /// A known parameter with a bad value, or twice: 501 5.5.4.
    Bad(String),
    /// A parameter this server does not know: 555 5.5.4 (RFC 5321 §4.1.1.11).
    Unknown(String),
}

/// Check MAIL's parameters.
pub(crate) fn mail_params(params: &[(&str, Option<&str>)]) -> Result<MailParams, ParamError> {
    let mut out = MailParams::default();
    let mut seen: Vec<String> = Vec::new();
    for &(key, value) in params {
        let upper = key.to_ascii_uppercase();
        if seen.contains(&upper) {
            return Err(ParamError::Bad(format!("{upper} given twice")));
        }
        seen.push(upper.clone());
        match (upper.as_str(), value) {
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
            _ => {
                return Err(ParamError::Unknown(format!(
                    "parameter {key} is not supported (this server knows SIZE, BODY and SMTPUTF8)"
                )));
            }
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
            let got = path_arg(arg, "FROM", true, false).unwrap_or_else(|e| panic!("{arg}: {e:?}"));
            assert_eq!(&got.mailbox, want, "{arg}");
            assert_eq!(got.params, *params, "{arg}");
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
                matches!(path_arg(arg, "FROM", true, false), Err(ArgError::Syntax(_))),
                "{arg}: {:?}",
                path_arg(arg, "FROM", true, false)
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
                matches!(
                    path_arg(arg, "FROM", true, false),
                    Err(ArgError::Address(_))
                ),
                "{arg}: {:?}",
                path_arg(arg, "FROM", true, false)
            );
        }
        assert!(matches!(
            path_arg("TO:<>", "TO", false, true),
            Err(ArgError::Address(_))
        ));
    }

    #[test]
    fn limits_on_lengths() {
        let local = "l".repeat(64);
        assert!(path_arg(&format!("TO:<{local}@x.org>"), "TO", false, false).is_ok());
        let local = "l".repeat(65);
        assert!(matches!(
            path_arg(&format!("TO:<{local}@x.org>"), "TO", false, false),
            Err(ArgError::Address(_))
        ));
        let label = "d".repeat(64);
        assert!(path_arg(&format!("TO:<a@{label}.org>"), "TO", false, false).is_err());
        let domain = vec!["d".repeat(60); 5].join(".");
        assert!(matches!(
            path_arg(&format!("TO:<a@{domain}>"), "TO", false, false),
            Err(ArgError::Address(_))
        ));
    }

    #[test]
    fn postmaster_alone_is_for_rcpt() {
        let got = path_arg("TO:<Postmaster>", "TO", false, true).unwrap();
        assert_eq!(got.mailbox.unwrap().address(), "Postmaster");
    }

    #[test]
    fn utf8_is_noticed() {
        let m = mailbox("δ@x.org").unwrap();
        assert!(m.is_utf8());
        assert!(mailbox("a@παράδειγμα.org").unwrap().is_utf8());
        assert!(!mailbox("a@x.org").unwrap().is_utf8());
        assert!(mailbox("a\u{85}b@x.org").is_err(), "C1 control");
    }

    #[test]
    fn params() {
        let p = |s: &[(&str, Option<&str>)]| mail_params(s);
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
        assert!(matches!(
            p(&[("RET", Some("HDRS"))]),
            Err(ParamError::Unknown(_))
        ));
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
}
