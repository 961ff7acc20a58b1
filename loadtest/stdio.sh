#!/usr/bin/env bash
# tools/call throughput through one stdio backend (mockmcp --transport stdio, started and
# multiplexed by the gateway), against the same child driven directly over its pipe
# (pipebench), in one run, at 1 and 64 concurrent clients. The gateway and the child
# share core 0, the load generator runs on core 1; everything stays on 127.0.0.1.
#
#   loadtest/stdio.sh                 # 8 s per measurement
#   DURATION=20 loadtest/stdio.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-8}
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'loadtest: %s\n' "$*" >&2; exit 1; }
if ! command -v wrk >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || die "wrk is needed (apt-get install wrk)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

say "building release binaries"
cargo build --release --locked --bin metamcp --bin keyadm --bin mockmcp --bin pipebench >&2
BIN=$PWD/target/release
work=$(mktemp -d /tmp/metamcp-stdio.XXXXXX)
chmod 711 "$work"
gw_pid=
cleanup() {
    [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null || true
    local pgdata="$work/data/postgres" bindir
    if [ -f "$pgdata/PG_VERSION" ]; then
        bindir=$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | tail -1)
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

ADMIN=$("$BIN/keyadm" keys create --name loadtest --scope admin --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
METAMCP_LISTEN=127.0.0.1:0 RUST_LOG=warn,metamcp::app=info \
    taskset -c 0 "$BIN/metamcp" > "$work/gateway.log" 2>&1 &
gw_pid=$!
for _ in $(seq 200); do grep -q 'local=' "$work/gateway.log" 2>/dev/null && break; sleep 0.05; done
GW=$(grep -o 'local=[0-9.:]*' "$work/gateway.log" | head -1 | cut -d= -f2)
[ -n "$GW" ] || die "the gateway did not start: $(cat "$work/gateway.log")"
curl -sf "http://$GW/api/v1/mcp/servers" -H "authorization: Bearer $ADMIN" \
    -H 'content-type: application/json' \
    -d "{\"name\":\"pipe\",\"protocol\":\"stdio\",\"command\":\"$BIN/mockmcp\",\"args\":[\"--transport\",\"stdio\"],\"max_concurrency\":256}" >/dev/null
for _ in $(seq 200); do
    curl -sf "http://$GW/api/v1/mcp/servers/pipe" -H "authorization: Bearer $ADMIN" | grep -q '"status":"running"' && break
    sleep 0.05
done
SESSION=$(curl -sf -D - -o /dev/null "http://$GW/mcp" -H "authorization: Bearer $ADMIN" \
    -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"wrk","version":"1"}}}' |
    tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}')
[ -n "$SESSION" ] || die "no session"

for c in 1 64; do
    say "through the gateway, $c client(s)"
    gw=$(MCP_SESSION="$SESSION" MCP_AUTH="Bearer $ADMIN" MCP_TOOL=pipe__echo \
        MCP_ARGS='{"message":"hello from wrk"}' taskset -c 1 wrk -t1 -c"$c" -d"${DURATION}s" \
        --latency -s loadtest/tools_call.lua "http://$GW/mcp" | grep '^RESULT' | cut -d' ' -f2-)
    say "straight over the pipe, $c client(s)"
    pipe=$(taskset -c 1 "$BIN/pipebench" --concurrency "$c" --seconds "$DURATION" -- \
        taskset -c 0 "$BIN/mockmcp" --transport stdio)
    g=$(echo "$gw" | sed 's/.*rps=\([0-9.]*\).*/\1/')
    p=$(echo "$pipe" | sed 's/.*rps=\([0-9.]*\).*/\1/')
    echo "clients=$c gateway: $gw | pipe: $pipe | ratio $(python3 -c "print(f'{$g/$p:.2f}')")"
done
