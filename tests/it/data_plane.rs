//! The MCP data plane end to end: a real gateway, real mockmcp processes, real sockets.

use crate::support;

use std::time::Duration;

use crate::support::eventually;
use crate::support::gateway::{TestGateway, create_key, key_store};
use crate::support::http::{get, request, send_json};
use crate::support::mcp::{Client, messages, next_message, response_message, text_of};
use crate::support::mock::Mock;
use serde_json::{Value, json};

use metamcp::store::keys::Scope;

const WAIT: Duration = Duration::from_secs(15);

async fn register(gw: &TestGateway, body: Value) {
    gw.register(body).await;
}

async fn wait_status(gw: &TestGateway, name: &str, status: &str) {
    gw.wait_status(name, status).await;
}

async fn wait_tools(c: &Client, what: &str, pred: impl Fn(&[String]) -> bool) -> Vec<String> {
    eventually(WAIT, what, || async {
        let names = c.tool_names().await;
        pred(&names).then_some(names)
    })
    .await
}

/// Two backends: `alpha` (basic) and `beta` (rich), both running.
async fn two_backends() -> (TestGateway, Mock, Mock) {
    let gw = TestGateway::start().await;
    let alpha = Mock::start(&[]);
    let beta = Mock::start(&["--profile", "rich"]);
    register(
        &gw,
        json!({"name": "alpha", "protocol": "http", "url": alpha.url()}),
    )
    .await;
    register(
        &gw,
        // `accept`: beta's `toggle` adds a tool whose list change the tests follow (under
        // the default `hold` it would be held for review; tests/it/reviews.rs covers that).
        json!({"name": "beta", "protocol": "http", "url": beta.url(), "tool_changes": "accept"}),
    )
    .await;
    (gw, alpha, beta)
}

#[tokio::test]
async fn aggregates_lists_and_routes_every_kind_of_call() {
    let (gw, _alpha, _beta) = two_backends().await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let init = c.initialize().await.json();
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(init["result"]["serverInfo"]["name"], "metamcp");
    assert!(init["result"]["capabilities"]["tools"]["listChanged"] == true);

    let names = wait_tools(&c, "both backends' tools", |n| n.len() >= 13).await;
    for t in [
        "alpha__echo",
        "alpha__add",
        "beta__echo",
        "beta__toggle",
        "beta__progress",
    ] {
        assert!(names.contains(&t.to_string()), "{t} missing from {names:?}");
    }
    let r = c
        .result(
            "tools/call",
            json!({"name": "alpha__add", "arguments": {"a": 2, "b": 3}}),
        )
        .await;
    assert_eq!(text_of(&r), "5");
    // A JSON answer that arrived whole goes out whole, its length declared: the id put
    // back (a different length from the backend's) is counted in it.
    let raw = c
        .post(
            &json!({"jsonrpc": "2.0", "id": "a-much-longer-client-id-than-the-gateway-uses",
                      "method": "tools/call",
                      "params": {"name": "alpha__echo", "arguments": {"message": "whole"}}}),
        )
        .await;
    assert_eq!(raw.status, 200);
    let declared = raw
        .headers
        .get("content-length")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        declared,
        Some(raw.body.len().to_string()),
        "{:?}",
        raw.headers
    );
    let m: Value = serde_json::from_slice(&raw.body).unwrap();
    assert_eq!(m["id"], "a-much-longer-client-id-than-the-gateway-uses");
    assert_eq!(text_of(&m["result"]), "whole");
    let r = c
        .result("tools/call", json!({"name": "beta__fail", "arguments": {}}))
        .await;
    assert_eq!(
        r["isError"], true,
        "a tool's failure is a result, not an error"
    );

    let prompts = c.result("prompts/list", json!({})).await;
    assert_eq!(prompts["prompts"][0]["name"], "beta__greet");
    let p = c
        .result(
            "prompts/get",
            json!({"name": "beta__greet", "arguments": {"name": "Ada"}}),
        )
        .await;
    assert_eq!(p["messages"][0]["content"]["text"], "Hello, Ada!");

    let res = c.result("resources/list", json!({})).await;
    assert_eq!(res["resources"][0]["uri"], "mock://static/hello");
    let templates = c.result("resources/templates/list", json!({})).await;
    assert_eq!(
        templates["resourceTemplates"][0]["uriTemplate"],
        "mock://items/{id}"
    );
    let read = c
        .result("resources/read", json!({"uri": "mock://static/hello"}))
        .await;
    assert_eq!(read["contents"][0]["text"], "hello from mockmcp");
    let item = c
        .result("resources/read", json!({"uri": "mock://items/42"}))
        .await;
    assert_eq!(item["contents"][0]["text"], r#"{"id":"42"}"#);
    let sub = c
        .result("resources/subscribe", json!({"uri": "mock://static/hello"}))
        .await;
    assert_eq!(sub, json!({}));
    let comp = c
        .result(
            "completion/complete",
            json!({"ref": {"type": "ref/prompt", "name": "beta__greet"},
                   "argument": {"name": "name", "value": "a"}}),
        )
        .await;
    assert_eq!(comp["completion"]["values"], json!(["alice"]));
    assert_eq!(c.result("ping", json!({})).await, json!({}));

    // Unknown things are errors carrying the request id.
    for (method, params) in [
        ("tools/call", json!({"name": "nope__x", "arguments": {}})),
        ("prompts/get", json!({"name": "nope"})),
        ("resources/read", json!({"uri": "mock://nowhere"})),
        ("tools/list", json!({"cursor": "garbage"})),
    ] {
        let m = c.call(json!("req-7"), method, params).await;
        assert_eq!(m["id"], "req-7");
        assert_eq!(m["error"]["code"], -32602, "{method}: {m}");
    }
    let m = c.call(json!(9), "frobnicate", json!({})).await;
    assert_eq!(m["error"]["code"], -32601);

    // REST on the same machinery.
    let r = get(gw.addr, "/api/v1/mcp/servers/alpha/tools", &gw.client_key).await;
    let tools = r.json();
    assert!(
        tools
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["exposed_name"] == "alpha__echo")
    );
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/alpha/tools/add/execute",
        &gw.client_key,
        &json!({"a": 1, "b": 1}),
    )
    .await;
    assert_eq!((r.status, text_of(&r.json())), (200, "2".to_string()));
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/alpha/tools/echo/execute",
        &gw.client_key,
        &json!({}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/alpha/tools/echo/execute",
        &gw.client_key,
        &json!([1]),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
}

#[tokio::test]
async fn namespaces_prefixing_and_overrides() {
    let (gw, _alpha, _beta) = two_backends().await;
    let ns = json!({"name": "team", "servers": ["beta"], "tool_prefix": "never",
                    "tools": {"beta__fail": {"enabled": false},
                              "beta__echo": {"name": "say", "description": "Says it back"}}});
    assert_eq!(
        send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns)
            .await
            .status,
        201
    );
    let c = gw.session("/mcp/team", &gw.client_key).await;
    let names = wait_tools(&c, "the namespace's tools", |n| {
        n.contains(&"say".to_string())
    })
    .await;
    assert!(
        names.contains(&"add".to_string()) && !names.iter().any(|n| n.contains("__")),
        "{names:?}"
    );
    assert!(!names.contains(&"fail".to_string()) && !names.contains(&"echo".to_string()));
    let listed = c.result("tools/list", json!({})).await;
    let say = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "say")
        .unwrap()
        .clone();
    assert_eq!(say["description"], "Says it back");
    let r = c
        .result(
            "tools/call",
            json!({"name": "say", "arguments": {"message": "hey"}}),
        )
        .await;
    assert_eq!(text_of(&r), "hey");
    let m = c
        .call(
            json!(3),
            "tools/call",
            json!({"name": "fail", "arguments": {}}),
        )
        .await;
    assert!(
        m["error"]["message"].as_str().unwrap().contains("disabled"),
        "{m}"
    );
    // Alpha is not in this namespace.
    let m = c
        .call(
            json!(4),
            "tools/call",
            json!({"name": "alpha__echo", "arguments": {"message": "x"}}),
        )
        .await;
    assert_eq!(m["error"]["code"], -32602);

    // A key limited to the namespace sees the namespace's view on /mcp (its names, its
    // overrides) and cannot use other servers.
    let limited = create_key(&key_store(&gw.db), "limited", Scope::Client, &["team"]).await;
    let lc = gw.session("/mcp", &limited).await;
    let mut on_mcp = lc.tool_names().await;
    let mut on_team = names.clone();
    on_mcp.sort();
    on_team.sort();
    assert_eq!(on_mcp, on_team);
    let m = lc
        .call(
            json!(5),
            "tools/call",
            json!({"name": "alpha__add", "arguments": {"a": 1, "b": 1}}),
        )
        .await;
    assert_eq!(m["error"]["code"], -32602);
    let r = Client::new(gw.addr, "/mcp/other", Some(&limited))
        .post(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .await;
    assert_eq!(r.status, 404, "unknown namespace");
    let other = json!({"name": "other", "servers": ["alpha"]});
    send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &other).await;
    eventually(WAIT, "namespace other routed", || async {
        let r = Client::new(gw.addr, "/mcp/other", Some(&limited))
            .post(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}))
            .await;
        (r.status == 403).then_some(())
    })
    .await;
}

#[tokio::test]
async fn every_transport_status_code() {
    let (gw, _alpha, _beta) = two_backends().await;
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

#[tokio::test]
async fn the_stateless_era() {
    let (gw, _alpha, _beta) = two_backends().await;
    let c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let r = c
        .post_raw(
            json!({"jsonrpc": "2.0", "id": "d", "method": "server/discover", "params": {"_meta": meta}}).to_string().as_bytes(),
            &[("mcp-method", "server/discover"), ("mcp-protocol-version", "2026-07-28")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = r.json();
    assert_eq!(d["result"]["resultType"], "complete");
    assert!(
        d["result"]["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&json!("2026-07-28"))
    );
    assert!(d["result"]["capabilities"]["tools"].is_object());
    assert!(
        r.header("mcp-session-id").is_none(),
        "no sessions in the stateless era"
    );

    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "alpha__echo", "arguments": {"message": "x"}, "_meta": meta}});
    let r = c.post_stateless(&call).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(text_of(&response_message(&r)["result"]), "x");
    // Every result names the server the client speaks to: the gateway.
    assert_eq!(
        response_message(&r)["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "metamcp",
        "{}",
        r.text()
    );
    let v = ("mcp-protocol-version", "2026-07-28");
    // Headers that contradict the body, or are missing, are refused with -32020; a
    // value's Base64 form and the whitespace around it are read as the value.
    for headers in [
        vec![v, ("mcp-method", "tools/call"), ("mcp-name", "alpha__add")],
        vec![v, ("mcp-method", "tools/list"), ("mcp-name", "alpha__echo")],
        vec![v, ("mcp-method", "TOOLS/CALL"), ("mcp-name", "alpha__echo")],
        vec![v, ("mcp-name", "alpha__echo")],
        vec![v, ("mcp-method", "tools/call")],
        vec![("mcp-method", "tools/call"), ("mcp-name", "alpha__echo")],
        vec![
            ("mcp-protocol-version", "2025-11-25"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "alpha__echo"),
        ],
        vec![
            v,
            ("mcp-method", "tools/call"),
            ("mcp-name", "=?base64?YWxwaGFfX2VjaG8?="),
        ],
    ] {
        let r = c.post_raw(call.to_string().as_bytes(), &headers).await;
        assert_eq!(
            (
                r.status,
                r.json()["error"]["code"].as_i64(),
                r.json()["id"].as_i64()
            ),
            (400, Some(-32020), Some(2)),
            "{headers:?}: {}",
            r.text()
        );
    }
    for headers in [
        vec![
            v,
            ("mcp-method", "  tools/call "),
            ("mcp-name", "\talpha__echo "),
        ],
        vec![
            v,
            ("mcp-method", "=?base64?dG9vbHMvY2FsbA==?="),
            ("mcp-name", "=?base64?YWxwaGFfX2VjaG8=?="),
        ],
    ] {
        let r = c.post_raw(call.to_string().as_bytes(), &headers).await;
        assert_eq!(r.status, 200, "{headers:?}: {}", r.text());
    }

    let list =
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {"_meta": meta}});
    let r = c.post_stateless(&list).await;
    assert_eq!(r.json()["result"]["resultType"], "complete");
    // The shared view's lists may be kept for METAMCP_LIST_TTL and shared; a
    // namespace's are the caller's own.
    assert_eq!(
        (
            &r.json()["result"]["ttlMs"],
            &r.json()["result"]["cacheScope"]
        ),
        (&json!(60_000), &json!("public"))
    );
    assert_eq!(d["result"]["ttlMs"], 60_000, "server/discover too");
    let ns = json!({"name": "hinted", "servers": ["alpha"]});
    let made = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let in_ns = Client::new(gw.addr, "/mcp/hinted", Some(&gw.client_key));
    let r = support::eventually(Duration::from_secs(10), "the namespace", || async {
        let r = in_ns.post_stateless(&list).await;
        (r.status == 200).then_some(r)
    })
    .await;
    assert_eq!(r.json()["result"]["cacheScope"], "private", "{}", r.text());
    let read = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                      "params": {"name": "alpha__echo", "arguments": {"message": "y"}, "_meta": meta}});
    let forwarded = response_message(&c.post_stateless(&read).await);
    assert_eq!(
        forwarded["result"]["ttlMs"], 0,
        "a backend's answer: no hint to give"
    );
    let old = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/list",
                     "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2027-01-01"}}});
    let r = c.post(&old).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_i64()),
        (400, Some(-32022))
    );
    assert!(r.json()["error"]["data"]["supported"].is_array());
    let unknown =
        json!({"jsonrpc": "2.0", "id": 5, "method": "nope/nope", "params": {"_meta": meta}});
    let r = c.post_stateless(&unknown).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_i64()),
        (404, Some(-32601))
    );
    // What the revision removed is a method like any unknown one, with the request's id.
    for removed in [
        "initialize",
        "ping",
        "logging/setLevel",
        "resources/subscribe",
    ] {
        let m = json!({"jsonrpc": "2.0", "id": 6, "method": removed,
                       "params": {"_meta": meta, "uri": "mock://static/hello",
                                  "protocolVersion": "2025-06-18", "capabilities": {},
                                  "clientInfo": {"name": "x", "version": "1"}, "level": "info"}});
        let r = c.post_stateless(&m).await;
        assert_eq!(
            (
                r.status,
                r.json()["error"]["code"].as_i64(),
                r.json()["id"].as_i64()
            ),
            (404, Some(-32601), Some(6)),
            "{removed}: {}",
            r.text()
        );
        assert!(r.header("mcp-session-id").is_none(), "{removed}");
    }
    // A version header that contradicts `_meta` is a mismatch, before any version check.
    let r = c
        .post_raw(
            json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {"_meta": {
                "io.modelcontextprotocol/protocolVersion": "2025-11-25",
                "io.modelcontextprotocol/clientCapabilities": {}}}})
            .to_string()
            .as_bytes(),
            &[
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/list"),
            ],
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_i64()),
        (400, Some(-32020))
    );
    // Every request names both `_meta` keys, server/discover included.
    for partial in [
        json!({}),
        json!({"io.modelcontextprotocol/clientCapabilities": {}}),
        json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28"}),
    ] {
        let m = json!({"jsonrpc": "2.0", "id": 8, "method": "server/discover",
                       "params": {"_meta": partial}});
        let r = c.post_stateless(&m).await;
        assert_eq!(
            (r.status, r.json()["error"]["code"].as_i64()),
            (400, Some(-32602)),
            "{partial}: {}",
            r.text()
        );
    }
}

/// Every client starts at id 1: the gateway must give each upstream request its own id
/// (mockmcp refuses an id already in flight in its session).
#[tokio::test]
async fn concurrent_calls_with_the_same_id_do_not_collide_upstream() {
    let (gw, _alpha, _beta) = two_backends().await;
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
async fn progress_streams_live_before_the_result() {
    let (gw, _alpha, _beta) = two_backends().await;
    let c = gw.client_session().await;
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": "p", "method": "tools/call",
                      "params": {"name": "beta__progress", "arguments": {"steps": 3},
                                 "_meta": {"progressToken": "tok"}}}))
        .await;
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    let ms = messages(&r);
    assert_eq!(ms.len(), 4, "{ms:?}");
    for (i, m) in ms[..3].iter().enumerate() {
        assert_eq!(m["method"], "notifications/progress");
        assert_eq!(m["params"]["progressToken"], "tok");
        assert_eq!(m["params"]["progress"], i + 1);
    }
    assert_eq!(ms[3]["id"], "p");
    assert_eq!(text_of(&ms[3]["result"]), "done after 3 steps");
}

#[tokio::test]
async fn a_dead_backend_drops_out_and_comes_back() {
    let (gw, mut alpha, _beta) = two_backends().await;
    let c = gw.client_session().await;
    wait_tools(&c, "alpha's tools", |n| {
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
    wait_tools(&c, "alpha's tools to vanish", |n| {
        !n.iter().any(|t| t.starts_with("alpha__"))
    })
    .await;
    wait_status(&gw, "alpha", "failed").await;
    let r = c
        .result(
            "tools/call",
            json!({"name": "beta__echo", "arguments": {"message": "still here"}}),
        )
        .await;
    assert_eq!(text_of(&r), "still here");
    alpha.restart();
    wait_tools(&c, "alpha's tools to return", |n| {
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
    let (gw, alpha, _beta) = two_backends().await;
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
    let (gw, alpha, _beta) = two_backends().await;
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
async fn backend_with_timeout(timeout_ms: u64) -> (TestGateway, Mock, Client) {
    let gw = TestGateway::start().await;
    let slow = Mock::start(&[]);
    register(
        &gw,
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

/// Sends a session client's `tools/call` of `tool` on a connection of its own, waits
/// for the answer's head when `head`, else until the backend has the call, and closes
/// the connection.
async fn call_and_leave(
    gw: &TestGateway,
    slow: &Mock,
    c: &Client,
    id: u64,
    tool: &str,
    args: Value,
    head: bool,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                      "params": {"name": format!("slow__{tool}"), "arguments": args,
                                 "_meta": {"progressToken": id}}})
    .to_string();
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Mcp-Session-Id: {}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n{body}",
        gw.client_key,
        c.session.as_deref().unwrap(),
        body.len()
    );
    let before = slow.control("GET", "/control/stats").await["calls"][tool]
        .as_u64()
        .unwrap_or(0);
    s.write_all(request.as_bytes()).await.unwrap();
    if head {
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(WAIT, s.read(&mut buf))
            .await
            .expect("the answer's head")
            .unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &buf[..n]);
    } else {
        eventually(WAIT, "the backend to have the call", || async {
            let stats = slow.control("GET", "/control/stats").await;
            (stats["calls"][tool].as_u64().unwrap_or(0) > before).then_some(())
        })
        .await;
    }
    drop(s);
}

/// A session client that goes away has not cancelled its call (MCP: a disconnect is not
/// a cancellation), whether it leaves before the answer starts or midway through it:
/// the backend is never told to stop. Midway, the gateway reads the answer to its end
/// (the call keeps its place). Cancelled by the client afterwards, it is stopped at once.
#[tokio::test]
async fn a_session_client_that_goes_away_has_not_cancelled_its_call() {
    let (gw, slow, c) = backend_with_timeout(30_000).await;
    // Before the answer's head: the mock answers a sleep in one JSON body at its end.
    call_and_leave(&gw, &slow, &c, 40, "sleep", json!({"ms": 800}), false).await;
    eventually(WAIT, "the gateway to let go of the call", || async {
        (gw.state.data.inflight.is_empty()).then_some(())
    })
    .await;
    // Midway: 12 progress steps 100 ms apart, on an SSE answer whose head comes first.
    let t0 = std::time::Instant::now();
    call_and_leave(
        &gw,
        &slow,
        &c,
        41,
        "progress",
        json!({"steps": 12, "interval_ms": 100}),
        true,
    )
    .await;
    eventually(WAIT, "the call to end upstream", || async {
        (gw.state.data.inflight.is_empty()).then_some(())
    })
    .await;
    assert!(
        t0.elapsed() >= Duration::from_millis(1000),
        "read to its end: {:?}",
        t0.elapsed()
    );
    // A later call on the backend: any cancellation sent before would be there by now.
    let m = c
        .call(
            json!(43),
            "tools/call",
            json!({"name": "slow__echo", "arguments": {"message": "x"}}),
        )
        .await;
    assert_eq!(text_of(&m["result"]), "x");
    let stats = slow.control("GET", "/control/stats").await;
    assert_eq!(stats["cancelled"], 0, "{stats}");

    // Gone, then cancelled: the backend hears of it, and the gateway lets go of the call.
    let t0 = std::time::Instant::now();
    call_and_leave(
        &gw,
        &slow,
        &c,
        42,
        "progress",
        json!({"steps": 200, "interval_ms": 100}),
        true,
    )
    .await;
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                        "params": {"requestId": 42, "reason": "changed my mind"}});
    assert_eq!(c.post(&cancel).await.status, 202);
    eventually(WAIT, "the backend to hear of the cancellation", || async {
        let stats = slow.control("GET", "/control/stats").await;
        (stats["cancelled"] == 1 && gw.state.data.inflight.is_empty()).then_some(())
    })
    .await;
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
}

/// Calls going on without their client are bounded per key: a key that leaves call
/// after call mid-answer has at most 16 going on; leaving one more cancels it upstream.
#[tokio::test]
async fn calls_left_running_by_clients_that_went_away_are_bounded_per_key() {
    let (gw, slow, c) = backend_with_timeout(30_000).await;
    let per_key = metamcp::mcp::hop::calls::MAX_DETACHED_PER_KEY;
    for id in 0..u64::from(per_key) {
        let args = json!({"steps": 300, "interval_ms": 100});
        call_and_leave(&gw, &slow, &c, 100 + id, "progress", args, true).await;
    }
    eventually(WAIT, "every call left running", || async {
        (gw.state.data.inflight.detached() == per_key).then_some(())
    })
    .await;
    let stats = slow.control("GET", "/control/stats").await;
    assert_eq!(stats["cancelled"], 0, "{stats}");
    // One more: no place left, so leaving it cancels it.
    let args = json!({"steps": 300, "interval_ms": 100});
    call_and_leave(&gw, &slow, &c, 999, "progress", args, true).await;
    eventually(WAIT, "the backend to hear of the cancellation", || async {
        let stats = slow.control("GET", "/control/stats").await;
        (stats["cancelled"] == 1).then_some(())
    })
    .await;
    assert_eq!(gw.state.data.inflight.detached(), per_key);
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

#[tokio::test]
async fn list_changes_reach_the_clients_notification_stream() {
    let (gw, _alpha, _beta) = two_backends().await;
    let c = gw.client_session().await;
    let mut lines = support::mcp::notification_stream(gw.addr, &c).await;
    c.result(
        "tools/call",
        json!({"name": "beta__toggle", "arguments": {}}),
    )
    .await;
    let saw = support::mcp::next_notification(&mut lines).await["method"]
        == "notifications/tools/list_changed";
    assert!(saw, "tools/list_changed on the GET stream");
    let names = c.tool_names().await;
    assert!(names.contains(&"beta__extra".to_string()), "{names:?}");
}

/// Calls a `sample` tool and answers the backend's sampling request when it arrives on
/// the call's stream. Returns the id the client saw on that request and the result text.
async fn sample_call(gw: &TestGateway, c: &Client, tool: &str, answer: &str) -> (Value, String) {
    use http_body_util::{BodyExt, Full};
    let stream = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": tool, "arguments": {"prompt": "hi"}}});
    let req = hyper::Request::post("/mcp")
        .header("host", "localhost")
        .header("authorization", format!("Bearer {}", gw.client_key))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", c.session.as_ref().unwrap())
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    let mut asked = Value::Null;
    while let Some(frame) = body.frame().await {
        buf.extend_from_slice(&frame.unwrap().into_data().unwrap_or_default());
        while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = buf.drain(..end + 2).collect();
            for data in metamcp::jsonrpc::sse::data_of(&event) {
                let m: Value = serde_json::from_slice(&data).unwrap();
                if m["method"] == "sampling/createMessage" {
                    asked = m["id"].clone();
                    let reply = json!({"jsonrpc": "2.0", "id": asked,
                                       "result": {"role": "assistant", "model": "test",
                                                  "content": {"type": "text", "text": answer}}});
                    assert_eq!(c.post(&reply).await.status, 202);
                } else if m.get("result").is_some() || m.get("error").is_some() {
                    assert_eq!(m["id"], 1);
                    return (asked, text_of(&m["result"]));
                }
            }
        }
    }
    panic!("the call's stream ended without a result");
}

#[tokio::test]
async fn backend_requests_to_the_client_and_its_answers_find_their_way() {
    let gw = TestGateway::start().await;
    let beta = Mock::start(&["--profile", "rich"]);
    let gamma = Mock::start(&["--profile", "rich"]);
    register(
        &gw,
        json!({"name": "beta", "protocol": "http", "url": beta.url()}),
    )
    .await;
    register(
        &gw,
        json!({"name": "gamma", "protocol": "http", "url": gamma.url()}),
    )
    .await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.initialize_with(json!({"sampling": {}})).await;
    // Both backends number their requests from 0 and the client reuses id 1: the gateway
    // must keep all of it apart, both ways.
    let (b, g) = tokio::join!(
        sample_call(&gw, &c, "beta__sample", "for beta"),
        sample_call(&gw, &c, "gamma__sample", "for gamma"),
    );
    assert_eq!(b.1, "sampled: for beta");
    assert_eq!(g.1, "sampled: for gamma");
    assert_ne!(b.0, g.0, "distinct ids for the two backends' requests");
    assert!(
        b.0 != json!(0) && g.0 != json!(0),
        "the backends' own ids are not shown"
    );
    // An answer to a request nobody made is accepted and dropped.
    let stray = json!({"jsonrpc": "2.0", "id": "m999999", "result": {}});
    assert_eq!(c.post(&stray).await.status, 202);

    // A client that did not declare sampling never sees the request: the gateway answers
    // the backend with an error at once, and the call ends with the backend's verdict.
    let plain = gw.client_session().await;
    let started = std::time::Instant::now();
    let r = plain
        .post(&json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                      "params": {"name": "beta__sample", "arguments": {"prompt": "hi"}}}))
        .await;
    let seen = messages(&r);
    assert!(
        seen.iter().all(|m| m["method"] != "sampling/createMessage"),
        "{seen:?}"
    );
    let last = seen.last().unwrap();
    assert_eq!(last["id"], 5);
    assert!(
        last.to_string()
            .contains("did not declare the sampling capability"),
        "{last}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // Three sessions with the backend: the gateway's main one (declaring everything it
    // routes), one for the sampling client's set, and the last for the plain client's,
    // declaring what it did: nothing.
    let stats = beta.control("GET", "/control/stats").await;
    assert_eq!(stats["sessions"], 3, "{stats}");
    assert_eq!(stats["client_capabilities"], json!({}), "{stats}");
    // A client declaring everything is served by the main session: no fourth one.
    let mut full = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    full.initialize_with(json!({"sampling": {"tools": {}}, "roots": {},
                                "elicitation": {"form": {}, "url": {}},
                                "tasks": {"requests": {"sampling": {"createMessage": {}},
                                                       "elicitation": {"create": {}}}},
                                "extensions": {"io.modelcontextprotocol/ui": {}}}))
        .await;
    full.tool_names().await;
    let stats = beta.control("GET", "/control/stats").await;
    assert_eq!(stats["sessions"], 3, "{stats}");
}

/// A URL elicitation's end (`notifications/elicitation/complete`, on the backend's own
/// stream, shared by the clients of its session) reaches the client the elicitation was
/// passed to, once, and nobody else; an id the gateway never passed on goes nowhere. A
/// backend cannot point one client's elicitation id at another client: that request is
/// refused to it.
#[tokio::test]
async fn a_url_elicitations_end_reaches_its_own_client_only() {
    let (gw, _alpha, beta) = two_backends().await;
    let caps = json!({"elicitation": {"form": {}, "url": {}}});
    let mut a = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    a.initialize_with(caps.clone()).await;
    let mut b = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    b.initialize_with(caps).await;
    let mut a_stream = support::mcp::notification_stream(gw.addr, &a).await;
    let mut b_stream = support::mcp::notification_stream(gw.addr, &b).await;
    let url_question = |id: &str| {
        json!({"name": "beta__ask", "arguments": {"rounds": [[{"method": "elicitation/create",
            "params": {"mode": "url", "url": "https://example.com/consent", "message": "consent",
                       "elicitationId": id}}]]}})
    };
    // The backend asks A to visit a URL; A accepts.
    let answer_and_finish = async |c: &Client, id: u64, args: Value| -> Value {
        let auth = format!("Bearer {}", gw.client_key);
        let sid = c.session.clone().unwrap();
        let headers = [
            ("authorization", auth.as_str()),
            ("mcp-session-id", sid.as_str()),
            ("mcp-protocol-version", "2025-06-18"),
        ];
        let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": args});
        let mut rx = support::mcp::post_streaming(gw.addr, "/mcp", &headers, &call).await;
        loop {
            let m = tokio::time::timeout(WAIT, rx.recv())
                .await
                .unwrap()
                .unwrap();
            if m["method"] == "elicitation/create" {
                let reply =
                    json!({"jsonrpc": "2.0", "id": m["id"], "result": {"action": "accept"}});
                assert_eq!(c.post(&reply).await.status, 202);
            } else if m["id"] == id {
                return m;
            }
        }
    };
    let done = answer_and_finish(&a, 5, url_question("el-A")).await;
    assert!(done["result"].to_string().contains("accept"), "{done}");
    // The same id, now aimed at B: refused to the backend, B is never asked.
    let done = answer_and_finish(&b, 6, url_question("el-A")).await;
    assert!(
        done["result"].to_string().contains("another client"),
        "{done}"
    );

    let complete = |id: &str| {
        json!({"jsonrpc": "2.0", "method": "notifications/elicitation/complete",
               "params": {"elicitationId": id}})
    };
    beta.announce(&complete("el-A")).await;
    beta.announce(&complete("el-A")).await;
    beta.announce(&complete("el-unknown")).await;
    // Then a change every client hears of (the tool list grows): what came before it
    // for each client is all there was.
    a.result("tools/call", json!({"name": "beta__toggle"}))
        .await;
    let first = support::mcp::next_notification(&mut a_stream).await;
    assert_eq!(first, complete("el-A"));
    let next = support::mcp::next_notification(&mut a_stream).await;
    assert_eq!(
        next["method"], "notifications/tools/list_changed",
        "once: {next}"
    );
    let to_b = support::mcp::next_notification(&mut b_stream).await;
    assert_eq!(to_b["method"], "notifications/tools/list_changed", "{to_b}");
}

#[tokio::test]
async fn resource_updates_reach_subscribed_clients_only() {
    let (gw, _alpha, _beta) = two_backends().await;
    let subscriber = gw.client_session().await;
    let bystander = gw.client_session().await;
    let mut sub_stream = support::mcp::notification_stream(gw.addr, &subscriber).await;
    let mut by_stream = support::mcp::notification_stream(gw.addr, &bystander).await;
    subscriber
        .result("resources/subscribe", json!({"uri": "mock://static/hello"}))
        .await;
    bystander
        .result(
            "tools/call",
            json!({"name": "beta__touch", "arguments": {"uri": "mock://static/hello"}}),
        )
        .await;
    let n = support::mcp::next_notification(&mut sub_stream).await;
    assert_eq!(n["method"], "notifications/resources/updated");
    assert_eq!(n["params"]["uri"], "mock://static/hello");
    // The bystander did not subscribe: the next thing it hears is a list change.
    bystander
        .result(
            "tools/call",
            json!({"name": "beta__toggle", "arguments": {}}),
        )
        .await;
    let n = support::mcp::next_notification(&mut by_stream).await;
    assert_eq!(n["method"], "notifications/tools/list_changed", "{n}");
    // After unsubscribing, updates stop: again the next message is a list change.
    subscriber
        .result(
            "resources/unsubscribe",
            json!({"uri": "mock://static/hello"}),
        )
        .await;
    let _ = support::mcp::next_notification(&mut sub_stream).await; // the toggle above
    bystander
        .result(
            "tools/call",
            json!({"name": "beta__touch", "arguments": {"uri": "mock://static/hello"}}),
        )
        .await;
    bystander
        .result(
            "tools/call",
            json!({"name": "beta__toggle", "arguments": {}}),
        )
        .await;
    let n = support::mcp::next_notification(&mut sub_stream).await;
    assert_eq!(n["method"], "notifications/tools/list_changed", "{n}");
}

#[tokio::test]
async fn overrides_survive_a_server_rename_and_stale_ones_are_problems() {
    let (gw, _alpha, _beta) = two_backends().await;
    let ns = json!({"name": "team", "servers": ["beta", "alpha"],
                    "tools": {"beta__fail": {"enabled": false},
                              "beta__echo": {"name": "say"},
                              "beta__nosuch": {"enabled": false},
                              "ghost__x": {"enabled": false}}});
    let r = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
    assert_eq!(r.status, 201, "{}", r.text());
    // Stale overrides are problems of the namespace, not only log lines.
    let problems = eventually(WAIT, "the namespace's problems", || async {
        let v = get(gw.addr, "/api/v1/namespaces/team", &gw.admin_key)
            .await
            .json();
        let p = v["problems"].to_string();
        (p.contains("beta__nosuch") && p.contains("ghost__x")).then_some(p)
    })
    .await;
    assert!(problems.contains("does not offer"), "{problems}");
    assert!(problems.contains("not in namespace team"), "{problems}");
    assert!(!problems.contains("beta__echo"), "{problems}");

    // Renaming the server keeps its overrides: they are kept against the server itself.
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/beta",
        &gw.admin_key,
        &json!({"name": "b2"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = get(gw.addr, "/api/v1/namespaces/team", &gw.admin_key)
        .await
        .json();
    assert_eq!(v["servers"], json!(["b2", "alpha"]), "{v}");
    assert_eq!(v["tools"]["b2__fail"]["enabled"], false, "{v}");
    assert_eq!(v["tools"]["b2__echo"]["name"], "say", "{v}");
    let c = gw.session("/mcp/team", &gw.client_key).await;
    let names = wait_tools(&c, "the renamed server's tools", |n| {
        n.contains(&"b2__add".to_string())
    })
    .await;
    assert!(names.contains(&"say".to_string()), "{names:?}");
    assert!(
        !names.contains(&"b2__fail".to_string()) && !names.contains(&"b2__echo".to_string()),
        "{names:?}"
    );
    let m = c
        .call(
            json!(1),
            "tools/call",
            json!({"name": "b2__fail", "arguments": {}}),
        )
        .await;
    assert!(
        m["error"]["message"].as_str().unwrap().contains("disabled"),
        "{m}"
    );
    // A GET → PUT round trip of the namespace keeps them as they are.
    let r = send_json(gw.addr, "PUT", "/api/v1/namespaces/team", &gw.admin_key, &v).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["tools"], v["tools"]);
}

#[tokio::test]
async fn calls_are_counted_per_backend_and_per_tool() {
    let (gw, _alpha, _beta) = two_backends().await;
    let c = gw.client_session().await;
    for (tool, args) in [
        ("alpha__echo", json!({"message": "secret-argument-value"})),
        ("alpha__echo", json!({"message": "x"})),
        ("alpha__fail", json!({})),
        ("alpha__misbehave", json!({"mode": "not_json"})),
        ("beta__add", json!({"a": 1, "b": 2})),
        // A JSON-RPC error from the backend.
        ("alpha__add", json!({"a": "one"})),
    ] {
        c.call(
            json!(1),
            "tools/call",
            json!({"name": tool, "arguments": args}),
        )
        .await;
    }
    let text = get(gw.addr, "/metrics", "").await.text();
    for line in [
        "metamcp_backend_up{backend=\"alpha\",status=\"running\"} 1",
        "metamcp_backend_calls_total{backend=\"alpha\"} 5",
        "metamcp_backend_errors_total{backend=\"alpha\"} 2",
        "metamcp_tool_errors_total{backend=\"alpha\",tool=\"add\"} 1",
        "metamcp_backend_calls_total{backend=\"beta\"} 1",
        "metamcp_backend_call_duration_seconds_count{backend=\"alpha\"} 5",
        "metamcp_tool_calls_total{backend=\"alpha\",tool=\"echo\"} 2",
        // An isError result is a tool's answer, not a failed call.
        "metamcp_tool_errors_total{backend=\"alpha\",tool=\"fail\"} 0",
        "metamcp_tool_errors_total{backend=\"alpha\",tool=\"misbehave\"} 1",
        "metamcp_tool_calls_total{backend=\"beta\",tool=\"add\"} 1",
    ] {
        assert!(
            text.contains(&format!("{line}\n")),
            "{line} missing:\n{text}"
        );
    }
    assert!(!text.contains("secret-argument-value"));
}

/// The error a call gets: its message, asserting it is a JSON-RPC error.
async fn error_of(c: &Client, method: &str, params: Value) -> (i64, String) {
    let m = c.call(json!(7), method, params).await;
    assert_eq!(m["id"], 7, "the request's id: {m}");
    let e = &m["error"];
    assert!(e.is_object(), "{method} should fail: {m}");
    (
        e["code"].as_i64().unwrap_or_default(),
        e["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn every_name_a_down_server_exposed_says_it_is_unavailable() {
    let gw = TestGateway::start().await;
    let mut beta = Mock::start(&["--profile", "rich"]);
    register(
        &gw,
        json!({"name": "beta", "protocol": "http", "url": beta.url()}),
    )
    .await;
    let ns = json!({"name": "team", "servers": ["beta"], "tool_prefix": "never",
                    "tools": {"beta__echo": {"name": "say"}}});
    let r = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let all = gw.client_session().await;
    let team = gw.session("/mcp/team", &gw.client_key).await;
    let team_names = wait_tools(&team, "the namespace's tools", |n| {
        n.contains(&"say".to_string())
    })
    .await;
    let all_names = wait_tools(&all, "beta's tools", |n| n.contains(&"beta__echo".into())).await;
    let shortened = |names: &[String]| {
        names
            .iter()
            .find(|n| n.contains("summarise_everything"))
            .cloned()
            .expect("the long tool, shortened")
    };
    let (team_long, all_long) = (shortened(&team_names), shortened(&all_names));
    assert_eq!(team_long.len(), 64, "{team_long}");
    assert_eq!(all_long.len(), 64, "{all_long}");
    // While it runs, each of those names works.
    assert_eq!(
        text_of(&team.result("tools/call", json!({"name": team_long})).await),
        "all quiet"
    );

    beta.kill();
    wait_tools(&all, "beta's tools to drop out", |n| n.is_empty()).await;
    let down = |c: &'static str| {
        move |(code, message): (i64, String)| {
            assert_eq!(code, -32603, "{c}: {message}");
            assert!(
                message.starts_with("server `beta` is unavailable: "),
                "{c}: {message}"
            );
            assert!(
                message.len() > "server `beta` is unavailable: ".len(),
                "{message}"
            );
        }
    };
    let calls: Vec<(&Client, &str, Value, &'static str)> = vec![
        (&team, "tools/call", json!({"name": "say"}), "renamed tool"),
        (
            &team,
            "tools/call",
            json!({"name": "add"}),
            "unprefixed tool",
        ),
        (
            &team,
            "tools/call",
            json!({"name": team_long}),
            "shortened, unprefixed",
        ),
        (
            &all,
            "tools/call",
            json!({"name": "beta__add"}),
            "prefixed tool",
        ),
        (
            &all,
            "tools/call",
            json!({"name": all_long}),
            "shortened, prefixed",
        ),
        (
            &team,
            "prompts/get",
            json!({"name": "greet"}),
            "unprefixed prompt",
        ),
        (
            &all,
            "prompts/get",
            json!({"name": "beta__greet"}),
            "prefixed prompt",
        ),
        (
            &all,
            "resources/read",
            json!({"uri": "mock://static/hello"}),
            "resource",
        ),
        (
            &team,
            "resources/read",
            json!({"uri": "mock://items/42"}),
            "templated resource",
        ),
    ];
    for (c, method, params, what) in &calls {
        down(what)(error_of(c, method, params.clone()).await);
    }
    // A name that was never exposed stays unknown, also a prefixed-looking one.
    for (c, name) in [(&team, "echo"), (&team, "nothing"), (&all, "beta__nothing")] {
        let (code, message) = error_of(c, "tools/call", json!({"name": name})).await;
        assert_eq!(code, -32602, "{message}");
        assert!(message.contains("unknown tool"), "{message}");
    }
    let (code, _) = error_of(&all, "resources/read", json!({"uri": "mock://nowhere"})).await;
    assert_eq!(code, -32602);

    // A change to the server while it is down rebuilds its backend with no lists yet:
    // the names it had are still remembered.
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/beta",
        &gw.admin_key,
        &json!({"timeout_ms": 7000}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    for (c, method, params, what) in &calls {
        down(what)(error_of(c, method, params.clone()).await);
    }

    // Back up: the same names work again.
    beta.restart();
    wait_tools(&team, "the namespace's tools to return", |n| {
        n.contains(&"say".to_string())
    })
    .await;
    let r = team
        .result(
            "tools/call",
            json!({"name": "say", "arguments": {"message": "back"}}),
        )
        .await;
    assert_eq!(text_of(&r), "back");
}

/// `subscriptions/listen` on the wire: the acknowledgement first, with the honoured
/// subset (a URI nobody owns is left out); only opted-in kinds, each tagged with the
/// listen request's id; a resource update of a subscribed URI; and at shutdown the
/// request's response with `resultType: "complete"`.
#[tokio::test]
async fn subscriptions_listen_acknowledges_tags_filters_and_ends_gracefully() {
    let (mut gw, _alpha, _beta) = two_backends().await;
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let listen = json!({"jsonrpc": "2.0", "id": "listen-7", "method": "subscriptions/listen",
        "params": {"_meta": meta, "notifications": {
            "toolsListChanged": true, "promptsListChanged": false,
            "resourceSubscriptions": ["mock://static/hello", "nobody://owns/this"]}}});
    let auth = format!("Bearer {}", gw.client_key);
    let headers = [
        ("authorization", auth.as_str()),
        ("mcp-method", "subscriptions/listen"),
        ("mcp-protocol-version", "2026-07-28"),
    ];
    let mut rx = support::mcp::post_streaming(gw.addr, "/mcp", &headers, &listen).await;
    let tag = json!({"io.modelcontextprotocol/subscriptionId": "listen-7"});
    let ack = next_message(&mut rx, WAIT).await;
    assert_eq!(
        ack,
        json!({"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged",
               "params": {"_meta": tag, "notifications": {"toolsListChanged": true,
                          "resourceSubscriptions": ["mock://static/hello"]}}})
    );
    // A server added changes tools and prompts (rich has prompts): only tools is sent.
    let gamma = Mock::start(&["--profile", "rich"]);
    register(
        &gw,
        json!({"name": "gamma", "protocol": "http", "url": gamma.url()}),
    )
    .await;
    let changed = next_message(&mut rx, WAIT).await;
    assert_eq!(
        changed,
        json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed",
               "params": {"_meta": tag}})
    );
    // The backend's update of the subscribed resource, tagged.
    let c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "beta__touch", "arguments": {"uri": "mock://static/hello"},
                                 "_meta": meta}});
    let r = c
        .post_raw(
            call.to_string().as_bytes(),
            &[
                ("mcp-method", "tools/call"),
                ("mcp-name", "beta__touch"),
                ("mcp-protocol-version", "2026-07-28"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mut updated = next_message(&mut rx, WAIT).await;
    while updated["method"] == "notifications/tools/list_changed" {
        updated = next_message(&mut rx, WAIT).await;
    }
    assert_eq!(
        updated,
        json!({"jsonrpc": "2.0", "method": "notifications/resources/updated",
               "params": {"uri": "mock://static/hello", "_meta": tag}})
    );
    // A malformed filter is the client's error.
    let bad = json!({"jsonrpc": "2.0", "id": 9, "method": "subscriptions/listen",
                     "params": {"_meta": meta, "notifications": {"toolsListChanged": "yes"}}});
    let r = c
        .post_raw(
            bad.to_string().as_bytes(),
            &[
                ("mcp-method", "subscriptions/listen"),
                ("mcp-protocol-version", "2026-07-28"),
            ],
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_i64()),
        (400, Some(-32602))
    );
    assert_eq!(r.json()["id"], 9);
    // The gateway shutting down ends the stream with the request's response.
    let _stopping = gw.begin_shutdown();
    let mut end = next_message(&mut rx, WAIT).await;
    while end.get("method").is_some() {
        end = next_message(&mut rx, WAIT).await;
    }
    assert_eq!(end["id"], "listen-7");
    assert_eq!(end["result"]["resultType"], "complete");
    assert_eq!(
        end["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "listen-7"
    );
    assert_eq!(
        end["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "metamcp"
    );
}

/// A stateless request's log messages: none without `logLevel`, those at or above it
/// with one; a bad level and a request without `clientCapabilities` are -32602 with
/// HTTP 400. A session-era client's stream is as before.
#[tokio::test]
async fn stateless_log_messages_follow_the_requests_log_level() {
    let (gw, _alpha, _beta) = two_backends().await;
    let c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let call = |meta: Value| {
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
               "params": {"name": "alpha__progress",
                          "arguments": {"steps": 1, "log": ["debug", "info", "warning", "error"]},
                          "_meta": meta}})
    };
    let headers = [
        ("mcp-method", "tools/call"),
        ("mcp-name", "alpha__progress"),
        ("mcp-protocol-version", "2026-07-28"),
    ];
    let base = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let r = c
        .post_raw(call(base.clone()).to_string().as_bytes(), &headers)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        levels(&r),
        Vec::<String>::new(),
        "no level asked, no message"
    );
    assert_eq!(
        text_of(&response_message(&r)["result"]),
        "done after 1 steps"
    );
    let mut warning = base.clone();
    warning["io.modelcontextprotocol/logLevel"] = json!("warning");
    let r = c
        .post_raw(call(warning).to_string().as_bytes(), &headers)
        .await;
    assert_eq!(levels(&r), ["warning", "error"], "{}", r.text());
    let mut debug = base.clone();
    debug["io.modelcontextprotocol/logLevel"] = json!("debug");
    let r = c
        .post_raw(call(debug).to_string().as_bytes(), &headers)
        .await;
    assert_eq!(levels(&r), ["debug", "info", "warning", "error"]);
    // A level that is none, and capabilities left out: the client's errors.
    let mut loud = base.clone();
    loud["io.modelcontextprotocol/logLevel"] = json!("loud");
    let r = c
        .post_raw(call(loud).to_string().as_bytes(), &headers)
        .await;
    assert_eq!(
        (
            r.status,
            r.json()["error"]["code"].as_i64(),
            r.json()["id"].as_i64()
        ),
        (400, Some(-32602), Some(3)),
        "{}",
        r.text()
    );
    let bare = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28"});
    let r = c
        .post_raw(call(bare).to_string().as_bytes(), &headers)
        .await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_i64()),
        (400, Some(-32602))
    );
    assert!(r.text().contains("clientCapabilities"), "{}", r.text());
    // The session era is untouched: every message reaches a session's call stream.
    let mut s = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    s.initialize().await;
    let r = s
        .post(&json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                       "params": {"name": "alpha__progress",
                                  "arguments": {"steps": 1, "log": ["debug", "error"]}}}))
        .await;
    assert_eq!(levels(&r), ["debug", "error"]);
}

/// The backends' own `instructions` reach clients: combined under a heading per server
/// in `initialize` and `server/discover`, for the view the client uses (a namespace
/// gets its members' only), each cut to 8 KiB and all within 32 KiB, so a server that
/// sends a megabyte cannot fill a client's context.
#[tokio::test]
async fn backend_instructions_are_combined_by_server_and_bounded() {
    let (gw, _alpha, _beta) = two_backends().await;
    let hostile = Mock::start(&["--instructions-kib", "1024"]);
    register(
        &gw,
        json!({"name": "huge", "protocol": "http", "url": hostile.url()}),
    )
    .await;
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/namespaces",
        &gw.admin_key,
        &json!({"name": "alpha-only", "servers": ["alpha"]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let r = c.initialize().await;
    let text = r.json()["result"]["instructions"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(text.starts_with("metamcp aggregates"), "{text}");
    assert!(
        text.contains("\n\n## beta\nRead mock://static/hello before calling echo."),
        "{text}"
    );
    assert!(!text.contains("## alpha"), "alpha gives none");
    let huge = text
        .split("## huge\n")
        .nth(1)
        .expect("the huge server's section");
    assert!(
        huge.len() <= 8 * 1024 + 3 && huge.ends_with('…'),
        "cut to 8 KiB: {} bytes",
        huge.len()
    );
    assert!(text.len() <= 32 * 1024, "{} bytes", text.len());
    // The stateless era's discover says the same.
    let d = Client::new(gw.addr, "/mcp", Some(&gw.client_key))
        .post_stateless(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover",
            "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                 "io.modelcontextprotocol/clientCapabilities": {}}}}),
        )
        .await;
    assert_eq!(
        d.json()["result"]["instructions"].as_str(),
        Some(text.as_str())
    );
    // A namespace's view holds only its members' instructions.
    let mut ns = Client::new(gw.addr, "/mcp/alpha-only", Some(&gw.client_key));
    let r = ns.initialize().await;
    let only = r.json()["result"]["instructions"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        !only.contains("## beta") && !only.contains("## huge"),
        "{only}"
    );
}

/// A backend's retired -32002 (resource not found) reaches a 2026-07-28 client as
/// -32602; a session-era client gets the backend's code as it was.
#[tokio::test]
async fn stateless_clients_never_see_the_retired_resource_not_found_code() {
    let (gw, _alpha, _beta) = two_backends().await;
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let read = json!({"jsonrpc": "2.0", "id": 9, "method": "resources/read",
                      "params": {"uri": "mock://items/missing", "_meta": meta}});
    let r = Client::new(gw.addr, "/mcp", Some(&gw.client_key))
        .post_stateless(&read)
        .await;
    let m = response_message(&r);
    assert_eq!(
        (m["id"].as_i64(), m["error"]["code"].as_i64()),
        (Some(9), Some(-32602)),
        "{m}"
    );
    assert!(
        m["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not found")
    );
    let s = gw.client_session().await;
    let m = s
        .call(
            json!(9),
            "resources/read",
            json!({"uri": "mock://items/missing"}),
        )
        .await;
    assert_eq!(m["error"]["code"], -32002, "{m}");
}

/// The levels of the log messages a call of `beta__progress` brings `c`.
async fn levels_seen(c: &Client) -> Vec<String> {
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
            "params": {"name": "beta__progress",
                       "arguments": {"steps": 1, "log": ["debug", "info", "warning", "error"]}}}))
        .await;
    levels(&r)
}

/// The levels of the log messages in a response, in order.
fn levels(r: &support::http::Resp) -> Vec<String> {
    messages(r)
        .iter()
        .filter(|m| m["method"] == "notifications/message")
        .map(|m| {
            m["params"]["level"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

async fn set_level(c: &Client, level: &str) -> Value {
    c.call(json!(1), "logging/setLevel", json!({"level": level}))
        .await
}

/// A session's `logging/setLevel` reaches the backends that log (the lowest level any
/// live session wants), and each session's call streams carry only the messages at or
/// above its own level; a session that set none gets them all.
#[tokio::test]
async fn session_log_levels_are_forwarded_and_applied_per_session() {
    let (gw, alpha, beta) = two_backends().await;
    let quiet = gw.client_session().await;
    let chatty = gw.client_session().await;
    let silent = gw.client_session().await;
    assert_eq!(set_level(&quiet, "warning").await["result"], json!({}));
    eventually(WAIT, "the backend asked for warning", || async {
        let s = beta.control("GET", "/control/stats").await;
        (s["log_levels"] == json!(["warning"])).then_some(())
    })
    .await;
    assert_eq!(set_level(&chatty, "debug").await["result"], json!({}));
    eventually(WAIT, "the backend asked for debug", || async {
        let s = beta.control("GET", "/control/stats").await;
        (s["log_levels"] == json!(["warning", "debug"])).then_some(())
    })
    .await;
    assert_eq!(levels_seen(&quiet).await, ["warning", "error"]);
    assert_eq!(
        levels_seen(&chatty).await,
        ["debug", "info", "warning", "error"]
    );
    assert_eq!(
        levels_seen(&silent).await,
        ["debug", "info", "warning", "error"]
    );
    // A level no lower than the floor changes nothing upstream; a bad one is refused.
    assert_eq!(set_level(&quiet, "error").await["result"], json!({}));
    let bad = set_level(&quiet, "loud").await;
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    let s = beta.control("GET", "/control/stats").await;
    assert_eq!(s["log_levels"], json!(["warning", "debug"]), "{s}");
    // The calls above opened a session of these clients' capability set (they declared
    // none): a new floor reaches it as well as the main one.
    assert_eq!(set_level(&chatty, "info").await["result"], json!({}));
    eventually(WAIT, "both of beta's sessions asked for info", || async {
        let s = beta.control("GET", "/control/stats").await;
        (s["log_levels"] == json!(["warning", "debug", "info", "info"])).then_some(())
    })
    .await;
    // alpha declares no logging: it is never asked.
    let a = alpha.control("GET", "/control/stats").await;
    assert_eq!(a["log_levels"], json!([]), "{a}");
}

/// Icons (2025-11-25) on a backend's tools, prompts, resources and templates reach
/// clients of both eras as the backend gave them.
#[tokio::test]
async fn icons_are_kept_on_every_list() {
    let (gw, _alpha, _beta) = two_backends().await;
    let expected = json!([{"src": "https://mock.example/icon.png", "mimeType": "image/png", "sizes": ["48x48"]},
                          {"src": "data:image/svg+xml;base64,PHN2Zy8+", "mimeType": "image/svg+xml", "theme": "dark"}]);
    let c = gw.client_session().await;
    let lists = [
        ("tools/list", "tools", "name", "beta__touch"),
        ("prompts/list", "prompts", "name", "beta__greet"),
        ("resources/list", "resources", "uri", "mock://static/hello"),
        (
            "resources/templates/list",
            "resourceTemplates",
            "uriTemplate",
            "mock://items/{id}",
        ),
    ];
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let stateless = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    for (method, field, key, name) in lists {
        let session_list = c.result(method, json!({})).await;
        let r = stateless
            .post_stateless(
                &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": {"_meta": meta}}),
            )
            .await;
        let stateless_list = response_message(&r)["result"].clone();
        for list in [session_list, stateless_list] {
            let item = list[field]
                .as_array()
                .and_then(|items| items.iter().find(|i| i[key] == name))
                .unwrap_or_else(|| panic!("{name} in {list}"));
            assert_eq!(item["icons"], expected, "{method}: {item}");
        }
    }
}

/// Sessions per client capability set are bounded per backend: with one allowed, a
/// second set is served by the main session (and clients flooding capability sets
/// cannot make the gateway open more).
#[tokio::test]
async fn capability_set_sessions_are_bounded_per_backend() {
    let gw = TestGateway::start_with(|c| c.capability_sessions = 1).await;
    let beta = Mock::start(&["--profile", "rich"]);
    register(
        &gw,
        json!({"name": "beta", "protocol": "http", "url": beta.url()}),
    )
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

#[tokio::test]
async fn a_sessions_roots_change_reaches_its_backends_and_only_if_it_has_roots() {
    let (gw, alpha, beta) = two_backends().await;
    let changed = json!({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"});
    // A client that declared no roots has none to change: nothing is sent on.
    let rootless = gw.client_session().await;
    assert_eq!(rootless.post(&changed).await.status, 202);
    let mut rooted = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    rooted
        .initialize_with(
            json!({"roots": {"listChanged": true}, "sampling": {"tools": {}},
                                "elicitation": {"form": {}, "url": {}}}),
        )
        .await;
    assert_eq!(rooted.post(&changed).await.status, 202);
    for mock in [&alpha, &beta] {
        eventually(WAIT, "the backend heard of the change", || async {
            let s = mock.control("GET", "/control/stats").await;
            (s["roots_changed"] == 1).then_some(())
        })
        .await;
    }
    // Once each: the rootless client's notification never went out.
    assert_eq!(
        alpha.control("GET", "/control/stats").await["roots_changed"],
        1
    );
}

/// SSE polling (SEP-1699), the gateway as the client: a backend that ends a call's SSE
/// answer after an event id (and a `retry` of 100 ms), before the response, is asked
/// again with GET and `Last-Event-ID`, and the response it sends there ends the call;
/// the resumed stream, which the backend keeps open, does not hold the call up. For a
/// session client and for a 2026-07-28 client alike.
#[tokio::test]
async fn a_backend_that_ends_a_call_early_is_resumed_with_last_event_id() {
    let (gw, alpha, _beta) = two_backends().await;
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
    let (gw, alpha, _beta) = two_backends().await;
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

/// Clients of one capability set asking for the tools at once are served by one
/// listing of their set's session (some servers stall on concurrent requests in one
/// session: the Python SDK 1.x's did under the conformance suite's three at once).
#[tokio::test]
async fn a_capability_sets_tools_are_listed_once_for_clients_asking_at_once() {
    let gw = TestGateway::start().await;
    let beta = Mock::start(&["--profile", "rich"]);
    register(
        &gw,
        json!({"name": "beta", "protocol": "http", "url": beta.url()}),
    )
    .await;
    let before = beta.control("GET", "/control/stats").await["requests"]
        .as_u64()
        .unwrap();
    let c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let list = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}}}});
    let answers = futures_util::future::join_all((0..6).map(|_| c.post_stateless(&list))).await;
    for r in &answers {
        assert_eq!(r.status, 200, "{}", r.text());
        let m = response_message(r);
        assert!(
            m["result"]["tools"]
                .as_array()
                .is_some_and(|t| !t.is_empty()),
            "{m}"
        );
    }
    let after = beta.control("GET", "/control/stats").await;
    // The set's session opened (initialize) and listed its tools once (was six times).
    assert_eq!(
        after["requests"].as_u64().unwrap() - before,
        2,
        "one listing for six clients: {after}"
    );
}
