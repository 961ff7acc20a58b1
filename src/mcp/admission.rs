//! Phase 1, charge: the key's limits, charged once for every way in: MCP requests of both
//! eras, REST tool execution, the management API and long-lived streams. A key's request rate
//! (a handshake: its handshake bucket instead), its place among its requests in flight, and
//! a tool call's own rate and the key's daily quota. Each refusal is counted and logged (once a minute) by [`State::over_limit`] and
//! returned as [`Refused`] for the caller to answer in its own shape (a JSON-RPC error, a
//! 429 problem).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;

use crate::auth::Principal;
use crate::auth::limits::{InFlight, Kept, Refused};
use crate::http::{ApiError, Body};
use crate::jsonrpc::frame::Frame;
use crate::jsonrpc::methods::Method;
use crate::mcp::ctx::Ctx;
use crate::mcp::era::tasks::places::Handoff;
use crate::mcp::planes::Planes;
use crate::mcp::wire::relayed;
use crate::mcp::wire::rpc::RpcError;
use crate::routing::ToolRate;

fn refused(state: &Planes, p: &Principal, r: Refused) -> Refused {
    state.over_limit(&p.key_id, &r);
    r
}

/// One request against the key's rate.
pub(crate) async fn request(state: &Planes, p: &Principal) -> Result<(), Refused> {
    let limiter = &state.auth.limits;
    let limits = limiter.effective(&p.limits);
    if limits.rate.is_none() {
        return Ok(());
    }
    limiter
        .request(&p.key_id, &limits)
        .await
        .map_err(|r| refused(state, p, r))
}

/// A place among the key's requests in flight alone (its rate charged already).
pub(crate) async fn in_flight(state: &Planes, p: &Principal) -> Result<Option<InFlight>, Refused> {
    let limiter = &state.auth.limits;
    limiter
        .enter(&p.key_id, &limiter.effective(&p.limits))
        .await
        .map_err(|r| refused(state, p, r))
}

/// A tool call: the tool's own rate (`rate`, a namespace's) first, so that a call it
/// refuses does not count against the day, then the key's daily quota.
pub(crate) async fn tool_call(
    state: &Planes,
    p: &Principal,
    rate: Option<&ToolRate>,
) -> Result<(), Refused> {
    let limiter = &state.auth.limits;
    let limits = limiter.effective(&p.limits);
    let charged = match rate {
        Some(t) => limiter.tool_rate(&p.key_id, &t.id, t.rate).await,
        None => Ok(()),
    };
    let charged = match charged {
        Ok(()) => limiter.tool_call(&p.key_id, &limits).await,
        Err(r) => Err(r),
    };
    charged.map_err(|r| refused(state, p, r))
}

/// Phase 1 of every MCP request, its one charge: a handshake's (`server/discover`) or a
/// request's, and the place in flight the answer holds until it is sent. Re-entries (a
/// retry's request sent on, a confirmed call) are not charged again, nor a request
/// another replica admitted and passed here (its sealed mark, [`relayed`]).
pub(crate) async fn admit(
    ctx: &Ctx,
    relayable: Option<&hyper::HeaderMap>,
    body: &[u8],
    f: &Frame,
) -> Result<Option<InFlight>, RpcError> {
    if charged_elsewhere(ctx, relayable, body) {
        return Ok(None);
    }
    // A 2026-07-28 retry that spent its confirmation (or its suspended run's state): one
    // call with the request it answers, charged to the rate when that came; the retry
    // takes a place in flight alone.
    if ctx.confirmation == crate::mcp::ctx::Confirmation::Accepted {
        return place_in_flight(ctx).await;
    }
    match f.is(Method::ServerDiscover) {
        true => handshake(ctx).await,
        false => mcp_request(ctx).await,
    }
}

/// Whether another replica admitted the request and passed it here (its sealed mark).
#[inline(always)]
fn charged_elsewhere(ctx: &Ctx, relayable: Option<&hyper::HeaderMap>, body: &[u8]) -> bool {
    relayable
        .and_then(|h| h.get(relayed::RELAYED))
        .is_some_and(|mark| {
            relayed::charged_already(
                &ctx.state.cipher,
                mark.as_bytes(),
                ctx.kid(),
                body,
                crate::base::unix_now_ms(),
            )
        })
}

/// A request's waiting place among its key's requests about its tasks.
pub(crate) type Reading = crate::mcp::era::tasks::places::Place;

/// Phase 1 of a request about one of the caller's tasks (`tasks/get`, `tasks/result`,
/// `tasks/cancel`, `tasks/update`): the key's rate, and no place among its requests in
/// flight, for a running task holds one already ([`Handoff`]) and its reads must reach
/// it under `max_concurrent` 1. A key with a `max_concurrent` has at most
/// `METAMCP_KEY_MAX_TASKS` of them waiting at once (`tasks/result` waits for its task).
pub(crate) async fn task_request(
    ctx: &Ctx,
    relayable: &hyper::HeaderMap,
    body: &[u8],
) -> Result<Option<Reading>, RpcError> {
    let Some(p) = &ctx.principal else {
        return Ok(None);
    };
    if charged_elsewhere(ctx, Some(relayable), body) {
        return Ok(None);
    }
    request(&ctx.state, p).await.map_err(|r| limited(&r))?;
    let limits = ctx.state.auth.limits.effective(&p.limits);
    if limits.max_concurrent.is_none() {
        return Ok(None);
    }
    let bound = ctx.state.config.tasks.per_key;
    let (reading, waiting) = ctx.state.era.tasks_reading.reserve(p.key_id.to_string());
    if waiting > bound {
        let r = Refused {
            kind: crate::auth::limits::Kind::Concurrency,
            message: format!(
                "this key has {bound} requests about its tasks waiting already, the most it \
                 may (METAMCP_KEY_MAX_TASKS): wait for one to be answered"
            ),
            retry_after_ms: 1000,
            bound: Some(bound as u64),
        };
        return Err(limited(&refused(&ctx.state, p, r)));
    }
    Ok(Some(reading))
}

/// Phase 1 of a multi-round-trip retry: the key's rate alone (nothing for a retry
/// another replica passed here, charged where it came in, or for one that spent its
/// confirmation, charged with the request it answers). The call it resumes holds its
/// place in flight still; a retry that turns out to be a request of its own takes one
/// then ([`place_in_flight`]).
pub(crate) async fn retry(
    ctx: &Ctx,
    relayable: &hyper::HeaderMap,
    body: &[u8],
) -> Result<(), RpcError> {
    if charged_elsewhere(ctx, Some(relayable), body)
        || ctx.confirmation == crate::mcp::ctx::Confirmation::Accepted
    {
        return Ok(());
    }
    charge_rate(ctx).await
}

/// A place among the caller's requests in flight alone, its rate charged already.
pub(crate) async fn place_in_flight(ctx: &Ctx) -> Result<Option<InFlight>, RpcError> {
    match &ctx.principal {
        Some(p) => in_flight(&ctx.state, p).await.map_err(|r| limited(&r)),
        None => Ok(None),
    }
}

/// Applies the caller's key limits to one MCP request: its rate, then a place among its
/// requests in flight (held by the caller until the answer is sent).
///
/// A key refused for concurrency while some of its places are held by its tasks here
/// has them looked at ([`crate::mcp::era::tasks::look`]): a place a task that ended
/// still held is the request's, its rate charged already.
pub(crate) async fn mcp_request(ctx: &Ctx) -> Result<Option<InFlight>, RpcError> {
    let Some(p) = &ctx.principal else {
        return Ok(None);
    };
    let limiter = &ctx.state.auth.limits;
    let limits = limiter.effective(&p.limits);
    if !limits.any() {
        return Ok(None);
    }
    request(&ctx.state, p).await.map_err(|r| limited(&r))?;
    match limiter.enter(&p.key_id, &limits).await {
        Err(r) if ctx.state.era.tasks_running.count(&p.key_id) > 0 => {
            // Rare, and kept out of every request's future.
            Box::pin(tasks_looked_at(ctx, p, &limits, r)).await
        }
        place => place.map_err(|r| limited(&refused(&ctx.state, p, r))),
    }
}

/// A key refused a place while its tasks hold some here: a look at them, and the place
/// an ended one held, or the refusal saying how many tasks hold places.
async fn tasks_looked_at(
    ctx: &Ctx,
    p: &Principal,
    limits: &crate::model::limits::Effective,
    refusal: Refused,
) -> Result<Option<InFlight>, RpcError> {
    let limiter = &ctx.state.auth.limits;
    if crate::mcp::era::tasks::look::free_ended(ctx).await
        && let Ok(place) = limiter.enter(&p.key_id, limits).await
    {
        return Ok(place);
    }
    let tasks = ctx.state.era.tasks_running.count(&p.key_id);
    let refusal = Refused {
        message: format!(
            "{}; {tasks} of them tasks not yet seen to end: read one's end (tasks/get) or \
             cancel it (tasks/cancel) to free its place",
            refusal.message
        ),
        ..refusal
    };
    Err(limited(&refused(&ctx.state, p, refusal)))
}

/// What a code-mode run's own admission lends its inner calls: the run was charged once
/// against the key's rate and holds one place among its requests in flight, and those
/// are its first inner call's charge and the place of one inner call at a time. Every
/// further inner call is charged against the key's rate as a request is, and one made
/// while another is in flight takes a place of its own: so a key's rate and concurrency
/// bind a script's calls as they bind direct calls, and a run never waits on the place
/// it holds itself.
pub(crate) struct Lent {
    /// The run's rate charge, not yet used by an inner call.
    rate: AtomicBool,
    /// The run's place in flight, free for an inner call.
    place: AtomicBool,
}

impl Default for Lent {
    fn default() -> Lent {
        Lent {
            rate: AtomicBool::new(true),
            place: AtomicBool::new(true),
        }
    }
}

/// An inner call's place in flight: the run's own (given back to the run when the call
/// ends), one of the key's, or none (no limit to hold).
pub(crate) enum InnerPlace<'r> {
    Run(&'r AtomicBool),
    Own { _held: Option<InFlight> },
}

impl Drop for InnerPlace<'_> {
    fn drop(&mut self) {
        if let InnerPlace::Run(free) = self {
            free.store(true, Ordering::Release);
        }
    }
}

/// Phase 1 of a script's inner call ([`Lent`]): the key's rate (but for the run's first
/// call), then a place among its requests in flight (the run's own when free).
pub(crate) async fn inner_call<'r>(ctx: &Ctx, run: &'r Lent) -> Result<InnerPlace<'r>, RpcError> {
    let Some(p) = &ctx.principal else {
        return Ok(InnerPlace::Own { _held: None });
    };
    if !run.rate.swap(false, Ordering::AcqRel) {
        request(&ctx.state, p).await.map_err(|r| limited(&r))?;
    }
    if run.place.swap(false, Ordering::AcqRel) {
        return Ok(InnerPlace::Run(&run.place));
    }
    match in_flight(&ctx.state, p).await {
        Ok(place) => Ok(InnerPlace::Own { _held: place }),
        Err(r) => Err(limited(&r)),
    }
}

/// Applies the caller's key limits to a handshake (`initialize`, `server/discover`): its
/// handshake bucket instead of its rate ([`crate::auth::handshake`]), then a place among
/// its requests in flight.
pub(crate) async fn handshake(ctx: &Ctx) -> Result<Option<InFlight>, RpcError> {
    let Some(p) = &ctx.principal else {
        return Ok(None);
    };
    let limiter = &ctx.state.auth.limits;
    let limits = limiter.effective(&p.limits);
    if !limits.any() {
        return Ok(None);
    }
    let charged = match limiter.handshake(&p.key_id, &limits, std::time::Instant::now()) {
        Ok(()) => limiter.enter(&p.key_id, &limits).await,
        Err(r) => Err(r),
    };
    charged
        .map_err(|r| refused(&ctx.state, p, r))
        .map_err(|r| limited(&r))
}

/// Charges one request to the caller's key rate alone (opening a stream).
pub(crate) async fn charge_rate(ctx: &Ctx) -> Result<(), RpcError> {
    match &ctx.principal {
        Some(p) => request(&ctx.state, p).await.map_err(|r| limited(&r)),
        None => Ok(()),
    }
}

/// A stream refused by the stream bounds (counted like the key's other refusals).
pub(crate) fn refuse_stream(ctx: &Ctx, r: &Refused) -> RpcError {
    if let Some(p) = &ctx.principal {
        ctx.state.over_limit(&p.key_id, r);
    }
    limited(r)
}

/// A refusal of the key's limits as a JSON-RPC error (HTTP 429, `-32029`).
pub(crate) fn limited(r: &Refused) -> RpcError {
    RpcError::limited(
        r.message.clone(),
        r.kind.as_str(),
        r.retry_after_ms,
        r.bound,
    )
}

/// A refusal of the key's limits as the API's 429.
pub(crate) fn over_limit(r: Refused) -> ApiError {
    ApiError::OverLimit {
        retry_after: r.retry_after_secs(),
        message: r.message,
    }
}

/// `resp` holding the key's place in flight (if any) until it has been sent.
#[inline(always)]
pub(crate) fn hold(
    mut resp: hyper::Response<Body>,
    place: Option<InFlight>,
) -> hyper::Response<Body> {
    if let Some(place) = place {
        hold_kept(&mut resp, Kept::new(place));
    }
    resp
}

/// `resp` holding the key's place in flight until it has been sent, sharing it with a
/// call that goes on without its client. A task call's answer hands the place to the
/// task it made instead ([`Handoff`]), which holds it until the task is seen to end; the
/// answer holds it until sent when it made none. In place: an answer is a few hundred
/// bytes, which a move into this function and back would copy twice.
pub(crate) fn hold_kept(resp: &mut hyper::Response<Body>, kept: Arc<Kept>) {
    let body = std::mem::replace(resp.body_mut(), Body::Empty);
    let body = match resp.extensions_mut().remove::<Arc<Handoff>>() {
        Some(handoff) => {
            if let Some(place) = kept.take() {
                handoff.place(place);
            }
            held(body, handoff)
        }
        None => held(body, kept),
    };
    *resp.body_mut() = body;
}

/// `body` holding `guard` (the key's place in flight) until it has been sent.
pub(crate) fn held<G: Send + Sync + Unpin + 'static>(body: Body, guard: G) -> Body {
    Body::Stream(Box::pin(Held {
        body,
        _guard: guard,
    }))
}

/// An answer's body with the key's place in flight, given back when it has been sent.
struct Held<G> {
    body: Body,
    _guard: G,
}

impl<G: Send + Sync + Unpin + 'static> hyper::body::Body for Held<G> {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// What phase 1 would answer a call of the caller now, charging nothing
/// ([`crate::auth::limits::peek`]): the key's rate, then a place among its requests in
/// flight (the dry run's look, `policies check`).
pub(crate) async fn peek(ctx: &Ctx) -> Result<(), RpcError> {
    let Some(p) = &ctx.principal else {
        return Ok(());
    };
    let limiter = &ctx.state.auth.limits;
    let limits = limiter.effective(&p.limits);
    if !limits.any() {
        return Ok(());
    }
    let peeked = match limiter.peek_request(&p.key_id, &limits).await {
        Ok(()) => limiter.peek_enter(&p.key_id, &limits).await,
        Err(r) => Err(r),
    };
    peeked.map_err(|r| limited(&r))
}

/// What [`charge_tool_call`] would answer now, charging nothing: the tool's own rate
/// (`rate`, a namespace's), then the key's daily quota.
pub(crate) async fn peek_tool_call(ctx: &Ctx, rate: Option<&ToolRate>) -> Result<(), RpcError> {
    let Some(p) = &ctx.principal else {
        return Ok(());
    };
    let limiter = &ctx.state.auth.limits;
    let peeked = match rate {
        Some(t) => limiter.peek_tool_rate(&p.key_id, &t.id, t.rate).await,
        None => Ok(()),
    };
    let peeked = match peeked {
        Ok(()) => {
            let limits = limiter.effective(&p.limits);
            limiter.peek_tool_call(&p.key_id, &limits).await
        }
        Err(r) => Err(r),
    };
    peeked.map_err(|r| limited(&r))
}

/// Charges a tool call to the tool's own rate and the key's daily quota.
pub(crate) async fn charge_tool_call(
    ctx: &Ctx,
    p: &Principal,
    rate: Option<&ToolRate>,
) -> Result<(), RpcError> {
    tool_call(&ctx.state, p, rate)
        .await
        .map_err(|r| limited(&r))
}
