//! Practice users: the documented defaults and the `--users FILE` format.
//!
//! The file holds one `name:password` a line; blank lines and lines starting with `#` are
//! skipped; the password is everything after the first `:` (so it may hold `:` and spaces).

use std::path::Path;

use super::PracticeUser;
use crate::error::Error;

/// The users a practice server knows when none are given: `alice` / `alicepass` and
/// `bob` / `bobpass`. They are printed by `--serve` and used in the tutorial; they are
/// not secret.
pub fn default_users() -> Vec<PracticeUser> {
    vec![
        PracticeUser::new("alice", "alicepass"),
        PracticeUser::new("bob", "bobpass"),
    ]
}

/// Parse a `--users` file: one `name:password` a line, `#` comments, blank lines.
///
/// A name is 1–64 printable ASCII characters without spaces (`alice@example.org` is fine);
/// a password is one or more characters without control characters. Errors say which line
/// and what to fix.
pub fn parse_users(text: &str) -> Result<Vec<PracticeUser>, String> {
    let mut users: Vec<PracticeUser> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        // `lines` leaves the CR of a CRLF file.
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((name, password)) = trimmed.split_once(':') else {
            return Err(format!(
                "line {n}: expected name:password (for example alice:alicepass)"
            ));
        };
        if name.is_empty() {
            return Err(format!("line {n}: the user name before ':' is empty"));
        }
        if name.len() > 64 {
            return Err(format!("line {n}: the user name is over 64 characters"));
        }
        if let Some(c) = name.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(format!(
                "line {n}: the user name holds {}; use printable ASCII without spaces",
                describe(c)
            ));
        }
        if password.is_empty() {
            return Err(format!("line {n}: the password of {name:?} is empty"));
        }
        if let Some(c) = password.chars().find(|c| c.is_control()) {
            return Err(format!(
                "line {n}: the password of {name:?} holds {}",
                describe(c)
            ));
        }
        if users.iter().any(|u| u.name == name) {
            return Err(format!("line {n}: user {name:?} is listed twice"));
        }
        users.push(PracticeUser::new(name, password));
    }
    if users.is_empty() {
        return Err("no users: write one name:password a line".to_string());
    }
    Ok(users)
}

/// Read and parse a `--users FILE`; errors name the file.
pub fn read_users(path: &Path) -> Result<Vec<PracticeUser>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("cannot read --users {}: {e}", path.display())))?;
    parse_users(&text).map_err(|e| Error::Usage(format!("--users {}: {e}", path.display())))
}

/// A character named for an error message.
fn describe(c: char) -> String {
    match c {
        ' ' => "a space".to_string(),
        '\t' => "a TAB".to_string(),
        c if c.is_control() => format!("a control character (U+{:04X})", c as u32),
        c => format!("{c:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_documented() {
        let users = default_users();
        let pairs: Vec<(&str, &str)> = users
            .iter()
            .map(|u| (u.name.as_str(), u.password.expose()))
            .collect();
        assert_eq!(pairs, [("alice", "alicepass"), ("bob", "bobpass")]);
        assert_eq!(format!("{:?}", users[0].password), "(redacted)");
    }

    #[test]
    fn parses_names_passwords_comments_and_crlf() {
        let text = "# class of 2025\r\n\r\nana:s3cret\r\n  # indented comment\nbo:pa:ss word\n";
        let users = parse_users(text).unwrap();
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].name, "ana");
        assert_eq!(users[0].password.expose(), "s3cret");
        assert_eq!(users[1].name, "bo");
        assert_eq!(users[1].password.expose(), "pa:ss word");
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("ok:1\nnocolon\n", "line 2: expected name:password"),
            ("\n:pw\n", "line 2: the user name before ':' is empty"),
            ("a:\n", "line 1: the password of \"a\" is empty"),
            ("a b:pw\n", "line 1: the user name holds a space"),
            (
                "a:p\u{7}w\n",
                "line 1: the password of \"a\" holds a control",
            ),
            ("a:1\na:2\n", "line 2: user \"a\" is listed twice"),
            ("# only comments\n\n", "no users"),
            ("", "no users"),
        ];
        for (text, want) in cases {
            let err = parse_users(text).unwrap_err();
            assert!(err.starts_with(want), "{text:?}: {err}");
        }
        let long = format!("{}:pw", "x".repeat(65));
        assert!(parse_users(&long).unwrap_err().contains("over 64"));
    }

    #[test]
    fn read_users_names_the_file() {
        let err = read_users(Path::new("/nonexistent/users.txt")).unwrap_err();
        assert!(matches!(err, Error::Usage(_)));
        assert!(err.to_string().contains("/nonexistent/users.txt"), "{err}");
    }
}
