//! Talking to a backend over Streamable HTTP: one pooled client for every backend,
//! requests carrying the backend's own session and credentials, and the small amount of
//! parsing the control path needs (initialize, lists) — never on the hot path.
//!
//! An answer's body ([`HttpAnswer`]) lives here, in the folder's front door, not in
//! [`transport`]: the type is recursive (a stream joined to another call's, [`joined`],
//! wraps an answer of its own, and a stream resumed after a cut, [`resume`], yields
//! one), so the files that wrap and make it take it from their parent, and none of this
//! folder's files name each other in a circle.

pub mod bearer;
pub mod joined;
pub mod modern;
pub mod pool;
pub mod resume;
pub mod transport;

use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::base::ClientCaps;
use crate::model::Server;

/// The pooled client shared by all backends: `http://`, and `https://` over rustls.
pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

pub use crate::backend::hello::{UPSTREAM_VERSION, UPSTREAM_VERSIONS};
/// Largest control-path response read whole (lists, initialize).
const MAX_CONTROL_BODY: usize = 64 << 20;

/// Builds a backend's client: keep-alive, idle connections capped, `https://`
/// servers checked against `tls`'s roots (HTTP/1.1 over TLS 1.2 or 1.3; the server's
/// name must match its certificate, and nothing falls back to plain text).
pub fn client(tls: &rustls::ClientConfig) -> HttpClient {
    let mut tcp = HttpConnector::new();
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(Duration::from_secs(5)));
    tcp.set_keepalive(Some(Duration::from_secs(60)));
    // The TLS layer decides by scheme; the TCP one must let `https://` through to it.
    tcp.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls.clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(512)
        .build(connector)
}

pub use crate::base::UpstreamError;

/// An answer's body as it arrives over HTTP.
pub enum HttpAnswer {
    /// The hot path's own connection.
    Pool(pool::Exchange),
    /// hyper's client (https backends).
    Hyper(Incoming),
    /// An SSE answer that the backend's messages naming no call may join.
    Joined(Box<joined::Joined>),
    /// A resumed answer on a connection of its own (closed when it is dropped).
    Owned(Incoming, resume::OwnConnection),
    /// An answer read to its end and let go (its connection with it).
    Done,
}

impl HttpAnswer {
    /// The whole body, when it is delimited by a length and arrived with the head.
    pub fn take_whole(&mut self) -> Option<Bytes> {
        match self {
            HttpAnswer::Pool(x) => x.take_whole(),
            HttpAnswer::Hyper(_)
            | HttpAnswer::Owned(..)
            | HttpAnswer::Joined(_)
            | HttpAnswer::Done => None,
        }
    }

    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, String>>> {
        match self {
            HttpAnswer::Pool(x) => x
                .poll_chunk(cx)
                .map(|o| o.map(|r| r.map_err(|e| e.to_string()))),
            HttpAnswer::Hyper(b) | HttpAnswer::Owned(b, _) => loop {
                match hyper::body::Body::poll_frame(std::pin::Pin::new(&mut *b), cx) {
                    Poll::Ready(Some(Ok(f))) => match f.into_data() {
                        Ok(d) => return Poll::Ready(Some(Ok(d))),
                        Err(_) => continue,
                    },
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.to_string()))),
                    Poll::Ready(None) => return Poll::Ready(None),
                    Poll::Pending => return Poll::Pending,
                }
            },
            HttpAnswer::Joined(j) => j.poll_chunk(cx),
            HttpAnswer::Done => Poll::Ready(None),
        }
    }
}

/// Where and how to reach one backend.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub uri: Uri,
    /// Configured headers (decrypted), plus the protocol's own.
    pub headers: HeaderMap,
    /// An OAuth backend's access token, set on every request.
    pub bearer: Option<std::sync::Arc<bearer::Bearer>>,
}

impl Endpoint {
    /// An endpoint at `url` with extra headers (for clients such as mcpc).
    pub fn new(url: &str, extra: &[(&str, &str)]) -> Result<Endpoint, UpstreamError> {
        let uri: Uri = url
            .parse()
            .map_err(|_| UpstreamError::Protocol(format!("bad url {url}")))?;
        let mut headers = HeaderMap::new();
        for (k, v) in extra {
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) else {
                return Err(UpstreamError::Protocol(format!(
                    "header {k} cannot be sent"
                )));
            };
            headers.insert(name, value);
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        Ok(Endpoint {
            uri,
            headers,
            bearer: None,
        })
    }

    pub fn for_server(server: &Server) -> Result<Endpoint, UpstreamError> {
        let url = server
            .url
            .as_deref()
            .ok_or_else(|| UpstreamError::Protocol("no url".into()))?;
        // `${VAR}` in a header value comes from the gateway's environment.
        let expanded = crate::model::refs::expand_map("header", &server.headers)
            .map_err(UpstreamError::Protocol)?;
        // A caller's own secret is set on each request ([`bearer::Bearer`]).
        let headers: Vec<(&str, &str)> = expanded
            .iter()
            .filter(|(_, v)| !v.contains(crate::model::auth::CALLER_SECRET))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Endpoint::new(url, &headers)
    }
}

/// The gateway's session with one backend.
#[derive(Debug, Clone)]
pub struct UpstreamSession {
    pub id: Option<HeaderValue>,
    pub version: HeaderValue,
    pub capabilities: Value,
    pub server_info: Value,
    /// What the backend said of itself (its capabilities and `instructions`).
    pub hello: crate::backend::hello::Hello,
    /// Counts re-initializations, so concurrent 404s re-initialize once.
    pub generation: u64,
    /// A 2026-07-28 backend: no session (`id` is `None`), every request with its own
    /// envelope and headers ([`modern`]).
    pub modern: bool,
}

impl UpstreamSession {
    /// The session's header lines for hand-written requests (`Name: value\r\n` each).
    pub fn header_lines(&self) -> Bytes {
        let mut out = Vec::with_capacity(160);
        if let Some(id) = &self.id {
            out.extend_from_slice(b"Mcp-Session-Id: ");
            out.extend_from_slice(id.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"MCP-Protocol-Version: ");
        out.extend_from_slice(self.version.as_bytes());
        out.extend_from_slice(b"\r\n");
        Bytes::from(out)
    }
}

/// Builds a request to the backend with its session.
pub fn request(
    endpoint: &Endpoint,
    session: Option<&UpstreamSession>,
    method: Method,
    body: Bytes,
) -> Request<Full<Bytes>> {
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = method;
    *req.uri_mut() = endpoint.uri.clone();
    *req.headers_mut() = endpoint.headers.clone();
    if let Some(b) = &endpoint.bearer {
        let method = req.method().clone();
        b.apply(req.headers_mut(), &method, &endpoint.uri);
        if b.proves() {
            // For a nonce challenge's answer (`send`).
            req.extensions_mut().insert(b.clone());
        }
    }
    if let Some(s) = session {
        if let Some(id) = &s.id {
            req.headers_mut().insert("mcp-session-id", id.clone());
        }
        req.headers_mut()
            .insert("mcp-protocol-version", s.version.clone());
    }
    req
}

/// Sends a request, mapping transport failures. A request with a DPoP proof keeps the
/// backend's `DPoP-Nonce` for the next, and is sent once more with a fresh proof when
/// the backend challenges it for one (RFC 9449 §9: `use_dpop_nonce`).
pub async fn send(
    client: &HttpClient,
    req: Request<Full<Bytes>>,
) -> Result<Response<Incoming>, UpstreamError> {
    let scheme = req.uri().scheme_str().map(str::to_string);
    let again = req
        .extensions()
        .get::<std::sync::Arc<bearer::Bearer>>()
        .cloned()
        .map(|b| {
            (
                b,
                req.method().clone(),
                req.uri().clone(),
                req.headers().clone(),
                req.body().clone(),
            )
        });
    let fail = |e: hyper_util::client::legacy::Error| {
        UpstreamError::Connect(crate::backend::hints::tls_to_plain(
            scheme.as_deref(),
            error_chain(&e),
        ))
    };
    let resp = client.request(req).await.map_err(fail)?;
    let Some((b, method, uri, mut headers, body)) = again else {
        return Ok(resp);
    };
    let Some(nonce) = resp
        .headers()
        .get("dpop-nonce")
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(resp);
    };
    b.nonce_given(nonce);
    let challenged = resp.status() == hyper::StatusCode::UNAUTHORIZED
        && resp
            .headers()
            .get_all(hyper::header::WWW_AUTHENTICATE)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.contains("use_dpop_nonce")));
    if !challenged {
        return Ok(resp);
    }
    drop(resp);
    b.apply(&mut headers, &method, &uri);
    let mut retry = Request::new(body);
    *retry.method_mut() = method;
    *retry.uri_mut() = uri;
    *retry.headers_mut() = headers;
    let resp = client.request(retry).await.map_err(fail)?;
    if let Some(n) = resp
        .headers()
        .get("dpop-nonce")
        .and_then(|v| v.to_str().ok())
    {
        b.nonce_given(n);
    }
    Ok(resp)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Opens a session: `initialize` declaring the client capabilities `declared`
/// ([`ClientCaps`] bits), then `notifications/initialized`.
pub async fn initialize(
    client: &HttpClient,
    endpoint: &Endpoint,
    generation: u64,
    timeout: Duration,
    declared: u8,
) -> Result<UpstreamSession, UpstreamError> {
    let body = json!({
        "jsonrpc": "2.0", "id": "metamcp-init", "method": crate::jsonrpc::methods::Method::Initialize.as_str(),
        "params": {"protocolVersion": UPSTREAM_VERSION, "capabilities": ClientCaps::declared(declared),
                   "clientInfo": {"name": "metamcp", "version": env!("CARGO_PKG_VERSION")}}
    });
    let req = request(endpoint, None, Method::POST, Bytes::from(body.to_string()));
    let resp = within(timeout, send(client, req)).await?;
    let session_id = resp.headers().get("mcp-session-id").cloned();
    // An HTML page, or a refusal of the POST itself: a URL of something else.
    if resp.status() != hyper::StatusCode::NOT_FOUND
        && let Some(hint) = crate::backend::hints::not_an_endpoint(
            resp.status(),
            resp.headers(),
            endpoint.uri.path(),
        )
    {
        return Err(UpstreamError::Connect(hint));
    }
    // No session was named yet: a 404 here is a wrong URL, not a forgotten session.
    let result = match read_response(resp, &json!("metamcp-init"), timeout).await {
        Err(UpstreamError::SessionExpired) => {
            return Err(UpstreamError::Connect(format!(
                "the server answered 404 Not Found for the path {}: check the url's path \
                 (MCP servers usually serve /mcp; older ones /sse, with protocol \"sse\")",
                endpoint.uri.path()
            )));
        }
        r => r?,
    };
    let version = result["protocolVersion"].as_str().unwrap_or_default();
    if !UPSTREAM_VERSIONS.contains(&version) {
        return Err(UpstreamError::Protocol(format!(
            "unsupported protocol version {version:?}"
        )));
    }
    let session = UpstreamSession {
        id: session_id,
        version: HeaderValue::from_str(version)
            .map_err(|_| UpstreamError::Protocol("bad version".into()))?,
        capabilities: result["capabilities"].clone(),
        server_info: result["serverInfo"].clone(),
        hello: crate::backend::hello::Hello::from_result(&result),
        generation,
        modern: false,
    };
    let note = Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    let resp = within(
        timeout,
        send(
            client,
            request(endpoint, Some(&session), Method::POST, note),
        ),
    )
    .await?;
    if !resp.status().is_success() {
        return Err(UpstreamError::Status(resp.status().as_u16()));
    }
    drain(resp).await;
    Ok(session)
}

/// Sends one control-path request and returns its `result`.
pub async fn call(
    client: &HttpClient,
    endpoint: &Endpoint,
    session: &UpstreamSession,
    id: &str,
    method: &str,
    params: Value,
    timeout: Duration,
) -> Result<Value, UpstreamError> {
    let req = if session.modern {
        modern::control_request(endpoint, session, id, method, params)
    } else {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        request(
            endpoint,
            Some(session),
            Method::POST,
            Bytes::from(body.to_string()),
        )
    };
    let resp = within(timeout, send(client, req)).await?;
    read_response(resp, &json!(id), timeout).await
}

/// Sends a notification (fire and forget, errors logged by the caller).
pub async fn notify(
    client: &HttpClient,
    endpoint: &Endpoint,
    session: &UpstreamSession,
    body: Bytes,
) -> Result<(), UpstreamError> {
    let resp = send(client, request(endpoint, Some(session), Method::POST, body)).await?;
    let ok = resp.status().is_success();
    let status = resp.status().as_u16();
    drain(resp).await;
    if ok {
        Ok(())
    } else {
        Err(UpstreamError::Status(status))
    }
}

/// Ends the session at the backend (best effort).
pub async fn terminate(client: &HttpClient, endpoint: &Endpoint, session: &UpstreamSession) {
    if session.id.is_some()
        && let Ok(resp) = send(
            client,
            request(endpoint, Some(session), Method::DELETE, Bytes::new()),
        )
        .await
    {
        drain(resp).await;
    }
}

async fn drain(resp: Response<Incoming>) {
    let _ = resp.into_body().collect().await;
}

pub async fn within<T>(
    timeout: Duration,
    f: impl Future<Output = Result<T, UpstreamError>>,
) -> Result<T, UpstreamError> {
    tokio::time::timeout(timeout, f)
        .await
        .unwrap_or(Err(UpstreamError::Timeout(timeout.as_millis() as u64)))
}

/// Reads a whole response (JSON or SSE) and returns the `result` of the message with `id`.
pub async fn read_response(
    resp: Response<Incoming>,
    id: &Value,
    timeout: Duration,
) -> Result<Value, UpstreamError> {
    let status = resp.status();
    if status == hyper::StatusCode::NOT_FOUND {
        return Err(UpstreamError::SessionExpired);
    }
    if !status.is_success() {
        return Err(UpstreamError::Status(status.as_u16()));
    }
    let sse = is_sse(resp.headers());
    let body = within(timeout, async {
        http_body_util::Limited::new(resp.into_body(), MAX_CONTROL_BODY)
            .collect()
            .await
            .map(|c| c.to_bytes())
            .map_err(|e| UpstreamError::Protocol(format!("reading the body: {e}")))
    })
    .await?;
    let messages: Vec<Value> = if sse {
        crate::jsonrpc::sse::data_of(&body)
            .into_iter()
            .filter_map(|d| serde_json::from_slice(&d).ok())
            .collect()
    } else {
        vec![serde_json::from_slice(&body).map_err(|e| UpstreamError::Protocol(e.to_string()))?]
    };
    let msg = messages
        .into_iter()
        .find(|m| m.get("id") == Some(id) && m.get("method").is_none())
        .ok_or_else(|| UpstreamError::Protocol("no response to our request".into()))?;
    if let Some(err) = msg.get("error") {
        return Err(UpstreamError::Rpc {
            code: err["code"].as_i64().unwrap_or(-32603),
            message: err["message"].as_str().unwrap_or("error").to_string(),
        });
    }
    Ok(msg.get("result").cloned().unwrap_or(Value::Null))
}

pub fn is_sse(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}

/// Fetches every page of a list method (`tools/list` → `tools`, …).
pub async fn list_all(
    client: &HttpClient,
    endpoint: &Endpoint,
    session: &UpstreamSession,
    method: &str,
    field: &str,
    timeout: Duration,
) -> Result<Vec<Value>, UpstreamError> {
    every_page(method, field, |id, params| async move {
        call(client, endpoint, session, &id, method, params, timeout).await
    })
    .await
}

/// Every page of a list method, each fetched by `fetch(request id, params)`: the items
/// of `field`, following `nextCursor` (at most 1,000 pages).
pub async fn every_page<F, Fut>(
    method: &str,
    field: &str,
    mut fetch: F,
) -> Result<Vec<Value>, UpstreamError>
where
    F: FnMut(String, Value) -> Fut,
    Fut: Future<Output = Result<Value, UpstreamError>>,
{
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0..1000 {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let result = fetch(format!("metamcp-list-{page}"), params).await?;
        if let Some(items) = result[field].as_array() {
            out.extend(items.iter().cloned());
        }
        match result["nextCursor"].as_str() {
            Some(c) if !c.is_empty() => cursor = Some(c.to_string()),
            _ => return Ok(out),
        }
    }
    Err(UpstreamError::Protocol(format!(
        "{method} did not end after 1000 pages"
    )))
}
