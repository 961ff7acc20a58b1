//! Policies by identity (CEL): managed over REST (admin only, checked on write: `400`
//! with the line and the reason, bounded), applied to lists (a denied tool is absent
//! from `tools/list` and searches, per caller, `cacheScope: private` for 2026-07-28
//! clients) and to calls (`-32003` with `data.policy`, directly, by `call_tool`, in a
//! batch), rules on arguments, the dry run, and every replica reloading them by NOTIFY.

use crate::support;

use std::time::{Duration, Instant};

use crate::support::eventually;
use crate::support::gateway::TestGateway;
use crate::support::http::send_json;
use crate::support::mcp::Client;
use crate::support::mock::Mock;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

async fn gateway() -> (TestGateway, Mock) {
    let gw = TestGateway::start().await;
    let beta = Mock::start(&["--profile", "rich"]);
    gw.register(json!({"name": "beta", "protocol": "http", "url": beta.url()}))
        .await;
    (gw, beta)
}

async fn client(gw: &TestGateway, key: &str) -> Client {
    let mut c = Client::new(gw.addr, "/mcp", Some(key));
    c.initialize().await;
    eventually(WAIT, "beta's tools are listed", || async {
        c.tool_names()
            .await
            .iter()
            .any(|n| n == "beta__echo")
            .then_some(())
    })
    .await;
    c
}

async fn add_policy(gw: &TestGateway, name: &str, rules: Value) -> support::http::Resp {
    let body = json!({"name": name, "text": rules.to_string()});
    send_json(gw.addr, "POST", "/api/v1/policies", &gw.admin_key, &body).await
}

const DENY_ADD: &str = "principal.name == 'client' && tool.name == 'beta__add'";

#[tokio::test]
async fn policies_are_managed_by_admins_and_checked_on_write() {
    let (gw, _beta) = gateway().await;
    let get = |path: &'static str, key: String| {
        let addr = gw.addr;
        async move { send_json(addr, "GET", path, &key, &json!(null)).await }
    };
    let lang = get("/api/v1/policies/language", gw.admin_key.clone()).await;
    assert_eq!(lang.json(), json!({"language": "cel"}), "{}", lang.text());
    let denied = get("/api/v1/policies", gw.client_key.clone()).await;
    assert_eq!(denied.status, 403, "{}", denied.text());

    // Does not parse: the line of the rule and the reason.
    let text = "[\n  {\"effect\": \"deny\",\n   \"when\": \"tool.name == \"}\n]";
    let bad = send_json(
        gw.addr,
        "POST",
        "/api/v1/policies",
        &gw.admin_key,
        &json!({"name": "broken", "text": text}),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert_eq!(bad.json()["line"], 3, "{}", bad.text());
    assert!(
        bad.json()["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("CEL"),
        "{}",
        bad.text()
    );
    // Does not check: a variable no rule can read.
    let bad = add_policy(
        &gw,
        "unknown",
        json!([{"effect": "deny", "when": "user.name == 'x'"}]),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("unknown variable"), "{}", bad.text());
    // 10,000 rules: refused at once with the bound.
    let many: Vec<Value> = (0..10_000)
        .map(|i| json!({"effect": "deny", "when": format!("tool.name == 't{i}'")}))
        .collect();
    let started = Instant::now();
    let bad = add_policy(&gw, "huge", Value::Array(many)).await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("at most"), "{}", bad.text());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    let made = add_policy(&gw, "no-add", json!([{"effect": "deny", "when": DENY_ADD}])).await;
    assert_eq!(made.status, 201, "{}", made.text());
    assert_eq!(add_policy(&gw, "no-add", json!([])).await.status, 409);
    let listed = get("/api/v1/policies", gw.admin_key.clone()).await;
    assert_eq!(
        listed.json()["policies"][0]["name"],
        "no-add",
        "{}",
        listed.text()
    );
    assert_eq!(listed.json()["policies"][0]["namespace"], Value::Null);
    let changed = send_json(
        gw.addr,
        "PUT",
        "/api/v1/policies/no-add",
        &gw.admin_key,
        &json!({"text": "[]", "namespace": "dev"}),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    let one = get("/api/v1/policies/no-add", gw.admin_key.clone()).await;
    assert_eq!(
        (one.json()["text"].clone(), one.json()["namespace"].clone()),
        (json!("[]"), json!("dev"))
    );
    let gone = send_json(
        gw.addr,
        "DELETE",
        "/api/v1/policies/no-add",
        &gw.admin_key,
        &json!(null),
    )
    .await;
    assert_eq!(gone.status, 204);
    assert_eq!(
        get("/api/v1/policies/no-add", gw.admin_key.clone())
            .await
            .status,
        404
    );
    let nothing = send_json(
        gw.addr,
        "DELETE",
        "/api/v1/policies/no-add",
        &gw.admin_key,
        &json!(null),
    )
    .await;
    assert_eq!(nothing.status, 404);
}

#[tokio::test]
async fn a_denied_tool_is_absent_and_refused_everywhere_for_that_caller_only() {
    let (gw, beta) = gateway().await;
    let c = client(&gw, &gw.client_key).await;
    let admin = client(&gw, &gw.admin_key).await;
    let made = add_policy(
        &gw,
        "no-add",
        json!([{"effect": "deny", "when": DENY_ADD, "reason": "adding is for admins"}]),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    // Applied in this process before the answer.
    let names = c.tool_names().await;
    assert!(!names.iter().any(|n| n == "beta__add"), "{names:?}");
    assert!(names.iter().any(|n| n == "beta__echo"), "{names:?}");
    assert!(admin.tool_names().await.iter().any(|n| n == "beta__add"));

    let m = c
        .call(
            json!(7),
            "tools/call",
            json!({"name": "beta__add", "arguments": {"a": 1, "b": 2}}),
        )
        .await;
    assert_eq!(m["id"], 7, "{m}");
    assert_eq!(m["error"]["code"], -32003, "{m}");
    assert_eq!(m["error"]["data"]["policy"], "no-add", "{m}");
    assert!(
        m["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("adding is for admins"),
        "{m}"
    );
    // In a batch (2025-03-26 sessions): that entry refused, the other served.
    let mut old = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    old.version = "2025-03-26".into();
    old.initialize().await;
    let r = old
        .post(&json!([
            {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "beta__add", "arguments": {"a": 1, "b": 2}}},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "beta__echo", "arguments": {"message": "hi"}}}
        ]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let all = r.json();
    let by_id = |id: i64| {
        all.as_array()
            .and_then(|a| a.iter().find(|m| m["id"] == id))
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(by_id(1)["error"]["data"]["policy"], "no-add", "{all}");
    assert!(by_id(2)["result"].is_object(), "{all}");
    // The admin is served.
    let m = admin
        .call(
            json!(8),
            "tools/call",
            json!({"name": "beta__add", "arguments": {"a": 1, "b": 2}}),
        )
        .await;
    assert!(m["result"].is_object(), "{m}");
    // The backend saw the admin's add only.
    let adds = beta.control("GET", "/control/stats").await["calls"]["add"].as_u64();
    assert_eq!(adds, Some(1));

    // REST search does not find it for the client.
    let found = send_json(
        gw.addr,
        "GET",
        "/api/v1/tools/search?q=adds+two+numbers",
        &gw.client_key,
        &json!(null),
    )
    .await;
    assert_eq!(found.status, 200, "{}", found.text());
    let found = found.json();
    let names: Vec<&str> = found["results"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(!names.contains(&"beta__add"), "{names:?}");
    let found = send_json(
        gw.addr,
        "GET",
        "/api/v1/tools/search?q=adds+two+numbers",
        &gw.admin_key,
        &json!(null),
    )
    .await;
    assert!(found.text().contains("beta__add"), "{}", found.text());

    // A 2026-07-28 client's list filtered for it is private.
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let r = c
        .post_stateless(
            &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {"_meta": meta}}),
        )
        .await;
    assert_eq!(r.json()["result"]["cacheScope"], "private", "{}", r.text());
    assert!(!r.text().contains("beta__add"), "{}", r.text());

    // The dry run names the policy.
    let check = |principal: &str, tool: &str| {
        let body = json!({"principal": principal, "tool": tool});
        let (addr, key) = (gw.addr, gw.admin_key.clone());
        async move {
            send_json(addr, "POST", "/api/v1/policies/check", &key, &body)
                .await
                .json()
        }
    };
    let d = check("client", "beta__add").await;
    assert_eq!(
        (d["decision"].clone(), d["policy"].clone()),
        (json!("deny"), json!("no-add")),
        "{d}"
    );
    let d = check("admin", "beta__add").await;
    assert_eq!(
        (d["decision"].clone(), d["policy"].clone()),
        (json!("allow"), Value::Null),
        "{d}"
    );
    let unknown = send_json(
        gw.addr,
        "POST",
        "/api/v1/policies/check",
        &gw.admin_key,
        &json!({"principal": "nobody", "tool": "beta__add"}),
    )
    .await;
    assert_eq!(unknown.status, 400, "{}", unknown.text());
}

#[tokio::test]
async fn rules_on_arguments_decide_calls_and_confirm_refuses_a_client_that_cannot_be_asked() {
    let (gw, _beta) = gateway().await;
    let c = client(&gw, &gw.client_key).await;
    let made = add_policy(
        &gw,
        "echo-rules",
        json!([
            {"effect": "deny", "when": "tool.name == 'beta__echo' && arguments.message != 'hi'"},
            {"effect": "confirm", "when": "tool.name == 'beta__fail' && principal.scope == 'client'"}
        ]),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    // A rule on arguments cannot decide a listing: the tool stays listed.
    assert!(c.tool_names().await.iter().any(|n| n == "beta__echo"));
    let call = |id: i64, name: &str, arguments: Value| {
        c.call(
            json!(id),
            "tools/call",
            json!({"name": name, "arguments": arguments}),
        )
    };
    let m = call(1, "beta__echo", json!({"message": "hi"})).await;
    assert!(m["result"].is_object(), "{m}");
    let m = call(2, "beta__echo", json!({"message": "bye"})).await;
    assert_eq!(m["error"]["data"]["policy"], "echo-rules", "{m}");
    // Without the argument the rule cannot be evaluated: it denies (fail closed).
    let m = call(3, "beta__echo", json!({})).await;
    assert_eq!(m["error"]["code"], -32003, "{m}");
    // A call needing confirmation, from a client that declared no elicitation.
    let m = call(4, "beta__fail", json!({})).await;
    assert_eq!(m["error"]["data"]["confirm"], true, "{m}");
    assert!(
        m["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("confirmation"),
        "{m}"
    );
}

#[tokio::test]
async fn every_replica_applies_a_policy_within_a_second() {
    let (gw, _beta) = gateway().await;
    let other = gw.beside(|_| {}).await;
    let c = client(&other, &gw.client_key).await;
    let made = add_policy(&gw, "no-add", json!([{"effect": "deny", "when": DENY_ADD}])).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let written = Instant::now();
    eventually(WAIT, "the other replica applies the policy", || async {
        let m = c
            .call(
                json!(1),
                "tools/call",
                json!({"name": "beta__add", "arguments": {"a": 1, "b": 2}}),
            )
            .await;
        (m["error"]["data"]["policy"] == "no-add").then_some(())
    })
    .await;
    let took = written.elapsed();
    eprintln!("the other replica applied the policy after {took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let gone = send_json(
        gw.addr,
        "DELETE",
        "/api/v1/policies/no-add",
        &gw.admin_key,
        &json!(null),
    )
    .await;
    assert_eq!(gone.status, 204);
    eventually(WAIT, "the other replica drops the policy", || async {
        let m = c
            .call(
                json!(2),
                "tools/call",
                json!({"name": "beta__add", "arguments": {"a": 1, "b": 2}}),
            )
            .await;
        m["result"].is_object().then_some(())
    })
    .await;
}

#[tokio::test]
async fn keyadm_adds_checks_lists_and_removes_policies() {
    let (gw, _beta) = gateway().await;
    let keyadm = |args: &[&str]| support::run_bin(env!("CARGO_BIN_EXE_keyadm"), &gw.db.env(), args);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("p.json");
    std::fs::write(
        &file,
        json!([{"effect": "deny", "when": DENY_ADD}]).to_string(),
    )
    .expect("written");
    let path = file.to_string_lossy().to_string();
    let out = keyadm(&["policies", "add", "no-add", &path]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let out = keyadm(&["policies", "check", "client", "beta__add", "--json"]);
    let d: Value = serde_json::from_str(&support::stdout(&out)).expect("JSON");
    assert_eq!(
        (d["decision"].clone(), d["policy"].clone()),
        (json!("deny"), json!("no-add")),
        "{d}"
    );
    // The running gateway applied it (NOTIFY).
    let c = client(&gw, &gw.client_key).await;
    eventually(WAIT, "the gateway applies keyadm's policy", || async {
        let m = c
            .call(
                json!(1),
                "tools/call",
                json!({"name": "beta__add", "arguments": {"a": 1, "b": 2}}),
            )
            .await;
        (m["error"]["data"]["policy"] == "no-add").then_some(())
    })
    .await;
    let listed = support::stdout(&keyadm(&["policies", "list"]));
    assert!(listed.contains("no-add"), "{listed}");
    // A policy that does not compile: the line and the reason, nothing written.
    std::fs::write(
        &file,
        "[\n{\"effect\": \"deny\",\n \"when\": \"tool.name ==\"}]",
    )
    .expect("written");
    let out = keyadm(&["policies", "add", "broken", &path]);
    assert_eq!(out.status.code(), Some(65), "{}", support::stderr(&out));
    assert!(
        support::stderr(&out).contains("line 3"),
        "{}",
        support::stderr(&out)
    );
    assert!(!support::stdout(&keyadm(&["policies", "list"])).contains("broken"));
    let out = keyadm(&["policies", "remove", "no-add"]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let out = keyadm(&["policies", "remove", "no-add"]);
    assert!(!out.status.success());
}
