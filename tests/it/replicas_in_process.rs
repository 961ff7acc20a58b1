//! Two replicas in one test process over one database (`TestGateway::beside`): what one
//! replica holds (a call waiting for its client's answers, a task) is reached through the
//! other, which passes the request on to the holder's address; and what a replica does
//! when the holder is gone. `tests/it/replicas.rs` runs the same ideas with gateway
//! processes, a balancer and the official SDKs; these keep the passing-on inside the
//! measured process, and add its failures; and a key's limits, counted in PostgreSQL for
//! both, shown by `GET /api/v1/keys/{id}`.

use crate::support;

use std::time::Duration;

use crate::support::eventually;
use crate::support::gateway::{TestGateway, limited_key, with_everything};
use crate::support::http::get;
use crate::support::mcp::{Client, response_message, text_of};
use crate::support::mock::Mock;
use metamcp::model::limits::{LimitsChange, Rate, Setting};
use serde_json::{Value, json};

fn on(gw: &TestGateway) -> Client {
    Client::new(gw.addr, "/mcp", Some(&gw.admin_key))
}

/// A 2026-07-28 `tools/call` of the mock's `ask`, asking one elicitation a round.
fn asking(rounds: &[&str]) -> Value {
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}});
    let rounds: Vec<Value> = rounds
        .iter()
        .map(|key| {
            json!([{"method": "elicitation/create", "key": key,
                    "params": {"message": key, "requestedSchema": {"type": "object", "properties": {}}}}])
        })
        .collect();
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
           "params": {"name": "mock__ask", "_meta": meta, "arguments": {"rounds": rounds}}})
}

fn answered(call: &Value, id: u64, key: &str, via: u64, state: &Value) -> Value {
    let mut retry = call.clone();
    retry["id"] = json!(id);
    retry["params"]["inputResponses"] = json!({key: {"action": "accept", "content": {"via": via}}});
    retry["params"]["requestState"] = state.clone();
    retry
}

async fn with_mock(gw: &TestGateway, others: &[&TestGateway], mock: &Mock) {
    gw.register(json!({"name": "mock", "protocol": "http", "url": mock.url()}))
        .await;
    for other in others {
        other.wait_status("mock", "running").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_reach_the_replica_holding_the_call_and_fail_clearly_once_it_is_gone() {
    let mut a = TestGateway::start().await;
    let b = a.beside(|_| {}).await;
    let mock = Mock::start(&["--profile", "rich"]);
    with_mock(&a, &[&b], &mock).await;

    // Asked on A, answered twice on B: B passes each retry to A, where the call waits.
    let call = asking(&["a", "b"]);
    let first = response_message(&on(&a).post_stateless(&call).await);
    assert_eq!(first["result"]["resultType"], "input_required", "{first}");
    let state = first["result"]["requestState"].clone();
    let m = response_message(
        &on(&b)
            .post_stateless(&answered(&call, 10, "a", 1, &state))
            .await,
    );
    assert_eq!(m["id"], 10, "{m}");
    assert_eq!(m["result"]["resultType"], "input_required", "{m}");
    let state = m["result"]["requestState"].clone();
    let m = response_message(
        &on(&b)
            .post_stateless(&answered(&call, 11, "b", 2, &state))
            .await,
    );
    assert_eq!(m["id"], 11, "{m}");
    assert_eq!(m["result"]["resultType"], "complete", "{m}");
    let answers: Value = serde_json::from_str(&text_of(&m["result"])).unwrap();
    assert_eq!(answers[0][0]["content"]["via"], 1, "{answers}");
    assert_eq!(answers[1][0]["content"]["via"], 2, "{answers}");
    assert_ne!(
        a.state.era.parked.replica, b.state.era.parked.replica,
        "two replicas, two identities"
    );

    // A retry whose state is not the gateway's, on B: the client's id and a message.
    let forged = answered(&call, 12, "a", 1, &json!("not-a-sealed-state"));
    let m = response_message(&on(&b).post_stateless(&forged).await);
    assert_eq!(m["id"], 12, "{m}");
    assert_eq!(m["error"]["code"], -32602, "{m}");
    // requestState on a method that has no rounds.
    let mut listing = json!({"jsonrpc": "2.0", "id": 13, "method": "tools/list", "params": {}});
    listing["params"]["requestState"] = state.clone();
    listing["params"]["_meta"] = call["params"]["_meta"].clone();
    let m = response_message(&on(&b).post_stateless(&listing).await);
    assert_eq!(m["id"], 13, "{m}");
    assert!(
        m["error"]["message"]
            .as_str()
            .is_some_and(|s| s.contains("requestState is only for")),
        "{m}"
    );

    // A new call waits on A; A goes away; its retry on B cannot be passed on: a 502
    // naming what happened, with the client's id, and B still serves everything else.
    let again = asking(&["c"]);
    let first = response_message(&on(&a).post_stateless(&again).await);
    assert_eq!(first["result"]["resultType"], "input_required", "{first}");
    let state = first["result"]["requestState"].clone();
    let stopped = a.begin_shutdown();
    tokio::time::timeout(Duration::from_secs(30), stopped)
        .await
        .expect("A stops")
        .expect("A's task");
    let r = on(&b)
        .post_stateless(&answered(&again, 14, "c", 3, &state))
        .await;
    assert_eq!(r.status, 502, "{}", r.text());
    let m = response_message(&r);
    assert_eq!(m["id"], 14, "{m}");
    assert!(
        m["error"]["message"]
            .as_str()
            .is_some_and(|s| s.contains("the replica holding this call did not answer")),
        "{m}"
    );
    let echo = on(&b)
        .post_stateless(&json!({"jsonrpc": "2.0", "id": 15, "method": "tools/call",
            "params": {"name": "mock__echo", "arguments": {"message": "still here"},
                       "_meta": call["params"]["_meta"].clone()}}))
        .await;
    assert_eq!(
        text_of(&response_message(&echo)["result"]),
        "still here",
        "{}",
        echo.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_and_its_task_opened_on_one_replica_are_served_by_the_other() {
    const RESEARCH: &str = "everything__simulate-research-query";
    let a = with_everything(|_| {}).await;
    let b = a.beside(|_| {}).await;
    b.wait_status("everything", "running").await;
    let mut on_a = on(&a);
    on_a.initialize_with(json!({"sampling": {}, "elicitation": {"form": {}}}))
        .await;
    let mut on_b = on(&b);
    on_b.session = on_a.session.clone();

    // The task starts on A; B learns of the session from the database and passes the
    // task's requests to A, which holds the task.
    let started = on_a
        .result(
            "tools/call",
            json!({"name": RESEARCH, "arguments": {"topic": "replicas"}, "task": {"ttl": 60000}}),
        )
        .await;
    let id = started["task"]["taskId"]
        .as_str()
        .expect("a task id")
        .to_string();
    let got = on_b.result("tasks/get", json!({"taskId": id})).await;
    assert_eq!(got["taskId"], id.as_str(), "{got}");
    let done = eventually(Duration::from_secs(30), "the task to complete", || async {
        let got = on_b.result("tasks/get", json!({"taskId": id})).await;
        (got["status"] == "completed").then_some(got)
    })
    .await;
    assert_eq!(done["taskId"], id.as_str(), "{done}");
    let result = on_b.result("tasks/result", json!({"taskId": id})).await;
    assert!(text_of(&result).contains("replicas"), "{result}");
    // An id that is nobody's is unknown on either replica.
    let forged = on_b
        .call(json!(7), "tasks/get", json!({"taskId": "mtk1.forged"}))
        .await;
    assert!(forged["error"].is_object(), "{forged}");
    // An ordinary call of the session on B.
    let listed = on_b.result("tools/list", json!({})).await;
    assert!(
        listed["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["name"] == RESEARCH)),
        "{listed}"
    );
}

/// A 2026-07-28 `tools/call` of the mock's `echo` through `gw` with `key`: the message.
async fn echo(gw: &TestGateway, key: &str, id: u64) -> Value {
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let r = Client::new(gw.addr, "/mcp", Some(key))
        .post_stateless(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "mock__echo", "arguments": {"message": "q"}, "_meta": meta}}))
        .await;
    response_message(&r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_quota_and_rate_are_counted_for_both_and_shown_by_the_key() {
    let mut a = TestGateway::start().await;
    let b = a.beside(|_| {}).await;
    let mock = Mock::start(&[]);
    with_mock(&a, &[&b], &mock).await;
    let store = support::gateway::key_store(&a.db);
    let (id, key) = limited_key(
        &store,
        "counted",
        LimitsChange {
            // A rate these calls never reach: tokens a replica leased and has not spent
            // stay with it, so a rate near the calls' own could refuse some of them on
            // the other replica (the leases' precision is tests/it/shared_limits.rs's).
            rate: Some(Setting::Is(Rate {
                count: 6000,
                per_minute: true,
            })),
            burst: Some(Some(400)),
            max_concurrent: Some(Setting::Is(3)),
            daily_calls: Some(Setting::Is(24)),
        },
    )
    .await;
    // 30 calls, alternating: the day's 24 and not one more, whichever replica is asked.
    let mut accepted = 0;
    for i in 0..30u64 {
        let m = echo(if i % 2 == 0 { &a } else { &b }, &key, i).await;
        assert_eq!(m["id"], i, "{m}");
        if m["result"].is_object() {
            accepted += 1;
        } else {
            assert_eq!(m["error"]["code"], -32029, "{m}");
            assert_eq!(m["error"]["data"]["limit"], "daily_calls", "{m}");
        }
    }
    assert_eq!(accepted, 24, "the quota, counted for both replicas");
    // A stops as a deploy stops it: what it reserved and did not spend goes back.
    let stopped = a.begin_shutdown();
    tokio::time::timeout(Duration::from_secs(30), stopped)
        .await
        .expect("A stops")
        .expect("A's task");
    let path = format!("/api/v1/keys/{id}");
    let shown = eventually(
        Duration::from_secs(10),
        "the day's calls counted",
        || async {
            let shown = get(b.addr, &path, &b.admin_key).await.json();
            (shown["use"]["daily_calls"]["used"] == 24).then_some(shown)
        },
    )
    .await;
    let used = &shown["use"];
    assert_eq!(used["daily_calls"]["limit"], 24, "{shown}");
    assert!(used["daily_calls"]["resets_at"].is_string(), "{shown}");
    assert_eq!(used["rate"]["limit"], "6000/m", "{shown}");
    assert_eq!(used["rate"]["burst"], 400, "{shown}");
    let available = used["rate"]["available"]
        .as_f64()
        .expect("tokens available");
    assert!((0.0..=400.0).contains(&available), "{shown}");
    assert_eq!(used["max_concurrent"]["limit"], 3, "{shown}");
    assert_eq!(used["max_concurrent"]["held"], 0, "{shown}");
    assert!(shown.get("secret").is_none() && !shown.to_string().contains(&key));
    // The usage report carries the day's count; a client key reads only itself.
    let usage = get(b.addr, &format!("/api/v1/usage?key={id}"), &b.admin_key)
        .await
        .json();
    assert_eq!(usage["daily_calls"]["used"], 24, "{usage}");
    assert_eq!(get(b.addr, &path, &key).await.status, 200);
    let other = get(b.addr, "/api/v1/keys/admin", &key).await;
    assert_eq!(other.status, 403, "{}", other.text());
    assert!(other.text().contains("only itself"), "{}", other.text());
    for unknown in ["/api/v1/keys/nobody", "/api/v1/keys/mk_0000"] {
        let r = get(b.addr, unknown, &b.admin_key).await;
        assert_eq!(r.status, 404, "{unknown}: {}", r.text());
    }
}
