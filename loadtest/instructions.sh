#!/usr/bin/env bash
# Instructions and simulated cache misses per forwarded tools/call, this build against
# another revision, counted by callgrind: repeatable for the same binaries and inputs
# whatever else the machine does, where req/s on a shared VM drifts by ±10 % and more.
#
#   BASELINE=64297fa loadtest/instructions.sh
#   BASELINE=64297fa CACHE=1 loadtest/instructions.sh   # and the misses of a 1 MB last
#                                                       # level (valgrind --cache-sim)
#   MCPLOAD_FLAGS='--capabilities {"sampling":{}}' BASELINE=… loadtest/instructions.sh
#   AUDIT=on CALLS=10000 BASELINE=… loadtest/instructions.sh   # with the audit trail on
#                                                       # in both (its writer's batches
#                                                       # land in the counted window or
#                                                       # not: count 10,000 calls or more)
#
# Each gateway (audit off unless AUDIT=on, its own embedded cluster) runs under callgrind beside one
# mockmcp; 1,000 calls on 4 connections warm it up, its counters are zeroed, CALLS more
# are counted (default 3,000), and the totals are divided by CALLS. The other revision is
# built as loadtest/run.sh builds it (a worktree in target/baseline/<rev>, kept).
# The callgrind files stay in RESULTS for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${CALLS:-3000}
RESULTS=${RESULTS:-loadtest/results/instructions-$(date +%Y%m%d-%H%M%S)}

. loadtest/lib.sh

[ -n "${BASELINE:-}" ] || die "BASELINE=<revision> is needed"
for t in valgrind callgrind_control callgrind_annotate curl python3; do
    command -v $t >/dev/null || die "$t is needed (Debian: valgrind)"
done
say "building release binaries"
cargo build --release --locked --workspace --bin metamcp --bin keyadm --bin mockmcp --bin mcpload >&2
build_baseline
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)

start_mock

cache_args=()
[ "${CACHE:-0}" = 1 ] && cache_args=(--cache-sim=yes --LL=1048576,16,64)

# count NAME BIN_DIR: prints "NAME <totals line of callgrind_annotate>".
count() {
    local name=$1 bin=$2
    start_counted "$name" "$bin" valgrind --tool=callgrind "${cache_args[@]}" \
        --callgrind-out-file="$RESULTS/$name.callgrind"
    local pid=$counted_pid addr=$counted_addr admin=$counted_admin
    local load=("$BIN/mcpload" --url "http://$addr/mcp" --key "$admin" --tool mock__echo
        --args '{"message":"hello from mcpload"}' --connections 4 ${MCPLOAD_FLAGS:-})
    "${load[@]}" --requests 1000 >/dev/null
    callgrind_control -z "$pid" >/dev/null 2>&1
    "${load[@]}" --requests "$CALLS" | grep -q '^RESULT.* errors=0' || die "$name: calls failed"
    callgrind_control -d "$pid" >/dev/null 2>&1
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    echo "$name $(callgrind_annotate "$RESULTS/$name.callgrind.1" 2>/dev/null |
        grep -E '^Events shown|PROGRAM TOTALS' | sed 's/([^)]*)//g' | tr -s ' ' | paste -sd'|')"
}

say "counting this build"
current=$(count current "$BIN")
say "counting $BASELINE"
baseline=$(count baseline "$base_dir/target/release")
python3 - "$CALLS" "$BASELINE" "$current" "$baseline" <<'EOF'
import sys
calls, rev = int(sys.argv[1]), sys.argv[2]
def parse(line):
    name, rest = line.split(" ", 1)
    shown, totals = rest.split("|")
    events = shown.split(":", 1)[1].split()
    values = [int(v.replace(",", "")) for v in totals.split()[:len(events)]]
    return name, dict(zip(events, values))
rows = [parse(l) for l in sys.argv[3:]]
events = list(rows[0][1])
print("per call    " + "".join(f"{e:>10}" for e in events))
for name, v in rows:
    print(f"{name:11} " + "".join(f"{v[e] / calls:10.1f}" for e in events))
cur, base = rows[0][1], rows[1][1]
print(f"this build / {rev}: " + ", ".join(
    f"{e} {cur[e] / base[e]:.3f}" for e in events if base[e]))
EOF
say "callgrind files in $RESULTS (callgrind_annotate --tree=caller FILE)"
