//! `GET /api/v1/tools/search`: tool search over REST, within the caller's reach (its
//! namespaces; `?namespace=` one of them). It works whatever a view's search mode is: the
//! mode changes only what `tools/list` gives.

use super::*;

pub(super) async fn search_tools(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        req,
        principal,
        ..
    } = c;
    let p = who(&principal)?;
    let q = query_pairs(req.uri().query())?;
    if let Some((name, _)) = q
        .iter()
        .find(|(k, _)| !matches!(k.as_str(), "q" | "limit" | "namespace"))
    {
        return Err(ApiError::bad_field(
            name,
            "unknown parameter (q, limit, namespace)",
        ));
    }
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let query = get("q").ok_or_else(|| {
        ApiError::bad_field("q", "say what the tool should do: ?q=create+a+branch")
    })?;
    crate::search::check_query(query).map_err(|e| ApiError::bad_field("q", e))?;
    let limit = match get("limit") {
        None => None,
        Some(l) => Some(l.parse::<u64>().ok().filter(|l| *l >= 1).ok_or_else(|| {
            ApiError::bad_field("limit", "a whole number from 1 (at most 50 are given)")
        })?),
    };
    let namespace = get("namespace");
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
    let who = crate::mcp::policed::subject(state, ctx.principal.as_ref());
    let results: Vec<Value> = ctx
        .view
        .search(query, crate::search::clamp_limit(limit))
        .await
        .into_iter()
        .filter(|(t, _, _)| {
            ctx.view.rules.as_ref().is_none_or(|r| {
                crate::mcp::policed::listed(&ctx, r, &who, &t.name, &t.backend.name, &t.entry)
            })
        })
        .map(|(t, score, confidence)| {
            let entry: Value = serde_json::from_slice(&t.entry).unwrap_or(Value::Null);
            json!({
                "name": t.name,
                "server": t.backend.name,
                "title": entry["title"].as_str().or(entry["annotations"]["title"].as_str()),
                "description": entry["description"],
                "score": (f64::from(score) * 1000.0).round() / 1000.0,
                "confidence": confidence.as_str(),
            })
        })
        .collect();
    // The calls this key makes next (over MCP or REST) are this search's pairs.
    if let Some(learning) = &ctx.view.learning {
        let shown = results
            .iter()
            .filter_map(|r| r["name"].as_str())
            .map(String::from);
        let asker = crate::search::learning::Asker {
            key: p.key_id,
            thread: crate::search::learning::thread_of(None, &ctx.conversation, p.key_id),
        };
        learning.searched(ctx.view.learned_as(), &asker, query, shown.collect());
    }
    Ok(json_value(
        StatusCode::OK,
        &json!({"query": query, "results": results}),
    ))
}
