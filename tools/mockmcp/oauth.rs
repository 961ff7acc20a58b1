//! `--oauth`: the mock guards its MCP endpoints with bearer tokens and is its own
//! authorization server: protected resource metadata, authorization server metadata,
//! dynamic registration, an authorization endpoint that approves at once (redirecting
//! with a code bound to the PKCE challenge), and a token endpoint for codes and refresh
//! tokens (rotated: a refresh token works once). `GET /control/oauth` shows what it
//! issued and saw, tokens included (the tests look for them where they must not be).
//!
//! Each authorization is some user's: `/authorize?…&user=NAME` (default `default`), and
//! the tokens it leads to (refreshed ones too) are that user's. The `account` tool
//! answers the user of the token the call came with ([`USER`]).
//!
//! Hostile knobs: `--oauth-as URL` names another authorization server in the resource
//! metadata; `--oauth-huge-token` answers the token endpoint with 100 MB.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use sha2::Digest;

use super::{Body, full};

#[derive(Default)]
pub struct Settings {
    pub expires_in: u64,
    pub authorization_server: Option<String>,
    pub huge_token: bool,
}

struct Code {
    challenge: String,
    redirect_uri: String,
    client_id: String,
    resource: String,
    user: String,
}

tokio::task_local! {
    /// The user of the bearer token the MCP request at hand came with.
    pub static USER: String;
}

#[derive(Default)]
struct Issued {
    /// Access tokens: when they expire, and whose they are.
    access: HashMap<String, (Instant, String)>,
    /// Refresh tokens not used yet, and whose they are.
    refresh: HashMap<String, String>,
    /// Every token ever issued (access and refresh).
    all: Vec<String>,
    codes: HashMap<String, Code>,
    resources: Vec<String>,
    scopes: Vec<String>,
}

pub struct OAuth {
    settings: Settings,
    issued: Mutex<Issued>,
    n: AtomicU64,
    refreshed: AtomicU64,
    reused: AtomicU64,
    registered: AtomicU64,
    authorizations: AtomicU64,
    bearer_calls: AtomicU64,
    /// Client credentials grants.
    machine: AtomicU64,
    /// Tokens revoked (RFC 7009).
    revoked: AtomicU64,
}

fn json_response(status: StatusCode, v: Value) -> Response<Body> {
    full(status, "application/json", v.to_string())
}

fn query(req: &Request<Incoming>) -> HashMap<String, String> {
    pairs(req.uri().query().unwrap_or_default())
}

fn pairs(s: &str) -> HashMap<String, String> {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 1..(i + 3).min(b.len())]).unwrap_or("");
                    out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                    i += 2;
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn base(req: &Request<Incoming>) -> String {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

impl OAuth {
    pub fn new(settings: Settings) -> OAuth {
        OAuth {
            settings,
            issued: Mutex::default(),
            n: AtomicU64::new(1),
            refreshed: AtomicU64::new(0),
            reused: AtomicU64::new(0),
            registered: AtomicU64::new(0),
            authorizations: AtomicU64::new(0),
            bearer_calls: AtomicU64::new(0),
            machine: AtomicU64::new(0),
            revoked: AtomicU64::new(0),
        }
    }

    fn next(&self, prefix: &str) -> String {
        let n = self.n.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}-{n}-{}", std::process::id())
    }

    /// Paths this module answers.
    pub fn owns(path: &str) -> bool {
        path.starts_with("/.well-known/")
            || matches!(
                path,
                "/authorize" | "/token" | "/register" | "/revoke" | "/control/oauth"
            )
    }

    /// The MCP endpoints' guard: `None` for a live bearer token, else the 401 with the
    /// challenge.
    pub fn refusal(&self, req: &Request<Incoming>) -> Result<String, Box<Response<Body>>> {
        let token = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "));
        let live = token.and_then(|t| {
            self.issued
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .access
                .get(t)
                .filter(|(exp, _)| *exp > Instant::now())
                .map(|(_, user)| user.clone())
        });
        if let Some(user) = live {
            self.bearer_calls.fetch_add(1, Ordering::Relaxed);
            return Ok(user);
        }
        let mut resp = json_response(StatusCode::UNAUTHORIZED, json!({"error": "invalid_token"}));
        if let Ok(v) = format!(
            "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\", scope=\"mcp\"",
            base(req)
        )
        .parse()
        {
            resp.headers_mut().insert(hyper::header::WWW_AUTHENTICATE, v);
        }
        Err(Box::new(resp))
    }

    pub async fn serve(&self, req: Request<Incoming>) -> Response<Body> {
        let me = base(&req);
        let path = req.uri().path().to_string();
        match (req.method().clone(), path.as_str()) {
            (Method::GET, "/.well-known/oauth-protected-resource/mcp")
            | (Method::GET, "/.well-known/oauth-protected-resource") => json_response(
                StatusCode::OK,
                json!({"resource": format!("{me}/mcp"),
                       "authorization_servers": [self.settings.authorization_server.clone().unwrap_or_else(|| me.clone())],
                       "scopes_supported": ["mcp"]}),
            ),
            (Method::GET, "/.well-known/oauth-authorization-server") => json_response(
                StatusCode::OK,
                json!({"issuer": me, "authorization_endpoint": format!("{me}/authorize"),
                       "token_endpoint": format!("{me}/token"), "registration_endpoint": format!("{me}/register"),
                       "revocation_endpoint": format!("{me}/revoke"),
                       "response_types_supported": ["code"], "grant_types_supported": ["authorization_code", "refresh_token"],
                       "code_challenge_methods_supported": ["S256"],
                       "token_endpoint_auth_methods_supported": ["none", "client_secret_basic"],
                       "scopes_supported": ["mcp", "offline_access"]}),
            ),
            (Method::POST, "/register") => {
                self.registered.fetch_add(1, Ordering::Relaxed);
                json_response(
                    StatusCode::CREATED,
                    json!({"client_id": self.next("client"), "token_endpoint_auth_method": "none"}),
                )
            }
            (Method::GET, "/authorize") => {
                let q = query(&req);
                self.authorizations.fetch_add(1, Ordering::Relaxed);
                let (Some(redirect), Some(challenge)) =
                    (q.get("redirect_uri"), q.get("code_challenge"))
                else {
                    return json_response(
                        StatusCode::BAD_REQUEST,
                        json!({"error": "invalid_request"}),
                    );
                };
                let code = self.next("code");
                {
                    let mut i = self.issued.lock().unwrap_or_else(|p| p.into_inner());
                    i.codes.insert(
                        code.clone(),
                        Code {
                            challenge: challenge.clone(),
                            redirect_uri: redirect.clone(),
                            client_id: q.get("client_id").cloned().unwrap_or_default(),
                            resource: q.get("resource").cloned().unwrap_or_default(),
                            user: q.get("user").cloned().unwrap_or_else(|| "default".into()),
                        },
                    );
                    i.scopes.push(q.get("scope").cloned().unwrap_or_default());
                }
                let sep = if redirect.contains('?') { '&' } else { '?' };
                let state = q.get("state").cloned().unwrap_or_default();
                let to = format!(
                    "{redirect}{sep}code={code}&state={}&iss={}",
                    enc(&state),
                    enc(&me)
                );
                let mut resp = full(StatusCode::FOUND, "text/plain", "");
                if let Ok(v) = to.parse() {
                    resp.headers_mut().insert(hyper::header::LOCATION, v);
                }
                resp
            }
            (Method::POST, "/token") => self.token(req).await,
            (Method::POST, "/revoke") => {
                let body = req
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let f = pairs(&String::from_utf8_lossy(&body));
                if let Some(t) = f.get("token") {
                    let mut i = self.issued.lock().unwrap_or_else(|p| p.into_inner());
                    if i.access.remove(t).is_some() || i.refresh.remove(t).is_some() {
                        self.revoked.fetch_add(1, Ordering::Relaxed);
                    }
                }
                full(StatusCode::OK, "application/json", "{}")
            }
            (Method::GET, "/control/oauth") => {
                let i = self.issued.lock().unwrap_or_else(|p| p.into_inner());
                json_response(
                    StatusCode::OK,
                    json!({"tokens": i.all, "resources": i.resources, "scopes": i.scopes,
                           "refreshed": self.refreshed.load(Ordering::Relaxed),
                           "reused": self.reused.load(Ordering::Relaxed),
                           "registered": self.registered.load(Ordering::Relaxed),
                           "authorizations": self.authorizations.load(Ordering::Relaxed),
                           "bearer_calls": self.bearer_calls.load(Ordering::Relaxed),
                           "machine_grants": self.machine.load(Ordering::Relaxed),
                           "revoked": self.revoked.load(Ordering::Relaxed)}),
                )
            }
            _ => full(StatusCode::NOT_FOUND, "text/plain", "not found"),
        }
    }

    async fn token(&self, req: Request<Incoming>) -> Response<Body> {
        if self.settings.huge_token {
            // 100 MB of a token that never ends.
            let chunk = Bytes::from(vec![b'a'; 1 << 20]);
            let head = Bytes::from_static(b"{\"access_token\":\"");
            let stream = futures_util::stream::iter(
                std::iter::once(head)
                    .chain(std::iter::repeat_n(chunk, 100))
                    .map(|b| Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(b))),
            );
            let mut resp = Response::new(http_body_util::StreamBody::new(stream).boxed());
            resp.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json"),
            );
            return resp;
        }
        let req_basic = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Basic "))
            .and_then(base64_decode)
            .map(|raw| String::from_utf8_lossy(&raw).into_owned());
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return json_response(StatusCode::BAD_REQUEST, json!({"error": "invalid_request"}));
            }
        };
        let f = pairs(&String::from_utf8_lossy(&body));
        let bad = |e: &str| json_response(StatusCode::BAD_REQUEST, json!({"error": e}));
        let mut i = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        let user = match f.get("grant_type").map(String::as_str) {
            Some("authorization_code") => {
                let Some(code) = f.get("code").and_then(|c| i.codes.remove(c)) else {
                    return bad("invalid_grant");
                };
                let verifier = f.get("code_verifier").cloned().unwrap_or_default();
                let challenge = base64url(&sha2::Sha256::digest(verifier.as_bytes()));
                if challenge != code.challenge
                    || f.get("redirect_uri") != Some(&code.redirect_uri)
                    || f.get("client_id") != Some(&code.client_id)
                {
                    return bad("invalid_grant");
                }
                i.resources.push(code.resource);
                code.user
            }
            // Machine to machine: a client with its secret, as HTTP Basic or in the body.
            Some("client_credentials") => {
                let basic = req_basic.as_deref().map(|b| {
                    b.split_once(':')
                        .map(|(i, s)| (i.to_string(), s.to_string()))
                });
                let (id, secret) = match basic.flatten() {
                    Some(pair) => pair,
                    None => (
                        f.get("client_id").cloned().unwrap_or_default(),
                        f.get("client_secret").cloned().unwrap_or_default(),
                    ),
                };
                if id.is_empty() || secret != format!("secret-of-{id}") {
                    return json_response(
                        StatusCode::UNAUTHORIZED,
                        json!({"error": "invalid_client"}),
                    );
                }
                self.machine.fetch_add(1, Ordering::Relaxed);
                i.resources
                    .push(f.get("resource").cloned().unwrap_or_default());
                id
            }
            // A workload's own JWT (RFC 7523 §2.1): its subject is the user. The mock
            // checks the shape and a subject, not a signature.
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
                let sub = f
                    .get("assertion")
                    .filter(|a| a.split('.').count() == 3)
                    .and_then(|a| a.split('.').nth(1))
                    .and_then(|c| base64_decode(&c.replace('-', "+").replace('_', "/")))
                    .and_then(|c| serde_json::from_slice::<Value>(&c).ok())
                    .and_then(|c| c["sub"].as_str().map(str::to_string));
                let Some(sub) = sub else {
                    return bad("invalid_grant");
                };
                self.machine.fetch_add(1, Ordering::Relaxed);
                i.resources
                    .push(f.get("resource").cloned().unwrap_or_default());
                sub
            }
            Some("refresh_token") => {
                let Some(rt) = f.get("refresh_token") else {
                    return bad("invalid_request");
                };
                let Some(user) = i.refresh.remove(rt) else {
                    if i.all.contains(rt) {
                        self.reused.fetch_add(1, Ordering::Relaxed);
                    }
                    return bad("invalid_grant");
                };
                self.refreshed.fetch_add(1, Ordering::Relaxed);
                user
            }
            _ => return bad("unsupported_grant_type"),
        };
        let access = self.next("at");
        let refresh = self.next("rt");
        i.access.insert(
            access.clone(),
            (
                Instant::now() + Duration::from_secs(self.settings.expires_in),
                user.clone(),
            ),
        );
        i.refresh.insert(refresh.clone(), user);
        i.all.push(access.clone());
        i.all.push(refresh.clone());
        json_response(
            StatusCode::OK,
            json!({"access_token": access, "token_type": "Bearer", "expires_in": self.settings.expires_in,
                   "refresh_token": refresh, "scope": "mcp"}),
        )
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.trim_end_matches('=').bytes() {
        let v = A.iter().position(|x| *x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn base64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for k in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * k)) & 63) as usize] as char);
        }
    }
    out
}
