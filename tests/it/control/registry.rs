//! MCP registries, end to end: a fixture registry on 127.0.0.1 port 0 serves entries
//! recorded from the MCP Registry's own documentation (`tests/fixtures/registry/`, with
//! their schema) through the registry's API (`/v0.1/servers`, paging by cursor, one
//! version by name), and hostile registries beside it (garbage, 100 MB, a cursor loop,
//! pages without end). A real gateway and PostgreSQL search it, install a remote served
//! by `mockmcp` in one request, which runs; its upgrade is held for review until an
//! admin approves it, even under `tool_changes: accept`; values an entry needs are named
//! all at once; a deleted entry is refused without `force`; injection in package names,
//! versions and arguments, and remotes at private or metadata addresses are refused with
//! nothing installed; `keyadm registry search|add|outdated|upgrade` do the same. A
//! proptest feeds random and garbled entries to the reader and the planner: none
//! panics, none yields a command line with a flag or shell syntax where a value goes.

use crate::support;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::{Request, Response};
use metamcp::registry::entry;
use metamcp::registry::plan::{Given, PlanError, plan};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::support::eventually;
use crate::support::gateway::TestGateway;
use crate::support::http::{get, send_json};
use crate::support::mcp::Client;
use crate::support::mock::Mock;

const WAIT: Duration = Duration::from_secs(20);

/// The fixture registry: the recorded entries, each wrapped as the API wraps it.
struct Fixture {
    base: String,
    /// What mode `doc` answers for any one entry (the garbled-entries test sets it).
    doc: Arc<std::sync::Mutex<Value>>,
}

type Body = BoxBody<Bytes, Infallible>;

fn full(status: u16, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r
}

fn fixture_file(f: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/registry/{f}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn items(ports: (u16, u16)) -> Vec<Value> {
    let read = |f: &str| {
        fixture_file(f)
            .replace("@MOCK_A@", &ports.0.to_string())
            .replace("@MOCK_B@", &ports.1.to_string())
    };
    let mut all: Vec<Value> = serde_json::from_str(&read("examples.json")).unwrap();
    all.extend(serde_json::from_str::<Vec<Value>>(&read("local.json")).unwrap());
    let names: Vec<String> = all
        .iter()
        .map(|s| s["name"].as_str().unwrap().into())
        .collect();
    all.iter()
        .enumerate()
        .map(|(i, server)| {
            let status = match server["name"].as_str().unwrap() {
                "io.github.metamcp-test/gone" => "deleted",
                "io.modelcontextprotocol/text-editor" => "deprecated",
                _ => "active",
            };
            // The last version listed of a name is its latest.
            let latest = !names[i + 1..].contains(&names[i]);
            json!({"server": server, "_meta": {"io.modelcontextprotocol.registry/official": {
                "status": status, "publishedAt": "2025-12-11T10:30:00Z", "isLatest": latest}}})
        })
        .collect()
}

fn is_latest(i: &Value) -> bool {
    i["_meta"]["io.modelcontextprotocol.registry/official"]["isLatest"] == true
}

/// The answers of the hostile modes; `None` for the honest ones.
fn hostile(all: &[Value], mode: &str, cursor: Option<String>) -> Option<Response<Body>> {
    Some(match mode {
        "garbage" => full(200, "<html>a registry, honest</html>"),
        "shape" => full(200, r#"{"servers": "many", "metadata": 7}"#),
        "huge" => {
            // 100 MB, streamed.
            let chunk = Bytes::from(vec![b' '; 1 << 20]);
            let stream = futures_util::stream::iter(
                (0..100).map(move |_| Ok::<_, Infallible>(Frame::data(chunk.clone()))),
            );
            let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
            r.headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            r
        }
        "loop" => full(
            200,
            json!({"servers": [all[0]], "metadata": {"nextCursor": "round-and-round", "count": 1}})
                .to_string(),
        ),
        "endless" => {
            let n: u64 = cursor
                .and_then(|c| c.trim_start_matches('c').parse().ok())
                .unwrap_or(0);
            full(
                200,
                json!({"servers": [], "metadata": {"nextCursor": format!("c{}", n + 1), "count": 0}})
                    .to_string(),
            )
        }
        _ => return None,
    })
}

/// One answer of the fixture; `mode` is the base path's first segment.
fn answer(all: &[Value], mode: &str, path: &str, query: &str) -> Response<Body> {
    let q: Vec<(String, String)> = metamcp::vault::form::pairs(query).unwrap_or_default();
    let arg = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if let Some(r) = hostile(all, mode, arg("cursor")) {
        return r;
    }
    let rest = match (mode, path.strip_prefix("/v0.1"), path.strip_prefix("/v0")) {
        ("v0only", Some(_), _) => return full(404, r#"{"title": "Not Found"}"#),
        (_, Some(r), _) => r,
        ("v0only", None, Some(r)) => r,
        _ => return full(404, r#"{"title": "Not Found"}"#),
    };
    if rest == "/servers" {
        let search = arg("search").unwrap_or_default().to_lowercase();
        let latest_only = arg("version").as_deref() == Some("latest");
        let hits: Vec<&Value> = all
            .iter()
            .filter(|i| {
                i["server"]["name"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .contains(&search)
            })
            .filter(|i| !latest_only || is_latest(i))
            .collect();
        let from: usize = arg("cursor")
            .and_then(|c| c.strip_prefix("at:")?.parse().ok())
            .unwrap_or(0);
        let size = arg("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(30usize)
            .min(3);
        let page: Vec<&Value> = hits.iter().skip(from).take(size).copied().collect();
        let next = (from + size < hits.len()).then(|| format!("at:{}", from + size));
        return full(
            200,
            json!({"servers": page, "metadata": {"nextCursor": next, "count": page.len()}})
                .to_string(),
        );
    }
    let Some((name, version)) = rest
        .strip_prefix("/servers/")
        .and_then(|t| t.split_once("/versions/"))
    else {
        return full(404, "{}");
    };
    let decode = |s: &str| metamcp::vault::form::decode(s).unwrap_or_default();
    let (name, version) = (decode(name), decode(version));
    let found = all.iter().find(|i| {
        i["server"]["name"] == name.as_str()
            && (i["server"]["version"] == version.as_str() || (version == "latest" && is_latest(i)))
    });
    match found {
        Some(i) => full(200, i.to_string()),
        None => full(
            404,
            r#"{"title": "Not Found", "detail": "Server not found"}"#,
        ),
    }
}

impl Fixture {
    async fn start(ports: (u16, u16)) -> Fixture {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let all = Arc::new(items(ports));
        let doc = Arc::new(std::sync::Mutex::new(Value::Null));
        let served = doc.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                let (all, doc) = (all.clone(), served.clone());
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let (all, doc) = (all.clone(), doc.clone());
                        async move {
                            let path = req.uri().path().to_string();
                            let query = req.uri().query().unwrap_or_default().to_string();
                            let (mode, rest) =
                                path[1..].split_once('/').unwrap_or((&path[1..], ""));
                            if mode == "doc" {
                                let d = doc.lock().unwrap().to_string();
                                return Ok::<_, Infallible>(full(200, d));
                            }
                            Ok::<_, Infallible>(answer(&all, mode, &format!("/{rest}"), &query))
                        }
                    });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(s), service)
                        .await;
                });
            }
        });
        Fixture { base, doc }
    }

    fn url(&self, mode: &str) -> String {
        format!("{}/{mode}", self.base)
    }
}

async fn install(gw: &TestGateway, body: Value) -> support::http::Resp {
    send_json(
        gw.addr,
        "POST",
        "/api/v1/registry/install",
        &gw.admin_key,
        &body,
    )
    .await
}

async fn search(gw: &TestGateway, query: &str) -> support::http::Resp {
    let path = format!("/api/v1/registry/servers?{query}");
    get(gw.addr, &path, &gw.admin_key).await
}

async fn server_count(gw: &TestGateway) -> usize {
    get(gw.addr, "/api/v1/mcp/servers", &gw.admin_key)
        .await
        .json()
        .as_array()
        .map_or(0, Vec::len)
}

fn escape(s: &str) -> String {
    metamcp::vault::form::escape(s)
}

/// `base` with the members of `extra` added.
fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(o), Value::Object(e)) = (base.as_object_mut(), extra) {
        o.extend(e);
    }
    base
}

#[tokio::test]
async fn a_registry_is_searched_page_by_page_and_only_by_admins() {
    let gw = TestGateway::start().await;
    let fx = Fixture::start((1, 2)).await;
    let ok = escape(&fx.url("ok"));
    let r = search(&gw, &format!("search=filesystem&registry={ok}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let servers = body["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1, "{body}");
    let fs = &servers[0];
    assert_eq!(fs["name"], "io.github.modelcontextprotocol/filesystem");
    assert_eq!(fs["version"], "1.0.2");
    assert_eq!(fs["status"], "active");
    assert_eq!(fs["packages"][0]["registryType"], "npm");
    assert_eq!(fs["packages"][1]["registryType"], "oci");
    assert_eq!(fs["remotes"], json!([]));
    assert!(body["next_cursor"].is_null());
    // Every latest entry, three a page at the registry, gathered into pages of 4 here.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let c = cursor
            .as_deref()
            .map(|c| format!("&cursor={}", escape(c)))
            .unwrap_or_default();
        let r = search(&gw, &format!("registry={ok}&limit=4{c}")).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let page = r.json();
        for s in page["servers"].as_array().unwrap() {
            seen.push(format!(
                "{} {}",
                s["name"].as_str().unwrap(),
                s["version"].as_str().unwrap()
            ));
        }
        cursor = page["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    assert!(cursor.is_none(), "the pages end");
    let unique: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no entry twice: {seen:?}");
    assert!(
        seen.iter()
            .any(|s| s == "io.github.joelverhagen/knapcode-samplemcpserver 0.5.0")
    );
    assert!(
        !seen.iter().any(|s| s.ends_with("0.4.0-beta")),
        "latest versions only"
    );
    assert!(
        seen.iter()
            .any(|s| s.starts_with("io.github.metamcp-test/gone")),
        "{seen:?}"
    );
    // A registry that offers only /v0.
    let v0 = escape(&fx.url("v0only"));
    let r = search(&gw, &format!("search=weather&registry={v0}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["servers"].as_array().unwrap().len(),
        2,
        "{}",
        r.text()
    );
    // Admins only.
    let path = format!("/api/v1/registry/servers?registry={ok}");
    assert_eq!(get(gw.addr, &path, &gw.client_key).await.status, 403);
    let body = json!({"name": "io.github.metamcp-test/echo", "registry": fx.url("ok")});
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/registry/install",
        &gw.client_key,
        &body,
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(server_count(&gw).await, 0);
    // A registry URL that is not one.
    let r = search(&gw, "registry=ftp%3A%2F%2Fx").await;
    assert_eq!(r.status, 400, "{}", r.text());
}

async fn reviews(gw: &TestGateway) -> Vec<Value> {
    let r = get(gw.addr, "/api/v1/reviews", &gw.admin_key).await;
    r.json()["reviews"].as_array().cloned().unwrap_or_default()
}

/// Two mocks: version 1.0.0 of the echo entry (`a`) and 1.1.0 (`b`), which words its
/// echo tool anew.
async fn two_versions() -> (Mock, Mock) {
    let (a, b) = (Mock::start(&[]), Mock::start(&[]));
    let tools = json!([{"name": "echo", "description": "Echoes the message back, upgraded",
        "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}}}]);
    let addr = format!("127.0.0.1:{}", b.port).parse().unwrap();
    let body = tools.to_string();
    let r =
        support::http::request(addr, "POST", "/control/tools", &[], Some(body.as_bytes())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    (a, b)
}

#[tokio::test]
async fn a_server_found_is_installed_in_one_request_runs_and_its_upgrade_is_held_for_review() {
    let gw = TestGateway::start().await;
    let (a, b) = two_versions().await;
    let fx = Fixture::start((a.port, b.port)).await;
    let ns = json!({"name": "team", "servers": []});
    let r = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
    assert_eq!(r.status, 201, "{}", r.text());
    // A remote at a loopback address needs the admin's explicit allow_private.
    let req = json!({"name": "io.github.metamcp-test/echo", "version": "1.0.0", "as": "echo",
        "namespace": "team", "registry": fx.url("ok")});
    let r = install(&gw, req.clone()).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("loopback") && r.text().contains("allow_private"),
        "{}",
        r.text()
    );
    assert_eq!(server_count(&gw).await, 0);
    let r = install(&gw, with(req, json!({"allow_private": true}))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let s = r.json();
    assert_eq!(s["name"], "echo");
    assert_eq!(s["protocol"], "http");
    assert_eq!(s["url"], a.url());
    let source = json!({"registry": fx.url("ok"), "name": "io.github.metamcp-test/echo",
        "version": "1.0.0", "upgrade_held": false, "allow_private": true});
    assert_eq!(s["source"], source);
    gw.wait_status("echo", "running").await;
    let mut c = Client::new(gw.addr, "/mcp/team", Some(&gw.client_key));
    c.initialize().await;
    let answer = c
        .call_tool("echo__echo", json!({"message": "from the registry"}))
        .await;
    assert!(answer.to_string().contains("from the registry"), "{answer}");
    let listed = get(gw.addr, "/api/v1/mcp/servers", &gw.admin_key)
        .await
        .json();
    assert_eq!(listed[0]["source"], source, "{listed}");
    // A newer version is known, and even tool_changes: accept does not let it through.
    let r = get(gw.addr, "/api/v1/registry/outdated", &gw.admin_key).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let outdated = json!([{"server": "echo", "name": "io.github.metamcp-test/echo",
        "registry": fx.url("ok"), "installed": "1.0.0", "latest": "1.1.0", "status": "active"}]);
    assert_eq!(r.json()["servers"], outdated);
    let accept = json!({"tool_changes": "accept"});
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/echo",
        &gw.admin_key,
        &accept,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // 1.1.0 is served elsewhere (another port): held whole until that origin is approved.
    let up = json!({"server": "echo", "allow_private": true});
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/registry/upgrade",
        &gw.admin_key,
        &up,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let held = r.json();
    assert_eq!(
        (&held["upgrade_held"], &held["url"]),
        (&json!(true), &json!(a.url()))
    );
    let up = with(up, json!({"approve_origin": held["held_origin"]}));
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/registry/upgrade",
        &gw.admin_key,
        &up,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let s = r.json();
    assert_eq!(s["upgraded_from"], "1.0.0");
    assert_eq!(s["url"], b.url());
    assert_eq!(s["source"]["version"], "1.1.0");
    assert_eq!(s["source"]["upgrade_held"], true);
    let held = eventually(WAIT, "the upgraded echo held", || async {
        reviews(&gw)
            .await
            .into_iter()
            .find(|r| r["server"] == "echo" && r["tool"] == "echo")
    })
    .await;
    assert_eq!(held["kind"], "changed", "{held}");
    assert!(
        held["after"]["description"]
            .as_str()
            .unwrap()
            .contains("upgraded"),
        "{held}"
    );
    let refused = c.call_tool("echo__echo", json!({"message": "x"})).await;
    assert!(refused.to_string().contains("held"), "{refused}");
    // Approved: callable again with the new text; the server's own setting applies again.
    let body = json!({"server": "echo"});
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/reviews/approve",
        &gw.admin_key,
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    eventually(WAIT, "echo callable again", || async {
        let a = c.call_tool("echo__echo", json!({"message": "again"})).await;
        a.to_string().contains("again").then_some(())
    })
    .await;
    let s = get(gw.addr, "/api/v1/mcp/servers/echo", &gw.admin_key)
        .await
        .json();
    assert_eq!(s["source"]["upgrade_held"], false, "{s}");
    let r = get(gw.addr, "/api/v1/registry/outdated", &gw.admin_key).await;
    assert_eq!(r.json()["servers"], json!([]));
    // Upgrading to the version it has is refused.
    let r = send_json(
        gw.addr,
        "POST",
        "/api/v1/registry/upgrade",
        &gw.admin_key,
        &up,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
}

#[tokio::test]
async fn every_missing_value_is_named_at_once_and_secrets_are_sealed() {
    let gw = TestGateway::start().await;
    let fx = Fixture::start((1, 2)).await;
    let weather = json!({"name": "io.github.metamcp-test/weather", "registry": fx.url("ok")});
    let r = install(&gw, weather.clone()).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let body = r.json();
    assert_eq!(body["code"], "missing_values");
    let missing = json!([{"kind": "env", "name": "WEATHER_API_KEY"},
        {"kind": "env", "name": "WEATHER_REGION"}, {"kind": "argument", "name": "station"}]);
    assert_eq!(body["missing"], missing, "{body}");
    for name in ["WEATHER_API_KEY", "WEATHER_REGION", "station"] {
        assert!(body["error"].as_str().unwrap().contains(name), "{body}");
    }
    // The recorded brave-search entry: its one required secret.
    let brave = json!({"name": "io.modelcontextprotocol.anonymous/brave-search",
        "registry": fx.url("ok")});
    let r = install(&gw, brave).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json()["missing"],
        json!([{"kind": "env", "name": "BRAVE_API_KEY"}])
    );
    // A value the entry does not take, and one outside its choices.
    let all = json!({"env": {"WEATHER_API_KEY": "s3cret-k3y", "WEATHER_REGION": "eu"},
        "arguments": {"station": "KSEA"}});
    let mut typo = with(weather.clone(), all.clone());
    typo["env"]["WEATHER_APIKEY"] = json!("x");
    let r = install(&gw, typo).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("env.WEATHER_APIKEY"), "{}", r.text());
    let mut off = with(weather.clone(), all.clone());
    off["arguments"]["--units"] = json!("kelvin");
    let r = install(&gw, off).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("kelvin"), "{}", r.text());
    assert_eq!(server_count(&gw).await, 0, "nothing installed");
    // Everything given: uvx name==version, argv as planned, env masked and sealed
    // (forced: uvx need not be on this machine; `a_missing_runner_...` tests that check).
    let all = with(all, json!({"force": true}));
    let r = install(&gw, with(weather.clone(), all.clone())).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let s = r.json();
    assert_eq!(s["name"], "weather");
    assert_eq!(s["command"], "uvx");
    let args = json!(["weather-mcp-server==0.5.0", "KSEA", "--units", "celsius"]);
    assert_eq!(s["args"], args);
    let masked = json!({"WEATHER_API_KEY": "********", "WEATHER_REGION": "********",
        "WEATHER_UNITS": "********"});
    assert_eq!(s["env"], masked);
    assert!(!r.text().contains("s3cret-k3y"));
    let db = gw.db.client().await;
    let row = db
        .query_one(
            "SELECT env_sealed, source_name, source_version FROM mcp_servers WHERE name = 'weather'",
            &[],
        )
        .await
        .unwrap();
    let sealed: Vec<u8> = row.get(0);
    assert!(
        !sealed.windows(10).any(|w| w == b"s3cret-k3y"),
        "sealed at rest"
    );
    assert_eq!(row.get::<_, String>(1), "io.github.metamcp-test/weather");
    assert_eq!(row.get::<_, String>(2), "0.5.0");
    let stored = gw
        .state
        .control
        .registry
        .get_server("weather")
        .await
        .unwrap();
    assert_eq!(stored.env["WEATHER_API_KEY"], "s3cret-k3y");
    // The same name twice: a conflict, the first one untouched.
    let r = install(&gw, with(weather, all)).await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(server_count(&gw).await, 1);
}

#[tokio::test]
async fn deleted_entries_injection_and_inward_remotes_are_refused_with_nothing_installed() {
    let gw = TestGateway::start().await;
    let fx = Fixture::start((1, 2)).await;
    let ok = fx.url("ok");
    let req = |name: &str, extra: Value| with(json!({"name": name, "registry": ok}), extra);
    let weather_values = json!({"WEATHER_API_KEY": "k", "WEATHER_REGION": "r"});
    let cases = [
        ("io.github.metamcp-test/gone", json!({}), "deleted"),
        (
            "io.modelcontextprotocol/text-editor",
            json!({}),
            "deprecated",
        ),
        ("io.github.metamcp-test/flag-name", json!({}), "\"-e\""),
        ("io.github.metamcp-test/flag-version", json!({}), "--help"),
        ("io.github.metamcp-test/shell-arg", json!({}), "$(curl"),
        ("io.github.metamcp-test/dashdash", json!({}), "\"--\""),
        ("io.github.metamcp-test/inward", json!({}), "private"),
        (
            "io.github.metamcp-test/metadata",
            json!({"allow_private": true}),
            "169.254.169.254",
        ),
        // The recorded docker entry asks docker for the host's network.
        ("io.github.example/database-manager", json!({}), "--network"),
        // An admin's own value with shell syntax, for an argument.
        (
            "io.github.metamcp-test/weather",
            json!({"env": weather_values, "arguments": {"station": "x;reboot"}}),
            "x;reboot",
        ),
        // The recorded multi-tenant remote fills its URL from an argument.
        (
            "io.modelcontextprotocol.anonymous/multi-tenant-server",
            json!({"arguments": {"tenant_id": "a b"}}),
            "URL",
        ),
    ];
    for (name, extra, says) in cases {
        let r = install(&gw, req(name, extra)).await;
        assert_eq!(r.status, 400, "{name}: {}", r.text());
        let error = r.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(error.contains(says), "{name}: {error} should say {says}");
    }
    assert_eq!(server_count(&gw).await, 0, "nothing installed");
    // With force, a deleted entry is installed (its status shown to the admin first).
    let r = install(
        &gw,
        req("io.github.metamcp-test/gone", json!({"force": true})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["command"], "npx");
    assert_eq!(r.json()["args"], json!(["-y", "gone-mcp@2.0.0"]));
    // An entry the registry does not have; a namespace that does not exist.
    let r = install(&gw, req("io.github.metamcp-test/nope", json!({}))).await;
    assert_eq!(r.status, 404, "{}", r.text());
    let extra = json!({"namespace": "nope", "env": weather_values, "arguments": {"station": "X"},
        "force": true});
    let r = install(&gw, req("io.github.metamcp-test/weather", extra)).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("nope"), "{}", r.text());
    assert_eq!(
        server_count(&gw).await,
        1,
        "the failed namespace left no server behind"
    );
    // A body that is not an install request.
    for bad in [
        json!([]),
        json!({"name": 7}),
        json!({"name": "x", "what": 1}),
        json!({"name": "x", "env": {"A": 1}}),
    ] {
        let r = install(&gw, bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
}

#[tokio::test]
async fn hostile_registries_get_a_clear_502_and_nothing_is_installed() {
    let gw = TestGateway::start().await;
    let fx = Fixture::start((1, 2)).await;
    for (mode, says) in [
        ("garbage", "not JSON"),
        ("shape", "no \"servers\" list"),
        ("huge", "larger than"),
        ("loop", "twice"),
        ("endless", "pages"),
    ] {
        let started = std::time::Instant::now();
        let r = search(&gw, &format!("registry={}", escape(&fx.url(mode)))).await;
        assert_eq!(r.status, 502, "{mode}: {}", r.text());
        assert_eq!(r.json()["code"], "registry_error");
        let error = r.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(error.contains(says), "{mode}: {error} should say {says}");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(15), "{mode} took {took:?}");
        let body = json!({"name": "io.github.metamcp-test/echo", "registry": fx.url(mode),
            "allow_private": true});
        let r = install(&gw, body).await;
        assert!(matches!(r.status, 404 | 502), "{mode}: {}", r.text());
    }
    assert_eq!(server_count(&gw).await, 0);
    // The gateway serves on.
    assert_eq!(get(gw.addr, "/health", "").await.status, 200);
}

#[tokio::test]
async fn keyadm_searches_installs_lists_outdated_and_upgrades() {
    let gw = TestGateway::start().await;
    let (a, b) = two_versions().await;
    let fx = Fixture::start((a.port, b.port)).await;
    let ok = fx.url("ok");
    let keyadm = |args: Vec<&str>| {
        let db = gw.db.clone();
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            support::keyadm(&db, &args).await
        }
    };
    let out = keyadm(vec!["registry", "search", "weather", "--registry", &ok])
        .await
        .unwrap();
    assert!(
        out.contains("io.github.metamcp-test/weather") && out.contains("pypi"),
        "{out}"
    );
    let out = keyadm(vec![
        "registry",
        "search",
        "echo",
        "--registry",
        &ok,
        "--json",
    ])
    .await
    .unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["servers"][0]["version"], "1.1.0");
    // Missing values: exit 65, every one named.
    let e = keyadm(vec![
        "registry",
        "add",
        "io.github.metamcp-test/weather",
        "--registry",
        &ok,
    ])
    .await
    .unwrap_err();
    assert_eq!(e.0, 65);
    for name in ["WEATHER_API_KEY", "WEATHER_REGION", "station"] {
        assert!(e.1.contains(name), "{}", e.1);
    }
    let e = keyadm(vec![
        "registry",
        "add",
        "io.github.metamcp-test/gone",
        "--registry",
        &ok,
    ])
    .await
    .unwrap_err();
    assert!(
        e.1.contains("deleted") && e.1.contains("--force"),
        "{}",
        e.1
    );
    let out = keyadm(vec![
        "registry",
        "add",
        "io.github.metamcp-test/echo",
        "--version",
        "1.0.0",
        "--as",
        "echo2",
        "--registry",
        &ok,
        "--allow-private",
    ])
    .await
    .unwrap();
    assert!(
        out.contains("installed server echo2") && out.contains("1.0.0"),
        "{out}"
    );
    gw.wait_status("echo2", "running").await;
    let out = keyadm(vec!["registry", "outdated", "--json"])
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["servers"][0]["installed"], "1.0.0", "{v}");
    assert_eq!(v["servers"][0]["latest"], "1.1.0", "{v}");
    let out = keyadm(vec!["registry", "upgrade", "echo2", "--allow-private"])
        .await
        .unwrap();
    let to = format!("http://127.0.0.1:{}", b.port);
    assert!(
        out.starts_with("held: ") && out.contains(&format!("--approve-origin {to}")),
        "{out}"
    );
    let out = keyadm(vec![
        "registry",
        "upgrade",
        "echo2",
        "--allow-private",
        "--approve-origin",
        &to,
    ])
    .await
    .unwrap();
    assert!(
        out.contains("from 1.0.0 to 1.1.0") && out.contains("held for review"),
        "{out}"
    );
    let s = gw.state.control.registry.get_server("echo2").await.unwrap();
    let source = s.source.clone().unwrap();
    assert!(source.review && source.version == "1.1.0", "{source:?}");
    assert_eq!(s.url.as_deref(), Some(b.url().as_str()));
    let out = keyadm(vec!["registry", "outdated"]).await.unwrap();
    assert!(out.contains("latest version"), "{out}");
}

/// The fields a schema definition declares, its `allOf` parts' included.
fn fields_of(defs: &Value, def: &str) -> Vec<String> {
    let d = &defs[def];
    let keys = |v: &Value| -> Vec<String> {
        v["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut out = keys(d);
    for part in d["allOf"].as_array().into_iter().flatten() {
        if let Some(r) = part["$ref"].as_str() {
            out.extend(fields_of(defs, r.rsplit('/').next().unwrap()));
        }
        out.extend(keys(part));
    }
    out
}

/// The recorded entries use only the fields their schema declares (so the reader reads
/// the schema's names): an entry in another vocabulary would pass unnoticed.
#[test]
fn the_recorded_entries_follow_their_schema() {
    let schema: Value = serde_json::from_str(&fixture_file("server.schema.json")).unwrap();
    let defs = &schema["definitions"];
    let server = fields_of(defs, "ServerDetail");
    let package = fields_of(defs, "Package");
    let mut argument = fields_of(defs, "PositionalArgument");
    argument.extend(fields_of(defs, "NamedArgument"));
    let variable = fields_of(defs, "KeyValueInput");
    let remote = fields_of(defs, "StreamableHttpTransport");
    assert!(
        package.iter().any(|f| f == "environmentVariables"),
        "{package:?}"
    );
    let mut entries: Vec<Value> = serde_json::from_str(&fixture_file("examples.json")).unwrap();
    entries.extend(serde_json::from_str::<Vec<Value>>(&fixture_file("local.json")).unwrap());
    assert!(entries.len() >= 20);
    let check = |name: &str, what: &str, v: &Value, allowed: &[String]| {
        for k in v.as_object().unwrap().keys() {
            assert!(
                allowed.contains(k),
                "{name}: {k} is not a field of a {what}"
            );
        }
    };
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    for e in &entries {
        let name = e["name"].as_str().unwrap();
        check(name, "server", e, &server);
        for p in list(&e["packages"]) {
            check(name, "package", &p, &package);
            for a in list(&p["packageArguments"])
                .iter()
                .chain(&list(&p["runtimeArguments"]))
            {
                check(name, "argument", a, &argument);
            }
            for v in list(&p["environmentVariables"]) {
                check(name, "variable", &v, &variable);
            }
        }
        for r in list(&e["remotes"]) {
            check(
                name,
                "remote",
                &r,
                &[remote.clone(), vec!["variables".into()]].concat(),
            );
        }
        // And each reads.
        if let Err(err) = entry::read(&json!({"server": e})) {
            panic!("{name}: {err}");
        }
    }
}

/// A JSON value of small depth: what a garbled registry might send.
fn any_json() -> impl Strategy<Value = Value> {
    let words = prop::sample::select(vec![
        "-e",
        "--",
        "--help",
        "$(id)",
        "a;b",
        "a b",
        "npm",
        "pypi",
        "oci",
        "nuget",
        "stdio",
        "named",
        "positional",
        "streamable-http",
        "sse",
        "http://10.0.0.1/",
        "x",
        "1.0.0",
        "deleted",
        "{v}",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[ -~]{0,12}".prop_map(Value::String),
        words.prop_map(|s| Value::String(s.to_string())),
    ];
    let keys = prop::sample::select(vec![
        "name",
        "version",
        "type",
        "value",
        "default",
        "isRequired",
        "registryType",
        "identifier",
        "transport",
        "packageArguments",
        "runtimeArguments",
        "environmentVariables",
        "variables",
        "valueHint",
        "url",
        "headers",
        "choices",
        "status",
        "packages",
        "remotes",
        "server",
    ]);
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// `v` with the member `path` leads to (indices taken modulo each level's size)
/// replaced by `by`.
fn garble(v: &mut Value, path: &[usize], by: Value) {
    let Some((first, rest)) = path.split_first() else {
        *v = by;
        return;
    };
    match v {
        Value::Object(m) if !m.is_empty() => {
            let k = m.keys().nth(first % m.len()).cloned().unwrap();
            garble(m.get_mut(&k).unwrap(), rest, by);
        }
        Value::Array(a) if !a.is_empty() => {
            let n = a.len();
            garble(&mut a[first % n], rest, by);
        }
        other => *other = by,
    }
}

/// What a planned command line holds whatever the entry said: a runner the gateway
/// knows, no blank or shell syntax in any word, and a package spec that is no flag.
fn check_plan(p: &metamcp::registry::plan::Plan) -> Result<(), TestCaseError> {
    if p.body["protocol"] != "stdio" {
        prop_assert!(p.remote_url.is_some());
        return Ok(());
    }
    let command = p.body["command"].as_str().unwrap_or_default();
    prop_assert!(
        ["npx", "uvx", "docker", "dnx"].contains(&command),
        "{}",
        command
    );
    let args: Vec<&str> = p.body["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for a in &args {
        prop_assert!(
            !a.chars()
                .any(|c| c.is_whitespace() || ";|&$`<>".contains(c)),
            "{:?}",
            args
        );
    }
    let spec = match command {
        "npx" => args.get(1).copied(),
        "uvx" | "dnx" => args.first().copied(),
        _ => args.iter().position(|a| *a == "--rm").and_then(|i| {
            // docker run -i --rm (-e X)* image
            let mut j = i + 1;
            while args.get(j) == Some(&"-e") {
                j += 2;
            }
            args.get(j).copied()
        }),
    };
    prop_assert!(spec.is_some_and(|s| !s.starts_with('-')), "{:?}", args);
    Ok(())
}

/// Garbled entries through a real gateway: each install is a clear answer (never a 500),
/// and one that is refused leaves nothing behind; one that is installed ran its plan's
/// checks (its command line is safe) and is removed again.
#[tokio::test]
async fn garbled_entries_through_the_gateway_get_clear_answers_and_never_install_half() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let gw = TestGateway::start().await;
    let fx = Fixture::start((1, 2)).await;
    let all: Vec<Value> = serde_json::from_str(&fixture_file("examples.json")).unwrap();
    let strategy = (
        0usize..64,
        prop::collection::vec(0usize..16, 0..6),
        any_json(),
    );
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &[7; 32]),
    );
    let mut installed = 0;
    for case in 0..48 {
        let (index, path, by) = strategy.new_tree(&mut runner).unwrap().current();
        let mut doc = all[index % all.len()].clone();
        garble(&mut doc, &path, by);
        let name = doc["name"]
            .as_str()
            .unwrap_or("io.github.x/garbled")
            .to_string();
        *fx.doc.lock().unwrap() = json!({"server": doc});
        let body = json!({"name": name, "as": format!("g{case}"), "registry": fx.url("doc"),
            "force": true});
        let r = install(&gw, body).await;
        assert!(
            matches!(r.status, 201 | 400 | 404 | 409 | 502),
            "{}: {}",
            r.status,
            r.text()
        );
        if r.status == 201 {
            installed += 1;
            let s = r.json();
            for a in s["args"].as_array().unwrap() {
                let a = a.as_str().unwrap();
                assert!(
                    !a.chars()
                        .any(|c| c.is_whitespace() || ";|&$`<>".contains(c)),
                    "{s}"
                );
            }
            let path = format!("/api/v1/mcp/servers/g{case}");
            let r = support::http::request(
                gw.addr,
                "DELETE",
                &path,
                &[("authorization", &format!("Bearer {}", gw.admin_key))],
                None,
            )
            .await;
            assert_eq!(r.status, 204, "{}", r.text());
        }
        assert_eq!(
            server_count(&gw).await,
            0,
            "case {case} left a server behind"
        );
    }
    // Some garbling leaves an entry installable (a changed description; 8 of these 48),
    // most does not: both branches are taken.
    assert!((1..48).contains(&installed), "{installed} of 48 installed");
}

async fn upgrade(gw: &TestGateway, body: &Value) -> support::http::Resp {
    send_json(
        gw.addr,
        "POST",
        "/api/v1/registry/upgrade",
        &gw.admin_key,
        body,
    )
    .await
}

/// The entry `name` at `version`, one streamable-http remote at `url` with the header
/// `X-Api-Key` the admin gives.
fn remote_entry(name: &str, version: &str, url: &str) -> Value {
    json!({"server": {"name": name, "version": version, "remotes": [{"type": "streamable-http",
        "url": url, "headers": [{"name": "X-Api-Key", "isRequired": true, "isSecret": true}]}]}})
}

/// An upgrade whose remote moves to another origin is held whole (the server keeps its
/// version and URL, the new origin sees no request) until an admin approves that very
/// origin; the header given for the old origin does not follow unless the approval says
/// so, so the entry asks for it again.
#[tokio::test]
async fn an_upgrade_to_another_origin_is_held_whole_and_the_old_headers_stay_behind() {
    let gw = TestGateway::start().await;
    let (a, b) = (Mock::start(&[]), Mock::start(&[]));
    let fx = Fixture::start((1, 2)).await;
    let name = "io.github.metamcp-test/moving";
    *fx.doc.lock().unwrap() = remote_entry(name, "1.0.0", &a.url());
    let req = json!({"name": name, "as": "moving", "registry": fx.url("doc"),
        "allow_private": true, "headers": {"X-Api-Key": "for-a-only"}});
    let r = install(&gw, req).await;
    assert_eq!(r.status, 201, "{}", r.text());
    gw.wait_status("moving", "running").await;
    *fx.doc.lock().unwrap() = remote_entry(name, "2.0.0", &b.url());
    let up = json!({"server": "moving", "allow_private": true});
    let r = upgrade(&gw, &up).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let held = r.json();
    let to = format!("http://127.0.0.1:{}", b.port);
    assert_eq!(held["upgrade_held"], true, "{held}");
    assert_eq!(held["held_origin"], to.as_str(), "{held}");
    assert_eq!(held["held_version"], "2.0.0", "{held}");
    let reason = held["held_reason"].as_str().unwrap();
    assert!(
        reason.contains(&to) && reason.contains("approve_origin"),
        "{reason}"
    );
    assert_eq!(
        (&held["url"], &held["source"]["version"]),
        (&json!(a.url()), &json!("1.0.0"))
    );
    // The server still runs at A; B has seen nothing.
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.initialize().await;
    let answer = c
        .call_tool("moving__echo", json!({"message": "still at a"}))
        .await;
    assert!(answer.to_string().contains("still at a"), "{answer}");
    let s = get(gw.addr, "/api/v1/mcp/servers/moving", &gw.admin_key)
        .await
        .json();
    assert_eq!(
        (&s["url"], &s["source"]["version"]),
        (&json!(a.url()), &json!("1.0.0"))
    );
    // Approving another origin is refused; approving B without the header asks for it.
    let a_origin = format!("http://127.0.0.1:{}", a.port);
    let r = upgrade(&gw, &with(up.clone(), json!({"approve_origin": a_origin}))).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let approve = with(up.clone(), json!({"approve_origin": to}));
    let r = upgrade(&gw, &approve).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json()["missing"],
        json!([{"kind": "header", "name": "X-Api-Key"}])
    );
    let stats = b.control("GET", "/control/stats").await;
    assert_eq!(
        (&stats["initializes"], &stats["requests"]),
        (&json!(0), &json!(0)),
        "{stats}"
    );
    // Approved with a header for B: moved.
    let r = upgrade(
        &gw,
        &with(approve, json!({"headers": {"X-Api-Key": "for-b"}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let s = r.json();
    assert_eq!(
        (&s["url"], &s["upgraded_from"]),
        (&json!(b.url()), &json!("1.0.0")),
        "{s}"
    );
    assert!(s.get("held_reason").is_none(), "{s}");
    gw.wait_status("moving", "running").await;
    let stats = b.control("GET", "/control/stats").await;
    assert!(stats["initializes"].as_u64() > Some(0), "{stats}");
}

/// Cloud metadata addresses are refused in every spelling wherever a server URL is
/// given: a server created or changed over REST, and a registry entry's remote even with
/// `allow_private`.
#[tokio::test]
async fn metadata_addresses_are_refused_in_every_spelling_wherever_a_url_is_given() {
    let gw = TestGateway::start().await;
    let fx = Fixture::start((1, 2)).await;
    let name = "io.github.metamcp-test/meta";
    for host in [
        "[fd00:ec2::254]",
        "169.254.169.254",
        "2852039166",
        "0xa9fea9fe",
        "0251.0376.0251.0376",
        "169.254.43518",
        "[::ffff:169.254.169.254]",
        "[::ffff:a9fe:a9fe]",
        "100.100.100.200",
        "[::ffff:6464:64c8]",
    ] {
        let url = format!("http://{host}/mcp");
        let body = json!({"name": "meta", "protocol": "http", "url": url});
        let r = send_json(gw.addr, "POST", "/api/v1/mcp/servers", &gw.admin_key, &body).await;
        assert_eq!(r.status, 400, "{host}: {}", r.text());
        assert!(r.text().contains("metadata"), "{host}: {}", r.text());
        *fx.doc.lock().unwrap() = remote_entry(name, "1.0.0", &url);
        let req = json!({"name": name, "as": "meta", "registry": fx.url("doc"),
            "allow_private": true, "headers": {"X-Api-Key": "k"}});
        let r = install(&gw, req).await;
        assert_eq!(r.status, 400, "{host}: {}", r.text());
        assert!(r.text().contains("metadata"), "{host}: {}", r.text());
    }
    assert_eq!(server_count(&gw).await, 0);
    let body = json!({"name": "ok", "protocol": "http", "url": "http://127.0.0.1:9/mcp"});
    let r = send_json(gw.addr, "POST", "/api/v1/mcp/servers", &gw.admin_key, &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let moved = json!({"url": "http://[fd00:ec2::254]/latest"});
    let r = send_json(
        gw.addr,
        "PUT",
        "/api/v1/mcp/servers/ok",
        &gw.admin_key,
        &moved,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let s = get(gw.addr, "/api/v1/mcp/servers/ok", &gw.admin_key)
        .await
        .json();
    assert_eq!(s["url"], "http://127.0.0.1:9/mcp");
}

/// `metamcp` is the gateway's own name: an entry named so, an `as` of it in any case, or
/// a server created under it is refused with the fix named, and nothing is installed.
#[tokio::test]
async fn the_gateway_s_own_name_is_no_server_s() {
    let gw = TestGateway::start().await;
    let fx = Fixture::start((1, 2)).await;
    let name = "io.evil/metamcp";
    *fx.doc.lock().unwrap() = remote_entry(name, "1.0.0", "http://127.0.0.1:9/mcp");
    let req = json!({"name": name, "registry": fx.url("doc"), "allow_private": true,
        "headers": {"X-Api-Key": "k"}});
    let r = install(&gw, req.clone()).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("--as OTHER"), "{}", r.text());
    let r = install(&gw, with(req.clone(), json!({"as": "MetaMCP"}))).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let body = json!({"name": "metamcp", "protocol": "http", "url": "http://127.0.0.1:9/mcp"});
    let r = send_json(gw.addr, "POST", "/api/v1/mcp/servers", &gw.admin_key, &body).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(server_count(&gw).await, 0);
    let r = install(&gw, with(req, json!({"as": "evil-meta"}))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let e = support::keyadm(
        &gw.db,
        &[
            "registry",
            "add",
            name,
            "--registry",
            &fx.url("doc"),
            "--allow-private",
            "--header",
            "X-Api-Key=k",
        ],
    )
    .await
    .unwrap_err();
    assert!(e.1.contains("--as OTHER"), "{}", e.1);
}

/// A remote URL that starts with a template variable (`{baseUrl}/mcp`, as the draft
/// schema allows) is filled from the install's values first, then its scheme and address
/// are checked; the entry's post-install instructions are in the install's answer and in
/// `keyadm registry add`'s output, without the control characters they came with.
#[tokio::test]
async fn a_templated_remote_is_filled_then_checked_and_its_instructions_shown() {
    let gw = TestGateway::start().await;
    let a = Mock::start(&[]);
    let fx = Fixture::start((1, 2)).await;
    let name = "io.github.metamcp-test/templated";
    *fx.doc.lock().unwrap() = json!({"server": {"name": name, "version": "1.0.0",
        "remotes": [{"type": "streamable-http", "url": "{baseUrl}/mcp",
            "variables": {"baseUrl": {"description": "Where your instance runs",
                                      "isRequired": true}},
            "postInstallInstructions": "Open \u{1b}[2Jthe dashboard and make a token.\nThen restart."}]}});
    let req = json!({"name": name, "as": "templated", "registry": fx.url("doc"),
        "allow_private": true});
    let r = install(&gw, req.clone()).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json()["missing"],
        json!([{"kind": "argument", "name": "baseUrl"}])
    );
    for (base, says) in [
        ("http://169.254.169.254", "metadata"),
        ("http://[fd00:ec2::254]", "metadata"),
        ("file:///etc/passwd#", "http"),
    ] {
        let r = install(
            &gw,
            with(req.clone(), json!({"arguments": {"baseUrl": base}})),
        )
        .await;
        assert_eq!(r.status, 400, "{base}: {}", r.text());
        assert!(r.text().contains(says), "{base}: {}", r.text());
    }
    assert_eq!(server_count(&gw).await, 0);
    let base = format!("http://127.0.0.1:{}", a.port);
    let r = install(&gw, with(req, json!({"arguments": {"baseUrl": base}}))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let s = r.json();
    assert_eq!(s["url"], a.url());
    assert_eq!(
        s["post_install_instructions"],
        "Open [2Jthe dashboard and make a token.\nThen restart."
    );
    gw.wait_status("templated", "running").await;
    let arg = format!("baseUrl={base}");
    let out = support::keyadm(
        &gw.db,
        &[
            "registry",
            "add",
            name,
            "--registry",
            &fx.url("doc"),
            "--as",
            "templated2",
            "--allow-private",
            "--arg",
            &arg,
        ],
    )
    .await
    .unwrap();
    assert!(
        out.contains("the dashboard and make a token.")
            && out.contains("Then restart.")
            && !out.contains('\u{1b}'),
        "{out}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_documents_never_panic_and_never_plan_an_unsafe_command(doc in any_json()) {
        if let Ok(e) = entry::read(&doc) {
            let _ = e.summary();
            for force in [false, true] {
                match plan(&e, &Given { force, ..Given::default() }) {
                    Ok(p) => check_plan(&p)?,
                    Err(PlanError::Missing(m)) => prop_assert!(!m.is_empty()),
                    Err(PlanError::Refused(r)) => prop_assert!(!r.is_empty()),
                }
            }
        }
    }

    #[test]
    fn garbled_recorded_entries_never_panic_and_never_plan_an_unsafe_command(
        index in 0usize..64,
        path in prop::collection::vec(0usize..16, 0..6),
        by in any_json(),
    ) {
        let all: Vec<Value> = serde_json::from_str(&fixture_file("examples.json")).unwrap();
        let mut doc = all[index % all.len()].clone();
        garble(&mut doc, &path, by);
        if let Ok(e) = entry::read(&json!({"server": doc})) {
            let env = [("BRAVE_API_KEY", "k"), ("WEATHER_API_KEY", "k")]
                .map(|(k, v)| (k.to_string(), v.to_string()));
            let given = Given { force: true, env: env.into(), ..Given::default() };
            if let Ok(p) = plan(&e, &given) {
                check_plan(&p)?;
            }
        }
    }
}

/// keyadm names the values an entry needs as its own flags (REST as the request's
/// fields), its search answers with REST's fields, an install allowed a private address
/// keeps that for its upgrades, and an upgrade's refusal names the upgrade's flag.
#[tokio::test]
async fn keyadm_speaks_in_its_flags_and_an_install_allowed_private_stays_allowed() {
    let gw = TestGateway::start().await;
    let (a, b) = two_versions().await;
    let fx = Fixture::start((a.port, b.port)).await;
    let ok = fx.url("ok");
    let out = support::keyadm(
        &gw.db,
        &["registry", "search", "weather", "--registry", &ok, "--json"],
    )
    .await
    .unwrap();
    let by_keyadm: Value = serde_json::from_str(&out).unwrap();
    let by_rest = search(&gw, &format!("search=weather&registry={}", escape(&ok)))
        .await
        .json();
    assert_eq!(by_keyadm, by_rest);
    assert_eq!(
        (&by_keyadm["registry"], &by_keyadm["skipped"]),
        (&json!(ok), &json!(0))
    );

    let weather = "io.github.metamcp-test/weather";
    let (code, e) = support::keyadm(&gw.db, &["registry", "add", weather, "--registry", &ok])
        .await
        .unwrap_err();
    assert_eq!(code, 65, "{e}");
    for flag in [
        "--env WEATHER_API_KEY=VALUE",
        "--env WEATHER_REGION=VALUE",
        "--arg station=VALUE",
    ] {
        assert!(e.contains(flag), "{e}");
    }
    assert!(!e.contains("request's"), "{e}");
    let r = install(&gw, json!({"name": weather, "registry": ok})).await;
    assert!(r.text().contains("the request's env"), "{}", r.text());

    let r = install(
        &gw,
        json!({"name": "io.github.metamcp-test/echo", "version": "1.0.0", "as": "echo",
               "registry": ok, "allow_private": true}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["source"]["allow_private"], true);
    // The upgrade need not allow it again: held only for its new origin's approval.
    let r = upgrade(&gw, &json!({"server": "echo"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["upgrade_held"], true, "{}", r.text());
    let to = format!("http://127.0.0.1:{}", b.port);
    let out = support::keyadm(
        &gw.db,
        &["registry", "upgrade", "echo", "--approve-origin", &to],
    )
    .await
    .unwrap();
    assert!(
        out.starts_with("upgraded server echo from 1.0.0 to 1.1.0"),
        "{out}"
    );
    let s = get(gw.addr, "/api/v1/mcp/servers/echo", &gw.admin_key)
        .await
        .json();
    assert_eq!(s["source"]["allow_private"], true, "{s}");
    // An install not allowed private (as every one made before this was remembered): the
    // refusal names the upgrade's own flag, and nothing changes.
    gw.db
        .client()
        .await
        .execute(
            "UPDATE mcp_servers SET source_allow_private = false WHERE name = 'echo'",
            &[],
        )
        .await
        .unwrap();
    let (code, e) = support::keyadm(
        &gw.db,
        &["registry", "upgrade", "echo", "--version", "1.0.0"],
    )
    .await
    .unwrap_err();
    assert_eq!(code, 65, "{e}");
    assert!(
        e.contains("keyadm registry upgrade echo --allow-private") && !e.contains("registry add"),
        "{e}"
    );
    let s = get(gw.addr, "/api/v1/mcp/servers/echo", &gw.admin_key)
        .await
        .json();
    assert_eq!(s["source"]["version"], "1.1.0", "{s}");
}

/// A package whose runner is not on PATH is refused at install, naming the runner and
/// how to get it, with nothing installed (it would only restart in a loop); with the
/// runner there, or with force, it installs.
#[tokio::test]
async fn a_missing_runner_is_refused_at_install_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let gw = TestGateway::start().await;
    let fx = Fixture::start((1, 2)).await;
    let ok = fx.url("ok");
    let bare = tempfile::tempdir().unwrap();
    let with_uvx = tempfile::tempdir().unwrap();
    let uvx = with_uvx.path().join("uvx");
    std::fs::write(&uvx, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&uvx, std::fs::Permissions::from_mode(0o755)).unwrap();
    // keyadm as its own process, with PATH as given, off the test's runtime (the fixture
    // registry answers on it meanwhile).
    let add = |path: &std::path::Path, name: &str, force: bool| {
        let mut env = gw.db.env();
        env.push(("PATH", path.display().to_string()));
        let mut args: Vec<String> = [
            "registry",
            "add",
            "io.github.metamcp-test/weather",
            "--as",
            name,
            "--registry",
            &ok,
            "--env",
            "WEATHER_API_KEY=k",
            "--env",
            "WEATHER_REGION=r",
            "--arg",
            "station=X",
        ]
        .map(String::from)
        .to_vec();
        if force {
            args.push("--force".into());
        }
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            support::run_bin(env!("CARGO_BIN_EXE_keyadm"), &env, &args)
        })
    };
    let o = add(bare.path(), "w1", false).await.unwrap();
    let err = support::stderr(&o);
    assert_eq!(o.status.code(), Some(65), "{err}");
    assert!(
        err.contains("runs uvx, which is not on PATH")
            && err.contains("pip install uv")
            && err.contains("--force")
            && err.contains("nothing was installed"),
        "{err}"
    );
    assert_eq!(server_count(&gw).await, 0);
    let o = add(with_uvx.path(), "w1", false).await.unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", support::stderr(&o));
    let o = add(bare.path(), "w2", true).await.unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", support::stderr(&o));
    assert_eq!(server_count(&gw).await, 2);
    for name in ["w1", "w2"] {
        let r = support::http::request(
            gw.addr,
            "DELETE",
            &format!("/api/v1/mcp/servers/{name}"),
            &[("authorization", &format!("Bearer {}", gw.admin_key))],
            None,
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.text());
    }
}
