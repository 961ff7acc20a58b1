//! SSE polling (MCP 2025-11-25, SEP-1699) with the gateway as the client: a session-era
//! backend may end a call's SSE answer before the response, after an event with an
//! `id`, and expect the client to come back. The answer then goes on: after the `retry`
//! the backend asked for (1 s when it asked for none; 30 s at most), a GET with
//! `Last-Event-ID` resumes the stream, as many times as the backend ends it early (up
//! to [`MAX_RESUMES`]), within the call's own time limit.
//!
//! The answer is watched as it passes: the last event id, the last `retry`, and
//! whether the call's id has been seen (the response). Lines are looked at only for
//! those two fields; a long line (data) is skipped, not copied.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::Method;

use super::HttpAnswer;
use super::{Endpoint, HttpClient, UpstreamSession};

/// Times one answer is resumed at most.
pub const MAX_RESUMES: u32 = 100;
/// The wait before resuming when the backend named none.
const DEFAULT_RETRY: Duration = Duration::from_secs(1);
/// The longest wait a backend may ask for.
const MOST_RETRY: Duration = Duration::from_secs(30);
/// Longest `id` or `retry` line kept.
const MAX_FIELD_LINE: usize = 256;

/// A resumption under way: the wait, then the GET.
pub type Resuming = Pin<Box<dyn Future<Output = Result<HttpAnswer, String>> + Send>>;

/// What resuming a call's answer needs, and what was seen of it so far.
pub struct Resume {
    client: HttpClient,
    endpoint: Endpoint,
    session: Arc<UpstreamSession>,
    /// The call's upstream id (a JSON string literal).
    id: Bytes,
    answered: bool,
    /// The end of the last piece (its id may continue in the next).
    overlap: Vec<u8>,
    last_id: Option<String>,
    retry: Duration,
    /// The unfinished last line, when it may be a field kept here.
    line: Vec<u8>,
    /// In the middle of a line too long to be one.
    skipping: bool,
    resumes: u32,
}

impl Resume {
    pub fn new(
        client: HttpClient,
        endpoint: Endpoint,
        session: Arc<UpstreamSession>,
        id: Bytes,
    ) -> Resume {
        Resume {
            client,
            endpoint,
            session,
            id,
            answered: false,
            overlap: Vec::new(),
            last_id: None,
            retry: DEFAULT_RETRY,
            line: Vec::new(),
            skipping: false,
            resumes: 0,
        }
    }

    /// Looks at a piece of the answer as it passes.
    pub fn scan(&mut self, piece: &[u8]) {
        if !self.answered && !self.id.is_empty() {
            self.answered = memchr::memmem::find(piece, &self.id).is_some() || {
                let k = self.id.len() - 1;
                let mut seam = std::mem::take(&mut self.overlap);
                seam.extend_from_slice(&piece[..piece.len().min(k)]);
                memchr::memmem::find(&seam, &self.id).is_some()
            };
            let k = (self.id.len() - 1).min(piece.len());
            self.overlap.clear();
            self.overlap.extend_from_slice(&piece[piece.len() - k..]);
        }
        let mut start = 0;
        if !self.line.is_empty() || self.skipping {
            match memchr::memchr(b'\n', piece) {
                None => {
                    self.more_of_line(piece);
                    return;
                }
                Some(i) => {
                    if !self.skipping {
                        let mut line = std::mem::take(&mut self.line);
                        line.extend_from_slice(&piece[..i]);
                        self.field(&line);
                    }
                    self.line.clear();
                    self.skipping = false;
                    start = i + 1;
                }
            }
        }
        let base = start;
        for end in memchr::memchr_iter(b'\n', &piece[base..]) {
            self.field(&piece[start..base + end]);
            start = base + end + 1;
        }
        self.more_of_line(&piece[start..]);
    }

    fn more_of_line(&mut self, rest: &[u8]) {
        if self.skipping || rest.is_empty() {
            return;
        }
        if self.line.len() + rest.len() > MAX_FIELD_LINE {
            self.line.clear();
            self.skipping = true;
        } else {
            self.line.extend_from_slice(rest);
        }
    }

    /// One whole line: an `id` or a `retry` is kept.
    fn field(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(v) = line.strip_prefix(b"id:") {
            let v = v.strip_prefix(b" ").unwrap_or(v);
            if v.len() <= MAX_FIELD_LINE && !v.contains(&0) {
                self.last_id = std::str::from_utf8(v).ok().map(str::to_string);
            }
        } else if let Some(v) = line.strip_prefix(b"retry:") {
            let v = v.strip_prefix(b" ").unwrap_or(v);
            if let Some(ms) = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
            {
                self.retry = Duration::from_millis(ms).min(MOST_RETRY);
            }
        }
    }

    /// Whether a resumed answer has carried the response: the resumed stream (a GET,
    /// which the backend may keep open for more) is then left.
    pub fn done(&self) -> bool {
        self.resumes > 0 && self.answered
    }

    /// At the end of a stream: the resumption to wait for, if the call is not answered,
    /// the backend named an event to resume after, and resumptions are left.
    pub fn after_end(&mut self) -> Option<Resuming> {
        tracing::debug!(answered = self.answered, last_id = ?self.last_id, resumes = self.resumes,
            "a call's SSE answer ended");
        if self.answered || self.resumes >= MAX_RESUMES {
            return None;
        }
        let last = self.last_id.clone()?;
        self.resumes += 1;
        self.line.clear();
        self.skipping = false;
        let mut req = super::request(
            &self.endpoint,
            Some(&self.session),
            Method::GET,
            Bytes::new(),
        );
        let headers = req.headers_mut();
        headers.insert(
            hyper::header::ACCEPT,
            hyper::header::HeaderValue::from_static("text/event-stream"),
        );
        let Ok(last) = hyper::header::HeaderValue::from_str(&last) else {
            return None;
        };
        headers.insert("last-event-id", last);
        let client = self.client.clone();
        let wait = self.retry;
        Some(Box::pin(async move {
            tokio::time::sleep(wait).await;
            let failed = |e: String| {
                format!("the backend ended its answer early, and resuming it failed: {e}")
            };
            let (resp, own) = if req.uri().scheme_str() == Some("http") {
                let (resp, own) = own_connection(req).await.map_err(failed)?;
                (resp, Some(own))
            } else {
                let resp = super::send(&client, req)
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                (resp, None)
            };
            if resp.status().is_success() && super::is_sse(resp.headers()) {
                Ok(match own {
                    Some(own) => HttpAnswer::Owned(resp.into_body(), own),
                    None => HttpAnswer::Hyper(resp.into_body()),
                })
            } else {
                Err(format!(
                    "the backend ended its answer early, and refused to resume it (HTTP {})",
                    resp.status().as_u16()
                ))
            }
        }))
    }
}

/// A connection of the resumed answer's own: closed when the answer is let go of, even
/// mid-stream (a pooled one would stay open until the backend next writes).
pub struct OwnConnection(tokio::task::AbortHandle);

impl Drop for OwnConnection {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends `req` (to a plain `http://` backend) on a connection of its own.
async fn own_connection(
    req: hyper::Request<http_body_util::Full<Bytes>>,
) -> Result<(hyper::Response<hyper::body::Incoming>, OwnConnection), String> {
    let uri = req.uri().clone();
    let host = uri.host().ok_or("no host")?.to_string();
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| "connect timed out".to_string())?
    .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    let own = OwnConnection(tokio::spawn(conn).abort_handle());
    let (mut parts, body) = req.into_parts();
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or(host);
    if let Ok(h) = hyper::header::HeaderValue::from_str(&authority) {
        parts.headers.insert(hyper::header::HOST, h);
    }
    parts.uri = uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| e.to_string())?;
    let resp = sender
        .send_request(hyper::Request::from_parts(parts, body))
        .await
        .map_err(|e| e.to_string())?;
    Ok((resp, own))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resume() -> Resume {
        let endpoint = Endpoint {
            uri: "http://127.0.0.1:9/mcp".parse().unwrap(),
            headers: Default::default(),
            bearer: None,
        };
        let session = Arc::new(UpstreamSession {
            id: None,
            version: hyper::header::HeaderValue::from_static("2025-11-25"),
            capabilities: serde_json::Value::Null,
            server_info: serde_json::Value::Null,
            hello: Default::default(),
            generation: 0,
            modern: false,
        });
        let tls = crate::crypto::tls_client(None).unwrap();
        Resume::new(
            super::super::client(&tls),
            endpoint,
            session,
            Bytes::from_static(b"\"g42\""),
        )
    }

    #[test]
    fn the_last_id_and_retry_are_read_across_pieces() {
        let mut r = resume();
        r.scan(b"event: message\ndata: {}\n\nid: 0\nretry: 7\n\n");
        assert_eq!(
            r.last_id.as_deref(),
            Some("0"),
            "several lines in one piece"
        );
        assert_eq!(r.retry, Duration::from_millis(7));
        for piece in [
            &b"id: ev"[..],
            b"-1\nretry: 50",
            b"0\ndata: \n\n",
            b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n\n",
        ] {
            r.scan(piece);
        }
        assert_eq!(r.last_id.as_deref(), Some("ev-1"));
        assert_eq!(r.retry, Duration::from_millis(500));
        assert!(!r.answered);
        // A long data line is skipped, and an id after it still read.
        let long = format!("data: {}\n\nid: ev-2\r\n", "x".repeat(10_000));
        for piece in long.as_bytes().chunks(100) {
            r.scan(piece);
        }
        assert_eq!(r.last_id.as_deref(), Some("ev-2"));
        assert!(r.after_end().is_some(), "not answered: resumed");
        r.scan(b"retry: 999999999\n");
        assert_eq!(r.retry, MOST_RETRY);
    }

    #[test]
    fn an_answered_call_or_one_without_an_id_is_not_resumed() {
        let mut r = resume();
        r.scan(b"data: {\"jsonrpc\":\"2.0\",\"id\":\"g4");
        r.scan(b"2\",\"result\":{}}\n\n");
        assert!(r.answered, "the id split between pieces");
        r.scan(b"id: 7\n");
        assert!(r.after_end().is_none());
        let mut r = resume();
        r.scan(b"data: {}\n\n");
        assert!(r.after_end().is_none(), "no event id to resume after");
        let mut r = resume();
        r.scan(b"id: 1\n\n");
        r.resumes = MAX_RESUMES;
        assert!(r.after_end().is_none(), "resumed its most");
    }
}
