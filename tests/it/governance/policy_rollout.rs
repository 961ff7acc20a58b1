//! Policies rolled out without fear: a text is checked against the vocabulary when it is
//! written (a misspelt name is `400` with the rule, line, column and the nearest name,
//! over REST and in `keyadm policies add`), a rule that fails to evaluate at run time
//! decides by its effect and says so (the error, the audit row, a metric, the dry run),
//! and a policy in audit mode decides every call and binds none, recording what it would
//! have done beside the real outcome.

use crate::support;
use crate::support::WAIT;

use crate::support::eventually;
use crate::support::gateway::TestGateway;
use crate::support::http::{get, send_json};
use crate::support::mcp::Client;
use crate::support::mock::Mock;
use serde_json::{Value, json};

async fn gateway() -> (TestGateway, Mock) {
    TestGateway::with_rich_beta().await
}

async fn client(gw: &TestGateway, key: &str) -> Client {
    gw.session_listing("/mcp", key, "beta__echo").await
}

async fn add(gw: &TestGateway, body: Value) -> support::http::Resp {
    send_json(gw.addr, "POST", "/api/v1/policies", &gw.admin_key, &body).await
}

/// The audit rows of `tool`, newest first, once there are `n`.
async fn rows(gw: &TestGateway, tool: &str, n: usize) -> Vec<Value> {
    eventually(WAIT, "the audit rows", || async {
        let r = get(
            gw.addr,
            &format!("/api/v1/audit?tool={tool}"),
            &gw.admin_key,
        )
        .await;
        let entries = r.json()["entries"].as_array().cloned().unwrap_or_default();
        (entries.len() >= n).then_some(entries)
    })
    .await
}

#[tokio::test]
async fn a_misspelt_field_is_refused_at_write_with_the_nearest_name_over_rest_and_keyadm() {
    let (gw, _beta) = gateway().await;
    let text = "[\n  {\"effect\": \"allow\", \"when\": \"principal.scope == 'admin'\"},\n  {\"effect\": \"deny\",\n   \"when\": \"action == 'call' && principal.scop == 'client'\"}\n]";
    let bad = add(&gw, json!({"name": "typo", "text": text})).await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    let b = bad.json();
    assert_eq!(
        (b["rule"].clone(), b["line"].clone(), b["column"].clone()),
        (json!(2), json!(4), json!(31)),
        "{b}"
    );
    assert_eq!(b["name"], "principal.scop", "{b}");
    assert_eq!(b["nearest"], "principal.scope", "{b}");
    assert!(
        b["error"]
            .as_str()
            .unwrap_or_default()
            .contains("did you mean `principal.scope`?"),
        "{b}"
    );
    // A syntax error: its place and reason.
    let bad = add(
        &gw,
        json!({"name": "syntax", "text": "[{\"effect\": \"deny\", \"when\": \"tool.name = 'x'\"}]"}),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert_eq!(bad.json()["column"], 11, "{}", bad.text());
    assert!(bad.text().contains("`==`"), "{}", bad.text());
    // Nothing was written; the clients are served.
    let listed = get(gw.addr, "/api/v1/policies", &gw.admin_key).await;
    assert_eq!(listed.json()["policies"], json!([]), "{}", listed.text());

    // keyadm: the same check before anything is written.
    let keyadm = |args: &[&str]| support::run_bin(env!("CARGO_BIN_EXE_keyadm"), &gw.db.env(), args);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("p.json");
    std::fs::write(
        &file,
        json!([{"effect": "deny", "when": "tool.nmae == 'beta__add'"}]).to_string(),
    )
    .expect("written");
    let out = keyadm(&["policies", "add", "typo", &file.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(65), "{}", support::stderr(&out));
    let said = support::stderr(&out);
    assert!(said.contains("did you mean `tool.name`?"), "{said}");
    assert!(said.contains("line 1, column 6"), "{said}");
    assert!(!support::stdout(&keyadm(&["policies", "list"])).contains("typo"));
}

#[tokio::test]
async fn a_deny_rule_that_fails_to_evaluate_denies_its_call_says_why_and_empties_no_list() {
    let (gw, _beta) = gateway().await;
    let c = client(&gw, &gw.client_key).await;
    // No tool of beta has a title: the rule cannot be evaluated on any of them.
    let made = add(
        &gw,
        json!({"name": "titles", "text": json!([
            {"effect": "deny", "when": "tool.annotations.title.startsWith('Danger')"}
        ]).to_string()}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let names = c.tool_names().await;
    assert!(
        names.iter().any(|n| n == "beta__echo"),
        "the list is kept: {names:?}"
    );
    let m = c
        .call(
            json!(3),
            "tools/call",
            json!({"name": "beta__echo", "arguments": {"message": "hi"}}),
        )
        .await;
    assert_eq!(m["error"]["code"], -32003, "{m}");
    let failed = m["error"]["data"]["failed"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        failed.starts_with("rule 1 of `titles` failed to evaluate"),
        "{m}"
    );
    let row = &rows(&gw, "beta__echo", 1).await[0];
    assert_eq!(row["outcome"], "denied", "{row}");
    assert_eq!(
        row["reason"].as_str().unwrap_or_default(),
        format!("policy titles: {failed}"),
        "{row}"
    );
    let metrics = get(gw.addr, "/metrics", &gw.admin_key).await.text();
    assert!(
        metrics.contains("metamcp_policy_rule_failures_total{policy=\"titles\",effect=\"deny\"} 1"),
        "{metrics}"
    );
    // The dry run shows it.
    let check = send_json(
        gw.addr,
        "POST",
        "/api/v1/policies/check",
        &gw.admin_key,
        &json!({"principal": "client", "tool": "beta__echo"}),
    )
    .await;
    assert_eq!(check.json()["decision"], "deny", "{}", check.text());
    assert!(
        check.json()["failed"][0]
            .as_str()
            .unwrap_or_default()
            .contains("failed to evaluate"),
        "{}",
        check.text()
    );
}

#[tokio::test]
async fn a_policy_in_audit_mode_records_what_it_would_do_and_binds_nothing() {
    let (gw, _beta) = gateway().await;
    let c = client(&gw, &gw.client_key).await;
    let trial = json!([
        {"effect": "deny", "when": "tool.name == 'beta__add'"},
        {"effect": "confirm", "when": "tool.name == 'beta__echo' && principal.scope == 'client'"}
    ]);
    let bad = add(
        &gw,
        json!({"name": "trial", "text": trial.to_string(), "mode": "watch"}),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    let made = add(
        &gw,
        json!({"name": "trial", "text": trial.to_string(), "mode": "audit"}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    assert_eq!(made.json()["mode"], "audit", "{}", made.text());
    // Nothing is taken from the list, nothing refused, nothing asked.
    let names = c.tool_names().await;
    assert!(names.iter().any(|n| n == "beta__add"), "{names:?}");
    for (id, tool, arguments) in [
        (1, "beta__add", json!({"a": 1, "b": 2})),
        (2, "beta__echo", json!({"message": "hi"})),
        (3, "beta__fail", json!({})),
    ] {
        let m = c
            .call(
                json!(id),
                "tools/call",
                json!({"name": tool, "arguments": arguments}),
            )
            .await;
        assert!(m["error"]["data"]["policy"].is_null(), "{m}");
    }
    for (tool, would) in [
        ("beta__add", "deny by trial"),
        ("beta__echo", "confirm by trial"),
        ("beta__fail", "allow by trial"),
    ] {
        let row = &rows(&gw, tool, 1).await[0];
        assert_ne!(row["outcome"], "denied", "{row}");
        assert_eq!(row["policy_audit"], would, "{row}");
    }
    let metrics = get(gw.addr, "/metrics", &gw.admin_key).await.text();
    for decision in ["deny", "confirm", "allow"] {
        let line = format!(
            "metamcp_policy_audit_decisions_total{{policy=\"trial\",decision=\"{decision}\"}} 1"
        );
        assert!(metrics.contains(&line), "{line}\n{metrics}");
    }
    // Switched to enforce, it binds.
    let put = send_json(
        gw.addr,
        "PUT",
        "/api/v1/policies/trial",
        &gw.admin_key,
        &json!({"text": trial.to_string(), "mode": "enforce"}),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let m = c
        .call(
            json!(9),
            "tools/call",
            json!({"name": "beta__add", "arguments": {"a": 1, "b": 2}}),
        )
        .await;
    assert_eq!(m["error"]["data"]["policy"], "trial", "{m}");
}

#[tokio::test]
async fn a_change_is_simulated_as_who_loses_what_over_rest_and_keyadm() {
    let (gw, _beta) = gateway().await;
    let _c = client(&gw, &gw.client_key).await;
    let today = json!([{"effect": "deny", "when": "principal.name == 'client' && tool.name == 'beta__add'"}]);
    let made = add(&gw, json!({"name": "guard", "text": today.to_string()})).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let change = json!([
        {"effect": "deny", "when": "principal.name == 'client' && tool.name == 'beta__echo'"},
        {"effect": "deny", "when": "tool.name == 'beta__fail' && arguments.x == 1"}
    ]);
    let simulate = |key: String, body: Value| {
        let addr = gw.addr;
        async move { send_json(addr, "POST", "/api/v1/policies/simulate", &key, &body).await }
    };
    let body = json!({"name": "guard", "text": change.to_string()});
    assert_eq!(
        simulate(gw.client_key.clone(), body.clone()).await.status,
        403
    );
    let r = simulate(gw.admin_key.clone(), body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let out = r.json();
    let changes = out["changes"].as_array().cloned().unwrap_or_default();
    let has = |principal: &str, tool: &str, before: &str, after: &str| {
        changes.iter().any(|c| {
            c == &json!({"principal": principal, "tool": tool, "before": before, "after": after})
        })
    };
    assert!(has("client", "beta__add", "deny", "allow"), "{out}");
    assert!(has("client", "beta__echo", "allow", "deny"), "{out}");
    assert!(
        has("client", "beta__fail", "allow", "depends on arguments"),
        "{out}"
    );
    // Nothing else changes for the client; the admin meets only the rule on arguments.
    assert!(
        changes
            .iter()
            .all(|c| c["tool"] == "beta__fail" || c["principal"] == "client"),
        "{out}"
    );
    assert!(
        out["arguments"]
            .as_str()
            .unwrap_or_default()
            .contains("keeps no"),
        "{out}"
    );
    // Nothing was written: the gateway decides as before.
    let stored = get(gw.addr, "/api/v1/policies/guard", &gw.admin_key).await;
    assert_eq!(
        stored.json()["text"],
        today.to_string(),
        "{}",
        stored.text()
    );
    // A text that does not check: 400 with the nearest name.
    let bad = simulate(
        gw.admin_key.clone(),
        json!({"text": "[{\"effect\": \"deny\", \"when\": \"tool.nmae == 'x'\"}]"}),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert_eq!(bad.json()["nearest"], "tool.name", "{}", bad.text());

    // keyadm: the same table, asked of the running gateway.
    // Off the test's runtime, which serves the gateway meanwhile.
    let url = format!("http://{}", gw.addr);
    let keyadm = |args: &[&str]| {
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.extend(["--url".to_string(), url.clone()]);
        let env = gw.db.env();
        async move {
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                support::run_bin(env!("CARGO_BIN_EXE_keyadm"), &env, &args)
            })
            .await
            .expect("keyadm ran")
        }
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("guard.json");
    std::fs::write(&file, change.to_string()).expect("written");
    let path = file.to_string_lossy().to_string();
    let out = keyadm(&["policies", "simulate", "guard", &path]).await;
    assert!(out.status.success(), "{}", support::stderr(&out));
    let table = support::stdout(&out);
    assert!(table.starts_with("PRINCIPAL"), "{table}");
    let row = table
        .lines()
        .find(|l| l.starts_with("client") && l.contains("beta__echo"))
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(row, "client beta__echo allow deny", "{table}");
    let out = keyadm(&["policies", "simulate", "guard", &path, "--json"]).await;
    let j: Value = serde_json::from_str(&support::stdout(&out)).expect("JSON");
    assert!(
        j["changes"].as_array().is_some_and(|c| c
            .contains(&json!({"principal": "client", "tool": "beta__fail",
                "before": "allow", "after": "depends on arguments"}))),
        "{j}"
    );
}
