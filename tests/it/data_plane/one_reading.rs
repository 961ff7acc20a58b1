//! One reading (issue 75 §1): the gateway decides on exactly what the backend runs. A
//! request whose JSON readers read differently (two `arguments`, a name spelt with an
//! escape beside its plain twin, a name that differs only in case, `1e400`, a 200-deep
//! array, a lone surrogate) is refused with its id before any policy, confirmation,
//! guardrail or backend sees it, in both eras; a name spelt with an escape alone is the
//! member every reader reads, and the rules decide on it; a request guardrail's
//! mutation is what the backend runs; a result guardrail sees the result however the
//! backend's stream is framed (CRLF with a notification first, CR, data split over
//! lines, events and comments after it), and refuses (closed) an answer it cannot read.

use crate::support::WAIT;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::eventually;
use crate::support::gateway::TestGateway;
use crate::support::http::{Resp, send_json};
use crate::support::mcp::{Client, response_message, text_of};
use crate::support::mock::Mock;

async fn gateway() -> (TestGateway, Mock) {
    let gw = TestGateway::start().await;
    let beta = Mock::start(&[]);
    gw.register(json!({"name": "beta", "protocol": "http", "url": beta.url()}))
        .await;
    (gw, beta)
}

async fn session(gw: &TestGateway, path: &str, capabilities: Value) -> Client {
    let mut c = Client::new(gw.addr, path, Some(&gw.client_key));
    c.initialize_with(capabilities).await;
    eventually(WAIT, "beta's tools are listed", || async {
        c.tool_names()
            .await
            .iter()
            .any(|n| n == "beta__echo")
            .then_some(())
    })
    .await;
    c
}

async fn echoes(beta: &Mock) -> u64 {
    beta.control("GET", "/control/stats").await["calls"]["echo"]
        .as_u64()
        .unwrap_or(0)
}

async fn policy(gw: &TestGateway, name: &str, rules: Value) {
    let body = json!({"name": name, "text": rules.to_string()});
    let r = send_json(gw.addr, "POST", "/api/v1/policies", &gw.admin_key, &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
}

/// A raw `tools/call` of beta's echo with `params_tail` after its name, in the session
/// era (`modern` false) or the 2026-07-28 era.
async fn raw_call(c: &Client, modern: bool, id: u64, params_tail: &str) -> Resp {
    let meta = match modern {
        true => {
            r#","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}}"#
        }
        false => "",
    };
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"beta__echo",{params_tail}{meta}}}}}"#
    );
    let extra: &[(&str, &str)] = match modern {
        true => &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "beta__echo"),
        ],
        false => &[],
    };
    c.post_raw(body.as_bytes(), extra).await
}

/// The JSON-RPC error of a refused request: its id, its code, where.
fn refused(r: &Resp, id: u64) -> Value {
    let m = r.json();
    assert_eq!(m["id"], id, "the refusal answers the request's id: {m}");
    let code = m["error"]["code"].as_i64().unwrap_or(0);
    assert!(code == -32602 || code == -32600, "{m}");
    assert!(m["error"]["data"]["ambiguous"].is_string(), "{m}");
    m["error"].clone()
}

#[tokio::test]
async fn json_read_two_ways_is_refused_before_a_rule_or_the_backend_sees_it() {
    let (gw, beta) = gateway().await;
    policy(
        &gw,
        "acme-only",
        json!([{"effect": "deny", "when": "tool.name == 'beta__echo' && arguments.message != 'acme'"}]),
    )
    .await;
    let sess = session(&gw, "/mcp", json!({})).await;
    let modern = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    for (era, c, is_modern) in [("session", &sess, false), ("2026-07-28", &modern, true)] {
        // The plain call decides as the rule says.
        let ok =
            response_message(&raw_call(c, is_modern, 1, r#""arguments":{"message":"acme"}"#).await);
        assert_eq!(text_of(&ok["result"]), "acme", "{era}: {ok}");
        let before = echoes(&beta).await;
        for (id, tail, at) in [
            // Python and JavaScript keep the last of two members; the rule read the first.
            (
                2,
                r#""arguments":{"message":"acme"},"arguments":{"message":"evil"}"#,
                "params.arguments",
            ),
            (
                3,
                r#""arguments":{"message":"acme"},"argu\u006dents":{"message":"evil"}"#,
                "params.arguments",
            ),
            (
                4,
                r#""arguments":{"message":"acme","message":"evil"}"#,
                "params.arguments.message",
            ),
            // Go's encoding/json matches names without regard to case.
            (
                5,
                r#""arguments":{"message":"acme","Message":"evil"}"#,
                "params.arguments.Message",
            ),
            (
                6,
                r#""Arguments":{"message":"evil"},"arguments":{"message":"acme"}"#,
                "params.Arguments",
            ),
        ] {
            let e = refused(&raw_call(c, is_modern, id, tail).await, id);
            assert_eq!(e["code"], -32602, "{era} {tail}: {e}");
            assert_eq!(e["data"]["at"], at, "{era} {tail}: {e}");
        }
        for (id, tail) in [
            (7, r#""arguments":{"message":"evil","n":1e400}"#),
            (
                8,
                r#""arguments":{"message":"evil","n":123456789012345678901234567890}"#,
            ),
            (9, r#""arguments":{"message":"evil","s":"\ud800"}"#),
        ] {
            refused(&raw_call(c, is_modern, id, tail).await, id);
        }
        let deep = format!(
            r#""arguments":{{"message":"evil","d":{}1{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let e = refused(&raw_call(c, is_modern, 10, &deep).await, 10);
        assert!(
            e["data"]["at"]
                .as_str()
                .unwrap()
                .starts_with("params.arguments.d"),
            "{e}"
        );
        assert_eq!(
            echoes(&beta).await,
            before,
            "{era}: nothing refused reached beta"
        );
        // A name spelt with an escape alone is the member every reader reads: the rule
        // decides on it.
        let m = response_message(
            &raw_call(
                c,
                is_modern,
                11,
                r#""argu\u006dents":{"mess\u0061ge":"evil"}"#,
            )
            .await,
        );
        assert_eq!(m["error"]["data"]["policy"], "acme-only", "{era}: {m}");
        assert_eq!(echoes(&beta).await, before, "{era}");
    }
    // Everyone else is still served.
    let ok = sess
        .call_tool("beta__echo", json!({"message": "acme"}))
        .await;
    assert_eq!(text_of(&ok["result"]), "acme", "{ok}");
}

#[tokio::test]
async fn a_rule_that_tests_presence_decides_on_what_the_backend_runs() {
    let (gw, beta) = gateway().await;
    policy(
        &gw,
        "no-drop",
        json!([{"effect": "deny", "when": "has(arguments.message) && arguments.message.contains('DROP')"}]),
    )
    .await;
    let c = session(&gw, "/mcp", json!({})).await;
    let m = c
        .call_tool("beta__echo", json!({"message": "DROP TABLE x"}))
        .await;
    assert_eq!(m["error"]["data"]["policy"], "no-drop", "{m}");
    let before = echoes(&beta).await;
    // An extra number no double holds, or a deep array, made the rule read no arguments.
    refused(
        &raw_call(
            &c,
            false,
            2,
            r#""arguments":{"message":"DROP TABLE x","n":1e400}"#,
        )
        .await,
        2,
    );
    let deep = format!(
        r#""arguments":{{"message":"DROP TABLE x","d":{}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    refused(&raw_call(&c, false, 3, &deep).await, 3);
    // The name spelt with escapes is read as the backend reads it.
    let m = response_message(
        &raw_call(
            &c,
            false,
            4,
            r#""arguments":{"m\u0065ssage":"DROP TABLE x"}"#,
        )
        .await,
    );
    assert_eq!(m["error"]["data"]["policy"], "no-drop", "{m}");
    assert_eq!(echoes(&beta).await, before);
}

/// Go's `encoding/json` (mcp-go, the Go SDK before CVE-2026-27896) reads `Arguments`,
/// `ARGUMENTS` or `argumentſ` (U+017F folds to `s`) as `arguments`: a rule that found no
/// arguments would let through what a Go backend runs. Such a name is refused with the
/// request's id, in both eras, whether or not `arguments` is also there.
#[tokio::test]
async fn a_name_a_go_backend_reads_as_arguments_is_refused_with_the_id() {
    let (gw, beta) = gateway().await;
    policy(
        &gw,
        "no-drop",
        json!([{"effect": "deny", "when": "has(arguments.message) && arguments.message.contains('DROP')"}]),
    )
    .await;
    let sess = session(&gw, "/mcp", json!({})).await;
    let modern = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let before = echoes(&beta).await;
    for (era, c, is_modern) in [("session", &sess, false), ("2026-07-28", &modern, true)] {
        for (id, tail, at) in [
            (
                21,
                r#""Arguments":{"message":"DROP TABLE x"}"#,
                "params.Arguments",
            ),
            (
                22,
                r#""ARGUMENTS":{"message":"DROP TABLE x"}"#,
                "params.ARGUMENTS",
            ),
            (
                23,
                r#""argument\u017f":{"message":"DROP TABLE x"}"#,
                "params.argumentſ",
            ),
            (
                24,
                r#""arguments":{"message":"hello"},"argumentſ":{"message":"DROP TABLE x"}"#,
                "params.argumentſ",
            ),
        ] {
            let e = refused(&raw_call(c, is_modern, id, tail).await, id);
            assert_eq!(e["code"], -32602, "{era} {tail}: {e}");
            assert_eq!(e["data"]["at"], at, "{era} {tail}: {e}");
            assert_eq!(e["data"]["readsAs"], "arguments", "{era} {tail}: {e}");
            let message = e["message"].as_str().unwrap_or_default();
            assert!(message.contains("spelt as the method defines it"), "{e}");
        }
        // The envelope's names too: `Method` beside `method`.
        let r = c
            .post_raw(
                br#"{"jsonrpc":"2.0","id":25,"Method":"tools/call","method":"ping","params":{"name":"beta__echo","arguments":{"message":"DROP"}}}"#,
                &[],
            )
            .await;
        let e = refused(&r, 25);
        assert_eq!(
            (&e["code"], &e["data"]["at"]),
            (&json!(-32600), &json!("Method")),
            "{e}"
        );
    }
    assert_eq!(echoes(&beta).await, before, "nothing refused reached beta");
    // The rule decides on `arguments` spelt as MCP spells it; others are served.
    let m =
        response_message(&raw_call(&sess, false, 26, r#""arguments":{"message":"DROP"}"#).await);
    assert_eq!(m["error"]["data"]["policy"], "no-drop", "{m}");
    let ok = sess
        .call_tool("beta__echo", json!({"message": "hello"}))
        .await;
    assert_eq!(text_of(&ok["result"]), "hello", "{ok}");
}

#[tokio::test]
async fn a_confirmation_asks_about_exactly_what_runs() {
    let (gw, beta) = gateway().await;
    policy(
        &gw,
        "ask-first",
        json!([{"effect": "confirm", "when": "tool.name == 'beta__echo'"}]),
    )
    .await;
    // A session client that declared elicitation: two `arguments` are refused before
    // the question (which showed the first while the backend ran the last).
    let c = session(&gw, "/mcp", json!({"elicitation": {}})).await;
    let r = raw_call(
        &c,
        false,
        1,
        r#""arguments":{"message":"/tmp/harmless"},"arguments":{"message":"/etc/victim"}"#,
    )
    .await;
    let e = refused(&r, 1);
    assert_eq!(e["data"]["at"], "params.arguments", "{e}");
    assert!(!r.text().contains("elicitation/create"), "{}", r.text());

    // A 2026-07-28 client is asked; a retry naming other arguments does not run.
    let modern = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let first = response_message(
        &raw_call(
            &modern,
            true,
            2,
            r#""arguments":{"message":"/tmp/harmless"}"#,
        )
        .await,
    );
    let state = first["result"]["requestState"]
        .as_str()
        .expect("asked")
        .to_string();
    let question = first.to_string();
    assert!(question.contains("/tmp/harmless"), "{first}");
    let retry = |args: &str| {
        format!(
            r#"{args},"requestState":"{state}","inputResponses":{{"confirm":{{"action":"accept","content":{{"confirm":true}}}}}}"#
        )
    };
    let before = echoes(&beta).await;
    let e = refused(
        &raw_call(
            &modern,
            true,
            3,
            &retry(
                r#""arguments":{"message":"/tmp/harmless"},"arguments":{"message":"/etc/victim"}"#,
            ),
        )
        .await,
        3,
    );
    assert_eq!(e["data"]["at"], "params.arguments", "{e}");
    let m = response_message(
        &raw_call(
            &modern,
            true,
            4,
            &retry(r#""arguments":{"message":"/etc/victim"}"#),
        )
        .await,
    );
    assert_eq!(m["error"]["data"]["outcome"], "invalid state", "{m}");
    assert_eq!(
        echoes(&beta).await,
        before,
        "nothing ran but what was confirmed"
    );
    // The retry of what was asked runs it.
    let m = response_message(
        &raw_call(
            &modern,
            true,
            5,
            &retry(r#""arguments":{"message":"/tmp/harmless"}"#),
        )
        .await,
    );
    assert_eq!(text_of(&m["result"]), "/tmp/harmless", "{m}");
}

/// A guardrail on 127.0.0.1 port 0 that answers each hook with `answer(payload)` and
/// keeps the payloads.
struct Hook {
    url: String,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl Hook {
    async fn start(answer: fn(&Value) -> Value) -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            let mut chunk = [0u8; 8192];
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        while buf.len() < head_end + 4 + len {
                            let mut chunk = [0u8; 8192];
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let body: Vec<u8> =
                            buf.drain(..head_end + 4 + len).skip(head_end + 4).collect();
                        let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let out = answer(&payload).to_string();
                        kept.lock().unwrap().push(payload);
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{out}",
                            out.len()
                        );
                        if s.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Hook { url, seen }
    }
}

/// Masks `alice@example.com` in every text block of a result.
fn redact(payload: &Value) -> Value {
    let mut result = payload["result"].clone();
    if let Some(blocks) = result["content"].as_array_mut() {
        for b in blocks {
            if let Some(t) = b["text"].as_str() {
                b["text"] = json!(t.replace("alice@example.com", "[email redacted]"));
            }
        }
    }
    json!({"decision": "mutate", "result": result})
}

/// Denies "evil" in the message, else sets the message to "mutated".
fn deny_evil_or_mutate(payload: &Value) -> Value {
    let message = payload["arguments"]["message"].as_str().unwrap_or_default();
    if message.contains("evil") {
        return json!({"decision": "deny", "reason": "evil"});
    }
    json!({"decision": "mutate", "arguments": {"message": "mutated"}})
}

#[tokio::test]
async fn a_result_hook_sees_the_result_however_the_stream_is_framed() {
    let (gw, _beta) = gateway().await;
    let hook = Hook::start(redact).await;
    let made = send_json(
        gw.addr,
        "POST",
        "/api/v1/namespaces",
        &gw.admin_key,
        &json!({"name": "masked", "servers": ["beta"],
                "guardrails": [{"url": hook.url, "on": ["result"], "failure": "closed"}]}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let c = session(&gw, "/mcp/masked", json!({})).await;
    for mode in ["framed_crlf", "framed_cr", "framed_split", "framed_after"] {
        let m = c.call_tool("beta__misbehave", json!({"mode": mode})).await;
        let text = text_of(&m["result"]);
        assert!(text.contains("[email redacted]"), "{mode}: {m}");
        assert!(!m.to_string().contains("alice@"), "{mode}: {m}");
    }
    assert_eq!(hook.seen.lock().unwrap().len(), 4);
    // An answer in which no result can be found never passes unseen.
    let m = c
        .call_tool("beta__misbehave", json!({"mode": "truncated_sse"}))
        .await;
    assert!(m["error"].is_object(), "{m}");
}

#[tokio::test]
async fn a_request_hook_decides_on_and_mutates_exactly_what_runs() {
    let (gw, beta) = gateway().await;
    let hook = Hook::start(deny_evil_or_mutate).await;
    let made = send_json(
        gw.addr,
        "POST",
        "/api/v1/namespaces",
        &gw.admin_key,
        &json!({"name": "guarded", "servers": ["beta"],
                "guardrails": [{"url": hook.url, "on": ["request"], "failure": "closed"}]}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let c = session(&gw, "/mcp/guarded", json!({})).await;
    let before = echoes(&beta).await;
    // The hook saw `{"message":"hello"}` or `{}` while the backend ran "evil".
    for (id, tail) in [
        (
            1,
            r#""arguments":{"message":"hello"},"arguments":{"message":"evil"}"#,
        ),
        (2, r#""arguments":{"message":"evil","n":1e400}"#),
    ] {
        refused(&raw_call(&c, false, id, tail).await, id);
    }
    assert!(
        hook.seen.lock().unwrap().is_empty(),
        "the hook was never asked"
    );
    assert_eq!(echoes(&beta).await, before);
    // Escaped, the hook reads the member the backend reads, and denies it.
    let m =
        response_message(&raw_call(&c, false, 3, r#""argu\u006dents":{"message":"evil"}"#).await);
    assert_eq!(m["error"]["data"]["reason"], "evil", "{m}");
    // A mutation is what runs, every other byte as sent; without arguments too.
    let m = response_message(&raw_call(&c, false, 4, r#""arguments":{"message":"hello"}"#).await);
    assert_eq!(text_of(&m["result"]), "mutated", "{m}");
    let m = response_message(&raw_call(&c, false, 5, r#""_meta":{"progressToken":"p"}"#).await);
    assert_eq!(text_of(&m["result"]), "mutated", "{m}");
    assert_eq!(echoes(&beta).await, before + 2);
}
