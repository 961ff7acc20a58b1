//! Unit tests of the sandbox against a fake host: the API, every bound, hostile scripts
//! and names, cancellation and property tests (`sandbox.rs`); the limiter, the journal's
//! replay and mismatch, declarations and `run_code`'s definition (`resume.rs`). This file
//! holds the fake host and the helpers both use.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::*;

mod resume;
mod sandbox;

/// A host whose tools are behaviours, recording every call it sees.
#[derive(Default)]
struct Fake {
    seen: Mutex<Vec<(String, Map<String, Value>)>>,
    inflight: AtomicUsize,
    most_inflight: AtomicUsize,
    /// `confirm` answers instead of suspending.
    confirmed: AtomicBool,
    /// `ask_user` waits for the user this long, a wait the run's time bound excuses.
    user: Option<(std::sync::Arc<UserWaits>, Duration)>,
}

impl Fake {
    fn seen(&self) -> Vec<(String, Map<String, Value>)> {
        self.seen.lock().unwrap().clone()
    }
    fn count(&self, name: &str) -> usize {
        self.seen().iter().filter(|(n, _)| n == name).count()
    }
}

fn text(t: &str) -> Value {
    json!({"content": [{"type": "text", "text": t}]})
}

impl Host for Fake {
    fn call(&self, name: String, arguments: Map<String, Value>, _: Charge) -> HostFuture<'_> {
        Box::pin(async move {
            self.seen
                .lock()
                .unwrap()
                .push((name.clone(), arguments.clone()));
            let now = self.inflight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_inflight.fetch_max(now, Ordering::SeqCst);
            let out = match name.as_str() {
                "echo" => Ok(json!({
                    "content": [{"type": "text", "text": Value::Object(arguments.clone()).to_string()}],
                    "structuredContent": {"args": arguments},
                })),
                "two_blocks" => Ok(json!({"content": [
                    {"type": "text", "text": "first"},
                    {"type": "image", "data": "AAAA", "mimeType": "image/png"},
                    {"type": "text", "text": "second"}]})),
                "broken" => {
                    Ok(json!({"content": [{"type": "text", "text": "disk full"}], "isError": true}))
                }
                "denied" => Err(HostError::Refused(InnerError {
                    code: -32003,
                    message: "denied by policy no-writes".into(),
                    data: Some(json!({"policy": "no-writes"})),
                })),
                "wait" => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok(text("waited"))
                }
                "ask_user" | "slow" => {
                    let (waits, long) = self.user.as_ref().expect("a host that asks");
                    let _waiting = (name == "ask_user").then(|| waits.begin());
                    tokio::time::sleep(*long).await;
                    Ok(text("answered"))
                }
                "forever" => {
                    std::future::pending::<()>().await;
                    Ok(text("never"))
                }
                "confirm" => match self.confirmed.load(Ordering::SeqCst) {
                    true => Ok(text("deleted")),
                    false => Err(HostError::Suspend(json!({"message": "Delete it?"}))),
                },
                _ => Ok(text(&name)),
            };
            self.inflight.fetch_sub(1, Ordering::SeqCst);
            out
        })
    }

    fn search(&self, query: String, limit: Option<u64>) -> HostFuture<'_> {
        Box::pin(async move {
            let mut args = Map::new();
            args.insert("limit".into(), json!(limit));
            self.seen
                .lock()
                .unwrap()
                .push((format!("search:{query}"), args));
            Ok(json!({"content": [{"type": "text", "text": "found"}],
                      "structuredContent": {"tools": [{"name": "echo"}]}}))
        })
    }

    fn user_waits(&self) -> Option<std::sync::Arc<UserWaits>> {
        self.user.as_ref().map(|(w, _)| w.clone())
    }
}

fn tools(names: &[&str]) -> Vec<Tool> {
    names
        .iter()
        .map(|n| Tool {
            name: n.to_string(),
            input_schema: json!({"type": "object"}),
            output_schema: None,
        })
        .collect()
}

/// A place of a limiter of its own (the limiter's tests are below).
fn permit() -> RunPermit {
    RunLimiter::new(1, 1).acquire(None).unwrap()
}

fn quick() -> Bounds {
    Bounds {
        timeout: Duration::from_millis(2_000),
        memory: 16 << 20,
        ..Bounds::default()
    }
}

async fn run_with(code: &str, host: &Fake, bounds: &Bounds) -> Report {
    let view = tools(&[
        "echo",
        "two_blocks",
        "broken",
        "denied",
        "wait",
        "confirm",
        "tick",
        "ask_user",
        "slow",
    ]);
    match run(
        code,
        host,
        &view,
        bounds,
        None,
        permit(),
        std::future::pending(),
    )
    .await
    {
        RunOutcome::Finished(r) => r,
        RunOutcome::Suspended { .. } => panic!("suspended"),
    }
}

async fn value(code: &str) -> Value {
    let r = run_with(code, &Fake::default(), &quick()).await;
    r.value.unwrap_or_else(|f| panic!("{code}: {f:?}"))
}

async fn failure(code: &str, bounds: &Bounds) -> Failure {
    match run_with(code, &Fake::default(), bounds).await.value {
        Ok(v) => panic!("{code}: returned {v}"),
        Err(f) => f,
    }
}
