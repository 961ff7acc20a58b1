//! DPoP-bound access tokens at the gateway's `/mcp` (RFC 9449), end to end over real
//! sockets with the test authorization server of `oauth.rs` (its tokens carry `cnf.jkt`):
//! a proof made for the request by the bound key is taken once, on any replica; a
//! replayed, stale, wrong-method, wrong-URL or wrong-key proof, a missing one, and the
//! token sent as a plain bearer token are refused with 401 and a `DPoP` challenge; and
//! generated hostile proofs (any header, `none`/HS256, huge, malformed base64) are refused
//! by the check without a panic, and through the gateway without disturbing anyone.

use super::oauth::{Idp, PUBLIC, gateway, settings};
use crate::support::http::request;
use crate::support::mcp::Client;

use metamcp::auth::dpop;
use metamcp::vault::dpop::DpopKey;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Value, json};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn b64(data: &[u8]) -> String {
    metamcp::crypto::base64url(data)
}

/// A test signer whose proofs can say anything.
struct Key(SigningKey);

impl Key {
    fn new() -> Key {
        let mut raw = [0u8; 32];
        metamcp::crypto::random_bytes(&mut raw);
        Key(SigningKey::from_slice(&raw).expect("a scalar"))
    }

    fn jwk(&self) -> Value {
        let p = self.0.verifying_key().to_encoded_point(false);
        json!({"kty": "EC", "crv": "P-256", "x": b64(p.x().expect("x")), "y": b64(p.y().expect("y"))})
    }

    fn jkt(&self) -> String {
        let jwk = self.jwk();
        dpop::thumbprint_p256(jwk["x"].as_str().expect("x"), jwk["y"].as_str().expect("y"))
    }

    /// A proof with `header` and `claims` as given, signed.
    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig: Signature = self.0.sign(input.as_bytes());
        format!("{input}.{}", b64(&sig.to_bytes()))
    }

    /// A well-formed proof for `htm` `htu` and `token`, issued at `iat`.
    fn proof(&self, htm: &str, htu: &str, token: &str, iat: u64) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()});
        let claims = json!({"jti": metamcp::crypto::random_alphanumeric(16), "htm": htm,
                            "htu": htu, "iat": iat, "ath": dpop::ath(token)});
        self.sign(&header, &claims)
    }
}

fn initialize() -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "dpop-test", "version": "1"}}})
    .to_string()
    .into_bytes()
}

/// An initialize at `/mcp` with `authorization` and the `proofs`: the status and the
/// challenge.
async fn present(
    addr: std::net::SocketAddr,
    authorization: &str,
    proofs: &[&str],
) -> (u16, String) {
    let mut headers = vec![
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("authorization", authorization),
    ];
    for p in proofs {
        headers.push(("dpop", p));
    }
    let r = request(addr, "POST", "/mcp", &headers, Some(&initialize())).await;
    // Every challenge, in order, as one list (RFC 9110 §11.6.1).
    let challenge = r
        .headers
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ");
    (r.status, challenge)
}

/// A DPoP-scheme request whose token itself fails (another audience, expired, a bad
/// signature) is challenged with `DPoP` first (RFC 9449 §7.1: `algs` and `error`), then
/// `Bearer`; a token without a scope is refused with 403 `insufficient_scope` under the
/// default mapping, and taken by an issuer set to require none (`client=` empty).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_token_under_dpop_is_challenged_with_dpop_and_no_scope_may_be_required() {
    let idp = Idp::start();
    let (gw, _mock) = gateway(&idp).await;
    let url = format!("{PUBLIC}/mcp");
    let key = Key::new();
    let t = now();
    let bound = |extra: Value| {
        let mut claims = json!({"cnf": {"jkt": key.jkt()}});
        for (k, v) in extra.as_object().expect("claims") {
            claims[k] = v.clone();
        }
        idp.token("ec", claims)
    };
    let good = bound(json!({})).await;
    let other = bound(json!({"sub": "bob"})).await;
    let (signed, _) = good.rsplit_once('.').expect("a JWT");
    let (_, foreign) = other.rsplit_once('.').expect("a JWT");
    let failing = [
        (
            "another audience",
            bound(json!({"aud": "https://elsewhere.example/mcp"})).await,
        ),
        ("expired", bound(json!({"exp": t - 3600})).await),
        ("a bad signature", format!("{signed}.{foreign}")),
    ];
    for (what, token) in &failing {
        let proof = key.proof("POST", &url, token, t);
        let (status, challenge) = present(gw.addr, &format!("DPoP {token}"), &[&proof]).await;
        assert_eq!(status, 401, "{what}");
        assert!(
            challenge.starts_with("DPoP algs=\"ES256\", error=\"invalid_token\"")
                && challenge.contains(", Bearer error=\"invalid_token\"")
                && challenge.contains("resource_metadata="),
            "{what}: {challenge}"
        );
    }
    // The same failing token as a bearer token: the `Bearer` challenge alone.
    let (status, challenge) = present(gw.addr, &format!("Bearer {}", failing[1].1), &[]).await;
    assert_eq!(status, 401);
    assert!(
        challenge.starts_with("Bearer ") && !challenge.contains("DPoP"),
        "{challenge}"
    );

    // No scope in the token: the default mapping wants `mcp:use`.
    let unscoped = bound(json!({"scope": null})).await;
    let proof = key.proof("POST", &url, &unscoped, t);
    let (status, challenge) = present(gw.addr, &format!("DPoP {unscoped}"), &[&proof]).await;
    assert_eq!(status, 403);
    assert!(
        challenge
            .starts_with("DPoP algs=\"ES256\", error=\"insufficient_scope\", scope=\"mcp:use\""),
        "{challenge}"
    );
    // An issuer that requires no scope takes it, and its challenge names none.
    let open = gw
        .beside(|c| {
            let mut s = settings(PUBLIC.into(), idp.issuer(), None);
            s.issuers[0].client_scope = String::new();
            c.oauth = Some(s);
        })
        .await;
    let proof = key.proof("POST", &url, &unscoped, t);
    assert_eq!(
        present(open.addr, &format!("DPoP {unscoped}"), &[&proof])
            .await
            .0,
        200
    );
    let (status, challenge) = present(open.addr, "Bearer not-a-token", &[]).await;
    assert_eq!(status, 401);
    assert!(!challenge.contains("scope="), "{challenge}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_token_is_taken_with_a_fresh_proof_by_its_key_once_on_every_replica() {
    let idp = Idp::start();
    let (gw, _mock) = gateway(&idp).await;
    let other = gw
        .beside(|c| c.oauth = Some(settings(PUBLIC.into(), idp.issuer(), None)))
        .await;
    let url = format!("{PUBLIC}/mcp");

    // The gateway's own client-side proofs (vault::dpop) are what its resource side takes.
    let client_key = DpopKey::generate();
    let token = idp
        .token("ec", json!({"cnf": {"jkt": client_key.thumbprint()}}))
        .await;
    let auth = format!("DPoP {token}");
    let proof = client_key.proof("POST", &url, Some(&token), None);
    assert_eq!(present(gw.addr, &auth, &[&proof]).await.0, 200);
    // Replayed: on the same replica and on another.
    let (status, challenge) = present(gw.addr, &auth, &[&proof]).await;
    assert_eq!(status, 401);
    assert!(
        challenge.starts_with("DPoP ") && challenge.contains("invalid_dpop_proof"),
        "{challenge}"
    );
    let fresh = client_key.proof("POST", &url, Some(&token), None);
    assert_eq!(present(other.addr, &auth, &[&fresh]).await.0, 200);
    assert_eq!(present(gw.addr, &auth, &[&fresh]).await.0, 401);

    let key = Key::new();
    let token = idp.token("ec", json!({"cnf": {"jkt": key.jkt()}})).await;
    let auth = format!("DPoP {token}");
    let t = now();
    assert_eq!(
        present(gw.addr, &auth, &[&key.proof("POST", &url, &token, t)])
            .await
            .0,
        200
    );
    let refused = [
        ("stale", key.proof("POST", &url, &token, t - 600)),
        ("from the future", key.proof("POST", &url, &token, t + 600)),
        ("another method", key.proof("GET", &url, &token, t)),
        (
            "another URL",
            key.proof("POST", &format!("{PUBLIC}/mcp/team"), &token, t),
        ),
        (
            "another host",
            key.proof("POST", "http://evil.example/mcp", &token, t),
        ),
        ("another token", key.proof("POST", &url, "other", t)),
        ("another key", Key::new().proof("POST", &url, &token, t)),
    ];
    for (what, proof) in &refused {
        let (status, challenge) = present(gw.addr, &auth, &[proof]).await;
        assert_eq!(status, 401, "{what}");
        assert!(
            challenge.contains("invalid_dpop_proof"),
            "{what}: {challenge}"
        );
    }
    // No proof, two proofs, and the bound token as a bearer token.
    let (status, challenge) = present(gw.addr, &auth, &[]).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("invalid_dpop_proof"), "{challenge}");
    let (a, b) = (
        key.proof("POST", &url, &token, t),
        key.proof("POST", &url, &token, t),
    );
    assert_eq!(present(gw.addr, &auth, &[&a, &b]).await.0, 401);
    let (status, challenge) = present(
        gw.addr,
        &format!("Bearer {token}"),
        &[&key.proof("POST", &url, &token, t)],
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        challenge.starts_with("DPoP ") && challenge.contains("invalid_token"),
        "{challenge}"
    );
    // An unbound token presented as a bound one is refused; as a bearer token, taken.
    let plain = idp.token("ec", json!({})).await;
    let proof = key.proof("POST", &url, &plain, t);
    assert_eq!(
        present(gw.addr, &format!("DPoP {plain}"), &[&proof])
            .await
            .0,
        401
    );
    let mut c = Client::new(gw.addr, "/mcp", Some(&plain));
    assert_eq!(c.initialize().await.status, 200);
}

/// Hostile proofs: the headers, algorithms, sizes and encodings an attacker chooses.
fn hostile() -> impl Strategy<Value = String> {
    let alg = prop_oneof![
        Just(json!("none")),
        Just(json!("HS256")),
        Just(json!("ES256")),
        Just(json!("RS256")),
        Just(json!(null)),
        any::<i64>().prop_map(|n| json!(n)),
    ];
    let typ = prop_oneof![
        Just(json!("dpop+jwt")),
        Just(json!("JWT")),
        Just(json!(null))
    ];
    let jwk = prop_oneof![
        Just(json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"})),
        Just(json!({"kty": "EC", "crv": "Ed25519", "x": "AAAA"})),
        Just(json!({"kty": "oct", "k": "c2VjcmV0"})),
        Just(json!({"kty": "EC", "crv": "P-256", "x": b64(&[0u8; 32]), "y": b64(&[0u8; 32])})),
        Just(json!("a string")),
        Just(json!(null)),
    ];
    let header = (alg, typ, jwk, any::<bool>()).prop_map(|(alg, typ, jwk, crit)| {
        let mut h = json!({"alg": alg, "typ": typ, "jwk": jwk});
        if crit {
            h["crit"] = json!(["x"]);
        }
        h
    });
    let claims = (any::<u64>(), "\\PC{0,20}", "\\PC{0,40}")
        .prop_map(|(iat, htm, htu)| json!({"jti": "j", "iat": iat, "htm": htm, "htu": htu}));
    prop_oneof![
        // Structurally a JWS: any header and claims, a signature of any bytes.
        (
            header,
            claims,
            proptest::collection::vec(any::<u8>(), 0..80)
        )
            .prop_map(|(h, c, sig)| format!(
                "{}.{}.{}",
                b64(h.to_string().as_bytes()),
                b64(c.to_string().as_bytes()),
                b64(&sig)
            )),
        // Any text, dots included; malformed base64.
        "[A-Za-z0-9_\\-\\.=+/ ]{0,200}",
        "\\PC{0,100}",
        // Huge.
        (1usize..4).prop_map(|n| "a.".repeat(n * 3000) + "b"),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    #[test]
    fn hostile_proofs_are_refused_without_a_panic(proof in hostile()) {
        let key = Key::new();
        let r = dpop::Request {
            proofs: &[&proof],
            method: "POST",
            url: "http://mcp.example.test/mcp",
            token: "tok",
            jkt: &key.jkt(),
            now: now(),
        };
        prop_assert!(dpop::check(&r).is_err());
    }
}

#[test]
fn a_proof_signed_right_but_with_a_private_key_or_alg_none_is_refused() {
    let key = Key::new();
    let url = "http://mcp.example.test/mcp";
    let claims =
        json!({"jti": "a", "htm": "POST", "htu": url, "iat": now(), "ath": dpop::ath("tok")});
    let check = |proof: &str| {
        dpop::check(&dpop::Request {
            proofs: &[proof],
            method: "POST",
            url,
            token: "tok",
            jkt: &key.jkt(),
            now: now(),
        })
    };
    let good = key.sign(
        &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()}),
        &claims,
    );
    assert!(check(&good).is_ok());
    let mut with_d = key.jwk();
    with_d["d"] = json!(b64(&key.0.to_bytes()));
    for header in [
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": with_d}),
        json!({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk()}),
        json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": key.jwk()}),
        json!({"typ": "JWT", "alg": "ES256", "jwk": key.jwk()}),
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk(), "crit": ["b64"]}),
    ] {
        assert!(check(&key.sign(&header, &claims)).is_err(), "{header}");
    }
    // alg none with no signature at all.
    let bare = format!(
        "{}.{}.",
        b64(json!({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk()})
            .to_string()
            .as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    assert!(check(&bare).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_proofs_through_the_gateway_are_refused_and_others_still_served() {
    let idp = Idp::start();
    let (gw, _mock) = gateway(&idp).await;
    let key = Key::new();
    let token = idp.token("ec", json!({"cnf": {"jkt": key.jkt()}})).await;
    let auth = format!("DPoP {token}");
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = hostile();
    for _ in 0..40 {
        let proof = strategy.new_tree(&mut runner).expect("a case").current();
        // What cannot be a header value at all is not sent.
        if hyper::header::HeaderValue::from_str(&proof).is_err() {
            continue;
        }
        assert_eq!(
            present(gw.addr, &auth, &[&proof]).await.0,
            401,
            "{proof:.200}"
        );
    }
    let url = format!("{PUBLIC}/mcp");
    assert_eq!(
        present(gw.addr, &auth, &[&key.proof("POST", &url, &token, now())])
            .await
            .0,
        200
    );
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.admin_key));
    assert_eq!(c.initialize().await.status, 200);
}
