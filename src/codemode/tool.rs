//! `run_code` as a tool: its definition (the listing entry, less its name) and the
//! reading of its arguments, so the gateway tool the pipeline registers is a few lines
//! around [`run`](super::run()).

use serde_json::{Map, Value, json};

use super::{Bounds, InnerError, PARALLEL};

/// `run_code`'s listing entry without its name: what it does and its bounds, its
/// `inputSchema` and `outputSchema`.
pub fn definition(bounds: &Bounds) -> Value {
    let description = format!(
        "Runs a JavaScript script that calls this gateway's tools as functions, in one round \
         trip, and gives back only what the script returns. The script is the body of an \
         async function: use await, and return the result. Globals: tools.<name>(args) for \
         each tool, by the name tools/list or search_tools gives it (tools[\"a-b\"](args) for \
         a name that is not an identifier); callTool(name, args, {{raw: true}}) by name; \
         searchTools(query, limit) finds tools; console.log(...) for the logs. A call resolves \
         to the tool's structuredContent, else its text; with raw, to the whole result. A \
         refused or failed call throws an Error with the JSON-RPC code and data; catch it to \
         go on. Promise.all runs calls concurrently ({PARALLEL} at once). Bounds: {} ms, {} \
         MiB of memory, {} inner calls, {} bytes of code, {} bytes of logs and result. No \
         network, files, timers or eval; Date.now() and Math.random() are fixed per run.",
        bounds.timeout.as_millis(),
        bounds.memory >> 20,
        bounds.max_calls,
        bounds.max_bytes,
        bounds.max_output,
    );
    json!({
        "title": "Run code",
        "description": description,
        "inputSchema": {
            "type": "object",
            "properties": {
                "code": {
                    "type": "string",
                    "maxLength": bounds.max_bytes,
                    "description": "JavaScript: the body of an async function (await, return)"
                }
            },
            "required": ["code"]
        },
        "outputSchema": {
            "type": "object",
            "properties": {
                "result": {"description": "the value the script returned, as JSON"},
                "logs": {"type": "array", "items": {"type": "string"}},
                "calls": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "tool": {"type": "string"},
                        "ok": {"type": "boolean"},
                        "ms": {"type": "integer"},
                        "replayed": {"type": "boolean"}
                    },
                    "required": ["tool", "ok", "ms"]
                }},
                "error": {"type": "string"},
                "bound": {"enum": ["time", "memory", "calls", "output", "code"]}
            },
            "required": ["result", "logs", "calls"]
        },
        "annotations": {
            "title": "Run code",
            "readOnlyHint": false,
            "destructiveHint": true,
            "openWorldHint": true
        }
    })
}

/// The script of a `run_code` call's arguments, or the `-32602` error saying what is
/// wrong.
pub fn code_argument(arguments: &Map<String, Value>) -> Result<&str, InnerError> {
    let invalid = |message: &str| InnerError {
        code: -32602,
        message: message.to_string(),
        data: None,
    };
    match arguments.get("code") {
        Some(Value::String(code)) => Ok(code),
        Some(_) => Err(invalid("run_code's code must be a string")),
        None => Err(invalid("run_code needs code: a JavaScript function body")),
    }
}
