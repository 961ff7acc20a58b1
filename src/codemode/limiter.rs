//! Runs at once: per key ([`Bounds::runs_per_key`](super::Bounds)) and in total
//! ([`Bounds::runs`](super::Bounds)). A caller acquires a [`RunPermit`] before a run and
//! holds it to the run's end; dropping it gives the places back. An anonymous caller
//! (an open namespace) counts under one shared key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::base::KeyId;

/// The limiter, shared by every run of the process.
#[derive(Clone)]
pub struct RunLimiter(Arc<Inner>);

struct Inner {
    per_key: usize,
    total: usize,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    /// Runs per key (`None`: anonymous callers); a key with none is removed.
    keys: HashMap<Option<KeyId>, usize>,
}

/// A refusal: which bound is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    #[error("this key already has {0} code runs at once")]
    Key(usize),
    #[error("the gateway already has {0} code runs at once")]
    Total(usize),
}

impl Busy {
    /// The name of the setting that bounds it (for `data.limit_name`).
    pub fn setting(self) -> &'static str {
        match self {
            Busy::Key(_) => "METAMCP_CODE_RUNS_PER_KEY",
            Busy::Total(_) => "METAMCP_CODE_RUNS",
        }
    }
}

/// A run's place; given back on drop.
pub struct RunPermit {
    inner: Arc<Inner>,
    key: Option<KeyId>,
}

impl RunLimiter {
    pub fn new(per_key: usize, total: usize) -> RunLimiter {
        RunLimiter(Arc::new(Inner {
            per_key,
            total,
            counts: Mutex::new(Counts::default()),
        }))
    }

    /// A place for one run of `key`, or which bound is full.
    pub fn acquire(&self, key: Option<KeyId>) -> Result<RunPermit, Busy> {
        let mut c = self.0.counts.lock().unwrap_or_else(|p| p.into_inner());
        let mine = c.keys.get(&key).copied().unwrap_or(0);
        if mine >= self.0.per_key {
            return Err(Busy::Key(self.0.per_key));
        }
        if c.total >= self.0.total {
            return Err(Busy::Total(self.0.total));
        }
        c.total += 1;
        c.keys.insert(key, mine + 1);
        Ok(RunPermit {
            inner: self.0.clone(),
            key,
        })
    }

    /// Runs held now, in total and by `key`.
    pub fn held(&self, key: Option<KeyId>) -> (usize, usize) {
        let c = self.0.counts.lock().unwrap_or_else(|p| p.into_inner());
        (c.total, c.keys.get(&key).copied().unwrap_or(0))
    }
}

impl Drop for RunPermit {
    fn drop(&mut self) {
        let mut c = self.inner.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.keys.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.keys.remove(&self.key);
            }
        }
    }
}
