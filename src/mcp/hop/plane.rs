//! The data plane of the gateway's state: what carries calls, and what calls leave
//! behind until they end (sessions, calls in flight, subscriptions); the eras' own is
//! [`crate::mcp::era::plane`].

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc};

use crate::auth::session::{EndedSessions, SessionCache};
use crate::backend::{Backends, Notice};
use crate::config::Config;
use crate::http::connections::Connections;
use crate::mcp::hop::calls::{InFlight, ServerRequests};
use crate::routing::subscriptions::Subscriptions;
use crate::routing::{ListChanged, Routing};

/// Everything a call meets on its way through, shared by every request.
pub struct Plane {
    /// One supervised connection per active backend.
    pub backends: Backends,
    /// Who serves each exposed tool, prompt and resource; swapped whole.
    pub routing: Routing,
    /// Ended client sessions, refused everywhere until they would have expired.
    pub ended_sessions: EndedSessions,
    /// Sessions already opened, so later requests skip the decryption.
    pub sessions: SessionCache,
    /// Open client connections and their bounds.
    pub connections: Connections,
    /// Forwarded requests not yet answered, for cancellation.
    pub inflight: Arc<InFlight>,
    /// Resource subscriptions by URI, for `notifications/resources/updated`.
    pub subscriptions: Arc<Subscriptions>,
    /// Backends' requests to clients awaiting the clients' answers.
    pub server_requests: Arc<ServerRequests>,
    /// Policies' confirmations being asked of session clients, bounded.
    pub confirming: Arc<crate::mcp::hop::confirm_places::Confirming>,
    /// The log levels session-era clients set (`logging/setLevel`).
    pub log_levels: Arc<crate::jsonrpc::log_level::Levels>,
    /// Per-view list changes, for clients' notification streams.
    pub list_changes: broadcast::Sender<ListChanged>,
    /// Messages for one session's stream (a task's status, a URL elicitation's end),
    /// from this replica's backends or passed on by another replica.
    pub session_messages: broadcast::Sender<Notice>,
}

impl Plane {
    /// The plane as `config` bounds it. `rebuild` asks the routing builder for a rebuild
    /// (backends ask when their lists change); `vault` holds per-caller upstream
    /// accounts.
    pub fn new(
        config: &Config,
        rebuild: mpsc::UnboundedSender<()>,
        backend_tls: &rustls::ClientConfig,
        vault: Arc<crate::vault::Vault>,
    ) -> Plane {
        Plane {
            backends: Backends::new(
                rebuild,
                Some(config.data_dir.clone()),
                backend_tls,
                config.capability_sessions,
                Some(vault),
            ),
            routing: Routing::default(),
            ended_sessions: EndedSessions::default(),
            sessions: SessionCache::default(),
            connections: Connections::new(
                config.max_connections,
                config.max_connections_per_address,
            ),
            inflight: Arc::default(),
            subscriptions: Arc::default(),
            server_requests: Arc::default(),
            confirming: Arc::default(),
            log_levels: Arc::default(),
            list_changes: broadcast::channel(64).0,
            session_messages: broadcast::channel(1024).0,
        }
    }
}
