//! `mcpc bridge --url URL [--key KEY]`: a stdio-to-Streamable-HTTP relay, for MCP clients
//! that run only stdio servers. Newline-delimited JSON-RPC from stdin goes to the
//! gateway, one POST a message; what the gateway answers (JSON, or SSE events: progress,
//! the backend's own requests, then the response) goes to stdout a line a message, as
//! it arrives. The session is kept (and re-initialized with the client's own
//! `initialize` when the gateway forgets it); the session's GET stream relays messages
//! not tied to a request; at the end of stdin the session is ended.
//!
//! The key comes from `--key` or `METAMCP_KEY` (the latter keeps it out of `ps`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{Semaphore, mpsc};

use super::Failure;
use crate::backend::http::HttpClient;
use crate::jsonrpc::methods::Method as McpMethod;
use crate::jsonrpc::sse::data_of as sse_data;

/// Longest line read from stdin.
const MAX_LINE: usize = 16 << 20;
/// Requests relayed at once; more wait for a place.
const MAX_IN_FLIGHT: usize = 64;
/// Lines waiting for stdout.
const OUT_QUEUE: usize = 1024;

/// `bridge`'s command line.
#[derive(Debug, Clone)]
pub struct BridgeArgs {
    pub url: Uri,
    pub key: Option<String>,
}

/// `mcpc bridge --help`.
pub const USAGE: &str = "usage: mcpc bridge --url URL [--key KEY]  (or METAMCP_KEY)

Relays MCP between stdin/stdout and the gateway at URL (Streamable HTTP), for clients
that run only stdio servers (Claude Desktop): one JSON-RPC message a line each way.
keyadm client-config --bridge prints an entry that runs it.";

/// Whether the `mcpc bridge` arguments ask for its help.
pub fn asks_help(args: &[String]) -> bool {
    args.iter()
        .any(|a| matches!(a.as_str(), "-h" | "--help" | "help"))
}

/// Reads `mcpc bridge` arguments (everything but the word `bridge`).
pub fn parse(args: &[String], env_key: Option<String>) -> Result<BridgeArgs, Failure> {
    let usage = |m: &str| Failure::Usage(format!("{m}\n\n{USAGE}"));
    let mut url = None;
    let mut key = None;
    let mut it = args.iter().filter(|a| *a != "bridge");
    while let Some(a) = it.next() {
        match a.as_str() {
            "--url" => url = Some(it.next().ok_or_else(|| usage("--url needs a value"))?),
            "--key" => {
                key = Some(
                    it.next()
                        .ok_or_else(|| usage("--key needs a value"))?
                        .clone(),
                )
            }
            other => return Err(usage(&format!("unknown argument {other}"))),
        }
    }
    let url = url.ok_or_else(|| usage("--url is required"))?;
    let url = super::gateway_url(url)
        .ok_or_else(|| usage(&format!("--url {url:?} {}", super::NOT_A_URL)))?;
    Ok(BridgeArgs {
        url,
        key: key.or(env_key).filter(|k| !k.is_empty()),
    })
}

/// The gateway session the bridge holds for its client.
#[derive(Default)]
struct Session {
    id: Option<HeaderValue>,
    version: Option<HeaderValue>,
    /// The client's own `initialize` params, replayed if the gateway forgets the session.
    init: Option<Value>,
    /// Bumped on each re-initialization, so concurrent 404s re-initialize once.
    generation: u64,
}

struct Relay {
    http: HttpClient,
    args: BridgeArgs,
    session: Mutex<Session>,
    reinit: tokio::sync::Mutex<()>,
    out: mpsc::Sender<Vec<u8>>,
}

impl Relay {
    fn request(
        &self,
        method: Method,
        body: Option<Bytes>,
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
        {
            let s = self.session.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(id) = &s.id {
                req = req.header("mcp-session-id", id);
            }
            if let Some(v) = &s.version {
                req = req.header("mcp-protocol-version", v);
            }
        }
        req.body(Full::new(body.unwrap_or_default()))
            .map_err(|e| Failure::Usage(format!("cannot build the request: {e}")))
    }

    /// Writes one message to stdout (compact, one line).
    async fn emit(&self, msg: &Value) {
        let _ = self.out.send(msg.to_string().into_bytes()).await;
    }

    /// A JSON-RPC error to the client for its request `id`.
    async fn fail(&self, id: &Value, message: String) {
        if id.is_null() {
            eprintln!("mcpc bridge: {message}");
            return;
        }
        self.emit(&json!({"jsonrpc": "2.0", "id": id,
                          "error": {"code": -32603, "message": message}}))
            .await;
    }

    /// POSTs one message and relays every message of the answer as it arrives.
    /// `Ok(Some(status))` for an HTTP error whose body carried no JSON-RPC message.
    async fn post(
        &self,
        body: Bytes,
        capture: bool,
    ) -> Result<Option<(StatusCode, String)>, Failure> {
        let sent = body.clone();
        let req = self.request(Method::POST, Some(body))?;
        let resp = self.http.request(req).await.map_err(|e| {
            Failure::Transport(format!(
                "cannot reach the gateway at {}: {e}",
                self.args.url
            ))
        })?;
        let (parts, mut body) = resp.into_parts();
        if capture && parts.status.is_success() {
            let mut s = self.session.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(id) = parts.headers.get("mcp-session-id") {
                s.id = Some(id.clone());
            }
        }
        let sse = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let mut pending: Vec<u8> = Vec::new();
        let mut relayed = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame
                .map_err(|e| Failure::Transport(format!("the gateway's answer broke off: {e}")))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            pending.extend_from_slice(&data);
            if pending.len() > MAX_LINE {
                return Err(Failure::Transport("an answer larger than 16 MiB".into()));
            }
            if sse {
                // Complete events only; the rest waits for more bytes.
                if let Some(end) = last_event_end(&pending) {
                    let done: Vec<u8> = pending.drain(..end).collect();
                    for event in sse_data(&done) {
                        if let Ok(v) = serde_json::from_slice::<Value>(&event) {
                            self.note(&v, capture);
                            self.emit(&v).await;
                            relayed += 1;
                        }
                    }
                }
            }
        }
        if !sse
            && !pending.is_empty()
            && let Ok(mut v) = serde_json::from_slice::<Value>(&pending)
            && (parts.status.is_success() || v.get("jsonrpc").is_some())
        {
            // The gateway refused the request before reading it (a bad key): its
            // error names no id; the client's request gets it under its own.
            if v["id"].is_null()
                && v.get("error").is_some()
                && let Ok(request) = serde_json::from_slice::<Value>(&sent)
                && let Some(id) = request.get("id")
            {
                v["id"] = id.clone();
            }
            self.note(&v, capture);
            self.emit(&v).await;
            return Ok(None);
        }
        if sse && !pending.is_empty() {
            for event in sse_data(&[&pending[..], b"\n\n"].concat()) {
                if let Ok(v) = serde_json::from_slice::<Value>(&event) {
                    self.emit(&v).await;
                    relayed += 1;
                }
            }
        }
        if parts.status.is_success() || relayed > 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&pending[..pending.len().min(2000)]).into_owned();
        Ok(Some((parts.status, text)))
    }

    /// Learns the negotiated version from an initialize answer.
    fn note(&self, v: &Value, capture: bool) {
        if capture && let Some(version) = v["result"]["protocolVersion"].as_str() {
            let mut s = self.session.lock().unwrap_or_else(|p| p.into_inner());
            s.version = HeaderValue::from_str(version).ok();
        }
    }

    /// Opens a new session with the client's own initialize (the gateway forgot ours).
    async fn reinitialize(&self, seen: u64) -> Result<(), Failure> {
        let _one = self.reinit.lock().await;
        let init = {
            let mut s = self.session.lock().unwrap_or_else(|p| p.into_inner());
            if s.generation != seen {
                return Ok(());
            }
            s.generation += 1;
            s.id = None;
            s.version = None;
            s.init.clone()
        };
        let Some(params) = init else {
            return Err(Failure::Transport(
                "the gateway forgot a session never opened".into(),
            ));
        };
        let msg = json!({"jsonrpc": "2.0", "id": "mcpc-bridge-reinit", "method": McpMethod::Initialize.as_str(), "params": params});
        let req = self.request(Method::POST, Some(Bytes::from(msg.to_string())))?;
        let resp = self
            .http
            .request(req)
            .await
            .map_err(|e| Failure::Transport(e.to_string()))?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| Failure::Transport(e.to_string()))?
            .to_bytes();
        if !parts.status.is_success() {
            return Err(Failure::Transport(format!(
                "re-initializing: HTTP {}",
                parts.status
            )));
        }
        let answer = if body.starts_with(b"{") {
            serde_json::from_slice::<Value>(&body).ok()
        } else {
            sse_data(&body)
                .iter()
                .find_map(|e| serde_json::from_slice::<Value>(e).ok())
        };
        {
            let mut s = self.session.lock().unwrap_or_else(|p| p.into_inner());
            s.id = parts.headers.get("mcp-session-id").cloned();
            s.version = answer
                .as_ref()
                .and_then(|a| a["result"]["protocolVersion"].as_str())
                .and_then(|v| HeaderValue::from_str(v).ok());
        }
        let done = json!({"jsonrpc": "2.0", "method": McpMethod::Initialized.as_str()});
        self.post(Bytes::from(done.to_string()), false)
            .await
            .map(|_| ())
    }

    /// Relays one message from the client; retries once on a forgotten session.
    async fn relay(&self, msg: Value) {
        let id = msg.get("id").cloned().unwrap_or(Value::Null);
        let is_init = msg["method"] == McpMethod::Initialize.as_str();
        if is_init {
            let mut s = self.session.lock().unwrap_or_else(|p| p.into_inner());
            s.init = Some(msg["params"].clone());
        }
        let body = Bytes::from(msg.to_string());
        for attempt in 0..2 {
            let seen = self
                .session
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .generation;
            match self.post(body.clone(), is_init).await {
                Ok(None) => return,
                Ok(Some((StatusCode::NOT_FOUND, _))) if attempt == 0 && !is_init => {
                    if let Err(e) = self.reinitialize(seen).await {
                        self.fail(&id, format!("the gateway forgot the session and {e}"))
                            .await;
                        return;
                    }
                }
                Ok(Some((status, text))) => {
                    self.fail(&id, format!("the gateway answered HTTP {status}: {text}"))
                        .await;
                    return;
                }
                Err(e) => {
                    self.fail(&id, e.to_string()).await;
                    return;
                }
            }
        }
    }

    /// The session's GET stream: messages not tied to a request, until it is refused.
    async fn listen(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(200);
        loop {
            let Ok(req) = self.request(Method::GET, None) else {
                return;
            };
            let resp = match self.http.request(req).await {
                Ok(r) => r,
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue;
                }
            };
            if !resp.status().is_success() {
                // 405: no stream offered; 404/400: no session (yet). Nothing to relay.
                return;
            }
            backoff = Duration::from_millis(200);
            let mut body = resp.into_body();
            let mut pending = Vec::new();
            while let Some(Ok(frame)) = body.frame().await {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                pending.extend_from_slice(&data);
                if pending.len() > MAX_LINE {
                    break;
                }
                if let Some(end) = last_event_end(&pending) {
                    let done: Vec<u8> = pending.drain(..end).collect();
                    for event in sse_data(&done) {
                        if let Ok(v) = serde_json::from_slice::<Value>(&event) {
                            self.emit(&v).await;
                        }
                    }
                }
            }
        }
    }
}

use crate::jsonrpc::sse::last_event_end;

/// Relays `input` to the gateway and its answers to `output` until `input` ends.
pub async fn run(
    args: BridgeArgs,
    input: impl AsyncRead + Unpin,
    mut output: impl AsyncWrite + Unpin + Send + 'static,
) -> Result<(), Failure> {
    let http = super::http_client()?;
    let (out, mut lines) = mpsc::channel::<Vec<u8>>(OUT_QUEUE);
    let writer = tokio::spawn(async move {
        while let Some(mut line) = lines.recv().await {
            line.push(b'\n');
            if output.write_all(&line).await.is_err() || output.flush().await.is_err() {
                return;
            }
        }
    });
    let relay = Arc::new(Relay {
        http,
        args,
        session: Mutex::default(),
        reinit: tokio::sync::Mutex::new(()),
        out,
    });
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut listening = None;
    let mut reader = BufReader::new(input);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .await
            .map_err(|e| Failure::Transport(format!("reading stdin: {e}")))?;
        if n == 0 {
            break;
        }
        if buf.len() > MAX_LINE {
            relay
                .fail(&Value::Null, "a line over 16 MiB on stdin: skipped".into())
                .await;
            // Skip the rest of that line.
            let mut rest = Vec::new();
            let _ = reader.read_until(b'\n', &mut rest).await;
            continue;
        }
        let line = buf.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let msg: Value = match serde_json::from_slice(line) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                relay
                    .emit(&json!({"jsonrpc": "2.0", "id": null,
                                  "error": {"code": -32700, "message": "parse error: a line that is not one JSON-RPC object"}}))
                    .await;
                continue;
            }
        };
        let method = msg["method"].as_str().and_then(McpMethod::parse);
        if matches!(method, Some(McpMethod::Initialize | McpMethod::Initialized)) {
            // In order: the session must exist before anything else is sent.
            relay.relay(msg).await;
            if method == Some(McpMethod::Initialized) && listening.is_none() {
                listening = Some(tokio::spawn(relay.clone().listen()));
            }
            continue;
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let r = relay.clone();
        tokio::spawn(async move {
            r.relay(msg).await;
            drop(permit);
        });
    }
    // stdin ended: let the requests in flight finish (bounded), then end the session.
    let _ = tokio::time::timeout(
        Duration::from_secs(30),
        permits.acquire_many(MAX_IN_FLIGHT as u32),
    )
    .await;
    if let Some(l) = listening {
        l.abort();
    }
    let has_session = relay
        .session
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .id
        .is_some();
    if has_session && let Ok(req) = relay.request(Method::DELETE, None) {
        let _ = tokio::time::timeout(Duration::from_secs(5), relay.http.request(req)).await;
    }
    drop(relay);
    let _ = writer.await;
    Ok(())
}

/// `mcpc bridge …` over the process's stdin and stdout: the exit status.
pub async fn main(args: &[String]) -> i32 {
    if asks_help(args) {
        println!("{USAGE}");
        return 0;
    }
    let args = match parse(args, std::env::var("METAMCP_KEY").ok()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mcpc: {e}");
            return e.exit_code();
        }
    };
    match run(args, tokio::io::stdin(), tokio::io::stdout()).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("mcpc bridge: {e}");
            e.exit_code()
        }
    }
}
