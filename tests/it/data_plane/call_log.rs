//! The per-call log line, captured from the gateway running in this test's thread: the
//! capture is this thread's default subscriber (the test's runtime runs on it, and so
//! does the in-process gateway), so the other tests of the binary are neither captured
//! nor slowed.

use crate::support;

use crate::support::gateway::TestGateway;
use crate::support::mcp::Client;
use crate::support::mock::Mock;
use serde_json::json;

/// Log output, as text.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A call line of the test's own backend (`alpha`).
fn counted(line: &str) -> bool {
    line.contains("metamcp::call") && !line.contains("backend=warm")
}

#[tokio::test]
async fn every_forwarded_call_logs_one_line_without_argument_values() {
    let logs = Captured::default();
    let writer = logs.clone();
    let _capture = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_env_filter("metamcp::call=info")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    );
    let gw = TestGateway::start().await;
    let mock = Mock::start(&[]);
    gw.register(json!({"name": "alpha", "protocol": "http", "url": mock.url()}))
        .await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.initialize().await;
    // tracing caches, for the whole process, whether anyone listens at a log line's
    // callsite, asked when the line is first reached. While this thread's subscriber is
    // the only one registered, tracing asks only the default of the thread that reaches
    // the line first: another test's gateway, reaching the call line first, cached "no
    // one" (seen once in a fresh run, when every test's gateway started at once). One
    // call to another backend makes sure the line was reached, and the cache is then
    // asked again, from this thread; that call's line is not counted below.
    let warm = Mock::start(&[]);
    gw.register(json!({"name": "warm", "protocol": "http", "url": warm.url()}))
        .await;
    c.call(
        json!(0),
        "tools/call",
        json!({"name": "warm__echo", "arguments": {"message": "warm-up"}}),
    )
    .await;
    tracing::callsite::rebuild_interest_cache();
    for (tool, args) in [
        ("alpha__echo", json!({"message": "secret-argument-value"})),
        ("alpha__misbehave", json!({"mode": "not_json"})),
        ("alpha__add", json!({"a": "one"})),
    ] {
        c.call(
            json!(1),
            "tools/call",
            json!({"name": tool, "arguments": args}),
        )
        .await;
    }
    c.tool_names().await;
    let text = support::eventually(
        std::time::Duration::from_secs(10),
        "three call lines",
        || {
            let logs = logs.clone();
            async move {
                let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
                (text.lines().filter(|l| counted(l)).count() >= 3).then_some(text)
            }
        },
    )
    .await;
    let calls: Vec<&str> = text.lines().filter(|l| counted(l)).collect();
    assert_eq!(calls.len(), 3, "one line a call, none for lists: {text}");
    let kid = gw.client_key.split('_').nth(1).unwrap();
    let echo = calls.iter().find(|l| l.contains("tool=echo ")).unwrap();
    for part in [
        format!("key={kid}"),
        "namespace=-".into(),
        "method=tools/call".into(),
        "backend=alpha".into(),
        "outcome=ok".into(),
        "duration_us=".into(),
        "request_bytes=".into(),
        "response_bytes=".into(),
    ] {
        assert!(echo.contains(&part), "{part} in {echo}");
    }
    assert!(
        calls
            .iter()
            .any(|l| l.contains("outcome=failed") && l.contains("tool=misbehave")),
        "{text}"
    );
    assert!(
        calls
            .iter()
            .any(|l| l.contains("outcome=error") && l.contains("tool=add")),
        "{text}"
    );
    assert!(!text.contains("secret-argument-value"), "{text}");
}
