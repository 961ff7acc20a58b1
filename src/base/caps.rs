//! The client capabilities the gateway routes on, as the bits a session id carries
//! ([`crate::auth::session::SessionClaims::c`]) and a backend's session per capability set is
//! keyed by. What a client declares beyond them is not kept: a session id stays small
//! whatever the client sent, and a backend is never told of a capability the gateway
//! cannot carry to the client.
//!
//! Extensions (SEP-2133) follow the same rule. The gateway carries the ones it handles:
//! MCP Apps (`io.modelcontextprotocol/ui`), declared upstream with the one MIME type the
//! extension defines, and (2026-07-28 requests only) the tasks extension, which the
//! gateway answers itself. Any other extension a client declares is dropped before a
//! backend sees it: it may add methods, result types or notifications that the gateway
//! could not route, bound or audit.

use crate::jsonrpc::methods::Method;
use serde::Deserialize;

/// MCP Apps: interactive views a host renders from `ui://` resources.
pub const UI_EXTENSION: &str = "io.modelcontextprotocol/ui";
/// The settings the gateway declares for [`UI_EXTENSION`] upstream.
pub const UI_SETTINGS: &str = r#"{"mimeTypes":["text/html;profile=mcp-app"]}"#;

/// Client capabilities as bits of [`super::session::SessionClaims::c`].
pub struct ClientCaps;

impl ClientCaps {
    pub const SAMPLING: u8 = 1;
    pub const ELICITATION: u8 = 2;
    pub const ROOTS: u8 = 4;
    /// `sampling.tools` (2025-11-25): sampling requests that offer the model tools.
    pub const SAMPLING_TOOLS: u8 = 8;
    /// `elicitation.url` (2025-11-25): URL-mode elicitation.
    pub const ELICITATION_URL: u8 = 16;
    /// `tasks.requests.sampling.createMessage` (2025-11-25): the client runs a backend's
    /// sampling request as a task of its own.
    pub const TASKS_SAMPLING: u8 = 32;
    /// `tasks.requests.elicitation.create` (2025-11-25): likewise for elicitation.
    pub const TASKS_ELICITATION: u8 = 64;
    /// The MCP Apps extension ([`UI_EXTENSION`]).
    pub const UI: u8 = 128;
    /// Every capability the gateway can route: what a backend's main session declares.
    pub const ALL: u8 = u8::MAX;
    /// What only a session can declare: a request of the 2026-07-28 revision has no
    /// client-hosted tasks.
    const SESSION_ONLY: u8 = Self::TASKS_SAMPLING | Self::TASKS_ELICITATION;

    /// The capabilities `bits` stand for, as a backend is told at `initialize`.
    pub fn declared(bits: u8) -> serde_json::Value {
        serde_json::from_str(&Self::to_json(bits)).unwrap_or_default()
    }

    /// The capabilities `bits` stand for, as a JSON object (what a modern backend is told
    /// a session client declared).
    pub fn to_json(bits: u8) -> String {
        let has = |bit: u8| bits & bit != 0;
        let mut parts: Vec<String> = Vec::with_capacity(5);
        if has(Self::SAMPLING) {
            parts.push(if has(Self::SAMPLING_TOOLS) {
                r#""sampling":{"tools":{}}"#.into()
            } else {
                r#""sampling":{}"#.into()
            });
        }
        if has(Self::ELICITATION) {
            parts.push(if has(Self::ELICITATION_URL) {
                r#""elicitation":{"form":{},"url":{}}"#.into()
            } else {
                r#""elicitation":{"form":{}}"#.into()
            });
        }
        if has(Self::ROOTS) {
            parts.push(r#""roots":{}"#.into());
        }
        let mut requests = Vec::with_capacity(2);
        if has(Self::TASKS_SAMPLING) && has(Self::SAMPLING) {
            requests.push(r#""sampling":{"createMessage":{}}"#);
        }
        if has(Self::TASKS_ELICITATION) && has(Self::ELICITATION) {
            requests.push(r#""elicitation":{"create":{}}"#);
        }
        if !requests.is_empty() {
            parts.push(format!(
                r#""tasks":{{"requests":{{{}}}}}"#,
                requests.join(",")
            ));
        }
        if has(Self::UI) {
            parts.push(format!(
                r#""extensions":{{"{UI_EXTENSION}":{UI_SETTINGS}}}"#
            ));
        }
        format!("{{{}}}", parts.join(","))
    }

    /// The bits of an `initialize` request's `params` (raw JSON); values are skipped,
    /// not built.
    pub fn from_params(params: &[u8]) -> u8 {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Params {
            capabilities: Declared,
        }
        crate::jsonrpc::read::typed::<Params>(params).map_or(0, |p| p.capabilities.bits())
    }

    /// The bits a stateless-era request's `_meta` object (raw JSON) declares.
    pub fn from_meta(meta: &[u8]) -> u8 {
        if !Self::may_declare(meta) {
            return 0;
        }
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Meta {
            #[serde(rename = "io.modelcontextprotocol/clientCapabilities")]
            capabilities: Declared,
        }
        crate::jsonrpc::read::typed::<Meta>(meta)
            .map_or(0, |m| m.capabilities.bits() & !Self::SESSION_ONLY)
    }

    /// Whether `bytes` may declare a capability the gateway routes: a name of one
    /// appears in them. Most stateless requests declare none (`{}`), and are not parsed.
    fn may_declare(bytes: &[u8]) -> bool {
        static NAMES: [crate::jsonrpc::needle::Needle; 4] = [
            crate::needle!(b"sampling"),
            crate::needle!(b"elicitation"),
            crate::needle!(b"roots"),
            crate::needle!(b"modelcontextprotocol/ui"),
        ];
        NAMES.iter().any(|n| n.in_(bytes))
    }

    /// The bits of a request's `params._meta`, found by its frame (`0` without one).
    pub fn of_frame(body: &[u8], f: &crate::jsonrpc::frame::Frame) -> u8 {
        f.meta
            .and_then(|s| crate::jsonrpc::frame::container_span(body, s.start))
            .map_or(0, |s| Self::from_meta(s.of(body)))
    }

    /// The bits a stateless-era request declares in its `_meta`
    /// (`io.modelcontextprotocol/clientCapabilities`), from the whole request.
    pub fn from_request(request: &[u8]) -> u8 {
        if !Self::may_declare(request) {
            return 0;
        }
        crate::jsonrpc::frame::parse(request).map_or(0, |f| Self::of_frame(request, &f))
    }

    /// The bits a backend's request (the whole message) needs, all of them, and the name
    /// of the most particular: besides the method's, `elicitation.url` for a URL-mode
    /// elicitation, `sampling.tools` for a sampling request that offers tools, and the
    /// `tasks.requests` entry for a request the client is to run as a task
    /// (`params.task`). A client may take the request when it declared every bit.
    pub fn needed_by_request(message: &[u8], method: Method) -> Option<(u8, &'static str)> {
        let base = Self::needed_by(method)?;
        if !matches!(
            method,
            Method::SamplingCreateMessage | Method::ElicitationCreate
        ) {
            return Some(base);
        }
        let v = crate::jsonrpc::read::value(message).ok()?;
        let params = &v["params"];
        let mut need = base;
        if method == Method::ElicitationCreate && params["mode"] == "url" {
            need = (need.0 | Self::ELICITATION_URL, "elicitation.url");
        }
        if method == Method::SamplingCreateMessage
            && params["tools"].as_array().is_some_and(|t| !t.is_empty())
        {
            need = (need.0 | Self::SAMPLING_TOOLS, "sampling.tools");
        }
        if params["task"].is_object() {
            need = if method == Method::SamplingCreateMessage {
                (
                    need.0 | Self::TASKS_SAMPLING,
                    "tasks.requests.sampling.createMessage",
                )
            } else {
                (
                    need.0 | Self::TASKS_ELICITATION,
                    "tasks.requests.elicitation.create",
                )
            };
        }
        Some(need)
    }

    /// The bit a backend's request to the client needs, for the requests that need one.
    pub fn needed_by(method: Method) -> Option<(u8, &'static str)> {
        match method {
            Method::SamplingCreateMessage => Some((Self::SAMPLING, "sampling")),
            Method::ElicitationCreate => Some((Self::ELICITATION, "elicitation")),
            Method::RootsList => Some((Self::ROOTS, "roots")),
            _ => None,
        }
    }
}

/// Declared client capabilities, values skipped but for the sub-capabilities the
/// gateway routes on.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Declared {
    sampling: Option<Sub>,
    elicitation: Option<Sub>,
    roots: Option<serde::de::IgnoredAny>,
    tasks: Option<Tasks>,
    extensions: Option<Extensions>,
}

/// `sampling.tools`, `elicitation.url` (anything else skipped).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Sub {
    tools: Option<serde::de::IgnoredAny>,
    url: Option<serde::de::IgnoredAny>,
}

/// `tasks.requests.{sampling.createMessage, elicitation.create}`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Tasks {
    requests: TaskRequests,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TaskRequests {
    sampling: Option<TaskMethod>,
    elicitation: Option<TaskMethod>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct TaskMethod {
    create_message: Option<serde::de::IgnoredAny>,
    create: Option<serde::de::IgnoredAny>,
}

/// The extensions the gateway carries; an object's other members are skipped.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Extensions {
    #[serde(rename = "io.modelcontextprotocol/ui")]
    ui: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Declared {
    fn bits(&self) -> u8 {
        let c = self;
        let requests = c.tasks.as_ref().map(|t| &t.requests);
        [
            (c.sampling.is_some(), ClientCaps::SAMPLING),
            (c.elicitation.is_some(), ClientCaps::ELICITATION),
            (c.roots.is_some(), ClientCaps::ROOTS),
            (
                c.sampling.as_ref().is_some_and(|s| s.tools.is_some()),
                ClientCaps::SAMPLING_TOOLS,
            ),
            (
                c.elicitation.as_ref().is_some_and(|e| e.url.is_some()),
                ClientCaps::ELICITATION_URL,
            ),
            (
                c.sampling.is_some()
                    && requests
                        .and_then(|r| r.sampling.as_ref())
                        .is_some_and(|s| s.create_message.is_some()),
                ClientCaps::TASKS_SAMPLING,
            ),
            (
                c.elicitation.is_some()
                    && requests
                        .and_then(|r| r.elicitation.as_ref())
                        .is_some_and(|e| e.create.is_some()),
                ClientCaps::TASKS_ELICITATION,
            ),
            (
                c.extensions.as_ref().is_some_and(|e| e.ui.is_some()),
                ClientCaps::UI,
            ),
        ]
        .iter()
        .filter(|(declared, _)| *declared)
        .fold(0, |bits, (_, bit)| bits | bit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_routed_capabilities_are_kept() {
        let huge = format!(
            r#"{{"protocolVersion":"2025-06-18","capabilities":{{"sampling":{{}},"roots":{{"listChanged":true}},"x":"{}"}}}}"#,
            "y".repeat(40_000)
        );
        assert_eq!(
            ClientCaps::from_params(huge.as_bytes()),
            ClientCaps::SAMPLING | ClientCaps::ROOTS
        );
        assert_eq!(
            ClientCaps::from_params(br#"{"capabilities":{"elicitation":{}}}"#),
            ClientCaps::ELICITATION
        );
        assert_eq!(ClientCaps::from_params(b"{}"), 0);
        assert_eq!(ClientCaps::from_params(b"[1]"), 0);
        assert_eq!(
            ClientCaps::from_params(
                br#"{"capabilities":{"sampling":{"tools":{}},"elicitation":{"form":{},"url":{}}}}"#
            ),
            ClientCaps::SAMPLING
                | ClientCaps::SAMPLING_TOOLS
                | ClientCaps::ELICITATION
                | ClientCaps::ELICITATION_URL
        );
    }

    #[test]
    fn tasks_and_the_ui_extension_are_carried_and_other_extensions_are_not() {
        let every = br#"{"capabilities":{"sampling":{"tools":{}},"roots":{},"elicitation":{"form":{},"url":{}},
            "tasks":{"list":{},"requests":{"sampling":{"createMessage":{}},"elicitation":{"create":{}}}},
            "extensions":{"io.modelcontextprotocol/ui":{"mimeTypes":["text/html;profile=mcp-app"]},"com.example/x":{"a":1}}}}"#;
        assert_eq!(ClientCaps::from_params(every), ClientCaps::ALL);
        let declared = ClientCaps::declared(ClientCaps::ALL);
        assert_eq!(
            declared["tasks"],
            serde_json::json!({"requests": {"sampling": {"createMessage": {}}, "elicitation": {"create": {}}}})
        );
        assert_eq!(
            declared["extensions"],
            serde_json::json!({UI_EXTENSION: {"mimeTypes": ["text/html;profile=mcp-app"]}})
        );
        // A task capability for a request kind the client cannot take at all is not one.
        assert_eq!(
            ClientCaps::from_params(
                br#"{"capabilities":{"tasks":{"requests":{"sampling":{"createMessage":{}}}}}}"#
            ),
            0
        );
        // Unknown extensions, and a malformed ui entry, declare nothing.
        assert_eq!(
            ClientCaps::from_params(
                br#"{"capabilities":{"extensions":{"com.example/x":{},"io.modelcontextprotocol/tasks":{}}}}"#
            ),
            0
        );
        assert_eq!(
            ClientCaps::from_params(
                br#"{"capabilities":{"extensions":{"io.modelcontextprotocol/ui":true}}}"#
            ),
            0
        );
        // A 2026-07-28 request has no client-hosted tasks; the ui extension it has.
        let meta = br#"{"io.modelcontextprotocol/clientCapabilities":{"sampling":{},
            "tasks":{"requests":{"sampling":{"createMessage":{}}}},"extensions":{"io.modelcontextprotocol/ui":{}}}}"#;
        assert_eq!(
            ClientCaps::from_meta(meta),
            ClientCaps::SAMPLING | ClientCaps::UI
        );
        assert_eq!(
            ClientCaps::from_meta(
                br#"{"io.modelcontextprotocol/clientCapabilities":{"extensions":{"io.modelcontextprotocol/ui":{}}}}"#
            ),
            ClientCaps::UI
        );
        assert_eq!(ClientCaps::to_json(0), "{}");
    }

    #[test]
    fn url_elicitation_sampling_with_tools_and_task_requests_need_their_sub_capabilities() {
        let need = |m: &str| {
            let v: serde_json::Value = serde_json::from_str(m).unwrap();
            ClientCaps::needed_by_request(
                m.as_bytes(),
                Method::parse(v["method"].as_str().unwrap()).unwrap(),
            )
        };
        assert_eq!(
            need(
                r#"{"id":1,"method":"elicitation/create","params":{"mode":"url","url":"https://x"}}"#
            ),
            Some((
                ClientCaps::ELICITATION | ClientCaps::ELICITATION_URL,
                "elicitation.url"
            ))
        );
        assert_eq!(
            need(r#"{"id":1,"method":"elicitation/create","params":{"message":"m"}}"#),
            Some((ClientCaps::ELICITATION, "elicitation"))
        );
        assert_eq!(
            need(r#"{"id":1,"method":"sampling/createMessage","params":{"tools":[{"name":"t"}]}}"#),
            Some((
                ClientCaps::SAMPLING | ClientCaps::SAMPLING_TOOLS,
                "sampling.tools"
            ))
        );
        assert_eq!(
            need(r#"{"id":1,"method":"sampling/createMessage","params":{"tools":[]}}"#),
            Some((ClientCaps::SAMPLING, "sampling"))
        );
        assert_eq!(
            need(r#"{"id":1,"method":"sampling/createMessage","params":{"task":{"ttl":5}}}"#),
            Some((
                ClientCaps::SAMPLING | ClientCaps::TASKS_SAMPLING,
                "tasks.requests.sampling.createMessage"
            ))
        );
        assert_eq!(
            need(r#"{"id":1,"method":"elicitation/create","params":{"task":{},"message":"m"}}"#),
            Some((
                ClientCaps::ELICITATION | ClientCaps::TASKS_ELICITATION,
                "tasks.requests.elicitation.create"
            ))
        );
        assert_eq!(
            need(r#"{"id":1,"method":"roots/list"}"#),
            Some((ClientCaps::ROOTS, "roots"))
        );
        assert_eq!(need(r#"{"id":1,"method":"ping"}"#), None);
    }
}
