//! What tool search learned, kept (`sql/0035_search_learning.sql`): each replica writes
//! the cells its pairs moved ([`save`]) and reads what any replica wrote since it last
//! looked ([`changed_since`]), so replicas agree and a restart keeps the learning; rows
//! whose weight has faded are deleted ([`sweep`]).

use deadpool_postgres::Pool;

use crate::base::KeyId;
use crate::search::learning::Row;
use crate::store::db::DbError;

/// Writes `rows` (one key's weight in a cell, as of its `at`); a row already there is
/// replaced only by a later one.
pub async fn save(pool: &Pool, rows: &[Row]) -> Result<(), DbError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut namespaces = Vec::with_capacity(rows.len());
    let (mut terms, mut tools, mut keys) = (Vec::new(), Vec::new(), Vec::new());
    let (mut weights, mut ats) = (Vec::new(), Vec::new());
    for r in rows {
        namespaces.push(r.namespace.as_str());
        terms.push(r.term.as_str());
        tools.push(r.tool.as_str());
        keys.push(r.key.as_str());
        weights.push(r.weight);
        ats.push(i64::try_from(r.at).unwrap_or(i64::MAX));
    }
    let client = pool.get().await?;
    client
        .execute(
            "INSERT INTO search_learning (namespace, term, tool, key_id, weight, at) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::real[], $6::bigint[]) \
             ON CONFLICT (namespace, term, tool, key_id) DO UPDATE \
             SET weight = excluded.weight, at = excluded.at, changed = now() \
             WHERE search_learning.at <= excluded.at",
            &[&namespaces, &terms, &tools, &keys, &weights, &ats],
        )
        .await?;
    Ok(())
}

/// The rows written after `since` (the database's clock, unix milliseconds; 0: all),
/// at most `limit`, with the newest `changed` read (the next call's `since`).
pub async fn changed_since(
    pool: &Pool,
    since_ms: i64,
    limit: i64,
) -> Result<(Vec<Row>, i64), DbError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT namespace, term, tool, key_id, weight, at, \
                    (extract(epoch FROM changed) * 1000)::bigint AS changed_ms \
             FROM search_learning WHERE changed > to_timestamp($1::bigint / 1000.0) \
             ORDER BY changed LIMIT $2",
            &[&since_ms, &limit],
        )
        .await?;
    let mut newest = since_ms;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        newest = newest.max(r.get::<_, i64>(6));
        let Some(key) = KeyId::parse(r.get::<_, &str>(3)) else {
            continue;
        };
        out.push(Row {
            namespace: r.get(0),
            term: r.get(1),
            tool: r.get(2),
            key,
            weight: r.get(4),
            at: u64::try_from(r.get::<_, i64>(5)).unwrap_or(0),
        });
    }
    Ok((out, newest))
}

/// Deletes the rows last moved before `before` (unix seconds): their weight has faded.
pub async fn sweep(pool: &Pool, before: u64) -> Result<u64, DbError> {
    let before = i64::try_from(before).unwrap_or(i64::MAX);
    let client = pool.get().await?;
    Ok(client
        .execute("DELETE FROM search_learning WHERE at < $1", &[&before])
        .await?)
}
