//! The client-facing MCP endpoint (`/mcp`, `/mcp/{namespace}`, `/api/v1/mcp/stream`).
//!
//! Both protocol eras on one path. Session era (2025-03-26 … 2025-11-25): `initialize`
//! mints a sealed `Mcp-Session-Id`; every later request carries it. Stateless era
//! (2026-07-28): every request carries its version in `_meta`; `server/discover` replaces
//! `initialize`, `subscriptions/listen` replaces `GET`.
//!
//! Lists are answered from the routing table. Calls (`tools/call`, `prompts/get`,
//! `resources/read`, …) are forwarded: the body is spliced (new id, backend's own name),
//! sent on the pooled connection, and the backend's response streams back through
//! [`ResponseSplicer`](crate::mcp::hop::splicer::ResponseSplicer), whatever its content type.
//!
//! Entering and re-entering the pipeline has one seam, [`phases::serve`]: it takes a
//! request to a retry ([`era::rounds::retry`]), a task of either era, or the phases; a
//! retry's request sent on again comes back to it as a value, never by a call up. The files
//! the phases hand off to ([`era::tasks`], [`served`]) take only the phases below the
//! pipeline's head ([`phases::charge`]) and the hop, and a request passed to another
//! replica ([`era::relay`]) is a file of its own, so no file here names one that names it
//! back (`tests/it/source_layout.rs` checks).
//!
//! The folders, top down: [`phases`], the call pipeline; [`era`], everything that depends
//! on the client's or the backend's era (the bridge, rounds and retry, tasks, listen,
//! headers, consent, the state a client carries between rounds); [`hop`], one call sent
//! to its backend and its answer streamed back; [`planes`], what every request can reach
//! (the gateway's state, [`crate::state`], composes it above, beside the control plane).
//!
//! The rooms, top down (a file uses only rooms below it): [`endpoint`] and [`spans`], the
//! HTTP face; [`phases`], the call pipeline; [`era`], the eras' adapters; [`hop`], one call
//! to its backend; [`wire`], the eras' dialects as bytes; [`ctx`], the request's context,
//! and [`planes`], what every request can reach.

pub mod admission;
pub mod batch;
pub mod code_run;
pub mod confirm;
pub mod conversation;
pub mod ctx;
pub mod endpoint;
pub mod era;
pub mod hop;
pub mod lists;
pub mod notices;
pub mod phases;
pub mod planes;
pub mod policed;
pub mod rest;
pub mod search;
pub mod served;
pub mod skills;
pub mod spans;
pub mod stream;
pub mod subscriptions;
pub mod wire;
