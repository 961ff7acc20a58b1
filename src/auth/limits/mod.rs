//! Per-key limits: a request rate (token bucket with a burst), MCP requests in flight at
//! once, tool calls per UTC day, per-tool rates set in a namespace, and long-lived streams.
//! They hold for a key as a whole, across every replica on the same PostgreSQL and across
//! restarts: each is a lease of a shared row ([`replicas`]) spent from memory
//! ([`lease`]), so an ordinary request touches no database. Without a database (or
//! while it is away) the process keeps each limit alone, at its share.
//!
//! A key's own settings ([`KeyLimits`], stored with the key and reloaded on NOTIFY like
//! the rest of its state) win over the process defaults (`METAMCP_KEY_RATE`,
//! `METAMCP_KEY_BURST`, `METAMCP_KEY_MAX_CONCURRENT`). A key with no limit at all costs
//! one check of three fields; a limited key one uncontended lock of its own lease.
//!
//! Long-lived streams (a session's `GET /mcp`, `subscriptions/listen`, `/api/v1/events`)
//! are bounded apart from requests: per key (`METAMCP_KEY_MAX_STREAMS`, shared like
//! `max_concurrent`) and in total per process (`METAMCP_MAX_STREAMS`). Callers without a
//! key (namespaces with `auth: none`) share one per-process bound. A stream is not a
//! request in flight: it never counts toward a key's `max_concurrent`, so a client's open
//! streams cannot starve its own calls.
//!
//! This folder holds every limit a caller meets: the [`Limiter`] here; [`lease`]: what
//! one replica holds of a key's shared limits; [`replicas`]: those limits kept across
//! replicas in PostgreSQL; [`renew`]: the background renewal of the leases;
//! [`failures`]: failed authentication limited per client address; [`usage`]: each key's
//! last use and call count; [`peek`]: a look at whether the next call would be refused,
//! spending nothing (`policies check`).

#[cfg(test)]
mod daily_model;
pub mod failures;
pub mod lease;
pub mod peek;
pub mod renew;
pub mod replicas;
pub mod usage;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use foldhash::HashMap;

use self::lease::{
    DAILY_RECHECK, DailyLease, FULL_RECHECK, Mode, Place, SlotKind, SlotLease, Step, TokenLease,
};
use self::replicas::{DailyAsk, Due, Shared, TokenAsk};
use super::handshake::Handshakes;
use crate::base::{Clock, KeyId};
use crate::model::limits::{Defaults, Effective, KeyLimits, Rate, StreamBounds, effective};

/// Per-tool leases held at most; beyond, idle ones are forgotten.
const MAX_TOOL_BUCKETS: usize = 100_000;
/// How long a client is told to wait when its concurrency cap is reached.
const CONCURRENCY_RETRY_MS: u64 = 1000;

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rate,
    Concurrency,
    Daily,
    ToolRate,
    Streams,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Rate => "rate",
            Kind::Concurrency => "concurrency",
            Kind::Daily => "daily_calls",
            Kind::ToolRate => "tool_rate",
            Kind::Streams => "streams",
        }
    }
}

/// A request over a limit: which one, what it says, and when to come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub kind: Kind,
    pub message: String,
    pub retry_after_ms: u64,
    /// The number the limit allows (requests a period, calls a day, places), when it
    /// is one.
    pub bound: Option<u64>,
}

impl Refused {
    /// Whole seconds for `Retry-After`, rounded up (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after_ms.div_ceil(1000).max(1)
    }
}

/// One key's leases.
struct Counters {
    rate: Arc<TokenLease>,
    calls: Arc<SlotLease>,
    streams: Arc<SlotLease>,
    daily: Arc<DailyLease>,
    /// Its handshakes, apart from its rate ([`super::handshake`]), in this process.
    handshakes: Mutex<Handshakes>,
    /// When this key's being limited was last logged (unix seconds).
    logged: AtomicU64,
}

impl Counters {
    fn new(key: KeyId, now: Instant) -> Counters {
        Counters {
            rate: Arc::new(TokenLease::new(key, Arc::from(""), now)),
            calls: Arc::new(SlotLease::new(key, SlotKind::Calls, now)),
            streams: Arc::new(SlotLease::new(key, SlotKind::Streams, now)),
            daily: Arc::new(DailyLease::new(key, now)),
            handshakes: Mutex::new(Handshakes::new(now)),
            logged: AtomicU64::new(0),
        }
    }

    fn is_idle(&self, now: Instant) -> bool {
        let slots_idle = |s: &SlotLease| {
            let s = s.state();
            s.in_use == 0 && s.held == 0
        };
        self.rate.state().is_idle(now)
            && self.daily.state().is_idle(now)
            && slots_idle(&self.calls)
            && slots_idle(&self.streams)
            && self
                .handshakes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_idle(now)
    }
}

/// A long-lived stream's place, per key and in total, given back when dropped.
pub struct StreamPlace {
    _key: Option<Place>,
    anonymous: Option<Arc<AtomicU32>>,
    total: Arc<AtomicU32>,
}

impl Drop for StreamPlace {
    fn drop(&mut self) {
        if let Some(a) = &self.anonymous {
            a.fetch_sub(1, Ordering::Release);
        }
        self.total.fetch_sub(1, Ordering::Release);
    }
}

/// Takes a place under `max` in `n`.
fn take_place(n: &AtomicU32, max: u32) -> bool {
    n.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
        (v < max).then_some(v + 1)
    })
    .is_ok()
}

/// An MCP request of a key with a concurrency cap, in flight until dropped.
pub struct InFlight(#[allow(dead_code)] Place);

/// A request's place in flight, shared by what may outlive the request's answer: the
/// answer while it is sent, and its call while that goes on (a session client's without
/// its client, a 2026-07-28 client's parked for its answers). Given back when the last
/// of them lets go (or taken out, to go to a task). With it, the call's deadline: how
/// long a call nobody hears from any more keeps it.
pub struct Kept(std::sync::Mutex<(Option<InFlight>, Option<tokio::time::Instant>)>);

impl Kept {
    pub fn new(place: InFlight) -> std::sync::Arc<Kept> {
        std::sync::Arc::new(Kept(std::sync::Mutex::new((Some(place), None))))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Option<InFlight>, Option<tokio::time::Instant>)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The place itself, for what holds it from now on.
    pub fn take(&self) -> Option<InFlight> {
        self.lock().0.take()
    }

    /// The deadline of the call that keeps the place.
    pub fn until(&self, deadline: tokio::time::Instant) {
        self.lock().1 = Some(deadline);
    }

    /// The deadline of the call that keeps the place, if it has one.
    pub fn deadline(&self) -> Option<tokio::time::Instant> {
        self.lock().1
    }
}

/// Time left in the UTC day by this process's clock (used until the database says).
fn until_midnight(now_unix: u64) -> Duration {
    Duration::from_secs(86_400 - now_unix % 86_400)
}

/// A per-tool lease's key: the API key and the namespace tool.
type ToolKey = (KeyId, Arc<str>);

/// The process's limiter.
pub struct Limiter {
    defaults: Defaults,
    /// Leases of keys that have a limit, made on their first limited request.
    keys: RwLock<HashMap<KeyId, Arc<Counters>>>,
    /// Per-tool leases by key and tool (namespace and exposed name).
    tools: Mutex<HashMap<ToolKey, Arc<TokenLease>>>,
    streams: StreamBounds,
    /// Long-lived streams open in this process.
    streams_open: Arc<AtomicU32>,
    /// The streams of callers without a key.
    anonymous: Arc<AtomicU32>,
    /// The shared rows, once the process has a database.
    shared: OnceLock<Arc<Shared>>,
    /// The time every limit reads (a test advances it; [`Clock`]).
    clock: Clock,
}

impl Limiter {
    pub fn new(defaults: Defaults) -> Limiter {
        Limiter {
            defaults,
            keys: RwLock::default(),
            tools: Mutex::default(),
            streams: StreamBounds::default(),
            streams_open: Arc::default(),
            anonymous: Arc::default(),
            shared: OnceLock::new(),
            clock: Clock::default(),
        }
    }

    /// The time every limit reads; [`Shared`] is made with the same.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The same limiter with these stream bounds.
    pub fn with_streams(mut self, bounds: StreamBounds) -> Limiter {
        self.streams = bounds;
        self
    }

    /// Shares the limits through PostgreSQL from now on (once).
    pub fn share(&self, shared: Arc<Shared>) {
        let _ = self.shared.set(shared);
    }

    /// The shared side, if the limits are shared.
    pub fn shared(&self) -> Option<&Arc<Shared>> {
        self.shared.get()
    }

    /// Where limits are kept now.
    pub fn mode(&self) -> Mode {
        self.shared.get().map_or(Mode::Local(1), |s| s.mode())
    }

    /// Long-lived streams open in this process.
    pub fn streams_open(&self) -> u32 {
        self.streams_open.load(Ordering::Relaxed)
    }

    /// Takes a place for a long-lived stream of `key` (`None`: a caller without one),
    /// or says which bound is reached.
    pub async fn open_stream(&self, key: Option<&KeyId>) -> Result<StreamPlace, Refused> {
        let refused = |message: String, bound: u32| Refused {
            kind: Kind::Streams,
            message,
            retry_after_ms: CONCURRENCY_RETRY_MS,
            bound: Some(bound.into()),
        };
        let per_key = || {
            refused(
                format!(
                    "stream limit of this key reached ({} streams open; METAMCP_KEY_MAX_STREAMS)",
                    self.streams.per_key
                ),
                self.streams.per_key,
            )
        };
        let (place, anonymous) = match key {
            Some(k) => {
                let lease = self.counters(k).streams.clone();
                let place = self
                    .take_slot(&lease, self.streams.per_key)
                    .await
                    .map_err(|_| per_key())?;
                (Some(place), None)
            }
            None => {
                if !take_place(&self.anonymous, self.streams.per_key) {
                    return Err(per_key());
                }
                (None, Some(self.anonymous.clone()))
            }
        };
        if !take_place(&self.streams_open, self.streams.total) {
            if let Some(a) = &anonymous {
                a.fetch_sub(1, Ordering::Release);
            }
            return Err(refused(
                format!(
                    "the gateway holds as many streams as it serves ({}; METAMCP_MAX_STREAMS)",
                    self.streams.total
                ),
                self.streams.total,
            ));
        }
        Ok(StreamPlace {
            _key: place,
            anonymous,
            total: self.streams_open.clone(),
        })
    }

    pub fn defaults(&self) -> Defaults {
        self.defaults
    }

    /// The stream bounds.
    pub fn stream_bounds(&self) -> StreamBounds {
        self.streams
    }

    /// The limits in force for a key's settings.
    pub fn effective(&self, l: &KeyLimits) -> Effective {
        effective(&self.defaults, l)
    }

    fn counters(&self, key: &KeyId) -> Arc<Counters> {
        if let Some(c) = self.keys.read().unwrap_or_else(|p| p.into_inner()).get(key) {
            return c.clone();
        }
        self.keys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(*key)
            .or_insert_with(|| {
                let counters = Counters::new(*key, self.clock.now());
                if self.shared.get().is_none() {
                    counters.daily.state().counted_alone();
                }
                Arc::new(counters)
            })
            .clone()
    }

    /// Forgets a key's leases (it was deleted).
    pub fn forget(&self, key: &KeyId) {
        self.keys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        self.tools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(k, _), _| k != key);
    }

    /// Charges one request to the key's rate.
    pub async fn request(&self, key: &KeyId, limits: &Effective) -> Result<(), Refused> {
        self.request_at(key, limits, self.clock.now()).await
    }

    pub async fn request_at(
        &self,
        key: &KeyId,
        limits: &Effective,
        now: Instant,
    ) -> Result<(), Refused> {
        let (Some(rate), Some(burst)) = (limits.rate, limits.burst) else {
            return Ok(());
        };
        let lease = self.counters(key).rate.clone();
        let capacity = f64::from(burst.max(1));
        self.spend_tokens(&lease, rate.per_second(), capacity, now)
            .await
            .map_err(|ms| rate_refused(rate, burst, ms))
    }

    /// Charges one handshake (`initialize`, `server/discover`) of a key with a rate to its
    /// handshake bucket, not to the rate ([`super::handshake`]).
    pub fn handshake(&self, key: &KeyId, limits: &Effective, now: Instant) -> Result<(), Refused> {
        let (Some(rate), Some(burst)) = (limits.rate, limits.burst) else {
            return Ok(());
        };
        let counters = self.counters(key);
        let mut bucket = counters
            .handshakes
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        bucket
            .take(rate.per_second(), burst.max(1), now)
            .map_err(|ms| {
                let (per_sec, burst) = bucket.bounds();
                Refused {
                    kind: Kind::Rate,
                    message: format!(
                        "handshake rate of this key exceeded ({per_sec}/s, burst {burst}): \
                         initialize and server/discover are counted apart from its rate"
                    ),
                    retry_after_ms: ms,
                    bound: Some(burst as u64),
                }
            })
    }

    /// Takes one of the key's in-flight places for an MCP request.
    pub async fn enter(
        &self,
        key: &KeyId,
        limits: &Effective,
    ) -> Result<Option<InFlight>, Refused> {
        let Some(max) = limits.max_concurrent else {
            return Ok(None);
        };
        let lease = self.counters(key).calls.clone();
        match self.take_slot(&lease, max).await {
            Ok(place) => Ok(Some(InFlight(place))),
            Err(_) => Err(concurrency_refused(max)),
        }
    }

    /// Charges one tool call to the key's daily quota (UTC days).
    pub async fn tool_call(&self, key: &KeyId, limits: &Effective) -> Result<(), Refused> {
        if limits.daily_calls.is_none() {
            return Ok(());
        }
        self.tool_call_at(key, limits, self.clock.now(), self.clock.unix_now())
            .await
    }

    pub async fn tool_call_at(
        &self,
        key: &KeyId,
        limits: &Effective,
        now: Instant,
        now_unix: u64,
    ) -> Result<(), Refused> {
        let Some(quota) = limits.daily_calls else {
            return Ok(());
        };
        let lease = self.counters(key).daily.clone();
        let left = until_midnight(now_unix);
        self.spend_daily(&lease, quota, now, left)
            .await
            .map_err(|ms| self.daily_refused(quota, ms))
    }

    /// The daily quota's refusal, come back in `ms` (read on a refusal only: the request
    /// path that spends pays nothing more).
    fn daily_refused(&self, quota: u64, ms: u64) -> Refused {
        if self.shared.get().is_some_and(|s| s.mode() != Mode::Shared) {
            return Refused {
                kind: Kind::Daily,
                message: format!(
                    "daily quota of this key ({quota} tool calls per UTC day): \
                     PostgreSQL does not answer, and this replica serves only the \
                     calls it had reserved there before; retry when the database \
                     is back"
                ),
                retry_after_ms: ms.min(DAILY_RECHECK.as_millis() as u64),
                bound: Some(quota),
            };
        }
        Refused {
            kind: Kind::Daily,
            message: format!("daily quota of this key used up ({quota} tool calls per UTC day)"),
            retry_after_ms: ms,
            bound: Some(quota),
        }
    }

    /// Charges one call of a tool whose namespace limits it (`tool` names the namespace
    /// and the tool), per key.
    pub async fn tool_rate(&self, key: &KeyId, tool: &Arc<str>, rate: Rate) -> Result<(), Refused> {
        self.tool_rate_at(key, tool, rate, self.clock.now()).await
    }

    pub async fn tool_rate_at(
        &self,
        key: &KeyId,
        tool: &Arc<str>,
        rate: Rate,
        now: Instant,
    ) -> Result<(), Refused> {
        let lease = {
            let mut tools = self.tools.lock().unwrap_or_else(|p| p.into_inner());
            if tools.len() >= MAX_TOOL_BUCKETS && !tools.contains_key(&(*key, tool.clone())) {
                // Idle leases hold nothing a fresh one would not.
                tools.retain(|_, l| !l.state().is_idle(now));
                if tools.len() >= MAX_TOOL_BUCKETS {
                    return Err(Refused {
                        kind: Kind::ToolRate,
                        message: "too many rate-limited tools in use; retry shortly".into(),
                        retry_after_ms: 1000,
                        bound: None,
                    });
                }
            }
            tools
                .entry((*key, tool.clone()))
                .or_insert_with(|| Arc::new(TokenLease::new(*key, tool.clone(), now)))
                .clone()
        };
        let capacity = f64::from(rate.count);
        self.spend_tokens(&lease, rate.per_second(), capacity, now)
            .await
            .map_err(|ms| tool_rate_refused(tool, rate, ms))
    }

    /// Whether a refusal of `key` should be logged now: once a minute per key.
    pub fn should_log(&self, key: &KeyId, now_unix: u64) -> bool {
        let counters = self.counters(key);
        let last = counters.logged.load(Ordering::Relaxed);
        now_unix >= last + 60
            && counters
                .logged
                .compare_exchange(last, now_unix, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Spends a token of `lease`, renewing it first when it is spent.
    async fn spend_tokens(
        &self,
        lease: &Arc<TokenLease>,
        per_sec: f64,
        capacity: f64,
        now: Instant,
    ) -> Result<(), u64> {
        let step = lease.state().take(per_sec, capacity, self.mode(), now);
        match step {
            Step::Taken { renew_soon } => {
                if renew_soon && let Some(s) = self.shared.get() {
                    s.due(Due::Tokens(lease.clone()));
                }
                Ok(())
            }
            Step::Refused(ms) => Err(ms),
            // Boxed: the request's future holds a pointer, not the database's futures.
            Step::Renew => Box::pin(self.renew_tokens(lease, per_sec, capacity)).await,
        }
    }

    /// Renews a spent token lease on the request path: one request of the key asks, the
    /// others wait for its answer.
    async fn renew_tokens(
        &self,
        lease: &TokenLease,
        per_sec: f64,
        capacity: f64,
    ) -> Result<(), u64> {
        let Some(shared) = self.shared.get() else {
            return Err(FULL_RECHECK.as_millis() as u64);
        };
        let _one = lease.renewing.lock().await;
        let now = self.clock.now();
        let step = lease.state().take(per_sec, capacity, shared.mode(), now);
        let step = match step {
            Step::Renew => {
                let take = lease.state().want(now);
                let ask = TokenAsk {
                    lease,
                    per_sec,
                    capacity,
                    take,
                    give: 0.0,
                };
                if let Ok(g) = shared.lease_tokens(&[ask], true).await
                    && let Some(g) = g.first()
                {
                    lease
                        .state()
                        .granted(take, g.granted, g.wait_ms, self.clock.now());
                }
                lease
                    .state()
                    .take(per_sec, capacity, shared.mode(), self.clock.now())
            }
            other => other,
        };
        match step {
            Step::Taken { .. } => Ok(()),
            Step::Refused(ms) => Err(ms),
            Step::Renew => Err(FULL_RECHECK.as_millis() as u64),
        }
    }

    /// Takes a place of `lease` under `max`, asking the shared count for more when this
    /// replica holds none free.
    async fn take_slot(&self, lease: &Arc<SlotLease>, max: u32) -> Result<Place, u64> {
        let step = lease.state().enter(max, self.mode(), self.clock.now());
        let step = match (step, self.shared.get()) {
            // Boxed: the request's future holds a pointer, not the database's futures.
            (Step::Renew, Some(shared)) => Box::pin(renew_slot(shared, lease, max)).await,
            (step, _) => step,
        };
        match step {
            Step::Taken { .. } => Ok(Place(lease.clone())),
            Step::Refused(ms) => Err(ms),
            Step::Renew => Err(FULL_RECHECK.as_millis() as u64),
        }
    }

    /// Spends one of the day's calls, reserving a block first when none is left.
    async fn spend_daily(
        &self,
        lease: &Arc<DailyLease>,
        quota: u64,
        now: Instant,
        left: Duration,
    ) -> Result<(), u64> {
        let step = lease.state().take(quota, self.mode(), now, left);
        let step = match (step, self.shared.get()) {
            (Step::Taken { renew_soon: true }, Some(shared)) => {
                shared.due(Due::Daily(lease.clone()));
                return Ok(());
            }
            (Step::Renew, Some(shared)) => {
                Box::pin(reserve_daily(shared, lease, quota, left)).await
            }
            (step, _) => step,
        };
        match step {
            Step::Taken { .. } => Ok(()),
            Step::Refused(ms) => Err(ms),
            Step::Renew => Err(FULL_RECHECK.as_millis() as u64),
        }
    }
}

/// Asks the shared count for places of `lease` (its own spent on the request path): one
/// request of the key asks, the others wait for its answer.
async fn renew_slot(shared: &Shared, lease: &Arc<SlotLease>, max: u32) -> Step {
    let _one = lease.renewing.lock().await;
    let again = lease
        .state()
        .enter(max, shared.mode(), shared.clock().now());
    if again != Step::Renew {
        return again;
    }
    let want = lease.state().want();
    if let Ok(held) = shared.lease_slots(&[(lease, max, want)], true).await
        && let Some(h) = held.first()
    {
        lease.state().granted(*h, shared.clock().now());
    }
    lease
        .state()
        .enter(max, shared.mode(), shared.clock().now())
}

/// Reserves a block of the day's calls on the request path (its block spent), giving back
/// and charging what waits to be.
async fn reserve_daily(
    shared: &Shared,
    lease: &Arc<DailyLease>,
    quota: u64,
    left: Duration,
) -> Step {
    let _one = lease.renewing.lock().await;
    let now = shared.clock().now();
    let again = lease.state().take(quota, shared.mode(), now, left);
    if again != Step::Renew {
        return again;
    }
    let order = {
        let mut s = lease.state();
        let want = s.want_among(now, shared.replicas());
        s.order(want, false, now)
    };
    let ask = DailyAsk {
        lease,
        quota,
        order,
    };
    let answer = shared
        .reserve_calls(&[ask], true)
        .await
        .ok()
        .and_then(|r| r.first().copied());
    lease.state().answered(&order, answer, shared.clock().now());
    lease
        .state()
        .take(quota, shared.mode(), shared.clock().now(), left)
}

/// Every lease this process holds, for the background renewal.
#[derive(Default)]
pub struct Leases {
    pub tokens: Vec<Arc<TokenLease>>,
    pub slots: Vec<Arc<SlotLease>>,
    pub daily: Vec<Arc<DailyLease>>,
}

impl Limiter {
    /// Every lease held now.
    pub fn leases(&self) -> Leases {
        let mut all = Leases::default();
        for c in self.keys.read().unwrap_or_else(|p| p.into_inner()).values() {
            all.tokens.push(c.rate.clone());
            all.slots.push(c.calls.clone());
            all.slots.push(c.streams.clone());
            all.daily.push(c.daily.clone());
        }
        all.tokens.extend(
            self.tools
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .cloned(),
        );
        all
    }

    /// Forgets the leases of keys and tools idle long enough to hold nothing.
    pub fn forget_idle(&self, now: Instant) -> usize {
        let mut n = 0;
        self.keys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, c| {
                // Held elsewhere (a request in flight): kept.
                let keep = Arc::strong_count(c) > 1 || !c.is_idle(now);
                n += usize::from(!keep);
                keep
            });
        self.tools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, l| {
                let keep = Arc::strong_count(l) > 1 || !l.state().is_idle(now);
                n += usize::from(!keep);
                keep
            });
        n
    }

    /// Leases held for keys (and per-tool ones), for `/metrics`.
    pub fn lease_count(&self) -> usize {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).len()
            + self.tools.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

fn after_slash(s: &str) -> &str {
    s.rsplit_once('/').map_or(s, |(_, t)| t)
}

/// The key's rate's refusal, come back in `ms`.
fn rate_refused(rate: Rate, burst: u32, ms: u64) -> Refused {
    Refused {
        kind: Kind::Rate,
        message: format!("rate limit of this key exceeded ({rate}, burst {burst})"),
        retry_after_ms: ms,
        bound: Some(rate.count.into()),
    }
}

/// The key's concurrency's refusal.
fn concurrency_refused(max: u32) -> Refused {
    Refused {
        kind: Kind::Concurrency,
        message: format!("concurrency limit of this key reached ({max} requests in flight)"),
        retry_after_ms: CONCURRENCY_RETRY_MS,
        bound: Some(max.into()),
    }
}

/// A tool's rate's refusal (`tool`: the namespace tool's id), come back in `ms`.
fn tool_rate_refused(tool: &str, rate: Rate, ms: u64) -> Refused {
    Refused {
        kind: Kind::ToolRate,
        message: format!(
            "rate limit of tool {} exceeded for this key ({rate})",
            after_slash(tool)
        ),
        retry_after_ms: ms,
        bound: Some(rate.count.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::limits::Setting;
    use std::time::Duration;

    fn key(n: u8) -> KeyId {
        KeyId::parse(&format!("{n:016x}")).unwrap()
    }

    #[tokio::test]
    async fn streams_are_bounded_per_key_and_in_total_and_given_back() {
        let l = Limiter::new(Defaults::default()).with_streams(StreamBounds {
            per_key: 2,
            total: 3,
        });
        let a1 = l.open_stream(Some(&key(1))).await.unwrap();
        let _a2 = l.open_stream(Some(&key(1))).await.unwrap();
        let over = l.open_stream(Some(&key(1))).await.err().unwrap();
        assert_eq!(over.kind, Kind::Streams);
        assert!(
            over.message.contains("METAMCP_KEY_MAX_STREAMS"),
            "{}",
            over.message
        );
        let _b1 = l.open_stream(Some(&key(2))).await.unwrap();
        let full = l.open_stream(Some(&key(3))).await.err().unwrap();
        assert!(
            full.message.contains("METAMCP_MAX_STREAMS"),
            "{}",
            full.message
        );
        assert_eq!(l.streams_open(), 3);
        drop(a1);
        assert_eq!(l.streams_open(), 2);
        let _c = l.open_stream(Some(&key(3))).await.unwrap();
        // A refusal by the total gives the key's place back.
        assert!(l.open_stream(None).await.is_err());
        drop(_c);
        let _anon = l.open_stream(None).await.unwrap();
        assert!(l.open_stream(Some(&key(4))).await.is_err());
    }

    #[tokio::test]
    async fn a_key_gets_its_burst_then_its_rate() {
        let l = Limiter::new(Defaults::default());
        let eff = l.effective(&KeyLimits {
            rate: Setting::Is(Rate::parse("20/s").unwrap()),
            ..KeyLimits::default()
        });
        assert_eq!(
            eff.burst,
            Some(20),
            "the burst defaults to the rate's count"
        );
        let t0 = Instant::now();
        let mut through = 0;
        for _ in 0..100 {
            through += usize::from(l.request_at(&key(1), &eff, t0).await.is_ok());
        }
        assert_eq!(through, 20);
        let refused = l.request_at(&key(1), &eff, t0).await.unwrap_err();
        assert_eq!(refused.kind, Kind::Rate);
        assert_eq!(refused.retry_after_ms, 50);
        assert_eq!(refused.retry_after_secs(), 1);
        // Another key is not affected; one second later about 20 more get through.
        assert!(l.request_at(&key(2), &eff, t0).await.is_ok());
        let t1 = t0 + Duration::from_secs(1);
        let mut more = 0;
        for _ in 0..100 {
            more += usize::from(l.request_at(&key(1), &eff, t1).await.is_ok());
        }
        assert_eq!(more, 20);
    }

    #[test]
    fn own_settings_win_over_defaults_and_unlimited_is_exempt() {
        let defaults = Defaults {
            rate: Some(Rate::parse("5/s").unwrap()),
            burst: Some(2),
            max_concurrent: Some(3),
        };
        let l = Limiter::new(defaults);
        let d = l.effective(&KeyLimits::default());
        assert_eq!(
            (d.rate, d.burst, d.max_concurrent),
            (defaults.rate, Some(2), Some(3))
        );
        let own = l.effective(&KeyLimits {
            rate: Setting::Is(Rate::parse("10/m").unwrap()),
            burst: Some(4),
            max_concurrent: Setting::Unlimited,
            daily_calls: Setting::Is(7),
        });
        assert_eq!(own.rate.unwrap().to_string(), "10/m");
        assert_eq!(own.burst, Some(4));
        assert_eq!(own.max_concurrent, None);
        assert_eq!(own.daily_calls, Some(7));
        let none = Limiter::new(Defaults::default()).effective(&KeyLimits::default());
        assert!(!none.any());
        let exempt = l.effective(&KeyLimits {
            rate: Setting::Unlimited,
            max_concurrent: Setting::Unlimited,
            ..KeyLimits::default()
        });
        assert!(!exempt.any());
    }

    #[tokio::test]
    async fn concurrency_places_are_given_back() {
        let l = Limiter::new(Defaults::default());
        let eff = Effective {
            max_concurrent: Some(2),
            ..Effective::default()
        };
        let a = l.enter(&key(1), &eff).await.unwrap();
        let b = l.enter(&key(1), &eff).await.unwrap();
        assert!(a.is_some() && b.is_some());
        assert_eq!(
            l.enter(&key(1), &eff).await.err().unwrap().kind,
            Kind::Concurrency
        );
        drop(a);
        assert!(l.enter(&key(1), &eff).await.unwrap().is_some());
        assert!(
            l.enter(&key(9), &Effective::default())
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn the_daily_quota_resets_at_utc_midnight() {
        let l = Limiter::new(Defaults::default());
        let eff = Effective {
            daily_calls: Some(3),
            ..Effective::default()
        };
        let noon = 20_000 * 86_400 + 43_200;
        let t0 = Instant::now();
        for _ in 0..3 {
            l.tool_call_at(&key(1), &eff, t0, noon).await.unwrap();
        }
        let r = l.tool_call_at(&key(1), &eff, t0, noon).await.unwrap_err();
        assert_eq!(r.kind, Kind::Daily);
        assert_eq!(r.retry_after_ms, 43_200_000);
        let t1 = t0 + Duration::from_secs(43_200);
        assert!(
            l.tool_call_at(&key(1), &eff, t1, noon + 43_200)
                .await
                .is_ok(),
            "a new day"
        );
    }

    #[tokio::test]
    async fn tool_rates_are_per_key_and_per_tool() {
        let l = Limiter::new(Defaults::default());
        let rate = Rate::parse("2/m").unwrap();
        let t0 = Instant::now();
        let search: Arc<str> = Arc::from("team/github__search");
        let other: Arc<str> = Arc::from("team/github__other");
        assert!(l.tool_rate_at(&key(1), &search, rate, t0).await.is_ok());
        assert!(l.tool_rate_at(&key(1), &search, rate, t0).await.is_ok());
        let r = l
            .tool_rate_at(&key(1), &search, rate, t0)
            .await
            .unwrap_err();
        assert!(r.message.contains("github__search"), "{}", r.message);
        assert_eq!(r.retry_after_ms, 30_000);
        assert!(
            l.tool_rate_at(&key(2), &search, rate, t0).await.is_ok(),
            "another key"
        );
        assert!(
            l.tool_rate_at(&key(1), &other, rate, t0).await.is_ok(),
            "another tool"
        );
        l.forget(&key(1));
        assert!(
            l.tool_rate_at(&key(1), &search, rate, t0).await.is_ok(),
            "forgotten"
        );
    }

    #[test]
    fn limiting_is_logged_once_a_minute_per_key() {
        let l = Limiter::new(Defaults::default());
        assert!(l.should_log(&key(1), 1000));
        assert!(!l.should_log(&key(1), 1030));
        assert!(l.should_log(&key(2), 1030));
        assert!(l.should_log(&key(1), 1060));
    }
}
