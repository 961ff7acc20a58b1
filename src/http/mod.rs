//! HTTP plumbing shared by every handler: the response body type, reading bounded request
//! bodies, JSON responses, and the API error type with its mapping to status codes.

pub mod connections;
pub mod error;
pub mod openapi;
pub mod routes;
mod schemas;
pub mod swagger;

pub use error::ApiError;

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};
use tokio::sync::mpsc;

/// MCP's own headers, as names parsed once: a lookup by a `&str` parses and hashes the
/// name on every request.
pub mod names {
    use hyper::header::HeaderName;

    pub const MCP_SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
    pub const MCP_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
    pub const MCP_METHOD: HeaderName = HeaderName::from_static("mcp-method");
    pub const MCP_NAME: HeaderName = HeaderName::from_static("mcp-name");
}

/// Every response body the gateway sends.
pub enum Body {
    Empty,
    Full(Option<Bytes>),
    /// Chunks produced by a task (event streams); ends when the sender is dropped.
    Channel(mpsc::Receiver<Bytes>),
    /// A body produced as it goes (a backend's answer streaming through, see
    /// `mcp::hop::forward`). Boxed behind the body trait so this plumbing knows nothing of
    /// the proxy: one indirect call per piece, on answers that stream (whole answers are
    /// `Pieces`).
    Stream(Pin<Box<dyn hyper::body::Body<Data = Bytes, Error = std::io::Error> + Send>>),
    /// A whole answer as the pieces it was spliced into, sent with its length.
    Pieces {
        parts: Pieces,
        next: usize,
        left: u64,
    },
}

/// Up to this many pieces of a whole answer are held without an allocation.
pub const INLINE_PIECES: usize = 4;

/// The pieces of a whole answer, in order: the first [`INLINE_PIECES`] in place (a
/// spliced answer is usually three: before the id, the client's id, after it), any more
/// on the heap.
#[derive(Default)]
pub struct Pieces {
    inline: [Bytes; INLINE_PIECES],
    len: usize,
    more: Vec<Bytes>,
}

impl Pieces {
    pub fn push(&mut self, piece: Bytes) {
        if self.len < INLINE_PIECES {
            self.inline[self.len] = piece;
            self.len += 1;
        } else {
            self.more.push(piece);
        }
    }

    /// Takes piece `i` (each once), or `None` past the last.
    fn take(&mut self, i: usize) -> Option<Bytes> {
        if i < self.len {
            Some(std::mem::take(&mut self.inline[i]))
        } else {
            let i = i.checked_sub(INLINE_PIECES)?;
            self.more.get_mut(i).map(std::mem::take)
        }
    }

    /// The pieces joined, in order.
    pub fn joined(&self) -> Vec<u8> {
        let mut all = Vec::with_capacity(self.total() as usize);
        for p in self.inline[..self.len].iter().chain(&self.more) {
            all.extend_from_slice(p);
        }
        all
    }

    fn total(&self) -> u64 {
        self.inline[..self.len]
            .iter()
            .chain(&self.more)
            .map(|p| p.len() as u64)
            .sum()
    }
}

impl Body {
    pub fn full(bytes: impl Into<Bytes>) -> Body {
        Body::Full(Some(bytes.into()))
    }

    pub fn pieces(parts: Pieces) -> Body {
        Body::Pieces {
            left: parts.total(),
            parts,
            next: 0,
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    /// Only an upstream answer that breaks off fails, so the client sees a cut
    /// connection instead of a truncated message.
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.get_mut() {
            Body::Empty => Poll::Ready(None),
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Channel(rx) => rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
            Body::Stream(s) => s.as_mut().poll_frame(cx),
            Body::Pieces { parts, next, left } => Poll::Ready(parts.take(*next).map(|p| {
                *next += 1;
                *left -= p.len() as u64;
                Ok(Frame::data(p))
            })),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Full(b) => b.is_none(),
            Body::Channel(_) => false,
            Body::Stream(s) => s.is_end_stream(),
            Body::Pieces { left, .. } => *left == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty => SizeHint::with_exact(0),
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Channel(_) => SizeHint::default(),
            Body::Stream(s) => s.size_hint(),
            Body::Pieces { left, .. } => SizeHint::with_exact(*left),
        }
    }
}

/// A JSON response with `status`.
pub fn json(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(Body::full(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Serialises `value` as a JSON response.
pub fn json_value(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    json(status, value.to_string())
}

pub fn empty(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = status;
    resp
}

/// Reads a whole request body within the configured size and time limits.
pub async fn read_body(
    body: Incoming,
    headers: &HeaderMap,
    config: &crate::config::Config,
) -> Result<Bytes, ApiError> {
    let (limit, timeout) = (config.max_body, config.body_timeout);
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let collect = async {
        let mut body = body;
        let mut buf = bytes::BytesMut::new();
        // Most bodies arrive in one frame: keep it without copying.
        let mut first: Option<Bytes> = None;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ApiError::BadRequest {
                field: None,
                message: format!("could not read the request body: {e}"),
            })?;
            if let Ok(data) = frame.into_data() {
                let held = first.as_ref().map_or(0, Bytes::len);
                if held + buf.len() + data.len() > limit {
                    return Err(ApiError::PayloadTooLarge { limit });
                }
                match first.take() {
                    None if buf.is_empty() => first = Some(data),
                    Some(f) => {
                        buf.extend_from_slice(&f);
                        buf.extend_from_slice(&data);
                    }
                    None => buf.extend_from_slice(&data),
                }
            }
        }
        Ok(match first {
            Some(f) => f,
            None => buf.freeze(),
        })
    };
    // A body that arrived with its head needs no timer: try once before arming one.
    let mut collect = std::pin::pin!(collect);
    let first_try = std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match collect.as_mut().poll(cx) {
            std::task::Poll::Ready(done) => Some(done),
            std::task::Poll::Pending => None,
        })
    })
    .await;
    match first_try {
        Some(done) => done,
        None => tokio::time::timeout(timeout, collect)
            .await
            .unwrap_or(Err(ApiError::Timeout)),
    }
}

/// Whether the request says its body is JSON (`application/json`, any parameters).
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// A header's value as text, when it has one that is.
pub fn header_str(h: &HeaderMap, name: impl hyper::header::AsHeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Which of the two MCP media types the `Accept` headers list (`*/*` lists both).
#[derive(Clone, Copy, Default)]
pub struct Accepted {
    pub json: bool,
    pub sse: bool,
}

pub fn accepted(h: &HeaderMap) -> Accepted {
    let mut a = Accepted::default();
    for value in h.get_all(header::ACCEPT) {
        for range in value.as_bytes().split(|b| *b == b',') {
            let media = range.split(|b| *b == b';').next().unwrap_or_default();
            let media = media.trim_ascii();
            if media == b"*/*" {
                return Accepted {
                    json: true,
                    sse: true,
                };
            }
            a.json |= media.eq_ignore_ascii_case(b"application/json");
            a.sse |= media.eq_ignore_ascii_case(b"text/event-stream");
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn pieces_are_sent_in_order_with_their_length() {
        for n in [0, 1, 3, INLINE_PIECES, INLINE_PIECES + 1, 9] {
            let mut parts = Pieces::default();
            let mut expected = Vec::new();
            for i in 0..n {
                let piece = format!("<{i}>").repeat(i + 1);
                expected.extend_from_slice(piece.as_bytes());
                parts.push(Bytes::from(piece));
            }
            let body = Body::pieces(parts);
            assert_eq!(
                hyper::body::Body::size_hint(&body).exact(),
                Some(expected.len() as u64)
            );
            let got = body.collect().await.unwrap().to_bytes();
            assert_eq!(got, expected, "{n} pieces");
        }
    }

    #[test]
    fn accept_lists() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream;q=0.9"),
        );
        let a = accepted(&h);
        assert!(a.json && a.sse);
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let a = accepted(&h);
        assert!(a.json && !a.sse);
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html, */*;q=0.1"),
        );
        let a = accepted(&h);
        assert!(a.json && a.sse);
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("Text/Event-Stream"),
        );
        h.append(
            header::ACCEPT,
            HeaderValue::from_static("application/JSON ; q=1"),
        );
        let a = accepted(&h);
        assert!(a.json && a.sse);
    }
}
