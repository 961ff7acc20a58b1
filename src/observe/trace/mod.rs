//! OpenTelemetry traces: W3C trace context in and out, the sampling decision, and spans
//! exported as OTLP/HTTP protobuf in batches by one task from a bounded queue.
//!
//! The protobuf is written by hand (a span is a few dozen fields of
//! `opentelemetry/proto/trace/v1/trace.proto`): no SDK, no code generator, no allocation
//! per field. Nothing here runs unless an OTLP endpoint is configured; a request that is
//! not sampled costs a random span id and a header.
//!
//! Rooms: [`context`] (trace context in and out), [`span`] (what a span records),
//! this file (the tracer: sampling and the bounded queue), [`exporter`] (the task that
//! sends batches), [`protobuf`] (their encoding).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use tokio::sync::Notify;

use super::batches::{Batches, Pushed};
use crate::config::{Root, Sampler, Tracing};

mod context;
mod exporter;
mod protobuf;
mod span;

pub use context::*;
use exporter::*;
use protobuf::*;
pub use span::*;

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
            queue: Mutex::new(Batches::with_prefix(head.head_len())),
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

#[cfg(test)]
mod tests;
