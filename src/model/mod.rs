//! The data model: servers, namespaces and the registry snapshot, with the rules their
//! names follow ([`names`]) and the validation of client input ([`validate`], its error
//! in [`invalid`]). Nothing here touches the database or HTTP.

pub mod auth;
pub mod exposure;
pub mod guardrail;
pub mod import;
pub mod invalid;
pub mod limits;
pub mod names;
pub mod refs;
pub mod validate;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use uuid::Uuid;

/// What secrets look like in responses.
pub const MASK: &str = "********";

/// The transport a backend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Stdio,
    Http,
    Sse,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Stdio => "stdio",
            Protocol::Http => "http",
            Protocol::Sse => "sse",
        }
    }

    pub fn parse(s: &str) -> Option<Protocol> {
        match s {
            "stdio" => Some(Protocol::Stdio),
            "http" => Some(Protocol::Http),
            "sse" => Some(Protocol::Sse),
            _ => None,
        }
    }
}

/// A registered backend, secrets in clear (in memory only; `Debug` masks them).
#[derive(Clone, PartialEq)]
pub struct Server {
    pub id: Uuid,
    pub name: String,
    pub protocol: Protocol,
    pub url: Option<String>,
    pub command: Option<String>,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    pub is_active: bool,
    pub timeout_ms: u32,
    /// stdio: the directory the command runs in (the gateway's own when `None`).
    pub cwd: Option<String>,
    /// Calls in flight at once (on the pipe, for stdio); more wait in a bounded queue.
    pub max_concurrency: u32,
    /// Consecutive failed calls that open the circuit (0: no breaker).
    pub breaker_failures: u32,
    /// How long an open circuit waits before letting one probe call through.
    pub breaker_cooldown_ms: u32,
    /// stdio: stop the child after this long unused (it starts again on the next call).
    pub idle_stop_ms: Option<u32>,
    /// stdio: `session_mode: "isolated"`, a child per client session (per key in the
    /// stateless era), at most `max_instances` at once.
    pub isolated: bool,
    pub max_instances: u32,
    /// stdio: the address-space limit of each child (`RLIMIT_AS`), in MiB.
    pub max_memory_mb: Option<u32>,
    /// How the gateway proves itself to the backend (HTTP and SSE servers).
    pub auth: auth::ServerAuth,
    pub created_at: String,
    pub updated_at: String,
    /// When it was registered, in microseconds: the earlier registration wins a resource
    /// URI two servers offer.
    pub registered_us: i64,
    /// What a changed or new tool definition meets ([`crate::pins`]).
    pub tool_changes: ToolChanges,
    /// When the row last changed, in microseconds: a server that differs in anything,
    /// this included, gets a new backend, so a restart (which changes only this) starts
    /// its process anew on every gateway.
    pub changed_us: i64,
    /// The registry entry it was installed from (`None`: registered by hand).
    pub source: Option<Source>,
}

/// Where a server was installed from: a registry, the entry's name and version.
#[derive(Debug, Clone, Eq)]
pub struct Source {
    /// The registry's base URL.
    pub registry: String,
    pub name: String,
    pub version: String,
    /// An upgrade waits for an admin's review: its changed definitions are held even
    /// under `tool_changes: accept` (cleared when the admin approves the server's items).
    pub review: bool,
    /// The admin allowed the install a loopback or private address (`allow_private`):
    /// its upgrades keep that permission.
    pub allow_private: bool,
}

/// `review` is a state of the reviewing, not of how the server runs: clearing it when
/// an admin approves must not start the server's backend anew.
impl PartialEq for Source {
    fn eq(&self, other: &Source) -> bool {
        (&self.registry, &self.name, &self.version)
            == (&other.registry, &other.name, &other.version)
    }
}

impl Source {
    pub fn to_json(&self) -> Value {
        json!({"registry": self.registry, "name": self.name, "version": self.version,
               "upgrade_held": self.review, "allow_private": self.allow_private})
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("protocol", &self.protocol)
            .field("url", &self.url)
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("is_active", &self.is_active)
            .field("timeout_ms", &self.timeout_ms)
            .finish_non_exhaustive()
    }
}

fn masked(map: &BTreeMap<String, String>) -> Value {
    Value::Object(
        map.keys()
            .map(|k| (k.clone(), Value::String(MASK.to_string())))
            .collect(),
    )
}

impl Server {
    /// Whether its header values (http) or env values (stdio) take each caller's own
    /// secret ([`auth::CALLER_SECRET`]).
    pub fn takes_caller_secret(&self) -> bool {
        self.headers
            .values()
            .chain(self.env.values())
            .any(|v| v.contains(auth::CALLER_SECRET))
    }

    /// Whether each caller uses an account of their own: `principal: "caller"`, or a
    /// secret of their own.
    pub fn per_caller(&self) -> bool {
        self.auth.per_caller() || self.takes_caller_secret()
    }

    /// The DESIGN.md registry object, secrets masked.
    pub fn public_json(&self, status: &str) -> Value {
        let mut out = json!({
            "id": self.id,
            "name": self.name,
            "protocol": self.protocol.as_str(),
            "url": self.url,
            "command": self.command,
            "args": self.args,
            "env": masked(&self.env),
            "headers": masked(&self.headers),
            "is_active": self.is_active,
            "timeout_ms": self.timeout_ms,
            "cwd": self.cwd,
            "max_concurrency": self.max_concurrency,
            "idle_stop_ms": self.idle_stop_ms,
            "session_mode": if self.isolated { "isolated" } else { "shared" },
            "max_instances": self.max_instances,
            "max_memory_mb": self.max_memory_mb,
            "breaker_failures": self.breaker_failures,
            "breaker_cooldown_ms": self.breaker_cooldown_ms,
            "auth": self.auth.public_json(),
            "tool_changes": self.tool_changes.as_str(),
            "status": status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        });
        if let Some(source) = &self.source {
            out["source"] = source.to_json();
        }
        out
    }
}

/// Per-namespace settings for one exposed tool.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOverride {
    pub enabled: bool,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Calls allowed per key (`"rate": "10/m"`).
    pub rate: Option<limits::Rate>,
}

/// A named selection of servers with its exposure settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Namespace {
    pub name: String,
    pub description: Option<String>,
    /// Server names, in the order given.
    pub servers: Vec<String>,
    /// `true` for `always` (`server__tool`), `false` for `never`.
    pub prefix_tools: bool,
    /// `false` when `auth: none` opens the namespace without credentials.
    pub auth_required: bool,
    pub tools: BTreeMap<String, ToolOverride>,
    /// `false` (`tools_default: disabled`): an allow-list, only the tools `tools` names
    /// (without `enabled: false`) are offered; `true`, the default: every tool but those
    /// it switches off.
    pub tools_enabled_by_default: bool,
    /// Check each `tools/call`'s arguments against the tool's `inputSchema` before it is
    /// forwarded (the `validate_arguments` policy).
    pub validate_arguments: bool,
    /// Whether its `tools/list` lists the gateway's search tools instead of every tool.
    pub tool_search: ToolSearch,
    /// `accept`: its members' changed and new tools are re-pinned at once.
    pub tool_changes: ToolChanges,
    /// Whether its view offers `run_code` (code mode) beside tool search.
    pub code_mode: CodeMode,
    /// External guardrails its tool calls pass through (none by default).
    pub guardrails: Vec<guardrail::Guardrail>,
    pub created_at: String,
    pub updated_at: String,
}

impl Namespace {
    pub fn public_json(&self) -> Value {
        let tools: Map<String, Value> = self
            .tools
            .iter()
            .map(|(k, t)| {
                let mut o = Map::new();
                o.insert("enabled".into(), Value::Bool(t.enabled));
                if let Some(n) = &t.name {
                    o.insert("name".into(), Value::String(n.clone()));
                }
                if let Some(d) = &t.description {
                    o.insert("description".into(), Value::String(d.clone()));
                }
                if let Some(r) = &t.rate {
                    o.insert("rate".into(), Value::String(r.to_string()));
                }
                (k.clone(), Value::Object(o))
            })
            .collect();
        json!({
            "name": self.name,
            "description": self.description,
            "servers": self.servers,
            "tool_prefix": if self.prefix_tools { "always" } else { "never" },
            "validate_arguments": self.validate_arguments,
            "tool_search": self.tool_search.as_str(),
            "tool_changes": self.tool_changes.as_str(),
            "code_mode": self.code_mode.as_str(),
            "auth": if self.auth_required { "required" } else { "none" },
            "tools_default": tools_default_str(self.tools_enabled_by_default),
            "tools": tools,
            "guardrails": self.guardrails.iter().map(guardrail::Guardrail::public_json).collect::<Vec<_>>(),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// A namespace's `tools_default` as the API names it.
pub fn tools_default_str(enabled: bool) -> &'static str {
    if enabled { "enabled" } else { "disabled" }
}

/// Everything in the registry at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub servers: Vec<Server>,
    pub namespaces: Vec<Namespace>,
}

impl Snapshot {
    /// Names of the namespaces that include the server called `server`.
    pub fn namespaces_of(&self, server: &str) -> Vec<String> {
        self.namespaces
            .iter()
            .filter(|n| n.servers.iter().any(|s| s.eq_ignore_ascii_case(server)))
            .map(|n| n.name.clone())
            .collect()
    }

    pub fn server_by_id(&self, id: &Uuid) -> Option<&Server> {
        self.servers.iter().find(|s| s.id == *id)
    }

    /// What a change of `server`'s tools meets: `accept` when the server or a namespace
    /// holding it says so, `hold` otherwise.
    pub fn tool_changes(&self, server: &Server) -> ToolChanges {
        // An upgrade from a registry is reviewed whatever the settings say.
        if server.source.as_ref().is_some_and(|s| s.review) {
            return ToolChanges::Hold;
        }
        let accepted = server.tool_changes == ToolChanges::Accept
            || self.namespaces.iter().any(|n| {
                n.tool_changes == ToolChanges::Accept
                    && n.servers
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(&server.name))
            });
        match accepted {
            true => ToolChanges::Accept,
            false => ToolChanges::Hold,
        }
    }
}

/// What a changed definition, or a new tool of a pinned server, meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToolChanges {
    /// Held out of every list, its calls refused, until an admin approves it.
    #[default]
    Hold,
    /// Re-pinned at once (announced and audited).
    Accept,
}

impl ToolChanges {
    pub fn as_str(self) -> &'static str {
        match self {
            ToolChanges::Hold => "hold",
            ToolChanges::Accept => "accept",
        }
    }

    pub fn parse(s: &str) -> Option<ToolChanges> {
        match s {
            "hold" => Some(ToolChanges::Hold),
            "accept" => Some(ToolChanges::Accept),
            _ => None,
        }
    }
}

/// A view's tool search mode: whether its `tools/list` gives every tool or the gateway's
/// `search_tools` and `call_tool` (every tool stays callable by its name either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToolSearch {
    /// Every tool in `tools/list`.
    Off,
    /// `search_tools` and `call_tool` in `tools/list`.
    On,
    /// On when the full `tools/list` would be over [`ToolSearch::AUTO_BYTES`].
    #[default]
    Auto,
}

impl ToolSearch {
    /// The size of a full `tools/list` result (in bytes of its JSON) over which `auto`
    /// turns search on: 64 KiB, about 16,000 tokens, some 60 tools of a typical server.
    pub const AUTO_BYTES: usize = 64 * 1024;

    pub fn as_str(self) -> &'static str {
        match self {
            ToolSearch::Off => "off",
            ToolSearch::On => "on",
            ToolSearch::Auto => "auto",
        }
    }

    pub fn parse(s: &str) -> Option<ToolSearch> {
        match s {
            "off" => Some(ToolSearch::Off),
            "on" => Some(ToolSearch::On),
            "auto" => Some(ToolSearch::Auto),
            _ => None,
        }
    }

    /// Whether a view whose full tool list is `bytes` long is searched.
    pub fn on_for(self, bytes: usize) -> bool {
        match self {
            ToolSearch::Off => false,
            ToolSearch::On => true,
            ToolSearch::Auto => bytes > Self::AUTO_BYTES,
        }
    }
}

/// A view's code mode: with it on, its `tools/list` lists the gateway's `search_tools`,
/// `call_tool` and `run_code` (every tool stays callable by its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CodeMode {
    #[default]
    Off,
    On,
}

impl CodeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeMode::Off => "off",
            CodeMode::On => "on",
        }
    }

    pub fn parse(s: &str) -> Option<CodeMode> {
        match s {
            "off" => Some(CodeMode::Off),
            "on" => Some(CodeMode::On),
            _ => None,
        }
    }
}
