//! Parsing what the user typed as a target: `host`, `host:port`, `[v6addr]:port`,
//! `smtp://host[:port]`, `smtps://host[:port]`, `lmtp://host[:port]` and `unix:/path` (a
//! Unix socket, which speaks LMTP).

use std::fmt;

use crate::error::Error;

/// How TLS starts on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain TCP (STARTTLS may follow).
    Plain,
    /// Implicit TLS from the first byte (RFC 8314 §3.3).
    Implicit,
}

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host as typed, without brackets for IPv6 literals.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Implicit TLS or not.
    pub security: Security,
    /// LMTP (RFC 2033) rather than SMTP: `lmtp://`, `unix:` or `--lmtp`.
    pub lmtp: bool,
    /// A Unix socket path (`unix:/path`); `host` then holds the path as typed.
    pub unix: Option<std::path::PathBuf>,
}

/// Why a `unix:` target is refused where there are no Unix sockets.
pub const UNIX_ONLY: &str = "Unix sockets need a Unix system (Linux, macOS, BSD); reach the LMTP server over TCP instead: lmtp://host[:port]";

/// The port `lmtp://` defaults to: 24, where LMTP servers (Dovecot, Cyrus) listen by
/// convention; RFC 2033 §5 only says it must not be 25.
pub const LMTP_PORT: u16 = 24;

impl Target {
    /// Parse `s`. `port` (from `-p`) overrides a port in `s`; `implicit` (from
    /// `--tls-on-connect`) forces implicit TLS. Default port: 25, or 465 with implicit TLS.
    pub fn parse(s: &str, port: Option<u16>, implicit: bool) -> Result<Target, Error> {
        let bad = |why: &str| {
            Error::Usage(format!(
                "bad target {s:?}: {why} (expected host, host:port, [v6addr]:port, smtp://host[:port] or smtps://host[:port])"
            ))
        };
        if let Some(path) = strip_prefix_ci(s, "unix:") {
            if cfg!(not(unix)) {
                return Err(Error::Usage(format!("{s}: {UNIX_ONLY}")));
            }
            if !path.starts_with('/') {
                return Err(bad(
                    "a unix: target needs an absolute path, as in unix:/run/lmtp",
                ));
            }
            if path.bytes().any(|b| b.is_ascii_control()) {
                return Err(bad("the path holds a control character"));
            }
            if implicit {
                return Err(Error::Usage(
                    "TLS over a Unix socket is not supported: drop --tls-on-connect".into(),
                ));
            }
            return Ok(Target {
                host: path.to_string(),
                port: 0,
                security: Security::Plain,
                lmtp: true,
                unix: Some(path.into()),
            });
        }
        let mut lmtp = false;
        let (rest, mut security) = if let Some(r) = strip_prefix_ci(s, "smtps://") {
            (r, Security::Implicit)
        } else if let Some(r) = strip_prefix_ci(s, "smtp://") {
            (r, Security::Plain)
        } else if let Some(r) = strip_prefix_ci(s, "lmtp://") {
            lmtp = true;
            (r, Security::Plain)
        } else if s.contains("://") {
            return Err(bad("unknown scheme"));
        } else {
            (s, Security::Plain)
        };
        if implicit {
            security = Security::Implicit;
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, typed_port) = if let Some(r) = rest.strip_prefix('[') {
            let (h, after) = r.split_once(']').ok_or_else(|| bad("missing ']'"))?;
            if h.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad("not an IPv6 address inside [ ]"));
            }
            let p = match after {
                "" => None,
                a => Some(a.strip_prefix(':').ok_or_else(|| bad("junk after ']'"))?),
            };
            (h, p)
        } else if rest.matches(':').count() > 1 {
            // A bare IPv6 address: no port possible without brackets.
            if rest.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad("an IPv6 address with a port needs brackets"));
            }
            (rest, None)
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if host
            .bytes()
            .any(|b| b.is_ascii_control() || b == b' ' || b == b'/')
        {
            return Err(bad("the host holds a space, slash or control character"));
        }
        let typed_port = match typed_port {
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|&p| p != 0)
                    .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
            ),
            None => None,
        };
        let default = match security {
            Security::Plain if lmtp => LMTP_PORT,
            Security::Plain => 25,
            Security::Implicit => 465,
        };
        Ok(Target {
            host: host.to_string(),
            port: port.or(typed_port).unwrap_or(default),
            security,
            lmtp,
            unix: None,
        })
    }
}

/// `s` without `prefix`, compared case-insensitively (`SMTPS://` is `smtps://`).
fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    // `get`: the prefix's length may fall inside a character of `s`, which then does not
    // start with the (ASCII) prefix.
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unix.is_some() {
            return write!(f, "unix:{}", self.host);
        }
        if self.lmtp {
            f.write_str("lmtp://")?;
        } else if self.host.eq_ignore_ascii_case("unix") {
            // `unix:25` would read back as a Unix socket path.
            f.write_str("smtp://")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> (String, u16, Security) {
        let t = Target::parse(s, None, false).unwrap();
        (t.host, t.port, t.security)
    }

    #[test]
    fn forms() {
        use Security::*;
        assert_eq!(t("mx.example"), ("mx.example".into(), 25, Plain));
        assert_eq!(t("mx.example:2525"), ("mx.example".into(), 2525, Plain));
        assert_eq!(t("[::1]:2525"), ("::1".into(), 2525, Plain));
        assert_eq!(t("[::1]"), ("::1".into(), 25, Plain));
        assert_eq!(t("::1"), ("::1".into(), 25, Plain));
        assert_eq!(t("smtp://h:587"), ("h".into(), 587, Plain));
        assert_eq!(t("SMTPS://h"), ("h".into(), 465, Implicit));
        assert_eq!(t("smtps://h:2465/"), ("h".into(), 2465, Implicit));
    }

    #[test]
    fn overrides() {
        let t = Target::parse("h:2525", Some(26), true).unwrap();
        assert_eq!((t.port, t.security), (26, Security::Implicit));
        assert_eq!(Target::parse("h", None, true).unwrap().port, 465);
    }

    #[test]
    fn refusals() {
        for bad in [
            "",
            ":25",
            "h:0",
            "h:70000",
            "h:x",
            "[::1",
            "[nope]:25",
            "http://h",
            "h\r\n:25",
            "a b",
            "[::1]x",
        ] {
            assert!(Target::parse(bad, None, false).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lmtp_targets() {
        let t = Target::parse("lmtp://h", None, false).unwrap();
        assert_eq!((t.port, t.lmtp, t.unix.is_none()), (24, true, true));
        assert_eq!(t.to_string(), "lmtp://h:24");
        let t = Target::parse("LMTP://[::1]:2424", None, false).unwrap();
        assert_eq!((t.host.as_str(), t.port, t.lmtp), ("::1", 2424, true));
        assert!(!Target::parse("h", None, false).unwrap().lmtp);
    }

    #[cfg(unix)]
    #[test]
    fn unix_targets() {
        let t = Target::parse("unix:/run/dovecot/lmtp", None, false).unwrap();
        assert_eq!(
            t.unix.as_deref(),
            Some(std::path::Path::new("/run/dovecot/lmtp"))
        );
        assert!(t.lmtp);
        assert_eq!(t.to_string(), "unix:/run/dovecot/lmtp");
        for bad in ["unix:relative", "unix:/a\nb", "unix:"] {
            assert!(Target::parse(bad, None, false).is_err(), "{bad:?}");
        }
        assert!(Target::parse("unix:/x", None, true).is_err());
    }

    // Elsewhere `unix:` is a usage error that says why, not a failed connection.
    #[cfg(not(unix))]
    #[test]
    fn unix_targets_need_a_unix_system() {
        let e = Target::parse("unix:/run/dovecot/lmtp", None, false).unwrap_err();
        assert!(matches!(&e, Error::Usage(m) if m.contains("Unix sockets need a Unix system")));
    }

    // A scheme was compared by slicing the target at the scheme's length, through the middle
    // of a multi-byte character: `smtpsh ééé` panicked.
    // See: issue 12
    #[test]
    fn regression_non_ascii_where_a_scheme_could_be_is_an_error_not_a_panic() {
        for bad in ["smtpé://h", "smtps:/é", "lmtp:/éé", "é://h", "unix:é"] {
            assert!(Target::parse(bad, None, false).is_err(), "{bad:?}");
        }
        // A host name with non-ASCII letters (an IDN typed as Unicode) parses.
        for (typed, host) in [("ééé", "ééé"), ("unixé", "unixé"), ("ééé:25", "ééé")] {
            assert_eq!(Target::parse(typed, None, false).unwrap().host, host);
        }
        let t = Target::parse("smtp://mx.bücher.example:2525", None, false).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("mx.bücher.example", 2525));
        assert_eq!(Target::parse("ñ", None, false).unwrap().host, "ñ");
    }

    // Found by fuzzing: a host named `unix` was shown as `unix:25`, which reads back as a
    // (bad) Unix socket target.
    // See: issue 12
    #[test]
    fn regression_a_host_named_unix_is_shown_as_a_host() {
        for typed in ["unix", "smtp://UniX:2525", "smtp://unix"] {
            let t = Target::parse(typed, None, false).unwrap();
            let shown = t.to_string();
            assert!(shown.starts_with("smtp://"), "{shown}");
            assert_eq!(Target::parse(&shown, None, false).unwrap(), t, "{typed}");
        }
        let t = Target::parse("lmtp://unix", None, false).unwrap();
        assert_eq!(t.to_string(), "lmtp://unix:24");
    }

    #[test]
    fn display_brackets_v6() {
        assert_eq!(
            Target::parse("[::1]:25", None, false).unwrap().to_string(),
            "[::1]:25"
        );
    }
}
