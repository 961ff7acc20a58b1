//! Tool search, end to end through the gateway: a view in search mode lists the gateway's
//! `search_tools` and `call_tool` instead of every tool; a search finds the right tool
//! within the caller's reach and nothing outside it; `call_tool` runs the named tool as a
//! direct call would (and refuses the gateway's own tools and tools out of reach);
//! `GET /api/v1/tools/search` answers for any view; the modes (`off`, `on`, `auto`) and
//! hostile input.

use crate::support;
use crate::support::WAIT;

use crate::support::eventually;
use crate::support::gateway::{TestGateway, create_key, key_store};
use crate::support::http::{get, send_json};
use crate::support::mcp::{Client, response_message, text_of};
use crate::support::mock::Mock;
use serde_json::{Value, json};

/// A gateway with mocks `alpha` and `beta` (rich), a namespace `found` of beta alone in
/// search mode with beta's `echo` disabled, and `plain`, beta alone, search off.
async fn gateway() -> (TestGateway, Mock, Mock) {
    let gw = TestGateway::start().await;
    let alpha = Mock::start(&[]);
    let beta = Mock::start(&["--profile", "rich"]);
    gw.register(json!({"name": "alpha", "protocol": "http", "url": alpha.url()}))
        .await;
    gw.register(json!({"name": "beta", "protocol": "http", "url": beta.url()}))
        .await;
    for body in [
        json!({"name": "found", "servers": ["beta"], "tool_search": "on",
               "tools": {"beta__echo": {"enabled": false}}}),
        json!({"name": "plain", "servers": ["beta"], "tool_search": "off"}),
    ] {
        let made = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &body).await;
        assert_eq!(made.status, 201, "{}", made.text());
    }
    (gw, alpha, beta)
}

/// `search_tools`' result for `query`: the tools' names, best first.
async fn found(c: &Client, query: &str) -> Vec<String> {
    let r = c
        .result(
            "tools/call",
            json!({"name": "search_tools", "arguments": {"query": query}}),
        )
        .await;
    r["structuredContent"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no structuredContent.tools: {r}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn search_mode_lists_the_search_tools_and_finds_tools_within_reach() {
    let (gw, _alpha, beta) = gateway().await;
    let c = gw.session("/mcp/found", &gw.client_key).await;
    let names = eventually(WAIT, "search mode lists its two tools", || async {
        let names = c.tool_names().await;
        (names.len() == 2).then_some(names)
    })
    .await;
    assert_eq!(names, ["search_tools", "call_tool"]);
    let listed = c.result("tools/list", json!({})).await;
    let search = &listed["tools"][0];
    assert_eq!(
        search["inputSchema"]["required"],
        json!(["query"]),
        "{search}"
    );

    // Beta's adder is found first, with its full definition in the view's names.
    let r = c
        .result(
            "tools/call",
            json!({"name": "search_tools", "arguments": {"query": "add two numbers", "limit": 3}}),
        )
        .await;
    let tools = r["structuredContent"]["tools"].as_array().expect("tools");
    assert_eq!(tools[0]["name"], "beta__add", "{r}");
    assert_eq!(tools[0]["description"], "Adds two numbers");
    assert!(
        tools[0]["inputSchema"]["properties"]["a"].is_object(),
        "{r}"
    );
    assert!(tools.len() <= 3);
    let text = text_of(&r);
    assert!(
        text.starts_with("beta__add (confidence high): Adds two numbers"),
        "{text}"
    );
    assert_eq!(tools[0]["confidence"], "high", "{r}");
    // Nothing outside the view: alpha's tools are not in it, nor the disabled echo.
    for query in ["echo the message back", "returns the message as text"] {
        let names = found(&c, query).await;
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("beta__") && n != "beta__echo"),
            "{query}: {names:?}"
        );
    }
    // A need nothing serves: an empty list, and a text that says so.
    let r = c
        .result(
            "tools/call",
            json!({"name": "search_tools", "arguments": {"query": "book a flight to Lisbon"}}),
        )
        .await;
    assert_eq!(r["structuredContent"]["tools"], json!([]), "{r}");
    assert!(text_of(&r).starts_with("No tool fits"), "{r}");

    // call_tool runs the found tool as a direct call; the tool stays callable by name.
    let before = beta.control("GET", "/control/stats").await["calls"]["add"]
        .as_u64()
        .unwrap_or(0);
    let r = c
        .result(
            "tools/call",
            json!({"name": "call_tool", "arguments": {"name": "beta__add", "arguments": {"a": 2, "b": 3}}}),
        )
        .await;
    assert_eq!(text_of(&r), "5", "{r}");
    let r = c
        .result(
            "tools/call",
            json!({"name": "beta__add", "arguments": {"a": 1, "b": 1}}),
        )
        .await;
    assert_eq!(text_of(&r), "2", "{r}");
    let after = beta.control("GET", "/control/stats").await["calls"]["add"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(after - before, 2, "both reached the backend");
    // The audit trail names the real tool, not call_tool.
    let audited = eventually(WAIT, "the call is audited", || async {
        let a = get(gw.addr, "/api/v1/audit?tool=beta__add", &gw.admin_key).await;
        let n = a.json()["entries"].as_array().map_or(0, Vec::len);
        (n >= 2).then_some(n)
    })
    .await;
    assert!(audited >= 2);
}

#[tokio::test]
async fn call_tool_refuses_what_a_direct_call_could_not_reach_and_hostile_input() {
    let (gw, _alpha, _beta) = gateway().await;
    let c = gw.session("/mcp/found", &gw.client_key).await;
    let refused = |m: &Value| {
        (
            m["error"]["code"].clone(),
            m["error"]["message"].to_string(),
        )
    };
    let call = |id: u64, arguments: Value| {
        let c = &c;
        async move {
            c.call(
                json!(id),
                "tools/call",
                json!({"name": "call_tool", "arguments": arguments}),
            )
            .await
        }
    };
    // A tool outside the view, a disabled one, the gateway's own, no name at all.
    for (id, arguments, says) in [
        (
            1,
            json!({"name": "alpha__echo", "arguments": {}}),
            "unknown tool",
        ),
        (
            2,
            json!({"name": "beta__echo", "arguments": {"message": "x"}}),
            "disabled",
        ),
        (
            3,
            json!({"name": "search_tools", "arguments": {"query": "x"}}),
            "gateway's own",
        ),
        (4, json!({"name": "call_tool"}), "gateway's own"),
        (5, json!({"arguments": {}}), "arguments.name"),
        (
            6,
            json!({"name": "beta__add", "arguments": [1, 2]}),
            "must be an object",
        ),
    ] {
        let m = call(id, arguments).await;
        let (code, message) = refused(&m);
        assert_eq!(m["id"], id, "{m}");
        assert_eq!(code, -32602, "{m}");
        assert!(message.contains(says), "{says}: {message}");
    }
    // Hostile searches: a 1 MB query, the wrong types, a limit of 10^9, control bytes.
    let search = |id: u64, arguments: Value| {
        let c = &c;
        async move {
            c.call(
                json!(id),
                "tools/call",
                json!({"name": "search_tools", "arguments": arguments}),
            )
            .await
        }
    };
    let m = search(10, json!({"query": "x".repeat(1 << 20)})).await;
    assert_eq!(m["error"]["code"], -32602, "{}", &m.to_string()[..200]);
    assert!(
        m["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 1024"),
        "{m}"
    );
    let m = search(11, json!({"query": 7})).await;
    assert_eq!(m["error"]["code"], -32602, "{m}");
    let m = search(12, json!({"query": "add numbers", "limit": 0})).await;
    assert_eq!(m["error"]["code"], -32602, "{m}");
    let m = search(
        13,
        json!({"query": "add numbers", "limit": 1_000_000_000u64}),
    )
    .await;
    let n = m["result"]["structuredContent"]["tools"]
        .as_array()
        .map(Vec::len);
    assert!(n.is_some_and(|n| (1..=50).contains(&n)), "{m}");
    let m = search(
        14,
        json!({"query": "\u{0}\u{1b}[2J add\u{7} numbers ☃ 数字"}),
    )
    .await;
    assert_eq!(
        m["result"]["structuredContent"]["tools"][0]["name"], "beta__add",
        "{m}"
    );
    // The gateway still serves everyone.
    let r = c
        .result(
            "tools/call",
            json!({"name": "beta__add", "arguments": {"a": 1, "b": 2}}),
        )
        .await;
    assert_eq!(text_of(&r), "3");
}

#[tokio::test]
async fn a_2026_client_searches_and_calls_through_call_tool() {
    let (gw, _alpha, _beta) = gateway().await;
    let c = Client::new(gw.addr, "/mcp/found", Some(&gw.client_key));
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let m = response_message(
        &c.post_stateless(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "search_tools", "arguments": {"query": "sum of two numbers"},
                       "_meta": meta}}))
            .await,
    );
    assert_eq!(
        m["result"]["structuredContent"]["tools"][0]["name"], "beta__add",
        "{m}"
    );
    let m = response_message(
        &c.post_stateless(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "call_tool", "arguments": {"name": "beta__add", "arguments": {"a": 4, "b": 4}},
                       "_meta": meta}}))
        .await,
    );
    assert_eq!(m["id"], 2, "{m}");
    assert_eq!(text_of(&m["result"]), "8", "{m}");
    assert_eq!(m["result"]["resultType"], "complete", "{m}");
}

#[tokio::test]
async fn rest_search_answers_for_every_view_within_the_keys_reach() {
    let (gw, _alpha, _beta) = gateway().await;
    // Search off on `plain` and auto (small) on `/mcp`: the API searches them anyway.
    let r = get(
        gw.addr,
        "/api/v1/tools/search?q=add+two+numbers&limit=2",
        &gw.client_key,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["query"], "add two numbers");
    let first = &v["results"][0];
    // alpha and beta both add: either is right, with its own server.
    let name = first["name"].as_str().unwrap_or_default();
    assert!(name == "alpha__add" || name == "beta__add", "{v}");
    assert_eq!(first["server"].as_str(), name.split("__").next(), "{v}");
    assert!(first["score"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["results"].as_array().unwrap().len() <= 2);
    let r = get(
        gw.addr,
        "/api/v1/tools/search?q=echo+a+message&namespace=found",
        &gw.client_key,
    )
    .await;
    let results = r.json();
    let names: Vec<&str> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.iter().all(|n| n.starts_with("beta__")),
        "out of the view: {names:?}"
    );
    assert!(!names.contains(&"beta__echo"), "disabled: {names:?}");
    let none = get(
        gw.addr,
        "/api/v1/tools/search?q=order+a+pizza",
        &gw.client_key,
    )
    .await;
    assert_eq!(none.json()["results"], json!([]), "{}", none.text());

    // A key limited to `plain` finds only beta's tools, and may not name another view.
    let store = key_store(&gw.db);
    let limited = create_key(
        &store,
        "limited",
        metamcp::store::keys::Scope::Client,
        &["plain"],
    )
    .await;
    let r = eventually(WAIT, "the new key is known", || async {
        let r = get(gw.addr, "/api/v1/tools/search?q=echo+the+message", &limited).await;
        (r.status == 200).then_some(r)
    })
    .await;
    for t in r.json()["results"].as_array().unwrap() {
        assert_eq!(t["server"], "beta", "{t}");
    }
    let r = get(
        gw.addr,
        "/api/v1/tools/search?q=echo&namespace=found",
        &limited,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
    // Bad requests say what to do.
    for (path, field) in [
        ("/api/v1/tools/search", "q"),
        ("/api/v1/tools/search?q=", "q"),
        ("/api/v1/tools/search?q=x&limit=0", "limit"),
        ("/api/v1/tools/search?q=x&limit=many", "limit"),
        ("/api/v1/tools/search?q=x&sort=name", "sort"),
    ] {
        let r = get(gw.addr, path, &gw.client_key).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert!(r.text().contains(field), "{path}: {}", r.text());
    }
    let long = format!("/api/v1/tools/search?q={}", "a".repeat(5000));
    assert_eq!(get(gw.addr, &long, &gw.client_key).await.status, 400);
    let unknown = get(
        gw.addr,
        "/api/v1/tools/search?q=x&namespace=nope",
        &gw.client_key,
    )
    .await;
    assert_eq!(unknown.status, 404, "{}", unknown.text());
}

#[tokio::test]
async fn the_modes_decide_what_tools_list_gives_and_are_reported() {
    let (gw, _alpha, _beta) = gateway().await;
    let shown = get(gw.addr, "/api/v1/namespaces/found", &gw.admin_key).await;
    assert_eq!(shown.json()["tool_search"], "on", "{}", shown.text());
    assert_eq!(
        shown.json()["tool_search_effective"],
        "on",
        "{}",
        shown.text()
    );
    // In search mode the view's tools are embedded as soon as it is built: the count
    // reaches every tool.
    eventually(4 * WAIT, "found's tools are embedded", || async {
        let v = get(gw.addr, "/api/v1/namespaces/found", &gw.admin_key)
            .await
            .json();
        let e = &v["tool_search_embedded"];
        (e["tools"].as_u64() > Some(0)
            && e["embedded"] == e["tools"]
            && e["background_of"].as_u64() > Some(500))
        .then_some(())
    })
    .await;
    let shown = get(gw.addr, "/api/v1/namespaces/plain", &gw.admin_key).await;
    assert_eq!(shown.json()["tool_search"], "off");
    assert_eq!(shown.json()["tool_search_effective"], "off");
    assert_eq!(shown.json()["tool_search_why"], "tool_search is off");
    // Off: every tool, and search_tools is not a tool of the view.
    let plain = gw.session("/mcp/plain", &gw.client_key).await;
    let names = eventually(WAIT, "beta's tools are listed", || async {
        let names = plain.tool_names().await;
        names.iter().any(|n| n == "beta__add").then_some(names)
    })
    .await;
    assert!(
        !names
            .iter()
            .any(|n| n == "search_tools" || n == "call_tool"),
        "{names:?}"
    );
    let m = plain
        .call(
            json!(1),
            "tools/call",
            json!({"name": "search_tools", "arguments": {"query": "add"}}),
        )
        .await;
    assert_eq!(m["error"]["code"], -32602, "{m}");
    // Auto, on a small view (`/mcp` by default): every tool.
    let all = gw.session("/mcp", &gw.client_key).await;
    let names = eventually(WAIT, "every tool is listed", || async {
        let names = all.tool_names().await;
        names.iter().any(|n| n == "alpha__echo").then_some(names)
    })
    .await;
    assert!(!names.iter().any(|n| n == "search_tools"), "{names:?}");
    // Switching a namespace on takes effect for its next list.
    let put = send_json(
        gw.addr,
        "PUT",
        "/api/v1/namespaces/plain",
        &gw.admin_key,
        &json!({"tool_search": "on"}),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.text());
    eventually(WAIT, "plain is in search mode", || async {
        (plain.tool_names().await == ["search_tools", "call_tool"]).then_some(())
    })
    .await;
    let shown = get(gw.addr, "/api/v1/namespaces/plain", &gw.admin_key).await;
    assert_eq!(
        shown.json()["tool_search_effective"],
        "on",
        "{}",
        shown.text()
    );
    // Auto reports the mode in effect and why: a small view's list is within the bound.
    let put = send_json(
        gw.addr,
        "PUT",
        "/api/v1/namespaces/plain",
        &gw.admin_key,
        &json!({"tool_search": "auto"}),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(put.json()["tool_search_effective"], "off", "{}", put.text());
    let why = put.json()["tool_search_why"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        why.starts_with("auto: the full tools/list is") && why.contains("within the 64 KiB"),
        "{why}"
    );
    // A bad mode is refused with the field named.
    let bad = send_json(
        gw.addr,
        "PUT",
        "/api/v1/namespaces/plain",
        &gw.admin_key,
        &json!({"tool_search": "sometimes"}),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("tool_search"), "{}", bad.text());
}

#[tokio::test]
async fn the_gateways_own_setting_turns_search_on_for_every_server() {
    let gw = TestGateway::start_with(|c| c.tool_search = metamcp::model::ToolSearch::On).await;
    let beta = Mock::start(&["--profile", "rich"]);
    gw.register(json!({"name": "beta", "protocol": "http", "url": beta.url()}))
        .await;
    let c = gw.session("/mcp", &gw.client_key).await;
    eventually(WAIT, "search mode on /mcp", || async {
        (c.tool_names().await == ["search_tools", "call_tool"]).then_some(())
    })
    .await;
    let names = eventually(WAIT, "beta's tools are indexed", || async {
        let names = found(&c, "add two numbers").await;
        (!names.is_empty()).then_some(names)
    })
    .await;
    assert_eq!(names[0], "beta__add");
}

/// A view in search mode asks for its tools' embeddings as soon as it is built; they are
/// written to PostgreSQL, and a view built later (here, after the memory forgot them)
/// reads them back from there instead of computing them: the stored vector of `beta__add`
/// is replaced by the meaning of a need nothing serves, and that need then finds it.
#[tokio::test]
async fn embeddings_are_kept_in_postgresql_and_read_back() {
    use metamcp::search::semantic;
    let (gw, _alpha, _beta) = gateway().await;
    let c = gw.session("/mcp/plain", &gw.client_key).await;
    let listed = eventually(WAIT, "beta's tools", || async {
        let r = c.result("tools/list", json!({})).await;
        let tools = r["tools"].as_array().cloned().unwrap_or_default();
        tools
            .iter()
            .any(|t| t["name"] == "beta__add")
            .then_some(tools)
    })
    .await;
    let add = listed.iter().find(|t| t["name"] == "beta__add").unwrap();
    let key = semantic::key_of(&semantic::text_of(&metamcp::search::fields_of(
        add, "beta", "",
    )));
    let db = gw.db.client().await;
    eventually(
        std::time::Duration::from_secs(60),
        "beta__add's embedding stored",
        || async {
            let n: i64 = db
                .query_one(
                    "SELECT count(*) FROM tool_embeddings WHERE key = $1",
                    &[&&key[..]],
                )
                .await
                .unwrap()
                .get(0);
            (n == 1).then_some(())
        },
    )
    .await;
    let sms = "send an SMS to my mother";
    let f = gw.session("/mcp/found", &gw.client_key).await;
    // Before: the adder is not what an SMS needs.
    let before = found(&f, sms).await;
    assert_ne!(
        before.first().map(String::as_str),
        Some("beta__add"),
        "{before:?}"
    );
    let vector: Vec<u8> = semantic::embed_query(sms)
        .unwrap()
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    db.execute(
        "UPDATE tool_embeddings SET vector = $2 WHERE key = $1",
        &[&&key[..], &vector],
    )
    .await
    .unwrap();
    let store = gw.state.embeddings().expect("hybrid by default");
    store.forget_all();
    // A registry change builds the view again.
    let put = send_json(
        gw.addr,
        "PUT",
        "/api/v1/namespaces/found",
        &gw.admin_key,
        &json!({"description": "rebuilt"}),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.text());
    eventually(WAIT, "the stored vector is read back", || async {
        let names = found(&f, sms).await;
        (names.first().map(String::as_str) == Some("beta__add")).then_some(())
    })
    .await;
}

/// Hostile backends: one whose tool descriptions are 1 MiB each, one whose list changes as
/// fast as it is told to. A description is read as its first words and a tool embedded as
/// at most 128 tokens, the same definition is embedded once however often it comes back,
/// and the gateway keeps answering searches and other requests meanwhile.
#[tokio::test]
async fn huge_descriptions_and_a_churning_list_leave_search_bounded_and_responsive() {
    let gw = TestGateway::start().await;
    let huge = Mock::start(&["--description-kib", "1024"]);
    let churn = Mock::start(&["--profile", "rich"]);
    // Screening reads 64 KiB of each padded definition through every decoder: 12.5 s
    // for the huge server's list in this debug build on a quiet machine, past the
    // suite's 30 s under CI's load once. The bounds this test holds come after.
    gw.add(json!({"name": "huge", "protocol": "http", "url": huge.url()}))
        .await;
    gw.wait_status_within("huge", "running", support::PEER_WAIT)
        .await;
    gw.register(json!({"name": "churn", "protocol": "http", "url": churn.url()}))
        .await;
    let made = send_json(
        gw.addr,
        "POST",
        "/api/v1/namespaces",
        &gw.admin_key,
        &json!({"name": "h", "servers": ["huge", "churn"], "tool_search": "on"}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let c = gw.session("/mcp/h", &gw.client_key).await;
    let bound = std::time::Duration::from_secs(3);
    // A definition with more text than screening reads is held at first sight ("too
    // large to screen", docs/guides/reviews.md): an admin approves the huge server's tools.
    let first = eventually(WAIT, "the huge server's adder found", || async {
        let approve = json!({"server": "huge"});
        send_json(
            gw.addr,
            "POST",
            "/api/v1/reviews/approve",
            &gw.admin_key,
            &approve,
        )
        .await;
        let names = found(&c, "add two numbers").await;
        names.iter().any(|n| n == "huge__add").then_some(names)
    })
    .await;
    assert!(first.len() <= 8, "{first:?}");
    // The churning list: its tool toggled forty times, searches and health checks
    // answered within the bound all along. (Each change rebuilds the routing table from
    // every member's lists, megabytes here: built on a runtime thread, it held searches
    // for 1.3 to 6 s in this debug build; off it, they take 0.2 to 0.9 s.)
    for i in 0..40 {
        let r = c
            .result(
                "tools/call",
                json!({"name": "churn__toggle", "arguments": {}}),
            )
            .await;
        assert!(text_of(&r).starts_with("extra"), "{r}");
        if i % 8 == 0 {
            // (The churning server's tools may be between two lists at this moment.)
            let started = std::time::Instant::now();
            found(&c, "sum of two numbers").await;
            assert!(
                started.elapsed() < bound,
                "a search took {:?}",
                started.elapsed()
            );
            let health = get(gw.addr, "/health", "").await;
            assert_eq!(health.status, 200);
        }
    }
    eventually(WAIT, "the adder found by its meaning", || async {
        let names = found(&c, "sum of two numbers").await;
        names.iter().any(|n| n == "churn__add").then_some(())
    })
    .await;
    // Every definition embedded once: the toggled tool comes back the same (the two
    // servers list some 40 tools between them; `/mcp`, in search mode too, names them
    // the same way, so its texts are the same).
    let store = gw.state.embeddings().expect("hybrid by default");
    eventually(
        std::time::Duration::from_secs(120),
        "every embedding computed",
        || async { (store.counts().1 == 0).then_some(()) },
    )
    .await;
    // The tools' alone (10 to 64): the background catalogue's embeddings are the
    // build's, never computed or kept here.
    let (kept, _) = store.counts();
    assert!((10..=64).contains(&kept), "{kept} embeddings");
}

/// A 2026-07-28 call with the standard headers mirrored from it (as `post_stateless`
/// sends them) and `Mcp-Param-Region` when `region` is given.
async fn call_2026(
    c: &Client,
    id: u64,
    params: Value,
    region: Option<&str>,
) -> support::http::Resp {
    let mut params = params;
    params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                             "io.modelcontextprotocol/clientCapabilities": {}});
    let name = params["name"].as_str().unwrap_or_default().to_string();
    let msg = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params});
    let mut headers = vec![
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", name.as_str()),
    ];
    if let Some(r) = region {
        headers.push(("mcp-param-region", r));
    }
    c.post_raw(msg.to_string().as_bytes(), &headers).await
}

/// `Mcp-Param-*` headers (SEP-2243) are held to the arguments of the tool `call_tool`
/// names as they are on a direct call: a header contradicting its argument, or missing
/// for one that is set, is refused with -32020 either way; the matching one is served.
#[tokio::test]
async fn call_tool_holds_the_named_tools_mcp_param_headers_to_its_arguments() {
    let gw = TestGateway::start().await;
    let geo = Mock::start(&["--header-param"]);
    gw.register(json!({"name": "geo", "protocol": "http", "url": geo.url()}))
        .await;
    let made = send_json(
        gw.addr,
        "POST",
        "/api/v1/namespaces",
        &gw.admin_key,
        &json!({"name": "maps", "servers": ["geo"], "tool_search": "on"}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let c = Client::new(gw.addr, "/mcp/maps", Some(&gw.client_key));
    let direct = |region: &str| json!({"name": "geo__locate", "arguments": {"region": region}});
    let through = |region: &str| {
        json!({"name": "call_tool",
               "arguments": {"name": "geo__locate", "arguments": {"region": region}}})
    };
    for (what, params) in [("direct", direct("eu-1")), ("call_tool", through("eu-1"))] {
        // Matching: served.
        let r = call_2026(&c, 1, params.clone(), Some("eu-1")).await;
        assert_eq!(r.status, 200, "{what}: {}", r.text());
        assert_eq!(
            text_of(&response_message(&r)["result"]),
            "region eu-1",
            "{what}"
        );
        // Contradicting, or missing while the argument is set: refused alike.
        for (header, says) in [(Some("us-2"), "does not match"), (None, "is required")] {
            let r = call_2026(&c, 2, params.clone(), header).await;
            assert_eq!(r.status, 400, "{what} with {header:?}: {}", r.text());
            let m = r.json();
            assert_eq!(m["error"]["code"], -32020, "{what} with {header:?}: {m}");
            assert_eq!(m["id"], 2, "{m}");
            let message = m["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("Mcp-Param-Region") && message.contains(says),
                "{what} with {header:?}: {m}"
            );
        }
    }
}
