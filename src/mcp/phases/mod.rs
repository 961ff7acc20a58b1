//! The phases of a call, in the order every call meets them. An MCP request of either
//! era ([`dispatch`], entered and re-entered only through [`serve`]), a REST tool
//! execution ([`crate::mcp::rest::execute`]) and a long-lived stream
//! ([`crate::mcp::stream`]) all pass through them:
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

use bytes::Bytes;
use hyper::{Response, StatusCode};

use crate::http::Body;
use crate::jsonrpc::frame::Frame;
use crate::jsonrpc::methods::Method;
use hyper::header::HeaderMap;

use crate::mcp::admission as charge;
use crate::mcp::ctx::Ctx;
use crate::mcp::hop::exchange::Shape;
use crate::mcp::lists::list_cache;
use crate::mcp::wire::rpc::{RpcError, envelope, json_response};
use crate::routing::SERVED_BY;
use serve::Detoured;

pub mod call_phase;
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
pub use route::{Call, Callee, Target, route, routed};

/// The phases of a routed call, one line each, in the order the call meets them before
/// it goes on and its answer after ([`CallPhase`]).
pub(crate) type Phases = (
    rules::IdentityRules, // policies by identity: refusal or confirmation, before any charge
    tool_charge::ToolCharge, // the tool's rate, the key's daily quota and usage
    policy::ViewPolicies, // the view's `Policy` objects (validate_arguments, State::police)
    guard::ExternalGuardrails, // the namespace's request hooks; on the answer, its result hooks
);

/// Answers a request in the `shape` asked for (whole JSON bodies for batches and REST):
/// the pipeline's head, for every MCP request (the endpoint's and each of a batch's).
pub async fn dispatch(
    ctx: &Ctx,
    headers: &HeaderMap,
    body: &Bytes,
    f: &Frame,
    shape: Shape,
) -> Result<Response<Body>, RpcError> {
    // 1. Charge, once: a refused request costs no backend work. The 2026-07-28 era's
    // handshake is charged as the session era's `initialize` is.
    // Only a detour's request (a retry, a task request) is ever passed on from another
    // replica, already charged there: only its headers are looked at for the mark.
    let detour = serve::takes_detour(ctx, f);
    let place = charge::admit(ctx, detour.then_some(headers), body, f)
        .await
        .map_err(|e| record::refused(ctx, body, f, e))?;
    if !detour {
        return admitted(ctx, body, f, shape, place).await;
    }
    // Boxed: what a detour holds (its answer, a body and frame read again) would
    // otherwise be laid out in every call's future, and copied with it.
    Box::pin(detoured(ctx, headers, body, f, shape, place)).await
}

/// A retry or a task request, admitted: the era's own path, which hands back what
/// re-enters the pipeline.
async fn detoured(
    ctx: &Ctx,
    headers: &HeaderMap,
    body: &Bytes,
    f: &Frame,
    shape: Shape,
    place: Option<crate::auth::limits::InFlight>,
) -> Result<Response<Body>, RpcError> {
    match Box::pin(serve::detour(ctx, headers, body, f)).await? {
        Detoured::Answered(resp) => Ok(charge::hold(resp, place)),
        Detoured::Again => admitted(ctx, body, f, shape, place).await,
        Detoured::Afresh(again) => {
            let f = crate::jsonrpc::frame::parse(&again).map_err(|_| {
                RpcError::method(
                    crate::mcp::wire::rpc::code::INVALID_PARAMS,
                    "the request could not be read again",
                )
            })?;
            admitted(ctx, &again, &f, shape, place).await
        }
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
        let resp = Box::pin(crate::mcp::skills::answer(ctx, body, f)).await?;
        return Ok(charge::hold(resp, place));
    }
    // 2. Route. A refusal here or in 3 (a disabled or held tool, a policy, …) is
    // recorded where it becomes the answer ([`record::refused`]).
    let target = route(ctx, body, f, shape).map_err(|e| record::refused(ctx, body, f, e))?;
    let resp = match target {
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
    Ok(charge::hold(resp, place))
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
pub(crate) async fn call(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    mut call: Call<'_>,
    shape: Shape,
) -> Result<Response<Body>, RpcError> {
    let mut routed = match &call.callee {
        Callee::Gateway(served) => {
            Routed::new(body, f, SERVED_BY, Some(served.rate.as_ref()), Some(served))
        }
        Callee::Backend { backend, tool, .. } => Routed::new(body, f, &backend.name, *tool, None),
    };
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

/// A call the user confirmed on its session's stream ([`crate::mcp::confirm`]), routed
/// again and served as any call is, from its own task.
fn confirmed(
    ctx: Ctx,
    body: Bytes,
    f: Frame,
) -> std::pin::Pin<Box<dyn Future<Output = Response<Body>> + Send>> {
    Box::pin(async move {
        let id = f.id.map_or(&b"null"[..], |s| s.of(&body));
        let called = match routed(&ctx, &body, &f, Shape::Streamed).await {
            Ok(Target::Call(callee)) => call(&ctx, &body, &f, callee, Shape::Streamed).await,
            Ok(_) => Err(RpcError::method(
                crate::mcp::wire::rpc::code::INTERNAL,
                "the call no longer routes to a tool",
            )),
            Err(e) => Err(e),
        };
        called.unwrap_or_else(|e| {
            record::refused(&ctx, &body, &f, e)
                .in_era(ctx.client_modern())
                .response(id)
        })
    })
}
