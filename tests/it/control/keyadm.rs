//! keyadm end to end: the real binary against a real PostgreSQL database.

use crate::support;

use crate::support::keyadm_bin;
use crate::support::{TestDb, run_bin, stderr, stdout};
use serde_json::Value;

const KEYADM: &str = env!("CARGO_BIN_EXE_keyadm");

fn ok(db: &TestDb, args: &[&str]) -> String {
    let out = keyadm_bin(db, args);
    assert!(
        out.status.success(),
        "keyadm {args:?} failed: {}",
        stderr(&out)
    );
    stdout(&out)
}

fn fails(db: &TestDb, args: &[&str], code: i32, needle: &str) {
    let out = keyadm_bin(db, args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "keyadm {args:?}: {}",
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains(needle),
        "keyadm {args:?}: {err:?} lacks {needle:?}"
    );
    assert!(stdout(&out).is_empty(), "nothing on stdout when failing");
}

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).expect("valid JSON output")
}

fn create(db: &TestDb, extra: &[&str]) -> (String, String) {
    let mut args = vec!["keys", "create", "--json"];
    args.extend_from_slice(extra);
    let v = json(&ok(db, &args));
    (
        v["id"].as_str().expect("id").to_string(),
        v["api_key"].as_str().expect("api_key").to_string(),
    )
}

#[tokio::test]
async fn create_then_list_show_and_json_shapes() {
    let db = TestDb::new().await;
    let human = ok(&db, &["keys", "create", "--name", "demo"]);
    let key_line = human
        .lines()
        .find(|l| l.starts_with("mcp_"))
        .expect("key printed once");
    let id = key_line.split('_').nth(1).expect("id in key").to_string();
    assert!(human.contains(&format!("created key {id}")));

    // A key's namespaces exist: one that does not is refused, naming it and how to
    // make it (such a key was accepted, then saw nothing), and nothing is written.
    fails(
        &db,
        &[
            "keys",
            "create",
            "--name",
            "ci bot",
            "--namespace",
            "team-a",
        ],
        65,
        "no namespace named \"team-a\": create it first (keyadm namespaces add",
    );
    assert_eq!(
        json(&ok(&db, &["keys", "list", "--json"]))
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    ok(&db, &["namespaces", "add", "team-a"]);
    fails(
        &db,
        &[
            "keys",
            "create",
            "--name",
            "ci bot",
            "--namespace",
            "team-a",
            "--namespace",
            "team-b",
        ],
        65,
        "no namespace named \"team-b\"",
    );
    ok(&db, &["namespaces", "add", "team-b"]);
    let (id2, key2) = create(
        &db,
        &[
            "--name",
            "ci bot",
            "--description",
            "runs CI",
            "--scope",
            "admin",
            "--namespace",
            "team-a",
            "--namespace",
            "team-b",
            "--expires-in",
            "30",
        ],
    );
    assert!(key2.starts_with(&format!("mcp_{id2}_")));

    let table = ok(&db, &["keys", "list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID "), "{table}");
    assert_eq!(lines.len(), 3, "{table}");
    // Columns line up: every row's NAME starts where the header's does.
    let col = lines[0].find("NAME").expect("NAME column");
    assert!(lines[1..].iter().all(|l| l[col - 2..col] == *"  "));
    assert!(table.contains(&id) && table.contains(&id2) && table.contains("team-a,team-b"));
    // Neither the key text nor its secret ever appear again.
    assert!(!table.contains(key_line) && !table.contains(&key2));

    let list = json(&ok(&db, &["keys", "list", "--json"]));
    let arr = list.as_array().expect("array");
    assert_eq!(arr.len(), 2);
    let shown = json(&ok(&db, &["keys", "show", &id2, "--json"]));
    assert_eq!(shown["name"], "ci bot");
    assert_eq!(shown["scope"], "admin");
    assert_eq!(shown["namespaces"], serde_json::json!(["team-a", "team-b"]));
    assert_eq!(shown["is_active"], true);
    assert!(
        shown["expires_at"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z'))
    );
    assert!(shown.get("api_key").is_none() && !shown.to_string().contains("mcp_"));

    let human_show = ok(&db, &["keys", "show", &id]);
    assert!(human_show.contains("scope        client") && human_show.contains("* (all)"));
}

#[tokio::test]
async fn activation_lifecycle_and_its_errors() {
    let db = TestDb::new().await;
    let (id, _) = create(&db, &["--name", "x"]);
    fails(&db, &["keys", "activate", &id], 1, "already active");
    ok(&db, &["keys", "inactivate", &id]);
    fails(&db, &["keys", "inactivate", &id], 1, "already inactive");
    let active_only = json(&ok(&db, &["keys", "list", "--json"]));
    assert_eq!(active_only.as_array().map(Vec::len), Some(0));
    assert!(ok(&db, &["keys", "list"]).contains("no active keys"));
    let all = json(&ok(&db, &["keys", "list", "--include-inactive", "--json"]));
    assert_eq!(all[0]["is_active"], false);
    let out = ok(&db, &["keys", "activate", &id]);
    assert!(out.contains("now active"), "{out}");

    // An expired key cannot be brought back.
    let (old, _) = create(&db, &["--name", "old", "--expires-in", "1"]);
    db.client()
        .await
        .execute(
            "UPDATE api_keys SET expires_at = now() - interval '1 hour' WHERE id = $1",
            &[&old],
        )
        .await
        .unwrap();
    ok(&db, &["keys", "inactivate", &old]);
    fails(&db, &["keys", "activate", &old], 1, "expired");
}

#[tokio::test]
async fn delete_needs_confirm_and_an_existing_id() {
    let db = TestDb::new().await;
    let (id, _) = create(&db, &["--name", "doomed"]);
    fails(&db, &["keys", "delete", &id], 1, "--confirm");
    ok(&db, &["keys", "show", &id]);
    fails(
        &db,
        &["keys", "delete", "0000000000000000", "--confirm"],
        1,
        "no key with id 0000000000000000",
    );
    let out = json(&ok(&db, &["keys", "delete", &id, "--confirm", "--json"]));
    assert_eq!(out["deleted"], true);
    fails(&db, &["keys", "show", &id], 1, "no key with id");
}

#[tokio::test]
async fn rotate_prints_a_new_key_for_the_same_id() {
    let db = TestDb::new().await;
    let (id, key) = create(&db, &["--name", "r"]);
    let v = json(&ok(&db, &["keys", "rotate", &id, "--json"]));
    assert_eq!(v["id"], id.as_str());
    let new_key = v["api_key"].as_str().unwrap();
    assert_ne!(new_key, key);
    assert!(new_key.starts_with(&format!("mcp_{id}_")));
    fails(
        &db,
        &["keys", "rotate", "ffffffffffffffff"],
        1,
        "no key with id",
    );
}

#[tokio::test]
async fn bad_input_gets_one_line_and_the_right_status() {
    let db = TestDb::new().await;
    fails(
        &db,
        &["keys", "show", "not-an-id"],
        1,
        "no key named \"not-an-id\"",
    );
    fails(
        &db,
        &["keys", "activate", "ABCDEF0123456789"],
        1,
        "16 lowercase hex digits",
    );
    fails(&db, &["keys", "create"], 64, "--name");
    fails(
        &db,
        &["keys", "create", "--name", "a", "--scope", "root"],
        64,
        "--scope",
    );
    fails(
        &db,
        &["keys", "create", "--name", "a", "--namespace", "bad_ns"],
        1,
        "namespace",
    );
    fails(
        &db,
        &["keys", "create", "--name", "a", "--expires-in", "0"],
        1,
        "expires-in",
    );
    fails(&db, &["bogus"], 64, "unknown command");
    // Nothing was half-written by any of the failures.
    let all = json(&ok(&db, &["keys", "list", "--include-inactive", "--json"]));
    assert_eq!(all.as_array().map(Vec::len), Some(0));
    for out in [
        keyadm_bin(&db, &["keys", "show", "not-an-id"]),
        keyadm_bin(&db, &["keys", "create"]),
    ] {
        assert_eq!(
            stderr(&out).lines().filter(|l| l.contains("error")).count(),
            1
        );
    }
}

#[tokio::test]
async fn configuration_errors_exit_64_listing_every_problem() {
    let db = TestDb::new().await;
    let out = run_bin(
        KEYADM,
        &[
            ("DATABASE_URL", db.url.clone()),
            ("METAMCP_MAX_BODY", "lots".into()),
        ],
        &["status"],
    );
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    for needle in ["JWT_SECRET", "ENCRYPTION_KEY", "METAMCP_MAX_BODY"] {
        assert!(err.contains(needle), "{err}");
    }
}

#[tokio::test]
async fn migrate_and_status() {
    let db = TestDb::new().await;
    let status = ok(&db, &["status"]);
    let names: Vec<&str> = metamcp::store::migrate::MIGRATIONS
        .iter()
        .map(|m| m.name)
        .collect();
    assert!(
        status.contains(&format!("version 0, pending: {}", names.join(", "))),
        "{status}"
    );
    assert!(status.contains("no schema yet"));
    let first = ok(&db, &["migrate"]);
    let expected: String = names.iter().map(|n| format!("applied {n}\n")).collect();
    assert_eq!(first, expected);
    let again = json(&ok(&db, &["migrate", "--json"]));
    assert_eq!(again["applied"], serde_json::json!([]));
    create(&db, &["--name", "a"]);
    let (b, _) = create(&db, &["--name", "b"]);
    ok(&db, &["keys", "inactivate", &b]);
    let s = json(&ok(&db, &["status", "--json"]));
    assert_eq!(s["database"]["mode"], "external");
    assert_eq!(s["schema"]["version"], metamcp::store::migrate::latest());
    assert_eq!(s["schema"]["pending"], serde_json::json!([]));
    assert_eq!(s["keys"]["active"], 1);
    assert_eq!(s["keys"]["inactive"], 1);
    assert!(!s.to_string().contains(support::TEST_ENCRYPTION_KEY));
}

#[tokio::test]
async fn help_needs_no_database() {
    let out = run_bin(KEYADM, &[], &["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for cmd in [
        "keys list",
        "keys create",
        "keys show",
        "keys activate",
        "keys inactivate",
        "keys delete",
        "keys rotate",
        "namespaces list",
        "namespaces show NAME",
        "namespaces add NAME",
        "namespaces set NAME",
        "namespaces remove NAME",
        "--tool-search off|on|auto",
        "--validate-arguments true|false",
        "migrate",
        "status",
    ] {
        assert!(text.contains(cmd), "help lacks {cmd}");
    }
}

/// keyadm in process (the code the binary runs), against a live gateway's database.
async fn keyadm_here(db: &TestDb, args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let inv = metamcp::keyadm::parse(&args).expect("valid arguments");
    metamcp::keyadm::execute(&db.config(), &inv)
        .await
        .expect("keyadm succeeds")
}

#[tokio::test]
async fn key_usage_is_counted_off_the_request_path_and_shown() {
    use serde_json::json;
    let gw = support::gateway::TestGateway::start().await;
    let mock = support::mock::Mock::start(&[]);
    gw.register(json!({"name": "m", "protocol": "http", "url": mock.url()}))
        .await;
    let id = gw.client_key.split('_').nth(1).unwrap().to_string();
    let before = keyadm_here(&gw.db, &["keys", "show", &id]).await;
    assert!(before.contains("calls        0"), "{before}");
    let mut c = support::mcp::Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.initialize().await;
    for i in 0..3 {
        let m = c
            .call(
                json!(i),
                "tools/call",
                json!({"name": "m__echo", "arguments": {"message": "x"}}),
            )
            .await;
        assert_eq!(m["result"]["content"][0]["text"], "x", "{m}");
    }
    // Lists are answered by the gateway itself: uses, not calls.
    c.tool_names().await;
    let shown = support::eventually(std::time::Duration::from_secs(15), "usage recorded", || {
        let db = &gw.db;
        let id = id.clone();
        async move {
            let s = keyadm_here(db, &["keys", "show", &id]).await;
            s.contains("calls        3").then_some(s)
        }
    })
    .await;
    let last_used = shown
        .lines()
        .find(|l| l.starts_with("last used"))
        .unwrap()
        .to_string();
    assert!(!last_used.ends_with('-'), "{shown}");
    let listed = keyadm_here(&gw.db, &["keys", "list", "--json"]).await;
    let keys: Value = serde_json::from_str(&listed).unwrap();
    let me = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .unwrap();
    assert_eq!(me["calls"], 3, "{me}");
    assert!(me["last_used_at"].is_string(), "{me}");
    let table = keyadm_here(&gw.db, &["keys", "list"]).await;
    assert!(table.lines().next().unwrap().contains("CALLS"), "{table}");
}

/// keyadm's command in process: the output, or the error's exit status and message.
async fn here(db: &TestDb, args: &[&str]) -> Result<String, (i32, String)> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let inv = metamcp::keyadm::parse(&args).map_err(|e| (64, e.to_string()))?;
    metamcp::keyadm::execute(&db.config(), &inv)
        .await
        .map_err(|e| (e.exit_code(), e.to_string()))
}

/// Every command once more, run in process (the code the binary runs, counted by
/// coverage), text and JSON, with the errors' statuses.
#[tokio::test]
async fn every_command_in_process() {
    let db = TestDb::new().await;
    let migrated = here(&db, &["migrate"]).await.unwrap();
    assert!(migrated.contains("applied") || migrated.contains("up to date"));
    let latest = json(&here(&db, &["migrate", "--json"]).await.unwrap())["version"].clone();
    assert!(!latest.is_null(), "migrate --json names the schema version");
    for ns in ["a", "b"] {
        here(&db, &["namespaces", "add", ns]).await.unwrap();
    }
    let created = here(
        &db,
        &[
            "keys",
            "create",
            "--name",
            "ops",
            "--description",
            "on call",
            "--scope",
            "admin",
            "--namespace",
            "a",
            "--namespace",
            "b",
            "--expires-in",
            "30",
        ],
    )
    .await
    .unwrap();
    let key = created
        .lines()
        .find(|l| l.starts_with("mcp_"))
        .expect("the key once");
    let id = key.split('_').nth(1).unwrap().to_string();
    let v = json(
        &here(&db, &["keys", "create", "--name", "ci", "--json"])
            .await
            .unwrap(),
    );
    let other = v["id"].as_str().unwrap().to_string();

    let listed = here(&db, &["keys", "list"]).await.unwrap();
    assert!(listed.contains("ops") && listed.contains("ci"), "{listed}");
    let shown = here(&db, &["keys", "show", &id]).await.unwrap();
    for needle in ["ops", "on call", "admin", "a, b"] {
        assert!(shown.contains(needle), "{shown} lacks {needle}");
    }
    assert_eq!(
        json(&here(&db, &["keys", "show", &id, "--json"]).await.unwrap())["namespaces"],
        serde_json::json!(["a", "b"])
    );
    let status = here(&db, &["status"]).await.unwrap();
    assert!(
        status.contains("2 active, 0 inactive, 0 expired"),
        "{status}"
    );
    assert!(status.contains("(up to date)"), "{status}");
    assert_eq!(
        json(&here(&db, &["status", "--json"]).await.unwrap())["keys"]["active"],
        2
    );

    assert!(
        here(&db, &["keys", "inactivate", &other])
            .await
            .unwrap()
            .contains("inactive")
    );
    assert_eq!(
        here(&db, &["keys", "inactivate", &other])
            .await
            .unwrap_err()
            .0,
        1
    );
    let all = json(
        &here(&db, &["keys", "list", "--include-inactive", "--json"])
            .await
            .unwrap(),
    );
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    assert!(
        here(&db, &["keys", "list", "--include-inactive"])
            .await
            .unwrap()
            .contains("ci")
    );
    assert_eq!(
        json(
            &here(&db, &["keys", "activate", &other, "--json"])
                .await
                .unwrap()
        )["is_active"],
        true
    );

    let rotated = here(&db, &["keys", "rotate", &id]).await.unwrap();
    let new_key = rotated
        .lines()
        .find(|l| l.starts_with("mcp_"))
        .expect("a new key");
    assert_ne!(new_key, key);
    let (code, message) = here(&db, &["keys", "delete", &id]).await.unwrap_err();
    assert_eq!(
        (code, message.contains("--confirm")),
        (1, true),
        "{message}"
    );
    assert!(
        here(&db, &["keys", "delete", &id, "--confirm"])
            .await
            .is_ok()
    );
    let (code, message) = here(&db, &["keys", "show", &id]).await.unwrap_err();
    assert_eq!(
        (code, message.contains("no key with id")),
        (1, true),
        "{message}"
    );
    assert_eq!(here(&db, &["keys", "frobnicate"]).await.unwrap_err().0, 64);
    assert!(
        here(&db, &["--help"])
            .await
            .unwrap()
            .contains("keys rotate")
    );
}

/// The binary's entry point in process: help, usage errors and a command's status.
#[tokio::test]
async fn the_entry_point_returns_the_exit_status() {
    let db = TestDb::new().await;
    // The settings as a config file (the process's environment is shared by the tests).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metamcp.toml");
    let toml: String = db
        .env()
        .iter()
        .map(|(k, v)| format!("{k} = {v:?}\n"))
        .collect();
    std::fs::write(&file, toml).unwrap();
    let file = file.display().to_string();
    let main = |args: &[&str]| metamcp::keyadm::main(args.iter().map(|s| s.to_string()).collect());
    let codes = tokio::task::spawn_blocking(move || {
        [
            main(&["--help"]),
            main(&["keys", "frobnicate"]),
            main(&["--database-url"]),
            main(&["--config", &file, "status"]),
            main(&["--config", &file, "keys", "show", "0000000000000000"]),
        ]
    })
    .await
    .unwrap();
    assert_eq!(codes, [0, 64, 64, 0, 1]);
}

#[tokio::test]
async fn keys_carry_limits_that_update_changes_and_show_prints() {
    let db = TestDb::new().await;
    let (id, _) = create(
        &db,
        &[
            "--name",
            "limited",
            "--rate",
            "20/s",
            "--burst",
            "40",
            "--max-concurrent",
            "8",
            "--daily-calls",
            "10000",
        ],
    );
    let shown = json(&ok(&db, &["keys", "show", &id, "--json"]));
    assert_eq!(
        shown["limits"],
        serde_json::json!({"rate": "20/s", "burst": 40, "max_concurrent": 8, "daily_calls": 10000})
    );
    // update changes only what it names; default returns a limit to the gateway's
    // default (and the rate's burst with it), none (or unlimited) removes it.
    let updated = json(&ok(
        &db,
        &[
            "keys",
            "update",
            &id,
            "--rate",
            "default",
            "--max-concurrent",
            "unlimited",
            "--json",
        ],
    ));
    assert_eq!(
        updated["limits"],
        serde_json::json!({"rate": "default", "burst": null, "max_concurrent": "none", "daily_calls": 10000})
    );
    let listed = json(&ok(&db, &["keys", "list", "--json"]));
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .expect("listed")
        .clone();
    assert_eq!(entry["limits"], updated["limits"]);
    let human = ok(&db, &["keys", "show", &id]);
    assert!(
        human.contains(
            "limits       rate default (no limit: METAMCP_KEY_RATE unset), max concurrent none (no limit), daily calls 10000"
        ),
        "{human}"
    );
    let human = ok(&db, &["keys", "update", &id, "--rate", "600/m"]);
    assert!(human.contains("rate 600/m"), "{human}");
    // The largest values each flag takes are stored as given.
    let human = ok(
        &db,
        &[
            "keys",
            "update",
            &id,
            "--rate",
            "1000000000/s",
            "--burst",
            "1000000000",
            "--max-concurrent",
            "1000000",
            "--daily-calls",
            "1000000000000",
        ],
    );
    assert!(
        human.contains("rate 1000000000/s (burst 1000000000)"),
        "{human}"
    );
    fails(
        &db,
        &["keys", "update", &id, "--rate", "1000000001/s"],
        64,
        "--rate",
    );

    fails(&db, &["keys", "update", &id], 64, "needs at least one of");
    fails(
        &db,
        &["keys", "update", &id, "--rate", "fast"],
        64,
        "--rate",
    );
    fails(
        &db,
        &["keys", "update", &id, "--burst", "none"],
        64,
        "--burst",
    );
    fails(
        &db,
        &["keys", "update", &id, "--daily-calls", "0"],
        64,
        "--daily-calls",
    );
    fails(
        &db,
        &["keys", "update", &id, "--rate", "1/s", "--rate", "2/s"],
        64,
        "more than once",
    );
    fails(
        &db,
        &["keys", "update", "0123456789abcdef", "--rate", "1/s"],
        1,
        "no key with id",
    );
}

/// A key is found by its name as well as by its id (the name a user remembers), and an
/// active key's name is not given to a second one: the name keeps telling them apart.
#[tokio::test]
async fn keys_are_found_by_name_and_names_are_not_given_twice() {
    let db = TestDb::new().await;
    let (id, _) = create(&db, &["--name", "admin", "--scope", "admin"]);
    let shown = json(&ok(&db, &["keys", "show", "admin", "--json"]));
    assert_eq!(shown["id"], id.as_str(), "{shown}");
    fails(
        &db,
        &["keys", "create", "--name", "admin"],
        1,
        "an active key is named \"admin\" already",
    );
    fails(
        &db,
        &["keys", "show", "nobody"],
        1,
        "no key named \"nobody\"",
    );
    // Once inactive, its name may be used again; the name then means two keys.
    ok(&db, &["keys", "inactivate", "admin"]);
    create(&db, &["--name", "admin"]);
    fails(
        &db,
        &["keys", "show", "admin"],
        1,
        "2 keys are named \"admin\"",
    );
    ok(&db, &["keys", "show", &id]);
}

/// `client-config` refuses what could not work in the client (a namespace that does not
/// exist, a port nobody can know) and warns before pasting an admin key.
#[tokio::test]
async fn client_config_refuses_entries_that_cannot_work() {
    let db = TestDb::new().await;
    let (_, admin) = create(&db, &["--name", "root", "--scope", "admin"]);
    fails(
        &db,
        &[
            "client-config",
            "--key",
            &admin,
            "--namespace",
            "nosuch",
            "--url",
            "http://gw:1",
        ],
        65,
        "no namespace \"nosuch\"",
    );
    let out = run_bin(
        KEYADM,
        &[
            db.env(),
            vec![("METAMCP_LISTEN", "127.0.0.1:0".to_string())],
        ]
        .concat(),
        &["client-config", "--key", &admin],
    );
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(stderr(&out).contains("--url"), "{}", stderr(&out));
    let out = keyadm_bin(
        &db,
        &["client-config", "--key", &admin, "--url", "http://gw:1"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: this is an admin key"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("\"url\": \"http://gw:1/mcp\""),
        "{}",
        stdout(&out)
    );
}

/// From issue 61: `client-config --format json` names the key the entry holds, given with
/// `--key` or made with `--create-key` (it printed `"key_id": null` for a given key).
#[tokio::test]
async fn client_config_json_names_the_key_it_holds() {
    let db = TestDb::new().await;
    let (id, key) = create(&db, &["--name", "laptop"]);
    let given = json(&ok(
        &db,
        &[
            "client-config",
            "--key",
            &key,
            "--url",
            "http://gw:1",
            "--format",
            "json",
        ],
    ));
    assert_eq!(given["key_id"], id.as_str(), "{given}");
    let made = json(&ok(
        &db,
        &[
            "client-config",
            "--create-key",
            "desk",
            "--url",
            "http://gw:1",
            "--format",
            "json",
        ],
    ));
    let made_id = made["key_id"].as_str().expect("the new key's id");
    let bearer = made["headers"]["Authorization"].as_str().unwrap();
    assert!(
        bearer.starts_with(&format!("Bearer mcp_{made_id}_")),
        "{made}"
    );
}

/// The tool names a gateway's `/mcp/{namespace}` lists now (a stateless 2026-07-28
/// `tools/list`), or its HTTP status when it does not answer 200.
async fn served_tools(gw: &support::gateway::TestGateway, ns: &str) -> Result<Vec<String>, u16> {
    use serde_json::json;
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let list =
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}});
    let c = support::mcp::Client::new(gw.addr, &format!("/mcp/{ns}"), Some(&gw.client_key));
    let r = c.post_stateless(&list).await;
    if r.status != 200 {
        return Err(r.status);
    }
    let m = support::mcp::response_message(&r);
    let mut names: Vec<String> = m["result"]["tools"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    Ok(names)
}

/// `keyadm namespaces`: a namespace made, changed, listed and removed from the command
/// line, through the registry's own writer: the REST API shows each change (its
/// `tool_search` and `validate_arguments` as set) and the running gateway serves it
/// (told by NOTIFY, no request to it). A server that is not registered, a value a field
/// does not take and a name already used are refused with the flag, the value and what
/// to do next, and write nothing.
#[tokio::test]
async fn namespaces_are_made_changed_listed_and_removed() {
    use serde_json::json;
    use std::time::Duration;
    let gw = support::gateway::TestGateway::start().await;
    let mock = support::mock::Mock::start(&[]);
    gw.register(json!({"name": "m", "protocol": "http", "url": mock.url()}))
        .await;
    let db = &gw.db;
    let rest = |name: &str| {
        let path = format!("/api/v1/namespaces/{name}");
        let (addr, key) = (gw.addr, gw.admin_key.clone());
        async move { support::http::get(addr, &path, &key).await }
    };

    // add: the flags are the REST body's fields.
    let added = json(&ok(
        db,
        &[
            "namespaces",
            "add",
            "team",
            "--server",
            "m",
            "--tool-search",
            "off",
            "--validate-arguments",
            "true",
            "--description",
            "the team's tools",
            "--json",
        ],
    ));
    assert_eq!(
        (
            &added["name"],
            &added["tool_search"],
            &added["validate_arguments"]
        ),
        (&json!("team"), &json!("off"), &json!(true)),
        "{added}"
    );
    let r = rest("team").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["servers"], json!(["m"]), "{v}");
    assert_eq!(v["tool_search"], "off", "{v}");
    assert_eq!(v["validate_arguments"], true, "{v}");
    assert_eq!(v["tool_prefix"], "always", "{v}");
    assert_eq!(v["auth"], "required", "{v}");
    assert_eq!(v["description"], "the team's tools", "{v}");
    let served = support::eventually(Duration::from_secs(10), "/mcp/team served", || async {
        served_tools(&gw, "team")
            .await
            .ok()
            .filter(|t| t.iter().any(|n| n == "m__echo"))
    })
    .await;
    assert!(served.iter().all(|n| n.starts_with("m__")), "{served:?}");

    // set: only what is given changes.
    let changed = ok(
        db,
        &[
            "namespaces",
            "set",
            "team",
            "--tool-search",
            "on",
            "--validate-arguments",
            "false",
        ],
    );
    assert!(changed.starts_with("changed namespace team"), "{changed}");
    assert!(changed.contains("tool_search         on"), "{changed}");
    let v = rest("team").await.json();
    assert_eq!(
        (&v["tool_search"], &v["validate_arguments"]),
        (&json!("on"), &json!(false)),
        "{v}"
    );
    assert_eq!(
        (&v["servers"], &v["description"], &v["tool_prefix"]),
        (&json!(["m"]), &json!("the team's tools"), &json!("always")),
        "the fields not given stay: {v}"
    );
    support::eventually(
        Duration::from_secs(10),
        "/mcp/team in search mode",
        || async {
            (served_tools(&gw, "team").await == Ok(vec!["call_tool".into(), "search_tools".into()]))
                .then_some(())
        },
    )
    .await;

    // list and show.
    let listed = ok(db, &["namespaces", "list"]);
    let header = listed.lines().next().unwrap_or_default();
    assert!(
        header.contains("TOOL SEARCH") && header.contains("VALIDATE"),
        "{listed}"
    );
    let row = listed
        .lines()
        .find(|l| l.starts_with("team "))
        .unwrap_or_else(|| panic!("team listed: {listed}"));
    assert!(row.contains(" on ") && row.contains(" false "), "{row}");
    let all = json(&ok(db, &["namespaces", "list", "--json"]));
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
    assert_eq!(all[0]["tool_search"], "on", "{all}");
    let shown = ok(db, &["namespaces", "show", "team"]);
    assert!(
        shown.contains("validate_arguments  false") && shown.contains("servers             m"),
        "{shown}"
    );
    assert_eq!(
        json(&ok(db, &["namespaces", "show", "team", "--json"]))["updated_at"],
        v["updated_at"]
    );

    // Refusals: the reason, what to do next; nothing written.
    // What the gateway's view reports (the mode in effect, the embeddings' progress) is
    // live, and absent until the gateway has built the view; the rest of the object is
    // what was written.
    let written = |mut v: serde_json::Value| {
        if let Some(o) = v.as_object_mut() {
            for live in [
                "tool_search_effective",
                "tool_search_why",
                "tool_search_embedded",
            ] {
                o.remove(live);
            }
        }
        v
    };
    let before = rest("team").await.json();
    fails(
        db,
        &[
            "namespaces",
            "add",
            "ops",
            "--server",
            "m",
            "--server",
            "nosuch",
        ],
        65,
        "no server named \"nosuch\": `keyadm servers list` shows the registered servers",
    );
    fails(
        db,
        &["namespaces", "set", "team", "--server", "nosuch"],
        65,
        "nothing was written",
    );
    fails(
        db,
        &["namespaces", "set", "team", "--tool-search", "sometimes"],
        65,
        "--tool-search must be off, on or auto, not \"sometimes\"",
    );
    fails(
        db,
        &["namespaces", "set", "team", "--validate-arguments", "yes"],
        65,
        "--validate-arguments must be true or false, not \"yes\"",
    );
    fails(
        db,
        &["namespaces", "add", "ops", "--auth", "open"],
        65,
        "--auth must be required or none, not \"open\"",
    );
    fails(
        db,
        &["namespaces", "add", "team", "--server", "m"],
        1,
        "a namespace named \"team\" already exists: `keyadm namespaces set team …` changes it",
    );
    fails(
        db,
        &["namespaces", "add", "bad_name", "--server", "m"],
        65,
        "the namespace name \"bad_name\" must match",
    );
    fails(
        db,
        &["namespaces", "add", "ops", "--tool-search"],
        64,
        "--tool-search needs a value",
    );
    fails(
        db,
        &["namespaces", "set", "team"],
        64,
        "needs something to change",
    );
    fails(
        db,
        &["namespaces", "show", "nosuch"],
        1,
        "no namespace \"nosuch\": `keyadm namespaces list` shows",
    );
    assert_eq!(
        written(rest("team").await.json()),
        written(before.clone()),
        "team unchanged"
    );
    assert_eq!(rest("ops").await.status, 404, "ops not made");
    assert_eq!(
        json(&ok(db, &["namespaces", "list", "--json"]))
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // --file: the REST body itself (overrides included); NAME fills in its name.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ops.json");
    std::fs::write(
        &file,
        json!({"servers": ["m"], "tool_prefix": "never", "validate_arguments": true,
               "tools": {"m__echo": {"name": "say"}}})
        .to_string(),
    )
    .unwrap();
    let file = file.display().to_string();
    let out = ok(db, &["namespaces", "add", "ops", "--file", &file]);
    assert!(out.starts_with("added namespace ops"), "{out}");
    let v = rest("ops").await.json();
    assert_eq!(
        (
            &v["tool_prefix"],
            &v["validate_arguments"],
            &v["tools"]["m__echo"]["name"]
        ),
        (&json!("never"), &json!(true), &json!("say")),
        "{v}"
    );
    std::fs::write(&file, "{\"tool_search\": 3}").unwrap();
    fails(
        db,
        &["namespaces", "set", "ops", "--file", &file],
        65,
        "tool_search: must be off, on or auto",
    );
    std::fs::write(&file, "not json").unwrap();
    fails(
        db,
        &["namespaces", "set", "ops", "--file", &file],
        65,
        "is not JSON",
    );
    assert_eq!(
        written(rest("ops").await.json()),
        written(v.clone()),
        "ops unchanged"
    );

    // remove: asks for --confirm, then the namespace is gone everywhere.
    fails(db, &["namespaces", "remove", "team"], 1, "--confirm");
    assert_eq!(rest("team").await.status, 200);
    let out = ok(db, &["namespaces", "remove", "team", "--confirm"]);
    assert!(out.starts_with("removed namespace team"), "{out}");
    assert_eq!(rest("team").await.status, 404);
    support::eventually(Duration::from_secs(10), "/mcp/team gone", || async {
        (served_tools(&gw, "team").await == Err(404)).then_some(())
    })
    .await;
    let left = json(&ok(db, &["namespaces", "list", "--json"]));
    assert_eq!(left[0]["name"], "ops", "{left}");
    assert_eq!(left.as_array().map(Vec::len), Some(1), "{left}");
    fails(
        db,
        &["namespaces", "remove", "team", "--confirm"],
        1,
        "no namespace \"team\"",
    );
}
