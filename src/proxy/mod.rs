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
//! The circles inside this folder are recursion, and stay: the session bridge and
//! consent ([`era`]) send each round of a call through [`forward`] again, which chose
//! them; the answer on its way back (`upstream`) parks a 2026-07-28 call's rounds and
//! writes its record (`record`), both of which take the call's [`forward::Caller`].

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
