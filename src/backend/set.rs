//! Every backend of this process: started when a server becomes active, restarted when
//! its settings change, stopped when it goes, each under its own supervisor.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::backend::breaker::Breaker;
use crate::backend::bulkhead::Bulkhead;
use crate::backend::http::bearer::Bearer;
use crate::backend::http::transport::HttpTransport;
use crate::backend::http::{self as upstream, Endpoint, UpstreamError};
use crate::backend::isolated::IsolatedTransport;
use crate::backend::sse::SseTransport;
use crate::backend::stdio::{Launch, StdioTransport};
use crate::backend::transport::Transport;
use crate::model::{Protocol, Server, Snapshot};

use super::supervisor::supervise;
use super::*;

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
        self.backend.variants.close_all().await;
        if let Some(c) = &self.backend.callers {
            c.close_all().await;
        }
        self.backend.transport.close().await;
    }
}

/// Every backend connection of this process.
pub struct Backends {
    /// Whom `https://` servers are checked against. Each HTTP or SSE backend gets a client
    /// (a connection pool) of its own, built with it: when a backend stops, its pool goes
    /// with it, and no idle connection (hyper opens one more while a request waits for a
    /// pooled one) stays open to a server the gateway no longer fronts.
    tls: rustls::ClientConfig,
    /// stdio children's process groups, recorded in the data dir.
    groups: Arc<groups::Groups>,
    /// Resource updates from every backend.
    pub updates: tokio::sync::broadcast::Sender<ResourceUpdated>,
    /// Every backend's messages for one client that name no call.
    pub notices: tokio::sync::broadcast::Sender<super::Notice>,
    /// Status changes of every backend.
    pub statuses: tokio::sync::broadcast::Sender<StatusChange>,
    /// Circuit changes of every backend.
    pub circuits: tokio::sync::broadcast::Sender<CircuitChange>,
    running: std::sync::Mutex<HashMap<Uuid, Running>>,
    /// Active servers whose configuration cannot make a transport (a header's `${VAR}`
    /// unset, a URL it cannot use): why, shown as the server's `last_error`.
    unconfigured: std::sync::Mutex<HashMap<Uuid, String>>,
    changed: mpsc::UnboundedSender<()>,
    /// Sessions per backend for client capability sets ([`variants`]).
    capability_sessions: usize,
    /// Upstream tokens, for OAuth backends.
    vault: Option<Arc<crate::vault::Vault>>,
}

impl Backends {
    /// `changed` receives a unit whenever routing should be rebuilt.
    /// `data_dir` records stdio children's process groups (and leftovers of a previous
    /// gateway there are killed now).
    /// `tls` is whom `https://` servers are checked against.
    /// `capability_sessions` bounds each backend's sessions per client capability set.
    pub fn new(
        changed: mpsc::UnboundedSender<()>,
        data_dir: Option<std::path::PathBuf>,
        tls: &rustls::ClientConfig,
        capability_sessions: usize,
        vault: Option<Arc<crate::vault::Vault>>,
    ) -> Backends {
        let groups = Arc::new(groups::Groups::new(data_dir));
        groups.reap_leftovers();
        Backends {
            tls: tls.clone(),
            groups,
            updates: tokio::sync::broadcast::channel(256).0,
            notices: tokio::sync::broadcast::channel(1024).0,
            statuses: tokio::sync::broadcast::channel(256).0,
            circuits: tokio::sync::broadcast::channel(256).0,
            running: std::sync::Mutex::default(),
            unconfigured: std::sync::Mutex::default(),
            changed,
            capability_sessions,
            vault,
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
            let correlations = Arc::new(super::Correlations::default());
            let bearer = match (&server.auth, &self.vault) {
                (crate::model::auth::ServerAuth::Static, Some(v))
                    if server.takes_caller_secret() && server.protocol != Protocol::Stdio =>
                {
                    // Lists with the secret set last; each caller's calls with theirs.
                    Some(Arc::new(Bearer::new(v.clone(), server.clone(), None)))
                }
                (crate::model::auth::ServerAuth::Static, _)
                    if !server.takes_caller_secret() || server.protocol == Protocol::Stdio =>
                {
                    None
                }
                // A per-caller server's main session lists with the account connected
                // last; every other server's uses its one account.
                (_, Some(v)) => Some(Arc::new(Bearer::new(
                    v.clone(),
                    server.clone(),
                    (!server.per_caller()).then(|| Arc::from("shared")),
                ))),
                (_, None) => {
                    let mut unconfigured =
                        self.unconfigured.lock().unwrap_or_else(|p| p.into_inner());
                    unconfigured.insert(id, "this process holds no upstream tokens".into());
                    continue;
                }
            };
            let transport = match self.transport_for(server, timeout, bearer.clone()) {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(backend = %server.name, error = %e, "backend cannot be configured");
                    let mut unconfigured =
                        self.unconfigured.lock().unwrap_or_else(|p| p.into_inner());
                    unconfigured.insert(id, e.to_string());
                    continue;
                }
            };
            let callers = match (&transport, &self.vault) {
                (Transport::Http(t), Some(v)) if server.per_caller() => {
                    Some(super::callers::Callers::new(
                        v.clone(),
                        server.clone(),
                        Some(t.for_caller(Arc::new(Bearer::new(v.clone(), server.clone(), None)))),
                        super::callers::MAX_SESSIONS,
                    ))
                }
                // A stdio server's callers' children are its isolated instances: only
                // their consent is asked here.
                (Transport::Isolated(_), Some(v)) if server.per_caller() => Some(
                    super::callers::Callers::new(v.clone(), server.clone(), None, 0),
                ),
                _ => None,
            };
            let backend =
                Arc::new(Backend {
                    id,
                    name: server.name.clone(),
                    label: Arc::from(server.name.as_str()),
                    server: server.clone(),
                    timeout,
                    transport,
                    next_id: AtomicU64::new(1),
                    status: AtomicU8::new(Status::Starting as u8),
                    lists: std::sync::RwLock::default(),
                    instructions: std::sync::RwLock::default(),
                    wake: Notify::new(),
                    last_error: std::sync::Mutex::new(None),
                    last_connected: AtomicU64::new(0),
                    restarts: std::sync::atomic::AtomicU32::new(0),
                    connection: AtomicU64::new(0),
                    statuses: self.statuses.clone(),
                    updates: self.updates.clone(),
                    notices: self.notices.clone(),
                    correlations: correlations.clone(),
                    breaker: Breaker::new(
                        server.breaker_failures,
                        Duration::from_millis(u64::from(server.breaker_cooldown_ms)),
                    ),
                    bulkhead: matches!(server.protocol, Protocol::Http | Protocol::Sse)
                        .then(|| Bulkhead::new(server.max_concurrency as usize)),
                    circuits: self.circuits.clone(),
                    variants: variants::Variants::new(self.capability_sessions, timeout)
                        .with_notices(id, self.notices.clone(), correlations.clone()),
                    bearer,
                    callers,
                    needs_account: Default::default(),
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
        bearer: Option<Arc<Bearer>>,
    ) -> Result<Transport, UpstreamError> {
        let endpoint = || {
            Endpoint::for_server(server).map(|mut e| {
                e.bearer = bearer.clone();
                e
            })
        };
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
            Protocol::Stdio if server.isolated || server.takes_caller_secret() => {
                let t = IsolatedTransport::new(
                    launch(),
                    timeout,
                    self.groups.clone(),
                    server.max_instances as usize,
                );
                match (&self.vault, server.takes_caller_secret()) {
                    (Some(v), true) => {
                        Transport::Isolated(t.with_secrets(v.clone(), server.clone()))
                    }
                    (None, true) => {
                        return Err(UpstreamError::Protocol(
                            "this process holds no callers' secrets".into(),
                        ));
                    }
                    _ => Transport::Isolated(t),
                }
            }
            Protocol::Stdio => {
                Transport::Stdio(StdioTransport::new(launch(), timeout, self.groups.clone()))
            }
            Protocol::Sse => Transport::Sse(SseTransport::new(
                endpoint()?,
                upstream::client(&self.tls),
                timeout,
            )),
            Protocol::Http => Transport::Http(HttpTransport::new(
                endpoint()?,
                upstream::client(&self.tls),
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
