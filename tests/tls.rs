//! The `:tls` report, `:tls chain`, `:tls save`, the report after a refused certificate, and
//! the wrong-port hints, against scripted servers on loopback: a Python peer with TLS 1.2 and
//! 1.3 serving a chain (tests/common/tls_peer.rs), the fake server (a plaintext greeting
//! where TLS was due), and a raw socket that answers a ClientHello with an alert. Each test
//! asserts what the servers saw: how many connections, and every line each one received.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use common::*;
use sha2::{Digest, Sha256};
use smtpsh::practice::cert::{CertSpec, KeyKind, MadeCert, self_signed};

const EHLO_NAME: &str = "client.test";

/// A CA and a leaf for localhost/127.0.0.1 it issued, written as PEM files.
struct Chain {
    dir: tempfile::TempDir,
    ca: MadeCert,
    leaf: MadeCert,
    chain_pem: PathBuf,
    key_pem: PathBuf,
    ca_pem: PathBuf,
}

fn chain() -> Chain {
    let mut ca = CertSpec::new("smtpsh test CA");
    ca.key = KeyKind::P256;
    let ca = self_signed(&ca).unwrap();
    let mut leaf = CertSpec::new("localhost");
    leaf.dns_names = vec!["localhost".into()];
    leaf.ips = vec!["127.0.0.1".parse().unwrap()];
    leaf.key = KeyKind::P256;
    let leaf = ca.issue(&leaf).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let chain_pem = write_file(
        dir.path(),
        "chain.pem",
        format!("{}{}", leaf.cert_pem, ca.cert_pem),
    );
    let key_pem = write_file(dir.path(), "key.pem", &leaf.key_pem);
    let ca_pem = write_file(dir.path(), "ca.pem", &ca.cert_pem);
    Chain {
        dir,
        ca,
        leaf,
        chain_pem,
        key_pem,
        ca_pem,
    }
}

fn colon(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn peer(c: &Chain, mode: PeerMode, min: &str, max: &str) -> Option<TlsPeer> {
    TlsPeer::start(mode, min, max, &c.chain_pem, &c.key_pem)
}

fn run_at(target: &str, args: &[&str], script: &str) -> Run {
    let mut cmd = smtpsh();
    cmd.args(["--ehlo", EHLO_NAME])
        .args(args)
        .arg(target)
        .write_stdin(script);
    run(&mut cmd)
}

#[track_caller]
fn has_line(run: &Run, line: &str) {
    assert!(
        run.stdout.lines().any(|l| l == line),
        "no stdout line {line:?}\n{}",
        run.describe()
    );
}

// ---------------------------------------------------------------------------------------
// :tls, :tls chain, :tls save
// ---------------------------------------------------------------------------------------

/// TLS 1.2 sends the Certificate message in plaintext: `:tls` shows the chain as sent from
/// the handshake's own bytes, with no second connection.
#[test]
fn tls12_report_shows_the_chain_from_the_handshake() {
    let c = chain();
    let Some(p) = peer(&c, PeerMode::StartTls, "1.2", "1.2") else {
        return;
    };
    let ca = c.ca_pem.to_str().unwrap();
    let run = run_at(&p.target(), &["--starttls", "--cafile", ca], ":tls\nQUIT\n");
    let conns = p.finish();
    run.assert_code(0);
    assert_eq!(conns.len(), 1, "{conns:?}");
    assert_eq!(conns[0].version.as_deref(), Some("TLSv1.2"));
    assert_eq!(conns[0].after, [format!("EHLO {EHLO_NAME}"), "QUIT".into()]);
    has_line(&run, "chain as the server sent it (2 certificates):");
    has_line(&run, "  [0] CN=localhost");
    has_line(&run, "      names       localhost, 127.0.0.1");
    has_line(&run, "  [1] CN=smtpsh test CA");
    has_line(&run, &format!("      sha256      {}", colon(&c.leaf.der)));
    has_line(&run, &format!("      sha256      {}", colon(&c.ca.der)));
    has_line(&run, "      key         EC P-256 (256 bits)");
    has_line(&run, "OCSP: no stapled response");
    has_line(
        &run,
        "verdict: verified for \"127.0.0.1\" by OpenSSL (the platform's verifier)",
    );
    let first = run
        .stdout
        .lines()
        .find(|l| l.starts_with("TLS TLSv1.2 "))
        .unwrap_or_else(|| panic!("no TLS line\n{}", run.describe()));
    assert!(
        first.starts_with("TLS TLSv1.2 TLS_ECDHE_ECDSA_WITH_")
            && first.contains(", key exchange ")
            && first.ends_with(&format!(" with {}", p_target(&run))),
        "{first}"
    );
}

fn p_target(run: &Run) -> String {
    run.stdout
        .lines()
        .find_map(|l| l.strip_prefix("* connected to "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or("")
        .to_string()
}

/// TLS 1.3 encrypts the chain: `:tls` shows the server's own certificate and says so; `:tls
/// chain` fetches the rest over a second connection capped at TLS 1.2 that says EHLO,
/// STARTTLS, QUIT; `:tls save` writes what is known as PEM.
#[test]
fn tls13_shows_the_leaf_and_tls_chain_fetches_the_rest() {
    let c = chain();
    let Some(p) = peer(&c, PeerMode::StartTls, "1.2", "1.3") else {
        return;
    };
    let ca = c.ca_pem.to_str().unwrap();
    let saved = c.dir.path().join("saved.pem");
    let script = format!(":tls\n:tls chain\n:tls save {}\nQUIT\n", saved.display());
    let run = run_at(&p.target(), &["--starttls", "--cafile", ca], &script);
    let conns = p.finish();
    run.assert_code(0);
    assert_eq!(conns.len(), 2, "{conns:?}");
    assert_eq!(conns[0].version.as_deref(), Some("TLSv1.3"));
    assert_eq!(
        conns[0].after,
        [format!("EHLO {EHLO_NAME}"), "QUIT".into()],
        "the session's own connection"
    );
    assert_eq!(
        conns[1].before,
        [format!("EHLO {EHLO_NAME}"), "STARTTLS".into()]
    );
    assert_eq!(conns[1].version.as_deref(), Some("TLSv1.2"));
    assert_eq!(
        conns[1].after,
        ["QUIT"],
        "the second connection ends politely"
    );
    has_line(&run, "the server's own certificate:");
    assert!(
        run.stdout
            .contains("note: TLS 1.3 encrypts the chain, and the platform hands over the server's own certificate only: :tls chain fetches the rest"),
        "{}",
        run.describe()
    );
    has_line(
        &run,
        &format!(
            "* the chain, from a second connection capped at TLS 1.2 (it sent EHLO {EHLO_NAME}, STARTTLS, QUIT)"
        ),
    );
    has_line(
        &run,
        "chain as the server sent it on a second connection (TLSv1.2, 2 certificates):",
    );
    has_line(&run, &format!("      sha256      {}", colon(&c.ca.der)));
    has_line(
        &run,
        &format!("* wrote 2 certificates as PEM to {}", saved.display()),
    );
    let pem = std::fs::read_to_string(&saved).unwrap();
    let ders: Vec<Vec<u8>> = pem::parse_many(&pem)
        .unwrap()
        .into_iter()
        .map(pem::Pem::into_contents)
        .collect();
    assert_eq!(ders, [c.leaf.der.clone(), c.ca.der.clone()]);
}

/// A server that refuses TLS 1.2: the chain can't be had; `:tls chain` says why.
#[test]
fn tls13_only_keeps_its_chain_hidden() {
    let c = chain();
    let Some(p) = peer(&c, PeerMode::Implicit, "1.3", "1.3") else {
        return;
    };
    let ca = c.ca_pem.to_str().unwrap();
    let run = run_at(
        &p.target(),
        &["--tls-on-connect", "--cafile", ca],
        ":tls chain\nQUIT\n",
    );
    let conns = p.finish();
    run.assert_code(0);
    // The session's, the one capped at TLS 1.2 (refused), and one without the cap.
    assert_eq!(conns.len(), 3, "{conns:?}");
    assert!(
        conns[1].tls.as_deref().unwrap_or("").starts_with("failed"),
        "{conns:?}"
    );
    assert_eq!(conns[2].version.as_deref(), Some("TLSv1.3"));
    assert_eq!(conns[2].after, ["QUIT"]);
    has_line(
        &run,
        "* the server refuses TLS 1.2, and TLS 1.3 encrypts the chain: only its own certificate can be seen; the second connection (implicit TLS: the handshake, then QUIT)",
    );
    has_line(&run, "the server's own certificate:");
    assert!(
        run.stdout.contains("note: TLS 1.3 encrypts the chain, and the server refuses TLS 1.2 (where it travels in plaintext): only its own certificate can be seen"),
        "{}",
        run.describe()
    );
}

// ---------------------------------------------------------------------------------------
// A refused certificate: the report, without --insecure
// ---------------------------------------------------------------------------------------

/// TLS 1.2: the report comes from the failed handshake's own bytes; one connection only,
/// nothing sent over it after the handshake; exit 4 after the report.
#[test]
fn refused_in_tls12_is_reported_from_the_handshake() {
    let c = chain();
    let Some(p) = peer(&c, PeerMode::StartTls, "1.2", "1.2") else {
        return;
    };
    let run = run_at(&p.target(), &["--starttls"], "QUIT\n");
    let conns = p.finish();
    run.assert_code(4);
    assert_eq!(conns.len(), 1, "no second connection is needed: {conns:?}");
    assert!(conns[0].tls.as_deref().unwrap_or("").starts_with("failed"));
    assert!(conns[0].after.is_empty());
    has_line(
        &run,
        "* the certificate was refused; what the server presented, from the handshake:",
    );
    has_line(&run, "chain as the server sent it (2 certificates):");
    has_line(&run, "  [1] CN=smtpsh test CA");
    // OpenSSL's words: the server sent its CA, self-signed, which nobody trusts.
    has_line(
        &run,
        "verdict: NOT verified for \"127.0.0.1\": self-signed certificate in certificate chain",
    );
    // The report comes before the error and the exit.
    let report_at = run.stdout.find("chain as the server sent it").unwrap();
    let closed_at = run
        .stdout
        .find("* connection closed: certificate verification failed")
        .unwrap();
    assert!(report_at < closed_at, "{}", run.describe());
    assert!(
        run.stderr
            .contains("certificate verification failed for \"127.0.0.1\"")
    );
}

/// TLS 1.3 hid the chain of the refused handshake: a second connection, capped at TLS 1.2,
/// looks at it and sends nothing at all after its handshake.
#[test]
fn refused_in_tls13_is_looked_at_by_a_connection_that_sends_nothing() {
    let c = chain();
    let Some(p) = peer(&c, PeerMode::StartTls, "1.2", "1.3") else {
        return;
    };
    let run = run_at(&p.target(), &["--starttls"], "QUIT\n");
    let conns = p.finish();
    run.assert_code(4);
    assert_eq!(conns.len(), 2, "{conns:?}");
    assert!(conns[0].tls.as_deref().unwrap_or("").starts_with("failed"));
    assert_eq!(
        conns[1].before,
        [format!("EHLO {EHLO_NAME}"), "STARTTLS".into()]
    );
    assert_eq!(conns[1].version.as_deref(), Some("TLSv1.2"));
    assert!(
        conns[1].after.is_empty(),
        "sent after the handshake: {:?}",
        conns[1].after
    );
    has_line(
        &run,
        &format!(
            "* the certificate was refused; what the server presented, from a second connection (it sent EHLO {EHLO_NAME}, STARTTLS) that sent nothing after its handshake:"
        ),
    );
    has_line(
        &run,
        "chain as the server sent it on a second connection (TLSv1.2, 2 certificates):",
    );
    assert!(
        run.stdout.lines().any(|l| l.starts_with("TLS TLSv1.3 ")),
        "the refused handshake's own protocol heads the report\n{}",
        run.describe()
    );
}

/// Implicit TLS, refused, then `:tls` at the prompt's place in a script is not reached, but
/// the report was shown at connect time; `--json` carries it as an event.
#[test]
fn refused_at_connect_is_a_json_report_event() {
    let c = chain();
    let Some(p) = peer(&c, PeerMode::Implicit, "1.2", "1.2") else {
        return;
    };
    let run = run_at(&p.target(), &["--tls-on-connect", "--json"], "QUIT\n");
    let conns = p.finish();
    run.assert_code(4);
    assert_eq!(conns.len(), 1, "{conns:?}");
    let report: serde_json::Value = run
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "report")
        .unwrap_or_else(|| panic!("no report event\n{}", run.describe()));
    assert_eq!(report["report"]["kind"], "tls");
    assert_eq!(report["report"]["verdict"]["result"], "refused");
    assert_eq!(report["report"]["chain"].as_array().unwrap().len(), 2);
    assert_eq!(
        report["report"]["chain"][1]["sha256"],
        serde_json::Value::String(colon(&c.ca.der))
    );
}

// ---------------------------------------------------------------------------------------
// The wrong port
// ---------------------------------------------------------------------------------------

// See: issue 15, `--starttls` against an implicit-TLS port waited the whole --timeout in
// silence.
#[test]
fn starttls_against_implicit_tls_says_so_within_seconds() {
    let c = chain();
    let Some(p) = peer(&c, PeerMode::Implicit, "1.2", "1.3") else {
        return;
    };
    let run = run_at(&p.target(), &["--starttls", "--timeout", "30"], "QUIT\n");
    let conns = p.finish();
    run.assert_code(4);
    assert!(
        run.elapsed < Duration::from_secs(10),
        "took {:?}",
        run.elapsed
    );
    assert!(
        run.stderr.contains(&format!(
            "no greeting after 3 s, and a second connection found that {} speaks TLS from the first byte",
            p_target(&run)
        )) && run.stderr.contains("use --tls-on-connect"),
        "{}",
        run.describe()
    );
    // The first connection never sent a byte; the second only its ClientHello.
    assert_eq!(conns.len(), 2, "{conns:?}");
    assert!(
        conns
            .iter()
            .all(|c| c.before.is_empty() && c.after.is_empty())
    );
}

// See: issue 15, `--tls-on-connect` against a plaintext port printed "ssl3_get_record:
// wrong version number".
#[test]
fn tls_on_connect_against_a_greeting_says_use_starttls() {
    let server = FakeServer::start(vec![send(GREETING), Step::Drain]);
    let run = run_at(&server.target(), &["--tls-on-connect"], "QUIT\n");
    server.finish();
    run.assert_code(4);
    assert!(
        run.stderr.contains(
            "the server answered the TLS handshake in plaintext (\"220 fake.test ESMTP ready\"): this port speaks SMTP first, with STARTTLS; use --starttls instead of --tls-on-connect"
        ),
        "{}",
        run.describe()
    );
    assert!(
        !run.stderr.contains("wrong version number"),
        "{}",
        run.describe()
    );
}

/// A server that ends the handshake with an alert: named in words, and where to look.
#[test]
fn an_alert_from_the_server_is_named() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut hello = [0u8; 5];
        s.read_exact(&mut hello).unwrap();
        assert_eq!(hello[0], 22, "a ClientHello record");
        // A fatal handshake_failure (RFC 8446 §6).
        s.write_all(&[21, 3, 3, 0, 2, 2, 40]).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    });
    let run = run_at(&addr.to_string(), &["--tls-on-connect"], "QUIT\n");
    h.join().unwrap();
    run.assert_code(4);
    assert!(
        run.stderr.contains(
            "the server ended the TLS handshake with the alert handshake_failure (40): no cipher suite, group or signature algorithm in common, or the server's TLS setup is broken; see the server's log for why"
        ),
        "{}",
        run.describe()
    );
}

/// The same over STARTTLS, with the fake server: the alert comes after the ClientHello.
#[test]
fn an_alert_after_starttls_is_named() {
    let server = FakeServer::start(vec![
        send(GREETING),
        expect(&format!("EHLO {EHLO_NAME}")),
        send(ehlo_reply(&["STARTTLS"])),
        expect("STARTTLS"),
        send("220 2.0.0 go ahead\r\n"),
        Step::Sleep(300),
        send([21u8, 3, 3, 0, 2, 2, 70]),
        Step::Drain,
    ]);
    let run = run_at(&server.target(), &["--starttls"], "QUIT\n");
    server.finish();
    run.assert_code(4);
    assert!(
        run.stderr.contains(
            "the server ended the TLS handshake with the alert protocol_version (70): the server refuses every TLS version smtpsh offers (1.2 and 1.3); see the server's log for why"
        ),
        "{}",
        run.describe()
    );
}
