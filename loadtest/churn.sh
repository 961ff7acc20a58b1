#!/usr/bin/env bash
# What one server's list churn costs while another member lists megabytes of tools: a
# mockmcp whose 23 tools have 1 MiB descriptions each (--description-kib 1024) and one
# whose list changes at every call of its `toggle` tool, both in a namespace with tool
# search on. TOGGLES list changes (default 100), one every PACE_MS (default 50), are made
# twice: alone, then while a prober asks /health and search_tools in turn. Reported per
# build: the gateway's CPU time per list change (from /proc, the first time, until it is
# idle again) and the prober's median and slowest answer. With BASELINE=<rev> the same runs against that revision's release build
# (a worktree in target/baseline/<rev>, kept: build_baseline in lib.sh), in the same run.
#
#   loadtest/churn.sh
#   BASELINE=f5c36f4 TOGGLES=200 loadtest/churn.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TOGGLES=${TOGGLES:-100}
PACE_MS=${PACE_MS:-50}
. loadtest/lib.sh

say "building release binaries"
cargo build --release --locked --bin metamcp --bin keyadm --bin mockmcp >&2

# mock NAME ARGS...: starts mockmcp on core 1; its port is in $work/NAME.port.
mock() {
    local out="$work/$1.port"; shift
    taskset -c 1 "$BIN/mockmcp" --port 0 "$@" > "$out" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.05; done
    [ -s "$out" ] || die "mockmcp $* did not start"
}
mock huge --description-kib 1024
mock churn --profile rich
HUGE=$(head -1 "$work/huge.port")
CHURN=$(head -1 "$work/churn.port")

# One build: its gateway on core 0 with its own cluster, the two servers in namespace h.
run() {
    local label=$1
    export METAMCP_DATA_DIR="$work/$label"
    start_gateway 0
    pids+=("$gw_pid")
    register "{\"name\":\"huge\",\"protocol\":\"http\",\"url\":\"http://127.0.0.1:$HUGE/mcp\"}"
    register "{\"name\":\"churn\",\"protocol\":\"http\",\"url\":\"http://127.0.0.1:$CHURN/mcp\"}"
    curl -sf "http://$GW/api/v1/namespaces" -H "authorization: Bearer $ADMIN" \
        -H 'content-type: application/json' \
        -d '{"name":"h","servers":["huge","churn"],"tool_search":"on"}' >/dev/null ||
        die "cannot create namespace h"
    taskset -c 1 python3 - "$GW" "$ADMIN" "$TOGGLES" "$gw_pid" "$label" "$PACE_MS" <<'PY'
import http.client, json, os, statistics, sys, threading, time
gw, key, toggles, pid, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
pace = int(sys.argv[6]) / 1000
hz = os.sysconf("SC_CLK_TCK")

def ticks():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])

def idle():
    # Under 3 % of a core over half a second, at most 120 s.
    deadline = time.time() + 120
    while time.time() < deadline:
        t = ticks(); time.sleep(0.5)
        if ticks() - t <= hz * 0.015:
            return
    print("still busy after 120 s", file=sys.stderr)

class Client:
    def __init__(self):
        self.c = http.client.HTTPConnection(*gw.split(":"), timeout=60)
        self.session, self.id = None, 0
    def post(self, method, params):
        self.id += 1
        h = {"authorization": f"Bearer {key}", "content-type": "application/json",
             "accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18"}
        if self.session:
            h["mcp-session-id"] = self.session
        body = json.dumps({"jsonrpc": "2.0", "id": self.id, "method": method, "params": params})
        self.c.request("POST", "/mcp/h", body, h)
        r = self.c.getresponse()
        self.session = self.session or r.getheader("mcp-session-id")
        data = r.read().decode()
        if r.status != 200:
            sys.exit(f"{method}: HTTP {r.status} {data[:300]}")
        if data.startswith("event:") or data.startswith("data:"):
            data = [l[5:] for l in data.splitlines() if l.startswith("data:")][-1]
        return json.loads(data)
    def open(self):
        self.post("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                 "clientInfo": {"name": "churn", "version": "1"}})
        return self

def search(c):
    r = c.post("tools/call", {"name": "search_tools", "arguments": {"query": "add two numbers"}})
    assert "result" in r, r

main, prober = Client().open(), Client().open()
search(prober)  # the first search builds the index and asks for the embeddings
idle()

def toggle_all():
    start = time.perf_counter()
    for i in range(toggles):
        r = main.post("tools/call", {"name": "churn__toggle", "arguments": {}})
        assert "result" in r, r
        time.sleep(max(0.0, start + (i + 1) * pace - time.perf_counter()))
    return time.perf_counter() - start

# The cost: the list changes alone, until the gateway is idle again.
t0 = ticks()
elapsed = toggle_all()
idle()
cpu = (ticks() - t0) / hz
# The wait: the same again while a prober asks /health and search_tools in turn.
waits, stop = [], threading.Event()
def probe():
    h = http.client.HTTPConnection(*gw.split(":"), timeout=60)
    while not stop.is_set():
        t = time.perf_counter()
        h.request("GET", "/health"); h.getresponse().read()
        search(prober)
        waits.append(time.perf_counter() - t)
        time.sleep(0.01)
th = threading.Thread(target=probe); th.start()
toggle_all()
stop.set(); th.join()
print(f"{label}: {toggles} list changes in {elapsed:.2f} s, gateway CPU {cpu:.2f} s "
      f"({cpu / toggles * 1000:.1f} ms per change); meanwhile /health + search_tools: "
      f"median {statistics.median(waits) * 1000:.0f} ms, slowest {max(waits) * 1000:.0f} ms "
      f"({len(waits)} probes)")
PY
}

run current
if [ -n "${BASELINE:-}" ]; then
    build_baseline
    BIN=$base_dir/target/release run "baseline-$BASELINE"
fi
