//! A policy's `confirm` ([`crate::policy::rules`]): the user is asked before the call
//! goes on, by elicitation, in the way the client understands.
//!
//! - A session client (2025-06-18, 2025-11-25) that declared elicitation, calling on its
//!   own (not in a batch, not as a task): an `elicitation/create` form on the call's SSE
//!   stream naming the tool, its server, the policy's reason and every argument (values
//!   shortened to fit [`MAX_SHOWN`]), asking for a boolean `confirm`. The question goes through the
//!   machinery a backend's questions use ([`crate::mcp::era::bridge::session_to_modern::question`], the
//!   answer routed back by [`crate::mcp::hop::calls::ServerRequests`]). An `accept` with
//!   `confirm: true` lets the call go on (the pipeline's call, confirmed: [`GoOn`]), its
//!   answer following on the same stream; a decline, a cancel, no answer within
//!   `METAMCP_CONFIRM_TIMEOUT` or a client gone ends it with [`refusal`]. Questions
//!   waiting are bounded per conversation and in total
//!   ([`crate::mcp::hop::confirm_places`]).
//! - A 2026-07-28 client that declared elicitation: the call is answered
//!   `input_required` with the same form and a sealed state binding the caller, the tool
//!   and a digest of the arguments, which expires
//!   ([`crate::mcp::wire::request_state::seal_confirm`]). Its retry with the accepting
//!   answer and that state is the call itself, confirmed ([`resumed`]); nothing waits in
//!   between, so any replica serves the retry.
//! - Any other client (no elicitation declared, a batch, REST, a task) gets the refusal
//!   with the reason it cannot be asked.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{Response, StatusCode, header};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::backend::mux::sse_event;
use crate::base::ClientCaps;
use crate::http::Body;
use crate::jsonrpc::frame::{self, Frame, string_value};
use crate::mcp::ctx::{Confirmation, Ctx, Outcome};
use crate::mcp::era::bridge::session_to_modern::{
    Question, Unanswered, question, stream, wait_answer,
};
use crate::mcp::hop::exchange::Shape;
use crate::mcp::wire::ask::Ask;
use crate::mcp::wire::request_state::{
    CONFIRM_PREFIX, ConfirmClaims, StateError, open_confirm, params_digest, seal_confirm,
};
use crate::mcp::wire::rpc::{MAX_COLLECTED, RpcError, code, json_response};
use crate::mcp::wire::run_state::{RUN_PREFIX, Resume, open_run};

/// The most bytes the call's arguments take in the question. Every argument the server
/// gets is shown, its name whole; values are shortened to fit, each saying by how much,
/// and a call whose names alone (with a few bytes of each value) pass it is refused as
/// too large to confirm ([`Outcome::TooLarge`]).
pub const MAX_SHOWN: usize = 2000;
/// The fewest bytes of a shortened value shown, and the most its mark takes
/// (`… (18446744073709551615 more bytes)`).
const MIN_VALUE: usize = 16;
const MARK: usize = 40;
/// The `inputRequests` key (2026-07-28) of the question.
const KEY: &str = "confirm";

impl Outcome {
    /// What happened, said to the user, and what to do next.
    pub(crate) fn explain(self) -> String {
        match self {
            Outcome::Declined => "the user declined it".into(),
            Outcome::Cancelled => "the user cancelled the question".into(),
            Outcome::TimedOut => "nobody answered the question in time \
                 (METAMCP_CONFIRM_TIMEOUT); call it again to be asked again"
                .into(),
            Outcome::Gone => "the client went away before answering".into(),
            Outcome::TooMany => format!(
                "this client already has {} confirmations waiting (or the gateway its \
                 most); answer those first",
                crate::mcp::hop::confirm_places::PER_CONVERSATION
            ),
            Outcome::CannotAsk => "this client cannot be asked for it: call it from a \
                 client that declares elicitation (not in a batch, over REST or as a task), \
                 or ask an admin to change the policy"
                .into(),
            Outcome::State(e) => format!("{e}; call it again without it to be asked again"),
            Outcome::Used => "this confirmation was used already (a confirmed call runs \
                 once); call it again without requestState to be asked again"
                .into(),
            Outcome::Unrecorded => "the gateway could not record the confirmation's use \
                 (its database); retry the same request in a moment"
                .into(),
            Outcome::TooLarge => format!(
                "its arguments are too large to confirm: the question shows every argument \
                 the server gets, and their names with a few bytes of each value pass \
                 {MAX_SHOWN} bytes; call it with fewer or shorter arguments, or ask an \
                 admin to change the policy"
            ),
        }
    }
}

/// A call a policy wants confirmed: what the question names.
pub struct Pending {
    pub policy: String,
    pub tool: String,
    pub server: String,
    pub reason: Option<String>,
    pub arguments: Option<Value>,
}

/// The refusal of a call whose confirmation did not come: `-32003`, with `data.policy`,
/// `data.tool`, `data.confirm: true` and `data.outcome` (what happened).
pub fn refusal(policy: &str, tool: &str, outcome: Outcome) -> RpcError {
    let why = outcome.explain();
    RpcError {
        data: Some(json!({"policy": policy, "tool": tool, "confirm": true,
            "outcome": outcome.as_str(), "reason": why})),
        ..RpcError::method(
            code::POLICY_DENIED,
            format!("tool {tool:?} needs the user's confirmation (policy {policy:?}), and {why}"),
        )
    }
}

/// A confirmed call served: its answer, from a task of its own.
pub type Served = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

/// How a confirmed call goes on: routed again and served as any call is, owned (it runs
/// in a task of its own once the user said yes), and how a refusal is recorded. The call
/// pipeline hands both in ([`crate::mcp::phases`]); this file does not call back up.
pub struct GoOn {
    /// Serves the call, confirmed.
    pub call: fn(Ctx, Bytes, Frame) -> Served,
    /// Records a refusal as the pipeline records one, and gives it back.
    pub refused: fn(&Ctx, &[u8], &Frame, RpcError) -> RpcError,
}

/// Whether the client of this request can be asked mid-call: it declared elicitation,
/// and it called on its own (not in a batch, over REST or as a task).
pub(crate) fn can_ask(ctx: &Ctx, body: &Bytes, f: &Frame, shape: Shape) -> bool {
    let caps = ctx.caps_of(body, f).unwrap_or(0);
    caps & ClientCaps::ELICITATION != 0
        && shape != Shape::Whole
        && !crate::mcp::era::tasks::session::asks_task(f)
        && f.is_request()
}

/// Asks the user to confirm `p`, or refuses when this client cannot be asked;
/// `go_on` serves the call once confirmed on a session's stream. A script's inner call
/// hands the question back to its run ([`Confirmation::ByRun`]), as `input_required`.
pub(crate) fn ask(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    p: Pending,
    shape: Shape,
    go_on: GoOn,
) -> Result<Response<Body>, RpcError> {
    let form = form(&p).ok_or_else(|| refusal(&p.policy, &p.tool, Outcome::TooLarge))?;
    if ctx.confirmation == Confirmation::ByRun {
        return Ok(input_required(ctx, body, f, &p, &form));
    }
    if !can_ask(ctx, body, f, shape) {
        return Err(refusal(&p.policy, &p.tool, Outcome::CannotAsk));
    }
    tracing::debug!(
        policy = p.policy,
        tool = p.tool,
        "asking the user to confirm a call"
    );
    match ctx.asks_by_rounds() {
        true => Ok(input_required(ctx, body, f, &p, &form)),
        false => on_stream(ctx, body, f, p, &form, go_on),
    }
}

/// A confirmation handed back to a script's run: the `input_required` result `result`
/// of the inner call `body` of `tool`, when it is the gateway's own (its state opens
/// under the gateway's key, for this caller, tool and arguments): that state and the
/// question's form.
pub(crate) fn handed_back(
    ctx: &Ctx,
    body: &[u8],
    tool: &str,
    result: &Value,
) -> Option<(String, Value)> {
    if result["resultType"] != "input_required" {
        return None;
    }
    let state = result["requestState"].as_str()?;
    let expect = ConfirmClaims {
        principal: ctx.kid().to_string(),
        namespace: ctx.namespace.clone(),
        tool: tool.to_string(),
        digest: params_digest(body).unwrap_or_default(),
        expires_ms: 0,
    };
    open_confirm(
        &ctx.state.cipher,
        state,
        &expect,
        crate::base::unix_now_ms(),
    )
    .ok()?;
    let form = result["inputRequests"][KEY]["params"].clone();
    Some((state.to_string(), form))
}

/// Asks a session's client the question `form` on the stream `tx` (a script's inner
/// call, its run waiting): whether the user let the call go on.
pub(crate) async fn ask_on(
    ctx: &Ctx,
    form: &Value,
    tx: &mpsc::Sender<Bytes>,
) -> Result<(), Outcome> {
    let _place = ctx
        .state
        .data
        .confirming
        .take(&ctx.conversation)
        .map_err(|_| Outcome::TooMany)?;
    let q = question(
        &ctx.state.data.server_requests,
        ctx.conversation.clone(),
        None,
        "elicitation/create",
        form,
    );
    put(q, ctx.state.config.parked.confirm_ttl, tx).await
}

/// Puts `q` to the client on `tx` and waits up to `ttl` for its answer: whether the
/// user let the call go on. The question is forgotten however the wait ends, also when
/// this future is dropped (its run stopped, its client gone).
async fn put(q: Question, ttl: Duration, tx: &mpsc::Sender<Bytes>) -> Result<(), Outcome> {
    let _asked = q.asked;
    let answered = match tx.send(q.event).await {
        Ok(()) => wait_answer(q.answer, ttl, tx).await,
        Err(_) => Err(Unanswered::Gone),
    };
    match answered {
        Ok(reply) => accepted(&reply["result"]),
        Err(Unanswered::TimedOut) => Err(Outcome::TimedOut),
        Err(Unanswered::Dropped) => Err(Outcome::Cancelled),
        Err(Unanswered::Gone) => Err(Outcome::Gone),
    }
}

/// The arguments as the question shows them: one line for each argument the server
/// gets, `"name": value` in JSON (so no name or value can start a line of its own), a
/// value shortened to its share of [`MAX_SHOWN`] saying by how much; `None` when even
/// that cannot fit.
fn shown(arguments: Option<&Value>) -> Option<String> {
    let lines: Vec<(String, String)> = match arguments {
        None => return Some(" none".into()),
        Some(Value::Object(m)) if m.is_empty() => return Some(" none".into()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| (format!("\n  {}: ", Value::from(k.as_str())), v.to_string()))
            .collect(),
        Some(v) => vec![(" ".into(), v.to_string())],
    };
    let names: usize = lines.iter().map(|(n, _)| n.len()).sum();
    let whole: usize = lines.iter().map(|(_, v)| v.len()).sum();
    if names.saturating_add(whole) <= MAX_SHOWN {
        return Some(lines.into_iter().map(|(n, v)| n + &v).collect());
    }
    // Shortest first, each value takes what it needs up to an even share of what is
    // left; the values longer than their share are cut to it.
    let mut left = MAX_SHOWN.checked_sub(names)?;
    let mut order: Vec<usize> = (0..lines.len()).collect();
    order.sort_by_key(|&i| lines[i].1.len());
    let mut room = vec![0; lines.len()];
    for (n, &i) in order.iter().enumerate() {
        let share = left / (lines.len() - n);
        room[i] = lines[i].1.len().min(share);
        left -= room[i];
    }
    let mut out = String::with_capacity(MAX_SHOWN);
    for ((name, value), room) in lines.iter().zip(room) {
        out.push_str(name);
        if value.len() <= room {
            out.push_str(value);
            continue;
        }
        let mut cut = room.checked_sub(MARK).filter(|&c| c >= MIN_VALUE)?;
        while !value.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&value[..cut]);
        out.push_str(&format!("… ({} more bytes)", value.len() - cut));
    }
    Some(out)
}

/// The form that asks: the tool, its server, the policy and its reason, every argument
/// ([`shown`]); `None` when the arguments are too large to show.
fn form(p: &Pending) -> Option<Value> {
    let shown = shown(p.arguments.as_ref())?;
    let reason = p
        .reason
        .as_deref()
        .map_or_else(String::new, |r| format!(": {r}"));
    let message = format!(
        "Allow the call of tool {} (server {})? Policy {} asks for your confirmation{reason}.\n\
         Arguments:{shown}",
        p.tool, p.server, p.policy
    );
    Some(json!({
        "message": message,
        "requestedSchema": {
            "type": "object",
            "properties": {"confirm": {
                "type": "boolean",
                "title": format!("Run {}", p.tool),
                "description": "true lets the call go on",
                "default": false,
            }},
            "required": ["confirm"],
        },
    }))
}

/// Whether an elicitation result lets the call go on; the refusal's outcome if not.
fn accepted(result: &Value) -> Result<(), Outcome> {
    match result["action"].as_str() {
        Some("accept") if result["content"]["confirm"] == json!(true) => Ok(()),
        Some("cancel") => Err(Outcome::Cancelled),
        _ => Err(Outcome::Declined),
    }
}

/// A 2026-07-28 client: `input_required` with the form and the sealed state.
fn input_required(ctx: &Ctx, body: &Bytes, f: &Frame, p: &Pending, form: &Value) -> Response<Body> {
    let ttl = ctx.state.config.parked.confirm_ttl;
    let claims = ConfirmClaims {
        principal: ctx.kid().to_string(),
        namespace: ctx.namespace.clone(),
        tool: p.tool.clone(),
        digest: params_digest(body).unwrap_or_default(),
        expires_ms: crate::base::unix_now_ms()
            .saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)),
    };
    let state = seal_confirm(&ctx.state.cipher, &claims);
    let ask = Ask {
        key: KEY.to_string(),
        id: Bytes::new(),
        method: crate::jsonrpc::methods::Method::ElicitationCreate,
        params: Bytes::from(form.to_string()),
        undeclared: None,
    };
    let id = f.id.map_or(&b"null"[..], |s| s.of(body));
    json_response(
        StatusCode::OK,
        crate::mcp::era::rounds::input_required(id, &[ask], &state),
    )
}

/// A 2026-07-28 retry carrying a confirmation's state, or a suspended run's (`Ok(None)`
/// for any other request): the request without the retry's members, to be served as
/// the call itself, with `ctx.confirmation` saying what the user answered (or why the
/// state does not count), or for a run `ctx.resume` what it resumes with. A state is
/// spent here, once across every replica ([`crate::store::confirm_uses`]): a second
/// retry with it is refused. A run's state that does not open refuses the retry, and so
/// does any state of a `run_code` call that opens neither as its run's nor as its own
/// confirmation: run again from the top, the script would call again what already ran.
pub(crate) async fn resumed(
    ctx: &mut Ctx,
    body: &Bytes,
    f: &Frame,
) -> Result<Option<(Bytes, Frame)>, RpcError> {
    let Some(state) = f.request_state.and_then(|s| string_value(body, s)) else {
        return Ok(None);
    };
    if f.method(body) != Some("tools/call") {
        return Ok(None);
    }
    let run = state.starts_with(RUN_PREFIX);
    let run_code =
        f.name.and_then(|s| string_value(body, s)).as_deref() == Some(crate::codemode::RUN_CODE);
    if !(run || state.starts_with(CONFIRM_PREFIX)) {
        return match run_code {
            true => Err(not_the_runs(StateError::Invalid)),
            false => Ok(None),
        };
    }
    let Some((again, again_frame, answer)) = without_retry_members(body, f) else {
        return Ok(None);
    };
    let digest = params_digest(body).unwrap_or_default();
    let now = crate::base::unix_now_ms();
    if run {
        let claims = open_run(
            &ctx.state.cipher,
            &state,
            ctx.kid(),
            ctx.namespace.as_deref(),
            &digest,
            now,
        )
        .map_err(|e| {
            RpcError::method(
                code::INVALID_PARAMS,
                format!("{e}; call run_code again without it to start the run afresh"),
            )
        })?;
        spend(ctx, &state, claims.expires_ms, now)
            .await
            .map_err(|o| RpcError::method(code::INVALID_PARAMS, o.explain()))?;
        ctx.resume = Some(Box::new(Resume {
            journal: claims.journal,
            inner: claims.inner,
            answer,
            run: claims.run,
        }));
        // A run's state is minted only for a run that was let run (confirmed, if a
        // policy wanted `run_code` confirmed), for this caller and this code: its
        // resumption is not asked about again.
        ctx.confirmation = Confirmation::Accepted;
        return Ok(Some((again, again_frame)));
    }
    let expect = ConfirmClaims {
        principal: ctx.kid().to_string(),
        namespace: ctx.namespace.clone(),
        tool: f
            .name
            .and_then(|s| string_value(body, s))
            .unwrap_or_default()
            .into_owned(),
        digest,
        expires_ms: 0,
    };
    ctx.confirmation = match open_confirm(&ctx.state.cipher, &state, &expect, now) {
        Err(e) if run_code => return Err(not_the_runs(e)),
        Err(e) => Confirmation::Refused(Outcome::State(e)),
        Ok(claims) => match accepted(&answer) {
            Err(o) => Confirmation::Refused(o),
            Ok(()) => match spend(ctx, &state, claims.expires_ms, now).await {
                Ok(()) => Confirmation::Accepted,
                Err(o) => Confirmation::Refused(o),
            },
        },
    };
    Ok(Some((again, again_frame)))
}

/// A `run_code` retry whose state is not its run's (nor its own confirmation's).
fn not_the_runs(e: StateError) -> RpcError {
    RpcError::method(
        code::INVALID_PARAMS,
        format!(
            "{e}: a run_code call takes only the requestState its own run answered with; \
             call run_code again without it to start the run afresh"
        ),
    )
}

/// Spends `state` once across every replica.
async fn spend(ctx: &Ctx, state: &str, expires_ms: u64, now: u64) -> Result<(), Outcome> {
    let pool = &ctx.state.db.pool;
    match crate::store::confirm_uses::spend(pool, state, expires_ms, now).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Outcome::Used),
        Err(e) => {
            tracing::warn!(error = %e, "a confirmation's use could not be recorded; it is refused");
            Err(Outcome::Unrecorded)
        }
    }
}

/// The request without the retry's members (the other members' bytes as they came),
/// and the answer in its `inputResponses`.
fn without_retry_members(body: &Bytes, f: &Frame) -> Option<(Bytes, Frame, Value)> {
    let params = f.params.filter(|p| body.get(p.start) == Some(&b'{'))?;
    let whole = frame::container_span(body, params.start)?;
    let mut answer = Value::Null;
    let mut kept = vec![b'{'];
    let walked = frame::each_member(body, params.start, |key, member| {
        match string_value(body, key).as_deref() {
            Some("inputResponses") => {
                let value = &member.of(body)[key.end - member.start..];
                let value = value.trim_ascii_start().strip_prefix(b":").unwrap_or(value);
                answer = crate::jsonrpc::read::value(value)
                    .ok()
                    .and_then(|mut r| r.get_mut(KEY).map(Value::take))
                    .unwrap_or(Value::Null);
            }
            Some("requestState") => {}
            _ => {
                if kept.len() > 1 {
                    kept.push(b',');
                }
                kept.extend_from_slice(member.of(body));
            }
        }
    });
    walked.ok()?;
    kept.push(b'}');
    let again = frame::splice(body, &mut [(whole, &kept)]);
    let again_frame = frame::parse_request(&again).ok()?;
    Some((again, again_frame, answer))
}

/// A session client: the question on the call's stream, then (accepted) the call itself.
fn on_stream(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    p: Pending,
    form: &Value,
    go_on: GoOn,
) -> Result<Response<Body>, RpcError> {
    let place = ctx
        .state
        .data
        .confirming
        .take(&ctx.conversation)
        .map_err(|_| refusal(&p.policy, &p.tool, Outcome::TooMany))?;
    let confirmed = ctx.derived(Confirmation::Accepted);
    let q = question(
        &ctx.state.data.server_requests,
        ctx.conversation.clone(),
        None,
        "elicitation/create",
        form,
    );
    let ttl = ctx.state.config.parked.confirm_ttl;
    let (body, f) = (body.clone(), f.clone());
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let outcome = put(q, ttl, &tx).await;
        drop(place);
        let id = f.id.map_or(&b"null"[..], |s| s.of(&body));
        if let Err(o) = outcome {
            tracing::debug!(
                policy = p.policy,
                tool = p.tool,
                outcome = o.as_str(),
                "a confirmation refused a call"
            );
            let e = refusal(&p.policy, &p.tool, o);
            let e = (go_on.refused)(&confirmed, &body, &f, e).in_era(confirmed.client_modern());
            let _ = tx.send(sse_event(&e.body(id))).await;
            return;
        }
        let resp = (go_on.call)(confirmed, body, f).await;
        relay(resp, &tx).await;
    });
    Ok(stream(rx))
}

/// The call's answer after the question, on the same stream: an event stream's events
/// as they come, a JSON answer as one event.
pub(crate) async fn relay(resp: Response<Body>, tx: &mpsc::Sender<Bytes>) {
    let sse = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let mut body = resp.into_body();
    if sse {
        while let Some(Ok(piece)) = body.frame().await {
            let Ok(data) = piece.into_data() else {
                continue;
            };
            if tx.send(data).await.is_err() {
                return;
            }
        }
        return;
    }
    let mut whole = Vec::new();
    while let Some(Ok(piece)) = body.frame().await {
        if let Ok(data) = piece.into_data() {
            whole.extend_from_slice(&data);
        }
        if whole.len() > MAX_COLLECTED {
            let e = RpcError::method(code::INTERNAL, "the backend's answer is too large");
            let _ = tx.send(sse_event(&e.body(b"null"))).await;
            return;
        }
    }
    // One line: an event's data holds no newline.
    let one_line = serde_json::from_slice::<Value>(&whole)
        .map(|v| Bytes::from(v.to_string()))
        .unwrap_or_else(|_| Bytes::from(whole));
    let _ = tx.send(sse_event(&one_line)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(arguments: Value) -> Pending {
        Pending {
            policy: "confirm-destructive".into(),
            tool: "files__remove".into(),
            server: "files".into(),
            reason: Some("destructive".into()),
            arguments: Some(arguments),
        }
    }

    #[test]
    fn the_form_names_the_call_and_cuts_long_arguments() {
        let f = form(&pending(json!({"path": "/tmp/x"}))).unwrap();
        let m = f["message"].as_str().unwrap();
        for part in [
            "files__remove",
            "server files",
            "confirm-destructive",
            "destructive",
            "/tmp/x",
        ] {
            assert!(m.contains(part), "{part}: {m}");
        }
        assert_eq!(
            f["requestedSchema"]["properties"]["confirm"]["type"],
            "boolean"
        );
        let long = form(&pending(json!({"text": "é".repeat(5000)}))).unwrap();
        let m = long["message"].as_str().unwrap();
        assert!(m.len() < MAX_SHOWN + 400, "{}", m.len());
        assert!(m.contains("more bytes)"), "{m}");
    }

    #[test]
    fn every_argument_is_shown_and_a_long_one_cannot_push_another_out() {
        // A long value whose name sorts first took the whole text, and the path after
        // it was cut off the question while the server ran it.
        let args = json!({"aaa": "x".repeat(5000), "path": "/etc/victim", "mode": "rw",
            "zz": {"nested": "y".repeat(3000)}});
        let m = shown(Some(&args)).unwrap();
        assert!(m.len() <= MAX_SHOWN, "{}", m.len());
        for part in [
            "\"aaa\": \"xxx",
            "\"path\": \"/etc/victim\"",
            "\"mode\": \"rw\"",
            "\"zz\": {",
        ] {
            assert!(m.contains(part), "{part}: {m}");
        }
        // Each shortened value says by how much.
        assert_eq!(m.matches("more bytes)").count(), 2, "{m}");
        let cut = m.lines().find(|l| l.contains("\"aaa\"")).unwrap();
        let kept = cut.matches('x').count();
        assert!(
            cut.ends_with(&format!("… ({} more bytes)", 5002 - 1 - kept)),
            "{cut}"
        );
        // A name cannot start a line of its own: it is shown as JSON.
        let m = shown(Some(&json!({"a\n  \"path\": \"/tmp/ok\"": 1}))).unwrap();
        assert_eq!(m.lines().count(), 2, "{m}");
        // Small arguments are shown whole; none, as none.
        assert_eq!(shown(Some(&json!({"n": 1}))).unwrap(), "\n  \"n\": 1");
        assert_eq!(shown(None).unwrap(), " none");
    }

    #[test]
    fn arguments_that_cannot_all_be_shown_are_too_large_to_confirm() {
        let many: serde_json::Map<String, Value> = (0..300)
            .map(|i| (format!("argument_{i}"), json!(i)))
            .collect();
        assert_eq!(shown(Some(&Value::Object(many))), None);
        assert!(form(&pending(json!({"k".repeat(MAX_SHOWN): 1}))).is_none());
        let long: serde_json::Map<String, Value> = (0..60)
            .map(|i| (format!("a{i}"), json!("v".repeat(500))))
            .collect();
        assert_eq!(shown(Some(&Value::Object(long))), None);
        let e = refusal("p", "t", Outcome::TooLarge);
        assert_eq!(e.data.unwrap()["outcome"], "too large to confirm");
        assert!(e.message.contains("too large to confirm"), "{}", e.message);
    }

    #[test]
    fn only_an_accept_with_confirm_true_goes_on() {
        assert_eq!(
            accepted(&json!({"action": "accept", "content": {"confirm": true}})),
            Ok(())
        );
        for (answer, outcome) in [
            (
                json!({"action": "accept", "content": {"confirm": false}}),
                Outcome::Declined,
            ),
            (json!({"action": "accept"}), Outcome::Declined),
            (json!({"action": "decline"}), Outcome::Declined),
            (json!({"action": "cancel"}), Outcome::Cancelled),
            (json!(null), Outcome::Declined),
        ] {
            assert_eq!(accepted(&answer), Err(outcome), "{answer}");
        }
        let e = refusal("p", "t", Outcome::TimedOut);
        assert_eq!(e.code, -32003);
        let data = e.data.unwrap();
        assert_eq!(
            (data["confirm"].clone(), data["outcome"].clone()),
            (json!(true), json!("timed out"))
        );
    }
}
