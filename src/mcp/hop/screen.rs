//! What a client is not to see of its backend's answer stream, by the client's own
//! settings: requests needing a capability it did not declare, and log messages below
//! the level it asked for (a stateless client in each request, none when it asked for
//! none; a session with `logging/setLevel`).

use std::sync::Arc;

use bytes::Bytes;

use crate::base::ClientCaps;
use crate::jsonrpc::frame;
use crate::jsonrpc::log_level::Levels;
use crate::jsonrpc::methods::Method;
use crate::jsonrpc::needle::Needle;

/// What marks a log message in an SSE piece.
pub(super) const LOG_MESSAGE: &[u8] = Method::Message.as_str().as_bytes();
pub(super) static LOG_NEEDLE: Needle = crate::needle!(LOG_MESSAGE);

/// The client's settings for one call, read from its request when first needed.
pub(crate) struct Screen {
    /// The client's capabilities; `None` until read from the request's `_meta`.
    caps: Option<u8>,
    /// A stateless-era client: log messages reach it only at or above the level its
    /// request asked for, and none when it asked for none.
    client_modern: bool,
    /// The levels sessions set (`logging/setLevel`), for a session client's messages.
    levels: Arc<Levels>,
    /// That level, once read from the request's `_meta` (`Some(None)`: none asked).
    log_floor: Option<Option<u8>>,
}

impl Screen {
    /// `caps`: the capabilities the client declared, when already known.
    pub(crate) fn new(caps: Option<u8>, client_modern: bool, levels: Arc<Levels>) -> Screen {
        Screen {
            caps,
            client_modern,
            levels,
            log_floor: None,
        }
    }

    /// Whether the client is of the stateless era.
    pub(crate) fn client_modern(&self) -> bool {
        self.client_modern
    }

    /// The client's capabilities (a stateless client's, read once from `request`).
    pub(crate) fn caps(&mut self, request: &Bytes) -> u8 {
        *self
            .caps
            .get_or_insert_with(|| ClientCaps::from_request(request))
    }

    /// Forgets what was read from the request: a retry brings its own `_meta`.
    pub(crate) fn reread(&mut self) {
        self.caps = None;
        self.log_floor = None;
    }

    /// The level a stateless client's `request` asked for (read once).
    fn log_floor(&mut self, request: &Bytes) -> Option<u8> {
        *self.log_floor.get_or_insert_with(|| {
            frame::parse(request)
                .ok()
                .and_then(|f| f.meta)
                .and_then(|s| frame::container_span(request, s.start))
                .and_then(|s| crate::jsonrpc::log_level::requested(s.of(request)).ok())
                .flatten()
        })
    }

    /// Whether `event` is a log message the client is not to see; `conversation` is the
    /// session's, for the level it set.
    pub(crate) fn muted(&mut self, event: &[u8], request: &Bytes, conversation: &str) -> bool {
        if !LOG_NEEDLE.in_(event) {
            return false;
        }
        let floor = if self.client_modern {
            self.log_floor(request)
        } else {
            // A session that set no level gets every message.
            match self.levels.get(conversation) {
                Some(level) => Some(level),
                None => return false,
            }
        };
        crate::jsonrpc::sse::data_of(event).iter().any(|data| {
            frame::parse(data).is_ok_and(|f| f.is(Method::Message))
                && !crate::jsonrpc::log_level::passes(data, floor)
        })
    }
}
