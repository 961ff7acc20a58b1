//! What a 2026-07-28 client's call holds back from its backend's answer stream, beside
//! the rounds ([`super::rounds`]) that use it: the backend's questions, answered on the
//! client's retry (multi-round-trip requests); the URL questions of a -32042; the
//! unfinished last event while the stream is looked at in whole events; whether
//! results are given the `resultType` a session-era backend leaves out; and how long a
//! round waits for more questions before it ends ([`Settle`]).

use std::future::Future;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::ask::Ask;

/// A stateless call's held state; all off for a session client's call.
#[derive(Default)]
pub(crate) struct Held {
    /// A call that may need input (`tools/call`, `prompts/get`, `resources/read`): the
    /// backend's requests to the client are held in `asks` instead of being relayed, and
    /// the call waits for the client's retry.
    pub(crate) mrtr: bool,
    pub(crate) asks: Vec<Ask>,
    /// The backend answered -32042 (URL elicitation required): the answer is held back
    /// and these URL questions go to the client instead, which retries.
    pub(crate) url_asks: Vec<Ask>,
    /// The unfinished last event of an SSE piece, held for the rest.
    carry: BytesMut,
    /// An SSE answer from a 2026-07-28 backend to a stateless client: looked at in whole
    /// events, and a result without `resultType` is given one.
    pub(crate) stamp: bool,
}

impl Held {
    /// Held state for a call whose results are stamped (`stamp`) or not.
    pub(crate) fn stamping(stamp: bool) -> Held {
        Held {
            stamp,
            ..Held::default()
        }
    }

    /// The whole events of `piece` after what was carried: the unfinished end waits for
    /// the rest, so a question split between two pieces is still held back (not relayed
    /// as a request the client cannot take). Untouched when nothing is held.
    pub(crate) fn whole_events(&mut self, piece: Bytes) -> Bytes {
        if !(self.mrtr || self.stamp) {
            return piece;
        }
        let mut joined = std::mem::take(&mut self.carry);
        joined.extend_from_slice(&piece);
        let whole = crate::jsonrpc::sse::last_event_end(&joined).unwrap_or(0);
        self.carry = joined.split_off(whole);
        joined.freeze()
    }

    /// What was carried when the stream ended, as it is (stamped when due).
    pub(crate) fn rest(&mut self) -> Option<Bytes> {
        let tail = std::mem::take(&mut self.carry).freeze();
        if tail.is_empty() {
            return None;
        }
        Some(match self.stamp {
            true => crate::mcp::wire::rpc::event_with_result_type(&tail).unwrap_or(tail),
            false => tail,
        })
    }

    /// Whether the answer is withheld for URL questions (the client retries).
    pub(crate) fn withheld(&self) -> bool {
        !self.url_asks.is_empty()
    }
}

/// How long a call waits for more of the backend's questions after its last one, so
/// that questions asked together (concurrently, written within microseconds) go to the
/// client in one round; each new question restarts it, up to [`SETTLE_MOST`]. It is
/// most of a round trip's cost (see loadtest `--answer-input`), so it is short; at
/// 1 ms the conformance suite's three concurrent questions came apart on a loaded
/// machine (docs/architecture/performance.md).
const SETTLE: Duration = Duration::from_millis(5);
const SETTLE_MOST: Duration = Duration::from_millis(20);
/// How long a call waits, from the backend's first question, while every question held
/// is one the client did not declare: the backend may still ask something the client
/// can answer (concurrent questions are written apart by its scheduler, more than
/// [`SETTLE`] apart on a busy machine), and ending the round now gives the client
/// -32021 and gives the call up. Only that error's path waits this long.
const REFUSED_WAIT: Duration = Duration::from_millis(100);

/// The wait for more questions once the backend asked one.
pub(crate) struct Settle {
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// When the first question came, then when the first one the client can answer did.
    began: tokio::time::Instant,
    /// Questions held when the timer was last set.
    asked: usize,
    /// Whether one of them is a question the client can answer.
    askable: bool,
}

impl Settle {
    /// The wait begun by a first question at `now`.
    pub(crate) fn new(now: tokio::time::Instant) -> Settle {
        Settle {
            timer: Box::pin(tokio::time::sleep(SETTLE)),
            began: now,
            asked: 0,
            askable: false,
        }
    }

    /// Whether the wait is over (the round ends); registers `cx` otherwise.
    pub(crate) fn over(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        self.timer.as_mut().poll(cx).is_ready()
    }

    /// Sets the timer for the questions held now: [`SETTLE`] after the last one (at most
    /// [`SETTLE_MOST`] after the first the client can answer), or [`REFUSED_WAIT`] after
    /// the first while the client can answer none of them.
    pub(crate) fn held(&mut self, asks: &[Ask], now: tokio::time::Instant) {
        if asks.len() <= self.asked {
            return;
        }
        self.asked = asks.len();
        if !self.askable && asks.iter().any(|a| a.undeclared.is_none()) {
            self.askable = true;
            self.began = now;
        }
        let due = if self.askable {
            (now + SETTLE).min(self.began + SETTLE_MOST)
        } else {
            self.began + REFUSED_WAIT
        };
        self.timer.as_mut().reset(due);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(undeclared: Option<&'static str>) -> Ask {
        Ask {
            key: "k".into(),
            id: Bytes::from_static(b"1"),
            method: crate::jsonrpc::methods::Method::SamplingCreateMessage,
            params: Bytes::from_static(b"{}"),
            undeclared,
        }
    }

    #[tokio::test]
    async fn a_round_of_refusals_waits_longer_than_one_the_client_can_answer() {
        // Begun a second ago: every deadline below is past, so the wait is over.
        let began = tokio::time::Instant::now() - Duration::from_secs(1);
        let at = |ms| began + Duration::from_millis(ms);
        let mut s = Settle::new(began);
        let refused = ask(Some("elicitation"));
        s.held(std::slice::from_ref(&refused), began);
        assert_eq!(s.timer.deadline(), began + REFUSED_WAIT);
        // The same questions again: the timer stands.
        s.held(std::slice::from_ref(&refused), at(30));
        assert_eq!(s.timer.deadline(), began + REFUSED_WAIT);
        // One the client can answer: SETTLE after it, within SETTLE_MOST of it.
        s.held(&[refused.clone(), ask(None)], at(40));
        assert_eq!(s.timer.deadline(), at(40) + SETTLE);
        s.held(
            &[refused.clone(), ask(None), ask(None)],
            at(40) + SETTLE_MOST,
        );
        assert_eq!(s.timer.deadline(), at(40) + SETTLE_MOST);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(s.over(&mut cx));
    }
}
