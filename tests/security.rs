//! Regression tests for what an independent attack found (issue 9): each test fails on
//! the code before the fix. Real sockets, a real PostgreSQL, real mockmcp backends.

mod support;

use std::time::{Duration, Instant};

use support::gateway::TestGateway;
use support::http::request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Whether the server closes `s` within `within` (reading and discarding what it sends).
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = Vec::new();
    tokio::time::timeout(within, s.read_to_end(&mut buf))
        .await
        .is_ok()
}

async fn health_within(gw: &TestGateway, within: Duration) -> u16 {
    tokio::time::timeout(within, request(gw.addr, "GET", "/health", &[], None))
        .await
        .map(|r| r.status)
        .unwrap_or(0)
}

#[tokio::test]
async fn silent_connections_cannot_lock_anyone_out() {
    let gw = TestGateway::start_with(|c| {
        c.max_connections = 8;
        c.header_timeout = Duration::from_millis(800);
    })
    .await;
    // Every slot taken by connections that never send a byte, or only the start of the
    // HTTP/2 preface (so protocol detection itself waits).
    let mut silent = Vec::new();
    for i in 0..8 {
        let mut s = TcpStream::connect(gw.addr).await.unwrap();
        if i % 2 == 1 {
            s.write_all(b"PRI * HT").await.unwrap();
        }
        silent.push(s);
    }
    // A real client is served at once: an idle connection gives way to it.
    let t0 = Instant::now();
    assert_eq!(health_within(&gw, Duration::from_secs(3)).await, 200);
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    // And every silent connection is closed once the idle limit passes, never later
    // than twice the limit (plus scheduling slack).
    let t0 = Instant::now();
    for s in &mut silent {
        assert!(closed_within(s, Duration::from_secs(5)).await, "still open");
    }
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert!(gw.state.connections.evictions() >= 1);

    // Kept-alive connections that stop sending are closed the same way, in HTTP/1.1 and
    // over HTTP/2 (where hyper's header timeout does not apply).
    let mut h1 = TcpStream::connect(gw.addr).await.unwrap();
    h1.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut h2 = TcpStream::connect(gw.addr).await.unwrap();
    // Preface and an empty SETTINGS frame, then nothing.
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    assert!(closed_within(&mut h1, Duration::from_secs(5)).await);
    assert!(closed_within(&mut h2, Duration::from_secs(5)).await);
}

#[tokio::test]
async fn one_address_holding_its_share_of_busy_connections_is_refused_more() {
    let gw = TestGateway::start_with(|c| {
        c.max_connections_per_address = 2;
        c.header_timeout = Duration::from_secs(30);
    })
    .await;
    // Two connections busy with event streams (they stay open, answering).
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(gw.addr).await.unwrap();
        let head = format!(
            "GET /api/v1/events HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\r\n",
            gw.client_key
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut first = [0u8; 12];
        s.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");
        busy.push(s);
    }
    // A third from the same address is closed at once, without an answer.
    let mut third = TcpStream::connect(gw.addr).await.unwrap();
    let _ = third
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await;
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut buf))
        .await
        .expect("closed promptly");
    assert!(
        n.is_err() || buf.is_empty(),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    drop(busy);
    // Once they are gone the address is served again.
    support::eventually(
        Duration::from_secs(5),
        "the address served again",
        || async { (health_within(&gw, Duration::from_secs(1)).await == 200).then_some(()) },
    )
    .await;
}
