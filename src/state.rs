//! What every request can reach.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::db::Database;
use crate::events::EventBus;
use crate::metrics::Metrics;
use crate::registry::{Registry, Server, Snapshot};

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
    /// Lifecycle events for `/api/v1/events`.
    pub events: EventBus,
    pub metrics: Metrics,
    /// The OpenAPI document, rendered once.
    pub openapi: Bytes,
}

impl State {
    pub fn new(config: Config, db: Database, auth: Authenticator, registry: Registry) -> State {
        State {
            config,
            db,
            auth,
            registry,
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            registry_loaded: AtomicBool::new(false),
            events: EventBus::default(),
            metrics: Metrics::default(),
            openapi: Bytes::from(crate::openapi::document().to_string()),
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

    pub fn is_ready(&self) -> bool {
        self.registry_loaded.load(Ordering::Acquire) && self.auth.is_loaded()
    }

    /// The status reported for a server: `stopped` when inactive; otherwise what its
    /// backend connection last reported, `starting` until it reports.
    pub fn server_status(&self, server: &Server) -> &'static str {
        if server.is_active {
            "starting"
        } else {
            "stopped"
        }
    }
}
