//! A backend's sessions per client capability set. A session-era server decides what it
//! offers from the capabilities its client declared at `initialize` (server-everything
//! lists `trigger-sampling-request` only to a client that declared sampling, and asks a
//! client for roots only if it declared them). The backend's main session declares
//! every capability the gateway can route; a client that declared less is served by a
//! session (a child, for stdio) that declares exactly what it did, shared by every
//! client with the same set. What such a session does not list is hidden from those
//! clients, and their calls, cancellations and answers go through it.
//!
//! Bounded: at most `METAMCP_CAPABILITY_SESSIONS` per backend (the sets are also few by
//! nature: five bits). A set beyond the bound, or whose session cannot be opened, is
//! served by the main session, as before: what the client cannot take is refused to the
//! backend. Sessions idle for long are closed, and all of them when the backend stops.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use serde_json::Value;

use crate::backend::http as upstream;
use crate::backend::mux;
use crate::backend::transport::Transport;
use crate::jsonrpc::methods::Method;

/// A set whose session could not be opened is not tried again for this long.
const RETRY_AFTER: Duration = Duration::from_secs(30);
/// A session unused for this long (and for twice the backend's timeout) is closed.
pub const IDLE: Duration = Duration::from_secs(600);
/// A session unused for this long may make way for another set when all are taken.
const EVICTABLE: Duration = Duration::from_secs(60);

/// One session, for clients that declared the capabilities `caps`.
pub struct Variant {
    pub caps: u8,
    pub transport: Transport,
    /// Tool names the main session lists and this one does not; `None` until listed,
    /// and again whenever the backend's lists change.
    hidden: ArcSwapOption<HashSet<String>>,
    /// Held while its tools are listed: clients asking at once wait for one listing
    /// (some servers stall on concurrent requests in one session), and how many
    /// listings were tried, so a waiter does not try again what just failed.
    listing: tokio::sync::Mutex<()>,
    listings: AtomicU64,
    /// When it was last used, in milliseconds since [`Variants::epoch`].
    last_used: AtomicU64,
    /// Answers the requests of the backend's own that arrive on it (stdio, legacy SSE).
    drain: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Its child or stream ended (the child died): the next call of its set opens a
    /// fresh one instead of failing on it.
    dead: std::sync::atomic::AtomicBool,
}

/// A backend's sessions besides its main one.
pub struct Variants {
    max: usize,
    /// Twice the backend's call timeout: a session used more recently may have a call
    /// running on it, and is never closed.
    busy: Duration,
    /// Read on every call of a client with fewer capabilities, written when a session
    /// opens or closes: a read lock is a fraction of an `ArcSwap` load's cost (the
    /// debt-list dance), and nothing is awaited while it is held.
    open: RwLock<Vec<Arc<Variant>>>,
    /// Sets whose session could not be opened, and when they may be tried again.
    failed: Mutex<Vec<(u8, Instant)>>,
    /// Sets a child (stdio) or stream (legacy SSE) was opened for and found to be
    /// offered every tool the main session lists: the main one serves them, and no
    /// process is kept for nothing.
    same: Same,
    /// Held while a session is opened or closed (one at a time per backend).
    opening: tokio::sync::Mutex<()>,
    epoch: Instant,
    /// The backend, and where its sessions' messages for one client go.
    notices: Option<(
        uuid::Uuid,
        tokio::sync::broadcast::Sender<super::Notice>,
        Arc<super::Correlations>,
    )>,
}

impl Variants {
    /// At most `max` sessions (`0`: none; every client uses the main one). `timeout` is
    /// the backend's call timeout: a session is never closed while a call could still be
    /// running on it.
    pub fn new(max: usize, timeout: Duration) -> Variants {
        Variants {
            max,
            busy: timeout.saturating_mul(2),
            open: RwLock::new(Vec::new()),
            failed: Mutex::new(Vec::new()),
            same: Same::default(),
            opening: tokio::sync::Mutex::new(()),
            epoch: Instant::now(),
            notices: None,
        }
    }

    /// The open sessions (a poisoned lock still holds a whole list: every write is one
    /// push or remove).
    fn open(&self) -> RwLockReadGuard<'_, Vec<Arc<Variant>>> {
        self.open.read().unwrap_or_else(|p| p.into_inner())
    }

    fn open_mut(&self) -> RwLockWriteGuard<'_, Vec<Arc<Variant>>> {
        self.open.write().unwrap_or_else(|p| p.into_inner())
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether the main session serves `caps` (its child or stream was found to be
    /// offered every tool). A server that offers a client declaring nothing (`0`) every
    /// tool is taken to offer every set every tool: no set needs a child of its own.
    fn is_same(&self, caps: u8) -> bool {
        self.same.has(caps) || self.same.has(0)
    }

    /// Whether every client capability set is served by the main session (the server
    /// offers a client that declared nothing every tool).
    pub fn uniform(&self) -> bool {
        self.is_same(0)
    }

    /// How many are open now.
    pub fn count(&self) -> usize {
        self.open().len()
    }

    /// The capability sets of the sessions open now.
    pub fn sets(&self) -> Vec<u8> {
        self.open().iter().map(|v| v.caps).collect()
    }

    /// The open session for `caps`, marked as used.
    pub fn get(&self, caps: u8) -> Option<Arc<Variant>> {
        let v = self
            .open()
            .iter()
            .find(|v| v.caps == caps && !v.dead.load(Ordering::Acquire))
            .cloned()?;
        v.last_used.store(self.now_ms(), Ordering::Relaxed);
        Some(v)
    }

    /// What serves clients with the capabilities `caps`, known without waiting:
    /// `Some(None)` the main session, `Some(Some(v))` an open session of their own;
    /// `None` when only [`Variants::get_or_open`] can tell (the session is to be opened).
    pub fn ready(&self, caps: u8) -> Option<Option<Arc<Variant>>> {
        if self.max == 0 || self.is_same(caps) {
            return Some(None);
        }
        self.get(caps).map(Some)
    }

    /// The session for `caps`, opened from `main` (which lists `main_tools`) if need
    /// be; `None` when the main session serves the client: the bound is reached with
    /// every session busy, the session cannot be opened, or it is a child or stream
    /// offered the same tools as the main one.
    pub async fn get_or_open(
        &self,
        caps: u8,
        main: &Transport,
        main_tools: &[Value],
        name: &str,
    ) -> Option<Arc<Variant>> {
        if self.max == 0 || self.is_same(caps) {
            return None;
        }
        if let Some(v) = self.get(caps) {
            return Some(v);
        }
        let _opening = self.opening.lock().await;
        if let Some(v) = self.get(caps) {
            return Some(v);
        }
        if self.open().iter().any(|v| v.caps == caps) {
            // Its child died: it goes, and a fresh one is opened below.
            self.remove(caps).await;
        }
        if self.is_same(caps) {
            return None;
        }
        {
            let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
            failed.retain(|(_, until)| *until > Instant::now());
            if failed.iter().any(|(c, _)| *c == caps) {
                return None;
            }
        }
        if self.count() >= self.max && !self.evict_one().await {
            return None;
        }
        let transport = main.variant(caps)?;
        if let Err(e) = transport.connect().await {
            tracing::info!(backend = %name, caps, error = %e,
                "a session for a client capability set could not be opened; the main one serves it");
            transport.close().await;
            self.failed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((caps, Instant::now() + RETRY_AFTER));
            return None;
        }
        let v = Arc::new(Variant {
            caps,
            transport,
            hidden: ArcSwapOption::empty(),
            listing: tokio::sync::Mutex::new(()),
            listings: AtomicU64::new(0),
            last_used: AtomicU64::new(self.now_ms()),
            drain: Mutex::new(None),
            dead: std::sync::atomic::AtomicBool::new(false),
        });
        let everything = !matches!(v.transport, Transport::Http(_))
            && v.hidden(main_tools).await.is_empty()
            && v.hidden.load().is_some();
        if everything {
            tracing::info!(backend = %name, caps,
                "a client capability set is offered every tool; its child or stream is not kept");
            self.same.add(caps);
            // Stopping a child takes a grace period: nobody waits for it.
            tokio::spawn(async move { v.transport.close().await });
            return None;
        }
        tracing::info!(backend = %name, caps, "session opened for a client capability set");
        if let Ok(Some(mut own)) = v.transport.messages().await {
            let weak = Arc::downgrade(&v);
            let notices = self.notices.clone();
            let task = tokio::spawn(async move {
                while let Some(m) = own.next().await {
                    let Some(v) = weak.upgrade() else { break };
                    if let Some((backend, tx, correlations)) = &notices
                        && crate::jsonrpc::frame::parse(&m)
                            .is_ok_and(|f| f.kind.is_some_and(Method::is_notice))
                    {
                        if let Some(n) = correlations.notice(*backend, &m) {
                            let _ = tx.send(n);
                        }
                        continue;
                    }
                    if v.transport.join(&m).await {
                        continue;
                    }
                    let Some(answer) = mux::unroutable_answer(&m) else {
                        continue;
                    };
                    let _ = v.transport.notify("", answer).await;
                }
                // The stream ended: its child is gone (or it was closed).
                if let Some(v) = weak.upgrade() {
                    v.dead.store(true, Ordering::Release);
                }
            });
            *v.drain.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        }
        self.open_mut().push(v.clone());
        Some(v)
    }

    /// Messages of the backend `id`'s sessions for one client that name no call go to
    /// `notices`.
    pub fn with_notices(
        mut self,
        id: uuid::Uuid,
        notices: tokio::sync::broadcast::Sender<super::Notice>,
        correlations: Arc<super::Correlations>,
    ) -> Variants {
        self.notices = Some((id, notices, correlations));
        self
    }

    /// Closes the least recently used session unused for [`EVICTABLE`] (and twice the
    /// backend's timeout); `false` when none is.
    async fn evict_one(&self) -> bool {
        let limit = EVICTABLE.max(self.busy);
        let now = self.now_ms();
        let oldest = self
            .open()
            .iter()
            .filter(|v| {
                now.saturating_sub(v.last_used.load(Ordering::Relaxed)) >= limit.as_millis() as u64
            })
            .min_by_key(|v| v.last_used.load(Ordering::Relaxed))
            .cloned();
        match oldest {
            Some(v) => {
                self.remove(v.caps).await;
                true
            }
            None => false,
        }
    }

    /// Takes the session for `caps` out and closes it.
    async fn remove(&self, caps: u8) {
        let taken = {
            let mut all = self.open_mut();
            let at = all.iter().position(|v| v.caps == caps);
            at.map(|at| all.remove(at))
        };
        if let Some(v) = taken {
            close(&v).await;
        }
    }

    /// A call on the session for `caps` found it broken (its child gone, its stream
    /// closed): it is closed, and the next call opens a fresh one.
    pub async fn broken(&self, caps: u8) {
        let _opening = self.opening.lock().await;
        self.remove(caps).await;
    }

    /// Closes the sessions unused for the idle time.
    pub async fn sweep(&self) {
        let now = self.now_ms();
        let idle: Vec<u8> = self
            .open()
            .iter()
            .filter(|v| {
                now.saturating_sub(v.last_used.load(Ordering::Relaxed))
                    >= IDLE.max(self.busy).as_millis() as u64
            })
            .map(|v| v.caps)
            .collect();
        if idle.is_empty() {
            return;
        }
        let _opening = self.opening.lock().await;
        for caps in idle {
            self.remove(caps).await;
        }
    }

    /// The backend's lists changed: every session lists its tools again when next
    /// asked.
    pub fn lists_changed(&self) {
        for v in self.open().iter() {
            v.hidden.store(None);
        }
    }

    /// Closes every session (the backend stops).
    pub async fn close_all(&self) {
        let _opening = self.opening.lock().await;
        let all = std::mem::take(&mut *self.open_mut());
        for v in all.iter() {
            close(v).await;
        }
    }
}

async fn close(v: &Variant) {
    if let Some(task) = v.drain.lock().unwrap_or_else(|p| p.into_inner()).take() {
        task.abort();
    }
    v.transport.close().await;
}

impl Variant {
    /// The tools the main session lists (`main`) that this session does not, listing
    /// this session's tools if they are not known since the last change. A failure to
    /// list hides nothing.
    pub async fn hidden(&self, main: &[Value]) -> Arc<HashSet<String>> {
        if let Some(h) = self.hidden.load_full() {
            return h;
        }
        let tried = self.listings.load(Ordering::Acquire);
        let _listing = self.listing.lock().await;
        if let Some(h) = self.hidden.load_full() {
            return h;
        }
        if self.listings.load(Ordering::Acquire) != tried {
            // Listed (and failed) while this one waited: not asked again now.
            return Arc::default();
        }
        self.listings.fetch_add(1, Ordering::AcqRel);
        let listed = upstream::every_page(
            Method::ToolsList.as_str(),
            "tools",
            |id, params| async move {
                self.transport
                    .call(&id, Method::ToolsList.as_str(), params)
                    .await
            },
        )
        .await;
        let tools = match listed {
            Ok(tools) => tools,
            Err(e) => {
                tracing::debug!(caps = self.caps, error = %e, "a capability set's tools could not be listed");
                return Arc::default();
            }
        };
        let offered: HashSet<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
        let hidden: HashSet<String> = main
            .iter()
            .filter_map(|t| t["name"].as_str())
            .filter(|n| !offered.contains(n))
            .map(str::to_string)
            .collect();
        let hidden = Arc::new(hidden);
        self.hidden.store(Some(hidden.clone()));
        hidden
    }
}

/// A set of client capability sets (one bit each), read without a lock on every call.
#[derive(Default)]
struct Same([AtomicU64; 4]);

impl Same {
    fn has(&self, caps: u8) -> bool {
        self.0[usize::from(caps >> 6)].load(Ordering::Acquire) & (1 << (caps & 63)) != 0
    }

    fn add(&self, caps: u8) {
        self.0[usize::from(caps >> 6)].fetch_or(1 << (caps & 63), Ordering::AcqRel);
    }
}
