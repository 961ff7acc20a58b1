//! Failed-authentication limiting per client address: a token bucket per address that
//! only failures drain, checked before any argon2 work is done for that address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Failures an address may make in a burst.
const BURST: f64 = 10.0;
/// Failures forgiven per second afterwards.
const REFILL_PER_SEC: f64 = 0.5;
/// Addresses tracked at most; beyond it, fully recovered entries are forgotten first.
const MAX_ADDRESSES: usize = 65_536;

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * REFILL_PER_SEC).min(BURST);
        self.updated = now;
    }
}

/// Per-address failure budget.
#[derive(Default)]
pub struct FailureLimiter {
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl FailureLimiter {
    /// `Err(retry_after_secs)` when `ip` has used up its failures.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        match buckets.get_mut(&ip) {
            None => Ok(()),
            Some(b) => {
                b.refill(now);
                if b.tokens >= 1.0 {
                    Ok(())
                } else {
                    Err(((1.0 - b.tokens) / REFILL_PER_SEC).ceil().max(1.0) as u64)
                }
            }
        }
    }

    /// Charges one failure to `ip`.
    pub fn record_failure(&self, ip: IpAddr, now: Instant) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_ADDRESSES && !buckets.contains_key(&ip) {
            buckets.retain(|_, b| {
                b.refill(now);
                b.tokens < BURST
            });
            if buckets.len() >= MAX_ADDRESSES {
                // Everyone tracked is still failing; forget an arbitrary one.
                if let Some(k) = buckets.keys().next().copied() {
                    buckets.remove(&k);
                }
            }
        }
        let b = buckets.entry(ip).or_insert(Bucket {
            tokens: BURST,
            updated: now,
        });
        b.refill(now);
        b.tokens = (b.tokens - 1.0).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill_per_address() {
        let l = FailureLimiter::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..BURST as usize {
            assert!(l.check(ip, t0).is_ok());
            l.record_failure(ip, t0);
        }
        assert_eq!(l.check(ip, t0), Err(2));
        assert!(l.check(other, t0).is_ok(), "other addresses unaffected");
        assert!(l.check(ip, t0 + Duration::from_secs(2)).is_ok(), "refilled");
    }
}
