//! Backends: one supervised [`Backend`] per active server in the registry, whatever its
//! protocol: Streamable HTTP, legacy HTTP+SSE, or stdio (a shared child, or a child per
//! client with `session_mode: "isolated"`).
//!
//! A supervisor task per backend opens the upstream session (initialize, then every
//! list), marks the backend `running`, then watches it: the backend's own messages (its
//! GET stream, its SSE stream or its child's stdout) bring `list_changed` notifications
//! (lists are re-fetched) and resource updates; the end of that stream, a failed call or
//! a failed ping marks the backend `failed` until a reconnect (with backoff) succeeds. A
//! backend that is down keeps its last lists, so the routing table still knows what it
//! offered. Every change of status or lists asks for a routing rebuild through one
//! channel.
//!
//! Everything protocol-specific is behind the [`transport`] seam: the supervisor here
//! (backoff, status, lists, the backend's own messages) works the same for every
//! transport.

pub mod breaker;
pub mod bulkhead;
pub mod groups;
pub mod http;
pub mod isolated;
pub mod mux;
pub mod sse;
pub mod stdio;
pub mod transport;

use crate::observe::trace::Propagation;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::backend::breaker::{Breaker, Circuit, Ticket, Transition};
use crate::backend::bulkhead::Bulkhead;
use crate::backend::http::transport::HttpTransport;
use crate::backend::http::{self as upstream, Endpoint, HttpClient, UpstreamError};
use crate::backend::isolated::{IsolatedTransport, Owner};
use crate::backend::sse::SseTransport;
use crate::backend::stdio::{Launch, StdioTransport};
use crate::backend::transport::{Answer, Transport};
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

/// A backend's status changed (for the events stream).
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub id: Uuid,
    pub name: String,
    pub status: Status,
    /// Why: the error that took it down, or what brought it up.
    pub reason: String,
}

/// A backend's circuit changed (for the events stream).
#[derive(Debug, Clone)]
pub struct CircuitChange {
    pub id: Uuid,
    pub name: String,
    pub transition: Transition,
}

/// A call let through to a backend: its breaker ticket and, for transports bounded
/// here, its place among the calls in flight (given back when this is dropped).
pub struct Admitted {
    pub ticket: Ticket,
    /// When the call was let through (a timeout is weighed against later answers).
    pub at: std::time::Instant,
    _place: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// How a call ended, as far as the backend's health goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEnd<'a> {
    /// The backend answered (a result, an `isError` result or a JSON-RPC error).
    Answered,
    /// It failed in a way that says the backend is in trouble.
    Failed(&'a str),
    /// No answer within `timeout_ms` of the call admitted at the instant given.
    TimedOut(&'a str, std::time::Instant),
    /// Nothing learned (the client went away, the gateway refused the call).
    Neutral,
}

/// One backend: its transport, its status and lists, kept by its supervisor.
pub struct Backend {
    pub id: Uuid,
    pub name: String,
    /// The name again, shared by records that outlive a call (audit rows).
    pub label: Arc<str>,
    /// The registry entry this backend was built from.
    pub server: Server,
    pub timeout: Duration,
    /// How it is reached ([`Transport`]: the only place that knows the protocol).
    transport: Transport,
    next_id: AtomicU64,
    status: AtomicU8,
    lists: std::sync::RwLock<Arc<Lists>>,
    /// Pokes the supervisor to check the backend now (a call failed).
    wake: Notify,
    last_error: std::sync::Mutex<Option<String>>,
    /// When it last connected (unix seconds), and how often it came back after failing.
    last_connected: AtomicU64,
    restarts: std::sync::atomic::AtomicU32,
    /// Where status changes go.
    statuses: tokio::sync::broadcast::Sender<StatusChange>,
    /// Where resource updates from this backend's own messages go.
    updates: tokio::sync::broadcast::Sender<ResourceUpdated>,
    /// Failures in a row open the circuit: calls then fail at once.
    breaker: Breaker,
    /// Calls in flight at once (`max_concurrency`) for transports that do not bound
    /// them themselves (stdio bounds its pipe, isolated children each their own).
    bulkhead: Option<Bulkhead>,
    /// Where circuit changes go.
    circuits: tokio::sync::broadcast::Sender<CircuitChange>,
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

    /// When it last connected (unix seconds), if ever.
    pub fn last_connected(&self) -> Option<u64> {
        Some(self.last_connected.load(Ordering::Relaxed)).filter(|t| *t > 0)
    }

    /// How often it came back after failing.
    pub fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// Sets the status; a change is logged (at `warn` when it is a failure) and
    /// announced once, with its reason.
    fn change_status(&self, s: Status, reason: &str) -> bool {
        if !self.set_status(s) {
            return false;
        }
        if s == Status::Failed {
            tracing::warn!(backend = %self.name, status = s.as_str(), %reason, "backend status");
        } else {
            tracing::info!(backend = %self.name, status = s.as_str(), %reason, "backend status");
        }
        let _ = self.statuses.send(StatusChange {
            id: self.id,
            name: self.name.clone(),
            status: s,
            reason: reason.to_string(),
        });
        true
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A fresh upstream request number, unique in this backend's sessions; on the wire
    /// it is [`upstream_id`]`(n)`. A number is kept where the id is needed again only
    /// rarely (to cancel): no copy of the id's bytes is held for every call.
    pub fn next_upstream_number(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The hot path: sends a request frame (its id already the gateway's) and returns
    /// the answer with its body still arriving. A failure to reach the backend pokes the
    /// supervisor. `owner` is the client (an isolated server runs a child for each).
    pub async fn request(
        &self,
        owner: Owner<'_>,
        id: &Bytes,
        body: Bytes,
        token: Option<Bytes>,
        trace: Option<&Propagation>,
    ) -> Result<Answer, UpstreamError> {
        self.transport
            .request(owner, id, body, token, trace)
            .await
            .inspect_err(|e| {
                if !matches!(e, UpstreamError::Status(_) | UpstreamError::Busy(_)) {
                    self.wake.notify_one();
                }
            })
    }

    /// OpenTelemetry's `network.transport` for calls to this backend.
    pub fn network_transport(&self) -> &'static str {
        match self.server.protocol {
            Protocol::Stdio => "pipe",
            _ => "tcp",
        }
    }

    /// Whether a request's progress token must be replaced by its upstream id (see
    /// [`Transport::rewrites_progress_tokens`]).
    pub fn rewrites_progress_tokens(&self) -> bool {
        self.transport.rewrites_progress_tokens()
    }

    /// How a stdio backend's last child ended on its own (`exit status N`, `signal N`).
    pub fn last_exit(&self) -> Option<String> {
        match &self.transport {
            Transport::Stdio(t) => t.last_exit(),
            Transport::Http(_) | Transport::Sse(_) | Transport::Isolated(_) => None,
        }
    }

    /// The process id of a shared stdio backend's running child.
    pub fn pid(&self) -> Option<i32> {
        match &self.transport {
            Transport::Stdio(t) => t.pid(),
            Transport::Http(_) | Transport::Sse(_) | Transport::Isolated(_) => None,
        }
    }

    /// An isolated stdio backend's clients' children: how many, and their process ids.
    pub fn instances(&self) -> Option<(usize, Vec<i32>)> {
        match &self.transport {
            Transport::Isolated(t) => Some((t.instances(), t.pids())),
            _ => None,
        }
    }

    /// A client's session ended: an isolated backend stops that client's child.
    pub async fn end_owner(&self, owner: &str) -> bool {
        match &self.transport {
            Transport::Isolated(t) => t.end(owner).await,
            _ => false,
        }
    }

    /// Sends a notification upstream (cancellation, a client's answer) from `owner`,
    /// best effort.
    pub async fn notify(&self, owner: &str, body: Bytes) {
        if let Err(e) = self.transport.notify(owner, body).await {
            tracing::debug!(backend = %self.name, error = %e, "notification not delivered");
        }
    }

    /// Lets a call through the breaker and the bulkhead, or says why not (a message
    /// naming the server: its circuit is open, or it is busy).
    pub async fn admit(&self) -> Result<Admitted, String> {
        let (ticket, change) = self.breaker.admit(&self.name, std::time::Instant::now())?;
        self.announce(change);
        let place = match &self.bulkhead {
            Some(b) => match b.enter(&self.name).await {
                Ok(p) => Some(p),
                Err(e) => {
                    self.breaker.abandoned(ticket);
                    return Err(e);
                }
            },
            None => None,
        };
        Ok(Admitted {
            ticket,
            at: std::time::Instant::now(),
            _place: place,
        })
    }

    /// Tells the breaker how an admitted call ended.
    pub fn call_ended(&self, ticket: Ticket, end: CallEnd<'_>) {
        let change = match end {
            CallEnd::Answered => self.breaker.success(ticket),
            CallEnd::Failed(why) => self.breaker.failure(ticket, why, std::time::Instant::now()),
            CallEnd::TimedOut(why, began) => {
                self.breaker
                    .timed_out(ticket, why, began, std::time::Instant::now())
            }
            CallEnd::Neutral => {
                self.breaker.abandoned(ticket);
                None
            }
        };
        self.announce(change);
    }

    fn announce(&self, change: Option<Transition>) {
        let Some(transition) = change else { return };
        if transition.circuit == Circuit::Open {
            tracing::warn!(backend = %self.name, circuit = transition.circuit.as_str(),
                reason = %transition.reason, "circuit");
        } else {
            tracing::info!(backend = %self.name, circuit = transition.circuit.as_str(),
                reason = %transition.reason, "circuit");
        }
        let _ = self.circuits.send(CircuitChange {
            id: self.id,
            name: self.name.clone(),
            transition,
        });
    }

    /// The circuit and the failed calls in a row, for the registry.
    pub fn circuit(&self) -> (Circuit, u32) {
        self.breaker.snapshot()
    }

    /// Tells the supervisor a call failed in a way that suggests the backend is gone.
    pub fn suspect(&self) {
        self.wake.notify_one();
    }

    fn record_error(&self, e: &UpstreamError) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
    }

    /// Opens the session and lists everything.
    async fn connect(&self) -> Result<(), UpstreamError> {
        let caps = self.transport.connect().await?;
        self.refresh_lists(caps).await
    }

    /// Every page of a list method (`tools/list` → `tools`, …).
    async fn list_all(&self, method: &str, field: &str) -> Result<Vec<Value>, UpstreamError> {
        upstream::every_page(method, field, |id, params| async move {
            self.transport.call(&id, method, params).await
        })
        .await
    }

    /// Re-fetches every list the backend's capabilities promise.
    async fn refresh_lists(&self, caps: Value) -> Result<(), UpstreamError> {
        let listed = self.read_lists(caps).await;
        self.transport.settle().await;
        listed
    }

    async fn read_lists(&self, caps: Value) -> Result<(), UpstreamError> {
        let has = |k: &str| caps.get(k).is_some_and(|v| !v.is_null());
        let tools = if has("tools") {
            self.list_all("tools/list", "tools").await?
        } else {
            vec![]
        };
        let prompts = if has("prompts") {
            self.list_all("prompts/list", "prompts").await?
        } else {
            vec![]
        };
        let (resources, templates) = if has("resources") {
            (
                self.list_all("resources/list", "resources").await?,
                // Templates are optional even for servers with resources.
                self.list_all("resources/templates/list", "resourceTemplates")
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
        let id = format!(
            "metamcp-ping-{}",
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        self.transport
            .call(&id, "ping", json!({}))
            .await
            .map(|_| ())
    }

    /// Watches a running backend until it looks dead. Its own messages are handled as
    /// they come (list changes refresh the lists); without a message stream, or when it
    /// ends, the backend is pinged.
    async fn watch(&self, changed: &mpsc::UnboundedSender<()>) -> UpstreamError {
        loop {
            if self.transport.is_asleep() {
                self.transport.wait_awake().await;
                continue;
            }
            let messages = match self.transport.messages().await {
                Ok(m) => m,
                Err(e) => return e,
            };
            match messages {
                Some(mut messages) => {
                    loop {
                        tokio::select! {
                            m = messages.next() => match m {
                                Some(m) => self.handle_message(m, changed).await,
                                None => break,
                            },
                            () = self.wake.notified() => {
                                if let Err(e) = self.ping().await {
                                    return e;
                                }
                            }
                            () = idle(self.transport.idle_remaining()) => {
                                if self.transport.try_sleep().await {
                                    break;
                                }
                            }
                        }
                    }
                    if self.transport.is_asleep() {
                        continue;
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

    /// One of the backend's own messages: list changes refresh the lists, resource
    /// updates go to subscribers.
    async fn handle_message(&self, data: Vec<u8>, changed: &mpsc::UnboundedSender<()>) {
        let Ok(msg) = serde_json::from_slice::<Value>(&data) else {
            return;
        };
        match msg["method"].as_str() {
            Some("notifications/tools/list_changed")
            | Some("notifications/prompts/list_changed")
            | Some("notifications/resources/list_changed") => {
                let caps = self.lists().capabilities.clone();
                match self.refresh_lists(caps).await {
                    Ok(()) => {
                        tracing::info!(backend = %self.name, "backend lists changed");
                        let _ = changed.send(());
                    }
                    Err(e) => {
                        tracing::warn!(backend = %self.name, error = %e, "list refresh failed")
                    }
                }
            }
            Some("notifications/resources/updated") => {
                if let Some(uri) = msg["params"]["uri"].as_str() {
                    let _ = self.updates.send(ResourceUpdated {
                        uri: uri.to_string(),
                        message: Bytes::from(data),
                    });
                }
            }
            _ => {
                // A request no client can take: answered, never left waiting.
                if let Some(answer) = mux::unroutable_answer(&data) {
                    tracing::info!(backend = %self.name, method = ?msg["method"].as_str(),
                        "a request of the backend's own not tied to one client's call was refused");
                    self.notify("", answer).await;
                }
            }
        }
    }
}

/// Completes after `d`; never without one.
async fn idle(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
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
                if b.last_connected().is_some() {
                    b.restarts.fetch_add(1, Ordering::Relaxed);
                }
                b.last_connected
                    .store(crate::auth::token::unix_now(), Ordering::Relaxed);
                b.change_status(Status::Running, "connected");
                // Initialized and listed: the backend answers, so calls may go to it.
                b.announce(b.breaker.reconnected());
                let _ = changed.send(());
                let e = b.watch(&changed).await;
                b.record_error(&e);
                b.change_status(Status::Failed, &e.to_string());
                let _ = changed.send(());
            }
            Err(e) => {
                b.record_error(&e);
                if b.change_status(Status::Failed, &e.to_string()) {
                    let _ = changed.send(());
                }
            }
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

impl Running {
    /// Stops the supervisor, waits until it has stopped (so it starts nothing more),
    /// then closes the transport.
    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        self.backend.transport.close().await;
    }
}

/// Every backend connection of this process.
pub struct Backends {
    client: HttpClient,
    /// stdio children's process groups, recorded in the data dir.
    groups: Arc<groups::Groups>,
    /// Resource updates from every backend.
    pub updates: tokio::sync::broadcast::Sender<ResourceUpdated>,
    /// Status changes of every backend.
    pub statuses: tokio::sync::broadcast::Sender<StatusChange>,
    /// Circuit changes of every backend.
    pub circuits: tokio::sync::broadcast::Sender<CircuitChange>,
    running: std::sync::Mutex<HashMap<Uuid, Running>>,
    /// Active servers whose configuration cannot make a transport (a header's `${VAR}`
    /// unset, a URL it cannot use): why, shown as the server's `last_error`.
    unconfigured: std::sync::Mutex<HashMap<Uuid, String>>,
    changed: mpsc::UnboundedSender<()>,
}

impl Backends {
    /// `changed` receives a unit whenever routing should be rebuilt.
    /// `data_dir` records stdio children's process groups (and leftovers of a previous
    /// gateway there are killed now).
    /// `tls` is whom `https://` servers are checked against.
    pub fn new(
        changed: mpsc::UnboundedSender<()>,
        data_dir: Option<std::path::PathBuf>,
        tls: &rustls::ClientConfig,
    ) -> Backends {
        let groups = Arc::new(groups::Groups::new(data_dir));
        groups.reap_leftovers();
        Backends {
            client: upstream::client(tls),
            groups,
            updates: tokio::sync::broadcast::channel(256).0,
            statuses: tokio::sync::broadcast::channel(256).0,
            circuits: tokio::sync::broadcast::channel(256).0,
            running: std::sync::Mutex::default(),
            unconfigured: std::sync::Mutex::default(),
            changed,
        }
    }

    /// Why an active server has no backend in this process, if its configuration is the
    /// reason.
    pub fn config_error(&self, id: &Uuid) -> Option<String> {
        self.unconfigured
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// Starts, restarts and stops connections to match the registry.
    pub fn reconcile(&self, snapshot: &Snapshot) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let wanted: HashMap<Uuid, &Server> = snapshot
            .servers
            .iter()
            .filter(|s| s.is_active)
            .map(|s| (s.id, s))
            .collect();
        self.unconfigured
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let mut changed = false;
        let gone: Vec<Uuid> = running
            .iter()
            .filter(|(id, r)| !wanted.get(id).is_some_and(|s| **s == r.backend.server))
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if let Some(r) = running.remove(&id) {
                tokio::spawn(r.stop());
                changed = true;
            }
        }
        for (id, server) in wanted {
            if running.contains_key(&id) {
                continue;
            }
            let timeout = Duration::from_millis(u64::from(server.timeout_ms));
            let transport = match self.transport_for(server, timeout) {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(backend = %server.name, error = %e, "backend cannot be configured");
                    let mut unconfigured =
                        self.unconfigured.lock().unwrap_or_else(|p| p.into_inner());
                    unconfigured.insert(id, e.to_string());
                    continue;
                }
            };
            let backend = Arc::new(Backend {
                id,
                name: server.name.clone(),
                label: Arc::from(server.name.as_str()),
                server: server.clone(),
                timeout,
                transport,
                next_id: AtomicU64::new(1),
                status: AtomicU8::new(Status::Starting as u8),
                lists: std::sync::RwLock::default(),
                wake: Notify::new(),
                last_error: std::sync::Mutex::new(None),
                last_connected: AtomicU64::new(0),
                restarts: std::sync::atomic::AtomicU32::new(0),
                statuses: self.statuses.clone(),
                updates: self.updates.clone(),
                breaker: Breaker::new(
                    server.breaker_failures,
                    Duration::from_millis(u64::from(server.breaker_cooldown_ms)),
                ),
                bulkhead: matches!(server.protocol, Protocol::Http | Protocol::Sse)
                    .then(|| Bulkhead::new(server.max_concurrency as usize)),
                circuits: self.circuits.clone(),
            });
            let task = tokio::spawn(supervise(backend.clone(), self.changed.clone()));
            running.insert(id, Running { backend, task });
            changed = true;
        }
        if changed {
            let _ = self.changed.send(());
        }
    }

    /// A client's session ended (DELETE here, or announced by another process): the
    /// isolated backends stop that client's children, in the background (a child may
    /// take its grace periods to go).
    pub fn end_owner(&self, owner: &str) {
        for b in self.all() {
            if b.instances().is_some() {
                let owner = owner.to_string();
                tokio::spawn(async move { b.end_owner(&owner).await });
            }
        }
    }

    /// The transport a server's protocol calls for.
    fn transport_for(
        &self,
        server: &Server,
        timeout: Duration,
    ) -> Result<Transport, UpstreamError> {
        let launch = || Launch {
            name: server.name.clone(),
            command: server.command.clone().unwrap_or_default(),
            args: server.args.clone(),
            env: server.env.clone(),
            cwd: server.cwd.clone(),
            max_concurrency: server.max_concurrency as usize,
            idle_stop: server
                .idle_stop_ms
                .map(|ms| Duration::from_millis(u64::from(ms))),
            max_memory: server.max_memory_mb.map(|mb| u64::from(mb) << 20),
        };
        Ok(match server.protocol {
            Protocol::Stdio if server.isolated => Transport::Isolated(IsolatedTransport::new(
                launch(),
                timeout,
                self.groups.clone(),
                server.max_instances as usize,
            )),
            Protocol::Stdio => {
                Transport::Stdio(StdioTransport::new(launch(), timeout, self.groups.clone()))
            }
            Protocol::Sse => Transport::Sse(SseTransport::new(
                Endpoint::for_server(server)?,
                self.client.clone(),
                timeout,
            )),
            Protocol::Http => Transport::Http(HttpTransport::new(
                Endpoint::for_server(server)?,
                self.client.clone(),
                timeout,
            )),
        })
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

    /// Stops every backend (shutdown): supervisors end, sessions close, children stop.
    pub async fn stop_all(&self) {
        let running: Vec<Running> = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, r)| r)
            .collect();
        let closing: Vec<_> = running
            .into_iter()
            .map(|r| tokio::spawn(r.stop()))
            .collect();
        for c in closing {
            let _ = c.await;
        }
    }
}

/// Upstream request `n`'s id, `"g<n>"`: written on the stack, then into this thread's
/// id arena and handed out as a slice of it (one allocation for some hundreds of ids,
/// not one a call).
pub fn upstream_id(n: u64) -> Bytes {
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
    let id = &buf[at - 2..];
    ID_ARENA.with(|arena| {
        let mut arena = arena.borrow_mut();
        if arena.capacity() - arena.len() < id.len() {
            // The old arena lives on only as long as ids cut from it.
            *arena = BytesMut::with_capacity(ID_ARENA_BYTES);
        }
        arena.extend_from_slice(id);
        arena.split().freeze()
    })
}

/// Size of one upstream-id arena.
const ID_ARENA_BYTES: usize = 4096;

thread_local! {
    static ID_ARENA: std::cell::RefCell<BytesMut> = std::cell::RefCell::new(BytesMut::new());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_ids_are_quoted_and_numbered() {
        assert_eq!(&upstream_id(0)[..], b"\"g0\"");
        assert_eq!(&upstream_id(42)[..], b"\"g42\"");
        assert_eq!(&upstream_id(u64::MAX)[..], b"\"g18446744073709551615\"");
        // Across many arenas, each id keeps its bytes while later ones are written.
        let ids: Vec<(u64, Bytes)> = (0..5000u64)
            .map(|i| (i * 7919, upstream_id(i * 7919)))
            .collect();
        for (n, id) in &ids {
            assert_eq!(&id[..], format!("\"g{n}\"").as_bytes());
        }
    }
}
