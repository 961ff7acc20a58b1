//! Regression tests for what an independent attack found (issue 9): each test fails on
//! the code before the fix. Real sockets, a real PostgreSQL, real mockmcp backends.

use crate::support;

use std::time::{Duration, Instant};

use crate::support::gateway::{TestGateway, create_key, key_store};
use crate::support::http::{get, request, send_json};
use crate::support::mcp::Client;
use crate::support::mock::Mock;
use metamcp::store::keys::Scope;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Whether the server closes `s` within `within` (reading and discarding what it sends).
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = Vec::new();
    tokio::time::timeout(within, s.read_to_end(&mut buf))
        .await
        .is_ok()
}

/// `/health`'s status within `within`; 0 when it is not answered in time or its
/// connection is closed unanswered (the gateway has not yet seen a slot come free).
async fn health_within(gw: &TestGateway, within: Duration) -> u16 {
    tokio::time::timeout(
        within,
        support::http::try_request(gw.addr, "GET", "/health", &[], None),
    )
    .await
    .ok()
    .and_then(Result::ok)
    .map_or(0, |r| r.status)
}

#[tokio::test]
async fn silent_connections_cannot_lock_anyone_out() {
    let gw = TestGateway::start_with(|c| {
        c.max_connections = 8;
        c.header_timeout = Duration::from_millis(800);
    })
    .await;
    // Every slot taken by connections that never send a byte, or only the start of the
    // HTTP/2 preface (so protocol detection itself waits).
    let mut silent = Vec::new();
    for i in 0..8 {
        let mut s = TcpStream::connect(gw.addr).await.unwrap();
        if i % 2 == 1 {
            s.write_all(b"PRI * HT").await.unwrap();
        }
        silent.push(s);
    }
    // A real client is served at once: an idle connection gives way to it.
    let t0 = Instant::now();
    assert_eq!(health_within(&gw, Duration::from_secs(3)).await, 200);
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    // And every silent connection is closed once the idle limit passes, never later
    // than twice the limit (plus scheduling slack).
    let t0 = Instant::now();
    for s in &mut silent {
        assert!(closed_within(s, Duration::from_secs(5)).await, "still open");
    }
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert!(gw.state.data.connections.evictions() >= 1);

    // Kept-alive connections that stop sending are closed the same way, in HTTP/1.1 and
    // over HTTP/2 (where hyper's header timeout does not apply).
    let mut h1 = TcpStream::connect(gw.addr).await.unwrap();
    h1.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut h2 = TcpStream::connect(gw.addr).await.unwrap();
    // Preface and an empty SETTINGS frame, then nothing.
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    assert!(closed_within(&mut h1, Duration::from_secs(5)).await);
    assert!(closed_within(&mut h2, Duration::from_secs(5)).await);
}

#[tokio::test]
async fn one_address_holding_its_share_of_busy_connections_is_refused_more() {
    let gw = TestGateway::start_with(|c| {
        c.max_connections_per_address = 2;
        c.header_timeout = Duration::from_secs(30);
    })
    .await;
    // Two connections busy with event streams (they stay open, answering).
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(gw.addr).await.unwrap();
        let head = format!(
            "GET /api/v1/events HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\r\n",
            gw.client_key
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut first = [0u8; 12];
        s.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");
        busy.push(s);
    }
    // A third from the same address is closed at once, without an answer.
    let mut third = TcpStream::connect(gw.addr).await.unwrap();
    let _ = third
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await;
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut buf))
        .await
        .expect("closed promptly");
    assert!(
        n.is_err() || buf.is_empty(),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    drop(busy);
    // Once they are gone the address is served again.
    support::eventually(
        Duration::from_secs(5),
        "the address served again",
        || async { (health_within(&gw, Duration::from_secs(1)).await == 200).then_some(()) },
    )
    .await;
}

fn rest_tool_names(r: &support::http::Resp) -> Vec<String> {
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_tool_disabled_in_every_namespace_of_a_key_is_unreachable_by_any_route() {
    let (gw, _alpha) = TestGateway::with_alpha().await;
    for ns in [
        json!({"name": "a", "servers": ["alpha"], "tools": {"alpha__fail": {"enabled": false}}}),
        json!({"name": "b", "servers": ["alpha"], "tools": {"alpha__add": {"enabled": false}}}),
    ] {
        let r = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let store = key_store(&gw.db);
    let only_a = create_key(&store, "only-a", Scope::Client, &["a"]).await;
    let a_and_b = create_key(&store, "a-and-b", Scope::Client, &["a", "b"]).await;

    // On /mcp, the key limited to `a` sees a's view: no fail, and cannot call it.
    let c = gw.session("/mcp", &only_a).await;
    support::eventually(Duration::from_secs(15), "a's tools", || async {
        let names = c.tool_names().await;
        names.contains(&"alpha__echo".to_string()).then_some(())
    })
    .await;
    let names = c.tool_names().await;
    assert!(!names.contains(&"alpha__fail".to_string()), "{names:?}");
    let m = c
        .call(
            json!(5),
            "tools/call",
            json!({"name": "alpha__fail", "arguments": {}}),
        )
        .await;
    assert_eq!(m["id"], 5);
    assert!(
        m["error"]["message"].as_str().unwrap().contains("disabled"),
        "{m}"
    );
    // REST: not listed, not executable; other tools are.
    let r = get(gw.addr, "/api/v1/mcp/servers/alpha/tools", &only_a).await;
    assert_eq!(r.status, 200);
    let rest_names = rest_tool_names(&r);
    assert!(rest_names.contains(&"echo".to_string()), "{rest_names:?}");
    assert!(!rest_names.contains(&"fail".to_string()), "{rest_names:?}");
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/alpha/tools/fail/execute",
        &only_a,
        &json!({}),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/alpha/tools/echo/execute",
        &only_a,
        &json!({"message": "hi"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());

    // A key with both namespaces reaches their union: b offers fail, a offers add.
    let c = gw.session("/mcp", &a_and_b).await;
    let names = c.tool_names().await;
    for t in ["alpha__fail", "alpha__add", "alpha__echo"] {
        assert!(names.contains(&t.to_string()), "{t} in {names:?}");
    }
    // Unlimited keys see everything, as before.
    let r = get(gw.addr, "/api/v1/mcp/servers/alpha/tools", &gw.client_key).await;
    assert!(rest_tool_names(&r).contains(&"fail".to_string()));
}

#[tokio::test]
async fn rest_execute_takes_exactly_one_json_object() {
    let (gw, alpha) = TestGateway::with_alpha().await;
    let auth = format!("Bearer {}", gw.client_key);
    let path = "/api/v1/mcp/servers/alpha/tools/echo/execute";
    for (body, why) in [
        (
            &br#"{"message":"x"}},"params":{"name":"fail","arguments":{}"#[..],
            "injection",
        ),
        (br#"{"message":"x"}{"message":"y"}"#, "two objects"),
        (br#"{"message":"x"}, 1"#, "trailing value"),
        (br#"["x"]"#, "an array"),
        (br#""x""#, "a string"),
        (br#"{"message":"x""#, "unterminated"),
    ] {
        let r = request(
            gw.addr,
            "POST",
            path,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            Some(body),
        )
        .await;
        assert_eq!(r.status, 400, "{why}: {}", r.text());
        assert!(
            r.json()["error"].as_str().unwrap().contains("JSON object"),
            "{why}"
        );
    }
    let stats = alpha.control("GET", "/control/stats").await;
    assert_eq!(
        stats["calls"]["fail"],
        Value::Null,
        "the backend ran nothing: {stats}"
    );
    // Whitespace around one object is fine; an empty body means no arguments.
    let r = request(
        gw.addr,
        "POST",
        path,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(b" \n {\"message\": \"ok\"} \n"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["content"][0]["text"], "ok");
}

#[tokio::test]
async fn sessions_carry_only_what_the_gateway_routes_on() {
    let (gw, _alpha) = TestGateway::with_alpha().await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let padding = "x".repeat(40_000);
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                      "params": {"protocolVersion": "2025-06-18",
                                 "capabilities": {"sampling": {}, "experimental": {"pad": padding}},
                                 "clientInfo": {"name": "big", "version": "1"}}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.header("mcp-session-id").unwrap().to_string();
    assert!(
        id.len() <= metamcp::auth::session::MAX_SESSION_ID,
        "a {}-byte session id",
        id.len()
    );
    c.session = Some(id);
    let names = c.tool_names().await;
    assert!(names.contains(&"alpha__echo".to_string()));
    // An id longer than any the gateway mints is unknown, without being decrypted.
    c.session = Some(format!("mcs1.{}", "A".repeat(2000)));
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
}

#[tokio::test]
async fn one_client_cannot_take_every_resource_subscription() {
    use metamcp::routing::subscriptions::MAX_PER_CONVERSATION;
    let gw = TestGateway::start().await;
    let rich = Mock::start(&["--profile", "rich"]);
    gw.register(json!({"name": "beta", "protocol": "http", "url": rich.url()}))
        .await;
    let hog = gw.client_session().await;
    for i in 0..MAX_PER_CONVERSATION {
        let m = hog
            .call(
                json!(i),
                "resources/subscribe",
                json!({"uri": format!("mock://items/{i}")}),
            )
            .await;
        assert!(m.get("error").is_none(), "{m}");
    }
    let m = hog
        .call(
            json!("over"),
            "resources/subscribe",
            json!({"uri": "mock://items/x"}),
        )
        .await;
    assert_eq!(m["id"], "over");
    assert!(
        m["error"]["message"]
            .as_str()
            .unwrap()
            .contains("subscriptions"),
        "{m}"
    );
    // Others are unaffected.
    let other = gw.session("/mcp", &gw.admin_key).await;
    other
        .result("resources/subscribe", json!({"uri": "mock://items/1"}))
        .await;
    assert_eq!(gw.state.data.subscriptions.len(), MAX_PER_CONVERSATION + 1);
    // Ending the session frees its subscriptions.
    let r = request(
        gw.addr,
        "DELETE",
        "/mcp",
        &[
            ("authorization", &format!("Bearer {}", gw.client_key)),
            ("mcp-session-id", hog.session.as_deref().unwrap()),
        ],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(gw.state.data.subscriptions.len(), 1);
}

/// Cuts the test database off (no new connections, existing ones ended) or lets it back.
async fn database_reachable(gw: &TestGateway, yes: bool) {
    let admin = metamcp::store::db::connect(&support::cluster().pg_config("postgres"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS {yes}",
            gw.db.name
        ))
        .await
        .unwrap();
    if !yes {
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                &[&gw.db.name],
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_session_end_refused_in_an_outage_is_not_half_applied() {
    let (gw, _alpha) = TestGateway::with_alpha().await;
    let c = gw.client_session().await;
    let auth = format!("Bearer {}", gw.client_key);
    let sid = c.session.clone().unwrap();
    let delete = || async {
        request(
            gw.addr,
            "DELETE",
            "/mcp",
            &[("authorization", &auth), ("mcp-session-id", &sid)],
            None,
        )
        .await
    };
    database_reachable(&gw, false).await;
    let r = delete().await;
    assert_eq!(r.status, 503, "{}", r.text());
    // Refused means not ended: the session still works, and the retry is not a 404.
    let names = c.tool_names().await;
    assert!(names.contains(&"alpha__echo".to_string()));
    database_reachable(&gw, true).await;
    let r = support::eventually(Duration::from_secs(20), "the retry to succeed", || async {
        let r = delete().await;
        (r.status != 503).then_some(r)
    })
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn concurrent_wrong_secrets_get_no_more_argon2_than_the_budget() {
    let gw = TestGateway::start().await;
    let id = gw.client_key.split('_').nth(1).unwrap();
    let wrong = format!("mcp_{id}_{}", "x".repeat(40));
    let started = Instant::now();
    let attempts = (0..120).map(|_| {
        let wrong = wrong.clone();
        let addr = gw.addr;
        tokio::spawn(async move { get(addr, "/api/v1/namespaces", &wrong).await.status })
    });
    let mut refused = 0;
    let mut limited = 0;
    for a in attempts {
        match a.await.unwrap() {
            401 => refused += 1,
            429 => limited += 1,
            s => panic!("status {s}"),
        }
    }
    // Each 401 cost one argon2 verification: no more than the burst of ten, plus what
    // the budget refilled (0.5 a second) while they ran (slow under instrumentation).
    let refilled = (started.elapsed().as_secs_f64() * 0.5).floor() as usize;
    assert!(
        refused <= 10 + refilled,
        "{refused} verifications, {limited} limited, {refilled} refilled"
    );
    assert_eq!(refused + limited, 120);
}

#[tokio::test]
async fn stored_headers_do_not_follow_the_url_to_another_origin() {
    let gw = TestGateway::start().await;
    let first = Mock::start(&[]);
    let second = Mock::start(&[]);
    gw.register(json!({"name": "w", "protocol": "http", "url": first.url(),
                       "headers": {"Authorization": "Bearer s3cret"}}))
        .await;
    assert!(first.control("GET", "/control/stats").await["authorized"].as_u64() > Some(0));
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/w",
        &gw.admin_key,
        &json!({"url": second.url()}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert!(
        body["warnings"][0]
            .as_str()
            .unwrap()
            .contains("headers were dropped"),
        "{body}"
    );
    assert_eq!(body["headers"], json!({}));
    gw.wait_status("w", "running").await;
    let c = gw.client_session().await;
    c.result(
        "tools/call",
        json!({"name": "w__echo", "arguments": {"message": "x"}}),
    )
    .await;
    assert_eq!(
        second.control("GET", "/control/stats").await["authorized"],
        0
    );
    // Masked values cannot carry the old secret over either.
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/w",
        &gw.admin_key,
        &json!({"url": first.url(), "headers": {"Authorization": "********"}}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    // Same origin, other path: the headers stay.
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/w",
        &gw.admin_key,
        &json!({"headers": {"Authorization": "Bearer again"}}),
    )
    .await;
    assert_eq!(r.status, 200);
    let moved = second.url().replace("/mcp", "/mcp/");
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/w",
        &gw.admin_key,
        &json!({"url": moved}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.json().get("warnings").is_none());
    assert_ne!(r.json()["headers"], json!({}));
}

#[tokio::test]
async fn server_urls_are_validated_whole() {
    let gw = TestGateway::start().await;
    for url in [
        "http://127.0.0.1:99999/mcp",
        "http://127.0.0.1:0/mcp",
        "http://127.0.0.1:65536/mcp",
        "http://exa mple.test/mcp",
    ] {
        let r = send_json(
            gw.addr,
            "POST",
            "/api/v1/mcp/servers",
            &gw.admin_key,
            &json!({"name": "p", "protocol": "http", "url": url}),
        )
        .await;
        assert_eq!(r.status, 400, "{url}: {}", r.text());
        assert_eq!(r.json()["field"], "url", "{url}");
    }
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers",
        &gw.admin_key,
        &json!({"name": "p", "protocol": "http", "url": "http://127.0.0.1:65535/mcp"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
}

#[tokio::test]
async fn anonymous_stateless_clients_do_not_share_a_conversation() {
    let gw = TestGateway::start().await;
    let rich = Mock::start(&["--profile", "rich"]);
    gw.register(json!({"name": "beta", "protocol": "http", "url": rich.url()}))
        .await;
    let open = json!({"name": "open", "servers": ["beta"], "auth": "none"});
    let r = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &open).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {"sampling": {}}});
    let call = json!({"jsonrpc": "2.0", "id": 77, "method": "tools/call",
                      "params": {"name": "beta__sample", "arguments": {"prompt": "hi"}, "_meta": meta}});
    // The backend's question ends the response as `input_required` with a sealed state
    // (a stateless client takes no requests); the call waits at the gateway.
    let first = support::eventually(Duration::from_secs(15), "the open namespace", || {
        let call = call.clone();
        let c = Client::new(gw.addr, "/mcp/open", None);
        async move {
            let r = c.post_stateless(&call).await;
            let m = support::mcp::response_message(&r);
            (m["result"]["resultType"] == "input_required").then_some(m)
        }
    })
    .await;
    assert_eq!(first["id"], 77, "{first}");
    let asks = first["result"]["inputRequests"].as_object().unwrap();
    let (key, ask) = asks.iter().next().unwrap();
    assert_eq!(ask["method"], "sampling/createMessage", "{first}");
    let state = first["result"]["requestState"]
        .as_str()
        .unwrap()
        .to_string();
    // A second anonymous client cancels "its" request 77, answers guessed ids, and
    // retries with forged states: nothing of it reaches the waiting call.
    let other = Client::new(gw.addr, "/mcp/open", None);
    let stateless = [("mcp-protocol-version", "2026-07-28")];
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                        "params": {"requestId": 77, "_meta": meta}});
    assert_eq!(other.post_stateless(&cancel).await.status, 202);
    for guess in ["m0", "m1", "0"] {
        let answer = json!({"jsonrpc": "2.0", "id": guess,
                            "result": {"role": "assistant", "model": "x",
                                       "content": {"type": "text", "text": "hijacked"}}});
        let r = other
            .post_raw(answer.to_string().as_bytes(), &stateless)
            .await;
        assert_eq!(r.status, 202, "{}", r.text());
    }
    let answers = json!({key: {"role": "assistant", "model": "x",
                               "content": {"type": "text", "text": "hijacked"}}});
    for forged in [
        format!("{state}x"),
        "mrs1.AAAA".to_string(),
        state[..state.len() - 8].to_string(),
    ] {
        let mut retry = call.clone();
        retry["id"] = json!(78);
        retry["params"]["inputResponses"] = answers.clone();
        retry["params"]["requestState"] = json!(forged);
        let m = support::mcp::response_message(&other.post_stateless(&retry).await);
        assert_eq!(m["error"]["code"], -32602, "{m}");
    }
    assert_eq!(gw.state.era.parked.len(), 1, "the call still waits");
    // The client that was asked answers with its state; its call completes with its
    // own answer.
    let mut retry = call.clone();
    retry["id"] = json!(79);
    retry["params"]["inputResponses"] = json!({key: {"role": "assistant", "model": "x",
                                                     "content": {"type": "text", "text": "mine"}}});
    retry["params"]["requestState"] = json!(state);
    let c = Client::new(gw.addr, "/mcp/open", None);
    let done = support::mcp::response_message(&c.post_stateless(&retry).await);
    assert_eq!(done["id"], 79, "{done}");
    assert!(
        done["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("mine"),
        "{done}"
    );
}

#[tokio::test]
async fn a_later_registration_cannot_take_over_resource_uris() {
    let gw = TestGateway::start().await;
    let first = Mock::start(&["--profile", "rich"]);
    let later = Mock::start(&["--profile", "rich"]);
    // Registered first, but sorting last by name.
    gw.register(json!({"name": "zeta", "protocol": "http", "url": first.url()}))
        .await;
    // Watch the events stream while the second one arrives.
    let mut events = support::http::live_events(gw.addr, &gw.admin_key).await;
    gw.register(json!({"name": "alpha", "protocol": "http", "url": later.url()}))
        .await;
    let c = gw.client_session().await;
    // The client's own sessions with the backends are opened first (their lists).
    c.tool_names().await;
    let before = (
        first.control("GET", "/control/stats").await["requests"]
            .as_u64()
            .unwrap(),
        later.control("GET", "/control/stats").await["requests"]
            .as_u64()
            .unwrap(),
    );
    for uri in ["mock://static/hello", "mock://items/7"] {
        c.result("resources/read", json!({"uri": uri})).await;
    }
    let after = (
        first.control("GET", "/control/stats").await["requests"]
            .as_u64()
            .unwrap(),
        later.control("GET", "/control/stats").await["requests"]
            .as_u64()
            .unwrap(),
    );
    assert_eq!(after.0 - before.0, 2, "the first registration serves both");
    assert_eq!(after.1, before.1, "the later one serves neither");
    // The conflict is a reported problem, on the server and in the events.
    let r = get(gw.addr, "/api/v1/mcp/servers/alpha", &gw.admin_key).await;
    let problems = r.json()["problems"].clone();
    assert!(
        problems.as_array().unwrap().iter().any(|p| p["message"]
            .as_str()
            .unwrap()
            .contains("mock://static/hello")),
        "{problems}"
    );
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            let n = events.read(&mut buf).await.unwrap();
            assert!(n > 0, "events stream ended");
            seen.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&seen).contains("\"config.problem\"") {
                return;
            }
        }
    })
    .await;
    assert!(found.is_ok(), "{}", String::from_utf8_lossy(&seen));
}

/// A session over one backend `alpha` whose calls time out after `timeout_ms`.
async fn alpha_with_timeout(timeout_ms: u64) -> (TestGateway, Mock, Client) {
    let gw = TestGateway::start().await;
    let alpha = Mock::start(&[]);
    gw.register(
        json!({"name": "alpha", "protocol": "http", "url": alpha.url(),
                       "timeout_ms": timeout_ms}),
    )
    .await;
    let c = gw.client_session().await;
    (gw, alpha, c)
}

#[tokio::test]
async fn keep_alives_do_not_extend_a_calls_timeout() {
    let (_gw, _alpha, c) = alpha_with_timeout(1000).await;
    let t0 = Instant::now();
    let m = c
        .call(
            json!("drip"),
            "tools/call",
            json!({"name": "alpha__misbehave", "arguments": {"mode": "drip"}}),
        )
        .await;
    assert_eq!(m["id"], "drip");
    assert!(
        m["error"]["message"].as_str().unwrap().contains("1000 ms"),
        "{m}"
    );
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
}

#[tokio::test]
async fn broken_backend_answers_become_errors_with_the_clients_id() {
    let (gw, _alpha, c) = alpha_with_timeout(10_000).await;
    for (i, mode) in ["not_json", "wrong_id", "truncated", "truncated_sse"]
        .iter()
        .enumerate()
    {
        let r = c
            .post(&json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                          "params": {"name": "alpha__misbehave", "arguments": {"mode": mode}}}))
            .await;
        assert_eq!(r.status, 200, "{mode}: {}", r.text());
        let m = support::mcp::messages(&r)
            .into_iter()
            .rfind(|m| m.get("error").is_some())
            .unwrap_or_else(|| panic!("{mode}: no error in {}", r.text()));
        assert_eq!(m["id"], i, "{mode}");
        assert_eq!(m["error"]["code"], -32603, "{mode}");
    }
    // A correct answer arriving in pieces still gets through whole.
    let m = c
        .call(
            json!(9),
            "tools/call",
            json!({"name": "alpha__misbehave", "arguments": {"mode": "slow_json"}}),
        )
        .await;
    assert_eq!(m["result"]["content"][0]["text"], "misbehaved", "{m}");
    assert_eq!(m["id"], 9);
    // Over REST too.
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/alpha/tools/misbehave/execute",
        &gw.client_key,
        &json!({"mode": "truncated"}),
    )
    .await;
    assert_eq!(r.status, 502, "{}", r.text());
}

#[tokio::test]
async fn json_the_gateway_misread_is_read_as_json() {
    let (gw, _alpha) = TestGateway::with_alpha().await;
    let c = gw.client_session().await;
    // An escaped slash is the same method.
    let r = c
        .post_raw(br#"{"jsonrpc":"2.0","id":1,"method":"tools\/list"}"#, &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["result"]["tools"].is_array(), "{}", r.text());
    // A number no reader holds exactly (readers round it, refuse it or keep it whole)
    // is refused with the request's id, before anything runs; numbers every reader
    // holds pass as the client wrote them.
    let big = "123456789012345678901234567890";
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"alpha__echo","arguments":{{"message":"n","n":{big}}}}}}}"#
    );
    let r = c.post_raw(body.as_bytes(), &[]).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["id"], 2, "{}", r.text());
    assert!(
        r.json()["error"]["data"]["ambiguous"].is_string(),
        "{}",
        r.text()
    );
    let exact = "18446744073709551615";
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":{exact},"method":"tools/call","params":{{"name":"alpha__echo","arguments":{{"message":"n","n":1.5e300}}}}}}"#
    );
    let r = c.post_raw(body.as_bytes(), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains(&format!("\"id\":{exact}")),
        "{}",
        r.text()
    );
    assert_eq!(
        support::mcp::response_message(&r)["result"]["content"][0]["text"],
        "n"
    );
    let r = c
        .post_raw(
            br#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"x":-1e400}}}"#,
            &[],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["id"], 3, "{}", r.text());
    // A request id must not be null.
    let r = c
        .post_raw(br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#, &[])
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], -32600);
}

#[tokio::test]
async fn single_valued_mcp_headers_may_not_repeat() {
    let (gw, _alpha) = TestGateway::with_alpha().await;
    let c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "alpha__echo", "arguments": {"message": "x"}, "_meta": meta}});
    let auth = format!("Bearer {}", gw.client_key);
    let base = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ];
    for repeated in [
        [("mcp-name", "alpha__echo"), ("mcp-name", "alpha__fail")],
        [("mcp-method", "tools/call"), ("mcp-method", "tools/list")],
        [
            ("mcp-protocol-version", "2025-06-18"),
            ("mcp-protocol-version", "2025-03-26"),
        ],
        [("mcp-session-id", "a"), ("mcp-session-id", "b")],
    ] {
        let headers: Vec<(&str, &str)> = base.iter().chain(repeated.iter()).copied().collect();
        let r = request(
            gw.addr,
            "POST",
            "/mcp",
            &headers,
            Some(call.to_string().as_bytes()),
        )
        .await;
        assert_eq!(r.status, 400, "{repeated:?}: {}", r.text());
        assert!(r.text().contains(repeated[0].0), "{}", r.text());
    }
    // Other headers may repeat (Accept is a list).
    let r = c.post_stateless(&call).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// Sends `head` (a whole HTTP/1.1 request head) on a fresh connection; returns what the
/// gateway answered and whether it then closed the connection.
async fn raw_h1(gw: &TestGateway, head: &[u8]) -> (String, bool) {
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    // The gateway may answer and close before it has read everything: a failed write
    // is then expected.
    let _ = s.write_all(head).await;
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        let mut chunk = [0u8; 4096];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return true,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            // A complete answer to a request the gateway keeps the connection for.
            if buf.windows(4).any(|w| w == b"\r\n\r\n") && !buf.starts_with(b"HTTP/1.1 431") {
                return false;
            }
        }
    })
    .await
    .unwrap_or(false);
    let text = String::from_utf8_lossy(&buf);
    (text.lines().next().unwrap_or_default().to_string(), closed)
}

fn head_with(header_bytes: usize) -> Vec<u8> {
    let mut h = b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Filler: ".to_vec();
    h.extend(std::iter::repeat_n(b'a', header_bytes));
    h.extend_from_slice(b"\r\n\r\n");
    h
}

#[tokio::test]
async fn request_heads_are_bounded_in_bytes() {
    let gw = TestGateway::start().await;
    // The default bound is 64 KiB: one 100 KB header line is refused and the connection
    // closed; a head just under the bound is served.
    let (status, closed) = raw_h1(&gw, &head_with(100_000)).await;
    assert!(status.starts_with("HTTP/1.1 431"), "{status}");
    assert!(closed, "the connection closes after a 431");
    let (status, _) = raw_h1(&gw, &head_with(60_000)).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    // Many headers adding up past the bound, each small.
    let mut many = b"GET /health HTTP/1.1\r\nHost: localhost\r\n".to_vec();
    for i in 0..90 {
        many.extend_from_slice(format!("X-H{i}: {}\r\n", "b".repeat(1000)).as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let (status, closed) = raw_h1(&gw, &many).await;
    assert!(status.starts_with("HTTP/1.1 431"), "{status}");
    assert!(closed);
    assert_eq!(health_within(&gw, Duration::from_secs(3)).await, 200);

    // The bound is configurable.
    let small = TestGateway::start_with(|c| c.max_header_bytes = 16 * 1024).await;
    let (status, _) = raw_h1(&small, &head_with(20_000)).await;
    assert!(status.starts_with("HTTP/1.1 431"), "{status}");
    let (status, _) = raw_h1(&small, &head_with(12_000)).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");

    // HTTP/2: the header list is bounded the same way.
    let h2 = |gw: &TestGateway, filler: usize| {
        let addr = gw.addr;
        async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            let (mut sender, conn) =
                hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .max_header_list_size(1 << 20)
                    .handshake(hyper_util::rt::TokioIo::new(stream))
                    .await
                    .expect("h2 handshake");
            tokio::spawn(conn);
            let req = hyper::Request::builder()
                .uri(format!("http://localhost:{}/health", addr.port()))
                .header("x-filler", "c".repeat(filler))
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .unwrap();
            // hyper's HTTP/2 server answers 431 itself (not a bare stream reset).
            sender
                .send_request(req)
                .await
                .expect("an answer")
                .status()
                .as_u16()
        }
    };
    assert_eq!(h2(&gw, 1000).await, 200);
    assert_eq!(h2(&gw, 100_000).await, 431);
    assert_eq!(h2(&small, 20_000).await, 431);
    assert_eq!(h2(&small, 12_000).await, 200);
}

#[tokio::test]
async fn a_version_header_contradicting_the_session_is_refused() {
    let (gw, _alpha) = TestGateway::with_alpha().await;
    let c = gw.client_session().await;
    assert_eq!(c.version, "2025-06-18");
    let ping = json!({"jsonrpc": "2.0", "id": "p-1", "method": "ping"}).to_string();
    let call = json!({"jsonrpc": "2.0", "id": 41, "method": "tools/call",
                      "params": {"name": "alpha__echo", "arguments": {"message": "x"}}})
    .to_string();
    for (body, id) in [(&ping, json!("p-1")), (&call, json!(41))] {
        for other in ["2026-07-28", "1999-01-01", "2025-6-18"] {
            let r = c
                .post_raw(body.as_bytes(), &[("mcp-protocol-version", other)])
                .await;
            assert_eq!(r.status, 400, "{other}: {}", r.text());
            let m = r.json();
            assert_eq!(m["id"], id, "the request's id: {m}");
            assert_eq!(m["error"]["code"], -32600, "{m}");
            assert!(m.get("result").is_none(), "not answered as stateless: {m}");
        }
    }
    // The session's own version, none, or another of the session era (as the official
    // conformance suite sends) is served by the session's negotiated version.
    let r = c.post_raw(call.as_bytes(), &[]).await;
    assert_eq!(r.status, 200);
    for era in ["2025-06-18", "2025-03-26", "2025-11-25"] {
        let r = c
            .post_raw(call.as_bytes(), &[("mcp-protocol-version", era)])
            .await;
        assert_eq!(r.status, 200, "{era}: {}", r.text());
        assert!(r.text().contains("\"id\":41"), "{}", r.text());
        assert!(
            !r.text().contains("resultType"),
            "not the stateless era: {}",
            r.text()
        );
    }
    let r = c
        .post_raw(call.as_bytes(), &[("mcp-protocol-version", "")])
        .await;
    assert_eq!(r.status, 400, "an empty version is not the session's");
    let session_id = c.session.clone().unwrap();
    let auth = format!("Bearer {}", gw.client_key);
    // GET and DELETE of the session check it the same way.
    for method in ["GET", "DELETE"] {
        let h = [
            ("authorization", auth.as_str()),
            ("mcp-session-id", session_id.as_str()),
            ("accept", "application/json, text/event-stream"),
            ("mcp-protocol-version", "2026-07-28"),
        ];
        let r = request(gw.addr, method, "/mcp", &h, None).await;
        assert_eq!(r.status, 400, "{method}: {}", r.text());
    }
    // The refused DELETE did not end the session.
    let r = c.post_raw(ping.as_bytes(), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Without a session, the stateless era's header still means the stateless era.
    let stateless = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let r = stateless
        .post_raw(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {}}}})
            .to_string()
            .as_bytes(),
            &[
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/list"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// How long after `from` the server closed `s` (reading and discarding what it sends).
async fn closes_after(mut s: TcpStream, from: Instant) -> Duration {
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("closed within 10 s")
        .ok();
    from.elapsed()
}

#[tokio::test]
async fn a_silent_connection_closes_at_the_documented_time() {
    let limit = Duration::from_secs(1);
    let gw = TestGateway::start_with(|c| c.header_timeout = limit).await;
    // Silent connections opened at staggered times, so some open just after a sweep and
    // some just before: each must close once silent for the limit, and soon after it.
    let mut waits = Vec::new();
    for i in 0..16 {
        let s = TcpStream::connect(gw.addr).await.unwrap();
        let opened = Instant::now();
        waits.push(tokio::spawn(closes_after(s, opened)));
        if i % 4 == 3 {
            // A kept-alive connection after its first answer.
            let mut s = TcpStream::connect(gw.addr).await.unwrap();
            s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .await
                .unwrap();
            let mut buf = [0u8; 2048];
            let mut seen = Vec::new();
            while !seen.windows(2).any(|w| w == b"ok") {
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0, "answered before closing");
                seen.extend_from_slice(&buf[..n]);
            }
            let answered = Instant::now();
            waits.push(tokio::spawn(closes_after(s, answered)));
        }
        tokio::time::sleep(Duration::from_millis(70)).await;
    }
    // Closed no sooner than the limit, and no later than the sweep's two intervals
    // (2 × 25 ms here) plus scheduling slack.
    for w in waits {
        let after = w.await.unwrap();
        assert!(after >= limit - Duration::from_millis(20), "{after:?}");
        assert!(after < limit + Duration::from_millis(250), "{after:?}");
    }
}
