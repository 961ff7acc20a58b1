//! What a client's era asks of the endpoint beyond the call pipeline, one idea a file:
//! [`headers`], the 2026-07-28 request headers checked against the body; [`listen`],
//! the `subscriptions/listen` stream (its acknowledgement, its subscription id, the
//! kinds a client opted into); [`retry`], a multi-round-trip request's retry with the
//! client's input; [`relay`], a retry or a task request passed to the replica that
//! holds it; [`tasks`], a session client's tasks (2025-11-25) and [`task_ext`], the
//! tasks extension of 2026-07-28, both kept by the gateway.
//!
//! [`crate::mcp::phases`] routes and forwards; what it hands off lives here. The hop's
//! side of the bridges is [`crate::mcp::hop::era`].

pub mod headers;
pub mod listen;
pub mod relay;
pub mod retry;
pub mod task_ext;
pub mod tasks;
