//! The first phase of a routed tool call: policies by identity ([`crate::mcp::policed`],
//! the stored CEL rules) decide on it before anything is charged. A denied call is a
//! `-32003` error with `data.policy`; one a rule wants confirmed goes to the user first
//! ([`Next::Confirm`]). A view without rules pays one `None` check.

use crate::mcp::ctx::Ctx;
use crate::mcp::phases::call_phase::{CallPhase, Next, Routed};
use crate::mcp::wire::rpc::RpcError;

/// Policies by identity on a tool call.
#[derive(Default)]
pub(crate) struct IdentityRules;

impl CallPhase for IdentityRules {
    const SEES_ANSWERS: bool = false;

    fn idle(&self, ctx: &Ctx, call: &Routed<'_>) -> bool {
        ctx.view.rules.is_none() || !call.is_tool()
    }

    async fn before(&self, ctx: &Ctx, call: &mut Routed<'_>) -> Result<Next, RpcError> {
        let Some(rules) = ctx.view.rules.as_deref().filter(|_| call.is_tool()) else {
            return Ok(Next::Go);
        };
        let (body, f) = call.request();
        let named = call.tool_name();
        Ok(
            match crate::mcp::policed::call(ctx, rules, body, f, call.server, &named)? {
                Some(pending) => Next::Confirm(pending),
                None => Next::Go,
            },
        )
    }
}
