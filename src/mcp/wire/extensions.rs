//! The extensions of a 2026-07-28 client's request that reach a backend: those the
//! gateway carries (MCP Apps, tasks); any other the client declares is left out of the
//! `io.modelcontextprotocol/clientCapabilities` the backend sees (the policy is
//! [`crate::base::caps`]'s). Most requests declare no extension, and are not parsed.

use bytes::Bytes;
use serde_json::Value;

use crate::jsonrpc::frame;

/// The extensions a backend may be told a client declared.
const CARRIED: [&str; 2] = [
    crate::routing::UI_EXTENSION,
    crate::routing::TASKS_EXTENSION,
];
const CAPS_KEY: &str = "io.modelcontextprotocol/clientCapabilities";

static EXTENSIONS: crate::jsonrpc::needle::Needle = crate::needle!(b"\"extensions\"");

/// `body` with the extensions the gateway does not carry left out of its `_meta`; the
/// body itself when it declares none.
pub(in crate::mcp) fn carried_only(body: Bytes) -> Bytes {
    if !EXTENSIONS.in_(&body) {
        return body;
    }
    let Ok(f) = frame::parse(&body) else {
        return body;
    };
    let Some(span) = f.meta.and_then(|s| frame::container_span(&body, s.start)) else {
        return body;
    };
    let Ok(mut meta) = crate::jsonrpc::read::value(span.of(&body)) else {
        return body;
    };
    let Some(declared) = meta
        .get_mut(CAPS_KEY)
        .and_then(|c| c.get_mut("extensions"))
        .and_then(Value::as_object_mut)
    else {
        return body;
    };
    let before = declared.len();
    declared.retain(|name, _| CARRIED.contains(&name.as_str()));
    if declared.len() == before {
        return body;
    }
    let text = meta.to_string();
    frame::splice(&body, &mut [(span, text.as_bytes())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_carried_extensions_reach_a_backend() {
        let body = Bytes::from_static(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","_meta":{"progressToken":"p","io.modelcontextprotocol/clientCapabilities":{"sampling":{},"extensions":{"com.example/spy":{"x":1},"io.modelcontextprotocol/ui":{"mimeTypes":["text/html;profile=mcp-app"]}}}},"arguments":{"extensions":1}}}"#,
        );
        let out = carried_only(body);
        let v: Value = serde_json::from_slice(&out).unwrap();
        let caps = &v["params"]["_meta"][CAPS_KEY];
        assert_eq!(
            caps["extensions"],
            serde_json::json!({"io.modelcontextprotocol/ui": {"mimeTypes": ["text/html;profile=mcp-app"]}})
        );
        assert_eq!(caps["sampling"], serde_json::json!({}));
        assert_eq!(v["params"]["_meta"]["progressToken"], "p");
        assert_eq!(v["params"]["arguments"]["extensions"], 1);
        assert_eq!(v["id"], 1);
        // Nothing to leave out: the very same bytes.
        for same in [
            &br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"extensions":{}}}}"#[..],
            br#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"extensions":{"io.modelcontextprotocol/tasks":{}}}}}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"extensions":[]}}}}"#,
            br#"not json "extensions""#,
        ] {
            let b = Bytes::copy_from_slice(same);
            assert_eq!(carried_only(b.clone()), b);
        }
    }
}
