//! Streams to clients: the session's `GET` stream and `subscriptions/listen`
//! (notifications, resource updates, keep-alives); `DELETE` ending a session.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use tokio::sync::mpsc;

use crate::auth::session;
use crate::auth::token::unix_now;
use crate::crypto::base64url;
use crate::http::Body;
use crate::http::names;
use crate::mcp::admission::check_session_version;
use crate::mcp::{Ctx, accepted, header_str};
use crate::proxy::rpc::{RpcError, code, status_only};

/// How often an idle notification stream gets a comment, so proxies keep it open.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// `GET`: the session's stream for the gateway's own notifications.
pub(crate) fn get(mut ctx: Ctx, req: Request<Incoming>) -> Response<Body> {
    if !accepted(req.headers()).sse {
        return RpcError::new(
            StatusCode::NOT_ACCEPTABLE,
            code::INVALID_REQUEST,
            "Accept must list text/event-stream",
        )
        .response(b"null");
    }
    let Some(id) = header_str(req.headers(), names::MCP_SESSION_ID) else {
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
    if let Err(e) = check_session_version(req.headers(), &claims.v) {
        return e.response(b"null");
    }
    ctx.conversation = Arc::from(format!("s:{}", base64url(&session::hash(id))));
    ctx.session_expires = Some(claims.exp);
    // Opening a stream is a request (it spends the key's rate), and the stream holds a
    // place among the key's streams for as long as it is open.
    if let Err(e) = crate::mcp::dispatch::charge_rate(&ctx) {
        return e.response(b"null");
    }
    match listen(&ctx) {
        Ok(r) => r,
        Err(e) => e.response(b"null"),
    }
}

/// An SSE stream of list_changed notifications for this endpoint, with keep-alives; or
/// a refusal when the caller holds as many streams as it may (or the gateway does).
pub(crate) fn listen(ctx: &Ctx) -> Result<Response<Body>, RpcError> {
    let place = ctx
        .state
        .auth
        .limits
        .open_stream(ctx.principal.as_ref().map(|p| &p.key_id))
        .map_err(|r| crate::mcp::dispatch::refuse_stream(ctx, &r))?;
    let mut changes = ctx.state.list_changes.subscribe();
    let mut updates = ctx.state.backends.updates.subscribe();
    let mut closing = ctx.state.events.closing();
    let watched = ctx.watched_views();
    let state = ctx.state.clone();
    let conversation = ctx.conversation.clone();
    let listening = ctx.state.subscriptions.listening(&ctx.holder());
    // A session's subscriptions taken through other replicas are delivered here too.
    if ctx.session_expires.is_some() {
        crate::mcp::shared::adopt_all(&ctx.state, &ctx.conversation);
    }
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let _listening = listening;
        let _place = place;
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
    Ok(r)
}

/// `DELETE`: ends the session everywhere.
pub(crate) async fn delete(ctx: Ctx, req: Request<Incoming>) -> Response<Body> {
    let Some(id) = header_str(req.headers(), names::MCP_SESSION_ID) else {
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
    if let Err(e) = check_session_version(req.headers(), &claims.v) {
        return e.response(b"null");
    }
    match ctx
        .state
        .ended_sessions
        .end(&ctx.state.db.pool, id, claims.exp, now)
        .await
    {
        Ok(()) => {
            let conversation = format!("s:{}", base64url(&session::hash(id)));
            ctx.state.subscriptions.forget(&conversation);
            crate::mcp::shared::forget(&ctx.state, &conversation);
            ctx.state.backends.end_owner(&conversation);
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
