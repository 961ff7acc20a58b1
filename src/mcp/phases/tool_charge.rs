//! The phase that charges a routed call to its caller, once the policies by identity let
//! it through (a call they refuse, or that waits for the user's confirmation, costs the
//! key nothing): a tool call's own rate and the key's daily quota
//! ([`crate::mcp::admission::charge_tool_call`], `-32029` with `data.limit` when over),
//! then the key's usage ([`super::record::called`]). An anonymous call has no key to
//! charge.

use crate::mcp::ctx::Ctx;
use crate::mcp::phases::call_phase::{CallPhase, Next, Routed};
use crate::mcp::wire::rpc::RpcError;

/// The tool's rate, the key's daily quota and usage.
#[derive(Default)]
pub(crate) struct ToolCharge;

impl CallPhase for ToolCharge {
    const SEES_ANSWERS: bool = false;

    fn idle(&self, ctx: &Ctx, _call: &Routed<'_>) -> bool {
        ctx.principal.is_none()
    }

    async fn before(&self, ctx: &Ctx, call: &mut Routed<'_>) -> Result<Next, RpcError> {
        if let Some(p) = &ctx.principal {
            if let Some(rate) = call.tool {
                crate::mcp::admission::charge_tool_call(ctx, p, rate).await?;
            }
            super::record::called(ctx, p);
        }
        Ok(Next::Go)
    }
}
