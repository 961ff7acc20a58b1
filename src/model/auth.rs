//! A server's `auth`: how the gateway proves itself to the backend.
//!
//! - `{"type": "static"}` (the default): the server's configured headers and env, as
//!   they are.
//! - `{"type": "oauth", "principal": "shared", "client_id"?, "client_secret"?,
//!   "scopes"?}`: one account for the whole server, authorized once by an admin
//!   (`POST /api/v1/mcp/servers/{id}/authorize`); the gateway is the OAuth client.
//!
//! A client secret is stored sealed with the rest of the object and shown as `MASK`;
//! sending the mask back keeps the stored one.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::MASK;
use super::validate::Invalid;

/// Longest client id (a client metadata document's URL included).
const MAX_CLIENT_ID: usize = 2048;
const MAX_CLIENT_SECRET: usize = 4096;
const MAX_SCOPES: usize = 32;
const MAX_SCOPE: usize = 200;

/// Whose account the gateway uses at the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Principal {
    /// One account for everyone who calls the server.
    Shared,
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

/// A server's `auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerAuth {
    #[default]
    Static,
    #[serde(rename = "oauth")]
    OAuth(OAuthClient),
}

impl ServerAuth {
    pub fn is_static(&self) -> bool {
        matches!(self, ServerAuth::Static)
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
                    Some("caller") => {
                        return Err(bad(
                            "principal \"caller\" (each caller's own account) is not offered by \
                             this version; use \"shared\"",
                        ));
                    }
                    Some(_) => return Err(bad("principal must be \"shared\"")),
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
                let scopes = match obj.get("scopes") {
                    None | Some(Value::Null) => None,
                    Some(Value::Array(items)) if items.len() <= MAX_SCOPES => Some(
                        items
                            .iter()
                            .map(|i| match i.as_str() {
                                Some(s) if scope_ok(s) => Ok(s.to_string()),
                                _ => Err(bad("scopes must be scope tokens (no spaces or quotes)")),
                            })
                            .collect::<Result<Vec<_>, _>>()?,
                    ),
                    Some(_) => {
                        return Err(bad(&format!("scopes: at most {MAX_SCOPES} strings")));
                    }
                };
                Ok(ServerAuth::OAuth(OAuthClient {
                    principal,
                    client_id,
                    client_secret,
                    scopes,
                }))
            }
            "oauth_client_credentials" | "token_exchange" => Err(bad(&format!(
                "type {kind:?} is not offered by this version; use \"static\" or \"oauth\""
            ))),
            _ => Err(bad("type must be \"static\" or \"oauth\"")),
        }
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
    fn what_is_not_offered_or_malformed_is_refused_by_name() {
        for bad in [
            json!({"type": "oauth", "principal": "caller"}),
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
