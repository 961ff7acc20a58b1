//! What the stateless era (2026-07-28) asks of the gateway beyond routing a request,
//! one idea a file: [`headers`], the standard request headers checked against the
//! body; [`listen`], the `subscriptions/listen` stream (its acknowledgement, its
//! subscription id, the kinds a client opted into); [`retry`], a multi-round-trip
//! request's retry with the client's input.
//!
//! `mcp::phases` routes; what it hands off lives here.

pub mod headers;
pub mod listen;
pub mod retry;
