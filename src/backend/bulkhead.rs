//! A bulkhead per backend: at most `max_concurrency` calls in flight at once, up to
//! [`QUEUE_PER_SLOT`] times as many waiting for a place, and any more refused at once,
//! so one slow backend holds a bounded share of the gateway and its callers learn at once
//! that it is busy.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Calls that may wait for a place, per place; beyond, calls are refused.
pub const QUEUE_PER_SLOT: usize = 4;

/// Places for calls in flight, and the calls waiting for one.
pub struct Bulkhead {
    cap: usize,
    slots: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
}

/// Counts a call waiting for a place while it waits (also when it is given up).
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Bulkhead {
    pub fn new(cap: usize) -> Bulkhead {
        let cap = cap.max(1);
        Bulkhead {
            cap,
            slots: Arc::new(Semaphore::new(cap)),
            waiting: Arc::default(),
        }
    }

    /// A place for one call, held until the permit is dropped: at once when one is free,
    /// after waiting when the queue has room, else refused with a message naming `server`.
    pub async fn enter(&self, server: &str) -> Result<OwnedSemaphorePermit, String> {
        if let Ok(p) = self.slots.clone().try_acquire_owned() {
            return Ok(p);
        }
        let queued = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _waiting = Waiting(self.waiting.clone());
        if queued >= self.cap * QUEUE_PER_SLOT {
            return Err(format!(
                "server `{server}` is busy: {} calls are in flight and {} waiting; retry later",
                self.cap,
                self.cap * QUEUE_PER_SLOT
            ));
        }
        self.slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| format!("server `{server}` is stopping"))
    }

    /// Calls in flight now.
    pub fn in_flight(&self) -> usize {
        self.cap - self.slots.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_wait_in_a_bounded_queue_and_the_rest_are_refused() {
        let b = Arc::new(Bulkhead::new(1));
        let first = b.enter("s").await.unwrap();
        assert_eq!(b.in_flight(), 1);
        let mut waiters = Vec::new();
        for _ in 0..QUEUE_PER_SLOT {
            let b = b.clone();
            waiters.push(tokio::spawn(async move { b.enter("s").await.map(drop) }));
        }
        // Every waiter is queued before the next call is tried.
        while b.waiting.load(Ordering::Acquire) < QUEUE_PER_SLOT {
            tokio::task::yield_now().await;
        }
        let refused = b.enter("s").await.unwrap_err();
        assert!(refused.contains("server `s` is busy"), "{refused}");
        drop(first);
        for w in waiters {
            w.await.unwrap().unwrap();
        }
        assert_eq!(b.in_flight(), 0);
        assert_eq!(b.waiting.load(Ordering::Acquire), 0);
    }
}
