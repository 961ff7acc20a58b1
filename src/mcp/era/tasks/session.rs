//! Tasks (MCP 2025-11-25) through the gateway, for session clients.
//!
//! A `tools/call` with `params.task` goes to the tool's backend like any call; the
//! `CreateTaskResult` it answers comes back with the task's id replaced by a gateway task
//! id ([`crate::mcp::wire::task_ids`]): sealed, naming the backend, the session of it that
//! holds the task and the replica talking to that session, and bound to the caller.
//! `tasks/get`, `tasks/result` and `tasks/cancel` open that id and go to the owner with
//! the backend's own id (from any replica: another one passes the request to the
//! replica named, as it does a multi-round-trip retry); every mention of the backend's
//! id in the answer (the task's id, the `related-task` `_meta`) becomes the client's.
//! `tasks/result` waits up to `METAMCP_TASK_WAIT`, not the backend's `timeout_ms`.
//! `tasks/list` lists the caller's tasks, recorded in PostgreSQL (`tasks`), each read
//! afresh from its owner. A key holds at most `METAMCP_KEY_MAX_TASKS` tasks.
//! A task's status notifications reach the session's stream ([`crate::backend::Notice`]).

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::header::HeaderMap;
use hyper::{Response, StatusCode};
use serde_json::Value;

use crate::backend::Backend;
use crate::base::ClientCaps;
use crate::base::unix_now_ms;
use crate::http::Body;
use crate::jsonrpc::frame::{self, Frame, Span, json_string};
use crate::jsonrpc::methods::Method;
use crate::mcp::ctx::Ctx;
use crate::mcp::era::bridge::Bridge;
use crate::mcp::era::tasks::places::Handoff;
use crate::mcp::hop::exchange::{Exchange, Shape};
use crate::mcp::wire::rpc::{RpcError, code, envelope, json_response};
use crate::mcp::wire::task_ids::{self, MAX_UPSTREAM_ID, TaskClaims};

/// The longest a task is known for when its backend gives it no time to live (or a
/// longer one).
pub const MAX_TASK_LIFE: Duration = Duration::from_secs(24 * 3600);
/// Tasks per `tasks/list` page.
pub const LIST_PAGE: usize = 50;
/// How long `tasks/list` waits for one task's owner before showing it as last seen.
const LIST_FETCH: Duration = Duration::from_secs(5);

pub(crate) fn invalid(message: impl Into<String>) -> RpcError {
    RpcError::method(code::INVALID_PARAMS, message)
}

pub(crate) fn unknown() -> RpcError {
    invalid("unknown task")
}

/// The request's `params` as JSON (`{}` when it has none).
pub(crate) fn params(body: &[u8], f: &Frame) -> Value {
    f.params
        .and_then(|p| frame::container_span(body, p.start))
        .and_then(|p| crate::jsonrpc::read::value(p.of(body)).ok())
        .unwrap_or(Value::Null)
}

/// Whether a `tools/call` asks for a task (`params.task`, an object).
/// Asked of every session-era `tools/call`: read off the frame, found when it was parsed.
pub fn asks_task(f: &Frame) -> bool {
    f.task.is_some()
}

/// The whole body of an answer, up to the collected-answer bound (nothing past it).
pub(crate) async fn read_answer(resp: Response<Body>) -> (hyper::http::response::Parts, Bytes) {
    let (parts, body) = resp.into_parts();
    let limited = http_body_util::Limited::new(body, crate::mcp::wire::rpc::MAX_COLLECTED);
    let bytes = match limited.collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => Bytes::new(),
    };
    (parts, bytes)
}

/// Reserves a place for a new task under the caller's key's bound
/// (`METAMCP_KEY_MAX_TASKS`) before the backend starts anything: refused when the
/// tasks it holds and those being created fill it.
pub(crate) async fn reserve_task_place(
    ctx: &Ctx,
) -> Result<crate::mcp::era::tasks::places::Place, RpcError> {
    let bound = ctx.state.config.tasks.per_key;
    let key = ctx.kid().to_string();
    let (place, ahead) = ctx.state.era.tasks_creating.reserve(key);
    let live = crate::store::tasks::live(&ctx.state.db.pool, ctx.kid())
        .await
        .map_err(|e| RpcError::method(code::INTERNAL, format!("tasks unavailable: {e}")))?;
    if live + ahead as u64 > bound as u64 {
        return Err(RpcError::limited(
            format!(
                "this key holds {live} tasks and creates {} more, the most it may \
                 (METAMCP_KEY_MAX_TASKS): wait for some to end",
                ahead - 1
            ),
            "tasks",
            1000,
            Some(bound as u64),
        ));
    }
    Ok(place)
}

/// Who a new task belongs to, and where it runs: what its gateway id is sealed with.
pub(crate) struct Owner {
    pub state: Arc<crate::mcp::planes::Planes>,
    pub backend: Arc<Backend>,
    /// The client capabilities of the backend's session that holds the task.
    pub caps: u8,
    pub key: String,
    pub namespace: Option<String>,
    /// The place the task holds under the key's bound until its row is written.
    pub place: Option<crate::mcp::era::tasks::places::Place>,
    /// Where the call's place in flight goes once the task is made (a key with
    /// `max_concurrent`).
    pub handoff: Option<Arc<Handoff>>,
}

impl Owner {
    /// A task the backend created as `upstream`, living `life`: its gateway id, and the
    /// unix seconds the gateway's record of it expires at.
    pub fn seal(&self, upstream: &str, life: Duration) -> (String, u64) {
        let parked = &self.state.era.parked;
        let claims = TaskClaims {
            b: self.backend.id,
            t: upstream.to_string(),
            c: self.caps,
            p: self.key.clone(),
            n: self.namespace.clone(),
            r: parked.replica.clone(),
            u: parked.replica_url().map(str::to_string),
            e: unix_now_ms() + life.as_millis() as u64 + 60_000,
        };
        let gid = task_ids::seal(&self.state.cipher, &claims);
        if let Some(handoff) = &self.handoff {
            handoff.made(&gid, life);
        }
        (gid, claims.e / 1000)
    }

    /// Records a task the caller was given (for `tasks/list` and the key's bound).
    pub async fn record(&self, id: String, expires: u64, task: Value) {
        let row = crate::store::tasks::Row {
            id,
            key_id: self.key.clone(),
            namespace: self.namespace.clone(),
            expires,
            task,
        };
        if let Err(e) = crate::store::tasks::insert(&self.state.db.pool, &row).await {
            // The task is the client's still: only tasks/list and the bound miss it.
            tracing::warn!(error = %e, "a task could not be recorded");
        }
    }
}

/// How long a task lives by its backend's `ttl` (milliseconds, or none), at most
/// [`MAX_TASK_LIFE`].
pub(crate) fn life(ttl: &Value) -> Duration {
    ttl.as_u64()
        .map_or(MAX_TASK_LIFE, Duration::from_millis)
        .min(MAX_TASK_LIFE)
}

/// A task-augmented `tools/call` of a session client: forwarded, and the task it
/// created given a gateway id (and recorded) before the answer goes back.
pub(crate) async fn call(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    backend: &Arc<Backend>,
    rename: Option<(Span, Bytes)>,
    bridge: Bridge,
) -> Result<Response<Body>, RpcError> {
    let place = reserve_task_place(ctx).await?;
    let caller = ctx.caller();
    let resp = crate::mcp::era::bridge::forward(
        &ctx.state.era,
        &caller,
        Exchange {
            body,
            f,
            backend,
            rename,
            bridge,
            shape: Shape::Whole,
        },
    )
    .await;
    let (parts, answer) = read_answer(resp).await;
    let passed = |answer: Bytes| Ok(Response::from_parts(parts, Body::full(answer)));
    let Ok(mut v) = serde_json::from_slice::<Value>(&answer) else {
        return passed(answer);
    };
    let Some(upstream) = v["result"]["task"]["taskId"].as_str().map(str::to_string) else {
        // An error, or a backend that ran the call at once: as it came.
        return passed(answer);
    };
    let id = f.id.map_or(&b"null"[..], |s| s.of(body));
    if upstream.len() > MAX_UPSTREAM_ID {
        return Ok(too_long(backend).response(id));
    }
    let life = life(&v["result"]["task"]["ttl"]);
    let owner = Owner {
        state: ctx.state.clone(),
        backend: backend.clone(),
        caps: ctx.client_caps.unwrap_or(ClientCaps::ALL),
        key: ctx.kid().to_string(),
        namespace: ctx.namespace.clone(),
        place: Some(place),
        handoff: handoff(ctx),
    };
    let (gid, expires) = owner.seal(&upstream, life);
    v["result"]["task"]["taskId"] = Value::from(gid.as_str());
    backend.correlations.task(
        &upstream,
        ctx.conversation.clone(),
        Arc::from(gid.as_str()),
        life,
    );
    owner
        .record(gid, expires, v["result"]["task"].clone())
        .await;
    let resp = json_response(
        StatusCode::OK,
        Bytes::from(serde_json::to_vec(&v).unwrap_or_default()),
    );
    Ok(handed(resp, owner.handoff))
}

/// The handoff of a task call's place in flight to its task, for a key that has a
/// `max_concurrent` (none for any other caller: it holds no place).
pub(crate) fn handoff(ctx: &Ctx) -> Option<Arc<Handoff>> {
    let p = ctx.principal.as_ref()?;
    let limits = ctx.state.auth.limits.effective(&p.limits);
    limits.max_concurrent?;
    Some(Handoff::new(ctx.state.era.tasks_running.clone(), p.key_id))
}

/// A task call's answer, carrying its handoff for the pipeline's phase 1 to give the
/// call's place to ([`crate::mcp::admission::hold`]).
pub(crate) fn handed(mut resp: Response<Body>, handoff: Option<Arc<Handoff>>) -> Response<Body> {
    if let Some(h) = handoff {
        resp.extensions_mut().insert(h);
    }
    resp
}

/// A backend's task id too long to seal.
pub(crate) fn too_long(backend: &Backend) -> RpcError {
    RpcError::method(
        code::INTERNAL,
        format!(
            "server `{}`: a task id longer than {MAX_UPSTREAM_ID} bytes",
            backend.name
        ),
    )
}

/// `tasks/get`, `tasks/result`, `tasks/cancel` and `tasks/list` of a session client.
pub(crate) async fn serve(
    ctx: &Ctx,
    headers: &HeaderMap,
    body: &Bytes,
    f: &Frame,
) -> Result<Response<Body>, RpcError> {
    if f.is(Method::TasksList) {
        list(ctx, headers, body, f).await
    } else {
        serve_held(ctx, headers, body, f).await
    }
}

/// Where a task named by its gateway id is.
pub(crate) enum Held {
    /// Here: its claims and its backend.
    Here(TaskClaims, Arc<Backend>),
    /// At another replica, which answered the request passed to it.
    There(Response<Body>),
}

/// Opens the caller's task id `gid` and finds its backend here, or passes the request
/// to the replica holding it. Any id that is not the caller's, or whose backend is not
/// in the caller's view, is unknown alike.
pub(crate) async fn held(
    ctx: &Ctx,
    headers: &HeaderMap,
    body: &Bytes,
    gid: &str,
) -> Result<Held, RpcError> {
    let claims = task_ids::open(
        &ctx.state.cipher,
        gid,
        ctx.kid(),
        ctx.namespace.as_deref(),
        unix_now_ms(),
    )
    .map_err(|_| unknown())?;
    let parked = &ctx.state.era.parked;
    if claims.r != parked.replica {
        return match claims.u.as_deref() {
            Some(url) if !headers.contains_key(crate::mcp::era::relay::RELAYED) => Ok(Held::There(
                crate::mcp::era::relay::relay(ctx, url, headers, body).await,
            )),
            _ => Err(RpcError::method(
                code::INTERNAL,
                "this task is held by another replica, which this one cannot reach (set METAMCP_REPLICA_URL on every replica)",
            )),
        };
    }
    let backend = ctx
        .state
        .data
        .backends
        .get(&claims.b)
        .filter(|b| ctx.view.members.contains(&b.id))
        .ok_or_else(unknown)?;
    Ok(Held::Here(claims, backend))
}

/// One task's request, at the replica holding it.
pub(crate) async fn serve_held(
    ctx: &Ctx,
    headers: &HeaderMap,
    body: &Bytes,
    f: &Frame,
) -> Result<Response<Body>, RpcError> {
    let method = f.method(body).unwrap_or_default();
    let gid = params(body, f)["taskId"]
        .as_str()
        .ok_or_else(|| invalid(format!("{method} needs params.taskId")))?
        .to_string();
    match held(ctx, headers, body, &gid).await? {
        Held::Here(claims, backend) => to_task_backend(ctx, body, &claims, &gid, &backend).await,
        Held::There(resp) => Ok(resp),
    }
}

/// A request about a task, to its backend with the backend's own id, and the answer
/// with every mention of that id the client's.
pub(crate) async fn to_task_backend(
    ctx: &Ctx,
    body: &Bytes,
    claims: &TaskClaims,
    gid: &str,
    backend: &Arc<Backend>,
) -> Result<Response<Body>, RpcError> {
    let mut v: Value =
        crate::jsonrpc::read::value(body).map_err(|_| invalid("the request could not be read"))?;
    v["params"]["taskId"] = Value::from(claims.t.as_str());
    let upstream = Bytes::from(serde_json::to_vec(&v).unwrap_or_default());
    let uf = frame::parse(&upstream).map_err(|_| invalid("the request could not be read"))?;
    let caller = crate::mcp::hop::caller::Caller {
        caps: Some(claims.c),
        timeout: uf
            .is(Method::TasksResult)
            .then_some(ctx.state.config.tasks.wait),
        ..ctx.caller()
    };
    // A request of its own, not a routed call: its bridge is chosen here.
    let bridge = Bridge::choose(caller.stateless, backend).await;
    let resp = crate::mcp::era::bridge::forward(
        &ctx.state.era,
        &caller,
        Exchange {
            body: &upstream,
            f: &uf,
            backend,
            rename: None,
            bridge,
            shape: Shape::Streamed,
        },
    )
    .await;
    let from = json_string(&claims.t);
    let to = Bytes::from(json_string(gid));
    let resp = resp.map(|b| Body::Stream(Box::pin(Replace::new(b, from, to))));
    if !(uf.is(Method::TasksGet) || uf.is(Method::TasksCancel)) {
        return Ok(resp);
    }
    // A task's status, small: read whole, for a task seen to end to give back its place.
    let (parts, answer) = read_answer(resp).await;
    if said(&answer).ended() {
        ctx.state.era.tasks_running.end(gid);
    }
    Ok(Response::from_parts(parts, Body::full(answer)))
}

/// The caller's tasks, a page at a time, each as its owner says it is now (as last
/// seen when its owner cannot say); tasks their owners no longer know are forgotten.
async fn list(
    ctx: &Ctx,
    headers: &HeaderMap,
    body: &Bytes,
    f: &Frame,
) -> Result<Response<Body>, RpcError> {
    let id = f.id.map_or(&b"null"[..], |s| s.of(body));
    let after = match &params(body, f)["cursor"] {
        Value::Null => 0,
        Value::String(c) => c
            .strip_prefix('t')
            .and_then(|n| n.parse::<i64>().ok())
            .ok_or_else(|| invalid("unknown cursor"))?,
        _ => return Err(invalid("params.cursor must be a string")),
    };
    let pool = &ctx.state.db.pool;
    let (rows, next) =
        crate::store::tasks::page(pool, ctx.kid(), ctx.namespace.as_deref(), after, LIST_PAGE)
            .await
            .map_err(|e| RpcError::method(code::INTERNAL, format!("tasks unavailable: {e}")))?;
    let fetched = futures_util::future::join_all(
        rows.iter()
            .map(|r| tokio::time::timeout(LIST_FETCH, fetch(ctx, headers, &r.id))),
    )
    .await;
    let mut tasks = Vec::with_capacity(rows.len());
    for (row, got) in rows.into_iter().zip(fetched) {
        match got {
            Ok(Fetched::Now(task)) => {
                if task != row.task {
                    let _ = crate::store::tasks::update(pool, &row.id, &task).await;
                }
                tasks.push(task);
            }
            Ok(Fetched::Gone) => {
                let _ = crate::store::tasks::remove(pool, &row.id).await;
            }
            Ok(Fetched::Unknown) | Err(_) => tasks.push(row.task),
        }
    }
    let mut result = serde_json::json!({ "tasks": tasks });
    if let Some(n) = next {
        result["nextCursor"] = Value::from(format!("t{n}"));
    }
    Ok(json_response(
        StatusCode::OK,
        envelope(id, "result", result.to_string().as_bytes()),
    ))
}

/// What a task's owner says of it.
pub(crate) enum Fetched {
    /// The task as its owner says it is now.
    Now(Value),
    /// Its owner does not know it (any more).
    Gone,
    /// Its owner could not be asked.
    Unknown,
}

/// One of the caller's tasks, read from its owner (here or at its replica). A task seen
/// to have ended gives back the place it held ([`crate::mcp::era::tasks::places::Running`]).
async fn fetch(ctx: &Ctx, headers: &HeaderMap, gid: &str) -> Fetched {
    let request = serde_json::json!({
        "jsonrpc": "2.0", "id": 0, "method": Method::TasksGet.as_str(), "params": {"taskId": gid},
    });
    let request = Bytes::from(request.to_string());
    let Ok(f) = frame::parse(&request) else {
        return Fetched::Unknown;
    };
    let fetched = fetched(Box::pin(serve_held(ctx, headers, &request, &f)).await).await;
    if fetched.ended() {
        ctx.state.era.tasks_running.end(gid);
    }
    fetched
}

impl Fetched {
    /// Whether the task has ended (or its owner no longer knows it).
    pub(crate) fn ended(&self) -> bool {
        match self {
            Fetched::Now(task) => ended(&task["status"]),
            Fetched::Gone => true,
            Fetched::Unknown => false,
        }
    }
}

/// Whether a task's `status` is one it ends in.
pub(crate) fn ended(status: &Value) -> bool {
    matches!(status.as_str(), Some("completed" | "failed" | "cancelled"))
}

/// A `tasks/get` answer (of either era's path) as what it says of the task.
pub(crate) async fn fetched(resp: Result<Response<Body>, RpcError>) -> Fetched {
    let resp = match resp {
        Ok(r) => r,
        Err(e) if e.code == code::INVALID_PARAMS => return Fetched::Gone,
        Err(_) => return Fetched::Unknown,
    };
    let (_, answer) = read_answer(resp).await;
    said(&answer)
}

/// What a `tasks/get` answer's bytes (a JSON body, or an SSE stream whose last message
/// is the response) say of the task.
fn said(answer: &[u8]) -> Fetched {
    let message = if answer.starts_with(b"{") {
        answer.to_vec()
    } else {
        // An SSE answer: its last message is the response.
        match crate::jsonrpc::sse::data_of(answer).pop() {
            Some(m) => m,
            None => return Fetched::Unknown,
        }
    };
    // The one reader: an answer read two ways (duplicate members, …) says nothing.
    let Ok(v) = crate::jsonrpc::read::value(&message) else {
        return Fetched::Unknown;
    };
    match (&v["result"], v["error"]["code"].as_i64()) {
        (r, _) if r.is_object() => Fetched::Now(r.clone()),
        (_, Some(code::INVALID_PARAMS)) => Fetched::Gone,
        _ => Fetched::Unknown,
    }
}

/// An answer with every occurrence of one byte string replaced by another, as it
/// streams (a piece shorter than the string is held back until the next comes).
pub struct Replace {
    inner: Body,
    from: Vec<u8>,
    to: Bytes,
    carry: BytesMut,
    ended: bool,
}

impl Replace {
    pub fn new(inner: Body, from: Vec<u8>, to: Bytes) -> Replace {
        Replace {
            inner,
            from,
            to,
            carry: BytesMut::new(),
            ended: false,
        }
    }

    /// What can go out now: everything but a tail that may begin an occurrence (all of
    /// it at the end).
    fn ready(&mut self, all: bool) -> Bytes {
        let mut out = BytesMut::with_capacity(self.carry.len() + self.to.len());
        let mut i = 0;
        while let Some(at) = memchr::memmem::find(&self.carry[i..], &self.from) {
            out.extend_from_slice(&self.carry[i..i + at]);
            out.extend_from_slice(&self.to);
            i += at + self.from.len();
        }
        // Held back: the longest tail that begins an occurrence (so a message whose
        // end is here goes out whole, whatever comes after it).
        let rest = &self.carry[i..];
        let keep = if all {
            0
        } else {
            (1..self.from.len().min(rest.len() + 1))
                .rev()
                .find(|&k| rest.ends_with(&self.from[..k]))
                .unwrap_or(0)
        };
        out.extend_from_slice(&self.carry[i..self.carry.len() - keep]);
        let _ = self.carry.split_to(self.carry.len() - keep);
        out.freeze()
    }
}

impl hyper::body::Body for Replace {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        loop {
            if self.ended {
                return Poll::Ready(None);
            }
            match std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        self.carry.extend_from_slice(&data);
                        let out = self.ready(false);
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(hyper::body::Frame::data(out))));
                        }
                    }
                    Err(other) => return Poll::Ready(Some(Ok(other))),
                },
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => {
                    self.ended = true;
                    let out = self.ready(true);
                    if out.is_empty() {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Ok(hyper::body::Frame::data(out))));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_seen_to_end_only_by_a_status_it_ends_in_or_its_owner_forgetting_it() {
        let ended = |answer: &str| said(answer.as_bytes()).ended();
        for status in ["completed", "failed", "cancelled"] {
            let json = format!(r#"{{"jsonrpc":"2.0","id":0,"result":{{"status":"{status}"}}}}"#);
            assert!(ended(&json), "{json}");
            // An SSE answer: notifications first, the response last.
            let sse = format!(
                "event: message\ndata: {{\"method\":\"notifications/message\"}}\n\n\
                 event: message\ndata: {json}\n\n"
            );
            assert!(ended(&sse), "{sse}");
        }
        assert!(ended(
            r#"{"jsonrpc":"2.0","id":0,"error":{"code":-32602,"message":"unknown task"}}"#
        ));
        for running in [
            r#"{"jsonrpc":"2.0","id":0,"result":{"status":"working"}}"#,
            r#"{"jsonrpc":"2.0","id":0,"result":{"status":"input_required"}}"#,
            r#"{"jsonrpc":"2.0","id":0,"result":{"status":["completed"]}}"#,
            r#"{"jsonrpc":"2.0","id":0,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":0,"result":"completed"}"#,
            r#"{"jsonrpc":"2.0","id":0,"error":{"code":-32603,"message":"busy"}}"#,
            r#"{"jsonrpc":"2.0","id":0,"error":{"code":"-32602"}}"#,
            r#"{"jsonrpc":"2.0","id":0,"result":{"status":"working","status":"completed"}}"#,
            "event: message\ndata: {\"method\":\"notifications/message\"}\n\n",
            "",
            "{",
            "data: {\"result\":{\"status\":\"completed\"}",
        ] {
            assert!(!ended(running), "{running}");
        }
    }

    #[test]
    fn hostile_answers_never_end_a_task_they_do_not_say_ended() {
        // Answers of every kind, cut, bytes changed or pieces put in anywhere: read
        // without a panic, and an end only where the bytes still name a status a task
        // ends in or the unknown-task error.
        let bases: [&[u8]; 6] = [
            br#"{"jsonrpc":"2.0","id":0,"result":{"status":"completed"}}"#,
            br#"{"jsonrpc":"2.0","id":0,"result":{"status":"working"}}"#,
            br#"{"jsonrpc":"2.0","id":0,"error":{"code":-32602,"message":"unknown task"}}"#,
            b"event: message\ndata: {\"result\":{\"status\":\"cancelled\"}}\n\n",
            b"data: {\"method\":\"x\"}\n\ndata: {\"result\":{\"status\":\"input_required\"}}\n\n",
            br#"{"jsonrpc":"2.0","id":0,"result":{"status":"failed","statusMessage":"no"}}"#,
        ];
        let pieces: [&[u8]; 7] = [
            b"{",
            b"}",
            b"\"",
            b"\n\n",
            b"\xff\xfe",
            b"data: ",
            br#""status":"completed","#,
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut ends = 0;
        for _ in 0..20_000 {
            let mut bytes = bases[next(bases.len())].to_vec();
            let at = next(bytes.len() + 1);
            match next(4) {
                0 => {}
                1 => bytes.truncate(at),
                2 if at < bytes.len() => bytes[at] = next(256) as u8,
                _ => {
                    let piece = pieces[next(pieces.len())];
                    bytes.splice(at..at, piece.iter().copied());
                }
            }
            if said(&bytes).ended() {
                let text = String::from_utf8_lossy(&bytes);
                assert!(
                    ["completed", "failed", "cancelled", "-32602"]
                        .iter()
                        .any(|w| text.contains(w)),
                    "{text}"
                );
                ends += 1;
            }
        }
        assert!(ends > 0, "no answer ended a task");
    }

    async fn replaced(pieces: &[&[u8]], from: &str, to: &str) -> Vec<u8> {
        let (tx, rx) = tokio::sync::mpsc::channel(pieces.len() + 1);
        for p in pieces {
            tx.send(Bytes::copy_from_slice(p)).await.unwrap();
        }
        drop(tx);
        let r = Replace::new(
            Body::Channel(rx),
            json_string(from),
            Bytes::from(json_string(to)),
        );
        r.collect().await.unwrap().to_bytes().to_vec()
    }

    #[tokio::test]
    async fn an_id_is_replaced_wherever_the_pieces_split_it() {
        let whole = br#"{"result":{"taskId":"up-1","_meta":{"io.modelcontextprotocol/related-task":{"taskId":"up-1"}}},"x":"up-12"}"#;
        let want = br#"{"result":{"taskId":"mtk1.G","_meta":{"io.modelcontextprotocol/related-task":{"taskId":"mtk1.G"}}},"x":"up-12"}"#;
        for a in 0..whole.len() {
            for b in a..whole.len() {
                let got =
                    replaced(&[&whole[..a], &whole[a..b], &whole[b..]], "up-1", "mtk1.G").await;
                assert_eq!(got, want.to_vec(), "split at {a},{b}");
            }
        }
        assert_eq!(replaced(&[b"up-1"], "up-1", "g").await, b"up-1".to_vec());
    }

    #[tokio::test]
    async fn a_piece_goes_out_at_once_unless_its_end_may_begin_the_id() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let mut r = Replace::new(
            Body::Channel(rx),
            json_string("up-1"),
            Bytes::from_static(b"\"g\""),
        );
        let next = async |r: &mut Replace| r.frame().await.unwrap().unwrap().into_data().unwrap();
        tx.send(Bytes::from_static(b"data: {\"id\":1}\n\n"))
            .await
            .unwrap();
        assert_eq!(&next(&mut r).await[..], b"data: {\"id\":1}\n\n");
        tx.send(Bytes::from_static(b"{\"taskId\":\"up"))
            .await
            .unwrap();
        assert_eq!(&next(&mut r).await[..], b"{\"taskId\":");
        tx.send(Bytes::from_static(b"-1\"}")).await.unwrap();
        assert_eq!(&next(&mut r).await[..], b"\"g\"}");
    }
}
