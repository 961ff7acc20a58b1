//! What one replica holds of a key's shared limits, spent from memory: tokens leased from
//! the key's bucket, places in flight (slots), and a block of the day's calls. Each is a
//! small state machine under its own lock; a step answers at once (taken, refused) or
//! says that the lease must be renewed first ([`Step::Renew`]), which the caller does in
//! PostgreSQL (`super::replicas`) and then steps again. Nothing here does I/O.
//!
//! [`Mode`] says where the limit is kept: in PostgreSQL ([`Mode::Shared`]), or, while the
//! database is away or absent, in this process alone at a share of it
//! ([`Mode::Local`]`(n)`: the limit divided by the `n` replicas last seen; a daily quota
//! is never shared out, see [`Daily`]).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::base::KeyId;

/// How far ahead a lease of tokens covers the demand it has seen.
pub const TOKEN_HORIZON: Duration = Duration::from_millis(100);
/// How far ahead a block of the day's calls covers the demand it has seen.
pub const DAILY_HORIZON: Duration = Duration::from_secs(1);
/// A lease not used for this long is given back.
pub const IDLE_RETURN: Duration = Duration::from_secs(1);
/// Spare places in flight are kept this long after the last change, then given back.
pub const SPARE_HOLD: Duration = Duration::from_millis(200);
/// After the shared count said "full", how long places are refused before asking again.
pub const FULL_RECHECK: Duration = Duration::from_millis(100);
/// After the day's calls were all reserved, how long before asking again (other replicas
/// may give back what they did not spend).
pub const DAILY_RECHECK: Duration = Duration::from_secs(1);
/// The window over which demand is measured.
const WINDOW: Duration = Duration::from_millis(250);

/// Where a limit is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// In PostgreSQL, for every replica.
    Shared,
    /// In this process, at `1/n` of the limit.
    Local(u32),
}

/// The outcome of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Taken; `renew_soon`: the lease runs low, renew it in the background.
    Taken { renew_soon: bool },
    /// Refused; come back in this many milliseconds.
    Refused(u64),
    /// The lease is spent: renew it, then step again.
    Renew,
}

/// What a look at a lease says of the next step, without taking it ([`Tokens::peek`],
/// [`Slots::peek`], [`Daily::peek`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peek {
    /// It would be taken.
    Free,
    /// It would be refused; come back in this many milliseconds.
    Refused(u64),
    /// The lease holds none: the shared count decides.
    Ask,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn ms_until(t: Instant, now: Instant) -> u64 {
    t.saturating_duration_since(now).as_millis().max(1) as u64
}

/// Attempts per second, measured over windows of [`WINDOW`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Demand {
    start: Option<Instant>,
    count: u32,
    per_sec: f64,
}

impl Demand {
    fn note(&mut self, now: Instant) {
        let Some(start) = self.start else {
            self.start = Some(now);
            self.count = 1;
            return;
        };
        self.count += 1;
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= WINDOW {
            let seen = f64::from(self.count) / elapsed.as_secs_f64();
            // A window long after the last one says the demand fell.
            self.per_sec = if elapsed > 4 * WINDOW {
                seen
            } else {
                (self.per_sec + seen) / 2.0
            };
            self.start = Some(now);
            self.count = 0;
        }
    }

    /// The demand, at least what the current window shows so far.
    pub fn per_sec(&self, now: Instant) -> f64 {
        let current = match self.start {
            Some(s) => {
                let e = now.saturating_duration_since(s).as_secs_f64().max(0.05);
                f64::from(self.count) / e
            }
            None => 0.0,
        };
        self.per_sec.max(current)
    }
}

/// A token bucket kept in this process (the local share).
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    pub fn full(capacity: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: capacity,
            updated: now,
        }
    }

    /// Takes a token, or says in how many milliseconds one will be there.
    pub fn take(&mut self, per_sec: f64, capacity: f64, now: Instant) -> Result<(), u64> {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * per_sec).min(capacity);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err((((1.0 - self.tokens) / per_sec) * 1000.0).ceil().max(1.0) as u64)
        }
    }

    pub fn is_full(&self, per_sec: f64, capacity: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens + elapsed * per_sec >= capacity
    }
}

/// Tokens of one shared bucket (a key's rate, or a key's rate for one tool).
pub struct TokenLease {
    pub key: KeyId,
    /// `""`: the key's rate; otherwise the namespace tool's id.
    pub scope: Arc<str>,
    state: Mutex<Tokens>,
    /// Held while this lease is renewed on the request path, so that one request renews
    /// and the others wait for it.
    pub renewing: tokio::sync::Mutex<()>,
}

/// A token lease's state.
#[derive(Debug)]
pub struct Tokens {
    /// Leased and not spent.
    pub tokens: f64,
    /// Below this many, the lease is renewed in the background (half of the last ask).
    low_water: f64,
    /// The limit they were leased under (per second, capacity).
    under: (f64, f64),
    /// The shared bucket said it is empty until then.
    empty_until: Option<Instant>,
    /// The local share's bucket.
    local: Option<Bucket>,
    demand: Demand,
    pub last: Instant,
    /// Waiting for the background renewal.
    pub queued: bool,
}

impl TokenLease {
    pub fn new(key: KeyId, scope: Arc<str>, now: Instant) -> TokenLease {
        TokenLease {
            key,
            scope,
            state: Mutex::new(Tokens {
                tokens: 0.0,
                low_water: 0.0,
                under: (0.0, 0.0),
                empty_until: None,
                local: None,
                demand: Demand::default(),
                last: now,
                queued: false,
            }),
            renewing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, Tokens> {
        lock(&self.state)
    }
}

impl Tokens {
    /// One request against a bucket of `capacity` filling at `per_sec`.
    pub fn take(&mut self, per_sec: f64, capacity: f64, mode: Mode, now: Instant) -> Step {
        if self.under != (per_sec, capacity) {
            // The limit changed: what was leased under the old one is cut.
            self.under = (per_sec, capacity);
            self.tokens = 0.0;
            self.empty_until = None;
            self.local = None;
        }
        self.demand.note(now);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            let renew_soon = mode == Mode::Shared && !self.queued && self.tokens < self.low_water;
            if renew_soon {
                self.queued = true;
            }
            return Step::Taken { renew_soon };
        }
        match mode {
            Mode::Shared => match self.empty_until {
                Some(t) if t > now => Step::Refused(ms_until(t, now)),
                _ => Step::Renew,
            },
            Mode::Local(n) => {
                let n = f64::from(n.max(1));
                let (rate, cap) = (per_sec / n, (capacity / n).max(1.0));
                let b = self.local.get_or_insert_with(|| Bucket::full(cap, now));
                match b.take(rate, cap, now) {
                    Ok(()) => Step::Taken { renew_soon: false },
                    Err(ms) => Step::Refused(ms),
                }
            }
        }
    }

    /// What [`Tokens::take`] would do, changing nothing.
    pub fn peek(&self, per_sec: f64, capacity: f64, mode: Mode, now: Instant) -> Peek {
        let same = self.under == (per_sec, capacity);
        if same && self.tokens >= 1.0 {
            return Peek::Free;
        }
        match mode {
            Mode::Shared => match self.empty_until.filter(|_| same) {
                Some(t) if t > now => Peek::Refused(ms_until(t, now)),
                _ => Peek::Ask,
            },
            Mode::Local(n) => {
                let n = f64::from(n.max(1));
                let (rate, cap) = (per_sec / n, (capacity / n).max(1.0));
                let mut b = self
                    .local
                    .filter(|_| same)
                    .unwrap_or_else(|| Bucket::full(cap, now));
                match b.take(rate, cap, now) {
                    Ok(()) => Peek::Free,
                    Err(ms) => Peek::Refused(ms),
                }
            }
        }
    }

    /// How many tokens to ask for: the demand over [`TOKEN_HORIZON`], within the bucket.
    pub fn want(&self, now: Instant) -> f64 {
        (self.demand.per_sec(now) * TOKEN_HORIZON.as_secs_f64())
            .ceil()
            .clamp(1.0, self.under.1.max(1.0))
    }

    /// The limit the lease is under (per second, capacity).
    pub fn under(&self) -> (f64, f64) {
        self.under
    }

    /// What the shared bucket granted for an ask of `asked`.
    pub fn granted(&mut self, asked: f64, granted: f64, wait_ms: f64, now: Instant) {
        self.tokens += granted;
        self.low_water = asked / 2.0;
        self.queued = false;
        self.empty_until = (granted < asked && self.tokens < 1.0)
            .then(|| now + Duration::from_millis(wait_ms.clamp(1.0, 60_000.0) as u64));
    }

    /// The unspent tokens, taken out to be given back.
    pub fn give_back(&mut self) -> f64 {
        let whole = self.tokens.floor();
        self.tokens -= whole;
        whole
    }

    /// Whether it holds nothing a fresh lease would not (so it may be forgotten).
    pub fn is_idle(&self, now: Instant) -> bool {
        self.tokens < 1.0
            && now.saturating_duration_since(self.last) >= IDLE_RETURN
            && self
                .local
                .is_none_or(|b| b.is_full(self.under.0, self.under.1, now))
    }
}

/// Which places in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    /// MCP requests (`max_concurrent`).
    Calls,
    /// Long-lived streams (`METAMCP_KEY_MAX_STREAMS`).
    Streams,
}

impl SlotKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SlotKind::Calls => "calls",
            SlotKind::Streams => "streams",
        }
    }
}

/// Places in flight of one key and kind: the ones this replica holds in the shared count.
pub struct SlotLease {
    pub key: KeyId,
    pub kind: SlotKind,
    state: Mutex<Slots>,
    pub renewing: tokio::sync::Mutex<()>,
}

/// A slot lease's state.
#[derive(Debug)]
pub struct Slots {
    /// Places taken now.
    pub in_use: u32,
    /// Places held in the shared count (in use and spare).
    pub held: u32,
    /// The limit.
    pub max: u32,
    full_until: Option<Instant>,
    /// When `in_use` last changed.
    pub changed: Instant,
}

impl SlotLease {
    pub fn new(key: KeyId, kind: SlotKind, now: Instant) -> SlotLease {
        SlotLease {
            key,
            kind,
            state: Mutex::new(Slots {
                in_use: 0,
                held: 0,
                max: 0,
                full_until: None,
                changed: now,
            }),
            renewing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, Slots> {
        lock(&self.state)
    }

    /// Gives a place back.
    pub fn leave(&self, now: Instant) {
        let mut s = self.state();
        s.in_use = s.in_use.saturating_sub(1);
        s.changed = now;
    }
}

impl Slots {
    /// Takes a place under `max`.
    pub fn enter(&mut self, max: u32, mode: Mode, now: Instant) -> Step {
        if max != self.max {
            self.max = max;
            self.full_until = None;
        }
        let free = match mode {
            Mode::Shared => self.in_use < self.held.min(max),
            Mode::Local(n) => self.in_use < (max / n.max(1)).max(1),
        };
        if free {
            self.in_use += 1;
            self.changed = now;
            return Step::Taken { renew_soon: false };
        }
        match (mode, self.full_until) {
            (Mode::Shared, Some(t)) if t > now => Step::Refused(ms_until(t, now)),
            (Mode::Shared, _) if self.in_use < max => Step::Renew,
            _ => Step::Refused(FULL_RECHECK.as_millis() as u64),
        }
    }

    /// What [`Slots::enter`] would do, changing nothing.
    pub fn peek(&self, max: u32, mode: Mode, now: Instant) -> Peek {
        let free = match mode {
            Mode::Shared => self.in_use < self.held.min(max),
            Mode::Local(n) => self.in_use < (max / n.max(1)).max(1),
        };
        if free {
            return Peek::Free;
        }
        match (mode, self.full_until.filter(|_| max == self.max)) {
            (Mode::Shared, Some(t)) if t > now => Peek::Refused(ms_until(t, now)),
            (Mode::Shared, _) if self.in_use < max => Peek::Ask,
            _ => Peek::Refused(FULL_RECHECK.as_millis() as u64),
        }
    }

    /// How many places to hold: the ones in use, one more, and a quarter spare.
    pub fn want(&self) -> u32 {
        let n = self.in_use + 1;
        (n + n / 4).min(self.max)
    }

    /// What the shared count left this replica after giving some back.
    pub fn released(&mut self, held: u32) {
        self.held = held;
    }

    /// What the shared count left this replica after an ask.
    pub fn granted(&mut self, held: u32, now: Instant) {
        self.held = held;
        self.full_until = (held <= self.in_use).then(|| now + FULL_RECHECK);
    }

    /// The places to hold after giving spares back, when some have been spare long enough
    /// (or the limit fell below what is held).
    pub fn to_release(&self, now: Instant) -> Option<u32> {
        let keep = self.in_use.min(self.max);
        (self.held > keep
            && (self.held > self.max || now.saturating_duration_since(self.changed) >= SPARE_HOLD))
            .then_some(keep)
    }
}

/// What the day's count answered.
#[derive(Debug, Clone, Copy)]
pub struct Reservation {
    pub granted: u64,
    pub used: u64,
    pub day: i32,
    pub until_midnight_ms: i64,
}

/// A key's block of the day's tool calls.
pub struct DailyLease {
    pub key: KeyId,
    state: Mutex<Daily>,
    pub renewing: tokio::sync::Mutex<()>,
}

/// A daily block's state.
///
/// Every call served while the process has a database is one PostgreSQL has already
/// counted: it comes out of a block reserved there (`used` includes it). While the
/// database is away, a replica serves only what is left of its block and refuses the
/// rest; nothing is counted here to be charged later, so a replica killed before the
/// database returns owes nothing, and what it held unspent is lost for the day: the key
/// gets fewer calls that day, never more. Only a process without any database counts
/// the day itself ([`Daily::counted_alone`]).
#[derive(Debug)]
pub struct Daily {
    /// Reserved calls not spent (already counted in PostgreSQL).
    pub block: u64,
    /// Below this many, a block is reserved in the background (half of the last ask).
    low_water: u64,
    /// The day the block is of (days since 1970-01-01, UTC, the database's clock).
    pub day: i32,
    /// When that day ends.
    ends: Option<Instant>,
    /// The day's count in PostgreSQL, as last seen (without a database: this process's).
    pub used: u64,
    /// The quota the block was reserved under.
    quota: u64,
    exhausted_until: Option<Instant>,
    /// Unspent calls to give back (the quota changed).
    pub give: u64,
    /// The process has no database: its own count is the day's.
    alone: bool,
    demand: Demand,
    pub last: Instant,
    pub queued: bool,
}

/// What one reservation statement carries for a lease, taken out of the lease when
/// the statement is made ([`Daily::order`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyOrder {
    /// Calls asked for.
    pub want: u64,
    /// Unspent calls given back.
    pub give: u64,
    /// The day they were reserved on (a give-back of another day counts for nothing).
    pub day: i32,
    /// When the statement was sent: the answer's time to midnight counts from here, so
    /// an answer that lands late never stretches its day past PostgreSQL's midnight.
    pub sent: Instant,
}

impl DailyLease {
    pub fn new(key: KeyId, now: Instant) -> DailyLease {
        DailyLease {
            key,
            state: Mutex::new(Daily {
                block: 0,
                low_water: 0,
                day: 0,
                ends: None,
                used: 0,
                quota: 0,
                exhausted_until: None,
                give: 0,
                alone: false,
                demand: Demand::default(),
                last: now,
                queued: false,
            }),
            renewing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, Daily> {
        lock(&self.state)
    }
}

impl Daily {
    /// One tool call against `quota`; `until_midnight`: the time left in the UTC day by
    /// this process's clock (used only when the database never said).
    pub fn take(&mut self, quota: u64, mode: Mode, now: Instant, until_midnight: Duration) -> Step {
        if quota != self.quota {
            self.quota = quota;
            self.give += std::mem::take(&mut self.block);
            self.exhausted_until = None;
        }
        let ends = *self.ends.get_or_insert(now + until_midnight);
        if now >= ends {
            // A new day: the old day's block and count are over.
            self.block = 0;
            self.give = 0;
            self.used = 0;
            self.exhausted_until = None;
            self.ends = Some(now + until_midnight);
        }
        self.demand.note(now);
        self.last = now;
        let day_left = self
            .ends
            .map_or(until_midnight, |e| e.saturating_duration_since(now));
        let refused = Step::Refused(day_left.as_millis().max(1) as u64);
        if self.block > 0 {
            self.block -= 1;
            let renew_soon = mode == Mode::Shared
                && !self.queued
                && self.used < quota
                && self.block < self.low_water;
            if renew_soon {
                self.queued = true;
            }
            return Step::Taken { renew_soon };
        }
        match mode {
            Mode::Shared => match self.exhausted_until {
                Some(t) if t > now => refused,
                _ => Step::Renew,
            },
            // No database at all: this process's count is the day's.
            Mode::Local(_) if self.alone => {
                if self.used < quota {
                    self.used += 1;
                    Step::Taken { renew_soon: false }
                } else {
                    refused
                }
            }
            // The database is away and the block is spent: a call more would be one
            // PostgreSQL never counted, which a SIGKILL before it returns would grant
            // on top of the day. Refused until it answers.
            Mode::Local(_) => Step::Refused(DAILY_RECHECK.as_millis() as u64),
        }
    }

    /// What [`Daily::take`] would do, changing nothing.
    pub fn peek(&self, quota: u64, mode: Mode, now: Instant, until_midnight: Duration) -> Peek {
        let same = quota == self.quota;
        let ends = self.ends.unwrap_or(now + until_midnight);
        let new_day = now >= ends;
        let (block, used) = match new_day {
            true => (0, 0),
            false => (if same { self.block } else { 0 }, self.used),
        };
        let day_left = match new_day {
            true => until_midnight,
            false => ends.saturating_duration_since(now),
        };
        let refused = Peek::Refused(day_left.as_millis().max(1) as u64);
        if block > 0 {
            return Peek::Free;
        }
        match mode {
            Mode::Shared => match self.exhausted_until.filter(|_| same && !new_day) {
                Some(t) if t > now => refused,
                _ => Peek::Ask,
            },
            Mode::Local(_) if self.alone => match used < quota {
                true => Peek::Free,
                false => refused,
            },
            Mode::Local(_) => Peek::Refused(DAILY_RECHECK.as_millis() as u64),
        }
    }

    /// How many calls to reserve: the demand over [`DAILY_HORIZON`], at most half of what
    /// is left divided among `replicas`, at least one.
    pub fn want(&self, now: Instant) -> u64 {
        self.want_among(now, 1)
    }

    pub fn want_among(&self, now: Instant, replicas: u32) -> u64 {
        let demand = (self.demand.per_sec(now) * DAILY_HORIZON.as_secs_f64()).ceil() as u64;
        let fair = self.quota.saturating_sub(self.used) / (2 * u64::from(replicas.max(1)));
        demand.min(fair).max(1)
    }

    pub fn quota(&self) -> u64 {
        self.quota
    }

    /// Takes out of the lease what a reservation statement carries: `want` calls more,
    /// and back what waits to be given back (with the unspent block when `all_back`).
    pub fn order(&mut self, want: u64, all_back: bool, sent: Instant) -> DailyOrder {
        let mut give = std::mem::take(&mut self.give);
        if all_back {
            give += std::mem::take(&mut self.block);
        }
        DailyOrder {
            want,
            give,
            day: self.day,
            sent,
        }
    }

    /// The statement's answer to `order` (`None`: it failed or timed out). A failed
    /// statement may still have been counted (a timeout after the commit): what it gave
    /// back is not given again, and what it reserved is not served. Either way the key
    /// gets fewer calls that day, never more.
    pub fn answered(&mut self, order: &DailyOrder, r: Option<Reservation>, now: Instant) {
        match r {
            Some(r) => self.reserved(order.want, r, order.sent, now),
            None => self.queued = false,
        }
    }

    /// What PostgreSQL answered, at `now`, an ask of `asked` calls sent at `sent`:
    /// `granted` calls of day `day`, its count now `used`, and `until_midnight_ms` left of
    /// it when PostgreSQL read its clock (after `sent`, so `sent` plus that is never past
    /// midnight).
    pub fn reserved(&mut self, asked: u64, r: Reservation, sent: Instant, now: Instant) {
        if r.day != self.day {
            self.block = 0;
        }
        self.day = r.day;
        self.block += r.granted;
        if asked > 0 {
            self.low_water = asked / 2;
        }
        self.used = r.used;
        self.queued = false;
        self.ends = Some(sent + Duration::from_millis(r.until_midnight_ms.max(1) as u64));
        self.exhausted_until = (asked > 0 && self.block == 0).then(|| now + DAILY_RECHECK);
    }

    /// Whether no call has been made for [`IDLE_RETURN`] (its block goes back).
    pub fn quiet(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last) >= IDLE_RETURN
    }

    /// The count is this process's alone (it has no database): its own is the day's.
    pub fn counted_alone(&mut self) {
        self.alone = true;
    }

    /// Whether it holds nothing (so it may be forgotten). A process alone keeps the
    /// day's count of a key while that day lasts.
    pub fn is_idle(&self, now: Instant) -> bool {
        self.block == 0
            && self.give == 0
            && !(self.alone && self.used > 0 && self.ends.is_some_and(|e| e > now))
            && now.saturating_duration_since(self.last) >= IDLE_RETURN
    }
}

/// A place in flight, given back when dropped.
pub struct Place(pub Arc<SlotLease>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.leave(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> KeyId {
        KeyId::parse("0123456789abcdef").unwrap()
    }

    #[test]
    fn a_token_lease_is_spent_from_memory_renewed_when_low_and_cut_when_the_limit_changes() {
        let t0 = Instant::now();
        let lease = TokenLease::new(key(), Arc::from(""), t0);
        let mut s = lease.state();
        // Nothing leased yet: renew first.
        assert_eq!(s.take(10.0, 10.0, Mode::Shared, t0), Step::Renew);
        let want = s.want(t0);
        assert!((1.0..=10.0).contains(&want), "{want}");
        s.granted(4.0, 4.0, 0.0, t0);
        // Spent from memory; below half of what it wants, queued for the background once.
        let mut soon = 0;
        for _ in 0..4 {
            match s.take(10.0, 10.0, Mode::Shared, t0) {
                Step::Taken { renew_soon } => soon += u32::from(renew_soon),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(soon, 1, "queued once");
        assert!(s.queued);
        s.queued = false;
        assert_eq!(s.take(10.0, 10.0, Mode::Shared, t0), Step::Renew);
        // The bucket is empty: refused at once until it said, then asked again.
        s.granted(2.0, 0.0, 250.0, t0);
        assert_eq!(s.take(10.0, 10.0, Mode::Shared, t0), Step::Refused(250));
        let later = t0 + Duration::from_millis(300);
        assert_eq!(s.take(10.0, 10.0, Mode::Shared, later), Step::Renew);
        // A new limit cuts what was leased under the old one.
        s.granted(5.0, 5.0, 0.0, later);
        assert_eq!(s.tokens, 5.0);
        assert_eq!(s.take(1.0, 1.0, Mode::Shared, later), Step::Renew);
        assert_eq!(s.tokens, 0.0);
        assert_eq!(s.under(), (1.0, 1.0));
    }

    #[test]
    fn a_token_lease_keeps_a_share_locally_and_gives_back_whole_tokens() {
        let t0 = Instant::now();
        let lease = TokenLease::new(key(), Arc::from("ns/tool"), t0);
        let mut s = lease.state();
        // Degraded among two replicas: half the burst of 10, half the rate.
        let through = (0..20)
            .filter(|_| matches!(s.take(10.0, 10.0, Mode::Local(2), t0), Step::Taken { .. }))
            .count();
        assert_eq!(through, 5);
        assert_eq!(s.take(10.0, 10.0, Mode::Local(2), t0), Step::Refused(200));
        let t1 = t0 + Duration::from_secs(1);
        let more = (0..20)
            .filter(|_| matches!(s.take(10.0, 10.0, Mode::Local(2), t1), Step::Taken { .. }))
            .count();
        assert_eq!(more, 5, "5/s");
        s.granted(3.0, 2.5, 0.0, t1);
        assert_eq!(s.give_back(), 2.0);
        assert!(s.tokens < 1.0);
        assert!(!s.is_idle(t1));
        assert!(s.is_idle(t1 + Duration::from_secs(2)));
    }

    #[test]
    fn demand_follows_the_requests_seen() {
        let t0 = Instant::now();
        let mut d = Demand::default();
        assert_eq!(d.per_sec(t0), 0.0);
        for i in 0..100 {
            d.note(t0 + Duration::from_millis(i * 5));
        }
        let r = d.per_sec(t0 + Duration::from_millis(500));
        assert!((100.0..=300.0).contains(&r), "{r}");
        // A long pause: the next window says the demand fell.
        d.note(t0 + Duration::from_secs(10));
        d.note(t0 + Duration::from_secs(11));
        assert!(d.per_sec(t0 + Duration::from_secs(11)) < 10.0);
    }

    #[test]
    fn places_are_held_asked_for_and_spares_given_back() {
        let t0 = Instant::now();
        let lease = Arc::new(SlotLease::new(key(), SlotKind::Calls, t0));
        {
            let mut s = lease.state();
            assert_eq!(s.enter(3, Mode::Shared, t0), Step::Renew);
            assert_eq!(s.want(), 1);
            s.granted(2, t0);
            assert_eq!(
                s.enter(3, Mode::Shared, t0),
                Step::Taken { renew_soon: false }
            );
            assert_eq!(
                s.enter(3, Mode::Shared, t0),
                Step::Taken { renew_soon: false }
            );
            assert_eq!(s.enter(3, Mode::Shared, t0), Step::Renew);
            // The shared count is full: refused without asking for a moment.
            s.granted(2, t0);
            assert!(matches!(s.enter(3, Mode::Shared, t0), Step::Refused(_)));
            assert_eq!(s.in_use, 2);
        }
        let place = Place(lease.clone());
        drop(place);
        let s = lease.state();
        assert_eq!(s.in_use, 1);
        assert_eq!(s.to_release(t0), None, "kept while recent");
        assert_eq!(s.to_release(t0 + SPARE_HOLD * 2), Some(1));
        drop(s);
        let mut s = lease.state();
        s.released(1);
        // Degraded among three replicas: a third of 3, at least one.
        s.in_use = 0;
        assert_eq!(
            s.enter(3, Mode::Local(3), t0),
            Step::Taken { renew_soon: false }
        );
        assert!(matches!(s.enter(3, Mode::Local(3), t0), Step::Refused(_)));
        assert_eq!(SlotKind::Streams.as_str(), "streams");
    }

    #[test]
    fn a_daily_block_is_spent_reserved_again_and_over_at_midnight() {
        let t0 = Instant::now();
        let lease = DailyLease::new(key(), t0);
        let mut s = lease.state();
        let hour = Duration::from_secs(3600);
        assert_eq!(s.take(10, Mode::Shared, t0, hour), Step::Renew);
        assert_eq!(s.want_among(t0, 3), 1);
        let r = Reservation {
            granted: 3,
            used: 3,
            day: 20_000,
            until_midnight_ms: 1000,
        };
        s.reserved(3, r, t0, t0);
        for _ in 0..3 {
            assert!(matches!(
                s.take(10, Mode::Shared, t0, hour),
                Step::Taken { .. }
            ));
        }
        assert_eq!(s.take(10, Mode::Shared, t0, hour), Step::Renew);
        // Nothing left in PostgreSQL: refused until the day ends, asked again a second on.
        let none = Reservation {
            granted: 0,
            used: 10,
            day: 20_000,
            until_midnight_ms: 1000,
        };
        s.reserved(1, none, t0, t0);
        assert!(matches!(s.take(10, Mode::Shared, t0, hour), Step::Refused(ms) if ms <= 1000));
        // Midnight (by the database's clock): a new day.
        let next = t0 + Duration::from_millis(1500);
        assert_eq!(s.take(10, Mode::Shared, next, hour), Step::Renew);
        assert_eq!(s.used, 0);
        // Degraded: nothing reserved, nothing served (no call PostgreSQL did not count).
        let taken = (0..10)
            .filter(|_| matches!(s.take(10, Mode::Local(2), next, hour), Step::Taken { .. }))
            .count();
        assert_eq!(taken, 0);
        // A changed quota gives the block back.
        s.block = 2;
        let _ = s.take(20, Mode::Shared, next, hour);
        assert_eq!((s.block, s.give, s.quota()), (0, 2, 20));
        assert!(!s.is_idle(next + Duration::from_secs(5)));
        assert!(s.quiet(next + Duration::from_secs(5)));
    }

    #[test]
    fn while_the_database_is_away_only_the_reserved_block_is_served() {
        let t0 = Instant::now();
        let hour = Duration::from_secs(3600);
        let lease = DailyLease::new(key(), t0);
        let mut s = lease.state();
        // Never reserved: nothing while degraded, whatever the quota.
        assert_eq!(
            s.take(6, Mode::Local(1), t0, hour),
            Step::Refused(DAILY_RECHECK.as_millis() as u64)
        );
        // Two of six reserved (PostgreSQL counts them): those two, then refusals.
        let r = Reservation {
            granted: 2,
            used: 2,
            day: 20_000,
            until_midnight_ms: 3_600_000,
        };
        s.reserved(2, r, t0, t0);
        let taken = (0..6)
            .filter(|_| matches!(s.take(6, Mode::Local(1), t0, hour), Step::Taken { .. }))
            .count();
        assert_eq!(taken, 2, "the block, nothing PostgreSQL did not count");
        assert_eq!((s.block, s.used), (0, 2));
        // Back: reserved again.
        assert_eq!(s.take(6, Mode::Shared, t0, hour), Step::Renew);
    }

    #[test]
    fn a_process_without_a_database_counts_the_day_itself() {
        let t0 = Instant::now();
        let hour = Duration::from_secs(3600);
        let lease = DailyLease::new(key(), t0);
        let mut s = lease.state();
        s.counted_alone();
        let taken = (0..6)
            .filter(|_| matches!(s.take(4, Mode::Local(1), t0, hour), Step::Taken { .. }))
            .count();
        assert_eq!(taken, 4);
        assert!(
            !s.is_idle(t0 + Duration::from_secs(5)),
            "the day's count is kept"
        );
        assert!(s.is_idle(t0 + hour), "until the day ends");
    }

    #[test]
    fn a_failed_statement_gives_nothing_back_twice() {
        let t0 = Instant::now();
        let lease = DailyLease::new(key(), t0);
        let mut s = lease.state();
        let r = Reservation {
            granted: 5,
            used: 5,
            day: 20_000,
            until_midnight_ms: 3_600_000,
        };
        s.reserved(5, r, t0, t0);
        let order = s.order(0, true, t0);
        assert_eq!(
            order,
            DailyOrder {
                want: 0,
                give: 5,
                day: 20_000,
                sent: t0,
            }
        );
        assert_eq!(s.block, 0);
        // The statement may have been counted before it timed out: not given again.
        s.answered(&order, None, t0);
        assert_eq!((s.block, s.give), (0, 0));
        assert_eq!(s.order(0, false, t0).give, 0);
    }

    #[test]
    fn a_peek_says_what_the_step_would_do_and_spends_nothing() {
        let t0 = Instant::now();
        let day = Duration::from_secs(3600);
        // Tokens: a local share of two, then none; a shared lease asks when it holds none.
        let tokens = TokenLease::new(key(), Arc::from(""), t0);
        let mut s = tokens.state();
        for _ in 0..2 {
            for _ in 0..5 {
                assert_eq!(s.peek(1.0, 2.0, Mode::Local(1), t0), Peek::Free);
            }
            assert!(matches!(
                s.take(1.0, 2.0, Mode::Local(1), t0),
                Step::Taken { .. }
            ));
        }
        assert_eq!(s.peek(1.0, 2.0, Mode::Local(1), t0), Peek::Refused(1000));
        assert_eq!(s.peek(1.0, 2.0, Mode::Shared, t0), Peek::Ask);
        s.granted(1.0, 1.0, 0.0, t0);
        assert_eq!(s.peek(1.0, 2.0, Mode::Shared, t0), Peek::Free);
        // Leased under another limit: cut, as the step would cut it.
        assert_eq!(s.peek(2.0, 2.0, Mode::Shared, t0), Peek::Ask);
        assert!(matches!(
            s.take(1.0, 2.0, Mode::Shared, t0),
            Step::Taken { .. }
        ));
        drop(s);
        // Places: one, taken; the look finds it taken and leaves it so.
        let slots = SlotLease::new(key(), SlotKind::Calls, t0);
        let mut s = slots.state();
        assert_eq!(s.peek(1, Mode::Local(1), t0), Peek::Free);
        assert_eq!(s.in_use, 0);
        assert!(matches!(s.enter(1, Mode::Local(1), t0), Step::Taken { .. }));
        assert!(matches!(s.peek(1, Mode::Local(1), t0), Peek::Refused(_)));
        assert_eq!(s.peek(2, Mode::Shared, t0), Peek::Ask);
        assert_eq!(s.in_use, 1);
        drop(s);
        // The day, counted alone: one call, then refused until midnight.
        let daily = DailyLease::new(key(), t0);
        let mut s = daily.state();
        s.counted_alone();
        assert_eq!(s.peek(1, Mode::Local(1), t0, day), Peek::Free);
        assert!(matches!(
            s.take(1, Mode::Local(1), t0, day),
            Step::Taken { .. }
        ));
        assert_eq!(s.peek(1, Mode::Local(1), t0, day), Peek::Refused(3_600_000));
        // A new day, looked at: free, and the count is left for the step to reset.
        assert_eq!(s.peek(1, Mode::Local(1), t0 + day, day), Peek::Free);
        assert_eq!(s.used, 1);
    }
}
