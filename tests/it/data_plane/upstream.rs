//! The hop to the backends and what it survives: every transport status code, ids that
//! collide upstream, a backend that dies and comes back, a forgotten upstream session, a
//! call that must never be repeated, timeouts (and progress keeping a call alive), SSE
//! resumption with `Last-Event-ID`, capability-set sessions bounded per backend, and no
//! connection kept to a removed backend.

use crate::support;

use std::time::Duration;

use crate::support::gateway::TestGateway;
use crate::support::http::request;
use crate::support::mcp::{Client, messages, response_message, text_of, tools_until};
use crate::support::mock::Mock;
use crate::support::{WAIT, eventually};
use serde_json::{Value, json};

#[tokio::test]
async fn every_transport_status_code() {
    let (gw, _alpha, _beta) = TestGateway::with_alpha_and_beta().await;
    let mut c = gw.client_session().await;
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string();
    let rpc_code = |r: &support::http::Resp| r.json()["error"]["code"].as_i64();

    let r = c
        .post_raw(ping.as_bytes(), &[("accept", "application/json")])
        .await;
    assert_eq!(r.status, 406);
    let r = c
        .post_raw(ping.as_bytes(), &[("content-type", "text/plain")])
        .await;
    assert_eq!(r.status, 415);
    let r = c.post_raw(b"{not json", &[]).await;
    assert_eq!((r.status, rpc_code(&r)), (400, Some(-32700)));
    assert_eq!(r.json()["id"], Value::Null);
    let r = c
        .post_raw(br#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, &[])
        .await;
    assert_eq!((r.status, rpc_code(&r)), (400, Some(-32600)));
    let r = c
        .post_raw(ping.as_bytes(), &[("mcp-protocol-version", "1999-01-01")])
        .await;
    assert_eq!(r.status, 400);
    let r = c
        .post(&json!({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}))
        .await;
    assert_eq!(r.status, 202);
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": 5, "result": {}}))
        .await;
    assert_eq!(r.status, 202, "a client's response is accepted");

    // Session problems.
    let real = c.session.clone().unwrap();
    c.session = None;
    assert_eq!(
        c.post_raw(ping.as_bytes(), &[]).await.status,
        400,
        "missing session"
    );
    c.session = Some("mcs1.bm9wZQ".into());
    assert_eq!(
        c.post_raw(ping.as_bytes(), &[]).await.status,
        404,
        "unknown session"
    );
    let mut other_key = Client::new(gw.addr, "/mcp", Some(&gw.admin_key));
    other_key.session = Some(real.clone());
    assert_eq!(
        other_key.post_raw(ping.as_bytes(), &[]).await.status,
        404,
        "a session is bound to its key"
    );
    let mut other_path = Client::new(gw.addr, "/api/v1/mcp/stream", Some(&gw.client_key));
    other_path.session = Some(real.clone());
    assert_eq!(
        other_path.post_raw(ping.as_bytes(), &[]).await.status,
        200,
        "the alias is the same endpoint"
    );
    c.session = Some(real.clone());
    assert_eq!(c.post_raw(ping.as_bytes(), &[]).await.status, 200);

    // Batches only in 2025-03-26 sessions.
    let batch = br#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"alpha__add","arguments":{"a":1,"b":2}}},{"jsonrpc":"2.0","method":"notifications/x"}]"#;
    assert_eq!(c.post_raw(batch, &[]).await.status, 400);
    let mut old = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    old.version = "2025-03-26".into();
    old.initialize().await;
    let r = old.post_raw(batch, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let answers = r.json();
    assert_eq!(answers.as_array().unwrap().len(), 2);
    assert_eq!(answers[0]["id"], 1);
    assert_eq!(answers[1]["id"], 2);
    assert_eq!(text_of(&answers[1]["result"]), "3");
    // A batch's bad input: each element answered in order with its own id, or the whole
    // batch refused when it cannot be read.
    let r = old.post_raw(b"[]", &[]).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], -32600);
    let r = old
        .post_raw(br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}"#, &[])
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], -32700);
    let r = old
        .post_raw(
            br#"[1, {"jsonrpc":"2.0","id":9,"method":"initialize","params":{}}, {"jsonrpc":"2.0","id":"x","result":{}}, {"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":77}}, {"jsonrpc":"2.0","id":3,"method":"ping"}]"#,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let answers = r.json();
    let answers = answers.as_array().expect("an array");
    assert_eq!(answers.len(), 3, "{answers:?}");
    assert_eq!(
        (
            answers[0]["id"].clone(),
            answers[0]["error"]["code"].clone()
        ),
        (Value::Null, json!(-32600))
    );
    assert_eq!(
        (
            answers[1]["id"].clone(),
            answers[1]["error"]["code"].clone()
        ),
        (json!(9), json!(-32600))
    );
    assert_eq!(
        (answers[2]["id"].clone(), answers[2]["result"].clone()),
        (json!(3), json!({}))
    );
    // Only notifications and answers: nothing to say.
    let r = old
        .post_raw(br#"[{"jsonrpc":"2.0","method":"notifications/x"}]"#, &[])
        .await;
    assert_eq!(r.status, 202, "{}", r.text());

    // Origin and Host (DNS rebinding), and credentials.
    let r = c
        .post_raw(ping.as_bytes(), &[("origin", "http://evil.example")])
        .await;
    assert_eq!(r.status, 403);
    let r = c
        .post_raw(ping.as_bytes(), &[("host", "evil.example")])
        .await;
    assert_eq!(r.status, 403);
    let anon = Client::new(gw.addr, "/mcp", None);
    let r = anon.post_raw(ping.as_bytes(), &[]).await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_some());

    // GET: the notification stream needs SSE and a session.
    let auth = format!("Bearer {}", gw.client_key);
    let r = request(
        gw.addr,
        "GET",
        "/mcp",
        &[("authorization", &auth), ("accept", "application/json")],
        None,
    )
    .await;
    assert_eq!(r.status, 406);
    let r = request(
        gw.addr,
        "GET",
        "/mcp",
        &[("authorization", &auth), ("accept", "text/event-stream")],
        None,
    )
    .await;
    assert_eq!(r.status, 400);

    // DELETE ends the session; it is unknown from then on.
    let r = request(
        gw.addr,
        "DELETE",
        "/mcp",
        &[("authorization", &auth), ("mcp-session-id", &real)],
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let r = c.post_raw(ping.as_bytes(), &[]).await;
    assert_eq!((r.status, rpc_code(&r)), (404, Some(-32001)));
    let n: i64 = gw
        .db
        .client()
        .await
        .query_one("SELECT count(*) FROM ended_sessions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "recorded for every gateway process");
}

/// Every client starts at id 1: the gateway must give each upstream request its own id
/// (mockmcp refuses an id already in flight in its session).
#[tokio::test]
async fn concurrent_calls_with_the_same_id_do_not_collide_upstream() {
    let (gw, _alpha, _beta) = TestGateway::with_alpha_and_beta().await;
    let a = gw.client_session().await;
    let b = gw.session("/mcp", &gw.admin_key).await;
    let (a, b) = (std::sync::Arc::new(a), std::sync::Arc::new(b));
    let mut calls = Vec::new();
    for i in 0..8 {
        let c = if i % 2 == 0 { a.clone() } else { b.clone() };
        calls.push(tokio::spawn(async move {
            let r = c
                .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                              "params": {"name": "alpha__sleep", "arguments": {"ms": 200}}}))
                .await;
            response_message(&r)
        }));
    }
    let mut answers = Vec::new();
    for c in calls {
        answers.push(c.await.unwrap());
    }
    for m in answers {
        assert_eq!(m["id"], 1, "the client's id comes back: {m}");
        assert_eq!(text_of(&m["result"]), "slept 200 ms", "{m}");
    }
}

#[tokio::test]
async fn a_dead_backend_drops_out_and_comes_back() {
    let (gw, mut alpha, _beta) = TestGateway::with_alpha_and_beta().await;
    let c = gw.client_session().await;
    tools_until(&c, "alpha's tools", |n| {
        n.iter().any(|t| t.starts_with("alpha__"))
    })
    .await;
    alpha.kill();
    let m = c
        .call(
            json!(1),
            "tools/call",
            json!({"name": "alpha__echo", "arguments": {"message": "x"}}),
        )
        .await;
    assert!(
        m.get("error").is_some(),
        "a call to a dead backend fails clearly: {m}"
    );
    tools_until(&c, "alpha's tools to vanish", |n| {
        !n.iter().any(|t| t.starts_with("alpha__"))
    })
    .await;
    gw.wait_status("alpha", "failed").await;
    let r = c
        .result(
            "tools/call",
            json!({"name": "beta__echo", "arguments": {"message": "still here"}}),
        )
        .await;
    assert_eq!(text_of(&r), "still here");
    alpha.restart();
    tools_until(&c, "alpha's tools to return", |n| {
        n.iter().any(|t| t.starts_with("alpha__"))
    })
    .await;
    let r = c
        .result(
            "tools/call",
            json!({"name": "alpha__echo", "arguments": {"message": "back"}}),
        )
        .await;
    assert_eq!(text_of(&r), "back");
}

#[tokio::test]
async fn a_forgotten_upstream_session_is_reinitialized_transparently() {
    let (gw, alpha, _beta) = TestGateway::with_alpha_and_beta().await;
    let c = gw.client_session().await;
    let before = alpha.control("GET", "/control/stats").await["initializes"]
        .as_u64()
        .unwrap();
    alpha.control("POST", "/control/forget").await;
    let r = c
        .result(
            "tools/call",
            json!({"name": "alpha__echo", "arguments": {"message": "again"}}),
        )
        .await;
    assert_eq!(text_of(&r), "again");
    let after = alpha.control("GET", "/control/stats").await["initializes"]
        .as_u64()
        .unwrap();
    assert!(after > before, "re-initialized ({before} → {after})");
}

#[tokio::test]
async fn a_call_the_backend_may_have_acted_on_is_never_repeated() {
    let (gw, alpha, _beta) = TestGateway::with_alpha_and_beta().await;
    let c = gw.client_session().await;
    // Pooled connections exist and are reused from here on.
    for i in 0..3 {
        let r = c
            .result(
                "tools/call",
                json!({"name": "alpha__echo", "arguments": {"message": format!("warm {i}")}}),
            )
            .await;
        assert_eq!(text_of(&r), format!("warm {i}"));
    }
    let m = c
        .call(
            json!("hang"),
            "tools/call",
            json!({"name": "alpha__hangup", "arguments": {}}),
        )
        .await;
    assert_eq!(m["id"], "hang", "{m}");
    let message = m["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("without answering"), "{m}");
    let stats = alpha.control("GET", "/control/stats").await;
    assert_eq!(
        stats["hangups"], 1,
        "the call reached the backend once: {stats}"
    );
    let r = c
        .result(
            "tools/call",
            json!({"name": "alpha__echo", "arguments": {"message": "after"}}),
        )
        .await;
    assert_eq!(text_of(&r), "after");
}

/// One backend, `slow`, with the given `timeout_ms`, and a client session.
pub(super) async fn backend_with_timeout(timeout_ms: u64) -> (TestGateway, Mock, Client) {
    let gw = TestGateway::start().await;
    let slow = Mock::start(&[]);
    gw.register(
        json!({"name": "slow", "protocol": "http", "url": slow.url(), "timeout_ms": timeout_ms}),
    )
    .await;
    let c = gw.client_session().await;
    (gw, slow, c)
}

#[tokio::test]
async fn slow_backends_time_out_and_are_told_to_stop() {
    let (_gw, slow, c) = backend_with_timeout(300).await;
    let t0 = std::time::Instant::now();
    let m = c
        .call(
            json!(1),
            "tools/call",
            json!({"name": "slow__sleep", "arguments": {"ms": 5000}}),
        )
        .await;
    assert!(
        m["error"]["message"].as_str().unwrap().contains("300 ms"),
        "{m}"
    );
    assert!(t0.elapsed() < Duration::from_secs(3));
    eventually(WAIT, "the backend to hear of the cancellation", || async {
        (slow.control("GET", "/control/stats").await["cancelled"].as_u64() >= Some(1)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn progress_keeps_a_slow_call_alive_past_the_timeout() {
    let (_gw, _slow, c) = backend_with_timeout(400).await;
    // 6 pauses of 150 ms: 900 ms in all, never 400 ms without progress.
    let t0 = std::time::Instant::now();
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "slow__progress",
                                 "arguments": {"steps": 5, "interval_ms": 150},
                                 "_meta": {"progressToken": "t"}}}))
        .await;
    let ms = messages(&r);
    assert!(
        t0.elapsed() >= Duration::from_millis(800),
        "the pauses happened"
    );
    assert_eq!(ms.len(), 6, "{ms:?}");
    assert_eq!(text_of(&ms[5]["result"]), "done after 5 steps", "{ms:?}");
    // Without progress the same silence ends the call.
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "slow__progress",
                                 "arguments": {"steps": 1, "interval_ms": 1000},
                                 "_meta": {"progressToken": "u"}}}))
        .await;
    let ms = messages(&r);
    let last = ms.last().cloned().unwrap_or_default();
    assert_eq!(last["id"], 2, "{ms:?}");
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("400 ms"),
        "{ms:?}"
    );
}

/// Sessions per client capability set are bounded per backend: with one allowed, a
/// second set is served by the main session (and clients flooding capability sets
/// cannot make the gateway open more).
#[tokio::test]
async fn capability_set_sessions_are_bounded_per_backend() {
    let gw = TestGateway::start_with(|c| c.capability_sessions = 1).await;
    let beta = Mock::start(&["--profile", "rich"]);
    gw.register(json!({"name": "beta", "protocol": "http", "url": beta.url()}))
        .await;
    for caps in [
        json!({}),
        json!({"sampling": {}}),
        json!({"roots": {}}),
        json!({"elicitation": {}}),
    ] {
        let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
        c.initialize_with(caps).await;
        let r = c
            .result(
                "tools/call",
                json!({"name": "beta__echo", "arguments": {"message": "bounded"}}),
            )
            .await;
        assert_eq!(text_of(&r), "bounded");
    }
    let stats = beta.control("GET", "/control/stats").await;
    assert_eq!(
        stats["sessions"], 2,
        "the main session and one more: {stats}"
    );
    let backend = gw.state.data.backends.all().pop().unwrap();
    assert_eq!(backend.variants.count(), 1);
}

/// SSE polling (SEP-1699), the gateway as the client: a backend that ends a call's SSE
/// answer after an event id (and a `retry` of 100 ms), before the response, is asked
/// again with GET and `Last-Event-ID`, and the response it sends there ends the call;
/// the resumed stream, which the backend keeps open, does not hold the call up. For a
/// session client and for a 2026-07-28 client alike.
#[tokio::test]
async fn a_backend_that_ends_a_call_early_is_resumed_with_last_event_id() {
    let (gw, alpha, _beta) = TestGateway::with_alpha_and_beta().await;
    let c = gw.client_session().await;
    let call = json!({"name": "alpha__misbehave", "arguments": {"mode": "resumable"}});
    let started = std::time::Instant::now();
    let m = c.call(json!(1), "tools/call", call.clone()).await;
    assert_eq!(support::mcp::text_of(&m["result"]), "resumed", "{m}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the kept-open stream held the call"
    );
    let modern = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let mut request = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call});
    request["params"]["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                        "io.modelcontextprotocol/clientCapabilities": {}});
    let m = support::mcp::response_message(&modern.post_stateless(&request).await);
    assert_eq!(support::mcp::text_of(&m["result"]), "resumed", "{m}");
    let stats = alpha.control("GET", "/control/stats").await;
    assert_eq!(stats["resumed"], 2, "{stats}");
}

#[tokio::test]
async fn a_removed_backend_keeps_no_connection_to_its_server() {
    let (gw, alpha, _beta) = TestGateway::with_alpha_and_beta().await;
    let c = gw.client_session().await;
    let _stream = support::mcp::notification_stream(gw.addr, &c).await;
    // Calls at once: the backend's pool opens a connection for each and keeps them idle.
    let calls = (0..8).map(|i| {
        c.call(
            json!(i),
            "tools/call",
            json!({"name": "alpha__sleep", "arguments": {"ms": 200}}),
        )
    });
    for r in futures_util::future::join_all(calls).await {
        assert_eq!(text_of(&r["result"]), "slept 200 ms", "{r}");
    }
    let open = alpha.control("GET", "/control/stats").await["connections"]
        .as_u64()
        .unwrap();
    assert!(open > 2, "the gateway keeps connections to alpha: {open}");

    let auth = format!("Bearer {}", gw.admin_key);
    let r = request(
        gw.addr,
        "DELETE",
        "/api/v1/mcp/servers/alpha",
        &[("authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    // Only the one asking is left: idle pooled connections and streams all closed.
    eventually(
        Duration::from_secs(10),
        "alpha's connections closed",
        || async {
            let stats = alpha.control("GET", "/control/stats").await;
            (stats["connections"] == 1).then_some(())
        },
    )
    .await;
}
