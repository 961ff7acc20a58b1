//! npm server-everything behind the gateway, every tool it lists called by one client
//! declaring every capability, in each era: its questions (sampling, form and URL
//! elicitation, roots, and tasks the client runs for it) reach the client and its
//! answers come back; its task-only tool runs as a task; progress arrives. A client
//! declaring nothing is offered none of the tools that need a capability and is never
//! asked anything.

use crate::support::PEER_WAIT;
use std::collections::HashMap;
use std::time::Duration;

use crate::support::gateway::{TestGateway, with_everything};
use crate::support::mcp::{Client, messages, post_streaming, response_message};
use serde_json::{Value, json};

const URL_TOOL: &str = "everything__trigger-url-elicitation";

/// Arguments for a tool: the ones that need a say, else a value for each required
/// property of its schema.
fn arguments(tool: &Value) -> Value {
    let name = tool["name"].as_str().unwrap_or_default();
    match name.trim_start_matches("everything__") {
        "trigger-long-running-operation" => return json!({"duration": 1, "steps": 3}),
        "gzip-file-as-resource" => {
            return json!({"name": "hello.gz", "data": "data:text/plain;base64,aGVsbG8=",
                          "outputType": "resource"});
        }
        "simulate-research-query" => return json!({"topic": "python", "ambiguous": true}),
        "trigger-url-elicitation" => return json!({"url": "https://example.com/consent"}),
        _ => {}
    }
    fill(&tool["inputSchema"], true)
}

/// A value for a JSON schema: its default, its first choice, or one of its type; for an
/// object, its required properties (all of them when `all`).
fn fill(schema: &Value, required_only: bool) -> Value {
    if let Some(d) = schema.get("default") {
        return d.clone();
    }
    if let Some(first) = schema["enum"].get(0).or(schema["oneOf"][0].get("const")) {
        return first.clone();
    }
    match schema["type"].as_str().unwrap_or("object") {
        "string" => match schema["format"].as_str() {
            Some("email") => json!("user@example.com"),
            Some("uri") => json!("https://example.com"),
            Some("date") => json!("2026-11-24"),
            Some("date-time") => json!("2026-11-24T00:00:00Z"),
            _ => json!("yes"),
        },
        "number" | "integer" => json!(schema["minimum"].as_f64().unwrap_or(1.0).max(1.0) as i64),
        "boolean" => json!(true),
        "array" => json!([fill(&schema["items"], true)]),
        _ => {
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut out = serde_json::Map::new();
            if let Some(props) = schema["properties"].as_object() {
                for (k, p) in props {
                    if !required_only || required.contains(&k.as_str()) {
                        out.insert(k.clone(), fill(p, true));
                    }
                }
            }
            Value::Object(out)
        }
    }
}

/// The user: answers the backend's questions, and runs the tasks it is asked to.
#[derive(Default)]
struct User {
    /// Each client-run task's result, by task id.
    tasks: HashMap<String, Value>,
    asked: Vec<String>,
}

impl User {
    /// The answer to a question (`method`, `params`), for either era.
    fn answer(&mut self, method: &str, params: &Value) -> Value {
        self.asked.push(method.to_string());
        let answer = match method {
            "sampling/createMessage" => {
                json!({"role": "assistant", "model": "test-model", "stopReason": "endTurn",
                       "content": {"type": "text", "text": "an answer from the user's model"}})
            }
            "elicitation/create" if params["mode"] == "url" => json!({"action": "accept"}),
            "elicitation/create" => json!({"action": "accept",
                                           "content": fill(&params["requestedSchema"], false)}),
            "roots/list" => json!({"roots": [{"uri": "file:///tmp/everything", "name": "work"}]}),
            "tasks/get" => {
                let id = params["taskId"].as_str().unwrap_or_default();
                assert!(
                    self.tasks.contains_key(id),
                    "a task of the client's: {params}"
                );
                return task(id, "completed");
            }
            "tasks/result" => {
                let id = params["taskId"].as_str().unwrap_or_default();
                return self.tasks.get(id).cloned().expect("a task of the client's");
            }
            "ping" => return json!({}),
            other => panic!("an unexpected question: {other} {params}"),
        };
        if params["task"].is_object() {
            let id = format!("client-task-{}", self.tasks.len() + 1);
            self.tasks.insert(id.clone(), answer);
            return json!({"task": task(&id, "working")});
        }
        answer
    }
}

fn task(id: &str, status: &str) -> Value {
    json!({"taskId": id, "status": status, "createdAt": "2026-11-24T00:00:00Z",
           "lastUpdatedAt": "2026-11-24T00:00:00Z", "ttl": 300000, "pollInterval": 100})
}

/// Posts `request` on the session and follows its stream to the response: every
/// question answered by `user`, progress counted.
async fn follow(c: &Client, user: &mut User, request: &Value) -> (Value, usize) {
    let auth = format!("Bearer {}", c.key.as_deref().unwrap_or_default());
    let sid = c.session.clone().unwrap_or_default();
    let headers = [
        ("authorization", auth.as_str()),
        ("mcp-session-id", sid.as_str()),
        ("mcp-protocol-version", c.version.as_str()),
    ];
    let mut rx = post_streaming(c.addr, &c.path, &headers, request).await;
    let mut progress = 0;
    loop {
        let m = tokio::time::timeout(PEER_WAIT, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("{request}: no answer in time"))
            .unwrap_or_else(|| panic!("{request}: the stream ended without its answer"));
        if m["id"] == request["id"] && m.get("method").is_none() {
            return (m, progress);
        }
        let method = m["method"].as_str().unwrap_or_default();
        if method == "notifications/progress" {
            progress += 1;
        }
        if m.get("id").is_some() && !method.is_empty() {
            let answer = user.answer(method, &m["params"]);
            let reply = json!({"jsonrpc": "2.0", "id": m["id"], "result": answer});
            assert_eq!(c.post(&reply).await.status, 202, "{reply}");
        }
    }
}

fn every_capability() -> Value {
    json!({"sampling": {"tools": {}}, "roots": {"listChanged": true},
           "elicitation": {"form": {}, "url": {}},
           "tasks": {"requests": {"sampling": {"createMessage": {}}, "elicitation": {"create": {}}}}})
}

fn ok(tool: &str, m: &Value) -> Value {
    assert!(m.get("error").is_none(), "{tool}: {m}");
    assert_ne!(m["result"]["isError"], true, "{tool}: {m}");
    m["result"].clone()
}

#[tokio::test]
async fn every_tool_of_server_everything_works_for_a_session_client_declaring_everything() {
    let gw = with_everything(|_| {}).await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.version = "2025-11-25".into();
    c.initialize_with(every_capability()).await;
    let tools = c.result("tools/list", json!({})).await["tools"].clone();
    let tools = tools.as_array().expect("tools");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    for gated in [
        "everything__trigger-url-elicitation",
        "everything__trigger-sampling-request-async",
        "everything__trigger-elicitation-request-async",
        "everything__simulate-research-query",
        "everything__get-roots-list",
    ] {
        assert!(names.contains(&gated), "{gated} offered: {names:?}");
    }
    let mut user = User::default();
    for (n, tool) in tools.iter().enumerate() {
        let name = tool["name"].as_str().unwrap_or_default();
        let id = 100 + n as u64;
        let mut params = json!({"name": name, "arguments": arguments(tool),
                                "_meta": {"progressToken": format!("p{id}")}});
        let as_task = tool["execution"]["taskSupport"] == "required";
        if as_task {
            params["task"] = json!({"ttl": 60000});
        }
        let request = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params});
        let (m, progress) = follow(&c, &mut user, &request).await;
        let mut result = ok(name, &m);
        if as_task {
            let task_id = result["task"]["taskId"].clone();
            assert!(
                task_id.as_str().is_some_and(|t| t.starts_with("mtk1.")),
                "{m}"
            );
            let get = json!({"jsonrpc": "2.0", "id": id + 1000, "method": "tasks/result",
                             "params": {"taskId": task_id}});
            result = ok(name, &follow(&c, &mut user, &get).await.0);
        }
        if name.ends_with("trigger-long-running-operation") {
            assert!(progress >= 3, "{name}: {progress} progress notifications");
        }
        if name.ends_with("-async") {
            assert!(result.to_string().contains("COMPLETED"), "{name}: {result}");
        }
    }
    for asked in [
        "sampling/createMessage",
        "elicitation/create",
        "roots/list",
        "tasks/get",
        "tasks/result",
    ] {
        assert!(
            user.asked.iter().any(|a| a == asked),
            "{asked}: {:?}",
            user.asked
        );
    }
    assert!(
        !user.tasks.is_empty(),
        "the backend had the client run tasks"
    );

    // URL elicitation's error path: -32042 reaches the session client with its
    // elicitations, and the same call again goes on to ask the user.
    let args = json!({"url": "https://example.com/second", "errorPath": true});
    let request = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                         "params": {"name": URL_TOOL, "arguments": args}});
    let (m, _) = follow(&c, &mut user, &request).await;
    assert_eq!(m["error"]["code"], -32042, "{m}");
    assert_eq!(m["error"]["data"]["elicitations"][0]["mode"], "url", "{m}");
    let (m, _) = follow(&c, &mut user, &request).await;
    ok(URL_TOOL, &m);
}

/// The 2026-07-28 request of `method`, declaring everything the revision lets a client
/// declare.
fn stateless(id: u64, method: &str, mut params: Value) -> Value {
    let meta = params["_meta"].as_object().cloned().unwrap_or_default();
    let mut all = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {
            "sampling": {"tools": {}}, "roots": {}, "elicitation": {"form": {}, "url": {}},
            "extensions": {"io.modelcontextprotocol/tasks": {}}}});
    for (k, v) in meta {
        all[k] = v;
    }
    params["_meta"] = all;
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// A stateless request's response and the progress notifications before it.
async fn post(c: &Client, request: &Value) -> (Value, usize) {
    let r = c.post_stateless(request).await;
    let all = messages(&r);
    let progress = all
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .count();
    (response_message(&r), progress)
}

/// The answers to a round's `inputRequests`.
fn responses(user: &mut User, requests: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for (key, q) in requests.as_object().expect("inputRequests") {
        let method = q["method"].as_str().unwrap_or_default();
        out.insert(key.clone(), user.answer(method, &q["params"]));
    }
    Value::Object(out)
}

#[tokio::test]
async fn every_tool_of_server_everything_works_for_a_2026_client_declaring_everything() {
    let gw = with_everything(|_| {}).await;
    let c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let (listed, _) = post(&c, &stateless(1, "tools/list", json!({}))).await;
    let tools = listed["result"]["tools"].as_array().expect("tools").clone();
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    for gated in [
        "everything__trigger-url-elicitation",
        "everything__simulate-research-query",
        "everything__get-roots-list",
        "everything__trigger-sampling-request",
    ] {
        assert!(names.contains(&gated), "{gated} offered: {names:?}");
    }
    // A 2026-07-28 client runs no tasks for a server: those tools are not its.
    assert!(!names.iter().any(|n| n.ends_with("-async")), "{names:?}");
    let mut user = User::default();
    let mut id = 10;
    for tool in &tools {
        let name = tool["name"].as_str().unwrap_or_default();
        let mut params = json!({"name": name, "arguments": arguments(tool),
                                "_meta": {"progressToken": format!("p{id}")}});
        let mut progress = 0;
        let result = loop {
            id += 1;
            let (m, p) = post(&c, &stateless(id, "tools/call", params.clone())).await;
            progress += p;
            let r = ok(name, &m);
            match r["resultType"].as_str() {
                Some("input_required") => {
                    params["inputResponses"] = responses(&mut user, &r["inputRequests"]);
                    params["requestState"] = r["requestState"].clone();
                    if r.get("requestState").is_none() {
                        params.as_object_mut().map(|p| p.remove("requestState"));
                    }
                }
                Some("task") => break poll(&c, &mut user, &mut id, name, &r).await,
                _ => break r,
            }
        };
        assert_eq!(result["resultType"], "complete", "{name}: {result}");
        if name.ends_with("trigger-long-running-operation") {
            assert!(progress >= 3, "{name}: {progress} progress notifications");
        }
    }
    for asked in ["sampling/createMessage", "elicitation/create", "roots/list"] {
        assert!(
            user.asked.iter().any(|a| a == asked),
            "{asked}: {:?}",
            user.asked
        );
    }

    // URL elicitation's error path (-32042, which a 2026-07-28 client never gets) is a
    // URL question; answered, the same call goes on to ask the user its own URL, and
    // completes.
    let mut params = json!({"name": URL_TOOL,
        "arguments": {"url": "https://example.com/second", "errorPath": true}});
    let mut urls = Vec::new();
    let mut result = Value::Null;
    for round in 0..4 {
        let (m, _) = post(&c, &stateless(900 + round, "tools/call", params.clone())).await;
        result = ok(URL_TOOL, &m);
        if result["resultType"] != "input_required" {
            break;
        }
        for q in result["inputRequests"].as_object().unwrap().values() {
            assert_eq!(q["params"]["mode"], "url", "{m}");
            urls.push(q["params"]["url"].as_str().unwrap_or_default().to_string());
        }
        params["inputResponses"] = responses(&mut user, &result["inputRequests"]);
        params["requestState"] = result["requestState"].clone();
    }
    assert_eq!(result["resultType"], "complete", "{result}");
    assert_eq!(
        urls,
        [
            "https://modelcontextprotocol.io",
            "https://example.com/second"
        ]
    );
}

/// Polls a task of the tasks extension to its end, answering its questions.
async fn poll(c: &Client, user: &mut User, id: &mut u64, name: &str, created: &Value) -> Value {
    let task_id = created["taskId"].clone();
    let deadline = tokio::time::Instant::now() + PEER_WAIT;
    loop {
        *id += 1;
        let (m, _) = post(c, &stateless(*id, "tasks/get", json!({"taskId": task_id}))).await;
        let t = ok(name, &m);
        match t["status"].as_str() {
            Some("completed") => {
                assert_eq!(t["resultType"], "complete", "{name}: {t}");
                let result = &t["result"];
                assert!(
                    result["content"].is_array() && result["isError"] != true,
                    "{name}: {t}"
                );
                return t;
            }
            Some("input_required") if t["inputRequests"].is_object() => {
                *id += 1;
                let update = json!({"taskId": task_id,
                                    "inputResponses": responses(user, &t["inputRequests"])});
                let (m, _) = post(c, &stateless(*id, "tasks/update", update)).await;
                ok(name, &m);
            }
            Some("working" | "input_required") => {}
            _ => panic!("{name}: {t}"),
        }
        assert!(tokio::time::Instant::now() < deadline, "{name}: {t}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_client_declaring_nothing_is_offered_nothing_gated_and_never_asked() {
    let gw: TestGateway = with_everything(|_| {}).await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.version = "2025-11-25".into();
    c.initialize_with(json!({})).await;
    let tools = c.result("tools/list", json!({})).await["tools"].clone();
    let tools = tools.as_array().expect("tools");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    for gated in [
        "trigger-url-elicitation",
        "trigger-sampling-request",
        "trigger-elicitation-request",
        "get-roots-list",
        "-async",
    ] {
        assert!(
            !names.iter().any(|n| n.contains(gated)),
            "{gated}: {names:?}"
        );
    }
    let mut user = User::default();
    for (n, tool) in tools.iter().enumerate() {
        let name = tool["name"].as_str().unwrap_or_default();
        if tool["execution"]["taskSupport"] == "required" {
            continue;
        }
        let request = json!({"jsonrpc": "2.0", "id": 200 + n, "method": "tools/call",
                             "params": {"name": name, "arguments": arguments(tool)}});
        let (m, _) = follow(&c, &mut user, &request).await;
        ok(name, &m);
    }
    assert!(user.asked.is_empty(), "asked: {:?}", user.asked);
}

/// A namespace's allow-list (`tools_default: disabled`): a client declaring every
/// capability is offered, finds and calls only the tools allowed. server-everything
/// offers more tools to such a client than to one declaring nothing; a namespace that
/// switched off every other tool it had seen still served those (all six, and
/// `search_tools` found them). A tool it never allowed is refused with the error of a
/// disabled tool, until an admin allows it (`keyadm namespaces set --allow`).
#[tokio::test]
async fn an_allow_list_namespace_offers_only_its_tools_to_every_client() {
    let gw: TestGateway = with_everything(|_| {}).await;
    let allowed = ["everything__echo", "everything__get-sum"];
    let keyadm = |args: Vec<String>| {
        let db = gw.db.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            crate::support::keyadm(&db, &args).await.expect("keyadm")
        }
    };
    let line = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
    let out = keyadm(line(&format!(
        "namespaces add team --server everything --tool-search off --tools-default disabled \
         --allow {} --allow {} --json",
        allowed[0], allowed[1]
    )))
    .await;
    let ns: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(ns["tools_default"], "disabled", "{ns}");
    // The REST object says the same.
    let r = crate::support::http::get(gw.addr, "/api/v1/namespaces/team", &gw.admin_key).await;
    assert_eq!(r.json()["tools_default"], "disabled", "{}", r.text());

    // Running gateways learn of keyadm's change by NOTIFY.
    crate::support::eventually(PEER_WAIT, "the namespace served", || async {
        gw.state.data.routing.load().view(Some("team")).map(|_| ())
    })
    .await;
    let mut c = Client::new(gw.addr, "/mcp/team", Some(&gw.client_key));
    c.version = "2025-11-25".into();
    c.initialize_with(every_capability()).await;
    let first = crate::support::eventually(PEER_WAIT, "the allow-list served", || async {
        let n = listed(&c).await;
        (n == allowed).then_some(n)
    })
    .await;
    assert_eq!(first, allowed);
    // A client declaring nothing too.
    let mut bare = Client::new(gw.addr, "/mcp/team", Some(&gw.client_key));
    bare.version = "2025-11-25".into();
    bare.initialize_with(json!({})).await;
    assert_eq!(listed(&bare).await, allowed);

    // A call of a tool never allowed: the error of a disabled tool, and no backend call.
    let gated = "everything__trigger-sampling-request";
    let m = c
        .call(
            json!(9),
            "tools/call",
            json!({"name": gated, "arguments": {"prompt": "hi"}}),
        )
        .await;
    assert_eq!(m["error"]["code"], -32602, "{m}");
    assert_eq!(
        m["error"]["message"],
        format!("tool {gated:?} is disabled in this namespace"),
        "{m}"
    );

    // Search finds nothing outside the list.
    keyadm(line("namespaces set team --tool-search on")).await;
    let found = crate::support::eventually(PEER_WAIT, "search mode", || async {
        let r = c
            .call(
                json!(10),
                "tools/call",
                json!({"name": "search_tools", "arguments": {"query": "sampling elicitation roots request"}}),
            )
            .await;
        r["result"]["structuredContent"]["tools"].as_array().cloned()
    })
    .await;
    let found: Vec<&str> = found.iter().filter_map(|t| t["name"].as_str()).collect();
    assert!(found.iter().all(|n| allowed.contains(n)), "{found:?}");

    // Allowed by an admin: offered and served (the other overrides kept).
    keyadm(line(&format!(
        "namespaces set team --tool-search off --allow {gated}"
    )))
    .await;
    crate::support::eventually(PEER_WAIT, "the tool allowed", || async {
        listed(&c).await.iter().any(|n| n == gated).then_some(())
    })
    .await;
    let mut now = allowed.to_vec();
    now.push(gated);
    now.sort();
    assert_eq!(listed(&c).await, now);

    // And taken off again (`--disallow`), the other entries kept; a tool given to both
    // flags is a usage error naming it, and changes nothing.
    let both = crate::support::keyadm(
        &gw.db,
        &line(&format!(
            "namespaces set team --allow {gated} --disallow {gated}"
        ))
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    )
    .await
    .unwrap_err();
    assert!(
        both.1.contains(gated) && both.1.contains("--disallow"),
        "{both:?}"
    );
    keyadm(line(&format!("namespaces set team --disallow {gated}"))).await;
    crate::support::eventually(PEER_WAIT, "the tool taken off", || async {
        (!listed(&c).await.iter().any(|n| n == gated)).then_some(())
    })
    .await;
    assert_eq!(listed(&c).await, allowed);
}

/// The names `tools/list` gives `c`, sorted.
async fn listed(c: &Client) -> Vec<String> {
    let tools = c.result("tools/list", json!({})).await["tools"].clone();
    let mut names: Vec<String> = tools
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str().map(String::from))
        .collect();
    names.sort();
    names
}
