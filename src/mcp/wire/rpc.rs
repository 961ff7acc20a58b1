//! JSON-RPC answers the gateway makes itself: error codes, the error type with its HTTP
//! status, and envelopes built from raw parts.

use bytes::{Bytes, BytesMut};
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use crate::http::Body;

/// Longest a collected (batched, REST) answer may be.
pub const MAX_COLLECTED: usize = 64 << 20;

/// JSON-RPC error codes, as errors are built: the gateway's own in the session era's
/// numbers, mapped for a 2026-07-28 client where the error leaves
/// ([`RpcError::in_era`], [`super::codes`], which lists every code in both eras).
pub mod code {
    use super::super::codes;

    pub const PARSE: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL: i64 = -32603;
    pub const SESSION_NOT_FOUND: i64 = codes::SESSION_NOT_FOUND;
    pub const HEADER_MISMATCH: i64 = codes::HEADER_MISMATCH;
    /// A request needs a client capability it did not declare (2026-07-28).
    pub const MISSING_CAPABILITY: i64 = codes::MISSING_CAPABILITY;
    pub const UNSUPPORTED_VERSION: i64 = codes::UNSUPPORTED_VERSION;
    /// Over a limit of the caller's key (with `data.retryAfterMs`).
    pub const LIMITED: i64 = codes::LIMITED;
    /// Refused by a policy by identity (`data.policy` names it).
    pub const POLICY_DENIED: i64 = codes::POLICY_DENIED;
    /// The backend needs an account connected (an OAuth backend): `data.server` names
    /// it, `data.authorize` is where an admin connects it.
    pub const UPSTREAM_UNAUTHORIZED: i64 = codes::UPSTREAM_UNAUTHORIZED;
    /// The call needs the user at a URL first (2025-11-25 sessions).
    pub const URL_ELICITATION_REQUIRED: i64 = codes::URL_ELICITATION_REQUIRED;
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

    /// A request whose JSON readers read differently ([`crate::jsonrpc::read`]), refused
    /// before anything runs: `-32600` in the envelope, `-32602` within `params`, with
    /// `data.ambiguous` (what) and `data.at` (where), and `data.readsAs` (the name it is
    /// taken for) when a member's name is read as another's.
    pub fn ambiguous(a: &crate::jsonrpc::read::Ambiguity) -> RpcError {
        let code = match a.in_params() {
            true => code::INVALID_PARAMS,
            false => code::INVALID_REQUEST,
        };
        let reads_as = a
            .reads_as
            .as_deref()
            .map(|n| format!(" (read as {n:?})"))
            .unwrap_or_default();
        let mut e = RpcError::new(
            StatusCode::BAD_REQUEST,
            code,
            format!(
                "the request was refused before anything ran: its JSON has {}, at {}{reads_as}, \
                 which JSON readers read differently, so the gateway cannot check what the \
                 server would run; send every member once with its name spelt as the method \
                 defines it, numbers a 64-bit integer or a double holds, valid escapes, and at \
                 most {} levels of nesting",
                a.what,
                a.at,
                crate::jsonrpc::read::MAX_DEPTH
            ),
        );
        let mut data = json!({"ambiguous": a.what, "at": a.at});
        if let Some(n) = &a.reads_as {
            data["readsAs"] = json!(n);
        }
        e.data = Some(data);
        e
    }

    /// `-32602`: the request's params are not what the method takes.
    pub fn invalid(message: impl Into<String>) -> RpcError {
        RpcError::method(code::INVALID_PARAMS, message)
    }

    /// An answer over the limit `kind`: 429 with `data.retryAfterMs` (and `Retry-After`,
    /// in whole seconds, on the response), and, when the limit is a number (`bound`),
    /// that number and `remaining: 0` ([`super::codes::data_in_era`] has the members).
    pub fn limited(
        message: impl Into<String>,
        kind: &str,
        retry_after_ms: u64,
        bound: Option<u64>,
    ) -> RpcError {
        let mut e = RpcError::new(StatusCode::TOO_MANY_REQUESTS, code::LIMITED, message);
        let mut data = json!({"retryAfterMs": retry_after_ms, "limit": kind, "limit_name": kind});
        if let Some(n) = bound {
            data["bound"] = n.into();
            data["remaining"] = 0.into();
        }
        e.data = Some(data);
        e
    }

    /// The error as a client of its era gets it: a 2026-07-28 client's (`stateless`)
    /// code and `data` ([`super::codes`]); a session client's as built.
    pub fn in_era(mut self, stateless: bool) -> RpcError {
        if stateless {
            if let Some(d) = &mut self.data {
                super::codes::data_in_era(self.code, d, true);
            }
            self.code = super::codes::in_era(self.code, true);
        }
        self
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

/// A response message whose `result` lacks `resultType`, with `"resultType":"complete"`
/// put first in it; `None` for any other message (a request, an error, a result that has
/// one). A 2026-07-28 client needs `resultType` on every result, whatever the backend
/// sent: some 2026 backends leave it out of the results they stream.
pub(crate) fn with_result_type(message: &[u8]) -> Option<Bytes> {
    let f = crate::jsonrpc::frame::parse(message).ok()?;
    let open = f.result?.start;
    if f.method.is_some() || message.get(open) != Some(&b'{') {
        return None;
    }
    let mut has = false;
    crate::jsonrpc::frame::each_member(message, open, |key, _| {
        has |= key.of(message) == b"\"resultType\"";
    })
    .ok()?;
    if has {
        return None;
    }
    let members: &[u8] = match crate::jsonrpc::frame::opens_empty(message, open) {
        true => br#""resultType":"complete""#,
        false => br#""resultType":"complete","#,
    };
    let at = crate::jsonrpc::frame::Span {
        start: open + 1,
        end: open + 1,
    };
    Some(crate::jsonrpc::frame::splice(message, &mut [(at, members)]))
}

/// One SSE event (its lines and blank line) with its single `data` line's message given
/// a `resultType` ([`with_result_type`]); `None` when it needs none. Other lines
/// (`id:`, `event:`) are kept as they are.
pub(crate) fn event_with_result_type(event: &[u8]) -> Option<Bytes> {
    let mut at = 0;
    let mut found = None;
    for line in event.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b"data:") {
            if found.is_some() {
                return None; // a message over several data lines: left as it is
            }
            let skip = if line.get(5) == Some(&b' ') { 6 } else { 5 };
            let body = line[skip..].trim_ascii_end();
            found = Some((at + skip, at + skip + body.len()));
        }
        at += line.len();
    }
    let (start, end) = found?;
    let fixed = with_result_type(&event[start..end])?;
    let mut out = BytesMut::with_capacity(event.len() + 24);
    out.extend_from_slice(&event[..start]);
    out.extend_from_slice(&fixed);
    out.extend_from_slice(&event[end..]);
    Some(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_without_result_type_gets_one_and_nothing_else_changes() {
        let fixed = with_result_type(br#"{"jsonrpc":"2.0","id":5,"result":{"content":[]}}"#);
        assert_eq!(
            fixed.as_deref(),
            Some(
                &br#"{"jsonrpc":"2.0","id":5,"result":{"resultType":"complete","content":[]}}"#[..]
            )
        );
        let empty = with_result_type(br#"{"jsonrpc":"2.0","id":5,"result":{ }}"#);
        assert_eq!(
            empty.as_deref(),
            Some(&br#"{"jsonrpc":"2.0","id":5,"result":{"resultType":"complete" }}"#[..])
        );
        for untouched in [
            &br#"{"jsonrpc":"2.0","id":5,"result":{"resultType":"input_required","inputRequests":{}}}"#[..],
            br#"{"jsonrpc":"2.0","id":5,"result":{"content":[{"resultType":"x"}],"resultType":"complete"}}"#,
            br#"{"jsonrpc":"2.0","id":5,"error":{"code":1,"message":"m"}}"#,
            br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{}}"#,
            b"not json",
        ] {
            assert_eq!(with_result_type(untouched), None);
        }
        // A nested `resultType` is not the result's own.
        assert!(
            with_result_type(
                br#"{"jsonrpc":"2.0","id":5,"result":{"content":[{"resultType":"x"}]}}"#
            )
            .is_some()
        );
    }

    #[test]
    fn an_events_data_line_is_stamped_and_its_other_lines_kept() {
        let event =
            b"id: 7\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n";
        let fixed = event_with_result_type(event).unwrap();
        assert_eq!(
            &fixed[..],
            &b"id: 7\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"resultType\":\"complete\"}}\n\n"[..]
        );
        assert_eq!(
            event_with_result_type(b"data: {\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n\n"),
            None
        );
    }
}
