//! Client connections: the bounds on how many are served (in total and per address), what
//! each one is doing, and which one gives way when the bounds are reached.
//!
//! A connection is *busy* while a request on it is being handled or its response is still
//! being sent, and *idle* otherwise. Idle connections cost the gateway little but occupy a
//! slot, so slots must never be lost to clients that connect and send nothing:
//! - every connection must start a request within the idle limit of being accepted (or
//!   of its last request ending), whatever protocol it turns out to speak, or it is
//!   closed ([`Conn::idle_for`], watched by the connection's own task);
//! - when the total or an address's share is reached, the oldest idle connection (one
//!   that never sent a request first) is closed to make room ([`Connections::admit`]);
//!   only when every connection is busy does a new one wait (total) or get refused
//!   (per address).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use foldhash::HashMap;
use tokio::sync::Notify;

/// One accepted connection, shared by its task and the service answering on it.
#[derive(Debug)]
pub struct Conn {
    id: u64,
    peer: IpAddr,
    /// Requests being handled or answered on this connection.
    busy: AtomicUsize,
    /// Requests started so far (the idle watchdog compares it between ticks).
    started: AtomicU64,
    /// Set once the connection was asked to close to make room.
    evicting: AtomicBool,
    /// Wakes the connection's task to close it gracefully.
    pub evict: Notify,
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
}

impl Connections {
    pub fn new(max: usize, max_per_address: usize) -> Connections {
        Connections {
            table: Mutex::default(),
            max: max.max(1),
            max_per_address: max_per_address.max(1),
            closed: Notify::new(),
            evictions: AtomicU64::new(0),
        }
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
            evicting: AtomicBool::new(false),
            evict: Notify::new(),
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
        let evicting = candidates()
            .filter(|c| c.evicting.load(Ordering::Relaxed))
            .count();
        if evicting > over {
            return true;
        }
        let idle = |c: &&Arc<Conn>| !c.is_busy() && !c.evicting.load(Ordering::Relaxed);
        let victim = candidates()
            .filter(idle)
            .find(|c| c.started() == 0)
            .or_else(|| candidates().find(idle));
        match victim {
            Some(c) => {
                c.evicting.store(true, Ordering::Relaxed);
                c.evict.notify_one();
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

    /// Asks every connection to finish what it is doing and close.
    pub fn close_all(&self) {
        let t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        for c in t.open.values() {
            c.evicting.store(true, Ordering::Relaxed);
            c.evict.notify_one();
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
        assert!(b.evicting.load(Ordering::Relaxed));
        assert!(!a.evicting.load(Ordering::Relaxed));
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
        assert!(silent1.evicting.load(Ordering::Relaxed));
        assert!(!used.evicting.load(Ordering::Relaxed));
        // One eviction already in progress covers one newcomer, not two.
        c.admit(ip("10.0.0.4")).unwrap();
        assert!(silent2.evicting.load(Ordering::Relaxed));
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
