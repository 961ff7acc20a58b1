//! A small MCP client for tests, over the gateway's HTTP endpoint.
#![allow(dead_code)]

use std::net::SocketAddr;

use serde_json::{Value, json};

use super::http::{Resp, request};

pub struct Client {
    pub addr: SocketAddr,
    pub path: String,
    pub key: Option<String>,
    pub session: Option<String>,
    pub version: String,
}

impl Client {
    pub fn new(addr: SocketAddr, path: &str, key: Option<&str>) -> Client {
        Client {
            addr,
            path: path.to_string(),
            key: key.map(String::from),
            session: None,
            version: "2025-06-18".into(),
        }
    }

    /// POSTs a raw body with the usual headers plus `extra`.
    pub async fn post_raw(&self, body: &[u8], extra: &[(&str, &str)]) -> Resp {
        let auth = self.key.as_ref().map(|k| format!("Bearer {k}"));
        let mut headers: Vec<(&str, &str)> = vec![
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
        ];
        if let Some(a) = &auth {
            headers.push(("authorization", a));
        }
        if let Some(s) = &self.session {
            headers.push(("mcp-session-id", s));
            headers.push(("mcp-protocol-version", &self.version));
        }
        for (k, v) in extra {
            headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
            headers.push((k, v));
        }
        request(self.addr, "POST", &self.path, &headers, Some(body)).await
    }

    pub async fn post(&self, msg: &Value) -> Resp {
        self.post_raw(msg.to_string().as_bytes(), &[]).await
    }

    /// POSTs a 2026-07-28 message with the standard headers mirrored from it, as a
    /// conforming client sends them: `MCP-Protocol-Version`, `Mcp-Method`, and `Mcp-Name`
    /// for `tools/call`, `prompts/get` (`params.name`) and `resources/read` (`params.uri`).
    pub async fn post_stateless(&self, msg: &Value) -> Resp {
        let method = msg["method"].as_str().unwrap_or_default().to_string();
        let name = match method.as_str() {
            "tools/call" | "prompts/get" => msg["params"]["name"].as_str(),
            "resources/read" => msg["params"]["uri"].as_str(),
            _ => None,
        }
        .map(String::from);
        let mut extra = vec![
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", method.as_str()),
        ];
        if let Some(n) = &name {
            extra.push(("mcp-name", n.as_str()));
        }
        self.post_raw(msg.to_string().as_bytes(), &extra).await
    }

    pub async fn initialize(&mut self) -> Resp {
        self.initialize_with(json!({})).await
    }

    /// `initialize` declaring `capabilities`.
    pub async fn initialize_with(&mut self, capabilities: Value) -> Resp {
        let r = self
            .post(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                          "params": {"protocolVersion": self.version, "capabilities": capabilities,
                                     "clientInfo": {"name": "test", "version": "1"}}}))
            .await;
        assert_eq!(r.status, 200, "initialize: {}", r.text());
        self.session = r.header("mcp-session-id").map(String::from);
        assert!(self.session.is_some(), "a session id");
        let n = self
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(n.status, 202);
        r
    }

    /// Sends a request and returns the response message (from JSON or the SSE stream).
    pub async fn call(&self, id: Value, method: &str, params: Value) -> Value {
        let r = self
            .post(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        assert_eq!(r.status, 200, "{method}: {}", r.text());
        response_message(&r)
    }

    /// `tools/call` of `name` with `arguments` (id 1): the response message.
    pub async fn call_tool(&self, name: &str, arguments: Value) -> Value {
        self.call(
            json!(1),
            "tools/call",
            json!({"name": name, "arguments": arguments}),
        )
        .await
    }

    /// The `result` of a request, failing the test on an error.
    pub async fn result(&self, method: &str, params: Value) -> Value {
        let m = self.call(json!(1), method, params).await;
        assert!(m.get("error").is_none(), "{method} failed: {m}");
        m["result"].clone()
    }

    pub async fn tool_names(&self) -> Vec<String> {
        let r = self.result("tools/list", json!({})).await;
        r["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    }
}

/// Polls the client's `tools/list` until `pred` holds of its names (at most
/// `support::WAIT`); the names then.
pub async fn tools_until(c: &Client, what: &str, pred: impl Fn(&[String]) -> bool) -> Vec<String> {
    super::eventually(super::WAIT, what, || async {
        let names = c.tool_names().await;
        pred(&names).then_some(names)
    })
    .await
}

/// The levels of the log messages (`notifications/message`) in a response, in order.
pub fn log_levels(r: &Resp) -> Vec<String> {
    messages(r)
        .iter()
        .filter(|m| m["method"] == "notifications/message")
        .map(|m| {
            m["params"]["level"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// Every JSON-RPC message of a response, in order (SSE events that are not JSON, such
/// as what a backend left unfinished, are skipped).
pub fn messages(r: &Resp) -> Vec<Value> {
    if r.header("content-type")
        .is_some_and(|c| c.starts_with("text/event-stream"))
    {
        metamcp::jsonrpc::sse::data_of(&r.body)
            .iter()
            .filter_map(|d| serde_json::from_slice(d).ok())
            .collect()
    } else {
        vec![r.json()]
    }
}

/// The response message (the one with a result or an error).
pub fn response_message(r: &Resp) -> Value {
    messages(r)
        .into_iter()
        .find(|m| m.get("result").is_some() || m.get("error").is_some())
        .unwrap_or_else(|| panic!("no response in {}", r.text()))
}

pub fn text_of(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// POSTs `body` and hands back the JSON-RPC messages of the answer as they arrive (SSE
/// events one by one, or the one JSON body), until the stream ends.
pub async fn post_streaming(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> tokio::sync::mpsc::UnboundedReceiver<Value> {
    use http_body_util::{BodyExt, Full};
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let mut req = hyper::Request::post(path)
        .header("host", "localhost")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .expect("request");
    let resp = sender.send_request(req).await.expect("send");
    let sse = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/event-stream"));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut body = resp.into_body();
    tokio::spawn(async move {
        let mut buf = Vec::new();
        while let Some(Ok(frame)) = body.frame().await {
            buf.extend_from_slice(&frame.into_data().unwrap_or_default());
            if !sse {
                continue;
            }
            while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = buf.drain(..end + 2).collect();
                for data in metamcp::jsonrpc::sse::data_of(&event) {
                    if let Ok(m) = serde_json::from_slice(&data) {
                        let _ = tx.send(m);
                    }
                }
            }
        }
        if !sse && let Ok(m) = serde_json::from_slice(&buf) {
            let _ = tx.send(m);
        }
    });
    rx
}

/// Opens the session's GET notification stream; returns its lines.
pub async fn notification_stream(
    addr: std::net::SocketAddr,
    c: &Client,
) -> tokio::io::Lines<tokio::io::BufReader<tokio::net::TcpStream>> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!(
            "GET /mcp HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nAccept: text/event-stream\r\nMcp-Session-Id: {}\r\n\r\n",
            c.key.as_ref().unwrap(),
            c.session.as_ref().unwrap()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut lines = BufReader::new(s).lines();
    // Subscribed before the head is sent: from here on, nothing is missed.
    assert!(
        lines
            .next_line()
            .await
            .unwrap()
            .unwrap()
            .starts_with("HTTP/1.1 200")
    );
    lines
}

/// The next JSON-RPC message on a notification stream.
pub async fn next_notification(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::net::TcpStream>>,
) -> Value {
    tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            let l = lines.next_line().await.unwrap().expect("stream open");
            if let Some(data) = l.strip_prefix("data: ") {
                return serde_json::from_str::<Value>(data).unwrap();
            }
        }
    })
    .await
    .expect("a notification in time")
}

/// A 2026-07-28 `tools/call` of `tool` that declares URL elicitation.
pub fn call_declaring_url_2026(id: u64, tool: &str) -> Value {
    serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": tool, "arguments": {}, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}, "url": {}}}}}})
}

/// The one question of an `input_required` answer: its key and the request.
pub fn only_question(m: &Value) -> (String, Value) {
    assert_eq!(m["result"]["resultType"], "input_required", "{m}");
    m["result"]["inputRequests"]
        .as_object()
        .and_then(|o| o.iter().next())
        .map(|(k, v)| (k.clone(), v.clone()))
        .expect("one question")
}

/// The next message of a stream read into `rx`, within `within`; fails the test when none
/// comes or the stream ended.
pub async fn next_message(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Value>,
    within: std::time::Duration,
) -> Value {
    tokio::time::timeout(within, rx.recv())
        .await
        .expect("a message in time")
        .expect("the stream goes on")
}
