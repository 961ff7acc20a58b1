//! `run_code` as the gateway serves it (code mode, [`crate::codemode`]): the gateway tool
//! a code-mode view lists, and one run of a script whose inner calls go through the
//! `Host` the pipeline hands in (each a `tools/call` of the caller's view, walking what a
//! direct call walks). The run holds a place among the runs of its key and of the
//! process, and stops when the request that started it goes away.

use std::time::Instant;

use bytes::Bytes;
use hyper::{Response, StatusCode};
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::codemode::{self, Host, RunOutcome, Tool};
use crate::http::Body;
use crate::jsonrpc::frame::Frame;
use crate::mcp::confirm;
use crate::mcp::ctx::Ctx;
use crate::mcp::era::bridge::session_to_modern::stream;
use crate::mcp::hop::exchange::Shape;
use crate::mcp::served::{self, CALL_TIMEOUT};
use crate::mcp::wire::ask::Ask;
use crate::mcp::wire::request_state::params_digest;
use crate::mcp::wire::rpc::{RpcError, code, json_response};
use crate::mcp::wire::run_state::{InnerAsk, MAX_RUN_STATE, RunClaims, seal_run};
use crate::routing::{Called, GatewayCall, GatewayTool, Served, ToolError};

/// The gateway tool `run_code`: listed only in views whose code mode is on, under its
/// own name; its calls are run by the pipeline ([`run`]), never through
/// [`GatewayTool::call`].
pub struct RunCode {
    definition: Value,
}

impl RunCode {
    /// The tool, its description naming `bounds`.
    pub fn new(bounds: &codemode::Bounds) -> RunCode {
        RunCode {
            definition: codemode::tool::definition(bounds),
        }
    }
}

impl GatewayTool for RunCode {
    fn name(&self) -> &str {
        codemode::RUN_CODE
    }

    fn search_tool(&self) -> bool {
        true
    }

    fn definition(&self) -> Value {
        self.definition.clone()
    }

    fn call<'a>(&'a self, _call: GatewayCall<'a>) -> Called<'a> {
        // The pipeline runs `run_code` with its host (`mcp::served::call`); a table
        // built without one has nothing to run the script's calls through.
        Box::pin(async {
            Err(ToolError {
                code: crate::mcp::wire::rpc::code::INTERNAL,
                message: "run_code runs only through the gateway's MCP endpoint".into(),
            })
        })
    }
}

/// How a run's inner call that needs the user's confirmation is asked: on the run's
/// own stream (a session client; the host sends the question on `Stream`'s sender and
/// waits), by suspending the run (a 2026-07-28 client answers `input_required` and
/// retries), or not at all (a batch, REST, a client that declared no elicitation: the
/// call is refused, and throws in the script).
pub enum Asking {
    Stream(mpsc::Sender<Bytes>),
    Suspend,
    Cannot,
}

/// A `run_code` call of the caller in `ctx`: the script run with its inner calls through
/// the host `make` builds for the way this client can be asked. A session client that
/// can be asked gets a JSON answer unless a question comes first; then the answer is a
/// stream, the questions on it, then the run's result. The run holds a place among the
/// runs of its key and of the process, and stops when its client goes away.
pub(crate) async fn serve<H: Host + 'static>(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    served: &Served,
    shape: Shape,
    make: impl FnOnce(Asking, uuid::Uuid) -> H,
) -> Result<Response<Body>, RpcError> {
    let params = served::arguments(body, f, served)?;
    let none = Map::new();
    let arguments = params["arguments"].as_object().unwrap_or(&none);
    let code = codemode::tool::code_argument(arguments)
        .map_err(|e| RpcError::method(e.code, e.message))?
        .to_string();
    let key = ctx.principal.as_ref().map(|p| p.key_id);
    let permit = ctx.state.code_runs.acquire(key).map_err(|busy| {
        let message = format!(
            "{busy}: wait for one to end and call again, or ask an admin to raise {}",
            busy.setting()
        );
        let bound = match busy {
            codemode::limiter::Busy::Key(n) | codemode::limiter::Busy::Total(n) => n as u64,
        };
        RpcError::limited(message, busy.setting(), 1000, Some(bound))
    })?;
    let run = Run {
        code,
        tools: script_tools(ctx),
        journal: ctx.resume.as_ref().map(|r| r.journal.clone()),
        permit,
        id: ctx
            .resume
            .as_ref()
            .and_then(|r| r.run)
            .unwrap_or_else(crate::observe::audit::mint),
    };
    let can = confirm::can_ask(ctx, body, f, shape);
    if can && !ctx.asks_by_rounds() {
        return Ok(on_stream(ctx, body, f, served, run, make).await);
    }
    let id = run.id;
    let host = make(
        match can {
            true => Asking::Suspend,
            false => Asking::Cannot,
        },
        id,
    );
    let started = Instant::now();
    let outcome = run.execute(ctx, &host, std::future::pending()).await;
    finish(ctx, body, f, served, started, outcome, id)
}

/// One run's script, with what it runs under.
struct Run {
    code: String,
    tools: Vec<Tool>,
    journal: Option<codemode::Journal>,
    permit: codemode::RunPermit,
    /// The run's audit identity, minted when it starts and kept through a suspension:
    /// its row's `call_id`, its inner calls' rows' `parent`.
    id: uuid::Uuid,
}

/// What a run came to.
enum Ran {
    /// Its `CallToolResult`.
    Result(Value),
    /// Suspended for the user: the question, for a 2026-07-28 client's retry.
    Asks {
        journal: codemode::Journal,
        question: Value,
    },
}

impl Run {
    /// Runs the script against `host` until it ends, its bound (the waits for its user
    /// excused, up to the confirmation timeout) or `cancel`.
    async fn execute(
        self,
        ctx: &Ctx,
        host: &dyn Host,
        cancel: impl std::future::Future<Output = ()>,
    ) -> Result<Ran, RpcError> {
        let bounds = &ctx.state.config.code.bounds;
        let limit = bounds.timeout + ctx.state.config.parked.confirm_ttl + CALL_TIMEOUT;
        let ran = codemode::run(
            &self.code,
            host,
            &self.tools,
            bounds,
            self.journal,
            self.permit,
            cancel,
        );
        match tokio::time::timeout(limit, ran).await {
            Ok(RunOutcome::Finished(report)) => Ok(Ran::Result(report.to_result())),
            Ok(RunOutcome::Suspended {
                journal, question, ..
            }) => Ok(Ran::Asks { journal, question }),
            Err(_) => Err(RpcError::method(
                code::INTERNAL,
                format!("run_code did not finish within {} s", limit.as_secs()),
            )),
        }
    }
}

/// The run's answer, and its audit row (its identity `run`): its result; or, suspended,
/// `input_required` with the question and the run's sealed state (`run` in it).
fn finish(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    served: &Served,
    started: Instant,
    outcome: Result<Ran, RpcError>,
    run: uuid::Uuid,
) -> Result<Response<Body>, RpcError> {
    let result = match outcome {
        Ok(Ran::Asks { journal, question }) => {
            match suspended(ctx, body, f, journal, &question, run) {
                Ok(resp) => return Ok(resp),
                Err(failure) => Ok(failure),
            }
        }
        Ok(Ran::Result(v)) => Ok(v),
        Err(e) => Err(e),
    };
    let outcome = result.map(|v| Bytes::from(v.to_string()));
    served::record(ctx, body, served, started, &outcome, Some(run));
    Ok(served::answer(ctx, body, f, outcome?))
}

/// A run suspended for its user: `input_required` asking the question, with the run's
/// state; or, when its journal is too large to carry, the run's failure.
fn suspended(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    journal: codemode::Journal,
    question: &Value,
    run: uuid::Uuid,
) -> Result<Response<Body>, Value> {
    let ttl = ctx.state.config.parked.confirm_ttl;
    let claims = RunClaims {
        principal: ctx.kid().to_string(),
        namespace: ctx.namespace.clone(),
        digest: params_digest(body).unwrap_or_default(),
        journal,
        inner: InnerAsk {
            tool: question["tool"].as_str().unwrap_or_default().to_string(),
            digest: question["digest"].as_str().unwrap_or_default().to_string(),
            state: question["state"].as_str().unwrap_or_default().to_string(),
        },
        expires_ms: crate::base::unix_now_ms()
            .saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)),
        run: Some(run),
    };
    // A journal that stopped keeping results past its bound cannot resume its run.
    let sealed = (!claims.journal.overflowed)
        .then(|| seal_run(&ctx.state.cipher, &claims))
        .flatten();
    let Some(state) = sealed else {
        let message = format!(
            "inner call {:?} needs the user's confirmation, and the run's completed calls are \
             too large to carry to the client and back (more than {} bytes): return less from \
             the calls before it, or call it directly",
            claims.inner.tool, MAX_RUN_STATE
        );
        return Err(json!({"content": [{"type": "text", "text": message}],
                          "structuredContent": {"result": null, "error": message},
                          "isError": true}));
    };
    let ask = Ask {
        key: "confirm".to_string(),
        id: Bytes::new(),
        method: crate::jsonrpc::methods::Method::ElicitationCreate,
        params: Bytes::from(question["form"].to_string()),
        undeclared: None,
    };
    let id = f.id.map_or(&b"null"[..], |s| s.of(body));
    Ok(json_response(
        StatusCode::OK,
        crate::mcp::era::rounds::input_required(id, &[ask], &state),
    ))
}

/// A session client that can be asked: the run in a task of its own, its answer JSON
/// when it ends before asking anything, else a stream: the questions as they come, then
/// the run's answer. The run stops when the client goes away.
fn on_stream<H: Host + 'static>(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    served: &Served,
    run: Run,
    make: impl FnOnce(Asking, uuid::Uuid) -> H,
) -> impl std::future::Future<Output = Response<Body>> {
    let (tx, mut questions) = mpsc::channel::<Bytes>(16);
    let run_id = run.id;
    let host = make(Asking::Stream(tx.clone()), run_id);
    let (done_tx, mut done) = oneshot::channel();
    let owned = ctx.derived(ctx.confirmation);
    let (body, f) = (body.clone(), f.clone());
    let served = served.clone();
    tokio::spawn(async move {
        let started = Instant::now();
        let outcome = run
            .execute(&owned, &host, async move { tx.closed().await })
            .await;
        let id = f.id.map_or(&b"null"[..], |s| s.of(&body)).to_vec();
        let resp = finish(&owned, &body, &f, &served, started, outcome, run_id)
            .unwrap_or_else(|e| e.in_era(owned.client_modern()).response(&id));
        let _ = done_tx.send(resp);
    });
    async move {
        // A question sent before the run ended is always taken first.
        let first = tokio::select! {
            biased;
            Some(q) = questions.recv() => q,
            Ok(resp) = &mut done => return resp,
            else => return RpcError::method(code::INTERNAL, "the run ended unexpectedly").response(b"null"),
        };
        let (out, rx) = mpsc::channel::<Bytes>(16);
        tokio::spawn(async move {
            if out.send(first).await.is_err() {
                return;
            }
            loop {
                tokio::select! {
                    biased;
                    Some(q) = questions.recv() => {
                        if out.send(q).await.is_err() {
                            return;
                        }
                    }
                    Ok(resp) = &mut done => {
                        confirm::relay(resp, &out).await;
                        return;
                    }
                    // The client went away: the questions' channel closes with this
                    // task, which stops the run and ends its wait for an answer.
                    () = out.closed() => return,
                    else => return,
                }
            }
        });
        stream(rx)
    }
}

/// The tools of the caller's view as a script sees them: by the name the view exposes,
/// with their schemas.
fn script_tools(ctx: &Ctx) -> Vec<Tool> {
    ctx.view
        .tools
        .iter()
        .filter_map(|t| {
            let entry = crate::jsonrpc::read::value(&t.entry).ok()?;
            Some(Tool {
                name: t.name.clone(),
                input_schema: entry.get("inputSchema").cloned().unwrap_or(Value::Null),
                output_schema: entry.get("outputSchema").cloned(),
            })
        })
        .collect()
}
