//! Forwarding one call: the request spliced (new id, the backend's own name), sent through
//! the backend's transport, and its answer streamed back through [`ResponseSplicer`] with
//! the client's id restored, bounded in time, ending in a JSON-RPC answer for the client
//! whatever the backend does.
//!
//! What a call ended as (breaker, metrics, audit row, spans, log line) is kept in
//! [`super::record`]; the answer on its way back, in [`super::upstream`].

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

use crate::backend::Backend;
use crate::base::ClientCaps;
use crate::base::UpstreamError;
use crate::http::Body;
use crate::jsonrpc::frame::{self, Frame, Span};
use crate::jsonrpc::methods::Method;
use crate::mcp::hop::calls::{InFlightGuard, Pending};
use crate::mcp::hop::splicer::ResponseSplicer;
use crate::mcp::wire::rpc::{MAX_COLLECTED, RpcError, code, json_response};

use super::caller::Caller;
use super::exchange::{Exchange, Hopped, Shape};
use super::record::{CallRecord, ClientSpan, Outcome};
use super::upstream::Tail;
pub use super::upstream::UpstreamBody;
use crate::mcp::wire::bridge::Bridge;

/// Sends the exchange's request to its backend and streams its answer back, or hands
/// back what the era layer must finish ([`Hopped`]). The era layer calls this, through
/// the adapter its pair of eras chose ([`crate::mcp::era::bridge::forward`]).
pub async fn forward(caller: &Caller<'_>, ex: Exchange<'_>) -> Hopped {
    let Exchange {
        body,
        f,
        backend,
        rename,
        bridge,
        shape,
    } = ex;
    let mut out = outgoing(caller, body, f, backend, rename.as_ref(), bridge);
    let mut guard = track(caller, &out, backend, bridge);
    let timeout = caller.timeout.unwrap_or(backend.timeout);
    // `timeout` bounds the whole call from here; only the backend's progress
    // notifications (and its own requests to the client) extend it.
    let started = tokio::time::Instant::now();
    if let Some(kept) = caller.kept {
        guard.keep(kept, started + timeout);
    }
    let sent = send(caller, backend, &mut out, &mut guard, timeout);
    let (sse, mut source, status, via) = match sent.await {
        Ok(a) => (a.sse, a.body, a.status, a.via),
        Err(Refused::Answer(r)) => return Hopped::Answer(r),
        Err(Refused::NeedsAccount(why)) => return Hopped::NeedsAccount(why, rename),
    };
    // A stateless client sees a modern backend's refusal with the status it came with
    // (the revision's table: 400 for -32602, -32020, -32021, …).
    let status = StatusCode::from_u16(status)
        .ok()
        .filter(|s| bridge.client_modern() && s.is_client_error())
        .unwrap_or(StatusCode::OK);
    let mut splicer = ResponseSplicer::new(out.upstream_id.clone(), out.client_id.clone(), sse);
    if sse {
        splicer = splicer.with_other_ids(caller.server_requests.mapper(
            caller.conversation.clone(),
            backend.clone(),
            via,
        ));
    }
    // A modern backend's results already carry what a stateless client needs (and
    // `input_required` ones must reach it as they are).
    if let Some(members) = bridge.result_members() {
        splicer = splicer.with_result_members(members);
    }
    // A JSON answer already here in full goes out whole, with its length: no timer, no
    // stream to poll, and the backend connection is back in the pool before we return.
    if !sse
        && shape != Shape::Whole
        && let Some(whole) = source.take_whole()
    {
        // Lent, not moved: the call's state is copied nowhere on its way out.
        let answer = Answered {
            splicer: &mut splicer,
            guard: &mut guard,
            out: &mut out,
            status,
            bridge,
        };
        return whole_answer(f, backend, whole, answer);
    }
    let streamed = Streamed {
        source,
        splicer,
        guard,
        timeout,
        started,
        sse,
        via,
        status,
        bridge,
    };
    streamed_answer(caller, body, backend, out, streamed, shape).await
}

/// Why a call was not sent: the answer the client gets for it, or an account the era
/// layer asks the caller to connect.
#[allow(clippy::large_enum_variant)] // a refusal is rare, and the answer is moved once
enum Refused {
    Answer(Response<Body>),
    NeedsAccount(String),
}

/// The call as the backend gets it, and what it is known by.
struct Outgoing {
    /// The client's own id (`null` for none), restored in the answer.
    client_id: Bytes,
    upstream: u64,
    upstream_id: Bytes,
    /// The capabilities the client declared (a session's, or this request's own).
    declared: Option<u8>,
    /// The capability set whose session serves the call.
    caps: u8,
    record: CallRecord,
    propagation: Option<crate::observe::trace::Propagation>,
    /// The client's progress token, when the transport replaces it.
    token: Option<Bytes>,
    body: Bytes,
    /// Whether `body` may carry the 2026-07-28 envelope ([`Bridge::enveloped`]).
    enveloped: bool,
}

/// The request rewritten for the backend: its id, the tool's own name and (on a
/// transport whose calls share one stream) the progress token replaced, the envelope its
/// era needs; with the call's record and the upstream span's context.
fn outgoing(
    caller: &Caller<'_>,
    body: &Bytes,
    f: &Frame,
    backend: &Arc<Backend>,
    rename: Option<&(Span, Bytes)>,
    bridge: Bridge,
) -> Outgoing {
    let client_id =
        f.id.map_or(Bytes::from_static(b"null"), |s| body.slice(s.start..s.end));
    let upstream = backend.next_upstream_number();
    let upstream_id = crate::backend::upstream_id(upstream);
    // Which of the backend's sessions serves the call: the one declaring what the
    // client declared (a stateless client declares it in each request).
    // Read once: the answer's screening uses them too.
    let declared = match caller.caps {
        Some(c) => Some(c),
        None if backend.varies() => Some(ClientCaps::of_frame(body, f)),
        None => None,
    };
    let caps = declared.unwrap_or(ClientCaps::ALL);
    let mut record = caller.record(backend, body, f, rename.map(|(_, n)| n));
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
    if let Some((span, name)) = rename {
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
    let upstream_body = bridge.request(f, frame::splice(body, &mut reps[..n]), caller.caps, || {
        caller.log_levels.get(caller.conversation)
    });
    Outgoing {
        enveloped: bridge.enveloped(f),
        client_id,
        upstream,
        upstream_id,
        declared,
        caps,
        record,
        propagation,
        token,
        body: upstream_body,
    }
}

/// The call among the caller's calls in flight (for its cancellation), until the guard
/// says it is done.
fn track(
    caller: &Caller<'_>,
    out: &Outgoing,
    backend: &Arc<Backend>,
    bridge: Bridge,
) -> InFlightGuard {
    let key = (caller.conversation.clone(), out.client_id.clone());
    caller.inflight.insert(
        key.clone(),
        Pending {
            backend: backend.clone(),
            upstream: out.upstream,
            via: out.caps,
        },
    );
    InFlightGuard {
        inflight: caller.inflight.clone(),
        key,
        done: false,
        // A session client leaving has not cancelled; a 2026-07-28 client's closed
        // stream is its cancellation.
        leave_running: !bridge.client_modern(),
        kept: None,
    }
}

/// A failed call's error for the client, naming the server.
fn failed(backend: &Backend, client_id: &Bytes, why: String) -> Response<Body> {
    RpcError::method(code::INTERNAL, format!("server `{}`: {why}", backend.name))
        .response(client_id)
}

/// Admits the call (breaker and bulkhead: an open circuit or a full backend answers at
/// once, and the backend sees nothing; a wait for a place counts against the timeout)
/// and sends it; the backend's answer, or the client's refusal.
async fn send(
    caller: &Caller<'_>,
    backend: &Arc<Backend>,
    out: &mut Outgoing,
    guard: &mut InFlightGuard,
    timeout: std::time::Duration,
) -> Result<crate::backend::transport::Answer, Refused> {
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let admitted = tokio::select! {
        biased;
        a = backend.take_place() => a,
        () = deadline.as_mut() => Err(format!(
            "server `{}` is busy: no place for the call within {} ms",
            backend.name,
            timeout.as_millis()
        )),
    };
    match admitted {
        Ok(a) => out.record.admitted = Some(a),
        Err(why) => {
            guard.complete();
            out.record.finish(Outcome::Refused);
            return Err(Refused::Answer(
                RpcError::method(code::INTERNAL, why).response(&out.client_id),
            ));
        }
    }
    let upstream_body = std::mem::take(&mut out.body);
    let answer = tokio::select! {
        biased;
        r = backend.request(caller.owner(out.caps), &out.upstream_id, upstream_body, out.enveloped, out.token.take(), out.propagation.as_ref()) => r,
        () = deadline.as_mut() => {
            // Dropping the guard tells the backend to stop.
            guard.cancel_on_drop();
            let why = format!("no answer within {} ms", timeout.as_millis());
            out.record.time_out(&why);
            return Err(Refused::Answer(failed(backend, &out.client_id, why)));
        }
    };
    let refused = |out: &mut Outgoing, guard: &mut InFlightGuard| {
        guard.complete();
        out.record.finish(Outcome::Refused);
    };
    match answer {
        Ok(a) => Ok(a),
        Err(UpstreamError::Busy(why)) => {
            refused(out, guard);
            Err(Refused::Answer(
                RpcError::method(code::INTERNAL, why).response(&out.client_id),
            ))
        }
        Err(UpstreamError::NeedsAccount(why)) => {
            refused(out, guard);
            Err(Refused::NeedsAccount(why))
        }
        Err(UpstreamError::Unauthorized(why)) => {
            refused(out, guard);
            Err(Refused::Answer(RpcError {
                data: Some(serde_json::json!({"server": backend.name,
                                  "authorize": format!("/api/v1/mcp/servers/{}/authorize", backend.name)})),
                ..RpcError::method(code::UPSTREAM_UNAUTHORIZED, format!("server `{}`: {why}", backend.name))
            }
            .in_era(caller.client_modern())
            .response(&out.client_id)))
        }
        Err(e) => {
            guard.complete();
            let why = e.to_string();
            match e {
                // A client-side HTTP error says nothing of the backend's health.
                UpstreamError::Status(s) if s < 500 => out.record.finish(Outcome::Failed),
                _ => out.record.fail(&why),
            }
            Err(Refused::Answer(failed(backend, &out.client_id, why)))
        }
    }
}

/// What a call answered in full carries on from it.
struct Answered<'a> {
    splicer: &'a mut ResponseSplicer,
    guard: &'a mut InFlightGuard,
    out: &'a mut Outgoing,
    status: StatusCode,
    bridge: Bridge,
}

/// A JSON answer that arrived in full: spliced and sent whole, with its length.
fn whole_answer(f: &Frame, backend: &Arc<Backend>, whole: Bytes, answer: Answered<'_>) -> Hopped {
    let Answered {
        splicer,
        guard,
        out,
        status,
        bridge,
    } = answer;
    let whole = bridge.answer_for_client(whole);
    let ends_whole = whole.trim_ascii_end().last() == Some(&b'}');
    let record = &mut out.record;
    record.response_bytes = whole.len();
    record.saw(&whole);
    if bridge.client_modern()
        && f.kind.is_some_and(Method::calls_item)
        && crate::mcp::wire::retired::URL_REQUIRED.in_(&whole)
        && let Some(asks) = crate::mcp::wire::ask::url_asks(&whole)
    {
        guard.complete();
        record.finish(Outcome::Error);
        return Hopped::UrlsFirst(asks);
    }
    let mut pieces = crate::http::Pieces::default();
    splicer.feed(whole, &mut pieces);
    guard.complete();
    let (mut answered, mut errored) = (splicer.answered(), splicer.errored());
    if !answered && ends_whole {
        // More than the one message in the body (a notification written ahead of the
        // response, one a line): read again message by message, the others dropped.
        let mut again = splicer.restarted().with_json_lines();
        let mut only = crate::http::Pieces::default();
        again.feed(Bytes::from(pieces.joined()), &mut only);
        if again.answered() {
            (answered, errored, pieces) = (true, again.errored(), only);
        }
    }
    if answered && ends_whole {
        record.finish(if errored { Outcome::Error } else { Outcome::Ok });
        let mut r = Response::new(Body::pieces(pieces));
        *r.status_mut() = status;
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Hopped::Answer(r);
    }
    // Not JSON, another request's answer, or cut short: the client gets an error
    // with its own id instead.
    record.fail("an unreadable answer");
    Hopped::Answer(failed(
        backend,
        &out.client_id,
        "answered with something that is not the response to this request".into(),
    ))
}

/// What a streamed answer carries on from the call.
struct Streamed {
    source: crate::backend::transport::AnswerBody,
    splicer: ResponseSplicer,
    guard: InFlightGuard,
    timeout: std::time::Duration,
    started: tokio::time::Instant,
    sse: bool,
    via: u8,
    status: StatusCode,
    bridge: Bridge,
}

/// An answer still arriving: streamed to the client (a JSON one as one SSE event, so
/// that if the backend breaks off midway the client still gets an error with its own
/// id: a JSON body already begun could only be cut), collected whole for a batch or
/// REST, or held for a stateless client's rounds of questions.
async fn streamed_answer(
    caller: &Caller<'_>,
    body: &Bytes,
    backend: &Arc<Backend>,
    out: Outgoing,
    s: Streamed,
    shape: Shape,
) -> Hopped {
    let sse = s.sse;
    let collect = shape == Shape::Whole;
    let wrap = !sse && !collect;
    let stream = UpstreamBody {
        inner: s.source,
        // A JSON answer that streams is read message by message: a server may write a
        // notification ahead of the response in it.
        splicer: s.splicer.with_json_lines(),
        pending: VecDeque::new(),
        scratch: Vec::new(),
        deadline: super::upstream::Deadline::new(s.started, s.timeout),
        guard: Some(s.guard),
        record: out.record,
        sse,
        wrap,
        opened: false,
        tail: Tail::default(),
        requests_seen: 0,
        client_id: out.client_id,
        finished: false,
        backend: backend.clone(),
        via: s.via,
        screen: super::screen::Screen::new(
            out.declared,
            s.bridge.client_modern(),
            caller.log_levels.clone(),
        ),
        request: body.clone(),
        conversation: caller.conversation.clone(),
        inner_done: false,
        held: crate::mcp::wire::held::Held::stamping(sse && s.bridge.stamps_stream()),
    };
    if sse && shape == Shape::Held {
        let mut stream = Box::new(stream);
        stream.held.mrtr = true;
        return Hopped::Held(stream);
    }
    if collect {
        let charge = caller.charge.cloned();
        return Hopped::Answer(Box::pin(collect_response(stream, charge)).await);
    }
    let mut r = Response::new(if s.bridge.client_modern() {
        Body::Stream(Box::pin(stream))
    } else {
        Body::Stream(Box::pin(super::upstream::Detachable(Some(stream))))
    });
    *r.status_mut() = s.status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if sse || wrap {
            "text/event-stream"
        } else {
            "application/json"
        }),
    );
    Hopped::Answer(r)
}

/// Room in `buf` for `more` bytes, charged before it is allocated: twice the capacity
/// while the charge can grow that far, else all the room the budgets have left (one
/// allocation, not one a piece), else refused.
fn charged_room(
    buf: &mut Vec<u8>,
    more: usize,
    charge: &crate::codemode::Charge,
) -> Result<(), crate::codemode::budget::Over> {
    let need = buf.len().saturating_add(more);
    if need <= buf.capacity() {
        return Ok(());
    }
    let doubled = need.max(buf.capacity().saturating_mul(2));
    let room = charge.grow_within(need, doubled)?;
    buf.reserve_exact(room.saturating_sub(buf.len()));
    Ok(())
}

/// Reads a whole forwarded answer and returns just the response message as JSON. A
/// script's inner call (`charge`) reads no further than its run's budget: the answer that
/// would pass it is cut off there, and the call refused naming the bound.
pub(crate) async fn collect_response(
    mut stream: UpstreamBody,
    charge: Option<crate::codemode::Charge>,
) -> Response<Body> {
    let sse = stream.sse;
    let client_id = stream.client_id.clone();
    let mut buf = Vec::new();
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
                    if let Some(charge) = &charge
                        && let Err(over) = charged_room(&mut buf, d.len(), charge)
                    {
                        drop(buf);
                        charge.release();
                        return RpcError::limited(over.to_string(), over.setting(), 1000, None)
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
        return json_response(StatusCode::OK, Bytes::from(buf));
    }
    let answer = crate::jsonrpc::sse::data_of(&buf)
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
