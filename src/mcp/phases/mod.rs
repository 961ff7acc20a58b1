//! The phases of a call, in the order every call meets them. An MCP request of either
//! era ([`dispatch`], entered and re-entered only through [`serve`]), a REST tool execution ([`crate::mcp::rest::execute`]) and a
//! long-lived stream ([`crate::mcp::stream`]) all pass through them:
//!
//! 1. [`charge`]: the key's limits, one charging path: the request's rate and a place in
//!    flight (a stream: its rate and the stream bounds); a tool call's own rate and the
//!    daily quota once it is routed. A refused call costs no backend work.
//! 2. [`route`]: the request becomes a [`Target`] within the caller's reach: an answer
//!    the gateway makes, the stream it opens, or a [`Call`]: its method, its callee (a
//!    tool the gateway serves itself, [`crate::mcp::served`], or a backend with the
//!    item's own name) and the era bridge chosen once for the pair of eras.
//! 3. [`policy`]: the view's policies see a routed tool call before it goes on, and may
//!    refuse it (or have the user confirm it first, [`crate::mcp::confirm`]); those that
//!    ask see its answer. No policy: one emptiness check.
//!    Then [`guard`]: the namespace's external guardrails see a backend's tool call
//!    (and, after 4, its result); no guardrail: one `None` check.
//! 4. [`forward`]: to the backend through the call's bridge ([`crate::mcp::era::bridge`]);
//!    as a task where one was asked for.
//! 5. [`record`]: the key's usage here; the audit row, metrics and spans of a forwarded
//!    call when it ends (`hop::record`); a gateway tool's in
//!    [`crate::mcp::served`].
//!
//! A new limit is charged in [`charge`]; a new kind of target is an arm of [`Target`] and
//! of [`Callee`] and `call`; a new policy is a [`crate::policy::Policy`] registered with
//! [`crate::mcp::state::State::police`]; a new gateway tool is a
//! [`crate::routing::GatewayTool`] registered in `app::gateway_tools`.
//!
//! Every wait off the `tools/call` path is boxed (a per-caller listing, a gateway
//! tool's call, a subscription's record, a task): laid out inline they would make the
//! future of every call larger, and a future is copied whole when it is boxed or awaited
//! (measured per forwarded call with gdb on `memcpy`).

use std::borrow::Cow;
use std::future::Future;

use bytes::Bytes;
use hyper::{Response, StatusCode};

use crate::http::Body;
use crate::jsonrpc::frame::{Frame, string_value};
use crate::jsonrpc::methods::Method;
use hyper::header::HeaderMap;

use crate::mcp::admission as charge;
use crate::mcp::ctx::Ctx;
use crate::mcp::hop::exchange::Shape;
use crate::mcp::lists::list_cache;
use crate::mcp::wire::rpc::{RpcError, envelope, json_response};
use crate::routing::SERVED_BY;
use serve::Detoured;

pub mod forward;
pub mod guard;
pub mod inner;
pub mod policy;
pub mod record;
pub mod route;
pub mod serve;

pub use route::{Call, Callee, Target, route, routed};

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
    let place = charge::admit(ctx, headers, body, f).await?;
    if !serve::takes_detour(ctx, f) {
        return admitted(ctx, body, f, shape, place).await;
    }
    // A retry or a task request: the era's own path, which hands back what re-enters.
    match Box::pin(serve::detour(ctx, headers, body, f)).await? {
        Detoured::Answered(resp) => Ok(charge::hold(resp, place)),
        Detoured::Again => Box::pin(admitted(ctx, body, f, shape, place)).await,
        Detoured::Afresh(again) => {
            let f = crate::jsonrpc::frame::parse(&again).map_err(|_| {
                RpcError::method(
                    crate::mcp::wire::rpc::code::INVALID_PARAMS,
                    "the request could not be read again",
                )
            })?;
            Box::pin(admitted(ctx, &again, &f, shape, place)).await
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

/// A routed call of a gateway tool or a backend: the tool's charge and the key's usage,
/// the policy phase before it, the call, the policy phase on its answer.
pub(crate) async fn call(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    mut call: Call<'_>,
    shape: Shape,
) -> Result<Response<Body>, RpcError> {
    let (server, rate) = match &call.callee {
        Callee::Gateway(served) => (SERVED_BY, Some(served.rate.as_ref())),
        Callee::Backend { backend, tool, .. } => (&*backend.name, *tool),
    };
    // Policies by identity, before anything is charged.
    if let (Some(rules), Some(_)) = (&ctx.view.rules, rate) {
        let named = f
            .name
            .and_then(|s| string_value(body, s))
            .unwrap_or_default();
        if let Some(pending) = crate::mcp::policed::call(ctx, rules, body, f, server, &named)? {
            let go_on = crate::mcp::confirm::GoOn {
                call: confirmed,
                refused: record::refused,
            };
            return crate::mcp::confirm::ask(ctx, body, f, pending, shape, go_on);
        }
    }
    if let Some(p) = &ctx.principal {
        if let Some(rate) = rate {
            charge::charge_tool_call(ctx, p, rate).await?;
        }
        record::called(ctx, p);
    }
    // 3. Policy: a tool call of a view with policies.
    let policed = rate.is_some() && !ctx.view.policies.is_empty();
    let named = match policed {
        true => f
            .name
            .and_then(|s| string_value(body, s))
            .unwrap_or_default(),
        false => Cow::Borrowed(""),
    };
    if policed {
        let schema = match &call.callee {
            Callee::Gateway(served) => served.schema.as_deref(),
            _ => ctx.view.tool(&named).and_then(|t| t.schema.as_deref()),
        };
        policy::before(ctx, body, f, server, &named, schema)?;
    }
    // Guardrails: a backend's tool call, in a view whose namespace has them.
    let guards = match (&call.callee, rate) {
        (Callee::Backend { .. }, Some(_)) => ctx.view.guardrails.as_deref(),
        _ => None,
    };
    let guarded = match guards {
        Some(g) => Box::pin(guard::before(ctx, g, body, f, server)).await?,
        None => None,
    };
    let (body, f) = guarded.as_deref().map_or((body, f), |(b, f)| (b, f));
    if guarded.is_some()
        && let Callee::Backend {
            rename: Some((at, _)),
            ..
        } = &mut call.callee
    {
        // Arguments a guardrail changed moved the tool's name in the request.
        *at = f.name.unwrap_or(*at);
    }
    // 4. Forward.
    let resp = match call.callee {
        // `run_code`: its inner calls come back into the pipeline through this host.
        Callee::Gateway(served) if served.tool.name() == crate::codemode::RUN_CODE => {
            let host = |asking| inner::PipelineHost::new(ctx, asking);
            Box::pin(crate::mcp::code_run::serve(
                ctx, body, f, served, shape, host,
            ))
            .await?
        }
        Callee::Gateway(served) => Box::pin(crate::mcp::served::call(ctx, body, f, served)).await?,
        Callee::Backend { .. } => forward::to_backend(ctx, body, f, call, shape).await?,
    };
    let resp = match policed {
        true => policy::after(ctx, resp, server, &named),
        false => resp,
    };
    match guards {
        Some(g) if !g.result.is_empty() => {
            Box::pin(guard::after(ctx, g, resp, body, f, server)).await
        }
        _ => Ok(resp),
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
        let called = match routed(&ctx, &body, &f, Shape::Streamed).await {
            Ok(Target::Call(callee)) => call(&ctx, &body, &f, callee, Shape::Streamed).await,
            Ok(_) => Err(RpcError::method(
                crate::mcp::wire::rpc::code::INTERNAL,
                "the call no longer routes to a tool",
            )),
            Err(e) => Err(e),
        };
        called.unwrap_or_else(|e| record::refused(&ctx, &body, &f, e).response(id))
    })
}
