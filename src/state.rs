//! What every request can reach.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use serde_json::json;
use tokio::sync::{broadcast, mpsc};

use crate::observe::events::Audience;
use crate::store::db::DbError;

use crate::auth::Authenticator;
use crate::auth::limits::Refused;
use crate::auth::session::EndedSessions;
use crate::backend::{Backends, Status};
use crate::base::KeyId;
use crate::config::Config;
use crate::crypto::Cipher;
use crate::model::{Server, Snapshot};
use crate::observe::events::EventBus;
use crate::observe::metrics::Metrics;
use crate::proxy::calls::{InFlight, ServerRequests};
use crate::routing::ListChanged;
use crate::routing::Routing;
use crate::store::db::Database;
use crate::store::registry::Registry;

/// Shared state behind an `Arc`.
pub struct State {
    /// Settings as parsed at start.
    pub config: Config,
    /// The pool every handler queries through.
    pub db: Database,
    /// Who is calling: keys and tokens, from memory.
    pub auth: Authenticator,
    /// Servers and namespaces in the database.
    pub registry: Registry,
    /// The registry as last loaded, swapped whole on every change.
    snapshot: RwLock<Arc<Snapshot>>,
    /// Set once the first registry load succeeded (`/ready` waits for it).
    registry_loaded: AtomicBool,
    /// Set on SIGTERM: `/ready` says 503 so balancers stop sending, and HTTP/1.1 answers
    /// close their connections.
    draining: AtomicBool,
    /// Lifecycle events for `/api/v1/events`.
    pub events: EventBus,
    pub metrics: Arc<Metrics>,
    /// Audit rows waiting to be written.
    pub audit: Arc<crate::observe::audit::Audit>,
    /// Span export, when an OTLP endpoint is configured.
    pub tracer: Option<Arc<crate::observe::trace::Tracer>>,
    /// OAuth access tokens on the MCP endpoints (when configured).
    pub oauth: Option<Arc<crate::auth::oauth::OAuth>>,
    /// The OpenAPI document, rendered once.
    pub openapi: Bytes,
    /// Seals client sessions (and secrets at rest).
    pub cipher: Cipher,
    /// One supervised connection per active backend.
    pub backends: Backends,
    /// Tokens the gateway holds for OAuth backends, and its OAuth client.
    pub vault: Arc<crate::vault::Vault>,
    /// Who serves each exposed tool, prompt and resource; swapped whole.
    pub routing: Routing,
    /// The tools the gateway serves itself ([`crate::routing::gateway`]) and the
    /// policies of every view ([`crate::policy`]).
    own: RwLock<crate::routing::Gateway>,
    /// Ended client sessions, refused everywhere until they would have expired.
    pub ended_sessions: EndedSessions,
    /// Sessions already opened, so later requests skip the decryption.
    pub sessions: crate::auth::session::SessionCache,
    /// Open client connections and their bounds.
    pub connections: crate::http::connections::Connections,
    /// Forwarded requests not yet answered, for cancellation.
    pub inflight: Arc<InFlight>,
    /// Resource subscriptions by URI, for `notifications/resources/updated`.
    pub subscriptions: Arc<crate::routing::subscriptions::Subscriptions>,
    /// Backends' requests to clients awaiting the clients' answers.
    pub server_requests: Arc<ServerRequests>,
    /// Stateless clients' calls waiting for their input (multi-round-trip requests).
    pub parked: Arc<crate::proxy::era::rounds::Parked>,
    /// The questions of session-era backends' tasks, held for 2026-07-28 clients.
    pub task_inputs: Arc<crate::proxy::era::task_inputs::TaskInputs>,
    /// Tasks being created per key, counted against `METAMCP_KEY_MAX_TASKS` with the
    /// recorded ones.
    pub tasks_creating: Arc<crate::proxy::task_places::Creating>,
    /// The log levels session-era clients set (`logging/setLevel`).
    pub log_levels: Arc<crate::jsonrpc::log_level::Levels>,
    /// Per-view list changes, for clients' notification streams.
    pub list_changes: broadcast::Sender<ListChanged>,
    /// Messages for one session's stream (a task's status, a URL elicitation's end),
    /// from this replica's backends or passed on by another replica.
    pub session_messages: broadcast::Sender<crate::backend::Notice>,
    /// Asks the routing builder for a rebuild.
    rebuild: mpsc::UnboundedSender<()>,
    /// Serialises routing builds.
    rebuild_lock: std::sync::Mutex<()>,
    /// Serialises registry reloads, so an older read never replaces a newer one.
    pub reload_lock: tokio::sync::Mutex<()>,
}

impl State {
    /// `rebuild` is the sender half of the routing builder's channel.
    pub fn new(
        config: Config,
        db: Database,
        auth: Authenticator,
        registry: Registry,
        cipher: Cipher,
        rebuild: mpsc::UnboundedSender<()>,
        backend_tls: &rustls::ClientConfig,
    ) -> State {
        let oauth = config
            .oauth
            .clone()
            .map(|o| Arc::new(crate::auth::oauth::OAuth::new(o)));
        let tracer = config
            .tracing
            .clone()
            .map(|t| Arc::new(crate::observe::trace::Tracer::new(t)));
        let audit = Arc::new(crate::observe::audit::Audit::new(
            config.audit,
            config.audit_queue,
        ));
        let parked = Arc::new(crate::proxy::era::rounds::Parked::new(
            crate::proxy::era::rounds::ParkBounds {
                ttl: config.parked.ttl,
                per_key: config.parked.per_key,
                total: config.parked.total,
            },
            cipher.clone(),
            config.parked.replica_url.clone(),
        ));
        let vault = Arc::new(
            crate::vault::Vault::new(
                db.pool.clone(),
                cipher.clone(),
                Arc::new(backend_tls.clone()),
                config.public_url.clone(),
            )
            .with_audit(audit.clone()),
        );
        State {
            vault: vault.clone(),
            parked,
            task_inputs: Arc::new(crate::proxy::era::task_inputs::TaskInputs::new(
                config.tasks.per_key,
                config.parked.total,
            )),
            tasks_creating: Arc::default(),
            log_levels: Arc::default(),
            cipher,
            backends: Backends::new(
                rebuild.clone(),
                Some(config.data_dir.clone()),
                backend_tls,
                config.capability_sessions,
                Some(vault),
            ),
            routing: Routing::default(),
            own: RwLock::new(crate::routing::Gateway {
                search: config.tool_search,
                ..Default::default()
            }),
            ended_sessions: EndedSessions::default(),
            sessions: crate::auth::session::SessionCache::default(),
            connections: crate::http::connections::Connections::new(
                config.max_connections,
                config.max_connections_per_address,
            ),
            inflight: Arc::default(),
            server_requests: Arc::default(),
            subscriptions: Arc::default(),
            list_changes: broadcast::channel(64).0,
            session_messages: broadcast::channel(1024).0,
            rebuild,
            rebuild_lock: std::sync::Mutex::new(()),
            reload_lock: tokio::sync::Mutex::new(()),
            config,
            db,
            auth,
            registry,
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            registry_loaded: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            events: EventBus::default(),
            metrics: Arc::default(),
            audit,
            tracer,
            oauth,
            openapi: Bytes::from(crate::http::openapi::document().to_string()),
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Installs a new registry snapshot; returns the one it replaced.
    pub fn set_snapshot(&self, fresh: Snapshot) -> Arc<Snapshot> {
        let old = std::mem::replace(
            &mut *self.snapshot.write().unwrap_or_else(|p| p.into_inner()),
            Arc::new(fresh),
        );
        self.registry_loaded.store(true, Ordering::Release);
        old
    }

    /// Serves `tool` from now on (the routing table is rebuilt): `app` registers the
    /// gateway's tools at start-up; tests add their own.
    pub fn serve(&self, tool: Arc<dyn crate::routing::GatewayTool>) {
        self.own
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .tools
            .push(tool);
        self.request_rebuild();
    }

    /// Passes every call of every view through `policy` from now on (the routing table
    /// is rebuilt), besides the namespaces' own policies.
    pub fn police(&self, policy: Arc<dyn crate::policy::Policy>) {
        self.own
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .policies
            .push(policy);
        self.request_rebuild();
    }

    /// Asks for the routing table to be rebuilt (coalesced).
    pub fn request_rebuild(&self) {
        let _ = self.rebuild.send(());
    }

    /// Rebuilds the routing table now, in this task: builds it whole, swaps it in, and
    /// announces list changes per view and configuration problems that are new. Builds
    /// are serialised so an older snapshot never replaces a newer one.
    pub fn rebuild_routing(&self) {
        let _serial = self.rebuild_lock.lock().unwrap_or_else(|p| p.into_inner());
        let own = self.own.read().unwrap_or_else(|p| p.into_inner()).clone();
        let table = crate::routing::build(
            &self.snapshot(),
            &self.backends.all(),
            &own,
            &self.routing.load(),
        );
        let old = self.routing.store(table);
        let new = self.routing.load();
        for (namespace, p) in crate::routing::new_problems(&old, &new) {
            tracing::warn!(
                namespace = namespace.unwrap_or("(all servers)"),
                "{}",
                p.message
            );
            self.events.publish(
                "config.problem",
                crate::observe::events::fields(
                    json!({"namespace": namespace, "servers": p.servers, "message": p.message}),
                ),
                Audience::Namespaces(namespace.map(str::to_string).into_iter().collect()),
            );
        }
        for change in crate::routing::list_changes(&old, &new) {
            let _ = self.list_changes.send(change);
        }
    }

    /// Reloads the registry snapshot, reconciles backends and rebuilds routing now; the
    /// differences from the previous snapshot become events.
    pub async fn reload_registry(&self) -> Result<(), DbError> {
        let _serial = self.reload_lock.lock().await;
        let fresh = self.registry.snapshot().await?;
        let old = self.set_snapshot(fresh);
        let new = self.snapshot();
        self.backends.reconcile(&new);
        self.rebuild_routing();
        publish_differences(self, &old, &new);
        Ok(())
    }

    /// A request refused by a key's limit: counted, and logged once a minute per key
    /// while the key is being limited (not once per refusal).
    pub fn over_limit(&self, key: &KeyId, refused: &Refused) {
        self.metrics.limited(key.as_str(), refused.kind.as_str());
        if self.auth.limits.should_log(key, crate::base::unix_now()) {
            tracing::warn!(key_id = %key, limit = refused.kind.as_str(), reason = %refused.message,
                "key is being limited (logged once a minute)");
        }
    }

    /// Begins the drain (shutdown): the process stops saying it is ready.
    pub fn begin_drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    pub fn is_ready(&self) -> bool {
        self.registry_loaded.load(Ordering::Acquire) && self.auth.is_loaded()
    }

    /// The status reported for a server: `stopped` when inactive; otherwise what its
    /// backend connection reports (`starting` until it first connects).
    pub fn server_status(&self, server: &Server) -> &'static str {
        if !server.is_active {
            return Status::Stopped.as_str();
        }
        match self.backends.get(&server.id) {
            Some(b) if b.server == *server => b.status().as_str(),
            Some(_) => Status::Starting.as_str(),
            None if self.backends.config_error(&server.id).is_some() => Status::Failed.as_str(),
            // Transports this process does not connect to.
            None => Status::Starting.as_str(),
        }
    }
}

/// Relays one broadcast of the backends to `handle` until the channel or the state is
/// gone (a reader that lagged skips what it missed).
async fn relay<T: Clone>(
    state: std::sync::Weak<State>,
    mut rx: broadcast::Receiver<T>,
    handle: impl Fn(&State, T),
) {
    loop {
        let item = match rx.recv().await {
            Ok(c) => c,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => return,
        };
        let Some(state) = state.upgrade() else { return };
        handle(&state, item);
    }
}

/// Announces a change of one server to those who may see it.
fn announce(state: &State, kind: &str, name: &str, fields: serde_json::Value) {
    let audience = state.snapshot().namespaces_of(name);
    state.events.publish(
        kind,
        crate::observe::events::fields(fields),
        Audience::Namespaces(audience),
    );
}

/// Announces backends' status changes on the events stream (`server.status`, with the
/// reason) to those who may see the server.
pub async fn status_events(state: std::sync::Weak<State>) {
    let Some(rx) = state.upgrade().map(|s| s.backends.statuses.subscribe()) else {
        return;
    };
    relay(state, rx, |state, change| {
        record_status(state, change.id);
        announce(
            state,
            "server.status",
            &change.name,
            json!({
                "id": change.id, "name": change.name,
                "status": change.status.as_str(), "reason": change.reason,
            }),
        );
    })
    .await;
}

/// Writes what this replica sees of the server `id` now to PostgreSQL, in the
/// background, for `keyadm servers list|show` (`store::server_status`).
fn record_status(state: &State, id: uuid::Uuid) {
    let Some(b) = state.backends.get(&id) else {
        return;
    };
    let seen = crate::store::server_status::Seen {
        status: b.status().as_str().to_string(),
        last_error: b.last_error(),
        restarts: i32::try_from(b.restarts()).unwrap_or(i32::MAX),
        tools: i32::try_from(b.lists().tools.len()).unwrap_or(i32::MAX),
        replica: state.parked.replica.clone(),
        at: 0.0,
    };
    let pool = state.db.pool.clone();
    tokio::spawn(async move {
        if let Err(e) = crate::store::server_status::record(&pool, id, &seen.replica, &seen).await {
            tracing::debug!(error = %e, "could not record a server's status");
        }
    });
}

/// Announces backends' circuit changes on the events stream (`server.circuit`, with the
/// reason) to those who may see the server, and counts them.
pub async fn circuit_events(state: std::sync::Weak<State>) {
    let Some(rx) = state.upgrade().map(|s| s.backends.circuits.subscribe()) else {
        return;
    };
    relay(state, rx, |state, change| {
        let t = &change.transition;
        state.metrics.circuit(&change.name, t.circuit.as_str());
        announce(
            state,
            "server.circuit",
            &change.name,
            json!({
                "id": change.id, "name": change.name, "circuit": t.circuit.as_str(),
                "consecutive_failures": t.consecutive_failures, "reason": t.reason,
            }),
        );
    })
    .await;
}

/// Rebuilds the routing table whenever asked (requests arriving together are coalesced).
pub async fn rebuild_loop(state: std::sync::Weak<State>, mut rx: mpsc::UnboundedReceiver<()>) {
    while rx.recv().await.is_some() {
        while rx.try_recv().is_ok() {}
        let Some(state) = state.upgrade() else { return };
        state.rebuild_routing();
    }
}

/// Events for what differs between two registry snapshots.
fn publish_differences(state: &State, old: &Snapshot, new: &Snapshot) {
    for s in &new.servers {
        let kind = match old.server_by_id(&s.id) {
            None => "server.created",
            Some(o) if o != s => "server.updated",
            Some(_) => continue,
        };
        let mut audience = new.namespaces_of(&s.name);
        audience.extend(old.namespaces_of(&s.name));
        state.events.publish(
            kind,
            crate::observe::events::fields(json!({"id": s.id, "name": s.name})),
            Audience::Namespaces(audience),
        );
    }
    for o in &old.servers {
        if new.server_by_id(&o.id).is_none() {
            state.events.publish(
                "server.deleted",
                crate::observe::events::fields(json!({"id": o.id, "name": o.name})),
                Audience::Namespaces(old.namespaces_of(&o.name)),
            );
        }
    }
    for n in &new.namespaces {
        let kind = match old.namespaces.iter().find(|o| o.name == n.name) {
            None => "namespace.created",
            Some(o) if o != n => "namespace.updated",
            Some(_) => continue,
        };
        state.events.publish(
            kind,
            crate::observe::events::fields(json!({"name": n.name})),
            Audience::Namespaces(vec![n.name.clone()]),
        );
    }
    for o in &old.namespaces {
        if !new.namespaces.iter().any(|n| n.name == o.name) {
            state.events.publish(
                "namespace.deleted",
                crate::observe::events::fields(json!({"name": o.name})),
                Audience::Namespaces(vec![o.name.clone()]),
            );
        }
    }
}
