#!/usr/bin/env bash
# Drain under load: mcpload sends tools/call at a fixed rate through the gateway, the
# gateway gets SIGTERM in the middle, and the script counts the calls that failed among
# those the gateway accepted. Calls that found no connection to send on once the grace
# period was over (`connect` errors: nothing was sent) are counted apart: with a balancer
# in front, those go to another replica.
#
#   RATE=200 DURATION=10s AT=4 SLEEP_MS=50 CONNECTIONS=16 loadtest/drain.sh
#
# RATE: calls per second in total; AT: seconds after the start to send SIGTERM;
# SLEEP_MS: how long each call takes at the backend (calls in flight at the SIGTERM);
# METAMCP_DRAIN_GRACE / METAMCP_DRAIN_TIMEOUT pass through to the gateway.
# Results (mcpload JSON and SVG, the gateway's log) go to loadtest/results/<date-time>/.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-200}
DURATION=${DURATION:-10s}
AT=${AT:-4}
SLEEP_MS=${SLEEP_MS:-50}
CONNECTIONS=${CONNECTIONS:-16}
RESULTS=${RESULTS:-loadtest/results/$(date +%Y%m%d-%H%M%S)-drain}
source loadtest/lib.sh

say "building release binaries"
cargo build --release --locked --workspace --bin metamcp --bin keyadm --bin mockmcp --bin mcpload >&2
mkdir -p "$RESULTS"

"$BIN/mockmcp" --port 0 > "$work/mock.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/mock.out" ] && break; sleep 0.05; done
MOCK_PORT=$(head -1 "$work/mock.out")
[ -n "$MOCK_PORT" ] || die "mockmcp did not start"

start_gateway 0-1
register "{\"name\":\"mock\",\"protocol\":\"http\",\"url\":\"http://127.0.0.1:$MOCK_PORT/mcp\"}"

say "mcpload: $RATE calls/s for $DURATION on $CONNECTIONS connections; SIGTERM at ${AT}s"
"$BIN/mcpload" --url "http://$GW/mcp" --key "$ADMIN" --tool mock__sleep \
    --args "{\"ms\":$SLEEP_MS}" --connections "$CONNECTIONS" --rate "$RATE" \
    --duration "$DURATION" --json "$RESULTS/drain.json" --svg "$RESULTS/drain.svg" \
    > "$RESULTS/mcpload.out" 2>&1 &
load_pid=$!
sleep "$AT"
term_at=$(date +%s.%N)
kill -TERM "$gw_pid"
gw_status=0
wait "$gw_pid" || gw_status=$?
stopped_at=$(date +%s.%N)
gw_pid=
wait "$load_pid" || true
cp "$work/gateway.log" "$RESULTS/gateway.log"

python3 - "$RESULTS/drain.json" "$term_at" "$stopped_at" "$gw_status" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
errors = r.get("errors", {})
refused = errors.get("connect", 0)
failed = sum(n for k, n in errors.items() if k != "connect")
print(f"requests answered or failed: {r['requests']}  errors by kind: {errors}")
print(f"gateway exit status {sys.argv[4]}, {float(sys.argv[3]) - float(sys.argv[2]):.2f} s from SIGTERM to exit")
print(f"connections not reopened after the grace (nothing sent): {refused}")
print(f"FAILED CALLS among those accepted: {failed}")
sys.exit(1 if failed else 0)
PY
