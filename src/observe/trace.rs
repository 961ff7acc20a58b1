//! OpenTelemetry traces: W3C trace context in and out, the sampling decision, and spans
//! exported as OTLP/HTTP protobuf in batches by one task from a bounded queue.
//!
//! The protobuf is written by hand (a span is a few dozen fields of
//! `opentelemetry/proto/trace/v1/trace.proto`): no SDK, no code generator, no allocation
//! per field. Nothing here runs unless an OTLP endpoint is configured; a request that is
//! not sampled costs a random span id and a header.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use tokio::sync::Notify;

use super::batches::{Batches, Pushed};
use crate::config::{Root, Sampler, Tracing};

/// A span's place in a trace, as `traceparent` carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanContext {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub sampled: bool,
}

impl SpanContext {
    /// Parses a W3C `traceparent` (version 00, or a later version's first four fields).
    pub fn parse(header: &str) -> Option<SpanContext> {
        let h = header.trim().as_bytes();
        if h.len() < 55 || (h.len() > 55 && h[55] != b'-') {
            return None;
        }
        let version = hex::<1>(&h[0..2])?[0];
        if version == 0xff || (version == 0 && h.len() != 55) {
            return None;
        }
        if h[2] != b'-' || h[35] != b'-' || h[52] != b'-' {
            return None;
        }
        let trace_id = hex::<16>(&h[3..35])?;
        let span_id = hex::<8>(&h[36..52])?;
        let flags = hex::<1>(&h[53..55])?[0];
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(SpanContext {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    /// `00-<trace id>-<span id>-<flags>`, written without allocating.
    pub fn traceparent(&self) -> Traceparent {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = *b"00-00000000000000000000000000000000-0000000000000000-00";
        for (i, b) in self.trace_id.iter().enumerate() {
            out[3 + 2 * i] = HEX[usize::from(b >> 4)];
            out[4 + 2 * i] = HEX[usize::from(b & 15)];
        }
        for (i, b) in self.span_id.iter().enumerate() {
            out[36 + 2 * i] = HEX[usize::from(b >> 4)];
            out[37 + 2 * i] = HEX[usize::from(b & 15)];
        }
        if self.sampled {
            out[54] = b'1';
        }
        Traceparent(out)
    }
}

/// A `traceparent` value (55 ASCII bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traceparent([u8; 55]);

impl Traceparent {
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits and dashes are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The same, as bytes (no check): for header lines written as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Lowercase hex of exactly `N` bytes (W3C's only form: anything else is not a context).
fn hex<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// A `tracestate` worth passing on: printable ASCII, at most 512 bytes (W3C's limit).
pub fn valid_tracestate(s: &str) -> bool {
    s.len() <= 512 && s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

thread_local! {
    /// wyrand state, seeded from the operating system once per thread: trace and span
    /// ids must be unique and unpredictable enough to sample on, not secret, and a
    /// system call per id would cost more than the rest of an unsampled request.
    static IDS: std::cell::Cell<u64> = std::cell::Cell::new({
        let mut seed = [0u8; 8];
        crate::crypto::random_bytes(&mut seed);
        u64::from_le_bytes(seed)
    });
}

fn next_u64() -> u64 {
    IDS.with(|state| {
        let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) ^ t) as u64
    })
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    for chunk in b.chunks_mut(8) {
        let r = next_u64().to_le_bytes();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
    if b == [0; N] {
        b[N - 1] = 1;
    }
    b
}

/// The trace of one request: its server span's context, its parent's span id, and the
/// caller's `tracestate`.
#[derive(Debug, Clone)]
pub struct RequestTrace {
    pub ctx: SpanContext,
    pub parent: Option<[u8; 8]>,
    pub tracestate: Option<Box<str>>,
    pub start: SystemTime,
}

impl RequestTrace {
    /// A child of this request's span (a client span, the authentication step).
    pub fn child(&self) -> SpanContext {
        SpanContext {
            span_id: random(),
            ..self.ctx
        }
    }
}

/// The trace context a call carries upstream: the client span's `traceparent` and the
/// caller's `tracestate`.
#[derive(Debug, Clone)]
pub struct Propagation {
    pub traceparent: Traceparent,
    pub tracestate: Option<Box<str>>,
}

impl Propagation {
    /// `lines` followed by these headers' lines (each ending in CRLF), in one buffer.
    pub fn after_lines(&self, lines: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(lines.len() + 80);
        out.extend_from_slice(lines);
        out.extend_from_slice(b"traceparent: ");
        out.extend_from_slice(self.traceparent.as_bytes());
        out.extend_from_slice(b"\r\n");
        if let Some(s) = &self.tracestate {
            out.extend_from_slice(b"tracestate: ");
            out.extend_from_slice(s.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// Sets the headers on a request.
    pub fn apply(&self, headers: &mut hyper::HeaderMap) {
        if let Ok(v) = hyper::header::HeaderValue::from_str(self.traceparent.as_str()) {
            headers.insert("traceparent", v);
        }
        if let Some(v) = self
            .tracestate
            .as_deref()
            .and_then(|s| hyper::header::HeaderValue::from_str(s).ok())
        {
            headers.insert("tracestate", v);
        }
    }

    /// The request with `params._meta.traceparent` (and `tracestate`) set, the way MCP
    /// SDKs carry trace context over stdio; an existing value is replaced.
    pub fn in_meta(&self, body: &Bytes) -> Bytes {
        use crate::jsonrpc::frame;
        let Ok(f) = frame::parse(body) else {
            return body.clone();
        };
        let mut members = Vec::with_capacity(128);
        members.extend_from_slice(b"\"traceparent\":");
        members.extend_from_slice(&frame::json_string(self.traceparent.as_str()));
        if let Some(s) = &self.tracestate {
            members.extend_from_slice(b",\"tracestate\":");
            members.extend_from_slice(&frame::json_string(s));
        }
        // Replace existing values in place, then add what is missing.
        if let Some(meta) = f.meta.filter(|m| body.get(m.start) == Some(&b'{')) {
            let mut reps: Vec<(frame::Span, &[u8])> = Vec::new();
            let tp = frame::json_string(self.traceparent.as_str());
            let ts = self
                .tracestate
                .as_deref()
                .map(frame::json_string)
                .unwrap_or_default();
            let mut add = Vec::new();
            match f.meta_traceparent {
                Some(span) => reps.push((span, &tp)),
                None => {
                    add.extend_from_slice(b"\"traceparent\":");
                    add.extend_from_slice(&frame::json_string(self.traceparent.as_str()));
                }
            }
            if let Some(s) = &self.tracestate {
                match f.meta_tracestate {
                    Some(span) => reps.push((span, &ts)),
                    None => {
                        if !add.is_empty() {
                            add.push(b',');
                        }
                        add.extend_from_slice(b"\"tracestate\":");
                        add.extend_from_slice(&frame::json_string(s));
                    }
                }
            }
            if !add.is_empty() && !frame::opens_empty(body, meta.start) {
                add.push(b',');
            }
            let at = frame::Span {
                start: meta.start + 1,
                end: meta.start + 1,
            };
            if !add.is_empty() {
                reps.push((at, &add));
            }
            reps.sort_by_key(|(s, _)| s.start);
            return frame::splice(body, &mut reps);
        }
        frame::add_to_meta(body, &f, &members)
    }
}

/// An attribute value, borrowed: a span is encoded when it is recorded.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Str(&'a str),
    Int(i64),
}

/// A span's attributes, on the stack (beyond [`MAX_ATTRIBUTES`] more are ignored).
#[derive(Debug, Clone, Copy)]
pub struct Attrs<'a> {
    items: [(&'static str, Value<'a>); MAX_ATTRIBUTES],
    n: usize,
}

impl Default for Attrs<'_> {
    fn default() -> Self {
        Attrs {
            items: [("", Value::Int(0)); MAX_ATTRIBUTES],
            n: 0,
        }
    }
}

impl<'a> Attrs<'a> {
    pub fn push(&mut self, key: &'static str, value: Value<'a>) {
        if let Some(slot) = self.items.get_mut(self.n) {
            *slot = (key, value);
            self.n += 1;
        }
    }

    pub fn str(&mut self, key: &'static str, value: &'a str) {
        self.push(key, Value::Str(value));
    }

    pub fn as_slice(&self) -> &[(&'static str, Value<'a>)] {
        &self.items[..self.n]
    }
}

/// Longest attribute value or status message kept, in bytes (longer ones are cut at a
/// character boundary): a client's long tool name or session id cannot make the queue
/// hold more than `queue` spans of a few kilobytes.
const VALUE_LIMIT: usize = 512;

fn limited(s: &str) -> &str {
    super::cut(s, VALUE_LIMIT)
}

/// What a span is in its trace (OTLP's `SpanKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Internal = 1,
    Server = 2,
    Client = 3,
}

/// A finished span, handed to `Tracer::record` (which encodes it at once).
#[derive(Debug, Clone)]
pub struct SpanData<'a> {
    pub ctx: SpanContext,
    pub parent: Option<[u8; 8]>,
    pub name: &'a str,
    /// What the operation acted on, written after the name and a space (`tools/call
    /// get_weather`, as the semantic conventions name spans): no string is formatted for it.
    pub target: Option<&'a str>,
    pub kind: Kind,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: &'a [(&'static str, Value<'a>)],
    /// Set: the span's status is an error with this message.
    pub error: Option<&'a str>,
}

/// The tracer: sampling, and the bounded queue the exporter drains (whole `Span`
/// messages, field 2 of `ScopeSpans`, back to back, at most `batch` per buffer).
pub struct Tracer {
    config: Tracing,
    head: Head,
    queue: Mutex<Batches>,
    wake: Notify,
    exported: AtomicU64,
    dropped_full: AtomicU64,
    dropped_export: AtomicU64,
    logged: AtomicU64,
}

impl Tracer {
    pub fn new(config: Tracing) -> Tracer {
        let head = Head::new(&config);
        Tracer {
            queue: Mutex::new(Batches::with_prefix(head.room())),
            head,
            config,
            wake: Notify::new(),
            exported: AtomicU64::new(0),
            dropped_full: AtomicU64::new(0),
            dropped_export: AtomicU64::new(0),
            logged: AtomicU64::new(0),
        }
    }

    /// The trace a request with these headers' values (`traceparent`, `tracestate`)
    /// belongs to, with the sampling decision made.
    pub fn start(&self, traceparent: Option<&str>, tracestate: Option<&str>) -> RequestTrace {
        let parent = traceparent.and_then(SpanContext::parse);
        let trace_id = parent.map_or_else(random, |p| p.trace_id);
        let root = |r: Root| match r {
            Root::AlwaysOn => true,
            Root::AlwaysOff => false,
            Root::Ratio(x) => ratio_says(x, &trace_id),
        };
        let sampled = match self.config.sampler {
            Sampler::AlwaysOn => true,
            Sampler::AlwaysOff => false,
            Sampler::Ratio(x) => ratio_says(x, &trace_id),
            Sampler::ParentBased(r) => parent.map_or_else(|| root(r), |p| p.sampled),
        };
        RequestTrace {
            ctx: SpanContext {
                trace_id,
                span_id: random(),
                sampled,
            },
            parent: parent.map(|p| p.span_id),
            tracestate: parent
                .and(tracestate)
                .filter(|s| valid_tracestate(s))
                .map(Box::from),
            start: SystemTime::now(),
        }
    }

    /// The trace of a request with these headers (its `traceparent` and `tracestate`).
    pub fn start_for(&self, headers: &hyper::HeaderMap) -> RequestTrace {
        // Names parsed once, not per request.
        const TRACEPARENT: hyper::header::HeaderName =
            hyper::header::HeaderName::from_static("traceparent");
        const TRACESTATE: hyper::header::HeaderName =
            hyper::header::HeaderName::from_static("tracestate");
        let get = |n: &hyper::header::HeaderName| headers.get(n).and_then(|v| v.to_str().ok());
        // `tracestate` means nothing without a `traceparent`: not looked up then.
        let parent = get(&TRACEPARENT);
        self.start(parent, parent.and_then(|_| get(&TRACESTATE)))
    }

    /// Encodes a finished span into the queue, while its data is still in the cache
    /// (nothing of it is kept but bytes); a full queue drops it (counted).
    pub fn record(&self, span: SpanData<'_>) {
        if !span.ctx.sampled {
            return;
        }
        let pushed = self
            .lock()
            .push(self.config.queue, self.config.batch, |out| {
                append_span(out, &span)
            });
        match pushed {
            Pushed::Queued(true) => self.wake.notify_one(),
            Pushed::Queued(false) | Pushed::Refused => {}
            Pushed::Full => {
                self.dropped_full.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Batches> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn exported(&self) -> u64 {
        self.exported.load(Ordering::Relaxed)
    }

    /// Spans dropped because the queue was full, and because their export failed.
    pub fn dropped(&self) -> (u64, u64) {
        (
            self.dropped_full.load(Ordering::Relaxed),
            self.dropped_export.load(Ordering::Relaxed),
        )
    }

    pub fn queued(&self) -> usize {
        self.lock().len()
    }

    /// Exports batches while the tracer lives: every `delay`, or at once when a batch is
    /// full. A failed export drops its spans (counted; logged once a minute).
    pub async fn run(tracer: std::sync::Weak<Tracer>) {
        let Some(t) = tracer.upgrade() else { return };
        let delay = t.config.delay;
        drop(t);
        let mut exporter = Exporter::default();
        loop {
            {
                let Some(t) = tracer.upgrade() else { return };
                tokio::select! {
                    () = t.wake.notified() => {}
                    () = tokio::time::sleep(delay) => {}
                }
            }
            let Some(t) = tracer.upgrade() else { return };
            // Everything queued, the batch still being filled included: measured on a
            // saturated gateway, exporting only full batches (512 spans, ~180 kB each)
            // cost it 8 % more CPU per call than prompt small ones, whose buffers stay in
            // cache; the collector's cost is the other way round.
            t.export_with(&mut exporter).await;
        }
    }

    /// Exports everything queued now, a batch at a time (at shutdown).
    pub async fn export_queued(&self) {
        self.export_with(&mut Exporter::default()).await;
    }

    async fn export_with(&self, exporter: &mut Exporter) {
        loop {
            let Some(mut batch) = self.lock().take() else {
                return;
            };
            // The request's head goes in the room left before the spans: they are sent
            // from where they were encoded, never copied.
            let start = self.head.write_before(&mut batch.bytes);
            let whole = Bytes::from(std::mem::take(&mut batch.bytes));
            let body = whole.slice(start.min(whole.len())..);
            let sent =
                tokio::time::timeout(self.config.timeout, exporter.post(&self.config, body)).await;
            // The buffer comes back for a later batch once hyper is done with it.
            batch.bytes = whole.try_into_mut().map(Vec::from).unwrap_or_default();
            let n = batch.records as u64;
            self.lock().done(batch);
            match sent {
                Ok(Ok(())) => {
                    self.exported.fetch_add(n, Ordering::Relaxed);
                }
                failed => {
                    // The connection may be mid-exchange: never reuse it.
                    exporter.conn = None;
                    let dropped = self.dropped_export.fetch_add(n, Ordering::Relaxed) + n;
                    if once_a_minute(&self.logged) {
                        let why = match failed {
                            Ok(Err(e)) => e,
                            _ => format!("no answer within {:?}", self.config.timeout),
                        };
                        tracing::warn!(
                            collector = %self.config.authority,
                            error = %why,
                            dropped,
                            "could not export spans; dropping them"
                        );
                    }
                    return;
                }
            }
        }
    }
}

fn once_a_minute(last: &AtomicU64) -> bool {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let before = last.load(Ordering::Relaxed);
    (before == 0 || now >= before + 60)
        && last
            .compare_exchange(before, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// The trace id's ratio rule: its last 8 bytes, as a number, below `ratio` of the range.
fn ratio_says(ratio: f64, trace_id: &[u8; 16]) -> bool {
    let mut last = [0u8; 8];
    last.copy_from_slice(&trace_id[8..]);
    let x = u64::from_be_bytes(last) >> 1;
    (x as f64) < ratio * (1u64 << 63) as f64
}

type Collector = hyper::client::conn::http1::SendRequest<http_body_util::Full<Bytes>>;

/// The exporter's state between batches: the spans being sent, the buffer they are
/// encoded into and the connection to the collector, all reused (a batch allocates
/// nothing once they have grown to size).
#[derive(Default)]
struct Exporter {
    conn: Option<Collector>,
}

impl Exporter {
    /// POSTs `body` to the collector over the kept connection, or a new one. A kept
    /// connection the collector has closed meanwhile gets one retry on a new one.
    async fn post(&mut self, config: &Tracing, body: Bytes) -> Result<(), String> {
        match self.conn.take() {
            Some(conn) if !conn.is_closed() => match send(conn, config, body.clone()).await {
                Err(Stale) => self.post_fresh(config, body).await,
                Ok(r) => r.map(|c| self.conn = c),
            },
            _ => self.post_fresh(config, body).await,
        }
    }

    async fn post_fresh(&mut self, config: &Tracing, body: Bytes) -> Result<(), String> {
        let stream = tokio::net::TcpStream::connect(&config.authority)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (conn, driver) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(driver);
        match send(conn, config, body).await {
            Err(Stale) => Err("the collector closed the connection".into()),
            Ok(r) => r.map(|c| self.conn = c),
        }
    }
}

/// The request never reached the collector (a kept connection it had closed).
struct Stale;

/// One POST; `Ok(Ok(conn))` gives back the connection when it may be kept.
async fn send(
    mut conn: Collector,
    config: &Tracing,
    body: Bytes,
) -> Result<Result<Option<Collector>, String>, Stale> {
    use http_body_util::BodyExt;
    if conn.ready().await.is_err() {
        return Err(Stale);
    }
    let mut req = hyper::Request::post(config.path.as_str())
        .header(hyper::header::HOST, config.authority.as_str())
        .header(hyper::header::CONTENT_TYPE, "application/x-protobuf");
    for (k, v) in &config.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = match req.body(http_body_util::Full::new(body)) {
        Ok(r) => r,
        Err(e) => return Ok(Err(format!("request: {e}"))),
    };
    let resp = match conn.send_request(req).await {
        Ok(r) => r,
        Err(e) if e.is_canceled() || e.is_incomplete_message() => return Err(Stale),
        Err(e) => return Ok(Err(format!("send: {e}"))),
    };
    let status = resp.status();
    // Read (and bound) the answer so the connection can carry the next batch.
    let whole = http_body_util::Limited::new(resp.into_body(), 64 << 10)
        .collect()
        .await
        .is_ok();
    Ok(if status.is_success() {
        Ok(whole.then_some(conn))
    } else {
        Err(format!("the collector answered {status}"))
    })
}

// --- OTLP protobuf (opentelemetry/proto/collector/trace/v1 and trace/v1) ---

#[inline(always)]
fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn tag(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn bytes_field(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    tag(out, field, 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A length-delimited sub-message written by `f`, in place: the body is written after
/// the tag, then moved up by its length's size once that is known (no buffer of its own).
fn message(out: &mut Vec<u8>, field: u32, f: impl FnOnce(&mut Vec<u8>)) {
    tag(out, field, 2);
    let at = out.len();
    f(out);
    insert_length(out, at);
}

/// Puts the length of `out[at..]`, as a varint, in front of it (moving it up).
fn insert_length(out: &mut Vec<u8>, at: usize) {
    let mut prefix = [0u8; 10];
    let mut n = 0;
    let mut v = (out.len() - at) as u64;
    while v >= 0x80 {
        prefix[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    prefix[n] = v as u8;
    n += 1;
    out.splice(at..at, prefix[..n].iter().copied());
}

#[inline(always)]
fn varint_len(v: u64) -> usize {
    // Lengths and small ints first: a compare, not a bit scan and a division.
    if v < 0x80 {
        1
    } else if v < 0x4000 {
        2
    } else {
        (64 - v.leading_zeros() as usize).div_ceil(7)
    }
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// An `ExportTraceServiceRequest` with one resource and one scope.
#[cfg(test)]
pub fn encode(config: &Tracing, spans: &[SpanData<'_>]) -> Vec<u8> {
    let head = Head::new(config);
    let mut out = vec![0; head.room()];
    for s in spans {
        append_span(&mut out, s);
    }
    let start = head.write_before(&mut out);
    out.split_off(start)
}

/// What every export request has before its spans: the `Resource` (field 1 of
/// `ResourceSpans`) and the `InstrumentationScope` (field 1 of `ScopeSpans`), each with its
/// tag and length. Encoded once, when the tracer is made.
#[derive(Debug)]
struct Head {
    resource: Vec<u8>,
    scope: Vec<u8>,
}

impl Head {
    fn new(config: &Tracing) -> Head {
        let mut resource = Vec::new();
        message(&mut resource, 1, |r| {
            put_attribute(
                r,
                RESOURCE_ATTRIBUTE,
                b"service.name",
                &Value::Str(&config.service_name),
            );
            put_attribute(
                r,
                RESOURCE_ATTRIBUTE,
                b"service.version",
                &Value::Str(env!("CARGO_PKG_VERSION")),
            );
            for (k, v) in &config.resource {
                put_attribute(r, RESOURCE_ATTRIBUTE, k.as_bytes(), &Value::Str(v));
            }
        });
        let mut scope = Vec::new();
        message(&mut scope, 1, |s| {
            bytes_field(s, 1, b"metamcp");
            bytes_field(s, 2, env!("CARGO_PKG_VERSION").as_bytes());
        });
        Head { resource, scope }
    }

    /// The bytes a batch leaves before its spans for [`Head::write_before`]: the resource
    /// and the scope, and two tags and lengths (a varint is at most 10 bytes).
    fn room(&self) -> usize {
        self.resource.len() + self.scope.len() + 2 * 11
    }

    /// Makes `buf` (`room()` bytes, then encoded spans) an `ExportTraceServiceRequest` by
    /// writing its head just before the spans; returns where the request starts.
    fn write_before(&self, buf: &mut [u8]) -> usize {
        let room = self.room();
        let scope_spans = self.scope.len() + buf.len().saturating_sub(room);
        let resource_spans = self.resource.len() + delimited(scope_spans);
        let mut head = Vec::with_capacity(room);
        tag(&mut head, 1, 2);
        varint(&mut head, resource_spans as u64);
        head.extend_from_slice(&self.resource);
        tag(&mut head, 2, 2);
        varint(&mut head, scope_spans as u64);
        head.extend_from_slice(&self.scope);
        let start = room.saturating_sub(head.len());
        if let Some(place) = buf.get_mut(start..room) {
            place.copy_from_slice(&head);
        }
        start
    }
}

/// Tags of the `Span` fields written (field number << 3 | wire type).
mod tags {
    pub const TRACE_ID: u8 = 1 << 3 | 2;
    pub const SPAN_ID: u8 = 2 << 3 | 2;
    pub const PARENT_SPAN_ID: u8 = 4 << 3 | 2;
    pub const NAME: u8 = 5 << 3 | 2;
    pub const KIND: u8 = 6 << 3;
    pub const START: u8 = 7 << 3 | 1;
    pub const END: u8 = 8 << 3 | 1;
    pub const ATTRIBUTE: u8 = 9 << 3 | 2;
    pub const STATUS: u8 = 15 << 3 | 2;
    /// `ScopeSpans.spans`.
    pub const SPANS: u8 = 2 << 3 | 2;
    /// In `KeyValue` and `AnyValue`.
    pub const KEY: u8 = 1 << 3 | 2;
    pub const VALUE: u8 = 2 << 3 | 2;
    pub const STRING: u8 = 1 << 3 | 2;
    pub const INT: u8 = 3 << 3;
    /// In `Status`.
    pub const MESSAGE: u8 = 2 << 3 | 2;
    pub const CODE: u8 = 3 << 3;
}

/// A delimited field's size: its one-byte tag, its length, its bytes.
fn delimited(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// The most attributes a span carries (as [`Attrs`] holds); beyond, they are not written.
const MAX_ATTRIBUTES: usize = 16;

/// Longest attribute key written, in bytes (keys are the gateway's own constants; a
/// longer one is skipped): with [`VALUE_LIMIT`] and [`MAX_ATTRIBUTES`] it bounds a span
/// below [`SPAN_LIMIT`].
const KEY_LIMIT: usize = 64;

/// A span's encoded size is below this (checked in the tests), so its length is a
/// varint of at most two bytes, for which room is left before the span is written.
const SPAN_LIMIT: usize = 1 << 14;

/// The name field's text, in parts: the name, and the target after a space, cut so that
/// the whole is at most `VALUE_LIMIT` bytes.
fn name_parts<'a>(s: &SpanData<'a>) -> (&'a str, Option<&'a str>) {
    let name = limited(s.name);
    let target = s.target.map(|t| {
        let room = VALUE_LIMIT.saturating_sub(name.len() + 1);
        super::cut(t, room)
    });
    (name, target.filter(|_| name.len() < VALUE_LIMIT))
}

/// A length-delimited field whose tag fits one byte (field numbers up to 15).
#[inline(always)]
fn len_field(out: &mut Vec<u8>, tag: u8, b: &[u8]) {
    if b.len() < 0x80 {
        out.extend_from_slice(&[tag, b.len() as u8]);
    } else {
        out.push(tag);
        varint(out, b.len() as u64);
    }
    out.extend_from_slice(b);
}

/// `Resource.attributes`: field 1, length-delimited.
const RESOURCE_ATTRIBUTE: u8 = 1 << 3 | 2;

/// An attribute (`KeyValue`) under `tag`: field 9 of `Span`, or [`RESOURCE_ATTRIBUTE`].
/// Its sizes are known from the key's and the value's lengths, so it is written in one pass; in the common case (a key and a
/// value under 128 bytes together) its headers are two four-byte stores.
#[inline(always)]
fn put_attribute(out: &mut Vec<u8>, tag: u8, key: &[u8], value: &Value<'_>) {
    match value {
        Value::Str(s) => {
            let text = limited(s).as_bytes();
            let any = delimited(text.len());
            let kv = delimited(key.len()) + delimited(any);
            if kv < 0x80 {
                out.extend_from_slice(&[tag, kv as u8, tags::KEY, key.len() as u8]);
                out.extend_from_slice(key);
                out.extend_from_slice(&[tags::VALUE, any as u8, tags::STRING, text.len() as u8]);
                out.extend_from_slice(text);
            } else {
                out.push(tag);
                varint(out, kv as u64);
                len_field(out, tags::KEY, key);
                out.push(tags::VALUE);
                varint(out, any as u64);
                len_field(out, tags::STRING, text);
            }
        }
        Value::Int(i) => {
            let any = 1 + varint_len(*i as u64);
            let kv = delimited(key.len()) + delimited(any);
            out.push(tag);
            varint(out, kv as u64);
            len_field(out, tags::KEY, key);
            out.extend_from_slice(&[tags::VALUE, any as u8, tags::INT]);
            varint(out, *i as u64);
        }
    }
}

/// Appends a span as a whole `Span` message (field 2 of `ScopeSpans`), in one pass: the
/// fields are written after room for a two-byte length, which is filled in at the end
/// (and closed up when the span is short enough for one byte). False (and nothing
/// appended) for a span of [`SPAN_LIMIT`] bytes or more, which the limits rule out.
fn append_span(out: &mut Vec<u8>, s: &SpanData<'_>) -> bool {
    let start = out.len();
    out.reserve(256);
    out.extend_from_slice(&[tags::SPANS, 0, 0, tags::TRACE_ID, 16]);
    out.extend_from_slice(&s.ctx.trace_id);
    out.extend_from_slice(&[tags::SPAN_ID, 8]);
    out.extend_from_slice(&s.ctx.span_id);
    if let Some(p) = &s.parent {
        out.extend_from_slice(&[tags::PARENT_SPAN_ID, 8]);
        out.extend_from_slice(p);
    }
    let (name, target) = name_parts(s);
    let name_len = name.len() + target.map_or(0, |t| 1 + t.len());
    if name_len < 0x80 {
        out.extend_from_slice(&[tags::NAME, name_len as u8]);
    } else {
        out.push(tags::NAME);
        varint(out, name_len as u64);
    }
    out.extend_from_slice(name.as_bytes());
    if let Some(t) = target {
        out.push(b' ');
        out.extend_from_slice(t.as_bytes());
    }
    let begin = unix_nanos(s.start);
    let mut times = [0u8; 20];
    times[..3].copy_from_slice(&[tags::KIND, s.kind as u8, tags::START]);
    times[3..11].copy_from_slice(&begin.to_le_bytes());
    times[11] = tags::END;
    times[12..].copy_from_slice(&unix_nanos(s.end).max(begin).to_le_bytes());
    out.extend_from_slice(&times);
    for (k, v) in s.attributes.iter().take(MAX_ATTRIBUTES) {
        if k.len() <= KEY_LIMIT {
            put_attribute(out, tags::ATTRIBUTE, k.as_bytes(), v);
        }
    }
    // Status: code 2 (error) with its message, else unset.
    if let Some(e) = s.error {
        let message = limited(e).as_bytes();
        out.push(tags::STATUS);
        varint(out, (delimited(message.len()) + 2) as u64);
        len_field(out, tags::MESSAGE, message);
        out.extend_from_slice(&[tags::CODE, 2]);
    }
    let len = out.len() - start - 3;
    if len >= SPAN_LIMIT {
        out.truncate(start);
        return false;
    }
    if len < 0x80 {
        out[start + 1] = len as u8;
        out.remove(start + 2);
    } else {
        out[start + 1] = (len as u8) | 0x80;
        out[start + 2] = (len >> 7) as u8;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn config(sampler: Sampler) -> Tracing {
        Tracing {
            authority: "127.0.0.1:1".into(),
            path: "/v1/traces".into(),
            headers: vec![],
            service_name: "metamcp".into(),
            resource: vec![],
            sampler,
            queue: 2,
            batch: 2,
            delay: Duration::from_millis(10),
            timeout: Duration::from_millis(100),
        }
    }

    const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn traceparent_is_parsed_and_written_back() {
        let c = SpanContext::parse(PARENT).unwrap();
        assert!(c.sampled);
        assert_eq!(c.traceparent().as_str(), PARENT);
        for bad in [
            "",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
        ] {
            assert_eq!(SpanContext::parse(bad), None, "{bad}");
        }
        // A later version may add fields.
        assert!(
            SpanContext::parse("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-xyz")
                .is_some()
        );
    }

    #[test]
    fn sampling_follows_the_parent_or_the_root_rule() {
        let t = Tracer::new(config(Sampler::ParentBased(Root::AlwaysOff)));
        let r = t.start(Some(PARENT), Some("vendor=x"));
        assert!(r.ctx.sampled);
        assert_eq!(
            crate::crypto::to_hex(&r.ctx.trace_id),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(
            r.parent.map(|p| crate::crypto::to_hex(&p)).as_deref(),
            Some("b7ad6b7169203331")
        );
        assert_eq!(r.tracestate.as_deref(), Some("vendor=x"));
        assert!(!t.start(None, None).ctx.sampled);
        let unsampled = PARENT.replace("-01", "-00");
        let t = Tracer::new(config(Sampler::ParentBased(Root::AlwaysOn)));
        assert!(!t.start(Some(&unsampled), None).ctx.sampled);
        assert!(t.start(None, None).ctx.sampled);
        let t = Tracer::new(config(Sampler::AlwaysOff));
        assert!(!t.start(Some(PARENT), None).ctx.sampled);
        let t = Tracer::new(config(Sampler::Ratio(0.25)));
        let n = (0..4000)
            .filter(|_| t.start(None, None).ctx.sampled)
            .count();
        assert!((800..1200).contains(&n), "{n}");
    }

    #[test]
    fn a_request_s_headers_give_its_context_and_the_upstream_lines() {
        let t = Tracer::new(config(Sampler::ParentBased(Root::AlwaysOff)));
        let mut h = hyper::HeaderMap::new();
        h.insert(
            "tracestate",
            hyper::header::HeaderValue::from_static("vendor=x"),
        );
        // No parent: a root (not sampled here), and its tracestate means nothing.
        let root = t.start_for(&h);
        assert_eq!(
            (root.parent, root.tracestate, root.ctx.sampled),
            (None, None, false)
        );
        h.insert(
            "traceparent",
            hyper::header::HeaderValue::from_static(PARENT),
        );
        let r = t.start_for(&h);
        assert!(r.ctx.sampled);
        assert_eq!(r.tracestate.as_deref(), Some("vendor=x"));
        let child = r.child();
        let p = Propagation {
            traceparent: child.traceparent(),
            tracestate: r.tracestate.clone(),
        };
        let lines = String::from_utf8(p.after_lines(b"host: a\r\n")).unwrap();
        assert_eq!(
            lines,
            format!(
                "host: a\r\ntraceparent: {}\r\ntracestate: vendor=x\r\n",
                child.traceparent().as_str()
            )
        );
        assert_eq!(p.traceparent.as_bytes(), p.traceparent.as_str().as_bytes());
        assert_ne!(child.span_id, r.ctx.span_id);
        // One past W3C's 512 bytes is not passed on.
        let long = format!("v={}", "x".repeat(511));
        h.insert("tracestate", long.parse().unwrap());
        assert_eq!(t.start_for(&h).tracestate, None);
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let t = Tracer::new(config(Sampler::AlwaysOn));
        for _ in 0..3 {
            t.record(a_span(&t));
        }
        assert_eq!((t.queued(), t.dropped()), (2, (1, 0)));
    }

    #[tokio::test]
    async fn an_unreachable_collector_drops_the_batch_and_counts_it() {
        let t = Tracer::new(config(Sampler::AlwaysOn));
        let mut span = a_span(&t);
        span.error = Some("boom");
        t.record(span);
        t.export_queued().await;
        assert_eq!((t.queued(), t.dropped(), t.exported()), (0, (0, 1), 0));
    }

    /// A collector that answers every request 200 and counts connections and requests;
    /// it closes each connection after `per_conn` requests.
    async fn counting_collector(per_conn: usize) -> (String, Arc<(AtomicU64, AtomicU64)>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let counts = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
        let c = counts.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                c.0.fetch_add(1, Ordering::Relaxed);
                let c = c.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut served = 0;
                    while served < per_conn {
                        let mut chunk = [0u8; 4096];
                        let Ok(n) = s.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        // One request: a head with Content-Length, then that many bytes.
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if buf.len() < end + 4 + len {
                            continue;
                        }
                        buf.drain(..end + 4 + len);
                        served += 1;
                        c.1.fetch_add(1, Ordering::Relaxed);
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                            .await;
                    }
                });
            }
        });
        (addr, counts)
    }

    fn a_span(t: &Tracer) -> SpanData<'static> {
        let r = t.start(None, None);
        SpanData {
            ctx: r.ctx,
            parent: None,
            name: "x",
            target: None,
            kind: Kind::Server,
            start: r.start,
            end: SystemTime::now(),
            attributes: &[("k", Value::Str("v"))],
            error: None,
        }
    }

    /// The span as nested messages would write it, each built on its own and moved into
    /// its parent: the plain way, kept here to check the sized one-pass writer against.
    fn nested(s: &SpanData<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        message(&mut out, 2, |out| {
            bytes_field(out, 1, &s.ctx.trace_id);
            bytes_field(out, 2, &s.ctx.span_id);
            if let Some(p) = &s.parent {
                bytes_field(out, 4, p);
            }
            let (name, target) = name_parts(s);
            let mut full = name.to_string();
            if let Some(t) = target {
                full = format!("{full} {t}");
            }
            bytes_field(out, 5, full.as_bytes());
            tag(out, 6, 0);
            varint(out, s.kind as u64);
            for (field, t) in [(7, unix_nanos(s.start)), (8, unix_nanos(s.end))] {
                tag(out, field, 1);
                out.extend_from_slice(&t.to_le_bytes());
            }
            for (k, v) in s.attributes {
                message(out, 9, |kv| {
                    bytes_field(kv, 1, k.as_bytes());
                    message(kv, 2, |any| match v {
                        Value::Int(i) => {
                            tag(any, 3, 0);
                            varint(any, *i as u64);
                        }
                        Value::Str(t) => bytes_field(any, 1, limited(t).as_bytes()),
                    });
                });
            }
            if let Some(e) = s.error {
                message(out, 15, |st| {
                    bytes_field(st, 2, limited(e).as_bytes());
                    tag(st, 3, 0);
                    varint(st, 2);
                });
            }
        });
        out
    }

    #[test]
    fn a_span_written_in_one_pass_is_the_same_bytes_as_nested_messages() {
        let t = Tracer::new(config(Sampler::AlwaysOn));
        let long = "ü".repeat(400);
        let names: [(&str, Option<&str>); 4] = [
            ("tools/call", Some("get_weather")),
            ("initialize", None),
            ("tools/call", Some(&long)),
            (&long, Some("x")),
        ];
        for (name, target) in names {
            for error in [None, Some("error -32602"), Some(long.as_str())] {
                for parent in [None, Some([7u8; 8])] {
                    let mut span = a_span(&t);
                    span.name = name;
                    span.target = target;
                    span.error = error;
                    span.parent = parent;
                    let attrs = [
                        ("mcp.method.name", Value::Str("tools/call")),
                        ("rpc.jsonrpc.error_code", Value::Int(-32602)),
                        ("jsonrpc.request.id", Value::Int(1 << 40)),
                        ("gen_ai.tool.name", Value::Str(&long)),
                        ("empty", Value::Str("")),
                        ("a.key.and.value.of.127.bytes", Value::Str(&"v".repeat(93))),
                        ("a.key.and.value.of.128.bytes", Value::Str(&"v".repeat(94))),
                    ];
                    // With these attributes, with none, and with one (short spans, whose
                    // length takes one byte).
                    for n in [attrs.len(), 0, 1] {
                        span.attributes = &attrs[..n];
                        let mut out = vec![9u8];
                        assert!(append_span(&mut out, &span));
                        assert_eq!(out[1..], nested(&span), "{name} {target:?} {error:?} {n}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_largest_span_fits_its_two_byte_length() {
        let t = Tracer::new(config(Sampler::AlwaysOn));
        let long = "x".repeat(4 * VALUE_LIMIT);
        let key = "k".repeat(KEY_LIMIT);
        let key: &'static str = Box::leak(key.into_boxed_str());
        let attrs = [(key, Value::Str(&long)); MAX_ATTRIBUTES + 4];
        let mut span = a_span(&t);
        span.name = &long;
        span.target = Some(&long);
        span.error = Some(&long);
        span.parent = Some([1; 8]);
        span.attributes = &attrs;
        let mut out = Vec::new();
        assert!(append_span(&mut out, &span));
        assert!(out.len() < SPAN_LIMIT, "{}", out.len());
        // Attributes beyond the limit, and keys over KEY_LIMIT, are left out.
        span.attributes = &attrs[..MAX_ATTRIBUTES];
        assert_eq!(out, nested(&span));
        let longer = [(
            "k".repeat(KEY_LIMIT + 1).leak() as &'static str,
            Value::Str("v"),
        )];
        span.attributes = &longer;
        let mut out = Vec::new();
        assert!(append_span(&mut out, &span));
        span.attributes = &[];
        assert_eq!(out, nested(&span));
    }

    #[test]
    fn long_values_are_cut_at_a_character_boundary() {
        let long = "é".repeat(VALUE_LIMIT);
        let cut = limited(&long);
        assert!(cut.len() <= VALUE_LIMIT && cut.len() >= VALUE_LIMIT - 1);
        assert!(long.starts_with(cut));
        assert_eq!(limited("short"), "short");
        // A span holding a huge value queues at most a few kilobytes.
        let t = Tracer::new(config(Sampler::AlwaysOn));
        let huge = "x".repeat(1 << 20);
        let mut span = a_span(&t);
        let attrs = [("gen_ai.tool.name", Value::Str(&huge))];
        span.attributes = &attrs;
        span.name = &huge;
        t.record(span);
        let batch = t.lock().take().unwrap();
        assert!(batch.bytes.len() - t.head.room() < 2 * VALUE_LIMIT + 200);
    }

    #[tokio::test]
    async fn batches_share_one_connection_and_survive_its_closing() {
        let (addr, counts) = counting_collector(2).await;
        let mut cfg = config(Sampler::AlwaysOn);
        cfg.authority = addr;
        cfg.timeout = Duration::from_secs(5);
        let t = Tracer::new(cfg);
        let mut exporter = Exporter::default();
        for _ in 0..5 {
            t.record(a_span(&t));
            t.export_with(&mut exporter).await;
        }
        // Five batches over three connections: the collector closes each after two, and
        // the closed one is noticed and replaced without losing a batch.
        assert_eq!(t.exported(), 5);
        assert_eq!(t.dropped(), (0, 0));
        assert_eq!(counts.1.load(Ordering::Relaxed), 5);
        assert_eq!(counts.0.load(Ordering::Relaxed), 3);
        // The batch's buffer came back for the next batch.
        assert_eq!(t.lock().spare(), 1);
    }

    #[test]
    fn trace_context_goes_into_meta() {
        let p = Propagation {
            traceparent: SpanContext::parse(PARENT).unwrap().traceparent(),
            tracestate: None,
        };
        let meta = |b: &str| -> serde_json::Value {
            let out = p.in_meta(&Bytes::from(b.to_string()));
            serde_json::from_slice(&out).unwrap()
        };
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"progressToken":1}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"traceparent":"00-11111111111111111111111111111111-2222222222222222-01"}}}"#,
        ] {
            let v = meta(body);
            assert_eq!(v["params"]["_meta"]["traceparent"], PARENT, "{body} -> {v}");
            assert_eq!(v["id"], 1);
        }
        assert_eq!(
            meta(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"progressToken":7}}}"#)
                ["params"]["_meta"]["progressToken"],
            7
        );
    }

    #[test]
    fn varints_are_little_endian_base_128() {
        let mut v = Vec::new();
        varint(&mut v, 300);
        assert_eq!(v, [0xac, 0x02]);
        for n in [0u64, 1, 127, 128, 300, 16_383, 16_384, u64::MAX] {
            let mut v = Vec::new();
            varint(&mut v, n);
            assert_eq!(v.len(), varint_len(n), "{n}");
        }
    }

    #[test]
    fn an_attribute_is_sized_as_a_nested_message_would_be() {
        for value in [Value::Str("tools/call"), Value::Int(-32602), Value::Int(7)] {
            let mut direct = Vec::new();
            put_attribute(&mut direct, tags::ATTRIBUTE, b"mcp.method.name", &value);
            let mut nested = Vec::new();
            message(&mut nested, 9, |kv| {
                bytes_field(kv, 1, b"mcp.method.name");
                message(kv, 2, |any| match &value {
                    Value::Int(i) => {
                        tag(any, 3, 0);
                        varint(any, *i as u64);
                    }
                    Value::Str(t) => bytes_field(any, 1, t.as_bytes()),
                });
            });
            assert_eq!(direct, nested);
        }
    }
}
