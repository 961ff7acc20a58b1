//! Per-backend bulkheads and circuit breakers over real sockets, for an HTTP, a legacy
//! SSE and a stdio backend: failures open the circuit, an open circuit fails calls at
//! once, a probe after the cool-down closes it, answers (even `isError` ones) never
//! count as failures, and a full backend refuses at once what its queue cannot hold.

use crate::support::WAIT;
use std::time::{Duration, Instant};

use crate::support::eventually;
use crate::support::gateway::TestGateway;
use crate::support::http::{events_until, get, live_events, send_json};
use crate::support::mcp::text_of;
use crate::support::mock::Mock;
use futures_util::future::join_all;
use serde_json::{Value, json};

async fn server(gw: &TestGateway, name: &str) -> Value {
    get(
        gw.addr,
        &format!("/api/v1/mcp/servers/{name}"),
        &gw.admin_key,
    )
    .await
    .json()
}

/// The breaker's whole life on one backend: `name` is registered with `fields`.
async fn breaker_cycle(gw: &TestGateway, name: &str, fields: Value) {
    let mut body = json!({"name": name, "timeout_ms": 400, "breaker_failures": 3,
                          "breaker_cooldown_ms": 1000});
    for (k, v) in fields.as_object().unwrap() {
        body[k] = v.clone();
    }
    gw.register(body).await;
    let s = server(gw, name).await;
    assert_eq!(
        (s["circuit"].as_str(), s["consecutive_failures"].as_u64()),
        (Some("closed"), Some(0))
    );
    assert_eq!(s["breaker_failures"], 3);
    let mut events = live_events(gw.addr, &gw.admin_key).await;
    let mut seen = String::new();
    let c = gw.client_session().await;
    eventually(WAIT, "its tools", || async {
        c.tool_names()
            .await
            .contains(&format!("{name}__echo"))
            .then_some(())
    })
    .await;
    let tool = |t: &str| format!("{name}__{t}");

    // Answers are never failures: isError results and JSON-RPC errors.
    for _ in 0..5 {
        let r = c.call_tool(&tool("fail"), json!({})).await;
        assert_eq!(r["result"]["isError"], true, "{r}");
        let r = c.call_tool(&tool("echo"), json!({})).await;
        assert!(
            r["error"].is_object(),
            "echo without a message is an error: {r}"
        );
    }
    assert_eq!(server(gw, name).await["circuit"], "closed");

    // Three timeouts in a row open it.
    for i in 0..3 {
        let r = c.call_tool(&tool("sleep"), json!({"ms": 3000})).await;
        let m = r["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(m.contains("no answer within"), "timeout {i}: {r}");
    }
    let s = server(gw, name).await;
    assert_eq!(
        (s["circuit"].as_str(), s["consecutive_failures"].as_u64()),
        (Some("open"), Some(3)),
        "{s}"
    );
    let open = events_until(&mut events, &mut seen, WAIT, |v| {
        v["type"] == "server.circuit" && v["name"] == name && v["circuit"] == "open"
    })
    .await;
    assert!(
        open["reason"].as_str().unwrap().contains("3 failures"),
        "{open}"
    );

    // Calls now fail at once, naming the circuit.
    let t0 = Instant::now();
    let r = c.call_tool(&tool("echo"), json!({"message": "x"})).await;
    let took = t0.elapsed();
    let m = r["error"]["message"].as_str().unwrap_or_default();
    assert!(
        m.starts_with(&format!(
            "server `{name}` is unavailable: circuit open after 3 failures (last: "
        )),
        "{r}"
    );
    assert!(m.contains("retrying in"), "{m}");
    assert!(took < Duration::from_millis(50), "failed at once: {took:?}");

    // After the cool-down a probe goes through; its success closes the circuit.
    let r = eventually(WAIT, "the probe to succeed", || async {
        let r = c.call_tool(&tool("echo"), json!({"message": "back"})).await;
        r.get("result").is_some().then_some(r)
    })
    .await;
    assert_eq!(text_of(&r["result"]), "back");
    let s = server(gw, name).await;
    assert_eq!(
        (s["circuit"].as_str(), s["consecutive_failures"].as_u64()),
        (Some("closed"), Some(0))
    );
    for state in ["half_open", "closed"] {
        events_until(&mut events, &mut seen, WAIT, |v| {
            v["type"] == "server.circuit" && v["name"] == name && v["circuit"] == state
        })
        .await;
    }
    let metrics = get(gw.addr, "/metrics", "").await.text();
    assert!(
        metrics.contains(&format!(
            "metamcp_circuit_transitions_total{{backend=\"{name}\",circuit=\"open\"}} 1"
        )),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_http_backends_circuit_opens_fails_fast_and_closes_after_a_probe() {
    let gw = TestGateway::start().await;
    let mock = Mock::start(&[]);
    breaker_cycle(&gw, "web", json!({"protocol": "http", "url": mock.url()})).await;
}

#[tokio::test]
async fn an_sse_backends_circuit_does_the_same() {
    let gw = TestGateway::start().await;
    let mock = Mock::start(&["--transport", "sse"]);
    let url = format!("http://127.0.0.1:{}/sse", mock.port);
    breaker_cycle(&gw, "legacy", json!({"protocol": "sse", "url": url})).await;
}

#[tokio::test]
async fn a_stdio_backends_circuit_does_the_same() {
    let gw = TestGateway::start().await;
    breaker_cycle(
        &gw,
        "pipe",
        json!({"protocol": "stdio", "command": env!("CARGO_BIN_EXE_mockmcp"),
               "args": ["--transport", "stdio"]}),
    )
    .await;
}

#[tokio::test]
async fn a_breaker_can_be_switched_off() {
    let gw = TestGateway::start().await;
    let mock = Mock::start(&[]);
    gw.register(json!({"name": "off", "protocol": "http", "url": mock.url(),
                       "timeout_ms": 200, "breaker_failures": 0}))
        .await;
    let c = gw.client_session().await;
    for _ in 0..6 {
        let r = c.call_tool("off__sleep", json!({"ms": 1000})).await;
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no answer within"),
            "{r}"
        );
    }
    let s = server(&gw, "off").await;
    assert_eq!(
        (s["circuit"].as_str(), s["consecutive_failures"].as_u64()),
        (Some("closed"), Some(0))
    );
    let r = c.call_tool("off__echo", json!({"message": "fine"})).await;
    assert_eq!(text_of(&r["result"]), "fine");
    // Bad values are refused with the field named.
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/off",
        &gw.admin_key,
        &json!({"breaker_failures": -1}),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["field"].as_str()),
        (400, Some("breaker_failures"))
    );
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/off",
        &gw.admin_key,
        &json!({"breaker_cooldown_ms": 5}),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["field"].as_str()),
        (400, Some("breaker_cooldown_ms"))
    );
}

#[tokio::test]
async fn a_full_http_backend_queues_a_few_calls_and_refuses_the_rest_at_once() {
    let gw = TestGateway::start().await;
    let mock = Mock::start(&[]);
    gw.register(
        json!({"name": "narrow", "protocol": "http", "url": mock.url(),
                       "max_concurrency": 1}),
    )
    .await;
    let c = gw.client_session().await;
    // One in flight, four waiting (QUEUE_PER_SLOT), the sixth refused at once.
    let calls = (0..6).map(|i| {
        let c = &c;
        async move {
            let t0 = Instant::now();
            let r = c
                .call(
                    json!(i),
                    "tools/call",
                    json!({"name": "narrow__sleep", "arguments": {"ms": 300}}),
                )
                .await;
            (r, t0.elapsed())
        }
    });
    let results = join_all(calls).await;
    let busy: Vec<_> = results
        .iter()
        .filter(|(r, _)| {
            r["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("is busy"))
        })
        .collect();
    assert_eq!(busy.len(), 1, "{results:?}");
    let (r, took) = busy[0];
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("server `narrow` is busy"),
        "{r}"
    );
    assert!(
        *took < Duration::from_millis(250),
        "refused at once: {took:?}"
    );
    let slept = results
        .iter()
        .filter(|(r, _)| r.get("result").is_some())
        .count();
    assert_eq!(slept, 5, "{results:?}");
    // The calls ran one at a time: the last waited for the four before it.
    let longest = results.iter().map(|(_, t)| *t).max().unwrap();
    assert!(longest >= Duration::from_millis(1500), "{longest:?}");
    // A refusal is no failure of the backend's.
    assert_eq!(server(&gw, "narrow").await["circuit"], "closed");
}

/// A backend killed with calls in flight opens its circuit; once it is back and the
/// gateway has initialized and listed it again, calls go through at once, not after
/// the (here 60 s) cool-down.
#[tokio::test]
async fn a_backend_that_comes_back_closes_its_circuit_when_it_is_listed_again() {
    let gw = TestGateway::start().await;
    let mut mock = Mock::start(&[]);
    gw.register(
        json!({"name": "phoenix", "protocol": "http", "url": mock.url(),
                       "breaker_failures": 2, "breaker_cooldown_ms": 60000}),
    )
    .await;
    let c = gw.client_session().await;
    eventually(WAIT, "its tools", || async {
        c.tool_names()
            .await
            .contains(&"phoenix__echo".to_string())
            .then_some(())
    })
    .await;
    let in_flight = (0..3).map(|_| c.call_tool("phoenix__sleep", json!({"ms": 5000})));
    let killer = async {
        eventually(WAIT, "the calls to reach the backend", || async {
            let stats = mock.control("GET", "/control/stats").await;
            (stats["calls"]["sleep"].as_u64() == Some(3)).then_some(())
        })
        .await;
        mock.kill();
    };
    let (answers, ()) = tokio::join!(join_all(in_flight), killer);
    assert!(
        answers.iter().all(|r| r["error"].is_object()),
        "{answers:?}"
    );
    eventually(WAIT, "the circuit to open", || async {
        (server(&gw, "phoenix").await["circuit"] == "open").then_some(())
    })
    .await;
    let r = c.call_tool("phoenix__echo", json!({"message": "x"})).await;
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("server `phoenix` is unavailable"),
        "{r}"
    );
    let t0 = Instant::now();
    mock.restart();
    let r = eventually(WAIT, "a call to the backend that came back", || async {
        let r = c
            .call_tool("phoenix__echo", json!({"message": "back"}))
            .await;
        r.get("result").is_some().then_some(r)
    })
    .await;
    assert_eq!(text_of(&r["result"]), "back");
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "well before the cool-down: {:?}",
        t0.elapsed()
    );
    let s = server(&gw, "phoenix").await;
    assert_eq!(
        (s["circuit"].as_str(), s["consecutive_failures"].as_u64()),
        (Some("closed"), Some(0)),
        "{s}"
    );
}

/// One key calling a tool that sleeps past `timeout_ms` cannot open a shared backend's
/// circuit while the backend answers other calls; timeouts with nothing answered do.
#[tokio::test]
async fn timeouts_while_other_calls_are_answered_do_not_open_the_circuit() {
    let gw = TestGateway::start().await;
    let mock = Mock::start(&[]);
    gw.register(
        json!({"name": "shared", "protocol": "http", "url": mock.url(),
                       "timeout_ms": 600, "breaker_failures": 2, "breaker_cooldown_ms": 60000}),
    )
    .await;
    let c = gw.client_session().await;
    let other = gw.client_session().await;
    eventually(WAIT, "its tools", || async {
        c.tool_names()
            .await
            .contains(&"shared__echo".to_string())
            .then_some(())
    })
    .await;
    for round in 0..3 {
        let slow = (0..4).map(|_| c.call_tool("shared__sleep", json!({"ms": 3000})));
        let quick = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            other
                .call_tool("shared__echo", json!({"message": "still here"}))
                .await
        };
        let (timed_out, answered) = tokio::join!(join_all(slow), quick);
        assert_eq!(text_of(&answered["result"]), "still here", "round {round}");
        for r in &timed_out {
            assert!(
                r["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("no answer within"),
                "{r}"
            );
        }
        let s = server(&gw, "shared").await;
        assert_eq!(
            (s["circuit"].as_str(), s["consecutive_failures"].as_u64()),
            (Some("closed"), Some(0)),
            "round {round}: {s}"
        );
    }
    // With nothing else answered, two timeouts in a row open it.
    for _ in 0..2 {
        c.call_tool("shared__sleep", json!({"ms": 3000})).await;
    }
    assert_eq!(server(&gw, "shared").await["circuit"], "open");
}
