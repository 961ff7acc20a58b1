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
    /// Takes one failure from `ip`'s budget before work that may fail (argon2), so
    /// concurrent attempts cannot all pass the check before any is charged. Give it back
    /// with [`FailureLimiter::refund`] when the attempt succeeds.
    /// `Err(retry_after_secs)` when the budget is used up.
    pub fn reserve(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = Self::bucket(&mut buckets, ip, now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / REFILL_PER_SEC).ceil().max(1.0) as u64)
        }
    }

    /// Returns a reserved failure: the attempt succeeded (or failed through no fault of
    /// the client's).
    pub fn refund(&self, ip: IpAddr, now: Instant) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = buckets.get_mut(&ip) {
            b.refill(now);
            b.tokens = (b.tokens + 1.0).min(BURST);
        }
    }

    /// `ip`'s bucket, refilled to `now`; made (full) if new, forgetting recovered or
    /// arbitrary addresses when too many are tracked.
    fn bucket(buckets: &mut HashMap<IpAddr, Bucket>, ip: IpAddr, now: Instant) -> &mut Bucket {
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
        b
    }

    /// Charges one failure to `ip`.
    pub fn record_failure(&self, ip: IpAddr, now: Instant) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = Self::bucket(&mut buckets, ip, now);
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
        for _ in 0..BURST as usize - 1 {
            l.record_failure(ip, t0);
        }
        assert!(l.reserve(ip, t0).is_ok());
        assert_eq!(l.reserve(ip, t0), Err(2));
        assert!(l.reserve(other, t0).is_ok(), "other addresses unaffected");
        assert!(
            l.reserve(ip, t0 + Duration::from_secs(2)).is_ok(),
            "refilled"
        );
    }

    #[test]
    fn reservations_are_charged_before_the_work() {
        let l = FailureLimiter::default();
        let ip: IpAddr = "10.0.0.3".parse().unwrap();
        let t0 = Instant::now();
        // Many attempts at once: only the burst gets through, whatever their outcome.
        let passed = (0..100).filter(|_| l.reserve(ip, t0).is_ok()).count();
        assert_eq!(passed, BURST as usize);
        // Successful ones give their reservation back.
        l.refund(ip, t0);
        assert!(l.reserve(ip, t0).is_ok());
        assert!(l.reserve(ip, t0).is_err());
    }
}
