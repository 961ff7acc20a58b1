#!/usr/bin/env bash
# Checks deploy/ offline, in seconds:
# - the Helm chart passes `helm lint --strict` and renders with its default values and
#   with every optional part on (helm/metamcp/ci/everything-values.yaml); every rendered
#   object, and every one of k8s/, is valid against the Kubernetes API schemas
#   (helm/validate.py); a bad value is refused at render;
# - the alert rules pass `promtool check rules` and their unit tests
#   (prometheus/alerts.test.yaml);
# - the Grafana dashboard is JSON whose every query is PromQL promtool parses;
# - with METRICS=FILE (a scrape of a gateway's /metrics), every metric the rules and the
#   dashboard query is one the gateway exports (tests/it/control/fleet.rs gives it one).
# The renderer, the schemas and promtool come from tests/peers/install.sh --fleet, run
# here when they are missing.
set -euo pipefail
deploy=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$deploy/.." && pwd)
venv=${METAMCP_HELM_VENV:-$root/target/peers/helm}
export METAMCP_HELM_VENV=$venv
if ! "$venv/bin/python" -c 'import helm_python, kubernetes_validate' 2>/dev/null ||
    ! command -v promtool >/dev/null 2>&1; then
    "$root/tests/peers/install.sh" --fleet >&2
fi
py=$venv/bin/python
render=$deploy/helm/metamcp/render.sh
passed=0
ok() { printf 'ok: %s\n' "$*"; passed=$((passed + 1)); }
fail() { printf 'deploy/check.sh: %s\n' "$*" >&2; printf 'deploy checks: %d passed, 1 failed\n' "$passed"; exit 1; }

"$py" - "$deploy/helm/metamcp" <<'EOF' || fail "helm lint --strict (above)"
import sys

import helm_python as helm
import yaml

chart = sys.argv[1]
with open(f"{chart}/ci/everything-values.yaml") as f:
    everything = yaml.safe_load(f)
for values in (None, everything):
    report = helm.lint(chart, values, strict=True)
    found = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    if found:
        sys.exit(f"helm lint: {found}")
EOF
ok "chart: helm lint --strict, default values and every part on"
"$render" | "$py" "$deploy/helm/validate.py" Deployment Secret Service PodDisruptionBudget ||
    fail "the chart's default objects are not valid (above)"
ok "chart: default values render and validate"
"$render" "$deploy/helm/metamcp/ci/everything-values.yaml" |
    "$py" "$deploy/helm/validate.py" StatefulSet HorizontalPodAutoscaler ServiceMonitor ||
    fail "the chart's objects with every part on are not valid (above)"
ok "chart: every optional part renders and validates"
for f in secret deployment service; do cat "$deploy/k8s/$f.yaml"; printf '\n---\n'; done |
    "$py" "$deploy/helm/validate.py" Deployment Secret Service ||
    fail "deploy/k8s's objects are not valid (above)"
ok "k8s: the raw manifests validate"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'secret: {encryptionKey: not-hex}\n' >"$tmp/bad.yaml"
if "$render" "$tmp/bad.yaml" >/dev/null 2>"$tmp/err"; then
    fail "a bad secret.encryptionKey rendered"
fi
grep -q 'secret.encryptionKey must be 64 hex digits' "$tmp/err" ||
    fail "a bad secret.encryptionKey was refused without saying why: $(cat "$tmp/err")"
ok "chart: a bad encryption key is refused at render, saying why"

promtool check rules "$deploy/prometheus/alerts.yaml" >/dev/null ||
    fail "promtool check rules: $(promtool check rules "$deploy/prometheus/alerts.yaml" 2>&1)"
ok "alerts: promtool check rules"
(cd "$deploy/prometheus" && promtool test rules alerts.test.yaml >"$tmp/test" 2>&1) ||
    fail "promtool test rules: $(cat "$tmp/test")"
ok "alerts: promtool test rules (alerts.test.yaml)"

# The dashboard's queries as recording rules, so that promtool parses each; Grafana's
# variables become what they stand for.
"$py" - "$deploy" "$tmp" "${METRICS:-}" <<'EOF' || fail "dashboard or metric names (above)"
import json, re, sys

import yaml

deploy, tmp, metrics = sys.argv[1:]
with open(f"{deploy}/grafana/metamcp.json") as f:
    dash = json.load(f)
queries = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
rules = [
    {"record": f"dashboard:query{i}", "expr": re.sub(r"\$__rate_interval", "5m", q).replace("$backend", ".*")}
    for i, q in enumerate(queries)
]
with open(f"{tmp}/dashboard-rules.yaml", "w") as f:
    yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
with open(f"{deploy}/prometheus/alerts.yaml") as f:
    alerts = [r["expr"] for g in yaml.safe_load(f)["groups"] for r in g["rules"]]
used = {}
for where, exprs in (("deploy/grafana/metamcp.json", queries), ("deploy/prometheus/alerts.yaml", alerts)):
    for e in exprs:
        names = re.findall(r"\bmetamcp_[a-z0-9_]+", e)
        if not names:
            sys.exit(f"{where}: a query of no metamcp metric: {e}")
        for n in names:
            used.setdefault(n, where)
if metrics:
    exported = set()
    with open(metrics) as f:
        for line in f:
            m = re.match(r"# TYPE (\S+) (\S+)", line)
            if m:
                exported.add(m.group(1))
                if m.group(2) == "histogram":
                    exported.update(m.group(1) + s for s in ("_bucket", "_sum", "_count"))
    unknown = sorted(f"{n} ({w})" for n, w in used.items() if n not in exported)
    if unknown:
        sys.exit("metrics the gateway does not export: " + ", ".join(unknown))
    print(f"ok: metric names: the {len(used)} the rules and dashboard use are exported")
EOF
promtool check rules "$tmp/dashboard-rules.yaml" >"$tmp/dash" 2>&1 ||
    fail "a dashboard query does not parse: $(cat "$tmp/dash")"
ok "dashboard: JSON, and every query parses as PromQL"
[ -n "${METRICS:-}" ] && passed=$((passed + 1))
printf 'deploy checks: %d passed, 0 failed\n' "$passed"
