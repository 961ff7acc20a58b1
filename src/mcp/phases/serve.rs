//! The one way into the call pipeline, and the one way back into it. A request of the
//! conversation established goes to its path here: a multi-round-trip retry
//! ([`crate::mcp::era::retry`]), a task request of either era ([`crate::mcp::era::tasks`],
//! [`crate::mcp::era::task_ext`]), or the phases ([`super::dispatch`]). What re-enters the
//! pipeline (a retry's request sent on as it came, or afresh) comes back through
//! [`serve`]; nothing below it calls back up.

use bytes::Bytes;
use hyper::Response;
use hyper::header::HeaderMap;

use crate::http::Body;
use crate::jsonrpc::frame::{self, Frame};
use crate::mcp::Ctx;
use crate::mcp::era::retry::{self, Retried};
use crate::proxy::rpc::{RpcError, code};

/// Answers a request (`call_tool` already unwrapped to the named tool's own call).
pub async fn serve(
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
    match f.kind {
        Some(m) if !ctx.stateless && m.is_task() => {
            Box::pin(crate::mcp::era::tasks::serve(ctx, headers, body, f)).await
        }
        Some(m) if ctx.stateless && m.is_task_ext() => {
            Box::pin(crate::mcp::era::task_ext::serve(ctx, headers, body, f)).await
        }
        _ => super::dispatch(ctx, body, f, false).await,
    }
}
