//! Multi-round-trip requests (MCP 2026-07-28) over a session-era backend.
//!
//! A stateless client cannot take requests from the server. When a backend asks one
//! (`sampling/createMessage`, `elicitation/create`, `roots/list`) during a call, the
//! questions are held back, the client's response ends with `resultType:
//! "input_required"`, the questions as `inputRequests` and a sealed `requestState`, and
//! the upstream call waits here, parked with its answer stream. The client's retry
//! (a new id, `inputResponses`, the same state) answers the backend's requests with the
//! backend's own ids, and the parked answer stream goes on to the retry's response, over
//! as many rounds as the backend needs.
//!
//! Parked calls are bounded per key and in total; one whose retry never comes is
//! cancelled upstream after the TTL (its questions answered as refused first).

//!
//! Beside it: [`ask`], the backend's question as the round puts it; `held`, what a
//! call holds back from its answer stream for the rounds; [`retry`], the client's retry.

pub mod retry;

use foldhash::{HashMap, HashMapExt};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hyper::body::Frame as BodyFrame;

use crate::crypto::Cipher;
use crate::jsonrpc::frame;
use crate::mcp::wire::ask::Ask;
use crate::mcp::wire::held::Settle;
use crate::mcp::wire::request_state::{self, StateClaims};

use crate::jsonrpc::methods::Method;
use crate::mcp::hop::caller::Caller;
use crate::mcp::hop::upstream::UpstreamBody;

/// Bounds on calls waiting for a client's input.
#[derive(Debug, Clone, Copy)]
pub struct ParkBounds {
    /// How long a call waits for the retry.
    pub ttl: Duration,
    pub per_key: usize,
    pub total: usize,
}

/// Who a parked call belongs to and which request it answers (the sealed state's
/// claims, less the call and the expiry).
#[derive(Debug, Clone)]
pub struct Binding {
    /// Key id, or empty for an open namespace's anonymous callers (who share a bound).
    pub principal: String,
    pub namespace: Option<String>,
    pub method: String,
    pub digest: String,
}

/// A call waiting for its client's retry.
pub struct ParkedCall {
    body: Box<UpstreamBody>,
    pub asks: Vec<Ask>,
    binding: Binding,
}

impl ParkedCall {
    /// The backend the call waits at.
    pub fn backend(&self) -> &Arc<crate::backend::Backend> {
        &self.body.backend
    }
}

/// Calls waiting for their clients' input, on this replica.
pub struct Parked {
    calls: Mutex<HashMap<String, ParkedCall>>,
    bounds: ParkBounds,
    cipher: Cipher,
    /// This process's id, and the URL other replicas reach it at.
    pub replica: String,
    replica_url: std::sync::OnceLock<String>,
}

impl Parked {
    pub fn new(bounds: ParkBounds, cipher: Cipher, replica_url: Option<String>) -> Parked {
        let url = std::sync::OnceLock::new();
        if let Some(u) = replica_url {
            let _ = url.set(u);
        }
        Parked {
            calls: Mutex::new(HashMap::new()),
            bounds,
            cipher,
            replica: crate::crypto::random_alphanumeric(16),
            replica_url: url,
        }
    }

    /// Where other replicas reach this one, unless configured: the address it listens
    /// on, when that is a specific one (not 0.0.0.0 or ::).
    pub fn listening_at(&self, addr: std::net::SocketAddr) {
        if !addr.ip().is_unspecified() {
            let _ = self.replica_url.set(format!("http://{addr}"));
        }
    }

    pub fn replica_url(&self) -> Option<&str> {
        self.replica_url.get().map(String::as_str)
    }

    /// How long a call waits for its client's answers.
    pub fn ttl(&self) -> Duration {
        self.bounds.ttl
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ParkedCall>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Parks a call under a new id, if the bounds allow; the call comes back on refusal.
    #[allow(clippy::result_large_err)]
    fn park(self: &Arc<Self>, call: ParkedCall) -> Result<String, (ParkedCall, String)> {
        let mut calls = self.lock();
        if calls.len() >= self.bounds.total {
            let why = format!(
                "the gateway holds {} calls waiting for input, its most (METAMCP_MAX_PARKED)",
                calls.len()
            );
            return Err((call, why));
        }
        let mine = calls
            .values()
            .filter(|c| c.binding.principal == call.binding.principal)
            .count();
        if mine >= self.bounds.per_key {
            let why = format!(
                "this key has {mine} calls waiting for input, its most (METAMCP_KEY_MAX_PARKED)"
            );
            return Err((call, why));
        }
        let mut raw = [0u8; 16];
        crate::crypto::random_bytes(&mut raw);
        let id = crate::crypto::to_hex(&raw);
        call.body.inner.set_parked(true);
        calls.insert(id.clone(), call);
        drop(calls);
        let parked = self.clone();
        let key = id.clone();
        let ttl = self.bounds.ttl;
        tokio::spawn(async move {
            tokio::time::sleep(ttl).await;
            let expired = parked.lock().remove(&key);
            if let Some(call) = expired {
                give_up(call, "the client did not retry within METAMCP_MRTR_TTL").await;
            }
        });
        Ok(id)
    }

    /// Takes the parked call `id` if `binding` is the one it was parked under (the
    /// state's claims are checked already; this is the replay and mix-up guard).
    pub fn take(&self, id: &str, binding: &Binding) -> Option<ParkedCall> {
        let mut calls = self.lock();
        let c = calls.get(id)?;
        if c.binding.principal != binding.principal
            || c.binding.namespace != binding.namespace
            || c.binding.method != binding.method
            || c.binding.digest != binding.digest
        {
            return None;
        }
        let call = calls.remove(id)?;
        call.body.inner.set_parked(false);
        Some(call)
    }

    /// Returns a call taken for a retry that could not use it (its answers were
    /// malformed), so a good retry still finds it.
    pub fn put_back(&self, id: &str, call: ParkedCall) {
        call.body.inner.set_parked(true);
        self.lock().insert(id.to_string(), call);
    }

    /// Seals the state of a request to send again on the retry (nothing waits here: the
    /// backend answered -32042 and will be asked afresh once the user has been to the
    /// URLs). Any replica serves such a retry.
    pub fn resend_state(&self, binding: &Binding) -> String {
        self.state("", binding)
    }

    /// Seals the state of a call parked as `id` (empty: none, send again).
    fn state(&self, id: &str, binding: &Binding) -> String {
        let expires_ms = crate::base::unix_now_ms()
            .saturating_add(u64::try_from(self.bounds.ttl.as_millis()).unwrap_or(u64::MAX));
        request_state::seal(
            &self.cipher,
            &StateClaims {
                call: id.to_string(),
                replica: self.replica.clone(),
                replica_url: self.replica_url().map(str::to_string),
                principal: binding.principal.clone(),
                namespace: binding.namespace.clone(),
                method: binding.method.clone(),
                digest: binding.digest.clone(),
                expires_ms,
            },
        )
    }
}

/// Answers a parked call's questions as refused, then ends the call (cancelled upstream).
async fn give_up(mut call: ParkedCall, why: &str) {
    let owner = crate::mcp::hop::calls::owner_key(&call.body.conversation).to_string();
    for a in &call.asks {
        call.body
            .backend
            .notify(&owner, call.body.via, refusal(a, why))
            .await;
    }
    call.body.finish_abandoned(why);
}

/// What a backend is told when its question gets no answer: an elicitation is cancelled
/// (its own way of saying "no answer"), the others fail.
fn refusal(a: &Ask, why: &str) -> Bytes {
    if a.method == Method::ElicitationCreate {
        let mut out = BytesMut::new();
        out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
        out.extend_from_slice(&a.id);
        out.extend_from_slice(b",\"result\":{\"action\":\"cancel\"}}");
        return out.freeze();
    }
    crate::backend::mux::error_answer_with(&a.id, -1, why)
}

/// The client's answer to one question, for the backend under its own id. An accepted
/// form that leaves out fields the question gave defaults for gets those defaults, as a
/// client applying them would have sent (SEP-1034).
fn answer(a: &Ask, result: &[u8]) -> Bytes {
    let filled = with_defaults(a, result);
    let result = filled.as_deref().unwrap_or(result);
    let mut out = BytesMut::with_capacity(result.len() + a.id.len() + 40);
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(&a.id);
    out.extend_from_slice(b",\"result\":");
    out.extend_from_slice(result);
    out.extend_from_slice(b"}");
    out.freeze()
}

/// An accepted elicitation's answer with the defaults of the fields it left out; `None`
/// when nothing is to be added.
fn with_defaults(a: &Ask, result: &[u8]) -> Option<Vec<u8>> {
    if a.method != Method::ElicitationCreate
        || memchr::memmem::find(&a.params, b"\"default\"").is_none()
    {
        return None;
    }
    let mut v: serde_json::Value = serde_json::from_slice(result).ok()?;
    if v["action"] != "accept" {
        return None;
    }
    let params: serde_json::Value = serde_json::from_slice(&a.params).ok()?;
    let fields = params["requestedSchema"]["properties"].as_object()?;
    if v.get("content").is_none() {
        v["content"] = serde_json::json!({});
    }
    let content = v["content"].as_object_mut()?;
    let mut added = false;
    for (name, field) in fields {
        if let Some(d) = field.get("default")
            && !content.contains_key(name)
        {
            content.insert(name.clone(), d.clone());
            added = true;
        }
    }
    added.then(|| serde_json::to_vec(&v).ok()).flatten()
}

/// A stateless client's call answer: the backend's stream, until the backend asks the
/// client something; then the `input_required` result, and the call is parked.
pub struct Rounds {
    inner: Option<Box<UpstreamBody>>,
    parked: Arc<Parked>,
    binding: Binding,
    settle: Option<Settle>,
    /// A first piece taken by [`respond`] to decide the response's head.
    prefix: Option<Bytes>,
    /// Whether anything has gone to the client yet.
    started: bool,
    /// The message that ends this response (an `input_required` result or an error).
    last: Option<Final>,
    /// The ending message when nothing else was sent: [`respond`] sends it whole.
    head: Option<Final>,
    done: bool,
}

/// The message a round ends with, and the HTTP status it has alone.
struct Final {
    message: Bytes,
    status: hyper::StatusCode,
}

impl Rounds {
    pub(in crate::mcp) fn new(
        body: Box<UpstreamBody>,
        parked: Arc<Parked>,
        binding: Binding,
    ) -> Rounds {
        Rounds {
            inner: Some(body),
            parked,
            binding,
            settle: None,
            prefix: None,
            started: false,
            last: None,
            head: None,
            done: false,
        }
    }

    /// Ends the round: the questions the client can answer are asked (the call parks);
    /// the others are refused to the backend. Asked only questions the client cannot
    /// take, the client gets -32021 naming the capabilities, and the call is given up.
    /// Over the parking bounds, -32029 and the call is given up.
    fn detach(&mut self) {
        let Some(mut body) = self.inner.take() else {
            return;
        };
        let client_id = body.client_id.clone();
        let owner = crate::mcp::hop::calls::owner_key(&body.conversation).to_string();
        let (asks, refused): (Vec<Ask>, Vec<Ask>) = std::mem::take(&mut body.held.asks)
            .into_iter()
            .partition(|a| a.undeclared.is_none());
        if body.splicer.answered() || !refused.is_empty() {
            // Moot (the backend answered without waiting) or not the client's to answer.
            let backend = body.backend.clone();
            let via = body.via;
            let owner = owner.clone();
            let answered = body.splicer.answered();
            let moot = if answered { asks.clone() } else { Vec::new() };
            let refused = refused.clone();
            tokio::spawn(async move {
                for a in &refused {
                    let why = format!(
                        "the client did not declare the {} capability",
                        a.undeclared.unwrap_or_default()
                    );
                    let answer = crate::backend::mux::error_answer_with(
                        &a.id,
                        crate::mcp::wire::rpc::code::METHOD_NOT_FOUND,
                        &why,
                    );
                    backend.notify(&owner, via, answer).await;
                }
                for a in &moot {
                    backend
                        .notify(&owner, via, refusal(a, "the call was already answered"))
                        .await;
                }
            });
            if answered {
                self.inner = Some(body);
                return;
            }
        }
        if asks.is_empty() {
            let mut required = serde_json::Map::new();
            for a in &refused {
                // `elicitation.url` is {"elicitation": {"url": {}}}.
                let name = a.undeclared.unwrap_or_default();
                let (top, sub) = name.split_once('.').unwrap_or((name, ""));
                let entry = required
                    .entry(top.to_string())
                    .or_insert_with(|| serde_json::json!({}));
                if !sub.is_empty() {
                    entry[sub] = serde_json::json!({});
                }
            }
            let mut err = crate::mcp::wire::rpc::RpcError::new(
                hyper::StatusCode::BAD_REQUEST,
                crate::mcp::wire::rpc::code::MISSING_CAPABILITY,
                "the server needs client capabilities this request did not declare",
            );
            err.data = Some(serde_json::json!({"requiredCapabilities": required}));
            self.end_with(Final {
                message: err.body(&client_id),
                status: hyper::StatusCode::BAD_REQUEST,
            });
            tokio::spawn(async move {
                let mut body = body;
                body.finish_abandoned("the client lacks a capability the server needs");
            });
            return;
        }
        if self.binding.digest.is_empty() {
            self.binding.digest = request_state::params_digest(&body.request).unwrap_or_default();
        }
        if let Some(a) = &mut body.record.admitted {
            a.release_place();
        }
        let call = ParkedCall {
            body,
            asks: asks.clone(),
            binding: self.binding.clone(),
        };
        let end = match self.parked.park(call) {
            Ok(id) => Final {
                message: input_required(&client_id, &asks, &self.parked.state(&id, &self.binding)),
                status: hyper::StatusCode::OK,
            },
            Err((call, why)) => {
                let err =
                    crate::mcp::wire::rpc::RpcError::limited(why.clone(), "parked", 1000, None)
                        .in_era(true);
                let status = err.status;
                tokio::spawn(async move { give_up(call, &why).await });
                Final {
                    message: err.body(&client_id),
                    status,
                }
            }
        };
        self.end_with(end);
    }

    /// The response ends with `last`: on the stream when something went before it,
    /// else whole (see [`respond`]).
    fn end_with(&mut self, last: Final) {
        if self.started {
            self.last = Some(last);
        } else {
            self.head = Some(last);
            self.done = true;
        }
    }
}

/// The response to a stateless client's call that may need its input: its head waits
/// for the first thing to send, so that a round ending before anything else went out is
/// a plain JSON answer with its own status (400 for -32021), and otherwise an SSE stream.
pub async fn respond(mut rounds: Rounds) -> hyper::Response<crate::http::Body> {
    use http_body_util::BodyExt;
    let first = loop {
        match rounds.frame().await {
            Some(Ok(f)) => match f.into_data() {
                Ok(d) if d.is_empty() => continue,
                Ok(d) => break Some(d),
                Err(_) => continue,
            },
            Some(Err(_)) | None => break None,
        }
    };
    match first {
        Some(d) => {
            rounds.prefix = Some(d);
            rounds.done = false;
            let mut r = hyper::Response::new(crate::http::Body::Stream(Box::pin(rounds)));
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/event-stream"),
            );
            r
        }
        None => match rounds.head.take() {
            Some(f) => {
                let mut r = crate::mcp::wire::rpc::json_response(f.status, f.message);
                if f.status == hyper::StatusCode::TOO_MANY_REQUESTS {
                    r.headers_mut().insert(
                        hyper::header::RETRY_AFTER,
                        hyper::header::HeaderValue::from_static("1"),
                    );
                }
                r
            }
            None => crate::mcp::wire::rpc::status_only(hyper::StatusCode::BAD_GATEWAY),
        },
    }
}

/// `{"jsonrpc":"2.0","id":…,"result":{"resultType":"input_required",…}}`.
pub fn input_required(client_id: &[u8], asks: &[Ask], state: &str) -> Bytes {
    let mut out =
        BytesMut::with_capacity(256 + asks.iter().map(|a| a.params.len() + 64).sum::<usize>());
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(client_id);
    out.extend_from_slice(b",\"result\":{\"resultType\":\"input_required\",\"inputRequests\":{");
    for (i, a) in asks.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b",");
        }
        out.extend_from_slice(&frame::json_string(&a.key));
        out.extend_from_slice(b":{\"method\":\"");
        out.extend_from_slice(a.method.as_str().as_bytes());
        out.extend_from_slice(b"\",\"params\":");
        out.extend_from_slice(&a.params);
        out.extend_from_slice(b"}");
    }
    out.extend_from_slice(b"},\"requestState\":");
    out.extend_from_slice(&frame::json_string(state));
    out.extend_from_slice(
        concat!(
            r#","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"metamcp","version":""#,
            env!("CARGO_PKG_VERSION"),
            r#""}}}}"#
        )
        .as_bytes(),
    );
    out.freeze()
}

impl hyper::body::Body for Rounds {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<BodyFrame<Bytes>, std::io::Error>>> {
        let this = &mut *self;
        if let Some(p) = this.prefix.take() {
            this.started = true;
            return Poll::Ready(Some(Ok(BodyFrame::data(p))));
        }
        loop {
            if let Some(last) = this.last.take() {
                this.done = true;
                let mut out = BytesMut::with_capacity(last.message.len() + 32);
                out.extend_from_slice(b"event: message\ndata: ");
                out.extend_from_slice(&last.message);
                out.extend_from_slice(b"\n\n");
                return Poll::Ready(Some(Ok(BodyFrame::data(out.freeze()))));
            }
            if this.done {
                return Poll::Ready(None);
            }
            let Some(inner) = this.inner.as_mut() else {
                return Poll::Ready(None);
            };
            match Pin::new(&mut **inner).poll_frame(cx) {
                Poll::Ready(Some(frame)) => {
                    this.started = true;
                    return Poll::Ready(Some(frame));
                }
                Poll::Ready(None) if !inner.held.url_asks.is_empty() => {
                    let asks = std::mem::take(&mut inner.held.url_asks);
                    let client_id = inner.client_id.clone();
                    if this.binding.digest.is_empty() {
                        this.binding.digest =
                            request_state::params_digest(&inner.request).unwrap_or_default();
                    }
                    let state = this.parked.resend_state(&this.binding);
                    this.end_with(Final {
                        message: input_required(&client_id, &asks, &state),
                        status: hyper::StatusCode::OK,
                    });
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending if inner.held.asks.is_empty() => return Poll::Pending,
                Poll::Pending => {
                    let now = tokio::time::Instant::now();
                    let settle = this.settle.get_or_insert_with(|| Settle::new(now));
                    settle.held(&inner.held.asks, now);
                    if !settle.over(cx) {
                        return Poll::Pending;
                    }
                    this.settle = None;
                    this.detach();
                }
            }
        }
    }
}

/// A retry's answers matched to the questions.
pub struct Matched {
    /// Each answered question with the client's result (raw JSON object).
    pub answered: Vec<(Ask, Bytes)>,
    /// The questions the retry left unanswered (asked again).
    pub missing: Vec<Ask>,
}

/// Why a retry's answers cannot be used.
#[derive(Debug)]
pub enum AnswerError {
    /// `inputResponses` is not an object, or an answer is not one (-32602).
    Invalid(String),
}

/// The client's answers to a parked call's questions, checked: each answered question's
/// result (raw JSON object), and the questions still unanswered. Members answering no
/// question are ignored.
pub fn match_answers(asks: &[Ask], responses: Option<&[u8]>) -> Result<Matched, AnswerError> {
    let map = match responses {
        None => serde_json::Map::new(),
        Some(raw) => match serde_json::from_slice::<serde_json::Value>(raw) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => {
                return Err(AnswerError::Invalid(
                    "inputResponses must be an object keyed by the inputRequests' keys".into(),
                ));
            }
        },
    };
    let mut answered = Vec::new();
    let mut missing = Vec::new();
    for a in asks {
        match map.get(&a.key) {
            Some(v @ serde_json::Value::Object(_)) => {
                answered.push((a.clone(), Bytes::from(v.to_string())));
            }
            Some(_) => {
                return Err(AnswerError::Invalid(format!(
                    "inputResponses[{:?}] must be the result object of its {}",
                    a.key, a.method
                )));
            }
            None => missing.push(a.clone()),
        }
    }
    Ok(Matched { answered, missing })
}

/// Resumes a parked call for a retry (`client_id`, `request`): the answers go to the
/// backend, and its answer stream goes on in the retry's response. Questions still
/// unanswered are asked again at once.
pub async fn resume(
    parked: &Arc<Parked>,
    mut call: ParkedCall,
    Matched { answered, missing }: Matched,
    client_id: Bytes,
    request: Bytes,
) -> hyper::Response<crate::http::Body> {
    let owner = crate::mcp::hop::calls::owner_key(&call.body.conversation).to_string();
    for (a, result) in &answered {
        call.body
            .backend
            .notify(&owner, call.body.via, answer(a, result))
            .await;
    }
    call.body.resume(client_id, request);
    call.body.held.asks = missing;
    respond(Rounds::new(call.body, parked.clone(), call.binding)).await
}

/// Who may retry `caller`'s call of `method` (multi-round-trip requests).
pub fn binding(caller: &Caller<'_>, method: &str, digest: String) -> Binding {
    Binding {
        principal: caller
            .key
            .as_ref()
            .map(|k| k.as_str().to_string())
            .unwrap_or_default(),
        namespace: caller.namespace.map(str::to_string),
        method: method.to_string(),
        digest,
    }
}

/// A stateless client's call that needs the user at the URLs `asks` first: a URL
/// input request, and a state that has the retry sent again as it first came.
pub fn to_the_urls(
    parked: &Parked,
    caller: &Caller<'_>,
    body: &Bytes,
    method: &str,
    client_id: &[u8],
    asks: &[Ask],
) -> hyper::Response<crate::http::Body> {
    let digest = crate::mcp::wire::request_state::params_digest(body).unwrap_or_default();
    let state = parked.resend_state(&binding(caller, method, digest));
    crate::mcp::wire::rpc::json_response(
        hyper::StatusCode::OK,
        input_required(client_id, asks, &state),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_accepted_form_gets_the_defaults_of_what_it_left_out() {
        let ask = |params: &str| super::Ask {
            key: "k".into(),
            id: bytes::Bytes::from_static(b"7"),
            method: Method::ElicitationCreate,
            params: bytes::Bytes::from(params.to_string()),
            undeclared: None,
        };
        let form = ask(
            r#"{"message":"m","requestedSchema":{"type":"object","properties":{"name":{"type":"string","default":"Ada"},"age":{"type":"integer","default":30},"note":{"type":"string"}}}}"#,
        );
        let sent = super::answer(&form, br#"{"action":"accept","content":{"age":41}}"#);
        let v: serde_json::Value = serde_json::from_slice(&sent).unwrap();
        assert_eq!(v["id"], 7);
        assert_eq!(
            v["result"],
            serde_json::json!({"action": "accept", "content": {"age": 41, "name": "Ada"}})
        );
        for kept in [
            &br#"{"action":"decline"}"#[..],
            br#"{"action":"accept","content":{"name":"x","age":1}}"#,
        ] {
            let sent = super::answer(&form, kept);
            assert!(sent.ends_with(&[kept, &b"}"[..]].concat()), "{sent:?}");
        }
        let plain =
            ask(r#"{"message":"m","requestedSchema":{"properties":{"a":{"type":"string"}}}}"#);
        let sent = super::answer(&plain, br#"{"action":"accept"}"#);
        assert!(sent.ends_with(br#"{"action":"accept"}}"#));
    }

    use super::*;

    fn ask(data: &str, earlier: &[Ask]) -> Option<Ask> {
        let f = frame::parse(data.as_bytes()).unwrap();
        Ask::of(data.as_bytes(), &f, earlier)
    }

    #[test]
    fn questions_are_keyed_by_their_name_or_id() {
        let a = ask(r#"{"jsonrpc":"2.0","id":3,"method":"roots/list"}"#, &[]).unwrap();
        assert_eq!(
            (a.key.as_str(), &a.params[..], a.method),
            ("3", &b"{}"[..], Method::RootsList)
        );
        let named = r#"{"jsonrpc":"2.0","id":"x y","method":"elicitation/create","params":{"message":"m","_meta":{"io.metamcp/inputKey":"user_name"}}}"#;
        let b = ask(named, &[]).unwrap();
        assert_eq!((b.key.as_str(), &b.id[..]), ("user_name", &b"\"x y\""[..]));
        // The same name twice, or an id that is no key: numbered instead.
        let c = ask(named, std::slice::from_ref(&b)).unwrap();
        assert_eq!(c.key, "input-2");
        assert!(ask(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, &[]).is_none());
    }

    #[test]
    fn answers_are_matched_by_key_and_must_be_objects() {
        let asks = vec![
            ask(r#"{"jsonrpc":"2.0","id":1,"method":"roots/list"}"#, &[]).unwrap(),
            ask(
                r#"{"jsonrpc":"2.0","id":2,"method":"elicitation/create","params":{}}"#,
                &[],
            )
            .unwrap(),
        ];
        let Matched {
            answered: done,
            missing,
        } = match_answers(&asks, Some(br#"{"1":{"roots":[]},"extra":{"x":1}}"#)).unwrap();
        assert_eq!(done.len(), 1);
        assert_eq!(&done[0].1[..], br#"{"roots":[]}"#);
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].key, "2");
        for bad in [&b"null"[..], b"[]", br#"{"1":12345}"#] {
            assert!(match_answers(&asks, Some(bad)).is_err());
        }
        assert_eq!(match_answers(&asks, None).unwrap().missing.len(), 2);
        assert_eq!(
            &answer(&asks[1], br#"{"action":"accept"}"#)[..],
            br#"{"jsonrpc":"2.0","id":2,"result":{"action":"accept"}}"#
        );
        assert_eq!(
            &refusal(&asks[1], "x")[..],
            br#"{"jsonrpc":"2.0","id":2,"result":{"action":"cancel"}}"#
        );
    }
}
