#!/usr/bin/env bash
# Replicas on one PostgreSQL behind nginx (deploy/nginx.conf, the compose topology), in
# one run on this machine:
#   - tools/call throughput through nginx with 1, 2 and 3 replicas, each as a ratio of
#     one replica reached directly (measured in the same run, before and after);
#   - how long a registry change made on one replica takes to be served by another
#     (p50/p99 over CHANGES namespace-override changes);
#   - PostgreSQL connections each replica holds at rest and under load.
# The replicas share the embedded cluster of the first one's data directory (the same
# database, JWT secret and encryption key, as with DATABASE_URL). Replicas, nginx and
# mockmcp share core 0; mcpload runs on core 1. The machine is CPU-bound: the point is
# that throughput does not fall as replicas are added, not that it rises.
#
#   loadtest/replicas.sh                    # 10 s per run, 32 connections
#   DURATION=5s CHANGES=100 loadtest/replicas.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
CHANGES=${CHANGES:-100}
CORE=${GATEWAY_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
ARGS='{"message":"hello from mcpload"}'

. loadtest/lib.sh
command -v nginx >/dev/null || die "nginx is needed (apt-get install nginx-light)"
say "building release binaries"
cargo build --release --locked --workspace --bin metamcp --bin keyadm --bin mockmcp --bin mcpload >&2

taskset -c "$CORE" "$BIN/mockmcp" --port 0 > "$work/mock.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/mock.out" ] && break; sleep 0.05; done
MOCK_PORT=$(head -1 "$work/mock.out")

say "starting replica 1 (it starts the embedded cluster), then replicas 2 and 3"
start_gateway "$CORE"
register "{\"name\":\"mock\",\"protocol\":\"http\",\"url\":\"http://127.0.0.1:$MOCK_PORT/mcp\"}"
REPLICAS=("$GW")
REPLICA_PIDS=("$gw_pid")
for i in 2 3; do
    METAMCP_LISTEN=127.0.0.1:0 RUST_LOG=warn,metamcp::app=info \
        taskset -c "$CORE" "$BIN/metamcp" > "$work/replica$i.log" 2>&1 &
    pids+=($!)
    REPLICA_PIDS+=($!)
    addr=
    for _ in $(seq 200); do
        addr=$(grep -o 'local=[0-9.:]*' "$work/replica$i.log" 2>/dev/null | head -1 | cut -d= -f2 || true)
        [ -n "$addr" ] && break
        sleep 0.05
    done
    [ -n "$addr" ] || die "replica $i did not start: $(cat "$work/replica$i.log")"
    for _ in $(seq 200); do
        curl -sf "http://$addr/api/v1/mcp/servers/mock" -H "authorization: Bearer $ADMIN" |
            grep -q '"status":"running"' && break
        sleep 0.05
    done
    REPLICAS+=("$addr")
done

NGINX_PID=
# Starts nginx with deploy/nginx.conf in front of the first $1 replicas.
balance() {
    [ -n "$NGINX_PID" ] && { kill "$NGINX_PID"; wait "$NGINX_PID" 2>/dev/null || true; }
    local n=$1 prefix="$work/nginx$1" servers=""
    mkdir -p "$prefix"
    chmod 755 "$prefix"
    for a in "${REPLICAS[@]:0:$n}"; do servers+="        server $a max_fails=1 fail_timeout=5s;\n"; done
    NGINX_PORT=$(free_port)
    awk -v servers="$servers" '/# servers begin/ {printf "%s", servers; skip=1; next}
         /# servers end/ {skip=0; next} !skip' deploy/nginx.conf |
        sed "s/listen 8080;/listen 127.0.0.1:$NGINX_PORT;/" > "$prefix/nginx.conf"
    taskset -c "$CORE" nginx -p "$prefix" -c nginx.conf -g 'daemon off;' 2>"$prefix/error.log" &
    NGINX_PID=$!
    pids+=("$NGINX_PID")
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$NGINX_PORT/health" >/dev/null && return; sleep 0.05; done
    die "nginx did not start: $(cat "$prefix/error.log")"
}

load() { # name url -> "name rps"
    local rps
    rps=$(taskset -c "$LOAD_CORE" "$BIN/mcpload" --url "$2" --key "$ADMIN" --tool mock__echo \
        --args "$ARGS" --connections "$CONNECTIONS" --duration "$DURATION" |
        grep '^RESULT' | sed 's/.*rps=\([0-9.]*\).*/\1/')
    echo "$1 $rps"
}

# PostgreSQL connections each replica holds (its pool, from /metrics).
connections() {
    local out=""
    for a in "${REPLICAS[@]}"; do
        out+="$(curl -sf "http://$a/metrics" | awk '/^metamcp_db_pool_connections / {print $2}') "
    done
    echo "$out"
}

say "PostgreSQL connections per replica at rest: $(connections)"
results=()
results+=("$(load direct-1 "http://${REPLICAS[0]}/mcp")")
for n in 1 2 3; do
    balance "$n"
    say "through nginx with $n replica(s)"
    if [ "$n" = 3 ]; then
        # Sampled in the middle of the run: connections under load.
        ( sleep "$(( ${DURATION%s} / 2 ))"; echo "$(connections)" > "$work/under_load" ) &
    fi
    results+=("$(load "nginx-$n" "http://127.0.0.1:$NGINX_PORT/mcp")")
done
results+=("$(load direct-1 "http://${REPLICAS[0]}/mcp")")
wait_for=$(cat "$work/under_load" 2>/dev/null || echo "?")
say "PostgreSQL connections per replica under load (3 replicas): $wait_for"

say "registry change propagation: $CHANGES namespace-override changes on replica 1, seen on replica 2"
python3 - "${REPLICAS[0]}" "${REPLICAS[1]}" "$ADMIN" "$CHANGES" <<'PY'
import json, sys, time, urllib.error, urllib.request
a, b, key, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def call(addr, method, path, body=None, headers=None):
    h = {"authorization": f"Bearer {key}", "content-type": "application/json",
         "accept": "application/json, text/event-stream"}
    h.update(headers or {})
    req = urllib.request.Request(f"http://{addr}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(), headers=h)
    with urllib.request.urlopen(req) as r:
        return r.headers, r.read()
call(a, "POST", "/api/v1/namespaces", {"name": "lt", "servers": ["mock"]})
deadline = time.time() + 5
while True:  # the namespace reaches replica 2 first
    try:
        hdrs, _ = call(b, "POST", "/mcp/lt", {"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "lt", "version": "1"}}})
        break
    except urllib.error.HTTPError:
        if time.time() > deadline:
            raise
        time.sleep(0.01)
sid = hdrs["mcp-session-id"]
def names():
    _, body = call(b, "POST", "/mcp/lt", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                   {"mcp-session-id": sid, "mcp-protocol-version": "2025-06-18"})
    text = body.decode()
    if text.startswith("event:") or text.startswith("data:"):
        text = [l[5:] for l in text.splitlines() if l.startswith("data:")][-1]
    return {t["name"] for t in json.loads(text)["result"]["tools"]}
took = []
for i in range(n):
    name = f"say{i}"
    start = time.perf_counter()
    call(a, "PUT", "/api/v1/namespaces/lt", {"tools": {"mock__echo": {"name": name}}})
    while name not in names():
        if time.perf_counter() - start > 5:
            sys.exit(f"change {i} not served by replica 2 within 5 s")
    took.append((time.perf_counter() - start) * 1000)
took.sort()
p = lambda q: took[min(len(took) - 1, int(q * len(took)))]
print(f"propagation over {n} changes (PUT answered on replica 1 to served by replica 2): "
      f"p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, max {took[-1]:.1f} ms")
PY

printf '%-10s %10s %8s\n' run req/s ratio
direct=$(printf '%s\n' "${results[@]}" | awk '$1=="direct-1" {s+=$2; n++} END {print s/n}')
for r in "${results[@]}"; do
    read -r name rps <<<"$r"
    printf '%-10s %10.0f %8.3f\n' "$name" "$rps" "$(python3 -c "print($rps/$direct)")"
done
echo "(ratio: against one replica reached directly, the mean of the runs before and after)"
