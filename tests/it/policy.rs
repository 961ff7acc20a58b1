//! The policy phase of a call: `validate_arguments` (a namespace's, off by default)
//! refuses a `tools/call` whose arguments do not match the tool's `inputSchema` with
//! -32602 naming the JSON pointer, before the backend sees it; a policy added to every
//! view (`State::police`, here a test-only one) may refuse calls, over MCP and REST
//! execution alike, and sees their answers.

use std::sync::{Arc, Mutex};

use crate::support::eventually;
use crate::support::gateway::TestGateway;
use crate::support::http::send_json;
use crate::support::mcp::{Client, response_message, text_of};
use crate::support::mock::Mock;
use serde_json::{Value, json};

use metamcp::policy::{Call, Called, Policy, Refusal};

const WAIT: std::time::Duration = std::time::Duration::from_secs(10);

async fn gateway() -> (TestGateway, Mock) {
    let gw = TestGateway::start().await;
    let beta = Mock::start(&["--profile", "rich"]);
    gw.register(json!({"name": "beta", "protocol": "http", "url": beta.url()}))
        .await;
    (gw, beta)
}

async fn namespace(gw: &TestGateway, body: Value) {
    let made = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &body).await;
    assert_eq!(made.status, 201, "{}", made.text());
}

async fn client(gw: &TestGateway, path: &str) -> Client {
    let mut c = Client::new(gw.addr, path, Some(&gw.client_key));
    c.initialize().await;
    eventually(WAIT, "beta's tools are listed", || async {
        let names = c.tool_names().await;
        names.iter().any(|n| n == "beta__add").then_some(())
    })
    .await;
    c
}

async fn adds(beta: &Mock) -> u64 {
    beta.control("GET", "/control/stats").await["calls"]["add"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test]
async fn validate_arguments_refuses_a_mismatch_before_the_backend_sees_it() {
    let (gw, beta) = gateway().await;
    namespace(
        &gw,
        json!({"name": "strict", "servers": ["beta"], "validate_arguments": true}),
    )
    .await;
    namespace(&gw, json!({"name": "loose", "servers": ["beta"]})).await;
    let shown = send_json(
        gw.addr,
        "GET",
        "/api/v1/namespaces/strict",
        &gw.admin_key,
        &json!(null),
    )
    .await;
    assert_eq!(shown.json()["validate_arguments"], true, "{}", shown.text());
    let strict = client(&gw, "/mcp/strict").await;

    let m = strict
        .call(
            json!(7),
            "tools/call",
            json!({"name": "beta__add", "arguments": {"a": "1", "b": 2}}),
        )
        .await;
    assert_eq!(m["id"], 7);
    assert_eq!(m["error"]["code"], -32602, "{m}");
    assert_eq!(m["error"]["data"]["pointer"], "/a", "{m}");
    let message = m["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("argument /a must be a number"),
        "{message}"
    );
    let m = strict
        .call(
            json!(8),
            "tools/call",
            json!({"name": "beta__add", "arguments": {"a": 1}}),
        )
        .await;
    assert!(
        m["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"b\" is required"),
        "{m}"
    );
    let m = strict
        .call(json!(9), "tools/call", json!({"name": "beta__add"}))
        .await;
    assert_eq!(m["error"]["code"], -32602, "{m}");
    assert_eq!(adds(&beta).await, 0, "the backend saw none of them");

    // A matching call goes through; so does a 2026-07-28 one, and its mismatch is
    // refused the same way.
    let r = strict
        .result(
            "tools/call",
            json!({"name": "beta__add", "arguments": {"a": 1, "b": 2.5}}),
        )
        .await;
    assert_eq!(text_of(&r), "3.5");
    let stateless = |id: u64, a: Value| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
            "name": "beta__add", "arguments": {"a": a, "b": 1}, "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {}}}})
    };
    let m = response_message(&strict.post_stateless(&stateless(10, json!(true))).await);
    assert_eq!(
        (m["id"].clone(), m["error"]["code"].clone()),
        (json!(10), json!(-32602)),
        "{m}"
    );
    let m = response_message(&strict.post_stateless(&stateless(11, json!(2))).await);
    assert_eq!(text_of(&m["result"]), "3", "{m}");
    assert_eq!(adds(&beta).await, 2);

    // Off by default: the same mismatch reaches the backend, which answers it.
    let loose = client(&gw, "/mcp/loose").await;
    let m = loose
        .call(
            json!(12),
            "tools/call",
            json!({"name": "beta__add", "arguments": {"a": "1", "b": 2}}),
        )
        .await;
    assert!(
        m["error"]["message"]
            .as_str()
            .unwrap()
            .contains("add needs numbers"),
        "{m}"
    );
    assert_eq!(adds(&beta).await, 3);
    // And with no policy anywhere the views carry none (the phase is skipped).
    let table = gw.state.data.routing.load();
    assert!(table.view(None).unwrap().policies.is_empty());
    assert!(table.view(Some("loose")).unwrap().policies.is_empty());
    assert_eq!(table.view(Some("strict")).unwrap().policies.len(), 1);

    // A bad setting is refused with the field named.
    let bad = send_json(
        gw.addr,
        "PUT",
        "/api/v1/namespaces/loose",
        &gw.admin_key,
        &json!({"validate_arguments": "yes"}),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("validate_arguments"), "{}", bad.text());
}

/// Refuses calls of `beta__fail`; records what it saw of the others' answers.
#[derive(Default)]
struct Guard {
    seen: Mutex<Vec<(String, String, String)>>,
}

impl Policy for Guard {
    fn name(&self) -> &str {
        "guard"
    }

    fn before(&self, call: &Call<'_>) -> Result<(), Refusal> {
        if call.called.tool == "beta__fail" {
            return Err(Refusal {
                code: -32001,
                message: format!("guard: {} is not allowed here", call.called.tool),
                data: Some(json!({"policy": "guard"})),
            });
        }
        Ok(())
    }

    fn sees_results(&self) -> bool {
        true
    }

    fn after(&self, called: &Called<'_>, answer: &[u8]) {
        self.seen.lock().unwrap().push((
            called.server.to_string(),
            called.tool.to_string(),
            String::from_utf8_lossy(answer).into_owned(),
        ));
    }
}

#[tokio::test]
async fn a_policy_of_every_view_refuses_calls_and_sees_their_answers() {
    let (gw, beta) = gateway().await;
    let guard = Arc::new(Guard::default());
    gw.state.police(guard.clone());
    let c = client(&gw, "/mcp").await;
    eventually(WAIT, "the policy is in the view", || async {
        (!gw.state
            .data
            .routing
            .load()
            .view(None)
            .unwrap()
            .policies
            .is_empty())
        .then_some(())
    })
    .await;
    let m = c
        .call(
            json!(3),
            "tools/call",
            json!({"name": "beta__fail", "arguments": {}}),
        )
        .await;
    assert_eq!(m["id"], 3);
    assert_eq!(m["error"]["code"], -32001, "{m}");
    assert_eq!(m["error"]["data"]["policy"], "guard", "{m}");
    assert_eq!(
        beta.control("GET", "/control/stats").await["calls"]["fail"],
        Value::Null,
        "never forwarded"
    );
    let r = c
        .result(
            "tools/call",
            json!({"name": "beta__echo", "arguments": {"message": "seen"}}),
        )
        .await;
    assert_eq!(text_of(&r), "seen");
    let seen = eventually(WAIT, "the policy saw the answer", || async {
        let seen = guard.seen.lock().unwrap().clone();
        (!seen.is_empty()).then_some(seen)
    })
    .await;
    assert_eq!(
        (seen[0].0.as_str(), seen[0].1.as_str()),
        ("beta", "beta__echo")
    );
    let answer: Value = serde_json::from_str(&seen[0].2).expect("the answer as JSON");
    assert_eq!(text_of(&answer["result"]), "seen", "{answer}");

    // A REST execution goes through the same phases: refused by the policy (400, the
    // policy's code and message), never forwarded; an allowed one is seen by it.
    let refused = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/beta/tools/fail/execute",
        &gw.client_key,
        &json!({}),
    )
    .await;
    assert_eq!(refused.status, 502, "{}", refused.text());
    assert_eq!(refused.json()["rpc_code"], -32001, "{}", refused.text());
    assert!(
        refused
            .text()
            .contains("guard: beta__fail is not allowed here"),
        "{}",
        refused.text()
    );
    assert_eq!(
        beta.control("GET", "/control/stats").await["calls"]["fail"],
        Value::Null,
        "never forwarded"
    );
    let done = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/beta/tools/echo/execute",
        &gw.client_key,
        &json!({"message": "over rest"}),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text());
    eventually(WAIT, "the policy saw the REST answer", || async {
        let seen = guard.seen.lock().unwrap().clone();
        seen.iter()
            .any(|(_, tool, answer)| tool == "beta__echo" && answer.contains("over rest"))
            .then_some(())
    })
    .await;
}
