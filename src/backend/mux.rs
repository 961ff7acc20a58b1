//! Calls multiplexed over one stream of messages (a child's stdout, a legacy SSE
//! stream): every message from the backend is routed to the call it belongs to — a
//! response by its id, a progress notification by its token (restored to the client's
//! own), a request of the backend's own to the only call in flight — and the rest to
//! the supervisor. Shared by the stdio and SSE transports.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::base::UpstreamError;
use crate::jsonrpc::frame;
use crate::jsonrpc::methods::Method;

/// Calls in flight on one stream at most; beyond, calls are refused at once.
pub const MAX_IN_FLIGHT: usize = 1024;

/// A call waiting for its answer: its messages go here.
struct Waiter {
    tx: mpsc::Sender<Bytes>,
    /// The client's own progress token, restored in progress notifications.
    token: Option<Bytes>,
    /// Parked: its client's answers are awaited on a retry (a stateless client's call),
    /// so no request of the backend's own is attributed to it.
    parked: bool,
    /// Whose call it is ([`Owner::tag`]; 0 for the gateway's own).
    ///
    /// [`Owner::tag`]: crate::backend::isolated::Owner::tag
    owner: u64,
    /// For a `tasks/result` call, the task it waits on: a request of the backend's that
    /// names that task (`related-task`) is the task's, not another call's.
    task: Option<Box<str>>,
}

/// The calls in flight on one stream.
pub struct Mux {
    pending: Mutex<HashMap<Bytes, Waiter>>,
    /// The backend's own messages, for the supervisor (gone once the stream ends).
    own: Mutex<Option<mpsc::Sender<Vec<u8>>>>,
    /// Why the stream ended ([`Mux::fail_all`]): what the calls it cut short say.
    gone: Mutex<Option<String>>,
}

/// `{"jsonrpc":"2.0","id":<id>,"method":<method>,"params":<params>}`, for the requests a
/// transport makes itself (`id` a JSON literal).
pub fn request_frame(id: &str, method: &str, params: &Value) -> Bytes {
    Bytes::from(format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":{},\"params\":{params}}}",
        Value::String(method.into())
    ))
}

/// `{"jsonrpc":"2.0","id":<id>,"error":{"code":-32603,"message":…}}`.
pub fn error_answer(id: &[u8], message: &str) -> Bytes {
    error_answer_with(id, -32603, message)
}

/// `{"jsonrpc":"2.0","id":<id>,"error":{"code":<code>,"message":…}}`.
pub fn error_answer_with(id: &[u8], code: i64, message: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(id.len() + message.len() + 64);
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(id);
    out.extend_from_slice(b",\"error\":{\"code\":");
    out.extend_from_slice(code.to_string().as_bytes());
    out.extend_from_slice(b",\"message\":");
    out.extend_from_slice(&frame::json_string(message));
    out.extend_from_slice(b"}}");
    out.freeze()
}

/// The gateway's answer to a request of the backend's own that no client can take (not
/// tied to a call, or several clients' calls in flight): `{}` to a ping, else an error
/// saying why, so the backend is not left waiting. `None` for anything but a request.
pub fn unroutable_answer(msg: &[u8]) -> Option<Bytes> {
    let f = frame::parse(msg).ok()?;
    if !f.is_request() {
        return None;
    }
    let id = f.id?.of(msg);
    if f.is(Method::Ping) {
        let mut out = BytesMut::with_capacity(id.len() + 40);
        out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
        out.extend_from_slice(id);
        out.extend_from_slice(b",\"result\":{}}");
        return Some(out.freeze());
    }
    Some(error_answer(
        id,
        "the gateway cannot tell which client this request is for: send it while \
         handling that client's call (and only that client's calls)",
    ))
}

impl Mux {
    /// A mux and the receiving end of the backend's own messages.
    pub fn new() -> (Arc<Mux>, mpsc::Receiver<Vec<u8>>) {
        let (own, rx) = mpsc::channel(256);
        (
            Arc::new(Mux {
                pending: Mutex::new(HashMap::new()),
                own: Mutex::new(Some(own)),
                gone: Mutex::new(None),
            }),
            rx,
        )
    }

    /// Calls in flight now.
    pub fn in_flight(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Bytes, Waiter>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a call of `owner`'s under its upstream `id` (the client's progress
    /// token in `token`, if the request carried one); its messages arrive on the
    /// receiver.
    pub fn register(
        self: &Arc<Self>,
        id: &Bytes,
        token: Option<Bytes>,
        owner: u64,
        task: Option<Box<str>>,
    ) -> Result<Registration, UpstreamError> {
        let (tx, rx) = mpsc::channel(64);
        let mut pending = self.lock();
        if pending.len() >= MAX_IN_FLIGHT {
            return Err(UpstreamError::Connect(format!(
                "{MAX_IN_FLIGHT} calls are in flight on this server already; retry"
            )));
        }
        pending.insert(
            id.clone(),
            Waiter {
                tx,
                token,
                parked: false,
                owner,
                task,
            },
        );
        Ok(Registration {
            mux: self.clone(),
            id: id.clone(),
            rx,
        })
    }

    fn forget(&self, id: &[u8]) -> Option<Waiter> {
        self.lock().remove(id)
    }

    /// Fails one call (its answer could not be read).
    pub async fn fail(&self, id: &[u8], why: &str) {
        if let Some(w) = self.forget(id) {
            let _ = w.tx.send(error_answer(id, why)).await;
        }
    }

    /// Fails every call in flight and ends the supervisor's stream of own messages:
    /// the backend's stream is gone.
    /// Ends every call in flight: the stream they were on is gone (`why`). They get no
    /// answer from the backend: each fails with `why` as the gateway's own error (not
    /// an error the backend answered), so it is recorded as the backend's failure.
    pub fn fail_all(&self, why: &str) {
        self.own.lock().unwrap_or_else(|p| p.into_inner()).take();
        *self.gone.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.to_string());
        let waiters: Vec<(Bytes, Waiter)> = self.lock().drain().collect();
        drop(waiters);
    }

    /// Marks the call `id` parked (or back in play): see [`Waiter::parked`].
    pub fn set_parked(&self, id: &[u8], parked: bool) {
        if let Some(w) = self.lock().get_mut(id) {
            w.parked = parked;
        }
    }

    /// Why the stream ended, for a call that lost its answer.
    fn gone(&self) -> String {
        self.gone
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| "the server went away".into())
    }

    /// Routes one message from the backend. `false` when it is not JSON-RPC.
    pub async fn route(&self, msg: Bytes) -> bool {
        let Ok(f) = frame::parse(&msg) else {
            return false;
        };
        if f.is_response() {
            if let Some(id) = f.id
                && let Some(w) = self.forget(id.of(&msg))
            {
                let _ = w.tx.send(msg).await;
            }
            return true;
        }
        if f.is(Method::Progress)
            && let Some(span) = f.progress
        {
            let target = self
                .lock()
                .get(span.of(&msg))
                .map(|w| (w.tx.clone(), w.token.clone()));
            if let Some((tx, token)) = target {
                let restored = match token {
                    Some(t) => frame::splice(&msg, &mut [(span, &t[..])]),
                    None => msg,
                };
                let _ = tx.send(restored).await;
                return true;
            }
        }
        // A request of the backend's own (sampling, roots) or a log message carries
        // nothing that ties it to a call: it goes with a call in flight when every call
        // in flight is one client's (always so for an isolated child), where the
        // client's level screens a log message; otherwise, and for other notifications,
        // to the supervisor.
        // Our own request coming back (a command that echoes its input, such as `cat`,
        // is no MCP server): its call fails now, not at its timeout.
        if f.is_request()
            && let Some(id) = f.id
            && let Some(w) = self.forget(id.of(&msg))
        {
            let _ =
                w.tx.send(error_answer(
                    id.of(&msg),
                    "the server sent the gateway's own request back (an echo): the command \
                     does not look like an MCP server",
                ))
                .await;
            return true;
        }
        if may_join(&f) {
            let related = related_task(&msg);
            let only = {
                let pending = self.lock();
                // A parked call (its client may never retry) takes nothing new, and the
                // gateway's own calls (owner 0: a list, a ping) take nothing either: one
                // in flight beside a client's call left that client's question or log
                // message with nobody (seen as a log lost under load).
                let mut calls = pending.values().filter(|w| !w.parked && w.owner != 0);
                let waiting_task = related.as_deref().and_then(|t| {
                    pending
                        .values()
                        .find(|w| w.owner != 0 && w.task.as_deref() == Some(t))
                });
                match (waiting_task, calls.next()) {
                    (Some(w), _) => Some(w.tx.clone()),
                    (None, Some(first)) if calls.all(|w| w.owner == first.owner) => {
                        // One client's calls: a request naming no task waiting here goes
                        // with a call that is not a task's `tasks/result`.
                        let call = pending
                            .values()
                            .find(|w| w.task.is_none() && !w.parked && w.owner != 0);
                        Some(call.unwrap_or(first).tx.clone())
                    }
                    _ => None,
                }
            };
            if let Some(tx) = only {
                let _ = tx.send(msg).await;
                return true;
            }
        }
        let own = self.own.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(own) = own {
            let _ = own.try_send(msg.to_vec());
        }
        true
    }
}

/// The task a `tasks/result` request (a whole message) waits on.
pub fn result_task(request: &[u8]) -> Option<Box<str>> {
    static RESULT: crate::jsonrpc::needle::Needle =
        crate::needle!(Method::TasksResult.as_str().as_bytes());
    if !RESULT.in_(request) {
        return None;
    }
    let v: Value = crate::jsonrpc::read::value(request).ok()?;
    (v["method"] == Method::TasksResult.as_str())
        .then(|| v["params"]["taskId"].as_str().map(Box::from))
        .flatten()
}

/// The task a backend's message says it belongs to (`_meta` `related-task`).
fn related_task(msg: &[u8]) -> Option<String> {
    static RELATED: crate::jsonrpc::needle::Needle =
        crate::needle!(b"io.modelcontextprotocol/related-task");
    if !RELATED.in_(msg) {
        return None;
    }
    let v: Value = crate::jsonrpc::read::value(msg).ok()?;
    v["params"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"]
        .as_str()
        .map(String::from)
}

/// Whether a message of the backend's own that names no call may go with a call in
/// flight: a request (sampling, elicitation, roots) or a log message.
pub fn may_join(f: &frame::Frame) -> bool {
    f.is_request() || f.is(Method::Message)
}

/// A registered call; dropping it (answered, or the client left) forgets it.
pub struct Registration {
    mux: Arc<Mux>,
    id: Bytes,
    rx: mpsc::Receiver<Bytes>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.mux.forget(&self.id);
    }
}

impl Registration {
    /// Waits for the call's first message: one JSON answer when the response comes
    /// first, else an SSE stream of its messages (progress, then the response). `slot`
    /// (a place among the calls allowed in flight) is held until the answer is done.
    pub async fn answer(
        mut self,
        slot: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Result<(bool, MuxAnswer), UpstreamError> {
        let Some(first) = self.rx.recv().await else {
            return Err(UpstreamError::Connect(self.mux.gone()));
        };
        let whole = frame::parse(&first).is_ok_and(|f| f.is_response());
        Ok((
            !whole,
            MuxAnswer {
                first: Some(first),
                sse: !whole,
                answered: whole,
                call: self,
                _slot: slot,
            },
        ))
    }

    /// Waits (at most `timeout`) for the response and returns its `result`.
    pub async fn result(mut self, timeout: Duration) -> Result<Value, UpstreamError> {
        let line = tokio::time::timeout(timeout, async {
            loop {
                match self.rx.recv().await {
                    Some(m) if frame::parse(&m).is_ok_and(|f| f.is_response()) => return Ok(m),
                    Some(_) => continue,
                    None => return Err(UpstreamError::Connect(self.mux.gone())),
                }
            }
        })
        .await
        .map_err(|_| UpstreamError::Timeout(timeout.as_millis() as u64))??;
        let v: Value = serde_json::from_slice(&line)
            .map_err(|e| UpstreamError::Protocol(format!("unreadable answer: {e}")))?;
        if let Some(e) = v.get("error") {
            return Err(UpstreamError::Rpc {
                code: e["code"].as_i64().unwrap_or(0),
                message: e["message"].as_str().unwrap_or_default().to_string(),
            });
        }
        Ok(v["result"].clone())
    }
}

/// A call's answer: one JSON message, or its messages as SSE events.
pub struct MuxAnswer {
    first: Option<Bytes>,
    sse: bool,
    /// Its response has passed (or its loss has been told).
    answered: bool,
    call: Registration,
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// One message as an SSE event (`event: message`).
pub fn sse_event(msg: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(msg.len() + 24);
    out.extend_from_slice(b"event: message\ndata: ");
    out.extend_from_slice(msg);
    out.extend_from_slice(b"\n\n");
    out.freeze()
}

impl MuxAnswer {
    /// Marks the call parked (waiting for its client's retry) or back in play.
    pub fn set_parked(&self, parked: bool) {
        self.call.mux.set_parked(&self.call.id, parked);
    }

    pub fn take_whole(&mut self) -> Option<Bytes> {
        if self.sse { None } else { self.first.take() }
    }

    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, String>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(if self.sse { sse_event(&first) } else { first })));
        }
        if !self.sse {
            return Poll::Ready(None);
        }
        match self.call.rx.poll_recv(cx) {
            Poll::Ready(Some(m)) => {
                if frame::parse(&m).is_ok_and(|f| f.is_response()) {
                    self.answered = true;
                    self.call.rx.close();
                }
                Poll::Ready(Some(Ok(sse_event(&m))))
            }
            // The stream ended before the answer: why, as a failure of the backend's.
            Poll::Ready(None) if !self.answered => {
                self.answered = true;
                Poll::Ready(Some(Err(self.call.mux.gone())))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The backend's own messages.
pub struct OwnMessages {
    pub rx: mpsc::Receiver<Vec<u8>>,
}

impl OwnMessages {
    pub async fn next(&mut self) -> Option<Vec<u8>> {
        self.rx.recv().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLING: &[u8] =
        br#"{"jsonrpc":"2.0","id":"b1","method":"sampling/createMessage","params":{}}"#;

    #[tokio::test]
    async fn a_backends_request_goes_with_a_call_only_when_one_client_is_in_flight() {
        let (mux, mut own) = Mux::new();
        let a = Bytes::from_static(b"\"g1\"");
        let b = Bytes::from_static(b"\"g2\"");
        let c = Bytes::from_static(b"\"g3\"");
        let mut first = mux.register(&a, None, 7, None).unwrap();
        let mut second = mux.register(&b, None, 7, None).unwrap();
        // Two calls of one client: the request goes with one of them.
        assert!(mux.route(Bytes::from_static(SAMPLING)).await);
        let got = tokio::select! {
            m = first.rx.recv() => m,
            m = second.rx.recv() => m,
        };
        assert_eq!(got.as_deref(), Some(SAMPLING));
        // Another client's call in flight too: nobody can be told; the supervisor gets it.
        let _third = mux.register(&c, None, 9, None).unwrap();
        assert!(mux.route(Bytes::from_static(SAMPLING)).await);
        assert_eq!(own.recv().await.as_deref(), Some(SAMPLING));
        assert!(first.rx.try_recv().is_err() && second.rx.try_recv().is_err());
        // The gateway's own calls (owner 0) never take a client's request.
        drop((first, second, _third));
        let list = mux.register(&a, None, 0, None).unwrap();
        assert!(mux.route(Bytes::from_static(SAMPLING)).await);
        assert_eq!(own.recv().await.as_deref(), Some(SAMPLING));
        // Nor do they stand in the way of the one client in flight beside them.
        let mut client = mux.register(&b, None, 7, None).unwrap();
        for _ in 0..4 {
            assert!(mux.route(Bytes::from_static(SAMPLING)).await);
            assert_eq!(client.rx.try_recv().ok().as_deref(), Some(SAMPLING));
        }
        assert!(own.try_recv().is_err());
        drop(list);
    }

    /// A parked call (a stateless client's, waiting for a retry that may never come)
    /// claims nothing: the one other client in flight gets the backend's request.
    #[tokio::test]
    async fn a_parked_call_claims_no_request_of_the_backends() {
        let (mux, mut own) = Mux::new();
        let gone = Bytes::from_static(b"\"g1\"");
        let here = Bytes::from_static(b"\"g2\"");
        let _parked = mux.register(&gone, None, 7, None).unwrap();
        let mut live = mux.register(&here, None, 9, None).unwrap();
        // Both in play: two clients, nobody can be told.
        assert!(mux.route(Bytes::from_static(SAMPLING)).await);
        assert_eq!(own.recv().await.as_deref(), Some(SAMPLING));
        mux.set_parked(&gone, true);
        assert!(mux.route(Bytes::from_static(SAMPLING)).await);
        assert_eq!(live.rx.recv().await.as_deref(), Some(SAMPLING));
        // Back in play (its client retried): ambiguous again.
        mux.set_parked(&gone, false);
        assert!(mux.route(Bytes::from_static(SAMPLING)).await);
        assert_eq!(own.recv().await.as_deref(), Some(SAMPLING));
    }

    /// A task's `tasks/result` held open beside a call of the same client: the backend's
    /// request for the task goes to the task's stream, any other to the call.
    #[tokio::test]
    async fn a_request_for_a_task_goes_to_its_result_and_others_to_the_call() {
        let (mux, _own) = Mux::new();
        let result = request_frame(
            "\"g1\"",
            "tasks/result",
            &serde_json::json!({"taskId": "t-9"}),
        );
        assert_eq!(result_task(&result).as_deref(), Some("t-9"));
        assert_eq!(result_task(SAMPLING), None);
        let mut held = mux
            .register(
                &Bytes::from_static(b"\"g1\""),
                None,
                7,
                result_task(&result),
            )
            .unwrap();
        let mut call = mux
            .register(&Bytes::from_static(b"\"g2\""), None, 7, None)
            .unwrap();
        for _ in 0..8 {
            assert!(mux.route(Bytes::from_static(SAMPLING)).await);
            assert_eq!(call.rx.recv().await.as_deref(), Some(SAMPLING));
        }
        let of_task = Bytes::from_static(
            br#"{"jsonrpc":"2.0","id":"b2","method":"elicitation/create","params":{"_meta":{"io.modelcontextprotocol/related-task":{"taskId":"t-9"}}}}"#,
        );
        assert!(mux.route(of_task.clone()).await);
        assert_eq!(held.rx.recv().await, Some(of_task));
        assert!(call.rx.try_recv().is_err());
    }

    #[test]
    fn requests_nobody_can_take_are_answered() {
        let e = unroutable_answer(SAMPLING).unwrap();
        let v: Value = serde_json::from_slice(&e).unwrap();
        assert_eq!(v["id"], "b1");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("which client")
        );
        let ping = unroutable_answer(br#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#).unwrap();
        assert_eq!(&ping[..], br#"{"jsonrpc":"2.0","id":5,"result":{}}"#);
        assert!(unroutable_answer(br#"{"jsonrpc":"2.0","method":"notifications/x"}"#).is_none());
        assert!(unroutable_answer(br#"{"jsonrpc":"2.0","id":5,"result":{}}"#).is_none());
    }
}
