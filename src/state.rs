//! The gateway's state, the composition root: the planes a request reaches
//! ([`crate::mcp::planes::Planes`]: what all planes share, the data plane, the era
//! layer's, code mode's runs, the observe plane) and the control plane ([`Control`]: the
//! registry, readiness, and how a registry change becomes a routing build, which this
//! file runs). The server, the control API (`control/`) and start-up (`app/`) take it;
//! the data plane's rooms below take only their planes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use serde_json::json;
use tokio::sync::{broadcast, mpsc};

use crate::observe::events::Audience;
use crate::store::db::DbError;

use crate::auth::Authenticator;
use crate::backend::Status;
use crate::config::Config;
use crate::crypto::Cipher;
use crate::mcp::planes::Planes;
use crate::model::{Server, Snapshot};
use crate::store::db::Database;
use crate::store::registry::Registry;

/// The gateway's state behind an `Arc`: the planes a request reaches
/// ([`Planes`], which the data plane's rooms take) and the control plane (the registry
/// and how its changes reach routing), which the control API, start-up and the server
/// reach from above. It reads as its planes (`state.data`, `state.config`, …).
pub struct State {
    pub planes: Arc<Planes>,
    /// The registry, readiness and routing builds.
    pub control: Control,
}

impl std::ops::Deref for State {
    type Target = Planes;
    fn deref(&self) -> &Planes {
        &self.planes
    }
}

/// The control plane: the registry as stored and as last loaded, and how a change
/// becomes a routing build; readiness and the drain.
pub struct Control {
    /// Servers and namespaces in the database.
    pub registry: Registry,
    /// The registry as last loaded, swapped whole on every change.
    snapshot: RwLock<Arc<Snapshot>>,
    /// Set once the first registry load succeeded (`/ready` waits for it).
    registry_loaded: AtomicBool,
    /// Set on SIGTERM: `/ready` says 503 so balancers stop sending, and HTTP/1.1 answers
    /// close their connections.
    draining: AtomicBool,
    /// The tools the gateway serves itself ([`crate::routing::gateway`]) and the
    /// policies of every view ([`crate::policy`]).
    own: RwLock<crate::routing::Gateway>,
    /// Asks the routing builder for a rebuild.
    rebuild: mpsc::UnboundedSender<()>,
    /// Serialises routing builds.
    rebuild_lock: std::sync::Mutex<()>,
    /// Serialises registry reloads, so an older read never replaces a newer one.
    pub reload_lock: tokio::sync::Mutex<()>,
    /// The OpenAPI document, rendered once.
    pub openapi: Bytes,
    /// Set while the searchers of views in search mode are being built.
    warming: Arc<AtomicBool>,
    /// Tool definitions pinned, and what is held for review ([`crate::pins`]).
    pub pins: Arc<crate::pins::Book>,
    /// Policy simulations running: one at a time, whoever asks (each may decide every
    /// key's every call twice; `POST /api/v1/policies/simulate`).
    pub simulating: tokio::sync::Semaphore,
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
        let observe = crate::observe::Observe::new(&config);
        let vault = Arc::new(
            crate::vault::Vault::new(
                db.pool.clone(),
                cipher.clone(),
                Arc::new(backend_tls.clone()),
                config.public_url.clone(),
            )
            .with_audit(observe.audit.clone()),
        );
        let data =
            crate::mcp::hop::Plane::new(&config, rebuild.clone(), backend_tls, vault.clone());
        let pins = Arc::new(crate::pins::Book::default());
        let control = Control {
            registry,
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            registry_loaded: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            own: RwLock::new(crate::routing::Gateway {
                search: config.tool_search,
                code_mode: config.code.mode,
                embeddings: config.tool_search_semantic.then(Arc::default),
                learning: config.search_learning.then(Arc::default),
                pins: Some(pins.clone()),
                guards: Some(Arc::new(crate::guard::Hooks::new(backend_tls))),
                ..Default::default()
            }),
            rebuild,
            rebuild_lock: std::sync::Mutex::new(()),
            reload_lock: tokio::sync::Mutex::new(()),
            openapi: Bytes::from(crate::http::openapi::document().to_string()),
            warming: Arc::default(),
            pins,
            simulating: tokio::sync::Semaphore::new(1),
        };
        let era = crate::mcp::era::plane::EraPlane::new(&config, &cipher);
        let code_runs = crate::codemode::RunLimiter::bounded(&config.code.bounds);
        State {
            planes: Arc::new(Planes {
                config,
                db,
                auth,
                oauth,
                cipher,
                vault,
                era,
                code_runs,
                data,
                observe,
            }),
            control,
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.control
            .snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Installs a new registry snapshot; returns the one it replaced.
    pub fn set_snapshot(&self, fresh: Snapshot) -> Arc<Snapshot> {
        let old = std::mem::replace(
            &mut *self
                .control
                .snapshot
                .write()
                .unwrap_or_else(|p| p.into_inner()),
            Arc::new(fresh),
        );
        self.control.registry_loaded.store(true, Ordering::Release);
        old
    }

    /// Serves `tool` from now on (the routing table is rebuilt): `app` registers the
    /// gateway's tools at start-up; tests add their own.
    pub fn serve(&self, tool: Arc<dyn crate::routing::GatewayTool>) {
        self.control
            .own
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .tools
            .push(tool);
        self.request_rebuild();
    }

    /// Passes every call of every view through `policy` from now on (the routing table
    /// is rebuilt), besides the namespaces' own policies.
    pub fn police(&self, policy: Arc<dyn crate::policy::Policy>) {
        self.control
            .own
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .policies
            .push(policy);
        self.request_rebuild();
    }

    /// Installs the stored policies by identity (applied from the next routing build).
    pub fn set_rules(&self, rules: crate::policy::rules::RuleSet) {
        self.control
            .own
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .rules = (!rules.is_empty()).then(|| Arc::new(rules));
    }

    /// Tool search's learning from the calls after searches, when on.
    pub fn learning(&self) -> Option<Arc<crate::search::learning::Learning>> {
        self.control
            .own
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .learning
            .clone()
    }

    /// Tool search's embeddings, when its retrieval is hybrid.
    pub fn embeddings(&self) -> Option<Arc<crate::search::semantic::Store>> {
        self.control
            .own
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .embeddings
            .clone()
    }

    /// Asks for the routing table to be rebuilt (coalesced).
    pub fn request_rebuild(&self) {
        let _ = self.control.rebuild.send(());
    }

    /// Rebuilds the routing table now, in this task: builds it whole, swaps it in, and
    /// announces list changes per view and configuration problems that are new. Builds
    /// are serialised so an older snapshot never replaces a newer one.
    pub fn rebuild_routing(&self) {
        let _serial = self
            .control
            .rebuild_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let own = self
            .control
            .own
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let table = crate::routing::build(
            &self.snapshot(),
            &self.data.backends.all(),
            &own,
            &self.data.routing.load(),
        );
        let old = self.data.routing.store(table);
        let new = self.data.routing.load();
        for (namespace, p) in crate::routing::new_problems(&old, &new) {
            tracing::warn!(
                namespace = namespace.unwrap_or("(all servers)"),
                "{}",
                p.message
            );
            self.observe.events.publish(
                "config.problem",
                crate::observe::events::fields(
                    json!({"namespace": namespace, "servers": p.servers, "message": p.message}),
                ),
                Audience::Namespaces(namespace.map(str::to_string).into_iter().collect()),
            );
        }
        for change in crate::routing::list_changes(&old, &new) {
            let _ = self.data.list_changes.send(change);
        }
        announce_routed(self, &old, &new);
        // Views in search mode are searched first thing: their searchers are built now,
        // off the runtime's threads, so their tools' embeddings are asked for at once.
        // One such build at a time: under a flood of list changes the views skipped are
        // built by their first search instead.
        let searched: Vec<_> = new.views.values().filter(|v| v.search).cloned().collect();
        if let Ok(runtime) = tokio::runtime::Handle::try_current()
            && !searched.is_empty()
            && !self.control.warming.swap(true, Ordering::AcqRel)
        {
            let warming = self.control.warming.clone();
            runtime.spawn_blocking(move || {
                for view in searched {
                    view.searcher();
                }
                warming.store(false, Ordering::Release);
            });
        }
    }

    /// Reloads the registry snapshot, reconciles backends and rebuilds routing now; the
    /// differences from the previous snapshot become events.
    pub async fn reload_registry(&self) -> Result<(), DbError> {
        let _serial = self.control.reload_lock.lock().await;
        let fresh = self.control.registry.snapshot().await?;
        self.set_rules(crate::store::policies::load(&self.db.pool).await?);
        let old = self.set_snapshot(fresh);
        let new = self.snapshot();
        self.data.backends.reconcile(&new);
        self.pin_definitions().await;
        self.rebuild_routing();
        publish_differences(self, &old, &new);
        Ok(())
    }

    /// Pins what is new of the backends' tools and prompts and holds what changed
    /// ([`crate::pins::reconcile`]); reloads the pins first if this process has none.
    pub async fn pin_definitions(&self) {
        let backends = self.data.backends.all();
        let snapshot = self.snapshot();
        let wrote = crate::pins::reconcile::run(crate::pins::reconcile::Pass {
            book: &self.control.pins,
            pool: &self.db.pool,
            snapshot: &snapshot,
            backends: &backends,
            observe: &self.observe,
        })
        .await;
        if wrote {
            self.request_rebuild();
        }
    }

    /// Loads the pins and what is held from the database.
    pub async fn reload_pins(&self) -> Result<(), DbError> {
        crate::pins::reconcile::reload(&self.db.pool, &self.control.pins).await
    }

    /// Begins the drain (shutdown): the process stops saying it is ready.
    pub fn begin_drain(&self) {
        self.control.draining.store(true, Ordering::Release);
    }

    pub fn is_draining(&self) -> bool {
        self.control.draining.load(Ordering::Acquire)
    }

    pub fn is_ready(&self) -> bool {
        self.control.registry_loaded.load(Ordering::Acquire) && self.auth.is_loaded()
    }

    /// The status reported for a server: `stopped` when inactive; otherwise what its
    /// backend connection reports (`starting` until it first connects).
    pub fn server_status(&self, server: &Server) -> &'static str {
        if !server.is_active {
            return Status::Stopped.as_str();
        }
        match self.data.backends.get(&server.id) {
            Some(b) if b.server == *server => self.shown_status(&b).as_str(),
            Some(_) => Status::Starting.as_str(),
            None if self.data.backends.config_error(&server.id).is_some() => {
                Status::Failed.as_str()
            }
            // Transports this process does not connect to.
            None => Status::Starting.as_str(),
        }
    }

    /// A backend's status as users see it: `running` once the routing table in use
    /// serves its lists (a client that saw `running` finds its tools), `starting` while
    /// it is connected but not yet routed.
    fn shown_status(&self, b: &crate::backend::Backend) -> Status {
        match b.status() {
            Status::Running if !self.data.routing.load().routes(b) => Status::Starting,
            s => s,
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
    state.observe.events.publish(
        kind,
        crate::observe::events::fields(fields),
        Audience::Namespaces(audience),
    );
}

/// Announces backends' status changes on the events stream (`server.status`, with the
/// reason) to those who may see the server.
pub async fn status_events(state: std::sync::Weak<State>) {
    let Some(rx) = state
        .upgrade()
        .map(|s| s.data.backends.statuses.subscribe())
    else {
        return;
    };
    relay(state, rx, |state, change| {
        // `running` is told once the routing table serves the connection
        // ([`announce_routed`]): a client that reads it may call the server's tools.
        if change.status != Status::Running {
            record_status(state, change.id);
            announce_status(
                state,
                change.id,
                &change.name,
                change.status,
                &change.reason,
            );
        }
    })
    .await;
}

/// Announces and records `running` for the backends `new` serves and `old` did not.
fn announce_routed(state: &State, old: &crate::routing::Table, new: &crate::routing::Table) {
    for id in new.newly_routed(old) {
        let Some(b) = state.data.backends.get(&id).filter(|b| new.routes(b)) else {
            continue;
        };
        record_status(state, id);
        announce_status(state, id, &b.name, Status::Running, "connected");
    }
}

fn announce_status(state: &State, id: uuid::Uuid, name: &str, status: Status, reason: &str) {
    announce(
        state,
        "server.status",
        name,
        json!({"id": id, "name": name, "status": status.as_str(), "reason": reason}),
    );
}

/// What this replica serves of `server` now: its status, last error, restarts and
/// tools, as REST's server object gives them (`control::servers`) and as keyadm reads
/// them from `server_status`, one function for both.
pub fn seen(state: &State, server: &Server) -> crate::store::server_status::Seen {
    let backend = state
        .data
        .backends
        .get(&server.id)
        .filter(|b| b.server == *server);
    crate::store::server_status::Seen {
        status: state.server_status(server).to_string(),
        last_error: backend
            .as_ref()
            .and_then(|b| b.last_error())
            .or_else(|| state.data.backends.config_error(&server.id)),
        restarts: backend
            .as_ref()
            .map_or(0, |b| i32::try_from(b.restarts()).unwrap_or(i32::MAX)),
        tools: backend.as_ref().map_or(0, |b| {
            i32::try_from(b.lists().tools.len()).unwrap_or(i32::MAX)
        }),
        replica: state.era.parked.replica.clone(),
        at: 0.0,
    }
}

/// How often what this replica serves is compared with what it last wrote.
pub const STATUS_SYNC: std::time::Duration = std::time::Duration::from_secs(2);

/// Keeps `server_status` what this replica serves: every [`STATUS_SYNC`], each server
/// whose status, tools, restarts or last error differ from what this task last wrote is
/// written again. A status change is written at once ([`record_status`]); this catches
/// what changes without one (a list that grows, restarts counted while the status
/// stays, a server upgraded in place that was routed all along), so keyadm and REST
/// agree within seconds.
pub async fn status_sync(state: std::sync::Weak<State>) {
    let mut written: std::collections::HashMap<uuid::Uuid, crate::store::server_status::Seen> =
        std::collections::HashMap::new();
    loop {
        tokio::time::sleep(STATUS_SYNC).await;
        let Some(state) = state.upgrade() else { return };
        // A stopping replica's rows are forgotten as it stops: none written again.
        if state.is_draining() {
            return;
        }
        let snapshot = state.snapshot();
        for server in &snapshot.servers {
            let seen = seen(&state, server);
            if written.get(&server.id) == Some(&seen) {
                continue;
            }
            let id = server.id;
            match crate::store::server_status::record(&state.db.pool, id, &seen.replica, &seen)
                .await
            {
                Ok(()) => {
                    written.insert(id, seen);
                }
                Err(e) => tracing::debug!(error = %e, "could not record a server's status"),
            }
        }
        written.retain(|id, _| snapshot.servers.iter().any(|s| s.id == *id));
    }
}

/// Writes what this replica sees of the server `id` now to PostgreSQL, in the
/// background, for `keyadm servers list|show` (`store::server_status`).
fn record_status(state: &State, id: uuid::Uuid) {
    let snapshot = state.snapshot();
    let Some(server) = snapshot.servers.iter().find(|s| s.id == id) else {
        return;
    };
    let seen = seen(state, server);
    let pool = state.db.pool.clone();
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        if let Err(e) = crate::store::server_status::record(&pool, id, &seen.replica, &seen).await {
            tracing::debug!(error = %e, "could not record a server's status");
        }
    });
}

/// Announces backends' circuit changes on the events stream (`server.circuit`, with the
/// reason) to those who may see the server, and counts them.
pub async fn circuit_events(state: std::sync::Weak<State>) {
    let Some(rx) = state
        .upgrade()
        .map(|s| s.data.backends.circuits.subscribe())
    else {
        return;
    };
    relay(state, rx, |state, change| {
        let t = &change.transition;
        state
            .observe
            .metrics
            .circuit(&change.name, t.circuit.as_str());
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

/// Rebuilds the routing table whenever asked (requests arriving together are coalesced),
/// on the blocking pool: a build reads every member's lists, and a server listing
/// megabytes of tools must not hold up the requests a runtime thread is serving.
pub async fn rebuild_loop(state: std::sync::Weak<State>, mut rx: mpsc::UnboundedReceiver<()>) {
    while rx.recv().await.is_some() {
        while rx.try_recv().is_ok() {}
        let Some(state) = state.upgrade() else { return };
        // The build comes first once the pins are loaded: it holds what differs from its
        // pin and what screening flags, and serves a first sight's clean tools, so a
        // backend's lists are routed without waiting for the pins to be written. The pass
        // that follows pins and holds, and asks for another build if it wrote anything.
        // Until the pins are loaded, the pass (which loads them) goes first.
        let loaded = state.control.pins.loaded();
        if !loaded {
            state.pin_definitions().await;
        }
        let built = state.clone();
        if tokio::task::spawn_blocking(move || built.rebuild_routing())
            .await
            .is_err()
        {
            tracing::error!("a routing table rebuild failed; the previous table stays in use");
        }
        if loaded {
            // On a task of its own (passes are serialised by the book): a pass writing one
            // server's pins must not hold up the build another server's lists asked for.
            tokio::spawn(async move { state.pin_definitions().await });
        }
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
        state.observe.events.publish(
            kind,
            crate::observe::events::fields(json!({"id": s.id, "name": s.name})),
            Audience::Namespaces(audience),
        );
    }
    for o in &old.servers {
        if new.server_by_id(&o.id).is_none() {
            state.observe.events.publish(
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
        state.observe.events.publish(
            kind,
            crate::observe::events::fields(json!({"name": n.name})),
            Audience::Namespaces(vec![n.name.clone()]),
        );
    }
    for o in &old.namespaces {
        if !new.namespaces.iter().any(|n| n.name == o.name) {
            state.observe.events.publish(
                "namespace.deleted",
                crate::observe::events::fields(json!({"name": o.name})),
                Audience::Namespaces(vec![o.name.clone()]),
            );
        }
    }
}
