#!/usr/bin/env bash
# A bounded soak: tools/call through the gateway for SOAK (default 10m) at a fixed
# open-loop RATE (default 5000 req/s, 32 connections), printing every INTERVAL (10 s)
# the gateway's RSS, its open file descriptors, and the p99 of the last interval (from
# mcpload's per-second figures when the run ends). Results under RESULTS.
#
#   SOAK=10m loadtest/soak.sh
#   SOAK=2m RATE=20000 loadtest/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK=${SOAK:-10m}
RATE=${RATE:-5000}
INTERVAL=${INTERVAL:-10}
RESULTS=${RESULTS:-loadtest/results/soak-$(date +%Y%m%d-%H%M%S)}
. loadtest/lib.sh

say "building release binaries"
cargo build --release --locked --bin metamcp --bin keyadm --bin mockmcp --bin mcpload >&2
mkdir -p "$RESULTS"
taskset -c 0 "$BIN/mockmcp" --port 0 > "$work/mock.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/mock.out" ] && break; sleep 0.05; done
start_gateway 0
register "{\"name\":\"mock\",\"protocol\":\"http\",\"url\":\"http://127.0.0.1:$(head -1 "$work/mock.out")/mcp\"}"

taskset -c 1 "$BIN/mcpload" --url "http://$GW/mcp" --key "$ADMIN" --tool mock__echo \
    --connections 32 --rate "$RATE" --duration "$SOAK" \
    --json "$RESULTS/soak.json" --svg "$RESULTS/soak.svg" > "$RESULTS/mcpload.txt" &
load=$!
pids+=($load)
echo "seconds rss_kib fds" > "$RESULTS/gateway.tsv"
start=$(date +%s)
while kill -0 "$load" 2>/dev/null; do
    rss=$(awk '/^VmRSS/{print $2}' "/proc/$gw_pid/status")
    fds=$(ls "/proc/$gw_pid/fd" | wc -l)
    echo "$(( $(date +%s) - start )) $rss $fds" | tee -a "$RESULTS/gateway.tsv"
    sleep "$INTERVAL"
done
wait "$load" || die "the load failed: $(cat "$RESULTS/mcpload.txt")"
cat "$RESULTS/mcpload.txt"
python3 - "$RESULTS/soak.json" "$INTERVAL" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
step = int(sys.argv[2])
secs = r["seconds"]
for i in range(0, len(secs), step):
    chunk = secs[i:i + step]
    print(f"{i:>5}-{i + len(chunk):<5}s  {sum(c['requests'] for c in chunk) / len(chunk):>8.0f} req/s  "
          f"p99 (worst second) {max(c['p99_us'] for c in chunk):>6} us")
PY
say "results in $RESULTS"
