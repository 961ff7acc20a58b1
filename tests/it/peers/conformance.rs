//! The official MCP conformance suite through the gateway: `tests/conformance/run.sh`,
//! which prints one `N passed, M failed` line per suite and fails on any failure.
//!
//! Suites run here: `server 2026-07-28 (legacy fixture)` — every scenario the
//! 2026-07-28 revision requires of a server (and the pending ones it runs unscored),
//! against the gateway fronting a session-era fixture written with the official Python
//! SDK 1.x: stateless requests, headers, caching, and every multi-round-trip scenario,
//! bridged from the fixture's sampling, elicitation and roots requests; `server
//! 2026-07-28 (modern fixture)`, the same scenarios against a 2026-07-28 fixture written
//! with the official Python SDK 2.x, which the gateway finds to be one (`server/discover`)
//! and calls statelessly, its own `input_required` results and `requestState` passed
//! through; `client 2026-07-28`, the client scenarios that apply to the gateway as a
//! client of a 2026-07-28 backend (request metadata, standard and custom headers, tools
//! with invalid header declarations, `requestState` handling, JSON Schema references and
//! 2020-12 keywords), each scenario's server registered as a backend and driven through
//! the gateway; `client 2025-11-25`, the session era's client scenarios (initialize, a
//! tool call, elicitation defaults, SSE retry and resumption, JSON Schema 2020-12
//! keywords) with the scenario's server a session-era backend;
//! `server 2025-11-25`, the session era's required scenarios against the session-era
//! fixture; and `server tasks extension (legacy fixture)`, the ten `tasks-*` scenarios of
//! the 2026-07-28 tasks extension, bridged to the fixture's 2025-11-25 tasks (the legacy
//! fixture's 2026-07-28 run runs them too, unscored for the revision: counted from it).

use crate::support;

use std::path::Path;

/// Runs `tests/conformance/run.sh SUITES…` (its own gateway, cluster and fixtures, in a
/// process group of its own, bounded: whatever it starts in the background ends with it)
/// and holds each of its lines to `(suite, least passed, most failed)`. The suites are
/// split among the tests below so that they run side by side: most of a suite's time is
/// spent waiting on its scenarios (a whole run took 609 s of the wall clock for 118 s of
/// CPU), not on the machine.
async fn conformance(suites: &[&str], lines: &[(&str, u32, u32)]) {
    let peers = support::peers().clone();
    let bin = Path::new(env!("CARGO_BIN_EXE_metamcp"))
        .parent()
        .expect("the binaries' directory")
        .to_path_buf();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/run.sh");
    let args: Vec<String> = suites.iter().map(|s| s.to_string()).collect();
    let (out, _group) = tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new("bash");
        cmd.arg(script)
            .args(args)
            .env("BIN", bin)
            .env("PEERS", peers);
        support::proc::run_bounded(cmd, std::time::Duration::from_secs(30 * 60))
    })
    .await
    .expect("the runner");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "conformance failed:\n{stdout}\n{stderr}"
    );
    for (suite, least, most_failed) in lines {
        let (passed, failed) = counts(&stdout, suite);
        assert!(
            passed >= *least && failed <= *most_failed,
            "{suite}: {passed} passed, {failed} failed (every required scenario must run and \
             pass):\n{stdout}"
        );
    }
}

#[tokio::test]
async fn the_2026_server_scenarios_pass_through_the_gateway() {
    conformance(
        &["legacy", "modern"],
        &[
            ("server 2026-07-28 (legacy fixture)", 40, 0),
            ("server tasks extension (legacy fixture)", 10, 0),
            ("server 2026-07-28 (modern fixture)", 40, 0),
        ],
    )
    .await;
}

#[tokio::test]
async fn the_client_scenarios_pass_with_the_gateway_as_the_client() {
    conformance(
        &["client", "client-2025"],
        &[("client 2026-07-28", 7, 0), ("client 2025-11-25", 5, 0)],
    )
    .await;
}

/// The authorization scenarios: the gateway as an OAuth client of the suite's protected
/// servers (the longest of the client scenarios, run beside the others), and the
/// extensions DPoP, DPoP with nonces, workload identity and enterprise-managed
/// authorization.
#[tokio::test]
async fn the_authorization_scenarios_pass_with_the_gateway_as_the_client() {
    conformance(
        &["client-auth"],
        &[("client auth", 43, 0), ("client auth extensions", 4, 0)],
    )
    .await;
}

#[tokio::test]
async fn the_session_era_scenarios_pass_through_the_gateway() {
    conformance(&["legacy-2025"], &[("server 2025-11-25", 33, 0)]).await;
}

/// The conformance repository's reference server (TypeScript SDK 1.x), direct (the
/// control) and through the gateway. Its `server-stateless` tool answers two JSON texts in
/// one application/json body (a progress notification, then the response): the gateway
/// passes on the response alone (tests/it/data_plane/json_lines_backend.rs). A count that falls is a
/// regression.
#[tokio::test]
async fn the_reference_server_passes_through_the_gateway() {
    conformance(
        &["reference"],
        &[
            ("server 2025-11-25 (reference server, direct)", 33, 0),
            ("server 2025-11-25 (reference server, gateway)", 33, 0),
            ("server 2026-07-28 (reference server, gateway)", 39, 0),
            // The control: the reference server alone leaves `resultType` out of its
            // streamed results and takes bad standard headers (8 failures the gateway
            // does not have).
            ("server 2026-07-28 (reference server, direct)", 31, 8),
        ],
    )
    .await;
}

/// The Skills extension (SEP-2640): three scenarios at two revisions against a 2026-07-28
/// and a session-era server on the TypeScript SDK 2.x's own skills support (all four
/// pairs of eras through the gateway), and each direct; and the gateway as the client of
/// the suite's skills server, which reads no file ahead.
#[tokio::test]
async fn the_skills_scenarios_pass_through_the_gateway() {
    conformance(
        &["skills"],
        &[
            ("server sep-2640 (skills server, gateway)", 12, 0),
            ("server sep-2640 (skills server, direct)", 6, 0),
            ("client sep-2640 (no prefetch)", 1, 0),
        ],
    )
    .await;
}

/// DPoP at the gateway as a resource server (SEP-1932, RFC 9449): the conformance
/// repository's `auth/dpop-server-validation`, built from its source beside the
/// repository, against a gateway that takes an issuer's tokens with no scope required.
#[tokio::test]
async fn the_dpop_server_scenario_passes_at_the_gateway() {
    conformance(&["dpop"], &[("server auth dpop (gateway)", 1, 0)]).await;
}

/// A suite's line, `N passed, M failed`, as numbers.
fn counts(stdout: &str, suite: &str) -> (u32, u32) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("{suite}: ")))
        .unwrap_or_else(|| panic!("no line for {suite} in:\n{stdout}"));
    line.rsplit_once(": ")
        .and_then(|(_, counts)| counts.split_once(" passed, "))
        .map(|(p, f)| {
            (
                p.parse::<u32>().unwrap(),
                f.trim_end_matches(" failed").parse::<u32>().unwrap(),
            )
        })
        .expect("N passed, M failed")
}
