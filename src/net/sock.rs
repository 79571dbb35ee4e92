//! The byte stream under a connection: a TCP socket or, on Unix systems, a Unix socket
//! (`unix:/path`, for LMTP), or one end of an in-memory stream (tests), with the few socket calls the connection makes (timeouts, a non-blocking peek,
//! shutdown) on either; and [`Peer`], what the connection reached, for the transcript.

use std::fmt;
use std::io::{self, Read, Write};
#[cfg(unix)]
use std::mem::MaybeUninit;
use std::net::{Shutdown, SocketAddr, TcpStream};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

/// A connected stream socket.
#[derive(Debug)]
pub enum Sock {
    /// TCP.
    Tcp(TcpStream),
    /// A Unix stream socket.
    #[cfg(unix)]
    Unix(UnixStream),
    /// One end of an in-memory stream (tests: a session with no socket at all).
    Memory(super::memory::End),
}

impl Sock {
    /// `SO_RCVTIMEO`.
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.set_read_timeout(t),
            #[cfg(unix)]
            Sock::Unix(s) => s.set_read_timeout(t),
            Sock::Memory(s) => s.set_read_timeout(t),
        }
    }

    /// `SO_SNDTIMEO`.
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.set_write_timeout(t),
            #[cfg(unix)]
            Sock::Unix(s) => s.set_write_timeout(t),
            // Writes into memory never wait.
            Sock::Memory(_) => Ok(()),
        }
    }

    /// `TCP_NODELAY` (nothing to do on a Unix socket).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.set_nodelay(on),
            #[cfg(unix)]
            Sock::Unix(_) => Ok(()),
            Sock::Memory(_) => Ok(()),
        }
    }

    /// `O_NONBLOCK`.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.set_nonblocking(on),
            #[cfg(unix)]
            Sock::Unix(s) => s.set_nonblocking(on),
            Sock::Memory(s) => s.set_nonblocking(on),
        }
    }

    /// How many bytes wait to be read (at most `buf.len()`), without taking them. Over TCP
    /// they are copied into `buf`; over a Unix socket only the count is given (std's
    /// `UnixStream::peek` is not stable, and socket2's peek fills uninitialised memory this
    /// crate can't read without `unsafe`), which is all the connection asks.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.peek(buf),
            #[cfg(unix)]
            Sock::Unix(s) => {
                let mut tmp = vec![MaybeUninit::<u8>::uninit(); buf.len()];
                socket2::SockRef::from(s).peek(&mut tmp)
            }
            Sock::Memory(s) => s.peek(buf),
        }
    }

    /// A second handle on the same socket.
    pub fn try_clone(&self) -> io::Result<Sock> {
        Ok(match self {
            Sock::Tcp(s) => Sock::Tcp(s.try_clone()?),
            #[cfg(unix)]
            Sock::Unix(s) => Sock::Unix(s.try_clone()?),
            Sock::Memory(s) => Sock::Memory(s.clone()),
        })
    }

    /// Shut down one or both directions.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.shutdown(how),
            #[cfg(unix)]
            Sock::Unix(s) => s.shutdown(how),
            Sock::Memory(s) => {
                let _ = how;
                s.shutdown()
            }
        }
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Sock::Unix(s) => s.read(buf),
            Sock::Memory(s) => s.read(buf),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Sock::Unix(s) => s.write(buf),
            Sock::Memory(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.flush(),
            #[cfg(unix)]
            Sock::Unix(s) => s.flush(),
            Sock::Memory(s) => s.flush(),
        }
    }
}

/// What a connection reached, as the transcript shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// A TCP address, reached directly.
    Tcp(SocketAddr),
    /// A Unix socket.
    Unix(PathBuf),
    /// An in-memory stream, named for the transcript.
    Memory(String),
    /// Through a SOCKS5 proxy: the proxy's address and the destination asked for.
    Proxied {
        /// The proxy.
        proxy: SocketAddr,
        /// The destination as sent to the proxy (`host:port` or `addr:port`).
        dest: String,
    },
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Tcp(a) => write!(f, "{a}"),
            Peer::Unix(p) => write!(f, "unix:{}", p.display()),
            Peer::Memory(name) => write!(f, "memory:{name}"),
            Peer::Proxied { proxy, dest } => write!(f, "{dest} via SOCKS5 proxy {proxy}"),
        }
    }
}
