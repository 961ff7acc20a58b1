//! Using the tokens held: the access token for a call (refreshed ahead of expiry under
//! its row's lock, one task of this process at a time per account), a client
//! credentials grant fetched again near expiry, and a token a backend refused retired.

use super::flow::{self, ClientId, Grant};
use super::net::{self, Net};
use super::{Cached, REFRESH_AHEAD_SECS, Token, Vault, VaultError, aad, machine, now};
use crate::model::Server;
use crate::model::auth::ServerAuth;

impl Vault {
    /// The access token to send to `server` for `principal`'s account, refreshed
    /// first when it is about to expire.
    pub async fn bearer(&self, server: &Server, principal: &str) -> Result<Token, VaultError> {
        let machine = match &server.auth {
            ServerAuth::OAuth(_) => None,
            a if a.without_user() => Some(a),
            _ => return Err(VaultError::NotOAuth(server.name.clone())),
        };
        let key = (server.id, principal.to_string());
        if let Some(access) = self.cached(&key) {
            return Ok(access);
        }
        // One task of this process reads (or refreshes) the row; the others wait here,
        // holding no database connection, and take what it cached.
        let turn = self
            .turns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.clone())
            .or_default()
            .clone();
        let _turn = turn.lock().await;
        if let Some(access) = self.cached(&key) {
            return Ok(access);
        }
        let unauthorized = |why: &str| VaultError::Unauthorized {
            server: server.name.clone(),
            why: why.to_string(),
            reconnect: true,
        };
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        if machine.is_some() {
            // A token got with client credentials may have no row yet to lock: the
            // server's own lock makes its first grant single-flight too.
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                &[&format!("metamcp upstream {}", server.id)],
            )
            .await?;
        }
        // The row's lock: one replica refreshes, the others wait and read its result.
        let row = tx
            .query_opt(
                "SELECT sealed, extract(epoch FROM expires_at)::int8 FROM upstream_tokens
                 WHERE server_id = $1 AND principal = $2 FOR UPDATE",
                &[&server.id, &principal],
            )
            .await?;
        let fresh = |r: &Option<tokio_postgres::Row>| {
            r.as_ref()
                .and_then(|r| r.get::<_, Option<i64>>(1))
                .is_none_or(|e| e.max(0) as u64 > now() + REFRESH_AHEAD_SECS)
        };
        if let Some(client) = machine
            && (row.is_none() || !fresh(&row))
        {
            let access = self.machine_grant(&tx, server, client).await?;
            tx.commit().await?;
            return Ok(access);
        }
        let row = row.ok_or_else(|| unauthorized("no account is connected"))?;
        let sealed: Vec<u8> = row.get(0);
        let expires: Option<i64> = row.get(1);
        let grant: Grant = self
            .cipher
            .open(&sealed, &aad("upstream_tokens", &server.id, principal))
            .ok()
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or_else(|| unauthorized("the stored tokens cannot be opened"))?;
        let expires = expires.map(|e| e.max(0) as u64);
        let dpop = grant.dpop_key();
        if expires.is_none_or(|e| e > now() + REFRESH_AHEAD_SECS) {
            tx.commit().await?;
            let bound = dpop.filter(|_| grant.bound);
            return Ok(self.keep(key, &grant.access_token, &grant.resource, expires, bound));
        }
        let Some(refresh) = grant.refresh_token.clone() else {
            tx.execute(
                "DELETE FROM upstream_tokens WHERE server_id = $1 AND principal = $2",
                &[&server.id, &principal],
            )
            .await?;
            tx.commit().await?;
            return Err(unauthorized(
                "the token expired and there is no refresh token",
            ));
        };
        let net = Net {
            tls: self.tls.clone(),
            zone: grant.zone,
        };
        let issued = flow::token_request_with(
            &net,
            &grant.token_endpoint,
            &grant.client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("resource", &grant.resource),
            ],
            dpop.as_deref(),
        )
        .await;
        let issued = match issued {
            Ok(i) => i,
            Err(e) if !e.refused => {
                self.refresh_failures
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(backend = %server.name, error = %e, "upstream token refresh failed; kept for a retry");
                self.audit_refresh(server, principal, "unavailable");
                return Err(VaultError::Unauthorized {
                    server: server.name.clone(),
                    why: format!("the refresh failed: {e}"),
                    reconnect: false,
                });
            }
            Err(e) => {
                self.refresh_failures
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(backend = %server.name, error = %e, "upstream token refresh refused");
                self.audit_refresh(server, principal, "refused");
                tx.execute(
                    "DELETE FROM upstream_tokens WHERE server_id = $1 AND principal = $2",
                    &[&server.id, &principal],
                )
                .await?;
                tx.commit().await?;
                return Err(unauthorized("the refresh was refused; connect again"));
            }
        };
        self.refreshed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let renewed = Grant {
            access_token: issued.access_token.clone(),
            // Rotation: a new refresh token replaces the old; none keeps the old.
            refresh_token: issued.refresh_token.clone().or(Some(refresh)),
            bound: issued.bound,
            ..grant
        };
        self.store(&tx, server.id, principal, &renewed, &issued)
            .await?;
        tx.commit().await?;
        self.audit_refresh(server, principal, "ok");
        Ok(self.cache_put(server.id, principal, &issued, &renewed.resource, dpop))
    }

    /// Caches a stored access token that is still fresh; returns it.
    fn keep(
        &self,
        key: (uuid::Uuid, String),
        access: &str,
        resource: &str,
        expires: Option<u64>,
        dpop: Option<std::sync::Arc<super::dpop::DpopKey>>,
    ) -> Token {
        let token = Token {
            access: access.into(),
            resource: resource.into(),
            dpop,
        };
        let c = Cached {
            token: token.clone(),
            expires,
        };
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, c);
        token
    }

    /// Gets (again) a client credentials token for `server` and stores it.
    async fn machine_grant(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        server: &Server,
        auth: &ServerAuth,
    ) -> Result<Token, VaultError> {
        use std::sync::atomic::Ordering::Relaxed;
        let unauthorized = |why: String| VaultError::Unauthorized {
            server: server.name.clone(),
            why,
            reconnect: false,
        };
        let url = server
            .url
            .as_deref()
            .ok_or_else(|| unauthorized("no url".into()))?;
        let zone = net::zone_of_url(url).await.map_err(unauthorized)?;
        let net = Net {
            tls: self.tls.clone(),
            zone,
        };
        let found = machine::find(&net, url).await.map_err(unauthorized)?;
        let key = found
            .dpop
            .then(|| std::sync::Arc::new(super::dpop::DpopKey::generate()));
        let issued = match machine::acquire(&net, &found, auth, key.as_deref()).await {
            Ok(i) => i,
            Err(e) => {
                self.refresh_failures.fetch_add(1, Relaxed);
                tracing::warn!(backend = %server.name, error = %e, "grant without a user failed");
                self.audit_refresh(server, "shared", "unavailable");
                let what = match auth {
                    ServerAuth::Workload(_) => "workload identity was",
                    ServerAuth::Enterprise(_) => "enterprise identity assertion was",
                    _ => "client credentials were",
                };
                return Err(unauthorized(format!("its {what} not accepted: {e}")));
            }
        };
        self.refreshed.fetch_add(1, Relaxed);
        let grant = Grant {
            access_token: issued.access_token.clone(),
            refresh_token: None,
            client: ClientId {
                id: String::new(),
                secret: None,
                method: "client_credentials".into(),
            },
            token_endpoint: found.token_endpoint,
            revocation_endpoint: None,
            resource: found.resource,
            issuer: found.issuer,
            zone,
            dpop: key.as_ref().map(|k| k.secret()),
            bound: issued.bound,
        };
        self.store(tx, server.id, "shared", &grant, &issued).await?;
        self.audit_refresh(server, "shared", "ok");
        Ok(self.cache_put(server.id, "shared", &issued, &grant.resource, key))
    }

    /// A backend refused `access` (401): unless another replica replaced it already,
    /// it is expired now, so its next use refreshes it (or, without a refresh token,
    /// asks for a new authorization).
    pub async fn rejected(
        &self,
        server: &Server,
        principal: &str,
        access: &str,
    ) -> Result<(), VaultError> {
        if server.auth.is_static() {
            return Ok(());
        }
        self.invalidate_one(&server.id, principal);
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT sealed FROM upstream_tokens WHERE server_id = $1 AND principal = $2
                 FOR UPDATE",
                &[&server.id, &principal],
            )
            .await?
        else {
            return Ok(());
        };
        let sealed: Vec<u8> = row.get(0);
        let same = self
            .cipher
            .open(&sealed, &aad("upstream_tokens", &server.id, principal))
            .ok()
            .and_then(|p| serde_json::from_slice::<Grant>(&p).ok())
            .is_some_and(|g| {
                crate::crypto::constant_time_eq(g.access_token.as_bytes(), access.as_bytes())
            });
        if same {
            tx.execute(
                "UPDATE upstream_tokens SET expires_at = now(), updated_at = clock_timestamp()
                 WHERE server_id = $1 AND principal = $2",
                &[&server.id, &principal],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

impl Vault {
    /// Whose account lists a per-caller server's tools: the one connected or refreshed
    /// last (every call goes with its caller's own).
    pub async fn lister(&self, server: &Server) -> Result<String, VaultError> {
        let db = self.pool.get().await?;
        db.query_opt(
            "SELECT principal FROM upstream_tokens WHERE server_id = $1
             ORDER BY updated_at DESC LIMIT 1",
            &[&server.id],
        )
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| VaultError::Unauthorized {
            server: server.name.clone(),
            why: "no caller has connected an account yet (POST /api/v1/me/connections/".to_string()
                + &server.name
                + ")",
            reconnect: true,
        })
    }
}
