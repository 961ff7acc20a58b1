//! Upstream OAuth end to end: a real gateway, a real database, and mockmcp `--oauth` as a
//! backend that demands its own bearer tokens and is its own authorization server
//! (registration, PKCE, codes, rotated refresh tokens).

use crate::support;
use crate::support::WAIT;

use std::net::SocketAddr;
use std::time::Duration;

use crate::support::gateway::TestGateway;
use crate::support::http::{get, request, send_json};
use crate::support::mcp::{Client, next_message, text_of};
use crate::support::mock::Mock;
use crate::support::{cluster, eventually};
use serde_json::{Value, json};

/// The path and query of an absolute `http://` URL, and its address.
fn split(url: &str) -> (SocketAddr, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let authority = authority.replace("localhost", "127.0.0.1");
    (authority.parse().expect("an address"), path.to_string())
}

/// `POST /api/v1/mcp/servers/{server}/authorize` with `key`.
async fn authorize(gw: &TestGateway, server: &str, key: &str) -> support::http::Resp {
    send_json(
        gw.addr,
        "POST",
        &format!("/api/v1/mcp/servers/{server}/authorize"),
        key,
        &json!({}),
    )
    .await
}

/// Starts the authorization of `server` (admin), follows the authorization server's
/// redirect as a browser would, and returns the callback's path and query (not yet
/// visited).
async fn authorization(gw: &TestGateway, server: &str) -> String {
    let r = authorize(gw, server, &gw.admin_key).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let link = r.json()["authorization_url"].as_str().unwrap().to_string();
    let (at, path) = split(&link);
    let r = request(at, "GET", &path, &[], None).await;
    assert_eq!(r.status, 302, "{}", r.text());
    let (back, callback) = split(r.header("location").expect("a redirect"));
    assert_eq!(back, gw.addr, "the redirect comes back to the gateway");
    assert!(callback.starts_with("/oauth/callback?"), "{callback}");
    callback
}

async fn connect(gw: &TestGateway, server: &str) {
    let callback = authorization(gw, server).await;
    let r = request(gw.addr, "GET", &callback, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("Connected"), "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

async fn register(gw: &TestGateway, name: &str, mock: &Mock) {
    gw.add(json!({"name": name, "protocol": "http", "url": mock.url(), "auth": {"type": "oauth"}}))
        .await;
}

/// `DELETE /api/v1/me/connections/{server}` with `key`.
async fn disconnect(gw: &TestGateway, key: &str, server: &str) -> support::http::Resp {
    let auth = format!("Bearer {key}");
    let path = format!("/api/v1/me/connections/{server}");
    request(gw.addr, "DELETE", &path, &[("authorization", &auth)], None).await
}

async fn oauth_stats(mock: &Mock) -> Value {
    mock.control("GET", "/control/oauth").await
}

async fn echo(gw: &TestGateway, key: &str, tool: &str) -> Value {
    let mut c = Client::new(gw.addr, "/mcp", Some(key));
    c.initialize().await;
    c.call(
        json!(1),
        "tools/call",
        json!({"name": tool, "arguments": {"message": "hi"}}),
    )
    .await
}

#[tokio::test]
async fn an_admin_connects_a_shared_account_and_calls_carry_its_token() {
    let gw = TestGateway::start().await;
    let mock = Mock::start(&["--oauth"]);
    register(&gw, "guarded", &mock).await;

    // Not connected yet: the status says what to do, and calls are refused by name.
    eventually(
        Duration::from_secs(10),
        "the needs-authorization status",
        || async {
            let s = get(gw.addr, "/api/v1/mcp/servers/guarded", &gw.admin_key)
                .await
                .json();
            (s["status"] == "failed"
                && s["last_error"]
                    .as_str()
                    .unwrap_or("")
                    .contains("needs authorization"))
            .then_some(s)
        },
    )
    .await;

    // Only an admin starts an authorization.
    let r = authorize(&gw, "guarded", &gw.client_key).await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = authorize(&gw, "nope", &gw.admin_key).await;
    assert_eq!(r.status, 404, "{}", r.text());

    let callback = authorization(&gw, "guarded").await;
    // A forged state is refused, and so is the callback without one.
    let r = request(
        gw.addr,
        "GET",
        "/oauth/callback?code=x&state=forged",
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = request(gw.addr, "GET", "/oauth/callback?code=x", &[], None).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = request(gw.addr, "GET", &callback, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The state was used once: a replayed callback is refused.
    let r = request(gw.addr, "GET", &callback, &[], None).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("unknown, used or expired"),
        "{}",
        r.text()
    );

    gw.wait_status("guarded", "running").await;
    // The audit trail says who started it and that it was connected.
    eventually(Duration::from_secs(10), "the audit rows", || async {
        let a = get(gw.addr, "/api/v1/audit", &gw.admin_key).await.json();
        let methods: Vec<String> = a["entries"]
            .as_array()?
            .iter()
            .filter(|e| e["tool"] == "guarded")
            .filter_map(|e| e["method"].as_str().map(str::to_string))
            .collect();
        (methods.iter().any(|m| m == "server.authorize")
            && methods.iter().any(|m| m == "server.connect"))
        .then_some(())
    })
    .await;
    let r = echo(&gw, &gw.client_key, "guarded__echo").await;
    assert_eq!(text_of(&r["result"]), "hi", "{r}");
    let stats = oauth_stats(&mock).await;
    assert!(stats["bearer_calls"].as_u64().unwrap() >= 3, "{stats}");
    assert_eq!(stats["registered"], 1, "registered dynamically, once");
    assert_eq!(
        stats["resources"],
        json!([mock.url()]),
        "the resource indicator is the server's URL"
    );

    // The tokens are nowhere the gateway shows or stores in clear.
    let tokens: Vec<String> = stats["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    assert_eq!(tokens.len(), 2, "an access and a refresh token: {stats}");
    let shown = get(gw.addr, "/api/v1/mcp/servers/guarded", &gw.admin_key).await;
    assert_eq!(
        shown.json()["auth"],
        json!({"type": "oauth", "principal": "shared", "client_id": null, "client_secret": null, "scopes": null})
    );
    let dump = std::process::Command::new(cluster().bin_dir().join("pg_dump"))
        .arg(&gw.db.url)
        .output()
        .expect("pg_dump runs");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(
        dump.contains("upstream_tokens"),
        "the dump has the vault's table"
    );
    for t in &tokens {
        assert!(!shown.text().contains(t.as_str()));
        assert!(!dump.contains(t.as_str()), "a token in clear in pg_dump");
    }
}

#[tokio::test]
async fn expiring_tokens_are_refreshed_once_per_rotation_by_two_replicas_at_once() {
    let gw = TestGateway::start().await;
    // Tokens live 2 s: every use is within the refresh margin, so every use refreshes.
    let mock = Mock::start(&["--oauth", "--oauth-expires", "2"]);
    register(&gw, "rotating", &mock).await;

    // A second replica on the same database, waiting for the account like the first.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second = listener.local_addr().unwrap();
    let state = metamcp::app::prepare(gw.db.config())
        .await
        .expect("second replica");
    let run = tokio::spawn(metamcp::app::run(listener, state, std::future::pending()));
    let status = |addr: SocketAddr| {
        let key = gw.admin_key.clone();
        async move {
            get(addr, "/api/v1/mcp/servers/rotating", &key).await.json()["status"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    eventually(
        Duration::from_secs(20),
        "the second replica, failed",
        || async { (status(second).await == "failed").then_some(()) },
    )
    .await;

    // Connected through the first: the second uses the token within 3 s (NOTIFY wakes
    // its backend at once; its own retries would wait up to 5 s).
    connect(&gw, "rotating").await;
    gw.wait_status("rotating", "running").await;
    eventually(
        Duration::from_secs(3),
        "the second replica, running",
        || async { (status(second).await == "running").then_some(()) },
    )
    .await;

    let mut calls = Vec::new();
    for i in 0..12 {
        let addr = if i % 2 == 0 { gw.addr } else { second };
        let key = gw.client_key.clone();
        calls.push(tokio::spawn(async move {
            let mut c = Client::new(addr, "/mcp", Some(&key));
            c.initialize().await;
            c.call(
                json!(i),
                "tools/call",
                json!({"name": "rotating__echo", "arguments": {"message": "hi"}}),
            )
            .await
        }));
    }
    for c in calls {
        let r = c.await.unwrap();
        assert_eq!(text_of(&r["result"]), "hi", "{r}");
    }
    let stats = oauth_stats(&mock).await;
    assert!(stats["refreshed"].as_u64().unwrap() >= 2, "{stats}");
    assert_eq!(
        stats["reused"], 0,
        "a rotated refresh token was used twice: {stats}"
    );
    let metrics = get(gw.addr, "/metrics", &gw.admin_key).await.text();
    let refreshed = metrics
        .lines()
        .find_map(|l| l.strip_prefix("metamcp_upstream_token_refreshes_total "))
        .and_then(|v| v.parse::<u64>().ok());
    assert!(refreshed.is_some_and(|n| n >= 1), "{metrics}");
    assert!(metrics.contains("metamcp_upstream_token_refresh_failures_total 0"));
    run.abort();
}

#[tokio::test]
async fn hostile_authorization_servers_get_nothing_and_pending_consents_are_bounded() {
    let gw = TestGateway::start().await;
    // Resource metadata naming a cloud metadata address as the authorization server.
    let inward = Mock::start(&["--oauth", "--oauth-as", "http://169.254.169.254/latest"]);
    register(&gw, "inward", &inward).await;
    let r = authorize(&gw, "inward", &gw.admin_key).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("169.254.169.254"), "{}", r.text());

    // A token endpoint answering 100 MB: the callback refuses it, and the gateway
    // goes on serving.
    let huge = Mock::start(&["--oauth", "--oauth-huge-token"]);
    register(&gw, "huge", &huge).await;
    let callback = authorization(&gw, "huge").await;
    let r = request(gw.addr, "GET", &callback, &[], None).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(get(gw.addr, "/health", &gw.admin_key).await.status, 200);

    // Many authorizations started for one server's account: at most 16 wait at once,
    // the oldest going first.
    let mock = Mock::start(&["--oauth"]);
    register(&gw, "busy", &mock).await;
    let first = authorization(&gw, "busy").await;
    for _ in 0..20 {
        let r = authorize(&gw, "busy", &gw.admin_key).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let db = gw.db.client().await;
    let n: i64 = db
        .query_one(
            "SELECT count(*) FROM upstream_pending WHERE principal = 'shared'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(n <= 16, "{n} pending authorizations");
    let r = request(gw.addr, "GET", &first, &[], None).await;
    assert_eq!(r.status, 400, "the oldest was dropped: {}", r.text());

    // Static servers have nothing to authorize.
    let plain = Mock::start(&[]);
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers",
        &gw.admin_key,
        &json!({"name": "plain", "protocol": "http", "url": plain.url()}),
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["auth"], json!({"type": "static"}));
    let r = authorize(&gw, "plain", &gw.admin_key).await;
    assert_eq!((r.status, r.json()["field"].as_str()), (400, Some("auth")));
}

#[tokio::test]
async fn the_client_metadata_document_lives_under_the_public_url() {
    let gw = TestGateway::start().await;
    let r = request(gw.addr, "GET", "/oauth/client-metadata.json", &[], None).await;
    assert_eq!(r.status, 404);
    let gw = TestGateway::start_at(|c, addr| c.public_url = Some(format!("https://{addr}"))).await;
    let r = request(gw.addr, "GET", "/oauth/client-metadata.json", &[], None).await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    let public = format!("https://{}", gw.addr);
    assert_eq!(
        doc["client_id"],
        format!("{public}/oauth/client-metadata.json")
    );
    assert_eq!(
        doc["redirect_uris"],
        json!([format!("{public}/oauth/callback")])
    );
    assert_eq!(doc["token_endpoint_auth_method"], "none");
}

#[tokio::test]
async fn keyadm_prints_the_url_and_waits_for_the_account() {
    use std::io::{BufRead, BufReader};
    let gw = TestGateway::start().await;
    let mock = Mock::start(&["--oauth"]);
    register(&gw, "cli", &mock).await;
    let mut env = gw.db.env();
    env.push(("METAMCP_PUBLIC_URL", format!("http://{}", gw.addr)));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_keyadm"))
        .args(["servers", "authorize", "cli", "--json"])
        .env_clear()
        .envs(std::env::var_os("LLVM_PROFILE_FILE").map(|p| ("LLVM_PROFILE_FILE", p)))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("keyadm starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["server"], "cli");
    let (at, path) = split(first["authorization_url"].as_str().unwrap());
    let r = request(at, "GET", &path, &[], None).await;
    let (back, callback) = split(r.header("location").expect("a redirect"));
    assert_eq!(back, gw.addr);
    let r = request(gw.addr, "GET", &callback, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let done = tokio::task::spawn_blocking(move || {
        let last = lines.next().unwrap().unwrap();
        (last, child.wait().unwrap())
    })
    .await
    .unwrap();
    assert!(done.1.success());
    assert_eq!(
        serde_json::from_str::<Value>(&done.0).unwrap()["connected"],
        true
    );
    gw.wait_status("cli", "running").await;

    // Without METAMCP_PUBLIC_URL the callback has no address: said at once.
    let out = support::keyadm_bin_async(&gw.db, &["servers", "authorize", "cli"]).await;
    assert!(!out.status.success());
    assert!(
        support::stderr(&out).contains("METAMCP_PUBLIC_URL"),
        "{}",
        support::stderr(&out)
    );
}

#[tokio::test]
async fn client_credentials_need_no_consent_and_are_got_again_when_they_expire() {
    let gw = TestGateway::start().await;
    let mock = Mock::start(&["--oauth", "--oauth-expires", "2"]);
    let r = gw
        .add(
            json!({"name": "machine", "protocol": "http", "url": mock.url(),
                    "auth": {"type": "oauth_client_credentials", "client_id": "m1",
                             "client_secret": "secret-of-m1"}}),
        )
        .await;
    assert_eq!(r.json()["auth"]["client_secret"], "********");
    assert!(!r.text().contains("secret-of-m1"));
    gw.wait_status("machine", "running").await;
    for _ in 0..2 {
        let r = echo(&gw, &gw.client_key, "machine__echo").await;
        assert_eq!(text_of(&r["result"]), "hi", "{r}");
    }
    let stats = oauth_stats(&mock).await;
    assert!(
        stats["machine_grants"].as_u64().unwrap() >= 2,
        "got again near expiry: {stats}"
    );
    assert_eq!(stats["authorizations"], 0, "nobody was asked");
    assert!(
        stats["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| *r == json!(mock.url()))
    );

    // A wrong secret: the server says why, and calls are refused by name.
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/machine",
        &gw.admin_key,
        &json!({"auth": {"type": "oauth_client_credentials", "client_id": "m1", "client_secret": "wrong"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    eventually(
        Duration::from_secs(10),
        "the refused credentials in the status",
        || async {
            let s = get(gw.addr, "/api/v1/mcp/servers/machine", &gw.admin_key)
                .await
                .json();
            s["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("client credentials were not accepted"))
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn connections_are_listed_without_tokens_and_revoked_upstream() {
    let gw = TestGateway::start().await;
    let mock = Mock::start(&["--oauth"]);
    register(&gw, "linked", &mock).await;
    connect(&gw, "linked").await;
    gw.wait_status("linked", "running").await;

    let r = get(gw.addr, "/api/v1/me/connections", &gw.admin_key).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let one = get(gw.addr, "/api/v1/me/connections/linked", &gw.admin_key).await;
    assert_eq!(one.json(), r.json(), "the one server's");
    let r = get(gw.addr, "/api/v1/me/connections/nope", &gw.admin_key).await;
    assert_eq!(r.status, 404);
    let r = get(gw.addr, "/api/v1/me/connections", &gw.admin_key).await;
    let list = r.json()["connections"].clone();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(
        (
            &list[0]["server"],
            &list[0]["principal"],
            &list[0]["status"],
            &list[0]["scopes"]
        ),
        (
            &json!("linked"),
            &json!("shared"),
            &json!("connected"),
            &json!(["mcp"])
        )
    );
    assert!(list[0]["expires_at"].is_string());
    let stats = oauth_stats(&mock).await;
    for t in stats["tokens"].as_array().unwrap() {
        assert!(!r.text().contains(t.as_str().unwrap()));
    }
    // A client key sees its own connections only (the shared account is not one).
    let r = get(gw.addr, "/api/v1/me/connections", &gw.client_key).await;
    assert_eq!(r.json()["connections"], json!([]));
    let r = disconnect(&gw, &gw.client_key, "linked").await;
    assert_eq!(r.status, 404, "{}", r.text());

    // The admin disconnects it: revoked at the authorization server, gone here.
    let r = disconnect(&gw, &gw.admin_key, "linked").await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(oauth_stats(&mock).await["revoked"].as_u64().unwrap() >= 1);
    let r = get(gw.addr, "/api/v1/me/connections", &gw.admin_key).await;
    assert_eq!(r.json()["connections"], json!([]));
    // Calls now say whom to ask, by name.
    let r = echo(&gw, &gw.client_key, "linked__echo").await;
    assert_eq!(r["error"]["code"], -32051, "{r}");
    assert_eq!(r["error"]["data"]["server"], "linked");
    // A 2026-07-28 client is told the same with the gateway's code outside
    // -32768..-32000 (docs/reference/errors.md).
    let modern = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let m = support::mcp::response_message(
        &modern
            .post_stateless(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "linked__echo", "arguments": {"message": "hi"},
                           "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                     "io.modelcontextprotocol/clientCapabilities": {}}}}))
            .await,
    );
    assert_eq!(m["error"]["code"], -31051, "{m}");
    assert_eq!(m["error"]["data"]["server"], "linked", "{m}");
    assert_eq!(
        r["error"]["data"]["authorize"],
        "/api/v1/mcp/servers/linked/authorize"
    );
    let r = disconnect(&gw, &gw.admin_key, "linked").await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn keyadm_lists_and_revokes_connections() {
    let gw = TestGateway::start().await;
    let mock = Mock::start(&["--oauth"]);
    register(&gw, "kc", &mock).await;
    connect(&gw, "kc").await;
    let out = support::keyadm_bin_async(&gw.db, &["connections", "list", "--json"]).await;
    assert!(out.status.success(), "{}", support::stderr(&out));
    let list: Value = serde_json::from_str(&support::stdout(&out)).unwrap();
    assert_eq!(list[0]["server"], "kc");
    assert_eq!(list[0]["status"], "connected");
    let stats = oauth_stats(&mock).await;
    for t in stats["tokens"].as_array().unwrap() {
        assert!(!support::stdout(&out).contains(t.as_str().unwrap()));
    }
    let out = support::keyadm_bin_async(&gw.db, &["connections", "revoke", "kc"]).await;
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert!(oauth_stats(&mock).await["revoked"].as_u64().unwrap() >= 1);
    // The gateway learns of it at once (NOTIFY) and stops using the token.
    eventually(
        Duration::from_secs(10),
        "the call refused for want of the account",
        || async {
            let r = echo(&gw, &gw.client_key, "kc__echo").await;
            (r["error"]["code"] == -32051).then_some(())
        },
    )
    .await;
    let out = support::keyadm_bin_async(&gw.db, &["connections", "revoke", "kc"]).await;
    assert!(!out.status.success());
    let out = support::keyadm_bin_async(&gw.db, &["connections", "list"]).await;
    assert!(
        support::stdout(&out).contains("SERVER"),
        "{}",
        support::stdout(&out)
    );
}

/// Follows an authorization URL as `user` would in a browser (the mock's authorization
/// server signs them in as the `user` parameter says) to the gateway's callback, and
/// visits it.
async fn consent_as(gw: &TestGateway, link: &str, user: &str) {
    let (at, path) = split(link);
    let r = request(at, "GET", &format!("{path}&user={user}"), &[], None).await;
    assert_eq!(r.status, 302, "{}", r.text());
    let (back, callback) = split(r.header("location").expect("a redirect"));
    assert_eq!(back, gw.addr, "the redirect comes back to the gateway");
    let r = request(gw.addr, "GET", &callback, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A state works once.
    let r = request(gw.addr, "GET", &callback, &[], None).await;
    assert_eq!(r.status, 400, "{}", r.text());
}

/// A per-caller server: every key connects an account of its own and each call goes
/// with its caller's token. The first caller connects over REST; a 2026-07-28 client
/// is sent to the page as a URL input request and its retry goes through; a session
/// client that declared URL elicitation is asked on the call's stream and its call goes
/// on once the account is connected; any other client gets -32051 with the URL. Nobody
/// ever gets another caller's account, and revoking one leaves the others.
#[tokio::test]
async fn each_caller_connects_their_own_account_and_sees_only_their_own() {
    use metamcp::store::keys::Scope;
    use support::gateway::{create_key, key_store};
    let gw = TestGateway::with_public_url().await;
    let mock = Mock::start(&["--oauth"]);
    let r = gw
        .add(
            json!({"name": "mine", "protocol": "http", "url": mock.url(),
                "auth": {"type": "oauth", "principal": "caller"}}),
        )
        .await;
    assert_eq!(r.json()["auth"]["principal"], "caller");
    let store = key_store(&gw.db);
    let bob = create_key(&store, "bob", Scope::Client, &[]).await;
    let carol = create_key(&store, "carol", Scope::Client, &[]).await;
    let dave = create_key(&store, "dave", Scope::Client, &[]).await;

    // Nobody has connected: the status says how.
    eventually(Duration::from_secs(10), "the status", || async {
        let s = get(gw.addr, "/api/v1/mcp/servers/mine", &gw.admin_key)
            .await
            .json();
        s["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("/api/v1/me/connections/mine"))
            .then_some(())
    })
    .await;
    // An admin does not authorize it for everyone, and keyadm says why.
    let r = authorize(&gw, "mine", &gw.admin_key).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("/api/v1/me/connections/mine"),
        "{}",
        r.text()
    );

    // The first caller connects over REST.
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/me/connections/mine",
        &gw.client_key,
        &json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    consent_as(
        &gw,
        r.json()["authorization_url"].as_str().unwrap(),
        "alice",
    )
    .await;
    gw.wait_status("mine", "running").await;
    let alice_says = || async { text_of(&echo_account(&gw, &gw.client_key).await["result"]) };
    let first = echo_account(&gw, &gw.client_key).await;
    assert_eq!(text_of(&first["result"]), "alice", "{first}");

    // A 2026-07-28 client without an account is sent to the page; its retry goes on.
    let c = Client::new(gw.addr, "/mcp", Some(&bob));
    let first = support::mcp::call_declaring_url_2026(1, "mine__account");
    let m = support::mcp::response_message(&c.post_stateless(&first).await);
    let (key, ask) = support::mcp::only_question(&m);
    assert_eq!(ask["method"], "elicitation/create");
    assert_eq!(ask["params"]["mode"], "url");
    assert!(ask["params"].get("elicitationId").is_none(), "{ask}");
    consent_as(&gw, ask["params"]["url"].as_str().unwrap(), "bob").await;
    let mut again = first.clone();
    again["id"] = json!(2);
    again["params"]["inputResponses"] = json!({key: {"action": "accept"}});
    again["params"]["requestState"] = m["result"]["requestState"].clone();
    let m = support::mcp::response_message(&c.post_stateless(&again).await);
    assert_eq!(text_of(&m["result"]), "bob", "{m}");

    // A session client that declared URL elicitation is asked on the call's stream.
    let (s, mut rx) = call_declaring_url(&gw, &carol, "mine__account", 7).await;
    let q = next_message(&mut rx, WAIT).await;
    assert_eq!(q["method"], "elicitation/create", "{q}");
    assert_eq!(q["params"]["mode"], "url");
    let elicitation = q["params"]["elicitationId"].clone();
    assert!(elicitation.is_string(), "{q}");
    let reply = json!({"jsonrpc": "2.0", "id": q["id"], "result": {"action": "accept"}});
    assert_eq!(s.post(&reply).await.status, 202);
    consent_as(&gw, q["params"]["url"].as_str().unwrap(), "carol").await;
    let done = next_message(&mut rx, WAIT).await;
    assert_eq!(
        done["method"], "notifications/elicitation/complete",
        "{done}"
    );
    assert_eq!(done["params"]["elicitationId"], elicitation);
    let answer = next_message(&mut rx, WAIT).await;
    assert_eq!(answer["id"], 7, "{answer}");
    assert_eq!(text_of(&answer["result"]), "carol", "{answer}");

    // A client that cannot be asked gets the URL in an error naming the server.
    let m = echo_account(&gw, &dave).await;
    assert_eq!(m["error"]["code"], -32051, "{m}");
    assert_eq!(m["error"]["data"]["server"], "mine");
    assert!(
        m["error"]["data"]["url"]
            .as_str()
            .is_some_and(|u| u.contains("state=")),
        "{m}"
    );

    // Each sees their own; nobody's token is shown.
    assert_eq!(alice_says().await, "alice");
    let mine = get(gw.addr, "/api/v1/me/connections", &bob).await.json();
    let list = mine["connections"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{mine}");
    assert!(list[0]["principal"].as_str().unwrap().starts_with("key:"));
    let all = get(gw.addr, "/api/v1/me/connections?server=mine", &gw.admin_key).await;
    assert_eq!(
        all.json()["connections"].as_array().unwrap().len(),
        3,
        "{}",
        all.text()
    );
    for token in oauth_stats(&mock).await["tokens"].as_array().unwrap() {
        assert!(!all.text().contains(token.as_str().unwrap()));
    }

    // Bob ends his: he is asked again, and the others keep theirs.
    assert_eq!(disconnect(&gw, &bob, "mine").await.status, 204);
    let m = support::mcp::response_message(&c.post_stateless(&first).await);
    assert_eq!(m["result"]["resultType"], "input_required", "{m}");
    assert_eq!(alice_says().await, "alice");
    // Only an admin names another key.
    let path = "/api/v1/me/connections/mine?key=0123456789abcdef";
    let auth = format!("Bearer {carol}");
    let r = request(gw.addr, "DELETE", path, &[("authorization", &auth)], None).await;
    assert_eq!(r.status, 403, "{}", r.text());
    // keyadm ends one caller's, by key id.
    let theirs = get(gw.addr, "/api/v1/me/connections", &carol).await.json();
    let principal = theirs["connections"][0]["principal"].as_str().unwrap();
    let id = principal.strip_prefix("key:").unwrap().to_string();
    let out =
        support::keyadm_bin_async(&gw.db, &["connections", "list", "--key", &id, "--json"]).await;
    assert!(
        support::stdout(&out).contains(principal),
        "{}",
        support::stdout(&out)
    );
    let out =
        support::keyadm_bin_async(&gw.db, &["connections", "revoke", "mine", "--key", &id]).await;
    assert!(out.status.success(), "{}", support::stderr(&out));
    let theirs = get(gw.addr, "/api/v1/me/connections", &carol).await.json();
    assert_eq!(theirs["connections"], json!([]));
    assert_eq!(alice_says().await, "alice");
}

async fn echo_account(gw: &TestGateway, key: &str) -> Value {
    let mut c = Client::new(gw.addr, "/mcp", Some(key));
    c.initialize().await;
    c.call(
        json!(1),
        "tools/call",
        json!({"name": "mine__account", "arguments": {}}),
    )
    .await
}

/// `{{caller.secret}}`: a server that takes an API token of each caller's own. A caller
/// sets theirs over REST, or on the gateway's page when a call asks them to (URL
/// elicitation); each call carries its caller's secret only; the page's state works once;
/// the secrets are sealed (not in pg_dump) and never shown.
#[tokio::test]
async fn each_caller_sets_their_own_secret() {
    use metamcp::store::keys::Scope;
    use support::gateway::{create_key, key_store};
    let gw = TestGateway::with_public_url().await;
    let mock = Mock::start(&["--accounts"]);
    gw.add(
        json!({"name": "keyed", "protocol": "http", "url": mock.url(),
                "headers": {"Authorization": "Bearer {{caller.secret}}", "X-Team": "blue"}}),
    )
    .await;
    // Not with oauth, not for legacy SSE.
    for (bad, field) in [
        (
            json!({"name": "k2", "protocol": "http", "url": mock.url(), "auth": {"type": "oauth"},
                "headers": {"X-Key": "{{caller.secret}}"}}),
            "headers",
        ),
        (
            json!({"name": "k3", "protocol": "sse", "url": mock.url(),
                "headers": {"X-Key": "{{caller.secret}}"}}),
            "auth",
        ),
    ] {
        let r = send_json(gw.addr, "POST", "/api/v1/mcp/servers", &gw.admin_key, &bad).await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.json()["field"], field, "{}", r.text());
    }
    let store = key_store(&gw.db);
    let carol = create_key(&store, "carol", Scope::Client, &[]).await;
    let dave = create_key(&store, "dave", Scope::Client, &[]).await;
    let put = async |key: &str, secret: &str| {
        send_json(
            gw.addr,
            "PUT",
            "/api/v1/me/connections/keyed",
            key,
            &json!({"secret": secret}),
        )
        .await
    };
    let r = put(&gw.client_key, "bad\u{1}secret").await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(put(&gw.client_key, "bob-token").await.status, 204);
    gw.wait_status("keyed", "running").await;
    let account = async |key: &str| {
        let mut c = Client::new(gw.addr, "/mcp", Some(key));
        c.initialize().await;
        c.call(
            json!(1),
            "tools/call",
            json!({"name": "keyed__account", "arguments": {}}),
        )
        .await
    };
    assert_eq!(
        text_of(&account(&gw.client_key).await["result"]),
        "Bearer bob-token"
    );

    // Carol's session client is sent to the gateway's page, sets hers there, and her
    // call goes on.
    let (s, mut rx) = call_declaring_url(&gw, &carol, "keyed__account", 3).await;
    let q = next_message(&mut rx, WAIT).await;
    assert_eq!(q["method"], "elicitation/create", "{q}");
    let link = q["params"]["url"].as_str().unwrap().to_string();
    let (at, path) = split(&link);
    assert_eq!(at, gw.addr);
    assert!(path.starts_with("/oauth/secret?state="), "{path}");
    let form = request(gw.addr, "GET", &path, &[], None).await;
    assert_eq!(form.status, 200, "{}", form.text());
    assert!(form.text().contains("keyed") && form.text().contains("type=password"));
    assert_eq!(form.header("cache-control"), Some("no-store"));
    let state = path.split("state=").nth(1).unwrap().to_string();
    let save = async |body: String| {
        request(
            gw.addr,
            "POST",
            "/oauth/secret",
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(body.as_bytes()),
        )
        .await
    };
    let r = save(format!("state={state}&secret=carol-token")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The page's state works once, and a forged one not at all.
    assert_eq!(
        save(format!("state={state}&secret=mallory")).await.status,
        400
    );
    assert_eq!(save("state=forged&secret=mallory".into()).await.status, 400);
    assert_eq!(
        request(gw.addr, "GET", "/oauth/secret?state=forged", &[], None)
            .await
            .status,
        400
    );
    let reply = json!({"jsonrpc": "2.0", "id": q["id"], "result": {"action": "accept"}});
    assert_eq!(s.post(&reply).await.status, 202);
    let done = next_message(&mut rx, WAIT).await;
    assert_eq!(
        done["method"], "notifications/elicitation/complete",
        "{done}"
    );
    let answer = next_message(&mut rx, WAIT).await;
    assert_eq!(text_of(&answer["result"]), "Bearer carol-token", "{answer}");

    // A client that cannot be asked gets the page's address.
    let m = account(&dave).await;
    assert_eq!(m["error"]["code"], -32051, "{m}");
    assert!(
        m["error"]["data"]["url"]
            .as_str()
            .is_some_and(|u| u.contains("/oauth/secret?state="))
    );
    // Each call carries its own caller's secret.
    assert_eq!(
        text_of(&account(&gw.client_key).await["result"]),
        "Bearer bob-token"
    );
    assert_eq!(
        text_of(&account(&carol).await["result"]),
        "Bearer carol-token"
    );

    // Listed without the secret; sealed in the database.
    let listed = get(gw.addr, "/api/v1/me/connections", &carol).await;
    assert_eq!(
        listed.json()["connections"].as_array().map(Vec::len),
        Some(1)
    );
    assert!(!listed.text().contains("carol-token"));
    let shown = get(gw.addr, "/api/v1/mcp/servers/keyed", &gw.admin_key).await;
    assert!(!shown.text().contains("carol-token") && !shown.text().contains("bob-token"));
    let dump = std::process::Command::new(cluster().bin_dir().join("pg_dump"))
        .arg(&gw.db.url)
        .output()
        .expect("pg_dump runs");
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.contains("upstream_tokens"));
    assert!(!dump.contains("carol-token") && !dump.contains("bob-token"));
    // One key asking again and again holds at most 16 pages at once, the oldest going.
    let principal = listed.json()["connections"][0]["principal"]
        .as_str()
        .unwrap()
        .to_string();
    let mut first = None;
    for _ in 0..40 {
        let r = send_json(
            gw.addr,
            "POST",
            "/api/v1/me/connections/keyed",
            &carol,
            &json!({}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        first.get_or_insert(r.json()["authorization_url"].as_str().unwrap().to_string());
    }
    let db = gw.db.client().await;
    let n: i64 = db
        .query_one(
            "SELECT count(*) FROM upstream_pending WHERE principal = $1",
            &[&principal],
        )
        .await
        .unwrap()
        .get(0);
    assert!((1..=16).contains(&n), "{n} pages waiting for one key");
    let (_, oldest) = split(&first.unwrap());
    assert_eq!(
        request(gw.addr, "GET", &oldest, &[], None).await.status,
        400
    );
    // A server without the placeholder takes no secret.
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/me/connections/nope",
        &carol,
        &json!({"secret": "x"}),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());

    // Dave sets his from the command line, on stdin.
    let url = format!("http://{}/mcp", gw.addr);
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mcpc"))
            .args([
                "--url",
                url.as_str(),
                "--key",
                dave.as_str(),
                "auth",
                "set",
                "keyed",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"dave-token\n")
            .unwrap();
        (child.wait_with_output().unwrap(), dave)
    })
    .await
    .unwrap();
    assert!(out.0.status.success(), "{}", support::stderr(&out.0));
    assert_eq!(
        text_of(&account(&out.1).await["result"]),
        "Bearer dave-token"
    );
}

/// A session client of `key` that declared URL elicitation calls `tool` (request `id`):
/// the client (to answer on), and the messages of the call's stream as they come.
async fn call_declaring_url(
    gw: &TestGateway,
    key: &str,
    tool: &str,
    id: u64,
) -> (Client, tokio::sync::mpsc::UnboundedReceiver<Value>) {
    let mut s = Client::new(gw.addr, "/mcp", Some(key));
    s.initialize_with(json!({"elicitation": {"form": {}, "url": {}}}))
        .await;
    let auth = format!("Bearer {key}");
    let sid = s.session.clone().unwrap();
    let headers = [
        ("authorization", auth.as_str()),
        ("mcp-session-id", sid.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                      "params": {"name": tool, "arguments": {}}});
    let rx = support::mcp::post_streaming(gw.addr, "/mcp", &headers, &call).await;
    (s, rx)
}

/// `{{caller.secret}}` in a stdio server's env: each caller's calls go to a child of
/// their own, started with their own secret (another caller's never), whatever their
/// sessions; a caller without one is sent to set it; a changed secret gets a new child.
#[tokio::test]
async fn a_stdio_server_runs_a_child_per_caller_with_their_own_secret() {
    use metamcp::store::keys::Scope;
    use support::gateway::{create_key, key_store};
    let gw = TestGateway::with_public_url().await;
    gw.add(
        json!({"name": "local", "protocol": "stdio", "command": env!("CARGO_BIN_EXE_mockmcp"),
                "args": ["--transport", "stdio"],
                "env": {"MOCK_SECRET": "{{caller.secret}}", "MOCK_PLAIN": "same"}}),
    )
    .await;
    let carol = create_key(&key_store(&gw.db), "carol", Scope::Client, &[]).await;
    let put = async |key: &str, secret: &str| {
        let path = "/api/v1/me/connections/local";
        let r = send_json(gw.addr, "PUT", path, key, &json!({"secret": secret})).await;
        assert_eq!(r.status, 204, "{}", r.text());
    };
    let env_of = async |key: &str, name: &str| {
        let mut c = Client::new(gw.addr, "/mcp", Some(key));
        c.initialize().await;
        c.call(
            json!(1),
            "tools/call",
            json!({"name": "local__env", "arguments": {"name": name}}),
        )
        .await
    };
    let value = |m: &Value| -> Value {
        serde_json::from_str::<Value>(&text_of(&m["result"])).expect("the env tool's JSON")["value"]
            .clone()
    };
    put(&gw.client_key, "bob-s").await;
    gw.wait_status("local", "running").await;
    assert_eq!(value(&env_of(&gw.client_key, "MOCK_SECRET").await), "bob-s");
    assert_eq!(value(&env_of(&gw.client_key, "MOCK_PLAIN").await), "same");
    // Carol has none: she is sent to set it, then has her own child.
    let m = env_of(&carol, "MOCK_SECRET").await;
    assert_eq!(m["error"]["code"], -32051, "{m}");
    assert!(
        m["error"]["data"]["url"]
            .as_str()
            .is_some_and(|u| u.contains("/oauth/secret?state="))
    );
    put(&carol, "carol-s").await;
    assert_eq!(value(&env_of(&carol, "MOCK_SECRET").await), "carol-s");
    assert_eq!(value(&env_of(&gw.client_key, "MOCK_SECRET").await), "bob-s");
    // One child per caller, however many sessions they opened.
    let shown = get(gw.addr, "/api/v1/mcp/servers/local", &gw.admin_key)
        .await
        .json();
    assert_eq!(shown["instances"], 2, "{shown}");
    // A new secret, a new child.
    put(&gw.client_key, "bob-2").await;
    assert_eq!(value(&env_of(&gw.client_key, "MOCK_SECRET").await), "bob-2");
    let shown = get(gw.addr, "/api/v1/mcp/servers/local", &gw.admin_key)
        .await
        .json();
    assert_eq!(shown["instances"], 2, "{shown}");
}

/// Calls waiting for their caller's consent are bounded per caller: a fifth one is
/// refused at once, naming why, and the four waiting go on when the secret is set.
#[tokio::test]
async fn calls_waiting_for_a_callers_consent_are_bounded() {
    let gw = TestGateway::with_public_url().await;
    let mock = Mock::start(&["--accounts"]);
    gw.add(
        json!({"name": "keyed", "protocol": "http", "url": mock.url(),
                "headers": {"Authorization": "Bearer {{caller.secret}}"}}),
    )
    .await;
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/me/connections/keyed",
        &gw.admin_key,
        &json!({"secret": "a"}),
    )
    .await;
    assert_eq!(r.status, 204);
    gw.wait_status("keyed", "running").await;
    let mut calls = Vec::new();
    for id in 0..5u64 {
        let (s, mut rx) = call_declaring_url(&gw, &gw.client_key, "keyed__account", id).await;
        let q = next_message(&mut rx, WAIT).await;
        assert_eq!(q["method"], "elicitation/create", "{q}");
        let reply = json!({"jsonrpc": "2.0", "id": q["id"], "result": {"action": "accept"}});
        assert_eq!(s.post(&reply).await.status, 202);
        calls.push((s, rx));
    }
    // The fifth to accept finds four waiting already.
    let (_, last) = calls.last_mut().unwrap();
    let refused = next_message(last, WAIT).await;
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    assert!(
        text_of(&refused["result"]).contains("too many calls wait"),
        "{refused}"
    );
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/me/connections/keyed",
        &gw.client_key,
        &json!({"secret": "mine"}),
    )
    .await;
    assert_eq!(r.status, 204);
    for (_, rx) in calls.iter_mut().take(4) {
        let done = next_message(rx, WAIT).await;
        assert_eq!(
            done["method"], "notifications/elicitation/complete",
            "{done}"
        );
        let answer = next_message(rx, WAIT).await;
        assert_eq!(text_of(&answer["result"]), "Bearer mine", "{answer}");
    }
}

/// A key limited to one namespace learns nothing of the servers outside it: asking for
/// its connection with one of them reads exactly as asking for a server that does not
/// exist (404, the same words), on every connection route.
#[tokio::test]
async fn servers_outside_a_limited_keys_reach_read_as_absent() {
    use metamcp::store::keys::Scope;
    use support::gateway::{create_key, key_store};
    let gw = TestGateway::start().await;
    let (inside, outside) = (Mock::start(&[]), Mock::start(&[]));
    gw.add(json!({"name": "inside", "protocol": "http", "url": inside.url()}))
        .await;
    gw.add(json!({"name": "hidden", "protocol": "http", "url": outside.url()}))
        .await;
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/namespaces",
        &gw.admin_key,
        &json!({"name": "team", "servers": ["inside"]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let limited = create_key(&key_store(&gw.db), "limited", Scope::Client, &["team"]).await;
    let ask = async |method: &str, path: String| {
        let r = request(
            gw.addr,
            method,
            &path,
            &[("authorization", &format!("Bearer {limited}"))],
            None,
        )
        .await;
        (r.status, r.text())
    };
    for (method, path) in [
        ("GET", "/api/v1/me/connections?server={}"),
        ("GET", "/api/v1/me/connections/{}"),
        ("DELETE", "/api/v1/me/connections/{}"),
    ] {
        let hidden = ask(method, path.replace("{}", "hidden")).await;
        let absent = ask(method, path.replace("{}", "nosuch")).await;
        assert_eq!(hidden.0, 404, "{method} {path}: {hidden:?}");
        assert_eq!(
            hidden.1.replace("hidden", "X"),
            absent.1.replace("nosuch", "X"),
            "{method} {path}"
        );
    }
    // Its own namespace's server is there.
    let own = ask("GET", "/api/v1/me/connections/inside".into()).await;
    assert_eq!(own.0, 200, "{own:?}");
}

/// An admin moves a connected OAuth server's url to another origin: the token issued
/// for the old resource (RFC 8707) is dropped in the same change, which says so, and the
/// new host never sees it: the server waits for its account to be connected again.
#[tokio::test]
async fn a_url_moved_to_another_origin_takes_no_token_along() {
    let gw = TestGateway::start().await;
    let old = Mock::start(&["--oauth"]);
    register(&gw, "moving", &old).await;
    connect(&gw, "moving").await;
    gw.wait_status("moving", "running").await;
    let new = Mock::start(&[]);
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/moving",
        &gw.admin_key,
        &json!({"url": new.url()}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let warned = r.json()["warnings"].to_string();
    assert!(warned.contains("token"), "{}", r.text());
    let r = get(
        gw.addr,
        "/api/v1/me/connections?server=moving",
        &gw.admin_key,
    )
    .await;
    assert_eq!(r.json()["connections"], json!([]), "{}", r.text());
    // The gateway has tried the new host, and is waiting for an account.
    eventually(
        Duration::from_secs(10),
        "the moved server to want an account",
        || async {
            let s = get(gw.addr, "/api/v1/mcp/servers/moving", &gw.admin_key)
                .await
                .json();
            (s["status"] != "running" && s["status"] != "starting").then_some(())
        },
    )
    .await;
    // Asked directly, the new host has seen no authorization header at all.
    let mut direct = Client::new(
        format!(
            "127.0.0.1:{}",
            new.url()
                .split(':')
                .nth(2)
                .unwrap()
                .trim_end_matches("/mcp")
        )
        .parse()
        .unwrap(),
        "/mcp",
        None,
    );
    direct.initialize().await;
    let seen = direct
        .result(
            "tools/call",
            json!({"name": "env", "arguments": {"name": "NONE"}}),
        )
        .await;
    let said: Value = serde_json::from_str(text_of(&seen).as_str()).unwrap();
    assert_eq!(said["authorization"], Value::Null, "{said}");
}

/// The same move raced against calls: callers keep calling the server while an admin
/// moves its url, round after round. The token is bound to the origin it was issued for
/// and checked as each request is built, so whatever a request, a reconnect or a cache
/// has in hand at that moment, the new host never receives it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_never_reaches_a_moved_servers_new_origin_whatever_the_timing() {
    let gw = TestGateway::start().await;
    for round in 0..4 {
        let name = format!("racing{round}");
        let old = Mock::start(&["--oauth"]);
        register(&gw, &name, &old).await;
        connect(&gw, &name).await;
        gw.wait_status(&name, "running").await;
        let new = Mock::start(&[]);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let callers: Vec<_> = (0..4)
            .map(|_| {
                let (addr, key, tool, stop) = (
                    gw.addr,
                    gw.admin_key.clone(),
                    format!("{name}__echo"),
                    stop.clone(),
                );
                tokio::spawn(async move {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let c = Client::new(addr, "/mcp", Some(&key));
                        let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                          "io.modelcontextprotocol/clientCapabilities": {}});
                        let _ = c
                            .post_stateless(&json!({"jsonrpc": "2.0", "id": 1,
                                "method": "tools/call", "params": {"name": tool,
                                "arguments": {"message": "hi"}, "_meta": meta}}))
                            .await;
                    }
                })
            })
            .collect();
        let r = send_json(
            gw.addr,
            "PUT",
            &format!("/api/v1/mcp/servers/{name}"),
            &gw.admin_key,
            &json!({"url": new.url()}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        // Calls go on until the gateway has tried the new host and wants an account.
        eventually(
            Duration::from_secs(30),
            "the moved server to want an account",
            || async {
                let s = get(
                    gw.addr,
                    &format!("/api/v1/mcp/servers/{name}"),
                    &gw.admin_key,
                )
                .await
                .json();
                (s["status"] != "running" && s["status"] != "starting").then_some(())
            },
        )
        .await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for c in callers {
            c.await.unwrap();
        }
        let seen = new.control("GET", "/control/stats").await;
        assert_eq!(seen["authorized"], 0, "round {round}: {seen}");
    }
}

/// The move while this process's change listener is behind (its reads of the database
/// slow: here it waits on a lock, reading a key that changed). The PUT's own reload
/// reconnects the server at once, before the listener hears that the token was dropped,
/// so the vault's memory still holds the token issued for the old origin. The new host
/// still never receives it, and the server waits for its account to be connected again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_never_reaches_a_moved_servers_new_origin_while_the_change_listener_lags() {
    let gw = TestGateway::start().await;
    let old = Mock::start(&["--oauth"]);
    register(&gw, "lagging", &old).await;
    connect(&gw, "lagging").await;
    gw.wait_status("lagging", "running").await;
    let new = Mock::start(&[]);
    // The listener is given a key change to read, and the keys' table is locked.
    let mut locker = gw.db.client().await;
    let lock = locker.transaction().await.unwrap();
    lock.batch_execute("LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let watcher = gw.db.client().await;
    let (client_id, _) = metamcp::store::keys::parse_key_text(&gw.client_key).unwrap();
    let change = json!({"table": "api_keys", "op": "update", "id": client_id.as_str()});
    watcher
        .execute(
            "SELECT pg_notify($1, $2)",
            &[&metamcp::store::db::CHANGES_CHANNEL, &change.to_string()],
        )
        .await
        .unwrap();
    eventually(
        Duration::from_secs(10),
        "the change listener to wait on the lock",
        || async {
            let row = watcher
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE datname = current_database() AND wait_event_type = 'Lock'
                       AND query LIKE 'SELECT %FROM api_keys WHERE id = $1%'",
                    &[],
                )
                .await
                .ok()?;
            (row.get::<_, i64>(0) > 0).then_some(())
        },
    )
    .await;
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        send_json(
            gw.addr,
            "PUT",
            "/api/v1/mcp/servers/lagging",
            &gw.admin_key,
            &json!({"url": new.url()}),
        ),
    )
    .await
    .expect("the PUT answers while the listener waits");
    assert_eq!(r.status, 200, "{}", r.text());
    // The moved server has been tried against the new host (or refused to be).
    let status = eventually(
        Duration::from_secs(10),
        "the moved server tried",
        || async {
            let s = get(gw.addr, "/api/v1/mcp/servers/lagging", &gw.admin_key)
                .await
                .json();
            (s["status"] != "starting").then(|| s["status"].clone())
        },
    )
    .await;
    let seen = new.control("GET", "/control/stats").await;
    assert_eq!(
        seen["authorized"], 0,
        "the old token reached the new host: {seen}"
    );
    assert_ne!(status, "running", "it connected without its account");
    // The listener catches up; still nothing reached the new host.
    lock.rollback().await.unwrap();
    let seen = new.control("GET", "/control/stats").await;
    assert_eq!(seen["authorized"], 0, "{seen}");
}

/// `workload_identity` (SEP-1933): the workload's JWT, read from its file at each grant,
/// is the grant; a file that stops holding a JWT is named in the call's error, its text
/// never shown there or in the server's status.
#[tokio::test]
async fn a_workload_identity_is_read_from_its_file_at_each_grant_and_a_non_jwt_is_not_shown() {
    let gw = TestGateway::start().await;
    let mock = Mock::start(&["--oauth", "--oauth-expires", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    let b64 = |v: &serde_json::Value| metamcp::crypto::base64url(v.to_string().as_bytes());
    let jwt = format!(
        "{}.{}.c2ln",
        b64(&json!({"alg": "ES256"})),
        b64(&json!({"sub": "workload-1", "aud": "x"}))
    );
    std::fs::write(&file, format!("{jwt}\n")).unwrap();
    let r = gw
        .add(
            json!({"name": "workload", "protocol": "http", "url": mock.url(),
                    "auth": {"type": "workload_identity",
                             "assertion_file": file.to_string_lossy()}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    gw.wait_status("workload", "running").await;
    let r = echo(&gw, &gw.client_key, "workload__echo").await;
    assert_eq!(text_of(&r["result"]), "hi", "{r}");
    let stats = oauth_stats(&mock).await;
    assert!(stats["machine_grants"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(stats["authorizations"], 0, "nobody was asked");

    // The file now holds something else: the next grant is refused before any request,
    // and the status names the file, not what is in it.
    std::fs::write(&file, "root:secret-of-the-host:19000:0:99999\n").unwrap();
    eventually(
        Duration::from_secs(15),
        "the call refused, naming the file",
        || async {
            let r = echo(&gw, &gw.client_key, "workload__echo").await;
            let s = get(gw.addr, "/api/v1/mcp/servers/workload", &gw.admin_key).await;
            assert!(
                !r.to_string().contains("secret-of-the-host")
                    && !s.text().contains("secret-of-the-host"),
                "{r} {}",
                s.text()
            );
            r["error"]["message"]
                .as_str()
                .is_some_and(|e| e.contains("is not a JWT"))
                .then_some(())
        },
    )
    .await;
}
