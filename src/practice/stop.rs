//! The server's stop signal, and the pauses that end early when it is raised: a session
//! waiting out an AUTH failure delay, a tarpit or a greeting delay must still say `421` and
//! close when the teacher presses Ctrl-C, not after its pause.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Raised once, when the server stops.
#[derive(Debug, Default)]
pub(crate) struct Stop {
    raised: AtomicBool,
    lock: Mutex<()>,
    woken: Condvar,
}

impl Stop {
    /// Raise it, waking every pause.
    pub fn raise(&self) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.raised.store(true, Ordering::SeqCst);
        self.woken.notify_all();
    }

    /// Whether it was raised.
    pub fn raised(&self) -> bool {
        self.raised.load(Ordering::SeqCst)
    }

    /// Wait `pause`, or less if the stop is raised meanwhile; `true` when it was.
    pub fn sleep(&self, pause: Duration) -> bool {
        let deadline = Instant::now() + pause;
        let mut guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if self.raised() {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            guard = match self.woken.wait_timeout(guard, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_pause_ends_when_the_stop_is_raised() {
        let stop = Arc::new(Stop::default());
        assert!(!stop.sleep(Duration::from_millis(10)));
        let waiter = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                (stop.sleep(Duration::from_secs(60)), started.elapsed())
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        stop.raise();
        let (raised, took) = waiter.join().unwrap();
        assert!(raised);
        assert!(took < Duration::from_secs(10), "{took:?}");
        assert!(stop.sleep(Duration::from_secs(60)), "raised stays raised");
    }
}
