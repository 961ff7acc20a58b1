#!/usr/bin/env bash
# Runs the whole metamcp test suite on a fresh machine: installs what the tests need
# (PostgreSQL server binaries, the `postgres` system user when running as root), checks
# formatting and lints, then runs every unit, integration and doc test.
# Tests start their own private PostgreSQL cluster in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }
die() { printf 'tests/run.sh: %s\n' "$*" >&2; exit 1; }

have_pg_server() {
    command -v initdb >/dev/null 2>&1 && return 0
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && return 0
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        return 0
    fi
    return 1
}

if ! have_pg_server; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing PostgreSQL server binaries"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
        die "PostgreSQL server binaries (initdb, pg_ctl, postgres) are needed: install PostgreSQL"
    fi
fi
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    say "creating the postgres system user (initdb refuses to run as root)"
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi

command -v cargo >/dev/null 2>&1 || die "cargo is needed: install Rust (https://rustup.rs)"
# A clean clone gains nothing from incremental compilation, and its files are a quarter
# of target/: CI builds without them.
# Nor from line tables (the dev profile's `debug = "line-tables-only"`, kept for local
# backtraces and profiles): a failing test's panic still names its file and line, and
# without them a clean build took 193 s and 366 CPU-s against 230 s and 440 (the
# integration binary 35 s against 52, the library's unit tests 61 against 74;
# docs/guides/testing.md).
if [ -n "${CI:-}" ]; then
    export CARGO_INCREMENTAL=0
    export CARGO_PROFILE_DEV_DEBUG=false CARGO_PROFILE_TEST_DEBUG=false
fi
# The build and the suite's PostgreSQL clusters need a few GB: say what there is, so a
# link that fails for want of disk is told apart from one that fails for a reason.
free_kb=$(df -Pk . | awk 'NR == 2 { print $4 }')
say "free disk beside the repository: $((free_kb / 1024)) MB"
if [ "$free_kb" -lt $((4 * 1024 * 1024)) ]; then
    say "warning: under 4 GB free; the build may fail to link for want of disk"
fi
for tool in python3 npm flock; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is needed for the independent-peer tests"
done

# The peers install while the build runs (they wait on registries, the build on the CPU).
say "installing the independent MCP peers (Python SDK, conformance suite) into target/peers, in the background"
mkdir -p target
peers_log=$(mktemp)
./tests/peers/install.sh >"$peers_log" 2>&1 &
peers_pid=$!

say "module graph: no cycles between top-level modules"
if [ -f ../shared/tools/modcycles.py ]; then
    python3 ../shared/tools/modcycles.py src >/dev/null || {
        python3 ../shared/tools/modcycles.py src | grep -A40 '^cycle' >&2
        die "import cycle between top-level modules of src/"
    }
else
    say "(../shared/tools/modcycles.py not found beside the repository: skipped)"
fi
# The integration suite is one binary (tests/it/); libtest runs its tests side by side on
# threads. Most of them wait on sockets, child processes and PostgreSQL rather than on the
# CPU, so more threads than cores pays (docs/guides/testing.md); RUST_TEST_THREADS set
# by the caller wins.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"
# Node peers start by the dozen (the conformance runner alone, once a scenario, costs
# 0.84 CPU-s a start): Node's own compile cache keeps what it compiled of them between
# starts (0.68 CPU-s). A corrupt or stale entry is checked and recompiled by Node.
export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-$PWD/target/node-compile-cache}"

say "cargo fmt --check"
cargo fmt --all -- --check
# Every target, as the tests build it: `--lib --tests --benches --examples` rather than
# `--all-targets`, whose `--bins` would also build each binary as a test harness of its
# own although only mcpload has tests (the others say `test = false` in Cargo.toml; the
# integration tests still build the gateway's binaries, so clippy still checks them).
# The load tools without tests, pipebench and fixedserver, are named, and so built (as
# harnesses with no tests) in this same command: a `cargo build -p metamcp-loadtest
# --bins` of their own resolved the dependencies' features for that package alone and
# compiled tokio, hyper, h2, serde_json and ten more a second time (14 s of the run's
# wall clock, after the build).
targets=(--lib --tests --benches --examples --bin pipebench --bin fixedserver)
# Clippy lints the build itself: `cargo clippy` is `cargo check` with clippy-driver as
# RUSTC_WORKSPACE_WRAPPER (the compiler of the workspace's own crates; dependencies are
# compiled by rustc as before) and its arguments in CLIPPY_ARGS; set here for every cargo
# command below, the same driver compiles and lints each target the tests build (the
# library, the binaries, the tests, the benchmarks, the examples: `--all-targets`), and
# `-D warnings` fails the build on a warning as `cargo clippy -- -D warnings` fails. A
# separate clippy type-checked every crate a second time: 184 CPU-s on 2 cores, which
# ended 36-59 s after the last test (docs/guides/testing.md).
CLIPPY_DRIVER=$(rustc --print sysroot)/bin/clippy-driver
[ -x "$CLIPPY_DRIVER" ] || die "clippy is needed: rustup component add clippy"
export RUSTC_WORKSPACE_WRAPPER=$CLIPPY_DRIVER CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
say "cargo build with clippy's lints (every target, as the tests build it)"
cargo test --locked --workspace "${targets[@]}" --no-run
say "waiting for the peers' install"
wait "$peers_pid" || { cat "$peers_log" >&2; die "installing the peers failed (its output is above)"; }
# The integration binary (tests/it/) is most of the run; the other test binaries (the
# library's unit tests, whose tool-search tests embed for some 20 s on one core, the
# allocation count, mcpload's unit tests (the only binary with tests of its own; the
# others say `test = false`), the benchmarks run once as tests, the doc tests) run
# beside it, not before it: cargo runs one test binary at a time.
say "cargo test (tests/it/ with the other binaries beside it)"
log=$(mktemp)
others_log=$(mktemp)
lane_log=$(mktemp)
# The Python peers' warm servers (tests/peers/warm.py) of this tree end with the run
# rather than 90 s after its last start.
stop_warm() {
    command -v pkill >/dev/null 2>&1 && pkill -f "^$PWD/target/peers/[a-z0-9]*/bin/python [^ ]*/python-warm --serve " || true
}
trap 'rm -f "$log" "$others_log" "$lane_log" "$peers_log"; stop_warm' EXIT
set +e
{ cargo test --locked --workspace --lib --bin mcpload --benches --examples --test allocs \
    && cargo test --locked --workspace --doc; } >"$others_log" 2>&1 &
others_pid=$!
# The conformance suite's tests (tests/it/peers/conformance.rs) run in a lane of their
# own, two at a time, beside the rest of tests/it/. Each drives tests/conformance/run.sh
# (its own gateway, cluster and fixtures) through scenarios that mostly wait: some 250 s
# of a test thread for about 120 CPU-s. In the one lane they came together in libtest's
# order (by name) and held all four threads at once, the cores half idle for a minute
# (docs/guides/testing.md).
cargo test --locked --workspace --test it -- peers::conformance:: --test-threads 2 \
    >"$lane_log" 2>&1 &
lane_pid=$!
cargo test --locked --workspace --test it -- --skip peers::conformance:: 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
wait "$lane_pid"
lane_status=$?
cat "$lane_log" | tee -a "$log"
wait "$others_pid"
others_status=$?
cat "$others_log" | tee -a "$log"
[ "$status" != 0 ] || status=$lane_status
[ "$status" != 0 ] || status=$others_status
set -e
# One closing line for the whole suite, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "suite: %d passed, %d failed\n", p, f }' "$log"
# A binary that ends without its own result line (killed, or its output cut) is still a
# failure: say so rather than let the sum read as a pass.
if [ "$status" != 0 ]; then
    echo "suite: FAILED (cargo test exited $status; the failures are above)"
fi
exit "$status"
