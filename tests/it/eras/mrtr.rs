//! Multi-round-trip requests (2026-07-28) over session-era backends: a backend's
//! sampling, elicitation and roots requests during a call reach a stateless client as
//! `input_required`; its retries answer them and the call goes on, over as many rounds
//! as the backend needs. The sealed `requestState` is refused altered, replayed,
//! expired, presented by another key or for another request; calls waiting for input
//! are bounded per key and given up after the TTL (cancelled upstream).

use crate::support;

use std::time::Duration;

use crate::support::gateway::{TestGateway, create_key, key_store};
use crate::support::mcp::{Client, response_message, text_of};
use crate::support::mock::Mock;
use metamcp::store::keys::Scope;
use serde_json::{Value, json};

fn meta(caps: Value) -> Value {
    json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
           "io.modelcontextprotocol/clientCapabilities": caps})
}

fn all_caps() -> Value {
    json!({"sampling": {}, "elicitation": {"form": {}, "url": {}}, "roots": {}})
}

fn call(id: u64, rounds: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": "ask", "arguments": {"rounds": rounds}, "_meta": meta(all_caps())}})
}

/// The same call retried with `answers` and `state`.
fn retry(first: &Value, id: u64, answers: Value, state: &Value) -> Value {
    let mut r = first.clone();
    r["id"] = json!(id);
    r["params"]["inputResponses"] = answers;
    r["params"]["requestState"] = state.clone();
    r
}

async fn gateway_with(tweak: impl FnOnce(&mut metamcp::config::Config)) -> (TestGateway, Mock) {
    let gw = TestGateway::start_with(tweak).await;
    let mock = Mock::start(&["--profile", "rich"]);
    gw.register(json!({"name": "m", "protocol": "http", "url": mock.url()}))
        .await;
    let r = support::http::send_json(
        gw.addr,
        "POST",
        "/api/v1/namespaces",
        &gw.admin_key,
        &json!({"name": "bare", "servers": ["m"], "tool_prefix": "never"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    (gw, mock)
}

/// Waits (30 s at most) until the backend has seen `n` cancellations.
async fn cancelled_upstream(mock: &Mock, n: u64) {
    support::eventually(
        Duration::from_secs(30),
        "cancellations upstream",
        || async {
            let stats = mock.control("GET", "/control/stats").await;
            (stats["cancelled"].as_u64() >= Some(n)).then_some(())
        },
    )
    .await;
}

fn client(gw: &TestGateway) -> Client {
    Client::new(gw.addr, "/mcp/bare", Some(&gw.client_key))
}

async fn send(c: &Client, msg: &Value) -> Value {
    let r = c.post_stateless(msg).await;
    assert_eq!(r.status, 200, "{}", r.text());
    response_message(&r)
}

fn input_required(m: &Value) -> (&serde_json::Map<String, Value>, Value) {
    let result = &m["result"];
    assert_eq!(result["resultType"], "input_required", "{m}");
    assert!(
        result.get("ttlMs").is_none(),
        "no cache hints on input_required: {m}"
    );
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "metamcp",
        "{m}"
    );
    let state = result["requestState"].clone();
    assert!(
        state.as_str().is_some_and(|s| s.starts_with("mrs1.")),
        "{m}"
    );
    (
        result["inputRequests"].as_object().expect("inputRequests"),
        state,
    )
}

fn elicit(key: &str, message: &str) -> Value {
    json!({"method": "elicitation/create", "key": key,
           "params": {"message": message, "requestedSchema": {"type": "object",
                      "properties": {"name": {"type": "string"}}}}})
}

#[tokio::test]
async fn a_backends_questions_reach_a_stateless_client_over_several_rounds() {
    let (gw, mock) = gateway_with(|_| {}).await;
    let c = client(&gw);
    // Round 1 asks three things at once; round 2 one more.
    let first = call(
        1,
        json!([[elicit("user_name", "What is your name?"),
                {"method": "sampling/createMessage", "key": "greeting",
                 "params": {"messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}], "maxTokens": 5}},
                {"method": "roots/list"}],
               [elicit("color", "Favourite colour?")]]),
    );
    let m = send(&c, &first).await;
    assert_eq!(m["id"], 1);
    let (asks, state) = input_required(&m);
    assert_eq!(asks.len(), 3, "{m}");
    assert_eq!(asks["user_name"]["method"], "elicitation/create");
    assert_eq!(asks["user_name"]["params"]["message"], "What is your name?");
    assert_eq!(asks["greeting"]["method"], "sampling/createMessage");
    let roots_key = asks
        .iter()
        .find(|(_, v)| v["method"] == "roots/list")
        .map(|(k, _)| k.clone())
        .expect("a roots/list question");
    // Answers to every question, plus one nobody asked (ignored).
    let answers = json!({
        "user_name": {"action": "accept", "content": {"name": "Alice"}},
        "greeting": {"role": "assistant", "model": "m", "content": {"type": "text", "text": "Hello!"}},
        roots_key: {"roots": [{"uri": "file:///work", "name": "work"}]},
        "extra": {"ignored": true}
    });
    let m = send(&c, &retry(&first, 2, answers, &state)).await;
    assert_eq!(m["id"], 2, "the retry's own id: {m}");
    let (asks, state2) = input_required(&m);
    assert_ne!(state, state2, "each round has its own state");
    assert_eq!(asks.keys().collect::<Vec<_>>(), ["color"]);
    // The first round's state was used up: replaying it finds nothing.
    let replay = send(
        &c,
        &retry(
            &first,
            3,
            json!({"user_name": {"action": "decline"}}),
            &state,
        ),
    )
    .await;
    assert_eq!(replay["error"]["code"], -32602, "{replay}");
    assert_eq!(replay["id"], 3);
    let m = send(
        &c,
        &retry(
            &first,
            4,
            json!({"color": {"action": "accept", "content": {"name": "teal"}}}),
            &state2,
        ),
    )
    .await;
    assert_eq!(m["id"], 4);
    assert_eq!(m["result"]["resultType"], "complete", "{m}");
    let answers: Value = serde_json::from_str(&text_of(&m["result"])).expect("the tool's answers");
    assert_eq!(answers[0][0]["content"]["name"], "Alice", "{answers}");
    assert_eq!(answers[0][1]["content"]["text"], "Hello!");
    assert_eq!(answers[0][2]["roots"][0]["uri"], "file:///work");
    assert_eq!(answers[1][0]["content"]["name"], "teal");
    assert_eq!(gw.state.era.parked.len(), 0, "nothing left waiting");
    let stats = mock.control("GET", "/control/stats").await;
    assert_eq!(
        stats["cancelled"], 0,
        "the call was never cancelled: {stats}"
    );
}

#[tokio::test]
async fn bad_states_and_answers_are_refused_and_lose_nothing() {
    let (gw, _mock) = gateway_with(|_| {}).await;
    let c = client(&gw);
    let first = call(1, json!([[elicit("user_name", "Name?")]]));
    let (_, state) = input_required(&send(&c, &first).await).clone();
    let s = state.as_str().unwrap().to_string();
    let good = json!({"user_name": {"action": "accept", "content": {"name": "Bob"}}});
    let refused = |m: &Value, id: u64| {
        assert_eq!(m["error"]["code"], -32602, "{m}");
        assert_eq!(m["id"], id, "{m}");
    };
    // Altered, not a string, not ours.
    for (id, bad) in [
        (10, json!(format!("{s}-TAMPERED"))),
        (11, json!(format!("mrs1.{}", &s[5..s.len() - 4]))),
        (12, json!(42)),
        (13, json!("opaque-backend-state")),
    ] {
        refused(&send(&c, &retry(&first, id, good.clone(), &bad)).await, id);
    }
    // Another request (other arguments, another tool) with this state.
    let mut other = retry(&first, 14, good.clone(), &state);
    other["params"]["arguments"]["rounds"] = json!([]);
    refused(&send(&c, &other).await, 14);
    // Another key presenting it.
    let store = key_store(&gw.db);
    let second = create_key(&store, "other", Scope::Client, &[]).await;
    let thief = Client::new(gw.addr, "/mcp/bare", Some(&second));
    refused(
        &send(&thief, &retry(&first, 15, good.clone(), &state)).await,
        15,
    );
    // Answers that are not results: refused, and the call still waits.
    for (id, bad) in [
        (16, json!(null)),
        (17, json!({"user_name": 12345})),
        (18, json!([1])),
    ] {
        refused(&send(&c, &retry(&first, id, bad, &state)).await, id);
    }
    // A retry that leaves the question unanswered is asked it again.
    let again = send(
        &c,
        &retry(&first, 19, json!({"wrong_key": {"x": 1}}), &state),
    )
    .await;
    let (asks, state) = input_required(&again);
    assert!(asks.contains_key("user_name"), "{again}");
    let done = send(&c, &retry(&first, 20, good, &state)).await;
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
    assert!(text_of(&done["result"]).contains("Bob"), "{done}");
}

#[tokio::test]
async fn a_call_never_retried_is_cancelled_upstream_and_waiting_calls_are_bounded() {
    let (gw, mock) = gateway_with(|cfg| {
        cfg.parked.ttl = Duration::from_millis(600);
        cfg.parked.per_key = 3;
    })
    .await;
    let c = client(&gw);
    let mut states = Vec::new();
    for id in 1..=3 {
        let (_, state) = input_required(&send(&c, &call(id, json!([[elicit("q", "?")]]))).await);
        states.push(state);
    }
    assert_eq!(gw.state.era.parked.len(), 3);
    // The fourth is over the key's bound: an error for the client, cancelled upstream.
    let r = c
        .post_stateless(&call(4, json!([[elicit("q", "?")]])))
        .await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("1"));
    let over = r.json();
    assert_eq!(over["error"]["code"], -31029, "{over}");
    assert_eq!(over["id"], 4);
    // Another key still gets its own place.
    let store = key_store(&gw.db);
    let second = create_key(&store, "other", Scope::Client, &[]).await;
    let other = Client::new(gw.addr, "/mcp/bare", Some(&second));
    input_required(&send(&other, &call(5, json!([[elicit("q", "?")]]))).await);
    // Nobody retries: every waiting call is given up and cancelled at the backend.
    support::eventually(
        Duration::from_secs(10),
        "waiting calls given up",
        || async { (gw.state.era.parked.is_empty()).then_some(()) },
    )
    .await;
    cancelled_upstream(&mock, 5).await;
    // A retry after that finds nothing (its state has expired too).
    let late = send(
        &c,
        &retry(
            &call(1, json!([[elicit("q", "?")]])),
            9,
            json!({"q": {"action": "accept"}}),
            &states[0],
        ),
    )
    .await;
    assert_eq!(late["error"]["code"], -32602, "{late}");
}

#[tokio::test]
async fn questions_for_undeclared_capabilities_never_reach_the_client() {
    let (gw, mock) = gateway_with(|_| {}).await;
    let c = client(&gw);
    // Declares sampling only: the elicitation is refused to the backend, the sampling
    // asked. Also when a busy backend's concurrent questions come apart, the sampling
    // 40 ms after the elicitation (SETTLE is 5 ms): the round waits for it instead of
    // ending with -32021 (the conformance scenario
    // input-required-result-capability-check failed so on a loaded machine).
    for after_ms in [0, 40] {
        let msg = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "ask", "_meta": meta(json!({"sampling": {}})),
                       "arguments": {"rounds": [[elicit("e", "?"),
                           {"method": "sampling/createMessage", "key": "s", "after_ms": after_ms,
                            "params": {"messages": [], "maxTokens": 1}}]]}}});
        let m = send(&c, &msg).await;
        let (asks, state) = input_required(&m);
        assert_eq!(asks.keys().collect::<Vec<_>>(), ["s"], "{after_ms} ms: {m}");
        let done = send(
            &c,
            &retry(&msg, 2, json!({"s": {"role": "assistant", "model": "x", "content": {"type": "text", "text": "ok"}}}), &state),
        )
        .await;
        let answers: Value = serde_json::from_str(&text_of(&done["result"])).expect("answers");
        assert_eq!(
            answers[0][0]["code"], -32601,
            "the elicitation was refused: {answers}"
        );
        assert_eq!(answers[0][1]["content"]["text"], "ok");
    }
    // Asked only what the client cannot answer: -32021 with HTTP 400, naming the
    // capability, and the call is cancelled at the backend.
    let only = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "ask", "_meta": meta(json!({})),
                   "arguments": {"rounds": [[{"method": "sampling/createMessage",
                                              "params": {"messages": [], "maxTokens": 1}}]]}}});
    let r = c.post_stateless(&only).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let m = r.json();
    assert_eq!(m["id"], 3, "{m}");
    assert_eq!(m["error"]["code"], -32021, "{m}");
    assert_eq!(
        m["error"]["data"]["requiredCapabilities"],
        json!({"sampling": {}}),
        "{m}"
    );
    cancelled_upstream(&mock, 1).await;
    assert!(gw.state.era.parked.is_empty());
}

#[tokio::test]
async fn a_backend_needing_the_user_at_a_url_gets_a_url_question_then_the_call_again() {
    // The backend's -32042 as a JSON answer, then as an SSE one.
    for sse in [false, true] {
        let (gw, mock) = gateway_with(|_| {}).await;
        let c = client(&gw);
        let msg = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "url_first", "arguments": {"sse": sse}, "_meta": meta(all_caps())}});
        let m = send(&c, &msg).await;
        assert_eq!(m["id"], 1);
        let (asks, state) = input_required(&m);
        assert_eq!(asks.len(), 1, "{m}");
        let ask = &asks["sign-in"];
        assert_eq!(ask["method"], "elicitation/create");
        assert_eq!(ask["params"]["mode"], "url");
        assert_eq!(ask["params"]["url"], "https://auth.example/sign-in");
        assert!(ask["params"].get("elicitationId").is_none(), "{m}");
        assert_eq!(
            gw.state.era.parked.len(),
            0,
            "nothing waits: the call is sent again"
        );
        // Retried before the visit: asked again.
        let early = send(
            &c,
            &retry(&msg, 2, json!({"sign-in": {"action": "accept"}}), &state),
        )
        .await;
        let (_, state) = input_required(&early);
        mock.control("GET", "/control/visit").await;
        let done = send(
            &c,
            &retry(&msg, 3, json!({"sign-in": {"action": "accept"}}), &state),
        )
        .await;
        assert_eq!(done["id"], 3, "{done}");
        assert_eq!(text_of(&done["result"]), "signed in", "sse {sse}: {done}");
        let stats = mock.control("GET", "/control/stats").await;
        assert_eq!(
            stats["calls"]["url_first"], 3,
            "sent again on each retry: {stats}"
        );
    }
}

/// 2,000 calls from one key whose backend asks something (16 at a time, within the
/// backend's bulkhead): the key's bound (METAMCP_KEY_MAX_PARKED, 64) wait, every other
/// is refused with -31029 at once and cancelled at the backend, and another key is
/// served as before. (It sent 10,000: the 8,000 more met the same refusal on the same
/// path, and the test took 27.8 CPU-s of a debug build alone, against 6.8.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_waiting_calls_from_one_key_are_bounded() {
    use futures_util::StreamExt;
    const N: usize = 2_000;
    let (gw, mock) = gateway_with(|_| {}).await;
    let c = client(&gw);
    // The key proved once (argon2), so the flood is not refused at the door instead.
    let echo = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "still here"}, "_meta": meta(json!({}))}});
    assert_eq!(text_of(&send(&c, &echo).await["result"]), "still here");
    let outcomes: Vec<(u16, Value)> = futures_util::stream::iter(0..N as u64)
        .map(|i| {
            let c = &c;
            async move {
                let r = c
                    .post_stateless(&call(i, json!([[elicit("q", "?")]])))
                    .await;
                (r.status, response_message(&r))
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let waiting = outcomes
        .iter()
        .filter(|(s, m)| *s == 200 && m["result"]["resultType"] == "input_required")
        .count();
    let refused = outcomes
        .iter()
        .filter(|(s, m)| *s == 429 && m["error"]["code"] == -31029)
        .count();
    let mut other: std::collections::BTreeMap<String, usize> = Default::default();
    for (s, m) in &outcomes {
        *other
            .entry(format!(
                "{s} {} {}",
                m["result"]["resultType"],
                m["error"].to_string().chars().take(120).collect::<String>()
            ))
            .or_default() += 1;
    }
    assert_eq!((waiting, refused), (64, N - 64), "nothing else: {other:?}");
    assert_eq!(gw.state.era.parked.len(), 64);
    // Another key: served (the 64 waiting calls hold none of the backend's 32 places:
    // a client that never answers does not block it for everyone), and given its own
    // places to wait in.
    let store = key_store(&gw.db);
    let other = Client::new(
        gw.addr,
        "/mcp/bare",
        Some(&create_key(&store, "other", Scope::Client, &[]).await),
    );
    assert_eq!(text_of(&send(&other, &echo).await["result"]), "still here");
    input_required(&send(&other, &call(2, json!([[elicit("q", "?")]]))).await);
    cancelled_upstream(&mock, N as u64 - 64).await;
}

/// URL-mode elicitation and sampling with tools (2025-11-25) need their sub-capabilities:
/// asked of a client that declared only `elicitation: {}` (form) or `sampling: {}`, the
/// client gets -32021 naming them; declared, the question reaches it (a URL one without
/// its session-era `elicitationId`).
#[tokio::test]
async fn url_elicitation_and_sampling_with_tools_need_their_sub_capabilities() {
    let (gw, _mock) = gateway_with(|_| {}).await;
    let c = client(&gw);
    let url_q = json!({"method": "elicitation/create", "key": "u",
        "params": {"mode": "url", "url": "https://auth.example/x", "message": "Sign in",
                   "elicitationId": "e-1"}});
    let tools_q = json!({"method": "sampling/createMessage", "key": "s",
        "params": {"messages": [], "maxTokens": 5,
                   "tools": [{"name": "lookup", "inputSchema": {"type": "object"}}]}});
    let ask = |id: u64, q: &Value, caps: Value| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": "ask", "arguments": {"rounds": [[q]]}, "_meta": meta(caps)}})
    };
    for (id, q, caps, required) in [
        (
            1,
            &url_q,
            json!({"elicitation": {}}),
            json!({"elicitation": {"url": {}}}),
        ),
        (
            2,
            &tools_q,
            json!({"sampling": {}}),
            json!({"sampling": {"tools": {}}}),
        ),
    ] {
        let r = c.post_stateless(&ask(id, q, caps)).await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.json()["error"]["code"], -32021, "{}", r.text());
        assert_eq!(r.json()["error"]["data"]["requiredCapabilities"], required);
    }
    let m = send(&c, &ask(3, &url_q, json!({"elicitation": {"url": {}}}))).await;
    let (asks, _) = input_required(&m);
    assert_eq!(asks["u"]["params"]["url"], "https://auth.example/x", "{m}");
    assert!(asks["u"]["params"].get("elicitationId").is_none(), "{m}");
    let m = send(&c, &ask(4, &tools_q, json!({"sampling": {"tools": {}}}))).await;
    let (asks, _) = input_required(&m);
    assert_eq!(asks["s"]["params"]["tools"][0]["name"], "lookup", "{m}");
    // A session client that declared form elicitation only: the URL one is refused to
    // the backend (which says so in its answer), never sent to the client.
    let mut session = Client::new(gw.addr, "/mcp/bare", Some(&gw.client_key));
    session
        .initialize_with(json!({"elicitation": {"form": {}}}))
        .await;
    let r = session
        .post(&json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                      "params": {"name": "ask", "arguments": {"rounds": [[url_q]]}}}))
        .await;
    let all = support::mcp::messages(&r);
    assert!(
        all.iter().all(|m| m.get("method").is_none()),
        "no request reached the client: {all:?}"
    );
    let answers: Value = serde_json::from_str(&text_of(&response_message(&r)["result"])).unwrap();
    assert_eq!(answers[0][0]["code"], -32601, "{answers}");
    assert!(
        answers[0][0]["message"]
            .as_str()
            .unwrap()
            .contains("elicitation.url"),
        "{answers}"
    );
}

/// A backend asking 100 questions at once: a round holds at most 64 of them, those
/// beyond are refused to the backend (questions that arrive after a round ended go in
/// the next one); the call completes once the client has answered every round.
#[tokio::test]
async fn a_round_holds_at_most_64_questions() {
    let (gw, _mock) = gateway_with(|_| {}).await;
    let c = client(&gw);
    let questions: Vec<Value> = (0..100).map(|_| json!({"method": "roots/list"})).collect();
    let first = call(1, json!([questions]));
    let mut m = send(&c, &first).await;
    let mut asked = 0;
    let mut id = 1;
    while m["result"]["resultType"] == "input_required" {
        let (asks, state) = input_required(&m);
        assert!(!asks.is_empty() && asks.len() <= 64, "{m}");
        asked += asks.len();
        let answers: serde_json::Map<String, Value> = asks
            .keys()
            .map(|k| (k.clone(), json!({"roots": []})))
            .collect();
        id += 1;
        m = send(&c, &retry(&first, id, Value::Object(answers), &state)).await;
    }
    assert!(asked >= 64, "the first round alone holds up to 64: {asked}");
    let got: Value = serde_json::from_str(&text_of(&m["result"])).expect("the answers");
    let round = got[0].as_array().unwrap();
    assert_eq!(round.len(), 100);
    assert_eq!(
        round.iter().filter(|a| a["roots"].is_array()).count(),
        asked
    );
    assert_eq!(
        round.iter().filter(|a| a["code"] == -32603).count(),
        100 - asked,
        "{got}"
    );
    assert!(gw.state.era.parked.is_empty());
}

/// A call parked for its client's answers holds its key's place in flight while it waits
/// at its backend, and the retry that resumes it rides on that place: under
/// `max_concurrent` 1, another call meanwhile is refused, the retry is not, and once the
/// call has ended the key's place is back.
#[tokio::test]
async fn a_parked_call_holds_its_keys_place_and_its_retry_rides_on_it() {
    let (gw, mock) = gateway_with(|_| {}).await;
    let key = support::gateway::one_place_key(&gw.db).await;
    let c = Client::new(gw.addr, "/mcp/bare", Some(&key));
    let first = call(1, json!([[elicit("who", "Your name?")]]));
    let m = send(&c, &first).await;
    let (_, state) = input_required(&m);

    let echo = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "echo", "arguments": {"message": "meanwhile"},
                                 "_meta": meta(json!({}))}});
    let refused = response_message(&c.post_stateless(&echo).await);
    assert_eq!(refused["error"]["code"], -31029, "{refused}");
    assert_eq!(
        refused["error"]["data"]["limit_name"], "concurrency",
        "{refused}"
    );

    let answers = json!({"who": {"action": "accept", "content": {"name": "Ada"}}});
    let done = send(&c, &retry(&first, 3, answers, &state)).await;
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
    let through = send(&c, &echo).await;
    assert!(through["result"].is_object(), "{through}");
    let stats = mock.control("GET", "/control/stats").await;
    assert_eq!(stats["calls_peak"], 1, "{stats}");
}
