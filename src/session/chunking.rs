//! The session's extension steps around the message: the envelope checks (SMTPUTF8, DSN),
//! the SIZE check before `:send`, and CHUNKING (RFC 3030): a typed `BDAT n [LAST]` whose
//! data lines follow it, and `:send --bdat FILE` streamed in counted chunks.

use std::io::{Read, Seek};
use std::path::Path;
use std::time::Instant;

use super::{Mode, Session};
use crate::error::Error;
use crate::smtp::bdat::{Bdat, CrlfEncoder};
use crate::smtp::command::Command;
use crate::smtp::data::BodySummary;
use crate::smtp::ext;
use crate::smtp::reply::Reply;
use crate::transcript::Event;

/// How much of a file one BDAT chunk carries (before CRLF normalisation).
const CHUNK_INPUT: usize = 256 * 1024;

/// How `:send` sends a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOptions {
    /// In BDAT chunks (RFC 3030) instead of DATA.
    pub bdat: bool,
    /// Refuse, before anything is sent, a file over the server's SIZE limit.
    pub size_check: bool,
}

impl Default for SendOptions {
    fn default() -> SendOptions {
        SendOptions {
            bdat: false,
            size_check: true,
        }
    }
}

/// A typed `BDAT n [LAST]` whose data is still being typed.
#[derive(Debug, Clone)]
pub(super) struct Chunk {
    left: u64,
    size: u64,
    last: bool,
    lines: u64,
}

impl Chunk {
    pub(super) fn left(&self) -> u64 {
        self.left
    }
}

impl Session {
    /// SMTPUTF8 and DSN checks of a MAIL or RCPT line (see [`ext::check_envelope`]): a
    /// refusal sends nothing; warnings are shown and the line goes.
    pub(super) fn check_envelope(&mut self, cmd: &Command) -> Result<(), Error> {
        let warnings = ext::check_envelope(cmd, self.caps())?;
        for w in warnings {
            self.warn(w);
        }
        Ok(())
    }

    /// RFC 1870: refuse a file over the server's SIZE limit before DATA or BDAT, so nothing
    /// is sent that the server will throw away at the end. The size is the message with CRLF
    /// line ends (what the server counts), worked out by a first read of the file when its
    /// length alone does not decide.
    pub(super) fn check_file_size(
        &mut self,
        file: &mut std::fs::File,
        path: &Path,
        opts: SendOptions,
    ) -> Result<(), Error> {
        let Some(limit) = self.caps().and_then(|c| c.size()).filter(|&l| l > 0) else {
            return Ok(());
        };
        if !opts.size_check {
            return Ok(());
        }
        let meta = file.metadata().map_err(|e| Error::reading(None, path, e))?;
        if !meta.is_file() {
            self.note(format!(
                "{} is not a regular file: its size can't be checked against SIZE {limit} first",
                path.display()
            ));
            return Ok(());
        }
        // CRLF normalisation only adds octets, at most one per input octet (plus a final
        // CRLF): the file's length bounds the message size from both sides.
        let len = meta.len();
        let size = if len > limit {
            len
        } else if len.saturating_mul(2).saturating_add(2) <= limit {
            return Ok(());
        } else {
            let size = measure(file, path)?;
            file.rewind().map_err(|e| Error::reading(None, path, e))?;
            size
        };
        if let Some(limit) = ext::over_size_limit(size, self.caps()) {
            return Err(Error::TooBig(format!(
                "refused: {} is a {size}-octet message (CRLF line ends, RFC 1870 §3) and the server's SIZE limit is {limit}; nothing was sent (:send --no-size-check sends it anyway)",
                path.display()
            )));
        }
        Ok(())
    }

    /// `:send --bdat FILE`: the message in BDAT chunks of the file's CRLF-normalised bytes,
    /// never dot-stuffed (RFC 3030 §2), the last one marked LAST; each chunk's reply is read
    /// before the next goes. Memory stays bounded: one chunk at a time. Ctrl-C stops it
    /// between pieces; LAST never goes after a stop, so the server never takes the part sent
    /// for a whole message.
    pub(super) fn send_file_bdat(
        &mut self,
        mut file: std::fs::File,
        path: &Path,
        total: Option<u64>,
    ) -> Result<Reply, Error> {
        self.require_chunking()?;
        let name = path.display().to_string();
        self.guard(|s| {
            s.settle_owed()?;
            s.watch(&name, total);
            let mut enc = CrlfEncoder::new();
            let mut input = vec![0u8; CHUNK_INPUT];
            let mut pending: Vec<u8> = Vec::with_capacity(2 * CHUNK_INPUT + 2);
            // Octets of the file in `pending`.
            let mut pending_input = 0u64;
            loop {
                let n = loop {
                    match file.read(&mut input) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            // A chunked message can't be taken back: end the connection rather
                            // than let a truncated message through with the next LAST.
                            return Err(Error::Io(std::io::Error::new(
                                e.kind(),
                                format!("reading {} failed mid-message: {e}", path.display()),
                            )));
                        }
                    }
                };
                if n == 0 {
                    let summary = enc.finish(&mut pending);
                    return s.send_chunk(&pending, pending_input, true, Some((summary, path)));
                }
                if !pending.is_empty() {
                    let r = match s.send_chunk(&pending, pending_input, false, None) {
                        // Ctrl-C while a chunk's reply is due: the message is half sent.
                        Err(Error::Cancelled) => {
                            let (sent, total) = s.watched().unwrap_or((0, total));
                            return Err(s.abandon(&name, sent, total));
                        }
                        r => r?,
                    };
                    if r.code.value() != 250 {
                        s.unwatch();
                        s.warn(format!(
                            "the server answered {} to a BDAT chunk; the rest of {} was not sent (RSET before the next message)",
                            r.code,
                            path.display()
                        ));
                        return Ok(r);
                    }
                }
                pending.clear();
                enc.encode(&input[..n], &mut pending);
                pending_input = n as u64;
            }
        })
    }

    /// One BDAT command and its data, then its reply (for the LAST chunk, the end of the
    /// message: one reply, or one per recipient under LMTP). `input` is how many octets of
    /// the watched file the data carries.
    fn send_chunk(
        &mut self,
        data: &[u8],
        input: u64,
        last: bool,
        end: Option<(BodySummary, &Path)>,
    ) -> Result<Reply, Error> {
        let cmd = Command::bdat(Bdat {
            size: data.len() as u64,
            last,
        });
        let mut wire = cmd.to_wire();
        wire.extend_from_slice(data);
        self.send_watched(&wire, input)?;
        if end.is_some() {
            // The whole message went: what is left is its reply.
            self.watch_sent();
        }
        let tls = self.tls();
        self.emit(Event::Sent {
            line: cmd.shown(),
            tls,
            redacted: false,
        });
        let last = end.is_some();
        if let Some((summary, path)) = end {
            self.body_summary(summary, Some(path.display().to_string()), false);
        }
        self.chunk_reply(last)
    }

    /// The reply to a BDAT chunk: for the LAST one, the end of the message (one reply, or
    /// one per recipient under LMTP), which ends the transaction.
    fn chunk_reply(&mut self, last: bool) -> Result<Reply, Error> {
        if last {
            return self.end_of_message();
        }
        let start = Instant::now();
        let r = self.read_reply()?;
        self.show_reply(&r, start, None);
        Ok(r)
    }

    /// BDAT data sent to a server that does not know BDAT would be read as commands: refuse
    /// unless the last EHLO advertised CHUNKING.
    fn require_chunking(&self) -> Result<(), Error> {
        if self.caps().is_some_and(|c| c.has("CHUNKING")) {
            return Ok(());
        }
        Err(Error::NotOffered(
            "refused: the server did not advertise CHUNKING in its last EHLO, so it would read BDAT data as commands; nothing was sent (RFC 3030; :raw sends it anyway)".into(),
        ))
    }

    /// A typed `BDAT n [LAST]` (RFC 3030 §2). The command goes at once; the lines typed after
    /// it are its data (each with CRLF, never dot-stuffed) until `n` octets were sent, and then
    /// the reply is read. `BDAT 0 LAST` has no data and is answered at once. `Ok(None)` while
    /// data is owed.
    pub(super) fn bdat(&mut self, cmd: &Command, b: Bdat) -> Result<Option<Reply>, Error> {
        self.require_chunking()?;
        self.guard(|s| {
            s.settle_owed()?;
            s.send_command(cmd)?;
            s.link()?.mode = Mode::Chunk(Chunk {
                left: b.size,
                size: b.size,
                last: b.last,
                lines: 0,
            });
            if b.size == 0 {
                return s.end_chunk().map(Some);
            }
            s.note(format!(
                "the next {} octets are the chunk: each line typed counts with its CRLF; no dot-stuffing (RFC 3030)",
                b.size
            ));
            Ok(None)
        })
    }

    /// One line of a typed chunk's data (without its line end). It counts with its CRLF;
    /// a line that fills the chunk exactly without one goes without one. `Some(reply)` when
    /// the chunk is complete.
    pub fn chunk_line(&mut self, line: &[u8]) -> Result<Option<Reply>, Error> {
        let Mode::Chunk(c) = &self.link()?.mode else {
            return Err(Error::Mode("not in a BDAT chunk".into()));
        };
        let left = c.left;
        let n = line.len() as u64;
        let with_crlf = n + 2 <= left;
        if !with_crlf && n != left {
            return Err(Error::Mode(format!(
                "refused: this line is {} octets with its CRLF and the chunk has {left} left; nothing was sent (BDAT counts octets; type at most {left})",
                n + 2
            )));
        }
        self.guard(|s| {
            let mut wire = line.to_vec();
            if with_crlf {
                wire.extend_from_slice(b"\r\n");
            }
            s.send_bytes(&wire)?;
            let tls = s.tls();
            s.emit(Event::BodyLine {
                line: crate::smtp::escape::escape_bytes(line),
                tls,
            });
            let Mode::Chunk(c) = &mut s.link()?.mode else {
                return Err(Error::Mode("not in a BDAT chunk".into()));
            };
            c.left -= wire.len() as u64;
            c.lines += 1;
            if c.left > 0 {
                return Ok(None);
            }
            s.end_chunk().map(Some)
        })
    }

    fn end_chunk(&mut self) -> Result<Reply, Error> {
        let link = self.link()?;
        let mode = std::mem::replace(&mut link.mode, Mode::Command);
        let Mode::Chunk(c) = mode else {
            link.mode = mode;
            return Err(Error::Mode("not in a BDAT chunk".into()));
        };
        if c.last {
            self.emit(Event::Body {
                lines: c.lines,
                size: c.size,
                bytes: c.size,
                stuffed: 0,
                fixed_endings: 0,
                file: None,
            });
        }
        self.chunk_reply(c.last)
    }
}

/// The RFC 1870 size of a file sent as a message: its bytes with CRLF line ends.
fn measure(file: &mut std::fs::File, path: &Path) -> Result<u64, Error> {
    let mut enc = CrlfEncoder::new();
    let mut input = vec![0u8; CHUNK_INPUT];
    let mut out = Vec::with_capacity(2 * CHUNK_INPUT + 2);
    loop {
        let n = match file.read(&mut input) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::reading(None, path, e));
            }
        };
        out.clear();
        enc.encode(&input[..n], &mut out);
    }
    out.clear();
    Ok(enc.finish(&mut out).wire_bytes)
}
