//! JSON-RPC frames on the hot path, without building a value tree.
//!
//! [`parse`] validates the whole body with simd-json on a scratch copy (the original is
//! never modified), then walks the original once to record the byte [`Span`]s of the
//! members the gateway routes on: `id`, `method`, `params.name`, `params.uri`, … The
//! upstream request is then the original body with a few spans replaced ([`splice`]):
//! arguments are copied as bytes, never decoded.

use std::borrow::Cow;
use std::cell::Cell;

use bytes::{Bytes, BytesMut};

use crate::jsonrpc::fold;
use crate::jsonrpc::methods::Method;
use crate::jsonrpc::read::{self, Ambiguity};
use crate::jsonrpc::tape::{Reading, with_tape};

/// A byte range of the original body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn of<'a>(&self, body: &'a [u8]) -> &'a [u8] {
        &body[self.start..self.end]
    }
}

/// Why a body is not a usable frame. Small and concrete: no boxing on the hot path (the
/// one error that carries text is a client's refused request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Not JSON at all (-32700).
    Parse,
    /// JSON, but not a JSON-RPC message (-32600).
    Invalid(&'static str),
    /// A JSON array: a batch, handled by the caller.
    Batch,
    /// A request whose JSON readers read differently ([`read`]): -32600 in the envelope,
    /// -32602 within `params`, answered with `id` when the request's id is one.
    Ambiguous(Box<(Ambiguity, Option<Span>)>),
}

/// The routing-relevant parts of one JSON-RPC message, as spans into the body.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The raw `id` value (number, string or null), if present.
    pub id: Option<Span>,
    /// The `method` string's contents (between the quotes).
    pub method: Option<Span>,
    /// The method decoded, when its literal has escapes (`"tools\/list"`).
    pub method_unescaped: Option<Box<str>>,
    /// The method, when it is one of MCP's own ([`Method`]): recognised once at parse,
    /// so the many questions a request's way asks of it compare no string again.
    pub kind: Option<Method>,
    pub has_result: bool,
    pub has_error: bool,
    /// Where `result` starts (an object's span is empty, at its `{`).
    pub result: Option<Span>,
    /// Where `params` starts; for an object or array the span is empty (see
    /// [`container_span`]), for a scalar it is the whole value.
    pub params: Option<Span>,
    /// `params.name` as a JSON string literal, quotes included.
    pub name: Option<Span>,
    /// `params.uri` as a JSON string literal.
    pub uri: Option<Span>,
    /// `params.cursor` as a JSON string literal.
    pub cursor: Option<Span>,
    /// `params.requestId` (in `notifications/cancelled`).
    pub request_id: Option<Span>,
    /// `params._meta.progressToken` (a request's).
    pub progress_token: Option<Span>,
    /// `params.progressToken` (a progress notification's).
    pub progress: Option<Span>,
    /// `params._meta["io.modelcontextprotocol/protocolVersion"]` as a string literal.
    pub meta_version: Option<Span>,
    /// `params.ref.type`, `params.ref.name`, `params.ref.uri` (completion/complete).
    pub ref_type: Option<Span>,
    pub ref_name: Option<Span>,
    pub ref_uri: Option<Span>,
    /// `params.protocolVersion` (initialize).
    pub protocol_version: Option<Span>,
    /// Where `params._meta` starts (an object's span is empty, at its `{`).
    pub meta: Option<Span>,
    /// `params._meta.traceparent` and `tracestate` (string literals).
    pub meta_traceparent: Option<Span>,
    pub meta_tracestate: Option<Span>,
    /// `params.requestState` (a multi-round-trip retry's, any JSON value).
    pub request_state: Option<Span>,
    /// Where `params.inputResponses` starts (an object's span is empty, at its `{`).
    pub input_responses: Option<Span>,
    /// Where `params.task` starts, when it is an object (a call asking for a task).
    pub task: Option<Span>,
    /// Where `params.arguments` starts (a container's span is empty, at its first byte;
    /// [`Frame::arguments`] measures it): the one member of that name a strictly read
    /// request has, whatever the spelling of its name.
    pub arguments_at: Option<Span>,
}

impl Frame {
    /// The method name, if this is a request or notification: the decoded string, so
    /// `"tools\/list"` is `tools/list`.
    pub fn method<'a>(&'a self, body: &'a [u8]) -> Option<&'a str> {
        if let Some(m) = self.kind {
            return Some(m.as_str());
        }
        if let Some(m) = &self.method_unescaped {
            return Some(m);
        }
        self.method
            .and_then(|s| std::str::from_utf8(s.of(body)).ok())
    }

    /// Whether this is MCP's method `m`.
    pub fn is(&self, m: Method) -> bool {
        self.kind == Some(m)
    }

    pub fn is_request(&self) -> bool {
        self.method.is_some() && self.id.is_some()
    }

    pub fn is_notification(&self) -> bool {
        self.method.is_some() && self.id.is_none()
    }

    pub fn is_response(&self) -> bool {
        self.method.is_none() && (self.has_result || self.has_error)
    }

    /// The whole span of `params.arguments`, if sent.
    pub fn arguments(&self, body: &[u8]) -> Option<Span> {
        let at = self.arguments_at?;
        match body.get(at.start) {
            Some(b'{' | b'[') => container_span(body, at.start),
            _ => Some(at),
        }
    }
}

/// Decodes a JSON string literal span (quotes included) to text.
pub fn string_value<'a>(body: &'a [u8], span: Span) -> Option<Cow<'a, str>> {
    let raw = span.of(body);
    if raw.len() < 2 || raw[0] != b'"' || raw[raw.len() - 1] != b'"' {
        return None;
    }
    let inner = &raw[1..raw.len() - 1];
    if !inner.contains(&b'\\') {
        return std::str::from_utf8(inner).ok().map(Cow::Borrowed);
    }
    read::string(raw).map(Cow::Owned)
}

/// Validates `body` as JSON and records the spans of one JSON-RPC message.
///
/// simd-json builds its tape on the scratch copy; strings on the tape point into the
/// scratch buffer at the offset their contents have in `body` (simd-json unescapes in
/// place), so spans are read off the tape without scanning the body. Scalars are found
/// by a short scan after their key; nested values the gateway does not route on
/// (`arguments`, …) are skipped by their node count.
pub fn parse(body: &[u8]) -> Result<Frame, FrameError> {
    let mut f = Frame::default();
    with_tape(body, Reading::Lenient, |nodes, base| {
        Walker::new(body, base, nodes, false).message(&mut f)
    })
    .map_err(|_| FrameError::Parse)??;
    Ok(f)
}

/// [`parse`] for a client's request, which the gateway decides on and a backend acts on:
/// read strictly ([`read`]): JSON whose reading depends on the reader (a duplicate or
/// case-twin member name at any depth, a member name that Go's reader takes for one the
/// gateway reads ([`ENVELOPE_NAMES`], [`PARAMS_NAMES`], [`META_NAMES`], [`REF_NAMES`]), a number no reader holds
/// exactly, an invalid escape or lone surrogate, nesting past [`read::MAX_DEPTH`]) is
/// [`FrameError::Ambiguous`].
pub fn parse_request(body: &[u8]) -> Result<Frame, FrameError> {
    let mut f = Frame::default();
    parse_request_into(body, &mut f)?;
    Ok(f)
}

/// [`parse_request`] into `f`, a default frame, which is whole when this is `Ok`. The
/// frame is filled where its caller keeps it: a frame is over 500 bytes, and returned
/// through the tape's closures and out of the parse it was copied at each step
/// (`loadtest/copies.sh`: five copies a request).
pub fn parse_request_into(body: &[u8], f: &mut Frame) -> Result<(), FrameError> {
    let read = with_tape(body, Reading::Strict, |nodes, base| {
        let read = Walker::new(body, base, nodes, true).message(f);
        if let Err(FrameError::Batch | FrameError::Ambiguous(_)) = read {
            // Each element is read strictly on its own, and refused with its own id; a
            // name another reader takes for one the gateway reads is refused with it.
            return read;
        }
        match read::check(nodes) {
            Ok(()) => read,
            Err(a) => {
                // The id answers the refusal only when the envelope has one id.
                let id = read.ok().and(f.id).filter(|_| a.at != "id");
                Err(FrameError::Ambiguous(Box::new((a, id))))
            }
        }
    });
    match read {
        Ok(read) => read,
        // The id, read with numbers passed over and escapes mended, answers.
        Err(e) => Err(match Ambiguity::of_tape(e) {
            Some(a) => {
                let id = parse(&crate::jsonrpc::tape::mended(body))
                    .ok()
                    .and_then(|f| f.id);
                FrameError::Ambiguous(Box::new((a, id)))
            }
            None => FrameError::Parse,
        }),
    }
}

/// The member names the gateway reads at each level of a request (the envelope,
/// `params`, `params._meta`, `params.ref`). A member Go's `encoding/json` takes for one
/// of them without being it (`Arguments`, `argumentſ`: [`fold`]) would carry what the
/// gateway never read to a Go backend: a request with one is refused.
pub const ENVELOPE_NAMES: &[&str] = &["jsonrpc", "id", "method", "params", "result", "error"];
pub const PARAMS_NAMES: &[&str] = &[
    "name",
    "arguments",
    "_meta",
    "uri",
    "cursor",
    "requestId",
    "progressToken",
    "protocolVersion",
    "requestState",
    "inputResponses",
    "task",
    "ref",
];
pub const META_NAMES: &[&str] = &[
    "progressToken",
    "traceparent",
    "tracestate",
    "io.modelcontextprotocol/protocolVersion",
];
pub const REF_NAMES: &[&str] = &["type", "name", "uri"];

/// Reads spans off a simd-json tape of `body`.
struct Walker<'a, 't> {
    body: &'a [u8],
    /// Address of the scratch copy the tape's strings point into.
    base: usize,
    nodes: &'a [simd_json::Node<'t>],
    /// A client's request: names another reader takes for a known one are looked for.
    strict: bool,
    /// The first such name: its key node, and the name it is taken for.
    twin: Cell<Option<(usize, &'static str)>>,
}

impl<'a, 't> Walker<'a, 't> {
    fn new(body: &'a [u8], base: usize, nodes: &'a [simd_json::Node<'t>], strict: bool) -> Self {
        Walker {
            body,
            base,
            nodes,
            strict,
            twin: Cell::new(None),
        }
    }

    /// Notes `key` (its value at node `v`) when it is not one of `known` but Go's reader
    /// takes it for one. Called only for names the walk did not match, so a request
    /// spelt as MCP spells it compares nothing.
    fn unknown(&self, key: &str, v: usize, known: &[&'static str]) {
        if self.strict
            && self.twin.get().is_none()
            && let Some(name) = fold::twin_of(key, known)
        {
            self.twin.set(Some((v - 1, name)));
        }
    }
    /// Index of the node after the value at `i`.
    fn next(&self, i: usize) -> usize {
        match self.nodes[i] {
            simd_json::Node::Object { count, .. } | simd_json::Node::Array { count, .. } => {
                i + 1 + count
            }
            _ => i + 1,
        }
    }

    /// The span of a string node as a literal (quotes included) in `body`.
    fn string_span(&self, s: &str) -> Span {
        let start = s.as_ptr() as usize - self.base;
        let plain_end = start + s.len();
        if self.body.get(plain_end) == Some(&b'"') && !self.body[start..plain_end].contains(&b'\\')
        {
            return Span {
                start: start - 1,
                end: plain_end + 1,
            };
        }
        // Escaped: the raw literal is longer than its value; find its closing quote.
        let mut i = start;
        while let Some(k) = memchr::memchr2(b'"', b'\\', &self.body[i..]) {
            i += k;
            if self.body[i] == b'"' {
                return Span {
                    start: start - 1,
                    end: i + 1,
                };
            }
            i += 2;
        }
        Span {
            start: start - 1,
            end: self.body.len(),
        }
    }

    /// The span of the value at node `i`, whose key literal ends at `after_key`.
    fn value_span(&self, i: usize, after_key: usize) -> Span {
        if let simd_json::Node::String(s) = self.nodes[i] {
            return self.string_span(s);
        }
        let b = self.body;
        let mut start = after_key;
        while start < b.len() && matches!(b[start], b' ' | b'\t' | b'\n' | b'\r' | b':') {
            start += 1;
        }
        let end = match self.nodes[i] {
            simd_json::Node::Static(_) => {
                let mut e = start;
                while e < b.len()
                    && !matches!(b[e], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                {
                    e += 1;
                }
                e
            }
            // Containers are located, not measured: their end is found on demand.
            _ => start,
        };
        Span { start, end }
    }

    /// Calls `each(key, value_index, value_span)` for the members of the object at `i`.
    fn members(&self, i: usize, mut each: impl FnMut(&str, usize, Span)) {
        let simd_json::Node::Object { len, .. } = self.nodes[i] else {
            return;
        };
        let mut k = i + 1;
        for _ in 0..len {
            let simd_json::Node::String(key) = self.nodes[k] else {
                return;
            };
            let key_end = self.string_span(key).end;
            let v = k + 1;
            each(key, v, self.value_span(v, key_end));
            k = self.next(v);
        }
    }

    fn is_str(&self, i: usize) -> bool {
        matches!(self.nodes[i], simd_json::Node::String(_))
    }

    /// Reads the message into `f` (a default frame), which is whole only when this is
    /// `Ok`.
    fn message(&self, f: &mut Frame) -> Result<(), FrameError> {
        match self.nodes.first() {
            Some(simd_json::Node::Object { .. }) => {}
            Some(simd_json::Node::Array { .. }) => return Err(FrameError::Batch),
            _ => return Err(FrameError::Invalid("a JSON-RPC message is a JSON object")),
        }
        let mut version_ok = false;
        let mut method_ok = true;
        let mut params_at = None;
        self.members(0, |key, v, span| match key {
            "jsonrpc" => version_ok = span.of(self.body) == b"\"2.0\"",
            "id" => f.id = Some(span),
            "method" => {
                method_ok = self.is_str(v);
                let inner = Span {
                    start: span.start + 1,
                    end: span.end.saturating_sub(1).max(span.start + 1),
                };
                if let simd_json::Node::String(decoded) = self.nodes[v] {
                    f.kind = Method::parse(decoded);
                    if f.kind.is_none() && inner.of(self.body).contains(&b'\\') {
                        f.method_unescaped = Some(decoded.into());
                    }
                }
                f.method = Some(inner);
            }
            "result" => {
                f.has_result = true;
                f.result = Some(span);
            }
            "error" => f.has_error = true,
            "params" => {
                f.params = Some(span);
                params_at = Some(v);
            }
            _ => self.unknown(key, v, ENVELOPE_NAMES),
        });
        if let Some(p) = params_at {
            self.members(p, |key, v, span| match key {
                "name" if self.is_str(v) => f.name = Some(span),
                "uri" if self.is_str(v) => f.uri = Some(span),
                "cursor" if self.is_str(v) => f.cursor = Some(span),
                "requestId" => f.request_id = Some(span),
                "progressToken" => f.progress = Some(span),
                "protocolVersion" if self.is_str(v) => f.protocol_version = Some(span),
                "requestState" => f.request_state = Some(span),
                "inputResponses" => f.input_responses = Some(span),
                "task" if matches!(self.nodes[v], simd_json::Node::Object { .. }) => {
                    f.task = Some(span)
                }
                "arguments" => f.arguments_at = Some(span),
                "_meta" => {
                    f.meta = Some(span);
                    self.members(v, |key, v, span| match key {
                        "progressToken" => f.progress_token = Some(span),
                        "traceparent" if self.is_str(v) => f.meta_traceparent = Some(span),
                        "tracestate" if self.is_str(v) => f.meta_tracestate = Some(span),
                        "io.modelcontextprotocol/protocolVersion" if self.is_str(v) => {
                            f.meta_version = Some(span)
                        }
                        _ => self.unknown(key, v, META_NAMES),
                    })
                }
                "ref" => self.members(v, |key, v, span| match key {
                    "type" if self.is_str(v) => f.ref_type = Some(span),
                    "name" if self.is_str(v) => f.ref_name = Some(span),
                    "uri" if self.is_str(v) => f.ref_uri = Some(span),
                    _ => self.unknown(key, v, REF_NAMES),
                }),
                _ => self.unknown(key, v, PARAMS_NAMES),
            });
        }
        if let Some((k, name)) = self.twin.get() {
            let a = Ambiguity {
                what: read::FOLDED_NAME,
                at: read::path(self.nodes, k),
                reads_as: Some(name.into()),
            };
            // Two ids to a Go reader: none answers.
            let id = f.id.filter(|_| name != "id");
            return Err(FrameError::Ambiguous(Box::new((a, id))));
        }
        if !method_ok {
            return Err(FrameError::Invalid("method must be a string"));
        }
        if !version_ok {
            return Err(FrameError::Invalid("jsonrpc must be \"2.0\""));
        }
        if f.method.is_some() && f.id.is_some_and(|id| id.of(self.body) == b"null") {
            return Err(FrameError::Invalid("a request id must not be null"));
        }
        if let Some(id) = f.id {
            let first = self.body.get(id.start).copied().unwrap_or(b'{');
            if first != b'"'
                && first != b'-'
                && !first.is_ascii_digit()
                && id.of(self.body) != b"null"
            {
                return Err(FrameError::Invalid("id must be a string or a number"));
            }
        }
        if f.method.is_none() && !f.has_result && !f.has_error {
            return Err(FrameError::Invalid(
                "a message needs a method, a result or an error",
            ));
        }
        Ok(())
    }
}

/// The whole span of a container value that starts at `start` (e.g. [`Frame::params`]).
pub fn container_span(body: &[u8], start: usize) -> Option<Span> {
    let mut p = Scanner { b: body, i: start };
    p.skip_value().ok()?;
    Some(Span { start, end: p.i })
}

/// The spans of the top-level elements of a JSON array (a batch).
pub fn batch_elements(body: &[u8]) -> Result<Vec<Span>, FrameError> {
    validate(body)?;
    let mut p = Scanner { b: body, i: 0 };
    p.ws();
    if p.peek() != Some(b'[') {
        return Err(FrameError::Invalid("not a batch"));
    }
    p.i += 1;
    let mut out = Vec::new();
    loop {
        p.ws();
        if p.peek() == Some(b']') {
            return Ok(out);
        }
        let start = p.i;
        p.skip_value()?;
        out.push(Span { start, end: p.i });
        p.ws();
        match p.peek() {
            Some(b',') => p.i += 1,
            Some(b']') => return Ok(out),
            _ => return Err(FrameError::Parse),
        }
    }
}

/// Whether `bytes` is exactly one JSON object, whitespace aside: what may be placed as a
/// value inside a frame the gateway builds.
pub fn is_one_object(bytes: &[u8]) -> bool {
    with_tape(bytes, Reading::Lenient, |nodes, _| {
        matches!(nodes.first(), Some(simd_json::Node::Object { .. }))
    })
    .unwrap_or(false)
}

/// Full JSON validation with simd-json on a reused scratch copy.
fn validate(body: &[u8]) -> Result<(), FrameError> {
    with_tape(body, Reading::Lenient, |_, _| ()).map_err(|_| FrameError::Parse)
}

const OTHER: u8 = 0;
const QUOTE: u8 = 1;
const OPEN: u8 = 2;
const CLOSE: u8 = 3;

/// Byte classes for skipping containers: one table lookup per structural byte.
static CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    t[b'"' as usize] = QUOTE;
    t[b'{' as usize] = OPEN;
    t[b'[' as usize] = OPEN;
    t[b'}' as usize] = CLOSE;
    t[b']' as usize] = CLOSE;
    t
};

/// Walks already-validated JSON, recording spans.
struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn skip_string(&mut self) -> Result<(), FrameError> {
        debug_assert_eq!(self.peek(), Some(b'"'));
        self.i += 1;
        loop {
            // Jump to the next quote or backslash.
            let k = memchr::memchr2(b'"', b'\\', &self.b[self.i..]).ok_or(FrameError::Parse)?;
            self.i += k;
            if self.b[self.i] == b'"' {
                self.i += 1;
                return Ok(());
            }
            self.i += 2;
        }
    }

    fn skip_value(&mut self) -> Result<(), FrameError> {
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'{') | Some(b'[') => {
                let mut depth = 0usize;
                while let Some(&c) = self.b.get(self.i) {
                    match CLASS[c as usize] {
                        QUOTE => {
                            self.skip_string()?;
                            continue;
                        }
                        OPEN => depth += 1,
                        CLOSE => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return Ok(());
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
                Err(FrameError::Parse)
            }
            Some(_) => {
                while let Some(&c) = self.b.get(self.i) {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.i += 1;
                }
                Ok(())
            }
            None => Err(FrameError::Parse),
        }
    }
}

/// The body with each span replaced by its bytes (spans must not overlap).
pub fn splice(body: &[u8], replacements: &mut [(Span, &[u8])]) -> Bytes {
    replacements.sort_by_key(|(s, _)| s.start);
    // The exact length: a buffer filled to its capacity becomes `Bytes` without a
    // second allocation for its shared part.
    let len = replacements.iter().fold(body.len(), |n, (span, r)| {
        n - (span.end - span.start) + r.len()
    });
    let mut out = BytesMut::with_capacity(len);
    let mut at = 0;
    for (span, bytes) in replacements.iter() {
        out.extend_from_slice(&body[at..span.start]);
        out.extend_from_slice(bytes);
        at = span.end;
    }
    out.extend_from_slice(&body[at..]);
    out.freeze()
}

/// Writes `s` as a JSON string literal.
/// Whether the object opening at `open` in `body` is empty (`{` then, past whitespace,
/// `}`).
pub fn opens_empty(body: &[u8], open: usize) -> bool {
    body[open + 1..]
        .iter()
        .find(|c| !c.is_ascii_whitespace())
        .is_some_and(|c| *c == b'}')
}

/// `body` (one message, parsed as `f`) with `members` (JSON object members, no braces)
/// added to `params._meta`: into the `_meta` object there, as a new `_meta`, or in new
/// `params`. A body whose `params` or `_meta` is there but not an object is returned as
/// it is.
pub fn add_to_meta(body: &Bytes, f: &Frame, members: &[u8]) -> Bytes {
    let object = |s: Option<Span>| s.filter(|s| body.get(s.start) == Some(&b'{'));
    let insert = |open: usize, head: &[u8], tail: &[u8]| {
        let mut add = Vec::with_capacity(head.len() + members.len() + tail.len() + 1);
        add.extend_from_slice(head);
        add.extend_from_slice(members);
        add.extend_from_slice(tail);
        if !opens_empty(body, open) {
            add.push(b',');
        }
        let at = Span {
            start: open + 1,
            end: open + 1,
        };
        splice(body, &mut [(at, &add)])
    };
    if let Some(meta) = object(f.meta) {
        return insert(meta.start, b"", b"");
    }
    if f.meta.is_some() {
        return body.clone();
    }
    match object(f.params) {
        Some(p) => insert(p.start, b"\"_meta\":{", b"}"),
        None if f.params.is_none() => {
            let end = body.iter().rposition(|c| *c == b'}').unwrap_or(body.len());
            let mut add = b",\"params\":{\"_meta\":{".to_vec();
            add.extend_from_slice(members);
            add.extend_from_slice(b"}}");
            let at = Span { start: end, end };
            splice(body, &mut [(at, &add)])
        }
        None => body.clone(),
    }
}

/// The members of `params._meta` that make a request a 2026-07-28 one: a session-era
/// server must never see them (Python SDK 2.x servers refuse such a request on a
/// session-era connection, -32600).
const ENVELOPE_KEYS: [&str; 4] = [
    "io.modelcontextprotocol/protocolVersion",
    "io.modelcontextprotocol/clientCapabilities",
    "io.modelcontextprotocol/clientInfo",
    "io.modelcontextprotocol/logLevel",
];

static ENVELOPE: crate::jsonrpc::needle::Needle = crate::needle!(b"io.modelcontextprotocol/");

/// Whether `body` (one message) may carry the 2026-07-28 envelope: one substring search.
pub fn has_envelope(body: &[u8]) -> bool {
    ENVELOPE_VERSION.in_(body)
}

static ENVELOPE_VERSION: crate::jsonrpc::needle::Needle =
    crate::needle!(b"io.modelcontextprotocol/protocolVersion");

/// `body` (one message) with the 2026-07-28 envelope left out of `params._meta`, the
/// rest of `_meta` (progress token, trace context, related task…) kept byte for byte: a
/// request bridged from a 2026-07-28 client to a session-era server looks exactly like a
/// session-era request. The body itself when it carries no envelope (one substring
/// search, no parse).
pub fn without_envelope(body: Bytes) -> Bytes {
    if !ENVELOPE.in_(&body) {
        return body;
    }
    let Ok(f) = parse(&body) else {
        return body;
    };
    let Some(meta) = f.meta.filter(|s| body.get(s.start) == Some(&b'{')) else {
        return body;
    };
    let Some(whole) = container_span(&body, meta.start) else {
        return body;
    };
    let mut object = Vec::with_capacity(whole.end - whole.start);
    object.push(b'{');
    let mut dropped = false;
    let walked = each_member(&body, meta.start, |key, member| {
        if string_value(&body, key).is_some_and(|k| ENVELOPE_KEYS.contains(&&*k)) {
            dropped = true;
        } else {
            if object.len() > 1 {
                object.push(b',');
            }
            object.extend_from_slice(member.of(&body));
        }
    });
    if walked.is_err() || !dropped {
        return body;
    }
    object.push(b'}');
    splice(&body, &mut [(whole, &object)])
}

/// Calls `each(key, member)` for every member of the JSON object opening at `open` in
/// `body`: `key` is the key's string literal, `member` runs from the key to the end of
/// the value.
pub fn each_member(
    body: &[u8],
    open: usize,
    mut each: impl FnMut(Span, Span),
) -> Result<(), FrameError> {
    let mut p = Scanner { b: body, i: open };
    if p.peek() != Some(b'{') {
        return Err(FrameError::Invalid("not an object"));
    }
    p.i += 1;
    loop {
        p.ws();
        match p.peek() {
            Some(b'}') => return Ok(()),
            Some(b'"') => {}
            _ => return Err(FrameError::Parse),
        }
        let start = p.i;
        p.skip_string()?;
        let key = Span { start, end: p.i };
        p.ws();
        if p.peek() != Some(b':') {
            return Err(FrameError::Parse);
        }
        p.i += 1;
        p.ws();
        p.skip_value()?;
        each(key, Span { start, end: p.i });
        p.ws();
        match p.peek() {
            Some(b',') => p.i += 1,
            Some(b'}') => return Ok(()),
            _ => return Err(FrameError::Parse),
        }
    }
}

pub fn json_string(s: &str) -> Vec<u8> {
    // serde_json escapes exactly what JSON requires.
    serde_json::to_vec(s).unwrap_or_else(|_| b"\"\"".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcps_methods_are_recognised_once_and_others_read_from_the_body() {
        let f = parse(br#"{"jsonrpc":"2.0","id":1,"method":"tools\/call"}"#).unwrap();
        assert_eq!(f.kind, Some(Method::ToolsCall));
        assert_eq!(f.method(b""), Some("tools/call"));
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"vendor/thing"}"#;
        let f = parse(body).unwrap();
        assert_eq!((f.kind, f.method(body)), (None, Some("vendor/thing")));
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"vendor\/th\u0069ng"}"#;
        assert_eq!(parse(body).unwrap().method(body), Some("vendor/thing"));
        assert_eq!(Method::parse("tools/cal"), None);
    }

    #[test]
    fn a_task_is_asked_for_by_an_object_in_params() {
        let asks = |b: &[u8]| parse(b).unwrap().task.is_some();
        assert!(asks(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","task":{"ttl":1000}}}"#
        ));
        assert!(!asks(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","task":true}}"#
        ));
        assert!(!asks(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"task":{}}}}"#
        ));
    }

    #[test]
    fn a_bridged_request_loses_the_2026_envelope_and_keeps_the_rest_of_its_meta() {
        let body = Bytes::from_static(
            br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"t","_meta":{ "io.modelcontextprotocol/protocolVersion":"2026-07-28","progressToken":"p1", "io.modelcontextprotocol/clientCapabilities":{"sampling":{}},"io.modelcontextprotocol\/clientInfo":{"name":"c"},"traceparent":"00-x","io.modelcontextprotocol/logLevel":"debug","io.modelcontextprotocol/related-task":{"taskId":"t1"}},"arguments":{"io.modelcontextprotocol/protocolVersion":1}}}"#,
        );
        let out = without_envelope(body);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["params"]["_meta"],
            serde_json::json!({"progressToken": "p1", "traceparent": "00-x",
                               "io.modelcontextprotocol/related-task": {"taskId": "t1"}})
        );
        // Only `_meta`'s members go: the arguments are the tool's.
        assert_eq!(
            v["params"]["arguments"]["io.modelcontextprotocol/protocolVersion"],
            1
        );
        let f = parse(&out).unwrap();
        assert!(f.meta_version.is_none());
    }

    #[test]
    fn a_request_without_an_envelope_is_passed_as_it_is() {
        for raw in [
            &br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","_meta":{"progressToken":1}}}"#[..],
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"io.modelcontextprotocol/related-task":{"taskId":"a"}}}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":"io.modelcontextprotocol/protocolVersion"}}"#,
        ] {
            let body = Bytes::copy_from_slice(raw);
            assert_eq!(without_envelope(body.clone()), body);
        }
        // Only envelope members: an empty `_meta` is left.
        let body = Bytes::from_static(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
        );
        assert_eq!(
            &without_envelope(body)[..],
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{}}}"#
        );
    }

    const CALL: &[u8] = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"time__now","arguments":{"tz":"UTC","nested":{"name":"decoy","id":99}},"_meta":{"progressToken":"p1"}}}"#;

    #[test]
    fn spans_of_a_tools_call() {
        let f = parse(CALL).unwrap();
        assert_eq!(f.id.unwrap().of(CALL), b"7");
        assert_eq!(f.method(CALL), Some("tools/call"));
        assert_eq!(f.name.unwrap().of(CALL), br#""time__now""#);
        assert_eq!(f.progress_token.unwrap().of(CALL), br#""p1""#);
        assert!(f.is_request());
        let out = splice(
            CALL,
            &mut [(f.name.unwrap(), br#""now""#), (f.id.unwrap(), br#""g-1""#)],
        );
        assert_eq!(
            &out[..],
            &br#"{"jsonrpc":"2.0","id":"g-1","method":"tools/call","params":{"name":"now","arguments":{"tz":"UTC","nested":{"name":"decoy","id":99}},"_meta":{"progressToken":"p1"}}}"#[..]
        );
    }

    #[test]
    fn member_order_whitespace_and_escapes() {
        let body = b" {\n \"params\" : { \"na\\u006de\" : \"a\\\"b\" , \"uri\":\"file:///x\" } , \"method\":\"x\", \"id\" : \"abc\" , \"jsonrpc\":\"2.0\" } ";
        let f = parse(body).unwrap();
        assert_eq!(f.id.unwrap().of(body), b"\"abc\"");
        assert_eq!(string_value(body, f.name.unwrap()).unwrap(), "a\"b");
        assert_eq!(string_value(body, f.uri.unwrap()).unwrap(), "file:///x");
    }

    #[test]
    fn kinds_of_message_and_errors() {
        let n = parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert!(n.is_notification());
        let r = parse(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#).unwrap();
        assert!(r.is_response());
        assert_eq!(parse(b"{nope"), Err(FrameError::Parse));
        assert_eq!(parse(b""), Err(FrameError::Parse));
        assert_eq!(
            parse(br#"[{"jsonrpc":"2.0","method":"x"}]"#).unwrap_err(),
            FrameError::Batch
        );
        assert!(matches!(
            parse(br#"{"id":1,"method":"x"}"#),
            Err(FrameError::Invalid(_))
        ));
        assert!(matches!(
            parse(br#"{"jsonrpc":"2.0","id":1}"#),
            Err(FrameError::Invalid(_))
        ));
        assert!(matches!(
            parse(br#"{"jsonrpc":"2.0","id":{},"method":"x"}"#),
            Err(FrameError::Invalid(_))
        ));
        assert!(matches!(
            parse(br#"{"jsonrpc":"2.0","method":5}"#),
            Err(FrameError::Invalid(_))
        ));
        assert!(matches!(parse(b"42"), Err(FrameError::Invalid(_))));
    }

    #[test]
    fn escaped_methods_and_null_ids() {
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools\/list"}"#;
        assert_eq!(parse(body).unwrap().method(body), Some("tools/list"));
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"\u0074ools/call"}"#;
        assert_eq!(parse(body).unwrap().method(body), Some("tools/call"));
        assert!(matches!(
            parse(br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#),
            Err(FrameError::Invalid(_))
        ));
        // An error response may carry a null id.
        assert!(parse(br#"{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"x"}}"#).is_ok());
    }

    #[test]
    fn exactly_one_object() {
        assert!(is_one_object(b" {\"a\": [1, {\"b\": null}]} \n"));
        assert!(is_one_object(b"{}"));
        for bad in [
            &b"{\"a\":1}}, \"params\": {\"name\": \"x\", \"arguments\": {}"[..],
            b"{}{}",
            b"{} 1",
            b"[]",
            b"\"x\"",
            b"",
            b"{",
            b"null",
        ] {
            assert!(!is_one_object(bad), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn numbers_are_not_interpreted() {
        for n in [
            "123456789012345678901234567890",
            "-123456789012345678901234567890",
            "1e400",
            "-1.5E+400",
            "0.000000000000000000000000000000000000000000000001e-400",
        ] {
            let big = "9".repeat(400);
            for n in [n, big.as_str()] {
                let body = format!(
                    r#"{{"jsonrpc":"2.0","id":{n},"method":"tools/call","params":{{"name":"a\"1","arguments":{{"n":[{n},"-1e999"]}}}}}}"#
                );
                let f = parse(body.as_bytes()).unwrap_or_else(|e| panic!("{n}: {e:?}"));
                assert_eq!(f.id.unwrap().of(body.as_bytes()), n.as_bytes());
                assert_eq!(
                    string_value(body.as_bytes(), f.name.unwrap()).unwrap(),
                    "a\"1"
                );
            }
        }
        // Still invalid: malformed numbers.
        for bad in ["01", "1.", "-", "1e", "+1", "--1"] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{bad},"method":"ping"}}"#);
            assert_eq!(parse(body.as_bytes()), Err(FrameError::Parse), "{bad}");
        }
    }

    #[test]
    fn batches_split_into_elements() {
        let body = br#" [ {"jsonrpc":"2.0","id":1,"method":"ping"} , {"jsonrpc":"2.0","method":"n","params":[1,[2]]} ] "#;
        let spans = batch_elements(body).unwrap();
        assert_eq!(spans.len(), 2);
        assert!(parse(spans[1].of(body)).unwrap().is_notification());
        assert_eq!(batch_elements(b"[]").unwrap().len(), 0);
    }

    #[test]
    fn meta_and_completion_refs() {
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"s__greet"},"argument":{"name":"x","value":"y"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;
        let f = parse(body).unwrap();
        assert_eq!(f.ref_name.unwrap().of(body), br#""s__greet""#);
        assert_eq!(f.ref_type.unwrap().of(body), br#""ref/prompt""#);
        assert_eq!(f.meta_version.unwrap().of(body), br#""2026-07-28""#);
        assert!(f.name.is_none(), "argument.name is not params.name");
    }
}
