#!/usr/bin/env bash
# Limiter accuracy: a key limited to RATE requests a second (burst BURST) is offered
# OFFERED requests a second (open loop, stateless-era pings, so every request is one the
# limit counts) for DURATION; the script reports how many a second were accepted, against
# the limit. A token bucket lets RATE x seconds + BURST through, so the burst is small.
# (With a burst of 1, a token that comes due between two arrivals waits for the next
# one: the key gets less than its rate, by up to half the arrival gap per token; with
# a burst of a few, tokens accrue while they wait, and none is lost.)
# Results go to loadtest/results/<date-time>-limits/.
#
#   RATE=100 BURST=5 OFFERED=300 DURATION=10s loadtest/limits.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-100}
BURST=${BURST:-5}
OFFERED=${OFFERED:-300}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-8}
RESULTS=${RESULTS:-loadtest/results/$(date +%Y%m%d-%H%M%S)-limits}
source loadtest/lib.sh

say "building release binaries"
cargo build --release --locked --bin metamcp --bin keyadm --bin mcpload >&2
mkdir -p "$RESULTS"
start_gateway 0
KEY=$("$BIN/keyadm" keys create --name limited --rate "$RATE/s" --burst "$BURST" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
say "mcpload: $OFFERED pings/s for $DURATION against a key limited to $RATE/s"
"$BIN/mcpload" --url "http://$GW/mcp" --key "$KEY" --stateless --scenario ping \
    --connections "$CONNECTIONS" --rate "$OFFERED" --duration "$DURATION" \
    --json "$RESULTS/limits.json" --svg "$RESULTS/limits.svg" > "$RESULTS/mcpload.out" 2>&1 || true
python3 - "$RESULTS/limits.json" "$RATE" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
limit = float(sys.argv[2])
errors = r.get("errors", {})
refused = errors.get("http_429", 0)
other = sum(n for k, n in errors.items() if k != "http_429")
secs = r["duration_s"]
accepted = r["ok"]
per_sec = accepted / secs if secs else 0
print(f"sent {r['requests']} in {secs:.2f} s; accepted {accepted} ({per_sec:.1f}/s), "
      f"refused 429 {refused}, other errors {other}")
print(f"ACCURACY accepted/limit = {per_sec / limit:.3f} (target 0.95 to 1.05)")
sys.exit(1 if other or not 0.95 <= per_sec / limit <= 1.05 else 0)
PY
