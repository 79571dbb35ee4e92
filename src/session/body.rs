//! The message after DATA's 354 (RFC 5321 §4.1.1.4): body lines typed or read from a
//! script, dot-stuffed and CRLF-canonical (safety rule 4) as they go, and `:send FILE`,
//! which streams a file through the same encoder without reading it whole.

use std::io::Read;
use std::path::Path;

use super::{Mode, Session, Stage};
use crate::error::Error;
use crate::smtp::command::{Command, Verb};
use crate::smtp::data::{BodySummary, DotStuffer};
use crate::smtp::reply::Reply;
use crate::transcript::Event;

/// Batches of body bytes are written at this size in a script (at the prompt, each line
/// goes at once).
const BATCH: usize = 64 * 1024;

/// The body being sent in body mode.
pub(super) struct Body {
    stuffer: DotStuffer,
    buf: Vec<u8>,
    lines: u64,
}

impl Body {
    pub(super) fn new() -> Body {
        Body {
            stuffer: DotStuffer::new(),
            buf: Vec::with_capacity(BATCH),
            lines: 0,
        }
    }

    pub(super) fn lines(&self) -> u64 {
        self.lines
    }
}

impl Session {
    /// One line of a body in body mode (as typed, without its line end; it may hold any
    /// bytes but CR and LF, which end lines). `flush` writes now (at the prompt) rather than
    /// batching. The lone `.` that ends a body is [`Session::end_body`], not a body line.
    pub fn body_line(&mut self, line: &[u8], flush: bool) -> Result<(), Error> {
        let Mode::Body(body) = &mut self.link()?.mode else {
            return Err(Error::Mode("not in body mode".into()));
        };
        let start = body.buf.len();
        body.stuffer.encode(line, &mut body.buf);
        body.stuffer.encode(b"\r\n", &mut body.buf);
        body.lines += 1;
        let shown = crate::smtp::escape::escape_bytes(&body.buf[start..body.buf.len() - 2]);
        let ready = flush || body.buf.len() >= BATCH;
        let chunk = if ready {
            Some(std::mem::take(&mut body.buf))
        } else {
            None
        };
        self.guard(|s| {
            if let Some(mut chunk) = chunk {
                s.send_bytes(&chunk)?;
                chunk.clear();
                if let Ok(l) = s.link()
                    && let Mode::Body(b) = &mut l.mode
                {
                    // Keep the allocation for the next batch.
                    b.buf = chunk;
                }
            }
            let tls = s.tls();
            s.emit(Event::BodyLine { line: shown, tls });
            Ok(())
        })
    }

    /// The end of the body (the lone `.`): CRLF.CRLF goes out, and the reply (on LMTP one per
    /// recipient) ends the transaction.
    pub fn end_body(&mut self) -> Result<Reply, Error> {
        let link = self.link()?;
        let mode = std::mem::replace(&mut link.mode, Mode::Command);
        let Mode::Body(mut body) = mode else {
            link.mode = mode;
            return Err(Error::Mode("not in body mode".into()));
        };
        let summary = body.stuffer.finish(&mut body.buf);
        self.guard(|s| {
            s.send_bytes(&body.buf)?;
            let tls = s.tls();
            s.emit(Event::BodyLine {
                line: ".".into(),
                tls,
            });
            s.end_body_with(summary, None)
        })
    }

    fn end_body_with(
        &mut self,
        summary: BodySummary,
        file: Option<String>,
    ) -> Result<Reply, Error> {
        self.body_summary(summary, file, true);
        self.end_of_message()
    }

    /// What a body was (DATA or BDAT): its long lines, then the summary event. `dot_ended`:
    /// a DATA body, whose wire form adds stuffed dots and the final `.` line to the message.
    pub(super) fn body_summary(
        &mut self,
        summary: BodySummary,
        file: Option<String>,
        dot_ended: bool,
    ) {
        for l in &summary.long_lines {
            self.warn(format!(
                "body line {} is {} octets, over the 998 of RFC 5322 §2.1.1; sent as it is, not split",
                l.line, l.len
            ));
        }
        if summary.long_line_count > summary.long_lines.len() as u64 {
            self.warn(format!(
                "{} body lines in all are over 998 octets",
                summary.long_line_count
            ));
        }
        let size = if dot_ended {
            crate::smtp::ext::message_size(summary.wire_bytes, summary.stuffed)
        } else {
            summary.wire_bytes
        };
        self.emit(Event::Body {
            lines: summary.lines,
            size,
            bytes: summary.wire_bytes,
            stuffed: summary.stuffed,
            fixed_endings: summary.fixed_endings,
            file,
        });
    }

    /// The reply to the end of a message (one, or one per recipient under LMTP): the
    /// transaction is over.
    pub(super) fn end_of_message(&mut self) -> Result<Reply, Error> {
        let r = self.read_end_of_data()?;
        if let Some(l) = self.link.as_mut() {
            l.tx = Stage::Idle;
            l.mode = Mode::Command;
        }
        Ok(r)
    }

    /// The whole DATA step from a file, streamed: DATA, wait for 354, the file CRLF-normalised
    /// and dot-stuffed in chunks (never read whole), then CRLF.CRLF.
    pub fn send_file(&mut self, path: &Path) -> Result<Reply, Error> {
        self.send_file_with(path, super::SendOptions::default())
    }

    /// `:send` with options: the message size checked against the server's SIZE first
    /// (RFC 1870), and with `bdat` the file goes in BDAT chunks (RFC 3030) instead of DATA.
    /// The front end's [`super::Progress`] is told how far the body has gone; Ctrl-C (the
    /// session's cancel flag) stops it between pieces, closing the connection without ending
    /// the message ([`Error::Stopped`]).
    pub fn send_file_with(
        &mut self,
        path: &Path,
        opts: super::SendOptions,
    ) -> Result<Reply, Error> {
        self.mode_allows_command()?;
        let mut file = std::fs::File::open(path).map_err(|e| Error::reading(None, path, e))?;
        self.check_file_size(&mut file, path, opts)?;
        let name = path.display().to_string();
        let total = super::progress::file_size(&file);
        if opts.bdat {
            let r = self.send_file_bdat(file, path, total);
            self.unwatch();
            return r;
        }
        let data = Command::bare(Verb::Data);
        let r = match self.guard(|s| s.command_inner(&data)) {
            // Ctrl-C while the server decides on DATA: its 354 may be on the way, and then
            // whatever is sent next would be the message. Nothing of it went yet; close.
            Err(Error::Cancelled) => return Err(self.abandon(&name, 0, total)),
            r => r?,
        };
        if r.code.value() != 354 {
            return Ok(r);
        }
        let r = self.guard(|s| {
            // The body goes straight from the file; body mode is for typed lines.
            s.link()?.mode = Mode::Command;
            s.watch(&name, total);
            let mut stuffer = DotStuffer::new();
            let mut input = vec![0u8; 256 * 1024];
            let mut out = Vec::with_capacity(300 * 1024);
            loop {
                let n = match file.read(&mut input) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        // The server is waiting for a body we can't finish: end the connection
                        // rather than send a truncated message.
                        return Err(Error::Io(std::io::Error::new(
                            e.kind(),
                            format!("reading {} failed mid-body: {e}", path.display()),
                        )));
                    }
                };
                out.clear();
                stuffer.encode(&input[..n], &mut out);
                s.send_watched(&out, n as u64)?;
            }
            // The last look before the end of data: after a stop it must never go.
            s.stop_if_asked()?;
            out.clear();
            let summary = stuffer.finish(&mut out);
            s.send_bytes(&out)?;
            s.watch_sent();
            s.end_body_with(summary, Some(name))
        });
        self.unwatch();
        r
    }
}
