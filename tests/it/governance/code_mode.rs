//! Code mode's namespace field over REST and keyadm: `code_mode` (`off`, the default, or
//! `on`) is created, shown, changed and stored (migration 0031), a value it does not take
//! is a 400 naming the field that writes nothing, and keyadm's `--code-mode` sets it.
//! `run_code` through the gateway: a script chains tools of two servers, each inner call
//! through the pipeline (a denied or held one throws and never reaches its backend). The
//! sandbox itself is tested in `src/codemode/tests/`.

use proptest::strategy::{Strategy, ValueTree};
use serde_json::{Value, json};

use crate::support;
use crate::support::gateway::TestGateway;
use crate::support::mcp::Client;
use crate::support::mock::Mock;

const PATH: &str = "/api/v1/namespaces";

async fn show(gw: &TestGateway, name: &str) -> Value {
    let r = support::http::get(gw.addr, &format!("{PATH}/{name}"), &gw.admin_key).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[tokio::test]
async fn the_code_mode_field_is_created_shown_changed_and_refused_when_bad() {
    let gw = TestGateway::start().await;
    let create = |body: Value| {
        let (addr, key) = (gw.addr, gw.admin_key.clone());
        async move { support::http::send_json(addr, "POST", PATH, &key, &body).await }
    };
    let put = |name: &str, body: Value| {
        let (addr, key, path) = (gw.addr, gw.admin_key.clone(), format!("{PATH}/{name}"));
        async move { support::http::send_json(addr, "PUT", &path, &key, &body).await }
    };

    // Absent: off.
    let r = create(json!({"name": "plain", "servers": []})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["code_mode"], "off");
    assert_eq!(show(&gw, "plain").await["code_mode"], "off");

    // On at creation, kept by a change of another field, switched off, and back on.
    let r = create(json!({"name": "coder", "servers": [], "code_mode": "on"})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(show(&gw, "coder").await["code_mode"], "on");
    let r = put("coder", json!({"description": "scripts"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(show(&gw, "coder").await["code_mode"], "on");
    let r = put("coder", json!({"code_mode": "off"})).await;
    assert_eq!((r.status, &r.json()["code_mode"]), (200, &json!("off")));
    assert_eq!(show(&gw, "coder").await["code_mode"], "off");
    let r = put("coder", json!({"code_mode": "on"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // null: the default.
    let r = put("plain", json!({"code_mode": null})).await;
    assert_eq!((r.status, &r.json()["code_mode"]), (200, &json!("off")));

    // The list shows it, and a PUT may carry the object back as shown.
    let r = support::http::get(gw.addr, PATH, &gw.admin_key).await;
    let list = r.json();
    let coder = list
        .as_array()
        .and_then(|l| l.iter().find(|n| n["name"] == "coder"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(coder["code_mode"], "on", "{list}");

    // Bad values: 400 naming the field, nothing written.
    for bad in [
        json!("yes"),
        json!(true),
        json!(1),
        json!("ON"),
        json!(["on"]),
    ] {
        let r = put("coder", json!({"code_mode": bad, "description": "changed"})).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(r.text().contains("code_mode"), "{}", r.text());
        let now = show(&gw, "coder").await;
        assert_eq!(
            (&now["code_mode"], &now["description"]),
            (&json!("on"), &json!("scripts"))
        );
        let r = create(json!({"name": "never", "servers": [], "code_mode": bad})).await;
        assert_eq!(r.status, 400, "{}", r.text());
    }
    let r = support::http::get(gw.addr, &format!("{PATH}/never"), &gw.admin_key).await;
    assert_eq!(r.status, 404);
}

/// Any string but `off` and `on` is refused and leaves the namespace as it was; `off`
/// and `on` are taken exactly.
#[tokio::test]
async fn only_off_and_on_are_taken_whatever_else_is_sent() {
    let gw = TestGateway::start().await;
    let r = support::http::send_json(
        gw.addr,
        "POST",
        PATH,
        &gw.admin_key,
        &json!({"name": "fuzzed", "servers": []}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let values = proptest::prop_oneof![
        proptest::strategy::Just("on".to_string()),
        proptest::strategy::Just("off".to_string()),
        "(o|O|f|n|N| |\\u{0}|\\u{43F}|\\u{200B}){0,4}",
        ".{0,8}",
    ];
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut expected = "off".to_string();
    for _ in 0..48 {
        let v = values.new_tree(&mut runner).expect("a value").current();
        let path = format!("{PATH}/fuzzed");
        let r = support::http::send_json(
            gw.addr,
            "PUT",
            &path,
            &gw.admin_key,
            &json!({"code_mode": v}),
        )
        .await;
        if v == "on" || v == "off" {
            assert_eq!(r.status, 200, "{v:?}: {}", r.text());
            expected = v.clone();
        } else {
            assert_eq!(r.status, 400, "{v:?}: {}", r.text());
            assert!(r.text().contains("code_mode"), "{}", r.text());
        }
        assert_eq!(
            show(&gw, "fuzzed").await["code_mode"],
            expected.as_str(),
            "after {v:?}"
        );
    }
}

#[tokio::test]
async fn keyadm_sets_code_mode_and_shows_it() {
    let gw = TestGateway::start().await;
    let out = support::keyadm(
        &gw.db,
        &["namespaces", "add", "kc", "--code-mode", "on", "--json"],
    )
    .await
    .expect("keyadm add");
    let added: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(added["code_mode"], "on", "{added}");
    assert_eq!(show(&gw, "kc").await["code_mode"], "on");
    let out = support::keyadm(&gw.db, &["namespaces", "set", "kc", "--code-mode", "off"])
        .await
        .expect("keyadm set");
    assert!(out.contains("code_mode"), "{out}");
    assert_eq!(show(&gw, "kc").await["code_mode"], "off");
    let refused =
        support::keyadm(&gw.db, &["namespaces", "set", "kc", "--code-mode", "maybe"]).await;
    let (_, message) = refused.expect_err("refused");
    assert!(message.contains("--code-mode"), "{message}");
    assert_eq!(show(&gw, "kc").await["code_mode"], "off");
}

/// A gateway whose `/mcp` is in code mode, with mockmcp as `alpha` and `beta`.
async fn code_gateway() -> (TestGateway, Mock, Mock) {
    let gw = TestGateway::start_with(|c| {
        c.code.mode = metamcp::model::CodeMode::On;
        // A busy script meets its bound in 3 s, not the default 30.
        c.code.bounds.timeout = std::time::Duration::from_secs(3);
    })
    .await;
    let alpha = Mock::start(&[]);
    let beta = Mock::start(&["--profile", "rich"]);
    gw.register(json!({"name": "alpha", "protocol": "http", "url": alpha.url()}))
        .await;
    gw.register(
        json!({"name": "beta", "protocol": "http", "url": beta.url(),
                       "tool_changes": "accept"}),
    )
    .await;
    (gw, alpha, beta)
}

/// `run_code` with `code`: its result (`structuredContent` and `isError`).
async fn run(c: &Client, code: &str) -> Value {
    let m = c.call_tool("run_code", json!({ "code": code })).await;
    assert!(m.get("error").is_none(), "run_code failed as a call: {m}");
    m["result"].clone()
}

/// The calls beta has answered in all, asked of it directly (a call itself).
async fn beta_calls(c: &Client) -> u64 {
    let m = c.call_tool("beta__whoami", json!({})).await;
    let text = crate::support::mcp::text_of(&m["result"]);
    text.rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{m}"))
}

#[tokio::test]
async fn a_script_chains_tools_of_two_servers_through_the_pipeline() {
    let (gw, _alpha, _beta) = code_gateway().await;
    let c = gw.session("/mcp", &gw.client_key).await;
    // Code mode lists the gateway's own tools instead of every tool.
    let names =
        crate::support::mcp::tools_until(&c, "run_code", |n| n.iter().any(|t| t == "run_code"))
            .await;
    let mut names = names;
    names.sort();
    assert_eq!(names, ["call_tool", "run_code", "search_tools"]);
    // Wait until both servers' tools are reachable through the search.
    support::eventually(support::WAIT, "both servers searched", || async {
        let r = run(
            &c,
            "return (await searchTools('echo message', 10)).tools.map(t => t.name)",
        )
        .await;
        let found = r["structuredContent"]["result"].to_string();
        (found.contains("alpha__echo") && found.contains("beta__echo")).then_some(())
    })
    .await;
    // Three inner calls over two servers; only what the script returns comes back.
    let code = r#"
        const sum = await tools.alpha__add({a: 2, b: 3});
        const a = await tools.alpha__echo({message: `sum ${JSON.stringify(sum)}`});
        const b = await callTool('beta__echo', {message: a});
        console.log('chained');
        return {a, b};
    "#;
    let r = run(&c, code).await;
    let s = &r["structuredContent"];
    assert!(r.get("isError").is_none(), "{r}");
    assert_eq!(s["logs"], json!(["chained"]));
    let calls: Vec<&str> = s["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tool"].as_str().unwrap())
        .collect();
    assert_eq!(calls, ["alpha__add", "alpha__echo", "beta__echo"]);
    assert!(
        s["calls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true),
        "{s}"
    );
    assert!(s["result"]["a"].as_str().unwrap().contains('5'), "{s}");
    assert_eq!(s["result"]["a"], s["result"]["b"]);
    // search_tools in code mode gives each tool's TypeScript declaration.
    let found = c
        .call_tool("search_tools", json!({"query": "add two numbers"}))
        .await;
    let tools = &found["result"]["structuredContent"]["tools"];
    let add = tools
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "alpha__add")
        .unwrap();
    assert!(
        add["declaration"]
            .as_str()
            .unwrap()
            .contains("tools.alpha__add"),
        "{add}"
    );
}

#[tokio::test]
async fn a_denied_or_unknown_inner_call_throws_in_the_script_and_never_reaches_the_backend() {
    let (gw, _alpha, _beta) = code_gateway().await;
    let c = gw.session("/mcp", &gw.client_key).await;
    let rule =
        json!([{"effect": "deny", "when": "tool.name == 'beta__add'", "reason": "no adding"}]);
    let body = json!({"name": "no-add", "text": rule.to_string()});
    let r =
        support::http::send_json(gw.addr, "POST", "/api/v1/policies", &gw.admin_key, &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let code = r#"
        const out = [];
        for (const name of ['beta__add', 'no_such_tool', 'run_code']) {
            try { await callTool(name, {a: 1, b: 2}); out.push('ran ' + name); }
            catch (e) { out.push({name, code: e.code, policy: e.data && e.data.policy}); }
        }
        return out;
    "#;
    let before = beta_calls(&c).await;
    let r = support::eventually(support::WAIT, "the policy applies", || async {
        let r = run(&c, code).await;
        (r["structuredContent"]["result"][0]["policy"] == "no-add").then_some(r)
    })
    .await;
    let out = &r["structuredContent"]["result"];
    assert_eq!(
        out[0]["code"],
        json!(metamcp::mcp::wire::rpc::code::POLICY_DENIED),
        "{out}"
    );
    assert!(
        out[1]["code"].is_i64() && out[1].get("policy").is_none_or(Value::is_null),
        "{out}"
    );
    // run_code never nests: the script's call of it throws.
    assert_eq!(out[2]["name"], "run_code", "run_code cannot nest: {out}");
    // Only the count's own call reached beta: never the denied one.
    assert_eq!(
        beta_calls(&c).await,
        before + 1,
        "the backend saw the denied call"
    );
    // A script that throws, or meets a bound, is isError with the bound named.
    let r = run(&c, "while (true) {}").await;
    assert_eq!(
        (&r["isError"], &r["structuredContent"]["bound"]),
        (&json!(true), &json!("time")),
        "{r}"
    );
    let r = run(&c, "throw new Error('on purpose')").await;
    assert_eq!(r["isError"], true, "{r}");
    assert!(
        r["structuredContent"]["error"]
            .as_str()
            .unwrap()
            .contains("on purpose"),
        "{r}"
    );
}

/// An inner call of a tool held for review (its definition changed under the gateway)
/// throws with the direct call's `data.held`, and its backend never sees it.
#[tokio::test]
async fn a_held_inner_call_throws_and_never_reaches_the_backend() {
    let (gw, _alpha, _beta) = code_gateway().await;
    // gamma holds a changed definition for review (the default).
    let gamma = Mock::start(&["--profile", "rich"]);
    gw.register(json!({"name": "gamma", "protocol": "http", "url": gamma.url()}))
        .await;
    gw.wait_status("gamma", "running").await;
    let c = gw.session("/mcp", &gw.client_key).await;
    let db = gw.db.client().await;
    support::eventually(support::WAIT, "gamma's tools pinned", || async {
        let pins: i64 = db
            .query_one("SELECT count(*) FROM tool_pins p JOIN mcp_servers s ON s.id = p.server_id WHERE s.name = 'gamma'", &[])
            .await
            .ok()?
            .get(0);
        (pins >= 10).then_some(())
    })
    .await;
    let changed = json!([{"name": "echo", "description": "Returns the message, louder",
        "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}},
                        "required": ["message"]}}]);
    let addr = format!("127.0.0.1:{}", gamma.port).parse().unwrap();
    let body = changed.to_string();
    let r =
        support::http::request(addr, "POST", "/control/tools", &[], Some(body.as_bytes())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let code = r#"
        try { await callTool('gamma__echo', {message: 'x'}); return 'ran'; }
        catch (e) { return {code: e.code, data: e.data}; }
    "#;
    let held = support::eventually(support::WAIT, "the change held", || async {
        let r = run(&c, code).await;
        let v = r["structuredContent"]["result"].clone();
        (v["data"]["held"] == true && v["data"]["kind"] != "pending").then_some(v)
    })
    .await;
    assert_eq!(held["data"]["kind"], "changed", "{held}");
    assert_eq!(held["code"], -32602, "{held}");
    let before = gamma_calls(&c).await;
    let again = run(&c, code).await;
    assert_eq!(
        again["structuredContent"]["result"]["data"]["held"], true,
        "{again}"
    );
    assert_eq!(
        gamma_calls(&c).await,
        before + 1,
        "gamma never saw the held call"
    );
}

/// The calls gamma has answered in all, asked of it directly (a call itself).
async fn gamma_calls(c: &Client) -> u64 {
    let m = c.call_tool("gamma__whoami", json!({})).await;
    let text = crate::support::mcp::text_of(&m["result"]);
    text.rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{m}"))
}

/// The official clients run a script through `run_code`: the Python SDK 2.x and the
/// TypeScript client 2.x, each in the 2026-07-28 era (`auto`) and in a session
/// (`legacy`); the script chains three tools of two servers and only what it returns
/// comes back.
#[tokio::test]
async fn the_official_clients_run_a_script_that_chains_two_servers() {
    let (gw, _alpha, _beta) = code_gateway().await;
    let c = gw.session("/mcp", &gw.client_key).await;
    let code = r#"
        const sum = await tools.alpha__add({a: 20, b: 22});
        const a = await tools.alpha__echo({message: `sum ${JSON.stringify(sum)}`});
        const b = await callTool('beta__echo', {message: a});
        return {chained: b};
    "#;
    // Both servers routed: the repo's own client sees the chain once.
    support::eventually(support::WAIT, "both servers routed", || async {
        let r = run(&c, code).await;
        r["structuredContent"]["result"]["chained"]
            .as_str()
            .is_some_and(|s| s.contains("42"))
            .then_some(())
    })
    .await;
    let url = format!("http://127.0.0.1:{}/mcp", gw.addr.port());
    let calls = json!([["run_code", {"code": code}]]).to_string();
    for mode in ["auto", "legacy"] {
        for who in ["python", "typescript"] {
            let seen = match who {
                "python" => {
                    crate::peers::sdks::sdk2("sdk2_calls.py", &[&url, &gw.client_key, mode, &calls])
                        .await
                }
                _ => crate::peers::sdks::ts_calls(&url, &gw.client_key, mode, &calls).await,
            };
            let result = &seen["results"][0];
            assert_eq!(result[0], false, "{who} {mode}: {seen}");
            let text = result[1].as_str().unwrap_or_default();
            assert!(
                text.contains("chained") && text.contains("42"),
                "{who} {mode}: {seen}"
            );
        }
    }
    // The Python SDK 1.x (a session).
    let seen = super::confirm::Peer::Python1
        .run(&url, &gw.client_key, "accept", &calls)
        .await;
    let result = &seen["results"][0];
    assert_eq!(result["is_error"], false, "python 1.x: {seen}");
    let text = result["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("chained") && text.contains("42"),
        "python 1.x: {seen}"
    );
}

/// A `run_code` retry whose `requestState` is not this run's (a direct call's `mcf1.`
/// state, the run's own state re-prefixed or cut, any other string) is `-32602` with the
/// request's id, and the script does not start again: the inner call that completed
/// before the run was suspended is not called again. The run's own state still resumes
/// it.
#[tokio::test]
async fn a_run_code_retry_with_a_state_not_its_own_is_refused_and_nothing_runs_again() {
    let (gw, _alpha, _beta) = code_gateway().await;
    let c = gw.session("/mcp", &gw.client_key).await;
    let rule = json!([{"effect": "confirm", "when": "tool.name == 'beta__add'"}]);
    let body = json!({"name": "ask-add", "text": rule.to_string()});
    let r =
        support::http::send_json(gw.addr, "POST", "/api/v1/policies", &gw.admin_key, &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}});
    let code = "const n = await tools.beta__whoami({});\n\
                const s = await tools.beta__add({a: 1, b: 2});\n\
                return {n, s};";
    let call = |id: u64, name: &str, arguments: Value, state: Option<&str>| {
        let mut params = json!({"name": name, "arguments": arguments, "_meta": meta});
        if let Some(state) = state {
            params["requestState"] = state.into();
            params["inputResponses"] =
                json!({"confirm": {"action": "accept", "content": {"confirm": true}}});
        }
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
    };
    let modern = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let post = |body: Value| {
        let modern = &modern;
        async move { crate::support::mcp::response_message(&modern.post_stateless(&body).await) }
    };
    let run_code =
        |id: u64, state: Option<&str>| call(id, "run_code", json!({"code": code}), state);
    let asked = support::eventually(support::WAIT, "the run asks for beta__add", || async {
        let m = post(run_code(1, None)).await;
        (m["result"]["resultType"] == "input_required").then_some(m)
    })
    .await;
    let state = asked["result"]["requestState"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(state.starts_with("mcr1."), "{asked}");
    let direct = post(call(2, "beta__add", json!({"a": 1, "b": 2}), None)).await;
    let direct = direct["result"]["requestState"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(direct.starts_with("mcf1."), "{direct}");

    let before = beta_calls(&c).await;
    let others = [
        direct,
        format!("mcf1.{}", &state[5..]),
        format!("mcr1.{state}"),
        format!("x{state}"),
        state[..state.len() - 4].to_string(),
        "mcr1.".to_string(),
        "not a state".to_string(),
    ];
    for (i, other) in others.iter().enumerate() {
        let id = 10 + i as u64;
        let m = post(run_code(id, Some(other))).await;
        assert_eq!(m["error"]["code"], -32602, "{other}: {m}");
        assert_eq!(m["id"], id, "{m}");
        let message = m["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("run_code"), "{m}");
    }
    assert_eq!(
        beta_calls(&c).await,
        before + 1,
        "an inner call ran again for a state that was not the run's"
    );
    // The run's own state resumes it: whoami is answered from the journal, add runs.
    let done = post(run_code(30, Some(&state))).await;
    assert_eq!(done["result"]["isError"], Value::Null, "{done}");
    let calls = &done["result"]["structuredContent"]["calls"];
    assert_eq!(calls[0]["replayed"], true, "{done}");
    assert_eq!(beta_calls(&c).await, before + 3, "{done}");
}
