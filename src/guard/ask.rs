//! One question to a guardrail: `POST` its URL with the payload (JSON), within its
//! timeout, a place among the calls at once on it and in total taken without waiting,
//! the answer read up to [`MAX_ANSWER`] and read as a [`Verdict`]. Every way this fails
//! is an `Err` with the reason, for the guardrail's failure mode to decide on.
//!
//! The answer: `{"decision": "allow" | "deny" | "mutate", "reason"?: string,
//! "arguments"?: object (request), "result"?: object (result)}`.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, Uri, header};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::{Hook, MAX_ANSWER, PER_GUARDRAIL};
use crate::backend::http::HttpClient;

/// The longest reason passed on to a client.
const MAX_REASON: usize = 1000;

/// Which of a call's two moments a guardrail is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before the call is forwarded: it may change `arguments`.
    Request,
    /// On its result: it may change `result`.
    Result,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Request => "request",
            Phase::Result => "result",
        }
    }

    /// The field a `mutate` answer carries.
    pub fn field(self) -> &'static str {
        match self {
            Phase::Request => "arguments",
            Phase::Result => "result",
        }
    }
}

/// What a guardrail decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Allow,
    Deny(String),
    /// The new `arguments` (request) or `result` (result): an object.
    Mutate(Value),
}

impl Verdict {
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny(_) => "deny",
            Verdict::Mutate(_) => "mutate",
        }
    }
}

/// Asks `hook` about `payload`: its verdict, or why it gave none.
pub(super) async fn ask(
    client: &HttpClient,
    total: &std::sync::Arc<Semaphore>,
    hook: &Hook,
    phase: Phase,
    payload: Vec<u8>,
) -> Result<Verdict, String> {
    let Ok(_mine) = hook.slots.clone().try_acquire_owned() else {
        return Err(format!(
            "{PER_GUARDRAIL} calls are already waiting on this guardrail"
        ));
    };
    let Ok(_all) = total.clone().try_acquire_owned() else {
        return Err(format!(
            "{} calls are already waiting on guardrails",
            super::TOTAL
        ));
    };
    let ms = hook.config.timeout_ms;
    let answer = tokio::time::timeout(
        Duration::from_millis(u64::from(ms)),
        exchange(client, &hook.config.url, payload),
    )
    .await
    .map_err(|_| format!("no answer within {ms} ms (its timeout_ms)"))??;
    verdict(&answer, phase)
}

/// The request: the URL without its userinfo, which goes as HTTP Basic credentials.
fn request(url: &str, payload: Vec<u8>) -> Result<Request<Full<Bytes>>, String> {
    let uri: Uri = url
        .parse()
        .map_err(|_| "its URL does not parse".to_string())?;
    let mut parts = uri.into_parts();
    let mut basic = None;
    if let Some(a) = &parts.authority
        && let Some((user, host)) = a.as_str().rsplit_once('@')
    {
        basic = Some(crate::crypto::base64_padded(user.as_bytes()));
        parts.authority = Some(
            host.parse()
                .map_err(|_| "its URL's host does not parse".to_string())?,
        );
    }
    if parts.path_and_query.is_none() {
        parts.path_and_query = Some(hyper::http::uri::PathAndQuery::from_static("/"));
    }
    let uri = Uri::from_parts(parts).map_err(|_| "its URL does not parse".to_string())?;
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json")
        .header(
            header::USER_AGENT,
            concat!("metamcp/", env!("CARGO_PKG_VERSION")),
        );
    if let Some(b) = basic {
        req = req.header(header::AUTHORIZATION, format!("Basic {b}"));
    }
    req.body(Full::new(Bytes::from(payload)))
        .map_err(|e| format!("the request cannot be made: {e}"))
}

/// The exchange: the answer's body if it is a success, read up to [`MAX_ANSWER`].
async fn exchange(client: &HttpClient, url: &str, payload: Vec<u8>) -> Result<Bytes, String> {
    let resp = client
        .request(request(url, payload)?)
        .await
        .map_err(|e| format!("unreachable: {e}"))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("answered HTTP {}", status.as_u16()));
    }
    Limited::new(resp.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                format!("answered more than {MAX_ANSWER} bytes")
            } else {
                format!("its answer broke off: {e}")
            }
        })
}

/// The answer read as a verdict for `phase`.
pub fn verdict(answer: &[u8], phase: Phase) -> Result<Verdict, String> {
    let shape = "an answer that is not {\"decision\": \"allow\" | \"deny\" | \"mutate\", …}";
    let v: Value = crate::jsonrpc::read::value(answer)
        .map_err(|_| format!("{shape} (not JSON, or JSON readers read differently)"))?;
    let reason = || {
        v.get("reason")
            .and_then(Value::as_str)
            .map(|r| r.chars().take(MAX_REASON).collect::<String>())
    };
    match v.get("decision").and_then(Value::as_str) {
        Some("allow") => Ok(Verdict::Allow),
        Some("deny") => Ok(Verdict::Deny(
            reason().unwrap_or_else(|| "no reason given".into()),
        )),
        Some("mutate") => match v.get(phase.field()) {
            Some(o @ Value::Object(_)) => Ok(Verdict::Mutate(o.clone())),
            _ => Err(format!(
                "a mutate answer without \"{}\" as an object",
                phase.field()
            )),
        },
        _ => Err(shape.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_read_strictly() {
        let r = Phase::Request;
        assert_eq!(verdict(br#"{"decision":"allow"}"#, r), Ok(Verdict::Allow));
        assert_eq!(
            verdict(br#"{"decision":"deny","reason":"no"}"#, r),
            Ok(Verdict::Deny("no".into()))
        );
        assert_eq!(
            verdict(br#"{"decision":"deny"}"#, r),
            Ok(Verdict::Deny("no reason given".into()))
        );
        assert_eq!(
            verdict(br#"{"decision":"mutate","arguments":{"a":1}}"#, r),
            Ok(Verdict::Mutate(json!({"a": 1})))
        );
        assert!(verdict(br#"{"decision":"mutate","result":{}}"#, r).is_err());
        assert!(verdict(br#"{"decision":"mutate","result":{}}"#, Phase::Result).is_ok());
        assert!(verdict(b"garbage", r).unwrap_err().contains("not JSON"));
        assert!(verdict(br#"{"decision":"maybe"}"#, r).is_err());
        assert!(verdict(br#"[1]"#, r).is_err());
        let long = json!({"decision": "deny", "reason": "x".repeat(5000)}).to_string();
        match verdict(long.as_bytes(), r) {
            Ok(Verdict::Deny(why)) => assert_eq!(why.len(), MAX_REASON),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn userinfo_goes_as_basic_credentials() {
        let req = request("http://u:p@127.0.0.1:9?t=1", b"{}".to_vec()).unwrap();
        assert_eq!(req.uri().to_string(), "http://127.0.0.1:9/?t=1");
        assert_eq!(
            req.headers()[header::AUTHORIZATION],
            format!("Basic {}", crate::crypto::base64_padded(b"u:p"))
        );
        let plain = request("https://h.example/x", Vec::new()).unwrap();
        assert!(plain.headers().get(header::AUTHORIZATION).is_none());
    }
}
