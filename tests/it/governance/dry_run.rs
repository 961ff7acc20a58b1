//! Decisions have one author (issue 83): `keyadm policies check`, `POST
//! /api/v1/policies/check` and the REST listing of a server's tools ask the dry run of
//! the phases a call walks, so they give the gateway's own decision. A differential
//! test: a gateway with policies (deny, confirm, one in audit mode), a tool held for
//! review, tools switched off, an allow-listed namespace, a guardrail and a tool's rate;
//! for every tool of the server (and code mode's `run_code` and `search_tools`, a held
//! tool and one no server offers) in every namespace, keyadm's answer, REST's and a real
//! call's (with its audit row read back) agree.

use std::collections::HashMap;

use metamcp::model::limits::LimitsChange;
use metamcp::store::keys::{NewKey, Scope};
use serde_json::{Value, json};

use super::guardrails::{Answer as Hook, Guard};
use crate::support::gateway::{TestGateway, key_store};
use crate::support::http::{get, request, send_json};
use crate::support::mock::Mock;
use crate::support::{self, WAIT, eventually};

/// A decision as each side says it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Decided {
    Allow,
    /// The user is asked first, by this policy.
    Confirm(String),
    /// Refused with this JSON-RPC code, and the audit row's reason (none: no row).
    Deny(i64, Option<String>),
}

/// A dry run's answer (REST's or keyadm's JSON) as a [`Decided`].
fn of_check(d: &Value) -> Decided {
    match d["decision"].as_str() {
        Some("allow") => Decided::Allow,
        Some("confirm") => Decided::Confirm(d["policy"].as_str().unwrap_or("-").into()),
        Some("deny") => Decided::Deny(
            d["error"]["code"].as_i64().unwrap_or(0),
            d["audit_reason"].as_str().map(String::from),
        ),
        _ => Decided::Deny(0, Some(format!("not a decision: {d}"))),
    }
}

/// A real call's answer and its audit row (`outcome`, `reason`) as a [`Decided`]: a
/// confirmation no client here can be asked for is the refusal that says so.
fn of_call(m: &Value, row: Option<&(String, Option<String>)>) -> Decided {
    if m.get("result").is_some() {
        return Decided::Allow;
    }
    let e = &m["error"];
    if e["data"]["confirm"] == true {
        return Decided::Confirm(e["data"]["policy"].as_str().unwrap_or("-").into());
    }
    match row {
        // The backend's own error: the call went through.
        Some((outcome, _)) if outcome != "denied" => Decided::Allow,
        Some((_, reason)) => Decided::Deny(e["code"].as_i64().unwrap_or(0), reason.clone()),
        None => Decided::Deny(e["code"].as_i64().unwrap_or(0), None),
    }
}

/// Arguments a real call of `tool` runs with.
fn arguments(tool: &str) -> Value {
    match tool.trim_start_matches("alpha__") {
        "echo" => json!({"message": "dry"}),
        "add" => json!({"a": 1, "b": 2}),
        "sleep" => json!({"ms": 1}),
        "big" => json!({"bytes": 8}),
        "alloc" => json!({"mb": 1}),
        "env" => json!({"name": "HOME"}),
        "progress" => json!({"steps": 1}),
        "run_code" => json!({"code": "return 1"}),
        "search_tools" => json!({"query": "echo"}),
        _ => json!({}),
    }
}

/// `keyadm policies check KEY TOOL [--namespace NS] --json`, asking this gateway (off
/// the test's runtime, which serves the gateway meanwhile).
async fn keyadm_check(gw: &TestGateway, key: &str, tool: &str, ns: Option<&str>) -> Value {
    let env = gw.db.env();
    let url = format!("http://{}", gw.addr);
    let mut args: Vec<String> = ["policies", "check", key, tool, "--json", "--url", &url]
        .iter()
        .map(|a| a.to_string())
        .collect();
    if let Some(ns) = ns {
        args.extend(["--namespace".to_string(), ns.to_string()]);
    }
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        support::run_bin(env!("CARGO_BIN_EXE_keyadm"), &env, &args)
    })
    .await
    .expect("keyadm ran");
    serde_json::from_str(&support::stdout(&out)).unwrap_or_else(
        |_| json!({"keyadm": support::stdout(&out), "stderr": support::stderr(&out)}),
    )
}

async fn rest_check(gw: &TestGateway, key: &str, tool: &str, ns: Option<&str>) -> Value {
    let mut body = json!({"principal": key, "tool": tool});
    if let Some(ns) = ns {
        body["namespace"] = json!(ns);
    }
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/policies/check",
        &gw.admin_key,
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// The key's audit rows by tool: `(outcome, reason)`.
async fn rows(gw: &TestGateway, key_id: &str) -> HashMap<String, (String, Option<String>)> {
    let r = get(
        gw.addr,
        &format!("/api/v1/audit?key={key_id}&limit=200"),
        &gw.admin_key,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().map(String::from);
            (
                s("tool").unwrap_or_default(),
                (s("outcome").unwrap_or_default(), s("reason")),
            )
        })
        .collect()
}

/// The gateway: alpha (mockmcp) in three namespaces: `dry` (code mode on, `hangup` and
/// `misbehave` switched off, `big` rated at one call a minute), `allow` (an allow-list
/// of `echo`) and `guarded` (a request guardrail that denies every call); policies of
/// every view denying `add`, asking to confirm `whoami` and `run_code`, and in audit
/// mode denying `echo`; and `wipe`, a tool alpha offers after its first listing, held
/// for review.
async fn gateway() -> (TestGateway, Mock, Guard) {
    let gw = TestGateway::start().await;
    let alpha = Mock::start(&[]);
    gw.register(json!({"name": "alpha", "protocol": "http", "url": alpha.url()}))
        .await;
    let guard = Guard::start(Hook::Json(
        json!({"decision": "deny", "reason": "not today"}),
    ))
    .await;
    for ns in [
        json!({"name": "dry", "servers": ["alpha"], "code_mode": "on",
               "tools": {"alpha__hangup": {"enabled": false},
                         "alpha__misbehave": {"enabled": false},
                         "alpha__big": {"rate": "1/m"}}}),
        json!({"name": "allow", "servers": ["alpha"], "tools_default": "disabled",
               "tools": {"alpha__echo": {}}}),
        json!({"name": "guarded", "servers": ["alpha"],
               "guardrails": [{"url": guard.url, "on": ["request"]}]}),
    ] {
        gw.namespace(ns).await;
    }
    for (name, mode, rules) in [
        (
            "no-add",
            "enforce",
            json!([{"effect": "deny", "when": "tool.name == 'alpha__add'"}]),
        ),
        (
            "ask",
            "enforce",
            json!([{"effect": "confirm",
                    "when": "tool.name == 'alpha__whoami' || tool.name == 'run_code'"}]),
        ),
        (
            "trial",
            "audit",
            json!([{"effect": "deny", "when": "tool.name == 'alpha__echo'"}]),
        ),
    ] {
        let body = json!({"name": name, "text": rules.to_string(), "mode": mode});
        let r = send_json(gw.addr, "POST", "/api/v1/policies", &gw.admin_key, &body).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    // Pinned at first sight; then a tool offered later is held.
    let db = gw.db.client().await;
    eventually(WAIT, "alpha's tools pinned", || async {
        let pins: i64 = db
            .query_one(
                "SELECT count(*) FROM tool_pins p JOIN mcp_servers s ON s.id = p.server_id \
                 WHERE s.name = 'alpha' AND p.kind = 'tool'",
                &[],
            )
            .await
            .ok()?
            .get(0);
        (pins >= 12).then_some(())
    })
    .await;
    let addr = format!("127.0.0.1:{}", alpha.port).parse().expect("addr");
    let wipe = json!([{"name": "wipe", "description": "Deletes every record",
                       "inputSchema": {"type": "object"}}]);
    let r = request(
        addr,
        "POST",
        "/control/tools",
        &[],
        Some(wipe.to_string().as_bytes()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    eventually(WAIT, "wipe held", || async {
        let r = get(gw.addr, "/api/v1/reviews", &gw.admin_key).await;
        let reviews = r.json()["reviews"].as_array().cloned().unwrap_or_default();
        reviews.iter().any(|v| v["tool"] == "wipe").then_some(())
    })
    .await;
    (gw, alpha, guard)
}

/// Every tool alpha lists (by the name `/mcp` exposes it), then the gateway's own, the
/// held one and one nobody offers; `alpha__add` last (each namespace records its call, so
/// its row read back means every earlier row is in).
async fn names(gw: &TestGateway) -> Vec<String> {
    let r = get(gw.addr, "/api/v1/mcp/servers/alpha/tools", &gw.admin_key).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mut names: Vec<String> = r
        .json()
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|t| t["exposed_name"].as_str().map(String::from))
        .filter(|n| n != "alpha__add")
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    for extra in [
        "run_code",
        "search_tools",
        "alpha__wipe",
        "alpha__nosuch",
        "alpha__add",
    ] {
        names.push(extra.into());
    }
    names
}

#[tokio::test]
async fn keyadm_and_rest_check_give_the_gateways_decision_for_every_tool() {
    let (gw, _alpha, _guard) = gateway().await;
    let names = names(&gw).await;
    let store = key_store(&gw.db);
    let mut failures = Vec::new();
    let mut seen: HashMap<(&str, String), Decided> = HashMap::new();
    // Each namespace's endpoint with a key of every namespace, and `/mcp` with a key
    // limited to `dry` (the view it reaches there is `dry`'s).
    for (label, ns) in [
        ("dry", Some("dry")),
        ("allow", Some("allow")),
        ("guarded", Some("guarded")),
        ("agent", None),
    ] {
        let name = format!("dry-{label}");
        let issued = store
            .create(NewKey {
                name: name.clone(),
                description: None,
                scope: Scope::Client,
                namespaces: match ns {
                    Some(_) => Vec::new(),
                    None => vec!["dry".into()],
                },
                expires_in_days: None,
                limits: LimitsChange::default(),
            })
            .await
            .expect("create key");
        eventually(WAIT, "the key known to the gateway", || async {
            let body = json!({"principal": name, "tool": "alpha__echo"});
            let r = send_json(
                gw.addr,
                "POST",
                "/api/v1/policies/check",
                &gw.admin_key,
                &body,
            )
            .await;
            (r.status == 200).then_some(())
        })
        .await;
        let mut checks = Vec::new();
        let path = ns.map_or_else(|| "/mcp".to_string(), |ns| format!("/mcp/{ns}"));
        let c = gw.session(&path, &issued.api_key).await;
        let mut answers = Vec::new();
        for tool in &names {
            let rest = rest_check(&gw, &name, tool, ns).await;
            let keyadm = keyadm_check(&gw, &name, tool, ns).await;
            checks.push((tool.clone(), rest, keyadm));
            answers.push(c.call_tool(tool, arguments(tool)).await);
        }
        let id = issued.id.to_string();
        let rows = eventually(WAIT, "the calls' audit rows", || async {
            let rows = rows(&gw, &id).await;
            rows.contains_key("alpha__add").then_some(rows)
        })
        .await;
        for ((tool, rest, keyadm), m) in checks.into_iter().zip(answers) {
            let call = of_call(&m, rows.get(&tool));
            let (by_rest, by_keyadm) = (of_check(&rest), of_check(&keyadm));
            if by_rest != call || by_keyadm != call {
                failures.push(format!(
                    "{label} {tool}: call {call:?} ({m}), REST {by_rest:?} ({rest}), \
                     keyadm {by_keyadm:?} ({keyadm})"
                ));
            }
            seen.insert((label, tool), call);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The table holds every kind of decision it is meant to.
    let held = Decided::Deny(-32602, Some("held (added)".into()));
    let off = Decided::Deny(-32602, Some("disabled in the namespace".into()));
    let policy = Decided::Deny(-32003, Some("policy no-add".into()));
    let at = |ns: &'static str, tool: &str| seen.get(&(ns, tool.to_string())).cloned();
    for (ns, tool, want) in [
        ("dry", "alpha__echo", Decided::Allow),
        ("dry", "search_tools", Decided::Allow),
        ("dry", "run_code", Decided::Confirm("ask".into())),
        ("dry", "alpha__whoami", Decided::Confirm("ask".into())),
        ("dry", "alpha__add", policy.clone()),
        ("dry", "alpha__hangup", off.clone()),
        ("dry", "alpha__wipe", held.clone()),
        ("agent", "run_code", Decided::Confirm("ask".into())),
        ("agent", "alpha__hangup", off.clone()),
        ("allow", "alpha__echo", Decided::Allow),
        ("allow", "alpha__sleep", off),
        ("guarded", "alpha__echo", Decided::Deny(-32003, None)),
        ("guarded", "alpha__add", policy),
    ] {
        let got = at(ns, tool);
        match (&want, &got) {
            // A guardrail's reason names its URL.
            (Decided::Deny(code, None), Some(Decided::Deny(c, Some(r)))) => {
                assert!(
                    *c == *code && r.starts_with("guardrail "),
                    "{ns} {tool}: {got:?}"
                )
            }
            _ => assert_eq!(got.as_ref(), Some(&want), "{ns} {tool}"),
        }
    }
    // The policy in audit mode binds nothing, and the dry run says what it would do.
    let echo = rest_check(&gw, "dry-dry", "alpha__echo", Some("dry")).await;
    assert_eq!(echo["audit"][0]["policy"], "trial", "{echo}");
    assert_eq!(echo["phase"], "forward", "{echo}");
    // A namespace the key may not use: the endpoint refuses the key (403), and the dry
    // run says so rather than deciding in a view the key never reaches.
    let out = rest_check(&gw, "dry-agent", "alpha__echo", Some("allow")).await;
    assert_eq!(
        (out["decision"].clone(), out["phase"].clone()),
        (json!("deny"), json!("reach")),
        "{out}"
    );
}

/// The REST listing of a server's tools says what a call of each would get, as the dry
/// run (and so a call) decides it.
#[tokio::test]
async fn the_rest_listing_of_a_servers_tools_asks_the_dry_run() {
    let (gw, _alpha, _guard) = gateway().await;
    let r = get(gw.addr, "/api/v1/mcp/servers/alpha/tools", &gw.client_key).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = r.json().as_array().cloned().unwrap_or_default();
    let of = |name: &str| listed.iter().find(|t| t["exposed_name"] == name).cloned();
    assert_eq!(
        of("alpha__whoami").map(|t| t["decision"].clone()),
        Some(json!("confirm"))
    );
    assert_eq!(
        of("alpha__echo").map(|t| t["decision"].clone()),
        Some(json!("allow"))
    );
    // Denied and held tools are in no list.
    assert!(of("alpha__add").is_none() && of("alpha__wipe").is_none());
    for t in &listed {
        let name = t["exposed_name"].as_str().unwrap_or_default();
        let check = rest_check(&gw, "client", name, None).await;
        assert_eq!(t["decision"], check["decision"], "{name}: {t} {check}");
    }
}
