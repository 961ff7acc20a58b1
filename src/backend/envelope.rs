//! The 2026-07-28 revision as a backend hears it, whatever carries it (the Streamable
//! HTTP arm and the stdio arm both speak it): the envelope every request carries in
//! `params._meta` (the protocol version, the client's capabilities and info, the log
//! level), the gateway's own requests made 2026 ones, the tool arguments a backend also
//! takes as `Mcp-Param-*` headers, what the backend's `subscriptions/listen` asks for,
//! and the resources it follows for session clients.
//!
//! Why the era is a flag of the Http and Stdio arms of [`super::transport::Transport`]
//! and not an arm of its own: the era is negotiated per backend when it connects (a
//! dual-era server answers both `server/discover` and `initialize`) and can change when
//! it is reconnected, while everything else of the arm stays: the pooled connections,
//! resumption and redirects of HTTP, the child, its pipes and supervision of stdio. An
//! arm per era would be two more arms that repeat those; what differs is the envelope and
//! the headers, which live here and in `http::modern`. Measured (lines, at the Method
//! and Call change): the HTTP arm's shared machinery is some 2,290 lines (`http/`:
//! `mod`, `transport`, `pool`, `resume`, `joined`, `bearer`) and stdio's 790, against
//! 570 that depend on the era (this file and `http/modern.rs`); the flag is read at 20
//! lines of code in `http/transport.rs`, `http/mod.rs` and `stdio.rs`. Above `backend/`,
//! only the bridge's chooser (`mcp/era/bridge/mod.rs`) asks it.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::jsonrpc::frame;
use crate::jsonrpc::methods::Method;

/// The revision, as `MCP-Protocol-Version` and `_meta` name it.
pub const VERSION: &str = "2026-07-28";

pub(crate) const VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
pub(crate) const CAPS_KEY: &str = "io.modelcontextprotocol/clientCapabilities";
pub(crate) const INFO_KEY: &str = "io.modelcontextprotocol/clientInfo";

/// The envelope of the gateway's own requests (probe, lists, listen): the capabilities
/// it routes to its clients.
pub fn own_meta() -> Value {
    json!({
        VERSION_KEY: VERSION,
        CAPS_KEY: crate::base::ClientCaps::declared(crate::base::ClientCaps::ALL),
        INFO_KEY: {"name": "metamcp", "version": env!("CARGO_PKG_VERSION")},
    })
}

/// The envelope members (no braces) added to a session-era client's request: its
/// capabilities (`caps`, a JSON object) and the log level its session set, if any.
pub fn envelope(caps: &str, log_level: Option<&str>) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + caps.len());
    out.extend_from_slice(b"\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\",");
    out.extend_from_slice(b"\"io.modelcontextprotocol/clientCapabilities\":");
    out.extend_from_slice(caps.as_bytes());
    out.extend_from_slice(
        concat!(
            r#","io.modelcontextprotocol/clientInfo":{"name":"metamcp","version":""#,
            env!("CARGO_PKG_VERSION"),
            r#""}"#
        )
        .as_bytes(),
    );
    if let Some(level) = log_level {
        out.extend_from_slice(b",\"io.modelcontextprotocol/logLevel\":");
        out.extend_from_slice(&frame::json_string(level));
    }
    out
}

/// A header value as SEP-2243 sends it: as it is when it is printable ASCII without
/// whitespace at its ends and not shaped like the Base64 form; else that form,
/// `=?base64?<standard, padded Base64 of its UTF-8>?=`.
pub fn header_value(v: &str) -> Cow<'_, str> {
    let printable = v.bytes().all(|b| (0x20..=0x7e).contains(&b));
    let edge_space = v.starts_with([' ', '\t']) || v.ends_with([' ', '\t']);
    let sentinel = v.starts_with("=?") && v.ends_with("?=");
    let plain = printable && !edge_space && !sentinel;
    if plain {
        Cow::Borrowed(v)
    } else {
        Cow::Owned(format!(
            "=?base64?{}?=",
            crate::crypto::base64_padded(v.as_bytes())
        ))
    }
}

/// The arguments a tool also takes as `Mcp-Param-*` headers (SEP-2243): each valid
/// `x-mcp-header` of its input schema, on a string, integer or boolean property directly
/// under `properties`, naming an RFC 9110 token not named twice (case-insensitively),
/// as (property, header name after `Mcp-Param-`). Invalid ones are left out (clients
/// drop such tools: [`header_params_valid`]).
pub fn header_params(tool: &Value) -> Arc<[(String, String)]> {
    Arc::from(declared_headers(tool).0)
}

/// Whether every `x-mcp-header` of a tool's input schema is valid; a client drops a tool
/// with an invalid one from its lists (so does the gateway, as a client of its backends).
pub fn header_params_valid(tool: &Value) -> bool {
    declared_headers(tool).1
}

fn declared_headers(tool: &Value) -> (Vec<(String, String)>, bool) {
    let Some(props) = tool["inputSchema"]["properties"].as_object() else {
        return (Vec::new(), true);
    };
    let token = |h: &str| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let mut out: Vec<(String, String)> = Vec::new();
    let mut valid = true;
    for (name, p) in props {
        let Some(declared) = p.get("x-mcp-header") else {
            continue;
        };
        let Some(h) = declared.as_str() else {
            valid = false;
            continue;
        };
        let typed = matches!(p["type"].as_str(), Some("string" | "integer" | "boolean"));
        if typed && token(h) && !out.iter().any(|(_, o)| o.eq_ignore_ascii_case(h)) {
            out.push((name.clone(), h.to_string()));
        } else {
            valid = false;
        }
    }
    (out, valid)
}

/// The gateway's own request `method` with `params` made a 2026-07-28 one: its envelope
/// added to `params._meta`, and a `ping` (which the revision removed) made a
/// `server/discover`; the method to send.
pub fn enveloped<'a>(method: &'a str, params: &mut Value) -> &'a str {
    if !params.is_object() {
        *params = json!({});
    }
    let meta = &mut params["_meta"];
    if !meta.is_object() {
        *meta = json!({});
    }
    if let (Some(m), Value::Object(own)) = (meta.as_object_mut(), own_meta()) {
        for (k, v) in own {
            m.entry(k).or_insert(v);
        }
    }
    if Method::parse(method) == Some(Method::Ping) {
        Method::ServerDiscover.as_str()
    } else {
        method
    }
}

/// Whether a `server/discover` result, or the data of an error refusing a version,
/// names 2026-07-28 among the versions served.
pub fn lists_ours(versions: &Value) -> bool {
    versions
        .as_array()
        .is_some_and(|v| v.iter().any(|v| v == VERSION))
}

/// What a `subscriptions/listen` asks for: the list changes the backend's capabilities
/// promise (`listChanged`) and the resources `uris`; `None` when that is nothing.
pub fn listen_params(caps: &Value, uris: &[String]) -> Option<Value> {
    let changes = |k: &str| caps[k]["listChanged"] == json!(true);
    let mut wanted = serde_json::Map::new();
    for (cap, member) in [
        ("tools", "toolsListChanged"),
        ("prompts", "promptsListChanged"),
        ("resources", "resourcesListChanged"),
    ] {
        if changes(cap) {
            wanted.insert(member.to_string(), Value::Bool(true));
        }
    }
    if !uris.is_empty() {
        wanted.insert("resourceSubscriptions".into(), json!(uris));
    }
    (!wanted.is_empty()).then(|| json!({"notifications": wanted}))
}

/// Resources of one 2026-07-28 backend followed at once.
pub const MAX_WATCHED: usize = 1024;

/// The resources of a 2026-07-28 backend that session clients follow (their
/// `resources/subscribe`): its listen asks for their updates.
#[derive(Default)]
pub struct Watched(std::sync::Mutex<std::collections::BTreeSet<String>>);

impl Watched {
    /// Follows (`on`) or stops following `uri`; whether the set changed. At most
    /// [`MAX_WATCHED`] are followed.
    pub fn set(&self, uri: &str, on: bool) -> Result<bool, String> {
        let mut watched = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !on {
            return Ok(watched.remove(uri));
        }
        if watched.len() >= MAX_WATCHED && !watched.contains(uri) {
            return Err(format!(
                "the gateway follows at most {MAX_WATCHED} of this server's resources"
            ));
        }
        Ok(watched.insert(uri.to_string()))
    }

    /// The followed resources.
    pub fn uris(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}
