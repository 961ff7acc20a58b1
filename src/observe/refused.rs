//! Refused logins in the log: each with its reason and the client's address, so an
//! operator can tell a mistyped key from a scan, at most [`LINES`] a [`WINDOW`] (a client
//! sending bad keys in a loop cannot fill the log), then one line counting the rest.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lines a window at most.
pub const LINES: u32 = 20;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(60);

/// What this window has logged and held back.
#[derive(Default)]
pub struct RefusedLogins(Mutex<Window>);

#[derive(Default)]
struct Window {
    started: Option<Instant>,
    logged: u32,
    held_back: u64,
}

/// What to log for one refusal, decided under the lock and logged outside it.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// This refusal's line, after a line counting the ones a past window held back.
    Log { held_back: u64 },
    /// Nothing: the window's lines are spent.
    Quiet,
}

impl RefusedLogins {
    /// Logs a refused login (`reason` as the metric names it), unless the window's lines
    /// are spent. A request without credentials is the start of an OAuth client's
    /// discovery, not a refusal of anything given: it stays at debug level.
    pub fn record(&self, reason: &'static str, peer: IpAddr) {
        if reason == "missing" {
            tracing::debug!(%peer, "request without credentials refused");
            return;
        }
        if let Line::Log { held_back } = self.line(Instant::now()) {
            if held_back > 0 {
                tracing::warn!(
                    held_back,
                    "{held_back} more refused logins were not logged in the last minute \
                     (metamcp_auth_failures_total counts each)"
                );
            }
            tracing::warn!(
                reason,
                %peer,
                "login refused: the credentials were not accepted ({reason}) from {peer}"
            );
        }
    }

    /// Whether a refusal at `now` gets a line.
    pub fn line(&self, now: Instant) -> Line {
        let mut w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut held_back = 0;
        if w.started.is_none_or(|s| now.duration_since(s) >= WINDOW) {
            held_back = std::mem::take(&mut w.held_back);
            w.started = Some(now);
            w.logged = 0;
        }
        if w.logged < LINES {
            w.logged += 1;
            Line::Log { held_back }
        } else {
            w.held_back += 1;
            Line::Quiet
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_logs_its_lines_then_counts_the_rest_into_the_next() {
        let r = RefusedLogins::default();
        let t0 = Instant::now();
        for _ in 0..LINES {
            assert_eq!(r.line(t0), Line::Log { held_back: 0 });
        }
        for _ in 0..5 {
            assert_eq!(r.line(t0 + Duration::from_secs(30)), Line::Quiet);
        }
        assert_eq!(r.line(t0 + WINDOW), Line::Log { held_back: 5 });
        assert_eq!(r.line(t0 + WINDOW), Line::Log { held_back: 0 });
    }
}
