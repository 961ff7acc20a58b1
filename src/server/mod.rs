//! The HTTP server: accept loop with a connection bound, the [`Gateway`] service, and the
//! request path as phases in a fixed order:
//!
//! accept → guard (Host, Origin, CORS preflight) → route → authenticate → authorise →
//! handle → record (security headers, CORS, metrics, one log line).
//!
//! Any phase may end the request with a response. HTTP/1.1 (keep-alive, chunked) and
//! HTTP/2 over cleartext (prior knowledge) are both served.

mod credentials;

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::service::Service;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::auth::Principal;
use crate::base::KeyId;
use crate::control;
use crate::http::connections::{Busy, Close, Conn, Refused};
use crate::http::routes::{self, Access, Match};
use crate::http::{ApiError, Body, empty};
use crate::state::State;
use credentials::{Scheme, bearer, challenged, proved};

const MAX_HEADERS: usize = 100;
/// Largest HTTP/1.1 read buffer (request bodies are read through it).
const READ_BUFFER: usize = 64 * 1024;
/// Headers a browser may send cross-origin (CORS preflight).
const CORS_ALLOW_HEADERS: &str = "authorization, content-type, x-api-key, mcp-session-id, \
     mcp-protocol-version, last-event-id, mcp-method, mcp-name";
const CORS_EXPOSE_HEADERS: &str = "mcp-session-id, www-authenticate, retry-after";

/// The gateway's hyper service: one per connection, sharing [`State`].
#[derive(Clone)]
pub struct Gateway {
    state: Arc<State>,
    conn: Arc<Conn>,
}

impl Service<Request<Incoming>> for Gateway {
    type Response = Response<Tracked>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Tracked>, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let state = self.state.clone();
        // The connection is busy until the response has been sent.
        let busy = self.conn.begin();
        let peer = self.conn.peer();
        // The request's future is `serve`'s own, built in its box: a block awaiting it
        // would first build it and then copy it in.
        crate::base::boxed(move || serve(state, peer, req, busy))
    }
}

/// A response body that keeps its connection marked busy until it has been sent.
pub struct Tracked {
    body: Body,
    _busy: Busy,
}

impl hyper::body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, std::io::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// What the record phase needs to know about a request.
struct Outcome {
    route: &'static str,
    method: &'static str,
    key_id: Option<KeyId>,
    /// An MCP endpoint's request: its refusals are JSON-RPC errors, which MCP clients
    /// show (a REST-shaped body reads to them as "an error response").
    mcp: bool,
}

async fn serve(
    state: Arc<State>,
    peer: IpAddr,
    req: Request<Incoming>,
    busy: Busy,
) -> Result<Response<Tracked>, Infallible> {
    let state = &state;
    let start = Instant::now();
    let method = req.method().clone();
    // A clone of the URI shares its bytes; the log line needs the path after the request
    // has been handed on.
    let uri = req.uri().clone();
    let origin = allowed_origin(state, req.headers());
    let mut outcome = Outcome {
        route: "unmatched",
        method: method_label(&method),
        key_id: None,
        mcp: false,
    };
    let http11 = req.version() == hyper::Version::HTTP_11;
    let mut resp = match phases(state, peer, req, origin.as_ref(), &mut outcome).await {
        Ok(Phased::Answered(r)) => r,
        // Awaited here, so that its answer is written where it is used: awaited in
        // `phases`, it was copied on its way out of it (`loadtest/copies.sh`: four
        // copies of some 280 bytes a request).
        Ok(Phased::Mcp(serving)) => serving.await,
        Err(e) if outcome.mcp => e.into_rpc_response(),
        Err(e) => e.into_response(),
    };
    // Draining: a client is told to take its next request elsewhere (HTTP/2 clients get
    // GOAWAY when the grace ends).
    if http11 && state.is_draining() {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    record(
        state,
        &mut resp,
        origin,
        &outcome,
        &method,
        uri.path(),
        start,
    );
    Ok(resp.map(|body| Tracked { body, _busy: busy }))
}

/// What the phases of a request hand back: its answer, or for an MCP endpoint's request
/// the future that serves it, with its caller checked.
#[allow(clippy::large_enum_variant)] // returned once, never stored: a box would be an allocation a request
enum Phased {
    Answered(Response<Body>),
    Mcp(crate::mcp::endpoint::Serving),
}

async fn phases(
    state: &Arc<State>,
    peer: IpAddr,
    req: Request<Incoming>,
    origin: Option<&Result<HeaderValue, ()>>,
    outcome: &mut Outcome,
) -> Result<Phased, ApiError> {
    // Guard: DNS-rebinding protection on every route.
    check_host(state, &req)?;
    if let Some(Err(())) = origin {
        return Err(ApiError::Forbidden("origin not allowed".into()));
    }
    let uri = req.uri().clone();
    let path = uri.path();
    if req.method() == Method::OPTIONS {
        return preflight(path, origin.is_some()).map(Phased::Answered);
    }

    // Route.
    let (route, params) = match routes::resolve(req.method(), path) {
        Match::Found(route, params) => (route, params),
        Match::MethodNotAllowed(allow) => return Err(ApiError::MethodNotAllowed { allow }),
        Match::NotFound => return Err(ApiError::NotFound(format!("no route {path}"))),
    };
    outcome.route = route.path;
    outcome.method = route.method.as_str();

    // MCP endpoints: credentials unless the namespace is open.
    if route.access == Access::Mcp {
        outcome.mcp = true;
        let namespace = params.get(0);
        let table = state.data.routing.load();
        let Some(view) = table.view(namespace) else {
            return Err(ApiError::NotFound(format!(
                "no namespace {:?}",
                namespace.unwrap_or_default()
            )));
        };
        let trace = state
            .observe
            .tracer
            .as_ref()
            .map(|t| Box::new(t.start_for(req.headers())));
        let open = !view.auth_required;
        let principal = match mcp_caller(
            state,
            peer,
            &req,
            namespace,
            open,
            trace.as_deref(),
            outcome,
        )
        .await
        {
            Ok(Ok(p)) => p,
            Ok(Err(challenge)) => return Ok(Phased::Answered(challenge)),
            // In the era of the request's version header: the body is not read yet.
            Err(e) => {
                let stateless = req.headers().get("mcp-protocol-version").is_some_and(|v| {
                    v.as_bytes() == crate::mcp::wire::versions::STATELESS_VERSION.as_bytes()
                });
                return Ok(Phased::Answered(e.into_rpc_response_in(stateless)));
            }
        };
        let mut ctx = crate::mcp::ctx::Ctx::in_table(&state.planes, table, principal, namespace)
            .ok_or_else(|| ApiError::NotFound("no such namespace".into()))?;
        ctx.trace = trace;
        // The MCP future comes boxed: it is built in its box (not copied into it), and
        // `serve` awaits it.
        return Ok(Phased::Mcp(crate::mcp::endpoint::handle(ctx, req)));
    }

    // Authenticate and authorise.
    let principal: Option<Principal> = match route.access {
        Access::Public | Access::Mcp => None,
        Access::Client | Access::Admin => {
            let p = match state.auth.authenticate(req.headers(), peer).await {
                Ok(p) => p,
                Err(e) => {
                    state.observe.metrics.refused_login(e.reason(), peer);
                    return Err(e.into());
                }
            };
            outcome.key_id = Some(p.key_id);
            if route.access == Access::Admin && !p.is_admin() {
                return Err(ApiError::Forbidden(
                    "this route needs a key with the admin scope".into(),
                ));
            }
            // A tool's REST execution is charged as an MCP request is, in the pipeline
            // (`mcp::rest::execute`), where a refusal is recorded as the call's.
            if route.id != crate::http::routes::RouteId::ExecuteTool {
                charge_rate(state, &p).await?;
            }
            Some(p)
        }
    };

    // Handle (boxed: the management API's future is large and off the hot path).
    Box::pin(control::dispatch(
        state, route.id, params, req, principal, peer,
    ))
    .await
    .map(Phased::Answered)
}

/// The caller of an MCP endpoint: its key or token (none for an open namespace's
/// caller without credentials), checked, and allowed the namespace. `Ok(Err(_))`: the
/// client is challenged for an access token.
async fn mcp_caller(
    state: &Arc<State>,
    peer: IpAddr,
    req: &Request<Incoming>,
    namespace: Option<&str>,
    open: bool,
    trace: Option<&crate::observe::trace::RequestTrace>,
    outcome: &mut Outcome,
) -> Result<Result<Option<Principal>, Response<Body>>, ApiError> {
    // Each header is looked up only where its answer can change the outcome (a lookup
    // hashes the name): credentials matter to an open namespace, a bearer token's issuer
    // only when OAuth is configured.
    let has_credentials = || {
        req.headers().contains_key(header::AUTHORIZATION)
            || req.headers().contains_key(crate::auth::X_API_KEY)
    };
    if open && !has_credentials() {
        return Ok(Ok(None));
    }
    let oauth = state.oauth.as_deref();
    let token = oauth.and_then(|o| bearer(req.headers()).filter(|(t, _)| o.claims_issuer(t)));
    let p = match (oauth, token) {
        // Boxed: verifying a token may fetch the issuer's keys, a large future that would
        // otherwise be part of every request's (and be copied with it).
        (Some(o), Some((token, scheme))) => {
            match Box::pin(o.verify(token, &o.settings.resource(namespace))).await {
                Ok(id) if id.jkt.is_some() || scheme == Scheme::Dpop => {
                    // Boxed: a proof's check is 2 KB of future, which laid out here
                    // would be part (and copied with) every MCP request's.
                    let proof = Box::pin(proved(state, o, req, namespace, &id, scheme));
                    if let Err(refused) = proof.await {
                        state.observe.metrics.refused_login("dpop", peer);
                        return Ok(Err(refused));
                    }
                    Principal::from_oauth(id)
                }
                Ok(id) => Principal::from_oauth(id),
                Err(e) => {
                    state.observe.metrics.refused_login(e.reason(), peer);
                    return Ok(Err(challenged(o, namespace, Some(&e), Some(scheme))));
                }
            }
        }
        _ => match state.auth.authenticate(req.headers(), peer).await {
            Ok(p) => p,
            Err(e) => {
                state.observe.metrics.refused_login(e.reason(), peer);
                // An MCP client learns where to get a token.
                match (oauth, &e) {
                    (Some(o), crate::auth::AuthError::Missing) => {
                        return Ok(Err(challenged(o, namespace, None, None)));
                    }
                    (Some(o), crate::auth::AuthError::Invalid { reason }) => {
                        let e = crate::auth::oauth::OAuthError::Invalid(reason);
                        return Ok(Err(challenged(o, namespace, Some(&e), None)));
                    }
                    _ => return Err(e.into()),
                }
            }
        },
    };
    outcome.key_id = Some(p.key_id);
    if let (Some(t), Some(tr)) = (&state.observe.tracer, &trace)
        && p.via == crate::auth::Via::ApiKeyChecked
    {
        // The authentication step when it missed the cache (argon2 and the
        // database): from the request's start to now.
        t.record(crate::observe::trace::SpanData {
            ctx: tr.child(),
            parent: Some(tr.ctx.span_id),
            name: "authenticate",
            target: None,
            kind: crate::observe::trace::Kind::Internal,
            start: tr.start,
            end: std::time::SystemTime::now(),
            attributes: &[(
                "metamcp.key.id",
                crate::observe::trace::Value::Str(p.key_id.as_str()),
            )],
            error: None,
        });
    }
    if let Some(ns) = namespace
        && !p.may_use(ns)
    {
        return Err(ApiError::Forbidden(format!(
            "this key may not use namespace {ns:?}"
        )));
    }
    Ok(Ok(Some(p)))
}

/// A CORS preflight (or a plain `OPTIONS`): the methods the path takes.
fn preflight(path: &str, cors: bool) -> Result<Response<Body>, ApiError> {
    let allow =
        routes::methods_for(path).ok_or_else(|| ApiError::NotFound(format!("no route {path}")))?;
    let mut resp = empty(StatusCode::NO_CONTENT);
    if let Ok(v) = HeaderValue::from_str(&allow) {
        resp.headers_mut().insert(header::ALLOW, v.clone());
        if cors {
            let h = resp.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(CORS_ALLOW_HEADERS),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
    }
    Ok(resp)
}

/// Charges a REST request to its key's rate (MCP requests are charged per JSON-RPC
/// request, with the answer in JSON-RPC).
async fn charge_rate(state: &State, p: &Principal) -> Result<(), ApiError> {
    crate::mcp::admission::request(state, p)
        .await
        .map_err(crate::mcp::admission::over_limit)
}

/// Rejects a `Host` that is not an allowed name (ports are ignored).
fn check_host(state: &State, req: &Request<Incoming>) -> Result<(), ApiError> {
    let allowed = &state.config.allowed_hosts;
    if allowed.iter().any(|h| h == "*") {
        return Ok(());
    }
    let host = match req.uri().authority() {
        Some(a) => a.host(),
        None => match req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
        {
            Some(h) => strip_port(h),
            None => return Ok(()),
        },
    };
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(host)) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "host {host:?} is not allowed: the gateway answers only the names in \
             METAMCP_ALLOWED_HOSTS (DNS-rebinding protection); add this one there"
        )))
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// `None` without an `Origin`; `Some(Ok(origin))` when it is allowed, `Some(Err(()))`
/// when it is not. Allowed origins match by scheme and host, any port.
fn allowed_origin(state: &State, headers: &HeaderMap) -> Option<Result<HeaderValue, ()>> {
    let value = headers.get(header::ORIGIN)?;
    let allowed = &state.config.allowed_origins;
    let Ok(origin) = value.to_str() else {
        return Some(Err(()));
    };
    let without_port = match origin.rsplit_once(':') {
        Some((left, port)) if port.bytes().all(|b| b.is_ascii_digit()) && left.contains("//") => {
            left
        }
        _ => origin,
    };
    let ok = allowed.iter().any(|a| {
        a == "*" || a.eq_ignore_ascii_case(origin) || a.eq_ignore_ascii_case(without_port)
    });
    Some(if ok { Ok(value.clone()) } else { Err(()) })
}

/// Security headers, CORS, metrics and the request's log line.
fn record(
    state: &State,
    resp: &mut Response<Body>,
    origin: Option<Result<HeaderValue, ()>>,
    outcome: &Outcome,
    method: &Method,
    path: &str,
    start: Instant,
) {
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // Swagger UI's pages set their own.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if let Some(Ok(origin)) = origin {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(CORS_EXPOSE_HEADERS),
        );
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    let status = resp.status().as_u16();
    let elapsed = start.elapsed();
    state
        .observe
        .metrics
        .observe(outcome.route, outcome.method, status, elapsed.as_secs_f64());
    tracing::info!(
        method = %method,
        path,
        status,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        key_id = outcome.key_id.as_ref().map_or("-", KeyId::as_str),
        "request"
    );
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

/// Serves connections from `listener` until `shutdown` completes, then drains: `/ready`
/// answers 503 at once and new connections are still served for `drain_grace` (a
/// balancer needs a moment to notice), then accepting stops, event streams end, and
/// requests in flight have `drain_timeout` to finish.
pub async fn run(listener: TcpListener, state: Arc<State>, shutdown: impl Future<Output = ()>) {
    let mut backoff = Duration::from_millis(1);
    // One sweeper finds the connections idle past the limit, for all of them.
    let sweeper = tokio::spawn({
        let state = state.clone();
        let limit = state.config.header_timeout;
        async move {
            let mut tick = tokio::time::interval(crate::http::connections::sweep_interval(limit));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                state.data.connections.sweep(Instant::now(), limit);
            }
        }
    });
    let stop = {
        let state = state.clone();
        async move {
            shutdown.await;
            state.begin_drain();
            let grace = state.config.drain_grace;
            tracing::info!(
                grace_ms = grace.as_millis() as u64,
                "draining: /ready says 503; new connections served for the grace period"
            );
            tokio::time::sleep(grace).await;
        }
    };
    tokio::pin!(stop);
    'accept: loop {
        let (stream, peer): (_, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => {
                    backoff = Duration::from_millis(1);
                    a
                }
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let conn = loop {
            // Registered before admitting, so a close in between is not missed.
            let closed = state.data.connections.wait_for_close();
            match state.data.connections.admit(peer.ip()) {
                Ok(c) => {
                    state
                        .observe
                        .metrics
                        .connections_evicted
                        .store(state.data.connections.evictions(), Ordering::Relaxed);
                    break c;
                }
                Err(Refused::AddressFull) => {
                    state.observe.metrics.connection_refused();
                    tracing::debug!(%peer, "connection refused: this address holds its share");
                    continue 'accept;
                }
                // Every slot is busy: the new connection waits for one (more wait in
                // the listen backlog meanwhile).
                Err(Refused::Full) => tokio::select! {
                    () = closed => {}
                    () = &mut stop => break 'accept,
                },
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(state.clone(), stream, conn));
    }
    drop(listener);
    sweeper.abort();
    state.observe.events.close();
    state.data.connections.close_multiplexed();
    // HTTP/1.1 connections close after their next answer, or once quiet for
    // DRAIN_QUIET: a client that is about to send on one is never cut off mid-request.
    let quiet = crate::http::connections::DRAIN_QUIET;
    let drained = async {
        let mut tick = tokio::time::interval(crate::http::connections::sweep_interval(quiet));
        loop {
            let closed = state.data.connections.wait_for_close();
            if state.data.connections.open() == 0 {
                break;
            }
            tokio::select! {
                () = closed => {}
                _ = tick.tick() => state.data.connections.sweep(Instant::now(), quiet),
            }
        }
    };
    let timeout = state.config.drain_timeout;
    tracing::info!(
        open = state.data.connections.open(),
        timeout_ms = timeout.as_millis() as u64,
        "draining: no new connections; waiting for requests in flight"
    );
    if tokio::time::timeout(timeout, drained).await.is_err() {
        tracing::warn!(
            open = state.data.connections.open(),
            "drain timeout passed with requests still in flight"
        );
    }
}

/// Which protocol a connection speaks, from its first bytes (left in the socket).
#[derive(Debug, PartialEq)]
enum Protocol {
    Http1,
    Http2,
}

/// How often a connection that has sent only `P` or `PR` is looked at again.
const SNIFF_AGAIN: Duration = Duration::from_millis(5);

/// Peeks at the first bytes: HTTP/2 with prior knowledge opens with `PRI`, which no
/// HTTP/1.1 request line does. Deciding here serves a connection with the protocol's
/// own connection type, without a detection layer on every read and its memory. A
/// client that stops after `P` or `PR` is looked at again until it says more (the
/// caller bounds the wait with the idle limit); `None` when it closes before a byte.
async fn sniff(stream: &tokio::net::TcpStream) -> Option<Protocol> {
    let mut first = [0u8; 3];
    loop {
        match stream.peek(&mut first).await {
            Ok(3) if &first == b"PRI" => return Some(Protocol::Http2),
            Ok(3) => return Some(Protocol::Http1),
            Ok(n) if n > 0 && !b"PRI".starts_with(&first[..n]) => return Some(Protocol::Http1),
            Ok(0) | Err(_) => return None,
            // The bytes so far stay readable, so waiting for readiness would not wait.
            Ok(_) => tokio::time::sleep(SNIFF_AGAIN).await,
        }
    }
}

/// Serves one connection, HTTP/1.1 or HTTP/2, until it ends or is asked to close (idle
/// past the limit, making room for another, shutdown); then it closes gracefully within
/// a grace period (a peer that never acknowledges HTTP/2's GOAWAY would otherwise hold
/// it open).
async fn serve_connection(state: Arc<State>, stream: tokio::net::TcpStream, conn: Arc<Conn>) {
    state
        .observe
        .metrics
        .connections_open
        .fetch_add(1, Ordering::Relaxed);
    state
        .observe
        .metrics
        .connections_total
        .fetch_add(1, Ordering::Relaxed);
    // A connection that never says anything is closed when asked (the sweeper asks).
    let protocol = tokio::select! {
        p = sniff(&stream) => p,
        _ = std::future::poll_fn(|cx| conn.poll_closing(cx)) => None,
    };
    if let Some(protocol) = protocol {
        if protocol == Protocol::Http2 {
            conn.set_multiplexed();
        }
        serve_protocol(&state, stream, &conn, protocol).await;
    }
    state
        .observe
        .metrics
        .connections_open
        .fetch_sub(1, Ordering::Relaxed);
    state.data.connections.release(&conn);
}

async fn serve_protocol(
    state: &Arc<State>,
    stream: tokio::net::TcpStream,
    conn: &Arc<Conn>,
    protocol: Protocol,
) {
    let idle_limit = state.config.header_timeout;
    let max_head = state.config.max_header_bytes;
    let service = Gateway {
        state: state.clone(),
        conn: conn.clone(),
    };
    let io = TokioIo::new(stream);
    match protocol {
        Protocol::Http1 => {
            let mut b = hyper::server::conn::http1::Builder::new();
            b.timer(TokioTimer::new())
                .header_read_timeout(idle_limit)
                // The head's bound in bytes (431 beyond); the read buffer is at least as
                // large, so the bound, not the buffer, decides.
                .max_header_size(max_head)
                .max_buf_size(max_head.max(READ_BUFFER))
                .max_headers(MAX_HEADERS);
            drive(b.serve_connection(io, service), conn, idle_limit, state).await;
        }
        Protocol::Http2 => {
            let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
            b.timer(TokioTimer::new())
                .max_header_list_size(u32::try_from(max_head).unwrap_or(u32::MAX))
                .max_concurrent_streams(256)
                .keep_alive_interval(Some(Duration::from_secs(30)));
            drive(b.serve_connection(io, service), conn, idle_limit, state).await;
        }
    }
}

/// Drives a connection: its own future first, then the close flag (an atomic load);
/// asked to close, it shuts down gracefully within the grace period.
async fn drive<C>(served: C, conn: &Conn, idle_limit: Duration, state: &State)
where
    C: hyper_util::server::graceful::GracefulConnection,
    C::Error: std::fmt::Display,
{
    tokio::pin!(served);
    let asked = std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = served.as_mut().poll(cx) {
            return Poll::Ready(Err(r));
        }
        conn.poll_closing(cx).map(Ok)
    })
    .await;
    match asked {
        Err(r) => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        Ok(why) => {
            served.as_mut().graceful_shutdown();
            let grace = match why {
                Close::Idle => idle_limit,
                Close::Shutdown => state.config.drain_timeout,
            };
            match tokio::time::timeout(grace, served.as_mut()).await {
                Ok(Err(e)) => tracing::debug!(error = %e, "connection ended with an error"),
                Ok(Ok(())) => {}
                Err(_) => {
                    tracing::debug!(peer = %conn.peer(), "connection did not close in time; dropped")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first bytes a client sends, as the gateway sees them.
    async fn sniffed(first: &[u8]) -> Option<Protocol> {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.write_all(first).await.unwrap();
        let p = sniff(&server).await;
        // The bytes stay in the socket for the protocol's own parser.
        let mut again = vec![0; first.len()];
        let mut seen = 0;
        while seen < first.len() {
            seen = server.peek(&mut again).await.unwrap();
        }
        assert_eq!(again, first);
        p
    }

    #[tokio::test]
    async fn the_protocol_is_told_from_the_first_bytes() {
        assert_eq!(
            sniffed(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await,
            Some(Protocol::Http2)
        );
        assert_eq!(
            sniffed(b"POST /mcp HTTP/1.1\r\n").await,
            Some(Protocol::Http1)
        );
        assert_eq!(sniffed(b"GET").await, Some(Protocol::Http1));
        assert_eq!(sniffed(b"G").await, Some(Protocol::Http1));
        assert_eq!(sniffed(b"PU").await, Some(Protocol::Http1));
    }

    #[tokio::test]
    async fn a_protocol_told_late_is_still_told() {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        for (first, rest, want) in [
            (&b"P"[..], &b"RI * HTTP/2.0"[..], Some(Protocol::Http2)),
            (b"PR", b"I", Some(Protocol::Http2)),
            (b"P", b"OST /mcp HTTP/1.1", Some(Protocol::Http1)),
        ] {
            let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            client.write_all(first).await.unwrap();
            let told = tokio::spawn(async move { sniff(&server).await });
            tokio::task::yield_now().await;
            client.write_all(rest).await.unwrap();
            assert_eq!(told.await.unwrap(), want, "{first:?} then {rest:?}");
        }
    }

    #[test]
    fn ports_are_stripped_from_hosts() {
        assert_eq!(strip_port("localhost:8080"), "localhost");
        assert_eq!(strip_port("[::1]:8080"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
        assert_eq!(strip_port("example.test"), "example.test");
    }
}
