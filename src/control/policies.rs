//! `/api/v1/policies`: policies by identity ([`crate::policy::rules`]), admin only: the
//! language, list, one, create, change, remove, and the dry run (`check`). A policy is
//! compiled before it is stored: one that does not parse or check is `400` with `line`
//! and `reason`. A change is applied here before the answer and reaches the other
//! replicas by NOTIFY.

use super::*;
use crate::policy::rules::{Action, Mode, Subject};
use crate::store::policies::{self, Stored, WriteError};

fn refused(e: WriteError) -> Result<Response<Body>, ApiError> {
    match e {
        WriteError::Invalid(i) => {
            let body = json!({"error": format!("the policy does not compile: {i}"),
                "code": "invalid_request", "status": 400, "field": "text",
                "line": i.line, "column": i.column, "rule": i.rule, "reason": i.reason,
                "name": i.field, "nearest": i.nearest});
            Ok(json_value(StatusCode::BAD_REQUEST, &body))
        }
        WriteError::Db(e) => Err(ApiError::from(e)),
        WriteError::Refused(m) => Err(ApiError::BadRequest {
            field: None,
            message: m,
        }),
        WriteError::NotFound(m) => Err(ApiError::NotFound(m)),
        WriteError::Conflict(m) => Err(ApiError::Conflict(m)),
    }
}

/// A body's `{"name"?, "text", "namespace"?, "mode"?}`.
fn stored(body: &Value, name: Option<&str>) -> Result<Stored, ApiError> {
    let Some(o) = body.as_object() else {
        return Err(ApiError::bad_field(
            "body",
            "a JSON object {\"name\", \"text\", \"namespace\"?}",
        ));
    };
    if let Some(k) = o
        .keys()
        .find(|k| !matches!(k.as_str(), "name" | "text" | "namespace" | "mode"))
    {
        return Err(ApiError::bad_field(
            k,
            "unknown field (name, text, namespace, mode)",
        ));
    }
    let mode = match o.get("mode") {
        None | Some(Value::Null) => Mode::Enforce,
        Some(Value::String(m)) if Mode::parse(m).is_some() => Mode::parse(m).unwrap_or_default(),
        Some(_) => {
            return Err(ApiError::bad_field(
                "mode",
                "\"enforce\" (the default: the policy binds) or \"audit\" (decided and recorded, binding nothing)",
            ));
        }
    };
    let name = match (name, o.get("name")) {
        (Some(n), None) => n.to_string(),
        (Some(n), Some(Value::String(b))) if b == n => n.to_string(),
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_field(
                "name",
                "differs from the path; a policy is renamed by adding it anew",
            ));
        }
        (None, Some(Value::String(b))) => b.clone(),
        (None, _) => return Err(ApiError::bad_field("name", "a string is required")),
    };
    let text = match o.get("text") {
        Some(Value::String(t)) => t.clone(),
        // A rule list given as JSON rather than as its text.
        Some(v @ Value::Array(_)) => serde_json::to_string_pretty(v).unwrap_or_default(),
        _ => {
            return Err(ApiError::bad_field(
                "text",
                "the policy's text (a JSON list of CEL rules) is required",
            ));
        }
    };
    let namespace = match o.get("namespace") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::bad_field(
                "namespace",
                "a namespace's name, or null for every view",
            ));
        }
    };
    Ok(Stored {
        name,
        text,
        namespace,
        mode,
    })
}

pub(super) async fn language(_c: Call<'_>) -> Result<Response<Body>, ApiError> {
    Ok(json_value(StatusCode::OK, &json!({"language": "cel"})))
}

pub(super) async fn list(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let list: Vec<Value> = policies::list(&c.state.db.pool)
        .await?
        .iter()
        .map(Stored::to_json)
        .collect();
    Ok(json_value(
        StatusCode::OK,
        &json!({"language": "cel", "policies": list}),
    ))
}

pub(super) async fn get(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let name = c.params.get(0).unwrap_or_default();
    match policies::get(&c.state.db.pool, name).await? {
        Some(p) => Ok(json_value(StatusCode::OK, &p.to_json())),
        None => Err(ApiError::NotFound(format!("no policy named {name:?}"))),
    }
}

pub(super) async fn create(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        req,
        principal,
        ..
    } = c;
    let p = stored(&json_body(state, req).await?, None)?;
    if let Err(e) = policies::write(&state.db.pool, &p, true).await {
        return refused(e);
    }
    changed(state, &principal, "policy.create", &p.name);
    applied(state).await;
    let mut resp = json_value(StatusCode::CREATED, &p.to_json());
    if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/policies/{}", p.name)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

pub(super) async fn update(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        req,
        principal,
        params,
        ..
    } = c;
    let name = params.get(0).unwrap_or_default();
    let p = stored(&json_body(state, req).await?, Some(name))?;
    if let Err(e) = policies::write(&state.db.pool, &p, false).await {
        return refused(e);
    }
    changed(state, &principal, "policy.update", &p.name);
    applied(state).await;
    Ok(json_value(StatusCode::OK, &p.to_json()))
}

pub(super) async fn delete(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let name = c.params.get(0).unwrap_or_default();
    if !policies::remove(&c.state.db.pool, name).await? {
        return Err(ApiError::NotFound(format!("no policy named {name:?}")));
    }
    changed(c.state, &c.principal, "policy.delete", name);
    applied(c.state).await;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// The dry run: would this principal be allowed to call (or list) this tool with these
/// arguments, and by which policy?
pub(super) async fn check(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call { state, req, .. } = c;
    let body = json_body(state, req).await?;
    let text = |k: &str| body.get(k).and_then(Value::as_str);
    let principal = text("principal")
        .ok_or_else(|| ApiError::bad_field("principal", "a key's id or name is required"))?;
    let tool = text("tool").ok_or_else(|| {
        ApiError::bad_field("tool", "the tool's name as the view exposes it is required")
    })?;
    let namespace = text("namespace");
    let action = match text("action") {
        None | Some("call") => Action::Call,
        Some("list") => Action::List,
        Some(_) => {
            return Err(ApiError::bad_field(
                "action",
                "\"call\" (the default) or \"list\"",
            ));
        }
    };
    let arguments = match body.get("arguments") {
        None | Some(Value::Null) => None,
        Some(a @ Value::Object(_)) => Some(a.clone()),
        Some(_) => {
            return Err(ApiError::bad_field(
                "arguments",
                "an object, as a tools/call's arguments",
            ));
        }
    };
    let (id, key) = state.auth.find_key(principal).ok_or_else(|| {
        ApiError::bad_field(
            "principal",
            format!("no key with the id or name {principal:?}"),
        )
    })?;
    if action == Action::Call {
        // A call: the gateway's own phases decide it ([`crate::mcp::phases::dry_run`]).
        let verdict = called(
            state,
            caller(id, &key),
            &key,
            namespace,
            tool,
            arguments.as_ref(),
        )
        .await;
        return Ok(json_value(StatusCode::OK, &verdict.to_json()));
    }
    let who = Subject {
        id: id.as_str().to_string(),
        name: key.name.clone(),
        scope: key.scope.as_str().to_string(),
        namespaces: key.namespaces.to_vec(),
        kind: "key",
        ..Subject::default()
    };
    // A listing: the view the key lists from, the endpoint's, or on `/mcp` for a key
    // limited to namespaces the union of theirs (as the gateway serves it), decided as
    // its `tools/list` decides ([`crate::mcp::policed::listed`]).
    let table = state.data.routing.load();
    let view = match namespace {
        None if !key.namespaces.is_empty() && key.scope != crate::store::keys::Scope::Admin => {
            Some(table.reach(&key.namespaces))
        }
        _ => table.view(namespace).cloned(),
    };
    let (server, entry) = view
        .as_ref()
        .and_then(|v| {
            v.tool(tool)
                .map(|t| (t.backend.name.to_string(), t.entry.clone()))
                .or_else(|| {
                    v.served
                        .iter()
                        .find(|s| s.name == tool)
                        .map(|s| (crate::routing::SERVED_BY.to_string(), s.entry.clone()))
                })
        })
        .unwrap_or_default();
    let rules = policies::load(&state.db.pool).await?;
    let d = match &view {
        Some(v) => crate::mcp::policed::decide_in(
            v,
            &rules,
            &who,
            action,
            (tool, &server, &entry),
            arguments.as_ref(),
        ),
        None => crate::mcp::policed::decide(
            &rules,
            &who,
            action,
            namespace,
            (tool, &server, &entry),
            arguments.as_ref(),
        ),
    };
    let mut out = d.to_json();
    out["server"] = json!((!server.is_empty()).then_some(server));
    Ok(json_value(StatusCode::OK, &out))
}

/// The dry run of a call of `tool` by `caller` (the key `key`) at `/mcp` or
/// `/mcp/{namespace}`: refused where the endpoint would refuse the key, else decided by
/// the phases.
async fn called(
    state: &State,
    caller: Principal,
    key: &crate::auth::KeyState,
    namespace: Option<&str>,
    tool: &str,
    arguments: Option<&Value>,
) -> crate::mcp::phases::dry_run::Verdict {
    use crate::mcp::phases::dry_run::{Phase, Verdict, dry_run};
    let refused = |message: String| {
        let e = crate::mcp::wire::rpc::RpcError::new(
            StatusCode::FORBIDDEN,
            crate::mcp::wire::rpc::code::INVALID_REQUEST,
            message,
        );
        Verdict::refused(Phase::Reach, e)
    };
    let now = crate::base::unix_now() as f64;
    if !key.active || key.expires_at.is_some_and(|e| e <= now) {
        return refused("the key is inactive or expired: the gateway refuses it".into());
    }
    if let Some(ns) = namespace
        && !caller.may_use(ns)
    {
        return refused(format!("this key may not use namespace {ns:?}"));
    }
    match crate::mcp::ctx::Ctx::new(&state.planes, Some(caller), namespace) {
        Some(ctx) => dry_run(&ctx, tool, arguments).await,
        None => refused(format!("no namespace {:?}", namespace.unwrap_or_default())),
    }
}

/// Dry runs between two yields of a simulation (it runs on the runtime's threads).
const SIMULATED_AT_ONCE: usize = 64;
/// When a caller turned away because another simulation runs is told to try again.
const SIMULATION_RETRY_AFTER: u64 = 5;

/// `{"name"?, "text", "namespace"?}` tried against every key and every tool it reaches,
/// today and with the change: each call decided by the dry run of the phases with each
/// set of policies by identity in the view's place
/// ([`crate::mcp::phases::dry_run::simulated`], [`crate::policy::simulate`]). One runs
/// at a time (another caller is told to retry), and each compares at most
/// [`crate::policy::simulate::MAX_COMPARED`] calls.
pub(super) async fn simulate(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call { state, req, .. } = c;
    let body = json_body(state, req).await?;
    let name = match body.get("name") {
        None | Some(Value::Null) => "simulated".to_string(),
        Some(Value::String(n)) => n.clone(),
        Some(_) => {
            return Err(ApiError::bad_field(
                "name",
                "the name of the policy the text replaces",
            ));
        }
    };
    let mut obj = body.as_object().cloned().unwrap_or_default();
    obj.insert("name".into(), Value::String(name));
    let change = stored(&Value::Object(obj), None)?;
    let (today, changed) = match policies::with_change(&state.db.pool, &change).await {
        Ok(sets) => sets,
        Err(e) => return refused(e),
    };
    let Ok(_running) = state.control.simulating.try_acquire() else {
        return Err(ApiError::OverLimit {
            message: "another policy simulation is running on this gateway (one runs at a \
                      time)"
                .into(),
            retry_after: SIMULATION_RETRY_AFTER,
        });
    };
    let tally = simulated(
        state,
        change.namespace.as_deref(),
        &today,
        &changed,
        crate::policy::simulate::MAX_COMPARED,
    )
    .await;
    Ok(json_value(StatusCode::OK, &tally.to_json()))
}

/// The caller a key makes at the gateway.
fn caller(id: crate::base::KeyId, key: &crate::auth::KeyState) -> Principal {
    Principal {
        key_id: id,
        scope: key.scope,
        namespaces: key.namespaces.clone(),
        via: crate::auth::Via::ApiKey,
        limits: key.limits,
        oauth: None,
    }
}

/// Every usable key's calls of every tool it reaches as the gateway serves it (on `/mcp`,
/// or in `namespace` for the keys that may use it), decided with `today` and with
/// `changed`, until `max` calls are compared.
async fn simulated(
    state: &State,
    namespace: Option<&str>,
    today: &crate::policy::rules::RuleSet,
    changed: &crate::policy::rules::RuleSet,
    max: usize,
) -> crate::policy::simulate::Tally {
    use crate::mcp::phases::dry_run::simulated;
    let mut tally = crate::policy::simulate::Tally::default();
    'keys: for (id, key) in state.auth.usable_keys() {
        let caller = caller(id, &key);
        if namespace.is_some_and(|ns| !caller.may_use(ns)) {
            continue;
        }
        let Some(ctx) = crate::mcp::ctx::Ctx::new(&state.planes, Some(caller), namespace) else {
            continue;
        };
        tally.keys += 1;
        let view = ctx.view.clone();
        let tools = view.tools.iter().map(|t| &t.name);
        for tool in tools.chain(view.served.iter().map(|s| &s.name)) {
            if !tally.room(max) {
                break 'keys;
            }
            let before = simulated(&ctx, tool, today).await.word();
            let after = simulated(&ctx, tool, changed).await.word();
            tally.note(&key.name, tool, before, after);
            if tally.compared % SIMULATED_AT_ONCE == 0 {
                tokio::task::yield_now().await;
            }
        }
    }
    tally
}
