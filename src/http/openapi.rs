//! The OpenAPI 3.1 document served at `/api-docs/openapi.json`, generated from the route
//! table so that every route is described and nothing else is (a test checks both ways).

use hyper::Method;
use serde_json::{Map, Value, json};

use crate::http::routes::{Access, ROUTES, Route, RouteId};

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES.iter().filter(|r| r.documented()) {
        let item = paths
            .entry(route.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(ops) = item {
            ops.insert(route.method.as_str().to_ascii_lowercase(), operation(route));
        }
    }
    let mut components = components();
    super::schemas::registry_schemas(&mut components["schemas"]);
    super::schemas::audit_identity(&mut components["schemas"]);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "metamcp",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "An MCP gateway: many MCP servers behind one authenticated Streamable-HTTP endpoint."
        },
        "servers": [{"url": "/"}],
        "tags": TAGS.iter().map(|(name, description)| json!({"name": name, "description": description})).collect::<Vec<_>>(),
        "paths": paths,
        "components": super::schemas::with_identity_auth(components),
    })
}

/// The groups operations are listed under, in order.
const TAGS: &[(&str, &str)] = &[
    (
        "MCP",
        "The Streamable-HTTP MCP endpoint: every server the key may use, or one namespace",
    ),
    (
        "Servers",
        "The registry of MCP servers, and calling their tools over REST",
    ),
    (
        "Namespaces",
        "Groups of servers with their own endpoint, tool names and limits",
    ),
    ("Keys and tokens", "Access tokens for API keys"),
    (
        "MCP registries",
        "Search an MCP registry, install servers from it, upgrade them under review",
    ),
    (
        "Audit and events",
        "The audit trail, usage per key, and the live event stream",
    ),
    (
        "Operations",
        "Liveness, readiness, metrics and this document",
    ),
];

fn tag(route: &Route) -> &'static str {
    let p = route.path;
    if p.starts_with("/mcp") || p == "/api/v1/mcp/stream" || p.starts_with("/.well-known") {
        "MCP"
    } else if p.starts_with("/api/v1/mcp/servers") {
        "Servers"
    } else if p.starts_with("/api/v1/namespaces") {
        "Namespaces"
    } else if p.starts_with("/api/v1/registry") {
        "MCP registries"
    } else if p.starts_with("/api/v1/auth") {
        "Keys and tokens"
    } else if p.starts_with("/api/v1/") {
        "Audit and events"
    } else {
        "Operations"
    }
}

fn operation(route: &Route) -> Value {
    let mut op = Map::new();
    op.insert("operationId".into(), json!(operation_id(route)));
    op.insert("tags".into(), json!([tag(route)]));
    op.insert("summary".into(), json!(route.summary));
    op.insert(
        "security".into(),
        match route.access {
            Access::Public => json!([]),
            _ => json!([{"bearer": []}, {"apiKey": []}]),
        },
    );
    if route.access == Access::Admin {
        op.insert(
            "description".into(),
            json!("Requires a key with the admin scope."),
        );
    }
    let params: Vec<Value> = route
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let description = match name {
                "id" => "the server's UUID or its name",
                "tool" => "the tool's name as the server knows it",
                "name" if route.path.starts_with("/api/v1/policies") => "the policy's name",
                _ => "the namespace's name",
            };
            json!({"name": name, "in": "path", "required": true,
                   "description": description, "schema": {"type": "string"}})
        })
        .collect();
    let mut params = params;
    params.extend(query_parameters(route.id));
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    if let Some(schema) = request_schema(route.id)
        .filter(|_| route.method == Method::POST || route.method == Method::PUT)
    {
        let media = match route.id {
            RouteId::SecretSave => "application/x-www-form-urlencoded",
            _ => "application/json",
        };
        op.insert(
            "requestBody".into(),
            json!({"required": true, "content": {media: {"schema": schema}}}),
        );
    }
    let (status, body) = success(route.id);
    let mut responses = Map::new();
    responses.insert(status.to_string(), body);
    let mut errors: Vec<u16> = vec![];
    if route.access != Access::Public {
        errors.extend([401, 429]);
    }
    if route.access == Access::Admin {
        errors.push(403);
    }
    if route.path.contains('{') {
        errors.push(404);
    }
    if route.method == Method::POST || route.method == Method::PUT {
        errors.extend([400, 413, 415]);
    }
    if matches!(route.id, RouteId::Mcp | RouteId::McpNamespace) {
        errors.extend([400, 404, 406]);
    }
    if matches!(
        route.id,
        RouteId::Audit
            | RouteId::Usage
            | RouteId::ExportServers
            | RouteId::SearchTools
            | RouteId::ListSkills
    ) {
        errors.push(400);
    }
    if matches!(
        route.id,
        RouteId::ExportServers
            | RouteId::ResourceMetadata
            | RouteId::SearchTools
            | RouteId::ListSkills
    ) {
        errors.push(404);
    }
    if matches!(route.id, RouteId::ApproveReview | RouteId::RejectReview) {
        errors.push(404);
    }
    if matches!(route.id, RouteId::Usage | RouteId::GetKey) {
        errors.push(403);
    }
    if route.id == RouteId::GetKey {
        errors.push(404);
    }
    if matches!(route.id, RouteId::CreatePolicy) {
        errors.push(409);
    }
    if matches!(
        route.id,
        RouteId::CreateServer | RouteId::UpdateServer | RouteId::CreateNamespace
    ) {
        errors.push(409);
    }
    if route.id == RouteId::Token {
        errors.extend([401, 429]);
    }
    errors.push(503);
    for code in errors {
        responses.insert(
            code.to_string(),
            json!({"$ref": "#/components/responses/Error"}),
        );
    }
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

/// A unique operation id from the method and the path: `get_api_v1_mcp_servers_id`.
fn operation_id(route: &Route) -> String {
    let mut id = route.method.as_str().to_ascii_lowercase();
    for seg in route.path.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        id.extend(
            seg.chars()
                .filter(|c| !matches!(c, '{' | '}'))
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    id
}

/// The query parameters of the routes that take some.
fn query_parameters(id: RouteId) -> Vec<Value> {
    let q = |name: &str, description: &str, schema: Value| {
        json!({"name": name, "in": "query", "required": false,
               "description": description, "schema": schema})
    };
    let text = || json!({"type": "string"});
    let when = "an RFC 3339 time, or a duration before now (24h, 30d)";
    match id {
        RouteId::Audit => vec![
            q("key", "the key id", text()),
            q("server", "the server's name", text()),
            q(
                "tool",
                "the tool, prompt or resource as exposed (for changes: the object)",
                text(),
            ),
            q(
                "outcome",
                "ok, tool_error, rpc_error, timeout, unavailable, refused or cancelled",
                text(),
            ),
            q("since", when, text()),
            q("until", when, text()),
            q(
                "limit",
                "entries in the page (default 100)",
                json!({"type": "integer", "minimum": 1, "maximum": 1000}),
            ),
            q("cursor", "the previous page's next_cursor", text()),
            q(
                "parent",
                "a call_id: the calls made within that call (a run_code run's inner calls)",
                text(),
            ),
        ],
        RouteId::ImportServers => vec![
            q(
                "dry_run",
                "report what would change and write nothing",
                json!({"type": "boolean"}),
            ),
            q(
                "prune",
                "remove servers an earlier import of this source created that the file no longer names",
                json!({"type": "boolean"}),
            ),
            q(
                "namespace",
                "also make this namespace hold exactly the imported servers",
                text(),
            ),
            q(
                "source",
                "where the file came from (default api): what prune compares",
                text(),
            ),
        ],
        RouteId::ExportServers => vec![q("namespace", "only this namespace's servers", text())],
        RouteId::Usage => vec![
            q(
                "key",
                "the key id (a client key: its own, the default)",
                text(),
            ),
            q("since", &format!("{when}; default 30d"), text()),
        ],
        RouteId::SearchTools => vec![
            q(
                "q",
                "what the tool should do, in a few words (at most 1024 bytes)",
                text(),
            ),
            q(
                "limit",
                "most results (1 to 50, default 8)",
                json!({"type": "integer", "minimum": 1}),
            ),
            q(
                "namespace",
                "search this namespace's view (one the key may use)",
                text(),
            ),
        ],
        RouteId::RegistrySearch => vec![
            q(
                "search",
                "words of the entry's name (at most 256 bytes)",
                text(),
            ),
            q(
                "registry",
                "the registry's base URL (default METAMCP_REGISTRY_URL)",
                text(),
            ),
            q("cursor", "the next_cursor of the previous page", text()),
            q(
                "limit",
                "most entries (1 to 100, default 30)",
                json!({"type": "integer"}),
            ),
        ],
        RouteId::ListSkills => vec![q(
            "namespace",
            "this namespace's view (one the key may use); default: the caller's reach on /mcp",
            text(),
        )],
        _ => vec![],
    }
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn request_schema(id: RouteId) -> Option<Value> {
    Some(match id {
        RouteId::Token => schema_ref("TokenRequest"),
        RouteId::CreateServer | RouteId::UpdateServer => schema_ref("ServerInput"),
        RouteId::CreateNamespace | RouteId::UpdateNamespace => schema_ref("NamespaceInput"),
        RouteId::ExecuteTool => json!({"type": "object", "description": "the tool's arguments"}),
        RouteId::SetSecret => json!({"type": "object", "required": ["secret"],
            "properties": {"secret": {"type": "string", "maxLength": crate::model::auth::MAX_CALLER_SECRET}}}),
        RouteId::SecretSave => json!({"type": "object", "required": ["state", "secret"],
            "properties": {"state": {"type": "string"}, "secret": {"type": "string"}}}),
        RouteId::ImportServers => schema_ref("McpServersFile"),
        RouteId::RegistryInstall => schema_ref("RegistryInstall"),
        RouteId::RegistryUpgrade => schema_ref("RegistryUpgrade"),
        RouteId::ApproveReview | RouteId::RejectReview => schema_ref("ReviewDecision"),
        RouteId::CreatePolicy | RouteId::UpdatePolicy => schema_ref("Policy"),
        RouteId::CheckPolicy => json!({"type": "object", "required": ["principal", "tool"],
            "properties": {"principal": {"type": "string", "description": "a key's id or name"},
                "namespace": {"type": "string"}, "tool": {"type": "string"},
                "action": {"enum": ["call", "list"]}, "arguments": {"type": "object"}}}),
        RouteId::SimulatePolicy => json!({"type": "object", "required": ["text"],
            "properties": {"name": {"type": "string", "description": "the policy the text replaces (none: a new one)"},
                "text": {"type": "string", "description": "the policy's text, a JSON list of CEL rules"},
                "namespace": {"type": ["string", "null"]}}}),
        RouteId::Mcp | RouteId::McpNamespace => schema_ref("JsonRpcMessage"),
        _ => return None,
    })
}

fn success(id: RouteId) -> (u16, Value) {
    let json_body = |schema: Value| json!({"description": "OK", "content": {"application/json": {"schema": schema}}});
    match id {
        RouteId::Health | RouteId::Ready => (200, json_body(schema_ref("Status"))),
        RouteId::Metrics => (
            200,
            json!({"description": "Prometheus text exposition",
                   "content": {"text/plain; version=0.0.4": {"schema": {"type": "string"}}}}),
        ),
        RouteId::OpenApi => (200, json_body(json!({"type": "object"}))),
        RouteId::ResourceMetadata => (200, json_body(schema_ref("ProtectedResourceMetadata"))),
        RouteId::SwaggerUi => (
            200,
            json!({"description": "Swagger UI's page or files",
                   "content": {"text/html": {"schema": {"type": "string"}}}}),
        ),
        RouteId::Token => (200, json_body(schema_ref("TokenResponse"))),
        RouteId::ListServers => (
            200,
            json_body(json!({"type": "array", "items": schema_ref("Server")})),
        ),
        RouteId::CreateServer => (201, json_body(schema_ref("Server"))),
        RouteId::GetServer | RouteId::UpdateServer | RouteId::RestartServer => {
            (200, json_body(schema_ref("Server")))
        }
        RouteId::ListNamespaces => (
            200,
            json_body(json!({"type": "array", "items": schema_ref("Namespace")})),
        ),
        RouteId::CreateNamespace => (201, json_body(schema_ref("Namespace"))),
        RouteId::GetNamespace | RouteId::UpdateNamespace => {
            (200, json_body(schema_ref("Namespace")))
        }
        RouteId::DeleteServer | RouteId::DeleteNamespace => {
            (204, json!({"description": "Deleted"}))
        }
        RouteId::Mcp | RouteId::McpNamespace => (
            200,
            json!({"description": "A JSON-RPC response, or an SSE stream ending with it; 202 for notifications",
                   "content": {"application/json": {"schema": schema_ref("JsonRpcMessage")},
                               "text/event-stream": {"schema": {"type": "string"}}}}),
        ),
        RouteId::ServerTools => (
            200,
            json_body(json!({"type": "array", "items": {"type": "object"}})),
        ),
        RouteId::ExecuteTool => (
            200,
            json_body(json!({"type": "object", "description": "the tools/call result"})),
        ),
        RouteId::Audit => (200, json_body(schema_ref("AuditPage"))),
        RouteId::GetKey => (
            200,
            json_body(
                json!({"type": "object", "required": ["id", "name", "scope", "limits", "use"],
                "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                    "scope": {"type": "string"}, "limits": {"type": "object"},
                    "use": {"type": "object", "description": "use of each limit across the replicas: rate (limit, burst, available tokens), max_concurrent and streams (limit, places held), daily_calls (limit, used today, resets_at)",
                        "properties": {"rate": {"type": ["object", "null"]}, "max_concurrent": {"type": "object"},
                            "streams": {"type": "object"}, "daily_calls": {"type": "object"}}}}}),
            ),
        ),
        RouteId::AuthorizeServer | RouteId::Connect => (
            200,
            json_body(
                json!({"type": "object", "required": ["server", "authorization_url", "redirect_uri", "expires_in"],
                             "properties": {"server": {"type": "string"}, "authorization_url": {"type": "string"},
                                            "redirect_uri": {"type": "string"}, "expires_in": {"type": "integer"}}}),
            ),
        ),
        RouteId::OAuthCallback => (
            200,
            json!({"description": "A page saying whether the account is connected (400 when the state is unknown, used or expired, or the grant was refused)",
                   "content": {"text/html": {"schema": {"type": "string"}}}}),
        ),
        RouteId::ClientMetadata => (200, json_body(json!({"type": "object"}))),
        RouteId::Connections | RouteId::Connection => (
            200,
            json_body(
                json!({"type": "object", "properties": {"connections": {"type": "array", "items": {
                "type": "object", "properties": {
                    "server": {"type": "string"}, "server_id": {"type": "string"}, "principal": {"type": "string"},
                    "status": {"enum": ["connected", "expired"]}, "scopes": {"type": "array", "items": {"type": "string"}},
                    "expires_at": {"type": ["string", "null"]}, "connected_at": {"type": "string"}, "refreshed_at": {"type": "string"}}}}}}),
            ),
        ),
        RouteId::Disconnect => (204, json!({"description": "Disconnected"})),
        RouteId::SetSecret => (204, json!({"description": "Set"})),
        RouteId::SecretPage | RouteId::SecretSave => (
            200,
            json!({"description": "The page (400 when the state is unknown, used or expired)",
                   "content": {"text/html": {"schema": {"type": "string"}}}}),
        ),
        RouteId::ImportServers => (200, json_body(schema_ref("ImportReport"))),
        RouteId::ExportServers => (200, json_body(schema_ref("McpServersFile"))),
        RouteId::Usage => (200, json_body(schema_ref("Usage"))),
        RouteId::SearchTools => (200, json_body(schema_ref("ToolSearch"))),
        RouteId::Reviews => (200, json_body(schema_ref("Reviews"))),
        RouteId::ApproveReview => (
            200,
            json_body(json!({"type": "object", "properties": {
            "server": {"type": "string"}, "approved": {"type": "array", "items": {"type": "string"}}}})),
        ),
        RouteId::RejectReview => (
            200,
            json_body(json!({"type": "object", "properties": {
            "server": {"type": "string"}, "rejected": {"type": "array", "items": {"type": "string"}}}})),
        ),
        RouteId::PolicyLanguage => (
            200,
            json_body(json!({"type": "object", "required": ["language"],
                "properties": {"language": {"enum": ["cedar", "cel"]}}})),
        ),
        RouteId::ListPolicies => (
            200,
            json_body(json!({"type": "object", "required": ["policies"],
                "properties": {"language": {"type": "string"},
                    "policies": {"type": "array", "items": schema_ref("Policy")}}})),
        ),
        RouteId::CreatePolicy => (201, json_body(schema_ref("Policy"))),
        RouteId::GetPolicy | RouteId::UpdatePolicy => (200, json_body(schema_ref("Policy"))),
        RouteId::DeletePolicy => (204, json!({"description": "Deleted"})),
        RouteId::CheckPolicy => (
            200,
            json_body(json!({"type": "object", "required": ["decision", "policy"],
                "properties": {"decision": {"enum": ["allow", "deny", "confirm"]},
                    "policy": {"type": ["string", "null"]}, "reason": {"type": ["string", "null"]},
                    "server": {"type": ["string", "null"]},
                    "failed": {"type": "array", "items": {"type": "string"},
                        "description": "the rules that failed to evaluate on the way"},
                    "audit": {"type": "array", "items": {"type": "object",
                        "properties": {"policy": {"type": "string"}, "decision": {"enum": ["allow", "deny", "confirm"]},
                            "failed": {"type": ["string", "null"]}}},
                        "description": "what each policy in audit mode would have decided"}}})),
        ),
        RouteId::SimulatePolicy => (200, json_body(simulate_schema())),
        RouteId::ListSkills => (200, json_body(schema_ref("SkillList"))),
        RouteId::RegistrySearch => (200, json_body(schema_ref("RegistryPage"))),
        RouteId::RegistryInstall => (201, json_body(schema_ref("Server"))),
        RouteId::RegistryUpgrade => (200, json_body(schema_ref("Server"))),
        RouteId::RegistryOutdated => (200, json_body(schema_ref("RegistryOutdated"))),
        RouteId::Events => (
            200,
            json!({"description": "One JSON event per line; first a `ready` line, then events and a heartbeat every 15 s",
                   "content": {"application/x-ndjson": {"schema": schema_ref("Event")}}}),
        ),
    }
}

/// `GET /api/v1/skills`'s answer.
fn skill_list() -> Value {
    json!({"type": "object", "required": ["skills"], "properties": {
        "skills": {"type": "array", "items": {"type": "object",
            "required": ["name", "server", "uri", "description"], "properties": {
            "name": {"type": "string", "description": "the skill's name (its SKILL.md frontmatter's, not renamed)"},
            "server": {"type": "string", "description": "the server that serves it"},
            "uri": {"type": "string", "description": "its SKILL.md URI as the view exposes it (skills/get, resources/read)"},
            "description": {"type": "string"}}}}}})
}

fn components() -> Value {
    let string_map = json!({"type": "object", "additionalProperties": {"type": "string"}});
    let mut c = json!({
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "An access token from /api/v1/auth/token, or an API key"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
        },
        "responses": {
            "Error": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        },
        "schemas": {
            "JsonRpcMessage": {"type": ["object", "array"], "description": "A JSON-RPC 2.0 message (a batch only in 2025-03-26 sessions)"},
            "Error": {"type": "object", "required": ["error", "code", "status"], "properties": {
                "error": {"type": "string"}, "code": {"type": "string"}, "status": {"type": "integer"},
                "field": {"type": "string", "description": "the request field at fault (400 only)"}}},
            "Status": {"type": "object", "properties": {"status": {"type": "string"}}},
            "AuditPage": {"type": "object", "required": ["entries", "next_cursor"], "properties": {
                "entries": {"type": "array", "items": schema_ref("AuditEntry")},
                "next_cursor": {"type": ["string", "null"], "description": "null on the last page"}}},
            "AuditEntry": {"type": "object", "description": "never an argument or a result value", "properties": {
                "id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
                "kind": {"enum": ["call", "change"]},
                "key_id": {"type": ["string", "null"]},
                "key_name": {"type": ["string", "null"], "description": "the key's name; null for a deleted key"},
                "subject": {"type": ["string", "null"]},
                "namespace": {"type": ["string", "null"]}, "server": {"type": ["string", "null"]},
                "method": {"type": "string", "description": "tools/call, prompts/get, resources/read; server.create and the like"},
                "tool": {"type": ["string", "null"], "description": "as exposed (for changes: the object)"},
                "upstream_tool": {"type": ["string", "null"], "description": "as the backend knows it"},
                "outcome": {"enum": ["ok", "tool_error", "rpc_error", "timeout", "unavailable", "refused", "cancelled"]},
                "duration_ms": {"type": "number"}, "request_bytes": {"type": "integer"},
                "response_bytes": {"type": "integer"}, "trace_id": {"type": ["string", "null"]}}},
            "Usage": {"type": "object", "properties": {
                "key_id": {"type": "string"}, "since": {"type": "string"},
                "tools": {"type": "array", "items": {"type": "object", "properties": {
                    "method": {"type": "string"}, "tool": {"type": ["string", "null"]},
                    "servers": {"type": "array", "items": {"type": "string"}},
                    "calls": {"type": "integer"}, "errors": {"type": "integer", "description": "every outcome but ok"},
                    "p50_ms": {"type": "number"}, "p99_ms": {"type": "number"},
                    "request_bytes": {"type": "integer"}, "response_bytes": {"type": "integer"}}}},
                "total": {"type": "object"}}},
            "McpServersFile": {"type": "object", "description": "Claude Desktop, Claude Code, Cursor and Windsurf keep mcpServers; VS Code keeps servers; the inner object alone is accepted too",
                "properties": {"mcpServers": {"type": "object", "additionalProperties": schema_ref("McpServerEntry")},
                               "servers": {"type": "object", "additionalProperties": schema_ref("McpServerEntry")}}},
            "McpServerEntry": {"type": "object", "description": "stdio (command) or HTTP (url; type absent or http: Streamable HTTP, sse: legacy SSE); ${VAR} in env and headers comes from the gateway's environment",
                "properties": {
                    "command": {"type": "string"}, "args": {"type": "array", "items": {"type": "string"}},
                    "env": string_map, "cwd": {"type": "string"},
                    "url": {"type": "string"}, "type": {"enum": ["stdio", "http", "streamable-http", "sse"]},
                    "headers": string_map, "disabled": {"type": "boolean"}}},
            "ImportProblem": {"type": "object", "required": ["path", "message"], "properties": {
                "path": {"type": "string", "description": "JSON path in the file, e.g. $.mcpServers.time.command"},
                "message": {"type": "string"}}},
            "ImportReport": {"type": "object", "required": ["created", "updated", "unchanged", "removed", "renamed", "problems"], "properties": {
                "created": {"type": "array", "items": {"type": "string"}},
                "updated": {"type": "array", "items": {"type": "string"}},
                "unchanged": {"type": "array", "items": {"type": "string"}},
                "removed": {"type": "array", "items": {"type": "string"}},
                "renamed": {"type": "array", "items": {"type": "object", "properties": {
                    "from": {"type": "string"}, "to": {"type": "string"}, "path": {"type": "string"}}}},
                "problems": {"type": "array", "items": schema_ref("ImportProblem")},
                "ignored": {"type": "array", "items": schema_ref("ImportProblem")},
                "namespace": {"type": ["object", "null"]},
                "dry_run": {"type": "boolean"}, "source": {"type": "string"}}},
            "TokenRequest": {"type": "object", "required": ["api_key"], "additionalProperties": false,
                "properties": {"api_key": {"type": "string"}}},
            "TokenResponse": {"type": "object", "required": ["access_token", "token_type", "expires_in"],
                "properties": {"access_token": {"type": "string"}, "token_type": {"const": "Bearer"},
                               "expires_in": {"type": "integer"}}},
            "Server": {"type": "object", "properties": {
                "id": {"type": "string", "format": "uuid"},
                "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"},
                "protocol": {"enum": ["stdio", "http", "sse"]},
                "url": {"type": ["string", "null"]}, "command": {"type": ["string", "null"]},
                "args": {"type": "array", "items": {"type": "string"}},
                "env": {"type": "object", "description": "values masked", "additionalProperties": {"type": "string"}},
                "headers": {"type": "object", "description": "values masked", "additionalProperties": {"type": "string"}},
                "is_active": {"type": "boolean"}, "timeout_ms": {"type": "integer"},
                "status": {"enum": ["running", "starting", "failed", "stopped"]},
                "last_error": {"type": ["string", "null"]},
                "circuit": {"enum": ["closed", "open", "half_open"]},
                "consecutive_failures": {"type": "integer"},
                "max_concurrency": {"type": "integer"},
                "breaker_failures": {"type": "integer"}, "breaker_cooldown_ms": {"type": "integer"},
                "auth": {"$ref": "#/components/schemas/ServerAuth"},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"}}},
            "ServerInput": {"type": "object", "additionalProperties": false, "properties": {
                "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"},
                "protocol": {"enum": ["stdio", "http", "sse"]},
                "url": {"type": ["string", "null"], "description": "http and sse servers"},
                "command": {"type": ["string", "null"], "description": "stdio servers"},
                "args": {"type": ["array", "null"], "items": {"type": "string"}},
                "env": string_map, "headers": string_map,
                "is_active": {"type": "boolean"},
                "timeout_ms": {"type": "integer", "minimum": 1, "maximum": 3_600_000},
                "cwd": {"type": ["string", "null"], "description": "stdio servers"},
                "max_concurrency": {"type": "integer", "minimum": 1, "description": "calls in flight at once; a few times as many wait, the rest are refused"},
                "idle_stop_ms": {"type": ["integer", "null"], "description": "stdio servers"},
                "session_mode": {"enum": ["shared", "isolated"]},
                "max_instances": {"type": "integer", "minimum": 1},
                "max_memory_mb": {"type": ["integer", "null"]},
                "breaker_failures": {"type": "integer", "minimum": 0, "maximum": 1000, "description": "failed calls in a row that open the circuit; 0 switches the breaker off"},
                "breaker_cooldown_ms": {"type": "integer", "minimum": 100, "maximum": 3_600_000},
                "auth": {"$ref": "#/components/schemas/ServerAuth"}}},
            "ServerAuth": {"type": ["object", "null"], "description": "how the gateway proves itself to the backend; static (the default): its headers and env ({{caller.secret}} in a value: each caller's own secret); oauth: the gateway is an OAuth client of the backend, with one shared account an admin connects (POST /api/v1/mcp/servers/{id}/authorize) or each caller's own (principal caller: POST /api/v1/me/connections/{server}, or when a call asks); oauth_client_credentials: the gateway's own account; token_exchange: each caller's inbound OAuth token exchanged at its issuer (RFC 8693); workload_identity: the workload's own JWT as a jwt-bearer grant (SEP-1933); enterprise: an identity provider's ID token exchanged there for an ID-JAG, then for the backend's token (SEP-990). Tokens are DPoP-bound (RFC 9449) when the authorization server offers ES256",
                "additionalProperties": false, "properties": {
                "type": {"enum": ["static", "oauth", "oauth_client_credentials", "token_exchange", "workload_identity", "enterprise"]},
                "principal": {"enum": ["shared", "caller"]},
                "issuer": {"type": "string", "description": "token_exchange: the issuer whose tokens are exchanged"},
                "token_endpoint": {"type": ["string", "null"], "description": "token_exchange: default: the issuer's metadata's"},
                "audience": {"type": ["string", "null"], "description": "token_exchange: the audience asked for"},
                "client_id": {"type": ["string", "null"], "description": "a client registered beforehand (an https URL is a client metadata document's); default: the gateway's own document, else dynamic registration"},
                "client_secret": {"type": ["string", "null"], "description": "masked in answers; stored encrypted"},
                "private_key": {"type": ["string", "null"], "description": "oauth_client_credentials: a PEM key for private_key_jwt; masked in answers"},
                "signing_algorithm": {"type": ["string", "null"], "enum": ["RS256", "PS256", "ES256", "ES384", "EdDSA", null]},
                "scopes": {"type": ["array", "null"], "items": {"type": "string"}}}},
            "Event": {"type": "object", "required": ["type", "at"], "properties": {
                "type": {"type": "string", "examples": ["ready", "heartbeat", "server.created", "server.updated",
                    "server.deleted", "namespace.created", "namespace.updated", "namespace.deleted",
                    "key.created", "key.revoked", "key.activated", "key.rotated", "key.deleted"]},
                "at": {"type": "string", "format": "date-time"},
                "id": {"type": "string"}, "name": {"type": "string"}}}
        }
    });
    c["schemas"]["Policy"] = policy_schema();
    c["schemas"]["SkillList"] = skill_list();
    c["schemas"]["ToolSearch"] = tool_search();
    if let (Some(all), Value::Object(more)) = (c["schemas"].as_object_mut(), namespace_schemas()) {
        all.extend(more);
    }
    let strings = json!({"type": "array", "items": {"type": "string"}});
    review_schemas(&mut c);
    c["schemas"]["ProtectedResourceMetadata"] = json!({
        "type": "object", "required": ["resource", "authorization_servers"],
        "description": "RFC 9728; 404 when no METAMCP_OAUTH_ISSUER is configured",
        "properties": {"resource": {"type": "string"},
            "authorization_servers": strings, "scopes_supported": strings,
            "bearer_methods_supported": strings,
            "resource_name": {"type": "string"}, "resource_documentation": {"type": "string"}}});
    c
}

/// The answer of a tool search (`search_tools`, REST search).
fn tool_search() -> Value {
    json!({"type": "object", "required": ["query", "results"], "properties": {
        "query": {"type": "string"},
        "results": {"type": "array", "description": "best first; empty only when the search is sure no tool of the view does this", "items": {
            "type": "object", "required": ["name", "server", "score", "confidence"], "properties": {
                "name": {"type": "string", "description": "the tool's name in the view (what tools/call takes)"},
                "server": {"type": "string"},
                "title": {"type": ["string", "null"]},
                "description": {"type": ["string", "null"]},
                "score": {"type": "number"},
                "confidence": {"enum": ["high", "medium", "low"], "description": "how sure the search is that the tool serves the need"}}}}}})
}

/// The schemas of pinned definitions: the `tool_changes` field of servers (namespaces
/// have theirs in [`namespace_schemas`]), reviews and a review's decision.
fn review_schemas(c: &mut Value) {
    let tool_changes = json!({"enum": ["hold", "accept"], "default": "hold",
        "description": "hold: a changed or new tool (or one screening flags) is held out of every list until an admin approves it (GET /api/v1/reviews); accept: re-pinned at once"});
    for schema in ["Server", "ServerInput"] {
        c["schemas"][schema]["properties"]["tool_changes"] = tool_changes.clone();
    }
    c["schemas"]["Reviews"] = json!({"type": "object", "required": ["reviews"], "properties": {"reviews": {"type": "array", "items": {
                "type": "object", "required": ["server", "tool", "kind", "findings", "before", "after"], "properties": {
                    "server": {"type": "string"}, "tool": {"type": "string"}, "item": {"enum": ["tool", "prompt"]},
                    "kind": {"enum": ["changed", "added", "flagged"]},
                    "findings": {"type": "array", "items": {"type": "string"}, "description": "what screening found"},
                    "before": {"type": ["object", "null"], "description": "the pinned definition (null for a new tool)"},
                    "after": {"type": "object", "description": "the definition held"},
                    "diff": {"type": "array", "description": "each value added, removed or changed: path (JSON Pointer), change (added, removed, changed), before, after; a new tool is each of its members added",
                        "items": {"type": "object", "properties": {"path": {"type": "string"}}}},
                    "held_at": {"type": "string", "format": "date-time"}}}}}});
    c["schemas"]["ReviewDecision"] = json!({"type": "object", "required": ["server"], "additionalProperties": false, "properties": {
                "server": {"type": "string", "description": "the server's name or UUID"},
                "tool": {"type": "string", "description": "one held item (the server's own name): a tool, or the kind `item` names; absent: every held item of the server's"},
                "item": {"enum": ["tool", "prompt"], "description": "the kind of item `tool` names (default tool); without `tool`, every held item of this kind"}}});
}

/// The namespace's schemas: the object, its input, a tool override.
fn namespace_schemas() -> Value {
    let mut schemas = json!({
    "ToolOverride": {"type": "object", "additionalProperties": false, "properties": {
        "enabled": {"type": "boolean"}, "name": {"type": "string"}, "description": {"type": "string"},
        "rate": {"type": "string", "pattern": "^[0-9]+/(s|m)$", "description": "calls per key, e.g. 10/m"}}},
    "Namespace": {"type": "object", "properties": {
        "name": {"type": "string"}, "description": {"type": ["string", "null"]},
        "servers": {"type": "array", "items": {"type": "string"}},
        "tool_prefix": {"enum": ["always", "never"]}, "auth": {"enum": ["required", "none"]},
        "validate_arguments": {"type": "boolean", "description": "check each tools/call's arguments against the tool's inputSchema before forwarding it (-32602 naming the JSON pointer)"},
        "tool_search": {"enum": ["off", "on", "auto"], "description": "on: tools/list gives the gateway's search_tools and call_tool instead of every tool; auto: on when the full list would pass 64 KiB"},
        "tools_default": {"enum": ["enabled", "disabled"], "default": "enabled", "description": "enabled: every tool of the servers but those tools switches off; disabled: an allow-list, only the tools tools names (without enabled: false) are listed, searched and called, and a tool a server offers later or only to some clients is not, until an admin names it"},
        "tools": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/ToolOverride"}},
        "tool_changes": {"enum": ["hold", "accept"], "default": "hold", "description": "hold: a changed or new tool (or one screening flags) is held out of every list until an admin approves it (GET /api/v1/reviews); accept: re-pinned at once"},
        "code_mode": {"enum": ["off", "on"], "default": "off", "description": "on: tools/list gives the gateway's search_tools, call_tool and run_code (a script that calls tools as functions, bounded); every tool stays callable by its name"},
        "tool_search_effective": {"enum": ["on", "off"], "description": "the mode in effect: for auto, whether the full tools/list passes 64 KiB"},
        "tool_search_why": {"type": "string", "description": "why the mode in effect is what it is"},
        "tool_search_embedded": {"type": "object", "description": "tool search's embeddings so far (until every tool of the view is embedded, its words alone rank)",
            "properties": {"tools": {"type": "integer"}, "embedded": {"type": "integer"},
                "background": {"type": "integer"}, "background_of": {"type": "integer"}}},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"}}},
    "NamespaceInput": {"type": "object", "additionalProperties": false, "properties": {
        "name": {"type": "string"}, "description": {"type": ["string", "null"]},
        "servers": {"type": "array", "items": {"type": "string"}},
        "tool_prefix": {"enum": ["always", "never"]}, "auth": {"enum": ["required", "none"]},
        "validate_arguments": {"type": "boolean", "default": false},
        "tool_search": {"enum": ["off", "on", "auto"], "default": "auto"},
        "code_mode": {"enum": ["off", "on"], "default": "off", "description": "on: tools/list gives the gateway's search_tools, call_tool and run_code"},
        "tool_changes": {"enum": ["hold", "accept"], "default": "hold", "description": "hold: a changed or new tool (or one screening flags) is held out of every list until an admin approves it (GET /api/v1/reviews); accept: re-pinned at once"},
        "tools_default": {"enum": ["enabled", "disabled"], "default": "enabled", "description": "enabled: every tool of the servers but those tools switches off; disabled: an allow-list, only the tools tools names (without enabled: false) are listed, searched and called, and a tool a server offers later or only to some clients is not, until an admin names it"},
        "tools": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/ToolOverride"}}}}
    });
    guardrail_schemas(&mut schemas);
    schemas
}

/// A namespace's external guardrails ([`crate::model::guardrail`], docs/guides/guardrails.md).
fn guardrail_schemas(schemas: &mut Value) {
    schemas["Guardrail"] = json!({"type": "object", "required": ["url"], "additionalProperties": false, "properties": {
        "url": {"type": "string", "description": "http:// or https://; the hook is POSTed {phase, namespace, principal, server, tool, arguments[, result]} and answers {decision: allow|deny|mutate, reason?, arguments?|result?}. Shown with its userinfo and query values masked"},
        "on": {"type": "array", "items": {"enum": ["request", "result"]}, "minItems": 1, "default": ["request", "result"]},
        "mode": {"enum": ["enforce", "audit"], "default": "enforce", "description": "audit: the answer is recorded (event guardrail.audit), never applied"},
        "failure": {"enum": ["open", "closed"], "default": "closed", "description": "a timeout, an error, an answer over 1 MiB or not understood, a full queue, a result over 4 MiB: closed refuses the call (-32003), open lets it through unchanged"},
        "timeout_ms": {"type": "integer", "minimum": 1, "maximum": 30000, "default": 2000}}});
    let list = json!({"type": "array", "maxItems": 8, "items": {"$ref": "#/components/schemas/Guardrail"}});
    for schema in ["Namespace", "NamespaceInput"] {
        schemas[schema]["properties"]["guardrails"] = list.clone();
    }
}

/// A simulation's answer: the differences.
fn simulate_schema() -> Value {
    json!({"type": "object", "required": ["changes", "total_changes", "truncated", "keys", "compared", "complete"],
                "properties": {"changes": {"type": "array", "items": {"type": "object",
                    "required": ["principal", "tool", "before", "after"],
                    "properties": {"principal": {"type": "string"}, "tool": {"type": "string"},
                        "before": {"enum": ["allow", "deny", "confirm", "depends on arguments"]}, "after": {"enum": ["allow", "deny", "confirm", "depends on arguments"]}}}},
                    "total_changes": {"type": "integer"}, "truncated": {"type": "boolean"},
                    "keys": {"type": "integer"}, "compared": {"type": "integer"},
                    "complete": {"type": "boolean", "description": "false: stopped at the most calls one simulation compares"},
                    "stopped": {"type": "string", "description": "where it stopped and how to narrow it (only when not complete)"},
                    "arguments": {"type": "string"}}})
}

/// A policy by identity ([`crate::policy::rules`]), as stored and given.
fn policy_schema() -> Value {
    json!({"type": "object", "required": ["name", "text"], "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
        "text": {"type": "string", "description": "a JSON list of rules {\"effect\": \"allow\" | \"deny\" | \"confirm\", \"when\": CEL, \"reason\"?}; the first that matches decides"},
        "namespace": {"type": ["string", "null"], "description": "absent or null: every view"},
        "mode": {"enum": ["enforce", "audit"], "default": "enforce",
            "description": "audit: decided on every call and recorded (the audit row's policy_audit), binding nothing"}}})
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route in the table is in the document, and the document has nothing else.
    #[test]
    fn every_schema_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        let mut missing = Vec::new();
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap_or_default();
            if doc["components"]["schemas"].get(name).is_none() {
                missing.push(name.to_string());
            }
        }
        assert!(missing.is_empty(), "unresolved: {missing:?}");
        assert!(
            doc["components"]["schemas"]["NamespaceInput"]["properties"]["validate_arguments"]
                .is_object()
        );
    }

    #[test]
    fn document_and_route_table_agree() {
        let doc = document();
        let paths = doc["paths"].as_object().expect("paths");
        let mut documented = Vec::new();
        for (path, ops) in paths {
            for method in ops.as_object().expect("operations").keys() {
                documented.push(format!("{} {path}", method.to_ascii_uppercase()));
            }
        }
        let mut routed: Vec<String> = ROUTES
            .iter()
            .filter(|r| r.documented())
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        documented.sort();
        routed.sort();
        assert_eq!(documented, routed);
        // Operation ids are unique (OpenAPI requires it; Swagger UI links by them).
        let mut ids: Vec<String> = ROUTES
            .iter()
            .filter(|r| r.documented())
            .map(operation_id)
            .collect();
        let all = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), all);
        // Every operation's tag is declared.
        for route in ROUTES {
            assert!(TAGS.iter().any(|(t, _)| *t == tag(route)));
        }
        // Every $ref resolves.
        let text = doc.to_string();
        for piece in text.split("\"$ref\":\"#/components/").skip(1) {
            let target = &piece[..piece.find('"').unwrap()];
            let mut node = &doc["components"];
            for part in target.split('/') {
                node = &node[part];
            }
            assert!(!node.is_null(), "dangling $ref {target}");
        }
    }
}
