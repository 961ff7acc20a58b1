//! API keys: creation, administration and verification.
//!
//! A key reads `mcp_<id>_<secret>`. The id (16 lowercase hex digits, no `_`) finds the
//! row; the secret (40 characters of `[A-Za-z0-9]`, about 238 bits) is checked against an
//! argon2id hash with OWASP's parameters, on a blocking thread. The whole key text is also
//! kept sealed under `ENCRYPTION_KEY`, never returned. Verification fails the same way to
//! the outside whatever the reason, and costs the same argon2 work for an unknown id as for
//! a known one, so neither answers nor timing tell an attacker which ids exist.

use std::fmt;
use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use deadpool_postgres::Pool;
use serde::Serialize;
use tokio_postgres::Row;

use crate::base::KeyId;
use crate::crypto::{Cipher, random_alphanumeric, random_bytes, to_hex};
use crate::model::limits::{KeyLimits, LimitsChange};
use crate::model::names::is_valid_name;
use crate::store::db::DbError;

const PREFIX: &str = "mcp_";
use crate::base::key_id::ID_LEN;
const SECRET_LEN: usize = 40;
/// Longest name and description accepted (the schema enforces the same).
const MAX_NAME: usize = 100;
const MAX_DESCRIPTION: usize = 1000;
/// Longest expiry accepted: ten years.
const MAX_EXPIRES_DAYS: u32 = 3650;

/// argon2id, m = 19 MiB, t = 2, p = 1: OWASP's recommended minimum.
fn hasher() -> Argon2<'static> {
    match Params::new(19 * 1024, 2, 1, None) {
        Ok(params) => Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
        Err(e) => unreachable!("constant argon2 parameters are valid: {e}"),
    }
}

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// May change the registry and everything a client may do.
    Admin,
    /// May use MCP endpoints and read the registry.
    Client,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Client => "client",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "admin" => Some(Scope::Admin),
            "client" => Some(Scope::Client),
            _ => None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fresh, random key id.
fn new_key_id() -> KeyId {
    let mut b = [0u8; ID_LEN / 2];
    random_bytes(&mut b);
    KeyId::parse(&to_hex(&b)).unwrap_or(KeyId::ZERO)
}

/// Presented key text split into id and secret, or `None` if it is not of the form.
pub fn parse_key_text(text: &str) -> Option<(KeyId, &str)> {
    let rest = text.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let id = KeyId::parse(id)?;
    (secret.len() == SECRET_LEN && secret.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some((id, secret))
}

/// A key as administrators see it: never the secret.
#[derive(Debug, Clone, Serialize)]
pub struct KeyRecord {
    pub id: KeyId,
    pub name: String,
    pub description: Option<String>,
    pub scope: Scope,
    pub namespaces: Vec<String>,
    pub is_active: bool,
    /// Past its `expires_at`.
    pub expired: bool,
    pub created_at: String,
    pub updated_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
    /// Calls forwarded to backends with this key (recorded every few seconds).
    pub calls: i64,
    /// The key's own limits (`null`: the gateway's default applies).
    pub limits: KeyLimits,
}

impl KeyRecord {
    /// `active`, `inactive` or `expired`.
    pub fn state(&self) -> &'static str {
        match (self.is_active, self.expired) {
            (false, _) => "inactive",
            (true, true) => "expired",
            (true, false) => "active",
        }
    }
}

/// The columns of a [`KeyRecord`], timestamps as RFC 3339 UTC text.
const RECORD_COLUMNS: &str = "id, name, description, scope, namespaces, is_active, \
     (expires_at IS NOT NULL AND expires_at <= now()) AS expired, \
     to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
     to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
     to_char(last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
     to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), calls, \
     rate, burst, max_concurrent, daily_calls";

fn record(row: &Row) -> Result<KeyRecord, KeyError> {
    let scope: String = row.try_get(3)?;
    Ok(KeyRecord {
        id: KeyId::parse(row.try_get(0)?).ok_or(KeyError::Corrupt("id"))?,
        name: row.try_get(1)?,
        description: row.try_get(2)?,
        scope: Scope::parse(&scope).ok_or(KeyError::Corrupt("scope"))?,
        namespaces: row.try_get(4)?,
        is_active: row.try_get(5)?,
        expired: row.try_get(6)?,
        created_at: row.try_get(7)?,
        updated_at: row.try_get(8)?,
        last_used_at: row.try_get(9)?,
        expires_at: row.try_get(10)?,
        calls: row.try_get(11)?,
        limits: KeyLimits::from_columns(
            row.try_get::<_, Option<&str>>(12)?,
            row.try_get(13)?,
            row.try_get(14)?,
            row.try_get(15)?,
        ),
    })
}

/// What `keys create` asks for.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub name: String,
    pub description: Option<String>,
    pub scope: Scope,
    pub namespaces: Vec<String>,
    pub expires_in_days: Option<u32>,
    /// Limits to set (absent ones stay at the default).
    pub limits: LimitsChange,
}

/// A key just created or rotated: the only moment its text exists outside the client.
#[derive(Clone, Serialize)]
pub struct IssuedKey {
    pub id: KeyId,
    pub api_key: String,
}

impl fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IssuedKey {{ id: {}, api_key: *** }}", self.id)
    }
}

/// Administration failures; each message is one line fit for an operator.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("malformed key id {0:?}: a key id is 16 lowercase hex digits")]
    MalformedId(String),
    #[error("no key with id {0}")]
    NotFound(KeyId),
    #[error(
        "no key named {0:?}, and it is not a key id (16 lowercase hex digits): keyadm keys \
         list shows them"
    )]
    NoSuchName(String),
    #[error("{1} keys are named {0:?}: name the one you mean by its id (keyadm keys list)")]
    Ambiguous(String, usize),
    #[error("key {0} is already active")]
    AlreadyActive(KeyId),
    #[error("key {0} is already inactive")]
    AlreadyInactive(KeyId),
    #[error("key {0} has expired and cannot be activated; create a new key")]
    ExpiredActivation(KeyId),
    #[error("invalid {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// `keys create --namespace` naming namespaces the registry does not have: such a
    /// key would be accepted and then see nothing.
    #[error(
        "no namespace named {}: create it first (keyadm namespaces add NAME --server S, or \
         POST /api/v1/namespaces), or leave --namespace out for a key of every namespace",
        .0.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
    )]
    NoSuchNamespace(Vec<String>),
    #[error("stored key has an unreadable {0}")]
    Corrupt(&'static str),
    #[error("hashing failed: {0}")]
    Hash(String),
    #[error("{0}")]
    Db(#[from] DbError),
}

impl From<tokio_postgres::Error> for KeyError {
    fn from(e: tokio_postgres::Error) -> Self {
        KeyError::Db(DbError::Query(e))
    }
}

impl From<deadpool_postgres::PoolError> for KeyError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        KeyError::Db(DbError::Pool(e))
    }
}

/// Why a presented key was refused. Callers log [`AuthFailure::reason`] and answer every
/// variant but `Unavailable` with the same 401.
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    #[error("invalid API key")]
    Malformed,
    #[error("invalid API key")]
    UnknownKey,
    #[error("invalid API key")]
    BadSecret,
    #[error("invalid API key")]
    Inactive,
    #[error("invalid API key")]
    Expired,
    #[error("authentication is unavailable: {0}")]
    Unavailable(String),
}

impl AuthFailure {
    /// The internal reason, for logs and metrics only.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthFailure::Malformed => "malformed",
            AuthFailure::UnknownKey => "unknown_key",
            AuthFailure::BadSecret => "bad_secret",
            AuthFailure::Inactive => "inactive",
            AuthFailure::Expired => "expired",
            AuthFailure::Unavailable(_) => "unavailable",
        }
    }
}

/// A key that passed verification: what the gateway needs to authorise requests.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedKey {
    pub id: KeyId,
    pub name: String,
    pub scope: Scope,
    pub namespaces: Vec<String>,
    /// Seconds since the Unix epoch, if the key expires.
    pub expires_at: Option<f64>,
    /// [`secret_version`] of the hash the secret was checked against.
    pub version: String,
    pub limits: KeyLimits,
}

/// A short fingerprint of a stored secret hash: changes exactly when the key is rotated.
pub fn secret_version(hash: &str) -> String {
    use sha2::Digest;
    to_hex(&sha2::Sha256::digest(hash.as_bytes())[..8])
}

/// Key administration and verification over the database.
#[derive(Clone)]
pub struct KeyStore {
    pool: Pool,
    cipher: Cipher,
}

impl KeyStore {
    pub fn new(pool: Pool, cipher: Cipher) -> KeyStore {
        KeyStore { pool, cipher }
    }

    /// The pool the store queries through.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Creates a key and returns its text, which is never shown again.
    pub async fn create(&self, new: NewKey) -> Result<IssuedKey, KeyError> {
        validate(&new)?;
        self.name_is_free(new.name.trim()).await?;
        let id = new_key_id();
        let (text, hash, sealed) = self.make_secret(&id).await?;
        let days = new.expires_in_days.map(|d| d as i32);
        let l = new.limits.applied_to(&KeyLimits::default());
        let (rate, burst, max_concurrent, daily_calls) = l.to_columns();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // The namespaces named exist, and stay until the key is written (a namespace
        // removed at the same moment waits for this transaction, or fails it).
        let found: Vec<String> = tx
            .query(
                "SELECT name FROM namespaces WHERE name = ANY($1) FOR SHARE",
                &[&new.namespaces],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let mut missing: Vec<String> = new
            .namespaces
            .iter()
            .filter(|n| !found.contains(n))
            .cloned()
            .collect();
        missing.dedup();
        if !missing.is_empty() {
            return Err(KeyError::NoSuchNamespace(missing));
        }
        tx.execute(
            "INSERT INTO api_keys (id, name, description, scope, namespaces, secret_hash,
                     key_sealed, expires_at, rate, burst, max_concurrent, daily_calls)
                 VALUES ($1, $2, $3, $4, $5, $6, $7,
                     CASE WHEN $8::int IS NULL THEN NULL
                          ELSE now() + make_interval(days => $8::int) END,
                     $9, $10, $11, $12)",
            &[
                &id.as_str(),
                &new.name,
                &new.description,
                &new.scope.as_str(),
                &new.namespaces,
                &hash,
                &sealed,
                &days,
                &rate,
                &burst,
                &max_concurrent,
                &daily_calls,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(IssuedKey { id, api_key: text })
    }

    /// Keys ordered by creation; inactive ones only when asked.
    pub async fn list(&self, include_inactive: bool) -> Result<Vec<KeyRecord>, KeyError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {RECORD_COLUMNS} FROM api_keys WHERE is_active OR $1
                     ORDER BY created_at, id"
                ),
                &[&include_inactive],
            )
            .await?;
        rows.iter().map(record).collect()
    }

    /// Whether any key exists, active or not: the gateway's first start says how to
    /// create the first one when none does.
    pub async fn any(&self) -> Result<bool, KeyError> {
        let client = self.pool.get().await?;
        let row = client
            .query_one("SELECT EXISTS (SELECT 1 FROM api_keys)", &[])
            .await?;
        Ok(row.try_get::<_, bool>(0).map_err(DbError::from)?)
    }

    /// Names tell keys apart (`keyadm keys show NAME`): an active key's name is not
    /// given to another.
    async fn name_is_free(&self, name: &str) -> Result<(), KeyError> {
        let client = self.pool.get().await?;
        let taken = client
            .query_opt(
                "SELECT id FROM api_keys WHERE name = $1 AND is_active LIMIT 1",
                &[&name],
            )
            .await?;
        match taken {
            Some(row) => Err(KeyError::Invalid {
                field: "name",
                message: format!(
                    "an active key is named {name:?} already ({}): choose another name",
                    row.try_get::<_, String>(0).map_err(DbError::from)?
                ),
            }),
            None => Ok(()),
        }
    }

    /// A key by its id, its whole text, or its name (when one key has that name).
    pub async fn resolve(&self, id_or_name: &str) -> Result<KeyId, KeyError> {
        resolve(&self.pool, id_or_name).await
    }

    pub async fn show(&self, id: &str) -> Result<KeyRecord, KeyError> {
        let id = self.resolve(id).await?;
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                &format!("SELECT {RECORD_COLUMNS} FROM api_keys WHERE id = $1"),
                &[&id.as_str()],
            )
            .await?
            .ok_or_else(|| KeyError::NotFound(id))?;
        record(&row)
    }

    /// Activates or inactivates a key; doing what is already done is an error.
    pub async fn set_active(&self, id: &str, active: bool) -> Result<KeyRecord, KeyError> {
        let id = self.resolve(id).await?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT is_active, (expires_at IS NOT NULL AND expires_at <= now())
                 FROM api_keys WHERE id = $1 FOR UPDATE",
                &[&id.as_str()],
            )
            .await?
            .ok_or_else(|| KeyError::NotFound(id))?;
        let (is_active, expired): (bool, bool) = (row.try_get(0)?, row.try_get(1)?);
        match (active, is_active) {
            (true, true) => return Err(KeyError::AlreadyActive(id)),
            (false, false) => return Err(KeyError::AlreadyInactive(id)),
            (true, false) if expired => return Err(KeyError::ExpiredActivation(id)),
            _ => {}
        }
        tx.execute(
            "UPDATE api_keys SET is_active = $2, updated_at = now() WHERE id = $1",
            &[&id.as_str(), &active],
        )
        .await?;
        let row = tx
            .query_one(
                &format!("SELECT {RECORD_COLUMNS} FROM api_keys WHERE id = $1"),
                &[&id.as_str()],
            )
            .await?;
        tx.commit().await?;
        record(&row)
    }

    /// Changes a key's limits (those `change` names; the rest stay); every gateway
    /// process applies them within a second (NOTIFY).
    pub async fn update_limits(
        &self,
        id: &str,
        change: &LimitsChange,
    ) -> Result<KeyRecord, KeyError> {
        let id = self.resolve(id).await?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                &format!("SELECT {RECORD_COLUMNS} FROM api_keys WHERE id = $1 FOR UPDATE"),
                &[&id.as_str()],
            )
            .await?
            .ok_or_else(|| KeyError::NotFound(id))?;
        let current = record(&row)?;
        let (rate, burst, max_concurrent, daily_calls) =
            change.applied_to(&current.limits).to_columns();
        tx.execute(
            "UPDATE api_keys SET rate = $2, burst = $3, max_concurrent = $4, daily_calls = $5,
                 updated_at = now()
             WHERE id = $1",
            &[&id.as_str(), &rate, &burst, &max_concurrent, &daily_calls],
        )
        .await?;
        let row = tx
            .query_one(
                &format!("SELECT {RECORD_COLUMNS} FROM api_keys WHERE id = $1"),
                &[&id.as_str()],
            )
            .await?;
        tx.commit().await?;
        record(&row)
    }

    pub async fn delete(&self, id: &str) -> Result<(), KeyError> {
        let id = self.resolve(id).await?;
        let client = self.pool.get().await?;
        let n = client
            .execute("DELETE FROM api_keys WHERE id = $1", &[&id.as_str()])
            .await?;
        if n == 0 {
            return Err(KeyError::NotFound(id));
        }
        Ok(())
    }

    /// Gives a key a new secret; the old text stops working at once.
    pub async fn rotate(&self, id: &str) -> Result<IssuedKey, KeyError> {
        let id = self.resolve(id).await?;
        let (text, hash, sealed) = self.make_secret(&id).await?;
        let client = self.pool.get().await?;
        let n = client
            .execute(
                "UPDATE api_keys SET secret_hash = $2, key_sealed = $3, updated_at = now()
                 WHERE id = $1",
                &[&id.as_str(), &hash, &sealed],
            )
            .await?;
        if n == 0 {
            return Err(KeyError::NotFound(id));
        }
        Ok(IssuedKey { id, api_key: text })
    }

    /// Checks presented key text. Argon2 runs on a blocking thread.
    pub async fn verify(&self, text: &str) -> Result<VerifiedKey, AuthFailure> {
        let (id, secret) = parse_key_text(text).ok_or(AuthFailure::Malformed)?;
        let unavailable = |e: &dyn fmt::Display| AuthFailure::Unavailable(e.to_string());
        let client = self.pool.get().await.map_err(|e| unavailable(&e))?;
        let row = client
            .query_opt(
                "SELECT name, scope, namespaces, secret_hash, is_active,
                        (expires_at IS NOT NULL AND expires_at <= now()),
                        extract(epoch FROM expires_at)::float8,
                        rate, burst, max_concurrent, daily_calls
                 FROM api_keys WHERE id = $1",
                &[&id.as_str()],
            )
            .await
            .map_err(|e| unavailable(&e))?;
        let stored_hash: Option<String> = match &row {
            Some(r) => Some(r.try_get(3).map_err(|e| unavailable(&e))?),
            None => None,
        };
        // An unknown id costs the same argon2 work as a known one.
        let version = stored_hash
            .as_deref()
            .map(secret_version)
            .unwrap_or_default();
        let hash = stored_hash.unwrap_or_else(|| dummy_hash().to_string());
        let secret = secret.to_string();
        let matches = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|parsed| hasher().verify_password(secret.as_bytes(), &parsed).is_ok())
                .unwrap_or(false)
        })
        .await
        .map_err(|e| unavailable(&e))?;
        let row = row.ok_or(AuthFailure::UnknownKey)?;
        if !matches {
            return Err(AuthFailure::BadSecret);
        }
        let get = |e: tokio_postgres::Error| unavailable(&e);
        if !row.try_get::<_, bool>(4).map_err(get)? {
            return Err(AuthFailure::Inactive);
        }
        if row.try_get::<_, bool>(5).map_err(get)? {
            return Err(AuthFailure::Expired);
        }
        let scope: String = row.try_get(1).map_err(get)?;
        let key = VerifiedKey {
            name: row.try_get(0).map_err(get)?,
            scope: Scope::parse(&scope).ok_or(AuthFailure::Unavailable("corrupt scope".into()))?,
            namespaces: row.try_get(2).map_err(get)?,
            expires_at: row.try_get(6).map_err(get)?,
            version,
            id,
            limits: KeyLimits::from_columns(
                row.try_get::<_, Option<&str>>(7).map_err(get)?,
                row.try_get(8).map_err(get)?,
                row.try_get(9).map_err(get)?,
                row.try_get(10).map_err(get)?,
            ),
        };
        Ok(key)
    }

    /// Opens the sealed key text of `id` (for tests that prove it is sealed, and for
    /// operators' disaster recovery tooling).
    pub async fn unseal(&self, id: &KeyId) -> Result<String, KeyError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT key_sealed FROM api_keys WHERE id = $1",
                &[&id.as_str()],
            )
            .await?
            .ok_or_else(|| KeyError::NotFound(*id))?;
        let sealed: Vec<u8> = row.try_get(0)?;
        let plain = self
            .cipher
            .open(&sealed, aad(id).as_bytes())
            .map_err(|_| KeyError::Corrupt("sealed key"))?;
        String::from_utf8(plain).map_err(|_| KeyError::Corrupt("sealed key"))
    }

    /// New key text for `id`, its argon2id hash and its sealed form.
    async fn make_secret(&self, id: &KeyId) -> Result<(String, String, Vec<u8>), KeyError> {
        let secret = random_alphanumeric(SECRET_LEN);
        let text = format!("{PREFIX}{id}_{secret}");
        let hash = tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            hasher()
                .hash_password(secret.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| KeyError::Hash(e.to_string()))
        })
        .await
        .map_err(|e| KeyError::Hash(e.to_string()))??;
        let sealed = self.cipher.seal(text.as_bytes(), aad(id).as_bytes());
        Ok((text, hash, sealed))
    }
}

fn aad(id: &KeyId) -> String {
    format!("api_key:{id}")
}

/// A key by its id, its whole text, or its name (when one key has that name).
pub async fn resolve(pool: &Pool, id_or_name: &str) -> Result<KeyId, KeyError> {
    let malformed = match parse_id(id_or_name) {
        Ok(id) => return Ok(id),
        Err(e) => e,
    };
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT id FROM api_keys WHERE name = $1 ORDER BY created_at LIMIT 10",
            &[&id_or_name.trim()],
        )
        .await?;
    match rows.as_slice() {
        // Key text with a malformed id is not a name anyone gave.
        [] if id_or_name.starts_with(PREFIX) => Err(malformed),
        [] => Err(KeyError::NoSuchName(id_or_name.to_string())),
        [one] => {
            let id: String = one.try_get(0).map_err(DbError::from)?;
            KeyId::parse(&id).ok_or(KeyError::Corrupt("id"))
        }
        many => Err(KeyError::Ambiguous(id_or_name.to_string(), many.len())),
    }
}

/// A key id, or the id inside a whole key text (`mcp_<id>_<secret>`: the secret is
/// ignored and never repeated in an error).
pub(crate) fn parse_id(id: &str) -> Result<KeyId, KeyError> {
    if let Some(rest) = id.strip_prefix(PREFIX) {
        let inner = rest.split_once('_').map_or(rest, |(i, _)| i);
        return KeyId::parse(inner)
            .ok_or_else(|| KeyError::MalformedId(format!("{PREFIX}{inner}_…")));
    }
    KeyId::parse(id).ok_or_else(|| KeyError::MalformedId(id.to_string()))
}

fn validate(new: &NewKey) -> Result<(), KeyError> {
    let invalid = |field, message: &str| {
        Err(KeyError::Invalid {
            field,
            message: message.to_string(),
        })
    };
    let name = new.name.trim();
    if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
        return invalid("name", "must be 1 to 100 printable characters");
    }
    if let Some(d) = &new.description
        && (d.len() > MAX_DESCRIPTION || d.chars().any(|c| c.is_control() && c != '\n'))
    {
        return invalid("description", "must be at most 1000 printable characters");
    }
    for ns in &new.namespaces {
        if !is_valid_name(ns) {
            return Err(KeyError::Invalid {
                field: "namespace",
                message: format!(
                    "{ns:?} is not a namespace name (letters, digits and '-', at most 32)"
                ),
            });
        }
    }
    if let Some(days) = new.expires_in_days
        && !(1..=MAX_EXPIRES_DAYS).contains(&days)
    {
        return invalid(
            "expires-in",
            "must be a whole number of days from 1 to 3650",
        );
    }
    Ok(())
}

/// A hash of a random secret nobody knows, verified against for unknown ids.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        match hasher().hash_password(random_alphanumeric(SECRET_LEN).as_bytes(), &salt) {
            Ok(h) => h.to_string(),
            Err(e) => unreachable!("hashing with valid parameters: {e}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_text_parsing_is_strict() {
        let secret = "A".repeat(SECRET_LEN);
        let good = format!("mcp_0123456789abcdef_{secret}");
        let (id, s) = parse_key_text(&good).expect("well formed");
        assert_eq!((id.as_str(), s), ("0123456789abcdef", secret.as_str()));
        for bad in [
            format!("mcp_0123456789ABCDEF_{secret}"),
            format!("mcp_0123456789abcde_{secret}"),
            format!("mcq_0123456789abcdef_{secret}"),
            format!("mcp_0123456789abcdef_{secret}x"),
            format!("mcp_0123456789abcdef_{}", "A_".repeat(SECRET_LEN / 2)),
            "mcp_".to_string(),
            String::new(),
        ] {
            assert!(parse_key_text(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn generated_ids_parse() {
        let id = new_key_id();
        assert_eq!(KeyId::parse(id.as_str()), Some(id));
    }

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() {
        let h = dummy_hash();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
    }

    #[test]
    fn validation() {
        let base = NewKey {
            name: "ci".into(),
            description: None,
            scope: Scope::Client,
            namespaces: vec!["team-a".into()],
            expires_in_days: Some(30),
            limits: LimitsChange::default(),
        };
        assert!(validate(&base).is_ok());
        let bad = [
            NewKey {
                name: " ".into(),
                ..base.clone()
            },
            NewKey {
                namespaces: vec!["bad_ns".into()],
                ..base.clone()
            },
            NewKey {
                expires_in_days: Some(0),
                ..base.clone()
            },
            NewKey {
                description: Some("x".repeat(1001)),
                ..base.clone()
            },
        ];
        for b in bad {
            assert!(
                matches!(validate(&b), Err(KeyError::Invalid { .. })),
                "{b:?}"
            );
        }
    }
}
