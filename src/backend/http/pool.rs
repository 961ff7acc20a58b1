//! The hot path's connections to a backend: plain HTTP/1.1 on pooled `TcpStream`s,
//! driven by the request's own task.
//!
//! A forwarded call checks a connection out, writes the request head and body in one
//! write, parses the response head with `httparse`, and then the client's response body
//! reads the socket directly ([`Exchange`]): no connection task, no channel, no extra
//! wake-up between them. When the body has been read to its end the connection goes
//! back to the pool; a connection whose exchange was cut short is closed. (The control
//! path — initialize, lists, notification streams — uses hyper's client.)

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use hyper::Uri;
use hyper::header::HeaderMap;
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// Idle connections kept per backend.
const MAX_IDLE: usize = 512;
/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
const READ_CHUNK: usize = 64 * 1024;
/// A connection's first read buffer, and the most an idle one keeps.
const FIRST_READ: usize = 8 * 1024;
const KEPT_BUFFER: usize = READ_CHUNK + FIRST_READ;

/// Connections to one backend.
pub struct Pool {
    addr: SocketAddr,
    /// `POST <path> HTTP/1.1\r\nHost: …\r\n` plus the fixed headers.
    head_prefix: Bytes,
    /// Idle connections with their read buffers (reused: a request allocates none).
    idle: Mutex<Vec<(TcpStream, BytesMut)>>,
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    /// In a chunk with this many bytes left, or (None) before a chunk-size line.
    Chunked(Option<u64>),
    UntilClose,
}

/// A response head from the backend.
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    pub content_type: Option<Bytes>,
    pub keep_alive: bool,
}

impl Pool {
    /// `uri` must be `http://host:port/path`; the host is resolved once here.
    pub async fn new(uri: &Uri, headers: &HeaderMap) -> io::Result<Pool> {
        let host = uri
            .host()
            .ok_or_else(|| io::Error::other("url without a host"))?;
        let port = uri.port_u16().unwrap_or(80);
        if uri.scheme_str() != Some("http") {
            return Err(io::Error::other("the hot path speaks plain http only"));
        }
        let host_for_lookup = host.trim_start_matches('[').trim_end_matches(']');
        let addr = tokio::net::lookup_host((host_for_lookup, port))
            .await?
            .next()
            .ok_or_else(|| io::Error::other(format!("{host} does not resolve")))?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut head = BytesMut::with_capacity(256);
        head.extend_from_slice(b"POST ");
        head.extend_from_slice(path.as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        head.extend_from_slice(uri.authority().map_or(host, |a| a.as_str()).as_bytes());
        head.extend_from_slice(b"\r\n");
        for (name, value) in headers {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        Ok(Pool {
            addr,
            head_prefix: head.freeze(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// An idle connection the backend has not closed meanwhile.
    fn checkout(&self) -> Option<(TcpStream, BytesMut)> {
        loop {
            let (stream, buf) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()?;
            if still_open(&stream) {
                return Some((stream, buf));
            }
        }
    }

    fn checkin(&self, stream: TcpStream, mut buf: BytesMut) {
        // A buffer grown by a large answer is not kept (idle memory stays bounded).
        if buf.capacity() > KEPT_BUFFER {
            buf = BytesMut::new();
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push((stream, buf));
        }
    }

    /// Sends a POST with `extra` header lines (each ending in CRLF) and `body`; returns
    /// the response head and the exchange to read the body from.
    ///
    /// A request is sent again on a fresh connection only when writing it failed, so the
    /// backend cannot have acted on it: a call that may have run is never repeated.
    pub async fn post(self: &Arc<Self>, extra: &[u8], body: &[u8]) -> io::Result<(Head, Exchange)> {
        // Head and body go out in one vectored write, straight from where they are.
        let mut length = [0; 20];
        let request: [&[u8]; 6] = [
            &self.head_prefix,
            extra,
            b"Content-Length: ",
            decimal(body.len(), &mut length),
            b"\r\n\r\n",
            body,
        ];
        if let Some((mut stream, buf)) = self.checkout() {
            match write_all(&mut stream, &request).await {
                Ok(()) => return self.exchange(stream, buf).await,
                // The backend closed it as it was taken: nothing was acted on.
                Err(e)
                    if e.kind() == io::ErrorKind::BrokenPipe
                        || e.kind() == io::ErrorKind::ConnectionReset => {}
                Err(e) => return Err(e),
            }
        }
        let mut stream = TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        write_all(&mut stream, &request).await?;
        self.exchange(stream, BytesMut::new()).await
    }

    /// Reads the response head of a request already written to `stream`.
    async fn exchange(
        self: &Arc<Self>,
        mut stream: TcpStream,
        mut buf: BytesMut,
    ) -> io::Result<(Head, Exchange)> {
        // Reclaims the buffer's space once the previous answer's pieces are gone.
        buf.clear();
        buf.reserve(FIRST_READ);
        loop {
            let n = tokio::io::AsyncReadExt::read_buf(&mut stream, &mut buf).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the backend closed the connection without answering \
                     (the request may or may not have been acted on)",
                ));
            }
            let mut headers = [httparse::EMPTY_HEADER; 48];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(&buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let status = resp.code.unwrap_or(0);
                    let mut framing = Framing::UntilClose;
                    let mut keep_alive = resp.version == Some(1);
                    let mut content_type = None;
                    for h in resp.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            let n = std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse().ok());
                            framing = Framing::Length(
                                n.ok_or_else(|| io::Error::other("bad Content-Length"))?,
                            );
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                            if h.value.eq_ignore_ascii_case(b"chunked") {
                                framing = Framing::Chunked(None);
                            }
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            if h.value.eq_ignore_ascii_case(b"close") {
                                keep_alive = false;
                            }
                        } else if h.name.eq_ignore_ascii_case("content-type") {
                            content_type = Some(media_type(h.value));
                        }
                    }
                    if status == 204 || status == 304 || (100..200).contains(&status) {
                        framing = Framing::Length(0);
                    }
                    if framing == Framing::UntilClose {
                        keep_alive = false;
                    }
                    buf.advance(len);
                    let head = Head {
                        status,
                        content_type,
                        keep_alive,
                    };
                    let exchange = Exchange {
                        stream: Some(stream),
                        buf,
                        framing,
                        keep_alive,
                        pool: self.clone(),
                        done: false,
                    };
                    return Ok((head, exchange));
                }
                Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => continue,
                Ok(httparse::Status::Partial) => {
                    return Err(io::Error::other("response head too large"));
                }
                Err(e) => return Err(io::Error::other(format!("bad response head: {e}"))),
            }
        }
    }
}

/// A `Content-Type` value; the two MCP answers' usual ones cost no allocation.
fn media_type(value: &[u8]) -> Bytes {
    const COMMON: [&[u8]; 3] = [
        b"application/json",
        b"text/event-stream",
        b"application/json; charset=utf-8",
    ];
    COMMON
        .into_iter()
        .find(|c| c.eq_ignore_ascii_case(value))
        .map_or_else(|| Bytes::copy_from_slice(value), Bytes::from_static)
}

/// Whether an idle connection is still usable: no end of stream, no stray bytes. Costs a
/// system call only when the runtime has seen the socket become readable.
fn still_open(stream: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    matches!(stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

/// Writes every part, in order, with as few (vectored) writes as the socket allows.
async fn write_all(stream: &mut TcpStream, parts: &[&[u8]; 6]) -> io::Result<()> {
    let mut slices = parts.map(io::IoSlice::new);
    let mut left: &mut [io::IoSlice<'_>] = &mut slices;
    io::IoSlice::advance_slices(&mut left, 0);
    while !left.is_empty() {
        let n = stream.write_vectored(left).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        io::IoSlice::advance_slices(&mut left, n);
    }
    Ok(())
}

/// `n` in decimal, written into `buf`.
fn decimal(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// The body half of one exchange, read straight off the socket.
pub struct Exchange {
    stream: Option<TcpStream>,
    buf: BytesMut,
    framing: Framing,
    keep_alive: bool,
    pool: Arc<Pool>,
    done: bool,
}

impl Exchange {
    /// Whether the body has been read to its end.
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn finish(&mut self) {
        self.done = true;
        if let Some(s) = self.stream.take()
            && self.keep_alive
            && self.buf.is_empty()
        {
            self.pool.checkin(s, std::mem::take(&mut self.buf));
        }
    }

    /// Reads more from the socket into `buf`; `Ok(0)` at end of stream.
    #[allow(unsafe_code)] // set_len over the bytes poll_read initialised
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some(stream) = self.stream.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        self.buf.reserve(READ_CHUNK);
        let spare = self.buf.spare_capacity_mut();
        let mut rb = ReadBuf::uninit(spare);
        ready!(Pin::new(stream).poll_read(cx, &mut rb))?;
        let n = rb.filled().len();
        // SAFETY: poll_read initialised the first `n` bytes of the spare capacity.
        unsafe { self.buf.set_len(self.buf.len() + n) };
        Poll::Ready(Ok(n))
    }

    /// The whole body, when it is delimited by a length and has already arrived in full
    /// (the usual case for a JSON answer): the connection goes back to the pool at once.
    pub fn take_whole(&mut self) -> Option<Bytes> {
        let Framing::Length(left) = self.framing else {
            return None;
        };
        if self.done || (self.buf.len() as u64) < left {
            return None;
        }
        let whole = self.buf.split_to(left as usize).freeze();
        self.framing = Framing::Length(0);
        self.finish();
        Some(whole)
    }

    /// The next piece of the body, `None` at its end.
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        if self.done {
            return Poll::Ready(None);
        }
        loop {
            match self.framing {
                Framing::Length(0) => {
                    self.finish();
                    return Poll::Ready(None);
                }
                Framing::Length(left) => {
                    if !self.buf.is_empty() {
                        let take = (self.buf.len() as u64).min(left) as usize;
                        self.framing = Framing::Length(left - take as u64);
                        let chunk = self.buf.split_to(take).freeze();
                        if left == take as u64 {
                            self.finish();
                        }
                        return Poll::Ready(Some(Ok(chunk)));
                    }
                }
                Framing::UntilClose => {
                    if !self.buf.is_empty() {
                        return Poll::Ready(Some(Ok(self.buf.split().freeze())));
                    }
                }
                Framing::Chunked(Some(0)) => {
                    // The CRLF after a chunk's data.
                    if self.buf.len() >= 2 {
                        self.buf.advance(2);
                        self.framing = Framing::Chunked(None);
                        continue;
                    }
                }
                Framing::Chunked(Some(left)) => {
                    if !self.buf.is_empty() {
                        let take = (self.buf.len() as u64).min(left) as usize;
                        self.framing = Framing::Chunked(Some(left - take as u64));
                        return Poll::Ready(Some(Ok(self.buf.split_to(take).freeze())));
                    }
                }
                Framing::Chunked(None) => {
                    if let Some(pos) = memchr::memchr(b'\n', &self.buf) {
                        let line = &self.buf[..pos];
                        let hex = line.split(|b| *b == b';').next().unwrap_or_default();
                        let size = std::str::from_utf8(hex)
                            .ok()
                            .and_then(|h| u64::from_str_radix(h.trim(), 16).ok());
                        let Some(size) = size else {
                            return Poll::Ready(Some(Err(io::Error::other("bad chunk size"))));
                        };
                        if size == 0 {
                            // Last chunk: optional trailers, then a blank line.
                            let rest = &self.buf[pos + 1..];
                            let end = if rest.starts_with(b"\r\n") {
                                Some(pos + 3)
                            } else {
                                find(rest, b"\r\n\r\n").map(|e| pos + 1 + e + 4)
                            };
                            if let Some(end) = end {
                                self.buf.advance(end);
                                self.framing = Framing::Length(0);
                                continue;
                            }
                        } else {
                            self.buf.advance(pos + 1);
                            self.framing = Framing::Chunked(Some(size));
                            continue;
                        }
                    }
                }
            }
            match ready!(self.poll_fill(cx)) {
                Ok(0) => {
                    if self.framing == Framing::UntilClose {
                        self.done = true;
                        self.stream = None;
                        return Poll::Ready(None);
                    }
                    self.stream = None;
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the backend closed the connection mid-answer",
                    ))));
                }
                Ok(_) => {}
                Err(e) => {
                    self.stream = None;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }

    /// Reads the whole body (small answers on the control path of the hot path).
    pub async fn collect(mut self, limit: usize) -> io::Result<Bytes> {
        let mut out = BytesMut::new();
        while let Some(chunk) = std::future::poll_fn(|cx| self.poll_chunk(cx)).await {
            let chunk = chunk?;
            if out.len() + chunk.len() > limit {
                return Err(io::Error::other("answer too large"));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out.freeze())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::{decimal, write_all};
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn parts_are_written_whole_and_in_order_across_partial_writes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Larger than the socket buffers: the writes are partial.
        let body: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
        let parts: [&[u8]; 6] = [
            b"POST / HTTP/1.1\r\n",
            b"",
            b"A: b\r\n",
            b"7",
            b"\r\n",
            &body,
        ];
        let expected: Vec<u8> = parts.concat();
        let reader = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap();
            got
        });
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        write_all(&mut stream, &parts).await.unwrap();
        drop(stream);
        assert!(reader.await.unwrap() == expected);
    }

    #[test]
    fn lengths_are_written_in_decimal() {
        for n in [0, 7, 10, 150, 20_000, usize::MAX] {
            assert_eq!(decimal(n, &mut [0; 20]), n.to_string().as_bytes());
        }
    }
}
