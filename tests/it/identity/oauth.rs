//! The gateway as an OAuth 2.1 resource server, end to end over real sockets: a test
//! authorization server on 127.0.0.1 (tests/peers/oauth_issuer.py) publishes its
//! metadata and JWKS, and signs tokens with PyPI `joserfc` (RS256, ES256, EdDSA). The
//! gateway discovers the JWKS from the metadata, accepts valid tokens for its resource,
//! and refuses every other one with the right status and `WWW-Authenticate`.

use crate::support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::gateway::TestGateway;
use crate::support::http::request;
use crate::support::keyadm;
use crate::support::mcp::{Client, text_of};
use crate::support::mock::Mock;
use crate::support::{eventually, python};
use metamcp::config::{Issuer, OAuth};
use serde_json::{Value, json};

pub(crate) const PUBLIC: &str = "http://mcp.example.test";

/// The test authorization server.
pub(crate) struct Idp {
    /// Where the test reaches it (plain HTTP).
    addr: SocketAddr,
    /// Its issuer URL.
    issuer: String,
    child: Child,
}

impl Idp {
    pub(crate) fn start() -> Idp {
        Self::spawn(&[])
    }

    /// Serving HTTPS with a certificate from a CA whose certificate is `dir/ca.pem`.
    fn start_tls(dir: &std::path::Path) -> Idp {
        Self::spawn(&["--tls".as_ref(), dir.as_os_str()])
    }

    fn spawn(args: &[&std::ffi::OsStr]) -> Idp {
        let mut child = Command::new(python("oauth"))
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/peers/oauth_issuer.py"
            ))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the test authorization server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("its port");
        let ports: Vec<u16> = line
            .split_whitespace()
            .map(|p| p.parse().expect("a port"))
            .collect();
        let (issuer, control) = match ports.as_slice() {
            [p] => (format!("http://127.0.0.1:{p}"), *p),
            [tls, plain] => (format!("https://127.0.0.1:{tls}"), *plain),
            _ => panic!("unexpected first line {line:?}"),
        };
        Idp {
            addr: SocketAddr::from(([127, 0, 0, 1], control)),
            issuer,
            child,
        }
    }

    pub(crate) fn issuer(&self) -> String {
        self.issuer.clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let body = body.to_string();
        let r = request(
            self.addr,
            "POST",
            path,
            &[("content-type", "application/json")],
            Some(body.as_bytes()),
        )
        .await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        r.json()
    }

    /// A token signed by `key` (rsa, ec, ed, unknown) with these claims over the defaults.
    pub(crate) async fn token(&self, key: &str, claims: Value) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let mut all = json!({"iss": self.issuer(), "sub": "alice", "client_id": "cli-1",
                             "aud": format!("{PUBLIC}/mcp"), "scope": "mcp:use",
                             "iat": now, "exp": now + 300});
        for (k, v) in claims.as_object().expect("claims") {
            all[k] = v.clone();
        }
        self.post("/sign", json!({"claims": all, "key": key})).await["token"]
            .as_str()
            .expect("token")
            .to_string()
    }

    /// A valid token (default claims) whose header carries `extra` members besides its
    /// own, correctly signed.
    async fn with_header(&self, extra: Value) -> String {
        let claims = json!({"iss": self.issuer(), "sub": "alice", "aud": format!("{PUBLIC}/mcp"),
                            "scope": "mcp:use", "exp": 9_999_999_999u64});
        self.post("/sign", json!({"claims": claims, "header": extra}))
            .await["token"]
            .as_str()
            .expect("token")
            .to_string()
    }

    async fn forged(&self, forge: &str) -> String {
        let claims = json!({"iss": self.issuer(), "sub": "mallory", "aud": format!("{PUBLIC}/mcp"),
                            "scope": "mcp:admin", "exp": 9_999_999_999u64});
        self.post("/sign", json!({"claims": claims, "forge": forge}))
            .await["token"]
            .as_str()
            .expect("token")
            .to_string()
    }

    async fn jwks_fetches(&self) -> u64 {
        let r = request(self.addr, "GET", "/stats", &[], None).await;
        r.json()["jwks_fetches"].as_u64().expect("count")
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// OAuth settings with one issuer and the default mapping.
pub(crate) fn settings(
    public_url: String,
    issuer: String,
    ca_file: Option<std::path::PathBuf>,
) -> OAuth {
    OAuth {
        public_url,
        ca_file,
        issuers: vec![Issuer {
            issuer,
            jwks_url: None,
            admin_scope: "mcp:admin".into(),
            client_scope: "mcp:use".into(),
            namespaces_claim: None,
            limits: Default::default(),
            limit_by_client: false,
            audience_includes: false,
        }],
    }
}

pub(crate) async fn gateway(idp: &Idp) -> (TestGateway, Mock) {
    gateway_trusting(idp, None).await
}

async fn gateway_trusting(idp: &Idp, ca_file: Option<std::path::PathBuf>) -> (TestGateway, Mock) {
    let issuer = idp.issuer();
    let gw = TestGateway::start_with(|c| {
        c.oauth = Some(settings(PUBLIC.into(), issuer, ca_file));
    })
    .await;
    let mock = Mock::start(&[]);
    gw.register(json!({"name": "mock", "protocol": "http", "url": mock.url()}))
        .await;
    let r = support::http::send_json(
        gw.addr,
        "POST",
        "/api/v1/namespaces",
        &gw.admin_key,
        &json!({"name": "team", "servers": ["mock"]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    (gw, mock)
}

/// An MCP initialize with `token` at `path`: the status and the `WWW-Authenticate`.
async fn try_token(gw: &TestGateway, path: &str, token: &str) -> (u16, String) {
    let c = Client::new(gw.addr, path, Some(token));
    let r = c
        .post(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "oauth-test", "version": "1"}}}),
        )
        .await;
    let challenge = r.header("www-authenticate").unwrap_or_default().to_string();
    (r.status, challenge)
}

#[tokio::test]
async fn valid_tokens_reach_tools_and_every_bad_one_is_refused() {
    let idp = Idp::start();
    let (gw, _mock) = gateway(&idp).await;

    // Accepted: RS256, ES256 and EdDSA tokens for the resource.
    for key in ["rsa", "ec", "ed"] {
        let token = idp.token(key, json!({})).await;
        let mut c = Client::new(gw.addr, "/mcp", Some(&token));
        assert_eq!(c.initialize().await.status, 200, "{key}");
        let result = c
            .result(
                "tools/call",
                json!({"name": "mock__echo", "arguments": {"message": key}}),
            )
            .await;
        assert_eq!(text_of(&result), key);
    }
    // The token stays here: the backend sees the gateway's own request, never it.
    let token = idp.token("rsa", json!({})).await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&token));
    c.initialize().await;
    let seen = text_of(
        &c.result(
            "tools/call",
            json!({"name": "mock__env", "arguments": {"name": "HOME"}}),
        )
        .await,
    );
    let seen: Value = serde_json::from_str(&seen).expect("env's answer");
    assert_eq!(
        seen["authorization"],
        Value::Null,
        "the backend got a credential: {seen}"
    );
    // A token for the namespace's own resource works there.
    let team = idp
        .token("rsa", json!({"aud": format!("{PUBLIC}/mcp/team")}))
        .await;
    assert_eq!(try_token(&gw, "/mcp/team", &team).await.0, 200);

    // Refused with 401 invalid_token and the metadata to start over from.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let cases = [
        (
            "wrong audience",
            idp.token("rsa", json!({"aud": "http://other.test/mcp"}))
                .await,
            "/mcp",
        ),
        ("another namespace's resource", team.clone(), "/mcp"),
        (
            "an audience besides this resource",
            idp.token(
                "rsa",
                json!({"aud": [format!("{PUBLIC}/mcp"), "https://other.example/mcp"]}),
            )
            .await,
            "/mcp",
        ),
        (
            "a crit extension the gateway does not understand",
            idp.with_header(json!({"crit": ["urn:example:must-understand"],
                                   "urn:example:must-understand": true}))
                .await,
            "/mcp",
        ),
        (
            "an empty crit",
            idp.with_header(json!({"crit": []})).await,
            "/mcp",
        ),
        (
            "wrong issuer",
            idp.token("rsa", json!({"iss": "http://evil.test"})).await,
            "/mcp",
        ),
        (
            "expired",
            idp.token("rsa", json!({"exp": now - 3600})).await,
            "/mcp",
        ),
        (
            "not yet valid",
            idp.token("ec", json!({"nbf": now + 3600})).await,
            "/mcp",
        ),
        ("unknown kid", idp.token("unknown", json!({})).await, "/mcp"),
        ("alg none", idp.forged("none").await, "/mcp"),
        (
            "HS256 keyed with the public key",
            idp.forged("hs256-public").await,
            "/mcp",
        ),
    ];
    for (what, token, path) in &cases {
        let (status, challenge) = try_token(&gw, path, token).await;
        assert_eq!(status, 401, "{what}");
        assert!(challenge.starts_with("Bearer "), "{what}: {challenge}");
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{what}: {challenge}"
        );
        assert!(
            challenge.contains(&format!(
                "resource_metadata=\"{PUBLIC}/.well-known/oauth-protected-resource/mcp\""
            )),
            "{what}: {challenge}"
        );
    }
    // A token without the scope: 403 insufficient_scope, naming the scope needed.
    let scopeless = idp.token("rsa", json!({"scope": "openid profile"})).await;
    let (status, challenge) = try_token(&gw, "/mcp", &scopeless).await;
    assert_eq!(status, 403);
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"mcp:use\""),
        "{challenge}"
    );
    // No credentials at all: 401 with where to start, and the scope to ask for.
    let r = request(
        gw.addr,
        "POST",
        "/mcp/team",
        &[
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
        ],
        Some(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some(
            format!(
                "Bearer resource_metadata=\"{PUBLIC}/.well-known/oauth-protected-resource/mcp/team\", scope=\"mcp:use\""
            )
            .as_str()
        )
    );
    // API keys keep working beside tokens.
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    assert_eq!(c.initialize().await.status, 200);
    // The same audience array alone, and a header without crit, are fine.
    let only_here = idp
        .token("rsa", json!({"aud": [format!("{PUBLIC}/mcp")]}))
        .await;
    assert_eq!(try_token(&gw, "/mcp", &only_here).await.0, 200);
    let plain = idp.with_header(json!({"cty": "JWT"})).await;
    assert_eq!(try_token(&gw, "/mcp", &plain).await.0, 200);
}

/// An issuer configured with `audience=includes` accepts a token whose `aud` lists this
/// resource among others (and still refuses one that does not list it).
#[tokio::test]
async fn audience_includes_is_an_issuers_explicit_choice() {
    let idp = Idp::start();
    let issuer = idp.issuer();
    let gw = TestGateway::start_with(|c| {
        let mut s = settings(PUBLIC.into(), issuer, None);
        s.issuers[0].audience_includes = true;
        c.oauth = Some(s);
    })
    .await;
    let shared = idp
        .token(
            "rsa",
            json!({"aud": [format!("{PUBLIC}/mcp"), "https://other.example/mcp"]}),
        )
        .await;
    assert_eq!(try_token(&gw, "/mcp", &shared).await.0, 200);
    let elsewhere = idp
        .token("rsa", json!({"aud": ["https://other.example/mcp"]}))
        .await;
    assert_eq!(try_token(&gw, "/mcp", &elsewhere).await.0, 401);
}

#[tokio::test]
async fn the_calls_of_a_token_are_audited_under_its_subject() {
    let idp = Idp::start();
    let (gw, _mock) = gateway(&idp).await;
    let token = idp.token("ed", json!({"sub": "bob"})).await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&token));
    assert_eq!(c.initialize().await.status, 200);
    c.result(
        "tools/call",
        json!({"name": "mock__echo", "arguments": {"message": "x"}}),
    )
    .await;
    let key_id = metamcp::auth::oauth::derived_key_id(&idp.issuer(), "bob");
    let entries = eventually(Duration::from_secs(10), "the audit row", || async {
        let r = support::http::get(gw.addr, "/api/v1/audit?tool=mock__echo", &gw.admin_key).await;
        let entries = r.json()["entries"].as_array().cloned().unwrap_or_default();
        (!entries.is_empty()).then_some(entries)
    })
    .await;
    assert_eq!(entries[0]["subject"], "bob");
    assert_eq!(entries[0]["key_id"], key_id.as_str());
}

#[tokio::test]
async fn key_rotation_is_picked_up_and_unknown_kids_cost_one_fetch_per_interval() {
    let idp = Idp::start();
    let (gw, _mock) = gateway(&idp).await;
    let first = idp.token("rsa", json!({})).await;
    assert_eq!(try_token(&gw, "/mcp", &first).await.0, 200);
    // The issuer rotates its RSA key: a token signed with the new one names a kid the
    // gateway has not seen, which makes it fetch the JWKS again.
    idp.post("/rotate", json!({})).await;
    let rotated = idp.token("rsa", json!({})).await;
    let before = idp.jwks_fetches().await;
    assert_eq!(try_token(&gw, "/mcp", &rotated).await.0, 200);
    assert_eq!(idp.jwks_fetches().await, before + 1);
    // A flood of tokens with unknown kids within the interval: no fetch at all.
    let before = idp.jwks_fetches().await;
    let unknown = idp.token("unknown", json!({})).await;
    let flood = (0..50).map(|_| try_token(&gw, "/mcp", &unknown));
    for (status, _) in futures_util::future::join_all(flood).await {
        assert_eq!(status, 401);
    }
    assert!(
        idp.jwks_fetches().await <= before + 1,
        "an unknown-kid flood reached the issuer"
    );
}

#[tokio::test]
async fn protected_resource_metadata_has_rfc_9728_members() {
    let idp = Idp::start();
    let (gw, _mock) = gateway(&idp).await;
    for (path, resource) in [
        (
            "/.well-known/oauth-protected-resource",
            format!("{PUBLIC}/mcp"),
        ),
        (
            "/.well-known/oauth-protected-resource/mcp",
            format!("{PUBLIC}/mcp"),
        ),
        (
            "/.well-known/oauth-protected-resource/mcp/team",
            format!("{PUBLIC}/mcp/team"),
        ),
    ] {
        let r = request(gw.addr, "GET", path, &[], None).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some("application/json"));
        let doc = r.json();
        // RFC 9728 §2: resource is required; the others are what MCP clients read.
        assert_eq!(doc["resource"], resource.as_str(), "{path}");
        assert_eq!(doc["authorization_servers"], json!([idp.issuer()]));
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
        let scopes = doc["scopes_supported"].as_array().expect("scopes");
        assert!(scopes.contains(&json!("mcp:use")) && scopes.contains(&json!("mcp:admin")));
    }
    let r = request(
        gw.addr,
        "GET",
        "/.well-known/oauth-protected-resource/mcp/nope",
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, 404);
    // Without OAuth configured there is no metadata.
    let plain = TestGateway::start().await;
    let r = request(
        plain.addr,
        "GET",
        "/.well-known/oauth-protected-resource",
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn a_blocked_subject_or_client_is_refused_within_a_second() {
    let idp = Idp::start();
    let (gw, _mock) = gateway(&idp).await;
    let carol = idp
        .token("rsa", json!({"sub": "carol", "client_id": "app-1"}))
        .await;
    let dave = idp
        .token("rsa", json!({"sub": "dave", "client_id": "app-2"}))
        .await;
    assert_eq!(try_token(&gw, "/mcp", &carol).await.0, 200);
    let mut events = support::http::live_events(gw.addr, &gw.admin_key).await;
    let mut seen = String::new();

    let out = keyadm(
        &gw.db,
        &[
            "oauth",
            "block",
            "--sub",
            "carol",
            "--reason",
            "left the team",
        ],
    )
    .await
    .expect("block");
    assert!(out.contains("blocked sub=carol"), "{out}");
    let refused = |token: String| {
        let gw = &gw;
        move || {
            let token = token.clone();
            async move {
                let (status, challenge) = try_token(gw, "/mcp", &token).await;
                (status == 401).then_some(challenge)
            }
        }
    };
    let challenge = eventually(Duration::from_secs(1), "the block", refused(carol.clone())).await;
    assert!(
        challenge.contains("error_description=\"blocked\""),
        "{challenge}"
    );
    // Admins see it on the event stream.
    let e = support::http::events_until(&mut events, &mut seen, Duration::from_secs(5), |v| {
        v["type"] == "oauth.blocked"
    })
    .await;
    assert_eq!(
        (e["sub"].as_str(), e["reason"].as_str()),
        (Some("carol"), Some("left the team"))
    );
    // Others are not touched.
    assert_eq!(try_token(&gw, "/mcp", &dave).await.0, 200);
    let listed: Value = serde_json::from_str(
        &keyadm(&gw.db, &["oauth", "blocks", "--json"])
            .await
            .expect("list"),
    )
    .expect("json");
    assert_eq!(listed["blocks"][0]["kind"], "sub");
    assert_eq!(listed["blocks"][0]["value"], "carol");
    assert_eq!(listed["blocks"][0]["reason"], "left the team");

    // Unblocked: accepted again; a client id block refuses every user of that client.
    keyadm(&gw.db, &["oauth", "unblock", "--sub", "carol"])
        .await
        .expect("unblock");
    eventually(Duration::from_secs(1), "the unblock", || async {
        (try_token(&gw, "/mcp", &carol).await.0 == 200).then_some(())
    })
    .await;
    let issuer = idp.issuer();
    keyadm(
        &gw.db,
        &[
            "oauth",
            "block",
            "--client-id",
            "app-2",
            "--issuer",
            &issuer,
        ],
    )
    .await
    .expect("block client");
    eventually(
        Duration::from_secs(1),
        "the client block",
        refused(dave.clone()),
    )
    .await;
    assert_eq!(try_token(&gw, "/mcp", &carol).await.0, 200);
    // Unblocking what is not blocked is an input error (65).
    assert_eq!(
        keyadm(&gw.db, &["oauth", "unblock", "--sub", "nobody"])
            .await
            .map_err(|e| e.0),
        Err(65)
    );
}

#[tokio::test]
async fn an_issuers_limits_apply_per_subject_or_per_client() {
    let idp = Idp::start();
    let issuer = idp.issuer();
    let mut limits = metamcp::model::limits::KeyLimits::default();
    limits.daily_calls = metamcp::model::limits::Setting::Is(2);
    let gw = TestGateway::start_with(|c| {
        let mut o = settings(PUBLIC.into(), issuer, None);
        o.issuers[0].limits = limits;
        o.issuers[0].limit_by_client = true;
        c.oauth = Some(o);
    })
    .await;
    let mock = Mock::start(&[]);
    gw.register(json!({"name": "mock", "protocol": "http", "url": mock.url()}))
        .await;
    let session = |sub: &'static str, client: &'static str| {
        let idp = &idp;
        let gw = &gw;
        async move {
            let token = idp
                .token("ec", json!({"sub": sub, "client_id": client}))
                .await;
            let mut c = Client::new(gw.addr, "/mcp", Some(&token));
            c.initialize().await;
            c
        }
    };
    async fn echo(c: &Client) -> Value {
        let r = c
            .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": "mock__echo", "arguments": {"message": "x"}}}))
            .await;
        support::mcp::response_message(&r)
    }
    // Two users of one client share the client's two calls a day.
    let u1 = session("u1", "app").await;
    let u2 = session("u2", "app").await;
    assert!(echo(&u1).await["result"].is_object());
    assert!(echo(&u2).await["result"].is_object());
    let refused = echo(&u1).await;
    assert!(refused["error"].is_object(), "{refused}");
    assert_eq!(
        refused["error"]["data"]["limit"], "daily_calls",
        "{refused}"
    );
    // Another client's user has its own.
    let u3 = session("u3", "other-app").await;
    assert!(echo(&u3).await["result"].is_object());
}

#[tokio::test]
async fn the_python_sdk_signs_in_through_its_oauth_flow_and_reaches_tools() {
    let idp = Idp::start();
    let issuer = idp.issuer();
    let gw = TestGateway::start_at(|c, addr| {
        c.oauth = Some(settings(format!("http://{addr}"), issuer, None));
    })
    .await;
    let mock = Mock::start(&[]);
    gw.register(json!({"name": "mock", "protocol": "http", "url": mock.url()}))
        .await;
    let url = format!("http://{}/mcp", gw.addr);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python("venv"))
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/peers/sdk_oauth.py"
            ))
            .arg(&url)
            .output()
            .expect("run the SDK client")
    })
    .await
    .expect("SDK task");
    assert!(
        out.status.success(),
        "the SDK's OAuth flow failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("the SDK's report");
    assert_eq!(report["text"], "signed in");
    assert!(
        report["tools"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("mock__echo")))
    );
    // It asked for a token bound to this resource, with the scope the gateway named.
    assert_eq!(report["resource"], format!("http://{}/mcp", gw.addr));
    assert!(
        report["scope"]
            .as_str()
            .is_some_and(|s| s.contains("mcp:use")),
        "{report}"
    );
    // And the call went in under the token's subject.
    let entries = eventually(Duration::from_secs(10), "the audit row", || async {
        let r = support::http::get(gw.addr, "/api/v1/audit?tool=mock__echo", &gw.admin_key).await;
        let entries = r.json()["entries"].as_array().cloned().unwrap_or_default();
        (!entries.is_empty()).then_some(entries)
    })
    .await;
    assert!(
        entries[0]["subject"]
            .as_str()
            .is_some_and(|s| s.starts_with("user-of-client-"))
    );
}

#[tokio::test]
async fn an_https_issuer_is_trusted_through_the_ca_file_and_only_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let idp = Idp::start_tls(dir.path());
    assert!(idp.issuer().starts_with("https://"));
    let (gw, _mock) = gateway_trusting(&idp, Some(dir.path().join("ca.pem"))).await;
    let token = idp.token("ec", json!({})).await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&token));
    assert_eq!(c.initialize().await.status, 200);
    let result = c
        .result(
            "tools/call",
            json!({"name": "mock__echo", "arguments": {"message": "over tls"}}),
        )
        .await;
    assert_eq!(text_of(&result), "over tls");
    // A gateway that does not trust the issuer's CA cannot fetch its keys: refused.
    let (untrusting, _mock2) = gateway_trusting(&idp, None).await;
    let (status, challenge) = try_token(&untrusting, "/mcp", &token).await;
    assert_eq!(status, 401, "{challenge}");
    assert!(challenge.contains("unknown_key"), "{challenge}");
}

/// The payload of a JWT, read (not verified).
fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&metamcp::crypto::base64url_decode(payload).expect("base64url"))
        .expect("JSON")
}

/// `token_exchange` (RFC 8693): each caller's own access token is exchanged at its issuer
/// for one for the backend; the backend sees the caller's subject, its own URL as the
/// audience and the gateway as the actor. An exchanged token is reused while it lives
/// (one exchange per caller token), nothing is stored, the lists are read with the
/// exchange client's own grant, and an API key caller (who has no token) is told why.
#[tokio::test]
async fn each_callers_own_token_is_exchanged_for_the_backends() {
    let idp = Idp::start();
    let issuer = idp.issuer();
    let gw = TestGateway::start_with(|c| {
        c.oauth = Some(settings(PUBLIC.into(), issuer.clone(), None));
    })
    .await;
    let mock = Mock::start(&["--accounts"]);
    let r = support::http::send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers",
        &gw.admin_key,
        &json!({"name": "exch", "protocol": "http", "url": mock.url(),
                "auth": {"type": "token_exchange", "issuer": issuer, "client_id": "exchanger",
                         "client_secret": "exchanger-secret", "scopes": ["upstream"]}}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["auth"]["client_secret"], "********");
    gw.wait_status("exch", "running").await;

    let account = async |token: &str| {
        let mut c = Client::new(gw.addr, "/mcp", Some(token));
        c.initialize().await;
        c.call(
            json!(1),
            "tools/call",
            json!({"name": "exch__account", "arguments": {}}),
        )
        .await
    };
    let alice = idp.token("rsa", json!({"sub": "alice"})).await;
    let bob = idp.token("rsa", json!({"sub": "bob"})).await;
    for (token, who) in [(&alice, "alice"), (&bob, "bob"), (&alice, "alice")] {
        let m = account(token).await;
        let sent = text_of(&m["result"]);
        let jwt = sent.strip_prefix("Bearer ").expect("a bearer token");
        assert_ne!(
            jwt,
            token.as_str(),
            "the caller's own token never reaches the backend"
        );
        let c = claims_of(jwt);
        assert_eq!(c["sub"], who, "{c}");
        assert_eq!(c["aud"], mock.url(), "{c}");
        assert_eq!(c["act"]["sub"], "exchanger", "{c}");
        assert_eq!(c["scope"], "upstream", "{c}");
    }
    let stats = request(idp.addr, "GET", "/stats", &[], None).await.json();
    assert_eq!(
        stats["exchanges"], 2,
        "one exchange per caller token: {stats}"
    );
    assert!(stats["client_grants"].as_u64() >= Some(1), "{stats}");

    // An API key has no token to exchange; there is nothing to connect either.
    let m = account(&gw.client_key).await;
    assert_eq!(m["error"]["code"], -32051, "{m}");
    assert!(
        m["error"]["message"]
            .as_str()
            .unwrap()
            .contains("OAuth access token"),
        "{m}"
    );
    let r = support::http::send_json(
        gw.addr,
        "POST",
        "/api/v1/me/connections/exch",
        &gw.client_key,
        &json!({}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let listed = support::http::get(gw.addr, "/api/v1/me/connections", &gw.admin_key).await;
    assert_eq!(
        listed.json()["connections"],
        json!([]),
        "nothing stored per caller"
    );
}
