//! mcpc against a live gateway: results, and errors that say who failed (the user's
//! input, the server's HTTP answer with its body, its JSON-RPC error, the connection),
//! with distinct exit statuses. In process (the code the binary runs) and once through
//! the binary.

mod support;

use serde_json::{Value, json};
use support::gateway::TestGateway;
use support::mock::Mock;
use support::{run_bin, stderr, stdout};

async fn mcpc(args: &[&str]) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    metamcp::mcpc::main(&args).await
}

async fn binary(args: &[&str]) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_bin(env!("CARGO_BIN_EXE_mcpc"), &[], &args)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn mcpc_tells_who_failed() {
    let gw = TestGateway::start().await;
    let mock = Mock::start(&[]);
    gw.register(json!({"name": "m", "protocol": "http", "url": mock.url()}))
        .await;
    let url = format!("http://127.0.0.1:{}/mcp", gw.addr.port());
    let key = gw.client_key.as_str();

    let (code, out, _) = mcpc(&["--help"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("call NAME [JSON]"), "{out}");
    let (code, _, err) = mcpc(&[]).await;
    assert_eq!(code, 64);
    assert!(err.contains("--url is required"), "{err}");

    let (code, out, err) = mcpc(&["--url", &url, "--key", key, "tools"]).await;
    assert_eq!(code, 0, "{err}");
    let tools: Value = serde_json::from_str(&out).unwrap();
    assert!(
        tools
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "m__echo"),
        "{out}"
    );

    let (code, out, err) = mcpc(&[
        "--url",
        &url,
        "--key",
        key,
        "call",
        "m__echo",
        r#"{"message":"hi"}"#,
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["content"][0]["text"],
        "hi"
    );

    // The user's input.
    let (code, _, err) = mcpc(&["--url", &url, "--key", key, "call", "m__echo", "{oops"]).await;
    assert_eq!(code, 64);
    assert!(err.contains("the arguments are not JSON"), "{err}");
    // The gateway's refusal, with its status and body.
    let (code, _, err) =
        mcpc(&["--url", &url, "--key", "mcp_0000000000000000_nope", "tools"]).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("HTTP 401") && err.contains("\"error\""),
        "{err}"
    );
    assert!(!err.contains("backend"), "{err}");
    let nowhere = format!("http://127.0.0.1:{}/mcp/nosuch", gw.addr.port());
    let (code, _, err) = mcpc(&["--url", &nowhere, "--key", key, "tools"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("HTTP 404") && err.contains("nosuch"), "{err}");
    // A JSON-RPC error, with its code and message.
    let (code, _, err) = mcpc(&["--url", &url, "--key", key, "call", "m__nosuch"]).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("JSON-RPC error -32602") && err.contains("unknown tool"),
        "{err}"
    );
    // The tool's own error.
    let (code, out, err) = mcpc(&["--url", &url, "--key", key, "call", "m__fail"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(out.contains("isError"), "{out}");
    // Nobody there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/mcp", closed.local_addr().unwrap());
    drop(closed);
    let (code, _, err) = mcpc(&["--url", &dead, "tools"]).await;
    assert_eq!(code, 69);
    assert!(err.contains("cannot reach the server"), "{err}");

    // The binary does the same (run off this thread, which serves the gateway).
    let help = binary(&["--help"]).await;
    assert_eq!(help.status.code(), Some(0));
    assert!(stdout(&help).contains("usage: mcpc"));
    let listed = binary(&["--url", &url, "--key", key, "tools"]).await;
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    assert!(stdout(&listed).contains("m__echo"));
    let refused = binary(&["--url", &url, "--key", "mcp_0000000000000000_x", "tools"]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("HTTP 401"),
        "{}",
        stderr(&refused)
    );
}
