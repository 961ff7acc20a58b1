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

say "building release binaries"
cargo build --release --locked --workspace --bin metamcp --bin keyadm --bin mockmcp --bin pipebench --bin mcpload >&2
start_gateway 0
register "{\"name\":\"pipe\",\"protocol\":\"stdio\",\"command\":\"$BIN/mockmcp\",\"args\":[\"--transport\",\"stdio\"],\"max_concurrency\":256}"

for c in 1 64; do
    say "through the gateway, $c client(s)"
    gw=$(taskset -c 1 "$BIN/mcpload" --url "http://$GW/mcp" --key "$ADMIN" --tool pipe__echo \
        --args '{"message":"hello from mcpload"}' --connections "$c" --duration "${DURATION}s" |
        grep '^RESULT' | cut -d' ' -f2-)
    say "straight over the pipe, $c client(s)"
    pipe=$(taskset -c 1 "$BIN/pipebench" --concurrency "$c" --seconds "$DURATION" -- \
        taskset -c 0 "$BIN/mockmcp" --transport stdio)
    g=$(echo "$gw" | sed 's/.*rps=\([0-9.]*\).*/\1/')
    p=$(echo "$pipe" | sed 's/.*rps=\([0-9.]*\).*/\1/')
    echo "clients=$c gateway: $gw | pipe: $pipe | ratio $(python3 -c "print(f'{$g/$p:.2f}')")"
done
