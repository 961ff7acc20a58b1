//! Policies by identity ([`crate::policy::rules`]) on an MCP caller's lists and calls:
//! a tool the caller may not use is absent from its `tools/list` and its searches, and
//! a call of it (directly, through `call_tool`, in a batch or as a task: all pass
//! through [`crate::mcp::phases::enter`]) is a `-32003` JSON-RPC error with its id, whose
//! `data.policy` names the policy; one a policy wants confirmed goes to the user first
//! ([`crate::mcp::confirm`]). A view without policies pays one `None` check.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::jsonrpc::frame::Frame;
use crate::mcp::confirm::{Pending, refusal};
use crate::mcp::ctx::Confirmation;
use crate::mcp::ctx::Ctx;
use crate::mcp::lists::{cursor, page};
use crate::mcp::planes::Planes;
use crate::mcp::wire::rpc::{RpcError, code};
use crate::policy::rules::{Action, Decision, Effect, RuleSet, Subject, Target};
use crate::routing::{SERVED_BY, View};

/// The caller as policies see it (`principal`).
pub fn subject(state: &Planes, principal: Option<&Principal>) -> Subject {
    let Some(p) = principal else {
        return Subject::anonymous();
    };
    let mut s = Subject {
        id: p.key_id.as_str().to_string(),
        name: state.auth.key_name(&p.key_id).unwrap_or_default(),
        scope: p.scope.as_str().to_string(),
        namespaces: p.namespaces.to_vec(),
        kind: "key",
        ..Subject::default()
    };
    if let Some(o) = &p.oauth {
        s.kind = "oauth";
        s.issuer = o.issuer.to_string();
        s.sub = o.subject.to_string();
        s.client_id = o.client_id.as_deref().unwrap_or_default().to_string();
        s.name = format!("{}|{}", o.issuer, o.subject);
    }
    s
}

/// A listing entry's `annotations` (`null` when it has none or cannot be read one way),
/// read as the client reads the listing.
pub fn annotations(entry: &[u8]) -> Value {
    crate::jsonrpc::read::value(entry)
        .ok()
        .and_then(|mut v| v.get_mut("annotations").map(Value::take))
        .unwrap_or(Value::Null)
}

/// The decision on `tool` (`entry`: its listing entry) for `who`.
pub fn decide(
    rules: &RuleSet,
    who: &Subject,
    action: Action,
    namespace: Option<&str>,
    tool: (&str, &str, &[u8]),
    arguments: Option<&Value>,
) -> Decision {
    let annotations = annotations(tool.2);
    rules.decide(
        who,
        action,
        namespace,
        &Target {
            name: tool.0,
            server: tool.1,
            annotations: &annotations,
        },
        arguments,
    )
}

/// The decision on `tool` (`entry`: its listing entry) for `who` in `view`: the
/// strongest of the namespaces whose policies bind the tool there
/// ([`View::policy_namespaces`]: on `/mcp`, a key limited to namespaces meets theirs).
pub fn decide_in(
    view: &View,
    rules: &RuleSet,
    who: &Subject,
    action: Action,
    tool: (&str, &str, &[u8]),
    arguments: Option<&Value>,
) -> Decision {
    let annotations = annotations(tool.2);
    rules.decide_over(
        who,
        action,
        &view.policy_namespaces(tool.0),
        &Target {
            name: tool.0,
            server: tool.1,
            annotations: &annotations,
        },
        arguments,
    )
}

/// Whether the caller may see `entry` (a tool of `server`) in its lists.
pub fn listed(
    ctx: &Ctx,
    rules: &RuleSet,
    who: &Subject,
    name: &str,
    server: &str,
    entry: &[u8],
) -> bool {
    decide_in(
        &ctx.view,
        rules,
        who,
        Action::List,
        (name, server, entry),
        None,
    )
    .effect
        != Effect::Deny
}

/// `tools/list` for a caller of a view with policies: the view's tools less those the
/// policies deny it. `None` when the view has none (the shared listing serves).
pub(crate) fn tools_list(ctx: &Ctx, body: &[u8], f: &Frame) -> Result<Option<Bytes>, RpcError> {
    let Some(rules) = &ctx.view.rules else {
        return Ok(None);
    };
    let who = subject(&ctx.state, ctx.principal.as_ref());
    let tools = ctx
        .view
        .tools
        .iter()
        .filter(|t| listed(ctx, rules, &who, &t.name, &t.backend.name, &t.entry))
        .map(|t| &t.entry);
    let served = ctx
        .view
        .served
        .iter()
        .filter(|s| listed(ctx, rules, &who, &s.name, SERVED_BY, &s.entry))
        .map(|s| &s.entry);
    page(tools.chain(served), "tools", cursor(body, f)?).map(Some)
}

/// Counts a call's decision where it is visible: each rule that failed to evaluate, and
/// what each policy in audit mode would have decided (also kept on the call's context,
/// for its audit row).
fn noted(ctx: &Ctx, d: &Decision) {
    let metrics = &ctx.state.observe.metrics;
    for f in &d.failed {
        metrics.policy_failure(&f.policy, f.effect.as_str());
    }
    for t in &d.audited {
        metrics.policy_audit(&t.policy, t.effect.as_str());
    }
    if let Some(trials) = d.trials() {
        let _ = ctx.trial.set(trials.into_boxed_str());
    }
}

/// Refuses a routed `tools/call` of `tool` (of `server`) that the view's policies deny;
/// one that needs the user's confirmation is returned to be asked
/// ([`crate::mcp::confirm`]), unless the user answered already.
pub(crate) fn call(
    ctx: &Ctx,
    rules: &RuleSet,
    body: &[u8],
    f: &Frame,
    server: &str,
    tool: &str,
) -> Result<Option<Pending>, RpcError> {
    let (d, arguments) = judged(ctx, rules, Action::Call, body, f, server, tool)?;
    noted(ctx, &d);
    if d.effect == Effect::Deny {
        let policy = d.policy.as_deref().unwrap_or_default();
        tracing::debug!(policy, tool, "a policy denied a call");
        if let Some(bound) = d.bound {
            ctx.state.observe.events.publish(
                "policy.bound",
                crate::observe::events::fields(
                    json!({"policy": policy, "tool": tool, "bound": bound}),
                ),
                crate::observe::events::Audience::Admin,
            );
        }
    }
    decided(ctx, &d, server, tool, arguments)
}

/// The policies' decision on a routed `tools/call` of `tool` (of `server`) for the
/// caller of `ctx`, and the arguments it was decided on: nothing counted or published
/// (the dry run, [`crate::mcp::phases::dry_run`], asks this as [`call`] does).
pub(crate) fn judged(
    ctx: &Ctx,
    rules: &RuleSet,
    action: Action,
    body: &[u8],
    f: &Frame,
    server: &str,
    tool: &str,
) -> Result<(Decision, Option<Value>), RpcError> {
    let who = subject(&ctx.state, ctx.principal.as_ref());
    let entry = match server {
        SERVED_BY => ctx
            .view
            .served
            .iter()
            .find(|s| s.name == tool)
            .map(|s| s.entry.clone()),
        _ => ctx.view.tool(tool).map(|t| t.entry.clone()),
    }
    .unwrap_or_default();
    // The arguments the backend will run, read as it reads them: arguments that cannot
    // be read one way are refused, never decided on as "no arguments".
    let arguments = crate::policy::arguments(body, f).map_err(|r| RpcError {
        data: r.data,
        ..RpcError::method(r.code, r.message)
    })?;
    let d = decide_in(
        &ctx.view,
        rules,
        &who,
        action,
        (tool, server, &entry),
        arguments.as_ref(),
    );
    // A member a Go backend takes for one a rule reads (`PATH` for `path`), where the
    // rules decide otherwise on what Go reads ([`crate::jsonrpc::read_names`]).
    if let Some(args) = &arguments
        && let Some(a) = rules.argument_reads().twin_in(args)
    {
        let go = rules.argument_reads().as_go_reads(args);
        let g = decide_in(
            &ctx.view,
            rules,
            &who,
            Action::Call,
            (tool, server, &entry),
            Some(&go),
        );
        if (g.effect, &g.policy) != (d.effect, &d.policy) {
            return Err(RpcError::ambiguous(&a));
        }
    }
    Ok((d, arguments))
}

/// What the call becomes by the decision `d`: on its way (`None`), refused, or to be
/// confirmed by the user first (unless the user answered already).
pub(crate) fn decided(
    ctx: &Ctx,
    d: &Decision,
    server: &str,
    tool: &str,
    arguments: Option<Value>,
) -> Result<Option<Pending>, RpcError> {
    let policy = d.policy.as_deref().unwrap_or_default();
    match d.effect {
        Effect::Allow => Ok(None),
        Effect::Deny => {
            let reason = d
                .reason
                .as_deref()
                .map_or_else(String::new, |r| format!(": {r}"));
            Err(RpcError {
                data: Some(
                    json!({"policy": policy, "tool": tool, "reason": d.reason.as_deref(),
                    "failed": d.deciding_failure(), "audit": d.trials()}),
                ),
                ..RpcError::method(
                    code::POLICY_DENIED,
                    format!(
                        "tool {tool:?} is denied to this caller by policy {policy:?}{reason}; \
                         an admin can review it with GET /api/v1/policies/{policy}"
                    ),
                )
            })
        }
        Effect::Confirm => match ctx.confirmation {
            Confirmation::Accepted => Ok(None),
            Confirmation::Refused(outcome) => Err(refusal(policy, tool, outcome)),
            Confirmation::Unasked | Confirmation::ByRun => Ok(Some(Pending {
                policy: policy.to_string(),
                tool: tool.to_string(),
                server: server.to_string(),
                reason: d.reason.as_deref().map(str::to_string),
                arguments,
            })),
        },
    }
}
