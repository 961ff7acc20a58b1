//! Clients that go away mid-call: a disconnect is not a cancellation (the backend is not
//! told to stop, the answer is read to its end), and the calls left running without their
//! client are bounded per key.

use super::upstream::backend_with_timeout;

use std::time::Duration;

use crate::support::gateway::TestGateway;
use crate::support::mcp::{Client, text_of};
use crate::support::mock::Mock;
use crate::support::{WAIT, eventually};
use serde_json::{Value, json};

/// Sends a session client's `tools/call` of `tool` on a connection of its own, waits
/// for the answer's head when `head`, else until the backend has the call, and closes
/// the connection.
async fn call_and_leave(
    gw: &TestGateway,
    slow: &Mock,
    c: &Client,
    id: u64,
    tool: &str,
    args: Value,
    head: bool,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                      "params": {"name": format!("slow__{tool}"), "arguments": args,
                                 "_meta": {"progressToken": id}}})
    .to_string();
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Mcp-Session-Id: {}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n{body}",
        c.key.as_deref().unwrap_or_default(),
        c.session.as_deref().unwrap(),
        body.len()
    );
    let before = slow.control("GET", "/control/stats").await["calls"][tool]
        .as_u64()
        .unwrap_or(0);
    s.write_all(request.as_bytes()).await.unwrap();
    if head {
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(WAIT, s.read(&mut buf))
            .await
            .expect("the answer's head")
            .unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &buf[..n]);
    } else {
        eventually(WAIT, "the backend to have the call", || async {
            let stats = slow.control("GET", "/control/stats").await;
            (stats["calls"][tool].as_u64().unwrap_or(0) > before).then_some(())
        })
        .await;
    }
    drop(s);
}

/// A session client that goes away has not cancelled its call (MCP: a disconnect is not
/// a cancellation), whether it leaves before the answer starts or midway through it:
/// the backend is never told to stop. Midway, the gateway reads the answer to its end
/// (the call keeps its place). Cancelled by the client afterwards, it is stopped at once.
#[tokio::test]
async fn a_session_client_that_goes_away_has_not_cancelled_its_call() {
    let (gw, slow, c) = backend_with_timeout(30_000).await;
    // Before the answer's head: the mock answers a sleep in one JSON body at its end.
    call_and_leave(&gw, &slow, &c, 40, "sleep", json!({"ms": 800}), false).await;
    eventually(WAIT, "the gateway to let go of the call", || async {
        (gw.state.data.inflight.is_empty()).then_some(())
    })
    .await;
    // Midway: 12 progress steps 100 ms apart, on an SSE answer whose head comes first.
    let t0 = std::time::Instant::now();
    call_and_leave(
        &gw,
        &slow,
        &c,
        41,
        "progress",
        json!({"steps": 12, "interval_ms": 100}),
        true,
    )
    .await;
    eventually(WAIT, "the call to end upstream", || async {
        (gw.state.data.inflight.is_empty()).then_some(())
    })
    .await;
    assert!(
        t0.elapsed() >= Duration::from_millis(1000),
        "read to its end: {:?}",
        t0.elapsed()
    );
    // A later call on the backend: any cancellation sent before would be there by now.
    let m = c
        .call(
            json!(43),
            "tools/call",
            json!({"name": "slow__echo", "arguments": {"message": "x"}}),
        )
        .await;
    assert_eq!(text_of(&m["result"]), "x");
    let stats = slow.control("GET", "/control/stats").await;
    assert_eq!(stats["cancelled"], 0, "{stats}");

    // Gone, then cancelled: the backend hears of it, and the gateway lets go of the call.
    let t0 = std::time::Instant::now();
    call_and_leave(
        &gw,
        &slow,
        &c,
        42,
        "progress",
        json!({"steps": 200, "interval_ms": 100}),
        true,
    )
    .await;
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                        "params": {"requestId": 42, "reason": "changed my mind"}});
    assert_eq!(c.post(&cancel).await.status, 202);
    eventually(WAIT, "the backend to hear of the cancellation", || async {
        let stats = slow.control("GET", "/control/stats").await;
        (stats["cancelled"] == 1 && gw.state.data.inflight.is_empty()).then_some(())
    })
    .await;
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
}

/// Calls going on without their client are bounded per key: a key that leaves call
/// after call mid-answer has at most 16 going on; leaving one more cancels it upstream.
#[tokio::test]
async fn calls_left_running_by_clients_that_went_away_are_bounded_per_key() {
    let (gw, slow, c) = backend_with_timeout(30_000).await;
    let per_key = metamcp::mcp::hop::calls::MAX_DETACHED_PER_KEY;
    for id in 0..u64::from(per_key) {
        let args = json!({"steps": 300, "interval_ms": 100});
        call_and_leave(&gw, &slow, &c, 100 + id, "progress", args, true).await;
    }
    eventually(WAIT, "every call left running", || async {
        (gw.state.data.inflight.detached() == per_key).then_some(())
    })
    .await;
    let stats = slow.control("GET", "/control/stats").await;
    assert_eq!(stats["cancelled"], 0, "{stats}");
    // One more: no place left, so leaving it cancels it.
    let args = json!({"steps": 300, "interval_ms": 100});
    call_and_leave(&gw, &slow, &c, 999, "progress", args, true).await;
    eventually(WAIT, "the backend to hear of the cancellation", || async {
        let stats = slow.control("GET", "/control/stats").await;
        (stats["cancelled"] == 1).then_some(())
    })
    .await;
    assert_eq!(gw.state.data.inflight.detached(), per_key);
}

/// A call that goes on without its client keeps its key's place in flight: under
/// `max_concurrent` 1, a session client that leaves a call and calls again is refused
/// while the first call runs upstream, so the backend never runs two at once. Left
/// midway, the call keeps the place to its end (the gateway reads it); left before its
/// answer began, the gateway no longer hears from it, and keeps the place until the call
/// would have timed out (`timeout_ms`, 4 s here).
#[tokio::test]
async fn a_call_left_running_keeps_its_keys_place() {
    let (gw, slow, _) = backend_with_timeout(4_000).await;
    let key = crate::support::gateway::one_place_key(&gw.db).await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&key));
    c.initialize().await;
    let echo = json!({"jsonrpc": "2.0", "id": 51, "method": "tools/call",
                      "params": {"name": "slow__echo", "arguments": {"message": "x"}}});
    let refused_then_through = |what: &'static str| {
        let (c, echo) = (&c, &echo);
        async move {
            let refused = crate::support::mcp::response_message(&c.post(echo).await);
            assert_eq!(refused["error"]["code"], -32029, "{what}: {refused}");
            assert_eq!(
                refused["error"]["data"]["limit_name"], "concurrency",
                "{what}: {refused}"
            );
            let through = eventually(WAIT, what, || async {
                let m = crate::support::mcp::response_message(&c.post(echo).await);
                m.get("result").is_some().then_some(m)
            })
            .await;
            assert_eq!(text_of(&through["result"]), "x");
        }
    };

    // Midway: ten progress steps 100 ms apart, left once the answer's head came.
    let t0 = std::time::Instant::now();
    let args = json!({"steps": 10, "interval_ms": 100});
    call_and_leave(&gw, &slow, &c, 50, "progress", args, true).await;
    refused_then_through("the place back at the call's end").await;
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(3500),
        "kept to the call's end, not its deadline: {took:?}"
    );

    // Before the answer began: kept until the call would have timed out.
    let t0 = std::time::Instant::now();
    call_and_leave(&gw, &slow, &c, 60, "sleep", json!({"ms": 1500}), false).await;
    refused_then_through("the place back at the call's deadline").await;
    assert!(
        t0.elapsed() >= Duration::from_millis(3900),
        "kept to the call's deadline: {:?}",
        t0.elapsed()
    );
    let stats = slow.control("GET", "/control/stats").await;
    assert_eq!(stats["calls_peak"], 1, "{stats}");
    assert_eq!(stats["cancelled"], 0, "{stats}");
}
