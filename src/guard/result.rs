//! A tool's answer held for the result hooks. Answers stream through the gateway
//! unchanged and unparsed; a view with a result hook instead reads the answer whole, up
//! to [`MAX_RESULT`] (an event stream too: its progress notifications then arrive with
//! the result, not before), finds the response message (a JSON body, or an event
//! stream's last message event), and can give back the answer with that message
//! replaced. An answer over the bound is given back as it came ([`Held::Over`]: what was
//! read, then the rest streaming), for the failure mode to decide on.

use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

use super::MAX_RESULT;
use crate::http::Body;

/// An answer read for the result hooks.
pub enum Held {
    /// Whole, within the bound.
    Whole(Bytes),
    /// Over the bound: what was read, and a body that gives it then the rest.
    Over(Body),
}

/// Reads `body` up to [`MAX_RESULT`]; `Err` when it broke off.
pub async fn hold(mut body: Body) -> Result<Held, std::io::Error> {
    let mut seen = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        seen.extend_from_slice(&data);
        if seen.len() > MAX_RESULT {
            return Ok(Held::Over(Body::Stream(Box::pin(Chained {
                head: Some(seen.freeze()),
                rest: body,
            }))));
        }
    }
    Ok(Held::Whole(seen.freeze()))
}

/// Where the response message is in a held answer: the whole of a JSON body, the data
/// of an event stream's last message event.
pub fn message_span(held: &[u8], stream: bool) -> Range<usize> {
    if !stream {
        return 0..held.len();
    }
    let text = held.strip_suffix(b"\n\n").unwrap_or(held);
    let start = memchr::memmem::rfind(text, b"\n\n").map_or(0, |i| i + 2);
    let event = &text[start..];
    match memchr::memmem::find(event, b"data:") {
        Some(i) => {
            let from = start + i + 5;
            let to = memchr::memchr(b'\n', &held[from..]).map_or(held.len(), |n| from + n);
            from..to
        }
        None => held.len()..held.len(),
    }
}

/// `held` with `span` replaced by `message`.
pub fn replaced(held: &[u8], span: Range<usize>, message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(held.len() + message.len());
    out.extend_from_slice(&held[..span.start]);
    if span.start > 0 && held[span.start - 1] == b':' {
        out.extend_from_slice(b" ");
    }
    out.extend_from_slice(message);
    out.extend_from_slice(&held[span.end..]);
    out.freeze()
}

/// What was read, then the rest of the body.
struct Chained {
    head: Option<Bytes>,
    rest: Body,
}

impl hyper::body::Body for Chained {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        if let Some(head) = self.head.take() {
            return Poll::Ready(Some(Ok(hyper::body::Frame::data(head))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none() && self.rest.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_of_json_and_of_a_stream() {
        let json = br#"{"id":1,"result":{}}"#;
        assert_eq!(message_span(json, false), 0..json.len());
        let sse = b"event: message\ndata: {\"a\":1}\n\nevent: message\ndata: {\"b\":2}\n\n";
        let span = message_span(sse, true);
        assert_eq!(&sse[span.clone()], br#" {"b":2}"#);
        assert_eq!(
            &replaced(sse, span, br#"{"c":3}"#)[..],
            &b"event: message\ndata: {\"a\":1}\n\nevent: message\ndata: {\"c\":3}\n\n"[..]
        );
        assert_eq!(message_span(b"", true), 0..0);
    }

    #[tokio::test]
    async fn an_answer_over_the_bound_is_given_back_whole() {
        let big = Bytes::from(vec![b'x'; MAX_RESULT + 10]);
        let Ok(Held::Over(body)) = hold(Body::full(big.clone())).await else {
            panic!("over the bound")
        };
        let back = body.collect().await.unwrap().to_bytes();
        assert_eq!(back, big);
        let Ok(Held::Whole(small)) = hold(Body::full("abc")).await else {
            panic!("within the bound")
        };
        assert_eq!(&small[..], b"abc");
    }
}
