//! Typed errors for everything below the front ends, and the one place that maps a failure
//! to an exit code (PRODUCT.md, "Exit status").
//!
//! Library code returns [`Error`]; front ends wrap it in `anyhow` with context, and
//! `main` asks [`exit_code`] what to exit with. A 4xx/5xx reply is never an `Error`: in a
//! shell it is an ordinary value.

use std::io;

use crate::smtp::command::{CommandError, LineError};
use crate::smtp::ext::EnvelopeError;
use crate::smtp::reply::ParseError;

/// The exit codes of PRODUCT.md, one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Everything went as expected.
    Ok = 0,
    /// A reply missed an `:expect`, or a script met an unexpected 4xx/5xx.
    Expectation = 1,
    /// Usage error, or a command line refused by the checks.
    Usage = 2,
    /// Network: refused, timed out, reset, closed unexpectedly.
    Network = 3,
    /// TLS: handshake or verification failed; STARTTLS not offered or refused when required.
    Tls = 4,
    /// Protocol: malformed or oversized reply, or data the server must not send.
    Protocol = 5,
    /// Interrupted: Ctrl-C (SIGINT) stopped a script, or a wait or a message in it. 128 + 2
    /// (SIGINT's number): the shell's convention for a program ended by SIGINT, kept though
    /// smtpsh catches the signal to end the session properly first.
    Interrupted = 130,
}

impl Exit {
    /// The exit-status table as printed by `--help`.
    pub const TABLE: &'static str = "\
EXIT STATUS:
  0  everything went as expected
  1  a reply missed an :expect, or a script met an unexpected 4xx/5xx
  2  usage error, or a command line refused by the checks
  3  network: refused, timed out, reset, closed unexpectedly
  4  TLS: handshake or verification failed; STARTTLS not offered or refused when required
  5  protocol: the server sent a malformed or oversized reply, or data it must not send
130  interrupted by Ctrl-C (SIGINT) (128 + 2, the shell convention); smtpsh said so and
     ended the session first (a message in progress was not delivered)
--audit: the worst finding's code: 0 none; 1 a warning (a certificate nothing
     authenticates or close to its end, DANE records unusable or unvalidated,
     MTA-STS testing-mode problems); 3 a host unreachable or greeting 421/554;
     4 no STARTTLS, a failed handshake, DANE records that match nothing or
     fail DNSSEC, an enforced MTA-STS policy a host fails; 5 a protocol error";
}

/// What went wrong below the front ends.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command line refused by the checks; nothing was sent.
    #[error(transparent)]
    Refused(#[from] CommandError),
    /// A MAIL or RCPT line refused against the server's extensions (SMTPUTF8); nothing was
    /// sent.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// Bad input from the user that is not a command line (a bad target, an option).
    #[error("{0}")]
    Usage(String),
    /// A file the user named can't be read (or written).
    #[error("cannot {} {}{}", if *.write { "write" } else { "read" }, what.map(|w| format!("{w} ")).unwrap_or_default(), path.display())]
    File {
        /// The option that named it (`--cafile`), if one did.
        what: Option<&'static str>,
        /// The file.
        path: std::path::PathBuf,
        /// Writing, not reading.
        write: bool,
        /// Why: the operating system's error, kept as the cause.
        #[source]
        source: io::Error,
    },
    /// A step the session can't take where it is (in body mode, say); nothing was sent.
    #[error("{0}")]
    Mode(String),
    /// The server did not advertise what the step needs (PIPELINING, CHUNKING); nothing
    /// was sent.
    #[error("{0}")]
    NotOffered(String),
    /// Safety rule 8 kept credentials back (AUTH not offered, no TLS); nothing was sent.
    #[error("{0}")]
    AuthRefused(String),
    /// The message is over the server's SIZE limit (RFC 1870); nothing was sent.
    #[error("{0}")]
    TooBig(String),
    /// Could not connect.
    // Not named `source`: thiserror would then also chain it, and `{err:#}` would print the
    // cause twice.
    #[error("could not connect to {target}: {why}")]
    Connect {
        /// What we tried to reach.
        target: String,
        /// Why not.
        why: io::Error,
    },
    /// No reply within the deadline.
    #[error("no complete reply within {secs} s (--timeout); the server is silent or too slow")]
    Timeout {
        /// The deadline in seconds.
        secs: f64,
    },
    /// The user pressed Ctrl-C during a wait.
    #[error("wait cancelled")]
    Cancelled,
    /// Ctrl-C (SIGINT) in the middle of a message. SMTP has no way to abort DATA but closing
    /// the connection (RFC 5321 §4.1.1.4: the end of data is the only terminator, and sending
    /// it would deliver the truncated message), nor BDAT but not sending LAST (RFC 3030 §2):
    /// the connection was closed and the message was not delivered.
    #[error(
        "interrupted (Ctrl-C) after {} of {file}: the connection was closed without ending the message, so it was NOT delivered (SMTP can abort a message only by closing the connection, RFC 5321 §4.1.1.4)",
        octets_of(*.sent, *.total)
    )]
    Stopped {
        /// The file being sent.
        file: String,
        /// Octets of the file sent before the stop.
        sent: u64,
        /// The file's size, when known.
        total: Option<u64>,
    },
    /// The peer closed the connection when a reply was due.
    #[error("the server closed the connection")]
    Closed,
    /// Another I/O error on an open connection (reset, broken pipe).
    #[error("connection lost: {0}")]
    Io(io::Error),
    /// The server's bytes are not a valid reply, or too big.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The server sent data it must not send (for example after the 220 to STARTTLS).
    #[error("{0}")]
    Protocol(String),
    /// TLS could not be set up, or the handshake failed.
    #[error("{0}")]
    Tls(String),
    /// The verifier refused the server's certificate. What the handshake showed of the
    /// server is kept, so that the `:tls` report can say why without `--insecure`.
    #[error(
        "certificate verification failed for {name:?}: {reason} (use --cafile FILE to trust its CA, --tls-name NAME for another name, or --insecure)"
    )]
    Verify {
        /// The name verified.
        name: String,
        /// The verifier's reason.
        reason: String,
        /// What the plaintext part of the handshake showed (in TLS 1.2, the chain).
        seen: Box<crate::net::tls::Seen>,
    },
    /// Not connected.
    #[error("not connected; use :connect HOST[:PORT]")]
    NotConnected,
}

impl Error {
    /// The exit code for this error.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Refused(_)
            | Error::Envelope(_)
            | Error::Usage(_)
            | Error::File { .. }
            | Error::Mode(_)
            | Error::NotOffered(_)
            | Error::AuthRefused(_)
            | Error::TooBig(_)
            | Error::NotConnected => Exit::Usage,
            // A wait cancelled reaches an exit status only in a script, where Ctrl-C (SIGINT)
            // ends the run.
            Error::Cancelled | Error::Stopped { .. } => Exit::Interrupted,
            Error::Connect { .. } | Error::Timeout { .. } | Error::Closed | Error::Io(_) => {
                Exit::Network
            }
            Error::Parse(_) | Error::Protocol(_) => Exit::Protocol,
            Error::Tls(_) | Error::Verify { .. } => Exit::Tls,
        }
    }

    /// Whether the connection can't be used after this error. A usage error (exit 2) was
    /// found before anything went on the wire, and a cancelled wait leaves the reply owed,
    /// not the connection broken.
    pub fn ends_connection(&self) -> bool {
        self.exit() != Exit::Usage && !matches!(self, Error::Cancelled)
    }
}

/// `1234 of 5678 octets`, or `1234 octets` when the total is not known.
fn octets_of(sent: u64, total: Option<u64>) -> String {
    match total {
        Some(t) => format!("{sent} of {t} octets"),
        None => format!("{sent} octets"),
    }
}

/// A failure a front end reports that is not an [`Error`]: a missed expectation.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ExpectationFailed(pub String);

/// A script stopped by Ctrl-C (SIGINT) between steps, after ending the session (exit 130).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Interrupted(pub String);

/// `--audit` found something: the worst finding's severity decides the exit status.
#[derive(Debug, thiserror::Error)]
#[error("{summary}")]
pub struct AuditFindings {
    /// The worst severity found.
    pub worst: crate::audit::Severity,
    /// What to say.
    pub summary: String,
}

impl Exit {
    /// The exit status of an `--audit` whose worst finding is `worst`.
    pub fn of_finding(worst: crate::audit::Severity) -> Exit {
        use crate::audit::Severity;
        match worst {
            Severity::Warning => Exit::Expectation,
            Severity::Network => Exit::Network,
            Severity::Tls => Exit::Tls,
            Severity::Protocol => Exit::Protocol,
        }
    }
}

/// A usage error raised at the edge (bad options, bad shell-command arguments).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl Error {
    /// A file that can't be read; `what` names the option that gave it (`--cafile`).
    pub fn reading(what: Option<&'static str>, path: &std::path::Path, source: io::Error) -> Error {
        Error::File {
            what,
            path: path.to_path_buf(),
            write: false,
            source,
        }
    }

    /// A file that can't be written.
    pub fn writing(what: Option<&'static str>, path: &std::path::Path, source: io::Error) -> Error {
        Error::File {
            what,
            path: path.to_path_buf(),
            write: true,
            source,
        }
    }
}

impl From<LineError> for Error {
    fn from(e: LineError) -> Error {
        Error::Refused(CommandError::Line(e))
    }
}

/// Map any error to an exit code: the one place that does it.
pub fn exit_code(err: &anyhow::Error) -> Exit {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<Error>() {
            return e.exit();
        }
        if cause.downcast_ref::<ExpectationFailed>().is_some() {
            return Exit::Expectation;
        }
        if cause.downcast_ref::<Interrupted>().is_some() {
            return Exit::Interrupted;
        }
        if let Some(a) = cause.downcast_ref::<AuditFindings>() {
            return Exit::of_finding(a.worst);
        }
        if cause.downcast_ref::<UsageError>().is_some()
            || cause.downcast_ref::<LineError>().is_some()
            || cause.downcast_ref::<CommandError>().is_some()
            || cause.downcast_ref::<clap::Error>().is_some()
        {
            return Exit::Usage;
        }
        if cause.downcast_ref::<ParseError>().is_some() {
            return Exit::Protocol;
        }
    }
    // Anything untyped at the edge (a file that can't be read, say) is the user's to fix.
    Exit::Usage
}

/// Result alias for library code.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    // Ctrl-C (SIGINT) ends a script with the shell's 128 + 2, whichever way it stopped it:
    // a wait, a body in the middle, or between steps.
    #[test]
    fn interruptions_exit_130() {
        assert_eq!(Exit::Interrupted as u8, 130);
        assert_eq!(Error::Cancelled.exit(), Exit::Interrupted);
        let stopped = Error::Stopped {
            file: "big.eml".into(),
            sent: 10,
            total: Some(20),
        };
        assert_eq!(stopped.exit(), Exit::Interrupted);
        assert!(stopped.ends_connection());
        assert!(
            stopped
                .to_string()
                .starts_with("interrupted (Ctrl-C) after 10 of 20 octets of big.eml:")
        );
        let between = anyhow::Error::new(Interrupted("t.smtp:3: interrupted".into()));
        assert_eq!(exit_code(&between), Exit::Interrupted);
        assert_eq!(
            exit_code(&anyhow::Error::new(Error::Cancelled).context("t.smtp:4")),
            Exit::Interrupted
        );
        assert!(Exit::TABLE.contains("\n130  interrupted by Ctrl-C (SIGINT)"));
    }
}
