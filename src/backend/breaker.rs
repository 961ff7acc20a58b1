//! A circuit breaker per backend. Failures are what says the backend itself is in
//! trouble: it cannot be reached, the connection is reset, the stream ends mid-answer,
//! HTTP 5xx, an unreadable answer, or no answer within `timeout_ms`. A tool's `isError`
//! result and a JSON-RPC error answer are answers, not failures.
//!
//! After `breaker_failures` failures in a row the circuit **opens**: calls fail at once,
//! costing the backend nothing. After the cool-down one probe call is let through
//! (**half-open**): its success closes the circuit, its failure opens it again with the
//! cool-down doubled (up to [`MAX_COOLDOWN`]). A call is never retried by the breaker.
//!
//! Two things close a circuit besides a call: a successful (re)connection, which
//! initialized the backend and read its lists ([`Breaker::reconnected`]), and nothing
//! else. And one thing does not count against it: a call that timed out while another
//! call to the same backend was answered after it began ([`Breaker::timed_out`]). The
//! backend is alive; the slow tool is the caller's, so one key calling a tool that
//! sleeps past `timeout_ms` cannot open the circuit for every other key.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest cool-down, however often probes fail.
pub const MAX_COOLDOWN: Duration = Duration::from_secs(300);

/// A circuit's state, as the registry shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Circuit {
    Closed,
    Open,
    HalfOpen,
}

impl Circuit {
    pub fn as_str(self) -> &'static str {
        match self {
            Circuit::Closed => "closed",
            Circuit::Open => "open",
            Circuit::HalfOpen => "half_open",
        }
    }
}

/// A change of a circuit's state, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub circuit: Circuit,
    pub consecutive_failures: u32,
    pub reason: String,
}

/// What a call was admitted as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ticket {
    /// The circuit is closed (or the breaker is off).
    Normal,
    /// The one call a half-open circuit lets through.
    Probe,
}

struct State {
    circuit: Circuit,
    failures: u32,
    last_error: String,
    /// When an open circuit lets its probe through.
    retry_at: Instant,
    cooldown: Duration,
    probing: bool,
    /// When a call was last answered.
    last_answer: Option<Instant>,
}

/// One backend's breaker.
pub struct Breaker {
    /// Failures in a row that open the circuit; 0: the breaker is off.
    threshold: u32,
    base_cooldown: Duration,
    state: Mutex<State>,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Breaker {
        Breaker {
            threshold,
            base_cooldown: cooldown,
            state: Mutex::new(State {
                circuit: Circuit::Closed,
                failures: 0,
                last_error: String::new(),
                retry_at: Instant::now(),
                cooldown,
                probing: false,
                last_answer: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The circuit and the failures in a row, for the registry.
    pub fn snapshot(&self) -> (Circuit, u32) {
        let s = self.state();
        (s.circuit, s.failures)
    }

    /// Lets a call through, or says why not (`server` names the backend). A call let
    /// through must end in [`Breaker::success`], [`Breaker::failure`] or
    /// [`Breaker::abandoned`] with its ticket.
    pub fn admit(
        &self,
        server: &str,
        now: Instant,
    ) -> Result<(Ticket, Option<Transition>), String> {
        if self.threshold == 0 {
            return Ok((Ticket::Normal, None));
        }
        let mut s = self.state();
        match s.circuit {
            Circuit::Closed => Ok((Ticket::Normal, None)),
            Circuit::Open if now >= s.retry_at => {
                s.circuit = Circuit::HalfOpen;
                s.probing = true;
                Ok((
                    Ticket::Probe,
                    Some(Transition {
                        circuit: Circuit::HalfOpen,
                        consecutive_failures: s.failures,
                        reason: "cool-down over: one probe call let through".into(),
                    }),
                ))
            }
            Circuit::HalfOpen if !s.probing => {
                s.probing = true;
                Ok((Ticket::Probe, None))
            }
            Circuit::Open | Circuit::HalfOpen => {
                let wait = s.retry_at.saturating_duration_since(now);
                Err(format!(
                    "server `{server}` is unavailable: circuit open after {} failures (last: {}); retrying in {}s",
                    s.failures,
                    s.last_error,
                    wait.as_secs_f64()
                        .ceil()
                        .max(if s.probing { 0.0 } else { 1.0 }) as u64
                ))
            }
        }
    }

    /// The call was answered.
    pub fn success(&self, ticket: Ticket) -> Option<Transition> {
        if self.threshold == 0 {
            return None;
        }
        let mut s = self.state();
        s.last_answer = Some(Instant::now());
        if ticket == Ticket::Probe {
            s.probing = false;
        }
        self.close(s, "a call succeeded")
    }

    /// The backend was connected again: initialized and its lists read, which proves
    /// it answers. An open or half-open circuit closes at once.
    pub fn reconnected(&self) -> Option<Transition> {
        if self.threshold == 0 {
            return None;
        }
        let s = self.state();
        self.close(s, "the backend was initialized and listed again")
    }

    fn close(&self, mut s: std::sync::MutexGuard<'_, State>, reason: &str) -> Option<Transition> {
        s.failures = 0;
        if s.circuit == Circuit::Closed {
            return None;
        }
        s.circuit = Circuit::Closed;
        s.cooldown = self.base_cooldown;
        s.probing = false;
        Some(Transition {
            circuit: Circuit::Closed,
            consecutive_failures: 0,
            reason: reason.into(),
        })
    }

    /// A call admitted at `began` got no answer within its timeout. It counts as a
    /// failure unless another call was answered since it began: then the backend is
    /// alive and only this call was slow, which says nothing against it.
    pub fn timed_out(
        &self,
        ticket: Ticket,
        reason: &str,
        began: Instant,
        now: Instant,
    ) -> Option<Transition> {
        if self.threshold == 0 {
            return None;
        }
        let answered_since = self.state().last_answer.is_some_and(|t| t >= began);
        if answered_since {
            self.abandoned(ticket);
            return None;
        }
        self.failure(ticket, reason, now)
    }

    /// The call failed in a way that counts against the backend.
    pub fn failure(&self, ticket: Ticket, reason: &str, now: Instant) -> Option<Transition> {
        if self.threshold == 0 {
            return None;
        }
        let mut s = self.state();
        s.failures = s.failures.saturating_add(1);
        s.last_error = reason.to_string();
        let reopen = match s.circuit {
            Circuit::Closed => s.failures >= self.threshold,
            Circuit::HalfOpen if ticket == Ticket::Probe => {
                s.cooldown = (s.cooldown * 2).min(MAX_COOLDOWN.max(self.base_cooldown));
                s.probing = false;
                true
            }
            _ => false,
        };
        if !reopen {
            return None;
        }
        s.circuit = Circuit::Open;
        s.retry_at = now + s.cooldown;
        Some(Transition {
            circuit: Circuit::Open,
            consecutive_failures: s.failures,
            reason: format!(
                "{} failures in a row (last: {reason}); retrying in {} ms",
                s.failures,
                s.cooldown.as_millis()
            ),
        })
    }

    /// The call ended without saying anything about the backend (the client went
    /// away, or the gateway refused it): a probe's place is given back.
    pub fn abandoned(&self, ticket: Ticket) {
        if ticket == Ticket::Probe {
            self.state().probing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_opens_after_the_threshold_probes_after_the_cooldown_and_closes_on_success() {
        let b = Breaker::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        for i in 0..2 {
            let (t, _) = b.admit("s", t0).unwrap();
            assert!(b.failure(t, "refused", t0).is_none(), "failure {i}");
        }
        // A success in between starts the count again.
        let (t, _) = b.admit("s", t0).unwrap();
        assert!(b.success(t).is_none());
        assert_eq!(b.snapshot(), (Circuit::Closed, 0));
        for _ in 0..2 {
            let (t, _) = b.admit("s", t0).unwrap();
            b.failure(t, "refused", t0);
        }
        let (t, _) = b.admit("s", t0).unwrap();
        let opened = b.failure(t, "connection refused", t0).unwrap();
        assert_eq!(opened.circuit, Circuit::Open);
        assert_eq!(b.snapshot(), (Circuit::Open, 3));
        let refused = b.admit("s", t0 + Duration::from_secs(1)).unwrap_err();
        assert_eq!(
            refused,
            "server `s` is unavailable: circuit open after 3 failures (last: connection refused); retrying in 9s"
        );
        // After the cool-down: one probe, the others still refused.
        let later = t0 + Duration::from_secs(10);
        let (probe, half) = b.admit("s", later).unwrap();
        assert_eq!(probe, Ticket::Probe);
        assert_eq!(half.unwrap().circuit, Circuit::HalfOpen);
        assert!(b.admit("s", later).is_err(), "one probe at a time");
        let closed = b.success(probe).unwrap();
        assert_eq!(closed.circuit, Circuit::Closed);
        assert!(b.admit("s", later).is_ok());
    }

    #[test]
    fn a_reconnection_closes_an_open_circuit_before_its_cooldown() {
        let b = Breaker::new(1, Duration::from_secs(10));
        let t0 = Instant::now();
        let (t, _) = b.admit("s", t0).unwrap();
        assert!(b.failure(t, "reset", t0).is_some());
        assert!(b.admit("s", t0).is_err());
        let closed = b.reconnected().expect("a transition");
        assert_eq!(closed.circuit, Circuit::Closed);
        assert_eq!(b.snapshot(), (Circuit::Closed, 0));
        assert_eq!(b.admit("s", t0).unwrap().0, Ticket::Normal);
        assert!(b.reconnected().is_none(), "closed already: nothing to say");
        assert!(Breaker::new(0, Duration::ZERO).reconnected().is_none());
    }

    #[test]
    fn a_timeout_counts_only_when_nothing_was_answered_since_the_call_began() {
        let b = Breaker::new(2, Duration::from_secs(10));
        let began = Instant::now();
        let (slow1, _) = b.admit("s", began).unwrap();
        let (slow2, _) = b.admit("s", began).unwrap();
        let (quick, _) = b.admit("s", began).unwrap();
        b.success(quick);
        // Another call was answered after these began: the backend is alive.
        let later = began + Duration::from_secs(5);
        assert!(b.timed_out(slow1, "no answer", began, later).is_none());
        assert!(b.timed_out(slow2, "no answer", began, later).is_none());
        assert_eq!(b.snapshot(), (Circuit::Closed, 0));
        // Timeouts with no answer since they began count, and open the circuit.
        let began = Instant::now() + Duration::from_millis(1);
        let (t1, _) = b.admit("s", began).unwrap();
        let (t2, _) = b.admit("s", began).unwrap();
        assert!(b.timed_out(t1, "no answer", began, began).is_none());
        let opened = b.timed_out(t2, "no answer", began, began).unwrap();
        assert_eq!(opened.circuit, Circuit::Open);
    }

    #[test]
    fn a_failed_probe_doubles_the_cooldown_up_to_a_cap() {
        let b = Breaker::new(1, Duration::from_secs(100));
        let mut now = Instant::now();
        let (t, _) = b.admit("s", now).unwrap();
        b.failure(t, "timeout", now);
        let mut expected = Duration::from_secs(100);
        for _ in 0..4 {
            now += expected;
            let (probe, _) = b.admit("s", now).unwrap();
            let again = b.failure(probe, "timeout", now).unwrap();
            expected = (expected * 2).min(MAX_COOLDOWN);
            assert!(
                again
                    .reason
                    .contains(&format!("{} ms", expected.as_millis())),
                "{}",
                again.reason
            );
            assert!(
                b.admit("s", now + expected - Duration::from_millis(1))
                    .is_err()
            );
        }
        assert_eq!(expected, MAX_COOLDOWN);
        // An abandoned probe gives its place back.
        now += expected;
        let (probe, _) = b.admit("s", now).unwrap();
        b.abandoned(probe);
        let (probe, _) = b.admit("s", now).unwrap();
        assert_eq!(probe, Ticket::Probe);
        b.success(probe);
        // The cool-down starts again from its base.
        let (t, _) = b.admit("s", now).unwrap();
        let opened = b.failure(t, "x", now).unwrap();
        assert!(opened.reason.contains("100000 ms"), "{}", opened.reason);
    }

    #[test]
    fn an_off_breaker_never_opens() {
        let b = Breaker::new(0, Duration::from_secs(1));
        let now = Instant::now();
        for _ in 0..100 {
            let (t, _) = b.admit("s", now).unwrap();
            assert!(b.failure(t, "x", now).is_none());
        }
        assert_eq!(b.snapshot(), (Circuit::Closed, 0));
    }
}
