#!/usr/bin/env bash
# What the gateway answers itself — `ping` and the cached `tools/list` (one backend,
# mockmcp's tools) — against a plain hyper server answering a fixed response
# (fixedserver), both on core 0, mcpload on core 1, alternating ROUNDS times.
#
#   loadtest/selfanswer.sh            # 5 s per run, 32 connections, 2 rounds
#   DURATION=10s CONNECTIONS=64 ROUNDS=3 loadtest/selfanswer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-32}
ROUNDS=${ROUNDS:-2}
. loadtest/lib.sh

say "building release binaries"
cargo build --release --locked --bin metamcp --bin keyadm --bin mockmcp --bin mcpload --bin fixedserver >&2
taskset -c 0 "$BIN/mockmcp" --port 0 > "$work/mock.out" 2>&1 &
pids+=($!)
taskset -c 0 "$BIN/fixedserver" > "$work/fixed.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/mock.out" ] && [ -s "$work/fixed.out" ] && break; sleep 0.05; done
start_gateway 0
register "{\"name\":\"mock\",\"protocol\":\"http\",\"url\":\"http://127.0.0.1:$(head -1 "$work/mock.out")/mcp\"}"
FIXED="http://127.0.0.1:$(head -1 "$work/fixed.out")/mcp"

rate() { # url scenario [key]
    local key=()
    [ -n "${3:-}" ] && key=(--key "$3")
    taskset -c 1 "$BIN/mcpload" --url "$1" "${key[@]}" --scenario "$2" \
        --connections "$CONNECTIONS" --duration "$DURATION" | grep '^RESULT' |
        sed 's/.*rps=\([0-9.]*\).*/\1/'
}
for round in $(seq "$ROUNDS"); do
    for scenario in ping tools-list; do
        f=$(rate "$FIXED" "$scenario")
        g=$(rate "http://$GW/mcp" "$scenario" "$ADMIN")
        echo "round $round $scenario: gateway $g req/s, fixed hyper server $f req/s, ratio $(python3 -c "print(f'{$g/$f:.2f}')")"
    done
done
