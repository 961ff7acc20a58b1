//! `https://` backends, over real TLS: a TLS front (tests/peers/tls_front.py, Python's
//! ssl module) with a certificate from a CA made for the test relays to mockmcp. The
//! gateway trusts the CA through `METAMCP_BACKEND_CA_FILE` and reaches Streamable-HTTP
//! and SSE backends through it; without the CA it refuses the certificate and says so,
//! and never falls back to plain text. mcpc reaches an https gateway the same way.

use crate::support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use crate::support::gateway::TestGateway;
use crate::support::http::get;
use crate::support::mcp::{Client, text_of};
use crate::support::mock::Mock;
use crate::support::{eventually, python, run_bin, stderr, stdout};
use serde_json::json;

/// A TLS front on 127.0.0.1 relaying to `port`; its CA's certificate is `dir/ca.pem`.
struct TlsFront {
    port: u16,
    child: Child,
    /// One line per finished handshake: the TLS version and the ALPN protocol.
    handshakes: Option<BufReader<ChildStdout>>,
}

impl TlsFront {
    fn start(dir: &Path, port: u16) -> TlsFront {
        let mut child = Command::new(python("oauth"))
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/peers/tls_front.py"
            ))
            .arg(dir)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the TLS front");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("its port");
        TlsFront {
            port: line.trim().parse().expect("a port"),
            child,
            handshakes: Some(out),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// The first handshake's line (the front has had at least one).
    fn first_handshake(&mut self) -> String {
        let mut line = String::new();
        if let Some(out) = self.handshakes.as_mut() {
            out.read_line(&mut line).expect("a handshake line");
        }
        line.trim().to_string()
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn https_backends_are_reached_through_a_trusted_ca_and_only_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let http = Mock::start(&[]);
    let sse = Mock::start(&["--transport", "sse"]);
    let mut http_front = TlsFront::start(dir.path(), http.port);
    let sse_dir = tempfile::tempdir().expect("temp dir");
    let sse_front = TlsFront::start(sse_dir.path(), sse.port);
    // One CA file may hold several certificates.
    let both = dir.path().join("both.pem");
    let mut pem = std::fs::read(dir.path().join("ca.pem")).unwrap();
    pem.extend(std::fs::read(sse_dir.path().join("ca.pem")).unwrap());
    std::fs::write(&both, pem).unwrap();

    let gw = TestGateway::start_with(|c| c.backend_ca_file = Some(both.clone())).await;
    gw.register(json!({"name": "secure", "protocol": "http", "url": http_front.url("/mcp")}))
        .await;
    gw.register(json!({"name": "old", "protocol": "sse", "url": sse_front.url("/sse")}))
        .await;
    // TLS 1.3; HTTP/1.1 without ALPN (hyper-rustls offers none for HTTP/1.1 alone).
    assert_eq!(http_front.first_handshake(), "TLSv1.3 None");
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    assert_eq!(c.initialize().await.status, 200);
    let tools = c.tool_names().await;
    assert!(tools.contains(&"secure__echo".to_string()), "{tools:?}");
    assert!(tools.contains(&"old__echo".to_string()), "{tools:?}");
    for (tool, text) in [("secure__echo", "over tls"), ("old__echo", "sse over tls")] {
        // Several calls: pooled TLS connections are reused, not just the first one.
        for _ in 0..3 {
            let r = c
                .result(
                    "tools/call",
                    json!({"name": tool, "arguments": {"message": text}}),
                )
                .await;
            assert_eq!(text_of(&r), text, "{r}");
        }
    }

    // Without the CA: the certificate is refused, the reason shown, nothing sent in
    // plain text (the front would relay it), and other servers keep working.
    let untrusting = TestGateway::start().await;
    let requests = || async { http.control("GET", "/control/stats").await["requests"].clone() };
    let before = requests().await;
    assert!(before.as_u64().is_some_and(|n| n >= 3), "{before}");
    let r = support::http::send_json(
        untrusting.addr,
        "POST",
        "/api/v1/mcp/servers",
        &untrusting.admin_key,
        &json!({"name": "secure", "protocol": "http", "url": http_front.url("/mcp")}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let error = eventually(Duration::from_secs(15), "the refusal", || async {
        let s = get(
            untrusting.addr,
            "/api/v1/mcp/servers/secure",
            &untrusting.admin_key,
        )
        .await
        .json();
        (s["status"] == "failed").then(|| s["last_error"].to_string())
    })
    .await;
    assert!(error.contains("certificate"), "{error}");
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert_eq!(requests().await, before, "nothing reached the backend");
    untrusting
        .register(json!({"name": "plain", "protocol": "http", "url": http.url()}))
        .await;
    let mut c = Client::new(untrusting.addr, "/mcp", Some(&untrusting.client_key));
    assert_eq!(c.initialize().await.status, 200);
    let r = c
        .result(
            "tools/call",
            json!({"name": "plain__echo", "arguments": {"message": "still here"}}),
        )
        .await;
    assert_eq!(text_of(&r), "still here", "{r}");
}

#[tokio::test]
async fn mcpc_reaches_an_https_gateway_trusting_ssl_cert_file() {
    let gw = TestGateway::start().await;
    let mock = Mock::start(&[]);
    gw.register(json!({"name": "m", "protocol": "http", "url": mock.url()}))
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let front = TlsFront::start(dir.path(), gw.addr.port());
    let url = front.url("/mcp");
    let key = gw.client_key.clone();
    let ca = dir.path().join("ca.pem").display().to_string();
    let run = move |env: Vec<(&'static str, String)>| {
        let (url, key) = (url.clone(), key.clone());
        tokio::task::spawn_blocking(move || {
            run_bin(
                env!("CARGO_BIN_EXE_mcpc"),
                &env,
                &[
                    "--url",
                    &url,
                    "--key",
                    &key,
                    "call",
                    "m__echo",
                    r#"{"message":"via https"}"#,
                ],
            )
        })
    };
    let out = run(vec![("SSL_CERT_FILE", ca)]).await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("via https"), "{}", stdout(&out));
    // Mozilla's roots alone do not vouch for the test CA: the connection is refused.
    let out = run(vec![]).await.unwrap();
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(stderr(&out).contains("certificate"), "{}", stderr(&out));
    // A file with no certificate is the user's mistake.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let out = run(vec![("SSL_CERT_FILE", empty.display().to_string())])
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("SSL_CERT_FILE"), "{}", stderr(&out));
}

/// A backend that takes the connection and never answers the TLS handshake: bounded by
/// the server's `timeout_ms` like any slow backend; the server fails with the reason and
/// the gateway goes on serving the others.
#[tokio::test]
async fn a_backend_stalling_its_tls_handshake_is_bounded_by_its_timeout() {
    // Accepted by the kernel (the backlog), never read from.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://127.0.0.1:{}/mcp",
        silent.local_addr().unwrap().port()
    );
    let gw = TestGateway::start().await;
    let r = support::http::send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers",
        &gw.admin_key,
        &json!({"name": "mute", "protocol": "http", "url": url, "timeout_ms": 300}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let started = std::time::Instant::now();
    let error = eventually(Duration::from_secs(15), "the timeout", || async {
        let s = get(gw.addr, "/api/v1/mcp/servers/mute", &gw.admin_key)
            .await
            .json();
        (s["status"] == "failed").then(|| s["last_error"].to_string())
    })
    .await;
    assert!(error.contains("within 300 ms"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let mock = Mock::start(&[]);
    gw.register(json!({"name": "m", "protocol": "http", "url": mock.url()}))
        .await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    assert_eq!(c.initialize().await.status, 200);
    let r = c
        .result(
            "tools/call",
            json!({"name": "m__echo", "arguments": {"message": "unaffected"}}),
        )
        .await;
    assert_eq!(text_of(&r), "unaffected");
    drop(silent);
}
