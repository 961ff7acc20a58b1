//! MCP behind the REST routes: a tool call from `POST …/tools/{tool}/execute`, and the
//! tool list of one server, both within the caller's reach. The call is a `tools/call`
//! frame that goes through the same phases as one over MCP ([`crate::mcp::phases`]):
//! admitted (the key's rate and a place in flight, charged here and not by the API
//! server), routed to the backend's tool, policed, forwarded and recorded; a refusal is
//! one audit row and answered with the status that fits and the JSON-RPC error under
//! `rpc_error` ([`refusal`]).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use crate::backend::Backend;
use crate::http::{ApiError, Body, json_value};
use crate::jsonrpc::frame;
use crate::mcp::ctx::Ctx;
use crate::mcp::phases::{Message, Origin};
use crate::mcp::wire::rpc::{RpcError, code};

/// `POST /api/v1/mcp/servers/{id}/tools/{tool}/execute`: the body is the arguments.
pub async fn execute(
    ctx: &Ctx,
    backend: &Arc<Backend>,
    tool: &str,
    arguments: &Bytes,
) -> Result<Response<Body>, ApiError> {
    let args = if arguments.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else if frame::is_one_object(arguments) {
        &arguments[..]
    } else {
        // Anything else spliced into the frame could close it early and add members.
        return Err(ApiError::BadRequest {
            field: None,
            message: "the body must be exactly one JSON object of tool arguments".into(),
        });
    };
    // The frame names the tool as MCP clients know it (so the call is accounted and
    // audited alike); the backend receives its own name.
    let exposed = ctx
        .tools_of(backend)
        .into_iter()
        .find(|(own, _)| own == tool)
        .map_or_else(
            || crate::routing::exposed_name(&backend.name, tool, true),
            |(_, exposed)| exposed,
        );
    let mut body = BytesMut::with_capacity(args.len() + exposed.len() + 128);
    body.extend_from_slice(
        b"{\"jsonrpc\":\"2.0\",\"id\":\"rest\",\"method\":\"tools/call\",\"params\":{\"name\":",
    );
    body.extend_from_slice(&frame::json_string(&exposed));
    body.extend_from_slice(b",\"arguments\":");
    body.extend_from_slice(args);
    body.extend_from_slice(b"}}");
    let body = body.freeze();
    let f = frame::parse_request(&body).map_err(|e| ApiError::BadRequest {
        field: None,
        message: match e {
            frame::FrameError::Ambiguous(a) => format!(
                "the arguments were refused before anything ran: they have {}, which JSON \
                 readers read differently; send every member once, numbers a 64-bit \
                 integer or a double holds, valid escapes, and at most {} levels of nesting",
                a.0,
                crate::jsonrpc::read::MAX_DEPTH
            ),
            _ => "the body must be exactly one JSON object of tool arguments".into(),
        },
    })?;
    // The pipeline's entry, from REST: admitted as an MCP request (the key's rate and a
    // place in flight, held until the answer is read), routed to this server's tool. A
    // refusal is recorded there once, as the same call's over MCP, and answered here in
    // REST's form ([`refusal`]).
    let traced = ctx.trace.as_ref().is_some_and(|t| t.ctx.sampled);
    let start = std::time::SystemTime::now();
    let mut routed = false;
    let origin = Origin::Rest {
        backend,
        tool,
        exposed: &exposed,
        routed: &mut routed,
    };
    let msg = Message {
        body: &body,
        frame: &f,
    };
    let resp = crate::mcp::phases::enter(ctx, msg, origin).await;
    if let Err(e) = &resp
        && !routed
    {
        return Ok(refusal(e, false));
    }
    let (status, error, answer) = match resp {
        Ok(resp) => {
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .to_bytes();
            let answer = answered(&bytes)?;
            let error = (answer.status() != StatusCode::OK)
                .then(|| serde_json::from_slice::<Value>(&bytes).ok())
                .flatten()
                .and_then(|a| a["error"]["code"].as_i64());
            (status, error, answer)
        }
        Err(e) => (e.status, Some(e.code), refusal(&e, true)),
    };
    if traced {
        // The REST call's server span, like a `tools/call` on `/mcp`'s: the error is the
        // JSON-RPC code the backend or the gateway answered with.
        crate::mcp::spans::server_span(
            ctx,
            &hyper::HeaderMap::new(),
            &body,
            &f,
            start,
            status,
            error,
        );
    }
    Ok(answer)
}

/// A refusal by the gateway in REST's form: the status that fits (429 a limit, 403 a
/// policy, its confirmation or a guardrail, 409 a tool held for review, 404 a tool out of
/// the caller's reach or switched off, 400 arguments refused), with the JSON-RPC error
/// the same call gets over MCP under `rpc_error`. `routed`: the call reached a tool (an
/// invalid-params refusal is then of its arguments, not of its name).
pub(crate) fn refusal(e: &RpcError, routed: bool) -> Response<Body> {
    let held = e.data.as_ref().is_some_and(|d| d["held"] == true);
    let (status, word) = match e.code {
        _ if held => (StatusCode::CONFLICT, "conflict"),
        code::LIMITED => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        code::POLICY_DENIED => (StatusCode::FORBIDDEN, "policy_denied"),
        code::INVALID_PARAMS if !routed => (StatusCode::NOT_FOUND, "not_found"),
        code::INVALID_PARAMS => (StatusCode::BAD_REQUEST, "invalid_request"),
        _ if !routed => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        _ => (StatusCode::BAD_GATEWAY, "backend_error"),
    };
    error_json(status, word, &e.message, &rpc_error(e))
}

/// The JSON-RPC error object of `e`.
fn rpc_error(e: &RpcError) -> Value {
    let mut error = json!({"code": e.code, "message": e.message});
    if let Some(data) = &e.data {
        error["data"] = data.clone();
    }
    error
}

/// `{"error", "code", "status", "rpc_code", "rpc_error"}` with `status`, and for a limit
/// its `Retry-After` (whole seconds, from `data.retryAfterMs`).
fn error_json(status: StatusCode, word: &str, message: &str, error: &Value) -> Response<Body> {
    let mut resp = json_value(
        status,
        &json!({"error": message, "code": word, "status": status.as_u16(),
                "rpc_code": error["code"], "rpc_error": error}),
    );
    if status == StatusCode::TOO_MANY_REQUESTS {
        let ms = error["data"]["retryAfterMs"].as_u64().unwrap_or(1000);
        resp.headers_mut().insert(
            hyper::header::RETRY_AFTER,
            hyper::header::HeaderValue::from(ms.div_ceil(1000).max(1)),
        );
    }
    resp
}

/// A forwarded call's answer in REST's form: its result, or the JSON-RPC error it came
/// back with (a backend's own error is 502; a policy's on the answer 403).
fn answered(answer: &Bytes) -> Result<Response<Body>, ApiError> {
    let v: Value = serde_json::from_slice(answer)
        .map_err(|e| ApiError::Internal(format!("unreadable tool answer: {e}")))?;
    if let Some(result) = v.get("result") {
        return Ok(json_value(StatusCode::OK, result));
    }
    let message = v["error"]["message"]
        .as_str()
        .unwrap_or("the tool call failed");
    let (status, word) = match v["error"]["code"].as_i64() {
        // Refused by a policy on the answer: a proxy must not retry it as it would a 502.
        Some(code::POLICY_DENIED) => (StatusCode::FORBIDDEN, "policy_denied"),
        Some(code::INVALID_PARAMS) => (StatusCode::BAD_REQUEST, "invalid_request"),
        _ => (StatusCode::BAD_GATEWAY, "backend_error"),
    };
    Ok(error_json(status, word, message, &v["error"]))
}

/// The REST tool list of a server: the backend's own tools this caller reaches, each
/// with the name the caller calls it by on `/mcp` (`exposed_name`) and what a call of
/// it without arguments would get (`decision`: `allow`, `deny` or `confirm`, and the
/// `phase` that decided), from the dry run of the call's phases
/// ([`crate::mcp::phases::dry_run`]; the request guardrails, which judge arguments, are
/// not asked).
pub async fn server_tools(ctx: &Ctx, backend: &Backend) -> Value {
    let lists = backend.lists();
    let reach = ctx.tools_of(backend);
    // Tools held for review are in no list ([`crate::pins`]).
    let held: std::collections::HashSet<&str> = ctx
        .view
        .held
        .values()
        .filter(|w| w.server == backend.name && w.item == crate::pins::Item::Tool)
        .map(|w| w.name.as_str())
        .collect();
    // Policies by identity: a tool they deny this caller is in none of its lists.
    let who = ctx.view.rules.as_ref().map(|r| {
        (
            r,
            crate::mcp::policed::subject(&ctx.state, ctx.principal.as_ref()),
        )
    });
    let denied = |exposed: &str| {
        who.as_ref().is_some_and(|(rules, who)| {
            let entry = ctx
                .view
                .tool(exposed)
                .map(|t| &t.entry[..])
                .unwrap_or_default();
            !crate::mcp::policed::listed(ctx, rules, who, exposed, &backend.name, entry)
        })
    };
    let listed: Vec<(Value, String)> = lists
        .tools
        .iter()
        .filter_map(|t| {
            let own = t["name"].as_str().filter(|n| !held.contains(n))?;
            let (_, exposed) = reach.iter().find(|(o, _)| o == own)?;
            (!denied(exposed)).then(|| (t.clone(), exposed.clone()))
        })
        .collect();
    let mut out = Vec::with_capacity(listed.len());
    for (mut t, exposed) in listed {
        let verdict = crate::mcp::phases::dry_run::listed(ctx, &exposed).await;
        t["exposed_name"] = Value::String(exposed);
        t["decision"] = Value::String(verdict.decision().into());
        t["phase"] = Value::String(verdict.phase.as_str().into());
        out.push(t);
    }
    Value::Array(out)
}
