//! Key usage: when each key was last used and how many calls it made, counted in
//! memory on the request path (one short lock, no I/O) and written to the database in
//! one statement every [`FLUSH_EVERY`] and at shutdown.

use std::sync::Mutex;
use std::time::Duration;

use deadpool_postgres::Pool;
use foldhash::HashMap;

use crate::store::db::DbError;

/// How often counted usage is written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(2);

/// Uses and calls per key id since the last flush.
#[derive(Default)]
pub struct Usage {
    pending: Mutex<HashMap<String, u64>>,
}

impl Usage {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key authenticated a request.
    pub fn used(&self, key_id: &str) {
        let mut map = self.lock();
        if !map.contains_key(key_id) {
            map.insert(key_id.to_string(), 0);
        }
    }

    /// The key made a call the gateway forwarded to a backend.
    pub fn called(&self, key_id: &str) {
        let mut map = self.lock();
        match map.get_mut(key_id) {
            Some(n) => *n += 1,
            None => {
                map.insert(key_id.to_string(), 1);
            }
        }
    }

    /// Writes what was counted (`last_used_at` now, `calls` added) in one statement;
    /// on failure the counts are kept for the next flush.
    pub async fn flush(&self, pool: &Pool) -> Result<usize, DbError> {
        let taken = std::mem::take(&mut *self.lock());
        if taken.is_empty() {
            return Ok(0);
        }
        let (ids, calls): (Vec<String>, Vec<i64>) =
            taken.iter().map(|(k, n)| (k.clone(), *n as i64)).unzip();
        let written = async {
            let client = pool.get().await?;
            client
                .execute(
                    "UPDATE api_keys a SET last_used_at = now(), calls = a.calls + u.n
                     FROM unnest($1::text[], $2::int8[]) AS u(id, n) WHERE a.id = u.id",
                    &[&ids, &calls],
                )
                .await
                .map_err(DbError::from)
        }
        .await;
        match written {
            Ok(n) => Ok(n as usize),
            Err(e) => {
                let mut map = self.lock();
                for (k, n) in taken {
                    *map.entry(k).or_default() += n;
                }
                Err(e)
            }
        }
    }
}
