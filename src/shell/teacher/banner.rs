//! What `--serve` prints first: where it listens, the users, the certificate (and whether
//! students' saved copies still fit), and a student command for every way in — each one
//! works as printed: it names an address or name the certificate holds, and the file to
//! trust.
//!
//! ```text
//! smtpsh practice server on 0.0.0.0:2525
//!   users        alice/alicepass, bob/bobpass
//!   certificate  SHA-256 D4:F2:…:CF
//!                kept in /home/t/.local/share/smtpsh/practice-cert.pem (the same as last time)
//!   students     smtpsh --starttls --cafile class.pem --explain 192.0.2.2:2525
//!                smtpsh --starttls --cafile class.pem --explain 127.0.0.1:2525
//!                smtpsh --starttls --cafile class.pem --explain localhost:2525
//!   tutorial     the same without --starttls: docs/tutorial.md does STARTTLS in lesson 5
//! Type :help at the teacher> prompt (:inbox, :summary, :quit); Ctrl-C stops the server.
//! ```

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;

use crate::cli::Cli;
use crate::diag::cert::name_matches;
use crate::practice::{self, CertOrigin, PracticeServer};

/// The banner for `server`. `prompt`: the teacher's commands are read at a prompt;
/// `lines`: from standard input.
pub fn text(server: &PracticeServer, cli: &Cli, prompt: bool, lines: bool) -> String {
    let mut out = String::new();
    let users = match &cli.users {
        Some(p) => format!("from {}", p.display()),
        None => practice::default_users()
            .iter()
            .map(|u| format!("{}/{}", u.name, u.password.expose()))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let _ = writeln!(out, "smtpsh practice server on {}", server.addr());
    let _ = writeln!(out, "  users        {users}");
    let _ = writeln!(out, "  certificate  SHA-256 {}", server.fingerprint());
    // The file students trust: what --cert-out wrote, else the kept or given one.
    let (trust, note): (Option<&Path>, Option<String>) = match server.cert_origin() {
        CertOrigin::Reused { path } => (
            Some(path),
            Some(format!(
                "kept in {} (the same as last time: students' saved copies still work)",
                path.display()
            )),
        ),
        CertOrigin::Made { path, why: None } => (
            Some(path),
            Some(format!("made now and kept in {}", path.display())),
        ),
        CertOrigin::Made {
            path,
            why: Some(why),
        } => (
            Some(path),
            Some(format!(
                "made now and kept in {}: {why}, so every student needs this new one",
                path.display()
            )),
        ),
        CertOrigin::Unkept { why } => (None, Some(format!("made now; {why}"))),
        CertOrigin::Fresh => (None, None),
        CertOrigin::Given { path, self_issued } => (
            self_issued.then_some(path.as_path()),
            Some(format!(
                "yours, from {}{}",
                path.display(),
                if *self_issued {
                    ""
                } else {
                    " (students whose systems do not trust its CA add --cafile CA.pem)"
                }
            )),
        ),
    };
    if let Some(n) = note {
        let _ = writeln!(out, "               {n}");
    }
    let trust = cli.cert_out.as_deref().or(trust);
    let tls = trust.is_some() || matches!(server.cert_origin(), CertOrigin::Given { .. });
    let options = match trust {
        Some(p) => format!("--starttls --cafile {} --explain", p.display()),
        None if tls => "--starttls --explain".to_string(),
        None => "--explain".to_string(),
    };
    let port = server.addr().port();
    let (covered, uncovered): (Vec<String>, Vec<String>) = server
        .reach()
        .ways_in()
        .into_iter()
        .partition(|w| !tls || covers(server.cert_names(), w));
    for (i, way) in covered.iter().enumerate() {
        let host = match way.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
            _ => way.clone(),
        };
        let label = if i == 0 {
            "  students   "
        } else {
            "             "
        };
        let _ = writeln!(out, "{label}  smtpsh {options} {host}:{port}");
    }
    if !uncovered.is_empty() {
        let _ = writeln!(
            out,
            "  ! the certificate does not name {}: students who use it fail verification",
            uncovered.join(", ")
        );
    }
    if !tls {
        let _ = writeln!(
            out,
            "               (add --cert-out FILE to hand out the certificate for STARTTLS)"
        );
    } else if !covered.is_empty() {
        let _ = writeln!(
            out,
            "  tutorial     the same without --starttls: docs/tutorial.md does STARTTLS in lesson 5"
        );
    }
    if cli.require_auth || cli.require_tls {
        let _ = writeln!(
            out,
            "  requires     {}",
            [(cli.require_tls, "STARTTLS"), (cli.require_auth, "AUTH")]
                .iter()
                .filter(|r| r.0)
                .map(|r| r.1)
                .collect::<Vec<_>>()
                .join(" and ")
        );
    }
    let how = if prompt {
        "Type :help at the teacher> prompt (:inbox, :summary, :quit); Ctrl-C stops the server."
    } else if lines {
        "Commands on standard input: :inbox [N], :summary, :quit; Ctrl-C stops the server."
    } else {
        "Ctrl-C stops the server."
    };
    let _ = writeln!(out, "{how}");
    out
}

/// Whether a certificate naming `names` verifies for `way` (an address or a host name).
fn covers(names: &[String], way: &str) -> bool {
    match way.parse::<IpAddr>() {
        Ok(ip) => names.iter().any(|n| n.parse::<IpAddr>() == Ok(ip)),
        Err(_) => names
            .iter()
            .filter(|n| n.parse::<IpAddr>().is_err())
            .any(|n| name_matches(n, way)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage() {
        let names: Vec<String> = ["*.class.example", "localhost", "192.0.2.2", "::1"]
            .map(String::from)
            .to_vec();
        assert!(covers(&names, "192.0.2.2"));
        assert!(covers(&names, "::1"));
        assert!(covers(&names, "0:0:0:0:0:0:0:1"));
        assert!(!covers(&names, "127.0.0.1"));
        assert!(covers(&names, "mail.class.example"));
        assert!(covers(&names, "LOCALHOST"));
        assert!(!covers(&names, "class.example"));
    }
}
