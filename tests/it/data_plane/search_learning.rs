//! Tool search that learns from what agents call after a search, end to end: searches in
//! namespace `a` followed by calls of one tool move `a`'s ranking for that need, while
//! `b` (the same server, the same query) answers byte for byte as before; one key's flood
//! stays within its cap; another replica (or a restart) reads what was learned from
//! PostgreSQL; a call of a tool out of the key's reach teaches nothing; and
//! `METAMCP_SEARCH_LEARNING=off` changes nothing.

use crate::support::WAIT;
use crate::support::eventually;
use crate::support::gateway::{TestGateway, create_key, key_store};
use crate::support::http::{get, send_json};
use crate::support::mcp::Client;
use crate::support::mock::Mock;
use metamcp::store::keys::Scope;
use serde_json::{Value, json};

const NEED: &str = "return the text of a message";

/// Tools of the mock that answer a call without arguments harmlessly.
const CALLABLE: &[&str] = &[
    "beta__echo",
    "beta__add",
    "beta__whoami",
    "beta__trace",
    "beta__env",
    "beta__fail",
    "beta__big",
];

/// A gateway with mocks `alpha` and `beta`; namespaces `a` and `b`, each beta alone in
/// search mode.
async fn gateway(learning: bool) -> (TestGateway, Mock, Mock) {
    let gw = TestGateway::start_with(|c| c.search_learning = learning).await;
    let alpha = Mock::start(&[]);
    let beta = Mock::start(&[]);
    gw.register(json!({"name": "alpha", "protocol": "http", "url": alpha.url()}))
        .await;
    gw.register(json!({"name": "beta", "protocol": "http", "url": beta.url()}))
        .await;
    for ns in ["a", "b"] {
        let body = json!({"name": ns, "servers": ["beta"], "tool_search": "on"});
        let made = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &body).await;
        assert_eq!(made.status, 201, "{}", made.text());
    }
    (gw, alpha, beta)
}

/// The REST search's answer for `q` in `ns`, as bytes, once every tool of the view is
/// embedded (before, the words alone rank).
async fn rest(gw: &TestGateway, ns: &str, q: &str) -> String {
    let at = format!("/api/v1/namespaces/{ns}");
    eventually(WAIT, "the namespace's tools are embedded", || async {
        let v = get(gw.addr, &at, &gw.admin_key).await.json();
        let e = &v["tool_search_embedded"];
        (e["tools"].as_u64() > Some(2) && e["embedded"] == e["tools"]).then_some(())
    })
    .await;
    let path = format!(
        "/api/v1/tools/search?q={}&namespace={ns}",
        q.replace(' ', "+")
    );
    eventually(WAIT, "the namespace's tools are searched", || async {
        let r = get(gw.addr, &path, &gw.admin_key).await;
        (r.status == 200 && r.json()["results"].as_array().is_some_and(|a| a.len() > 2))
            .then(|| r.text())
    })
    .await
}

fn names(answer: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(answer).expect("JSON");
    v["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().map(String::from))
        .collect()
}

fn scores(answer: &str) -> Vec<(String, f64)> {
    let v: Value = serde_json::from_str(answer).expect("JSON");
    v["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["name"].as_str()?.to_string(), t["score"].as_f64()?)))
        .collect()
}

/// `n` client keys, once the gateway knows them; `namespaces` limits them.
async fn keys(gw: &TestGateway, prefix: &str, n: usize, namespaces: &[&str]) -> Vec<String> {
    let store = key_store(&gw.db);
    let mut out = Vec::new();
    for i in 0..n {
        let key = create_key(&store, &format!("{prefix}{i}"), Scope::Client, namespaces).await;
        eventually(WAIT, "the new key is known", || async {
            let r = get(gw.addr, "/api/v1/tools/search?q=echo", &key).await;
            (r.status == 200).then_some(())
        })
        .await;
        out.push(key);
    }
    out
}

/// A search of `need` in the session, then a call of `tool` (its answer, whatever it is).
async fn search_then_call(c: &Client, need: &str, tool: &str) -> Value {
    c.result(
        "tools/call",
        json!({"name": "search_tools", "arguments": {"query": need}}),
    )
    .await;
    c.call(
        json!(2),
        "tools/call",
        json!({"name": tool, "arguments": {}}),
    )
    .await
}

/// The tool agents will call: the best-ranked callable one after the first.
fn target_of(before: &[String]) -> String {
    before
        .iter()
        .skip(1)
        .find(|n| CALLABLE.contains(&n.as_str()))
        .cloned()
        .unwrap_or_else(|| panic!("no callable tool after the first: {before:?}"))
}

#[tokio::test]
async fn calls_after_searches_move_their_namespace_alone_within_each_keys_cap() {
    let (gw, _alpha, _beta) = gateway(true).await;
    let (before_a, before_b) = (rest(&gw, "a", NEED).await, rest(&gw, "b", NEED).await);
    let target = target_of(&names(&before_a));
    assert_ne!(names(&before_a)[0], target);

    // Five agents, each with its own key, search in `a` and call the target.
    for key in keys(&gw, "agent", 5, &[]).await {
        let c = gw.session("/mcp/a", &key).await;
        for _ in 0..2 {
            search_then_call(&c, NEED, &target).await;
        }
    }
    let after_a = rest(&gw, "a", NEED).await;
    assert_eq!(names(&after_a)[0], target, "{after_a}");
    // `b` searched the same tools for the same need: not a byte moved.
    assert_eq!(rest(&gw, "b", NEED).await, before_b);

    // One key's flood toward another tool stays within its cap: the five agents' choice
    // still comes first.
    let flooded = names(&before_a)
        .into_iter()
        .find(|n| *n != target && CALLABLE.contains(&n.as_str()))
        .expect("another callable tool");
    let flood = keys(&gw, "flood", 1, &[]).await.remove(0);
    let c = gw.session("/mcp/a", &flood).await;
    for _ in 0..25 {
        search_then_call(&c, NEED, &flooded).await;
    }
    let after_flood = rest(&gw, "a", NEED).await;
    assert_eq!(names(&after_flood)[0], target, "{after_flood}");
    // The flood moved no score by more than a key alone holding a word gives (BOOST × 2/3).
    let most = metamcp::search::learning::BOOST * 2.0 / 3.0 + 1e-3;
    for (name, score) in scores(&after_flood) {
        if let Some((_, was)) = scores(&after_a).into_iter().find(|(n, _)| *n == name) {
            assert!(
                (score - was).abs() as f32 <= most,
                "{name}: {was} → {score}"
            );
        }
    }
    assert_eq!(rest(&gw, "b", NEED).await, before_b);

    // Kept in PostgreSQL: a replica started now (as after a restart) reads it and ranks
    // the same; `b` there is still as it was.
    let replica = gw.beside(|_| {}).await;
    eventually(WAIT, "the replica has read the learning", || async {
        let r = rest(&replica, "a", NEED).await;
        (names(&r)[0] == target).then_some(())
    })
    .await;
    assert_eq!(rest(&replica, "b", NEED).await, before_b);
}

#[tokio::test]
async fn a_tool_out_of_reach_teaches_nothing_and_off_learns_nothing() {
    let (gw, _alpha, _beta) = gateway(true).await;
    let need = "show the environment variables of the process";
    let before = rest(&gw, "a", need).await;
    // A key of `a` alone calls alpha's tool after its searches: refused, never learned.
    let limited = keys(&gw, "limited", 1, &["a"]).await.remove(0);
    let c = gw.session("/mcp/a", &limited).await;
    for _ in 0..4 {
        let m = search_then_call(&c, need, "alpha__whoami").await;
        assert!(m.get("error").is_some(), "out of reach: {m}");
    }
    assert_eq!(rest(&gw, "a", need).await, before);
    drop(gw);

    // Learning off: the same agents as above move nothing.
    let (gw, _alpha, _beta) = gateway(false).await;
    let before = rest(&gw, "a", NEED).await;
    let target = target_of(&names(&before));
    for key in keys(&gw, "agent", 3, &[]).await {
        let c = gw.session("/mcp/a", &key).await;
        for _ in 0..2 {
            search_then_call(&c, NEED, &target).await;
        }
    }
    assert_eq!(rest(&gw, "a", NEED).await, before);
}
