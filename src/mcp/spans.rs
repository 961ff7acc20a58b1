//! The server spans of what the endpoint served: one MCP request's (the OpenTelemetry MCP
//! semantic conventions' attributes) and a JSON-RPC batch's; and the span of a code-mode
//! script's inner call, under its run's.

use bytes::Bytes;
use hyper::StatusCode;
use hyper::header::HeaderMap;

use crate::http::header_str;
use crate::jsonrpc::frame::{self, Frame};
use crate::jsonrpc::methods::Method as McpMethod;
use crate::mcp::ctx::Ctx;

/// Records the server span of a traced JSON-RPC batch (2025-03-26): the parent of its
/// calls' client spans.
pub(crate) fn batch_span(
    ctx: &Ctx,
    headers: &HeaderMap,
    start: std::time::SystemTime,
    status: StatusCode,
) {
    use crate::observe::trace::{Attrs, Kind, SpanData};
    let (Some(tracer), Some(trace)) = (&ctx.state.observe.tracer, &ctx.trace) else {
        return;
    };
    if !trace.ctx.sampled {
        return;
    }
    let mut attributes = Attrs::default();
    attributes.str("network.transport", "tcp");
    attributes.str("network.protocol.name", "http");
    if let Some(sid) = header_str(headers, &crate::http::names::MCP_SESSION_ID) {
        attributes.str("mcp.session.id", sid);
    }
    if let Some(p) = &ctx.principal {
        attributes.str("metamcp.key.id", p.key_id.as_str());
    }
    if let Some(ns) = &ctx.namespace {
        attributes.str("metamcp.namespace", ns);
    }
    let code = status.as_str();
    let message = format!("error {code}");
    if !status.is_success() {
        attributes.str("error.type", code);
    }
    tracer.record(SpanData {
        ctx: trace.ctx,
        parent: trace.parent,
        name: "batch",
        target: None,
        kind: Kind::Server,
        start,
        end: std::time::SystemTime::now(),
        attributes: attributes.as_slice(),
        error: (!status.is_success()).then_some(message.as_str()),
    });
}

/// Records the server span of one traced MCP request (the OpenTelemetry MCP semantic
/// conventions' attributes; names and ids only, never argument values).
pub(crate) fn server_span(
    ctx: &Ctx,
    headers: &HeaderMap,
    body: &Bytes,
    f: &Frame,
    start: std::time::SystemTime,
    status: StatusCode,
    error: Option<i64>,
) {
    use crate::observe::trace::{Attrs, Kind, SpanData, Value};
    let (Some(tracer), Some(trace)) = (&ctx.state.observe.tracer, &ctx.trace) else {
        return;
    };
    let method = f.method(body).unwrap_or_default();
    let mut attributes = Attrs::default();
    attributes.str("mcp.method.name", method);
    attributes.str("network.transport", "tcp");
    attributes.str("network.protocol.name", "http");
    let named = match f.kind {
        Some(McpMethod::ToolsCall | McpMethod::PromptsGet) => f.name,
        Some(
            McpMethod::ResourcesRead
            | McpMethod::ResourcesSubscribe
            | McpMethod::ResourcesUnsubscribe,
        ) => f.uri,
        _ => None,
    }
    .and_then(|s| frame::string_value(body, s));
    let owner = named.as_deref().and_then(|n| match f.kind {
        Some(McpMethod::ToolsCall) => ctx.view.tool(n).map(|t| &t.backend.label),
        Some(McpMethod::PromptsGet) => ctx.view.prompt(n).map(|p| &p.backend.label),
        _ => ctx.view.resource_backend(n).map(|b| &b.label),
    });
    if let Some(n) = &named {
        let key = match f.kind {
            Some(McpMethod::ToolsCall) => "gen_ai.tool.name",
            Some(McpMethod::PromptsGet) => "gen_ai.prompt.name",
            _ => "mcp.resource.uri",
        };
        attributes.str(key, n);
        if let Some(server) = owner {
            attributes.str("metamcp.server", server);
        }
    }
    let id = f.id.map(|s| {
        std::str::from_utf8(s.of(body))
            .unwrap_or_default()
            .trim_matches('"')
    });
    if let Some(id) = id {
        attributes.str("jsonrpc.request.id", id);
    }
    if let Some(sid) = header_str(headers, &crate::http::names::MCP_SESSION_ID) {
        attributes.str("mcp.session.id", sid);
    }
    let in_body = f
        .protocol_version
        .or(f.meta_version)
        .and_then(|s| frame::string_value(body, s));
    if let Some(v) =
        header_str(headers, &crate::http::names::MCP_PROTOCOL_VERSION).or(in_body.as_deref())
    {
        attributes.str("mcp.protocol.version", v);
    }
    if let Some(p) = &ctx.principal {
        attributes.str("metamcp.key.id", p.key_id.as_str());
    }
    if let Some(ns) = &ctx.namespace {
        attributes.str("metamcp.namespace", ns);
    }
    let error_type = match error {
        Some(code) => Some(code.to_string()),
        None if !status.is_success() => Some(status.as_str().to_string()),
        None => None,
    };
    if let Some(e) = &error_type {
        attributes.str("error.type", e);
        if let Some(code) = error {
            attributes.push("rpc.jsonrpc.error_code", Value::Int(code));
        }
    }
    let message = error_type.as_ref().map(|e| format!("error {e}"));
    tracer.record(SpanData {
        ctx: trace.ctx,
        parent: trace.parent,
        name: method,
        target: named.as_deref().filter(|_| !f.is(McpMethod::ResourcesRead)),
        kind: Kind::Server,
        start,
        end: std::time::SystemTime::now(),
        attributes: attributes.as_slice(),
        error: message.as_deref(),
    });
}

/// Records the span of a code-mode script's inner call of `tool`, in `ctx` (its own span,
/// [`Ctx::nested`], a child of the run's): named as a direct call of the tool is, with
/// the JSON-RPC error's code when it failed.
pub(crate) fn inner_span(ctx: &Ctx, tool: &str, start: std::time::SystemTime, error: Option<i64>) {
    use crate::observe::trace::{Attrs, Kind, SpanData, Value};
    let (Some(tracer), Some(trace)) = (&ctx.state.observe.tracer, &ctx.trace) else {
        return;
    };
    if !trace.ctx.sampled {
        return;
    }
    let method = McpMethod::ToolsCall.as_str();
    let mut attributes = Attrs::default();
    attributes.str("mcp.method.name", method);
    attributes.str("gen_ai.tool.name", tool);
    if let Some(t) = ctx.view.tool(tool) {
        attributes.str("metamcp.server", &t.backend.label);
    }
    if let Some(p) = &ctx.principal {
        attributes.str("metamcp.key.id", p.key_id.as_str());
    }
    if let Some(ns) = &ctx.namespace {
        attributes.str("metamcp.namespace", ns);
    }
    let code = error.map(|c| c.to_string());
    if let (Some(c), Some(n)) = (&code, error) {
        attributes.str("error.type", c);
        attributes.push("rpc.jsonrpc.error_code", Value::Int(n));
    }
    let message = code.as_ref().map(|c| format!("error {c}"));
    tracer.record(SpanData {
        ctx: trace.ctx,
        parent: trace.parent,
        name: method,
        target: Some(tool),
        kind: Kind::Internal,
        start,
        end: std::time::SystemTime::now(),
        attributes: attributes.as_slice(),
        error: message.as_deref(),
    });
}
