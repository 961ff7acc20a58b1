//! The gateway's own error codes by the client's era (docs/reference/errors.md): a
//! 2026-07-28 client gets them outside `-32768..-32000` (a limit `-31029` with the `data`
//! SEP-3304 proposes, a policy `-31003`), a session client the codes it always had
//! (`-32029`, `-32003`), both with `Retry-After` over a limit. The upstream account's
//! `-31051` is in `identity/upstream_auth.rs`, where such a backend is set up.

use crate::support::gateway::{TestGateway, key_store, limited_key};
use crate::support::http::{Resp, send_json};
use crate::support::mcp::{Client, response_message};
use metamcp::model::limits::{LimitsChange, Setting};
use serde_json::{Value, json};

/// A 2026-07-28 `tools/call` of `name`.
fn modern_call(id: u64, name: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": name, "arguments": arguments,
                      "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                "io.modelcontextprotocol/clientCapabilities": {}}}})
}

/// The refusal in `r`: over a limit, 429 with `Retry-After` in whole seconds.
fn limited(r: &Resp) -> Value {
    assert_eq!(r.status, 429, "{}", r.text());
    let secs: u64 = r
        .header("retry-after")
        .and_then(|s| s.parse().ok())
        .expect("Retry-After in seconds");
    assert!(secs >= 1);
    response_message(r)
}

#[tokio::test]
async fn a_limit_and_a_policy_carry_the_codes_of_the_clients_era() {
    let (gw, _beta) = TestGateway::with_rich_beta().await;

    // A policy: the same refusal, with the era's code.
    let rules = json!([{"effect": "deny",
        "when": "principal.name == 'client' && tool.name == 'beta__add'"}]);
    let made = send_json(
        gw.addr,
        "POST",
        "/api/v1/policies",
        &gw.admin_key,
        &json!({"name": "no-add", "text": rules.to_string()}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let session = gw
        .session_listing("/mcp", &gw.client_key, "beta__echo")
        .await;
    let m = session
        .call_tool("beta__add", json!({"a": 1, "b": 2}))
        .await;
    assert_eq!(m["error"]["code"], -32003, "{m}");
    assert_eq!(m["error"]["data"]["policy"], "no-add", "{m}");
    let modern = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let r = modern
        .post_stateless(&modern_call(2, "beta__add", json!({"a": 1, "b": 2})))
        .await;
    let m = response_message(&r);
    assert_eq!(m["id"], 2, "{m}");
    assert_eq!(m["error"]["code"], -31003, "{m}");
    assert_eq!(m["error"]["data"]["policy"], "no-add", "{m}");

    // A key's daily quota of one call: the session client's second call and the
    // 2026-07-28 client's are over it.
    let store = key_store(&gw.db);
    let (_, key) = limited_key(
        &store,
        "one-a-day",
        LimitsChange {
            daily_calls: Some(Setting::Is(1)),
            ..LimitsChange::default()
        },
    )
    .await;
    let session = gw.session_listing("/mcp", &key, "beta__echo").await;
    let m = session
        .call_tool("beta__echo", json!({"message": "hi"}))
        .await;
    assert!(m["result"].is_object(), "{m}");
    let r = session
        .post(&json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                      "params": {"name": "beta__echo", "arguments": {"message": "hi"}}}))
        .await;
    let m = limited(&r);
    assert_eq!(m["error"]["code"], -32029, "{m}");
    let data = &m["error"]["data"];
    assert_eq!(
        (
            &data["limit"],
            &data["limit_name"],
            &data["bound"],
            &data["remaining"]
        ),
        (
            &json!("daily_calls"),
            &json!("daily_calls"),
            &json!(1),
            &json!(0)
        ),
        "{m}"
    );
    assert!(
        data["retryAfterMs"].as_u64().is_some_and(|ms| ms > 0),
        "{m}"
    );

    let modern = Client::new(gw.addr, "/mcp", Some(&key));
    let r = modern
        .post_stateless(&modern_call(4, "beta__echo", json!({"message": "hi"})))
        .await;
    let m = limited(&r);
    assert_eq!(m["id"], 4, "{m}");
    assert_eq!(m["error"]["code"], -31029, "{m}");
    let data = m["error"]["data"].as_object().expect("data");
    assert_eq!(data["limit"], 1, "{m}");
    assert_eq!(data["limit_name"], "daily_calls", "{m}");
    assert_eq!(data["remaining"], 0, "{m}");
    assert!(
        data["retryAfterMs"].as_u64().is_some_and(|ms| ms > 0),
        "{m}"
    );
    assert!(!data.contains_key("bound"), "{m}");
}
