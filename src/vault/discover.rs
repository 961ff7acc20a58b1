//! Discovery, as the MCP authorization spec asks of clients: the backend's `401` and its
//! `WWW-Authenticate` (`resource_metadata`, `scope`), its protected resource metadata
//! (RFC 9728, with the `.well-known` fallbacks), then its authorization server's
//! metadata (RFC 8414, then OpenID Connect discovery). A backend of the 2025-03-26
//! revision, with no resource metadata, has its authorization server at its own origin
//! (and, without metadata there either, the default `/authorize`, `/token`, `/register`).

use bytes::Bytes;
use hyper::{Method, header};
use serde_json::Value;

use super::net::{Net, json_object};

/// What a backend's authorization needs, found.
#[derive(Debug, Clone)]
pub struct Discovered {
    /// The resource indicator (RFC 8707) tokens are asked for.
    pub resource: String,
    /// The authorization server's issuer identifier.
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub registration_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    /// From the challenge, else the resource metadata's `scopes_supported`.
    pub scopes: Option<Vec<String>>,
    /// The authorization server's `scopes_supported`.
    pub server_scopes: Vec<String>,
    pub auth_methods: Vec<String>,
    /// It accepts a client metadata document's URL as a client id.
    pub client_id_documents: bool,
    /// It says it sends `iss` in authorization responses (RFC 9207).
    pub iss_supported: bool,
    /// Its `dpop_signing_alg_values_supported` (RFC 9449 §5.1): DPoP is used when it
    /// lists ES256.
    pub dpop_algs: Vec<String>,
}

impl Discovered {
    /// Whether tokens are asked for bound to a DPoP key.
    pub fn dpop(&self) -> bool {
        self.dpop_algs.iter().any(|a| a == super::dpop::ALG)
    }
}

/// The `Bearer` parameters of a `WWW-Authenticate` value.
#[derive(Debug, Default, PartialEq)]
pub struct Challenge {
    pub resource_metadata: Option<String>,
    pub scope: Option<String>,
    pub error: Option<String>,
}

/// Reads the `Bearer` (or `DPoP`, RFC 9449 §7.1) challenge's `auth-param`s (quoted or
/// token values).
pub fn challenge(value: &str) -> Option<Challenge> {
    let lower = value.to_ascii_lowercase();
    let (at, len) = match lower.find("bearer") {
        Some(at) => (at, 6),
        None => (lower.find("dpop")?, 4),
    };
    let mut rest = &value[at + len..];
    let mut out = Challenge::default();
    loop {
        rest = rest.trim_start_matches([' ', ',', '\t']);
        let Some(eq) = rest.find('=') else { break };
        let name = rest[..eq].trim().to_ascii_lowercase();
        if name.contains(' ') {
            break; // the next scheme
        }
        rest = &rest[eq + 1..];
        let v;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut s = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            s.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => s.push(c),
                }
            }
            v = s;
            rest = &quoted[end.min(quoted.len())..];
        } else {
            let end = rest.find([',', ' ']).unwrap_or(rest.len());
            v = rest[..end].to_string();
            rest = &rest[end..];
        }
        match name.as_str() {
            "resource_metadata" => out.resource_metadata = Some(v),
            "scope" => out.scope = Some(v),
            "error" => out.error = Some(v),
            _ => {}
        }
    }
    Some(out)
}

/// `scheme://authority` and the path (without a trailing `/`) of a URL.
fn split(url: &str) -> Result<(String, String), String> {
    let uri: hyper::Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(format!("{url:?} is not an absolute URL"));
    };
    Ok((
        format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            authority.as_str().to_ascii_lowercase()
        ),
        uri.path().trim_end_matches('/').to_string(),
    ))
}

/// Whether `resource` (from the metadata) names the backend at `url`: the same origin,
/// and a path that is the URL's or one of its parents.
fn covers(resource: &str, url: &str) -> bool {
    match (split(resource), split(url)) {
        (Ok((o1, p1)), Ok((o2, p2))) => {
            o1 == o2 && (p1.is_empty() || p2 == p1 || p2.starts_with(&format!("{p1}/")))
        }
        _ => false,
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The backend's challenge: an `initialize` without credentials, and when that is let
/// through (some servers guard only their other methods), a `tools/list`. A backend
/// that refuses neither is discovered without a challenge (its admin said it takes
/// OAuth).
pub async fn probe(net: &Net, url: &str) -> Result<Challenge, String> {
    let hello = Bytes::from_static(
        br#"{"jsonrpc":"2.0","id":"metamcp-probe","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"metamcp","version":"0"}}}"#,
    );
    let mut headers = vec![
        (header::CONTENT_TYPE, "application/json".to_string()),
        (
            header::ACCEPT,
            "application/json, text/event-stream".to_string(),
        ),
    ];
    let a = net.send(Method::POST, url, &headers, Some(hello)).await?;
    if let Some(c) = refusal(&a) {
        return Ok(c);
    }
    if let Some(session) = &a.session {
        headers.push((
            header::HeaderName::from_static("mcp-session-id"),
            session.clone(),
        ));
    }
    headers.push((
        header::HeaderName::from_static("mcp-protocol-version"),
        "2025-11-25".into(),
    ));
    let list = Bytes::from_static(
        br#"{"jsonrpc":"2.0","id":"metamcp-probe-2","method":"tools/list","params":{}}"#,
    );
    let b = net.send(Method::POST, url, &headers, Some(list)).await?;
    if a.session.is_some() {
        // The probe's session is ended at once (best effort).
        let _ = net.send(Method::DELETE, url, &headers, None).await;
    }
    Ok(refusal(&b).unwrap_or_default())
}

fn refusal(a: &super::net::Answer) -> Option<Challenge> {
    matches!(a.status.as_u16(), 401 | 403).then(|| {
        a.challenge
            .as_deref()
            .and_then(challenge)
            .unwrap_or_default()
    })
}

/// Everything from the challenge on.
/// `pkce`: the authorization code flow follows, so the server must list PKCE S256 (a
/// client credentials grant has no use for it).
pub async fn discover(
    net: &Net,
    url: &str,
    seen: &Challenge,
    pkce: bool,
) -> Result<Discovered, String> {
    let (origin, path) = split(url)?;
    // Protected resource metadata: where the challenge says, else the path-aware then
    // the root well-known location.
    let mut candidates = Vec::new();
    if let Some(m) = &seen.resource_metadata {
        candidates.push(m.clone());
    } else {
        if !path.is_empty() {
            candidates.push(format!(
                "{origin}/.well-known/oauth-protected-resource{path}"
            ));
        }
        candidates.push(format!("{origin}/.well-known/oauth-protected-resource"));
    }
    let mut prm = None;
    let mut last = String::new();
    for c in &candidates {
        match net.get_json(c).await {
            Ok(v) => {
                prm = Some(v);
                break;
            }
            Err(e) => last = e,
        }
    }
    if prm.is_none() && seen.resource_metadata.is_some() {
        return Err(format!("its resource metadata: {last}"));
    }
    let (resource, issuer, legacy, prm_scopes) = match &prm {
        Some(prm) => {
            let resource = prm["resource"]
                .as_str()
                .ok_or("its resource metadata names no resource")?;
            if !covers(resource, url) {
                return Err(format!(
                    "its resource metadata is for {resource:?}, not for {url:?}: refused"
                ));
            }
            let issuer = prm["authorization_servers"]
                .as_array()
                .and_then(|a| a.first())
                .and_then(Value::as_str)
                .ok_or("its resource metadata names no authorization server")?;
            let scopes = prm.get("scopes_supported").map(strings);
            (
                resource.to_string(),
                issuer.trim_end_matches('/').to_string(),
                false,
                scopes,
            )
        }
        None => (url.to_string(), origin.clone(), true, None),
    };
    let scopes = seen
        .scope
        .as_deref()
        .map(|s| s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .or(prm_scopes)
        .filter(|s| !s.is_empty());
    let meta = server_metadata(net, &issuer).await?;
    let (meta, issuer) = match meta {
        Some(m) => (m, issuer),
        None if legacy => {
            // 2025-03-26: no metadata anywhere; the default endpoints at the origin.
            return Ok(Discovered {
                resource,
                authorization_endpoint: format!("{origin}/authorize"),
                token_endpoint: format!("{origin}/token"),
                registration_endpoint: Some(format!("{origin}/register")),
                revocation_endpoint: None,
                issuer: origin,
                scopes,
                server_scopes: Vec::new(),
                auth_methods: Vec::new(),
                client_id_documents: false,
                iss_supported: false,
                dpop_algs: Vec::new(),
            });
        }
        None => return Err(format!("no authorization server metadata for {issuer}")),
    };
    let named = meta["issuer"].as_str().unwrap_or_default();
    if named.trim_end_matches('/') != issuer {
        return Err(format!(
            "the authorization server metadata names issuer {named:?}, not {issuer:?}: refused"
        ));
    }
    let methods = strings(&meta["code_challenge_methods_supported"]);
    if pkce && !methods.iter().any(|m| m == "S256") {
        return Err(format!(
            "the authorization server {issuer} does not say it supports PKCE S256: refused"
        ));
    }
    let endpoint = |k: &str| meta[k].as_str().map(str::to_string);
    Ok(Discovered {
        resource,
        authorization_endpoint: endpoint("authorization_endpoint")
            .ok_or("the authorization server metadata has no authorization_endpoint")?,
        token_endpoint: endpoint("token_endpoint")
            .ok_or("the authorization server metadata has no token_endpoint")?,
        registration_endpoint: endpoint("registration_endpoint"),
        revocation_endpoint: endpoint("revocation_endpoint"),
        issuer: named.to_string(),
        scopes,
        server_scopes: strings(&meta["scopes_supported"]),
        auth_methods: strings(&meta["token_endpoint_auth_methods_supported"]),
        client_id_documents: meta["client_id_metadata_document_supported"] == true,
        iss_supported: meta["authorization_response_iss_parameter_supported"] == true,
        dpop_algs: strings(&meta["dpop_signing_alg_values_supported"]),
    })
}

/// The authorization server's metadata: RFC 8414's location, then OpenID Connect's
/// (path-inserted, then path-appended); `None` when none answers.
pub(super) async fn server_metadata(net: &Net, issuer: &str) -> Result<Option<Value>, String> {
    let (origin, path) = split(issuer)?;
    let urls = if path.is_empty() {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server"),
            format!("{origin}/.well-known/openid-configuration"),
        ]
    } else {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{origin}/.well-known/openid-configuration{path}"),
            format!("{origin}{path}/.well-known/openid-configuration"),
        ]
    };
    for u in urls {
        let a = net
            .send(
                Method::GET,
                &u,
                &[(header::ACCEPT, "application/json".into())],
                None,
            )
            .await?;
        if a.status.is_success() {
            return json_object(&a.body)
                .map(Some)
                .map_err(|e| format!("{u}: {e}"));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read_quoted_or_not() {
        let c = challenge(
            r#"Bearer error="insufficient_scope", scope="files:read files:write", resource_metadata="https://a/.well-known/oauth-protected-resource/mcp""#,
        )
        .unwrap();
        assert_eq!(c.error.as_deref(), Some("insufficient_scope"));
        assert_eq!(c.scope.as_deref(), Some("files:read files:write"));
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("https://a/.well-known/oauth-protected-resource/mcp")
        );
        let c = challenge(r#"Bearer realm=x, scope=read"#).unwrap();
        assert_eq!(c.scope.as_deref(), Some("read"));
        assert_eq!(challenge("Basic realm=\"a\""), None);
        assert_eq!(challenge("Bearer"), Some(Challenge::default()));
        assert_eq!(
            challenge(r#"Bearer scope="a\"b""#)
                .unwrap()
                .scope
                .as_deref(),
            Some("a\"b")
        );
    }

    #[test]
    fn a_resource_covers_its_own_url_and_the_urls_under_it_only() {
        assert!(covers("https://a.test/mcp", "https://a.test/mcp"));
        assert!(covers("https://a.test", "https://a.test/mcp"));
        assert!(covers("https://A.test/", "https://a.test/mcp/x"));
        assert!(!covers("https://a.test/mc", "https://a.test/mcp"));
        assert!(!covers("https://b.test/mcp", "https://a.test/mcp"));
        assert!(!covers("http://a.test/mcp", "https://a.test/mcp"));
    }
}
