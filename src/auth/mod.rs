//! Authentication: who is calling, from `Authorization: Bearer <JWT | API key>` or
//! `X-API-Key`, without a database round trip per request.
//!
//! Every key's state (scope, namespaces, active, expiry, secret version) is held in
//! memory, loaded whole at start and refreshed per key on NOTIFY (see `changes`). A JWT
//! costs a signature check and a lookup in that map. An API key costs argon2 once; after
//! that a SHA-256 digest of its secret is cached and compared in constant time, valid only
//! while the key's secret version is unchanged. Failures are charged to the caller's
//! address; an address out of budget gets 429 instead of any argon2 work, while keys it
//! already proved (cached) and tokens keep working.

pub mod dpop;
pub mod handshake;
pub mod limits;
pub mod oauth;
pub mod session;
pub mod token;

use foldhash::{HashMap, HashMapExt};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use deadpool_postgres::Pool;
use hyper::header::{AUTHORIZATION, HeaderMap};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tokio_postgres::Row;

use crate::auth::limits::Limiter;
use crate::auth::limits::failures::FailureLimiter;
use crate::auth::token::{Claims, TOKEN_LIFETIME_SECS, Tokens, new_jti};
use crate::base::KeyId;
use crate::base::unix_now;
use crate::crypto::constant_time_eq;
use crate::model::limits::KeyLimits;
use crate::store::db::DbError;
use crate::store::keys::{AuthFailure, KeyStore, Scope, parse_key_text, secret_version};

/// Concurrent argon2 verifications at most: a flood of distinct bad keys from many
/// addresses still cannot take every core.
/// The API key header (a name parsed once, not on every lookup).
pub const X_API_KEY: hyper::header::HeaderName =
    hyper::header::HeaderName::from_static("x-api-key");
const ARGON2_SLOTS: usize = 2;

/// How the caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Jwt,
    /// An OAuth access token from a configured authorization server.
    OAuth,
    /// An API key found in the cache.
    ApiKey,
    /// An API key checked against the database (argon2) on this request.
    ApiKeyChecked,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key_id: KeyId,
    pub scope: Scope,
    /// Namespaces this key may use; empty means all.
    pub namespaces: Arc<[String]>,
    pub via: Via,
    /// The key's own limits (the process defaults fill in the rest).
    pub limits: KeyLimits,
    /// Set when the caller came with an OAuth access token: who it speaks for
    /// (`key_id` is then derived from its issuer and subject).
    pub oauth: Option<Arc<oauth::Identity>>,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.scope == Scope::Admin
    }

    /// The key id whose upstream accounts are this caller's own: an OAuth caller's
    /// subject's (even where its limits go by client), else the key's.
    pub fn account_key(&self) -> KeyId {
        self.oauth.as_ref().map_or(self.key_id, |o| o.account_key())
    }

    /// Whether this key may use `namespace`.
    pub fn may_use(&self, namespace: &str) -> bool {
        self.namespaces.is_empty() || self.namespaces.iter().any(|n| n == namespace)
    }

    /// The principal of an accepted OAuth token.
    pub fn from_oauth(id: oauth::Identity) -> Principal {
        Principal {
            key_id: id.key_id,
            scope: id.scope,
            namespaces: id.namespaces.clone(),
            via: Via::OAuth,
            limits: id.limits,
            oauth: Some(Arc::new(id)),
        }
    }

    /// Whether this key is limited to some namespaces.
    pub fn is_limited(&self) -> bool {
        !self.namespaces.is_empty()
    }
}

/// A key as the gateway holds it in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyState {
    pub name: String,
    pub scope: Scope,
    pub namespaces: Arc<[String]>,
    pub active: bool,
    pub expires_at: Option<f64>,
    pub version: String,
    pub limits: KeyLimits,
}

impl KeyState {
    fn usable(&self, now: f64) -> Result<(), &'static str> {
        if !self.active {
            return Err("inactive");
        }
        if self.expires_at.is_some_and(|e| e <= now) {
            return Err("expired");
        }
        Ok(())
    }
}

/// What a reload found changed about one key (for the event stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyChange {
    Created,
    Deleted,
    Revoked,
    Activated,
    Rotated,
    Updated,
    Unchanged,
}

impl KeyChange {
    pub fn event_type(self) -> Option<&'static str> {
        match self {
            KeyChange::Created => Some("key.created"),
            KeyChange::Deleted => Some("key.deleted"),
            KeyChange::Revoked => Some("key.revoked"),
            KeyChange::Activated => Some("key.activated"),
            KeyChange::Rotated => Some("key.rotated"),
            KeyChange::Updated => Some("key.updated"),
            KeyChange::Unchanged => None,
        }
    }
}

/// Why a request is not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("authentication required: send Authorization: Bearer <token or API key>, or X-API-Key")]
    Missing,
    #[error("{}", invalid_message(reason))]
    Invalid { reason: &'static str },
    #[error("too many failed authentication attempts")]
    RateLimited { retry_after: u64 },
    #[error("authentication is unavailable: {0}")]
    Unavailable(String),
}

/// What a client is told of credentials refused for `reason`: a credential of the wrong
/// shape says which shape is expected; any other says no more than that it failed.
fn invalid_message(reason: &str) -> &'static str {
    match reason {
        "scheme" => {
            "the Authorization header must read `Bearer <API key or access token>` \
             (or send the API key alone in X-API-Key)"
        }
        "malformed" => {
            "malformed credentials: an API key reads mcp_<16 hex digits>_<40 letters and \
             digits>, as keyadm printed it; an access token is a JWT (three dot-separated \
             parts). Send either as `Authorization: Bearer <credential>`"
        }
        _ => "invalid or revoked credentials",
    }
}

impl AuthError {
    /// The label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Invalid { reason } => reason,
            AuthError::RateLimited { .. } => "rate_limited",
            AuthError::Unavailable(_) => "unavailable",
        }
    }
}

struct CachedSecret {
    digest: [u8; 32],
    version: String,
}

/// A freshly issued access token.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssuedToken {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
}

/// The process's authenticator.
pub struct Authenticator {
    /// Argon2 verification against the database, on cache misses.
    store: KeyStore,
    tokens: Tokens,
    /// Every key's current state, by id; the source of truth for revocation.
    states: RwLock<HashMap<KeyId, Arc<KeyState>>>,
    /// Digests of API key secrets that passed argon2, by key id.
    cache: RwLock<HashMap<KeyId, CachedSecret>>,
    /// Keys whose secret argon2 is verifying now, one verification each at a time (the
    /// others wait, then read the cache).
    verifying: std::sync::Mutex<HashMap<KeyId, Arc<tokio::sync::Mutex<()>>>>,
    limiter: FailureLimiter,
    argon2_slots: Semaphore,
    /// Set once the first full load succeeded (`/ready` waits for it).
    loaded: AtomicBool,
    /// When keys were last used and how many calls they made, written in batches.
    pub usage: limits::usage::Usage,
    /// Per-key rates, concurrency caps and quotas.
    pub limits: Limiter,
}

const STATE_COLUMNS: &str = "id, name, scope, namespaces, is_active, \
     extract(epoch FROM expires_at)::float8, secret_hash, rate, burst, max_concurrent, daily_calls";

fn state_from_row(row: &Row) -> Result<(KeyId, KeyState), DbError> {
    let id: String = row.try_get(0)?;
    let scope: String = row.try_get(2)?;
    let hash: String = row.try_get(6)?;
    let namespaces: Vec<String> = row.try_get(3)?;
    Ok((
        KeyId::parse(&id)
            .ok_or_else(|| DbError::Task(format!("stored key id {id:?} is malformed")))?,
        KeyState {
            name: row.try_get(1)?,
            scope: Scope::parse(&scope).unwrap_or(Scope::Client),
            namespaces: namespaces.into(),
            active: row.try_get(4)?,
            expires_at: row.try_get(5)?,
            version: secret_version(&hash),
            limits: KeyLimits::from_columns(
                row.try_get::<_, Option<&str>>(7)?,
                row.try_get(8)?,
                row.try_get(9)?,
                row.try_get(10)?,
            ),
        },
    ))
}

impl Authenticator {
    /// The key store.
    pub fn keys(&self) -> &KeyStore {
        &self.store
    }

    pub fn new(store: KeyStore, tokens: Tokens, limits: Limiter) -> Authenticator {
        Authenticator {
            store,
            tokens,
            states: RwLock::default(),
            cache: RwLock::default(),
            verifying: Default::default(),
            limiter: FailureLimiter::default(),
            argon2_slots: Semaphore::new(ARGON2_SLOTS),
            loaded: AtomicBool::new(false),
            usage: limits::usage::Usage::default(),
            limits,
        }
    }

    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Replaces every key state from the database and drops cached secrets whose key
    /// changed or vanished.
    pub async fn reload_all(&self, pool: &Pool) -> Result<(), DbError> {
        let client = pool.get().await?;
        let rows = client
            .query(&format!("SELECT {STATE_COLUMNS} FROM api_keys"), &[])
            .await?;
        let mut fresh = HashMap::with_capacity(rows.len());
        for row in &rows {
            let (id, state) = state_from_row(row)?;
            fresh.insert(id, Arc::new(state));
        }
        {
            let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
            cache.retain(|id, c| fresh.get(id).is_some_and(|s| s.version == c.version));
        }
        *self.states.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        self.loaded.store(true, Ordering::Release);
        Ok(())
    }

    /// Refreshes one key after a change notification; says what changed.
    pub async fn reload_key(&self, pool: &Pool, id: &KeyId) -> Result<KeyChange, DbError> {
        let client = pool.get().await?;
        let row = client
            .query_opt(
                &format!("SELECT {STATE_COLUMNS} FROM api_keys WHERE id = $1"),
                &[&id.as_str()],
            )
            .await?;
        let fresh = row
            .as_ref()
            .map(state_from_row)
            .transpose()?
            .map(|(_, s)| s);
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        let mut states = self.states.write().unwrap_or_else(|p| p.into_inner());
        let old = match &fresh {
            Some(s) => states.insert(*id, Arc::new(s.clone())),
            None => {
                self.limits.forget(id);
                states.remove(id)
            }
        };
        Ok(match (old, fresh) {
            (None, None) => KeyChange::Unchanged,
            (None, Some(_)) => KeyChange::Created,
            (Some(_), None) => KeyChange::Deleted,
            (Some(o), Some(n)) if o.active && !n.active => KeyChange::Revoked,
            (Some(o), Some(n)) if !o.active && n.active => KeyChange::Activated,
            (Some(o), Some(n)) if o.version != n.version => KeyChange::Rotated,
            (Some(o), Some(n)) if *o != n => KeyChange::Updated,
            _ => KeyChange::Unchanged,
        })
    }

    /// The principal behind the request's credentials.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        peer: IpAddr,
    ) -> Result<Principal, AuthError> {
        let principal = match credential(headers)? {
            Credential::ApiKey(text) => self.verify_api_key(text, peer).await,
            Credential::Jwt(token) => self.verify_jwt(token, peer),
        }?;
        self.usage.used(principal.key_id.as_str());
        Ok(principal)
    }

    fn fail(&self, peer: IpAddr, reason: &'static str) -> AuthError {
        self.limiter.record_failure(peer, Instant::now());
        AuthError::Invalid { reason }
    }

    /// A key's name, as policies see it.
    pub fn key_name(&self, id: &KeyId) -> Option<String> {
        self.state(id).map(|s| s.name.clone())
    }

    /// Every key that may call now (active, not expired), with its state.
    pub fn usable_keys(&self) -> Vec<(KeyId, Arc<KeyState>)> {
        let now = crate::base::unix_now() as f64;
        self.states
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, s)| s.usable(now).is_ok())
            .map(|(id, s)| (*id, s.clone()))
            .collect()
    }

    /// A key by its id or its name.
    pub fn find_key(&self, id_or_name: &str) -> Option<(KeyId, Arc<KeyState>)> {
        let states = self.states.read().unwrap_or_else(|p| p.into_inner());
        if let Some(id) = KeyId::parse(id_or_name)
            && let Some(s) = states.get(&id)
        {
            return Some((id, s.clone()));
        }
        states
            .iter()
            .find(|(_, s)| s.name == id_or_name)
            .map(|(id, s)| (*id, s.clone()))
    }

    fn state(&self, id: &KeyId) -> Option<Arc<KeyState>> {
        self.states
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// Verifies an access token: signature, algorithm, expiry, and that its key is still
    /// active with the same secret.
    pub fn verify_jwt(&self, token: &str, peer: IpAddr) -> Result<Principal, AuthError> {
        let now = unix_now();
        let claims = self
            .tokens
            .verify(token, now)
            .map_err(|_| self.fail(peer, "bad_token"))?;
        let id = KeyId::parse(&claims.sub).ok_or_else(|| self.fail(peer, "bad_token"))?;
        let state = self
            .state(&id)
            .ok_or_else(|| self.fail(peer, "unknown_key"))?;
        state.usable(now as f64).map_err(|r| self.fail(peer, r))?;
        if state.version != claims.kv {
            return Err(self.fail(peer, "rotated"));
        }
        Ok(Principal {
            key_id: id,
            scope: state.scope,
            namespaces: state.namespaces.clone(),
            via: Via::Jwt,
            limits: state.limits,
            oauth: None,
        })
    }

    /// Verifies API key text: cached digest when possible, argon2 otherwise.
    pub async fn verify_api_key(&self, text: &str, peer: IpAddr) -> Result<Principal, AuthError> {
        let (id, secret) = parse_key_text(text).ok_or_else(|| self.fail(peer, "malformed"))?;
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let now = unix_now() as f64;
        if let Some(answer) = self.cached(&id, &digest, now, peer) {
            return answer;
        }
        // The slow path is boxed: its future (argon2, database) would otherwise be part
        // of every request's.
        Box::pin(self.verify_once(id, text, digest, now, peer)).await
    }

    /// The answer from the cache, when it holds this key's digest.
    fn cached(
        &self,
        id: &KeyId,
        digest: &[u8; 32],
        now: f64,
        peer: IpAddr,
    ) -> Option<Result<Principal, AuthError>> {
        let state = self.state(id)?;
        let hit = self
            .cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .is_some_and(|c| c.version == state.version && constant_time_eq(&c.digest, digest));
        if !hit {
            return None;
        }
        Some(match state.usable(now) {
            Ok(()) => Ok(Principal {
                key_id: *id,
                scope: state.scope,
                namespaces: state.namespaces.clone(),
                via: Via::ApiKey,
                limits: state.limits,
                oauth: None,
            }),
            Err(r) => Err(self.fail(peer, r)),
        })
    }

    /// One argon2 verification of a key at a time (single flight): requests that arrive
    /// while one runs wait for it, then find its digest cached. A burst of calls with a
    /// valid key whose cached proof was just dropped (a key change) costs one
    /// verification and charges no failure; only a wrong secret counts as one.
    async fn verify_once(
        &self,
        id: KeyId,
        text: &str,
        digest: [u8; 32],
        now: f64,
        peer: IpAddr,
    ) -> Result<Principal, AuthError> {
        let flight = self
            .verifying
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id)
            .or_default()
            .clone();
        let answer = {
            let _turn = flight.lock().await;
            match self.cached(&id, &digest, now, peer) {
                Some(answer) => answer,
                None => self.verify_with_argon2(text, digest, now, peer).await,
            }
        };
        // The last one out removes the key's entry: the map holds keys being verified.
        let mut verifying = self.verifying.lock().unwrap_or_else(|p| p.into_inner());
        if Arc::strong_count(&flight) <= 2 {
            verifying.remove(&id);
        }
        answer
    }

    /// Verifies key text against the database (argon2) and caches its digest.
    async fn verify_with_argon2(
        &self,
        text: &str,
        digest: [u8; 32],
        now: f64,
        peer: IpAddr,
    ) -> Result<Principal, AuthError> {
        // Argon2 ahead: only for addresses with failures left, and the failure is
        // charged before the work (refunded on success), so concurrent attempts cannot
        // all pass the check before any of them fails.
        self.limiter
            .reserve(peer, Instant::now())
            .map_err(|retry_after| AuthError::RateLimited { retry_after })?;
        let verified = {
            let slot = self.argon2_slots.acquire().await;
            match slot {
                Ok(_slot) => self.store.verify(text).await,
                Err(_) => Err(AuthFailure::Unavailable("shutting down".into())),
            }
        };
        let key = match verified {
            Ok(k) => k,
            Err(AuthFailure::Unavailable(m)) => {
                self.limiter.refund(peer, Instant::now());
                return Err(AuthError::Unavailable(m));
            }
            // Already charged.
            Err(f) => return Err(AuthError::Invalid { reason: f.reason() }),
        };
        // Only a state the change listener has not seen yet is filled in from here; a
        // newer one it already holds wins.
        let state = {
            let mut states = self.states.write().unwrap_or_else(|p| p.into_inner());
            states
                .entry(key.id)
                .or_insert_with(|| {
                    Arc::new(KeyState {
                        name: key.name.clone(),
                        scope: key.scope,
                        namespaces: key.namespaces.clone().into(),
                        active: true,
                        expires_at: key.expires_at,
                        version: key.version.clone(),
                        limits: key.limits,
                    })
                })
                .clone()
        };
        if state.version == key.version {
            self.cache
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(
                    key.id,
                    CachedSecret {
                        digest,
                        version: key.version.clone(),
                    },
                );
        }
        // Verified but unusable (inactive, expired): the reserved failure stands.
        state
            .usable(now)
            .map_err(|reason| AuthError::Invalid { reason })?;
        self.limiter.refund(peer, Instant::now());
        Ok(Principal {
            key_id: key.id,
            scope: state.scope,
            namespaces: state.namespaces.clone(),
            via: Via::ApiKeyChecked,
            limits: state.limits,
            oauth: None,
        })
    }

    /// Issues an access token for a principal authenticated by API key; it expires in
    /// 15 minutes, or when the key does if that is sooner.
    pub fn issue_token(&self, p: &Principal) -> Result<IssuedToken, AuthError> {
        let state = self.state(&p.key_id).ok_or(AuthError::Invalid {
            reason: "unknown_key",
        })?;
        let now = unix_now();
        let mut exp = now + TOKEN_LIFETIME_SECS;
        if let Some(e) = state.expires_at {
            exp = exp.min(e.max(0.0) as u64);
        }
        let claims = Claims {
            sub: p.key_id.to_string(),
            scope: state.scope.to_string(),
            ns: state.namespaces.to_vec(),
            iat: now,
            exp,
            jti: new_jti(),
            kv: state.version.clone(),
        };
        let access_token = self
            .tokens
            .sign(&claims)
            .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        Ok(IssuedToken {
            access_token,
            token_type: "Bearer",
            expires_in: exp.saturating_sub(now),
        })
    }
}

enum Credential<'a> {
    Jwt(&'a str),
    ApiKey(&'a str),
}

/// The credential in the headers; `Authorization` wins over `X-API-Key`.
fn credential(headers: &HeaderMap) -> Result<Credential<'_>, AuthError> {
    let bad = AuthError::Invalid {
        reason: "malformed",
    };
    if let Some(v) = headers.get(AUTHORIZATION) {
        let v = v.to_str().map_err(|_| AuthError::Invalid {
            reason: "malformed",
        })?;
        // A credential without its scheme (`Authorization: mcp_…`) is told to add it.
        let (scheme, rest) = v
            .trim()
            .split_once(' ')
            .ok_or(AuthError::Invalid { reason: "scheme" })?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Invalid { reason: "scheme" });
        }
        let token = rest.trim();
        if token.starts_with("mcp_") {
            return Ok(Credential::ApiKey(token));
        }
        // Neither an API key nor a JWT's three parts: the wrong shape, said so.
        if token.is_empty() || token.bytes().filter(|b| *b == b'.').count() != 2 {
            return Err(bad);
        }
        return Ok(Credential::Jwt(token));
    }
    if let Some(v) = headers.get(X_API_KEY) {
        let v = v.to_str().map_err(|_| AuthError::Invalid {
            reason: "malformed",
        })?;
        return Ok(Credential::ApiKey(v.trim()));
    }
    Err(AuthError::Missing)
}
