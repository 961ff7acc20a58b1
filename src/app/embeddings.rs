//! The worker behind tool search's embeddings ([`crate::search::semantic::Store`]): the
//! tools wanted are first looked up in PostgreSQL (`tool_embeddings`, shared by the
//! replicas: a definition one replica embedded is not embedded again, and a restart
//! reads them back), the rest are computed on the blocking pool, a few at a time (one
//! core at most, whatever a backend's list does), what was asked for last first (a view
//! just built does not wait behind an earlier one's tools), and written back. Rows no
//! view has used for 30 days are deleted once a day. (The background catalogue's
//! embeddings are the build's: `search/background.rs`.)

use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::mpsc;

use crate::search::semantic::{self, DIM, Key, Store, Vector, Wanted};
use crate::state::State;
use crate::store::db::DbError;

/// Tools embedded in one go on the blocking pool (so searches see progress).
const CHUNK: usize = 8;

/// How often unused rows are deleted, and after how long unused.
const PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);
const UNUSED_FOR: &str = "30 days";

/// Runs until the gateway's state is gone or another worker took the store's queue.
pub async fn run(
    state: Weak<State>,
    store: Arc<Store>,
    mut wanted: mpsc::UnboundedReceiver<Vec<Wanted>>,
) {
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let batch = tokio::select! {
            b = wanted.recv() => match b {
                Some(b) => b,
                None => return,
            },
            _ = prune.tick() => {
                let Some(state) = state.upgrade() else { return };
                match prune_unused(&state.db.pool).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "unused tool embeddings deleted"),
                    Err(e) => tracing::warn!(error = %e, "could not delete unused tool embeddings"),
                }
                continue;
            }
        };
        let Some(state) = state.upgrade() else { return };
        embed(&state.db.pool, &store, batch, &mut wanted).await;
    }
}

/// Embeddings of `batch`: read back, or computed and written. What is wanted meanwhile
/// goes first: a view's own tools, asked for when it is built, do not wait behind what
/// was asked for before.
async fn embed(
    pool: &Pool,
    store: &Store,
    batch: Vec<Wanted>,
    wanted: &mut mpsc::UnboundedReceiver<Vec<Wanted>>,
) {
    let mut queue: VecDeque<Wanted> = VecDeque::new();
    let mut incoming = batch;
    loop {
        while let Ok(more) = wanted.try_recv() {
            incoming.extend(more);
        }
        if !incoming.is_empty() {
            read_back(pool, store, &incoming).await;
            for w in incoming.drain(..).rev() {
                queue.push_front(w);
            }
        }
        queue.retain(|(k, _)| store.get(k).is_none());
        if queue.is_empty() {
            return;
        }
        let chunk: Vec<Wanted> = queue.drain(..CHUNK.min(queue.len())).collect();
        compute(pool, store, chunk).await;
    }
}

/// Puts what PostgreSQL holds of `wanted` into the store.
async fn read_back(pool: &Pool, store: &Store, wanted: &[Wanted]) {
    let keys: Vec<Key> = wanted
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| store.get(k).is_none())
        .collect();
    if keys.is_empty() {
        return;
    }
    match load(pool, &keys).await {
        Ok(found) => store.put(found),
        Err(e) => tracing::warn!(error = %e, "tool embeddings could not be read; computing them"),
    }
}

/// Computes one chunk on the blocking pool, keeps it and writes it.
async fn compute(pool: &Pool, store: &Store, chunk: Vec<Wanted>) {
    let computed = tokio::task::spawn_blocking(move || {
        chunk
            .into_iter()
            .map(|(k, text)| (k, semantic::embed_tool(&text)))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let mut done = Vec::with_capacity(computed.len());
    for (key, v) in computed {
        match v {
            Ok(v) => done.push((key, v)),
            Err(e) => {
                tracing::warn!(error = %e, "a tool's embedding failed");
                store.give_up([key]);
            }
        }
    }
    store.put(done.iter().cloned());
    if let Err(e) = save(pool, &done).await {
        tracing::warn!(error = %e, "tool embeddings could not be written (they are kept in memory)");
    }
}

/// The stored embeddings of `keys`, their use noted (at most once a day a row).
async fn load(pool: &Pool, keys: &[Key]) -> Result<Vec<(Key, Vector)>, DbError> {
    let client = pool.get().await?;
    let wanted: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
    let rows = client
        .query(
            "UPDATE tool_embeddings SET used_at = now()
             WHERE key = ANY($1) AND used_at < now() - interval '1 day'
             RETURNING key",
            &[&wanted],
        )
        .await?;
    drop(rows);
    let rows = client
        .query(
            "SELECT key, vector FROM tool_embeddings WHERE key = ANY($1)",
            &[&wanted],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let key: Key = r.get::<_, &[u8]>(0).try_into().ok()?;
            Some((key, decode(r.get(1))?))
        })
        .collect())
}

async fn save(pool: &Pool, done: &[(Key, Vector)]) -> Result<(), DbError> {
    if done.is_empty() {
        return Ok(());
    }
    let keys: Vec<&[u8]> = done.iter().map(|(k, _)| &k[..]).collect();
    let vectors: Vec<Vec<u8>> = done.iter().map(|(_, v)| encode(v)).collect();
    pool.get()
        .await?
        .execute(
            "INSERT INTO tool_embeddings (key, vector)
             SELECT * FROM unnest($1::bytea[], $2::bytea[])
             ON CONFLICT (key) DO NOTHING",
            &[&keys, &vectors],
        )
        .await?;
    Ok(())
}

async fn prune_unused(pool: &Pool) -> Result<u64, DbError> {
    Ok(pool
        .get()
        .await?
        .execute(
            &format!("DELETE FROM tool_embeddings WHERE used_at < now() - interval '{UNUSED_FOR}'"),
            &[],
        )
        .await?)
}

fn encode(v: &Vector) -> Vec<u8> {
    v.iter().flat_map(|f| f.to_le_bytes()).collect()
}

fn decode(bytes: &[u8]) -> Option<Vector> {
    if bytes.len() != DIM * 4 {
        return None;
    }
    let mut v = [0f32; DIM];
    for (f, b) in v.iter_mut().zip(bytes.chunks_exact(4)) {
        *f = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    Some(std::sync::Arc::new(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_go_to_bytes_and_back() {
        let mut v = [0f32; DIM];
        v[0] = 1.5;
        v[DIM - 1] = -0.25;
        let v: Vector = std::sync::Arc::new(v);
        let bytes = encode(&v);
        assert_eq!(bytes.len(), 1536);
        assert_eq!(decode(&bytes).as_deref(), Some(&*v));
        assert!(decode(&bytes[1..]).is_none());
    }
}
