//! Everything that depends on an era, in one room: the client's (session era
//! 2025-03-26 … 2025-11-25, or 2026-07-28) and the backend's, and the bridge between
//! them. One idea a file, or a folder where the idea has parts:
//! - [`bridge`]: the adapter a call's pair of eras picks ([`bridge::Bridge`], chosen once
//!   when the call is routed; above `backend/`, the only code that asks a backend's era),
//!   and `bridge::session_to_modern`, a 2026-07-28 backend's `input_required` put to a
//!   session client as requests;
//! - [`rounds`]: multi-round-trip requests: a 2026-07-28 client's call parked between
//!   rounds, and the client's retry ([`rounds::retry`]);
//! - [`tasks`]: both eras' tasks: the session era's (2025-11-25), the 2026-07-28 tasks
//!   extension, a task's questions held for `tasks/input_response`, and the places task calls hold under their key's bound;
//! - [`listen`]: the `subscriptions/listen` stream (its acknowledgement, its subscription
//!   id, the kinds a client opted into);
//! - `consent`: a call that needs the caller's upstream account first (URL elicitation
//!   in either era);
//! - [`relay`]: a retry or a task request passed to the replica that holds it.
//!
//! What the eras say as bytes (versions, errors, questions, sealed state and task ids,
//! headers) is below the hop, in [`crate::mcp::wire`].
//!
//! The pipeline ([`crate::mcp::phases`]) routes and forwards and hands the retry and the
//! tasks off to this room through its one seam ([`crate::mcp::phases::serve`]); the hop
//! ([`crate::mcp::hop`]) asks the bridge what a call's envelope and answer need. What a
//! 2026-07-28 backend hears on the wire (the envelope, its listen stream) is below,
//! in [`crate::backend::envelope`], because the backend's transports send it.

pub mod bridge;
pub(super) mod consent;
pub mod listen;
pub mod plane;
pub mod relay;
pub mod rounds;
pub mod tasks;
