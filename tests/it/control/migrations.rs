//! Migrations and change notifications against a real database.

use crate::support;

use std::time::Duration;

use crate::support::{TestDb, run_bin, stderr};
use futures_util::StreamExt;
use metamcp::store::db::{CHANGES_CHANNEL, DbError};
use metamcp::store::migrate::{self, MIGRATIONS};
use tokio_postgres::AsyncMessage;

#[tokio::test]
async fn migrations_apply_once_and_are_recorded() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let before = migrate::status(&client).await.unwrap();
    assert_eq!(before.current, 0);
    assert_eq!(before.pending.len(), MIGRATIONS.len());
    let first = migrate::run(&mut client).await.unwrap();
    assert_eq!(first.len(), MIGRATIONS.len());
    let second = migrate::run(&mut client).await.unwrap();
    assert!(second.is_empty());
    let rows = client
        .query(
            "SELECT version, name FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), MIGRATIONS.len());
    assert_eq!(rows[0].get::<_, String>(1), "0001_init");
    let after = migrate::status(&client).await.unwrap();
    assert!(after.pending.is_empty());
}

#[tokio::test]
async fn concurrent_starts_apply_each_migration_exactly_once() {
    let db = TestDb::new().await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let mut client = db.client().await;
        tasks.push(tokio::spawn(async move {
            migrate::run(&mut client).await.map(|a| a.len())
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap().expect("every racer succeeds");
    }
    assert_eq!(
        total,
        MIGRATIONS.len(),
        "each migration applied by exactly one racer"
    );

    // And as separate processes, the way two gateways would start.
    let db = TestDb::new().await;
    let children: Vec<_> = (0..4)
        .map(|_| {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_keyadm"));
            cmd.arg("migrate")
                .arg("--json")
                .env_clear()
                .env("RUST_LOG", "warn");
            support::keep_coverage(&mut cmd);
            for (k, v) in db.env() {
                cmd.env(k, v);
            }
            cmd.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        applied += v["applied"].as_array().unwrap().len();
    }
    assert_eq!(applied, MIGRATIONS.len());
}

#[tokio::test]
async fn a_failed_migration_leaves_nothing_behind() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    // A table the first migration wants to create already exists: it must fail whole.
    client
        .batch_execute("CREATE TABLE namespaces (x int)")
        .await
        .unwrap();
    let err = migrate::run(&mut client).await.unwrap_err();
    assert!(
        matches!(
            err,
            DbError::Migration {
                name: "0001_init",
                ..
            }
        ),
        "{err}"
    );
    let leftover = client
        .query_one("SELECT to_regclass('api_keys') IS NULL", &[])
        .await
        .unwrap();
    assert!(leftover.get::<_, bool>(0), "no partial schema");
    assert_eq!(migrate::status(&client).await.unwrap().current, 0);
    // The advisory lock was released: another session can migrate once fixed.
    client.batch_execute("DROP TABLE namespaces").await.unwrap();
    let mut other = db.client().await;
    assert_eq!(
        migrate::run(&mut other).await.unwrap().len(),
        MIGRATIONS.len()
    );
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    migrate::run(&mut client).await.unwrap();
    client
        .execute(
            "INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future')",
            &[],
        )
        .await
        .unwrap();
    let err = migrate::run(&mut client).await.unwrap_err();
    assert!(
        matches!(err, DbError::SchemaTooNew { found: 999, .. }),
        "{err}"
    );
    let out = run_bin(env!("CARGO_BIN_EXE_keyadm"), &db.env(), &["keys", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("newer than this binary"),
        "{}",
        stderr(&out)
    );
}

/// Key changes announce themselves; recording a key's use does not.
#[tokio::test]
async fn key_changes_notify_and_key_use_does_not() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    migrate::run(&mut client).await.unwrap();

    let (listener, mut connection) = support::cluster()
        .pg_config(&db.name)
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    tokio::spawn(async move {
        while let Some(Ok(msg)) = messages.next().await {
            if let AsyncMessage::Notification(n) = msg {
                let _ = tx.send(n.payload().to_string());
            }
        }
    });
    listener
        .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))
        .await
        .unwrap();

    let out = run_bin(
        env!("CARGO_BIN_EXE_keyadm"),
        &db.env(),
        &["keys", "create", "--name", "n", "--json"],
    );
    let id = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let n = next_change(&mut rx).await;
    assert_eq!(
        (n["table"].as_str(), n["op"].as_str(), n["id"].as_str()),
        (Some("api_keys"), Some("insert"), Some(id.as_str()))
    );

    client
        .execute(
            "UPDATE api_keys SET last_used_at = now() WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    // A change that does notify, to prove the one before it did not.
    run_bin(
        env!("CARGO_BIN_EXE_keyadm"),
        &db.env(),
        &["keys", "inactivate", &id],
    );
    let n = next_change(&mut rx).await;
    assert_eq!(
        n["op"], "update",
        "the last_used_at update must not notify: {n}"
    );

    // A rolled-back change announces nothing; the following delete is the next message.
    let tx_client = db.client().await;
    tx_client
        .batch_execute(&format!(
            "BEGIN; UPDATE api_keys SET name = 'x' WHERE id = '{id}'; ROLLBACK;"
        ))
        .await
        .unwrap();
    tx_client
        .execute("DELETE FROM api_keys WHERE id = $1", &[&id])
        .await
        .unwrap();
    let n = next_change(&mut rx).await;
    assert_eq!(n["op"], "delete");
}

async fn next_change(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> serde_json::Value {
    let payload = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a notification within 5 s")
        .expect("channel open");
    serde_json::from_str(&payload).unwrap()
}

#[tokio::test]
async fn overrides_are_carried_over_to_server_ids() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    migrate::run_to(&mut client, 5).await.unwrap();
    client
        .batch_execute(
            "INSERT INTO mcp_servers (id, name, protocol, url)
                 VALUES ('00000000-0000-0000-0000-0000000000e1', 'Everything', 'http', 'http://127.0.0.1:9/mcp');
             INSERT INTO namespaces (name) VALUES ('team');
             INSERT INTO namespace_servers (namespace, server_id, position)
                 VALUES ('team', '00000000-0000-0000-0000-0000000000e1', 0);
             INSERT INTO namespace_tools (namespace, tool, enabled, rename_to) VALUES
                 ('team', 'everything__echo', false, NULL),
                 ('team', 'everything__get_sum', true, 'sum'),
                 ('team', 'plain', true, 'p'),
                 ('team', 'ghost__x', false, NULL);",
        )
        .await
        .unwrap();
    let applied = migrate::run(&mut client).await.unwrap();
    assert_eq!(applied.first(), Some(&"0006_overrides_by_server"));
    let rows = client
        .query(
            "SELECT coalesce(server_id::text, '-'), tool, enabled, coalesce(rename_to, '-')
             FROM namespace_tools ORDER BY tool",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, String, bool, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let e1 = "00000000-0000-0000-0000-0000000000e1".to_string();
    assert_eq!(
        got,
        vec![
            (e1.clone(), "echo".into(), false, "-".into()),
            (e1, "get_sum".into(), true, "sum".into()),
            ("-".into(), "ghost__x".into(), false, "-".into()),
            ("-".into(), "plain".into(), true, "p".into()),
        ]
    );
    // One override per (namespace, server, tool), also for the ones without a server.
    let dup = client
        .execute(
            "INSERT INTO namespace_tools (namespace, tool) VALUES ('team', 'plain')",
            &[],
        )
        .await;
    assert!(dup.is_err());
}

/// A query PostgreSQL refuses says what PostgreSQL said (tokio-postgres alone displays
/// "db error"), with its SQLSTATE, and a failed connection says why.
#[tokio::test]
async fn a_refused_query_says_what_postgresql_said() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let e = DbError::from(client.query("SELECT 1 / 0", &[]).await.unwrap_err());
    assert_eq!(
        e.to_string(),
        "database query failed: ERROR 22012: division by zero"
    );
    let e = DbError::from(
        client
            .execute("INSERT INTO no_such_table VALUES (1)", &[])
            .await
            .unwrap_err(),
    );
    assert!(
        e.to_string().contains("42P01") && e.to_string().contains("no_such_table"),
        "{e}"
    );
    // A pin for a server that is gone (removed while its lists were reconciled) is told
    // apart from other failures.
    migrate::run(&mut db.client().await).await.unwrap();
    let e = DbError::from(
        client
            .execute(
                "INSERT INTO tool_pins (server_id, kind, name, digest, definition)
                 VALUES (gen_random_uuid(), 'tool', 'x', repeat('a', 64), '{}')",
                &[],
            )
            .await
            .unwrap_err(),
    );
    assert!(e.is_foreign_key_violation(), "{e}");
    assert!(e.to_string().contains("23503"), "{e}");
    let e = DbError::from(client.query("SELECT 1 / 0", &[]).await.unwrap_err());
    assert!(!e.is_foreign_key_violation());
    let mut closed = tokio_postgres::Config::new();
    closed
        .host("127.0.0.1")
        .port(1)
        .user("nobody")
        .dbname("none");
    let Err(e) = metamcp::store::db::connect(&closed).await else {
        panic!("nothing listens on port 1");
    };
    let said = e.to_string();
    assert!(
        said.starts_with("cannot connect to PostgreSQL: ")
            && said.len() > "cannot connect to PostgreSQL: ".len() + 12,
        "{said}"
    );
}
