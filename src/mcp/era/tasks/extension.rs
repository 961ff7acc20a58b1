//! The tasks extension of MCP 2026-07-28 (`io.modelcontextprotocol/tasks`, SEP-2663),
//! for stateless clients, over backends of either era.
//!
//! The gateway offers the extension (`capabilities.extensions` of `server/discover`)
//! when a backend of the view runs tasks. A client that declares it in a request's
//! `_meta` gets a task for a tool that can be one: the server decides, the client sends
//! no `task`. Without the declaration, a tool that must be a task is refused with -32021
//! naming the extension, and the others run at once.
//!
//! A session-era backend runs the task as a 2025-11-25 one: the call goes with
//! `params.task`, and its `CreateTaskResult` (`{"task":{…}}`) comes back flat
//! (`resultType: "task"`, `ttlMs`, `pollIntervalMs`) under a gateway task id
//! ([`crate::mcp::wire::task_ids`]), sealed as a session client's is. `tasks/get` reads the
//! task from its backend and inlines its end: the result of `tasks/result` (a tool's
//! error is `completed`, with `isError`), or the error. A task waiting for input has its
//! questions read off a `tasks/result` the gateway holds open for it
//! ([`crate::mcp::era::tasks::inputs`]); they are the `inputRequests` of `tasks/get`, and
//! `tasks/update` answers them to the backend. `tasks/cancel` acknowledges with nothing
//! but `resultType`, for a task already ended too. A 2026-07-28 backend's tasks pass
//! through with only their ids exchanged. `tasks/result` and `tasks/list` are not part
//! of the extension: -32601.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::header::{self, HeaderMap};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::backend::Backend;
use crate::base::ClientCaps;
use crate::http::Body;
use crate::jsonrpc::frame::{self, Frame, Span, json_string};
use crate::jsonrpc::methods::Method;
use crate::jsonrpc::sse::event_end;
use crate::mcp::ctx::Ctx;
use crate::mcp::era::bridge::Bridge;
use crate::mcp::era::tasks::inputs::{Inputs, Question};
use crate::mcp::era::tasks::session::{self, Held, Owner, invalid};
use crate::mcp::hop::caller::Caller;
use crate::mcp::hop::calls::{Taken, owner_key};
use crate::mcp::hop::exchange::{Exchange, Shape};
use crate::mcp::wire::rpc::MAX_COLLECTED;
use crate::mcp::wire::rpc::{RpcError, code, envelope, json_response};
use crate::mcp::wire::task_ids::{MAX_UPSTREAM_ID, TaskClaims};
use crate::routing::{TASKS_EXTENSION, TaskSupport};

/// How long `tasks/get` waits for a task's first question once it starts reading them.
const FIRST_QUESTION: Duration = Duration::from_secs(2);
const RELATED_TASK: &str = "io.modelcontextprotocol/related-task";

/// Whether a request declares the extension in its `_meta` client capabilities.
pub fn declared(body: &[u8], f: &Frame) -> bool {
    static EXTENSION: crate::jsonrpc::needle::Needle = crate::needle!(TASKS_EXTENSION.as_bytes());
    EXTENSION.in_(body)
        && f.meta
            .and_then(|s| frame::container_span(body, s.start))
            .and_then(|s| crate::jsonrpc::read::value(s.of(body)).ok())
            .is_some_and(|m| {
                m["io.modelcontextprotocol/clientCapabilities"]["extensions"][TASKS_EXTENSION]
                    .is_object()
            })
}

/// -32021 naming the extension (HTTP 400).
pub(crate) fn missing() -> RpcError {
    let mut e = RpcError::new(
        StatusCode::BAD_REQUEST,
        code::MISSING_CAPABILITY,
        format!("this needs the {TASKS_EXTENSION} extension, which the request did not declare"),
    );
    e.data = Some(json!({"requiredCapabilities": {"extensions": {TASKS_EXTENSION: {}}}}));
    e
}

/// Whether a backend runs tools as tasks (either era's way).
fn offers(backend: &Backend) -> bool {
    let lists = backend.lists();
    let caps = &lists.capabilities;
    caps["tasks"]["requests"]["tools"].get("call").is_some()
        || caps["extensions"][TASKS_EXTENSION].is_object()
}

/// How a stateless client's `tools/call` goes.
pub(crate) enum Plan {
    /// As any call.
    Plain,
    /// As a task.
    Task,
    /// As any call, without the 2025-11-25 `task` the client sent (its era has none: a
    /// session-era backend must not make it a task the client cannot follow).
    Without(Bytes),
}

/// Decides a stateless client's `tools/call` of a tool with `support`.
pub(crate) fn plan(
    body: &Bytes,
    f: &Frame,
    backend: &Backend,
    support: TaskSupport,
    bridge: Bridge,
) -> Result<Plan, RpcError> {
    let declared = declared(body, f);
    if bridge.backend_modern() {
        return Ok(if declared && offers(backend) {
            Plan::Task
        } else {
            Plan::Plain
        });
    }
    if support == TaskSupport::Required && !declared {
        return Err(missing());
    }
    if declared && support.allowed() && offers(backend) {
        return Ok(Plan::Task);
    }
    if session::asks_task(f) {
        let without = with_params(body, |p| {
            p.remove("task");
        })
        .ok_or_else(|| invalid("params must be an object"))?;
        return Ok(Plan::Without(without));
    }
    Ok(Plan::Plain)
}

/// The request with its `params` changed by `edit` (`None` when they are no object).
fn with_params(
    body: &[u8],
    edit: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> Option<Bytes> {
    let mut v: Value = crate::jsonrpc::read::value(body).ok()?;
    edit(v.get_mut("params")?.as_object_mut()?);
    serde_json::to_vec(&v).ok().map(Bytes::from)
}

/// A changed request's frame, and the name's new place for the rename.
pub(crate) fn reframe(
    body: &Bytes,
    rename: Option<(Span, Bytes)>,
) -> Result<(Frame, Option<(Span, Bytes)>), RpcError> {
    let f = frame::parse(body).map_err(|_| invalid("the request could not be read"))?;
    let rename = rename.and_then(|(_, name)| f.name.map(|s| (s, name)));
    Ok((f, rename))
}

/// Who the caller's new task at `backend` belongs to.
pub(crate) fn owner(ctx: &Ctx, body: &[u8], f: &Frame, backend: &Arc<Backend>) -> Owner {
    // The backend's session the call goes to (as forwarding picks it).
    let caps = ctx.client_caps.unwrap_or_else(|| {
        if backend.varies() {
            ClientCaps::of_frame(body, f)
        } else {
            ClientCaps::ALL
        }
    });
    Owner {
        state: ctx.state.clone(),
        backend: backend.clone(),
        caps,
        key: ctx.kid().to_string(),
        namespace: ctx.namespace.clone(),
        place: None,
        handoff: None,
    }
}

/// A stateless client's `tools/call` as a task: within the key's bound, with
/// `params.task` for a session-era backend, and its answer's task given a gateway id.
pub(crate) async fn call(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    backend: &Arc<Backend>,
    rename: Option<(Span, Bytes)>,
    bridge: Bridge,
) -> Result<Response<Body>, RpcError> {
    let place = session::reserve_task_place(ctx).await?;
    let mut owner = owner(ctx, body, f, backend);
    owner.place = Some(place);
    owner.handoff = session::handoff(ctx);
    let handoff = owner.handoff.clone();
    let resp = if bridge.backend_modern() {
        crate::mcp::era::bridge::forward(
            &ctx.state.era,
            &ctx.caller(),
            Exchange {
                body,
                f,
                backend,
                rename,
                bridge,
                shape: Shape::Streamed,
            },
        )
        .await
    } else {
        let asked = with_params(body, |p| {
            p.insert("task".into(), json!({}));
        })
        .ok_or_else(|| invalid("params must be an object"))?;
        let (af, rename) = reframe(&asked, rename)?;
        crate::mcp::era::bridge::forward(
            &ctx.state.era,
            &ctx.caller(),
            Exchange {
                body: &asked,
                f: &af,
                backend,
                rename,
                bridge,
                shape: Shape::Streamed,
            },
        )
        .await
    };
    Ok(session::handed(flatten(owner, resp), handoff))
}

/// The answer to a task call, with the task it created (either era's shape) made the
/// 2026-07-28 one under a gateway id and recorded; everything else as it comes.
pub(crate) fn flatten(owner: Owner, resp: Response<Body>) -> Response<Body> {
    let sse = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let (mut parts, mut body) = resp.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let mut buf = BytesMut::new();
        while let Some(Ok(piece)) = body.frame().await {
            let Ok(data) = piece.into_data() else {
                continue;
            };
            buf.extend_from_slice(&data);
            if !sse {
                if buf.len() > MAX_COLLECTED {
                    break;
                }
                continue;
            }
            while let Some(end) = event_end(&buf) {
                let event = buf.split_to(end).freeze();
                let event = match memchr::memmem::find(&event, b"taskId") {
                    Some(_) => task_event(&owner, &event).await.unwrap_or(event),
                    None => event,
                };
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        }
        let rest = buf.freeze();
        let rest = match sse {
            true => rest,
            false => task_message(&owner, &rest).await.map_or(rest, Bytes::from),
        };
        if !rest.is_empty() {
            let _ = tx.send(rest).await;
        }
    });
    Response::from_parts(parts, Body::Channel(rx))
}

/// An SSE event carrying a task call's answer, with the task made flat.
async fn task_event(owner: &Owner, event: &[u8]) -> Option<Bytes> {
    let data = crate::jsonrpc::sse::data_of(event).pop()?;
    let message = task_message(owner, &data).await?;
    let mut out = BytesMut::with_capacity(message.len() + 24);
    out.extend_from_slice(b"event: message\ndata: ");
    out.extend_from_slice(&message);
    out.extend_from_slice(b"\n\n");
    Some(out.freeze())
}

/// A response whose result is a task (`{"task":{…}}`, or flat with `resultType:
/// "task"`): the flat task under a gateway id, recorded. `None` for anything else.
async fn task_message(owner: &Owner, message: &[u8]) -> Option<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(message).ok()?;
    let result = &v["result"];
    let task = if result["task"]["taskId"].is_string() {
        result["task"].clone()
    } else if result["resultType"] == "task" && result["taskId"].is_string() {
        result.clone()
    } else {
        return None;
    };
    let upstream = task["taskId"].as_str()?;
    if upstream.len() > MAX_UPSTREAM_ID {
        let id = serde_json::to_vec(&v["id"]).ok()?;
        return Some(session::too_long(&owner.backend).body(&id).to_vec());
    }
    let life = session::life(task.get("ttlMs").unwrap_or(&task["ttl"]));
    let (gid, expires) = owner.seal(upstream, life);
    let mut out = extension_task(&task, &gid, "task");
    if let Some(meta) = result.get("_meta").filter(|m| m.is_object()) {
        out["_meta"] = meta.clone();
    }
    owner
        .record(gid, expires, extension_task(&task, "", "task"))
        .await;
    v["result"] = out;
    serde_json::to_vec(&v).ok()
}

/// A task in the extension's shape, from either era's: `taskId` the gateway's, `ttl`
/// and `pollInterval` as `ttlMs` and `pollIntervalMs` (whole milliseconds).
fn extension_task(task: &Value, gid: &str, result_type: &str) -> Value {
    let mut o = json!({"resultType": result_type, "taskId": gid, "status": task["status"]});
    for k in ["statusMessage", "createdAt", "lastUpdatedAt"] {
        if let Some(s) = task.get(k).filter(|s| s.is_string()) {
            o[k] = s.clone();
        }
    }
    o["ttlMs"] = task
        .get("ttlMs")
        .or(task.get("ttl"))
        .filter(|t| t.as_u64().is_some_and(|t| t > 0))
        .cloned()
        .unwrap_or(Value::Null);
    if let Some(p) = task
        .get("pollIntervalMs")
        .or(task.get("pollInterval"))
        .filter(|p| p.as_u64().is_some_and(|p| p > 0))
    {
        o["pollIntervalMs"] = p.clone();
    }
    o
}

/// `tasks/get`, `tasks/update` and `tasks/cancel` of a stateless client.
pub(crate) async fn serve(
    ctx: &Ctx,
    headers: &HeaderMap,
    body: &Bytes,
    f: &Frame,
) -> Result<Response<Body>, RpcError> {
    if !declared(body, f) {
        return Err(missing());
    }
    serve_held(ctx, headers, body, f).await
}

pub(crate) async fn serve_held(
    ctx: &Ctx,
    headers: &HeaderMap,
    body: &Bytes,
    f: &Frame,
) -> Result<Response<Body>, RpcError> {
    let method = f.method(body).unwrap_or_default();
    let params = session::params(body, f);
    let gid = params["taskId"]
        .as_str()
        .ok_or_else(|| invalid(format!("{method} needs params.taskId")))?;
    let (claims, backend) = match session::held(ctx, headers, body, gid).await? {
        Held::Here(claims, backend) => (claims, backend),
        Held::There(resp) => return Ok(resp),
    };
    if Bridge::stateless(&backend).backend_modern() {
        // The backend's own tasks: as they are, with the ids exchanged.
        return session::to_task_backend(ctx, body, &claims, gid, &backend).await;
    }
    let result = match f.kind {
        Some(Method::TasksGet) => get(ctx, &claims, &backend, gid).await?,
        Some(Method::TasksUpdate) => update(ctx, gid, &params).await?,
        _ => cancel(ctx, &claims, &backend, gid).await?,
    };
    if session::ended(&result["status"]) {
        ctx.state.era.tasks_running.end(gid);
    }
    let id = f.id.map_or(&b"null"[..], |s| s.of(body));
    Ok(json_response(
        StatusCode::OK,
        envelope(id, "result", result.to_string().as_bytes()),
    ))
}

/// One request about the task to its session-era backend: the result, or the error.
async fn ask(
    ctx: &Ctx,
    claims: &TaskClaims,
    backend: &Arc<Backend>,
    method: Method,
) -> Result<Value, Value> {
    let id = format!("mtg{}", crate::crypto::random_alphanumeric(12));
    let request = json!({"jsonrpc": "2.0", "id": id, "method": method.as_str(), "params": {"taskId": claims.t}});
    let request = Bytes::from(request.to_string());
    let broken = |why: &str| json!({"code": code::INTERNAL, "message": why});
    let f = frame::parse(&request).map_err(|_| broken("the request could not be made"))?;
    let caller = Caller {
        caps: Some(claims.c),
        stateless: false,
        expires: None,
        ..ctx.caller()
    };
    let bridge = Bridge::choose(caller.stateless, backend).await;
    let resp = crate::mcp::era::bridge::forward(
        &ctx.state.era,
        &caller,
        Exchange {
            body: &request,
            f: &f,
            backend,
            rename: None,
            bridge,
            shape: Shape::Whole,
        },
    )
    .await;
    let (_, answer) = session::read_answer(resp).await;
    let mut v: Value = serde_json::from_slice(&answer)
        .map_err(|_| broken("the backend's answer is unreadable"))?;
    if v["result"].is_object() {
        Ok(v["result"].take())
    } else if v["error"].is_object() {
        Err(v["error"].take())
    } else {
        Err(broken(
            "the backend's answer is neither a result nor an error",
        ))
    }
}

/// A backend's error about a task, for the client: a task its backend does not know
/// (any more) is unknown.
fn upstream_error(e: Value) -> RpcError {
    match e["code"].as_i64() {
        Some(code::INVALID_PARAMS) => session::unknown(),
        c => RpcError::method(
            c.unwrap_or(code::INTERNAL),
            e["message"].as_str().unwrap_or("the backend refused"),
        ),
    }
}

/// `tasks/get`: the task as its backend has it, its end inlined, or its questions.
async fn get(
    ctx: &Ctx,
    claims: &TaskClaims,
    backend: &Arc<Backend>,
    gid: &str,
) -> Result<Value, RpcError> {
    let task = ask(ctx, claims, backend, Method::TasksGet)
        .await
        .map_err(upstream_error)?;
    let mut out = extension_task(&task, gid, "complete");
    let status = task["status"].as_str().unwrap_or_default();
    match status {
        "completed" | "failed" => match ask(ctx, claims, backend, Method::TasksResult).await {
            // A tool that reported an error ran: completed, with its result.
            Ok(r) if status == "completed" || r.get("content").is_some() => {
                out["status"] = Value::from("completed");
                out["result"] = inlined(r);
            }
            Ok(_) => {
                let why = task["statusMessage"].as_str().unwrap_or("the task failed");
                out["error"] = json!({"code": code::INTERNAL, "message": why});
            }
            Err(e) => {
                out["status"] = Value::from("failed");
                out["error"] = e;
            }
        },
        "cancelled" => {}
        _ => {
            let inputs = match ctx.state.era.task_inputs.get(gid) {
                Some(i) => Some(i),
                None if status == "input_required" => drive(ctx, claims, backend, gid).await,
                None => None,
            };
            let pending = inputs.map(|i| i.pending()).unwrap_or_default();
            if !pending.is_empty() {
                // Answered in part, its backend says `working`: questions still wait.
                out["status"] = Value::from("input_required");
                let mut asks = serde_json::Map::new();
                for q in pending {
                    asks.insert(q.key, json!({"method": q.method, "params": q.params}));
                }
                out["inputRequests"] = Value::Object(asks);
            } else if status == "input_required" {
                // Its questions have not reached the gateway yet.
                out["status"] = Value::from("working");
            }
        }
    }
    Ok(out)
}

/// A task's result as `tasks/get` inlines it: without the 2025-11-25 `related-task`
/// `_meta` (the task's id is the answer's own).
fn inlined(mut r: Value) -> Value {
    if let Some(meta) = r.get_mut("_meta").and_then(Value::as_object_mut) {
        meta.remove(RELATED_TASK);
        if meta.is_empty()
            && let Some(o) = r.as_object_mut()
        {
            o.remove("_meta");
        }
    }
    r
}

/// Starts reading a task's questions (a `tasks/result` held open), unless that is
/// done already; waits a little for the first. `None` over the bounds.
async fn drive(
    ctx: &Ctx,
    claims: &TaskClaims,
    backend: &Arc<Backend>,
    gid: &str,
) -> Option<Arc<Inputs>> {
    let inputs = match ctx
        .state
        .era
        .task_inputs
        .open(gid, ctx.conversation.clone(), ctx.kid())?
    {
        Ok(new) => new,
        Err(held) => return Some(held),
    };
    let reader = Reader {
        state: ctx.state.clone(),
        key: ctx.principal.as_ref().map(|p| p.key_id),
        namespace: ctx.namespace.clone(),
        claims: claims.clone(),
        backend: backend.clone(),
        gid: gid.to_string(),
        inputs: inputs.clone(),
    };
    tokio::spawn(reader.run());
    inputs.asked(FIRST_QUESTION).await;
    Some(inputs)
}

/// What reads one task's questions off its `tasks/result`.
struct Reader {
    state: Arc<crate::mcp::planes::Planes>,
    key: Option<crate::base::KeyId>,
    namespace: Option<String>,
    claims: TaskClaims,
    backend: Arc<Backend>,
    gid: String,
    inputs: Arc<Inputs>,
}

impl Reader {
    async fn run(self) {
        let state = &self.state;
        let conversation = self.inputs.conversation.clone();
        let id = format!("mtr{}", crate::crypto::random_alphanumeric(12));
        let request = json!({"jsonrpc": "2.0", "id": id, "method": Method::TasksResult.as_str(), "params": {"taskId": self.claims.t}});
        let request = Bytes::from(request.to_string());
        if let Ok(f) = frame::parse(&request) {
            let caller = Caller {
                conversation: &conversation,
                stateless: false,
                inflight: &state.data.inflight,
                server_requests: &state.data.server_requests,
                expires: None,
                caps: Some(self.claims.c),
                metrics: &state.observe.metrics,
                key: self.key,
                subject: None,
                inbound: None,
                namespace: self.namespace.as_deref(),
                audit: &state.observe.audit,
                trace: None,
                log_levels: &state.data.log_levels,
                timeout: Some(state.config.tasks.wait),
                run: None,
                charge: None,
                trial: None,
                kept: None,
            };
            let bridge = Bridge::choose(caller.stateless, &self.backend).await;
            let resp = crate::mcp::era::bridge::forward(
                &state.era,
                &caller,
                Exchange {
                    body: &request,
                    f: &f,
                    backend: &self.backend,
                    rename: None,
                    bridge,
                    shape: Shape::Streamed,
                },
            )
            .await;
            self.read(resp.into_body()).await;
        }
        self.inputs.end();
        state.era.task_inputs.close(&self.gid, &self.inputs);
    }

    /// Takes the questions off the answer stream until its response comes.
    async fn read(&self, mut body: Body) {
        let mut buf = BytesMut::new();
        while let Some(Ok(piece)) = body.frame().await {
            let Ok(data) = piece.into_data() else {
                continue;
            };
            buf.extend_from_slice(&data);
            while let Some(end) = event_end(&buf) {
                let event = buf.split_to(end);
                for message in crate::jsonrpc::sse::data_of(&event) {
                    let Ok(v) = serde_json::from_slice::<Value>(&message) else {
                        continue;
                    };
                    if v.get("result").is_some() || v.get("error").is_some() {
                        return;
                    }
                    self.question(v).await;
                }
            }
            if buf.len() > MAX_COLLECTED {
                return;
            }
        }
    }

    /// Keeps a backend's question for the client (the task's id in it the client's).
    async fn question(&self, mut v: Value) {
        let (Some(method), Some(key)) = (v["method"].as_str(), v["id"].as_str()) else {
            return;
        };
        if !Method::parse(method).is_some_and(Method::asks_client) {
            return;
        }
        let (method, key) = (method.to_string(), key.to_string());
        let mut params = v["params"].take();
        if params["_meta"][RELATED_TASK]["taskId"] == self.claims.t.as_str() {
            params["_meta"][RELATED_TASK]["taskId"] = Value::from(self.gid.as_str());
        }
        if params["mode"] == "url"
            && let Some(p) = params.as_object_mut()
        {
            // The 2026-07-28 revision has no elicitation ids.
            p.remove("elicitationId");
        }
        let kept = self.inputs.ask(Question {
            key: key.clone(),
            method,
            params,
        });
        if !kept {
            let why = "too many questions waiting for the client in one task";
            reply(&self.state, &self.inputs.conversation, &key, Err(why)).await;
        }
    }
}

/// Answers the backend's question `key` (the client's answer, or a refusal).
async fn reply(
    state: &crate::mcp::planes::Planes,
    conversation: &Arc<str>,
    key: &str,
    answer: Result<&Value, &str>,
) {
    let id = json_string(key);
    let Some(Taken::Backend(backend, original, via)) =
        state.data.server_requests.take(conversation, &id)
    else {
        return;
    };
    let message = match answer {
        Ok(result) => {
            let mut m = BytesMut::new();
            m.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
            m.extend_from_slice(&original);
            m.extend_from_slice(b",\"result\":");
            m.extend_from_slice(result.to_string().as_bytes());
            m.extend_from_slice(b"}");
            m.freeze()
        }
        Err(why) => crate::backend::mux::error_answer_with(&original, code::INTERNAL, why),
    };
    backend.notify(owner_key(conversation), via, message).await;
}

/// `tasks/update`: the answers to questions that wait go to the backend; answers to
/// anything else are ignored. An empty acknowledgement.
async fn update(ctx: &Ctx, gid: &str, params: &Value) -> Result<Value, RpcError> {
    let responses = params["inputResponses"]
        .as_object()
        .ok_or_else(|| invalid("tasks/update needs params.inputResponses, an object"))?;
    if let Some(inputs) = ctx.state.era.task_inputs.get(gid) {
        if let Some((k, _)) = responses
            .iter()
            .find(|(k, v)| inputs.waits(k) && !v.is_object())
        {
            return Err(invalid(format!("inputResponses.{k} must be an object")));
        }
        for (k, v) in responses {
            if inputs.take(k).is_some() {
                reply(&ctx.state, &inputs.conversation, k, Ok(v)).await;
            }
        }
    }
    Ok(json!({"resultType": "complete"}))
}

/// `tasks/cancel`: cancelled at the backend; acknowledged alike for a task that had
/// ended already (the backend's -32602). Its questions are dropped.
async fn cancel(
    ctx: &Ctx,
    claims: &TaskClaims,
    backend: &Arc<Backend>,
    gid: &str,
) -> Result<Value, RpcError> {
    match ask(ctx, claims, backend, Method::TasksCancel).await {
        Ok(_) => {}
        Err(e) if e["code"].as_i64() == Some(code::INVALID_PARAMS) => {}
        Err(e) => return Err(upstream_error(e)),
    }
    if let Some(inputs) = ctx.state.era.task_inputs.get(gid) {
        // Its questions will not be answered: forgotten, not refused (a refusal would
        // reach work the backend has stopped, and some backends fail on that).
        let asked: Vec<Bytes> = inputs
            .pending()
            .into_iter()
            .filter_map(|q| inputs.take(&q.key))
            .map(|q| Bytes::from(json_string(&q.key)))
            .collect();
        ctx.state.data.server_requests.forget(&asked);
    }
    Ok(json!({"resultType": "complete"}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_of_either_era_is_made_flat() {
        let v1 = json!({"taskId": "up", "status": "working", "statusMessage": "on it",
            "createdAt": "2026-11-24T08:44:50Z", "lastUpdatedAt": "2026-11-24T08:44:51Z",
            "ttl": 60000, "pollInterval": 500});
        assert_eq!(
            extension_task(&v1, "g", "task"),
            json!({"resultType": "task", "taskId": "g", "status": "working",
                "statusMessage": "on it", "createdAt": "2026-11-24T08:44:50Z",
                "lastUpdatedAt": "2026-11-24T08:44:51Z", "ttlMs": 60000, "pollIntervalMs": 500})
        );
        let v2 = json!({"resultType": "task", "taskId": "up", "status": "completed",
            "ttlMs": null, "pollIntervalMs": 0.5, "requestState": "x"});
        assert_eq!(
            extension_task(&v2, "g", "complete"),
            json!({"resultType": "complete", "taskId": "g", "status": "completed", "ttlMs": null})
        );
    }

    #[test]
    fn an_inlined_result_loses_only_the_related_task() {
        let r = json!({"content": [], "_meta": {RELATED_TASK: {"taskId": "up"}}});
        assert_eq!(inlined(r), json!({"content": []}));
        let r = json!({"content": [], "_meta": {RELATED_TASK: {"taskId": "up"}, "k": 1}});
        assert_eq!(inlined(r), json!({"content": [], "_meta": {"k": 1}}));
    }

    #[test]
    fn only_a_declaring_request_has_the_extension() {
        let declares = |body: &str| {
            let f = frame::parse(body.as_bytes()).unwrap();
            declared(body.as_bytes(), &f)
        };
        assert!(declares(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"io.modelcontextprotocol/clientCapabilities":{"extensions":{"io.modelcontextprotocol/tasks":{}}}}}}"#
        ));
        assert!(!declares(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"io.modelcontextprotocol/tasks","_meta":{"io.modelcontextprotocol/clientCapabilities":{}}}}"#
        ));
        assert!(!declares(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"io.modelcontextprotocol/clientCapabilities":{"extensions":{"io.modelcontextprotocol/tasks":true}}}}}"#
        ));
    }
}
