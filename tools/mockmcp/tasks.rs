//! `--tasks`: tool calls run as tasks when asked (MCP 2025-11-25). The server offers
//! `tasks.requests.tools.call` and lists every tool with `execution.taskSupport:
//! "optional"`; a `tools/call` with `params.task` is answered at once with the task,
//! `working`, while the call runs; `tasks/get` tells its status, and `tasks/result` waits
//! for its end: the call's result (with the `related-task` `_meta`), or its error.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::watch;

/// What a call comes to: its result, or its error's code and message.
pub type Outcome = Result<Value, (i64, String)>;

const RELATED_TASK: &str = "io.modelcontextprotocol/related-task";
/// How long a task is kept, as its status says (milliseconds).
const TTL_MS: u64 = 60_000;

/// A task's end, once it has one.
type End = watch::Receiver<Option<Outcome>>;

/// The tasks started, by id: when each was created, and its end.
#[derive(Default)]
pub struct Tasks {
    runs: Mutex<HashMap<String, (String, End)>>,
    next: AtomicU64,
}

/// The `tasks` capability.
pub fn capability() -> Value {
    json!({"requests": {"tools": {"call": {}}}})
}

/// A tool's definition with its task support.
pub fn support(tool: &mut Value) {
    tool["execution"] = json!({"taskSupport": "optional"});
}

impl Tasks {
    /// Runs `call` as a new task: the `CreateTaskResult` to answer at once.
    pub fn start(&self, call: impl Future<Output = Outcome> + Send + 'static) -> Value {
        let id = format!("mock-task-{}", self.next.fetch_add(1, Ordering::Relaxed));
        let created = now();
        let (tx, rx) = watch::channel(None);
        self.runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), (created.clone(), rx));
        tokio::spawn(async move {
            let end = call.await;
            let _ = tx.send(Some(end));
        });
        json!({"task": status(&id, &created, None)})
    }

    /// The task `params` name: its id, when it was created, and its end.
    fn run(&self, params: &Value) -> Result<(String, String, End), (i64, String)> {
        let id = params["taskId"].as_str().unwrap_or_default();
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        match runs.get(id) {
            Some((created, rx)) => Ok((id.to_string(), created.clone(), rx.clone())),
            None => Err((-32602, format!("unknown task {id:?}"))),
        }
    }

    /// `tasks/get`: the task's status now.
    pub fn get(&self, params: &Value) -> Outcome {
        let (id, created, rx) = self.run(params)?;
        let end = rx.borrow().clone();
        Ok(status(&id, &created, end.as_ref()))
    }

    /// `tasks/result`: the task's end, once it has one.
    pub async fn result(&self, params: &Value) -> Outcome {
        let (id, _, mut rx) = self.run(params)?;
        let end = match rx.wait_for(Option::is_some).await {
            Ok(end) => end.clone(),
            Err(_) => return Err((-32603, "the task's run went away".into())),
        };
        match end {
            Some(Ok(mut result)) => {
                result["_meta"][RELATED_TASK] = json!({"taskId": id});
                Ok(result)
            }
            Some(Err(e)) => Err(e),
            None => Err((-32603, "the task has no end".into())),
        }
    }
}

/// A task's status: `working` until it ends, then `completed` or `failed`.
fn status(id: &str, created: &str, end: Option<&Outcome>) -> Value {
    let status = match end {
        None => "working",
        Some(Ok(_)) => "completed",
        Some(Err(_)) => "failed",
    };
    json!({"taskId": id, "status": status, "createdAt": created, "lastUpdatedAt": now(),
           "ttl": TTL_MS, "pollInterval": 100})
}

/// Now as an RFC 3339 UTC time.
fn now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Days since the epoch to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}
