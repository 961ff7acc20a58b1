//! The legacy HTTP+SSE transport (protocol 2024-11-05): the gateway GETs the server's SSE
//! endpoint, learns from its first `endpoint` event where to POST (an endpoint on another
//! origin is refused), POSTs every message there, and reads every answer and message
//! from the one stream, matched to callers by id ([`Mux`]). When the stream ends, calls
//! in flight fail at once and the supervisor reconnects with backoff, initializing anew.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, StatusCode, Uri};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::backend::http::{self as upstream, Endpoint, HttpClient, UpstreamError};
use crate::backend::mux::{Mux, MuxAnswer, OwnMessages, Registration, request_frame};
use crate::jsonrpc::methods::Method as McpMethod;
use crate::jsonrpc::sse::Event;

/// Largest SSE event accepted from the stream.
const MAX_EVENT: usize = 16 << 20;

/// One legacy SSE server.
pub struct SseTransport {
    /// The SSE endpoint and the configured headers.
    sse: Endpoint,
    client: HttpClient,
    timeout: Duration,
    conn: Mutex<Option<Arc<Conn>>>,
    next_id: AtomicU64,
    /// The client capabilities its session declares ([`ClientCaps`] bits).
    ///
    /// [`ClientCaps`]: crate::base::ClientCaps
    declared: u8,
}

/// One open stream and where to POST.
struct Conn {
    post: Endpoint,
    mux: Arc<Mux>,
    own: Mutex<Option<mpsc::Receiver<Vec<u8>>>>,
    reader: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Splits the complete events off the front of `buf`.
fn events(buf: &mut Vec<u8>) -> Vec<Event> {
    let Some(end) = crate::jsonrpc::sse::last_event_end(buf) else {
        return Vec::new();
    };
    let whole: Vec<u8> = buf.drain(..end).collect();
    crate::jsonrpc::sse::events(&whole)
}

/// The POST endpoint the `endpoint` event names, resolved against the SSE URL; another
/// origin is refused.
fn resolve(base: &Uri, announced: &str) -> Result<Uri, UpstreamError> {
    let bad = |why: &str| UpstreamError::Protocol(format!("endpoint {announced:?} {why}"));
    let announced = announced.trim();
    let uri: Uri = if announced.starts_with("http://") || announced.starts_with("https://") {
        announced.parse().map_err(|_| bad("is not a URL"))?
    } else {
        let path = if announced.starts_with('/') {
            announced.to_string()
        } else {
            let dir = base.path().rsplit_once('/').map_or("", |(d, _)| d);
            format!("{dir}/{announced}")
        };
        let authority = base.authority().ok_or_else(|| bad("has no base"))?;
        format!(
            "{}://{}{}",
            base.scheme_str().unwrap_or("http"),
            authority,
            path
        )
        .parse()
        .map_err(|_| bad("is not a path"))?
    };
    let same = uri.scheme_str() == base.scheme_str()
        && uri.host().map(str::to_ascii_lowercase) == base.host().map(str::to_ascii_lowercase)
        && uri.port_u16() == base.port_u16();
    if !same {
        return Err(bad("is on another origin; refused"));
    }
    Ok(uri)
}

impl SseTransport {
    pub fn new(sse: Endpoint, client: HttpClient, timeout: Duration) -> SseTransport {
        SseTransport {
            sse,
            client,
            timeout,
            conn: Mutex::new(None),
            next_id: AtomicU64::new(1),
            declared: crate::base::ClientCaps::ALL,
        }
    }

    /// Another stream to the same server, its session declaring only the client
    /// capabilities `declared`.
    pub fn variant(&self, declared: u8) -> SseTransport {
        SseTransport {
            declared,
            ..SseTransport::new(self.sse.clone(), self.client.clone(), self.timeout)
        }
    }

    fn current(&self) -> Result<Arc<Conn>, UpstreamError> {
        self.conn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .filter(|c| !c.reader.is_finished())
            .ok_or_else(|| UpstreamError::Connect("the SSE stream is not open".into()))
    }

    /// Opens the stream, learns the POST endpoint, initializes; the capabilities.
    pub async fn connect(&self) -> Result<crate::backend::hello::Hello, UpstreamError> {
        self.close().await;
        let mut req = upstream::request(&self.sse, None, Method::GET, Bytes::new());
        req.headers_mut().insert(
            header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
        let resp = upstream::within(self.timeout, upstream::send(&self.client, req)).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(UpstreamError::Status(401));
        }
        if resp.status() != StatusCode::OK || !upstream::is_sse(resp.headers()) {
            // Most often a Streamable HTTP URL registered as `sse`: said so.
            return Err(UpstreamError::Connect(crate::backend::hints::not_a_stream(
                resp.status(),
                self.sse.uri.path(),
            )));
        }
        let mut body = resp.into_body();
        let mut buf = Vec::new();
        let announced = upstream::within(self.timeout, async {
            loop {
                if let Some(e) = events(&mut buf).into_iter().find(|e| e.name == "endpoint") {
                    return Ok(String::from_utf8_lossy(&e.data).into_owned());
                }
                match body.frame().await {
                    Some(Ok(f)) => buf.extend_from_slice(&f.into_data().unwrap_or_default()),
                    _ => {
                        return Err(UpstreamError::Protocol(
                            "the stream ended before its endpoint event".into(),
                        ));
                    }
                }
                if buf.len() > MAX_EVENT {
                    return Err(UpstreamError::Protocol("no endpoint event".into()));
                }
            }
        })
        .await?;
        let post = Endpoint {
            uri: resolve(&self.sse.uri, &announced)?,
            headers: self.sse.headers.clone(),
            bearer: self.sse.bearer.clone(),
        };
        let (mux, own) = Mux::new();
        let reader = tokio::spawn(read_stream(body, buf, mux.clone()));
        *self.conn.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(Conn {
            post,
            mux,
            own: Mutex::new(Some(own)),
            reader,
        }));
        let init = json!({
            "protocolVersion": "2024-11-05",
            "capabilities": crate::base::ClientCaps::declared(self.declared),
            "clientInfo": {"name": "metamcp", "version": env!("CARGO_PKG_VERSION")},
        });
        let result = self.call(McpMethod::Initialize.as_str(), init).await?;
        self.notify(Bytes::from_static(
            b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
        ))
        .await?;
        Ok(crate::backend::hello::Hello::from_result(&result))
    }

    async fn post(
        &self,
        conn: &Conn,
        body: Bytes,
        trace: Option<&crate::observe::trace::Propagation>,
    ) -> Result<(), UpstreamError> {
        let mut req = upstream::request(&conn.post, None, Method::POST, body);
        if let Some(t) = trace {
            t.apply(req.headers_mut());
        }
        let resp = upstream::within(self.timeout, upstream::send(&self.client, req)).await?;
        let status = resp.status();
        let _ = resp.into_body().collect().await;
        if !status.is_success() {
            return Err(UpstreamError::Status(status.as_u16()));
        }
        Ok(())
    }

    async fn start(
        &self,
        id: &Bytes,
        body: Bytes,
        token: Option<Bytes>,
        owner: u64,
        trace: Option<&crate::observe::trace::Propagation>,
    ) -> Result<Registration, UpstreamError> {
        let conn = self.current()?;
        let call = conn
            .mux
            .register(id, token, owner, crate::backend::mux::result_task(&body))?;
        self.post(&conn, body, trace).await?;
        Ok(call)
    }

    /// The hot path: POSTs the request; its answer comes on the stream.
    pub async fn request(
        &self,
        owner: u64,
        id: &Bytes,
        body: Bytes,
        token: Option<Bytes>,
        trace: Option<&crate::observe::trace::Propagation>,
    ) -> Result<(bool, MuxAnswer), UpstreamError> {
        self.start(id, body, token, owner, trace)
            .await?
            .answer(None)
            .await
    }

    /// A request the transport makes itself: its `result`.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, UpstreamError> {
        let id = format!("\"e{}\"", self.next_id.fetch_add(1, Ordering::Relaxed));
        let body = request_frame(&id, method, &params);
        let call = self.start(&Bytes::from(id), body, None, 0, None).await?;
        call.result(self.timeout).await
    }

    pub async fn notify(&self, body: Bytes) -> Result<(), UpstreamError> {
        let conn = self.current()?;
        self.post(&conn, body, None).await
    }

    pub fn messages(&self) -> Result<Option<OwnMessages>, UpstreamError> {
        let conn = self.current()?;
        let rx = conn.own.lock().unwrap_or_else(|p| p.into_inner()).take();
        Ok(rx.map(|rx| OwnMessages { rx }))
    }

    /// Closes the stream; calls in flight fail.
    pub async fn close(&self) {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(c) = conn {
            c.reader.abort();
            c.mux.fail_all("the SSE stream was closed");
        }
    }
}

/// Reads the stream's messages into the mux until it ends.
async fn read_stream(mut body: Incoming, mut buf: Vec<u8>, mux: Arc<Mux>) {
    loop {
        for e in events(&mut buf) {
            if e.name == "message" && !mux.route(Bytes::from(e.data)).await {
                tracing::debug!("a message on the SSE stream is not JSON-RPC");
            }
        }
        if buf.len() > MAX_EVENT {
            tracing::warn!("an SSE event over {MAX_EVENT} bytes; the stream is dropped");
            break;
        }
        match body.frame().await {
            Some(Ok(f)) => buf.extend_from_slice(&f.into_data().unwrap_or_default()),
            _ => break,
        }
    }
    mux.fail_all("the server's SSE stream ended");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_with_names_comments_and_crlf() {
        let mut buf =
            b"event: endpoint\ndata: /message?sessionId=1\n\n: ping\n\ndata: {\"a\":\r\ndata: 1}\r\n\r\nevent: mess"
                .to_vec();
        let got = events(&mut buf);
        assert_eq!(
            got,
            vec![
                Event {
                    name: "endpoint".into(),
                    data: b"/message?sessionId=1".to_vec()
                },
                Event {
                    name: "message".into(),
                    data: b"{\"a\":\n1}".to_vec()
                },
            ]
        );
        assert_eq!(buf, b"event: mess");
    }

    #[test]
    fn endpoints_resolve_on_the_same_origin_only() {
        let base: Uri = "http://127.0.0.1:3902/sse".parse().unwrap();
        assert_eq!(
            resolve(&base, "/message?sessionId=x").unwrap().to_string(),
            "http://127.0.0.1:3902/message?sessionId=x"
        );
        assert_eq!(
            resolve(&base, "messages/?s=1").unwrap().to_string(),
            "http://127.0.0.1:3902/messages/?s=1"
        );
        assert!(resolve(&base, "http://127.0.0.1:3902/m").is_ok());
        assert!(resolve(&base, "http://evil.test:3902/m").is_err());
        assert!(resolve(&base, "http://127.0.0.1:9999/m").is_err());
        assert!(resolve(&base, "https://127.0.0.1:3902/m").is_err());
    }
}
