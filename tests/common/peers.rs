//! Peers a test needs that are not ours: the test Postfix (ci/postfix-setup.sh) and programs
//! such as swaks, python3 or dnsmasq. A suite that needs one either runs or says it was left
//! out — and fails when `SMTPSH_REQUIRE_PEERS=1` (or `CI=true`) says nothing may be.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The test Postfix (ci/postfix-setup.sh) is there: a connection to `addr` gets a 220
/// within 2 s.
pub fn postfix_probe(addr: &str) -> Result<(), String> {
    let addr: SocketAddr = addr.parse().expect("address");
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("connect: {e}"))?;
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !got.contains(&b'\n') {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("no greeting within 2 s".into());
        }
        s.set_read_timeout(Some(left))
            .map_err(|e| format!("set_read_timeout: {e}"))?;
        match s.read(&mut buf) {
            Ok(0) => return Err("closed before a greeting".into()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("no greeting: {e}")),
        }
    }
    let _ = s.write_all(b"QUIT\r\n");
    if got.starts_with(b"220") {
        Ok(())
    } else {
        Err(format!(
            "the greeting is not a 220: {:?}",
            String::from_utf8_lossy(&got)
        ))
    }
}

/// Whether a missing peer program fails the test (CI) or skips it (a developer's machine).
pub fn peers_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("SMTPSH_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// `path` if it exists; otherwise `None` after a note, or a panic when peers are required.
pub fn peer_program(path: &'static str, package: &str) -> Option<&'static str> {
    if Path::new(path).exists() {
        return Some(path);
    }
    left_out(&format!("{path} is missing (apt-get install {package})"));
    None
}

/// `program` found on `PATH`; otherwise `None` after a note, or a panic when peers are
/// required. For peers whose place differs between systems (python3, swaks).
pub fn peer_on_path(program: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    });
    if found.is_some() {
        return found;
    }
    left_out(&format!(
        "{program} is not on PATH (apt-get install {package})"
    ));
    None
}

/// Say that a test was left out because of `why`; when peers are required, fail instead.
#[track_caller]
pub fn left_out(why: &str) {
    if peers_required() {
        panic!("{why}; CI and SMTPSH_REQUIRE_PEERS=1 need it");
    }
    println!("left out: {why}");
}
