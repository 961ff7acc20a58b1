//! Server-sent events as MCP carries JSON-RPC messages in them: the one place where an
//! event's end is found and its fields are read, for the proxy's streams, the
//! transports and the `mcpc` client alike.
//!
//! An event ends with a blank line: `\n\n`, or `\r\n\r\n` (sse-starlette's, so the
//! Python SDK's), or a mix (`\n\r\n`). Within an event, a line starting with `:` is a
//! comment; `field: value` drops one space after the colon; `data` lines are joined with
//! `\n`; a line without a colon is a field with an empty value.

/// Where the first whole event of `buf` ends (after its blank line). Every blank line
/// follows a line feed: each one's next bytes are looked at (no substring searcher to
/// build on every piece of a stream).
pub fn event_end(buf: &[u8]) -> Option<usize> {
    memchr::memchr_iter(b'\n', buf).find_map(|i| blank_after(buf, i))
}

/// Where the last whole event of `buf` ends (`None`: no event ends in it).
pub fn last_event_end(buf: &[u8]) -> Option<usize> {
    memchr::memrchr_iter(b'\n', buf).find_map(|i| blank_after(buf, i))
}

/// The end of the blank line that follows the line feed at `i`, if one does.
fn blank_after(buf: &[u8], i: usize) -> Option<usize> {
    match &buf[i + 1..] {
        [b'\n', ..] => Some(i + 2),
        [b'\r', b'\n', ..] => Some(i + 3),
        _ => None,
    }
}

/// Whether `piece` ends at an event's end (its last bytes are a blank line).
pub fn ends_event(piece: &[u8]) -> bool {
    piece.ends_with(b"\n\n") || piece.ends_with(b"\n\r\n")
}

/// One event: its name (`message` unless an `event` field names it) and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: String,
    pub data: Vec<u8>,
}

/// The events of `text` that carry data, in order; an event not ended by a blank line
/// (the text's last) counts too.
pub fn events(text: &[u8]) -> Vec<Event> {
    let mut out = Vec::new();
    let mut name: Option<String> = None;
    let mut data: Option<Vec<u8>> = None;
    let mut end = |name: &mut Option<String>, data: &mut Option<Vec<u8>>| {
        if let Some(d) = data.take() {
            out.push(Event {
                name: name.take().unwrap_or_else(|| "message".into()),
                data: d,
            });
        }
        *name = None;
    };
    for line in text.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            end(&mut name, &mut data);
            continue;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(0) => continue,
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"event" => name = Some(String::from_utf8_lossy(value).into_owned()),
            b"data" => match &mut data {
                Some(d) => {
                    d.push(b'\n');
                    d.extend_from_slice(value);
                }
                None => data = Some(value.to_vec()),
            },
            _ => {}
        }
    }
    end(&mut name, &mut data);
    out
}

/// The data of the events of `text`, in order.
pub fn data_of(text: &[u8]) -> Vec<Vec<u8>> {
    events(text).into_iter().map(|e| e.data).collect()
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

    #[test]
    fn the_line_feed_scan_finds_what_a_substring_search_finds() {
        // Every string of up to six of these bytes: the first and last event ends are
        // the earliest `\n\n` / `\n\r\n` end and the latest one.
        let alphabet = [b'\n', b'\r', b'a'];
        for len in 0..=6 {
            for n in 0..3usize.pow(len) {
                let mut buf = Vec::new();
                let mut k = n;
                for _ in 0..len {
                    buf.push(alphabet[k % 3]);
                    k /= 3;
                }
                let ends: Vec<usize> = (0..buf.len())
                    .filter_map(|i| match &buf[i..] {
                        [b'\n', b'\n', ..] => Some(i + 2),
                        [b'\n', b'\r', b'\n', ..] => Some(i + 3),
                        _ => None,
                    })
                    .collect();
                assert_eq!(event_end(&buf), ends.iter().copied().min(), "{buf:?}");
                assert_eq!(last_event_end(&buf), ends.iter().copied().max(), "{buf:?}");
            }
        }
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
