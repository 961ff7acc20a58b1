//! What a 2026-07-28 client's call holds back from its backend's answer stream, beside
//! the rounds ([`super::rounds`]) that use it: the backend's questions, answered on the
//! client's retry (multi-round-trip requests); the URL questions of a -32042; the
//! unfinished last event while the stream is looked at in whole events; and whether
//! results are given the `resultType` a session-era backend leaves out.

use bytes::{Bytes, BytesMut};

use super::rounds::Ask;

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
            true => crate::proxy::rpc::event_with_result_type(&tail).unwrap_or(tail),
            false => tail,
        })
    }

    /// Whether the answer is withheld for URL questions (the client retries).
    pub(crate) fn withheld(&self) -> bool {
        !self.url_asks.is_empty()
    }
}
