//! `/api/v1/audit`, `/api/v1/usage` and `/api/v1/keys/{id}`: the call log, a key's usage,
//! and a key with its use of each limit.

use super::*;

pub(super) async fn audit(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call { state, req, .. } = c;
    let filter = audit_filter(req.uri().query())?;
    let (entries, next) = crate::store::audit::list(&state.db.pool, &filter).await?;
    Ok(json_value(
        StatusCode::OK,
        &json!({"entries": entries, "next_cursor": next}),
    ))
}

pub(super) async fn usage(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        req,
        principal,
        ..
    } = c;
    let p = who(&principal)?;
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
        Some((_, v)) => {
            crate::store::audit::When::parse(v).map_err(|e| ApiError::bad_field("since", e))?
        }
        None => crate::store::audit::When::Ago(DEFAULT_USAGE_SINCE),
    };
    let mut usage = crate::store::audit::usage(&state.db.pool, &key, &since).await?;
    // Today's count against the daily quota (kept in PostgreSQL, shared by the replicas).
    let record = state.auth.keys().show(&key).await.map_err(key_error)?;
    let eff = state.auth.limits.effective(&record.limits);
    let in_use = crate::auth::limits::replicas::key_use(
        &state.db.pool,
        &key,
        &eff,
        state.auth.limits.stream_bounds().per_key,
    )
    .await?;
    usage["daily_calls"] = in_use["daily_calls"].clone();
    usage["since"] = json!(
        q.iter()
            .find(|(k, _)| k == "since")
            .map_or("30d", |(_, v)| v)
    );
    Ok(json_value(StatusCode::OK, &usage))
}

/// `GET /api/v1/audit`'s filter from its query string.
pub(super) fn audit_filter(query: Option<&str>) -> Result<crate::store::audit::Filter, ApiError> {
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
            "parent" => f.parent = Some(v),
            other => {
                return Err(ApiError::bad_field(
                    other,
                    "unknown filter (key, server, tool, outcome, since, until, limit, cursor, \
                     parent)",
                ));
            }
        }
    }
    f.validate()
        .map_err(|(field, m)| ApiError::bad_field(field, m))?;
    Ok(f)
}

/// How far back usage goes when the request does not say.
pub(super) const DEFAULT_USAGE_SINCE: std::time::Duration =
    std::time::Duration::from_secs(30 * 86_400);

pub(super) async fn key(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        params,
        principal,
        ..
    } = c;
    let p = who(&principal)?;
    let asked = params.get(0).unwrap_or_default();
    let record = if p.is_admin() {
        state.auth.keys().show(asked).await.map_err(key_error)?
    } else {
        // A client key reads only itself, and learns nothing of other keys: only its own
        // row is looked up, and any other id or name, of a key or of none, answers alike.
        let not_itself = || ApiError::Forbidden("a client key may read only itself".into());
        let own = state
            .auth
            .keys()
            .show(p.key_id.as_str())
            .await
            .map_err(|e| match e {
                crate::store::keys::KeyError::NotFound(_) => not_itself(),
                e => key_error(e),
            })?;
        let names_itself = crate::store::keys::parse_id(asked).is_ok_and(|id| id == own.id)
            || asked.trim() == own.name;
        if !names_itself {
            return Err(not_itself());
        }
        own
    };
    let eff = state.auth.limits.effective(&record.limits);
    let in_use = crate::auth::limits::replicas::key_use(
        &state.db.pool,
        record.id.as_str(),
        &eff,
        state.auth.limits.stream_bounds().per_key,
    )
    .await?;
    let mut v = serde_json::to_value(&record)
        .map_err(|e| ApiError::Internal(format!("the key as JSON: {e}")))?;
    v["use"] = in_use;
    Ok(json_value(StatusCode::OK, &v))
}

/// A key store error as the API's.
fn key_error(e: crate::store::keys::KeyError) -> ApiError {
    use crate::store::keys::KeyError;
    match e {
        KeyError::MalformedId(_) | KeyError::NoSuchName(_) | KeyError::NotFound(_) => {
            ApiError::NotFound(e.to_string())
        }
        KeyError::Ambiguous(..) => ApiError::bad_field("id", e.to_string()),
        KeyError::Db(d) => d.into(),
        other => ApiError::Internal(other.to_string()),
    }
}
