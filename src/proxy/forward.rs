//! Forwarding one call: the request spliced (new id, the backend's own name), sent through
//! the backend's transport, and its answer streamed back through [`ResponseSplicer`] with
//! the client's id restored, bounded in time, ending in a JSON-RPC answer for the client
//! whatever the backend does.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Frame as BodyFrame;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

use crate::auth::session::ClientCaps;
use crate::backend::http::UpstreamError;
use crate::backend::isolated::Owner;
use crate::backend::transport::AnswerBody;
use crate::backend::{Backend, CallEnd};
use crate::http::Body;
use crate::jsonrpc::frame::{self, Frame, Span};
use crate::observe::audit::{self, Audit};
use crate::observe::metrics::Metrics;
use crate::observe::trace::Tracer;
use crate::proxy::calls::{InFlight, InFlightGuard, Pending, ServerRequests, owner_key};
use crate::proxy::rpc::{RpcError, STATELESS_RESULT_MEMBERS, code, json_response};
use crate::proxy::splicer::ResponseSplicer;

/// Longest a collected (batched, REST) answer may be.
pub const MAX_COLLECTED: usize = 64 << 20;

/// Who a forwarded call is for: what the forwarding needs to know of the client.
pub struct Caller<'a> {
    /// The client's conversation (session, key, or anonymous request).
    pub conversation: &'a Arc<str>,
    /// A stateless-era client (results get `resultType` and caching hints).
    pub stateless: bool,
    pub inflight: &'a Arc<InFlight>,
    pub server_requests: &'a Arc<ServerRequests>,
    /// When the client's session expires (unix seconds); `None` in the stateless era.
    pub expires: Option<u64>,
    /// The session's client capabilities; `None`: as the request's `_meta` declares.
    pub caps: Option<u8>,
    /// For the call's metrics and its log line: the key and the namespace, if any.
    pub metrics: &'a Arc<Metrics>,
    pub key: Option<crate::store::keys::KeyId>,
    /// The OAuth subject the key id stands for, if any (for the audit row).
    pub subject: Option<&'a Arc<str>>,
    pub namespace: Option<&'a str>,
    /// Where the call's audit row goes.
    pub audit: &'a Arc<Audit>,
    /// The request's trace and the tracer (when tracing is configured).
    pub trace: Option<(&'a crate::observe::trace::RequestTrace, &'a Arc<Tracer>)>,
}

/// What a forwarded call ended as, for its metrics and log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// A result (a tool's `isError` result included: the call itself worked).
    Ok,
    /// The backend answered with a JSON-RPC error.
    Error,
    /// No answer: unreachable, timed out, broken.
    Failed,
    /// Not sent: the backend's circuit is open or its calls in flight are full.
    Refused,
    /// The client went away first.
    Cancelled,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Failed => "failed",
            Outcome::Refused => "refused",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// One forwarded call's account: recorded once, when it ends (a dropped one was
/// cancelled). Argument values are never part of it.
struct CallRecord {
    started: tokio::time::Instant,
    metrics: Arc<Metrics>,
    backend: Arc<Backend>,
    method: &'static str,
    /// The backend's own tool name as a JSON string (shared, not copied), for
    /// `tools/call`.
    tool: Option<Bytes>,
    key: Option<crate::store::keys::KeyId>,
    subject: Option<Arc<str>>,
    /// Copied only for namespace endpoints (`/mcp` has none).
    namespace: Option<Box<str>>,
    request_bytes: usize,
    response_bytes: usize,
    done: bool,
    /// The call's pass through the backend's breaker and bulkhead, once admitted.
    admitted: Option<crate::backend::Admitted>,
    /// Why it failed, for the breaker (`None`: a failure that says nothing about the
    /// backend, such as an HTTP 4xx).
    failure: Option<String>,
    /// The call's audit row in the making (calls the trail covers, when it is on).
    audit: Option<AuditDraft>,
    /// The call's client span, when its request is sampled.
    span: Option<ClientSpan>,
    /// A `tools/call` result said `isError: true` (looked for only for an audit row or
    /// a span).
    tool_error: bool,
    /// The call failed because `timeout_ms` passed.
    timed_out: bool,
}

/// A client span in the making: one upstream call.
struct ClientSpan {
    tracer: Arc<Tracer>,
    ctx: crate::observe::trace::SpanContext,
    parent: [u8; 8],
    start: std::time::SystemTime,
}

/// What an audit row needs beyond the call's account.
struct AuditDraft {
    audit: Arc<Audit>,
    at: std::time::SystemTime,
    /// The name (or URI) as the client gave it, and as the backend knows it.
    exposed: Option<Box<str>>,
    /// A JSON string literal (the routing table's, shared).
    upstream: Option<Bytes>,
    trace_id: Option<[u8; 16]>,
}

/// Whether a piece of an answer carries `"isError": true` (a tool's own error result).
fn says_is_error(data: &[u8]) -> bool {
    const KEY: &[u8] = b"\"isError\"";
    // Built once: building a searcher costs more than searching a short answer.
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(KEY));
    FINDER.find_iter(data).any(|i| {
        let rest = &data[i + KEY.len()..];
        let rest = rest.trim_ascii_start();
        rest.strip_prefix(b":")
            .is_some_and(|r| r.trim_ascii_start().starts_with(b"true"))
    })
}

/// A JSON string literal's text: borrowed unless it has escapes (tool names rarely do).
fn json_text(literal: &[u8]) -> std::borrow::Cow<'_, str> {
    let whole = Span {
        start: 0,
        end: literal.len(),
    };
    frame::string_value(literal, whole).unwrap_or_default()
}

/// The methods a call can be forwarded for, as static labels.
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 6] = [
        "tools/call",
        "prompts/get",
        "resources/read",
        "resources/subscribe",
        "resources/unsubscribe",
        "completion/complete",
    ];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}

impl CallRecord {
    fn new(
        caller: &Caller<'_>,
        backend: &Arc<Backend>,
        body: &[u8],
        f: &Frame,
        upstream_name: Option<&Bytes>,
    ) -> CallRecord {
        let method = method_label(f.method(body).unwrap_or_default());
        // The backend's own name (the same in every namespace).
        let tool = upstream_name.filter(|_| method == "tools/call").cloned();
        let audit = (caller.audit.enabled()
            && matches!(method, "tools/call" | "prompts/get" | "resources/read"))
        .then(|| {
            let named = if method == "resources/read" {
                f.uri
            } else {
                f.name
            };
            // Copied: a slice would keep the whole request body (and the connection's
            // read buffer it came in) alive while the row waits.
            let exposed = named
                .and_then(|s| frame::string_value(body, s))
                .map(|n| Box::from(n.as_ref()));
            // None: the backend knows it by the same name.
            let upstream = upstream_name.cloned();
            AuditDraft {
                audit: caller.audit.clone(),
                at: std::time::SystemTime::now(),
                exposed,
                upstream,
                trace_id: None,
            }
        });
        CallRecord {
            started: tokio::time::Instant::now(),
            metrics: caller.metrics.clone(),
            backend: backend.clone(),
            method,
            tool,
            key: caller.key,
            subject: caller.subject.cloned(),
            namespace: caller.namespace.map(Box::from),
            request_bytes: body.len(),
            response_bytes: 0,
            done: false,
            admitted: None,
            failure: None,
            audit,
            span: None,
            tool_error: false,
            timed_out: false,
        }
    }

    /// Records the client span (when sampled), `took` long, with the audit outcome as
    /// `error.type`.
    fn end_span(&mut self, outcome: &'static str, took: Duration) {
        use crate::observe::trace::{Attrs, Kind, SpanData};
        let Some(s) = self.span.take() else { return };
        let tool = self.tool.as_ref().map(|t| json_text(t));
        let mut attributes = Attrs::default();
        attributes.str("mcp.method.name", self.method);
        attributes.str("metamcp.server", &self.backend.label);
        attributes.str("network.transport", self.backend.network_transport());
        if let Some(t) = &tool {
            attributes.str("gen_ai.tool.name", t);
        }
        let error = (outcome != "ok").then_some(outcome);
        if let Some(e) = error {
            attributes.str("error.type", e);
        }
        s.tracer.record(SpanData {
            ctx: s.ctx,
            parent: Some(s.parent),
            name: self.method,
            target: tool.as_deref(),
            kind: Kind::Client,
            start: s.start,
            end: s.start + took,
            attributes: attributes.as_slice(),
            error,
        });
    }

    /// Looks at a piece of the answer for what the audit row says of it.
    fn saw(&mut self, data: &[u8]) {
        if (self.audit.is_some() || self.span.is_some())
            && !self.tool_error
            && self.method == "tools/call"
        {
            self.tool_error = says_is_error(data);
        }
    }

    /// Ends a call that got no answer within the server's timeout.
    fn time_out(&mut self, why: &str) {
        self.timed_out = true;
        self.fail(why);
    }

    /// Queues the call's audit row.
    fn audit(&mut self, outcome: Outcome, took: Duration) {
        let outcome = match outcome {
            Outcome::Ok if self.tool_error => audit::Outcome::ToolError,
            Outcome::Ok => audit::Outcome::Ok,
            Outcome::Error => audit::Outcome::RpcError,
            Outcome::Failed if self.timed_out => audit::Outcome::Timeout,
            Outcome::Failed => audit::Outcome::Unavailable,
            Outcome::Refused => audit::Outcome::Refused,
            Outcome::Cancelled => audit::Outcome::Cancelled,
        };
        self.end_span(outcome.as_str(), took);
        let Some(d) = self.audit.take() else { return };
        let tool = d.exposed.as_deref().map(audit::Text::Str);
        d.audit.record(audit::Entry {
            at: d.at,
            kind: audit::Kind::Call,
            key_id: self.key,
            subject: self.subject.as_deref().map(audit::Text::Str),
            namespace: self.namespace.as_deref().map(audit::Text::Str),
            server: Some(audit::Text::Str(&self.backend.label)),
            method: self.method,
            upstream_tool: d.upstream.as_deref().map(audit::Text::Literal).or(tool),
            tool,
            outcome: outcome.as_str(),
            duration: took,
            request_bytes: self.request_bytes as u64,
            response_bytes: self.response_bytes as u64,
            trace_id: d.trace_id,
        });
    }

    /// Ends a call that failed because of the backend, saying why.
    fn fail(&mut self, why: &str) {
        self.failure = Some(why.to_string());
        self.finish(Outcome::Failed);
    }

    fn finish(&mut self, outcome: Outcome) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        if let Some(a) = self.admitted.take() {
            let end = match (outcome, &self.failure) {
                (Outcome::Ok | Outcome::Error, _) => CallEnd::Answered,
                (Outcome::Failed, Some(why)) if self.timed_out => CallEnd::TimedOut(why, a.at),
                (Outcome::Failed, Some(why)) => CallEnd::Failed(why),
                _ => CallEnd::Neutral,
            };
            self.backend.call_ended(a.ticket, end);
        }
        let took = self.started.elapsed();
        self.audit(outcome, took);
        let failed = outcome != Outcome::Ok;
        let tool = self.tool.as_ref().map(|t| json_text(t));
        self.metrics.call(
            &self.backend.name,
            tool.as_deref(),
            took.as_secs_f64(),
            failed,
        );
        tracing::info!(
            target: "metamcp::call",
            key = %self.key.as_ref().map_or("-", |k| k.as_str()),
            subject = %self.subject.as_deref().unwrap_or("-"),
            namespace = %self.namespace.as_deref().unwrap_or("-"),
            method = %self.method,
            tool = %tool.as_deref().unwrap_or("-"),
            backend = %self.backend.name,
            duration_us = took.as_micros() as u64,
            outcome = %outcome.as_str(),
            request_bytes = self.request_bytes,
            response_bytes = self.response_bytes,
            "call"
        );
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        self.finish(Outcome::Cancelled);
    }
}

impl Caller<'_> {
    /// The client, as an isolated backend tells its children apart.
    pub fn owner(&self) -> Owner<'_> {
        Owner {
            key: owner_key(self.conversation),
            expires: self.expires,
            api_key: self.key,
        }
    }
}

/// Sends the request to `backend` and streams its answer back.
///
/// The call's future lives on the heap: every future that awaits it (the whole request
/// path) then holds a pointer instead of embedding it, and each of them is moved at
/// least once, so their size is paid for on every request.
pub fn forward<'a>(
    caller: &'a Caller<'a>,
    body: &'a Bytes,
    f: &'a Frame,
    backend: &'a Arc<Backend>,
    rename: Option<(Span, Bytes)>,
    collect: bool,
) -> Pin<Box<dyn Future<Output = Response<Body>> + Send + 'a>> {
    Box::pin(forward_call(caller, body, f, backend, rename, collect))
}

async fn forward_call(
    caller: &Caller<'_>,
    body: &Bytes,
    f: &Frame,
    backend: &Arc<Backend>,
    rename: Option<(Span, Bytes)>,
    collect: bool,
) -> Response<Body> {
    let client_id =
        f.id.map_or(Bytes::from_static(b"null"), |s| body.slice(s.start..s.end));
    let upstream = backend.next_upstream_number();
    let upstream_id = crate::backend::upstream_id(upstream);
    let mut record = CallRecord::new(caller, backend, body, f, rename.as_ref().map(|(_, n)| n));
    // The upstream call's own span: its context travels to the backend.
    let propagation = caller.trace.map(|(t, tracer)| {
        let ctx = t.child();
        if let Some(d) = &mut record.audit {
            d.trace_id = Some(ctx.trace_id);
        }
        if ctx.sampled {
            record.span = Some(ClientSpan {
                tracer: tracer.clone(),
                ctx,
                parent: t.ctx.span_id,
                // The call's start, as its audit row has it (one clock reading).
                start: record
                    .audit
                    .as_ref()
                    .map_or_else(std::time::SystemTime::now, |d| d.at),
            });
        }
        crate::observe::trace::Propagation {
            traceparent: ctx.traceparent(),
            tracestate: t.tracestate.clone(),
        }
    });
    // At most three replacements (id, name, progress token), on the stack.
    let mut reps: [(Span, &[u8]); 3] = [(Span::default(), &[]); 3];
    let mut n = 0;
    if let Some(s) = f.id {
        reps[n] = (s, &upstream_id);
        n += 1;
    }
    if let Some((span, name)) = &rename {
        reps[n] = (*span, name);
        n += 1;
    }
    // On a transport whose calls share one message stream, the progress token becomes
    // the upstream id (unique there); the transport restores the client's own.
    let token = match f.progress_token {
        Some(span) if backend.rewrites_progress_tokens() => {
            reps[n] = (span, &upstream_id);
            n += 1;
            Some(Bytes::copy_from_slice(span.of(body)))
        }
        _ => None,
    };
    let upstream_body = frame::splice(body, &mut reps[..n]);
    let key = (caller.conversation.clone(), client_id.clone());
    caller.inflight.insert(
        key.clone(),
        Pending {
            backend: backend.clone(),
            upstream,
        },
    );
    let mut guard = InFlightGuard {
        inflight: caller.inflight.clone(),
        key,
        done: false,
    };
    let fail = |e: String| {
        RpcError::method(code::INTERNAL, format!("backend {}: {e}", backend.name))
            .response(&client_id)
    };
    let timeout = backend.timeout;
    // `timeout` bounds the whole call from here; only the backend's progress
    // notifications (and its own requests to the client) extend it.
    let started = tokio::time::Instant::now();
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    // The breaker and the bulkhead first: an open circuit or a full backend answers at
    // once, and the backend sees nothing. A wait for a place counts against the timeout.
    let admitted = tokio::select! {
        biased;
        a = backend.admit() => a,
        () = deadline.as_mut() => Err(format!(
            "server `{}` is busy: no place for the call within {} ms",
            backend.name,
            timeout.as_millis()
        )),
    };
    match admitted {
        Ok(a) => record.admitted = Some(a),
        Err(why) => {
            guard.complete();
            record.finish(Outcome::Refused);
            return RpcError::method(code::INTERNAL, why).response(&client_id);
        }
    }
    let answer = tokio::select! {
        biased;
        r = backend.request(caller.owner(), &upstream_id, upstream_body, token, propagation.as_ref()) => r,
        () = deadline.as_mut() => {
            // Dropping the guard tells the backend to stop.
            let why = format!("no answer within {} ms", timeout.as_millis());
            record.time_out(&why);
            return fail(why);
        }
    };
    let (sse, mut source) = match answer {
        Err(UpstreamError::Busy(why)) => {
            guard.complete();
            record.finish(Outcome::Refused);
            return RpcError::method(code::INTERNAL, why).response(&client_id);
        }
        Err(e) => {
            guard.complete();
            let why = e.to_string();
            match e {
                // A client-side HTTP error says nothing of the backend's health.
                UpstreamError::Status(s) if s < 500 => record.finish(Outcome::Failed),
                _ => record.fail(&why),
            }
            return fail(why);
        }
        Ok(a) => (a.sse, a.body),
    };
    let content_type = HeaderValue::from_static(if sse {
        "text/event-stream"
    } else {
        "application/json"
    });
    let mut splicer = ResponseSplicer::new(upstream_id, client_id.clone(), sse);
    if sse {
        splicer = splicer.with_other_ids(
            caller
                .server_requests
                .mapper(caller.conversation.clone(), backend.clone()),
        );
    }
    if caller.stateless {
        splicer = splicer.with_result_members(Bytes::from_static(STATELESS_RESULT_MEMBERS));
    }
    // A JSON answer already here in full goes out whole, with its length: no timer, no
    // stream to poll, and the backend connection is back in the pool before we return.
    if !sse
        && !collect
        && let Some(whole) = source.take_whole()
    {
        let ends_whole = whole.trim_ascii_end().last() == Some(&b'}');
        record.response_bytes = whole.len();
        record.saw(&whole);
        let mut pieces = crate::http::Pieces::default();
        splicer.feed(whole, &mut pieces);
        guard.complete();
        if splicer.answered() && ends_whole {
            record.finish(if splicer.errored() {
                Outcome::Error
            } else {
                Outcome::Ok
            });
            let mut r = Response::new(Body::pieces(pieces));
            r.headers_mut().insert(header::CONTENT_TYPE, content_type);
            return r;
        }
        // Not JSON, another request's answer, or cut short: the client gets an error
        // with its own id instead.
        record.fail("an unreadable answer");
        return fail("answered with something that is not the response to this request".into());
    }
    // The answer streams. A JSON one still arriving is sent to the client as one SSE
    // event, so that if the backend breaks off midway the client still gets an error
    // with its own id (a JSON body already begun could only be cut).
    let wrap = !sse && !collect;
    let stream = UpstreamBody {
        inner: source,
        splicer,
        pending: VecDeque::new(),
        scratch: Vec::new(),
        timeout,
        deadline: Box::pin(tokio::time::sleep_until(started + timeout)),
        progress: started,
        guard: Some(guard),
        record,
        sse,
        wrap,
        opened: false,
        tail: Tail::default(),
        requests_seen: 0,
        client_id,
        finished: false,
        backend: backend.clone(),
        caps: caller.caps,
        request: body.clone(),
        conversation: caller.conversation.clone(),
    };
    if collect {
        return Box::pin(collect_response(stream)).await;
    }
    let mut r = Response::new(Body::Stream(Box::pin(stream)));
    let content_type = if wrap {
        HeaderValue::from_static("text/event-stream")
    } else {
        content_type
    };
    r.headers_mut().insert(header::CONTENT_TYPE, content_type);
    r
}

/// Reads a whole forwarded answer and returns just the response message as JSON.
pub(crate) async fn collect_response(mut stream: UpstreamBody) -> Response<Body> {
    let sse = stream.sse;
    let client_id = stream.client_id.clone();
    let mut buf = BytesMut::new();
    while let Some(frame) = stream.frame().await {
        match frame {
            Ok(f) => {
                if let Ok(d) = f.into_data() {
                    if buf.len() + d.len() > MAX_COLLECTED {
                        return RpcError::method(
                            code::INTERNAL,
                            "the backend's answer is too large to collect",
                        )
                        .response(&client_id);
                    }
                    buf.extend_from_slice(&d);
                }
            }
            Err(e) => {
                return RpcError::method(
                    code::INTERNAL,
                    format!("the backend's answer broke off: {e}"),
                )
                .response(&client_id);
            }
        }
    }
    if !sse {
        return json_response(StatusCode::OK, buf.freeze());
    }
    let answer = crate::backend::http::sse_data(&buf)
        .into_iter()
        .rev()
        .find(|d| {
            frame::parse(d)
                .is_ok_and(|f| f.is_response() && f.id.map(|s| s.of(d)) == Some(&client_id[..]))
        });
    match answer {
        Some(a) => json_response(StatusCode::OK, Bytes::from(a)),
        None => RpcError::method(
            code::INTERNAL,
            "the backend closed the stream without answering",
        )
        .response(&client_id),
    }
}

/// A backend's response on its way to the client: id restored, idle time bounded,
/// the backend told when the client leaves early.
pub struct UpstreamBody {
    inner: AnswerBody,
    splicer: ResponseSplicer,
    pending: VecDeque<Bytes>,
    /// Reused for the splicer's output, so a piece costs no allocation.
    scratch: Vec<Bytes>,
    timeout: Duration,
    /// Fires `timeout` after the call began or the backend last reported progress.
    deadline: Pin<Box<tokio::time::Sleep>>,
    progress: tokio::time::Instant,
    guard: Option<InFlightGuard>,
    sse: bool,
    /// A JSON answer sent to the client as one SSE event (`event: message`, `data: `).
    wrap: bool,
    /// Whether the wrapped event's head has been sent.
    opened: bool,
    /// The end of the previous SSE piece, so a progress notification split between two
    /// pieces is still seen.
    tail: Tail,
    /// The splicer's count of backend requests when last looked at.
    requests_seen: u32,
    client_id: Bytes,
    finished: bool,
    backend: Arc<Backend>,
    /// The client's capabilities; `None` until read from `request`'s `_meta`.
    caps: Option<u8>,
    request: Bytes,
    conversation: Arc<str>,
    /// The call's account, finished with the answer.
    record: CallRecord,
}

/// Where the first whole SSE event of `piece` ends (after its blank line).
fn event_end(piece: &[u8]) -> Option<usize> {
    let lf = memchr::memmem::find(piece, b"\n\n").map(|i| i + 2);
    let crlf = memchr::memmem::find(piece, b"\n\r\n").map(|i| i + 3);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The last bytes of an SSE piece.
#[derive(Default)]
pub(crate) struct Tail {
    bytes: [u8; PROGRESS.len()],
    len: usize,
}

/// What marks a progress notification in an SSE answer.
pub(crate) const PROGRESS: &[u8] = b"notifications/progress";

impl Tail {
    /// Whether `piece` (after the previous one) shows a progress notification.
    fn progress_in(&mut self, piece: &[u8]) -> bool {
        let head = &piece[..piece.len().min(PROGRESS.len())];
        let mut joined = [0u8; 2 * PROGRESS.len()];
        joined[..self.len].copy_from_slice(&self.bytes[..self.len]);
        joined[self.len..self.len + head.len()].copy_from_slice(head);
        let found = memchr::memmem::find(&joined[..self.len + head.len()], PROGRESS).is_some()
            || memchr::memmem::find(piece, PROGRESS).is_some();
        let keep = piece.len().min(PROGRESS.len() - 1);
        self.bytes[..keep].copy_from_slice(&piece[piece.len() - keep..]);
        self.len = keep;
        found
    }
}

/// What marks a backend's request that needs a client capability, in an SSE piece.
const GATED: [&[u8]; 3] = [
    b"sampling/createMessage",
    b"elicitation/create",
    b"roots/list",
];

impl UpstreamBody {
    /// The client's capabilities (a stateless client's, read once from its request).
    fn caps(&mut self) -> u8 {
        *self
            .caps
            .get_or_insert_with(|| ClientCaps::from_request(&self.request))
    }

    /// Cuts out of an SSE piece the backend's requests to the client that need a
    /// capability the client did not declare, and answers each to the backend with an
    /// error. Only whole events in the piece are looked at; a piece without a marker
    /// (almost all) is returned untouched.
    fn screen(&mut self, data: Bytes) -> Bytes {
        if !GATED
            .iter()
            .any(|m| memchr::memmem::find(&data, m).is_some())
        {
            return data;
        }
        let mut kept = BytesMut::new();
        let mut from = 0;
        let mut start = 0;
        while let Some(end) = event_end(&data[start..]).map(|e| start + e) {
            if let Some((id, name)) = self.refused(&data[start..end]) {
                kept.extend_from_slice(&data[from..start]);
                from = end;
                let answer = crate::backend::mux::error_answer_with(
                    &id,
                    code::METHOD_NOT_FOUND,
                    &format!("the client did not declare the {name} capability"),
                );
                let backend = self.backend.clone();
                let conversation = self.conversation.clone();
                tokio::spawn(async move {
                    backend
                        .notify(crate::proxy::calls::owner_key(&conversation), answer)
                        .await;
                });
            }
            start = end;
        }
        if from == 0 {
            return data;
        }
        kept.extend_from_slice(&data[from..]);
        kept.freeze()
    }

    /// The backend's id and the capability, for an event carrying a request the client
    /// cannot take.
    fn refused(&mut self, event: &[u8]) -> Option<(Vec<u8>, &'static str)> {
        let data = crate::backend::http::sse_data(event).pop()?;
        let f = frame::parse(&data).ok()?;
        if !f.is_request() {
            return None;
        }
        let (bit, name) = ClientCaps::needed_by(f.method(&data)?)?;
        if self.caps() & bit != 0 {
            return None;
        }
        Some((f.id?.of(&data).to_vec(), name))
    }

    /// The end of an SSE answer that never came: a final error event for the client. It
    /// starts with a blank line, which ends an event the backend left unfinished.
    fn error_event(&self, message: &str) -> Bytes {
        let err = RpcError::method(
            code::INTERNAL,
            format!("backend {}: {message}", self.backend.name),
        )
        .body(&self.client_id);
        let mut out = BytesMut::with_capacity(err.len() + 32);
        out.extend_from_slice(b"\n\nevent: message\ndata: ");
        out.extend_from_slice(&err);
        out.extend_from_slice(b"\n\n");
        out.freeze()
    }

    /// A piece of a wrapped JSON answer as SSE data: line breaks (only ever whitespace
    /// in JSON) become spaces, so the event stays one `data:` line.
    fn wrapped(&mut self, piece: Bytes) -> Bytes {
        let piece = if memchr::memchr2(b'\n', b'\r', &piece).is_some() {
            let mut b = BytesMut::from(&piece[..]);
            for c in b.iter_mut() {
                if *c == b'\n' || *c == b'\r' {
                    *c = b' ';
                }
            }
            b.freeze()
        } else {
            piece
        };
        if self.opened {
            return piece;
        }
        self.opened = true;
        let mut out = BytesMut::with_capacity(piece.len() + 24);
        out.extend_from_slice(b"event: message\ndata: ");
        out.extend_from_slice(&piece);
        out.freeze()
    }

    fn end(&mut self, problem: Option<&str>) -> Option<Result<BodyFrame<Bytes>, std::io::Error>> {
        self.finished = true;
        // Whole: an SSE answer's response event ended; a JSON answer's body reached its
        // end (a JSON body that broke off is not an answer, even with our id in it).
        let answered = if self.sse {
            self.splicer.answer_ended()
        } else {
            self.splicer.answered() && problem.is_none()
        };
        let problem = match problem {
            None if !answered && self.sse && self.splicer.answered() => {
                Some("ended the stream in the middle of its answer")
            }
            p => p,
        };
        if let Some(g) = &mut self.guard
            && (answered || problem.is_none())
        {
            g.complete();
        }
        // A guard still armed cancels upstream when dropped.
        self.guard = None;
        match (answered, problem) {
            (true, _) if self.splicer.errored() => self.record.finish(Outcome::Error),
            (true, _) | (false, None) => self.record.finish(Outcome::Ok),
            (false, Some(p)) => self.record.fail(p),
        }
        match problem {
            Some(p) if (self.sse || self.wrap) && !answered => {
                Some(Ok(BodyFrame::data(self.error_event(p))))
            }
            None if self.wrap && self.opened => {
                Some(Ok(BodyFrame::data(Bytes::from_static(b"\n\n"))))
            }
            Some(p) if !answered => Some(Err(std::io::Error::other(format!(
                "backend {}: {p}",
                self.backend.name
            )))),
            _ => None,
        }
    }
}

impl hyper::body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<BodyFrame<Bytes>, std::io::Error>>> {
        let this = &mut *self;
        loop {
            if let Some(b) = this.pending.pop_front() {
                let b = if this.wrap { this.wrapped(b) } else { b };
                return Poll::Ready(Some(Ok(BodyFrame::data(b))));
            }
            if this.finished {
                return Poll::Ready(None);
            }
            match this.inner.poll_chunk(cx) {
                Poll::Ready(Some(Ok(data))) => {
                    let data = if this.sse { this.screen(data) } else { data };
                    this.record.response_bytes += data.len();
                    this.record.saw(&data);
                    // Progress notifications and the backend's own requests to the client
                    // extend the deadline; comments, keep-alives and other bytes do not.
                    let progressed = this.sse && this.tail.progress_in(&data);
                    this.splicer.feed(data, &mut this.scratch);
                    this.pending.extend(this.scratch.drain(..));
                    let asked = this.splicer.requests_seen();
                    if progressed || asked != this.requests_seen {
                        this.requests_seen = asked;
                        this.progress = tokio::time::Instant::now();
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    let msg = format!("the answer broke off: {e}");
                    return Poll::Ready(this.end(Some(&msg)));
                }
                Poll::Ready(None) => {
                    let problem =
                        (!this.splicer.answered()).then_some("closed the stream without answering");
                    return Poll::Ready(this.end(problem));
                }
                Poll::Pending => {
                    // The timer is moved only when it fires, not on every piece.
                    while this.deadline.as_mut().poll(cx).is_ready() {
                        let due = this.progress + this.timeout;
                        if due <= tokio::time::Instant::now() {
                            this.record.timed_out = true;
                            let msg = format!(
                                "no answer within {} ms (timeout_ms) of the call or its last progress",
                                this.timeout.as_millis()
                            );
                            return Poll::Ready(this.end(Some(&msg)));
                        }
                        this.deadline.as_mut().reset(due);
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}
