//! The client's era, as the rooms that serve a request ask it: named questions about the
//! caller's era, answered here, so that no room outside the era layer reads which era it
//! is in (only the endpoint, which learns it, and the conversation, which keeps it).

use bytes::Bytes;
use hyper::StatusCode;

use crate::base::ClientCaps;
use crate::jsonrpc::frame::Frame;
use crate::mcp::ctx::Ctx;
use crate::mcp::lists::{Cache, with_hints};

impl Ctx {
    /// Whether the client speaks 2026-07-28 (each request on its own, no session).
    pub(crate) fn client_modern(&self) -> bool {
        self.stateless
    }

    /// The client's capabilities: its session's, or (2026-07-28) what this request
    /// declares; `None` for a caller with neither (REST).
    pub(crate) fn caps_of(&self, body: &[u8], f: &Frame) -> Option<u8> {
        match self.client_caps {
            Some(c) => Some(c),
            None if self.stateless => Some(ClientCaps::of_frame(body, f)),
            None => None,
        }
    }

    /// A result the gateway makes, stamped as the client's era wants it (`resultType`
    /// and the caching hints for a 2026-07-28 client).
    pub(crate) fn stamped(&self, result: Bytes, cache: Option<Cache>) -> Bytes {
        with_hints(result, self.stateless, cache)
    }

    /// Whether a question the gateway asks mid-call goes back as `input_required` for
    /// the client to answer on its retry (2026-07-28), not on the call's stream.
    pub(crate) fn asks_by_rounds(&self) -> bool {
        self.stateless
    }

    /// Whether the request is a 2026-07-28 retry carrying `requestState`.
    pub(crate) fn is_retry(&self, f: &Frame) -> bool {
        self.stateless && f.request_state.is_some()
    }

    /// Whether the request asks about a task: the session era's `tasks/*` or the
    /// 2026-07-28 tasks extension's methods.
    pub(crate) fn is_task_request(&self, f: &Frame) -> bool {
        f.kind.is_some_and(|m| match self.stateless {
            false => m.is_task(),
            true => m.is_task_ext(),
        })
    }

    /// Whether the client's session takes `logging/setLevel` (the 2026-07-28 era has
    /// no session to set it on).
    pub(crate) fn sets_log_level(&self) -> bool {
        !self.stateless
    }

    /// The status of an answer for a method the gateway does not serve: 404 in the
    /// 2026-07-28 era, as the revision says; 200 in a session.
    pub(crate) fn not_found_status(&self) -> StatusCode {
        match self.stateless {
            true => StatusCode::NOT_FOUND,
            false => StatusCode::OK,
        }
    }
}
