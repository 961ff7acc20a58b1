//! What the hop is handed and what it hands back: one [`Exchange`] (the request, its
//! backend, the name it goes by there, the pair of eras it crosses and the [`Shape`] of
//! answer wanted), and a [`Hopped`]: the answer, or what only the era layer above can
//! finish (an account to connect, URLs to visit, questions to hold for the client).

use std::sync::Arc;

use bytes::Bytes;
use hyper::Response;

use crate::backend::Backend;
use crate::http::Body;
use crate::jsonrpc::frame::{Frame, Span};
use crate::mcp::wire::ask::Ask;
use crate::mcp::wire::bridge::Bridge;

use super::upstream::UpstreamBody;

/// The shape of answer the caller of the hop asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Streamed to the client as it comes (an MCP request on its own).
    Streamed,
    /// Collected whole, the response message alone as JSON (a batch's element, REST, a
    /// task's own request).
    Whole,
    /// Streamed, but an SSE answer is handed back ([`Hopped::Held`]) with the backend's
    /// questions held for the era layer's rounds.
    Held,
}

/// One call for the hop: the client's request and its frame, the backend serving it
/// and the name it knows the item by (the span of the name in the request, and the
/// name), the pair of eras it crosses, and the answer's shape.
pub struct Exchange<'a> {
    pub body: &'a Bytes,
    pub f: &'a Frame,
    pub backend: &'a Arc<Backend>,
    pub rename: Option<(Span, Bytes)>,
    pub bridge: Bridge,
    pub shape: Shape,
}

/// What became of an exchange.
// The answer is what nearly every call ends as: boxing it would allocate on every call
// to shrink the rare variants.
#[allow(clippy::large_enum_variant)]
pub enum Hopped {
    /// The answer for the client.
    Answer(Response<Body>),
    /// The backend takes the call only with the caller's own account, which it has not
    /// connected (the reason); the name the call went by is handed back with it.
    NeedsAccount(String, Option<(Span, Bytes)>),
    /// A 2026-07-28 client must visit these URLs before the call can go on (the
    /// backend's whole answer was a URL elicitation required).
    UrlsFirst(Vec<Ask>),
    /// An SSE answer, asked for as [`Shape::Held`], with its questions held.
    Held(Box<UpstreamBody>),
}
