//! The standard headers of a 2026-07-28 request (SEP-2243): `MCP-Protocol-Version` as
//! `_meta` names it, `Mcp-Method` as the body's `method`, and `Mcp-Name` as its
//! `params.name` (`tools/call`, `prompts/get`) or `params.uri` (`resources/read`).
//! Missing or different: HTTP 400 with -32020. A value is compared after the
//! whitespace around it is trimmed (RFC 9110) and, in its `=?base64?…?=` form, decoded
//! (standard alphabet, padded; anything else in that form is refused); values are
//! case-sensitive.

use std::borrow::Cow;

use hyper::{HeaderMap, StatusCode};

use crate::http::names;
use crate::jsonrpc::frame::{Frame, string_value};
use crate::mcp::header_str;
use crate::proxy::rpc::{RpcError, code};

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
    let body_name = match method {
        "tools/call" | "prompts/get" => f.name,
        "resources/read" => f.uri,
        _ => None,
    }
    .and_then(|s| string_value(body, s));
    match (header(names::MCP_NAME, "Mcp-Name")?, body_name) {
        (None, Some(_)) => Err(mismatch(format!(
            "the Mcp-Name header is required for {method}"
        ))),
        (Some(h), Some(b)) if h != b => Err(mismatch(
            "the Mcp-Name header does not match the request body".into(),
        )),
        (Some(_), None) if matches!(method, "tools/call" | "prompts/get" | "resources/read") => {
            Err(mismatch(
                "the Mcp-Name header names what the body does not".into(),
            ))
        }
        _ => Ok(()),
    }
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
}
