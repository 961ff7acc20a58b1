//! JSON-RPC answers the gateway makes itself: error codes, the error type with its HTTP
//! status, and envelopes built from raw parts.

use bytes::{Bytes, BytesMut};
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use crate::http::Body;

/// JSON-RPC error codes.
pub mod code {
    pub const PARSE: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL: i64 = -32603;
    pub const SESSION_NOT_FOUND: i64 = -32001;
    pub const HEADER_MISMATCH: i64 = -32020;
    /// A request needs a client capability it did not declare (2026-07-28).
    pub const MISSING_CAPABILITY: i64 = -32021;
    pub const UNSUPPORTED_VERSION: i64 = -32022;
    /// Over a limit of the caller's key (with `data.retryAfterMs`).
    pub const LIMITED: i64 = -32029;
    /// The backend needs an account connected (an OAuth backend): `data.server` names
    /// it, `data.authorize` is where an admin connects it.
    pub const UPSTREAM_UNAUTHORIZED: i64 = -32051;
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

    pub(crate) fn body(&self, id: &[u8]) -> Bytes {
        let mut err = json!({"code": self.code, "message": self.message});
        if let Some(d) = &self.data {
            err["data"] = d.clone();
        }
        envelope(id, "error", err.to_string().as_bytes())
    }

    /// An answer over a limit: 429 with `data.retryAfterMs` (and `Retry-After`, in whole
    /// seconds, on the response).
    pub fn limited(message: impl Into<String>, kind: &str, retry_after_ms: u64) -> RpcError {
        let mut e = RpcError::new(StatusCode::TOO_MANY_REQUESTS, code::LIMITED, message);
        e.data = Some(json!({"retryAfterMs": retry_after_ms, "limit": kind}));
        e
    }

    pub fn response(&self, id: &[u8]) -> Response<Body> {
        let mut r = json_response(self.status, self.body(id));
        if self.status == StatusCode::TOO_MANY_REQUESTS
            && let Some(ms) = self.data.as_ref().and_then(|d| d["retryAfterMs"].as_u64())
        {
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(ms.div_ceil(1000).max(1)),
            );
        }
        r
    }
}

/// `{"jsonrpc":"2.0","id":<id>,"<kind>":<payload>}` from raw parts.
pub(crate) fn envelope(id: &[u8], kind: &str, payload: &[u8]) -> Bytes {
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

pub(crate) fn json_response(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut r = Response::new(Body::full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub(crate) fn status_only(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::Empty);
    *r.status_mut() = status;
    r
}

/// What every result carries for stateless (2026-07-28) clients: `resultType`, the
/// caching hints list, read and discover results require (lists depend on the caller's
/// key, so they are private and not to be reused), and the gateway's own
/// `_meta["io.modelcontextprotocol/serverInfo"]` (the server the client speaks to is the
/// gateway, whichever backend answered).
pub(crate) const STATELESS_RESULT_MEMBERS: &[u8] = concat!(
    r#""resultType":"complete","ttlMs":0,"cacheScope":"private","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"metamcp","version":""#,
    env!("CARGO_PKG_VERSION"),
    r#""}}"#
)
.as_bytes();
