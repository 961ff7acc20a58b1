//! Phase 5, record: what a call leaves behind. The key's usage (its last use and call
//! count, written to the database in batches by [`crate::auth::limits::usage`]) is noted here
//! once a call is routed and charged. A forwarded call's audit row, metrics, spans and
//! log line are written when it ends, whichever way ([`crate::mcp::hop::record::CallRecord`]);
//! a gateway tool's by [`crate::mcp::served`]; a request's server span by
//! [`crate::mcp::spans::server_span`].
//!
//! A call the gateway refuses before any backend sees it (a policy, a confirmation that
//! did not come, a guardrail, a tool disabled or not allowed in the namespace, a tool held
//! for review, a key's limit, its request rate and its places in flight included) is
//! recorded by [`refused`], once, where the phases
//! turn the refusal into the call's answer: an audit row `denied` with its reason, and
//! `metamcp_denied_calls_total{reason}`. The refusal is read from the error's documented
//! `data` ([`denial`]), so no refusal site records anything itself.

use crate::auth::Principal;
use crate::jsonrpc::frame::{Frame, string_value};
use crate::mcp::ctx::Ctx;
use crate::mcp::wire::rpc::{RpcError, code};
use crate::observe::audit::{Entry, Kind, Outcome, Text};

/// One call of the key `p`, for its usage.
pub(crate) fn called(ctx: &Ctx, p: &Principal) {
    ctx.state.auth.usage.called(p.key_id.as_str());
}

/// Why the gateway refused a call, read from its error: the metric's word (one of a
/// fixed few) and the audit row's reason. `None` for an error that is no refusal (an
/// unknown tool, bad arguments, a backend's failure). `disabled`: the call named a tool
/// its namespace switches off (or does not allow).
pub(crate) fn denial(e: &RpcError, disabled: bool) -> Option<(&'static str, String)> {
    let data = e.data.as_ref();
    let s = |k: &str| data.and_then(|d| d[k].as_str()).unwrap_or("-").to_string();
    let has = |k: &str| data.is_some_and(|d| d.get(k).is_some_and(|v| !v.is_null()));
    Some(match crate::mcp::wire::codes::as_session(e.code) {
        code::LIMITED => ("limit", format!("limit {}", s("limit_name"))),
        code::POLICY_DENIED if data.is_some_and(|d| d["confirm"] == true) => (
            "confirmation",
            format!("confirmation {} (policy {})", s("outcome"), s("policy")),
        ),
        code::POLICY_DENIED if has("guardrail") => {
            ("guardrail", format!("guardrail {}", s("guardrail")))
        }
        // A rule that failed to evaluate says so ("rule 2 of `guard` failed to evaluate:
        // no such key `org`").
        code::POLICY_DENIED if has("failed") => {
            ("policy", format!("policy {}: {}", s("policy"), s("failed")))
        }
        code::POLICY_DENIED => ("policy", format!("policy {}", s("policy"))),
        _ if data.is_some_and(|d| d["held"] == true) => ("held", format!("held ({})", s("kind"))),
        code::INVALID_PARAMS if disabled => ("disabled", "disabled in the namespace".into()),
        _ => return None,
    })
}

/// Records `e` when it refuses a call of a tool, prompt or resource ([`denial`]); gives
/// it back as it was, to be answered.
pub(crate) fn refused(ctx: &Ctx, body: &[u8], f: &Frame, e: RpcError) -> RpcError {
    if !f.kind.is_some_and(|m| m.calls_item()) {
        return e;
    }
    let named = f.name.or(f.uri).and_then(|s| string_value(body, s));
    let disabled = named
        .as_deref()
        .is_some_and(|n| ctx.view.disabled.contains(n));
    if let Some((word, reason)) = denial(&e, disabled) {
        let server = e.data.as_ref().and_then(|d| d["server"].as_str());
        note(ctx, body, f, named.as_deref(), word, &reason, server);
    }
    e
}

/// The audit row (`denied`, with `reason`) and the metric of one refused call of
/// `named` (as the client named it).
fn note(
    ctx: &Ctx,
    body: &[u8],
    f: &Frame,
    named: Option<&str>,
    word: &'static str,
    reason: &str,
    server: Option<&str>,
) {
    ctx.state.observe.metrics.denied(word);
    let audit = &ctx.state.observe.audit;
    let Some(method) = f.kind.filter(|_| audit.enabled()) else {
        return;
    };
    let exposed = named.and_then(|n| ctx.view.tool(n));
    audit.record(Entry {
        at: std::time::SystemTime::now(),
        kind: Kind::Call,
        key_id: ctx.principal.as_ref().map(|p| p.key_id),
        subject: ctx
            .principal
            .as_ref()
            .and_then(|p| p.oauth.as_ref())
            .map(|o| Text::Str(&o.subject)),
        namespace: ctx.namespace.as_deref().map(Text::Str),
        server: server.or(exposed.map(|t| &*t.backend.label)).map(Text::Str),
        method: method.as_str(),
        tool: named.map(Text::Str),
        upstream_tool: exposed.map(|t| Text::Str(&t.original)),
        outcome: Outcome::Denied.as_str(),
        duration: std::time::Duration::ZERO,
        request_bytes: body.len() as u64,
        response_bytes: 0,
        trace_id: ctx.trace.as_ref().map(|t| t.ctx.trace_id),
        reason: Some(Text::Str(reason)),
        id: None,
        parent: ctx.run,
        policy_audit: ctx.trial.get().map(|t| Text::Str(t)),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(code: i64, data: serde_json::Value) -> RpcError {
        RpcError {
            data: Some(data),
            ..RpcError::method(code, "x")
        }
    }

    #[test]
    fn each_refusal_is_named_and_nothing_else_is() {
        let cases = [
            (
                err(-32003, json!({"policy": "no-delete", "tool": "t"})),
                false,
                Some(("policy", "policy no-delete")),
            ),
            (
                err(
                    -32003,
                    json!({"policy": "ask", "confirm": true, "outcome": "declined"}),
                ),
                false,
                Some(("confirmation", "confirmation declined (policy ask)")),
            ),
            (
                err(
                    -32003,
                    json!({"guardrail": "http://h/", "phase": "request"}),
                ),
                false,
                Some(("guardrail", "guardrail http://h/")),
            ),
            (
                err(-32602, json!({"held": true, "kind": "changed"})),
                false,
                Some(("held", "held (changed)")),
            ),
            (
                err(
                    -32029,
                    json!({"limit": "daily_calls", "limit_name": "daily_calls", "retryAfterMs": 5}),
                ),
                false,
                Some(("limit", "limit daily_calls")),
            ),
            // A 2026-07-28 client's codes read as the session era's.
            (
                err(-31029, json!({"limit": 30, "limit_name": "daily_calls"})),
                false,
                Some(("limit", "limit daily_calls")),
            ),
            (
                err(-31003, json!({"policy": "no-delete", "tool": "t"})),
                false,
                Some(("policy", "policy no-delete")),
            ),
            (
                RpcError::method(-32602, "tool is disabled"),
                true,
                Some(("disabled", "disabled in the namespace")),
            ),
            // An unknown tool, bad arguments, a backend's error: no refusal.
            (err(-32602, json!({"suggestions": ["a__b"]})), false, None),
            (err(-32602, json!({"pointer": "/a"})), false, None),
            (RpcError::method(-32603, "server down"), false, None),
            (RpcError::method(-32603, "server down"), true, None),
        ];
        for (e, disabled, want) in cases {
            let got = denial(&e, disabled);
            assert_eq!(got.as_ref().map(|(w, r)| (*w, r.as_str())), want, "{e:?}");
        }
    }
}
