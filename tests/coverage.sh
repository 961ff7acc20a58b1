#!/usr/bin/env bash
# Line coverage of src/, from LLVM's source-based coverage: the crate's own targets are
# built with -C instrument-coverage (minilm and the dependencies are not: an instrumented
# encoder made the tool-search tests many times slower), the whole suite runs, and every
# process it started that exited adds its counts (the gateways the tests start as child
# processes keep LLVM_PROFILE_FILE; tests/support::keep_coverage). Needs the toolchain's
# llvm-tools (`rustup component add llvm-tools-preview`).
#
#   tests/coverage.sh              # prints the per-file table and the TOTAL line
#   COVERAGE_DIR=/tmp/cov tests/coverage.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${COVERAGE_DIR:-target/coverage}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
tools="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin"
[ -x "$tools/llvm-profdata" ] || {
    echo "tests/coverage.sh: llvm-tools are needed: rustup component add llvm-tools-preview" >&2
    exit 1
}
rm -rf "$dir/prof" && mkdir -p "$dir/prof"
# Instruments the workspace's targets but minilm (cargo calls it as `wrapper rustc ARGS`).
cat > "$dir/wrap.sh" <<'WRAP'
#!/bin/sh
rustc="$1"; shift
case " $* " in *" --crate-name minilm "*) exec "$rustc" "$@" ;; esac
exec "$rustc" "$@" -C instrument-coverage
WRAP
chmod +x "$dir/wrap.sh"
export CARGO_TARGET_DIR="$dir/target" RUSTC_WORKSPACE_WRAPPER="$dir/wrap.sh"
export LLVM_PROFILE_FILE="$dir/prof/%p-%m.profraw" RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"
export CARGO_INCREMENTAL=0
cargo test --locked --workspace --lib --tests --no-fail-fast
"$tools/llvm-profdata" merge -sparse -failure-mode=warn "$dir"/prof/*.profraw -o "$dir/merged.profdata"
objects=()
while read -r exe; do objects+=(-object "$exe"); done < <(
    cargo test --locked --workspace --lib --tests --no-run --message-format=json 2>/dev/null |
        python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "minilm" not in m["target"]["name"]:
        print(m["executable"])')
"$tools/llvm-cov" report --instr-profile "$dir/merged.profdata" "${objects[@]}" \
    --ignore-filename-regex='(\.cargo/|/rustc/|/tests/|/bench/|/loadtest/|/tools/|/crates/|/build/|build\.rs)'
