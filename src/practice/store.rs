//! Where accepted messages go: the in-memory [`Mailbox`] that `:inbox` reads, and an
//! optional Maildir on disk.
//!
//! The mailbox is bounded ([`super::Limits::max_stored`]): a kept message counts with its
//! envelope (sender, recipients, names), not only its body, against the same memory budget that
//! messages in progress reserve from; once full, a new message is refused with `452 4.3.1`
//! rather than letting a classroom fill the machine's memory.
//! Numbers are 1-based and stable: message N is always the Nth accepted.
//!
//! Maildir delivery is the standard one (maildir(5)): write to `tmp/` under a unique name,
//! flush to disk, rename into `new/`, so a reader never sees half a message. As final
//! delivery does (RFC 5321 §4.4), the file starts with `Return-Path:` and a `Received:`
//! trace field; the in-memory copy is the data exactly as the client sent it.

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::budget::{Budget, Reservation};
use crate::smtp::escape::escape_bytes;

/// One accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The id given in `250 2.0.0 Ok: queued as <id>`.
    pub id: String,
    /// The reverse path without angle brackets; empty for the null sender `<>`.
    pub from: String,
    /// The forward paths without angle brackets, in RCPT order.
    pub rcpts: Vec<String>,
    /// The message as decoded: CRLF line ends, dot-stuffing removed, without the final
    /// `.` line.
    pub data: Vec<u8>,
    /// When it was accepted.
    pub received: SystemTime,
    /// Whether it came over TLS.
    pub tls: bool,
    /// The AUTH user, if the client authenticated.
    pub auth_user: Option<String>,
    /// The EHLO or HELO name the client gave.
    pub helo: String,
    /// The session it came in (the number the teacher's log shows, see
    /// [`super::events::Event::session`]).
    pub session: u64,
}

impl Message {
    /// The `Subject:` header, unfolded and escaped for a terminal; empty when there is none.
    pub fn subject(&self) -> String {
        subject(&self.data)
    }

    /// The octets it takes in memory: the data and every string of the envelope, each
    /// allocation with the allocator's own overhead. A message with an empty body and 100
    /// long recipients is not free (issue 14: counting only bodies let such messages grow
    /// the server by gigabytes).
    pub fn footprint(&self) -> usize {
        let strings = [&self.id, &self.from, &self.helo]
            .into_iter()
            .chain(self.auth_user.as_ref())
            .chain(&self.rcpts)
            .map(|s| allocation(s.capacity()))
            .sum::<usize>();
        let rcpts = allocation(self.rcpts.capacity() * std::mem::size_of::<String>());
        allocation(std::mem::size_of::<Message>() + ARC_HEADER)
            + allocation(self.data.capacity())
            + rcpts
            + strings
    }
}

/// The two counters in front of each `Arc<Message>`.
const ARC_HEADER: usize = 2 * std::mem::size_of::<usize>();

/// What an allocation of `n` octets takes from the allocator: a header, and a size rounded
/// up to 16 octets (glibc's malloc; others are alike).
pub(crate) fn allocation(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        (n + 8).next_multiple_of(16).max(32)
    }
}

/// A summary line for `:inbox`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    /// 1-based number, for `:inbox N`.
    pub n: usize,
    /// The queue id.
    pub id: String,
    /// The reverse path (empty for `<>`).
    pub from: String,
    /// The forward paths.
    pub rcpts: Vec<String>,
    /// Size of the data in octets.
    pub size: usize,
    /// The `Subject:` header, unfolded and escaped (see [`crate::smtp::escape`]).
    pub subject: String,
    /// Whether it came over TLS.
    pub tls: bool,
    /// The AUTH user, if any.
    pub auth_user: Option<String>,
    /// The session it came in.
    pub session: u64,
    /// The EHLO or HELO name the client gave.
    pub helo: String,
}

/// The messages a practice server accepted. Cloning is cheap: clones share one mailbox.
#[derive(Debug, Clone)]
pub struct Mailbox {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    kept: Mutex<Kept>,
    arrived: Condvar,
    budget: Arc<Budget>,
}

#[derive(Debug, Default)]
struct Kept {
    messages: Vec<Arc<Message>>,
    /// The octets of the budget the kept messages hold (their footprints).
    bytes: usize,
}

impl Mailbox {
    /// An empty mailbox whose messages, kept and in progress, take at most `max_bytes`
    /// (see [`Message::footprint`]).
    pub fn new(max_bytes: usize) -> Mailbox {
        Mailbox {
            inner: Arc::new(Inner {
                kept: Mutex::new(Kept::default()),
                arrived: Condvar::new(),
                budget: Budget::new(max_bytes),
            }),
        }
    }

    /// Add a message; its 1-based number, or `None` when it does not fit.
    pub fn push(&self, message: Message) -> Option<usize> {
        self.push_reserved(message, Reservation::new(&self.inner.budget))
    }

    /// Add a message whose octets were (partly) reserved while it arrived: the reservation
    /// becomes exactly its footprint, or `None` when the rest does not fit.
    pub(crate) fn push_reserved(
        &self,
        mut message: Message,
        mut reservation: Reservation,
    ) -> Option<usize> {
        // The body and the recipient list grew by doubling; keep only what they hold.
        message.data.shrink_to_fit();
        message.rcpts.shrink_to_fit();
        if !reservation.resize(message.footprint()) {
            super::body::release(message.data);
            return None;
        }
        let mut kept = self.lock();
        kept.bytes += reservation.keep();
        kept.messages.push(Arc::new(message));
        let n = kept.messages.len();
        drop(kept);
        self.inner.arrived.notify_all();
        Some(n)
    }

    /// Whether a message of `size` octets (its body) would fit now.
    pub fn has_room(&self, size: usize) -> bool {
        self.inner.budget.has_room(size)
    }

    /// The memory budget messages in progress reserve from.
    pub(crate) fn budget(&self) -> &Arc<Budget> {
        &self.inner.budget
    }

    /// A summary of every message, in the order they arrived.
    pub fn list(&self) -> Vec<MessageInfo> {
        let kept = self.lock();
        kept.messages
            .iter()
            .enumerate()
            .map(|(i, m)| MessageInfo {
                n: i + 1,
                id: m.id.clone(),
                from: m.from.clone(),
                rcpts: m.rcpts.clone(),
                size: m.data.len(),
                subject: m.subject(),
                tls: m.tls,
                auth_user: m.auth_user.clone(),
                session: m.session,
                helo: m.helo.clone(),
            })
            .collect()
    }

    /// Message `n` (1-based), if there is one.
    pub fn get(&self, n: usize) -> Option<Message> {
        let kept = self.lock();
        n.checked_sub(1)
            .and_then(|i| kept.messages.get(i))
            .map(|m| Message::clone(m))
    }

    /// How many messages there are.
    pub fn len(&self) -> usize {
        self.lock().messages.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Wait until there are at least `n` messages; `false` if `timeout` passed first.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut kept = self.lock();
        while kept.messages.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            kept = match self.inner.arrived.wait_timeout(kept, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }

    /// Take every message out, oldest first, leaving the mailbox empty: an in-memory server
    /// hands each session its own messages this way ([`super::MemoryServer::session`]).
    pub(crate) fn take_all(&self) -> Vec<Message> {
        let kept = std::mem::take(&mut *self.lock());
        self.inner.budget.give_back(kept.bytes);
        kept.messages
            .into_iter()
            .map(Arc::unwrap_or_clone)
            .collect()
    }

    /// The lock, even if a thread panicked holding it (the data stays consistent: every
    /// change is a single push).
    fn lock(&self) -> MutexGuard<'_, Kept> {
        self.inner
            .kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for Mailbox {
    /// A mailbox with the default limit ([`super::Limits::default`]).
    fn default() -> Self {
        Mailbox::new(super::Limits::default().max_stored)
    }
}

/// The unfolded, escaped `Subject:` of a message's header section.
fn subject(data: &[u8]) -> String {
    let mut value: Option<Vec<u8>> = None;
    for line in data.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break; // end of the header section
        }
        let folded = line.first().is_some_and(|&b| b == b' ' || b == b'\t');
        match &mut value {
            // RFC 5322 §2.2.3: unfolding removes the CRLF before the white space.
            Some(v) if folded => v.extend_from_slice(line),
            Some(_) => break,
            None if folded => {}
            None => {
                if let Some(colon) = line.iter().position(|&b| b == b':')
                    && line[..colon]
                        .trim_ascii_end()
                        .eq_ignore_ascii_case(b"subject")
                {
                    value = Some(line[colon + 1..].to_vec());
                }
            }
        }
    }
    value
        .map(|v| escape_bytes(v.trim_ascii()))
        .unwrap_or_default()
}

/// A Maildir to deliver into.
#[derive(Debug)]
pub(crate) struct Maildir {
    root: PathBuf,
    seq: AtomicU64,
}

impl Maildir {
    /// Use `root`, creating `root/{tmp,new,cur}` when missing.
    pub fn create(root: &Path) -> io::Result<Maildir> {
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(root.join(sub))?;
        }
        Ok(Maildir {
            root: root.to_path_buf(),
            seq: AtomicU64::new(0),
        })
    }

    /// Deliver: trace fields then the data, into `tmp/`, then renamed into `new/`.
    pub fn deliver(
        &self,
        message: &Message,
        hostname: &str,
        peer: SocketAddr,
        esmtp: bool,
    ) -> io::Result<PathBuf> {
        let name = self.unique_name(message, hostname);
        let tmp = self.root.join("tmp").join(&name);
        let new = self.root.join("new").join(&name);
        let result = (|| {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            file.write_all(trace(message, hostname, peer, esmtp).as_bytes())?;
            file.write_all(&message.data)?;
            file.sync_all()?;
            fs::rename(&tmp, &new)
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(new)
    }

    /// `time.M<usec>P<pid>Q<seq>R<random>_s<session>[_<user>].host`: the form maildir(5)
    /// recommends, with the session and the AUTH user added to the unique part so a
    /// teacher's `ls new/` tells whose message is which. maildir(5) only forbids `/` and
    /// `:` there; the user is kept to letters, digits and `@+=-`, anything else written `_`
    /// (uniqueness comes from the rest), so every system's file names can hold it.
    fn unique_name(&self, message: &Message, hostname: &str) -> String {
        let since = message
            .received
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut random = [0u8; 4];
        let _ = getrandom::fill(&mut random);
        // maildir(5): `/` and `:` in the host part are written as octal escapes.
        let host = hostname.replace('/', "\\057").replace(':', "\\072");
        let user = message
            .auth_user
            .as_deref()
            .map(|u| {
                let safe: String = u
                    .chars()
                    .take(64)
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || "@+=-".contains(c) {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                format!("_{safe}")
            })
            .unwrap_or_default();
        format!(
            "{}.M{}P{}Q{}R{:08x}_s{}{user}.{}",
            since.as_secs(),
            since.subsec_micros(),
            std::process::id(),
            seq,
            u32::from_be_bytes(random),
            message.session,
            host
        )
    }
}

/// `Return-Path:` and `Received:` (RFC 5321 §4.4; the `with` keyword from RFC 3848).
fn trace(message: &Message, hostname: &str, peer: SocketAddr, esmtp: bool) -> String {
    let with = match (esmtp, message.tls, message.auth_user.is_some()) {
        (false, _, _) => "SMTP",
        (true, false, false) => "ESMTP",
        (true, true, false) => "ESMTPS",
        (true, false, true) => "ESMTPA",
        (true, true, true) => "ESMTPSA",
    };
    let ip = match peer.ip() {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("IPv6:{v6}"),
    };
    // RFC 5321 §4.4: `for` only with a single recipient, so a copy doesn't reveal the others.
    let rcpt = match message.rcpts.as_slice() {
        [one] => format!("\r\n\tfor <{one}>"),
        _ => String::new(),
    };
    format!(
        "Return-Path: <{}>\r\nReceived: from {} ([{ip}])\r\n\tby {hostname} (smtpsh practice server) with {with} id {}{rcpt};\r\n\t{}\r\n",
        message.from,
        message.helo,
        message.id,
        rfc5322_date(message.received)
    )
}

/// `Mon, 2 Jan 2006 15:04:05 +0000` (RFC 5322 §3.3), in UTC.
pub(crate) fn rfc5322_date(when: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = when
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {day} {} {year} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1–12, day 1–31), Howard Hinnant's algorithm.
pub(crate) fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(data: &[u8]) -> Message {
        Message {
            id: "ID1".into(),
            from: "a@example.org".into(),
            rcpts: vec!["b@example.org".into()],
            data: data.to_vec(),
            received: UNIX_EPOCH + Duration::from_secs(1_136_214_245),
            tls: true,
            auth_user: Some("alice".into()),
            helo: "client.example".into(),
            session: 7,
        }
    }

    #[test]
    fn subjects() {
        let cases: &[(&[u8], &str)] = &[
            (b"Subject: hi\r\n\r\nbody\r\n", "hi"),
            (
                b"From: a\r\nsubject:  two\r\n words\r\nTo: b\r\n\r\n",
                "two words",
            ),
            (b"Subject: a\r\n\tb\r\n", "a\tb"),
            (b"From: a\r\n\r\nSubject: in the body\r\n", ""),
            (b"", ""),
            (b"Subject: \x1b[31mred\r\n\r\n", "\\x1b[31mred"),
            (b"Subject: caf\xc3\xa9 \xff\r\n\r\n", "caf\u{e9} \\xff"),
            (b"Subjects: no\r\n\r\n", ""),
            (b"Subject : spaced\r\n\r\n", "spaced"),
        ];
        for (data, want) in cases {
            assert_eq!(
                subject(data),
                *want,
                "{:?}",
                data.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn mailbox_numbers_list_and_limit() {
        // Room for two five-octet messages with their envelopes, not for a third.
        let five = message(b"12345").footprint();
        let mailbox = Mailbox::new(2 * five);
        assert!(mailbox.is_empty());
        assert_eq!(mailbox.push(message(&vec![b'x'; 2 * five])), None);
        assert_eq!(mailbox.push(message(b"12345")), Some(1));
        assert!(mailbox.has_room(five));
        assert!(!mailbox.has_room(five + 1));
        assert_eq!(mailbox.push(message(b"67890")), Some(2));
        assert_eq!(mailbox.push(message(b"")), None);
        assert_eq!(mailbox.len(), 2);
        assert_eq!(mailbox.get(0), None);
        assert_eq!(mailbox.get(3), None);
        assert_eq!(mailbox.get(2).unwrap().data, b"67890");
        let list = mailbox.list();
        assert_eq!(list[1].n, 2);
        assert_eq!(list[1].size, 5);
        assert_eq!(list[1].auth_user.as_deref(), Some("alice"));
        // Taking the messages out gives their memory back.
        assert_eq!(mailbox.take_all().len(), 2);
        assert_eq!(mailbox.budget().used(), 0);
    }

    // The limit counted body octets only: messages with empty bodies and long recipient
    // lists were never refused. See: issue 14
    #[test]
    fn regression_envelopes_count_against_the_limit() {
        let mut m = message(b"");
        m.rcpts = (0..100)
            .map(|i| format!("recipient{i}@example.org"))
            .collect();
        // Kept copies hold no spare capacity; measure one.
        let m = m.clone();
        assert!(m.footprint() > 100 * "recipient00@example.org".len());
        let mailbox = Mailbox::new(10 * m.footprint());
        let kept = (0..100)
            .filter(|_| mailbox.push(m.clone()).is_some())
            .count();
        assert_eq!(kept, 10);
    }

    #[test]
    fn wait_for_wakes_on_arrival() {
        let mailbox = Mailbox::default();
        assert!(!mailbox.wait_for(1, Duration::from_millis(20)));
        let clone = mailbox.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            clone.push(message(b"x"));
        });
        assert!(mailbox.wait_for(1, Duration::from_secs(10)));
        assert!(mailbox.wait_for(0, Duration::ZERO));
        t.join().unwrap();
    }

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(UNIX_EPOCH), "Thu, 1 Jan 1970 00:00:00 +0000");
        let t = UNIX_EPOCH + Duration::from_secs(1_136_214_245);
        assert_eq!(rfc5322_date(t), "Mon, 2 Jan 2006 15:04:05 +0000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc5322_date(leap), "Tue, 29 Feb 2000 00:00:00 +0000");
        let t = UNIX_EPOCH + Duration::from_secs(4_102_444_799); // 2099-12-31 23:59:59
        assert_eq!(rfc5322_date(t), "Thu, 31 Dec 2099 23:59:59 +0000");
    }

    #[test]
    fn maildir_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("Maildir");
        let maildir = Maildir::create(&root).unwrap();
        for sub in ["tmp", "new", "cur"] {
            assert!(root.join(sub).is_dir());
        }
        let m = message(b"Subject: hi\r\n\r\nbody\r\n");
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let a = maildir
            .deliver(&m, "practice.smtpsh.test", peer, true)
            .unwrap();
        let b = maildir
            .deliver(&m, "practice.smtpsh.test", peer, true)
            .unwrap();
        assert_ne!(a, b);
        assert_eq!(a.parent().unwrap(), root.join("new"));
        assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0);
        let name = a.file_name().unwrap().to_str().unwrap();
        assert!(
            name.ends_with("_s7_alice.practice.smtpsh.test"),
            "the session and the user name the file: {name}"
        );
        let text = String::from_utf8(fs::read(&a).unwrap()).unwrap();
        assert_eq!(
            text,
            "Return-Path: <a@example.org>\r\n\
             Received: from client.example ([127.0.0.1])\r\n\
             \tby practice.smtpsh.test (smtpsh practice server) with ESMTPSA id ID1\r\n\
             \tfor <b@example.org>;\r\n\
             \tMon, 2 Jan 2006 15:04:05 +0000\r\n\
             Subject: hi\r\n\r\nbody\r\n"
        );
    }

    #[test]
    fn maildir_names_keep_to_safe_characters() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::create(dir.path()).unwrap();
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mut m = message(b"x\r\n");
        m.auth_user = Some("a.b/c:d\\e f@x+y=z-1\u{e9}".into());
        let path = maildir.deliver(&m, "h.example", peer, true).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            name.ends_with("_s7_a_b_c_d_e_f@x+y=z-1_.h.example"),
            "{name}"
        );
        assert!(!name.starts_with('.'));
        m.auth_user = None;
        let path = maildir.deliver(&m, "h.example", peer, true).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(name.ends_with("_s7.h.example"), "{name}");
        // maildir(5): time.unique.host, the unique part with neither `/` nor `:`.
        let unique = name.split('.').nth(1).unwrap();
        assert!(!unique.contains([':', '/']), "{unique}");
    }
}
