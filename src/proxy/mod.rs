//! The hop itself: JSON-RPC frames read as spans, spliced into upstream requests, and the
//! client's id restored in the answers streaming back.
//!
//! - [`forward`]: one call sent to its backend (breaker, bulkhead, timeout) and its
//!   answer handed back; `record`: what the call ended as (metrics, audit row, spans,
//!   log line); `upstream`: the answer on its way to the client;
//! - `rounds`: a 2026-07-28 client's call waiting for its input; `bridge`: a 2026-07-28
//!   backend's questions put to a session-era client;
//! - [`splicer`]: the client's id put back into each message, JSON or SSE;
//! - [`calls`]: calls in flight and the backend's requests awaiting a client's answer;
//! - [`rpc`]: JSON-RPC errors and envelopes;
//! - [`task_places`]: the places task calls hold under their key's bound.

mod bridge;
pub mod calls;
mod consent;
mod extensions;
pub mod forward;
mod record;
pub mod rounds;
pub mod rpc;
pub mod splicer;
pub mod task_inputs;
pub mod task_places;
mod upstream;
