//! DPoP as a client (RFC 9449): the gateway's proof-of-possession key for one upstream
//! account, and the proofs it signs with it.
//!
//! A key (ES256, P-256) is made when an authorization begins at an authorization server
//! that lists ES256 in `dpop_signing_alg_values_supported`; it is sealed with the
//! account's other secrets (in its pending row, then with its tokens), never logged,
//! and never leaves the gateway but as signatures. Every request gets a fresh proof:
//! `htm`, `htu` (the URL without query or fragment), `iat`, a random `jti`, the server's
//! `nonce` when it asked for one, and `ath` (the access token's SHA-256) for a resource.

use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::json;

pub use crate::auth::dpop::{ath, thumbprint_p256};

/// The one algorithm the gateway signs proofs with.
pub const ALG: &str = "ES256";
/// Longest nonce a server's `DPoP-Nonce` may give (longer ones are not used).
pub const MAX_NONCE: usize = 512;

/// An account's DPoP key.
pub struct DpopKey {
    key: SigningKey,
    /// The public key as a JWK (`kty`, `crv`, `x`, `y`), as every proof's header holds it.
    jwk: serde_json::Value,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DpopKey(***)")
    }
}

impl DpopKey {
    /// A new key from the system's randomness.
    pub fn generate() -> DpopKey {
        loop {
            let mut raw = [0u8; 32];
            crate::crypto::random_bytes(&mut raw);
            // A scalar of zero or past the group's order (about 2^-128 likely) is drawn
            // again.
            if let Ok(key) = SigningKey::from_slice(&raw) {
                return DpopKey::of(key);
            }
        }
    }

    fn of(key: SigningKey) -> DpopKey {
        let point = key.verifying_key().to_encoded_point(false);
        let coord =
            |c: Option<&p256::FieldBytes>| crate::crypto::base64url(c.map_or(&[][..], |b| &b[..]));
        let jwk =
            json!({"kty": "EC", "crv": "P-256", "x": coord(point.x()), "y": coord(point.y())});
        DpopKey { key, jwk }
    }

    /// The private scalar, base64url: what is sealed.
    pub fn secret(&self) -> String {
        crate::crypto::base64url(&self.key.to_bytes())
    }

    /// The key [`DpopKey::secret`] gave, or `None` when it is not one.
    pub fn from_secret(secret: &str) -> Option<DpopKey> {
        let raw = crate::crypto::base64url_decode(secret)?;
        SigningKey::from_slice(&raw).ok().map(DpopKey::of)
    }

    /// The public key's JWK thumbprint (RFC 7638, SHA-256): what a bound token's
    /// `cnf.jkt` names.
    pub fn thumbprint(&self) -> String {
        let s = |k: &str| self.jwk[k].as_str().unwrap_or_default().to_string();
        thumbprint_p256(&s("x"), &s("y"))
    }

    /// A fresh proof for a `htm` request to `url` (its query and fragment dropped), for
    /// the access token `token` when one is sent with it, with the server's `nonce`.
    pub fn proof(&self, htm: &str, url: &str, token: Option<&str>, nonce: Option<&str>) -> String {
        let mut jti = [0u8; 16];
        crate::crypto::random_bytes(&mut jti);
        let mut claims = json!({
            "jti": crate::crypto::base64url(&jti),
            "htm": htm,
            "htu": htu(url),
            "iat": crate::base::unix_now(),
        });
        if let Some(t) = token {
            claims["ath"] = json!(ath(t));
        }
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        let header = json!({"typ": "dpop+jwt", "alg": ALG, "jwk": self.jwk});
        let input = format!(
            "{}.{}",
            crate::crypto::base64url(header.to_string().as_bytes()),
            crate::crypto::base64url(claims.to_string().as_bytes())
        );
        let sig: Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", crate::crypto::base64url(&sig.to_bytes()))
    }
}

/// `url` without its query and fragment: a proof's `htu`.
pub fn htu(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

/// A server's `DPoP-Nonce` value when it is one a proof can carry (RFC 9449 §8: visible
/// ASCII, bounded).
pub fn usable_nonce(v: &str) -> Option<String> {
    (!v.is_empty() && v.len() <= MAX_NONCE && v.bytes().all(|b| (0x21..0x7F).contains(&b)))
        .then(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;

    #[test]
    fn a_proof_is_signed_by_the_key_it_names_and_says_what_it_is_for() {
        let key = DpopKey::generate();
        let proof = key.proof(
            "POST",
            "https://as.example/token?x=1#f",
            Some("tok"),
            Some("n1"),
        );
        let parts: Vec<&str> = proof.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&crate::crypto::base64url_decode(parts[0]).unwrap()).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&crate::crypto::base64url_decode(parts[1]).unwrap()).unwrap();
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert!(header["jwk"].get("d").is_none());
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], "https://as.example/token");
        assert_eq!(claims["nonce"], "n1");
        assert_eq!(claims["ath"], ath("tok"));
        let sig =
            Signature::from_slice(&crate::crypto::base64url_decode(parts[2]).unwrap()).unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        key.key
            .verifying_key()
            .verify(input.as_bytes(), &sig)
            .unwrap();
        // A fresh jti each time; the key survives its sealing.
        let again = key.proof("POST", "https://as.example/token", None, None);
        assert_ne!(again.split('.').nth(1), Some(parts[1]));
        let back = DpopKey::from_secret(&key.secret()).unwrap();
        assert_eq!(back.thumbprint(), key.thumbprint());
        assert!(DpopKey::from_secret("not a key").is_none());
    }

    #[test]
    fn the_thumbprint_is_rfc_7638s() {
        // RFC 9449 §6.1: the example proof's key and the `jkt` its token is bound to.
        let t = thumbprint_p256(
            "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
        );
        assert_eq!(t, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
        assert!(usable_nonce("abc").is_some());
        assert!(usable_nonce("a b").is_none());
        assert!(usable_nonce(&"a".repeat(MAX_NONCE + 1)).is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// A server's nonce is taken only as visible ASCII within its bound, and a
        /// `WWW-Authenticate` of any text is read without a panic.
        #[test]
        fn nonces_and_challenges_of_any_text_are_read_safely(v in "\\PC{0,600}") {
            if let Some(n) = usable_nonce(&v) {
                proptest::prop_assert!(n.len() <= MAX_NONCE && n.bytes().all(|b| (0x21..0x7F).contains(&b)));
            }
            let _ = crate::vault::discover::challenge(&format!("DPoP {v}"));
            let _ = crate::vault::discover::challenge(&v);
        }
    }
}
