//! A code-mode run in the audit trail and in traces (issue 77): the `run_code` call's row
//! has an identity (`call_id`), each inner call's row names it as `parent` under its
//! tool's own name (calls refused by a policy, by the namespace or by the key's daily
//! quota too, with their outcome and reason), a direct call's row has none, a run
//! suspended for the user and resumed keeps its identity, and `GET
//! /api/v1/audit?parent=` finds a run's inner calls. Each
//! inner call is a span of its own, named as a direct call of its tool is, whose parent
//! is the run's span, in the run's trace, over the forwarded call's client span (a real
//! OTLP receiver, `control::tracing`'s). A `parent` that is no call id is a 400 naming
//! it, whatever it is (a property test against the id's shape).

use std::time::Duration;

use proptest::strategy::{Strategy, ValueTree};
use serde_json::{Value, json};

use crate::control::tracing::{Receiver, tracing_to};
use crate::support;
use crate::support::gateway::TestGateway;
use crate::support::http::get;
use crate::support::mcp::response_message;
use crate::support::mock::Mock;
use metamcp::config::{Root, Sampler};

const RUN_TRACE: &str = "5d1c2a0e9b8f47a3a1c4e6f8b2d0e913";
const CLIENT_SPAN: &str = "a1b2c3d4e5f60718";

/// Three calls over two servers and one a policy refuses (caught): the codes it met.
const SCRIPT: &str = r#"
    const out = [];
    out.push(await tools.alpha__add({a: 2, b: 3}));
    out.push(await tools.alpha__echo({message: 'first'}));
    try { await callTool('beta__add', {a: 1, b: 2}); out.push('ran'); }
    catch (e) { out.push(e.code); }
    out.push(await callTool('beta__echo', {message: 'last'}));
    return out;
"#;

async fn audit(gw: &TestGateway, query: &str) -> Value {
    let r = get(gw.addr, &format!("/api/v1/audit?{query}"), &gw.admin_key).await;
    assert_eq!(r.status, 200, "{query}: {}", r.text());
    r.json()
}

fn entries(page: &Value) -> Vec<Value> {
    page["entries"].as_array().cloned().unwrap_or_default()
}

/// `run_code` with `code` through `c`, carrying `traceparent` when given: its result.
async fn run(c: &support::mcp::Client, code: &str, traceparent: Option<&str>) -> Value {
    let msg = json!({"jsonrpc": "2.0", "id": "run-1", "method": "tools/call",
                     "params": {"name": "run_code", "arguments": {"code": code}}});
    let extra: Vec<(&str, &str)> = traceparent
        .map(|t| ("traceparent", t))
        .into_iter()
        .collect();
    let r = c.post_raw(msg.to_string().as_bytes(), &extra).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let m = response_message(&r);
    assert!(m.get("error").is_none(), "run_code failed as a call: {m}");
    m["result"].clone()
}

#[tokio::test]
async fn a_runs_inner_calls_are_rows_and_spans_under_the_run() {
    let receiver = Receiver::start(&[]);
    let gw = TestGateway::start_with(|c| {
        c.code.mode = metamcp::model::CodeMode::On;
        // Only a request that comes sampled is traced: the warm-up runs are not.
        c.tracing = Some(tracing_to(
            receiver.port,
            Sampler::ParentBased(Root::AlwaysOff),
        ));
    })
    .await;
    let (alpha, beta) = (Mock::start(&[]), Mock::start(&["--profile", "rich"]));
    gw.register(json!({"name": "alpha", "protocol": "http", "url": alpha.url()}))
        .await;
    gw.register(
        json!({"name": "beta", "protocol": "http", "url": beta.url(),
                       "tool_changes": "accept"}),
    )
    .await;
    let rule =
        json!([{"effect": "deny", "when": "tool.name == 'beta__add'", "reason": "no adding"}]);
    let body = json!({"name": "no-add", "text": rule.to_string()});
    let r =
        support::http::send_json(gw.addr, "POST", "/api/v1/policies", &gw.admin_key, &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let c = gw.session("/mcp", &gw.client_key).await;
    let denied = json!(metamcp::mcp::wire::rpc::code::POLICY_DENIED);
    // Both servers routed and the policy applied (these runs are not traced).
    support::eventually(support::WAIT, "both servers and the policy", || async {
        let r = run(&c, SCRIPT, None).await;
        (r["structuredContent"]["result"][2] == denied).then_some(())
    })
    .await;

    // The run under test, traced.
    let traceparent = format!("00-{RUN_TRACE}-{CLIENT_SPAN}-01");
    let r = run(&c, SCRIPT, Some(&traceparent)).await;
    let out = &r["structuredContent"]["result"];
    assert_eq!(out[2], denied, "{r}");
    assert!(out[3].as_str().is_some_and(|s| s.contains("last")), "{r}");
    // A direct call afterwards: a row of its own, no parent.
    let direct = c
        .call_tool("alpha__echo", json!({"message": "direct"}))
        .await;
    assert!(direct.get("error").is_none(), "{direct}");

    // The run's row: the newest run_code row, with an identity and no parent.
    let (run_row, direct_row) = support::eventually(support::WAIT, "the rows", || async {
        let runs = entries(&audit(&gw, "tool=run_code&limit=1").await);
        let directs = entries(&audit(&gw, "tool=alpha__echo&limit=1").await);
        match (runs.first(), directs.first()) {
            (Some(r), Some(d))
                if r["trace_id"] == RUN_TRACE && d["at"].as_str() > r["at"].as_str() =>
            {
                Some((r.clone(), d.clone()))
            }
            _ => None,
        }
    })
    .await;
    assert_eq!(
        (&run_row["server"], &run_row["outcome"], &run_row["parent"]),
        (&json!("metamcp"), &json!("ok"), &Value::Null),
        "{run_row}"
    );
    let run_id = run_row["call_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{run_row}"));
    assert!(uuid::Uuid::try_parse(run_id).is_ok(), "{run_row}");
    assert_eq!(direct_row["parent"], Value::Null, "{direct_row}");
    assert!(direct_row["call_id"].is_string(), "{direct_row}");
    assert_ne!(direct_row["call_id"], run_row["call_id"]);

    // Its inner calls, by parent: each under its tool's name, the refused one denied.
    let inner = support::eventually(support::WAIT, "the inner rows", || async {
        let rows = entries(&audit(&gw, &format!("parent={run_id}")).await);
        (rows.len() >= 4).then_some(rows)
    })
    .await;
    let mut seen: Vec<(String, String, String, String)> = inner
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("-").to_string();
            (s("tool"), s("server"), s("outcome"), s("reason"))
        })
        .collect();
    seen.sort();
    let want = [
        ("alpha__add", "alpha", "ok", "-"),
        ("alpha__echo", "alpha", "ok", "-"),
        ("beta__add", "beta", "denied", "policy no-add"),
        ("beta__echo", "beta", "ok", "-"),
    ]
    .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()));
    assert_eq!(seen, want, "{inner:#?}");
    let mut ids = std::collections::HashSet::new();
    for e in &inner {
        assert_eq!(e["parent"], run_id, "{e}");
        assert_eq!(e["trace_id"], RUN_TRACE, "{e}");
        assert_eq!(e["key_id"], run_row["key_id"], "{e}");
        assert_eq!(e["method"], "tools/call", "{e}");
        assert!(ids.insert(e["call_id"].to_string()), "{e}");
    }
    assert!(!ids.contains(&run_row["call_id"].to_string()));
    // The run's own row is not among its children, and other filters still apply.
    let denied_rows = entries(&audit(&gw, &format!("parent={run_id}&outcome=denied")).await);
    assert_eq!(denied_rows.len(), 1, "{denied_rows:#?}");
    assert_eq!(denied_rows[0]["tool"], "beta__add");

    // The spans: the run's server span, four inner spans under it named as direct calls,
    // and each forwarded call's client span under its inner span.
    let spans = support::eventually(Duration::from_secs(10), "the run's spans", || async {
        let spans: Vec<Value> = receiver
            .spans()
            .into_iter()
            .filter(|s| s["trace_id"] == RUN_TRACE)
            .collect();
        let count = |k: i64| spans.iter().filter(|s| s["kind"] == k).count();
        (count(2) >= 1 && inner_of(&spans).len() >= 4 && count(3) >= 3).then_some(spans)
    })
    .await;
    let server = spans
        .iter()
        .find(|s| s["kind"] == 2)
        .unwrap_or_else(|| panic!("{spans:#?}"));
    assert_eq!(server["name"], "tools/call run_code", "{server}");
    assert_eq!(server["parent_span_id"], CLIENT_SPAN);
    let mut inner_spans = inner_of(&spans);
    inner_spans.sort_by_key(|s| s["name"].as_str().unwrap_or_default().to_string());
    let names: Vec<&str> = inner_spans
        .iter()
        .map(|s| s["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        [
            "tools/call alpha__add",
            "tools/call alpha__echo",
            "tools/call beta__add",
            "tools/call beta__echo"
        ],
        "{spans:#?}"
    );
    for s in &inner_spans {
        assert_eq!(s["parent_span_id"], server["span_id"], "{s}");
        let a = &s["attributes"];
        assert_eq!(a["mcp.method.name"], "tools/call", "{s}");
        assert_eq!(
            Some(a["gen_ai.tool.name"].as_str().unwrap_or_default()),
            s["name"]
                .as_str()
                .and_then(|n| n.strip_prefix("tools/call ")),
            "{s}"
        );
        let refused = s["name"] == "tools/call beta__add";
        let code = a["error.type"].as_str().and_then(|c| c.parse::<i64>().ok());
        assert_eq!(code == denied.as_i64(), refused, "{s}");
        assert_eq!(s["status_code"] == 2, refused, "{s}");
    }
    // Each forwarded call's client span hangs under its own inner span.
    let clients: Vec<&Value> = spans.iter().filter(|s| s["kind"] == 3).collect();
    assert_eq!(clients.len(), 3, "{spans:#?}");
    for client in clients {
        let parent = inner_spans
            .iter()
            .find(|s| s["span_id"] == client["parent_span_id"])
            .unwrap_or_else(|| panic!("a client span outside the inner spans: {client}"));
        assert_eq!(
            parent["attributes"]["metamcp.server"], client["attributes"]["metamcp.server"],
            "{client}"
        );
        assert_ne!(
            parent["name"], "tools/call beta__add",
            "the denied call went out"
        );
    }
}

/// The inner calls' spans among `spans` (an authentication span is internal too).
fn inner_of(spans: &[Value]) -> Vec<&Value> {
    spans
        .iter()
        .filter(|s| {
            s["kind"] == 1
                && s["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("tools/call"))
        })
        .collect()
}

/// A run suspended for the user's confirmation (a 2026-07-28 client: `input_required`,
/// then its retry, possibly at another replica) keeps its identity in its sealed state:
/// the call made before the question and those made after the answer all name the one
/// row the run leaves when it ends, and no call is audited twice.
#[tokio::test]
async fn a_suspended_and_resumed_run_keeps_one_identity() {
    use super::confirm::{POLICY, gateway, stage, staged};
    let (gw, repo) = gateway(|_| {}).await;
    let ns = json!({"name": "coded", "servers": ["git"], "code_mode": "on"});
    let made =
        support::http::send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let rules = json!([{"effect": "confirm",
        "when": "tool.annotations.destructiveHint == true && tool.name != 'run_code'"}]);
    let path = format!("/api/v1/policies/{POLICY}");
    let changed = support::http::send_json(
        gw.addr,
        "PUT",
        &path,
        &gw.admin_key,
        &json!({ "text": rules.to_string() }),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    let p = json!({ "repo_path": repo.path() });
    let code = format!(
        "const p = {p};\n\
         const before = await tools.git__git_diff_staged(p);\n\
         await tools.git__git_reset(p);\n\
         const after = await tools.git__git_diff_staged(p);\n\
         return {{before: before.includes('notes.txt'), after: after.includes('notes.txt')}};"
    );
    let call = |id: u64, retry: Option<(&str, Value)>| {
        let mut params = json!({"name": "run_code", "arguments": {"code": code},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}}}});
        if let Some((state, answer)) = retry {
            params["requestState"] = state.into();
            params["inputResponses"] = json!({ "confirm": answer });
        }
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
    };
    let c = support::mcp::Client::new(gw.addr, "/mcp/coded", Some(&gw.client_key));
    assert_eq!(stage(repo.path()), "notes.txt");
    let asked = response_message(&c.post_stateless(&call(1, None)).await);
    assert_eq!(asked["result"]["resultType"], "input_required", "{asked}");
    let state = asked["result"]["requestState"].as_str().unwrap_or_default();
    let accept = json!({"action": "accept", "content": {"confirm": true}});
    let done = response_message(&c.post_stateless(&call(2, Some((state, accept)))).await);
    assert_eq!(
        done["result"]["structuredContent"]["result"],
        json!({"before": true, "after": false}),
        "{done}"
    );
    assert_eq!(staged(repo.path()), "", "the reset ran");

    // One run row (the suspended request left none), and its three calls under it.
    let (run_row, inner) = support::eventually(support::WAIT, "the rows", || async {
        let runs = entries(&audit(&gw, "tool=run_code").await);
        let run_row = runs.first()?.clone();
        let id = run_row["call_id"].as_str()?;
        let inner = entries(&audit(&gw, &format!("parent={id}")).await);
        let ok = inner.iter().filter(|e| e["outcome"] == "ok").count();
        (runs.len() == 1 && ok >= 3).then_some((run_row, inner))
    })
    .await;
    let run_id = run_row["call_id"].as_str().unwrap_or_default();
    let mut ran: Vec<(String, String)> = inner
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("-").to_string();
            (s("tool"), s("outcome"))
        })
        .collect();
    ran.sort();
    assert_eq!(
        ran,
        [
            ("git__git_diff_staged", "ok"),
            ("git__git_diff_staged", "ok"),
            ("git__git_reset", "ok")
        ]
        .map(|(t, o)| (t.to_string(), o.to_string())),
        "{inner:#?}"
    );
    // Every row of those tools is the run's: none is without a parent.
    for tool in ["git__git_diff_staged", "git__git_reset"] {
        for e in entries(&audit(&gw, &format!("tool={tool}")).await) {
            assert_eq!(e["parent"], run_id, "{e}");
        }
    }
}

/// Other refusals of inner calls are rows under their run too, each `denied` with the
/// reason a direct call's row has: a tool the namespace disables, and the key's daily
/// quota spent mid-script; the calls that ran are `ok` beside them, one row each.
#[tokio::test]
async fn refused_inner_calls_of_other_kinds_are_rows_under_the_run() {
    use metamcp::model::limits::{LimitsChange, Setting};
    let gw = TestGateway::start().await;
    let alpha = Mock::start(&[]);
    gw.register(json!({"name": "alpha", "protocol": "http", "url": alpha.url()}))
        .await;
    let ns = json!({"name": "team", "servers": ["alpha"], "code_mode": "on",
                    "tools": {"alpha__fail": {"enabled": false}}});
    let r =
        support::http::send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
    assert_eq!(r.status, 201, "{}", r.text());
    // alpha routed in the namespace (asked with the admin key: the quota is the client's).
    let admin = gw.session("/mcp/team", &gw.admin_key).await;
    support::eventually(support::WAIT, "alpha routed", || async {
        let m = admin
            .call_tool("alpha__echo", json!({"message": "up"}))
            .await;
        m.get("error").is_none().then_some(())
    })
    .await;
    let store = support::gateway::key_store(&gw.db);
    let limits = LimitsChange {
        daily_calls: Some(Setting::Is(4)),
        ..LimitsChange::default()
    };
    let (key_id, key) = support::gateway::limited_key(&store, "quota", limits).await;
    let c = gw.session("/mcp/team", &key).await;
    let code = r#"
        const out = [];
        try { await callTool('alpha__fail', {}); out.push('ran'); } catch (e) { out.push(e.code); }
        for (let i = 0; i < 5; i++) {
            try { await tools.alpha__echo({message: 'n' + i}); out.push('ok'); }
            catch (e) { out.push(e.code); }
        }
        return out;
    "#;
    let r = run(&c, code, None).await;
    let out: Vec<Value> = r["structuredContent"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("{r}"));
    let limited = json!(metamcp::mcp::wire::rpc::code::LIMITED);
    let (ran, refused) = (
        out.iter().filter(|o| **o == "ok").count(),
        out.iter().filter(|o| **o == limited).count(),
    );
    assert!(ran >= 1 && refused >= 1 && ran + refused == 5, "{r}");
    assert_eq!(
        out[0],
        json!(metamcp::mcp::wire::rpc::code::INVALID_PARAMS),
        "{r}"
    );

    let (run_row, inner) = support::eventually(support::WAIT, "the rows", || async {
        let run_row = entries(&audit(&gw, &format!("tool=run_code&key={key_id}")).await).pop()?;
        let id = run_row["call_id"].as_str()?;
        let inner = entries(&audit(&gw, &format!("parent={id}")).await);
        (inner.len() >= 6).then_some((run_row, inner))
    })
    .await;
    let count = |tool: &str, outcome: &str, reason: Option<&str>| {
        inner
            .iter()
            .filter(|e| {
                e["tool"] == tool && e["outcome"] == outcome && e["reason"].as_str() == reason
            })
            .count()
    };
    assert_eq!(
        (
            count("alpha__fail", "denied", Some("disabled in the namespace")),
            count("alpha__echo", "ok", None),
            count("alpha__echo", "denied", Some("limit daily_calls")),
        ),
        (1, ran, refused),
        "{inner:#?}"
    );
    assert_eq!(inner.len(), 6, "{inner:#?}");
    for e in &inner {
        assert_eq!(e["parent"], run_row["call_id"], "{e}");
        assert_eq!(e["key_id"], key_id.as_str(), "{e}");
    }
}

/// What the test takes for a call id: the hyphenated form, 8-4-4-4-12 hex digits.
fn is_call_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn percent_encoded(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// `?parent=` takes a call id and nothing else: anything else is a 400 naming `parent`
/// with a message that says what it wants (never a 500 or a 503, never a page); a call id
/// is a page, of that parent's rows only.
#[tokio::test]
async fn the_parent_filter_takes_a_call_id_and_refuses_anything_else_clearly() {
    let gw = TestGateway::start().await;
    let values = proptest::prop_oneof![
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        // Near misses: a digit short or long, braces, no hyphens, a URN, a stray byte.
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{11,13}",
        "\\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\}",
        "[0-9a-f]{32}",
        "urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-g]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[0-9a-f-]{30,40}",
        ".{0,48}",
        "(\\u{0}|'|;|--|\\u{FEFF}|é|1){1,12}",
        "[0-9]{1,20}",
    ];
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut taken, mut refused) = (0, 0);
    for _ in 0..160 {
        let v = values.new_tree(&mut runner).expect("a value").current();
        let path = format!("/api/v1/audit?parent={}", percent_encoded(&v));
        let r = get(gw.addr, &path, &gw.admin_key).await;
        let body = r.json();
        if is_call_id(&v) {
            taken += 1;
            assert_eq!(r.status, 200, "{v:?}: {body}");
            assert_eq!(body["entries"], json!([]), "{v:?}: {body}");
        } else {
            refused += 1;
            assert_eq!(
                (r.status, body["code"].as_str(), body["field"].as_str()),
                (400, Some("invalid_request"), Some("parent")),
                "{v:?}: {body}"
            );
            let message = body["error"].as_str().unwrap_or_default();
            assert!(message.contains("not a call id"), "{v:?}: {body}");
            assert!(message.len() < 400, "{v:?}: a message that long: {body}");
        }
    }
    assert!(
        taken >= 10 && refused >= 80,
        "{taken} taken, {refused} refused"
    );
    // An empty value is no call id either.
    let r = get(gw.addr, "/api/v1/audit?parent=", &gw.admin_key).await;
    assert_eq!((r.status, &r.json()["field"]), (400, &json!("parent")));
    // keyadm's --parent is checked the same way, before anything is read.
    let refused = support::keyadm(&gw.db, &["audit", "--parent", "run-7"]).await;
    let (_, message) = refused.expect_err("refused");
    assert!(
        message.contains("--parent") && message.contains("not a call id"),
        "{message}"
    );
    let out = support::keyadm(
        &gw.db,
        &[
            "audit",
            "--parent",
            &uuid::Uuid::new_v4().to_string(),
            "--json",
        ],
    )
    .await
    .expect("keyadm audit --parent");
    let page: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(page["entries"], json!([]), "{page}");
}
