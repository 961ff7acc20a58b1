//! Client input for servers and namespaces, checked field by field so a client learns
//! exactly which field is wrong; unknown fields are refused. `PUT` changes the fields it
//! names and keeps the rest, and a masked secret sent back unchanged keeps the stored
//! value, so GET → edit → PUT works.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::model::names::{is_valid_name, is_valid_override_key, is_valid_tool_name};
use crate::model::{MASK, Namespace, Protocol, Server, ToolOverride};

/// Input that is not a valid server or namespace: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub field: Option<String>,
    pub message: String,
}

impl Invalid {
    pub fn field(field: &str, message: impl Into<String>) -> Invalid {
        Invalid {
            field: Some(field.to_string()),
            message: format!("{field}: {}", message.into()),
        }
    }
}

const MAX_URL: usize = 2048;
const MAX_COMMAND: usize = 1024;
const MAX_ARGS: usize = 256;
const MAX_MAP_ENTRIES: usize = 100;
const MAX_VALUE: usize = 8192;
const MAX_DESCRIPTION: usize = 1000;
const MAX_TIMEOUT_MS: i64 = 3_600_000;
const DEFAULT_TIMEOUT_MS: i32 = 60_000;
const DEFAULT_MAX_CONCURRENCY: i32 = 32;
const MAX_CONCURRENCY: i64 = 1024;
const DEFAULT_MAX_INSTANCES: i32 = 8;
const DEFAULT_BREAKER_FAILURES: i32 = 5;
const DEFAULT_BREAKER_COOLDOWN_MS: i32 = 10_000;
const MAX_INSTANCES: i64 = 1024;
/// Headers the gateway sets itself on upstream requests.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
    "accept",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
];

pub fn object(body: &Value) -> Result<&Map<String, Value>, Invalid> {
    body.as_object().ok_or_else(|| Invalid {
        field: None,
        message: "the request body must be a JSON object".into(),
    })
}

/// A field's value: absent, explicitly null, or present.
enum Field<'a> {
    Absent,
    Null,
    Value(&'a Value),
}

fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Field<'a> {
    match obj.get(name) {
        None => Field::Absent,
        Some(Value::Null) => Field::Null,
        Some(v) => Field::Value(v),
    }
}

fn string_field(obj: &Map<String, Value>, name: &str) -> Result<Option<Option<String>>, Invalid> {
    match field(obj, name) {
        Field::Absent => Ok(None),
        Field::Null => Ok(Some(None)),
        Field::Value(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Field::Value(_) => Err(Invalid::field(name, "must be a string")),
    }
}

fn reject_unknown(
    obj: &Map<String, Value>,
    known: &[&str],
    read_only: &[&str],
    allow_read_only: bool,
) -> Result<(), Invalid> {
    for k in obj.keys() {
        if read_only.contains(&k.as_str()) {
            if !allow_read_only {
                return Err(Invalid::field(k, "is assigned by the gateway"));
            }
        } else if !known.contains(&k.as_str()) {
            return Err(Invalid::field(
                k,
                format!("unknown field (expected one of: {})", known.join(", ")),
            ));
        }
    }
    Ok(())
}

/// A server being created or changed.
#[derive(Default)]
pub struct ServerDraft {
    pub name: String,
    pub protocol: Option<Protocol>,
    pub url: Option<String>,
    pub command: Option<String>,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    pub is_active: bool,
    pub timeout_ms: i32,
    pub cwd: Option<String>,
    pub max_concurrency: i32,
    pub idle_stop_ms: Option<i32>,
    /// stdio: a child per client session (or per key, stateless era) instead of one shared.
    pub isolated: bool,
    pub max_instances: i32,
    pub max_memory_mb: Option<i32>,
    pub breaker_failures: i32,
    pub breaker_cooldown_ms: i32,
    /// What the change did that the caller did not ask for in so many words.
    pub warnings: Vec<String>,
}

impl From<&Server> for ServerDraft {
    fn from(s: &Server) -> Self {
        ServerDraft {
            name: s.name.clone(),
            protocol: Some(s.protocol),
            url: s.url.clone(),
            command: s.command.clone(),
            args: s.args.clone(),
            env: s.env.clone(),
            headers: s.headers.clone(),
            is_active: s.is_active,
            timeout_ms: s.timeout_ms as i32,
            cwd: s.cwd.clone(),
            max_concurrency: s.max_concurrency as i32,
            idle_stop_ms: s.idle_stop_ms.map(|v| v as i32),
            isolated: s.isolated,
            max_instances: s.max_instances as i32,
            max_memory_mb: s.max_memory_mb.map(|v| v as i32),
            breaker_failures: s.breaker_failures as i32,
            breaker_cooldown_ms: s.breaker_cooldown_ms as i32,
            warnings: Vec::new(),
        }
    }
}

const SERVER_FIELDS: &[&str] = &[
    "name",
    "protocol",
    "url",
    "command",
    "args",
    "env",
    "headers",
    "is_active",
    "timeout_ms",
    "cwd",
    "max_concurrency",
    "idle_stop_ms",
    "session_mode",
    "max_instances",
    "max_memory_mb",
    "breaker_failures",
    "breaker_cooldown_ms",
];
const SERVER_READ_ONLY: &[&str] = &[
    "id",
    "status",
    "created_at",
    "updated_at",
    "problems",
    "warnings",
    "last_error",
    "last_connected_at",
    "restarts",
    "last_exit",
    "instances",
    "circuit",
    "consecutive_failures",
    "tools",
    "prompts",
    "resources",
];

impl ServerDraft {
    /// Applies the fields present in `obj`; `existing` is set for updates.
    pub fn apply(
        &mut self,
        obj: &Map<String, Value>,
        existing: Option<&Server>,
    ) -> Result<(), Invalid> {
        let creating = existing.is_none();
        reject_unknown(obj, SERVER_FIELDS, SERVER_READ_ONLY, !creating)?;
        if creating {
            self.is_active = true;
            self.timeout_ms = DEFAULT_TIMEOUT_MS;
            self.max_concurrency = DEFAULT_MAX_CONCURRENCY;
            self.max_instances = DEFAULT_MAX_INSTANCES;
            self.breaker_failures = DEFAULT_BREAKER_FAILURES;
            self.breaker_cooldown_ms = DEFAULT_BREAKER_COOLDOWN_MS;
        }
        if let Some(n) = name_field(obj, creating)? {
            self.name = n;
        }
        self.apply_protocol(obj, creating)?;
        self.apply_endpoint(obj, existing)?;
        self.apply_launch(obj, existing)?;
        self.apply_limits(obj)
    }

    /// `protocol`: required when creating.
    fn apply_protocol(&mut self, obj: &Map<String, Value>, creating: bool) -> Result<(), Invalid> {
        match string_field(obj, "protocol")? {
            Some(Some(p)) => {
                self.protocol = Some(Protocol::parse(&p).ok_or_else(|| {
                    Invalid::field("protocol", "must be one of stdio, http, sse")
                })?);
            }
            Some(None) => return Err(Invalid::field("protocol", "cannot be null")),
            None if creating => return Err(Invalid::field("protocol", "is required")),
            None => {}
        }
        Ok(())
    }

    /// `url` and `headers` (HTTP and SSE servers).
    fn apply_endpoint(
        &mut self,
        obj: &Map<String, Value>,
        existing: Option<&Server>,
    ) -> Result<(), Invalid> {
        // Stored header secrets were given for one origin: they do not follow the URL to
        // another one unless this request gives them again.
        let mut moved = false;
        if let Some(url) = string_field(obj, "url")? {
            moved = existing.is_some_and(|e| {
                !e.headers.is_empty() && origin(e.url.as_deref()) != origin(url.as_deref())
            });
            self.url = url;
        }
        if moved {
            self.headers.clear();
            if matches!(field(obj, "headers"), Field::Absent) {
                self.warnings.push(
                    "the url moved to another origin: the stored headers were dropped; \
                     send them again with the new url if it needs them"
                        .into(),
                );
            }
        }
        let kept_headers = existing.filter(|_| !moved).map(|e| &e.headers);
        if let Some(headers) = secret_map(obj, "headers", kept_headers)? {
            check_headers(&headers)?;
            self.headers = headers;
        }
        Ok(())
    }

    /// `command`, `args` and `env` (stdio servers).
    fn apply_launch(
        &mut self,
        obj: &Map<String, Value>,
        existing: Option<&Server>,
    ) -> Result<(), Invalid> {
        if let Some(command) = string_field(obj, "command")? {
            self.command = command;
        }
        if let Some(cwd) = string_field(obj, "cwd")? {
            self.cwd = cwd;
        }
        match field(obj, "args") {
            Field::Absent => {}
            Field::Null => self.args.clear(),
            Field::Value(Value::Array(items)) => {
                if items.len() > MAX_ARGS {
                    return Err(Invalid::field("args", format!("at most {MAX_ARGS} items")));
                }
                self.args = items
                    .iter()
                    .map(|i| match i {
                        Value::String(s) if !s.contains('\0') && s.len() <= MAX_VALUE => {
                            Ok(s.clone())
                        }
                        _ => Err(Invalid::field("args", "items must be strings without NUL")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            Field::Value(_) => {
                return Err(Invalid::field("args", "must be an array of strings"));
            }
        }
        if let Some(env) = secret_map(obj, "env", existing.map(|e| &e.env))? {
            for k in env.keys() {
                let ok = k
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                    && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !ok {
                    return Err(Invalid::field(
                        "env",
                        format!("{k:?} is not a variable name ([A-Za-z_][A-Za-z0-9_]*)"),
                    ));
                }
            }
            self.env = env;
        }
        Ok(())
    }

    /// `is_active` and `timeout_ms`.
    fn apply_limits(&mut self, obj: &Map<String, Value>) -> Result<(), Invalid> {
        match field(obj, "is_active") {
            Field::Absent => {}
            Field::Value(Value::Bool(b)) => self.is_active = *b,
            _ => return Err(Invalid::field("is_active", "must be true or false")),
        }
        if let Some(t) = whole_number(obj, "timeout_ms", 1, MAX_TIMEOUT_MS, false)? {
            self.timeout_ms = t.unwrap_or(DEFAULT_TIMEOUT_MS);
        }
        if let Some(c) = whole_number(obj, "max_concurrency", 1, MAX_CONCURRENCY, false)? {
            self.max_concurrency = c.unwrap_or(DEFAULT_MAX_CONCURRENCY);
        }
        if let Some(t) = whole_number(obj, "idle_stop_ms", 100, 86_400_000, true)? {
            self.idle_stop_ms = t;
        }
        match field(obj, "session_mode") {
            Field::Absent => {}
            Field::Value(Value::String(m)) if m == "shared" => self.isolated = false,
            Field::Value(Value::String(m)) if m == "isolated" => self.isolated = true,
            _ => {
                return Err(Invalid::field(
                    "session_mode",
                    "must be \"shared\" or \"isolated\"",
                ));
            }
        }
        if let Some(n) = whole_number(obj, "max_instances", 1, MAX_INSTANCES, false)? {
            self.max_instances = n.unwrap_or(DEFAULT_MAX_INSTANCES);
        }
        if let Some(m) = whole_number(obj, "max_memory_mb", 16, 1 << 20, true)? {
            self.max_memory_mb = m;
        }
        if let Some(n) = whole_number(obj, "breaker_failures", 0, 1000, false)? {
            self.breaker_failures = n.unwrap_or(DEFAULT_BREAKER_FAILURES);
        }
        if let Some(n) = whole_number(obj, "breaker_cooldown_ms", 100, 3_600_000, false)? {
            self.breaker_cooldown_ms = n.unwrap_or(DEFAULT_BREAKER_COOLDOWN_MS);
        }
        Ok(())
    }

    /// Whether two drafts would store the same server (warnings aside).
    pub fn same_settings(&self, o: &ServerDraft) -> bool {
        fn key(d: &ServerDraft) -> impl PartialEq + '_ {
            (
                (&d.name, d.protocol, &d.url, &d.command, &d.args, &d.env),
                (
                    &d.headers,
                    d.is_active,
                    d.timeout_ms,
                    &d.cwd,
                    d.max_concurrency,
                ),
                (d.idle_stop_ms, d.isolated, d.max_instances, d.max_memory_mb),
                (d.breaker_failures, d.breaker_cooldown_ms),
            )
        }
        key(self) == key(o)
    }

    /// Checks the fields against each other once all are applied.
    pub fn validate(&self) -> Result<(), Invalid> {
        let Some(protocol) = self.protocol else {
            return Err(Invalid::field("protocol", "is required"));
        };
        match protocol {
            Protocol::Stdio => {
                let Some(cmd) = &self.command else {
                    return Err(Invalid::field("command", "is required for stdio servers"));
                };
                if cmd.trim().is_empty() || cmd.len() > MAX_COMMAND || cmd.contains('\0') {
                    return Err(Invalid::field(
                        "command",
                        format!("must be 1 to {MAX_COMMAND} characters without NUL"),
                    ));
                }
                if self.url.is_some() {
                    return Err(Invalid::field(
                        "url",
                        "is not used by stdio servers; send null",
                    ));
                }
                if let Some(cwd) = &self.cwd
                    && (!cwd.starts_with('/') || cwd.len() > MAX_COMMAND || cwd.contains('\0'))
                {
                    return Err(Invalid::field(
                        "cwd",
                        "must be an absolute path without NUL",
                    ));
                }
                if !self.headers.is_empty() {
                    return Err(Invalid::field(
                        "headers",
                        "are not used by stdio servers; send null",
                    ));
                }
            }
            Protocol::Http | Protocol::Sse => {
                let Some(url) = &self.url else {
                    return Err(Invalid::field(
                        "url",
                        format!("is required for {} servers", protocol.as_str()),
                    ));
                };
                validate_url(url)?;
                for (set, name) in [
                    (self.idle_stop_ms.is_some(), "idle_stop_ms"),
                    (self.max_memory_mb.is_some(), "max_memory_mb"),
                ] {
                    if set {
                        return Err(Invalid::field(name, "is only for stdio servers; send null"));
                    }
                }
                if self.isolated {
                    return Err(Invalid::field(
                        "session_mode",
                        "isolated is only for stdio servers (a process per session)",
                    ));
                }
                if self.cwd.is_some() {
                    return Err(Invalid::field(
                        "cwd",
                        "is only for stdio servers; send null",
                    ));
                }
                if self.command.is_some() || !self.args.is_empty() || !self.env.is_empty() {
                    let f = if self.command.is_some() {
                        "command"
                    } else if !self.args.is_empty() {
                        "args"
                    } else {
                        "env"
                    };
                    return Err(Invalid::field(
                        f,
                        format!(
                            "is only for stdio servers; send null for {} servers",
                            protocol.as_str()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A whole-number field within `lo..=hi`: `None` when absent, `Some(None)` when null
/// (allowed only if `nullable`).
fn whole_number(
    obj: &Map<String, Value>,
    name: &str,
    lo: i64,
    hi: i64,
    nullable: bool,
) -> Result<Option<Option<i32>>, Invalid> {
    let or_null = if nullable { ", or null" } else { "" };
    match field(obj, name) {
        Field::Absent => Ok(None),
        Field::Null if nullable => Ok(Some(None)),
        Field::Value(Value::Number(n)) => match n.as_i64() {
            Some(v) if (lo..=hi).contains(&v) => Ok(Some(Some(v as i32))),
            _ => Err(Invalid::field(
                name,
                format!("must be a whole number from {lo} to {hi}{or_null}"),
            )),
        },
        _ => Err(Invalid::field(name, format!("must be a number{or_null}"))),
    }
}

/// `name` (servers and namespaces): `Some` when given; required when creating.
fn name_field(obj: &Map<String, Value>, creating: bool) -> Result<Option<String>, Invalid> {
    match string_field(obj, "name")? {
        Some(Some(n)) if is_valid_name(&n) => Ok(Some(n)),
        Some(Some(_)) => Err(Invalid::field(
            "name",
            "must match ^[A-Za-z0-9][A-Za-z0-9-]{0,31}$ (letters, digits, '-')",
        )),
        Some(None) => Err(Invalid::field("name", "cannot be null")),
        None if creating => Err(Invalid::field("name", "is required")),
        None => Ok(None),
    }
}

/// Header names are tokens the gateway does not set itself; values have no control
/// characters.
fn check_headers(headers: &BTreeMap<String, String>) -> Result<(), Invalid> {
    for (k, v) in headers {
        let token = !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(Invalid::field(
                "headers",
                format!("{k:?} is not a header name"),
            ));
        }
        if RESERVED_HEADERS.contains(&k.to_ascii_lowercase().as_str()) {
            return Err(Invalid::field(
                "headers",
                format!("{k} is set by the gateway and cannot be configured"),
            ));
        }
        if v.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
            return Err(Invalid::field(
                "headers",
                format!("the value of {k} has control characters"),
            ));
        }
    }
    Ok(())
}

fn validate_url(url: &str) -> Result<(), Invalid> {
    if url.len() > MAX_URL {
        return Err(Invalid::field(
            "url",
            format!("longer than {MAX_URL} characters"),
        ));
    }
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| Invalid::field("url", "is not a valid URL"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => {
            return Err(Invalid::field("url", "must be an http:// or https:// URL"));
        }
    }
    let authority = uri
        .authority()
        .ok_or_else(|| Invalid::field("url", "has no host"))?;
    if authority.as_str().contains('@') {
        return Err(Invalid::field(
            "url",
            "must not carry credentials; put them in headers, which are stored encrypted",
        ));
    }
    if authority.host().is_empty() {
        return Err(Invalid::field("url", "has no host"));
    }
    // The port as written (the URI type drops one that does not fit in 16 bits, and a
    // connection would then go to the scheme's default port instead).
    let written_port = authority
        .as_str()
        .rsplit_once(':')
        .filter(|(_, p)| !p.contains(']'))
        .map(|(_, p)| p);
    if let Some(port) = written_port
        && !matches!(port.parse::<u16>(), Ok(1..))
    {
        return Err(Invalid::field(
            "url",
            format!("has port {port:?}; ports are 1 to 65535"),
        ));
    }
    Ok(())
}

/// Scheme, host and port of a URL (the port its scheme implies when absent), compared
/// to decide whether stored secrets may follow a URL change.
fn origin(url: Option<&str>) -> Option<(String, String, u16)> {
    let uri: hyper::Uri = url?.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?;
    let port = authority
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    Some((scheme, authority.host().to_ascii_lowercase(), port))
}

/// A string map of secrets (`env`, `headers`): a value equal to [`MASK`] keeps the stored
/// value for that key, so a masked GET can be sent back unchanged.
fn secret_map(
    obj: &Map<String, Value>,
    name: &str,
    existing: Option<&BTreeMap<String, String>>,
) -> Result<Option<BTreeMap<String, String>>, Invalid> {
    match field(obj, name) {
        Field::Absent => Ok(None),
        Field::Null => Ok(Some(BTreeMap::new())),
        Field::Value(Value::Object(m)) => {
            if m.len() > MAX_MAP_ENTRIES {
                return Err(Invalid::field(
                    name,
                    format!("at most {MAX_MAP_ENTRIES} entries"),
                ));
            }
            let mut out = BTreeMap::new();
            for (k, v) in m {
                let Value::String(v) = v else {
                    return Err(Invalid::field(
                        name,
                        format!("the value of {k} must be a string"),
                    ));
                };
                if v.len() > MAX_VALUE || v.contains('\0') {
                    return Err(Invalid::field(
                        name,
                        format!("the value of {k} is too long or has NUL"),
                    ));
                }
                if let Err(e) = crate::model::refs::check(v) {
                    return Err(Invalid::field(name, format!("the value of {k}: {e}")));
                }
                let value = if v == MASK {
                    match existing.and_then(|e| e.get(k)) {
                        Some(old) => old.clone(),
                        None => {
                            return Err(Invalid::field(
                                name,
                                format!("{k} is masked but has no stored value to keep"),
                            ));
                        }
                    }
                } else {
                    v.clone()
                };
                out.insert(k.clone(), value);
            }
            Ok(Some(out))
        }
        Field::Value(_) => Err(Invalid::field(name, "must be an object of strings")),
    }
}

/// A namespace being created or changed.
#[derive(Default)]
pub struct NamespaceDraft {
    pub name: String,
    pub description: Option<String>,
    pub servers: Vec<String>,
    pub prefix_tools: bool,
    pub auth_required: bool,
    pub tools: BTreeMap<String, ToolOverride>,
}

impl From<&Namespace> for NamespaceDraft {
    fn from(n: &Namespace) -> Self {
        NamespaceDraft {
            name: n.name.clone(),
            description: n.description.clone(),
            servers: n.servers.clone(),
            prefix_tools: n.prefix_tools,
            auth_required: n.auth_required,
            tools: n.tools.clone(),
        }
    }
}

const NAMESPACE_FIELDS: &[&str] = &[
    "name",
    "description",
    "servers",
    "tool_prefix",
    "auth",
    "tools",
];
const NAMESPACE_READ_ONLY: &[&str] = &["created_at", "updated_at", "problems"];

impl NamespaceDraft {
    pub fn apply(&mut self, obj: &Map<String, Value>, creating: bool) -> Result<(), Invalid> {
        reject_unknown(obj, NAMESPACE_FIELDS, NAMESPACE_READ_ONLY, !creating)?;
        if creating {
            self.prefix_tools = true;
            self.auth_required = true;
        }
        match name_field(obj, creating)? {
            Some(n) if creating => self.name = n,
            Some(n) if n == self.name => {}
            Some(_) => {
                return Err(Invalid::field(
                    "name",
                    "cannot be changed; create a new namespace",
                ));
            }
            None => {}
        }
        self.apply_members(obj)?;
        self.apply_exposure(obj)
    }

    /// `description` and `servers`.
    fn apply_members(&mut self, obj: &Map<String, Value>) -> Result<(), Invalid> {
        if let Some(d) = string_field(obj, "description")? {
            if d.as_ref().is_some_and(|d| d.len() > MAX_DESCRIPTION) {
                return Err(Invalid::field(
                    "description",
                    format!("at most {MAX_DESCRIPTION} characters"),
                ));
            }
            self.description = d;
        }
        match field(obj, "servers") {
            Field::Absent => {}
            Field::Null => self.servers.clear(),
            Field::Value(Value::Array(items)) => {
                let mut servers: Vec<String> = Vec::with_capacity(items.len());
                for i in items {
                    let Value::String(s) = i else {
                        return Err(Invalid::field(
                            "servers",
                            "must be an array of server names",
                        ));
                    };
                    if servers.iter().any(|x| x.eq_ignore_ascii_case(s)) {
                        return Err(Invalid::field("servers", format!("{s:?} is listed twice")));
                    }
                    servers.push(s.clone());
                }
                self.servers = servers;
            }
            Field::Value(_) => {
                return Err(Invalid::field(
                    "servers",
                    "must be an array of server names",
                ));
            }
        }
        Ok(())
    }

    /// How the namespace exposes its servers: `tool_prefix`, `auth`, per-tool `tools`.
    fn apply_exposure(&mut self, obj: &Map<String, Value>) -> Result<(), Invalid> {
        match string_field(obj, "tool_prefix")?.flatten().as_deref() {
            None => {}
            Some("always") => self.prefix_tools = true,
            Some("never") => self.prefix_tools = false,
            Some(_) => {
                return Err(Invalid::field("tool_prefix", "must be always or never"));
            }
        }
        match string_field(obj, "auth")?.flatten().as_deref() {
            None => {}
            Some("required") => self.auth_required = true,
            Some("none") => self.auth_required = false,
            Some(_) => return Err(Invalid::field("auth", "must be required or none")),
        }
        match field(obj, "tools") {
            Field::Absent => {}
            Field::Null => self.tools.clear(),
            Field::Value(Value::Object(m)) => {
                let mut tools = BTreeMap::new();
                for (tool, settings) in m {
                    if !is_valid_override_key(tool) {
                        return Err(Invalid::field(
                            "tools",
                            format!(
                                "{tool:?} is not <server>__<tool> or a tool name ([A-Za-z0-9_./-]{{1,164}})"
                            ),
                        ));
                    }
                    tools.insert(tool.clone(), tool_override(tool, settings)?);
                }
                self.tools = tools;
            }
            Field::Value(_) => return Err(Invalid::field("tools", "must be an object")),
        }
        Ok(())
    }
}

fn tool_override(tool: &str, v: &Value) -> Result<ToolOverride, Invalid> {
    let Value::Object(m) = v else {
        return Err(Invalid::field(
            "tools",
            format!("settings of {tool} must be an object"),
        ));
    };
    let mut o = ToolOverride {
        enabled: true,
        name: None,
        description: None,
        rate: None,
    };
    for (k, v) in m {
        match (k.as_str(), v) {
            ("enabled", Value::Bool(b)) => o.enabled = *b,
            ("name", Value::String(n)) if is_valid_tool_name(n) => o.name = Some(n.clone()),
            ("name", Value::Null) | ("description", Value::Null) | ("rate", Value::Null) => {}
            ("rate", Value::String(r)) => {
                o.rate = Some(
                    crate::model::limits::Rate::parse(r)
                        .map_err(|e| Invalid::field("tools", format!("{tool}.rate: {e}")))?,
                )
            }
            ("description", Value::String(d)) if d.len() <= MAX_VALUE => {
                o.description = Some(d.clone())
            }
            ("enabled" | "name" | "description" | "rate", _) => {
                return Err(Invalid::field(
                    "tools",
                    format!("{tool}.{k} has the wrong type or an invalid value"),
                ));
            }
            _ => {
                return Err(Invalid::field(
                    "tools",
                    format!("{tool}.{k} is unknown (expected enabled, name, description, rate)"),
                ));
            }
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    fn draft(v: Value) -> Result<ServerDraft, Invalid> {
        let mut d = ServerDraft::default();
        d.apply(v.as_object().unwrap(), None)?;
        d.validate()?;
        Ok(d)
    }

    fn field_of(r: Result<ServerDraft, Invalid>) -> String {
        match r {
            Err(Invalid { field: Some(f), .. }) => f,
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("accepted"),
        }
    }

    /// Every kind of bad value each server field can get, named by its field.
    #[test]
    fn each_bad_server_field_is_named() {
        let many_args: Vec<String> = (0..10_000).map(|i| i.to_string()).collect();
        let many_env: serde_json::Map<String, Value> =
            (0..10_000).map(|i| (format!("V{i}"), json!("x"))).collect();
        let long_url = format!("http://a/{}", "x".repeat(10_000));
        let stdio = |extra: Value| {
            let mut v = json!({"name": "a", "protocol": "stdio", "command": "x"});
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            v
        };
        let http = |extra: Value| {
            let mut v = json!({"name": "a", "protocol": "http", "url": "http://a"});
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            v
        };
        let mut failures = Vec::new();
        for (input, f) in [
            (json!({"name": "a", "protocol": null}), "protocol"),
            (
                json!({"name": null, "protocol": "http", "url": "http://a"}),
                "name",
            ),
            (stdio(json!({"command": 5})), "command"),
            (stdio(json!({"command": " "})), "command"),
            (stdio(json!({"args": many_args})), "args"),
            (stdio(json!({"args": [1]})), "args"),
            (stdio(json!({"args": "x"})), "args"),
            (stdio(json!({"headers": {"A": "b"}})), "headers"),
            (stdio(json!({"env": Value::Object(many_env)})), "env"),
            (stdio(json!({"env": {"A": 1}})), "env"),
            (stdio(json!({"env": {"A": "a\u{0}"}})), "env"),
            (stdio(json!({"env": "x"})), "env"),
            (http(json!({"cwd": "/tmp"})), "cwd"),
            (http(json!({"args": ["x"]})), "args"),
            (http(json!({"timeout_ms": "x"})), "timeout_ms"),
            (http(json!({"headers": {"bad name": "v"}})), "headers"),
            (http(json!({"headers": {"A": "a\u{1}b"}})), "headers"),
            (http(json!({"url": long_url})), "url"),
        ] {
            match draft(input.clone()) {
                Err(Invalid {
                    field: Some(got), ..
                }) if got == f => {}
                other => failures.push(format!("{input}: expected {f}, got {:?}", other.err())),
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
        // Null clears a list or a map.
        assert!(draft(stdio(json!({"args": null, "env": null}))).is_ok());
    }

    #[test]
    fn server_input_is_checked_field_by_field() {
        let ok = draft(
            json!({"name": "time", "protocol": "stdio", "command": "uvx",
                              "args": ["mcp-server-time"], "env": {"TZ": "UTC"}}),
        )
        .unwrap();
        assert_eq!(ok.timeout_ms, 60_000);
        assert!(ok.is_active);
        assert!(
            draft(
                json!({"name": "w", "protocol": "http", "url": "https://x.test/mcp",
                              "headers": {"Authorization": "Bearer t"}})
            )
            .is_ok()
        );
        for (input, f) in [
            (json!({"protocol": "http", "url": "http://a"}), "name"),
            (
                json!({"name": "a_b", "protocol": "http", "url": "http://a"}),
                "name",
            ),
            (json!({"name": "a", "protocol": "ftp"}), "protocol"),
            (json!({"name": "a", "protocol": "http"}), "url"),
            (
                json!({"name": "a", "protocol": "http", "url": "ftp://a"}),
                "url",
            ),
            (
                json!({"name": "a", "protocol": "http", "url": "http://u:p@a"}),
                "url",
            ),
            (json!({"name": "a", "protocol": "stdio"}), "command"),
            (
                json!({"name": "a", "protocol": "stdio", "command": "x", "url": "http://a"}),
                "url",
            ),
            (
                json!({"name": "a", "protocol": "http", "url": "http://a", "command": "x"}),
                "command",
            ),
            (
                json!({"name": "a", "protocol": "stdio", "command": "x", "env": {"1X": "v"}}),
                "env",
            ),
            (
                json!({"name": "a", "protocol": "http", "url": "http://a", "headers": {"Host": "v"}}),
                "headers",
            ),
            (
                json!({"name": "a", "protocol": "http", "url": "http://a", "timeout_ms": 0}),
                "timeout_ms",
            ),
            (
                json!({"name": "a", "protocol": "http", "url": "http://a", "is_active": "yes"}),
                "is_active",
            ),
            (
                json!({"name": "a", "protocol": "http", "url": "http://a", "colour": "red"}),
                "colour",
            ),
            (
                json!({"name": "a", "protocol": "http", "url": "http://a", "id": "x"}),
                "id",
            ),
        ] {
            assert_eq!(field_of(draft(input.clone())), f, "{input}");
        }
    }

    #[test]
    fn debug_output_never_shows_secret_values() {
        let mut s = ServerDraft::default();
        s.apply(
            json!({"name": "w", "protocol": "http", "url": "http://a", "headers": {"Authorization": "Bearer s3cret"}})
                .as_object()
                .unwrap(),
            None,
        )
        .unwrap();
        let server = Server {
            id: Uuid::nil(),
            name: s.name,
            protocol: Protocol::Http,
            url: s.url,
            command: None,
            args: vec![],
            env: BTreeMap::from([("TOKEN".to_string(), "hunter2".to_string())]),
            headers: s.headers,
            is_active: true,
            timeout_ms: 1,
            cwd: None,
            max_concurrency: 32,
            idle_stop_ms: None,
            isolated: false,
            max_instances: 8,
            breaker_failures: 5,
            breaker_cooldown_ms: 10_000,
            max_memory_mb: None,
            created_at: String::new(),
            updated_at: String::new(),
            registered_us: 0,
        };
        let shown = format!("{server:?}");
        assert!(shown.contains("Authorization") && shown.contains("TOKEN"));
        assert!(
            !shown.contains("s3cret") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn masked_secrets_keep_their_stored_values() {
        let existing = Server {
            id: Uuid::nil(),
            name: "w".into(),
            protocol: Protocol::Http,
            url: Some("http://a".into()),
            command: None,
            args: vec![],
            env: BTreeMap::new(),
            headers: BTreeMap::from([("Authorization".to_string(), "Bearer s3cret".to_string())]),
            is_active: true,
            timeout_ms: 1000,
            cwd: None,
            max_concurrency: 32,
            idle_stop_ms: None,
            isolated: false,
            max_instances: 8,
            breaker_failures: 5,
            breaker_cooldown_ms: 10_000,
            max_memory_mb: None,
            created_at: String::new(),
            updated_at: String::new(),
            registered_us: 0,
        };
        let public = existing.public_json("running");
        assert!(!public.to_string().contains("s3cret"));
        let mut d = ServerDraft::from(&existing);
        d.apply(public.as_object().unwrap(), Some(&existing))
            .unwrap();
        assert_eq!(d.headers["Authorization"], "Bearer s3cret");
        let mut d = ServerDraft::from(&existing);
        let err = d
            .apply(
                json!({"headers": {"X-New": MASK}}).as_object().unwrap(),
                Some(&existing),
            )
            .err()
            .unwrap();
        assert!(err.to_string().contains("no stored value"));
    }

    #[test]
    fn namespace_input() {
        let mut d = NamespaceDraft::default();
        d.apply(
            json!({"name": "team-a", "servers": ["time"], "tool_prefix": "never", "auth": "none",
                   "tools": {"time__get": {"enabled": false}, "x": {"name": "now", "description": "d"}}})
            .as_object()
            .unwrap(),
            true,
        )
        .unwrap();
        assert!(!d.prefix_tools && !d.auth_required);
        assert!(!d.tools["time__get"].enabled);
        assert_eq!(d.tools["x"].name.as_deref(), Some("now"));
        for bad in [
            json!({"name": "a", "tools": {"t": {"colour": 1}}}),
            json!({"name": "a", "tools": {"bad name": {}}}),
            json!({"name": "a", "servers": ["x", "X"]}),
            json!({"name": "a", "tool_prefix": "sometimes"}),
            json!({"name": "a", "extra": 1}),
        ] {
            let mut d = NamespaceDraft::default();
            assert!(d.apply(bad.as_object().unwrap(), true).is_err(), "{bad}");
        }
    }
}
