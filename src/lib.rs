//! metamcp: many MCP servers behind one authenticated Streamable-HTTP endpoint.
//!
//! Clients speak MCP to the gateway; the gateway speaks to each registered backend
//! (Streamable HTTP, legacy HTTP+SSE or stdio), aggregates their tools, prompts and
//! resources, and routes every call to its owner. The registry and API keys live in
//! PostgreSQL, an external server or a private cluster the gateway starts itself.
//!
//! # Layout
//! In the order a request meets them:
//! - [`server`]: accept loop, graceful shutdown; the hyper service and
//!   its phases (guard → route → authenticate → handle → record); [`connections`]: how
//!   many are served, per address and in total, and which idle one gives way.
//! - [`router`]: the route table, matched by hand.
//! - [`auth`]: keys and tokens checked from memory; [`token`] signs and checks JWTs;
//!   [`ratelimit`] limits failed attempts per address.
//! - [`mcp`]: the MCP endpoint, both protocol eras; [`session`] seals client sessions.
//! - [`frame`]: JSON-RPC spans via simd-json, spliced into upstream requests;
//!   [`routing`]: the lock-free table of who serves what; [`backends`]: supervised
//!   upstream connections over [`upstream`]; [`splicer`]: the client's id restored in
//!   streamed answers.
//! - [`api`]: control-plane handlers; [`http`]: bodies, bounded reads, API errors.
//! - [`registry`]: servers and namespaces, validated and stored with secrets sealed.
//! - [`subscriptions`]: who wants which resource's updates, bounded.
//! - [`events`]: the NDJSON lifecycle stream; [`metrics`]: Prometheus; [`openapi`].
//! - [`state`]: what every request can reach.
//! - [`changes`]: LISTEN/NOTIFY, keeping keys and registry current in every process.
//! - [`keys`]: API key storage and argon2id verification (off the async workers).
//!
//! Underneath:
//! - [`app`]: start-up: database, migrations, secrets, listener.
//! - [`config`]: environment (over an optional TOML file) parsed in one pass.
//! - [`cli`]: the binaries' shared flag parsing.
//! - [`db`]: the connection pool, external or embedded.
//! - [`embedded`]: the private PostgreSQL cluster under the data dir.
//! - [`migrate`]: the numbered SQL files in `sql/`.
//! - [`secrets`]: JWT secret and encryption key, given or generated.
//! - [`crypto`]: sealing secrets at rest, random tokens.
//! - [`names`]: name rules for servers, namespaces and tools.
//! - [`keyadm`]: the key administration commands behind `tools/keyadm`.

pub mod api;
pub mod app;
pub mod auth;
pub mod backends;
pub mod changes;
pub mod cli;
pub mod config;
pub mod connections;
pub mod crypto;
pub mod db;
pub mod embedded;
pub mod events;
pub mod frame;
pub mod http;
pub mod keyadm;
pub mod keys;
pub mod mcp;
pub mod metrics;
pub mod migrate;
pub mod names;
pub mod openapi;
pub mod pool;
pub mod ratelimit;
pub mod registry;
pub mod router;
pub mod routing;
pub mod secrets;
pub mod server;
pub mod session;
pub mod splicer;
pub mod state;
pub mod subscriptions;
pub mod token;
pub mod upstream;
