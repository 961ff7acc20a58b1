//! A span as it is recorded: its kind, times, attributes (bounded) and status.

use super::*;

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
pub(super) const VALUE_LIMIT: usize = 512;

pub(super) fn limited(s: &str) -> &str {
    crate::observe::cut(s, VALUE_LIMIT)
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
