//! `mcpc search QUERY [LIMIT]`: the tools that fit a need, through the gateway's REST API
//! at the origin of `--url` (`GET /api/v1/tools/search`), in the view `--url` names
//! (`…/mcp/NAMESPACE`: that namespace's). Works whatever the view's search mode is.

use hyper::Method;
use serde_json::Value;

use super::{Args, Failure, http_client};

/// The namespace a gateway URL's path names: `/mcp/NAME` → `NAME`.
fn namespace_of(path: &str) -> Option<&str> {
    path.trim_end_matches('/')
        .strip_prefix("/mcp/")
        .filter(|n| !n.is_empty() && !n.contains('/'))
}

/// `text` as one URL query value.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The request path of a search.
pub fn path(url_path: &str, query: &str, limit: Option<u64>) -> String {
    let mut path = format!("/api/v1/tools/search?q={}", encode(query));
    if let Some(l) = limit {
        path.push_str(&format!("&limit={l}"));
    }
    if let Some(ns) = namespace_of(url_path) {
        path.push_str(&format!("&namespace={}", encode(ns)));
    }
    path
}

/// Runs `search`; what it prints (the gateway's answer: the query and its results).
pub async fn run(args: &Args, query: &str, limit: Option<u64>) -> Result<Value, Failure> {
    let http = http_client()?;
    let path = path(args.url.path(), query, limit);
    super::auth::rest(&http, args, Method::GET, &path, None).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_carries_the_query_and_the_namespace() {
        assert_eq!(
            path("/mcp", "create a branch & merge", Some(3)),
            "/api/v1/tools/search?q=create%20a%20branch%20%26%20merge&limit=3"
        );
        assert_eq!(
            path("/mcp/dev/", "x", None),
            "/api/v1/tools/search?q=x&namespace=dev"
        );
        assert_eq!(
            path("/api/v1/mcp/stream", "é", None),
            "/api/v1/tools/search?q=%C3%A9"
        );
    }
}
