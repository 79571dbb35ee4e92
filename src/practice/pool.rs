//! The threads that serve connections. Still a thread per connection (every blocking read
//! and write has its deadline, and a session is simple to follow), but a thread whose
//! connection ended waits a while for the next one instead of ending: under a class's load
//! (200 clients, a connection per message) starting and ending a thread per connection —
//! its stack mapped and unmapped, the allocator's per-thread state set up and torn down —
//! was most of the server's own time (docs/performance.md).

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

/// What a thread runs: one connection, start to end.
pub(super) type Job = Box<dyn FnOnce() + Send + 'static>;

/// How long a thread without a connection waits for one before it ends.
const IDLE: Duration = Duration::from_secs(10);

/// Idle threads and the jobs handed to them.
#[derive(Default)]
pub(super) struct Pool {
    state: Mutex<State>,
    work: Condvar,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    /// Threads waiting for a job.
    idle: usize,
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run `job` on a waiting thread, or on a new one when none waits for it. An error is
    /// a thread that could not be started; `job` did not run.
    pub(super) fn run(self: &Arc<Self>, job: Job) -> io::Result<()> {
        let mut state = self.lock();
        // Each queued job has a waiting thread of its own: one more only if one is left.
        if state.idle > state.jobs.len() {
            state.jobs.push_back(job);
            drop(state);
            self.work.notify_one();
            return Ok(());
        }
        drop(state);
        let pool = self.clone();
        thread::Builder::new()
            .name("practice-conn".into())
            .spawn(move || {
                job();
                pool.serve();
            })
            .map(drop)
    }

    /// A thread's life after its first job: take the next, or end after [`IDLE`] without.
    /// A job that panics ends its thread (its connection's slot is given back as the panic
    /// unwinds: see `server::Slot`); the pool starts another when one is needed.
    fn serve(&self) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                drop(state);
                job();
                state = self.lock();
                continue;
            }
            state.idle += 1;
            let (next, waited) = self
                .work
                .wait_timeout(state, IDLE)
                .unwrap_or_else(|p| p.into_inner());
            state = next;
            state.idle -= 1;
            if waited.timed_out() && state.jobs.is_empty() {
                return;
            }
        }
    }

    /// Threads waiting for a job now.
    #[cfg(test)]
    fn idle(&self) -> usize {
        self.lock().idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Instant;

    fn eventually(mut cond: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if cond() {
                return true;
            }
            thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn a_thread_serves_the_next_job_and_jobs_at_once_get_threads_of_their_own() {
        let pool = Arc::new(Pool::default());
        let (tx, rx) = mpsc::channel();
        let job = |tx: mpsc::Sender<thread::ThreadId>| -> Job {
            Box::new(move || tx.send(thread::current().id()).unwrap())
        };
        pool.run(job(tx.clone())).unwrap();
        let first = rx.recv().unwrap();
        assert!(eventually(|| pool.idle() == 1));
        pool.run(job(tx.clone())).unwrap();
        assert_eq!(rx.recv().unwrap(), first, "the waiting thread took it");

        // Two jobs that wait for each other: each needs a thread of its own.
        assert!(eventually(|| pool.idle() == 1));
        let (a_tx, a_rx) = mpsc::channel::<()>();
        let (b_tx, b_rx) = mpsc::channel::<()>();
        let done = tx.clone();
        pool.run(Box::new(move || {
            a_tx.send(()).unwrap();
            b_rx.recv().unwrap();
        }))
        .unwrap();
        pool.run(Box::new(move || {
            a_rx.recv().unwrap();
            b_tx.send(()).unwrap();
            done.send(thread::current().id()).unwrap();
        }))
        .unwrap();
        rx.recv_timeout(Duration::from_secs(5))
            .expect("both jobs ran at once");
    }

    #[test]
    fn a_panicking_job_costs_its_thread_only() {
        let pool = Arc::new(Pool::default());
        pool.run(Box::new(|| panic!("a bug in a session"))).unwrap();
        let (tx, rx) = mpsc::channel();
        pool.run(Box::new(move || tx.send(()).unwrap())).unwrap();
        rx.recv_timeout(Duration::from_secs(5))
            .expect("the next job ran");
    }
}
