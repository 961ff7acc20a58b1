//! `/api/v1/mcp/servers`: the registry's servers (list, import, export, one, create,
//! change, remove), a server's tools, and a tool executed over REST.

use super::*;

pub(super) async fn list_servers(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state, principal, ..
    } = c;
    let p = who(&principal)?;
    let servers = state.control.registry.list_servers().await?;
    let visible = visible_servers(state, &p).await?;
    let list: Vec<Value> = servers
        .iter()
        .filter(|s| {
            visible
                .as_ref()
                .is_none_or(|v| v.iter().any(|n| n.eq_ignore_ascii_case(&s.name)))
        })
        .map(|s| server_json(state, s))
        .collect();
    Ok(json_value(StatusCode::OK, &Value::Array(list)))
}

pub(super) async fn import_servers(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        req,
        principal,
        ..
    } = c;
    let q = query_pairs(req.uri().query())?;
    let opts = import_options(&q)?;
    let bytes = json_bytes(state, req).await?;
    run_import(state, &principal, &bytes, &opts).await
}

pub(super) async fn export_servers(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call { state, req, .. } = c;
    let q = query_pairs(req.uri().query())?;
    let servers = state.control.registry.list_servers().await?;
    let only = match q.iter().find(|(k, _)| k == "namespace") {
        Some((_, ns)) => Some(state.control.registry.get_namespace(ns).await?.servers),
        None => None,
    };
    let picked = servers.iter().filter(|s| {
        only.as_ref()
            .is_none_or(|o| o.iter().any(|n| n.eq_ignore_ascii_case(&s.name)))
    });
    Ok(json_value(
        StatusCode::OK,
        &crate::model::import::export(picked),
    ))
}

pub(super) async fn get_server(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        params,
        principal,
        ..
    } = c;
    let param = || params.get(0).unwrap_or_default();
    let p = who(&principal)?;
    let server = state.control.registry.get_server(param()).await?;
    if let Some(v) = visible_servers(state, &p).await?
        && !v.iter().any(|n| n.eq_ignore_ascii_case(&server.name))
    {
        return Err(ApiError::NotFound(format!("no server {:?}", param())));
    }
    Ok(json_value(StatusCode::OK, &server_json(state, &server)))
}

pub(super) async fn create_server(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        req,
        principal,
        ..
    } = c;
    let body = json_body(state, req).await?;
    let server = state.control.registry.create_server(&body).await?;
    changed(state, &principal, "server.create", &server.name);
    applied(state).await;
    tracing::info!(server = %server.name, protocol = server.protocol.as_str(), "server registered");
    let mut resp = json_value(StatusCode::CREATED, &server_json(state, &server));
    if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/mcp/servers/{}", server.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

pub(super) async fn update_server(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        params,
        req,
        principal,
        ..
    } = c;
    let param = || params.get(0).unwrap_or_default();
    let body = json_body(state, req).await?;
    let (server, warnings) = state.control.registry.update_server(param(), &body).await?;
    changed(state, &principal, "server.update", &server.name);
    applied(state).await;
    let mut out = server_json(state, &server);
    if !warnings.is_empty() {
        out["warnings"] = json!(warnings);
    }
    Ok(json_value(StatusCode::OK, &out))
}

pub(super) async fn delete_server(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        params,
        principal,
        ..
    } = c;
    let param = || params.get(0).unwrap_or_default();
    let server = state.control.registry.delete_server(param()).await?;
    changed(state, &principal, "server.delete", &server.name);
    applied(state).await;
    tracing::info!(server = %server.name, "server removed");
    Ok(empty(StatusCode::NO_CONTENT))
}

/// Restarts an active server on every gateway (the registry marks it changed; each
/// gateway's reconciliation starts its backend anew); 409 for an inactive one.
pub(super) async fn restart_server(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        params,
        principal,
        ..
    } = c;
    let server = state
        .control
        .registry
        .restart_server(params.get(0).unwrap_or_default())
        .await?;
    changed(state, &principal, "server.restart", &server.name);
    applied(state).await;
    tracing::info!(server = %server.name, "server restarted");
    Ok(json_value(StatusCode::OK, &server_json(state, &server)))
}

pub(super) async fn server_tools(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        params,
        principal,
        ..
    } = c;
    let param = || params.get(0).unwrap_or_default();
    let p = who(&principal)?;
    let backend = visible_backend(state, &p, param()).await?;
    let ctx = crate::mcp::ctx::Ctx::new(&state.planes, Some(p), None)
        .ok_or_else(|| ApiError::Unavailable("routing not ready".into()))?;
    Ok(json_value(
        StatusCode::OK,
        &crate::mcp::rest::server_tools(&ctx, &backend).await,
    ))
}

pub(super) async fn execute_tool(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        params,
        req,
        principal,
        ..
    } = c;
    let param = || params.get(0).unwrap_or_default();
    let p = who(&principal)?;
    let backend = visible_backend(state, &p, param()).await?;
    let tool = params.get(1).unwrap_or_default().to_string();
    let trace = state
        .observe
        .tracer
        .as_ref()
        .map(|t| Box::new(t.start_for(req.headers())));
    let args = json_bytes(state, req).await?;
    let ctx = crate::mcp::ctx::Ctx::new(&state.planes, Some(p.clone()), None)
        .ok_or_else(|| ApiError::Unavailable("routing not ready".into()))?;
    let ctx = crate::mcp::ctx::Ctx {
        conversation: std::sync::Arc::from(format!("rest:{}", p.key_id)),
        trace,
        ..ctx
    };
    crate::mcp::rest::execute(&ctx, &backend, &tool, &args).await
}

/// A server's REST object: the registry fields, its status, and the configuration
/// problems it is part of among all servers (`/mcp`).
pub(super) fn server_json(state: &State, s: &Server) -> Value {
    // Status, last error, restarts and tools: what keyadm reads too (`state::seen`).
    let seen = crate::state::seen(state, s);
    let mut out = s.public_json(state.server_status(s));
    let backend = state.data.backends.get(&s.id).filter(|b| b.server == *s);
    let lists = backend.as_ref().map(|b| b.lists());
    out["last_error"] = json!(seen.last_error);
    out["last_connected_at"] = json!(
        backend
            .as_ref()
            .and_then(|b| b.last_connected())
            .map(crate::observe::events::rfc3339)
    );
    out["restarts"] = json!(seen.restarts);
    out["last_exit"] = json!(backend.as_ref().and_then(|b| b.last_exit()));
    let (circuit, failures) = backend
        .as_ref()
        .map_or((crate::backend::breaker::Circuit::Closed, 0), |b| {
            b.circuit()
        });
    out["circuit"] = json!(circuit.as_str());
    out["consecutive_failures"] = json!(failures);
    if s.isolated || (s.protocol == crate::model::Protocol::Stdio && s.takes_caller_secret()) {
        // Clients (or callers) with a child of their own now.
        out["instances"] = json!(
            backend
                .as_ref()
                .and_then(|b| b.instances())
                .map_or(0, |(n, _)| n)
        );
    }
    out["tools"] = json!(seen.tools);
    out["prompts"] = json!(lists.as_ref().map_or(0, |l| l.prompts.len()));
    out["resources"] = json!(lists.as_ref().map_or(0, |l| l.resources.len()));
    out["skills"] = json!(lists.as_ref().map_or(0, |l| l.skills.skills.len()));
    let table = state.data.routing.load();
    let problems: Vec<Value> = table
        .view(None)
        .map(|v| {
            v.errors
                .iter()
                .filter(|p| p.servers.iter().any(|n| n.eq_ignore_ascii_case(&s.name)))
                .map(crate::routing::Problem::to_json)
                .collect()
        })
        .unwrap_or_default();
    out["problems"] = Value::Array(problems);
    out
}

/// For a namespace-limited key, the names of the servers it can see; `None` for all.
pub(super) async fn visible_servers(
    state: &State,
    p: &Principal,
) -> Result<Option<Vec<String>>, ApiError> {
    if !p.is_limited() || p.is_admin() {
        return Ok(None);
    }
    let namespaces = state.control.registry.list_namespaces().await?;
    Ok(Some(
        namespaces
            .into_iter()
            .filter(|n| p.may_use(&n.name))
            .flat_map(|n| n.servers)
            .collect(),
    ))
}

/// The running backend of a server the key may see, by UUID or name.
pub(super) async fn visible_backend(
    state: &State,
    p: &Principal,
    id_or_name: &str,
) -> Result<Arc<crate::backend::Backend>, ApiError> {
    let server = state.control.registry.get_server(id_or_name).await?;
    if let Some(v) = visible_servers(state, p).await?
        && !v.iter().any(|n| n.eq_ignore_ascii_case(&server.name))
    {
        return Err(ApiError::NotFound(format!("no server {id_or_name:?}")));
    }
    match state.data.backends.get(&server.id) {
        Some(b) if b.status() == crate::backend::Status::Running => Ok(b),
        _ => Err(ApiError::Unavailable(format!(
            "server {} is not running ({})",
            server.name,
            state.server_status(&server)
        ))),
    }
}

/// `?dry_run=true&prune=true&replace=true&namespace=NS&source=S` of an import.
pub(super) fn import_options(
    q: &[(String, String)],
) -> Result<crate::store::import::Options, ApiError> {
    let flag = |name: &str| -> Result<bool, ApiError> {
        match q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()) {
            None | Some("false" | "0") => Ok(false),
            Some("true" | "1" | "") => Ok(true),
            Some(_) => Err(ApiError::bad_field(name, "must be true or false")),
        }
    };
    let text = |name: &str| q.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let source = text("source").unwrap_or_else(|| "api".into());
    if source.is_empty() || source.len() > 1000 {
        return Err(ApiError::bad_field("source", "1 to 1000 characters"));
    }
    Ok(crate::store::import::Options {
        source,
        dry_run: flag("dry_run")?,
        prune: flag("prune")?,
        namespace: text("namespace"),
        replace: flag("replace")?,
    })
}

/// Imports a file: 200 with the report (a dry run too); 400 with every problem and
/// nothing written.
pub(super) async fn run_import(
    state: &State,
    principal: &Option<Principal>,
    bytes: &[u8],
    opts: &crate::store::import::Options,
) -> Result<Response<Body>, ApiError> {
    use crate::store::import::ImportError;
    let problems = |report: &crate::store::import::Report| {
        let mut body = json!({
            "error": format!("the file has {} problem(s); nothing was written", report.problems.len()),
            "code": "invalid_import", "status": 400,
        });
        body["problems"] = json!(report.problems);
        body["report"] = json!(report);
        json_value(StatusCode::BAD_REQUEST, &body)
    };
    let parsed = match crate::model::import::read(bytes) {
        Ok(p) => p,
        Err(found) => {
            return Ok(problems(&crate::store::import::Report {
                problems: found,
                dry_run: opts.dry_run,
                source: opts.source.clone(),
                ..Default::default()
            }));
        }
    };
    let report = match state.control.registry.import(&parsed, opts).await {
        Ok(r) => r,
        Err(ImportError::Problems(r)) => return Ok(problems(&r)),
        Err(ImportError::Store(e)) => return Err(e.into()),
    };
    if !report.dry_run && report.changes() {
        for (what, object) in report.audited() {
            changed(state, principal, what, object);
        }
        applied(state).await;
        tracing::info!(source = %report.source, created = report.created.len(),
            updated = report.updated.len(), removed = report.removed.len(), "servers imported");
    }
    Ok(json_value(StatusCode::OK, &json!(report)))
}
