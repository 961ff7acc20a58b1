//! The standard headers of a 2026-07-28 request (SEP-2243): `MCP-Protocol-Version` as
//! `_meta` names it, `Mcp-Method` as the body's `method`, and `Mcp-Name` as its
//! `params.name` (`tools/call`, `prompts/get`) or `params.uri` (`resources/read`).
//! Missing or different: HTTP 400 with -32020. A value is compared after the
//! whitespace around it is trimmed (RFC 9110) and, in its `=?base64?…?=` form, decoded
//! (standard alphabet, padded; anything else in that form is refused); values are
//! case-sensitive.

use std::borrow::Cow;

use hyper::{HeaderMap, StatusCode};

use crate::http::header_str;
use crate::http::names;
use crate::jsonrpc::frame::{Frame, string_value};
use crate::jsonrpc::methods::Method;
use crate::mcp::wire::rpc::{RpcError, code};

/// A header value as the body would have it: trimmed, and decoded from its Base64 form.
/// `None`: the Base64 form is broken (bad characters, padding or UTF-8).
pub fn decoded(value: &str) -> Option<Cow<'_, str>> {
    let v = value.trim_matches([' ', '\t']);
    let Some(inner) = v
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    else {
        return Some(Cow::Borrowed(v));
    };
    let bytes = crate::crypto::base64_decode_padded(inner)?;
    String::from_utf8(bytes).ok().map(Cow::Owned)
}

fn mismatch(message: String) -> RpcError {
    RpcError::new(StatusCode::BAD_REQUEST, code::HEADER_MISMATCH, message)
}

/// Checks the standard headers of a stateless request (or notification) against its
/// body; `version` is the protocol version its `_meta` names, if it names one.
pub fn check(
    headers: &HeaderMap,
    body: &[u8],
    f: &Frame,
    method: &str,
    version: Option<&str>,
) -> Result<(), RpcError> {
    // A client's answer to a request carries no method, and names its era only here.
    if f.method.is_none() {
        return Ok(());
    }
    let header =
        |name: hyper::header::HeaderName, what: &str| -> Result<Option<Cow<'_, str>>, RpcError> {
            match header_str(headers, name) {
                None => Ok(None),
                Some(v) => decoded(v).map(Some).ok_or_else(|| {
                    mismatch(format!("the {what} header's Base64 form is malformed"))
                }),
            }
        };
    match (
        header(names::MCP_PROTOCOL_VERSION, "MCP-Protocol-Version")?,
        version,
    ) {
        (None, _) => {
            return Err(mismatch(
                "the MCP-Protocol-Version header is required".into(),
            ));
        }
        (Some(h), Some(v)) if h != v => {
            return Err(mismatch(format!(
                "the MCP-Protocol-Version header ({h}) does not match params._meta ({v})"
            )));
        }
        _ => {}
    }
    match header(names::MCP_METHOD, "Mcp-Method")? {
        None => return Err(mismatch("the Mcp-Method header is required".into())),
        Some(h) if h != method => {
            return Err(mismatch(
                "the Mcp-Method header does not match the request body".into(),
            ));
        }
        Some(_) => {}
    }
    let body_name = match f.kind {
        Some(Method::ToolsCall | Method::PromptsGet) => f.name.and_then(|s| string_value(body, s)),
        Some(Method::ResourcesRead) => f.uri.and_then(|s| string_value(body, s)),
        // The tasks extension's: the task's id, when the client sends the header.
        Some(m) if m.is_task_ext() && header_str(headers, names::MCP_NAME).is_some() => {
            task_id(body, f).map(Cow::Owned)
        }
        _ => None,
    };
    match (header(names::MCP_NAME, "Mcp-Name")?, body_name) {
        (None, Some(_)) => Err(mismatch(format!(
            "the Mcp-Name header is required for {method}"
        ))),
        (Some(h), Some(b)) if h != b => Err(mismatch(
            "the Mcp-Name header does not match the request body".into(),
        )),
        (Some(_), None) if f.kind.is_some_and(Method::calls_item) => Err(mismatch(
            "the Mcp-Name header names what the body does not".into(),
        )),
        _ => Ok(()),
    }
}

/// A tasks request's `params.taskId`.
fn task_id(body: &[u8], f: &Frame) -> Option<String> {
    let params = crate::jsonrpc::frame::container_span(body, f.params?.start)?;
    let v = crate::jsonrpc::read::value(params.of(body)).ok()?;
    v["taskId"].as_str().map(str::to_string)
}

/// Checks a `tools/call`'s `Mcp-Param-*` headers against its arguments, for each
/// argument the tool declares `x-mcp-header` on: a value in the body needs its header with
/// the same value (a string as it is, an integer in decimal, `true`/`false`; the header's
/// Base64 form decoded), and a header needs the value. Anything else: 400 with -32020.
pub fn check_params(
    headers: &HeaderMap,
    body: &[u8],
    params: &[(String, String)],
) -> Result<(), RpcError> {
    if params.is_empty() {
        return Ok(());
    }
    let v = crate::jsonrpc::read::value(body).unwrap_or_default();
    let args = &v["params"]["arguments"];
    for (property, name) in params {
        let header = format!("mcp-param-{name}");
        let sent = match header_str(headers, header.as_str()) {
            None => None,
            Some(raw) => Some(decoded(raw).ok_or_else(|| {
                mismatch(format!(
                    "the Mcp-Param-{name} header's Base64 form is malformed"
                ))
            })?),
        };
        let expected = match &args[property.as_str()] {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
            _ => {
                return Err(mismatch(format!(
                    "argument {property:?} (sent as Mcp-Param-{name}) must be a string, integer or boolean"
                )));
            }
        };
        match (sent, expected) {
            (None, None) => {}
            (Some(h), Some(e)) if *h == *e => {}
            (None, Some(_)) => {
                return Err(mismatch(format!(
                    "the Mcp-Param-{name} header is required: argument {property:?} is set"
                )));
            }
            _ => {
                return Err(mismatch(format!(
                    "the Mcp-Param-{name} header does not match argument {property:?}"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_trimmed_and_base64_decoded_strictly() {
        assert_eq!(decoded("  tools/call\t").as_deref(), Some("tools/call"));
        assert_eq!(
            decoded("=?base64?SGVsbG8sIOS4lueVjA==?=").as_deref(),
            Some("Hello, 世界")
        );
        assert_eq!(decoded("=?base64?YQ==?=").as_deref(), Some("a"));
        assert_eq!(decoded("=?base64?YWI=?=").as_deref(), Some("ab"));
        assert_eq!(decoded("=?base64?YWJj?=").as_deref(), Some("abc"));
        for bad in [
            "=?base64?YQ?=",       // padding left out
            "=?base64?YQ=?=",      // wrong length
            "=?base64?Y!==?=",     // not the alphabet
            "=?base64?YR==?=",     // stray bits
            "=?base64?YQ==YQ==?=", // padding inside
            "=?base64?_w==?=",     // URL-safe alphabet
            "=?base64?/w==?=",     // not UTF-8
        ] {
            assert!(decoded(bad).is_none(), "{bad}");
        }
        assert_eq!(
            decoded("=?base64?").as_deref(),
            Some("=?base64?"),
            "not the form: literal"
        );
    }

    #[test]
    fn param_headers_must_mirror_the_arguments_they_declare() {
        let params = vec![
            ("region".to_string(), "Region".to_string()),
            ("n".to_string(), "N".to_string()),
        ];
        let body = |args: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"t","arguments":{args}}}}}"#
            )
        };
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, v.parse().unwrap());
            }
            h
        };
        let ok = |h: &HeaderMap, b: &str| check_params(h, b.as_bytes(), &params).is_ok();
        let b = body(r#"{"region":"Hello","n":7}"#);
        assert!(ok(
            &with(&[("mcp-param-region", "Hello"), ("mcp-param-n", "7")]),
            &b
        ));
        assert!(ok(
            &with(&[
                ("mcp-param-region", "=?base64?SGVsbG8=?="),
                ("mcp-param-n", "7")
            ]),
            &b
        ));
        for bad in [
            with(&[("mcp-param-n", "7")]),
            with(&[("mcp-param-region", "Hallo"), ("mcp-param-n", "7")]),
            with(&[
                ("mcp-param-region", "=?base64?SGVsbG8?="),
                ("mcp-param-n", "7"),
            ]),
            with(&[
                ("mcp-param-region", "=?base64?SGVs!!!bG8=?="),
                ("mcp-param-n", "7"),
            ]),
            with(&[("mcp-param-region", "Hello"), ("mcp-param-n", "07")]),
        ] {
            let e = check_params(&bad, b.as_bytes(), &params).unwrap_err();
            assert_eq!(
                (e.status, e.code),
                (StatusCode::BAD_REQUEST, code::HEADER_MISMATCH)
            );
        }
        // Not in the body: no header, and a header alone is refused.
        assert!(ok(&HeaderMap::new(), &body("{}")));
        assert!(!ok(&with(&[("mcp-param-region", "x")]), &body("{}")));
        // A literal that merely looks like Base64 is compared as it is.
        let b64 = body(r#"{"region":"SGVsbG8="}"#);
        assert!(ok(&with(&[("mcp-param-region", "SGVsbG8=")]), &b64));
        assert!(
            crate::routing::header_params(&serde_json::json!({"inputSchema": {"properties": {
                "a": {"type": "string", "x-mcp-header": "Region"},
                "b": {"type": "object", "x-mcp-header": "Obj"},
                "c": {"type": "string", "x-mcp-header": "bad name"},
                "d": {"type": "integer", "x-mcp-header": "region"}}}}))
            .iter()
            .map(|(p, h)| (p.as_str(), h.as_str()))
            .eq([("a", "Region")])
        );
    }
}
