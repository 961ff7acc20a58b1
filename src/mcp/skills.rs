//! Skills (SEP-2640) as clients use them through the gateway: `skills/list` is answered
//! from the view ([`crate::routing::skills`]); `skills/get` and
//! `resources/directory/read` are asked of the skill's owner under its own URI and
//! answered with the URIs moved back to the view's; so is `resources/read` of a skill's
//! file the view renamed (a client checks the answer names the file it asked for), the
//! bytes untouched (the client checks them against the entry's digest); a file the view
//! did not rename is forwarded like any resource read ([`resource`]). Nothing is read
//! ahead of a client's request.
//!
//! Within reach only: a URI that no skill of the caller's view holds is unknown,
//! whatever server it names, and a skill switched off in the namespace is not served.
//! A URI whose path could be read as outside its skill's folder (a dot segment, an
//! encoded slash, a backslash…), or a file the manifest does not list, is refused before
//! the owner is asked ([`crate::routing::skill_path`]).

use std::sync::Arc;

use bytes::Bytes;
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use crate::backend::Backend;
use crate::backend::http::UpstreamError;
use crate::http::Body;
use crate::jsonrpc::frame::{Frame, json_string, string_value};
use crate::jsonrpc::methods::Method;
use crate::mcp::ctx::Ctx;
use crate::mcp::lists::{Cache, list_cache, listing};
use crate::mcp::wire::rpc::{RpcError, code, envelope, json_response};
use crate::routing::View;
use crate::routing::skill_path::Refusal;
use crate::routing::skills::{Access, MAX_FILE_BYTES, Resolved, exposed_entry, exposed_uri};

fn invalid(message: impl Into<String>) -> RpcError {
    RpcError::method(code::INVALID_PARAMS, message)
}

/// A skill URI refused before its owner is asked: what and why, in the message and in
/// `data` (`{"uri", "refused"}`).
fn refused(uri: &str, why: Refusal) -> RpcError {
    let next = match why {
        Refusal::NotListed => "skills/get gives the files a skill lists",
        _ => "name a skill's files by the URIs skills/get gives, unencoded",
    };
    RpcError {
        data: Some(json!({"uri": uri, "refused": why.as_str()})),
        ..invalid(format!("{uri:?} is refused: {}; {next}", why.reason()))
    }
}

/// What `method` does with a skill's URI.
fn access(method: Option<Method>) -> Access {
    match method {
        Some(Method::ResourcesDirectoryRead) => Access::Folder,
        _ => Access::File,
    }
}

/// A skill file's owner and, when the view renamed the file, the owner's own URI as a
/// JSON string.
pub(crate) type Owner<'v> = (&'v Arc<Backend>, Option<Bytes>);

/// The owner of a skill's file `uri` and, when the view renamed it, the owner's own URI
/// as a JSON string (spliced into the request); `None` when no skill holds `uri`.
/// A switched-off skill's files, and a read of a file listed over [`MAX_FILE_BYTES`],
/// are refused.
pub(crate) fn resource<'v>(
    view: &'v View,
    uri: &str,
    method: Option<Method>,
) -> Result<Option<Owner<'v>>, RpcError> {
    if let Some(name) = view.skills.disabled(uri) {
        return Err(invalid(format!(
            "skill {name:?} is disabled in this namespace: its files cannot be read"
        )));
    }
    let Some(Resolved { skill, own, size }) = view
        .skills
        .resolve(uri, access(method))
        .map_err(|why| refused(uri, why))?
    else {
        return Ok(None);
    };
    if method == Some(Method::ResourcesRead)
        && let Some(size) = size.filter(|s| *s > MAX_FILE_BYTES)
    {
        return Err(RpcError {
            data: Some(json!({"uri": uri, "size": size, "limit": MAX_FILE_BYTES})),
            ..invalid(format!(
                "{uri} is listed at {size} bytes, over the gateway's limit of {} MiB for a skill file; ask the server's operator for a smaller skill",
                MAX_FILE_BYTES >> 20
            ))
        });
    }
    let rename = (own != uri).then(|| Bytes::from(json_string(&own)));
    Ok(Some((&skill.backend, rename)))
}

/// Whether the gateway answers this request here, asking the owner on the control path:
/// `skills/get`, `resources/directory/read`, and the `resources/read` of a skill file the
/// view renamed (the answer names the file, and a client checks it is the one it asked
/// for: the owner's URI is moved back to the view's).
pub(crate) fn answers(view: &View, body: &[u8], f: &Frame) -> bool {
    match f.kind {
        Some(Method::SkillsList | Method::SkillsGet | Method::ResourcesDirectoryRead) => true,
        Some(Method::ResourcesRead) => f
            .uri
            .and_then(|s| string_value(body, s))
            .and_then(|uri| {
                // A refused URI is refused on the route ([`resource`]).
                let resolved = view.skills.resolve(&uri, Access::File).ok()??;
                Some(resolved.own != uri)
            })
            .unwrap_or(false),
        _ => false,
    }
}

/// `skills/get`, `resources/directory/read` or a renamed file's `resources/read`: asked of the owner, answered with the
/// view's URIs and the caching hints of the caller's era.
pub(crate) async fn answer(ctx: &Ctx, body: &Bytes, f: &Frame) -> Result<Response<Body>, RpcError> {
    let method = f.method(body).unwrap_or_default();
    let view = &ctx.view;
    if !view.skills.offered {
        // As for any method the view does not serve (404 in the stateless era).
        let status = ctx.not_found_status();
        return Err(RpcError::new(
            status,
            code::METHOD_NOT_FOUND,
            format!("method not found: {method} (no server of this view offers skills)"),
        ));
    }
    if f.is(Method::SkillsList) {
        let page = listing(&view.skills.listed, "skills", body, f)?;
        return Ok(reply(ctx, body, f, page, Some(list_cache(ctx))));
    }
    let uri = f
        .uri
        .and_then(|s| string_value(body, s))
        .ok_or_else(|| invalid(format!("{method} needs params.uri")))?;
    if let Some(name) = view.skills.disabled(&uri) {
        return Err(invalid(format!(
            "skill {name:?} is disabled in this namespace"
        )));
    }
    let mut cache = Some(list_cache(ctx));
    let result = if f.is(Method::ResourcesRead) {
        let Some((backend, _)) = resource(view, &uri, f.kind)? else {
            return Err(invalid(format!("unknown resource {uri:?}")));
        };
        let Some(Resolved { skill, own, .. }) = view
            .skills
            .resolve(&uri, Access::File)
            .map_err(|why| refused(&uri, why))?
        else {
            return Err(invalid(format!("unknown resource {uri:?}")));
        };
        let mut got = ask(backend, method, json!({"uri": own})).await?;
        for c in got["contents"].as_array_mut().into_iter().flatten() {
            if let Some(u) = c["uri"].as_str().and_then(|u| exposed_uri(skill, u)) {
                c["uri"] = Value::String(u);
            }
        }
        // A file's answer is not the gateway's list: not cacheable by its hints.
        cache = None;
        json!({"contents": got["contents"].take()})
    } else if f.is(Method::SkillsGet) {
        let skill = view.skills.get(&uri).ok_or_else(|| {
            invalid(format!(
                "unknown skill {uri:?}: skills/list gives the skills of this view"
            ))
        })?;
        let got = ask(&skill.backend, method, json!({"uri": skill.own})).await?;
        let entry = exposed_entry(skill, &got["skill"]).map_err(|why| {
            RpcError::method(
                code::INTERNAL,
                format!(
                    "server {} answered skills/get with an entry the gateway cannot serve: {why}",
                    skill.backend.name
                ),
            )
        })?;
        json!({"skill": entry})
    } else {
        let Some(Resolved { skill, own, .. }) = view
            .skills
            .resolve(&uri, Access::Folder)
            .map_err(|why| refused(&uri, why))?
        else {
            return Err(invalid(format!(
                "{uri:?} is not a directory of a skill of this view"
            )));
        };
        if !skill.directory_read {
            return Err(invalid(format!(
                "{uri:?} cannot be listed: server {} does not offer directory reads",
                skill.backend.name
            )));
        }
        let mut params = json!({"uri": own});
        if let Some(c) = f.cursor.and_then(|s| string_value(body, s)) {
            params["cursor"] = Value::String(c.into_owned());
        }
        let mut got = ask(&skill.backend, method, params).await?;
        let children: Vec<Value> = got["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let mut r = r.clone();
                r["uri"] = Value::String(exposed_uri(skill, r["uri"].as_str()?)?);
                Some(r)
            })
            .collect();
        let mut out = json!({"resources": children});
        if let Some(c) = got.get_mut("nextCursor").filter(|c| c.is_string()) {
            out["nextCursor"] = c.take();
        }
        out
    };
    Ok(reply(ctx, body, f, Bytes::from(result.to_string()), cache))
}

/// The response carrying `result`, with the hints of the caller's era.
fn reply(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    result: Bytes,
    cache: Option<Cache>,
) -> Response<Body> {
    let id = f.id.map_or(&b"null"[..], |s| s.of(body));
    let result = ctx.stamped(result, cache);
    json_response(StatusCode::OK, envelope(id, "result", &result))
}

/// The owner's `result`: its JSON-RPC error passed on as it is (its `-32602` for a
/// URI that is no directory among them), any other failure said as the server's.
async fn ask(backend: &Backend, method: &str, params: Value) -> Result<Value, RpcError> {
    backend
        .skills_call(method, params)
        .await
        .map_err(|e| match e {
            UpstreamError::Rpc { code, message } => RpcError::method(code, message),
            other => RpcError::method(
                code::INTERNAL,
                format!("server {} could not answer {method}: {other}", backend.name),
            ),
        })
}
