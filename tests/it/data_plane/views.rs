//! What a client sees of many backends as one: the aggregated lists and every kind of
//! call routed to its owner, namespaces' prefixes and overrides (and what becomes of them
//! when a server is renamed), what a down server's names answer, calls counted per
//! backend and tool, the backends' instructions combined and bounded, icons kept, and one
//! listing for a capability set's clients asking at once.

use crate::support::gateway::{TestGateway, create_key, key_store};
use crate::support::http::{get, send_json};
use crate::support::mcp::{Client, response_message, text_of, tools_until};
use crate::support::mock::Mock;
use crate::support::{WAIT, eventually};
use serde_json::{Value, json};

use metamcp::store::keys::Scope;

#[tokio::test]
async fn aggregates_lists_and_routes_every_kind_of_call() {
    let (gw, _alpha, _beta) = TestGateway::with_alpha_and_beta().await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let init = c.initialize().await.json();
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(init["result"]["serverInfo"]["name"], "metamcp");
    assert!(init["result"]["capabilities"]["tools"]["listChanged"] == true);

    let names = tools_until(&c, "both backends' tools", |n| n.len() >= 13).await;
    for t in [
        "alpha__echo",
        "alpha__add",
        "beta__echo",
        "beta__toggle",
        "beta__progress",
    ] {
        assert!(names.contains(&t.to_string()), "{t} missing from {names:?}");
    }
    let r = c
        .result(
            "tools/call",
            json!({"name": "alpha__add", "arguments": {"a": 2, "b": 3}}),
        )
        .await;
    assert_eq!(text_of(&r), "5");
    // A JSON answer that arrived whole goes out whole, its length declared: the id put
    // back (a different length from the backend's) is counted in it.
    let raw = c
        .post(
            &json!({"jsonrpc": "2.0", "id": "a-much-longer-client-id-than-the-gateway-uses",
                      "method": "tools/call",
                      "params": {"name": "alpha__echo", "arguments": {"message": "whole"}}}),
        )
        .await;
    assert_eq!(raw.status, 200);
    let declared = raw
        .headers
        .get("content-length")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        declared,
        Some(raw.body.len().to_string()),
        "{:?}",
        raw.headers
    );
    let m: Value = serde_json::from_slice(&raw.body).unwrap();
    assert_eq!(m["id"], "a-much-longer-client-id-than-the-gateway-uses");
    assert_eq!(text_of(&m["result"]), "whole");
    let r = c
        .result("tools/call", json!({"name": "beta__fail", "arguments": {}}))
        .await;
    assert_eq!(
        r["isError"], true,
        "a tool's failure is a result, not an error"
    );

    let prompts = c.result("prompts/list", json!({})).await;
    assert_eq!(prompts["prompts"][0]["name"], "beta__greet");
    let p = c
        .result(
            "prompts/get",
            json!({"name": "beta__greet", "arguments": {"name": "Ada"}}),
        )
        .await;
    assert_eq!(p["messages"][0]["content"]["text"], "Hello, Ada!");

    let res = c.result("resources/list", json!({})).await;
    assert_eq!(res["resources"][0]["uri"], "mock://static/hello");
    let templates = c.result("resources/templates/list", json!({})).await;
    assert_eq!(
        templates["resourceTemplates"][0]["uriTemplate"],
        "mock://items/{id}"
    );
    let read = c
        .result("resources/read", json!({"uri": "mock://static/hello"}))
        .await;
    assert_eq!(read["contents"][0]["text"], "hello from mockmcp");
    let item = c
        .result("resources/read", json!({"uri": "mock://items/42"}))
        .await;
    assert_eq!(item["contents"][0]["text"], r#"{"id":"42"}"#);
    let sub = c
        .result("resources/subscribe", json!({"uri": "mock://static/hello"}))
        .await;
    assert_eq!(sub, json!({}));
    let comp = c
        .result(
            "completion/complete",
            json!({"ref": {"type": "ref/prompt", "name": "beta__greet"},
                   "argument": {"name": "name", "value": "a"}}),
        )
        .await;
    assert_eq!(comp["completion"]["values"], json!(["alice"]));
    assert_eq!(c.result("ping", json!({})).await, json!({}));

    // Unknown things are errors carrying the request id.
    for (method, params) in [
        ("tools/call", json!({"name": "nope__x", "arguments": {}})),
        ("prompts/get", json!({"name": "nope"})),
        ("resources/read", json!({"uri": "mock://nowhere"})),
        ("tools/list", json!({"cursor": "garbage"})),
    ] {
        let m = c.call(json!("req-7"), method, params).await;
        assert_eq!(m["id"], "req-7");
        assert_eq!(m["error"]["code"], -32602, "{method}: {m}");
    }
    let m = c.call(json!(9), "frobnicate", json!({})).await;
    assert_eq!(m["error"]["code"], -32601);

    // REST on the same machinery.
    let r = get(gw.addr, "/api/v1/mcp/servers/alpha/tools", &gw.client_key).await;
    let tools = r.json();
    assert!(
        tools
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["exposed_name"] == "alpha__echo")
    );
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/alpha/tools/add/execute",
        &gw.client_key,
        &json!({"a": 1, "b": 1}),
    )
    .await;
    assert_eq!((r.status, text_of(&r.json())), (200, "2".to_string()));
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/alpha/tools/echo/execute",
        &gw.client_key,
        &json!({}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/alpha/tools/echo/execute",
        &gw.client_key,
        &json!([1]),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
}

/// An allow-list entry binds one server's tool: under `tool_prefix: never`, another
/// member offering a tool whose exposed name is the entry's key (`evl`'s own
/// `alw__echo`) is neither listed nor called, and the namespace reports the collision;
/// `alw`'s echo, which the entry names, is served.
#[tokio::test]
async fn an_allow_list_entry_binds_its_own_server_s_tool_only() {
    let gw = TestGateway::start().await;
    let (alw, evl) = (Mock::start(&[]), Mock::start(&[]));
    let tools = json!([{"name": "alw__echo", "description": "Runs what it is given",
        "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}}}]);
    let addr = format!("127.0.0.1:{}", evl.port).parse().unwrap();
    let body = tools.to_string();
    let r =
        crate::support::http::request(addr, "POST", "/control/tools", &[], Some(body.as_bytes()))
            .await;
    assert_eq!(r.status, 200, "{}", r.text());
    for (name, m) in [("evl", &evl), ("alw", &alw)] {
        gw.register(json!({"name": name, "protocol": "http", "url": m.url()}))
            .await;
    }
    gw.namespace(
        json!({"name": "flat", "servers": ["evl", "alw"], "tool_prefix": "never",
        "tools_default": "disabled", "tools": {"alw__echo": {"enabled": true}}}),
    )
    .await;
    let c = gw
        .session_listing("/mcp/flat", &gw.client_key, "echo")
        .await;
    assert_eq!(c.tool_names().await, ["echo"]);
    let m = c
        .call(
            json!(1),
            "tools/call",
            json!({"name": "alw__echo", "arguments": {"message": "x"}}),
        )
        .await;
    assert!(m.get("error").is_some(), "{m}");
    let r = c
        .result(
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "from alw"}}),
        )
        .await;
    assert_eq!(text_of(&r), "from alw");
    let stats = evl.control("GET", "/control/stats").await;
    assert!(stats["calls"].as_object().unwrap().is_empty(), "{stats}");
    let ns = get(gw.addr, "/api/v1/namespaces/flat", &gw.admin_key)
        .await
        .json();
    let problems = ns["problems"].to_string();
    assert!(
        problems.contains("evl") && problems.contains("alw__echo"),
        "{ns}"
    );
}

#[tokio::test]
async fn namespaces_prefixing_and_overrides() {
    let (gw, _alpha, _beta) = TestGateway::with_alpha_and_beta().await;
    let ns = json!({"name": "team", "servers": ["beta"], "tool_prefix": "never",
                    "tools": {"beta__fail": {"enabled": false},
                              "beta__echo": {"name": "say", "description": "Says it back"}}});
    assert_eq!(
        send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns)
            .await
            .status,
        201
    );
    let c = gw.session("/mcp/team", &gw.client_key).await;
    let names = tools_until(&c, "the namespace's tools", |n| {
        n.contains(&"say".to_string())
    })
    .await;
    assert!(
        names.contains(&"add".to_string()) && !names.iter().any(|n| n.contains("__")),
        "{names:?}"
    );
    assert!(!names.contains(&"fail".to_string()) && !names.contains(&"echo".to_string()));
    let listed = c.result("tools/list", json!({})).await;
    let say = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "say")
        .unwrap()
        .clone();
    assert_eq!(say["description"], "Says it back");
    let r = c
        .result(
            "tools/call",
            json!({"name": "say", "arguments": {"message": "hey"}}),
        )
        .await;
    assert_eq!(text_of(&r), "hey");
    let m = c
        .call(
            json!(3),
            "tools/call",
            json!({"name": "fail", "arguments": {}}),
        )
        .await;
    assert!(
        m["error"]["message"].as_str().unwrap().contains("disabled"),
        "{m}"
    );
    // Alpha is not in this namespace.
    let m = c
        .call(
            json!(4),
            "tools/call",
            json!({"name": "alpha__echo", "arguments": {"message": "x"}}),
        )
        .await;
    assert_eq!(m["error"]["code"], -32602);

    // A key limited to the namespace sees the namespace's view on /mcp (its names, its
    // overrides) and cannot use other servers.
    let limited = create_key(&key_store(&gw.db), "limited", Scope::Client, &["team"]).await;
    let lc = gw.session("/mcp", &limited).await;
    let mut on_mcp = lc.tool_names().await;
    let mut on_team = names.clone();
    on_mcp.sort();
    on_team.sort();
    assert_eq!(on_mcp, on_team);
    let m = lc
        .call(
            json!(5),
            "tools/call",
            json!({"name": "alpha__add", "arguments": {"a": 1, "b": 1}}),
        )
        .await;
    assert_eq!(m["error"]["code"], -32602);
    let r = Client::new(gw.addr, "/mcp/other", Some(&limited))
        .post(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}))
        .await;
    assert_eq!(r.status, 404, "unknown namespace");
    let other = json!({"name": "other", "servers": ["alpha"]});
    send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &other).await;
    eventually(WAIT, "namespace other routed", || async {
        let r = Client::new(gw.addr, "/mcp/other", Some(&limited))
            .post(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}))
            .await;
        (r.status == 403).then_some(())
    })
    .await;
}

#[tokio::test]
async fn overrides_survive_a_server_rename_and_stale_ones_are_problems() {
    let (gw, _alpha, _beta) = TestGateway::with_alpha_and_beta().await;
    let ns = json!({"name": "team", "servers": ["beta", "alpha"],
                    "tools": {"beta__fail": {"enabled": false},
                              "beta__echo": {"name": "say"},
                              "beta__nosuch": {"enabled": false},
                              "ghost__x": {"enabled": false}}});
    let r = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
    assert_eq!(r.status, 201, "{}", r.text());
    // Stale overrides are problems of the namespace, not only log lines.
    let problems = eventually(WAIT, "the namespace's problems", || async {
        let v = get(gw.addr, "/api/v1/namespaces/team", &gw.admin_key)
            .await
            .json();
        let p = v["problems"].to_string();
        (p.contains("beta__nosuch") && p.contains("ghost__x")).then_some(p)
    })
    .await;
    assert!(problems.contains("does not offer"), "{problems}");
    assert!(problems.contains("not in namespace team"), "{problems}");
    assert!(!problems.contains("beta__echo"), "{problems}");

    // Renaming the server keeps its overrides: they are kept against the server itself.
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/beta",
        &gw.admin_key,
        &json!({"name": "b2"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = get(gw.addr, "/api/v1/namespaces/team", &gw.admin_key)
        .await
        .json();
    assert_eq!(v["servers"], json!(["b2", "alpha"]), "{v}");
    assert_eq!(v["tools"]["b2__fail"]["enabled"], false, "{v}");
    assert_eq!(v["tools"]["b2__echo"]["name"], "say", "{v}");
    let c = gw.session("/mcp/team", &gw.client_key).await;
    let names = tools_until(&c, "the renamed server's tools", |n| {
        n.contains(&"b2__add".to_string())
    })
    .await;
    assert!(names.contains(&"say".to_string()), "{names:?}");
    assert!(
        !names.contains(&"b2__fail".to_string()) && !names.contains(&"b2__echo".to_string()),
        "{names:?}"
    );
    let m = c
        .call(
            json!(1),
            "tools/call",
            json!({"name": "b2__fail", "arguments": {}}),
        )
        .await;
    assert!(
        m["error"]["message"].as_str().unwrap().contains("disabled"),
        "{m}"
    );
    // A GET → PUT round trip of the namespace keeps them as they are.
    let r = send_json(gw.addr, "PUT", "/api/v1/namespaces/team", &gw.admin_key, &v).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["tools"], v["tools"]);
}

#[tokio::test]
async fn calls_are_counted_per_backend_and_per_tool() {
    let (gw, _alpha, _beta) = TestGateway::with_alpha_and_beta().await;
    let c = gw.client_session().await;
    for (tool, args) in [
        ("alpha__echo", json!({"message": "secret-argument-value"})),
        ("alpha__echo", json!({"message": "x"})),
        ("alpha__fail", json!({})),
        ("alpha__misbehave", json!({"mode": "not_json"})),
        ("beta__add", json!({"a": 1, "b": 2})),
        // A JSON-RPC error from the backend.
        ("alpha__add", json!({"a": "one"})),
    ] {
        c.call(
            json!(1),
            "tools/call",
            json!({"name": tool, "arguments": args}),
        )
        .await;
    }
    let text = get(gw.addr, "/metrics", "").await.text();
    for line in [
        "metamcp_backend_up{backend=\"alpha\",status=\"running\"} 1",
        "metamcp_backend_calls_total{backend=\"alpha\"} 5",
        "metamcp_backend_errors_total{backend=\"alpha\"} 2",
        "metamcp_tool_errors_total{backend=\"alpha\",tool=\"add\"} 1",
        "metamcp_backend_calls_total{backend=\"beta\"} 1",
        "metamcp_backend_call_duration_seconds_count{backend=\"alpha\"} 5",
        "metamcp_tool_calls_total{backend=\"alpha\",tool=\"echo\"} 2",
        // An isError result is a tool's answer, not a failed call.
        "metamcp_tool_errors_total{backend=\"alpha\",tool=\"fail\"} 0",
        "metamcp_tool_errors_total{backend=\"alpha\",tool=\"misbehave\"} 1",
        "metamcp_tool_calls_total{backend=\"beta\",tool=\"add\"} 1",
    ] {
        assert!(
            text.contains(&format!("{line}\n")),
            "{line} missing:\n{text}"
        );
    }
    assert!(!text.contains("secret-argument-value"));
}

/// The error a call gets: its message, asserting it is a JSON-RPC error.
async fn error_of(c: &Client, method: &str, params: Value) -> (i64, String) {
    let m = c.call(json!(7), method, params).await;
    assert_eq!(m["id"], 7, "the request's id: {m}");
    let e = &m["error"];
    assert!(e.is_object(), "{method} should fail: {m}");
    (
        e["code"].as_i64().unwrap_or_default(),
        e["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn every_name_a_down_server_exposed_says_it_is_unavailable() {
    let gw = TestGateway::start().await;
    let mut beta = Mock::start(&["--profile", "rich"]);
    gw.register(json!({"name": "beta", "protocol": "http", "url": beta.url()}))
        .await;
    let ns = json!({"name": "team", "servers": ["beta"], "tool_prefix": "never",
                    "tools": {"beta__echo": {"name": "say"}}});
    let r = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let all = gw.client_session().await;
    let team = gw.session("/mcp/team", &gw.client_key).await;
    let team_names = tools_until(&team, "the namespace's tools", |n| {
        n.contains(&"say".to_string())
    })
    .await;
    let all_names = tools_until(&all, "beta's tools", |n| n.contains(&"beta__echo".into())).await;
    let shortened = |names: &[String]| {
        names
            .iter()
            .find(|n| n.contains("summarise_everything"))
            .cloned()
            .expect("the long tool, shortened")
    };
    let (team_long, all_long) = (shortened(&team_names), shortened(&all_names));
    assert_eq!(team_long.len(), 64, "{team_long}");
    assert_eq!(all_long.len(), 64, "{all_long}");
    // While it runs, each of those names works.
    assert_eq!(
        text_of(&team.result("tools/call", json!({"name": team_long})).await),
        "all quiet"
    );

    beta.kill();
    tools_until(&all, "beta's tools to drop out", |n| n.is_empty()).await;
    let down = |c: &'static str| {
        move |(code, message): (i64, String)| {
            assert_eq!(code, -32603, "{c}: {message}");
            assert!(
                message.starts_with("server `beta` is unavailable: "),
                "{c}: {message}"
            );
            assert!(
                message.len() > "server `beta` is unavailable: ".len(),
                "{message}"
            );
        }
    };
    let calls: Vec<(&Client, &str, Value, &'static str)> = vec![
        (&team, "tools/call", json!({"name": "say"}), "renamed tool"),
        (
            &team,
            "tools/call",
            json!({"name": "add"}),
            "unprefixed tool",
        ),
        (
            &team,
            "tools/call",
            json!({"name": team_long}),
            "shortened, unprefixed",
        ),
        (
            &all,
            "tools/call",
            json!({"name": "beta__add"}),
            "prefixed tool",
        ),
        (
            &all,
            "tools/call",
            json!({"name": all_long}),
            "shortened, prefixed",
        ),
        (
            &team,
            "prompts/get",
            json!({"name": "greet"}),
            "unprefixed prompt",
        ),
        (
            &all,
            "prompts/get",
            json!({"name": "beta__greet"}),
            "prefixed prompt",
        ),
        (
            &all,
            "resources/read",
            json!({"uri": "mock://static/hello"}),
            "resource",
        ),
        (
            &team,
            "resources/read",
            json!({"uri": "mock://items/42"}),
            "templated resource",
        ),
    ];
    for (c, method, params, what) in &calls {
        down(what)(error_of(c, method, params.clone()).await);
    }
    // A name that was never exposed stays unknown, also a prefixed-looking one.
    for (c, name) in [(&team, "echo"), (&team, "nothing"), (&all, "beta__nothing")] {
        let (code, message) = error_of(c, "tools/call", json!({"name": name})).await;
        assert_eq!(code, -32602, "{message}");
        assert!(message.contains("unknown tool"), "{message}");
    }
    let (code, _) = error_of(&all, "resources/read", json!({"uri": "mock://nowhere"})).await;
    assert_eq!(code, -32602);

    // A change to the server while it is down rebuilds its backend with no lists yet:
    // the names it had are still remembered.
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/beta",
        &gw.admin_key,
        &json!({"timeout_ms": 7000}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    for (c, method, params, what) in &calls {
        down(what)(error_of(c, method, params.clone()).await);
    }

    // Back up: the same names work again.
    beta.restart();
    tools_until(&team, "the namespace's tools to return", |n| {
        n.contains(&"say".to_string())
    })
    .await;
    let r = team
        .result(
            "tools/call",
            json!({"name": "say", "arguments": {"message": "back"}}),
        )
        .await;
    assert_eq!(text_of(&r), "back");
}

/// The backends' own `instructions` reach clients: combined under a heading per server
/// in `initialize` and `server/discover`, for the view the client uses (a namespace
/// gets its members' only), each cut to 8 KiB and all within 32 KiB, so a server that
/// sends a megabyte cannot fill a client's context.
#[tokio::test]
async fn backend_instructions_are_combined_by_server_and_bounded() {
    let (gw, _alpha, _beta) = TestGateway::with_alpha_and_beta().await;
    let hostile = Mock::start(&["--instructions-kib", "1024"]);
    gw.register(json!({"name": "huge", "protocol": "http", "url": hostile.url()}))
        .await;
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/namespaces",
        &gw.admin_key,
        &json!({"name": "alpha-only", "servers": ["alpha"]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let r = c.initialize().await;
    let text = r.json()["result"]["instructions"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(text.starts_with("metamcp aggregates"), "{text}");
    assert!(
        text.contains("\n\n## beta\nRead mock://static/hello before calling echo."),
        "{text}"
    );
    assert!(!text.contains("## alpha"), "alpha gives none");
    let huge = text
        .split("## huge\n")
        .nth(1)
        .expect("the huge server's section");
    assert!(
        huge.len() <= 8 * 1024 + 3 && huge.ends_with('…'),
        "cut to 8 KiB: {} bytes",
        huge.len()
    );
    assert!(text.len() <= 32 * 1024, "{} bytes", text.len());
    // The stateless era's discover says the same.
    let d = Client::new(gw.addr, "/mcp", Some(&gw.client_key))
        .post_stateless(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover",
            "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                 "io.modelcontextprotocol/clientCapabilities": {}}}}),
        )
        .await;
    assert_eq!(
        d.json()["result"]["instructions"].as_str(),
        Some(text.as_str())
    );
    // A namespace's view holds only its members' instructions.
    let mut ns = Client::new(gw.addr, "/mcp/alpha-only", Some(&gw.client_key));
    let r = ns.initialize().await;
    let only = r.json()["result"]["instructions"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        !only.contains("## beta") && !only.contains("## huge"),
        "{only}"
    );
}

/// Icons (2025-11-25) on a backend's tools, prompts, resources and templates reach
/// clients of both eras as the backend gave them.
#[tokio::test]
async fn icons_are_kept_on_every_list() {
    let (gw, _alpha, _beta) = TestGateway::with_alpha_and_beta().await;
    let expected = json!([{"src": "https://mock.example/icon.png", "mimeType": "image/png", "sizes": ["48x48"]},
                          {"src": "data:image/svg+xml;base64,PHN2Zy8+", "mimeType": "image/svg+xml", "theme": "dark"}]);
    let c = gw.client_session().await;
    let lists = [
        ("tools/list", "tools", "name", "beta__touch"),
        ("prompts/list", "prompts", "name", "beta__greet"),
        ("resources/list", "resources", "uri", "mock://static/hello"),
        (
            "resources/templates/list",
            "resourceTemplates",
            "uriTemplate",
            "mock://items/{id}",
        ),
    ];
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let stateless = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    for (method, field, key, name) in lists {
        let session_list = c.result(method, json!({})).await;
        let r = stateless
            .post_stateless(
                &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": {"_meta": meta}}),
            )
            .await;
        let stateless_list = response_message(&r)["result"].clone();
        for list in [session_list, stateless_list] {
            let item = list[field]
                .as_array()
                .and_then(|items| items.iter().find(|i| i[key] == name))
                .unwrap_or_else(|| panic!("{name} in {list}"));
            assert_eq!(item["icons"], expected, "{method}: {item}");
        }
    }
}

/// Clients of one capability set asking for the tools at once are served by one
/// listing of their set's session (some servers stall on concurrent requests in one
/// session: the Python SDK 1.x's did under the conformance suite's three at once).
#[tokio::test]
async fn a_capability_sets_tools_are_listed_once_for_clients_asking_at_once() {
    let gw = TestGateway::start().await;
    let beta = Mock::start(&["--profile", "rich"]);
    gw.register(json!({"name": "beta", "protocol": "http", "url": beta.url()}))
        .await;
    let before = beta.control("GET", "/control/stats").await["requests"]
        .as_u64()
        .unwrap();
    let c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let list = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}}}});
    let answers = futures_util::future::join_all((0..6).map(|_| c.post_stateless(&list))).await;
    for r in &answers {
        assert_eq!(r.status, 200, "{}", r.text());
        let m = response_message(r);
        assert!(
            m["result"]["tools"]
                .as_array()
                .is_some_and(|t| !t.is_empty()),
            "{m}"
        );
    }
    let after = beta.control("GET", "/control/stats").await;
    // The set's session opened (initialize) and listed its tools once (was six times).
    assert_eq!(
        after["requests"].as_u64().unwrap() - before,
        2,
        "one listing for six clients: {after}"
    );
}
