//! `keyadm policies check` and `simulate`: the running gateway's own dry run of the call
//! (`POST /api/v1/policies/check`, [`crate::mcp::phases::dry_run`]) or of every key's
//! calls with a changed policy (`POST /api/v1/policies/simulate`), so keyadm answers
//! what a call would get and never decides by code of its own. The gateway is found as
//! `client-config` finds it (`--url`, `METAMCP_PUBLIC_URL`, the address the gateway
//! running on this data directory bound, `METAMCP_LISTEN`); keyadm asks with a token of
//! a minute for an active admin key, signed with the gateway's JWT secret (the token is
//! never printed).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request};
use serde_json::{Value, json};

use crate::auth::token::{Claims, Tokens, new_jti};
use crate::config::Config;

use super::KeyadmError;

/// How long keyadm waits for the gateway's answer.
const WAIT: std::time::Duration = std::time::Duration::from_secs(15);
/// The largest answer read.
const MAX_ANSWER: usize = 1 << 20;

/// What the check asks: the principal, the tool, the namespace and the arguments.
pub(super) struct Asked<'a> {
    pub principal: &'a str,
    pub tool: &'a str,
    pub namespace: Option<&'a str>,
    pub arguments: Option<Value>,
    pub url: Option<&'a str>,
}

/// The gateway's base URL (`http://host:port`).
fn base(config: &Config, url: Option<&str>) -> Result<String, KeyadmError> {
    if let Some(u) = url
        .map(str::to_string)
        .or_else(|| config.public_url.clone())
    {
        return Ok(u.trim_end_matches('/').to_string());
    }
    let listen = match crate::app::address::read(&config.data_dir) {
        Some(running) => running,
        None if config.listen.port() == 0 => {
            return Err(KeyadmError::Input(format!(
                "no gateway runs on {} and METAMCP_LISTEN picks no port: policies check and \
                 simulate ask the running gateway; say where with --url URL",
                config.data_dir.display()
            )));
        }
        None => config.listen,
    };
    let host = match listen.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_string(),
        ip if ip.is_ipv6() => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    Ok(format!("http://{host}:{}", listen.port()))
}

/// A token of a minute for an active admin key, signed with the gateway's JWT secret.
async fn token(
    pool: &deadpool_postgres::Pool,
    jwt: &crate::config::Secret,
) -> Result<String, KeyadmError> {
    let client = pool.get().await.map_err(crate::store::db::DbError::from)?;
    let row = client
        .query_opt(
            "SELECT id, secret_hash FROM api_keys WHERE is_active AND scope = 'admin' \
             AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at LIMIT 1",
            &[],
        )
        .await
        .map_err(crate::store::db::DbError::from)?
        .ok_or_else(|| {
            KeyadmError::Input(
                "no active admin key to ask the gateway with: create one with \
                 keyadm keys create --name NAME --scope admin"
                    .into(),
            )
        })?;
    let now = crate::base::unix_now();
    let claims = Claims {
        sub: row.get(0),
        scope: "admin".into(),
        ns: Vec::new(),
        iat: now,
        exp: now + 60,
        jti: new_jti(),
        kv: crate::store::keys::secret_version(row.get::<_, &str>(1)),
    };
    Tokens::new(jwt)
        .sign(&claims)
        .map_err(|e| KeyadmError::Input(format!("cannot sign a token to ask the gateway: {e}")))
}

/// The gateway's dry run of the call `asked`: its JSON answer.
pub(super) async fn ask(
    config: &Config,
    pool: &deadpool_postgres::Pool,
    asked: &Asked<'_>,
) -> Result<Value, KeyadmError> {
    let mut body = json!({"principal": asked.principal, "tool": asked.tool});
    if let Some(ns) = asked.namespace {
        body["namespace"] = json!(ns);
    }
    if let Some(a) = &asked.arguments {
        body["arguments"] = a.clone();
    }
    posted(config, pool, asked.url, "check", &body).await
}

/// `body` posted to the running gateway's `/api/v1/policies/{what}` (`check`,
/// `simulate`), found at `url` or as `client-config` finds it: its JSON answer.
pub(super) async fn posted(
    config: &Config,
    pool: &deadpool_postgres::Pool,
    url: Option<&str>,
    what: &str,
    body: &Value,
) -> Result<Value, KeyadmError> {
    let base = base(config, url)?;
    let secrets = crate::app::secrets::Secrets::resolve(config)?;
    let token = token(pool, &secrets.jwt).await?;
    let url = format!("{base}/api/v1/policies/{what}");
    let auth = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|e| KeyadmError::Input(format!("cannot ask the gateway: {e}")))?;
    let req = Request::builder()
        .method(Method::POST)
        .uri(&url)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, auth)
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| KeyadmError::Input(format!("cannot ask {url}: {e}")))?;
    let tls =
        crate::crypto::tls_client(config.backend_ca_file.as_deref()).map_err(KeyadmError::Input)?;
    let http = crate::backend::http::client(&tls);
    let unreachable = |e: String| {
        KeyadmError::Input(format!(
            "no gateway answers at {base} ({e}): policies {what} asks the running gateway \
             the decisions it would make; start it, or say where it is with --url URL"
        ))
    };
    let exchange = async {
        let resp = http
            .request(req)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let status = resp.status();
        let bytes = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .to_bytes();
        Ok::<_, KeyadmError>((status, bytes))
    };
    let (status, bytes) = tokio::time::timeout(WAIT, exchange)
        .await
        .map_err(|_| unreachable(format!("no answer within {} s", WAIT.as_secs())))??;
    let answer = crate::jsonrpc::read::value(&bytes).unwrap_or(Value::Null);
    if !status.is_success() {
        let said = answer["error"].as_str().map_or_else(
            || String::from_utf8_lossy(&bytes).into_owned(),
            str::to_string,
        );
        return Err(KeyadmError::Input(format!(
            "the gateway at {base} refused the {what} ({status}): {said}"
        )));
    }
    Ok(answer)
}

/// The check's answer as text: the decision, the policy or the phase that decided and
/// why, the rules that failed, and the policies in audit mode.
pub(super) fn text(d: &Value) -> String {
    let s = |k: &str| d[k].as_str().unwrap_or_default();
    let by = match (s("policy"), s("phase")) {
        (p, _) if !p.is_empty() => format!(" (policy {p})"),
        (_, "forward" | "") => String::new(),
        (_, phase) => format!(
            " ({phase}: {})",
            d["error"]["message"].as_str().unwrap_or("")
        ),
    };
    let mut out = format!("{}{by}\n", s("decision"));
    for f in d["failed"].as_array().into_iter().flatten() {
        out.push_str(&format!("  {}\n", f.as_str().unwrap_or_default()));
    }
    for t in d["audit"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  audit mode: policy {} would {}\n",
            t["policy"].as_str().unwrap_or_default(),
            t["decision"].as_str().unwrap_or_default()
        ));
    }
    out
}
