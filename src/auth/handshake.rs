//! A key's handshakes (`initialize`, and `server/discover` in the 2026-07-28 era) are not
//! charged to its request rate: a client that opens a session per call (`mcpc`, a script)
//! would pay two requests for one call, and a key at `2/s` could not make one call a
//! second. They are not free either: a key with a rate has a bucket of handshakes of its
//! own, as fast as its rate and at least [`PER_SEC`] a second, with its burst and at least
//! [`BURST`], kept by each process. `notifications/initialized` costs nothing (a
//! notification is answered 202 before any work); every handshake still takes a place
//! among the key's requests in flight and is bounded by the body and time limits.

use std::time::Instant;

/// Handshakes a second a limited key may make at least.
pub const PER_SEC: f64 = 5.0;
/// Handshakes a limited key may make in a burst at least.
pub const BURST: f64 = 10.0;

/// One key's handshake bucket.
#[derive(Debug)]
pub struct Handshakes {
    tokens: f64,
    per_sec: f64,
    capacity: f64,
    updated: Instant,
}

impl Handshakes {
    /// A full bucket (its size is set by the first [`Handshakes::take`]).
    pub fn new(now: Instant) -> Handshakes {
        Handshakes {
            tokens: f64::MAX,
            per_sec: PER_SEC,
            capacity: BURST,
            updated: now,
        }
    }

    /// Takes one handshake for a key whose rate is `rate_per_sec` with `burst`; `Err` is
    /// how many milliseconds until one is back.
    pub fn take(&mut self, rate_per_sec: f64, burst: u32, now: Instant) -> Result<(), u64> {
        self.per_sec = rate_per_sec.max(PER_SEC);
        self.capacity = f64::from(burst).max(BURST);
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        Err((((1.0 - self.tokens) / self.per_sec) * 1000.0)
            .ceil()
            .max(1.0) as u64)
    }

    /// What the bucket allows, for a refusal's message: `(per second, burst)`.
    pub fn bounds(&self) -> (f64, f64) {
        (self.per_sec, self.capacity)
    }

    /// Whether the bucket is full again at `now` (forgetting it loses nothing).
    pub fn is_idle(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens.min(self.capacity) + elapsed * self.per_sec >= self.capacity
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens.min(self.capacity) + elapsed * self.per_sec).min(self.capacity);
        self.updated = self.updated.max(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_slow_key_gets_a_few_handshakes_a_second_and_a_fast_one_its_own_rate() {
        let t0 = Instant::now();
        // A key at 2/s, burst 2: ten at once, then five a second.
        let mut slow = Handshakes::new(t0);
        for i in 0..10 {
            assert_eq!(slow.take(2.0, 2, t0), Ok(()), "{i}");
        }
        assert_eq!(slow.take(2.0, 2, t0), Err(200));
        assert_eq!(slow.bounds(), (5.0, 10.0));
        let t1 = t0 + Duration::from_secs(1);
        for i in 0..5 {
            assert_eq!(slow.take(2.0, 2, t1), Ok(()), "{i}");
        }
        assert!(slow.take(2.0, 2, t1).is_err());
        assert!(!slow.is_idle(t1));
        assert!(slow.is_idle(t1 + Duration::from_secs(2)));
        // A key at 100/s, burst 50: its own rate and burst.
        let mut fast = Handshakes::new(t0);
        for i in 0..50 {
            assert_eq!(fast.take(100.0, 50, t0), Ok(()), "{i}");
        }
        assert_eq!(fast.take(100.0, 50, t0), Err(10));
        assert_eq!(fast.bounds(), (100.0, 50.0));
    }
}
