//! External guardrails (issue 63 §4, docs/guides/guardrails.md): a namespace's HTTP hooks on a
//! tool call's request and result. The worked example, `tools/redact/redact.py`, runs as
//! a real child process and masks an e-mail address in server-everything's echoed
//! result; guardrails of the test's own (a real HTTP server on 127.0.0.1 port 0) deny,
//! mutate, audit, hang, answer 5 MB or answer garbage, in front of a real mockmcp
//! backend whose call counts show what reached it.

use crate::support::WAIT;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::gateway::{TestGateway, with_everything};
use crate::support::http::{events_until, live_events, send_json};
use crate::support::mcp::{Client, response_message, text_of};
use crate::support::mock::Mock;
use crate::support::{eventually, keyadm};

/// What a guardrail of the test's own answers.
#[derive(Clone)]
pub(crate) enum Answer {
    Json(Value),
    /// Never answers.
    Hang,
    /// 5 MB of JSON-looking text.
    Huge,
    /// 200 with text that is not JSON.
    Garbage,
}

/// A guardrail on 127.0.0.1 port 0 that answers every POST with `answer` and keeps the
/// payloads it was sent.
pub(crate) struct Guard {
    pub(crate) url: String,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl Guard {
    pub(crate) async fn start(answer: Answer) -> Guard {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/check", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                tokio::spawn(serve(s, answer.clone(), kept.clone()));
            }
        });
        Guard { url, seen }
    }

    fn payloads(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }
}

/// Answers the requests of one connection (keep-alive) until it closes.
async fn serve(mut s: TcpStream, answer: Answer, seen: Arc<Mutex<Vec<Value>>>) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 8192];
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let mut chunk = [0u8; 8192];
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buf.drain(..head_end + len).skip(head_end).collect();
        seen.lock()
            .unwrap()
            .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
        let payload = match &answer {
            Answer::Json(v) => v.to_string().into_bytes(),
            Answer::Hang => {
                std::future::pending::<()>().await;
                return;
            }
            Answer::Huge => {
                let mut big = b"{\"decision\": \"allow\", \"pad\": \"".to_vec();
                big.resize(5 << 20, b'x');
                big
            }
            Answer::Garbage => b"<html>certainly not JSON".to_vec(),
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            payload.len()
        );
        if s.write_all(head.as_bytes()).await.is_err() || s.write_all(&payload).await.is_err() {
            return;
        }
    }
}

/// A 2025-03-26 session on `path` (the era that takes batches).
async fn old_session(gw: &TestGateway, path: &str) -> Client {
    let mut c = Client::new(gw.addr, path, Some(&gw.client_key));
    c.version = "2025-03-26".into();
    c.initialize().await;
    c
}

async fn mock_gateway() -> (TestGateway, Mock) {
    let gw = TestGateway::start().await;
    let beta = Mock::start(&[]);
    gw.register(json!({"name": "beta", "protocol": "http", "url": beta.url()}))
        .await;
    (gw, beta)
}

async fn adds(beta: &Mock) -> u64 {
    beta.control("GET", "/control/stats").await["calls"]["add"]
        .as_u64()
        .unwrap_or(0)
}

/// The redaction service, a real child process: its URL once it listens.
struct Redact(Child);

impl Redact {
    fn start() -> (Redact, String) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/redact/redact.py");
        let mut child = Command::new("python3")
            .args([script, "--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn python3 tools/redact/redact.py");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("the service says where it listens");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .expect("listening on URL")
            .to_string();
        (Redact(child), url)
    }
}

impl Drop for Redact {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_redaction_service_masks_an_email_in_an_echoed_result() {
    let gw = with_everything(|_| {}).await;
    let (_redact, url) = Redact::start();
    gw.namespace(json!({"name": "masked", "servers": ["everything"],
               "guardrails": [{"url": url, "on": ["result"], "failure": "closed"}]}))
        .await;
    gw.namespace(json!({"name": "plain", "servers": ["everything"]}))
        .await;
    let message = json!({"message": "write to alice@example.com today"});

    let masked = gw
        .session_listing("/mcp/masked", &gw.client_key, "everything__echo")
        .await;
    let m = masked.call_tool("everything__echo", message.clone()).await;
    assert_eq!(m["id"], 1, "{m}");
    let text = text_of(&m["result"]);
    assert!(text.contains("[email redacted]"), "{m}");
    assert!(!text.contains("alice@example.com"), "{m}");

    // In a batch too.
    let r = old_session(&gw, "/mcp/masked")
        .await
        .post(&json!([{"jsonrpc": "2.0", "id": 5, "method": "tools/call",
            "params": {"name": "everything__echo", "arguments": message}}]))
        .await;
    let all = r.json();
    assert_eq!(all[0]["id"], 5, "{all}");
    assert!(
        all.to_string().contains("[email redacted]") && !all.to_string().contains("alice@"),
        "{all}"
    );

    // A namespace without guardrails is unaffected.
    let plain = gw
        .session_listing("/mcp/plain", &gw.client_key, "everything__echo")
        .await;
    let m = plain.call_tool("everything__echo", message.clone()).await;
    assert!(text_of(&m["result"]).contains("alice@example.com"), "{m}");

    // In audit mode the service's mutation is recorded, not applied.
    gw.namespace(json!({"name": "watched", "servers": ["everything"],
               "guardrails": [{"url": url, "on": ["result"], "mode": "audit"}]}))
        .await;
    let mut events = live_events(gw.addr, &gw.admin_key).await;
    let watched = gw
        .session_listing("/mcp/watched", &gw.client_key, "everything__echo")
        .await;
    let m = watched.call_tool("everything__echo", message).await;
    assert!(text_of(&m["result"]).contains("alice@example.com"), "{m}");
    let e = events_until(&mut events, &mut String::new(), WAIT, |e| {
        e["type"] == "guardrail.audit" && e["namespace"] == "watched"
    })
    .await;
    assert_eq!(e["decision"], "mutate", "{e}");
    assert_eq!(e["phase"], "result", "{e}");
    assert!(
        !e.to_string().contains("alice@"),
        "events never carry results: {e}"
    );
}

#[tokio::test]
async fn request_guardrails_deny_mutate_and_audit() {
    let (gw, beta) = mock_gateway().await;
    let deny = Guard::start(Answer::Json(
        json!({"decision": "deny", "reason": "no adding on Thursdays"}),
    ))
    .await;
    let mutate = Guard::start(Answer::Json(
        json!({"decision": "mutate", "arguments": {"a": 40, "b": 2}}),
    ))
    .await;
    let audit = Guard::start(Answer::Json(
        json!({"decision": "deny", "reason": "would have said no"}),
    ))
    .await;
    let secret_url = format!("{}?token=s3cret", deny.url);
    gw.namespace(json!({"name": "denied", "servers": ["beta"],
               "guardrails": [{"url": secret_url, "on": ["request"]}]}))
        .await;
    gw.namespace(json!({"name": "changed", "servers": ["beta"],
               "guardrails": [{"url": mutate.url, "on": ["request"]}]}))
        .await;
    gw.namespace(json!({"name": "watched", "servers": ["beta"],
               "guardrails": [{"url": audit.url, "on": ["request"], "mode": "audit"}]}))
        .await;
    let mut events = live_events(gw.addr, &gw.admin_key).await;
    let mut seen = String::new();

    // Enforce deny: the JSON-RPC error with its id; the backend never got the call.
    let c = gw
        .session_listing("/mcp/denied", &gw.client_key, "beta__add")
        .await;
    let m = c
        .call(
            json!(9),
            "tools/call",
            json!({"name": "beta__add", "arguments": {"a": 1, "b": 2}}),
        )
        .await;
    assert_eq!(m["id"], 9, "{m}");
    assert_eq!(m["error"]["code"], -32003, "{m}");
    assert_eq!(
        m["error"]["data"]["reason"], "no adding on Thursdays",
        "{m}"
    );
    let named = m["error"]["data"]["guardrail"].as_str().unwrap();
    assert!(
        named.starts_with(&deny.url) && !named.contains("s3cret"),
        "{m}"
    );
    assert!(!m.to_string().contains("s3cret"), "{m}");
    // The same in a batch.
    let r = old_session(&gw, "/mcp/denied")
        .await
        .post(&json!([{"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "beta__add", "arguments": {"a": 1, "b": 2}}}]))
        .await;
    assert_eq!(r.json()[0]["error"]["code"], -32003, "{}", r.text());
    assert_eq!(adds(&beta).await, 0, "the backend got a denied call");
    let p = &deny.payloads()[0];
    assert_eq!(p["phase"], "request", "{p}");
    assert_eq!(p["namespace"], "denied", "{p}");
    assert_eq!(p["server"], "beta", "{p}");
    assert_eq!(p["tool"], "beta__add", "{p}");
    assert_eq!(p["arguments"], json!({"a": 1, "b": 2}), "{p}");
    assert_eq!(p["principal"]["kind"], "key", "{p}");
    assert!(!p.to_string().contains(&gw.client_key), "{p}");
    // Through the gateway's call_tool, and from a 2026-07-28 client: refused alike.
    gw.namespace(
        json!({"name": "denied-search", "servers": ["beta"], "tool_search": "on",
               "guardrails": [{"url": deny.url, "on": ["request"]}]}),
    )
    .await;
    let s = gw
        .session_listing("/mcp/denied-search", &gw.client_key, "call_tool")
        .await;
    let m = s
        .call_tool(
            "call_tool",
            json!({"name": "beta__add", "arguments": {"a": 1, "b": 2}}),
        )
        .await;
    assert_eq!(m["error"]["code"], -32003, "{m}");
    let stateless = Client::new(gw.addr, "/mcp/denied", Some(&gw.client_key));
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let r = stateless
        .post_stateless(&json!({"jsonrpc": "2.0", "id": "s", "method": "tools/call",
            "params": {"name": "beta__add", "arguments": {"a": 1, "b": 2}, "_meta": meta}}))
        .await;
    let m = response_message(&r);
    assert_eq!(m["id"], "s", "{}", r.text());
    // The policy code of the 2026-07-28 era: outside -32768..-32000.
    assert_eq!(m["error"]["code"], -31003, "{}", r.text());
    assert_eq!(adds(&beta).await, 0, "the backend got a denied call");
    // Denied on the result: the backend did the work, the client never sees it.
    gw.namespace(json!({"name": "unseen", "servers": ["beta"],
               "guardrails": [{"url": deny.url, "on": ["result"]}]}))
        .await;
    let u = gw
        .session_listing("/mcp/unseen", &gw.client_key, "beta__add")
        .await;
    let m = u.call_tool("beta__add", json!({"a": 20, "b": 22})).await;
    assert_eq!(m["error"]["code"], -32003, "{m}");
    assert_eq!(m["error"]["data"]["phase"], "result", "{m}");
    assert!(m.get("result").is_none(), "{m}");
    let p = deny.payloads().pop().unwrap();
    assert_eq!(p["phase"], "result", "{p}");
    assert_eq!(text_of(&p["result"]).trim(), "42", "{p}");
    assert_eq!(adds(&beta).await, 1);
    // An error answer has no result to see: it goes on as it is, the guardrail unasked.
    let asked = deny.payloads().len();
    let m = u.call_tool("beta__echo", json!({})).await;
    assert_eq!(m["error"]["code"], -32602, "{m}");
    assert_eq!(deny.payloads().len(), asked);
    // GET shows the guardrail with its secret masked.
    let shown = send_json(
        gw.addr,
        "GET",
        "/api/v1/namespaces/denied",
        &gw.admin_key,
        &json!(null),
    )
    .await;
    assert_eq!(
        shown.json()["guardrails"][0]["mode"],
        "enforce",
        "{}",
        shown.text()
    );
    assert!(!shown.text().contains("s3cret"), "{}", shown.text());

    // Enforce mutate: the backend adds the arguments the guardrail gave.
    let c = gw
        .session_listing("/mcp/changed", &gw.client_key, "beta__add")
        .await;
    let m = c.call_tool("beta__add", json!({"a": 1, "b": 2})).await;
    assert!(text_of(&m["result"]).contains("42"), "{m}");
    assert_eq!(adds(&beta).await, 2);

    // Audit: the call goes through unchanged, and the decision is an event.
    let c = gw
        .session_listing("/mcp/watched", &gw.client_key, "beta__add")
        .await;
    let m = c.call_tool("beta__add", json!({"a": 1, "b": 2})).await;
    assert_eq!(text_of(&m["result"]).trim(), "3", "{m}");
    assert_eq!(adds(&beta).await, 3);
    let e = events_until(&mut events, &mut seen, WAIT, |e| {
        e["type"] == "guardrail.audit"
    })
    .await;
    assert_eq!(e["decision"], "deny", "{e}");
    assert_eq!(e["namespace"], "watched", "{e}");
    assert_eq!(e["reason"], "would have said no", "{e}");
    assert_eq!(audit.payloads().len(), 1);
}

/// A namespace per hostile guardrail and failure mode: `closed` refuses with the
/// reason, `open` lets the call through; the gateway answers every one in time.
#[tokio::test]
async fn hostile_guardrails_meet_their_failure_mode() {
    let (gw, beta) = mock_gateway().await;
    let cases = [
        ("hang", Answer::Hang, "no answer within 300 ms"),
        ("huge", Answer::Huge, "more than 1048576 bytes"),
        ("garbage", Answer::Garbage, "not JSON"),
    ];
    let mut guards = Vec::new();
    for (name, answer, _) in &cases {
        let g = Guard::start(answer.clone()).await;
        for failure in ["open", "closed"] {
            gw.namespace(
                json!({"name": format!("{name}-{failure}"), "servers": ["beta"],
                       "guardrails": [{"url": g.url, "on": ["request", "result"],
                                       "failure": failure, "timeout_ms": 300}]}),
            )
            .await;
        }
        guards.push(g);
    }
    gw.namespace(json!({"name": "plain", "servers": ["beta"]}))
        .await;
    let mut events = live_events(gw.addr, &gw.admin_key).await;
    let mut seen = String::new();
    // Everyone else is still served while a guardrail hangs: a call of a namespace
    // without guardrails answers before the hung one's timeout.
    let hung = gw
        .session_listing("/mcp/hang-closed", &gw.client_key, "beta__add")
        .await;
    let plain = gw
        .session_listing("/mcp/plain", &gw.client_key, "beta__add")
        .await;
    let waiting =
        tokio::spawn(async move { hung.call_tool("beta__add", json!({"a": 0, "b": 0})).await });
    eventually(WAIT, "the hung guardrail is asked", || async {
        (!guards[0].payloads().is_empty()).then_some(())
    })
    .await;
    let m = plain.call_tool("beta__add", json!({"a": 1, "b": 1})).await;
    assert_eq!(text_of(&m["result"]).trim(), "2", "{m}");
    let m = waiting.await.unwrap();
    assert_eq!(m["error"]["data"]["failure"], "closed", "{m}");
    let before = adds(&beta).await;
    for (name, _, why) in &cases {
        let closed = gw
            .session_listing(&format!("/mcp/{name}-closed"), &gw.client_key, "beta__add")
            .await;
        let started = std::time::Instant::now();
        let m = closed.call_tool("beta__add", json!({"a": 2, "b": 3})).await;
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{name}: too slow"
        );
        assert_eq!(m["id"], 1, "{name}: {m}");
        assert_eq!(m["error"]["code"], -32003, "{name}: {m}");
        assert_eq!(m["error"]["data"]["failure"], "closed", "{name}: {m}");
        let reason = m["error"]["data"]["reason"].as_str().unwrap();
        assert!(reason.contains(why), "{name}: {m}");

        let open = gw
            .session_listing(&format!("/mcp/{name}-open"), &gw.client_key, "beta__add")
            .await;
        let m = open.call_tool("beta__add", json!({"a": 2, "b": 3})).await;
        assert_eq!(text_of(&m["result"]).trim(), "5", "{name}: {m}");
        let e = events_until(&mut events, &mut seen, WAIT, |e| {
            e["type"] == "guardrail.failed"
                && e["failure"] == "open"
                && e["namespace"] == format!("{name}-open")
        })
        .await;
        assert!(e["reason"].as_str().unwrap().contains(why), "{e}");
    }
    // Only the open namespaces' calls reached the backend.
    assert_eq!(adds(&beta).await - before, cases.len() as u64);
    assert!(guards.iter().all(|g| !g.payloads().is_empty()));

    // A result over the 4 MiB held for result hooks: closed refuses it, open passes it
    // on unchanged (and the guardrail never sees it).
    let allow = Guard::start(Answer::Json(json!({"decision": "allow"}))).await;
    for failure in ["open", "closed"] {
        gw.namespace(
            json!({"name": format!("big-{failure}"), "servers": ["beta"],
                   "guardrails": [{"url": allow.url, "on": ["result"], "failure": failure}]}),
        )
        .await;
    }
    let big = json!({"bytes": 5_000_000});
    let closed = gw
        .session_listing("/mcp/big-closed", &gw.client_key, "beta__big")
        .await;
    let m = closed.call_tool("beta__big", big.clone()).await;
    assert_eq!(
        m["error"]["code"],
        -32003,
        "{}",
        &m.to_string()[..300.min(m.to_string().len())]
    );
    assert!(
        m["error"]["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("over 4194304 bytes"),
        "{m}"
    );
    let open = gw
        .session_listing("/mcp/big-open", &gw.client_key, "beta__big")
        .await;
    let m = open.call_tool("beta__big", big).await;
    assert!(
        text_of(&m["result"]).len() >= 5_000_000,
        "the whole result passes"
    );
    assert!(
        allow.payloads().is_empty(),
        "the guardrail saw a result over the bound"
    );
}

#[tokio::test]
async fn invalid_guardrails_are_refused_with_the_reason() {
    let gw = TestGateway::start().await;
    let admin = &gw.admin_key;
    let nine: Vec<Value> = (0..9)
        .map(|i| json!({"url": format!("http://127.0.0.1:1/{i}")}))
        .collect();
    for (guardrails, why) in [
        (
            json!([{"url": "ftp://127.0.0.1/"}]),
            "guardrails: [0].url: must be an http",
        ),
        (
            json!([{"url": "http://h", "on": []}]),
            "[0].on: must be a non-empty array",
        ),
        (
            json!([{"url": "http://h", "timeout_ms": 0}]),
            "[0].timeout_ms:",
        ),
        (
            json!([{"url": "http://h", "mode": "loud"}]),
            "enforce or audit",
        ),
        (
            json!([{"url": "http://h", "failure": "maybe"}]),
            "open or closed",
        ),
        (Value::Array(nine), "at most 8"),
        (json!("http://h"), "must be an array"),
    ] {
        let r = send_json(
            gw.addr,
            "POST",
            "/api/v1/namespaces",
            admin,
            &json!({"name": "g", "guardrails": guardrails}),
        )
        .await;
        assert_eq!(r.status, 400, "{guardrails}: {}", r.text());
        assert_eq!(r.json()["field"], "guardrails", "{}", r.text());
        assert!(r.text().contains(why), "{guardrails}: {}", r.text());
    }
    let r = send_json(gw.addr, "GET", "/api/v1/namespaces/g", admin, &json!(null)).await;
    assert_eq!(r.status, 404, "nothing was written: {}", r.text());

    // keyadm takes the field as it takes the others; a redacted URL sent back keeps
    // the stored one.
    let out = keyadm(
        &gw.db,
        &["namespaces", "add", "k", "--guardrails",
          r#"[{"url": "http://u:pw@127.0.0.1:9/g?token=s3cret", "on": ["result"], "mode": "audit"}]"#,
          "--json"],
    )
    .await
    .expect("keyadm namespaces add");
    assert!(!out.contains("s3cret") && !out.contains("pw@"), "{out}");
    let shown = send_json(gw.addr, "GET", "/api/v1/namespaces/k", admin, &json!(null)).await;
    let g = shown.json()["guardrails"].clone();
    assert_eq!(g[0]["mode"], "audit", "{g}");
    assert_eq!(g[0]["on"], json!(["result"]), "{g}");
    let put = send_json(
        gw.addr,
        "PUT",
        "/api/v1/namespaces/k",
        admin,
        &json!({"guardrails": g}),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let db = gw.db.client().await;
    let stored: Value = db
        .query_one("SELECT guardrails FROM namespaces WHERE name = 'k'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        stored[0]["url"], "http://u:pw@127.0.0.1:9/g?token=s3cret",
        "{stored}"
    );
    let refused = keyadm(
        &gw.db,
        &["namespaces", "set", "k", "--guardrails", "nonsense"],
    )
    .await;
    let (_, why) = refused.expect_err("not JSON is refused");
    assert!(why.contains("guardrails"), "{why}");
    let refused = keyadm(
        &gw.db,
        &[
            "namespaces",
            "set",
            "k",
            "--guardrails",
            r#"[{"url": "ftp://u:s3cret@h/?token=s3cret"}]"#,
        ],
    )
    .await;
    let (_, why) = refused.expect_err("ftp is refused");
    assert!(
        why.contains("--guardrails: [0].url: must be an http"),
        "{why}"
    );
    assert!(
        !why.contains("s3cret"),
        "the refusal echoes the secret: {why}"
    );
}

/// A guardrail set on one replica is applied by another (NOTIFY), and a task asked of a
/// namespace whose result hooks could not see its result meets their failure mode
/// before it is forwarded.
#[tokio::test]
async fn a_change_reaches_every_replica_and_tasks_meet_the_failure_mode() {
    let (gw, beta) = mock_gateway().await;
    let other = gw.beside(|_| {}).await;
    let deny = Guard::start(Answer::Json(
        json!({"decision": "deny", "reason": "closed today"}),
    ))
    .await;
    gw.namespace(json!({"name": "r", "servers": ["beta"]}))
        .await;
    eventually(WAIT, "the other replica serves /mcp/r", || async {
        let probe = Client::new(other.addr, "/mcp/r", Some(&other.client_key));
        let r = probe
            .post(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                "params": {"protocolVersion": probe.version, "capabilities": {},
                           "clientInfo": {"name": "probe", "version": "1"}}}))
            .await;
        (r.status == 200).then_some(())
    })
    .await;
    let c = other
        .session_listing("/mcp/r", &other.client_key, "beta__add")
        .await;
    let m = c.call_tool("beta__add", json!({"a": 1, "b": 2})).await;
    assert_eq!(text_of(&m["result"]).trim(), "3", "{m}");
    let put = send_json(
        gw.addr,
        "PUT",
        "/api/v1/namespaces/r",
        &gw.admin_key,
        &json!({"guardrails": [{"url": deny.url, "on": ["request"]}]}),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let m = eventually(WAIT, "the other replica applies the guardrail", || async {
        let m = c.call_tool("beta__add", json!({"a": 1, "b": 2})).await;
        (m["error"]["code"] == -32003).then_some(m)
    })
    .await;
    assert_eq!(m["error"]["data"]["reason"], "closed today", "{m}");

    let allow = Guard::start(Answer::Json(json!({"decision": "allow"}))).await;
    gw.namespace(json!({"name": "t", "servers": ["beta"],
               "guardrails": [{"url": allow.url, "on": ["result"]}]}))
        .await;
    let c = gw
        .session_listing("/mcp/t", &gw.client_key, "beta__add")
        .await;
    let before = adds(&beta).await;
    let m = c
        .call(
            json!(4),
            "tools/call",
            json!({"name": "beta__add", "arguments": {"a": 1, "b": 2}, "task": {"ttl": 60000}}),
        )
        .await;
    assert_eq!(m["id"], 4, "{m}");
    assert_eq!(m["error"]["code"], -32003, "{m}");
    assert!(
        m["error"]["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("without a task"),
        "{m}"
    );
    assert_eq!(adds(&beta).await, before, "the task reached the backend");
    assert!(allow.payloads().is_empty());

    // keyadm shows them, URLs redacted.
    let shown = keyadm(&gw.db, &["namespaces", "show", "t"])
        .await
        .expect("show");
    assert!(
        shown.contains("guardrails") && shown.contains(&allow.url),
        "{shown}"
    );
}
