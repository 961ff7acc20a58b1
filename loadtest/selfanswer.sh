#!/usr/bin/env bash
# What the gateway answers itself — `ping` and the cached `tools/list` (one backend,
# mockmcp's tools) — against a plain hyper server answering a fixed response
# (fixedserver: for tools/list, the gateway's own answer, byte for byte), all on core 0,
# mcpload on core 1, alternating ROUNDS times.
#
#   loadtest/selfanswer.sh            # 5 s per run, 32 connections, 2 rounds
#   DURATION=10s CONNECTIONS=64 ROUNDS=3 loadtest/selfanswer.sh
#   PROFILE=/tmp/self.perf loadtest/selfanswer.sh   # perf samples the gateway answering ping
#   REFERENCE=nginx loadtest/selfanswer.sh          # adds nginx answering a fixed response
#
# Each run also reports the core time (user + system, from /proc) per request of the
# process answering: what the HTTP stack costs alone (fixed server, nginx) and with the
# gateway's work on top.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-32}
ROUNDS=${ROUNDS:-2}
. loadtest/lib.sh

say "building release binaries"
cargo build --release --locked --workspace --bin metamcp --bin keyadm --bin mockmcp --bin mcpload --bin fixedserver >&2
taskset -c 0 "$BIN/mockmcp" --port 0 > "$work/mock.out" 2>&1 &
pids+=($!)
taskset -c 0 "$BIN/fixedserver" > "$work/fixed.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/mock.out" ] && [ -s "$work/fixed.out" ] && break; sleep 0.05; done
start_gateway 0
register "{\"name\":\"mock\",\"protocol\":\"http\",\"url\":\"http://127.0.0.1:$(head -1 "$work/mock.out")/mcp\"}"
FIXED="http://127.0.0.1:$(head -1 "$work/fixed.out")/mcp"
# A second fixed server answers with the gateway's own tools/list answer, byte for byte,
# so that both sides of that comparison send the same bytes.
SESSION=$(new_session)
curl -sf "http://$GW/mcp" -H "authorization: Bearer $ADMIN" -H "mcp-session-id: $SESSION" \
    -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
    -H 'mcp-protocol-version: 2025-06-18' \
    -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' > "$work/tools-list.json" ||
    die "tools/list through the gateway failed"
taskset -c 0 "$BIN/fixedserver" --body "$work/tools-list.json" > "$work/fixed-list.out" 2>&1 &
pids+=($!)
FIXED_LIST_PID=$!
for _ in $(seq 100); do [ -s "$work/fixed-list.out" ] && break; sleep 0.05; done
FIXED_LIST="http://127.0.0.1:$(head -1 "$work/fixed-list.out")/mcp"

if [ "${REFERENCE:-}" = nginx ]; then
    start_nginx 0 "    server {
        listen 127.0.0.1:NGINX_PORT;
        location / {
            add_header mcp-session-id fixed;
            default_type application/json;
            return 200 '{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}';
        }
    }"
fi

# Prints "req/s core-us-per-request (user+sys)" of one run: url scenario pid [key].
rate() {
    local key=() u0 s0 u1 s1 result
    [ -n "${4:-}" ] && key=(--key "$4")
    read -r u0 s0 _ <<<"$(usage_of "$3")"
    result=$(taskset -c 1 "$BIN/mcpload" --url "$1" "${key[@]}" --scenario "$2" \
        --connections "$CONNECTIONS" --duration "$DURATION" | grep '^RESULT')
    read -r u1 s1 _ <<<"$(usage_of "$3")"
    python3 - "$result" "$((u1 - u0))" "$((s1 - s0))" "$(getconf CLK_TCK)" <<'PY'
import sys
fields = dict(f.split("=", 1) for f in sys.argv[1].split()[1:])
user, sys_, hz = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
n = max(int(fields["requests"]), 1)
us = lambda ticks: ticks * 1e6 / hz / n
print(f'{float(fields["rps"]):.0f} {us(user + sys_):.1f} ({us(user):.1f}+{us(sys_):.1f})')
PY
}
GW_PID=$gw_pid
FIXED_PID=${pids[1]}
for round in $(seq "$ROUNDS"); do
    for scenario in ping tools-list; do
        if [ "$scenario" = ping ]; then
            read -r f fcore <<<"$(rate "$FIXED" "$scenario" "$FIXED_PID")"
        else
            read -r f fcore <<<"$(rate "$FIXED_LIST" "$scenario" "$FIXED_LIST_PID")"
        fi
        n=
        [ -n "${NGINX_WORKER:-}" ] && read -r n ncore <<<"$(rate "http://127.0.0.1:$NGINX_PORT/mcp" "$scenario" "$NGINX_WORKER")"
        if [ -n "${PROFILE:-}" ] && [ "$round" = 1 ] && [ "$scenario" = ping ]; then
            perf record -q ${PERF_ARGS:--e cpu-clock -F 1999 -g} -p "$GW_PID" -o "$PROFILE" \
                -- sleep "${DURATION%s}" 2>/dev/null &
            perf_pid=$!
        fi
        read -r g gcore <<<"$(rate "http://$GW/mcp" "$scenario" "$GW_PID" "$ADMIN")"
        if [ -n "${perf_pid:-}" ]; then
            wait "$perf_pid" && say "profile of the gateway answering ping written to $PROFILE"
            perf_pid=
        fi
        echo "round $round $scenario: gateway $g req/s, fixed hyper server $f req/s, ratio $(python3 -c "print(f'{$g/$f:.2f}')")"
        echo "    core us/request (user+sys): gateway $gcore, fixed hyper server $fcore${n:+, nginx fixed response $ncore ($n req/s)}"
    done
done
