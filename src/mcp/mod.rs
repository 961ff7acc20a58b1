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
//! [`ResponseSplicer`], whatever its content type.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Frame as BodyFrame, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::auth::Principal;
use crate::auth::session::{self, SessionClaims};
use crate::auth::token::unix_now;
use crate::backend::Backend;
use crate::crypto::{base64url, base64url_decode};
use crate::http::{ApiError, Body, is_json, read_body};
use crate::proxy::frame::{self, Frame, FrameError, Span, string_value};
use crate::proxy::splicer::ResponseSplicer;
use crate::routing::{Listed, Table, View};
use crate::state::State;

/// Session-era versions the gateway speaks with clients, newest first.
pub const SESSION_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
/// The stateless era.
pub const STATELESS_VERSION: &str = "2026-07-28";
/// Items per page of a list.
const PAGE: usize = 200;
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Longest a collected (batched, REST) response may be.
const MAX_COLLECTED: usize = 64 << 20;

/// JSON-RPC error codes.
pub mod code {
    pub const PARSE: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL: i64 = -32603;
    pub const SESSION_NOT_FOUND: i64 = -32001;
    pub const HEADER_MISMATCH: i64 = -32020;
    pub const UNSUPPORTED_VERSION: i64 = -32022;
}

/// A JSON-RPC error answer with its HTTP status.
#[derive(Debug)]
pub struct RpcError {
    pub status: StatusCode,
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(status: StatusCode, code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            status,
            code,
            message: message.into(),
            data: None,
        }
    }

    /// A method-level error: HTTP 200 with the error in the body.
    pub fn method(code: i64, message: impl Into<String>) -> RpcError {
        RpcError::new(StatusCode::OK, code, message)
    }

    fn body(&self, id: &[u8]) -> Bytes {
        let mut err = json!({"code": self.code, "message": self.message});
        if let Some(d) = &self.data {
            err["data"] = d.clone();
        }
        envelope(id, "error", err.to_string().as_bytes())
    }

    pub fn response(&self, id: &[u8]) -> Response<Body> {
        json_response(self.status, self.body(id))
    }
}

/// `{"jsonrpc":"2.0","id":<id>,"<kind>":<payload>}` from raw parts.
fn envelope(id: &[u8], kind: &str, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(40 + id.len() + payload.len());
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(if id.is_empty() { b"null" } else { id });
    out.extend_from_slice(b",\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\":");
    out.extend_from_slice(payload);
    out.extend_from_slice(b"}");
    out.freeze()
}

fn json_response(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut r = Response::new(Body::full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn status_only(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::Empty);
    *r.status_mut() = status;
    r
}

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
}

impl Ctx {
    pub fn new(
        state: &Arc<State>,
        principal: Option<Principal>,
        namespace: Option<&str>,
    ) -> Option<Ctx> {
        let table = state.routing.load();
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
        })
    }

    fn kid(&self) -> &str {
        self.principal.as_ref().map_or("", |p| p.key_id.as_str())
    }

    /// Whether this caller's reach is narrower than every server: a key limited to
    /// namespaces (on `/mcp`, the union of their views) or a namespace endpoint.
    fn is_narrowed(&self) -> bool {
        self.namespace.is_some()
            || self
                .principal
                .as_ref()
                .is_some_and(|p| p.is_limited() && !p.is_admin())
    }

    /// This client as the holder of resource subscriptions.
    fn holder(&self) -> crate::routing::subscriptions::Holder<'_> {
        crate::routing::subscriptions::Holder {
            conversation: &self.conversation,
            key: self.kid(),
            session_expires: self.session_expires,
        }
    }

    /// The views whose list changes this caller hears about.
    fn watched_views(&self) -> Vec<Option<String>> {
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
    fn tools_of(&self, backend: &Backend) -> Vec<(String, String)> {
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

/// Headers that say one thing each: a second copy could say something else to another
/// reader (the gateway checks the first, a backend or a proxy may act on another).
const SINGLE_HEADERS: [&str; 4] = [
    "mcp-method",
    "mcp-name",
    "mcp-protocol-version",
    "mcp-session-id",
];

/// The first of [`SINGLE_HEADERS`] that appears more than once.
fn repeated_header(h: &HeaderMap) -> Option<&'static str> {
    // Usually no header repeats at all: one comparison.
    if h.keys_len() == h.len() {
        return None;
    }
    SINGLE_HEADERS
        .into_iter()
        .find(|name| h.get_all(*name).iter().nth(1).is_some())
}

/// Serves one request to an MCP endpoint.
pub async fn handle(ctx: Ctx, req: Request<Incoming>) -> Response<Body> {
    if let Some(name) = repeated_header(req.headers()) {
        return RpcError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            format!("the {name} header may appear only once"),
        )
        .response(b"null");
    }
    match *req.method() {
        Method::POST => post(ctx, req).await,
        Method::GET => get(ctx, req),
        // Cold paths are boxed so the hot future stays small (it is moved on every call).
        Method::DELETE => Box::pin(delete(ctx, req)).await,
        _ => status_only(StatusCode::METHOD_NOT_ALLOWED),
    }
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Which of the two MCP media types the `Accept` headers list (`*/*` lists both).
#[derive(Clone, Copy, Default)]
struct Accepted {
    json: bool,
    sse: bool,
}

fn accepted(h: &HeaderMap) -> Accepted {
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
    match frame::parse(&body) {
        Ok(f) => single(&mut ctx, &parts.headers, &body, &f).await,
        Err(FrameError::Batch) => Box::pin(batch(&mut ctx, &parts.headers, &body)).await,
        Err(FrameError::Parse) => RpcError::new(
            StatusCode::BAD_REQUEST,
            code::PARSE,
            "parse error: the body is not valid JSON",
        )
        .response(b"null"),
        Err(FrameError::Invalid(m)) => RpcError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            format!("invalid request: {m}"),
        )
        .response(b"null"),
    }
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

/// Establishes the era and the session of a non-initialize message.
fn admit(
    ctx: &mut Ctx,
    headers: &HeaderMap,
    body: &[u8],
    f: &Frame,
) -> Result<Option<SessionClaims>, RpcError> {
    let method = f.method(body).unwrap_or_default();
    // Responses carry no `_meta`: a stateless client's answer to a backend's request
    // says its era in the version header instead.
    let meta_version = f
        .meta_version
        .and_then(|s| string_value(body, s))
        .or_else(|| {
            header_str(headers, "mcp-protocol-version")
                .filter(|v| *v == STATELESS_VERSION)
                .map(std::borrow::Cow::Borrowed)
        });
    if meta_version.is_some() || method == "server/discover" {
        let version = meta_version.as_deref().unwrap_or(STATELESS_VERSION);
        if version != STATELESS_VERSION {
            let mut e = RpcError::new(
                StatusCode::BAD_REQUEST,
                code::UNSUPPORTED_VERSION,
                format!("unsupported protocol version {version:?}"),
            );
            e.data = Some(json!({"supported": [STATELESS_VERSION], "requested": version}));
            return Err(e);
        }
        check_mirrored_headers(headers, body, f, method)?;
        ctx.stateless = true;
        ctx.conversation = match &ctx.principal {
            Some(p) => Arc::from(format!("k:{}", p.key_id)),
            // No key to tie requests together: each is a conversation of its own.
            None => Arc::from(format!(
                "{ANONYMOUS}{}",
                crate::crypto::random_alphanumeric(22)
            )),
        };
        return Ok(None);
    }
    if let Some(v) = header_str(headers, "mcp-protocol-version")
        && !SESSION_VERSIONS.contains(&v)
    {
        return Err(RpcError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            format!("unsupported MCP-Protocol-Version {v:?}"),
        ));
    }
    let Some(id) = header_str(headers, "mcp-session-id") else {
        return Err(RpcError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            "missing Mcp-Session-Id: send initialize first",
        ));
    };
    match ctx.state.sessions.open(
        &ctx.state.cipher,
        &ctx.state.ended_sessions,
        id,
        ctx.kid(),
        ctx.namespace.as_deref(),
        unix_now(),
    ) {
        Ok(open) => {
            ctx.conversation = open.conversation.clone();
            ctx.session_expires = Some(open.claims.exp);
            Ok(Some(open.claims.clone()))
        }
        Err(e) => Err(RpcError::new(
            StatusCode::NOT_FOUND,
            code::SESSION_NOT_FOUND,
            format!("{e}: initialize again"),
        )),
    }
}

/// Stateless era: `Mcp-Method` / `Mcp-Name` must mirror the body when present.
fn check_mirrored_headers(
    headers: &HeaderMap,
    body: &[u8],
    f: &Frame,
    method: &str,
) -> Result<(), RpcError> {
    let mismatch = |what: &str| {
        Err(RpcError::new(
            StatusCode::BAD_REQUEST,
            code::HEADER_MISMATCH,
            format!("the {what} header does not match the request body"),
        ))
    };
    if let Some(h) = header_str(headers, "mcp-method")
        && h != method
    {
        return mismatch("Mcp-Method");
    }
    if let Some(h) = header_str(headers, "mcp-name") {
        let body_name = match method {
            "tools/call" | "prompts/get" => f.name,
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => f.uri,
            _ => None,
        }
        .and_then(|s| string_value(body, s));
        if body_name.as_deref() != Some(h) {
            return mismatch("Mcp-Name");
        }
    }
    Ok(())
}

async fn single(ctx: &mut Ctx, headers: &HeaderMap, body: &Bytes, f: &Frame) -> Response<Body> {
    let id = f.id.map_or(&b"null"[..], |s| s.of(body));
    if f.method(body) == Some("initialize") {
        return match initialize(ctx, body, f) {
            Ok(r) => r,
            Err(e) => e.response(id),
        };
    }
    if let Err(e) = admit(ctx, headers, body, f) {
        return e.response(id);
    }
    if f.is_response() {
        Box::pin(answer_backend(ctx, body, f)).await;
        return status_only(StatusCode::ACCEPTED);
    }
    if f.is_notification() {
        if f.method(body) == Some("notifications/cancelled") {
            Box::pin(cancel(ctx, body, f)).await;
        }
        return status_only(StatusCode::ACCEPTED);
    }
    match dispatch(ctx, body, f, false).await {
        Ok(r) => r,
        Err(e) => e.response(id),
    }
}

/// Answers a request; `collect` returns whole JSON bodies (for batches and REST).
async fn dispatch(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    collect: bool,
) -> Result<Response<Body>, RpcError> {
    let method = f.method(body).unwrap_or_default();
    let id = f.id.map_or(&b"null"[..], |s| s.of(body));
    let ok = |result: Bytes| {
        Ok(json_response(
            StatusCode::OK,
            envelope(id, "result", &with_result_type(result, ctx.stateless)),
        ))
    };
    let view = &ctx.view;
    match method {
        "ping" => ok(Bytes::from_static(b"{}")),
        "server/discover" => ok(Bytes::from(discover(ctx).to_string())),
        "logging/setLevel" => ok(Bytes::from_static(b"{}")),
        "tools/list" => ok(listing(&view.tools, "tools", body, f)?),
        "prompts/list" => ok(listing(&view.prompts, "prompts", body, f)?),
        "resources/list" => ok(listing(&view.resources, "resources", body, f)?),
        "resources/templates/list" => ok(listing(&view.templates, "resourceTemplates", body, f)?),
        "tools/call" => {
            let span = f.name.ok_or_else(|| {
                RpcError::method(code::INVALID_PARAMS, "tools/call needs params.name")
            })?;
            let name = string_value(body, span).unwrap_or_default();
            let Some(tool) = view.tool(&name) else {
                let why = if view.disabled.contains(name.as_ref()) {
                    format!("tool {name:?} is disabled in this namespace")
                } else {
                    format!("unknown tool {name:?}")
                };
                return Err(RpcError::method(code::INVALID_PARAMS, why));
            };
            Ok(forward(
                ctx,
                body,
                f,
                &tool.backend,
                Some((span, tool.upstream_name.clone())),
                collect,
            )
            .await)
        }
        "prompts/get" => {
            let span = f.name.ok_or_else(|| {
                RpcError::method(code::INVALID_PARAMS, "prompts/get needs params.name")
            })?;
            let name = string_value(body, span).unwrap_or_default();
            let prompt = view.prompt(&name).ok_or_else(|| {
                RpcError::method(code::INVALID_PARAMS, format!("unknown prompt {name:?}"))
            })?;
            Ok(forward(
                ctx,
                body,
                f,
                &prompt.backend,
                Some((span, prompt.upstream_name.clone())),
                collect,
            )
            .await)
        }
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
            let uri = f.uri.and_then(|s| string_value(body, s)).ok_or_else(|| {
                RpcError::method(code::INVALID_PARAMS, format!("{method} needs params.uri"))
            })?;
            let backend = view.resource_backend(&uri).ok_or_else(|| {
                RpcError::method(code::INVALID_PARAMS, format!("unknown resource {uri:?}"))
            })?;
            match method {
                "resources/subscribe" => ctx
                    .state
                    .subscriptions
                    .add(&uri, &ctx.holder(), unix_now())
                    .map_err(|e| RpcError::method(code::INTERNAL, e.to_string()))?,
                "resources/unsubscribe" => ctx.state.subscriptions.remove(&uri, &ctx.conversation),
                _ => {}
            }
            Ok(forward(ctx, body, f, backend, None, collect).await)
        }
        "completion/complete" => {
            let kind = f
                .ref_type
                .and_then(|s| string_value(body, s))
                .unwrap_or_default();
            match kind.as_ref() {
                "ref/prompt" => {
                    let span = f.ref_name.ok_or_else(|| {
                        RpcError::method(code::INVALID_PARAMS, "ref.name is required")
                    })?;
                    let name = string_value(body, span).unwrap_or_default();
                    let p = view.prompt(&name).ok_or_else(|| {
                        RpcError::method(code::INVALID_PARAMS, format!("unknown prompt {name:?}"))
                    })?;
                    Ok(forward(
                        ctx,
                        body,
                        f,
                        &p.backend,
                        Some((span, p.upstream_name.clone())),
                        collect,
                    )
                    .await)
                }
                "ref/resource" => {
                    let uri = f
                        .ref_uri
                        .and_then(|s| string_value(body, s))
                        .unwrap_or_default();
                    let backend = view.resource_backend(&uri).ok_or_else(|| {
                        RpcError::method(code::INVALID_PARAMS, format!("unknown resource {uri:?}"))
                    })?;
                    Ok(forward(ctx, body, f, backend, None, collect).await)
                }
                _ => Err(RpcError::method(
                    code::INVALID_PARAMS,
                    "ref.type must be ref/prompt or ref/resource",
                )),
            }
        }
        "subscriptions/listen" if ctx.stateless && !collect => Ok(listen(ctx)),
        _ => {
            let status = if ctx.stateless {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            };
            Err(RpcError::new(
                status,
                code::METHOD_NOT_FOUND,
                format!("method not found: {method}"),
            ))
        }
    }
}

/// What every result carries for stateless (2026-07-28) clients: `resultType`, and the
/// caching hints list, read and discover results require (lists depend on the caller's
/// key, so they are private and not to be reused).
const STATELESS_RESULT_MEMBERS: &[u8] =
    br#""resultType":"complete","ttlMs":0,"cacheScope":"private""#;

/// Adds [`STATELESS_RESULT_MEMBERS`] to a result made by the gateway itself.
fn with_result_type(result: Bytes, stateless: bool) -> Bytes {
    if !stateless || result.first() != Some(&b'{') {
        return result;
    }
    let mut out = BytesMut::with_capacity(result.len() + STATELESS_RESULT_MEMBERS.len() + 2);
    out.extend_from_slice(b"{");
    out.extend_from_slice(STATELESS_RESULT_MEMBERS);
    if result.len() > 2 {
        out.extend_from_slice(b",");
    }
    out.extend_from_slice(&result[1..]);
    out.freeze()
}

fn cursor<'a>(body: &'a [u8], f: &Frame) -> Result<Option<std::borrow::Cow<'a, str>>, RpcError> {
    Ok(f.cursor.and_then(|s| string_value(body, s)))
}

/// One page of a list: `{"<field>":[…],"nextCursor":…}` from prebuilt entries.
/// One page of a list method's answer: the entries this client may reach.
fn listing<T: Listed>(items: &[T], field: &str, body: &[u8], f: &Frame) -> Result<Bytes, RpcError> {
    page(items.iter().map(Listed::entry), field, cursor(body, f)?)
}

fn page<'a>(
    entries: impl Iterator<Item = &'a Bytes>,
    field: &str,
    cursor: Option<std::borrow::Cow<'_, str>>,
) -> Result<Bytes, RpcError> {
    let invalid = || RpcError::method(code::INVALID_PARAMS, "invalid cursor");
    let start = match cursor {
        None => 0,
        Some(c) => {
            let raw = base64url_decode(&c).ok_or_else(invalid)?;
            let text = std::str::from_utf8(&raw).map_err(|_| invalid())?;
            text.strip_prefix("o:")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(invalid)?
        }
    };
    let mut out = BytesMut::with_capacity(4096);
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(b"\":[");
    let mut n = 0;
    let mut more = false;
    for e in entries.skip(start) {
        if n == PAGE {
            more = true;
            break;
        }
        if n > 0 {
            out.extend_from_slice(b",");
        }
        out.extend_from_slice(e);
        n += 1;
    }
    if n == 0 && start > 0 && !more {
        return Err(invalid());
    }
    out.extend_from_slice(b"]");
    if more {
        let next = base64url(format!("o:{}", start + PAGE).as_bytes());
        out.extend_from_slice(b",\"nextCursor\":\"");
        out.extend_from_slice(next.as_bytes());
        out.extend_from_slice(b"\"");
    }
    out.extend_from_slice(b"}");
    Ok(out.freeze())
}

/// What the gateway offers: the union of its backends, under its own name.
fn capabilities(view: &View) -> Value {
    let mut caps = json!({
        "tools": {"listChanged": true},
        "prompts": {"listChanged": true},
        "resources": {"listChanged": true, "subscribe": view.subscribe},
        "logging": {},
    });
    if view.completions {
        caps["completions"] = json!({});
    }
    caps
}

fn server_info() -> Value {
    json!({"name": "metamcp", "version": env!("CARGO_PKG_VERSION")})
}

fn discover(ctx: &Ctx) -> Value {
    let mut versions = vec![STATELESS_VERSION];
    versions.extend_from_slice(SESSION_VERSIONS);
    json!({
        "supportedVersions": versions,
        "capabilities": capabilities(&ctx.view),
        "serverInfo": server_info(),
        "instructions": "metamcp aggregates several MCP servers; tool and prompt names are <server>__<name>.",
    })
}

fn initialize(ctx: &Ctx, body: &Bytes, f: &Frame) -> Result<Response<Body>, RpcError> {
    let id = f.id.map_or(&b"null"[..], |s| s.of(body));
    if f.id.is_none() {
        return Err(RpcError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            "initialize needs an id",
        ));
    }
    let asked = f
        .protocol_version
        .and_then(|s| string_value(body, s))
        .unwrap_or_default();
    let version = if SESSION_VERSIONS.contains(&asked.as_ref()) {
        asked.to_string()
    } else {
        SESSION_VERSIONS[0].to_string()
    };
    let caps = f
        .params
        .and_then(|p| frame::container_span(body, p.start))
        .map_or(0, |p| session::ClientCaps::from_params(p.of(body)));
    let now = unix_now();
    let claims = SessionClaims {
        kid: ctx.kid().to_string(),
        ns: ctx.namespace.clone(),
        v: version.clone(),
        c: caps,
        iat: now,
        exp: now + ctx.state.config.session_ttl.as_secs(),
    };
    let session_id = session::seal(&ctx.state.cipher, &claims);
    let result = json!({
        "protocolVersion": version,
        "capabilities": capabilities(&ctx.view),
        "serverInfo": server_info(),
        "instructions": "metamcp aggregates several MCP servers; tool and prompt names are <server>__<name>.",
    });
    let mut resp = json_response(
        StatusCode::OK,
        envelope(id, "result", result.to_string().as_bytes()),
    );
    if let Ok(v) = HeaderValue::from_str(&session_id) {
        resp.headers_mut().insert("mcp-session-id", v);
    }
    Ok(resp)
}

/// Requests a backend sent to a client (sampling, elicitation, roots) under unguessable
/// gateway ids, so the client's answers reach the right backend with the backend's own
/// id, and only the conversation that was asked can answer.
#[derive(Default)]
pub struct ServerRequests {
    map: Mutex<HashMap<Bytes, Asked>>,
}

/// A backend's request to a client: which conversation was asked, who asked, under
/// which id of its own, and when.
struct Asked {
    conversation: Arc<str>,
    backend: Arc<Backend>,
    original: Bytes,
    at: std::time::Instant,
}

/// Unanswered backend requests are forgotten after this long.
const SERVER_REQUEST_TTL: Duration = Duration::from_secs(600);
/// Unanswered backend requests held at most; the oldest gives way beyond it.
const MAX_SERVER_REQUESTS: usize = 16_384;

/// Anonymous clients of an open namespace: each stateless request is a conversation of
/// its own (`a:` and a random suffix).
const ANONYMOUS: &str = "a:";

impl ServerRequests {
    /// A mapper for one forwarded call's SSE answer.
    fn mapper(
        self: &Arc<Self>,
        conversation: Arc<str>,
        backend: Arc<Backend>,
    ) -> crate::proxy::splicer::IdMapper {
        let reqs = self.clone();
        Box::new(move |original: &[u8]| {
            let id = Bytes::from(format!("\"m{}\"", crate::crypto::random_alphanumeric(22)));
            let mut map = reqs.map.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() >= MAX_SERVER_REQUESTS {
                map.retain(|_, a| a.at.elapsed() < SERVER_REQUEST_TTL);
            }
            if map.len() >= MAX_SERVER_REQUESTS
                && let Some(oldest) = map.iter().min_by_key(|(_, a)| a.at).map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
            map.insert(
                id.clone(),
                Asked {
                    conversation: conversation.clone(),
                    backend: backend.clone(),
                    original: Bytes::copy_from_slice(original),
                    at: std::time::Instant::now(),
                },
            );
            id
        })
    }

    /// The backend and its own id for an answer from `conversation` under `id`; an
    /// answer from another conversation is refused (anonymous stateless requests, each a
    /// conversation of its own, answer by knowing the unguessable id).
    fn take(&self, conversation: &str, id: &[u8]) -> Option<(Arc<Backend>, Bytes)> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let asked = map.get(id)?;
        let same = *asked.conversation == *conversation
            || (asked.conversation.starts_with(ANONYMOUS) && conversation.starts_with(ANONYMOUS));
        if !same {
            return None;
        }
        map.remove(id).map(|a| (a.backend, a.original))
    }
}

/// A client's answer to a backend's request: sent to that backend with its own id.
async fn answer_backend(ctx: &Ctx, body: &Bytes, f: &Frame) {
    let Some(span) = f.id else { return };
    match ctx
        .state
        .server_requests
        .take(&ctx.conversation, span.of(body))
    {
        Some((backend, original)) => {
            let upstream = frame::splice(body, &mut [(span, &original[..])]);
            backend.notify(upstream).await;
        }
        None => tracing::debug!("a client answered a request nobody is waiting for"),
    }
}

/// A request of this client in flight at a backend.
struct Pending {
    backend: Arc<Backend>,
    upstream_id: Bytes,
}

/// In-flight requests by (conversation, client id), for `notifications/cancelled`.
#[derive(Default)]
pub struct InFlight {
    map: Mutex<HashMap<(Arc<str>, Bytes), Pending>>,
}

impl InFlight {
    fn insert(&self, key: (Arc<str>, Bytes), p: Pending) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, p);
    }

    fn remove(&self, key: &(Arc<str>, Bytes)) -> Option<Pending> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key)
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn cancellation(upstream_id: &[u8], reason: &str) -> Bytes {
    let mut out = BytesMut::new();
    out.extend_from_slice(
        b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":",
    );
    out.extend_from_slice(upstream_id);
    out.extend_from_slice(b",\"reason\":");
    out.extend_from_slice(&frame::json_string(reason));
    out.extend_from_slice(b"}}");
    out.freeze()
}

/// Forwards the client's cancellation to the backend running the request.
async fn cancel(ctx: &Ctx, body: &Bytes, f: &Frame) {
    let Some(rid) = f.request_id else { return };
    let key = (
        ctx.conversation.clone(),
        Bytes::copy_from_slice(rid.of(body)),
    );
    if let Some(p) = ctx.state.inflight.remove(&key) {
        p.backend
            .notify(cancellation(&p.upstream_id, "cancelled by the client"))
            .await;
    }
}

/// Removes the in-flight entry when the response ends; cancels upstream if it never did.
struct InFlightGuard {
    state: Arc<State>,
    key: (Arc<str>, Bytes),
    done: bool,
}

impl InFlightGuard {
    fn complete(&mut self) {
        if !self.done {
            self.done = true;
            self.state.inflight.remove(&self.key);
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(p) = self.state.inflight.remove(&self.key) {
            tokio::spawn(async move {
                p.backend
                    .notify(cancellation(&p.upstream_id, "the client went away"))
                    .await;
            });
        }
    }
}

/// Sends the request to `backend` and streams its answer back.
///
/// The call's future lives on the heap: every future that awaits it (the whole request
/// path) then holds a pointer instead of embedding it, and each of them is moved at
/// least once, so their size is paid for on every request.
fn forward<'a>(
    ctx: &'a Ctx,
    body: &'a Bytes,
    f: &'a Frame,
    backend: &'a Arc<Backend>,
    rename: Option<(Span, Bytes)>,
    collect: bool,
) -> Pin<Box<dyn Future<Output = Response<Body>> + Send + 'a>> {
    Box::pin(forward_call(ctx, body, f, backend, rename, collect))
}

async fn forward_call(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    backend: &Arc<Backend>,
    rename: Option<(Span, Bytes)>,
    collect: bool,
) -> Response<Body> {
    let client_id =
        f.id.map_or(Bytes::from_static(b"null"), |s| body.slice(s.start..s.end));
    let upstream_id = backend.next_upstream_id();
    let mut reps: Vec<(Span, &[u8])> = Vec::with_capacity(2);
    if let Some(s) = f.id {
        reps.push((s, &upstream_id));
    }
    if let Some((span, name)) = &rename {
        reps.push((*span, name));
    }
    let upstream_body = frame::splice(body, &mut reps);
    let key = (ctx.conversation.clone(), client_id.clone());
    ctx.state.inflight.insert(
        key.clone(),
        Pending {
            backend: backend.clone(),
            upstream_id: upstream_id.clone(),
        },
    );
    let mut guard = InFlightGuard {
        state: ctx.state.clone(),
        key,
        done: false,
    };
    let fail = |e: String| {
        RpcError::method(code::INTERNAL, format!("backend {}: {e}", backend.name))
            .response(&client_id)
    };
    let timeout = backend.timeout;
    // `timeout` bounds the whole call from here; only the backend's progress
    // notifications (and its own requests to the client) extend it.
    let started = tokio::time::Instant::now();
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let sent = async {
        if backend.has_pool() {
            let (head, exchange) = backend.post(&upstream_body).await?;
            let ct = head
                .content_type
                .and_then(|c| HeaderValue::from_maybe_shared(c).ok());
            Ok((head.status, ct, Source::Pool(exchange)))
        } else {
            let resp = Box::pin(backend.send(upstream_body.clone())).await?;
            let ct = resp.headers().get(header::CONTENT_TYPE).cloned();
            Ok::<_, crate::backend::http::UpstreamError>((
                resp.status().as_u16(),
                ct,
                Source::Hyper(resp.into_body()),
            ))
        }
    };
    let answer = tokio::select! {
        biased;
        r = sent => r,
        () = deadline.as_mut() => {
            // Dropping the guard tells the backend to stop.
            return fail(format!("no answer within {} ms", timeout.as_millis()));
        }
    };
    let (status, content_type, source) = match answer {
        Err(e) => {
            guard.complete();
            backend.suspect();
            return fail(e.to_string());
        }
        Ok(r) => r,
    };
    if status != 200 {
        guard.complete();
        return fail(format!("answered HTTP {status}"));
    }
    let content_type = content_type.unwrap_or(HeaderValue::from_static("application/json"));
    let sse = content_type
        .to_str()
        .is_ok_and(|c| c.starts_with("text/event-stream"));
    let mut splicer = ResponseSplicer::new(upstream_id, client_id.clone(), sse);
    if sse {
        splicer = splicer.with_other_ids(
            ctx.state
                .server_requests
                .mapper(ctx.conversation.clone(), backend.clone()),
        );
    }
    if ctx.stateless {
        splicer = splicer.with_result_members(Bytes::from_static(STATELESS_RESULT_MEMBERS));
    }
    let mut source = source;
    // A JSON answer already here in full goes out whole, with its length: no timer, no
    // stream to poll, and the backend connection is back in the pool before we return.
    if !sse
        && !collect
        && let Source::Pool(exchange) = &mut source
        && let Some(whole) = exchange.take_whole()
    {
        let ends_whole = whole.trim_ascii_end().last() == Some(&b'}');
        let mut pieces = Vec::with_capacity(3);
        splicer.feed(whole, &mut pieces);
        guard.complete();
        if splicer.answered() && ends_whole {
            let mut r = Response::new(Body::pieces(pieces));
            r.headers_mut().insert(header::CONTENT_TYPE, content_type);
            return r;
        }
        // Not JSON, another request's answer, or cut short: the client gets an error
        // with its own id instead.
        return fail("answered with something that is not the response to this request".into());
    }
    // The answer streams. A JSON one still arriving is sent to the client as one SSE
    // event, so that if the backend breaks off midway the client still gets an error
    // with its own id (a JSON body already begun could only be cut).
    let wrap = !sse && !collect;
    let stream = UpstreamBody {
        inner: source,
        splicer,
        pending: VecDeque::new(),
        scratch: Vec::new(),
        timeout,
        deadline: Box::pin(tokio::time::sleep_until(started + timeout)),
        progress: started,
        guard: Some(guard),
        sse,
        wrap,
        opened: false,
        tail: Tail::default(),
        requests_seen: 0,
        client_id,
        finished: false,
        backend: backend.clone(),
    };
    if collect {
        return Box::pin(collect_response(stream)).await;
    }
    let mut r = Response::new(Body::Upstream(Box::new(stream)));
    let content_type = if wrap {
        HeaderValue::from_static("text/event-stream")
    } else {
        content_type
    };
    r.headers_mut().insert(header::CONTENT_TYPE, content_type);
    r
}

/// Reads a whole forwarded answer and returns just the response message as JSON.
async fn collect_response(mut stream: UpstreamBody) -> Response<Body> {
    let sse = stream.sse;
    let client_id = stream.client_id.clone();
    let mut buf = BytesMut::new();
    while let Some(frame) = stream.frame().await {
        match frame {
            Ok(f) => {
                if let Ok(d) = f.into_data() {
                    if buf.len() + d.len() > MAX_COLLECTED {
                        return RpcError::method(
                            code::INTERNAL,
                            "the backend's answer is too large to collect",
                        )
                        .response(&client_id);
                    }
                    buf.extend_from_slice(&d);
                }
            }
            Err(e) => {
                return RpcError::method(
                    code::INTERNAL,
                    format!("the backend's answer broke off: {e}"),
                )
                .response(&client_id);
            }
        }
    }
    if !sse {
        return json_response(StatusCode::OK, buf.freeze());
    }
    let answer = crate::backend::http::sse_data(&buf)
        .into_iter()
        .rev()
        .find(|d| {
            frame::parse(d)
                .is_ok_and(|f| f.is_response() && f.id.map(|s| s.of(d)) == Some(&client_id[..]))
        });
    match answer {
        Some(a) => json_response(StatusCode::OK, Bytes::from(a)),
        None => RpcError::method(
            code::INTERNAL,
            "the backend closed the stream without answering",
        )
        .response(&client_id),
    }
}

/// Where a backend's answer is read from.
enum Source {
    /// The hot path's own connection.
    Pool(crate::backend::http::pool::Exchange),
    /// hyper's client (https backends).
    Hyper(Incoming),
}

impl Source {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, String>>> {
        match self {
            Source::Pool(x) => x
                .poll_chunk(cx)
                .map(|o| o.map(|r| r.map_err(|e| e.to_string()))),
            Source::Hyper(b) => loop {
                match hyper::body::Body::poll_frame(Pin::new(&mut *b), cx) {
                    Poll::Ready(Some(Ok(f))) => match f.into_data() {
                        Ok(d) => return Poll::Ready(Some(Ok(d))),
                        Err(_) => continue,
                    },
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.to_string()))),
                    Poll::Ready(None) => return Poll::Ready(None),
                    Poll::Pending => return Poll::Pending,
                }
            },
        }
    }
}

/// A backend's response on its way to the client: id restored, idle time bounded,
/// the backend told when the client leaves early.
pub struct UpstreamBody {
    inner: Source,
    splicer: ResponseSplicer,
    pending: VecDeque<Bytes>,
    /// Reused for the splicer's output, so a piece costs no allocation.
    scratch: Vec<Bytes>,
    timeout: Duration,
    /// Fires `timeout` after the call began or the backend last reported progress.
    deadline: Pin<Box<tokio::time::Sleep>>,
    progress: tokio::time::Instant,
    guard: Option<InFlightGuard>,
    sse: bool,
    /// A JSON answer sent to the client as one SSE event (`event: message`, `data: `).
    wrap: bool,
    /// Whether the wrapped event's head has been sent.
    opened: bool,
    /// The end of the previous SSE piece, so a progress notification split between two
    /// pieces is still seen.
    tail: Tail,
    /// The splicer's count of backend requests when last looked at.
    requests_seen: u32,
    client_id: Bytes,
    finished: bool,
    backend: Arc<Backend>,
}

/// The last bytes of an SSE piece.
#[derive(Default)]
struct Tail {
    bytes: [u8; PROGRESS.len()],
    len: usize,
}

/// What marks a progress notification in an SSE answer.
const PROGRESS: &[u8] = b"notifications/progress";

impl Tail {
    /// Whether `piece` (after the previous one) shows a progress notification.
    fn progress_in(&mut self, piece: &[u8]) -> bool {
        let head = &piece[..piece.len().min(PROGRESS.len())];
        let mut joined = [0u8; 2 * PROGRESS.len()];
        joined[..self.len].copy_from_slice(&self.bytes[..self.len]);
        joined[self.len..self.len + head.len()].copy_from_slice(head);
        let found = memchr::memmem::find(&joined[..self.len + head.len()], PROGRESS).is_some()
            || memchr::memmem::find(piece, PROGRESS).is_some();
        let keep = piece.len().min(PROGRESS.len() - 1);
        self.bytes[..keep].copy_from_slice(&piece[piece.len() - keep..]);
        self.len = keep;
        found
    }
}

impl UpstreamBody {
    /// The end of an SSE answer that never came: a final error event for the client. It
    /// starts with a blank line, which ends an event the backend left unfinished.
    fn error_event(&self, message: &str) -> Bytes {
        let err = RpcError::method(
            code::INTERNAL,
            format!("backend {}: {message}", self.backend.name),
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
        let answered = if self.sse {
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
        // A guard still armed cancels upstream when dropped.
        self.guard = None;
        match problem {
            Some(p) if (self.sse || self.wrap) && !answered => {
                Some(Ok(BodyFrame::data(self.error_event(p))))
            }
            None if self.wrap && self.opened => {
                Some(Ok(BodyFrame::data(Bytes::from_static(b"\n\n"))))
            }
            Some(p) if !answered => Some(Err(std::io::Error::other(format!(
                "backend {}: {p}",
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
            match this.inner.poll_chunk(cx) {
                Poll::Ready(Some(Ok(data))) => {
                    // Progress notifications and the backend's own requests to the client
                    // extend the deadline; comments, keep-alives and other bytes do not.
                    let progressed = this.sse && this.tail.progress_in(&data);
                    this.splicer.feed(data, &mut this.scratch);
                    this.pending.extend(this.scratch.drain(..));
                    let asked = this.splicer.requests_seen();
                    if progressed || asked != this.requests_seen {
                        this.requests_seen = asked;
                        this.progress = tokio::time::Instant::now();
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    let msg = format!("the answer broke off: {e}");
                    return Poll::Ready(this.end(Some(&msg)));
                }
                Poll::Ready(None) => {
                    let problem =
                        (!this.splicer.answered()).then_some("closed the stream without answering");
                    return Poll::Ready(this.end(problem));
                }
                Poll::Pending => {
                    // The timer is moved only when it fires, not on every piece.
                    while this.deadline.as_mut().poll(cx).is_ready() {
                        let due = this.progress + this.timeout;
                        if due <= tokio::time::Instant::now() {
                            let msg = format!(
                                "no answer within {} ms (timeout_ms) of the call or its last progress",
                                this.timeout.as_millis()
                            );
                            return Poll::Ready(this.end(Some(&msg)));
                        }
                        this.deadline.as_mut().reset(due);
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

/// Batches (2025-03-26 sessions only): each element answered in order, collected.
async fn batch(ctx: &mut Ctx, headers: &HeaderMap, body: &Bytes) -> Response<Body> {
    let spans = match frame::batch_elements(body) {
        Ok(s) => s,
        Err(_) => {
            return RpcError::new(StatusCode::BAD_REQUEST, code::PARSE, "parse error")
                .response(b"null");
        }
    };
    if spans.is_empty() {
        return RpcError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            "empty batch",
        )
        .response(b"null");
    }
    let mut answers: Vec<Bytes> = Vec::with_capacity(spans.len());
    let mut admitted = false;
    for span in spans {
        let element = body.slice(span.start..span.end);
        let f = match frame::parse(&element) {
            Ok(f) => f,
            Err(_) => {
                answers.push(
                    RpcError::method(code::INVALID_REQUEST, "invalid batch element").body(b"null"),
                );
                continue;
            }
        };
        let id = f.id.map_or(&b"null"[..], |s| s.of(&element)).to_vec();
        if f.method(&element) == Some("initialize") {
            answers.push(
                RpcError::method(code::INVALID_REQUEST, "initialize cannot be batched").body(&id),
            );
            continue;
        }
        if !admitted {
            match admit(ctx, headers, &element, &f) {
                Ok(Some(claims)) if claims.v == "2025-03-26" => admitted = true,
                Ok(_) => {
                    return RpcError::new(
                        StatusCode::BAD_REQUEST,
                        code::INVALID_REQUEST,
                        "batches are only accepted in 2025-03-26 sessions",
                    )
                    .response(b"null");
                }
                Err(e) => return e.response(b"null"),
            }
        }
        if f.is_notification() {
            if f.method(&element) == Some("notifications/cancelled") {
                cancel(ctx, &element, &f).await;
            }
            continue;
        }
        if f.is_response() {
            answer_backend(ctx, &element, &f).await;
            continue;
        }
        let resp = match dispatch(ctx, &element, &f, true).await {
            Ok(r) => r,
            Err(e) => e.response(&id),
        };
        match resp.into_body().collect().await {
            Ok(c) => answers.push(c.to_bytes()),
            Err(_) => answers.push(RpcError::method(code::INTERNAL, "answer lost").body(&id)),
        }
    }
    if answers.is_empty() {
        return status_only(StatusCode::ACCEPTED);
    }
    let mut out = BytesMut::new();
    out.extend_from_slice(b"[");
    for (i, a) in answers.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b",");
        }
        out.extend_from_slice(a);
    }
    out.extend_from_slice(b"]");
    json_response(StatusCode::OK, out.freeze())
}

/// `GET`: the session's stream for the gateway's own notifications.
fn get(mut ctx: Ctx, req: Request<Incoming>) -> Response<Body> {
    if !accepted(req.headers()).sse {
        return RpcError::new(
            StatusCode::NOT_ACCEPTABLE,
            code::INVALID_REQUEST,
            "Accept must list text/event-stream",
        )
        .response(b"null");
    }
    let Some(id) = header_str(req.headers(), "mcp-session-id") else {
        return RpcError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            "missing Mcp-Session-Id",
        )
        .response(b"null");
    };
    let claims = match session::open(
        &ctx.state.cipher,
        &ctx.state.ended_sessions,
        id,
        ctx.kid(),
        ctx.namespace.as_deref(),
        unix_now(),
    ) {
        Ok(c) => c,
        Err(e) => {
            return RpcError::new(
                StatusCode::NOT_FOUND,
                code::SESSION_NOT_FOUND,
                e.to_string(),
            )
            .response(b"null");
        }
    };
    ctx.conversation = Arc::from(format!("s:{}", base64url(&session::hash(id))));
    ctx.session_expires = Some(claims.exp);
    listen(&ctx)
}

/// An SSE stream of list_changed notifications for this endpoint, with keep-alives.
fn listen(ctx: &Ctx) -> Response<Body> {
    let mut changes = ctx.state.list_changes.subscribe();
    let mut updates = ctx.state.backends.updates.subscribe();
    let mut closing = ctx.state.events.closing();
    let watched = ctx.watched_views();
    let state = ctx.state.clone();
    let conversation = ctx.conversation.clone();
    let listening = ctx.state.subscriptions.listening(&ctx.holder());
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let _listening = listening;
        let mut keepalive =
            tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
        loop {
            let next = tokio::select! {
                c = changes.recv() => match c {
                    Ok(c) if watched.contains(&c.view) => c.notification(),
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                },
                u = updates.recv() => match u {
                    Ok(u) if state.subscriptions.has(&u.uri, &conversation) => {
                        let mut event = BytesMut::with_capacity(u.message.len() + 24);
                        event.extend_from_slice(b"event: message\ndata: ");
                        event.extend_from_slice(&u.message);
                        event.extend_from_slice(b"\n\n");
                        event.freeze()
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                },
                _ = keepalive.tick() => Bytes::from_static(b": keep-alive\n\n"),
                _ = closing.changed() => return,
                () = tx.closed() => return,
            };
            match tx.try_send(next) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::debug!("notification stream reader too slow; dropped");
                    return;
                }
                Err(_) => return,
            }
        }
    });
    let mut r = Response::new(Body::Channel(rx));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// A change of one view's lists, for its notification streams.
#[derive(Debug, Clone)]
pub struct ListChanged {
    pub view: Option<String>,
    /// Which lists changed: tools, prompts, resources.
    pub kinds: [bool; 3],
}

impl ListChanged {
    fn notification(&self) -> Bytes {
        let mut out = BytesMut::new();
        for (changed, kind) in self.kinds.iter().zip(["tools", "prompts", "resources"]) {
            if *changed {
                out.extend_from_slice(
                    b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/",
                );
                out.extend_from_slice(kind.as_bytes());
                out.extend_from_slice(b"/list_changed\"}\n\n");
            }
        }
        out.freeze()
    }
}

/// `DELETE`: ends the session everywhere.
async fn delete(ctx: Ctx, req: Request<Incoming>) -> Response<Body> {
    let Some(id) = header_str(req.headers(), "mcp-session-id") else {
        return RpcError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            "missing Mcp-Session-Id",
        )
        .response(b"null");
    };
    let now = unix_now();
    let claims = match session::open(
        &ctx.state.cipher,
        &ctx.state.ended_sessions,
        id,
        ctx.kid(),
        ctx.namespace.as_deref(),
        now,
    ) {
        Ok(c) => c,
        Err(e) => {
            return RpcError::new(
                StatusCode::NOT_FOUND,
                code::SESSION_NOT_FOUND,
                e.to_string(),
            )
            .response(b"null");
        }
    };
    match ctx
        .state
        .ended_sessions
        .end(&ctx.state.db.pool, id, claims.exp, now)
        .await
    {
        Ok(()) => {
            ctx.state
                .subscriptions
                .forget(&format!("s:{}", base64url(&session::hash(id))));
            status_only(StatusCode::OK)
        }
        Err(e) => {
            tracing::error!(error = %e, "could not record the session's end");
            RpcError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                code::INTERNAL,
                "the session could not be ended; retry",
            )
            .response(b"null")
        }
    }
}

/// `POST /api/v1/mcp/servers/{id}/tools/{tool}/execute`: the body is the arguments.
pub async fn execute(
    ctx: &Ctx,
    backend: &Arc<Backend>,
    tool: &str,
    arguments: &Bytes,
) -> Result<Bytes, ApiError> {
    if ctx.is_narrowed() && !ctx.tools_of(backend).iter().any(|(own, _)| own == tool) {
        return Err(ApiError::NotFound(format!(
            "no tool {tool:?} on server {} for this key",
            backend.name
        )));
    }
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
    let mut body = BytesMut::with_capacity(args.len() + 128);
    body.extend_from_slice(
        b"{\"jsonrpc\":\"2.0\",\"id\":\"rest\",\"method\":\"tools/call\",\"params\":{\"name\":",
    );
    body.extend_from_slice(&frame::json_string(tool));
    body.extend_from_slice(b",\"arguments\":");
    body.extend_from_slice(args);
    body.extend_from_slice(b"}}");
    let body = body.freeze();
    let f = frame::parse(&body).map_err(|_| ApiError::BadRequest {
        field: None,
        message: "the body must be exactly one JSON object of tool arguments".into(),
    })?;
    let resp = forward(ctx, &body, &f, backend, None, true).await;
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .to_bytes();
    Ok(bytes)
}

/// The REST tool list of a server: the backend's own tools this caller reaches, each
/// with the name the caller calls it by on `/mcp` (`exposed_name`).
pub fn server_tools(ctx: &Ctx, backend: &Backend) -> Value {
    let lists = backend.lists();
    let reach = ctx.tools_of(backend);
    Value::Array(
        lists
            .tools
            .iter()
            .filter_map(|t| {
                let own = t["name"].as_str()?;
                let (_, exposed) = reach.iter().find(|(o, _)| o == own)?;
                let mut t = t.clone();
                t["exposed_name"] = Value::String(exposed.clone());
                Some(t)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
            serde_json::from_slice(&with_result_type(Bytes::from_static(b"{}"), true)).unwrap();
        assert_eq!(
            empty,
            json!({"resultType": "complete", "ttlMs": 0, "cacheScope": "private"})
        );
        let one: Value =
            serde_json::from_slice(&with_result_type(Bytes::from_static(b"{\"a\":1}"), true))
                .unwrap();
        assert_eq!(
            (one["a"].as_i64(), one["resultType"].as_str()),
            (Some(1), Some("complete"))
        );
        assert_eq!(
            &with_result_type(Bytes::from_static(b"{}"), false)[..],
            b"{}"
        );
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
