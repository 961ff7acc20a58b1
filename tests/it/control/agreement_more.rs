//! The operator's two views agree beyond servers: `keyadm … --json` and REST give the
//! same keys, namespaces, reviews and audit trail on a gateway under change (calls
//! audited, a namespace created and changed, a tool definition held and approved, a key
//! made inactive).

use serde_json::{Value, json};

use crate::support::gateway::TestGateway;
use crate::support::http::{get, send_json};
use crate::support::{self, WAIT};

/// keyadm's JSON for `args` and REST's for `path`, each as it stands.
async fn both(gw: &TestGateway, args: &[&str], path: &str) -> (Value, Value) {
    let out = support::keyadm(&gw.db, args)
        .await
        .unwrap_or_else(|e| panic!("keyadm {args:?}: {e:?}"));
    let by_keyadm: Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("keyadm {args:?}: {e}: {out}"));
    let r = get(gw.addr, path, &gw.admin_key).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    (by_keyadm, r.json())
}

/// Where `k` (keyadm's) and `r` (REST's) differ: every field keyadm gives must be REST's,
/// and REST may add only the fields in `live` (what a replica computes from the tools it
/// holds in memory, which keyadm, reading PostgreSQL, cannot know).
fn differences(k: &Value, r: &Value, live: &[&str], at: &str, out: &mut Vec<String>) {
    match (k, r) {
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                differences(x, y, live, &format!("{at}[{i}]"), out);
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            for (name, v) in a {
                match b.get(name) {
                    Some(w) if w == v => {}
                    Some(w) => out.push(format!("{at}.{name}: keyadm {v}, REST {w}")),
                    None => out.push(format!("{at}.{name}: keyadm {v}, not in REST")),
                }
            }
            for name in b.keys().filter(|n| !a.contains_key(*n)) {
                if !live.contains(&name.as_str()) {
                    out.push(format!("{at}.{name}: REST {}, not in keyadm", b[name]));
                }
            }
        }
        _ if k == r => {}
        _ => out.push(format!("{at}: keyadm {k}, REST {r}")),
    }
}

/// keyadm's command, REST's path, and the fields only a replica's memory gives.
type Pair = (&'static [&'static str], String, &'static [&'static str]);

/// Polls until the two views of every pair agree; panics with every difference when the
/// deadline passes.
async fn agree(gw: &TestGateway, what: &str, pairs: &[Pair]) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let mut differ = Vec::new();
        for (args, path, live) in pairs {
            let (k, r) = both(gw, args, path).await;
            differences(
                &k,
                &r,
                live,
                &format!("keyadm {args:?} / {path}"),
                &mut differ,
            );
        }
        if differ.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: the views differ\n{}",
            differ.join("\n")
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A namespace's state as a replica computes it from the tools it serves.
const NAMESPACE_LIVE: &[&str] = &[
    "problems",
    "tool_search_effective",
    "tool_search_embedded",
    "tool_search_why",
];

fn pairs(client_key_id: &str) -> Vec<Pair> {
    vec![
        (
            &["namespaces", "list", "--json"],
            "/api/v1/namespaces".into(),
            NAMESPACE_LIVE,
        ),
        (
            &["namespaces", "show", "team", "--json"],
            "/api/v1/namespaces/team".into(),
            NAMESPACE_LIVE,
        ),
        (
            &["reviews", "list", "--json"],
            "/api/v1/reviews".into(),
            &[],
        ),
        (&["audit", "--json"], "/api/v1/audit".into(), &[]),
        (
            &["keys", "show", "client", "--json"],
            format!("/api/v1/keys/{client_key_id}"),
            &[],
        ),
    ]
}

#[tokio::test]
async fn keyadm_and_rest_give_the_same_keys_namespaces_reviews_and_audit_under_change() {
    let (gw, alpha, _beta) = TestGateway::with_alpha_and_beta().await;
    let key = get(gw.addr, "/api/v1/keys/client", &gw.admin_key).await;
    assert_eq!(key.status, 200, "{}", key.text());
    let id = key.json()["id"].as_str().unwrap_or_default().to_string();
    let pairs = pairs(&id);

    let c = gw.client_session().await;
    c.result(
        "tools/call",
        json!({"name": "alpha__echo", "arguments": {"message": "hi"}}),
    )
    .await;
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/namespaces",
        &gw.admin_key,
        &json!({"name": "team", "servers": ["alpha"]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    support::eventually(WAIT, "the call in the audit trail", || async {
        let r = get(gw.addr, "/api/v1/audit", &gw.admin_key).await;
        (r.json()["entries"]
            .as_array()
            .is_some_and(|a| !a.is_empty()))
        .then_some(())
    })
    .await;
    agree(&gw, "after a call and a namespace", &pairs).await;

    // alpha words its echo anew: held for review in both views, then approved.
    let tools = json!([{"name": "echo", "description": "Echoes the message back, reworded",
        "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}}}]);
    let addr = format!("127.0.0.1:{}", alpha.port)
        .parse()
        .expect("address");
    let body = tools.to_string();
    let r =
        support::http::request(addr, "POST", "/control/tools", &[], Some(body.as_bytes())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    support::eventually(WAIT, "the reworded echo held", || async {
        let r = get(gw.addr, "/api/v1/reviews", &gw.admin_key).await;
        (r.json()["reviews"]
            .as_array()
            .is_some_and(|a| !a.is_empty()))
        .then_some(())
    })
    .await;
    agree(&gw, "with a definition held", &pairs).await;
    support::keyadm(&gw.db, &["reviews", "approve", "alpha"])
        .await
        .expect("approve");
    support::keyadm(&gw.db, &["keys", "inactivate", "client"])
        .await
        .expect("inactivate");
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/namespaces/team",
        &gw.admin_key,
        &json!({"servers": ["alpha", "beta"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    agree(
        &gw,
        "after the approval, the key and the namespace changed",
        &pairs,
    )
    .await;
}
