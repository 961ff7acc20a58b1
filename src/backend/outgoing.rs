//! A call on its way to a backend: which of the backend's sessions serves it (the
//! strategies [`super::Backend::session_for`] chooses among), and the request as it goes.

use bytes::Bytes;

use crate::backend::callers::Callers;
use crate::backend::http::modern::Headers;
use crate::backend::isolated::Owner;
use crate::observe::trace::Propagation;

/// Which of a backend's sessions serves a call ([`super::Backend::session_for`]).
pub(super) enum Session<'a> {
    /// The main session (or child).
    Main,
    /// The session of the client's capability set, kept apart from the main one.
    Capabilities,
    /// The caller's own session (a per-caller server).
    Caller(&'a Callers),
    /// A fresh bearer token first, then the capability set's session or the main one.
    Bearer,
}

/// A request on its way to the session that serves it.
pub(super) struct Outgoing<'a> {
    pub(super) owner: Owner<'a>,
    pub(super) id: &'a Bytes,
    pub(super) body: Bytes,
    pub(super) token: Option<Bytes>,
    pub(super) headers: Option<Headers>,
    pub(super) trace: Option<&'a Propagation>,
}
