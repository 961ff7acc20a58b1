//! Tasks backends run for clients, as the gateway records them (`tasks`): who each
//! belongs to, for `tasks/list` on any replica and for the bound on a key's tasks.
//! Also the channel replicas pass a session's messages on (`pg_notify`).

use deadpool_postgres::Pool;

use crate::store::db::{CHANGES_CHANNEL, DbError};

/// One task, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The id the client was given.
    pub id: String,
    pub key_id: String,
    pub namespace: Option<String>,
    /// Unix seconds after which the row goes.
    pub expires: u64,
    /// The task as the client last saw it.
    pub task: serde_json::Value,
}

/// How many tasks the key holds now (expired rows are swept on the way).
pub async fn live(pool: &Pool, key_id: &str) -> Result<u64, DbError> {
    let client = pool.get().await?;
    client
        .execute("DELETE FROM tasks WHERE expires_at < now()", &[])
        .await?;
    let row = client
        .query_one(
            "SELECT count(*) FROM tasks WHERE key_id = $1 AND expires_at >= now()",
            &[&key_id],
        )
        .await?;
    Ok(row.get::<_, i64>(0).max(0) as u64)
}

pub async fn insert(pool: &Pool, r: &Row) -> Result<(), DbError> {
    let client = pool.get().await?;
    client
        .execute(
            "INSERT INTO tasks (id, key_id, namespace, expires_at, task)
             VALUES ($1, $2, $3, to_timestamp($4::float8), $5)
             ON CONFLICT (id) DO NOTHING",
            &[&r.id, &r.key_id, &r.namespace, &(r.expires as f64), &r.task],
        )
        .await?;
    Ok(())
}

/// Keeps the task as the client last saw it (what `tasks/list` shows while its owner
/// cannot be asked).
pub async fn update(pool: &Pool, id: &str, task: &serde_json::Value) -> Result<(), DbError> {
    let client = pool.get().await?;
    client
        .execute("UPDATE tasks SET task = $2 WHERE id = $1", &[&id, task])
        .await?;
    Ok(())
}

pub async fn remove(pool: &Pool, id: &str) -> Result<(), DbError> {
    let client = pool.get().await?;
    client
        .execute("DELETE FROM tasks WHERE id = $1", &[&id])
        .await?;
    Ok(())
}

/// The caller's live tasks, oldest first, from `after` (a position [`page`] gave) on:
/// at most `limit`, and the position of the next page if there is one.
pub async fn page(
    pool: &Pool,
    key_id: &str,
    namespace: Option<&str>,
    after: i64,
    limit: usize,
) -> Result<(Vec<Row>, Option<i64>), DbError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT id, key_id, namespace, extract(epoch FROM expires_at)::bigint, task,
                    (extract(epoch FROM created_at) * 1000000)::bigint AS at
             FROM tasks
             WHERE key_id = $1 AND namespace IS NOT DISTINCT FROM $2 AND expires_at >= now()
               AND (extract(epoch FROM created_at) * 1000000)::bigint > $3
             ORDER BY created_at, id LIMIT $4",
            &[&key_id, &namespace, &after, &(limit as i64 + 1)],
        )
        .await?;
    let mut out: Vec<Row> = Vec::with_capacity(rows.len());
    let mut next = None;
    for (i, r) in rows.iter().enumerate() {
        if i == limit {
            break;
        }
        out.push(Row {
            id: r.get(0),
            key_id: r.get(1),
            namespace: r.get(2),
            expires: r.get::<_, i64>(3).max(0) as u64,
            task: r.get(4),
        });
        if i + 1 == limit && rows.len() > limit {
            next = Some(r.get::<_, i64>(5));
        }
    }
    Ok((out, next))
}

/// Passes a message for a session to every replica (the one holding its stream
/// delivers it). Payloads over PostgreSQL's 8000 bytes are not sent.
pub async fn announce(
    pool: &Pool,
    origin: &str,
    conversation: &str,
    message: &[u8],
) -> Result<(), DbError> {
    let payload = serde_json::json!({
        "table": "session_messages",
        "origin": origin,
        "conversation": conversation,
        "message": String::from_utf8_lossy(message),
    })
    .to_string();
    if payload.len() >= 8000 {
        return Err(DbError::Task(format!(
            "a session message of {} bytes is too large to pass between replicas",
            message.len()
        )));
    }
    let client = pool.get().await?;
    client
        .execute("SELECT pg_notify($1, $2)", &[&CHANGES_CHANNEL, &payload])
        .await?;
    Ok(())
}
