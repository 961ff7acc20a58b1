//! `/api/v1/namespaces`: list, one, create, change, remove.

use super::*;

pub(super) async fn list_namespaces(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state, principal, ..
    } = c;
    let p = who(&principal)?;
    let list: Vec<Value> = state
        .control
        .registry
        .list_namespaces()
        .await?
        .iter()
        .filter(|n| p.may_use(&n.name))
        .map(|n| namespace_json(state, n))
        .collect();
    Ok(json_value(StatusCode::OK, &Value::Array(list)))
}

pub(super) async fn get_namespace(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        params,
        principal,
        ..
    } = c;
    let param = || params.get(0).unwrap_or_default();
    let p = who(&principal)?;
    if !p.may_use(param()) {
        return Err(ApiError::NotFound(format!("no namespace {:?}", param())));
    }
    let ns = state.control.registry.get_namespace(param()).await?;
    Ok(json_value(StatusCode::OK, &namespace_json(state, &ns)))
}

pub(super) async fn create_namespace(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        req,
        principal,
        ..
    } = c;
    let body = json_body(state, req).await?;
    let ns = state.control.registry.create_namespace(&body).await?;
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

pub(super) async fn update_namespace(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        params,
        req,
        principal,
        ..
    } = c;
    let param = || params.get(0).unwrap_or_default();
    let body = json_body(state, req).await?;
    let ns = state
        .control
        .registry
        .update_namespace(param(), &body)
        .await?;
    changed(state, &principal, "namespace.update", &ns.name);
    applied(state).await;
    Ok(json_value(StatusCode::OK, &namespace_json(state, &ns)))
}

pub(super) async fn delete_namespace(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        params,
        principal,
        ..
    } = c;
    let param = || params.get(0).unwrap_or_default();
    state.control.registry.delete_namespace(param()).await?;
    changed(state, &principal, "namespace.delete", param());
    applied(state).await;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// A namespace's REST object with the problems of its view.
pub(super) fn namespace_json(state: &State, n: &Namespace) -> Value {
    let mut out = n.public_json();
    let table = state.data.routing.load();
    if let (Some(view), Value::Object(o)) = (table.view(Some(&n.name)), &mut out)
        && let Value::Object(status) = view.search_status()
    {
        o.extend(status);
    }
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
