//! mcpc against a live gateway: results, and errors that say who failed (the user's
//! input, the server's HTTP answer with its body, its JSON-RPC error, the connection),
//! with distinct exit statuses. In process (the code the binary runs) and once through
//! the binary.

use crate::support::gateway::TestGateway;
use crate::support::mock::Mock;
use crate::support::{run_bin, stderr, stdout};
use serde_json::{Value, json};

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

type Lines = tokio::io::Lines<tokio::io::BufReader<tokio::io::DuplexStream>>;

/// `mcpc bridge` in process, its stdin and stdout as in-memory pipes.
fn bridge_on(
    args: metamcp::mcpc::bridge::BridgeArgs,
) -> (
    tokio::io::DuplexStream,
    Lines,
    tokio::task::JoinHandle<Result<(), metamcp::mcpc::Failure>>,
) {
    use tokio::io::AsyncBufReadExt;
    let (stdin, bridge_in) = tokio::io::duplex(1 << 16);
    let (bridge_out, stdout) = tokio::io::duplex(1 << 16);
    let task = tokio::spawn(metamcp::mcpc::bridge::run(args, bridge_in, bridge_out));
    (stdin, tokio::io::BufReader::new(stdout).lines(), task)
}

async fn write_line(stdin: &mut tokio::io::DuplexStream, line: &str) {
    use tokio::io::AsyncWriteExt;
    stdin
        .write_all(format!("{line}\n").as_bytes())
        .await
        .unwrap();
}

/// The bridge's next line on stdout, as JSON.
async fn next_message(lines: &mut Lines) -> Value {
    let line = tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line())
        .await
        .expect("a line within 10 s")
        .unwrap()
        .expect("a line");
    serde_json::from_str(&line).unwrap()
}

/// The bridge's relay, in process: JSON lines in, the gateway's messages out as lines
/// (progress as it comes, then the answer), a line that is not JSON answered with a
/// parse error, errors for the client's request when the gateway refuses or is not
/// there, and the session ended when stdin ends.
#[tokio::test]
async fn the_bridge_relays_lines_and_ends_its_session() {
    use metamcp::mcpc::bridge;

    let gw = TestGateway::start().await;
    let mock = Mock::start(&[]);
    gw.register(json!({"name": "m", "protocol": "http", "url": mock.url()}))
        .await;
    let url = format!("http://127.0.0.1:{}/mcp", gw.addr.port());
    let args = |key: &str| {
        bridge::parse(
            &["bridge".into(), "--url".into(), url.clone()],
            Some(key.to_string()),
        )
        .unwrap()
    };
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "bridge-test", "version": "1"}}})
    .to_string();
    let db = gw.db.client().await;
    let ended = || async {
        db.query_one("SELECT count(*) FROM ended_sessions", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    let ended_before = ended().await;

    let (mut stdin, mut lines, task) = bridge_on(args(&gw.client_key));
    write_line(&mut stdin, &init).await;
    let answer = next_message(&mut lines).await;
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["result"]["protocolVersion"], "2025-06-18");
    for line in [
        r#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#,
        "",
        "{not json",
    ] {
        write_line(&mut stdin, line).await;
    }
    let parse_error = next_message(&mut lines).await;
    assert_eq!(parse_error["id"], Value::Null);
    assert_eq!(parse_error["error"]["code"], -32700);
    let call = json!({"jsonrpc": "2.0", "id": "p", "method": "tools/call",
        "params": {"name": "m__progress", "arguments": {"steps": 2},
                   "_meta": {"progressToken": "t"}}});
    write_line(&mut stdin, &call.to_string()).await;
    let mut progress = vec![];
    let done = loop {
        let m = next_message(&mut lines).await;
        if m["method"] == "notifications/progress" {
            progress.push(m["params"]["progress"].clone());
        } else {
            break m;
        }
    };
    assert_eq!(progress, vec![json!(1), json!(2)]);
    assert_eq!(done["id"], "p");
    assert_eq!(done["result"]["content"][0]["text"], "done after 2 steps");
    let unknown = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "m__nope", "arguments": {}}});
    write_line(&mut stdin, &unknown.to_string()).await;
    let refused = next_message(&mut lines).await;
    assert_eq!(refused["id"], 7);
    assert!(refused["error"]["code"].is_i64(), "{refused}");
    // stdin ends: the bridge ends its session (DELETE) and returns.
    drop(stdin);
    tokio::time::timeout(std::time::Duration::from_secs(30), task)
        .await
        .expect("the bridge ends with stdin")
        .unwrap()
        .unwrap();
    assert_eq!(ended().await, ended_before + 1);

    // A key the gateway refuses: the client's request gets an error with its id.
    let (mut stdin, mut lines, task) = bridge_on(args("mcp_0000000000000000_nope"));
    write_line(&mut stdin, &init).await;
    let refused = next_message(&mut lines).await;
    assert_eq!(refused["id"], 1, "{refused}");
    assert!(refused["error"]["message"].is_string(), "{refused}");
    drop(stdin);
    task.await.unwrap().unwrap();

    // A gateway that is not there: an error with the request's id, naming the address.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/mcp", closed.local_addr().unwrap());
    drop(closed);
    let (mut stdin, mut lines, task) =
        bridge_on(bridge::parse(&["--url".into(), dead.clone()], None).unwrap());
    write_line(&mut stdin, &init).await;
    let unreachable = next_message(&mut lines).await;
    assert_eq!(unreachable["id"], 1, "{unreachable}");
    assert_eq!(unreachable["error"]["code"], -32603);
    assert!(
        unreachable["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot reach the gateway") && m.contains(&dead)),
        "{unreachable}"
    );
    drop(stdin);
    task.await.unwrap().unwrap();
}
