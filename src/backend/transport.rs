//! The transport seam: what a backend's transport offers the supervisor and the hop,
//! whatever it speaks. One arm per transport, each in its own folder or file under
//! `backend/`; adding a transport is a new file and a new arm here, nothing in `mcp/`
//! or `routing/`.
//!
//! An enum, not a trait object: the hot path (`request`, then the answer's body polled
//! piece by piece) is matched statically, with no boxed future or virtual call per
//! request, and each arm keeps its own concrete types.

use std::task::{Context, Poll};

use bytes::Bytes;
use serde_json::Value;

use crate::backend::hello::Hello;
use crate::backend::http::HttpAnswer;
use crate::backend::http::transport::{HttpMessages, HttpTransport};
use crate::backend::isolated::{IsolatedTransport, Owner};
use crate::backend::mux::{self, MuxAnswer, OwnMessages};
use crate::backend::sse::SseTransport;
use crate::backend::stdio::StdioTransport;
use crate::base::ClientCaps;
use crate::base::UpstreamError;

/// How a backend is reached.
// One per backend, inside its `Arc`: the arms' sizes do not matter, and boxing the HTTP
// arm would add a pointer chase to every forwarded call.
#[allow(clippy::large_enum_variant)]
pub enum Transport {
    /// Streamable HTTP (sessions, pooled connections, a GET stream).
    Http(HttpTransport),
    /// A child process on stdin/stdout, shared by every client.
    Stdio(StdioTransport),
    /// The legacy HTTP+SSE transport (2024-11-05).
    Sse(SseTransport),
    /// stdio with a child per client (`session_mode: "isolated"`).
    Isolated(IsolatedTransport),
}

/// A backend's answer to a forwarded request, its body still arriving.
pub struct Answer {
    /// The HTTP status it came with (200 but for a 2026-07-28 backend's refusal, a 4xx
    /// with the JSON-RPC error; 200 for transports without one).
    pub status: u16,
    /// An SSE stream of messages (notifications, the backend's own requests, then the
    /// response), as opposed to one JSON message.
    pub sse: bool,
    pub body: AnswerBody,
    /// Which of the backend's sessions answers ([`ClientCaps`] bits of the one it
    /// declared; [`ClientCaps::ALL`] for its main session): the client's answers and
    /// cancellations go to the same one.
    ///
    /// [`ClientCaps`]: crate::base::ClientCaps
    /// [`ClientCaps::ALL`]: crate::base::ClientCaps::ALL
    pub via: u8,
}

/// The body of an [`Answer`].
pub enum AnswerBody {
    Http(HttpAnswer),
    /// A call multiplexed on a stream shared with others (stdio, legacy SSE).
    Mux(MuxAnswer),
}

impl AnswerBody {
    /// Marks the call parked: its client's answers come on a retry that may never come,
    /// so the backend's requests naming no call are not its (they would be refused as
    /// ambiguous while it waits, for up to `METAMCP_MRTR_TTL`).
    pub fn set_parked(&self, parked: bool) {
        match self {
            AnswerBody::Http(HttpAnswer::Joined(j)) => j.set_parked(parked),
            AnswerBody::Mux(m) => m.set_parked(parked),
            AnswerBody::Http(_) => {}
        }
    }

    /// The whole body, when it has already arrived in full (the usual case for a small
    /// JSON answer): no stream to poll.
    pub fn take_whole(&mut self) -> Option<Bytes> {
        match self {
            AnswerBody::Http(a) => a.take_whole(),
            AnswerBody::Mux(a) => a.take_whole(),
        }
    }

    /// The next piece of the body; `None` at its end.
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, String>>> {
        match self {
            AnswerBody::Http(a) => a.poll_chunk(cx),
            AnswerBody::Mux(a) => a.poll_chunk(cx),
        }
    }
}

/// The backend's own messages (notifications, requests not tied to a call).
pub enum Messages {
    Http(HttpMessages),
    Own(OwnMessages),
}

impl Messages {
    /// The next message as JSON text; `None` when the stream ends.
    pub async fn next(&mut self) -> Option<Vec<u8>> {
        match self {
            Messages::Http(m) => m.next().await,
            Messages::Own(m) => m.next().await,
        }
    }
}

impl Transport {
    /// Opens (or reopens) the connection and the MCP session; what the backend said of
    /// itself.
    pub async fn connect(&self) -> Result<Hello, UpstreamError> {
        match self {
            Transport::Http(t) => t.connect().await,
            Transport::Stdio(t) => t.connect().await,
            Transport::Sse(t) => t.connect().await,
            Transport::Isolated(t) => t.connect().await,
        }
    }

    /// The lists are read after a connect or a change (an isolated server's catalog
    /// child stops until the next change).
    pub async fn settle(&self) {
        if let Transport::Isolated(t) = self {
            t.settle().await;
        }
    }

    /// Whether requests must carry gateway-unique progress tokens (all calls share one
    /// stream of messages, as on a pipe).
    pub fn rewrites_progress_tokens(&self) -> bool {
        matches!(
            self,
            Transport::Stdio(_) | Transport::Sse(_) | Transport::Isolated(_)
        )
    }

    /// Sends a request frame (its id, `id`, already the gateway's; its progress token,
    /// if the transport rewrites them, replaced by `id`, the client's own in `token`);
    /// the answer arrives in [`Answer::body`]. `owner` picks an isolated server's child.
    pub async fn request(
        &self,
        owner: Owner<'_>,
        id: &Bytes,
        body: Bytes,
        token: Option<Bytes>,
        headers: Option<&crate::backend::http::modern::Headers>,
        trace: Option<&crate::observe::trace::Propagation>,
    ) -> Result<Answer, UpstreamError> {
        // Over a pipe the trace context travels in `params._meta`.
        let in_meta = |body: Bytes| match trace {
            Some(t) => t.in_meta(&body),
            None => body,
        };
        match self {
            Transport::Http(t) => {
                let (status, sse, body) = t.request(&|| owner.tag(), body, headers, trace).await?;
                Ok(Answer {
                    status,
                    sse,
                    body: AnswerBody::Http(body),
                    via: ClientCaps::ALL,
                })
            }
            Transport::Stdio(t) => {
                let (sse, body) = t.request(owner.tag(), id, in_meta(body), token).await?;
                Ok(Answer {
                    status: 200,
                    sse,
                    body: AnswerBody::Mux(body),
                    via: ClientCaps::ALL,
                })
            }
            Transport::Sse(t) => {
                let (sse, body) = Box::pin(t.request(owner.tag(), id, body, token, trace)).await?;
                Ok(Answer {
                    status: 200,
                    sse,
                    body: AnswerBody::Mux(body),
                    via: ClientCaps::ALL,
                })
            }
            Transport::Isolated(t) => {
                // Boxed, as the legacy arm above: their futures (a child started for
                // the caller, an SSE stream's endpoint) would set the size of every
                // call's future, HTTP ones included.
                let (sse, body) = Box::pin(t.request(owner, id, in_meta(body), token)).await?;
                Ok(Answer {
                    status: 200,
                    sse,
                    body: AnswerBody::Mux(body),
                    via: ClientCaps::ALL,
                })
            }
        }
    }

    /// A control-path request (lists, ping) and its `result`.
    pub async fn call(
        &self,
        id: &str,
        method: &str,
        params: Value,
    ) -> Result<Value, UpstreamError> {
        match self {
            Transport::Http(t) => t.call(id, method, params).await,
            Transport::Stdio(t) => t.call(method, params).await,
            Transport::Sse(t) => t.call(method, params).await,
            Transport::Isolated(t) => t.call(method, params).await,
        }
    }

    /// Sends a notification, or a client's answer to one of the backend's requests
    /// (`owner`'s child, for an isolated server).
    pub async fn notify(&self, owner: &str, body: Bytes) -> Result<(), UpstreamError> {
        match self {
            Transport::Http(t) => t.notify(body).await,
            Transport::Stdio(t) => t.notify(body).await,
            Transport::Sse(t) => t.notify(body).await,
            Transport::Isolated(t) => t.notify(owner, body).await,
        }
    }

    /// A session of the same server declaring only the client capabilities `declared`
    /// (another child, for stdio); `None` for transports that need none: a 2026-07-28
    /// backend is told each request's capabilities, an isolated server runs a child per
    /// client already.
    pub fn variant(&self, declared: u8) -> Option<Transport> {
        match self {
            Transport::Http(t) if !t.is_modern() => Some(Transport::Http(t.variant(declared))),
            Transport::Stdio(t) if !t.is_modern() => Some(Transport::Stdio(t.variant(declared))),
            Transport::Sse(t) => Some(Transport::Sse(t.variant(declared))),
            Transport::Http(_) | Transport::Stdio(_) | Transport::Isolated(_) => None,
        }
    }

    /// Follows or stops following a 2026-07-28 backend's resource for session clients
    /// (their `resources/subscribe`, which that revision has not: its listen stream
    /// carries the updates).
    pub fn watch(&self, uri: &str, on: bool) -> Result<(), String> {
        match self {
            Transport::Http(t) if t.is_modern() => t.watch(uri, on),
            Transport::Stdio(t) => t.watch(uri, on),
            _ => Err("not a 2026-07-28 backend".into()),
        }
    }

    /// Completes when the followed resources changed; never for other transports.
    pub async fn rewatched(&self) {
        match self {
            Transport::Http(t) => t.rewatched().await,
            _ => std::future::pending().await,
        }
    }

    /// Hands a message of the backend's own stream that names no call (a request, a log
    /// message) to the one client's call in flight, when there is one; `false`
    /// otherwise. On a shared pipe the [`Mux`] hands them as they arrive.
    ///
    /// [`Mux`]: crate::backend::mux::Mux
    pub async fn join(&self, msg: &[u8]) -> bool {
        match self {
            Transport::Http(t) => match crate::jsonrpc::frame::parse(msg) {
                Ok(f) if mux::may_join(&f) => t.join(msg, f.is_request()).await,
                _ => false,
            },
            _ => false,
        }
    }

    /// Whether it may have sessions per client capability set ([`Transport::variant`]).
    pub fn varies(&self) -> bool {
        match self {
            Transport::Http(t) => !t.is_modern(),
            Transport::Stdio(t) => !t.is_modern(),
            Transport::Sse(_) => true,
            Transport::Isolated(_) => false,
        }
    }

    /// Before a session client's call: a 2026-07-28 backend over HTTP is asked once for
    /// a session of that client's era.
    pub async fn offer_sessions(&self) {
        if let Transport::Http(t) = self {
            t.offer_sessions().await;
        }
    }

    /// Whether a 2026-07-28 backend also serves session clients in a session of their
    /// own era (a dual-era server over HTTP).
    pub fn serves_sessions(&self) -> bool {
        match self {
            Transport::Http(t) => t.serves_sessions(),
            _ => false,
        }
    }

    /// Whether the backend speaks 2026-07-28 (stateless: Streamable HTTP or a pipe).
    pub fn is_modern(&self) -> bool {
        match self {
            Transport::Http(t) => t.is_modern(),
            Transport::Stdio(t) => t.is_modern(),
            Transport::Sse(_) | Transport::Isolated(_) => false,
        }
    }

    /// The stream of the backend's own messages, if it offers one.
    pub async fn messages(&self) -> Result<Option<Messages>, UpstreamError> {
        match self {
            Transport::Http(t) => Ok(t.messages().await?.map(Messages::Http)),
            Transport::Stdio(t) => Ok(t.messages()?.map(Messages::Own)),
            Transport::Sse(t) => Ok(t.messages()?.map(Messages::Own)),
            Transport::Isolated(t) => Ok(t.messages().map(Messages::Own)),
        }
    }

    /// How long until an idle-stopping transport stops for idleness (`None`: never).
    pub fn idle_remaining(&self) -> Option<std::time::Duration> {
        match self {
            Transport::Stdio(t) if !t.is_asleep() => t.idle_remaining(),
            Transport::Isolated(_) => Some(crate::backend::isolated::SWEEP_EVERY),
            _ => None,
        }
    }

    /// Stops for idleness if the time has come; `true` when it did.
    pub async fn try_sleep(&self) -> bool {
        match self {
            Transport::Stdio(t) => t.try_sleep().await,
            // An isolated server never sleeps as a whole; its clients' children do.
            Transport::Isolated(t) => {
                t.sweep().await;
                false
            }
            _ => false,
        }
    }

    /// Whether it is stopped for idleness (its lists stay; the next call wakes it).
    pub fn is_asleep(&self) -> bool {
        matches!(self, Transport::Stdio(t) if t.is_asleep())
    }

    /// Waits until a call wakes it.
    pub async fn wait_awake(&self) {
        if let Transport::Stdio(t) = self {
            t.wait_awake().await;
        }
    }

    /// Ends the session (best effort).
    pub async fn close(&self) {
        match self {
            Transport::Http(t) => t.close().await,
            Transport::Stdio(t) => t.close().await,
            Transport::Sse(t) => t.close().await,
            Transport::Isolated(t) => t.close().await,
        }
    }
}
