//! Blocked OAuth identities (`oauth_blocks`): what `keyadm oauth` writes and every
//! gateway reloads on NOTIFY.

use deadpool_postgres::Pool;
use serde::Serialize;

use crate::store::db::DbError;

/// What a block matches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    Sub,
    ClientId,
}

impl BlockKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockKind::Sub => "sub",
            BlockKind::ClientId => "client_id",
        }
    }

    fn parse(s: &str) -> Option<BlockKind> {
        match s {
            "sub" => Some(BlockKind::Sub),
            "client_id" => Some(BlockKind::ClientId),
            _ => None,
        }
    }
}

/// One blocked subject or client id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Block {
    pub kind: BlockKind,
    pub value: String,
    /// `None`: from any issuer.
    pub issuer: Option<String>,
    pub reason: Option<String>,
    /// RFC 3339.
    pub created_at: String,
}

impl Block {
    /// Whether this block refuses the identity.
    pub fn matches(&self, issuer: &str, sub: &str, client_id: Option<&str>) -> bool {
        self.issuer.as_deref().is_none_or(|i| i == issuer)
            && match self.kind {
                BlockKind::Sub => self.value == sub,
                BlockKind::ClientId => client_id == Some(self.value.as_str()),
            }
    }
}

/// Every block, oldest first.
pub async fn list(pool: &Pool) -> Result<Vec<Block>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT kind, value, issuer, reason,
                    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
             FROM oauth_blocks ORDER BY created_at, kind, value",
            &[],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let kind: String = r.try_get(0)?;
        let issuer: String = r.try_get(2)?;
        out.push(Block {
            kind: BlockKind::parse(&kind)
                .ok_or_else(|| DbError::Task(format!("stored block kind {kind:?}")))?,
            value: r.try_get(1)?,
            issuer: (!issuer.is_empty()).then_some(issuer),
            reason: r.try_get(3)?,
            created_at: r.try_get(4)?,
        });
    }
    Ok(out)
}

/// Adds a block; `false` if it was there already (its reason is then updated).
pub async fn block(
    pool: &Pool,
    kind: BlockKind,
    value: &str,
    issuer: Option<&str>,
    reason: Option<&str>,
) -> Result<bool, DbError> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "INSERT INTO oauth_blocks (kind, value, issuer, reason) VALUES ($1, $2, $3, $4)
             ON CONFLICT (kind, value, issuer) DO UPDATE SET reason = EXCLUDED.reason
             RETURNING (xmax = 0)",
            &[&kind.as_str(), &value, &issuer.unwrap_or(""), &reason],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// Removes a block; `false` if there was none.
pub async fn unblock(
    pool: &Pool,
    kind: BlockKind,
    value: &str,
    issuer: Option<&str>,
) -> Result<bool, DbError> {
    let client = pool.get().await?;
    let n = client
        .execute(
            "DELETE FROM oauth_blocks WHERE kind = $1 AND value = $2 AND issuer = $3",
            &[&kind.as_str(), &value, &issuer.unwrap_or("")],
        )
        .await?;
    Ok(n > 0)
}
