//! metamcp: many MCP servers behind one authenticated Streamable-HTTP endpoint.
//!
//! Clients speak MCP to the gateway; the gateway speaks to each registered backend
//! (Streamable HTTP, legacy HTTP+SSE or stdio), aggregates their tools, prompts and
//! resources, and routes every call to its owner. The registry and API keys live in
//! PostgreSQL, an external server or a private cluster the gateway starts itself.
//!
//! # Layout
//! Folders are planes; dependencies point down this list's reverse (a module uses only
//! modules listed after it). In the order a request meets them:
//! - [`server`]: accept loop, connection bounds, graceful shutdown; the hyper service
//!   and the request's phases (guard → route → authenticate → handle → record).
//! - [`control`]: the REST handlers (servers, namespaces, tools, tokens, events, health).
//! - [`registry`]: MCP registries (the official one and private ones): search, install
//!   a server from an entry, upgrade it under review, and what is outdated.
//! - [`state`]: the composition root: the planes a request reaches and the control
//!   plane (the registry, readiness, how a change becomes a routing build), which the
//!   server, the control API and start-up reach; the data plane takes only its planes.
//! - [`mcp`]: the client-facing MCP endpoint, both protocol eras, down to the backend, in
//!   rooms whose imports run one way: the endpoint, the call pipeline (`phases/`), the era
//!   adapters (`era/`), the hop (`hop/`: one call forwarded, its answer streamed back), the
//!   eras' dialects as bytes (`wire/`), the request's context (`ctx.rs`) and the planes a
//!   request reaches (`planes.rs`).
//! - [`routing`]: the lock-free table of who serves what, built whole from the registry
//!   and the backends' lists; resource subscriptions.
//! - [`guard`]: a namespace's external guardrails: HTTP hooks on a tool call's request
//!   and result (allow, deny, mutate; enforce or audit; fail open or closed).
//! - [`pins`]: tool definitions pinned on first sight, changes held for an admin's
//!   review, and the screening of definitions.
//! - [`backend`]: supervised backends behind one transport seam: Streamable HTTP, legacy
//!   HTTP+SSE, stdio children (shared or one per client).
//! - [`vault`]: per-caller upstream accounts: OAuth flows, tokens and secrets, sealed.
//! - [`observe`]: the lifecycle event stream and Prometheus metrics.
//! - [`http`]: the route table, response bodies, bounded request reads, the API error
//!   and its mapping to statuses, the OpenAPI document.
//! - [`auth`]: keys and tokens checked from memory, sealed client sessions; `limits/`:
//!   every limit a caller meets (per key, across replicas, failed attempts) and key usage.
//! - [`store`]: the database (external or embedded), migrations, registry and key
//!   queries.
//! - [`model`]: servers, namespaces, the snapshot, and their validation and name rules.
//! - [`search`]: tool search's retrieval: words, related words, the BM25F index.
//! - [`policy`]: the policies of a call (a trait with two hooks) and its first
//!   policy, `validate_arguments`; policies by identity (CEL rules).
//! - [`codemode`]: `run_code`'s sandbox: a script's inner calls through a host seam the
//!   pipeline implements, bounded (time by interrupt, memory, calls, output, runs), with a
//!   journal for resumption and TypeScript declarations of tools.
//! - [`base`]: the words every room shares: client capability sets, key ids, the clock,
//!   a transport's error.
//! - [`jsonrpc`]: JSON-RPC frames read as byte spans, for the hop and the transports.
//!
//! Around them:
//! - [`app`]: start-up (database, migrations, secrets, listener) and the change listener
//!   that keeps every process current.
//! - [`config`]: environment (over an optional TOML file) parsed in one pass; [`cli`]:
//!   the binaries' shared flags; [`crypto`]: sealing secrets, random tokens.
//! - [`keyadm`]: the key administration commands, which `metamcp` runs as `keyadm`
//!   (src/main.rs); [`mcpc`]: the small MCP client it runs as `mcpc`.

// Unsafe code only where documented and allowed locally: the pool's read into a
// buffer's spare capacity, and the libc calls of the embedded cluster (euid, getpwnam_r).
#![deny(unsafe_code)]

pub mod app;
pub mod auth;
pub mod backend;
pub mod base;
pub mod cli;
pub mod codemode;
pub mod config;
pub mod control;
pub mod crypto;
pub mod guard;
pub mod http;
pub mod jsonrpc;
pub mod keyadm;
pub mod mcp;
pub mod mcpc;
pub mod model;
pub mod observe;
pub mod pins;
pub mod policy;
pub mod registry;
pub mod routing;
pub mod search;
pub mod server;
pub mod state;
pub mod store;
pub mod vault;
