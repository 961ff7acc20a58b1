//! A call to a per-caller server by a caller who has not connected their account there:
//! the caller is asked to, in the way their client understands.
//!
//! - A session client that declared URL elicitation gets an `elicitation/create` in
//!   URL mode on the call's SSE stream. When the user has consented, the call goes on,
//!   after `notifications/elicitation/complete` ([`super::bridge::consent`]).
//! - A 2026-07-28 client that declared it gets the same as a URL input request
//!   (`input_required`); its retry, once the user has been to the page, is sent again.
//! - A session client's batched or REST call that declared it gets -32042 (URL
//!   elicitation required).
//! - Any other client gets -32051, naming the server and carrying the URL.

use std::sync::Arc;

use bytes::Bytes;
use hyper::Response;
use serde_json::json;

use crate::backend::Backend;
use crate::base::ClientCaps;
use crate::http::Body;
use crate::jsonrpc::frame::{Frame, Span};
use crate::jsonrpc::methods::Method;
use crate::mcp::era::plane::EraPlane;
use crate::mcp::hop::caller::Caller;
use crate::mcp::hop::exchange::Shape;
use crate::mcp::wire::rpc::{RpcError, code};

/// Answers a call that found no account of its caller's at `backend` (`why`).
#[allow(clippy::too_many_arguments)]
pub(in crate::mcp) async fn ask(
    era: &EraPlane,
    caller: &Caller<'_>,
    body: &Bytes,
    f: &Frame,
    backend: &Arc<Backend>,
    rename: Option<(Span, Bytes)>,
    shape: Shape,
    why: &str,
) -> Response<Body> {
    let client_id =
        f.id.map_or(Bytes::from_static(b"null"), |s| body.slice(s.start..s.end));
    let refuse = |message: String, url: Option<&str>| {
        RpcError {
            data: Some(json!({"server": backend.name, "url": url,
                              "connect": format!("/api/v1/me/connections/{}", backend.name)})),
            ..RpcError::method(code::UPSTREAM_UNAUTHORIZED, message)
        }
        .in_era(caller.stateless)
        .response(&client_id)
    };
    let Some(callers) = &backend.callers else {
        return refuse(format!("server `{}`: {why}", backend.name), None);
    };
    let owner = caller.owner(ClientCaps::ALL);
    let (principal, url) = match callers.consent(&owner).await {
        Ok(c) => c,
        Err(e) => {
            return refuse(
                format!(
                    "server `{}`: {why}; connecting it cannot start: {e}",
                    backend.name
                ),
                None,
            );
        }
    };
    let message = match backend.server.takes_caller_secret() {
        true => format!(
            "Set your own secret for {} to continue: open the page and enter it",
            backend.name
        ),
        false => format!(
            "Connect your account with {} to continue: open the page, sign in and consent",
            backend.name
        ),
    };
    let caps = caller.caps.unwrap_or_else(|| ClientCaps::of_frame(body, f));
    let declared = caps & ClientCaps::ELICITATION_URL != 0;
    let method = f.method(body).unwrap_or_default();
    if declared && caller.stateless && f.kind.is_some_and(Method::calls_item) {
        let error = json!({"error": {"code": code::URL_ELICITATION_REQUIRED, "data": {"elicitations": [
            {"mode": "url", "elicitationId": "connect", "url": url, "message": message}]}}});
        if let Some(asks) = crate::mcp::wire::ask::url_asks(error.to_string().as_bytes()) {
            return crate::mcp::era::rounds::to_the_urls(
                &era.parked,
                caller,
                body,
                method,
                &client_id,
                &asks,
            );
        }
    }
    if !declared || caller.stateless {
        return refuse(
            format!(
                "server `{}`: your account with it is not connected; open {url} to connect it, \
                 then call again",
                backend.name
            ),
            Some(&url),
        );
    }
    if shape == Shape::Whole {
        let id = crate::crypto::random_alphanumeric(22);
        return RpcError {
            data: Some(json!({"elicitations": [
                {"mode": "url", "elicitationId": id, "url": url, "message": message}]})),
            ..RpcError::method(code::URL_ELICITATION_REQUIRED, message)
        }
        .response(&client_id);
    }
    super::bridge::session_to_modern::consent(
        era, caller, body, f, backend, rename, principal, url, message,
    )
}
