//! The route table: every (method, path pattern) the gateway serves, who may call it, and
//! matching by hand. The same table drives 404/405 answers, the `Allow` header, metrics
//! labels and the OpenAPI document (a test keeps the last in step).

use hyper::Method;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials.
    Public,
    /// Any valid key or token.
    Client,
    /// A key or token with the `admin` scope.
    Admin,
    /// MCP endpoints: a key, unless the namespace is open (`auth: none`).
    Mcp,
}

/// What a route does; the server dispatches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteId {
    Health,
    Ready,
    Metrics,
    OpenApi,
    SwaggerUi,
    ResourceMetadata,
    Token,
    ListServers,
    CreateServer,
    ImportServers,
    ExportServers,
    GetServer,
    UpdateServer,
    DeleteServer,
    RestartServer,
    ListNamespaces,
    CreateNamespace,
    GetNamespace,
    UpdateNamespace,
    DeleteNamespace,
    Events,
    Mcp,
    McpNamespace,
    ServerTools,
    ExecuteTool,
    AuthorizeServer,
    Connections,
    Connection,
    Connect,
    SetSecret,
    Disconnect,
    OAuthCallback,
    SecretPage,
    SecretSave,
    ClientMetadata,
    Audit,
    Usage,
    GetKey,
    SearchTools,
    Reviews,
    ApproveReview,
    RejectReview,
    PolicyLanguage,
    ListPolicies,
    CreatePolicy,
    CheckPolicy,
    SimulatePolicy,
    GetPolicy,
    UpdatePolicy,
    DeletePolicy,
    ListSkills,
    RegistrySearch,
    RegistryInstall,
    RegistryUpgrade,
    RegistryOutdated,
}

/// One entry of the table.
#[derive(Debug)]
pub struct Route {
    pub method: Method,
    /// `/`-separated segments; `{name}` matches one non-empty segment.
    pub path: &'static str,
    pub id: RouteId,
    pub access: Access,
    pub summary: &'static str,
}

macro_rules! route {
    ($method:ident $path:literal => $id:ident, $access:ident, $summary:literal) => {
        Route {
            method: Method::$method,
            path: $path,
            id: RouteId::$id,
            access: Access::$access,
            summary: $summary,
        }
    };
}

/// Every route, in the order the OpenAPI document lists them.
pub static ROUTES: &[Route] = &[
    route!(POST "/mcp" => Mcp, Mcp, "MCP over every server the key may use: JSON-RPC messages"),
    route!(GET "/mcp" => Mcp, Mcp, "MCP: the session's stream of server notifications (SSE)"),
    route!(DELETE "/mcp" => Mcp, Mcp, "MCP: end the session"),
    route!(POST "/mcp/{namespace}" => McpNamespace, Mcp, "MCP over one namespace"),
    route!(GET "/mcp/{namespace}" => McpNamespace, Mcp, "MCP over one namespace: notification stream"),
    route!(DELETE "/mcp/{namespace}" => McpNamespace, Mcp, "MCP over one namespace: end the session"),
    route!(POST "/api/v1/mcp/stream" => Mcp, Mcp, "Alias of POST /mcp"),
    route!(GET "/health" => Health, Public, "Liveness"),
    route!(GET "/ready" => Ready, Public, "Readiness: database reachable, registry loaded; ?servers: every active server settled (running or failed), &wait=S holds the answer up to S seconds (30)"),
    route!(GET "/metrics" => Metrics, Public, "Prometheus metrics"),
    route!(GET "/api-docs/openapi.json" => OpenApi, Public, "This document"),
    // Swagger UI over this document; not part of it.
    route!(GET "/swagger-ui" => SwaggerUi, Public, "Swagger UI"),
    route!(GET "/swagger-ui/" => SwaggerUi, Public, "Swagger UI"),
    route!(GET "/swagger-ui/{file}" => SwaggerUi, Public, "Swagger UI's files"),
    route!(POST "/api/v1/auth/token" => Token, Public, "Exchange an API key for a 15-minute access token"),
    route!(GET "/.well-known/oauth-protected-resource" => ResourceMetadata, Public, "OAuth Protected Resource Metadata (RFC 9728) of /mcp"),
    route!(GET "/.well-known/oauth-protected-resource/mcp" => ResourceMetadata, Public, "OAuth Protected Resource Metadata (RFC 9728) of /mcp"),
    route!(GET "/.well-known/oauth-protected-resource/mcp/{namespace}" => ResourceMetadata, Public, "OAuth Protected Resource Metadata (RFC 9728) of /mcp/{namespace}"),
    route!(GET "/api/v1/mcp/servers" => ListServers, Client, "List registered MCP servers"),
    route!(POST "/api/v1/mcp/servers" => CreateServer, Admin, "Register an MCP server"),
    // Before `{id}`: these two literal paths win over a server named `import` or
    // `export` (reach such a server by its UUID).
    route!(POST "/api/v1/mcp/servers/import" => ImportServers, Admin, "Import an mcpServers file (Claude, Cursor, VS Code, …): one transaction, idempotent"),
    route!(GET "/api/v1/mcp/servers/export" => ExportServers, Admin, "The registry as an mcpServers file, secrets masked (references kept)"),
    route!(GET "/api/v1/mcp/servers/{id}" => GetServer, Client, "Show a server by UUID or name"),
    route!(PUT "/api/v1/mcp/servers/{id}" => UpdateServer, Admin, "Update a server (fields given replace, others stay)"),
    route!(DELETE "/api/v1/mcp/servers/{id}" => DeleteServer, Admin, "Remove a server"),
    route!(POST "/api/v1/mcp/servers/{id}/restart" => RestartServer, Admin, "Restart an active server on every gateway: its backend (a stdio server's process) is started anew"),
    route!(GET "/api/v1/namespaces" => ListNamespaces, Client, "List namespaces"),
    route!(POST "/api/v1/namespaces" => CreateNamespace, Admin, "Create a namespace"),
    route!(GET "/api/v1/namespaces/{name}" => GetNamespace, Client, "Show a namespace"),
    route!(PUT "/api/v1/namespaces/{name}" => UpdateNamespace, Admin, "Update a namespace (fields given replace, others stay)"),
    route!(DELETE "/api/v1/namespaces/{name}" => DeleteNamespace, Admin, "Remove a namespace"),
    route!(POST "/api/v1/mcp/servers/{id}/authorize" => AuthorizeServer, Admin, "Start connecting an OAuth server's shared account: the URL to open in a browser"),
    route!(GET "/api/v1/me/connections" => Connections, Client, "The upstream accounts the gateway holds for the caller (an admin: every one; ?server=NAME, ?key=ID)"),
    route!(GET "/api/v1/me/connections/{server}" => Connection, Client, "The caller's connection with one server (an admin: its shared account too)"),
    route!(POST "/api/v1/me/connections/{server}" => Connect, Client, "Start connecting the caller's own account with a per-caller server: the URL to open in a browser"),
    route!(PUT "/api/v1/me/connections/{server}" => SetSecret, Client, "Set the caller's own secret for a server whose headers take {{caller.secret}}"),
    route!(DELETE "/api/v1/me/connections/{server}" => Disconnect, Client, "End the caller's connection with a server (an admin: a shared account, or ?key=ID's), revoked upstream when offered"),
    route!(GET "/oauth/callback" => OAuthCallback, Public, "Where an upstream authorization server sends the browser back"),
    route!(GET "/oauth/secret" => SecretPage, Public, "The page where a caller sets their own secret for a server (?state= from a call or POST /api/v1/me/connections/{server})"),
    route!(POST "/oauth/secret" => SecretSave, Public, "Sets the secret the page's state is for (a form: state, secret)"),
    route!(GET "/oauth/client-metadata.json" => ClientMetadata, Public, "The gateway's OAuth client metadata document (its client id under METAMCP_PUBLIC_URL)"),
    route!(GET "/api/v1/mcp/servers/{id}/tools" => ServerTools, Client, "The tools a server offers, with their exposed names"),
    route!(POST "/api/v1/mcp/servers/{id}/tools/{tool}/execute" => ExecuteTool, Client, "Call a tool: the body is its arguments, the answer its result"),
    route!(GET "/api/v1/events" => Events, Client, "NDJSON stream of registry and lifecycle events"),
    route!(GET "/api/v1/audit" => Audit, Admin, "The audit trail, newest first: forwarded calls and registry changes"),
    route!(GET "/api/v1/keys/{id}" => GetKey, Client, "A key (by id or name) with its limits and its use of each across the replicas (a client key: itself)"),
    route!(GET "/api/v1/usage" => Usage, Client, "A key's calls per tool, from the audit trail (a client key: its own)"),
    route!(GET "/api/v1/reviews" => Reviews, Admin, "Tool definitions held for review: changed, added or flagged by screening, with the pinned and the offered definition"),
    route!(POST "/api/v1/reviews/approve" => ApproveReview, Admin, "Approve held tools or prompts ({server, tool?, item?}; tool names one, a tool unless item is prompt; every held item of the server without tool): they are re-pinned and listed again"),
    route!(POST "/api/v1/reviews/reject" => RejectReview, Admin, "Reject held tools or prompts ({server, tool?, item?}): the old pin stays and the offered definition stays held until the server offers another"),
    route!(GET "/api/v1/skills" => ListSkills, Client, "The skills (SEP-2640) within the caller's reach: &namespace= one view; each with its server and the URI the view exposes it under"),
    route!(GET "/api/v1/registry/servers" => RegistrySearch, Admin, "Search an MCP registry (METAMCP_REGISTRY_URL, or &registry=URL): ?search=, &cursor=, &limit= (1-100, default 30); the latest version of each entry"),
    route!(POST "/api/v1/registry/install" => RegistryInstall, Admin, "Install a server from a registry entry ({name, version?, as?, namespace?, env?, arguments?, headers?, registry?, force?, allow_private?}): the created server, with its source; 400 naming every value the entry needs and was not given"),
    route!(POST "/api/v1/registry/upgrade" => RegistryUpgrade, Admin, "Upgrade a server installed from a registry ({server, version?, env?, arguments?, headers?, force?, allow_private?}); the new version's changed definitions are held for review"),
    route!(GET "/api/v1/registry/outdated" => RegistryOutdated, Admin, "The servers installed from a registry whose registry has another latest version (or no longer lists them as active)"),
    route!(GET "/api/v1/tools/search" => SearchTools, Client, "Search the tools within the caller's reach: ?q=what the tool should do, &limit= (1-50, default 8), &namespace=; best first, an empty list when none fits"),
    // Before `{name}`: these literal paths win over a policy named `language`, `check` or
    // `simulate`.
    route!(GET "/api/v1/policies/language" => PolicyLanguage, Admin, "The policy language: {\"language\": \"cel\"}"),
    route!(POST "/api/v1/policies/check" => CheckPolicy, Admin, "Dry run: would this principal (key id or name) be allowed to call this tool with these arguments, and by which policy?"),
    route!(POST "/api/v1/policies/simulate" => SimulatePolicy, Admin, "Try a policy text (new, or a change of the one named) against the gateway as it is: for every key and every tool it reaches, the decision today and with the change, as the differences"),
    route!(GET "/api/v1/policies" => ListPolicies, Admin, "List the policies by identity"),
    route!(POST "/api/v1/policies" => CreatePolicy, Admin, "Add a policy (checked first: 400 with line and reason)"),
    route!(GET "/api/v1/policies/{name}" => GetPolicy, Admin, "Show a policy"),
    route!(PUT "/api/v1/policies/{name}" => UpdatePolicy, Admin, "Change a policy's text or namespace (checked first: 400 with line and reason)"),
    route!(DELETE "/api/v1/policies/{name}" => DeletePolicy, Admin, "Remove a policy"),
];

impl Route {
    /// Whether the OpenAPI document describes this route (all but Swagger UI's pages).
    pub fn documented(&self) -> bool {
        self.id != RouteId::SwaggerUi
    }
}

/// Path parameters in pattern order (no route has more than two).
#[derive(Debug, Default, Clone, Copy)]
pub struct Params<'a>([Option<&'a str>; 2]);

impl<'a> Params<'a> {
    pub fn get(&self, i: usize) -> Option<&'a str> {
        self.0.get(i).copied().flatten()
    }
}

/// The outcome of matching a request line against the table.
#[derive(Debug)]
pub enum Match<'a> {
    Found(&'static Route, Params<'a>),
    /// The path exists with other methods (listed for `Allow`).
    MethodNotAllowed(String),
    NotFound,
}

/// Matches `method` and `path`; `HEAD` matches `GET` routes.
pub fn resolve<'a>(method: &Method, path: &'a str) -> Match<'a> {
    let wanted = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    let mut allow: Vec<&str> = Vec::new();
    for route in ROUTES {
        let Some(params) = match_path(route.path, path) else {
            continue;
        };
        if route.method == *wanted {
            return Match::Found(route, params);
        }
        allow.push(route.method.as_str());
    }
    if allow.is_empty() {
        return Match::NotFound;
    }
    if allow.contains(&"GET") {
        allow.push("HEAD");
    }
    allow.push("OPTIONS");
    Match::MethodNotAllowed(allow.join(", "))
}

/// The methods a path answers, for `OPTIONS` (`None` if no route has that path).
pub fn methods_for(path: &str) -> Option<String> {
    match resolve(&Method::OPTIONS, path) {
        Match::MethodNotAllowed(allow) => Some(allow),
        _ => None,
    }
}

fn match_path<'a>(pattern: &str, path: &'a str) -> Option<Params<'a>> {
    let mut params = Params::default();
    let mut n = 0;
    let mut pat = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (pat.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(p), Some(g)) if p.starts_with('{') => {
                if g.is_empty() || n >= params.0.len() {
                    return None;
                }
                params.0[n] = Some(g);
                n += 1;
            }
            (Some(p), Some(g)) if p == g => {}
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_literal_and_parameter_paths() {
        let Match::Found(r, _) = resolve(&Method::GET, "/health") else {
            panic!("health")
        };
        assert_eq!(r.id, RouteId::Health);
        let Match::Found(r, p) = resolve(&Method::PUT, "/api/v1/mcp/servers/time") else {
            panic!("put server")
        };
        assert_eq!((r.id, p.get(0)), (RouteId::UpdateServer, Some("time")));
        let Match::Found(r, _) = resolve(&Method::HEAD, "/api/v1/namespaces") else {
            panic!("head")
        };
        assert_eq!(r.id, RouteId::ListNamespaces);
    }

    #[test]
    fn wrong_method_lists_the_right_ones() {
        let Match::MethodNotAllowed(allow) = resolve(&Method::PATCH, "/api/v1/mcp/servers/x")
        else {
            panic!("405")
        };
        assert_eq!(allow, "GET, PUT, DELETE, HEAD, OPTIONS");
        assert!(matches!(resolve(&Method::GET, "/nope"), Match::NotFound));
        assert!(matches!(resolve(&Method::GET, "/health/"), Match::NotFound));
        assert!(matches!(
            resolve(&Method::GET, "/api/v1/mcp/servers/"),
            Match::NotFound
        ));
        assert_eq!(
            methods_for("/metrics").as_deref(),
            Some("GET, HEAD, OPTIONS")
        );
    }
}
