//! Per-caller static secrets (`{{caller.secret}}` in a server's header values): each
//! caller's own, sealed in `upstream_tokens` under its own associated data (a secret row
//! never opens as OAuth tokens, nor the other way round), set over REST or on the
//! gateway's page, whose address is a single-use `state` like an authorization's.

use std::sync::Arc;

use sha2::Digest;
use uuid::Uuid;

use super::{Cached, Connected, Vault, VaultError, aad};
use crate::model::Server;
use crate::model::auth::MAX_CALLER_SECRET;

/// What a pending secret page holds (sealed): who asked for it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Asked {
    kind: String,
    started_by: Option<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    secret: String,
}

/// A secret a caller may set: not empty, bounded, and sendable in a header.
pub fn check(secret: &str) -> Result<&str, VaultError> {
    let s = secret.trim();
    if s.is_empty() || s.len() > MAX_CALLER_SECRET {
        return Err(VaultError::Denied(format!(
            "the secret must have 1 to {MAX_CALLER_SECRET} characters"
        )));
    }
    if s.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(VaultError::Denied(
            "the secret has control characters".into(),
        ));
    }
    Ok(s)
}

impl Vault {
    /// The page at which `principal` sets their secret for `server` (valid as long as
    /// an authorization, single use).
    pub async fn begin_secret(
        &self,
        server: &Server,
        principal: &str,
        started_by: Option<String>,
    ) -> Result<String, VaultError> {
        let public = self.public_url.as_deref().ok_or(VaultError::NoPublicUrl)?;
        let mut raw = [0u8; 32];
        crate::crypto::random_bytes(&mut raw);
        let state = crate::crypto::base64url(&raw);
        let asked = Asked {
            kind: "secret".into(),
            started_by,
        };
        let plain = serde_json::to_vec(&asked).unwrap_or_default();
        self.remember(server.id, principal, &state, "upstream_secret_page", &plain)
            .await?;
        Ok(format!(
            "{}/oauth/secret?state={state}",
            public.trim_end_matches('/')
        ))
    }

    /// The server a secret page's `state` is for, while it is valid (not used up).
    pub async fn secret_page(&self, state: &str) -> Result<Uuid, VaultError> {
        let hash = sha2::Sha256::digest(state.as_bytes()).to_vec();
        let db = self.pool.get().await?;
        Ok(db
            .query_opt(
                "SELECT server_id FROM upstream_pending WHERE state_hash = $1
                 AND expires_at > now()",
                &[&hash],
            )
            .await?
            .ok_or(VaultError::UnknownState)?
            .get(0))
    }

    /// Sets the secret a page's `state` was for (once).
    pub async fn finish_secret(&self, state: &str, secret: &str) -> Result<Connected, VaultError> {
        let secret = check(secret)?;
        let (server, principal, sealed) = self.take_pending(state).await?;
        // Only a secret page's state opens here (an authorization's does not).
        let asked: Asked = self
            .cipher
            .open(&sealed, &aad("upstream_secret_page", &server, &principal))
            .ok()
            .and_then(|p| serde_json::from_slice(&p).ok())
            .filter(|a: &Asked| a.kind == "secret")
            .ok_or(VaultError::UnknownState)?;
        self.store_secret(server, &principal, secret).await?;
        Ok(Connected {
            server_id: server,
            principal,
            started_by: asked.started_by,
        })
    }

    /// Sets `principal`'s secret for `server`.
    pub async fn store_secret(
        &self,
        server: Uuid,
        principal: &str,
        secret: &str,
    ) -> Result<(), VaultError> {
        let secret = check(secret)?;
        let stored = Stored {
            secret: secret.to_string(),
        };
        let sealed = self.cipher.seal(
            &serde_json::to_vec(&stored).unwrap_or_default(),
            &aad("upstream_secret", &server, principal),
        );
        let db = self.pool.get().await?;
        db.execute(
            "INSERT INTO upstream_tokens (server_id, principal, sealed, scopes, expires_at)
             VALUES ($1, $2, $3, '', NULL)
             ON CONFLICT (server_id, principal) DO UPDATE SET sealed = excluded.sealed,
                 scopes = '', expires_at = NULL, updated_at = clock_timestamp()",
            &[&server, &principal, &sealed],
        )
        .await?;
        self.invalidate_one(&server, principal);
        Ok(())
    }

    /// `principal`'s secret for `server`.
    pub async fn secret(&self, server: &Server, principal: &str) -> Result<Arc<str>, VaultError> {
        let key = (server.id, principal.to_string());
        if let Some(s) = self.cached(&key) {
            return Ok(s.access);
        }
        let missing = || VaultError::Unauthorized {
            server: server.name.clone(),
            why: "no secret of yours is set for it".into(),
            reconnect: true,
        };
        let db = self.pool.get().await?;
        let row = db
            .query_opt(
                "SELECT sealed FROM upstream_tokens WHERE server_id = $1 AND principal = $2",
                &[&server.id, &principal],
            )
            .await?
            .ok_or_else(missing)?;
        let sealed: Vec<u8> = row.get(0);
        let stored: Stored = self
            .cipher
            .open(&sealed, &aad("upstream_secret", &server.id, principal))
            .ok()
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or_else(missing)?;
        let secret: Arc<str> = stored.secret.into();
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(
            key,
            Cached {
                token: super::Token {
                    access: secret.clone(),
                    resource: server.url.as_deref().unwrap_or_default().into(),
                    dpop: None,
                },
                expires: None,
            },
        );
        Ok(secret)
    }

    /// The backend refused `principal`'s secret `sent` (401): unless it was replaced
    /// since, it is removed, and the caller is asked for it again.
    pub async fn secret_refused(
        &self,
        server: &Server,
        principal: &str,
        sent: &str,
    ) -> Result<(), VaultError> {
        self.invalidate_one(&server.id, principal);
        let current = match self.secret(server, principal).await {
            Ok(s) => s,
            Err(_) => return Ok(()),
        };
        if crate::crypto::constant_time_eq(current.as_bytes(), sent.as_bytes()) {
            let db = self.pool.get().await?;
            db.execute(
                "DELETE FROM upstream_tokens WHERE server_id = $1 AND principal = $2",
                &[&server.id, &principal],
            )
            .await?;
            self.invalidate_one(&server.id, principal);
        }
        Ok(())
    }

    /// Whether `principal` has an account (tokens or a secret) with `server` now.
    pub async fn has_account(&self, server: &Server, principal: &str) -> bool {
        if server.takes_caller_secret() {
            self.secret(server, principal).await.is_ok()
        } else {
            self.bearer(server, principal).await.is_ok()
        }
    }
}
