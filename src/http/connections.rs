//! Client connections: the bounds on how many are served (in total and per address), what
//! each one is doing, and which one gives way when the bounds are reached.
//!
//! A connection is *busy* while a request on it is being handled or its response is still
//! being sent, and *idle* otherwise. Idle connections cost the gateway little but occupy a
//! slot, so slots must never be lost to clients that connect and send nothing:
//! - every connection must start a request within the idle limit of being accepted (or
//!   of its last request ending), whatever protocol it turns out to speak, or it is
//!   closed ([`Connections::sweep`], one sweeper for every connection);
//! - when the total or an address's share is reached, the oldest idle connection (one
//!   that never sent a request first) is closed to make room ([`Connections::admit`]);
//!   only when every connection is busy does a new one wait (total) or get refused
//!   (per address).
//!
//! The request path pays two relaxed atomic additions per request for this; idleness is
//! found by one sweeper for all connections ([`Connections::sweep`]), and a connection's
//! task learns it must close through an atomic flag and waker ([`Conn::poll_closing`]), so a
//! connection's task polls no timer and takes no lock while it serves. The sweeper runs
//! every [`sweep_interval`] of the idle limit: a connection silent for the limit is closed
//! no earlier than the limit and no later than two intervals after it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use foldhash::HashMap;
use futures_util::task::AtomicWaker;
use tokio::sync::Notify;

/// Why a connection is asked to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// Idle past the limit, or making room for another connection.
    Idle,
    /// The gateway is shutting down.
    Shutdown,
}

/// One accepted connection, shared by its task and the service answering on it.
#[derive(Debug)]
pub struct Conn {
    id: u64,
    peer: IpAddr,
    /// Requests being handled or answered on this connection.
    busy: AtomicUsize,
    /// Requests started so far (the sweeper compares it between sweeps).
    started: AtomicU64,
    /// What the last sweep saw: `started` then, and since when (milliseconds after
    /// [`Connections::epoch`]) the connection has been seen idle with no new request:
    /// its accept, or the sweep that last saw it busy or with a new request.
    swept_started: AtomicU64,
    idle_since_ms: AtomicU64,
    /// 0 while open; otherwise why it must close ([`Close`] as 1 + its index).
    close: AtomicU8,
    /// Speaks HTTP/2, whose GOAWAY tells a client which requests were not taken.
    multiplexed: AtomicBool,
    /// The connection's task, woken when `close` is set.
    waker: AtomicWaker,
}

impl Conn {
    /// Marks a request as started; the guard marks it finished when dropped (once its
    /// response has been sent, or the connection is gone).
    pub fn begin(self: &Arc<Self>) -> Busy {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.busy.fetch_add(1, Ordering::Relaxed);
        Busy(self.clone())
    }

    /// Requests started so far.
    pub fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed) > 0
    }

    pub fn peer(&self) -> IpAddr {
        self.peer
    }

    /// Marks the connection as HTTP/2 (known once its first bytes are read).
    pub fn set_multiplexed(&self) {
        self.multiplexed.store(true, Ordering::Relaxed);
    }

    /// Asks the connection's task to close (the first reason given wins, except that
    /// shutdown overrides idleness).
    pub fn ask_to_close(&self, why: Close) {
        let v = match why {
            Close::Idle => 1,
            Close::Shutdown => 2,
        };
        if self.close.fetch_max(v, Ordering::AcqRel) < v {
            self.waker.wake();
        }
    }

    fn is_closing(&self) -> bool {
        self.close.load(Ordering::Acquire) != 0
    }

    /// Ready with the reason once the connection is asked to close.
    pub fn poll_closing(&self, cx: &mut Context<'_>) -> Poll<Close> {
        let read = || match self.close.load(Ordering::Acquire) {
            0 => None,
            1 => Some(Close::Idle),
            _ => Some(Close::Shutdown),
        };
        if let Some(c) = read() {
            return Poll::Ready(c);
        }
        self.waker.register(cx.waker());
        match read() {
            Some(c) => Poll::Ready(c),
            None => Poll::Pending,
        }
    }
}

/// A request in progress on a connection.
#[derive(Debug)]
pub struct Busy(Arc<Conn>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why a new connection is not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Every slot is held by a busy connection: wait for one to close.
    Full,
    /// This address holds its whole share, all busy: the new connection is closed.
    AddressFull,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    /// Open connections by id (ids grow, so the first entries are the oldest).
    open: BTreeMap<u64, Arc<Conn>>,
    per_address: HashMap<IpAddr, usize>,
}

/// Every open connection of this process.
pub struct Connections {
    table: Mutex<Table>,
    max: usize,
    max_per_address: usize,
    /// Signalled whenever a connection closes.
    closed: Notify,
    /// Connections asked to close to make room (for tests and metrics).
    evictions: AtomicU64,
    /// Where the sweeper's clock starts.
    epoch: Instant,
}

/// While draining, how long an HTTP/1.1 connection may stay quiet before it is closed
/// (one that carries a request closes after its answer).
pub const DRAIN_QUIET: Duration = Duration::from_secs(1);

/// How often the sweeper looks at every connection: a fortieth of the idle limit, at
/// least 10 ms and at most 250 ms (a silent connection is closed at most two of these
/// after the limit: half a second past the 30 s default).
pub fn sweep_interval(idle_limit: Duration) -> Duration {
    (idle_limit / 40).clamp(Duration::from_millis(10), Duration::from_millis(250))
}

impl Connections {
    pub fn new(max: usize, max_per_address: usize) -> Connections {
        Connections {
            table: Mutex::default(),
            max: max.max(1),
            max_per_address: max_per_address.max(1),
            closed: Notify::new(),
            evictions: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    fn ms_since_epoch(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// Takes a slot for a connection from `peer`, closing an idle connection to make room
    /// when a bound is reached.
    pub fn admit(&self, peer: IpAddr) -> Result<Arc<Conn>, Refused> {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let from_peer = t.per_address.get(&peer).copied().unwrap_or(0);
        // Connections being evicted still hold their slots until they close; they are
        // counted as room already made.
        if from_peer >= self.max_per_address
            && !self.make_room(&t, Some(peer), from_peer - self.max_per_address)
        {
            return Err(Refused::AddressFull);
        }
        if t.open.len() >= self.max && !self.make_room(&t, None, t.open.len() - self.max) {
            return Err(Refused::Full);
        }
        t.next_id += 1;
        let conn = Arc::new(Conn {
            id: t.next_id,
            peer,
            busy: AtomicUsize::new(0),
            started: AtomicU64::new(0),
            swept_started: AtomicU64::new(0),
            idle_since_ms: AtomicU64::new(self.ms_since_epoch(Instant::now())),
            close: AtomicU8::new(0),
            multiplexed: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        });
        t.open.insert(conn.id, conn.clone());
        *t.per_address.entry(peer).or_insert(0) += 1;
        Ok(conn)
    }

    /// Asks the oldest idle connection (of `peer`, or of anyone) to close, preferring one
    /// that never sent a request. `over` is how far past the bound the table already is:
    /// that many evictions in progress must be outnumbered first.
    fn make_room(&self, t: &Table, peer: Option<IpAddr>, over: usize) -> bool {
        let candidates = || t.open.values().filter(|c| peer.is_none_or(|p| c.peer == p));
        let evicting = candidates().filter(|c| c.is_closing()).count();
        if evicting > over {
            return true;
        }
        let idle = |c: &&Arc<Conn>| !c.is_busy() && !c.is_closing();
        let victim = candidates()
            .filter(idle)
            .find(|c| c.started() == 0)
            .or_else(|| candidates().find(idle));
        match victim {
            Some(c) => {
                c.ask_to_close(Close::Idle);
                self.evictions.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(peer = %c.peer, "idle connection closed to make room");
                true
            }
            None => false,
        }
    }

    /// Gives back the slot of a connection that ended.
    pub fn release(&self, conn: &Conn) {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if t.open.remove(&conn.id).is_some()
            && let Some(n) = t.per_address.get_mut(&conn.peer)
        {
            *n -= 1;
            if *n == 0 {
                t.per_address.remove(&conn.peer);
            }
        }
        drop(t);
        self.closed.notify_waiters();
    }

    /// Completes when some connection closes after this call (call
    /// [`Connections::admit`] again then).
    pub fn wait_for_close(&self) -> tokio::sync::futures::Notified<'_> {
        self.closed.notified()
    }

    /// Open connections.
    pub fn open(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .open
            .len()
    }

    /// Connections closed so far to make room for others.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// The first step of a drain once new connections are refused: HTTP/2 connections
    /// are asked to close (GOAWAY names the last stream taken, so a client knows what to
    /// send elsewhere). HTTP/1.1 has no such signal: closing an idle keep-alive
    /// connection races a request the client may be sending on it, a request it cannot
    /// safely send again. Those connections close after their next answer (which says
    /// `Connection: close`), or once quiet for a while ([`Connections::sweep`] with
    /// [`DRAIN_QUIET`]).
    pub fn close_multiplexed(&self) {
        let t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        for c in t.open.values() {
            if c.multiplexed.load(Ordering::Relaxed) {
                c.ask_to_close(Close::Shutdown);
            }
        }
    }

    /// One look at every connection, at `now`: one busy, or with a request started since
    /// the last look, is idle from now on at the earliest; one idle since `idle_limit` or
    /// longer is asked to close. So no connection closes before it has been silent for
    /// the limit, and, called every [`sweep_interval`], none stays open more than two
    /// intervals past it.
    pub fn sweep(&self, now: Instant, idle_limit: Duration) {
        let now_ms = self.ms_since_epoch(now);
        let limit_ms = u64::try_from(idle_limit.as_millis()).unwrap_or(u64::MAX);
        let t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        for c in t.open.values() {
            let started = c.started();
            if c.is_busy() || c.swept_started.swap(started, Ordering::Relaxed) != started {
                c.idle_since_ms.store(now_ms, Ordering::Relaxed);
                continue;
            }
            let since = c.idle_since_ms.load(Ordering::Relaxed);
            if now_ms.saturating_sub(since) >= limit_ms && !c.is_closing() {
                tracing::debug!(peer = %c.peer, "idle connection closed");
                c.ask_to_close(Close::Idle);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn idle_connections_give_way_and_busy_ones_do_not() {
        let c = Connections::new(2, 10);
        let a = c.admit(ip("10.0.0.1")).unwrap();
        let b = c.admit(ip("10.0.0.2")).unwrap();
        let _busy_a = a.begin();
        let _busy_b = b.begin();
        assert_eq!(c.admit(ip("10.0.0.3")).unwrap_err(), Refused::Full);
        drop(_busy_b);
        // b is idle now: it is asked to close, and the newcomer is admitted.
        let n = c.admit(ip("10.0.0.3")).unwrap();
        assert!(b.is_closing());
        assert!(!a.is_closing());
        assert_eq!(c.evictions(), 1);
        c.release(&b);
        c.release(&n);
        assert_eq!(c.open(), 1);
    }

    #[test]
    fn silent_connections_are_evicted_before_used_idle_ones() {
        let c = Connections::new(3, 10);
        let used = c.admit(ip("10.0.0.1")).unwrap();
        drop(used.begin());
        let silent1 = c.admit(ip("10.0.0.2")).unwrap();
        let silent2 = c.admit(ip("10.0.0.2")).unwrap();
        c.admit(ip("10.0.0.3")).unwrap();
        assert!(silent1.is_closing());
        assert!(!used.is_closing());
        // One eviction already in progress covers one newcomer, not two.
        c.admit(ip("10.0.0.4")).unwrap();
        assert!(silent2.is_closing());
    }

    #[test]
    fn sweeps_close_what_stayed_silent_for_the_limit_and_nothing_sooner() {
        let limit = Duration::from_secs(30);
        let c = Connections::new(10, 10);
        let t0 = Instant::now();
        let quiet = c.admit(ip("10.0.0.1")).unwrap();
        let active = c.admit(ip("10.0.0.2")).unwrap();
        let streaming = c.admit(ip("10.0.0.3")).unwrap();
        let _stream = streaming.begin();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        c.sweep(at(10_000), limit);
        drop(active.begin());
        c.sweep(at(20_000), limit);
        c.sweep(at(29_000), limit);
        assert!(!quiet.is_closing(), "silent for less than the limit");
        c.sweep(at(30_050), limit);
        assert!(quiet.is_closing(), "silent since its accept, for the limit");
        assert!(!active.is_closing(), "a request seen at 20 s");
        assert!(!streaming.is_closing(), "busy");
        c.sweep(at(49_900), limit);
        assert!(!active.is_closing());
        c.sweep(at(50_000), limit);
        assert!(active.is_closing());
        assert!(!streaming.is_closing());
    }

    #[test]
    fn the_sweep_interval_keeps_the_window_tight() {
        assert_eq!(
            sweep_interval(Duration::from_secs(30)),
            Duration::from_millis(250)
        );
        assert_eq!(
            sweep_interval(Duration::from_secs(2)),
            Duration::from_millis(50)
        );
        assert_eq!(
            sweep_interval(Duration::from_millis(100)),
            Duration::from_millis(10)
        );
    }

    #[test]
    fn one_address_cannot_take_every_slot() {
        let c = Connections::new(100, 2);
        let a = c.admit(ip("10.0.0.1")).unwrap();
        let b = c.admit(ip("10.0.0.1")).unwrap();
        let _x = a.begin();
        let _y = b.begin();
        assert_eq!(c.admit(ip("10.0.0.1")).unwrap_err(), Refused::AddressFull);
        assert!(
            c.admit(ip("10.0.0.2")).is_ok(),
            "other addresses unaffected"
        );
        c.release(&a);
        assert!(c.admit(ip("10.0.0.1")).is_ok());
    }
}
