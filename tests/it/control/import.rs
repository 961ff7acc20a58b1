//! `mcpServers` import and export, end to end: real files of every format through
//! `keyadm servers import` and `POST /api/v1/mcp/servers/import`, against a running
//! gateway and a real PostgreSQL: round trips, `${VAR}` references kept (and expanded
//! only when a backend starts), name mapping, bad files with every problem at once and
//! nothing written, prune, dry runs, namespaces, concurrent imports, a server registered
//! by hand never taken over without `--replace`, the CLI's servers commands and
//! client-config.

use crate::support;

use std::path::PathBuf;
use std::time::Duration;

use crate::support::eventually;
use crate::support::gateway::TestGateway;
use crate::support::http::{get, request, send_json};
use crate::support::keyadm;
use crate::support::mcp::Client;
use crate::support::mock::Mock;
use serde_json::{Value, json};

fn write(dir: &std::path::Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    p
}

async fn servers(gw: &TestGateway) -> Vec<Value> {
    get(gw.addr, "/api/v1/mcp/servers", &gw.admin_key)
        .await
        .json()
        .as_array()
        .cloned()
        .unwrap()
}

async fn import_rest(gw: &TestGateway, query: &str, body: &[u8]) -> support::http::Resp {
    let auth = format!("Bearer {}", gw.admin_key);
    request(
        gw.addr,
        "POST",
        &format!("/api/v1/mcp/servers/import{query}"),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(body),
    )
    .await
}

fn names(v: &Value) -> Vec<&str> {
    let mut n: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    n.sort();
    n
}

#[tokio::test]
async fn a_claude_file_round_trips_through_keyadm_and_the_gateway_serves_it() {
    let gw = TestGateway::start().await;
    let http = Mock::start(&[]);
    let sse = Mock::start(&["--transport", "sse"]);
    let dir = tempfile::tempdir().unwrap();
    // IMPORT_TEST_TOKEN is in this process's environment from before main
    // (`crate::IMPORT_TEST_TOKEN`): the in-process gateway expands the reference from it.
    let file = json!({"mcpServers": {
        "pipe": {"command": env!("CARGO_BIN_EXE_mockmcp"), "args": ["--transport", "stdio"],
                 "env": {"MOCK_TOKEN": "${IMPORT_TEST_TOKEN}", "PLAIN": "literal-secret"}},
        "web": {"url": http.url(), "headers": {"Authorization": "Bearer ${IMPORT_TEST_TOKEN}"}},
        "old_sse": {"type": "sse", "url": format!("http://127.0.0.1:{}/sse", sse.port)},
        "off": {"command": "true", "disabled": true, "autoApprove": ["x"]}
    }});
    let path = write(dir.path(), "claude.json", &file);
    let path = path.to_str().unwrap();

    // A dry run reports and writes nothing.
    let dry: Value = serde_json::from_str(
        &keyadm(&gw.db, &["servers", "import", path, "--dry-run", "--json"])
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(names(&dry["created"]), ["off", "old-sse", "pipe", "web"]);
    assert_eq!(dry["dry_run"], true);
    assert!(servers(&gw).await.is_empty());

    let report: Value = serde_json::from_str(
        &keyadm(
            &gw.db,
            &["servers", "import", path, "--namespace", "mine", "--json"],
        )
        .await
        .unwrap(),
    )
    .unwrap();
    assert_eq!(names(&report["created"]), ["off", "old-sse", "pipe", "web"]);
    assert_eq!(
        report["renamed"][0],
        json!({"from": "old_sse", "to": "old-sse", "path": "$.mcpServers.old_sse"})
    );
    assert_eq!(
        report["namespace"],
        json!({"name": "mine", "action": "created"})
    );
    assert_eq!(report["ignored"][0]["path"], "$.mcpServers.off.autoApprove");
    assert!(report["problems"].as_array().unwrap().is_empty());

    // References are stored as written, never resolved into the database.
    let db = gw.db.client().await;
    let row = db
        .query_one(
            "SELECT import_source FROM mcp_servers WHERE name = 'pipe'",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, String>(0).ends_with("claude.json"));
    let sealed: Vec<u8> = db
        .query_one(
            "SELECT env_sealed FROM mcp_servers WHERE name = 'pipe'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!String::from_utf8_lossy(&sealed).contains("t0ken"));

    // The gateway (NOTIFY) serves them, the reference expanded at start.
    for name in ["pipe", "web", "old-sse"] {
        gw.wait_status(name, "running").await;
    }
    gw.wait_status("off", "stopped").await;
    // "running" is the backend's status; its tools reach the view with the routing
    // rebuild that follows it.
    eventually(
        Duration::from_secs(20),
        "web's and pipe's tools in the view",
        || async {
            let mut c = Client::new(gw.addr, "/mcp/mine", Some(&gw.admin_key));
            c.initialize().await;
            let listed = c.result("tools/list", json!({})).await.to_string();
            (listed.contains("\"web__env\"") && listed.contains("\"pipe__env\"")).then_some(())
        },
    )
    .await;
    let mut c = Client::new(gw.addr, "/mcp/mine", Some(&gw.admin_key));
    c.initialize().await;
    let web = c
        .result(
            "tools/call",
            json!({"name": "web__env", "arguments": {"name": "X"}}),
        )
        .await;
    assert!(web.to_string().contains("Bearer t0ken-from-env"), "{web}");
    let env = c
        .result(
            "tools/call",
            json!({"name": "pipe__env", "arguments": {"name": "MOCK_TOKEN"}}),
        )
        .await;
    assert!(env.to_string().contains("t0ken-from-env"), "{env}");

    // Importing the same file again changes nothing.
    let again = keyadm(&gw.db, &["servers", "import", path, "--namespace", "mine"])
        .await
        .unwrap();
    assert!(
        again.contains("created    -") && again.contains("updated    -"),
        "{again}"
    );
    assert!(again.contains("namespace  mine unchanged"), "{again}");

    // Export: references kept, literal secrets masked; importing it is a no-op.
    let export: Value =
        serde_json::from_str(&keyadm(&gw.db, &["servers", "export"]).await.unwrap()).unwrap();
    let pipe = &export["mcpServers"]["pipe"];
    assert_eq!(pipe["env"]["MOCK_TOKEN"], "${IMPORT_TEST_TOKEN}");
    assert_eq!(pipe["env"]["PLAIN"], "********");
    assert_eq!(
        export["mcpServers"]["web"]["headers"]["Authorization"],
        "Bearer ${IMPORT_TEST_TOKEN}"
    );
    assert_eq!(export["mcpServers"]["old-sse"]["type"], "sse");
    assert_eq!(export["mcpServers"]["off"]["disabled"], true);
    assert!(!export.to_string().contains("literal-secret"));
    let rest_export = get(gw.addr, "/api/v1/mcp/servers/export", &gw.admin_key).await;
    assert_eq!(rest_export.status, 200);
    assert_eq!(rest_export.json(), export);
    let client_export = get(gw.addr, "/api/v1/mcp/servers/export", &gw.client_key).await;
    assert_eq!(client_export.status, 403);
    let r = import_rest(
        &gw,
        "?source=elsewhere",
        &serde_json::to_vec(&export).unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(names(&v["unchanged"]), ["off", "old-sse", "pipe", "web"]);
    assert!(
        v["created"].as_array().unwrap().is_empty() && v["updated"].as_array().unwrap().is_empty()
    );
    // The secret kept its value through the masked round trip.
    let env = c
        .result(
            "tools/call",
            json!({"name": "pipe__env", "arguments": {"name": "PLAIN"}}),
        )
        .await;
    assert!(env.to_string().contains("literal-secret"), "{env}");
    // A namespace export has only its servers.
    let ns_export = get(
        gw.addr,
        "/api/v1/mcp/servers/export?namespace=nope",
        &gw.admin_key,
    )
    .await;
    assert_eq!(ns_export.status, 404);
}

#[tokio::test]
async fn bad_files_report_every_problem_and_write_nothing() {
    let gw = TestGateway::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bad = json!({"mcpServers": {
        "a": {"type": "websocket", "url": "ws://x"},
        "b": {"args": ["x"]},
        "c": {"command": 7, "env": {"K": 1}},
        "d_x": {"command": "x"}, "d-x": {"command": "y"},
        "e": {"url": "http://127.0.0.1:1/mcp", "env": {"A": "b"}},
        "f": {"command": "x", "env": {"S": "${JWT_SECRET}"}},
        "g": {"url": "not a url"},
        "good": {"command": "true"}
    }});
    let path = write(dir.path(), "bad.json", &bad);
    let (code, message) = keyadm(&gw.db, &["servers", "import", path.to_str().unwrap()])
        .await
        .unwrap_err();
    assert_eq!(code, 65);
    for needle in [
        "$.mcpServers.a.type",
        "$.mcpServers.b.command",
        "$.mcpServers.c.command",
        "$.mcpServers.c.env.K",
        "d-x",
        "$.mcpServers.e.env",
        "$.mcpServers.f.env.S",
        // The registry's own validation, reported with the file's problems at once
        // (it came only after every other problem was fixed).
        "$.mcpServers.g.url",
    ] {
        assert!(message.contains(needle), "{needle}: {message}");
    }
    let r = import_rest(&gw, "", &serde_json::to_vec(&bad).unwrap()).await;
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["code"], "invalid_import");
    assert!(v["problems"].as_array().unwrap().len() >= 8, "{v}");
    assert!(v.to_string().contains("$.mcpServers.g.url"), "{v}");
    assert!(servers(&gw).await.is_empty(), "nothing written");

    for (body, needle) in [
        (&b"not json"[..], "not JSON"),
        (b"[1]", "must be an object"),
        (br#"{"mcpServers": []}"#, "servers by name"),
        (br#"{"mcpServers": {}, "servers": {}}"#, "both"),
    ] {
        let r = import_rest(&gw, "", body).await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.text().contains(needle), "{needle}: {}", r.text());
    }
    // A masked secret with nothing stored to keep is a problem of the registry's own
    // validation, still reported with its path, and still nothing is written.
    let masked = json!({"mcpServers": {"fresh": {"command": "x", "env": {"K": "********"}},
                                       "fine": {"command": "true"}}});
    let r = import_rest(&gw, "", &serde_json::to_vec(&masked).unwrap()).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("$.mcpServers.fresh.env"), "{}", r.text());
    assert!(servers(&gw).await.is_empty(), "nothing written");
    // The rejected import's report says what happened: nothing (here `fine` would have
    // been created had `fresh` been good).
    let report = &r.json()["report"];
    for list in ["created", "updated", "unchanged", "removed"] {
        assert_eq!(report[list], json!([]), "{list}: {report}");
    }
    let path = write(dir.path(), "masked.json", &masked);
    let (code, _) = keyadm(
        &gw.db,
        &["servers", "import", path.to_str().unwrap(), "--json"],
    )
    .await
    .unwrap_err();
    assert_eq!(code, 65);
    // The same server named twice: a problem with both places, nothing written (a JSON
    // reader keeps the last silently). Written by hand: serializers cannot repeat a key.
    let twice = br#"{"mcpServers": {"clock": {"command": "a"}, "other": {"command": "b"},
                                     "clock": {"command": "c"}}}"#;
    let path = dir.path().join("twice.json");
    std::fs::write(&path, twice).unwrap();
    let (code, message) = keyadm(&gw.db, &["servers", "import", path.to_str().unwrap()])
        .await
        .unwrap_err();
    assert_eq!(code, 65, "{message}");
    assert!(
        message.contains("$.mcpServers.clock: named twice in $.mcpServers: members 1 and 3"),
        "{message}"
    );
    let r = import_rest(&gw, "", twice).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["report"]["created"], json!([]));
    assert!(servers(&gw).await.is_empty(), "nothing written");
    // Wrong content type, bad flags, unreadable file.
    let auth = format!("Bearer {}", gw.admin_key);
    let r = request(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/import",
        &[("authorization", &auth)],
        Some(b"{}"),
    )
    .await;
    assert_eq!(r.status, 415);
    let r = import_rest(&gw, "?dry_run=maybe", b"{}").await;
    assert_eq!(r.status, 400);
    let r = request(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers/import",
        &[
            ("authorization", &format!("Bearer {}", gw.client_key)),
            ("content-type", "application/json"),
        ],
        Some(b"{}"),
    )
    .await;
    assert_eq!(r.status, 403);
    let (code, m) = keyadm(&gw.db, &["servers", "import", "/nonexistent/file.json"])
        .await
        .unwrap_err();
    assert_eq!(code, 65, "{m}");
}

#[tokio::test]
async fn vscode_files_prune_only_their_own_and_concurrent_imports_serialise() {
    let gw = TestGateway::start().await;
    // A server created by hand is never pruned.
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers",
        &gw.admin_key,
        &json!({"name": "by-hand", "protocol": "stdio", "command": "true"}),
    )
    .await;
    assert_eq!(r.status, 201);
    let v1 = json!({"servers": {
        "one": {"type": "stdio", "command": "true"},
        "two": {"type": "http", "url": "http://127.0.0.1:9/mcp"},
        "three": {"type": "sse", "url": "http://127.0.0.1:9/sse"}
    }, "inputs": []});
    let r = import_rest(&gw, "?source=vscode", &serde_json::to_vec(&v1).unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(names(&r.json()["created"]), ["one", "three", "two"]);
    // The next version drops `three`, changes `two` and names `by-hand`.
    let v2 = json!({"servers": {
        "one": {"type": "stdio", "command": "true"},
        "two": {"type": "http", "url": "http://127.0.0.1:10/mcp"},
        "by-hand": {"command": "true"}
    }});
    // Without prune nothing goes; a dry run with prune tells and keeps everything.
    let dry = import_rest(
        &gw,
        "?source=vscode&prune=true&dry_run=true",
        &serde_json::to_vec(&v2).unwrap(),
    )
    .await;
    let d = dry.json();
    assert_eq!(names(&d["removed"]), ["three"]);
    assert_eq!(names(&d["updated"]), ["two"]);
    assert_eq!(servers(&gw).await.len(), 4);
    let r = import_rest(
        &gw,
        "?source=vscode&prune=true",
        &serde_json::to_vec(&v2).unwrap(),
    )
    .await;
    let v = r.json();
    assert_eq!(names(&v["removed"]), ["three"], "{v}");
    assert_eq!(names(&v["unchanged"]), ["by-hand", "one"]);
    // Another source prunes none of these.
    let other = json!({"mcpServers": {"else": {"command": "true"}}});
    let r = import_rest(
        &gw,
        "?source=other&prune=true",
        &serde_json::to_vec(&other).unwrap(),
    )
    .await;
    assert!(r.json()["removed"].as_array().unwrap().is_empty());
    // An empty file of the vscode source prunes its own, never by-hand.
    let r = import_rest(&gw, "?source=vscode&prune=true", br#"{"servers": {}}"#).await;
    assert_eq!(names(&r.json()["removed"]), ["one", "two"]);
    let left: Vec<String> = servers(&gw)
        .await
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, ["by-hand", "else"]);

    // Eight concurrent imports of one file: one creates, the rest find it unchanged.
    let file = json!({"mcpServers": {"race": {"command": "true"}}});
    let body = serde_json::to_vec(&file).unwrap();
    let results =
        futures_util::future::join_all((0..8).map(|_| import_rest(&gw, "?source=race", &body)))
            .await;
    let mut created = 0;
    for r in results {
        assert_eq!(r.status, 200, "{}", r.text());
        created += r.json()["created"].as_array().unwrap().len();
    }
    assert_eq!(created, 1);
    // Registry changes through import are audited with the admin key.
    eventually(
        Duration::from_secs(5),
        "the import's audit rows",
        || async {
            let page = get(gw.addr, "/api/v1/audit?tool=race", &gw.admin_key)
                .await
                .json();
            (page["entries"].as_array().map(Vec::len) == Some(1)).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn the_servers_commands_and_client_config() {
    let gw = TestGateway::start().await;
    let http = Mock::start(&[]);
    let added = keyadm(
        &gw.db,
        &[
            "servers",
            "add",
            "web",
            "--url",
            &http.url(),
            "--header",
            "X-Token=abc",
            "--json",
        ],
    )
    .await
    .unwrap();
    let v: Value = serde_json::from_str(&added).unwrap();
    assert_eq!(v["headers"]["X-Token"], "********");
    gw.wait_status("web", "running").await;
    let list = keyadm(&gw.db, &["servers", "list"]).await.unwrap();
    assert!(list.contains("web") && list.contains(&http.url()), "{list}");
    let show = keyadm(&gw.db, &["servers", "show", "web"]).await.unwrap();
    assert!(show.contains("\"protocol\": \"http\""), "{show}");
    // What the running gateway sees of it (written to PostgreSQL on each status change):
    // keyadm reads only the database.
    // (The status is written by the gateway's status task; a loaded machine, the suite
    // side by side, has taken over 10 s.)
    let seen = support::eventually(
        std::time::Duration::from_secs(30),
        "the gateway's view of web",
        || async {
            let out = keyadm(&gw.db, &["servers", "show", "web", "--json"])
                .await
                .unwrap();
            let v: Value = serde_json::from_str(&out).unwrap();
            (v["status"] == "running").then_some(v)
        },
    )
    .await;
    assert!(seen["tools"].as_i64() > Some(0), "{seen}");
    assert_eq!(seen["last_error"], Value::Null, "{seen}");
    assert!(seen["seen"]["replica"].is_string(), "{seen}");
    let list = keyadm(&gw.db, &["servers", "list"]).await.unwrap();
    assert!(
        list.contains("STATUS") && list.contains("running"),
        "{list}"
    );
    // The registry's own validation: a bad name, a duplicate.
    let (code, m) = keyadm(&gw.db, &["servers", "add", "bad_name", "--command", "x"])
        .await
        .unwrap_err();
    assert_eq!(code, 65, "{m}");
    assert!(m.contains("name"), "{m}");
    let (_, m) = keyadm(&gw.db, &["servers", "add", "web", "--command", "x"])
        .await
        .unwrap_err();
    assert!(m.contains("already exists"), "{m}");
    let (_, m) = keyadm(&gw.db, &["servers", "remove", "web"])
        .await
        .unwrap_err();
    assert!(m.contains("--confirm"), "{m}");

    // client-config: a key that works, printed for each client; a key that does not.
    for (format, top, kind) in [
        ("claude", "mcpServers", Some("http")),
        ("cursor", "mcpServers", None),
        ("vscode", "servers", Some("http")),
    ] {
        let out = keyadm(
            &gw.db,
            &[
                "client-config",
                "--key",
                &gw.client_key,
                "--url",
                &format!("http://{}", gw.addr),
                "--format",
                format,
            ],
        )
        .await
        .unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        let e = &v[top]["metamcp"];
        assert_eq!(e["url"], format!("http://{}/mcp", gw.addr), "{format}: {v}");
        assert_eq!(
            e["headers"]["Authorization"],
            format!("Bearer {}", gw.client_key)
        );
        assert_eq!(e.get("type").and_then(Value::as_str), kind, "{format}");
        // The entry works: its URL and header reach the gateway's tools.
        let key = e["headers"]["Authorization"]
            .as_str()
            .unwrap()
            .trim_start_matches("Bearer ");
        let mut c = Client::new(gw.addr, "/mcp", Some(key));
        c.initialize().await;
        assert!(c.tool_names().await.contains(&"web__echo".to_string()));
    }
    let (code, m) = keyadm(
        &gw.db,
        &["client-config", "--key", "mcp_0123456789abcdef_nope"],
    )
    .await
    .unwrap_err();
    assert_eq!(code, 65, "{m}");
    // --create-key makes a client key for the namespace; the bridge entry carries it in env.
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/namespaces",
        &gw.admin_key,
        &json!({"name": "team", "servers": ["web"]}),
    )
    .await;
    assert_eq!(r.status, 201);
    let out = keyadm(
        &gw.db,
        &[
            "client-config",
            "--create-key",
            "laptop",
            "--namespace",
            "team",
            "--url",
            &format!("http://{}", gw.addr),
            "--format",
            "json",
            "--bridge",
        ],
    )
    .await
    .unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["url"].as_str().unwrap().ends_with("/mcp/team"), "{v}");
    let key = v["bridge"]["env"]["METAMCP_KEY"].as_str().unwrap();
    assert_eq!(v["bridge"]["args"], json!(["bridge", "--url", v["url"]]));
    let keys = keyadm(&gw.db, &["keys", "show", key, "--json"])
        .await
        .unwrap();
    let k: Value = serde_json::from_str(&keys).unwrap();
    assert_eq!(
        (k["scope"].as_str(), k["namespaces"][0].as_str()),
        (Some("client"), Some("team"))
    );
    let removed = keyadm(&gw.db, &["servers", "remove", "web", "--confirm"])
        .await
        .unwrap();
    assert!(removed.contains("removed server web"));
}

/// An import never takes over a server it did not create: a server registered by hand
/// (or by another file) that the file would change is a problem, dry run or not, and
/// nothing is written; `--replace` lets the file take it over.
#[tokio::test]
async fn an_import_does_not_take_over_a_server_registered_by_hand() {
    let gw = TestGateway::start().await;
    let dir = tempfile::tempdir().unwrap();
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers",
        &gw.admin_key,
        &json!({"name": "time", "protocol": "stdio", "command": "true", "is_active": false}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let file = json!({"mcpServers": {"time": {"command": "false"},
                                     "other": {"command": "true"}}});
    let path = write(dir.path(), "mine.json", &file);
    let path = path.to_str().unwrap();
    for dry in [true, false] {
        let mut args = vec!["servers", "import", path];
        if dry {
            args.push("--dry-run");
        }
        let (code, message) = keyadm(&gw.db, &args).await.unwrap_err();
        assert_eq!(code, 65, "{message}");
        assert!(message.contains("$.mcpServers.time"), "{message}");
        assert!(message.contains("registered by hand"), "{message}");
        assert!(message.contains("--replace"), "{message}");
        assert!(!message.contains("updated    time"), "{message}");
    }
    let r = import_rest(&gw, "?dry_run=true", &serde_json::to_vec(&file).unwrap()).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("replace=true"), "{}", r.text());
    let kept = get(gw.addr, "/api/v1/mcp/servers/time", &gw.admin_key).await;
    assert_eq!(kept.json()["command"], "true", "nothing written");
    assert_eq!(servers(&gw).await.len(), 1, "nothing written");
    // An entry the file leaves as it is stays no problem.
    let same = write(
        dir.path(),
        "same.json",
        &json!({"mcpServers": {"time": {"command": "true", "disabled": true}}}),
    );
    let out = keyadm(&gw.db, &["servers", "import", same.to_str().unwrap()])
        .await
        .unwrap();
    assert!(out.contains("unchanged  time"), "{out}");
    // --replace takes it over; the file's later imports then change it freely.
    let out = keyadm(&gw.db, &["servers", "import", path, "--replace"])
        .await
        .unwrap();
    assert!(out.contains("updated    time"), "{out}");
    let taken = get(gw.addr, "/api/v1/mcp/servers/time", &gw.admin_key).await;
    assert_eq!(taken.json()["command"], "false");
    let next = write(
        dir.path(),
        "mine.json",
        &json!({"mcpServers": {"time": {"command": "sh"}, "other": {"command": "true"}}}),
    );
    let out = keyadm(&gw.db, &["servers", "import", next.to_str().unwrap()])
        .await
        .unwrap();
    assert!(out.contains("updated    time"), "{out}");
}

/// `keyadm servers list|show` says what REST says while a server starts (`starting`,
/// where it said `unknown` until the server ran) and of an inactive one (`stopped`).
#[tokio::test]
async fn keyadm_says_starting_and_stopped_as_rest_does() {
    let gw = TestGateway::start().await;
    let mock = env!("CARGO_BIN_EXE_mockmcp");
    gw.add(json!({"name": "slow", "protocol": "stdio", "command": "sh",
                  "args": ["-c", format!("sleep 30; exec {mock} --transport stdio")]}))
        .await;
    gw.add(json!({"name": "off", "protocol": "stdio", "command": "true", "is_active": false}))
        .await;
    let rest = get(gw.addr, "/api/v1/mcp/servers/slow", &gw.admin_key).await;
    assert_eq!(rest.json()["status"], "starting");
    eventually(
        Duration::from_secs(10),
        "keyadm to say starting",
        || async {
            let out = keyadm(&gw.db, &["servers", "show", "slow", "--json"])
                .await
                .unwrap();
            let v: Value = serde_json::from_str(&out).unwrap();
            (v["status"] == "starting").then_some(())
        },
    )
    .await;
    let list = keyadm(&gw.db, &["servers", "list"]).await.unwrap();
    assert!(
        list.contains("starting") && list.contains("stopped"),
        "{list}"
    );
    assert!(!list.contains("unknown"), "{list}");
    let rest = get(gw.addr, "/api/v1/mcp/servers/off", &gw.admin_key).await;
    assert_eq!(rest.json()["status"], "stopped");
    let out = keyadm(&gw.db, &["servers", "show", "off", "--json"])
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "stopped", "{v}");
}
