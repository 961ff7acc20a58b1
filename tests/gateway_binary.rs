//! The `metamcp` binary as an operator runs it: start, serve /health, stop on SIGTERM.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::TestDb;

/// Reads stderr until the "listening" line and returns the bound address.
fn wait_for_listen(stderr: &mut impl BufRead) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("gateway exited before listening");
        }
        if let Some(i) = line.find("local=") {
            return line[i + 6..].trim().to_string();
        }
    }
    panic!("gateway did not report its address in time");
}

fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test]
async fn starts_migrates_serves_health_and_stops_on_sigterm() {
    let db = TestDb::new().await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_metamcp"));
    cmd.env_clear()
        .env("RUST_LOG", "info")
        .env("METAMCP_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in db.env() {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let addr = wait_for_listen(&mut stderr);

    let health = get(&addr, "/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#"{"status":"ok"}"#));
    let ready = get(&addr, "/ready");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    let missing = get(&addr, "/nope");
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert!(missing.contains(r#""code":"not_found""#));

    // The schema was migrated by the gateway itself.
    let client = db.client().await;
    let v: i32 = client
        .query_one("SELECT max(version) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, metamcp::migrate::latest());

    // SAFETY: kill with a valid pid of our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "exit 0 after SIGTERM, got {status}");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("stopped"), "{rest}");
}

#[test]
fn bad_configuration_exits_64_naming_each_problem() {
    let out = Command::new(env!("CARGO_BIN_EXE_metamcp"))
        .env_clear()
        .env("METAMCP_LISTEN", "not-an-address")
        .env("METAMCP_MAX_BODY", "huge")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("METAMCP_LISTEN") && err.contains("METAMCP_MAX_BODY"),
        "{err}"
    );
}
