//! One run, as its caller awaits it. The engine runs on a thread of its own; this side
//! takes its inner calls, answers each from the journal when the journal holds it (a
//! mismatch ends the run) or calls the [`Host`] (at most [`PARALLEL`] at once), records
//! each completed call, and settles the script's promise. A call the client must confirm
//! first ([`HostError::Suspend`]) stops the run once the calls in flight are done, with
//! the journal. Dropping the run's future, or `cancel` resolving, stops the engine.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::{Value, json};

use super::budget::{Charge, RunResults};
use super::engine::{self, End, Msg, Reason, Request, Setup, Stop};
use super::journal::{self, Entry, Journal, Kind, MAX_JOURNAL};
use super::{
    Bound, Bounds, CallRecord, Failure, Host, HostError, InnerError, PARALLEL, Report, RunOutcome,
    RunPermit, Tool,
};

/// The engine thread's stack: QuickJS's own bound ([`Bounds::stack`]) and room for the
/// native frames under it.
const THREAD_STACK: usize = 4 << 20;

/// Runs `code` against `host`, offering `tools`, within `bounds`; `journal` is the one a
/// suspended run returned (`None`: a new run). `permit` is the run's place
/// ([`RunLimiter`](super::RunLimiter)): the engine's thread holds it until the thread
/// ends, so the threads alive are never more than the places. The run stops when
/// `cancel` resolves or this future is dropped.
pub async fn run(
    code: &str,
    host: &dyn Host,
    tools: &[Tool],
    bounds: &Bounds,
    journal: Option<Journal>,
    permit: RunPermit,
    cancel: impl Future<Output = ()>,
) -> RunOutcome {
    let fail = |f: Failure| {
        RunOutcome::Finished(Report {
            value: Err(f),
            logs: vec![],
            calls: vec![],
            memory: 0,
        })
    };
    if code.len() > bounds.max_bytes {
        return fail(Failure::bound(
            Bound::Code,
            format!(
                "the code is {} bytes; a script is at most {} bytes",
                code.len(),
                bounds.max_bytes
            ),
        ));
    }
    let journal = match journal {
        Some(j) if !j.is_of(code) => {
            return fail(Failure::new(
                "the journal is another script's: a resumed run must send the same code",
            ));
        }
        Some(j) => j,
        None => Journal::start(code),
    };
    let stop = Arc::new(Stop::default());
    let results = permit.results();
    let (req_tx, req_rx) = tokio::sync::mpsc::unbounded_channel();
    let (msg_tx, msg_rx) = std::sync::mpsc::channel();
    let (end_tx, end_rx) = tokio::sync::oneshot::channel();
    let setup = Setup {
        code: code.to_string(),
        names: super::script_names(tools),
        bounds: bounds.clone(),
        time: journal.time,
        seed: journal.seed,
        stop: stop.clone(),
        waits: host.user_waits(),
    };
    let spawned = std::thread::Builder::new()
        .name("metamcp-code".into())
        .stack_size(THREAD_STACK)
        .spawn(move || {
            let end = engine::execute(setup, req_tx, msg_rx);
            drop(permit);
            let _ = end_tx.send(end);
        });
    if let Err(e) = spawned {
        return fail(Failure::new(format!("the run did not start: {e}")));
    }
    let guard = StopOnDrop(stop.clone());
    let mut driver = Driver {
        host,
        journal,
        calls: Vec::new(),
        queue: VecDeque::new(),
        suspend: None,
        failure: None,
        messages: Some(msg_tx),
        stop,
        results,
        journal_bytes: 0,
    };
    let end = driver.drive(req_rx, end_rx, cancel).await;
    drop(guard);
    driver.outcome(end)
}

/// Stops the engine when the run's future is dropped before its end.
struct StopOnDrop(Arc<Stop>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.set(Reason::Cancelled);
    }
}

/// A host call done: its request and outcome, how long it took, and what its answer
/// holds of the run's budget.
struct Done {
    request: Request,
    outcome: Result<Value, HostError>,
    ms: u64,
    charge: Charge,
}

/// The caller's side of a run.
struct Driver<'h> {
    host: &'h dyn Host,
    journal: Journal,
    calls: Vec<(u32, CallRecord)>,
    /// Calls waiting for a place among the [`PARALLEL`] in flight.
    queue: VecDeque<Request>,
    /// The first question of a call that must be confirmed first.
    suspend: Option<Value>,
    /// The run ended by this side: its journal did not match.
    failure: Option<Failure>,
    /// Dropped to wake and end the engine.
    messages: Option<std::sync::mpsc::Sender<Msg>>,
    stop: Arc<Stop>,
    /// The run's budget for inner results; each call's answer is charged to it.
    results: Arc<RunResults>,
    /// Bytes of the results the journal keeps ([`MAX_JOURNAL`]).
    journal_bytes: usize,
}

impl<'h> Driver<'h> {
    async fn drive(
        &mut self,
        mut requests: tokio::sync::mpsc::UnboundedReceiver<Request>,
        mut end: tokio::sync::oneshot::Receiver<End>,
        cancel: impl Future<Output = ()>,
    ) -> Option<End> {
        let host = self.host;
        let mut inflight = FuturesUnordered::new();
        let mut cancel = std::pin::pin!(cancel);
        let mut cancelled = false;
        loop {
            while self.suspend.is_none() && self.failure.is_none() && inflight.len() < PARALLEL {
                let Some(r) = self.queue.pop_front() else {
                    break;
                };
                inflight.push(call(host, r, Charge::new(&self.results)));
            }
            if self.suspend.is_some() && inflight.is_empty() {
                self.end(Reason::Ended);
            }
            tokio::select! {
                biased;
                e = &mut end => return e.ok(),
                () = &mut cancel, if !cancelled => {
                    cancelled = true;
                    self.end(Reason::Cancelled);
                }
                Some(done) = inflight.next(), if !inflight.is_empty() => self.completed(done),
                Some(r) = requests.recv() => self.request(r),
            }
        }
    }

    /// Ends the engine for `reason` (the first reason set wins).
    fn end(&mut self, reason: Reason) {
        self.stop.set(reason);
        self.messages = None;
    }

    /// Settles call `order` in the script; `charge` is held until the engine took it.
    fn settle(&self, order: u32, (ok, json): (bool, Value), charge: Option<Charge>) {
        if let Some(m) = &self.messages {
            let json = json.to_string();
            let _ = m.send(Msg::Settle {
                order,
                ok,
                json,
                charge,
            });
        }
    }

    /// A call the script made: from the journal when it holds it, else queued.
    fn request(&mut self, r: Request) {
        if self.suspend.is_some() || self.failure.is_some() {
            return;
        }
        let Some(entry) = self.journal.entry(r.order) else {
            self.queue.push_back(r);
            return;
        };
        let digest = journal::digest(&r.arguments);
        if entry.kind != r.kind || entry.tool != r.name || entry.digest != digest {
            self.failure = Some(Failure::new(format!(
                "the script took another course than its journal: inner call {} is {:?} with \
                 other arguments or another tool than the {:?} that ran before; nothing was \
                 called again",
                r.order, r.name, entry.tool
            )));
            self.end(Reason::Ended);
            return;
        }
        let settled = settlement(&entry.outcome, r.raw);
        let record = CallRecord {
            tool: record_name(r.kind, &r.name),
            ok: outcome_ok(&entry.outcome),
            ms: entry.ms,
            replayed: true,
        };
        self.calls.push((r.order, record));
        self.settle(r.order, settled, None);
    }

    /// A host call done: recorded and settled, or the run suspended.
    fn completed(&mut self, d: Done) {
        let Done {
            request: r,
            outcome,
            ms,
            charge,
        } = d;
        let outcome = match outcome {
            Ok(v) => Ok(v),
            Err(HostError::Refused(e)) => Err(e),
            Err(HostError::Suspend(question)) => {
                self.suspend.get_or_insert(question);
                return;
            }
        };
        self.calls.push((
            r.order,
            CallRecord {
                tool: record_name(r.kind, &r.name),
                ok: outcome_ok(&outcome),
                ms,
                replayed: false,
            },
        ));
        // The journal keeps what a run's state could carry; a result past that is
        // settled from itself, not copied.
        let bytes = self.journal_bytes.saturating_add(charge.bytes());
        let settled = match !self.journal.overflowed && bytes <= MAX_JOURNAL {
            true => {
                let settled = settlement(&outcome, r.raw);
                self.journal_bytes = bytes;
                self.journal.entries.push(Entry {
                    order: r.order,
                    kind: r.kind,
                    tool: r.name,
                    digest: journal::digest(&r.arguments),
                    outcome,
                    ms,
                });
                settled
            }
            false => {
                self.journal.overflowed = true;
                settle_owned(outcome, r.raw)
            }
        };
        self.settle(r.order, settled, Some(charge));
    }

    /// The run's outcome from the engine's end and this side's state.
    fn outcome(self, end: Option<End>) -> RunOutcome {
        let mut calls = self.calls;
        calls.sort_by_key(|(order, _)| *order);
        let calls: Vec<CallRecord> = calls.into_iter().map(|(_, c)| c).collect();
        let End {
            value,
            logs,
            memory,
        } = end.unwrap_or(End {
            value: Err(Failure::new("the engine's thread ended unexpectedly")),
            logs: vec![],
            memory: 0,
        });
        if let Some(question) = self.suspend {
            return RunOutcome::Suspended {
                journal: self.journal,
                question,
                logs,
                calls,
            };
        }
        let value = match self.failure {
            Some(f) => Err(f),
            None => value,
        };
        RunOutcome::Finished(Report {
            value,
            logs,
            calls,
            memory,
        })
    }
}

/// One host call, timed, its answer charged to `charge`.
async fn call(host: &dyn Host, request: Request, charge: Charge) -> Done {
    let started = Instant::now();
    let outcome = match request.kind {
        Kind::Call => {
            host.call(
                request.name.clone(),
                request.arguments.clone(),
                charge.clone(),
            )
            .await
        }
        Kind::Search => {
            let limit = request.arguments.get("limit").and_then(Value::as_u64);
            host.search(request.name.clone(), limit).await
        }
    };
    Done {
        request,
        outcome,
        ms: started.elapsed().as_millis() as u64,
        charge,
    }
}

fn record_name(kind: Kind, name: &str) -> String {
    match kind {
        Kind::Call => name.to_string(),
        Kind::Search => "search_tools".to_string(),
    }
}

fn outcome_ok(outcome: &Result<Value, InnerError>) -> bool {
    matches!(outcome, Ok(v) if v.get("isError") != Some(&Value::Bool(true)))
}

/// How a call's outcome settles the script's promise: `(resolves, JSON)`. A result
/// resolves to its `structuredContent`, else its text blocks joined (`raw`: the whole
/// result); a result with `isError` rejects (`e.isError`, `e.result`), and so does an
/// error (`e.code`, `e.data`).
pub fn settlement(outcome: &Result<Value, InnerError>, raw: bool) -> (bool, Value) {
    settle_owned(outcome.clone(), raw)
}

/// [`settlement`] of an outcome no longer needed: its text and structured content are
/// moved, not copied.
fn settle_owned(outcome: Result<Value, InnerError>, raw: bool) -> (bool, Value) {
    let mut result = match outcome {
        Err(e) => {
            let mut v = json!({"message": e.message, "code": e.code});
            if let Some(d) = e.data {
                v["data"] = d;
            }
            return (false, v);
        }
        Ok(r) => r,
    };
    if raw {
        return (true, result);
    }
    let text = text_of(&mut result);
    if result.get("isError") == Some(&Value::Bool(true)) {
        let message = match text.is_empty() {
            true => "the tool reported an error".to_string(),
            false => text,
        };
        return (
            false,
            json!({"message": message, "isError": true, "result": result}),
        );
    }
    match result.get_mut("structuredContent").map(Value::take) {
        Some(sc) if !sc.is_null() => (true, sc),
        _ => (true, Value::String(text)),
    }
}

/// The text of a result's text blocks, joined by newlines; one block's text is moved out
/// of the result (an error's result keeps its text: it is handed over whole).
fn text_of(result: &mut Value) -> String {
    let error = result.get("isError") == Some(&Value::Bool(true));
    let Some(blocks) = result.get_mut("content").and_then(Value::as_array_mut) else {
        return String::new();
    };
    let mut texts: Vec<&mut Value> = blocks
        .iter_mut()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get_mut("text").filter(|t| t.is_string()))
        .collect();
    match texts.as_mut_slice() {
        [one] if !error => match one.take() {
            Value::String(s) => s,
            _ => String::new(),
        },
        all => all
            .iter()
            .filter_map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}
