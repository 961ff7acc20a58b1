//! Upstream credentials: the gateway as an OAuth client of the backends that ask for
//! one ([`discover`], [`flow`]), and the vault of the tokens it holds for them.
//!
//! Tokens are sealed under `ENCRYPTION_KEY`, bound to their server and principal, in
//! `upstream_tokens`; an authorization in progress is a row of `upstream_pending` found
//! by the SHA-256 of its `state` and deleted by the callback that finishes it (single
//! use). A token is refreshed ahead of its expiry under its row's lock, so replicas
//! refreshing at once use a rotated refresh token once; every replica learns of a new
//! token by NOTIFY. Nothing here logs or returns a token.

mod accounts;
pub mod discover;
pub mod dpop;
mod exchange;
pub mod flow;
pub mod form;
pub mod machine;
pub mod net;
mod secrets;
mod tokens;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use deadpool_postgres::Pool;
use sha2::Digest;
use uuid::Uuid;

use crate::crypto::Cipher;
use crate::model::Server;
use crate::model::auth::ServerAuth;
use flow::{ClientId, Grant, Pending};
use net::Net;

/// How long an authorization may take, from its URL to its callback.
pub const PENDING_TTL_SECS: i64 = 600;
/// Authorizations in progress per principal (the oldest go first) and in all.
pub const MAX_PENDING_PER_PRINCIPAL: i64 = 16;
pub const MAX_PENDING: i64 = 10_000;
/// A token this close to its expiry is refreshed before use.
const REFRESH_AHEAD_SECS: u64 = 60;

/// Why an upstream credential could not be had.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("server {0} does not use oauth")]
    NotOAuth(String),
    /// `reconnect`: the account is not connected (or no longer), and connecting it
    /// again is the way on.
    #[error("server {server} needs authorization: {why}")]
    Unauthorized {
        server: String,
        why: String,
        reconnect: bool,
    },
    #[error("{0}")]
    Discovery(String),
    #[error("the authorization is unknown, used or expired")]
    UnknownState,
    #[error("the authorization was not granted: {0}")]
    Denied(String),
    #[error("too many authorizations in progress; finish or wait for one")]
    Busy,
    #[error("METAMCP_PUBLIC_URL is not set; the callback needs a public address")]
    NoPublicUrl,
    #[error("database: {0}")]
    Db(String),
}

impl From<tokio_postgres::Error> for VaultError {
    fn from(e: tokio_postgres::Error) -> Self {
        VaultError::Db(e.to_string())
    }
}

impl From<deadpool_postgres::PoolError> for VaultError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        VaultError::Db(e.to_string())
    }
}

/// An authorization finished: whose tokens are now held.
#[derive(Debug, Clone)]
pub struct Connected {
    pub server_id: Uuid,
    pub principal: String,
    /// The key that started the authorization (an admin's), when one did.
    pub started_by: Option<String>,
}

/// A token in memory with the resource it was issued for and when it expires (unix
/// seconds).
#[derive(Clone)]
struct Cached {
    token: Token,
    expires: Option<u64>,
}

/// An access token and the resource (RFC 8707) it was issued for: it is sent only to
/// that resource's origin.
#[derive(Clone)]
pub struct Token {
    pub access: Arc<str>,
    pub resource: Arc<str>,
    /// The DPoP key the token is bound to: it is sent with the `DPoP` scheme and a
    /// proof signed with it (RFC 9449 §7).
    pub dpop: Option<Arc<dpop::DpopKey>>,
}

/// A server and a principal: whose tokens.
type Account = (Uuid, String);

/// The vault and the OAuth client.
pub struct Vault {
    pool: Pool,
    cipher: Cipher,
    tls: Arc<rustls::ClientConfig>,
    public_url: Option<String>,
    cache: Mutex<HashMap<Account, Cached>>,
    /// One reader of each token's row at a time in this process.
    turns: Mutex<HashMap<Account, Arc<tokio::sync::Mutex<()>>>>,
    refreshed: std::sync::atomic::AtomicU64,
    refresh_failures: std::sync::atomic::AtomicU64,
    /// Scopes backends said their calls need beyond the token's (`insufficient_scope`),
    /// asked for with the others at the next authorization.
    wanted: Mutex<HashMap<Uuid, Vec<String>>>,
    /// Where refreshes are recorded (`server.refresh` rows).
    audit: Option<Arc<crate::observe::audit::Audit>>,
    /// Tokens got by exchange (RFC 8693), in memory only.
    exchanges: exchange::Exchanges,
}

/// Whose account a call to `server` by the key `key` uses: the server's one
/// (`shared`), or the caller's own (`key:<id>`; OAuth subjects have key ids too).
pub fn principal_of(
    server: &Server,
    key: Option<&crate::base::KeyId>,
) -> Result<String, VaultError> {
    match server.per_caller() {
        true => match key {
            Some(k) => Ok(format!("key:{}", k.as_str())),
            None => Err(VaultError::Unauthorized {
                server: server.name.clone(),
                why: "each caller connects an account of their own, and an anonymous \
                      caller has none: call with an API key"
                    .into(),
                reconnect: false,
            }),
        },
        false => Ok("shared".into()),
    }
}

fn aad(purpose: &str, server: &Uuid, principal: &str) -> Vec<u8> {
    format!("{purpose}:{server}:{principal}").into_bytes()
}

fn now() -> u64 {
    crate::base::unix_now()
}

impl Vault {
    pub fn new(
        pool: Pool,
        cipher: Cipher,
        tls: Arc<rustls::ClientConfig>,
        public_url: Option<String>,
    ) -> Vault {
        Vault {
            pool,
            cipher,
            tls,
            public_url,
            cache: Mutex::default(),
            turns: Mutex::default(),
            refreshed: Default::default(),
            refresh_failures: Default::default(),
            wanted: Mutex::default(),
            audit: None,
            exchanges: Default::default(),
        }
    }

    /// Records each refresh in `audit`.
    pub fn with_audit(mut self, audit: Arc<crate::observe::audit::Audit>) -> Vault {
        self.audit = Some(audit);
        self
    }

    /// An audit row for a token of `principal`'s at `server` got again (`outcome`: `ok`,
    /// `unavailable` when the authorization server could not be reached, `refused` when it
    /// said no and the account must be connected again).
    fn audit_refresh(&self, server: &Server, principal: &str, outcome: &'static str) {
        let Some(audit) = &self.audit else { return };
        let key = principal
            .strip_prefix("key:")
            .and_then(crate::base::KeyId::parse);
        audit.record(crate::observe::audit::Entry {
            key_id: key,
            outcome,
            server: Some(server.name.as_str().into()),
            ..crate::observe::audit::Entry::change_by(key, "server.refresh", &server.name)
        });
    }

    /// Where callbacks come: `METAMCP_PUBLIC_URL`, else `fallback` (the address an
    /// admin reached this gateway at).
    pub fn redirect_uri(&self, fallback: Option<&str>) -> Result<String, VaultError> {
        let base = self
            .public_url
            .as_deref()
            .or(fallback)
            .ok_or(VaultError::NoPublicUrl)?;
        Ok(format!("{}/oauth/callback", base.trim_end_matches('/')))
    }

    /// Starts an authorization of `server`'s account for `principal` (see
    /// [`principal_of`]): discovery, the client, a pending row; returns the URL the
    /// user's browser goes to.
    pub async fn begin(
        &self,
        server: &Server,
        principal: &str,
        redirect_uri: &str,
        started_by: Option<String>,
    ) -> Result<String, VaultError> {
        let ServerAuth::OAuth(settings) = &server.auth else {
            return Err(VaultError::NotOAuth(server.name.clone()));
        };
        let url = server
            .url
            .as_deref()
            .ok_or_else(|| VaultError::Discovery("the server has no url".into()))?;
        let zone = net::zone_of_url(url).await.map_err(VaultError::Discovery)?;
        let net = Net {
            tls: self.tls.clone(),
            zone,
        };
        let seen = discover::probe(&net, url)
            .await
            .map_err(VaultError::Discovery)?;
        let d = discover::discover(&net, url, &seen, true)
            .await
            .map_err(VaultError::Discovery)?;
        let client = match &settings.client_id {
            Some(id) => ClientId {
                id: id.clone(),
                secret: settings.client_secret.clone(),
                method: flow::method_for(settings.client_secret.is_some(), &d.auth_methods),
            },
            None => match (&self.public_url, d.client_id_documents) {
                (Some(p), true) if p.starts_with("https://") => ClientId {
                    id: format!("{p}/oauth/client-metadata.json"),
                    secret: None,
                    method: "none".into(),
                },
                _ => match &d.registration_endpoint {
                    Some(endpoint) => flow::register(&net, &d, endpoint, redirect_uri)
                        .await
                        .map_err(VaultError::Discovery)?,
                    None => {
                        return Err(VaultError::Discovery(
                            "the authorization server offers no registration: give the \
                             server's auth a client_id"
                                .into(),
                        ));
                    }
                },
            },
        };
        // What the admin set, else what the backend asks for now; with what was asked
        // for before and what a call was refused for (SEP-2350: the union).
        let mut scopes = settings.scopes.clone().or_else(|| d.scopes.clone());
        let before = self.granted_scopes(server.id, principal).await?;
        let wanted = self
            .wanted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&server.id)
            .cloned()
            .unwrap_or_default();
        for s in before.into_iter().chain(wanted) {
            let list = scopes.get_or_insert_with(Vec::new);
            if !list.contains(&s) {
                list.push(s);
            }
        }
        if let Some(s) = scopes.as_mut()
            && d.server_scopes.iter().any(|x| x == "offline_access")
            && !s.iter().any(|x| x == "offline_access")
        {
            s.push("offline_access".into());
        }
        let (verifier, challenge) = flow::pkce();
        let mut raw = [0u8; 32];
        crate::crypto::random_bytes(&mut raw);
        let state = crate::crypto::base64url(&raw);
        let link = flow::authorization_url(
            &d,
            &client,
            redirect_uri,
            &state,
            &challenge,
            scopes.as_deref(),
        );
        let pending = Pending {
            verifier,
            redirect_uri: redirect_uri.to_string(),
            client,
            token_endpoint: d.token_endpoint.clone(),
            revocation_endpoint: d.revocation_endpoint.clone(),
            resource: d.resource.clone(),
            issuer: d.issuer.clone(),
            iss_supported: d.iss_supported,
            zone,
            scopes: scopes.clone().unwrap_or_default(),
            started_by,
            dpop: d.dpop().then(|| dpop::DpopKey::generate().secret()),
        };
        let plain = serde_json::to_vec(&pending).unwrap_or_default();
        self.remember(server.id, principal, &state, "upstream_pending", &plain)
            .await?;
        Ok(link)
    }

    /// Records a pending authorization (`plain`, sealed for `purpose`), within its
    /// bounds.
    async fn remember(
        &self,
        server: Uuid,
        principal: &str,
        state: &str,
        purpose: &str,
        plain: &[u8],
    ) -> Result<(), VaultError> {
        let hash = sha2::Sha256::digest(state.as_bytes()).to_vec();
        let sealed = self.cipher.seal(plain, &aad(purpose, &server, principal));
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        tx.execute("DELETE FROM upstream_pending WHERE expires_at < now()", &[])
            .await?;
        // The principal's oldest go first; past the total bound, nobody new starts.
        tx.execute(
            "DELETE FROM upstream_pending WHERE state_hash IN (
                 SELECT state_hash FROM upstream_pending WHERE principal = $1
                 ORDER BY created_at DESC OFFSET $2)",
            &[&principal, &(MAX_PENDING_PER_PRINCIPAL - 1)],
        )
        .await?;
        let total: i64 = tx
            .query_one("SELECT count(*) FROM upstream_pending", &[])
            .await?
            .get(0);
        if total >= MAX_PENDING {
            return Err(VaultError::Busy);
        }
        tx.execute(
            "INSERT INTO upstream_pending (state_hash, server_id, principal, sealed, expires_at)
             VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
            &[
                &hash,
                &server,
                &principal,
                &sealed,
                &(PENDING_TTL_SECS as f64),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Finishes an authorization from its callback's query: the pending row taken
    /// (once), `iss` checked, the code exchanged, the tokens stored.
    pub async fn finish(&self, query: &[(String, String)]) -> Result<Connected, VaultError> {
        let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let state = get("state").ok_or(VaultError::UnknownState)?;
        let (server, principal, sealed) = self.take_pending(state).await?;
        let db = self.pool.get().await?;
        let pending: Pending = self
            .cipher
            .open(&sealed, &aad("upstream_pending", &server, &principal))
            .ok()
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or(VaultError::UnknownState)?;
        if let Some(e) = get("error") {
            return Err(VaultError::Denied(e.chars().take(100).collect()));
        }
        // RFC 9207: an `iss` must name the server the flow began with, and one that
        // says it sends `iss` must send it.
        match get("iss") {
            // Compared as they are (RFC 9207 §2.4: no normalization).
            Some(iss) if iss != pending.issuer => {
                return Err(VaultError::Denied(
                    "the response names another issuer (a mix-up attack?)".into(),
                ));
            }
            None if pending.iss_supported => {
                return Err(VaultError::Denied(
                    "the response lacks the iss its server says it sends".into(),
                ));
            }
            _ => {}
        }
        let code = get("code").ok_or_else(|| VaultError::Denied("no code".into()))?;
        let net = Net {
            tls: self.tls.clone(),
            zone: pending.zone,
        };
        let key = pending
            .dpop
            .as_deref()
            .and_then(dpop::DpopKey::from_secret)
            .map(Arc::new);
        let issued = flow::token_request_with(
            &net,
            &pending.token_endpoint,
            &pending.client,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &pending.redirect_uri),
                ("code_verifier", &pending.verifier),
                ("resource", &pending.resource),
            ],
            key.as_deref(),
        )
        .await
        .map_err(|e| VaultError::Denied(e.message))?;
        let grant = Grant {
            access_token: issued.access_token.clone(),
            refresh_token: issued.refresh_token.clone(),
            client: pending.client,
            token_endpoint: pending.token_endpoint,
            revocation_endpoint: pending.revocation_endpoint,
            resource: pending.resource,
            issuer: pending.issuer,
            zone: pending.zone,
            dpop: pending.dpop,
            bound: issued.bound,
        };
        let mut issued = issued;
        if issued.scope.is_none() && !pending.scopes.is_empty() {
            issued.scope = Some(pending.scopes.join(" "));
        }
        self.store(&db, server, &principal, &grant, &issued).await?;
        self.wanted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&server);
        self.cache_put(server, &principal, &issued, &grant.resource, key);
        Ok(Connected {
            server_id: server,
            principal,
            started_by: pending.started_by,
        })
    }

    /// Takes the pending row `state` names, at once and for good: a state is used once,
    /// whatever happens next. Its server, principal and sealed content.
    async fn take_pending(&self, state: &str) -> Result<(Uuid, String, Vec<u8>), VaultError> {
        let hash = sha2::Sha256::digest(state.as_bytes()).to_vec();
        let db = self.pool.get().await?;
        let row = db
            .query_opt(
                "DELETE FROM upstream_pending WHERE state_hash = $1 AND expires_at > now()
                 RETURNING server_id, principal, sealed",
                &[&hash],
            )
            .await?
            .ok_or(VaultError::UnknownState)?;
        Ok((row.get(0), row.get(1), row.get(2)))
    }

    async fn store<C: deadpool_postgres::GenericClient>(
        &self,
        db: &C,
        server: Uuid,
        principal: &str,
        grant: &Grant,
        issued: &flow::Issued,
    ) -> Result<(), VaultError> {
        let sealed = self.cipher.seal(
            &serde_json::to_vec(grant).unwrap_or_default(),
            &aad("upstream_tokens", &server, principal),
        );
        let expires = issued.expires_in.map(|s| s.min(10 * 365 * 86_400) as f64);
        db.execute(
            "INSERT INTO upstream_tokens (server_id, principal, sealed, scopes, expires_at)
             VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
             ON CONFLICT (server_id, principal) DO UPDATE SET sealed = excluded.sealed,
                 scopes = excluded.scopes, expires_at = excluded.expires_at,
                 updated_at = clock_timestamp()",
            &[
                &server,
                &principal,
                &sealed,
                &issued.scope.clone().unwrap_or_default(),
                &expires,
            ],
        )
        .await?;
        Ok(())
    }

    fn cache_put(
        &self,
        server: Uuid,
        principal: &str,
        issued: &flow::Issued,
        resource: &str,
        dpop: Option<Arc<dpop::DpopKey>>,
    ) -> Token {
        let token = Token {
            access: issued.access_token.as_str().into(),
            resource: resource.into(),
            dpop: dpop.filter(|_| issued.bound),
        };
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(
            (server, principal.to_string()),
            Cached {
                token: token.clone(),
                expires: issued.expires_in.map(|s| now() + s),
            },
        );
        token
    }

    /// The cached token for `key` unless it is about to expire.
    fn cached(&self, key: &Account) -> Option<Token> {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .filter(|c| c.expires.is_none_or(|e| e > now() + REFRESH_AHEAD_SECS))
            .map(|c| c.token.clone())
    }

    /// Forgets what this process holds for `principal`'s account at `server`.
    pub fn invalidate_one(&self, server: &Uuid, principal: &str) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(s, p), _| s != server || p != principal);
    }

    /// Forgets what this process holds for `server` (another replica changed its
    /// tokens, or a backend refused one).
    pub fn invalidate(&self, server: &Uuid) {
        self.exchanges.forget(server);
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(s, _), _| s != server);
        // Turns nobody waits for go with it (the map holds one per live account at most).
        self.turns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(s, _), t| s != server || Arc::strong_count(t) > 1);
    }

    /// Refreshes done, and failed, by this process.
    pub fn refreshes(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.refreshed.load(Relaxed),
            self.refresh_failures.load(Relaxed),
        )
    }

    /// The scopes held (or last asked for) for `server` and `principal`.
    async fn granted_scopes(
        &self,
        server: Uuid,
        principal: &str,
    ) -> Result<Vec<String>, VaultError> {
        let db = self.pool.get().await?;
        Ok(db
            .query_opt(
                "SELECT scopes FROM upstream_tokens WHERE server_id = $1 AND principal = $2",
                &[&server, &principal],
            )
            .await?
            .map(|r| {
                r.get::<_, String>(0)
                    .split_whitespace()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// A backend refused a call for want of `scope` (`insufficient_scope`): the next
    /// authorization asks for it too.
    pub fn want(&self, server: Uuid, scope: &str) {
        let mut wanted = self.wanted.lock().unwrap_or_else(|p| p.into_inner());
        let list = wanted.entry(server).or_default();
        for s in scope.split_whitespace().take(32) {
            if list.len() < 64 && !list.iter().any(|x| x == s) {
                list.push(s.to_string());
            }
        }
    }
}
