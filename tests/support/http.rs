//! A minimal HTTP/1.1 client for tests: one connection per request, hyper underneath.
#![allow(dead_code)]

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::HeaderMap;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends one request; `headers` may override Host.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Resp {
    try_request(addr, method, path, headers, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// Sends one request: the answer, or what went wrong (a connection the gateway closes
/// unanswered, as one over an address's share is).
pub async fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Resp, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(path);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req = req.header("host", format!("127.0.0.1:{}", addr.port()));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(Bytes::copy_from_slice(body.unwrap_or_default())))
        .unwrap();
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("send request: {e}"))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// Shorthands with an `Authorization: Bearer` credential.
pub async fn get(addr: SocketAddr, path: &str, bearer: &str) -> Resp {
    let auth = format!("Bearer {bearer}");
    request(addr, "GET", path, &[("authorization", &auth)], None).await
}

pub async fn send_json(
    addr: SocketAddr,
    method: &str,
    path: &str,
    bearer: &str,
    body: &serde_json::Value,
) -> Resp {
    let auth = format!("Bearer {bearer}");
    let text = body.to_string();
    request(
        addr,
        method,
        path,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(text.as_bytes()),
    )
    .await
}

/// Opens `GET /api/v1/events` on a raw socket and returns it once the stream is live (its
/// `ready` line has arrived), so no event after this call is missed.
pub async fn live_events(addr: SocketAddr, key: &str) -> TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "GET /api/v1/events HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.expect("send");
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&seen).contains("\"ready\"") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("the events stream answers")
            .expect("read");
        assert!(n > 0, "the events stream closed");
        seen.extend_from_slice(&buf[..n]);
    }
    s
}

/// Reads the event stream until `pred` matches an event (within `wait`); `seen` keeps
/// what was read, so the next call looks at it again.
pub async fn events_until(
    s: &mut TcpStream,
    seen: &mut String,
    wait: std::time::Duration,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    use tokio::io::AsyncReadExt;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        for line in seen.lines() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line)
                && pred(&v)
            {
                return v;
            }
        }
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline, s.read(&mut buf))
            .await
            .expect("the event in time")
            .expect("read");
        assert!(n > 0, "the events stream closed");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}
