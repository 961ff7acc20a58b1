//! The pair of eras one call crosses ([`Bridge`]), as bytes: which envelope a request
//! needs, what a result is given, which codes are retired. The hop reads these; which
//! pair a call crosses is chosen once, when it is routed, by the era layer
//! ([`crate::mcp::era::bridge`]), which also decides what the adapter does with the
//! backend's questions.

use bytes::Bytes;

use crate::jsonrpc::frame::{self, Frame};
use crate::mcp::wire::rpc::STATELESS_RESULT_MEMBERS;

/// The pair of eras one call crosses: the client's, then the backend's as it serves this
/// client (a dual-era backend serves a session client in a session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bridge {
    /// Session client, session-era backend: the bytes go through as they are.
    Sessions,
    /// Session client, 2026-07-28 backend: each request gets the envelope of the
    /// session; the backend's `input_required` becomes requests to the client.
    SessionToModern,
    /// 2026-07-28 client, session-era backend: results get `resultType` and caching
    /// hints; the backend's requests during a call become `input_required` rounds.
    ModernToSession,
    /// Both 2026-07-28: results get `resultType` where the backend left it out.
    Modern,
}

impl Bridge {
    /// The backend serves this call in the 2026-07-28 era.
    pub fn backend_modern(self) -> bool {
        matches!(self, Bridge::SessionToModern | Bridge::Modern)
    }

    /// The client is of the 2026-07-28 era: a closed stream is its cancellation, a
    /// refusal keeps its HTTP status, a URL it must visit is an `input_required`.
    pub fn client_modern(self) -> bool {
        matches!(self, Bridge::ModernToSession | Bridge::Modern)
    }

    /// Whether the request [`Bridge::request`] makes of `f` may carry the 2026-07-28
    /// envelope: a 2026-07-28 backend's always does; a session-era backend's only when
    /// the client's request has a `params._meta` (where the envelope lives), so the
    /// common call without one is never searched for it.
    pub fn enveloped(self, f: &Frame) -> bool {
        matches!(self, Bridge::SessionToModern | Bridge::Modern) || f.meta.is_some()
    }

    /// The request as the backend's era needs it: a 2026-07-28 client's extensions it
    /// carries on, or a session client's envelope added (`caps`, the capabilities the
    /// session declared, and `level`, the log level it set, asked only then).
    pub fn request(
        self,
        f: &Frame,
        body: Bytes,
        caps: Option<u8>,
        level: impl FnOnce() -> Option<u8>,
    ) -> Bytes {
        match self {
            Bridge::Sessions | Bridge::ModernToSession => body,
            Bridge::SessionToModern | Bridge::Modern => match f.meta_version {
                Some(_) => crate::mcp::wire::extensions::carried_only(body),
                None => with_envelope(body, caps, level()),
            },
        }
    }

    /// The members a session-era backend's results need for a stateless client.
    pub fn result_members(self) -> Option<Bytes> {
        (self == Bridge::ModernToSession).then(|| Bytes::from_static(STATELESS_RESULT_MEMBERS))
    }

    /// An answer that arrived whole, as the client's era reads it: error codes the
    /// revision retired replaced, and a 2026-07-28 backend's result without `resultType`
    /// given one.
    pub fn answer_for_client(self, whole: Bytes) -> Bytes {
        match self {
            Bridge::Sessions | Bridge::SessionToModern => whole,
            Bridge::ModernToSession => crate::mcp::wire::retired::retire_codes(whole),
            Bridge::Modern => {
                let whole = crate::mcp::wire::retired::retire_codes(whole);
                crate::mcp::wire::rpc::with_result_type(&whole).unwrap_or(whole)
            }
        }
    }

    /// A streamed answer's events are given `resultType` where missing.
    pub fn stamps_stream(self) -> bool {
        self == Bridge::Modern
    }
}

/// A session client's request to a modern backend, with the envelope in its `_meta`:
/// the revision, the capabilities the session declared (`caps`), and the level it set.
pub fn with_envelope(body: Bytes, caps: Option<u8>, level: Option<u8>) -> Bytes {
    let Ok(f) = frame::parse(&body) else {
        return body;
    };
    let caps = crate::base::ClientCaps::to_json(caps.unwrap_or(0));
    let level = level.and_then(|l| {
        crate::jsonrpc::log_level::LEVELS
            .get(usize::from(l))
            .copied()
    });
    let members = crate::backend::envelope::envelope(&caps, level);
    frame::add_to_meta(&body, &f, &members)
}
