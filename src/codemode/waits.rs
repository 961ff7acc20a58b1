//! The time a run waits for its user (a confirmation asked mid-script), which its time
//! bound does not count, up to an allowance: a person reading a question is not a
//! script running. Overlapping waits count once.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A run's waits for its user, shared by its host (which waits) and its engine (whose
/// deadline moves by them).
#[derive(Debug)]
pub struct UserWaits {
    /// The most waiting excused in all.
    allowance: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Waits in progress, and since when one has been.
    open: u32,
    since: Option<Instant>,
    /// Waiting ended so far.
    ended: Duration,
}

impl UserWaits {
    /// Waits excused up to `allowance` in all.
    pub fn new(allowance: Duration) -> UserWaits {
        UserWaits {
            allowance,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A wait begins; it ends when the guard is dropped.
    pub fn begin(&self) -> Waiting<'_> {
        let mut s = self.state();
        if s.open == 0 {
            s.since = Some(Instant::now());
        }
        s.open += 1;
        Waiting(self)
    }

    /// The waiting excused at `now`: what ended, and the wait in progress, within the
    /// allowance.
    pub fn excused(&self, now: Instant) -> Duration {
        let s = self.state();
        let open = s
            .since
            .filter(|_| s.open > 0)
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        (s.ended + open).min(self.allowance)
    }
}

/// A wait in progress.
pub struct Waiting<'a>(&'a UserWaits);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut s = self.0.state();
        s.open = s.open.saturating_sub(1);
        if s.open == 0
            && let Some(t) = s.since.take()
        {
            s.ended += t.elapsed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_waits_count_once_and_the_allowance_caps_them() {
        let w = UserWaits::new(Duration::from_secs(3600));
        let t0 = Instant::now();
        assert_eq!(w.excused(t0), Duration::ZERO);
        let a = w.begin();
        let b = w.begin();
        let later = Instant::now() + Duration::from_secs(10);
        let open = w.excused(later);
        assert!(open >= Duration::from_secs(10) && open < Duration::from_secs(11));
        drop(a);
        assert!(
            w.excused(later) >= Duration::from_secs(10),
            "one still waits"
        );
        drop(b);
        let ended = w.excused(Instant::now() + Duration::from_secs(100));
        assert!(
            ended < Duration::from_secs(1),
            "ended waits stop growing: {ended:?}"
        );
        let capped = UserWaits::new(Duration::from_secs(5));
        let _c = capped.begin();
        assert_eq!(
            capped.excused(Instant::now() + Duration::from_secs(60)),
            Duration::from_secs(5)
        );
    }
}
