//! Per-key limits: a request rate (token bucket with a burst), MCP requests in flight at
//! once, tool calls per UTC day, and per-tool rates set in a namespace, each applied to
//! one key at a time. Limits hold per process.
//!
//! A key's own settings ([`KeyLimits`], stored with the key and reloaded on NOTIFY like
//! the rest of its state) win over the process defaults (`METAMCP_KEY_RATE`,
//! `METAMCP_KEY_BURST`, `METAMCP_KEY_MAX_CONCURRENT`). A key with no limit at all costs
//! one check of three fields; a limited key one uncontended lock of its own bucket.
//!
//! Long-lived streams (a session's `GET /mcp`, `subscriptions/listen`, `/api/v1/events`)
//! are bounded apart from requests: per key (`METAMCP_KEY_MAX_STREAMS`) and in total
//! (`METAMCP_MAX_STREAMS`). Callers without a key (namespaces with `auth: none`) share one
//! per-key bound. A stream is not a request in flight: it never counts toward a key's
//! `max_concurrent`, so a client's open streams cannot starve its own calls.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use foldhash::HashMap;

use crate::base::KeyId;
use crate::model::limits::{Defaults, KeyLimits, Rate, StreamBounds};

/// Per-tool buckets held at most; beyond, the ones that have refilled are forgotten.
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
}

impl Refused {
    /// Whole seconds for `Retry-After`, rounded up (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after_ms.div_ceil(1000).max(1)
    }
}

/// A token bucket.
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn full(capacity: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: capacity,
            updated: now,
        }
    }

    /// Takes a token, or says in how many milliseconds one will be there.
    fn take(&mut self, rate: Rate, capacity: f64, now: Instant) -> Result<(), u64> {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second()).min(capacity);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err((((1.0 - self.tokens) / rate.per_second()) * 1000.0).ceil() as u64)
        }
    }

    fn is_full(&self, rate: Rate, capacity: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens + elapsed * rate.per_second() >= capacity
    }
}

/// One key's counters.
struct Counters {
    bucket: Mutex<Option<Bucket>>,
    in_flight: AtomicU32,
    /// The UTC day (days since the epoch) in the high 24 bits, that day's tool calls in
    /// the low 40.
    daily: AtomicU64,
    /// When this key's being limited was last logged (unix seconds).
    logged: AtomicU64,
    /// Long-lived streams open.
    streams: AtomicU32,
}

impl Counters {
    fn new() -> Counters {
        Counters {
            bucket: Mutex::new(None),
            in_flight: AtomicU32::new(0),
            daily: AtomicU64::new(0),
            logged: AtomicU64::new(0),
            streams: AtomicU32::new(0),
        }
    }
}

/// A long-lived stream's place, per key and in total, given back when dropped.
pub struct StreamPlace {
    key: Arc<Counters>,
    total: Arc<AtomicU32>,
}

impl Drop for StreamPlace {
    fn drop(&mut self) {
        self.key.streams.fetch_sub(1, Ordering::Release);
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

const DAY_SHIFT: u32 = 40;
const COUNT_MASK: u64 = (1 << DAY_SHIFT) - 1;

/// An MCP request of a key with a concurrency cap, in flight until dropped.
pub struct InFlight(Arc<Counters>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Release);
    }
}

/// The process's limiter.
pub struct Limiter {
    defaults: Defaults,
    /// Counters of keys that have a limit, made on their first limited request.
    keys: RwLock<HashMap<KeyId, Arc<Counters>>>,
    /// Per-tool buckets by key and tool (namespace and exposed name).
    tools: Mutex<HashMap<(KeyId, Arc<str>), Bucket>>,
    streams: StreamBounds,
    /// Long-lived streams open in this process.
    streams_open: Arc<AtomicU32>,
    /// The stream count of callers without a key.
    anonymous: Arc<Counters>,
}

impl Limiter {
    pub fn new(defaults: Defaults) -> Limiter {
        Limiter {
            defaults,
            keys: RwLock::default(),
            tools: Mutex::default(),
            streams: StreamBounds::default(),
            streams_open: Arc::default(),
            anonymous: Arc::new(Counters::new()),
        }
    }

    /// The same limiter with these stream bounds.
    pub fn with_streams(mut self, bounds: StreamBounds) -> Limiter {
        self.streams = bounds;
        self
    }

    /// Long-lived streams open in this process.
    pub fn streams_open(&self) -> u32 {
        self.streams_open.load(Ordering::Relaxed)
    }

    /// Takes a place for a long-lived stream of `key` (`None`: a caller without one),
    /// or says which bound is reached.
    pub fn open_stream(&self, key: Option<&KeyId>) -> Result<StreamPlace, Refused> {
        let counters = match key {
            Some(k) => self.counters(k),
            None => self.anonymous.clone(),
        };
        let refused = |message: String| Refused {
            kind: Kind::Streams,
            message,
            retry_after_ms: CONCURRENCY_RETRY_MS,
        };
        if !take_place(&counters.streams, self.streams.per_key) {
            return Err(refused(format!(
                "stream limit of this key reached ({} streams open; METAMCP_KEY_MAX_STREAMS)",
                self.streams.per_key
            )));
        }
        if !take_place(&self.streams_open, self.streams.total) {
            counters.streams.fetch_sub(1, Ordering::Release);
            return Err(refused(format!(
                "the gateway holds as many streams as it serves ({}; METAMCP_MAX_STREAMS)",
                self.streams.total
            )));
        }
        Ok(StreamPlace {
            key: counters,
            total: self.streams_open.clone(),
        })
    }

    pub fn defaults(&self) -> Defaults {
        self.defaults
    }

    /// The limits in force for a key's settings.
    pub fn effective(&self, l: &KeyLimits) -> Effective {
        let rate = l.rate.or(self.defaults.rate);
        Effective {
            rate,
            burst: rate.map(|r| l.burst.or(self.defaults.burst).unwrap_or(r.count)),
            max_concurrent: l.max_concurrent.or(self.defaults.max_concurrent),
            daily_calls: l.daily_calls.or(None),
        }
    }

    fn counters(&self, key: &KeyId) -> Arc<Counters> {
        if let Some(c) = self.keys.read().unwrap_or_else(|p| p.into_inner()).get(key) {
            return c.clone();
        }
        self.keys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(*key)
            .or_insert_with(|| Arc::new(Counters::new()))
            .clone()
    }

    /// Forgets a key's counters (it was deleted).
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
    pub fn request(&self, key: &KeyId, limits: &Effective, now: Instant) -> Result<(), Refused> {
        let (Some(rate), Some(burst)) = (limits.rate, limits.burst) else {
            return Ok(());
        };
        let counters = self.counters(key);
        let capacity = f64::from(burst.max(1));
        let mut bucket = counters.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let b = bucket.get_or_insert_with(|| Bucket::full(capacity, now));
        b.take(rate, capacity, now).map_err(|ms| Refused {
            kind: Kind::Rate,
            message: format!("rate limit of this key exceeded ({rate}, burst {burst})"),
            retry_after_ms: ms,
        })
    }

    /// Takes one of the key's in-flight places for an MCP request.
    pub fn enter(&self, key: &KeyId, limits: &Effective) -> Result<Option<InFlight>, Refused> {
        let Some(max) = limits.max_concurrent else {
            return Ok(None);
        };
        let counters = self.counters(key);
        let taken = counters
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(Some(InFlight(counters))),
            Err(_) => Err(Refused {
                kind: Kind::Concurrency,
                message: format!(
                    "concurrency limit of this key reached ({max} requests in flight)"
                ),
                retry_after_ms: CONCURRENCY_RETRY_MS,
            }),
        }
    }

    /// Charges one tool call to the key's daily quota (UTC days; `now_unix` in seconds).
    pub fn tool_call(&self, key: &KeyId, limits: &Effective, now_unix: u64) -> Result<(), Refused> {
        let Some(quota) = limits.daily_calls else {
            return Ok(());
        };
        let counters = self.counters(key);
        let today = now_unix / 86_400;
        let taken = counters
            .daily
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |packed| {
                let (day, count) = (packed >> DAY_SHIFT, packed & COUNT_MASK);
                let count = if day == today { count } else { 0 };
                (count < quota).then_some((today << DAY_SHIFT) | (count + 1))
            });
        match taken {
            Ok(_) => Ok(()),
            Err(_) => Err(Refused {
                kind: Kind::Daily,
                message: format!(
                    "daily quota of this key used up ({quota} tool calls per UTC day)"
                ),
                retry_after_ms: ((today + 1) * 86_400 - now_unix) * 1000,
            }),
        }
    }

    /// Charges one call of a tool whose namespace limits it (`tool` names the namespace
    /// and the tool), per key.
    pub fn tool_rate(
        &self,
        key: &KeyId,
        tool: &Arc<str>,
        rate: Rate,
        now: Instant,
    ) -> Result<(), Refused> {
        let capacity = f64::from(rate.count);
        let mut tools = self.tools.lock().unwrap_or_else(|p| p.into_inner());
        if tools.len() >= MAX_TOOL_BUCKETS && !tools.contains_key(&(*key, tool.clone())) {
            // Full buckets hold nothing a fresh one would not.
            tools.retain(|_, b| !b.is_full(rate, capacity, now));
            if tools.len() >= MAX_TOOL_BUCKETS {
                return Err(Refused {
                    kind: Kind::ToolRate,
                    message: "too many rate-limited tools in use; retry shortly".into(),
                    retry_after_ms: 1000,
                });
            }
        }
        let b = tools
            .entry((*key, tool.clone()))
            .or_insert_with(|| Bucket::full(capacity, now));
        b.take(rate, capacity, now).map_err(|ms| Refused {
            kind: Kind::ToolRate,
            message: format!(
                "rate limit of tool {} exceeded for this key ({rate})",
                after_slash(tool)
            ),
            retry_after_ms: ms,
        })
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
}

fn after_slash(s: &str) -> &str {
    s.rsplit_once('/').map_or(s, |(_, t)| t)
}

/// The limits in force for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Effective {
    pub rate: Option<Rate>,
    pub burst: Option<u32>,
    pub max_concurrent: Option<u32>,
    pub daily_calls: Option<u64>,
}

impl Effective {
    /// Whether any limit applies (most keys: none, and nothing else is looked at).
    pub fn any(&self) -> bool {
        self.rate.is_some() || self.max_concurrent.is_some() || self.daily_calls.is_some()
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

    #[test]
    fn streams_are_bounded_per_key_and_in_total_and_given_back() {
        let l = Limiter::new(Defaults::default()).with_streams(StreamBounds {
            per_key: 2,
            total: 3,
        });
        let a1 = l.open_stream(Some(&key(1))).unwrap();
        let _a2 = l.open_stream(Some(&key(1))).unwrap();
        let over = l.open_stream(Some(&key(1))).err().unwrap();
        assert_eq!(over.kind, Kind::Streams);
        assert!(
            over.message.contains("METAMCP_KEY_MAX_STREAMS"),
            "{}",
            over.message
        );
        let _b1 = l.open_stream(Some(&key(2))).unwrap();
        let full = l.open_stream(Some(&key(3))).err().unwrap();
        assert!(
            full.message.contains("METAMCP_MAX_STREAMS"),
            "{}",
            full.message
        );
        assert_eq!(l.streams_open(), 3);
        drop(a1);
        assert_eq!(l.streams_open(), 2);
        let _c = l.open_stream(Some(&key(3))).unwrap();
        // A refusal by the total gives the key's place back.
        assert!(l.open_stream(None).is_err());
        drop(_c);
        let _anon = l.open_stream(None).unwrap();
        assert!(l.open_stream(Some(&key(4))).is_err());
    }

    #[test]
    fn a_key_gets_its_burst_then_its_rate() {
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
        let through = (0..100)
            .filter(|_| l.request(&key(1), &eff, t0).is_ok())
            .count();
        assert_eq!(through, 20);
        let refused = l.request(&key(1), &eff, t0).unwrap_err();
        assert_eq!(refused.kind, Kind::Rate);
        assert_eq!(refused.retry_after_ms, 50);
        assert_eq!(refused.retry_after_secs(), 1);
        // Another key is not affected; one second later about 20 more get through.
        assert!(l.request(&key(2), &eff, t0).is_ok());
        let t1 = t0 + Duration::from_secs(1);
        let more = (0..100)
            .filter(|_| l.request(&key(1), &eff, t1).is_ok())
            .count();
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

    #[test]
    fn concurrency_places_are_given_back() {
        let l = Limiter::new(Defaults::default());
        let eff = Effective {
            max_concurrent: Some(2),
            ..Effective::default()
        };
        let a = l.enter(&key(1), &eff).unwrap();
        let b = l.enter(&key(1), &eff).unwrap();
        assert!(a.is_some() && b.is_some());
        assert_eq!(
            l.enter(&key(1), &eff).err().unwrap().kind,
            Kind::Concurrency
        );
        drop(a);
        assert!(l.enter(&key(1), &eff).unwrap().is_some());
        assert!(l.enter(&key(9), &Effective::default()).unwrap().is_none());
    }

    #[test]
    fn the_daily_quota_resets_at_utc_midnight() {
        let l = Limiter::new(Defaults::default());
        let eff = Effective {
            daily_calls: Some(3),
            ..Effective::default()
        };
        let noon = 20_000 * 86_400 + 43_200;
        for _ in 0..3 {
            l.tool_call(&key(1), &eff, noon).unwrap();
        }
        let r = l.tool_call(&key(1), &eff, noon).unwrap_err();
        assert_eq!(r.kind, Kind::Daily);
        assert_eq!(r.retry_after_ms, 43_200_000);
        assert!(
            l.tool_call(&key(1), &eff, noon + 43_200).is_ok(),
            "a new day"
        );
    }

    #[test]
    fn tool_rates_are_per_key_and_per_tool() {
        let l = Limiter::new(Defaults::default());
        let rate = Rate::parse("2/m").unwrap();
        let t0 = Instant::now();
        let search: Arc<str> = Arc::from("team/github__search");
        let other: Arc<str> = Arc::from("team/github__other");
        assert!(l.tool_rate(&key(1), &search, rate, t0).is_ok());
        assert!(l.tool_rate(&key(1), &search, rate, t0).is_ok());
        let r = l.tool_rate(&key(1), &search, rate, t0).unwrap_err();
        assert!(r.message.contains("github__search"), "{}", r.message);
        assert_eq!(r.retry_after_ms, 30_000);
        assert!(
            l.tool_rate(&key(2), &search, rate, t0).is_ok(),
            "another key"
        );
        assert!(
            l.tool_rate(&key(1), &other, rate, t0).is_ok(),
            "another tool"
        );
        l.forget(&key(1));
        assert!(l.tool_rate(&key(1), &search, rate, t0).is_ok(), "forgotten");
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
