//! JSON-RPC frames on the hot path, without building a value tree.
//!
//! [`parse`] validates the whole body with simd-json on a scratch copy (the original is
//! never modified), then walks the original once to record the byte [`Span`]s of the
//! members the gateway routes on: `id`, `method`, `params.name`, `params.uri`, … The
//! upstream request is then the original body with a few spans replaced ([`splice`]):
//! arguments are copied as bytes, never decoded.

use std::borrow::Cow;
use std::cell::RefCell;

use bytes::{Bytes, BytesMut};

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

/// Why a body is not a usable frame. Small and concrete: no boxing on the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Not JSON at all (-32700).
    Parse,
    /// JSON, but not a JSON-RPC message (-32600).
    Invalid(&'static str),
    /// A JSON array: a batch, handled by the caller.
    Batch,
}

/// The routing-relevant parts of one JSON-RPC message, as spans into the body.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The raw `id` value (number, string or null), if present.
    pub id: Option<Span>,
    /// The `method` string's contents (between the quotes).
    pub method: Option<Span>,
    pub has_result: bool,
    pub has_error: bool,
    pub params: Option<Span>,
    /// `params.name` as a JSON string literal, quotes included.
    pub name: Option<Span>,
    /// `params.uri` as a JSON string literal.
    pub uri: Option<Span>,
    /// `params.cursor` as a JSON string literal.
    pub cursor: Option<Span>,
    /// `params.requestId` (in `notifications/cancelled`).
    pub request_id: Option<Span>,
    /// `params._meta.progressToken`.
    pub progress_token: Option<Span>,
    /// `params._meta["io.modelcontextprotocol/protocolVersion"]` as a string literal.
    pub meta_version: Option<Span>,
    /// `params.ref.type`, `params.ref.name`, `params.ref.uri` (completion/complete).
    pub ref_type: Option<Span>,
    pub ref_name: Option<Span>,
    pub ref_uri: Option<Span>,
    /// `params.protocolVersion` (initialize).
    pub protocol_version: Option<Span>,
}

impl Frame {
    /// The method name, if this is a request or notification.
    pub fn method<'a>(&self, body: &'a [u8]) -> Option<&'a str> {
        self.method
            .and_then(|s| std::str::from_utf8(s.of(body)).ok())
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
    serde_json::from_slice::<String>(raw).ok().map(Cow::Owned)
}

thread_local! {
    /// Reused scratch space for simd-json, which parses in place.
    static SCRATCH: RefCell<(Vec<u8>, Option<simd_json::Buffers>)> = const { RefCell::new((Vec::new(), None)) };
}

/// Validates `body` as JSON and records the spans of one JSON-RPC message.
pub fn parse(body: &[u8]) -> Result<Frame, FrameError> {
    validate(body)?;
    let mut p = Scanner { b: body, i: 0 };
    p.ws();
    match p.peek() {
        Some(b'{') => {}
        Some(b'[') => return Err(FrameError::Batch),
        _ => return Err(FrameError::Invalid("a JSON-RPC message is a JSON object")),
    }
    let mut f = Frame::default();
    let mut version_ok = false;
    p.object(|p, key, value| {
        match key {
            b"jsonrpc" => version_ok = value.of(p.b) == b"\"2.0\"",
            b"id" => f.id = Some(value),
            b"method" => {
                if p.b[value.start] != b'"' {
                    return Err(FrameError::Invalid("method must be a string"));
                }
                f.method = Some(Span {
                    start: value.start + 1,
                    end: value.end - 1,
                });
            }
            b"result" => f.has_result = true,
            b"error" => f.has_error = true,
            b"params" => {
                f.params = Some(value);
                if p.b[value.start] == b'{' {
                    let mut q = Scanner {
                        b: p.b,
                        i: value.start,
                    };
                    q.object(|q, key, value| {
                        let is_str = q.b[value.start] == b'"';
                        match key {
                            b"name" if is_str => f.name = Some(value),
                            b"uri" if is_str => f.uri = Some(value),
                            b"cursor" if is_str => f.cursor = Some(value),
                            b"requestId" => f.request_id = Some(value),
                            b"protocolVersion" if is_str => f.protocol_version = Some(value),
                            b"_meta" if q.b[value.start] == b'{' => {
                                let mut m = Scanner {
                                    b: q.b,
                                    i: value.start,
                                };
                                m.object(|m, key, value| {
                                    match key {
                                        b"progressToken" => f.progress_token = Some(value),
                                        b"io.modelcontextprotocol/protocolVersion"
                                            if m.b[value.start] == b'"' =>
                                        {
                                            f.meta_version = Some(value)
                                        }
                                        _ => {}
                                    }
                                    Ok(())
                                })?;
                            }
                            b"ref" if q.b[value.start] == b'{' => {
                                let mut r = Scanner {
                                    b: q.b,
                                    i: value.start,
                                };
                                r.object(|r, key, value| {
                                    if r.b[value.start] == b'"' {
                                        match key {
                                            b"type" => f.ref_type = Some(value),
                                            b"name" => f.ref_name = Some(value),
                                            b"uri" => f.ref_uri = Some(value),
                                            _ => {}
                                        }
                                    }
                                    Ok(())
                                })?;
                            }
                            _ => {}
                        }
                        Ok(())
                    })?;
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    if !version_ok {
        return Err(FrameError::Invalid("jsonrpc must be \"2.0\""));
    }
    if let Some(id) = f.id {
        let first = body[id.start];
        if first != b'"'
            && first != b'-'
            && !first.is_ascii_digit()
            && body[id.start..id.end] != *b"null"
        {
            return Err(FrameError::Invalid("id must be a string or a number"));
        }
    }
    if f.method.is_none() && !f.has_result && !f.has_error {
        return Err(FrameError::Invalid(
            "a message needs a method, a result or an error",
        ));
    }
    Ok(f)
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

/// Full JSON validation with simd-json on a reused scratch copy.
fn validate(body: &[u8]) -> Result<(), FrameError> {
    SCRATCH.with(|cell| {
        let mut guard = cell.borrow_mut();
        let (scratch, buffers) = &mut *guard;
        scratch.clear();
        scratch.extend_from_slice(body);
        let buffers = buffers.get_or_insert_with(|| simd_json::Buffers::new(body.len()));
        simd_json::to_tape_with_buffers(scratch, buffers)
            .map(|_| ())
            .map_err(|_| FrameError::Parse)
    })
}

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

    /// Calls `each(key_bytes, value_span)` for every member of the object at `i`.
    fn object(
        &mut self,
        mut each: impl FnMut(&mut Self, &[u8], Span) -> Result<(), FrameError>,
    ) -> Result<(), FrameError> {
        self.ws();
        if self.peek() != Some(b'{') {
            return Err(FrameError::Parse);
        }
        self.i += 1;
        loop {
            self.ws();
            match self.peek() {
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'"') => {}
                _ => return Err(FrameError::Parse),
            }
            let key_start = self.i + 1;
            self.skip_string()?;
            let key_end = self.i - 1;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(FrameError::Parse);
            }
            self.i += 1;
            self.ws();
            let start = self.i;
            self.skip_value()?;
            let value = Span { start, end: self.i };
            let key_raw = &self.b[key_start..key_end];
            let decoded: Cow<[u8]> = if key_raw.contains(&b'\\') {
                match serde_json::from_slice::<String>(&self.b[key_start - 1..key_end + 1]) {
                    Ok(s) => Cow::Owned(s.into_bytes()),
                    Err(_) => return Err(FrameError::Parse),
                }
            } else {
                Cow::Borrowed(key_raw)
            };
            let after = self.i;
            each(self, &decoded, value)?;
            self.i = after;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(FrameError::Parse),
            }
        }
    }

    fn skip_string(&mut self) -> Result<(), FrameError> {
        debug_assert_eq!(self.peek(), Some(b'"'));
        self.i += 1;
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(());
                }
                b'\\' => self.i += 2,
                _ => self.i += 1,
            }
        }
        Err(FrameError::Parse)
    }

    fn skip_value(&mut self) -> Result<(), FrameError> {
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'{') | Some(b'[') => {
                let mut depth = 0usize;
                while let Some(&c) = self.b.get(self.i) {
                    match c {
                        b'"' => {
                            self.skip_string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
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
    let extra: usize = replacements.iter().map(|(_, r)| r.len()).sum();
    let mut out = BytesMut::with_capacity(body.len() + extra);
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
pub fn json_string(s: &str) -> Vec<u8> {
    // serde_json escapes exactly what JSON requires.
    serde_json::to_vec(s).unwrap_or_else(|_| b"\"\"".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

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
