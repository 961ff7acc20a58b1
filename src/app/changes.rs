//! The change listener: one dedicated connection `LISTEN`ing on `metamcp_changes`.
//!
//! Key changes refresh that key's state at once (revocation reaches this process within
//! the notification's latency). Registry changes reload the registry snapshot and turn
//! its difference from the previous one into events. Every 30 s, and after reconnecting,
//! everything is reloaded in full as a safety net for anything missed.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

use crate::base::KeyId;
use crate::observe::events::Audience;
use crate::state::State;
use crate::store::db::{CHANGES_CHANNEL, DbError};

const FULL_REFRESH: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs until the task is aborted, reconnecting with backoff.
pub async fn run(state: Arc<State>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match session(&state, &mut backoff).await {
            Ok(()) => {}
            Err(e) => tracing::warn!(error = %e, "change listener lost the database; reconnecting"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Loads keys, ended sessions and the registry in full (start-up and safety net).
pub async fn full_refresh(state: &State) -> Result<(), DbError> {
    state.auth.reload_all(&state.db.pool).await?;
    if let Some(o) = &state.oauth {
        announce_blocks(state, o.reload_blocks(&state.db.pool).await?);
    }
    state
        .data
        .ended_sessions
        .reload(&state.db.pool, crate::base::unix_now())
        .await?;
    state.reload_pins().await?;
    state.reload_registry().await
}

async fn session(state: &Arc<State>, backoff: &mut Duration) -> Result<(), DbError> {
    let (client, mut connection) = state
        .db
        .pg
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(DbError::Connect)?;
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if tx.send(n.payload().to_string()).is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "listen connection failed");
                    return;
                }
                None => return,
            }
        }
    });
    let result = async {
        client
            .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))
            .await?;
        full_refresh(state).await?;
        *backoff = Duration::from_millis(100);
        tracing::debug!("change listener ready");
        let mut refresh =
            tokio::time::interval_at(tokio::time::Instant::now() + FULL_REFRESH, FULL_REFRESH);
        loop {
            tokio::select! {
                first = rx.recv() => {
                    let Some(first) = first else {
                        return Err(DbError::Task("notification connection closed".into()));
                    };
                    // Take everything that arrived together as one batch.
                    let mut batch = vec![first];
                    while let Ok(more) = rx.try_recv() {
                        batch.push(more);
                    }
                    handle_batch(state, &batch).await?;
                }
                _ = refresh.tick() => full_refresh(state).await?,
            }
        }
    }
    .await;
    driver.abort();
    result
}

async fn handle_batch(state: &Arc<State>, payloads: &[String]) -> Result<(), DbError> {
    let mut keys = BTreeSet::new();
    let mut registry_changed = false;
    let mut blocks_changed = false;
    let mut pins_changed = false;
    for p in payloads {
        let Ok(v) = serde_json::from_str::<Value>(p) else {
            tracing::warn!(payload = %p, "unreadable change notification");
            continue;
        };
        match v["table"].as_str() {
            Some("ended_sessions") => {
                let hash = v["id"].as_str().and_then(|h| {
                    let bytes: Option<Vec<u8>> = (0..h.len())
                        .step_by(2)
                        .map(|i| h.get(i..i + 2).and_then(|p| u8::from_str_radix(p, 16).ok()))
                        .collect();
                    <[u8; 16]>::try_from(bytes?.as_slice()).ok()
                });
                if let (Some(h), Some(exp)) = (hash, v["expires"].as_u64()) {
                    state
                        .data
                        .ended_sessions
                        .insert(h, exp, crate::base::unix_now());
                    // Ended in another process: this one's isolated children for it go.
                    state
                        .data
                        .backends
                        .end_owner(&format!("s:{}", crate::crypto::base64url(&h)));
                }
            }
            Some("api_keys") => {
                if let Some(id) = v["id"].as_str().and_then(KeyId::parse) {
                    keys.insert(id);
                }
            }
            Some("oauth_blocks") => blocks_changed = true,
            Some("tool_pins" | "tool_reviews" | "tool_pinned_servers") => pins_changed = true,
            Some("upstream_tokens") => {
                // Another replica connected, refreshed or removed a backend's account:
                // the next request reads the token again.
                if let Some(id) = v["id"].as_str().and_then(|s| s.parse().ok()) {
                    state.vault.invalidate(&id);
                    if v["op"] == "insert"
                        && let Some(b) = state.data.backends.get(&id)
                    {
                        b.credentials_changed();
                    }
                }
            }
            Some("session_messages") => {
                if let (Some(origin), Some(conversation), Some(message)) = (
                    v["origin"].as_str(),
                    v["conversation"].as_str(),
                    v["message"].as_str(),
                ) {
                    crate::mcp::subscriptions::passed_on(state, origin, conversation, message);
                }
            }
            Some("resource_subscriptions") => {
                let text = |k: &str| v[k].as_str().map(str::to_string);
                if let (Some(conversation), Some(uri)) = (text("conversation"), text("uri")) {
                    crate::mcp::subscriptions::announced(
                        &state.planes,
                        crate::store::subscriptions::Shared {
                            conversation,
                            uri,
                            namespace: text("namespace"),
                            key_id: text("key_id").unwrap_or_default(),
                            expires: v["expires"].as_u64().unwrap_or(0),
                            origin: text("origin").unwrap_or_default(),
                        },
                        v["op"] == "insert",
                    );
                }
            }
            Some(_) => registry_changed = true,
            None => {}
        }
    }
    for id in keys {
        let change = state.auth.reload_key(&state.db.pool, &id).await?;
        if let Some(kind) = change.event_type() {
            tracing::info!(key_id = %id, event = kind, "key changed");
            state.observe.events.publish(
                kind,
                crate::observe::events::fields(json!({"id": id.as_str()})),
                Audience::Admin,
            );
        }
    }
    if pins_changed {
        // Approved, rejected or pinned here or by another replica: the lists follow.
        state.reload_pins().await?;
        state.request_rebuild();
    }
    if registry_changed {
        state.reload_registry().await?;
    }
    if let (true, Some(o)) = (blocks_changed, &state.oauth) {
        announce_blocks(state, o.reload_blocks(&state.db.pool).await?);
    }
    Ok(())
}

/// `oauth.blocked` / `oauth.unblocked` events (admins only) and log lines.
fn announce_blocks(
    state: &State,
    (added, removed): (
        Vec<crate::store::oauth::Block>,
        Vec<crate::store::oauth::Block>,
    ),
) {
    for (kind, list) in [("oauth.blocked", added), ("oauth.unblocked", removed)] {
        for b in list {
            tracing::info!(event = kind, who = b.kind.as_str(), value = %b.value,
                           issuer = b.issuer.as_deref().unwrap_or("(any)"), "OAuth identity");
            state.observe.events.publish(
                kind,
                crate::observe::events::fields(
                    json!({b.kind.as_str(): b.value, "issuer": b.issuer, "reason": b.reason}),
                ),
                Audience::Admin,
            );
        }
    }
}
