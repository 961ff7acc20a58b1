//! What flows to a client besides its answer: progress before the result, list changes on
//! the notification stream, a backend's own requests (sampling, elicitation) and their
//! answers, a URL elicitation's end, resource updates to subscribers, `subscriptions/listen`,
//! log levels per session, and roots changes.

use crate::support;

use std::time::Duration;

use crate::support::gateway::TestGateway;
use crate::support::mcp::{Client, log_levels, messages, next_message, text_of};
use crate::support::mock::Mock;
use crate::support::{WAIT, eventually};
use serde_json::{Value, json};

#[tokio::test]
async fn progress_streams_live_before_the_result() {
    let (gw, _alpha, _beta) = TestGateway::with_alpha_and_beta().await;
    let c = gw.client_session().await;
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": "p", "method": "tools/call",
                      "params": {"name": "beta__progress", "arguments": {"steps": 3},
                                 "_meta": {"progressToken": "tok"}}}))
        .await;
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    let ms = messages(&r);
    assert_eq!(ms.len(), 4, "{ms:?}");
    for (i, m) in ms[..3].iter().enumerate() {
        assert_eq!(m["method"], "notifications/progress");
        assert_eq!(m["params"]["progressToken"], "tok");
        assert_eq!(m["params"]["progress"], i + 1);
    }
    assert_eq!(ms[3]["id"], "p");
    assert_eq!(text_of(&ms[3]["result"]), "done after 3 steps");
}

#[tokio::test]
async fn list_changes_reach_the_clients_notification_stream() {
    let (gw, _alpha, _beta) = TestGateway::with_alpha_and_beta().await;
    let c = gw.client_session().await;
    let mut lines = support::mcp::notification_stream(gw.addr, &c).await;
    c.result(
        "tools/call",
        json!({"name": "beta__toggle", "arguments": {}}),
    )
    .await;
    // A list change of the set-up (beta's lists settling after the stream opened) may
    // come first: the toggle's is the one after which the list holds its new tool. Each
    // read waits 30 s at most, so a toggle that sends nothing fails.
    for _ in 0..10 {
        let m = support::mcp::next_notification(&mut lines).await;
        if m["method"] != "notifications/tools/list_changed" {
            continue;
        }
        if c.tool_names().await.contains(&"beta__extra".to_string()) {
            return;
        }
    }
    panic!("no tools/list_changed after which the list holds beta__extra");
}

/// Calls a `sample` tool and answers the backend's sampling request when it arrives on
/// the call's stream. Returns the id the client saw on that request and the result text.
async fn sample_call(gw: &TestGateway, c: &Client, tool: &str, answer: &str) -> (Value, String) {
    use http_body_util::{BodyExt, Full};
    let stream = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": tool, "arguments": {"prompt": "hi"}}});
    let req = hyper::Request::post("/mcp")
        .header("host", "localhost")
        .header("authorization", format!("Bearer {}", gw.client_key))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", c.session.as_ref().unwrap())
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    let mut asked = Value::Null;
    while let Some(frame) = body.frame().await {
        buf.extend_from_slice(&frame.unwrap().into_data().unwrap_or_default());
        while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = buf.drain(..end + 2).collect();
            for data in metamcp::jsonrpc::sse::data_of(&event) {
                let m: Value = serde_json::from_slice(&data).unwrap();
                if m["method"] == "sampling/createMessage" {
                    asked = m["id"].clone();
                    let reply = json!({"jsonrpc": "2.0", "id": asked,
                                       "result": {"role": "assistant", "model": "test",
                                                  "content": {"type": "text", "text": answer}}});
                    assert_eq!(c.post(&reply).await.status, 202);
                } else if m.get("result").is_some() || m.get("error").is_some() {
                    assert_eq!(m["id"], 1);
                    return (asked, text_of(&m["result"]));
                }
            }
        }
    }
    panic!("the call's stream ended without a result");
}

#[tokio::test]
async fn backend_requests_to_the_client_and_its_answers_find_their_way() {
    let gw = TestGateway::start().await;
    let beta = Mock::start(&["--profile", "rich"]);
    let gamma = Mock::start(&["--profile", "rich"]);
    gw.register(json!({"name": "beta", "protocol": "http", "url": beta.url()}))
        .await;
    gw.register(json!({"name": "gamma", "protocol": "http", "url": gamma.url()}))
        .await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.initialize_with(json!({"sampling": {}})).await;
    // Both backends number their requests from 0 and the client reuses id 1: the gateway
    // must keep all of it apart, both ways.
    let (b, g) = tokio::join!(
        sample_call(&gw, &c, "beta__sample", "for beta"),
        sample_call(&gw, &c, "gamma__sample", "for gamma"),
    );
    assert_eq!(b.1, "sampled: for beta");
    assert_eq!(g.1, "sampled: for gamma");
    assert_ne!(b.0, g.0, "distinct ids for the two backends' requests");
    assert!(
        b.0 != json!(0) && g.0 != json!(0),
        "the backends' own ids are not shown"
    );
    // An answer to a request nobody made is accepted and dropped.
    let stray = json!({"jsonrpc": "2.0", "id": "m999999", "result": {}});
    assert_eq!(c.post(&stray).await.status, 202);

    // A client that did not declare sampling never sees the request: the gateway answers
    // the backend with an error at once, and the call ends with the backend's verdict.
    let plain = gw.client_session().await;
    let started = std::time::Instant::now();
    let r = plain
        .post(&json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                      "params": {"name": "beta__sample", "arguments": {"prompt": "hi"}}}))
        .await;
    let seen = messages(&r);
    assert!(
        seen.iter().all(|m| m["method"] != "sampling/createMessage"),
        "{seen:?}"
    );
    let last = seen.last().unwrap();
    assert_eq!(last["id"], 5);
    assert!(
        last.to_string()
            .contains("did not declare the sampling capability"),
        "{last}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // Three sessions with the backend: the gateway's main one (declaring everything it
    // routes), one for the sampling client's set, and the last for the plain client's,
    // declaring what it did: nothing.
    let stats = beta.control("GET", "/control/stats").await;
    assert_eq!(stats["sessions"], 3, "{stats}");
    assert_eq!(stats["client_capabilities"], json!({}), "{stats}");
    // A client declaring everything is served by the main session: no fourth one.
    let mut full = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    full.initialize_with(json!({"sampling": {"tools": {}}, "roots": {},
                                "elicitation": {"form": {}, "url": {}},
                                "tasks": {"requests": {"sampling": {"createMessage": {}},
                                                       "elicitation": {"create": {}}}},
                                "extensions": {"io.modelcontextprotocol/ui": {}}}))
        .await;
    full.tool_names().await;
    let stats = beta.control("GET", "/control/stats").await;
    assert_eq!(stats["sessions"], 3, "{stats}");
}

/// A URL elicitation's end (`notifications/elicitation/complete`, on the backend's own
/// stream, shared by the clients of its session) reaches the client the elicitation was
/// passed to, once, and nobody else; an id the gateway never passed on goes nowhere. A
/// backend cannot point one client's elicitation id at another client: that request is
/// refused to it.
#[tokio::test]
async fn a_url_elicitations_end_reaches_its_own_client_only() {
    let (gw, _alpha, beta) = TestGateway::with_alpha_and_beta().await;
    let caps = json!({"elicitation": {"form": {}, "url": {}}});
    let mut a = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    a.initialize_with(caps.clone()).await;
    let mut b = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    b.initialize_with(caps).await;
    let mut a_stream = support::mcp::notification_stream(gw.addr, &a).await;
    let mut b_stream = support::mcp::notification_stream(gw.addr, &b).await;
    let url_question = |id: &str| {
        json!({"name": "beta__ask", "arguments": {"rounds": [[{"method": "elicitation/create",
            "params": {"mode": "url", "url": "https://example.com/consent", "message": "consent",
                       "elicitationId": id}}]]}})
    };
    // The backend asks A to visit a URL; A accepts.
    let answer_and_finish = async |c: &Client, id: u64, args: Value| -> Value {
        let auth = format!("Bearer {}", gw.client_key);
        let sid = c.session.clone().unwrap();
        let headers = [
            ("authorization", auth.as_str()),
            ("mcp-session-id", sid.as_str()),
            ("mcp-protocol-version", "2025-06-18"),
        ];
        let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": args});
        let mut rx = support::mcp::post_streaming(gw.addr, "/mcp", &headers, &call).await;
        loop {
            let m = tokio::time::timeout(WAIT, rx.recv())
                .await
                .unwrap()
                .unwrap();
            if m["method"] == "elicitation/create" {
                let reply =
                    json!({"jsonrpc": "2.0", "id": m["id"], "result": {"action": "accept"}});
                assert_eq!(c.post(&reply).await.status, 202);
            } else if m["id"] == id {
                return m;
            }
        }
    };
    let done = answer_and_finish(&a, 5, url_question("el-A")).await;
    assert!(done["result"].to_string().contains("accept"), "{done}");
    // The same id, now aimed at B: refused to the backend, B is never asked.
    let done = answer_and_finish(&b, 6, url_question("el-A")).await;
    assert!(
        done["result"].to_string().contains("another client"),
        "{done}"
    );

    let complete = |id: &str| {
        json!({"jsonrpc": "2.0", "method": "notifications/elicitation/complete",
               "params": {"elicitationId": id}})
    };
    beta.announce(&complete("el-A")).await;
    beta.announce(&complete("el-A")).await;
    beta.announce(&complete("el-unknown")).await;
    // Then a change every client hears of (the tool list grows): what came before it
    // for each client is all there was.
    a.result("tools/call", json!({"name": "beta__toggle"}))
        .await;
    let first = support::mcp::next_notification(&mut a_stream).await;
    assert_eq!(first, complete("el-A"));
    let next = support::mcp::next_notification(&mut a_stream).await;
    assert_eq!(
        next["method"], "notifications/tools/list_changed",
        "once: {next}"
    );
    let to_b = support::mcp::next_notification(&mut b_stream).await;
    assert_eq!(to_b["method"], "notifications/tools/list_changed", "{to_b}");
}

#[tokio::test]
async fn resource_updates_reach_subscribed_clients_only() {
    let (gw, _alpha, _beta) = TestGateway::with_alpha_and_beta().await;
    let subscriber = gw.client_session().await;
    let bystander = gw.client_session().await;
    let mut sub_stream = support::mcp::notification_stream(gw.addr, &subscriber).await;
    let mut by_stream = support::mcp::notification_stream(gw.addr, &bystander).await;
    subscriber
        .result("resources/subscribe", json!({"uri": "mock://static/hello"}))
        .await;
    bystander
        .result(
            "tools/call",
            json!({"name": "beta__touch", "arguments": {"uri": "mock://static/hello"}}),
        )
        .await;
    let n = support::mcp::next_notification(&mut sub_stream).await;
    assert_eq!(n["method"], "notifications/resources/updated");
    assert_eq!(n["params"]["uri"], "mock://static/hello");
    // The bystander did not subscribe: the next thing it hears is a list change.
    bystander
        .result(
            "tools/call",
            json!({"name": "beta__toggle", "arguments": {}}),
        )
        .await;
    let n = support::mcp::next_notification(&mut by_stream).await;
    assert_eq!(n["method"], "notifications/tools/list_changed", "{n}");
    // After unsubscribing, updates stop: again the next message is a list change.
    subscriber
        .result(
            "resources/unsubscribe",
            json!({"uri": "mock://static/hello"}),
        )
        .await;
    let _ = support::mcp::next_notification(&mut sub_stream).await; // the toggle above
    bystander
        .result(
            "tools/call",
            json!({"name": "beta__touch", "arguments": {"uri": "mock://static/hello"}}),
        )
        .await;
    bystander
        .result(
            "tools/call",
            json!({"name": "beta__toggle", "arguments": {}}),
        )
        .await;
    let n = support::mcp::next_notification(&mut sub_stream).await;
    assert_eq!(n["method"], "notifications/tools/list_changed", "{n}");
}

/// `subscriptions/listen` on the wire: the acknowledgement first, with the honoured
/// subset (a URI nobody owns is left out); only opted-in kinds, each tagged with the
/// listen request's id; a resource update of a subscribed URI; and at shutdown the
/// request's response with `resultType: "complete"`.
#[tokio::test]
async fn subscriptions_listen_acknowledges_tags_filters_and_ends_gracefully() {
    let (mut gw, _alpha, _beta) = TestGateway::with_alpha_and_beta().await;
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let listen = json!({"jsonrpc": "2.0", "id": "listen-7", "method": "subscriptions/listen",
        "params": {"_meta": meta, "notifications": {
            "toolsListChanged": true, "promptsListChanged": false,
            "resourceSubscriptions": ["mock://static/hello", "nobody://owns/this"]}}});
    let auth = format!("Bearer {}", gw.client_key);
    let headers = [
        ("authorization", auth.as_str()),
        ("mcp-method", "subscriptions/listen"),
        ("mcp-protocol-version", "2026-07-28"),
    ];
    let mut rx = support::mcp::post_streaming(gw.addr, "/mcp", &headers, &listen).await;
    let tag = json!({"io.modelcontextprotocol/subscriptionId": "listen-7"});
    let ack = next_message(&mut rx, WAIT).await;
    assert_eq!(
        ack,
        json!({"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged",
               "params": {"_meta": tag, "notifications": {"toolsListChanged": true,
                          "resourceSubscriptions": ["mock://static/hello"]}}})
    );
    // A server added changes tools and prompts (rich has prompts): only tools is sent.
    let gamma = Mock::start(&["--profile", "rich"]);
    gw.register(json!({"name": "gamma", "protocol": "http", "url": gamma.url()}))
        .await;
    let changed = next_message(&mut rx, WAIT).await;
    assert_eq!(
        changed,
        json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed",
               "params": {"_meta": tag}})
    );
    // The backend's update of the subscribed resource, tagged.
    let c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "beta__touch", "arguments": {"uri": "mock://static/hello"},
                                 "_meta": meta}});
    let r = c
        .post_raw(
            call.to_string().as_bytes(),
            &[
                ("mcp-method", "tools/call"),
                ("mcp-name", "beta__touch"),
                ("mcp-protocol-version", "2026-07-28"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mut updated = next_message(&mut rx, WAIT).await;
    while updated["method"] == "notifications/tools/list_changed" {
        updated = next_message(&mut rx, WAIT).await;
    }
    assert_eq!(
        updated,
        json!({"jsonrpc": "2.0", "method": "notifications/resources/updated",
               "params": {"uri": "mock://static/hello", "_meta": tag}})
    );
    // A malformed filter is the client's error.
    let bad = json!({"jsonrpc": "2.0", "id": 9, "method": "subscriptions/listen",
                     "params": {"_meta": meta, "notifications": {"toolsListChanged": "yes"}}});
    let r = c
        .post_raw(
            bad.to_string().as_bytes(),
            &[
                ("mcp-method", "subscriptions/listen"),
                ("mcp-protocol-version", "2026-07-28"),
            ],
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_i64()),
        (400, Some(-32602))
    );
    assert_eq!(r.json()["id"], 9);
    // The gateway shutting down ends the stream with the request's response.
    let _stopping = gw.begin_shutdown();
    let mut end = next_message(&mut rx, WAIT).await;
    while end.get("method").is_some() {
        end = next_message(&mut rx, WAIT).await;
    }
    assert_eq!(end["id"], "listen-7");
    assert_eq!(end["result"]["resultType"], "complete");
    assert_eq!(
        end["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "listen-7"
    );
    assert_eq!(
        end["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "metamcp"
    );
}

/// The levels of the log messages a call of `beta__progress` brings `c`.
async fn levels_seen(c: &Client) -> Vec<String> {
    let r = c
        .post(&json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
            "params": {"name": "beta__progress",
                       "arguments": {"steps": 1, "log": ["debug", "info", "warning", "error"]}}}))
        .await;
    log_levels(&r)
}

async fn set_level(c: &Client, level: &str) -> Value {
    c.call(json!(1), "logging/setLevel", json!({"level": level}))
        .await
}

/// A session's `logging/setLevel` reaches the backends that log (the lowest level any
/// live session wants), and each session's call streams carry only the messages at or
/// above its own level; a session that set none gets them all.
#[tokio::test]
async fn session_log_levels_are_forwarded_and_applied_per_session() {
    let (gw, alpha, beta) = TestGateway::with_alpha_and_beta().await;
    let quiet = gw.client_session().await;
    let chatty = gw.client_session().await;
    let silent = gw.client_session().await;
    assert_eq!(set_level(&quiet, "warning").await["result"], json!({}));
    eventually(WAIT, "the backend asked for warning", || async {
        let s = beta.control("GET", "/control/stats").await;
        (s["log_levels"] == json!(["warning"])).then_some(())
    })
    .await;
    assert_eq!(set_level(&chatty, "debug").await["result"], json!({}));
    eventually(WAIT, "the backend asked for debug", || async {
        let s = beta.control("GET", "/control/stats").await;
        (s["log_levels"] == json!(["warning", "debug"])).then_some(())
    })
    .await;
    assert_eq!(levels_seen(&quiet).await, ["warning", "error"]);
    assert_eq!(
        levels_seen(&chatty).await,
        ["debug", "info", "warning", "error"]
    );
    assert_eq!(
        levels_seen(&silent).await,
        ["debug", "info", "warning", "error"]
    );
    // A level no lower than the floor changes nothing upstream; a bad one is refused.
    assert_eq!(set_level(&quiet, "error").await["result"], json!({}));
    let bad = set_level(&quiet, "loud").await;
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    let s = beta.control("GET", "/control/stats").await;
    assert_eq!(s["log_levels"], json!(["warning", "debug"]), "{s}");
    // The calls above opened a session of these clients' capability set (they declared
    // none): a new floor reaches it as well as the main one.
    assert_eq!(set_level(&chatty, "info").await["result"], json!({}));
    eventually(WAIT, "both of beta's sessions asked for info", || async {
        let s = beta.control("GET", "/control/stats").await;
        (s["log_levels"] == json!(["warning", "debug", "info", "info"])).then_some(())
    })
    .await;
    // alpha declares no logging: it is never asked.
    let a = alpha.control("GET", "/control/stats").await;
    assert_eq!(a["log_levels"], json!([]), "{a}");
}

#[tokio::test]
async fn a_sessions_roots_change_reaches_its_backends_and_only_if_it_has_roots() {
    let (gw, alpha, beta) = TestGateway::with_alpha_and_beta().await;
    let changed = json!({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"});
    // A client that declared no roots has none to change: nothing is sent on.
    let rootless = gw.client_session().await;
    assert_eq!(rootless.post(&changed).await.status, 202);
    let mut rooted = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    rooted
        .initialize_with(
            json!({"roots": {"listChanged": true}, "sampling": {"tools": {}},
                                "elicitation": {"form": {}, "url": {}}}),
        )
        .await;
    assert_eq!(rooted.post(&changed).await.status, 202);
    for mock in [&alpha, &beta] {
        eventually(WAIT, "the backend heard of the change", || async {
            let s = mock.control("GET", "/control/stats").await;
            (s["roots_changed"] == 1).then_some(())
        })
        .await;
    }
    // Once each: the rootless client's notification never went out.
    assert_eq!(
        alpha.control("GET", "/control/stats").await["roots_changed"],
        1
    );
}
