//! The conversation a message belongs to: its era, its session, and the headers that
//! must agree with its body ([`establish`]). The client's era, once learnt, is asked of
//! the request's context through the named questions here (`Ctx::client_modern`,
//! `caps_of`, `stamped`, `asks_by_rounds`, `is_retry`, `is_task_request`,
//! `sets_log_level`, `not_found_status`), so no other room reads which era it is in.

use std::sync::Arc;

use bytes::Bytes;
use hyper::StatusCode;
use hyper::header::HeaderMap;
use serde_json::json;

use crate::auth::session::OpenSession;
use crate::base::{ClientCaps, unix_now};
use crate::http::header_str;
use crate::http::names;
use crate::jsonrpc::frame::{Frame, string_value};
use crate::jsonrpc::methods::Method;
use crate::mcp::ctx::Ctx;
use crate::mcp::hop::calls::ANONYMOUS;
use crate::mcp::lists::{Cache, with_hints};
use crate::mcp::wire::rpc::{RpcError, code};
use crate::mcp::wire::versions::{SESSION_VERSIONS, STATELESS_VERSION};

/// Headers that say one thing each: a second copy could say something else to another
/// reader (the gateway checks the first, a backend or a proxy may act on another).
pub(crate) const SINGLE_HEADERS: [&str; 4] = [
    "mcp-method",
    "mcp-name",
    "mcp-protocol-version",
    "mcp-session-id",
];

/// The first of [`SINGLE_HEADERS`] that appears more than once.
pub(crate) fn repeated_header(h: &HeaderMap) -> Option<&'static str> {
    // Usually no header repeats at all: one comparison.
    if h.keys_len() == h.len() {
        return None;
    }
    SINGLE_HEADERS
        .into_iter()
        .find(|name| h.get_all(*name).iter().nth(1).is_some())
}

/// Checks a stateless `tools/call`'s `Mcp-Param-*` headers against the arguments of the
/// tool it calls, for each argument that tool mirrors (`x-mcp-header`). Run on the body
/// as it came and again on a `call_tool` call rewritten into the named tool's own, so a
/// header contradicting that tool's arguments is refused through `call_tool` as it is
/// on a direct call.
pub(crate) fn header_params(
    ctx: &Ctx,
    headers: &HeaderMap,
    body: &[u8],
    f: &Frame,
) -> Result<(), RpcError> {
    if !ctx.view.header_params || !f.is(Method::ToolsCall) {
        return Ok(());
    }
    match f
        .name
        .and_then(|s| string_value(body, s))
        .and_then(|n| ctx.view.tool(&n))
    {
        Some(tool) => crate::mcp::wire::headers::check_params(headers, body, &tool.header_params),
        None => Ok(()),
    }
}

/// Establishes the era and the session of a non-initialize message.
pub(crate) fn establish(
    ctx: &mut Ctx,
    headers: &HeaderMap,
    body: &[u8],
    f: &Frame,
) -> Result<Option<Arc<OpenSession>>, RpcError> {
    let method = f.method(body).unwrap_or_default();
    let session_id = header_str(headers, names::MCP_SESSION_ID);
    // Read once: a session's call consulted it three times (each a hashed lookup and a
    // byte check), measured per forwarded call with callgrind.
    let version_header = header_str(headers, names::MCP_PROTOCOL_VERSION);
    // Responses carry no `_meta`: a stateless client's answer to a backend's request
    // says its era in the version header instead. A request naming a session belongs
    // to that session, whatever its version header says (checked against the session
    // below).
    let meta_version = f
        .meta_version
        .and_then(|s| string_value(body, s))
        .or_else(|| {
            version_header
                .filter(|v| *v == STATELESS_VERSION && session_id.is_none())
                .map(std::borrow::Cow::Borrowed)
        });
    if meta_version.is_some() || f.is(Method::ServerDiscover) {
        let version = meta_version.as_deref().unwrap_or(STATELESS_VERSION);
        // A version header that contradicts `_meta` is a header mismatch, whatever the
        // versions are.
        if let (Some(h), Some(m)) = (
            version_header.and_then(crate::mcp::wire::headers::decoded),
            f.meta_version.and_then(|s| string_value(body, s)),
        ) && h != m
        {
            return Err(RpcError::new(
                StatusCode::BAD_REQUEST,
                code::HEADER_MISMATCH,
                format!("the MCP-Protocol-Version header ({h}) does not match params._meta ({m})"),
            ));
        }
        if version != STATELESS_VERSION {
            let mut e = RpcError::new(
                StatusCode::BAD_REQUEST,
                code::UNSUPPORTED_VERSION,
                format!("unsupported protocol version {version:?}"),
            );
            e.data = Some(json!({"supported": [STATELESS_VERSION], "requested": version}));
            return Err(e);
        }
        crate::mcp::wire::headers::check(
            headers,
            body,
            f,
            method,
            f.meta_version
                .and_then(|s| string_value(body, s))
                .as_deref(),
        )?;
        check_meta(body, f)?;
        header_params(ctx, headers, body, f)?;
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
    if let Some(v) = version_header
        && !SESSION_VERSIONS.contains(&v)
    {
        return Err(RpcError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            format!("unsupported MCP-Protocol-Version {v:?}"),
        ));
    }
    let Some(id) = session_id else {
        return Err(RpcError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            "missing Mcp-Session-Id: send initialize first",
        ));
    };
    match ctx.state.data.sessions.open(
        &ctx.state.cipher,
        &ctx.state.data.ended_sessions,
        id,
        ctx.kid(),
        ctx.namespace.as_deref(),
        unix_now(),
    ) {
        Ok(open) => {
            session_version(version_header, &open.claims.v)?;
            ctx.conversation = open.conversation.clone();
            ctx.session_expires = Some(open.claims.exp);
            ctx.client_caps = Some(open.claims.c);
            Ok(Some(open))
        }
        Err(e) => Err(RpcError::new(
            StatusCode::NOT_FOUND,
            code::SESSION_NOT_FOUND,
            format!("{e}: initialize again"),
        )),
    }
}

/// A session's requests carry a version of the session era, or none (then 2025-03-26
/// is assumed): the session's own negotiated version governs either way. A header of the
/// stateless era, or one no era knows, contradicts the session.
///
/// Another session-era version is accepted: the official conformance suite sends
/// `2025-03-26` on requests of sessions it negotiated at 2025-11-25, and the spec's own
/// default for a missing header is a version other than the negotiated one.
pub(crate) fn check_session_version(headers: &HeaderMap, negotiated: &str) -> Result<(), RpcError> {
    session_version(header_str(headers, names::MCP_PROTOCOL_VERSION), negotiated)
}

/// [`check_session_version`] of a version header already read.
fn session_version(header: Option<&str>, negotiated: &str) -> Result<(), RpcError> {
    match header {
        Some(v) if v != negotiated && !SESSION_VERSIONS.contains(&v) => {
            let mut e = RpcError::new(
                StatusCode::BAD_REQUEST,
                code::INVALID_REQUEST,
                format!(
                    "MCP-Protocol-Version {v:?} does not match this session's version {negotiated:?}"
                ),
            );
            e.data = Some(json!({"supported": [negotiated], "requested": v}));
            Err(e)
        }
        _ => Ok(()),
    }
}

/// The capabilities key every stateless request's `_meta` carries.
const CLIENT_CAPABILITIES: &[u8] = b"\"io.modelcontextprotocol/clientCapabilities\"";

/// Stateless era: a request's `_meta` names its protocol version and its client's
/// capabilities (400 and -32602 without them, `server/discover` included), and a
/// `logLevel`, if any, is a level.
pub(crate) fn check_meta(body: &[u8], f: &Frame) -> Result<(), RpcError> {
    if !f.is_request() {
        return Ok(());
    }
    let meta = f
        .meta
        .and_then(|s| crate::jsonrpc::frame::container_span(body, s.start))
        .map_or(&b""[..], |s| s.of(body));
    let invalid = |m: String| RpcError::new(StatusCode::BAD_REQUEST, code::INVALID_PARAMS, m);
    if f.meta_version.is_none() {
        return Err(invalid(
            "params._meta[\"io.modelcontextprotocol/protocolVersion\"] is required in the \
             2026-07-28 revision"
                .into(),
        ));
    }
    static CAPS: crate::jsonrpc::needle::Needle = crate::needle!(CLIENT_CAPABILITIES);
    if !CAPS.in_(meta) {
        return Err(invalid(
            "params._meta[\"io.modelcontextprotocol/clientCapabilities\"] is required in \
             the 2026-07-28 revision"
                .into(),
        ));
    }
    crate::jsonrpc::log_level::requested(meta)
        .map(|_| ())
        .map_err(|e| {
            invalid(format!(
                "params._meta[\"{}\"]: {e}",
                crate::jsonrpc::log_level::META_KEY
            ))
        })
}

/// The client's era, as the hop asks it of its caller: which codes its own errors carry
/// (`wire::codes`).
impl crate::mcp::hop::caller::Caller<'_> {
    /// Whether the caller speaks 2026-07-28.
    pub(crate) fn client_modern(&self) -> bool {
        self.stateless
    }
}

/// The client's era, as the other rooms ask it.
impl Ctx {
    /// Whether the client speaks 2026-07-28 (each request on its own, no session).
    pub(crate) fn client_modern(&self) -> bool {
        self.stateless
    }

    /// The client's capabilities: its session's, or (2026-07-28) what this request
    /// declares; `None` for a caller with neither (REST).
    pub(crate) fn caps_of(&self, body: &[u8], f: &Frame) -> Option<u8> {
        match self.client_caps {
            Some(c) => Some(c),
            None if self.stateless => Some(ClientCaps::of_frame(body, f)),
            None => None,
        }
    }

    /// A result the gateway makes, stamped as the client's era wants it (`resultType`
    /// and the caching hints for a 2026-07-28 client).
    pub(crate) fn stamped(&self, result: Bytes, cache: Option<Cache>) -> Bytes {
        with_hints(result, self.stateless, cache)
    }

    /// Whether a question the gateway asks mid-call goes back as `input_required` for
    /// the client to answer on its retry (2026-07-28), not on the call's stream.
    pub(crate) fn asks_by_rounds(&self) -> bool {
        self.stateless
    }

    /// Whether the request is a 2026-07-28 retry carrying `requestState`.
    pub(crate) fn is_retry(&self, f: &Frame) -> bool {
        self.stateless && f.request_state.is_some()
    }

    /// Whether the request asks about a task: the session era's `tasks/*` or the
    /// 2026-07-28 tasks extension's methods.
    pub(crate) fn is_task_request(&self, f: &Frame) -> bool {
        f.kind.is_some_and(|m| match self.stateless {
            false => m.is_task(),
            true => m.is_task_ext(),
        })
    }

    /// Whether the client's session takes `logging/setLevel` (the 2026-07-28 era has
    /// no session to set it on).
    pub(crate) fn sets_log_level(&self) -> bool {
        !self.stateless
    }

    /// The status of an answer for a method the gateway does not serve: 404 in the
    /// 2026-07-28 era, as the revision says; 200 in a session.
    pub(crate) fn not_found_status(&self) -> StatusCode {
        match self.stateless {
            true => StatusCode::NOT_FOUND,
            false => StatusCode::OK,
        }
    }
}
