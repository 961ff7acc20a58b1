//! A server's `auth`: how the gateway proves itself to the backend.
//!
//! - `{"type": "static"}` (the default): the server's configured headers and env, as
//!   they are.
//! - `{"type": "oauth", "principal": "shared", "client_id"?, "client_secret"?,
//!   "scopes"?}`: one account for the whole server, authorized once by an admin
//!   (`POST /api/v1/mcp/servers/{id}/authorize`); the gateway is the OAuth client.
//! - `{"type": "oauth", "principal": "caller", …}`: each caller (API key or OAuth
//!   subject) connects an account of their own, the first time they need the server
//!   (URL elicitation, or `POST /api/v1/me/connections/{server}`). Streamable HTTP only.
//!
//! Per-caller static secrets: a header value of an http server may hold
//! [`CALLER_SECRET`], which each caller sets for themselves (the gateway's page, REST or
//! `mcpc auth set`); such a server runs a session per caller, like `principal: "caller"`.
//!
//! A client secret is stored sealed with the rest of the object and shown as `MASK`;
//! sending the mask back keeps the stored one.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::MASK;
use super::invalid::Invalid;

/// Where each caller's own secret goes in a header value.
pub const CALLER_SECRET: &str = "{{caller.secret}}";
/// Longest caller secret.
pub const MAX_CALLER_SECRET: usize = 4096;

/// Longest client id (a client metadata document's URL included).
const MAX_CLIENT_ID: usize = 2048;
const MAX_CLIENT_SECRET: usize = 4096;
const MAX_SCOPES: usize = 32;
const MAX_SCOPE: usize = 200;
const MAX_PRIVATE_KEY: usize = 16 << 10;

/// Whose account the gateway uses at the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Principal {
    /// One account for everyone who calls the server.
    Shared,
    /// Each caller's own account.
    Caller,
}

/// The OAuth client's settings for one server.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthClient {
    pub principal: Principal,
    /// A client registered with the authorization server beforehand (an `https://` URL
    /// is a client metadata document's); `None`: the gateway's own document, or dynamic
    /// registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Scopes asked for; `None`: what the backend's challenge or metadata names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("principal", &self.principal)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| MASK))
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Machine-to-machine: the client credentials grant, with a client secret or a signed
/// assertion (`private_key_jwt`, RFC 7523).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineClient {
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// A PEM private key (PKCS#8, or PKCS#1/SEC1) the assertion is signed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
    /// The assertion's algorithm: RS256, PS256, ES256, ES384 or EdDSA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

impl std::fmt::Debug for MachineClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MachineClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| MASK))
            .field("private_key", &self.private_key.as_ref().map(|_| MASK))
            .field("signing_algorithm", &self.signing_algorithm)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// RFC 8693: each caller's own inbound OAuth access token is exchanged at its issuer for
/// a token for this backend; nothing is stored per caller. The server's lists are read
/// with a client credentials grant of the same client.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// The issuer whose access tokens are exchanged (one the gateway accepts tokens of).
    pub issuer: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Where tokens are exchanged; `None`: the issuer's metadata says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// The `audience` asked for (RFC 8693 §2.1), besides the server's URL as `resource`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| MASK))
            .field("token_endpoint", &self.token_endpoint)
            .field("audience", &self.audience)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Workload identity federation (SEP-1933): the workload's own signed JWT (a platform's
/// service account token, say), read from a file or the gateway's environment each time
/// a token is asked for, presented with the jwt-bearer grant (RFC 7523 §2.1) instead of
/// a client secret. No user, no consent; asked for again near expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    /// The client id the authorization server knows the workload by, when it wants one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// A file holding the JWT (read again at each grant: platforms rotate it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertion_file: Option<String>,
    /// An environment variable of the gateway holding the JWT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertion_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

/// Enterprise-managed authorization (SEP-990): an identity token of the enterprise's
/// identity provider is exchanged there (RFC 8693) for an identity assertion
/// authorization grant (ID-JAG) naming the backend's authorization server and resource,
/// which that server exchanges (jwt-bearer, RFC 7523) for its access token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enterprise {
    /// The gateway's client at the backend's authorization server.
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The identity provider's token endpoint (where the ID-JAG is asked for).
    pub idp_token_endpoint: String,
    /// The gateway's client at the identity provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_client_secret: Option<String>,
    /// A file holding the identity (ID) token exchanged (read again at each grant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_file: Option<String>,
    /// An environment variable of the gateway holding it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

impl std::fmt::Debug for Enterprise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enterprise")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| MASK))
            .field("idp_token_endpoint", &self.idp_token_endpoint)
            .field("idp_client_id", &self.idp_client_id)
            .field(
                "idp_client_secret",
                &self.idp_client_secret.as_ref().map(|_| MASK),
            )
            .field("id_token_file", &self.id_token_file)
            .field("id_token_env", &self.id_token_env)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// The algorithms an assertion may be signed with.
pub const ASSERTION_ALGORITHMS: &[&str] = &["RS256", "PS256", "ES256", "ES384", "EdDSA"];

/// A server's `auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerAuth {
    #[default]
    Static,
    #[serde(rename = "oauth")]
    OAuth(OAuthClient),
    #[serde(rename = "oauth_client_credentials")]
    ClientCredentials(MachineClient),
    TokenExchange(Exchange),
    #[serde(rename = "workload_identity")]
    Workload(Workload),
    Enterprise(Enterprise),
}

impl ServerAuth {
    pub fn is_static(&self) -> bool {
        matches!(self, ServerAuth::Static)
    }

    /// Whether its token is got by a grant without a user (no consent; got again when it
    /// expires).
    pub fn without_user(&self) -> bool {
        matches!(
            self,
            ServerAuth::ClientCredentials(_) | ServerAuth::Workload(_) | ServerAuth::Enterprise(_)
        )
    }

    /// Whether each caller connects an account of their own.
    pub fn per_caller(&self) -> bool {
        match self {
            ServerAuth::OAuth(c) => c.principal == Principal::Caller,
            ServerAuth::TokenExchange(_) => true,
            ServerAuth::Static
            | ServerAuth::ClientCredentials(_)
            | ServerAuth::Workload(_)
            | ServerAuth::Enterprise(_) => false,
        }
    }

    /// The same settings without the secrets given for the backend's old origin, when
    /// the url moves to another: `None` when there is none to drop. A client credentials
    /// client has nothing to authenticate with without them: it must be given again.
    pub fn without_secrets(&self) -> Result<Option<ServerAuth>, Invalid> {
        match self {
            ServerAuth::OAuth(c) if c.client_secret.is_some() => {
                Ok(Some(ServerAuth::OAuth(OAuthClient {
                    client_secret: None,
                    ..c.clone()
                })))
            }
            ServerAuth::ClientCredentials(_) | ServerAuth::Enterprise(_) => Err(Invalid::field(
                "auth",
                "the url moves to another origin: send auth again with it (a stored client \
                 secret or key is never sent to another host)",
            )),
            _ => Ok(None),
        }
    }

    /// The object as clients see it: the secret masked.
    pub fn public_json(&self) -> Value {
        match self {
            ServerAuth::Static => json!({"type": "static"}),
            ServerAuth::OAuth(c) => {
                let mut o = json!({"type": "oauth", "principal": c.principal,
                                   "client_id": c.client_id, "scopes": c.scopes});
                o["client_secret"] = json!(c.client_secret.as_ref().map(|_| MASK));
                o
            }
            ServerAuth::ClientCredentials(c) => json!({
                "type": "oauth_client_credentials", "client_id": c.client_id,
                "client_secret": c.client_secret.as_ref().map(|_| MASK),
                "private_key": c.private_key.as_ref().map(|_| MASK),
                "signing_algorithm": c.signing_algorithm, "scopes": c.scopes}),
            ServerAuth::TokenExchange(c) => json!({
                "type": "token_exchange", "issuer": c.issuer, "client_id": c.client_id,
                "client_secret": c.client_secret.as_ref().map(|_| MASK),
                "token_endpoint": c.token_endpoint, "audience": c.audience, "scopes": c.scopes}),
            ServerAuth::Workload(c) => json!({
                "type": "workload_identity", "client_id": c.client_id,
                "assertion_file": c.assertion_file, "assertion_env": c.assertion_env,
                "scopes": c.scopes}),
            ServerAuth::Enterprise(c) => json!({
                "type": "enterprise", "client_id": c.client_id,
                "client_secret": c.client_secret.as_ref().map(|_| MASK),
                "idp_token_endpoint": c.idp_token_endpoint, "idp_client_id": c.idp_client_id,
                "idp_client_secret": c.idp_client_secret.as_ref().map(|_| MASK),
                "id_token_file": c.id_token_file, "id_token_env": c.id_token_env,
                "scopes": c.scopes}),
        }
    }

    /// Parses a client's `auth` value; `existing` keeps a masked secret.
    pub fn parse(value: &Value, existing: Option<&ServerAuth>) -> Result<ServerAuth, Invalid> {
        let bad = |m: &str| Invalid::field("auth", m);
        let obj = match value {
            Value::Null => return Ok(ServerAuth::Static),
            Value::Object(o) => o,
            _ => return Err(bad("must be an object with a type")),
        };
        let kind = obj.get("type").and_then(Value::as_str).unwrap_or("static");
        match kind {
            "static" => {
                only(obj, &["type"])?;
                Ok(ServerAuth::Static)
            }
            "oauth" => {
                only(
                    obj,
                    &["type", "principal", "client_id", "client_secret", "scopes"],
                )?;
                let principal = match obj.get("principal").and_then(Value::as_str) {
                    None | Some("shared") => Principal::Shared,
                    Some("caller") => Principal::Caller,
                    Some(_) => return Err(bad("principal must be \"shared\" or \"caller\"")),
                };
                let client_id = text(obj, "client_id", MAX_CLIENT_ID)?;
                let mut client_secret = text(obj, "client_secret", MAX_CLIENT_SECRET)?;
                if client_secret.as_deref() == Some(MASK) {
                    client_secret = match existing {
                        Some(ServerAuth::OAuth(c)) if c.client_secret.is_some() => {
                            c.client_secret.clone()
                        }
                        _ => return Err(bad("client_secret is masked but none is stored")),
                    };
                }
                if client_secret.is_some() && client_id.is_none() {
                    return Err(bad("client_secret needs its client_id"));
                }
                let scopes = scopes(obj)?;
                Ok(ServerAuth::OAuth(OAuthClient {
                    principal,
                    client_id,
                    client_secret,
                    scopes,
                }))
            }
            "oauth_client_credentials" => machine(obj, existing),
            "token_exchange" => exchange(obj, existing),
            "workload_identity" => workload(obj),
            "enterprise" => enterprise(obj, existing),
            _ => Err(bad(
                "type must be \"static\", \"oauth\", \"oauth_client_credentials\", \
                 \"token_exchange\", \"workload_identity\" or \"enterprise\"",
            )),
        }
    }
}

/// `token_exchange`: the issuer, the client (a masked secret keeps the stored one), and
/// optionally where and for which audience and scopes.
fn exchange(
    obj: &Map<String, Value>,
    existing: Option<&ServerAuth>,
) -> Result<ServerAuth, Invalid> {
    let bad = |m: &str| Invalid::field("auth", m);
    only(
        obj,
        &[
            "type",
            "issuer",
            "client_id",
            "client_secret",
            "token_endpoint",
            "audience",
            "scopes",
        ],
    )?;
    let url = |name: &str| -> Result<Option<String>, Invalid> {
        let v = text(obj, name, MAX_CLIENT_ID)?;
        match &v {
            Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => {
                Err(bad(&format!("{name} must be an http(s) URL")))
            }
            _ => Ok(v),
        }
    };
    let issuer = url("issuer")?.ok_or_else(|| bad("issuer is required"))?;
    let token_endpoint = url("token_endpoint")?;
    let client_id =
        text(obj, "client_id", MAX_CLIENT_ID)?.ok_or_else(|| bad("client_id is required"))?;
    let mut client_secret = text(obj, "client_secret", MAX_CLIENT_SECRET)?;
    if client_secret.as_deref() == Some(MASK) {
        client_secret = match existing {
            Some(ServerAuth::TokenExchange(c)) if c.client_secret.is_some() => {
                c.client_secret.clone()
            }
            _ => return Err(bad("client_secret is masked but none is stored")),
        };
    }
    Ok(ServerAuth::TokenExchange(Exchange {
        issuer,
        client_id,
        client_secret,
        token_endpoint,
        audience: text(obj, "audience", MAX_CLIENT_ID)?,
        scopes: scopes(obj)?,
    }))
}

/// `oauth_client_credentials`: a client id, and a secret or a private key (masked
/// values keep the stored ones).
fn machine(obj: &Map<String, Value>, existing: Option<&ServerAuth>) -> Result<ServerAuth, Invalid> {
    let bad = |m: &str| Invalid::field("auth", m);
    only(
        obj,
        &[
            "type",
            "client_id",
            "client_secret",
            "private_key",
            "signing_algorithm",
            "scopes",
        ],
    )?;
    let stored = match existing {
        Some(ServerAuth::ClientCredentials(c)) => Some(c),
        _ => None,
    };
    let kept = |name: &str, value: Option<String>, old: Option<&String>| match value {
        Some(v) if v == MASK => old
            .cloned()
            .map(Some)
            .ok_or_else(|| bad(&format!("{name} is masked but none is stored"))),
        v => Ok(v),
    };
    let client_id =
        text(obj, "client_id", MAX_CLIENT_ID)?.ok_or_else(|| bad("client_id is required"))?;
    let client_secret = kept(
        "client_secret",
        text(obj, "client_secret", MAX_CLIENT_SECRET)?,
        stored.and_then(|c| c.client_secret.as_ref()),
    )?;
    let private_key = kept(
        "private_key",
        text_multiline(obj, "private_key", MAX_PRIVATE_KEY)?,
        stored.and_then(|c| c.private_key.as_ref()),
    )?;
    if client_secret.is_some() == private_key.is_some() {
        return Err(bad(
            "give a client_secret or a private_key (private_key_jwt), one of them",
        ));
    }
    let signing_algorithm = text(obj, "signing_algorithm", 16)?;
    if private_key.is_some() {
        let alg = signing_algorithm.as_deref().unwrap_or("RS256");
        if !ASSERTION_ALGORITHMS.contains(&alg) {
            return Err(bad(&format!(
                "signing_algorithm must be one of {}",
                ASSERTION_ALGORITHMS.join(", ")
            )));
        }
    } else if signing_algorithm.is_some() {
        return Err(bad("signing_algorithm goes with a private_key"));
    }
    let scopes = scopes(obj)?;
    Ok(ServerAuth::ClientCredentials(MachineClient {
        client_id,
        client_secret,
        private_key,
        signing_algorithm,
        scopes,
    }))
}

/// Where a JWT is read: exactly one of `<prefix>_file` (an absolute path) and
/// `<prefix>_env` (a variable's name).
fn jwt_source(
    obj: &Map<String, Value>,
    prefix: &str,
) -> Result<(Option<String>, Option<String>), Invalid> {
    let bad = |m: String| Invalid::field("auth", m);
    let file = text(obj, &format!("{prefix}_file"), 4096)?;
    let env = text(obj, &format!("{prefix}_env"), 128)?;
    if file.is_some() == env.is_some() {
        return Err(bad(format!(
            "give {prefix}_file or {prefix}_env, one of them"
        )));
    }
    if file.as_deref().is_some_and(|f| !f.starts_with('/')) {
        return Err(bad(format!("{prefix}_file must be an absolute path")));
    }
    if env.as_deref().is_some_and(|e| {
        !e.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    }) {
        return Err(bad(format!(
            "{prefix}_env must be a variable's name (A-Z, 0-9, _)"
        )));
    }
    Ok((file, env))
}

/// `workload_identity`: where the workload's JWT is, and optionally a client id and
/// scopes.
fn workload(obj: &Map<String, Value>) -> Result<ServerAuth, Invalid> {
    only(
        obj,
        &[
            "type",
            "client_id",
            "assertion_file",
            "assertion_env",
            "scopes",
        ],
    )?;
    let (assertion_file, assertion_env) = jwt_source(obj, "assertion")?;
    Ok(ServerAuth::Workload(Workload {
        client_id: text(obj, "client_id", MAX_CLIENT_ID)?,
        assertion_file,
        assertion_env,
        scopes: scopes(obj)?,
    }))
}

/// `enterprise`: the client at the backend's authorization server, the identity
/// provider's token endpoint and client, and where the identity token is (masked
/// secrets keep the stored ones).
fn enterprise(
    obj: &Map<String, Value>,
    existing: Option<&ServerAuth>,
) -> Result<ServerAuth, Invalid> {
    let bad = |m: &str| Invalid::field("auth", m);
    only(
        obj,
        &[
            "type",
            "client_id",
            "client_secret",
            "idp_token_endpoint",
            "idp_client_id",
            "idp_client_secret",
            "id_token_file",
            "id_token_env",
            "scopes",
        ],
    )?;
    let stored = match existing {
        Some(ServerAuth::Enterprise(c)) => Some(c),
        _ => None,
    };
    let kept = |name: &str, old: Option<&String>| -> Result<Option<String>, Invalid> {
        match text(obj, name, MAX_CLIENT_SECRET)? {
            Some(v) if v == MASK => old
                .cloned()
                .map(Some)
                .ok_or_else(|| bad(&format!("{name} is masked but none is stored"))),
            v => Ok(v),
        }
    };
    let idp_token_endpoint = text(obj, "idp_token_endpoint", MAX_CLIENT_ID)?
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .ok_or_else(|| bad("idp_token_endpoint is required, an http(s) URL"))?;
    let (id_token_file, id_token_env) = jwt_source(obj, "id_token")?;
    Ok(ServerAuth::Enterprise(Enterprise {
        client_id: text(obj, "client_id", MAX_CLIENT_ID)?
            .ok_or_else(|| bad("client_id is required"))?,
        client_secret: kept(
            "client_secret",
            stored.and_then(|c| c.client_secret.as_ref()),
        )?,
        idp_token_endpoint,
        idp_client_id: text(obj, "idp_client_id", MAX_CLIENT_ID)?,
        idp_client_secret: kept(
            "idp_client_secret",
            stored.and_then(|c| c.idp_client_secret.as_ref()),
        )?,
        id_token_file,
        id_token_env,
        scopes: scopes(obj)?,
    }))
}

fn scopes(obj: &Map<String, Value>) -> Result<Option<Vec<String>>, Invalid> {
    let bad = |m: &str| Invalid::field("auth", m);
    match obj.get("scopes") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) if items.len() <= MAX_SCOPES => items
            .iter()
            .map(|i| match i.as_str() {
                Some(s) if scope_ok(s) => Ok(s.to_string()),
                _ => Err(bad("scopes must be scope tokens (no spaces or quotes)")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad(&format!("scopes: at most {MAX_SCOPES} strings"))),
    }
}

/// A PEM text: printable lines.
fn text_multiline(
    obj: &Map<String, Value>,
    name: &str,
    max: usize,
) -> Result<Option<String>, Invalid> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s))
            if !s.is_empty()
                && s.len() <= max
                && s.chars().all(|c| c == '\n' || c == '\r' || !c.is_control()) =>
        {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(Invalid::field(
            "auth",
            format!("{name} must be a text of at most {max} characters"),
        )),
    }
}

fn only(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), Invalid> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(Invalid::field("auth", format!("unknown member {k:?}"))),
        None => Ok(()),
    }
}

fn text(obj: &Map<String, Value>, name: &str, max: usize) -> Result<Option<String>, Invalid> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s))
            if !s.is_empty() && s.len() <= max && !s.chars().any(char::is_control) =>
        {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(Invalid::field(
            "auth",
            format!("{name} must be a non-empty string of at most {max} characters"),
        )),
    }
}

/// A scope token (RFC 6749 §3.3): printable ASCII but space, `"` and `\`.
fn scope_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SCOPE
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_is_the_default_and_secrets_are_masked_and_kept() {
        assert_eq!(
            ServerAuth::parse(&Value::Null, None).unwrap(),
            ServerAuth::Static
        );
        assert_eq!(
            ServerAuth::parse(&json!({"type": "static"}), None).unwrap(),
            ServerAuth::Static
        );
        let a = ServerAuth::parse(
            &json!({"type": "oauth", "client_id": "c", "client_secret": "s3cret", "scopes": ["read", "write"]}),
            None,
        )
        .unwrap();
        let shown = a.public_json();
        assert_eq!(shown["client_secret"], MASK);
        assert_eq!(shown["principal"], "shared");
        assert!(!shown.to_string().contains("s3cret"));
        assert!(!format!("{a:?}").contains("s3cret"));
        // The mask sent back keeps the stored secret.
        let again = ServerAuth::parse(&shown, Some(&a)).unwrap();
        assert_eq!(again, a);
        assert!(ServerAuth::parse(&shown, None).is_err());
    }

    #[test]
    fn client_credentials_take_a_secret_or_a_key_and_show_neither() {
        let a = ServerAuth::parse(
            &json!({"type": "oauth_client_credentials", "client_id": "c", "private_key": "-----BEGIN PRIVATE KEY-----\nAAA\n-----END PRIVATE KEY-----\n", "signing_algorithm": "ES256"}),
            None,
        )
        .unwrap();
        let shown = a.public_json();
        assert_eq!(
            (
                shown["private_key"].as_str(),
                shown["client_secret"].as_str()
            ),
            (Some(MASK), None)
        );
        assert!(!shown.to_string().contains("BEGIN") && !format!("{a:?}").contains("BEGIN"));
        assert_eq!(ServerAuth::parse(&shown, Some(&a)).unwrap(), a);
        for bad in [
            json!({"type": "oauth_client_credentials", "client_id": "c"}),
            json!({"type": "oauth_client_credentials", "client_id": "c", "client_secret": "s", "private_key": "k"}),
            json!({"type": "oauth_client_credentials", "client_secret": "s"}),
            json!({"type": "oauth_client_credentials", "client_id": "c", "private_key": "k", "signing_algorithm": "HS256"}),
            json!({"type": "oauth_client_credentials", "client_id": "c", "client_secret": "s", "signing_algorithm": "ES256"}),
        ] {
            assert!(ServerAuth::parse(&bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn token_exchange_names_an_issuer_and_a_client_and_masks_its_secret() {
        let a = ServerAuth::parse(
            &json!({"type": "token_exchange", "issuer": "https://idp.example", "client_id": "c",
                    "client_secret": "s", "audience": "api", "scopes": ["x"]}),
            None,
        )
        .unwrap();
        assert!(a.per_caller());
        let shown = a.public_json();
        assert_eq!(shown["client_secret"], MASK);
        assert_eq!(ServerAuth::parse(&shown, Some(&a)).unwrap(), a);
        for bad in [
            json!({"type": "token_exchange", "client_id": "c"}),
            json!({"type": "token_exchange", "issuer": "ftp://idp", "client_id": "c"}),
            json!({"type": "token_exchange", "issuer": "https://idp"}),
            json!({"type": "token_exchange", "issuer": "https://idp", "client_id": "c",
                   "token_endpoint": "file:///etc"}),
            json!({"type": "token_exchange", "issuer": "https://idp", "client_id": "c",
                   "client_secret": MASK}),
        ] {
            assert!(ServerAuth::parse(&bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn workload_and_enterprise_read_a_jwt_from_one_place_and_mask_secrets() {
        let w = ServerAuth::parse(
            &json!({"type": "workload_identity", "assertion_file": "/var/run/token"}),
            None,
        )
        .unwrap();
        assert_eq!(ServerAuth::parse(&w.public_json(), None).unwrap(), w);
        let e = ServerAuth::parse(
            &json!({"type": "enterprise", "client_id": "c", "client_secret": "s3cret",
                    "idp_token_endpoint": "https://idp/token", "idp_client_secret": "idps3cret",
                    "id_token_env": "MY_ID_TOKEN"}),
            None,
        )
        .unwrap();
        let shown = e.public_json();
        assert!(!shown.to_string().contains("s3cret") && !format!("{e:?}").contains("s3cret"));
        assert_eq!(ServerAuth::parse(&shown, Some(&e)).unwrap(), e);
        assert!(ServerAuth::parse(&shown, None).is_err());
        for bad in [
            json!({"type": "workload_identity"}),
            json!({"type": "workload_identity", "assertion_file": "rel/path"}),
            json!({"type": "workload_identity", "assertion_env": "lower"}),
            json!({"type": "workload_identity", "assertion_file": "/a", "assertion_env": "A"}),
            json!({"type": "enterprise", "client_id": "c", "id_token_env": "A"}),
            json!({"type": "enterprise", "client_id": "c", "idp_token_endpoint": "file:///x",
                   "id_token_env": "A"}),
            json!({"type": "enterprise", "idp_token_endpoint": "https://i", "id_token_env": "A"}),
        ] {
            assert!(ServerAuth::parse(&bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn what_is_not_offered_or_malformed_is_refused_by_name() {
        for bad in [
            json!({"type": "oauth", "principal": "everyone"}),
            json!({"type": "oauth_client_credentials"}),
            json!({"type": "magic"}),
            json!({"type": "oauth", "client_secret": "s"}),
            json!({"type": "oauth", "scopes": ["a b"]}),
            json!({"type": "oauth", "scopes": "a"}),
            json!({"type": "oauth", "extra": 1}),
            json!({"type": "static", "client_id": "c"}),
            json!("oauth"),
        ] {
            let e = ServerAuth::parse(&bad, None).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("auth"), "{bad}");
        }
    }
}
