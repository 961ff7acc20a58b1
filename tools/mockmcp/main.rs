//! `mockmcp`: an MCP server for tests and load generation.
//!
//! `--transport http` serves Streamable HTTP on `/mcp` with sessions; `--transport stdio`
//! speaks newline-delimited JSON-RPC on stdin/stdout. `--profile rich` adds resources,
//! resource templates, prompts, completions and list_changed notifications. The first
//! line of stdout is the port listened on (0 for stdio).
//!
//! It checks what a strict backend checks: a request id already in flight in the same
//! session is refused (so a gateway that does not rewrite ids is caught), requests need
//! the session, and `POST /control/forget` drops every session (so transparent
//! re-initialization can be tested). `GET /control/stats` reports counters. The `hangup`
//! tool counts the call and closes the connection without answering (so a gateway that
//! repeats calls the backend may have acted on is caught).

mod oauth;
mod tasks;

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// A tool name past the 64 characters clients accept (rich profile).
const LONG_TOOL: &str = "summarise_everything_this_server_has_seen_since_it_started_running_today";

/// The MCP Apps views of the rich profile (`ui://`), and their MIME type.
const APP_VIEW: &str = "ui://dashboard/app.html";
const CHART_VIEW: &str = "ui://chart/view.html";
const APP_MIME: &str = "text/html;profile=mcp-app";
const VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

struct Options {
    transport: String,
    port: u16,
    rich: bool,
    always_sse: bool,
    /// Start a grandchild (`sleep 3600`) that outlives us unless our group is killed:
    /// for the gateway's leak tests.
    fork: bool,
    /// `--instructions-kib N`: `instructions` of N KiB in the initialize result (a
    /// hostile server's); the rich profile gives a short line without it.
    instructions_kib: Option<usize>,
    /// Every tool's description padded to this many KiB (`--description-kib`).
    description_kib: Option<usize>,
    /// `--oauth`: bearer tokens guard the MCP endpoints ([`oauth`]).
    oauth: Option<oauth::Settings>,
    /// `--accounts`: lists the `account` tool, which names the caller (the user of an
    /// OAuth token, else the request's `authorization` header).
    accounts: bool,
    /// `--header-param`: lists the `locate` tool, whose `region` argument a 2026-07-28
    /// client also sends as the `Mcp-Param-Region` header (`x-mcp-header`, SEP-2243).
    header_param: bool,
    /// `--tasks`: tool calls run as tasks when asked ([`tasks`]).
    tasks: bool,
}

fn parse_args(args: Vec<String>) -> Result<Options, String> {
    let mut o = Options {
        transport: "http".into(),
        port: 0,
        rich: false,
        always_sse: false,
        fork: false,
        instructions_kib: None,
        description_kib: None,
        oauth: None,
        accounts: false,
        header_param: false,
        tasks: false,
    };
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--transport" => o.transport = value("--transport")?,
            "--port" => {
                o.port = value("--port")?
                    .parse()
                    .map_err(|_| "--port takes a number".to_string())?
            }
            "--profile" => match value("--profile")?.as_str() {
                "basic" => o.rich = false,
                "rich" => o.rich = true,
                p => return Err(format!("unknown profile {p:?} (basic, rich)")),
            },
            "--sse" => o.always_sse = true,
            "--fork" => o.fork = true,
            "--instructions-kib" => {
                o.instructions_kib = Some(
                    value("--instructions-kib")?
                        .parse()
                        .map_err(|_| "--instructions-kib takes a number".to_string())?,
                )
            }
            "--description-kib" => {
                o.description_kib = Some(
                    value("--description-kib")?
                        .parse()
                        .map_err(|_| "--description-kib takes a number".to_string())?,
                )
            }
            "--oauth" => {
                o.oauth
                    .get_or_insert_with(oauth::Settings::default)
                    .expires_in = 3600
            }
            "--oauth-expires" => {
                let secs = value("--oauth-expires")?
                    .parse()
                    .map_err(|_| "--oauth-expires takes seconds".to_string())?;
                o.oauth
                    .get_or_insert_with(oauth::Settings::default)
                    .expires_in = secs;
            }
            "--oauth-as" => {
                let url = value("--oauth-as")?;
                o.oauth
                    .get_or_insert_with(oauth::Settings::default)
                    .authorization_server = Some(url);
            }
            "--accounts" => o.accounts = true,
            "--header-param" => o.header_param = true,
            "--tasks" => o.tasks = true,
            "--oauth-huge-token" => {
                o.oauth
                    .get_or_insert_with(oauth::Settings::default)
                    .huge_token = true;
            }
            "-h" | "--help" => {
                return Err("usage: mockmcp [--transport http|sse|stdio] [--port N] [--profile basic|rich] [--sse] [--fork] [--tasks]".into());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if !matches!(o.transport.as_str(), "http" | "stdio" | "sse") {
        return Err(format!(
            "unknown transport {:?} (http, sse, stdio)",
            o.transport
        ));
    }
    Ok(o)
}

/// One MCP session's state.
#[derive(Default)]
struct Session {
    in_flight: HashSet<String>,
    /// Our own requests to the client awaiting its answer, by id.
    asked: HashMap<String, tokio::sync::oneshot::Sender<Value>>,
    /// Ids of our requests to the client: 0, 1, 2, … per session, like real servers.
    next_ask: u64,
}

struct Server {
    /// `--oauth`: its tokens guard `/mcp`, and it is its own authorization server.
    oauth: Option<oauth::OAuth>,
    accounts: bool,
    /// `--header-param`: the `locate` tool is listed.
    header_param: bool,
    rich: bool,
    /// `--tasks`: the tasks started ([`tasks`]).
    tasks: Option<tasks::Tasks>,
    /// What `initialize` answers as `instructions`, if anything.
    instructions: Option<String>,
    /// Padding added to every tool's description, if any.
    description_padding: Option<String>,
    always_sse: bool,
    /// Legacy HTTP+SSE sessions (`--transport sse`): the stream each session's answers go to.
    sse_streams: Mutex<HashMap<String, mpsc::Sender<Bytes>>>,
    sessions: Mutex<HashMap<String, Session>>,
    /// Messages for every open GET stream (list_changed).
    notify: broadcast::Sender<String>,
    /// Whether the `extra` tool is listed (toggled by the `toggle` tool).
    extra: Mutex<bool>,
    /// Definitions set by `POST /control/tools`: each replaces the listed tool of its
    /// name, or is listed after the others (a server upgrade, a rug pull).
    replaced: Mutex<Vec<Value>>,
    initializes: AtomicU64,
    /// The capabilities the last `initialize` declared.
    client_capabilities: Mutex<Value>,
    /// The levels `logging/setLevel` asked for, in order (rich profile).
    log_levels: Mutex<Vec<String>>,
    requests: AtomicU64,
    /// `notifications/cancelled` received.
    cancelled: AtomicU64,
    /// `notifications/roots/list_changed` received.
    roots_changed: AtomicU64,
    /// `hangup` calls received.
    hangups: AtomicU64,
    /// Tool calls being answered now, and the most at once.
    calls_now: AtomicU64,
    calls_peak: AtomicU64,
    /// TCP connections open to the HTTP listener now (the one asking included).
    connections: AtomicU64,
    /// `resumable` answers not sent yet, by the event id their GET resumes after.
    resumable: Mutex<HashMap<String, String>>,
    /// GETs that resumed an answer (`Last-Event-ID`).
    resumed: AtomicU64,
    /// Set by `GET /control/visit`: the user went to `url_first`'s sign-in page.
    visited: AtomicBool,
    /// HTTP requests that carried an `Authorization` header.
    authorized: AtomicU64,
    /// Calls received per tool name.
    calls: Mutex<HashMap<String, u64>>,
    next_session: AtomicU64,
    /// The `traceparent` header of the latest HTTP request that carried one.
    traceparent: Mutex<Option<String>>,
    /// The `authorization` header of the latest HTTP request that carried one.
    authorization: Mutex<Option<String>>,
}

impl Server {
    fn tools(&self) -> Vec<Value> {
        let obj = |props: Value, required: Value| json!({"type": "object", "properties": props, "required": required});
        let mut tools = vec![
            json!({"name": "echo", "description": "Returns the message as text",
                   "inputSchema": obj(json!({"message": {"type": "string"}}), json!(["message"]))}),
            json!({"name": "add", "description": "Adds two numbers",
                   "inputSchema": obj(json!({"a": {"type": "number"}, "b": {"type": "number"}}), json!(["a", "b"]))}),
            json!({"name": "sleep", "description": "Sleeps for ms milliseconds",
                   "inputSchema": obj(json!({"ms": {"type": "number"}}), json!(["ms"]))}),
            json!({"name": "big", "description": "Returns a text of the given size",
                   "inputSchema": obj(json!({"bytes": {"type": "number"}}), json!(["bytes"]))}),
            json!({"name": "hangup", "description": "Closes the connection without answering",
                   "inputSchema": {"type": "object"}}),
            json!({"name": "fail", "description": "Always fails (isError result)",
                   "inputSchema": obj(json!({}), json!([]))}),
            json!({"name": "progress", "description": "Reports progress steps, then finishes",
                   "inputSchema": obj(json!({"steps": {"type": "number"}}), json!(["steps"]))}),
            json!({"name": "misbehave", "description": "Answers the way broken backends do (mode: not_json, wrong_id, truncated, truncated_sse, drip, slow_json, framed_crlf, framed_cr, framed_split, framed_after)",
                   "inputSchema": obj(json!({"mode": {"type": "string"}}), json!(["mode"]))}),
            json!({"name": "whoami", "description": "This process's id and how many calls of every tool it has answered",
                   "inputSchema": obj(json!({}), json!([]))}),
            json!({"name": "trace", "description": "The trace context this call came with: the last HTTP traceparent header and params._meta.traceparent",
                   "inputSchema": obj(json!({}), json!([]))}),
            json!({"name": "env", "description": "The value of one of this process's environment variables, and the last HTTP authorization header",
                   "inputSchema": obj(json!({"name": {"type": "string"}}), json!(["name"]))}),
            json!({"name": "alloc", "description": "Allocates and touches mb MiB, then frees them",
                   "inputSchema": obj(json!({"mb": {"type": "number"}}), json!(["mb"]))}),
        ];
        if self.header_param {
            tools.push(json!({"name": "locate", "description": "Names the region it was asked for (sent as the Mcp-Param-Region header too)",
                              "inputSchema": obj(json!({"region": {"type": "string", "x-mcp-header": "Region"},
                                                        "note": {"type": "string"}}), json!(["region"]))}));
        }
        if self.accounts {
            tools.push(json!({"name": "account", "description": "Names the user whose token the call came with",
                              "inputSchema": obj(json!({}), json!([]))}));
        }
        if self.rich {
            tools.push(
                json!({"name": "toggle", "description": "Adds or removes the extra tool",
                              "inputSchema": obj(json!({}), json!([]))}),
            );
            tools.push(json!({"name": "touch", "description": "Announces that a resource changed", "icons": icons(),
                              "inputSchema": obj(json!({"uri": {"type": "string"}}), json!(["uri"]))}));
            // Longer than 64 characters: the gateway must shorten it.
            tools.push(json!({"name": LONG_TOOL, "description": "A tool whose name no client accepts as it is",
                              "inputSchema": obj(json!({}), json!([]))}));
            tools.push(json!({"name": "sample", "description": "Asks the client to sample a message, returns its text",
                              "inputSchema": obj(json!({"prompt": {"type": "string"}}), json!(["prompt"]))}));
            tools.push(json!({"name": "url_first", "description": "Needs the user at a sign-in page first (-32042) until GET /control/visit",
                              "inputSchema": obj(json!({"sse": {"type": "boolean"}}), json!([]))}));
            // MCP Apps: one view listed as a resource, one only named (the drafts' key).
            tools.push(json!({"name": "dashboard", "description": "Shows the dashboard view (MCP Apps)",
                              "inputSchema": obj(json!({}), json!([])),
                              "_meta": {"ui": {"resourceUri": APP_VIEW, "visibility": ["model", "app"]}}}));
            tools.push(
                json!({"name": "chart", "description": "Shows a chart view that is not listed",
                              "inputSchema": obj(json!({}), json!([])),
                              "_meta": {"ui/resourceUri": CHART_VIEW}}),
            );
            tools.push(json!({"name": "ask", "description": "Asks the client each round's requests at once ({method, params, key?}), round after round; returns every answer",
                              "inputSchema": obj(json!({"rounds": {"type": "array"}}), json!(["rounds"]))}));
            if *self.extra.lock().unwrap_or_else(|p| p.into_inner()) {
                tools.push(
                    json!({"name": "extra", "description": "Appears after toggle",
                                  "inputSchema": obj(json!({}), json!([]))}),
                );
            }
        }
        for r in self
            .replaced
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            match tools.iter_mut().find(|t| t["name"] == r["name"]) {
                Some(t) => *t = r.clone(),
                None => tools.push(r.clone()),
            }
        }
        if self.tasks.is_some() {
            for t in &mut tools {
                tasks::support(t);
            }
        }
        if let Some(padding) = &self.description_padding {
            for t in &mut tools {
                let d = format!("{}{padding}", t["description"].as_str().unwrap_or_default());
                t["description"] = Value::String(d);
            }
        }
        tools
    }

    fn capabilities(&self) -> Value {
        let mut caps = self.own_capabilities();
        if self.tasks.is_some() {
            caps["tasks"] = tasks::capability();
        }
        caps
    }

    fn own_capabilities(&self) -> Value {
        if self.rich {
            json!({"tools": {"listChanged": true}, "prompts": {"listChanged": true},
                   "resources": {"listChanged": true, "subscribe": true}, "completions": {},
                   "logging": {},
                   "extensions": {"io.modelcontextprotocol/ui": {}, "com.example/unhandled": {"x": 1}}})
        } else {
            json!({"tools": {"listChanged": false}})
        }
    }
}

/// The icons the rich profile puts on a tool, a prompt, a resource and a template
/// (2025-11-25), light and dark.
fn icons() -> Value {
    json!([{"src": "https://mock.example/icon.png", "mimeType": "image/png", "sizes": ["48x48"]},
           {"src": "data:image/svg+xml;base64,PHN2Zy8+", "mimeType": "image/svg+xml", "theme": "dark"}])
}

/// What a request produces: the result or error, and notifications to send first.
struct Reply {
    notifications: Vec<Value>,
    outcome: Result<Value, (i64, String)>,
    /// Ask for a streamed (SSE) answer.
    stream: bool,
    /// Pause before each message of a streamed answer.
    interval: Duration,
    /// The outcome is one text that needs no escaping (`big`'s `x`s): [`answer`] writes
    /// it as it is rather than through serde_json, whose escaping looked at each byte for
    /// some 20 ns in a debug build (0.11 CPU-s for 5 MB; 7 for code_mode_memory's eight
    /// answers of 40 MB).
    plain_text: bool,
}

impl Reply {
    fn ok(v: Value) -> Reply {
        Reply {
            notifications: vec![],
            outcome: Ok(v),
            stream: false,
            interval: Duration::ZERO,
            plain_text: false,
        }
    }
    fn err(code: i64, m: impl Into<String>) -> Reply {
        Reply {
            notifications: vec![],
            outcome: Err((code, m.into())),
            stream: false,
            interval: Duration::ZERO,
            plain_text: false,
        }
    }
}

fn reply(outcome: tasks::Outcome) -> Reply {
    match outcome {
        Ok(v) => Reply::ok(v),
        Err((code, m)) => Reply::err(code, m),
    }
}

fn text(s: impl Into<String>) -> Value {
    json!({"content": [{"type": "text", "text": s.into()}], "isError": false})
}

async fn handle(server: &Server, msg: &Value) -> Reply {
    let method = msg["method"].as_str().unwrap_or_default();
    let params = &msg["params"];
    server.requests.fetch_add(1, Ordering::Relaxed);
    match method {
        "initialize" => {
            server.initializes.fetch_add(1, Ordering::Relaxed);
            *server
                .client_capabilities
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = params["capabilities"].clone();
            let asked = params["protocolVersion"].as_str().unwrap_or_default();
            let version = if VERSIONS.contains(&asked) {
                asked
            } else {
                VERSIONS[0]
            };
            let mut result = json!({"protocolVersion": version, "capabilities": server.capabilities(),
                             "serverInfo": {"name": "mockmcp", "version": env!("CARGO_PKG_VERSION")}});
            if let Some(i) = &server.instructions {
                result["instructions"] = Value::String(i.clone());
            }
            Reply::ok(result)
        }
        "ping" => Reply::ok(json!({})),
        "tasks/get" | "tasks/result" => match &server.tasks {
            Some(t) if method == "tasks/get" => reply(t.get(params)),
            Some(t) => reply(t.result(params).await),
            None => Reply::err(-32601, format!("method not found: {method}")),
        },
        "tools/list" => Reply::ok(json!({"tools": server.tools()})),
        "tools/call" => {
            let now = server.calls_now.fetch_add(1, Ordering::AcqRel) + 1;
            server.calls_peak.fetch_max(now, Ordering::AcqRel);
            let _done = InCall(&server.calls_now);
            call_tool(server, params).await
        }
        "prompts/list" if server.rich => Reply::ok(json!({"prompts": [
            {"name": "greet", "description": "Greets someone", "icons": icons(),
             "arguments": [{"name": "name", "description": "who", "required": true}]}]})),
        "prompts/get" if server.rich => match params["name"].as_str() {
            Some("greet") => {
                let who = params["arguments"]["name"].as_str().unwrap_or("world");
                Reply::ok(json!({"description": "A greeting", "messages": [
                    {"role": "user", "content": {"type": "text", "text": format!("Hello, {who}!")}}]}))
            }
            _ => Reply::err(-32602, "unknown prompt"),
        },
        "resources/list" if server.rich => Reply::ok(json!({"resources": [
            {"uri": "mock://static/hello", "name": "hello", "mimeType": "text/plain", "icons": icons()},
            {"uri": APP_VIEW, "name": "dashboard", "mimeType": APP_MIME}]})),
        "resources/templates/list" if server.rich => Reply::ok(json!({"resourceTemplates": [
            {"uriTemplate": "mock://items/{id}", "name": "item", "mimeType": "application/json", "icons": icons()}]})),
        "resources/read" if server.rich => {
            let uri = params["uri"].as_str().unwrap_or_default();
            if uri == APP_VIEW || uri == CHART_VIEW {
                // Which process serves the view: two mocks use the same URIs.
                let html = format!("<!doctype html><p>{uri} of {}</p>", std::process::id());
                Reply::ok(json!({"contents": [{"uri": uri, "mimeType": APP_MIME, "text": html}]}))
            } else if uri == "mock://static/hello" {
                Reply::ok(
                    json!({"contents": [{"uri": uri, "mimeType": "text/plain", "text": "hello from mockmcp"}]}),
                )
            } else if uri == "mock://items/missing" {
                // A URI the template matches that names nothing.
                Reply::err(-32002, format!("resource not found: {uri}"))
            } else if let Some(id) = uri.strip_prefix("mock://items/") {
                Reply::ok(
                    json!({"contents": [{"uri": uri, "mimeType": "application/json",
                                               "text": json!({"id": id}).to_string()}]}),
                )
            } else {
                Reply::err(-32002, format!("resource not found: {uri}"))
            }
        }
        "resources/subscribe" | "resources/unsubscribe" if server.rich => Reply::ok(json!({})),
        "logging/setLevel" => {
            let level = params["level"].as_str().unwrap_or_default().to_string();
            server
                .log_levels
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(level);
            Reply::ok(json!({}))
        }
        "completion/complete" if server.rich => {
            let prefix = params["argument"]["value"].as_str().unwrap_or_default();
            let values: Vec<&str> = ["alice", "bob", "carol"]
                .into_iter()
                .filter(|v| v.starts_with(prefix))
                .collect();
            Reply::ok(
                json!({"completion": {"values": values, "total": values.len(), "hasMore": false}}),
            )
        }
        _ => Reply::err(-32601, format!("method not found: {method}")),
    }
}

/// A tool call being answered; counted off when done (or dropped).
struct InCall<'a>(&'a AtomicU64);

impl Drop for InCall<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn call_tool(server: &Server, params: &Value) -> Reply {
    let args = &params["arguments"];
    *server
        .calls
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(params["name"].as_str().unwrap_or_default().to_string())
        .or_default() += 1;
    match params["name"].as_str().unwrap_or_default() {
        "account" => Reply::ok(text(
            oauth::USER.try_with(|u| u.clone()).unwrap_or_default(),
        )),
        "locate" => Reply::ok(text(format!(
            "region {}",
            args["region"].as_str().unwrap_or_default()
        ))),
        "echo" => match args["message"].as_str() {
            Some(m) => Reply::ok(text(m)),
            None => Reply::err(-32602, "echo needs a string message"),
        },
        LONG_TOOL => Reply::ok(text("all quiet")),
        "add" => match (args["a"].as_f64(), args["b"].as_f64()) {
            (Some(a), Some(b)) => Reply::ok(text(format!("{}", a + b))),
            _ => Reply::err(-32602, "add needs numbers a and b"),
        },
        "sleep" => {
            let ms = args["ms"].as_u64().unwrap_or(0).min(600_000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Reply::ok(text(format!("slept {ms} ms")))
        }
        "trace" => {
            let header = server
                .traceparent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            Reply::ok(text(
                json!({"header": header, "meta": params["_meta"]["traceparent"]}).to_string(),
            ))
        }
        "env" => {
            let name = args["name"].as_str().unwrap_or_default();
            let auth = server
                .authorization
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            Reply::ok(text(
                json!({"value": std::env::var(name).ok(), "authorization": auth}).to_string(),
            ))
        }
        "whoami" => {
            let calls: u64 = server
                .calls
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .sum();
            Reply::ok(text(format!("pid {} calls {calls}", std::process::id())))
        }
        "alloc" => {
            let mb = args["mb"].as_u64().unwrap_or(0).min(64 << 10) as usize;
            // try_reserve: an address-space limit shows as an error, not an abort.
            let mut v: Vec<u8> = Vec::new();
            match v.try_reserve_exact(mb << 20) {
                Ok(()) => {
                    v.resize(mb << 20, 1);
                    Reply::ok(text(format!("allocated {mb} MiB")))
                }
                Err(e) => Reply::ok(
                    json!({"content": [{"type": "text", "text": format!("cannot allocate {mb} MiB: {e}")}], "isError": true}),
                ),
            }
        }
        "big" => {
            let n = args["bytes"].as_u64().unwrap_or(0).min(256 << 20) as usize;
            Reply {
                plain_text: true,
                ..Reply::ok(text("x".repeat(n)))
            }
        }
        // Needs the user at a URL first (-32042) until `GET /control/visit`;
        // `"sse": true` answers on an SSE stream.
        "url_first" => {
            let mut r = if server.visited.load(Ordering::Relaxed) {
                Reply::ok(text("signed in"))
            } else {
                Reply::err(-32042, "sign in at the page first")
            };
            r.stream = args["sse"].as_bool().unwrap_or(false);
            r
        }
        "fail" => Reply::ok(
            json!({"content": [{"type": "text", "text": "this tool always fails"}], "isError": true}),
        ),
        "progress" => {
            let steps = args["steps"].as_u64().unwrap_or(3).min(1000);
            let interval =
                Duration::from_millis(args["interval_ms"].as_u64().unwrap_or(0).min(10_000));
            let token = params["_meta"]["progressToken"].clone();
            let mut notifications: Vec<Value> = if token.is_null() {
                vec![]
            } else {
                (1..=steps)
                    .map(|i| json!({"jsonrpc": "2.0", "method": "notifications/progress",
                                    "params": {"progressToken": token, "progress": i, "total": steps,
                                               "message": format!("step {i}")}}))
                    .collect()
            };
            // `"log": ["debug", "error"]`: a log message at each level on the call's stream.
            for level in args["log"].as_array().into_iter().flatten().take(100) {
                notifications.push(json!({"jsonrpc": "2.0", "method": "notifications/message",
                    "params": {"level": level, "logger": "mockmcp", "data": format!("a {} message", level.as_str().unwrap_or("?"))}}));
            }
            Reply {
                notifications,
                outcome: Ok(text(format!("done after {steps} steps"))),
                stream: true,
                interval,
                plain_text: false,
            }
        }
        "toggle" if server.rich => {
            let now = {
                let mut extra = server.extra.lock().unwrap_or_else(|p| p.into_inner());
                *extra = !*extra;
                *extra
            };
            let _ = server.notify.send(
                json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}).to_string(),
            );
            Reply::ok(text(if now { "extra added" } else { "extra removed" }))
        }
        "touch" if server.rich => match args["uri"].as_str() {
            Some(uri) => {
                let _ = server.notify.send(
                    json!({"jsonrpc": "2.0", "method": "notifications/resources/updated",
                           "params": {"uri": uri}})
                    .to_string(),
                );
                Reply::ok(text(format!("touched {uri}")))
            }
            None => Reply::err(-32602, "touch needs a uri"),
        },
        "extra" if server.rich && *server.extra.lock().unwrap_or_else(|p| p.into_inner()) => {
            Reply::ok(text("extra called"))
        }
        other => Reply::err(-32602, format!("unknown tool: {other}")),
    }
}

/// The JSON-RPC message answering request `id` with `reply`'s outcome.
fn answer(id: &Value, reply: &Reply) -> String {
    let plain = match &reply.outcome {
        Ok(result) if reply.plain_text => result["content"][0]["text"].as_str(),
        _ => None,
    };
    let Some(text) = plain else {
        return response(id, &reply.outcome).to_string();
    };
    let id = id.to_string();
    let mut s = String::with_capacity(text.len() + id.len() + 64);
    s.push_str(r#"{"jsonrpc":"2.0","id":"#);
    s.push_str(&id);
    s.push_str(r#","result":{"content":[{"type":"text","text":""#);
    s.push_str(text);
    s.push_str(r#""}]}}"#);
    s
}

fn response(id: &Value, outcome: &Result<Value, (i64, String)>) -> Value {
    match outcome {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        // URL elicitation required: the user must visit the sign-in page first.
        Err((-32042, message)) => {
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32042, "message": message,
                   "data": {"elicitations": [{"mode": "url", "elicitationId": "sign-in",
                                              "url": "https://auth.example/sign-in", "message": message}]}}})
        }
        Err((code, message)) => {
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
        }
    }
}

fn full(status: StatusCode, ctype: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

fn sse_response(rx: mpsc::Receiver<String>) -> Response<Body> {
    let stream = futures_stream(rx);
    let mut r = Response::new(StreamBody::new(stream).boxed());
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    r
}

/// Turns a channel of JSON texts into SSE frames.
fn futures_stream(
    mut rx: mpsc::Receiver<String>,
) -> impl futures_util::Stream<Item = Result<Frame<Bytes>, Infallible>> {
    futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|o| {
            o.map(|m| {
                Ok(Frame::data(Bytes::from(format!(
                    "event: message\ndata: {m}\n\n"
                ))))
            })
        })
    })
}

async fn serve_http(server: Arc<Server>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let mut user = header(&req, "authorization").unwrap_or_default();
    if let Some(o) = &server.oauth {
        if oauth::OAuth::owns(&path) {
            return o.serve(req).await;
        }
        if matches!(path.as_str(), "/mcp" | "/sse" | "/message") {
            match o.refusal(&req) {
                Ok(u) => user = u,
                Err(refused) => return *refused,
            }
        }
    }
    oauth::USER
        .scope(user, serve_routes(server, req, path))
        .await
}

async fn serve_routes(server: Arc<Server>, req: Request<Incoming>, path: String) -> Response<Body> {
    match (req.method().clone(), path.as_str()) {
        (Method::POST, "/control/forget") => {
            server
                .sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
            full(StatusCode::OK, "application/json", r#"{"forgotten":true}"#)
        }
        (Method::POST, "/control/announce") => {
            // The body, a JSON-RPC notification, goes out on every open GET stream.
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => return full(StatusCode::BAD_REQUEST, "text/plain", "unreadable body"),
            };
            match serde_json::from_slice::<Value>(&body) {
                Ok(v) if v.get("method").is_some() => {
                    let _ = server.notify.send(v.to_string());
                    full(StatusCode::OK, "application/json", r#"{"announced":true}"#)
                }
                _ => full(
                    StatusCode::BAD_REQUEST,
                    "text/plain",
                    "a notification, please",
                ),
            }
        }
        (Method::POST, "/control/tools") => {
            // A JSON array of tool definitions: listed from now on (replacing the tool
            // of the same name), announced on every open GET stream.
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => return full(StatusCode::BAD_REQUEST, "text/plain", "unreadable body"),
            };
            match serde_json::from_slice::<Vec<Value>>(&body) {
                Ok(defs) if defs.iter().all(|d| d["name"].is_string()) => {
                    let mut replaced = server.replaced.lock().unwrap_or_else(|p| p.into_inner());
                    for d in defs {
                        replaced.retain(|r| r["name"] != d["name"]);
                        replaced.push(d);
                    }
                    drop(replaced);
                    let _ = server.notify.send(
                        json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
                            .to_string(),
                    );
                    full(StatusCode::OK, "application/json", r#"{"replaced":true}"#)
                }
                _ => full(
                    StatusCode::BAD_REQUEST,
                    "text/plain",
                    "a JSON array of tools with names, please",
                ),
            }
        }
        (Method::GET, "/control/visit") => {
            server.visited.store(true, Ordering::Relaxed);
            full(StatusCode::OK, "application/json", r#"{"visited":true}"#)
        }
        (Method::GET, "/control/stats") => {
            let sessions = server
                .sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .len();
            let body = json!({"initializes": server.initializes.load(Ordering::Relaxed),
                              "requests": server.requests.load(Ordering::Relaxed), "sessions": sessions,
                              "cancelled": server.cancelled.load(Ordering::Relaxed),
                              "roots_changed": server.roots_changed.load(Ordering::Relaxed),
                              "hangups": server.hangups.load(Ordering::Relaxed),
                              "calls_now": server.calls_now.load(Ordering::Relaxed),
                              "calls_peak": server.calls_peak.load(Ordering::Relaxed),
                              "connections": server.connections.load(Ordering::Relaxed),
                              "resumed": server.resumed.load(Ordering::Relaxed),
                              "authorized": server.authorized.load(Ordering::Relaxed),
                              "client_capabilities": *server.client_capabilities.lock().unwrap_or_else(|p| p.into_inner()),
                              "log_levels": *server.log_levels.lock().unwrap_or_else(|p| p.into_inner()),
                              "calls": *server.calls.lock().unwrap_or_else(|p| p.into_inner())});
            full(StatusCode::OK, "application/json", body.to_string())
        }
        (Method::POST, "/mcp") => post(server, req).await,
        (Method::GET, "/sse") => legacy_stream(&server),
        (Method::POST, "/message") => legacy_post(server, req).await,
        (Method::GET, "/mcp") => {
            if !session_known(&server, &req) {
                return full(StatusCode::NOT_FOUND, "text/plain", "unknown session");
            }
            if let Some(after) = header(&req, "last-event-id") {
                let Some(answer) = server
                    .resumable
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&after)
                else {
                    return full(StatusCode::NOT_FOUND, "text/plain", "nothing to resume");
                };
                server.resumed.fetch_add(1, Ordering::Relaxed);
                // The answer, then a stream kept open (the client must let go of it).
                return sse_response_raw(format!(
                    "event: message\nid: {after}-1\ndata: {answer}\n\n"
                ));
            }
            let mut rx = server.notify.subscribe();
            let (tx, out) = mpsc::channel(16);
            tokio::spawn(async move {
                while let Ok(m) = rx.recv().await {
                    if tx.send(m).await.is_err() {
                        return;
                    }
                }
            });
            sse_response(out)
        }
        (Method::DELETE, "/mcp") => {
            let id = header(&req, "mcp-session-id");
            let removed = id
                .map(|id| {
                    server
                        .sessions
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&id)
                        .is_some()
                })
                .unwrap_or(false);
            full(
                if removed {
                    StatusCode::OK
                } else {
                    StatusCode::NOT_FOUND
                },
                "text/plain",
                "",
            )
        }
        _ => full(StatusCode::NOT_FOUND, "text/plain", "not found"),
    }
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

fn session_known(server: &Server, req: &Request<Incoming>) -> bool {
    header(req, "mcp-session-id").is_some_and(|id| {
        server
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&id)
    })
}

fn note_traceparent(server: &Server, req: &Request<Incoming>) {
    if let Some(a) = header(req, "authorization") {
        *server
            .authorization
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(a);
    }
    if let Some(t) = header(req, "traceparent") {
        *server.traceparent.lock().unwrap_or_else(|p| p.into_inner()) = Some(t);
    }
}

async fn post(server: Arc<Server>, req: Request<Incoming>) -> Response<Body> {
    if req.headers().contains_key(hyper::header::AUTHORIZATION) {
        server.authorized.fetch_add(1, Ordering::Relaxed);
    }
    note_traceparent(&server, &req);
    let session = header(&req, "mcp-session-id");
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return full(StatusCode::BAD_REQUEST, "text/plain", "bad body"),
    };
    let msg: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            let err = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": e.to_string()}});
            return full(StatusCode::BAD_REQUEST, "application/json", err.to_string());
        }
    };
    let is_init = msg["method"] == "initialize";
    let new_session = if is_init {
        let id = format!(
            "mock-{}",
            server.next_session.fetch_add(1, Ordering::Relaxed)
        );
        server
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), Session::default());
        Some(id)
    } else {
        match &session {
            None => return full(StatusCode::BAD_REQUEST, "text/plain", "missing session"),
            Some(s)
                if !server
                    .sessions
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .contains_key(s) =>
            {
                return full(StatusCode::NOT_FOUND, "text/plain", "unknown session");
            }
            _ => None,
        }
    };
    let Some(id) = msg.get("id").cloned() else {
        if msg["method"] == "notifications/cancelled" {
            server.cancelled.fetch_add(1, Ordering::Relaxed);
        }
        if msg["method"] == "notifications/roots/list_changed" {
            server.roots_changed.fetch_add(1, Ordering::Relaxed);
        }
        return full(StatusCode::ACCEPTED, "text/plain", "");
    };
    if msg.get("method").is_none() {
        // The client's answer to one of our requests.
        let waiting = session.as_ref().and_then(|s| {
            let mut sessions = server.sessions.lock().unwrap_or_else(|p| p.into_inner());
            sessions
                .get_mut(s)
                .and_then(|s| s.asked.remove(&id.to_string()))
        });
        return match waiting {
            Some(tx) => {
                let _ = tx.send(msg);
                full(StatusCode::ACCEPTED, "text/plain", "")
            }
            None => full(StatusCode::BAD_REQUEST, "text/plain", "nobody asked that"),
        };
    }
    if msg["method"] == "tools/call" && msg["params"]["name"] == "hangup" {
        server.hangups.fetch_add(1, Ordering::Relaxed);
        let mut r = full(StatusCode::OK, "text/plain", "");
        r.headers_mut()
            .insert(HANGUP, hyper::header::HeaderValue::from_static("1"));
        return r;
    }
    if msg["method"] == "tools/call"
        && msg["params"]["name"] == "misbehave"
        && msg["params"]["arguments"]["mode"] == "resumable"
    {
        // SSE polling (SEP-1699): an event to resume after, then the stream ends; the
        // answer waits for a GET with that `Last-Event-ID`.
        let event = format!("r-{}", server.requests.load(Ordering::Relaxed));
        let answer = json!({"jsonrpc": "2.0", "id": id,
                            "result": {"content": [{"type": "text", "text": "resumed"}]}});
        server
            .resumable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(event.clone(), answer.to_string());
        let mut r = Response::new(raw_stream(
            vec![format!("id: {event}\nretry: 100\ndata: \n\n")],
            Duration::ZERO,
            false,
        ));
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/event-stream"),
        );
        return r;
    }
    if msg["method"] == "tools/call" && msg["params"]["name"] == "misbehave" {
        let mode = msg["params"]["arguments"]["mode"]
            .as_str()
            .unwrap_or_default();
        return misbehave(mode, &id);
    }
    if server.rich && msg["method"] == "tools/call" && msg["params"]["name"] == "sample" {
        let sid = new_session.clone().or(session).unwrap_or_default();
        return sample(&server, sid, id, &msg);
    }
    if server.rich && msg["method"] == "tools/call" && msg["params"]["name"] == "ask" {
        let sid = new_session.clone().or(session).unwrap_or_default();
        return ask(&server, sid, id, &msg);
    }
    if let Some(t) = &server.tasks
        && msg["method"] == "tools/call"
        && msg["params"]["task"].is_object()
    {
        let (run, call) = (server.clone(), msg.clone());
        let task = t.start(async move { handle(&run, &call).await.outcome });
        return full(
            StatusCode::OK,
            "application/json",
            response(&id, &Ok(task)).to_string(),
        );
    }
    // A strict backend: the same id twice in flight in one session is a client bug.
    let key = id.to_string();
    let sid = new_session.clone().or(session).unwrap_or_default();
    let duplicate = {
        let mut sessions = server.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let s = sessions.entry(sid.clone()).or_default();
        !s.in_flight.insert(key.clone())
    };
    let reply = if duplicate {
        Reply::err(
            -32600,
            format!("request id {key} is already in flight in this session"),
        )
    } else {
        handle(&server, &msg).await
    };
    if !duplicate {
        let mut sessions = server.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = sessions.get_mut(&sid) {
            s.in_flight.remove(&key);
        }
    }
    let final_msg = answer(&id, &reply);
    let mut resp = if reply.stream || server.always_sse {
        let (tx, rx) = mpsc::channel(reply.notifications.len() + 1);
        let interval = reply.interval;
        let all: Vec<String> = reply
            .notifications
            .iter()
            .map(Value::to_string)
            .chain([final_msg])
            .collect();
        tokio::spawn(async move {
            for m in all {
                if !interval.is_zero() {
                    tokio::time::sleep(interval).await;
                }
                if tx.send(m).await.is_err() {
                    return;
                }
            }
        });
        sse_response(rx)
    } else {
        full(StatusCode::OK, "application/json", final_msg)
    };
    if let Some(s) = new_session
        && let Ok(v) = HeaderValue::from_str(&s)
    {
        resp.headers_mut().insert("mcp-session-id", v);
    }
    resp
}

/// Raw body pieces, `delay` apart, then the end of the body (or, with `forever`, the
/// last piece again and again until the client goes away).
/// An SSE answer of `first`, then nothing, never ending.
fn sse_response_raw(first: String) -> Response<Body> {
    let mut r = Response::new(raw_stream(
        vec![first, ": still here\n\n".into()],
        Duration::from_secs(3600),
        true,
    ));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/event-stream"),
    );
    r
}

fn raw_stream(pieces: Vec<String>, delay: Duration, forever: bool) -> Body {
    let (tx, mut rx) = mpsc::channel::<Bytes>(1);
    tokio::spawn(async move {
        let last = pieces.last().cloned().unwrap_or_default();
        for p in pieces {
            if tx.send(Bytes::from(p)).await.is_err() {
                return;
            }
            tokio::time::sleep(delay).await;
        }
        while forever && tx.send(Bytes::from(last.clone())).await.is_ok() {
            tokio::time::sleep(delay).await;
        }
    });
    StreamBody::new(futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }))
    .boxed()
}

/// `misbehave {"mode": …}`: answers the way broken backends do, for the gateway's tests.
/// - `not_json`: a complete 200 answer that is not JSON;
/// - `wrong_id`: a complete JSON answer to another request;
/// - `truncated`: a JSON answer whose body stops short of its Content-Length;
/// - `truncated_sse`: an SSE answer that ends midway through its response event;
/// - `drip`: an SSE answer of keep-alive comments, 100 ms apart, never answering;
/// - `slow_json`: a correct JSON answer sent in two pieces 50 ms apart (chunked);
/// - `framed_crlf`, `framed_cr`, `framed_split`, `framed_after`: a correct SSE answer
///   whose result text carries an e-mail address, framed as the standard allows and
///   readers differ on: CRLF line ends with a notification first (the Python SDK's
///   framing), CR line ends, the result split over two `data:` lines (with an `id:` and
///   a comment among them), and an event and a keep-alive comment after the result.
fn misbehave(mode: &str, id: &Value) -> Response<Body> {
    if let Some(framing) = mode.strip_prefix("framed_") {
        let result = json!({"jsonrpc": "2.0", "id": id, "result": {"content": [
            {"type": "text", "text": "write to alice@example.com today"}]}})
        .to_string();
        let note = json!({"jsonrpc": "2.0", "method": "notifications/message",
                          "params": {"level": "info", "data": "working"}})
        .to_string();
        let (head, tail) = result.split_at(result.find("\"result\"").unwrap_or(0));
        let text = match framing {
            "crlf" => format!(
                "event: message\r\ndata: {note}\r\n\r\nevent: message\r\ndata: {result}\r\n\r\n"
            ),
            "cr" => format!(": hello\r\rdata: {note}\r\rdata: {result}\r\r"),
            "split" => format!("id: 1\ndata: {head}\n: between\ndata: {tail}\nretry: 500\n\n"),
            "after" => {
                format!("data: {result}\n\nevent: message\ndata: {note}\n\n: keep-alive\n\n")
            }
            _ => String::new(),
        };
        let mut r = Response::new(raw_stream(vec![text], Duration::ZERO, false));
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        return r;
    }
    let answer = json!({"jsonrpc": "2.0", "id": id,
                        "result": {"content": [{"type": "text", "text": "misbehaved"}]}})
    .to_string();
    let half = answer.len() / 2;
    let (ctype, body) = match mode {
        "not_json" => (
            "application/json",
            Full::new(Bytes::from("<html>oops</html>")).boxed(),
        ),
        "wrong_id" => (
            "application/json",
            Full::new(Bytes::from(
                json!({"jsonrpc": "2.0", "id": "not-yours", "result": {}}).to_string(),
            ))
            .boxed(),
        ),
        "truncated" => {
            // A body of unknown size under a Content-Length it never reaches: hyper
            // closes the connection when the body ends short.
            let mut r = Response::new(raw_stream(
                vec![answer[..half].to_string()],
                Duration::ZERO,
                false,
            ));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            if let Ok(v) = HeaderValue::from_str(&answer.len().to_string()) {
                r.headers_mut().insert(hyper::header::CONTENT_LENGTH, v);
            }
            return r;
        }
        "truncated_sse" => (
            "text/event-stream",
            raw_stream(
                vec![format!("event: message\ndata: {}", &answer[..half])],
                Duration::ZERO,
                false,
            ),
        ),
        "drip" => (
            "text/event-stream",
            raw_stream(
                vec![": keep-alive\n\n".to_string()],
                Duration::from_millis(100),
                true,
            ),
        ),
        "slow_json" => (
            "application/json",
            raw_stream(
                vec![answer[..half].to_string(), answer[half..].to_string()],
                Duration::from_millis(50),
                false,
            ),
        ),
        _ => {
            return full(
                StatusCode::OK,
                "application/json",
                response(id, &Err((-32602, format!("unknown mode {mode:?}")))).to_string(),
            );
        }
    };
    let mut r = Response::new(body);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

/// `sample`: asks the client (sampling/createMessage) on the call's SSE stream, waits
/// for its answer, and returns the sampled text.
fn sample(server: &Arc<Server>, session: String, id: Value, msg: &Value) -> Response<Body> {
    let prompt = msg["params"]["arguments"]["prompt"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (answer_tx, answer_rx) = tokio::sync::oneshot::channel();
    let ask_id = {
        let mut sessions = server.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let s = sessions.entry(session).or_default();
        let n = s.next_ask;
        s.next_ask += 1;
        s.asked.insert(n.to_string(), answer_tx);
        n
    };
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(async move {
        let ask = json!({"jsonrpc": "2.0", "id": ask_id, "method": "sampling/createMessage",
                         "params": {"messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
                                    "maxTokens": 16}});
        if tx.send(ask.to_string()).await.is_err() {
            return;
        }
        let outcome = match tokio::time::timeout(Duration::from_secs(30), answer_rx).await {
            Ok(Ok(answer)) => match answer["result"]["content"]["text"].as_str() {
                Some(t) => Ok(text(format!("sampled: {t}"))),
                None => Err((-32603, format!("the client did not sample: {answer}"))),
            },
            _ => Err((-32603, "no answer from the client".to_string())),
        };
        let _ = tx.send(response(&id, &outcome).to_string()).await;
    });
    sse_response(rx)
}

/// `ask`: each round's requests sent to the client at once on the call's SSE stream
/// (a `key` becomes `_meta["io.metamcp/inputKey"]`; `after_ms` waits that long before
/// the request, as a busy backend's concurrent questions come apart), all answers awaited, round after
/// round; the result's text is the JSON array of every round's answers.
fn ask(server: &Arc<Server>, session: String, id: Value, msg: &Value) -> Response<Body> {
    let rounds = msg["params"]["arguments"]["rounds"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let (tx, rx) = mpsc::channel(64);
    let server = server.clone();
    tokio::spawn(async move {
        let mut answers = Vec::new();
        for round in rounds {
            let mut waiting = Vec::new();
            for q in round.as_array().cloned().unwrap_or_default() {
                if let Some(ms) = q.get("after_ms").and_then(Value::as_u64) {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                let (answer_tx, answer_rx) = tokio::sync::oneshot::channel();
                let ask_id = {
                    let mut sessions = server.sessions.lock().unwrap_or_else(|p| p.into_inner());
                    let s = sessions.entry(session.clone()).or_default();
                    let n = s.next_ask;
                    s.next_ask += 1;
                    s.asked.insert(n.to_string(), answer_tx);
                    n
                };
                let mut params = q.get("params").cloned().unwrap_or_else(|| json!({}));
                if let Some(k) = q.get("key") {
                    params["_meta"] = json!({"io.metamcp/inputKey": k});
                }
                let ask = json!({"jsonrpc": "2.0", "id": ask_id, "method": q["method"], "params": params});
                if tx.send(ask.to_string()).await.is_err() {
                    return;
                }
                waiting.push(answer_rx);
            }
            let mut got = Vec::new();
            for w in waiting {
                match tokio::time::timeout(Duration::from_secs(60), w).await {
                    Ok(Ok(a)) => got.push(
                        a.get("result")
                            .or(a.get("error"))
                            .cloned()
                            .unwrap_or(Value::Null),
                    ),
                    _ => {
                        let _ = tx
                            .send(
                                response(&id, &Err((-32603, "no answer from the client".into())))
                                    .to_string(),
                            )
                            .await;
                        return;
                    }
                }
            }
            answers.push(Value::Array(got));
        }
        let _ = tx
            .send(response(&id, &Ok(text(Value::Array(answers).to_string()))).to_string())
            .await;
    });
    sse_response(rx)
}

/// The legacy HTTP+SSE transport: `GET /sse` opens a session's stream, whose first event
/// names the endpoint to POST to; answers and messages come on the stream.
fn legacy_stream(server: &Arc<Server>) -> Response<Body> {
    let id = format!(
        "sse-{}",
        server.next_session.fetch_add(1, Ordering::Relaxed)
    );
    let (tx, mut rx) = mpsc::channel::<Bytes>(256);
    let _ = tx.try_send(Bytes::from(format!(
        "event: endpoint\ndata: /message?sessionId={id}\n\n"
    )));
    server
        .sse_streams
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, tx.clone());
    // List changes reach every stream, as on the Streamable-HTTP GET stream.
    let mut notes = server.notify.subscribe();
    tokio::spawn(async move {
        while let Ok(m) = notes.recv().await {
            let event = format!("event: message\ndata: {m}\n\n");
            if tx.send(Bytes::from(event)).await.is_err() {
                return;
            }
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    });
    let mut r = Response::new(StreamBody::new(stream).boxed());
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    r
}

/// `POST /message?sessionId=…`: 202 at once; the answer goes on the session's stream.
async fn legacy_post(server: Arc<Server>, req: Request<Incoming>) -> Response<Body> {
    note_traceparent(&server, &req);
    let session = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("sessionId=")))
        .map(str::to_string);
    let stream = session.and_then(|s| {
        server
            .sse_streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&s)
            .cloned()
    });
    let Some(stream) = stream else {
        return full(StatusCode::NOT_FOUND, "text/plain", "unknown session");
    };
    let Ok(body) = req.into_body().collect().await else {
        return full(StatusCode::BAD_REQUEST, "text/plain", "bad body");
    };
    let Ok(msg) = serde_json::from_slice::<Value>(&body.to_bytes()) else {
        return full(StatusCode::BAD_REQUEST, "text/plain", "not JSON");
    };
    if let (Some(id), true) = (msg.get("id").cloned(), msg.get("method").is_some()) {
        tokio::spawn(async move {
            let reply = handle(&server, &msg).await;
            let send = |m: String| {
                let stream = stream.clone();
                async move {
                    let _ = stream
                        .send(Bytes::from(format!("event: message\ndata: {m}\n\n")))
                        .await;
                }
            };
            for n in &reply.notifications {
                if !reply.interval.is_zero() {
                    tokio::time::sleep(reply.interval).await;
                }
                send(n.to_string()).await;
            }
            send(answer(&id, &reply)).await;
        });
    }
    full(StatusCode::ACCEPTED, "text/plain", "")
}

/// Marks the response of a `hangup` call: the connection is closed instead.
const HANGUP: &str = "x-mockmcp-hangup";

#[derive(Debug)]
struct HangUp;

impl std::fmt::Display for HangUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hung up on purpose")
    }
}

impl std::error::Error for HangUp {}

async fn run_http(server: Arc<Server>, port: u16) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    println!("{}", listener.local_addr()?.port());
    let _ = std::io::stdout().flush();
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(a) => a,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let server = server.clone();
        server.connections.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let open = server.clone();
            let svc = service_fn(move |req| {
                let server = server.clone();
                async move {
                    let resp = serve_http(server, req).await;
                    // An error from the service makes hyper drop the connection unanswered.
                    if resp.headers().contains_key(HANGUP) {
                        return Err(HangUp);
                    }
                    Ok(resp)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
            open.connections.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

async fn run_stdio(server: Arc<Server>) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    println!("0");
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(line) = out_rx.recv().await {
            if stdout.write_all(line.as_bytes()).await.is_err()
                || stdout.write_all(b"\n").await.is_err()
            {
                return;
            }
            let _ = stdout.flush().await;
        }
    });
    let mut notes = server.notify.subscribe();
    let note_tx = out_tx.clone();
    let relay = tokio::spawn(async move {
        while let Ok(m) = notes.recv().await {
            let _ = note_tx.send(m);
        }
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            let _ = out_tx.send(json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "parse error"}}).to_string());
            continue;
        };
        let Some(id) = msg.get("id").cloned() else {
            continue;
        };
        if msg.get("method").is_none() {
            continue;
        }
        let server = server.clone();
        let out = out_tx.clone();
        tokio::spawn(async move {
            let reply = handle(&server, &msg).await;
            for n in &reply.notifications {
                let _ = out.send(n.to_string());
            }
            let _ = out.send(answer(&id, &reply));
        });
    }
    // Stdin ended: the notifications' relay holds a sender too, and the writer would
    // wait on it for ever (a child whose gateway was gone then never exited).
    relay.abort();
    drop(out_tx);
    let _ = writer.await;
    Ok(())
}

/// The mock's whole run, with its arguments (after the program name): the `metamcp`
/// binary runs it when called as `mockmcp` (src/main.rs).
pub fn main(args: Vec<String>) {
    let opts = match parse_args(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("mockmcp: {e}");
            std::process::exit(64);
        }
    };
    if opts.fork
        && let Err(e) = std::process::Command::new("sleep")
            .arg("3600")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
    {
        eprintln!("mockmcp: cannot fork a grandchild: {e}");
    }
    let instructions = match opts.instructions_kib {
        Some(kib) => Some("Use the tools carefully. ".repeat(kib * 1024 / 25 + 1)),
        None if opts.rich => Some("Read mock://static/hello before calling echo.".to_string()),
        None => None,
    };
    let server = Arc::new(Server {
        rich: opts.rich,
        tasks: opts.tasks.then(tasks::Tasks::default),
        instructions,
        description_padding: opts
            .description_kib
            .map(|kib| " It does what it says.".repeat(kib * 1024 / 22 + 1)),
        always_sse: opts.always_sse,
        sse_streams: Mutex::default(),
        sessions: Mutex::default(),
        notify: broadcast::channel(64).0,
        extra: Mutex::new(false),
        replaced: Mutex::new(Vec::new()),
        initializes: AtomicU64::new(0),
        client_capabilities: Mutex::new(Value::Null),
        log_levels: Mutex::new(Vec::new()),
        requests: AtomicU64::new(0),
        cancelled: AtomicU64::new(0),
        roots_changed: AtomicU64::new(0),
        hangups: AtomicU64::new(0),
        calls_now: AtomicU64::new(0),
        calls_peak: AtomicU64::new(0),
        connections: AtomicU64::new(0),
        resumable: Mutex::default(),
        resumed: AtomicU64::new(0),
        visited: AtomicBool::new(false),
        authorized: AtomicU64::new(0),
        calls: Mutex::default(),
        next_session: AtomicU64::new(1),
        traceparent: Mutex::new(None),
        authorization: Mutex::new(None),
        accounts: opts.accounts || opts.oauth.is_some(),
        header_param: opts.header_param,
        oauth: opts.oauth.map(oauth::OAuth::new),
    });
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mockmcp: {e}");
            std::process::exit(1);
        }
    };
    let result = rt.block_on(async {
        match opts.transport.as_str() {
            "stdio" => run_stdio(server).await,
            _ => run_http(server, opts.port).await,
        }
    });
    if let Err(e) = result {
        eprintln!("mockmcp: {e}");
        std::process::exit(1);
    }
}
