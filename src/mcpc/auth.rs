//! `mcpc auth`: the caller's own upstream accounts, through the gateway's REST API at
//! the origin of `--url` (`/api/v1/me/connections`).
//!
//! - `auth list`: the accounts the gateway holds for this key (never a token).
//! - `auth connect SERVER`: starts connecting this key's own account with a per-caller
//!   server, prints the page to open on stderr at once, and waits until the gateway
//!   holds the account (or the authorization expires); prints the connection.
//! - `auth set SERVER`: sets this key's own secret for a server whose headers take
//!   `{{caller.secret}}`, read from the first line of stdin (never from the command
//!   line, where other users of the machine could see it).
//! - `auth revoke SERVER`: ends this key's connection (revoked upstream when the
//!   server offers that).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header;
use hyper::{Method, Request, StatusCode};
use serde_json::{Value, json};

use super::{Args, Failure, http_client, http_failure, source_of};

/// How often `auth connect` looks whether the account is connected.
const POLL: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    List,
    Connect(String),
    Set(String),
    Revoke(String),
}

impl Auth {
    pub fn parse(words: &[&str]) -> Result<Auth, String> {
        match words {
            ["list"] => Ok(Auth::List),
            ["connect", server] => Ok(Auth::Connect(server.to_string())),
            ["set", server] => Ok(Auth::Set(server.to_string())),
            ["revoke", server] => Ok(Auth::Revoke(server.to_string())),
            _ => Err("auth takes list, connect SERVER, set SERVER or revoke SERVER".into()),
        }
    }
}

/// One REST request to the gateway; the status and the JSON body (`null` when empty).
pub(super) async fn rest(
    http: &crate::backend::http::HttpClient,
    args: &Args,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, Failure> {
    let origin = format!(
        "{}://{}",
        args.url.scheme_str().unwrap_or("http"),
        args.url.authority().map_or("", |a| a.as_str())
    );
    let key = args.key.as_deref().ok_or_else(|| {
        Failure::Usage("this command needs --key (the gateway's REST API)".into())
    })?;
    let what = format!("{method} {path}");
    let mut req = Request::builder()
        .method(method.clone())
        .uri(format!("{origin}{path}"))
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::ACCEPT, "application/json");
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
    let req = req
        .body(Full::new(body))
        .map_err(|e| Failure::Usage(format!("cannot build the request: {e}")))?;
    let exchange = async {
        let resp = http.request(req).await.map_err(|e| {
            Failure::Transport(format!(
                "cannot reach the gateway at {origin}: {}",
                source_of(&e)
            ))
        })?;
        let (parts, body) = resp.into_parts();
        let body = http_body_util::Limited::new(body, 1 << 20)
            .collect()
            .await
            .map_err(|e| Failure::Transport(format!("the answer to {what} broke off: {e}")))?
            .to_bytes();
        if !parts.status.is_success() {
            return Err(http_failure(&what, parts.status, &body));
        }
        if parts.status == StatusCode::NO_CONTENT || body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&body)
            .map_err(|_| Failure::Transport(format!("the answer to {what} is not JSON")))
    };
    tokio::time::timeout(args.timeout, exchange)
        .await
        .map_err(|_| {
            Failure::Transport(format!(
                "no answer to {what} within {} ms",
                args.timeout.as_millis()
            ))
        })?
}

/// A server name as one path segment.
fn segment(name: &str) -> Result<&str, Failure> {
    let fine = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    fine.then_some(name)
        .ok_or_else(|| Failure::Usage(format!("{name:?} is not a server name")))
}

/// Runs an `auth` command; what it prints.
pub async fn run(args: &Args, auth: &Auth) -> Result<Value, Failure> {
    let http = http_client()?;
    match auth {
        Auth::List => {
            let v = rest(&http, args, Method::GET, "/api/v1/me/connections", None).await?;
            Ok(v["connections"].clone())
        }
        Auth::Revoke(server) => {
            let path = format!("/api/v1/me/connections/{}", segment(server)?);
            rest(&http, args, Method::DELETE, &path, None).await?;
            Ok(json!({"server": server, "revoked": true}))
        }
        Auth::Set(server) => {
            let path = format!("/api/v1/me/connections/{}", segment(server)?);
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| Failure::Usage(format!("cannot read the secret from stdin: {e}")))?;
            let secret = line.trim_end_matches(['\r', '\n']);
            if secret.is_empty() {
                return Err(Failure::Usage(
                    "give the secret on the first line of stdin".into(),
                ));
            }
            rest(
                &http,
                args,
                Method::PUT,
                &path,
                Some(&json!({"secret": secret})),
            )
            .await?;
            Ok(json!({"server": server, "set": true}))
        }
        Auth::Connect(server) => {
            let path = format!("/api/v1/me/connections/{}", segment(server)?);
            let before =
                rest(&http, args, Method::GET, &path, None).await?["connections"][0]["refreshed_at"]
                    .clone();
            let started = rest(&http, args, Method::POST, &path, Some(&json!({}))).await?;
            let url = started["authorization_url"].as_str().unwrap_or_default();
            let minutes = started["expires_in"].as_u64().unwrap_or(600) / 60;
            eprintln!(
                "Open this page in a browser to connect your account with {} (valid {minutes} \
                 minutes):\n{}\nwaiting…",
                crate::cli::terminal_safe(server),
                crate::cli::terminal_safe(url)
            );
            let deadline = tokio::time::Instant::now() + Duration::from_secs(minutes * 60);
            loop {
                tokio::time::sleep(POLL).await;
                let now = rest(&http, args, Method::GET, &path, None).await?;
                let c = &now["connections"][0];
                if c.is_object() && c["refreshed_at"] != before {
                    return Ok(c.clone());
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(Failure::Usage(format!(
                        "the account with {server} was not connected within {minutes} minutes"
                    )));
                }
            }
        }
    }
}
