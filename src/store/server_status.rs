//! Each replica's runtime view of each server it runs (status, last error, restarts,
//! tools listed), kept in PostgreSQL for `keyadm servers list|show`: keyadm reads only
//! the database, and the status lives in each gateway's memory. Written on every status
//! change (rare); a replica's rows go when it stops cleanly, and rows not written for a
//! day are pruned at the next write, so the table holds servers × running replicas.

use std::collections::HashMap;

use deadpool_postgres::Pool;
use uuid::Uuid;

use crate::store::db::DbError;

/// The longest `last_error` kept.
const MAX_ERROR: usize = 4096;

/// What one replica saw of a server last.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub status: String,
    pub last_error: Option<String>,
    pub restarts: i32,
    pub tools: i32,
    pub replica: String,
    /// When it was written (unix seconds).
    pub at: f64,
}

/// Records what `replica` sees of `server` now.
pub async fn record(pool: &Pool, server: Uuid, replica: &str, seen: &Seen) -> Result<(), DbError> {
    let client = pool.get().await?;
    let error = seen.last_error.as_deref().map(|e| {
        let mut cut = e.len().min(MAX_ERROR);
        while !e.is_char_boundary(cut) {
            cut -= 1;
        }
        &e[..cut]
    });
    client
        .execute(
            "INSERT INTO server_status (server_id, replica, status, last_error, restarts, tools)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (server_id, replica) DO UPDATE SET status = $3, last_error = $4,
                 restarts = $5, tools = $6, updated_at = clock_timestamp()",
            &[
                &server,
                &replica,
                &seen.status,
                &error,
                &seen.restarts,
                &seen.tools,
            ],
        )
        .await?;
    client
        .execute(
            "DELETE FROM server_status WHERE updated_at < now() - interval '1 day'",
            &[],
        )
        .await?;
    Ok(())
}

/// Forgets what `replica` saw (it stops).
pub async fn forget(pool: &Pool, replica: &str) -> Result<(), DbError> {
    let client = pool.get().await?;
    client
        .execute("DELETE FROM server_status WHERE replica = $1", &[&replica])
        .await?;
    Ok(())
}

/// The latest view of each server, by any replica.
pub async fn latest(pool: &Pool) -> Result<HashMap<Uuid, Seen>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT DISTINCT ON (server_id) server_id, status, last_error, restarts, tools,
                    replica, extract(epoch FROM updated_at)::float8
             FROM server_status ORDER BY server_id, updated_at DESC",
            &[],
        )
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        out.insert(
            r.try_get(0)?,
            Seen {
                status: r.try_get(1)?,
                last_error: r.try_get(2)?,
                restarts: r.try_get(3)?,
                tools: r.try_get(4)?,
                replica: r.try_get(5)?,
                at: r.try_get(6)?,
            },
        );
    }
    Ok(out)
}
