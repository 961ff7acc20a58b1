//! `mcpc`: a small MCP client for the command line (the `mcpc` binary is a wrapper).
//!
//! ```text
//! mcpc --url URL [--key KEY] [--timeout-ms N] tools | prompts | resources | templates
//! mcpc --url URL [--key KEY] call NAME [JSON] | get PROMPT [JSON] | read URI
//! mcpc bridge --url URL [--key KEY]     (stdio relay: see [`bridge`])
//! mcpc --url URL --key KEY auth list | connect SERVER | set SERVER | revoke SERVER  ([`auth`])
//! ```
//!
//! Prints the result as JSON on stdout. Errors go to stderr and say who failed: the
//! user's input, the server at URL (its HTTP status and body, or its JSON-RPC error),
//! or the connection. Exit status: 0 success, 1 the server answered with an error
//! (HTTP or JSON-RPC), 2 a tool's result has `isError`, 64 usage or input error, 69 the
//! server cannot be reached or broke the protocol.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use serde_json::{Value, json};

use crate::backend::http::{HttpClient, client};
use crate::jsonrpc::methods::Method as McpMethod;
use crate::jsonrpc::sse::data_of as sse_data;

pub mod auth;
pub mod bridge;
pub mod search;

/// `--help`.
pub const USAGE: &str = "usage: mcpc --url URL [--key KEY] [--timeout-ms N] COMMAND

commands:
  tools                  list the tools
  prompts                list the prompts
  resources              list the resources
  templates              list the resource templates
  skills                 list the skills (SEP-2640)
  skill URI              get one skill's entry (its files are read with `read`)
  call NAME [JSON]       call a tool with JSON arguments (default {})
  get PROMPT [JSON]      get a prompt with JSON arguments
  read URI               read a resource
  search QUERY [LIMIT]   the tools that fit QUERY, best first (at most LIMIT, default 8),
                         in the view the URL names, whatever its search mode
  auth list              the accounts the gateway holds for this key upstream
  auth connect SERVER    connect this key's own account with SERVER: prints the
                         page to open, waits until the account is connected
  auth set SERVER        set this key's own secret for SERVER (a server whose
                         headers take {{caller.secret}}): the first line of stdin
  auth revoke SERVER     end this key's connection with SERVER
  bridge                 relay MCP on stdin/stdout to URL (for stdio-only clients);
                         the key may come from METAMCP_KEY instead of --key

URL is http:// or https://; https:// servers are checked against Mozilla's roots and
the PEM certificates in SSL_CERT_FILE when it is set.

Prints the result as JSON. Exit status: 0 success, 1 the server answered with an error,
2 the tool reported an error (isError), 64 usage or input error, 69 the server cannot
be reached or broke the protocol.
";

/// Largest answer read.
const MAX_ANSWER: usize = 64 << 20;
/// Longest part of an error body shown.
const MAX_SHOWN: usize = 2000;

/// What went wrong, and whose doing it was (the exit status follows from it).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The command line or the user's input.
    #[error("{0}")]
    Usage(String),
    /// The server answered with an HTTP error.
    #[error("the server answered {method} with HTTP {status}: {body}")]
    Http {
        method: String,
        status: StatusCode,
        body: String,
    },
    /// The server answered with a JSON-RPC error.
    #[error("the server answered {method} with JSON-RPC error {code}: {message}{data}")]
    Rpc {
        method: String,
        code: i64,
        message: String,
        data: String,
    },
    /// The server could not be reached, or what it sent was not MCP.
    #[error("{0}")]
    Transport(String),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Usage(_) => 64,
            Failure::Http { .. } | Failure::Rpc { .. } => 1,
            Failure::Transport(_) => 69,
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub struct Args {
    pub url: Uri,
    pub key: Option<String>,
    pub timeout: Duration,
    /// The method and its params.
    pub method: &'static str,
    pub params: Value,
    /// An `auth` command instead (the gateway's REST API, not MCP).
    pub auth: Option<auth::Auth>,
    /// A `search` instead (the gateway's REST API): the query and the limit.
    pub search: Option<(String, Option<u64>)>,
}

/// `Ok(None)` for `--help`.
pub fn parse(args: &[String]) -> Result<Option<Args>, Failure> {
    let usage = |m: &str| Failure::Usage(format!("{m}\n\n{USAGE}"));
    let mut url = None;
    let mut key = None;
    let mut timeout = Duration::from_secs(60);
    let mut command = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" | "help" => return Ok(None),
            "--url" => url = Some(it.next().ok_or_else(|| usage("--url needs a value"))?),
            "--key" => key = Some(it.next().ok_or_else(|| usage("--key needs a value"))?),
            "--timeout-ms" => {
                let ms: u64 = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| usage("--timeout-ms needs a number of milliseconds"))?;
                timeout = Duration::from_millis(ms);
            }
            s if s.starts_with("--") => return Err(usage(&format!("unknown option {s}"))),
            _ => command.push(a.as_str()),
        }
    }
    let url = url.ok_or_else(|| usage("--url is required"))?;
    let url = gateway_url(url).ok_or_else(|| usage(&format!("--url {url:?} {NOT_A_URL}")))?;
    let arguments = |s: Option<&&str>| -> Result<Value, Failure> {
        match s {
            None => Ok(json!({})),
            Some(s) => match serde_json::from_str::<Value>(s) {
                Ok(v @ Value::Object(_)) => Ok(v),
                Ok(_) => Err(Failure::Usage(format!(
                    "the arguments must be a JSON object, not {s}"
                ))),
                Err(e) => Err(Failure::Usage(format!("the arguments are not JSON: {e}"))),
            },
        }
    };
    let (method, params) = match command.as_slice() {
        ["tools"] => (McpMethod::ToolsList.as_str(), json!({})),
        ["prompts"] => (McpMethod::PromptsList.as_str(), json!({})),
        ["resources"] => (McpMethod::ResourcesList.as_str(), json!({})),
        ["templates"] => (McpMethod::ResourceTemplatesList.as_str(), json!({})),
        ["skills"] => (McpMethod::SkillsList.as_str(), json!({})),
        ["skill", uri] => (McpMethod::SkillsGet.as_str(), json!({"uri": uri})),
        ["call", name, rest @ ..] if rest.len() <= 1 => (
            McpMethod::ToolsCall.as_str(),
            json!({"name": name, "arguments": arguments(rest.first())?}),
        ),
        ["get", name, rest @ ..] if rest.len() <= 1 => (
            McpMethod::PromptsGet.as_str(),
            json!({"name": name, "arguments": arguments(rest.first())?}),
        ),
        ["read", uri] => (McpMethod::ResourcesRead.as_str(), json!({"uri": uri})),
        ["search", query, rest @ ..] if rest.len() <= 1 => {
            let limit = match rest.first() {
                None => None,
                Some(l) => Some(
                    l.parse::<u64>()
                        .ok()
                        .filter(|l| *l >= 1)
                        .ok_or_else(|| usage("LIMIT must be a whole number from 1"))?,
                ),
            };
            return Ok(Some(Args {
                url,
                key: key.cloned(),
                timeout,
                method: "",
                params: Value::Null,
                auth: None,
                search: Some((query.to_string(), limit)),
            }));
        }
        ["auth", rest @ ..] => {
            return Ok(Some(Args {
                url,
                key: key.cloned(),
                timeout,
                method: "",
                params: Value::Null,
                auth: Some(auth::Auth::parse(rest).map_err(|m| usage(&m))?),
                search: None,
            }));
        }
        [] => return Err(usage("a command is required")),
        other => return Err(usage(&format!("unknown command {:?}", other.join(" ")))),
    };
    Ok(Some(Args {
        url,
        key: key.cloned(),
        timeout,
        method,
        params,
        auth: None,
        search: None,
    }))
}

/// One MCP conversation with the server at `url`.
struct Conversation<'a> {
    http: HttpClient,
    args: &'a Args,
    session: Option<HeaderValue>,
    version: Option<HeaderValue>,
    next_id: u64,
}

impl Conversation<'_> {
    fn request(
        &self,
        method: Method,
        body: Option<&Value>,
    ) -> Result<Request<Full<Bytes>>, Failure> {
        let mut req = Request::builder()
            .method(method)
            .uri(self.args.url.clone())
            .header(header::ACCEPT, "application/json, text/event-stream");
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        if let Some(k) = &self.args.key {
            req = req.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        if let Some(s) = &self.session {
            req = req.header("mcp-session-id", s);
        }
        if let Some(v) = &self.version {
            req = req.header("mcp-protocol-version", v);
        }
        let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        req.body(Full::new(body))
            .map_err(|e| Failure::Usage(format!("cannot build the request: {e}")))
    }

    /// Sends one message; the answer's head and whole body.
    async fn send(
        &self,
        what: &str,
        req: Request<Full<Bytes>>,
    ) -> Result<(hyper::http::response::Parts, Bytes), Failure> {
        let url = &self.args.url;
        let exchange = async {
            let resp = self.http.request(req).await.map_err(|e| {
                Failure::Transport(format!(
                    "cannot reach the server at {url}: {}",
                    source_of(&e)
                ))
            })?;
            let (parts, body) = resp.into_parts();
            let body = http_body_util::Limited::new(body, MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| {
                    Failure::Transport(format!("the server's answer to {what} broke off: {e}"))
                })?
                .to_bytes();
            Ok((parts, body))
        };
        tokio::time::timeout(self.args.timeout, exchange)
            .await
            .map_err(|_| {
                Failure::Transport(format!(
                    "no answer to {what} from {url} within {} ms",
                    self.args.timeout.as_millis()
                ))
            })?
    }

    /// A request and its result.
    async fn call(&mut self, method: &str, params: Value) -> Result<Value, Failure> {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let req = self.request(Method::POST, Some(&msg))?;
        let (parts, body) = self.send(method, req).await?;
        if !parts.status.is_success() {
            return Err(http_failure(method, parts.status, &body));
        }
        if McpMethod::parse(method) == Some(McpMethod::Initialize)
            && let Some(s) = parts.headers.get("mcp-session-id")
        {
            self.session = Some(s.clone());
        }
        let is_sse = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let messages: Vec<Vec<u8>> = if is_sse {
            sse_data(&body)
        } else {
            vec![body.to_vec()]
        };
        let answer = messages
            .iter()
            .filter_map(|m| serde_json::from_slice::<Value>(m).ok())
            .find(|m| m["id"] == id && (m.get("result").is_some() || m.get("error").is_some()))
            .ok_or_else(|| {
                let shown =
                    String::from_utf8_lossy(&body[..body.len().min(MAX_SHOWN)]).into_owned();
                Failure::Transport(format!(
                    "the server's answer to {method} is not a JSON-RPC response to it: {shown}"
                ))
            })?;
        if let Some(e) = answer.get("error") {
            return Err(Failure::Rpc {
                method: method.to_string(),
                code: e["code"].as_i64().unwrap_or(0),
                message: e["message"].as_str().unwrap_or("(no message)").to_string(),
                data: e.get("data").map_or(String::new(), |d| format!(" ({d})")),
            });
        }
        Ok(answer["result"].clone())
    }

    async fn notify(&mut self, method: &str) -> Result<(), Failure> {
        let msg = json!({"jsonrpc": "2.0", "method": method});
        let req = self.request(Method::POST, Some(&msg))?;
        let (parts, body) = self.send(method, req).await?;
        if !parts.status.is_success() {
            return Err(http_failure(method, parts.status, &body));
        }
        Ok(())
    }

    /// Ends the session (best effort).
    async fn end(&mut self) {
        if self.session.is_some()
            && let Ok(req) = self.request(Method::DELETE, None)
        {
            let _ = self.send("DELETE", req).await;
        }
    }
}

/// The innermost cause of a client error (e.g. "Connection refused").
pub(crate) fn source_of(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(s) = inner.source() {
        inner = s;
    }
    inner.to_string()
}

pub(crate) fn http_failure(method: &str, status: StatusCode, body: &[u8]) -> Failure {
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_SHOWN)]);
    Failure::Http {
        method: method.to_string(),
        status,
        body: if text.trim().is_empty() {
            "(empty body)".into()
        } else {
            text.trim().to_string()
        },
    }
}

/// Why `--url` was refused.
const NOT_A_URL: &str = "is not an http:// or https:// URL";

/// `--url`: an `http://` or `https://` URL with a host.
pub(crate) fn gateway_url(s: &str) -> Option<Uri> {
    s.parse()
        .ok()
        .filter(|u: &Uri| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some())
}

/// The HTTP client: `https://` gateways are checked against Mozilla's roots and the
/// certificates in `SSL_CERT_FILE` when it is set (the variable OpenSSL, curl and Python
/// read).
pub(crate) fn http_client() -> Result<HttpClient, Failure> {
    let ca = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty());
    let tls = crate::crypto::tls_client(ca.as_deref().map(std::path::Path::new))
        .map_err(|e| Failure::Usage(format!("SSL_CERT_FILE: {e}")))?;
    Ok(client(&tls))
}

/// Opens a session, runs the command (every page of a list), ends the session.
pub async fn run(args: &Args) -> Result<Value, Failure> {
    let mut c = Conversation {
        http: http_client()?,
        args,
        session: None,
        version: None,
        next_id: 0,
    };
    let init = c
        .call(
            McpMethod::Initialize.as_str(),
            json!({"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "mcpc", "version": env!("CARGO_PKG_VERSION")}}),
        )
        .await?;
    c.version = init["protocolVersion"]
        .as_str()
        .and_then(|v| HeaderValue::from_str(v).ok());
    c.notify(McpMethod::Initialized.as_str()).await?;
    let result = run_command(&mut c, args).await;
    c.end().await;
    result
}

async fn run_command(c: &mut Conversation<'_>, args: &Args) -> Result<Value, Failure> {
    let field = match McpMethod::parse(args.method) {
        Some(McpMethod::ToolsList) => "tools",
        Some(McpMethod::PromptsList) => "prompts",
        Some(McpMethod::ResourcesList) => "resources",
        Some(McpMethod::ResourceTemplatesList) => "resourceTemplates",
        Some(McpMethod::SkillsList) => "skills",
        _ => return c.call(args.method, args.params.clone()).await,
    };
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    // Bounded: a server that keeps returning cursors is not followed forever.
    for _ in 0..1000 {
        let params = cursor.as_ref().map_or(json!({}), |c| json!({"cursor": c}));
        let page = c.call(args.method, params).await?;
        if let Some(items) = page[field].as_array() {
            all.extend(items.iter().cloned());
        }
        match page["nextCursor"].as_str() {
            Some(next) if !next.is_empty() => cursor = Some(next.to_string()),
            _ => return Ok(Value::Array(all)),
        }
    }
    Err(Failure::Transport(format!(
        "the server kept paginating {} past 1000 pages",
        args.method
    )))
}

/// The whole command: its exit status, what it prints on stdout and on stderr.
///
/// Both texts are made safe for a terminal ([`crate::cli::safe_output`]): a backend's
/// strings (tool names, error messages, an HTTP body) print escaped, never raw.
pub async fn main(args: &[String]) -> (i32, String, String) {
    let (code, out, err) = run_main(args).await;
    (
        code,
        crate::cli::safe_output(&out).into_owned(),
        crate::cli::terminal_safe(&err).into_owned(),
    )
}

async fn run_main(args: &[String]) -> (i32, String, String) {
    let args = match parse(args) {
        Ok(Some(a)) => a,
        Ok(None) => return (0, USAGE.to_string(), String::new()),
        Err(e) => return (e.exit_code(), String::new(), format!("mcpc: {e}\n")),
    };
    let ran = match (&args.auth, &args.search) {
        (Some(a), _) => auth::run(&args, a).await,
        (None, Some((query, limit))) => search::run(&args, query, *limit).await,
        (None, None) => run(&args).await,
    };
    match ran {
        Ok(result) => {
            let out = format!(
                "{}\n",
                serde_json::to_string_pretty(&result).unwrap_or_default()
            );
            let code = if result["isError"] == true { 2 } else { 0 };
            let err = if code == 2 {
                "mcpc: the tool reported an error (isError)\n".to_string()
            } else {
                String::new()
            };
            (code, out, err)
        }
        Err(e) => (e.exit_code(), String::new(), format!("mcpc: {e}\n")),
    }
}
