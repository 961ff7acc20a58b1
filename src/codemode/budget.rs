//! The bytes of inner results a run holds outside its engine: each inner call's answer as
//! it is read, and once read until the script's engine has taken it. A run has a budget
//! of its own ([`Bounds::results`](super::Bounds)) and the process one over every run
//! ([`Bounds::results_total`](super::Bounds)); the reader of an answer grows its call's
//! [`Charge`] before it buffers more, and an answer that would pass either budget is cut
//! off there and refused ([`Over`]). A charge is given back when its last holder drops
//! it: the call refused, or its result handed to the engine (whose heap has a bound of
//! its own).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The budget over every run of the process.
#[derive(Debug)]
pub struct Pool {
    /// Bytes one run holds at most.
    per_run: usize,
    /// Bytes every run together holds at most.
    total: usize,
    held: AtomicUsize,
}

impl Pool {
    pub fn new(per_run: usize, total: usize) -> Arc<Pool> {
        Arc::new(Pool {
            per_run,
            total,
            held: AtomicUsize::new(0),
        })
    }

    /// A budget that never refuses (a limiter built without one: tests, benches).
    pub fn unbounded() -> Arc<Pool> {
        Pool::new(usize::MAX, usize::MAX)
    }

    /// Bytes every run holds now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    /// One run's budget, drawing on this pool.
    pub fn run(self: &Arc<Pool>) -> Arc<RunResults> {
        Arc::new(RunResults {
            pool: self.clone(),
            held: AtomicUsize::new(0),
        })
    }
}

/// One run's budget.
#[derive(Debug)]
pub struct RunResults {
    pool: Arc<Pool>,
    held: AtomicUsize,
}

impl RunResults {
    /// Bytes this run holds now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }
}

/// Why an answer was cut off: the budget it would have passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Over {
    #[error(
        "the inner call's answer would pass the run's {} MiB for inner results held at once \
         (METAMCP_CODE_RESULTS_MB): ask the tool for less, await fewer large calls together, \
         or ask an admin to raise it",
        .0 >> 20
    )]
    Run(usize),
    #[error(
        "the gateway's code runs hold {} MiB of inner results, their bound \
         (METAMCP_CODE_RESULTS_TOTAL_MB): try again shortly, or ask an admin to raise it",
        .0 >> 20
    )]
    Total(usize),
}

impl Over {
    /// The name of the setting that bounds it (for `data.limit`).
    pub fn setting(self) -> &'static str {
        match self {
            Over::Run(_) => "METAMCP_CODE_RESULTS_MB",
            Over::Total(_) => "METAMCP_CODE_RESULTS_TOTAL_MB",
        }
    }
}

/// One inner call's share of its run's budget; clones share it, and the last one dropped
/// gives it back.
#[derive(Clone, Debug)]
pub struct Charge(Arc<Held>);

#[derive(Debug)]
struct Held {
    run: Arc<RunResults>,
    bytes: AtomicUsize,
}

impl Charge {
    /// A charge of nothing yet, against `run`.
    pub fn new(run: &Arc<RunResults>) -> Charge {
        Charge(Arc::new(Held {
            run: run.clone(),
            bytes: AtomicUsize::new(0),
        }))
    }

    /// Bytes charged.
    pub fn bytes(&self) -> usize {
        self.0.bytes.load(Ordering::Acquire)
    }

    /// Raises the charge to as much of `most` as the budgets have room for, at least
    /// `least`: the bytes now charged, or refused (charging nothing more) when not even
    /// `least` fits. A reader that cannot double its buffer takes the room left at once,
    /// rather than growing it piece by piece.
    pub fn grow_within(&self, least: usize, most: usize) -> Result<usize, Over> {
        if self.grow_to(most).is_ok() {
            return Ok(self.bytes());
        }
        let run = &self.0.run;
        let pool = &run.pool;
        let room =
            (pool.per_run.saturating_sub(run.held())).min(pool.total.saturating_sub(pool.held()));
        let target = self.bytes().saturating_add(room).clamp(least, most);
        self.grow_to(target)
            .or_else(|_| self.grow_to(least))
            .map(|()| self.bytes())
    }

    /// Gives back what is charged (the answer it was for is gone: cut off, or broken).
    pub fn release(&self) {
        let bytes = self.0.bytes.swap(0, Ordering::AcqRel);
        self.0.run.held.fetch_sub(bytes, Ordering::AcqRel);
        self.0.run.pool.held.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Raises the charge to `bytes` (nothing when it is that already), or refuses it,
    /// charging nothing more, when the run's or the process's budget would be passed.
    pub fn grow_to(&self, bytes: usize) -> Result<(), Over> {
        let now = self.bytes();
        let Some(more) = bytes.checked_sub(now).filter(|m| *m > 0) else {
            return Ok(());
        };
        let run = &self.0.run;
        let pool = &run.pool;
        take(&run.held, more, pool.per_run).map_err(|()| Over::Run(pool.per_run))?;
        if take(&pool.held, more, pool.total).is_err() {
            run.held.fetch_sub(more, Ordering::AcqRel);
            return Err(Over::Total(pool.total));
        }
        self.0.bytes.fetch_add(more, Ordering::AcqRel);
        Ok(())
    }
}

/// Adds `more` to `held` if the sum stays within `limit`.
fn take(held: &AtomicUsize, more: usize, limit: usize) -> Result<(), ()> {
    held.fetch_update(Ordering::AcqRel, Ordering::Acquire, |h| {
        h.checked_add(more).filter(|sum| *sum <= limit)
    })
    .map(|_| ())
    .map_err(|_| ())
}

impl Drop for Held {
    fn drop(&mut self) {
        let bytes = *self.bytes.get_mut();
        self.run.held.fetch_sub(bytes, Ordering::AcqRel);
        self.run.pool.held.fetch_sub(bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_holds_at_most_its_budget_and_gets_it_back_when_its_charges_go() {
        let pool = Pool::new(100, 1_000);
        let run = pool.run();
        let a = Charge::new(&run);
        let b = Charge::new(&run);
        assert_eq!(a.grow_to(60), Ok(()));
        assert_eq!(a.grow_to(40), Ok(()), "a charge never shrinks by growing");
        assert_eq!(b.grow_to(41), Err(Over::Run(100)));
        assert_eq!((b.bytes(), run.held(), pool.held()), (0, 60, 60));
        assert_eq!(b.grow_to(40), Ok(()));
        let kept = a.clone();
        drop(a);
        assert_eq!(run.held(), 100, "a clone still holds it");
        drop(kept);
        assert_eq!((run.held(), pool.held()), (40, 40));
        b.release();
        assert_eq!((b.bytes(), run.held(), pool.held()), (0, 0, 0));
        assert_eq!(b.grow_to(100), Ok(()), "released, it may grow again");
        b.release();
        // As much as there is room for, at least what is needed.
        let c = Charge::new(&run);
        assert_eq!(c.grow_to(30), Ok(()));
        assert_eq!(b.grow_within(10, 200), Ok(70));
        assert_eq!(b.grow_within(80, 200), Err(Over::Run(100)));
        assert_eq!((b.bytes(), run.held()), (70, 100));
        drop(c);
        assert_eq!(b.grow_within(71, 80), Ok(80));
        drop(b);
        assert_eq!((run.held(), pool.held()), (0, 0));
    }

    #[test]
    fn runs_together_hold_at_most_the_total() {
        let pool = Pool::new(100, 250);
        let runs: Vec<_> = (0..4).map(|_| pool.run()).collect();
        let charges: Vec<_> = runs.iter().map(Charge::new).collect();
        assert_eq!(charges[0].grow_to(100), Ok(()));
        assert_eq!(charges[1].grow_to(100), Ok(()));
        assert_eq!(charges[2].grow_to(100), Err(Over::Total(250)));
        assert_eq!((runs[2].held(), pool.held()), (0, 200));
        assert_eq!(charges[2].grow_to(50), Ok(()));
        assert_eq!(charges[3].grow_to(1), Err(Over::Total(250)));
        drop(charges);
        assert_eq!(pool.held(), 0);
        assert!(Over::Run(32 << 20).to_string().contains("32 MiB"));
        assert_eq!(Over::Total(1).setting(), "METAMCP_CODE_RESULTS_TOTAL_MB");
    }

    #[test]
    fn many_threads_charging_at_once_never_pass_the_total() {
        let pool = Pool::new(1 << 20, 10_000);
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    let run = pool.run();
                    let mut kept = Vec::new();
                    for i in 0..1_000 {
                        let c = Charge::new(&run);
                        if c.grow_to(1 + i % 97).is_ok() {
                            kept.push(c);
                        }
                        assert!(pool.held() <= 10_000);
                        if kept.len() > 20 {
                            kept.clear();
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(pool.held(), 0);
    }
}
