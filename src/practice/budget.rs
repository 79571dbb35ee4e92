//! The memory all messages may take, kept and in progress: one counter shared by the mailbox
//! and every session, so a classroom (or a hostile client) can't make the server grow past
//! [`super::Limits::max_stored`] whatever it sends.
//!
//! A session reserves before it holds: the envelope (sender and each recipient) at MAIL and
//! RCPT, the body as it grows during DATA. When a reservation can't be had the session
//! answers `452 4.3.1` (RFC 3463: mail system full) instead of allocating. A message that is
//! kept hands its reservation to the mailbox ([`Reservation::keep`]); everything else gives
//! it back when the [`Reservation`] is dropped, however the session ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A bounded count of octets in use.
#[derive(Debug)]
pub struct Budget {
    used: AtomicUsize,
    max: usize,
}

impl Budget {
    /// A budget of `max` octets, none used.
    pub fn new(max: usize) -> Arc<Budget> {
        Arc::new(Budget {
            used: AtomicUsize::new(0),
            max,
        })
    }

    /// Take `n` octets if they fit; `false` (and nothing taken) otherwise.
    fn take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&total| total <= self.max)
            })
            .is_ok()
    }

    /// Give back `n` octets taken before.
    pub(crate) fn give_back(&self, n: usize) {
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(n))
            });
    }

    /// Whether `n` more octets would fit now.
    pub fn has_room(&self, n: usize) -> bool {
        self.used
            .load(Ordering::Acquire)
            .checked_add(n)
            .is_some_and(|total| total <= self.max)
    }

    /// Octets in use now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// Octets a session holds from a [`Budget`]; given back on drop.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Reservation {
    /// An empty reservation on `budget`.
    pub fn new(budget: &Arc<Budget>) -> Reservation {
        Reservation {
            budget: budget.clone(),
            bytes: 0,
        }
    }

    /// Hold `n` more octets; `false` (nothing changed) when the budget can't give them.
    pub fn grow(&mut self, n: usize) -> bool {
        if n == 0 {
            return true;
        }
        if !self.budget.take(n) {
            return false;
        }
        self.bytes += n;
        true
    }

    /// Hold exactly `n` octets: give back the excess, or take what is missing.
    pub fn resize(&mut self, n: usize) -> bool {
        if n <= self.bytes {
            self.budget.give_back(self.bytes - n);
            self.bytes = n;
            true
        } else {
            self.grow(n - self.bytes)
        }
    }

    /// Take over what `other` holds (from the same budget).
    pub fn absorb(&mut self, other: Reservation) {
        debug_assert!(Arc::ptr_eq(&self.budget, &other.budget));
        self.bytes += other.keep();
    }

    /// Octets held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Stop tracking these octets without giving them back: whoever keeps the data they
    /// stand for (the mailbox) gives them back when it lets the data go.
    pub fn keep(mut self) -> usize {
        std::mem::take(&mut self.bytes)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_bounded_and_given_back() {
        let budget = Budget::new(100);
        let mut a = Reservation::new(&budget);
        assert!(a.grow(60));
        let mut b = Reservation::new(&budget);
        assert!(!b.grow(41), "60 + 41 > 100");
        assert_eq!(b.bytes(), 0);
        assert!(b.grow(40));
        assert!(!budget.has_room(1));
        assert!(a.resize(10));
        assert_eq!(budget.used(), 50);
        drop(b);
        assert_eq!(budget.used(), 10);
        let kept = a.keep();
        assert_eq!(kept, 10);
        assert_eq!(budget.used(), 10, "kept octets stay counted");
        budget.give_back(kept);
        assert_eq!(budget.used(), 0);
        assert!(budget.has_room(100) && !budget.has_room(101));
    }

    #[test]
    fn many_threads_never_exceed_the_bound() {
        let budget = Budget::new(1000);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let budget = budget.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        let mut r = Reservation::new(&budget);
                        if r.grow(300) {
                            assert!(budget.used() <= 1000);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(budget.used(), 0);
    }
}
