//! The listener: binds with a backlog as large as the connection limit, accepts on its own
//! thread, gives each connection a thread of its own (from the pool of `pool.rs`, which
//! keeps threads for the next connection), enforces the total and per-client connection
//! limits, and on request tells every session `421` and shuts everything down.
//!
//! Plain threads, not async: a classroom is tens of connections, a thread each is simple
//! to reason about, and every blocking read and write has a deadline. What made 200
//! concurrent clients slow was first the listen backlog (std's fixed 128, under the
//! 256-connection cap): a burst overflowed it, the kernel dropped SYNs, and the clients
//! waited out TCP's one-second retransmission timer; then starting and ending a thread per
//! connection (docs/performance.md).

use std::collections::HashMap;
use std::io::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::PracticeConfig;
use super::conn::{self, Shared};
use super::events::Hub;
use super::pool::Pool;
use super::rate::AuthRate;
use super::reach::Reach;
use super::served::{self, CertOrigin, Served};
use super::stop::Stop;
use super::store::{Mailbox, Maildir};
use crate::error::Error;
use crate::smtp::reply::{Code, Reply};
use crate::smtp::syntax;

/// The least listen backlog: a burst of a thousand clients waits in the kernel for its
/// greeting or its 421 (the kernel may cap it lower: Linux's `net.core.somaxconn`).
pub const MIN_BACKLOG: usize = 1024;

/// How long a stopping server waits for its sessions to say `421` and close before it
/// closes what is left (a session stuck writing to a client that does not read).
const STOP_GRACE: Duration = Duration::from_secs(3);

/// A running practice server. Dropping it (or [`PracticeServer::shutdown`]) stops it.
pub struct PracticeServer {
    addr: SocketAddr,
    cert_pem: String,
    fingerprint: String,
    cert_names: Vec<String>,
    cert_origin: CertOrigin,
    reach: Reach,
    mailbox: Mailbox,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
    registry: Arc<Registry>,
}

impl std::fmt::Debug for PracticeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PracticeServer")
            .field("addr", &self.addr)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// The open connections: a handle on each socket (to shut it down) and its thread, and
/// how many each client address has.
#[derive(Default)]
struct Registry {
    next: AtomicU64,
    open: Mutex<Open>,
    threads: Arc<Pool>,
}

#[derive(Default)]
struct Open {
    sessions: HashMap<u64, Session>,
    per_client: HashMap<IpAddr, usize>,
}

struct Session {
    stream: TcpStream,
    /// Raised when the session's job has ended, however it ended ([`Slot`]).
    ended: Arc<AtomicBool>,
}

impl Open {
    fn len(&self) -> usize {
        self.sessions.len()
    }
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl PracticeServer {
    /// Make the certificate, bind `config.addr`, and start accepting on a thread of its own.
    /// Returns at once; [`PracticeServer::addr`] says where it listens (useful with port 0).
    pub fn start(config: PracticeConfig) -> Result<PracticeServer, Error> {
        let maildir = open(&config)?;
        let backlog = config.limits.max_connections.max(MIN_BACKLOG);
        let listener = listen(config.addr, backlog).map_err(|e| bind_error(config.addr, &e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| bind_error(config.addr, &e))?;
        // `::` serves IPv4 too unless the socket is IPv6-only (Windows' default).
        let dual_stack =
            addr.is_ipv6() && !socket2::SockRef::from(&listener).only_v6().unwrap_or(true);
        let reach = Reach::of(addr, dual_stack, &config.cert_names);
        let prepared = prepare(config, maildir, &reach)?;
        let mailbox = prepared.shared.mailbox.clone();
        let shared = Arc::new(prepared.shared);
        let registry = Arc::new(Registry::default());
        let accept = {
            let (shared, registry) = (shared.clone(), registry.clone());
            thread::Builder::new()
                .name("practice-accept".into())
                .spawn(move || accept_loop(&listener, &shared, &registry))
                .map_err(|e| {
                    Error::Usage(format!("cannot start the practice server's thread: {e}"))
                })?
        };
        Ok(PracticeServer {
            addr,
            cert_pem: prepared.served.pem,
            fingerprint: prepared.served.fingerprint,
            cert_names: prepared.served.names,
            cert_origin: prepared.served.origin,
            reach,
            mailbox,
            shared,
            accept: Some(accept),
            registry,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The certificate served, PEM (for `--cert-out`, and a client's `--cafile`).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The names and addresses the certificate holds (its subjectAltName).
    pub fn cert_names(&self) -> &[String] {
        &self.cert_names
    }

    /// Where the certificate came from: made now, kept, reused, the teacher's own.
    pub fn cert_origin(&self) -> &CertOrigin {
        &self.cert_origin
    }

    /// How students reach this server.
    pub fn reach(&self) -> &Reach {
        &self.reach
    }

    /// SHA-256 of the certificate, colon-separated upper-case hex, the form the shell
    /// shows after STARTTLS.
    pub fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    /// The messages accepted so far (a handle: it sees later ones too).
    pub fn mailbox(&self) -> Mailbox {
        self.mailbox.clone()
    }

    /// How many connections are open now.
    pub fn connections(&self) -> usize {
        self.registry.lock().len()
    }

    /// The memory messages take now, kept and in progress, in octets (bounded by
    /// [`super::Limits::max_stored`]).
    pub fn memory_used(&self) -> usize {
        self.shared.mailbox.budget().used()
    }

    /// Stop accepting, tell every open session `421 4.3.2` and close it, and wait for
    /// their threads; how many sessions were open.
    pub fn shutdown(mut self) -> usize {
        self.stop_all()
    }

    fn stop_all(&mut self) -> usize {
        let Some(accept) = self.accept.take() else {
            return 0;
        };
        // Sessions see the stop wherever they are: a blocked read ends (its socket's read
        // side is shut below), a pause ends early, and each says 421 and closes.
        self.shared.stop.raise();
        // `accept` blocks; a connection of our own wakes it to see the flag. If that
        // connection can't be made the thread is left to end at the next client.
        let wake = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let woke = TcpStream::connect_timeout(
            &SocketAddr::new(wake, self.addr.port()),
            Duration::from_secs(2),
        );
        if woke.is_ok() {
            let _ = accept.join();
        }
        let open: Vec<Session> = self
            .registry
            .lock()
            .sessions
            .drain()
            .map(|(_, s)| s)
            .collect();
        for s in &open {
            let _ = s.stream.shutdown(Shutdown::Read);
        }
        let ended = |s: &Session| s.ended.load(Ordering::SeqCst);
        let grace = Instant::now() + STOP_GRACE;
        while Instant::now() < grace && !open.iter().all(ended) {
            thread::sleep(Duration::from_millis(10));
        }
        for s in &open {
            if !ended(s) {
                let _ = s.stream.shutdown(Shutdown::Both);
            }
        }
        // A session whose socket is shut down ends at its next read or write.
        let gone = Instant::now() + STOP_GRACE;
        while Instant::now() < gone && !open.iter().all(ended) {
            thread::sleep(Duration::from_millis(10));
        }
        open.len()
    }
}

impl Drop for PracticeServer {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Bind `addr` and listen with `backlog` (std's `TcpListener::bind` fixes it at 128).
/// SO_REUSEADDR as std sets it on Unix, so a restarted `--serve` can bind at once while
/// old connections linger in TIME_WAIT; not on Windows, where it would let another
/// program take the port.
fn listen(addr: SocketAddr, backlog: usize) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(not(windows))]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

/// Check `config` and open its Maildir: what comes before listening.
pub(super) fn open(config: &PracticeConfig) -> Result<Option<Maildir>, Error> {
    check(config)?;
    config
        .maildir
        .as_ref()
        .map(|dir| {
            Maildir::create(dir).map_err(|e| {
                Error::Usage(format!(
                    "cannot use {} as a Maildir (--maildir): {e}",
                    dir.display()
                ))
            })
        })
        .transpose()
}

/// What every connection shares, with the certificate to serve.
pub(super) struct Prepared {
    pub shared: Shared,
    pub served: Served,
}

/// Get the certificate for a server reached by `reach`, and make the state every
/// connection shares.
pub(super) fn prepare(
    config: PracticeConfig,
    maildir: Option<Maildir>,
    reach: &Reach,
) -> Result<Prepared, Error> {
    let served = served::serve(&config.cert, &config.hostname, reach)?;
    let shared = Shared {
        mailbox: Mailbox::new(config.limits.max_stored),
        hostname: config.hostname,
        users: config.users,
        require_auth: config.require_auth,
        require_tls: config.require_tls,
        auth_rate: AuthRate::new(config.limits.auth_per_minute),
        limits: config.limits,
        acceptor: served.acceptor.clone(),
        maildir,
        seq: AtomicU64::new(1),
        events: Hub::new(config.events),
        rules: config.rules,
        stop: Stop::default(),
    };
    Ok(Prepared { shared, served })
}

/// Refuse a configuration that can't work, saying what to change.
fn check(config: &PracticeConfig) -> Result<(), Error> {
    if !syntax::is_helo_name(&config.hostname) {
        return Err(Error::Usage(format!(
            "the practice server's hostname {:?} is not a domain name",
            config.hostname
        )));
    }
    let l = &config.limits;
    if l.max_line < 512 {
        return Err(Error::Usage(format!(
            "max_line {} is under 512 octets, which RFC 5321 §4.5.3.1.4 requires a server to take",
            l.max_line
        )));
    }
    // `SIZE 0` would advertise "no limit" (RFC 1870 §4).
    if l.max_connections == 0
        || l.max_per_client == 0
        || l.max_recipients == 0
        || l.max_message == 0
        || l.min_data_rate == 0
    {
        return Err(Error::Usage(
            "max_connections, max_per_client, max_recipients, max_message and min_data_rate must be at least 1".to_string(),
        ));
    }
    Ok(())
}

/// A bind failure, naming the address and what to do.
fn bind_error(addr: SocketAddr, e: &io::Error) -> Error {
    let in_use;
    let hint = match e.kind() {
        io::ErrorKind::AddrInUse => {
            // Suggest a port that is free now, not one that may be taken too.
            in_use = match free_port_near(addr) {
                Some(free) => format!(
                    "the address is in use (another server, or another smtpsh --serve?); {} is free: --serve {}",
                    free,
                    free
                ),
                None => "the address is in use (another server, or another smtpsh --serve?); choose another port".to_string(),
            };
            in_use.as_str()
        }
        io::ErrorKind::PermissionDenied => {
            "permission denied: ports below 1024 need privileges; use a port such as 2525"
        }
        io::ErrorKind::AddrNotAvailable => {
            "this machine has no such address; use 127.0.0.1, 0.0.0.0 or one of its own addresses"
        }
        _ => "check the address and port",
    };
    Error::Usage(format!("cannot listen on {addr}: {e}; {hint}"))
}

/// The first port after `addr`'s that can be bound on the same address now, if one of the
/// next 50 can.
fn free_port_near(addr: SocketAddr) -> Option<SocketAddr> {
    (addr.port().saturating_add(1)..=addr.port().saturating_add(50))
        .map(|p| SocketAddr::new(addr.ip(), p))
        .find(|a| TcpListener::bind(a).is_ok())
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, registry: &Arc<Registry>) {
    for incoming in listener.incoming() {
        if shared.stop.raised() {
            break;
        }
        match incoming {
            Ok(stream) => dispatch(stream, shared, registry, conn::serve),
            // Out of file descriptors, a connection reset before accept, …: none of it is
            // a reason to stop serving. A short pause keeps EMFILE from spinning.
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// How a connection is served once it has its thread ([`conn::serve`]; tests put a bug in).
type Serve = fn(Arc<Shared>, TcpStream, SocketAddr);

/// A connection's place in the registry, given back when its thread ends however it ends:
/// by returning, or by a panic unwinding. A bug in one session must not cost a slot for
/// good: `MAIL FROé` once panicked connection threads, and 256 such sessions locked a
/// classroom out (issue 12).
struct Slot {
    registry: Arc<Registry>,
    id: u64,
    client: Option<IpAddr>,
    ended: Arc<AtomicBool>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.ended.store(true, Ordering::SeqCst);
        let mut open = self.registry.lock();
        open.sessions.remove(&self.id);
        if let Some(ip) = self.client
            && let Some(n) = open.per_client.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                open.per_client.remove(&ip);
            }
        }
    }
}

/// Give a new connection its thread, or refuse it with 421 when the server is full or the
/// client address has its share (Postfix's `smtpd_client_connection_count_limit`).
fn dispatch(stream: TcpStream, shared: &Arc<Shared>, registry: &Arc<Registry>, serve: Serve) {
    let Ok(peer) = stream.peer_addr() else {
        return;
    };
    let host = &shared.hostname;
    let limits = &shared.limits;
    // The teacher's view may want to know of each refusal below (total, per client).
    let ip = peer.ip().to_canonical();
    let client = shared.limits_apply_to(ip).then_some(ip);
    let mut open = registry.lock();
    if open.len() >= limits.max_connections {
        drop(open);
        let why = format!(
            "{host} too many connections ({} at once); try again later",
            limits.max_connections
        );
        refuse(stream, &why);
        return;
    }
    if let Some(ip) = client
        && open.per_client.get(&ip).copied().unwrap_or(0) >= limits.max_per_client
    {
        drop(open);
        let why = format!(
            "{host} too many connections from {ip} ({} at once); try again later",
            limits.max_per_client
        );
        refuse(stream, &why);
        return;
    }
    let Ok(handle) = stream.try_clone() else {
        drop(open);
        refuse(
            stream,
            &format!("{host} cannot serve this connection now; try again later"),
        );
        return;
    };
    let id = registry.next.fetch_add(1, Ordering::Relaxed);
    let ended = Arc::new(AtomicBool::new(false));
    let (thread_shared, thread_registry, thread_ended) =
        (shared.clone(), registry.clone(), ended.clone());
    // The registry stays locked until the handle is in it, so a session that ends at once
    // can't look for its entry before it exists.
    let spawned = registry.threads.run(Box::new(move || {
        let _slot = Slot {
            registry: thread_registry,
            id,
            client,
            ended: thread_ended,
        };
        serve(thread_shared, stream, peer);
    }));
    match spawned {
        Ok(()) => {
            open.sessions.insert(
                id,
                Session {
                    stream: handle,
                    ended,
                },
            );
            if let Some(ip) = client {
                *open.per_client.entry(ip).or_insert(0) += 1;
            }
        }
        Err(_) => {
            drop(open);
            refuse(
                handle,
                &format!("{host} cannot serve this connection now; try again later"),
            );
        }
    }
}

/// `421 4.7.0` and close (RFC 5321 §3.8: a server that can't serve says 421).
fn refuse(mut stream: TcpStream, why: &str) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    if let Some(code) = Code::new(421) {
        let reply = Reply::new(code, "4.7.0".parse().ok(), &[why]);
        let _ = stream.write_all(&reply.to_wire());
    }
    let _ = stream.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::practice::Limits;

    #[test]
    fn configurations_that_cannot_work_are_usage_errors() {
        let bad = [
            PracticeConfig {
                hostname: "not a name".into(),
                ..PracticeConfig::default()
            },
            PracticeConfig {
                limits: Limits {
                    max_line: 100,
                    ..Limits::default()
                },
                ..PracticeConfig::default()
            },
            PracticeConfig {
                limits: Limits {
                    max_message: 0,
                    ..Limits::default()
                },
                ..PracticeConfig::default()
            },
            PracticeConfig {
                limits: Limits {
                    max_connections: 0,
                    ..Limits::default()
                },
                ..PracticeConfig::default()
            },
        ];
        for config in bad {
            assert!(matches!(check(&config), Err(Error::Usage(_))), "{config:?}");
        }
        assert!(check(&PracticeConfig::default()).is_ok());
    }

    /// A connection thread with a bug in it.
    fn buggy(_: Arc<Shared>, _: TcpStream, _: SocketAddr) {
        panic!("a bug in a connection thread (this panic is expected by the test)");
    }

    // A panicking connection thread never gave its slot back (the removal came after
    // `serve` returned): with one slot, the second client got 421 for good.
    // See: issue 12
    #[test]
    fn regression_a_panicking_connection_thread_gives_its_slot_back() {
        let config = PracticeConfig {
            limits: Limits {
                max_connections: 1,
                ..Limits::default()
            },
            ..PracticeConfig::default()
        };
        let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let reach = Reach::of(SocketAddr::new(local, 0), false, &[]);
        let shared = Arc::new(prepare(config, None, &reach).unwrap().shared);
        let registry = Arc::new(Registry::default());
        let listener = TcpListener::bind((local, 0)).unwrap();
        for i in 0..3 {
            let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            client
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let (stream, _) = listener.accept().unwrap();
            dispatch(stream, &shared, &registry, buggy);
            // Served (and dropped by the bug), not refused with 421.
            let mut got = Vec::new();
            let _ = io::Read::read_to_end(&mut client, &mut got);
            assert_eq!(String::from_utf8_lossy(&got), "", "client {i}");
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while registry.lock().len() > 0 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "client {i}: slot kept"
                );
                thread::sleep(Duration::from_millis(5));
            }
        }
    }

    #[test]
    fn bind_errors_name_the_address_and_what_to_do() {
        let addr: SocketAddr = "127.0.0.1:25".parse().unwrap();
        let e = bind_error(addr, &io::Error::from(io::ErrorKind::PermissionDenied));
        let text = e.to_string();
        assert!(
            text.contains("127.0.0.1:25") && text.contains("2525"),
            "{text}"
        );
        let e = bind_error(addr, &io::Error::from(io::ErrorKind::AddrInUse));
        assert!(e.to_string().contains("in use"), "{e}");
    }

    // See: issue 16, "port in use" suggested another port that was in use too.
    #[test]
    fn a_port_in_use_gets_a_free_one_suggested() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        // Take the next port too, so the old fixed suggestion would be wrong.
        let next = TcpListener::bind(SocketAddr::new(addr.ip(), addr.port() + 1));
        let e = bind_error(addr, &io::Error::from(io::ErrorKind::AddrInUse)).to_string();
        let suggested: SocketAddr = e
            .rsplit("--serve ")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address suggested: {e}"));
        assert_ne!(suggested, addr);
        if next.is_ok() {
            assert_ne!(suggested.port(), addr.port() + 1);
        }
        assert!(
            TcpListener::bind(suggested).is_ok(),
            "{suggested} is not free: {e}"
        );
    }
}
