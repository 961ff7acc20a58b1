#!/usr/bin/env bash
# Prints the objects this chart renders, as `helm template` would: the default values,
# each VALUES file given merged over them in order. Release `metamcp` in namespace
# $NAMESPACE (default `default`).
#
#   deploy/helm/metamcp/render.sh [VALUES.yaml...]
#
# The renderer is Helm's own engine from PyPI `helm-python-sdk` (pinned in
# tests/peers/install.sh), in the virtualenv target/peers/helm; when it is missing, that
# script installs it (from the package registry, once). Nothing contacts a cluster:
# `lookup` finds nothing, so secrets left empty are generated anew on each render.
set -euo pipefail
chart=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$chart/../../.." && pwd)
venv=${METAMCP_HELM_VENV:-$root/target/peers/helm}
if ! "$venv/bin/python" -c 'import helm_python' 2>/dev/null; then
    echo "render.sh: installing the renderer (helm-python-sdk) into $venv" >&2
    "$root/tests/peers/install.sh" --fleet >&2
fi
exec "$venv/bin/python" - "$chart" "${NAMESPACE:-default}" "$@" <<'EOF'
import sys

import helm_python as helm
import yaml

chart_dir, namespace, files = sys.argv[1], sys.argv[2], sys.argv[3:]


def merge(base, over):
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            merge(base[k], v)
        else:
            base[k] = v
    return base


values = {}
for f in files:
    with open(f) as fh:
        merge(values, yaml.safe_load(fh) or {})
try:
    with helm.Chart.load(chart_dir) as chart:
        rendered = chart.render(values, name="metamcp", namespace=namespace, is_install=True)
except helm.HelmError as e:
    sys.exit(f"render.sh: {e}")
for path in sorted(rendered):
    if not path.endswith((".yaml", ".yml")):
        continue
    for doc in rendered[path].split("\n---"):
        if not any(line.strip() and not line.lstrip().startswith("#") for line in doc.splitlines()):
            continue
        print(f"---\n# Source: {path}\n{doc.strip()}")
EOF
