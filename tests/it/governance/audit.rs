//! The audit trail over real sockets and a real PostgreSQL: one row per forwarded call
//! with its outcome and never its arguments, registry changes with the admin key that
//! made them, filters and cursor pagination, usage per key, a database outage that loses
//! nothing queued, and retention.

use crate::support;

use std::time::{Duration, SystemTime};

use crate::support::eventually;
use crate::support::gateway::{TestGateway, key_store};
use crate::support::http::{get, send_json};
use crate::support::mcp::Client;
use crate::support::mock::Mock;
use metamcp::observe::audit::{Entry, Kind};
use metamcp::store::keys::{KeyStore, NewKey, Scope};
use serde_json::{Value, json};

/// A value no audit row may ever hold: it travels only as a tool argument.
const SECRET_ARGUMENT: &str = "argument-value-7f3a9c-never-stored";

async fn key(store: &KeyStore, name: &str, scope: Scope) -> (String, String) {
    let issued = store
        .create(NewKey {
            name: name.into(),
            description: None,
            scope,
            namespaces: vec![],
            expires_in_days: None,
            limits: Default::default(),
        })
        .await
        .expect("create key");
    (issued.id.to_string(), issued.api_key)
}

/// The audit page for `query`, as the admin reads it.
async fn audit(gw: &TestGateway, query: &str) -> Value {
    let r = get(gw.addr, &format!("/api/v1/audit?{query}"), &gw.admin_key).await;
    assert_eq!(r.status, 200, "{query}: {}", r.text());
    r.json()
}

fn outcomes(page: &Value) -> Vec<String> {
    page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["outcome"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn every_forwarded_call_is_one_row_with_its_outcome_and_no_argument_values() {
    let gw = TestGateway::start().await;
    let store = key_store(&gw.db);
    let (client_id, client_key) = key(&store, "auditee", Scope::Client).await;
    let alpha = Mock::start(&[]);
    let mut beta = Mock::start(&[]);
    gw.register(
        json!({"name": "alpha", "protocol": "http", "url": alpha.url(),
                       "timeout_ms": 300, "breaker_failures": 2,
                       "breaker_cooldown_ms": 600000}),
    )
    .await;
    gw.register(json!({"name": "beta", "protocol": "http", "url": beta.url()}))
        .await;
    let c = gw.session("/mcp", &client_key).await;

    // ok, through MCP and through REST execute.
    let r = c
        .call_tool("alpha__echo", json!({"message": SECRET_ARGUMENT}))
        .await;
    assert!(r["result"].is_object(), "{r}");
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/alpha/tools/echo/execute",
        &client_key,
        &json!({"message": SECRET_ARGUMENT}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // tool_error: an isError result.
    let r = c.call_tool("alpha__fail", json!({})).await;
    assert_eq!(r["result"]["isError"], true, "{r}");
    // rpc_error: the backend answers with a JSON-RPC error.
    let r = c
        .call_tool("alpha__echo", json!({"not_message": SECRET_ARGUMENT}))
        .await;
    assert!(r["error"].is_object(), "{r}");
    // unavailable: the owner is down.
    beta.kill();
    gw.wait_status("beta", "failed").await;
    let r = c
        .call_tool("beta__echo", json!({"message": SECRET_ARGUMENT}))
        .await;
    assert!(r["error"].is_object(), "{r}");
    // timeout twice, which opens alpha's circuit; then refused.
    for _ in 0..2 {
        let r = c.call_tool("alpha__sleep", json!({"ms": 5000})).await;
        assert!(r["error"].is_object(), "{r}");
    }
    let r = c
        .call_tool("alpha__echo", json!({"message": SECRET_ARGUMENT}))
        .await;
    assert!(r["error"].is_object(), "{r}");

    // All eight within 2 s, newest first.
    let expected = [
        "refused",
        "timeout",
        "timeout",
        "unavailable",
        "rpc_error",
        "tool_error",
        "ok",
        "ok",
    ];
    let page = eventually(Duration::from_secs(2), "eight audit rows", || async {
        let page = audit(&gw, &format!("key={client_id}")).await;
        (page["entries"].as_array().map(Vec::len) == Some(expected.len())).then_some(page)
    })
    .await;
    assert_eq!(outcomes(&page), expected, "{page:#}");
    let entries = page["entries"].as_array().unwrap();
    for e in entries {
        assert_eq!(e["kind"], "call", "{e}");
        assert_eq!(e["key_id"], client_id.as_str(), "{e}");
        assert_eq!(e["method"], "tools/call", "{e}");
        assert!(e["at"].as_str().unwrap().ends_with('Z'), "{e}");
        assert!(e["duration_ms"].as_f64().is_some(), "{e}");
    }
    let echo = &entries[7];
    assert_eq!(
        (&echo["server"], &echo["tool"], &echo["upstream_tool"]),
        (&json!("alpha"), &json!("alpha__echo"), &json!("echo")),
        "{echo}"
    );
    assert!(echo["request_bytes"].as_i64().unwrap() > 0, "{echo}");
    assert!(echo["response_bytes"].as_i64().unwrap() > 0, "{echo}");
    assert_eq!(entries[3]["server"], "beta");
    assert_eq!(entries[3]["tool"], "beta__echo");
    let timeout_ms = entries[1]["duration_ms"].as_f64().unwrap();
    assert!((250.0..5000.0).contains(&timeout_ms), "{timeout_ms}");

    // The registrations are audited with the admin key that made them.
    let changes = audit(&gw, "tool=alpha").await;
    let change = changes["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "change")
        .cloned()
        .expect("a change row");
    assert_eq!(change["method"], "server.create", "{change}");
    let db = gw.db.client().await;
    let admin_id: String = db
        .query_one("SELECT id FROM api_keys WHERE name = 'admin'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(change["key_id"], admin_id.as_str(), "{change}");

    // No argument value anywhere in the table.
    let rows = db
        .query("SELECT row_to_json(a)::text FROM audit_log a", &[])
        .await
        .unwrap();
    assert!(rows.len() >= 10, "{}", rows.len());
    for row in rows {
        let text: String = row.get(0);
        assert!(!text.contains(SECRET_ARGUMENT), "{text}");
    }

    // Usage per key: the admin reads any key's, a client key only its own.
    let usage = get(
        gw.addr,
        &format!("/api/v1/usage?key={client_id}&since=1h"),
        &gw.admin_key,
    )
    .await;
    assert_eq!(usage.status, 200, "{}", usage.text());
    let usage = usage.json();
    assert_eq!(usage["total"]["calls"], 8, "{usage:#}");
    assert_eq!(usage["total"]["errors"], 6, "{usage:#}");
    let echo = usage["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tool"] == "alpha__echo")
        .expect("alpha__echo");
    assert_eq!((&echo["calls"], &echo["errors"]), (&json!(4), &json!(2)));
    assert!(echo["p50_ms"].as_f64().is_some() && echo["p99_ms"].as_f64().is_some());
    let own = get(gw.addr, "/api/v1/usage", &client_key).await;
    assert_eq!(own.status, 200, "{}", own.text());
    assert_eq!(own.json()["key_id"], client_id.as_str());
    let other = get(
        gw.addr,
        &format!("/api/v1/usage?key={admin_id}"),
        &client_key,
    )
    .await;
    assert_eq!(other.status, 403, "{}", other.text());
    let r = get(gw.addr, "/api/v1/audit", &client_key).await;
    assert_eq!(r.status, 403, "{}", r.text());

    // keyadm prints the same.
    let env = gw.db.env();
    let o = support::run_bin(
        env!("CARGO_BIN_EXE_keyadm"),
        &env,
        &["keys", "usage", &client_id, "--json"],
    );
    assert!(o.status.success(), "{}", support::stderr(&o));
    let printed: Value = serde_json::from_str(&support::stdout(&o)).unwrap();
    assert_eq!(printed["total"], usage["total"]);
    let o = support::run_bin(
        env!("CARGO_BIN_EXE_keyadm"),
        &env,
        &["audit", "--key", &client_id, "--since", "1h", "--json"],
    );
    assert!(o.status.success(), "{}", support::stderr(&o));
    let printed: Value = serde_json::from_str(&support::stdout(&o)).unwrap();
    assert_eq!(outcomes(&printed), expected);
    // The text forms, in process (the code the binary runs).
    let keyadm = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let config = gw.db.config();
        async move {
            let inv = metamcp::keyadm::parse(&args).expect("valid arguments");
            metamcp::keyadm::execute(&config, &inv)
                .await
                .expect("keyadm succeeds")
        }
    };
    let text = keyadm(&["audit", "--outcome", "timeout"]).await;
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("AT") && lines[0].contains("OUTCOME"),
        "{text}"
    );
    assert_eq!(lines.len(), 3, "a header and two rows: {text}");
    for row in &lines[1..] {
        assert!(
            row.contains("alpha__sleep") && row.contains("timeout"),
            "{text}"
        );
        // A key by its name; its id on request.
        assert!(
            row.contains("auditee") && !row.contains(&client_id),
            "{text}"
        );
    }
    let text = keyadm(&["audit", "--outcome", "timeout", "--ids"]).await;
    assert!(
        text.lines().skip(1).all(|r| r.contains(&client_id)),
        "{text}"
    );
    assert!(
        page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["key_name"] == "auditee"),
        "{page:#}"
    );
    // A page: the next one is named.
    let text = keyadm(&["audit", "--key", &client_id, "--limit", "2"]).await;
    assert!(text.contains("more: --cursor "), "{text}");
    let text = keyadm(&["audit", "--tool", "nothing__here"]).await;
    assert_eq!(text, "no audit entries\n");
    let text = keyadm(&["keys", "usage", &client_id]).await;
    let echo_row = text
        .lines()
        .find(|l| l.starts_with("alpha__echo "))
        .unwrap_or_else(|| panic!("{text}"));
    let cells: Vec<&str> = echo_row.split_whitespace().collect();
    assert_eq!(&cells[1..4], &["tools/call", "4", "2"], "{text}");
    assert!(
        text.lines().next().is_some_and(|h| h.starts_with("TOOL")),
        "{text}"
    );
    let total = &usage["total"];
    assert!(
        text.contains(&format!(
            "total: {} calls, {} errors,",
            total["calls"], total["errors"]
        )),
        "{text}"
    );
    let text = keyadm(&["keys", "usage", &admin_id, "--since", "1s"]).await;
    assert!(text.ends_with("made no calls in the period\n"), "{text}");
}

/// Queues a row as a call of `server__tool` would, `age` ago.
fn record(
    audit: &metamcp::observe::audit::Audit,
    key: &str,
    server: &str,
    tool: &str,
    outcome: &'static str,
    age: Duration,
) {
    let exposed = format!("{server}__{tool}");
    audit.record(row(key, server, tool, &exposed, outcome, age));
}

/// A row as the writer would queue it, `age` ago.
fn row<'a>(
    key: &str,
    server: &'a str,
    tool: &'a str,
    exposed: &'a str,
    outcome: &'static str,
    age: Duration,
) -> Entry<'a> {
    Entry {
        at: SystemTime::now() - age,
        kind: Kind::Call,
        key_id: Some(metamcp::base::KeyId::parse(key).expect("a key id")),
        subject: None,
        namespace: None,
        server: Some(server.into()),
        method: "tools/call",
        tool: Some(exposed.into()),
        upstream_tool: Some(tool.into()),
        outcome,
        duration: Duration::from_millis(3),
        request_bytes: 10,
        response_bytes: 20,
        trace_id: None,
        reason: None,
        policy_audit: None,
        id: None,
        parent: None,
    }
}

#[tokio::test]
async fn filters_and_cursor_pagination() {
    let gw = TestGateway::start().await;
    let store = key_store(&gw.db);
    let (a, _) = key(&store, "a", Scope::Client).await;
    let (b, _) = key(&store, "b", Scope::Client).await;
    // 25 rows for a on alpha (every fifth an error), 5 for b on beta; one a minute back.
    for i in 0..25u64 {
        let outcome = if i % 5 == 0 { "tool_error" } else { "ok" };
        let tool = if i % 2 == 0 { "even" } else { "odd" };
        record(
            &gw.state.observe.audit,
            &a,
            "alpha",
            tool,
            outcome,
            Duration::from_secs(60 * i),
        );
    }
    for i in 0..5u64 {
        record(
            &gw.state.observe.audit,
            &b,
            "beta",
            "echo",
            "ok",
            Duration::from_secs(60 * i + 30),
        );
    }
    gw.flush_audit().await;

    // Every page of 10 in turn: all 25 once, newest first.
    let mut seen = Vec::new();
    let mut query = format!("key={a}&limit=10");
    let mut pages = 0;
    loop {
        let page = audit(&gw, &query).await;
        pages += 1;
        let entries = page["entries"].as_array().unwrap();
        assert!(entries.len() <= 10);
        seen.extend(
            entries
                .iter()
                .map(|e| e["at"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => query = format!("key={a}&limit=10&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 25);
    let mut sorted = seen.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    sorted.dedup();
    assert_eq!(sorted, seen, "newest first, no repeats");

    let count = |q: &'static str| {
        let gw = &gw;
        async move { audit(gw, q).await["entries"].as_array().unwrap().len() }
    };
    assert_eq!(count("server=beta").await, 5);
    assert_eq!(count("server=alpha&outcome=tool_error").await, 5);
    assert_eq!(count("tool=alpha__even").await, 13);
    assert_eq!(count("tool=alpha__odd&outcome=ok").await, 10);
    assert_eq!(count("since=630s&server=alpha").await, 11);
    assert_eq!(count("since=630s&until=330s").await, 5);
    assert_eq!(count("limit=3").await, 3);
    let since = humantime_rfc3339(SystemTime::now() - Duration::from_secs(140));
    let page = audit(&gw, &format!("since={since}")).await;
    assert_eq!(outcomes(&page).len(), 3 + 2, "{page:#}");

    // Bad filters are 400s that name the parameter.
    for (q, param) in [
        ("limit=1001", "limit"),
        ("limit=0", "limit"),
        ("outcome=bogus", "outcome"),
        ("since=yesterday", "since"),
        ("until=2026-13-40T00:00:00Z", "until"),
        ("until=2026-02-29T00:00:00Z", "until"),
        ("cursor=not-a-cursor", "cursor"),
        ("key=%ff", "key"),
        ("colour=blue", "colour"),
    ] {
        let r = get(gw.addr, &format!("/api/v1/audit?{q}"), &gw.admin_key).await;
        assert_eq!(r.status, 400, "{q}: {}", r.text());
        assert!(r.text().contains(param), "{q}: {}", r.text());
    }
}

/// `keyadm audit --key` takes a key's name as `keys show` does (it refused a name as
/// "not a key id"); a name no key has is an error naming it, not an empty page.
#[tokio::test]
async fn keyadm_audit_takes_a_key_name_as_keys_show_does() {
    let gw = TestGateway::start().await;
    let store = key_store(&gw.db);
    let (a, _) = key(&store, "team-bot", Scope::Client).await;
    let (b, _) = key(&store, "other-bot", Scope::Client).await;
    for (k, n) in [(&a, 3u64), (&b, 2)] {
        for i in 0..n {
            record(
                &gw.state.observe.audit,
                k,
                "alpha",
                "echo",
                "ok",
                Duration::from_secs(i),
            );
        }
    }
    gw.flush_audit().await;
    let page: Value = serde_json::from_str(
        &support::keyadm(&gw.db, &["audit", "--key", "team-bot", "--json"])
            .await
            .expect("a key's name is accepted"),
    )
    .unwrap();
    let keys: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key_id"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec![a.as_str(); 3], "{page}");
    // The id still works, and gives the same rows.
    let by_id: Value = serde_json::from_str(
        &support::keyadm(&gw.db, &["audit", "--key", &a, "--json"])
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(by_id["entries"], page["entries"]);
    let (code, message) = support::keyadm(&gw.db, &["audit", "--key", "no-such-bot"])
        .await
        .expect_err("an unknown name");
    assert_ne!(code, 0);
    assert!(message.contains("no-such-bot"), "{message}");
}

/// `t` as RFC 3339 UTC with seconds.
fn humantime_rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[tokio::test]
async fn a_database_stop_and_start_loses_no_queued_row() {
    // A cluster of this test's own: stopping it must not disturb the others.
    let own = support::OwnCluster::start("metamcp-audit-outage-");
    let cluster = &own.cluster;
    metamcp::store::db::create_database_if_missing(cluster, "outage")
        .await
        .unwrap();
    let db = support::TestDb {
        name: "outage".into(),
        url: cluster.url("outage"),
    };
    let state = metamcp::app::prepare(db.config()).await.expect("prepares");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(metamcp::app::run(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    let store = KeyStore::new(
        metamcp::store::db::make_pool(cluster.pg_config("outage"), 2),
        metamcp::crypto::Cipher::new(&metamcp::config::KeyBytes(
            metamcp::config::parse_key_hex(support::TEST_ENCRYPTION_KEY).unwrap(),
        )),
    );
    let (admin_id, admin) = key(&store, "admin", Scope::Admin).await;
    let alpha = Mock::start(&[]);
    let r = send_json(
        addr,
        "POST",
        "/api/v1/mcp/servers",
        &admin,
        &json!({"name": "alpha", "protocol": "http", "url": alpha.url()}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    eventually(Duration::from_secs(15), "alpha running", || async {
        let r = get(addr, "/api/v1/mcp/servers/alpha", &admin).await;
        (r.json()["status"] == "running").then_some(())
    })
    .await;
    let mut c = Client::new(addr, "/mcp", Some(&admin));
    assert_eq!(c.initialize().await.status, 200);
    let calls = |n: usize| {
        let c = &c;
        async move {
            for _ in 0..n {
                let r = c.call_tool("alpha__echo", json!({"message": "hi"})).await;
                assert!(r["result"].is_object(), "{r}");
            }
        }
    };
    calls(3).await;
    let written = eventually(Duration::from_secs(5), "the first rows", || async {
        (state.observe.audit.written() >= 4).then_some(state.observe.audit.written())
    })
    .await;

    cluster.stop(true).expect("cluster stops");
    calls(20).await;
    // The writer tries, fails, keeps them.
    assert_eq!(state.observe.audit.dropped(), 0);
    assert!(
        state.observe.audit.queued() >= 20,
        "{}",
        state.observe.audit.queued()
    );
    cluster.ensure_running().expect("cluster starts again");
    // Queued rows leave the queue as a batch before that batch is written: wait for
    // the writes themselves.
    eventually(Duration::from_secs(30), "the queue written", || async {
        (state.observe.audit.queued() == 0 && state.observe.audit.written() >= written + 20)
            .then_some(())
    })
    .await;
    let pg = metamcp::store::db::connect(&cluster.pg_config("outage"))
        .await
        .unwrap();
    let n: i64 = pg
        .query_one(
            "SELECT count(*) FROM audit_log WHERE key_id = $1 AND kind = 'call'",
            &[&admin_id],
        )
        .await
        .unwrap()
        .get(0);
    // Every call once: none lost, none written twice.
    assert_eq!(n, 23);
    drop(pg);
    let _ = stop.send(());
    let _ = server.await;
    drop(state);
}

#[tokio::test]
async fn retention_deletes_old_rows_and_keeps_recent_ones() {
    let gw = TestGateway::start().await;
    let store = key_store(&gw.db);
    let (a, _) = key(&store, "a", Scope::Client).await;
    let db = gw.db.client().await;
    // More than one deletion batch of old rows, and recent ones.
    db.execute(
        "INSERT INTO audit_log (at, kind, key_id, method, outcome, duration_us,
                                request_bytes, response_bytes)
         SELECT now() - interval '31 days' - g * interval '1 second', 'call', $1,
                'tools/call', 'ok', 1, 1, 1
         FROM generate_series(1, 12000) g",
        &[&a],
    )
    .await
    .unwrap();
    for i in 0..7u64 {
        record(
            &gw.state.observe.audit,
            &a,
            "alpha",
            "t",
            "ok",
            Duration::from_secs(3600 * i),
        );
    }
    gw.flush_audit().await;

    // A second gateway on the same database (default retention, 30 days) runs its pass
    // at start.
    let second = metamcp::app::prepare(gw.db.config())
        .await
        .expect("a second gateway");
    let count = || async {
        let r = db
            .query_one("SELECT count(*) FROM audit_log WHERE key_id = $1", &[&a])
            .await
            .unwrap();
        r.get::<_, i64>(0)
    };
    eventually(Duration::from_secs(30), "old rows deleted", || async {
        (count().await == 7).then_some(())
    })
    .await;
    drop(second);

    // The pass itself, directly: rows older than the period go, in batches.
    db.execute(
        "INSERT INTO audit_log (at, kind, key_id, method, outcome, duration_us,
                                request_bytes, response_bytes)
         SELECT now() - interval '2 hours', 'call', $1, 'tools/call', 'ok', 1, 1, 1
         FROM generate_series(1, 6000) g",
        &[&a],
    )
    .await
    .unwrap();
    let deleted = metamcp::observe::audit::expire(&gw.state.db.pool, Duration::from_secs(90 * 60))
        .await
        .unwrap();
    // The 6,000 and the five of the seven that are 2 to 6 hours old.
    assert_eq!(deleted, 6005);
    assert_eq!(count().await, 2);
}

/// Rows are written as binary COPY tuples: every column comes back as it was recorded,
/// a name holding NUL (PostgreSQL's text cannot) or running past the 1,024-byte limit is
/// written clean and whole batches are kept apart (more than one batch's worth of rows).
#[tokio::test]
async fn every_column_survives_the_binary_copy_and_hostile_names_are_written_clean() {
    use metamcp::observe::audit::{BATCH, Text};
    let gw = TestGateway::start().await;
    let store = key_store(&gw.db);
    let (a, _) = key(&store, "a", Scope::Client).await;
    let at = SystemTime::UNIX_EPOCH + Duration::from_micros(1_763_000_000_123_456);
    let long = "é".repeat(700); // 1,400 bytes
    let mut first = row(&a, "alpha", "t", "alpha__t", "tool_error", Duration::ZERO);
    first.at = at;
    first.subject = Some(Text::Str("user-7"));
    first.namespace = Some("team".into());
    first.tool = Some(Text::Literal(br#""alpha__a\u0000b\"q""#));
    first.upstream_tool = Some(long.as_str().into());
    first.duration = Duration::from_micros(4_242);
    first.request_bytes = u64::MAX;
    first.response_bytes = 77;
    first.trace_id = Some(*b"\x0a\xf7\x65\x19\x16\xcd\x43\xdd\x84\x48\xeb\x21\x1c\x80\x31\x9c");
    let (id, parent) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    (first.id, first.parent) = (Some(id), Some(parent));
    gw.state.observe.audit.record(first);
    for _ in 0..BATCH + 5 {
        record(
            &gw.state.observe.audit,
            &a,
            "beta",
            "bulk",
            "ok",
            Duration::ZERO,
        );
    }
    assert_eq!(gw.state.observe.audit.queued(), BATCH + 6);
    // The full first batch may already be under way in the writer task.
    gw.flush_audit().await;
    let audit = &gw.state.observe.audit;
    eventually(Duration::from_secs(5), "every row written", || async {
        (audit.written() == BATCH as u64 + 6 && audit.queued() == 0).then_some(())
    })
    .await;
    assert_eq!(audit.dropped(), 0);

    let db = gw.db.client().await;
    let r = db
        .query_one(
            "SELECT (extract(epoch FROM at) * 1000000)::int8, kind, key_id, subject, namespace,
                    server, method, tool, upstream_tool, outcome, duration_us, request_bytes,
                    response_bytes, trace_id, call_id, parent
             FROM audit_log WHERE server = 'alpha'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, i64>(0), 1_763_000_000_123_456);
    assert_eq!(r.get::<_, &str>(1), "call");
    assert_eq!(r.get::<_, Option<&str>>(2), Some(a.as_str()));
    assert_eq!(r.get::<_, Option<&str>>(3), Some("user-7"));
    assert_eq!(r.get::<_, Option<&str>>(4), Some("team"));
    assert_eq!(r.get::<_, Option<&str>>(6), Some("tools/call"));
    assert_eq!(r.get::<_, Option<&str>>(7), Some("alpha__a\u{fffd}b\"q"));
    let upstream: &str = r.get(8);
    assert_eq!(upstream, "é".repeat(512));
    assert_eq!(r.get::<_, &str>(9), "tool_error");
    assert_eq!(r.get::<_, i64>(10), 4_242);
    assert_eq!(r.get::<_, i64>(11), i64::MAX);
    assert_eq!(r.get::<_, i64>(12), 77);
    assert_eq!(
        r.get::<_, Option<&str>>(13),
        Some("0af7651916cd43dd8448eb211c80319c")
    );
    assert_eq!(r.get::<_, Option<uuid::Uuid>>(14), Some(id));
    assert_eq!(r.get::<_, Option<uuid::Uuid>>(15), Some(parent));
    let n: i64 = db
        .query_one(
            "SELECT count(*) FROM audit_log WHERE server = 'beta' AND tool = 'beta__bulk'
                 AND upstream_tool = 'bulk' AND subject IS NULL AND trace_id IS NULL
                 AND parent IS NULL AND call_id IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, BATCH as i64 + 5);
    // Each row minted an identity of its own.
    let distinct: i64 = db
        .query_one(
            "SELECT count(DISTINCT call_id) FROM audit_log WHERE server IN ('alpha', 'beta')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(distinct, BATCH as i64 + 6);
}

/// A client's hostile strings reach the audit trail as sent, but `keyadm audit` prints
/// them escaped: one row per line, no raw escape or bell byte on the admin's terminal.
#[tokio::test]
async fn keyadm_audit_escapes_what_a_client_sent() {
    let gw = TestGateway::start().await;
    let rich = Mock::start(&["--profile", "rich"]);
    gw.register(json!({"name": "rich", "protocol": "http", "url": rich.url()}))
        .await;
    let store = key_store(&gw.db);
    let (id, key) = key(&store, "hostile", Scope::Client).await;
    let c = gw.session("/mcp", &key).await;
    let forged = "mock://items/x\n2026-11-23T00:00:00Z  0123456789abcdef  -  tools/call FORGED-ROW ok\x1b[2J\x1b]0;pwned\x07\u{202e}";
    let r = c
        .call(json!(5), "resources/read", json!({"uri": forged}))
        .await;
    assert!(r.get("error").is_some() || r.get("result").is_some(), "{r}");
    let entries = eventually(Duration::from_secs(5), "the row", || async {
        let page = audit(&gw, &format!("key={id}")).await;
        let entries = page["entries"].as_array().cloned().unwrap_or_default();
        (!entries.is_empty()).then_some(entries)
    })
    .await;
    assert!(
        entries.iter().any(|e| e["tool"].as_str() == Some(forged)),
        "stored as sent: {entries:?}"
    );
    let o = support::run_bin(
        env!("CARGO_BIN_EXE_keyadm"),
        &gw.db.env(),
        &["audit", "--key", &id],
    );
    assert!(o.status.success(), "{}", support::stderr(&o));
    let raw = o.stdout;
    for bad in [0x1b_u8, 0x07, b'\r'] {
        assert!(!raw.contains(&bad), "byte {bad:#x} printed raw");
    }
    let text = String::from_utf8(raw).unwrap();
    assert!(!text.contains('\u{202e}'), "{text}");
    assert_eq!(
        text.lines().count(),
        1 + entries.len(),
        "one row per line: {text}"
    );
    let row = text
        .lines()
        .find(|l| l.contains("FORGED-ROW"))
        .expect("the row");
    assert!(
        row.contains(r"mock://items/x\n2026-11-23")
            && row.contains(r"\x1b[2J")
            && row.contains(r"\x07"),
        "{row}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("2026-11-23T00:00:00Z")),
        "{text}"
    );
    // --json stays valid JSON with the same string.
    let o = support::run_bin(
        env!("CARGO_BIN_EXE_keyadm"),
        &gw.db.env(),
        &["audit", "--key", &id, "--json"],
    );
    let printed: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert!(!o.stdout.contains(&0x1b));
    assert!(
        printed["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["tool"].as_str() == Some(forged))
    );
}

/// Every bad query parameter of the audit and usage routes is the client's: 400
/// `invalid_request` naming it, while the database is healthy (they were 503
/// "database unavailable"). A value the database itself refuses maps to 400 too, a lost
/// database to 503.
#[tokio::test]
async fn bad_query_parameters_are_400_naming_them_never_503() {
    let gw = TestGateway::start().await;
    let cases = [
        ("/api/v1/audit?tool=%00", "tool"),
        ("/api/v1/audit?key=%00", "key"),
        ("/api/v1/audit?key=not-a-key", "key"),
        ("/api/v1/audit?server=%00", "server"),
        ("/api/v1/audit?since=0000-01-01T00:00:00Z", "since"),
        ("/api/v1/audit?since=99999999999d", "since"),
        ("/api/v1/audit?until=99999999999d", "until"),
        ("/api/v1/audit?cursor=9223372036854775807.1", "cursor"),
        ("/api/v1/audit?cursor=-9223372036854775808.1", "cursor"),
        ("/api/v1/usage?key=%00", "key"),
        ("/api/v1/usage?since=99999999999d", "since"),
        ("/api/v1/usage?since=0000-01-01T00:00:00Z", "since"),
        ("/api/v1/usage?bogus=1", "bogus"),
    ];
    for (path, field) in cases {
        let r = get(gw.addr, path, &gw.admin_key).await;
        let body = r.json();
        assert_eq!(
            (r.status, body["code"].as_str(), body["field"].as_str()),
            (400, Some("invalid_request"), Some(field)),
            "{path}: {body}"
        );
    }
    // The extremes that are valid still answer.
    for path in [
        "/api/v1/audit?since=36500d&until=0001-01-01T00:00:00Z",
        "/api/v1/audit?cursor=253402300799999999.5",
        "/api/v1/audit?since=9999-12-31T23:59:59Z",
        "/api/v1/usage?since=36500d",
    ] {
        let r = get(gw.addr, path, &gw.admin_key).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
    // The mapping by the database's own verdict.
    let client = gw.state.db.pool.get().await.unwrap();
    let refused = client.query_one("SELECT 'x'::int4", &[]).await.unwrap_err();
    let e = metamcp::http::ApiError::from(metamcp::store::db::DbError::Query(refused));
    assert_eq!(e.code(), "invalid_request", "{e}");
    let lost = tokio_postgres::connect("host=127.0.0.1 port=1 user=x", tokio_postgres::NoTls)
        .await
        .err()
        .unwrap();
    let e = metamcp::http::ApiError::from(metamcp::store::db::DbError::Connect(lost));
    assert_eq!(e.code(), "unavailable", "{e}");
}

/// From issue 61: what keyadm changes (servers import, add and remove, keys, OAuth
/// blocks) leaves rows of kind `change` as REST's changes do, made by no key but by
/// `keyadm:` and the OS user who ran it; a dry run leaves none.
#[tokio::test]
async fn keyadm_changes_are_audited_as_rest_changes_are() {
    let gw = TestGateway::start().await;
    let mock = Mock::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("servers.json");
    std::fs::write(
        &file,
        json!({"mcpServers": {"imported": {"type": "http", "url": mock.url()}}}).to_string(),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let env = [gw.db.env(), vec![("USER", "alice".to_string())]].concat();
    let keyadm = |args: &[&str]| {
        let o = support::run_bin(env!("CARGO_BIN_EXE_keyadm"), &env, args);
        assert!(o.status.success(), "{args:?}: {}", support::stderr(&o));
        support::stdout(&o)
    };
    keyadm(&["servers", "add", "web", "--url", &mock.url()]);
    keyadm(&[
        "servers",
        "import",
        file,
        "--namespace",
        "team",
        "--dry-run",
    ]);
    keyadm(&["servers", "import", file, "--namespace", "team"]);
    keyadm(&["servers", "remove", "web", "--confirm"]);
    let created: Value =
        serde_json::from_str(&keyadm(&["keys", "create", "--name", "bot", "--json"])).unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    keyadm(&["keys", "inactivate", &id]);
    keyadm(&["oauth", "block", "--sub", "mallory"]);
    keyadm(&["keys", "delete", &id, "--confirm"]);

    let expected = [
        ("server.create", "web"),
        ("server.create", "imported"),
        ("namespace.create", "team"),
        ("server.delete", "web"),
        ("key.create", id.as_str()),
        ("key.inactivate", id.as_str()),
        ("oauth.block", "sub mallory"),
        ("key.delete", id.as_str()),
    ];
    let page = audit(&gw, "limit=50").await;
    let mut changes: Vec<&Value> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "change")
        .collect();
    changes.reverse();
    let seen: Vec<(&str, &str)> = changes
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap_or_default(),
                e["tool"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(seen, expected, "{page:#}");
    for e in changes {
        assert_eq!(
            (&e["key_id"], &e["subject"], &e["outcome"]),
            (&Value::Null, &json!("keyadm:alice"), &json!("ok")),
            "{e}"
        );
    }
    // keyadm's own table names who made a change without a key.
    let table = keyadm(&["audit", "--tool", "web"]);
    assert!(
        table.lines().skip(1).all(|l| l.contains("keyadm:alice")),
        "{table}"
    );
}

/// Every call the gateway refuses before a backend sees it is an audit row `denied`
/// with its reason, counted in the key's usage (REST and keyadm) and in
/// `metamcp_denied_calls_total{reason}`: a tool disabled in the namespace, a policy's
/// deny (over MCP and REST), a confirmation this client cannot be asked for. They left
/// no trace ("0 errors" after six refusals); a served call stays `ok` with no reason.
#[tokio::test]
async fn every_refusal_is_a_denied_row_counted_in_usage_and_metrics() {
    let gw = TestGateway::start().await;
    let alpha = Mock::start(&[]);
    gw.register(json!({"name": "alpha", "protocol": "http", "url": alpha.url()}))
        .await;
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/namespaces",
        &gw.admin_key,
        &json!({"name": "team", "servers": ["alpha"],
                "tools": {"alpha__fail": {"enabled": false}}}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let store = key_store(&gw.db);
    let key = support::gateway::create_key(&store, "refused", Scope::Client, &["team"]).await;
    let id = store.resolve("refused").await.unwrap().to_string();
    let rules = json!([
        {"effect": "deny", "when": "principal.name == 'refused' && tool.name == 'alpha__add'"},
        {"effect": "confirm", "when": "principal.name == 'refused' && tool.name == 'alpha__sleep'"}
    ]);
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/policies",
        &gw.admin_key,
        &json!({"name": "gate", "text": rules.to_string()}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());

    let c = gw.session("/mcp/team", &key).await;
    for (name, arguments, code) in [
        ("alpha__fail", json!({}), -32602),
        ("alpha__add", json!({"a": 1, "b": 2}), -32003),
        ("alpha__sleep", json!({"ms": 1}), -32003),
    ] {
        let m = c.call_tool(name, arguments).await;
        assert_eq!(m["error"]["code"], code, "{name}: {m}");
    }
    let m = c.call_tool("alpha__echo", json!({"message": "hi"})).await;
    assert!(m["result"].is_object(), "{m}");
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/alpha/tools/add/execute",
        &key,
        &json!({"a": 1, "b": 2}),
    )
    .await;
    assert_ne!(r.status, 200, "{}", r.text());
    gw.flush_audit().await;

    let page = audit(&gw, &format!("key={id}&outcome=denied")).await;
    let mut reasons: Vec<(String, String, String)> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["method"], "tools/call", "{e}");
            // A disabled tool is routed to no server.
            let server = if e["tool"] == "alpha__fail" {
                json!(null)
            } else {
                json!("alpha")
            };
            assert_eq!(e["server"], server, "{e}");
            (
                e["tool"].as_str().unwrap().to_string(),
                e["reason"].as_str().unwrap_or("none").to_string(),
                // REST's execution is in no namespace.
                e["namespace"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    reasons.sort();
    let want = [
        ("alpha__add", "policy gate", "-"),
        ("alpha__add", "policy gate", "team"),
        ("alpha__fail", "disabled in the namespace", "team"),
        (
            "alpha__sleep",
            "confirmation cannot ask (policy gate)",
            "team",
        ),
    ];
    assert_eq!(
        reasons,
        want.map(|(t, r, n)| (t.to_string(), r.to_string(), n.to_string())),
        "{page:#}"
    );
    let served = audit(&gw, &format!("key={id}&outcome=ok")).await;
    assert_eq!(served["entries"][0]["tool"], "alpha__echo", "{served}");
    assert!(served["entries"][0]["reason"].is_null(), "{served}");

    // Usage counts them (REST and keyadm).
    let usage = get(gw.addr, &format!("/api/v1/usage?key={id}"), &gw.admin_key)
        .await
        .json();
    assert_eq!(usage["total"]["denied"], 4, "{usage}");
    assert_eq!(usage["total"]["errors"], 4, "{usage}");
    let text = support::keyadm(&gw.db, &["keys", "usage", "refused"])
        .await
        .unwrap();
    assert!(
        text.contains("total: 5 calls, 4 errors, 4 denied,"),
        "{text}"
    );
    let text = support::keyadm(
        &gw.db,
        &["audit", "--key", "refused", "--outcome", "denied"],
    )
    .await
    .unwrap();
    assert!(text.lines().next().unwrap().ends_with("REASON"), "{text}");
    assert!(text.contains("policy gate"), "{text}");

    // And the metric, by reason.
    let metrics = get(gw.addr, "/metrics", "").await.text();
    for line in [
        "metamcp_denied_calls_total{reason=\"policy\"} 2",
        "metamcp_denied_calls_total{reason=\"disabled\"} 1",
        "metamcp_denied_calls_total{reason=\"confirmation\"} 1",
    ] {
        assert!(metrics.contains(line), "{line}: {metrics}");
    }
}
