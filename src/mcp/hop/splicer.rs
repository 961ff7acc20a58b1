//! Restoring the client's request id in a backend's response while it streams through.
//!
//! The gateway sends each upstream request with an id of its own (unique in the upstream
//! session). [`ResponseSplicer`] watches the response bytes (one JSON object, or an SSE
//! stream whose `data:` lines carry JSON-RPC messages) and replaces the top-level `"id"`
//! value equal to that upstream id with the client's original id. Everything else passes
//! through as slices of the chunks received: no copy, no parse tree. Inside strings it
//! jumps with `memchr`, and once the id is replaced the rest of a JSON body is forwarded
//! without looking at it.

use bytes::Bytes;

/// Where the splicer puts its output's pieces, in order.
pub trait Sink {
    fn push(&mut self, piece: Bytes);
    /// Drops every piece pushed so far.
    fn discard(&mut self);
}

impl Sink for Vec<Bytes> {
    fn push(&mut self, piece: Bytes) {
        Vec::push(self, piece);
    }

    fn discard(&mut self) {
        self.clear();
    }
}

impl Sink for crate::http::Pieces {
    fn push(&mut self, piece: Bytes) {
        crate::http::Pieces::push(self, piece);
    }

    fn discard(&mut self) {
        *self = crate::http::Pieces::default();
    }
}

/// In [`ResponseSplicer::with_json_lines`], a message ahead of the answer is held up to
/// this many bytes; one longer goes out as it is (as without that mode).
const MAX_HELD: usize = 64 << 10;

/// Longest id value captured for comparison; longer ones cannot be ours.
const MAX_ID: usize = 256;
/// Id values up to this long are captured without an allocation (the gateway's own
/// upstream ids, `"g<n>"`, always are).
const INLINE_ID: usize = 24;

/// An id value being captured: on the stack while short, on the heap beyond.
#[derive(Debug, Clone)]
struct IdBuf {
    inline: [u8; INLINE_ID],
    len: usize,
    heap: Vec<u8>,
}

impl IdBuf {
    fn new() -> IdBuf {
        IdBuf {
            inline: [0; INLINE_ID],
            len: 0,
            heap: Vec::new(),
        }
    }

    fn push(&mut self, c: u8) {
        if self.len < INLINE_ID {
            self.inline[self.len] = c;
        } else {
            if self.len == INLINE_ID {
                self.heap.extend_from_slice(&self.inline);
            }
            self.heap.push(c);
        }
        self.len += 1;
    }

    fn as_slice(&self) -> &[u8] {
        if self.len <= INLINE_ID {
            &self.inline[..self.len]
        } else {
            &self.heap
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn first(&self) -> Option<&u8> {
        self.as_slice().first()
    }

    fn into_bytes(self) -> Bytes {
        if self.len <= INLINE_ID {
            Bytes::copy_from_slice(&self.inline[..self.len])
        } else {
            Bytes::from(self.heap)
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Json {
    depth: u32,
    in_str: bool,
    esc: bool,
    /// At depth 1, the next string is a key.
    expect_key: bool,
    /// The key being read at depth 1 (only its first bytes matter).
    key: [u8; 6],
    key_len: usize,
    /// The last key at depth 1 was `id`; its value is next.
    id_next: bool,
    /// The last key at depth 1 was `result`.
    result_next: bool,
    /// Our id was handled (replaced or found not ours).
    id_done: bool,
    /// The fields to add were inserted into this message's result.
    injected: bool,
    /// Just inserted after `{`: a comma is due unless the object is empty.
    pending_comma: bool,
    /// Capturing the id value: `Some(bytes so far)`.
    capture: Option<IdBuf>,
    /// The top-level id of this message was handled: nothing left to do in it.
    done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// At the start of a line, reading the field name.
    Field,
    /// Inside a `data:` line's payload.
    Data,
    /// Inside another field's value or a comment.
    Other,
}

/// Restores one response's id; feed it the response chunks in order.
pub struct ResponseSplicer {
    upstream_id: Bytes,
    client_id: Bytes,
    sse: bool,
    json: Json,
    line: Line,
    field: [u8; 5],
    field_len: usize,
    /// Skip one space after `data:`.
    skip_space: bool,
    prev_cr: bool,
    /// Set when a message with our id has been seen (the response arrived).
    answered: bool,
    /// Set when a message had an `error` member (the response was an error).
    errored: bool,
    /// The backend's own requests to the client seen so far (renamed by `other_ids`).
    requests_seen: u32,
    /// SSE: the event carrying our response ended (a blank line followed it).
    answer_ended: bool,
    /// Renames the ids of other messages in an SSE answer: the backend's own requests to
    /// the client (sampling, elicitation, roots), which need ids unique per client.
    other_ids: Option<IdMapper>,
    /// Members added at the start of the `result` object (`"resultType":"complete",…`
    /// for stateless-era clients of session-era backends).
    inject: Option<Bytes>,
    /// JSON: messages ahead of the answer are dropped, see [`Self::with_json_lines`].
    lines: bool,
    /// What was read of a message not yet known to be the answer (`lines` only).
    held: Vec<Bytes>,
    held_len: usize,
}

/// Gives a backend-chosen id a gateway-unique replacement (and remembers the pair).
pub type IdMapper = Box<dyn FnMut(&[u8]) -> Bytes + Send>;

impl std::fmt::Debug for ResponseSplicer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseSplicer")
            .field("sse", &self.sse)
            .field("answered", &self.answered)
            .finish_non_exhaustive()
    }
}

impl ResponseSplicer {
    /// `upstream_id` and `client_id` are raw JSON values (`"g-7"`, `1`).
    pub fn new(upstream_id: Bytes, client_id: Bytes, sse: bool) -> ResponseSplicer {
        ResponseSplicer {
            upstream_id,
            client_id,
            sse,
            json: Json::default(),
            line: Line::Field,
            field: [0; 5],
            field_len: 0,
            skip_space: false,
            prev_cr: false,
            errored: false,
            answered: false,
            requests_seen: 0,
            answer_ended: false,
            other_ids: None,
            inject: None,
            lines: false,
            held: Vec::new(),
            held_len: 0,
        }
    }

    /// A splicer for the same call that has read nothing yet (its ids and members).
    pub fn restarted(&self) -> ResponseSplicer {
        ResponseSplicer {
            inject: self.inject.clone(),
            ..ResponseSplicer::new(self.upstream_id.clone(), self.client_id.clone(), self.sse)
        }
    }

    /// A JSON answer that streams may carry more than its one message: some servers
    /// write a notification (progress, a log line) ahead of the response, one message a
    /// line, in an `application/json` body. A JSON client has room for one message, so
    /// each message is held until it turns out to be the answer; one that ends without
    /// our id is dropped and the next one read. (An SSE answer has nothing to drop.)
    pub fn with_json_lines(mut self) -> ResponseSplicer {
        self.lines = !self.sse;
        self
    }

    /// Adds `members` (JSON object members, no braces) at the start of the result object.
    pub fn with_result_members(mut self, members: Bytes) -> ResponseSplicer {
        self.inject = Some(members);
        self
    }

    /// Nothing is left to do in the current message once the id is handled and the
    /// result has its members.
    fn update_done(&mut self) {
        self.json.done = self.json.id_done
            && (self.answered || !self.lines)
            && (self.inject.is_none() || (self.json.injected && !self.json.pending_comma));
    }

    /// Also renames the ids of the backend's own requests in an SSE answer.
    pub fn with_other_ids(mut self, mapper: IdMapper) -> ResponseSplicer {
        self.other_ids = Some(mapper);
        self
    }

    /// Puts another client id into the response still to come: a multi-round-trip
    /// request's retry carries a new id, and the waiting call answers it.
    pub fn set_client_id(&mut self, client_id: Bytes) {
        self.client_id = client_id;
    }

    /// Whether the SSE event carrying the response has ended (its blank line went by).
    pub fn answer_ended(&self) -> bool {
        self.answer_ended
    }

    /// How many of the backend's own requests to the client went by.
    pub fn requests_seen(&self) -> u32 {
        self.requests_seen
    }

    /// Whether the response to our request has gone by.
    pub fn answered(&self) -> bool {
        self.answered
    }

    /// Whether a message of the answer was a JSON-RPC error.
    pub fn errored(&self) -> bool {
        self.errored
    }

    /// Processes `chunk`, appending what to send to `out`.
    pub fn feed(&mut self, chunk: Bytes, out: &mut impl Sink) {
        if !self.sse {
            if self.json.done {
                out.push(chunk);
                return;
            }
            let mut seg = 0;
            if self.lines {
                let mut held = std::mem::take(&mut self.held);
                self.held_len += chunk.len();
                self.json_bytes(&chunk, 0, chunk.len(), &mut seg, &mut held);
                self.flush_tail(&chunk, seg, &mut held);
                self.release(held, out);
                return;
            }
            self.json_bytes(&chunk, 0, chunk.len(), &mut seg, out);
            self.flush_tail(&chunk, seg, out);
            return;
        }
        let mut seg = 0;
        let mut i = 0;
        let n = chunk.len();
        while i < n {
            let c = chunk[i];
            if c == b'\n' && self.prev_cr {
                // The LF of a CRLF ending: the line already ended at CR.
                self.prev_cr = false;
                i += 1;
                continue;
            }
            self.prev_cr = false;
            match self.line {
                Line::Field => {
                    if c == b'\n' || c == b'\r' {
                        self.prev_cr = c == b'\r';
                        if self.field_len == 0 {
                            // A blank line ends the event.
                            self.end_json_text(&chunk, i, &mut seg, out);
                            self.json = Json::default();
                            self.answer_ended |= self.answered;
                        }
                        self.field_len = 0;
                        i += 1;
                        continue;
                    }
                    if self.field_len < self.field.len() {
                        self.field[self.field_len] = c;
                    }
                    self.field_len += 1;
                    if c == b':' {
                        if self.field_len == 5 && &self.field[..4] == b"data" {
                            self.line = Line::Data;
                            self.skip_space = true;
                        } else {
                            self.line = Line::Other;
                        }
                    } else if self.field_len > 5 {
                        self.line = Line::Other;
                    }
                    i += 1;
                }
                Line::Other => match memchr::memchr2(b'\n', b'\r', &chunk[i..]) {
                    Some(k) => {
                        i += k;
                        self.prev_cr = chunk[i] == b'\r';
                        self.line = Line::Field;
                        self.field_len = 0;
                        i += 1;
                    }
                    None => i = n,
                },
                Line::Data => {
                    if self.skip_space {
                        self.skip_space = false;
                        if c == b' ' {
                            i += 1;
                            continue;
                        }
                    }
                    let end = memchr::memchr2(b'\n', b'\r', &chunk[i..]).map_or(n, |k| i + k);
                    if !self.json.done {
                        self.json_bytes(&chunk, i, end, &mut seg, out);
                    }
                    i = end;
                    if i < n {
                        // Line end: a data line continues the same JSON text.
                        self.prev_cr = chunk[i] == b'\r';
                        self.line = Line::Field;
                        self.field_len = 0;
                        i += 1;
                    }
                }
            }
        }
        self.flush_tail(&chunk, seg, out);
    }

    /// Sends the rest of `chunk` from `seg`, unless an id being captured holds it.
    fn flush_tail(&self, chunk: &Bytes, seg: usize, out: &mut impl Sink) {
        if self.json.capture.is_none() && seg < chunk.len() {
            out.push(chunk.slice(seg..));
        }
    }

    /// The JSON text of an SSE event ended: an id value still being captured is complete.
    fn end_json_text(&mut self, chunk: &Bytes, at: usize, seg: &mut usize, out: &mut impl Sink) {
        if self.json.capture.is_some() {
            self.finish_capture(chunk, at, seg, out);
        }
    }

    /// Sends what is held once it is the answer, or once it is too long to hold (the
    /// rest then goes as without [`Self::with_json_lines`]).
    fn release(&mut self, mut held: Vec<Bytes>, out: &mut impl Sink) {
        if self.answered || self.held_len > MAX_HELD {
            self.lines = self.answered;
            for piece in held.drain(..) {
                out.push(piece);
            }
            self.held_len = 0;
            self.update_done();
        }
        self.held = held;
    }

    /// Runs the JSON state machine over `chunk[from..to]`: each step handles the state
    /// the machine is in (capturing an id, inside a string, a comma owed after inserted
    /// members, deep inside the message, or at its top level) and says where to go on.
    fn json_bytes(
        &mut self,
        chunk: &Bytes,
        from: usize,
        to: usize,
        seg: &mut usize,
        out: &mut impl Sink,
    ) {
        let mut i = from;
        while i < to {
            if self.json.done {
                return;
            }
            i = if self.json.capture.is_some() {
                self.capture_step(chunk, i, seg, out)
            } else if self.json.in_str {
                self.string_step(chunk, i, to)
            } else if self.json.pending_comma && !self.comma_step(chunk, i, seg, out) {
                i + 1
            } else if self.json.done {
                return;
            } else if self.json.depth > 1 {
                match self.deep_step(chunk, i, to) {
                    Some(next) => next,
                    None => return,
                }
            } else {
                self.top_level_byte(chunk, i, seg, out);
                i + 1
            };
        }
    }

    /// One byte of the id value being captured; where to go on.
    #[inline]
    fn capture_step(
        &mut self,
        chunk: &Bytes,
        i: usize,
        seg: &mut usize,
        out: &mut impl Sink,
    ) -> usize {
        let c = chunk[i];
        let Some(cap) = &mut self.json.capture else {
            return i + 1;
        };
        if cap.first() == Some(&b'"') {
            cap.push(c);
            if self.json.esc {
                self.json.esc = false;
            } else if c == b'\\' {
                self.json.esc = true;
            } else if c == b'"' && cap.len() > 1 {
                *seg = i + 1;
                self.finish_capture(chunk, i + 1, seg, out);
            }
            if cap_too_long(&self.json.capture) {
                self.give_up_capture(chunk, i + 1, seg, out);
            }
            return i + 1;
        }
        if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
            // The byte ends the value; it is looked at again in the next state.
            self.finish_capture(chunk, i, seg, out);
            return i;
        }
        cap.push(c);
        if cap_too_long(&self.json.capture) {
            self.give_up_capture(chunk, i + 1, seg, out);
        }
        i + 1
    }

    /// Inside a string: jump to the next quote or backslash (remembering a top-level
    /// key's first bytes); where to go on.
    #[inline]
    fn string_step(&mut self, chunk: &Bytes, i: usize, to: usize) -> usize {
        if self.json.esc {
            self.json.esc = false;
            self.key_byte(chunk[i]);
            return i + 1;
        }
        let rest = &chunk[i..to];
        let Some(k) = memchr::memchr2(b'"', b'\\', rest) else {
            for &b in rest {
                self.key_byte(b);
            }
            return to;
        };
        for &b in &rest[..k] {
            self.key_byte(b);
        }
        let at = i + k;
        if chunk[at] == b'\\' {
            self.json.esc = true;
        } else {
            self.json.in_str = false;
            if self.json.expect_key && self.json.depth == 1 {
                self.json.expect_key = false;
                self.json.id_next = self.json.key_len == 2 && &self.json.key[..2] == b"id";
                self.json.result_next = self.json.key_len == 6 && &self.json.key[..6] == b"result";
                self.errored |= self.json.key_len == 5 && &self.json.key[..5] == b"error";
            }
        }
        at + 1
    }

    /// After members inserted at the start of `result`: whitespace is skipped (`false`),
    /// then a comma goes in unless the object was empty (`true`: the byte is then
    /// handled by the next state).
    #[inline]
    fn comma_step(
        &mut self,
        chunk: &Bytes,
        i: usize,
        seg: &mut usize,
        out: &mut impl Sink,
    ) -> bool {
        let c = chunk[i];
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            return false;
        }
        self.json.pending_comma = false;
        if c != b'}' {
            out.push(chunk.slice(*seg..i));
            out.push(Bytes::from_static(b","));
            *seg = i;
        }
        self.update_done();
        true
    }

    /// Deep inside the message nothing but strings and nesting matter: jump to the next
    /// quote or bracket. `None` when the chunk has none.
    #[inline]
    fn deep_step(&mut self, chunk: &Bytes, i: usize, to: usize) -> Option<usize> {
        let k = chunk[i..to]
            .iter()
            .position(|b| matches!(b, b'"' | b'{' | b'[' | b'}' | b']'))?;
        let at = i + k;
        match chunk[at] {
            b'"' => {
                self.json.in_str = true;
                self.json.key_len = 0;
            }
            b'{' | b'[' => self.json.depth += 1,
            _ => self.json.depth -= 1,
        }
        Some(at + 1)
    }

    /// One byte at the message's top level (depth 0 or 1): keys, the id's value, the
    /// start of `result`, nesting.
    #[inline]
    fn top_level_byte(&mut self, chunk: &Bytes, i: usize, seg: &mut usize, out: &mut impl Sink) {
        let c = chunk[i];
        match c {
            b'"' => {
                if self.json.id_next && self.json.depth == 1 {
                    self.start_capture(chunk, i, seg, out);
                    if let Some(cap) = &mut self.json.capture {
                        cap.push(c);
                    }
                } else {
                    self.json.in_str = true;
                    self.json.key_len = 0;
                }
            }
            b'{' | b'[' => {
                let result_object = c == b'{' && self.json.depth == 1 && self.json.result_next;
                self.json.depth += 1;
                self.json.id_next = false;
                self.json.result_next = false;
                self.json.expect_key = c == b'{' && self.json.depth == 1;
                if result_object
                    && !self.json.injected
                    && let Some(members) = self.inject.clone()
                {
                    out.push(chunk.slice(*seg..i + 1));
                    out.push(members);
                    *seg = i + 1;
                    self.json.injected = true;
                    self.json.pending_comma = true;
                }
            }
            b'}' | b']' => {
                self.json.depth = self.json.depth.saturating_sub(1);
                if self.json.depth == 0 && self.lines && !self.answered {
                    // A message ahead of the answer: dropped, and the next one read.
                    out.discard();
                    *seg = i + 1;
                    self.json = Json::default();
                    self.errored = false;
                    self.held_len = chunk.len() - (i + 1);
                } else if self.json.depth == 0 {
                    // End of the message without our id: nothing more to find in it.
                    self.json.done = !self.sse;
                }
            }
            b',' => {
                if self.json.depth == 1 {
                    self.json.expect_key = true;
                    self.json.id_next = false;
                    self.json.result_next = false;
                }
            }
            b':' | b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => {
                if self.json.id_next && self.json.depth == 1 {
                    self.start_capture(chunk, i, seg, out);
                    if let Some(cap) = &mut self.json.capture {
                        cap.push(c);
                    }
                }
            }
        }
    }

    fn key_byte(&mut self, b: u8) {
        if self.json.expect_key && self.json.depth == 1 {
            if self.json.key_len < self.json.key.len() {
                self.json.key[self.json.key_len] = b;
            }
            self.json.key_len += 1;
        }
    }

    fn start_capture(&mut self, chunk: &Bytes, at: usize, seg: &mut usize, out: &mut impl Sink) {
        if at > *seg {
            out.push(chunk.slice(*seg..at));
        }
        *seg = at;
        self.json.capture = Some(IdBuf::new());
        self.json.id_next = false;
    }

    /// The id value is complete: emit the client's id if it is ours, else as it was.
    fn finish_capture(&mut self, _chunk: &Bytes, at: usize, seg: &mut usize, out: &mut impl Sink) {
        if let Some(cap) = self.json.capture.take() {
            if cap.as_slice() == &self.upstream_id[..] {
                out.push(self.client_id.clone());
                self.answered = true;
            } else if let (true, Some(map)) = (self.sse, self.other_ids.as_mut()) {
                self.requests_seen += 1;
                out.push(map(cap.as_slice()));
            } else {
                out.push(cap.into_bytes());
            }
        }
        *seg = at;
        self.json.id_done = true;
        self.update_done();
    }

    fn give_up_capture(&mut self, _chunk: &Bytes, at: usize, seg: &mut usize, out: &mut impl Sink) {
        if let Some(cap) = self.json.capture.take() {
            out.push(cap.into_bytes());
        }
        *seg = at;
        self.json.id_done = true;
        self.update_done();
    }
}

fn cap_too_long(cap: &Option<IdBuf>) -> bool {
    cap.as_ref().is_some_and(|c| c.len() > MAX_ID)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` split at every pair of positions and checks the output each time.
    fn check_all_splits(input: &[u8], expected: &[u8], sse: bool) {
        for a in 0..=input.len() {
            for b in a..=input.len() {
                let mut s = ResponseSplicer::new(
                    Bytes::from_static(b"\"g-1\""),
                    Bytes::from_static(b"42"),
                    sse,
                );
                let mut out = Vec::new();
                for part in [&input[..a], &input[a..b], &input[b..]] {
                    s.feed(Bytes::copy_from_slice(part), &mut out);
                }
                let joined: Vec<u8> = out.concat();
                assert_eq!(
                    String::from_utf8_lossy(&joined),
                    String::from_utf8_lossy(expected),
                    "split at {a},{b}"
                );
            }
        }
    }

    #[test]
    fn json_body_id_first_or_last() {
        check_all_splits(
            br#"{"jsonrpc":"2.0","id":"g-1","result":{"id":"g-1","x":"\"id\":\"g-1\""}}"#,
            br#"{"jsonrpc":"2.0","id":42,"result":{"id":"g-1","x":"\"id\":\"g-1\""}}"#,
            false,
        );
        check_all_splits(
            br#"{"result":{"content":[{"type":"text","text":"a\\\"b"}]},"jsonrpc":"2.0","id" : "g-1"}"#,
            br#"{"result":{"content":[{"type":"text","text":"a\\\"b"}]},"jsonrpc":"2.0","id" : 42}"#,
            false,
        );
    }

    /// Upstream id `"g-1"`, client id `42`, JSON, in the lines mode.
    fn lines_splicer() -> ResponseSplicer {
        ResponseSplicer::new(
            Bytes::from_static(b"\"g-1\""),
            Bytes::from_static(b"42"),
            false,
        )
        .with_json_lines()
    }

    /// As `check_all_splits`, with [`ResponseSplicer::with_json_lines`].
    fn check_all_splits_lines(input: &[u8], expected: &[u8]) -> ResponseSplicer {
        let mut last = None;
        for a in 0..=input.len() {
            for b in a..=input.len() {
                let mut s = lines_splicer();
                let mut out = Vec::new();
                for part in [&input[..a], &input[a..b], &input[b..]] {
                    s.feed(Bytes::copy_from_slice(part), &mut out);
                }
                assert_eq!(
                    String::from_utf8_lossy(&out.concat()),
                    String::from_utf8_lossy(expected),
                    "split at {a},{b}"
                );
                last = Some(s);
            }
        }
        last.expect("at least one split")
    }

    #[test]
    fn json_lines_drop_the_messages_ahead_of_the_answer() {
        // The conformance repository's reference server writes a progress notification
        // and then the response, a line each, in one application/json body.
        let s = check_all_splits_lines(
            b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":\"t\",\"progress\":50}}\n{\"jsonrpc\":\"2.0\",\"id\":\"g-1\",\"result\":{\"content\":[]}}",
            b"\n{\"jsonrpc\":\"2.0\",\"id\":42,\"result\":{\"content\":[]}}",
        );
        assert!(s.answered() && !s.errored());
        // A message with another id (an error among them) goes too, and what follows
        // the answer passes as it is.
        let s = check_all_splits_lines(
            br#"{"jsonrpc":"2.0","id":"g-0","error":{"code":1,"message":"x"}}{"id":"g-1","result":{}} {"x":1}"#,
            br#"{"id":42,"result":{}} {"x":1}"#,
        );
        assert!(s.answered() && !s.errored());
        // One message, the answer: as without the mode.
        check_all_splits_lines(
            br#"{"result":{"a":"}{"},"jsonrpc":"2.0","id":"g-1"}"#,
            br#"{"result":{"a":"}{"},"jsonrpc":"2.0","id":42}"#,
        );
        // No answer: nothing goes out.
        let s = check_all_splits_lines(br#"{"method":"m"} {"id":"g-2","result":{}}"#, b"");
        assert!(!s.answered());
    }

    #[test]
    fn json_lines_hold_at_most_max_held_bytes() {
        let long = format!(
            r#"{{"jsonrpc":"2.0","method":"m","params":{{"x":"{}"}}}}"#,
            "y".repeat(MAX_HELD)
        );
        let mut s = lines_splicer();
        let mut out = Vec::new();
        let (first, open) = (40_000, long.len() - 4);
        s.feed(Bytes::copy_from_slice(&long.as_bytes()[..first]), &mut out);
        assert!(out.is_empty(), "held while under the bound");
        s.feed(
            Bytes::copy_from_slice(&long.as_bytes()[first..open]),
            &mut out,
        );
        let sent: usize = out.iter().map(Bytes::len).sum();
        assert_eq!(sent, open, "past the bound, what was held goes out");
        s.feed(Bytes::copy_from_slice(&long.as_bytes()[open..]), &mut out);
        s.feed(Bytes::from_static(br#"{"id":"g-1"}"#), &mut out);
        // The rest as without the mode: the body is passed on once its first message
        // has ended.
        let joined = out.concat();
        assert!(joined == [long.as_bytes(), br#"{"id":"g-1"}"#].concat());
        assert!(!s.answered());
        // A message ending in the feed that crossed the bound is still dropped (the bound
        // is checked once a feed: it holds at most one piece more).
        let mut s = lines_splicer();
        let mut out = Vec::new();
        s.feed(Bytes::copy_from_slice(&long.as_bytes()[..first]), &mut out);
        s.feed(Bytes::copy_from_slice(&long.as_bytes()[first..]), &mut out);
        s.feed(Bytes::from_static(br#"{"id":"g-1"}"#), &mut out);
        assert_eq!(out.concat(), br#"{"id":42}"#);
        assert!(s.answered());
    }

    #[test]
    fn other_ids_are_left_alone() {
        check_all_splits(
            br#"{"jsonrpc":"2.0","id":"g-10","result":{}}"#,
            br#"{"jsonrpc":"2.0","id":"g-10","result":{}}"#,
            false,
        );
        // Longer than the inline capture, and beyond the longest id captured at all.
        let long = format!(
            r#"{{"jsonrpc":"2.0","id":"{}","result":{{}}}}"#,
            "x".repeat(40)
        );
        check_all_splits(long.as_bytes(), long.as_bytes(), false);
        let longest = format!(
            r#"{{"jsonrpc":"2.0","id":{},"result":{{}}}}"#,
            "7".repeat(300)
        );
        check_all_splits(longest.as_bytes(), longest.as_bytes(), false);
    }

    #[test]
    fn sse_events_each_checked() {
        let input = b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1}}\n\n: comment\ndata: {\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"sampling/createMessage\"}\n\nid: 7\ndata: {\"jsonrpc\":\"2.0\",\r\ndata: \"id\":\"g-1\",\"result\":{}}\r\n\r\n";
        let expected = b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1}}\n\n: comment\ndata: {\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"sampling/createMessage\"}\n\nid: 7\ndata: {\"jsonrpc\":\"2.0\",\r\ndata: \"id\":42,\"result\":{}}\r\n\r\n";
        check_all_splits(input, expected, true);
        let mut s = ResponseSplicer::new(
            Bytes::from_static(b"\"g-1\""),
            Bytes::from_static(b"42"),
            true,
        );
        let mut out = Vec::new();
        s.feed(Bytes::copy_from_slice(input), &mut out);
        assert!(s.answered());
    }

    #[test]
    fn result_members_are_added_for_stateless_clients() {
        let cases: [(&[u8], &[u8]); 4] = [
            (
                br#"{"jsonrpc":"2.0","id":"g-1","result":{"content":[],"isError":false}}"#,
                br#"{"jsonrpc":"2.0","id":42,"result":{"resultType":"complete","content":[],"isError":false}}"#,
            ),
            (
                br#"{"result": { } ,"id":"g-1","jsonrpc":"2.0"}"#,
                br#"{"result": {"resultType":"complete" } ,"id":42,"jsonrpc":"2.0"}"#,
            ),
            (
                br#"{"jsonrpc":"2.0","id":"g-1","error":{"code":1,"message":"x"}}"#,
                br#"{"jsonrpc":"2.0","id":42,"error":{"code":1,"message":"x"}}"#,
            ),
            (
                br#"{"id":"g-1","result":{"result":{"a":1}},"x":{"result":{}}}"#,
                br#"{"id":42,"result":{"resultType":"complete","result":{"a":1}},"x":{"result":{}}}"#,
            ),
        ];
        // With the JSON lines mode too, where a message with a result ahead of the answer
        // goes with the members it was given.
        let ahead: (&[u8], &[u8]) = (
            br#"{"id":"g-0","result":{"a":0}} {"id":"g-1","result":{"a":1}}"#,
            br#" {"id":42,"result":{"resultType":"complete","a":1}}"#,
        );
        let runs = cases
            .iter()
            .map(|c| (*c, false))
            .chain(cases.iter().map(|c| (*c, true)))
            .chain([(ahead, true)]);
        for ((input, expected), lines) in runs {
            for a in 0..=input.len() {
                let mut s = ResponseSplicer::new(
                    Bytes::from_static(b"\"g-1\""),
                    Bytes::from_static(b"42"),
                    false,
                )
                .with_result_members(Bytes::from_static(br#""resultType":"complete""#));
                if lines {
                    s = s.with_json_lines();
                }
                let mut out = Vec::new();
                s.feed(Bytes::copy_from_slice(&input[..a]), &mut out);
                s.feed(Bytes::copy_from_slice(&input[a..]), &mut out);
                assert_eq!(
                    String::from_utf8(out.concat()).unwrap(),
                    String::from_utf8(expected.to_vec()).unwrap(),
                    "split at {a}, lines {lines}"
                );
            }
        }
    }

    #[test]
    fn the_backends_own_requests_get_new_ids() {
        let input = b"data: {\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"sampling/createMessage\"}\n\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"g-1\",\"result\":{}}\n\n";
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        let mut s = ResponseSplicer::new(
            Bytes::from_static(b"\"g-1\""),
            Bytes::from_static(b"7"),
            true,
        )
        .with_other_ids(Box::new(move |orig: &[u8]| {
            record.lock().unwrap().push(orig.to_vec());
            Bytes::from_static(b"\"m1\"")
        }));
        let mut out = Vec::new();
        s.feed(Bytes::copy_from_slice(input), &mut out);
        let text = String::from_utf8(out.concat()).unwrap();
        assert!(text.contains("\"id\":\"m1\",\"method\""), "{text}");
        assert!(text.contains("\"id\":7,\"result\""), "{text}");
        assert_eq!(*seen.lock().unwrap(), vec![b"0".to_vec()]);
    }

    #[test]
    fn numeric_upstream_ids_and_string_client_ids() {
        for a in 0..30 {
            let input = br#"{"id":  17 ,"result":null}"#;
            let mut s = ResponseSplicer::new(
                Bytes::from_static(b"17"),
                Bytes::from_static(b"\"abc\""),
                false,
            );
            let mut out = Vec::new();
            let a = a.min(input.len());
            s.feed(Bytes::copy_from_slice(&input[..a]), &mut out);
            s.feed(Bytes::copy_from_slice(&input[a..]), &mut out);
            assert_eq!(out.concat(), br#"{"id":  "abc" ,"result":null}"#.to_vec());
            assert!(s.answered());
        }
    }

    #[test]
    fn untouched_chunks_are_not_copied() {
        let big = Bytes::from(vec![b'x'; 1 << 20]);
        let mut s = ResponseSplicer::new(
            Bytes::from_static(b"\"g-1\""),
            Bytes::from_static(b"1"),
            false,
        );
        let mut out = Vec::new();
        s.feed(
            Bytes::from_static(br#"{"jsonrpc":"2.0","id":"g-1","result":{"t":""#),
            &mut out,
        );
        s.feed(big.clone(), &mut out);
        let last = out.last().unwrap();
        assert_eq!(last.as_ptr(), big.as_ptr(), "forwarded as the same buffer");
    }
}
