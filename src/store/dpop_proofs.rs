//! DPoP proofs used (`sql/0030_dpop.sql`): a proof presented to the gateway with a bound
//! access token ([`crate::auth::dpop`]) is taken once across every replica. Its digest
//! is inserted when it is used; the insert that finds it there already is a replay.

use deadpool_postgres::Pool;
use sha2::{Digest, Sha256};

use crate::store::db::DbError;

/// Records the use of the proof `jti` made by the key of thumbprint `jkt`, refused
/// anyway after `expires` (unix seconds): `true` for its first use, `false` when any
/// replica took it before. Rows expired by `now` are swept on the way.
pub async fn spend(
    pool: &Pool,
    jkt: &str,
    jti: &str,
    expires: u64,
    now: u64,
) -> Result<bool, DbError> {
    let mut h = Sha256::new();
    h.update(jkt.as_bytes());
    h.update([0]);
    h.update(jti.as_bytes());
    let digest = h.finalize().to_vec();
    let expires = i64::try_from(expires).unwrap_or(i64::MAX);
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let client = pool.get().await?;
    let inserted = client
        .execute(
            "WITH swept AS (DELETE FROM dpop_proofs WHERE expires_at < $3) \
             INSERT INTO dpop_proofs (digest, expires_at) VALUES ($1, $2) \
             ON CONFLICT (digest) DO NOTHING",
            &[&digest, &expires, &now],
        )
        .await?;
    Ok(inserted == 1)
}
