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
    let server = state.control.registry.get_server(id).await?;
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

/// A server the caller may reach (a key limited to namespaces reaches theirs only).
async fn reachable(
    state: &State,
    who: &crate::auth::Principal,
    name: &str,
) -> Result<crate::model::Server, ApiError> {
    let server = state.control.registry.get_server(name).await?;
    if let Some(v) = super::servers::visible_servers(state, who).await?
        && !v.iter().any(|n| n.eq_ignore_ascii_case(&server.name))
    {
        return Err(ApiError::NotFound(format!("no server {name:?}")));
    }
    Ok(server)
}

/// `POST /api/v1/me/connections/{server}`: the page at which the caller connects their
/// own account with a per-caller server, or sets their own secret for it (valid 10
/// minutes). The callback's address is always `METAMCP_PUBLIC_URL`'s: a caller's
/// request never chooses where codes go.
pub async fn connect(
    state: &State,
    who: &crate::auth::Principal,
    name: &str,
) -> Result<Response<Body>, ApiError> {
    let server = reachable(state, who, name).await?;
    if !server.per_caller() {
        return Err(ApiError::BadRequest {
            field: Some("auth".into()),
            message: format!(
                "server {} does not take each caller's own account (its auth is not oauth \
                 with principal \"caller\", and its headers hold no {{{{caller.secret}}}})",
                server.name
            ),
        });
    }
    if matches!(
        server.auth,
        crate::model::auth::ServerAuth::TokenExchange(_)
    ) {
        return Err(ApiError::BadRequest {
            field: Some("auth".into()),
            message: format!(
                "server {} has nothing to connect: each call's own OAuth access token is \
                 exchanged for one of its own",
                server.name
            ),
        });
    }
    let principal = crate::vault::principal_of(&server, Some(&who.account_key()))?;
    let by = Some(who.key_id.as_str().to_string());
    let (url, redirect) = if server.takes_caller_secret() {
        let url = state.vault.begin_secret(&server, &principal, by).await?;
        (url.clone(), url)
    } else {
        let redirect = state.vault.redirect_uri(None)?;
        let url = state
            .vault
            .begin(&server, &principal, &redirect, by)
            .await?;
        (url, redirect)
    };
    tracing::info!(server = %server.name, "a caller's upstream connection started");
    Ok(started(&server, &url, &redirect))
}

/// `PUT /api/v1/me/connections/{server}` `{"secret": "…"}`: sets the caller's own
/// secret for a server whose headers take `{{caller.secret}}`.
pub async fn set_secret(
    state: &State,
    who: &crate::auth::Principal,
    name: &str,
    body: &serde_json::Value,
) -> Result<Response<Body>, ApiError> {
    let server = reachable(state, who, name).await?;
    if !server.takes_caller_secret() {
        return Err(ApiError::BadRequest {
            field: Some("secret".into()),
            message: format!(
                "server {}'s headers hold no {{{{caller.secret}}}}: it takes no secret of yours",
                server.name
            ),
        });
    }
    let secret = body["secret"]
        .as_str()
        .ok_or_else(|| ApiError::BadRequest {
            field: Some("secret".into()),
            message: "is required, a string".into(),
        })?;
    let principal = crate::vault::principal_of(&server, Some(&who.account_key()))?;
    state
        .vault
        .store_secret(server.id, &principal, secret)
        .await
        .map_err(|e| match e {
            VaultError::Denied(m) => ApiError::BadRequest {
                field: Some("secret".into()),
                message: m,
            },
            e => e.into(),
        })?;
    let _ = connected(state, server.id, Some(who.key_id));
    Ok(crate::http::empty(StatusCode::NO_CONTENT))
}

/// An account was connected: every backend of the server reads it again, and the
/// audit trail says who. The server's name.
fn connected(state: &State, server: uuid::Uuid, by: Option<crate::base::KeyId>) -> String {
    if let Some(b) = state.data.backends.get(&server) {
        b.credentials_changed();
    }
    let name = state
        .snapshot()
        .servers
        .iter()
        .find(|s| s.id == server)
        .map(|s| s.name.clone())
        .unwrap_or_default();
    if let Some(key) = by {
        state
            .observe
            .audit
            .record(crate::observe::audit::Entry::change(
                key,
                "server.connect",
                &name,
            ));
    }
    tracing::info!(server = %name, "upstream account connected");
    name
}

/// A page for a person: its text, as HTML that loads nothing and is never cached.
fn page(status: StatusCode, html: String) -> Response<Body> {
    let page = format!("<!doctype html><meta charset=utf-8><title>metamcp</title>{html}\n");
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
    h.insert(
        header::HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static("default-src 'none'; form-action 'self'; frame-ancestors 'none'"),
    );
    resp
}

/// `GET /oauth/secret?state=…`: the form where a caller sets their secret.
pub async fn secret_page(state: &State, req: &Request<Incoming>) -> Response<Body> {
    let query = req.uri().query().unwrap_or_default();
    let pairs = crate::vault::form::pairs(query).unwrap_or_default();
    let asked = pairs.iter().find(|(k, _)| k == "state").map(|(_, v)| v);
    let server = match asked {
        Some(s) => state.vault.secret_page(s).await,
        None => Err(VaultError::UnknownState),
    };
    let name = server.ok().and_then(|id| {
        state
            .snapshot()
            .servers
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.name.clone())
    });
    match (name, asked) {
        (Some(name), Some(s)) => page(
            StatusCode::OK,
            format!(
                "<p>Your secret for {}:</p><form method=post action=/oauth/secret>\
                 <input type=hidden name=state value=\"{}\">\
                 <input type=password name=secret autocomplete=off required>\
                 <button>Save</button></form>",
                escape(&name),
                escape(s)
            ),
        ),
        _ => page(
            StatusCode::BAD_REQUEST,
            "<p>This page is unknown, used or expired.</p>".into(),
        ),
    }
}

/// `POST /oauth/secret` (a form: `state`, `secret`): sets it, once.
pub async fn secret_save(state: &State, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "<p>Send the page's form.</p>".into(),
        );
    }
    let bytes = match crate::http::read_body(body, &parts.headers, &state.config).await {
        Ok(b) if b.len() <= 4 * crate::model::auth::MAX_CALLER_SECRET => b,
        _ => {
            return page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "<p>That is too long.</p>".into(),
            );
        }
    };
    let pairs = crate::vault::form::pairs(&String::from_utf8_lossy(&bytes)).unwrap_or_default();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let saved = match (get("state"), get("secret")) {
        (Some(s), Some(secret)) => state.vault.finish_secret(s, secret).await,
        _ => Err(VaultError::UnknownState),
    };
    outcome(state, saved, "Saved", "Not saved")
}

/// The page that ends a connection's flow: `ok` and the server's name, or `not` and why.
fn outcome(
    state: &State,
    result: Result<crate::vault::Connected, VaultError>,
    ok: &str,
    not: &str,
) -> Response<Body> {
    match result {
        Ok(done) => {
            // Who connected it: the admin who started the authorization, or the caller
            // whose own account it is.
            let by = done
                .started_by
                .as_deref()
                .and_then(crate::base::KeyId::parse);
            let name = connected(state, done.server_id, by);
            page(
                StatusCode::OK,
                format!("<p>{ok}: {}. You can close this window.</p>", escape(&name)),
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "an upstream connection's page refused");
            let status = match e {
                VaultError::Db(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            page(status, format!("<p>{not}: {}</p>", escape(&e.to_string())))
        }
    }
}

/// `GET /oauth/callback`: finishes the authorization the `state` names, and says so in
/// a page the user reads.
pub async fn callback(state: &State, req: &Request<Incoming>) -> Response<Body> {
    let query = req.uri().query().unwrap_or_default();
    let pairs = crate::vault::form::pairs(query).unwrap_or_default();
    outcome(
        state,
        state.vault.finish(&pairs).await,
        "Connected",
        "Not connected",
    )
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
        // Out of the caller's reach reads as not there (no names leak).
        Some((_, name)) => Some(reachable(state, who, name).await?.id),
        None => None,
    };
    let mine = format!("key:{}", who.account_key().as_str());
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
    let server = reachable(state, who, server).await?;
    let key = query.iter().find(|(k, _)| k == "key").map(|(_, v)| v);
    let principal = match key {
        Some(k) if who.is_admin() => {
            let k = crate::base::KeyId::parse(k).ok_or_else(|| ApiError::BadRequest {
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
        None if server.per_caller() || !who.is_admin() => {
            format!("key:{}", who.account_key().as_str())
        }
        None => "shared".to_string(),
    };
    if !state.vault.revoke(&server, &principal).await? {
        return Err(ApiError::NotFound(format!(
            "no connection with server {:?}",
            server.name
        )));
    }
    if let Some(b) = state.data.backends.get(&server.id) {
        b.credentials_changed();
    }
    tracing::info!(server = %server.name, principal = %principal, "upstream account disconnected");
    state
        .observe
        .audit
        .record(crate::observe::audit::Entry::change(
            who.key_id,
            "server.disconnect",
            &server.name,
        ));
    Ok(crate::http::empty(StatusCode::NO_CONTENT))
}
