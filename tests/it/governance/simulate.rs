//! Decisions have one author (issue 83), for a policy change: `POST
//! /api/v1/policies/simulate` and `keyadm policies simulate` decide every key's call of
//! every tool by the dry run of the phases, today's policies and then the proposed ones
//! in their place. A differential test: a proposed set with a rule guarded by `has()`
//! on the arguments, a deny for one key and a confirmation; for every tool and key, the
//! simulation's before and after are what real calls get before and after the change is
//! applied, and a decision said to depend on arguments does (two calls that differ only
//! in them are decided apart).

use metamcp::store::keys::Scope;
use serde_json::{Value, json};

use crate::support::gateway::{TestGateway, create_key, key_store};
use crate::support::http::send_json;
use crate::support::mcp::Client;
use crate::support::{self, WAIT, eventually};

/// The tools called, each with arguments it runs with.
const TOOLS: &[(&str, &str)] = &[
    ("alpha__echo", r#"{"message": "dry"}"#),
    ("alpha__add", r#"{"a": 1, "b": 2}"#),
    ("alpha__sleep", r#"{"ms": 1}"#),
    ("alpha__whoami", "{}"),
    ("alpha__env", r#"{"name": "HOME"}"#),
];

/// The keys simulated (client keys of `/mcp`).
const KEYS: &[&str] = &["sim-a", "sim-b"];

/// A real call's answer in the simulation's words.
fn word(m: &Value) -> &'static str {
    if m.get("result").is_some() {
        "allow"
    } else if m["error"]["data"]["confirm"] == true {
        "confirm"
    } else {
        "deny"
    }
}

async fn calls(clients: &[Client]) -> Vec<Vec<&'static str>> {
    let mut out = Vec::new();
    for c in clients {
        let mut row = Vec::new();
        for (tool, args) in TOOLS {
            let args: Value = serde_json::from_str(args).expect("arguments");
            row.push(word(&c.call_tool(tool, args).await));
        }
        out.push(row);
    }
    out
}

/// `{"principal", "tool", "before", "after"}` of the simulation's changes for our keys.
fn ours(out: &Value) -> Vec<Value> {
    let mut changes: Vec<Value> = out["changes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| KEYS.contains(&c["principal"].as_str().unwrap_or_default()))
        .collect();
    changes.sort_by_key(|c| c.to_string());
    changes
}

#[tokio::test]
async fn simulate_gives_the_decisions_real_calls_get_before_and_after_the_change() {
    let (gw, _alpha) = TestGateway::with_alpha().await;
    let store = key_store(&gw.db);
    let mut clients = Vec::new();
    for name in KEYS {
        let key = create_key(&store, name, Scope::Client, &[]).await;
        clients.push(gw.session_listing("/mcp", &key, "alpha__echo").await);
    }
    let today = json!([{"effect": "deny", "when": "tool.name == 'alpha__sleep'"}]);
    let body = json!({"name": "guard", "text": today.to_string()});
    let r = send_json(gw.addr, "POST", "/api/v1/policies", &gw.admin_key, &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let proposed = json!([
        {"effect": "deny", "when": "tool.name == 'alpha__echo' && has(arguments.message) && arguments.message.startsWith('/etc')"},
        {"effect": "deny", "when": "principal.name == 'sim-b' && tool.name == 'alpha__add'"},
        {"effect": "confirm", "when": "tool.name == 'alpha__whoami'"}
    ]);
    let before = eventually(WAIT, "today's policy applied", || async {
        let before = calls(&clients).await;
        before.iter().all(|row| row[2] == "deny").then_some(before)
    })
    .await;

    // The simulation, over REST and by keyadm (which asks the gateway).
    let change = json!({"name": "guard", "text": proposed.to_string()});
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/policies/simulate",
        &gw.admin_key,
        &change,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let simulated = r.json();
    let changes = ours(&simulated);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("guard.json");
    std::fs::write(&file, proposed.to_string()).expect("written");
    let (env, url, path) = (
        gw.db.env(),
        format!("http://{}", gw.addr),
        file.to_string_lossy().to_string(),
    );
    let out = tokio::task::spawn_blocking(move || {
        let args = [
            "policies", "simulate", "guard", &path, "--json", "--url", &url,
        ];
        support::run_bin(env!("CARGO_BIN_EXE_keyadm"), &env, &args)
    })
    .await
    .expect("keyadm ran");
    let by_keyadm: Value = serde_json::from_str(&support::stdout(&out)).unwrap_or_else(
        |_| json!({"stdout": support::stdout(&out), "stderr": support::stderr(&out)}),
    );

    // The change applied: what real calls get now.
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/policies/guard",
        &gw.admin_key,
        &change,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let after = calls(&clients).await;

    let mut failures = Vec::new();
    for (k, key) in KEYS.iter().enumerate() {
        for (t, (tool, _)) in TOOLS.iter().enumerate() {
            let (was, is) = (before[k][t], after[k][t]);
            let said = changes
                .iter()
                .find(|c| c["principal"] == *key && c["tool"] == *tool);
            match said {
                None if was != is => {
                    failures.push(format!("{key} {tool}: calls {was} → {is}, no change said"))
                }
                None => {}
                Some(c) if c["before"] != was => {
                    failures.push(format!("{key} {tool}: call before {was}, said {c}"))
                }
                Some(c) if c["after"] == "depends on arguments" => {
                    // Two calls apart only in their arguments are decided apart.
                    let at = |m: &str| json!({"message": m});
                    let etc = word(&clients[k].call_tool(tool, at("/etc/passwd")).await);
                    let tmp = word(&clients[k].call_tool(tool, at("/tmp/x")).await);
                    if etc == tmp {
                        failures.push(format!("{key} {tool}: said {c}, calls {etc} and {tmp}"));
                    }
                }
                Some(c) if c["after"] != is => {
                    failures.push(format!("{key} {tool}: call after {is}, said {c}"))
                }
                Some(_) => {}
            }
        }
    }
    assert!(failures.is_empty(), "{}\n{simulated}", failures.join("\n"));
    // Every kind of change is in the table, the rule guarded by `has()` among them.
    let want = |k: &str, t: &str, b: &str, a: &str| json!({"principal": k, "tool": t, "before": b, "after": a});
    for c in [
        want("sim-a", "alpha__echo", "allow", "depends on arguments"),
        want("sim-b", "alpha__echo", "allow", "depends on arguments"),
        want("sim-b", "alpha__add", "allow", "deny"),
        want("sim-a", "alpha__whoami", "allow", "confirm"),
        want("sim-a", "alpha__sleep", "deny", "allow"),
    ] {
        assert!(changes.contains(&c), "{c} not in {simulated}");
    }
    // A tool no rule reads the arguments of, and no rule names, changes for nobody.
    assert!(
        changes.iter().all(|c| c["tool"] != "alpha__env"),
        "{simulated}"
    );
    assert!(
        !changes.contains(&want("sim-a", "alpha__add", "allow", "deny")),
        "{simulated}"
    );
    // keyadm said what the gateway said.
    assert_eq!(ours(&by_keyadm), changes, "{by_keyadm}");
}

/// A simulation may decide every key's every call twice: one runs at a time on a gateway,
/// and another caller is told when to retry (429, `Retry-After`), while a text that does
/// not compile is still refused for what it says. Each answer says whether it compared
/// every call (`complete`; a gateway with more calls than one simulation compares says
/// where it stopped, `policy::simulate`'s unit test).
#[tokio::test]
async fn one_simulation_runs_at_a_time_and_says_whether_it_compared_every_call() {
    let (gw, _alpha) = TestGateway::with_alpha().await;
    let simulate = |body: Value| {
        let (addr, key) = (gw.addr, gw.admin_key.clone());
        async move { send_json(addr, "POST", "/api/v1/policies/simulate", &key, &body).await }
    };
    let text = json!([{"effect": "deny", "when": "tool.name == 'alpha__echo'"}]).to_string();
    let change = json!({"name": "guard", "text": text});

    let running = gw
        .state
        .control
        .simulating
        .try_acquire()
        .expect("no simulation runs yet");
    let r = simulate(change.clone()).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("5"), "{:?}", r.headers);
    let said = r.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(
        said.contains("another policy simulation is running"),
        "{said}"
    );
    let typo = json!({"name": "guard", "text": r#"[{"effect": "deny", "whne": "true"}]"#});
    let r = simulate(typo).await;
    assert_eq!(r.status, 400, "{}", r.text());
    drop(running);

    let out = eventually(WAIT, "alpha's tools simulated", || {
        let r = simulate(change.clone());
        async move {
            let r = r.await;
            assert_eq!(r.status, 200, "{}", r.text());
            let out = r.json();
            (out["compared"].as_u64() >= Some(4)).then_some(out)
        }
    })
    .await;
    assert_eq!(out["complete"], json!(true), "{out}");
    assert!(out.get("stopped").is_none(), "{out}");
    let denied =
        json!({"principal": "client", "tool": "alpha__echo", "before": "allow", "after": "deny"});
    assert!(
        out["changes"]
            .as_array()
            .is_some_and(|c| c.contains(&denied)),
        "{out}"
    );
    assert_eq!(
        out["total_changes"],
        json!(out["changes"].as_array().map_or(0, Vec::len))
    );
}
