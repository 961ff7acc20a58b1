//! Policies: what decides whether a call runs, beside the key's reach.
//!
//! By identity (CEL): managed over REST (admin only, checked on write: `400` with the line
//! and the reason, bounded), applied to lists (a denied tool is absent from `tools/list`
//! and searches, per caller, `cacheScope: private` for 2026-07-28 clients) and to calls
//! (`-32003` with `data.policy`, directly, by `call_tool`, in a batch), rules on
//! arguments, the dry run, and every replica reloading them by NOTIFY.
//!
//! The policy phase itself (once `policy.rs`): `validate_arguments` (a namespace's, off by
//! default) refuses a `tools/call` whose arguments do not match the tool's `inputSchema`
//! with -32602 naming the JSON pointer, before the backend sees it; a policy added to
//! every view (`State::police`, here a test-only one) may refuse calls, over MCP and REST
//! execution alike, and sees their answers.

use crate::support;
use crate::support::WAIT;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::eventually;
use crate::support::gateway::TestGateway;
use crate::support::http::send_json;
use crate::support::mcp::{Client, response_message, text_of};
use crate::support::mock::Mock;
use serde_json::{Value, json};

use metamcp::policy::{Call, Called, Policy, Refusal};

/// A gateway with mockmcp's rich profile as `beta`.
async fn gateway() -> (TestGateway, Mock) {
    TestGateway::with_rich_beta().await
}

/// A session at `/mcp` with `key`, once beta's tools are listed.
async fn client(gw: &TestGateway, key: &str) -> Client {
    gw.session_listing("/mcp", key, "beta__echo").await
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
    // The check asks the running gateway (off the test's runtime, which serves it).
    let (env, url) = (gw.db.env(), format!("http://{}", gw.addr));
    let out = tokio::task::spawn_blocking(move || {
        let args = [
            "policies",
            "check",
            "client",
            "beta__add",
            "--json",
            "--url",
            &url,
        ];
        support::run_bin(env!("CARGO_BIN_EXE_keyadm"), &env, &args)
    })
    .await
    .expect("keyadm ran");
    let d: Value = serde_json::from_str(&support::stdout(&out)).expect("JSON");
    assert_eq!(
        (d["decision"].clone(), d["policy"].clone()),
        (json!("deny"), json!("no-add")),
        "{d}"
    );
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

/// A session on `path`, once the gateway takes it (a key just made, a namespace just
/// added).
async fn initialized(gw: &TestGateway, path: &str, key: Option<&str>) -> Client {
    eventually(WAIT, "a session", || async {
        let mut c = Client::new(gw.addr, path, key);
        let r = c
            .post(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                          "params": {"protocolVersion": c.version, "capabilities": {},
                                     "clientInfo": {"name": "test", "version": "1"}}}))
            .await;
        if r.status != 200 {
            return None;
        }
        c.session = r.header("mcp-session-id").map(String::from);
        c.post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        Some(c)
    })
    .await
}

/// Issue 75: a key limited to a namespace meets that namespace's policies on `/mcp`,
/// whose view for it is the namespace's: in its list, its calls and the dry run.
#[tokio::test]
async fn a_namespace_policy_binds_its_keys_on_mcp_too() {
    let (gw, _beta) = gateway().await;
    let ns = json!({"name": "nsp", "servers": ["beta"]});
    let r = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let store = support::gateway::key_store(&gw.db);
    let key = support::gateway::create_key(
        &store,
        "limited",
        metamcp::store::keys::Scope::Client,
        &["nsp"],
    )
    .await;
    let body = json!({"name": "nsp-no-add", "namespace": "nsp",
        "text": json!([{"effect": "deny", "when": "tool.name == 'beta__add'"}]).to_string()});
    let made = send_json(gw.addr, "POST", "/api/v1/policies", &gw.admin_key, &body).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let add = json!({"name": "beta__add", "arguments": {"a": 1, "b": 2}});
    for path in ["/mcp/nsp", "/mcp"] {
        let c = initialized(&gw, path, Some(&key)).await;
        let m = eventually(WAIT, "the namespace's policy refuses the call", || async {
            let m = c.call(json!(1), "tools/call", add.clone()).await;
            (m["error"]["data"]["policy"] == "nsp-no-add").then_some(m)
        })
        .await;
        assert_eq!(m["error"]["code"], -32003, "{path}: {m}");
        let names = c.tool_names().await;
        assert!(names.iter().any(|n| n == "beta__echo"), "{path}: {names:?}");
        assert!(!names.iter().any(|n| n == "beta__add"), "{path}: {names:?}");
    }
    // Nor does the key's search on `/mcp` find it.
    let found = send_json(
        gw.addr,
        "GET",
        "/api/v1/tools/search?q=add+two+numbers&limit=50",
        &key,
        &json!(null),
    )
    .await;
    assert_eq!(found.status, 200, "{}", found.text());
    assert!(!found.text().contains("beta__add"), "{}", found.text());
    let unbound = send_json(
        gw.addr,
        "GET",
        "/api/v1/tools/search?q=add+two+numbers&limit=50",
        &gw.client_key,
        &json!(null),
    )
    .await;
    assert!(unbound.text().contains("beta__add"), "{}", unbound.text());
    // The dry run answers as the gateway: the key on `/mcp` is bound by nsp's policy.
    let check = send_json(
        gw.addr,
        "POST",
        "/api/v1/policies/check",
        &gw.admin_key,
        &json!({"principal": "limited", "tool": "beta__add"}),
    )
    .await;
    assert_eq!(check.json()["decision"], "deny", "{}", check.text());
    // A key that is not limited is not bound by it on `/mcp`.
    let c = client(&gw, &gw.client_key).await;
    let m = c.call(json!(2), "tools/call", add).await;
    assert!(m["result"].is_object(), "{m}");
}

/// The admins' event stream (`GET /api/v1/events`), its lines as they come.
async fn admin_events(
    gw: &TestGateway,
) -> tokio::io::Lines<tokio::io::BufReader<tokio::net::TcpStream>> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("connected");
    let req = format!(
        "GET /api/v1/events HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\r\n",
        gw.admin_key
    );
    s.write_all(req.as_bytes()).await.expect("sent");
    let mut lines = tokio::io::BufReader::new(s).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.contains("\"ready\"") {
            break;
        }
    }
    lines
}

/// Issue 75: rules are bounded before the parser runs, at write and at evaluation; a
/// rule past a bound in the database is left out with an error, the others apply.
#[tokio::test]
async fn rules_are_bounded_and_none_can_crash_the_gateway() {
    let (gw, _beta) = gateway().await;
    // 300 nested parentheses (604 bytes) overflowed a runtime thread's stack.
    let deep = format!("{}true{}", "(".repeat(300), ")".repeat(300));
    let r = add_policy(&gw, "deep", json!([{"effect": "deny", "when": deep}])).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("at most 32"), "{}", r.text());
    // Four nested .all() over 50-element lists took 3.4 s per call: refused at write.
    let list = format!(
        "[{}]",
        (0..50).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
    );
    let four =
        format!("{list}.all(a, {list}.all(b, {list}.all(c, {list}.all(d, a + b + c + d >= 0))))");
    let r = add_policy(&gw, "costly", json!([{"effect": "deny", "when": four}])).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("estimated"), "{}", r.text());
    // Within the estimate, over the bound at evaluation: the rule denies, and says so.
    let r = add_policy(
        &gw,
        "pairs",
        json!([{"effect": "allow",
                "when": "tool.name == 'beta__echo' && arguments.l.all(a, arguments.l.all(b, a + b >= 0))"}]),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let c = client(&gw, &gw.client_key).await;
    let mut events = admin_events(&gw).await;
    let l: Vec<i64> = (0..2000).collect();
    let started = Instant::now();
    let m = eventually(WAIT, "the bound applies", || async {
        let m = c
            .call(
                json!(1),
                "tools/call",
                json!({"name": "beta__echo", "arguments": {"message": "x", "l": l}}),
            )
            .await;
        (m["error"]["data"]["policy"] == "pairs").then_some(m)
    })
    .await;
    assert!(
        m["error"]["data"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("evaluation bound"),
        "{m}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // And admins hear of it.
    let event = tokio::time::timeout(WAIT, async {
        while let Ok(Some(line)) = events.next_line().await {
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["type"] == "policy.bound"
            {
                return v;
            }
        }
        Value::Null
    })
    .await
    .expect("a policy.bound event");
    assert_eq!(
        (event["policy"].clone(), event["tool"].clone()),
        (json!("pairs"), json!("beta__echo")),
        "{event}"
    );
    assert!(
        event["bound"] == "steps" || event["bound"] == "time",
        "{event}"
    );
    let m = c
        .call(
            json!(2),
            "tools/call",
            json!({"name": "beta__echo", "arguments": {"message": "x", "l": [1, 2]}}),
        )
        .await;
    assert!(m["result"].is_object(), "{m}");
    // Written past every check (another version, a hand): left out on reload, with an
    // error; the policy beside it applies and the gateway keeps serving.
    let db = gw.db.client().await;
    let text = json!([{"effect": "deny", "when": deep}]).to_string();
    db.execute(
        "INSERT INTO policies (name, text) VALUES ('by-hand', $1)",
        &[&text],
    )
    .await
    .expect("inserted");
    let made = add_policy(&gw, "no-add", json!([{"effect": "deny", "when": DENY_ADD}])).await;
    assert_eq!(made.status, 201, "{}", made.text());
    eventually(WAIT, "the policy beside it applies", || async {
        let m = c
            .call(
                json!(3),
                "tools/call",
                json!({"name": "beta__add", "arguments": {"a": 1, "b": 2}}),
            )
            .await;
        (m["error"]["data"]["policy"] == "no-add").then_some(())
    })
    .await;
    let m = c
        .call(
            json!(4),
            "tools/call",
            json!({"name": "beta__echo", "arguments": {"message": "still here"}}),
        )
        .await;
    assert!(m["result"].is_object(), "{m}");
}

/// Issue 75: an open namespace's anonymous caller has the scope of a client, so the
/// documented first policy asks it too.
#[tokio::test]
async fn anonymous_callers_are_clients_to_policies() {
    let (gw, _beta) = gateway().await;
    let open = json!({"name": "open", "servers": ["beta"], "auth": "none"});
    let r = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &open).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let made = add_policy(
        &gw,
        "confirm-add",
        json!([{"effect": "confirm", "when": "principal.scope == 'client' && tool.name == 'beta__add'"}]),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let c = initialized(&gw, "/mcp/open", None).await;
    let m = eventually(WAIT, "the policy applies", || async {
        let m = c
            .call(
                json!(1),
                "tools/call",
                json!({"name": "beta__add", "arguments": {"a": 1, "b": 2}}),
            )
            .await;
        m.get("error").is_some().then_some(m)
    })
    .await;
    assert_eq!(m["error"]["data"]["policy"], "confirm-add", "{m}");
    assert_eq!(m["error"]["data"]["confirm"], true, "{m}");
}

/// Issue 75: REST execution refused by a policy is 403 with the JSON-RPC error (it was
/// a 502 `backend_error`, which proxies retry, though nothing reached a backend).
#[tokio::test]
async fn rest_execution_refused_by_a_policy_is_403() {
    let (gw, _beta) = gateway().await;
    let _c = client(&gw, &gw.client_key).await;
    let made = add_policy(&gw, "no-add", json!([{"effect": "deny", "when": DENY_ADD}])).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let r = eventually(WAIT, "the policy applies", || async {
        let r = send_json(
            gw.addr,
            "POST",
            "/api/v1/mcp/servers/beta/tools/add/execute",
            &gw.client_key,
            &json!({"a": 1, "b": 2}),
        )
        .await;
        (r.status != 200).then_some(r)
    })
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let v = r.json();
    assert_eq!(v["rpc_code"], -32003, "{v}");
    assert_eq!(v["rpc_error"]["data"]["policy"], "no-add", "{v}");
    // Nor is the tool in the caller's REST list of the server's tools.
    let listed = send_json(
        gw.addr,
        "GET",
        "/api/v1/mcp/servers/beta/tools",
        &gw.client_key,
        &json!(null),
    )
    .await;
    assert!(listed.text().contains("\"echo\""), "{}", listed.text());
    assert!(!listed.text().contains("\"add\""), "{}", listed.text());
}

/// Issue 75: a confirmation's state runs its call once, whichever replica the retries
/// reach (three retries ran the call three times).
#[tokio::test]
async fn a_confirmation_runs_its_call_once_across_replicas() {
    let (gw, _beta) = gateway().await;
    let other = gw.beside(|_| {}).await;
    let _c = client(&gw, &gw.client_key).await;
    let made = add_policy(
        &gw,
        "confirm-add",
        json!([{"effect": "confirm", "when": "principal.scope == 'client' && tool.name == 'beta__add'"}]),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let call = |state: Option<&str>| {
        let mut m = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "beta__add", "arguments": {"a": 1, "b": 2}, "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}}}});
        if let Some(s) = state {
            m["params"]["requestState"] = json!(s);
            m["params"]["inputResponses"] =
                json!({"confirm": {"action": "accept", "content": {"confirm": true}}});
        }
        m
    };
    let here = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let there = Client::new(other.addr, "/mcp", Some(&gw.client_key));
    let first = eventually(WAIT, "the confirmation is asked", || async {
        let m = response_message(&here.post_stateless(&call(None)).await);
        (m["result"]["resultType"] == "input_required").then_some(m)
    })
    .await;
    let state = first["result"]["requestState"]
        .as_str()
        .expect("a state")
        .to_string();
    // The other replica holds the policy too (it learns of it by notification): there, a
    // call without a state is asked as well, so what it answers a spent state is its own.
    eventually(WAIT, "the other replica asks the confirmation", || async {
        let m = response_message(&there.post_stateless(&call(None)).await);
        (m["result"]["resultType"] == "input_required").then_some(())
    })
    .await;
    let ran = response_message(&here.post_stateless(&call(Some(&state))).await);
    assert!(
        ran["result"].is_object() && ran.get("error").is_none(),
        "{ran}"
    );
    for c in [&here, &there, &here] {
        let m = response_message(&c.post_stateless(&call(Some(&state))).await);
        assert_eq!(m["error"]["data"]["outcome"], "used", "{m}");
        assert!(
            m["error"]["data"]["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("used already"),
            "{m}"
        );
    }
}

/// Issue 75: `keyadm policies check` answers as the gateway does (it lacked the tool's
/// server and annotations, and printed `allow` where the gateway asked), and `list` is a
/// table without a literal `\t`.
#[tokio::test]
async fn keyadm_checks_as_the_gateway_does_and_lists_a_table() {
    let (gw, _beta) = gateway().await;
    let _c = client(&gw, &gw.client_key).await;
    let made = add_policy(
        &gw,
        "confirm-beta",
        json!([{"effect": "confirm", "when": "principal.scope == 'client' && tool.server == 'beta'"}]),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let rest = send_json(
        gw.addr,
        "POST",
        "/api/v1/policies/check",
        &gw.admin_key,
        &json!({"principal": "client", "tool": "beta__add"}),
    )
    .await;
    assert_eq!(rest.json()["decision"], "confirm", "{}", rest.text());
    let env = gw.db.env();
    // keyadm asks the gateway (off the test's runtime, which serves it meanwhile).
    let url = format!("http://{}", gw.addr);
    let out = tokio::task::spawn_blocking(move || {
        let args = [
            "policies",
            "check",
            "client",
            "beta__add",
            "--json",
            "--url",
            &url,
        ];
        support::run_bin(env!("CARGO_BIN_EXE_keyadm"), &env, &args)
    })
    .await
    .expect("keyadm ran");
    let d: Value = serde_json::from_str(&support::stdout(&out)).unwrap_or_default();
    assert!(
        d["decision"] == "confirm" && d["policy"] == "confirm-beta",
        "{d} {}",
        support::stderr(&out)
    );
    let env = gw.db.env();
    let keyadm = |args: &[&str]| support::run_bin(env!("CARGO_BIN_EXE_keyadm"), &env, args);
    let listed = support::stdout(&keyadm(&["policies", "list"]));
    assert!(!listed.contains("\\t"), "{listed}");
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("confirm-beta") && l.contains("(every view)")),
        "{listed}"
    );
}

// ---- The policy phase: validate_arguments, and a policy of every view -----------------

async fn adds(beta: &Mock) -> u64 {
    beta.control("GET", "/control/stats").await["calls"]["add"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test]
async fn validate_arguments_refuses_a_mismatch_before_the_backend_sees_it() {
    let (gw, beta) = gateway().await;
    gw.namespace(json!({"name": "strict", "servers": ["beta"], "validate_arguments": true}))
        .await;
    gw.namespace(json!({"name": "loose", "servers": ["beta"]}))
        .await;
    let shown = send_json(
        gw.addr,
        "GET",
        "/api/v1/namespaces/strict",
        &gw.admin_key,
        &json!(null),
    )
    .await;
    assert_eq!(shown.json()["validate_arguments"], true, "{}", shown.text());
    let strict = gw
        .session_listing("/mcp/strict", &gw.client_key, "beta__add")
        .await;

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
    let loose = gw
        .session_listing("/mcp/loose", &gw.client_key, "beta__add")
        .await;
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
    let c = gw
        .session_listing("/mcp", &gw.client_key, "beta__add")
        .await;
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
