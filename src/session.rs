//! Client sessions as sealed tokens: the `Mcp-Session-Id` is XChaCha20-Poly1305 over the
//! session's facts (key id, namespace, protocol version, client capabilities, times), so
//! any gateway process sharing `ENCRYPTION_KEY` can serve any request of it. A session is
//! bound to the key that created it, expires after an absolute lifetime, and once ended
//! (`DELETE`) is refused everywhere: its hash is recorded in `ended_sessions` and
//! announced to every process, which forget it once it would have expired anyway.

use foldhash::{HashMap, HashMapExt};
use std::sync::{Arc, Mutex, RwLock};

use deadpool_postgres::Pool;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::crypto::{Cipher, base64url, base64url_decode};
use crate::db::DbError;

const AAD: &[u8] = b"mcp_session:v1";
const PREFIX: &str = "mcs1.";

/// What a session id carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionClaims {
    /// The key that opened it; empty for an open (`auth: none`) namespace.
    pub kid: String,
    /// The namespace, or `None` for `/mcp`.
    pub ns: Option<String>,
    /// The negotiated protocol version.
    pub v: String,
    /// The client's capabilities (raw JSON text).
    pub caps: String,
    pub iat: u64,
    pub exp: u64,
}

/// Why a presented session id is not usable (all answered with 404).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("unknown session")]
    Unknown,
    #[error("session expired")]
    Expired,
    #[error("session ended")]
    Ended,
    #[error("session belongs to another key or endpoint")]
    Foreign,
}

pub fn seal(cipher: &Cipher, claims: &SessionClaims) -> String {
    let plain = serde_json::to_vec(claims).unwrap_or_default();
    format!("{PREFIX}{}", base64url(&cipher.seal(&plain, AAD)))
}

/// Opens a session id and checks it belongs to this key and endpoint.
pub fn open(
    cipher: &Cipher,
    ended: &EndedSessions,
    id: &str,
    kid: &str,
    ns: Option<&str>,
    now: u64,
) -> Result<SessionClaims, SessionError> {
    let sealed = id
        .strip_prefix(PREFIX)
        .and_then(base64url_decode)
        .ok_or(SessionError::Unknown)?;
    let plain = cipher
        .open(&sealed, AAD)
        .map_err(|_| SessionError::Unknown)?;
    let claims: SessionClaims =
        serde_json::from_slice(&plain).map_err(|_| SessionError::Unknown)?;
    check(&claims, &hash(id), ended, kid, ns, now)?;
    Ok(claims)
}

/// The checks every use of a session passes: not expired, this key and endpoint, not
/// ended.
fn check(
    claims: &SessionClaims,
    hash: &[u8; 16],
    ended: &EndedSessions,
    kid: &str,
    ns: Option<&str>,
    now: u64,
) -> Result<(), SessionError> {
    if claims.exp <= now {
        return Err(SessionError::Expired);
    }
    if claims.kid != kid || claims.ns.as_deref() != ns {
        return Err(SessionError::Foreign);
    }
    if ended.contains(hash, now) {
        return Err(SessionError::Ended);
    }
    Ok(())
}

/// A session id already opened once, so later requests skip the decryption.
#[derive(Debug)]
pub struct OpenSession {
    pub claims: SessionClaims,
    pub hash: [u8; 16],
    /// Key for this session's in-flight requests.
    pub conversation: Arc<str>,
}

/// Opened sessions by id (bounded; emptied when full).
#[derive(Default)]
pub struct SessionCache {
    map: RwLock<HashMap<Box<str>, Arc<OpenSession>>>,
}

const MAX_CACHED: usize = 16_384;

impl SessionCache {
    /// [`open`], remembering the result: a cached id is still checked for expiry, key,
    /// endpoint and ending on every use.
    pub fn open(
        &self,
        cipher: &Cipher,
        ended: &EndedSessions,
        id: &str,
        kid: &str,
        ns: Option<&str>,
        now: u64,
    ) -> Result<Arc<OpenSession>, SessionError> {
        let cached = self
            .map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned();
        let s = match cached {
            Some(s) => s,
            None => {
                let claims = open(cipher, ended, id, kid, ns, now)?;
                let hash = hash(id);
                let s = Arc::new(OpenSession {
                    claims,
                    hash,
                    conversation: Arc::from(format!("s:{}", base64url(&hash))),
                });
                let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
                if map.len() >= MAX_CACHED {
                    map.clear();
                }
                map.insert(id.into(), s.clone());
                return Ok(s);
            }
        };
        check(&s.claims, &s.hash, ended, kid, ns, now)?;
        Ok(s)
    }
}

/// The 16-byte hash under which an ended session is recorded.
pub fn hash(id: &str) -> [u8; 16] {
    let d = Sha256::digest(id.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

/// Ended sessions not yet expired, by hash.
#[derive(Default)]
pub struct EndedSessions {
    map: Mutex<HashMap<[u8; 16], u64>>,
}

impl EndedSessions {
    pub fn contains(&self, h: &[u8; 16], now: u64) -> bool {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(h)
            .is_some_and(|exp| *exp > now)
    }

    pub fn insert(&self, h: [u8; 16], expires: u64, now: u64) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, exp| *exp > now);
        map.insert(h, expires);
    }

    /// Records an ended session in the database (other processes learn of it by NOTIFY)
    /// and here at once.
    pub async fn end(&self, pool: &Pool, id: &str, expires: u64, now: u64) -> Result<(), DbError> {
        let h = hash(id);
        self.insert(h, expires, now);
        let client = pool.get().await?;
        client
            .execute(
                "INSERT INTO ended_sessions (id_hash, expires_at) VALUES ($1, to_timestamp($2::float8))
                 ON CONFLICT (id_hash) DO NOTHING",
                &[&h.as_slice(), &(expires as f64)],
            )
            .await?;
        client
            .execute("DELETE FROM ended_sessions WHERE expires_at < now()", &[])
            .await?;
        Ok(())
    }

    /// Loads every unexpired ended session (start-up and refresh).
    pub async fn reload(&self, pool: &Pool, now: u64) -> Result<(), DbError> {
        let client = pool.get().await?;
        let rows = client
            .query(
                "SELECT id_hash, extract(epoch FROM expires_at)::float8 FROM ended_sessions
                 WHERE expires_at > now()",
                &[],
            )
            .await?;
        let mut fresh = HashMap::with_capacity(rows.len());
        for r in rows {
            let h: Vec<u8> = r.try_get(0)?;
            let exp: f64 = r.try_get(1)?;
            if let Ok(h) = <[u8; 16]>::try_from(h.as_slice()) {
                fresh.insert(h, exp as u64);
            }
        }
        let _ = now;
        *self.map.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeyBytes;

    fn claims() -> SessionClaims {
        SessionClaims {
            kid: "0123456789abcdef".into(),
            ns: Some("team-a".into()),
            v: "2025-06-18".into(),
            caps: "{}".into(),
            iat: 100,
            exp: 1000,
        }
    }

    #[test]
    fn sealed_ids_open_only_for_their_key_and_endpoint() {
        let c = Cipher::new(&KeyBytes([3; 32]));
        let ended = EndedSessions::default();
        let id = seal(&c, &claims());
        assert!(id.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        assert_eq!(
            open(&c, &ended, &id, "0123456789abcdef", Some("team-a"), 500),
            Ok(claims())
        );
        assert_eq!(
            open(&c, &ended, &id, "ffffffffffffffff", Some("team-a"), 500),
            Err(SessionError::Foreign)
        );
        assert_eq!(
            open(&c, &ended, &id, "0123456789abcdef", None, 500),
            Err(SessionError::Foreign)
        );
        assert_eq!(
            open(&c, &ended, &id, "0123456789abcdef", Some("team-a"), 1000),
            Err(SessionError::Expired)
        );
        let other = Cipher::new(&KeyBytes([4; 32]));
        assert_eq!(
            open(&other, &ended, &id, "0123456789abcdef", Some("team-a"), 500),
            Err(SessionError::Unknown)
        );
        assert_eq!(
            open(&c, &ended, "mcs1.AAAA", "x", None, 500),
            Err(SessionError::Unknown)
        );
        ended.insert(hash(&id), 1000, 500);
        assert_eq!(
            open(&c, &ended, &id, "0123456789abcdef", Some("team-a"), 500),
            Err(SessionError::Ended)
        );
    }
}
