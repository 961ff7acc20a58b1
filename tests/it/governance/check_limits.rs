//! Decisions have one author (issue 83), for the key's limits: `POST
//! /api/v1/policies/check` looks at the limits a call would meet (the key's rate and
//! places in flight, a tool's rate, the daily quota) without spending any, so it says
//! `deny` with the limit's code and reason where the next call is refused, as that call
//! is, and a check never costs the key a call.

use metamcp::model::limits::{LimitsChange, Rate, Setting};
use serde_json::{Value, json};

use crate::support::gateway::{TestGateway, key_store, limited_key};
use crate::support::http::{get, send_json};
use crate::support::mcp::Client;
use crate::support::{WAIT, eventually};

/// `POST /api/v1/policies/check` of `alpha__echo` for `principal`.
async fn ask_check(gw: &TestGateway, principal: &str) -> crate::support::http::Resp {
    let body = json!({"principal": principal, "tool": "alpha__echo"});
    send_json(
        gw.addr,
        "POST",
        "/api/v1/policies/check",
        &gw.admin_key,
        &body,
    )
    .await
}

async fn check(gw: &TestGateway, key: &str) -> Value {
    let r = ask_check(gw, key).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// A call of `alpha__echo`: its answer (a refusal by a limit is HTTP 429 with the
/// JSON-RPC error).
async fn echo(c: &Client) -> Value {
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "alpha__echo", "arguments": {"message": "limits"}}});
    let r = c.post(&call).await;
    assert!(r.status == 200 || r.status == 429, "{}", r.text());
    r.json()
}

/// The reason of the key's newest audit row of `alpha__echo`, once it has `n` of them.
async fn newest_reason(gw: &TestGateway, key_id: &str, n: usize) -> Value {
    eventually(WAIT, "the calls' audit rows", || async {
        let r = get(
            gw.addr,
            &format!("/api/v1/audit?key={key_id}&limit=50"),
            &gw.admin_key,
        )
        .await;
        let entries = r.json()["entries"].as_array().cloned().unwrap_or_default();
        let echoes: Vec<&Value> = entries
            .iter()
            .filter(|e| e["tool"] == "alpha__echo")
            .collect();
        (echoes.len() >= n).then(|| echoes[0]["reason"].clone())
    })
    .await
}

/// A key with `limits`, known to the gateway: its id and a session of it at `/mcp`.
async fn key(gw: &TestGateway, name: &str, limits: LimitsChange) -> (String, Client) {
    let (id, api_key) = limited_key(&key_store(&gw.db), name, limits).await;
    eventually(WAIT, "the key known to the gateway", || async {
        (ask_check(gw, name).await.status == 200).then_some(())
    })
    .await;
    (id, gw.session("/mcp", &api_key).await)
}

/// The check's refusal and a real call's, side by side: the same code, the same limit,
/// and the audit row the check says the call leaves.
fn same_refusal(checked: &Value, called: &Value, reason: &Value, limit: &str) {
    assert_eq!(
        (checked["decision"].as_str(), checked["phase"].as_str()),
        (Some("deny"), Some("limits")),
        "{checked}"
    );
    let (e, c) = (&checked["error"], &called["error"]);
    assert_eq!(e["code"], -32029, "{checked}");
    assert_eq!(c["code"], e["code"], "{called}");
    assert_eq!(e["data"]["limit_name"], limit, "{checked}");
    assert_eq!(c["data"]["limit_name"], limit, "{called}");
    assert_eq!(
        checked["audit_reason"],
        format!("limit {limit}"),
        "{checked}"
    );
    assert_eq!(reason, &checked["audit_reason"], "{called}");
}

#[tokio::test]
async fn check_says_the_rate_would_refuse_and_charges_nothing() {
    let (gw, _alpha) = TestGateway::with_alpha().await;
    let limits = LimitsChange {
        rate: Some(Setting::Is(Rate::parse("2/m").expect("a rate"))),
        ..LimitsChange::default()
    };
    let (id, c) = key(&gw, "two-a-minute", limits).await;
    // Ten checks spend none of the two calls a minute.
    for _ in 0..10 {
        let d = check(&gw, "two-a-minute").await;
        assert_eq!(d["decision"], "allow", "{d}");
    }
    for _ in 0..2 {
        let m = echo(&c).await;
        assert!(m.get("result").is_some(), "{m}");
    }
    // Now the next call is over the rate: the check says so, and the call meets it.
    let checked = check(&gw, "two-a-minute").await;
    let called = echo(&c).await;
    let reason = newest_reason(&gw, &id, 3).await;
    same_refusal(&checked, &called, &reason, "rate");
    assert!(
        checked["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("2/m")),
        "{checked}"
    );
}

#[tokio::test]
async fn check_says_the_daily_quota_would_refuse_and_charges_nothing() {
    let (gw, _alpha) = TestGateway::with_alpha().await;
    let limits = LimitsChange {
        daily_calls: Some(Setting::Is(1)),
        ..LimitsChange::default()
    };
    let (id, c) = key(&gw, "once-a-day", limits).await;
    for _ in 0..10 {
        let d = check(&gw, "once-a-day").await;
        assert_eq!(d["decision"], "allow", "{d}");
    }
    let m = echo(&c).await;
    assert!(m.get("result").is_some(), "{m}");
    let checked = check(&gw, "once-a-day").await;
    let called = echo(&c).await;
    let reason = newest_reason(&gw, &id, 2).await;
    same_refusal(&checked, &called, &reason, "daily_calls");
}

#[tokio::test]
async fn check_says_a_call_in_flight_or_a_tools_rate_would_refuse() {
    let (gw, _alpha) = TestGateway::with_alpha().await;
    let ns = json!({"name": "rated", "servers": ["alpha"],
                    "tools": {"alpha__echo": {"rate": "1/m"}}});
    gw.namespace(ns).await;
    let limits = LimitsChange {
        max_concurrent: Some(Setting::Is(1)),
        ..LimitsChange::default()
    };
    let (id, c) = key(&gw, "one-at-a-time", limits).await;
    // A call in flight holds the key's one place: the check sees it taken.
    let slow = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                      "params": {"name": "alpha__sleep", "arguments": {"ms": 3000}}});
    let (checked, called) = {
        let in_flight = c.post(&slow);
        let beside = async {
            let checked = eventually(WAIT, "the call in flight", || async {
                let d = check(&gw, "one-at-a-time").await;
                (d["decision"] == "deny").then_some(d)
            })
            .await;
            (checked, echo(&c).await)
        };
        let (_, both) = tokio::join!(in_flight, beside);
        both
    };
    let reason = newest_reason(&gw, &id, 1).await;
    same_refusal(&checked, &called, &reason, "concurrency");
    // Once it has ended, the place is free again.
    let d = check(&gw, "one-at-a-time").await;
    assert_eq!(d["decision"], "allow", "{d}");

    // A namespace's rate for one tool: one call a minute, then the check says so.
    let in_ns = |key: &str| json!({"principal": key, "tool": "alpha__echo", "namespace": "rated"});
    let (id, api_key) = limited_key(&key_store(&gw.db), "rated-key", LimitsChange::default()).await;
    eventually(WAIT, "the key known to the gateway", || async {
        let r = send_json(
            gw.addr,
            "POST",
            "/api/v1/policies/check",
            &gw.admin_key,
            &in_ns("rated-key"),
        )
        .await;
        (r.status == 200).then_some(())
    })
    .await;
    let c = gw.session("/mcp/rated", &api_key).await;
    for _ in 0..5 {
        let r = send_json(
            gw.addr,
            "POST",
            "/api/v1/policies/check",
            &gw.admin_key,
            &in_ns("rated-key"),
        )
        .await;
        assert_eq!(r.json()["decision"], "allow", "{}", r.text());
    }
    let m = echo(&c).await;
    assert!(m.get("result").is_some(), "{m}");
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/policies/check",
        &gw.admin_key,
        &in_ns("rated-key"),
    )
    .await;
    let checked = r.json();
    let called = echo(&c).await;
    let reason = newest_reason(&gw, &id, 2).await;
    same_refusal(&checked, &called, &reason, "tool_rate");
}
