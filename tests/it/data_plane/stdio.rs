//! stdio backends: a real child process (mockmcp over stdio) behind the gateway, shared
//! by every client, multiplexed by id, supervised, and stopped without leaks.

use crate::support;
use crate::support::WAIT;

use std::time::{Duration, Instant};

use crate::support::gateway::TestGateway;
use crate::support::http::send_json;
use crate::support::mcp::{Client, post_streaming};
use serde_json::{Value, json};

async fn stdio_gateway() -> TestGateway {
    let gw = TestGateway::start().await;
    gw.register(json!({"name": "s", "protocol": "stdio",
                       "command": env!("CARGO_BIN_EXE_mockmcp"),
                       "args": ["--transport", "stdio"]}))
        .await;
    gw
}

fn pid_of(gw: &TestGateway) -> i32 {
    let b = gw
        .state
        .data
        .backends
        .all()
        .into_iter()
        .find(|b| b.name == "s")
        .expect("the stdio backend");
    b.pid().expect("a running child")
}

fn alive(pid: i32) -> bool {
    // A zombie has been reaped once its /proc entry is gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.split_whitespace().nth(2).is_none_or(|st| st != "Z"))
}

#[tokio::test]
async fn a_stdio_server_is_shared_multiplexed_and_restarted() {
    let gw = stdio_gateway().await;
    let a = gw.client_session().await;
    let b = gw.client_session().await;
    let names = a.tool_names().await;
    assert!(names.contains(&"s__echo".to_string()), "{names:?}");

    // Many clients, the same ids, one pipe: every answer reaches its caller.
    let mut calls = Vec::new();
    for i in 0..60 {
        let c = if i % 2 == 0 { &a } else { &b };
        let (addr, path, key, sid) = (c.addr, c.path.clone(), c.key.clone(), c.session.clone());
        calls.push(tokio::spawn(async move {
            let mut c = Client::new(addr, &path, key.as_deref());
            c.session = sid;
            let m = c
                .call(
                    json!(1),
                    "tools/call",
                    json!({"name": "s__echo", "arguments": {"message": format!("m{i}")}}),
                )
                .await;
            (i, m)
        }));
    }
    for call in calls {
        let (i, m) = call.await.unwrap();
        assert_eq!(m["id"], 1);
        assert_eq!(m["result"]["content"][0]["text"], format!("m{i}"), "{m}");
    }

    // Progress reaches the caller with its own token, before the result.
    let auth = format!("Bearer {}", gw.client_key);
    let sid = a.session.clone().unwrap();
    let headers = [
        ("authorization", auth.as_str()),
        ("mcp-session-id", sid.as_str()),
        ("mcp-protocol-version", "2025-06-18"),
    ];
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                      "params": {"name": "s__progress", "arguments": {"steps": 3},
                                 "_meta": {"progressToken": "mine"}}});
    let mut rx = post_streaming(gw.addr, "/mcp", &headers, &call).await;
    let mut seen = Vec::new();
    while let Some(m) = tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("messages")
    {
        seen.push(m);
    }
    let progress: Vec<&Value> = seen
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress.len(), 3, "{seen:?}");
    assert!(
        progress
            .iter()
            .all(|m| m["params"]["progressToken"] == "mine")
    );
    assert_eq!(seen.last().unwrap()["id"], 7);

    // The child killed mid-call: that call fails at once with the caller's id; a new
    // child takes over and later calls succeed.
    let first = pid_of(&gw);
    let slow = {
        let (addr, key, sid) = (a.addr, a.key.clone(), a.session.clone());
        tokio::spawn(async move {
            let mut c = Client::new(addr, "/mcp", key.as_deref());
            c.session = sid;
            let t0 = Instant::now();
            let m = c
                .call(
                    json!("slow"),
                    "tools/call",
                    json!({"name": "s__sleep", "arguments": {"ms": 30000}}),
                )
                .await;
            (m, t0.elapsed())
        })
    };
    support::eventually(WAIT, "the slow call in flight", || async {
        (!gw.state.data.inflight.is_empty()).then_some(())
    })
    .await;
    // SAFETY: signalling our own test's child process.
    unsafe {
        libc::kill(first, libc::SIGKILL);
    }
    let (m, took) = slow.await.unwrap();
    assert_eq!(m["id"], "slow");
    assert!(
        m["error"]["message"].as_str().unwrap().contains("exited"),
        "{m}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    let second = support::eventually(WAIT, "a new child", || async {
        gw.state
            .data
            .backends
            .all()
            .into_iter()
            .find(|b| b.name == "s")
            .and_then(|b| b.pid())
            .filter(|p| *p != first)
    })
    .await;
    gw.wait_status("s", "running").await;
    let v = support::http::get(gw.addr, "/api/v1/mcp/servers/s", &gw.admin_key)
        .await
        .json();
    assert!(v["restarts"].as_u64() >= Some(1), "{v}");
    assert_eq!(v["last_exit"], "signal 9", "{v}");
    assert!(v["tools"].as_u64() >= Some(6), "{v}");
    assert!(v["last_connected_at"].is_string(), "{v}");
    let m = a
        .call(
            json!(2),
            "tools/call",
            json!({"name": "s__echo", "arguments": {"message": "back"}}),
        )
        .await;
    assert_eq!(m["result"]["content"][0]["text"], "back", "{m}");
    assert!(!alive(first), "the killed child was reaped");

    // Deleting the server stops its child, reaped.
    let r = support::http::request(
        gw.addr,
        "DELETE",
        "/api/v1/mcp/servers/s",
        &[("authorization", &format!("Bearer {}", gw.admin_key))],
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    support::eventually(WAIT, "the child to be gone", || async {
        (!alive(second)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_stdio_server_that_cannot_start_says_so() {
    use tokio::io::AsyncReadExt;
    let gw = TestGateway::start().await;
    let mut events = support::http::live_events(gw.addr, &gw.admin_key).await;
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers",
        &gw.admin_key,
        &json!({"name": "nope", "protocol": "stdio", "command": "/nonexistent/metamcp-test"}),
    )
    .await;
    assert_eq!(r.status, 201);
    gw.wait_status("nope", "failed").await;
    let b = gw
        .state
        .data
        .backends
        .all()
        .into_iter()
        .find(|b| b.name == "nope")
        .unwrap();
    assert!(
        b.last_error().unwrap().contains("cannot start"),
        "{:?}",
        b.last_error()
    );
    // The REST object says why; a call to one of its tools says it is unavailable.
    let r = support::http::get(gw.addr, "/api/v1/mcp/servers/nope", &gw.admin_key).await;
    let v = r.json();
    assert_eq!(v["status"], "failed");
    assert!(
        v["last_error"].as_str().unwrap().contains("cannot start"),
        "{v}"
    );
    assert_eq!(v["last_connected_at"], Value::Null);
    assert_eq!(v["tools"], 0);
    let c = gw.client_session().await;
    let m = c
        .call(
            json!(4),
            "tools/call",
            json!({"name": "nope__echo", "arguments": {}}),
        )
        .await;
    assert_eq!(m["id"], 4);
    let message = m["error"]["message"].as_str().unwrap();
    assert!(message.contains("server `nope` is unavailable: "), "{m}");
    assert!(message.contains("cannot start"), "{m}");
    // The change of status was an event, with its reason.
    let mut seen = Vec::new();
    let found = tokio::time::timeout(WAIT, async {
        let mut buf = [0u8; 4096];
        loop {
            let n = events.read(&mut buf).await.unwrap();
            assert!(n > 0, "events stream ended");
            seen.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&seen);
            if text.lines().any(|l| {
                l.contains("\"server.status\"")
                    && l.contains("\"failed\"")
                    && l.contains("cannot start")
            }) {
                return;
            }
        }
    })
    .await;
    assert!(found.is_ok(), "{}", String::from_utf8_lossy(&seen));
}

/// A child that refuses `initialize` is started again and asked `server/discover` first
/// (a server of 2026-07-28 alone); one that refuses that too is failed with the
/// backend's own refusal, and its tools' calls say so.
#[tokio::test]
async fn a_stdio_server_of_neither_era_is_probed_once_each_way_and_says_why() {
    let gw = TestGateway::start().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("first-requests");
    let script = r#"
import json, sys
first = None
for line in sys.stdin:
    m = json.loads(line)
    if "id" in m and "method" in m:
        if first is None:
            first = m["method"]
            with open(sys.argv[1], "a") as f:
                f.write(first + "\n")
        print(json.dumps({"jsonrpc": "2.0", "id": m["id"],
                          "error": {"code": -32601, "message": "no era of ours"}}), flush=True)
"#;
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers",
        &gw.admin_key,
        &json!({"name": "neither", "protocol": "stdio", "command": "python3",
                "args": ["-c", script, log]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    gw.wait_status("neither", "failed").await;
    let v = support::http::get(gw.addr, "/api/v1/mcp/servers/neither", &gw.admin_key)
        .await
        .json();
    assert!(
        v["last_error"]
            .as_str()
            .unwrap()
            .contains("-32601: no era of ours"),
        "{v}"
    );
    let firsts = std::fs::read_to_string(&log).unwrap();
    let firsts: Vec<&str> = firsts.lines().take(2).collect();
    assert_eq!(firsts, ["initialize", "server/discover"]);
}

/// Processes (not zombies) whose environment carries `LEAKTEST=<token>`.
fn tagged(token: &str) -> Vec<i32> {
    let needle = format!("LEAKTEST={token}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| alive(*pid))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
        })
        .collect()
}

/// A stdio server whose child starts a grandchild, tagged with `token`.
fn forking_server(name: &str, token: &str) -> Value {
    json!({"name": name, "protocol": "stdio", "command": env!("CARGO_BIN_EXE_mockmcp"),
           "args": ["--transport", "stdio", "--fork"], "env": {"LEAKTEST": token}})
}

async fn count_becomes(token: &str, n: usize, what: &str) {
    support::eventually(WAIT, what, || async {
        (tagged(token).len() == n).then_some(())
    })
    .await;
}

#[tokio::test]
async fn no_process_is_left_behind_by_deactivation_deletion_or_churn() {
    let gw = TestGateway::start().await;
    let token = metamcp::crypto::random_alphanumeric(16);
    gw.register(forking_server("f", &token)).await;
    count_becomes(&token, 2, "the child and its grandchild").await;
    let admin = gw.admin_key.clone();
    let put = |active: bool| {
        let admin = admin.clone();
        async move {
            send_json(
                gw.addr,
                "PUT",
                "/api/v1/mcp/servers/f",
                &admin,
                &json!({"is_active": active}),
            )
            .await
        }
    };
    assert_eq!(put(false).await.status, 200);
    count_becomes(&token, 0, "nothing left after deactivation").await;
    assert_eq!(put(true).await.status, 200);
    gw.wait_status("f", "running").await;
    count_becomes(&token, 2, "started again").await;
    let del = |name: String| {
        let admin = admin.clone();
        async move {
            support::http::request(
                gw.addr,
                "DELETE",
                &format!("/api/v1/mcp/servers/{name}"),
                &[("authorization", &format!("Bearer {admin}"))],
                None,
            )
            .await
            .status
        }
    };
    assert_eq!(del("f".into()).await, 204);
    count_becomes(&token, 0, "nothing left after deletion").await;

    // Create, call, delete, again and again: nothing accumulates.
    let c = gw.client_session().await;
    for i in 0..100 {
        let name = format!("c{i}");
        gw.register(forking_server(&name, &token)).await;
        let tool = format!("{name}__echo");
        let m = support::eventually(WAIT, "the tool routed", || {
            let tool = tool.clone();
            let c = &c;
            async move {
                let m = c
                    .call(
                        json!(i),
                        "tools/call",
                        json!({"name": tool, "arguments": {"message": "x"}}),
                    )
                    .await;
                m.get("result").is_some().then_some(m)
            }
        })
        .await;
        assert_eq!(m["result"]["content"][0]["text"], "x");
        assert_eq!(del(name).await, 204);
    }
    count_becomes(&token, 0, "nothing left after 100 cycles").await;
}

#[tokio::test]
async fn a_gateway_stopped_or_killed_leaves_no_process_behind() {
    let db = support::TestDb::new().await;
    // The first gateway migrates the database; the key is made after it starts.
    let (mut child, _stderr, addr) = support::start_gateway_binary(&db);
    let store = support::gateway::key_store(&db);
    let admin =
        support::gateway::create_key(&store, "admin", metamcp::store::keys::Scope::Admin, &[])
            .await;
    let token = metamcp::crypto::random_alphanumeric(16);
    let wait_running = |addr| {
        let admin = admin.clone();
        async move {
            support::eventually(WAIT, "the server running", || async {
                let r = support::http::get(addr, "/api/v1/mcp/servers/f", &admin).await;
                (r.json()["status"] == "running").then_some(())
            })
            .await;
        }
    };

    // SIGTERM: the gateway stops its children (and their children) before it exits.
    let r = send_json(
        addr,
        "POST",
        "/api/v1/mcp/servers",
        &admin,
        &forking_server("f", &token),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    wait_running(addr).await;
    count_becomes(&token, 2, "the child and its grandchild").await;
    // SAFETY: signalling the gateway process this test started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let _ = child.wait();
    count_becomes(&token, 0, "nothing left after SIGTERM").await;

    // SIGKILL: the child dies with the gateway; its grandchild is killed by the next
    // gateway to start on the same data dir.
    let (mut child, _stderr, addr) = support::start_gateway_binary(&db);
    wait_running(addr).await;
    count_becomes(&token, 2, "started by the second gateway").await;
    let before = tagged(&token);
    let _ = child.kill();
    let _ = child.wait();
    let (mut third, _stderr, addr) = support::start_gateway_binary(&db);
    wait_running(addr).await;
    support::eventually(WAIT, "the old processes gone", || async {
        before.iter().all(|p| !alive(*p)).then_some(())
    })
    .await;
    count_becomes(&token, 2, "only the third gateway's").await;
    let _ = third.kill();
    let _ = third.wait();
    // Leave nothing behind ourselves: a last gateway reaps the third's leftovers.
    let (mut last, _stderr, _) = support::start_gateway_binary(&db);
    unsafe {
        libc::kill(last.id() as i32, libc::SIGTERM);
    }
    let _ = last.wait();
    count_becomes(&token, 0, "nothing left at the end").await;
}

/// A legacy HTTP+SSE server (mockmcp `--transport sse`) behind the gateway: the same
/// multiplexing, progress with the client's token, and a reconnect when it comes back.
#[tokio::test]
async fn a_legacy_sse_server_behind_the_gateway() {
    let gw = TestGateway::start().await;
    let mut mock = support::mock::Mock::start(&["--transport", "sse"]);
    let url = format!("http://127.0.0.1:{}/sse", mock.port);
    gw.register(json!({"name": "old", "protocol": "sse", "url": url}))
        .await;
    let a = gw.client_session().await;
    let names = a.tool_names().await;
    assert!(names.contains(&"old__echo".to_string()), "{names:?}");
    let mut calls = Vec::new();
    for i in 0..40 {
        let (addr, key, sid) = (a.addr, a.key.clone(), a.session.clone());
        calls.push(tokio::spawn(async move {
            let mut c = Client::new(addr, "/mcp", key.as_deref());
            c.session = sid;
            let m = c
                .call(
                    json!(1),
                    "tools/call",
                    json!({"name": "old__echo", "arguments": {"message": format!("e{i}")}}),
                )
                .await;
            (i, m)
        }));
    }
    for call in calls {
        let (i, m) = call.await.unwrap();
        assert_eq!(m["result"]["content"][0]["text"], format!("e{i}"), "{m}");
    }
    let auth = format!("Bearer {}", gw.client_key);
    let sid = a.session.clone().unwrap();
    let headers = [
        ("authorization", auth.as_str()),
        ("mcp-session-id", sid.as_str()),
        ("mcp-protocol-version", "2025-06-18"),
    ];
    let call = json!({"jsonrpc": "2.0", "id": "p", "method": "tools/call",
                      "params": {"name": "old__progress", "arguments": {"steps": 2},
                                 "_meta": {"progressToken": 99}}});
    let mut rx = post_streaming(gw.addr, "/mcp", &headers, &call).await;
    let mut seen = Vec::new();
    while let Some(m) = tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("messages")
    {
        seen.push(m);
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[0]["params"]["progressToken"], 99);
    assert_eq!(seen[2]["id"], "p");

    // The server goes away: it is reported failed; back on the same port, it is used again.
    mock.kill();
    gw.wait_status("old", "failed").await;
    mock.restart();
    gw.wait_status("old", "running").await;
    let m = a
        .call(
            json!(3),
            "tools/call",
            json!({"name": "old__echo", "arguments": {"message": "again"}}),
        )
        .await;
    assert_eq!(m["result"]["content"][0]["text"], "again", "{m}");
}

#[tokio::test]
async fn calls_beyond_max_concurrency_wait_in_a_bounded_queue() {
    let gw = TestGateway::start().await;
    let dir = std::env::temp_dir();
    gw.register(json!({"name": "q", "protocol": "stdio",
                       "command": env!("CARGO_BIN_EXE_mockmcp"),
                       "args": ["--transport", "stdio"],
                       "cwd": dir, "max_concurrency": 2}))
        .await;
    let r = support::http::get(gw.addr, "/api/v1/mcp/servers/q", &gw.admin_key).await;
    assert_eq!(r.json()["max_concurrency"], 2);
    assert_eq!(r.json()["cwd"], json!(dir));
    let a = gw.client_session().await;
    // 2 in flight + 2 × 4 waiting are accepted; the next is refused at once.
    let mut slow = Vec::new();
    for i in 0..10 {
        let (addr, key, sid) = (a.addr, a.key.clone(), a.session.clone());
        slow.push(tokio::spawn(async move {
            let mut c = Client::new(addr, "/mcp", key.as_deref());
            c.session = sid;
            c.call(
                json!(i),
                "tools/call",
                json!({"name": "q__sleep", "arguments": {"ms": 400}}),
            )
            .await
        }));
    }
    support::eventually(WAIT, "ten calls in flight or waiting", || async {
        (gw.state.data.inflight.len() == 10).then_some(())
    })
    .await;
    let t0 = Instant::now();
    let m = a
        .call(
            json!("over"),
            "tools/call",
            json!({"name": "q__sleep", "arguments": {"ms": 1}}),
        )
        .await;
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert_eq!(m["id"], "over");
    assert!(
        m["error"]["message"].as_str().unwrap().contains("waiting"),
        "{m}"
    );
    for s in slow {
        let m = s.await.unwrap();
        assert!(m.get("result").is_some(), "{m}");
    }
    // A relative directory is refused.
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/q",
        &gw.admin_key,
        &json!({"cwd": "relative/dir"}),
    )
    .await;
    assert_eq!((r.status, r.json()["field"].as_str()), (400, Some("cwd")));
}

#[tokio::test]
async fn an_idle_child_is_stopped_and_started_again_by_the_next_call() {
    let gw = TestGateway::start().await;
    gw.register(json!({"name": "lazy", "protocol": "stdio",
                       "command": env!("CARGO_BIN_EXE_mockmcp"),
                       "args": ["--transport", "stdio"], "idle_stop_ms": 300}))
        .await;
    let backend = || {
        gw.state
            .data
            .backends
            .all()
            .into_iter()
            .find(|b| b.name == "lazy")
            .unwrap()
    };
    // Running at first, unless its 300 ms of quiet had already passed by the time the
    // registration was seen (a loaded machine): either way it is stopped next.
    let first = backend().pid();
    // Nobody calls: the child is stopped and reaped, the server stays listed.
    support::eventually(WAIT, "the idle child stopped", || async {
        (backend().pid().is_none() && first.is_none_or(|p| !alive(p))).then_some(())
    })
    .await;
    let c = gw.client_session().await;
    assert!(c.tool_names().await.contains(&"lazy__echo".to_string()));
    let v = support::http::get(gw.addr, "/api/v1/mcp/servers/lazy", &gw.admin_key)
        .await
        .json();
    assert_eq!(v["status"], "running");
    assert_eq!(v["idle_stop_ms"], 300);
    // The next call starts it again.
    let m = c
        .call(
            json!(1),
            "tools/call",
            json!({"name": "lazy__echo", "arguments": {"message": "up"}}),
        )
        .await;
    assert_eq!(m["result"]["content"][0]["text"], "up", "{m}");
    let second = backend().pid().expect("started for the call");
    assert_ne!(first, Some(second));
    // Only stdio servers take it.
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers",
        &gw.admin_key,
        &json!({"name": "h", "protocol": "http", "url": "http://127.0.0.1:9/mcp", "idle_stop_ms": 500}),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["field"].as_str()),
        (400, Some("idle_stop_ms"))
    );
}

/// `whoami` through the gateway: (the child's pid, calls it has answered).
async fn whoami(c: &Client, tool: &str) -> Result<(i32, u64), String> {
    let m = c
        .call(
            json!(7),
            "tools/call",
            json!({"name": tool, "arguments": {}}),
        )
        .await;
    let text = m["result"]["content"][0]["text"]
        .as_str()
        .ok_or_else(|| m["error"]["message"].as_str().unwrap_or("?").to_string())?;
    let mut words = text.split_whitespace();
    let pid = words.nth(1).and_then(|p| p.parse().ok()).unwrap();
    let calls = words.nth(1).and_then(|p| p.parse().ok()).unwrap();
    Ok((pid, calls))
}

#[tokio::test]
async fn isolated_servers_run_a_child_per_session_capped_and_reaped() {
    let gw = TestGateway::start().await;
    let token = metamcp::crypto::random_alphanumeric(16);
    gw.register(json!({"name": "iso", "protocol": "stdio",
                       "command": env!("CARGO_BIN_EXE_mockmcp"),
                       "args": ["--transport", "stdio"], "env": {"LEAKTEST": token},
                       "session_mode": "isolated", "max_instances": 3}))
        .await;
    let v = support::http::get(gw.addr, "/api/v1/mcp/servers/iso", &gw.admin_key)
        .await
        .json();
    assert_eq!(
        (&v["session_mode"], &v["max_instances"], &v["instances"]),
        (&json!("isolated"), &json!(3), &json!(0)),
        "{v}"
    );
    // The lists were read by a child started for it, which is gone once they are.
    count_becomes(&token, 0, "no child before any client calls").await;

    // Three sessions (two keys: one key may hold all but one), three children: each
    // sees only its own calls.
    let mut third = Client::new(gw.addr, "/mcp", Some(&gw.admin_key));
    third.initialize().await;
    let clients = [gw.client_session().await, gw.client_session().await, third];
    assert!(
        clients[0]
            .tool_names()
            .await
            .contains(&"iso__whoami".to_string())
    );
    let mut pids = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        for _ in 0..=i {
            whoami(c, "iso__whoami").await.unwrap();
        }
    }
    for (i, c) in clients.iter().enumerate() {
        let (pid, calls) = whoami(c, "iso__whoami").await.unwrap();
        assert_eq!(calls, i as u64 + 2, "session {i} sees only its own calls");
        pids.push(pid);
    }
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), 3, "a child per session");
    assert_eq!(tagged(&token).len(), 3);
    // Racing first calls of one session start one child.
    let fourth_key = gw.client_key.clone();
    let mut racing = Client::new(gw.addr, "/mcp", Some(&fourth_key));
    racing.initialize().await;
    // The cap: a fourth session is refused at once, with its id and a clear reason.
    let e = whoami(&racing, "iso__whoami").await.unwrap_err();
    assert!(e.contains("max_instances"), "{e}");
    assert_eq!(tagged(&token).len(), 3);

    // DELETE ends the first session: its child goes, and the fourth may start one.
    let sid = clients[0].session.clone().unwrap();
    let auth = format!("Bearer {}", gw.client_key);
    let r = support::http::request(
        gw.addr,
        "DELETE",
        "/mcp",
        &[("authorization", &auth), ("mcp-session-id", &sid)],
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    count_becomes(&token, 2, "the ended session's child stopped").await;
    // A child in the middle of exiting has no environment left to read (not tagged) and
    // is not yet a zombie (alive): it is gone once it has exited.
    support::eventually(WAIT, "no untagged child of the sessions alive", || async {
        (!pids
            .iter()
            .any(|p| alive(*p) && !tagged(&token).contains(p)))
        .then_some(())
    })
    .await;
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let (addr, key, sid) = (racing.addr, racing.key.clone(), racing.session.clone());
            tokio::spawn(async move {
                let mut c = Client::new(addr, "/mcp", key.as_deref());
                c.session = sid;
                whoami(&c, "iso__whoami").await
            })
        })
        .collect();
    let mut seen = Vec::new();
    for c in calls {
        seen.push(c.await.unwrap().unwrap().0);
    }
    seen.dedup();
    assert_eq!(seen.len(), 1, "one child for the session: {seen:?}");
    assert_eq!(tagged(&token).len(), 3);

    // Deleting the server stops every child.
    let r = send_json(
        gw.addr,
        "DELETE",
        "/api/v1/mcp/servers/iso",
        &gw.admin_key,
        &json!({}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text());
    count_becomes(&token, 0, "every isolated child stopped").await;
}

#[tokio::test]
async fn isolated_children_of_idle_clients_are_reaped_and_keys_get_their_own() {
    let gw = TestGateway::start().await;
    let token = metamcp::crypto::random_alphanumeric(16);
    gw.register(json!({"name": "iso", "protocol": "stdio",
                       "command": env!("CARGO_BIN_EXE_mockmcp"),
                       "args": ["--transport", "stdio"], "env": {"LEAKTEST": token},
                       "session_mode": "isolated", "idle_stop_ms": 400}))
        .await;
    // The stateless era: a child per API key.
    let c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "iso__whoami", "arguments": {}, "_meta": meta}});
    let stateless = || async {
        let r = c
            .post_raw(
                call.to_string().as_bytes(),
                &[
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "iso__whoami"),
                    ("mcp-protocol-version", "2026-07-28"),
                ],
            )
            .await;
        let m = support::mcp::response_message(&r);
        let text = m["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        text.split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<i32>().ok())
            .expect(&text)
    };
    let first = stateless().await;
    assert_eq!(stateless().await, first, "the key keeps its child");
    let s = gw.client_session().await;
    let (other, _) = whoami(&s, "iso__whoami").await.unwrap();
    assert_ne!(other, first, "a session has a child of its own");
    assert_eq!(tagged(&token).len(), 2);
    // Nobody calls: both are reaped; the next call starts a fresh one.
    count_becomes(&token, 0, "idle isolated children stopped").await;
    let (again, calls) = whoami(&s, "iso__whoami").await.unwrap();
    assert_ne!(again, other);
    assert_eq!(calls, 1, "a fresh child");

    // Only stdio servers can be isolated; the memory limit is for stdio too.
    for (body, field) in [
        (
            json!({"name": "h", "protocol": "http", "url": "http://127.0.0.1:9/mcp", "session_mode": "isolated"}),
            "session_mode",
        ),
        (
            json!({"name": "h", "protocol": "http", "url": "http://127.0.0.1:9/mcp", "max_memory_mb": 64}),
            "max_memory_mb",
        ),
        (
            json!({"name": "h", "protocol": "stdio", "command": "x", "session_mode": "solo"}),
            "session_mode",
        ),
        (
            json!({"name": "h", "protocol": "stdio", "command": "x", "max_instances": 0}),
            "max_instances",
        ),
        (
            json!({"name": "h", "protocol": "stdio", "command": "x", "max_memory_mb": 1}),
            "max_memory_mb",
        ),
    ] {
        let r = send_json(gw.addr, "POST", "/api/v1/mcp/servers", &gw.admin_key, &body).await;
        assert_eq!(
            (r.status, r.json()["field"].as_str()),
            (400, Some(field)),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_childs_memory_limit_holds() {
    let gw = TestGateway::start().await;
    gw.register(json!({"name": "small", "protocol": "stdio",
                       "command": env!("CARGO_BIN_EXE_mockmcp"),
                       "args": ["--transport", "stdio"], "max_memory_mb": 512}))
        .await;
    let c = gw.client_session().await;
    let alloc = |mb: u64| {
        let c = &c;
        async move {
            let m = c
                .call(
                    json!(1),
                    "tools/call",
                    json!({"name": "small__alloc", "arguments": {"mb": mb}}),
                )
                .await;
            (
                m["result"]["isError"] == true,
                support::mcp::text_of(&m["result"]),
            )
        }
    };
    let (failed, text) = alloc(16).await;
    assert!(!failed, "{text}");
    let (failed, text) = alloc(1024).await;
    assert!(failed && text.contains("cannot allocate"), "{text}");
    let v = support::http::get(gw.addr, "/api/v1/mcp/servers/small", &gw.admin_key)
        .await
        .json();
    assert_eq!(v["max_memory_mb"], 512);
    // Without the limit the same allocation succeeds (it is the limit that refused it).
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/small",
        &gw.admin_key,
        &json!({"max_memory_mb": null}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    support::eventually(WAIT, "the unlimited child allocates", || async {
        let (failed, _) = alloc(1024).await;
        (!failed).then_some(())
    })
    .await;
}

#[tokio::test]
async fn one_key_cannot_take_every_isolated_instance() {
    let gw = TestGateway::start().await;
    let token = metamcp::crypto::random_alphanumeric(16);
    gw.register(json!({"name": "iso", "protocol": "stdio",
                       "command": env!("CARGO_BIN_EXE_mockmcp"),
                       "args": ["--transport", "stdio"], "env": {"LEAKTEST": token},
                       "session_mode": "isolated", "max_instances": 2}))
        .await;
    let first = gw.client_session().await;
    whoami(&first, "iso__whoami").await.unwrap();
    // The same key's next session is refused while the total still has room…
    let second = gw.client_session().await;
    let e = whoami(&second, "iso__whoami").await.unwrap_err();
    assert!(e.contains("this API key's sessions already hold 1"), "{e}");
    // …which another key gets.
    let mut other = Client::new(gw.addr, "/mcp", Some(&gw.admin_key));
    other.initialize().await;
    whoami(&other, "iso__whoami").await.unwrap();
    assert_eq!(tagged(&token).len(), 2);
    assert_eq!(metamcp::backend::isolated::per_key_share(8), 7);
    assert_eq!(metamcp::backend::isolated::per_key_share(1), 1);
}
