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
use crate::proxy::calls::owner_key;
use crate::routing::subscriptions::Holder;
use crate::state::State;
use crate::store::keys::KeyId;
use crate::store::subscriptions::{self, Shared};

/// How long an upstream subscribe made for another replica's client may take.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// Records a session's new subscription for the other replicas (stateless-era clients
/// are not shared: their subscriptions live with their stream).
pub(crate) fn share(state: &Arc<State>, holder: &Holder<'_>, namespace: Option<&str>, uri: &str) {
    let Some(expires) = holder.session_expires else {
        return;
    };
    let row = Shared {
        conversation: holder.conversation.to_string(),
        uri: uri.to_string(),
        namespace: namespace.map(str::to_string),
        key_id: holder.key.to_string(),
        expires,
    };
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = subscriptions::insert(&state.db.pool, &row).await {
            tracing::warn!(error = %e, "could not share a resource subscription with the other replicas");
        }
    });
}

/// Forgets a session's subscription (`uri`), or all of them, for every replica.
pub(crate) fn unshare(state: &Arc<State>, conversation: &str, uri: Option<&str>) {
    let (state, conversation, uri) = (
        state.clone(),
        conversation.to_string(),
        uri.map(str::to_string),
    );
    tokio::spawn(async move {
        if let Err(e) = subscriptions::remove(&state.db.pool, &conversation, uri.as_deref()).await {
            tracing::warn!(error = %e, "could not forget a shared resource subscription");
        }
    });
}

/// A subscription announced by another replica: adopted if this one holds a stream of
/// that session and does not have it yet.
pub fn announced(state: &Arc<State>, row: Shared) {
    if state.subscriptions.is_listening(&row.conversation)
        && !state.subscriptions.has(&row.uri, &row.conversation)
    {
        let state = state.clone();
        tokio::spawn(async move { adopt(&state, row).await });
    }
}

/// A stream of `conversation` opened here: adopts the subscriptions it holds elsewhere.
pub(crate) fn adopt_all(state: &Arc<State>, conversation: &str) {
    let (state, conversation) = (state.clone(), conversation.to_string());
    tokio::spawn(async move {
        match subscriptions::of(&state.db.pool, &conversation).await {
            Ok(rows) => {
                for row in rows {
                    if !state.subscriptions.has(&row.uri, &row.conversation) {
                        adopt(&state, row).await;
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read a session's shared subscriptions"),
        }
    });
}

/// Holds the subscription here and subscribes upstream through this replica.
async fn adopt(state: &Arc<State>, row: Shared) {
    let now = crate::auth::token::unix_now();
    let conversation: Arc<str> = Arc::from(row.conversation.as_str());
    let holder = Holder {
        conversation: &conversation,
        key: &row.key_id,
        session_expires: Some(row.expires),
    };
    if let Err(e) = state.subscriptions.add(&row.uri, &holder, now) {
        tracing::debug!(error = %e, "a shared subscription was not adopted");
        return;
    }
    let backend = {
        let table = state.routing.load();
        table
            .view(row.namespace.as_deref())
            .and_then(|v| v.resource_backend(&row.uri).cloned())
    };
    let Some(backend) = backend else {
        return;
    };
    let id = crate::backend::upstream_id(backend.next_upstream_number());
    let mut body = Vec::with_capacity(row.uri.len() + 96);
    body.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    body.extend_from_slice(&id);
    body.extend_from_slice(b",\"method\":\"resources/subscribe\",\"params\":{\"uri\":");
    body.extend_from_slice(&crate::jsonrpc::frame::json_string(&row.uri));
    body.extend_from_slice(b"}}");
    let owner = Owner {
        key: owner_key(&row.conversation),
        expires: Some(row.expires),
        api_key: KeyId::parse(&row.key_id),
    };
    let sent = tokio::time::timeout(UPSTREAM_TIMEOUT, async {
        let mut answer = backend
            .request(owner, &id, Bytes::from(body), None, None)
            .await
            .map_err(|e| e.to_string())?;
        // Read the answer through, so that the connection goes back to the pool.
        if answer.body.take_whole().is_none() {
            while let Some(chunk) = std::future::poll_fn(|cx| answer.body.poll_chunk(cx)).await {
                chunk?;
            }
        }
        Ok::<(), String>(())
    })
    .await;
    match sent {
        Ok(Ok(())) => {
            tracing::debug!(uri = %row.uri, "adopted a subscription taken by another replica")
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, uri = %row.uri, "could not subscribe upstream for another replica's client")
        }
        Err(_) => {
            tracing::warn!(uri = %row.uri, "an upstream subscribe for another replica's client took too long")
        }
    }
}
