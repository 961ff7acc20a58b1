//! The gateway as an OAuth 2.1 resource server (MCP authorization): access tokens from
//! the configured authorization servers, verified against their JWKS.
//!
//! - The algorithm comes from the key (RSA: its `alg` or RS256; EC P-256/P-384: ES256 /
//!   ES384; Ed25519: EdDSA), never from the token alone: a token whose header names
//!   another is refused, and `none` and HS* never match a published key.
//! - `iss` must be the issuer, `aud` must be this request's resource (RFC 8707:
//!   `<public url>/mcp` or `<public url>/mcp/<namespace>`) and nothing else, unless the
//!   issuer is configured with `audience=includes`; `exp`/`nbf` are checked with a
//!   minute of leeway.
//! - A header with `crit` is refused (RFC 7515 §4.1.11): the gateway understands no
//!   header extension, so none may be required of it.
//! - Keys are cached and refreshed every ten minutes; a token with an unknown `kid`
//!   triggers a refresh at most once per `REFETCH_EVERY` per issuer, so a flood of
//!   unknown kids costs the issuer one fetch per interval.
//! - The caller becomes a principal with a key id derived from (issuer, subject), so
//!   per-key limits, usage and the audit trail apply to it as to a key.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::base::KeyId;
use crate::config::{Issuer, OAuth as Settings};
use crate::store::keys::Scope;
use crate::store::oauth::Block;

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 60;
/// Keys are fetched again this often.
const REFRESH_EVERY: Duration = Duration::from_secs(600);
/// At most one fetch per issuer this often for tokens naming an unknown key.
pub const REFETCH_EVERY: Duration = Duration::from_secs(10);
/// A metadata document or JWKS larger than this is refused.
const MAX_DOCUMENT: usize = 256 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// 401 `invalid_token`.
    #[error("invalid access token: {0}")]
    Invalid(&'static str),
    /// 403 `insufficient_scope`: the scope that would do.
    #[error("the token lacks the scope {0}")]
    Insufficient(String),
}

impl OAuthError {
    pub fn reason(&self) -> &'static str {
        match self {
            OAuthError::Invalid(r) => r,
            OAuthError::Insufficient(_) => "insufficient_scope",
        }
    }
}

/// Who an accepted token speaks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub issuer: Arc<str>,
    pub subject: Arc<str>,
    pub client_id: Option<Arc<str>>,
    pub scope: Scope,
    /// Empty: every namespace (the resource still binds the token to one endpoint).
    pub namespaces: Arc<[String]>,
    /// Stands for the identity wherever a key id does (limits, usage, audit, metrics):
    /// derived from the issuer and the subject (or the client, with `limit_by=client_id`).
    pub key_id: KeyId,
    /// The issuer's limits for each identity.
    pub limits: crate::model::limits::KeyLimits,
    /// The access token itself: exchanged for a backend's own (`token_exchange`), never
    /// printed.
    pub token: AccessToken,
    /// The thumbprint of the key the token is bound to (`cnf.jkt`, RFC 9449 §6): it is
    /// taken only with a DPoP proof by that key ([`crate::auth::dpop`]).
    pub jkt: Option<Arc<str>>,
}

/// An inbound access token, kept only to be exchanged (RFC 8693); its `Debug` prints
/// nothing of it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct AccessToken(pub Arc<str>);

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

impl Identity {
    /// The key id that stands for this identity's own upstream accounts: always its
    /// subject's (an issuer limited by client shares limits, never accounts).
    pub fn account_key(&self) -> KeyId {
        derived_key_id(&self.issuer, &self.subject)
    }
}

/// A verification key with the one algorithm it is used with.
struct Key {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

struct IssuerState {
    settings: Issuer,
    keys: ArcSwap<Vec<Key>>,
    /// Held while fetching: concurrent fetches wait for the one under way.
    fetch: tokio::sync::Mutex<Fetched>,
}

#[derive(Default)]
struct Fetched {
    /// The last fetch made for a token naming an unknown key (timer fetches do not
    /// count: a rotation just after one is still picked up at once).
    unknown_at: Option<Instant>,
    /// Discovered from the issuer's metadata (unless configured).
    jwks_url: Option<String>,
}

/// The process's OAuth verifier.
pub struct OAuth {
    pub settings: Settings,
    /// For `https://` issuers: the bundled public roots and `METAMCP_OAUTH_CA_FILE`
    /// (checked when the configuration was read).
    tls: Option<tokio_rustls::TlsConnector>,
    issuers: Vec<IssuerState>,
    /// JWKS and metadata requests made (for tests and `/metrics`).
    fetches: std::sync::atomic::AtomicU64,
    /// Blocked subjects and client ids (`keyadm oauth block`), reloaded on NOTIFY.
    blocks: ArcSwap<Vec<Block>>,
}

impl OAuth {
    pub fn new(settings: Settings) -> OAuth {
        let issuers = settings
            .issuers
            .iter()
            .map(|i| IssuerState {
                settings: i.clone(),
                keys: ArcSwap::from_pointee(Vec::new()),
                fetch: tokio::sync::Mutex::new(Fetched::default()),
            })
            .collect();
        let tls = crate::crypto::tls_client(settings.ca_file.as_deref())
            .inspect_err(|e| tracing::error!(error = %e, "OAuth: no TLS client for https issuers"))
            .ok()
            .map(tokio_rustls::TlsConnector::from);
        OAuth {
            settings,
            tls,
            issuers,
            fetches: Default::default(),
            blocks: ArcSwap::from_pointee(Vec::new()),
        }
    }

    /// Replaces the blocked identities from the database; returns the blocks added and
    /// those removed since the last load.
    pub async fn reload_blocks(
        &self,
        pool: &deadpool_postgres::Pool,
    ) -> Result<(Vec<Block>, Vec<Block>), crate::store::db::DbError> {
        let list = crate::store::oauth::list(pool).await?;
        let old = self.blocks.swap(Arc::new(list.clone()));
        let same =
            |a: &Block, b: &Block| (a.kind, &a.value, &a.issuer) == (b.kind, &b.value, &b.issuer);
        let added = list
            .iter()
            .filter(|n| !old.iter().any(|o| same(o, n)))
            .cloned()
            .collect();
        let removed = old
            .iter()
            .filter(|o| !list.iter().any(|n| same(o, n)))
            .cloned()
            .collect();
        Ok((added, removed))
    }

    pub fn fetches(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The configured issuer a token claims to come from (read without verifying: it
    /// only picks the keys the token is then verified with).
    pub fn claims_issuer(&self, token: &str) -> bool {
        self.issuer_of(token).is_some()
    }

    fn issuer_of(&self, token: &str) -> Option<&IssuerState> {
        let payload = token.split('.').nth(1)?;
        let bytes = crate::crypto::base64url_decode(payload)?;
        let v: Value = serde_json::from_slice(&bytes).ok()?;
        let iss = v.get("iss")?.as_str()?;
        self.issuers.iter().find(|i| i.settings.issuer == iss)
    }

    /// Fetches every issuer's keys now, then again every ten minutes while `self` lives.
    pub async fn refresh_loop(me: std::sync::Weak<OAuth>) {
        loop {
            let Some(o) = me.upgrade() else { return };
            for i in &o.issuers {
                if let Err(e) = o.refresh(i, false).await {
                    tracing::warn!(issuer = %i.settings.issuer, error = %e, "could not fetch the issuer's keys");
                }
            }
            drop(o);
            tokio::time::sleep(REFRESH_EVERY).await;
        }
    }

    /// Fetches the issuer's keys. For an unknown key (`for_unknown`), only if no such
    /// fetch happened within `REFETCH_EVERY`.
    async fn refresh(&self, i: &IssuerState, for_unknown: bool) -> Result<(), String> {
        let mut fetched = i.fetch.lock().await;
        if for_unknown {
            if fetched
                .unknown_at
                .is_some_and(|at| at.elapsed() < REFETCH_EVERY)
            {
                return Ok(());
            }
            fetched.unknown_at = Some(Instant::now());
        }
        let url = match (&i.settings.jwks_url, &fetched.jwks_url) {
            (Some(u), _) | (None, Some(u)) => u.clone(),
            (None, None) => {
                let u = self.discover(&i.settings.issuer).await?;
                fetched.jwks_url = Some(u.clone());
                u
            }
        };
        let doc = self.get_json(&url).await?;
        let keys = parse_jwks(&doc);
        if keys.is_empty() {
            return Err(format!("{url}: no usable signing key"));
        }
        i.keys.store(Arc::new(keys));
        Ok(())
    }

    /// The JWKS URL from the issuer's metadata: RFC 8414's, else OpenID Connect's.
    async fn discover(&self, issuer: &str) -> Result<String, String> {
        let (origin, path) = split_origin(issuer);
        let candidates = [
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{issuer}/.well-known/openid-configuration"),
        ];
        let mut last = String::new();
        for url in candidates {
            match self.get_json(&url).await {
                Ok(doc) => {
                    if doc.get("issuer").and_then(Value::as_str) != Some(issuer) {
                        last = format!("{url}: its issuer is not {issuer}");
                        continue;
                    }
                    if let Some(j) = doc.get("jwks_uri").and_then(Value::as_str) {
                        return Ok(j.to_string());
                    }
                    last = format!("{url}: no jwks_uri");
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let body = tokio::time::timeout(FETCH_TIMEOUT, http_get(self.tls.as_ref(), url))
            .await
            .map_err(|_| format!("{url}: no answer within {FETCH_TIMEOUT:?}"))??;
        serde_json::from_slice(&body).map_err(|e| format!("{url}: not JSON: {e}"))
    }

    /// Verifies `token` for `resource`.
    pub async fn verify(&self, token: &str, resource: &str) -> Result<Identity, OAuthError> {
        let issuer = self
            .issuer_of(token)
            .ok_or(OAuthError::Invalid("unknown_issuer"))?;
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| OAuthError::Invalid("malformed"))?;
        if names_critical_extensions(token) {
            return Err(OAuthError::Invalid("crit"));
        }
        let key = match pick(&issuer.keys.load(), &header) {
            Picked::Found(k) => k,
            Picked::WrongAlgorithm => return Err(OAuthError::Invalid("algorithm")),
            Picked::Unknown => {
                // A new key, perhaps (rotation): fetch once per interval at most.
                if let Err(e) = self.refresh(issuer, true).await {
                    tracing::warn!(issuer = %issuer.settings.issuer, error = %e, "could not fetch the issuer's keys");
                }
                match pick(&issuer.keys.load(), &header) {
                    Picked::Found(k) => k,
                    Picked::WrongAlgorithm => return Err(OAuthError::Invalid("algorithm")),
                    Picked::Unknown => return Err(OAuthError::Invalid("unknown_key")),
                }
            }
        };
        let mut v = Validation::new(key.0);
        v.algorithms = vec![key.0];
        v.leeway = LEEWAY_SECS;
        v.validate_nbf = true;
        v.set_issuer(&[&issuer.settings.issuer]);
        v.set_audience(&[resource]);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Value>(token, &key.1, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            OAuthError::Invalid(match e.kind() {
                K::ExpiredSignature => "expired",
                K::ImmatureSignature => "not_yet_valid",
                K::InvalidAudience => "audience",
                K::InvalidIssuer => "issuer",
                K::InvalidSignature => "signature",
                K::InvalidAlgorithm => "algorithm",
                K::MissingRequiredClaim(_) => "missing_claim",
                _ => "malformed",
            })
        })?;
        if !issuer.settings.audience_includes && !audience_is_only(&data.claims, resource) {
            return Err(OAuthError::Invalid("audience"));
        }
        let mut id = identity(&issuer.settings, &data.claims)?;
        id.token = AccessToken(token.into());
        let blocked = self
            .blocks
            .load()
            .iter()
            .any(|b| b.matches(&id.issuer, &id.subject, id.client_id.as_deref()));
        if blocked {
            return Err(OAuthError::Invalid("blocked"));
        }
        Ok(id)
    }
}

/// Whether the token's header carries `crit` (any value: the gateway understands no
/// extension, and an empty or malformed `crit` is itself invalid).
fn names_critical_extensions(token: &str) -> bool {
    let Some(head) = token.split('.').next() else {
        return false;
    };
    crate::crypto::base64url_decode(head)
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        .is_none_or(|h| h.get("crit").is_some())
}

/// Whether `aud` names this resource and nothing else (a string, or an array whose
/// every member is the resource).
fn audience_is_only(claims: &Value, resource: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(a)) => a == resource,
        Some(Value::Array(all)) => {
            !all.is_empty() && all.iter().all(|a| a.as_str() == Some(resource))
        }
        _ => false,
    }
}

enum Picked {
    Found((Algorithm, DecodingKey)),
    WrongAlgorithm,
    Unknown,
}

fn pick(keys: &[Key], header: &jsonwebtoken::Header) -> Picked {
    let candidates: Vec<&Key> = match &header.kid {
        Some(kid) => keys
            .iter()
            .filter(|k| k.kid.as_deref() == Some(kid))
            .collect(),
        // No kid: only unambiguous when one key uses the token's algorithm.
        None => keys.iter().filter(|k| k.alg == header.alg).collect(),
    };
    match candidates.as_slice() {
        [] => Picked::Unknown,
        [k] if k.alg == header.alg => Picked::Found((k.alg, k.key.clone())),
        [_] => Picked::WrongAlgorithm,
        _ => Picked::Unknown,
    }
}

/// The signing keys of a JWKS, each with its algorithm; others are skipped.
fn parse_jwks(doc: &Value) -> Vec<Key> {
    let Some(keys) = doc.get("keys").and_then(Value::as_array) else {
        return Vec::new();
    };
    keys.iter()
        .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
        .filter(|j| !matches!(j.common.public_key_use, Some(PublicKeyUse::Encryption)))
        .filter_map(|j| {
            let alg = key_algorithm(&j)?;
            let key = DecodingKey::from_jwk(&j).ok()?;
            Some(Key {
                kid: j.common.key_id.clone(),
                alg,
                key,
            })
        })
        .collect()
}

/// The one algorithm a key is used with; `None` for symmetric and unknown keys.
fn key_algorithm(j: &Jwk) -> Option<Algorithm> {
    let declared = j.common.key_algorithm;
    match &j.algorithm {
        AlgorithmParameters::RSA(_) => match declared {
            None | Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
            Some(KeyAlgorithm::RS384) => Some(Algorithm::RS384),
            Some(KeyAlgorithm::RS512) => Some(Algorithm::RS512),
            Some(KeyAlgorithm::PS256) => Some(Algorithm::PS256),
            Some(KeyAlgorithm::PS384) => Some(Algorithm::PS384),
            Some(KeyAlgorithm::PS512) => Some(Algorithm::PS512),
            Some(_) => None,
        },
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        AlgorithmParameters::OctetKeyPair(p) => {
            (p.curve == EllipticCurve::Ed25519).then_some(Algorithm::EdDSA)
        }
        AlgorithmParameters::OctetKey(_) => None,
    }
}

/// The scopes a token carries: `scope` (space-separated) or `scp` (a list or a string).
fn scopes(claims: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(s)) => out.extend(s.split(' ').filter(|s| !s.is_empty())),
            Some(Value::Array(a)) => out.extend(a.iter().filter_map(Value::as_str)),
            _ => {}
        }
    }
    out
}

fn identity(settings: &Issuer, claims: &Value) -> Result<Identity, OAuthError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let client_id = text("client_id").or_else(|| text("azp"));
    let subject = text("sub")
        .or(client_id)
        .ok_or(OAuthError::Invalid("no_subject"))?;
    let granted = scopes(claims);
    let scope = if granted.contains(&settings.admin_scope.as_str()) {
        Scope::Admin
    } else if settings.client_scope.is_empty() || granted.contains(&settings.client_scope.as_str())
    {
        Scope::Client
    } else {
        return Err(OAuthError::Insufficient(settings.client_scope.clone()));
    };
    let namespaces: Vec<String> = match &settings.namespaces_claim {
        None => Vec::new(),
        Some(claim) => match claims.get(claim) {
            Some(Value::String(s)) => s
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
            // A claim that names none grants none: the namespace check refuses.
            _ => vec![String::new()],
        },
    };
    let limited = match client_id {
        Some(c) if settings.limit_by_client => format!("client_id:{c}"),
        _ => subject.to_string(),
    };
    // A confirmation the gateway cannot check (a certificate's, RFC 8705) refuses the
    // token rather than letting it be used as a bearer token.
    let jkt = match claims.get("cnf") {
        None => None,
        Some(cnf) => match (cnf.get("jkt").and_then(Value::as_str), cnf.as_object()) {
            (Some(j), Some(o)) if o.len() == 1 && !j.is_empty() && j.len() <= 128 => Some(j.into()),
            _ => return Err(OAuthError::Invalid("unsupported_confirmation")),
        },
    };
    Ok(Identity {
        issuer: settings.issuer.as_str().into(),
        subject: subject.into(),
        client_id: client_id.map(Into::into),
        scope,
        namespaces: namespaces.into(),
        key_id: derived_key_id(&settings.issuer, &limited),
        limits: settings.limits,
        token: AccessToken::default(),
        jkt,
    })
}

/// A key id for an OAuth identity: the first 64 bits of SHA-256(issuer, NUL, subject).
pub fn derived_key_id(issuer: &str, subject: &str) -> KeyId {
    let mut h = Sha256::new();
    h.update(issuer.as_bytes());
    h.update([0]);
    h.update(subject.as_bytes());
    let digest = h.finalize();
    let hex = crate::crypto::to_hex(&digest[..8]);
    KeyId::parse(&hex).unwrap_or_else(|| KeyId::parse("0000000000000000").expect("hex id"))
}

/// `scheme://host[:port]` and the path of a URL (`""` when it has none).
fn split_origin(url: &str) -> (&str, &str) {
    let after = url.find("://").map_or(0, |i| i + 3);
    match url[after..].find('/') {
        Some(i) => url.split_at(after + i),
        None => (url, ""),
    }
}

/// A bounded GET over HTTP/1.1, with TLS for `https://`.
async fn http_get(tls: Option<&tokio_rustls::TlsConnector>, url: &str) -> Result<Bytes, String> {
    let uri: hyper::Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(format!("{url}: only https:// and http:// are supported")),
    };
    let host = uri.host().ok_or_else(|| format!("{url}: no host"))?;
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if https {
        let name = rustls::pki_types::ServerName::try_from(
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
        )
        .map_err(|e| format!("{url}: {e}"))?;
        let tls = tls.ok_or_else(|| format!("{url}: no TLS client (see the start-up log)"))?;
        let stream = tls
            .connect(name, stream)
            .await
            .map_err(|e| format!("{url}: TLS: {e}"))?;
        get_over(stream, &uri, url).await
    } else {
        get_over(stream, &uri, url).await
    }
}

async fn get_over<S>(stream: S, uri: &hyper::Uri, url: &str) -> Result<Bytes, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    use http_body_util::BodyExt;
    let host = uri.host().unwrap_or_default();
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("{url}: {e}"))?;
    tokio::spawn(conn);
    let authority = uri.authority().map_or(host, |a| a.as_str());
    let req = hyper::Request::get(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(hyper::header::HOST, authority)
        .header(hyper::header::ACCEPT, "application/json")
        .body(http_body_util::Empty::<Bytes>::new())
        .map_err(|e| format!("{url}: {e}"))?;
    let resp = send
        .send_request(req)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("{url}: HTTP {}", resp.status()));
    }
    http_body_util::Limited::new(resp.into_body(), MAX_DOCUMENT)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|e| format!("{url}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issuer() -> Issuer {
        Issuer {
            issuer: "http://idp".into(),
            jwks_url: None,
            admin_scope: "mcp:admin".into(),
            client_scope: "mcp:use".into(),
            namespaces_claim: Some("groups".into()),
            limits: Default::default(),
            limit_by_client: false,
            audience_includes: false,
        }
    }

    #[test]
    fn scopes_and_namespaces_map_to_ours() {
        let i = issuer();
        let id = identity(
            &i,
            &json!({"sub": "u", "scope": "openid mcp:use", "groups": ["a", "b"]}),
        )
        .expect("client");
        assert_eq!(
            (id.scope, &id.namespaces[..]),
            (Scope::Client, &["a".to_string(), "b".into()][..])
        );
        let id = identity(
            &i,
            &json!({"sub": "u", "scp": ["mcp:admin"], "groups": "a"}),
        )
        .expect("admin");
        assert_eq!(id.scope, Scope::Admin);
        assert_eq!(
            identity(&i, &json!({"sub": "u", "scope": "openid"})),
            Err(OAuthError::Insufficient("mcp:use".into()))
        );
        // No groups claim at all: no namespace.
        let id = identity(&i, &json!({"sub": "u", "scope": "mcp:use"})).expect("client");
        assert_eq!(&id.namespaces[..], &[String::new()][..]);
        // The key id is stable per (issuer, subject) and differs between subjects.
        assert_eq!(derived_key_id("a", "b"), derived_key_id("a", "b"));
        assert_ne!(derived_key_id("a", "b"), derived_key_id("a", "c"));
        assert_ne!(derived_key_id("ab", "c"), derived_key_id("a", "bc"));
    }

    #[test]
    fn keys_carry_their_own_algorithm_and_secrets_are_never_keys() {
        let doc = json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "h"},
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "e"},
            {"kty": "EC", "crv": "P-256", "kid": "c", "use": "enc",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
        ]});
        let keys = parse_jwks(&doc);
        assert_eq!(
            keys.len(),
            1,
            "the oct key and the encryption key are skipped"
        );
        assert_eq!(
            (keys[0].kid.as_deref(), keys[0].alg),
            (Some("e"), Algorithm::EdDSA)
        );
        let mut h = jsonwebtoken::Header::new(Algorithm::HS256);
        h.kid = Some("e".into());
        assert!(matches!(pick(&keys, &h), Picked::WrongAlgorithm));
        h.alg = Algorithm::EdDSA;
        assert!(matches!(pick(&keys, &h), Picked::Found(_)));
        h.kid = Some("x".into());
        assert!(matches!(pick(&keys, &h), Picked::Unknown));
    }

    #[test]
    fn metadata_urls_put_the_well_known_part_first() {
        assert_eq!(
            split_origin("http://h:1/tenant/a"),
            ("http://h:1", "/tenant/a")
        );
        assert_eq!(split_origin("http://h:1"), ("http://h:1", ""));
    }
}
