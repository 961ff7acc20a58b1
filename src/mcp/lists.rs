//! Answers the gateway makes itself: lists from the routing table, paged; capabilities;
//! `initialize` and `server/discover`.

use bytes::{Bytes, BytesMut};
use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use crate::auth::session::{self, ClientCaps, SessionClaims};
use crate::base::unix_now;
use crate::crypto::{base64url, base64url_decode};
use crate::http::Body;
use crate::jsonrpc::frame::{self, Frame, string_value};
use crate::mcp::ctx::Ctx;
use crate::mcp::wire::rpc::{RpcError, STATELESS_RESULT_MEMBERS, code, envelope, json_response};
use crate::mcp::wire::versions::{SESSION_VERSIONS, STATELESS_VERSION};
use crate::routing::{Listed, View};

/// Items per page of a list.
pub const PAGE: usize = 200;

/// Adds [`STATELESS_RESULT_MEMBERS`] to a result made by the gateway itself.
/// How long a client may reuse an answer the gateway makes from its own lists, and
/// whether it may be shared between callers (2026-07-28 caching hints).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cache {
    pub ttl_ms: u64,
    pub public: bool,
}

/// The caching hints of this caller's lists: the gateway's list TTL (it learns of every
/// change it will serve: backends' `list_changed`, reconnections, registry changes), and
/// `public` only for the unnarrowed view every caller shares.
pub(crate) fn list_cache(ctx: &Ctx) -> Cache {
    Cache {
        ttl_ms: u64::try_from(ctx.state.config.list_ttl.as_millis()).unwrap_or(u64::MAX),
        public: !ctx.is_narrowed(),
    }
}

/// `result` with the stateless era's members first: `resultType`, caching hints (`cache`,
/// or "not cacheable": 0 ms, private) and the gateway's `serverInfo`.
pub(crate) fn with_hints(result: Bytes, stateless: bool, cache: Option<Cache>) -> Bytes {
    if !stateless || result.first() != Some(&b'{') {
        return result;
    }
    let mut out = BytesMut::with_capacity(result.len() + STATELESS_RESULT_MEMBERS.len() + 24);
    out.extend_from_slice(b"{");
    match cache {
        None => out.extend_from_slice(STATELESS_RESULT_MEMBERS),
        Some(c) => {
            // The same members with the hints replaced.
            let members = std::str::from_utf8(STATELESS_RESULT_MEMBERS).unwrap_or_default();
            let rest = members
                .split_once(r#""cacheScope":"private","#)
                .map_or(members, |(_, r)| r);
            out.extend_from_slice(
                format!(
                    r#""resultType":"complete","ttlMs":{},"cacheScope":"{}","#,
                    c.ttl_ms,
                    if c.public { "public" } else { "private" }
                )
                .as_bytes(),
            );
            out.extend_from_slice(rest.as_bytes());
        }
    }
    if result.len() > 2 {
        out.extend_from_slice(b",");
    }
    out.extend_from_slice(&result[1..]);
    out.freeze()
}

pub(crate) fn cursor<'a>(
    body: &'a [u8],
    f: &Frame,
) -> Result<Option<std::borrow::Cow<'a, str>>, RpcError> {
    Ok(f.cursor.and_then(|s| string_value(body, s)))
}

/// One page of a list: `{"<field>":[…],"nextCursor":…}` from prebuilt entries.
/// One page of a list method's answer: the entries this client may reach.
pub(crate) fn listing<T: Listed>(
    items: &[T],
    field: &str,
    body: &[u8],
    f: &Frame,
) -> Result<Bytes, RpcError> {
    page(items.iter().map(Listed::entry), field, cursor(body, f)?)
}

pub(crate) fn page<'a>(
    entries: impl Iterator<Item = &'a Bytes>,
    field: &str,
    cursor: Option<std::borrow::Cow<'_, str>>,
) -> Result<Bytes, RpcError> {
    let invalid = || RpcError::method(code::INVALID_PARAMS, "invalid cursor");
    let start = match cursor {
        None => 0,
        Some(c) => {
            let raw = base64url_decode(&c).ok_or_else(invalid)?;
            let text = std::str::from_utf8(&raw).map_err(|_| invalid())?;
            text.strip_prefix("o:")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(invalid)?
        }
    };
    let mut out = BytesMut::with_capacity(4096);
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(b"\":[");
    let mut n = 0;
    let mut more = false;
    for e in entries.skip(start) {
        if n == PAGE {
            more = true;
            break;
        }
        if n > 0 {
            out.extend_from_slice(b",");
        }
        out.extend_from_slice(e);
        n += 1;
    }
    if n == 0 && start > 0 && !more {
        return Err(invalid());
    }
    out.extend_from_slice(b"]");
    if more {
        let next = base64url(format!("o:{}", start + PAGE).as_bytes());
        out.extend_from_slice(b",\"nextCursor\":\"");
        out.extend_from_slice(next.as_bytes());
        out.extend_from_slice(b"\"");
    }
    out.extend_from_slice(b"}");
    Ok(out.freeze())
}

/// The capabilities of a caller that declared fewer than the gateway routes (a
/// session's, or a stateless request's own): some backends may offer it less. `None`
/// when nothing narrows: REST callers, and clients that declared everything.
fn narrowing_caps(ctx: &Ctx, body: &[u8], f: &Frame) -> Option<u8> {
    let caps = ctx.caps_of(body, f)?;
    (caps != ClientCaps::ALL).then_some(caps)
}

/// `tools/list` for a caller some backends offer fewer tools than they list to the
/// gateway (they choose from the capabilities their client declared; see
/// [`crate::backend::variants`]): the view's tools less those. `None` when no backend
/// of the view hides anything from this caller (the shared listing serves it).
pub(crate) async fn tools_for(
    ctx: &Ctx,
    body: &[u8],
    f: &Frame,
) -> Result<Option<Bytes>, RpcError> {
    let Some(caps) = narrowing_caps(ctx, body, f) else {
        return Ok(None);
    };
    let members: Vec<_> = ctx
        .view
        .members
        .iter()
        .filter_map(|id| ctx.state.data.backends.get(id))
        .filter(|b| b.varies() && b.status() == crate::backend::Status::Running)
        .collect();
    if members.is_empty() {
        return Ok(None);
    }
    let hidden = futures_util::future::join_all(members.iter().map(|b| b.hidden_tools(caps))).await;
    let hidden: std::collections::HashMap<uuid::Uuid, _> = members
        .iter()
        .map(|b| b.id)
        .zip(hidden)
        .filter(|(_, h)| !h.is_empty())
        .collect();
    if hidden.is_empty() {
        return Ok(None);
    }
    let offered = ctx.view.tools.iter().filter(|t| {
        !hidden
            .get(&t.backend.id)
            .is_some_and(|h| h.contains(&t.original))
    });
    let served = ctx.view.served.iter().map(|s| &s.entry);
    page(
        offered.map(Listed::entry).chain(served),
        "tools",
        cursor(body, f)?,
    )
    .map(Some)
}

/// What the gateway offers: the union of its backends, under its own name.
/// `session`: for a session client (`initialize`); a 2026-07-28 client's discovery has
/// no `tasks` member (the revision moved tasks to an extension).
pub(crate) fn capabilities(view: &View, session: bool) -> Value {
    let mut caps = json!({
        "tools": {"listChanged": true},
        "prompts": {"listChanged": true},
        "resources": {"listChanged": true, "subscribe": view.subscribe},
        "logging": {},
    });
    if view.completions {
        caps["completions"] = json!({});
    }
    if view.tasks && session {
        caps["tasks"] = json!({"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}});
    }
    // Extensions (SEP-2133): only those the gateway handles; a member's others are not
    // offered, as the gateway could not route what they add.
    let mut extensions = serde_json::Map::new();
    if view.tasks && !session {
        // The 2026-07-28 revision's tasks are an extension (SEP-2663).
        extensions.insert(crate::routing::TASKS_EXTENSION.into(), json!({}));
    }
    if view.apps {
        extensions.insert(crate::routing::UI_EXTENSION.into(), json!({}));
    }
    if view.skills.offered {
        // `directoryRead` when a member offering skills serves it: its skills' folders
        // can be listed (another's answer -32602, naming the server).
        let settings = match view.skills.directory_read {
            true => json!({"directoryRead": true}),
            false => json!({}),
        };
        extensions.insert(crate::backend::skills::SKILLS_EXTENSION.into(), settings);
    }
    if !extensions.is_empty() {
        caps["extensions"] = Value::Object(extensions);
    }
    caps
}

pub(crate) fn server_info() -> Value {
    json!({"name": "metamcp", "version": env!("CARGO_PKG_VERSION")})
}

/// The gateway's own line, first in every `instructions`.
const GATEWAY_INSTRUCTIONS: &str =
    "metamcp aggregates several MCP servers; tool and prompt names are <server>__<name>.";
/// The most the combined `instructions` may hold, in bytes.
pub const MAX_COMBINED_INSTRUCTIONS: usize = 32 * 1024;

/// The view's `instructions`: the gateway's line, then each member server's own (as it
/// gave them at `initialize`, each cut to 8 KiB), under a heading naming the server,
/// within [`MAX_COMBINED_INSTRUCTIONS`]; servers that no longer fit are named.
pub(crate) fn instructions(ctx: &Ctx) -> String {
    let mut out = String::from(GATEWAY_INSTRUCTIONS);
    let mut left_out = Vec::new();
    for id in &ctx.view.members {
        let Some(backend) = ctx.state.data.backends.get(id) else {
            continue;
        };
        let Some(text) = backend.instructions() else {
            continue;
        };
        let section = format!("\n\n## {}\n{}", backend.name, text);
        if out.len() + section.len() <= MAX_COMBINED_INSTRUCTIONS {
            out.push_str(&section);
        } else {
            left_out.push(backend.name.clone());
        }
    }
    if !left_out.is_empty() {
        let named = left_out.len().min(8);
        let more = left_out.len() - named;
        out.push_str(&format!(
            "\n\n(The instructions of {}{} are left out: the combined instructions are at most {} KiB.)",
            left_out[..named].join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() },
            MAX_COMBINED_INSTRUCTIONS / 1024
        ));
    }
    out
}

pub(crate) fn discover(ctx: &Ctx) -> Value {
    let mut versions = vec![STATELESS_VERSION];
    versions.extend_from_slice(SESSION_VERSIONS);
    json!({
        "supportedVersions": versions,
        "capabilities": capabilities(&ctx.view, false),
        "serverInfo": server_info(),
        "instructions": instructions(ctx),
    })
}

pub(crate) fn initialize(ctx: &Ctx, body: &Bytes, f: &Frame) -> Result<Response<Body>, RpcError> {
    let id = f.id.map_or(&b"null"[..], |s| s.of(body));
    if f.id.is_none() {
        return Err(RpcError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            "initialize needs an id",
        ));
    }
    let asked = f
        .protocol_version
        .and_then(|s| string_value(body, s))
        .unwrap_or_default();
    let version = if SESSION_VERSIONS.contains(&asked.as_ref()) {
        asked.to_string()
    } else {
        SESSION_VERSIONS[0].to_string()
    };
    let caps = f
        .params
        .and_then(|p| frame::container_span(body, p.start))
        .map_or(0, |p| session::ClientCaps::from_params(p.of(body)));
    let now = unix_now();
    let claims = SessionClaims {
        kid: ctx.kid().to_string(),
        ns: ctx.namespace.clone(),
        v: version.clone(),
        c: caps,
        iat: now,
        exp: now + ctx.state.config.session_ttl.as_secs(),
    };
    let session_id = session::seal(&ctx.state.cipher, &claims);
    let result = json!({
        "protocolVersion": version,
        "capabilities": capabilities(&ctx.view, true),
        "serverInfo": server_info(),
        "instructions": instructions(ctx),
    });
    let mut resp = json_response(
        StatusCode::OK,
        envelope(id, "result", result.to_string().as_bytes()),
    );
    if let Ok(v) = HeaderValue::from_str(&session_id) {
        resp.headers_mut().insert("mcp-session-id", v);
    }
    Ok(resp)
}

#[cfg(test)]
mod pages {
    use super::{Cache, PAGE, page, with_hints};
    use crate::crypto::base64url;
    use bytes::Bytes;
    use serde_json::{Value, json};

    #[test]
    fn pages_and_cursors() {
        let entries: Vec<Bytes> = (0..450).map(|i| Bytes::from(format!("{i}"))).collect();
        let first = page(entries.iter(), "tools", None).unwrap();
        let v: Value = serde_json::from_slice(&first).unwrap();
        assert_eq!(v["tools"].as_array().unwrap().len(), PAGE);
        let c = v["nextCursor"].as_str().unwrap().to_string();
        let second: Value =
            serde_json::from_slice(&page(entries.iter(), "tools", Some(c.into())).unwrap())
                .unwrap();
        assert_eq!(second["tools"][0], 200);
        let c = second["nextCursor"].as_str().unwrap().to_string();
        let third: Value =
            serde_json::from_slice(&page(entries.iter(), "tools", Some(c.into())).unwrap())
                .unwrap();
        assert_eq!(third["tools"].as_array().unwrap().len(), 50);
        assert!(third.get("nextCursor").is_none());
        for bad in ["!!", "bm9wZQ", &base64url(b"o:9999")] {
            assert!(
                page(entries.iter(), "tools", Some(bad.into())).is_err(),
                "{bad}"
            );
        }
        let empty: Vec<Bytes> = vec![];
        assert_eq!(
            &page(empty.iter(), "prompts", None).unwrap()[..],
            b"{\"prompts\":[]}"
        );
    }

    #[test]
    fn result_type_is_added_for_stateless_clients() {
        let empty: Value =
            serde_json::from_slice(&with_hints(Bytes::from_static(b"{}"), true, None)).unwrap();
        assert_eq!(
            empty,
            json!({"resultType": "complete", "ttlMs": 0, "cacheScope": "private",
                   "_meta": {"io.modelcontextprotocol/serverInfo":
                             {"name": "metamcp", "version": env!("CARGO_PKG_VERSION")}}})
        );
        let one: Value =
            serde_json::from_slice(&with_hints(Bytes::from_static(b"{\"a\":1}"), true, None))
                .unwrap();
        assert_eq!(
            (one["a"].as_i64(), one["resultType"].as_str()),
            (Some(1), Some("complete"))
        );
        assert_eq!(
            &with_hints(Bytes::from_static(b"{}"), false, None)[..],
            b"{}"
        );
    }

    #[test]
    fn lists_carry_the_gateways_caching_hints() {
        let hinted = |public| {
            let c = Cache {
                ttl_ms: 60_000,
                public,
            };
            serde_json::from_slice::<Value>(&with_hints(
                Bytes::from_static(b"{\"tools\":[]}"),
                true,
                Some(c),
            ))
            .unwrap()
        };
        let shared = hinted(true);
        assert_eq!(
            (
                &shared["ttlMs"],
                &shared["cacheScope"],
                &shared["resultType"]
            ),
            (&json!(60_000), &json!("public"), &json!("complete"))
        );
        assert_eq!(shared["tools"], json!([]));
        assert_eq!(
            shared["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
            "metamcp"
        );
        assert_eq!(hinted(false)["cacheScope"], "private");
    }
}
