//! The pipeline as a script's inner calls meet it (code mode's `Host`): each inner call
//! is a `tools/call` of the caller's view, admitted against the key's rate and places in
//! flight as a request is (the run's own charge and place are lent to its calls:
//! [`crate::mcp::admission::Lent`]) and charged as its tool, so it is routed within the caller's reach, refused if held or disabled, policed,
//! guarded, rate-limited, forwarded, recorded and audited as a direct call of that tool.
//! A search is the view's own `search_tools`, by the same path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::{Map, Value, json};

use crate::codemode::{Charge, GATEWAY_OWN, Host, HostError, HostFuture, InnerError, UserWaits};
use crate::jsonrpc::frame::{self, Frame};
use crate::mcp::admission::{InnerPlace, Lent};
use crate::mcp::code_run::Asking;
use crate::mcp::confirm;
use crate::mcp::ctx::{Confirmation, Ctx, Outcome};
use crate::mcp::phases::{Message, Origin};
use crate::mcp::wire::rpc::{MAX_COLLECTED, RpcError, code};
use crate::mcp::wire::run_state::InnerAsk;

/// The caller's pipeline, for one run's inner calls.
pub struct PipelineHost {
    /// The run's caller, for its inner calls: a confirmation is handed back here.
    ctx: Ctx,
    /// How this run's client is asked.
    asking: Asking,
    /// The run's waits for its user (its time bound excuses them).
    waits: Option<Arc<UserWaits>>,
    /// The client's answer to the confirmation a resumed run stopped for, until the
    /// call it was for comes again.
    answer: Mutex<Option<(InnerAsk, Value)>>,
    /// The inner calls' ids (their answers are read here, never by the client).
    next: AtomicU64,
    /// What the run's own admission lends its inner calls (its rate charge, its place).
    lent: Lent,
}

impl PipelineHost {
    /// The pipeline for the inner calls of the run `ctx` called, asking its client as
    /// `asking` says; `run`, the run's audit identity, is each inner call's parent.
    pub fn new(ctx: &Ctx, asking: Asking, run: uuid::Uuid) -> PipelineHost {
        let waits = matches!(asking, Asking::Stream(_))
            .then(|| Arc::new(UserWaits::new(ctx.state.config.parked.confirm_ttl)));
        PipelineHost {
            ctx: Ctx {
                run: Some(run),
                ..ctx.derived(Confirmation::ByRun)
            },
            asking,
            waits,
            answer: Mutex::new(
                ctx.resume
                    .as_ref()
                    .map(|r| (r.inner.clone(), r.answer.clone())),
            ),
            next: AtomicU64::new(1),
            lent: Lent::default(),
        }
    }

    /// One `tools/call` of `name` with `arguments` through the pipeline, traced as a span
    /// of its own under the run's; its answer is read within `charge`, when given.
    async fn call_tool(
        &self,
        name: &str,
        arguments: Value,
        charge: Option<Charge>,
    ) -> Result<Value, HostError> {
        let ctx = Ctx {
            charge,
            ..self.ctx.nested()
        };
        let start = std::time::SystemTime::now();
        let result = self.call_in(&ctx, name, arguments).await;
        let error = match &result {
            Err(HostError::Refused(e)) => Some(e.code),
            _ => None,
        };
        crate::mcp::spans::inner_span(&ctx, name, start, error);
        result
    }

    /// The call in `base` (the run's context, under the call's own span): the tool's
    /// result, or the error a direct call would have had. A confirmation it needs is
    /// asked as this run's client can be asked.
    async fn call_in(&self, base: &Ctx, name: &str, arguments: Value) -> Result<Value, HostError> {
        let digest = arguments
            .as_object()
            .map(crate::codemode::journal::digest)
            .unwrap_or_default();
        if let Some((inner, answer)) = self.answered(name, &digest) {
            // The call the run stopped for, with the client's answer and its state.
            let retry = self.request(name, &arguments, Some((&answer, &inner.state)));
            let f = parse(&retry)?;
            let mut ctx = base.derived(Confirmation::Unasked);
            let (body, f) = confirm::resumed(&mut ctx, &retry, &f)
                .await
                .map_err(|e| HostError::Refused(inner_error(&ctx, e)))?
                .unwrap_or((retry, f));
            return self.send(&ctx, &body, &f, &mut None).await.and_then(result);
        }
        let body = self.request(name, &arguments, None);
        let f = parse(&body)?;
        // The call's place, taken by its first admission and held until the call ends,
        // its confirmation's retry included: one call.
        let mut place = None;
        let message = self.send(base, &body, &f, &mut place).await?;
        let Some((state, form)) = message
            .get("result")
            .and_then(|r| confirm::handed_back(base, &body, name, r))
        else {
            return result(message);
        };
        let confirmation = match &self.asking {
            Asking::Suspend => {
                return Err(HostError::Suspend(
                    json!({"tool": name, "digest": digest, "state": state, "form": form}),
                ));
            }
            Asking::Cannot => Confirmation::Refused(Outcome::CannotAsk),
            Asking::Stream(tx) => {
                let _waiting = self.waits.as_ref().map(|w| w.begin());
                match confirm::ask_on(base, &form, tx).await {
                    Ok(()) => Confirmation::Accepted,
                    Err(o) => Confirmation::Refused(o),
                }
            }
        };
        // Asked: the call again, with the answer (a refusal is recorded as a direct
        // call's is).
        let ctx = base.derived(confirmation);
        self.send(&ctx, &body, &f, &mut place)
            .await
            .and_then(result)
    }

    /// The answer a resumed run carries, if `name` with arguments `digest` is the call
    /// it was for (taken: it answers one call).
    fn answered(&self, name: &str, digest: &str) -> Option<(InnerAsk, Value)> {
        let mut slot = self.answer.lock().unwrap_or_else(|e| e.into_inner());
        let matches = slot
            .as_ref()
            .is_some_and(|(inner, _)| inner.tool == name && inner.digest == digest);
        matches.then(|| slot.take()).flatten()
    }

    /// The inner call's request, with a retry's answer and state when given.
    fn request(&self, name: &str, arguments: &Value, retry: Option<(&Value, &str)>) -> Bytes {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut request = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                                 "params": {"name": name, "arguments": arguments}});
        if let Some((answer, state)) = retry {
            request["params"]["inputResponses"] = json!({ "confirm": answer });
            request["params"]["requestState"] = state.into();
        }
        Bytes::from(request.to_string())
    }

    /// The request through the pipeline's entry under `ctx`: admitted into `place` on
    /// what the run lends ([`Lent`]) unless the call holds one already; the whole answer,
    /// read. A refusal is recorded as a direct call's is.
    async fn send<'r>(
        &'r self,
        ctx: &Ctx,
        body: &Bytes,
        f: &Frame,
        place: &mut Option<InnerPlace<'r>>,
    ) -> Result<Value, HostError> {
        let origin = Origin::Inner {
            lent: &self.lent,
            place,
        };
        let msg = Message { body, frame: f };
        let resp = super::enter(ctx, msg, origin)
            .await
            .map_err(|e| HostError::Refused(inner_error(ctx, e)))?;
        let answer = read_whole(resp.into_body()).await?;
        crate::jsonrpc::read::value(&answer).map_err(|_| {
            refused(
                code::INTERNAL,
                "the tool's answer could not be read one way",
                None,
            )
        })
    }
}

fn parse(body: &Bytes) -> Result<Frame, HostError> {
    frame::parse_request(body)
        .map_err(|_| refused(code::INVALID_PARAMS, "the call could not be written", None))
}

/// A call's answer: its result, or its error as the script's.
fn result(mut message: Value) -> Result<Value, HostError> {
    if let Some(error) = message.get_mut("error") {
        let code = error["code"].as_i64().unwrap_or(code::INTERNAL);
        let text = error["message"]
            .as_str()
            .unwrap_or("the call failed")
            .to_string();
        return Err(refused(code, &text, error.get_mut("data").map(Value::take)));
    }
    match message.get_mut("result").map(Value::take) {
        Some(result @ Value::Object(_)) => Ok(result),
        _ => Err(refused(
            code::INTERNAL,
            "the tool answered without a result",
            None,
        )),
    }
}

impl Host for PipelineHost {
    fn call(&self, name: String, arguments: Map<String, Value>, charge: Charge) -> HostFuture<'_> {
        Box::pin(async move {
            // A script reaches the gateway's own tools through its own functions
            // (`searchTools`, `callTool`); `run_code` never nests.
            if GATEWAY_OWN.contains(&name.as_str()) {
                return Err(refused(
                    code::INVALID_PARAMS,
                    &format!("{name} is the gateway's own tool: a script cannot call it"),
                    None,
                ));
            }
            self.call_tool(&name, Value::Object(arguments), Some(charge))
                .await
        })
    }

    fn search(&self, query: String, limit: Option<u64>) -> HostFuture<'_> {
        Box::pin(async move {
            let mut arguments = json!({ "query": query });
            if let Some(limit) = limit {
                arguments["limit"] = limit.into();
            }
            self.call_tool("search_tools", arguments, None).await
        })
    }

    fn user_waits(&self) -> Option<Arc<UserWaits>> {
        self.waits.clone()
    }
}

/// A refusal with the JSON-RPC error's `code`, `message` and `data`.
fn refused(code: i64, message: &str, data: Option<Value>) -> HostError {
    HostError::Refused(InnerError {
        code,
        message: message.to_string(),
        data,
    })
}

/// The gateway's refusal of an inner call as the script sees it: the code and `data` a
/// direct call of the run's client would have had, in its era.
fn inner_error(ctx: &Ctx, e: RpcError) -> InnerError {
    let e = e.in_era(ctx.client_modern());
    InnerError {
        code: e.code,
        message: e.message,
        data: e.data,
    }
}

/// A whole answer's bytes, bounded as a collected answer is.
async fn read_whole(body: crate::http::Body) -> Result<Bytes, HostError> {
    let limited = http_body_util::Limited::new(body, MAX_COLLECTED);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => Err(refused(
            code::INTERNAL,
            &format!("the tool's answer could not be read: {e}"),
            None,
        )),
    }
}
