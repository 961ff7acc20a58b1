//! A `tools/call` of a tool the gateway serves itself ([`crate::routing::gateway`]):
//! charged to the caller's limits like a backend's tool, run with a time bound, audited
//! as a call of server `metamcp`, and answered in the client's era.

use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::{Response, StatusCode};
use serde_json::Value;

use crate::http::Body;
use crate::jsonrpc::frame::{self, Frame};
use crate::jsonrpc::methods::Method;
use crate::mcp::ctx::Ctx;
use crate::mcp::wire::rpc::{RpcError, code, envelope, json_response};
use crate::observe::audit::{Entry, Kind, Outcome, Text};
use crate::routing::{GatewayCall, SERVED_BY, Served};

/// How long one call of a gateway tool may run.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the call; its limits were charged by the caller.
pub(crate) async fn call(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    served: &Served,
) -> Result<Response<Body>, RpcError> {
    let params = arguments(body, f, served)?;
    let empty = serde_json::Map::new();
    let arguments = match &params["arguments"] {
        Value::Object(m) => m,
        _ => &empty,
    };
    let started = Instant::now();
    let who = ctx.view.rules.as_ref().map(|r| {
        (
            r,
            crate::mcp::policed::subject(&ctx.state, ctx.principal.as_ref()),
        )
    });
    let listed = |t: &crate::routing::Exposed| {
        who.as_ref().is_none_or(|(r, w)| {
            crate::mcp::policed::listed(ctx, r, w, &t.name, &t.backend.name, &t.entry)
        })
    };
    let run = served.tool.call(GatewayCall {
        view: &ctx.view,
        arguments,
        caller: ctx.principal.as_ref().map(|p| p.key_id),
        listed: who.is_some().then_some(&listed),
        asker: ctx
            .view
            .learning
            .as_ref()
            .zip(ctx.principal.as_ref())
            .map(|(_, p)| crate::search::learning::Asker {
                key: p.key_id,
                thread: crate::search::learning::thread_of(ctx.run, &ctx.conversation, p.key_id),
            }),
    });
    let outcome = match tokio::time::timeout(CALL_TIMEOUT, run).await {
        Ok(Ok(result)) => Ok(Bytes::from(result.to_string())),
        Ok(Err(e)) => Err(RpcError::method(e.code, e.message)),
        Err(_) => Err(timed_out(served, CALL_TIMEOUT)),
    };
    record(ctx, body, served, started, &outcome, None);
    Ok(answer(ctx, body, f, outcome?))
}

/// A gateway tool's call's `params`, its `arguments` an object (or absent); refused as
/// a task.
pub(crate) fn arguments(body: &Bytes, f: &Frame, served: &Served) -> Result<Value, RpcError> {
    if f.task.is_some() {
        return Err(RpcError::method(
            code::INVALID_PARAMS,
            format!(
                "tool {:?} does not run as a task: call it without `task`",
                served.name
            ),
        ));
    }
    let params: Value = f
        .params
        .and_then(|p| frame::container_span(body, p.start))
        .and_then(|p| crate::jsonrpc::read::value(p.of(body)).ok())
        .unwrap_or(Value::Null);
    match &params["arguments"] {
        Value::Object(_) | Value::Null => Ok(params),
        _ => Err(RpcError::method(
            code::INVALID_PARAMS,
            "params.arguments must be an object",
        )),
    }
}

/// The error of a call of `served` that ran past `limit`.
pub(crate) fn timed_out(served: &Served, limit: Duration) -> RpcError {
    RpcError::method(
        code::INTERNAL,
        format!(
            "tool {:?} did not finish within {} s",
            served.name,
            limit.as_secs()
        ),
    )
}

/// The audit row of a call of `served` that ended with `outcome`; `id`, its identity
/// when it was minted before (a run's, which its inner calls' rows name as parent).
pub(crate) fn record(
    ctx: &Ctx,
    body: &Bytes,
    served: &Served,
    started: Instant,
    outcome: &Result<Bytes, RpcError>,
    id: Option<uuid::Uuid>,
) {
    let audited = match outcome {
        Ok(r) if memchr::memmem::find(r, br#""isError":true"#).is_some() => Outcome::ToolError,
        Ok(_) => Outcome::Ok,
        Err(e) if e.code == code::INTERNAL => Outcome::Timeout,
        Err(_) => Outcome::RpcError,
    };
    ctx.state.observe.audit.record(Entry {
        at: std::time::SystemTime::now(),
        kind: Kind::Call,
        key_id: ctx.principal.as_ref().map(|p| p.key_id),
        subject: ctx
            .principal
            .as_ref()
            .and_then(|p| p.oauth.as_ref())
            .map(|o| Text::Str(&o.subject)),
        namespace: ctx.namespace.as_deref().map(Text::Str),
        server: Some(Text::Str(SERVED_BY)),
        method: Method::ToolsCall.as_str(),
        tool: Some(Text::Str(&served.name)),
        upstream_tool: Some(Text::Str(served.tool.name())),
        outcome: audited.as_str(),
        duration: started.elapsed(),
        request_bytes: body.len() as u64,
        response_bytes: outcome.as_ref().map_or(0, |r| r.len() as u64),
        trace_id: ctx.trace.as_ref().map(|t| t.ctx.trace_id),
        reason: None,
        id,
        parent: ctx.run,
        policy_audit: ctx.trial.get().map(|t| crate::observe::audit::Text::Str(t)),
    });
}

/// The call's answer: `result` in the client's era.
pub(crate) fn answer(ctx: &Ctx, body: &Bytes, f: &Frame, result: Bytes) -> Response<Body> {
    let id = f.id.map_or(&b"null"[..], |s| s.of(body));
    json_response(
        StatusCode::OK,
        envelope(id, "result", &ctx.stamped(result, None)),
    )
}
