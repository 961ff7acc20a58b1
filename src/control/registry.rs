//! `/api/v1/registry/…` (admin): search an MCP registry, install a server from one of
//! its entries, upgrade an installed server (under review), and list the installed
//! servers a newer version waits for. The work is [`crate::registry`]'s; this file
//! maps it to HTTP: a registry's failure is `502`, a refused entry `400`, values the
//! entry needs and nobody gave `400` with every one named in `missing`.

use std::sync::OnceLock;

use super::servers::server_json;
use super::*;
use crate::registry::install::{Install, Upgrade, Upgraded};
use crate::registry::plan::PlanError;
use crate::registry::{Client, RegistryError, registry_of};

/// Registry operations in flight at once, over every admin: each may hold an answer of
/// up to [`crate::registry::MAX_ANSWER`] for up to [`crate::registry::TIMEOUT`] a page.
const IN_FLIGHT: usize = 8;
static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(IN_FLIGHT);

/// A slot for one registry operation; `503` when all are taken (never queued).
fn slot() -> Result<tokio::sync::SemaphorePermit<'static>, ApiError> {
    SLOTS.try_acquire().map_err(|_| {
        ApiError::Unavailable(format!(
            "{IN_FLIGHT} registry requests are in progress; retry when one is done"
        ))
    })
}

/// The registry client, built on first use with the backends' TLS roots.
fn client(state: &State) -> Result<Client, ApiError> {
    static TLS: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if let Some(tls) = TLS.get() {
        return Ok(Client::new(tls.clone()));
    }
    let tls = crate::crypto::tls_client(state.config.backend_ca_file.as_deref())
        .map_err(ApiError::Internal)?;
    Ok(Client::new(TLS.get_or_init(|| tls).clone()))
}

/// A registry failure as an answer.
fn failed(e: RegistryError) -> Result<Response<Body>, ApiError> {
    let message = e.to_string();
    let (status, code, extra) = match e {
        RegistryError::Unreachable { .. } | RegistryError::Garbage { .. } => {
            (StatusCode::BAD_GATEWAY, "registry_error", json!({}))
        }
        RegistryError::Plan(PlanError::Missing(missing)) => {
            let list: Vec<Value> = missing
                .iter()
                .map(|m| json!({"kind": m.kind, "name": m.name}))
                .collect();
            (
                StatusCode::BAD_REQUEST,
                "missing_values",
                json!({"missing": list}),
            )
        }
        RegistryError::Plan(PlanError::Refused(_)) => {
            (StatusCode::BAD_REQUEST, "refused", json!({}))
        }
        RegistryError::Invalid(field, _) => (
            StatusCode::BAD_REQUEST,
            "invalid_request",
            json!({"field": field}),
        ),
        RegistryError::NotFound(m) => return Err(ApiError::NotFound(m)),
        RegistryError::Store(s) => return Err(s.into()),
    };
    let mut body = json!({"error": message, "code": code, "status": status.as_u16()});
    if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), extra) {
        b.extend(extra);
    }
    Ok(json_value(status, &body))
}

/// `GET /api/v1/registry/servers?search=&registry=&cursor=&limit=`.
pub(super) async fn search(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call { state, req, .. } = c;
    let _slot = slot()?;
    let q = query_pairs(req.uri().query())?;
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let limit = match get("limit") {
        None => 30,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=crate::registry::MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::bad_field("limit", "1 to 100"))?,
    };
    if get("search").is_some_and(|s| s.len() > 256) || get("cursor").is_some_and(|s| s.len() > 1024)
    {
        return Err(ApiError::bad_field(
            "search",
            "at most 256 bytes (a cursor 1024)",
        ));
    }
    let registry = match registry_of(get("registry"), &state.config.registry_url) {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    let page = match client(state)?
        .search(&registry, get("search"), get("cursor"), limit)
        .await
    {
        Ok(p) => p,
        Err(e) => return failed(e),
    };
    let servers: Vec<Value> = page.entries.iter().map(|e| e.summary()).collect();
    Ok(json_value(
        StatusCode::OK,
        &json!({"servers": servers, "next_cursor": page.next_cursor, "registry": registry,
                "skipped": page.skipped}),
    ))
}

/// `POST /api/v1/registry/install`: 201 with the server, its `source` set, and the
/// entry's `post_install_instructions` (`null` when it has none).
pub(super) async fn install(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        req,
        principal,
        ..
    } = c;
    let body = json_body(state, req).await?;
    let _slot = slot()?;
    let outcome = match Install::from_json(&body) {
        Ok(r) => {
            crate::registry::install::install(
                &client(state)?,
                &state.control.registry,
                &state.config.registry_url,
                &r,
            )
            .await
        }
        Err(e) => Err(e),
    };
    let (server, instructions) = match outcome {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    changed(state, &principal, "server.install", &server.name);
    applied(state).await;
    tracing::info!(server = %server.name, source = ?server.source, "server installed from a registry");
    let mut out = server_json(state, &server);
    out["post_install_instructions"] = json!(instructions);
    let mut resp = json_value(StatusCode::CREATED, &out);
    if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/mcp/servers/{}", server.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

/// `POST /api/v1/registry/upgrade`: 200 with the server and `upgraded_from`; or, for a
/// version at another origin not approved yet, 200 with the server unchanged,
/// `upgrade_held: true`, `held_reason`, `held_version` and `held_origin`.
pub(super) async fn upgrade(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        req,
        principal,
        ..
    } = c;
    let body = json_body(state, req).await?;
    let _slot = slot()?;
    let outcome = match Upgrade::from_json(&body) {
        Ok(r) => {
            crate::registry::install::upgrade(&client(state)?, &state.control.registry, &r).await
        }
        Err(e) => Err(e),
    };
    let (server, from) = match outcome {
        Ok(Upgraded::Done(server, from)) => (server, from),
        Ok(Upgraded::Held {
            server,
            version,
            origin,
            reason,
        }) => {
            tracing::info!(server = %server.name, version = %version, origin = %origin,
                "a registry upgrade to another origin is held for an admin's approval");
            let mut out = server_json(state, &server);
            out["upgrade_held"] = json!(true);
            out["held_reason"] = json!(reason);
            out["held_version"] = json!(version);
            out["held_origin"] = json!(origin);
            return Ok(json_value(StatusCode::OK, &out));
        }
        Err(e) => return failed(e),
    };
    changed(state, &principal, "server.upgrade", &server.name);
    applied(state).await;
    tracing::info!(server = %server.name, from = %from, source = ?server.source,
        "server upgraded from its registry; its changed definitions are held for review");
    let mut out = server_json(state, &server);
    out["upgraded_from"] = json!(from);
    Ok(json_value(StatusCode::OK, &out))
}

/// `GET /api/v1/registry/outdated`.
pub(super) async fn outdated(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let state = c.state;
    let _slot = slot()?;
    match crate::registry::install::outdated(&client(state)?, &state.control.registry).await {
        Ok(list) => Ok(json_value(StatusCode::OK, &json!({"servers": list}))),
        Err(e) => failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_operations_are_bounded_and_never_queued() {
        let held: Vec<_> = (0..IN_FLIGHT).map(|_| slot().unwrap()).collect();
        let refused = slot().unwrap_err();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        drop(held);
        assert!(slot().is_ok());
    }
}
