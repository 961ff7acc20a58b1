//! `run_code` as the gateway serves it (code mode, [`crate::codemode`]): the gateway tool
//! a code-mode view lists, and one run of a script whose inner calls go through the
//! `Host` the pipeline hands in (each a `tools/call` of the caller's view, walking what a
//! direct call walks). The run holds a place among the runs of its key and of the
//! process, and stops when the request that started it goes away.

use serde_json::{Map, Value};

use crate::codemode::{self, Host, RunOutcome, Tool};
use crate::mcp::ctx::Ctx;
use crate::mcp::wire::rpc::RpcError;
use crate::routing::{Called, GatewayCall, GatewayTool, ToolError};

/// The gateway tool `run_code`: listed only in views whose code mode is on, under its
/// own name; its calls are run by the pipeline ([`run`]), never through
/// [`GatewayTool::call`].
pub struct RunCode {
    definition: Value,
}

impl RunCode {
    /// The tool, its description naming `bounds`.
    pub fn new(bounds: &codemode::Bounds) -> RunCode {
        RunCode {
            definition: codemode::tool::definition(bounds),
        }
    }
}

impl GatewayTool for RunCode {
    fn name(&self) -> &str {
        codemode::RUN_CODE
    }

    fn search_tool(&self) -> bool {
        true
    }

    fn definition(&self) -> Value {
        self.definition.clone()
    }

    fn call<'a>(&'a self, _call: GatewayCall<'a>) -> Called<'a> {
        // The pipeline runs `run_code` with its host (`mcp::served::call`); a table
        // built without one has nothing to run the script's calls through.
        Box::pin(async {
            Err(ToolError {
                code: crate::mcp::wire::rpc::code::INTERNAL,
                message: "run_code runs only through the gateway's MCP endpoint".into(),
            })
        })
    }
}

/// One `run_code` call of the caller in `ctx`, its inner calls through `host`: the run's
/// `CallToolResult`, or the refusal of the call itself (no code, the runs' bound).
pub(crate) async fn run(
    ctx: &Ctx,
    host: &dyn Host,
    arguments: &Map<String, Value>,
) -> Result<Value, RpcError> {
    let code = codemode::tool::code_argument(arguments)
        .map_err(|e| RpcError::method(e.code, e.message))?;
    let key = ctx.principal.as_ref().map(|p| p.key_id);
    let permit = ctx.state.code_runs.acquire(key).map_err(|busy| {
        let message = format!(
            "{busy}: wait for one to end and call again, or ask an admin to raise {}",
            busy.setting()
        );
        RpcError::limited(message, busy.setting(), 1000)
    })?;
    let tools = script_tools(ctx);
    let bounds = &ctx.state.config.code.bounds;
    // The request's future owns the run: when the client goes away it is dropped, and
    // the run with it (the engine's thread is interrupted).
    let outcome = codemode::run(
        code,
        host,
        &tools,
        bounds,
        None,
        permit,
        std::future::pending::<()>(),
    )
    .await;
    match outcome {
        RunOutcome::Finished(report) => Ok(report.to_result()),
        // This host never suspends: a confirmation an inner call needs is refused there.
        RunOutcome::Suspended { .. } => Err(RpcError::method(
            crate::mcp::wire::rpc::code::INTERNAL,
            "the run stopped for an answer the gateway cannot ask here",
        )),
    }
}

/// The tools of the caller's view as a script sees them: by the name the view exposes,
/// with their schemas.
fn script_tools(ctx: &Ctx) -> Vec<Tool> {
    ctx.view
        .tools
        .iter()
        .filter_map(|t| {
            let entry = crate::jsonrpc::read::value(&t.entry).ok()?;
            Some(Tool {
                name: t.name.clone(),
                input_schema: entry.get("inputSchema").cloned().unwrap_or(Value::Null),
                output_schema: entry.get("outputSchema").cloned(),
            })
        })
        .collect()
}
