//! The DNS half of the loopback test world: DNSSEC keys made with ldns-keygen, zones written
//! from the test's certificates and signed with ldns-signzone, served by NSD on a free
//! loopback port, and a trust anchor file for smtpsh's resolver.
//!
//! Zones (all served by the one NSD):
//! - `test.`: signed; the trust anchor is its key-signing key (a DS file and a DNSKEY file).
//!   Holds the DANE hosts, the MTA-STS domains, and two delegations:
//! - `unsigned.test.`: delegated without a DS record, unsigned: provably insecure;
//! - `expired.test.`: delegated with a DS record, signed with signatures that ran out in
//!   2020: bogus.
//!
//! After signing, the TLSA data of `_25._tcp.bogus.test` is changed in the signed file, so
//! its signature no longer verifies: bogus for another reason.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Programs the world needs, with the Debian package of each.
pub const PROGRAMS: &[(&str, &str)] = &[
    ("/usr/sbin/nsd", "nsd"),
    ("/usr/bin/ldns-keygen", "ldnsutils"),
    ("/usr/bin/ldns-signzone", "ldnsutils"),
];

/// The TLSA data that is replaced after signing `test.`, and what replaces it.
pub const TAMPERED_FROM: &str = "3333333333333333333333333333333333333333333333333333333333333333";
/// See [`TAMPERED_FROM`].
pub const TAMPERED_TO: &str = "4444444444444444444444444444444444444444444444444444444444444444";

/// A running NSD, stopped (by PID) on drop.
pub struct Nsd {
    child: Child,
    /// Where it answers, UDP and TCP.
    pub addr: std::net::SocketAddr,
}

impl Drop for Nsd {
    fn drop(&mut self) {
        // SIGTERM to the process we started: NSD's parent takes its server processes down.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(dir: &Path, program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A key pair made with ldns-keygen: the base name of its files (`Kzone.+013+NNNNN`).
fn keygen(dir: &Path, zone: &str, ksk: bool) -> Result<String, String> {
    let mut args = vec!["-a", "ECDSAP256SHA256"];
    if ksk {
        args.push("-k");
    }
    args.push(zone);
    run(dir, "/usr/bin/ldns-keygen", &args)
}

/// Sign `zone_file` with the two keys; `-i`/`-e` dates when given (YYYYMMDD).
fn sign(
    dir: &Path,
    zone_file: &str,
    zone: &str,
    keys: [&str; 2],
    dates: Option<(&str, &str)>,
) -> Result<(), String> {
    let signed = format!("{zone_file}.signed");
    let mut args = vec!["-o", zone, "-f", &signed];
    if let Some((inception, expiration)) = dates {
        args.extend(["-i", inception, "-e", expiration]);
    }
    args.push(zone_file);
    args.extend(keys);
    run(dir, "/usr/bin/ldns-signzone", &args).map(|_| ())
}

const SOA: &str = "@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n@ IN NS ns.test.\n";

/// The zones, signed and served.
pub struct Zones {
    /// The NSD serving them.
    pub nsd: Nsd,
    /// The trust anchor as a DS record (ldns-keygen's `.ds` file).
    pub anchor_ds: PathBuf,
    /// The trust anchor as a DNSKEY record (the key-signing key's `.key` file).
    pub anchor_dnskey: PathBuf,
}

/// Write, sign and serve the zones in `dir`. `test_records` and `unsigned_records` and
/// `expired_records` are zone-file lines (relative names) the trials need.
pub fn serve(
    dir: &Path,
    port: u16,
    test_records: &str,
    unsigned_records: &str,
    expired_records: &str,
) -> Result<Zones, String> {
    // expired.test: its own keys, signatures valid only in January 2020.
    let e_zsk = keygen(dir, "expired.test.", false)?;
    let e_ksk = keygen(dir, "expired.test.", true)?;
    std::fs::write(
        dir.join("expired.test.zone"),
        format!("$ORIGIN expired.test.\n$TTL 300\n{SOA}{expired_records}"),
    )
    .map_err(|e| e.to_string())?;
    sign(
        dir,
        "expired.test.zone",
        "expired.test.",
        [&e_zsk, &e_ksk],
        Some(("20200101", "20200201")),
    )?;
    let expired_ds =
        std::fs::read_to_string(dir.join(format!("{e_ksk}.ds"))).map_err(|e| e.to_string())?;

    std::fs::write(
        dir.join("unsigned.test.zone"),
        format!("$ORIGIN unsigned.test.\n$TTL 300\n{SOA}{unsigned_records}"),
    )
    .map_err(|e| e.to_string())?;

    let zsk = keygen(dir, "test.", false)?;
    let ksk = keygen(dir, "test.", true)?;
    std::fs::write(
        dir.join("test.zone"),
        format!(
            "$ORIGIN test.\n$TTL 300\n{SOA}ns IN A 127.0.0.1\n\
             unsigned IN NS ns.test.\nexpired IN NS ns.test.\n{expired_ds}\n{test_records}"
        ),
    )
    .map_err(|e| e.to_string())?;
    sign(dir, "test.zone", "test.", [&zsk, &ksk], None)?;
    let signed = dir.join("test.zone.signed");
    let text = std::fs::read_to_string(&signed).map_err(|e| e.to_string())?;
    if !text.contains(TAMPERED_FROM) {
        return Err("the zone has no record to tamper with".into());
    }
    std::fs::write(&signed, text.replace(TAMPERED_FROM, TAMPERED_TO)).map_err(|e| e.to_string())?;

    let d = dir.display();
    let conf = format!(
        "server:\n  ip-address: 127.0.0.1\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n  \
         zonesdir: \"{d}\"\n  pidfile: \"{d}/nsd.pid\"\n  database: \"\"\n  \
         xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  zonelistfile: \"{d}/zone.list\"\n  \
         logfile: \"{d}/nsd.log\"\n  server-count: 1\n  verbosity: 1\n\
         remote-control:\n  control-enable: no\n\
         zone:\n  name: test.\n  zonefile: test.zone.signed\n\
         zone:\n  name: unsigned.test.\n  zonefile: unsigned.test.zone\n\
         zone:\n  name: expired.test.\n  zonefile: expired.test.zone.signed\n"
    );
    std::fs::write(dir.join("nsd.conf"), conf).map_err(|e| e.to_string())?;
    let child = Command::new("/usr/sbin/nsd")
        .args(["-d", "-c"])
        .arg(dir.join("nsd.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("nsd: {e}"))?;
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let mut nsd = Nsd { child, addr };
    let deadline = Instant::now() + Duration::from_secs(10);
    // Ready when the zones are loaded: a TCP query for test. SOA would do, but NSD opens
    // its sockets only after loading, so a TCP connection is enough.
    while std::net::TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = nsd.child.try_wait() {
            let log = std::fs::read_to_string(dir.join("nsd.log")).unwrap_or_default();
            return Err(format!("nsd exited at start ({status}): {log}"));
        }
        if Instant::now() > deadline {
            return Err("nsd did not start within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Zones {
        nsd,
        anchor_ds: dir.join(format!("{ksk}.ds")),
        anchor_dnskey: dir.join(format!("{ksk}.key")),
    })
}
