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
//! Everything protocol-specific is behind the [`transport`] seam: the supervisor
//! (backoff, status, lists, the backend's own messages) works the same for every
//! transport.
//!
//! # Layout
//! - this file: one [`Backend`] (status, lists, breaker, bulkhead, its calls);
//! - `supervisor`: the task that connects a backend, watches it and reconnects it;
//! - `set`: [`Backends`], every backend of the process, started, changed and stopped
//!   as the registry changes;
//! - `ids`: upstream request ids; `outgoing`: which of the backend's sessions serves a
//!   call (the strategies [`Backend::request`] chooses among, once) and the call as it goes;
//! - `lists`: every list a backend offers, read whole; `skills`: its skills (SEP-2640);
//! - the transports: [`http`], [`sse`], [`stdio`], [`isolated`], behind [`transport`];
//!   [`breaker`], [`bulkhead`], [`mux`], [`groups`].

pub mod breaker;
pub mod bulkhead;
pub mod callers;
pub mod envelope;
pub mod groups;
pub mod hello;
pub mod hints;
pub mod http;
pub mod isolated;
mod lists;
pub mod mux;
pub mod notices;
pub mod skills;
pub mod sse;
pub mod stderr;
pub mod stdio;
pub mod transport;

mod ids;
mod outgoing;
mod set;
mod supervisor;
pub mod variants;

pub use ids::{MAX_UPSTREAM_TASK_ID, upstream_id};
pub use notices::{Correlations, Notice};
pub use set::Backends;

use crate::observe::trace::Propagation;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::backend::breaker::{Breaker, Circuit, Ticket, Transition};
use crate::backend::bulkhead::Bulkhead;
use crate::backend::http::{self as upstream, UpstreamError};
use crate::backend::isolated::Owner;
use crate::backend::outgoing::{Outgoing, Session};
use crate::backend::transport::{Answer, Transport};
use crate::jsonrpc::methods::Method;
use crate::model::{Protocol, Server};

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
    /// Its skills (SEP-2640) and, when some were left out, why ([`skills`]).
    pub skills: skills::Listed,
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

impl Admitted {
    /// Gives the call's bulkhead place back while it waits for its client's input (a
    /// multi-round-trip request): a client that never answers must not hold the
    /// backend's places for everyone else. The breaker ticket stays with the call.
    pub fn release_place(&mut self) {
        self._place = None;
    }
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
    /// Its `instructions` from its last `initialize`.
    instructions: std::sync::RwLock<Option<Arc<str>>>,
    /// Pokes the supervisor to check the backend now (a call failed).
    wake: Notify,
    last_error: std::sync::Mutex<Option<String>>,
    /// When it last connected (unix seconds), and how often it was started (connected)
    /// again after failing, whether that start succeeded or not: a crash loop counts.
    last_connected: AtomicU64,
    restarts: std::sync::atomic::AtomicU32,
    /// Its current connection's number, unique in the process (a backend rebuilt for a
    /// changed server counts on from every other): the routing table notes which one it
    /// routed, so a status of `running` is shown only once its lists are served.
    connection: AtomicU64,
    /// Where status changes go.
    statuses: tokio::sync::broadcast::Sender<StatusChange>,
    /// Where resource updates from this backend's own messages go.
    updates: tokio::sync::broadcast::Sender<ResourceUpdated>,
    /// Where its messages for one client that name no call go.
    notices: tokio::sync::broadcast::Sender<Notice>,
    /// Whose its tasks and URL elicitations are.
    pub correlations: Arc<Correlations>,
    /// Failures in a row open the circuit: calls then fail at once.
    breaker: Breaker,
    /// Calls in flight at once (`max_concurrency`) for transports that do not bound
    /// them themselves (stdio bounds its pipe, isolated children each their own).
    bulkhead: Option<Bulkhead>,
    /// Where circuit changes go.
    circuits: tokio::sync::broadcast::Sender<CircuitChange>,
    /// Its sessions for clients that declared fewer capabilities than its main one.
    pub variants: variants::Variants,
    /// An OAuth backend's token (the one its endpoints send).
    pub bearer: Option<Arc<http::bearer::Bearer>>,
    /// A per-caller server's callers' sessions (each with the caller's own token).
    pub callers: Option<callers::Callers>,
    /// Its last failure was its account's: not connected, or its token refused.
    needs_account: std::sync::atomic::AtomicBool,
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

    /// How often it was started again after failing (a crash loop's every attempt).
    pub fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// Its current connection's number (0 before the first). Set before the status says
    /// `running`: what reads `running` and then this reads this connection's number or
    /// a later one.
    pub fn connection(&self) -> u64 {
        self.connection.load(Ordering::Acquire)
    }

    /// Numbers its new connection, before it is marked running.
    fn number_connection(&self) {
        static CONNECTIONS: AtomicU64 = AtomicU64::new(0);
        let n = CONNECTIONS.fetch_add(1, Ordering::Relaxed) + 1;
        self.connection.store(n, Ordering::Release);
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
    ///
    /// The rare waits (a caller's session opened, a bearer token fetched, a capability
    /// set's session started) are boxed: laid out inside every call's future they made it
    /// some 8 KB larger, and futures are moved whole (a memcpy of their size) when they
    /// are boxed or awaited; measured per forwarded call with callgrind and gdb.
    ///
    /// `enveloped`: whether `body` may carry the 2026-07-28 envelope (it has
    /// `params._meta`, or the era adapter gave it one); when not, it is not searched.
    pub async fn request(
        &self,
        owner: Owner<'_>,
        id: &Bytes,
        body: Bytes,
        enveloped: bool,
        token: Option<Bytes>,
        trace: Option<&Propagation>,
    ) -> Result<Answer, UpstreamError> {
        let modern = self.transport.is_modern();
        let headers = (modern && enveloped && crate::jsonrpc::frame::has_envelope(&body))
            .then(|| self.modern_headers(&body));
        // A session-era server sees a session-era request, whoever sent it.
        let body = match modern || !enveloped {
            true => body,
            false => crate::jsonrpc::frame::without_envelope(body),
        };
        let call = Outgoing {
            owner,
            id,
            body,
            token,
            headers,
            trace,
        };
        match self.session_for(owner.caps) {
            Session::Main => self.on_main(call).await,
            Session::Capabilities => self.on_capabilities(call).await,
            Session::Caller(callers) => Box::pin(self.on_caller(callers, call)).await,
            Session::Bearer => Box::pin(self.with_bearer(call)).await,
        }
    }

    /// Which of the backend's sessions serves a call from a client with the
    /// capabilities `caps`: the one chooser.
    fn session_for(&self, caps: u8) -> Session<'_> {
        match (&self.callers, &self.bearer) {
            (Some(c), _) if c.has_sessions() => Session::Caller(c),
            (_, Some(_)) => Session::Bearer,
            _ if caps != crate::base::ClientCaps::ALL && self.varies() => Session::Capabilities,
            _ => Session::Main,
        }
    }

    /// A request on the session of the client's capability set, when the backend keeps
    /// one apart (when it is open already; opening one is the rare, boxed wait), else on
    /// the main one.
    async fn on_capabilities(&self, call: Outgoing<'_>) -> Result<Answer, UpstreamError> {
        let v = match self.variants.ready(call.owner.caps) {
            Some(v) => v,
            None => Box::pin(self.variant(call.owner.caps)).await,
        };
        match v {
            Some(v) => self.on_variant(v, call).await,
            None => self.on_main(call).await,
        }
    }

    /// A request on the session of the client's capability set `v`. Its child died since
    /// the last call and nothing reached it: a fresh one serves this call (the supervisor
    /// watches only the main child).
    async fn on_variant(
        &self,
        v: Arc<variants::Variant>,
        call: Outgoing<'_>,
    ) -> Result<Answer, UpstreamError> {
        let Outgoing {
            owner,
            id,
            body,
            token,
            headers,
            trace,
        } = call;
        let mut v = v;
        // Kept for a second try only where a child may have died before the call
        // reached it (a clone's first use allocates): not over HTTP.
        let again = (!matches!(v.transport, Transport::Http(_) | Transport::Sse(_)))
            .then(|| (body.clone(), token.clone()));
        let mut answer = v
            .transport
            .request(owner, id, body, token, headers.as_ref(), trace)
            .await;
        if let Some((body, token)) = again
            && answer.as_ref().is_err_and(stdio::never_reached)
        {
            Box::pin(self.variants.broken(v.caps)).await;
            if let Some(fresh) = Box::pin(self.variant(owner.caps)).await {
                v = fresh;
                answer = v
                    .transport
                    .request(owner, id, body, token, headers.as_ref(), trace)
                    .await;
            }
        }
        match answer {
            Ok(mut a) => {
                a.via = v.caps;
                Ok(a)
            }
            Err(e) => {
                if matches!(e, UpstreamError::Connect(_)) {
                    // Its child or stream is gone: the next call opens a fresh one.
                    Box::pin(self.variants.broken(v.caps)).await;
                }
                Err(e)
            }
        }
    }

    /// A request on the main session (or child).
    async fn on_main(&self, call: Outgoing<'_>) -> Result<Answer, UpstreamError> {
        let Outgoing {
            owner,
            id,
            body,
            token,
            headers,
            trace,
        } = call;
        self.transport
            .request(owner, id, body, token, headers.as_ref(), trace)
            .await
            .inspect_err(|e| {
                self.refused(e);
                if !matches!(e, UpstreamError::Status(_) | UpstreamError::Busy(_)) {
                    self.wake.notify_one();
                }
            })
    }

    /// A request on the caller's own session, with their token; their account's
    /// troubles are theirs, not the backend's.
    async fn on_caller(
        &self,
        callers: &callers::Callers,
        call: Outgoing<'_>,
    ) -> Result<Answer, UpstreamError> {
        let Outgoing {
            owner,
            id,
            body,
            token,
            headers,
            trace,
        } = call;
        let s = callers.session(owner).await?;
        let answer = s
            .transport
            .request(owner, id, body, token, headers.as_ref(), trace)
            .await;
        if matches!(answer, Err(UpstreamError::Connect(_))) {
            callers.broken(&owner).await;
        }
        answer
    }

    /// A request that needs a fresh bearer token first, then goes on the session of the
    /// client's capability set (or the main one).
    async fn with_bearer(&self, call: Outgoing<'_>) -> Result<Answer, UpstreamError> {
        if let Some(b) = &self.bearer {
            b.ensure().await?;
        }
        self.on_capabilities(call).await
    }

    /// The session that serves clients with the capabilities `caps`, when it is not
    /// the main one (opened now if need be; see [`variants`]).
    pub async fn variant(&self, caps: u8) -> Option<Arc<variants::Variant>> {
        if caps == crate::base::ClientCaps::ALL || !self.varies() {
            return None;
        }
        self.variants
            .get_or_open(caps, &self.transport, &self.lists().tools, &self.name)
            .await
    }

    /// The tools this backend lists that it does not offer clients with the
    /// capabilities `caps` (as their own session lists); empty when it offers them all.
    pub async fn hidden_tools(&self, caps: u8) -> Arc<std::collections::HashSet<String>> {
        match self.variant(caps).await {
            Some(v) => v.hidden(&self.lists().tools).await,
            None => Arc::default(),
        }
    }

    /// Follows (`on`) or stops following a 2026-07-28 backend's resource for session
    /// clients' subscriptions ([`Transport::watch`]).
    pub fn follow(&self, uri: &str, on: bool) -> Result<(), String> {
        self.transport.watch(uri, on)
    }

    /// The client capability sets its sessions declare: its main one's
    /// ([`ClientCaps::ALL`]) and those of the other sessions open now ([`variants`]).
    ///
    /// [`ClientCaps::ALL`]: crate::base::ClientCaps::ALL
    pub fn session_sets(&self) -> Vec<u8> {
        let mut sets = vec![crate::base::ClientCaps::ALL];
        sets.extend(self.variants.sets());
        sets
    }

    /// Whether it may serve clients through sessions per capability set ([`variants`]).
    pub fn varies(&self) -> bool {
        // A per-caller server's sessions are per caller, each declaring everything.
        self.callers.is_none() && self.transport.varies()
    }

    /// Whether the backend speaks 2026-07-28: every request carries its own envelope.
    pub fn is_modern(&self) -> bool {
        self.transport.is_modern()
    }

    /// Whether a client of the stateless era (`stateless`) or a session client is
    /// served by this backend in the 2026-07-28 era: a dual-era backend serves session
    /// clients in a session, so nothing is bridged for them.
    pub fn is_modern_for(&self, stateless: bool) -> bool {
        // A per-caller server's calls go through each caller's own connection, which
        // has no session of the other era.
        self.is_modern()
            && (stateless || self.callers.is_some() || !self.transport.serves_sessions())
    }

    /// Before a session client's call to a 2026-07-28 backend: the backend is asked,
    /// once, whether it takes sessions too ([`Self::is_modern_for`] then says).
    pub async fn offer_sessions(&self) {
        if self.is_modern() && self.callers.is_none() {
            self.transport.offer_sessions().await;
        }
    }

    /// A request's standard headers for a modern backend: its method, its target, and
    /// the arguments the tool takes as headers too (as the backend's lists declare them).
    fn modern_headers(&self, body: &[u8]) -> upstream::modern::Headers {
        let Ok(f) = crate::jsonrpc::frame::parse(body) else {
            return Default::default();
        };
        let name = f
            .name
            .and_then(|s| crate::jsonrpc::frame::string_value(body, s));
        let params = match (f.kind, name) {
            (Some(Method::ToolsCall), Some(name)) => self
                .lists()
                .tools
                .iter()
                .find(|t| t["name"].as_str() == Some(&*name))
                .map(crate::backend::envelope::header_params),
            _ => None,
        };
        upstream::modern::Headers::of(body, &f, params.as_deref().unwrap_or(&[]))
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
    /// best effort, on the session `via` (the [`Answer::via`] of the call it is about).
    pub async fn notify(&self, owner: &str, via: u8, body: Bytes) {
        if let Some(c) = self.callers.as_ref().filter(|c| c.has_sessions()) {
            if let Err(e) = c.notify(owner, body).await {
                tracing::debug!(backend = %self.name, error = %e, "notification not delivered");
            }
            return;
        }
        let variant = match via {
            crate::base::ClientCaps::ALL => None,
            caps => self.variants.get(caps),
        };
        let transport = variant.as_deref().map_or(&self.transport, |v| &v.transport);
        if let Err(e) = transport.notify(owner, body).await {
            tracing::debug!(backend = %self.name, error = %e, "notification not delivered");
        }
    }

    /// Takes the call's place among the backend's calls in flight (its bulkhead), once
    /// its breaker lets the call through; or says why not (a message naming the server:
    /// its circuit is open, or it is busy).
    pub async fn take_place(&self) -> Result<Admitted, String> {
        let now = std::time::Instant::now();
        let (ticket, change) = self.breaker.admit(&self.name, now)?;
        self.announce(change);
        // The call starts once it has its place (one clock reading without a bulkhead).
        let (place, at) = match &self.bulkhead {
            Some(b) => match b.enter(&self.name).await {
                Ok(p) => (Some(p), std::time::Instant::now()),
                Err(e) => {
                    self.breaker.abandoned(ticket);
                    return Err(e);
                }
            },
            None => (None, now),
        };
        Ok(Admitted {
            ticket,
            at,
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

    /// Its credentials changed (an OAuth account connected): it connects again now, and
    /// reads its token again first.
    pub fn credentials_changed(&self) {
        if let Some(b) = &self.bearer {
            b.refused();
        }
        if let Some(c) = &self.callers {
            c.accounts_changed();
        }
        self.wake.notify_one();
    }

    /// A 401 from the backend: its token is read again before the next use.
    fn refused(&self, e: &UpstreamError) {
        if let (UpstreamError::Status(401), Some(b)) = (e, &self.bearer) {
            // The token sent is retired (refreshed or asked for again before next use).
            let _ = b.challenged(401, None);
        }
    }

    /// Whether it is down for want of a connected account (an OAuth backend whose
    /// token is missing or was refused).
    pub fn needs_account(&self) -> bool {
        self.needs_account.load(Ordering::Relaxed)
    }

    fn record_error(&self, e: &UpstreamError) {
        self.needs_account.store(
            self.bearer.is_some()
                && matches!(
                    e,
                    UpstreamError::Unauthorized(_) | UpstreamError::Status(401)
                ),
            Ordering::Relaxed,
        );
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
    }

    /// Opens the session and lists everything.
    async fn connect(&self) -> Result<(), UpstreamError> {
        if let Some(b) = &self.bearer {
            b.ensure().await?;
        }
        let connected = async {
            let hello = self.transport.connect().await?;
            *self.instructions.write().unwrap_or_else(|p| p.into_inner()) =
                hello.instructions.map(Arc::from);
            self.refresh_lists(hello.capabilities).await
        };
        connected.await.inspect_err(|e| self.refused(e))
    }

    /// The backend's `instructions`, as it gave them when its session opened (bounded).
    pub fn instructions(&self) -> Option<Arc<str>> {
        self.instructions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
