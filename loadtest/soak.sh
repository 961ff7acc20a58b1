#!/usr/bin/env bash
# A bounded soak: tools/call through the gateway for SOAK (default 10m) at a fixed
# open-loop RATE (default 5000 req/s, 32 connections), printing every INTERVAL (10 s)
# the gateway's RSS, its open file descriptors, and the p99 of the last interval (from
# mcpload's per-second figures when the run ends). Results under RESULTS.
#
#   SOAK=10m loadtest/soak.sh
#   SOAK=2m RATE=20000 loadtest/soak.sh
#
# COMPARE_AUDIT=1 measures instead what the audit trail costs the latency tail: ROUNDS
# (default 2) pairs of SOAK-long runs (default here 90s) at RATE, one against a gateway
# with METAMCP_AUDIT=off and one against a gateway with the audit on, on the same core,
# cluster and registry, alternated; it prints each run's p50, p99 and p99.9 and the
# ratios audit-on / audit-off of the medians (the p99 ratio is the one to watch).
#
# Placement, as in run.sh: the gateway and mockmcp on GATEWAY_CORE (0), the load
# generator on LOAD_CORE (1) as a real-time task (`realtime` in lib.sh), and PostgreSQL
# on DB_CORE (default: the load core), standing for a database on another machine. The
# embedded cluster is the gateway's child and would otherwise share the gateway's core:
# its COPY, index updates and commits then preempt calls, which is what the audit-on
# tail was (see docs/architecture/performance.md).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${COMPARE_AUDIT:-}" ]; then SOAK=${SOAK:-90s}; fi
SOAK=${SOAK:-10m}
RATE=${RATE:-5000}
INTERVAL=${INTERVAL:-10}
ROUNDS=${ROUNDS:-2}
GATEWAY_CORE=${GATEWAY_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
DB_CORE=${DB_CORE:-$LOAD_CORE}
RESULTS=${RESULTS:-loadtest/results/soak-$(date +%Y%m%d-%H%M%S)}
. loadtest/lib.sh

say "building release binaries"
cargo build --release --locked --workspace --bin metamcp --bin keyadm --bin mockmcp --bin mcpload >&2
mkdir -p "$RESULTS"
taskset -c "$GATEWAY_CORE" "$BIN/mockmcp" --port 0 > "$work/mock.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/mock.out" ] && break; sleep 0.05; done
start_gateway "$GATEWAY_CORE"
postmaster=$(head -1 "$work/data/postgres/postmaster.pid" 2>/dev/null || true)
[ -n "$postmaster" ] || die "no embedded PostgreSQL found (postmaster.pid)"
for p in "$postmaster" $(pgrep -P "$postmaster"); do taskset -a -p -c "$DB_CORE" "$p" >/dev/null; done
say "PostgreSQL on core $DB_CORE"
register "{\"name\":\"mock\",\"protocol\":\"http\",\"url\":\"http://127.0.0.1:$(head -1 "$work/mock.out")/mcp\"}"

if [ -n "${COMPARE_AUDIT:-}" ]; then
    [ "$LOAD_RT" = 0 ] && say "the load generator runs at normal priority (no chrt -f):" \
        "PostgreSQL on its core then delays it, and that is charged to the audit"
    # A second gateway on the same cluster with the audit off.
    METAMCP_AUDIT=off METAMCP_LISTEN=127.0.0.1:0 RUST_LOG=warn,metamcp::app=info \
        taskset -c "$GATEWAY_CORE" "$BIN/metamcp" > "$work/bare.log" 2>&1 &
    bare_pid=$!
    pids+=("$bare_pid")
    BARE=
    for _ in $(seq 200); do
        BARE=$(grep -o 'local=[0-9.:]*' "$work/bare.log" 2>/dev/null | head -1 | cut -d= -f2 || true)
        [ -n "$BARE" ] && break
        sleep 0.05
    done
    [ -n "$BARE" ] || die "the audit-off gateway did not start: $(cat "$work/bare.log")"
    for _ in $(seq 200); do
        curl -sf "http://$BARE/api/v1/mcp/servers/mock" -H "authorization: Bearer $ADMIN" |
            grep -q '"status":"running"' && break
        sleep 0.05
    done
    for round in $(seq "$ROUNDS"); do
        for variant in off on; do
            addr=$GW
            [ "$variant" = off ] && addr=$BARE
            settle "$gw_pid" "$bare_pid" "$postmaster" $(pgrep -P "$postmaster")
            say "round $round: audit $variant, $SOAK at $RATE req/s"
            realtime taskset -c "$LOAD_CORE" "$BIN/mcpload" --url "http://$addr/mcp" --key "$ADMIN" \
                --tool mock__echo --connections 32 --rate "$RATE" --duration "$SOAK" \
                --json "$RESULTS/audit-$variant-$round.json" > "$RESULTS/audit-$variant-$round.txt" ||
                die "the load failed: $(cat "$RESULTS/audit-$variant-$round.txt")"
        done
    done
    python3 - "$RESULTS" "$ROUNDS" <<'PY'
import json, statistics, sys
folder, rounds = sys.argv[1], int(sys.argv[2])
runs = {v: [json.load(open(f"{folder}/audit-{v}-{r}.json")) for r in range(1, rounds + 1)]
        for v in ("off", "on")}
print(f"{'audit':<6} {'round':>5} {'req/s':>8} {'p50 us':>7} {'p99 us':>7} {'p99.9 us':>8} {'errors':>6}")
for v in ("off", "on"):
    for i, r in enumerate(runs[v], 1):
        l = r["latency_us"]
        errors = sum(r["errors"].values()) if isinstance(r["errors"], dict) else r["errors"]
        print(f"{v:<6} {i:>5} {r['rps']:>8.0f} {l['p50']:>7} {l['p99']:>7} {l['p999']:>8} {errors:>6}")
med = lambda v, k: statistics.median(r["latency_us"][k] for r in runs[v])
for k, name in (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9")):
    print(f"audit on / off, median {name}: {med('on', k) / max(med('off', k), 1):.2f} "
          f"({med('on', k):.0f} us / {med('off', k):.0f} us)")
PY
    say "results in $RESULTS"
    exit 0
fi

realtime taskset -c "$LOAD_CORE" "$BIN/mcpload" --url "http://$GW/mcp" --key "$ADMIN" --tool mock__echo \
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
