//! MTA-STS (RFC 8461): the `_mta-sts.DOMAIN` TXT record (§3.1), the policy text served at
//! `https://mta-sts.DOMAIN/.well-known/mta-sts.txt` (§3.2), the MX patterns and how they match
//! host names (§4.1), and the report that puts them beside a domain's MX hosts and the
//! connected host's certificate. The record and policy parsers take outside text and are
//! fuzzed; fetching the policy is `net::fetch`'s job.
//!
//! Where RFC 8461 tells a sender to be lenient, the parser is, and says so: unknown policy
//! fields are ignored (§3.2), a repeated field other than `mx` counts once, the first time
//! (§3.2). Those become notes in the report; a missing field makes the policy invalid.

use std::fmt;

use super::cert::{CertFacts, name_matches};
use super::dnssec::Dnssec;

/// The parsed `_mta-sts` record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StsRecord {
    /// The policy id: a new one tells senders to fetch the policy again.
    pub id: String,
    /// Other fields, in order (RFC 8461 §3.1 allows extensions).
    pub extensions: Vec<(String, String)>,
}

/// Split a `v=...; k=v; ...` TXT record (RFC 8461 §3.1, RFC 8460 §3) into its fields, after
/// checking that it starts with `version` (`v=STSv1`). `value_ok` says which characters a
/// value may hold.
pub(crate) fn record_fields(text: &str, version: &str) -> Result<Vec<(String, String)>, String> {
    let rest = text
        .strip_prefix(version)
        .ok_or_else(|| format!("it does not start with \"{version}\""))?;
    let mut pieces = rest.split(';');
    // Between the version and the first ";" only white space (sts-sep = *WSP ";" *WSP).
    let first = pieces.next().unwrap_or("");
    if !first.trim_matches([' ', '\t']).is_empty() {
        return Err(format!("\"{version}\" must be followed by \";\""));
    }
    let pieces: Vec<&str> = pieces.collect();
    if pieces.is_empty() {
        return Err(format!("nothing after \"{version}\""));
    }
    let mut fields = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let piece = piece.trim_matches([' ', '\t']);
        if piece.is_empty() {
            // One trailing separator is allowed; an empty field elsewhere is not.
            if i + 1 == pieces.len() {
                break;
            }
            return Err("an empty field (\";;\")".into());
        }
        let (name, value) = piece
            .split_once('=')
            .ok_or_else(|| format!("field \"{piece}\" has no \"=\""))?;
        if !ext_name_ok(name) {
            return Err(format!("bad field name \"{name}\""));
        }
        fields.push((name.to_string(), value.to_string()));
    }
    Ok(fields)
}

/// sts-ext-name / tlsrpt-ext-name: a letter or digit, then up to 31 of those or `_ - .`.
fn ext_name_ok(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_-.".contains(c))
}

/// sts-ext-value: visible ASCII except `;` and `=`.
pub(crate) fn ext_value_ok(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|c| (0x21..=0x7e).contains(&c) && c != b';' && c != b'=')
}

/// Parse the text of one `_mta-sts` TXT record (its strings already joined, §3.1).
pub fn parse_record(text: &str) -> Result<StsRecord, String> {
    let mut id = None;
    let mut extensions = Vec::new();
    for (name, value) in record_fields(text, "v=STSv1")? {
        if name == "id" {
            if value.is_empty()
                || value.len() > 32
                || !value.bytes().all(|c| c.is_ascii_alphanumeric())
            {
                return Err(format!("id \"{value}\" must be 1 to 32 letters and digits"));
            }
            // RFC 8461 §3.2's rule for repeats: the first one counts.
            id.get_or_insert(value);
        } else if !ext_value_ok(&value) {
            return Err(format!("bad value for {name}: \"{value}\""));
        } else {
            extensions.push((name, value));
        }
    }
    let id = id.ok_or("no id field")?;
    Ok(StsRecord { id, extensions })
}

/// What the `_mta-sts` (or `_smtp._tls`) lookup came to (RFC 8461 §3.1: records that don't
/// start with the version are discarded; anything but exactly one left is no policy).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RecordResult<T> {
    /// One record, parsed.
    Found {
        /// As published.
        text: String,
        /// Parsed.
        record: T,
        /// The DNSSEC status of the answer.
        dnssec: Dnssec,
    },
    /// No record (or none starting with the version).
    NotFound {
        /// The DNSSEC status of the answer or denial.
        dnssec: Dnssec,
    },
    /// More than one: senders treat the domain as having none.
    Multiple {
        /// All of them.
        texts: Vec<String>,
    },
    /// One, but malformed: senders treat the domain as having none.
    Invalid {
        /// As published.
        text: String,
        /// What is wrong.
        why: String,
    },
    /// The lookup failed.
    Failed {
        /// The resolver's words.
        why: String,
    },
}

/// Choose among a name's TXT records the one that starts with `version`, and parse it.
pub fn select<T>(
    txts: &[String],
    dnssec: Dnssec,
    version: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> RecordResult<T> {
    let ours: Vec<&String> = txts.iter().filter(|t| t.starts_with(version)).collect();
    match ours.as_slice() {
        [] => RecordResult::NotFound { dnssec },
        [one] => match parse(one) {
            Ok(record) => RecordResult::Found {
                text: (*one).clone(),
                record,
                dnssec,
            },
            Err(why) => RecordResult::Invalid {
                text: (*one).clone(),
                why,
            },
        },
        many => RecordResult::Multiple {
            texts: many.iter().map(|s| (*s).clone()).collect(),
        },
    }
}

/// The policy mode (RFC 8461 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Deliver only to matching MX hosts with a valid certificate.
    Enforce,
    /// Deliver anyway, and report failures (TLS-RPT).
    Testing,
    /// The domain is withdrawing its policy.
    None,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        })
    }
}

/// The longest max_age RFC 8461 §3.2 allows: 31557600 seconds, a year.
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

/// A parsed policy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Policy {
    /// The mode.
    pub mode: Mode,
    /// How long senders may cache the policy, in seconds.
    pub max_age: u64,
    /// The MX patterns (`mx.example.com`, `*.example.net`), in order.
    pub mx: Vec<String>,
    /// What a reader should know: ignored unknown fields, repeated fields, blank lines.
    pub notes: Vec<String>,
}

impl Policy {
    /// The first pattern that covers `host`, if any (RFC 8461 §4.1).
    pub fn pattern_for(&self, host: &str) -> Option<&str> {
        self.mx
            .iter()
            .find(|p| mx_pattern_matches(p, host))
            .map(String::as_str)
    }
}

/// Whether the policy's MX pattern `pattern` covers `host` (RFC 8461 §4.1): the same name, or
/// for `*.example.com` exactly one more label on the left. Case-insensitive.
pub fn mx_pattern_matches(pattern: &str, host: &str) -> bool {
    name_matches(pattern, host)
}

/// Parse a policy's text (RFC 8461 §3.2): `key: value` lines ending in LF or CRLF.
pub fn parse_policy(text: &str) -> Result<Policy, String> {
    let mut version = None;
    let mut mode = None;
    let mut max_age = None;
    let mut mx = Vec::new();
    let mut notes = Vec::new();
    let mut blank = 0;
    for (n, line) in text.split('\n').enumerate() {
        let n = n + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim_matches([' ', '\t']).is_empty() {
            blank += 1;
            continue;
        }
        let (key, value) = line.split_once(':').ok_or_else(|| {
            format!(
                "line {n} is not \"key: value\": \"{}\"",
                line.escape_debug()
            )
        })?;
        let value = value.trim_matches([' ', '\t']);
        let mut repeat = |key: &str| {
            notes.push(format!(
                "line {n}: {key} given again; only the first counts (RFC 8461 §3.2)"
            ))
        };
        match key {
            "version" => {
                if value != "STSv1" {
                    return Err(format!("line {n}: version \"{value}\" is not STSv1"));
                }
                if version.replace(()).is_some() {
                    repeat(key);
                }
            }
            "mode" => {
                let m = match value {
                    "enforce" => Mode::Enforce,
                    "testing" => Mode::Testing,
                    "none" => Mode::None,
                    _ => {
                        return Err(format!(
                            "line {n}: mode \"{value}\" is not enforce, testing or none"
                        ));
                    }
                };
                if mode.is_some() {
                    repeat(key);
                } else {
                    mode = Some(m);
                }
            }
            "max_age" => {
                if value.is_empty()
                    || value.len() > 10
                    || !value.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(format!(
                        "line {n}: max_age \"{value}\" is not 1 to 10 digits"
                    ));
                }
                let v: u64 = value.parse().unwrap_or(u64::MAX);
                if v > MAX_AGE_LIMIT {
                    return Err(format!(
                        "line {n}: max_age {v} is over the limit of {MAX_AGE_LIMIT} (a year)"
                    ));
                }
                if max_age.is_some() {
                    repeat(key);
                } else {
                    max_age = Some(v);
                }
            }
            "mx" => {
                if !mx_pattern_ok(value) {
                    return Err(format!("line {n}: \"{value}\" is not an MX pattern"));
                }
                mx.push(value.to_ascii_lowercase());
            }
            _ => {
                if !ext_name_ok(key) {
                    return Err(format!(
                        "line {n}: bad field name \"{}\"",
                        key.escape_debug()
                    ));
                }
                notes.push(format!(
                    "line {n}: unknown field \"{key}\" ignored (RFC 8461 §3.2)"
                ));
            }
        }
    }
    // One trailing line end leaves one empty piece; more are blank lines.
    if blank > 1 || (blank == 1 && !text.ends_with('\n')) {
        notes.push("blank lines in the policy were skipped".into());
    }
    if version.is_none() {
        return Err("no version field".into());
    }
    let mode = mode.ok_or("no mode field")?;
    let max_age = max_age.ok_or("no max_age field")?;
    if mx.is_empty() && mode != Mode::None {
        return Err(format!("no mx field (mode {mode} needs at least one)"));
    }
    Ok(Policy {
        mode,
        max_age,
        mx,
        notes,
    })
}

/// A domain name, or `*.` and a domain name.
fn mx_pattern_ok(p: &str) -> bool {
    let name = p.strip_prefix("*.").unwrap_or(p);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The body of a fetched policy, as `net::fetch` got it by RFC 8461 §3.3's rules.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FetchedPolicy {
    /// The HTTP status (2xx).
    pub status: u16,
    /// The Content-Type as sent.
    pub content_type: String,
    /// The body.
    pub text: String,
}

/// What became of the policy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum PolicyResult {
    /// Not fetched: without a usable record, a sender doesn't (RFC 8461 §3.3).
    NotFetched,
    /// Fetched and parsed.
    Valid {
        /// Where from.
        url: String,
        /// The response.
        fetched: FetchedPolicy,
        /// The policy.
        policy: Policy,
    },
    /// Fetched, but not a valid policy.
    Invalid {
        /// Where from.
        url: String,
        /// The response.
        fetched: FetchedPolicy,
        /// What is wrong.
        why: String,
    },
    /// The fetch failed (DNS, TCP, TLS, HTTP status, redirect, type, size).
    FetchFailed {
        /// Where from.
        url: String,
        /// Why.
        why: String,
    },
}

/// An MX host checked against the policy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HostCheck {
    /// The host name.
    pub host: String,
    /// The pattern that covers it, if one does.
    pub pattern: Option<String>,
}

/// The connected host and its certificate, as the shell's connection saw them.
#[derive(Debug, Clone, Copy)]
pub struct Connected<'a> {
    /// The host name the connection was made to (the MX host).
    pub host: &'a str,
    /// The chain the server sent, DER, leaf first (may be empty: no TLS).
    pub chain: &'a [Vec<u8>],
    /// The TLS layer's PKIX verdict: `Ok` verified, `Err(why)` not; `None` unknown.
    pub pkix: Option<Result<(), &'a str>>,
}

/// The connected host checked against the policy (RFC 8461 §4.1-§4.2).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConnectedCheck {
    /// The host and the pattern that covers it.
    pub host: HostCheck,
    /// The certificate's names (empty without TLS).
    pub cert_names: Vec<String>,
    /// Whether one of them covers the host.
    pub cert_name_ok: bool,
    /// Why the certificate is outside its dates, if it is.
    pub cert_dates: Option<String>,
    /// The TLS layer's PKIX verdict, when known: `None` if unknown, else why not (empty =
    /// verified).
    pub pkix: Option<String>,
    /// Whether there was a certificate at all.
    pub tls: bool,
}

/// The MTA-STS report for a domain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MtaStsReport {
    /// The policy domain.
    pub domain: String,
    /// The `_mta-sts` record.
    pub record: RecordResult<StsRecord>,
    /// The policy.
    pub policy: PolicyResult,
    /// The domain's MX hosts against the policy's patterns.
    pub mx_hosts: Vec<HostCheck>,
    /// The connected host, when there is one.
    pub connected: Option<ConnectedCheck>,
    /// What is wrong, one line each, worst first.
    pub problems: Vec<String>,
}

/// Put the pieces together: check the MX hosts and the connected host against the policy.
pub fn report(
    domain: &str,
    record: RecordResult<StsRecord>,
    policy: PolicyResult,
    mx_hosts: &[String],
    connected: Option<Connected<'_>>,
    now: i64,
) -> MtaStsReport {
    let mut problems = Vec::new();
    match &record {
        RecordResult::Found { .. } | RecordResult::NotFound { .. } => {}
        RecordResult::Multiple { texts } => problems.push(format!(
            "{} records start with v=STSv1; RFC 8461 §3.1 says that is no policy",
            texts.len()
        )),
        RecordResult::Invalid { why, .. } => problems.push(format!(
            "the _mta-sts record is malformed ({why}); senders treat the domain as having no policy"
        )),
        RecordResult::Failed { why } => problems.push(format!("the _mta-sts lookup failed: {why}")),
    }
    match &policy {
        PolicyResult::FetchFailed { why, .. } => problems.push(format!(
            "the policy cannot be fetched: {why}; senders without a cached copy treat the domain as having no policy (RFC 8461 §3.3)"
        )),
        PolicyResult::Invalid { why, .. } => {
            problems.push(format!("the policy is invalid: {why}"))
        }
        _ => {}
    }
    let valid = match &policy {
        PolicyResult::Valid { policy, .. } => Some(policy),
        _ => None,
    };
    let check = |host: &str| HostCheck {
        host: super::normalize_name(host),
        pattern: valid.and_then(|p| p.pattern_for(host)).map(str::to_string),
    };
    let mx: Vec<HostCheck> = mx_hosts.iter().map(|h| check(h)).collect();
    if let Some(p) = valid
        && p.mode != Mode::None
    {
        for h in mx.iter().filter(|h| h.pattern.is_none()) {
            problems.push(format!(
                "MX host {} is not covered by the policy's mx patterns{}",
                h.host,
                if p.mode == Mode::Enforce {
                    ": senders will not deliver there"
                } else {
                    ""
                }
            ));
        }
    }
    let connected = connected.map(|c| {
        let host = check(c.host);
        let leaf = c.chain.first().and_then(|der| CertFacts::parse(der, 0).ok());
        let cert_names = leaf.as_ref().map(|l| l.names.clone()).unwrap_or_default();
        let cert_name_ok = leaf.as_ref().is_some_and(|l| l.name_for(&[c.host]).is_some());
        let cert_dates = leaf.as_ref().and_then(|l| l.validity_problem(now));
        let cc = ConnectedCheck {
            host,
            cert_names,
            cert_name_ok,
            cert_dates,
            pkix: c.pkix.map(|r| r.err().unwrap_or("").to_string()),
            tls: leaf.is_some(),
        };
        if let Some(p) = valid
            && p.mode != Mode::None
        {
            if cc.host.pattern.is_none() && !mx.iter().any(|m| m.host == cc.host.host) {
                problems.push(format!(
                    "the connected host {} is not covered by the policy's mx patterns",
                    cc.host.host
                ));
            }
            // RFC 8461 §4.2: a matching name, PKIX-valid, and in date.
            if !cc.tls {
                problems.push(format!(
                    "the connection to {} has no TLS certificate; MTA-STS needs TLS (RFC 8461 §4.2)",
                    cc.host.host
                ));
            } else {
                if !cc.cert_name_ok {
                    problems.push(format!(
                        "the certificate of {} names {}, not {} (RFC 8461 §4.1)",
                        cc.host.host,
                        if cc.cert_names.is_empty() {
                            "nothing".to_string()
                        } else {
                            cc.cert_names.join(", ")
                        },
                        cc.host.host
                    ));
                }
                if let Some(d) = &cc.cert_dates {
                    problems.push(format!("the certificate of {} is {d}", cc.host.host));
                }
                if let Some(why) = cc.pkix.as_deref().filter(|w| !w.is_empty()) {
                    problems.push(format!(
                        "the certificate of {} does not verify (PKIX): {why}",
                        cc.host.host
                    ));
                }
            }
        }
        cc
    });
    MtaStsReport {
        domain: super::normalize_name(domain),
        record,
        policy,
        mx_hosts: mx,
        connected,
        problems,
    }
}

impl MtaStsReport {
    /// The policy's mode, when there is a valid policy.
    pub fn mode(&self) -> Option<Mode> {
        match &self.policy {
            PolicyResult::Valid { policy, .. } => Some(policy.mode),
            _ => None,
        }
    }

    /// The one-line verdict.
    pub fn verdict(&self) -> String {
        let n = self.problems.len();
        let problems = match n {
            0 => "no problems".to_string(),
            1 => "1 problem".to_string(),
            _ => format!("{n} problems"),
        };
        match (&self.record, self.mode()) {
            (RecordResult::NotFound { .. }, _) => {
                format!("no MTA-STS: _mta-sts.{} has no v=STSv1 record", self.domain)
            }
            (_, Some(Mode::Enforce)) => format!(
                "enforce: senders deliver only to matching MX hosts with a valid certificate; {problems}"
            ),
            (_, Some(Mode::Testing)) => {
                format!("testing: senders deliver anyway and report failures (TLS-RPT); {problems}")
            }
            (_, Some(Mode::None)) => {
                format!("none: the domain is withdrawing its policy; {problems}")
            }
            (_, None) => format!("no usable MTA-STS policy; {problems}"),
        }
    }
}

fn duration(secs: u64) -> String {
    match secs {
        s if s >= 86_400 && s % 86_400 == 0 => {
            let d = s / 86_400;
            format!("{d} day{}", if d == 1 { "" } else { "s" })
        }
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s => format!("{s} s"),
    }
}

impl fmt::Display for MtaStsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = format!("_mta-sts.{}", self.domain);
        match &self.record {
            RecordResult::Found {
                text,
                record,
                dnssec,
            } => writeln!(f, "record {name}: \"{text}\" (id {}; {dnssec})", record.id)?,
            RecordResult::NotFound { dnssec } => writeln!(f, "record {name}: none ({dnssec})")?,
            RecordResult::Multiple { texts } => {
                writeln!(f, "record {name}: {} records:", texts.len())?;
                for t in texts {
                    writeln!(f, "  \"{t}\"")?;
                }
            }
            RecordResult::Invalid { text, why } => {
                writeln!(f, "record {name}: \"{text}\": malformed: {why}")?
            }
            RecordResult::Failed { why } => writeln!(f, "record {name}: lookup failed: {why}")?,
        }
        match &self.policy {
            PolicyResult::NotFetched => {}
            PolicyResult::FetchFailed { url, why } => {
                writeln!(f, "policy {url}: not fetched: {why}")?
            }
            PolicyResult::Invalid { url, fetched, why } => {
                writeln!(
                    f,
                    "policy {url}: {} {}, {} bytes: invalid: {why}",
                    fetched.status,
                    fetched.content_type,
                    fetched.text.len()
                )?;
            }
            PolicyResult::Valid {
                url,
                fetched,
                policy,
            } => {
                writeln!(
                    f,
                    "policy {url}: {} {}, {} bytes",
                    fetched.status,
                    fetched.content_type,
                    fetched.text.len()
                )?;
                writeln!(f, "  mode: {}", policy.mode)?;
                writeln!(
                    f,
                    "  max_age: {} ({})",
                    policy.max_age,
                    duration(policy.max_age)
                )?;
                for p in &policy.mx {
                    writeln!(f, "  mx: {p}")?;
                }
                for n in &policy.notes {
                    writeln!(f, "  note: {n}")?;
                }
            }
        }
        let covered = |h: &HostCheck| match &h.pattern {
            Some(p) => format!("allowed by \"{p}\""),
            None => "not covered by any mx pattern".to_string(),
        };
        if self.mode().is_some() {
            if !self.mx_hosts.is_empty() {
                writeln!(f, "MX hosts of {}:", self.domain)?;
                for h in &self.mx_hosts {
                    writeln!(f, "  {}: {}", h.host, covered(h))?;
                }
            }
            if let Some(c) = &self.connected {
                writeln!(f, "connected host {}: {}", c.host.host, covered(&c.host))?;
                if c.tls {
                    writeln!(
                        f,
                        "  certificate names: {} ({})",
                        c.cert_names.join(", "),
                        if c.cert_name_ok {
                            "one covers the host"
                        } else {
                            "none covers the host"
                        }
                    )?;
                    if let Some(d) = &c.cert_dates {
                        writeln!(f, "  certificate dates: {d}")?;
                    }
                    match c.pkix.as_deref() {
                        Some("") => writeln!(f, "  certificate verified (PKIX)")?,
                        Some(why) => writeln!(f, "  certificate not verified (PKIX): {why}")?,
                        None => {}
                    }
                } else {
                    writeln!(f, "  no TLS certificate")?;
                }
            }
        }
        writeln!(f, "verdict: {}", self.verdict())?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        let r = parse_record("v=STSv1; id=20240101T000000").unwrap();
        assert_eq!(r.id, "20240101T000000");
        let r = parse_record("v=STSv1;id=abc;  ext-1=x:y ;").unwrap();
        assert_eq!(r.extensions, [("ext-1".to_string(), "x:y".to_string())]);
        for (bad, why) in [
            ("v=STSv1", "nothing after"),
            ("v=STSv1 id=1", "must be followed by \";\""),
            ("v=STSv1; id=", "1 to 32"),
            ("v=STSv1; id=a-b", "1 to 32"),
            ("v=STSv1; id=1;; x=2", "empty field"),
            ("v=STSv1; x=1", "no id"),
            ("v=STSv2; id=1", "does not start"),
            ("v=STSv1; id=1; x", "has no \"=\""),
            ("v=STSv1; id=1; _x=1", "bad field name"),
        ] {
            let e = parse_record(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn selection_discards_other_records_and_refuses_two() {
        let txts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let r = select(
            &txts(&["google-site-verification=x", "v=STSv1; id=1"]),
            Dnssec::Insecure,
            "v=STSv1",
            parse_record,
        );
        assert!(matches!(r, RecordResult::Found { .. }));
        let r = select(
            &txts(&["v=STSv1; id=1", "v=STSv1; id=2"]),
            Dnssec::Insecure,
            "v=STSv1",
            parse_record,
        );
        assert!(matches!(r, RecordResult::Multiple { texts } if texts.len() == 2));
        let r = select(&txts(&["x"]), Dnssec::Secure, "v=STSv1", parse_record);
        assert_eq!(
            r,
            RecordResult::NotFound {
                dnssec: Dnssec::Secure
            }
        );
    }

    const GOOD: &str = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmx: *.backup.example.test\r\nmax_age: 86400\r\n";

    #[test]
    fn a_policy_with_crlf_or_lf() {
        let p = parse_policy(GOOD).unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.max_age, 86_400);
        assert_eq!(p.mx, ["mx.example.test", "*.backup.example.test"]);
        assert!(p.notes.is_empty(), "{:?}", p.notes);
        assert_eq!(parse_policy(&GOOD.replace("\r\n", "\n")).unwrap(), p);
        // No line end at the end.
        assert_eq!(parse_policy(GOOD.trim_end()).unwrap(), p);
    }

    #[test]
    fn unknown_repeated_and_missing_fields() {
        let p = parse_policy(&format!("{GOOD}mode: testing\nfoo: bar\n")).unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(
            p.notes,
            [
                "line 6: mode given again; only the first counts (RFC 8461 §3.2)",
                "line 7: unknown field \"foo\" ignored (RFC 8461 §3.2)"
            ]
        );
        for (text, why) in [
            ("mode: enforce\nmx: a.b\nmax_age: 1\n", "no version"),
            ("version: STSv1\nmx: a.b\nmax_age: 1\n", "no mode"),
            ("version: STSv1\nmode: enforce\nmx: a.b\n", "no max_age"),
            ("version: STSv1\nmode: testing\nmax_age: 1\n", "no mx field"),
            ("version: STSv2\n", "not STSv1"),
            (
                "version: STSv1\nmode: strict\n",
                "not enforce, testing or none",
            ),
            ("version: STSv1\nmax_age: 31557601\n", "over the limit"),
            ("version: STSv1\nmax_age: 12345678901\n", "1 to 10 digits"),
            ("version: STSv1\nmx: a..b\n", "not an MX pattern"),
            ("version: STSv1\nmx: *\n", "not an MX pattern"),
            ("version STSv1\n", "not \"key: value\""),
            ("<html>\n", "not \"key: value\""),
        ] {
            let e = parse_policy(text).unwrap_err();
            assert!(e.contains(why), "{text:?}: {e}");
        }
        // mode none needs no mx.
        assert!(parse_policy("version: STSv1\nmode: none\nmax_age: 0\n").is_ok());
    }

    #[test]
    fn mx_patterns() {
        let p = parse_policy(GOOD).unwrap();
        assert_eq!(p.pattern_for("MX.example.test."), Some("mx.example.test"));
        assert_eq!(
            p.pattern_for("b1.backup.example.test"),
            Some("*.backup.example.test")
        );
        assert_eq!(p.pattern_for("a.b1.backup.example.test"), None);
        assert_eq!(p.pattern_for("backup.example.test"), None);
        assert_eq!(p.pattern_for("mx2.example.test"), None);
    }

    fn fetched(text: &str) -> FetchedPolicy {
        FetchedPolicy {
            status: 200,
            content_type: "text/plain".into(),
            text: text.into(),
        }
    }

    #[test]
    fn report_names_uncovered_mx_hosts_and_a_bad_connection() {
        let policy = parse_policy(GOOD).unwrap();
        let r = report(
            "example.test",
            RecordResult::Found {
                text: "v=STSv1; id=1".into(),
                record: parse_record("v=STSv1; id=1").unwrap(),
                dnssec: Dnssec::Insecure,
            },
            PolicyResult::Valid {
                url: "https://mta-sts.example.test/.well-known/mta-sts.txt".into(),
                fetched: fetched(GOOD),
                policy,
            },
            &["mx.example.test".into(), "mx.elsewhere.test".into()],
            Some(Connected {
                host: "mx.example.test",
                chain: &[],
                pkix: None,
            }),
            0,
        );
        assert_eq!(
            r.problems,
            [
                "MX host mx.elsewhere.test is not covered by the policy's mx patterns: senders will not deliver there",
                "the connection to mx.example.test has no TLS certificate; MTA-STS needs TLS (RFC 8461 §4.2)"
            ]
        );
        let text = r.to_string();
        assert!(
            text.contains("  mx.example.test: allowed by \"mx.example.test\"\n"),
            "{text}"
        );
        assert!(text.contains("verdict: enforce: senders deliver only to matching MX hosts with a valid certificate; 2 problems"), "{text}");
    }

    #[test]
    fn no_record_is_no_policy() {
        let r = report(
            "example.test",
            RecordResult::NotFound {
                dnssec: Dnssec::Insecure,
            },
            PolicyResult::NotFetched,
            &[],
            None,
            0,
        );
        assert!(r.problems.is_empty());
        assert_eq!(
            r.verdict(),
            "no MTA-STS: _mta-sts.example.test has no v=STSv1 record"
        );
    }
}
