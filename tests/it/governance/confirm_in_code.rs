//! A policy's `confirm` on a script's inner call (code mode, issue 77 §4): the README's
//! example policy over the published `mcp-server-git`, in a code-mode namespace, with a
//! script that reads the staged diff, resets it (`git_reset`, `destructiveHint: true`)
//! and reads it again. Every official client runs it: a session client (Python SDK 2.x
//! legacy and 1.x, TypeScript legacy) is asked on the run's own stream while the script
//! waits; a 2026-07-28 client (Python SDK 2.x and TypeScript auto) gets
//! `input_required` and its retry resumes the run without calling again what ran. The
//! repository says whether the backend got the reset, and the audit trail that each
//! inner call ran exactly once. Every official client also runs a script chaining three
//! tools of two published servers (`mcp-server-time` and `mcp-server-git`).

use serde_json::{Value, json};

use super::confirm::{PEERS, POLICY, gateway, git, stage, staged};
use crate::support::http::{get, send_json};
use crate::support::mcp::{Client, response_message};
use crate::support::{WAIT, eventually, python};

/// The script: the staged diff, the reset, the staged diff again.
fn script(repo: &std::path::Path) -> String {
    let p = json!({ "repo_path": repo });
    format!(
        "const p = {p};\n\
         const before = await tools.git__git_diff_staged(p);\n\
         await tools.git__git_reset(p);\n\
         const after = await tools.git__git_diff_staged(p);\n\
         return {{before: before.includes('notes.txt'), after: after.includes('notes.txt')}};"
    )
}

/// A gateway with git in the code-mode namespace `coded`, and the README's policy
/// narrowed to the inner calls (`run_code` is itself `destructiveHint: true`: a script
/// may call anything, so the policy as written asks for the run too).
async fn coded() -> (crate::support::gateway::TestGateway, tempfile::TempDir) {
    let (gw, repo) = gateway(|_| {}).await;
    let ns = json!({"name": "coded", "servers": ["git"], "code_mode": "on"});
    let made = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
    assert_eq!(made.status, 201, "{}", made.text());
    inner_calls_only(&gw).await;
    (gw, repo)
}

/// The README's policy, narrowed to the inner calls.
async fn inner_calls_only(gw: &crate::support::gateway::TestGateway) {
    let rules = json!([{"effect": "confirm",
        "when": "principal.scope == 'client' && tool.annotations.destructiveHint == true \
                 && tool.name != 'run_code'"}]);
    let path = format!("/api/v1/policies/{POLICY}");
    let body = json!({ "text": rules.to_string() });
    let changed = send_json(gw.addr, "PUT", &path, &gw.admin_key, &body).await;
    assert_eq!(changed.status, 200, "{}", changed.text());
}

/// The audit rows of `tool` so far, by outcome.
async fn rows(gw: &crate::support::gateway::TestGateway, tool: &str) -> Vec<String> {
    let r = get(
        gw.addr,
        &format!("/api/v1/audit?tool={tool}&limit=500"),
        &gw.admin_key,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["entries"]
        .as_array()
        .map(|es| {
            es.iter()
                .map(|e| e["outcome"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until `tool` has `ok` rows with outcome `ok` in all, and checks there are no more.
async fn ran(gw: &crate::support::gateway::TestGateway, tool: &str, ok: usize, who: &str) {
    eventually(
        WAIT,
        &format!("{who}: {tool} audited {ok} times"),
        || async {
            let n = rows(gw, tool).await.iter().filter(|o| *o == "ok").count();
            assert!(n <= ok, "{who}: {tool} ran {n} times, expected {ok}");
            (n == ok).then_some(())
        },
    )
    .await;
}

fn outcome(seen: &Value, who: &str) -> Value {
    let r = &seen["results"][0];
    assert!(r.get("error").is_none(), "{who}: run_code refused: {seen}");
    r.clone()
}

/// The script's value (its text's first line) and the whole text, of a run that did not
/// fail.
fn succeeded(seen: &Value, who: &str) -> (Value, String) {
    let r = outcome(seen, who);
    assert_eq!(r["is_error"], false, "{who}: {seen}");
    let text = r["text"].as_str().unwrap_or_default().to_string();
    let value: Value = serde_json::from_str(text.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{who}: {e}: {text}"));
    (value, text)
}

#[tokio::test]
async fn a_scripts_destructive_inner_call_is_confirmed_mid_script_by_every_official_client() {
    let (gw, repo) = coded().await;
    let url = format!("http://127.0.0.1:{}/mcp/coded", gw.addr.port());
    let calls = json!([["run_code", {"code": script(repo.path())}]]).to_string();
    let (mut resets, mut diffs) = (0, 0);
    for peer in PEERS {
        let who = format!("{peer:?}");
        // Accepted: asked once, the reset runs once, and the script goes on after it.
        assert_eq!(stage(repo.path()), "notes.txt");
        let seen = peer.run(&url, &gw.client_key, "accept", &calls).await;
        let asked = seen["asked"].as_array().cloned().unwrap_or_default();
        assert_eq!(asked.len(), 1, "{who}: {seen}");
        let question = asked[0].as_str().unwrap_or_default();
        for part in ["git__git_reset", "server git", POLICY] {
            assert!(question.contains(part), "{who}: {part} in {question}");
        }
        let (value, text) = succeeded(&seen, &who);
        assert_eq!(
            value,
            json!({"before": true, "after": false}),
            "{who}: {text}"
        );
        assert_eq!(staged(repo.path()), "", "{who}: the backend got the reset");
        (resets, diffs) = (resets + 1, diffs + 2);
        ran(&gw, "git__git_reset", resets, &who).await;
        ran(&gw, "git__git_diff_staged", diffs, &who).await;

        // Declined: the reset throws in the script and never reaches the backend.
        assert_eq!(stage(repo.path()), "notes.txt");
        let seen = peer.run(&url, &gw.client_key, "decline", &calls).await;
        assert_eq!(
            seen["asked"].as_array().map(Vec::len),
            Some(1),
            "{who}: {seen}"
        );
        let r = outcome(&seen, &who);
        assert_eq!(r["is_error"], true, "{who}: {seen}");
        let text = r["text"].as_str().unwrap_or_default();
        assert!(text.contains("declined"), "{who}: {text}");
        assert_eq!(staged(repo.path()), "notes.txt", "{who}: never reset");
        diffs += 1;
        ran(&gw, "git__git_diff_staged", diffs, &who).await;
        ran(&gw, "git__git_reset", resets, &who).await;
        git(repo.path(), &["reset", "-q"]);
    }
    assert!(gw.state.data.confirming.is_empty());
}

/// What a run's retry is refused for: its state replayed, altered, or sent with other
/// code; a client that declared no elicitation is never asked, and its script throws.
#[tokio::test]
async fn a_resumed_run_is_refused_when_replayed_altered_or_for_other_code() {
    let (gw, repo) = coded().await;
    let code = script(repo.path());
    let call = |id: u64, code: &str, retry: Option<(&str, Value)>, caps: Value| {
        let mut params = json!({"name": "run_code", "arguments": {"code": code},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": caps}});
        if let Some((state, answer)) = retry {
            params["requestState"] = state.into();
            params["inputResponses"] = json!({ "confirm": answer });
        }
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
    };
    let c = Client::new(gw.addr, "/mcp/coded", Some(&gw.client_key));
    let post = |body: Value| {
        let c = &c;
        async move { response_message(&c.post_stateless(&body).await) }
    };
    assert_eq!(stage(repo.path()), "notes.txt");
    let asked = post(call(1, &code, None, json!({"elicitation": {}}))).await;
    assert_eq!(asked["result"]["resultType"], "input_required", "{asked}");
    let state = asked["result"]["requestState"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(state.starts_with("mcr1."), "{state}");
    let accept = json!({"action": "accept", "content": {"confirm": true}});
    // Other code with this state: refused, nothing runs.
    let other = post(call(
        2,
        "return 1",
        Some((&state, accept.clone())),
        json!({"elicitation": {}}),
    ))
    .await;
    assert_eq!(other["error"]["code"], -32602, "{other}");
    assert!(
        other["error"]["message"]
            .as_str()
            .unwrap()
            .contains("another request"),
        "{other}"
    );
    // Altered: refused.
    let mut altered = state.clone().into_bytes();
    let at = altered.len() / 2;
    altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let bad = post(call(
        3,
        &code,
        Some((&altered, accept.clone())),
        json!({"elicitation": {}}),
    ))
    .await;
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    assert_eq!(staged(repo.path()), "notes.txt", "nothing ran");
    // The retry: the run resumes and the reset runs.
    let done = post(call(
        4,
        &code,
        Some((&state, accept.clone())),
        json!({"elicitation": {}}),
    ))
    .await;
    assert_eq!(done["result"]["isError"], Value::Null, "{done}");
    assert_eq!(
        done["result"]["structuredContent"]["result"],
        json!({"before": true, "after": false}),
        "{done}"
    );
    assert_eq!(staged(repo.path()), "");
    // Replayed: refused (a resumed run runs once).
    assert_eq!(stage(repo.path()), "notes.txt");
    let again = post(call(
        5,
        &code,
        Some((&state, accept)),
        json!({"elicitation": {}}),
    ))
    .await;
    assert_eq!(again["error"]["code"], -32602, "{again}");
    assert!(
        again["error"]["message"]
            .as_str()
            .unwrap()
            .contains("used already"),
        "{again}"
    );
    assert_eq!(staged(repo.path()), "notes.txt", "the replay ran nothing");
    // No elicitation declared: the script throws, the reset never runs.
    let plain = post(call(6, &code, None, json!({}))).await;
    assert_eq!(plain["result"]["isError"], true, "{plain}");
    let text = plain["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("cannot be asked"), "{text}");
    assert_eq!(staged(repo.path()), "notes.txt");
}

/// A session client that goes away while its run waits for the user's answer: the run
/// stops, its place and its question are given back, and the inner call never runs.
#[tokio::test]
async fn a_session_client_gone_mid_question_stops_its_run_and_nothing_runs() {
    let (gw, repo) = coded().await;
    assert_eq!(stage(repo.path()), "notes.txt");
    let mut session = Client::new(gw.addr, "/mcp/coded", Some(&gw.client_key));
    session.initialize_with(json!({"elicitation": {}})).await;
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "run_code", "arguments": {"code": script(repo.path())}}});
    let (conn, m) = super::confirm::asked_on(&gw, &session, "/mcp/coded", &body).await;
    assert_eq!(m["method"], "elicitation/create", "{m}");
    assert!(
        m["params"]["message"]
            .as_str()
            .is_some_and(|q| q.contains("git__git_reset")),
        "{m}"
    );
    assert_eq!(gw.state.code_runs.held(None).0, 1, "the run waits");
    assert_eq!(gw.state.data.confirming.len(), 1);
    drop(conn);
    eventually(WAIT, "the run stopped and its question went", || async {
        (gw.state.code_runs.held(None).0 == 0
            && gw.state.data.confirming.is_empty()
            && gw.state.data.server_requests.is_empty())
        .then_some(())
    })
    .await;
    assert_eq!(staged(repo.path()), "notes.txt", "the reset never ran");
    ran(&gw, "git__git_reset", 0, "gone").await;
}

/// Every official client runs one script that chains three tools of two published
/// servers (the time, then the repository's last commit and its status) and gets only
/// the script's value back.
#[tokio::test]
async fn every_official_client_chains_three_tools_of_two_published_servers() {
    let (gw, repo) = gateway(|_| {}).await;
    gw.register(json!({"name": "time", "protocol": "stdio",
        "command": python("time"),
        "args": ["-m", "mcp_server_time", "--local-timezone=UTC"]}))
        .await;
    gw.wait_status("time", "running").await;
    let ns = json!({"name": "coded", "servers": ["git", "time"], "code_mode": "on"});
    let made = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
    assert_eq!(made.status, 201, "{}", made.text());
    inner_calls_only(&gw).await;
    let p = json!({ "repo_path": repo.path() });
    let code = format!(
        "const now = await tools.time__get_current_time({{timezone: 'UTC'}});\n\
         const t = typeof now === 'string' ? JSON.parse(now) : now;\n\
         const log = await tools.git__git_log({{...{p}, max_count: 1}});\n\
         const status = await tools.git__git_status({p});\n\
         return {{tz: t.timezone, start: log.includes('start'), branch: status.includes('trunk')}};"
    );
    let url = format!("http://127.0.0.1:{}/mcp/coded", gw.addr.port());
    let calls = json!([["run_code", {"code": code}]]).to_string();
    for peer in PEERS {
        let who = format!("{peer:?}");
        let seen = peer.run(&url, &gw.client_key, "accept", &calls).await;
        assert_eq!(
            seen["asked"].as_array().map(Vec::len),
            Some(0),
            "{who}: {seen}"
        );
        let (value, text) = succeeded(&seen, &who);
        assert_eq!(
            value,
            json!({"tz": "UTC", "start": true, "branch": true}),
            "{who}: {text}"
        );
        assert!(text.contains("3 inner calls, 0 failed"), "{who}: {text}");
    }
}
