//! Progress on the terminal (issue 17): how far, how fast and how long to go, drawn with
//! indicatif on standard error — for the body of `:send FILE` (octets of the file) and for
//! work counted in steps (the messages of a script; the hosts of an audit).
//!
//! Bars are drawn only when standard error is a terminal and `--json` is off ([`Bars::for_stderr`]):
//! never into a pipe or a file, and never into the transcript or `:save`, since progress is
//! not an event. Where the transcript shares the terminal, [`Bars::above`] wraps its output
//! so that bars are lifted for each write and drawn again under it.

use std::borrow::Cow;
use std::io::{self, IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};

use crate::session::Progress;

/// How often a bar is drawn again while nothing moves, so rate and time left stay true for
/// a server that stalls.
const TICK: Duration = Duration::from_millis(100);

/// A spinner any terminal can show (indicatif's default is Braille); the last is "done".
const SPINNER: &str = "-\\|/ ";

/// Where bars go: one group on standard error, or nowhere. Clones share the group.
#[derive(Clone, Debug, Default)]
pub struct Bars {
    /// `None`: bars are off, and nothing is made or drawn.
    multi: Option<MultiProgress>,
    /// Bars on screen now: output is lifted over bars only while there are some.
    live: Arc<AtomicUsize>,
}

impl Bars {
    /// Bars on standard error when it is a terminal and `json` (`--json`) is off; else none.
    pub fn for_stderr(json: bool) -> Bars {
        if json || !io::stderr().is_terminal() {
            return Bars::off();
        }
        Bars {
            multi: Some(MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            live: Arc::default(),
        }
    }

    /// No bars at all.
    pub fn off() -> Bars {
        Bars::default()
    }

    /// Whether bars are drawn.
    pub fn is_on(&self) -> bool {
        self.multi.is_some()
    }

    /// Progress of `:send` bodies, for [`crate::session::Session::set_progress`].
    pub fn file_progress(&self) -> FileBar {
        FileBar {
            bars: self.clone(),
            bar: None,
        }
    }

    /// A bar for `total` steps of one kind (`unit`: "messages", "hosts"), drawn at once.
    /// Call [`Counter::step`] as each is done and [`Counter::finish`] at the end (dropping the
    /// last clone clears it too). With bars off, a counter that does nothing.
    pub fn counter(&self, total: u64, unit: &str) -> Counter {
        let Some(multi) = &self.multi else {
            return Counter::default();
        };
        // The unit is ours, never outside text; braces would be template syntax.
        let unit: String = unit.chars().filter(|c| !matches!(c, '{' | '}')).collect();
        let style = ProgressStyle::with_template(&format!(
            "{{msg}}[{{bar:30}}] {{pos}}/{{len}} {unit}, {{per_sec:1}}, {{eta}} left"
        ))
        .expect("a valid template")
        .progress_chars("=> ");
        let bar = multi.add(
            ProgressBar::new(total)
                .with_style(style)
                .with_finish(ProgressFinish::AndClear),
        );
        self.shown(&bar);
        Counter(Some(Arc::new(CounterBar {
            bar,
            bars: self.clone(),
            done: AtomicBool::new(false),
        })))
    }

    /// `out` (the transcript's stdout, when it is the same terminal) with bars lifted for
    /// each write and drawn again under it, so lines never land in the middle of a bar.
    pub fn above<W: Write>(&self, out: W) -> Above<W> {
        Above {
            out,
            bars: self.clone(),
        }
    }

    fn shown(&self, bar: &ProgressBar) {
        self.live.fetch_add(1, Ordering::SeqCst);
        bar.enable_steady_tick(TICK);
        bar.tick();
    }

    fn gone(&self, bar: &ProgressBar) {
        bar.finish_and_clear();
        if let Some(multi) = &self.multi {
            multi.remove(bar);
        }
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The bar of one `:send` body at a time: octets of the file, rate, time left (a running
/// count and rate when the size is not known, as for a pipe).
#[derive(Debug)]
pub struct FileBar {
    bars: Bars,
    bar: Option<ProgressBar>,
}

impl Progress for FileBar {
    fn started(&mut self, file: &str, total: Option<u64>) {
        self.ended();
        let Some(multi) = &self.bars.multi else {
            return;
        };
        let (bar, template) = match total {
            Some(t) => (
                ProgressBar::new(t),
                "{msg} [{bar:30}] {percent:>3}% {binary_bytes}/{binary_total_bytes}, {binary_bytes_per_sec}, {eta} left",
            ),
            None => (
                ProgressBar::no_length(),
                "{spinner} {msg} {binary_bytes}, {binary_bytes_per_sec}",
            ),
        };
        let style = ProgressStyle::with_template(template)
            .expect("a valid template")
            .progress_chars("=> ")
            .tick_chars(SPINNER);
        let bar = multi.add(bar.with_style(style).with_message(sending(file)));
        self.bars.shown(&bar);
        self.bar = Some(bar);
    }

    fn advanced(&mut self, octets: u64) {
        if let Some(b) = &self.bar {
            b.inc(octets);
        }
    }

    fn sent(&mut self) {
        if let Some(b) = &self.bar {
            // Sent, as far as smtpsh can tell: the kernel may still be handing megabytes to a
            // slow server, and the reply comes after.
            let style = ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .expect("a valid template")
                .tick_chars(SPINNER);
            b.set_style(style);
            let done = b.message().replacen("sending ", "", 1);
            b.set_message(format!("{done} sent; waiting for the server's reply"));
        }
    }

    fn ended(&mut self) {
        if let Some(b) = self.bar.take() {
            self.bars.gone(&b);
        }
    }
}

impl Drop for FileBar {
    fn drop(&mut self) {
        self.ended();
    }
}

/// `sending NAME`: the file's last component, its control characters escaped (a file name
/// never drives the terminal either).
fn sending(file: &str) -> Cow<'static, str> {
    let name = std::path::Path::new(file)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.to_string());
    Cow::Owned(format!(
        "sending {}",
        crate::smtp::escape::escape_bytes(name.as_bytes())
    ))
}

/// A bar of steps done of steps in all: the messages of a script, the hosts of an audit.
/// Clones share the bar; `Default` is a counter that shows nothing.
#[derive(Clone, Debug, Default)]
pub struct Counter(Option<Arc<CounterBar>>);

#[derive(Debug)]
struct CounterBar {
    bar: ProgressBar,
    bars: Bars,
    done: AtomicBool,
}

impl CounterBar {
    fn close(&self) {
        if !self.done.swap(true, Ordering::SeqCst) {
            self.bars.gone(&self.bar);
        }
    }
}

impl Drop for CounterBar {
    fn drop(&mut self) {
        self.close();
    }
}

impl Counter {
    /// One more step done.
    pub fn step(&self) {
        if let Some(c) = &self.0 {
            c.bar.inc(1);
        }
    }

    /// What is being done now, shown before the bar (a host name, say); control
    /// characters are escaped.
    pub fn describe(&self, what: &str) {
        if let Some(c) = &self.0 {
            let text = crate::smtp::escape::escape_bytes(what.as_bytes());
            c.bar
                .set_message(if text.is_empty() { text } else { text + " " });
        }
    }

    /// Done: the bar is cleared (for this clone and every other).
    pub fn finish(&self) {
        if let Some(c) = &self.0 {
            c.close();
        }
    }
}

/// A writer whose writes lift the bars, while there are any, and draw them again after.
#[derive(Debug)]
pub struct Above<W> {
    out: W,
    bars: Bars,
}

impl<W: Write> Write for Above<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &self.bars.multi {
            Some(multi) if self.bars.live.load(Ordering::SeqCst) > 0 => {
                let out = &mut self.out;
                multi.suspend(|| out.write_all(buf).and_then(|()| out.flush()))?;
                Ok(buf.len())
            }
            _ => self.out.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // With bars off, nothing is made: the pieces are no-ops and output passes through.
    #[test]
    fn off_bars_do_nothing_and_pass_output_through() {
        let bars = Bars::off();
        assert!(!bars.is_on());
        let mut f = bars.file_progress();
        f.started("/tmp/big.eml", Some(10));
        f.advanced(5);
        f.ended();
        assert!(f.bar.is_none());
        let c = bars.counter(3, "hosts");
        c.describe("mx1.example");
        c.step();
        c.finish();
        assert!(c.0.is_none());
        let mut out = bars.above(Vec::new());
        out.write_all(b"S: 250 ok\n").unwrap();
        assert_eq!(out.out, b"S: 250 ok\n");
    }

    #[test]
    fn a_file_name_never_drives_the_terminal() {
        assert_eq!(sending("/x/evil\x1b[2J.eml"), "sending evil\\x1b[2J.eml");
        assert_eq!(sending("plain.eml"), "sending plain.eml");
    }
}
