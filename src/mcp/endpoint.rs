//! The client-facing MCP endpoint (`/mcp`, `/mcp/{namespace}`, `/api/v1/mcp/stream`): a
//! request's HTTP checks (methods, `Accept`, `Content-Type`, its size), its frame read
//! once ([`crate::jsonrpc::frame::parse_request`]), and the dispatcher that takes each
//! message to the path it belongs on: a session's handshake, the conversation
//! established, a backend's answer, a notification, `call_tool` unwrapped, a
//! confirmation's retry, then the pipeline's one way in ([`crate::mcp::phases::enter`], from the endpoint).
//! The server span of what it served is recorded by [`super::spans`].

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use crate::http::{ApiError, Body, accepted, is_json, read_body};
use crate::jsonrpc::frame::{self, Frame, FrameError};
use crate::jsonrpc::methods::Method as McpMethod;
use crate::mcp::ctx::Ctx;
use crate::mcp::spans::{batch_span, server_span};
use crate::mcp::wire::rpc::{RpcError, code, status_only};
use crate::mcp::{batch, confirm, conversation, lists, notices, phases, search, stream};

/// What serves one request to an MCP endpoint.
pub type Serving = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

/// Serves one request to an MCP endpoint: the future is built in its box, where a
/// future awaited inside another is first built and then copied there (a POST's is
/// some 4 KB).
pub fn handle(ctx: Ctx, req: Request<Incoming>) -> Serving {
    if let Some(name) = conversation::repeated_header(req.headers()) {
        return Box::pin(std::future::ready(
            RpcError::new(
                StatusCode::BAD_REQUEST,
                code::INVALID_REQUEST,
                format!("the {name} header may appear only once"),
            )
            .response(b"null"),
        ));
    }
    match *req.method() {
        Method::POST => crate::base::boxed(move || post(ctx, req)),
        Method::GET => Box::pin(stream::get(ctx, req)),
        Method::DELETE => Box::pin(stream::delete(ctx, req)),
        _ => Box::pin(std::future::ready(status_only(
            StatusCode::METHOD_NOT_ALLOWED,
        ))),
    }
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
    // The frame is read into its place in this future (it is some 500 bytes, which a
    // parse returning it copied on the way), and the future holds no result it came in.
    let mut f = Frame::default();
    match frame::parse_request_into(&body, &mut f) {
        Ok(()) => {}
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
    }
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

/// A request's error, as a client of its era gets it ([`RpcError::in_era`]), noted for
/// its span.
fn refuse(ctx: &Ctx, served: &mut Served, e: RpcError, id: &[u8]) -> Response<Body> {
    let e = e.in_era(ctx.stateless);
    served.error = Some(e.code);
    e.response(id)
}

/// The dispatcher: takes a message to the path it belongs on (a session's handshake,
/// the conversation established, a backend's answer, a notification, `call_tool`
/// unwrapped, then the pipeline's one way in, [`phases::enter`]), and notes in `served`
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
        if let Err(e) = crate::mcp::admission::handshake(ctx).await {
            return refuse(ctx, served, e, id);
        }
        return match lists::initialize(ctx, body, f) {
            Ok(r) => r,
            Err(e) => refuse(ctx, served, e, id),
        };
    }
    if let Err(e) = conversation::establish(ctx, headers, body, f) {
        return refuse(ctx, served, e, id);
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
                return refuse(ctx, served, e, id);
            }
            (body, f)
        }
        Err(e) => {
            return refuse(ctx, served, e, id);
        }
    };
    // A confirmation's retry (2026-07-28): from here on, the call itself, answered.
    // Boxed as `called` is: held through the dispatch below, it would otherwise be part
    // of (and copied with) every request's future.
    let resumed: Box<(Bytes, Frame)>;
    let (body, f) = match ctx.stateless && f.request_state.is_some() {
        true => match Box::pin(confirm::resumed(ctx, body, f)).await {
            Ok(Some(again)) => {
                resumed = Box::new(again);
                (&resumed.0, &resumed.1)
            }
            Ok(None) => (body, f),
            Err(e) => {
                return refuse(ctx, served, e, id);
            }
        },
        false => (body, f),
    };
    let msg = phases::Message { body, frame: f };
    let origin = phases::Origin::at_endpoint(ctx, headers, f);
    match phases::enter(ctx, msg, origin).await {
        Ok(r) => r,
        Err(e) => refuse(ctx, served, e, id),
    }
}
