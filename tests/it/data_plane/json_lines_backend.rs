//! A backend that writes more than one message in an `application/json` answer: a
//! progress notification, then the response, a line each (the conformance repository's
//! reference server does this for `test_streaming_elicitation`). The client gets the
//! response with its own id, whether the body came whole (`Content-Length`) or in
//! chunks; an answer with no response in it is an error with the client's id.

use crate::support;

use std::net::SocketAddr;

use crate::support::gateway::TestGateway;
use crate::support::mcp::{Client, text_of};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PROGRESS: &str = r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":50,"total":100}}"#;

/// Serves a session-era MCP server on 127.0.0.1 port 0, written by hand.
async fn backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(connection(stream));
        }
    });
    addr
}

/// Requests of one connection, in turn (keep-alive).
async fn connection(mut stream: TcpStream) {
    let mut buf = Vec::new();
    loop {
        let Some((head_end, length)) = read_head(&mut stream, &mut buf).await else {
            return;
        };
        while buf.len() < head_end + length {
            let mut more = [0u8; 4096];
            match stream.read(&mut more).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&more[..n]),
            }
        }
        let body: Value =
            serde_json::from_slice(&buf[head_end..head_end + length]).unwrap_or(Value::Null);
        buf.drain(..head_end + length);
        if answer(&mut stream, &body).await.is_err() {
            return;
        }
    }
}

/// Reads up to the end of a request's head: where its body starts, and its length.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(usize, usize)> {
    loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..at]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            return Some((at + 4, length));
        }
        let mut more = [0u8; 4096];
        match stream.read(&mut more).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&more[..n]),
        }
    }
}

async fn answer(stream: &mut TcpStream, msg: &Value) -> std::io::Result<()> {
    let id = msg["id"].clone();
    let reply = |result: Value| json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string();
    let whole = |body: String| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let out = match msg["method"].as_str().unwrap_or_default() {
        _ if id.is_null() => "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n".to_string(),
        "initialize" => whole(reply(json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "lines", "version": "1.0.0"}
        }))),
        "tools/list" => whole(reply(json!({"tools": [
            {"name": "whole", "inputSchema": {"type": "object"}},
            {"name": "chunked", "inputSchema": {"type": "object"}},
            {"name": "unanswered", "inputSchema": {"type": "object"}}
        ]}))),
        "tools/call" => {
            let done = reply(json!({"content": [{"type": "text", "text": "done"}]}));
            match msg["params"]["name"].as_str().unwrap_or_default() {
                "whole" => whole(format!("{PROGRESS}\n{done}")),
                "unanswered" => whole(format!("{PROGRESS}\n")),
                _ => {
                    // Two chunks, written one after the other, then the last one.
                    let chunk = |s: &str| format!("{:x}\r\n{s}\r\n", s.len());
                    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                                Transfer-Encoding: chunked\r\n\r\n";
                    stream
                        .write_all(format!("{head}{}", chunk(&format!("{PROGRESS}\n"))).as_bytes())
                        .await?;
                    stream.flush().await?;
                    format!("{}0\r\n\r\n", chunk(&done))
                }
            }
        }
        _ => whole(
            json!({"jsonrpc": "2.0", "id": id,
                   "error": {"code": -32601, "message": "method not found"}})
            .to_string(),
        ),
    };
    stream.write_all(out.as_bytes()).await?;
    stream.flush().await
}

#[tokio::test]
async fn a_notification_ahead_of_the_response_in_a_json_body_is_dropped() {
    let addr = backend().await;
    let gw = TestGateway::start().await;
    gw.register(json!({"name": "lines", "protocol": "http",
                       "url": format!("http://{addr}/mcp")}))
        .await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.initialize().await;
    for (id, tool) in [(7, "lines__whole"), (8, "lines__chunked")] {
        let r = c
            .post(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                          "params": {"name": tool, "arguments": {}}}))
            .await;
        assert_eq!(r.status, 200, "{tool}: {}", r.text());
        let messages = support::mcp::messages(&r);
        let answers: Vec<&Value> = messages.iter().filter(|m| m.get("id").is_some()).collect();
        assert_eq!(answers.len(), 1, "{tool}: one response: {}", r.text());
        assert_eq!(answers[0]["id"], id, "{tool}: the client's own id");
        assert_eq!(
            text_of(&answers[0]["result"]),
            "done",
            "{tool}: {}",
            r.text()
        );
        assert!(
            !r.text()
                .contains("notifications/progress\",\"params\":{\"progressToken\":\"t\""),
            "{tool}: the backend's stray notification is not passed on: {}",
            r.text()
        );
    }
    // A body with no response in it: an error with the client's id, and the session
    // goes on.
    let m = c
        .call(
            json!(9),
            "tools/call",
            json!({"name": "lines__unanswered", "arguments": {}}),
        )
        .await;
    assert_eq!(m["id"], 9, "{m}");
    assert!(
        m["error"]["message"]
            .as_str()
            .is_some_and(|s| s.contains("lines")),
        "{m}"
    );
    let again = c
        .call(
            json!(10),
            "tools/call",
            json!({"name": "lines__whole", "arguments": {}}),
        )
        .await;
    assert_eq!(text_of(&again["result"]), "done", "{again}");
}
