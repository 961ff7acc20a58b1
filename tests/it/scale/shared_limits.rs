//! Key limits shared by replicas: three gateway processes on one PostgreSQL behind nginx
//! (`support::replicas`, the layout of tests/it/scale/replicas.rs). Checked: a key's rate holds for
//! the key as a whole however its requests are spread; `max_concurrent` counts calls in
//! flight on every replica (the backend never sees more), and the places of a replica
//! killed with SIGKILL come back; the daily quota is counted in PostgreSQL through a
//! restart; a key's streams count on every replica; a limit lowered mid-load applies on
//! every replica within a second; idle rows are reclaimed; and with PostgreSQL stopped
//! mid-load each replica keeps a share of the limit (never none, never nothing), says
//! so, and shares again when it returns; a replica killed or stopped while PostgreSQL is
//! away never makes the day's calls pass the quota; a SIGTERM while a daily block is
//! being reserved on a slow database loses no call.

use crate::support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::support::gateway::limited_key;
use crate::support::http::{get, request};
use crate::support::mcp::{Client, response_message};
use crate::support::replicas::{Balancer, Replica, cluster, cluster_with};
use crate::support::{TestDb, eventually};
use metamcp::model::limits::{LimitsChange, Rate, Setting};
use metamcp::store::keys::KeyStore;
use serde_json::{Value, json};

fn rate(s: &str) -> Option<Setting<Rate>> {
    Some(Setting::Is(Rate::parse(s).unwrap()))
}

/// A request the key's rate counts (a REST read): its status.
async fn rest(addr: SocketAddr, key: &str) -> u16 {
    get(addr, "/api/v1/mcp/servers", key).await.status
}

/// A request the key's rate counts that the gateway answers from memory (a 2026-07-28
/// `tools/list`): its HTTP status.
async fn listing(addr: SocketAddr, key: &str) -> u16 {
    let c = Client::new(addr, "/mcp", Some(key));
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    c.post_stateless(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list",
        "params": {"_meta": meta}}))
        .await
        .status
}

/// A 2026-07-28 `tools/call` (no session): the answer's JSON-RPC message.
async fn call(addr: SocketAddr, key: &str, tool: &str, args: Value) -> Value {
    let c = Client::new(addr, "/mcp", Some(key));
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let r = c
        .post_stateless(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": tool, "arguments": args, "_meta": meta}}))
        .await;
    response_message(&r)
}

/// A 2026-07-28 client's refusal by the limit `kind` (the gateway's own code for that
/// era, the limit named by `limit_name`: docs/reference/errors.md).
fn is_limited(m: &Value, kind: &str) -> bool {
    m["error"]["code"] == metamcp::mcp::wire::codes::MODERN_LIMITED
        && m["error"]["data"]["limit_name"] == kind
}

/// A metric's value on one replica.
async fn metric(addr: SocketAddr, name: &str) -> f64 {
    let text = request(addr, "GET", "/metrics", &[], None).await.text();
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Sends `per_sec` requests a second for `secs` through `addr` (each on its own task, so
/// a slow answer does not slow the pace); returns (accepted, refused, elapsed seconds).
async fn drive(addr: SocketAddr, key: &str, per_sec: u32, secs: f64) -> (u32, u32, f64) {
    let start = Instant::now();
    let gap = Duration::from_secs_f64(1.0 / f64::from(per_sec));
    let total = (f64::from(per_sec) * secs) as u32;
    let mut tasks = Vec::new();
    for i in 0..total {
        tokio::time::sleep_until((start + gap * i).into()).await;
        let key = key.to_string();
        tasks.push(tokio::spawn(async move { rest(addr, &key).await }));
    }
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            429 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    (ok, refused, start.elapsed().as_secs_f64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_rate_holds_across_three_replicas_however_its_load_is_spread() {
    let (db, replicas, _admin, _mock) = cluster().await;
    let addrs: Vec<SocketAddr> = replicas.iter().map(|r| r.addr).collect();
    let lb = Balancer::start(&addrs).await;
    let store = support::gateway::key_store(&db);
    let (_, key) = limited_key(
        &store,
        "rated",
        LimitsChange {
            rate: rate("20/s"),
            burst: Some(Some(20)),
            ..LimitsChange::default()
        },
    )
    .await;
    // Three times the rate through the balancer: each replica alone sees the rate.
    let (ok, refused, secs) = drive(lb.addr(), &key, 60, 4.0).await;
    let allowed = 20.0 * secs + 20.0;
    let ratio = f64::from(ok) / allowed;
    assert!(
        (0.8..=1.1).contains(&ratio),
        "accepted {ok} (refused {refused}) in {secs:.2} s against {allowed:.0}: {ratio:.2}"
    );
    // Skewed: most of it at one replica, the rest at the others, at once.
    let started = Instant::now();
    let skewed = futures_util::future::join_all([
        drive(addrs[0], &key, 48, 3.0),
        drive(addrs[1], &key, 6, 3.0),
        drive(addrs[2], &key, 6, 3.0),
    ])
    .await;
    let secs = started.elapsed().as_secs_f64();
    let ok: u32 = skewed.iter().map(|r| r.0).sum();
    // The bucket starts this part near empty (at most its burst).
    let (least, most) = (20.0 * secs, 20.0 * secs + 20.0);
    assert!(
        (0.85 * least..=1.1 * most).contains(&f64::from(ok)),
        "skewed: accepted {ok} in {secs:.2} s, against {least:.0} to {most:.0} ({skewed:?})"
    );
    // Leases, not calls: far fewer statements than requests.
    let mut statements = 0.0;
    for a in &addrs {
        statements += metric(*a, "metamcp_limits_statements_total").await;
    }
    assert!(
        statements < 420.0,
        "{statements} statements for 420 requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrent_counts_every_replica_and_a_killed_replicas_places_come_back() {
    let (db, mut replicas, admin, mock) = cluster().await;
    let addrs: Vec<SocketAddr> = replicas.iter().map(|r| r.addr).collect();
    let store = support::gateway::key_store(&db);
    let (id, key) = limited_key(
        &store,
        "concurrent",
        LimitsChange {
            max_concurrent: Some(Setting::Is(3)),
            ..LimitsChange::default()
        },
    )
    .await;
    // Twelve slow calls at once, four at each replica.
    let calls = (0..12).map(|i| {
        let key = key.clone();
        let addr = addrs[i % 3];
        async move { call(addr, &key, "mock__sleep", json!({"ms": 400})).await }
    });
    let answers = futures_util::future::join_all(calls).await;
    let done = answers.iter().filter(|m| m["result"].is_object()).count();
    let refused = answers
        .iter()
        .filter(|m| is_limited(m, "concurrency"))
        .count();
    assert_eq!(done + refused, 12, "{answers:?}");
    assert!((1..=3).contains(&done), "{done} calls done at once");
    let peak = get(
        std::net::SocketAddr::from(([127, 0, 0, 1], mock.port)),
        "/control/stats",
        "",
    )
    .await
    .json()["calls_peak"]
        .clone();
    assert!(
        peak.as_u64().unwrap() <= 3,
        "the backend saw {peak} at once"
    );

    // Spare places go back within moments.
    eventually(Duration::from_secs(5), "no place held", || async {
        let shown = get(addrs[0], &format!("/api/v1/keys/{id}"), &admin)
            .await
            .json();
        (shown["use"]["max_concurrent"]["held"] == 0).then_some(())
    })
    .await;
    // A replica that dies holding places: they come back within the replica timeout.
    let held = (0..3).map(|_| {
        let key = key.clone();
        let addr = addrs[0];
        tokio::spawn(async move { call(addr, &key, "mock__sleep", json!({"ms": 60_000})).await })
    });
    let held: Vec<_> = held.collect();
    eventually(Duration::from_secs(5), "three calls held by A", || async {
        let now = get(
            std::net::SocketAddr::from(([127, 0, 0, 1], mock.port)),
            "/control/stats",
            "",
        )
        .await
        .json()["calls_now"]
            .as_u64();
        (now == Some(3)).then_some(())
    })
    .await;
    let m = call(addrs[1], &key, "mock__echo", json!({"message": "x"})).await;
    assert!(is_limited(&m, "concurrency"), "{m}");
    replicas[0].kill();
    let t0 = Instant::now();
    eventually(Duration::from_secs(20), "the places back", || async {
        let m = call(addrs[1], &key, "mock__echo", json!({"message": "x"})).await;
        m["result"].is_object().then_some(())
    })
    .await;
    assert!(t0.elapsed() < Duration::from_secs(13), "{:?}", t0.elapsed());
    for h in held {
        h.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_quota_is_counted_in_postgresql_through_a_restart() {
    let (db, mut replicas, admin, _mock) = cluster().await;
    let store = support::gateway::key_store(&db);
    let (id, key) = limited_key(
        &store,
        "quota",
        LimitsChange {
            daily_calls: Some(Setting::Is(30)),
            ..LimitsChange::default()
        },
    )
    .await;
    let mut accepted = 0;
    let round = |addrs: Vec<SocketAddr>, n: usize| {
        let key = key.clone();
        async move {
            let mut ok = 0;
            for i in 0..n {
                let m = call(
                    addrs[i % addrs.len()],
                    &key,
                    "mock__echo",
                    json!({"message": "q"}),
                )
                .await;
                if m["result"].is_object() {
                    ok += 1;
                } else {
                    assert!(is_limited(&m, "daily_calls"), "{m}");
                }
            }
            ok
        }
    };
    let addrs: Vec<SocketAddr> = replicas.iter().map(|r| r.addr).collect();
    accepted += round(addrs.clone(), 12).await;
    assert_eq!(accepted, 12);
    // A deploy restarts one replica (SIGTERM: it gives back what it reserved).
    replicas[1].stop();
    replicas[1] = Replica::start(&db);
    let addrs: Vec<SocketAddr> = replicas.iter().map(|r| r.addr).collect();
    eventually(
        Duration::from_secs(20),
        "mock on the new replica",
        || async {
            let r = get(addrs[1], "/api/v1/mcp/servers/mock", &admin).await;
            (r.json()["status"] == "running").then_some(())
        },
    )
    .await;
    accepted += round(addrs.clone(), 30).await;
    assert_eq!(accepted, 30, "the quota, not one more");
    // The count reaches the usage report and the key, on any replica.
    let usage = get(addrs[2], &format!("/api/v1/usage?key={id}"), &admin)
        .await
        .json();
    assert_eq!(usage["daily_calls"]["limit"], 30, "{usage}");
    let shown = get(addrs[0], &format!("/api/v1/keys/{id}"), &admin)
        .await
        .json();
    assert_eq!(shown["use"]["daily_calls"]["limit"], 30, "{shown}");
    eventually(Duration::from_secs(5), "blocks given back", || async {
        let usage = get(addrs[2], &format!("/api/v1/usage?key={id}"), &admin)
            .await
            .json();
        (usage["daily_calls"]["used"] == 30).then_some(())
    })
    .await;
    // keyadm reads the same rows.
    let keyadm = |args: &[&str]| {
        let out = support::run_bin(env!("CARGO_BIN_EXE_keyadm"), &db.env(), args);
        assert!(out.status.success(), "keyadm {args:?}: {out:?}");
        support::stdout(&out)
    };
    let shown: Value = serde_json::from_str(&keyadm(&["keys", "show", &id, "--json"])).unwrap();
    assert_eq!(shown["use"]["daily_calls"]["used"], 30, "{shown}");
    let text = keyadm(&["keys", "show", &id]);
    assert!(text.contains("calls today  30 of 30"), "{text}");
    let usage: Value = serde_json::from_str(&keyadm(&["keys", "usage", &id, "--json"])).unwrap();
    assert_eq!(usage["daily_calls"]["used"], 30, "{usage}");
    // A client key reads only itself.
    let own = get(addrs[0], &format!("/api/v1/keys/{id}"), &key).await;
    assert_eq!(own.status, 200, "{}", own.text());
    let other = get(addrs[0], "/api/v1/keys/admin", &key).await;
    assert_eq!(other.status, 403, "{}", other.text());
    assert_eq!(
        get(addrs[0], "/api/v1/keys/nobody", &admin).await.status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lowered_limit_applies_on_every_replica_within_a_second() {
    let (db, replicas, _admin, _mock) = cluster().await;
    let addrs: Vec<SocketAddr> = replicas.iter().map(|r| r.addr).collect();
    let store = support::gateway::key_store(&db);
    let (id, key) = limited_key(
        &store,
        "fast",
        LimitsChange {
            rate: rate("1000/s"),
            ..LimitsChange::default()
        },
    )
    .await;
    // Load on every replica: each holds a lease.
    let _ = futures_util::future::join_all(addrs.iter().map(|a| drive(*a, &key, 100, 1.0))).await;
    store
        .update_limits(
            &id,
            &LimitsChange {
                rate: rate("1/s"),
                burst: Some(Some(1)),
                ..LimitsChange::default()
            },
        )
        .await
        .unwrap();
    let t0 = Instant::now();
    for a in &addrs {
        eventually(Duration::from_secs(2), "the new rate", || async {
            (rest(*a, &key).await == 429).then_some(())
        })
        .await;
    }
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    // Outstanding leases were cut: over two seconds, about two get through in all.
    let results =
        futures_util::future::join_all(addrs.iter().map(|a| drive(*a, &key, 20, 2.0))).await;
    let ok: u32 = results.iter().map(|r| r.0).sum();
    assert!(ok <= 4, "{ok} accepted at 1/s over 2 s ({results:?})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgresql_stopped_each_replica_keeps_a_share_and_shares_again_on_its_return() {
    let own = support::OwnCluster::start("metamcp-limits-outage-");
    let cluster = &own.cluster;
    metamcp::store::db::create_database_if_missing(cluster, "outage")
        .await
        .unwrap();
    let db = TestDb {
        name: "outage".into(),
        url: cluster.url("outage"),
    };
    let replicas = [Replica::start(&db), Replica::start(&db)];
    let store = KeyStore::new(
        metamcp::store::db::make_pool(cluster.pg_config("outage"), 2),
        metamcp::crypto::Cipher::new(&metamcp::config::KeyBytes(
            metamcp::config::parse_key_hex(support::TEST_ENCRYPTION_KEY).unwrap(),
        )),
    );
    let (_, key) = limited_key(
        &store,
        "outage",
        LimitsChange {
            rate: rate("10/s"),
            burst: Some(Some(40)),
            ..LimitsChange::default()
        },
    )
    .await;
    let a = replicas[0].addr;
    eventually(Duration::from_secs(10), "both replicas counted", || async {
        (metric(a, "metamcp_limits_replicas").await == 2.0).then_some(())
    })
    .await;
    assert_eq!(listing(a, &key).await, 200);
    assert_eq!(metric(a, "metamcp_limits_degraded").await, 0.0);

    cluster.stop(true).expect("cluster stops");
    // Served at half the limit (two replicas last seen), from the first failed statement.
    let refused_once = eventually(Duration::from_secs(10), "degraded", || async {
        let r = get(a, "/ready", "").await;
        (r.status == 503 && r.text().contains("1/2")).then_some(r.text())
    })
    .await;
    assert!(
        refused_once.contains("database unreachable"),
        "{refused_once}"
    );
    let mut ok = 0;
    for _ in 0..60 {
        match listing(a, &key).await {
            200 => ok += 1,
            429 => {}
            other => panic!("status {other} with the database away"),
        }
    }
    // A burst of 40 shared by two: about 20, plus what refills meanwhile; never 0, never
    // the whole burst.
    assert!((15..=32).contains(&ok), "{ok} accepted at a half share");
    assert_eq!(metric(a, "metamcp_limits_degraded").await, 1.0);
    assert_eq!(replicas[0].logged("PostgreSQL does not answer"), 1);

    cluster.ensure_running().expect("cluster starts again");
    eventually(Duration::from_secs(30), "shared again", || async {
        let r = get(a, "/ready", "").await;
        (r.status == 200 && r.json()["limits"]["mode"] == "shared").then_some(())
    })
    .await;
    assert_eq!(metric(a, "metamcp_limits_degraded").await, 0.0);
    assert!(metric(a, "metamcp_limits_degraded_seconds_total").await > 0.0);
    // The mode turns shared, then the line is written and read from the replica's pipe.
    eventually(Duration::from_secs(5), "the line saying so", || async {
        (replicas[0].logged("PostgreSQL answers again") >= 1).then_some(())
    })
    .await;
    assert_eq!(replicas[0].logged("PostgreSQL answers again"), 1);
    eventually(Duration::from_secs(10), "calls served", || async {
        (listing(a, &key).await == 200).then_some(())
    })
    .await;
}

/// Replicas on a PostgreSQL cluster of the test's own (so that it can be stopped), with a
/// mock backend registered and running on each, and a key with `daily` calls a day.
struct Outage {
    own: support::OwnCluster,
    replicas: Vec<Replica>,
    admin: String,
    id: String,
    key: String,
    _mock: support::mock::Mock,
}

impl Outage {
    async fn start(
        name: &str,
        replicas: usize,
        daily: u64,
        more: &[(&'static str, String)],
    ) -> Outage {
        let own = support::OwnCluster::start(&format!("metamcp-{name}-"));
        metamcp::store::db::create_database_if_missing(&own.cluster, name)
            .await
            .unwrap();
        let db = TestDb {
            name: name.into(),
            url: own.cluster.url(name),
        };
        let replicas: Vec<Replica> = (0..replicas)
            .map(|_| Replica::start_with(&db, more))
            .collect();
        let store = KeyStore::new(
            metamcp::store::db::make_pool(own.cluster.pg_config(name), 2),
            metamcp::crypto::Cipher::new(&metamcp::config::KeyBytes(
                metamcp::config::parse_key_hex(support::TEST_ENCRYPTION_KEY).unwrap(),
            )),
        );
        let admin =
            support::gateway::create_key(&store, "admin", metamcp::store::keys::Scope::Admin, &[])
                .await;
        let (id, key) = limited_key(
            &store,
            "daily",
            LimitsChange {
                daily_calls: Some(Setting::Is(daily)),
                ..LimitsChange::default()
            },
        )
        .await;
        let mock = support::mock::Mock::start(&[]);
        let r = support::http::send_json(
            replicas[0].addr,
            "POST",
            "/api/v1/mcp/servers",
            &admin,
            &json!({"name": "mock", "protocol": "http", "url": mock.url()}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let n = replicas.len() as f64;
        for rep in &replicas {
            eventually(
                Duration::from_secs(20),
                "mock running, replicas counted",
                || async {
                    let r = get(rep.addr, "/api/v1/mcp/servers/mock", &admin).await;
                    (r.json()["status"] == "running"
                        && metric(rep.addr, "metamcp_limits_replicas").await == n)
                        .then_some(())
                },
            )
            .await;
        }
        Outage {
            own,
            replicas,
            admin,
            id,
            key,
            _mock: mock,
        }
    }

    /// Tool calls through `at`: how many were served (the others refused by the quota).
    async fn calls(&self, at: SocketAddr, n: usize) -> usize {
        let mut ok = 0;
        for _ in 0..n {
            let m = call(at, &self.key, "mock__echo", json!({"message": "q"})).await;
            if m["result"].is_object() {
                ok += 1;
            } else {
                assert!(is_limited(&m, "daily_calls"), "{m}");
            }
        }
        ok
    }

    /// Stops PostgreSQL; returns once every replica keeps its limits alone.
    async fn database_away(&self) {
        self.own.cluster.stop(true).expect("cluster stops");
        for rep in &self.replicas {
            eventually(Duration::from_secs(10), "degraded", || async {
                (metric(rep.addr, "metamcp_limits_degraded").await == 1.0).then_some(())
            })
            .await;
        }
    }

    /// The day's count in PostgreSQL once every replica that is up shares again.
    async fn used_after_return(&self) -> Value {
        self.own
            .cluster
            .ensure_running()
            .expect("cluster starts again");
        let up: Vec<SocketAddr> = self.replicas.iter().map(|r| r.addr).collect();
        let mut used = Value::Null;
        for a in &up {
            used = eventually(Duration::from_secs(30), "shared again", || async {
                let r = get(*a, &format!("/api/v1/usage?key={}", self.id), &self.admin).await;
                (r.status == 200 && metric(*a, "metamcp_limits_degraded").await == 0.0)
                    .then(|| r.json()["daily_calls"]["used"].clone())
            })
            .await;
        }
        used
    }
}

/// A key that spent its day on one replica, then left idle (its lease forgotten): while
/// PostgreSQL is away neither that replica (it kept the day's count) nor one that never
/// served the key (it never read the count) grants it a call more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_daily_quota_does_not_come_back_while_postgresql_is_away() {
    let o = Outage::start("daily_outage", 2, 4, &[]).await;
    let (a, b) = (o.replicas[0].addr, o.replicas[1].addr);
    assert_eq!(o.calls(b, 6).await, 4, "the quota, through one replica");
    // Replica a knows the key (its credentials), not its day.
    assert_eq!(listing(a, &o.key).await, 200);
    eventually(
        Duration::from_secs(10),
        "the idle key's lease forgotten",
        || async { (metric(b, "metamcp_limits_leases").await == 0.0).then_some(()) },
    )
    .await;
    o.database_away().await;
    let served = o.calls(a, 4).await + o.calls(b, 4).await;
    assert_eq!(served, 0, "calls granted beyond a spent day");
    assert_eq!(o.used_after_return().await, 4);
}

/// Issue 75's scenario: `--daily-calls 6`, two calls served, PostgreSQL stopped, the
/// replica serving during the outage, then stopped by `signal` before the database
/// returns (SIGKILL: nothing runs; SIGTERM: it stops at once, owing nothing), restarted
/// once the database is back and asked for more. The day's calls served, across both
/// lives of the replica, never pass the quota, and each one is counted in PostgreSQL.
/// (Before, the replica served the rest of the day during the outage as a share counted
/// only in its memory; a SIGKILL lost that count and the restarted replica served the
/// rest of the day again: 7 to 9 in all.)
async fn outage_then_stop(name: &str, signal: i32) {
    let mut o = Outage::start(name, 1, 6, &[("METAMCP_DRAIN_GRACE", "0".into())]).await;
    let a = o.replicas[0].addr;
    let before = o.calls(a, 2).await;
    assert_eq!(before, 2);
    o.database_away().await;
    let during = o.calls(a, 6).await;
    // Past what it had reserved, it refuses (checked last: why).
    let refused = call(a, &o.key, "mock__echo", json!({"message": "q"})).await;
    let rep = &mut o.replicas[0];
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(rep.child.id() as i32, signal);
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = rep.child.try_wait().expect("the replica's status") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the replica did not exit while PostgreSQL was away"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if signal == libc::SIGTERM {
        assert!(status.success(), "{status:?}");
    }
    o.own
        .cluster
        .ensure_running()
        .expect("cluster starts again");
    let db = TestDb {
        name: name.into(),
        url: o.own.cluster.url(name),
    };
    o.replicas[0] = Replica::start_with(&db, &[("METAMCP_DRAIN_GRACE", "0".into())]);
    let b = o.replicas[0].addr;
    eventually(
        Duration::from_secs(30),
        "the restarted replica serves",
        || async {
            let r = get(b, "/api/v1/mcp/servers/mock", &o.admin).await;
            (r.json()["status"] == "running" && metric(b, "metamcp_limits_degraded").await == 0.0)
                .then_some(())
        },
    )
    .await;
    let after = o.calls(b, 8).await;
    let served = before + during + after;
    assert!(
        served <= 6,
        "{served} calls served on a day of 6 ({before} before the outage, {during} during, \
         {after} after the restart)"
    );
    let client = metamcp::store::db::connect(&o.own.cluster.pg_config(name))
        .await
        .unwrap();
    let used: i64 = client
        .query_one(
            "SELECT used FROM limit_daily WHERE key_id = $1 ORDER BY day DESC LIMIT 1",
            &[&o.id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        (served as i64..=6).contains(&used),
        "{used} counted in PostgreSQL, {served} served"
    );
    // The refusal during the outage said why: the database, not a spent day.
    assert!(is_limited(&refused, "daily_calls"), "{refused}");
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("PostgreSQL does not answer"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_while_postgresql_is_away_never_grants_more_than_the_day() {
    outage_then_stop("sigkill_outage", libc::SIGKILL).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_while_postgresql_is_away_never_grants_more_than_the_day() {
    outage_then_stop("sigterm_outage", libc::SIGTERM).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_keys_with_tiny_leases_leave_bounded_rows_that_are_reclaimed() {
    // Pruned every 2 s rather than the default 30 s: the rows go at the next prune.
    let (db, replicas, _admin, _mock) =
        cluster_with(&[("METAMCP_LIMITS_PRUNE_EVERY", "2s".into())]).await;
    let a = replicas[0].addr;
    let store = support::gateway::key_store(&db);
    let mut keys = Vec::new();
    for i in 0..40 {
        let (_, key) = limited_key(
            &store,
            &format!("tiny{i}"),
            LimitsChange {
                rate: rate("1/s"),
                max_concurrent: Some(Setting::Is(1)),
                daily_calls: Some(Setting::Is(1000)),
                ..LimitsChange::default()
            },
        )
        .await;
        keys.push(key);
    }
    for k in &keys {
        assert_eq!(rest(a, k).await, 200);
        let m = call(a, k, "mock__echo", json!({"message": "x"})).await;
        assert!(is_limited(&m, "rate"), "{m}");
    }
    let pg = metamcp::store::db::connect(&support::cluster().pg_config(&db.name))
        .await
        .unwrap();
    let count = |table: &'static str| {
        let pg = &pg;
        async move {
            pg.query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    assert!(count("limit_buckets").await <= 40);
    // Spare places go back at once; full buckets at the next prune.
    eventually(Duration::from_secs(5), "no place held", || async {
        (count("limit_slots").await == 0).then_some(())
    })
    .await;
    eventually(
        Duration::from_secs(15),
        "idle buckets reclaimed",
        || async { (count("limit_buckets").await == 0).then_some(()) },
    )
    .await;
    assert!(metric(a, "metamcp_limits_leases").await < 40.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_streams_are_counted_on_every_replica_and_given_back_when_closed() {
    let db = TestDb::new().await;
    let bound = [("METAMCP_KEY_MAX_STREAMS", "2".to_string())];
    let replicas = [
        Replica::start_with(&db, &bound),
        Replica::start_with(&db, &bound),
    ];
    let (a, b) = (replicas[0].addr, replicas[1].addr);
    let store = support::gateway::key_store(&db);
    let (_, key) = limited_key(&store, "streams", LimitsChange::default()).await;
    let first = support::http::live_events(a, &key).await;
    let _second = support::http::live_events(a, &key).await;
    // A third, on the other replica: over the key's bound (a refusal answers at once; an
    // accepted stream would not end).
    let third = tokio::time::timeout(Duration::from_secs(5), get(b, "/api/v1/events", &key))
        .await
        .expect("a refusal, not a stream");
    assert_eq!(third.status, 429, "{}", third.text());
    assert!(
        third.text().contains("METAMCP_KEY_MAX_STREAMS"),
        "{}",
        third.text()
    );
    // A stream closed gives its place back to the key, whichever replica asks next.
    drop(first);
    // (A refusal answers at once; an accepted stream is still open after a second.)
    eventually(Duration::from_secs(10), "the place back", || async {
        let r = tokio::time::timeout(Duration::from_secs(1), get(b, "/api/v1/events", &key)).await;
        match r {
            Err(_) => Some(()),
            Ok(refused) => {
                assert_eq!(refused.status, 429, "{}", refused.text());
                None
            }
        }
    })
    .await;
}

/// A SIGTERM while the background task's reservation of a daily block waits on a slow
/// database (a row lock held on the key's `limit_daily` row): the block granted after
/// the stop began is given back with the rest, so the day's count is the calls served.
///
/// The scene needs the machine's timing twice: the reservation must reach the lock
/// before the calls spend the block in memory (a second of demand, `DAILY_HORIZON`), and
/// the stop must begin within the background statement's two seconds. On a loaded
/// machine either can miss, and then the scene is set again on a fresh database and
/// replica, at most three times. What the test holds the gateway to (the stop waits for
/// the reservation, exits cleanly, and the day's count is the calls served) is asserted
/// in every attempt that set the scene: a broken stop fails the first of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_while_a_daily_block_is_being_reserved_loses_no_call() {
    let mut missed = Vec::new();
    for attempt in 1..=3 {
        match sigterm_while_a_block_is_reserved().await {
            Ok(()) => return,
            Err(why) => {
                eprintln!("attempt {attempt}: the scene was not set ({why}); setting it again");
                missed.push(why);
            }
        }
    }
    panic!("the scene was never set in three attempts: {missed:?}");
}

/// One attempt: `Err` when the machine's timing did not set the scene (see above).
async fn sigterm_while_a_block_is_reserved() -> Result<(), String> {
    let db = TestDb::new().await;
    let mut rep = Replica::start_with(&db, &[("METAMCP_DRAIN_GRACE", "0".into())]);
    let store = support::gateway::key_store(&db);
    let admin =
        support::gateway::create_key(&store, "admin", metamcp::store::keys::Scope::Admin, &[])
            .await;
    let (id, key) = limited_key(
        &store,
        "blocks",
        LimitsChange {
            daily_calls: Some(Setting::Is(100_000)),
            ..LimitsChange::default()
        },
    )
    .await;
    let mock = support::mock::Mock::start(&[]);
    let r = support::http::send_json(
        rep.addr,
        "POST",
        "/api/v1/mcp/servers",
        &admin,
        &json!({"name": "mock", "protocol": "http", "url": mock.url()}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    eventually(Duration::from_secs(20), "mock running", || async {
        let r = get(rep.addr, "/api/v1/mcp/servers/mock", &admin).await;
        (r.json()["status"] == "running").then_some(())
    })
    .await;
    let mut served = 0u64;
    let serve = async |n: usize| {
        for _ in 0..n {
            let m = call(rep.addr, &key, "mock__echo", json!({"message": "d"})).await;
            assert!(m["result"].is_object(), "{m}");
        }
        n as u64
    };
    // Demand grows, and with it the blocks reserved (renewed in the background when low).
    served += serve(150).await;
    assert!(metric(rep.addr, "metamcp_limits_daily_reservations_total").await >= 2.0);
    // The database turns slow for the key's day: a row lock held elsewhere.
    let mut holder = db.client().await;
    let lock = holder.transaction().await.unwrap();
    let rows = lock
        .query(
            "SELECT used FROM limit_daily WHERE key_id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "the key's day is counted");
    let watcher = db.client().await;
    let waiting = async || -> i64 {
        watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'
                   AND query LIKE '%metamcp_reserve_calls%'",
                &[],
            )
            .await
            .map(|r| r.get(0))
            .unwrap_or(0)
    };
    // Calls go on from the block in memory until the background asks for the next one
    // (at half the block), and that ask waits on the lock. A call that finds the block
    // spent asks on the request path and waits on the lock itself (half a second, then
    // refused): the scene was missed, not the property.
    let deadline = Instant::now() + Duration::from_secs(20);
    while waiting().await == 0 {
        if Instant::now() >= deadline {
            return Err("no reservation waited on the lock within 20 s".into());
        }
        let m = call(rep.addr, &key, "mock__echo", json!({"message": "d"})).await;
        if !m["result"].is_object() {
            return Err(format!(
                "the block was spent before the reservation waited: {m}"
            ));
        }
        served += 1;
    }
    if metric(rep.addr, "metamcp_limits_degraded").await != 0.0 {
        return Err("a call waited for the reservation on the request path".into());
    }
    // SIGTERM: the stop waits for that reservation before giving back the leases (fixed),
    // or gives them back at once, its statement waiting on the lock beside it (the bug).
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(rep.child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while rep.logged("waiting for the limits' statement in progress") == 0 && waiting().await < 2 {
        if Instant::now() >= deadline {
            // The reservation gave up on the lock (its two seconds) before the signal
            // came: nothing was in progress to wait for.
            if rep.logged("PostgreSQL does not answer") > 0 {
                return Err("the reservation timed out before the stop began".into());
            }
            panic!("the stop is not under way 10 s after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    lock.rollback().await.unwrap();
    let status = tokio::task::spawn_blocking(move || {
        let status = rep.child.wait();
        (status, rep)
    })
    .await
    .unwrap();
    let (status, rep) = status;
    assert!(status.as_ref().is_ok_and(|s| s.success()), "{status:?}");
    if rep.logged("PostgreSQL does not answer") > 0 {
        return Err("the lock was held past the reservation's two seconds".into());
    }
    let used: i64 = watcher
        .query_one(
            "SELECT used FROM limit_daily WHERE key_id = $1 ORDER BY day DESC LIMIT 1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(used as u64, served, "the day's count is the calls served");
    Ok(())
}
