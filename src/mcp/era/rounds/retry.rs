//! A stateless client's retry of a multi-round-trip request: `inputResponses` and the
//! `requestState` the gateway sealed when the call's backend asked something (a
//! 2026-07-28 backend's own state goes back to it untouched).
//!
//! The state is opened and checked (sealed by this gateway, unexpired, this caller,
//! this request); the call it names waits on the replica that sealed it. Here, its
//! answers go to the backend and the call goes on in this response; on another replica,
//! the request is passed to that one as it came ([`crate::mcp::era::relay`]; replicas
//! need no affinity at the balancer, only `METAMCP_REPLICA_URL`).

use bytes::Bytes;
use hyper::Response;
use hyper::header::HeaderMap;

use crate::http::Body;
use crate::jsonrpc::frame::{self, Frame, string_value};
use crate::jsonrpc::methods::Method;
use crate::mcp::ctx::Ctx;
use crate::mcp::era::relay::{RELAYED, relay};
use crate::mcp::era::rounds::{self, Binding};
use std::sync::Arc;

use crate::backend::Backend;
use crate::mcp::wire::bridge::Bridge;
use crate::mcp::wire::request_state::{self, StateError};
use crate::mcp::wire::rpc::{RpcError, code};
use crate::routing::TaskSupport;

fn invalid(message: impl Into<String>) -> RpcError {
    RpcError::method(code::INVALID_PARAMS, message)
}

impl From<StateError> for RpcError {
    fn from(e: StateError) -> RpcError {
        invalid(e.to_string())
    }
}

/// What became of a retry: answered here, or a request for the pipeline again, which
/// the pipeline runs on (this module never calls back up into it).
pub enum Retried {
    /// The parked call went on (or the retry was passed to its replica).
    Answered(Box<Response<Body>>),
    /// The request as it came, for its backend (a 2026-07-28 backend's own state).
    Again,
    /// The request without its retry members, as it first came: nothing waited.
    Afresh(Bytes),
}

/// The backend a retry's request routes to, as the pipeline routed it.
pub struct Resumable<'a> {
    pub backend: &'a Arc<Backend>,
    pub task: TaskSupport,
    pub bridge: Bridge,
}

/// Serves a request carrying `requestState`, `routed` as the pipeline routed it (to a
/// backend, to something else, or refused), charged already.
pub async fn retry(
    ctx: &Ctx,
    headers: &HeaderMap,
    body: &Bytes,
    f: &Frame,
    routed: Result<Option<Resumable<'_>>, RpcError>,
) -> Result<Retried, RpcError> {
    let method = f.method(body).unwrap_or_default();
    if !f.kind.is_some_and(Method::calls_item) {
        return Err(invalid(format!(
            "requestState is only for tools/call, prompts/get and resources/read, not {method}"
        )));
    }
    // A 2026-07-28 backend asked, and sealed its own state: the retry goes to it as
    // any request does (its name routes it), and the backend checks what it sealed.
    // But a per-caller server's caller may hold the gateway's own state (they were sent
    // to connect their account first): that one opens under the gateway's key.
    if let Ok(Some(Resumable {
        backend, bridge, ..
    })) = &routed
        && bridge.backend_modern()
        && !(backend.callers.is_some()
            && f.request_state
                .and_then(|s| string_value(body, s))
                .is_some_and(|s| {
                    request_state::open(
                        &ctx.state.cipher,
                        &s,
                        ctx.kid(),
                        ctx.namespace.as_deref(),
                        crate::base::unix_now_ms(),
                    )
                    .is_ok()
                }))
    {
        return Ok(Retried::Again);
    }
    let state = f
        .request_state
        .and_then(|s| string_value(body, s))
        .ok_or_else(|| invalid("requestState must be the string the gateway gave"))?;
    let now = crate::base::unix_now_ms();
    let claims = request_state::open(
        &ctx.state.cipher,
        &state,
        ctx.kid(),
        ctx.namespace.as_deref(),
        now,
    )?;
    let digest = request_state::params_digest(body).unwrap_or_default();
    claims.binds(method, &digest)?;
    let parked = &ctx.state.era.parked;
    if claims.call.is_empty() {
        // Nothing waits: the backend wanted the user at a URL first (-32042). The request
        // goes again, as it first came, from any replica.
        let again = without_retry_members(body)
            .ok_or_else(|| invalid("the request's params must be an object"))?;
        return Ok(Retried::Afresh(again));
    }
    if claims.replica != parked.replica {
        return match claims.replica_url.as_deref() {
            Some(url) if !headers.contains_key(RELAYED) => Ok(Retried::Answered(Box::new(
                Box::pin(relay(ctx, url, headers, body)).await,
            ))),
            _ => Err(invalid(
                "the call waiting for this input is held by another replica, which this one cannot reach (set METAMCP_REPLICA_URL on every replica)",
            )),
        };
    }
    // A retry is a request against the key's rate (charged where it came in), riding on
    // the place in flight the parked call holds, and the caller must still reach what it
    // names; it is not another tool call for the day.
    let Some(Resumable {
        backend,
        task,
        bridge,
    }) = routed?
    else {
        return Err(invalid(format!(
            "{method} with requestState names nothing to resume"
        )));
    };
    let binding = Binding {
        principal: ctx.kid().to_string(),
        namespace: ctx.namespace.clone(),
        method: method.to_string(),
        digest,
    };
    let responses = f
        .input_responses
        .and_then(|s| frame::container_span(body, s.start).or(Some(s)))
        .map(|s| &body[s.start..s.end]);
    let call = parked.take(&claims.call, &binding).ok_or_else(|| {
        invalid("no call waits for this requestState: it was answered already, or given up")
    })?;
    if call.backend().id != backend.id {
        return Err(invalid("requestState belongs to another request"));
    }
    let matched = match rounds::match_answers(&call.asks, responses) {
        Ok(m) => m,
        Err(rounds::AnswerError::Invalid(why)) => {
            parked.put_back(&claims.call, call);
            return Err(invalid(why));
        }
    };
    let client_id =
        f.id.map_or(Bytes::from_static(b"null"), |s| body.slice(s.start..s.end));
    let resp = rounds::resume(parked, call, matched, client_id, body.clone()).await;
    // A call going on as a task: the task it becomes is given the client's shape.
    let resp = match crate::mcp::era::tasks::extension::plan(body, f, backend, task, bridge) {
        Ok(crate::mcp::era::tasks::extension::Plan::Task) => {
            crate::mcp::era::tasks::extension::flatten(
                crate::mcp::era::tasks::extension::owner(ctx, body, f, backend),
                resp,
            )
        }
        _ => resp,
    };
    Ok(Retried::Answered(Box::new(resp)))
}

/// The request without `inputResponses` and `requestState`: what the backend first got.
fn without_retry_members(body: &[u8]) -> Option<Bytes> {
    let mut v = crate::jsonrpc::read::value(body).ok()?;
    let params = v.get_mut("params")?.as_object_mut()?;
    params.remove("inputResponses");
    params.remove("requestState");
    serde_json::to_vec(&v).ok().map(Bytes::from)
}
