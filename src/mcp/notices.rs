//! What a client tells the gateway outside the call pipeline: its answers to a backend's
//! requests, its cancellations, its roots changing, and a session's `logging/setLevel`.

use std::sync::Arc;

use bytes::Bytes;

use crate::backend::Backend;
use crate::base::{ClientCaps, unix_now};
use crate::jsonrpc::frame::{self, Frame};
use crate::jsonrpc::methods::Method;
use crate::mcp::ctx::Ctx;
use crate::mcp::hop::calls::{Taken, cancellation, owner_key};
use crate::mcp::wire::rpc::RpcError;

/// A client's answer to a backend's request: sent to that backend with its own id.
pub async fn answer_backend(ctx: &Ctx, body: &Bytes, f: &Frame) {
    let Some(span) = f.id else { return };
    match ctx
        .state
        .data
        .server_requests
        .take(&ctx.conversation, span.of(body))
    {
        Some(Taken::Backend(backend, original, via)) => {
            let upstream = frame::splice(body, &mut [(span, &original[..])]);
            backend
                .notify(owner_key(&ctx.conversation), via, upstream)
                .await;
        }
        Some(Taken::Gateway(waiter)) => {
            let _ = waiter.send(body.clone());
        }
        None => tracing::debug!("a client answered a request nobody is waiting for"),
    }
}

/// A session client's roots changed: the backends of its view are told, each on the
/// session of it that serves this client, if that session is open (nothing is started
/// just to be told; a 2026-07-28 backend asks for roots with each request instead).
/// A session shared with other clients hears it too, and asks for roots again during
/// the next call that needs them, which the asking client answers.
pub async fn roots_changed(ctx: &Ctx) {
    if ctx.client_caps.is_some_and(|c| c & ClientCaps::ROOTS == 0) {
        return;
    }
    let owner = owner_key(&ctx.conversation);
    let via = ctx.client_caps.unwrap_or(ClientCaps::ALL);
    let message =
        Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}"#);
    let backends: Vec<Arc<Backend>> = ctx
        .view
        .members
        .iter()
        .filter_map(|id| ctx.state.data.backends.get(id))
        .filter(|b| {
            crate::mcp::era::bridge::hears_roots_changed(b)
                && b.status() == crate::backend::Status::Running
        })
        .collect();
    futures_util::future::join_all(
        backends
            .iter()
            .map(|b| b.notify(owner, via, message.clone())),
    )
    .await;
}

/// Forwards the client's cancellation to the backend running the request.
pub async fn cancel(ctx: &Ctx, body: &Bytes, f: &Frame) {
    let Some(rid) = f.request_id else { return };
    let key = (
        ctx.conversation.clone(),
        Bytes::copy_from_slice(rid.of(body)),
    );
    if let Some(p) = ctx.state.data.inflight.remove(&key) {
        p.backend
            .notify(
                owner_key(&ctx.conversation),
                p.via,
                cancellation(
                    &crate::backend::upstream_id(p.upstream),
                    "cancelled by the client",
                ),
            )
            .await;
    }
}

/// A session's `logging/setLevel`: remembered for its call streams, and when the lowest
/// level any live session wants changes, sent on to every backend of the caller's view
/// that logs (in the background; the client's answer does not wait for them).
pub(crate) fn set_level(ctx: &Ctx, body: &[u8], f: &Frame) -> Result<(), RpcError> {
    let level = f
        .params
        .and_then(|p| frame::container_span(body, p.start))
        .and_then(|p| crate::jsonrpc::read::value(p.of(body)).ok())
        .and_then(|p| p["level"].as_str().map(str::to_string))
        .ok_or_else(|| RpcError::invalid("logging/setLevel needs params.level"))?;
    let rank = crate::jsonrpc::log_level::rank(&level).ok_or_else(|| {
        RpcError::invalid(format!(
            "{level:?} is not a log level ({})",
            crate::jsonrpc::log_level::LEVELS.join(", ")
        ))
    })?;
    let expires = ctx.session_expires.unwrap_or(u64::MAX);
    let (before, after) =
        ctx.state
            .data
            .log_levels
            .set(&ctx.conversation, rank, expires, unix_now());
    let Some(floor) = after.filter(|a| Some(*a) != before) else {
        return Ok(());
    };
    let name = crate::jsonrpc::log_level::LEVELS[usize::from(floor)];
    let params = format!("{{\"level\":\"{name}\"}}");
    let backends: Vec<Arc<Backend>> = ctx
        .view
        .members
        .iter()
        .filter_map(|id| ctx.state.data.backends.get(id))
        .filter(|b| b.lists().capabilities.get("logging").is_some())
        .collect();
    let owner = owner_key(&ctx.conversation).to_string();
    let expires = ctx.session_expires;
    tokio::spawn(async move {
        for b in backends {
            // Each of its sessions: the main one and those of client capability sets.
            for caps in b.session_sets() {
                let owner = crate::backend::isolated::Owner {
                    key: &owner,
                    expires,
                    api_key: None,
                    caps,
                    inbound: None,
                };
                let sent = crate::mcp::subscriptions::upstream_request(
                    &b,
                    owner,
                    Method::LoggingSetLevel,
                    params.as_bytes(),
                    std::time::Duration::from_secs(5),
                )
                .await;
                if let Err(e) = sent {
                    tracing::debug!(backend = %b.name, error = %e, "logging/setLevel not taken");
                }
            }
        }
    });
    Ok(())
}
