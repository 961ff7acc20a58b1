#!/usr/bin/env bash
# The code-mode benchmark, one command: installs the servers, the SDK and the tokenizer
# (bench/codemode/install.sh, package registries only), builds the release gateway
# (metamcp, keyadm) into $CARGO_TARGET_DIR (default target/), and runs every task of
# bench/codemode/tasks in the three arms through it, then the two sweeps (result size,
# tool count). Prints the tables; writes results.json, results.md and tools.json to
# target/codemode/results/<date-time>/ (or --out DIR). Exits non-zero when a task run
# fails its checker; arms that reach a task's end by other upstream calls are reported
# (the blind arms' scripts need not call what the transcripts called), not failed.
#
#   bench/codemode/run.sh                              # everything (about 5 minutes)
#   bench/codemode/run.sh --no-sweep                   # the tasks only
#   bench/codemode/run.sh --tasks restock,tokyo-now --arms full,code
#   BIN_DIR=/path/to/release bench/codemode/run.sh     # a gateway built elsewhere
#   KEEP=1 bench/codemode/run.sh                       # keep the data directory
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bash bench/codemode/install.sh >/dev/null
if [ -z "${BIN_DIR:-}" ]; then
    cargo build --release --locked --bin metamcp --bin keyadm >&2
    BIN_DIR=${CARGO_TARGET_DIR:-$root/target}/release
fi
exec target/codemode/venv/bin/python bench/codemode/run.py --bin-dir "$BIN_DIR" "$@"
