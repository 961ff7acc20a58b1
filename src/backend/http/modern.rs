//! Backends of the 2026-07-28 revision: no session, no GET stream; every request
//! carries its own envelope (`params._meta`: the protocol version, the client's
//! capabilities) and its standard headers (`MCP-Protocol-Version`, `Mcp-Method`,
//! `Mcp-Name`, `Mcp-Param-*`). Here: the era probe (`server/discover` before any
//! `initialize`), the headers of one request, the envelope, and the backend's own
//! `subscriptions/listen` stream that stands in for the GET stream.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Method;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response};
use serde_json::{Value, json};

use crate::backend::envelope::{VERSION, enveloped, header_value, listen_params, lists_ours};
use crate::backend::http::{
    self as upstream, Endpoint, HttpClient, UpstreamError, UpstreamSession, within,
};
use crate::jsonrpc::frame::{self, Frame, string_value};
use crate::jsonrpc::methods::Method as McpMethod;

/// How long the probe waits before taking the backend for a session-era one.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest probe answer read.
const MAX_PROBE_BODY: usize = 1 << 20;

/// The standard headers of one request to a modern backend, after
/// `MCP-Protocol-Version`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// For a request (`body`, parsed as `f`): `Mcp-Method`, `Mcp-Name` (the tool's or
    /// prompt's name, or the resource's URI, as the backend has it), and for a
    /// `tools/call` an `Mcp-Param-*` for each of `params` (the tool's, from
    /// [`crate::backend::envelope::header_params`]) whose argument is set.
    pub fn of(body: &[u8], f: &Frame, params: &[(String, String)]) -> Headers {
        let mut out = Vec::with_capacity(2 + params.len());
        let Some(method) = f.method(body) else {
            return Headers(out);
        };
        out.push(("Mcp-Method".to_string(), header_value(method).into_owned()));
        let name = match f.kind {
            Some(McpMethod::ToolsCall | McpMethod::PromptsGet) => f.name,
            Some(McpMethod::ResourcesRead) => f.uri,
            _ => None,
        };
        if let Some(n) = name.and_then(|s| string_value(body, s)) {
            out.push(("Mcp-Name".to_string(), header_value(&n).into_owned()));
        }
        if f.is(McpMethod::ToolsCall) && !params.is_empty() {
            let v: Value = serde_json::from_slice(body).unwrap_or_default();
            let args = &v["params"]["arguments"];
            for (property, header) in params {
                let value = match &args[property.as_str()] {
                    Value::String(s) => header_value(s).into_owned(),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
                    _ => continue,
                };
                out.push((format!("Mcp-Param-{header}"), value));
            }
        }
        Headers(out)
    }

    /// For a control-path request (`method`, its `params`).
    fn of_value(method: &str, params: &Value) -> Headers {
        let body = json!({"jsonrpc": "2.0", "id": 0, "method": method, "params": params});
        let text = body.to_string();
        match frame::parse(text.as_bytes()) {
            Ok(f) => Headers::of(text.as_bytes(), &f, &[]),
            Err(_) => Headers::default(),
        }
    }

    /// As header lines (`Name: value\r\n` each), after `lines`.
    pub fn after_lines(&self, lines: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(lines.len() + 96);
        out.extend_from_slice(lines);
        for (name, value) in &self.0 {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// Sets them on a request.
    pub fn apply(&self, headers: &mut hyper::HeaderMap) {
        for (name, value) in &self.0 {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.insert(n, v);
            }
        }
    }
}

/// A control-path request to a modern backend: the gateway's envelope in its `params`
/// and the standard headers. A `ping` (which the revision removed) is a
/// `server/discover`.
pub fn control_request(
    endpoint: &Endpoint,
    session: &UpstreamSession,
    id: &str,
    method: &str,
    mut params: Value,
) -> Request<http_body_util::Full<Bytes>> {
    let method = enveloped(method, &mut params);
    let headers = Headers::of_value(method, &params);
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    let mut req = upstream::request(
        endpoint,
        Some(session),
        Method::POST,
        Bytes::from(body.to_string()),
    );
    headers.apply(req.headers_mut());
    // The control path is rare (lists, a ping every few seconds): its connection is not
    // kept, so nothing of the gateway's lingers at a backend it stopped using.
    req.headers_mut()
        .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    req
}

/// The era probe: a `server/discover` before anything else. A backend whose answer (a
/// result, or an error naming the versions it supports) lists 2026-07-28 is a modern
/// one: its "session" has no id and says what it offers. Anything else (an error, an
/// HTTP 400, 404 or 405, no answer within a few seconds) is `None`: a session-era
/// backend, to `initialize`. Failing to reach it at all is an error.
pub async fn discover(
    client: &HttpClient,
    endpoint: &Endpoint,
    generation: u64,
    timeout: Duration,
) -> Result<Option<UpstreamSession>, UpstreamError> {
    let probe = UpstreamSession {
        id: None,
        version: HeaderValue::from_static(VERSION),
        capabilities: Value::Null,
        server_info: Value::Null,
        hello: Default::default(),
        generation,
        modern: true,
    };
    // A backend that refuses the version it then names as supported (-32022) is asked
    // once more.
    for _ in 0..2 {
        let req = control_request(
            endpoint,
            &probe,
            "metamcp-discover",
            McpMethod::ServerDiscover.as_str(),
            json!({}),
        );
        let resp = match within(timeout.min(PROBE_TIMEOUT), upstream::send(client, req)).await {
            Ok(r) => r,
            Err(UpstreamError::Timeout(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(answer) = read_answer(resp, &json!("metamcp-discover"), timeout).await else {
            return Ok(None);
        };
        if let Some(result) = answer.get("result") {
            if !lists_ours(&result["supportedVersions"]) {
                return Ok(None);
            }
            return Ok(Some(UpstreamSession {
                capabilities: result["capabilities"].clone(),
                server_info: result["_meta"]["io.modelcontextprotocol/serverInfo"].clone(),
                hello: crate::backend::hello::Hello::from_result(result),
                ..probe
            }));
        }
        if !lists_ours(&answer["error"]["data"]["supported"]) {
            return Ok(None);
        }
    }
    Ok(None)
}

/// The message answering `id` in a response of any status (JSON or SSE), if there is
/// one.
async fn read_answer(
    resp: Response<hyper::body::Incoming>,
    id: &Value,
    t: Duration,
) -> Option<Value> {
    let sse = upstream::is_sse(resp.headers());
    let body = within(t, async {
        http_body_util::Limited::new(resp.into_body(), MAX_PROBE_BODY)
            .collect()
            .await
            .map(|c| c.to_bytes())
            .map_err(|e| UpstreamError::Protocol(e.to_string()))
    })
    .await
    .ok()?;
    let messages: Vec<Value> = if sse {
        crate::jsonrpc::sse::data_of(&body)
            .iter()
            .filter_map(|d| serde_json::from_slice(d).ok())
            .collect()
    } else {
        vec![serde_json::from_slice(&body).ok()?]
    };
    messages
        .into_iter()
        .find(|m| m.get("id") == Some(id) && m.get("method").is_none())
}

/// The backend's `subscriptions/listen` stream for the list changes its capabilities
/// promise (`listChanged`), standing in for the GET stream; `None` when it promises none.
pub async fn listen(
    client: &HttpClient,
    endpoint: &Endpoint,
    session: &UpstreamSession,
    uris: &[String],
) -> Result<Option<Response<hyper::body::Incoming>>, UpstreamError> {
    let Some(params) = listen_params(&session.capabilities, uris) else {
        return Ok(None);
    };
    let mut req = control_request(
        endpoint,
        session,
        "metamcp-listen",
        McpMethod::SubscriptionsListen.as_str(),
        params,
    );
    req.headers_mut().insert(
        hyper::header::ACCEPT,
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    let resp = upstream::send(client, req).await?;
    if resp.status().is_success() && upstream::is_sse(resp.headers()) {
        Ok(Some(resp))
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::envelope::*;

    #[test]
    fn header_values_take_the_base64_form_when_they_must() {
        assert_eq!(header_value("get_weather"), "get_weather");
        assert_eq!(
            header_value("Hello, 世界"),
            "=?base64?SGVsbG8sIOS4lueVjA==?="
        );
        assert_eq!(header_value(" padded"), "=?base64?IHBhZGRlZA==?=");
        assert_eq!(header_value("=?base64?x?="), "=?base64?PT9iYXNlNjQ/eD89?=");
        assert_eq!(header_value("a\nb"), "=?base64?YQpi?=");
    }

    #[test]
    fn a_request_names_its_method_target_and_header_arguments() {
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"w","arguments":{"region":"eu-1","n":3,"on":true,"skip":null,"x":1.5}}}"#;
        let f = frame::parse(body).unwrap();
        let params: Vec<(String, String)> = [
            ("region", "Region"),
            ("n", "N"),
            ("on", "On"),
            ("skip", "Skip"),
            ("x", "X"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let h = Headers::of(body, &f, &params);
        let lines = String::from_utf8(h.after_lines(b"A: b\r\n")).unwrap();
        assert_eq!(
            lines,
            "A: b\r\nMcp-Method: tools/call\r\nMcp-Name: w\r\nMcp-Param-Region: eu-1\r\nMcp-Param-N: 3\r\nMcp-Param-On: true\r\n"
        );
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///\u00e9"}}"#;
        let f = frame::parse(body).unwrap();
        let lines = String::from_utf8(Headers::of(body, &f, &[]).after_lines(b"")).unwrap();
        assert_eq!(
            lines,
            "Mcp-Method: resources/read\r\nMcp-Name: =?base64?ZmlsZTovLy/DqQ==?=\r\n"
        );
    }

    #[test]
    fn tools_with_an_invalid_header_declaration_are_invalid() {
        let tool = |props: Value| json!({"inputSchema": {"type": "object", "properties": props}});
        assert!(header_params_valid(&tool(
            json!({"r": {"type": "string", "x-mcp-header": "Region"}})
        )));
        assert!(header_params_valid(&json!({"name": "no schema"})));
        for bad in [
            json!({"v": {"type": "string", "x-mcp-header": ""}}),
            json!({"v": {"type": "object", "x-mcp-header": "Data"}}),
            json!({"v": {"type": "number", "x-mcp-header": "Score"}}),
            json!({"a": {"type": "string", "x-mcp-header": "My"}, "b": {"type": "string", "x-mcp-header": "my"}}),
            json!({"v": {"type": "string", "x-mcp-header": "My Region"}}),
            json!({"v": {"type": "string", "x-mcp-header": "Région"}}),
            json!({"v": {"type": "string", "x-mcp-header": 7}}),
        ] {
            assert!(!header_params_valid(&tool(bad.clone())), "{bad}");
        }
    }

    #[test]
    fn followed_resources_are_bounded_and_counted_once() {
        let w = Watched::default();
        assert_eq!(w.set("a://0", true), Ok(true));
        assert_eq!(w.set("a://0", true), Ok(false), "already followed");
        for i in 1..MAX_WATCHED {
            assert_eq!(w.set(&format!("a://{i}"), true), Ok(true));
        }
        let refused = w.set("a://one-too-many", true).unwrap_err();
        assert!(refused.contains("at most 1024"), "{refused}");
        assert_eq!(
            w.set("a://0", true),
            Ok(false),
            "a followed one is still fine"
        );
        assert_eq!(w.set("a://0", false), Ok(true));
        assert_eq!(w.set("a://0", false), Ok(false));
        assert_eq!(w.set("a://one-too-many", true), Ok(true), "room again");
        assert_eq!(w.uris().len(), MAX_WATCHED);
    }

    #[test]
    fn listening_asks_for_what_the_capabilities_promise() {
        let caps = json!({"tools": {"listChanged": true}, "prompts": {}, "resources": {"listChanged": false}});
        assert_eq!(
            listen_params(&caps, &[]),
            Some(json!({"notifications": {"toolsListChanged": true}}))
        );
        assert_eq!(listen_params(&json!({"tools": {}}), &[]), None);
        assert_eq!(
            listen_params(&json!({}), &["r://x".to_string()]),
            Some(json!({"notifications": {"resourceSubscriptions": ["r://x"]}}))
        );
        let mut params = json!(null);
        assert_eq!(enveloped("ping", &mut params), "server/discover");
        assert_eq!(params["_meta"][VERSION_KEY], VERSION);
    }

    #[test]
    fn the_envelope_names_the_revision_the_capabilities_and_the_level() {
        let members = envelope(r#"{"sampling":{}}"#, Some("warning"));
        let text = format!("{{{}}}", String::from_utf8(members).unwrap());
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v[VERSION_KEY], VERSION);
        assert_eq!(v[CAPS_KEY], json!({"sampling": {}}));
        assert_eq!(v["io.modelcontextprotocol/logLevel"], "warning");
        assert_eq!(v[INFO_KEY]["name"], "metamcp");
    }
}
