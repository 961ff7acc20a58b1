"""Validates rendered chart objects (YAML documents on standard input) offline.

Every object of a Kubernetes kind is checked against the API schemas PyPI
`kubernetes-validate` bundles, strictly (an unknown field fails), for the oldest
Kubernetes the chart's kubeVersion allows and the newest the package knows. The
Prometheus Operator's ServiceMonitor is not in them: its few required fields are
checked here. Prints one line per object; exits 1 on the first failure list.

    render.sh [VALUES...] | python validate.py [KIND...]

KINDs, when given, must all be among the rendered objects (so a values file that
should switch a part on is seen to).
"""

import sys

import kubernetes_validate
import yaml

VERSIONS = ("1.25.0", kubernetes_validate.utils.latest_version())


def service_monitor(obj):
    spec = obj.get("spec") or {}
    errors = []
    if obj.get("apiVersion") != "monitoring.coreos.com/v1":
        errors.append("apiVersion must be monitoring.coreos.com/v1")
    if not (spec.get("selector") or {}).get("matchLabels"):
        errors.append("spec.selector.matchLabels is empty")
    endpoints = spec.get("endpoints") or []
    if not endpoints or not all(e.get("port") and e.get("path") for e in endpoints):
        errors.append("spec.endpoints needs a port and a path each")
    return errors


def main():
    wanted = set(sys.argv[1:])
    failures = []
    seen = set()
    for obj in yaml.safe_load_all(sys.stdin):
        if not obj:
            continue
        kind, name = obj.get("kind"), (obj.get("metadata") or {}).get("name")
        seen.add(kind)
        if kind == "ServiceMonitor":
            errors = service_monitor(obj)
        else:
            errors = []
            for version in VERSIONS:
                try:
                    kubernetes_validate.validate(obj, version, strict=True)
                except kubernetes_validate.ValidationError as e:
                    where = ".".join(str(p) for p in e.path)
                    errors.append(f"Kubernetes {version}: {where}: {e.message}")
                except kubernetes_validate.SchemaNotFoundError:
                    errors.append(f"Kubernetes {version} has no schema for {obj.get('apiVersion')} {kind}")
        print(f"{kind}/{name}: {'ok' if not errors else 'INVALID'}")
        failures += [f"{kind}/{name}: {e}" for e in errors]
    missing = wanted - seen
    if missing:
        failures.append(f"not rendered: {', '.join(sorted(missing))}")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)


main()
