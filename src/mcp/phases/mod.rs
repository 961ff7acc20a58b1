//! The phases of a call, in the order every call meets them. Every call enters by one
//! function, [`enter`], as one value: the [`Message`] (its bytes and the frame read over
//! them) and its [`Origin`] (an MCP request on the endpoint or in a batch, a REST
//! execution, a script's inner call, a call its user confirmed, a 2026-07-28 retry, a
//! task request). What
//! differs by origin is data the phases read: what admission charges, how the call is
//! routed, the shape of its answer. No other function of `src/mcp/` calls a phase
//! (`tests/it/house/source_layout.rs` holds it); a long-lived stream
//! ([`crate::mcp::stream`]) is charged by the same admission.
//!
//! 1. [`charge`]: the key's limits, one charging path: the request's rate and a place in
//!    flight (a stream: its rate and the stream bounds). A refused call costs no backend
//!    work.
//! 2. [`route`]: the request becomes a [`Target`] within the caller's reach: an answer
//!    the gateway makes, the stream it opens, or a [`Call`]: its method, its callee (a
//!    tool the gateway serves itself, [`crate::mcp::served`], or a backend with the
//!    item's own name) and the era bridge chosen once for the pair of eras.
//! 3. The routed call's phases ([`CallPhase`]), walked in the order of [`Phases`], each
//!    able to refuse the call: [`rules`], policies by identity (or the user asked to
//!    confirm it first, [`crate::mcp::confirm`]), before anything is charged;
//!    [`tool_charge`], a tool call's own rate and the key's daily quota, and the key's
//!    usage; [`policy`], the view's policies ([`crate::policy::Policy`]); [`guard`], the
//!    namespace's request guardrails, which may rewrite the arguments. A phase with
//!    nothing to do for the call (no rules, no policies, no guardrails, no key) costs a
//!    field check.
//! 4. [`forward`]: to the backend through the call's bridge ([`crate::mcp::era::bridge`]);
//!    as a task where one was asked for. A gateway tool is called in
//!    [`crate::mcp::served`].
//! 5. The same phases see the answer, in the same order: the view's policies as it
//!    came, then the result guardrails, which may change or refuse it.
//! 6. [`record`]: the audit row, metrics and spans of a forwarded call when it ends
//!    (`hop::record`); a gateway tool's in [`crate::mcp::served`]; a refusal where it
//!    becomes the answer ([`record::refused`]).
//!
//! A new limit is charged in [`charge`]; a new kind of target is an arm of [`Target`] and
//! of [`Callee`] and `call`; a new phase of a routed call is a file implementing
//! [`CallPhase`] and a line in [`Phases`]; a new policy of every view is a
//! [`crate::policy::Policy`] registered with [`crate::state::State::police`] (the
//! [`policy`] phase runs it); a new gateway tool is a [`crate::routing::GatewayTool`]
//! registered in `app::gateway_tools`.
//!
//! Every wait off the `tools/call` path is boxed (a per-caller listing, a gateway
//! tool's call, a subscription's record, a task): laid out inline they would make the
//! future of every call larger, and a future is copied whole when it is boxed or awaited
//! (measured per forwarded call with gdb on `memcpy`).

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::Either;
use hyper::{Response, StatusCode};

use crate::http::Body;
use crate::jsonrpc::frame::Frame;
use crate::jsonrpc::methods::Method;
use hyper::header::HeaderMap;

use crate::backend::Backend;
use crate::mcp::admission as charge;
use crate::mcp::admission::{InnerPlace, Lent};
use crate::mcp::ctx::Ctx;
use crate::mcp::hop::exchange::Shape;
use crate::mcp::lists::list_cache;
use crate::mcp::wire::rpc::{RpcError, envelope, json_response};
use crate::routing::SERVED_BY;
use serve::Detoured;

pub mod call_phase;
pub mod dry_run;
pub mod forward;
pub mod guard;
pub mod inner;
pub mod policy;
pub mod record;
pub mod route;
pub mod rules;
pub mod serve;
pub mod tool_charge;

pub(crate) use call_phase::{CallPhase, Next, Routed};
pub use route::{Call, Callee, Target};
use route::{route, routed};

/// The phases of a routed call, one line each, in the order the call meets them before
/// it goes on and its answer after ([`CallPhase`]).
pub(crate) type Phases = (
    rules::IdentityRules, // policies by identity: refusal or confirmation, before any charge
    tool_charge::ToolCharge, // the tool's rate, the key's daily quota and usage
    policy::ViewPolicies, // the view's `Policy` objects (validate_arguments, State::police)
    guard::ExternalGuardrails, // the namespace's request hooks; on the answer, its result hooks
);

/// A request as one value: its bytes and the frame read over them (the frame's spans
/// index the bytes).
#[derive(Clone, Copy)]
pub(crate) struct Message<'a> {
    pub body: &'a Bytes,
    pub frame: &'a Frame,
}

/// Where a call came from: what the phases read of its door.
pub(crate) enum Origin<'a, 'r> {
    /// An MCP request of either era on the endpoint, answered as it asked (a stream or a
    /// body). Admitted against the key's rate (a handshake's bucket for
    /// `server/discover`) and a place in flight; a 2026-07-28 retry that spent its
    /// confirmation, a place alone.
    Endpoint,
    /// An element of a 2025-03-26 batch: admitted as an endpoint request, answered whole.
    Batch,
    /// `POST /api/v1/mcp/servers/{server}/tools/{tool}/execute`: admitted as an MCP
    /// request, routed to that server's `tool` (its own name), answered whole; `routed`
    /// says afterwards whether the call reached the tool (REST's status of a refusal).
    Rest {
        backend: &'a Arc<Backend>,
        tool: &'a str,
        exposed: &'a str,
        routed: &'a mut bool,
    },
    /// A script's inner call: admitted on what its run lends ([`Lent`]), into `place`,
    /// which the host holds until the call ends; a call whose place is taken already
    /// (its confirmation's retry) is not admitted again. Answered whole.
    Inner {
        lent: &'r Lent,
        place: &'a mut Option<InnerPlace<'r>>,
    },
    /// A call its user confirmed on its session's stream, from a task of its own: the
    /// request it confirms was admitted (its place held by that request's stream).
    Confirmed,
    /// A 2026-07-28 request that carries a backend's own `requestState` (a multi-round-trip
    /// retry): routed first, then served on the era's path, which may send it on to its
    /// backend as it came or afresh. Charged to the key's rate alone: the call it
    /// resumes holds its place in flight still; sent on as a request of its own, it
    /// takes a place then. Not charged again when another replica passed it here: its
    /// headers carry that replica's sealed mark ([`crate::mcp::wire::relayed`]).
    Retry(&'a HeaderMap),
    /// A task request (the session era's `tasks/*`, the 2026-07-28 tasks extension's
    /// methods): served on the era's task path; admitted as a retry is.
    Task(&'a HeaderMap),
}

impl<'a> Origin<'a, 'static> {
    /// Where a request on the endpoint came from: a retry, a task request, or the
    /// endpoint itself. Asked once a `call_tool` is unwrapped and a confirmation's retry
    /// resumed (what is left is the call itself).
    pub(crate) fn at_endpoint(ctx: &Ctx, headers: &'a HeaderMap, f: &Frame) -> Self {
        Origin::read(ctx, headers, f).unwrap_or(Origin::Endpoint)
    }

    /// Where an element of a 2025-03-26 batch came from: a task request, or the batch.
    pub(crate) fn in_batch(ctx: &Ctx, headers: &'a HeaderMap, f: &Frame) -> Self {
        Origin::read(ctx, headers, f).unwrap_or(Origin::Batch)
    }

    /// A retry or a task request, read off the frame; `None` for any other request.
    fn read(ctx: &Ctx, headers: &'a HeaderMap, f: &Frame) -> Option<Self> {
        if ctx.is_retry(f) {
            Some(Origin::Retry(headers))
        } else if ctx.is_task_request(f) {
            Some(Origin::Task(headers))
        } else {
            None
        }
    }
}

/// What the pipeline answers a call: the response, or a refusal for the door to put in
/// its form.
type Answered = Result<Response<Body>, RpcError>;

/// The pipeline's future for a door other than the endpoint (boxed where it starts).
type BoxedDoor<'a> = std::pin::Pin<Box<dyn Future<Output = Answered> + Send + 'a>>;

/// The pipeline's one entry: the call `msg` from `origin`, through every phase it meets.
///
/// Not an `async fn`: an endpoint's request gets [`dispatch`]'s future itself, as it
/// did before there was an entry (no future of the entry's own around it, whose size
/// every request would copy); the other doors' futures are boxed (they are rare or
/// boxed already). Inlined into each door, so that the endpoint's `Either` is built where
/// its caller awaits it: called, its return slot was copied into the caller's future on
/// every request (callgrind: 55.6k instructions a forwarded call against 7551c34's
/// 55.2k, the difference in `memcpy` under `route_message`; inlined, 55.1k).
#[inline(always)]
pub(crate) fn enter<'a, 'r: 'a>(
    ctx: &'a Ctx,
    msg: Message<'a>,
    origin: Origin<'a, 'r>,
) -> Either<impl Future<Output = Answered> + Send + 'a, BoxedDoor<'a>> {
    let Message { body, frame: f } = msg;
    match origin {
        Origin::Endpoint => Either::Left(dispatch(ctx, body, f, Shape::Streamed)),
        Origin::Batch => Either::Right(Box::pin(dispatch(ctx, body, f, Shape::Whole))),
        Origin::Rest {
            backend,
            tool,
            exposed,
            routed,
        } => Either::Right(Box::pin(rest(
            ctx,
            body,
            f,
            backend,
            (tool, exposed),
            routed,
        ))),
        Origin::Inner { lent, place } => Either::Right(Box::pin(inner(ctx, body, f, lent, place))),
        Origin::Confirmed => Either::Right(Box::pin(confirmed_call(ctx, body, f))),
        Origin::Retry(headers) | Origin::Task(headers) => {
            Either::Right(Box::pin(detoured(ctx, headers, body, f)))
        }
    }
}

/// Answers a request in the `shape` asked for (whole JSON bodies for batches): the
/// pipeline's head, for every MCP request (the endpoint's and each of a batch's).
async fn dispatch(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    shape: Shape,
) -> Result<Response<Body>, RpcError> {
    // 1. Charge, once: a refused request costs no backend work. The 2026-07-28 era's
    // handshake is charged as the session era's `initialize` is.
    let place = charge::admit(ctx, None, body, f)
        .await
        .map_err(|e| record::refused(ctx, body, f, e))?;
    admitted(ctx, body, f, shape, place).await
}

/// A retry or a task request ([`Origin::Retry`], [`Origin::Task`]): admitted (not
/// again when another replica passed it here with its mark), then the era's own path,
/// which hands back what re-enters the pipeline. A retry is routed here first, and the
/// era's code gets what it routes to. What such a request is charged: a request about
/// a task, or a retry resuming a parked call, rides on the place its task or call
/// holds (its rate alone); `tasks/list` and a retry that is a request of its own take
/// a place as any request does.
async fn detoured(
    ctx: &Ctx,
    headers: &HeaderMap,
    body: &Bytes,
    f: &Frame,
) -> Result<Response<Body>, RpcError> {
    if ctx.is_task_request(f) && !f.is(Method::TasksList) {
        // About one task, which holds its place while it runs: the rate alone.
        let reading = charge::task_request(ctx, headers, body)
            .await
            .map_err(|e| record::refused(ctx, body, f, e))?;
        let resp = Box::pin(serve::task(ctx, headers, body, f)).await?;
        return Ok(match reading {
            Some(reading) => resp.map(|b| charge::held(b, reading)),
            None => resp,
        });
    }
    let refused = |e| record::refused(ctx, body, f, e);
    if !ctx.is_retry(f) {
        // `tasks/list`: a request like any other, on the era's path.
        let place = charge::admit(ctx, Some(headers), body, f)
            .await
            .map_err(refused)?;
        let resp = Box::pin(serve::task(ctx, headers, body, f)).await?;
        return Ok(charge::hold(resp, place));
    }
    // A retry resumes a call parked for its answers, which holds its place in flight
    // still: the rate alone here, and a place of its own only once it turns out to be a
    // request of its own (a 2026-07-28 backend's own state, or nothing waited).
    charge::retry(ctx, headers, body).await.map_err(refused)?;
    let target = Some(routed(ctx, body, f, Shape::Streamed).await);
    let shape = Shape::Streamed;
    match Box::pin(serve::detour(ctx, headers, body, f, target)).await? {
        Detoured::Answered(resp) => Ok(resp),
        Detoured::Again => {
            let place = charge::place_in_flight(ctx).await.map_err(refused)?;
            admitted(ctx, body, f, shape, place).await
        }
        Detoured::Afresh(again) => {
            let f = crate::jsonrpc::frame::parse(&again).map_err(|_| {
                RpcError::method(
                    crate::mcp::wire::rpc::code::INVALID_PARAMS,
                    "the request could not be read again",
                )
            })?;
            let place = charge::place_in_flight(ctx)
                .await
                .map_err(|e| record::refused(ctx, &again, &f, e))?;
            admitted(ctx, &again, &f, shape, place).await
        }
    }
}

/// A REST execution of `tool` (its own name, and the name it is `exposed` by) on
/// `backend`: admitted as an MCP request, routed to that tool (never to one its server
/// does not list), then the phases. A refusal is recorded once, here; `routed` says
/// whether the call reached its tool.
async fn rest(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    backend: &Arc<Backend>,
    (tool, exposed): (&str, &str),
    routed: &mut bool,
) -> Result<Response<Body>, RpcError> {
    let refused = |e| record::refused(ctx, body, f, e);
    let place = charge::admit(ctx, None, body, f).await.map_err(|e| {
        *routed = true;
        refused(e)
    })?;
    let target = route::rest_tool(ctx, backend, tool, exposed, f.name)
        .await
        .map_err(refused)?;
    *routed = true;
    let resp = call(ctx, body, f, target, Shape::Whole)
        .await
        .map_err(refused)?;
    Ok(charge::hold(resp, place))
}

/// A script's inner call: admitted on what its run lends (once for the call, its
/// confirmation's retry included), then the pipeline past phase 1, answered whole.
async fn inner<'r>(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    lent: &'r Lent,
    place: &mut Option<InnerPlace<'r>>,
) -> Result<Response<Body>, RpcError> {
    if place.is_none() {
        let admitted = charge::inner_call(ctx, lent)
            .await
            .map_err(|e| record::refused(ctx, body, f, e))?;
        *place = Some(admitted);
    }
    admitted(ctx, body, f, Shape::Whole, None).await
}

/// A call its user confirmed on its session's stream, routed again and served as any
/// call is (admitted with the request it confirms).
async fn confirmed_call(ctx: &Ctx, body: &Bytes, f: &Frame) -> Result<Response<Body>, RpcError> {
    match routed(ctx, body, f, Shape::Streamed).await {
        Ok(Target::Call(callee)) => call(ctx, body, f, callee, Shape::Streamed).await,
        Ok(_) => Err(RpcError::method(
            crate::mcp::wire::rpc::code::INTERNAL,
            "the call no longer routes to a tool",
        )),
        Err(e) => Err(e),
    }
}

/// The pipeline past phase 1, for a request admitted with its `place` in flight.
async fn admitted(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    shape: Shape,
    place: Option<crate::auth::limits::InFlight>,
) -> Result<Response<Body>, RpcError> {
    // Shared with a call that goes on without its client, which keeps it.
    let place = place.map(|p| {
        let kept = crate::auth::limits::Kept::new(p);
        let _ = ctx.kept.set(kept.clone());
        kept
    });
    if ctx.sets_log_level() && f.is(Method::LoggingSetLevel) {
        crate::mcp::notices::set_level(ctx, body, f)?;
    }
    // Policies by identity: a listing of its own, less the tools they deny.
    if ctx.view.rules.is_some()
        && !ctx.view.search
        && f.is(Method::ToolsList)
        && let Some(result) = crate::mcp::policed::tools_list(ctx, body, f)?
    {
        let cache = crate::mcp::lists::Cache {
            public: false,
            ..list_cache(ctx)
        };
        return Ok(answer(ctx, body, f, result, cache));
    }
    // Some backends offer this caller fewer tools than they list to the gateway: a
    // listing of its own (never shared between callers).
    if f.is(Method::ToolsList)
        && !ctx.view.search
        && let Some(result) = Box::pin(crate::mcp::lists::tools_for(ctx, body, f)).await?
    {
        let cache = crate::mcp::lists::Cache {
            public: false,
            ..list_cache(ctx)
        };
        return Ok(answer(ctx, body, f, result, cache));
    }
    // Skills asked of their owner on the control path, answered with the view's URIs.
    if crate::mcp::skills::answers(&ctx.view, body, f) {
        let mut resp = Box::pin(crate::mcp::skills::answer(ctx, body, f)).await?;
        holding(&mut resp, place);
        return Ok(resp);
    }
    // 2. Route. A refusal here or in 3 (a disabled or held tool, a policy, …) is
    // recorded where it becomes the answer ([`record::refused`]).
    let target = route(ctx, body, f, shape).map_err(|e| record::refused(ctx, body, f, e))?;
    let mut resp = match target {
        Target::Answer(result) => return Ok(answer(ctx, body, f, result, list_cache(ctx))),
        Target::Listen => {
            let subscription = crate::mcp::era::listen::Subscription::parse(body, f)?;
            return Box::pin(crate::mcp::stream::listen(ctx, Some(subscription))).await;
        }
        // 3-5.
        Target::Call(routed) => call(ctx, body, f, routed, shape).await,
        // A session client's first call to a 2026-07-28 backend: the backend is asked
        // whether it takes sessions first (boxed: rare, and kept out of every call's
        // future).
        Target::Unsettled(method, callee) => {
            let routed = Box::pin(Call::new(ctx, method, callee)).await;
            call(ctx, body, f, routed, shape).await
        }
    }
    .map_err(|e| record::refused(ctx, body, f, e))?;
    // The place in flight is held until the answer has been sent.
    holding(&mut resp, place);
    Ok(resp)
}

/// `resp` holding the request's place in flight (if it holds one), shared with its call
/// ([`charge::hold_kept`]): in place, so that an answer without one is not moved at all
/// (`loadtest/copies.sh`: a match that handed `resp` back copied it, 288 bytes a call).
#[inline(always)]
fn holding(resp: &mut Response<Body>, place: Option<Arc<crate::auth::limits::Kept>>) {
    if let Some(place) = place {
        charge::hold_kept(resp, place);
    }
}

/// A result the gateway makes itself, with the list hints of the client's era.
fn answer(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    result: Bytes,
    cache: crate::mcp::lists::Cache,
) -> Response<Body> {
    let id = f.id.map_or(&b"null"[..], |s| s.of(body));
    json_response(
        StatusCode::OK,
        envelope(id, "result", &ctx.stamped(result, Some(cache))),
    )
}

/// A routed call of a gateway tool or a backend: its phases before it goes on (3), the
/// call (4), its phases on the answer (5).
async fn call(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    mut call: Call<'_>,
    shape: Shape,
) -> Result<Response<Body>, RpcError> {
    let mut routed = routed_of(body, f, &call.callee);
    // 3. The phases, in order; one that asks for the user's confirmation ends the walk
    // here, and the call once confirmed walks them again ([`confirmed`]).
    let phases = Phases::default();
    if let Next::Confirm(pending) = phases.before(ctx, &mut routed).await? {
        let go_on = crate::mcp::confirm::GoOn {
            call: confirmed,
            refused: record::refused,
        };
        return crate::mcp::confirm::ask(ctx, body, f, pending, shape, go_on);
    }
    let (body, f) = routed.request();
    if routed.is_rewritten()
        && let Callee::Backend {
            rename: Some((at, _)),
            ..
        } = &mut call.callee
    {
        // A phase's new arguments moved the tool's name in the request.
        *at = f.name.unwrap_or(*at);
    }
    let backend = matches!(call.callee, Callee::Backend { .. });
    // 4. Forward.
    let resp = match call.callee {
        // `run_code`: its inner calls come back into the pipeline through this host.
        Callee::Gateway(served) if served.tool.name() == crate::codemode::RUN_CODE => {
            let host = |asking, run| inner::PipelineHost::new(ctx, asking, run);
            Box::pin(crate::mcp::code_run::serve(
                ctx, body, f, served, shape, host,
            ))
            .await?
        }
        Callee::Gateway(served) => Box::pin(crate::mcp::served::call(ctx, body, f, served)).await?,
        Callee::Backend { .. } => forward::to_backend(ctx, body, f, call, shape).await?,
    };
    // A tool called after a search in its thread (one check while none waits): the
    // search's pair, for what its namespace's search learns.
    if let Some(learning) = ctx.view.learning.as_ref().filter(|l| l.waiting())
        && let (true, Some(p)) = (backend && f.is(Method::ToolsCall), &ctx.principal)
        && let Some(tool) = f
            .name
            .and_then(|s| crate::jsonrpc::frame::string_value(body, s))
    {
        let thread = crate::search::learning::thread_of(ctx.run, &ctx.conversation, p.key_id);
        learning.called(ctx.view.learned_as(), p.key_id, &thread, &tool);
    }
    // 5. The phases on the answer (none looks at it: it goes as it came).
    if phases.answer_unseen(ctx, &routed) {
        return Ok(resp);
    }
    phases.after(ctx, &routed, resp).await
}

/// The call to `callee` as its phases see it.
pub(crate) fn routed_of<'a>(body: &'a Bytes, f: &'a Frame, callee: &Callee<'a>) -> Routed<'a> {
    match *callee {
        Callee::Gateway(served) => {
            Routed::new(body, f, SERVED_BY, Some(served.rate.as_ref()), Some(served))
        }
        Callee::Backend { backend, tool, .. } => Routed::new(body, f, &backend.name, tool, None),
    }
}

/// A call the user confirmed on its session's stream ([`crate::mcp::confirm`]), routed
/// again and served as any call is, from its own task.
fn confirmed(
    ctx: Ctx,
    body: Bytes,
    f: Frame,
) -> std::pin::Pin<Box<dyn Future<Output = Response<Body>> + Send>> {
    Box::pin(async move {
        let id = f.id.map_or(&b"null"[..], |s| s.of(&body));
        let msg = Message {
            body: &body,
            frame: &f,
        };
        let called = enter(&ctx, msg, Origin::Confirmed).await;
        called.unwrap_or_else(|e| {
            record::refused(&ctx, &body, &f, e)
                .in_era(ctx.client_modern())
                .response(id)
        })
    })
}
