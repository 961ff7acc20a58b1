//! A per-caller server's sessions (`auth: {"type": "oauth", "principal": "caller"}`, or
//! `{{caller.secret}}` in its headers):
//! each caller's calls go through a session of their own, opened with their own token,
//! so the backend sees (and answers for) that caller's account only. The backend's main
//! session only lists: it uses the account connected last ([`Vault::lister`]).
//!
//! - A caller without a connected account gets [`UpstreamError::NeedsAccount`] before
//!   anything reaches the backend (the proxy then asks them to connect it).
//! - A caller's session is opened on their first call (one at a time per caller, however
//!   many calls race), reused while their token holds, and dropped when the account is
//!   revoked or refused.
//! - Bounded: at most `max` sessions per server. When all are taken, the least recently
//!   used one idle for [`EVICTABLE`] makes way; otherwise the call is refused at once,
//!   naming the server. Sessions idle for [`IDLE`] are closed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::backend::http::bearer::Bearer;
use crate::backend::http::transport::HttpTransport;
use crate::backend::isolated::Owner;
use crate::backend::transport::Transport;
use crate::base::UpstreamError;
use crate::model::Server;
use crate::vault::Vault;

/// A caller's session unused for this long is closed.
pub const IDLE: Duration = Duration::from_secs(600);
/// A session unused for this long may make way for another caller's when all are taken.
const EVICTABLE: Duration = Duration::from_secs(60);
/// Sessions per server at most (one per caller).
pub const MAX_SESSIONS: usize = 1024;
/// Callers of one server waiting for their consent at once, each and in all.
const WAITING_PER_CALLER: usize = 4;
const WAITING: usize = 256;
/// A consent URL is handed again to its caller for this long (so a client that calls
/// again before the user has consented shows the same page, and costs no discovery).
const URL_REUSE: Duration = Duration::from_secs(60);

/// How a wait for a caller's consent ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    Connected,
    TimedOut,
    /// Too many of this caller's (or this server's) calls wait already.
    TooMany,
}

/// Conversations remembered per session (to route a client's answers and
/// cancellations to the session its call went through).
const OWNERS_PER_SESSION: usize = 64;

/// One caller's session.
pub struct CallerSession {
    pub transport: Transport,
    bearer: Arc<Bearer>,
    /// When it was last used, in milliseconds since [`Callers::epoch`].
    last_used: AtomicU64,
}

/// A per-caller server's sessions, by principal (`key:<id>`).
pub struct Callers {
    vault: Arc<Vault>,
    server: Server,
    /// The main session's transport: each caller's is made like it (`None`: a stdio
    /// server, whose callers' children are its isolated instances; only consent is
    /// asked here).
    template: Option<HttpTransport>,
    max: usize,
    open: Mutex<HashMap<Arc<str>, Arc<CallerSession>>>,
    /// Which principal each conversation that called is.
    owners: Mutex<HashMap<Arc<str>, Arc<str>>>,
    /// Held while a caller's session opens (one per caller at a time).
    opening: Mutex<HashMap<Arc<str>, Arc<tokio::sync::Mutex<()>>>>,
    /// Woken when an account is connected (a caller waiting for their consent).
    connected: tokio::sync::Notify,
    /// Calls waiting for their caller's consent, by caller.
    waiting: Mutex<HashMap<Arc<str>, usize>>,
    /// Consent URLs handed out lately, by caller.
    recent: Mutex<HashMap<Arc<str>, (Instant, String)>>,
    epoch: Instant,
}

impl Callers {
    pub fn new(
        vault: Arc<Vault>,
        server: Server,
        template: Option<HttpTransport>,
        max: usize,
    ) -> Callers {
        Callers {
            vault,
            server,
            template,
            max: max.max(1),
            open: Mutex::default(),
            owners: Mutex::default(),
            opening: Mutex::default(),
            connected: tokio::sync::Notify::new(),
            waiting: Mutex::default(),
            recent: Mutex::default(),
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Arc<CallerSession>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether callers' calls go through sessions of their own here (Streamable HTTP).
    pub fn has_sessions(&self) -> bool {
        self.template.is_some()
    }

    /// How many are open now.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// The principal a call by `owner` uses (an error for an anonymous caller).
    pub fn principal(&self, owner: &Owner<'_>) -> Result<Arc<str>, UpstreamError> {
        crate::vault::principal_of(&self.server, owner.account_key().as_ref())
            .map(Arc::from)
            .map_err(|e| UpstreamError::Unauthorized(e.to_string()))
    }

    /// The session of the caller `owner`, opened if need be with their token.
    pub async fn session(&self, owner: Owner<'_>) -> Result<Arc<CallerSession>, UpstreamError> {
        let principal = self.principal(&owner)?;
        self.remember(owner.key, &principal);
        let existing = self.lock().get(&principal).cloned();
        if let Some(s) = existing {
            return match s.bearer.ensure_for(owner.inbound).await {
                Ok(()) => {
                    s.last_used.store(self.now_ms(), Ordering::Relaxed);
                    Ok(s)
                }
                Err(e) => {
                    // Revoked or refused: the session goes with the account.
                    self.remove(&principal).await;
                    Err(e)
                }
            };
        }
        let turn = self
            .opening
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(principal.clone())
            .or_default()
            .clone();
        let opened = async {
            let _turn = turn.lock().await;
            if let Some(s) = self.lock().get(&principal).cloned() {
                s.last_used.store(self.now_ms(), Ordering::Relaxed);
                return Ok(s);
            }
            let bearer = Arc::new(Bearer::new(
                self.vault.clone(),
                self.server.clone(),
                Some(principal.clone()),
            ));
            // No account, no request: the caller is asked to connect first.
            bearer.ensure_for(owner.inbound).await?;
            if self.count() >= self.max && !self.evict_one().await {
                return Err(UpstreamError::Busy(format!(
                    "server `{}` has a session open for each of {} callers, all in use; \
                     try again shortly",
                    self.server.name, self.max
                )));
            }
            let Some(template) = &self.template else {
                return Err(UpstreamError::Protocol(
                    "no sessions per caller here".into(),
                ));
            };
            let transport = Transport::Http(template.for_caller(bearer.clone()));
            if let Err(e) = transport.connect().await {
                transport.close().await;
                return Err(match e {
                    UpstreamError::Status(s @ (401 | 403)) => bearer.challenged(s, None),
                    e => e,
                });
            }
            let s = Arc::new(CallerSession {
                transport,
                bearer,
                last_used: AtomicU64::new(self.now_ms()),
            });
            self.lock().insert(principal.clone(), s.clone());
            tracing::info!(backend = %self.server.name, "session opened for a caller's account");
            Ok(s)
        };
        let result = opened.await;
        drop(turn);
        // The turn goes when nobody else waits for it.
        self.opening
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, t| Arc::strong_count(t) > 1);
        result
    }

    /// Notes which principal `owner` (a conversation) is.
    fn remember(&self, owner: &str, principal: &Arc<str>) {
        let mut owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        if owners.get(owner).is_some_and(|p| p == principal) {
            return;
        }
        if owners.len() >= self.max.saturating_mul(OWNERS_PER_SESSION) {
            let open = self.lock();
            owners.retain(|_, p| open.contains_key(p));
            if owners.len() >= self.max.saturating_mul(OWNERS_PER_SESSION) {
                owners.clear();
            }
        }
        owners.insert(Arc::from(owner), principal.clone());
    }

    /// Sends a client's answer or cancellation from `owner` on its caller's session.
    pub async fn notify(&self, owner: &str, body: Bytes) -> Result<(), UpstreamError> {
        let principal = self
            .owners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(owner)
            .cloned();
        let session = principal.and_then(|p| self.lock().get(&p).cloned());
        match session {
            Some(s) => s.transport.notify(owner, body).await,
            None => Err(UpstreamError::Connect(
                "the caller's session is closed".into(),
            )),
        }
    }

    /// Takes `principal`'s session out and closes it.
    async fn remove(&self, principal: &str) {
        let gone = self.lock().remove(principal);
        if let Some(s) = gone {
            s.transport.close().await;
        }
    }

    /// A call found `owner`'s session broken: the next call opens a fresh one.
    pub async fn broken(&self, owner: &Owner<'_>) {
        if let Ok(p) = self.principal(owner) {
            self.remove(&p).await;
        }
    }

    /// Closes the least recently used session unused for [`EVICTABLE`]; `false` when
    /// none is.
    async fn evict_one(&self) -> bool {
        let now = self.now_ms();
        let oldest = self
            .lock()
            .iter()
            .filter(|(_, s)| {
                now.saturating_sub(s.last_used.load(Ordering::Relaxed))
                    >= EVICTABLE.as_millis() as u64
            })
            .min_by_key(|(_, s)| s.last_used.load(Ordering::Relaxed))
            .map(|(p, _)| p.clone());
        match oldest {
            Some(p) => {
                self.remove(&p).await;
                true
            }
            None => false,
        }
    }

    /// Closes the sessions unused for [`IDLE`].
    pub async fn sweep(&self) {
        let now = self.now_ms();
        let idle: Vec<Arc<str>> = self
            .lock()
            .iter()
            .filter(|(_, s)| {
                now.saturating_sub(s.last_used.load(Ordering::Relaxed)) >= IDLE.as_millis() as u64
            })
            .map(|(p, _)| p.clone())
            .collect();
        for p in idle {
            self.remove(&p).await;
        }
    }

    /// Closes every session (the backend stops).
    pub async fn close_all(&self) {
        let all: Vec<Arc<CallerSession>> = self.lock().drain().map(|(_, s)| s).collect();
        for s in all {
            s.transport.close().await;
        }
    }

    /// An account was connected or removed: tokens are read again, and callers
    /// waiting for their consent look again.
    pub fn accounts_changed(&self) {
        for s in self.lock().values() {
            s.bearer.refused();
        }
        self.recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.connected.notify_waiters();
    }

    /// Starts connecting `owner`'s own account: their principal, and the URL they open
    /// (the one handed out within [`URL_REUSE`], if any).
    pub async fn consent(&self, owner: &Owner<'_>) -> Result<(Arc<str>, String), String> {
        let principal = self.principal(owner).map_err(|e| e.to_string())?;
        {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            recent.retain(|_, (at, _)| at.elapsed() < URL_REUSE);
            if let Some((_, url)) = recent.get(&principal) {
                return Ok((principal, url.clone()));
            }
        }
        let by = owner.api_key.map(|k| k.as_str().to_string());
        let url = if self.server.takes_caller_secret() {
            self.vault.begin_secret(&self.server, &principal, by).await
        } else {
            match self.vault.redirect_uri(None) {
                Ok(redirect) => {
                    self.vault
                        .begin(&self.server, &principal, &redirect, by)
                        .await
                }
                Err(e) => Err(e),
            }
        }
        .map_err(|e| e.to_string())?;
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() < MAX_SESSIONS {
            recent.insert(principal.clone(), (Instant::now(), url.clone()));
        }
        Ok((principal, url))
    }

    /// Waits until `principal`'s account is connected, or `within` passes. Looks at
    /// each connection made (any replica's, by NOTIFY) and every 2 s.
    pub async fn wait_connected(&self, principal: &Arc<str>, within: Duration) -> Waited {
        {
            let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
            let all: usize = waiting.values().sum();
            let mine = waiting.entry(principal.clone()).or_default();
            if *mine >= WAITING_PER_CALLER || all >= WAITING {
                return Waited::TooMany;
            }
            *mine += 1;
        }
        struct Done<'a>(&'a Callers, &'a Arc<str>);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                let mut waiting = self.0.waiting.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(n) = waiting.get_mut(self.1) {
                    *n -= 1;
                    if *n == 0 {
                        waiting.remove(self.1);
                    }
                }
            }
        }
        let _done = Done(self, principal);
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let changed = self.connected.notified();
            if self.vault.has_account(&self.server, principal).await {
                return Waited::Connected;
            }
            if tokio::time::Instant::now() >= deadline {
                return Waited::TimedOut;
            }
            let next = (tokio::time::Instant::now() + Duration::from_secs(2)).min(deadline);
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep_until(next) => {}
            }
        }
    }
}
