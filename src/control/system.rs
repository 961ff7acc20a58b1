//! The gateway's own routes: health, readiness, metrics, the OpenAPI document and
//! Swagger UI, the protected-resource metadata, tokens, and the event stream.

use super::*;

pub(super) async fn health(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let _ = c;
    Ok(json(StatusCode::OK, r#"{"status":"ok"}"#))
}

pub(super) async fn ready(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call { state, req, .. } = c;
    let q = query_pairs(req.uri().query())?;
    ready::ready(state, &q).await
}

pub(super) async fn metrics(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call { state, .. } = c;
    Ok(metrics_text(state))
}

pub(super) async fn open_api(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call { state, .. } = c;
    Ok(json(StatusCode::OK, state.control.openapi.clone()))
}

pub(super) async fn resource_metadata(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call { state, params, .. } = c;
    metadata_document(state, params.get(0))
}

pub(super) async fn swagger_ui(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call { params, req, .. } = c;
    crate::http::swagger::serve(params.get(0), req.uri().query(), req.headers())
}

pub(super) async fn token(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state, req, peer, ..
    } = c;
    issue_token(state, req, peer).await
}

pub(super) async fn mcp(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let _ = c;
    Err(ApiError::Internal(
        "MCP routes are served by mcp::handle".into(),
    ))
}

pub(super) async fn events(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state, principal, ..
    } = c;
    let p = who(&principal)?;
    let place = state
        .auth
        .limits
        .open_stream(Some(&p.key_id))
        .await
        .map_err(|r| {
            state.over_limit(&p.key_id, &r);
            ApiError::OverLimit {
                retry_after: r.retry_after_secs(),
                message: r.message,
            }
        })?;
    let mut resp = Response::new(state.observe.events.subscribe(p, place));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(resp)
}

pub(super) fn metrics_text(state: &State) -> Response<Body> {
    let s = state.db.pool.status();
    let mut text = state.observe.metrics.render(
        &PoolFigures {
            max_size: s.max_size,
            size: s.size,
            available: s.available,
            waiting: s.waiting,
        },
        state.observe.events.subscribers(),
    );
    let mut statuses: Vec<(String, &'static str)> = state
        .data
        .backends
        .all()
        .iter()
        .map(|b| (b.name.clone(), b.status().as_str()))
        .collect();
    statuses.sort();
    state.observe.metrics.render_calls(&mut text, &statuses);
    crate::observe::metrics::render_audit(
        &mut text,
        state.observe.audit.written(),
        state.observe.audit.dropped(),
        state.observe.audit.queued(),
    );
    text.push_str(&format!(
        "# HELP metamcp_tools_held Tool and prompt definitions held for review (changed, added or flagged), across every server.\n\
         # TYPE metamcp_tools_held gauge\n\
         metamcp_tools_held {}\n",
        state.control.pins.held_count()
    ));
    let (refreshed, refresh_failures) = state.vault.refreshes();
    text.push_str(&format!(
        "# HELP metamcp_upstream_token_refreshes_total Upstream OAuth tokens refreshed by this process.\n\
         # TYPE metamcp_upstream_token_refreshes_total counter\n\
         metamcp_upstream_token_refreshes_total {refreshed}\n\
         # HELP metamcp_upstream_token_refresh_failures_total Upstream OAuth token refreshes that failed (the account must be connected again when the authorization server refused).\n\
         # TYPE metamcp_upstream_token_refresh_failures_total counter\n\
         metamcp_upstream_token_refresh_failures_total {refresh_failures}\n"
    ));
    if let Some(shared) = state.auth.limits.shared() {
        shared.render_metrics(&mut text, state.auth.limits.lease_count());
    }
    if let Some(t) = &state.observe.tracer {
        let (full, failed) = t.dropped();
        crate::observe::metrics::render_trace(&mut text, t.exported(), full, failed, t.queued());
    }
    let mut resp = Response::new(Body::full(Bytes::from(text)));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

pub(super) async fn issue_token(
    state: &State,
    req: Request<Incoming>,
    peer: IpAddr,
) -> Result<Response<Body>, ApiError> {
    let body = json_body(state, req).await?;
    let obj = body.as_object().ok_or_else(|| ApiError::BadRequest {
        field: None,
        message: "the request body must be a JSON object".into(),
    })?;
    if let Some(k) = obj.keys().find(|k| *k != "api_key") {
        return Err(ApiError::bad_field(k, "unknown field (expected api_key)"));
    }
    let Some(Value::String(key)) = obj.get("api_key") else {
        return Err(ApiError::bad_field(
            "api_key",
            "is required and must be a string",
        ));
    };
    let principal = match state.auth.verify_api_key(key, peer).await {
        Ok(p) => p,
        Err(e) => {
            state.observe.metrics.refused_login(e.reason(), peer);
            return Err(e.into());
        }
    };
    let issued = state.auth.issue_token(&principal)?;
    tracing::info!(key_id = %principal.key_id, "access token issued");
    Ok(json_value(StatusCode::OK, &json!(issued)))
}

/// The Protected Resource Metadata (RFC 9728) of `/mcp` or of `/mcp/<namespace>`.
pub(super) fn metadata_document(
    state: &State,
    namespace: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let o = state.oauth.as_ref().ok_or_else(|| {
        ApiError::NotFound(
            "this gateway takes no OAuth tokens (METAMCP_OAUTH_ISSUER is unset)".into(),
        )
    })?;
    if let Some(ns) = namespace
        && state.data.routing.load().view(Some(ns)).is_none()
    {
        return Err(ApiError::NotFound(format!("no namespace {ns:?}")));
    }
    let mut scopes: Vec<&str> = Vec::new();
    for i in &o.settings.issuers {
        for s in [i.client_scope.as_str(), i.admin_scope.as_str()] {
            if !s.is_empty() && !scopes.contains(&s) {
                scopes.push(s);
            }
        }
    }
    let name = match namespace {
        Some(ns) => format!("metamcp: namespace {ns}"),
        None => "metamcp".to_string(),
    };
    let doc = json!({
        "resource": o.settings.resource(namespace),
        "authorization_servers": o.settings.issuers.iter().map(|i| &i.issuer).collect::<Vec<_>>(),
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header"],
        "resource_name": name,
        "resource_documentation": format!("{}/swagger-ui/", o.settings.public_url),
    });
    let mut resp = json_value(StatusCode::OK, &doc);
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(resp)
}
