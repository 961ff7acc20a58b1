//! DPoP as a resource server (RFC 9449 §4.3, §7): an access token bound to a key (its
//! `cnf.jkt`) is accepted only with the `DPoP` scheme and a proof, made for this request,
//! by that key.
//!
//! A proof is checked in full before anything of it is trusted: at most
//! [`MAX_PROOF`] bytes, three base64url parts, a JOSE header of `typ: dpop+jwt`, `alg`
//! pinned to ES256 (no `none`, no HMAC, no other), no `crit`, a P-256 public `jwk` (no
//! private part) whose point is on the curve, the signature over the first two parts by
//! it; then the claims: a `jti`, `htm` the request's method, `htu` the request's URL as
//! the gateway is reached (`METAMCP_PUBLIC_URL` and the path; no query or fragment),
//! `iat` within [`WINDOW_SECS`] before now or [`FUTURE_SECS`] after, `ath` the token's
//! SHA-256, and the key's thumbprint (RFC 7638) the token's `cnf.jkt`. A proof is used
//! once: its `jti` is recorded across replicas until it could no longer be accepted
//! ([`crate::store::dpop_proofs`]).

use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde_json::Value;
use sha2::Digest;

/// Largest proof read.
pub const MAX_PROOF: usize = 4096;
/// How long before now a proof's `iat` may be (and how long its `jti` is remembered).
pub const WINDOW_SECS: u64 = 300;
/// How far after now a proof's `iat` may be (the client's clock ahead of ours).
pub const FUTURE_SECS: u64 = 60;
/// Longest `jti` taken.
const MAX_JTI: usize = 256;
/// The one algorithm taken, as `WWW-Authenticate` says (`algs`).
pub const ALGS: &str = "ES256";

/// A proof that passed: what makes it single-use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    pub jti: String,
    pub iat: u64,
}

/// What a request is checked against.
pub struct Request<'a> {
    /// `DPoP` header values (one is taken; none or several are refused).
    pub proofs: &'a [&'a str],
    pub method: &'a str,
    /// The request's URL as clients reach the gateway.
    pub url: &'a str,
    pub token: &'a str,
    /// The token's `cnf.jkt`.
    pub jkt: &'a str,
    pub now: u64,
}

/// Checks the request's proof; `Err` names what failed (the challenge's
/// `error_description`).
pub fn check(r: &Request<'_>) -> Result<Proof, &'static str> {
    let proof = match r.proofs {
        [] => return Err("no DPoP proof"),
        [one] => *one,
        _ => return Err("more than one DPoP proof"),
    };
    if proof.len() > MAX_PROOF {
        return Err("the proof is too large");
    }
    let mut parts = proof.split('.');
    let (Some(head), Some(body), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the proof is not a JWS");
    };
    let json = |part: &str| -> Option<Value> {
        let raw = crate::crypto::base64url_decode(part)?;
        serde_json::from_slice::<Value>(&raw)
            .ok()
            .filter(Value::is_object)
    };
    let header = json(head).ok_or("the proof's header is not a JSON object")?;
    if header["typ"] != "dpop+jwt" {
        return Err("the proof's typ is not dpop+jwt");
    }
    if header["alg"] != ALGS {
        return Err("the proof's alg is not ES256");
    }
    if header.get("crit").is_some() {
        return Err("the proof names critical extensions");
    }
    let jwk = &header["jwk"];
    if jwk["kty"] != "EC" || jwk["crv"] != "P-256" || jwk.get("d").is_some() {
        return Err("the proof's jwk is not a P-256 public key");
    }
    let (Some(x), Some(y)) = (jwk["x"].as_str(), jwk["y"].as_str()) else {
        return Err("the proof's jwk is not a P-256 public key");
    };
    let key = public_key(x, y).ok_or("the proof's jwk is not a P-256 public key")?;
    let sig = crate::crypto::base64url_decode(sig)
        .and_then(|s| Signature::from_slice(&s).ok())
        .ok_or("the proof's signature is malformed")?;
    let input = &proof[..head.len() + 1 + body.len()];
    key.verify(input.as_bytes(), &sig)
        .map_err(|_| "the proof's signature does not verify")?;
    let claims = json(body).ok_or("the proof's claims are not a JSON object")?;
    let jti = claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty() && j.len() <= MAX_JTI)
        .ok_or("the proof has no usable jti")?;
    if claims["htm"].as_str() != Some(r.method) {
        return Err("the proof is for another method");
    }
    let htu = claims["htu"].as_str().ok_or("the proof has no htu")?;
    if htu.contains(['?', '#']) || !same_url(htu, r.url) {
        return Err("the proof is for another URL");
    }
    let iat = claims["iat"].as_u64().ok_or("the proof has no iat")?;
    if iat + WINDOW_SECS < r.now || iat > r.now + FUTURE_SECS {
        return Err("the proof is stale or from the future");
    }
    if claims["ath"].as_str() != Some(ath(r.token).as_str()) {
        return Err("the proof is for another access token");
    }
    if thumbprint_p256(x, y) != r.jkt {
        return Err("the proof's key is not the one the token is bound to");
    }
    Ok(Proof {
        jti: jti.to_string(),
        iat,
    })
}

/// The `ath` of an access token: its SHA-256, base64url.
pub fn ath(token: &str) -> String {
    crate::crypto::base64url(&sha2::Sha256::digest(token.as_bytes()))
}

/// The RFC 7638 thumbprint of a P-256 public key given by its base64url coordinates.
pub fn thumbprint_p256(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    crate::crypto::base64url(&sha2::Sha256::digest(canonical.as_bytes()))
}

/// The P-256 point of base64url coordinates, if they are 32 bytes each and on the curve.
fn public_key(x: &str, y: &str) -> Option<VerifyingKey> {
    let x = crate::crypto::base64url_decode(x).filter(|b| b.len() == 32)?;
    let y = crate::crypto::base64url_decode(y).filter(|b| b.len() == 32)?;
    let point = p256::EncodedPoint::from_affine_coordinates(
        p256::FieldBytes::from_slice(&x),
        p256::FieldBytes::from_slice(&y),
        false,
    );
    VerifyingKey::from_encoded_point(&point).ok()
}

/// Whether two URLs are the same resource (RFC 9449 §4.3: scheme and host compared
/// without case, a default port as none; the path exactly).
fn same_url(a: &str, b: &str) -> bool {
    let parts = |u: &str| -> Option<(String, String, u16, String)> {
        let uri: hyper::Uri = u.parse().ok()?;
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(match scheme.as_str() {
            "https" => 443,
            _ => 80,
        });
        let path = match uri.path() {
            "" => "/".to_string(),
            p => p.to_string(),
        };
        Some((scheme, uri.host()?.to_ascii_lowercase(), port, path))
    };
    matches!((parts(a), parts(b)), (Some(x), Some(y)) if x == y)
}

/// The `WWW-Authenticate` challenge of a refusal (RFC 9449 §7.1): `invalid_token` for a
/// bound token sent without the `DPoP` scheme, else `invalid_dpop_proof`.
pub fn challenge(error: &str, why: &str, metadata: &str) -> String {
    format!(
        "DPoP algs=\"{ALGS}\", error=\"{error}\", error_description=\"{why}\", \
         resource_metadata=\"{metadata}\""
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;
    use serde_json::json;

    const URL: &str = "https://gw.example/mcp/team";

    /// A key for the tests' proofs.
    struct DpopKey(SigningKey);

    impl DpopKey {
        fn generate() -> DpopKey {
            let mut raw = [7u8; 32];
            crate::crypto::random_bytes(&mut raw);
            DpopKey(SigningKey::from_slice(&raw).unwrap())
        }

        fn xy(&self) -> (String, String) {
            let p = self.0.verifying_key().to_encoded_point(false);
            let b = |c: Option<&p256::FieldBytes>| crate::crypto::base64url(c.unwrap());
            (b(p.x()), b(p.y()))
        }

        fn thumbprint(&self) -> String {
            let (x, y) = self.xy();
            thumbprint_p256(&x, &y)
        }

        fn proof(&self, htm: &str, htu: &str, token: Option<&str>, _: Option<&str>) -> String {
            let (x, y) = self.xy();
            let header = json!({"typ": "dpop+jwt", "alg": "ES256",
                                "jwk": {"kty": "EC", "crv": "P-256", "x": x, "y": y}});
            let mut claims = json!({"jti": crate::crypto::random_alphanumeric(12), "htm": htm,
                                    "htu": htu, "iat": crate::base::unix_now()});
            if let Some(t) = token {
                claims["ath"] = json!(ath(t));
            }
            let input = format!(
                "{}.{}",
                crate::crypto::base64url(header.to_string().as_bytes()),
                crate::crypto::base64url(claims.to_string().as_bytes())
            );
            let sig: Signature = self.0.sign(input.as_bytes());
            format!("{input}.{}", crate::crypto::base64url(&sig.to_bytes()))
        }
    }

    fn request<'a>(proofs: &'a [&'a str], jkt: &'a str) -> Request<'a> {
        Request {
            proofs,
            method: "POST",
            url: URL,
            token: "tok",
            jkt,
            now: crate::base::unix_now(),
        }
    }

    #[test]
    fn a_proof_made_for_the_request_passes_and_one_for_another_does_not() {
        let key = DpopKey::generate();
        let jkt = key.thumbprint();
        let good = key.proof("POST", "HTTPS://GW.example:443/mcp/team", Some("tok"), None);
        assert!(check(&request(&[&good], &jkt)).is_ok());
        let other = DpopKey::generate();
        for (bad, why) in [
            (key.proof("GET", URL, Some("tok"), None), "method"),
            (
                key.proof("POST", "https://gw.example/mcp", Some("tok"), None),
                "URL",
            ),
            (
                key.proof("POST", "https://evil.example/mcp/team", Some("tok"), None),
                "URL",
            ),
            (
                key.proof("POST", URL, Some("another"), None),
                "access token",
            ),
            (key.proof("POST", URL, None, None), "access token"),
            (other.proof("POST", URL, Some("tok"), None), "bound"),
        ] {
            let e = check(&request(&[&bad], &jkt)).unwrap_err();
            assert!(e.contains(why), "{why}: {e}");
        }
        assert!(check(&request(&[], &jkt)).is_err());
        assert!(check(&request(&[&good, &good], &jkt)).is_err());
        // Stale: its time is past the window.
        let one = [good.as_str()];
        let mut r = request(&one, &jkt);
        r.now += WINDOW_SECS + 1;
        assert!(check(&r).unwrap_err().contains("stale"));
        r.now = r.now.saturating_sub(2 * WINDOW_SECS + 2 * FUTURE_SECS);
        assert!(check(&r).unwrap_err().contains("future"));
    }

    #[test]
    fn urls_compare_as_rfc_9449_says() {
        assert!(same_url("https://A.example/x", "https://a.example:443/x"));
        assert!(same_url("http://a:80/", "http://a"));
        assert!(!same_url("https://a/x", "https://a/x/"));
        assert!(!same_url("https://a/x", "http://a/x"));
        assert!(!same_url("https://a:8443/x", "https://a/x"));
        assert!(!same_url("not a url", "not a url"));
    }
}
