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

use crate::crypto::{Cipher, Sealed, base64url};
use crate::store::db::DbError;

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
    /// The client capabilities the gateway routes on ([`ClientCaps`] bits); nothing
    /// else the client declared is kept, so a session id stays small whatever the
    /// client sent.
    #[serde(default)]
    pub c: u8,
    pub iat: u64,
    pub exp: u64,
}

pub use crate::base::ClientCaps;

/// Longest session id accepted; longer ones are unknown without being decrypted. The
/// gateway's own ids are a few hundred bytes at most: every claim is bounded.
pub const MAX_SESSION_ID: usize = 1024;

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

/// Session ids: the claims sealed.
const IDS: Sealed<SessionClaims> = Sealed::new(PREFIX, AAD, MAX_SESSION_ID);

pub fn seal(cipher: &Cipher, claims: &SessionClaims) -> String {
    IDS.seal(cipher, claims)
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
    let claims = IDS.open(cipher, id).ok_or(SessionError::Unknown)?;
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

/// Opened sessions by id, bounded by bytes: two generations, each at most
/// [`GENERATION_BYTES`]; when the current one is full it becomes the previous one and
/// the older previous one is dropped. An entry used from the previous generation moves
/// to the current one, so sessions in use stay while idle ones age out.
pub struct SessionCache {
    map: RwLock<Generations>,
}

impl Default for SessionCache {
    fn default() -> Self {
        SessionCache::with_generation_bytes(GENERATION_BYTES)
    }
}

struct Generations {
    current: HashMap<Box<str>, Arc<OpenSession>>,
    current_bytes: usize,
    previous: HashMap<Box<str>, Arc<OpenSession>>,
    limit: usize,
}

/// Bytes of one cache generation (ids, claims and the map's own share of an entry).
pub const GENERATION_BYTES: usize = 8 << 20;

impl Generations {
    fn get(&self, id: &str) -> Option<&Arc<OpenSession>> {
        self.current.get(id).or_else(|| self.previous.get(id))
    }

    fn insert(&mut self, id: &str, s: Arc<OpenSession>) {
        let cost = entry_cost(id, &s);
        if self.current_bytes + cost > self.limit {
            self.previous = std::mem::take(&mut self.current);
            self.current_bytes = 0;
        }
        self.previous.remove(id);
        if self.current.insert(id.into(), s).is_none() {
            self.current_bytes += cost;
        }
    }
}

/// What one cached session costs, roughly: its id twice (key and conversation), its
/// claims, and the map's bookkeeping.
fn entry_cost(id: &str, s: &OpenSession) -> usize {
    let c = &s.claims;
    128 + id.len()
        + s.conversation.len()
        + c.kid.len()
        + c.v.len()
        + c.ns.as_ref().map_or(0, String::len)
}

impl SessionCache {
    /// A cache whose generations hold `limit` bytes each.
    pub fn with_generation_bytes(limit: usize) -> SessionCache {
        SessionCache {
            map: RwLock::new(Generations {
                current: HashMap::new(),
                current_bytes: 0,
                previous: HashMap::new(),
                limit,
            }),
        }
    }

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
        let (cached, in_current) = {
            let map = self.map.read().unwrap_or_else(|p| p.into_inner());
            match map.current.get(id) {
                Some(s) => (Some(s.clone()), true),
                None => (map.get(id).cloned(), false),
            }
        };
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
                self.map
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id, s.clone());
                return Ok(s);
            }
        };
        check(&s.claims, &s.hash, ended, kid, ns, now)?;
        if !in_current {
            self.map
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id, s.clone());
        }
        Ok(s)
    }

    /// Bytes held by the cache (an estimate, for tests and metrics).
    pub fn bytes(&self) -> usize {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.current_bytes
            + map
                .previous
                .iter()
                .map(|(id, s)| entry_cost(id, s))
                .sum::<usize>()
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

    /// Records an ended session in the database (other processes learn of it by NOTIFY),
    /// then here. Nothing is recorded anywhere when the database refuses: an end that
    /// was answered as failed is not half-applied, and the client's retry can succeed.
    pub async fn end(&self, pool: &Pool, id: &str, expires: u64, now: u64) -> Result<(), DbError> {
        let h = hash(id);
        let client = pool.get().await?;
        client
            .execute(
                "INSERT INTO ended_sessions (id_hash, expires_at) VALUES ($1, to_timestamp($2::float8))
                 ON CONFLICT (id_hash) DO NOTHING",
                &[&h.as_slice(), &(expires as f64)],
            )
            .await?;
        self.insert(h, expires, now);
        // Housekeeping: a failure here does not undo the end.
        if let Err(e) = client
            .execute("DELETE FROM ended_sessions WHERE expires_at < now()", &[])
            .await
        {
            tracing::debug!(error = %e, "could not prune ended sessions");
        }
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

    #[test]
    fn the_cache_is_bounded_by_bytes_and_keeps_sessions_in_use() {
        let c = Cipher::new(&KeyBytes([5; 32]));
        let ended = EndedSessions::default();
        let cache = SessionCache::with_generation_bytes(64 << 10);
        let mut kept = claims();
        kept.kid = "k".into();
        kept.ns = None;
        let in_use = seal(&c, &kept);
        cache.open(&c, &ended, &in_use, "k", None, 500).unwrap();
        let mut ids = 0;
        while ids < 2_000 {
            let mut cl = kept.clone();
            cl.iat = ids;
            let id = seal(&c, &cl);
            cache.open(&c, &ended, &id, "k", None, 500).unwrap();
            if ids % 50 == 0 {
                cache.open(&c, &ended, &in_use, "k", None, 500).unwrap();
            }
            ids += 1;
        }
        assert!(cache.bytes() <= 2 * (64 << 10), "{}", cache.bytes());
        assert!(cache.bytes() >= 32 << 10, "{}", cache.bytes());
        let map = cache.map.read().unwrap();
        assert!(map.get(&in_use).is_some(), "a session in use stays cached");
    }

    fn claims() -> SessionClaims {
        SessionClaims {
            kid: "0123456789abcdef".into(),
            ns: Some("team-a".into()),
            v: "2025-06-18".into(),
            c: ClientCaps::SAMPLING,
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
        let long = format!("{id}{}", "A".repeat(MAX_SESSION_ID));
        assert_eq!(
            open(&c, &ended, &long, "0123456789abcdef", Some("team-a"), 500),
            Err(SessionError::Unknown)
        );
        ended.insert(hash(&id), 1000, 500);
        assert_eq!(
            open(&c, &ended, &id, "0123456789abcdef", Some("team-a"), 500),
            Err(SessionError::Ended)
        );
    }
}
