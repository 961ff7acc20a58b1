//! Runs at once: per key ([`Bounds::runs_per_key`](super::Bounds)) and in total
//! ([`Bounds::runs`](super::Bounds)). A caller acquires a [`RunPermit`] before a run and
//! holds it to the run's end; dropping it gives the places back. An anonymous caller
//! (an open namespace) counts under one shared key. A run's place carries its budget for
//! inner results ([`budget`](super::budget)), drawn from the limiter's pool over every run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::budget::{Pool, RunResults};
use crate::base::KeyId;

/// The limiter, shared by every run of the process.
#[derive(Clone)]
pub struct RunLimiter(Arc<Inner>);

struct Inner {
    per_key: usize,
    total: usize,
    counts: Mutex<Counts>,
    /// The bytes of inner results every run holds ([`Bounds::results_total`](super::Bounds)).
    results: Arc<Pool>,
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
    /// The run's budget for inner results.
    results: Arc<RunResults>,
}

impl RunPermit {
    /// The run's budget for its inner results.
    pub fn results(&self) -> Arc<RunResults> {
        self.results.clone()
    }
}

impl RunLimiter {
    /// Places for `per_key` runs of a key and `total` in all, their inner results
    /// unbounded ([`RunLimiter::bounded`] bounds them).
    pub fn new(per_key: usize, total: usize) -> RunLimiter {
        RunLimiter::with(per_key, total, Pool::unbounded())
    }

    /// The limiter `bounds` describe: places, and the budgets for inner results.
    pub fn bounded(bounds: &super::Bounds) -> RunLimiter {
        let pool = Pool::new(bounds.results, bounds.results_total);
        RunLimiter::with(bounds.runs_per_key, bounds.runs, pool)
    }

    fn with(per_key: usize, total: usize, results: Arc<Pool>) -> RunLimiter {
        RunLimiter(Arc::new(Inner {
            per_key,
            total,
            counts: Mutex::new(Counts::default()),
            results,
        }))
    }

    /// Bytes of inner results every run holds now.
    pub fn results_held(&self) -> usize {
        self.0.results.held()
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
            results: self.0.results.run(),
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
