//! Phase 4, forward: a routed call to its backend. The method decides the way: a
//! subscription a 2026-07-28 backend follows on its own stream, a session's task call
//! ([`crate::mcp::era::tasks::session`]), a stateless client's task call ([`crate::mcp::era::tasks::extension`]),
//! or the hop itself ([`crate::mcp::hop::forward`]), which picks the era adapter.

use bytes::Bytes;
use hyper::{Response, StatusCode};

use crate::http::Body;
use crate::jsonrpc::frame::{Frame, string_value};
use crate::jsonrpc::methods::Method;
use crate::mcp::ctx::Ctx;
use crate::mcp::era::bridge::{finish, forward};
use crate::mcp::hop::exchange::{Exchange, Hopped, Shape};
use crate::mcp::phases::{Call, Callee};
use crate::mcp::wire::rpc::{RpcError, code, envelope, json_response};

/// Forwards a routed call of a backend through its bridge; `collect` returns whole JSON
/// bodies.
pub(crate) async fn to_backend(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    call: Call<'_>,
    shape: Shape,
) -> Result<Response<Body>, RpcError> {
    let Call {
        callee:
            Callee::Backend {
                backend,
                rename,
                task,
                ..
            },
        bridge,
        method,
    } = call
    else {
        return Err(RpcError::method(
            code::INTERNAL,
            "a gateway tool has no backend",
        ));
    };
    if matches!(
        method,
        Method::ResourcesSubscribe | Method::ResourcesUnsubscribe
    ) && let Some(uri) = f.uri.and_then(|s| string_value(body, s))
    {
        Box::pin(crate::mcp::subscriptions::record(ctx, method, &uri)).await;
        if crate::mcp::era::bridge::follows_on_listen(backend) {
            // The revision has no resources/subscribe: the backend's listen stream
            // follows the resource instead.
            let on =
                method == Method::ResourcesSubscribe || ctx.state.data.subscriptions.is_held(&uri);
            backend
                .follow(&uri, on)
                .map_err(|e| RpcError::method(code::INTERNAL, e))?;
            let id = f.id.map_or(&b"null"[..], |s| s.of(body));
            return Ok(json_response(StatusCode::OK, envelope(id, "result", b"{}")));
        }
    }
    // A session's task call (a batch's too: its answer is whole JSON already) gets the
    // gateway's task id, is recorded and counts against the key's bound.
    if method == Method::ToolsCall && !bridge.client_modern() && f.task.is_some() {
        return Box::pin(crate::mcp::era::tasks::session::call(
            ctx, body, f, backend, rename, bridge,
        ))
        .await;
    }
    if method == Method::ToolsCall
        && bridge.client_modern()
        && !crate::mcp::wire::task_ids::untouched(body, f, task)
    {
        use crate::mcp::era::tasks::extension::{self, Plan};
        match extension::plan(body, f, backend, task, bridge)? {
            Plan::Task if shape != Shape::Whole => {
                return Box::pin(extension::call(ctx, body, f, backend, rename, bridge)).await;
            }
            Plan::Without(plain) => {
                let (pf, rename) = extension::reframe(&plain, rename)?;
                let ex = Exchange {
                    body: &plain,
                    f: &pf,
                    backend,
                    rename,
                    bridge,
                    shape,
                };
                return Ok(forward(&ctx.state.era, &ctx.caller(), ex).await);
            }
            _ => {}
        }
    }
    let ex = Exchange {
        body,
        f,
        backend,
        rename,
        bridge,
        shape,
    };
    if bridge.adapts(f.kind, shape == Shape::Streamed) {
        return Ok(forward(&ctx.state.era, &ctx.caller(), ex).await);
    }
    // A pair with nothing to adapt: the hop alone (boxed, as the adapter's would be),
    // and the era layer only for what the hop hands back unfinished.
    let caller = ctx.caller();
    match crate::base::boxed(|| crate::mcp::hop::forward::forward(&caller, ex)).await {
        Hopped::Answer(r) => Ok(r),
        other => Ok(Box::pin(finish(
            &ctx.state.era,
            &caller,
            body,
            f,
            backend,
            shape,
            other,
        ))
        .await),
    }
}
