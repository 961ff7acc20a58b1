//! Per-key limits over real sockets: a key's rate and burst, its cap on requests in
//! flight, its daily quota of tool calls, a namespace's per-tool rate, the process
//! defaults, and changes reaching the gateway while it runs.

use crate::support;

use std::time::{Duration, Instant};

use crate::support::eventually;
use crate::support::gateway::limited_key;
use crate::support::gateway::{TestGateway, key_store};
use crate::support::http::{Resp, get, send_json};
use crate::support::mcp::{Client, response_message, text_of};
use crate::support::mock::Mock;
use futures_util::future::join_all;
use metamcp::model::limits::{LimitsChange, Rate, Setting};
use metamcp::store::keys::KeyStore;
use serde_json::{Value, json};

/// A new key with `limits`, and an access token for it.
async fn limited_jwt(
    gw: &TestGateway,
    store: &KeyStore,
    name: &str,
    limits: LimitsChange,
) -> String {
    let (_, key) = limited_key(store, name, limits).await;
    token(gw, &key).await
}

/// An access token for `key` (so the test's requests cost no argon2 each).
async fn token(gw: &TestGateway, key: &str) -> String {
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/auth/token",
        "",
        &json!({"api_key": key}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["access_token"].as_str().unwrap().to_string()
}

fn rate(s: &str) -> Option<Setting<Rate>> {
    Some(Setting::Is(Rate::parse(s).unwrap()))
}

/// Checks a refusal: 429, `Retry-After`, and the JSON-RPC error with the request's id.
fn assert_limited(r: &Resp, id: &Value) -> Value {
    assert_eq!(r.status, 429, "{}", r.text());
    let secs: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    assert!(secs >= 1);
    let m = r.json();
    assert_eq!(&m["id"], id, "{m}");
    assert_eq!(m["error"]["code"], -32029, "{m}");
    let ms = m["error"]["data"]["retryAfterMs"]
        .as_u64()
        .expect("retryAfterMs");
    assert!(ms.div_ceil(1000).max(1) == secs, "{ms} ms vs {secs} s");
    m
}

/// Sends `n` pings at once; returns the answers.
async fn pings(c: &Client, n: usize) -> Vec<Resp> {
    let bodies: Vec<String> = (0..n)
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "ping"}).to_string())
        .collect();
    join_all(bodies.iter().map(|b| c.post_raw(b.as_bytes(), &[]))).await
}

#[tokio::test]
async fn a_key_gets_its_burst_then_its_rate() {
    let (gw, _alpha) = TestGateway::with_alpha().await;
    let store = key_store(&gw.db);
    let jwt = limited_jwt(
        &gw,
        &store,
        "twenty",
        LimitsChange {
            rate: rate("20/s"),
            burst: Some(Some(20)),
            ..LimitsChange::default()
        },
    )
    .await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&jwt));
    c.initialize().await;
    // The burst of twenty, and what the rate adds while the hundred are served (on a
    // loaded machine they take more than the twentieth of a second a token takes).
    let during = Instant::now();
    let answers = pings(&c, 100).await;
    let added = (20.0 * during.elapsed().as_secs_f64()).ceil() as usize;
    let through = answers.iter().filter(|r| r.status == 200).count();
    assert!(
        (18..=22 + added).contains(&through),
        "{through} of 100 got through ({added} added while they were served)"
    );
    for (i, r) in answers.iter().enumerate() {
        if r.status != 200 {
            let m = assert_limited(r, &json!(i));
            assert!(
                m["error"]["message"].as_str().unwrap().contains("rate"),
                "{m}"
            );
        }
    }
    // Another key is not affected.
    let mut other = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    other.initialize().await;
    assert!(pings(&other, 30).await.iter().all(|r| r.status == 200));
    // A second later (the gateway's clock advanced, not waited for), about twenty more:
    // once the background renewal has run at that time, giving the lease's idle tokens
    // back to the bucket (which clips them to the burst), as a second of the wall clock
    // would have let it.
    let limits = &gw.state.auth.limits;
    limits.clock().advance(Duration::from_secs(1));
    let shared = limits.shared().expect("the limits are shared");
    metamcp::auth::limits::renew::tick(limits, shared, true).await;
    // The burst of twenty, and what the rate adds while the hundred are served (the wall
    // clock still runs: on a loaded machine they take a while).
    let during = std::time::Instant::now();
    let more = pings(&c, 100).await;
    let added = (20.0 * during.elapsed().as_secs_f64()).ceil() as usize;
    let through = more.iter().filter(|r| r.status == 200).count();
    assert!(
        (17..=22 + added).contains(&through),
        "{through} of 100 a second later ({added} added while they were served)"
    );
    // Notifications are never refused.
    let n = c
        .post_raw(
            br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            &[],
        )
        .await;
    assert_eq!(n.status, 202);
    // Refusals are counted per key and limit.
    let metrics = get(gw.addr, "/metrics", "").await.text();
    assert!(
        metrics.contains("metamcp_limited_requests_total{key=\"")
            && metrics.contains("limit=\"rate\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_concurrency_cap_refuses_at_once_what_is_over_it() {
    let (gw, _alpha) = TestGateway::with_alpha().await;
    let store = key_store(&gw.db);
    let jwt = limited_jwt(
        &gw,
        &store,
        "two-at-once",
        LimitsChange {
            max_concurrent: Some(Setting::Is(2)),
            ..LimitsChange::default()
        },
    )
    .await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&jwt));
    c.initialize().await;
    let calls = (0..5).map(|i| {
        let c = &c;
        async move {
            let t0 = Instant::now();
            let r = c
                .post(&json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                              "params": {"name": "alpha__sleep", "arguments": {"ms": 1500}}}))
                .await;
            (r, t0.elapsed())
        }
    });
    let results = join_all(calls).await;
    let ok: Vec<_> = results.iter().filter(|(r, _)| r.status == 200).collect();
    let refused: Vec<_> = results.iter().filter(|(r, _)| r.status == 429).collect();
    assert_eq!((ok.len(), refused.len()), (2, 3), "2 through, 3 refused");
    for (r, took) in &refused {
        let m = r.json();
        assert_eq!(m["error"]["code"], -32029, "{m}");
        assert!(
            m["error"]["message"]
                .as_str()
                .unwrap()
                .contains("concurrency")
        );
        assert!(
            *took < Duration::from_millis(1000),
            "refused at once: {took:?}"
        );
    }
    for (r, took) in &ok {
        assert!(
            text_of(&response_message(r)["result"]).contains("slept"),
            "{}",
            r.text()
        );
        assert!(*took >= Duration::from_millis(1500));
    }
    // The places are given back once the answers are sent.
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                      "params": {"name": "alpha__echo", "arguments": {"message": "again"}}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn a_daily_quota_counts_tool_calls_only() {
    let (gw, _alpha) = TestGateway::with_alpha().await;
    let store = key_store(&gw.db);
    let (id, key) = limited_key(
        &store,
        "three-a-day",
        LimitsChange {
            daily_calls: Some(Setting::Is(3)),
            ..LimitsChange::default()
        },
    )
    .await;
    let jwt = token(&gw, &key).await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&jwt));
    c.initialize().await;
    let echo = |i: i64| {
        json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                               "params": {"name": "alpha__echo", "arguments": {"message": "x"}}})
    };
    for i in 0..2 {
        assert_eq!(c.post(&echo(i)).await.status, 200);
    }
    // REST execute counts too.
    let server = get(gw.addr, "/api/v1/mcp/servers/alpha", &jwt).await.json();
    let path = format!(
        "/api/v1/mcp/servers/{}/tools/echo/execute",
        server["id"].as_str().unwrap()
    );
    let r = send_json(gw.addr, "POST", &path, &jwt, &json!({"message": "rest"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let m = assert_limited(&c.post(&echo(4)).await, &json!(4));
    assert!(
        m["error"]["message"].as_str().unwrap().contains("daily"),
        "{m}"
    );
    let until_midnight = m["error"]["data"]["retryAfterMs"].as_u64().unwrap();
    assert!(until_midnight <= 86_400_000, "{until_midnight}");
    let r = send_json(gw.addr, "POST", &path, &jwt, &json!({"message": "rest"})).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.json()["code"], "rate_limited");
    assert!(r.header("retry-after").is_some());
    // Lists and pings are not tool calls.
    assert_eq!(
        pings(&c, 3)
            .await
            .iter()
            .filter(|r| r.status == 200)
            .count(),
        3
    );
    let list = c.result("tools/list", json!({})).await;
    assert!(list["tools"].as_array().is_some_and(|t| !t.is_empty()));

    // `keys update` takes effect while the gateway runs (NOTIFY): a larger quota.
    store
        .update_limits(
            &id,
            &LimitsChange {
                daily_calls: Some(Setting::Is(100)),
                ..LimitsChange::default()
            },
        )
        .await
        .unwrap();
    let t0 = Instant::now();
    eventually(Duration::from_secs(2), "the larger quota", || async {
        (c.post(&echo(5)).await.status == 200).then_some(())
    })
    .await;
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
}

#[tokio::test]
async fn a_limit_set_while_running_applies_within_a_second_and_rest_is_limited_too() {
    let (gw, _alpha) = TestGateway::with_alpha().await;
    let store = key_store(&gw.db);
    let (id, key) = limited_key(&store, "later", LimitsChange::default()).await;
    let jwt = token(&gw, &key).await;
    for _ in 0..5 {
        assert_eq!(get(gw.addr, "/api/v1/mcp/servers", &jwt).await.status, 200);
    }
    store
        .update_limits(
            &id,
            &LimitsChange {
                rate: rate("2/m"),
                ..LimitsChange::default()
            },
        )
        .await
        .unwrap();
    let t0 = Instant::now();
    let r = eventually(Duration::from_secs(2), "the new rate", || async {
        let r = get(gw.addr, "/api/v1/mcp/servers", &jwt).await;
        (r.status == 429).then_some(r)
    })
    .await;
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    let body = r.json();
    assert_eq!(
        (body["code"].as_str(), body["status"].as_u64()),
        (Some("rate_limited"), Some(429))
    );
    assert!(body["error"].as_str().unwrap().contains("2/m"), "{body}");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    // `default` returns the key to the default (no limit here).
    store
        .update_limits(
            &id,
            &LimitsChange {
                rate: Some(Setting::Default),
                ..LimitsChange::default()
            },
        )
        .await
        .unwrap();
    eventually(Duration::from_secs(2), "the limit to be lifted", || async {
        (get(gw.addr, "/api/v1/mcp/servers", &jwt).await.status == 200).then_some(())
    })
    .await;
}

/// `keys update ID --rate none` (and `--max-concurrent none`) removes the key's limit even
/// where the gateway has a default: no limit at all, the burst gone with the rate, on
/// the running gateway within a second. `--rate default` brings the default back.
#[tokio::test]
async fn none_lifts_a_keys_limit_even_over_a_default_and_default_restores_it() {
    let gw = TestGateway::start_with(|c| {
        c.key_defaults.rate = Some(Rate::parse("1/m").unwrap());
        c.key_defaults.max_concurrent = Some(1);
    })
    .await;
    let store = key_store(&gw.db);
    // The admin key that registers the backend is exempt from the default (`none`).
    let admin_id = gw.admin_key.split('_').nth(1).unwrap();
    store
        .update_limits(
            admin_id,
            &LimitsChange {
                rate: Some(Setting::Unlimited),
                ..LimitsChange::default()
            },
        )
        .await
        .unwrap();
    let alpha = Mock::start(&[]);
    gw.register(json!({"name": "alpha", "protocol": "http", "url": alpha.url()}))
        .await;
    let (id, key) = limited_key(
        &store,
        "twenty",
        LimitsChange {
            rate: rate("20/s"),
            burst: Some(Some(20)),
            max_concurrent: Some(Setting::Is(2)),
            ..LimitsChange::default()
        },
    )
    .await;
    let jwt = token(&gw, &key).await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&jwt));
    c.initialize().await;
    let cli = |args: &[&str]| {
        let mut argv = vec!["keys", "update", id.as_str()];
        argv.extend_from_slice(args);
        // keyadm reads the same defaults as the gateway, to say what `default` means.
        let mut env = gw.db.env();
        env.push(("METAMCP_KEY_RATE", "1/m".to_string()));
        let out = support::run_bin(env!("CARGO_BIN_EXE_keyadm"), &env, &argv);
        assert!(out.status.success(), "{}", support::stderr(&out));
        support::stdout(&out)
    };
    let printed = cli(&["--rate", "none", "--max-concurrent", "none"]);
    assert!(
        printed.contains("rate none (no limit), max concurrent none (no limit)"),
        "{printed}"
    );
    let shown = store.show(&id).await.unwrap();
    assert_eq!(shown.limits.burst, None, "the burst went with the rate");
    let t0 = Instant::now();
    eventually(
        Duration::from_secs(2),
        "60 pings at once, all through",
        || async {
            pings(&c, 60)
                .await
                .iter()
                .all(|r| r.status == 200)
                .then_some(())
        },
    )
    .await;
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    // No concurrency cap either: four slow calls at once all run.
    let slow = (0..4).map(|i| {
        let c = &c;
        async move {
            c.post(&json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                           "params": {"name": "alpha__sleep", "arguments": {"ms": 300}}}))
                .await
        }
    });
    assert!(join_all(slow).await.iter().all(|r| r.status == 200));
    // `default` is the gateway's 1/m again (burst 1: its count).
    let printed = cli(&["--rate", "default"]);
    assert!(
        printed.contains("rate default (1/m, METAMCP_KEY_RATE)"),
        "{printed}"
    );
    eventually(Duration::from_secs(2), "the default rate", || async {
        (pings(&c, 5)
            .await
            .iter()
            .filter(|r| r.status == 429)
            .count()
            >= 4)
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_namespace_limits_a_tool_per_key() {
    let (gw, _alpha) = TestGateway::with_alpha().await;
    let ns = json!({"name": "team", "servers": ["alpha"],
                    "tools": {"alpha__echo": {"rate": "2/m"}}});
    let r = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["tools"]["alpha__echo"]["rate"], "2/m");
    let bad =
        json!({"name": "bad", "servers": ["alpha"], "tools": {"alpha__echo": {"rate": "fast"}}});
    let r = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &bad).await;
    assert_eq!(r.status, 400, "{}", r.text());

    let store = key_store(&gw.db);
    let (_, a) = limited_key(&store, "a", LimitsChange::default()).await;
    let (_, b) = limited_key(&store, "b", LimitsChange::default()).await;
    let (a, b) = (token(&gw, &a).await, token(&gw, &b).await);
    let echo = |i: i64| {
        json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                               "params": {"name": "alpha__echo", "arguments": {"message": "x"}}})
    };
    let mut ca = Client::new(gw.addr, "/mcp/team", Some(&a));
    ca.initialize().await;
    eventually(Duration::from_secs(15), "the namespace's tools", || async {
        ca.tool_names()
            .await
            .contains(&"alpha__echo".to_string())
            .then_some(())
    })
    .await;
    for i in 0..2 {
        assert_eq!(ca.post(&echo(i)).await.status, 200);
    }
    let m = assert_limited(&ca.post(&echo(3)).await, &json!(3));
    assert!(
        m["error"]["message"]
            .as_str()
            .unwrap()
            .contains("alpha__echo"),
        "{m}"
    );
    // Other tools of the namespace, and the same tool for another key, are not limited.
    let add = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                     "params": {"name": "alpha__add", "arguments": {"a": 1, "b": 2}}});
    assert_eq!(ca.post(&add).await.status, 200);
    let mut cb = Client::new(gw.addr, "/mcp/team", Some(&b));
    cb.initialize().await;
    assert_eq!(cb.post(&echo(5)).await.status, 200);
    // The rate is the namespace's: on /mcp the tool is not limited.
    let mut all = Client::new(gw.addr, "/mcp", Some(&a));
    all.initialize().await;
    assert_eq!(all.post(&echo(6)).await.status, 200);
}

#[tokio::test]
async fn process_defaults_apply_to_keys_that_set_nothing() {
    let gw = TestGateway::start_with(|c| {
        c.key_defaults.rate = Some(Rate::parse("3/m").unwrap());
    })
    .await;
    let store = key_store(&gw.db);
    let (_, plain) = limited_key(&store, "plain", LimitsChange::default()).await;
    let (_, exempt) = limited_key(
        &store,
        "exempt",
        LimitsChange {
            rate: Some(Setting::Unlimited),
            ..LimitsChange::default()
        },
    )
    .await;
    let (plain, exempt) = (token(&gw, &plain).await, token(&gw, &exempt).await);
    let mut c = Client::new(gw.addr, "/mcp", Some(&plain));
    c.initialize().await;
    let through = pings(&c, 10)
        .await
        .iter()
        .filter(|r| r.status == 200)
        .count();
    // The default's burst is its count; initialize is not charged to it (handshakes are
    // counted apart).
    assert_eq!(through, 3);
    let mut e = Client::new(gw.addr, "/mcp", Some(&exempt));
    e.initialize().await;
    assert!(pings(&e, 10).await.iter().all(|r| r.status == 200));
}

/// Opens a long-lived stream on a raw socket and reads its head: the status, the socket
/// (held open by the caller) and what was read.
async fn open_stream(
    addr: std::net::SocketAddr,
    head: String,
    body: &str,
) -> (u16, tokio::net::TcpStream, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("send head");
    s.write_all(body.as_bytes()).await.expect("send body");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("an answer")
            .expect("read");
        assert!(n > 0, "closed before its head");
        seen.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&seen).to_string();
    let status = text[9..12].parse().expect("a status");
    // A refusal's body is short: read it all (the connection is kept alive).
    if status != 200 {
        while !text.contains("}") && !seen.ends_with(b"}") {
            let n = s.read(&mut buf).await.expect("read");
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
    }
    (status, s, String::from_utf8_lossy(&seen).to_string())
}

fn get_stream_head(jwt: &str, session: &str) -> String {
    format!(
        "GET /mcp HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {jwt}\r\n\
         Accept: text/event-stream\r\nMcp-Session-Id: {session}\r\n\
         MCP-Protocol-Version: 2025-06-18\r\n\r\n"
    )
}

fn listen_request(jwt: &str, id: u32) -> (String, String) {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "subscriptions/listen",
        "params": {"notifications": {"toolsListChanged": true},
                   "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                             "io.modelcontextprotocol/clientCapabilities": {}}}})
    .to_string();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {jwt}\r\n\
         Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n\
         Mcp-Method: subscriptions/listen\r\nMCP-Protocol-Version: 2026-07-28\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    (head, body)
}

/// Every long-lived stream a key can open (GET `/mcp`, 2026 `subscriptions/listen`,
/// `/api/v1/events`) counts toward `METAMCP_KEY_MAX_STREAMS`; over it, 429 with the
/// -32029 error (REST: `rate_limited`). Streams never take the key's `max_concurrent`
/// places, and a closed stream gives its place back. Another key is unaffected.
#[tokio::test]
async fn long_lived_streams_are_bounded_per_key() {
    let gw = TestGateway::start_with(|c| {
        c.stream_bounds.per_key = 4;
    })
    .await;
    let alpha = Mock::start(&[]);
    gw.register(json!({"name": "alpha", "protocol": "http", "url": alpha.url()}))
        .await;
    let store = key_store(&gw.db);
    let jwt = limited_jwt(
        &gw,
        &store,
        "streamer",
        LimitsChange {
            max_concurrent: Some(Setting::Is(1)),
            ..LimitsChange::default()
        },
    )
    .await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&jwt));
    c.initialize().await;
    let session = c.session.clone().unwrap();
    let mut held = Vec::new();
    for _ in 0..2 {
        let (status, s, text) = open_stream(gw.addr, get_stream_head(&jwt, &session), "").await;
        assert_eq!(status, 200, "{text}");
        held.push(s);
    }
    let (head, body) = listen_request(&jwt, 7);
    let (status, s, text) = open_stream(gw.addr, head, &body).await;
    assert_eq!(status, 200, "{text}");
    held.push(s);
    let events = support::http::live_events(gw.addr, &jwt).await;
    held.push(events);
    // The fifth stream of each kind is refused.
    let (status, _, text) = open_stream(gw.addr, get_stream_head(&jwt, &session), "").await;
    assert_eq!(status, 429, "{text}");
    assert!(text.to_lowercase().contains("retry-after"), "{text}");
    assert!(
        text.contains("-32029") && text.contains("METAMCP_KEY_MAX_STREAMS"),
        "{text}"
    );
    let (head, body) = listen_request(&jwt, 8);
    let (status, _, text) = open_stream(gw.addr, head, &body).await;
    assert_eq!(status, 429, "{text}");
    assert!(
        // A 2026-07-28 client's code for a limit: outside -32768..-32000.
        text.contains("\"id\":8") && text.contains("-31029"),
        "{text}"
    );
    let r = get(gw.addr, "/api/v1/events", &jwt).await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (429, Some("rate_limited"))
    );
    // Four streams open, and the key's one place in flight is still free for a call.
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                      "params": {"name": "alpha__echo", "arguments": {"message": "x"}}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Another key has its own bound.
    let mut other = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    other.initialize().await;
    let other_session = other.session.clone().unwrap();
    let (status, _o, text) =
        open_stream(gw.addr, get_stream_head(&gw.client_key, &other_session), "").await;
    assert_eq!(status, 200, "{text}");
    // A closed stream gives its place back.
    drop(held.pop());
    eventually(
        Duration::from_secs(5),
        "a place after a stream closed",
        || async {
            let (status, s, _) = open_stream(gw.addr, get_stream_head(&jwt, &session), "").await;
            (status == 200).then_some(s)
        },
    )
    .await;
}

/// Opening a stream spends the key's rate like any request: a key with an empty bucket
/// cannot open streams (here a ping spent the one token of 1/m; `initialize` is a
/// handshake, not charged to the rate).
#[tokio::test]
async fn opening_a_stream_spends_the_rate() {
    let (gw, _alpha) = TestGateway::with_alpha().await;
    let store = key_store(&gw.db);
    let jwt = limited_jwt(
        &gw,
        &store,
        "slow",
        LimitsChange {
            rate: rate("1/m"),
            ..LimitsChange::default()
        },
    )
    .await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&jwt));
    c.initialize().await;
    assert_eq!(pings(&c, 1).await[0].status, 200);
    let session = c.session.clone().unwrap();
    let (status, _, text) = open_stream(gw.addr, get_stream_head(&jwt, &session), "").await;
    assert_eq!(status, 429, "{text}");
    assert!(text.contains("rate limit"), "{text}");
}

/// REST execute takes a place under the key's `max_concurrent` like an MCP call: a key
/// capped at 2 runs 2 slow calls at once, the rest are refused at once, and the backend
/// sees 2.
#[tokio::test]
async fn rest_execute_counts_toward_max_concurrent() {
    let (gw, alpha) = TestGateway::with_alpha().await;
    let store = key_store(&gw.db);
    let jwt = limited_jwt(
        &gw,
        &store,
        "two-rest",
        LimitsChange {
            max_concurrent: Some(Setting::Is(2)),
            ..LimitsChange::default()
        },
    )
    .await;
    let path = "/api/v1/mcp/servers/alpha/tools/sleep/execute";
    let calls = (0..6).map(|_| {
        let jwt = jwt.clone();
        let addr = gw.addr;
        async move {
            let t0 = Instant::now();
            let r = send_json(addr, "POST", path, &jwt, &json!({"ms": 1000})).await;
            (r, t0.elapsed())
        }
    });
    let results = join_all(calls).await;
    let ok = results.iter().filter(|(r, _)| r.status == 200).count();
    let refused: Vec<_> = results.iter().filter(|(r, _)| r.status == 429).collect();
    assert_eq!((ok, refused.len()), (2, 4), "2 through, 4 refused");
    for (r, took) in refused {
        assert_eq!(r.json()["code"], "rate_limited", "{}", r.text());
        assert!(r.json()["error"].as_str().unwrap().contains("concurrency"));
        assert!(r.header("retry-after").is_some());
        assert!(
            *took < Duration::from_millis(900),
            "refused at once: {took:?}"
        );
    }
    let stats = alpha.control("GET", "/control/stats").await;
    assert_eq!(stats["calls"]["sleep"], 2, "{stats}");
    // The places were given back.
    let r = send_json(gw.addr, "POST", path, &jwt, &json!({"ms": 1})).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// A key change drops the key's cached proof; the burst of calls that then arrives with
/// the same valid key verifies it once (single flight) and charges no failed attempt: all
/// 80 are served. A wrong secret for the same key still fails, and is what counts.
#[tokio::test]
async fn a_burst_after_a_key_change_verifies_a_valid_key_once_and_locks_nobody_out() {
    let (gw, _alpha) = TestGateway::with_alpha().await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.initialize().await;
    let id_text = gw.client_key.split('_').nth(1).unwrap();
    let id = metamcp::base::KeyId::parse(id_text).unwrap();
    for round in 0..3 {
        // What a `keys update` notification does: the cached proof goes.
        gw.state
            .auth
            .reload_key(&gw.state.db.pool, &id)
            .await
            .unwrap();
        let answers = pings(&c, 80).await;
        let refused: Vec<_> = answers
            .iter()
            .filter(|r| r.status != 200)
            .map(|r| (r.status, r.text()))
            .collect();
        assert!(refused.is_empty(), "round {round}: {refused:?}");
    }
    // Its last character changed (a key that ends in `x` gets a `y`: the same text again
    // would be the valid key, served).
    let (head, last) = gw.client_key.split_at(gw.client_key.len() - 1);
    let wrong = format!("{head}{}", if last == "x" { "y" } else { "x" });
    assert_ne!(wrong, gw.client_key);
    let r = send_json(
        gw.addr,
        "POST",
        "/mcp",
        &wrong,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text());
}
