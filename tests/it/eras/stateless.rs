//! The 2026-07-28 (stateless) era against session-era backends: every kind of request
//! without a session, log messages by the request's `logLevel`, and the retired
//! resource-not-found code never reaching a stateless client.

use crate::support;

use std::time::Duration;

use crate::support::gateway::TestGateway;
use crate::support::http::send_json;
use crate::support::mcp::{Client, log_levels, response_message, text_of};
use serde_json::{Value, json};

#[tokio::test]
async fn the_stateless_era() {
    let (gw, _alpha, _beta) = TestGateway::with_alpha_and_beta().await;
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

/// A stateless request's log messages: none without `logLevel`, those at or above it
/// with one; a bad level and a request without `clientCapabilities` are -32602 with
/// HTTP 400. A session-era client's stream is as before.
#[tokio::test]
async fn stateless_log_messages_follow_the_requests_log_level() {
    let (gw, _alpha, _beta) = TestGateway::with_alpha_and_beta().await;
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
        log_levels(&r),
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
    assert_eq!(log_levels(&r), ["warning", "error"], "{}", r.text());
    let mut debug = base.clone();
    debug["io.modelcontextprotocol/logLevel"] = json!("debug");
    let r = c
        .post_raw(call(debug).to_string().as_bytes(), &headers)
        .await;
    assert_eq!(log_levels(&r), ["debug", "info", "warning", "error"]);
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
    assert_eq!(log_levels(&r), ["debug", "error"]);
}

/// A backend's retired -32002 (resource not found) reaches a 2026-07-28 client as
/// -32602; a session-era client gets the backend's code as it was.
#[tokio::test]
async fn stateless_clients_never_see_the_retired_resource_not_found_code() {
    let (gw, _alpha, _beta) = TestGateway::with_alpha_and_beta().await;
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
