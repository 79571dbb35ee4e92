//! The class as the teacher's summary sees it: from the server's events, each open
//! session's who (address, EHLO name, AUTH user) for the log, and per student the stages
//! of the tutorial reached ([`crate::shell::teach::STAGES`]), TLS, AUTH, messages and
//! errors — on demand (`:summary`) and at exit.
//!
//! A student is a machine: the EHLO name it gave and the address it came from, so a class
//! behind one NAT address still tells its machines apart, and a student's sessions (one per
//! lesson that starts afresh) add up in one row. A session that never said EHLO counts under
//! its address alone.
//!
//! Names are kept escaped, as everything a client sends is before it reaches a terminal.
//! Memory is bounded whatever clients send: open sessions are bounded by the server's
//! connection limit, and students beyond [`MAX_STUDENTS`] (a flood of invented EHLO names)
//! are counted together in one row.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use serde::Serialize;

use crate::practice::{Event, EventKind};
use crate::shell::teach::STAGES;
use crate::smtp::escape::escape_str;
use crate::transcript::counted;

/// Students kept apart; more are counted in one row.
pub const MAX_STUDENTS: usize = 1000;

/// What one session has done so far.
#[derive(Debug, Clone, Default)]
struct Session {
    ip: Option<IpAddr>,
    hello: Option<String>,
    user: Option<String>,
    stages: [bool; 5],
    tls: bool,
    messages: u64,
    errors: u64,
}

/// One student's sessions added up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Student {
    /// The EHLO name (escaped), or `(no EHLO)`, or `(others)` for the row past
    /// [`MAX_STUDENTS`].
    pub name: String,
    /// The address the sessions came from (empty for `(others)`).
    pub address: String,
    /// Sessions, open ones included.
    pub sessions: u64,
    /// The stages reached (1 to 5), in any session.
    pub stages: Vec<u8>,
    /// Whether any session used STARTTLS.
    pub tls: bool,
    /// The users any session authenticated as.
    pub users: Vec<String>,
    /// Messages accepted.
    pub messages: u64,
    /// 4xx/5xx replies, failed AUTH and other trouble.
    pub errors: u64,
}

impl Student {
    fn add(&mut self, s: &Session) {
        self.sessions += 1;
        for (i, reached) in s.stages.iter().enumerate() {
            let n = i as u8 + 1;
            if *reached && !self.stages.contains(&n) {
                self.stages.push(n);
                self.stages.sort_unstable();
            }
        }
        self.tls |= s.tls;
        if let Some(u) = &s.user
            && !self.users.contains(u)
        {
            self.users.push(u.clone());
        }
        self.messages += s.messages;
        self.errors += s.errors;
    }
}

/// The class: open sessions and the students of the closed ones.
#[derive(Debug, Default)]
pub struct Class {
    open: HashMap<u64, Session>,
    /// Closed sessions, by student (EHLO name, address).
    students: BTreeMap<(String, String), Student>,
    others: Student,
    sessions: u64,
}

impl Class {
    /// Take `event` into account.
    pub fn record(&mut self, event: &Event) {
        if matches!(event.kind, EventKind::Connected) {
            self.sessions += 1;
        }
        let s = self.open.entry(event.session).or_default();
        s.ip.get_or_insert(event.peer.ip());
        // A failed AUTH is counted once: by its 535.
        if event.kind.is_error() && !matches!(event.kind, EventKind::Auth { .. }) {
            s.errors += 1;
        }
        match &event.kind {
            EventKind::Hello { name, .. } => {
                s.hello = Some(escape_str(name));
                s.stages[0] = true;
            }
            EventKind::Command { line, code, .. } => {
                let verb = line
                    .split([' ', ':'])
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                let stage = match (verb.as_str(), code) {
                    ("MAIL", 250) => Some(1),
                    ("RCPT", 250 | 251) => Some(2),
                    (".", 250) => Some(3),
                    ("QUIT", 221) => Some(4),
                    _ => None,
                };
                if let Some(i) = stage {
                    s.stages[i] = true;
                }
            }
            EventKind::Tls => s.tls = true,
            EventKind::Auth { user: Some(u), .. } => s.user = Some(escape_str(u)),
            EventKind::Message { .. } => s.messages += 1,
            EventKind::Closed { .. } => {
                if let Some(s) = self.open.remove(&event.session) {
                    self.close(&s);
                }
            }
            _ => {}
        }
    }

    fn close(&mut self, s: &Session) {
        let key = key(s);
        if let Some(student) = self.students.get_mut(&key) {
            student.add(s);
        } else if self.students.len() < MAX_STUDENTS {
            let mut student = Student {
                name: key.0.clone(),
                address: key.1.clone(),
                ..Student::default()
            };
            student.add(s);
            self.students.insert(key, student);
        } else {
            self.others.add(s);
        }
    }

    /// Who a session is, for the log: address, then EHLO name and AUTH user once known.
    pub fn who(&self, session: u64) -> String {
        let Some(s) = self.open.get(&session) else {
            return String::new();
        };
        let mut who = s.ip.map(|ip| ip.to_string()).unwrap_or_default();
        if let Some(h) = &s.hello {
            who.push(' ');
            who.push_str(&cut(h, 40));
        }
        if let Some(u) = &s.user {
            who.push(' ');
            who.push_str(&cut(u, 40));
        }
        who
    }

    /// Every student, open sessions included, in a stable order (EHLO name, address).
    pub fn students(&self) -> Vec<Student> {
        let mut all = self.students.clone();
        let mut others = self.others.clone();
        for s in self.open.values() {
            let key = key(s);
            let room = all.len() < MAX_STUDENTS;
            match all.get_mut(&key) {
                Some(student) => student.add(s),
                None if room => {
                    let mut student = Student {
                        name: key.0.clone(),
                        address: key.1.clone(),
                        ..Student::default()
                    };
                    student.add(s);
                    all.insert(key, student);
                }
                None => others.add(s),
            }
        }
        let mut out: Vec<Student> = all.into_values().collect();
        if others.sessions > 0 {
            others.name = "(others)".into();
            out.push(others);
        }
        out
    }

    /// Sessions so far.
    pub fn sessions(&self) -> u64 {
        self.sessions
    }

    /// The summary as the teacher reads it. `dropped`: events the log could not keep up
    /// with (then counts may be low, and it says so).
    pub fn summary(&self, dropped: u64) -> String {
        let students = self.students();
        let messages: u64 = students.iter().map(|s| s.messages).sum();
        let mut out = format!(
            "class summary: {}, {}, {}\n",
            counted(students.len() as u64, "student"),
            counted(self.sessions, "session"),
            counted(messages, "message")
        );
        if students.is_empty() {
            out.push_str("  no student has connected yet\n");
        } else {
            let rows: Vec<[String; 8]> = students
                .iter()
                .map(|s| {
                    let stages: String = (1..=5u8)
                        .map(|n| {
                            if s.stages.contains(&n) {
                                char::from(b'0' + n)
                            } else {
                                '-'
                            }
                        })
                        .collect();
                    [
                        cut(&s.name, 30),
                        s.address.clone(),
                        s.sessions.to_string(),
                        stages,
                        if s.tls { "yes" } else { "no" }.to_string(),
                        if s.users.is_empty() {
                            "-".to_string()
                        } else {
                            cut(&s.users.join(","), 30)
                        },
                        s.messages.to_string(),
                        s.errors.to_string(),
                    ]
                })
                .collect();
            let head = [
                "student", "address", "sessions", "stages", "TLS", "AUTH", "messages", "errors",
            ]
            .map(String::from);
            let mut widths = head.clone().map(|h| h.chars().count());
            for r in &rows {
                for (w, cell) in widths.iter_mut().zip(r) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            for r in std::iter::once(&head).chain(&rows) {
                let cells: Vec<String> = r
                    .iter()
                    .zip(widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect();
                out.push_str("  ");
                out.push_str(cells.join("  ").trim_end());
                out.push('\n');
            }
            let legend: Vec<String> = STAGES
                .iter()
                .enumerate()
                .map(|(i, (name, _))| format!("{} {name}", i + 1))
                .collect();
            out.push_str(&format!("  stages: {}\n", legend.join(", ")));
        }
        if dropped > 0 {
            out.push_str(&format!(
                "  ({} the log could not keep up with are not counted)\n",
                counted(dropped, "event")
            ));
        }
        out.trim_end().to_string()
    }

    /// The summary as one JSON object (`"event":"summary"`), for `--json`.
    pub fn summary_json(&self, dropped: u64) -> String {
        #[derive(Serialize)]
        struct Summary {
            event: &'static str,
            sessions: u64,
            students: Vec<Student>,
            #[serde(skip_serializing_if = "is_zero")]
            dropped: u64,
        }
        fn is_zero(n: &u64) -> bool {
            *n == 0
        }
        serde_json::to_string(&Summary {
            event: "summary",
            sessions: self.sessions,
            students: self.students(),
            dropped,
        })
        .expect("a summary always serialises")
    }
}

/// A student's key: the EHLO name (or `(no EHLO)`) and the address.
fn key(s: &Session) -> (String, String) {
    (
        s.hello.clone().unwrap_or_else(|| "(no EHLO)".into()),
        s.ip.map(|ip| ip.to_string()).unwrap_or_default(),
    )
}

/// `text` cut to `max` characters, marked with `...`.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", text.get(..i).unwrap_or_default()),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn ev(session: u64, peer: &str, kind: EventKind) -> Event {
        Event {
            session,
            peer: peer.parse().unwrap(),
            time: SystemTime::UNIX_EPOCH,
            kind,
        }
    }

    fn cmd(line: &str, code: u16) -> EventKind {
        EventKind::Command {
            line: line.into(),
            code,
            enhanced: None,
            reply: String::new(),
        }
    }

    fn hello(name: &str) -> EventKind {
        EventKind::Hello {
            name: name.into(),
            esmtp: true,
        }
    }

    /// A student's lessons: two sessions from one machine, and another machine behind the
    /// same address.
    #[test]
    fn students_add_up_their_sessions() {
        let mut class = Class::default();
        let a = "10.0.0.1:5000";
        for e in [
            ev(1, a, EventKind::Connected),
            ev(1, a, cmd("EHLO pc1", 250)),
            ev(1, a, hello("pc1")),
            ev(1, a, EventKind::Tls),
            ev(1, a, cmd("MAIL FROM:<a@x>", 250)),
            ev(1, a, cmd("RCPT TO:<no-such@x>", 550)),
            ev(1, a, cmd("RCPT TO:<b@x>", 250)),
            ev(1, a, cmd("DATA", 354)),
            ev(1, a, cmd(".", 250)),
            ev(
                1,
                a,
                EventKind::Message {
                    id: "ID".into(),
                    from: "a@x".into(),
                    rcpts: vec!["b@x".into()],
                    subject: "s".into(),
                    size: 1,
                },
            ),
            ev(
                1,
                a,
                EventKind::Closed {
                    reason: "client closed".into(),
                },
            ),
            ev(2, "10.0.0.1:5001", EventKind::Connected),
            ev(2, "10.0.0.1:5001", hello("pc1")),
            ev(
                2,
                "10.0.0.1:5001",
                EventKind::Auth {
                    mechanism: "PLAIN".into(),
                    user: Some("alice".into()),
                    ok: true,
                },
            ),
            ev(2, "10.0.0.1:5001", cmd("QUIT", 221)),
            ev(3, "10.0.0.1:5002", EventKind::Connected),
            ev(3, "10.0.0.1:5002", hello("pc2")),
        ] {
            class.record(&e);
        }
        assert_eq!(class.who(2), "10.0.0.1 pc1 alice");
        assert_eq!(class.who(3), "10.0.0.1 pc2");
        let students = class.students();
        assert_eq!(students.len(), 2, "{students:?}");
        assert_eq!(
            students[0],
            Student {
                name: "pc1".into(),
                address: "10.0.0.1".into(),
                sessions: 2,
                stages: vec![1, 2, 3, 4, 5],
                tls: true,
                users: vec!["alice".into()],
                messages: 1,
                errors: 1,
            }
        );
        assert_eq!(students[1].stages, [1]);
        let text = class.summary(0);
        assert_eq!(
            text,
            "class summary: 2 students, 3 sessions, 1 message\n\
             \x20 student  address   sessions  stages  TLS  AUTH   messages  errors\n\
             \x20 pc1      10.0.0.1  2         12345   yes  alice  1         1\n\
             \x20 pc2      10.0.0.1  1         1----   no   -      0         0\n\
             \x20 stages: 1 handshake, 2 sender, 3 recipients, 4 message data, 5 end"
        );
        let json = class.summary_json(0);
        assert!(json.starts_with(r#"{"event":"summary","sessions":3,"students":[{"name":"pc1","address":"10.0.0.1","sessions":2,"stages":[1,2,3,4,5],"tls":true,"users":["alice"],"messages":1,"errors":1}"#), "{json}");
        assert!(
            class
                .summary(3)
                .ends_with("(3 events the log could not keep up with are not counted)")
        );
    }

    #[test]
    fn an_empty_class() {
        assert_eq!(
            Class::default().summary(0),
            "class summary: 0 students, 0 sessions, 0 messages\n  no student has connected yet"
        );
    }

    // Invented EHLO names can't make the summary grow without bound.
    #[test]
    fn students_past_the_limit_share_a_row() {
        let mut class = Class::default();
        for i in 0..(MAX_STUDENTS as u64 + 5) {
            class.record(&ev(i, "10.0.0.9:1", EventKind::Connected));
            class.record(&ev(i, "10.0.0.9:1", hello(&format!("h{i}"))));
            class.record(&ev(
                i,
                "10.0.0.9:1",
                EventKind::Closed {
                    reason: String::new(),
                },
            ));
        }
        let students = class.students();
        assert_eq!(students.len(), MAX_STUDENTS + 1);
        let others = students.last().unwrap();
        assert_eq!((others.name.as_str(), others.sessions), ("(others)", 5));
        assert!(class.open.is_empty());
    }
}
