//! Tool search, as clients use it. `search_tools` is a gateway tool ([`SearchTools`]):
//! it searches the caller's view and gives the full definitions of the tools found, best
//! first (in `structuredContent.tools`, and as text for clients that read only text).
//! `call_tool` is not a tool of its own: a `tools/call` of it is rewritten into the named
//! tool's own call before anything else reads it ([`call_tool`]), so the call is admitted,
//! routed, policed, forwarded, streamed, cancelled, retried and recorded as a direct call
//! of that tool is, in both eras.

use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::jsonrpc::frame::{self, Frame};
use crate::jsonrpc::methods::Method;
use crate::mcp::ctx::Ctx;
use crate::mcp::wire::rpc::{RpcError, code};
use crate::routing::gateway::{Called, GatewayCall, GatewayTool, ToolError};
use crate::routing::search::{CALL_TOOL, SEARCH_TOOLS};
use crate::search::{check_query, clamp_limit};

/// The gateway's `search_tools`.
pub struct SearchTools;

impl GatewayTool for SearchTools {
    fn name(&self) -> &str {
        SEARCH_TOOLS
    }

    fn search_tool(&self) -> bool {
        true
    }

    fn definition(&self) -> Value {
        json!({
            "title": "Search tools",
            "description": "Finds the tools that fit a need, among every tool this gateway reaches \
                for you. Say the need in a few words (\"create a branch in a GitHub repository\"). \
                Gives each tool's full definition, best first, with the search's confidence that it \
                serves the need (high, medium or low); call one with call_tool (or by its name). \
                An empty list means no tool here does this.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "What the tool should do, in a few words", "maxLength": crate::search::MAX_QUERY},
                    "limit": {"type": "integer", "minimum": 1, "maximum": crate::search::MAX_LIMIT,
                              "description": "Most tools to return (default 8)"}
                },
                "required": ["query"]
            },
            "annotations": {"title": "Search tools", "readOnlyHint": true, "openWorldHint": false}
        })
    }

    fn call<'a>(&'a self, call: GatewayCall<'a>) -> Called<'a> {
        Box::pin(async move { search(&call).await })
    }
}

/// One `search_tools` call: its result.
async fn search(call: &GatewayCall<'_>) -> Result<Value, ToolError> {
    let query = match call.arguments.get("query") {
        Some(Value::String(q)) => q.as_str(),
        Some(_) => return Err(ToolError::invalid("query must be a string")),
        None => return Err(ToolError::invalid("search_tools needs a query")),
    };
    check_query(query).map_err(ToolError::invalid)?;
    let limit = match call.arguments.get("limit") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().filter(|l| *l >= 1).ok_or_else(|| {
            ToolError::invalid("limit must be a whole number from 1 (at most 50 are given)")
        })?),
    };
    let found = call.view.search(query, clamp_limit(limit)).await;
    let tools: Vec<Value> = found
        .iter()
        .filter(|(t, _, _)| call.listed.is_none_or(|l| l(t)))
        .filter_map(|(t, _, confidence)| {
            let mut tool = crate::jsonrpc::read::value(&t.entry).ok()?;
            // In code mode, each tool's function as a script calls it.
            let declaration = call
                .view
                .code_mode
                .then(|| crate::codemode::typescript::declaration_of(&tool))
                .flatten();
            let o = tool.as_object_mut()?;
            o.insert("confidence".into(), confidence.as_str().into());
            if let Some(d) = declaration {
                o.insert("declaration".into(), d.into());
            }
            Some(tool)
        })
        .collect();
    if let (Some(learning), Some(asker)) = (&call.view.learning, &call.asker) {
        let shown = tools
            .iter()
            .filter_map(|t| t["name"].as_str())
            .map(String::from);
        learning.searched(call.view.learned_as(), asker, query, shown.collect());
    }
    Ok(json!({
        "content": [{"type": "text", "text": render(query, &tools)}],
        "structuredContent": {"tools": tools},
    }))
}

/// The tools found, as text: one paragraph a tool (its name, the search's confidence,
/// what it does, its arguments, required ones marked `*`), after a line saying when no
/// tool clearly fits.
fn render(query: &str, tools: &[Value]) -> String {
    if tools.is_empty() {
        return format!(
            "No tool fits {query:?}: none of the tools here does this. If you think one \
             should, say the need another way."
        );
    }
    let mut out = String::new();
    if tools.iter().all(|t| t["confidence"] == "low") {
        out.push_str(
            "No tool clearly fits; the nearest follow (confidence low). Check a tool's \
             description before calling it.\n",
        );
    }
    for t in tools {
        let required: Vec<&str> = t["inputSchema"]["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let args: Vec<String> = t["inputSchema"]["properties"]
            .as_object()
            .map(|p| {
                p.keys()
                    .map(|k| match required.contains(&k.as_str()) {
                        true => format!("{k}*"),
                        false => k.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let description = t["description"].as_str().unwrap_or_default();
        let first_line = description.lines().next().unwrap_or_default();
        out.push_str(&format!(
            "{} (confidence {}): {}\n  arguments: {}\n",
            t["name"].as_str().unwrap_or_default(),
            t["confidence"].as_str().unwrap_or("low"),
            first_line,
            if args.is_empty() {
                "none".to_string()
            } else {
                args.join(", ")
            }
        ));
    }
    out.push_str("Call one with call_tool {\"name\", \"arguments\"}, or by its name.");
    out
}

/// The bytes of a search-mode `tools/list`'s entries: `search_tools` and `call_tool`.
pub fn listed_bytes() -> usize {
    let mut entry = SearchTools.definition();
    entry["name"] = Value::String(SEARCH_TOOLS.into());
    entry.to_string().len() + 1 + crate::routing::search::call_tool_entry().len() + 1
}

/// A `tools/call` of `call_tool` in a view whose search is on, rewritten into the named
/// tool's own call (same id, the other `params` members kept: `_meta`, `task`); `None`
/// for any other request.
pub fn call_tool(ctx: &Ctx, body: &Bytes, f: &Frame) -> Result<Option<(Bytes, Frame)>, RpcError> {
    if !ctx.view.search || !f.is(Method::ToolsCall) {
        return Ok(None);
    }
    if f.name.and_then(|s| frame::string_value(body, s)).as_deref() != Some(CALL_TOOL) {
        return Ok(None);
    }
    let invalid = |m: String| RpcError::method(code::INVALID_PARAMS, m);
    let mut message: Value = crate::jsonrpc::read::value(body)
        .map_err(|_| invalid("the request cannot be read one way".to_string()))?;
    let Some(params) = message.get_mut("params").and_then(Value::as_object_mut) else {
        return Err(invalid("call_tool needs params".into()));
    };
    let Value::Object(inner) = params.remove("arguments").unwrap_or(Value::Null) else {
        return Err(invalid(
            "call_tool needs arguments: {\"name\": the tool's name, \"arguments\": its arguments}"
                .into(),
        ));
    };
    let name = match inner.get("name") {
        Some(Value::String(n)) => n.clone(),
        _ => {
            return Err(invalid(
                "call_tool needs arguments.name: the name search_tools gave the tool".into(),
            ));
        }
    };
    if name == CALL_TOOL || ctx.view.served(&name).is_some() {
        return Err(invalid(format!(
            "call_tool calls the tools search_tools finds; {name:?} is the gateway's own: call it by its name"
        )));
    }
    let tool_arguments = match inner.get("arguments") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(Value::Object(a)) => Value::Object(a.clone()),
        Some(_) => {
            return Err(invalid(
                "call_tool's arguments.arguments must be an object".into(),
            ));
        }
    };
    params.insert("name".into(), Value::String(name));
    params.insert("arguments".into(), tool_arguments);
    let rewritten = Bytes::from(message.to_string());
    let f = frame::parse(&rewritten).map_err(|e| invalid(format!("call_tool: {e:?}")))?;
    Ok(Some((rewritten, f)))
}
