//! Phase 5, record: what a call leaves behind. The key's usage (its last use and call
//! count, written to the database in batches by [`crate::auth::limits::usage`]) is noted here
//! once a call is routed and charged. A forwarded call's audit row, metrics, spans and
//! log line are written when it ends, whichever way ([`crate::mcp::hop::record::CallRecord`]);
//! a gateway tool's by [`crate::mcp::served`]; a request's server span by
//! [`crate::mcp::server_span`].

use crate::auth::Principal;
use crate::mcp::Ctx;

/// One call of the key `p`, for its usage.
pub(crate) fn called(ctx: &Ctx, p: &Principal) {
    ctx.state.auth.usage.called(p.key_id.as_str());
}
