//! The integration suite, one test binary: the crate is linked once, and the private
//! PostgreSQL cluster (`support::cluster`) is started once per run, each test taking a
//! database of its own. One module per concern; libtest runs the tests side by side on
//! threads (`tests/run.sh` chooses how many), so no test may rely on running alone: ports
//! are port 0, environment variables are given to children (never set in this process),
//! and what must be serial takes a named lock (`support::serial`).
//!
//! A new concern is a new file here, `tests/it/<concern>.rs`, named below as a module; its
//! helpers come from `crate::support` (`use crate::support;`, then `support::…`).
//! `tests/allocs.rs` stays a binary of its own: it counts allocations with a global
//! allocator, and the other tests' allocations would be counted with its own.

#[path = "../support/mod.rs"]
mod support;

/// The value of `IMPORT_TEST_TOKEN` in this process's environment, for the import test's
/// `${IMPORT_TEST_TOKEN}` (the in-process gateway expands references from its own
/// environment).
pub const IMPORT_TEST_TOKEN: &str = "t0ken-from-env";

/// Sets the environment the tests read, before `main`: setting a variable while other
/// threads run (the tests do, side by side) races with their reads.
extern "C" fn set_environment() {
    // SAFETY: run from `.init_array`, before main, while this process has one thread.
    unsafe { std::env::set_var("IMPORT_TEST_TOKEN", IMPORT_TEST_TOKEN) };
}

#[used]
#[unsafe(link_section = ".init_array")]
static SET_ENVIRONMENT: extern "C" fn() = set_environment;

mod audit;
mod call_log;
mod code_mode;
mod confirm;
mod conformance;
mod control_plane;
mod data_plane;
mod embedded;
mod everything;
mod extensions;
mod first_hour;
mod gateway_binary;
mod gateway_tools;
mod guardrails;
mod import;
mod json_lines_backend;
mod keyadm;
mod keys;
mod limits;
mod mcpc;
mod migrations;
mod mrtr;
mod oauth;
mod one_reading;
mod peers;
mod policies;
mod policy;
mod quickstart;
mod readme;
mod replicas;
mod replicas_in_process;
mod resilience;
mod reviews;
mod security;
mod server_behaviour;
mod shared_limits;
mod skills;
mod source_layout;
mod stdio;
mod streaming;
mod swagger_ui;
mod tasks;
mod tls_backends;
mod tool_search;
mod tracing;
mod upstream_auth;
