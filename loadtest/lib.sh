# Shared by the loadtest scripts: a gateway on a private embedded cluster in a temporary
# directory, cleaned up on exit. Source it after `cd` to the repository root; then
#   start_gateway CORE          # sets GW (host:port), ADMIN (an admin key), gw_pid
# Processes a script starts itself go in `pids` to be stopped on exit too.
#   register JSON               # registers a server, waits until it runs
#   new_session                 # prints a new MCP session id (admin key)

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'loadtest: %s\n' "$*" >&2; exit 1; }

# The binaries measured are the ones a user builds (`cargo build --release`): not what
# tests/run.sh's environment makes, where clippy-driver is the workspace's compiler
# (RUSTC_WORKSPACE_WRAPPER) and compiles the crate with MIR optimisations off. Against
# 7551c34 the same day (AB_TOGETHER): 0.988 with those builds (5 rounds), 0.997 (5) and
# 0.991 (9) with the user's; not a difference the rounds can tell, but the user's binary
# is the one to measure.
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS

BIN=${BIN:-$PWD/target/release}
work=$(mktemp -d /tmp/metamcp-load.XXXXXX)
chmod 711 "$work"
gw_pid=
pids=() # other processes a script starts, stopped on exit
cleanup() {
    for p in $gw_pid "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    local pgdata bindir
    # Every embedded cluster of the run (a baseline gateway has its own).
    for pgdata in "$work"/*/postgres; do
        [ -f "$pgdata/PG_VERSION" ] || continue
        bindir=$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | tail -1)
        if [ "$(id -u)" = 0 ]; then
            su -s /bin/sh postgres -c "$bindir/pg_ctl stop -D $pgdata -m immediate -s" 2>/dev/null || true
        else
            "$bindir/pg_ctl" stop -D "$pgdata" -m immediate -s 2>/dev/null || true
        fi
    done
    if [ "${KEEP:-0}" = 1 ]; then say "work kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
export METAMCP_DATA_DIR="$work/data"

start_gateway() {
    METAMCP_LISTEN=127.0.0.1:0 RUST_LOG=warn,metamcp::app=info \
        taskset -c "$1" "$BIN/metamcp" > "$work/gateway.log" 2>&1 &
    gw_pid=$!
    for _ in $(seq 200); do grep -q 'local=' "$work/gateway.log" 2>/dev/null && break; sleep 0.05; done
    GW=$(grep -o 'local=[0-9.:]*' "$work/gateway.log" | head -1 | cut -d= -f2)
    [ -n "$GW" ] || die "the gateway did not start: $(cat "$work/gateway.log")"
    # keyadm uses the cluster the gateway created.
    ADMIN=$("$BIN/keyadm" keys create --name loadtest --scope admin --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
}

register() {
    local name
    name=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["name"])' "$1")
    curl -sf "http://$GW/api/v1/mcp/servers" -H "authorization: Bearer $ADMIN" \
        -H 'content-type: application/json' -d "$1" >/dev/null || die "cannot register $name"
    for _ in $(seq 200); do
        curl -sf "http://$GW/api/v1/mcp/servers/$name" -H "authorization: Bearer $ADMIN" |
            grep -q '"status":"running"' && return 0
        sleep 0.05
    done
    die "$name did not start"
}

new_session() {
    curl -sf -D - -o /dev/null "http://$GW/mcp" -H "authorization: Bearer $ADMIN" \
        -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
        -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"loadtest","version":"1"}}}' |
        tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}'
}

# Runs "$@" as a real-time task (SCHED_FIFO, priority 1) where that is allowed (root or
# CAP_SYS_NICE) and LOAD_RT is not 0; else as it is. For a load generator whose core it
# shares with stand-ins for other machines (PostgreSQL, the span sink): at normal priority
# a COPY of audit rows held it off the CPU for milliseconds at a time, so a closed loop
# of requests ran dry and the gateway's core idled (measured: 442-584 ms of run-queue
# wait in 3 s against 41-45 ms with the audit off, and the gateway's core 9-13 % idle),
# which was charged to the audit. As a real-time task it runs as soon as it is woken.
LOAD_RT=${LOAD_RT:-1}
if [ "$LOAD_RT" != 0 ] && command -v chrt >/dev/null && chrt -f 1 true 2>/dev/null; then
    realtime() { chrt -f 1 "$@"; }
else
    LOAD_RT=0
    realtime() { "$@"; }
fi

# Builds revision $BASELINE's metamcp and keyadm (release) in a worktree kept in
# target/baseline/<rev>, checked out the first time; sets base_dir.
build_baseline() {
    base_dir=$PWD/target/baseline/$BASELINE
    if [ ! -d "$base_dir" ]; then
        say "checking out $BASELINE into $base_dir"
        git worktree add -f --detach "$base_dir" "$BASELINE" >&2
    fi
    say "building $BASELINE (release)"
    (cd "$base_dir" && CARGO_TARGET_DIR="$base_dir/target" cargo build --release --locked \
        --bin metamcp --bin keyadm >&2)
}

# start_mock: a mockmcp on a port of its own; sets MOCK_PORT.
start_mock() {
    "$BIN/mockmcp" --port 0 > "$work/mock.out" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$work/mock.out" ] && break; sleep 0.05; done
    MOCK_PORT=$(head -1 "$work/mock.out")
    [ -n "$MOCK_PORT" ] || die "mockmcp did not start"
}

# start_counted NAME BIN_DIR [WRAPPER ...]: a gateway of BIN_DIR (the audit as $AUDIT, off
# by default) on its own cluster in $work/NAME-data, run through WRAPPER (a profiler, or
# nothing), with start_mock's mock registered; sets counted_pid, counted_addr and
# counted_admin. For the scripts that count one build against another.
start_counted() {
    local name=$1 bin=$2 data="$work/$1-data"
    shift 2
    METAMCP_DATA_DIR="$data" METAMCP_AUDIT=${AUDIT:-off} METAMCP_LISTEN=127.0.0.1:0 \
        RUST_LOG=warn,metamcp::app=info "$@" "$bin/metamcp" > "$work/$name.log" 2>&1 &
    counted_pid=$!
    pids+=("$counted_pid")
    counted_addr=
    for _ in $(seq 1200); do
        counted_addr=$(grep -o 'local=[0-9.:]*' "$work/$name.log" 2>/dev/null | head -1 |
            cut -d= -f2 || true)
        [ -n "$counted_addr" ] && break
        sleep 0.1
    done
    [ -n "$counted_addr" ] || die "the $name gateway did not start: $(cat "$work/$name.log")"
    counted_admin=$(METAMCP_DATA_DIR="$data" "$bin/keyadm" keys create --name counted \
        --scope admin --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
    GW=$counted_addr ADMIN=$counted_admin register \
        "{\"name\":\"mock\",\"protocol\":\"http\",\"url\":\"http://127.0.0.1:$MOCK_PORT/mcp\"}"
}

# A free port from the kernel, for proxies that cannot listen on port 0 and report it.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Prints "user system switches" for process $1 (all threads; CPU in clock ticks).
usage_of() {
    local stat; stat=$(cat "/proc/$1/stat")
    local sw; sw=$(cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ {n += $2} END {print n}')
    echo "$stat" | awk -v sw="$sw" '{print $14, $15, sw}'
}

# Starts one nginx worker on core $1 whose http block holds $2 (a server listening on
# 127.0.0.1:NGINX_PORT, written as that placeholder); sets NGINX_PORT and NGINX_WORKER.
start_nginx() {
    command -v nginx >/dev/null || die "nginx is needed"
    mkdir -p "$work/nginx"
    NGINX_PORT=$(free_port)
    cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 100000000;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
${2//NGINX_PORT/$NGINX_PORT}
}
CONF
    taskset -c "$1" nginx -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$work/nginx/nginx.pid" ] && break; sleep 0.05; done
    NGINX_WORKER=$(pgrep -P "$(cat "$work/nginx/nginx.pid")" | head -1)
    [ -n "$NGINX_WORKER" ] || die "nginx did not start: $(cat "$work/nginx/error.log")"
}

# Waits (at most 60 s) until the processes given are idle: under 3 % of a core between
# two looks 0.5 s apart. A run that follows one with the audit on would otherwise share
# its load core with PostgreSQL still writing, checkpointing or vacuuming the last run's
# rows, and be charged for them.
settle() {
    local deadline=$((SECONDS + 60)) hz before after p
    hz=$(getconf CLK_TCK)
    while [ $SECONDS -lt $deadline ]; do
        before=0 after=0
        for p in "$@"; do before=$((before + $(ticks_of "$p"))); done
        sleep 0.5
        for p in "$@"; do after=$((after + $(ticks_of "$p"))); done
        [ $((after - before)) -le $((hz * 3 / 200)) ] && return 0
    done
    say "still busy after 60 s: measuring anyway"
}
# User + system ticks of process $1 (0 once it is gone).
ticks_of() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
