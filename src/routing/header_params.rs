//! The arguments a 2026-07-28 client also sends as `Mcp-Param-*` headers (SEP-2243),
//! read once from each tool's input schema when the routing table is built.

use std::sync::Arc;

use serde_json::Value;

/// The valid `x-mcp-header` declarations of a tool's input schema: on a string, integer
/// or boolean property directly under `properties`, naming an RFC 9110 token not named
/// twice (case-insensitively). Invalid ones are not checked (clients drop such tools).
pub fn header_params(tool: &Value) -> Arc<[(String, String)]> {
    let Some(props) = tool["inputSchema"]["properties"].as_object() else {
        return Arc::from([]);
    };
    let token = |h: &str| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, p) in props {
        let Some(h) = p.get("x-mcp-header").and_then(Value::as_str) else {
            continue;
        };
        let typed = matches!(p["type"].as_str(), Some("string" | "integer" | "boolean"));
        if typed && token(h) && !out.iter().any(|(_, o)| o.eq_ignore_ascii_case(h)) {
            out.push((name.clone(), h.to_string()));
        }
    }
    Arc::from(out)
}
