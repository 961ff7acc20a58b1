//! Server-sent events as MCP carries JSON-RPC messages in them: the one place where an
//! event's end is found and its fields are read, for the proxy's streams, the
//! transports, the answer reader ([`super::answer`]) and the `mcpc` client alike.
//!
//! As the HTML standard reads an event stream: a line ends with CRLF, LF or CR (the
//! Python SDK's sse-starlette writes CRLF); an event ends with a blank line; a line
//! starting with `:` is a comment; `field: value` drops one space after the colon; `data`
//! lines are joined with `\n`; a line without a colon is a field with an empty value; a
//! byte order mark opening the stream is not part of its first line.

use std::ops::Range;

/// The end of the line terminator at `at` (a CR, LF or CRLF).
fn terminator_end(buf: &[u8], at: usize) -> usize {
    match (buf[at], buf.get(at + 1)) {
        (b'\r', Some(b'\n')) => at + 2,
        _ => at + 1,
    }
}

/// The ends of the events of `buf` (after each one's blank line), in order. A CR that
/// ends `buf` ends its line: a LF after it, in a later piece, is an empty line of its own
/// (which dispatches nothing).
fn ends(buf: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut i = 0;
    // The end of the last terminator, while the line after it is still empty.
    let mut empty_from: Option<usize> = None;
    std::iter::from_fn(move || {
        while let Some(k) = memchr::memchr2(b'\n', b'\r', &buf[i..]) {
            let at = i + k;
            let end = terminator_end(buf, at);
            i = end;
            if empty_from == Some(at) {
                empty_from = None;
                return Some(end);
            }
            empty_from = Some(end);
        }
        None
    })
}

/// Where the first whole event of `buf` ends (after its blank line).
pub fn event_end(buf: &[u8]) -> Option<usize> {
    ends(buf).next()
}

/// Where the last whole event of `buf` ends (`None`: no event ends in it).
pub fn last_event_end(buf: &[u8]) -> Option<usize> {
    ends(buf).last()
}

/// Whether `piece` ends at an event's end (its last bytes are a blank line).
pub fn ends_event(piece: &[u8]) -> bool {
    let before = match piece {
        [.., b'\r', b'\n'] => &piece[..piece.len() - 2],
        [.., b'\n' | b'\r'] => &piece[..piece.len() - 1],
        _ => return false,
    };
    matches!(before.last(), Some(b'\n' | b'\r'))
}

/// One event: its name (`message` unless an `event` field names it) and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: String,
    pub data: Vec<u8>,
}

/// One event of a stream with where it lies: its lines and its blank line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// Its bytes within the text, from its first line to the end of its blank line.
    pub range: Range<usize>,
    /// Its `event` field (`None`: a `message`).
    pub name: Option<String>,
    /// Its `id` field, when it has one.
    pub id: Option<Vec<u8>>,
    /// Its `data` lines joined with `\n` (`None`: no `data` field, nothing dispatched).
    pub data: Option<Vec<u8>>,
}

/// Every event of `text` in order, with data or without (comments and retries alone
/// make one too); an event not ended by a blank line (the text's last) counts.
pub fn placed(text: &[u8]) -> Vec<Placed> {
    let mut out = Vec::new();
    let mut at = usize::from(text.starts_with("\u{feff}".as_bytes())) * 3;
    let mut current = Placed {
        range: at..at,
        name: None,
        id: None,
        data: None,
    };
    let mut lines = false;
    while at < text.len() {
        let (line_end, next) = match memchr::memchr2(b'\n', b'\r', &text[at..]) {
            Some(k) => (at + k, terminator_end(text, at + k)),
            None => (text.len(), text.len()),
        };
        let line = &text[at..line_end];
        at = next;
        if line.is_empty() {
            current.range.end = next;
            if lines {
                out.push(std::mem::replace(
                    &mut current,
                    Placed {
                        range: next..next,
                        name: None,
                        id: None,
                        data: None,
                    },
                ));
            } else {
                current.range = next..next;
            }
            lines = false;
            continue;
        }
        lines = true;
        current.range.end = next;
        let (field, value) = match memchr::memchr(b':', line) {
            Some(0) => continue,
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"event" => current.name = Some(String::from_utf8_lossy(value).into_owned()),
            b"id" if !value.contains(&0) => current.id = Some(value.to_vec()),
            b"data" => match &mut current.data {
                Some(d) => {
                    d.push(b'\n');
                    d.extend_from_slice(value);
                }
                None => current.data = Some(value.to_vec()),
            },
            _ => {}
        }
    }
    if lines {
        out.push(current);
    }
    out
}

/// The events of `text` that carry data, in order; an event not ended by a blank line
/// (the text's last) counts too.
pub fn events(text: &[u8]) -> Vec<Event> {
    placed(text)
        .into_iter()
        .filter_map(|e| {
            Some(Event {
                data: e.data?,
                name: e.name.unwrap_or_else(|| "message".into()),
            })
        })
        .collect()
}

/// The data of the events of `text`, in order.
pub fn data_of(text: &[u8]) -> Vec<Vec<u8>> {
    placed(text).into_iter().filter_map(|e| e.data).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_of_every_line_ending() {
        let text = b"data: a\n\ndata: b\r\n\r\ndata: c\n\r\ndata: d";
        assert_eq!(event_end(text), Some(9));
        assert_eq!(event_end(&text[9..]), Some(11));
        assert_eq!(last_event_end(text), Some(text.len() - 7));
        assert_eq!(event_end(b"data: x\n"), None);
        assert_eq!(last_event_end(b"data: x"), None);
        assert!(ends_event(b"data: x\r\n\r\n") && ends_event(b"data: x\n\n"));
        assert!(!ends_event(b"data: x\n"));
    }

    /// The HTML standard's line splitting, written apart from the scanner: a line ends
    /// at CRLF, LF or CR; an event ends at an empty line that follows a line end.
    fn reference_ends(buf: &[u8]) -> Vec<usize> {
        let mut ends = Vec::new();
        let mut i = 0;
        let mut after_terminator_empty = false;
        while i < buf.len() {
            let t = match (buf[i], buf.get(i + 1)) {
                (b'\r', Some(b'\n')) => 2,
                (b'\r' | b'\n', _) => 1,
                _ => {
                    after_terminator_empty = false;
                    i += 1;
                    continue;
                }
            };
            if after_terminator_empty {
                ends.push(i + t);
                after_terminator_empty = false;
            } else {
                after_terminator_empty = true;
            }
            i += t;
        }
        ends
    }

    #[test]
    fn the_scan_finds_what_the_standard_says_for_every_short_text() {
        // Every text of up to seven of these bytes.
        let alphabet = [b'\n', b'\r', b'a'];
        for len in 0..=7 {
            for n in 0..3usize.pow(len) {
                let mut buf = Vec::new();
                let mut k = n;
                for _ in 0..len {
                    buf.push(alphabet[k % 3]);
                    k /= 3;
                }
                let ends = reference_ends(&buf);
                assert_eq!(event_end(&buf), ends.first().copied(), "{buf:?}");
                assert_eq!(last_event_end(&buf), ends.last().copied(), "{buf:?}");
                // A piece that ends an event ends with a blank line; one that ends with a
                // blank line has only empty lines after its last event.
                if ends.last() == Some(&buf.len()) {
                    assert!(ends_event(&buf), "{buf:?}");
                }
                if ends_event(&buf) {
                    let after = ends.last().copied().unwrap_or(0);
                    assert!(
                        buf[after..].iter().all(|b| matches!(b, b'\n' | b'\r')),
                        "{buf:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_cr_alone_ends_lines_and_events() {
        let text = b"data: a\r\rdata: b\r: c\rdata: d\r\r";
        assert_eq!(event_end(text), Some(9));
        assert_eq!(
            data_of(text),
            vec![b"a".to_vec(), b"b\nd".to_vec()],
            "a comment between data lines is no part of it"
        );
        let placed = placed(b"\xef\xbb\xbfid: 7\r\nretry: 10\r\ndata: x\r\n\r\n: ping\n\n");
        assert_eq!(placed.len(), 2);
        assert_eq!(placed[0].id.as_deref(), Some(&b"7"[..]));
        assert_eq!(placed[0].range, 3..32);
        assert_eq!(placed[1].data, None);
    }

    #[test]
    fn events_names_data_and_comments() {
        let text = b": ping\n\nevent: endpoint\ndata: /message?s=1\n\nid: 3\ndata: {\"a\":\r\ndata: 1}\r\n\r\nevent: x\n\ndata";
        assert_eq!(
            events(text),
            vec![
                Event {
                    name: "endpoint".into(),
                    data: b"/message?s=1".to_vec()
                },
                Event {
                    name: "message".into(),
                    data: b"{\"a\":\n1}".to_vec()
                },
                Event {
                    name: "message".into(),
                    data: b"".to_vec()
                },
            ]
        );
        assert_eq!(
            data_of(b"data:x\n\ndata: y"),
            vec![b"x".to_vec(), b"y".to_vec()]
        );
    }
}
