//! What a server that cannot start is told of the likely mistake, in its `last_error`:
//! a URL that is no MCP endpoint (an HTML page, a `/health` URL answering 405), a
//! Streamable HTTP URL registered as `sse`, `https://` to a port speaking plain HTTP, a
//! command with its arguments in it (`"npx -y pkg"`), a program that ends at once
//! without a word of MCP. Each says what was seen and what to do, as the 404 hint does.

use hyper::StatusCode;
use hyper::header::{CONTENT_TYPE, HeaderMap};

/// Where MCP servers are usually found, for every URL hint.
const USUAL_PATHS: &str = "MCP servers usually serve /mcp; older ones /sse, with protocol \"sse\"";

/// The hint for an answer to `initialize` that no MCP endpoint gives: an HTML page, or
/// a status refusing the POST itself (405, 501). `None` for any other answer.
pub fn not_an_endpoint(status: StatusCode, headers: &HeaderMap, path: &str) -> Option<String> {
    let html = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/html"));
    let what = if html {
        format!("an HTML page (HTTP {})", status.as_u16())
    } else if status == StatusCode::METHOD_NOT_ALLOWED || status == StatusCode::NOT_IMPLEMENTED {
        format!("{status} to a POST")
    } else {
        return None;
    };
    Some(format!(
        "the server answered {what} for the path {path}: not an MCP endpoint (a web page's \
         or a /health URL?): check the url ({USUAL_PATHS})"
    ))
}

/// The hint for a legacy SSE server whose stream's GET got `status` (or a body that is no
/// event stream): most often a Streamable HTTP URL registered as `sse`.
pub fn not_a_stream(status: StatusCode, path: &str) -> String {
    let seen = match status {
        StatusCode::OK => "HTTP 200 without an event stream".to_string(),
        s => format!("HTTP {}", s.as_u16()),
    };
    let path_too = match status {
        StatusCode::NOT_FOUND => format!(", or check the url's path ({USUAL_PATHS})"),
        _ => String::new(),
    };
    format!(
        "the server answered {seen} to the GET that opens an SSE stream at {path}: not a \
         legacy SSE endpoint. If it speaks Streamable HTTP (most servers, at /mcp), try \
         protocol `http`{path_too}"
    )
}

/// The transport error `chain` of a request to `scheme`, with a hint when TLS met a
/// port that speaks plain HTTP (rustls: "received corrupt message").
pub fn tls_to_plain(scheme: Option<&str>, chain: String) -> String {
    let plain = chain.contains("corrupt message") || chain.contains("InvalidContentType");
    match scheme == Some("https") && plain {
        true => format!("{chain}: the port speaks plain HTTP, not TLS: use http:// in the url"),
        false => chain,
    }
}

/// A hint for a command that could not be started: one with its arguments written into
/// it (`"npx -y pkg"`) should put them in `args`.
pub fn command_not_found(command: &str, error: &std::io::Error) -> Option<String> {
    let mut words = command.split_whitespace();
    let program = words.next()?;
    let rest: Vec<&str> = words.collect();
    if error.kind() != std::io::ErrorKind::NotFound || rest.is_empty() {
        return None;
    }
    let args: Vec<String> = rest.iter().map(|w| format!("{w:?}")).collect();
    Some(format!(
        "the command {command:?} has spaces in it: it names the program alone. Put the \
         other words in args: \"command\": {program:?}, \"args\": [{}]",
        args.join(", ")
    ))
}

/// The hint for a child that ended at once with success before answering `initialize`:
/// whatever it wrote was not MCP (a program that is no server, `ls`, or a server that
/// needs an argument such as `stdio` to serve on its standard input and output).
pub const EXITED_WITHOUT_MCP: &str = "it exited with success before answering `initialize`: \
     its output was not MCP. Is the command an MCP server, and does it need an argument \
     (often `stdio`) to serve over standard input and output?";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints() {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, "text/html; charset=utf-8".parse().unwrap());
        let html = not_an_endpoint(StatusCode::NOT_IMPLEMENTED, &h, "/").unwrap();
        assert!(html.contains("an HTML page (HTTP 501)"), "{html}");
        assert!(html.contains("not an MCP endpoint"), "{html}");
        let m = not_an_endpoint(StatusCode::METHOD_NOT_ALLOWED, &HeaderMap::new(), "/health");
        assert!(m.unwrap().contains("405 Method Not Allowed to a POST"));
        assert!(not_an_endpoint(StatusCode::BAD_REQUEST, &HeaderMap::new(), "/mcp").is_none());
        assert!(not_a_stream(StatusCode::BAD_REQUEST, "/mcp").contains("try protocol `http`"));
        assert_eq!(tls_to_plain(Some("http"), "x".into()), "x");
        assert!(
            tls_to_plain(Some("https"), "received corrupt message".into()).contains("use http://")
        );
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        let hint = command_not_found("npx -y pkg", &e).unwrap();
        assert!(
            hint.contains(r#""command": "npx", "args": ["-y", "pkg"]"#),
            "{hint}"
        );
        assert!(command_not_found("npx", &e).is_none());
    }
}
