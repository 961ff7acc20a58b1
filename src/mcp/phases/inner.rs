//! The pipeline as a script's inner calls meet it (code mode's `Host`): each inner call
//! is a `tools/call` of the caller's view re-entering the pipeline after phase 1 (the
//! run's request was admitted and charged once; each inner call is charged as its tool),
//! so it is routed within the caller's reach, refused if held or disabled, policed,
//! guarded, rate-limited, forwarded, recorded and audited as a direct call of that tool.
//! A search is the view's own `search_tools`, by the same path.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::{Map, Value, json};

use crate::codemode::{GATEWAY_OWN, Host, HostError, HostFuture, InnerError};
use crate::jsonrpc::frame;
use crate::mcp::ctx::Ctx;
use crate::mcp::hop::exchange::Shape;
use crate::mcp::wire::rpc::{MAX_COLLECTED, RpcError, code};

/// The caller's pipeline, for one run's inner calls.
pub struct PipelineHost<'a> {
    /// The run's caller, for its inner calls.
    ctx: Ctx,
    run: std::marker::PhantomData<&'a Ctx>,
    /// The inner calls' ids (their answers are read here, never by the client).
    next: AtomicU64,
}

impl<'a> PipelineHost<'a> {
    pub fn new(ctx: &'a Ctx) -> PipelineHost<'a> {
        PipelineHost {
            ctx: ctx.derived(crate::mcp::ctx::Confirmation::Unasked),
            run: std::marker::PhantomData,
            next: AtomicU64::new(1),
        }
    }

    /// One `tools/call` of `name` with `arguments` through the pipeline: the tool's
    /// result, or the error a direct call would have had.
    async fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, HostError> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let request = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                             "params": {"name": name, "arguments": arguments}});
        let body = Bytes::from(request.to_string());
        let f = frame::parse_request(&body)
            .map_err(|_| refused(code::INVALID_PARAMS, "the call could not be written", None))?;
        let resp = Box::pin(super::admitted(&self.ctx, &body, &f, Shape::Whole, None))
            .await
            .map_err(|e| HostError::Refused(inner(e)))?;
        let answer = read_whole(resp.into_body()).await?;
        let mut message = crate::jsonrpc::read::value(&answer).map_err(|_| {
            refused(
                code::INTERNAL,
                "the tool's answer could not be read one way",
                None,
            )
        })?;
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
}

impl Host for PipelineHost<'_> {
    fn call(&self, name: String, arguments: Map<String, Value>) -> HostFuture<'_> {
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
            self.call_tool(&name, Value::Object(arguments)).await
        })
    }

    fn search(&self, query: String, limit: Option<u64>) -> HostFuture<'_> {
        Box::pin(async move {
            let mut arguments = json!({ "query": query });
            if let Some(limit) = limit {
                arguments["limit"] = limit.into();
            }
            self.call_tool("search_tools", arguments).await
        })
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

fn inner(e: RpcError) -> InnerError {
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
