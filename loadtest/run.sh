#!/usr/bin/env bash
# tools/call throughput and latency through the gateway, as a ratio of the same load sent
# straight to the backend, in one run, driven by mcpload (real MCP sessions, a unique id
# per request). The gateway and mockmcp share core 0; mcpload runs on core 1. Everything
# listens on 127.0.0.1; every run is bounded by DURATION. Each run's mcpload JSON and SVG
# and the printed table go to RESULTS (default loadtest/results/<date-time>).
#
#   loadtest/run.sh                       # 10 s per target, 32 connections
#   DURATION=30s CONNECTIONS=64 loadtest/run.sh
#   ROUNDS=3 loadtest/run.sh              # alternates the targets 3 times, reports medians
#   TOOL=big ARGS='{"bytes":20000}' loadtest/run.sh
#   PROFILE=/tmp/gw.perf loadtest/run.sh  # also samples the gateway with perf (cpu-clock)
#   OBSERVE=1 PROFILE_TRACED=/tmp/t.perf loadtest/run.sh   # the traced variant (and
#                                         # the bare one, in /tmp/t.perf.bare)
#   REFERENCE=nginx loadtest/run.sh       # adds nginx as a plain reverse proxy (same core)
#   REFERENCE=nginx,haproxy loadtest/run.sh   # and HAProxy (one thread, same core)
#   STATELESS=1 loadtest/run.sh           # also through the gateway as 2026-07-28 clients
#                                         # (no session; _meta and the standard headers on
#                                         # every request): the stateless path's cost
#   STATELESS=1 PROFILE=/tmp/s.perf PROFILE_STATELESS=/tmp/t.perf loadtest/run.sh
#                                         # perf profiles of the session path and the
#                                         # stateless one, to compare
#   BASELINE=64297fa ROUNDS=5 loadtest/run.sh
#                                         # A/B against another revision, in one run: it
#                                         # is built in a worktree (target/baseline/<rev>,
#                                         # kept for the next run) and runs beside this
#                                         # build on the same cluster, both with the audit
#                                         # off ("current" and "baseline"), measured one
#                                         # after the other in each round (order
#                                         # alternating); the table ends with the ratio
#                                         # (PROFILE_AB=/tmp/ab: perf profiles of both
#                                         # builds, /tmp/ab.current and /tmp/ab.baseline)
#   BASELINE=64297fa AB_TOGETHER=1 ROUNDS=9 loadtest/run.sh
#                                         # the A/B with both builds loaded at once (half
#                                         # the connections each) on the same core: what
#                                         # slows a shared VM slows both in the same
#                                         # seconds (see measure_pair)
#   BASELINE=<rev> AB_RATE=1000000000/s loadtest/run.sh
#                                         # the A/B with a key limited to that rate (never
#                                         # reached) on both builds: the limiter's cost
#                                         # before and after a change to it
#   BASELINE=<rev> UNLOADED_PASSES=8 loadtest/run.sh
#                                         # the unloaded line (one connection, 10 s each)
#                                         # measured 8 times, not 2: the medians of what
#                                         # each build adds to a lone call, whose single
#                                         # passes differ by 10 us and more
#   LIMITS=1 loadtest/run.sh              # also through the gateway with a key whose
#                                         # limits (rate, concurrency, daily quota) are
#                                         # never reached: the limiter's cost
#   OBSERVE=1 loadtest/run.sh             # also gateways with the audit trail and tracing
#                                         # off ("bare"), tracing at 100 % to a local sink
#                                         # with the audit on ("traced"), and tracing
#                                         # configured but not sampled ("unsampled"); the
#                                         # main gateway has the audit on (the default);
#                                         # TRACED_ENV="VAR=.. .." replaces the traced
#                                         # one's batch settings (OTEL_BSP_*)
#
# Every run starts once PostgreSQL, the gateways and the span sink are idle (settle, in
# lib.sh). On a VM whose speed drifts, prefer more, shorter rounds (ROUNDS=7 DURATION=3s).
# Each proxy is compared with the mean of the direct runs just before and after it (the
# direct rate drifts by ±10 % on a shared machine). Besides req/s and latency it reports the core time (user + system, from /proc) and the
# context switches each process spent per request, which is where a proxy's cost shows.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-1}
CONNECTIONS=${CONNECTIONS:-32}
TOOL=${TOOL:-echo}
ARGS=${ARGS:-'{"message":"hello from mcpload"}'}
RESULTS=${RESULTS:-loadtest/results/$(date +%Y%m%d-%H%M%S)}
GATEWAY_CORE=${GATEWAY_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
# PostgreSQL (the audit trail's writes) and the span sink stand for services on other
# machines: on the gateway's core they would be charged to it, and PostgreSQL, starved by
# a saturated core, fell so far behind that the audit queue dropped most rows (measured:
# 25,216 of 29,216 in one 5 s run), which made the audit look cheaper than it is. On the
# load core they must not delay the load generator either: it runs as a real-time task
# (`realtime` in lib.sh; LOAD_RT=0 turns that off).
DB_CORE=${DB_CORE:-$LOAD_CORE}
SINK_CORE=${SINK_CORE:-$LOAD_CORE}

. loadtest/lib.sh

for t in taskset curl python3; do command -v $t >/dev/null || die "$t is needed"; done
# Reference proxies, measured in the same run: REFERENCE=nginx,haproxy (either or both).
reference() { case ",${REFERENCE:-}," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
REFERENCE=${REFERENCE:-}
for r in ${REFERENCE//,/ }; do
    case $r in nginx) cmd=nginx pkg=nginx-light ;; haproxy) cmd=haproxy pkg=haproxy ;;
        *) die "REFERENCE: unknown proxy $r (nginx, haproxy)" ;; esac
    if ! command -v $cmd >/dev/null 2>&1; then
        [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || die "REFERENCE=$r needs $cmd"
        say "installing $pkg"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkg >/dev/null
    fi
done

[ "$LOAD_RT" = 0 ] && say "the load generator runs at normal priority (no chrt -f): a busy" \
    "PostgreSQL or span sink on its core (DB_CORE, SINK_CORE) then delays it, which is charged" \
    "to the gateway under test"
say "building release binaries"
cargo build --release --locked --workspace --bin metamcp --bin keyadm --bin mockmcp --bin mcpload --bin fixedserver >&2
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)

say "starting mockmcp on core $GATEWAY_CORE"
taskset -c "$GATEWAY_CORE" "$BIN/mockmcp" --port 0 > "$work/mock.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/mock.out" ] && break; sleep 0.05; done
MOCK_PID=${pids[-1]}
MOCK_PORT=$(head -1 "$work/mock.out")
[ -n "$MOCK_PORT" ] || die "mockmcp did not start"

say "starting the gateway on core $GATEWAY_CORE"
start_gateway "$GATEWAY_CORE"
GW_PID=$gw_pid
# The embedded cluster is the gateway's child and inherited its core: move it, and the
# backends it forks from now on, to DB_CORE.
postmaster=$(head -1 "$work/data/postgres/postmaster.pid" 2>/dev/null || true)
[ -n "$postmaster" ] || die "no embedded PostgreSQL found (postmaster.pid)"
for p in "$postmaster" $(pgrep -P "$postmaster"); do taskset -a -p -c "$DB_CORE" "$p" >/dev/null; done
say "PostgreSQL on core $DB_CORE"

register "{\"name\":\"mock\",\"protocol\":\"http\",\"url\":\"http://127.0.0.1:$MOCK_PORT/mcp\"}"
# Another gateway on the same cluster and registry, with its own settings; prints
# "addr pid". VARIANT_BIN: another build's metamcp.
start_variant() {
    local name=$1; shift
    env "$@" METAMCP_LISTEN=127.0.0.1:0 RUST_LOG=warn,metamcp::app=info \
        taskset -c "$GATEWAY_CORE" "${VARIANT_BIN:-$BIN/metamcp}" > "$work/$name.log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    local addr=
    for _ in $(seq 200); do
        addr=$(grep -o 'local=[0-9.:]*' "$work/$name.log" 2>/dev/null | head -1 | cut -d= -f2)
        [ -n "$addr" ] && break
        sleep 0.05
    done
    [ -n "$addr" ] || die "the $name gateway did not start: $(cat "$work/$name.log")"
    for _ in $(seq 200); do
        curl -sf "http://$addr/api/v1/mcp/servers/mock" -H "authorization: Bearer $ADMIN" |
            grep -q '"status":"running"' && break
        sleep 0.05
    done
    echo "$addr $pid"
}
if [ -n "${OBSERVE:-}" ]; then
    say "starting the observability variants (a span sink: fixedserver, on core $SINK_CORE)"
    taskset -c "$SINK_CORE" "$BIN/fixedserver" > "$work/sink.out" 2>&1 &
    SINK_PID=$!
    pids+=($SINK_PID)
    for _ in $(seq 100); do [ -s "$work/sink.out" ] && break; sleep 0.05; done
    SINK="http://127.0.0.1:$(head -1 "$work/sink.out")"
    read -r BARE_ADDR BARE_PID <<<"$(start_variant bare METAMCP_AUDIT=off)"
    read -r TRACED_ADDR TRACED_PID <<<"$(start_variant traced OTEL_EXPORTER_OTLP_ENDPOINT="$SINK" \
        OTEL_TRACES_SAMPLER=always_on ${TRACED_ENV:-OTEL_BSP_SCHEDULE_DELAY=1000})"
    read -r UNSAMPLED_ADDR UNSAMPLED_PID <<<"$(start_variant unsampled METAMCP_AUDIT=off \
        OTEL_EXPORTER_OTLP_ENDPOINT="$SINK" OTEL_TRACES_SAMPLER=always_off)"
    # start_variant ran in a subshell: its `pids+=` did not reach this one.
    pids+=("$BARE_PID" "$TRACED_PID" "$UNSAMPLED_PID")
fi
# own NAME BIN_DIR: a gateway of the build in BIN_DIR with the audit off, on an embedded
# cluster of its own (on DB_CORE) with its own admin key, fronting the same mockmcp; sets
# OWN_ADDR, OWN_PID, OWN_ADMIN and OWN_PM (its postmaster). Both builds of an A/B start
# this way: with this build on the main gateway's cluster and the other on its own, an
# A/A of one binary in both places gave 0.992 (5 rounds, 0.988 to 0.996), not 1.
own() {
    local name=$1 bin=$2 data=$work/$1-data
    METAMCP_DATA_DIR="$data" METAMCP_AUDIT=off METAMCP_LISTEN=127.0.0.1:0 \
        RUST_LOG=warn,metamcp::app=info taskset -c "$GATEWAY_CORE" "$bin/metamcp" \
        > "$work/$name.log" 2>&1 &
    OWN_PID=$!
    pids+=("$OWN_PID")
    for _ in $(seq 600); do grep -q 'local=' "$work/$name.log" 2>/dev/null && break; sleep 0.05; done
    OWN_ADDR=$(grep -o 'local=[0-9.:]*' "$work/$name.log" | head -1 | cut -d= -f2)
    [ -n "$OWN_ADDR" ] || die "the $name gateway did not start: $(cat "$work/$name.log")"
    OWN_PM=$(head -1 "$data/postgres/postmaster.pid" 2>/dev/null || true)
    [ -n "$OWN_PM" ] || die "no embedded PostgreSQL found for the $name gateway"
    for p in $OWN_PM $(pgrep -P "$OWN_PM"); do taskset -a -p -c "$DB_CORE" "$p" >/dev/null; done
    OWN_ADMIN=$(METAMCP_DATA_DIR="$data" "$bin/keyadm" keys create --name loadtest \
        --scope admin --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
    GW=$OWN_ADDR ADMIN=$OWN_ADMIN register \
        "{\"name\":\"mock\",\"protocol\":\"http\",\"url\":\"http://127.0.0.1:$MOCK_PORT/mcp\"}"
    if [ -n "${AB_RATE:-}" ]; then
        # Measured with a key limited to AB_RATE (a rate never reached).
        OWN_ADMIN=$(METAMCP_DATA_DIR="$data" "$bin/keyadm" keys create --name ab-rate \
            --scope client --rate "$AB_RATE" --json |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
    fi
}
if [ -n "${BASELINE:-}" ]; then
    build_baseline
    say "starting this build and $BASELINE side by side, both with the audit off"
    own current "$(dirname "${VARIANT_BIN:-$BIN/metamcp}")"
    CURRENT_ADDR=$OWN_ADDR CURRENT_PID=$OWN_PID AB_KEY=$OWN_ADMIN current_pm=$OWN_PM
    # The other revision may not know this schema: a cluster of its own serves it anyway.
    own baseline "$base_dir/target/release"
    BASE_ADDR=$OWN_ADDR BASE_PID=$OWN_PID BASE_AB_KEY=$OWN_ADMIN base_pm=$OWN_PM
fi
if [ -n "${LIMITS:-}" ]; then
    LIMITED=$("$BIN/keyadm" keys create --name limited --scope client --rate 1000000000/s \
        --max-concurrent 1000000 --daily-calls 1000000000000 --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
fi


# Runs mcpload against $2 (key $3, tool $4; more mcpload flags in MCPLOAD_FLAGS) and
# prints one line: "name rps=.. p50_us=.. p99_us=.. requests=.. errors=.." and, for each
# "proc=pid" given after the tool, "<proc>_user=.. <proc>_sys=.. <proc>_switches=..".
measure() {
    local name=$1 url=$2 key=$3 tool=$4; shift 4
    local before=() p auth=()
    [ -n "$key" ] && auth=(--key "$key")
    # Every run starts on a quiet machine: PostgreSQL done with the last run's audit rows,
    # every gateway done exporting.
    settle "$postmaster" $(pgrep -P "$postmaster") ${base_pm:-} ${current_pm:-} $GW_PID ${BARE_PID:-} ${TRACED_PID:-} \
        ${UNSAMPLED_PID:-} ${SINK_PID:-} ${CURRENT_PID:-} ${BASE_PID:-}
    for p in "$@"; do before+=("$(usage_of "${p#*=}")"); done
    run_no=$(($(cat "$RESULTS/.runs" 2>/dev/null || echo 0) + 1))
    echo "$run_no" > "$RESULTS/.runs"
    local result
    result=$(realtime taskset -c "$LOAD_CORE" "$BIN/mcpload" --url "$url" "${auth[@]}" --tool "$tool" \
        --args "$ARGS" --connections "$CONNECTIONS" --duration "$DURATION" ${MCPLOAD_FLAGS:-} \
        --json "$RESULTS/$run_no-$name.json" --svg "$RESULTS/$run_no-$name.svg" |
        grep '^RESULT' | cut -d' ' -f2-)
    local i=0
    for p in "$@"; do
        read -r u0 s0 w0 <<<"${before[$i]}"
        read -r u1 s1 w1 <<<"$(usage_of "${p#*=}")"
        result="$result ${p%%=*}_user=$((u1 - u0)) ${p%%=*}_sys=$((s1 - s0)) ${p%%=*}_switches=$((w1 - w0))"
        i=$((i + 1))
    done
    echo "$name $result"
}

# AB_TOGETHER=1: this build and the baseline loaded at once, each by its own mcpload with
# half the connections. Both gateways are saturated on the same core, so the scheduler
# gives each the same share of it and whatever slows the machine slows both alike: the
# ratio of their req/s is the inverse ratio of their cost per request, taken over the
# same seconds. Prints a "current" and a "baseline" line as `measure` does.
measure_pair() {
    local half=$((CONNECTIONS / 2)) cur_before base_before run_no
    settle "$postmaster" $(pgrep -P "$postmaster") ${base_pm:-} ${current_pm:-} $GW_PID ${BARE_PID:-} ${TRACED_PID:-} \
        ${UNSAMPLED_PID:-} ${SINK_PID:-} ${CURRENT_PID:-} ${BASE_PID:-}
    cur_before=$(usage_of "$CURRENT_PID")
    base_before=$(usage_of "$BASE_PID")
    run_no=$(($(cat "$RESULTS/.runs" 2>/dev/null || echo 0) + 1))
    echo "$run_no" > "$RESULTS/.runs"
    # Started one after the other, the first a few milliseconds ahead: the order
    # alternates by round (an A/A run of one build against itself gave 1.008 with this
    # build always first).
    local order=(current baseline) jobs=() name
    [ $((round % 2)) = 0 ] && order=(baseline current)
    for name in "${order[@]}"; do
        local url="http://$CURRENT_ADDR/mcp" key=$AB_KEY
        [ "$name" = baseline ] && url="http://$BASE_ADDR/mcp" key=$BASE_AB_KEY
        realtime taskset -c "$LOAD_CORE" "$BIN/mcpload" --url "$url" --key "$key" \
            --tool "mock__$TOOL" --args "$ARGS" --connections "$half" --duration "$DURATION" \
            ${MCPLOAD_FLAGS:-} --json "$RESULTS/$run_no-$name.json" > "$work/pair-$name.out" &
        jobs+=($!)
    done
    wait "${jobs[@]}"
    local pid before u0 s0 w0 u1 s1 w1
    for name in current baseline; do
        if [ "$name" = current ]; then pid=$CURRENT_PID before=$cur_before; else pid=$BASE_PID before=$base_before; fi
        read -r u0 s0 w0 <<<"$before"
        read -r u1 s1 w1 <<<"$(usage_of "$pid")"
        echo "$name $(grep '^RESULT' "$work/pair-$name.out" | cut -d' ' -f2-)" \
            "proxy_user=$((u1 - u0)) proxy_sys=$((s1 - s0)) proxy_switches=$((w1 - w0))"
    done
}

DIRECT_URL="http://127.0.0.1:$MOCK_PORT/mcp"
GW_URL="http://$GW/mcp"

if reference nginx; then
    start_nginx "$GATEWAY_CORE" "    upstream mock { server 127.0.0.1:$MOCK_PORT; keepalive 64; }
    server {
        listen 127.0.0.1:NGINX_PORT;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_buffering off;
        }
    }"
fi

if reference haproxy; then
    HAPROXY_PORT=$(free_port)
    cat > "$work/haproxy.cfg" <<CONF
global
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    http-reuse always
frontend load
    bind 127.0.0.1:$HAPROXY_PORT
    default_backend mock
backend mock
    server mock 127.0.0.1:$MOCK_PORT
CONF
    taskset -c "$GATEWAY_CORE" haproxy -f "$work/haproxy.cfg" -db > "$work/haproxy.log" 2>&1 &
    HAPROXY_PID=$!
    pids+=($HAPROXY_PID)
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$HAPROXY_PORT/" && break
        sleep 0.05
    done
    kill -0 "$HAPROXY_PID" 2>/dev/null || die "haproxy did not start: $(cat "$work/haproxy.log")"
fi

say "warming up"
DURATION=2s measure warm "$DIRECT_URL" "" "$TOOL" >/dev/null
DURATION=2s measure warm "$GW_URL" "$ADMIN" "mock__$TOOL" >/dev/null
# The limited key's first use is checked against the database and argon2, whose work is
# bounded: 32 connections opening at once would be refused in part and skew the round.
[ -n "${LIMITS:-}" ] && DURATION=2s measure warm "$GW_URL" "$LIMITED" "mock__$TOOL" >/dev/null
[ -n "${STATELESS:-}" ] && DURATION=2s MCPLOAD_FLAGS="${MCPLOAD_FLAGS:-} --stateless" \
    measure warm "$GW_URL" "$ADMIN" "mock__$TOOL" >/dev/null
if [ -n "${BASELINE:-}" ]; then
    DURATION=2s measure warm "http://$CURRENT_ADDR/mcp" "$AB_KEY" "mock__$TOOL" >/dev/null
    DURATION=2s measure warm "http://$BASE_ADDR/mcp" "$BASE_AB_KEY" "mock__$TOOL" >/dev/null
fi
if [ -n "${OBSERVE:-}" ]; then
    for a in "$BARE_ADDR" "$TRACED_ADDR" "$UNSAMPLED_ADDR"; do
        DURATION=2s measure warm "http://$a/mcp" "$ADMIN" "mock__$TOOL" >/dev/null
    done
fi

# STATELESS=1: the gateway again, as 2026-07-28 clients.
stateless_run() {
    [ -n "${STATELESS:-}" ] || return 0
    say "round $round/$ROUNDS: through the gateway as 2026-07-28 clients (stateless)"
    local spid=""
    if [ -n "${PROFILE_STATELESS:-}" ] && [ "$round" = 1 ]; then
        command -v perf >/dev/null || die "PROFILE_STATELESS needs perf"
        perf record -q ${PERF_ARGS:--e cpu-clock -F 1999 -g} -p "$GW_PID" -o "$PROFILE_STATELESS" -- sleep "${DURATION%s}" 2>/dev/null &
        spid=$!
    fi
    results+=("$(MCPLOAD_FLAGS="${MCPLOAD_FLAGS:-} --stateless" measure stateless "$GW_URL" \
        "$ADMIN" "mock__$TOOL" mockmcp="$MOCK_PID" proxy="$GW_PID")")
    if [ -n "$spid" ]; then
        wait "$spid" && say "stateless profile written to $PROFILE_STATELESS"
    fi
}

results=()
for round in $(seq "$ROUNDS"); do
    say "round $round/$ROUNDS: direct to mockmcp ($DURATION, $CONNECTIONS connections, tool $TOOL)"
    results+=("$(measure direct "$DIRECT_URL" "" "$TOOL" mockmcp="$MOCK_PID")")
    if [ -n "${NGINX_WORKER:-}" ]; then
        say "round $round/$ROUNDS: through nginx (plain reverse proxy, keep-alive upstream)"
        results+=("$(measure nginx "http://127.0.0.1:$NGINX_PORT/mcp" "" "$TOOL" \
            mockmcp="$MOCK_PID" proxy="$NGINX_WORKER")")
    fi
    if [ -n "${HAPROXY_PID:-}" ]; then
        say "round $round/$ROUNDS: through haproxy (plain reverse proxy, connection reuse)"
        results+=("$(measure haproxy "http://127.0.0.1:$HAPROXY_PORT/mcp" "" "$TOOL" \
            mockmcp="$MOCK_PID" proxy="$HAPROXY_PID")")
    fi
    [ $((round % 2)) = 0 ] && stateless_run
    say "round $round/$ROUNDS: through the gateway (API key, session, routing, id rewriting)"
    if [ -n "${PROFILE:-}" ] && [ "$round" = 1 ]; then
        command -v perf >/dev/null || die "PROFILE needs perf (apt-get install linux-perf)"
        perf record -q ${PERF_ARGS:--e cpu-clock -F 1999 -g} -p "$GW_PID" -o "$PROFILE" -- sleep "${DURATION%s}" 2>/dev/null &
        perf_pid=$!
    fi
    results+=("$(measure gateway "$GW_URL" "$ADMIN" "mock__$TOOL" \
        mockmcp="$MOCK_PID" proxy="$GW_PID")")
    # After the session path in odd rounds, before it in even ones: no order bias.
    [ $((round % 2)) = 1 ] && stateless_run
    if [ -n "${BASELINE:-}" ]; then
        say "round $round/$ROUNDS: this build and $BASELINE (audit off), order alternating"
        # PROFILE_AB=F: perf profiles of both builds in round 1 (F.current, F.baseline).
        ab_measure() {
            local name=$1 pid=$2 perf_job=; shift 2
            if [ -n "${PROFILE_AB:-}" ] && [ "$round" = 1 ]; then
                perf record -q ${PERF_ARGS:--e cpu-clock -F 1999 -g} -p "$pid" -o "$PROFILE_AB.$name" -- sleep "${DURATION%s}" 2>/dev/null &
                perf_job=$!
            fi
            measure "$name" "$@" mockmcp="$MOCK_PID" proxy="$pid"
            if [ -n "$perf_job" ]; then wait "$perf_job" && say "profile of $name written to $PROFILE_AB.$name"; fi
        }
        ab_current() { results+=("$(ab_measure current "$CURRENT_PID" "http://$CURRENT_ADDR/mcp" "$AB_KEY" "mock__$TOOL")"); }
        ab_base() { results+=("$(ab_measure baseline "$BASE_PID" "http://$BASE_ADDR/mcp" "$BASE_AB_KEY" "mock__$TOOL")"); }
        if [ -n "${AB_TOGETHER:-}" ]; then
            while read -r line; do results+=("$line"); done < <(measure_pair)
        elif [ $((round % 2)) = 1 ]; then ab_current; ab_base; else ab_base; ab_current; fi
    fi
    if [ -n "${LIMITED:-}" ]; then
        say "round $round/$ROUNDS: through the gateway with a key whose limits are never reached"
        results+=("$(measure limited "$GW_URL" "$LIMITED" "mock__$TOOL" \
            mockmcp="$MOCK_PID" proxy="$GW_PID")")
    fi
    if [ -n "${OBSERVE:-}" ]; then
        say "round $round/$ROUNDS: the observability variants (bare, traced, unsampled)"
        # PROFILE_TRACED=F: perf profiles of the traced variant (F) and the bare one (F.bare).
        profiled() {
            local name=$1 pid=$2 out=$3; shift 3
            local perf_job=
            if [ -n "${PROFILE_TRACED:-}" ] && [ "$round" = 1 ]; then
                perf record -q ${PERF_ARGS:--e cpu-clock -F 1999 -g} -p "$pid" -o "$out" -- sleep "${DURATION%s}" 2>/dev/null &
                perf_job=$!
            fi
            measure "$name" "$@" mockmcp="$MOCK_PID" proxy="$pid"
            if [ -n "$perf_job" ]; then wait "$perf_job" && say "profile of $name written to $out"; fi
        }
        results+=("$(profiled bare "$BARE_PID" "${PROFILE_TRACED:-}.bare" "http://$BARE_ADDR/mcp" "$ADMIN" "mock__$TOOL")")
        results+=("$(profiled traced "$TRACED_PID" "${PROFILE_TRACED:-}" "http://$TRACED_ADDR/mcp" "$ADMIN" "mock__$TOOL")")
        results+=("$(measure unsampled "http://$UNSAMPLED_ADDR/mcp" "$ADMIN" "mock__$TOOL" \
            mockmcp="$MOCK_PID" proxy="$UNSAMPLED_PID")")
    fi
    if [ -n "${perf_pid:-}" ]; then
        wait "$perf_pid" && say "profile written to $PROFILE (perf report -i $PROFILE)"
        perf_pid=
    fi
done
# The direct rate drifts between measurements (±10 % on a shared VM): every proxy is
# compared with the mean of the direct runs just before and just after it.
say "direct to mockmcp again, closing the last round"
results+=("$(measure direct "$DIRECT_URL" "" "$TOOL" mockmcp="$MOCK_PID")")

# Unloaded: one connection, closed loop; what the hop adds to a lone call's latency.
say "unloaded latency: one connection, direct and through each proxy"
unloaded=()
for pass in $(seq "${UNLOADED_PASSES:-2}"); do
    unloaded+=("$(CONNECTIONS=1 measure direct1 "$DIRECT_URL" "" "$TOOL")")
    if [ -n "${NGINX_WORKER:-}" ]; then
        unloaded+=("$(CONNECTIONS=1 measure nginx1 "http://127.0.0.1:$NGINX_PORT/mcp" "" "$TOOL")")
    fi
    if [ -n "${HAPROXY_PID:-}" ]; then
        unloaded+=("$(CONNECTIONS=1 measure haproxy1 "http://127.0.0.1:$HAPROXY_PORT/mcp" "" "$TOOL")")
    fi
    unloaded+=("$(CONNECTIONS=1 measure gateway1 "$GW_URL" "$ADMIN" "mock__$TOOL")")
    # With a baseline: both builds (the audit off) one after the other, the order
    # alternating, so what each adds to a lone call is compared on the same minute.
    if [ -n "${BASELINE:-}" ]; then
        cur1() { unloaded+=("$(CONNECTIONS=1 measure current1 "http://$CURRENT_ADDR/mcp" "$AB_KEY" "mock__$TOOL")"); }
        base1() { unloaded+=("$(CONNECTIONS=1 measure baseline1 "http://$BASE_ADDR/mcp" "$BASE_AB_KEY" "mock__$TOOL")"); }
        if [ $((pass % 2)) = 1 ]; then cur1; base1; else base1; cur1; fi
    fi
done

python3 - "$(getconf CLK_TCK)" "${results[@]}" -- "${unloaded[@]}" <<'PY' | tee "$RESULTS/table.txt"
import sys
hz = float(sys.argv[1])
split = sys.argv.index("--")
def parse(lines):
    out = []
    for line in lines:
        name, *fields = line.split()
        out.append((name, {k: float(v) for k, v in (f.split("=") for f in fields)}))
    return out
runs = parse(sys.argv[2:split])
alone = parse(sys.argv[split + 1:])

def us(r, key):
    return r.get(key, 0.0) / hz / r["requests"] * 1e6

print(f"{'':9} {'req/s':>8} {'ratio':>6} {'p50 us':>7} {'p99 us':>7} {'errors':>6}   "
      f"{'core us/request: backend':>24} {'proxy (user+sys)':>17}   {'switches/req':>12}")
def baseline(i):
    """The mean of the direct runs on either side of run i."""
    around = [r for _, r in (next(((n, r) for n, r in reversed(runs[:i]) if n == "direct"), (None, None)),
                             next(((n, r) for n, r in runs[i + 1:] if n == "direct"), (None, None)))
              if r is not None]
    return {k: sum(r[k] for r in around) / len(around) for k in ("rps", "p50_us", "p99_us")}

ratios = {}
for i, (name, r) in enumerate(runs):
    d = r if name == "direct" else baseline(i)
    ratio = r["rps"] / d["rps"]
    if name != "direct":
        ratios.setdefault(name, []).append((ratio, r, d))
    proxy = (f"{us(r, 'proxy_user') + us(r, 'proxy_sys'):5.1f} ({us(r, 'proxy_user'):.1f}+"
             f"{us(r, 'proxy_sys'):.1f})" if "proxy_user" in r else "-")
    switches = (r.get("mockmcp_switches", 0) + r.get("proxy_switches", 0)) / r["requests"]
    print(f"{name:9} {r['rps']:>8.0f} {ratio:>6.2f} {r['p50_us']:>7.0f} "
          f"{r['p99_us']:>7.0f} {r['errors']:>6.0f}   "
          f"{us(r, 'mockmcp_user') + us(r, 'mockmcp_sys'):>24.1f} {proxy:>17}   {switches:>12.2f}")
for name in ratios:
    rounds = sorted(ratios[name], key=lambda x: x[0])
    ratio, r, d = rounds[len(rounds) // 2]
    print(f"{name}: throughput {ratio:.2f} of direct (median of {len(rounds)} round(s); "
          f"all: {', '.join(f'{x[0]:.2f}' for x in ratios[name])}); "
          f"p50 {r['p50_us'] / d['p50_us']:.2f}x, p99 {r['p99_us'] / d['p99_us']:.2f}x of direct")
if "limited" in ratios and "gateway" in ratios:
    pairs = sorted(l[0] / g[0] for g, l in zip(ratios["gateway"], ratios["limited"]))
    print(f"limits configured, never reached: {pairs[len(pairs) // 2]:.3f} of the unlimited key's "
          f"throughput (median; all: {', '.join(f'{p:.3f}' for p in pairs)})")
if "current" in ratios and "baseline" in ratios:
    pairs = sorted(c[0] / b[0] for b, c in zip(ratios["baseline"], ratios["current"]))
    cur = sorted(c[1]["rps"] for c in ratios["current"])
    base = sorted(b[1]["rps"] for b in ratios["baseline"])
    print(f"this build / baseline (audit off, same round): {pairs[len(pairs) // 2]:.3f} "
          f"(median of {len(pairs)}; all: {', '.join(f'{p:.3f}' for p in pairs)}); "
          f"median req/s {cur[len(cur) // 2]:.0f} against {base[len(base) // 2]:.0f}")
if "stateless" in ratios and "gateway" in ratios:
    pairs = sorted(t[0] / g[0] for g, t in zip(ratios["gateway"], ratios["stateless"]))
    print(f"2026-07-28 (stateless) clients: {pairs[len(pairs) // 2]:.3f} of the session path's "
          f"throughput (median; all: {', '.join(f'{p:.3f}' for p in pairs)})")
if "bare" in ratios:
    for name, what in (("gateway", "audit on"), ("traced", "audit on + tracing 100 %"),
                       ("unsampled", "tracing configured, not sampled")):
        if name in ratios:
            pairs = sorted(v[0] / b[0] for b, v in zip(ratios["bare"], ratios[name]))
            print(f"{what}: {pairs[len(pairs) // 2]:.3f} of the bare gateway's throughput "
                  f"(median; all: {', '.join(f'{p:.3f}' for p in pairs)})")
def mid(name, key):
    xs = sorted(r[key] for n, r in alone if n == name)
    return xs[len(xs) // 2] if xs else 0.0
print(f"unloaded (1 connection): direct p50 {mid('direct1', 'p50_us'):.0f} us p99 {mid('direct1', 'p99_us'):.0f} us")
for proxy in ("gateway", "nginx", "haproxy"):
    if any(n == proxy + "1" for n, _ in alone):
        print(f"  {proxy:8} p50 {mid(proxy + '1', 'p50_us'):.0f} us p99 {mid(proxy + '1', 'p99_us'):.0f} us; "
              f"added p50 {mid(proxy + '1', 'p50_us') - mid('direct1', 'p50_us'):.0f} us, "
              f"p99 {mid(proxy + '1', 'p99_us') - mid('direct1', 'p99_us'):.0f} us")
if any(n == "current1" for n, _ in alone) and any(n == "baseline1" for n, _ in alone):
    c, b = mid("current1", "p50_us"), mid("baseline1", "p50_us")
    print(f"  unloaded A/B (audit off): this build p50 {c:.0f} us p99 {mid('current1', 'p99_us'):.0f} us, "
          f"baseline p50 {b:.0f} us p99 {mid('baseline1', 'p99_us'):.0f} us; "
          f"this build adds {c - mid('direct1', 'p50_us'):.0f} us at p50, the baseline "
          f"{b - mid('direct1', 'p50_us'):.0f} us")
if any(r["errors"] for _, r in runs + alone):
    sys.exit("errors during the run")
PY
say "results (mcpload JSON and SVG of every run) in $RESULTS"

# What each gateway recorded over the whole run: a variant that dropped audit rows or
# spans did less than its figures claim, so its ratio is flagged.
if [ -n "${OBSERVE:-}" ]; then
    say "audit rows and spans over the run (from /metrics)"
    for v in "gateway $GW" "bare $BARE_ADDR" "traced $TRACED_ADDR" "unsampled $UNSAMPLED_ADDR"; do
        read -r name addr <<<"$v"
        curl -sf "http://$addr/metrics" -H "authorization: Bearer $ADMIN" | python3 -c '
import sys
name = sys.argv[1]
m = {}
for line in sys.stdin:
    if line.startswith("metamcp_audit_rows_") or line.startswith("metamcp_trace_spans_"):
        k, v = line.rsplit(" ", 1)
        m[k] = float(v)
rows = int(m.get("metamcp_audit_rows_written_total", 0))
rows_lost = int(m.get("metamcp_audit_rows_dropped_total", 0))
spans = int(m.get("metamcp_trace_spans_exported_total", 0))
spans_lost = int(sum(v for k, v in m.items() if k.startswith("metamcp_trace_spans_dropped_total")))
line = f"{name:10} audit rows written {rows:>9,} dropped {rows_lost:>7,}   spans exported {spans:>9,} dropped {spans_lost:>7,}"
if rows_lost or spans_lost:
    line += "   <- lost records: its figures understate the cost"
print(line)
' "$name" | tee -a "$RESULTS/table.txt"
    done
fi
