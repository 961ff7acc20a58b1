//! Streams to clients: the session's `GET` stream and `subscriptions/listen`
//! (notifications, resource updates, keep-alives); `DELETE` ending a session.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use tokio::sync::mpsc;

use crate::auth::session;
use crate::base::unix_now;
use crate::crypto::base64url;
use crate::http::Body;
use crate::http::names;
use crate::http::{accepted, header_str};
use crate::mcp::conversation::check_session_version;
use crate::mcp::ctx::Ctx;
use crate::mcp::era::listen::Subscription;
use crate::mcp::wire::rpc::{RpcError, code, status_only};

/// How often an idle notification stream gets a comment, so proxies keep it open.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// `GET`: the session's stream for the gateway's own notifications.
pub(crate) async fn get(mut ctx: Ctx, req: Request<Incoming>) -> Response<Body> {
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
        &ctx.state.data.ended_sessions,
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
    if let Err(e) = crate::mcp::admission::charge_rate(&ctx).await {
        return e.response(b"null");
    }
    match listen(&ctx, None).await {
        Ok(r) => r,
        Err(e) => e.response(b"null"),
    }
}

/// How long a listen stream waits for one upstream `resources/subscribe` before its
/// acknowledgement leaves the URI out.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);

/// An SSE stream of list_changed notifications for this endpoint, with keep-alives; or
/// a refusal when the caller holds as many streams as it may (or the gateway does).
/// `subscription`: a 2026 `subscriptions/listen` (acknowledged first, every message
/// tagged, only what it opted into, a graceful end); `None`: a session's `GET` stream.
pub(crate) async fn listen(
    ctx: &Ctx,
    subscription: Option<Subscription>,
) -> Result<Response<Body>, RpcError> {
    let place = ctx
        .state
        .auth
        .limits
        .open_stream(ctx.principal.as_ref().map(|p| &p.key_id))
        .await
        .map_err(|r| crate::mcp::admission::refuse_stream(ctx, &r))?;
    let mut changes = ctx.state.data.list_changes.subscribe();
    let mut updates = ctx.state.data.backends.updates.subscribe();
    let mut messages = ctx.state.data.session_messages.subscribe();
    let mut closing = ctx.state.observe.events.closing();
    let watched = ctx.watched_views();
    let state = ctx.state.clone();
    let conversation = ctx.conversation.clone();
    let listening = ctx.state.data.subscriptions.listening(&ctx.holder());
    // A session's subscriptions taken through other replicas are delivered here too.
    if ctx.session_expires.is_some() {
        crate::mcp::subscriptions::adopt_all(&ctx.state, &ctx.conversation);
    }
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let upstream = subscription.as_ref().map(|s| Upstream {
        view: ctx.view.clone(),
        key: ctx.holder().key.to_string(),
        api_key: ctx.principal.as_ref().map(|p| p.key_id),
        uris: s.uris.clone(),
    });
    tokio::spawn(async move {
        let _listening = listening;
        let _place = place;
        let mut subscription = subscription;
        if let (Some(s), Some(up)) = (subscription.as_mut(), upstream) {
            s.honoured = up.subscribe(&state, &conversation).await;
            if tx.send(s.acknowledgement()).await.is_err() {
                return;
            }
        }
        let mut keepalive =
            tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
        loop {
            let next = tokio::select! {
                c = changes.recv() => match c {
                    Ok(c) if watched.contains(&c.view) => match &subscription {
                        None => c.notification(),
                        Some(s) => match s.list_changed(c.kinds) {
                            Some(n) => n,
                            None => continue,
                        },
                    },
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                },
                u = updates.recv() => match u {
                    Ok(u) => match &subscription {
                        Some(s) => match s.updated(&u.uri) {
                            Some(n) => n,
                            None => continue,
                        },
                        None if state.data.subscriptions.has(&u.uri, &conversation) => {
                            let mut event = BytesMut::with_capacity(u.message.len() + 24);
                            event.extend_from_slice(b"event: message\ndata: ");
                            event.extend_from_slice(&u.message);
                            event.extend_from_slice(b"\n\n");
                            event.freeze()
                        }
                        None => continue,
                    },
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                },
                m = messages.recv() => match m {
                    // Only a session's own GET stream carries them.
                    Ok(m) if subscription.is_none() && m.conversation == conversation => {
                        let mut event = BytesMut::with_capacity(m.message.len() + 24);
                        event.extend_from_slice(b"event: message\ndata: ");
                        event.extend_from_slice(&m.message);
                        event.extend_from_slice(b"\n\n");
                        event.freeze()
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                },
                _ = keepalive.tick() => Bytes::from_static(b": keep-alive\n\n"),
                _ = closing.changed() => {
                    // A graceful end: the listen request's response, then the close.
                    if let Some(s) = &subscription {
                        let _ = tx.try_send(s.end());
                    }
                    return;
                }
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

/// What a listen stream subscribes to upstream before it acknowledges.
struct Upstream {
    view: Arc<crate::routing::View>,
    key: String,
    api_key: Option<crate::base::KeyId>,
    uris: Vec<String>,
}

impl Upstream {
    /// Subscribes to each URI whose owner in the view offers `resources.subscribe`,
    /// within the subscription bounds, all at once; the URIs that took.
    async fn subscribe(
        self,
        state: &Arc<crate::mcp::planes::Planes>,
        conversation: &Arc<str>,
    ) -> HashSet<String> {
        let holder = crate::routing::subscriptions::Holder {
            conversation,
            key: &self.key,
            session_expires: None,
        };
        let mut asked = Vec::new();
        for uri in &self.uris {
            let Some(backend) = self.view.resource_backend(uri) else {
                continue;
            };
            let subscribable = backend.lists().capabilities["resources"]["subscribe"] == true;
            if !subscribable
                || state
                    .data
                    .subscriptions
                    .add(uri, &holder, unix_now())
                    .is_err()
            {
                continue;
            }
            asked.push((uri.clone(), backend.clone()));
        }
        let owner_key = crate::mcp::hop::calls::owner_key(conversation);
        let results = futures_util::future::join_all(asked.iter().map(|(uri, backend)| {
            let owner = crate::backend::isolated::Owner {
                key: owner_key,
                expires: None,
                api_key: self.api_key,
                caps: crate::base::ClientCaps::ALL,
                inbound: None,
            };
            crate::mcp::subscriptions::subscribe_upstream(backend, owner, uri, SUBSCRIBE_TIMEOUT)
        }))
        .await;
        let mut honoured = HashSet::new();
        for ((uri, backend), result) in asked.into_iter().zip(results) {
            match result {
                Ok(()) => {
                    honoured.insert(uri);
                }
                Err(e) => {
                    tracing::info!(backend = %backend.name, uri = %uri, error = %e,
                        "a listen stream's resource subscription was not taken upstream");
                    state.data.subscriptions.remove(&uri, conversation);
                }
            }
        }
        honoured
    }
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
        &ctx.state.data.ended_sessions,
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
        .data
        .ended_sessions
        .end(&ctx.state.db.pool, id, claims.exp, now)
        .await
    {
        Ok(()) => {
            let conversation = format!("s:{}", base64url(&session::hash(id)));
            ctx.state.data.subscriptions.forget(&conversation);
            crate::mcp::subscriptions::forget(&ctx.state, &conversation);
            ctx.state.data.backends.end_owner(&conversation);
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
