//! An in-memory byte stream: two connected ends, each a [`super::sock::Sock`] the way a TCP
//! socket is, with the calls a connection makes (read and write timeouts, non-blocking mode,
//! peek, shutdown, clone). It lets a whole session run with no socket at all: a test plays
//! the server on the other end, on any platform, and sees the exact bytes.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One direction of the pipe.
#[derive(Debug, Default)]
struct Channel {
    state: Mutex<ChannelState>,
    ready: Condvar,
}

#[derive(Debug, Default)]
struct ChannelState {
    bytes: VecDeque<u8>,
    /// No more bytes will come (the writer shut down or went away).
    closed: bool,
}

impl Channel {
    fn lock(&self) -> MutexGuard<'_, ChannelState> {
        // A panic while holding the lock leaves plain bytes behind: still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

/// What all clones of one end share.
#[derive(Debug)]
struct Shared {
    rx: Arc<Channel>,
    tx: Arc<Channel>,
    read_timeout: Mutex<Option<Duration>>,
    nonblocking: Mutex<bool>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last clone of this end is gone: the peer reads end-of-file and can't write.
        self.tx.close();
        self.rx.close();
    }
}

/// One end of an in-memory stream.
#[derive(Debug, Clone)]
pub struct End(Arc<Shared>);

/// Two connected ends: what one writes, the other reads.
pub fn pair() -> (End, End) {
    let a = Arc::new(Channel::default());
    let b = Arc::new(Channel::default());
    let end = |rx: &Arc<Channel>, tx: &Arc<Channel>| {
        End(Arc::new(Shared {
            rx: rx.clone(),
            tx: tx.clone(),
            read_timeout: Mutex::new(None),
            nonblocking: Mutex::new(false),
        }))
    };
    (end(&a, &b), end(&b, &a))
}

impl End {
    /// Like `TcpStream::set_read_timeout`.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        *self
            .0
            .read_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = t;
        Ok(())
    }

    /// Like `TcpStream::set_nonblocking`: reads that would wait fail with `WouldBlock`.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        *self.0.nonblocking.lock().unwrap_or_else(|p| p.into_inner()) = on;
        Ok(())
    }

    /// Like `TcpStream::peek`.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.receive(buf, false)
    }

    /// Like `TcpStream::shutdown(Both)`: no more bytes either way.
    pub fn shutdown(&self) -> io::Result<()> {
        self.0.tx.close();
        self.0.rx.close();
        Ok(())
    }

    fn receive(&self, buf: &mut [u8], consume: bool) -> io::Result<usize> {
        let timeout = *self
            .0
            .read_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let nonblocking = *self.0.nonblocking.lock().unwrap_or_else(|p| p.into_inner());
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.0.rx.lock();
        loop {
            if !st.bytes.is_empty() || buf.is_empty() {
                let n = buf.len().min(st.bytes.len());
                for (i, b) in st.bytes.iter().take(n).enumerate() {
                    buf[i] = *b;
                }
                if consume {
                    st.bytes.drain(..n);
                }
                return Ok(n);
            }
            if st.closed {
                return Ok(0);
            }
            if nonblocking {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            st = match deadline {
                None => self.0.rx.ready.wait(st).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    self.0
                        .rx
                        .ready
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
}

impl Read for End {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.receive(buf, true)
    }
}

impl Write for End {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut st = self.0.tx.lock();
        if st.closed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        st.bytes.extend(buf);
        drop(st);
        self.0.tx.ready.notify_all();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_cross_and_end_of_file_follows_the_last_clone() {
        let (mut a, mut b) = pair();
        a.write_all(b"EHLO x\r\n").unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(b.peek(&mut buf).unwrap(), 4);
        assert_eq!(&buf, b"EHLO");
        let mut all = [0u8; 8];
        b.read_exact(&mut all).unwrap();
        assert_eq!(&all, b"EHLO x\r\n");
        b.set_nonblocking(true).unwrap();
        assert_eq!(
            b.read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        b.set_nonblocking(false).unwrap();
        b.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        assert_eq!(
            b.read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        let a2 = a.clone();
        drop(a);
        a2.shutdown().unwrap();
        assert_eq!(b.read(&mut buf).unwrap(), 0);
        assert_eq!(b.write(b"x").unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }
}
