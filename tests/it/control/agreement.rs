//! The operator's two views agree: `keyadm servers list --json` (which reads what each
//! replica writes to PostgreSQL) and REST's server objects (the replica's memory) give
//! the same status, tools, restarts and last error, within seconds, on a gateway under
//! change: a list that grows with no status change, a server changed in place (same id,
//! routed all along), a backend that went away and came back, one that never connects.

use serde_json::{Value, json};

use crate::support::gateway::TestGateway;
use crate::support::http::{get, send_json};
use crate::support::{self, WAIT};

/// The fields both views give, by server name.
fn views(servers: &Value) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = servers
        .as_array()
        .expect("a list of servers")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_string(),
                json!({"status": s["status"], "tools": s["tools"], "restarts": s["restarts"],
                       "last_error": s["last_error"]}),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

async fn rest(gw: &TestGateway) -> Vec<(String, Value)> {
    let r = get(gw.addr, "/api/v1/mcp/servers", &gw.admin_key).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    views(body.get("servers").unwrap_or(&body))
}

async fn keyadm(gw: &TestGateway) -> Vec<(String, Value)> {
    let out = support::keyadm(&gw.db, &["servers", "list", "--json"])
        .await
        .expect("keyadm servers list");
    views(&serde_json::from_str(&out).expect("keyadm's JSON"))
}

/// Polls until keyadm and REST agree; the two views when they do.
async fn agreed(gw: &TestGateway, what: &str) -> Vec<(String, Value)> {
    support::eventually(WAIT, what, || async {
        let (a, b) = (rest(gw).await, keyadm(gw).await);
        (a == b).then_some(a)
    })
    .await
}

#[tokio::test]
async fn keyadm_and_rest_give_the_same_servers_under_change() {
    let (gw, mut alpha, beta) = TestGateway::with_alpha_and_beta().await;
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers",
        &gw.admin_key,
        &json!({"name": "down", "protocol": "http", "url": "http://127.0.0.1:1/mcp"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let first = agreed(&gw, "both views at the start").await;
    let down = &first.iter().find(|(n, _)| n == "down").unwrap().1;
    assert!(down["last_error"].is_string(), "{first:?}");

    // beta's list grows with no status change.
    let before = first.iter().find(|(n, _)| n == "beta").unwrap().1["tools"].clone();
    let c = gw.client_session().await;
    c.result(
        "tools/call",
        json!({"name": "beta__toggle", "arguments": {}}),
    )
    .await;
    let grown = support::eventually(WAIT, "beta's longer list in both views", || async {
        let v = agreed(&gw, "both views after the toggle").await;
        let tools = v.iter().find(|(n, _)| n == "beta")?.1["tools"].clone();
        (tools != before).then_some(v)
    })
    .await;
    assert_eq!(
        grown.iter().find(|(n, _)| n == "beta").unwrap().1["status"],
        "running"
    );

    // alpha changed in place (same id), then its backend gone and back.
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/alpha",
        &gw.admin_key,
        &json!({"timeout_ms": 20000}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    alpha.restart();
    let v = support::eventually(WAIT, "alpha running again in both views", || async {
        let v = agreed(&gw, "both views after alpha's change").await;
        let a = &v.iter().find(|(n, _)| n == "alpha")?.1;
        (a["status"] == "running" && a["tools"].as_u64() > Some(0)).then_some(v)
    })
    .await;
    drop(beta);
    assert_eq!(v.len(), 3, "{v:?}");
}
