//! Ctrl-C during a wait: the REPL installs a SIGINT handler that sets a flag, and waits poll
//! it (PRODUCT.md safety rule 7: Ctrl-C cancels a wait without killing the shell).

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Install the handler (interactive sessions only; a script dies on Ctrl-C as usual).
pub fn install() {
    let _ = ctrlc::set_handler(|| REQUESTED.store(true, Ordering::SeqCst));
}

/// Whether Ctrl-C was pressed since the last [`clear`].
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Forget a Ctrl-C press.
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}
