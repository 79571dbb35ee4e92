//! Watching a long step from outside: how far the body of `:send FILE` has gone. The session
//! knows no terminal, so it only reports (to a [`Progress`] the front end gives it); the front
//! end draws, or not (`shell::progress` draws with indicatif, on a terminal only). Stopping
//! is the [`crate::cancel::Cancel`] flag, looked at between the pieces reported here: a stop
//! in the middle of a message closes the connection, the one way SMTP has to abort one.

use super::Session;
use crate::error::Error;

/// What a front end is told while a file goes out as a message body (DATA or BDAT). Octets
/// are the file's, before CRLF normalisation and dot-stuffing: what a user knows the file's
/// size as. "Sent" means handed to the connection; the server reads it a little later.
pub trait Progress {
    /// A body from `file` starts; `total` is the file's size when known (not for a pipe).
    fn started(&mut self, file: &str, total: Option<u64>);
    /// `octets` more of the file went out.
    fn advanced(&mut self, octets: u64);
    /// All of the body went, with its end (the end of data, or the LAST chunk); the server's
    /// reply is awaited. The kernel may still hold megabytes the server has not read, so
    /// this wait can be long on a slow link.
    fn sent(&mut self) {}
    /// The body is over: answered, refused, failed or stopped. Called once per
    /// [`Progress::started`].
    fn ended(&mut self);
}

/// Shows nothing: scripts without a terminal, `--json`, tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn started(&mut self, _: &str, _: Option<u64>) {}
    fn advanced(&mut self, _: u64) {}
    fn ended(&mut self) {}
}

/// The file body being watched: what a stop reports.
#[derive(Debug)]
pub(super) struct Watch {
    file: String,
    sent: u64,
    total: Option<u64>,
}

/// How much of a body one write carries at most, so that Ctrl-C is looked at (and progress
/// reported) at least this often: a slow server drains 64 KiB in well under a second at
/// any speed worth sending a big file at.
const PIECE: usize = 64 * 1024;

/// Why the connection was closed after a stop, for the transcript.
const STOPPED: &str = "interrupted in the middle of a message: closed without ending it, so the message was not delivered (SMTP has no other way to abort one, RFC 5321 §4.1.1.4)";

/// The size of a file about to be sent, when it has one (a pipe has none).
pub(super) fn file_size(file: &std::fs::File) -> Option<u64> {
    file.metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

impl Session {
    /// Show progress on this session's file bodies (`:send`): the front end's [`Progress`].
    /// The default shows nothing.
    pub fn set_progress(&mut self, progress: Box<dyn Progress>) {
        self.progress = progress;
    }

    /// A file body starts going out.
    pub(super) fn watch(&mut self, file: &str, total: Option<u64>) {
        self.unwatch();
        // What led here (DATA and its 354) is on screen before the bar is.
        self.transcript.flush();
        self.progress.started(file, total);
        self.watching = Some(Watch {
            file: file.to_string(),
            sent: 0,
            total,
        });
    }

    /// All of the watched body went; its reply is awaited.
    pub(super) fn watch_sent(&mut self) {
        if self.watching.is_some() {
            self.progress.sent();
        }
    }

    /// The watched body is over (answered, refused, failed or stopped); a no-op when none
    /// is.
    pub(super) fn unwatch(&mut self) -> Option<Watch> {
        let w = self.watching.take()?;
        self.progress.ended();
        Some(w)
    }

    /// How far the watched body is: octets of the file sent, and its size.
    pub(super) fn watched(&self) -> Option<(u64, Option<u64>)> {
        self.watching.as_ref().map(|w| (w.sent, w.total))
    }

    /// Send `wire`, which carries `input` octets of the watched file, in pieces of at most
    /// [`PIECE`]: before each, a stop is looked for; after each, the front end is told.
    pub(super) fn send_watched(&mut self, wire: &[u8], input: u64) -> Result<(), Error> {
        let mut reported = 0u64;
        let mut done = 0u64;
        for piece in wire.chunks(PIECE) {
            self.stop_if_asked()?;
            self.send_bytes(piece)?;
            done += piece.len() as u64;
            // The file's octets in proportion: stuffing and CRLF make wire and file differ.
            let now = input.saturating_mul(done) / wire.len() as u64;
            self.advance(now - reported);
            reported = now;
        }
        Ok(())
    }

    fn advance(&mut self, octets: u64) {
        if let Some(w) = &mut self.watching
            && octets > 0
        {
            w.sent += octets;
            self.progress.advanced(octets);
        }
    }

    /// While a file body is being sent: if Ctrl-C was pressed, stop here (see
    /// [`Session::abandon`]).
    pub(super) fn stop_if_asked(&mut self) -> Result<(), Error> {
        if !self.cancel.requested() {
            return Ok(());
        }
        let Some((sent, total)) = self.watched() else {
            return Ok(());
        };
        let file = self
            .watching
            .as_ref()
            .map(|w| w.file.clone())
            .unwrap_or_default();
        Err(self.abandon(&file, sent, total))
    }

    /// Stop a message in the middle: the front end stops watching, the flag is lowered (the
    /// stop has happened) and the connection closes without the end of data or a LAST chunk,
    /// the only way SMTP has to abort a message (RFC 5321 §4.1.1.4, RFC 3030 §2). Returns
    /// the error that says the message was not delivered.
    pub(super) fn abandon(&mut self, file: &str, sent: u64, total: Option<u64>) -> Error {
        self.unwatch();
        self.cancel.clear();
        self.disconnect(STOPPED);
        Error::Stopped {
            file: file.to_string(),
            sent,
            total,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::cancel::Cancel;
    use crate::net::target::Target;
    use crate::session::SendOptions;

    /// What the server of [`server`] saw: whole messages, and the octets of a message cut
    /// off by a closed connection.
    #[derive(Debug, Default)]
    struct Seen {
        delivered: Vec<Vec<u8>>,
        cut_off: Option<usize>,
        bdat_last: bool,
    }

    /// A one-connection server with CHUNKING that keeps DATA and BDAT messages.
    fn server() -> (Target, std::thread::JoinHandle<Seen>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = Target::parse(&l.local_addr().unwrap().to_string(), None, false).unwrap();
        let h = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut w = s.try_clone().unwrap();
            let mut r = BufReader::new(s);
            let mut seen = Seen::default();
            w.write_all(b"220 t\r\n").unwrap();
            let mut bdat = Vec::new();
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    if !bdat.is_empty() {
                        seen.cut_off = Some(bdat.len());
                    }
                    return seen;
                }
                let verb = line.trim_end().to_ascii_uppercase();
                if verb.starts_with("EHLO") {
                    w.write_all(b"250-t\r\n250 CHUNKING\r\n").unwrap();
                } else if verb == "DATA" {
                    w.write_all(b"354 go\r\n").unwrap();
                    let mut body = Vec::new();
                    let mut b = [0u8; 1];
                    while !body.ends_with(b"\r\n.\r\n") {
                        if r.read(&mut b).unwrap_or(0) == 0 {
                            seen.cut_off = Some(body.len());
                            return seen;
                        }
                        body.push(b[0]);
                    }
                    seen.delivered.push(body);
                    w.write_all(b"250 kept\r\n").unwrap();
                } else if let Some(rest) = verb.strip_prefix("BDAT ") {
                    let mut words = rest.split(' ');
                    let n: usize = words.next().unwrap().parse().unwrap();
                    let last = words.next() == Some("LAST");
                    let mut chunk = vec![0u8; n];
                    if r.read_exact(&mut chunk).is_err() {
                        seen.cut_off = Some(bdat.len());
                        return seen;
                    }
                    bdat.extend_from_slice(&chunk);
                    if last {
                        seen.bdat_last = true;
                        seen.delivered.push(std::mem::take(&mut bdat));
                    }
                    w.write_all(b"250 ok\r\n").unwrap();
                } else if verb == "QUIT" {
                    w.write_all(b"221 bye\r\n").unwrap();
                    return seen;
                } else {
                    w.write_all(b"250 ok\r\n").unwrap();
                }
            }
        });
        (target, h)
    }

    /// Records what it is told; raises the cancel flag (Ctrl-C) once `stop_after` octets
    /// went, if set.
    #[derive(Clone, Default)]
    struct Recorder {
        log: Arc<Mutex<Vec<String>>>,
        stop_after: Option<(u64, Cancel)>,
    }

    impl Progress for Recorder {
        fn started(&mut self, file: &str, total: Option<u64>) {
            let name = file.rsplit('/').next().unwrap_or(file);
            self.log
                .lock()
                .unwrap()
                .push(format!("started {name} {total:?}"));
        }
        fn advanced(&mut self, octets: u64) {
            let mut log = self.log.lock().unwrap();
            log.push(format!("+{octets}"));
            let sent: u64 = log
                .iter()
                .filter_map(|l| l.strip_prefix('+')?.parse::<u64>().ok())
                .sum();
            if let Some((after, cancel)) = &self.stop_after
                && sent >= *after
            {
                cancel.raise();
            }
        }
        fn ended(&mut self) {
            self.log.lock().unwrap().push("ended".into());
        }
    }

    /// A 1 MiB message with LF line ends (so the wire differs from the file).
    fn big_file() -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let line = format!("{}\n", "x".repeat(1023));
        for _ in 0..1024 {
            f.write_all(line.as_bytes()).unwrap();
        }
        f.flush().unwrap();
        f
    }

    fn connected(rec: &Recorder) -> (Session, std::thread::JoinHandle<Seen>) {
        let (target, h) = server();
        let mut s = crate::session::tests::offline();
        s.set_progress(Box::new(rec.clone()));
        s.connect(&target, false).unwrap();
        s.command(&crate::smtp::command::Command::parse("EHLO c.test").unwrap())
            .unwrap();
        (s, h)
    }

    fn sums(log: &[String]) -> u64 {
        log.iter()
            .filter_map(|l| l.strip_prefix('+')?.parse::<u64>().ok())
            .sum()
    }

    #[test]
    fn a_whole_body_reports_every_octet_of_the_file_once() {
        for bdat in [false, true] {
            let rec = Recorder::default();
            let (mut s, h) = connected(&rec);
            let f = big_file();
            let opts = SendOptions {
                bdat,
                ..SendOptions::default()
            };
            let r = s.send_file_with(f.path(), opts).unwrap();
            assert_eq!(r.code.value(), 250);
            s.end("done");
            let seen = h.join().unwrap();
            assert_eq!(seen.delivered.len(), 1, "bdat {bdat}: {seen:?}");
            let log = rec.log.lock().unwrap().clone();
            let name = f.path().file_name().unwrap().to_str().unwrap();
            assert_eq!(log[0], format!("started {name} Some(1048576)"));
            assert_eq!(log.last().unwrap(), "ended");
            assert_eq!(log.iter().filter(|l| *l == "ended").count(), 1);
            assert_eq!(sums(&log), 1 << 20, "bdat {bdat}: {log:?}");
            // In pieces, not all at once: the flag is looked at between them.
            assert!(log.len() > 10, "bdat {bdat}: {log:?}");
        }
    }

    // Ctrl-C mid-body: the connection is closed without the end of data (DATA) or a LAST
    // chunk (BDAT), so the server has no message; the error says so.
    #[test]
    fn a_stop_mid_body_closes_without_ending_the_message() {
        for bdat in [false, true] {
            let cancel_rec = Recorder::default();
            let (mut s, h) = connected(&cancel_rec);
            let rec = Recorder {
                log: cancel_rec.log.clone(),
                stop_after: Some((300 * 1024, s.cancel().clone())),
            };
            s.set_progress(Box::new(rec.clone()));
            let f = big_file();
            let opts = SendOptions {
                bdat,
                ..SendOptions::default()
            };
            let e = s.send_file_with(f.path(), opts).unwrap_err();
            let Error::Stopped { sent, total, .. } = &e else {
                panic!("bdat {bdat}: {e:?}");
            };
            assert!(*sent >= 300 * 1024 && *sent < 1 << 20, "{e}");
            assert_eq!(*total, Some(1 << 20));
            assert!(e.to_string().contains("NOT delivered"), "{e}");
            assert_eq!(e.exit(), crate::error::Exit::Interrupted);
            assert!(!s.is_connected(), "the connection is closed");
            assert!(!s.cancel().requested(), "the stop used the flag up");
            let seen = h.join().unwrap();
            assert!(seen.delivered.is_empty(), "bdat {bdat}: delivered {seen:?}");
            assert!(!seen.bdat_last, "a LAST chunk went after a stop");
            assert!(
                seen.cut_off.is_some_and(|n| n > 0),
                "bdat {bdat}: the server saw part of the message: {seen:?}"
            );
            let log = rec.log.lock().unwrap().clone();
            assert_eq!(log.last().unwrap(), "ended", "{log:?}");
            assert_eq!(sums(&log), *sent);
        }
    }
}
