//! Grants without a user (no consent; got again when they expire), the gateway's own
//! account at a backend:
//! - `oauth_client_credentials`: the client credentials grant. The client authenticates
//!   with its secret (basic or post, as the server lists) or with a signed assertion
//!   (`private_key_jwt`, RFC 7523: `iss` and `sub` the client id, `aud` the
//!   authorization server's issuer, a minute's life, a fresh `jti`).
//! - `workload_identity` (SEP-1933): the workload's own JWT, read where it is configured,
//!   presented with the jwt-bearer grant (RFC 7523 §2.1).
//! - `enterprise` (SEP-990): the identity provider's token exchanged there (RFC 8693) for
//!   an ID-JAG, then at the backend's authorization server (jwt-bearer) for its token.
//!
//! Each is proved with a DPoP key when the authorization server lists ES256.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use tokio::io::AsyncReadExt;

use super::discover;
use super::dpop::DpopKey;
use super::flow::{self, ClientId, Issued, JWT_BEARER, TOKEN_EXCHANGE, TokenError};
use super::net::{self, Net};
use crate::model::auth::{Enterprise, MachineClient, ServerAuth, Workload};

const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
const ID_JAG: &str = "urn:ietf:params:oauth:token-type:id-jag";
/// Longest JWT read from a file or the environment.
const MAX_JWT: usize = 16 << 10;

/// What a token request needs: the endpoint, the resource and the issuer.
pub struct Found {
    pub token_endpoint: String,
    pub resource: String,
    pub issuer: String,
    pub scopes: Option<Vec<String>>,
    pub auth_methods: Vec<String>,
    /// Tokens are asked for bound to a DPoP key.
    pub dpop: bool,
}

/// Discovers the backend's authorization server (no PKCE needed).
pub async fn find(net: &Net, url: &str) -> Result<Found, String> {
    let seen = discover::probe(net, url).await?;
    let d = discover::discover(net, url, &seen, false).await?;
    Ok(Found {
        dpop: d.dpop(),
        token_endpoint: d.token_endpoint,
        resource: d.resource,
        issuer: d.issuer,
        scopes: d.scopes,
        auth_methods: d.auth_methods,
    })
}

/// A signed client assertion for `issuer`.
pub fn assertion(client: &MachineClient, issuer: &str) -> Result<String, String> {
    let pem = client.private_key.as_deref().ok_or("no private_key")?;
    let alg = client.signing_algorithm.as_deref().unwrap_or("RS256");
    let (alg, key) = match alg {
        "RS256" => (Algorithm::RS256, EncodingKey::from_rsa_pem(pem.as_bytes())),
        "PS256" => (Algorithm::PS256, EncodingKey::from_rsa_pem(pem.as_bytes())),
        "ES256" => (Algorithm::ES256, EncodingKey::from_ec_pem(pem.as_bytes())),
        "ES384" => (Algorithm::ES384, EncodingKey::from_ec_pem(pem.as_bytes())),
        "EdDSA" => (Algorithm::EdDSA, EncodingKey::from_ed_pem(pem.as_bytes())),
        other => return Err(format!("signing_algorithm {other:?} is not supported")),
    };
    let key = key.map_err(|_| "the private_key cannot be read for its signing_algorithm")?;
    let now = crate::base::unix_now();
    let mut jti = [0u8; 16];
    crate::crypto::random_bytes(&mut jti);
    let claims = json!({"iss": client.client_id, "sub": client.client_id, "aud": issuer,
                        "iat": now, "exp": now + 60, "jti": crate::crypto::base64url(&jti)});
    jsonwebtoken::encode(&Header::new(alg), &claims, &key)
        .map_err(|_| "the client assertion cannot be signed".to_string())
}

/// The grant `auth` names, proved with `dpop` when given.
pub async fn acquire(
    net: &Net,
    found: &Found,
    auth: &ServerAuth,
    dpop: Option<&DpopKey>,
) -> Result<Issued, TokenError> {
    match auth {
        ServerAuth::ClientCredentials(c) => client_credentials(net, found, c, dpop).await,
        ServerAuth::Workload(w) => workload(net, found, w, dpop).await,
        ServerAuth::Enterprise(e) => enterprise(net, found, e, dpop).await,
        _ => Err(TokenError {
            refused: false,
            message: "the server's auth is not a grant without a user".into(),
        }),
    }
}

/// The scope asked for: the configured, else what the backend names.
fn scope_of(configured: &Option<Vec<String>>, found: &Found) -> String {
    configured
        .clone()
        .or_else(|| found.scopes.clone())
        .map(|s| s.join(" "))
        .unwrap_or_default()
}

/// A JWT read from `file` or the environment variable `env` (whichever is given),
/// trimmed; what is not one is refused without being shown.
pub async fn read_jwt(file: Option<&str>, env: Option<&str>, what: &str) -> Result<String, String> {
    let text = match (file, env) {
        (Some(path), _) => {
            let f = tokio::fs::File::open(path)
                .await
                .map_err(|e| format!("the {what} file {path} cannot be read: {e}"))?;
            let mut raw = Vec::new();
            f.take(MAX_JWT as u64 + 1)
                .read_to_end(&mut raw)
                .await
                .map_err(|e| format!("the {what} file {path} cannot be read: {e}"))?;
            String::from_utf8(raw).map_err(|_| format!("the {what} file {path} is not a JWT"))?
        }
        (None, Some(var)) => {
            std::env::var(var).map_err(|_| format!("the {what} variable {var} is not set"))?
        }
        (None, None) => return Err(format!("no {what} is configured")),
    };
    let t = text.trim();
    let b64 = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let parts: Vec<&str> = t.split('.').collect();
    if t.len() > MAX_JWT || parts.len() != 3 || !parts.iter().all(|p| b64(p)) {
        let place = file.or(env).unwrap_or_default();
        return Err(format!("the {what} at {place} is not a JWT"));
    }
    Ok(t.to_string())
}

/// SEP-1933: the workload's JWT as a jwt-bearer grant.
async fn workload(
    net: &Net,
    found: &Found,
    w: &Workload,
    dpop: Option<&DpopKey>,
) -> Result<Issued, TokenError> {
    let broke = |message: String| TokenError {
        refused: false,
        message,
    };
    let jwt = read_jwt(
        w.assertion_file.as_deref(),
        w.assertion_env.as_deref(),
        "workload assertion",
    )
    .await
    .map_err(broke)?;
    // A public client names itself in the body; without a client id, nothing is added.
    let client = ClientId {
        id: w.client_id.clone().unwrap_or_default(),
        secret: None,
        method: if w.client_id.is_some() {
            "none"
        } else {
            "client_credentials"
        }
        .into(),
    };
    let scope = scope_of(&w.scopes, found);
    let mut grant = vec![
        ("grant_type", JWT_BEARER),
        ("assertion", jwt.as_str()),
        ("resource", found.resource.as_str()),
    ];
    if !scope.is_empty() {
        grant.push(("scope", scope.as_str()));
    }
    flow::token_request_with(net, &found.token_endpoint, &client, &grant, dpop).await
}

/// SEP-990: the identity token exchanged at the identity provider for an ID-JAG naming
/// the backend's authorization server (`audience`) and resource, then the ID-JAG as a
/// jwt-bearer grant there.
async fn enterprise(
    net: &Net,
    found: &Found,
    e: &Enterprise,
    dpop: Option<&DpopKey>,
) -> Result<Issued, TokenError> {
    let broke = |message: String| TokenError {
        refused: false,
        message,
    };
    let id_token = read_jwt(
        e.id_token_file.as_deref(),
        e.id_token_env.as_deref(),
        "identity token",
    )
    .await
    .map_err(broke)?;
    let idp = ClientId {
        id: e.idp_client_id.clone().unwrap_or_default(),
        secret: e.idp_client_secret.clone(),
        method: match (&e.idp_client_id, &e.idp_client_secret) {
            (Some(_), Some(_)) => "client_secret_basic",
            (Some(_), None) => "none",
            (None, _) => "client_credentials",
        }
        .into(),
    };
    let scope = scope_of(&e.scopes, found);
    let mut exchange = vec![
        ("grant_type", TOKEN_EXCHANGE),
        ("requested_token_type", ID_JAG),
        ("audience", found.issuer.as_str()),
        ("resource", found.resource.as_str()),
        ("subject_token", id_token.as_str()),
        ("subject_token_type", ID_TOKEN),
    ];
    if !scope.is_empty() {
        exchange.push(("scope", scope.as_str()));
    }
    // The identity provider is where the admin said: its own address is checked as the
    // backend's are.
    let idp_net = Net {
        tls: net.tls.clone(),
        zone: net::zone_of_url(&e.idp_token_endpoint)
            .await
            .map_err(broke)?,
    };
    let jag = flow::token_request(&idp_net, &e.idp_token_endpoint, &idp, &exchange)
        .await
        .map_err(|x| TokenError {
            refused: x.refused,
            message: format!("the identity provider gave no ID-JAG: {}", x.message),
        })?;
    let client = ClientId {
        id: e.client_id.clone(),
        secret: e.client_secret.clone(),
        method: flow::method_for(e.client_secret.is_some(), &found.auth_methods),
    };
    let mut grant = vec![
        ("grant_type", JWT_BEARER),
        ("assertion", jag.access_token.as_str()),
    ];
    if !scope.is_empty() {
        grant.push(("scope", scope.as_str()));
    }
    flow::token_request_with(net, &found.token_endpoint, &client, &grant, dpop).await
}

/// The client credentials grant.
async fn client_credentials(
    net: &Net,
    found: &Found,
    client: &MachineClient,
    dpop: Option<&DpopKey>,
) -> Result<Issued, TokenError> {
    let broke = |message: String| TokenError {
        refused: false,
        message,
    };
    let id = match (&client.client_secret, &client.private_key) {
        (Some(secret), _) => ClientId {
            id: client.client_id.clone(),
            secret: Some(secret.clone()),
            method: flow::method_for(true, &found.auth_methods),
        },
        (None, Some(_)) => ClientId {
            id: client.client_id.clone(),
            secret: Some(assertion(client, &found.issuer).map_err(broke)?),
            method: "private_key_jwt".into(),
        },
        (None, None) => return Err(broke("no client_secret or private_key".into())),
    };
    let scopes = client.scopes.clone().or_else(|| found.scopes.clone());
    let scope = scopes.map(|s| s.join(" ")).unwrap_or_default();
    let mut grant = vec![
        ("grant_type", "client_credentials"),
        ("resource", found.resource.as_str()),
    ];
    if !scope.is_empty() {
        grant.push(("scope", scope.as_str()));
    }
    flow::token_request_with(net, &found.token_endpoint, &id, &grant, dpop).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[tokio::test]
    async fn a_jwt_is_read_from_its_file_or_variable_and_anything_else_is_refused_unshown() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p.to_string_lossy().into_owned()
        };
        let good = file("good", b"  eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ3In0.c2ln\n");
        assert_eq!(
            read_jwt(Some(&good), None, "workload assertion")
                .await
                .unwrap(),
            "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ3In0.c2ln"
        );
        for (name, text) in [
            ("shadow", &b"root:$6$secret:19000:0:99999:7:::"[..]),
            ("two", b"a.b"),
            ("four", b"a.b.c.d"),
            ("empty", b"a..c"),
            ("binary", b"\xff\xfe.a.b"),
        ] {
            let path = file(name, text);
            let e = read_jwt(Some(&path), None, "workload assertion")
                .await
                .unwrap_err();
            assert!(e.contains("is not a JWT"), "{name}: {e}");
            assert!(!e.contains("secret"), "{e}");
        }
        let huge = file("huge", format!("a.{}.c", "b".repeat(MAX_JWT)).as_bytes());
        assert!(read_jwt(Some(&huge), None, "x").await.is_err());
        let missing = dir.path().join("missing").to_string_lossy().into_owned();
        assert!(
            read_jwt(Some(&missing), None, "x")
                .await
                .unwrap_err()
                .contains("cannot be read")
        );
        assert!(
            read_jwt(None, Some("METAMCP_TEST_SURELY_UNSET_VARIABLE"), "x")
                .await
                .unwrap_err()
                .contains("not set")
        );
        assert!(read_jwt(None, None, "x").await.is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        /// Whatever a file holds, what is taken is three base64url parts, and a refusal
        /// never shows the text.
        #[test]
        fn whatever_a_file_holds_only_a_jwt_shape_is_taken(text in "\\PC{0,60}|[A-Za-z0-9_\\-\\.]{0,60}") {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("t");
            std::fs::write(&p, text.as_bytes()).unwrap();
            let path = p.to_string_lossy().into_owned();
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            match rt.block_on(read_jwt(Some(&path), None, "x")) {
                Ok(t) => {
                    let parts: Vec<&str> = t.split('.').collect();
                    prop_assert_eq!(parts.len(), 3);
                    prop_assert!(parts.iter().all(|p| !p.is_empty()
                        && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')));
                }
                Err(e) => prop_assert!(text.trim().len() < 4 || !e.contains(text.trim())),
            }
        }
    }
}
