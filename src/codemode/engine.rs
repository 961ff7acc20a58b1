//! The JavaScript engine's side of a run, on a thread of its own: a QuickJS runtime and
//! context made for the run (nothing is shared between runs), bounded in heap and stack,
//! with an interrupt handler that ends the run at its deadline or when it is stopped
//! (the caller went away, a bound was met, the run is suspended). The prelude
//! (`prelude.js`) sets the script's globals; inner calls go to the caller's side as
//! [`Request`]s and come back as [`Msg::Settle`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

use rquickjs::{Context, Ctx, Exception, Function, Object, Persistent, Runtime};
use serde_json::{Map, Value};
use tokio::sync::mpsc::UnboundedSender;

use super::journal::Kind;
use super::{Bound, Bounds, Failure};

const PRELUDE: &str = include_str!("prelude.js");

/// Why a run was stopped from outside the script's own course.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reason {
    Time = 1,
    Calls,
    Output,
    /// The caller went away.
    Cancelled,
    /// The caller's side ended it (suspended, or its journal did not match).
    Ended,
}

/// The run's stop flag, shared by the interrupt handler and the caller's side; the first
/// reason set wins.
#[derive(Default)]
pub(super) struct Stop(AtomicU8);

impl Stop {
    pub(super) fn set(&self, r: Reason) {
        let _ = self
            .0
            .compare_exchange(0, r as u8, Ordering::AcqRel, Ordering::Acquire);
    }

    pub(super) fn reason(&self) -> Option<Reason> {
        match self.0.load(Ordering::Acquire) {
            1 => Some(Reason::Time),
            2 => Some(Reason::Calls),
            3 => Some(Reason::Output),
            4 => Some(Reason::Cancelled),
            5 => Some(Reason::Ended),
            _ => None,
        }
    }
}

/// One inner call or search the script made.
pub(super) struct Request {
    pub order: u32,
    pub kind: Kind,
    /// The tool's name (the query, for a search).
    pub name: String,
    pub arguments: Map<String, Value>,
    /// `{raw: true}`: the whole result.
    pub raw: bool,
}

/// From the caller's side to the engine.
pub(super) enum Msg {
    /// Settles call `order`: resolves with the JSON `json`, or rejects with the error
    /// object `json` (`message`, `code`, `data`, `isError`, `result`). `charge` is the
    /// call's share of the run's budget for inner results, given back once the engine
    /// has taken `json` into its heap.
    Settle {
        order: u32,
        ok: bool,
        json: String,
        charge: Option<super::Charge>,
    },
}

/// What a run needs on the engine's thread.
pub(super) struct Setup {
    pub code: String,
    /// The names `tools` offers.
    pub names: Vec<String>,
    pub bounds: Bounds,
    pub time: f64,
    pub seed: u32,
    pub stop: Arc<Stop>,
    /// The waits for the user the deadline does not count.
    pub waits: Option<Arc<super::UserWaits>>,
}

/// How the engine's side ended.
pub(super) struct End {
    pub value: Result<Value, Failure>,
    pub logs: Vec<String>,
    /// Bytes the engine's heap held at the end, its runtime and context included.
    pub memory: usize,
}

/// What the prelude's native functions share with the loop.
struct Shared {
    logs: RefCell<Vec<String>>,
    output: Cell<usize>,
    calls: Cell<u32>,
    outstanding: Cell<usize>,
    finish: RefCell<Option<Result<String, String>>>,
    /// The script's error is its code's (it did not compile as one function body).
    code_error: Cell<bool>,
}

/// Runs one script to its end on this thread.
pub(super) fn execute(
    setup: Setup,
    requests: UnboundedSender<Request>,
    messages: Receiver<Msg>,
) -> End {
    let shared = Rc::new(Shared {
        logs: RefCell::new(Vec::new()),
        output: Cell::new(0),
        calls: Cell::new(0),
        outstanding: Cell::new(0),
        finish: RefCell::new(None),
        code_error: Cell::new(false),
    });
    let (value, memory) = match Runtime::new() {
        Ok(rt) => drive(&rt, &setup, &shared, requests, &messages),
        Err(e) => (
            Err(Failure::new(format!("the engine did not start: {e}"))),
            0,
        ),
    };
    let logs = shared.logs.take();
    End {
        value,
        logs,
        memory,
    }
}

/// The run on `rt`: the context, the prelude, then jobs and settlements until the script
/// ends or is stopped.
fn drive(
    rt: &Runtime,
    setup: &Setup,
    shared: &Rc<Shared>,
    requests: UnboundedSender<Request>,
    messages: &Receiver<Msg>,
) -> (Result<Value, Failure>, usize) {
    let bounds = &setup.bounds;
    rt.set_memory_limit(bounds.memory);
    rt.set_max_stack_size(bounds.stack);
    let deadline = Deadline {
        at: Instant::now() + bounds.timeout,
        waits: setup.waits.clone(),
    };
    let stop = setup.stop.clone();
    let interrupt = deadline.clone();
    rt.set_interrupt_handler(Some(Box::new(move || {
        if stop.reason().is_some() {
            return true;
        }
        if interrupt.passed(Instant::now()) {
            stop.set(Reason::Time);
            return true;
        }
        false
    })));
    let ctx = match Context::full(rt) {
        Ok(c) => c,
        Err(e) => return (Err(memory_or(format!("{e}"), bounds)), 0),
    };
    let settle = ctx.with(|ctx| install(&ctx, setup, shared, requests));
    let value = match settle {
        Ok(settle) => turn(rt, &ctx, &settle, setup, shared, messages, &deadline),
        Err(message) => Err(stopped(setup).unwrap_or_else(|| memory_or(message, bounds))),
    };
    let memory = rt.memory_usage().memory_used_size.max(0) as usize;
    (value, memory)
}

/// The loop: runs pending jobs, then waits for a settlement, until the script's promise
/// settles, the run is stopped, or nothing can settle it any more.
fn turn(
    rt: &Runtime,
    ctx: &Context,
    settle: &Persistent<Function<'static>>,
    setup: &Setup,
    shared: &Rc<Shared>,
    messages: &Receiver<Msg>,
    deadline: &Deadline,
) -> Result<Value, Failure> {
    let bounds = &setup.bounds;
    loop {
        loop {
            match rt.execute_pending_job() {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    let message = e.0.with(|ctx| caught(&ctx));
                    if setup.stop.reason().is_none() && shared.finish.borrow().is_none() {
                        *shared.finish.borrow_mut() = Some(Err(message));
                    }
                    break;
                }
            }
        }
        if let Some(f) = stopped(setup) {
            return Err(f);
        }
        if let Some(f) = shared.finish.take() {
            return finished(f, shared, bounds);
        }
        if shared.outstanding.get() == 0 {
            return Err(Failure::new(
                "the script awaits a promise that nothing will settle (code mode has no timers)",
            ));
        }
        let now = Instant::now();
        if deadline.passed(now) {
            setup.stop.set(Reason::Time);
            continue;
        }
        match messages.recv_timeout(deadline.left(now)) {
            Ok(Msg::Settle {
                order,
                ok,
                json,
                charge,
            }) => {
                shared
                    .outstanding
                    .set(shared.outstanding.get().saturating_sub(1));
                let done = ctx.with(|ctx| {
                    let f = settle.clone().restore(&ctx).map_err(|e| e.to_string())?;
                    f.call::<_, ()>((order, ok, json)).map_err(|_| caught(&ctx))
                });
                drop(charge);
                if let Err(message) = done
                    && setup.stop.reason().is_none()
                    && shared.finish.borrow().is_none()
                {
                    *shared.finish.borrow_mut() = Some(Err(message));
                }
            }
            // The deadline may have moved (a wait for the user): checked again above.
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => setup.stop.set(Reason::Cancelled),
        }
    }
}

/// A run's deadline: its time bound from its start, moved by the waits for its user.
#[derive(Clone)]
struct Deadline {
    at: Instant,
    waits: Option<Arc<super::UserWaits>>,
}

impl Deadline {
    fn now_at(&self, now: Instant) -> Instant {
        self.waits
            .as_ref()
            .map_or(self.at, |w| self.at + w.excused(now))
    }

    fn passed(&self, now: Instant) -> bool {
        now >= self.now_at(now)
    }

    fn left(&self, now: Instant) -> std::time::Duration {
        self.now_at(now).saturating_duration_since(now)
    }
}

/// The failure of a run stopped from outside the script's course, if it was.
fn stopped(setup: &Setup) -> Option<Failure> {
    let b = &setup.bounds;
    Some(match setup.stop.reason()? {
        Reason::Time => Failure::bound(
            Bound::Time,
            format!("the script ran past its {} ms", b.timeout.as_millis()),
        ),
        Reason::Calls => Failure::bound(
            Bound::Calls,
            format!("the script made more than {} inner calls", b.max_calls),
        ),
        Reason::Output => Failure::bound(
            Bound::Output,
            format!("the script's output passed {} bytes", b.max_output),
        ),
        Reason::Cancelled => Failure::new("the run was stopped: its caller went away"),
        Reason::Ended => Failure::new("the run was ended by its caller"),
    })
}

/// The script's end as the prelude reported it: its JSON value, or its error.
fn finished(f: Result<String, String>, shared: &Shared, bounds: &Bounds) -> Result<Value, Failure> {
    let json = f.map_err(|m| match memory_or(m, bounds) {
        f if f.bound.is_none() && shared.code_error.get() => Failure::bound(Bound::Code, f.message),
        f => f,
    })?;
    if shared.output.get().saturating_add(json.len()) > bounds.max_output {
        return Err(Failure::bound(
            Bound::Output,
            format!(
                "the script's output passed {} bytes (its value is {} bytes of JSON)",
                bounds.max_output,
                json.len()
            ),
        ));
    }
    crate::jsonrpc::read::script_value(json.as_bytes()).map_err(|e| {
        Failure::new(format!(
            "the returned value cannot be read one way as JSON: {e:?}"
        ))
    })
}

/// A script's error, as a failure of the memory bound when it is the engine's heap or
/// stack running out. An allocation refused while QuickJS builds the error itself leaves
/// `null` as the exception: a run ending on a thrown `null` is counted as the memory bound
/// (a script that throws `null` itself is labelled so too; it fails either way).
fn memory_or(message: String, bounds: &Bounds) -> Failure {
    let memory = message.contains("out of memory")
        || message == "uncaught null"
        || message.contains("string too long")
        || message.contains("invalid string length")
        || message.contains("Maximum call stack size exceeded")
        || message.contains("stack overflow");
    match memory {
        true => Failure::bound(
            Bound::Memory,
            format!(
                "{message}: the script met its bound of {} MiB of heap or {} KiB of stack",
                bounds.memory >> 20,
                bounds.stack >> 10
            ),
        ),
        false => Failure::new(message),
    }
}

/// The exception pending in `ctx`, as a message.
fn caught(ctx: &Ctx<'_>) -> String {
    let v = ctx.catch();
    if let Some(e) = v.as_exception() {
        return e.message().unwrap_or_else(|| "out of memory".into());
    }
    if let Some(s) = v.as_string() {
        return s.to_string().unwrap_or_default();
    }
    "uncaught error (out of memory)".into()
}

/// Gives the prelude its natives and facts, runs it (it compiles the script and starts
/// it), and keeps the `settle` function it returns.
fn install(
    ctx: &Ctx<'_>,
    setup: &Setup,
    shared: &Rc<Shared>,
    requests: UnboundedSender<Request>,
) -> Result<Persistent<Function<'static>>, String> {
    let message = |e: rquickjs::Error| match e {
        rquickjs::Error::Exception => caught(ctx),
        e => e.to_string(),
    };
    let native = Object::new(ctx.clone()).map_err(message)?;
    let request = request_fn(ctx, setup, shared, requests).map_err(message)?;
    native.set("request", request).map_err(message)?;
    native
        .set("log", log_fn(ctx, setup, shared).map_err(message)?)
        .map_err(message)?;
    let s = shared.clone();
    let done = Function::new(
        ctx.clone(),
        move |ok: bool, payload: String, code: rquickjs::function::Opt<bool>| {
            if s.finish.borrow().is_none() {
                s.code_error.set(!ok && code.0 == Some(true));
                *s.finish.borrow_mut() = Some(if ok { Ok(payload) } else { Err(payload) });
            }
        },
    )
    .map_err(message)?;
    native.set("done", done).map_err(message)?;
    native.set("tools", setup.names.clone()).map_err(message)?;
    native.set("code", setup.code.as_str()).map_err(message)?;
    native.set("time", setup.time).map_err(message)?;
    native.set("seed", setup.seed as i32).map_err(message)?;
    let prelude: Function = ctx.eval(PRELUDE).map_err(message)?;
    let settle: Function = prelude.call((native,)).map_err(message)?;
    Ok(Persistent::save(ctx, settle))
}

/// `request(kind, name, argumentsJson, raw)`: counts the call against the bound, reads
/// its arguments one way, and sends it to the caller's side; its order, for `settle`.
fn request_fn<'js>(
    ctx: &Ctx<'js>,
    setup: &Setup,
    shared: &Rc<Shared>,
    requests: UnboundedSender<Request>,
) -> rquickjs::Result<Function<'js>> {
    let s = shared.clone();
    let stop = setup.stop.clone();
    let max_calls = setup.bounds.max_calls;
    Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, kind: u32, name: String, arguments: String, raw: bool| {
            let order = s.calls.get();
            if order as usize >= max_calls {
                stop.set(Reason::Calls);
                return Err(Exception::throw_range(
                    &ctx,
                    &format!("more than {max_calls} inner calls: the run ends"),
                ));
            }
            let kind = if kind == 1 { Kind::Search } else { Kind::Call };
            if kind == Kind::Call && super::GATEWAY_OWN.contains(&name.as_str()) {
                return Err(Exception::throw_type(
                    &ctx,
                    &format!(
                        "{name} is the gateway's own tool; a script calls tools with callTool and searches with searchTools"
                    ),
                ));
            }
            let arguments = match (
                kind,
                crate::jsonrpc::read::script_value(arguments.as_bytes()),
            ) {
                (Kind::Call, Ok(Value::Object(m))) => m,
                (Kind::Search, Ok(limit)) => Map::from_iter([("limit".to_string(), limit)]),
                _ => {
                    return Err(Exception::throw_type(
                        &ctx,
                        "the arguments cannot be read one way as a JSON object",
                    ));
                }
            };
            s.calls.set(order + 1);
            let sent = requests.send(Request {
                order,
                kind,
                name,
                arguments,
                raw,
            });
            if sent.is_err() {
                stop.set(Reason::Cancelled);
                return Err(Exception::throw_internal(&ctx, "the run was stopped"));
            }
            s.outstanding.set(s.outstanding.get() + 1);
            Ok(order)
        },
    )
}

/// `log(line)`: keeps the line, within the output bound.
fn log_fn<'js>(
    ctx: &Ctx<'js>,
    setup: &Setup,
    shared: &Rc<Shared>,
) -> rquickjs::Result<Function<'js>> {
    let s = shared.clone();
    let stop = setup.stop.clone();
    let max_output = setup.bounds.max_output;
    Function::new(ctx.clone(), move |ctx: Ctx<'js>, line: String| {
        let total = s.output.get().saturating_add(line.len() + 1);
        if total > max_output {
            stop.set(Reason::Output);
            return Err(Exception::throw_range(
                &ctx,
                &format!("the logs passed {max_output} bytes: the run ends"),
            ));
        }
        s.output.set(total);
        s.logs.borrow_mut().push(line);
        Ok(())
    })
}
