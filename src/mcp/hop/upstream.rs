//! A backend's answer on its way to the client: the client's id spliced back into each
//! message (JSON or SSE events), idle time bounded (progress extends it), requests the
//! client cannot serve refused upstream, and the backend told when the client leaves.

use crate::mcp::wire::retired::{URL_REQUIRED, retire_codes};
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hyper::body::Frame as BodyFrame;

use crate::backend::Backend;
use crate::backend::transport::AnswerBody;
use crate::base::ClientCaps;
use crate::jsonrpc::frame::{self};
use crate::jsonrpc::needle::Needle;
use crate::mcp::hop::calls::InFlightGuard;
use crate::mcp::hop::splicer::ResponseSplicer;
use crate::mcp::wire::rpc::{RpcError, code};

use super::record::{CallRecord, Outcome};
use super::screen::{LOG_NEEDLE, Screen};
use crate::mcp::wire::held::Held;

/// A backend's response on its way to the client: id restored, idle time bounded,
/// the backend told when the client leaves early.
pub struct UpstreamBody {
    pub(in crate::mcp) inner: AnswerBody,
    pub(in crate::mcp) splicer: ResponseSplicer,
    pub(in crate::mcp) pending: VecDeque<Bytes>,
    /// Reused for the splicer's output, so a piece costs no allocation.
    pub(in crate::mcp) scratch: Vec<Bytes>,
    /// Fires `timeout` after the call began or the backend last reported progress.
    pub(in crate::mcp) deadline: Deadline,
    pub(in crate::mcp) guard: Option<InFlightGuard>,
    pub(in crate::mcp) sse: bool,
    /// A JSON answer sent to the client as one SSE event (`event: message`, `data: `).
    pub(in crate::mcp) wrap: bool,
    /// Whether the wrapped event's head has been sent.
    pub(in crate::mcp) opened: bool,
    /// The end of the previous SSE piece, so a progress notification split between two
    /// pieces is still seen.
    pub(in crate::mcp) tail: Tail,
    /// The splicer's count of backend requests when last looked at.
    pub(in crate::mcp) requests_seen: u32,
    pub(in crate::mcp) client_id: Bytes,
    pub(in crate::mcp) finished: bool,
    /// The backend's answer stream has ended (what was held has been taken in).
    pub(in crate::mcp) inner_done: bool,
    pub(in crate::mcp) backend: Arc<Backend>,
    /// The backend's session the call is on ([`crate::backend::transport::Answer::via`]).
    pub(in crate::mcp) via: u8,
    pub(in crate::mcp) request: Bytes,
    pub(in crate::mcp) conversation: Arc<str>,
    /// The call's account, finished with the answer.
    pub(in crate::mcp) record: CallRecord,
    /// What the client is not to see (its capabilities, its log level).
    pub(in crate::mcp) screen: Screen,
    /// What a stateless client's call holds back (the era bridge's state).
    pub(in crate::mcp) held: Held,
}

/// A call's time limit: `timeout` after it began or the backend last made progress. The
/// timer is moved only when it fires, not on every piece.
pub(in crate::mcp) struct Deadline {
    timeout: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
    progress: tokio::time::Instant,
}

impl Deadline {
    pub(in crate::mcp) fn new(started: tokio::time::Instant, timeout: Duration) -> Deadline {
        Deadline {
            timeout,
            sleep: Box::pin(tokio::time::sleep_until(started + timeout)),
            progress: started,
        }
    }

    /// The backend made progress: the limit counts from now.
    fn progressed(&mut self) {
        self.progress = tokio::time::Instant::now();
    }

    /// Counts from now, the timer moved too (a retry).
    fn restart(&mut self) {
        self.progressed();
        let due = self.progress + self.timeout;
        self.sleep.as_mut().reset(due);
    }

    /// Whether the limit has passed (the timer is re-armed when progress moved it on).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        while self.sleep.as_mut().poll(cx).is_ready() {
            let due = self.progress + self.timeout;
            if due <= tokio::time::Instant::now() {
                return true;
            }
            self.sleep.as_mut().reset(due);
        }
        false
    }
}

/// What marks a response with a result in an SSE piece.
static RESULT_NEEDLE: crate::jsonrpc::needle::Needle = crate::needle!(b"\"result\"");

use crate::jsonrpc::methods::Method;
use crate::jsonrpc::sse::event_end;

/// The last bytes of an SSE piece.
#[derive(Default)]
pub(crate) struct Tail {
    pub(in crate::mcp) bytes: [u8; PROGRESS.len()],
    pub(in crate::mcp) len: usize,
}

/// What marks a progress notification in an SSE answer.
pub(crate) const PROGRESS: &[u8] = Method::Progress.as_str().as_bytes();

impl Tail {
    /// Whether `piece` (after the previous one) shows a progress notification.
    fn progress_in(&mut self, piece: &[u8]) -> bool {
        let head = &piece[..piece.len().min(PROGRESS.len())];
        let mut joined = [0u8; 2 * PROGRESS.len()];
        joined[..self.len].copy_from_slice(&self.bytes[..self.len]);
        joined[self.len..self.len + head.len()].copy_from_slice(head);
        static NEEDLE: crate::jsonrpc::needle::Needle = crate::needle!(PROGRESS);
        let found = NEEDLE.in_(&joined[..self.len + head.len()]) || NEEDLE.in_(piece);
        let keep = piece.len().min(PROGRESS.len() - 1);
        self.bytes[..keep].copy_from_slice(&piece[piece.len() - keep..]);
        self.len = keep;
        found
    }
}

static GATED_NEEDLES: [Needle; 3] = [
    crate::needle!(GATED[0]),
    crate::needle!(GATED[1]),
    crate::needle!(GATED[2]),
];

/// What marks a backend's request that needs a client capability, in an SSE piece.
pub(in crate::mcp) const GATED: [&[u8]; 3] = [
    Method::SamplingCreateMessage.as_str().as_bytes(),
    Method::ElicitationCreate.as_str().as_bytes(),
    Method::RootsList.as_str().as_bytes(),
];

impl UpstreamBody {
    /// The client's capabilities (a stateless client's, read once from its request).
    fn caps(&mut self) -> u8 {
        self.screen.caps(&self.request)
    }

    /// Whether an event is a log message the client is not to see.
    fn muted(&mut self, event: &[u8]) -> bool {
        self.screen.muted(event, &self.request, &self.conversation)
    }

    /// Cuts out of an SSE piece the backend's requests to the client that need a
    /// capability the client did not declare, and answers each to the backend with an
    /// error; and log messages below the level the client asked for (a stateless one in
    /// its request, all of them when it asked for none; a session with
    /// `logging/setLevel`). Only whole events in the piece
    /// are looked at; a piece without a marker (almost all) is returned untouched.
    fn screen(&mut self, data: Bytes) -> Bytes {
        // A stateless client's call answer is looked at in whole events.
        let data = self.held.whole_events(data);
        let mrtr = self.held.mrtr;
        let gated = GATED_NEEDLES.iter().any(|n| n.in_(&data)) || (mrtr && URL_REQUIRED.in_(&data));
        let logged = LOG_NEEDLE.in_(&data);
        let stamped = self.held.stamp && RESULT_NEEDLE.in_(&data);
        if !(gated || logged || stamped) {
            return data;
        }
        let mut kept = BytesMut::new();
        let mut from = 0;
        let mut start = 0;
        while let Some(end) = event_end(&data[start..]).map(|e| start + e) {
            if let Some(asks) = mrtr
                .then(|| crate::mcp::wire::ask::url_asks(&data[start..end]))
                .flatten()
            {
                kept.extend_from_slice(&data[from..start]);
                from = end;
                self.held.url_asks = asks;
            } else if let Some(ask) = mrtr.then(|| self.question(&data[start..end])).flatten() {
                kept.extend_from_slice(&data[from..start]);
                from = end;
                if self.held.asks.len() < crate::mcp::wire::ask::MAX_ASKS {
                    self.held.asks.push(ask);
                } else {
                    // A backend flooding one round: the rest are refused to it.
                    self.tell_backend(crate::backend::mux::error_answer_with(
                        &ask.id,
                        code::INTERNAL,
                        "too many questions in one round for the client",
                    ));
                }
            } else if let Some((id, error, why)) = self.refused(&data[start..end]) {
                kept.extend_from_slice(&data[from..start]);
                from = end;
                self.tell_backend(crate::backend::mux::error_answer_with(&id, error, &why));
            } else if self.muted(&data[start..end]) {
                kept.extend_from_slice(&data[from..start]);
                from = end;
            } else if let Some(fixed) = stamped
                .then(|| crate::mcp::wire::rpc::event_with_result_type(&data[start..end]))
                .flatten()
            {
                kept.extend_from_slice(&data[from..start]);
                kept.extend_from_slice(&fixed);
                from = end;
            }
            start = end;
        }
        if from == 0 {
            return data;
        }
        kept.extend_from_slice(&data[from..]);
        kept.freeze()
    }

    /// Takes a screened piece of the answer: retired codes renumbered (stateless), counted,
    /// the client's id spliced in, and the deadline moved on progress.
    fn take_in(&mut self, data: Bytes) {
        let data = if self.screen.client_modern() {
            retire_codes(data)
        } else {
            data
        };
        self.record.response_bytes += data.len();
        self.record.saw(&data);
        // Progress notifications and the backend's own requests to the client extend the
        // deadline; comments, keep-alives and other bytes do not.
        let progressed = self.sse && self.tail.progress_in(&data);
        self.splicer.feed(data, &mut self.scratch);
        self.pending.extend(self.scratch.drain(..));
        let asked = self.splicer.requests_seen();
        if progressed || asked != self.requests_seen {
            self.requests_seen = asked;
            self.deadline.progressed();
        }
    }

    /// Sends the backend an answer to one of its requests, in the background.
    fn tell_backend(&self, answer: Bytes) {
        let backend = self.backend.clone();
        let conversation = self.conversation.clone();
        let via = self.via;
        tokio::spawn(async move {
            backend
                .notify(
                    crate::mcp::hop::calls::owner_key(&conversation),
                    via,
                    answer,
                )
                .await;
        });
    }

    /// The backend's id, an error code and why, for an event carrying a request the
    /// client cannot take: it needs a capability the client did not declare, or it is a
    /// URL elicitation whose id the gateway passed to another client.
    fn refused(&mut self, event: &[u8]) -> Option<(Vec<u8>, i64, String)> {
        let data = crate::jsonrpc::sse::data_of(event).pop()?;
        let f = frame::parse(&data).ok()?;
        if !f.is_request() {
            return None;
        }
        let (bit, name) = ClientCaps::needed_by_request(&data, f.kind?)?;
        if self.caps() & bit == bit {
            if bit & ClientCaps::ELICITATION_URL != 0 {
                // Its end (`notifications/elicitation/complete`) may come on the
                // backend's own stream: it goes to this client alone.
                let v = crate::jsonrpc::read::value(&data).ok()?;
                if let Some(id) = v["params"]["elicitationId"].as_str()
                    && !self
                        .backend
                        .correlations
                        .elicitation(id, self.conversation.clone())
                {
                    return Some((
                        f.id?.of(&data).to_vec(),
                        code::INVALID_PARAMS,
                        format!("elicitationId {id:?} is another client's"),
                    ));
                }
            }
            return None;
        }
        Some((
            f.id?.of(&data).to_vec(),
            code::METHOD_NOT_FOUND,
            format!("the client did not declare the {name} capability"),
        ))
    }

    /// A request of the backend's that a stateless client answers on its retry (or,
    /// needing a capability the client did not declare, is refused when the round ends).
    fn question(&mut self, event: &[u8]) -> Option<crate::mcp::wire::ask::Ask> {
        let data = crate::jsonrpc::sse::data_of(event).pop()?;
        let f = frame::parse(&data).ok()?;
        if !f.is_request() {
            return None;
        }
        let mut ask = crate::mcp::wire::ask::Ask::of(&data, &f, &self.held.asks)?;
        if let Some((bit, name)) = ClientCaps::needed_by_request(&data, ask.method)
            && self.caps() & bit != bit
        {
            ask.undeclared = Some(name);
        }
        Some(ask)
    }

    /// Goes on answering a multi-round-trip retry: its id in the response still to
    /// come, its `_meta` read afresh, and the timeout counted from now.
    pub(in crate::mcp) fn resume(&mut self, client_id: Bytes, request: Bytes) {
        self.splicer.set_client_id(client_id.clone());
        self.client_id = client_id;
        self.request = request;
        self.screen.reread();
        self.deadline.restart();
    }

    /// Ends a call nobody will take further (its client never retried): recorded as
    /// cancelled (not the backend's failure), and cancelled upstream as the guard drops.
    pub(in crate::mcp) fn finish_abandoned(&mut self, why: &str) {
        tracing::debug!(backend = %self.backend.name, why, "a call waiting for input was given up");
        self.finished = true;
        self.guard = None;
        self.record.finish(Outcome::Cancelled);
    }

    /// The end of an SSE answer that never came: a final error event for the client. It
    /// starts with a blank line, which ends an event the backend left unfinished.
    fn error_event(&self, message: &str) -> Bytes {
        let err = RpcError::method(
            code::INTERNAL,
            format!("server `{}`: {message}", self.backend.name),
        )
        .body(&self.client_id);
        let mut out = BytesMut::with_capacity(err.len() + 32);
        out.extend_from_slice(b"\n\nevent: message\ndata: ");
        out.extend_from_slice(&err);
        out.extend_from_slice(b"\n\n");
        out.freeze()
    }

    /// A piece of a wrapped JSON answer as SSE data: line breaks (only ever whitespace
    /// in JSON) become spaces, so the event stays one `data:` line.
    fn wrapped(&mut self, piece: Bytes) -> Bytes {
        let piece = if memchr::memchr2(b'\n', b'\r', &piece).is_some() {
            let mut b = BytesMut::from(&piece[..]);
            for c in b.iter_mut() {
                if *c == b'\n' || *c == b'\r' {
                    *c = b' ';
                }
            }
            b.freeze()
        } else {
            piece
        };
        if self.opened {
            return piece;
        }
        self.opened = true;
        let mut out = BytesMut::with_capacity(piece.len() + 24);
        out.extend_from_slice(b"event: message\ndata: ");
        out.extend_from_slice(&piece);
        out.freeze()
    }

    fn end(&mut self, problem: Option<&str>) -> Option<Result<BodyFrame<Bytes>, std::io::Error>> {
        self.finished = true;
        // Whole: an SSE answer's response event ended; a JSON answer's body reached its
        // end (a JSON body that broke off is not an answer, even with our id in it).
        let withheld = self.held.withheld();
        let answered = withheld
            || if self.sse {
                self.splicer.answer_ended()
            } else {
                self.splicer.answered() && problem.is_none()
            };
        let problem = match problem {
            None if !answered && self.sse && self.splicer.answered() => {
                Some("ended the stream in the middle of its answer")
            }
            p => p,
        };
        if let Some(g) = &mut self.guard
            && (answered || problem.is_none())
        {
            g.complete();
        }
        // A guard still armed cancels upstream when dropped: the gateway gave up.
        if let Some(g) = &mut self.guard {
            g.cancel_on_drop();
        }
        self.guard = None;
        match (answered, problem) {
            (true, _) if self.splicer.errored() || withheld => self.record.finish(Outcome::Error),
            (true, _) | (false, None) => self.record.finish(Outcome::Ok),
            (false, Some(p)) => self.record.fail(p),
        }
        match problem {
            Some(p) if (self.sse || self.wrap) && !answered => {
                Some(Ok(BodyFrame::data(self.error_event(p))))
            }
            None if self.wrap && self.opened => {
                Some(Ok(BodyFrame::data(Bytes::from_static(b"\n\n"))))
            }
            Some(p) if !answered => Some(Err(std::io::Error::other(format!(
                "server `{}`: {p}",
                self.backend.name
            )))),
            _ => None,
        }
    }
}

impl hyper::body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<BodyFrame<Bytes>, std::io::Error>>> {
        let this = &mut *self;
        loop {
            if let Some(b) = this.pending.pop_front() {
                let b = if this.wrap { this.wrapped(b) } else { b };
                return Poll::Ready(Some(Ok(BodyFrame::data(b))));
            }
            if this.finished {
                return Poll::Ready(None);
            }
            if this.inner_done {
                let problem = (!this.splicer.answered() && !this.held.withheld())
                    .then_some("closed the stream without answering");
                return Poll::Ready(this.end(problem));
            }
            match this.inner.poll_chunk(cx) {
                Poll::Ready(Some(Ok(data))) => {
                    let data = if this.sse { this.screen(data) } else { data };
                    this.take_in(data);
                }
                Poll::Ready(Some(Err(e))) => {
                    let msg = format!("the answer broke off: {e}");
                    return Poll::Ready(this.end(Some(&msg)));
                }
                Poll::Ready(None) => {
                    // What was held back as an unfinished event goes as it is.
                    this.inner_done = true;
                    if let Some(rest) = this.held.rest() {
                        this.take_in(rest);
                    }
                }
                Poll::Pending => {
                    if this.deadline.expired(cx) {
                        this.record.timed_out = true;
                        let msg = format!(
                            "no answer within {} ms (timeout_ms) of the call or its last progress",
                            this.deadline.timeout.as_millis()
                        );
                        return Poll::Ready(this.end(Some(&msg)));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

/// How often a call going on without its client looks whether it was cancelled since.
const DETACHED_CHECK: Duration = Duration::from_secs(1);

/// A session client's answer. A session client that goes away has not cancelled its call
/// (MCP: a disconnect is not a cancellation): the call goes on upstream to its end, in
/// the background, within its time limit and still holding its place at the backend;
/// its answer is recorded and dropped. At most [`MAX_DETACHED_PER_KEY`](crate::mcp::hop::calls::MAX_DETACHED_PER_KEY) calls of a key
/// (and [`MAX_DETACHED`](crate::mcp::hop::calls::MAX_DETACHED) in all) go on so; beyond, leaving cancels. It stops early when the client cancels it after
/// all (`notifications/cancelled`). A 2026-07-28 client's closed stream is its
/// cancellation: its answer is not one of these.
pub(in crate::mcp) struct Detachable(pub(in crate::mcp) Option<UpstreamBody>);

impl hyper::body::Body for Detachable {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<BodyFrame<Bytes>, std::io::Error>>> {
        match self.0.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }
}

impl Drop for Detachable {
    fn drop(&mut self) {
        let Some(mut body) = self.0.take() else {
            return;
        };
        if body.finished {
            return;
        }
        // A place among the key's (and everyone's) calls going on without their client;
        // with none left, leaving cancels.
        let place = body
            .guard
            .as_ref()
            .and_then(|g| g.inflight.detach(body.record.key));
        let (Some(place), Ok(runtime)) = (place, tokio::runtime::Handle::try_current()) else {
            if let Some(g) = &mut body.guard {
                g.cancel_on_drop();
            }
            return;
        };
        runtime.spawn(async move {
            use http_body_util::BodyExt;
            let _place = place;
            let mut check = tokio::time::interval(DETACHED_CHECK);
            loop {
                tokio::select! {
                    frame = body.frame() => {
                        if !matches!(frame, Some(Ok(_))) {
                            break;
                        }
                    }
                    _ = check.tick() => {
                        if body.cancelled_by_client() {
                            body.finish_abandoned("cancelled by its client after it went away");
                            break;
                        }
                    }
                }
            }
        });
    }
}

impl UpstreamBody {
    /// Whether the client cancelled the call (its in-flight entry is gone before its end).
    fn cancelled_by_client(&self) -> bool {
        self.guard
            .as_ref()
            .is_some_and(|g| !g.done && !g.inflight.contains(&g.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retired_codes_are_renumbered_only_as_error_codes() {
        let answer = |s: &str| retire_codes(Bytes::from(s.to_string()));
        assert_eq!(
            answer(r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32002,"message":"not found"}}"#),
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"not found"}}"#
        );
        assert_eq!(
            answer("data: {\"error\":{\"code\" : -32002}}\n\n"),
            "data: {\"error\":{\"code\" : -32602}}\n\n"
        );
        for kept in [
            r#"{"result":{"content":[{"type":"text","text":"-32002"}]}}"#,
            r#"{"error":{"code":-320021,"message":"x"}}"#,
            r#"{"result":{"count":-32002}}"#,
        ] {
            assert_eq!(answer(kept), kept);
        }
    }
}
