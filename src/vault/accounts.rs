//! The accounts the vault holds, as admins and callers see them: listed (never a
//! token), revoked (RFC 7009 at the authorization server when it offers that), and when
//! they were last connected.

use uuid::Uuid;

use super::flow::{self, Grant};
use super::net::Net;
use super::{Vault, VaultError, aad};
use crate::model::Server;

impl Vault {
    /// Connections held: every one, or one server's; what an admin may see of them
    /// (never a token).
    pub async fn connections(
        &self,
        server: Option<Uuid>,
    ) -> Result<Vec<serde_json::Value>, VaultError> {
        let db = self.pool.get().await?;
        let rows = db
            .query(
                "SELECT t.server_id, s.name, t.principal, t.scopes,
                        to_char(t.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                        to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                        to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                        t.expires_at IS NOT NULL AND t.expires_at <= now()
                 FROM upstream_tokens t JOIN mcp_servers s ON s.id = t.server_id
                 WHERE $1::uuid IS NULL OR t.server_id = $1
                 ORDER BY lower(s.name), t.principal",
                &[&server],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let scopes: String = r.get(3);
                let expired: bool = r.get(7);
                serde_json::json!({
                    "server_id": r.get::<_, Uuid>(0), "server": r.get::<_, String>(1),
                    "principal": r.get::<_, String>(2),
                    "status": if expired { "expired" } else { "connected" },
                    "scopes": scopes.split_whitespace().collect::<Vec<_>>(),
                    "expires_at": r.get::<_, Option<String>>(4),
                    "connected_at": r.get::<_, String>(5),
                    "refreshed_at": r.get::<_, String>(6),
                })
            })
            .collect())
    }

    /// Ends `server`'s connection for `principal`: its tokens are revoked at the
    /// authorization server when it offers that (RFC 7009, best effort) and removed here
    /// (every replica stops using them at once). False when there was none.
    pub async fn revoke(&self, server: &Server, principal: &str) -> Result<bool, VaultError> {
        let db = self.pool.get().await?;
        let Some(row) = db
            .query_opt(
                "DELETE FROM upstream_tokens WHERE server_id = $1 AND principal = $2
                 RETURNING sealed",
                &[&server.id, &principal],
            )
            .await?
        else {
            return Ok(false);
        };
        self.invalidate(&server.id);
        let sealed: Vec<u8> = row.get(0);
        let grant = self
            .cipher
            .open(&sealed, &aad("upstream_tokens", &server.id, principal))
            .ok()
            .and_then(|p| serde_json::from_slice::<Grant>(&p).ok());
        if let Some(g) = grant
            && let Some(endpoint) = g.revocation_endpoint.clone()
        {
            let net = Net {
                tls: self.tls.clone(),
                zone: g.zone,
            };
            // The refresh token first: revoking it ends the grant's access tokens too
            // at most servers; then the access token itself.
            let tokens = [
                g.refresh_token.as_deref().map(|t| (t, "refresh_token")),
                Some((g.access_token.as_str(), "access_token")),
            ];
            for (token, hint) in tokens.into_iter().flatten() {
                let pairs = [("token", token), ("token_type_hint", hint)];
                if let Err(e) = flow::revoke(&net, &endpoint, &g.client, &pairs).await {
                    tracing::warn!(backend = %server.name, error = %e, "upstream token revocation failed; removed here all the same");
                }
            }
        }
        Ok(true)
    }

    /// When `server`'s shared account was last connected or refreshed (the database's
    /// clock, unix seconds), if it is.
    pub async fn connected_at(&self, server: &Uuid) -> Result<Option<f64>, VaultError> {
        let db = self.pool.get().await?;
        Ok(db
            .query_opt(
                "SELECT extract(epoch FROM max(updated_at))::float8 FROM upstream_tokens
                 WHERE server_id = $1 HAVING count(*) > 0",
                &[server],
            )
            .await?
            .map(|r| r.get(0)))
    }

    /// The database's clock now (unix seconds).
    pub async fn db_now(&self) -> Result<f64, VaultError> {
        let db = self.pool.get().await?;
        Ok(db
            .query_one("SELECT extract(epoch FROM clock_timestamp())::float8", &[])
            .await?
            .get(0))
    }

    /// Whether `server`'s shared account is connected (a token row exists).
    pub async fn connected(&self, server: &Uuid) -> Result<bool, VaultError> {
        let db = self.pool.get().await?;
        Ok(db
            .query_opt(
                "SELECT 1 FROM upstream_tokens WHERE server_id = $1",
                &[server],
            )
            .await?
            .is_some())
    }
}
