//! A TCP stream with a deadline for reads and one for writes, so a session's time limits
//! are deadlines, not idle timers: a client dripping a byte every few seconds restarts
//! nothing (issue 14), nor does one reading our replies a byte at a time. TLS runs on top
//! of it, so the handshake and every TLS record are held to the same deadlines.
//!
//! The socket's own timeout is per call; before each call it is set to what is left, but
//! only when that changed by more than a small slack, so a session that reads one line per
//! command does not pay a system call per read for it.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A TCP stream with deadlines (none: wait for ever).
#[derive(Debug)]
pub(crate) struct Timed {
    tcp: TcpStream,
    deadline: Option<Instant>,
    write_deadline: Option<Instant>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

impl Timed {
    /// `tcp` with no deadline yet.
    pub fn new(tcp: TcpStream) -> Timed {
        Timed {
            tcp,
            deadline: None,
            write_deadline: None,
            read_timeout: None,
            write_timeout: None,
        }
    }

    /// Every write from now on must end by `deadline`.
    pub fn set_write_deadline(&mut self, deadline: Option<Instant>) {
        self.write_deadline = deadline;
    }

    /// The socket.
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Every read from now on must end by `deadline`.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// The deadline, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Time left, or `TimedOut` when none is; `None` without a deadline.
    fn left(&self, write: bool) -> io::Result<Option<Duration>> {
        let deadline = if write {
            self.write_deadline
        } else {
            self.deadline
        };
        match deadline {
            None => Ok(None),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    Err(io::ErrorKind::TimedOut.into())
                } else {
                    Ok(Some(left))
                }
            }
        }
    }

    /// Run `call` with the socket timeout (`applied`) no later than the deadline, again when
    /// the socket timed out before the deadline did.
    fn with_timeout<T>(
        &mut self,
        write: bool,
        mut call: impl FnMut(&mut TcpStream) -> io::Result<T>,
    ) -> io::Result<T> {
        loop {
            let left = self.left(write)?;
            let applied = if write {
                self.write_timeout
            } else {
                self.read_timeout
            };
            if needs_update(applied, left) {
                if write {
                    self.tcp.set_write_timeout(left)?;
                    self.write_timeout = left;
                } else {
                    self.tcp.set_read_timeout(left)?;
                    self.read_timeout = left;
                }
            }
            match call(&mut self.tcp) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    // The socket's timeout is a little shorter than the deadline after a
                    // reset; go on until the deadline itself has passed.
                    let deadline = if write {
                        self.write_deadline
                    } else {
                        self.deadline
                    };
                    if deadline.is_some_and(|d| Instant::now() < d) {
                        if write {
                            self.write_timeout = Some(Duration::ZERO);
                        } else {
                            self.read_timeout = Some(Duration::ZERO);
                        }
                        continue;
                    }
                    return Err(io::ErrorKind::TimedOut.into());
                }
                other => return other,
            }
        }
    }
}

/// Whether the socket timeout `applied` must be set again for `left`: when it could wait
/// past the deadline by more than the slack, or would end more than the slack before it.
fn needs_update(applied: Option<Duration>, left: Option<Duration>) -> bool {
    match (applied, left) {
        (None, None) => false,
        (Some(_), None) | (None, Some(_)) => true,
        (Some(applied), Some(left)) => {
            let slack = (left / 50).min(Duration::from_secs(1));
            applied > left + slack || applied + slack < left
        }
    }
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.with_timeout(false, |tcp| tcp.read(buf))
    }
}

impl Write for Timed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.with_timeout(true, |tcp| tcp.write(buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn the_deadline_holds_across_reads() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let mut timed = Timed::new(server);
        let started = Instant::now();
        timed.set_deadline(Some(started + Duration::from_millis(600)));
        // A byte every 100 ms: each read is quick, and still the deadline comes.
        let dripper = std::thread::spawn(move || {
            for _ in 0..30 {
                if client.write_all(b"x").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let mut buf = [0u8; 16];
        let mut got = 0;
        let err = loop {
            match timed.read(&mut buf) {
                Ok(n) => got += n,
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(590), "{took:?}");
        assert!(took < Duration::from_millis(2000), "{took:?}");
        assert!((3..=8).contains(&got), "{got} bytes");
        drop(timed);
        dripper.join().unwrap();
    }

    #[test]
    fn slack() {
        let s = Duration::from_secs;
        assert!(!needs_update(None, None));
        assert!(needs_update(None, Some(s(300))));
        assert!(!needs_update(
            Some(s(300)),
            Some(s(300) - Duration::from_millis(500))
        ));
        assert!(needs_update(Some(s(300)), Some(s(298))));
        assert!(needs_update(Some(s(10)), Some(s(300))));
        assert!(needs_update(
            Some(Duration::from_millis(300)),
            Some(Duration::from_millis(250))
        ));
    }
}
