//! OpenTelemetry traces against a real OTLP receiver (tests/peers/otlp_receiver.py, which
//! decodes the protobuf with the OpenTelemetry project's own definitions): the server,
//! client and authentication spans of a traced tools/call, the trace context every kind
//! of backend receives (HTTP and SSE headers, stdio `_meta`), unsampled requests, the
//! audit row's trace id, and a collector that is down.

use crate::support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::gateway::{TestGateway, key_store};
use crate::support::http::get;
use crate::support::mcp::{Client, response_message, text_of};
use crate::support::mock::Mock;
use crate::support::{eventually, python};
use metamcp::config::{Root, Sampler, Tracing};
use metamcp::store::keys::{NewKey, Scope};
use serde_json::{Value, json};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN: &str = "00f067aa0ba902b7";

/// The receiver process and the spans it has printed so far (code mode's test uses it too).
pub(crate) struct Receiver {
    pub(crate) port: u16,
    spans: Arc<Mutex<Vec<Value>>>,
    child: Child,
}

impl Receiver {
    pub(crate) fn start(args: &[&str]) -> Receiver {
        let mut child = Command::new(python("otel"))
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/peers/otlp_receiver.py"
            ))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the OTLP receiver");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let port = lines
            .next()
            .expect("a port line")
            .expect("read")
            .trim()
            .parse()
            .expect("a port");
        let spans = Arc::new(Mutex::new(Vec::new()));
        let sink = spans.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        Receiver { port, spans, child }
    }

    pub(crate) fn spans(&self) -> Vec<Value> {
        self.spans.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn tracing_to(port: u16, sampler: Sampler) -> Tracing {
    Tracing {
        authority: format!("127.0.0.1:{port}"),
        path: "/v1/traces".into(),
        headers: vec![("x-test-auth".into(), "secret-header-value".into())],
        service_name: "metamcp-test".into(),
        resource: vec![("deployment.environment".into(), "test".into())],
        sampler,
        queue: 2048,
        batch: 512,
        delay: Duration::from_millis(50),
        timeout: Duration::from_secs(2),
    }
}

async fn traced_call(c: &Client, tool: &str, traceparent: &str) -> Value {
    let msg = json!({"jsonrpc": "2.0", "id": "call-7", "method": "tools/call",
                     "params": {"name": tool, "arguments": {}}});
    let r = c
        .post_raw(msg.to_string().as_bytes(), &[("traceparent", traceparent)])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let m = response_message(&r);
    let text = text_of(&m["result"]);
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{m}"))
}

fn span_named<'a>(spans: &'a [Value], name: &str) -> Option<&'a Value> {
    spans.iter().find(|s| s["name"] == name)
}

#[tokio::test]
async fn a_traced_call_gives_server_client_and_auth_spans_and_every_backend_the_context() {
    let receiver = Receiver::start(&[]);
    let gw = TestGateway::start_with(|c| {
        c.tracing = Some(tracing_to(
            receiver.port,
            Sampler::ParentBased(Root::AlwaysOff),
        ))
    })
    .await;
    let http = Mock::start(&[]);
    let sse = Mock::start(&["--transport", "sse"]);
    gw.register(json!({"name": "web", "protocol": "http", "url": http.url()}))
        .await;
    gw.register(json!({"name": "old", "protocol": "sse",
                       "url": format!("http://127.0.0.1:{}/sse", sse.port)}))
        .await;
    gw.register(json!({"name": "pipe", "protocol": "stdio",
                       "command": env!("CARGO_BIN_EXE_mockmcp"),
                       "args": ["--transport", "stdio"]}))
        .await;
    // A key used for the first time: its check misses the cache (argon2).
    let issued = key_store(&gw.db)
        .create(NewKey {
            name: "traced".into(),
            description: None,
            scope: Scope::Client,
            namespaces: vec![],
            expires_in_days: None,
            limits: Default::default(),
        })
        .await
        .unwrap();
    let mut c = Client::new(gw.addr, "/mcp", Some(&issued.api_key));
    let parent = format!("00-{TRACE_ID}-{PARENT_SPAN}-01");
    let r = c
        .post_raw(
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                   "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                              "clientInfo": {"name": "t", "version": "1"}}})
            .to_string()
            .as_bytes(),
            &[("traceparent", &parent)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    c.session = r.header("mcp-session-id").map(String::from);
    c.post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;

    // Each backend receives the trace, under a span id of the gateway's own.
    let mut seen = Vec::new();
    for (tool, via) in [
        ("web__trace", "header"),
        ("old__trace", "header"),
        ("pipe__trace", "meta"),
    ] {
        let got = traced_call(&c, tool, &parent).await;
        let tp = got[via].as_str().unwrap_or_else(|| panic!("{tool}: {got}"));
        let fields: Vec<&str> = tp.split('-').collect();
        assert_eq!(fields.len(), 4, "{tp}");
        assert_eq!(
            (fields[0], fields[1], fields[3]),
            ("00", TRACE_ID, "01"),
            "{tp}"
        );
        assert_ne!(
            fields[2], PARENT_SPAN,
            "the gateway's span, not the caller's"
        );
        seen.push((tool, fields[2].to_string()));
    }

    // Every span the assertions below read: a call's client span ends before its server
    // span, and the two can reach the receiver in different batches.
    let spans = eventually(Duration::from_secs(10), "the spans", || async {
        let spans = receiver.spans();
        let clients = spans.iter().filter(|s| s["kind"] == 3).count();
        let servers = seen
            .iter()
            .all(|(tool, _)| span_named(&spans, &format!("tools/call {tool}")).is_some());
        (clients >= 3 && servers && span_named(&spans, "authenticate").is_some()).then_some(spans)
    })
    .await;
    for s in &spans {
        assert_eq!(s["trace_id"], TRACE_ID, "{s}");
        assert_eq!(s["path"], "/v1/traces");
        assert_eq!(s["content_type"], "application/x-protobuf");
        assert_eq!(s["auth"], "secret-header-value");
        assert_eq!(s["resource"]["service.name"], "metamcp-test");
        assert_eq!(s["resource"]["deployment.environment"], "test");
        assert!(s["end"].as_u64() >= s["start"].as_u64(), "{s}");
    }
    let init = span_named(&spans, "initialize").expect("the initialize span");
    assert_eq!(init["parent_span_id"], PARENT_SPAN);
    let auth = span_named(&spans, "authenticate").unwrap();
    assert_eq!(auth["parent_span_id"], init["span_id"], "{auth}");
    assert_eq!(auth["attributes"]["metamcp.key.id"], issued.id.as_str());

    for (tool, upstream_span) in &seen {
        let server = span_named(&spans, &format!("tools/call {tool}"))
            .unwrap_or_else(|| panic!("the server span of {tool}: {spans:#?}"));
        assert_eq!(server["kind"], 2);
        assert_eq!(server["parent_span_id"], PARENT_SPAN, "{server}");
        let a = &server["attributes"];
        assert_eq!(a["mcp.method.name"], "tools/call");
        assert_eq!(a["gen_ai.tool.name"], *tool);
        assert_eq!(a["jsonrpc.request.id"], "call-7");
        assert_eq!(a["mcp.session.id"], c.session.as_deref().unwrap());
        assert_eq!(a["mcp.protocol.version"], "2025-06-18");
        assert_eq!(a["network.transport"], "tcp");
        assert_eq!(a["metamcp.key.id"], issued.id.as_str());
        assert_eq!(a["metamcp.server"], tool.split("__").next().unwrap());
        assert!(a.get("error.type").is_none(), "{a}");
        let client = spans
            .iter()
            .find(|s| s["span_id"] == upstream_span.as_str())
            .unwrap_or_else(|| panic!("the client span the backend saw for {tool}"));
        assert_eq!(client["kind"], 3);
        assert_eq!(client["parent_span_id"], server["span_id"]);
        assert_eq!(client["name"], "tools/call trace");
        assert_eq!(client["attributes"]["gen_ai.tool.name"], "trace");
        let transport = if tool.starts_with("pipe") {
            "pipe"
        } else {
            "tcp"
        };
        assert_eq!(client["attributes"]["network.transport"], transport);
    }
    // No argument value, no key, no header value in any span.
    let all = serde_json::to_string(&spans).unwrap();
    assert!(!all.contains(&issued.api_key));

    // The audit row carries the trace id.
    let rows = eventually(Duration::from_secs(5), "the audit rows", || async {
        let page = get(
            gw.addr,
            &format!("/api/v1/audit?key={}", issued.id),
            &gw.admin_key,
        )
        .await
        .json();
        (page["entries"].as_array().map(Vec::len) == Some(3)).then_some(page)
    })
    .await;
    for e in rows["entries"].as_array().unwrap() {
        assert_eq!(e["trace_id"], TRACE_ID, "{e}");
    }

    // Not sampled: the context still travels (flag 00), nothing is exported.
    let before = receiver.spans().len();
    let unsampled = format!("00-{TRACE_ID}-{PARENT_SPAN}-00");
    let got = traced_call(&c, "web__trace", &unsampled).await;
    let tp = got["header"].as_str().unwrap();
    assert!(
        tp.starts_with(&format!("00-{TRACE_ID}-")) && tp.ends_with("-00"),
        "{tp}"
    );
    // Without a traceparent, this sampler (parent-based, root off) records nothing, and a
    // new trace id goes upstream.
    let r = c
        .call(
            json!(9),
            "tools/call",
            json!({"name": "pipe__trace", "arguments": {}}),
        )
        .await;
    let got: Value = serde_json::from_str(&text_of(&r["result"])).unwrap();
    let tp = got["meta"].as_str().unwrap();
    assert!(!tp.contains(TRACE_ID) && tp.ends_with("-00"), "{tp}");
    // A sampled request after them: once its spans are in, the unsampled ones would be.
    traced_call(&c, "web__trace", &parent).await;
    eventually(Duration::from_secs(10), "the last spans", || async {
        (receiver.spans().len() >= before + 2).then_some(())
    })
    .await;
    let late: Vec<Value> = receiver.spans()[before..].to_vec();
    assert!(
        late.iter()
            .all(|s| s["trace_id"] == TRACE_ID && s["attributes"]["jsonrpc.request.id"] != 9),
        "{late:#?}"
    );
    // REST execute is traced like a tools/call on /mcp: a server span named for the
    // exposed tool, in the caller's trace, and the backend's context under its client span.
    const REST_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
    let rest_parent = format!("00-{REST_TRACE}-b7ad6b7169203331-01");
    let auth = format!("Bearer {}", gw.admin_key);
    let r = support::http::request(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/web/tools/trace/execute",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
            ("traceparent", &rest_parent),
        ],
        Some(b"{}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got: Value = serde_json::from_str(&text_of(&r.json())).unwrap();
    let upstream = got["header"].as_str().unwrap().to_string();
    assert!(
        upstream.starts_with(&format!("00-{REST_TRACE}-")),
        "{upstream}"
    );
    let rest = eventually(Duration::from_secs(10), "the REST spans", || async {
        let spans: Vec<Value> = receiver
            .spans()
            .into_iter()
            .filter(|s| s["trace_id"] == REST_TRACE)
            .collect();
        (spans.len() >= 2).then_some(spans)
    })
    .await;
    let server = span_named(&rest, "tools/call web__trace").expect("the REST server span");
    assert_eq!(server["kind"], 2);
    assert_eq!(server["parent_span_id"], "b7ad6b7169203331");
    assert_eq!(server["attributes"]["metamcp.server"], "web");
    let client = rest
        .iter()
        .find(|s| s["kind"] == 3)
        .expect("the client span");
    assert_eq!(client["parent_span_id"], server["span_id"]);
    assert_eq!(upstream.split('-').nth(2), client["span_id"].as_str());

    // A batch (2025-03-26) is one server span, the parent of its calls' client spans.
    const BATCH_TRACE: &str = "5b8aa5a2d2c872e8321cf37308d69df2";
    let mut old = Client::new(gw.addr, "/mcp", Some(&gw.admin_key));
    old.version = "2025-03-26".into();
    old.initialize().await;
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
         "params": {"name": "web__echo", "arguments": {"message": "a"}}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
         "params": {"name": "pipe__echo", "arguments": {"message": "b"}}}
    ]);
    let r = old
        .post_raw(
            batch.to_string().as_bytes(),
            &[("traceparent", &format!("00-{BATCH_TRACE}-{PARENT_SPAN}-01"))],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let spans = eventually(Duration::from_secs(10), "the batch spans", || async {
        let spans: Vec<Value> = receiver
            .spans()
            .into_iter()
            .filter(|s| s["trace_id"] == BATCH_TRACE)
            .collect();
        (spans.len() >= 3).then_some(spans)
    })
    .await;
    let server = span_named(&spans, "batch").expect("the batch's server span");
    assert_eq!(server["kind"], 2);
    assert_eq!(server["parent_span_id"], PARENT_SPAN);
    let clients: Vec<&Value> = spans.iter().filter(|s| s["kind"] == 3).collect();
    assert_eq!(clients.len(), 2, "{spans:#?}");
    for c in clients {
        assert_eq!(c["parent_span_id"], server["span_id"], "{c}");
    }

    let metrics = get(gw.addr, "/metrics", "").await.text();
    assert!(
        metrics.contains("metamcp_trace_spans_dropped_total{reason=\"export_failed\"} 0"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_collector_that_is_down_loses_spans_counts_them_and_delays_no_call() {
    // A port nothing listens on, and a receiver that refuses every export.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let refusing = Receiver::start(&["--status", "503"]);
    for port in [port, refusing.port] {
        let gw = TestGateway::start_with(|c| c.tracing = Some(tracing_to(port, Sampler::AlwaysOn)))
            .await;
        let alpha = Mock::start(&[]);
        gw.register(json!({"name": "alpha", "protocol": "http", "url": alpha.url()}))
            .await;
        let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
        c.initialize().await;
        let started = Instant::now();
        for i in 0..50 {
            let r = c
                .call(
                    json!(i),
                    "tools/call",
                    json!({"name": "alpha__echo", "arguments": {"message": "hi"}}),
                )
                .await;
            assert!(r["result"].is_object(), "{r}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        eventually(Duration::from_secs(10), "dropped spans counted", || async {
            let m = get(gw.addr, "/metrics", "").await.text();
            let line = m
                .lines()
                .find(|l| {
                    l.starts_with("metamcp_trace_spans_dropped_total{reason=\"export_failed\"}")
                })?
                .to_string();
            let n: u64 = line.rsplit(' ').next()?.parse().ok()?;
            (n >= 100).then_some(())
        })
        .await;
        let t = gw.state.observe.tracer.as_ref().unwrap();
        assert_eq!(t.exported(), 0);
        assert_eq!(t.dropped().0, 0, "the queue never filled");
    }
}

#[tokio::test]
async fn a_call_through_call_tool_is_traced_under_the_tools_own_name() {
    const CALL_TRACE: &str = "6e0c63257de34c926f9efcd03919fb2d";
    let receiver = Receiver::start(&[]);
    let gw = TestGateway::start_with(|c| {
        c.tool_search = metamcp::model::ToolSearch::On;
        c.tracing = Some(tracing_to(
            receiver.port,
            Sampler::ParentBased(Root::AlwaysOff),
        ));
    })
    .await;
    let web = Mock::start(&[]);
    gw.register(json!({"name": "web", "protocol": "http", "url": web.url()}))
        .await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.initialize().await;
    eventually(Duration::from_secs(10), "search mode", || async {
        (c.tool_names().await == ["search_tools", "call_tool"]).then_some(())
    })
    .await;
    let msg = json!({"jsonrpc": "2.0", "id": "via-call-tool", "method": "tools/call",
                     "params": {"name": "call_tool",
                                "arguments": {"name": "web__trace", "arguments": {}}}});
    let r = c
        .post_raw(
            msg.to_string().as_bytes(),
            &[("traceparent", &format!("00-{CALL_TRACE}-{PARENT_SPAN}-01"))],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let m = response_message(&r);
    let got: Value = serde_json::from_str(&text_of(&m["result"])).unwrap_or_else(|_| panic!("{m}"));
    let upstream = got["header"].as_str().unwrap_or_else(|| panic!("{got}"));
    let spans = eventually(Duration::from_secs(10), "the call's spans", || async {
        let spans: Vec<Value> = receiver
            .spans()
            .into_iter()
            .filter(|s| s["trace_id"] == CALL_TRACE)
            .collect();
        let server = spans.iter().any(|s| s["kind"] == 2);
        let client = spans.iter().any(|s| s["kind"] == 3);
        (server && client).then_some(spans)
    })
    .await;
    let server = spans
        .iter()
        .find(|s| s["kind"] == 2)
        .expect("the server span");
    assert_eq!(server["name"], "tools/call web__trace", "{spans:#?}");
    assert_eq!(server["parent_span_id"], PARENT_SPAN);
    let a = &server["attributes"];
    assert_eq!(a["mcp.method.name"], "tools/call");
    assert_eq!(a["gen_ai.tool.name"], "web__trace", "{a}");
    assert_eq!(a["metamcp.server"], "web", "{a}");
    assert_eq!(a["jsonrpc.request.id"], "via-call-tool");
    let client = spans
        .iter()
        .find(|s| s["kind"] == 3)
        .expect("the client span");
    assert_eq!(client["name"], "tools/call trace");
    assert_eq!(client["parent_span_id"], server["span_id"]);
    assert_eq!(upstream.split('-').nth(2), client["span_id"].as_str());
}
