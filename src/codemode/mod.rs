//! Code mode: `run_code`'s sandbox. A script (JavaScript, the body of an async function)
//! calls the caller's tools as functions in one round trip, inside hard bounds of time
//! (an interrupt, not only a timer), memory, stack, inner calls, code size and output,
//! on a thread of its own (never a tokio worker), and stops when its caller goes away.
//!
//! The seam with the call pipeline is [`Host`]: the sandbox asks it for each inner call
//! and search, so every inner call walks the pipeline (and is audited there, as its
//! tool) while the sandbox knows nothing of MCP. [`run`] is one run; a [`Journal`] of the
//! completed inner calls lets a run that stopped for the client's answer
//! ([`HostError::Suspend`]) resume without calling again what already ran.
//!
//! # Layout
//! - this file: the seam's words ([`Host`], [`Tool`], [`InnerError`]), the bounds, and a
//!   run's outcome with its `CallToolResult` rendering;
//! - [`run`](mod@run): one run, as the caller awaits it: inner calls dispatched (bounded
//!   in parallel), replayed from the journal, or suspended;
//! - `engine`: the JavaScript engine's thread (QuickJS), the prelude's globals, the bounds;
//! - [`journal`]: completed inner calls, serialisable, with their argument digests;
//! - [`limiter`]: runs at once, per key and in total;
//! - [`budget`]: the bytes of inner results a run, and every run, holds;
//! - [`tool`]: `run_code`'s definition and arguments, for its registration;
//! - [`typescript`]: a tool's function as a TypeScript declaration, from its schemas;
//! - [`waits`]: the time a run waits for its user, which its time bound excuses.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub mod budget;
mod engine;
pub mod journal;
pub mod limiter;
pub mod run;
pub mod tool;
pub mod typescript;
pub mod waits;

pub use budget::Charge;
pub use journal::Journal;
pub use limiter::{Busy, RunLimiter, RunPermit};
pub use run::run;
pub use waits::UserWaits;

/// The gateway tool's name.
pub const RUN_CODE: &str = "run_code";

/// Inner calls a run has in flight at once (`Promise.all` over more waits its turn).
pub const PARALLEL: usize = 8;

/// Names a tool cannot take in `tools` (it stays reachable through `callTool`): the
/// globals, and what would shadow an object's own machinery or make `tools` a thenable.
pub const RESERVED: &[&str] = &[
    "tools",
    "callTool",
    "searchTools",
    "console",
    "__proto__",
    "constructor",
    "prototype",
    "then",
    "toString",
    "toLocaleString",
    "valueOf",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
];

/// The gateway's own tools, which a script cannot call: `run_code` would nest runs, and
/// the other two have their functions (`searchTools`, `callTool`).
pub const GATEWAY_OWN: &[&str] = &[RUN_CODE, "search_tools", "call_tool"];

/// A run's bounds (`METAMCP_CODE_*`).
#[derive(Clone, Debug, PartialEq)]
pub struct Bounds {
    /// Wall time of a run, inner calls included.
    pub timeout: Duration,
    /// The engine's heap, in bytes.
    pub memory: usize,
    /// The engine's stack, in bytes (a deep recursion meets it).
    pub stack: usize,
    /// Inner calls and searches a run makes.
    pub max_calls: usize,
    /// Bytes of code.
    pub max_bytes: usize,
    /// Bytes of output: the logs (each line and one byte more) and the returned JSON.
    pub max_output: usize,
    /// Runs one key has at once.
    pub runs_per_key: usize,
    /// Runs the process has at once.
    pub runs: usize,
    /// Bytes of inner results one run holds outside its engine at once: answers being
    /// read, and read but not yet taken by the script ([`budget`]).
    pub results: usize,
    /// The same, over every run of the process.
    pub results_total: usize,
}

impl Default for Bounds {
    fn default() -> Bounds {
        Bounds {
            timeout: Duration::from_millis(30_000),
            memory: 64 << 20,
            stack: 512 << 10,
            max_calls: 100,
            max_bytes: 64 << 10,
            max_output: 1 << 20,
            runs_per_key: 4,
            runs: 64,
            results: 32 << 20,
            results_total: 256 << 20,
        }
    }
}

/// The bound a run met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    Time,
    Memory,
    Calls,
    Output,
    Code,
}

impl Bound {
    pub fn as_str(self) -> &'static str {
        match self {
            Bound::Time => "time",
            Bound::Memory => "memory",
            Bound::Calls => "calls",
            Bound::Output => "output",
            Bound::Code => "code",
        }
    }
}

/// A tool of the caller's view, as the script sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Tool {
    /// The name the view exposes.
    pub name: String,
    pub input_schema: Value,
    pub output_schema: Option<Value>,
}

/// An inner call refused or failed: the JSON-RPC error a direct call would have had.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InnerError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// What the host answers instead of a result.
#[derive(Clone, Debug, PartialEq)]
pub enum HostError {
    /// The call is refused or failed: the script's promise rejects with it.
    Refused(InnerError),
    /// The client must be asked first (a confirmation a 2026-07-28 client answers on its
    /// retry): the run stops, once the calls in flight are done, with its journal and
    /// this question ([`RunOutcome::Suspended`]).
    Suspend(Value),
}

/// One inner call's or search's future.
pub type HostFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, HostError>> + Send + 'a>>;

/// The call pipeline as a script's inner calls meet it. Each call is one `tools/call`
/// of the caller's view, walking what a direct call walks (the implementer audits it
/// there, as its tool, with the run as parent).
pub trait Host: Send + Sync {
    /// Calls `name` (as the view exposes it) with `arguments`: its `CallToolResult`. The
    /// answer's reader grows `charge` before it buffers more of it, and refuses the call
    /// when the charge cannot grow ([`budget::Over`]); the run holds the charge until
    /// the script has taken the result.
    fn call(&self, name: String, arguments: Map<String, Value>, charge: Charge) -> HostFuture<'_>;
    /// The view's `search_tools`: its `CallToolResult`.
    fn search(&self, query: String, limit: Option<u64>) -> HostFuture<'_>;
    /// The run's waits for its user, when the host asks the user mid-run: the time
    /// bound does not count them.
    fn user_waits(&self) -> Option<std::sync::Arc<UserWaits>> {
        None
    }
}

/// One inner call as the run's result lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallRecord {
    /// The tool's name as called (`search_tools` for a search).
    pub tool: String,
    pub ok: bool,
    pub ms: u64,
    /// Answered from the journal of an earlier round, not called again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
}

/// Why a run did not return a value.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub message: String,
    pub bound: Option<Bound>,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            bound: None,
        }
    }
    pub fn bound(bound: Bound, message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            bound: Some(bound),
        }
    }
}

/// A run that ended: its value or failure, its logs, its inner calls in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub value: Result<Value, Failure>,
    pub logs: Vec<String>,
    pub calls: Vec<CallRecord>,
    /// Bytes the engine's heap held at the end (runtime and context included).
    pub memory: usize,
}

/// How a run ended.
#[derive(Debug)]
pub enum RunOutcome {
    Finished(Report),
    /// An inner call needs the client's answer first: keep `journal`, ask `question`,
    /// and run the same code again with the journal on the retry.
    Suspended {
        journal: Journal,
        question: Value,
        logs: Vec<String>,
        calls: Vec<CallRecord>,
    },
}

impl Report {
    /// The run as `run_code`'s `CallToolResult`.
    pub fn to_result(&self) -> Value {
        let mut structured = json!({"logs": self.logs, "calls": self.calls});
        let text = match &self.value {
            Ok(v) => {
                structured["result"] = v.clone();
                match v {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                }
            }
            Err(f) => {
                structured["result"] = Value::Null;
                structured["error"] = f.message.clone().into();
                if let Some(b) = f.bound {
                    structured["bound"] = b.as_str().into();
                }
                f.message.clone()
            }
        };
        let mut out = json!({
            "content": [{"type": "text", "text": render(&text, &self.logs, &self.calls)}],
            "structuredContent": structured,
        });
        if self.value.is_err() {
            out["isError"] = true.into();
        }
        out
    }
}

/// The text rendering: the result (or error), then the logs and the calls, if any.
fn render(text: &str, logs: &[String], calls: &[CallRecord]) -> String {
    let mut out = text.to_string();
    if !logs.is_empty() {
        out.push_str("\n\nlogs:\n");
        out.push_str(&logs.join("\n"));
    }
    if !calls.is_empty() {
        let failed = calls.iter().filter(|c| !c.ok).count();
        out.push_str(&format!(
            "\n\n{} inner call{}, {} failed",
            calls.len(),
            if calls.len() == 1 { "" } else { "s" },
            failed
        ));
    }
    out
}

/// The tools `tools` offers: the view's, less reserved and gateway names.
pub fn script_names(tools: &[Tool]) -> Vec<String> {
    tools
        .iter()
        .map(|t| t.name.as_str())
        .filter(|n| !RESERVED.contains(n) && !GATEWAY_OWN.contains(n))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests;
