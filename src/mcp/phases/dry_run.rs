//! The dry run of a tool call: the phases a real call walks, asked in the same order by
//! the same functions, stopping before the forward. What a dry run answers is what the
//! call would get (its outcome, its JSON-RPC error, the audit row's reason) and which
//! phase decided; it leaves no audit row, charges nothing and contacts no backend.
//! `POST /api/v1/policies/check` (and `keyadm policies check`, which asks it), the
//! REST listing of a server's tools and `POST /api/v1/policies/simulate` (with a proposed
//! set of policies by identity in the place of the view's, [`simulated`]) ask this, so
//! they cannot disagree with a call.
//!
//! The walk: the caller's reach (a namespace the key may not use), [`route`] (an unknown
//! tool, one its namespace switches off or leaves off its allow-list, one held for
//! review), then the routed call's phases in the order of [`super::Phases`]: the
//! policies by identity ([`crate::mcp::policed::judged`], confirmation included), the
//! view's policies ([`super::policy`]) and the request guardrails ([`super::guard`]).
//! The key's limits are looked at where a call meets them, spending none
//! ([`crate::auth::limits::peek`]): its rate and places in flight before routing (as
//! admission charges them), a tool's rate and the daily quota after the policies by
//! identity (where [`super::tool_charge`] charges them, the one phase a dry run does not
//! call: a limit is spent by asking it). A listing and a simulation look at no limit.

use std::borrow::Cow;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::mcp::confirm::Pending;
use crate::mcp::ctx::Ctx;
use crate::mcp::hop::exchange::Shape;
use crate::mcp::phases::call_phase::{CallPhase, Routed};
use crate::mcp::phases::{Target, guard, policy, record, route, routed_of, rules};
use crate::mcp::wire::rpc::RpcError;
use crate::policy::rules::{Action, Decision, RuleSet};

/// The phase that decided a dry run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The caller's reach: a namespace the key may not use, or none of that name.
    Reach,
    /// The key's limits: its rate or places in flight (before routing, as a call is
    /// admitted), a tool's rate or its daily quota (after the policies by identity, as a
    /// call is charged).
    Limits,
    /// Routing: an unknown tool, one switched off or not on the allow-list, one held.
    Route,
    /// The policies by identity (their refusal or confirmation).
    Rules,
    /// The view's policies (`validate_arguments` and those of every view).
    Policies,
    /// The namespace's request guardrails.
    Guardrails,
    /// No phase refused: the call would be forwarded.
    Forward,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Reach => "reach",
            Phase::Limits => "limits",
            Phase::Route => "route",
            Phase::Rules => "rules",
            Phase::Policies => "policies",
            Phase::Guardrails => "guardrails",
            Phase::Forward => "forward",
        }
    }
}

/// What the call would become.
pub enum Outcome {
    /// Forwarded.
    Allow,
    /// Refused with this error (the one the call would be answered with).
    Deny(RpcError),
    /// Held for the user's confirmation first.
    Confirm(Pending),
}

/// A dry run's answer.
pub struct Verdict {
    pub outcome: Outcome,
    /// The phase that decided.
    pub phase: Phase,
    /// The server that owns the tool, when it routes.
    pub server: Option<String>,
    /// The policies by identity's decision, when they were asked.
    pub rules: Option<Decision>,
    /// Whether the tool is one the namespace switches off (for the audit row's reason).
    disabled: bool,
}

impl Verdict {
    /// A refusal before the call routes.
    pub fn refused(phase: Phase, e: RpcError) -> Verdict {
        Verdict {
            outcome: Outcome::Deny(e),
            phase,
            server: None,
            rules: None,
            disabled: false,
        }
    }

    /// The decision in a simulation's words: [`Verdict::decision`], or `"depends on
    /// arguments"` where a policy by identity read them on the way to it.
    pub fn word(&self) -> &'static str {
        match &self.rules {
            Some(d) if d.depends_on_arguments => "depends on arguments",
            _ => self.decision(),
        }
    }

    /// `"allow"`, `"deny"` or `"confirm"`.
    pub fn decision(&self) -> &'static str {
        match self.outcome {
            Outcome::Allow => "allow",
            Outcome::Deny(_) => "deny",
            Outcome::Confirm(_) => "confirm",
        }
    }

    /// The audit row a refusal would leave: its outcome (`denied`) and reason, as
    /// [`record::refused`] writes it; `None` for a call that would go on, or a refusal
    /// the audit does not record as one (an unknown tool).
    pub fn audited(&self) -> Option<(&'static str, String)> {
        match &self.outcome {
            Outcome::Deny(e) => record::denial(e, self.disabled).map(|(_, r)| ("denied", r)),
            _ => None,
        }
    }

    /// The dry run's JSON: `decision` and, when the policies by identity were asked,
    /// their `policy`, `reason`, `failed` and `audit` (else `null` and empty); `server`,
    /// the deciding `phase`, and a refusal's `error` (the JSON-RPC error the call would
    /// get) and `audit_reason` (its audit row's reason).
    pub fn to_json(&self) -> Value {
        let mut out = match &self.rules {
            Some(d) => d.to_json(),
            None => json!({"policy": null, "reason": null, "failed": [], "audit": []}),
        };
        out["decision"] = json!(self.decision());
        out["phase"] = json!(self.phase.as_str());
        out["server"] = json!(self.server);
        out["error"] = match &self.outcome {
            Outcome::Deny(e) => json!({"code": e.code, "message": e.message, "data": e.data}),
            _ => Value::Null,
        };
        if let Outcome::Confirm(p) = &self.outcome {
            out["policy"] = json!(p.policy);
            out["reason"] = json!(p.reason);
        }
        out["audit_reason"] = json!(self.audited().map(|(_, r)| r));
        out
    }
}

/// The `tools/call` of `tool` with `arguments` the dry run decides on.
fn request(tool: &str, arguments: Option<&Value>) -> Bytes {
    let mut params = json!({"name": tool});
    if let Some(a) = arguments {
        params["arguments"] = a.clone();
    }
    let call = json!({"jsonrpc": "2.0", "id": 0, "method": "tools/call", "params": params});
    Bytes::from(call.to_string())
}

/// How far a dry run walks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Through {
    /// Every phase but the forward (`policies check`).
    Forward,
    /// Up to the request guardrails, which judge a call's arguments (a listing).
    Policies,
    /// Up to the policies by identity (a simulation: what comes after judges the
    /// call's arguments, which a simulation does not have).
    Rules,
}

/// Decides a call of `tool` (the name the caller's view exposes) with `arguments` by
/// the caller of `ctx`, as the phases would, without making it.
pub async fn dry_run(ctx: &Ctx, tool: &str, arguments: Option<&Value>) -> Verdict {
    decide(ctx, tool, arguments, None, Through::Forward).await
}

/// What a call of `tool` without arguments would get, for a listing: the request
/// guardrails, which judge a call's arguments, are not asked.
pub async fn listed(ctx: &Ctx, tool: &str) -> Verdict {
    decide(ctx, tool, None, None, Through::Policies).await
}

/// What a call of `tool` would get from the policies by identity `rules` in the place
/// of the view's (`policies simulate`): the caller's reach, routing, then those
/// policies, each rule noting whether it read the call's arguments
/// ([`Action::CallProbed`]; [`Verdict::word`] says "depends on arguments" then).
pub async fn simulated(ctx: &Ctx, tool: &str, rules: &RuleSet) -> Verdict {
    decide(ctx, tool, None, Some(rules), Through::Rules).await
}

async fn decide(
    ctx: &Ctx,
    tool: &str,
    arguments: Option<&Value>,
    rules: Option<&RuleSet>,
    through: Through,
) -> Verdict {
    // Admission, looked at: the key's rate and places in flight, spending none.
    if through == Through::Forward
        && let Err(e) = crate::mcp::admission::peek(ctx).await
    {
        return Verdict::refused(Phase::Limits, e);
    }
    let body = request(tool, arguments);
    let f = match crate::jsonrpc::frame::parse_request(&body) {
        Ok(f) => f,
        Err(_) => {
            let e = RpcError::invalid(format!("a call of {tool:?} does not make a request"));
            return Verdict::refused(Phase::Route, e);
        }
    };
    let callee = match route(ctx, &body, &f, Shape::Whole) {
        Ok(Target::Call(call)) => call.callee,
        // The bridge a backend's era asks for changes nothing a phase decides.
        Ok(Target::Unsettled(_, callee)) => callee,
        Ok(Target::Answer(_) | Target::Listen) => {
            let e = RpcError::invalid(format!("{tool:?} is not a tool call"));
            return Verdict::refused(Phase::Route, e);
        }
        Err(e) => {
            let mut v = Verdict::refused(Phase::Route, e);
            v.disabled = ctx.view.disabled.contains(tool);
            return v;
        }
    };
    let mut routed = routed_of(&body, &f, &callee);
    let server = Some(routed.server.to_string());
    let (outcome, phase, decision) = walk(ctx, &mut routed, rules, through).await;
    Verdict {
        outcome,
        phase,
        server,
        rules: decision,
        disabled: false,
    }
}

/// The routed call's phases but the charge, in the order of [`super::Phases`], with
/// `proposed` policies by identity in the place of the view's (probed) when given.
async fn walk(
    ctx: &Ctx,
    routed: &mut Routed<'_>,
    proposed: Option<&RuleSet>,
    through: Through,
) -> (Outcome, Phase, Option<Decision>) {
    let mut decision = None;
    let (set, action) = match proposed {
        Some(set) => (Some(set).filter(|_| routed.is_tool()), Action::CallProbed),
        None if rules::IdentityRules.idle(ctx, routed) => (None, Action::Call),
        None => (ctx.view.rules.as_deref(), Action::Call),
    };
    if let Some(set) = set {
        let (body, f) = routed.request();
        let named: Cow<'_, str> = routed.tool_name();
        let judged = crate::mcp::policed::judged(ctx, set, action, body, f, routed.server, &named);
        let decided = judged.and_then(|(d, arguments)| {
            let next = crate::mcp::policed::decided(ctx, &d, routed.server, &named, arguments);
            decision = Some(d);
            next
        });
        match decided {
            Err(e) => return (Outcome::Deny(e), Phase::Rules, decision),
            Ok(Some(pending)) => return (Outcome::Confirm(pending), Phase::Rules, decision),
            Ok(None) => {}
        }
    }
    if through == Through::Rules {
        return (Outcome::Allow, Phase::Forward, decision);
    }
    // The charge, looked at: the tool's rate and the key's daily quota, spending none.
    if through == Through::Forward
        && let Some(rate) = routed.tool
        && let Err(e) = crate::mcp::admission::peek_tool_call(ctx, rate).await
    {
        return (Outcome::Deny(e), Phase::Limits, decision);
    }
    let views = policy::ViewPolicies;
    if !views.idle(ctx, routed)
        && let Err(e) = views.before(ctx, routed).await
    {
        return (Outcome::Deny(e), Phase::Policies, decision);
    }
    let hooks = guard::ExternalGuardrails;
    if through == Through::Forward
        && !hooks.idle(ctx, routed)
        && let Err(e) = hooks.before(ctx, routed).await
    {
        return (Outcome::Deny(e), Phase::Guardrails, decision);
    }
    (Outcome::Allow, Phase::Forward, decision)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_dry_run_walks_the_pipelines_list_but_its_charge() {
        // A phase added to the list is a phase the dry run must walk (or look at without
        // calling it, as it does the charge): this test names each.
        let list = std::any::type_name::<super::super::Phases>();
        let walked = [
            "IdentityRules",
            "ToolCharge",
            "ViewPolicies",
            "ExternalGuardrails",
        ];
        let named = list.split(',').count();
        assert_eq!(named, walked.len(), "{list}");
        for w in walked {
            assert!(list.contains(w), "{list}");
        }
    }
}
