#!/usr/bin/env bash
# Key limits shared by three replicas on one PostgreSQL behind nginx (deploy/nginx.conf,
# round robin; the layout of tests/it/replicas.rs), in one run on this machine:
#   - precision: a key limited to R/s (burst R; R = 10, 100, 1000) is offered 3R/s for
#     DURATION, (a) round robin through nginx, (b) skewed 80/10/10 straight at the
#     replicas, (c) through nginx with replica 3 killed (SIGKILL) a third of the way in and
#     started again at two thirds; accepted against R x seconds + burst;
#   - concurrency: max_concurrent 4, 24 connections of slow calls through nginx: the most
#     calls the backend saw at once (mockmcp's counter); then a replica killed while it
#     holds the key's 4 places, and how long until another replica is granted one;
#   - quota: daily_calls 1000 through nginx, a replica restarted (SIGTERM) in the middle:
#     accepted in all;
#   - cost: PostgreSQL statements a second the limits send from one replica driven at
#     1,000, 2,500 and 5,000 calls a second by a key with every limit (none reached).
# Everything (replicas, nginx, mockmcp, PostgreSQL) shares core 0; mcpload runs on core 1.
# Stateless-era `tools/list` requests (answered by the gateway) count against a rate like
# any request. The hot path's cost against nginx, before and after a change, is
# loadtest/run.sh's: `BASELINE=<rev> AB_RATE=1000000000/s REFERENCE=nginx loadtest/run.sh`.
#
#   loadtest/limits.sh                      # 30 s per precision run
#   DURATION=10s RATES="10 100" loadtest/limits.sh
#   PARTS="concurrency quota" loadtest/limits.sh   # some of: precision concurrency quota cost
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-30s}
RATES=${RATES:-10 100 1000}
CORE=${GATEWAY_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
SECS=${DURATION%s}
PARTS=${PARTS:-precision concurrency quota cost}
RESULTS=${RESULTS:-loadtest/results/$(date +%Y%m%d-%H%M%S)-limits}
part() { [[ " $PARTS " == *" $1 "* ]]; }

. loadtest/lib.sh
command -v nginx >/dev/null || die "nginx is needed (apt-get install nginx-light)"
say "building release binaries"
cargo build --release --locked --workspace --bin metamcp --bin keyadm --bin mockmcp --bin mcpload >&2
mkdir -p "$RESULTS"

taskset -c "$CORE" "$BIN/mockmcp" --port 0 > "$work/mock.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/mock.out" ] && break; sleep 0.05; done
MOCK_PORT=$(head -1 "$work/mock.out")
mock_stat() { curl -sf "http://127.0.0.1:$MOCK_PORT/control/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

say "starting replica 1 (it starts the embedded cluster), then replicas 2 and 3"
start_gateway "$CORE"
register "{\"name\":\"mock\",\"protocol\":\"http\",\"url\":\"http://127.0.0.1:$MOCK_PORT/mcp\"}"
REPLICAS=("$GW")
REPLICA_PIDS=("$gw_pid")

# Starts replica $1 (1-based) listening on $2; sets REPLICAS and REPLICA_PIDS.
start_replica() {
    local i=$1 listen=$2 addr=
    METAMCP_LISTEN=$listen RUST_LOG=warn,metamcp::app=info,metamcp::auth=info \
        taskset -c "$CORE" "$BIN/metamcp" >> "$work/replica$i.log" 2>&1 &
    pids+=($!)
    REPLICA_PIDS[$((i - 1))]=$!
    for _ in $(seq 200); do
        addr=$(grep -o 'local=[0-9.:]*' "$work/replica$i.log" 2>/dev/null | tail -1 | cut -d= -f2 || true)
        [ -n "$addr" ] && curl -sf "http://$addr/api/v1/mcp/servers/mock" -H "authorization: Bearer $ADMIN" |
            grep -q '"status":"running"' && break
        sleep 0.05
    done
    [ -n "$addr" ] || die "replica $i did not start: $(cat "$work/replica$i.log")"
    REPLICAS[$((i - 1))]=$addr
}
for i in 2 3; do start_replica "$i" 127.0.0.1:0; done

prefix="$work/nginx"
mkdir -p "$prefix"
chmod 755 "$prefix"
servers=""
for a in "${REPLICAS[@]}"; do servers+="        server $a max_fails=1 fail_timeout=5s;\n"; done
NGINX_PORT=$(free_port)
awk -v servers="$servers" '/# servers begin/ {printf "%s", servers; skip=1; next}
     /# servers end/ {skip=0; next} !skip' deploy/nginx.conf |
    sed "s/listen 8080;/listen 127.0.0.1:$NGINX_PORT;/" > "$prefix/nginx.conf"
taskset -c "$CORE" nginx -p "$prefix" -c nginx.conf -g 'daemon off;' 2>"$prefix/error.log" &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$NGINX_PORT/health" >/dev/null && break; sleep 0.05; done
LB="127.0.0.1:$NGINX_PORT"

key() { # name, keyadm limit flags... -> API key (mcp_<id>_<secret>)
    local name=$1; shift
    "$BIN/keyadm" keys create --name "$name" "$@" --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])'
}

# mcpload at $3 req/s for $4 against http://$2/mcp with key $1, scenario $5, into
# $RESULTS/$6.json; extra mcpload flags after.
drive() {
    local key=$1 addr=$2 rate=$3 dur=$4 scenario=$5 out=$6; shift 6
    taskset -c "$LOAD_CORE" "$BIN/mcpload" --url "http://$addr/mcp" --key "$key" --stateless \
        --scenario "$scenario" --connections 16 --rate "$rate" --duration "$dur" "$@" \
        --timeout-ms 5000 --json "$RESULTS/$out.json" > "$RESULTS/$out.out" 2>&1 || true
}

# accepted, refused (429), other errors, seconds of one or more runs' JSON.
tally() {
    python3 - "$@" <<'PY'
import json, sys
ok = refused = other = 0; secs = 0.0
for f in sys.argv[1:]:
    r = json.load(open(f))
    e = r.get("errors", {})
    ok += r["ok"]; refused += e.get("http_429", 0)
    other += sum(n for k, n in e.items() if k != "http_429")
    secs = max(secs, r["duration_s"])
print(ok, refused, other, f"{secs:.2f}")
PY
}

report() { # label R burst accepted refused other secs
    python3 - "$@" <<'PY'
import sys
label, r, burst, ok, refused, other, secs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
allowed = r * secs + burst
print(f"{label:<28} R={r:<6g} accepted {ok:>7} of allowed {allowed:>8.0f} = {ok / allowed:6.3f}"
      f"   refused {refused:>7}, other errors {other}")
PY
}

# Places the live replicas hold for API key $1 (GET /api/v1/keys/{id}).
held() {
    local id; id=$(cut -d_ -f2 <<<"$1")
    curl -sf "http://${REPLICAS[1]}/api/v1/keys/$id" -H "authorization: Bearer $ADMIN" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["use"]["max_concurrent"]["held"])'
}

touch "$RESULTS/summary.txt"
part precision && echo "== precision (${SECS} s at 3R/s, burst = R)" | tee -a "$RESULTS/summary.txt"
part precision && for R in $RATES; do
    K=$(key "rate$R" --rate "$R/s" --burst "$R")
    drive "$K" "$LB" $((3 * R)) "$DURATION" tools-list "rr-$R"
    report "round robin (nginx)" "$R" "$R" $(tally "$RESULTS/rr-$R.json") | tee -a "$RESULTS/summary.txt"
    # Let the bucket fill again, then skew: 80/10/10 straight at the replicas.
    sleep 2
    K=$(key "skew$R" --rate "$R/s" --burst "$R")
    drive "$K" "${REPLICAS[0]}" $((24 * R / 10)) "$DURATION" tools-list "skew-$R-a" &
    a=$!
    drive "$K" "${REPLICAS[1]}" $((3 * R / 10 > 0 ? 3 * R / 10 : 1)) "$DURATION" tools-list "skew-$R-b" &
    b=$!
    drive "$K" "${REPLICAS[2]}" $((3 * R / 10 > 0 ? 3 * R / 10 : 1)) "$DURATION" tools-list "skew-$R-c"
    wait "$a" "$b"
    report "skewed 80/10/10" "$R" "$R" $(tally "$RESULTS"/skew-$R-?.json) | tee -a "$RESULTS/summary.txt"
    # Replica 3 killed a third of the way in, started again (same address) at two thirds.
    K=$(key "kill$R" --rate "$R/s" --burst "$R")
    addr3=${REPLICAS[2]}
    (
        sleep $((SECS / 3))
        kill -9 "${REPLICA_PIDS[2]}"
        sleep $((SECS / 3))
        start_replica 3 "$addr3"
        echo "${REPLICA_PIDS[2]}" > "$work/replica3.pid"
    ) &
    k=$!
    drive "$K" "$LB" $((3 * R)) "$DURATION" tools-list "kill-$R"
    wait "$k"
    REPLICA_PIDS[2]=$(cat "$work/replica3.pid")
    pids+=("${REPLICA_PIDS[2]}")
    report "replica 3 SIGKILLed+back" "$R" "$R" $(tally "$RESULTS/kill-$R.json") | tee -a "$RESULTS/summary.txt"
done

if part concurrency; then
echo "== concurrency (max_concurrent 4)" | tee -a "$RESULTS/summary.txt"
K=$(key conc --max-concurrent 4)
peak_before=$(mock_stat calls_peak)
taskset -c "$LOAD_CORE" "$BIN/mcpload" --url "http://$LB/mcp" --key "$K" --stateless \
    --scenario tools-call --tool mock__sleep --args '{"ms":50}' --connections 24 \
    --duration 10s --json "$RESULTS/conc.json" > "$RESULTS/conc.out" 2>&1 || true
read -r ok refused other secs <<<"$(tally "$RESULTS/conc.json")"
echo "24 connections of 50 ms calls for 10 s: done $ok, refused $refused, other $other;" \
    "most at the backend at once: $(mock_stat calls_peak) (before this run: $peak_before)" | tee -a "$RESULTS/summary.txt"
# Replica 1 holds the key's 4 places, then dies. First the spares of the run go back.
for _ in $(seq 100); do [ "$(held "$K")" = 0 ] && break; sleep 0.05; done
for _ in 1 2 3 4; do
    curl -s -o /dev/null "http://${REPLICAS[0]}/mcp" -H "authorization: Bearer $K" \
        -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
        -H 'mcp-protocol-version: 2026-07-28' -H 'mcp-method: tools/call' -H 'mcp-name: mock__sleep' \
        -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"mock__sleep","arguments":{"ms":60000},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}' &
done
for _ in $(seq 100); do [ "$(mock_stat calls_now)" = 4 ] && break; sleep 0.05; done
[ "$(mock_stat calls_now)" = 4 ] || die "replica 1 did not get the 4 places ($(mock_stat calls_now) calls at the backend)"
probe() {
    curl -s "http://${REPLICAS[1]}/mcp" -H "authorization: Bearer $K" \
        -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
        -H 'mcp-protocol-version: 2026-07-28' -H 'mcp-method: tools/call' -H 'mcp-name: mock__echo' \
        -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"mock__echo","arguments":{"message":"x"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
}
probe | grep -q '"result"' && die "replica 2 was granted a fifth place"
killed_at=$(date +%s.%N)
kill -9 "${REPLICA_PIDS[0]}"
until probe | grep -q '"result"'; do sleep 0.1; done
back=$(python3 -c "import time; print(f'{time.time() - $killed_at:.1f}')")
echo "replica 1 killed holding all 4 places: replica 2 granted one after ${back} s (bound: 10 s)" | tee -a "$RESULTS/summary.txt"
start_replica 1 "${REPLICAS[0]}"
fi

if part quota; then
echo "== quota (daily_calls 1000, a replica restarted with SIGTERM in the middle)" | tee -a "$RESULTS/summary.txt"
K=$(key quota --daily-calls 1000)
drive "$K" "$LB" 150 4s tools-call quota-1 --tool mock__echo --args '{"message":"q"}'
kill -TERM "${REPLICA_PIDS[1]}"
wait "${REPLICA_PIDS[1]}" 2>/dev/null || true
start_replica 2 "${REPLICAS[1]}"
drive "$K" "$LB" 150 6s tools-call quota-2 --tool mock__echo --args '{"message":"q"}'
read -r ok1 _ _ _ <<<"$(tally "$RESULTS/quota-1.json")"
read -r ok2 refused other _ <<<"$(tally "$RESULTS/quota-2.json")"
echo "accepted $ok1 before the restart and $ok2 after: $((ok1 + ok2)) in all (refused $refused, other $other)" | tee -a "$RESULTS/summary.txt"
fi

if part cost; then
echo "== cost: statements a second from one replica" | tee -a "$RESULTS/summary.txt"
K=$(key cost --rate 1000000000/s --max-concurrent 100000 --daily-calls 1000000000)
statements() { curl -sf "http://${REPLICAS[0]}/metrics" | awk '/^metamcp_limits_statements_total / {print $2}'; }
for rate in 1000 2500 5000; do
    before=$(statements)
    drive "$K" "${REPLICAS[0]}" "$rate" 10s tools-call "cost-$rate" --tool mock__echo --args '{"message":"c"}'
    after=$(statements)
    read -r ok refused other secs <<<"$(tally "$RESULTS/cost-$rate.json")"
    python3 -c "print(f'{$rate:>5} calls/s offered, {$ok / $secs:7.0f}/s served: {($after - $before) / $secs:5.1f} statements/s')" |
        tee -a "$RESULTS/summary.txt"
done
fi
say "results in $RESULTS"
