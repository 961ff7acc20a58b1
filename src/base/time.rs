//! The clock as every plane reads it: seconds and milliseconds since the Unix epoch, and
//! the [`Clock`] of the per-key limits, which a test may advance.

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The clock the per-key limits read: the system's, moved forward by however much a test
/// has advanced it (never in production: nothing outside the tests calls
/// [`Clock::advance`]). A test that needs a rate's second or a lease's idle time to pass
/// advances the gateway's clock instead of waiting on the wall clock; PostgreSQL's side of
/// the limits reads the same skew (`skew_ms` of the lease functions), so the replica and
/// the database agree on what time it is.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    skew_ms: Arc<AtomicU64>,
}

impl Clock {
    /// Now, as a monotonic instant.
    pub fn now(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.skew_ms())
    }

    /// Now, in seconds since the Unix epoch.
    pub fn unix_now(&self) -> u64 {
        unix_now() + self.skew_ms() / 1000
    }

    /// How far this clock is ahead of the system's, in milliseconds.
    pub fn skew_ms(&self) -> u64 {
        self.skew_ms.load(Ordering::Relaxed)
    }

    /// Moves this clock (and every copy of it) forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.skew_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advanced_clock_is_ahead_in_every_copy() {
        let clock = Clock::default();
        let copy = clock.clone();
        let (before, unix_before) = (Instant::now(), unix_now());
        assert_eq!(clock.skew_ms(), 0);
        clock.advance(Duration::from_millis(2500));
        assert_eq!(copy.skew_ms(), 2500);
        assert!(copy.now() >= before + Duration::from_millis(2500));
        assert!(copy.unix_now() >= unix_before + 2);
    }
}
