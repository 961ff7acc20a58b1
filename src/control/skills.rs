//! `GET /api/v1/skills`: the skills (SEP-2640) of a view, within the caller's reach (its
//! namespaces; `?namespace=` one of them), as `skills/list` gives them over MCP: each
//! with its name, its server, the URI the view exposes it under and its description.

use super::*;

pub(super) async fn list_skills(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        req,
        principal,
        ..
    } = c;
    let p = who(&principal)?;
    let q = query_pairs(req.uri().query())?;
    if let Some((name, _)) = q.iter().find(|(k, _)| k != "namespace") {
        return Err(ApiError::bad_field(name, "unknown parameter (namespace)"));
    }
    let namespace = q
        .iter()
        .find(|(k, _)| k == "namespace")
        .map(|(_, v)| v.as_str());
    let unknown = |ns: &str| ApiError::NotFound(format!("no namespace {ns:?} for this key"));
    if let Some(ns) = namespace
        && !p.may_use(ns)
    {
        return Err(unknown(ns));
    }
    let ctx =
        crate::mcp::ctx::Ctx::new(&state.planes, Some(p.clone()), namespace).ok_or_else(|| {
            match namespace {
                Some(ns) => unknown(ns),
                None => ApiError::Unavailable("routing not ready".into()),
            }
        })?;
    let skills: Vec<Value> = ctx
        .view
        .skills
        .listed
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "server": s.backend.name,
                "uri": s.uri,
                "description": s.description,
            })
        })
        .collect();
    Ok(json_value(StatusCode::OK, &json!({"skills": skills})))
}
