//! Access tokens: HS256 JWTs with the algorithm pinned, issued for a verified API key.
//!
//! Claims: `sub` (key id), `scope`, `ns` (namespaces), `iat`, `exp`, `jti`, and `kv`, the
//! version of the key's secret: rotating a key changes `kv`, so tokens issued under the
//! old secret stop working with it.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::Secret;
use crate::crypto::{random_bytes, to_hex};

/// Lifetime of an access token.
pub const TOKEN_LIFETIME_SECS: u64 = 900;
/// Clock skew tolerated on `exp` and `iat`.
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub sub: String,
    pub scope: String,
    pub ns: Vec<String>,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
    pub kv: String,
}

/// Signs and checks tokens with the process's JWT secret.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("token signing failed: {0}")]
    Sign(String),
}

impl Tokens {
    pub fn new(secret: &Secret) -> Tokens {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        Tokens {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
        }
    }

    /// Signs `claims` (which must carry `iat`/`exp`).
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| TokenError::Sign(e.to_string()))
    }

    /// Checks signature, algorithm, expiry and issue time.
    pub fn verify(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        if data.claims.iat > now + LEEWAY_SECS {
            return Err(TokenError::Invalid("issued in the future".into()));
        }
        Ok(data.claims)
    }
}

/// A random token id.
pub fn new_jti() -> String {
    let mut b = [0u8; 16];
    random_bytes(&mut b);
    to_hex(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::unix_now;

    fn claims(now: u64) -> Claims {
        Claims {
            sub: "0123456789abcdef".into(),
            scope: "client".into(),
            ns: vec![],
            iat: now,
            exp: now + TOKEN_LIFETIME_SECS,
            jti: new_jti(),
            kv: "00".into(),
        }
    }

    use crate::crypto::base64url;

    #[test]
    fn round_trip_and_rejections() {
        let t = Tokens::new(&Secret::new("s".repeat(40)));
        let now = unix_now();
        let tok = t.sign(&claims(now)).unwrap();
        assert_eq!(t.verify(&tok, now).unwrap().sub, "0123456789abcdef");

        let other = Tokens::new(&Secret::new("o".repeat(40)));
        assert!(other.verify(&tok, now).is_err(), "other secret");

        let mut expired = claims(now - 2000);
        expired.exp = now - 1000;
        assert!(
            t.verify(&t.sign(&expired).unwrap(), now).is_err(),
            "expired"
        );

        let future = claims(now + 3600);
        assert!(
            t.verify(&t.sign(&future).unwrap(), now).is_err(),
            "future iat"
        );

        // alg=none with the signature stripped.
        let parts: Vec<&str> = tok.split('.').collect();
        let none_header = base64url(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(
            t.verify(&format!("{none_header}.{}.", parts[1]), now)
                .is_err()
        );

        // HS512 signed with the same secret: wrong algorithm.
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims(now),
            &EncodingKey::from_secret("s".repeat(40).as_bytes()),
        )
        .unwrap();
        assert!(t.verify(&hs512, now).is_err(), "HS512 refused");

        // A changed payload breaks the signature.
        let mut forged = claims(now);
        forged.scope = "admin".into();
        let forged_payload = base64url(serde_json::to_string(&forged).unwrap().as_bytes());
        let tampered = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
        assert!(t.verify(&tampered, now).is_err(), "tampered");
    }
}
