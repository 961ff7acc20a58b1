//! Batches (2025-03-26 sessions only).

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::header::HeaderMap;
use hyper::{Response, StatusCode};

use crate::http::Body;
use crate::jsonrpc::frame;
use crate::jsonrpc::methods::Method;
use crate::mcp::conversation::establish;
use crate::mcp::ctx::Ctx;
use crate::mcp::notices::{answer_backend, cancel};
use crate::mcp::phases::{Message, Origin, enter};
use crate::mcp::wire::rpc::{RpcError, code, json_response, status_only};

/// Batches (2025-03-26 sessions only): each element answered in order, collected.
pub(crate) async fn batch(ctx: &mut Ctx, headers: &HeaderMap, body: &Bytes) -> Response<Body> {
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
        let f = match frame::parse_request(&element) {
            Ok(f) => f,
            Err(frame::FrameError::Ambiguous(a)) => {
                let (a, id) = &*a;
                let id = id.map_or(&b"null"[..], |s| s.of(&element));
                let mut e = RpcError::ambiguous(a);
                e.status = StatusCode::OK;
                answers.push(e.body(id));
                continue;
            }
            Err(_) => {
                answers.push(
                    RpcError::method(code::INVALID_REQUEST, "invalid batch element").body(b"null"),
                );
                continue;
            }
        };
        let id = f.id.map_or(&b"null"[..], |s| s.of(&element)).to_vec();
        if f.is(Method::Initialize) {
            answers.push(
                RpcError::method(code::INVALID_REQUEST, "initialize cannot be batched").body(&id),
            );
            continue;
        }
        if !admitted {
            match establish(ctx, headers, &element, &f) {
                Ok(Some(open)) if open.claims.v == "2025-03-26" => admitted = true,
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
            if f.is(Method::Cancelled) {
                cancel(ctx, &element, &f).await;
            }
            continue;
        }
        if f.is_response() {
            answer_backend(ctx, &element, &f).await;
            continue;
        }
        // Each element holds a place of its own (one at a time: they run in turn).
        ctx.kept.take();
        let called = match crate::mcp::search::call_tool(ctx, &element, &f) {
            Ok(Some((rewritten, rf))) => {
                let msg = Message {
                    body: &rewritten,
                    frame: &rf,
                };
                enter(ctx, msg, Origin::in_batch(ctx, headers, msg.frame)).await
            }
            Ok(None) => {
                let msg = Message {
                    body: &element,
                    frame: &f,
                };
                enter(ctx, msg, Origin::in_batch(ctx, headers, msg.frame)).await
            }
            Err(e) => Err(e),
        };
        let resp = match called {
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
