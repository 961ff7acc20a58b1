//! W3C trace context: `traceparent` and `tracestate` read from a request and written
//! on the calls it makes, and the ids of new spans.

use super::*;

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
pub(super) fn hex<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
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

pub(super) fn next_u64() -> u64 {
    IDS.with(|state| {
        let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) ^ t) as u64
    })
}

pub(super) fn random<const N: usize>() -> [u8; N] {
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

    /// The trace of a call made within this request's (a code-mode script's inner call):
    /// a span of its own in the same trace, whose parent is this request's span.
    pub fn nested(&self) -> RequestTrace {
        RequestTrace {
            ctx: self.child(),
            parent: Some(self.ctx.span_id),
            tracestate: self.tracestate.clone(),
            start: SystemTime::now(),
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
