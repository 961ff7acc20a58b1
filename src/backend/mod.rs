//! Backends: one supervised connection per active HTTP server in the registry.
//!
//! A supervisor task per backend opens the upstream session (initialize, then every
//! list), marks the backend `running`, then watches it: the backend's GET stream brings
//! `list_changed` notifications (lists are re-fetched), and its end, a failed call or a
//! failed ping marks the backend `failed` until a reconnect (with backoff) succeeds.
//! Every change of status or lists asks for a routing rebuild through one channel.
//!
//! Requests on the hot path read the session lock-free ([`ArcSwap`]); a `404` from the
//! backend re-initializes the session once (concurrent 404s wait for the same one) and
//! the request is sent again.

pub mod http;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{Mutex, Notify, mpsc};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::backend::http::pool::{self, Pool};
use crate::backend::http::{
    self as upstream, Endpoint, HttpClient, UpstreamError, UpstreamSession,
};
use crate::model::{Protocol, Server, Snapshot};

const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often an idle backend without a notification stream is pinged.
const PING_EVERY: Duration = Duration::from_secs(10);

/// A backend's state as the registry shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    Starting = 0,
    Running = 1,
    Failed = 2,
    Stopped = 3,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Starting => "starting",
            Status::Running => "running",
            Status::Failed => "failed",
            Status::Stopped => "stopped",
        }
    }

    fn from_u8(v: u8) -> Status {
        match v {
            1 => Status::Running,
            2 => Status::Failed,
            3 => Status::Stopped,
            _ => Status::Starting,
        }
    }
}

/// What a backend offers, as last listed.
#[derive(Debug, Default, Clone)]
pub struct Lists {
    pub tools: Vec<Value>,
    pub prompts: Vec<Value>,
    pub resources: Vec<Value>,
    pub templates: Vec<Value>,
    pub capabilities: Value,
}

/// A backend said a resource changed (`notifications/resources/updated`).
#[derive(Debug, Clone)]
pub struct ResourceUpdated {
    pub uri: String,
    /// The notification as the client receives it.
    pub message: Bytes,
}

/// One backend connection.
pub struct Backend {
    pub id: Uuid,
    pub name: String,
    /// The registry entry this connection was built from.
    pub server: Server,
    endpoint: Endpoint,
    pub timeout: Duration,
    client: HttpClient,
    /// The upstream session; read lock-free on every request.
    session: ArcSwapOption<UpstreamSession>,
    /// The session's header lines, ready to write (swapped with the session).
    session_lines: ArcSwapOption<Bytes>,
    /// Hot-path connections (plain http backends).
    pool: ArcSwapOption<Pool>,
    /// Held while (re-)initializing.
    reinit: Mutex<()>,
    next_id: AtomicU64,
    status: AtomicU8,
    lists: std::sync::RwLock<Arc<Lists>>,
    /// Pokes the supervisor to check the backend now (a call failed).
    wake: Notify,
    last_error: std::sync::Mutex<Option<String>>,
    /// Where resource updates from this backend's notification stream go.
    updates: tokio::sync::broadcast::Sender<ResourceUpdated>,
}

impl Backend {
    pub fn status(&self) -> Status {
        Status::from_u8(self.status.load(Ordering::Acquire))
    }

    fn set_status(&self, s: Status) -> bool {
        self.status.swap(s as u8, Ordering::AcqRel) != s as u8
    }

    pub fn lists(&self) -> Arc<Lists> {
        self.lists.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A fresh upstream request id, unique in this backend's sessions: `"g<n>"`.
    pub fn next_upstream_id(&self) -> Bytes {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        upstream_id(n)
    }

    /// Whether the hot path's own connections serve this backend (plain http).
    pub fn has_pool(&self) -> bool {
        self.pool.load().is_some()
    }

    fn store_session(&self, s: Arc<UpstreamSession>) {
        self.session_lines.store(Some(Arc::new(s.header_lines())));
        self.session.store(Some(s));
    }

    /// The hot path: sends a JSON-RPC message on a pooled connection and returns the
    /// response head with the body still on the socket. Re-initializes once if the
    /// backend forgot the session.
    pub async fn post(&self, body: &[u8]) -> Result<(pool::Head, pool::Exchange), UpstreamError> {
        let (Some(p), Some(session), Some(lines)) = (
            self.pool.load_full(),
            self.session.load_full(),
            self.session_lines.load_full(),
        ) else {
            return Err(UpstreamError::Connect(
                "the backend is not connected".into(),
            ));
        };
        let connect = |e: std::io::Error| {
            self.wake.notify_one();
            UpstreamError::Connect(e.to_string())
        };
        let (head, exchange) = p.post(&lines, body).await.map_err(connect)?;
        if head.status != 404 || session.id.is_none() {
            return Ok((head, exchange));
        }
        drop(exchange);
        tracing::info!(backend = %self.name, "backend forgot our session; re-initializing");
        let fresh = self.reinitialize(session.generation).await?;
        p.post(&fresh.header_lines(), body).await.map_err(connect)
    }

    /// Sends a JSON-RPC message; re-initializes once if the backend forgot the session.
    pub async fn send(&self, body: Bytes) -> Result<Response<Incoming>, UpstreamError> {
        let session = self.session.load_full();
        let Some(session) = session else {
            return Err(UpstreamError::Connect(
                "the backend is not connected".into(),
            ));
        };
        let req = upstream::request(&self.endpoint, Some(&session), Method::POST, body.clone());
        let resp = upstream::send(&self.client, req)
            .await
            .inspect_err(|_| self.wake.notify_one())?;
        if resp.status() != StatusCode::NOT_FOUND || session.id.is_none() {
            return Ok(resp);
        }
        tracing::info!(backend = %self.name, "backend forgot our session; re-initializing");
        let fresh = self.reinitialize(session.generation).await?;
        let req = upstream::request(&self.endpoint, Some(&fresh), Method::POST, body);
        upstream::send(&self.client, req).await
    }

    /// Opens a new session unless another task already replaced `stale_generation`.
    async fn reinitialize(
        &self,
        stale_generation: u64,
    ) -> Result<Arc<UpstreamSession>, UpstreamError> {
        let _guard = self.reinit.lock().await;
        if let Some(current) = self.session.load_full()
            && current.generation != stale_generation
        {
            return Ok(current);
        }
        let s = upstream::initialize(
            &self.client,
            &self.endpoint,
            stale_generation + 1,
            self.timeout,
        )
        .await
        .inspect_err(|e| self.record_error(e))?;
        let s = Arc::new(s);
        self.store_session(s.clone());
        Ok(s)
    }

    /// Sends a notification upstream (cancellation), best effort.
    pub async fn notify(&self, body: Bytes) {
        if let Some(s) = self.session.load_full()
            && let Err(e) = upstream::notify(&self.client, &self.endpoint, &s, body).await
        {
            tracing::debug!(backend = %self.name, error = %e, "notification not delivered");
        }
    }

    /// Tells the supervisor a call failed in a way that suggests the backend is gone.
    pub fn suspect(&self) {
        self.wake.notify_one();
    }

    fn record_error(&self, e: &UpstreamError) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
    }

    async fn session_now(&self) -> Result<Arc<UpstreamSession>, UpstreamError> {
        match self.session.load_full() {
            Some(s) => Ok(s),
            None => Err(UpstreamError::Connect("not connected".into())),
        }
    }

    /// Opens the session and lists everything.
    async fn connect(&self) -> Result<(), UpstreamError> {
        let generation = self.session.load_full().map_or(0, |s| s.generation);
        let s = upstream::initialize(&self.client, &self.endpoint, generation + 1, self.timeout)
            .await?;
        self.store_session(Arc::new(s));
        if self.pool.load().is_none() && self.endpoint.uri.scheme_str() == Some("http") {
            match Pool::new(&self.endpoint.uri, &self.endpoint.headers).await {
                Ok(p) => self.pool.store(Some(Arc::new(p))),
                Err(e) => return Err(UpstreamError::Connect(e.to_string())),
            }
        }
        self.refresh_lists().await
    }

    /// Re-fetches every list the backend's capabilities promise.
    async fn refresh_lists(&self) -> Result<(), UpstreamError> {
        let s = self.session_now().await?;
        let caps = s.capabilities.clone();
        let (c, e, t) = (&self.client, &self.endpoint, self.timeout);
        let has = |k: &str| caps.get(k).is_some_and(|v| !v.is_null());
        let tools = if has("tools") {
            upstream::list_all(c, e, &s, "tools/list", "tools", t).await?
        } else {
            vec![]
        };
        let prompts = if has("prompts") {
            upstream::list_all(c, e, &s, "prompts/list", "prompts", t).await?
        } else {
            vec![]
        };
        let (resources, templates) = if has("resources") {
            (
                upstream::list_all(c, e, &s, "resources/list", "resources", t).await?,
                // Templates are optional even for servers with resources.
                upstream::list_all(c, e, &s, "resources/templates/list", "resourceTemplates", t)
                    .await
                    .unwrap_or_default(),
            )
        } else {
            (vec![], vec![])
        };
        *self.lists.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Lists {
            tools,
            prompts,
            resources,
            templates,
            capabilities: caps,
        });
        Ok(())
    }

    async fn ping(&self) -> Result<(), UpstreamError> {
        let s = self.session_now().await?;
        let id = format!(
            "metamcp-ping-{}",
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        match upstream::call(
            &self.client,
            &self.endpoint,
            &s,
            &id,
            "ping",
            json!({}),
            self.timeout,
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(UpstreamError::SessionExpired) => self.reinitialize(s.generation).await.map(|_| ()),
            Err(e) => Err(e),
        }
    }

    /// Watches a running backend until it looks dead. List changes refresh the lists.
    async fn watch(&self, changed: &mpsc::UnboundedSender<()>) -> UpstreamError {
        loop {
            let Ok(s) = self.session_now().await else {
                return UpstreamError::Connect("no session".into());
            };
            let req = upstream::request(&self.endpoint, Some(&s), Method::GET, Bytes::new());
            let mut req = req;
            req.headers_mut().insert(
                hyper::header::ACCEPT,
                hyper::header::HeaderValue::from_static("text/event-stream"),
            );
            let stream = match upstream::send(&self.client, req).await {
                Ok(r) if r.status().is_success() && upstream::is_sse(r.headers()) => Some(r),
                Ok(r) if r.status() == StatusCode::NOT_FOUND => {
                    if let Err(e) = self.reinitialize(s.generation).await {
                        return e;
                    }
                    continue;
                }
                Ok(_) => None,
                Err(e) => return e,
            };
            match stream {
                Some(resp) => {
                    // Read notifications until the stream ends or a call failure pokes us.
                    let mut body = resp.into_body();
                    let mut buf: Vec<u8> = Vec::new();
                    loop {
                        tokio::select! {
                            frame = body.frame() => match frame {
                                Some(Ok(f)) => {
                                    if let Ok(data) = f.into_data() {
                                        buf.extend_from_slice(&data);
                                        self.handle_notifications(&mut buf, changed).await;
                                    }
                                }
                                _ => break,
                            },
                            () = self.wake.notified() => {
                                if let Err(e) = self.ping().await {
                                    return e;
                                }
                            }
                        }
                    }
                    // The stream ended: gone, or just closed by the backend?
                    if let Err(e) = self.ping().await {
                        return e;
                    }
                }
                None => {
                    tokio::select! {
                        _ = tokio::time::sleep(PING_EVERY) => {}
                        () = self.wake.notified() => {}
                    }
                    if let Err(e) = self.ping().await {
                        return e;
                    }
                }
            }
        }
    }

    /// Handles complete SSE events in `buf`, leaving a partial one.
    async fn handle_notifications(&self, buf: &mut Vec<u8>, changed: &mpsc::UnboundedSender<()>) {
        let Some(end) = buf.windows(2).rposition(|w| w == b"\n\n") else {
            return;
        };
        let complete: Vec<u8> = buf.drain(..end + 2).collect();
        let mut refresh = false;
        for data in upstream::sse_data(&complete) {
            let Ok(msg) = serde_json::from_slice::<Value>(&data) else {
                continue;
            };
            match msg["method"].as_str() {
                Some("notifications/tools/list_changed")
                | Some("notifications/prompts/list_changed")
                | Some("notifications/resources/list_changed") => refresh = true,
                Some("notifications/resources/updated") => {
                    if let Some(uri) = msg["params"]["uri"].as_str() {
                        let _ = self.updates.send(ResourceUpdated {
                            uri: uri.to_string(),
                            message: Bytes::from(data.clone()),
                        });
                    }
                }
                _ => {}
            }
        }
        if refresh {
            match self.refresh_lists().await {
                Ok(()) => {
                    tracing::info!(backend = %self.name, "backend lists changed");
                    let _ = changed.send(());
                }
                Err(e) => tracing::warn!(backend = %self.name, error = %e, "list refresh failed"),
            }
        }
    }
}

/// Runs one backend until aborted.
async fn supervise(b: Arc<Backend>, changed: mpsc::UnboundedSender<()>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match b.connect().await {
            Ok(()) => {
                backoff = Duration::from_millis(100);
                *b.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                b.set_status(Status::Running);
                tracing::info!(backend = %b.name, "backend running");
                let _ = changed.send(());
                let e = b.watch(&changed).await;
                b.record_error(&e);
                tracing::warn!(backend = %b.name, error = %e, "backend failed");
            }
            Err(e) => {
                b.record_error(&e);
                tracing::debug!(backend = %b.name, error = %e, "backend not reachable");
            }
        }
        if b.set_status(Status::Failed) {
            let _ = changed.send(());
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            () = b.wake.notified() => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

struct Running {
    backend: Arc<Backend>,
    task: JoinHandle<()>,
}

/// Every backend connection of this process.
pub struct Backends {
    client: HttpClient,
    /// Resource updates from every backend.
    pub updates: tokio::sync::broadcast::Sender<ResourceUpdated>,
    running: std::sync::Mutex<HashMap<Uuid, Running>>,
    changed: mpsc::UnboundedSender<()>,
}

impl Backends {
    /// `changed` receives a unit whenever routing should be rebuilt.
    pub fn new(changed: mpsc::UnboundedSender<()>) -> Backends {
        Backends {
            client: upstream::client(),
            updates: tokio::sync::broadcast::channel(256).0,
            running: std::sync::Mutex::default(),
            changed,
        }
    }

    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    /// Starts, restarts and stops connections to match the registry.
    pub fn reconcile(&self, snapshot: &Snapshot) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let wanted: HashMap<Uuid, &Server> = snapshot
            .servers
            .iter()
            .filter(|s| s.is_active && s.protocol == Protocol::Http)
            .map(|s| (s.id, s))
            .collect();
        let mut changed = false;
        running.retain(|id, r| {
            let keep = wanted.get(id).is_some_and(|s| **s == r.backend.server);
            if !keep {
                r.task.abort();
                let b = r.backend.clone();
                let client = self.client.clone();
                tokio::spawn(async move {
                    if let Some(s) = b.session.load_full() {
                        upstream::terminate(&client, &b.endpoint, &s).await;
                    }
                });
                changed = true;
            }
            keep
        });
        for (id, server) in wanted {
            if running.contains_key(&id) {
                continue;
            }
            let endpoint = match Endpoint::for_server(server) {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(backend = %server.name, error = %e, "backend cannot be configured");
                    continue;
                }
            };
            let backend = Arc::new(Backend {
                id,
                name: server.name.clone(),
                server: server.clone(),
                endpoint,
                timeout: Duration::from_millis(u64::from(server.timeout_ms)),
                client: self.client.clone(),
                session: ArcSwapOption::empty(),
                session_lines: ArcSwapOption::empty(),
                pool: ArcSwapOption::empty(),
                reinit: Mutex::new(()),
                next_id: AtomicU64::new(1),
                status: AtomicU8::new(Status::Starting as u8),
                lists: std::sync::RwLock::default(),
                wake: Notify::new(),
                last_error: std::sync::Mutex::new(None),
                updates: self.updates.clone(),
            });
            let task = tokio::spawn(supervise(backend.clone(), self.changed.clone()));
            running.insert(id, Running { backend, task });
            changed = true;
        }
        if changed {
            let _ = self.changed.send(());
        }
    }

    /// Every backend, whatever its status.
    pub fn all(&self) -> Vec<Arc<Backend>> {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|r| r.backend.clone())
            .collect()
    }

    pub fn get(&self, id: &Uuid) -> Option<Arc<Backend>> {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .map(|r| r.backend.clone())
    }

    /// Stops every connection (shutdown).
    pub fn stop_all(&self) {
        for (_, r) in self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
        {
            r.task.abort();
        }
    }
}

/// `"g<n>"`, written on the stack and copied once.
fn upstream_id(n: u64) -> Bytes {
    let mut buf = [0u8; 24];
    let mut at = buf.len() - 1;
    buf[at] = b'"';
    let mut rest = n;
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    buf[at - 2] = b'"';
    buf[at - 1] = b'g';
    Bytes::copy_from_slice(&buf[at - 2..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_ids_are_quoted_and_numbered() {
        assert_eq!(&upstream_id(0)[..], b"\"g0\"");
        assert_eq!(&upstream_id(42)[..], b"\"g42\"");
        assert_eq!(&upstream_id(u64::MAX)[..], b"\"g18446744073709551615\"");
    }
}
