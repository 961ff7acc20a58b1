//! The Streamable-HTTP transport: one upstream session per backend (re-initialized when
//! the backend forgets it), calls on the hot path's own pooled connections for plain
//! `http://` backends (hyper's client otherwise), the GET stream for the backend's own
//! messages. Everything HTTP about a backend (status codes, content types, session
//! headers) stays in here.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::backend::http::joined::Joins;
use crate::backend::http::modern::{self, Headers};
use crate::backend::http::pool::Pool;
use crate::backend::http::{
    self as upstream, Endpoint, HttpAnswer, HttpClient, UpstreamError, UpstreamSession,
};
use crate::base::ClientCaps;

/// One backend's HTTP session and connections.
pub struct HttpTransport {
    endpoint: Endpoint,
    client: HttpClient,
    timeout: Duration,
    /// The upstream session; read lock-free on every request.
    session: ArcSwapOption<UpstreamSession>,
    /// The session's header lines, ready to write (swapped with the session).
    session_lines: ArcSwapOption<Bytes>,
    /// Hot-path connections (plain http backends).
    pool: ArcSwapOption<Pool>,
    /// Held while (re-)initializing.
    reinit: Mutex<()>,
    /// A 2026-07-28 backend's resources session clients subscribed to: its listen
    /// stream asks for their updates, and is opened again when they change.
    watched: crate::backend::envelope::Watched,
    rewatch: tokio::sync::Notify,
    /// The client capabilities its session declares ([`ClientCaps`] bits): every one the
    /// gateway routes for a backend's main session, a client's own for another.
    declared: u8,
    /// Its calls in flight with SSE answers, which its own stream's messages may join.
    joins: Joins,
    /// A 2026-07-28 backend that also takes sessions (dual-era, as the TypeScript and
    /// Python SDKs' servers are): its session-era session, which serves session clients'
    /// calls in their own era. A dual-era server's tools may ask the client mid-call
    /// (`sampling/createMessage`, `elicitation/create` on the call's stream) only in a
    /// session; reached statelessly they cannot ask at all. Requests that carry the 2026
    /// envelope go statelessly, the others (and answers to its questions) here.
    sessions: ArcSwapOption<HttpTransport>,
    /// When a 2026-07-28 backend last refused a session (unix seconds; 0: never asked).
    /// It is asked on a session client's first call, and again after a while.
    sessions_refused: std::sync::atomic::AtomicU64,
    /// Held while asking for that session.
    sessions_opening: Mutex<()>,
    /// This transport is such a session: it initializes without probing the era.
    session_era: bool,
}

/// How long a 2026-07-28 backend that refused a session is not asked again.
const SESSIONS_RETRY: u64 = 600;

/// The largest event read from a backend's own stream.
const MAX_EVENT: usize = 16 << 20;

/// The backend's own messages from its GET stream, one JSON text at a time.
pub struct HttpMessages {
    body: Incoming,
    buf: Vec<u8>,
    ready: std::collections::VecDeque<Vec<u8>>,
}

impl HttpMessages {
    /// The next message; `None` when the stream ends.
    pub async fn next(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(m) = self.ready.pop_front() {
                return Some(m);
            }
            let data = match self.body.frame().await {
                Some(Ok(f)) => f.into_data().unwrap_or_default(),
                _ => return None,
            };
            self.buf.extend_from_slice(&data);
            if let Some(end) = crate::jsonrpc::sse::last_event_end(&self.buf) {
                let complete: Vec<u8> = self.buf.drain(..end).collect();
                self.ready.extend(crate::jsonrpc::sse::data_of(&complete));
            }
            // A backend that never ends its event holds no more than this: the stream is
            // dropped (and reopened by the supervisor).
            if self.buf.len() > MAX_EVENT {
                tracing::warn!(
                    "a backend's event exceeded {MAX_EVENT} bytes; its stream is dropped"
                );
                return None;
            }
        }
    }
}

impl HttpTransport {
    pub fn new(endpoint: Endpoint, client: HttpClient, timeout: Duration) -> HttpTransport {
        HttpTransport {
            endpoint,
            client,
            timeout,
            session: ArcSwapOption::empty(),
            session_lines: ArcSwapOption::empty(),
            pool: ArcSwapOption::empty(),
            reinit: Mutex::new(()),
            watched: Default::default(),
            rewatch: tokio::sync::Notify::new(),
            declared: ClientCaps::ALL,
            joins: Joins::default(),
            sessions: ArcSwapOption::empty(),
            sessions_refused: std::sync::atomic::AtomicU64::new(0),
            sessions_opening: Mutex::new(()),
            session_era: false,
        }
    }

    /// Before a session client's call to a 2026-07-28 backend: asks the backend for a
    /// session of that client's era, once (and again [`SESSIONS_RETRY`] seconds after a
    /// refusal). A backend only ever called by 2026-07-28 clients is never asked.
    pub async fn offer_sessions(&self) {
        use std::sync::atomic::Ordering;
        if !self.is_modern() || self.session_era || self.sessions.load().is_some() {
            return;
        }
        let refused = self.sessions_refused.load(Ordering::Relaxed);
        let now = crate::base::unix_now();
        if refused != 0 && now < refused + SESSIONS_RETRY {
            return;
        }
        let _asking = self.sessions_opening.lock().await;
        if self.sessions.load().is_some()
            || self.sessions_refused.load(Ordering::Relaxed) != refused
        {
            return;
        }
        self.open_sessions().await;
    }

    /// The session-era session of a dual-era backend, when it has one.
    pub fn serves_sessions(&self) -> bool {
        self.sessions.load().is_some()
    }

    /// The session-era session that serves `body`: a dual-era backend's, for a message
    /// without the 2026-07-28 envelope.
    fn session_for(&self, body: &[u8]) -> Option<Arc<HttpTransport>> {
        self.sessions
            .load_full()
            .filter(|_| !crate::jsonrpc::frame::has_envelope(body))
    }

    /// Opens the session-era session of a 2026-07-28 backend that also takes sessions;
    /// none for a backend that refuses `initialize` (2026-07-28 only).
    async fn open_sessions(&self) {
        let sessions = HttpTransport {
            session_era: true,
            ..self.variant(ClientCaps::ALL)
        };
        match Box::pin(sessions.connect()).await {
            Ok(_) => {
                tracing::debug!(
                    "a 2026-07-28 backend takes sessions too: session clients' calls go through one"
                );
                if let Some(old) = self.sessions.swap(Some(Arc::new(sessions))) {
                    old.close().await;
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "a 2026-07-28 backend takes no sessions");
                self.sessions_refused.store(
                    crate::base::unix_now().max(1),
                    std::sync::atomic::Ordering::Relaxed,
                );
                if let Some(old) = self.sessions.swap(None) {
                    old.close().await;
                }
            }
        }
    }

    /// Another session with the same backend, declaring only the client capabilities
    /// `declared`; it shares this one's connections.
    pub fn variant(&self, declared: u8) -> HttpTransport {
        let t = HttpTransport {
            declared,
            ..HttpTransport::new(self.endpoint.clone(), self.client.clone(), self.timeout)
        };
        t.pool.store(self.pool.load_full());
        t
    }

    /// A session of the same backend with `bearer`'s token (a per-caller server's
    /// caller session): it finds the era and opens its session itself.
    pub fn for_caller(&self, bearer: Arc<super::bearer::Bearer>) -> HttpTransport {
        let mut endpoint = self.endpoint.clone();
        endpoint.bearer = Some(bearer);
        HttpTransport::new(endpoint, self.client.clone(), self.timeout)
    }

    fn store_session(&self, s: Arc<UpstreamSession>) {
        self.session_lines.store(Some(Arc::new(s.header_lines())));
        self.session.store(Some(s));
    }

    fn session_now(&self) -> Result<Arc<UpstreamSession>, UpstreamError> {
        self.session
            .load_full()
            .ok_or_else(|| UpstreamError::Connect("the backend is not connected".into()))
    }

    /// Hands a request or log message of the session's own stream to the one client's
    /// call in flight ([`Joins::offer`]); `false` when it is not for one.
    pub async fn join(&self, msg: &[u8], wait: bool) -> bool {
        self.joins.offer(msg, wait).await
    }

    /// Whether the backend speaks 2026-07-28 (as its last connect found).
    pub fn is_modern(&self) -> bool {
        self.session.load().as_ref().is_some_and(|s| s.modern)
    }

    /// Opens a fresh session (and the pool for plain http); returns what the backend
    /// said of itself. The era is probed first: a backend that answers `server/discover`
    /// with 2026-07-28 gets no session; any other is initialized.
    pub async fn connect(&self) -> Result<crate::backend::hello::Hello, UpstreamError> {
        let generation = self.session.load_full().map_or(0, |s| s.generation) + 1;
        let (c, e, t) = (&self.client, &self.endpoint, self.timeout);
        // A backend's other sessions are opened once its main one found its era.
        let probed = match self.declared {
            ClientCaps::ALL if !self.session_era => modern::discover(c, e, generation, t).await?,
            _ => None,
        };
        let s = match probed {
            Some(s) => s,
            None => upstream::initialize(c, e, generation, t, self.declared).await?,
        };
        let caps = s.hello.clone();
        self.store_session(Arc::new(s));
        // The hot path's pool writes a fixed head: a backend whose token changes is
        // called through the client instead.
        if self.pool.load().is_none()
            && self.endpoint.uri.scheme_str() == Some("http")
            && self.endpoint.bearer.is_none()
        {
            match Pool::new(&self.endpoint.uri, &self.endpoint.headers).await {
                Ok(p) => self.pool.store(Some(Arc::new(p))),
                Err(e) => return Err(UpstreamError::Connect(e.to_string())),
            }
        }
        // A new connection: its era found afresh, a session of the other era asked for
        // again when a session client calls.
        self.sessions_refused
            .store(0, std::sync::atomic::Ordering::Relaxed);
        if let Some(old) = self.sessions.swap(None) {
            Box::pin(old.close()).await;
        }
        Ok(caps)
    }

    /// Opens a new session unless another task already replaced `stale_generation`.
    async fn reinitialize(
        &self,
        stale_generation: u64,
    ) -> Result<Arc<UpstreamSession>, UpstreamError> {
        let _guard = self.reinit.lock().await;
        if let Some(current) = self.session.load_full()
            && current.generation != stale_generation
        {
            return Ok(current);
        }
        let s = upstream::initialize(
            &self.client,
            &self.endpoint,
            stale_generation + 1,
            self.timeout,
            self.declared,
        )
        .await?;
        let s = Arc::new(s);
        self.store_session(s.clone());
        Ok(s)
    }

    /// The hot path: sends a request and returns the answer with its body still on the
    /// way. Re-initializes once if the backend forgot the session. An answer other than
    /// 200 is an error, but for a modern backend's JSON-RPC error in a 4xx answer;
    /// `Ok((sse, body))` says whether the answer is an SSE stream. `headers`: a modern
    /// backend's request's own ([`Headers::of`]). The answer's HTTP status comes first.
    /// `owner` ([`crate::backend::isolated::Owner::tag`]): whose call it is, for the
    /// messages of the session's own stream that may join its answer; asked only when
    /// the answer is a stream (a hash of the caller's key is not made for every call).
    pub async fn request(
        &self,
        owner: &(dyn Fn() -> u64 + Sync),
        body: Bytes,
        headers: Option<&Headers>,
        trace: Option<&crate::observe::trace::Propagation>,
    ) -> Result<(u16, bool, HttpAnswer), UpstreamError> {
        if let Some(sessions) = self.session_for(&body) {
            return Box::pin(sessions.request(owner, body, None, trace)).await;
        }
        let session = self.session_now()?;
        let (status, content_type, answer) =
            match (self.pool.load_full(), self.session_lines.load_full()) {
                (Some(p), Some(lines)) => {
                    let connect = |e: std::io::Error| UpstreamError::Connect(e.to_string());
                    let own = headers.map(|h| h.after_lines(&lines));
                    let lines: &[u8] = own.as_deref().unwrap_or(&lines);
                    let with_trace =
                        |lines: &[u8]| -> Option<Vec<u8>> { trace.map(|t| t.after_lines(lines)) };
                    let traced = with_trace(lines);
                    let (mut head, mut exchange) = p
                        .post(traced.as_deref().unwrap_or(lines), &body)
                        .await
                        .map_err(connect)?;
                    if head.status == 404 && session.id.is_some() {
                        drop(exchange);
                        tracing::info!("backend forgot our session; re-initializing");
                        // Boxed: rare, and large enough to weigh on every call's future.
                        let fresh = Box::pin(self.reinitialize(session.generation)).await?;
                        let lines = fresh.header_lines();
                        let traced = with_trace(&lines);
                        (head, exchange) = p
                            .post(traced.as_deref().unwrap_or(&lines), &body)
                            .await
                            .map_err(connect)?;
                    }
                    (head.status, head.content_type, HttpAnswer::Pool(exchange))
                }
                _ => {
                    // Cloned, not moved: the call's id is read from it should its
                    // answer need resuming. (The pool's path above only borrows it,
                    // and a first clone of a body read into a Vec costs an allocation.)
                    let mut resp =
                        Box::pin(self.send(&session, body.clone(), headers, trace)).await?;
                    if resp.status() == StatusCode::NOT_FOUND && session.id.is_some() {
                        tracing::info!("backend forgot our session; re-initializing");
                        // Boxed: rare, and large enough to weigh on every call's future.
                        let fresh = Box::pin(self.reinitialize(session.generation)).await?;
                        resp = Box::pin(self.send(&fresh, body.clone(), headers, trace)).await?;
                    }
                    if let (401 | 403, Some(b)) = (resp.status().as_u16(), &self.endpoint.bearer) {
                        let www = resp.headers().get(hyper::header::WWW_AUTHENTICATE);
                        return Err(b.challenged(
                            resp.status().as_u16(),
                            www.and_then(|v| v.to_str().ok()),
                        ));
                    }
                    let ct = resp
                        .headers()
                        .get(hyper::header::CONTENT_TYPE)
                        .map(|v| Bytes::copy_from_slice(v.as_bytes()));
                    (
                        resp.status().as_u16(),
                        ct,
                        HttpAnswer::Hyper(resp.into_body()),
                    )
                }
            };
        let sse = content_type
            .as_ref()
            .is_some_and(|c| c.starts_with(b"text/event-stream"));
        // A modern backend refuses a request with a 4xx and the JSON-RPC error: the
        // error is the answer.
        let refusal = session.modern
            && (400..500).contains(&status)
            && content_type.is_some_and(|c| c.starts_with(b"application/json"));
        if status != 200 && !refusal {
            return Err(UpstreamError::Status(status));
        }
        let answer = if sse && !session.modern {
            let id = crate::jsonrpc::frame::parse(&body)
                .ok()
                .and_then(|f| f.id.map(|s| Bytes::copy_from_slice(s.of(&body))))
                .unwrap_or_default();
            let resume = super::resume::Resume::new(
                self.client.clone(),
                self.endpoint.clone(),
                session.clone(),
                id,
            );
            self.joins.open(owner(), answer, resume)
        } else {
            answer
        };
        Ok((status, sse, answer))
    }

    async fn send(
        &self,
        session: &UpstreamSession,
        body: Bytes,
        headers: Option<&Headers>,
        trace: Option<&crate::observe::trace::Propagation>,
    ) -> Result<hyper::Response<Incoming>, UpstreamError> {
        let mut req = upstream::request(&self.endpoint, Some(session), Method::POST, body);
        if let Some(h) = headers {
            h.apply(req.headers_mut());
        }
        if let Some(t) = trace {
            t.apply(req.headers_mut());
        }
        upstream::send(&self.client, req).await
    }

    /// A control-path request (lists, ping): its `result`, re-initializing once if the
    /// backend forgot the session.
    pub async fn call(
        &self,
        id: &str,
        method: &str,
        params: Value,
    ) -> Result<Value, UpstreamError> {
        let s = self.session_now()?;
        let (c, e, t) = (&self.client, &self.endpoint, self.timeout);
        match upstream::call(c, e, &s, id, method, params.clone(), t).await {
            Err(UpstreamError::SessionExpired) => {
                let fresh = self.reinitialize(s.generation).await?;
                upstream::call(c, e, &fresh, id, method, params, t).await
            }
            r => r,
        }
    }

    /// Sends a notification or an answer to the backend's own request, best effort.
    pub async fn notify(&self, body: Bytes) -> Result<(), UpstreamError> {
        if let Some(sessions) = self.session_for(&body) {
            return Box::pin(sessions.notify(body)).await;
        }
        let s = self.session_now()?;
        upstream::notify(&self.client, &self.endpoint, &s, body).await
    }

    /// The backend's stream of its own messages; `None` when it offers none (then the
    /// supervisor pings instead).
    pub async fn messages(&self) -> Result<Option<HttpMessages>, UpstreamError> {
        let s = self.session_now()?;
        if s.modern {
            let uris = self.watched.uris();
            let stream = modern::listen(&self.client, &self.endpoint, &s, &uris).await?;
            return Ok(stream.map(|r| HttpMessages {
                body: r.into_body(),
                buf: Vec::new(),
                ready: Default::default(),
            }));
        }
        for _ in 0..2 {
            let s = self.session_now()?;
            let mut req = upstream::request(&self.endpoint, Some(&s), Method::GET, Bytes::new());
            req.headers_mut().insert(
                hyper::header::ACCEPT,
                hyper::header::HeaderValue::from_static("text/event-stream"),
            );
            match upstream::send(&self.client, req).await? {
                r if r.status().is_success() && upstream::is_sse(r.headers()) => {
                    return Ok(Some(HttpMessages {
                        body: r.into_body(),
                        buf: Vec::new(),
                        ready: Default::default(),
                    }));
                }
                r if r.status() == StatusCode::NOT_FOUND => {
                    self.reinitialize(s.generation).await?;
                }
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Follows (`on`) or stops following a 2026-07-28 backend's resource `uri` on its
    /// listen stream (reopened with the new set); at most [`crate::backend::envelope::MAX_WATCHED`] at once.
    pub fn watch(&self, uri: &str, on: bool) -> Result<(), String> {
        if self.watched.set(uri, on)? {
            self.rewatch.notify_one();
        }
        Ok(())
    }

    /// Completes when the resources to follow changed (the listen stream is reopened).
    pub async fn rewatched(&self) {
        self.rewatch.notified().await;
    }

    /// Ends the session at the backend (best effort).
    pub async fn close(&self) {
        if let Some(sessions) = self.sessions.swap(None) {
            Box::pin(sessions.close()).await;
        }
        if let Some(s) = self.session.load_full() {
            upstream::terminate(&self.client, &self.endpoint, &s).await;
        }
    }
}
