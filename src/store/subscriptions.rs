//! Sessions' resource subscriptions in PostgreSQL (`resource_subscriptions`), so that the
//! replica holding a client's GET stream can deliver updates for subscriptions another
//! replica took.

use deadpool_postgres::Pool;

use crate::store::db::DbError;

/// One session's subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shared {
    pub conversation: String,
    pub uri: String,
    pub namespace: Option<String>,
    pub key_id: String,
    /// The session's expiry, unix seconds.
    pub expires: u64,
    /// The process that took it.
    pub origin: String,
}

/// Records a subscription (announced by NOTIFY); expired rows are swept on the way.
pub async fn insert(pool: &Pool, s: &Shared) -> Result<(), DbError> {
    let client = pool.get().await?;
    client
        .execute(
            "DELETE FROM resource_subscriptions WHERE expires_at < now()",
            &[],
        )
        .await?;
    client
        .execute(
            "INSERT INTO resource_subscriptions
                 (conversation, uri, namespace, key_id, expires_at, origin)
             VALUES ($1, $2, $3, $4, to_timestamp($5::float8), $6)
             ON CONFLICT (conversation, uri) DO NOTHING",
            &[
                &s.conversation,
                &s.uri,
                &s.namespace,
                &s.key_id,
                &(s.expires as f64),
                &s.origin,
            ],
        )
        .await?;
    Ok(())
}

/// Forgets one subscription, or (`uri` `None`) every one of the conversation.
pub async fn remove(pool: &Pool, conversation: &str, uri: Option<&str>) -> Result<(), DbError> {
    let client = pool.get().await?;
    match uri {
        Some(u) => {
            client
                .execute(
                    "DELETE FROM resource_subscriptions WHERE conversation = $1 AND uri = $2",
                    &[&conversation, &u],
                )
                .await?
        }
        None => {
            client
                .execute(
                    "DELETE FROM resource_subscriptions WHERE conversation = $1",
                    &[&conversation],
                )
                .await?
        }
    };
    Ok(())
}

/// The live subscriptions of one conversation.
pub async fn of(pool: &Pool, conversation: &str) -> Result<Vec<Shared>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT uri, namespace, key_id, extract(epoch FROM expires_at)::int8, origin
             FROM resource_subscriptions WHERE conversation = $1 AND expires_at > now()
             LIMIT 1024",
            &[&conversation],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Shared {
                conversation: conversation.to_string(),
                uri: r.try_get(0)?,
                namespace: r.try_get(1)?,
                key_id: r.try_get(2)?,
                expires: u64::try_from(r.try_get::<_, i64>(3)?).unwrap_or(0),
                origin: r.try_get(4)?,
            })
        })
        .collect()
}
