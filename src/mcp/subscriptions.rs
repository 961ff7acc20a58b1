//! Resource subscriptions across replicas. A session's `resources/subscribe` taken here
//! is also written to PostgreSQL (`store::subscriptions`), which announces it. The
//! replica that holds the session's GET stream adopts it: it records it locally and
//! subscribes upstream on its own backend connection, so that the backend's
//! `notifications/resources/updated` reach that stream. A stream opening adopts what the
//! session already holds.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::backend::isolated::Owner;
use crate::base::KeyId;
use crate::jsonrpc::methods::Method;
use crate::mcp::hop::calls::owner_key;
use crate::mcp::planes::Planes;
use crate::routing::subscriptions::Holder;
use crate::store::subscriptions::{self, Shared};

/// How long an upstream subscribe made for another replica's client may take.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a subscription's row may take to be written.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// This process, as the origin of the subscriptions it writes (it ignores their
/// announcements: its own table already has them).
fn origin() -> &'static str {
    static ORIGIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ORIGIN.get_or_init(|| {
        let mut b = [0u8; 8];
        crate::crypto::random_bytes(&mut b);
        crate::crypto::to_hex(&b)
    })
}

/// Writes a session's `resources/subscribe` or `resources/unsubscribe` for the other
/// replicas, before the request goes upstream (so that a subscribe and the unsubscribe
/// after it reach the table in that order). Stateless-era clients are not shared: their
/// subscriptions live with their stream. A database failure is logged: the call itself
/// goes on, served by this replica.
pub(crate) async fn record(ctx: &crate::mcp::ctx::Ctx, method: Method, uri: &str) {
    let Some(expires) = ctx.session_expires else {
        return;
    };
    let pool = &ctx.state.db.pool;
    let written = match method {
        Method::ResourcesSubscribe => {
            let row = Shared {
                conversation: ctx.conversation.to_string(),
                uri: uri.to_string(),
                namespace: ctx.namespace.clone(),
                key_id: ctx.holder().key.to_string(),
                expires,
                origin: origin().to_string(),
            };
            tokio::time::timeout(WRITE_TIMEOUT, subscriptions::insert(pool, &row)).await
        }
        Method::ResourcesUnsubscribe => {
            tokio::time::timeout(
                WRITE_TIMEOUT,
                subscriptions::remove(pool, &ctx.conversation, Some(uri)),
            )
            .await
        }
        _ => return,
    };
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "could not share a resource subscription with the other replicas")
        }
        Err(_) => {
            tracing::warn!("sharing a resource subscription with the other replicas took too long")
        }
    }
}

/// Forgets every subscription of an ended session, for every replica.
pub(crate) fn forget(state: &Arc<Planes>, conversation: &str) {
    let (state, conversation) = (state.clone(), conversation.to_string());
    tokio::spawn(async move {
        if let Err(e) = subscriptions::remove(&state.db.pool, &conversation, None).await {
            tracing::warn!(error = %e, "could not forget an ended session's subscriptions");
        }
    });
}

/// A subscription another replica took (`Some`) or dropped (`None` row, with its
/// conversation and uri): adopted if this replica holds a stream of that session;
/// dropped here too.
pub fn announced(state: &Arc<Planes>, row: Shared, inserted: bool) {
    if row.origin == origin() {
        return;
    }
    if !inserted {
        state.data.subscriptions.remove(&row.uri, &row.conversation);
        return;
    }
    if state.data.subscriptions.is_listening(&row.conversation)
        && !state.data.subscriptions.has(&row.uri, &row.conversation)
    {
        let state = state.clone();
        tokio::spawn(async move { adopt(&state, row).await });
    }
}

/// A stream of `conversation` opened here: adopts the subscriptions it holds elsewhere.
pub(crate) fn adopt_all(state: &Arc<Planes>, conversation: &str) {
    let (state, conversation) = (state.clone(), conversation.to_string());
    tokio::spawn(async move {
        match subscriptions::of(&state.db.pool, &conversation).await {
            Ok(rows) => {
                for row in rows {
                    if !state.data.subscriptions.has(&row.uri, &row.conversation) {
                        adopt(&state, row).await;
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read a session's shared subscriptions"),
        }
    });
}

/// Holds the subscription here and subscribes upstream through this replica.
async fn adopt(state: &Arc<Planes>, row: Shared) {
    let now = crate::base::unix_now();
    let conversation: Arc<str> = Arc::from(row.conversation.as_str());
    let holder = Holder {
        conversation: &conversation,
        key: &row.key_id,
        session_expires: Some(row.expires),
    };
    if let Err(e) = state.data.subscriptions.add(&row.uri, &holder, now) {
        tracing::debug!(error = %e, "a shared subscription was not adopted");
        return;
    }
    let backend = {
        let table = state.data.routing.load();
        table
            .view(row.namespace.as_deref())
            .and_then(|v| v.resource_backend(&row.uri).cloned())
    };
    let Some(backend) = backend else {
        return;
    };
    let owner = Owner {
        key: owner_key(&row.conversation),
        expires: Some(row.expires),
        api_key: KeyId::parse(&row.key_id),
        caps: crate::base::ClientCaps::ALL,
        inbound: None,
    };
    let sent = subscribe_upstream(&backend, owner, &row.uri, UPSTREAM_TIMEOUT).await;
    match sent {
        Ok(()) => {
            tracing::debug!(uri = %row.uri, "adopted a subscription taken by another replica")
        }
        Err(e) => {
            tracing::warn!(error = %e, uri = %row.uri, "could not subscribe upstream for another replica's client")
        }
    }
}

/// Sends `resources/subscribe` for `uri` to `backend` on behalf of `owner`, within
/// `timeout`; the answer is read through (so the connection goes back to its pool) and
/// a JSON-RPC error in it is a failure.
pub(crate) async fn subscribe_upstream(
    backend: &crate::backend::Backend,
    owner: Owner<'_>,
    uri: &str,
    timeout: Duration,
) -> Result<(), String> {
    let mut params = Vec::with_capacity(uri.len() + 16);
    params.extend_from_slice(b"{\"uri\":");
    params.extend_from_slice(&crate::jsonrpc::frame::json_string(uri));
    params.extend_from_slice(b"}");
    upstream_request(backend, owner, Method::ResourcesSubscribe, &params, timeout).await
}

/// Sends the gateway's own request (`method`, `params` a JSON object) to `backend` and
/// waits for its answer: an error answer, or none within `timeout`, is the error.
pub(crate) async fn upstream_request(
    backend: &crate::backend::Backend,
    owner: Owner<'_>,
    method: Method,
    params: &[u8],
    timeout: Duration,
) -> Result<(), String> {
    let id = crate::backend::upstream_id(backend.next_upstream_number());
    let mut body = Vec::with_capacity(params.len() + 96);
    body.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    body.extend_from_slice(&id);
    body.extend_from_slice(b",\"method\":");
    body.extend_from_slice(&crate::jsonrpc::frame::json_string(method.as_str()));
    body.extend_from_slice(b",\"params\":");
    body.extend_from_slice(params);
    body.extend_from_slice(b"}");
    let exchange = async {
        let mut answer = backend
            .request(owner, &id, Bytes::from(body), true, None, None)
            .await
            .map_err(|e| e.to_string())?;
        let mut whole = Vec::new();
        match answer.body.take_whole() {
            Some(b) => whole.extend_from_slice(&b),
            None => {
                while let Some(chunk) = std::future::poll_fn(|cx| answer.body.poll_chunk(cx)).await
                {
                    let chunk = chunk?;
                    if whole.len() < 64 * 1024 {
                        whole.extend_from_slice(&chunk);
                    }
                }
            }
        }
        if memchr::memmem::find(&whole, b"\"error\"").is_some()
            && memchr::memmem::find(&whole, b"\"result\"").is_none()
        {
            return Err(format!(
                "the backend refused: {}",
                String::from_utf8_lossy(&whole[..whole.len().min(200)])
            ));
        }
        Ok::<(), String>(())
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

/// Delivers backends' messages for one session ([`crate::backend::Notice`]) to the
/// session's stream: on this replica when it holds the stream, else passed to every
/// replica through the database (the one holding it delivers; they are optional
/// notifications, so nobody holding it means nobody gets it).
pub async fn deliver_notices(state: std::sync::Weak<Planes>) {
    let Some(mut rx) = state.upgrade().map(|s| s.data.backends.notices.subscribe()) else {
        return;
    };
    loop {
        let notice = match rx.recv().await {
            Ok(n) => n,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    lost = n,
                    "backend notices came faster than they were delivered"
                );
                continue;
            }
            Err(_) => return,
        };
        let Some(state) = state.upgrade() else { return };
        if state.data.subscriptions.is_listening(&notice.conversation) {
            let _ = state.data.session_messages.send(notice);
            continue;
        }
        let announced = tokio::time::timeout(
            WRITE_TIMEOUT,
            crate::store::tasks::announce(
                &state.db.pool,
                origin(),
                &notice.conversation,
                &notice.message,
            ),
        )
        .await;
        if !matches!(announced, Ok(Ok(()))) {
            tracing::debug!("a session message could not be passed to the other replicas");
        }
    }
}

/// A session message another replica passed on: delivered when this one holds the
/// session's stream.
pub fn passed_on(state: &Planes, origin_of: &str, conversation: &str, message: &str) {
    if origin_of == origin() || !state.data.subscriptions.is_listening(conversation) {
        return;
    }
    let _ = state.data.session_messages.send(crate::backend::Notice {
        backend: uuid::Uuid::nil(),
        conversation: Arc::from(conversation),
        message: Bytes::copy_from_slice(message.as_bytes()),
    });
}
