//! The authorization code flow with PKCE (S256), `resource` (RFC 8707) and a `state`
//! bound to one server and principal; the token endpoint's grants (code and refresh),
//! with the client authentication the authorization server takes.

use bytes::Bytes;
use hyper::{Method, header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::discover::Discovered;
use super::dpop::DpopKey;
use super::form;
use super::net::{Net, json_object};

/// RFC 7523 §2.1's grant.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// RFC 8693's grant.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Longest access or refresh token kept.
const MAX_TOKEN: usize = 16 << 10;

/// The client the gateway is at one authorization server.
#[derive(Clone, Serialize, Deserialize)]
pub struct ClientId {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// `client_secret_basic`, `client_secret_post` or `none`.
    pub method: String,
}

/// What the callback needs to finish an authorization (sealed in its pending row).
#[derive(Serialize, Deserialize)]
pub struct Pending {
    pub verifier: String,
    pub redirect_uri: String,
    pub client: ClientId,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
    pub resource: String,
    pub issuer: String,
    pub iss_supported: bool,
    /// The zone the backend is in, for the token request's address check.
    pub zone: super::net::Zone,
    /// The scopes asked for (recorded with the tokens when the answer names none).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The key that started it (recorded in the audit trail when it is finished).
    #[serde(default)]
    pub started_by: Option<String>,
    /// The account's DPoP key ([`DpopKey::secret`]), when its authorization server
    /// binds tokens to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop: Option<String>,
}

/// Tokens held for one server and principal (sealed in their row).
#[derive(Clone, Serialize, Deserialize)]
pub struct Grant {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub client: ClientId,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
    pub resource: String,
    pub issuer: String,
    pub zone: super::net::Zone,
    /// The account's DPoP key ([`DpopKey::secret`]): every token request is proved
    /// with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop: Option<String>,
    /// The access token is bound to that key (`token_type: DPoP`): sent with the
    /// `DPoP` scheme and a proof.
    #[serde(default)]
    pub bound: bool,
}

impl Grant {
    /// The account's DPoP key, if it has one.
    pub fn dpop_key(&self) -> Option<std::sync::Arc<DpopKey>> {
        self.dpop
            .as_deref()
            .and_then(DpopKey::from_secret)
            .map(std::sync::Arc::new)
    }
}

/// Why the token endpoint issued nothing: `refused` when it answered with an error (the
/// grant is dead), else it could not be reached or broke the protocol (try again later).
#[derive(Debug)]
pub struct TokenError {
    pub refused: bool,
    pub message: String,
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A token endpoint's answer, read.
pub struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
    /// `token_type: DPoP`: the token is bound to the key the request was proved with.
    pub bound: bool,
}

/// Chooses how the gateway authenticates at the token endpoint: with a secret, the
/// first of basic and post the server lists (basic when it lists neither); without,
/// `none`.
pub fn method_for(secret: bool, supported: &[String]) -> String {
    if !secret {
        return "none".into();
    }
    let has = |m: &str| supported.iter().any(|s| s == m);
    if has("client_secret_basic") || !has("client_secret_post") {
        "client_secret_basic".into()
    } else {
        "client_secret_post".into()
    }
}

/// Dynamic client registration (RFC 7591): a public client when the server takes
/// `none`, else a confidential one.
pub async fn register(
    net: &Net,
    d: &Discovered,
    endpoint: &str,
    redirect_uri: &str,
) -> Result<ClientId, String> {
    let public = d.auth_methods.is_empty() || d.auth_methods.iter().any(|m| m == "none");
    // A client registered here takes its secret in the body when the server offers
    // that: the official Python SDK's revocation endpoint reads it nowhere else.
    let method = if public {
        "none".to_string()
    } else if d.auth_methods.iter().any(|m| m == "client_secret_post") {
        "client_secret_post".to_string()
    } else {
        method_for(true, &d.auth_methods)
    };
    // SEP-837: a gateway behind an https:// address is a web application; one reached
    // on a loopback http:// address (a developer's machine) registers as native.
    let application_type = if redirect_uri.starts_with("https://") {
        "web"
    } else {
        "native"
    };
    let mut body = json!({
        "client_name": "metamcp",
        "application_type": application_type,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
    });
    if let Some(s) = &d.scopes {
        body["scope"] = json!(s.join(" "));
    }
    let a = net
        .send(
            Method::POST,
            endpoint,
            &[
                (header::CONTENT_TYPE, "application/json".into()),
                (header::ACCEPT, "application/json".into()),
            ],
            Some(Bytes::from(body.to_string())),
        )
        .await?;
    if !a.status.is_success() {
        return Err(format!(
            "client registration at {endpoint}: HTTP {}",
            a.status.as_u16()
        ));
    }
    let v = json_object(&a.body).map_err(|e| format!("client registration: {e}"))?;
    let id = v["client_id"]
        .as_str()
        .filter(|s| !s.is_empty() && s.len() <= 2048)
        .ok_or("client registration: no client_id")?;
    let secret = v["client_secret"].as_str().map(str::to_string);
    let method = v["token_endpoint_auth_method"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| method_for(secret.is_some(), &d.auth_methods));
    Ok(ClientId {
        id: id.to_string(),
        secret,
        method,
    })
}

/// The authorization URL the user's browser goes to.
pub fn authorization_url(
    d: &Discovered,
    client: &ClientId,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
    scopes: Option<&[String]>,
) -> String {
    let scope = scopes.map(|s| s.join(" "));
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", redirect_uri),
        ("state", state),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("resource", d.resource.as_str()),
    ];
    if let Some(s) = scope.as_deref().filter(|s| !s.is_empty()) {
        pairs.push(("scope", s));
    }
    let sep = if d.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    format!("{}{sep}{}", d.authorization_endpoint, form::encode(&pairs))
}

/// RFC 7009: asks the authorization server to revoke a token (200 is success, whatever
/// the token was).
pub async fn revoke(
    net: &Net,
    endpoint: &str,
    client: &ClientId,
    pairs: &[(&str, &str)],
) -> Result<(), String> {
    let (headers, body) = authenticated(client, pairs.to_vec());
    let a = net
        .send(
            Method::POST,
            endpoint,
            &headers,
            Some(Bytes::from(form::encode(&body))),
        )
        .await?;
    if a.status.is_success() {
        Ok(())
    } else {
        Err(format!("{endpoint}: HTTP {}", a.status.as_u16()))
    }
}

/// A request's headers.
type Headers = Vec<(header::HeaderName, String)>;

/// A form request's headers and pairs with the client's authentication added.
fn authenticated<'a>(
    client: &'a ClientId,
    mut pairs: Vec<(&'a str, &'a str)>,
) -> (Headers, Vec<(&'a str, &'a str)>) {
    let mut headers = vec![
        (
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".to_string(),
        ),
        (header::ACCEPT, "application/json".to_string()),
    ];
    match (client.method.as_str(), client.secret.as_deref()) {
        ("client_secret_basic", Some(secret)) => {
            // RFC 6749 §2.3.1: each part form-encoded, then Base64.
            let user = form::encode(&[("", &client.id)]);
            let pass = form::encode(&[("", secret)]);
            let raw = format!("{}:{}", &user[1..], &pass[1..]);
            headers.push((
                header::AUTHORIZATION,
                format!("Basic {}", crate::crypto::base64_padded(raw.as_bytes())),
            ));
            // RFC 6749 §3.2.1 lets a client name itself in the body too, and some
            // servers (the official Python SDK's) look for it there only.
            pairs.push(("client_id", &client.id));
        }
        ("client_secret_post", Some(secret)) => {
            pairs.push(("client_id", &client.id));
            pairs.push(("client_secret", secret));
        }
        // RFC 7523 §2.2: the signed assertion is the client's authentication.
        ("private_key_jwt", Some(assertion)) => {
            pairs.push(("client_id", &client.id));
            pairs.push((
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
            pairs.push(("client_assertion", assertion));
        }
        ("client_credentials", _) => {}
        _ => pairs.push(("client_id", &client.id)),
    }
    (headers, pairs)
}

/// POSTs a grant to the token endpoint with the client's authentication.
pub async fn token_request(
    net: &Net,
    endpoint: &str,
    client: &ClientId,
    grant: &[(&str, &str)],
) -> Result<Issued, TokenError> {
    token_request_with(net, endpoint, client, grant, None).await
}

/// [`token_request`] proved with `dpop` (RFC 9449 §5) when given: a fresh proof, and
/// once more with the server's nonce when it answers `use_dpop_nonce` (§8).
pub async fn token_request_with(
    net: &Net,
    endpoint: &str,
    client: &ClientId,
    grant: &[(&str, &str)],
    dpop: Option<&DpopKey>,
) -> Result<Issued, TokenError> {
    let broke = |message: String| TokenError {
        refused: false,
        message,
    };
    let (headers, pairs) = authenticated(client, grant.to_vec());
    let body = Bytes::from(form::encode(&pairs));
    let mut nonce: Option<String> = None;
    let mut tries = 0;
    let (a, v) = loop {
        tries += 1;
        let mut headers = headers.clone();
        if let Some(key) = dpop {
            let proof = key.proof("POST", endpoint, None, nonce.as_deref());
            headers.push((header::HeaderName::from_static("dpop"), proof));
        }
        let a = net
            .send(Method::POST, endpoint, &headers, Some(body.clone()))
            .await
            .map_err(broke)?;
        let v = json_object(&a.body).unwrap_or(Value::Null);
        let fresh = a.dpop_nonce.as_deref().and_then(super::dpop::usable_nonce);
        if dpop.is_some()
            && tries == 1
            && a.status == hyper::StatusCode::BAD_REQUEST
            && v["error"] == "use_dpop_nonce"
            && fresh.is_some()
        {
            nonce = fresh;
            continue;
        }
        break (a, v);
    };
    if !a.status.is_success() {
        let code = v["error"].as_str().unwrap_or("no error code");
        let message = format!(
            "the token endpoint refused (HTTP {}, {code})",
            a.status.as_u16()
        );
        return Err(TokenError {
            refused: a.status.is_client_error(),
            message,
        });
    }
    let token = |k: &str| {
        v[k].as_str()
            .filter(|t| {
                !t.is_empty()
                    && t.len() <= MAX_TOKEN
                    && t.bytes().all(|b| (0x21..0x7F).contains(&b))
            })
            .map(str::to_string)
    };
    let access_token = token("access_token")
        .ok_or_else(|| broke("the token endpoint issued no usable access_token".into()))?;
    // A DPoP-bound token is used only by a client that proved the request with its
    // key (RFC 9449 §5: one that did not cannot use it).
    let exchange = grant
        .iter()
        .any(|(k, v)| *k == "grant_type" && *v == TOKEN_EXCHANGE);
    let bound = match v["token_type"].as_str() {
        Some(t) if t.eq_ignore_ascii_case("dpop") && dpop.is_some() => true,
        // RFC 8693 §2.2.1: what an exchange issues may be no access token (an ID-JAG).
        Some("N_A") if exchange => false,
        Some(t) if !t.eq_ignore_ascii_case("bearer") => {
            return Err(broke(format!(
                "the token endpoint issued a {t:?} token, which the gateway cannot use \
                 (Bearer, or DPoP for a request it proved)"
            )));
        }
        _ => false,
    };
    Ok(Issued {
        access_token,
        refresh_token: token("refresh_token"),
        expires_in: v["expires_in"].as_u64(),
        scope: v["scope"].as_str().map(str::to_string),
        bound,
    })
}

/// A PKCE verifier (43 characters of 32 random bytes) and its S256 challenge.
pub fn pkce() -> (String, String) {
    use sha2::Digest;
    let mut raw = [0u8; 32];
    crate::crypto::random_bytes(&mut raw);
    let verifier = crate::crypto::base64url(&raw);
    let challenge = crate::crypto::base64url(&sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_is_s256_of_a_fresh_verifier() {
        use sha2::Digest;
        let (v, c) = pkce();
        assert_eq!(v.len(), 43);
        assert_eq!(
            c,
            crate::crypto::base64url(&sha2::Sha256::digest(v.as_bytes()))
        );
        assert_ne!(pkce().0, v);
    }

    #[test]
    fn the_token_endpoint_is_met_with_what_it_lists() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(method_for(false, &l(&["client_secret_basic"])), "none");
        assert_eq!(method_for(true, &l(&[])), "client_secret_basic");
        assert_eq!(
            method_for(true, &l(&["client_secret_post"])),
            "client_secret_post"
        );
        assert_eq!(
            method_for(true, &l(&["client_secret_post", "client_secret_basic"])),
            "client_secret_basic"
        );
    }
}
