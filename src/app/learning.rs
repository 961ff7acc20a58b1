//! Tool search's learning kept in PostgreSQL ([`crate::search::learning::kept`]): every
//! [`EVERY`] the shares moved here are written, what any replica wrote since the last
//! look is merged in (the first look, at start, reads everything: a restart keeps the
//! learning), and once an hour the rows that have faded are deleted.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::search::learning::{Learning, kept};
use crate::state::State;
use crate::store::search_learning as store;

/// How often moved shares are written and others' read.
pub const EVERY: Duration = Duration::from_secs(3);
/// Rows read at once.
const BATCH: i64 = 10_000;
/// Rows whose write committed late are read again within this margin (merging a row
/// twice changes nothing).
const OVERLAP_MS: i64 = 2_000;
/// How often faded rows are deleted.
const SWEEP_EVERY: u64 = 3_600;

pub(super) async fn run(state: Weak<State>, learning: Arc<Learning>) {
    let mut since = 0i64;
    let mut swept = 0u64;
    loop {
        let Some(state) = state.upgrade() else { return };
        let pool = &state.db.pool;
        let moved = learning.take_moved();
        if let Err(e) = store::save(pool, &moved).await {
            tracing::warn!(error = %e, "could not write tool search's learning; retrying");
            learning.put_back(moved);
        }
        match store::changed_since(pool, since, BATCH).await {
            Ok((rows, newest)) => {
                let full = rows.len() as i64 == BATCH;
                learning.merge(rows);
                since = if full { newest } else { newest - OVERLAP_MS }.max(since);
            }
            Err(e) => tracing::warn!(error = %e, "could not read tool search's learning"),
        }
        let now = crate::base::unix_now();
        if now >= swept + SWEEP_EVERY {
            swept = now;
            if let Err(e) = store::sweep(pool, now.saturating_sub(kept::FADED_AFTER_SECS)).await {
                tracing::debug!(error = %e, "could not delete faded learning");
            }
        }
        drop(state);
        tokio::time::sleep(EVERY).await;
    }
}
