//! A session-era client's `tools/call`, `prompts/get` or `resources/read` at a 2026-07-28
//! backend: when the backend answers `input_required`, its questions become real
//! requests to the client on the call's SSE stream (as a session-era server would send
//! them; a URL-mode elicitation gets the `elicitationId` that era needs), and the gateway
//! retries upstream with the client's answers and the backend's `requestState`, untouched,
//! until the backend completes ([`MAX_ROUNDS`] rounds at most).
//!
//! A question the client declared no capability for, or one it answers with an error,
//! ends the call: a tool's result with `isError`, an error otherwise. A client that does
//! not answer within the multi-round-trip TTL ends it with an error; one that goes away
//! ends it (the backend holds nothing between rounds).

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::backend::Backend;
use crate::backend::isolated::Owner;
use crate::backend::mux::sse_event;
use crate::base::ClientCaps;
use crate::http::Body;
use crate::jsonrpc::frame::{self, Frame, Span};
use crate::jsonrpc::methods::Method;
use crate::mcp::era::plane::EraPlane;
use crate::mcp::hop::caller::Caller;
use crate::mcp::hop::calls::{Outstanding, ServerRequests};
use crate::mcp::wire::rpc::MAX_COLLECTED;

/// Rounds of questions one call may take (the SDKs stop at 10 as well).
pub const MAX_ROUNDS: usize = 10;

/// What the rounds after the first need of the call, owned (they run in their own task).
struct Bridge {
    backend: Arc<Backend>,
    conversation: Arc<str>,
    caps: u8,
    asks: Arc<ServerRequests>,
    /// The upstream request as the backend takes it (its own name, the envelope).
    request: Value,
    method: Option<Method>,
    client_id: Value,
    /// How long the client has to answer a round.
    ttl: Duration,
    expires: Option<u64>,
    api_key: Option<crate::base::KeyId>,
    inbound: Option<Arc<crate::auth::oauth::Identity>>,
    /// The levels sessions set, for the backend's log messages.
    levels: Arc<crate::jsonrpc::log_level::Levels>,
}

impl Bridge {
    /// What the bridge needs of the call, owned.
    fn of(
        era: &EraPlane,
        caller: &Caller<'_>,
        body: &Bytes,
        f: &Frame,
        backend: &Arc<Backend>,
        rename: Option<(Span, Bytes)>,
    ) -> Bridge {
        let mut spans = rename.iter().map(|(s, n)| (*s, &n[..])).collect::<Vec<_>>();
        let spliced = frame::splice(body, &mut spans);
        // Only a session client's call of a 2026-07-28 backend is bridged here: its
        // request carries the session's envelope.
        let level = caller.log_levels.get(caller.conversation);
        let spliced = crate::mcp::wire::bridge::with_envelope(spliced, caller.caps, level);
        let request = serde_json::from_slice(&spliced).unwrap_or(Value::Null);
        let client_id =
            f.id.and_then(|s| serde_json::from_slice(s.of(body)).ok())
                .unwrap_or(Value::Null);
        Bridge {
            backend: backend.clone(),
            conversation: caller.conversation.clone(),
            caps: caller.caps.unwrap_or(0),
            asks: caller.server_requests.clone(),
            request,
            method: f.kind,
            client_id,
            ttl: era.parked.ttl(),
            expires: caller.expires,
            api_key: caller.key,
            inbound: caller.inbound.cloned(),
            levels: caller.log_levels.clone(),
        }
    }
}

/// Serves the call after its `first` round (sent as any call by the hop), then, if the backend needs input, the
/// questions on the call's SSE stream and, at last, the answer. What the backend sends
/// before its answer in any round (progress, log messages at the session's level)
/// reaches the client as it comes.
pub(in crate::mcp) async fn rounds(
    first: Response<Body>,
    era: &EraPlane,
    caller: &Caller<'_>,
    body: &Bytes,
    f: &Frame,
    backend: &Arc<Backend>,
    rename: Option<(Span, Bytes)>,
) -> Response<Body> {
    let bridge = Bridge::of(era, caller, body, f, backend, rename);
    let sse = first
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let (mut parts, answer) = first.into_parts();
    if !sse {
        let answer = match answer.collect().await {
            Ok(c) => c.to_bytes(),
            Err(_) => Bytes::new(),
        };
        let mut message: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        if message["result"]["resultType"] != "input_required" {
            let answer = match as_session_result(&mut message["result"]) {
                true => {
                    parts.headers.remove(header::CONTENT_LENGTH);
                    text(&message)
                }
                false => answer,
            };
            return Response::from_parts(parts, Body::Full(Some(answer)));
        }
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            let last = bridge.run(message["result"].clone(), &tx).await;
            let _ = tx.send(sse_event(&last)).await;
        });
        return stream(rx);
    }
    // An SSE answer: its events go on as they come, its response is looked at.
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let mut answer = answer;
        let mut events = Events::default();
        let mut response = None;
        let read = async {
            while let Some(piece) = answer.frame().await {
                let Ok(data) = piece.map(|p| p.into_data().unwrap_or_default()) else {
                    return Err("the backend's answer broke off".to_string());
                };
                for event in events.push(&data)? {
                    if let Some(r) = bridge.relay_event(event, &tx).await? {
                        response = Some(r);
                    }
                }
            }
            Ok(())
        };
        let last = match read.await {
            Err(why) => bridge.failed(&why),
            Ok(()) => match response {
                None => bridge.failed("the backend ended its answer without a response"),
                Some(m) if m["result"]["resultType"] == "input_required" => {
                    bridge.run(m["result"].clone(), &tx).await
                }
                Some(mut m) => {
                    as_session_result(&mut m["result"]);
                    text(&m)
                }
            },
        };
        let _ = tx.send(sse_event(&last)).await;
    });
    stream(rx)
}

/// A session client's call to a per-caller server whose account it has not connected
/// ([`super::consent`]): the user is asked to open `url` (URL elicitation), and once the
/// account is connected the call goes on, on the same stream.
#[allow(clippy::too_many_arguments)]
pub(in crate::mcp) fn consent(
    era: &EraPlane,
    caller: &Caller<'_>,
    body: &Bytes,
    f: &Frame,
    backend: &Arc<Backend>,
    rename: Option<(Span, Bytes)>,
    principal: Arc<str>,
    url: String,
    message: String,
) -> Response<Body> {
    let bridge = Bridge::of(era, caller, body, f, backend, rename);
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let last = bridge.consent(&principal, url, message, &tx).await;
        let _ = tx.send(sse_event(&last)).await;
    });
    stream(rx)
}

/// One question the gateway puts to a session client on a call's stream, registered
/// under a fresh unguessable id (the client's answer reaches `answer`, through
/// [`ServerRequests`]), and the SSE event carrying it.
pub(crate) struct Question {
    pub(crate) event: Bytes,
    pub(crate) answer: tokio::sync::oneshot::Receiver<Bytes>,
    /// Forgets the question when dropped: hold it while the answer is awaited.
    pub(crate) asked: Outstanding,
}

/// The question `method` with `params` to `conversation`, asked for `backend` (`None`:
/// for the gateway itself).
pub(crate) fn question(
    asks: &Arc<ServerRequests>,
    conversation: Arc<str>,
    backend: Option<Arc<Backend>>,
    method: &str,
    params: &Value,
) -> Question {
    let (id, answer, asked) = asks.ask_guarded(conversation, backend);
    let mut out = BytesMut::from(&b"{\"jsonrpc\":\"2.0\",\"id\":"[..]);
    out.extend_from_slice(&id);
    out.extend_from_slice(b",\"method\":");
    out.extend_from_slice(&frame::json_string(method));
    out.extend_from_slice(b",\"params\":");
    out.extend_from_slice(&text(params));
    out.extend_from_slice(b"}");
    Question {
        event: sse_event(&out),
        answer,
        asked,
    }
}

/// Why a question went unanswered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Unanswered {
    #[error("no answer in time")]
    TimedOut,
    #[error("the request was dropped unanswered")]
    Dropped,
    #[error("the client went away")]
    Gone,
}

/// The client's answer (the whole message) to a question, within `ttl`; a client that
/// goes away (its stream `tx` closed) ends the wait at once.
pub(crate) async fn wait_answer(
    answer: tokio::sync::oneshot::Receiver<Bytes>,
    ttl: Duration,
    tx: &mpsc::Sender<Bytes>,
) -> Result<Value, Unanswered> {
    let reply = tokio::select! {
        r = tokio::time::timeout(ttl, answer) => r
            .map_err(|_| Unanswered::TimedOut)?
            .map_err(|_| Unanswered::Dropped)?,
        () = tx.closed() => return Err(Unanswered::Gone),
    };
    Ok(serde_json::from_slice(&reply).unwrap_or(Value::Null))
}

/// The client's answer: an SSE stream of what `rx` carries.
pub(crate) fn stream(rx: mpsc::Receiver<Bytes>) -> Response<Body> {
    let mut r = Response::new(Body::Channel(rx));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    *r.status_mut() = StatusCode::OK;
    r
}

/// Whole SSE events out of the pieces of a stream.
#[derive(Default)]
struct Events {
    buf: BytesMut,
}

impl Events {
    /// The events `piece` completes; an error when one grows past [`MAX_COLLECTED`].
    fn push(&mut self, piece: &[u8]) -> Result<Vec<Bytes>, String> {
        self.buf.extend_from_slice(piece);
        let mut out = Vec::new();
        while let Some(end) = crate::jsonrpc::sse::event_end(&self.buf) {
            out.push(self.buf.split_to(end).freeze());
        }
        if self.buf.len() > MAX_COLLECTED {
            return Err("the backend's answer is too large".into());
        }
        Ok(out)
    }
}

/// Takes out of a 2026-07-28 result what only that revision's clients read (its
/// `resultType` and caching hints): a session client sees a result of its own era.
/// Whether there was any.
fn as_session_result(result: &mut Value) -> bool {
    let Some(members) = result.as_object_mut() else {
        return false;
    };
    let mut any = false;
    for key in ["resultType", "ttlMs", "cacheScope"] {
        any |= members.remove(key).is_some();
    }
    any
}

/// A JSON-RPC message as bytes.
fn text(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

impl Bridge {
    /// Runs the rounds from the backend's first `input_required` result; the message
    /// that ends the call (with the client's id).
    async fn run(&self, mut result: Value, tx: &mpsc::Sender<Bytes>) -> Bytes {
        for _ in 0..MAX_ROUNDS {
            if result["resultType"] != "input_required" {
                as_session_result(&mut result);
                return self.answer(json!({"result": result}));
            }
            let responses = match self.ask(&result["inputRequests"], tx).await {
                Ok(r) => r,
                Err(why) => return self.refused(&why),
            };
            let mut retry = self.request.clone();
            retry["params"]["inputResponses"] = responses;
            match result.get("requestState") {
                Some(state) => retry["params"]["requestState"] = state.clone(),
                None => {
                    if let Some(p) = retry["params"].as_object_mut() {
                        p.remove("requestState");
                    }
                }
            }
            match self.send(retry, tx).await {
                Ok(m) if m.get("error").is_some() => return self.answer(m),
                Ok(m) => result = m["result"].clone(),
                Err(why) => return self.failed(&why),
            }
        }
        self.failed(&format!(
            "the backend still wanted input after {MAX_ROUNDS} rounds"
        ))
    }

    /// Asks the user to connect their account at `url`, waits until they have (within
    /// the authorization's own lifetime), says so, and makes the call; the message that
    /// ends it.
    async fn consent(
        &self,
        principal: &Arc<str>,
        url: String,
        message: String,
        tx: &mpsc::Sender<Bytes>,
    ) -> Bytes {
        use crate::backend::callers::Waited;
        let Some(callers) = &self.backend.callers else {
            return self.failed("the server does not take callers' own accounts");
        };
        let id = crate::crypto::random_alphanumeric(22);
        let question = json!({"connect": {"method": Method::ElicitationCreate.as_str(), "params": {
            "mode": "url", "elicitationId": id, "url": url, "message": message}}});
        let answers = match self.ask(&question, tx).await {
            Ok(a) => a,
            Err(why) => return self.refused(&why),
        };
        let action = answers["connect"]["action"].as_str().unwrap_or("cancel");
        if action != "accept" {
            return self.refused(&format!(
                "the account with server {} is not connected (the user chose {action})",
                self.backend.name
            ));
        }
        let within = Duration::from_secs(crate::vault::PENDING_TTL_SECS as u64);
        let waited = tokio::select! {
            w = callers.wait_connected(principal, within) => w,
            () = tx.closed() => return self.failed("the client went away"),
        };
        match waited {
            Waited::Connected => {}
            Waited::TimedOut => {
                return self.refused(&format!(
                    "the account with server {} was not connected within {} minutes",
                    self.backend.name,
                    within.as_secs() / 60
                ));
            }
            Waited::TooMany => {
                return self.refused(&format!(
                    "too many calls wait for your account with server {} to be connected",
                    self.backend.name
                ));
            }
        }
        let done = json!({"jsonrpc": "2.0", "method": Method::ElicitationComplete.as_str(),
                          "params": {"elicitationId": id}});
        if tx.send(sse_event(&text(&done))).await.is_err() {
            return self.failed("the client went away");
        }
        match self.send(self.request.clone(), tx).await {
            Ok(m) if m["result"]["resultType"] == "input_required" => {
                self.run(m["result"].clone(), tx).await
            }
            Ok(mut m) => {
                if let Some(r) = m.get_mut("result") {
                    as_session_result(r);
                }
                self.answer(m)
            }
            Err(why) => self.failed(&why),
        }
    }

    /// Puts one round's questions to the client and waits for every answer. Questions
    /// left unanswered when the round ends (the client went away, refused or took too
    /// long, or the call was dropped) are forgotten.
    async fn ask(&self, requests: &Value, tx: &mpsc::Sender<Bytes>) -> Result<Value, String> {
        let mut asked = Outstanding::new(self.asks.clone());
        self.ask_round(requests, tx, &mut asked).await
    }

    async fn ask_round(
        &self,
        requests: &Value,
        tx: &mpsc::Sender<Bytes>,
        asked: &mut Outstanding,
    ) -> Result<Value, String> {
        let Some(requests) = requests.as_object().filter(|r| !r.is_empty()) else {
            return Err("the backend asked for input without saying what".into());
        };
        let mut waiting = Vec::with_capacity(requests.len());
        for (key, request) in requests {
            let method = request["method"].as_str().unwrap_or_default();
            let mut params = request.get("params").cloned().unwrap_or_else(|| json!({}));
            let kind = Method::parse(method);
            let needed = kind.and_then(|m| ClientCaps::needed_by_request(&text(request), m));
            match needed {
                Some((bit, cap)) if self.caps & bit != bit => {
                    return Err(format!(
                        "the server needs {cap}, which this client did not declare"
                    ));
                }
                None => return Err(format!("the server asked for {method:?}")),
                Some(_) => {}
            }
            if kind == Some(Method::ElicitationCreate)
                && params["mode"] == "url"
                && params.get("elicitationId").is_none()
            {
                params["elicitationId"] = Value::String(crate::crypto::random_alphanumeric(22));
            }
            let q = question(
                &self.asks,
                self.conversation.clone(),
                Some(self.backend.clone()),
                method,
                &params,
            );
            asked.absorb(q.asked);
            tx.send(q.event)
                .await
                .map_err(|_| Unanswered::Gone.to_string())?;
            waiting.push((key.clone(), method.to_string(), q.answer));
        }
        let mut responses = serde_json::Map::new();
        for (key, method, answer) in waiting {
            let reply = wait_answer(answer, self.ttl, tx)
                .await
                .map_err(|e| match e {
                    Unanswered::TimedOut => {
                        format!("no answer to {method} within {} s", self.ttl.as_secs())
                    }
                    Unanswered::Dropped => format!("the {method} request was dropped unanswered"),
                    Unanswered::Gone => e.to_string(),
                })?;
            match reply.get("result") {
                Some(r) if r.is_object() => {
                    responses.insert(key, r.clone());
                }
                _ => {
                    let why = reply["error"]["message"].as_str().unwrap_or("no result");
                    return Err(format!("the client refused {method}: {why}"));
                }
            }
        }
        Ok(Value::Object(responses))
    }

    /// One retry upstream; the backend's response message. What it sends before goes
    /// to the client as it comes ([`Bridge::pass`]).
    async fn send(&self, mut request: Value, tx: &mpsc::Sender<Bytes>) -> Result<Value, String> {
        let number = self.backend.next_upstream_number();
        let id = crate::backend::upstream_id(number);
        request["id"] = serde_json::from_slice(&id).unwrap_or(Value::Null);
        let admitted = self.backend.take_place().await?;
        let owner = Owner {
            key: crate::mcp::hop::calls::owner_key(&self.conversation),
            expires: self.expires,
            api_key: self.api_key,
            caps: crate::base::ClientCaps::ALL,
            inbound: self.inbound.as_deref(),
        };
        let sent = tokio::time::timeout(self.backend.timeout, async {
            let mut answer = self
                .backend
                .request(owner, &id, text(&request), true, None, None)
                .await
                .map_err(|e| e.to_string())?;
            let is_ours = |m: &Value| m["id"] == request["id"] && m.get("method").is_none();
            if !answer.sse {
                let mut buf = BytesMut::new();
                while let Some(piece) = std::future::poll_fn(|cx| answer.body.poll_chunk(cx)).await
                {
                    buf.extend_from_slice(&piece?);
                    if buf.len() > MAX_COLLECTED {
                        return Err("the backend's answer is too large".to_string());
                    }
                }
                return serde_json::from_slice::<Value>(&buf)
                    .ok()
                    .filter(is_ours)
                    .ok_or_else(|| "the backend did not answer the retry".to_string());
            }
            let mut events = Events::default();
            while let Some(piece) = std::future::poll_fn(|cx| answer.body.poll_chunk(cx)).await {
                for event in events.push(&piece?)? {
                    if let Some(m) = self.relay_event(event, tx).await?
                        && is_ours(&m)
                    {
                        return Ok(m);
                    }
                }
            }
            Err("the backend did not answer the retry".to_string())
        })
        .await
        .unwrap_or_else(|_| Err("the backend did not answer the retry in time".into()));
        let end = match &sent {
            Ok(_) => crate::backend::CallEnd::Answered,
            Err(why) => crate::backend::CallEnd::Failed(why),
        };
        self.backend.call_ended(admitted.ticket, end);
        sent
    }

    /// One event of the backend's answer: its response (any message with an id and no
    /// method) returned, held back; anything else passed on to the client, but a log
    /// message below the level its session set. An error when the client went away.
    async fn relay_event(
        &self,
        event: Bytes,
        tx: &mpsc::Sender<Bytes>,
    ) -> Result<Option<Value>, String> {
        let data = crate::jsonrpc::sse::data_of(&event);
        for d in &data {
            let Ok(f) = frame::parse(d) else { continue };
            if f.is_response() {
                return Ok(serde_json::from_slice(d).ok());
            }
            if f.is(Method::Message)
                && let Some(floor) = self.levels.get(&self.conversation)
                && !crate::jsonrpc::log_level::passes(d, Some(floor))
            {
                return Ok(None);
            }
        }
        if data.is_empty() {
            return Ok(None);
        }
        tx.send(event)
            .await
            .map_err(|_| "the client went away".to_string())?;
        Ok(None)
    }

    /// The message that ends the call, `body` with the client's id.
    fn answer(&self, mut body: Value) -> Bytes {
        body["jsonrpc"] = json!("2.0");
        body["id"] = self.client_id.clone();
        text(&body)
    }

    /// A question the client did not or could not answer: a tool's `isError` result, an
    /// error for the others.
    fn refused(&self, why: &str) -> Bytes {
        if self.method == Some(Method::ToolsCall) {
            return self.answer(json!({"result": {
                "content": [{"type": "text", "text": why}], "isError": true}}));
        }
        self.failed(why)
    }

    fn failed(&self, why: &str) -> Bytes {
        self.answer(json!({"error": {"code": -32603, "message": format!(
            "server `{}`: {why}", self.backend.name)}}))
    }
}
