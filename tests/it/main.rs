//! The integration suite, one test binary: the crate is linked once, and the private
//! PostgreSQL cluster (`support::cluster`) is started once per run, each test taking a
//! database of its own. libtest runs the tests side by side on threads (`tests/run.sh`
//! chooses how many), so no test may rely on running alone: ports are port 0, environment
//! variables are given to children (never set in this process), and what must be serial
//! takes a named lock (`support::serial`).
//!
//! The tests stand on shelves, a folder a plane, each with a `mod.rs` saying what it
//! holds: `data_plane/` (the MCP endpoint down to the backends), `eras/` (both protocol
//! eras and the four bridges between them), `governance/` (policies, confirmations,
//! reviews, guardrails, audit, security), `identity/` (keys, limits, OAuth, upstream
//! accounts), `control/` (REST, keyadm, mcpc, migrations, traces), `scale/` (replicas,
//! shared limits), `peers/` (the official SDKs, the conformance suite), `journeys/` (the
//! README and a new user's first hour, run as written) and `house/` (the source tree's and
//! the docs' own rules). This file is the only module directly under `tests/it/`.
//!
//! A new concern is a new file on its shelf, `tests/it/<shelf>/<concern>.rs`, named in the
//! shelf's `mod.rs`; its helpers come from `crate::support` (`use crate::support;`, then
//! `support::…`): the one deadline (`support::WAIT`) and polling (`support::eventually`),
//! gateways with their servers, namespaces and sessions (`support::gateway`), the
//! conformance fixtures of either era (`support::fixture`). A scenario that should hold
//! across the four era bridges goes in `eras/bridges.rs`, written once.
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

mod control;
mod data_plane;
mod eras;
mod governance;
mod house;
mod identity;
mod journeys;
pub(crate) mod peers;
mod scale;
