//! MCP behind the REST routes: a tool call from `POST …/tools/{tool}/execute`, and the
//! tool list of one server, both within the caller's reach. The call is a `tools/call`
//! frame that goes through the same phases as one over MCP ([`crate::mcp::phases`]):
//! admitted (its request rate was charged by the server; here a place in flight), routed
//! to the backend's tool, policed, forwarded and recorded.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use serde_json::Value;

use crate::backend::Backend;
use crate::http::ApiError;
use crate::jsonrpc::frame;
use crate::mcp::admission as charge;
use crate::mcp::ctx::Ctx;
use crate::mcp::hop::exchange::Shape;
use crate::mcp::phases::route;
use crate::mcp::wire::rpc::code;

/// `POST /api/v1/mcp/servers/{id}/tools/{tool}/execute`: the body is the arguments.
pub async fn execute(
    ctx: &Ctx,
    backend: &Arc<Backend>,
    tool: &str,
    arguments: &Bytes,
) -> Result<Bytes, ApiError> {
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
    // A REST call is a request in flight like one over MCP: it takes a place under the
    // key's `max_concurrent` (held until the answer is read) before anything is charged.
    let _in_flight = match &ctx.principal {
        Some(p) => charge::in_flight(&ctx.state, p)
            .await
            .map_err(charge::over_limit)?,
        None => None,
    };
    let call = route::rest_tool(ctx, backend, tool, f.name)
        .await
        .map_err(|e| crate::mcp::phases::record::refused_rest(ctx, &body, &f, e))?;
    let traced = ctx.trace.as_ref().is_some_and(|t| t.ctx.sampled);
    let start = std::time::SystemTime::now();
    let resp = match crate::mcp::phases::call(ctx, &body, &f, call, Shape::Whole).await {
        Ok(resp) => resp,
        // Over a limit is the API's 429; any other refusal is answered as the call's.
        Err(e) if e.code == code::LIMITED => {
            let e = crate::mcp::phases::record::refused(ctx, &body, &f, e);
            let ms = e.data.as_ref().and_then(|d| d["retryAfterMs"].as_u64());
            return Err(ApiError::OverLimit {
                retry_after: ms.unwrap_or(1000).div_ceil(1000).max(1),
                message: e.message,
            });
        }
        Err(e) => crate::mcp::phases::record::refused(ctx, &body, &f, e).response(b"\"rest\""),
    };
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .to_bytes();
    if traced {
        // The REST call's server span, like a `tools/call` on `/mcp`'s: the error is the
        // JSON-RPC code the backend or the gateway answered with.
        let error = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|a| a["error"]["code"].as_i64());
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
    Ok(bytes)
}

/// The REST tool list of a server: the backend's own tools this caller reaches, each
/// with the name the caller calls it by on `/mcp` (`exposed_name`).
pub fn server_tools(ctx: &Ctx, backend: &Backend) -> Value {
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
    Value::Array(
        lists
            .tools
            .iter()
            .filter_map(|t| {
                let own = t["name"].as_str().filter(|n| !held.contains(n))?;
                let (_, exposed) = reach.iter().find(|(o, _)| o == own)?;
                if denied(exposed) {
                    return None;
                }
                let mut t = t.clone();
                t["exposed_name"] = Value::String(exposed.clone());
                Some(t)
            })
            .collect(),
    )
}
