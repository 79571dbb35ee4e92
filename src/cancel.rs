//! Ctrl-C during a wait (PRODUCT.md safety rule 7: Ctrl-C cancels a wait without killing
//! the shell). A [`Cancel`] is a flag the front end owns and hands to the session: the REPL
//! has Ctrl-C set it, waits poll it, and tests set it by hand. Nothing reads a global.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A shared "stop waiting" flag. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A flag nobody has raised.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Have Ctrl-C (SIGINT on Unix, the console's Ctrl-C on Windows) raise this flag
    /// instead of ending the process. Only one handler per process can be installed; a
    /// second call leaves the first in place.
    pub fn on_ctrl_c(&self) {
        let flag = self.0.clone();
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    }

    /// For a script: Ctrl-C (SIGINT) raises this flag, and the run stops at its next safe
    /// point (see `shell::script`). A second Ctrl-C while the flag is still up — smtpsh is
    /// stuck where it can't look at it, such as a write to a server that stopped reading —
    /// ends the process at once with `code`, saying so: exiting closes the connection
    /// without an end of data, so no truncated message is delivered either way. One handler
    /// per process, as for [`Cancel::on_ctrl_c`].
    pub fn on_ctrl_c_then_exit(&self, code: u8) {
        let flag = self.0.clone();
        let _ = ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::SeqCst) {
                eprintln!(
                    "\nsmtpsh: interrupted again: exiting at once (status {code}); the connection is dropped, and a message in progress was not delivered"
                );
                std::process::exit(i32::from(code));
            }
        });
    }

    /// Raise the flag (what Ctrl-C does).
    pub fn raise(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether the flag was raised since the last [`Cancel::clear`].
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Lower the flag.
    pub fn clear(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag() {
        let a = Cancel::new();
        let b = a.clone();
        assert!(!a.requested());
        b.raise();
        assert!(a.requested());
        a.clear();
        assert!(!b.requested());
    }
}
