//! Per-client AUTH rate limiting (Postfix's `smtpd_client_auth_rate_limit`): a token
//! bucket per client address, shared by all of its connections, so opening more
//! connections does not buy a password guesser more tries.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most addresses remembered; past it, those whose buckets are full again (they have
/// not tried for a minute) are forgotten first.
const MAX_CLIENTS: usize = 4096;
const WINDOW: Duration = Duration::from_secs(60);

/// AUTH commands allowed per client address and minute.
#[derive(Debug)]
pub(crate) struct AuthRate {
    per_minute: usize,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl AuthRate {
    /// `per_minute` AUTH commands a minute for each address; 0: no limit.
    pub fn new(per_minute: usize) -> AuthRate {
        AuthRate {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Count one AUTH from `ip` now; `false` when it is over the limit.
    pub fn allow(&self, ip: IpAddr) -> bool {
        self.allow_at(ip, Instant::now())
    }

    fn allow_at(&self, ip: IpAddr, now: Instant) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let capacity = self.per_minute as f64;
        let refill = capacity / WINDOW.as_secs_f64();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&ip) {
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * refill < capacity
            });
            if buckets.len() >= MAX_CLIENTS {
                // Every remembered address is still busy: forget the one idle longest.
                if let Some(oldest) = buckets.iter().min_by_key(|(_, b)| b.at).map(|(k, _)| *k) {
                    buckets.remove(&oldest);
                }
            }
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * refill).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How many addresses are remembered (tests).
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.buckets.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn a_burst_then_the_rate() {
        let rate = AuthRate::new(60);
        let (a, b) = (IpAddr::from([192, 0, 2, 1]), IpAddr::from([192, 0, 2, 2]));
        let t0 = Instant::now();
        assert_eq!((0..100).filter(|_| rate.allow_at(a, t0)).count(), 60);
        assert!(rate.allow_at(b, t0), "each address has its own bucket");
        // One a second comes back.
        assert!(!rate.allow_at(a, t0 + Duration::from_millis(500)));
        assert!(rate.allow_at(a, t0 + Duration::from_millis(1100)));
        assert!(!rate.allow_at(a, t0 + Duration::from_millis(1200)));
        assert!(AuthRate::new(0).allow_at(a, t0));
    }

    #[test]
    fn memory_is_bounded_whatever_the_addresses() {
        let rate = AuthRate::new(10);
        let t0 = Instant::now();
        for i in 0..(3 * MAX_CLIENTS as u32) {
            rate.allow_at(IpAddr::V4(Ipv4Addr::from(i)), t0);
        }
        assert!(rate.remembered() <= MAX_CLIENTS);
    }
}
