#!/usr/bin/env bash
# tools/call throughput and latency through the gateway, as a ratio of the same load sent
# straight to the backend, in one run. The gateway and mockmcp share core 0; wrk runs on
# core 1. Everything listens on 127.0.0.1; every run is bounded by DURATION.
#
#   loadtest/run.sh                       # 10 s per target, 32 connections
#   DURATION=30s CONNECTIONS=64 loadtest/run.sh
#   TOOL=big ARGS='{"bytes":20000}' loadtest/run.sh
#   PROFILE=/tmp/gw.perf loadtest/run.sh  # also samples the gateway with perf (cpu-clock)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
TOOL=${TOOL:-echo}
ARGS=${ARGS:-'{"message":"hello from wrk"}'}
GATEWAY_CORE=${GATEWAY_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'loadtest: %s\n' "$*" >&2; exit 1; }

if ! command -v wrk >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || die "wrk is needed (apt-get install wrk)"
    say "installing wrk"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
for t in taskset curl python3; do command -v $t >/dev/null || die "$t is needed"; done

say "building release binaries"
cargo build --release --locked --bin metamcp --bin keyadm --bin mockmcp >&2
BIN=target/release

work=$(mktemp -d /tmp/metamcp-load.XXXXXX)
chmod 711 "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    local pgdata="$work/data/postgres"
    if [ -f "$pgdata/PG_VERSION" ]; then
        local bindir; bindir=$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | tail -1)
        if [ "$(id -u)" = 0 ]; then
            su -s /bin/sh postgres -c "$bindir/pg_ctl stop -D $pgdata -m immediate -s" 2>/dev/null || true
        else
            "$bindir/pg_ctl" stop -D "$pgdata" -m immediate -s 2>/dev/null || true
        fi
    fi
    rm -rf "$work"
}
trap cleanup EXIT
export METAMCP_DATA_DIR="$work/data"

say "starting mockmcp on core $GATEWAY_CORE"
taskset -c "$GATEWAY_CORE" "$BIN/mockmcp" --port 0 > "$work/mock.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/mock.out" ] && break; sleep 0.05; done
MOCK_PORT=$(head -1 "$work/mock.out")
[ -n "$MOCK_PORT" ] || die "mockmcp did not start"

ADMIN=$("$BIN/keyadm" keys create --name loadtest --scope admin --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')

say "starting the gateway on core $GATEWAY_CORE"
METAMCP_LISTEN=127.0.0.1:0 RUST_LOG=warn,metamcp::app=info \
    taskset -c "$GATEWAY_CORE" "$BIN/metamcp" > "$work/gateway.log" 2>&1 &
GW_PID=$!
pids+=($GW_PID)
for _ in $(seq 200); do grep -q 'local=' "$work/gateway.log" 2>/dev/null && break; sleep 0.05; done
GW=$(grep -o 'local=[0-9.:]*' "$work/gateway.log" | head -1 | cut -d= -f2)
[ -n "$GW" ] || die "the gateway did not start: $(cat "$work/gateway.log")"

curl -sf "http://$GW/api/v1/mcp/servers" -H "authorization: Bearer $ADMIN" \
    -H 'content-type: application/json' \
    -d "{\"name\":\"mock\",\"protocol\":\"http\",\"url\":\"http://127.0.0.1:$MOCK_PORT/mcp\"}" >/dev/null
for _ in $(seq 200); do
    curl -sf "http://$GW/api/v1/mcp/servers/mock" -H "authorization: Bearer $ADMIN" | grep -q '"status":"running"' && break
    sleep 0.05
done

# Opens an MCP session at $1 (with optional auth header $2); prints the session id.
session() {
    local h=()
    [ -n "${2:-}" ] && h=(-H "authorization: $2")
    curl -sf -D - -o /dev/null "$1" "${h[@]}" -H 'content-type: application/json' \
        -H 'accept: application/json, text/event-stream' \
        -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"wrk","version":"1"}}}' |
        tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}'
}

# Runs wrk against $1 with session $2 and auth $3 and tool $4; prints the RESULT line.
load() {
    MCP_SESSION="$2" MCP_AUTH="$3" MCP_TOOL="$4" MCP_ARGS="$ARGS" \
        taskset -c "$LOAD_CORE" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency \
        -s loadtest/tools_call.lua "$1" | grep '^RESULT'
}

DIRECT_URL="http://127.0.0.1:$MOCK_PORT/mcp"
GW_URL="http://$GW/mcp"
DIRECT_SESSION=$(session "$DIRECT_URL")
GW_SESSION=$(session "$GW_URL" "Bearer $ADMIN")
[ -n "$DIRECT_SESSION" ] && [ -n "$GW_SESSION" ] || die "could not open sessions"

say "warming up"
DURATION=2s load "$DIRECT_URL" "$DIRECT_SESSION" "" "$TOOL" >/dev/null
DURATION=2s load "$GW_URL" "$GW_SESSION" "Bearer $ADMIN" "mock__$TOOL" >/dev/null

say "direct to mockmcp: $DURATION, $CONNECTIONS connections, tool $TOOL"
direct=$(load "$DIRECT_URL" "$DIRECT_SESSION" "" "$TOOL")
say "through the gateway (API key, session, routing, id rewriting)"
if [ -n "${PROFILE:-}" ]; then
    command -v perf >/dev/null || die "PROFILE needs perf (apt-get install linux-perf)"
    perf record -q -e cpu-clock -F 1999 -g -p "$GW_PID" -o "$PROFILE" -- sleep "${DURATION%s}" 2>/dev/null &
    perf_pid=$!
fi
gateway=$(load "$GW_URL" "$GW_SESSION" "Bearer $ADMIN" "mock__$TOOL")
[ -n "${PROFILE:-}" ] && wait "$perf_pid" && say "profile written to $PROFILE (perf report -i $PROFILE)"

python3 - "$direct" "$gateway" <<'PY'
import sys
def parse(line):
    return {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
d, g = parse(sys.argv[1]), parse(sys.argv[2])
print(f"{'':10} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
for name, r in (("direct", d), ("gateway", g)):
    print(f"{name:10} {r['rps']:>10.0f} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} {r['errors']:>7.0f}")
print(f"ratio: throughput {g['rps']/d['rps']:.2f} of direct; "
      f"p50 {g['p50_ms']/d['p50_ms']:.2f}x, p99 {g['p99_ms']/d['p99_ms']:.2f}x of direct")
if d["errors"] or g["errors"]:
    sys.exit("errors during the run")
PY
