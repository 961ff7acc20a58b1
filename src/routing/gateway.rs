//! Tools the gateway serves itself. A gateway tool is one type implementing
//! [`GatewayTool`] (its name, its definition, which views offer it, and its call),
//! registered with one line (`app::gateway_tools`). It is listed like any tool, under
//! the server name [`SERVED_BY`] (`metamcp__<name>`, or the bare name under
//! `tool_prefix: never`), and is subject to what a backend's tool is: a view offers it
//! or not (reach), a namespace's override renames, describes, rates or disables it
//! (keyed `metamcp__<name>`), and a call is charged to the caller's limits before it
//! runs.
//!
//! A gateway tool wins its name: a backend's tool exposed under the same name is hidden,
//! and the view reports the clash (as it does for two backends).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use super::{Exposure, Problem, ToolRate, View, exposure};
use crate::base::KeyId;
use crate::model::Namespace;

/// The server name gateway tools are listed under.
pub const SERVED_BY: &str = crate::model::names::GATEWAY_NAME;

/// What one call of a gateway tool is given.
pub struct GatewayCall<'a> {
    /// The caller's view: what it reaches.
    pub view: &'a Arc<View>,
    /// `params.arguments` as sent (empty when absent).
    pub arguments: &'a serde_json::Map<String, Value>,
    /// The calling key (or token identity); `None` for an open namespace's anonymous caller.
    pub caller: Option<KeyId>,
    /// Whether the caller may see a tool, when policies by identity apply to it
    /// ([`crate::policy::rules`]); `None`: every tool of the view.
    pub listed: Option<&'a (dyn Fn(&super::Exposed) -> bool + Sync)>,
    /// Who called, and the thread their next calls come in, when the view's search
    /// learns from them ([`crate::search::learning`]).
    pub asker: Option<crate::search::learning::Asker>,
}

/// A call refused: a JSON-RPC error (`code`, `message`) for the client.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolError {
    pub code: i64,
    pub message: String,
}

impl ToolError {
    /// `-32602`: the arguments are not what the tool takes.
    pub fn invalid(message: impl Into<String>) -> ToolError {
        ToolError {
            code: -32602,
            message: message.into(),
        }
    }
}

/// A call's outcome: a `CallToolResult` object (a tool's own failure is a result with
/// `isError: true`), or an error for the client.
pub type Called<'a> = Pin<Box<dyn Future<Output = Result<Value, ToolError>> + Send + 'a>>;

/// A tool the gateway serves itself.
pub trait GatewayTool: Send + Sync {
    /// Its own name (exposed as `metamcp__<name>`): `^[A-Za-z0-9_-]{1,48}$`.
    fn name(&self) -> &str;
    /// Its listing entry without the name: `description`, `inputSchema`, and any other
    /// member of a `Tool` (`annotations`, `outputSchema`, `title`).
    fn definition(&self) -> Value;
    /// Whether the view of `namespace` (`None`: `/mcp`, every server) offers it.
    fn offered(&self, namespace: Option<&Namespace>) -> bool {
        let _ = namespace;
        true
    }
    /// A tool of tool search: offered only in views whose search is on, under its own
    /// name (no server prefix, no overrides).
    fn search_tool(&self) -> bool {
        false
    }
    /// Runs one call.
    fn call<'a>(&'a self, call: GatewayCall<'a>) -> Called<'a>;
}

/// A gateway tool as one view exposes it.
#[derive(Clone)]
pub struct Served {
    /// The exposed name (overrides applied).
    pub name: String,
    pub tool: Arc<dyn GatewayTool>,
    /// The listing entry, serialised once.
    pub entry: Bytes,
    /// A per-key rate the namespace sets for this tool.
    pub rate: Option<ToolRate>,
    /// Its `inputSchema`, compiled, when the view checks arguments.
    pub schema: Option<Arc<crate::policy::schema::Schema>>,
}

/// Adds the gateway tools `tools` offered in `ns`'s view to `view`, applying the
/// namespace's overrides; keys of the overrides used are added to `matched`.
pub(super) fn add<'n>(
    view: &mut View,
    tools: &[Arc<dyn GatewayTool>],
    ns: Option<&'n Namespace>,
    validate: bool,
    matched: &mut std::collections::HashSet<&'n str>,
) {
    for tool in tools.iter().filter(|t| t.offered(ns)) {
        let (name, o) = match tool.search_tool() {
            true => (tool.name().to_string(), None),
            false => match exposure(SERVED_BY, tool.name(), ns, matched) {
                Exposure::Disabled(name) => {
                    view.disabled.insert(name);
                    continue;
                }
                // The gateway's tools' names have no `__`: no key of a member's is theirs.
                Exposure::Claimed { .. } => continue,
                Exposure::Exposed(name, o) => (name, o),
            },
        };
        if view.served_index.contains_key(&name) {
            view.errors.push(Problem {
                servers: vec![],
                message: format!("two gateway tools are exposed as {name:?}; the second is hidden"),
            });
            continue;
        }
        let mut entry = match tool.definition() {
            Value::Object(m) => Value::Object(m),
            _ => serde_json::json!({}),
        };
        let schema = validate
            .then(|| super::compiled(&entry, SERVED_BY))
            .flatten();
        entry["name"] = Value::String(name.clone());
        if let Some(d) = o.and_then(|o| o.description.clone()) {
            entry["description"] = Value::String(d);
        }
        let rate = o.and_then(|o| o.rate).zip(ns).map(|(rate, ns)| ToolRate {
            rate,
            id: Arc::from(format!("{}/{name}", ns.name)),
        });
        view.served_index.insert(name.clone(), view.served.len());
        view.served.push(Served {
            name,
            tool: tool.clone(),
            entry: Bytes::from(entry.to_string()),
            rate,
            schema,
        });
    }
}

/// A backend's tool exposed as `name`, which a gateway tool already is: hidden.
pub(super) fn clash(view: &mut View, name: &str, server: &str) -> bool {
    if !view.served_index.contains_key(name) {
        return false;
    }
    view.errors.push(Problem {
        servers: vec![server.to_string()],
        message: format!(
            "tool {name:?} of {server} is exposed under the name of a gateway tool; it is hidden"
        ),
    });
    true
}
