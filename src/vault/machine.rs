//! `oauth_client_credentials`: the gateway's own account at a backend, got with the
//! client credentials grant (no user, no consent) and got again when it expires. The
//! client authenticates with its secret (basic or post, as the server lists) or with a
//! signed assertion (`private_key_jwt`, RFC 7523: `iss` and `sub` the client id, `aud`
//! the authorization server's issuer, a minute's life, a fresh `jti`).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use super::discover;
use super::flow::{self, ClientId, Issued, TokenError};
use super::net::Net;
use crate::model::auth::MachineClient;

/// What a token request needs: the endpoint, the resource and the issuer.
pub struct Found {
    pub token_endpoint: String,
    pub resource: String,
    pub issuer: String,
    pub scopes: Option<Vec<String>>,
    pub auth_methods: Vec<String>,
}

/// Discovers the backend's authorization server (no PKCE needed).
pub async fn find(net: &Net, url: &str) -> Result<Found, String> {
    let seen = discover::probe(net, url).await?;
    let d = discover::discover(net, url, &seen, false).await?;
    Ok(Found {
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

/// The client credentials grant.
pub async fn acquire(
    net: &Net,
    found: &Found,
    client: &MachineClient,
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
    flow::token_request(net, &found.token_endpoint, &id, &grant).await
}
