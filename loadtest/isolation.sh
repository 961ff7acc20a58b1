#!/usr/bin/env bash
# Resident memory of the gateway and its stdio children with SESSIONS client sessions
# open (default 100), each having called the server once: one shared child versus
# session_mode "isolated" (a child per session), measured in one run from /proc.
#
#   loadtest/isolation.sh
#   SESSIONS=50 loadtest/isolation.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS=${SESSIONS:-100}
. loadtest/lib.sh

say "building release binaries"
cargo build --release --locked --bin metamcp --bin keyadm --bin mockmcp >&2
start_gateway 0-1

rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
children() { # every descendant of the gateway
    local p kids
    for p in $(cat "/proc/$1/task/"*/children 2>/dev/null); do
        echo "$p"
        children "$p"
    done
}
measure() { # label
    local gw kids n=0 sum=0 p
    gw=$(rss_kib "$gw_pid")
    for p in $(children "$gw_pid"); do
        n=$((n + 1))
        sum=$((sum + $(rss_kib "$p")))
    done
    printf '%-8s sessions=%d gateway_rss=%d KiB children=%d children_rss=%d KiB total=%d KiB\n' \
        "$1" "$SESSIONS" "$gw" "$n" "$sum" $((gw + sum))
}

for mode in shared isolated; do
    name="mem-$mode"
    register "{\"name\":\"$name\",\"protocol\":\"stdio\",\"command\":\"$BIN/mockmcp\",\"args\":[\"--transport\",\"stdio\"],\"session_mode\":\"$mode\",\"max_instances\":$((SESSIONS + 1))}"
    say "$mode: opening $SESSIONS sessions, one call each"
    for i in $(seq "$SESSIONS"); do
        s=$(new_session)
        curl -sf "http://$GW/mcp" -H "authorization: Bearer $ADMIN" -H "mcp-session-id: $s" \
            -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
            -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"${name}__echo\",\"arguments\":{\"message\":\"$i\"}}}" |
            grep -q "\"text\":\"$i\"" || die "call $i failed"
    done
    measure "$mode"
    curl -sf -X DELETE "http://$GW/api/v1/mcp/servers/$name" -H "authorization: Bearer $ADMIN" >/dev/null
    for _ in $(seq 200); do [ -z "$(children "$gw_pid")" ] && break; sleep 0.05; done
done
