//! Tools the gateway serves itself (`routing::gateway`), proven with a test-only one:
//! `Echo` is listed beside the backends' tools, called in both eras, refused when its
//! arguments are wrong, renamed, described, rated and disabled by a namespace's
//! override, wins its name over a backend's tool, and is charged to the key's limits.

use crate::support::WAIT;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::eventually;
use crate::support::gateway::TestGateway;
use crate::support::http::send_json;
use crate::support::mcp::{Client, response_message, text_of};
use crate::support::mock::Mock;
use serde_json::{Value, json};

use metamcp::routing::{Called, GatewayCall, GatewayTool, ToolError};

/// Answers `said: <text>`, counting its calls; refuses a call without `text`.
#[derive(Default)]
struct Echo {
    calls: AtomicUsize,
}

impl GatewayTool for Echo {
    fn name(&self) -> &str {
        "echo"
    }

    fn definition(&self) -> Value {
        json!({"description": "Says the text back (the gateway's own)",
               "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}},
                               "required": ["text"]}})
    }

    fn call<'a>(&'a self, call: GatewayCall<'a>) -> Called<'a> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::Relaxed);
            let text = call
                .arguments
                .get("text")
                .and_then(Value::as_str)
                .ok_or_else(|| ToolError::invalid("echo needs `text`, a string"))?;
            // It sees the caller's view: how many backend tools it reaches.
            Ok(
                json!({"content": [{"type": "text", "text": format!("said: {text}")}],
                      "structuredContent": {"reached": call.view.tools.len()}}),
            )
        })
    }
}

async fn with_echo() -> (TestGateway, Mock, Arc<Echo>) {
    let gw = TestGateway::start().await;
    let beta = Mock::start(&["--profile", "rich"]);
    gw.register(json!({"name": "beta", "protocol": "http", "url": beta.url()}))
        .await;
    let echo = Arc::new(Echo::default());
    gw.state.serve(echo.clone());
    (gw, beta, echo)
}

async fn tools(c: &Client) -> Vec<Value> {
    c.result("tools/list", json!({})).await["tools"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn listed(c: &Client, name: &str) -> Value {
    eventually(WAIT, "the tool is listed", || async {
        tools(c).await.into_iter().find(|t| t["name"] == name)
    })
    .await
}

#[tokio::test]
async fn a_gateway_tool_is_listed_and_called_like_a_backends_tool_in_both_eras() {
    let (gw, _beta, echo) = with_echo().await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.initialize().await;
    let entry = listed(&c, "metamcp__echo").await;
    assert_eq!(
        entry["description"],
        "Says the text back (the gateway's own)"
    );
    assert_eq!(entry["inputSchema"]["required"], json!(["text"]));
    let all = tools(&c).await;
    assert!(all.iter().any(|t| t["name"] == "beta__echo"), "{all:?}");

    let r = c
        .result(
            "tools/call",
            json!({"name": "metamcp__echo", "arguments": {"text": "hi"}}),
        )
        .await;
    assert_eq!(text_of(&r), "said: hi");
    assert!(
        r["structuredContent"]["reached"].as_u64().unwrap() > 1,
        "{r}"
    );

    // Wrong arguments: -32602 with the request's id, nothing else lost.
    let m = c
        .call(
            json!(41),
            "tools/call",
            json!({"name": "metamcp__echo", "arguments": {}}),
        )
        .await;
    assert_eq!(m["id"], 41);
    assert_eq!(m["error"]["code"], -32602, "{m}");
    assert!(
        m["error"]["message"]
            .as_str()
            .unwrap()
            .contains("needs `text`"),
        "{m}"
    );
    let m = c
        .call(
            json!(42),
            "tools/call",
            json!({"name": "metamcp__echo", "arguments": [1]}),
        )
        .await;
    assert_eq!(m["error"]["code"], -32602, "{m}");
    // A task is refused (it does not run as one).
    let m = c
        .call(
            json!(43),
            "tools/call",
            json!({"name": "metamcp__echo", "arguments": {"text": "x"}, "task": {"ttl": 1000}}),
        )
        .await;
    assert_eq!(m["error"]["code"], -32602, "{m}");

    // 2026-07-28: the same call, stateless, is a complete result.
    let call = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
        "name": "metamcp__echo", "arguments": {"text": "now"}, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}}}});
    let r = c.post_stateless(&call).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let m = response_message(&r);
    assert_eq!(m["id"], 9);
    assert_eq!(m["result"]["resultType"], "complete", "{m}");
    assert_eq!(text_of(&m["result"]), "said: now");
    // Two good calls and the refused ones with bad arguments ran; the task did not.
    assert_eq!(echo.calls.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn a_namespace_renames_rates_and_disables_a_gateway_tool() {
    let (gw, _beta, _echo) = with_echo().await;
    let ns = json!({"name": "team", "servers": ["beta"],
                    "tools": {"metamcp__echo": {"name": "say", "description": "Says it",
                                                "rate": "1/m"}}});
    let made = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let mut c = Client::new(gw.addr, "/mcp/team", Some(&gw.client_key));
    c.initialize().await;
    let say = listed(&c, "say").await;
    assert_eq!(say["description"], "Says it");
    assert!(!tools(&c).await.iter().any(|t| t["name"] == "metamcp__echo"));
    let r = c
        .result(
            "tools/call",
            json!({"name": "say", "arguments": {"text": "once"}}),
        )
        .await;
    assert_eq!(text_of(&r), "said: once");
    // Its rate is one a minute per key.
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "say", "arguments": {"text": "twice"}}}))
        .await;
    assert_eq!(r.status, 429, "{}", r.text());
    let m = r.json();
    assert_eq!(
        (m["id"].clone(), m["error"]["code"].clone()),
        (json!(2), json!(-32029)),
        "{m}"
    );
    assert_eq!(m["error"]["data"]["limit"], "tool_rate", "{m}");

    let off = json!({"name": "quiet", "servers": ["beta"],
                     "tools": {"metamcp__echo": {"enabled": false}}});
    let made = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &off).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let mut q = Client::new(gw.addr, "/mcp/quiet", Some(&gw.client_key));
    q.initialize().await;
    eventually(WAIT, "the quiet namespace lists beta's tools", || async {
        tools(&q)
            .await
            .iter()
            .any(|t| t["name"] == "beta__echo")
            .then_some(())
    })
    .await;
    assert!(!tools(&q).await.iter().any(|t| t["name"] == "metamcp__echo"));
    let m = q
        .call(
            json!(3),
            "tools/call",
            json!({"name": "metamcp__echo", "arguments": {"text": "x"}}),
        )
        .await;
    assert_eq!(m["error"]["code"], -32602, "{m}");
    assert!(
        m["error"]["message"].as_str().unwrap().contains("disabled"),
        "{m}"
    );
}

#[tokio::test]
async fn a_gateway_tool_wins_its_name_and_the_clash_is_reported() {
    let (gw, _beta, _echo) = with_echo().await;
    // Without prefixes the gateway's `echo` and beta's `echo` share a name.
    let ns = json!({"name": "bare", "servers": ["beta"], "tool_prefix": "never"});
    let made = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let mut c = Client::new(gw.addr, "/mcp/bare", Some(&gw.client_key));
    c.initialize().await;
    listed(&c, "add").await;
    let echoes: Vec<Value> = tools(&c)
        .await
        .into_iter()
        .filter(|t| t["name"] == "echo")
        .collect();
    assert_eq!(echoes.len(), 1, "{echoes:?}");
    assert_eq!(
        echoes[0]["description"],
        "Says the text back (the gateway's own)"
    );
    let r = c
        .result(
            "tools/call",
            json!({"name": "echo", "arguments": {"text": "mine"}}),
        )
        .await;
    assert_eq!(text_of(&r), "said: mine");
    let shown = send_json(
        gw.addr,
        "GET",
        "/api/v1/namespaces/bare",
        &gw.admin_key,
        &json!(null),
    )
    .await;
    assert!(
        shown
            .text()
            .contains("exposed under the name of a gateway tool"),
        "{}",
        shown.text()
    );
}

#[tokio::test]
async fn a_namespace_that_validates_arguments_checks_a_gateway_tools_too() {
    let (gw, _beta, echo) = with_echo().await;
    let ns = json!({"name": "strict", "servers": ["beta"], "validate_arguments": true});
    let made = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let mut c = Client::new(gw.addr, "/mcp/strict", Some(&gw.client_key));
    c.initialize().await;
    listed(&c, "metamcp__echo").await;
    let m = c
        .call(
            json!(5),
            "tools/call",
            json!({"name": "metamcp__echo", "arguments": {"text": 1}}),
        )
        .await;
    assert_eq!(m["error"]["data"]["pointer"], "/text", "{m}");
    assert_eq!(
        echo.calls.load(Ordering::Relaxed),
        0,
        "refused before it ran"
    );
    let r = c
        .result(
            "tools/call",
            json!({"name": "metamcp__echo", "arguments": {"text": "ok"}}),
        )
        .await;
    assert_eq!(text_of(&r), "said: ok");
}
