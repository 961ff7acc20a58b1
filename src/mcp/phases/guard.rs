//! The guardrail phase of a backend's `tools/call` ([`ExternalGuardrails`],
//! [`crate::guard`], docs/guides/guardrails.md): the namespace's request hooks see the
//! call before it is forwarded (after the policies), its result hooks see the result
//! before the client does (after the policies saw it). Each hook's
//! answer is applied in `enforce` mode (deny: a `-32003` error with the request's id
//! and `data.guardrail`; mutate: the new arguments or result go on) and only recorded in
//! `audit` mode (the event `guardrail.audit`); a hook that fails (timeout, error, an
//! answer too large or not understood, no room) refuses the call when its failure mode
//! is `closed` and lets it through unchanged, with the event `guardrail.failed`, when it
//! is `open`. A view without guardrails never comes here (one `None` check).

use bytes::Bytes;
use hyper::{Response, header};
use serde_json::{Value, json};

use crate::guard::Guardrails;
use crate::guard::ask::{Phase, Verdict};
use crate::guard::result::{Held, hold};
use crate::http::Body;
use crate::jsonrpc::frame::{self, Frame, string_value};
use crate::jsonrpc::{answer, read};
use crate::mcp::ctx::Ctx;
use crate::mcp::phases::call_phase::{CallPhase, Next, Routed};
use crate::mcp::wire::rpc::{RpcError, code};
use crate::observe::events::{Audience, fields};

/// The namespace's guardrails on a backend's tool call.
#[derive(Default)]
pub(crate) struct ExternalGuardrails;

/// The guardrails that see `call`: its view's, for a backend's tool call.
fn of<'v>(ctx: &'v Ctx, call: &Routed<'_>) -> Option<&'v Guardrails> {
    match call.served {
        None if call.is_tool() => ctx.view.guardrails.as_deref(),
        _ => None,
    }
}

impl CallPhase for ExternalGuardrails {
    fn idle(&self, ctx: &Ctx, call: &Routed<'_>) -> bool {
        of(ctx, call).is_none()
    }

    async fn before(&self, ctx: &Ctx, call: &mut Routed<'_>) -> Result<Next, RpcError> {
        let Some(g) = of(ctx, call) else {
            return Ok(Next::Go);
        };
        let (body, f) = call.request();
        if let Some(rewritten) = Box::pin(before(ctx, g, body, f, call.server)).await? {
            call.rewrite(rewritten);
        }
        Ok(Next::Go)
    }

    async fn after(
        &self,
        ctx: &Ctx,
        call: &Routed<'_>,
        resp: Response<Body>,
    ) -> Result<Response<Body>, RpcError> {
        match of(ctx, call) {
            Some(g) if !g.result.is_empty() => {
                let (body, f) = call.request();
                Box::pin(after(ctx, g, resp, body, f, call.server)).await
            }
            _ => Ok(resp),
        }
    }
}

/// What a hook is asked about: the call.
struct Asked<'a> {
    server: &'a str,
    tool: &'a str,
}

/// Runs the request hooks on a call: the request rewritten (with its frame) when an
/// enforcing hook changed its arguments, `None` when it goes on as it came (boxed: the
/// call's future holds it across the forward, and stays small without guardrails).
async fn before(
    ctx: &Ctx,
    g: &Guardrails,
    body: &Bytes,
    f: &Frame,
    server: &str,
) -> Result<Option<Box<(Bytes, Frame)>>, RpcError> {
    let tool = f
        .name
        .and_then(|s| string_value(body, s))
        .unwrap_or_default();
    let asked = Asked {
        server,
        tool: &tool,
    };
    // A task's result comes later, by another request: result hooks would never see it.
    if f.task.is_some() {
        for hook in &g.result {
            let why =
                "a task's result is not seen by result guardrails (call the tool without a task)";
            outcome(ctx, g, hook, Phase::Result, &asked, Err(why.into()))?;
        }
    }
    if g.request.is_empty() {
        return Ok(None);
    }
    let sent = crate::policy::arguments(body, f).map_err(|r| RpcError {
        data: r.data,
        ..RpcError::method(r.code, r.message)
    })?;
    let mut arguments = sent.clone().unwrap_or_else(|| json!({}));
    let mut changed = false;
    for hook in &g.request {
        let payload = payload(ctx, g, Phase::Request, &asked, &arguments, None);
        let answer = g.ask(hook, Phase::Request, payload).await;
        if let Some(new) = outcome(ctx, g, hook, Phase::Request, &asked, answer)? {
            arguments = new;
            changed = true;
        }
    }
    if !changed || sent.as_ref() == Some(&arguments) {
        return Ok(None);
    }
    let body = with_arguments(body, f, &arguments).ok_or_else(|| {
        RpcError::method(
            code::INTERNAL,
            "the arguments a guardrail gave could not be placed in the request",
        )
    })?;
    let f = frame::parse_request(&body).map_err(|e| {
        RpcError::method(
            code::INTERNAL,
            format!("the arguments a guardrail gave do not make a request: {e:?}"),
        )
    })?;
    Ok(Some(Box::new((body, f))))
}

/// The request `body` (framed as `f`) with `arguments` in place of its own: the bytes of
/// its `params.arguments` replaced, or the member added to `params`; every other byte as
/// the client sent it, so the backend runs exactly the value the hooks gave.
fn with_arguments(body: &Bytes, f: &Frame, arguments: &Value) -> Option<Bytes> {
    let value = serde_json::to_vec(arguments).ok()?;
    if let Some(span) = f.arguments(body) {
        return Some(frame::splice(body, &mut [(span, &value)]));
    }
    let params = f.params.filter(|p| body.get(p.start) == Some(&b'{'))?;
    let mut member = b"\"arguments\":".to_vec();
    member.extend_from_slice(&value);
    if !frame::opens_empty(body, params.start) {
        member.push(b',');
    }
    let at = frame::Span {
        start: params.start + 1,
        end: params.start + 1,
    };
    Some(frame::splice(body, &mut [(at, &member)]))
}

/// Runs the result hooks on `resp` (the answer to a call of `tool` with `arguments`):
/// the answer as it came, or with its result changed, or the refusal.
async fn after(
    ctx: &Ctx,
    g: &Guardrails,
    resp: Response<Body>,
    body: &[u8],
    f: &Frame,
    server: &str,
) -> Result<Response<Body>, RpcError> {
    let tool = f
        .name
        .and_then(|s| string_value(body, s))
        .unwrap_or_default();
    let asked = Asked {
        server,
        tool: &tool,
    };
    let stream = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let (mut parts, answer) = resp.into_parts();
    let (held, _room) = match hold(answer, g.room()).await {
        Ok(Held::Whole(bytes, room)) => (bytes, room),
        Ok(Held::Over(whole, why)) => {
            for hook in &g.result {
                outcome(ctx, g, hook, Phase::Result, &asked, Err(why.clone()))?;
            }
            return Ok(Response::from_parts(parts, whole));
        }
        Err(e) => {
            return Err(RpcError::method(
                code::INTERNAL,
                format!("the backend's answer broke off: {e}"),
            ));
        }
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    // The response the client will read, found by the one answer reader and read as
    // the client reads it; one that cannot be is the hooks' failure to decide on.
    let read = answer::response(&held, stream)
        .map_err(|e| e.to_string())
        .and_then(|found| match read::value(&found.message) {
            Ok(m) => Ok((found, m)),
            Err(_) => Err("the backend's response cannot be read one way".to_string()),
        });
    let (found, mut message) = match read {
        Ok(r) => r,
        Err(why) => {
            let why = format!("the result could not be read: {why}");
            for hook in &g.result {
                outcome(ctx, g, hook, Phase::Result, &asked, Err(why.clone()))?;
            }
            return Ok(Response::from_parts(parts, Body::full(held)));
        }
    };
    // An error answer has no result to see.
    if message.get("result").is_none() {
        return Ok(Response::from_parts(parts, Body::full(held)));
    }
    let arguments = crate::policy::arguments(body, f)
        .ok()
        .flatten()
        .unwrap_or_else(|| json!({}));
    let mut result = message["result"].take();
    if result.get("task").is_some() && result.get("content").is_none() {
        let why = "a task's result is not seen by result guardrails (call the tool without a task)";
        for hook in &g.result {
            outcome(ctx, g, hook, Phase::Result, &asked, Err(why.into()))?;
        }
        return Ok(Response::from_parts(parts, Body::full(held)));
    }
    let mut changed = false;
    for hook in &g.result {
        let payload = payload(ctx, g, Phase::Result, &asked, &arguments, Some(&result));
        let answer = g.ask(hook, Phase::Result, payload).await;
        if let Some(new) = outcome(ctx, g, hook, Phase::Result, &asked, answer)? {
            result = new;
            changed = true;
        }
    }
    if !changed {
        return Ok(Response::from_parts(parts, Body::full(held)));
    }
    message["result"] = result;
    let new = answer::replaced(&held, &found, stream, message.to_string().as_bytes());
    Ok(Response::from_parts(parts, Body::full(new)))
}

/// The JSON a hook is posted (docs/guides/guardrails.md).
fn payload(
    ctx: &Ctx,
    g: &Guardrails,
    phase: Phase,
    asked: &Asked<'_>,
    arguments: &Value,
    result: Option<&Value>,
) -> Vec<u8> {
    let who = crate::mcp::policed::subject(&ctx.state, ctx.principal.as_ref());
    let mut principal = json!({"id": who.id, "name": who.name, "kind": who.kind,
        "scope": who.scope, "namespaces": who.namespaces});
    if who.kind == "oauth" {
        principal["issuer"] = json!(who.issuer);
        principal["sub"] = json!(who.sub);
        principal["client_id"] = json!(who.client_id);
    }
    let mut p = json!({
        "phase": phase.as_str(),
        "namespace": ctx.namespace.as_deref().unwrap_or(&g.namespace),
        "principal": principal,
        "server": asked.server,
        "tool": asked.tool,
        "arguments": arguments,
    });
    if let Some(r) = result {
        p["result"] = r.clone();
    }
    serde_json::to_vec(&p).unwrap_or_default()
}

/// Applies a hook's answer (or its failure): `Ok(Some(value))` when an enforcing hook
/// changed the arguments or the result, `Ok(None)` when the call goes on as it is,
/// `Err` when it is refused. Audited answers and failures let through are announced.
fn outcome(
    ctx: &Ctx,
    g: &Guardrails,
    hook: &crate::guard::Hook,
    phase: Phase,
    asked: &Asked<'_>,
    answer: Result<Verdict, String>,
) -> Result<Option<Value>, RpcError> {
    let event = |kind: &str, extra: Value| {
        let mut f = json!({
            "namespace": ctx.namespace.as_deref().unwrap_or(&g.namespace),
            "guardrail": hook.name,
            "phase": phase.as_str(),
            "server": asked.server,
            "tool": asked.tool,
            "key": ctx.principal.as_ref().map(|p| p.key_id.as_str().to_string()),
        });
        if let (Value::Object(f), Value::Object(extra)) = (&mut f, extra) {
            f.extend(extra);
        }
        tracing::info!(event = kind, fields = %f, "guardrail");
        ctx.state
            .observe
            .events
            .publish(kind, fields(f), Audience::Admin);
    };
    let verdict = match answer {
        Ok(v) => v,
        Err(why) if hook.config.fail_closed => {
            event(
                "guardrail.failed",
                json!({"reason": why, "failure": "closed"}),
            );
            let mut e = RpcError::method(
                code::POLICY_DENIED,
                format!(
                    "the call was refused: the guardrail {} failed ({why}) and fails closed; \
                     try again later, or ask an admin to check it",
                    hook.name
                ),
            );
            e.data = Some(json!({"guardrail": hook.name, "phase": phase.as_str(),
                "reason": why, "failure": "closed"}));
            return Err(e);
        }
        Err(why) => {
            event(
                "guardrail.failed",
                json!({"reason": why, "failure": "open"}),
            );
            return Ok(None);
        }
    };
    if !hook.config.enforce {
        let reason = match &verdict {
            Verdict::Deny(r) => Some(r.clone()),
            _ => None,
        };
        event(
            "guardrail.audit",
            json!({"decision": verdict.as_str(), "reason": reason}),
        );
        return Ok(None);
    }
    match verdict {
        Verdict::Allow => Ok(None),
        Verdict::Mutate(v) => {
            event("guardrail.mutated", json!({"decision": "mutate"}));
            Ok(Some(v))
        }
        Verdict::Deny(reason) => {
            event(
                "guardrail.denied",
                json!({"decision": "deny", "reason": reason}),
            );
            let mut e = RpcError::method(
                code::POLICY_DENIED,
                format!(
                    "the guardrail {} denied the call of {}: {reason}",
                    hook.name, asked.tool
                ),
            );
            e.data = Some(json!({"guardrail": hook.name, "phase": phase.as_str(),
                "reason": reason}));
            Err(e)
        }
    }
}
