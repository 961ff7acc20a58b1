//! `GET /api/v1/reviews`, `POST /api/v1/reviews/approve|reject`: the tool definitions
//! held for review ([`crate::pins`]) and an admin's decision on them (admin only).

use super::*;
use crate::pins::Item;

/// Every review waiting (`?server=` one server's), with the pinned and the offered
/// definition and what differs.
pub(super) async fn list(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call { state, req, .. } = c;
    let q = query_pairs(req.uri().query())?;
    if let Some((name, _)) = q.iter().find(|(k, _)| k != "server") {
        return Err(ApiError::bad_field(name, "unknown parameter (server)"));
    }
    let server = match q.iter().find(|(k, _)| k == "server") {
        Some((_, s)) => Some(state.control.registry.get_server(s).await?.id),
        None => None,
    };
    let reviews = crate::pins::store::reviews(&state.db.pool, server).await?;
    Ok(json_value(StatusCode::OK, &json!({"reviews": reviews})))
}

/// Approves (re-pins) or rejects (keeps the old pin) the held items `{"server", "tool"?,
/// "item"?}` names: `tool` names one item, a tool unless `item` is `"prompt"` (the
/// review's own `item`); without `tool`, every held item of the server (of kind `item`
/// when given). 404 when nothing of the kind is held.
pub(super) async fn decide(c: Call<'_>, approve: bool) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        req,
        principal,
        ..
    } = c;
    let body = json_body(state, req).await?;
    let obj = body.as_object().ok_or_else(|| {
        ApiError::bad_field(
            "body",
            "send {\"server\": NAME}, {\"server\": NAME, \"tool\": TOOL} or {\"server\": NAME, \"tool\": PROMPT, \"item\": \"prompt\"}",
        )
    })?;
    if let Some(k) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "server" | "tool" | "item"))
    {
        return Err(ApiError::bad_field(k, "unknown field (server, tool, item)"));
    }
    let server = obj
        .get("server")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_field("server", "the server's name, as a string"))?;
    let tool = match obj.get("tool") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.as_str()),
        Some(_) => return Err(ApiError::bad_field("tool", "the tool's name, as a string")),
    };
    let item = match obj.get("item") {
        None | Some(Value::Null) => tool.map(|_| Item::Tool),
        Some(Value::String(i)) => Some(
            Item::parse(i).ok_or_else(|| ApiError::bad_field("item", "\"tool\" or \"prompt\""))?,
        ),
        Some(_) => return Err(ApiError::bad_field("item", "\"tool\" or \"prompt\"")),
    };
    let server = state.control.registry.get_server(server).await?;
    let items = crate::pins::store::decide(&state.db.pool, server.id, item, tool, approve).await?;
    if items.is_empty() {
        let what = item.map_or("item", Item::as_str);
        return Err(ApiError::NotFound(match tool {
            Some(t) => format!(
                "no {what} of server {} named {t:?} is held for review",
                server.name
            ),
            None => format!("nothing of server {} is held for review", server.name),
        }));
    }
    let names: Vec<&str> = items.iter().map(|(_, n)| n.as_str()).collect();
    let (what, event) = match approve {
        true => ("approved", "tool.approved"),
        false => ("rejected", "tool.rejected"),
    };
    for (item, name) in &items {
        let object = format!("{}/{name}", server.name);
        changed(state, &principal, event, &object);
        state.observe.events.publish(
            event,
            crate::observe::events::fields(
                json!({"server": server.name, "tool": name, "item": item.as_str()}),
            ),
            crate::observe::events::Audience::Admin,
        );
    }
    let decided: Vec<Value> = items
        .iter()
        .map(|(item, name)| json!({"item": item.as_str(), "tool": name}))
        .collect();
    tracing::info!(server = %server.name, tools = ?names, "{what} held tool definitions");
    // This process lists them at once; the others follow the NOTIFY.
    if let Err(e) = state.reload_pins().await {
        tracing::warn!(error = %e, "pins reload after a review failed; NOTIFY will retry");
    }
    applied(state).await;
    Ok(json_value(
        StatusCode::OK,
        &json!({"server": server.name, what: names, "items": decided}),
    ))
}
