//! The hop itself: JSON-RPC frames read as spans, spliced into upstream requests, and the
//! client's id restored in the answers streaming back.
//!
//! - [`forward`]: one call sent to its backend (breaker, bulkhead, timeout) and its
//!   answer handed back; [`caller`]: who the call is for; `record`: what the call ended as (metrics, audit row, spans,
//!   log line); `upstream`: the answer on its way to the client;
//! - [`splicer`]: the client's id put back into each message, JSON or SSE;
//! - [`calls`]: calls in flight and the backend's requests awaiting a client's answer;
//! - [`rpc`]: JSON-RPC errors and envelopes; `screen`: what a client is not to see of
//!   its answer stream (requests needing capabilities it lacks, log messages below its
//!   level);
//! - [`confirm_places`]: the places policies' confirmations hold while a session client is asked;
//! - [`Plane`]: the data plane of the gateway's state, everything a call meets.
//!
//! What depends on the eras (the bridge a call's pair of eras picks, MRTR rounds, the
//! session bridge, consent, task inputs, sealed request state and task ids) is in
//! [`crate::mcp::era`]; the hop asks the bridge, never the eras.
//!
//! No file here names another that names it back: the session bridge's first round is
//! sent by [`forward`], which hands its answer to the bridge (the bridge never calls back
//! up); [`caller::Caller`] and the backend's question (`era::rounds::ask`) have files of
//! their own, below the hop and the answer stream that both use them.

pub mod caller;
pub mod calls;
pub mod confirm_places;
pub mod exchange;
pub mod forward;
mod plane;
pub(in crate::mcp) mod record;
mod screen;
pub mod splicer;
pub mod upstream;

pub use plane::Plane;
