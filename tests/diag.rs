//! The DANE, MTA-STS and TLS-RPT engine (src/diag, src/net/{dns,anchor,fetch,policy}) against
//! a real world on loopback: NSD serving DNSSEC-signed zones (ldns-signzone) with smtpsh's
//! resolver given the zone's trust anchor, and an HTTPS policy server on port 443 of its own
//! 127.x.y.z address with a test CA (tests/diag/world.rs, tests/diag/https.rs). Every
//! negative verdict has its wrong record: a TLSA record that matches nothing, one of a usage
//! SMTP doesn't use, one in an unsigned zone, one whose signature no longer verifies, one
//! whose signatures expired; a policy behind a redirect, of the wrong type, too large, whose
//! mx patterns miss the MX, on a certificate not valid for mta-sts.DOMAIN; records doubled
//! or malformed.
//!
//! The world has mail servers too (tests/diag/mailers.rs): on port 25 of loopback addresses
//! of their own, TLS 1.3 and 1.2, one without STARTTLS, two that greet with 421. The shell's
//! `:dane` and `:mta-sts` and `smtpsh --audit` run against them as the real binary, given the
//! zone's trust anchor (`--trust-anchor`), NSD (`--dns-server`) and the world's CA
//! (`--cafile`); each trial asserts the report and what the servers saw.
//!
//! A custom harness (libtest-mimic) builds the world once for all trials and tears it down at
//! the end. When NSD, ldnsutils or python3 is missing, or ports 443 and 25 can't be bound
//! (not root), every trial is marked ignored and one line says why; with
//! `SMTPSH_REQUIRE_PEERS=1` or `CI=true` they fail instead.

mod common;

#[path = "diag/https.rs"]
mod https;
#[path = "diag/mailers.rs"]
mod mailers;
#[path = "diag/world.rs"]
mod world;

use std::sync::Arc;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, PublicKeyData};
use sha2::{Digest, Sha256};

use smtpsh::diag::dane::{Outcome, TlsaAnswer, Verdict};
use smtpsh::diag::dnssec::Dnssec;
use smtpsh::diag::mta_sts::{Connected, Mode, PolicyResult, RecordResult};
use smtpsh::net::dns::{Dns, DnsConfig, DnsSetupError};
use smtpsh::net::fetch::FetchConfig;
use smtpsh::net::policy::{dane_report, mta_sts_report, tlsrpt_report, unix_now};

type TrialResult = Result<(), String>;

/// A certificate and its key's SPKI, DER.
struct Cert {
    der: Vec<u8>,
    spki: Vec<u8>,
}

struct World {
    dir: tempfile::TempDir,
    zones: world::Zones,
    https: https::PolicyServer,
    ca_pem: String,
    ca_der: Vec<u8>,
    ee: Cert,
    ta: Cert,
    mx_sts: Cert,
    other: Cert,
    /// The mail servers, by host: mx-ee (TLS 1.3, DANE-EE), mx-ta (TLS 1.3, DANE-TA),
    /// mx-bad (TLS 1.2, a TLSA record that matches nothing), mx-plain (no STARTTLS), and
    /// mx-busy's two addresses (421).
    mail: Mail,
}

struct Mail {
    ee: mailers::Mailer,
    ee_spki: Vec<u8>,
    ta: mailers::Mailer,
    bad: mailers::Mailer,
    bad_spki: Vec<u8>,
    plain: mailers::Mailer,
    busy: [mailers::Mailer; 2],
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A leaf for `name` from `issuer`, with the PEM of its chain (leaf, CA) and its key.
fn mail_leaf(name: &str, issuer: &Issuer<'_, KeyPair>, ca_pem: &str) -> (Cert, String, String) {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![name.to_string()])
        .unwrap()
        .signed_by(&key, issuer)
        .unwrap();
    (
        Cert {
            der: cert.der().to_vec(),
            spki: key.subject_public_key_info(),
        },
        format!("{}{ca_pem}", cert.pem()),
        key.serialize_pem(),
    )
}

fn leaf(name: &str, issuer: &Issuer<'_, KeyPair>) -> Cert {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![name.to_string()])
        .unwrap()
        .signed_by(&key, issuer)
        .unwrap();
    Cert {
        der: cert.der().to_vec(),
        spki: key.subject_public_key_info(),
    }
}

/// Build the world, or say why it can't be built here.
fn build() -> Result<World, String> {
    for (path, package) in world::PROGRAMS {
        if !std::path::Path::new(path).exists() {
            return Err(format!(
                "{path} is not installed (apt-get install {package})"
            ));
        }
    }
    let listener = https::bind_443()?;
    let dir = tempfile::Builder::new()
        .prefix("diag-world-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .map_err(|e| e.to_string())?;

    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "smtpsh test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let ee = leaf("ee.test", &issuer);
    let ta = leaf("ta.test", &issuer);
    let mx_sts = leaf("mx.sts.test", &issuer);
    let other = leaf("other.test", &issuer);
    let unrelated = KeyPair::generate().unwrap().subject_public_key_info();

    // The policy server's certificate names every mta-sts host but wrongcert's.
    let web_key = KeyPair::generate().unwrap();
    let names: Vec<String> = [
        "sts",
        "chunked",
        "redirect",
        "html",
        "big",
        "uncovered",
        "missing",
        "audit",
    ]
    .iter()
    .map(|d| format!("mta-sts.{d}.test"))
    .collect();
    let web = CertificateParams::new(names)
        .unwrap()
        .signed_by(&web_key, &issuer)
        .unwrap();
    let server = https::start(listener, &web.pem(), &web_key.serialize_pem());
    let web_ip = https::ip(&server);

    // The mail servers.
    let dir_path = dir.path().to_path_buf();
    let (ee2, ee_chain, ee_key) = mail_leaf("mx-ee.test", &issuer, &ca.pem());
    let (_, ta_chain, ta_key) = mail_leaf("mx-ta.test", &issuer, &ca.pem());
    let (bad, bad_chain, bad_key) = mail_leaf("mx-bad.test", &issuer, &ca.pem());
    let (_, plain_chain, plain_key) = mail_leaf("mx-plain.test", &issuer, &ca.pem());
    use common::PeerMode;
    let m = |name: &str, salt: u32, mode: PeerMode, max: &str, chain: &str, key: &str| {
        mailers::start(&dir_path, name, salt, mode, max, chain, key)
    };
    let mail = Mail {
        ee: m("mx-ee", 1, PeerMode::StartTls, "1.3", &ee_chain, &ee_key)?,
        ee_spki: ee2.spki.clone(),
        ta: m("mx-ta", 2, PeerMode::StartTls, "1.3", &ta_chain, &ta_key)?,
        bad: m("mx-bad", 3, PeerMode::StartTls, "1.2", &bad_chain, &bad_key)?,
        bad_spki: bad.spki.clone(),
        plain: m(
            "mx-plain",
            4,
            PeerMode::NoStartTls,
            "1.3",
            &plain_chain,
            &plain_key,
        )?,
        busy: [
            m(
                "mx-busy-1",
                5,
                PeerMode::Busy,
                "1.3",
                &plain_chain,
                &plain_key,
            )?,
            m(
                "mx-busy-2",
                6,
                PeerMode::Busy,
                "1.3",
                &plain_chain,
                &plain_key,
            )?,
        ],
    };
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).map_err(|e| e.to_string())?;

    let sha = |b: &[u8]| hex(&Sha256::digest(b));
    let mut test = format!(
        "ee IN A 127.0.0.1\n_25._tcp.ee IN TLSA 3 1 1 {}\n\
         ta IN A 127.0.0.1\n_25._tcp.ta IN TLSA 2 0 1 {}\n\
         nomatch IN A 127.0.0.1\n_25._tcp.nomatch IN TLSA 3 1 1 {}\n\
         pkix IN A 127.0.0.1\n_25._tcp.pkix IN TLSA 1 1 1 {}\n\
         bogus IN A 127.0.0.1\n_25._tcp.bogus IN TLSA 3 1 1 {}\n\
         none IN A 127.0.0.1\n",
        sha(&ee.spki),
        sha(ca.der()),
        sha(&unrelated),
        sha(&ee.spki),
        world::TAMPERED_FROM,
    );
    for d in [
        "sts",
        "chunked",
        "redirect",
        "html",
        "big",
        "uncovered",
        "wrongcert",
        "missing",
    ] {
        test.push_str(&format!(
            "{d} IN MX 10 mx.{d}.test.\nmx.{d} IN A 127.0.0.1\nmta-sts.{d} IN A {web_ip}\n\
             _mta-sts.{d} IN TXT \"v=STSv1; id=20261202\"\n"
        ));
    }
    test.push_str(&format!(
        "mx-ee IN A {}\n_25._tcp.mx-ee IN TLSA 3 1 1 {}\n\
         mx-ta IN A {}\n_25._tcp.mx-ta IN TLSA 2 0 1 {}\n\
         mx-bad IN A {}\n_25._tcp.mx-bad IN TLSA 3 1 1 {}\n\
         mx-plain IN A {}\nmx-busy IN A {}\nmx-busy IN A {}\n\
         dane-ee IN MX 10 mx-ee.test.\ndane-ta IN MX 10 mx-ta.test.\ndane-bad IN MX 10 mx-bad.test.\n\
         audit IN MX 10 mx-ee.test.\naudit IN MX 20 mx-bad.test.\naudit IN MX 30 mx-busy.test.\n\
         audit IN MX 40 mx-plain.test.\nmta-sts.audit IN A {web_ip}\n\
         _mta-sts.audit IN TXT \"v=STSv1; id=20261202\"\n\
         _smtp._tls.audit IN TXT \"v=TLSRPTv1; rua=mailto:tls@audit.test\"\n\
         clean IN MX 10 mx-ee.test.\n",
        mail.ee.ip,
        sha(&ee2.spki),
        mail.ta.ip,
        sha(ca.der()),
        mail.bad.ip,
        sha(&unrelated),
        mail.plain.ip,
        mail.busy[0].ip,
        mail.busy[1].ip,
    ));
    test.push_str(
        "_smtp._tls.sts IN TXT \"v=TLSRPTv1; rua=mailto:tls@sts.test,https://report.sts.test/v1\"\n\
         _mta-sts.multi IN TXT \"v=STSv1; id=1\"\n_mta-sts.multi IN TXT \"v=STSv1; id=2\"\n\
         _mta-sts.badrec IN TXT \"v=STSv1; id=not-alnum\"\n_mta-sts.badrec IN TXT \"other=1\"\n\
         _smtp._tls.badrpt IN TXT \"v=TLSRPTv1; rua=reports@example.test\"\n\
         nosts IN MX 10 mx.nosts.test.\n",
    );
    let lower = format!(
        "mx IN A 127.0.0.1\n_25._tcp.mx IN TLSA 3 1 1 {}\n",
        sha(&ee.spki)
    );
    let port = common_free_port();
    let zones = world::serve(dir.path(), port, &test, &lower, &lower)?;
    Ok(World {
        dir,
        mail,
        zones,
        https: server,
        ca_pem: ca.pem(),
        ca_der: ca.der().to_vec(),
        ee,
        ta,
        mx_sts,
        other,
    })
}

/// A free TCP port on 127.0.0.1 (NSD takes the same number for UDP).
fn common_free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl World {
    fn dns_with(&self, anchor: &std::path::Path) -> Result<Dns, DnsSetupError> {
        Dns::new(&DnsConfig {
            server: Some(self.zones.nsd.addr),
            timeout: Duration::from_secs(3),
            trust_anchor: Some(anchor.to_path_buf()),
        })
    }

    fn dns(&self) -> Dns {
        self.dns_with(&self.zones.anchor_ds).expect("resolver")
    }

    fn fetch(&self) -> FetchConfig {
        FetchConfig {
            timeout: Duration::from_secs(10),
            extra_ca_pem: Some(self.ca_pem.clone().into_bytes()),
        }
    }
}

/// Print a report when `SMTPSH_DIAG_SHOW=1` (docs/tls.md's examples come from such a run);
/// otherwise a trial's report appears only in its failure message.
fn show(report: &dyn std::fmt::Display) {
    if std::env::var_os("SMTPSH_DIAG_SHOW").is_some() {
        println!("{report}");
    }
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

// ---------------------------------------------------------------------------------------
// DANE
// ---------------------------------------------------------------------------------------

fn dane_ee_verified(w: &World) -> TrialResult {
    let r = dane_report(
        &w.dns(),
        "ee.test",
        25,
        &[w.ee.der.clone(), w.ca_der.clone()],
        unix_now(),
    );
    show(&r);
    ensure!(
        r.verdict
            == Verdict::Verified {
                usage: "DANE-EE".into(),
                record: 1,
                depth: 0
            },
        "{r}"
    );
    let text = r.to_string();
    let first = text.lines().next().unwrap_or("");
    ensure!(
        first == "TLSA _25._tcp.ee.test: 1 record, secure (DNSSEC-validated)",
        "first line: {first}"
    );
    ensure!(
        text.contains(&format!(
            "  [1] 3 1 1 {}  DANE-EE(3) SPKI(1) SHA2-256(1): matches the certificate at depth 0\n",
            hex(&Sha256::digest(&w.ee.spki))
        )),
        "{text}"
    );
    ensure!(
        r.address_dnssec == Some(Dnssec::Secure),
        "{:?}",
        r.address_dnssec
    );
    Ok(())
}

fn dane_ta_verified(w: &World) -> TrialResult {
    let r = dane_report(
        &w.dns(),
        "ta.test",
        25,
        &[w.ta.der.clone(), w.ca_der.clone()],
        unix_now(),
    );
    show(&r);
    ensure!(
        r.verdict
            == Verdict::Verified {
                usage: "DANE-TA".into(),
                record: 1,
                depth: 1
            },
        "{r}"
    );
    // The same trust anchor vouches for ee.test's certificate, but not for the name ta.test.
    let r = dane_report(
        &w.dns(),
        "ta.test",
        25,
        &[w.ee.der.clone(), w.ca_der.clone()],
        unix_now(),
    );
    ensure!(r.verdict == Verdict::NoMatch, "{r}");
    ensure!(
        r.to_string()
            .contains("matches the certificate at depth 1, but the server's certificate names ee.test, not ta.test (RFC 7672 §3.2.3)"),
        "{r}"
    );
    Ok(())
}

fn dane_no_match_says_what_would(w: &World) -> TrialResult {
    let r = dane_report(
        &w.dns(),
        "nomatch.test",
        25,
        std::slice::from_ref(&w.ee.der),
        unix_now(),
    );
    show(&r);
    ensure!(r.verdict == Verdict::NoMatch, "{r}");
    let want = format!(
        "  _25._tcp.nomatch.test 3 1 1 {}",
        hex(&Sha256::digest(&w.ee.spki))
    );
    ensure!(r.to_string().contains(&want), "no {want:?} in\n{r}");
    Ok(())
}

fn dane_pkix_usage_is_unusable(w: &World) -> TrialResult {
    let r = dane_report(
        &w.dns(),
        "pkix.test",
        25,
        std::slice::from_ref(&w.ee.der),
        unix_now(),
    );
    show(&r);
    ensure!(r.verdict == Verdict::NoUsableRecords, "{r}");
    ensure!(
        matches!(&r.checks[0].outcome, Outcome::Unusable { why } if why.ends_with("it would match the certificate at depth 0")),
        "{r}"
    );
    Ok(())
}

fn dane_unsigned_zone_is_not_validated(w: &World) -> TrialResult {
    let r = dane_report(
        &w.dns(),
        "mx.unsigned.test",
        25,
        std::slice::from_ref(&w.ee.der),
        unix_now(),
    );
    show(&r);
    ensure!(
        r.verdict
            == Verdict::NotValidated {
                dnssec: Dnssec::Insecure
            },
        "{r}"
    );
    ensure!(r.address_dnssec == Some(Dnssec::Insecure), "{r}");
    ensure!(r.notes.iter().any(|n| n.contains("RFC 7672 §2.2.2")), "{r}");
    Ok(())
}

fn dane_changed_record_is_bogus(w: &World) -> TrialResult {
    let r = dane_report(
        &w.dns(),
        "bogus.test",
        25,
        std::slice::from_ref(&w.ee.der),
        unix_now(),
    );
    show(&r);
    let Verdict::Bogus { reason } = &r.verdict else {
        return Err(format!("not bogus:\n{r}"));
    };
    ensure!(
        reason.contains("does not verify over the TLSA records: they were changed after signing"),
        "{reason}"
    );
    // The records are shown even so, as the server publishes them.
    ensure!(
        matches!(&r.answer, TlsaAnswer::Records { records, .. } if records[0].to_string().ends_with(world::TAMPERED_TO)),
        "{r}"
    );
    Ok(())
}

fn dane_expired_signatures_are_bogus(w: &World) -> TrialResult {
    let r = dane_report(
        &w.dns(),
        "mx.expired.test",
        25,
        std::slice::from_ref(&w.ee.der),
        unix_now(),
    );
    show(&r);
    let Verdict::Bogus { reason } = &r.verdict else {
        return Err(format!("not bogus:\n{r}"));
    };
    ensure!(reason.contains("expired on 2020-02-01"), "{reason}");
    Ok(())
}

fn dane_no_records(w: &World) -> TrialResult {
    let r = dane_report(
        &w.dns(),
        "none.test",
        25,
        std::slice::from_ref(&w.ee.der),
        unix_now(),
    );
    show(&r);
    ensure!(r.verdict == Verdict::NoRecords, "{r}");
    ensure!(
        r.answer
            == TlsaAnswer::NoRecords {
                dnssec: Dnssec::Secure
            },
        "{:?}",
        r.answer
    );
    Ok(())
}

fn dane_with_a_dnskey_trust_anchor(w: &World) -> TrialResult {
    let dns = w
        .dns_with(&w.zones.anchor_dnskey)
        .map_err(|e| e.to_string())?;
    let r = dane_report(
        &dns,
        "ee.test",
        25,
        std::slice::from_ref(&w.ee.der),
        unix_now(),
    );
    ensure!(matches!(r.verdict, Verdict::Verified { .. }), "{r}");
    Ok(())
}

fn trust_anchor_for_another_key_is_refused(w: &World) -> TrialResult {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("wrong.ds");
    std::fs::write(&file, format!("test. IN DS 1 13 2 {}\n", "ab".repeat(32)))
        .map_err(|e| e.to_string())?;
    match w.dns_with(&file) {
        Err(e) => {
            let text = e.to_string();
            ensure!(
                text.ends_with("none of test.'s DNSKEY records is the one the trust anchor names"),
                "{text}"
            );
            Ok(())
        }
        Ok(_) => Err("a trust anchor for a key the zone doesn't have was accepted".into()),
    }
}

// ---------------------------------------------------------------------------------------
// MTA-STS and TLS-RPT
// ---------------------------------------------------------------------------------------

fn mta_sts_enforce_policy_all_good(w: &World) -> TrialResult {
    let chain = [w.mx_sts.der.clone(), w.ca_der.clone()];
    let r = mta_sts_report(
        &w.dns(),
        &w.fetch(),
        "sts.test",
        None,
        Some(Connected {
            host: "mx.sts.test",
            chain: &chain,
            pkix: Some(Ok(())),
        }),
        unix_now(),
    );
    show(&r);
    ensure!(r.problems.is_empty(), "{r}");
    ensure!(r.mode() == Some(Mode::Enforce), "{r}");
    ensure!(
        r.mx_hosts.len() == 1 && r.mx_hosts[0].pattern.as_deref() == Some("mx.sts.test"),
        "{r}"
    );
    // The request as sent: one GET, by RFC 8461 §3.3, no caching.
    let reqs = w.https.requests_for("mta-sts.sts.test");
    let want = format!(
        "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.sts.test\r\nUser-Agent: smtpsh/{}\r\nAccept: text/plain\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    ensure!(reqs.contains(&want), "requests: {reqs:?}");
    Ok(())
}

fn mta_sts_chunked_testing_policy(w: &World) -> TrialResult {
    let r = mta_sts_report(&w.dns(), &w.fetch(), "chunked.test", None, None, unix_now());
    show(&r);
    let PolicyResult::Valid { policy, .. } = &r.policy else {
        return Err(format!("{r}"));
    };
    ensure!(
        policy.mode == Mode::Testing && policy.max_age == 604_800,
        "{r}"
    );
    ensure!(
        r.mx_hosts[0].pattern.as_deref() == Some("*.chunked.test"),
        "{r}"
    );
    ensure!(r.problems.is_empty(), "{r}");
    Ok(())
}

fn fetch_failure(w: &World, domain: &str) -> Result<String, String> {
    let r = mta_sts_report(&w.dns(), &w.fetch(), domain, None, None, unix_now());
    show(&r);
    match &r.policy {
        PolicyResult::FetchFailed { url, why } => {
            ensure!(
                url == &format!("https://mta-sts.{domain}/.well-known/mta-sts.txt"),
                "{url}"
            );
            ensure!(r.mode().is_none() && !r.problems.is_empty(), "{r}");
            Ok(why.clone())
        }
        _ => Err(format!("the fetch did not fail:\n{r}")),
    }
}

fn mta_sts_redirect_is_not_followed(w: &World) -> TrialResult {
    let why = fetch_failure(w, "redirect.test")?;
    ensure!(
        why == format!(
            "HTTP 301 redirect to {}: RFC 8461 §3.3 forbids following redirects",
            https::REDIRECT_TARGET
        ),
        "{why}"
    );
    ensure!(
        w.https
            .requests_for("mta-sts.redirect-target.test")
            .is_empty(),
        "the redirect was followed"
    );
    ensure!(
        w.https.requests_for("mta-sts.redirect.test").len() == 1,
        "not asked once"
    );
    Ok(())
}

fn mta_sts_wrong_content_type(w: &World) -> TrialResult {
    let why = fetch_failure(w, "html.test")?;
    ensure!(
        why == "Content-Type is text/html; charset=utf-8, not text/plain (RFC 8461 §3.3)",
        "{why}"
    );
    Ok(())
}

fn mta_sts_oversized_policy(w: &World) -> TrialResult {
    let why = fetch_failure(w, "big.test")?;
    ensure!(
        why == "the policy is larger than 65536 bytes (64 KiB, RFC 8461 §3.3)",
        "{why}"
    );
    Ok(())
}

fn mta_sts_missing_policy(w: &World) -> TrialResult {
    let why = fetch_failure(w, "missing.test")?;
    ensure!(
        why == "HTTP 404 Not Found (a policy needs a 2xx answer)",
        "{why}"
    );
    Ok(())
}

fn mta_sts_certificate_not_for_the_policy_host(w: &World) -> TrialResult {
    let why = fetch_failure(w, "wrongcert.test")?;
    // See: issue 15, the reason was OpenSSL's raw error stack.
    ensure!(
        why == "TLS with mta-sts.wrongcert.test failed: certificate verification failed: hostname mismatch",
        "{why}"
    );
    ensure!(
        w.https.requests_for("mta-sts.wrongcert.test").is_empty(),
        "a request went to a server with the wrong certificate"
    );
    // Without the test CA, even the good host fails verification.
    let bare = FetchConfig {
        timeout: Duration::from_secs(10),
        extra_ca_pem: None,
    };
    let r = mta_sts_report(&w.dns(), &bare, "sts.test", None, None, unix_now());
    ensure!(
        matches!(&r.policy, PolicyResult::FetchFailed { why, .. } if why.starts_with("TLS with mta-sts.sts.test failed")),
        "{r}"
    );
    Ok(())
}

fn mta_sts_patterns_miss_the_mx_and_the_certificate(w: &World) -> TrialResult {
    let chain = [w.other.der.clone()];
    let r = mta_sts_report(
        &w.dns(),
        &w.fetch(),
        "uncovered.test",
        None,
        Some(Connected {
            host: "mx.uncovered.test",
            chain: &chain,
            pkix: Some(Err("hostname mismatch")),
        }),
        unix_now(),
    );
    show(&r);
    ensure!(
        r.problems
            == [
                "MX host mx.uncovered.test is not covered by the policy's mx patterns: senders will not deliver there",
                "the certificate of mx.uncovered.test names other.test, not mx.uncovered.test (RFC 8461 §4.1)",
                "the certificate of mx.uncovered.test does not verify (PKIX): hostname mismatch",
            ],
        "{:#?}",
        r.problems
    );
    Ok(())
}

fn mta_sts_records_doubled_malformed_absent(w: &World) -> TrialResult {
    let dns = w.dns();
    let r = mta_sts_report(&dns, &w.fetch(), "multi.test", Some(&[]), None, unix_now());
    ensure!(
        matches!(&r.record, RecordResult::Multiple { texts } if texts.len() == 2),
        "{r}"
    );
    ensure!(r.policy == PolicyResult::NotFetched, "{r}");
    let r = mta_sts_report(&dns, &w.fetch(), "badrec.test", Some(&[]), None, unix_now());
    show(&r);
    ensure!(
        matches!(&r.record, RecordResult::Invalid { why, .. } if why == "id \"not-alnum\" must be 1 to 32 letters and digits"),
        "{r}"
    );
    let r = mta_sts_report(&dns, &w.fetch(), "nosts.test", None, None, unix_now());
    show(&r);
    ensure!(
        r.record
            == RecordResult::NotFound {
                dnssec: Dnssec::Secure
            },
        "{r}"
    );
    ensure!(
        r.verdict() == "no MTA-STS: _mta-sts.nosts.test has no v=STSv1 record",
        "{}",
        r.verdict()
    );
    Ok(())
}

fn tlsrpt_records(w: &World) -> TrialResult {
    let dns = w.dns();
    let r = tlsrpt_report(&dns, "sts.test");
    show(&r);
    ensure!(
        r.to_string()
            == "TLS-RPT _smtp._tls.sts.test: \"v=TLSRPTv1; rua=mailto:tls@sts.test,https://report.sts.test/v1\" (secure (DNSSEC-validated))\n  reports to mailto:tls@sts.test\n  reports to https://report.sts.test/v1\n",
        "{r}"
    );
    let r = tlsrpt_report(&dns, "badrpt.test");
    ensure!(
        matches!(&r.record, RecordResult::Invalid { why, .. } if why.contains("not a URI")),
        "{r}"
    );
    let r = tlsrpt_report(&dns, "nosts.test");
    ensure!(matches!(r.record, RecordResult::NotFound { .. }), "{r}");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The shell and --audit, as the binary
// ---------------------------------------------------------------------------------------

impl World {
    /// The binary, given NSD, the zone's trust anchor and the world's CA.
    fn smtpsh(&self, args: &[&str], stdin: &str) -> common::Run {
        let mut cmd = common::smtpsh();
        cmd.args(["--dns-server", &self.zones.nsd.addr.to_string()])
            .arg("--trust-anchor")
            .arg(&self.zones.anchor_ds)
            .arg("--cafile")
            .arg(self.dir.path().join("ca.pem"))
            .args(["--ehlo", "client.test", "--timeout", "10"])
            .args(args)
            .write_stdin(stdin);
        common::run_quiet(&mut cmd)
    }
}

fn line(run: &common::Run, want: &str) -> TrialResult {
    ensure!(
        run.stdout.lines().any(|l| l == want),
        "no line {want:?}\n{}",
        run.describe()
    );
    Ok(())
}

fn shell_dane_ee_through_mx(w: &World) -> TrialResult {
    let run = w.smtpsh(&["--starttls", "--mx", "dane-ee.test"], ":dane\nQUIT\n");
    show(&run.stdout);
    ensure!(run.code == Some(0), "{}", run.describe());
    line(
        &run,
        "TLSA _25._tcp.mx-ee.test: 1 record, secure (DNSSEC-validated)",
    )?;
    line(
        &run,
        &format!(
            "  [1] 3 1 1 {}  DANE-EE(3) SPKI(1) SHA2-256(1): matches the certificate at depth 0",
            hex(&Sha256::digest(&w.mail.ee_spki))
        ),
    )?;
    line(
        &run,
        "verdict: verified by DANE-EE (record 1 matches the certificate at depth 0)",
    )
}

/// TLS 1.3 hid the CA a DANE-TA record names: `:dane` fetches the chain over TLS 1.2 first.
fn shell_dane_ta_fetches_the_chain_tls13_hid(w: &World) -> TrialResult {
    let before = w.mail.ta.peer.records().len();
    let run = w.smtpsh(&["--starttls", "--mx", "dane-ta.test"], ":dane\nQUIT\n");
    show(&run.stdout);
    ensure!(run.code == Some(0), "{}", run.describe());
    line(
        &run,
        "* a DANE-TA record needs the chain above the server's certificate, which TLS 1.3 hid: fetching it (as :tls chain does)",
    )?;
    line(
        &run,
        "verdict: verified by DANE-TA (record 1 matches the certificate at depth 1)",
    )?;
    let conns = w.mail.ta.peer.records();
    let new = conns.get(before..).unwrap_or(&[]);
    ensure!(new.len() == 2, "{new:?}");
    ensure!(
        new.iter()
            .any(|c| c.version.as_deref() == Some("TLSv1.3")
                && c.after == ["EHLO client.test", "QUIT"]),
        "the session's connection: {new:?}"
    );
    ensure!(
        new.iter().any(|c| c.version.as_deref() == Some("TLSv1.2")
            && c.before == ["EHLO client.test", "STARTTLS"]
            && c.after == ["QUIT"]),
        "the chain's connection: {new:?}"
    );
    Ok(())
}

fn shell_dane_no_match_says_what_would(w: &World) -> TrialResult {
    let run = w.smtpsh(&["--starttls", "--mx", "dane-bad.test"], ":dane\nQUIT\n");
    show(&run.stdout);
    ensure!(run.code == Some(0), "{}", run.describe());
    line(
        &run,
        "verdict: no match: no usable TLSA record matches the server's certificates; a DANE sender will not deliver here",
    )?;
    line(
        &run,
        &format!(
            "  _25._tcp.mx-bad.test 3 1 1 {}",
            hex(&Sha256::digest(&w.mail.bad_spki))
        ),
    )
}

/// `:dane` needs a host name: an address has no TLSA records.
fn shell_dane_refuses_an_address(w: &World) -> TrialResult {
    let target = format!("{}:25", w.mail.ee.ip);
    let run = w.smtpsh(
        &["--starttls", "--tls-name", "mx-ee.test", &target],
        ":dane\nQUIT\n",
    );
    ensure!(run.code == Some(2), "{}", run.describe());
    ensure!(
        run.stderr
            .contains(":dane: TLSA records are published under a host name"),
        "{}",
        run.describe()
    );
    Ok(())
}

/// `:mta-sts` without a domain: the domain of `--mx`; the connected host checked too.
fn shell_mta_sts_for_the_mx_domain(w: &World) -> TrialResult {
    let run = w.smtpsh(&["--starttls", "--mx", "audit.test"], ":mta-sts\nQUIT\n");
    show(&run.stdout);
    ensure!(run.code == Some(0), "{}", run.describe());
    for want in [
        "policy https://mta-sts.audit.test/.well-known/mta-sts.txt: 200 text/plain, 99 bytes",
        "  mode: enforce",
        "connected host mx-ee.test: allowed by \"mx-ee.test\"",
        "  certificate names: mx-ee.test (one covers the host)",
        "  certificate verified (PKIX)",
        "  mx-busy.test: not covered by any mx pattern",
        "  - MX host mx-busy.test is not covered by the policy's mx patterns: senders will not deliver there",
        "TLS-RPT _smtp._tls.audit.test: \"v=TLSRPTv1; rua=mailto:tls@audit.test\" (secure (DNSSEC-validated))",
    ] {
        line(&run, want)?;
    }
    Ok(())
}

fn busy_connections(w: &World) -> usize {
    w.mail.busy.iter().map(|b| b.peer.records().len()).sum()
}

/// The whole audit: a table row per address, the findings worst first, exit 4; the 421 of
/// mx-busy's first address leaves its second alone; every visit ends with QUIT.
fn audit_table_findings_and_exit(w: &World) -> TrialResult {
    let busy_before = busy_connections(w);
    let plain_before = w.mail.plain.peer.records().len();
    let run = w.smtpsh(&["--audit", "audit.test"], "");
    show(&run.stdout);
    ensure!(run.code == Some(4), "{}", run.describe());
    let text = &run.stdout;
    ensure!(
        text.starts_with("audit of audit.test: 4 hosts, 5 addresses, port 25; MX records secure (DNSSEC-validated)\nPREF  HOST "),
        "{}",
        run.describe()
    );
    let row = |host: &str| -> Result<String, String> {
        text.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(host))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .ok_or_else(|| format!("no row for {host}\n{text}"))
    };
    let ee = row("mx-ee.test")?;
    ensure!(
        ee.contains(" 220 (")
            && ee.contains(" yes TLSv1.3 x25519 verified, ")
            && ee.ends_with(" days DANE-EE covered"),
        "{ee}"
    );
    let bad = row("mx-bad.test")?;
    ensure!(
        bad.contains(" yes TLSv1.2 ") && bad.ends_with(" NO MATCH covered"),
        "{bad}"
    );
    let plain = row("mx-plain.test")?;
    ensure!(
        plain.contains(" NOT OFFERED - - - covered") || plain.contains(" NOT OFFERED - - -"),
        "{plain}"
    );
    ensure!(
        text.lines()
            .filter(|l| l.contains("mx-busy.test") && l.contains(" skipped"))
            .count()
            == 1,
        "{text}"
    );
    let findings: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "findings, worst first:")
        .skip(1)
        .collect();
    ensure!(
        findings.len() == 4
            && findings[..3].iter().all(|f| f.starts_with("  TLS      "))
            && findings[3].starts_with("  network  mx-busy.test ("),
        "{findings:#?}"
    );
    ensure!(
        findings
            .iter()
            .any(|f| f.contains("mx-bad.test (") && f.contains("DANE: no match")),
        "{findings:#?}"
    );
    ensure!(
        findings
            .iter()
            .any(|f| f.contains("mx-plain.test (") && f.contains("STARTTLS is not offered")),
        "{findings:#?}"
    );
    ensure!(
        findings
            .iter()
            .any(|f| f.contains("MTA-STS: MX host mx-busy.test is not covered")),
        "{findings:#?}"
    );
    ensure!(
        run.stderr.contains("smtpsh: error: --audit audit.test: 4 findings; the worst (TLS): mx-bad.test DANE: no match"),
        "{}",
        run.describe()
    );
    ensure!(
        busy_connections(w) - busy_before == 1,
        "a 421 did not stop the host"
    );
    let plain = w.mail.plain.peer.records();
    let visit = plain.get(plain_before..).unwrap_or(&[]);
    ensure!(
        visit.len() == 1 && visit[0].before == ["EHLO client.test", "QUIT"],
        "{visit:?}"
    );

    // The same as one JSON document.
    let run = w.smtpsh(&["--audit", "audit.test", "--json"], "");
    ensure!(run.code == Some(4), "{}", run.describe());
    let v: serde_json::Value =
        serde_json::from_str(&run.stdout).map_err(|e| format!("{e}: {}", run.stdout))?;
    ensure!(v["worst"] == "tls", "{v}");
    ensure!(v["addresses"].as_array().map(Vec::len) == Some(5), "{v}");
    ensure!(
        v["addresses"][0]["tls"]["chain"][0]["subject"] == "CN=rcgen self signed cert",
        "{v}"
    );
    ensure!(
        v["addresses"][0]["dane"]["verdict"]["verdict"] == "verified",
        "{v}"
    );
    ensure!(v["mta_sts"]["policy"]["policy"]["mode"] == "enforce", "{v}");
    ensure!(v["tlsrpt"]["record"]["result"] == "found", "{v}");
    Ok(())
}

fn audit_clean_domain_exits_0(w: &World) -> TrialResult {
    let run = w.smtpsh(&["--audit", "clean.test"], "");
    show(&run.stdout);
    ensure!(run.code == Some(0), "{}", run.describe());
    ensure!(
        run.stdout.ends_with("findings: none\n"),
        "{}",
        run.describe()
    );
    line(&run, "DANE for mx-ee.test (MX_EE): verified by DANE-EE (record 1 matches the certificate at depth 0)".replace("MX_EE", &w.mail.ee.ip.to_string()).as_str())
}

// ---------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------

type TrialFn = fn(&World) -> TrialResult;

const TRIALS: &[(&str, TrialFn)] = &[
    ("dane_ee_verified", dane_ee_verified),
    ("dane_ta_verified", dane_ta_verified),
    (
        "dane_no_match_says_what_would",
        dane_no_match_says_what_would,
    ),
    ("dane_pkix_usage_is_unusable", dane_pkix_usage_is_unusable),
    (
        "dane_unsigned_zone_is_not_validated",
        dane_unsigned_zone_is_not_validated,
    ),
    ("dane_changed_record_is_bogus", dane_changed_record_is_bogus),
    (
        "dane_expired_signatures_are_bogus",
        dane_expired_signatures_are_bogus,
    ),
    ("dane_no_records", dane_no_records),
    (
        "dane_with_a_dnskey_trust_anchor",
        dane_with_a_dnskey_trust_anchor,
    ),
    (
        "trust_anchor_for_another_key_is_refused",
        trust_anchor_for_another_key_is_refused,
    ),
    (
        "mta_sts_enforce_policy_all_good",
        mta_sts_enforce_policy_all_good,
    ),
    (
        "mta_sts_chunked_testing_policy",
        mta_sts_chunked_testing_policy,
    ),
    (
        "mta_sts_redirect_is_not_followed",
        mta_sts_redirect_is_not_followed,
    ),
    ("mta_sts_wrong_content_type", mta_sts_wrong_content_type),
    ("mta_sts_oversized_policy", mta_sts_oversized_policy),
    ("mta_sts_missing_policy", mta_sts_missing_policy),
    (
        "mta_sts_certificate_not_for_the_policy_host",
        mta_sts_certificate_not_for_the_policy_host,
    ),
    (
        "mta_sts_patterns_miss_the_mx_and_the_certificate",
        mta_sts_patterns_miss_the_mx_and_the_certificate,
    ),
    (
        "mta_sts_records_doubled_malformed_absent",
        mta_sts_records_doubled_malformed_absent,
    ),
    ("tlsrpt_records", tlsrpt_records),
    ("shell_dane_ee_through_mx", shell_dane_ee_through_mx),
    (
        "shell_dane_ta_fetches_the_chain_tls13_hid",
        shell_dane_ta_fetches_the_chain_tls13_hid,
    ),
    (
        "shell_dane_no_match_says_what_would",
        shell_dane_no_match_says_what_would,
    ),
    (
        "shell_dane_refuses_an_address",
        shell_dane_refuses_an_address,
    ),
    (
        "shell_mta_sts_for_the_mx_domain",
        shell_mta_sts_for_the_mx_domain,
    ),
    (
        "audit_table_findings_and_exit",
        audit_table_findings_and_exit,
    ),
    ("audit_clean_domain_exits_0", audit_clean_domain_exits_0),
];

fn main() {
    let args = Arguments::from_args();
    if args.list {
        let trials = TRIALS
            .iter()
            .map(|(name, _)| Trial::test(*name, || Ok(())))
            .collect();
        libtest_mimic::run(&args, trials).exit();
    }
    let started = std::time::Instant::now();
    let world = build().map(Arc::new);
    if world.is_ok() {
        println!("diag world ready in {:?}", started.elapsed());
    }
    let trials: Vec<Trial> = TRIALS
        .iter()
        .map(|&(name, f)| match &world {
            Ok(w) => {
                let w = Arc::clone(w);
                Trial::test(name, move || f(&w).map_err(Failed::from))
            }
            Err(why) if common::peers_required() => {
                let why = why.clone();
                Trial::test(name, move || {
                    Err(Failed::from(format!(
                        "CI or SMTPSH_REQUIRE_PEERS=1, but the diag world can't be built: {why}"
                    )))
                })
            }
            Err(_) => Trial::test(name, || Ok(())).with_ignored_flag(true),
        })
        .collect();
    if let Err(why) = &world {
        println!("diag suite left out: {why}");
    }
    let conclusion = libtest_mimic::run(&args, trials);
    // Stop NSD and the policy server before exiting (exit() skips destructors).
    drop(world);
    conclusion.exit();
}
