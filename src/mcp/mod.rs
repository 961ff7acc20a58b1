//! The client-facing MCP endpoint (`/mcp`, `/mcp/{namespace}`, `/api/v1/mcp/stream`).
//!
//! Both protocol eras on one path. Session era (2025-03-26 … 2025-11-25): `initialize`
//! mints a sealed `Mcp-Session-Id`; every later request carries it. Stateless era
//! (2026-07-28): every request carries its version in `_meta`; `server/discover` replaces
//! `initialize`, `subscriptions/listen` replaces `GET`.
//!
//! Lists are answered from the routing table. Calls (`tools/call`, `prompts/get`,
//! `resources/read`, …) are forwarded: the body is spliced (new id, backend's own name),
//! sent on the pooled connection, and the backend's response streams back through
//! [`ResponseSplicer`](crate::mcp::hop::splicer::ResponseSplicer), whatever its content type.
//!
//! Entering and re-entering the pipeline has one seam, [`phases::serve`]: it takes a
//! request to a retry ([`era::rounds::retry`]), a task of either era, or the phases; a
//! retry's request sent on again comes back to it as a value, never by a call up. The files
//! the phases hand off to ([`era::tasks`], [`served`]) take only the phases below the
//! pipeline's head ([`phases::charge`]) and the hop, and a request passed to another
//! replica ([`era::relay`]) is a file of its own, so no file here names one that names it
//! back (`tests/it/source_layout.rs` checks).
//!
//! The folders, top down: [`phases`], the call pipeline; [`era`], everything that depends
//! on the client's or the backend's era (the bridge, rounds and retry, tasks, listen,
//! headers, consent, the state a client carries between rounds); [`hop`], one call sent
//! to its backend and its answer streamed back; [`state`], what every request can reach.

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use crate::auth::Principal;
use crate::backend::Backend;
use crate::http::{ApiError, Body, is_json, read_body};
use crate::jsonrpc::frame::{self, Frame, FrameError};
use crate::jsonrpc::methods::Method as McpMethod;
use crate::mcp::hop::caller::Caller;
use crate::mcp::hop::rpc::status_only;
use crate::mcp::state::State;
use crate::routing::{Table, View};

pub mod batch;
pub mod confirm;
pub mod conversation;
pub mod era;
pub mod hop;
pub mod lists;
pub mod notices;
pub mod phases;
pub mod policed;
pub mod rest;
pub mod search;
pub mod served;
pub mod skills;
pub mod state;
pub mod stream;
pub mod subscriptions;

pub use crate::mcp::hop::rpc::{RpcError, code};
pub use rest::{execute, server_tools};

/// Session-era versions the gateway speaks with clients, newest first.
pub const SESSION_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
/// The stateless era.
pub const STATELESS_VERSION: &str = "2026-07-28";

/// The conversation of a request not yet admitted (shared, so a request allocates none).
fn no_conversation() -> Arc<str> {
    static EMPTY: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| Arc::from("")).clone()
}

/// Who and where a request is: built once per request.
pub struct Ctx {
    pub state: Arc<State>,
    pub principal: Option<Principal>,
    pub namespace: Option<String>,
    pub table: Arc<Table>,
    /// What this caller reaches: the endpoint's view, or for a key limited to
    /// namespaces on `/mcp` the union of those namespaces' views.
    pub view: Arc<View>,
    pub stateless: bool,
    /// Key for this client's in-flight requests (session or key).
    pub conversation: Arc<str>,
    /// The session's expiry (unix seconds), once a session-era request is admitted.
    pub session_expires: Option<u64>,
    /// The session's client capabilities ([`ClientCaps`] bits); `None` when each
    /// request declares its own (stateless era) or there is no client to ask (REST).
    ///
    /// [`ClientCaps`]: crate::base::ClientCaps
    pub client_caps: Option<u8>,
    /// This request's trace, when tracing is configured.
    pub trace: Option<Box<crate::observe::trace::RequestTrace>>,
    /// What the user answered a policy's confirmation of this call, if asked.
    pub confirmation: confirm::Confirmation,
}

impl Ctx {
    pub fn new(
        state: &Arc<State>,
        principal: Option<Principal>,
        namespace: Option<&str>,
    ) -> Option<Ctx> {
        let table = state.data.routing.load();
        let view = match (&principal, namespace) {
            (Some(p), None) if p.is_limited() && !p.is_admin() => table.reach(&p.namespaces),
            _ => table.view(namespace)?.clone(),
        };
        Some(Ctx {
            state: state.clone(),
            principal,
            namespace: namespace.map(str::to_string),
            table,
            view,
            stateless: false,
            conversation: no_conversation(),
            session_expires: None,
            client_caps: None,
            trace: None,
            confirmation: confirm::Confirmation::Unasked,
        })
    }

    pub(crate) fn kid(&self) -> &str {
        self.principal.as_ref().map_or("", |p| p.key_id.as_str())
    }

    /// Whether this caller's reach is narrower than every server: a key limited to
    /// namespaces (on `/mcp`, the union of their views) or a namespace endpoint.
    pub(crate) fn is_narrowed(&self) -> bool {
        self.namespace.is_some()
            || self
                .principal
                .as_ref()
                .is_some_and(|p| p.is_limited() && !p.is_admin())
    }

    /// This client as the holder of resource subscriptions.
    pub(crate) fn holder(&self) -> crate::routing::subscriptions::Holder<'_> {
        crate::routing::subscriptions::Holder {
            conversation: &self.conversation,
            key: self.kid(),
            session_expires: self.session_expires,
        }
    }

    /// This client as the caller of a forwarded call.
    pub(crate) fn caller(&self) -> Caller<'_> {
        Caller {
            conversation: &self.conversation,
            stateless: self.stateless,
            inflight: &self.state.data.inflight,
            server_requests: &self.state.data.server_requests,
            expires: self.session_expires,
            caps: self.client_caps,
            metrics: &self.state.observe.metrics,
            key: self.principal.as_ref().map(|p| p.key_id),
            subject: self
                .principal
                .as_ref()
                .and_then(|p| p.oauth.as_ref())
                .map(|o| &o.subject),
            inbound: self.principal.as_ref().and_then(|p| p.oauth.as_ref()),
            namespace: self.namespace.as_deref(),
            audit: &self.state.observe.audit,
            trace: self
                .trace
                .as_deref()
                .zip(self.state.observe.tracer.as_ref()),
            parked: &self.state.data.parked,
            log_levels: &self.state.data.log_levels,
            timeout: None,
        }
    }

    /// The views whose list changes this caller hears about.
    pub(crate) fn watched_views(&self) -> Vec<Option<String>> {
        match &self.principal {
            Some(p) if self.namespace.is_none() && p.is_limited() && !p.is_admin() => {
                p.namespaces.iter().cloned().map(Some).collect()
            }
            _ => vec![self.namespace.clone()],
        }
    }

    /// The tools of `backend` this caller reaches, by the backend's own name, with the
    /// name the caller knows each by. Every tool the backend lists when nothing narrows
    /// the caller's reach.
    pub(crate) fn tools_of(&self, backend: &Backend) -> Vec<(String, String)> {
        if !self.is_narrowed() {
            return backend
                .lists()
                .tools
                .iter()
                .filter_map(|t| t["name"].as_str())
                .map(|n| {
                    let exposed = crate::routing::exposed_name(&backend.name, n, true);
                    (n.to_string(), exposed)
                })
                .collect();
        }
        self.view
            .tools
            .iter()
            .filter(|t| t.backend.id == backend.id)
            .map(|t| (t.original.clone(), t.name.clone()))
            .collect()
    }
}

/// Serves one request to an MCP endpoint.
pub async fn handle(ctx: Ctx, req: Request<Incoming>) -> Response<Body> {
    if let Some(name) = conversation::repeated_header(req.headers()) {
        return RpcError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            format!("the {name} header may appear only once"),
        )
        .response(b"null");
    }
    match *req.method() {
        Method::POST => post(ctx, req).await,
        Method::GET => Box::pin(stream::get(ctx, req)).await,
        // Cold paths are boxed so the hot future stays small (it is moved on every call).
        Method::DELETE => Box::pin(stream::delete(ctx, req)).await,
        _ => status_only(StatusCode::METHOD_NOT_ALLOWED),
    }
}

pub(crate) fn header_str(h: &HeaderMap, name: impl hyper::header::AsHeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Which of the two MCP media types the `Accept` headers list (`*/*` lists both).
#[derive(Clone, Copy, Default)]
pub(crate) struct Accepted {
    pub(crate) json: bool,
    pub(crate) sse: bool,
}

pub(crate) fn accepted(h: &HeaderMap) -> Accepted {
    let mut a = Accepted::default();
    for value in h.get_all(header::ACCEPT) {
        for range in value.as_bytes().split(|b| *b == b',') {
            let media = range.split(|b| *b == b';').next().unwrap_or_default();
            let media = media.trim_ascii();
            if media == b"*/*" {
                return Accepted {
                    json: true,
                    sse: true,
                };
            }
            a.json |= media.eq_ignore_ascii_case(b"application/json");
            a.sse |= media.eq_ignore_ascii_case(b"text/event-stream");
        }
    }
    a
}

async fn post(mut ctx: Ctx, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let accept = accepted(&parts.headers);
    if !(accept.json && accept.sse) {
        return RpcError::new(
            StatusCode::NOT_ACCEPTABLE,
            code::INVALID_REQUEST,
            "Accept must list both application/json and text/event-stream",
        )
        .response(b"null");
    }
    if !is_json(&parts.headers) {
        return RpcError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::INVALID_REQUEST,
            "Content-Type must be application/json",
        )
        .response(b"null");
    }
    let body = match read_body(body, &parts.headers, &ctx.state.config).await {
        Ok(b) => b,
        Err(e) => return api_error_as_rpc(e),
    };
    // The frame is taken out of the parse's result before the call is awaited: the
    // future then holds one frame, not the frame and the result it came in (544 bytes
    // each, and every byte of the future is copied when it is boxed).
    let f = match frame::parse_request(&body) {
        Ok(f) => f,
        Err(FrameError::Batch) => {
            let start = std::time::SystemTime::now();
            let resp = Box::pin(batch::batch(&mut ctx, &parts.headers, &body)).await;
            batch_span(&ctx, &parts.headers, start, resp.status());
            return resp;
        }
        Err(FrameError::Parse) => {
            return RpcError::new(
                StatusCode::BAD_REQUEST,
                code::PARSE,
                "parse error: the body is not valid JSON",
            )
            .response(b"null");
        }
        Err(FrameError::Invalid(m)) => {
            return RpcError::new(
                StatusCode::BAD_REQUEST,
                code::INVALID_REQUEST,
                format!("invalid request: {m}"),
            )
            .response(b"null");
        }
        Err(FrameError::Ambiguous(a)) => {
            let (a, id) = &*a;
            let id = id.map_or(&b"null"[..], |s| s.of(&body));
            return RpcError::ambiguous(a).response(id);
        }
    };
    serve_message(&mut ctx, &parts.headers, &body, &f).await
}

fn api_error_as_rpc(e: ApiError) -> Response<Body> {
    let status = e.status();
    let mut r = RpcError::new(status, code::INVALID_REQUEST, e.to_string()).response(b"null");
    if status == StatusCode::PAYLOAD_TOO_LARGE || status == StatusCode::REQUEST_TIMEOUT {
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

/// Serves one JSON-RPC message, and records its server span when its trace is sampled.
async fn serve_message(
    ctx: &mut Ctx,
    headers: &HeaderMap,
    body: &Bytes,
    f: &Frame,
) -> Response<Body> {
    if ctx.trace.as_ref().is_none_or(|t| !t.ctx.sampled) || !f.is_request() {
        return route_untraced(ctx, headers, body, f).await;
    }
    let mut served = Served::default();
    let resp = route_message(ctx, headers, body, f, &mut served).await;
    // The span starts with the request (its trace was started as it was routed).
    let start = ctx
        .trace
        .as_ref()
        .map_or_else(std::time::SystemTime::now, |t| t.start);
    // A `call_tool` call is traced as the named tool's own call.
    let (body, f) = served.called.as_deref().map_or((body, f), |(b, f)| (b, f));
    server_span(ctx, headers, body, f, start, resp.status(), served.error);
    resp
}

/// [`route_message`] for a message no span records.
async fn route_untraced(
    ctx: &mut Ctx,
    headers: &HeaderMap,
    body: &Bytes,
    f: &Frame,
) -> Response<Body> {
    route_message(ctx, headers, body, f, &mut Served::default()).await
}

/// What the server span of a request learns from serving it.
#[derive(Default)]
struct Served {
    /// The JSON-RPC error code the request was answered with.
    error: Option<i64>,
    /// A `call_tool` call rewritten into the named tool's own call (body and frame),
    /// boxed: every request's future carries this struct, few fill it.
    called: Option<Box<(Bytes, Frame)>>,
}

/// Records the server span of a traced JSON-RPC batch (2025-03-26): the parent of its
/// calls' client spans.
fn batch_span(ctx: &Ctx, headers: &HeaderMap, start: std::time::SystemTime, status: StatusCode) {
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

/// The dispatcher: takes a message to the path it belongs on (a session's handshake,
/// the conversation established, a backend's answer, a notification, `call_tool`
/// unwrapped, then the pipeline's one way in, [`phases::serve`]), and notes in `served`
/// what its span needs.
async fn route_message(
    ctx: &mut Ctx,
    headers: &HeaderMap,
    body: &Bytes,
    f: &Frame,
    served: &mut Served,
) -> Response<Body> {
    let id = f.id.map_or(&b"null"[..], |s| s.of(body));
    // `initialize` of a session; one in the stateless era's envelope is a removed method,
    // answered by the stateless path.
    if f.is(McpMethod::Initialize) && f.meta_version.is_none() {
        // Not charged to the key's rate: to its handshakes (`auth::handshake`).
        if let Err(e) = phases::charge::handshake(ctx).await {
            served.error = Some(e.code);
            return e.response(id);
        }
        return match lists::initialize(ctx, body, f) {
            Ok(r) => r,
            Err(e) => {
                served.error = Some(e.code);
                e.response(id)
            }
        };
    }
    if let Err(e) = conversation::establish(ctx, headers, body, f) {
        served.error = Some(e.code);
        return e.response(id);
    }
    if f.is_response() {
        Box::pin(notices::answer_backend(ctx, body, f)).await;
        return status_only(StatusCode::ACCEPTED);
    }
    if f.is_notification() {
        match f.kind {
            Some(McpMethod::Cancelled) => Box::pin(notices::cancel(ctx, body, f)).await,
            Some(McpMethod::RootsListChanged) if !ctx.stateless => {
                Box::pin(notices::roots_changed(ctx)).await;
            }
            _ => {}
        }
        return status_only(StatusCode::ACCEPTED);
    }
    // `call_tool`: from here on, the named tool's own call.
    let (body, f) = match search::call_tool(ctx, body, f) {
        Ok(None) => (body, f),
        Ok(Some(call)) => {
            let (body, f) = &**served.called.insert(Box::new(call));
            // The named tool's `Mcp-Param-*` headers, held to its arguments as on a
            // direct call (the conversation's check saw only `call_tool`'s).
            if ctx.stateless
                && let Err(e) = conversation::header_params(ctx, headers, body, f)
            {
                served.error = Some(e.code);
                return e.response(id);
            }
            (body, f)
        }
        Err(e) => {
            served.error = Some(e.code);
            return e.response(id);
        }
    };
    // A confirmation's retry (2026-07-28): from here on, the call itself, answered.
    let resumed;
    let (body, f) = match ctx.stateless && f.request_state.is_some() {
        true => match Box::pin(confirm::resumed(ctx, body, f)).await {
            Some(again) => {
                resumed = again;
                (&resumed.0, &resumed.1)
            }
            None => (body, f),
        },
        false => (body, f),
    };
    let answered = match phases::serve::takes_detour(ctx, f) {
        false => phases::dispatch(ctx, body, f, false).await,
        true => Box::pin(phases::serve::detour(ctx, headers, body, f)).await,
    };
    match answered {
        Ok(r) => r,
        Err(e) => {
            served.error = Some(e.code);
            e.response(id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lists::{Cache, PAGE, page, with_hints};
    use super::*;
    use crate::crypto::base64url;
    use serde_json::{Value, json};

    #[test]
    fn pages_and_cursors() {
        let entries: Vec<Bytes> = (0..450).map(|i| Bytes::from(format!("{i}"))).collect();
        let first = page(entries.iter(), "tools", None).unwrap();
        let v: Value = serde_json::from_slice(&first).unwrap();
        assert_eq!(v["tools"].as_array().unwrap().len(), PAGE);
        let c = v["nextCursor"].as_str().unwrap().to_string();
        let second: Value =
            serde_json::from_slice(&page(entries.iter(), "tools", Some(c.into())).unwrap())
                .unwrap();
        assert_eq!(second["tools"][0], 200);
        let c = second["nextCursor"].as_str().unwrap().to_string();
        let third: Value =
            serde_json::from_slice(&page(entries.iter(), "tools", Some(c.into())).unwrap())
                .unwrap();
        assert_eq!(third["tools"].as_array().unwrap().len(), 50);
        assert!(third.get("nextCursor").is_none());
        for bad in ["!!", "bm9wZQ", &base64url(b"o:9999")] {
            assert!(
                page(entries.iter(), "tools", Some(bad.into())).is_err(),
                "{bad}"
            );
        }
        let empty: Vec<Bytes> = vec![];
        assert_eq!(
            &page(empty.iter(), "prompts", None).unwrap()[..],
            b"{\"prompts\":[]}"
        );
    }

    #[test]
    fn result_type_is_added_for_stateless_clients() {
        let empty: Value =
            serde_json::from_slice(&with_hints(Bytes::from_static(b"{}"), true, None)).unwrap();
        assert_eq!(
            empty,
            json!({"resultType": "complete", "ttlMs": 0, "cacheScope": "private",
                   "_meta": {"io.modelcontextprotocol/serverInfo":
                             {"name": "metamcp", "version": env!("CARGO_PKG_VERSION")}}})
        );
        let one: Value =
            serde_json::from_slice(&with_hints(Bytes::from_static(b"{\"a\":1}"), true, None))
                .unwrap();
        assert_eq!(
            (one["a"].as_i64(), one["resultType"].as_str()),
            (Some(1), Some("complete"))
        );
        assert_eq!(
            &with_hints(Bytes::from_static(b"{}"), false, None)[..],
            b"{}"
        );
    }

    #[test]
    fn lists_carry_the_gateways_caching_hints() {
        let hinted = |public| {
            let c = Cache {
                ttl_ms: 60_000,
                public,
            };
            serde_json::from_slice::<Value>(&with_hints(
                Bytes::from_static(b"{\"tools\":[]}"),
                true,
                Some(c),
            ))
            .unwrap()
        };
        let shared = hinted(true);
        assert_eq!(
            (
                &shared["ttlMs"],
                &shared["cacheScope"],
                &shared["resultType"]
            ),
            (&json!(60_000), &json!("public"), &json!("complete"))
        );
        assert_eq!(shared["tools"], json!([]));
        assert_eq!(
            shared["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
            "metamcp"
        );
        assert_eq!(hinted(false)["cacheScope"], "private");
    }

    #[test]
    fn accept_lists() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream;q=0.9"),
        );
        let a = accepted(&h);
        assert!(a.json && a.sse);
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let a = accepted(&h);
        assert!(a.json && !a.sse);
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html, */*;q=0.1"),
        );
        let a = accepted(&h);
        assert!(a.json && a.sse);
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("Text/Event-Stream"),
        );
        h.append(
            header::ACCEPT,
            HeaderValue::from_static("application/JSON ; q=1"),
        );
        let a = accepted(&h);
        assert!(a.json && a.sse);
    }
}
