//! The pair of eras one call crosses ([`Bridge`]): chosen once, when the call is routed
//! (asking the backend's era, [`Bridge::choose`]), and then read as bytes: which envelope
//! a request needs, what a result is given, which codes are retired, and whether the
//! pair needs the era layer's adapter around the hop ([`Bridge::adapts`]). The adapters
//! themselves are the era layer's.

use bytes::Bytes;

use crate::backend::Backend;
use crate::jsonrpc::frame::{self, Frame};
use crate::jsonrpc::methods::Method;
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
    /// The bridge for a client of the stateless era (`stateless`) or a session client
    /// calling `backend`. A session client's first call to a 2026-07-28 backend asks it,
    /// once, whether it takes sessions too.
    pub async fn choose(stateless: bool, backend: &Backend) -> Bridge {
        if let Some(bridge) = Bridge::settled(stateless, backend) {
            return bridge;
        }
        // Boxed: this rare wait (an `initialize` the first time) would otherwise be laid
        // out inside every call's future, and each call's future is moved onto the heap
        // whole (some 10 KB copied per call, measured with callgrind).
        Box::pin(backend.offer_sessions()).await;
        match backend.is_modern_for(false) {
            false => Bridge::Sessions,
            true => Bridge::SessionToModern,
        }
    }

    /// The bridge, when choosing it asks the backend nothing: every pair but a session
    /// client's call to a 2026-07-28 backend (see [`Self::choose`]).
    pub fn settled(stateless: bool, backend: &Backend) -> Option<Bridge> {
        match (stateless, backend.is_modern()) {
            (false, false) => Some(Bridge::Sessions),
            (true, _) => Some(Bridge::stateless(backend)),
            (false, true) => None,
        }
    }

    /// The bridge for a client of the 2026-07-28 era calling `backend` (nothing to ask
    /// the backend first: such a client has no session a backend could take).
    pub fn stateless(backend: &Backend) -> Bridge {
        match backend.is_modern_for(true) {
            true => Bridge::Modern,
            false => Bridge::ModernToSession,
        }
    }

    /// What the gateway answers itself (its own tools): in the client's era, as is.
    pub fn direct(stateless: bool) -> Bridge {
        match stateless {
            true => Bridge::Modern,
            false => Bridge::Sessions,
        }
    }

    /// A session client's `method` whose `input_required` rounds are put to it as
    /// requests (`bridge`).
    pub fn asks_client(self, method: Option<Method>) -> bool {
        self == Bridge::SessionToModern && method.is_some_and(Method::calls_item)
    }

    /// A stateless client's `method` whose backend's requests become `input_required`
    /// rounds ([`crate::mcp::era::rounds`]).
    pub fn rounds_for_client(self, method: Option<Method>) -> bool {
        self == Bridge::ModernToSession && method.is_some_and(Method::calls_item)
    }

    /// Whether a call of `method` in `shape` needs the era layer's adapter around the
    /// hop (the backend's questions put to the client one way or the other); every other
    /// call is the hop's alone.
    pub fn adapts(self, method: Option<Method>, streamed: bool) -> bool {
        streamed && (self.asks_client(method) || self.rounds_for_client(method))
    }

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
