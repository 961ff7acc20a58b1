//! Confirmation states spent (`sql/0026_confirm_uses.sql`): a policy's confirmation,
//! carried by a 2026-07-28 client's retry ([`crate::mcp::confirm`]), runs the call once
//! across every replica. The state's digest is inserted when it is used; the insert that
//! finds it there already is a second use.

use deadpool_postgres::Pool;
use sha2::{Digest, Sha256};

use crate::store::db::DbError;

/// Records the use of confirmation `state` (which expires at `expires_ms`, unix
/// milliseconds): `true` for its first use, `false` when any replica used it before.
/// Rows of states expired by `now_ms` are swept on the way.
pub async fn spend(
    pool: &Pool,
    state: &str,
    expires_ms: u64,
    now_ms: u64,
) -> Result<bool, DbError> {
    let digest = Sha256::digest(state.as_bytes()).to_vec();
    let expires = i64::try_from(expires_ms).unwrap_or(i64::MAX);
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
    let client = pool.get().await?;
    let inserted = client
        .execute(
            "WITH swept AS (DELETE FROM confirm_uses WHERE expires_ms < $3) \
             INSERT INTO confirm_uses (digest, expires_ms) VALUES ($1, $2) \
             ON CONFLICT (digest) DO NOTHING",
            &[&digest, &expires, &now],
        )
        .await?;
    Ok(inserted == 1)
}
