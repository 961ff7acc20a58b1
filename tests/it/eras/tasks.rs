//! Tasks (MCP 2025-11-25) through the gateway, with npm server-everything behind it over
//! stdio: its `simulate-research-query` runs only as a task (`taskSupport: required`).
//! Task ids the client sees are the gateway's: they work with `tasks/get`,
//! `tasks/result`, `tasks/list` and `tasks/cancel`, and are nobody else's to read.

use crate::support;

use std::time::Duration;

use crate::support::eventually;
use crate::support::gateway::TestGateway;
use crate::support::mcp::{Client, next_notification, notification_stream, post_streaming};
use serde_json::{Value, json};

const RESEARCH: &str = "everything__simulate-research-query";

use crate::support::gateway::with_everything;

/// A session declaring every client capability (so the main child serves it).
async fn session(gw: &TestGateway, key: &str) -> Client {
    let mut c = Client::new(gw.addr, "/mcp", Some(key));
    let init = c
        .initialize_with(
            json!({"sampling": {"tools": {}}, "elicitation": {"form": {}, "url": {}},
                                "roots": {"listChanged": true}}),
        )
        .await;
    assert_eq!(
        init.json()["result"]["capabilities"]["tasks"],
        json!({"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}),
        "the gateway offers what its backend does"
    );
    c
}

async fn start_task(c: &Client, args: Value) -> Value {
    let r = c
        .result(
            "tools/call",
            json!({"name": RESEARCH, "arguments": args, "task": {"ttl": 60000}}),
        )
        .await;
    r["task"].clone()
}

#[tokio::test]
async fn a_task_runs_through_the_gateway_under_an_id_of_the_gateways() {
    let gw = with_everything(|_| {}).await;
    let c = session(&gw, &gw.client_key).await;
    let tools = c.result("tools/list", json!({})).await;
    let research = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == RESEARCH)
        .expect("the task tool is listed")
        .clone();
    assert_eq!(
        research["execution"]["taskSupport"], "required",
        "{research}"
    );
    // The session's stream hears the task's status changes, under the client's id.
    let mut stream = notification_stream(gw.addr, &c).await;

    let task = start_task(&c, json!({"topic": "rust"})).await;
    let id = task["taskId"].as_str().unwrap().to_string();
    assert!(id.starts_with("mtk1."), "a gateway task id: {task}");
    assert_eq!(task["status"], "working", "{task}");
    assert_eq!(task["pollInterval"], 1000, "{task}");
    let got = c.result("tasks/get", json!({"taskId": id})).await;
    assert_eq!(got["taskId"], id.as_str(), "{got}");
    assert!(
        ["working", "completed"].contains(&got["status"].as_str().unwrap()),
        "{got}"
    );
    let status = next_notification(&mut stream).await;
    assert_eq!(status["method"], "notifications/tasks/status", "{status}");
    assert_eq!(status["params"]["taskId"], id.as_str(), "{status}");

    // tasks/result waits for the end (four one-second stages, longer than nothing).
    let started = std::time::Instant::now();
    let result = c.result("tasks/result", json!({"taskId": id})).await;
    assert!(started.elapsed() >= Duration::from_millis(500));
    let text = support::mcp::text_of(&result);
    assert!(text.contains("rust"), "{result}");
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/related-task"]["taskId"],
        id.as_str(),
        "the related task is named as the client knows it: {result}"
    );
    let listed = c.result("tasks/list", json!({})).await;
    let mine: Vec<&Value> = listed["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["taskId"] == id.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "{listed}");
    assert_eq!(mine[0]["status"], "completed", "{listed}");

    // A task to cancel: cancelled, then known as cancelled.
    let other = start_task(&c, json!({"topic": "go"})).await;
    let oid = other["taskId"].as_str().unwrap();
    let cancelled = c.result("tasks/cancel", json!({"taskId": oid})).await;
    assert_eq!(cancelled["taskId"], oid, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    let again = c
        .call(json!(5), "tasks/cancel", json!({"taskId": oid}))
        .await;
    assert_eq!(again["error"]["code"], -32602, "a terminal task: {again}");

    // A call without `task` of a tool that needs one is refused by its backend.
    let plain = c
        .call(
            json!(6),
            "tools/call",
            json!({"name": RESEARCH, "arguments": {"topic": "x"}}),
        )
        .await;
    assert!(
        plain.get("error").is_some() || plain["result"]["isError"] == true,
        "{plain}"
    );
    assert!(plain.to_string().contains("task"), "{plain}");
}

#[tokio::test]
async fn a_task_that_needs_input_asks_the_client_on_its_result_stream() {
    let gw = with_everything(|_| {}).await;
    let c = session(&gw, &gw.client_key).await;
    let task = start_task(&c, json!({"topic": "python", "ambiguous": true})).await;
    let id = task["taskId"].as_str().unwrap();
    let auth = format!("Bearer {}", gw.client_key);
    let sid = c.session.clone().unwrap();
    let headers = [
        ("authorization", auth.as_str()),
        ("mcp-session-id", sid.as_str()),
        ("mcp-protocol-version", "2025-06-18"),
    ];
    let wait = json!({"jsonrpc": "2.0", "id": 9, "method": "tasks/result",
                      "params": {"taskId": id}});
    let mut rx = post_streaming(gw.addr, "/mcp", &headers, &wait).await;
    let mut asked = None;
    let result = loop {
        let m = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("the task goes on")
            .expect("the task's answer");
        if m["method"] == "elicitation/create" {
            asked = Some(m.clone());
            let answer = json!({"jsonrpc": "2.0", "id": m["id"], "result": {
                "action": "accept", "content": {"interpretation": "programming"}}});
            assert_eq!(c.post(&answer).await.status, 202);
        } else if m["id"] == 9 {
            break m;
        }
    };
    let asked = asked.expect("the backend asked the client");
    let related = &asked["params"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"];
    assert!(
        related.is_null() || related == id,
        "a related task is named as the client knows it: {asked}"
    );
    assert!(
        result["result"].to_string().contains("programming"),
        "the answer reached the backend: {result}"
    );
}

#[tokio::test]
async fn task_ids_are_nobody_elses_and_a_key_holds_few() {
    let gw = with_everything(|c| c.tasks.per_key = 3).await;
    let owner = session(&gw, &gw.client_key).await;
    let other_key = support::gateway::create_key(
        &support::gateway::key_store(&gw.db),
        "stranger",
        metamcp::store::keys::Scope::Client,
        &[],
    )
    .await;
    let stranger = session(&gw, &other_key).await;
    let task = start_task(&owner, json!({"topic": "a"})).await;
    let id = task["taskId"].as_str().unwrap().to_string();
    // Another key's task, an altered id, a made-up one, the backend's own kind of id:
    // all unknown, the same way.
    let mut altered = id.clone().into_bytes();
    let i = altered.len() - 5;
    altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    for (who, tid) in [
        (&stranger, id.as_str()),
        (&owner, altered.as_str()),
        (&owner, "mtk1.AAAA"),
        (&owner, "786512e2-9e0d-44bd-8f29-789f320fe840"),
    ] {
        for method in ["tasks/get", "tasks/result", "tasks/cancel"] {
            let m = who.call(json!(3), method, json!({"taskId": tid})).await;
            assert_eq!(m["error"]["code"], -32602, "{method} {tid}: {m}");
            assert_eq!(m["error"]["message"], "unknown task", "{m}");
        }
    }
    let theirs = stranger.result("tasks/list", json!({})).await;
    assert_eq!(theirs["tasks"], json!([]), "{theirs}");
    // The owner's task is untouched by all that.
    let got = owner.result("tasks/get", json!({"taskId": id})).await;
    assert_eq!(got["taskId"], id.as_str());
    // Three tasks per key here: the fourth is refused before the backend starts it.
    start_task(&owner, json!({"topic": "b"})).await;
    start_task(&owner, json!({"topic": "c"})).await;
    let refused = owner
        .post(&json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                      "params": {"name": RESEARCH, "arguments": {"topic": "d"},
                                 "task": {"ttl": 60000}}}))
        .await;
    assert_eq!(refused.status, 429, "{}", refused.text());
    let refused = refused.json();
    assert_eq!(refused["id"], 4, "{refused}");
    assert_eq!(refused["error"]["code"], -32029, "{refused}");
    assert_eq!(refused["error"]["data"]["limit"], "tasks", "{refused}");
    let listed = owner.result("tasks/list", json!({})).await;
    assert_eq!(listed["tasks"].as_array().unwrap().len(), 3, "{listed}");
    // The stranger's own bound is its own.
    start_task(&stranger, json!({"topic": "e"})).await;
}

/// A 2026-07-28 request: its `_meta` declares elicitation, and the tasks extension when
/// `ext`.
fn modern(id: u64, method: &str, mut params: Value, ext: bool) -> Value {
    let mut caps = json!({"elicitation": {}});
    if ext {
        caps["extensions"] = json!({"io.modelcontextprotocol/tasks": {}});
    }
    params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                             "io.modelcontextprotocol/clientCapabilities": caps});
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// The result of a 2026-07-28 request that must succeed.
async fn modern_result(c: &Client, id: u64, method: &str, params: Value) -> Value {
    let r = c.post_stateless(&modern(id, method, params, true)).await;
    let m = support::mcp::response_message(&r);
    assert!(m["result"].is_object(), "{method}: {m}");
    m["result"].clone()
}

/// `tasks/get` until `done` holds for the task (30 s at most).
async fn task_until(c: &Client, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    eventually(Duration::from_secs(30), "the task's state", || async {
        let t = modern_result(c, 20, "tasks/get", json!({"taskId": id})).await;
        done(&t).then_some(t)
    })
    .await
}

#[tokio::test]
async fn a_2026_client_runs_a_session_backends_task_through_the_tasks_extension() {
    let gw = with_everything(|_| {}).await;
    let c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let found = modern_result(&c, 1, "server/discover", json!({})).await;
    assert_eq!(
        found["capabilities"]["extensions"]["io.modelcontextprotocol/tasks"],
        json!({}),
        "{found}"
    );
    assert!(found["capabilities"]["tasks"].is_null(), "{found}");

    // Not declared: a tool that runs only as a task is refused, naming the extension;
    // so are the extension's methods.
    let call = json!({"name": RESEARCH, "arguments": {"topic": "rust"}});
    let refused = c
        .post_stateless(&modern(2, "tools/call", call.clone(), false))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    let refused = refused.json();
    assert_eq!(refused["id"], 2);
    assert_eq!(refused["error"]["code"], -32021, "{refused}");
    assert_eq!(
        refused["error"]["data"]["requiredCapabilities"]["extensions"]["io.modelcontextprotocol/tasks"],
        json!({}),
        "{refused}"
    );
    let gated = c
        .post_stateless(&modern(3, "tasks/get", json!({"taskId": "x"}), false))
        .await;
    assert_eq!(gated.json()["error"]["code"], -32021, "{}", gated.text());

    // Declared: a flat task under a gateway id, never the 2025-11-25 shape.
    let task = modern_result(&c, 4, "tools/call", call).await;
    assert_eq!(task["resultType"], "task", "{task}");
    let id = task["taskId"].as_str().expect("a task id").to_string();
    assert!(id.starts_with("mtk1."), "{task}");
    assert!(
        task.get("task").is_none() && task.get("ttl").is_none(),
        "{task}"
    );
    assert_eq!(task["pollIntervalMs"], 1000, "{task}");
    assert!(
        task["createdAt"].is_string() && task.get("ttlMs").is_some(),
        "{task}"
    );
    // Read until it ends: the result inlined, without the old `related-task`.
    let done = task_until(&c, &id, |t| t["status"] != "working").await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["resultType"], "complete", "{done}");
    assert_eq!(done["taskId"], id.as_str());
    assert!(
        support::mcp::text_of(&done["result"]).contains("rust"),
        "{done}"
    );
    assert!(
        done["result"]["_meta"]["io.modelcontextprotocol/related-task"].is_null(),
        "{done}"
    );
    // Cancelling an ended task is acknowledged all the same, with nothing but that.
    let ack = modern_result(&c, 5, "tasks/cancel", json!({"taskId": id})).await;
    assert_eq!(ack, json!({"resultType": "complete"}));
    // The 2025-11-25 methods are not the extension's.
    for method in ["tasks/result", "tasks/list"] {
        let r = c
            .post_stateless(&modern(6, method, json!({"taskId": id}), true))
            .await;
        assert_eq!(r.status, 404, "{method}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], -32601, "{}", r.text());
    }
    // A header naming another task is refused.
    let wrong = c
        .post_raw(
            modern(7, "tasks/get", json!({"taskId": id}), true)
                .to_string()
                .as_bytes(),
            &[
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tasks/get"),
                ("mcp-name", "another-task"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 400, "{}", wrong.text());
    assert_eq!(wrong.json()["error"]["code"], -32020, "{}", wrong.text());

    // A task that needs input: its question is the task's `inputRequests`, and
    // `tasks/update` answers it.
    let call = json!({"name": RESEARCH, "arguments": {"topic": "python", "ambiguous": true}});
    let task = modern_result(&c, 8, "tools/call", call).await;
    let id = task["taskId"].as_str().unwrap().to_string();
    let waiting = task_until(&c, &id, |t| t["status"] == "input_required").await;
    let asks = waiting["inputRequests"].as_object().expect("its questions");
    assert_eq!(asks.len(), 1, "{waiting}");
    let (key, ask) = asks.iter().next().unwrap();
    assert_eq!(ask["method"], "elicitation/create", "{waiting}");
    let related = &ask["params"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"];
    assert!(related.is_null() || related == id.as_str(), "{waiting}");
    // An answer that is no object is refused; one to no question is ignored.
    let bad = c
        .post_stateless(&modern(
            9,
            "tasks/update",
            json!({"taskId": id, "inputResponses": {key.clone(): "yes"}}),
            true,
        ))
        .await;
    assert_eq!(bad.json()["error"]["code"], -32602, "{}", bad.text());
    let answer = json!({"action": "accept", "content": {"interpretation": "programming"}});
    let ack = modern_result(
        &c,
        10,
        "tasks/update",
        json!({"taskId": id, "inputResponses": {key.clone(): answer, "nobody": {}}}),
    )
    .await;
    assert_eq!(ack, json!({"resultType": "complete"}));
    let done = task_until(&c, &id, |t| {
        ["completed", "failed", "cancelled"].contains(&t["status"].as_str().unwrap_or(""))
    })
    .await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(
        done["result"].to_string().contains("programming"),
        "the answer reached the backend: {done}"
    );

    // Another key knows none of this key's tasks.
    let other_key = support::gateway::create_key(
        &support::gateway::key_store(&gw.db),
        "stranger",
        metamcp::store::keys::Scope::Client,
        &[],
    )
    .await;
    let stranger = Client::new(gw.addr, "/mcp", Some(&other_key));
    for (method, params) in [
        ("tasks/get", json!({"taskId": id})),
        ("tasks/cancel", json!({"taskId": id})),
        ("tasks/update", json!({"taskId": id, "inputResponses": {}})),
    ] {
        let r = stranger
            .post_stateless(&modern(11, method, params, true))
            .await;
        let m = r.json();
        assert_eq!(m["error"]["code"], -32602, "{method}: {m}");
        assert_eq!(m["error"]["message"], "unknown task", "{m}");
    }
}

/// `METAMCP_KEY_MAX_TASKS` holds under concurrency: twelve task calls of one key sent at
/// once, with room for five, create five tasks; the other seven are refused (429,
/// -32029) before the backend starts anything, and the key lists five.
#[tokio::test]
async fn a_keys_task_bound_holds_when_its_calls_race() {
    let gw = with_everything(|c| c.tasks.per_key = 5).await;
    let owner = session(&gw, &gw.client_key).await;
    let calls = (0..12).map(|i| {
        let owner = &owner;
        async move {
            owner
                .post(
                    &json!({"jsonrpc": "2.0", "id": 100 + i, "method": "tools/call",
                              "params": {"name": RESEARCH, "arguments": {"topic": format!("t{i}")},
                                         "task": {"ttl": 60000}}}),
                )
                .await
        }
    });
    let answers = futures_util::future::join_all(calls).await;
    let created = answers
        .iter()
        .filter(|r| r.status == 200 && r.json()["result"]["task"]["taskId"].is_string())
        .count();
    let refused = answers
        .iter()
        .filter(|r| r.status == 429 && r.json()["error"]["code"] == -32029)
        .count();
    assert_eq!(
        (created, refused),
        (5, 7),
        "{:?}",
        answers.iter().map(|r| r.text()).collect::<Vec<_>>()
    );
    let listed = owner.result("tasks/list", json!({})).await;
    assert_eq!(listed["tasks"].as_array().unwrap().len(), 5, "{listed}");
}

/// Task calls inside a 2025-03-26 batch are task calls like any other: each created
/// task is given the gateway's id (never the backend's) and recorded, so `tasks/get`
/// finds it, and the key's bound applies: eight in a batch with room for five make five.
#[tokio::test]
async fn task_calls_in_a_batch_get_the_gateways_ids_and_count_against_the_bound() {
    let gw = with_everything(|c| c.tasks.per_key = 5).await;
    let mut old = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    old.version = "2025-03-26".into();
    old.initialize_with(
        json!({"sampling": {"tools": {}}, "elicitation": {"form": {}, "url": {}},
                                "roots": {"listChanged": true}}),
    )
    .await;
    let batch: Vec<Value> = (0..8)
        .map(|i| {
            json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                   "params": {"name": RESEARCH, "arguments": {"topic": format!("b{i}")},
                              "task": {"ttl": 60000}}})
        })
        .collect();
    let r = old
        .post_raw(&serde_json::to_vec(&batch).unwrap(), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let answers = r.json();
    let answers = answers.as_array().unwrap();
    assert_eq!(answers.len(), 8, "{answers:?}");
    let ids: Vec<String> = answers
        .iter()
        .filter_map(|a| a["result"]["task"]["taskId"].as_str().map(String::from))
        .collect();
    assert_eq!(ids.len(), 5, "{answers:?}");
    assert!(ids.iter().all(|id| id.starts_with("mtk1.")), "{ids:?}");
    let refused = answers
        .iter()
        .filter(|a| a["error"]["code"] == -32029)
        .count();
    assert_eq!(refused, 3, "{answers:?}");
    let got = old.result("tasks/get", json!({"taskId": ids[0]})).await;
    assert_eq!(got["taskId"], ids[0].as_str(), "{got}");
}

/// Under `max_concurrent` 1 a task of server-everything holds its key's place while it
/// runs: a call meanwhile is refused, saying a task holds it. Reading the task takes no
/// place of its own, but a key's reads waiting at once are bounded
/// (`METAMCP_KEY_MAX_TASKS`, two here): of three `tasks/result` sent at once, two wait
/// for the task's end and get its result, the third is refused at once. Once the task
/// has ended, the key's place is back.
#[tokio::test]
async fn a_running_task_holds_its_keys_place_and_its_reads_are_bounded() {
    let gw = with_everything(|c| c.tasks.per_key = 2).await;
    let key = crate::support::gateway::one_place_key(&gw.db).await;
    let c = session(&gw, &key).await;
    let task = start_task(&c, json!({"topic": "places", "ambiguous": false})).await;
    let id = task["taskId"].as_str().expect("a task").to_string();

    // Any answer, a refusal (429) included.
    let ask = |id: u64, method: &'static str, params: Value| {
        let c = &c;
        async move {
            let m = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
            support::mcp::response_message(&c.post(&m).await)
        }
    };
    let echo = json!({"name": "everything__echo", "arguments": {"message": "meanwhile"}});
    let refused = ask(2, "tools/call", echo.clone()).await;
    assert_eq!(refused["error"]["code"], -32029, "{refused}");
    assert_eq!(
        refused["error"]["data"]["limit_name"], "concurrency",
        "{refused}"
    );
    let says = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(says.contains("tasks not yet seen to end"), "{refused}");

    let reads = (0..3).map(|i| ask(10 + i, "tasks/result", json!({"taskId": id})));
    let reads = futures_util::future::join_all(reads).await;
    let ended = reads
        .iter()
        .filter(|m| support::mcp::text_of(&m["result"]).contains("places"))
        .count();
    let bounded = reads
        .iter()
        .filter(|m| {
            m["error"]["code"] == -32029
                && m["error"]["message"]
                    .as_str()
                    .is_some_and(|s| s.contains("METAMCP_KEY_MAX_TASKS"))
        })
        .count();
    assert_eq!((ended, bounded), (2, 1), "{reads:?}");

    let through = eventually(support::WAIT, "the key's place back", || async {
        let m = ask(20, "tools/call", echo.clone()).await;
        m.get("result").is_some().then_some(m)
    })
    .await;
    assert!(
        support::mcp::text_of(&through["result"]).contains("meanwhile"),
        "{through}"
    );
}
