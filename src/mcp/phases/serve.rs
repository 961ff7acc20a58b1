//! The detours of a request that came in by the pipeline's entry ([`super::enter`]): a
//! multi-round-trip retry ([`crate::mcp::era::rounds::retry`]) or a task request of
//! either era ([`crate::mcp::era::tasks`]) goes to its path here, every other request
//! to the phases; its origin says which ([`super::Origin::Retry`],
//! [`super::Origin::Task`]). What re-enters the pipeline (a retry's request sent on as
//! it came, or afresh) comes back through [`detour`]; nothing below it calls back up.

use bytes::Bytes;
use hyper::Response;
use hyper::header::HeaderMap;

use crate::http::Body;
use crate::jsonrpc::frame::Frame;
use crate::mcp::ctx::Ctx;
use crate::mcp::era::rounds::retry::{self, Resumable, Retried};
use crate::mcp::phases::{Call, Callee, Target};
use crate::mcp::wire::rpc::RpcError;

/// What a detour came to: an answer, or the request for the rest of the pipeline again
/// (already charged: [`super::enter`] goes on with it).
#[allow(clippy::large_enum_variant)] // the answer is moved once, and detours are rare
pub enum Detoured {
    /// Answered on the era's path (a task request, a resumed call, a relayed retry).
    Answered(Response<Body>),
    /// The request as it came, for its backend (a 2026-07-28 backend's own state).
    Again,
    /// The request without its retry members, as it first came: nothing waited.
    Afresh(Bytes),
}

/// Serves a retry or a task request. A retry comes
/// routed (`target`, by the pipeline, once), and the era's code gets what it routes to.
pub async fn detour(
    ctx: &Ctx,
    headers: &HeaderMap,
    body: &Bytes,
    f: &Frame,
    target: Option<Result<Target<'_>, RpcError>>,
) -> Result<Detoured, RpcError> {
    if let Some(target) = target {
        let routed = target.map(|target| match target {
            Target::Call(Call {
                callee: Callee::Backend { backend, task, .. },
                bridge,
                ..
            }) => Some(Resumable {
                backend,
                task,
                bridge,
            }),
            _ => None,
        });
        return Ok(
            match Box::pin(retry::retry(ctx, headers, body, f, routed)).await? {
                Retried::Answered(resp) => Detoured::Answered(*resp),
                Retried::Again => Detoured::Again,
                Retried::Afresh(again) => Detoured::Afresh(again),
            },
        );
    }
    Ok(Detoured::Answered(task(ctx, headers, body, f).await?))
}

/// Serves a task request on its era's path.
pub async fn task(
    ctx: &Ctx,
    headers: &HeaderMap,
    body: &Bytes,
    f: &Frame,
) -> Result<Response<Body>, RpcError> {
    match ctx.client_modern() {
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
