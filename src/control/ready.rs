//! `GET /ready`: the process can serve (its database answers, keys and registry are
//! loaded, it is not draining). `?servers` also waits for the registered servers: ready
//! once every active one has settled (running, or failed with its `last_error`), so a
//! deploy can wait for stdio children to be up before it sends traffic. `&wait=S` holds
//! the answer up to S seconds for that (a longer wait is cut to 30 s); without it, it answers at once.

use std::time::Duration;

use hyper::{Response, StatusCode};
use serde_json::json;

use crate::auth::limits::lease::Mode;
use crate::backend::Status;
use crate::http::{ApiError, Body, json_value};
use crate::state::State;

/// The longest `wait` a request may ask for.
const MAX_WAIT: u64 = 30;
/// How often a waiting request looks again.
const LOOK_EVERY: Duration = Duration::from_millis(100);

pub(super) async fn ready(
    state: &State,
    query: &[(String, String)],
) -> Result<Response<Body>, ApiError> {
    if state.is_draining() {
        return Err(ApiError::Unavailable(
            "draining: this process is shutting down".into(),
        ));
    }
    let unreachable = |e: &dyn std::fmt::Display| {
        let limits = match state.auth.limits.mode() {
            Mode::Local(n) => format!(
                "; key limits are kept by this process at 1/{n} of each (the replicas it last saw), daily quotas only from the calls it had reserved, until it answers"
            ),
            Mode::Shared => String::new(),
        };
        ApiError::Unavailable(format!("database unreachable: {e}{limits}"))
    };
    let client = state.db.pool.get().await.map_err(|e| unreachable(&e))?;
    client
        .simple_query("SELECT 1")
        .await
        .map_err(|e| unreachable(&e))?;
    drop(client);
    if !state.is_ready() {
        return Err(ApiError::Unavailable(
            "keys and registry not loaded yet".into(),
        ));
    }
    if !query.iter().any(|(k, _)| k == "servers") {
        return Ok(json_value(
            StatusCode::OK,
            &json!({"status": "ready", "limits": limits(state)}),
        ));
    }
    let wait = match query.iter().find(|(k, _)| k == "wait") {
        Some((_, v)) => v
            .parse::<u64>()
            .map(|s| s.min(MAX_WAIT))
            .map_err(|_| ApiError::bad_field("wait", "whole seconds (at most 30 are waited)"))?,
        None => 0,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        let starting = starting(state);
        if starting.is_empty() {
            let failed: Vec<String> = state
                .data
                .backends
                .all()
                .into_iter()
                .filter(|b| b.status() == Status::Failed)
                .map(|b| b.name.clone())
                .collect();
            return Ok(json_value(
                StatusCode::OK,
                &json!({"status": "ready", "servers": "settled", "failed": failed}),
            ));
        }
        if tokio::time::Instant::now() >= deadline {
            let mut resp = json_value(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"status": "starting", "starting": starting,
                        "error": "registered servers are still starting"}),
            );
            resp.headers_mut().insert(
                hyper::header::RETRY_AFTER,
                hyper::header::HeaderValue::from(1),
            );
            return Ok(resp);
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}

/// The active servers that have not settled yet: no backend for them yet, their first
/// start still under way, or connected but not yet served by the routing table (what
/// REST reads `starting`). A server that cannot be started at all (its configuration)
/// has settled too: it reads `failed`.
fn starting(state: &State) -> Vec<String> {
    let snapshot = state.snapshot();
    let mut starting: Vec<String> = snapshot
        .servers
        .iter()
        .filter(|s| s.is_active && state.server_status(s) == Status::Starting.as_str())
        .map(|s| s.name.clone())
        .collect();
    starting.sort();
    starting
}

/// Where key limits are kept: `{"mode": "shared", "replicas": N}`, or `"local"` with the
/// share and since when (a degraded replica).
fn limits(state: &State) -> serde_json::Value {
    let Some(shared) = state.auth.limits.shared() else {
        return json!({"mode": "local", "share": 1});
    };
    match shared.mode() {
        Mode::Shared => json!({"mode": "shared", "replicas": shared.replicas()}),
        Mode::Local(n) => json!({
            "mode": "local",
            "share": format!("1/{n}"),
            "since_unix_ms": shared.degraded_since(),
        }),
    }
}
