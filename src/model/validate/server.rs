//! The server object: transport fields, limits, breaker settings, secrets kept masked,
//! URLs (no credentials, no internal-only schemes) and headers a client may not set.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::model::{Protocol, Server};

use super::*;

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
    pub auth: crate::model::auth::ServerAuth,
    /// What a changed or new tool definition meets (`hold` by default).
    pub tool_changes: crate::model::ToolChanges,
    /// What the change did that the caller did not ask for in so many words.
    pub warnings: Vec<String>,
    /// The change moves the url to another origin: nothing stored for the old one (its
    /// headers, tokens, client secrets) may follow it.
    pub origin_moved: bool,
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
            auth: s.auth.clone(),
            tool_changes: s.tool_changes,
            warnings: Vec::new(),
            origin_moved: false,
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
    "auth",
    "tool_changes",
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
    "skills",
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
            if let Some(why) = crate::model::names::reserved_server_name(&n) {
                return Err(Invalid::field("name", why));
            }
            self.name = n;
        }
        self.apply_protocol(obj, creating)?;
        self.apply_endpoint(obj, existing)?;
        self.apply_launch(obj, existing)?;
        // A masked secret keeps the stored one, but never for another origin.
        let kept_auth = existing.filter(|_| !self.origin_moved).map(|e| &e.auth);
        if let Some(auth) = obj.get("auth") {
            self.auth = crate::model::auth::ServerAuth::parse(auth, kept_auth)?;
        } else if self.origin_moved
            && let Some(auth) = self.auth.without_secrets()?
        {
            self.auth = auth;
            self.warnings.push(
                "the url moved to another origin: the stored client secret was dropped; \
                 send auth again with the new url if its authorization server needs one"
                    .into(),
            );
        }
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
            self.origin_moved =
                existing.is_some_and(|e| origin(e.url.as_deref()) != origin(url.as_deref()));
            moved = self.origin_moved && existing.is_some_and(|e| !e.headers.is_empty());
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
        self.tool_changes = tool_changes(obj, self.tool_changes)?;
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
                (d.breaker_failures, d.breaker_cooldown_ms, d.tool_changes),
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
                if !self.auth.is_static() {
                    return Err(Invalid::field(
                        "auth",
                        "stdio servers take their secrets in env; oauth is for http and sse servers",
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
                let secret = self
                    .headers
                    .values()
                    .any(|v| v.contains(crate::model::auth::CALLER_SECRET));
                if secret && !self.auth.is_static() {
                    return Err(Invalid::field(
                        "headers",
                        "{{caller.secret}} is each caller's static secret: the server's auth \
                         must be static",
                    ));
                }
                if protocol == Protocol::Sse && (secret || self.auth.per_caller()) {
                    return Err(Invalid::field(
                        "auth",
                        "each caller's own account (principal \"caller\", {{caller.secret}}) needs \
                         a Streamable HTTP server (protocol http): a legacy SSE server has one \
                         stream for everyone",
                    ));
                }
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
    if let Some(what) = crate::base::metadata::metadata_host(authority.host()) {
        return Err(Invalid::field(
            "url",
            format!(
                "points at {} ({what}); the gateway never connects to a metadata address",
                authority.host()
            ),
        ));
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

/// The origin of a URL, compared to decide whether stored secrets may follow a URL change.
fn origin(url: Option<&str>) -> Option<crate::base::Origin> {
    crate::base::Origin::of(url?)
}
