//! The one way into the call pipeline, and the one way back into it. A request of the
//! conversation established goes to its path here: a multi-round-trip retry
//! ([`crate::mcp::era::rounds::retry`]), a task request of either era
//! ([`crate::mcp::era::tasks`]), or the phases ([`super::dispatch`]); [`takes_detour`]
//! says which. What re-enters the pipeline (a retry's request sent on as it came, or
//! afresh) comes back through [`detour`]; nothing below it calls back up.

use bytes::Bytes;
use hyper::Response;
use hyper::header::HeaderMap;

use crate::http::Body;
use crate::jsonrpc::frame::{self, Frame};
use crate::mcp::ctx::Ctx;
use crate::mcp::era::rounds::retry::{self, Retried};
use crate::mcp::wire::rpc::{RpcError, code};

/// Whether a request (`call_tool` already unwrapped to the named tool's own call) takes
/// a detour before the phases: a retry of the 2026-07-28 era, or a task request of
/// either era ([`detour`]); every other request goes to [`super::dispatch`].
///
/// Asked by the dispatcher, which then awaits the phases' own future itself: a function
/// around it would add a future of its own (its poll and its copy) to every call.
pub fn takes_detour(ctx: &Ctx, f: &Frame) -> bool {
    (ctx.stateless && f.request_state.is_some())
        || f.kind.is_some_and(|m| match ctx.stateless {
            false => m.is_task(),
            true => m.is_task_ext(),
        })
}

/// Answers a request that [`takes_detour`]: a retry, or a task request.
pub async fn detour(
    ctx: &Ctx,
    headers: &HeaderMap,
    body: &Bytes,
    f: &Frame,
) -> Result<Response<Body>, RpcError> {
    if ctx.stateless && f.request_state.is_some() {
        return match Box::pin(retry::retry(ctx, headers, body, f)).await? {
            Retried::Answered(resp) => Ok(*resp),
            Retried::Again => Box::pin(super::dispatch(ctx, body, f, false)).await,
            Retried::Afresh(again) => {
                let f = frame::parse(&again).map_err(|_| {
                    RpcError::method(code::INVALID_PARAMS, "the request could not be read again")
                })?;
                Box::pin(super::dispatch(ctx, &again, &f, false)).await
            }
        };
    }
    match ctx.stateless {
        false => {
            Box::pin(crate::mcp::era::tasks::session::serve(
                ctx, headers, body, f,
            ))
            .await
        }
        true => {
            Box::pin(crate::mcp::era::tasks::extension::serve(
                ctx, headers, body, f,
            ))
            .await
        }
    }
}
