//! OTLP protobuf (`opentelemetry/proto/collector/trace/v1` and `trace/v1`), written by
//! hand into reused buffers.

use super::*;

#[inline(always)]
pub(super) fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(super) fn tag(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

pub(super) fn bytes_field(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    tag(out, field, 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A length-delimited sub-message written by `f`, in place: the body is written after
/// the tag, then moved up by its length's size once that is known (no buffer of its own).
pub(super) fn message(out: &mut Vec<u8>, field: u32, f: impl FnOnce(&mut Vec<u8>)) {
    tag(out, field, 2);
    let at = out.len();
    f(out);
    insert_length(out, at);
}

/// Puts the length of `out[at..]`, as a varint, in front of it (moving it up).
pub(super) fn insert_length(out: &mut Vec<u8>, at: usize) {
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
pub(super) fn varint_len(v: u64) -> usize {
    // Lengths and small ints first: a compare, not a bit scan and a division.
    if v < 0x80 {
        1
    } else if v < 0x4000 {
        2
    } else {
        (64 - v.leading_zeros() as usize).div_ceil(7)
    }
}

pub(super) fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// What every export request has before its spans: the `Resource` (field 1 of
/// `ResourceSpans`) and the `InstrumentationScope` (field 1 of `ScopeSpans`), each with its
/// tag and length. Encoded once, when the tracer is made.
#[derive(Debug)]
pub(super) struct Head {
    resource: Vec<u8>,
    scope: Vec<u8>,
}

impl Head {
    pub(super) fn new(config: &Tracing) -> Head {
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
    pub(super) fn head_len(&self) -> usize {
        self.resource.len() + self.scope.len() + 2 * 11
    }

    /// Makes `buf` (`head_len()` bytes, then encoded spans) an `ExportTraceServiceRequest` by
    /// writing its head just before the spans; returns where the request starts.
    pub(super) fn write_before(&self, buf: &mut [u8]) -> usize {
        let room = self.head_len();
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
pub(super) mod tags {
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
pub(super) fn delimited(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// The most attributes a span carries (as [`Attrs`] holds); beyond, they are not written.
pub(super) const MAX_ATTRIBUTES: usize = 16;

/// Longest attribute key written, in bytes (keys are the gateway's own constants; a
/// longer one is skipped): with [`VALUE_LIMIT`] and [`MAX_ATTRIBUTES`] it bounds a span
/// below [`SPAN_LIMIT`].
pub(super) const KEY_LIMIT: usize = 64;

/// A span's encoded size is below this (checked in the tests), so its length is a
/// varint of at most two bytes, for which room is left before the span is written.
pub(super) const SPAN_LIMIT: usize = 1 << 14;

/// The name field's text, in parts: the name, and the target after a space, cut so that
/// the whole is at most `VALUE_LIMIT` bytes.
pub(super) fn name_parts<'a>(s: &SpanData<'a>) -> (&'a str, Option<&'a str>) {
    let name = limited(s.name);
    let target = s.target.map(|t| {
        let room = VALUE_LIMIT.saturating_sub(name.len() + 1);
        crate::observe::cut(t, room)
    });
    (name, target.filter(|_| name.len() < VALUE_LIMIT))
}

/// A length-delimited field whose tag fits one byte (field numbers up to 15).
#[inline(always)]
pub(super) fn len_field(out: &mut Vec<u8>, tag: u8, b: &[u8]) {
    if b.len() < 0x80 {
        out.extend_from_slice(&[tag, b.len() as u8]);
    } else {
        out.push(tag);
        varint(out, b.len() as u64);
    }
    out.extend_from_slice(b);
}

/// `Resource.attributes`: field 1, length-delimited.
pub(super) const RESOURCE_ATTRIBUTE: u8 = 1 << 3 | 2;

/// An attribute (`KeyValue`) under `tag`: field 9 of `Span`, or [`RESOURCE_ATTRIBUTE`].
/// Its sizes are known from the key's and the value's lengths, so it is written in one pass; in the common case (a key and a
/// value under 128 bytes together) its headers are two four-byte stores.
#[inline(always)]
pub(super) fn put_attribute(out: &mut Vec<u8>, tag: u8, key: &[u8], value: &Value<'_>) {
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
pub(super) fn append_span(out: &mut Vec<u8>, s: &SpanData<'_>) -> bool {
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
