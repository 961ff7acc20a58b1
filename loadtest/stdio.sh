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
. loadtest/lib.sh
if ! command -v wrk >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || die "wrk is needed (apt-get install wrk)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

say "building release binaries"
cargo build --release --locked --bin metamcp --bin keyadm --bin mockmcp --bin pipebench >&2
start_gateway 0
register "{\"name\":\"pipe\",\"protocol\":\"stdio\",\"command\":\"$BIN/mockmcp\",\"args\":[\"--transport\",\"stdio\"],\"max_concurrency\":256}"
SESSION=$(new_session)
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
