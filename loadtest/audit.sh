#!/usr/bin/env bash
# The audit trail at size: fills audit_log with ROWS rows (default 10 M) spread over 30
# days, 100 keys, 50 servers, 500 tools and every outcome (1 in 1,000 `refused`), then
# times each kind of GET /api/v1/audit page and a key's usage through the gateway, REPEAT
# times each (the median is reported). Results go to loadtest/results/<date-time>-audit/.
#
#   ROWS=10000000 REPEAT=5 loadtest/audit.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-10000000}
REPEAT=${REPEAT:-5}
RESULTS=${RESULTS:-loadtest/results/$(date +%Y%m%d-%H%M%S)-audit}
source loadtest/lib.sh

say "building release binaries"
cargo build --release --locked --bin metamcp --bin keyadm >&2
mkdir -p "$RESULTS"
start_gateway 0
sock=$(find "$work" "${METAMCP_CLUSTER_ROOT:-/var/lib/metamcp/clusters}" -name '.s.PGSQL.5432' 2>/dev/null | head -1)
[ -n "$sock" ] || die "cannot find the embedded cluster's socket"
bindir=$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | tail -1)
psql() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$(dirname "$sock")" -U metamcp -d metamcp "$@"; }

say "filling audit_log with $ROWS rows"
start=$(date +%s)
psql <<SQL
INSERT INTO audit_log (at, kind, key_id, namespace, server, method, tool, upstream_tool,
                       outcome, duration_us, request_bytes, response_bytes)
SELECT now() - (g::float8 / $ROWS) * interval '30 days', 'call',
       lpad(to_hex(g % 100), 16, '0'), NULL, 'server' || (g % 50), 'tools/call',
       'server' || (g % 50) || '__tool' || (g % 500), 'tool' || (g % 500),
       CASE WHEN g % 1000 = 7 THEN 'refused' WHEN g % 20 = 3 THEN 'tool_error'
            WHEN g % 50 = 9 THEN 'timeout' ELSE 'ok' END,
       100 + (g % 997) * 37, 120 + g % 300, 200 + g % 4000
FROM generate_series(1, $ROWS) g;
ANALYZE audit_log;
SQL
say "filled in $(( $(date +%s) - start )) s; table and indexes: $(psql -tA -c "SELECT pg_size_pretty(pg_total_relation_size('audit_log'))")"

time_get() { # path -> median seconds over REPEAT
    local i t=()
    for i in $(seq "$REPEAT"); do
        t+=("$(curl -s -o "$RESULTS/last.json" -w '%{time_total}' "http://$GW$1" -H "authorization: Bearer $ADMIN")")
    done
    printf '%s\n' "${t[@]}" | sort -n | sed -n "$(( (REPEAT + 1) / 2 ))p"
}
cursor() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["next_cursor"])' "$RESULTS/last.json"; }
key=$(printf '%016x' 42)
{
    printf 'rows\t%s\n' "$ROWS"
    for q in "limit=100" "key=$key&limit=100" "server=server7&limit=100" \
        "tool=server7__tool207&limit=100" "outcome=refused&limit=100" \
        "outcome=timeout&key=$key&limit=100" "since=15d&until=14d&limit=1000" \
        "key=$key&since=20d&until=19d&limit=100"; do
        printf 'GET /api/v1/audit?%s\t%s s\n' "$q" "$(time_get "/api/v1/audit?$q")"
    done
    # Ten pages deep by cursor, the last one timed.
    curl -s -o "$RESULTS/last.json" "http://$GW/api/v1/audit?key=$key&limit=1000" -H "authorization: Bearer $ADMIN"
    for _ in $(seq 9); do
        curl -s -o "$RESULTS/last.json" "http://$GW/api/v1/audit?key=$key&limit=1000&cursor=$(cursor)" -H "authorization: Bearer $ADMIN"
    done
    printf 'GET /api/v1/audit (page 11 by cursor, key)\t%s s\n' "$(time_get "/api/v1/audit?key=$key&limit=1000&cursor=$(cursor)")"
    printf 'GET /api/v1/usage?key=%s&since=1d\t%s s\n' "$key" "$(time_get "/api/v1/usage?key=$key&since=1d")"
    printf 'GET /api/v1/usage?key=%s&since=30d\t%s s\n' "$key" "$(time_get "/api/v1/usage?key=$key&since=30d")"
} | tee "$RESULTS/audit.tsv"
