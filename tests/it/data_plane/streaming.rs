//! Large results stream through the gateway without being held in memory: the gateway
//! runs as its own process so its peak resident memory can be read from /proc.

use crate::support;

use std::time::Duration;

use crate::support::gateway::{create_key, key_store};
use crate::support::http::{get, send_json};
use crate::support::mock::Mock;
use crate::support::{TestDb, eventually};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::json;

use metamcp::store::keys::Scope;

/// Peak resident set size (VmHWM) of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}

struct Gateway(std::process::Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// POSTs a tools/call and streams the answer, keeping only its length, head and tail.
async fn call_streaming(
    addr: std::net::SocketAddr,
    key: &str,
    session: &str,
    bytes: usize,
) -> (usize, Vec<u8>, Vec<u8>) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                      "params": {"name": "mock__big", "arguments": {"bytes": bytes}}});
    let req = Request::post("/mcp")
        .header("host", "localhost")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", session)
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let (mut total, mut head, mut tail) = (0usize, Vec::new(), Vec::new());
    while let Some(frame) = body.frame().await {
        if let Ok(d) = frame.unwrap().into_data() {
            total += d.len();
            if head.len() < 64 {
                head.extend_from_slice(&d[..d.len().min(64 - head.len())]);
            }
            tail.extend_from_slice(&d[d.len().saturating_sub(64)..]);
            let cut = tail.len().saturating_sub(64);
            tail.drain(..cut);
        }
    }
    (total, head, tail)
}

#[tokio::test]
async fn a_16_mb_result_streams_through_with_flat_memory() {
    let db = TestDb::new().await;
    let (child, stderr, addr) = support::start_gateway_binary(&db);
    let gw = Gateway(child);
    // Keep draining the log so the gateway never blocks on a full pipe.
    std::thread::spawn(move || for _ in std::io::BufRead::lines(stderr) {});

    let store = key_store(&db);
    let admin = create_key(&store, "admin", Scope::Admin, &[]).await;
    let mock = Mock::start(&[]);
    let r = send_json(
        addr,
        "POST",
        "/api/v1/mcp/servers",
        &admin,
        &json!({"name": "mock", "protocol": "http", "url": mock.url()}),
    )
    .await;
    assert_eq!(r.status, 201);
    eventually(Duration::from_secs(15), "backend running", || async {
        (get(addr, "/api/v1/mcp/servers/mock", &admin).await.json()["status"] == "running")
            .then_some(())
    })
    .await;
    let mut client = support::mcp::Client::new(addr, "/mcp", Some(&admin));
    client.initialize().await;
    let session = client.session.clone().unwrap();

    // Warm up (connections, buffers), then measure the peak across three large results.
    call_streaming(addr, &admin, &session, 64 * 1024).await;
    let before = peak_rss_kib(gw.0.id());
    const SIZE: usize = 16 * 1024 * 1024;
    for _ in 0..3 {
        let (total, head, tail) = call_streaming(addr, &admin, &session, SIZE).await;
        assert!(total > SIZE, "the whole result arrived ({total} bytes)");
        let head = String::from_utf8_lossy(&head);
        assert!(
            head.contains("\"id\":7"),
            "the client's id is restored: {head}"
        );
        assert!(String::from_utf8_lossy(&tail).trim_end().ends_with('}'));
    }
    let after = peak_rss_kib(gw.0.id());
    let grown_mib = (after.saturating_sub(before)) as f64 / 1024.0;
    eprintln!(
        "gateway peak RSS {before} KiB -> {after} KiB ({grown_mib:.1} MiB) over 3 x 16 MiB results"
    );
    assert!(
        grown_mib < 8.0,
        "peak memory grew {grown_mib:.1} MiB: results are being buffered"
    );
}
