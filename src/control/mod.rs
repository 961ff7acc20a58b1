//! Control-plane handlers: health, readiness, metrics, the OpenAPI document, tokens, the
//! server and namespace registry, and the event stream.

mod ready;
mod upstream;

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::http::routes::{Params, RouteId};
use crate::http::{ApiError, Body, empty, is_json, json, json_value, read_body};
use crate::model::validate::Invalid;
use crate::model::{Namespace, Server};
use crate::observe::metrics::PoolFigures;
use crate::state::State;
use crate::store::registry::StoreError;

/// Registry failures as HTTP: whose fault each is decides the status.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Db(e) => ApiError::from(e),
            StoreError::NotFound(m) => ApiError::NotFound(m),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Invalid(Invalid { field, message }) => {
                ApiError::BadRequest { field, message }
            }
            StoreError::Corrupt(m) => ApiError::Internal(m),
        }
    }
}

/// The Protected Resource Metadata (RFC 9728) of `/mcp` or of `/mcp/<namespace>`.
fn resource_metadata(state: &State, namespace: Option<&str>) -> Result<Response<Body>, ApiError> {
    let o = state.oauth.as_ref().ok_or_else(|| {
        ApiError::NotFound(
            "this gateway takes no OAuth tokens (METAMCP_OAUTH_ISSUER is unset)".into(),
        )
    })?;
    if let Some(ns) = namespace
        && state.routing.load().view(Some(ns)).is_none()
    {
        return Err(ApiError::NotFound(format!("no namespace {ns:?}")));
    }
    let mut scopes: Vec<&str> = Vec::new();
    for i in &o.settings.issuers {
        for s in [i.client_scope.as_str(), i.admin_scope.as_str()] {
            if !scopes.contains(&s) {
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

/// Runs the handler for `route`; the caller has already authenticated and authorised.
pub async fn dispatch(
    state: &Arc<State>,
    route: RouteId,
    params: Params<'_>,
    req: Request<Incoming>,
    principal: Option<Principal>,
    peer: IpAddr,
) -> Result<Response<Body>, ApiError> {
    let param = || params.get(0).unwrap_or_default();
    let who = || {
        principal
            .clone()
            .ok_or_else(|| ApiError::Internal("route needs a principal".into()))
    };
    match route {
        RouteId::Health => Ok(json(StatusCode::OK, r#"{"status":"ok"}"#)),
        RouteId::Ready => {
            let q = query_pairs(req.uri().query())?;
            ready::ready(state, &q).await
        }
        RouteId::Metrics => Ok(metrics(state)),
        RouteId::OpenApi => Ok(json(StatusCode::OK, state.openapi.clone())),
        RouteId::ResourceMetadata => resource_metadata(state, params.get(0)),
        RouteId::SwaggerUi => {
            crate::http::swagger::serve(params.get(0), req.uri().query(), req.headers())
        }
        RouteId::Token => token(state, req, peer).await,
        RouteId::ListServers => {
            let p = who()?;
            let servers = state.registry.list_servers().await?;
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
        RouteId::ImportServers => {
            let q = query_pairs(req.uri().query())?;
            let opts = import_options(&q)?;
            let bytes = json_bytes(state, req).await?;
            import_servers(state, &principal, &bytes, &opts).await
        }
        RouteId::ExportServers => {
            let q = query_pairs(req.uri().query())?;
            let servers = state.registry.list_servers().await?;
            let only = match q.iter().find(|(k, _)| k == "namespace") {
                Some((_, ns)) => Some(state.registry.get_namespace(ns).await?.servers),
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
        RouteId::GetServer => {
            let p = who()?;
            let server = state.registry.get_server(param()).await?;
            if let Some(v) = visible_servers(state, &p).await?
                && !v.iter().any(|n| n.eq_ignore_ascii_case(&server.name))
            {
                return Err(ApiError::NotFound(format!("no server {:?}", param())));
            }
            Ok(json_value(StatusCode::OK, &server_json(state, &server)))
        }
        RouteId::CreateServer => {
            let body = json_body(state, req).await?;
            let server = state.registry.create_server(&body).await?;
            changed(state, &principal, "server.create", &server.name);
            applied(state).await;
            tracing::info!(server = %server.name, protocol = server.protocol.as_str(), "server registered");
            let mut resp = json_value(StatusCode::CREATED, &server_json(state, &server));
            if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/mcp/servers/{}", server.id)) {
                resp.headers_mut().insert(header::LOCATION, loc);
            }
            Ok(resp)
        }
        RouteId::UpdateServer => {
            let body = json_body(state, req).await?;
            let (server, warnings) = state.registry.update_server(param(), &body).await?;
            changed(state, &principal, "server.update", &server.name);
            applied(state).await;
            let mut out = server_json(state, &server);
            if !warnings.is_empty() {
                out["warnings"] = json!(warnings);
            }
            Ok(json_value(StatusCode::OK, &out))
        }
        RouteId::DeleteServer => {
            let server = state.registry.delete_server(param()).await?;
            changed(state, &principal, "server.delete", &server.name);
            applied(state).await;
            tracing::info!(server = %server.name, "server removed");
            Ok(empty(StatusCode::NO_CONTENT))
        }
        RouteId::ListNamespaces => {
            let p = who()?;
            let list: Vec<Value> = state
                .registry
                .list_namespaces()
                .await?
                .iter()
                .filter(|n| p.may_use(&n.name))
                .map(|n| namespace_json(state, n))
                .collect();
            Ok(json_value(StatusCode::OK, &Value::Array(list)))
        }
        RouteId::GetNamespace => {
            let p = who()?;
            if !p.may_use(param()) {
                return Err(ApiError::NotFound(format!("no namespace {:?}", param())));
            }
            let ns = state.registry.get_namespace(param()).await?;
            Ok(json_value(StatusCode::OK, &namespace_json(state, &ns)))
        }
        RouteId::CreateNamespace => {
            let body = json_body(state, req).await?;
            let ns = state.registry.create_namespace(&body).await?;
            changed(state, &principal, "namespace.create", &ns.name);
            applied(state).await;
            if !ns.auth_required {
                tracing::warn!(namespace = %ns.name, "namespace is open without credentials (auth: none)");
            }
            let mut resp = json_value(StatusCode::CREATED, &namespace_json(state, &ns));
            if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/namespaces/{}", ns.name)) {
                resp.headers_mut().insert(header::LOCATION, loc);
            }
            Ok(resp)
        }
        RouteId::UpdateNamespace => {
            let body = json_body(state, req).await?;
            let ns = state.registry.update_namespace(param(), &body).await?;
            changed(state, &principal, "namespace.update", &ns.name);
            applied(state).await;
            Ok(json_value(StatusCode::OK, &namespace_json(state, &ns)))
        }
        RouteId::DeleteNamespace => {
            state.registry.delete_namespace(param()).await?;
            changed(state, &principal, "namespace.delete", param());
            applied(state).await;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        RouteId::AuthorizeServer => {
            let resp = upstream::authorize(state, param(), &req, principal.as_ref()).await?;
            changed(state, &principal, "server.authorize", param());
            Ok(resp)
        }
        RouteId::OAuthCallback => Ok(upstream::callback(state, &req).await),
        RouteId::Connections => {
            let q = query_pairs(req.uri().query())?;
            upstream::connections(state, &who()?, &q).await
        }
        RouteId::Connection => {
            let q = [("server".to_string(), param().to_string())];
            upstream::connections(state, &who()?, &q).await
        }
        RouteId::Connect => upstream::connect(state, &who()?, param()).await,
        RouteId::SetSecret => {
            let p = who()?;
            let body = json_body(state, req).await?;
            upstream::set_secret(state, &p, param(), &body).await
        }
        RouteId::SecretPage => Ok(upstream::secret_page(state, &req).await),
        RouteId::SecretSave => Ok(upstream::secret_save(state, req).await),
        RouteId::Disconnect => {
            let q = query_pairs(req.uri().query())?;
            upstream::disconnect(state, &who()?, param(), &q).await
        }
        RouteId::ClientMetadata => upstream::client_metadata(state),
        RouteId::ServerTools => {
            let p = who()?;
            let backend = visible_backend(state, &p, param()).await?;
            let ctx = crate::mcp::Ctx::new(state, Some(p), None)
                .ok_or_else(|| ApiError::Unavailable("routing not ready".into()))?;
            Ok(json_value(
                StatusCode::OK,
                &crate::mcp::server_tools(&ctx, &backend),
            ))
        }
        RouteId::ExecuteTool => {
            let p = who()?;
            let backend = visible_backend(state, &p, param()).await?;
            let tool = params.get(1).unwrap_or_default().to_string();
            let trace = state
                .tracer
                .as_ref()
                .map(|t| Box::new(t.start_for(req.headers())));
            let args = json_bytes(state, req).await?;
            let ctx = crate::mcp::Ctx::new(state, Some(p.clone()), None)
                .ok_or_else(|| ApiError::Unavailable("routing not ready".into()))?;
            let ctx = crate::mcp::Ctx {
                conversation: std::sync::Arc::from(format!("rest:{}", p.key_id)),
                trace,
                ..ctx
            };
            let answer = crate::mcp::execute(&ctx, &backend, &tool, &args).await?;
            rest_result(&answer)
        }
        RouteId::Audit => {
            let filter = audit_filter(req.uri().query())?;
            let (entries, next) = crate::store::audit::list(&state.db.pool, &filter).await?;
            Ok(json_value(
                StatusCode::OK,
                &json!({"entries": entries, "next_cursor": next}),
            ))
        }
        RouteId::Usage => {
            let p = who()?;
            let q = query_pairs(req.uri().query())?;
            if let Some((name, _)) = q.iter().find(|(k, _)| k != "key" && k != "since") {
                return Err(ApiError::bad_field(name, "unknown parameter (key, since)"));
            }
            let key = match q.iter().find(|(k, _)| k == "key") {
                Some((_, k)) if crate::store::audit::check_key_id(k).is_err() => {
                    return Err(ApiError::bad_field(
                        "key",
                        crate::store::audit::check_key_id(k)
                            .err()
                            .unwrap_or_default(),
                    ));
                }
                Some((_, k)) if p.is_admin() || *k == p.key_id.as_str() => k.clone(),
                Some(_) => {
                    return Err(ApiError::Forbidden(
                        "a client key may read only its own usage".into(),
                    ));
                }
                None => p.key_id.as_str().to_string(),
            };
            let since = match q.iter().find(|(k, _)| k == "since") {
                Some((_, v)) => crate::store::audit::When::parse(v)
                    .map_err(|e| ApiError::bad_field("since", e))?,
                None => crate::store::audit::When::Ago(DEFAULT_USAGE_SINCE),
            };
            let mut usage = crate::store::audit::usage(&state.db.pool, &key, &since).await?;
            usage["since"] = json!(
                q.iter()
                    .find(|(k, _)| k == "since")
                    .map_or("30d", |(_, v)| v)
            );
            Ok(json_value(StatusCode::OK, &usage))
        }
        RouteId::Mcp | RouteId::McpNamespace => Err(ApiError::Internal(
            "MCP routes are served by mcp::handle".into(),
        )),
        RouteId::Events => {
            let p = who()?;
            let place = state
                .auth
                .limits
                .open_stream(Some(&p.key_id))
                .map_err(|r| {
                    state.over_limit(&p.key_id, &r);
                    ApiError::OverLimit {
                        retry_after: r.retry_after_secs(),
                        message: r.message,
                    }
                })?;
            let mut resp = Response::new(state.events.subscribe(p, place));
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            );
            h.insert("x-accel-buffering", HeaderValue::from_static("no"));
            Ok(resp)
        }
    }
}

/// How far back usage goes when the request does not say.
const DEFAULT_USAGE_SINCE: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// Audits a registry change made through the API by `principal`'s key.
fn changed(state: &State, principal: &Option<Principal>, what: &'static str, object: &str) {
    if let Some(p) = principal {
        state
            .audit
            .record(crate::observe::audit::Entry::change(p.key_id, what, object));
    }
}

/// `?dry_run=true&prune=true&namespace=NS&source=S` of an import.
fn import_options(q: &[(String, String)]) -> Result<crate::store::import::Options, ApiError> {
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
    })
}

/// Imports a file: 200 with the report (a dry run too); 400 with every problem and
/// nothing written.
async fn import_servers(
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
    let parsed = match crate::model::import::parse(bytes) {
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
    let report = match state.registry.import(&parsed, opts).await {
        Ok(r) => r,
        Err(ImportError::Problems(r)) => return Ok(problems(&r)),
        Err(ImportError::Store(e)) => return Err(e.into()),
    };
    if !report.dry_run && report.changes() {
        for (list, what) in [
            (&report.created, "server.create"),
            (&report.updated, "server.update"),
            (&report.removed, "server.delete"),
        ] {
            for name in list {
                changed(state, principal, what, name);
            }
        }
        if let Some(ns) = &report.namespace {
            let what = match ns["action"].as_str() {
                Some("created") => Some("namespace.create"),
                Some("updated") => Some("namespace.update"),
                _ => None,
            };
            if let (Some(what), Some(name)) = (what, ns["name"].as_str()) {
                changed(state, principal, what, name);
            }
        }
        applied(state).await;
        tracing::info!(source = %report.source, created = report.created.len(),
            updated = report.updated.len(), removed = report.removed.len(), "servers imported");
    }
    Ok(json_value(StatusCode::OK, &json!(report)))
}

/// A query string's pairs, percent-decoded (`+` is a space); a pair that does not decode
/// to UTF-8 is a bad request.
fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    use crate::vault::form::decode;
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            match (decode(k), decode(v)) {
                (Some(k), Some(v)) => Ok((k, v)),
                _ => Err(ApiError::bad_field(
                    "query",
                    format!("cannot decode the query parameter {p:?}"),
                )),
            }
        })
        .collect()
}

/// `GET /api/v1/audit`'s filter from its query string.
fn audit_filter(query: Option<&str>) -> Result<crate::store::audit::Filter, ApiError> {
    use crate::store::audit::{Filter, When};
    let mut f = Filter::default();
    for (k, v) in query_pairs(query)? {
        let when = |v: &str| When::parse(v).map_err(|e| ApiError::bad_field(&k, e));
        match k.as_str() {
            "key" => f.key = Some(v),
            "server" => f.server = Some(v),
            "tool" => f.tool = Some(v),
            "outcome" => f.outcome = Some(v),
            "since" => f.since = Some(when(&v)?),
            "until" => f.until = Some(when(&v)?),
            "limit" => {
                f.limit = Some(v.parse().map_err(|_| {
                    ApiError::bad_field("limit", format!("limit must be a whole number, got {v:?}"))
                })?)
            }
            "cursor" => f.cursor = Some(v),
            other => {
                return Err(ApiError::bad_field(
                    other,
                    "unknown filter (key, server, tool, outcome, since, until, limit, cursor)",
                ));
            }
        }
    }
    f.validate()
        .map_err(|(field, m)| ApiError::bad_field(field, m))?;
    Ok(f)
}

/// The running backend of a server the key may see, by UUID or name.
async fn visible_backend(
    state: &State,
    p: &Principal,
    id_or_name: &str,
) -> Result<Arc<crate::backend::Backend>, ApiError> {
    let server = state.registry.get_server(id_or_name).await?;
    if let Some(v) = visible_servers(state, p).await?
        && !v.iter().any(|n| n.eq_ignore_ascii_case(&server.name))
    {
        return Err(ApiError::NotFound(format!("no server {id_or_name:?}")));
    }
    match state.backends.get(&server.id) {
        Some(b) if b.status() == crate::backend::Status::Running => Ok(b),
        _ => Err(ApiError::Unavailable(format!(
            "server {} is not running ({})",
            server.name,
            state.server_status(&server)
        ))),
    }
}

/// The REST form of a tools/call answer: the result, or 502 with the backend's error.
fn rest_result(answer: &Bytes) -> Result<Response<Body>, ApiError> {
    let v: Value = serde_json::from_slice(answer)
        .map_err(|e| ApiError::Internal(format!("unreadable tool answer: {e}")))?;
    if let Some(result) = v.get("result") {
        return Ok(json_value(StatusCode::OK, result));
    }
    let message = v["error"]["message"]
        .as_str()
        .unwrap_or("the tool call failed")
        .to_string();
    let code = v["error"]["code"].as_i64().unwrap_or(0);
    let status = if code == crate::mcp::code::INVALID_PARAMS {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::BAD_GATEWAY
    };
    Ok(json_value(
        status,
        &json!({"error": message, "code": if status == StatusCode::BAD_REQUEST { "invalid_request" } else { "backend_error" },
                "status": status.as_u16(), "rpc_code": code}),
    ))
}

/// Makes a registry change visible in this process before answering (other processes
/// follow through NOTIFY).
async fn applied(state: &State) {
    if let Err(e) = state.reload_registry().await {
        tracing::warn!(error = %e, "registry reload after a change failed; NOTIFY will retry");
    }
}

/// A server's REST object: the registry fields, its status, and the configuration
/// problems it is part of among all servers (`/mcp`).
fn server_json(state: &State, s: &Server) -> Value {
    let mut out = s.public_json(state.server_status(s));
    let backend = state.backends.get(&s.id).filter(|b| b.server == *s);
    let lists = backend.as_ref().map(|b| b.lists());
    out["last_error"] = json!(
        backend
            .as_ref()
            .and_then(|b| b.last_error())
            .or_else(|| state.backends.config_error(&s.id))
    );
    out["last_connected_at"] = json!(
        backend
            .as_ref()
            .and_then(|b| b.last_connected())
            .map(crate::observe::events::rfc3339)
    );
    out["restarts"] = json!(backend.as_ref().map_or(0, |b| b.restarts()));
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
    out["tools"] = json!(lists.as_ref().map_or(0, |l| l.tools.len()));
    out["prompts"] = json!(lists.as_ref().map_or(0, |l| l.prompts.len()));
    out["resources"] = json!(lists.as_ref().map_or(0, |l| l.resources.len()));
    let table = state.routing.load();
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

/// A namespace's REST object with the problems of its view.
fn namespace_json(state: &State, n: &Namespace) -> Value {
    let mut out = n.public_json();
    let table = state.routing.load();
    out["problems"] = Value::Array(
        table
            .view(Some(&n.name))
            .map(|v| {
                v.errors
                    .iter()
                    .map(crate::routing::Problem::to_json)
                    .collect()
            })
            .unwrap_or_default(),
    );
    out
}

/// For a namespace-limited key, the names of the servers it can see; `None` for all.
async fn visible_servers(state: &State, p: &Principal) -> Result<Option<Vec<String>>, ApiError> {
    if !p.is_limited() || p.is_admin() {
        return Ok(None);
    }
    let namespaces = state.registry.list_namespaces().await?;
    Ok(Some(
        namespaces
            .into_iter()
            .filter(|n| p.may_use(&n.name))
            .flat_map(|n| n.servers)
            .collect(),
    ))
}

/// The body of a request that must say it is JSON, unparsed.
async fn json_bytes(state: &State, req: Request<Incoming>) -> Result<Bytes, ApiError> {
    let (parts, body) = req.into_parts();
    if !is_json(&parts.headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    read_body(body, &parts.headers, &state.config).await
}

async fn json_body(state: &State, req: Request<Incoming>) -> Result<Value, ApiError> {
    let bytes = json_bytes(state, req).await?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest {
        field: None,
        message: format!("the request body is not valid JSON: {e}"),
    })
}

fn metrics(state: &State) -> Response<Body> {
    let s = state.db.pool.status();
    let mut text = state.metrics.render(
        &PoolFigures {
            max_size: s.max_size,
            size: s.size,
            available: s.available,
            waiting: s.waiting,
        },
        state.events.subscribers(),
    );
    let mut statuses: Vec<(String, &'static str)> = state
        .backends
        .all()
        .iter()
        .map(|b| (b.name.clone(), b.status().as_str()))
        .collect();
    statuses.sort();
    state.metrics.render_calls(&mut text, &statuses);
    crate::observe::metrics::render_audit(
        &mut text,
        state.audit.written(),
        state.audit.dropped(),
        state.audit.queued(),
    );
    let (refreshed, refresh_failures) = state.vault.refreshes();
    text.push_str(&format!(
        "# HELP metamcp_upstream_token_refreshes_total Upstream OAuth tokens refreshed by this process.\n\
         # TYPE metamcp_upstream_token_refreshes_total counter\n\
         metamcp_upstream_token_refreshes_total {refreshed}\n\
         # HELP metamcp_upstream_token_refresh_failures_total Upstream OAuth token refreshes that failed (the account must be connected again when the authorization server refused).\n\
         # TYPE metamcp_upstream_token_refresh_failures_total counter\n\
         metamcp_upstream_token_refresh_failures_total {refresh_failures}\n"
    ));
    if let Some(t) = &state.tracer {
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

async fn token(
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
            state.metrics.auth_failure(e.reason());
            return Err(e.into());
        }
    };
    let issued = state.auth.issue_token(&principal)?;
    tracing::info!(key_id = %principal.key_id, "access token issued");
    Ok(json_value(StatusCode::OK, &json!(issued)))
}
