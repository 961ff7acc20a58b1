//! Upstream credentials over REST: an admin starts the authorization of a server's
//! account (`POST /api/v1/mcp/servers/{id}/authorize`), the user's browser comes back to
//! `GET /oauth/callback`, and authorization servers read the gateway's client metadata
//! document at `GET /oauth/client-metadata.json`.

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde_json::json;

use crate::http::{ApiError, Body, json_value};
use crate::state::State;
use crate::vault::VaultError;

impl From<VaultError> for ApiError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::NotOAuth(_) => ApiError::BadRequest {
                field: Some("auth".into()),
                message: e.to_string(),
            },
            VaultError::Discovery(m) => {
                ApiError::Unavailable(format!("the server's authorization cannot be started: {m}"))
            }
            VaultError::UnknownState | VaultError::Denied(_) => ApiError::BadRequest {
                field: None,
                message: e.to_string(),
            },
            VaultError::Busy => ApiError::OverLimit {
                message: e.to_string(),
                retry_after: 60,
            },
            VaultError::NoPublicUrl => ApiError::Unavailable(e.to_string()),
            VaultError::Unauthorized { .. } => ApiError::Unavailable(e.to_string()),
            VaultError::Db(m) => ApiError::Unavailable(format!("database: {m}")),
        }
    }
}

/// The gateway's address as the admin reached it (when `METAMCP_PUBLIC_URL` is unset).
fn reached_at(req: &Request<Incoming>) -> Option<String> {
    let host = req.headers().get(header::HOST)?.to_str().ok()?;
    (!host.is_empty() && host.bytes().all(|b| b.is_ascii_graphic()) && !host.contains('/'))
        .then(|| format!("http://{host}"))
}

/// `POST /api/v1/mcp/servers/{id}/authorize`: the URL to open, valid 10 minutes.
pub async fn authorize(
    state: &State,
    id: &str,
    req: &Request<Incoming>,
    admin: Option<&crate::auth::Principal>,
) -> Result<Response<Body>, ApiError> {
    let server = state.registry.get_server(id).await?;
    if server.auth.per_caller() {
        return Err(ApiError::BadRequest {
            field: Some("auth".into()),
            message: format!(
                "server {} connects each caller's own account: a caller connects theirs with \
                 POST /api/v1/me/connections/{}, or when a call asks them to",
                server.name, server.name
            ),
        });
    }
    let redirect = state.vault.redirect_uri(reached_at(req).as_deref())?;
    let by = admin.map(|p| p.key_id.as_str().to_string());
    let url = state.vault.begin(&server, "shared", &redirect, by).await?;
    tracing::info!(server = %server.name, "upstream authorization started");
    Ok(started(&server, &url, &redirect))
}

fn started(server: &crate::model::Server, url: &str, redirect: &str) -> Response<Body> {
    json_value(
        StatusCode::OK,
        &json!({"server": server.name, "authorization_url": url, "redirect_uri": redirect,
                "expires_in": crate::vault::PENDING_TTL_SECS}),
    )
}

/// `POST /api/v1/me/connections/{server}`: the URL at which the caller connects their
/// own account with a per-caller server (valid 10 minutes). The callback's address is
/// always `METAMCP_PUBLIC_URL`'s: a caller's request never chooses where codes go.
pub async fn connect(
    state: &State,
    who: &crate::auth::Principal,
    server: &crate::model::Server,
) -> Result<Response<Body>, ApiError> {
    if !server.auth.per_caller() {
        return Err(ApiError::BadRequest {
            field: Some("auth".into()),
            message: format!(
                "server {} does not connect each caller's own account (its auth is not \
                 oauth with principal \"caller\")",
                server.name
            ),
        });
    }
    let redirect = state.vault.redirect_uri(None)?;
    let principal = crate::vault::principal_of(server, Some(&who.key_id))?;
    let url = state
        .vault
        .begin(
            server,
            &principal,
            &redirect,
            Some(who.key_id.as_str().to_string()),
        )
        .await?;
    tracing::info!(server = %server.name, "a caller's upstream authorization started");
    Ok(started(server, &url, &redirect))
}

/// `GET /oauth/callback`: finishes the authorization the `state` names, and says so in
/// a page the user reads.
pub async fn callback(state: &State, req: &Request<Incoming>) -> Response<Body> {
    let query = req.uri().query().unwrap_or_default();
    let pairs = crate::vault::form::pairs(query).unwrap_or_default();
    let (status, text) = match state.vault.finish(&pairs).await {
        Ok(done) => {
            if let Some(b) = state.backends.get(&done.server_id) {
                b.credentials_changed();
            }
            // Who connected it: the admin who started the authorization, or the caller
            // whose own account it is.
            let name = state
                .snapshot()
                .servers
                .iter()
                .find(|s| s.id == done.server_id)
                .map(|s| s.name.clone())
                .unwrap_or_default();
            if let Some(key) = done
                .started_by
                .as_deref()
                .and_then(crate::store::keys::KeyId::parse)
            {
                state.audit.record(crate::observe::audit::Entry::change(
                    key,
                    "server.connect",
                    &name,
                ));
            }
            tracing::info!(server = %name, principal = %done.principal, "upstream account connected");
            (
                StatusCode::OK,
                format!("Connected: {}. You can close this window.", escape(&name)),
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "upstream authorization callback refused");
            let status = match e {
                VaultError::Db(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            (status, format!("Not connected: {}", escape(&e.to_string())))
        }
    };
    let page = format!("<!doctype html><meta charset=utf-8><title>metamcp</title><p>{text}</p>\n");
    let mut resp = Response::new(Body::full(page));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// `GET /oauth/client-metadata.json`: who the gateway is as an OAuth client, for
/// authorization servers that take a document's URL as a client id.
pub fn client_metadata(state: &State) -> Result<Response<Body>, ApiError> {
    let public = state.config.public_url.as_deref().ok_or_else(|| {
        ApiError::NotFound(
            "METAMCP_PUBLIC_URL is unset: this gateway has no public client id".into(),
        )
    })?;
    Ok(json_value(
        StatusCode::OK,
        &json!({
            "client_id": format!("{public}/oauth/client-metadata.json"),
            "client_name": "metamcp",
            "client_uri": public,
            "redirect_uris": [format!("{public}/oauth/callback")],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }),
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /api/v1/me/connections`: the accounts the gateway holds for the caller. An
/// admin sees every one (`?server=NAME` for one server's, `?key=ID` for one key's),
/// shared accounts included.
pub async fn connections(
    state: &State,
    who: &crate::auth::Principal,
    query: &[(String, String)],
) -> Result<Response<Body>, ApiError> {
    let server = match query.iter().find(|(k, _)| k == "server") {
        Some((_, name)) => Some(state.registry.get_server(name).await?.id),
        None => None,
    };
    let mine = format!("key:{}", who.key_id.as_str());
    let key = query
        .iter()
        .find(|(k, _)| k == "key")
        .map(|(_, v)| format!("key:{v}"));
    let list: Vec<serde_json::Value> = state
        .vault
        .connections(server)
        .await?
        .into_iter()
        .filter(|c| who.is_admin() || c["principal"] == mine.as_str())
        .filter(|c| key.as_ref().is_none_or(|k| c["principal"] == k.as_str()))
        .collect();
    Ok(json_value(StatusCode::OK, &json!({"connections": list})))
}

/// `DELETE /api/v1/me/connections/{server}`: ends the caller's connection with the
/// server, revoked at its authorization server when that offers revocation. An admin
/// ends a shared account's, or a caller's with `?key=ID`.
pub async fn disconnect(
    state: &State,
    who: &crate::auth::Principal,
    server: &str,
    query: &[(String, String)],
) -> Result<Response<Body>, ApiError> {
    let server = state.registry.get_server(server).await?;
    let key = query.iter().find(|(k, _)| k == "key").map(|(_, v)| v);
    let principal = match key {
        Some(k) if who.is_admin() => {
            let k = crate::store::keys::KeyId::parse(k).ok_or_else(|| ApiError::BadRequest {
                field: Some("key".into()),
                message: "must be a key id (16 hex digits)".into(),
            })?;
            format!("key:{}", k.as_str())
        }
        Some(_) => {
            return Err(ApiError::Forbidden(
                "only an admin ends another key's connection".into(),
            ));
        }
        None if server.auth.per_caller() || !who.is_admin() => {
            format!("key:{}", who.key_id.as_str())
        }
        None => "shared".to_string(),
    };
    if !state.vault.revoke(&server, &principal).await? {
        return Err(ApiError::NotFound(format!(
            "no connection with server {:?}",
            server.name
        )));
    }
    if let Some(b) = state.backends.get(&server.id) {
        b.credentials_changed();
    }
    tracing::info!(server = %server.name, principal = %principal, "upstream account disconnected");
    state.audit.record(crate::observe::audit::Entry::change(
        who.key_id,
        "server.disconnect",
        &server.name,
    ));
    Ok(crate::http::empty(StatusCode::NO_CONTENT))
}
