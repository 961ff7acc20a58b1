//! The control plane end to end: a real gateway on a port-0 socket, a real database,
//! real keyadm processes.

use std::time::Duration;

use crate::support::gateway::{TestGateway, create_key, key_store};
use crate::support::http::{get, request, send_json};
use crate::support::{TEST_JWT_SECRET, eventually, run_bin};
use serde_json::{Value, json};

use metamcp::auth::token::Claims;
use metamcp::base::unix_now;
use metamcp::store::keys::Scope;

const KEYADM: &str = env!("CARGO_BIN_EXE_keyadm");

fn sign(claims: &Claims, alg: jsonwebtoken::Algorithm, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn token_for(gw: &TestGateway, key: &str) -> String {
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/auth/token",
        "",
        &json!({"api_key": key}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn tokens_are_issued_and_every_credential_form_works() {
    let gw = TestGateway::start().await;
    let r = request(
        gw.addr,
        "POST",
        "/api/v1/auth/token",
        &[("content-type", "application/json")],
        Some(json!({"api_key": gw.client_key}).to_string().as_bytes()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let token = body["access_token"].as_str().unwrap();
    // The claims DESIGN.md names, HS256.
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
        &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
    )
    .expect("HS256 token with the configured secret");
    assert_eq!(data.claims.scope, "client");
    assert_eq!(data.claims.exp - data.claims.iat, 900);
    assert!(gw.client_key.contains(&data.claims.sub));
    assert_eq!(data.claims.jti.len(), 32);

    assert_eq!(get(gw.addr, "/api/v1/mcp/servers", token).await.status, 200);
    assert_eq!(
        get(gw.addr, "/api/v1/mcp/servers", &gw.client_key)
            .await
            .status,
        200
    );
    let r = request(
        gw.addr,
        "GET",
        "/api/v1/namespaces",
        &[("x-api-key", &gw.client_key)],
        None,
    )
    .await;
    assert_eq!(r.status, 200);

    let r = request(gw.addr, "GET", "/api/v1/mcp/servers", &[], None).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"metamcp\"")
    );
    assert_eq!(r.json()["code"], "unauthorized");
    assert_eq!(r.json()["status"], 401);

    // Token endpoint errors.
    let bad = send_json(
        gw.addr,
        "POST",
        "/api/v1/auth/token",
        "",
        &json!({"api_key": "mcp_nope"}),
    )
    .await;
    assert_eq!(bad.status, 401);
    assert!(
        bad.header("www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/auth/token",
        "",
        &json!({"key": "x"}),
    )
    .await;
    assert_eq!((r.status, r.json()["field"].as_str()), (400, Some("key")));
    let r = request(
        gw.addr,
        "POST",
        "/api/v1/auth/token",
        &[("content-type", "text/plain")],
        Some(b"x"),
    )
    .await;
    assert_eq!(r.status, 415);
    let r = request(
        gw.addr,
        "POST",
        "/api/v1/auth/token",
        &[("content-type", "application/json")],
        Some(b"{"),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
}

#[tokio::test]
async fn forged_expired_and_wrong_algorithm_tokens_are_refused() {
    let gw = TestGateway::start().await;
    let good = token_for(&gw, &gw.client_key).await;
    let data = jsonwebtoken::dangerous::insecure_decode::<Claims>(&good).unwrap();
    let claims = data.claims;
    let now = unix_now();

    let mut expired = claims.clone();
    expired.iat = now - 2000;
    expired.exp = now - 1000;
    let mut admin = claims.clone();
    admin.scope = "admin".into();
    let parts: Vec<&str> = good.split('.').collect();
    let forged_payload = sign(&admin, jsonwebtoken::Algorithm::HS256, "x")
        .split('.')
        .nth(1)
        .unwrap()
        .to_string();
    let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"; // {"alg":"none","typ":"JWT"}
    let rs_header = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"; // {"alg":"RS256","typ":"JWT"}
    let cases = [
        (
            "expired",
            sign(&expired, jsonwebtoken::Algorithm::HS256, TEST_JWT_SECRET),
        ),
        (
            "tampered",
            format!("{}.{forged_payload}.{}", parts[0], parts[2]),
        ),
        ("alg none", format!("{none_header}.{}.", parts[1])),
        (
            "RS256 header",
            format!("{rs_header}.{}.{}", parts[1], parts[2]),
        ),
        (
            "HS512",
            sign(&claims, jsonwebtoken::Algorithm::HS512, TEST_JWT_SECRET),
        ),
        (
            "other secret",
            sign(
                &claims,
                jsonwebtoken::Algorithm::HS256,
                "another-secret-another-secret-1234",
            ),
        ),
        ("garbage", "not.a.token".to_string()),
    ];
    for (what, tok) in cases {
        let r = get(gw.addr, "/api/v1/mcp/servers", &tok).await;
        assert_eq!(r.status, 401, "{what} accepted");
    }
    assert_eq!(get(gw.addr, "/api/v1/mcp/servers", &good).await.status, 200);
}

#[tokio::test]
async fn revocation_and_rotation_reach_a_running_gateway_within_a_second() {
    let gw = TestGateway::start().await;
    let env = gw.db.env();
    let out = run_bin(
        KEYADM,
        &env,
        &["keys", "create", "--name", "victim", "--json"],
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (id, key) = (
        created["id"].as_str().unwrap(),
        created["api_key"].as_str().unwrap(),
    );
    let token = token_for(&gw, key).await;
    // Warm the cache so the next uses cost no argon2.
    assert_eq!(get(gw.addr, "/api/v1/namespaces", key).await.status, 200);
    assert_eq!(get(gw.addr, "/api/v1/namespaces", &token).await.status, 200);

    let out = run_bin(KEYADM, &env, &["keys", "inactivate", id]);
    assert!(out.status.success());
    let t0 = std::time::Instant::now();
    eventually(
        Duration::from_secs(1),
        "inactivation to reach the gateway",
        || async {
            let a = get(gw.addr, "/api/v1/namespaces", key).await.status;
            let b = get(gw.addr, "/api/v1/namespaces", &token).await.status;
            (a == 401 && b == 401).then_some(())
        },
    )
    .await;
    eprintln!("revocation took effect after {:?}", t0.elapsed());

    // Reactivated, then rotated: the old secret and tokens issued under it stop working.
    assert!(
        run_bin(KEYADM, &env, &["keys", "activate", id])
            .status
            .success()
    );
    eventually(Duration::from_secs(1), "reactivation", || async {
        (get(gw.addr, "/api/v1/namespaces", key).await.status == 200).then_some(())
    })
    .await;
    let token = token_for(&gw, key).await;
    let out = run_bin(KEYADM, &env, &["keys", "rotate", id, "--json"]);
    let new_key = serde_json::from_slice::<Value>(&out.stdout).unwrap()["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    eventually(Duration::from_secs(1), "rotation", || async {
        let old = get(gw.addr, "/api/v1/namespaces", key).await.status;
        let tok = get(gw.addr, "/api/v1/namespaces", &token).await.status;
        (old == 401 && tok == 401).then_some(())
    })
    .await;
    assert_eq!(
        get(gw.addr, "/api/v1/namespaces", &new_key).await.status,
        200
    );

    // Deletion too.
    assert!(
        run_bin(KEYADM, &env, &["keys", "delete", id, "--confirm"])
            .status
            .success()
    );
    eventually(Duration::from_secs(1), "deletion", || async {
        (get(gw.addr, "/api/v1/namespaces", &new_key).await.status == 401).then_some(())
    })
    .await;
}

#[tokio::test]
async fn scopes_and_namespace_limits_are_enforced() {
    let gw = TestGateway::start().await;
    let server = json!({"name": "alpha", "protocol": "http", "url": "http://127.0.0.1:9/mcp"});
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers",
        &gw.client_key,
        &server,
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains("insufficient_scope")
    );
    let client_token = token_for(&gw, &gw.client_key).await;
    let stdio = json!({"name": "evil", "protocol": "stdio", "command": "sh", "args": ["-c", "id"]});
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers",
        &client_token,
        &stdio,
    )
    .await;
    assert_eq!(r.status, 403, "spawning a command is admin-only");
    for path in ["/api/v1/mcp/servers/alpha", "/api/v1/namespaces/x"] {
        let r = request(
            gw.addr,
            "DELETE",
            path,
            &[("authorization", &format!("Bearer {}", gw.client_key))],
            None,
        )
        .await;
        assert_eq!(r.status, 403, "{path}");
    }

    let admin = &gw.admin_key;
    assert_eq!(
        send_json(gw.addr, "POST", "/api/v1/mcp/servers", admin, &server)
            .await
            .status,
        201
    );
    let beta = json!({"name": "beta", "protocol": "sse", "url": "http://127.0.0.1:9/sse"});
    assert_eq!(
        send_json(gw.addr, "POST", "/api/v1/mcp/servers", admin, &beta)
            .await
            .status,
        201
    );
    let ns = json!({"name": "team-a", "servers": ["alpha"]});
    assert_eq!(
        send_json(gw.addr, "POST", "/api/v1/namespaces", admin, &ns)
            .await
            .status,
        201
    );
    let ns_b = json!({"name": "team-b", "servers": ["beta"]});
    assert_eq!(
        send_json(gw.addr, "POST", "/api/v1/namespaces", admin, &ns_b)
            .await
            .status,
        201
    );

    let limited = create_key(&key_store(&gw.db), "limited", Scope::Client, &["team-a"]).await;
    let names = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(get(gw.addr, "/api/v1/mcp/servers", &limited).await.json()),
        ["alpha"]
    );
    assert_eq!(
        names(get(gw.addr, "/api/v1/namespaces", &limited).await.json()),
        ["team-a"]
    );
    assert_eq!(
        get(gw.addr, "/api/v1/mcp/servers/beta", &limited)
            .await
            .status,
        404
    );
    assert_eq!(
        get(gw.addr, "/api/v1/namespaces/team-b", &limited)
            .await
            .status,
        404
    );
    assert_eq!(
        names(
            get(gw.addr, "/api/v1/mcp/servers", &gw.client_key)
                .await
                .json()
        ),
        ["alpha", "beta"]
    );
}

#[tokio::test]
async fn server_crud_validates_masks_and_keeps_secrets_sealed() {
    let gw = TestGateway::start().await;
    let admin = &gw.admin_key;
    let secret = "Bearer upstream-s3cret-value";
    let body = json!({"name": "weather", "protocol": "http", "url": "http://127.0.0.1:9/mcp",
                      "headers": {"Authorization": secret}, "timeout_ms": 5000});
    let r = send_json(gw.addr, "POST", "/api/v1/mcp/servers", admin, &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/mcp/servers/{id}").as_str())
    );
    assert_eq!(created["headers"]["Authorization"], "********");
    assert!(
        matches!(created["status"].as_str(), Some("starting" | "failed")),
        "{created}"
    );
    assert_eq!(created["timeout_ms"], 5000);
    assert!(!r.text().contains("s3cret"));

    // Duplicate names, in any case.
    for name in ["weather", "WEATHER"] {
        let dup = json!({"name": name, "protocol": "http", "url": "http://127.0.0.1:9/x"});
        let r = send_json(gw.addr, "POST", "/api/v1/mcp/servers", admin, &dup).await;
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (409, Some("conflict"))
        );
    }
    // By UUID and by name.
    let by_id = get(gw.addr, &format!("/api/v1/mcp/servers/{id}"), admin).await;
    let by_name = get(gw.addr, "/api/v1/mcp/servers/weather", admin).await;
    // The same server, but its live state may move between the two reads (the
    // supervisor retries the unreachable URL): compare what was written.
    let written = |mut v: serde_json::Value| {
        for live in [
            "status",
            "restarts",
            "last_error",
            "last_exit",
            "consecutive_failures",
            "circuit",
            "last_connected_at",
            "tools",
            "prompts",
            "resources",
            "skills",
            "problems",
        ] {
            v.as_object_mut().map(|o| o.remove(live));
        }
        v
    };
    assert_eq!(by_id.json()["id"], id.as_str());
    assert_eq!(written(by_id.json()), written(by_name.json()));

    // GET → edit → PUT keeps the masked secret; a partial PUT keeps other fields.
    let mut edited = by_id.json();
    edited["timeout_ms"] = json!(7000);
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/weather",
        admin,
        &edited,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send_json(
        gw.addr,
        "PUT",
        &format!("/api/v1/mcp/servers/{id}"),
        admin,
        &json!({"is_active": false}),
    )
    .await;
    assert_eq!(
        (r.json()["timeout_ms"].as_i64(), r.json()["status"].as_str()),
        (Some(7000), Some("stopped"))
    );
    let stored = gw
        .state
        .control
        .registry
        .get_server("weather")
        .await
        .unwrap();
    assert_eq!(
        stored.headers["Authorization"], secret,
        "the masked value kept the stored one"
    );

    // The secret is sealed in the database.
    let client = gw.db.client().await;
    let dump: String = client
        .query_one("SELECT string_agg(t::text, '') FROM mcp_servers t", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!dump.contains("s3cret"));

    // Bad input: the field at fault, and nothing written.
    for (input, field) in [
        (json!({"protocol": "http", "url": "http://a"}), "name"),
        (
            json!({"name": "bad_name", "protocol": "http", "url": "http://a"}),
            "name",
        ),
        (json!({"name": "x", "protocol": "http"}), "url"),
        (
            json!({"name": "x", "protocol": "http", "url": "mailto:a@b"}),
            "url",
        ),
        (json!({"name": "x", "protocol": "stdio"}), "command"),
        (
            json!({"name": "x", "protocol": "http", "url": "http://a", "timeout_ms": -1}),
            "timeout_ms",
        ),
        (
            json!({"name": "x", "protocol": "http", "url": "http://a", "envv": {}}),
            "envv",
        ),
        (
            json!({"name": "x", "protocol": "grpc", "url": "http://a"}),
            "protocol",
        ),
    ] {
        let r = send_json(gw.addr, "POST", "/api/v1/mcp/servers", admin, &input).await;
        assert_eq!(r.status, 400, "{input}");
        assert_eq!(r.json()["field"], field, "{input}: {}", r.text());
        assert_eq!(r.json()["code"], "invalid_request");
    }
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers",
        admin,
        &json!([1, 2]),
    )
    .await;
    assert_eq!(r.status, 400);
    let count: i64 = client
        .query_one("SELECT count(*) FROM mcp_servers", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);

    // A stdio server, then unknown ids and deletion.
    let stdio = json!({"name": "time", "protocol": "stdio", "command": "python3",
                       "args": ["-m", "mcp_server_time"], "env": {"TZ": "UTC"}});
    let r = send_json(gw.addr, "POST", "/api/v1/mcp/servers", admin, &stdio).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["env"]["TZ"], "********");
    assert_eq!(
        get(gw.addr, "/api/v1/mcp/servers/nope", admin).await.status,
        404
    );
    let missing = "/api/v1/mcp/servers/00000000-0000-0000-0000-000000000000";
    assert_eq!(
        request(
            gw.addr,
            "DELETE",
            missing,
            &[("authorization", &format!("Bearer {admin}"))],
            None
        )
        .await
        .status,
        404
    );
    let r = request(
        gw.addr,
        "DELETE",
        "/api/v1/mcp/servers/time",
        &[("authorization", &format!("Bearer {admin}"))],
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        get(gw.addr, "/api/v1/mcp/servers/time", admin).await.status,
        404
    );
    let list = get(gw.addr, "/api/v1/mcp/servers", admin).await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn namespace_crud() {
    let gw = TestGateway::start().await;
    let admin = &gw.admin_key;
    for name in ["time", "github"] {
        let s = json!({"name": name, "protocol": "http", "url": "http://127.0.0.1:9/mcp"});
        assert_eq!(
            send_json(gw.addr, "POST", "/api/v1/mcp/servers", admin, &s)
                .await
                .status,
            201
        );
    }
    let ns = json!({"name": "team-a", "servers": ["time", "github"], "tool_prefix": "always",
                    "tools": {"github__delete_repo": {"enabled": false},
                              "time__get_current_time": {"name": "now", "description": "The time"}}});
    let r = send_json(gw.addr, "POST", "/api/v1/namespaces", admin, &ns).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let got = get(gw.addr, "/api/v1/namespaces/team-a", admin)
        .await
        .json();
    assert_eq!(got["servers"], json!(["time", "github"]));
    assert_eq!(got["auth"], "required");
    assert_eq!(got["tools"]["github__delete_repo"]["enabled"], false);
    assert_eq!(got["tools"]["time__get_current_time"]["name"], "now");

    assert_eq!(
        send_json(gw.addr, "POST", "/api/v1/namespaces", admin, &ns)
            .await
            .status,
        409
    );
    let bad = json!({"name": "team-b", "servers": ["nope"]});
    let r = send_json(gw.addr, "POST", "/api/v1/namespaces", admin, &bad).await;
    assert_eq!(
        (r.status, r.json()["field"].as_str()),
        (400, Some("servers"))
    );
    assert_eq!(
        get(gw.addr, "/api/v1/namespaces/team-b", admin)
            .await
            .status,
        404,
        "nothing half-written"
    );

    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/namespaces/team-a",
        admin,
        &json!({"servers": ["github"], "auth": "none", "tools": null}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["servers"], json!(["github"]));
    assert_eq!(r.json()["auth"], "none");
    assert_eq!(r.json()["tools"], json!({}));
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/namespaces/team-a",
        admin,
        &json!({"name": "renamed"}),
    )
    .await;
    assert_eq!((r.status, r.json()["field"].as_str()), (400, Some("name")));

    // Deleting a server drops it from namespaces.
    let auth = format!("Bearer {admin}");
    assert_eq!(
        request(
            gw.addr,
            "DELETE",
            "/api/v1/mcp/servers/github",
            &[("authorization", &auth)],
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        get(gw.addr, "/api/v1/namespaces/team-a", admin)
            .await
            .json()["servers"],
        json!([])
    );
    assert_eq!(
        request(
            gw.addr,
            "DELETE",
            "/api/v1/namespaces/team-a",
            &[("authorization", &auth)],
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        request(
            gw.addr,
            "DELETE",
            "/api/v1/namespaces/team-a",
            &[("authorization", &auth)],
            None
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn routing_errors_cors_host_checks_and_security_headers() {
    let gw = TestGateway::start().await;
    let r = request(gw.addr, "GET", "/nope", &[], None).await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (404, Some("not_found"))
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let r = request(gw.addr, "PATCH", "/api/v1/mcp/servers/x", &[], None).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, PUT, DELETE, HEAD, OPTIONS"));
    let r = request(gw.addr, "HEAD", "/health", &[], None).await;
    assert_eq!((r.status, r.body.len()), (200, 0));
    let r = request(
        gw.addr,
        "OPTIONS",
        "/api/v1/namespaces",
        &[("origin", "http://localhost:5173")],
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert!(
        r.header("access-control-allow-headers")
            .unwrap()
            .contains("authorization")
    );
    let r = request(
        gw.addr,
        "GET",
        "/health",
        &[("origin", "https://evil.example")],
        None,
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.header("access-control-allow-origin").is_none());
    let r = request(
        gw.addr,
        "GET",
        "/health",
        &[("host", "evil.example:12009")],
        None,
    )
    .await;
    assert_eq!(r.status, 403, "DNS rebinding");
    let r = request(gw.addr, "GET", "/health", &[("host", "localhost:1")], None).await;
    assert_eq!(r.status, 200);

    let r = request(gw.addr, "GET", "/api-docs/openapi.json", &[], None).await;
    assert_eq!(r.json()["openapi"], "3.1.0");
    assert!(r.json()["paths"]["/api/v1/mcp/servers/{id}"]["put"].is_object());
    let r = request(gw.addr, "GET", "/ready", &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn metrics_count_requests_and_auth_failures() {
    let gw = TestGateway::start().await;
    request(gw.addr, "GET", "/health", &[], None).await;
    get(gw.addr, "/api/v1/namespaces", "mcp_bad").await;
    let text = request(gw.addr, "GET", "/metrics", &[], None).await.text();
    assert!(
        text.contains(
            "metamcp_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains(
        "metamcp_http_requests_total{route=\"/api/v1/namespaces\",method=\"GET\",status=\"401\"} 1"
    ));
    assert!(text.contains("metamcp_auth_failures_total{reason=\"malformed\"} 1"));
    assert!(text.contains("metamcp_http_request_duration_seconds_bucket{route=\"/health\",method=\"GET\",status=\"200\",le=\"+Inf\"} 1"));
    assert!(text.contains("metamcp_db_pool_max_size "));
}

#[tokio::test]
async fn failed_attempts_are_rate_limited_before_argon2_but_cached_keys_still_work() {
    let gw = TestGateway::start().await;
    assert_eq!(
        get(gw.addr, "/api/v1/namespaces", &gw.client_key)
            .await
            .status,
        200
    );
    let id = gw.client_key.split('_').nth(1).unwrap();
    let wrong = format!("mcp_{id}_{}", "x".repeat(40));
    // The burst: ten failures are answered 401 whatever the timing.
    for i in 0..10 {
        let r = get(gw.addr, "/api/v1/namespaces", &wrong).await;
        assert_eq!(r.status, 401, "attempt {i}");
    }
    // Failures outpace the refill (one per 2 s) from here: a 429 comes, without argon2.
    let mut limited = None;
    for _ in 0..50 {
        let r = get(gw.addr, "/api/v1/namespaces", &wrong).await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status, 401);
    }
    let r = limited.expect("a 429 within 50 further failures");
    assert!(r.header("retry-after").is_some());
    assert_eq!(r.json()["code"], "rate_limited");
    assert_eq!(
        get(gw.addr, "/api/v1/namespaces", &gw.client_key)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_client_key_cannot_tell_which_other_keys_exist() {
    let gw = TestGateway::start().await;
    let own = metamcp::store::keys::parse_key_text(&gw.client_key)
        .expect("the client key's text")
        .0;
    let admin = metamcp::store::keys::parse_key_text(&gw.admin_key)
        .expect("the admin key's text")
        .0;
    // Itself, by id or by name.
    for me in [own.as_str(), "client"] {
        let r = get(gw.addr, &format!("/api/v1/keys/{me}"), &gw.client_key).await;
        assert_eq!(r.status, 200, "{me}: {}", r.text());
        assert_eq!(r.json()["id"], own.as_str(), "{me}");
    }
    // Another key, by id or by name, and keys that do not exist (a well-formed id, a
    // name, a malformed id): one answer for all, as /api/v1/usage gives.
    let asked = [
        admin.as_str().to_string(),
        "admin".to_string(),
        "0123456789abcdef0123456789abcdef"[..own.as_str().len()].to_string(),
        "nobody".to_string(),
        "mk_0000".to_string(),
    ];
    let mut answers = Vec::new();
    for other in &asked {
        let r = get(gw.addr, &format!("/api/v1/keys/{other}"), &gw.client_key).await;
        answers.push((r.status, r.json()));
    }
    for (other, answer) in asked.iter().zip(&answers) {
        assert_eq!(answer, &answers[0], "{other} answers as {} does", asked[0]);
    }
    assert_eq!(answers[0].0, 403, "{:?}", answers[0]);
    assert_eq!(answers[0].1["code"], "forbidden", "{:?}", answers[0]);
    // /api/v1/usage answers alike for another key and for none.
    let usage: Vec<(u16, Value)> = {
        let mut v = Vec::new();
        for other in &asked[..3] {
            let r = get(
                gw.addr,
                &format!("/api/v1/usage?key={other}"),
                &gw.client_key,
            )
            .await;
            v.push((r.status, r.json()));
        }
        v
    };
    assert_eq!(usage[0].0, 403, "{:?}", usage[0]);
    assert_eq!(usage[0], usage[2], "usage: another key and none alike");
    // An admin key still learns what exists.
    assert_eq!(
        get(gw.addr, &format!("/api/v1/keys/{admin}"), &gw.admin_key)
            .await
            .status,
        200
    );
    for unknown in ["nobody", &asked[2]] {
        let r = get(gw.addr, &format!("/api/v1/keys/{unknown}"), &gw.admin_key).await;
        assert_eq!(r.status, 404, "{unknown}: {}", r.text());
    }
}

/// keyadm changes, disables, enables and restarts a server (it had no way to: a user
/// guessed a REST `PUT is_active`), and a restart starts a stdio server's process anew
/// (another pid answers `whoami`); REST restarts too, and refuses an inactive server.
#[tokio::test]
async fn keyadm_servers_set_disable_enable_and_restart() {
    let gw = TestGateway::start().await;
    gw.register(json!({"name": "pipe", "protocol": "stdio",
                       "command": env!("CARGO_BIN_EXE_mockmcp"),
                       "args": ["--transport", "stdio"]}))
        .await;
    let keyadm = |args: &'static [&'static str]| {
        let db = gw.db.clone();
        async move { crate::support::keyadm(&db, args).await }
    };
    let c = gw.client_session().await;
    // whoami answers `pid N calls M`.
    let pid = || async {
        let m = c
            .call(
                json!(1),
                "tools/call",
                json!({"name": "pipe__whoami", "arguments": {}}),
            )
            .await;
        m["result"]["content"][0]["text"]
            .as_str()
            .and_then(|t| t.split_whitespace().nth(1)?.parse::<i32>().ok())
    };
    let first = pid().await.expect("whoami answers");

    // restart: a new process, on the gateway without a REST call.
    let out = keyadm(&["servers", "restart", "pipe"]).await.unwrap();
    assert!(out.contains("restarting server pipe"), "{out}");
    let second = eventually(Duration::from_secs(15), "a new process", || async {
        pid().await.filter(|p| *p != first)
    })
    .await;
    assert_ne!(second, first);
    // Through REST as well (an admin's call), audited as keyadm's is.
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/pipe/restart",
        &gw.admin_key,
        &json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    eventually(Duration::from_secs(15), "a third process", || async {
        pid().await.filter(|p| *p != second)
    })
    .await;
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/pipe/restart",
        &gw.client_key,
        &json!({}),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());

    // set: only what is given changes.
    let out = keyadm(&["servers", "set", "pipe", "--timeout-ms", "4321", "--json"])
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["timeout_ms"].as_u64(), v["command"].as_str()),
        (Some(4321), Some(env!("CARGO_BIN_EXE_mockmcp"))),
        "{v}"
    );
    let (code, message) = keyadm(&["servers", "set", "pipe", "--url", "http://127.0.0.1:9/mcp"])
        .await
        .expect_err("a stdio server takes no url");
    assert_eq!(code, 65, "{message}");

    // disable: stopped, its tools gone; enable: back.
    let out = keyadm(&["servers", "disable", "pipe"]).await.unwrap();
    assert!(out.contains("now inactive"), "{out}");
    gw.wait_status("pipe", "stopped").await;
    eventually(Duration::from_secs(15), "its tools gone", || async {
        (!c.tool_names().await.iter().any(|t| t.starts_with("pipe__"))).then_some(())
    })
    .await;
    let out = keyadm(&["servers", "disable", "pipe"]).await.unwrap();
    assert!(out.contains("already inactive"), "{out}");
    let (code, message) = keyadm(&["servers", "restart", "pipe"])
        .await
        .expect_err("nothing runs an inactive server");
    assert_eq!(code, 1, "{message}");
    assert!(message.contains("keyadm servers enable pipe"), "{message}");
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/pipe/restart",
        &gw.admin_key,
        &json!({}),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text());
    keyadm(&["servers", "enable", "pipe"]).await.unwrap();
    gw.wait_status("pipe", "running").await;
    assert!(pid().await.is_some_and(|p| p != second));

    // Every change is on the audit trail.
    let page = get(gw.addr, "/api/v1/audit?server=pipe", &gw.admin_key)
        .await
        .json();
    let r = get(gw.addr, "/api/v1/audit", &gw.admin_key).await.json();
    let methods: Vec<&str> = r["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "change")
        .map(|e| e["method"].as_str().unwrap())
        .collect();
    for m in [
        "server.restart",
        "server.update",
        "server.disable",
        "server.enable",
    ] {
        assert!(methods.contains(&m), "{m}: {methods:?} {page}");
    }
    let (code, _) = keyadm(&["servers", "restart", "nosuch"])
        .await
        .expect_err("unknown");
    assert_ne!(code, 0);
}
