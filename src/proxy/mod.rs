//! The hop itself: JSON-RPC frames read as spans, spliced into upstream requests, and the
//! client's id restored in the answers streaming back.
//!
//! - [`forward`]: one call sent to its backend (breaker, bulkhead, timeout) and its
//!   answer handed back; `record`: what the call ended as (metrics, audit row, spans,
//!   log line); `upstream`: the answer on its way to the client;
//! - [`era`]: the era bridges: the adapter each call's pair of eras picks, MRTR rounds,
//!   the session bridge, consent, task inputs, sealed request state and task ids;
//! - [`splicer`]: the client's id put back into each message, JSON or SSE;
//! - [`calls`]: calls in flight and the backend's requests awaiting a client's answer;
//! - [`rpc`]: JSON-RPC errors and envelopes; `screen`: what a client is not to see of
//!   its answer stream (requests needing capabilities it lacks, log messages below its
//!   level);
//! - [`task_places`]: the places task calls hold under their key's bound;
//! - [`Plane`]: the data plane of the gateway's state, everything a call meets.
//!
//! One circle of files is left in this folder (the last in `src/`; `tests/source_layout.rs`
//! holds it at its size, 8 files, until it is broken up): the session bridge
//! ([`era`]'s `bridge`) sends a call's first round through [`forward`] again, which chose
//! it; and the answer on its way back (`upstream`) parks a 2026-07-28 call's rounds and
//! writes its record (`record`), both of which take the call's [`forward::Caller`], which
//! names the parked calls (`era::rounds`), which hold that answer. Breaking it takes
//! `Caller` to a file of its own, the backend's question (`rounds::Ask`) to another, and
//! the bridge's first round to one seam in [`forward`].

pub mod calls;
pub mod era;
pub mod forward;
mod plane;
mod record;
pub mod rpc;
mod screen;
pub mod splicer;
pub mod task_places;
mod upstream;

pub use plane::Plane;
