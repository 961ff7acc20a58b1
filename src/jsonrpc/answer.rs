//! The one answer reader: where the response to a request is in the answer the client
//! will read, a JSON body or an event stream, and that answer with the response
//! replaced. The result hooks (guardrails) and the policies that see results read an
//! answer through it, over the same event reader as the hop's streams
//! ([`super::sse`]): every line ending, `data` split over lines, comments, `id` and
//! `retry` lines, events before and after the response.
//!
//! An answer in which the response cannot be found one way (none, two, or a message no
//! reader reads one way) is [`Unfound`]: a hook's failure mode decides on it, and the
//! bytes are never passed on as if they had been seen.

use std::borrow::Cow;
use std::ops::Range;

use bytes::{Bytes, BytesMut};

use super::frame;
use super::sse;

/// The response found in an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found<'a> {
    /// The bytes that carry it: the whole of a JSON body, or its whole event (lines and
    /// blank line) in a stream.
    pub range: Range<usize>,
    /// The response message itself (a stream's data lines joined).
    pub message: Cow<'a, [u8]>,
    /// Its event's `event` and `id` fields, kept when the event is rewritten.
    name: Option<String>,
    id: Option<Vec<u8>>,
}

/// Why no response could be read in an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unfound(pub &'static str);

impl std::fmt::Display for Unfound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

fn is_response(message: &[u8]) -> bool {
    frame::parse(message).is_ok_and(|f| f.is_response())
}

/// The response in `answer`: the body itself when it is JSON (`stream` false), else the
/// one event of the stream whose data is a JSON-RPC response.
pub fn response(answer: &[u8], stream: bool) -> Result<Found<'_>, Unfound> {
    if !stream {
        let message = answer.trim_ascii();
        if !is_response(message) {
            return Err(Unfound("the answer is not a JSON-RPC response"));
        }
        return Ok(Found {
            range: 0..answer.len(),
            message: Cow::Borrowed(message),
            name: None,
            id: None,
        });
    }
    let mut found: Option<Found<'_>> = None;
    for event in sse::placed(answer) {
        let Some(data) = event.data else { continue };
        // Data split over lines is joined with line feeds: white space around the JSON.
        let data = match data.trim_ascii() {
            t if t.len() == data.len() => data,
            t => t.to_vec(),
        };
        if event.name.as_deref().is_some_and(|n| n != "message") || !is_response(&data) {
            continue;
        }
        if found.is_some() {
            return Err(Unfound("the stream carries more than one response"));
        }
        found = Some(Found {
            range: event.range,
            message: Cow::Owned(data),
            name: event.name,
            id: event.id,
        });
    }
    found.ok_or(Unfound("the stream carries no response"))
}

/// `answer` with the response `found` in it replaced by `message` (one JSON text, on
/// one line): a JSON body becomes `message`; a stream's event is written anew, with its
/// `event` and `id` fields, everything around it as it came.
pub fn replaced(answer: &[u8], found: &Found<'_>, stream: bool, message: &[u8]) -> Bytes {
    if !stream {
        return Bytes::copy_from_slice(message);
    }
    let mut out = BytesMut::with_capacity(answer.len() + message.len() + 16);
    out.extend_from_slice(&answer[..found.range.start]);
    if let Some(name) = &found.name {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\n");
    }
    if let Some(id) = &found.id {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(id);
        out.extend_from_slice(b"\n");
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(message);
    out.extend_from_slice(b"\n\n");
    out.extend_from_slice(&answer[found.range.end..]);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// An event stream read as the HTML standard says, character by character, written
    /// apart from [`sse`]: the data of each dispatched event with its name.
    fn reference(text: &[u8]) -> Vec<(String, Vec<u8>)> {
        let text = text.strip_prefix("\u{feff}".as_bytes()).unwrap_or(text);
        let mut lines = Vec::new();
        let mut line = Vec::new();
        let mut i = 0;
        while i < text.len() {
            match text[i] {
                b'\r' => {
                    lines.push(std::mem::take(&mut line));
                    if text.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                }
                b'\n' => lines.push(std::mem::take(&mut line)),
                c => line.push(c),
            }
            i += 1;
        }
        let (mut out, mut data, mut name) = (Vec::new(), Vec::<u8>::new(), String::new());
        for l in lines {
            if l.is_empty() {
                if !data.is_empty() {
                    data.pop();
                    let n = if name.is_empty() { "message" } else { &name };
                    out.push((n.to_string(), std::mem::take(&mut data)));
                }
                data.clear();
                name.clear();
                continue;
            }
            if l[0] == b':' {
                continue;
            }
            let (field, value) = match l.iter().position(|c| *c == b':') {
                Some(p) => {
                    let v = &l[p + 1..];
                    (&l[..p], v.strip_prefix(b" ").unwrap_or(v))
                }
                None => (&l[..], &b""[..]),
            };
            match field {
                b"data" => {
                    data.extend_from_slice(value);
                    data.push(b'\n');
                }
                b"event" => name = String::from_utf8_lossy(value).into_owned(),
                _ => {}
            }
        }
        out
    }

    const RESULT: &str =
        r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"mail a@b.c"}]}}"#;

    /// One event's lines: the message's JSON split over `data:` lines at `cuts`, with
    /// comments, `id:` and `retry:` lines among them.
    fn event(message: &str, cuts: &[usize], extras: &[u8], colon_space: bool) -> Vec<String> {
        let mut lines = Vec::new();
        let mut at = 0;
        // A sender splits between tokens: after a `{`, `[`, `,` or `:` (none is in a
        // string of these messages), or at either end.
        let places: Vec<usize> = (0..=message.len())
            .filter(|&p| {
                p == 0 || p == message.len() || b"{[,:".contains(&message.as_bytes()[p - 1])
            })
            .collect();
        let mut points: Vec<usize> = cuts.iter().map(|c| places[c % places.len()]).collect();
        points.sort();
        points.dedup();
        for p in points.into_iter().chain([message.len()]) {
            if p < at {
                continue;
            }
            let sep = if colon_space { "data: " } else { "data:" };
            lines.push(format!("{sep}{}", &message[at..p]));
            at = p;
        }
        for (i, e) in extras.iter().enumerate() {
            let extra = match e % 4 {
                0 => ": keep-alive".to_string(),
                1 => format!("id: {i}"),
                2 => "retry: 1000".to_string(),
                _ => "event: message".to_string(),
            };
            let place = (*e as usize) % (lines.len() + 1);
            lines.insert(place, extra);
        }
        lines
    }

    fn join(events: &[Vec<String>], ending: &str) -> Vec<u8> {
        let mut out = String::new();
        for e in events {
            for l in e {
                out.push_str(l);
                out.push_str(ending);
            }
            out.push_str(ending);
        }
        out.into_bytes()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

        #[test]
        fn the_response_is_found_whatever_the_framing(
            ending in prop::sample::select(vec!["\n", "\r\n", "\r"]),
            cuts in prop::collection::vec(any::<usize>(), 0..4),
            extras in prop::collection::vec(any::<u8>(), 0..3),
            before in 0..3usize,
            after in 0..3usize,
            colon_space in any::<bool>(),
        ) {
            let note = r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}"#;
            let mut events = Vec::new();
            for _ in 0..before {
                events.push(vec![format!("data: {note}")]);
                events.push(vec![": ping".to_string()]);
            }
            events.push(event(RESULT, &cuts, &extras, colon_space));
            for _ in 0..after {
                events.push(vec!["event: message".to_string(), format!("data: {note}")]);
            }
            let text = join(&events, ending);
            let found = response(&text, true).expect("found");
            let theirs: Vec<Vec<u8>> = reference(&text)
                .into_iter()
                .map(|(_, d)| d.trim_ascii().to_vec())
                .collect();
            prop_assert!(theirs.contains(&found.message.to_vec()));
            prop_assert_eq!(
                crate::jsonrpc::read::value(&found.message),
                crate::jsonrpc::read::value(RESULT.as_bytes())
            );
            // Replaced, the stream reads the same but for the response.
            let new = br#"{"jsonrpc":"2.0","id":1,"result":{"content":[]}}"#;
            let again = replaced(&text, &found, true, new);
            let before_events = reference(&text);
            let after_events = reference(&again);
            prop_assert_eq!(before_events.len(), after_events.len());
            for (b, a) in before_events.iter().zip(&after_events) {
                if b.1.trim_ascii() == &found.message[..] {
                    prop_assert_eq!(&a.1[..], &new[..]);
                } else {
                    prop_assert_eq!(b, a);
                }
            }
        }
    }

    #[test]
    fn a_json_answer_is_the_response() {
        let body = format!("  {RESULT}\n");
        let found = response(body.as_bytes(), false).expect("found");
        assert_eq!(&found.message[..], RESULT.as_bytes());
        assert_eq!(&replaced(body.as_bytes(), &found, false, b"{}")[..], b"{}");
    }

    #[test]
    fn an_answer_without_one_response_is_unfound() {
        assert!(response(b"", true).is_err());
        assert!(response(b"data: {\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n\n", true).is_err());
        let two = format!("data: {RESULT}\n\ndata: {RESULT}\n\n");
        assert_eq!(
            response(two.as_bytes(), true),
            Err(Unfound("the stream carries more than one response"))
        );
        assert!(response(b"not json", false).is_err());
        // An event of another name is not the response.
        let named = format!("event: other\ndata: {RESULT}\n\n");
        assert!(response(named.as_bytes(), true).is_err());
    }
}
